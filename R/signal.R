# Signal propagation at infinite width: the q-map and the c-map of Poole et
# al. (2016) and Schoenholz et al. (2017), their fixed points, depth scales
# and phase diagram; the layer-by-layer correlation of two inputs through a
# network; and the exact finite-width kurtosis of positively homogeneous
# networks.

# ---- internals: quadrature ---------------------------------------------------

# Points on an activation's own scale (in its argument s) where the 2-D rule
# starts a new panel: the kinks, and around 0 and every kink the offsets
# +-1/4 ... +-32, so that tanh's transition is resolved whatever the scale
# of its argument.
signal_s_breaks <- function(kinks) {
  centres <- unique(c(0, kinks))
  c(kinks, outer(centres, c(0, -32, -16, -8, -4, -2, -1, -0.5, -0.25,
                            0.25, 0.5, 1, 2, 4, 8, 16, 32), "+"))
}

signal_z_max <- 10
signal_z_fixed <- c(-10, -8, -6, -5, -4, -3, -2.5, -2, -1.5, -1, -0.5, 0,
                    0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)

# Gauss-Legendre rule on [-1, 1] (10 points: 1e-14 relative on the
# panels below, measured against nested stats::integrate).
gl_nodes <- 10L
gl_rule <- local({
  n <- gl_nodes
  b <- (1:(n - 1)) / sqrt(4 * (1:(n - 1))^2 - 1)
  J <- matrix(0, n, n)
  J[cbind(1:(n - 1), 2:n)] <- b
  J[cbind(2:n, 1:(n - 1))] <- b
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(x = e$values[o], w = 2 * e$vectors[1, o]^2)
})

# Composite Gauss-Legendre nodes and weights (times the normal density) in z
# on the panels cut by the breakpoints `br` (one row of breakpoints per
# case: a matrix, rows sorted). Returns matrices with one row per case.
signal_nodes <- function(br) {
  br <- t(apply(br, 1, sort))
  if (ncol(br) == 1) br <- t(br)
  a <- br[, -ncol(br), drop = FALSE]
  b <- br[, -1, drop = FALSE]
  h <- (b - a) / 2
  m <- (a + b) / 2
  np <- ncol(a)
  # nodes: case x (panel, node)
  z <- matrix(rep(m, each = 1), nrow(br))[, rep(seq_len(np), each = gl_nodes), drop = FALSE] +
    h[, rep(seq_len(np), each = gl_nodes), drop = FALSE] * rep(gl_rule$x, each = nrow(br))
  w <- h[, rep(seq_len(np), each = gl_nodes), drop = FALSE] * rep(gl_rule$w, each = nrow(br))
  list(z = z, w = w * stats::dnorm(z))
}

# E[f(mu + u1) g(mu + u2)] for (u1, u2) centred normal with variances q and
# correlation cc, for several pairs of functions at once (`fs`, `gs`: lists
# of vectorized functions): by nested composite Gauss-Legendre quadrature,
# conditional on Z1 (u1 = sqrt(q) Z1; given Z1, u2 is normal with mean
# cc sqrt(q) Z1 and sd sqrt(q (1 - cc^2))). The panels are cut at the kinks
# and on the activation's own scale, in z1 for f and for the conditional
# mean of u2 crossing g's features, and in z2 for g. Mass beyond 10
# standard deviations (below 1e-22) is dropped.
bivariate_expectation <- function(fs, gs, q, cc, mu = 0, kinks = numeric()) {
  sq <- sqrt(q)
  if (q == 0) {
    return(vapply(seq_along(fs), function(k) fs[[k]](mu) * gs[[k]](mu), 0))
  }
  if (cc >= 1 || cc <= -1) {
    sgn <- if (cc >= 1) 1 else -1
    return(vapply(seq_along(fs), function(k) sig_expect(
      function(x) fs[[k]](x) * gs[[k]](mu + sgn * (x - mu)), sq, mu, kinks = c(kinks, 2 * mu - kinks)), 0))
  }
  sb <- signal_s_breaks(kinks)
  zb <- (sb - mu) / sq
  if (cc != 0) {
    # where the conditional mean of u2 crosses g's features, and around
    # g's kinks on the scale of the conditional sd (as c -> 1, the smoothed
    # kink is sqrt(1 - c^2) / c wide in z1)
    zb <- c(zb, zb / cc)
    if (length(kinks)) {
      zb <- c(zb, outer((kinks - mu) / (cc * sq), sqrt(1 - cc^2) / abs(cc) *
                          c(-32, -16, -8, -4, -2, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 4, 8, 16, 32), "+"))
    }
  }
  zb <- zb[is.finite(zb) & abs(zb) < signal_z_max]
  outer_nodes <- signal_nodes(matrix(sort(unique(c(signal_z_fixed, zb))), 1))
  z1 <- as.vector(outer_nodes$z)
  w1 <- as.vector(outer_nodes$w)
  s1 <- mu + sq * z1
  m2 <- mu + cc * sq * z1          # conditional mean of mu + u2
  sd2 <- sq * sqrt(1 - cc^2)
  inner_br <- cbind(matrix(signal_z_fixed, length(z1), length(signal_z_fixed), byrow = TRUE),
                    pmin(pmax(outer(-m2, sb, "+") / sd2, -signal_z_max), signal_z_max))
  inner <- signal_nodes(inner_br)
  s2 <- m2 + sd2 * inner$z
  vapply(seq_along(fs), function(k) {
    h <- rowSums(inner$w * matrix(gs[[k]](as.vector(s2)), nrow(s2)))
    sum(w1 * fs[[k]](s1) * h)
  }, 0)
}

# ---- internals: activations ---------------------------------------------------

# Slope a of a positively homogeneous activation f(x) = x (x > 0), a x
# (x < 0) known by name (linear: a = 1, relu: a = 0, leaky_relu: its
# parameter), or NULL.
homogeneous_slope <- function(a) {
  if (a$code == activation_codes[["r_function"]]) return(NULL)
  switch(a$name, linear = 1, relu = 0, leaky_relu = a$param, NULL)
}

# f'' of a built-in activation, away from its kinks; NULL for a custom one.
# Where f' jumps (ReLU, leaky ReLU, ELU with alpha != 1, SELU at 0) f''
# carries a Dirac mass there, but f(0) = 0 for all of them, so f f'' has no
# singular part: E[f f''] is the integral of the regular part.
second_derivative <- function(a) {
  if (a$code == activation_codes[["r_function"]]) return(NULL)
  p <- a$param
  switch(a$name,
    linear = , relu = , leaky_relu = function(x) rep(0, length(x)),
    tanh = function(x) { t <- tanh(x); -2 * t * (1 - t^2) },
    sigmoid = function(x) { s <- stats::plogis(x); s * (1 - s) * (1 - 2 * s) },
    softsign = function(x) -2 * sign(x) / (1 + abs(x))^3,
    elu = function(x) ifelse(x > 0, 0, p * exp(x)),
    selu = function(x) ifelse(x > 0, 0, selu_lambda * selu_alpha * exp(x)),
    scaled_tanh = function(x) { t <- tanh(2 * x / 3); -1.7159 * 8 / 9 * t * (1 - t^2) },
    NULL)
}

