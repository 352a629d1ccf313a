# Calls that used to return something wrong without a word (found by
# tools/probe-schemes.R): each is now a clear error naming the argument, or a
# documented behaviour checked here.

test_that("`dim` and fans must agree when both are given", {
  s <- init_glorot()
  for (f in list(sample_weights, weight_variance, weight_mean)) {
    expect_error(f(s, 10, 20, dim = c(5, 5)),
                 "`dim` = c\\(5, 5\\).*implies `fan_in` = 5 and `fan_out` = 5.*`fan_in` = 10 and `fan_out` = 20")
    # a fan-free scheme does not need the fans, but conflicting ones are
    # still a mistake
    expect_error(f(init_normal(), 10, 20, dim = c(5, 5)), "`dim`.*`fan_in`")
    # the fan_in of a torch (out, in) shape is its second entry
    expect_error(f(s, 20, 10, dim = c(20, 10), layout = "torch"), "`fan_in` = 20 and `fan_out` = 10")
    # with no layout named, fans that agree with one layout settle it
    expect_equal({set.seed(3); f(s, 20, 10, dim = c(20, 10))},
                 {set.seed(3); f(s, 20, 10, dim = c(20, 10), layout = "keras")})
    expect_error(f(s, 10, 20, dim = c(20, 10), layout = "keras"), "layout \"keras\"")
    # a 1-d `dim` has no fans in the torch layout
    expect_error(f(init_normal(), 5, dim = 5), "`dim` = c\\(5\\) has no fans.*`fan_in`")
    # bad fans are reported even with a `dim`
    expect_error(f(s, "a", dim = c(5, 5)), "`fan_in` must be a positive whole number")
    expect_error(f(s, NA, dim = c(5, 5)), "`fan_in`")
    expect_error(f(s, 5, NaN, dim = c(5, 5)), "`fan_out`")
  }
  # agreeing fans are accepted; fan_out alone is not compared when not given
  expect_equal(weight_variance(s, 5, 5, dim = c(5, 5)), weight_variance(s, 5, 5))
  expect_equal(weight_variance(s, 10, dim = c(20, 10)), 2 / 30)
  expect_equal(weight_variance(s, 10, 20, dim = c(20, 10)), 2 / 30)
  expect_equal(weight_variance(s, 20, 10, dim = c(20, 10), layout = "keras"), 2 / 30)
  set.seed(11)
  a <- sample_weights(s, 10, 20, dim = c(20, 10))
  set.seed(11)
  expect_identical(a, sample_weights(s, dim = c(20, 10), layout = "torch"))
  expect_identical(dim(a), c(20L, 10L))
})

test_that("uniform: the width and the variance must be finite", {
  expect_error(init_uniform(-1e308, 1e308), "`b` must be within 1.341e\\+154 of `a`")
  expect_error(init_uniform(-1e200, 1e200), "`b`.*variance")
  expect_error(init_uniform(0, 1e308), "`b`")
  expect_error(init_uniform(-1e308, 1), "`b`")
  expect_error(init_uniform(1e308, 1.7e308), "`b`")
  expect_error(init_uniform(-1e154, 1e154), "`b`")   # (2e154)^2 overflows
  s <- init_uniform(-6e153, 6e153)
  expect_equal(weight_variance(s), (12e153)^2 / 12)
  set.seed(12)
  w <- sample_weights(s, dim = 1000)
  expect_true(all(is.finite(w) & abs(w) <= 6e153))
})

test_that("normal and truncated normal: variance and draws must be finite", {
  expect_error(init_normal(sd = 1e308), "`sd` must be at most 1.341e\\+154 in size, so that the variance")
  expect_error(init_normal(sd = 1e200), "`sd`")
  expect_error(init_normal(mean = 1e308, sd = 1e308), "`sd`")
  s <- init_normal(sd = 1e154)
  expect_equal(weight_variance(s), 1e308)
  set.seed(13)
  expect_true(all(is.finite(sample_weights(s, dim = 1000))))
  # the realized variance (sd x 0.8796)^2 of the default bounds overflows
  expect_error(init_truncated_normal(sd = 1e200), "`sd` must be at most .* realized variance")
  expect_error(init_truncated_normal(sd = 1e200, lower = -Inf, upper = Inf), "`sd`")
  # draws near mean + sd lower overflow
  expect_error(init_truncated_normal(sd = 1e154, lower = 1e160, upper = Inf),
               "`sd` must be small enough that draws stay finite")
  expect_error(init_truncated_normal(mean = 1e308, sd = 1e307, lower = 5, upper = 10), "`sd`")
  # but a far-out interval with a representable realized variance is fine
  s <- init_truncated_normal(sd = 1e100, lower = 1e200, upper = Inf)
  expect_equal(weight_variance(s), 1e-200, tolerance = 1e-12)
  set.seed(14)
  w <- sample_weights(s, dim = 100)
  expect_true(all(is.finite(w) & w >= 1e300))
  # absolute bounds that the sd cannot tell apart
  expect_error(init_truncated_normal(0, 1e-310, 1, 2, bounds = "absolute"),
               "`sd` must be large enough to tell the bounds apart")
})

