# Gauss-Hermite quadrature for expectations over Z ~ N(0, 1).

quad_cache <- new.env(parent = emptyenv())

# Nodes and weights (summing to 1) of the n-point Gauss-Hermite rule for the
# weight function dnorm(): E[g(Z)] ~ sum(w * g(x)), exact for polynomials of
# degree < 2n. Golub-Welsch: eigen-decomposition of the Jacobi matrix of the
# probabilists' Hermite polynomials.
gauss_hermite <- function(n = 101L) {
  key <- as.character(n)
  if (!is.null(quad_cache[[key]])) return(quad_cache[[key]])
  if (n == 1) {
    rule <- list(x = 0, w = 1)
  } else {
    J <- matrix(0, n, n)
    off <- sqrt(seq_len(n - 1))
    J[cbind(1:(n - 1), 2:n)] <- off
    J[cbind(2:n, 1:(n - 1))] <- off
    e <- eigen(J, symmetric = TRUE)
    x <- e$values
    w <- e$vectors[1, ]^2
    o <- order(x)
    x <- x[o]
    w <- w[o] / sum(w)
    # exact symmetry: average each node with its mirror image
    x <- (x - rev(x)) / 2
    w <- (w + rev(w)) / 2
    rule <- list(x = x, w = w)
  }
  quad_cache[[key]] <- rule
  rule
}

# E[g(sigma Z + mu)] for Z ~ N(0, 1), by Gauss-Hermite or integrate().
normal_expectation <- function(g, sigma = 1, mu = 0,
                               method = c("gauss_hermite", "integrate"),
                               nodes = 101L) {
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