# E[f'(sqrt(q) Z)^2]; at q = 0 its limit q -> 0, the average of the one-sided
# values at a kink (SELU: (lambda^2 + (lambda alpha)^2) / 2), not f'(0)^2.
dfd2 <- function(a, q) {
  sig_expect(function(x) a$df(x)^2, if (q == 0) 1e-300 else sqrt(q), kinks = a$kinks)
}

# E[f(sqrt(q) Z)^2]
q_moment <- function(a, q) sig_expect(function(x) a$f(x)^2, sqrt(q), kinks = a$kinks)

# dV/dq / sigma_w2 = E[f'(u)^2 + f(u) f''(u)], u = sqrt(q) Z (Schoenholz et
# al. 2017, eq. 8): with the analytic f'' of a built-in activation, and for a
# custom one by Gaussian integration by parts, d/dq E[f(sqrt(q) Z)^2] =
# E[f(u)^2 (Z^2 - 1)] / (2 q), which needs no derivative at all (and is the
# distributional form for any kinks).
q_slope <- function(a, q) {
  if (q == 0) {
    return(dfd2(a, 0))
  }
  f2 <- second_derivative(a)
  if (is.null(f2)) {
    sq <- sqrt(q)
    return(sig_expect(function(x) a$f(x)^2 * ((x / sq)^2 - 1), sq, kinks = a$kinks) / (2 * q))
  }
  sig_expect(function(x) a$df(x)^2 + a$f(x) * f2(x), sqrt(q), kinks = a$kinks)
}

signal_activation <- function(activation, arg = "activation") {
  if (is.character(activation) && length(activation) == 1 && !is.na(activation)) {
    canonical_activation(activation, arg)
  }
  a <- as_activation(activation, arg)
  if (a$code == activation_codes[["r_function"]]) {
    a$f <- checked_activation(a$f, arg, "f")
    a$df <- checked_activation(a$df, arg, "f'")
    # probed up front, so that an answer that never evaluates f' (no fixed
    # point) is not returned for an activation the maps cannot integrate
    probe <- c(-3, -1, -0.1, 0, 0.1, 1, 3)
    a$f(probe)
    a$df(probe)
  }
  a
}

# An activation given as an R function, checked at every call: NA, NaN or
# Inf for a finite input is an error naming the argument (the iterations
# of the q- and c-maps would otherwise fail on "missing value where
# TRUE/FALSE needed").
checked_activation <- function(f, arg, what) {
  force(f)
  function(x) {
    v <- f(x)
    if (!is.numeric(v) || length(v) != length(x)) return(v)   # the quadrature says so
    bad <- which(!is.finite(v) & is.finite(x))
    if (length(bad)) {
      signal_stop(sprintf(paste0(
        "`%s` must return finite values for finite inputs: its %s is %s at x = %s. ",
        "The q- and c-maps integrate it over the whole real line."),
        arg, what, if (is.nan(v[bad[1]])) "NaN" else if (is.na(v[bad[1]])) "NA" else "infinite",
        format(x[bad[1]], digits = 6)))
    }
    v
  }
}

check_nonneg_vector <- function(x, arg) {
  if (!is.numeric(x) || length(x) < 1 || anyNA(x) || any(!is.finite(x)) || any(x < 0)) {
    abort_arg(arg, "a non-empty vector of finite numbers >= 0", x)
  }
  invisible(as.double(x))
}

signal_stop <- function(msg, call = NULL) abort(msg)

signal_tol <- 1e-8   # |chi_1 - 1| below which a point is called critical

q_zero_note <- paste0(
  "q* = 0: with no bias the signal itself decays (by chi_1 per layer); ",
  "as q -> 0 the c-map preserves c, which chi_c (Schoenholz et al.'s ",
  "sigma_w2 E[f'(u1) f'(u2)] at q*) does not show")

# ---- internals: the q-map and c-map --------------------------------------------

# The stable fixed point q* of q -> sigma_w2 E[f(sqrt(q) Z)^2] + sigma_b2
# reached from small q, or Inf when q grows without bound; NA when every q
# is a fixed point. Returns list(q, note).
q_fixed_point <- function(a, sw, sb) {
  slope <- homogeneous_slope(a)
  if (!is.null(slope)) {
    r <- sw * (1 + slope^2) / 2       # V(q) = r q + sb exactly
    if (sb == 0 && abs(r - 1) <= signal_tol) {
      return(list(q = NA_real_, note = sprintf(
        "every q is a fixed point: sigma_w2 E[f(Z)^2] = 1 (to %g), the variance is preserved at any scale", signal_tol)))
    }
    if (r < 1) {
      return(list(q = sb / (1 - r), note = if (sb == 0)
        q_zero_note else ""))
    }
    return(list(q = Inf, note = sprintf(paste0(
      "no finite fixed point: the variance grows without bound (%s per layer)"),
      if (r > 1) sprintf("by a factor sigma_w2 E[f(Z)^2] = %s", format(r, digits = 6)) else
        sprintf("by sigma_b2 = %s", format(sb, digits = 6)))))
  }
  V <- function(q) sw * q_moment(a, q) + sb
  g <- function(q) V(q) / q - 1
  f0 <- a$f(0)
  if (sw * f0^2 + sb == 0) {
    d0 <- sw * q_slope(a, 0)
    if (d0 <= 1 + signal_tol) {
      return(list(q = 0, note = q_zero_note))
    }
  }
  q <- 1
  if (g(q) >= 0) {
    lo <- q
    repeat {
      q <- q * 4
      if (q > 1e16) {
        return(list(q = Inf, note = "no finite fixed point: the variance grows without bound (V(q) > q up to q = 1e16)"))
      }
      if (g(q) < 0) break
      lo <- q
    }
    hi <- q
  } else {
    hi <- q
    repeat {
      q <- q / 4
      if (q < 1e-280) break
      if (g(q) > 0) break
      hi <- q
    }
    lo <- q
  }
  r <- stats::uniroot(function(t) g(exp(t)), log(c(lo, hi)), tol = 1e-14, maxiter = 500)
  list(q = exp(r$root), note = "")
}

