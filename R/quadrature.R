# Quadrature for expectations over Z ~ N(0, 1).
#
# Activations are usually smooth on each side of 0 but not at 0 (ReLU,
# leaky ReLU, ELU, SELU, softsign), where plain Gauss-Hermite converges
# slowly. We therefore use Gauss-Hermite quadrature on each half-line: the
# Gauss rule for the weight exp(-z^2 / 2) on [0, Inf), mirrored to
# (-Inf, 0]. It is exact for functions that are polynomials of degree
# < 2n on each half-line, and converges spectrally for piecewise-smooth ones.

quad_cache <- new.env(parent = emptyenv())

# Nodes and weights (summing to 1) of the 2n-point half-range Gauss-Hermite
# rule: E[g(Z)] ~ sum(w * g(x)). The recurrence coefficients of the
# polynomials orthogonal for exp(-z^2 / 2) on [0, Inf) have no closed form;
# they come from the discretized Stieltjes procedure (Gautschi 2004, sec.
# 2.2.3) on a composite 20-point Gauss-Legendre discretization of [0, 14]
# (the mass beyond 14 is below 1e-44), then Golub-Welsch.
gauss_hermite <- function(n = 40L) {
  key <- as.character(n)
  if (!is.null(quad_cache[[key]])) return(quad_cache[[key]])
  gl <- golub_welsch(rep(0, 20), (1:19) / sqrt(4 * (1:19)^2 - 1))
  gl$w <- 2 * gl$w
  panels <- 280
  h <- 14 / panels
  z <- as.vector(outer(gl$x * h / 2 + h / 2, (0:(panels - 1)) * h, "+"))
  w <- as.vector(outer(gl$w * h / 2, rep(1, panels))) * exp(-z^2 / 2) / sqrt(2 * pi)
  a <- numeric(n)
  b <- numeric(n)
  p_prev <- rep(0, length(z))
  p <- rep(1 / sqrt(sum(w)), length(z))
  for (k in seq_len(n)) {
    a[k] <- sum(w * z * p^2)
    q <- (z - a[k]) * p - (if (k > 1) b[k] * p_prev else 0)
    if (k < n) {
      b[k + 1] <- sqrt(sum(w * q^2))
      p_prev <- p
      p <- q / b[k + 1]
    }
  }
  half <- golub_welsch(a, b[-1])
  x <- c(-rev(half$x), half$x)
  wt <- c(rev(half$w), half$w)
  rule <- list(x = x, w = wt / sum(wt))
  quad_cache[[key]] <- rule
  rule
}

# Gauss rule from the recurrence: diagonal a, off-diagonal b (length n - 1).
golub_welsch <- function(a, b) {
  n <- length(a)
  if (n == 1) return(list(x = a, w = 1))
  J <- diag(a, n)
  J[cbind(1:(n - 1), 2:n)] <- b
  J[cbind(2:n, 1:(n - 1))] <- b
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  w <- e$vectors[1, o]^2
  list(x = e$values[o], w = w / sum(w))
}

# E[g(sigma Z + mu)] for Z ~ N(0, 1), by half-range Gauss-Hermite or
# integrate().
normal_expectation <- function(g, sigma = 1, mu = 0,
                               method = c("gauss_hermite", "integrate"),
                               nodes = 40L) {
  method <- match.arg(method)
  if (method == "gauss_hermite") {
    q <- gauss_hermite(nodes)
    vals <- g(mu + sigma * q$x)
    if (!is.numeric(vals) || length(vals) != length(q$x)) {
      stop("the function must be vectorized and return one number per input.",
           call. = FALSE)
    }
    return(sum(q$w * vals))
  }
  integrate(function(z) g(mu + sigma * z) * dnorm(z), -Inf, Inf,
            rel.tol = 1e-11, subdivisions = 1000L)$value
}
