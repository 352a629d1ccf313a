# plot() methods of networks, schemes, activations and checks.

with_pdf <- function(code) {
  f <- tempfile(fileext = ".pdf")
  grDevices::pdf(f)
  on.exit({ grDevices::dev.off(); unlink(f) })
  force(code)
}

test_that("plot() of a network draws its layers, widths and activations", {
  net <- mlp(c(784, rep(1000, 2), 10), c("tanh", "gelu", "linear"), init_glorot())
  d <- with_pdf(plot(net))
  expect_identical(d$layer, 1:3)
  expect_identical(d$n_in, c(784, 1000, 1000))
  expect_identical(d$activation, c("tanh", "gelu", "linear"))
  expect_equal(d$var_w, 2 / (c(784, 1000, 1000) + c(1000, 1000, 10)))
})

test_that("plot() of a scheme samples it at the given fans", {
  set.seed(7)
  w <- with_pdf(plot(init_glorot("uniform"), fan_in = 30, fan_out = 20, n = 6000))
  expect_length(w, 6000)
  expect_lte(max(abs(w)), sqrt(6 / 50))
  expect_variance(w, 2 / 50)
  w <- with_pdf(plot(init_he("normal"), n = 1000))       # default fans: 100 x 100
  expect_variance(w, 2 / 100)
  expect_length(with_pdf(plot(init_identity(), fan_in = 5, n = 25)), 25)
  expect_error(plot(init_he(), fan_in = 0), "`fan_in`")
  expect_error(plot(init_he(), fan_out = 2.5), "`fan_out`")
  expect_error(plot(init_he(), n = -1), "`n`")
})

test_that("plot() of an activation draws f and f' and gives the gain", {
  d <- with_pdf(plot(activation("relu"), xlim = c(-2, 2)))
  expect_true(0 %in% d$x)                        # the kink is on the grid
  expect_equal(d$f, pmax(d$x, 0))
  expect_equal(d$df, as.double(d$x > 0))
  d <- with_pdf(plot(activation(function(x) x * pnorm(x))))
  expect_equal(range(d$x), c(-4, 4))
  expect_error(plot(activation("tanh"), xlim = c(1, 0)), "`xlim`")
  expect_error(plot(activation("tanh"), xlim = "a"), "`xlim`")
})

test_that("plot() of verify_all()'s result is a forest plot against theory", {
  # a verify_all() result, built by hand with its documented columns
  v <- data.frame(id = c("a", "b", "c"), dropped = c("", "zero_mean", ""), n = 200,
                  theoretical = c(2, 0, 4), estimate = c(2.02, 0.1, 3), mcse = c(0.01, 0.05, 0.1),
                  lower = c(1.99, -0.03, 2.74), upper = c(2.05, 0.23, 3.26),
                  z = c(2, 2, -10), p_value = c(0.05, 0.05, 0), consistent = c(TRUE, TRUE, FALSE),
                  general = NA, verdict = "", p_holm = c(0.1, 0.1, 0),
                  consistent_holm = c(TRUE, TRUE, FALSE), stringsAsFactors = FALSE)
  class(v) <- c("initvar_verifications", "data.frame")
  d <- with_pdf(plot(v))
  expect_equal(d$deviation, c(0.01, 0.1 / 0.13, -0.25))
  expect_equal(d$lower[1], -0.005)
  expect_identical(d$label, c("a", "b (drop zero_mean) *", "c"))
  expect_identical(d$ok, c(TRUE, TRUE, FALSE))
  expect_error(plot(structure(data.frame(id = 1), class = c("initvar_verifications", "data.frame"))),
               "`x` must be a verify_all\\(\\) result")
})

test_that("compare_schemes(): forest plot and tidy data frame", {
  set.seed(11)
  cmp <- compare_schemes(60, 40, reps = 4, schemes = default_schemes()[c(1, 6, 13)])
  d <- with_pdf(plot(cmp))
  expect_equal(d$deviation, (cmp$estimate - cmp$exact) / cmp$exact)
  td <- as.data.frame(cmp)
  expect_false(inherits(td, "initvar_scheme_comparison"))
  expect_true(all(c("estimate", "mcse", "lower", "upper", "z", "p", "verdict") %in% names(td)))
  expect_equal(td$p[1:2], 2 * pnorm(-abs(cmp$z[1:2])))
  expect_true(is.na(td$p[3]))                    # identity: no Monte Carlo error
  expect_match(td$verdict, "consistent with the exact variance at level 0.99")
})