# The c-map M(c) and its slope M'(c) = sigma_w2 E[f'(u1) f'(u2)] at q*.
# Normalized by V(q*) (= q* at the fixed point) so that M(1) = 1 to
# rounding even where q* is ill-conditioned (near the critical line).
c_map_v <- function(a, q, cc, sw, sb, vq = sw * q_moment(a, q) + sb) {
  if (cc == 0) {
    # independent: products of 1-D expectations (an odd f gives exactly 0)
    m1 <- sig_expect(a$f, sqrt(q), kinks = a$kinks)
    d1 <- sig_expect(a$df, sqrt(q), kinks = a$kinks)
    return(c(value = (sw * m1^2 + sb) / vq, slope = sw * d1^2))
  }
  v <- bivariate_expectation(list(a$f, a$df), list(a$f, a$df), q, cc, kinks = a$kinks)
  c(value = (sw * v[1] + sb) / vq, slope = sw * v[2])
}

# The stable fixed point c* in [0, 1) of the c-map in the chaotic phase,
# by Newton's method from 0 safeguarded by bisection: M(c) - c is convex
# on [0, 1] (M is a power series in c with non-negative coefficients), >= 0
# at 0 and < 0 just below 1.
c_fixed_point <- function(a, q, sw, sb, start = 0) {
  vq <- sw * q_moment(a, q) + sb
  c_map <- function(a, q, cc, sw, sb) c_map_v(a, q, cc, sw, sb, vq)
  lo <- 0
  hi <- 1
  cc <- 0
  m <- c_map(a, q, 0, sw, sb)
  if (m[["value"]] <= 0) return(c(c = 0, slope = m[["slope"]]))
  if (start > 0 && start < 1) {
    m_s <- c_map(a, q, start, sw, sb)
    if (m_s[["value"]] - start > 0) { lo <- start; cc <- start; m <- m_s } else hi <- start
  }
  for (it in 1:100) {
    step <- (m[["value"]] - cc) / (1 - m[["slope"]])
    new <- cc + step
    if (!is.finite(new) || new <= lo || new >= hi) new <- (lo + hi) / 2
    m_new <- c_map(a, q, new, sw, sb)
    if (m_new[["value"]] - new > 0) lo <- new else hi <- new
    conv <- abs(new - cc) <= 1e-11 * max(abs(new), 1e-3) || (hi - lo) <= 1e-13
    cc <- new
    m <- m_new
    if (conv) break
  }
  c(c = cc, slope = m[["slope"]])
}

fixed_point_one <- function(a, sw, sb, start = 0) {
  fp <- q_fixed_point(a, sw, sb)
  q <- fp$q
  note <- fp$note
  slope <- homogeneous_slope(a)
  row <- function(q, chi_1, dv, cs, chi_c, phase, note) {
    data.frame(sigma_w2 = sw, sigma_b2 = sb, q_star = q, chi_1 = chi_1,
               c_star = cs, chi_c = chi_c,
               xi_q = depth_scale(dv), xi_c = depth_scale(chi_c),
               phase = phase, note = note, stringsAsFactors = FALSE)
  }
  if (!is.null(slope)) {
    r <- sw * (1 + slope^2) / 2
    if (is.infinite(q)) return(row(Inf, r, NA_real_, NA_real_, NA_real_, "unbounded", note))
    ph <- phase_of(r)
    # V'(q) = chi_1 = r; at c* = 1 the slope of the c-map is chi_1 too.
    return(row(q, r, r, 1, r, ph, note))
  }
  if (is.infinite(q)) return(row(Inf, NA_real_, NA_real_, NA_real_, NA_real_, "unbounded", note))
  chi_1 <- sw * dfd2(a, q)
  dv <- sw * q_slope(a, q)
  ph <- phase_of(chi_1)
  if (ph == "chaotic") {
    cf <- c_fixed_point(a, q, sw, sb, start)
    return(row(q, chi_1, dv, cf[["c"]], cf[["slope"]], ph, note))
  }
  row(q, chi_1, dv, 1, chi_1, ph, note)
}

phase_of <- function(chi_1) {
  if (abs(chi_1 - 1) <= signal_tol) "critical" else if (chi_1 < 1) "ordered" else "chaotic"
}

# xi = -1 / log(chi) for chi < 1; Inf at or above 1.
depth_scale <- function(chi) {
  ifelse(is.na(chi), NA_real_, ifelse(chi >= 1 - signal_tol, Inf, -1 / log(pmax(chi, 1e-300))))
}

# ---- exported -----------------------------------------------------------------

