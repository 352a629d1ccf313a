# Exact moments of the truncated normal (its sampler is in src/sample.c).

# Exact mean and variance of N(0, 1) truncated to [a, b], to about 1e-15
# relative for every interval with a < b. Three regimes, after mirroring so
# that a + b >= 0 (the interval lies mostly on the positive side):
#
# * narrow, (b - a) max(1, a) <= 3: on the natural scale of the density the
#   interval is short and the density is an entire function of small
#   variation on it; a 32-point Gauss-Legendre rule in the position within
#   the interval gives the moments to full precision, about its midpoint, so
#   nothing cancels however narrow the interval (width 1e-300 included);
# * straddling 0 (a < 0 < b, -a <= b): Z = (P1(b^2) + P1(a^2)) / 2 and
#   E[X^2] = (P3(b^2) + P3(a^2)) / (2 Z), with Pk the chi-squared
#   distribution function on k degrees of freedom: sums of positive terms;
#   phi(a) - phi(b) = -phi(a) expm1(-(b - a)(b + a) / 2);
# * positive, 0 <= a: moments of W = sigma (X - a), sigma = max(1, a), in
#   terms of the Mills ratio R(x) = Q(x) / phi(x) and the tails K, L of its
#   continued fraction R = 1 / (x + K), K = 1 / (x + L), L = 2 / (x + ...),
#   so that 1 - x R = R K and (1 + x^2) R - x = R K L need no subtraction.
#   With q = Q(b) / Q(a) and delta = sigma (b - a):
#     E[W]   = (sigma K(a) - q (sigma K(b) + delta)) / (1 - q)
#     E[W^2] = (sigma^2 K(a) L(a) - q (sigma^2 K(b) L(b) +
#               delta (2 sigma K(b) + delta))) / (1 - q)
#   and Var(W) = E[W^2] - E[W]^2 lose at most a few bits since b - a is not
#   small on this scale (q <= exp(-3)); for [1e200, Inf] this is
#   Var = K (L - K) ~ 1 / a^2, never 0 / 0.
# The standard deviation is returned as well: it stays representable where
# the variance underflows (Var ~ 1e-400 for [1e200, Inf]).
tn_stats <- function(a, b) {
  if (a == -Inf && b == Inf) return(c(mean = 0, var = 1, sd = 1))
  flip <- a + b < 0
  if (flip) {
    t <- a
    a <- -b
    b <- -t
  }
  d <- b - a
  sigma <- max(1, a)
  if (d * sigma <= 3) {
    q <- gauss_legendre_half(32L)
    c0 <- a / 2 + b / 2
    # density of v = (x - c0) / d on [-1/2, 1/2], up to a constant
    g <- q$w * exp(-(c0 * d) * q$x - (d * q$x)^2 / 2)
    m0 <- sum(g)
    m1 <- sum(g * q$x) / m0
    vv <- sum(g * (q$x - m1)^2) / m0
    mean <- c0 + d * m1
    sd <- d * sqrt(vv)
  } else if (a < 0) {
    p1 <- stats::pchisq(b^2, 1) + stats::pchisq(a^2, 1)
    p3 <- stats::pchisq(b^2, 3) + stats::pchisq(a^2, 3)
    mean <- if (a + b == 0) 0 else
      -2 * stats::dnorm(a) * expm1(-d * (a + b) / 2) / p1
    sd <- sqrt(p3 / p1 - mean^2)
  } else {
    ma <- mills_tails(a)
    ka <- sigma * ma[["K"]]
    la <- sigma * ma[["L"]]
    q <- 0
    if (is.finite(b)) {
      mb <- mills_tails(b)
      q <- exp(-d * (a + b) / 2) * (mb[["R"]] / ma[["R"]])
    }
    if (q > 0) {
      kb <- sigma * mb[["K"]]
      lb <- sigma * mb[["L"]]
      delta <- sigma * d
      ew <- (ka - q * (kb + delta)) / (1 - q)
      ew2 <- (ka * la - q * (kb * lb + delta * (2 * kb + delta))) / (1 - q)
      vw <- ew2 - ew^2
    } else {
      ew <- ka
      vw <- ka * (la - ka)
    }
    mean <- a + ew / sigma
    sd <- sqrt(vw) / sigma
  }
  if (flip) mean <- -mean
  c(mean = mean, var = sd^2, sd = sd)
}

# Exact mean and variance of N(0, 1) truncated to [a, b].
tn_moments <- function(a, b) tn_stats(a, b)[c("mean", "var")]

# The Mills ratio R(x) = Q(x) / phi(x), x >= 0 finite, with the tails K and
# L of Laplace's continued fraction R = 1 / (x + K), K = 1 / (x + L),
# L = 2 / (x + 3 / (x + ...)). For x >= 1 the fraction is evaluated
# backwards from a depth that makes its truncation error < 1e-16 (the error
# falls like exp(-2 x sqrt(n))); below 1, from R = Q / phi, where
# K = 1 / R - x and L = (R - x (1 - x R)) / (1 - x R) lose at most 2 bits.
mills_tails <- function(x) {
  if (x >= 1) {
    t <- 0
    for (k in seq.int(ceiling(16 + (20 / x)^2), 3)) t <- k / (x + t)
    L <- 2 / (x + t)
    K <- 1 / (x + L)
    R <- 1 / (x + K)
  } else {
    R <- stats::pnorm(x, lower.tail = FALSE) / stats::dnorm(x)
    S <- 1 - x * R
    K <- S / R
    L <- (R - x * S) / S
  }
  c(R = R, K = K, L = L)
}

# Gauss-Legendre rule on [-1/2, 1/2] (weights summing to 1).
gl_cache <- new.env(parent = emptyenv())
gauss_legendre_half <- function(n) {
  key <- as.character(n)
  if (!is.null(gl_cache[[key]])) return(gl_cache[[key]])
  # the Legendre recurrence, by Golub-Welsch (R/quadrature.R)
  k <- seq_len(n - 1)
  gl <- golub_welsch(rep(0, n), k / sqrt(4 * k^2 - 1))
  rule <- list(x = gl$x / 2, w = gl$w)
  gl_cache[[key]] <- rule
  rule
}
