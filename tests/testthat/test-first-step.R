# first_step() and coordinate_check(): gradients against finite differences
# of the loss (independent of the package's backward pass), the optimizer
# steps, and the calibration of the slope test under exact nulls.

fd_check <- function(net, label) {
  layers <- initvar:::net_layers(net)
  units <- initvar:::net_units(layers)
  par <- lapply(units, function(l) list(W = matrix(rnorm(l$n_in * l$n_out, sd = 0.5), l$n_in),
                                        b = rnorm(l$n_out, sd = 0.2)))
  d <- length(layers)
  X <- matrix(rnorm(6 * layers[[1]]$n_in), 6)
  Y <- matrix(rnorm(6 * layers[[d]]$n_out), 6)
  lossf <- function(p) {
    fw <- initvar:::net_forward_values(layers, p, X)
    sum((fw$z[[d]] - Y)^2) / 2 / 6
  }
  fw <- initvar:::net_forward_values(layers, par, X)
  g <- initvar:::net_backward_values(layers, par, fw, (fw$z[[d]] - Y) / 6)
  h <- 1e-6
  for (i in seq_along(par)) for (what in c("W", "b")) {
    num <- par[[i]][[what]]
    for (k in seq_along(num)) {
      pp <- par; pm <- par
      pp[[i]][[what]][k] <- pp[[i]][[what]][k] + h
      pm[[i]][[what]][k] <- pm[[i]][[what]][k] - h
      num[k] <- (lossf(pp) - lossf(pm)) / (2 * h)
    }
    # central differences: error O(h^2) ~ 1e-12, rounding ~ 1e-16 / h = 1e-10
    expect_lt(max(abs(num - g[[i]][[what]])), 1e-8, label = paste(label, what, i))
  }
}

test_that("the plain-R backward pass equals finite differences of the loss", {
  set.seed(5100)
  fd_check(mlp(c(4, 5, 3), c("tanh", "linear"), init_glorot("normal"), init_normal(0, 0.2)),
           "mlp")
  for (norm in c("none", "pre", "post")) {
    fd_check(resmlp(4, 2, "tanh", init_glorot("normal"), alpha = 0.7, skip = 0.9,
                    branch_depth = 2, norm = norm, n_in = 3, n_out = 2), paste("resmlp", norm))
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
  skip_unless_full()
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

test_that("Fixup: after one SGD step the output moves by Theta(lr) whatever the depth", {
  skip_unless_full()
  skip_on_cran()
  # Fixup (two-layer ReLU branches, zero last layer, He scaled by
  # L^(-1/2)): the output's change after one step stays of the same size
  # from depth 4 to 16 (0.0027 and 0.0029 at lr 1e-4 in one run); a
  # standard residual stack's grows by orders of magnitude
  out_change <- function(L, rule) {
    net <- resmlp(16, L, "relu", list(init_he(), init_lecun()), branch_depth = 2,
                  n_in = 8, n_out = 4, rule = if (rule == "fixup") scaling_rule("fixup", L, 2))
    fs <- first_step(net, lr = 1e-4, networks = 30, batch = 4, loss = "mse")
    t <- fs$table
    c(t$rms_dz[nrow(t)], t$rms_dz_mcse[nrow(t)])
  }
  set.seed(5700)
  f4 <- out_change(4, "fixup"); f16 <- out_change(16, "fixup")
  s4 <- out_change(4, "standard"); s12 <- out_change(12, "standard")
  # each rms_dz has an MCSE of about 10%: a factor of 2 is over 4 of them
  expect_lt(f16[1] / f4[1], 2)
  expect_gt(f16[1] / f4[1], 1 / 2)
  expect_gt(s12[1] / s4[1], 100)
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
