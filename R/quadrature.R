# Quadrature for expectations over Z ~ N(0, 1).
#
# E[g(mu + sigma Z)] is computed by adaptive Gauss-Kronrod quadrature in z
# (the 10-point Gauss rule with its 21-point Kronrod extension on every
# panel, QUADPACK's qk21), on [-z_max, z_max], z_max = 37.5 (the Gaussian
# mass beyond is below 1e-307). The panels start split at every kink of the
# activation (where f or a derivative jumps: ReLU and its relatives at
# s = 0) mapped to z = (kink - mu) / sigma, and around each kink and at
# s = 0 on the activation's own scale, s = +-1/4, 1, 4, 16, so that a
# feature of width 1/sigma in z (tanh at sigma = 100) is resolved from the
# start; then the panel with the largest error estimate |K21 - G10| is
# bisected until the sum of the estimates is below `rel_tol` times
# E|g(mu + sigma Z)| (relative to the result for a positive integrand;
# relative to the sum of absolute terms when the result cancels). The error
# estimate adds rounding, 2e-13 of E|g|; a result smaller than its error
# estimate is returned as 0.
#
# Underflow rule: contributions from |z| > 37.5 are dropped, so a value that
# lies entirely beyond (E[relu(s)^2] for s ~ N(-3, 1e-6)) is returned as 0,
# its true value being below 1e-300 times the integrand's scale.
#
# The fixed half-range Gauss-Hermite rule of version 0.1.0 is kept as
# `method = "gauss_hermite"` (accurate for sigma near 1 and kinks at mu).

quad_cache <- new.env(parent = emptyenv())

quad_z_max <- 37.5

# QUADPACK qk21: Kronrod nodes (x >= 0, the last is 0), their weights, and
# the weights of the 10-point Gauss rule on the even-indexed nodes.
gk21 <- local({
  xk <- c(0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
          0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
          0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
          0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
          0.294392862701460198131126603103866, 0.148874338981631210884826001129720, 0)
  wk <- c(0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
          0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
          0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
          0.123491976262065851077208980108755, 0.134709217311473325928054001771707,
          0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
          0.149445554002916905664936468389821)
  wg <- c(0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
          0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
          0.295524224714752870173892994651338)
  x <- c(-xk[1:10], 0, rev(xk[1:10]))
  list(x = x, wk = c(wk[1:10], wk[11], rev(wk[1:10])),
       wg = c(c(rbind(0, wg)), 0, rev(c(rbind(0, wg)))))
})

# Starting breakpoints in z for E[g(mu + sigma Z)].
quad_breaks <- function(sigma, mu, kinks) {
  s_pts <- c(kinks, outer(unique(c(0, kinks)), c(0, -16, -4, -1, -0.25, 0.25, 1, 4, 16), "+"))
  z <- c(0, -1, 1, -2, 2, -4, 4, -8, 8, -16, 16, (s_pts - mu) / sigma)
  z <- z[is.finite(z) & abs(z) < quad_z_max]
  sort(unique(c(-quad_z_max, z, quad_z_max)))
}

# One call of the integrand on every node of the panels [a, b].
quad_panels <- function(g, a, b, sigma, mu) {
  h <- (b - a) / 2
  z <- as.vector(outer(gk21$x, h) + rep((a + b) / 2, each = 21))
  s <- mu + sigma * z
  v <- g(s)
  if (!is.numeric(v) || length(v) != length(s)) {
    stop("the function must be vectorized and return one number per input.", call. = FALSE)
  }
  if (any(!is.finite(v))) {
    bad <- s[!is.finite(v)][1]
    stop(sprintf("the integrand is not finite at s = %s.", format(bad, digits = 6)), call. = FALSE)
  }
  fv <- matrix(v * stats::dnorm(z), 21)
  k <- colSums(gk21$wk * fv) * h
  gs <- colSums(gk21$wg * fv) * h
  l1 <- colSums(gk21$wk * abs(fv)) * h
  list(k = k, err = abs(k - gs), l1 = l1)
}

# E[g(sigma Z + mu)] for Z ~ N(0, 1). `kinks`: points (in the argument of g)
# where g is not smooth. With `with_error = TRUE` the value carries
# attribute "error", the estimate of its absolute error (method "adaptive").
normal_expectation <- function(g, sigma = 1, mu = 0,
                               method = c("adaptive", "gauss_hermite", "integrate"),
                               nodes = 40L, kinks = numeric(), rel_tol = 1e-13,
                               with_error = FALSE) {
  method <- match.arg(method)
  if (sigma == 0) {
    v <- g(mu)
    if (!is.numeric(v) || length(v) != 1 || !is.finite(v)) {
      stop(sprintf("the integrand is not finite at s = %s.", format(mu, digits = 6)), call. = FALSE)
    }
    return(if (with_error) structure(v, error = 0) else v)
  }
  if (method == "gauss_hermite") {
    q <- gauss_hermite(nodes)
    vals <- g(mu + sigma * q$x)
    if (!is.numeric(vals) || length(vals) != length(q$x)) {
      stop("the function must be vectorized and return one number per input.",
           call. = FALSE)
    }
    return(sum(q$w * vals))
  }
  if (method == "integrate") {
    br <- quad_breaks(sigma, mu, kinks)
    tot <- 0
    for (j in seq_len(length(br) - 1)) {
      tot <- tot + stats::integrate(function(z) g(mu + sigma * z) * stats::dnorm(z), br[j], br[j + 1],
                                    rel.tol = 1e-11, abs.tol = 0, subdivisions = 1000L)$value
    }
    return(tot)
  }
  br <- quad_breaks(sigma, mu, kinks)
  a <- br[-length(br)]
  b <- br[-1]
  r <- quad_panels(g, a, b, sigma, mu)
  k <- r$k; err <- r$err; l1 <- r$l1
  for (iter in seq_len(200)) {
    scale <- sum(l1)
    target <- rel_tol * scale
    if (sum(err) <= target || scale == 0) break
    # bisect the panels carrying the largest errors (at least half the total)
    o <- order(err, decreasing = TRUE)
    m <- which(cumsum(err[o]) >= 0.5 * sum(err))[1]
    sel <- o[seq_len(max(m, 1))]
    mid <- (a[sel] + b[sel]) / 2
    na <- c(a[sel], mid)
    nb <- c(mid, b[sel])
    rn <- quad_panels(g, na, nb, sigma, mu)
    a <- c(a[-sel], na); b <- c(b[-sel], nb)
    k <- c(k[-sel], rn$k); err <- c(err[-sel], rn$err); l1 <- c(l1[-sel], rn$l1)
    if (length(a) > 20000) break
  }
  total <- sum(k)
  # the error estimate: the quadrature's, plus rounding (the kinks' positions
  # and f(s) - E f are rounded to double precision) at 2e-13 of the scale
  est_err <- sum(err) + 2e-13 * sum(l1)
  # a value below its own error estimate is indistinguishable from 0 (E[f]
  # of an odd f at mu = 0): return 0 rather than rounding noise
  if (abs(total) <= est_err) total <- 0
  if (sum(err) > max(1e-8 * sum(l1), 1e-300)) {
    stop(sprintf("the quadrature did not converge (error estimate %s of a scale %s): ",
                 format(sum(err), digits = 3), format(sum(l1), digits = 3)),
         "the integrand may not be integrable against the normal density.", call. = FALSE)
  }
  if (with_error) structure(total, error = est_err) else total
}

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

