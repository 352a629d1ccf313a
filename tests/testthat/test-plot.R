test_that("plot() draws each type and returns what it drew", {
  set.seed(1201)
  sim <- simulate_network(mlp(c(30, 30, 30, 5), c("tanh", "tanh", "linear")),
                          networks = 6, inputs = 16, progress = FALSE)
  f <- tempfile(fileext = ".pdf")
  grDevices::pdf(f)
  on.exit({ grDevices::dev.off(); unlink(f) })
  v <- plot(sim)
  expect_s3_class(v, "data.frame")
  expect_setequal(as.character(unique(v$quantity)), c("z", "grad_s", "grad_w"))
  h <- plot(sim, type = "histogram", quantity = c("z", "grad_w"), layers = 1:2)
  expect_named(h, c("z", "grad_w"))
  expect_setequal(unique(h$z$layer), 1:2)
  # each layer's histogram is a density: it integrates to the share of
  # values inside the bins
  for (i in 1:2) {
    hz <- h$z[h$z$layer == i, ]
    width <- diff(hz$x[1:2])
    expect_equal(sum(hz$density) * width, 1 - hz$outside[1], tolerance = 1e-12)
  }
  a <- plot(sim, type = "across")
  expect_equal(nrow(a), 3)
  expect_true(all(a$across_mean > 0))
  expect_error(plot(sim, type = "pie"), "`type`")
  expect_error(plot(sim, quantity = "x"), "`quantity`")
  expect_error(plot(sim, type = "histogram", quantity = "s"), "`quantity`")
  expect_error(plot(sim, layers = 7), "`layers`")
})

test_that("glorot_report() prints the table, writes the figure, and agrees", {
  set.seed(1202)
  f <- tempfile(fileext = ".png")
  out <- capture.output(res <- glorot_report(networks = 8, inputs = 16, width = 64,
                                             depth = 3, file = f))
  expect_true(file.exists(res$file))
  expect_gt(file.size(res$file), 10000)
  expect_true(any(grepl("STANDARD initialization", out)))
  expect_true(any(grepl("Figure:", out)))
  expect_equal(nrow(res$table), 2 * 3 * 4)
  # 5 MCSE; plus 2% for the gradients, whose finite-width correction (64
  # units) is not predicted, and 0.2% for the activations (1/n^2)
  tab <- res$table
  tol <- ifelse(tab$quantity == "z", 0.002, 0.02) * tab$finite_width
  expect_true(all(abs(tab$estimate - tab$finite_width) < 5 * tab$mcse + tol))
  expect_error(glorot_report(file = "x.jpg"), "`file`")
  expect_error(glorot_report(networks = 1), "`networks`")
  unlink(f)
})
