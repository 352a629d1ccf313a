# simulate_correlation(): pairs of correlated inputs through the engine's
# networks, against the c-map (exact for linear networks at every width).

test_that("identical inputs stay perfectly correlated; results do not depend on threads", {
  set.seed(6100)
  net <- mlp(c(6, 9, 7, 5), c("tanh", "relu", "linear"), init_glorot("normal"), init_normal(0.1, 0.2))
  r <- simulate_correlation(net, c0 = 1, networks = 20, pairs = 3)
  expect_equal(r$estimate, rep(1, 3), tolerance = 1e-14)
  set.seed(6101); a <- simulate_correlation(net, c0 = 0.3, networks = 70, pairs = 3, threads = 1)
  set.seed(6101); b <- simulate_correlation(net, c0 = 0.3, networks = 70, pairs = 3, threads = 2)
  expect_identical(a, b)
})

test_that("linear networks follow the c-map exactly at every width (family-wise)", {
  skip_on_cran()
  cells <- expand.grid(w = c(4, 16, 64), c0 = c(-0.5, 0.2, 0.9))
  p <- numeric(0)
  for (k in seq_len(nrow(cells))) {
    set.seed(6200 + k)
    net <- mlp(rep(cells$w[k], 5), "linear", init_lecun(), init_normal(0, 0.3))
    r <- simulate_correlation(net, c0 = cells$c0[k], networks = 400, pairs = 4)
    p <- c(p, r$p_value)
  }
  expect_true(all(p > 1e-3 / length(p)), label = paste(format(p, digits = 2), collapse = " "))
})

test_that("tanh near the edge of chaos: wide networks agree with the infinite-width c-map", {
  skip_on_cran()
  # the finite-width gap at layer 6 is about +0.1 / n here (0.024 at width
  # 4, 3000 networks), far below the MCSE at width 256
  p <- numeric(0)
  for (c0 in c(0.2, 0.8)) {
    set.seed(6300 + 10 * c0)
    net <- mlp(rep(256, 7), "tanh", init_normal(0, sqrt(2 / 256)), init_normal(0, 0.1))
    r <- simulate_correlation(net, c0 = c0, networks = 100, pairs = 8)
    p <- c(p, r$p_value)
  }
  expect_true(all(p > 1e-3 / length(p)), label = paste(format(p, digits = 2), collapse = " "))
})

test_that("bad input names simulate_correlation() and the argument", {
  net <- mlp(c(3, 3))
  expect_snapshot({
    show_error(simulate_correlation(net, c0 = 2))
    show_error(simulate_correlation(net, c0 = 0.5, networks = 5))
    show_error(simulate_correlation(mlp(c(3, 3), function(x) x^3), c0 = 0.5))
  })
})