#' Fixed points, phase and depth scales of signal propagation
#'
#' For an infinitely wide network whose weights have variance
#' \eqn{\sigma_w^2 / n} (fan-in \eqn{n}) and biases variance
#' \eqn{\sigma_b^2}, the variance \eqn{q_l} of a pre-activation follows the
#' q-map (Poole et al. 2016; Schoenholz et al. 2017, eq. 3)
#' \deqn{q_{l+1} = V(q_l) = \sigma_w^2 E[f(\sqrt{q_l} Z)^2] + \sigma_b^2,}
#' and the correlation \eqn{c_l} of the pre-activations of two inputs the
#' c-map (their eq. 5)
#' \deqn{c_{l+1} = M(c_l) = (\sigma_w^2 E[f(u_1) f(u_2)] + \sigma_b^2) / q^*,}
#' \eqn{u_1 = \sqrt{q^*} Z_1}, \eqn{u_2 = \sqrt{q^*}(c Z_1 + \sqrt{1 - c^2} Z_2)}.
#' `fixed_point()` returns, for each pair of \eqn{(\sigma_w^2, \sigma_b^2)}:
#'
#' * `q_star`: the fixed point \eqn{q^*} of the q-map reached from small q
#'   (found by a bracketing search and [uniroot()] on \eqn{\log q}, to 1e-12
#'   relative away from the critical line, where it is ill-conditioned:
#'   the error grows like \eqn{10^{-13} / (1 - V'(q^*))}).
#' * `chi_1` \eqn{= \sigma_w^2 E[f'(\sqrt{q^*} Z)^2]} (their eq. 7): the
#'   slope of the c-map at \eqn{c = 1}. `phase` is `"ordered"` when
#'   \eqn{\chi_1 < 1}, `"chaotic"` when \eqn{\chi_1 > 1}, `"critical"` within
#'   1e-8 of 1, and `"unbounded"` when \eqn{q} has no finite fixed point.
#' * `c_star`: the stable fixed point of the c-map attracting correlations
#'   in \eqn{[0, 1)}: 1 in the ordered phase; in the chaotic phase the
#'   unique root of \eqn{M(c) = c} in \eqn{[0, 1)} (\eqn{M} is a power
#'   series in \eqn{c} with non-negative coefficients, hence convex),
#'   found by Newton's method safeguarded by bisection.
#' * `chi_c` \eqn{= \sigma_w^2 E[f'(u_1) f'(u_2)]} at \eqn{c^*}: the slope
#'   \eqn{M'(c^*)} (Price's theorem, \eqn{d E[f(u_1) f(u_2)] / dc = q^*
#'   E[f'(u_1) f'(u_2)]}); \eqn{\chi_c = \chi_1} when \eqn{c^* = 1}.
#' * `xi_q` and `xi_c`: the depth scales of their eqs. 8-9,
#'   \deqn{\xi_q^{-1} = -\log(\chi_1 + \sigma_w^2 E[f(u) f''(u)]) = -\log V'(q^*),
#'   \quad \xi_c^{-1} = -\log \chi_c,}
#'   over which \eqn{q_l - q^*} and \eqn{c_l - c^*} decay like
#'   \eqn{e^{-l/\xi}}; `Inf` at the critical line.
#' * `note`: what is special about the point, if anything.
#'
#' @section The second derivative: \eqn{V'(q) = \sigma_w^2 E[f'(u)^2 +
#'   f(u) f''(u)]} follows from the heat equation, \eqn{d/dq E[g(\sqrt q Z)]
#'   = E[g''(\sqrt q Z)] / 2} with \eqn{g = f^2}. Built-in activations use
#'   their analytic \eqn{f''}. Where \eqn{f'} jumps (ReLU, leaky ReLU, SELU
#'   and ELU at 0), \eqn{f''} has a Dirac mass at the kink, multiplied by
#'   \eqn{f(0) = 0}: distributionally \eqn{f f''} is its regular part (for
#'   ReLU and leaky ReLU, 0 almost everywhere). A custom activation needs no
#'   second derivative: Gaussian integration by parts gives \eqn{d/dq
#'   E[f(\sqrt q Z)^2] = E[f(\sqrt q Z)^2 (Z^2 - 1)] / (2q)}, used instead.
#'
#' @section Positively homogeneous activations: For \eqn{f(x) = x}
#'   (\eqn{x > 0}), \eqn{a x} (\eqn{x < 0}) (linear: \eqn{a = 1}; ReLU:
#'   \eqn{a = 0}; leaky ReLU) \eqn{V(q) = r q + \sigma_b^2} with
#'   \eqn{r = \sigma_w^2 (1 + a^2)/2 = \chi_1}, so everything is in closed
#'   form. For ReLU (\eqn{r = \sigma_w^2 / 2}): with \eqn{\sigma_w^2 < 2} the
#'   network is ordered, \eqn{q^* = \sigma_b^2 / (1 - \sigma_w^2/2)} and
#'   \eqn{c^* = 1}; with \eqn{\sigma_w^2 > 2}, or \eqn{\sigma_w^2 = 2} and
#'   \eqn{\sigma_b^2 > 0}, the variance grows without bound (`q_star = Inf`,
#'   phase `"unbounded"`): there is no chaotic phase. At \eqn{\sigma_w^2 = 2},
#'   \eqn{\sigma_b^2 = 0} (He et al.'s initialization) every \eqn{q} is a
#'   fixed point (`q_star = NA`, said in `note`). The c-map is then the
#'   arc-cosine kernel of degree 1 (Cho and Saul 2009),
#'   \deqn{M(c) = \frac{\sigma_w^2}{2} \frac{\sqrt{1 - c^2} + (\pi - \arccos c)
#'   c}{\pi} + \frac{\sigma_b^2}{q^*},}
#'   whose slope at \eqn{c = 1} is \eqn{\sigma_w^2 / 2 = \chi_1}.
#'
#' @section When \eqn{q^* = 0}: With \eqn{\sigma_b^2 = 0} and \eqn{f(0) = 0}
#'   (tanh with \eqn{\sigma_w^2 \le 1}, ReLU with \eqn{\sigma_w^2 < 2}) the
#'   signal itself dies out. `chi_c` is then Schoenholz et al.'s
#'   \eqn{\sigma_w^2 f'(0)^2}; the actual c-map, computed with
#'   \eqn{q_{l+1} \neq q_l}, preserves correlations as \eqn{q \to 0}. `note`
#'   says so.
#'
#' @section Accuracy: One-dimensional expectations use [predict_variance()]'s
#'   adaptive Gauss-Kronrod quadrature (1e-13 relative); the two-dimensional
#'   \eqn{E[f(u_1) f(u_2)]} a nested composite Gauss-Legendre rule (10
#'   points per panel, the panels cut at the kinks and on the activation's
#'   own scale in both variables, conditional on \eqn{Z_1}), measured at
#'   1e-14 relative against nested [stats::integrate()] and the arc-cosine
#'   kernel.
#'
#' @param activation An activation name or an [activation()].
#' @param sigma_w2 Weight variance times fan-in, \eqn{\sigma_w^2 > 0}: a
#'   vector.
#' @param sigma_b2 Bias variance \eqn{\sigma_b^2 \ge 0}: a vector, recycled
#'   with `sigma_w2` (each of length 1 or of the common length).
#' @return A data frame with one row per pair: `sigma_w2`, `sigma_b2`,
#'   `q_star`, `chi_1`, `c_star`, `chi_c`, `xi_q`, `xi_c`, `phase`, `note`.
#' @references
#' Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J. and Ganguli, S.
#' (2016). Exponential expressivity in deep neural networks through transient
#' chaos. NeurIPS.
#'
#' Schoenholz, S. S., Gilmer, J., Ganguli, S. and Sohl-Dickstein, J. (2017).
#' Deep information propagation. ICLR.
#'
#' Cho, Y. and Saul, L. K. (2009). Kernel methods for deep learning. NeurIPS.
#' @seealso [critical_line()], [phase_diagram()], [predict_correlation()].
#' @examples
#' fixed_point("tanh", c(0.8, 1, 1.5, 2.5), 0.05)
#' fixed_point("relu", c(1, 2, 3), 0)       # ordered, every q fixed, unbounded
#' fixed_point("relu", 1.5, 0.1)$q_star     # 0.1 / (1 - 1.5 / 2) = 0.4
#' @export
fixed_point <- function(activation, sigma_w2, sigma_b2 = 0) {
  a <- signal_activation(activation)
  if (!is.numeric(sigma_w2) || length(sigma_w2) < 1 || anyNA(sigma_w2) ||
      any(!is.finite(sigma_w2)) || any(sigma_w2 <= 0)) {
    abort_arg("sigma_w2", "a non-empty vector of finite numbers > 0", sigma_w2)
  }
  check_nonneg_vector(sigma_b2, "sigma_b2")
  n <- max(length(sigma_w2), length(sigma_b2))
  if (!length(sigma_w2) %in% c(1, n) || !length(sigma_b2) %in% c(1, n)) {
    signal_stop(sprintf(paste0(
      "`sigma_w2` (length %d) and `sigma_b2` (length %d) must have the same length, ",
      "or one of them length 1."), length(sigma_w2), length(sigma_b2)))
  }
  sw <- rep_len(as.double(sigma_w2), n)
  sb <- rep_len(as.double(sigma_b2), n)
  rows <- vector("list", n)
  start <- 0
  for (i in seq_len(n)) {
    rows[[i]] <- fixed_point_one(a, sw[i], sb[i], start)
    cs <- rows[[i]]$c_star
    start <- if (is.finite(cs) && cs < 1) cs else 0
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}

#' The edge of chaos
#'
#' The weight variance \eqn{\sigma_w^2} (times fan-in) at which \eqn{\chi_1 =
#' \sigma_w^2 E[f'(\sqrt{q^*} Z)^2] = 1} for each bias variance: the line
#' between the ordered and chaotic phases of [fixed_point()], along which
#' both depth scales diverge. Found by [uniroot()] on \eqn{\log
#' \sigma_w^2}, each step solving for \eqn{q^*}, to 1e-10 relative.
#'
#' With \eqn{\sigma_b^2 = 0} and \eqn{f(0) = 0}, \eqn{q^* = 0} up to the
#' line, which is then \eqn{\sigma_w^2 = 1 / E[f'(0)^2]} exactly: 1 for
#' tanh (when the activation is chaotic just above it, which is checked).
#'
#' For positively homogeneous activations (linear, ReLU, leaky ReLU with
#' slope \eqn{a}) the critical point is \eqn{\sigma_w^2 = 2 / (1 + a^2)} at
#' \eqn{\sigma_b^2 = 0} (2 for ReLU), and there is none with
#' \eqn{\sigma_b^2 > 0}: at \eqn{\sigma_w^2 = 2} the variance grows by
#' \eqn{\sigma_b^2} per layer, with no finite fixed point, and below it the
#' network is ordered with \eqn{q^* = \sigma_b^2 / (1 - \sigma_w^2 / 2)} and
#' \eqn{c^* = 1}; asking for it is an error.
#'
#' @inheritParams fixed_point
#' @param sigma_b2 Bias variances \eqn{\ge 0}: a vector.
#' @return A data frame: `sigma_b2`, `sigma_w2` (critical), `q_star` at
#'   that point (`NA` where every q is a fixed point).
#' @examples
#' critical_line("tanh", c(0, 0.05, 0.1))
#' critical_line("relu", 0)
#' @export
critical_line <- function(activation, sigma_b2) {
  a <- signal_activation(activation)
  check_nonneg_vector(sigma_b2, "sigma_b2")
  slope <- homogeneous_slope(a)
  if (!is.null(slope) && any(sigma_b2 > 0)) {
    signal_stop(sprintf(paste0(
      "`sigma_b2` must be 0 for %s, not %s: with a bias variance there is no edge of chaos. ",
      "At sigma_w2 = %s the variance grows by sigma_b2 per layer (no finite fixed point); below it ",
      "the network is ordered with q* = sigma_b2 / (1 - sigma_w2 / %s) and c* = 1, above it unbounded."),
      format(a), format(sigma_b2[sigma_b2 > 0][1], digits = 6),
      format(2 / (1 + slope^2), digits = 15), format(2 / (1 + slope^2), digits = 15)))
  }
  res <- lapply(as.double(sigma_b2), function(sb) {
    if (!is.null(slope)) return(c(2 / (1 + slope^2), NA_real_))
    critical_one(a, sb, NULL)
  })
  data.frame(sigma_b2 = as.double(sigma_b2), sigma_w2 = vapply(res, `[`, 0, 1),
             q_star = vapply(res, `[`, 0, 2))
}

critical_one <- function(a, sb, call) {
  chi <- function(sw) {
    fp <- q_fixed_point(a, sw, sb)
    if (!is.finite(fp$q)) return(Inf)
    sw * dfd2(a, fp$q)
  }
  if (sb == 0 && a$f(0) == 0) {
    sw0 <- 1 / q_slope(a, 0)
    if (chi(sw0 * (1 + 1e-6)) > 1 && chi(sw0 * (1 - 1e-6)) < 1) return(c(sw0, 0))
  }
  h <- function(t) { v <- chi(exp(t)) - 1; if (is.infinite(v)) 1 else v }
  t <- 0
  v <- h(t)
  step <- if (v > 0) -log(2) else log(2)
  other <- t
  for (i in 1:60) {
    other <- t + step
    if (sign(h(other)) != sign(v)) break
    t <- other
    if (abs(t) > 40) {
      signal_stop(sprintf(paste0(
        "no edge of chaos for %s at `sigma_b2` = %s: chi_1 does not cross 1 for ",
        "sigma_w2 in [%s, %s]."), format(a), format(sb), format(exp(-40), digits = 3),
        format(exp(40), digits = 3)), call)
    }
  }
  r <- stats::uniroot(h, sort(c(t, other)), tol = 1e-11, maxiter = 200)
  sw <- exp(r$root)
  if (abs(h(r$root)) > 1e-6) {
    signal_stop(sprintf(paste0(
      "no edge of chaos for %s at `sigma_b2` = %s: chi_1 jumps across 1 at sigma_w2 = %s ",
      "(the variance becomes unbounded there)."), format(a), format(sb), format(sw, digits = 8)), call)
  }
  c(sw, q_fixed_point(a, sw, sb)$q)
}

#' Phase diagram of signal propagation
#'
#' [fixed_point()] on a grid of \eqn{(\sigma_w^2, \sigma_b^2)}: the phase
#' (ordered, chaotic, critical, unbounded) and the correlation depth scale
#' \eqn{\xi_c} of every cell. `plot()` draws \eqn{\log_{10} \xi_c} as an
#' image, the critical line \eqn{\chi_1 = 1} as the contour of the grid's
#' \eqn{\chi_1} (and the exact points of [critical_line()] if given), labels
#' the phases, and greys out cells whose variance grows without bound. For
#' ReLU and its homogeneous relatives there is no chaotic phase: the plot
#' says so, marks the critical point \eqn{\sigma_w^2 = 2/(1+a^2)},
#' \eqn{\sigma_b^2 = 0} and the boundary beyond which the variance is
#' unbounded.
#'
#' @inheritParams fixed_point
#' @param progress Show a progress bar over the grid (default: in an
#'   interactive session).
#' @param sigma_w2,sigma_b2 The grid: increasing vectors of \eqn{\sigma_w^2 >
#'   0} and \eqn{\sigma_b^2 \ge 0}.
#' @return An `initvar_phase_diagram`: a list with `activation`, `sigma_w2`,
#'   `sigma_b2`, `table` (the [fixed_point()] data frame of every cell,
#'   `sigma_w2` varying fastest), and matrices `phase`, `xi_c`, `chi_1`
#'   (rows: `sigma_w2`, columns: `sigma_b2`).
#' @examples
#' pd <- phase_diagram("tanh", seq(0.5, 3, by = 0.5), c(0, 0.1, 0.2))
#' pd
#' plot(pd)
#' plot(phase_diagram("relu", seq(0.5, 3, by = 0.5), c(0, 0.1)))
#' @export
phase_diagram <- function(activation, sigma_w2 = seq(0.25, 4, by = 0.25),
                          sigma_b2 = seq(0, 0.3, by = 0.05), progress = interactive()) {
  check_flag(progress, "progress")
  a <- signal_activation(activation)
  for (nm in c("sigma_w2", "sigma_b2")) {
    x <- get(nm)
    ok <- is.numeric(x) && length(x) >= 2 && !anyNA(x) && all(is.finite(x)) &&
      all(diff(x) > 0) && all(if (nm == "sigma_w2") x > 0 else x >= 0)
    if (!ok) abort_arg(nm, sprintf("an increasing vector of at least 2 finite numbers %s",
                                   if (nm == "sigma_w2") "> 0" else ">= 0"), x)
  }
  # a progress bar over the grid's columns (a tanh grid takes 10-30 s)
  bar <- progress_bar(progress, length(sigma_b2), "phase diagram")
  frame <- environment()
  tab <- do.call(rbind, lapply(seq_along(sigma_b2), function(j) {
    r <- fixed_point(a, sigma_w2, sigma_b2[j])
    progress_set(bar, j, .envir = frame)
    r
  }))
  rownames(tab) <- NULL
  m <- function(v) matrix(v, length(sigma_w2), length(sigma_b2))
  structure(list(activation = a, sigma_w2 = sigma_w2, sigma_b2 = sigma_b2, table = tab,
                 phase = m(tab$phase), xi_c = m(tab$xi_c), chi_1 = m(tab$chi_1)),
            class = "initvar_phase_diagram")
}

#' @rdname phase_diagram
#' @param x An `initvar_phase_diagram`.
#' @param ... Unused.
#' @export
print.initvar_phase_diagram <- function(x, ...) {
  cat(sprintf("<initvar phase diagram> %s: %d x %d grid, sigma_w2 in [%s, %s], sigma_b2 in [%s, %s]\n",
              format(x$activation), length(x$sigma_w2), length(x$sigma_b2),
              format(min(x$sigma_w2)), format(max(x$sigma_w2)),
              format(min(x$sigma_b2)), format(max(x$sigma_b2))))
  counts <- table(factor(x$phase, c("ordered", "critical", "chaotic", "unbounded")))
  cat("cells: ", paste(sprintf("%d %s", counts, names(counts)), collapse = ", "), "\n", sep = "")
  fin <- is.finite(x$xi_c)
  if (any(fin)) {
    i <- which(x$xi_c == max(x$xi_c[fin]) & fin, arr.ind = TRUE)[1, ]
    cat(sprintf("largest finite xi_c: %s at sigma_w2 = %s, sigma_b2 = %s\n",
                format(signif(max(x$xi_c[fin]), 4)), format(x$sigma_w2[i[1]]),
                format(x$sigma_b2[i[2]])))
  }
  # the critical sigma_w2 per bias, read off the grid (between two cells)
  edges <- vapply(seq_along(x$sigma_b2), function(j) {
    p <- x$phase[, j]
    k <- which(p[-1] != p[-length(p)])[1]
    if (is.na(k)) NA_character_ else
      sprintf("(%s, %s] %s -> %s", format(x$sigma_w2[k]), format(x$sigma_w2[k + 1]), p[k], p[k + 1])
  }, "")
  cat("first phase change along sigma_w2, per sigma_b2:\n")
  print(data.frame(sigma_b2 = x$sigma_b2, change = ifelse(is.na(edges), "none", edges)),
        row.names = FALSE, right = FALSE)
  if (!is.null(homogeneous_slope(x$activation))) {
    cat("positively homogeneous activation: no chaotic phase; the variance is unbounded",
        "beyond the critical point (see ?fixed_point)\n")
  }
  invisible(x)
}

#' @rdname phase_diagram
#' @param critical Optional output of [critical_line()] to draw as exact
#'   points on the contour.
#' @param main Title.
#' @export
plot.initvar_phase_diagram <- function(x, critical = NULL, main = NULL, ...) {
  sw <- x$sigma_w2
  sb <- x$sigma_b2
  homog <- homogeneous_slope(x$activation)
  if (is.null(main)) main <- sprintf("Phase diagram, %s: log10 depth scale xi_c", format(x$activation))
  z <- log10(x$xi_c)
  fin <- is.finite(z)
  zr <- if (any(fin)) range(z[fin]) else c(0, 1)
  if (diff(zr) == 0) zr <- zr + c(-0.5, 0.5)
  cap <- zr[2] + 0.05 * diff(zr)
  z[is.infinite(z) & z > 0] <- cap       # critical cells: the top colour
  cols <- grDevices::hcl.colors(64, "viridis")
  op <- graphics::par(mar = c(4.5, 4.5, 3, 6))
  on.exit(graphics::par(op))
  graphics::image(sw, sb, z, col = cols, zlim = c(zr[1], cap), xlab = expression(sigma[w]^2),
                  ylab = expression(sigma[b]^2), main = main, useRaster = FALSE)
  unb <- x$phase == "unbounded"
  if (any(unb)) {
    graphics::image(sw, sb, ifelse(unb, 1, NA), col = "grey70", add = TRUE)
  }
  if (is.null(homog)) {
    chi <- x$chi_1
    if (sum(is.finite(chi)) > 3 && diff(range(chi, na.rm = TRUE)) > 0 &&
        min(chi, na.rm = TRUE) < 1 && max(chi, na.rm = TRUE) > 1) {
      graphics::contour(sw, sb, chi, levels = 1, add = TRUE, drawlabels = FALSE, lwd = 2, col = "white")
    }
    if (!is.null(critical)) {
      graphics::points(critical$sigma_w2, critical$sigma_b2, pch = 21, bg = "white", cex = 1.1)
    }
    lab <- function(ph, text) {
      w <- which(x$phase == ph, arr.ind = TRUE)
      if (nrow(w)) {
        graphics::text(stats::median(sw[w[, 1]]), stats::median(sb[w[, 2]]), text, col = "white", font = 2)
      }
    }
    lab("ordered", "ordered")
    lab("chaotic", "chaotic")
  } else {
    crit <- 2 / (1 + homog^2)
    graphics::abline(v = crit, lwd = 2, col = "white", lty = 2)
    graphics::points(crit, 0, pch = 21, bg = "white", cex = 1.5, xpd = TRUE)
    left <- sw < crit
    if (any(left)) {
      graphics::text(mean(range(sw[left])), mean(range(sb)), "ordered\n(c* = 1)", col = "white", font = 2)
    }
    if (any(sw > crit)) {
      graphics::text(mean(range(sw[sw > crit])), mean(range(sb)),
                     "variance unbounded:\nno fixed point,\nno chaotic phase", font = 2)
    }
    graphics::mtext(sprintf("critical point only at sigma_w2 = %s, sigma_b2 = 0", format(crit)),
                    side = 3, line = 0.2, cex = 0.8)
  }
  # colour key
  usr <- graphics::par("usr")
  yk <- seq(usr[3], usr[4], length.out = 65)
  xk <- usr[2] + c(0.03, 0.07) * (usr[2] - usr[1])
  graphics::rect(xk[1], yk[-65], xk[2], yk[-1], col = cols, border = NA, xpd = TRUE)
  tk <- pretty(zr)
  tk <- tk[tk >= zr[1] & tk <= zr[2]]
  graphics::text(xk[2], usr[3] + (tk - zr[1]) / (cap - zr[1]) * (usr[4] - usr[3]),
                 labels = format(10^tk, digits = 3), pos = 4, cex = 0.7, xpd = TRUE)
  graphics::text(mean(xk), usr[4], expression(xi[c]), pos = 3, xpd = TRUE, cex = 0.8)
  invisible(x)
}

#' Correlation of two inputs through a random network
#'
#' The c-map of Poole et al. (2016) through a network from [mlp()] at
#' initialization, layer by layer: two inputs with equal norms,
#' \eqn{|x|^2 = |x'|^2 = n_0} `var_x`, and correlation \eqn{c_0 = x \cdot x'
#' / |x|^2}. Row \eqn{i} is the layer holding \eqn{W^{i-1}} (as in
#' [predict_variance()]): with \eqn{\sigma_{w,i}^2 = n_{i-1} Var(W^{i-1})},
#' bias variance \eqn{\sigma_{b,i}^2} and mean \eqn{\mu_i},
#' \deqn{q_i = \sigma_{w,i}^2 E[(z^{i-1})^2] + \sigma_{b,i}^2, \quad
#' c_i q_i = \sigma_{w,i}^2 E[z^{i-1} z'^{i-1}] + \sigma_{b,i}^2,}
#' with \eqn{z^0 = x}, and \eqn{z^i = f(\mu_i + u)}, \eqn{z'^i = f(\mu_i +
#' u')} for \eqn{(u, u')} centred normal with variances \eqn{q_i} and
#' correlation \eqn{c_i}. `q` equals `var_s` of
#' `predict_variance(regime = "mean_field")`; `c` is the correlation of the
#' two inputs' pre-activations \eqn{s^{i-1}, s'^{i-1}} of one neuron over
#' the random weights (and, at large width, across the neurons of one
#' network). Exact as the width grows; at finite width the error is of
#' order \eqn{1/n} (the layer-1 values are exact at any width). The 2-D
#' expectations use the quadrature of [fixed_point()].
#'
#' @param net A network from [mlp()] with zero-mean weights.
#' @param c0 Correlation of the two inputs, in \eqn{[-1, 1]}.
#' @param var_x Mean square of each input feature, \eqn{> 0}.
#' @return A data frame: `layer`, `q`, `c`.
#' @examples
#' net <- mlp(rep(1000, 11), "tanh", init_normal(0, sqrt(2.5 / 1000)),
#'            bias = init_normal(0, sqrt(0.05)))
#' predict_correlation(net, 0.9)          # chaotic: c falls to c*
#' fixed_point("tanh", 2.5, 0.05)$c_star
#' @export
predict_correlation <- function(net, c0, var_x = 1) {
  check_mlp(net)
  check_dense_net(net)
  check_number(c0, "c0", min = -1, max = 1)
  check_number(var_x, "var_x", min = 0, min_open = TRUE)
  w <- net$widths
  d <- length(w) - 1
  v <- vapply(seq_len(d), function(i) weight_variance(net$init[[i]], w[i], w[i + 1]), 0)
  wm <- vapply(seq_len(d), function(i) weight_mean(net$init[[i]], w[i], w[i + 1]), 0)
  if (any(abs(wm) > 1e-12 * sqrt(v))) {
    signal_stop(paste0("`net` has weights with a non-zero mean (layer ",
                       which(abs(wm) > 1e-12 * sqrt(v))[1],
                       "): the c-map assumes zero-mean weights."))
  }
  bm <- vapply(net$bias, function(s) weight_mean(s), 0)
  bv <- vapply(net$bias, function(s) weight_variance(s), 0)
  q <- cc <- numeric(d)
  m2 <- var_x
  m11 <- c0 * var_x
  for (i in seq_len(d)) {
    sw <- w[i] * v[i]
    q[i] <- sw * m2 + bv[i]
    cov <- sw * m11 + bv[i]
    cc[i] <- if (q[i] > 0) max(min(cov / q[i], 1), -1) else NA_real_
    if (i == d) break
    a <- net$activation[[i]]
    m2 <- sig_expect(function(x) a$f(x)^2, sqrt(q[i]), bm[i], kinks = a$kinks)
    m11 <- if (is.na(cc[i])) a$f(bm[i])^2 else
      bivariate_expectation(list(a$f), list(a$f), q[i], cc[i], mu = bm[i], kinks = a$kinks)
  }
  data.frame(layer = seq_len(d), q = q, c = cc)
}

#' Kurtosis of the pre-activations of a finite network
#'
#' The kurtosis \eqn{E[s^4] / E[s^2]^2} of one pre-activation of each layer,
#' over the random weights and inputs, exact at any width for Gaussian
#' zero-mean weights, zero biases and positively homogeneous activations
#' (linear, ReLU, leaky ReLU). At infinite width it is 3 (Gaussian); at
#' finite width the pre-activations are a Gaussian scale mixture and their
#' kurtosis grows layer by layer.
#'
#' @section Derivation: Write \eqn{Q_l = |z^l|^2} and let layer \eqn{l+1}
#'   have weights \eqn{W_{ij} \sim N(0, v)}. Given \eqn{z^l}, the
#'   pre-activations \eqn{s_j = z^l \cdot W_{\cdot j}} are iid
#'   \eqn{N(0, v Q_l)}, so \eqn{E[s^4] = 3 v^2 E[Q_l^2]}, \eqn{E[s^2] = v
#'   E[Q_l]} and \deqn{kurt(s) = 3 E[Q_l^2] / E[Q_l]^2.} For \eqn{f(x) =
#'   x} (\eqn{x > 0}), \eqn{a x} (\eqn{x < 0}), \eqn{f(\sigma Z) = \sigma
#'   f(Z)} for \eqn{\sigma \ge 0}, hence \eqn{Q_{l+1} = v Q_l \sum_{j=1}^{n}
#'   f(Z_j)^2} with \eqn{Z_j} iid standard normal independent of \eqn{Q_l}
#'   (\eqn{n = n_{l+1}} the width of the layer). With \eqn{m_k = E[f(Z)^k]},
#'   \eqn{E[(\sum f(Z_j)^2)^2] = n m_4 + n(n-1) m_2^2 = n^2 m_2^2 (1 + k/n)},
#'   \eqn{k = m_4 / m_2^2 - 1}, so each layer multiplies \eqn{E[Q^2] /
#'   E[Q]^2} by \eqn{(1 + k / n_l)}:
#'   \deqn{kurt(s^{l}) = 3 \, r_0 \prod_{j=1}^{l} (1 + k_j / n_j).}
#'   Here \eqn{m_2 = (1 + a^2)/2}, \eqn{m_4 = 3 (1 + a^4) / 2}, and
#'   \eqn{k = 6 (1 + a^4) / (1 + a^2)^2 - 1}: 2 for linear (\eqn{a = 1}), 5
#'   for ReLU (\eqn{a = 0}), \eqn{6(1 + 10^{-8})/(1 + 10^{-4})^2 - 1 \approx
#'   4.9988} for leaky ReLU with slope 0.01. The weight scale drops out.
#'
#' @section Input convention: `input = "gaussian"`: the input is random,
#'   \eqn{x \sim N(0, \sigma_x^2 I_{n_0})}, and counts as one more layer:
#'   \eqn{r_0 = 1 + 2/n_0} (\eqn{Q_0 = \sigma_x^2 \chi^2_{n_0}}). `input =
#'   "fixed"`: one fixed input, \eqn{r_0 = 1}, the first layer is exactly
#'   Gaussian (kurtosis 3).
#'
#' Only the activations of the layers feeding another layer matter (the last
#' layer's activation does not act on pre-activations). With `method =
#' "exact"`, other activations, non-Gaussian weights (uniform, truncated
#' normal, orthogonal, sparse, ...) and non-zero biases are an error: the
#' formula would not be exact.
#'
#' @section `method = "expansion"`: the leading \eqn{1/n} term for any
#'   activation (tanh, sigmoid, GELU, ...), iid weights symmetric about 0
#'   (normal, uniform, symmetric truncated normal) and normal or constant
#'   biases: the kurtosis about the mean, \eqn{E[(s - \mu_b)^4] /
#'   Var(s)^2 = 3 + \kappa / K^2 + O(1/n^2)}, with \eqn{K} the mean-field
#'   variance and \eqn{\kappa} the fourth cumulant of the recursion (FW4,
#'   FW5) in [predict_variance()] (section `regime = "finite_width"`;
#'   Roberts, Yaida and Hanin 2022, chapter 4, whose four-point vertex is
#'   \eqn{V = n \kappa / 3} for Gaussian weights). The weights' own
#'   kurtosis enters through \eqn{\kappa = 3c + e v^2 n \langle f^4
#'   \rangle} (\eqn{e = -6/5} for uniform weights): with a Gaussian input
#'   the first layer of uniform weights has kurtosis \eqn{3 + 2.4/n_0}
#'   exactly. It is a leading-order expansion in \eqn{1/n}: for the exact
#'   cases it is the first-order term of the product above, \eqn{3 (1 +
#'   2/n_0 + \sum_j k_j / n_j)}, and differs from the product at
#'   \eqn{O(1/n^2)}, which is visible in narrow stacks.
#'
#' @param net A network from [mlp()].
#' @param input `"gaussian"`, `"fixed"` or `"uniform"` (a random input with
#'   iid uniform features: \eqn{r_0 = 1 + 0.8/n_0}).
#' @param method `"exact"` (the formula above, or an error) or
#'   `"expansion"` (the leading \eqn{1/n} term, for any activation).
#' @return A data frame: `layer`, `n_in`, `n_out`, `kurtosis`, `excess`
#'   (kurtosis - 3).
#' @examples
#' predict_kurtosis(mlp(rep(8, 6), "relu", init_he()))
#' predict_kurtosis(mlp(rep(8, 6), "relu", init_he()), input = "fixed")
#' predict_kurtosis(mlp(c(100, 50, 50, 10), "linear", init_lecun()))
#' # tanh, uniform weights: the leading 1/n term
#' predict_kurtosis(mlp(rep(64, 6), "tanh", init_glorot("uniform")), method = "expansion")
#' @export
predict_kurtosis <- function(net, input = c("gaussian", "fixed", "uniform"),
                             method = c("exact", "expansion")) {
  check_mlp(net)
  check_dense_net(net)
  input <- check_choice(input, c("gaussian", "fixed", "uniform"), "input")
  method <- check_choice(method, c("exact", "expansion"), "method")
  w <- net$widths
  d <- length(w) - 1
  if (method == "expansion") {
    kurt <- finite_width_kurtosis(net, input)
    return(data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
                      kurtosis = kurt, excess = kurt - 3))
  }
  for (i in seq_len(d)) {
    r <- resolve_scheme(net$init[[i]], w[i], w[i + 1])
    if (r$family != "normal" || r$mean != 0) {
      signal_stop(sprintf(paste0(
        "`net` must have Gaussian zero-mean weights for an exact kurtosis: layer %d draws from %s. ",
        "The scale-mixture formula holds only for Gaussian weights; ",
        "`method = \"expansion\"` gives the leading 1/n term."),
        i, scheme_distribution_text(r)))
    }
    if (weight_variance(net$bias[[i]]) != 0 || weight_mean(net$bias[[i]]) != 0) {
      signal_stop(sprintf(paste0(
        "`net` must have zero biases for an exact kurtosis: layer %d has bias %s; ",
        "`method = \"expansion\"` gives the leading 1/n term."),
        i, scheme_distribution_text(net$bias[[i]])))
    }
  }
  k <- numeric(max(d - 1, 0))
  for (i in seq_len(d - 1)) {
    a <- net$activation[[i]]
    slope <- homogeneous_slope(a)
    if (is.null(slope)) {
      signal_stop(sprintf(paste0(
        "`net` must use positively homogeneous activations (linear, relu, leaky_relu) ",
        "for an exact kurtosis: layer %d uses %s, whose pre-activation kurtosis has no ",
        "closed form at finite width; `method = \"expansion\"` gives the leading 1/n term."),
        i, format(a)))
    }
    k[i] <- 6 * (1 + slope^4) / (1 + slope^2)^2 - 1
  }
  r0 <- switch(input, gaussian = 1 + 2 / w[1], uniform = 1 + 0.8 / w[1], fixed = 1)
  kurt <- 3 * r0 * cumprod(c(1, 1 + k / w[1 + seq_len(d - 1)]))
  data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
             kurtosis = kurt, excess = kurt - 3)
}

# normal_expectation() for the signal maps: an integrand that overflows
# (exp's square at s = 377) is an error naming the activation and what to
# do, from the user's function, not the quadrature's bare message.
sig_expect <- function(...) {
  tryCatch(normal_expectation(...), error = function(e) {
    msg <- conditionMessage(e)
    if (!grepl("integrand is not finite", msg, fixed = TRUE)) stop(e)
    abort(paste0(
      "`activation` grows too fast for the q- and c-maps' quadrature (", sub("\\.$", "", msg), "): ",
      "its square, or its derivative's, overflows double precision there, where the Gaussian ",
      "weight is tiny but the product is Inf * 0. Activations that grow like exp() are outside ",
      "what these maps compute; a bounded or polynomially growing one is not."))
  })
}
