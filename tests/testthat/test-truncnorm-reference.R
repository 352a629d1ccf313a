# The truncated normal's exact moments against a 50-digit reference table
# (tools/make-tn-reference.R, Rmpfr): 3000 random intervals and hand-picked
# hard ones (far tails on both sides, widths down to 1e-300, straddling 0,
# half-infinite and infinite bounds, [1e200, Inf]).

ref <- read.csv(test_path("ref-truncnorm.csv"), comment.char = "#")

# relative error; for a mean that is 0 by symmetry, relative to the sd
rel_mean <- function(got, mean, sd) {
  ifelse(mean == 0, abs(got) / sd, abs(got - mean) / abs(mean))
}

test_that("the reference table is what the tests expect", {
  expect_gte(nrow(ref), 3000)
  expect_true(all(ref$b > ref$a))
  expect_true(all(is.finite(ref$mean) & is.finite(ref$sd) & ref$sd > 0))
  # the variance of [1e200, Inf] is 1e-400: 0 as a double, carried by sd
  expect_true(any(ref$var == 0))
})

test_that("tn_stats() matches every row to 1e-10 relative", {
  got <- t(mapply(initvar:::tn_stats, ref$a, ref$b))
  em <- rel_mean(got[, "mean"], ref$mean, ref$sd)
  es <- abs(got[, "sd"] - ref$sd) / ref$sd
  # the variance where it is a normal double
  ok <- ref$var > 1e-300
  ev <- abs(got[ok, "var"] - ref$var[ok]) / ref$var[ok]
  expect_true(all(is.finite(got)))
  expect_lt(max(em), 1e-10)
  expect_lt(max(es), 1e-10)
  expect_lt(max(ev), 1e-10)
  # what the implementation reaches (2.7e-15 when the table was made)
  expect_lt(max(ev), 1e-13)
  # tn_moments() is the same, without the sd
  i <- c(1, 50, 500)
  for (k in i) {
    expect_identical(initvar:::tn_moments(ref$a[k], ref$b[k]),
                     got[k, c("mean", "var")])
  }
})

test_that("hand-picked hard intervals", {
  hard <- function(a, b) ref[ref$a == a & ref$b == b, ]
  for (ab in list(c(2.99, 3.1), c(1e-20, 2e-20), c(-Inf, -30), c(8, 8 + 1e-12),
                  c(40, Inf), c(1e200, Inf), c(-Inf, -1e200), c(0, 1e-300),
                  c(-1e-300, 1e-300), c(1e300, 1e308), c(-Inf, Inf))) {
    r <- hard(ab[1], ab[2])
    expect_equal(nrow(r), 1)
    m <- initvar:::tn_stats(ab[1], ab[2])
    expect_lt(rel_mean(m[["mean"]], r$mean, r$sd), 1e-12)
    expect_lt(abs(m[["sd"]] - r$sd) / r$sd, 1e-12)
  }
  # the case that was off by 2.3e-9
  expect_equal(weight_variance(init_truncated_normal(0, 1, 2.99, 3.1)),
               hard(2.99, 3.1)$var, tolerance = 1e-13)
  # far tail: Var ~ 1 / a^2, neither NaN nor 0 on the sd scale
  m <- initvar:::tn_stats(1e200, Inf)
  expect_equal(m[["sd"]], 1e-200, tolerance = 1e-13)
  expect_equal(m[["mean"]], 1e200)
})

test_that("init_truncated_normal(): bounds in sd units by default, scaled by mean and sd", {
  rows <- c(1, 3, 5, 11, 60, 200, 700, 1500, 2500, 3000)
  for (k in rows) {
    a <- ref$a[k]; b <- ref$b[k]
    for (ms in list(c(-1.5, 3), c(1e3, 1e-3), c(0, 7))) {
      s <- init_truncated_normal(ms[1], ms[2], a, b)
      # bounds = "sd": the standardized bounds are lower and upper themselves
      expect_identical(c(s$lower, s$upper), c(a, b))
      want_mean <- ms[1] + ms[2] * ref$mean[k]
      scale <- abs(ms[1]) + ms[2] * (abs(ref$mean[k]) + ref$sd[k])
      expect_lt(abs(weight_mean(s) - want_mean) / scale, 1e-12)
      expect_equal(weight_variance(s), (ms[2] * ref$sd[k])^2, tolerance = 1e-12)
      # a layer size makes no difference to a fan-free scheme
      expect_identical(weight_variance(s, 3, 4), weight_variance(s))
    }
    # bounds = "absolute": values, standardized as (bound - mean) / sd; with
    # mean 0 and sd a power of 2 the standardization is exact
    if (all(abs(c(a, b)[is.finite(c(a, b))]) < 1e300)) {
      s <- init_truncated_normal(0, 0.25, a / 4, b / 4, bounds = "absolute")
      expect_identical(c(s$lower, s$upper), c(a, b))
      expect_lt(rel_mean(weight_mean(s) / 0.25, ref$mean[k], ref$sd[k]), 1e-12)
      expect_equal(weight_variance(s), (0.25 * ref$sd[k])^2, tolerance = 1e-12)
    }
  }
  # the variance is scaled through the sd: representable although the
  # standardized variance (1e-400) is not
  s <- init_truncated_normal(0, 1e100, 1e200, Inf)
  expect_equal(weight_variance(s), 1e-200, tolerance = 1e-12)
  # the Keras/JAX default: lower = -2, upper = 2 in sd units
  expect_equal(weight_variance(init_truncated_normal(sd = 0.1)),
               0.01 * 0.87962566103423978^2, tolerance = 1e-15)
})
