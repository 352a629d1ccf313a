test_that("linear_regime(): exact variances and the delta method", {
  lr <- linear_regime(c("tanh", "relu", "sigmoid"), sd = c(0.01, 1, 3))
  expect_s3_class(lr, "initvar_linear_regime")
  # ReLU: Var(relu(X)) = sd^2 (1/2 - 1/(2 pi)) exactly
  r <- lr[lr$activation == "relu", ]
  expect_equal(r$exact, r$sd^2 * (0.5 - 1 / (2 * pi)), tolerance = 1e-10)
  expect_equal(r$ratio, rep(1 / (0.5 - 1 / (2 * pi)), 3), tolerance = 1e-10)
  # tanh: linear regime for small sd
  t <- lr[lr$activation == "tanh", ]
  expect_lt(abs(t$ratio[1] - 1), 1e-3)
  expect_gt(t$ratio[3], 2)
  # sigmoid: f'(0)^2 = 1/16
  expect_equal(lr$delta[lr$activation == "sigmoid"], c(0.01, 1, 3)^2 / 16)
  expect_error(linear_regime("swishy"), "`name`|`activation`")
  expect_error(linear_regime(sd = -1), "`sd`")
})

test_that("width_sweep(): the across-neuron spread shrinks with width", {
  set.seed(1301)
  sw <- width_sweep(c(16, 256), depth = 2, networks = 20, inputs = 4)
  expect_s3_class(sw, "initvar_width_sweep")
  expect_equal(sw$width, c(16, 256))
  # sqrt(16) = 4 times smaller in theory; at least 2.5 times here
  expect_gt(sw$relative_spread[1] / sw$relative_spread[2], 2.5)
  expect_error(width_sweep(1), "`widths`")
  expect_error(width_sweep(16, depth = 2, layer = 3), "`layer`")
})

test_that("plot_simulations() and the plot methods run and return what they drew", {
  set.seed(1302)
  w <- rep(16, 4)
  sims <- list(a = simulate_network(mlp(w, "linear", init_lecun()), 4, 8, progress = FALSE),
               b = simulate_network(mlp(w, "linear", init_he()), 4, 8, progress = FALSE))
  f <- tempfile(fileext = ".pdf")
  grDevices::pdf(f)
  on.exit({ grDevices::dev.off(); unlink(f) })
  d <- plot_simulations(sims, "z")
  expect_equal(nrow(d), 6)
  expect_setequal(unique(d$label), c("a", "b"))
  expect_error(plot_simulations(list(1)), "`sims`")
  expect_error(plot_simulations(sims, "q"), "`quantity`")
  expect_s3_class(plot(linear_regime("tanh", sd = c(0.1, 1))), "initvar_linear_regime")
  sw <- width_sweep(c(8, 16), depth = 2, networks = 3, inputs = 2)
  expect_s3_class(plot(sw), "initvar_width_sweep")
})

test_that("verify() and linear_regime() share the delta method's kink rule", {
  set.seed(1303)
  v <- verify("delta_method", n = 1e4, activation = "relu", sd = 1)
  lr <- linear_regime("relu", sd = 1)
  expect_equal(v$approximation, lr$delta)
  expect_equal(v$approximation, 1)
})