test_that("gains and scales whose square over- or underflows are refused", {
  expect_error(init_glorot(gain = 1e200), "`gain` must be a value for which the variance scale `gain`\\^2")
  expect_error(init_glorot(gain = 1e-200), "`gain`")
  expect_error(init_glorot("normal", gain = 1e308), "`gain`")
  expect_equal(weight_variance(init_glorot(gain = 1e150), 10, 30), 1e300 * 2 / 40)
  expect_error(init_he(a = 1e200), "`a` must be a value for which the variance scale 2 / \\(1 \\+ `a`\\^2\\)")
  expect_error(init_he(a = -1e308), "`a`")
  # a large slope is still a positive variance: no all-zero weights
  s <- init_he(a = 1e150)
  v <- weight_variance(s, 100)
  expect_equal(v, 2 / (1 + 1e300) / 100)
  set.seed(15)
  w <- as.vector(sample_weights(s, 100, 200))
  expect_true(all(w != 0))
  expect_variance(w * 1e150, v * 1e300)
  expect_error(init_variance_scaling(scale = 1e-320), "`scale`")
  expect_error(init_identity(gain = 1e200), "`gain` must be at most")
  expect_error(init_orthogonal(gain = 1e200), "`gain` must be at most")
  expect_error(init_sparse(sd = 1e200), "`sd` must be at most")
  expect_equal(weight_variance(init_orthogonal(1e150), 4, 4), 1e300 / 4)
})

test_that("matrix-valued parameters are stored as plain numbers, without warnings", {
  expect_identical(init_normal(sd = matrix(2))$sd, 2)
  expect_silent(s <- init_truncated_normal(mean = matrix(1)))
  expect_identical(s$mean, 1)
  expect_silent(g <- gain("elu", matrix(1), method = "gauss_hermite"))
  expect_equal(g, gain("elu", 1, method = "gauss_hermite"))
})

test_that("gain(): parameters whose gain is not a positive finite number", {
  expect_error(gain("leaky_relu", 1e200), "`param` must be a slope whose gain .* positive finite")
  expect_error(gain("leaky_relu", -1e308), "`param`")
  expect_error(gain("leaky_relu", 1e200, method = "gauss_hermite"), "`param`")
  expect_gt(gain("leaky_relu", 1e150), 0)
  expect_equal(gain("leaky_relu", 1e150), sqrt(2) / 1e150)
  expect_error(gain("elu", 1e200, method = "gauss_hermite"), "`param`.*\"elu\"")
})

test_that("gain(): divergent second moments are an error naming `activation`", {
  divergent <- list(function(x) exp(x^2), function(x) 1 / x, function(x) 1 / sqrt(abs(x)),
                    function(x) exp(x^2 / 4), function(x) 1 / (x - 1), function(x) tan(x),
                    function(x) 1 / abs(x)^0.7, function(x) 1 / (x + 2.5)^2)
  for (f in divergent) {
    expect_error(gain(f), "`activation` has no finite second moment: E\\[f\\(Z\\)\\^2\\] diverges")
    expect_error(gain(f, method = "gauss_hermite"), "`activation`")
  }
  expect_snapshot(show_error(gain(function(x) exp(x^2))))
  expect_snapshot(show_error(gain(function(x) 1 / x)))
})