test_that("plot() of a prediction draws variance by layer", {
  p <- predict_variance(mlp(c(100, rep(100, 4)), "tanh", init_glorot_standard()))
  class(p) <- unique(c("initvar_prediction", class(p)))
  expect_identical(with_pdf(plot(p)), p)
  expect_error(plot(p, quantity = "var_x"), "`quantity`")
})

test_that("networks with blocks are drawn as blocks, sublayers and skips (issue 24, item 3)", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  r <- plot(resmlp(64, depth = 3, "relu", list(init_he(), init_lecun()), branch_depth = 2))
  expect_identical(unique(r$kind), "residual")
  expect_identical(as.integer(table(r$layer)), c(2L, 2L, 2L))       # 3 blocks of 2 units
  expect_identical(r$weights[r$layer == 1], c("He (Kaiming) normal", "LeCun normal"))
  expect_true(all(r$skip == 1 & r$alpha == 1))
  t <- plot(transformer(32, heads = 4, depth = 2, seq_len = 8))
  expect_identical(unique(t$layer), 1:4)                              # 2 blocks, 4 sublayers
  expect_identical(t$unit[t$layer == 1], c("W_Q", "W_K", "W_V", "W_O"))
  expect_identical(t$kind[t$layer == 2][1], "residual")
  expect_identical(c(t$n_in[t$layer == 2], t$n_out[t$layer == 2]), c(32, 128, 128, 32))
  expect_true(all(t$norm == "pre"))
  p <- plot(transformer(16, heads = 2, depth = 1, seq_len = 4, norm = "post"))
  expect_true(all(p$norm == "post"))
  # a plain network keeps its chain picture
  m <- plot(mlp(c(4, 3, 2), "relu", init_he()))
  expect_identical(names(m), c("layer", "n_in", "n_out", "activation", "weights", "var_w"))
})

test_that("first_step(), compare_fans(), summary() and the checks' plots say what a teacher needs (issue 24, item 3)", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  set.seed(24)
  f <- first_step(mlp(c(8, 8, 8, 2), "tanh"), lr = 0.1, networks = 8, batch = 4)
  p <- plot(f)                               # errored ("'x' is a list ...")
  expect_identical(p$layer, 1:3)
  expect_equal(p$rel_dz, as.data.frame(f)$rel_dz)
  expect_true(all(p$lower < p$rel_dz & p$rel_dz < p$upper, na.rm = TRUE))
  cf <- compare_fans(conv_layer(4, 4, 3, groups = 4))
  expect_s3_class(cf, "data.frame")
  m <- plot(cf)                              # was a pairs() plot
  expect_identical(dim(m), c(3L, 3L))
  expect_equal(m["Glorot", ], c(torch = 0.4, keras = 0.4, jax = 0.4))
  s <- simulate_network(mlp(c(10, 10, 10, 4), "tanh"), 16, 8, threads = 1)
  su <- summary(s)                           # was the whole table
  expect_identical(nrow(su), 4L)
  expect_identical(su$layers, rep(3L, 4))
  expect_identical(su$agree + su$disagree + su$no_verdict, su$layers)
  expect_lt(length(capture.output(print(su))), 16)
  h <- plot(s, type = "histogram", quantity = "z")   # the output layer left out
  expect_setequal(unique(h$z$layer), 1:2)
  # one wild interval is clipped at the edge, not squashing the others
  x <- data.frame(id = c("a", "b", "c", "d", "e"), estimate = c(1.01, 0.99, 1, 1.02, 50),
                  theoretical = 1, lower = c(0.98, 0.96, 0.97, 0.99, 40),
                  upper = c(1.04, 1.02, 1.03, 1.05, 60), consistent = c(TRUE, TRUE, TRUE, TRUE, FALSE))
  class(x) <- c("initvar_verifications", "data.frame")
  r <- plot(x)
  expect_identical(r$clipped, c(FALSE, FALSE, FALSE, FALSE, TRUE))
})
