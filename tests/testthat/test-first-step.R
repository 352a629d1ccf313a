# first_step() and coordinate_check(): gradients against finite differences
# of the loss (independent of the package's backward pass), the optimizer
# steps, and the calibration of the slope test under exact nulls.

test_that("the plain-R backward pass equals finite differences of the loss", {
  set.seed(5100)
  net <- mlp(c(4, 5, 3), c("tanh", "linear"), init_glorot("normal"), init_normal(0, 0.2))
  layers <- initvar:::net_layers(net)
  par <- lapply(layers, function(l) list(W = matrix(rnorm(l$n_in * l$n_out, sd = 0.5), l$n_in),
                                         b = rnorm(l$n_out, sd = 0.2)))
  X <- matrix(rnorm(6 * 4), 6)
  Y <- matrix(rnorm(6 * 3), 6)
  lossf <- function(p) {
    fw <- initvar:::dense_forward_values(layers, p, X)
    sum((fw$z[[2]] - Y)^2) / 2 / 6
  }
  fw <- initvar:::dense_forward_values(layers, par, X)
  g <- initvar:::dense_backward_values(layers, par, fw, X, (fw$z[[2]] - Y) / 6)
  h <- 1e-6
  for (i in 1:2) for (what in c("W", "b")) {
    num <- par[[i]][[what]]
    for (k in seq_along(num)) {
      pp <- par; pm <- par
      pp[[i]][[what]][k] <- pp[[i]][[what]][k] + h
      pm[[i]][[what]][k] <- pm[[i]][[what]][k] - h
      num[k] <- (lossf(pp) - lossf(pm)) / (2 * h)
    }
    # central differences: error O(h^2) ~ 1e-12, rounding ~ 1e-16 / h = 1e-10
    expect_lt(max(abs(num - g[[i]][[what]])), 1e-8, label = paste(what, i))
  }
})

test_that("a small SGD step moves the output by the linearization, Adam by lr sign(g)", {
  set.seed(5200)
  net <- mlp(c(6, 8, 3), c("tanh", "linear"), init_glorot("normal"))
  a <- first_step(net, lr = 1e-6, networks = 5, batch = 4, loss = "mse")
  b <- first_step(net, lr = 2e-6, networks = 5, batch = 4, loss = "mse")
  # same seeds would give the same networks; here the scale: rms_dz is
  # proportional to lr for a small step (to first order)
  expect_true(all(a$table$rms_dz > 0))
  set.seed(5300); a <- first_step(net, lr = 1e-6, networks = 5, batch = 4, loss = "mse")
  set.seed(5300); b <- first_step(net, lr = 2e-6, networks = 5, batch = 4, loss = "mse")
  expect_equal(b$table$rms_dz / a$table$rms_dz, c(2, 2), tolerance = 1e-4)
  set.seed(5300); c1 <- first_step(net, lr = 1e-6, optimizer = "adam", networks = 5, batch = 4,
                                   loss = "mse")
  set.seed(5300); c2 <- first_step(net, lr = 2e-6, optimizer = "adam", networks = 5, batch = 4,
                                   loss = "mse")
  expect_equal(c2$table$rms_dz / c1$table$rms_dz, c(2, 2), tolerance = 1e-4)
  # Adam's first step moves each weight by lr g / (|g| + eps), about lr:
  # the first layer's change of s is at most lr (sum |x| + 1)
  expect_true(all(c1$table$rms_dz < 1e-6 * (6 * 4 + 1)))
})

test_that("coordinate_check(): exact nulls are accepted at their level (over seeds)", {
  skip_on_cran()
  he <- function(n) mlp(c(8, n, n, 4), c("relu", "relu", "linear"), init_he())
  reps <- 150
  rej <- logical(reps)
  for (r in seq_len(reps)) {
    set.seed(5400 + r)
    cc <- coordinate_check(he, widths = c(8, 16, 32), layer = 2, networks = 40, batch = 2)
    rej[r] <- !attr(cc, "slope")$consistent
  }
  # level 0.99: rejections ~ Binomial(150, 0.01); the band holds with
  # probability 1 - 1e-3
  expect_lte(sum(rej), qbinom(1 - 1e-3, reps, 0.01))
  # muP's output layer: logits' RMS ~ n^(-1/2) exactly
  mup <- function(n) mlp(c(8, n, 4), c("relu", "linear"),
                         list(init_he(), init_normal(0, 1 / n)))
  set.seed(5500)
  cc <- coordinate_check(mup, widths = c(16, 64, 256), layer = 2, slope = -0.5, networks = 60,
                         batch = 2)
  expect_true(attr(cc, "slope")$p_value > 1e-3)
  cc0 <- coordinate_check(mup, widths = c(16, 64, 256), layer = 2, slope = 0, networks = 60,
                          batch = 2)
  expect_lt(attr(cc0, "slope")$p_value, 1e-6)
})

test_that("after one Adam step the standard parametrization is not flat in width", {
  skip_on_cran()
  he <- function(n) mlp(c(16, n, n, 10), c("relu", "relu", "linear"), init_he())
  set.seed(5600)
  cc <- coordinate_check(he, widths = c(32, 64, 128), layer = 2, what = "first_step",
                         networks = 25, optimizer = "adam", lr_fun = function(n) 1e-3, batch = 8)
  s <- attr(cc, "slope")
  expect_lt(s$p_value, 1e-6)
  expect_gt(s$estimate, 0.5)
  expect_lt(s$estimate, 1)
})

test_that("bad input names first_step() and coordinate_check() and the argument", {
  net <- mlp(c(3, 3))
  expect_snapshot({
    show_error(first_step(net, lr = -1))
    show_error(first_step(net, lr = c(1, 2, 3)))
    show_error(first_step(net, lr = 0.1, optimizer = "lbfgs"))
    show_error(first_step(net, lr = 0.1, networks = 1))
    show_error(first_step(list(), lr = 0.1))
    show_error(coordinate_check(function(n) mlp(c(3, n)), widths = c(2, 4), layer = 1))
    show_error(coordinate_check(function(n) mlp(c(3, n)), widths = c(2, 4, 8), layer = 1,
                                networks = 5))
  })
})