test_that("gain(): finite second moments still work, to 1e-8", {
  expect_equal(gain(function(x) x^2), 1 / sqrt(3), tolerance = 1e-10)
  expect_equal(gain(function(x) abs(x)), 1, tolerance = 1e-10)
  expect_equal(gain(function(x) exp(x)), exp(-1), tolerance = 1e-10)   # E[e^{2Z}] = e^2
  expect_equal(gain(function(x) x), 1, tolerance = 1e-12)
  expect_equal(gain(function(x) pmax(x, 0)), sqrt(2), tolerance = 1e-10)
  expect_equal(gain(function(x) as.numeric(x > 0)), sqrt(2), tolerance = 1e-10)
  expect_equal(gain(function(x) x^5), 1 / sqrt(945), tolerance = 1e-10)
  # slowly decaying tail: E[exp(0.4 Z^2)] = 1 / sqrt(0.2), by integrate()
  expect_equal(gain(function(x) exp(0.2 * x^2)), 0.2^0.25, tolerance = 1e-8)
  # integrable singularities at 0: E[log^2 |Z|], E[|Z|^(-1/2)], by integrate()
  m2 <- (-digamma(1) + log(2))^2 / 4 + pi^2 / 8
  expect_equal(gain(function(x) log(abs(x))), 1 / sqrt(m2), tolerance = 1e-8)
  m2 <- 2^(-1 / 4) * gamma(1 / 4) / sqrt(pi)
  expect_equal(gain(function(x) abs(x)^-0.25), 1 / sqrt(m2), tolerance = 1e-8)
  for (a in c("tanh", "selu", "elu", "softsign", "sigmoid", "linear", "relu", "scaled_tanh")) {
    expect_equal(gain(a, method = "gauss_hermite"), gain(a, method = "integrate"),
                 tolerance = 1e-9)
  }
  expect_equal(gain("selu", method = "gauss_hermite"), 1, tolerance = 1e-9)
  expect_equal(gain("tanh", method = "gauss_hermite"), gain(tanh), tolerance = 1e-12)
})

test_that("gain(): activations that are not vectorized numeric functions", {
  expect_error(gain(function(x) 1), "`activation` must be a vectorized function")
  expect_error(gain(function(x) "a"), "`activation` must be a vectorized function")
  expect_error(gain(function(x) stop("boom")), "`activation` fails on .*boom")
  expect_error(gain(function(x) rep(NaN, length(x))), "`activation`")
  expect_error(suppressWarnings(gain(function(x) sqrt(x))), "`activation`")
})

test_that("sample_weights() draws one layer: vector fans are an error naming them", {
  s <- init_glorot()
  expect_error(sample_weights(s, c(10, 20), c(20, 30)),
               "`fan_in` must be a single positive whole number: sample_weights\\(\\) draws one layer")
  expect_error(sample_weights(s, 10, c(20, 30)), "`fan_out` must be a single")
  expect_snapshot(show_error(sample_weights(s, c(10, 20), c(20, 30))))
  # nothing was drawn: the seed did not move
  set.seed(16)
  try(sample_weights(s, c(10, 20), c(20, 30)), silent = TRUE)
  a <- runif(1)
  set.seed(16)
  expect_identical(a, runif(1))
  # what the documentation suggests instead
  Ws <- Map(function(i, o) sample_weights(s, i, o), c(10, 20), c(20, 30))
  expect_identical(lapply(Ws, dim), list(c(10L, 20L), c(20L, 30L)))
})

test_that("vector fans of weight_variance(): equal lengths or length 1", {
  s <- init_glorot()
  expect_error(weight_variance(s, c(10, 20, 30), c(20, 30)),
               "`fan_in` \\(length 3\\) and `fan_out` \\(length 2\\) must have the same length")
  expect_error(weight_mean(s, c(10, 20), c(20, 30, 40)), "`fan_in`.*`fan_out`")
  expect_equal(weight_variance(s, c(10, 20, 30), 10), 2 / (c(10, 20, 30) + 10))
  expect_equal(weight_variance(s, 10, c(10, 20, 30)), 2 / (c(10, 20, 30) + 10))
  expect_error(weight_variance(s, c(10, NA), 5), "`fan_in`")
  expect_error(weight_variance(s, c(10, 20), c(5, 0)), "`fan_out`")
})

test_that("a bad `layout` is an error even without `dim`", {
  expect_error(weight_variance(init_glorot(), 10, 20, layout = "jax"), "`layout`")
  expect_error(weight_mean(init_glorot(), 10, 20, layout = 3), "`layout`")
  expect_error(sample_weights(init_glorot(), 10, 20, layout = "caffe"), "`layout`")
})

test_that("a bad `layout` is an error with vector fans too", {
  expect_error(weight_variance(init_glorot(), c(10, 20), c(20, 30), layout = "jax"), "`layout`")
})
