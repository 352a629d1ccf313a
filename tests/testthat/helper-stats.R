# Statistical expectations with tolerances derived from the Monte Carlo
# standard error. k = 5 MCSE: a false failure has probability about 6e-7
# per comparison under a correct implementation.

# The sample mean of x is within k MCSE of mu.
expect_mean <- function(x, mu, k = 5) {
  mcse <- sd(x) / sqrt(length(x))
  expect_lte(abs(mean(x) - mu), k * mcse + 1e-15)
}

# The sample variance of x is within k MCSE of v; the MCSE uses the sample
# fourth central moment: Var(s^2) ~ (m4 - s^4) / n.
expect_variance <- function(x, v, k = 5) {
  n <- length(x)
  d <- x - mean(x)
  m4 <- mean(d^4)
  s2 <- mean(d^2)
  mcse <- sqrt((m4 - s2^2) / n)
  expect_lte(abs(var(x) - v), k * mcse + 1e-15)
}

# A Kolmogorov-Smirnov test at level 0.001 does not reject.
expect_ks <- function(x, cdf, ...) {
  p <- suppressWarnings(ks.test(x, cdf, ...)$p.value)
  expect_gt(p, 0.001)
}

# CDF of N(mean, sd^2) truncated to standardized bounds [a, b], accurate in
# the far tails.
ptrunc <- function(q, mean, sd, a, b) {
  z <- (q - mean) / sd
  if (a > 0) {
    (pnorm(a, lower.tail = FALSE) - pnorm(z, lower.tail = FALSE)) /
      (pnorm(a, lower.tail = FALSE) - pnorm(b, lower.tail = FALSE))
  } else {
    (pnorm(z) - pnorm(a)) / (pnorm(b) - pnorm(a))
  }
}
