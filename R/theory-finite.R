# The leading 1/n correction to the mean-field per-layer moments: the
# finite-width recursion of Roberts, Yaida and Hanin (2022), "The Principles
# of Deep Learning Theory", chapter 4 (single input), extended to
# non-Gaussian weights (their fourth cumulant) and to random inputs.
# predict_variance(regime = "finite_width") calls finite_width_forward().
#
# Notation (see the "regime = finite_width" section of ?predict_variance):
# layer i (1-based) holds W^(i-1), n_(i-1) x n_i, with Var(W) = v_i and
# fourth cumulant kappa_W = e_i v_i^2 (e_i the weights' excess kurtosis:
# 0 normal, -6/5 uniform); its pre-activation s = mu_i + u with u
# symmetric about 0,
#   Var(u) = K_i + dG_i             (K_i the mean-field q_i, dG_i = O(1/n)),
#   kappa_4(u) = kap_i              (O(1/n)),
#   Cov(u_a^2, u_b^2) = cc_i        (two distinct units of the layer, O(1/n)),
# and every other cumulant O(1/n^2). Then, to O(1/n^2) (Edgeworth):
#   E[g(s)] = <g>_K + dG d<g>_K/dK + (kap / 6) d^2<g>_K/dK^2
#   Cov(g(s_a), g(s_b)) = cc (d<g>_K/dK)^2,
# with <g>_K = E[g(mu + sqrt(K) Z)], and the Gaussian identities
#   d<g>/dK = E[g He_2(Z)] / (2 K),  d^2<g>/dK^2 = E[g He_4(Z)] / (4 K^2)
# (He_2 = Z^2 - 1, He_4 = Z^4 - 6 Z^2 + 3), so no derivative of f is needed.
# From layer i to i + 1, with A = E[z^2] of the layer's output z = f(s),
# n = n_i the number of units summed:
#   K_(i+1)   = n v A_0 + sigma_b^2                        (mean field)
#   dG_(i+1)  = n v dA,    dA = dG d<f^2>/dK + (kap / 6) d^2<f^2>/dK^2
#   cc_(i+1)  = v^2 [n Var_0(f^2) + n (n - 1) cc (d<f^2>/dK)^2]
#   kap_(i+1) = 3 cc_(i+1) + e v^2 n <f^4>_K
# The input x counts as layer 0 with f the identity: Gaussian inputs have
# Var(x^2) = 2 var_x^2, <x^4> = 3 var_x^2; uniform 0.8 and 1.8 var_x^2; a
# fixed input (equal-magnitude entries) 0 and var_x^2.

# Excess kurtosis E[W^4] / Var(W)^2 - 3 of the iid entries of a layer's
# weights, or an error naming the layer when the entries are not iid and
# symmetric about 0 (orthogonal, sparse, identity: their entries are
# dependent, so the recursion above does not hold).
weight_excess_kurtosis <- function(scheme, fan_in, fan_out, layer,
                                   context = "`regime = \"finite_width\"`") {
  r <- resolve_scheme(scheme, fan_in, fan_out)
  bad <- function() {
    abort(sprintf(paste0(
      "%s needs iid weights symmetric about 0 (normal, uniform, ",
      "symmetric truncated normal): layer %d draws from %s."),
      context, layer, scheme_distribution_text(r)))
  }
  switch(r$family,
    normal = if (r$mean == 0) 0 else bad(),
    uniform = if (r$a == -r$b) -6 / 5 else bad(),
    constant = if (r$value == 0) 0 else bad(),
    truncated_normal = {
      if (r$mean != 0 || r$lower != -r$upper) bad()
      b <- r$upper
      if (!is.finite(b)) return(0)
      z <- 2 * stats::pnorm(b) - 1
      m2 <- 1 - 2 * b * stats::dnorm(b) / z
      m4 <- 3 * m2 - 2 * b^3 * stats::dnorm(b) / z
      m4 / m2^2 - 3
    },
    bad())
}

# <g>_K and its first two derivatives in K (s = mu + sqrt(K) Z), for
# g = f^2, f^4 and f of activation `a`. For positively homogeneous
# activations with mu = 0, <f^2>_K = m_2 K exactly: the derivatives are
# given in closed form (so the correction is exactly 0 for ReLU and linear).
fw_moments <- function(a, K, mu) {
  if (K == 0) {
    # no spread at all: the layer is deterministic, nothing to correct
    v <- a$f(mu)
    return(list(f2 = c(v^2, 0, 0), f4 = v^4, f1 = c(v, 0, 0)))
  }
  slope <- homogeneous_slope(a)
  if (!is.null(slope) && mu == 0) {
    m2 <- (1 + slope^2) / 2
    m4 <- 3 * (1 + slope^4) / 2
    m1 <- (1 - slope) / sqrt(2 * pi)
    return(list(f2 = c(m2 * K, m2, 0), f4 = m4 * K^2,
                f1 = c(m1 * sqrt(K), m1 / (2 * sqrt(K)), -m1 / (4 * K^(3 / 2)))))
  }
  sd <- sqrt(K)
  ex <- function(g) normal_expectation(g, sd, mu, kinks = a$kinks)
  h2 <- function(x) { z <- (x - mu) / sd; z^2 - 1 }
  h4 <- function(x) { z <- (x - mu) / sd; z^4 - 6 * z^2 + 3 }
  f <- a$f
  deriv <- function(g) c(ex(g), ex(function(x) g(x) * h2(x)) / (2 * K),
                         ex(function(x) g(x) * h4(x)) / (4 * K^2))
  list(f2 = deriv(function(x) f(x)^2), f4 = ex(function(x) f(x)^4),
       f1 = deriv(f))
}

# The state a layer hands the next in the finite-width recursion: of its
# output z (per unit), the mean-field E[z^2] (A0) and its 1/n correction
# (dA), Var(z^2) and E[z^4] (leading order), and Cov(z_a^2, z_b^2) of two
# distinct units (O(1/n)).
fw_input_state <- function(var_x, input) {
  list(A0 = var_x, dA = 0,
       var_f2 = switch(input, gaussian = 2, uniform = 0.8, fixed = 0) * var_x^2,
       f4 = switch(input, gaussian = 3, uniform = 1.8, fixed = 1) * var_x^2,
       cc_f2 = 0)    # iid features
}

# One dense layer of the recursion: from the state `st` of its input (n
# units) to its pre-activations' K, dG, kap, cc and its output's state, with
# d<f^2>/dK (f2p), the mean-field E[z] (m0) and its correction (dm).
fw_dense_step <- function(st, n, v, bv, bm, e, a) {
  K <- n * v * st$A0 + bv
  dG <- n * v * st$dA
  cc <- v^2 * (n * st$var_f2 + n * (n - 1) * st$cc_f2)
  kap <- 3 * cc + e * v^2 * n * st$f4
  mo <- fw_moments(a, K, bm)
  A0 <- mo$f2[1]
  list(K = K, dG = dG, kap = kap, cc = cc, f2p = mo$f2[2], m0 = mo$f1[1],
       dm = dG * mo$f1[2] + kap / 6 * mo$f1[3],
       out = list(A0 = A0, dA = dG * mo$f2[2] + kap / 6 * mo$f2[3],
                  var_f2 = max(mo$f4 - A0^2, 0), f4 = mo$f4, cc_f2 = cc * mo$f2[2]^2))
}

# The state of LN(x) (no gain, no epsilon), from that of x (mean 0): its
# rows have mean square exactly 1, so E[y^2] = 1 with no correction and the
# squares of distinct units are negatively correlated, Cov(y_a^2, y_b^2) =
# -Var(y^2) / (n - 1); to leading order y = x / sqrt(E[x^2]).
fw_ln_state <- function(A0, f4, n) {
  var_f2 <- max(f4 / A0^2 - 1, 0)
  list(A0 = 1, dA = 0, var_f2 = var_f2, f4 = f4 / A0^2, cc_f2 = -var_f2 / (n - 1))
}

# One residual block, h = skip x + alpha t, t = F(x or LN(x)) the branch's
# last (linear) layer, from the state `st` of its input x (mean 0). Exactly,
# Var(h) = skip^2 Var(x) + alpha^2 Var(t) (E[x t] = 0), and to O(1/n)
#   Cov(h_a^2, h_b^2) = skip^4 cc_x + alpha^4 cc_t + 2 skip^2 alpha^2 D,
#   D = Cov(t_a^2, x_b^2), the same for a = b and a != b: given the branch's
# last input u, E[t_a^2 | u] = v_m |u|^2 + sigma_b^2. D follows the branch:
#   Cov(|x|^2, x_b^2) = Var(x^2) + (n - 1) cc_x       (0 after LN: |LN(x)|^2 = n),
#   Cov(|f(t_k)|^2, x_b^2) = n_k v_k d<f^2>/dK Cov(|u_(k-1)|^2, x_b^2),
#   D = v_m Cov(|u_(m-1)|^2, x_b^2);
# and E[h^4] = skip^4 E[x^4] + 6 skip^2 alpha^2 E[x^2] E[t^2] + 3 alpha^4
# E[t^2]^2 to leading order. Returns the corrections dG (to Var(h)) and dA
# (to E[z^2] of the block's output) and the output's state.
fw_residual_step <- function(st, l) {
  n <- l$n_in
  m <- length(l$branch)
  bs <- if (l$norm == "pre") fw_ln_state(st$A0, st$f4, n) else st
  D <- if (l$norm == "pre") 0 else st$var_f2 + (n - 1) * st$cc_f2
  for (k in seq_len(m)) {
    b <- l$branch[[k]]
    v <- weight_variance(b$init, b$n_in, b$n_out)
    e <- weight_excess_kurtosis(b$init, b$n_in, b$n_out, k,
                                "`regime = \"finite_width\"` (branch layer)")
    step <- fw_dense_step(bs, b$n_in, v, weight_variance(b$bias), weight_mean(b$bias), e,
                          b$activation)
    D <- if (k < m) b$n_out * v * step$f2p * D else v * D
    bs <- step$out
  }
  # step: the branch's last layer, linear; its K, dG, cc are t's
  s2 <- l$skip^2
  a2 <- l$alpha^2
  Kh <- s2 * st$A0 + a2 * step$K
  dGh <- s2 * st$dA + a2 * step$dG
  f4h <- s2^2 * st$f4 + 6 * s2 * a2 * st$A0 * step$K + 3 * a2^2 * step$K^2
  cch <- s2^2 * st$cc_f2 + a2^2 * step$cc + 2 * s2 * a2 * D
  if (l$norm == "post") {
    out <- fw_ln_state(Kh, f4h, n)
    dA <- 0
  } else {
    out <- list(A0 = Kh, dA = dGh, var_f2 = max(f4h - Kh^2, 0), f4 = f4h, cc_f2 = cch)
    dA <- dGh
  }
  list(dG = dGh, dA = dA, dm = 0, out = out)
}

# A handler for the errors of layer i's quadratures (m2: the mean square of
# its input): moments that leave double precision give an error naming the
# layer and the cause, not the quadrature's "integrand is not finite".
finite_width_overflow <- function(i, m2) {
  function(e) {
    if (!grepl("integrand is not finite", conditionMessage(e), fixed = TRUE)) stop(e)
    abort(sprintf(paste0(
      "`regime = \"finite_width\"`: the variance of `net` overflowed double precision at ",
      "layer %d (the mean square of its input is %s): the moments the 1/n correction needs ",
      "(up to the fourth power of the activations) are not finite. The variance grows ",
      "without bound over the depth: scale the weights down (for a residual network, a ",
      "depth-scaled rule from `scaling_rule()`), or lower `var_x`."),
      i, format(m2, digits = 3)))
  }
}

# The finite-width forward recursion. `v`, `bv`, `bm`: weight variances,
# bias variances and means per layer; `e`: weights' excess kurtosis (of
# dense layers; a residual block reads its branch's own). Returns per layer
# the mean-field K (= q), the corrections dG (to Var(s)), dA (to E[z^2]), dm
# (to E[z]), the mean-field E[z] and E[z^2], and kap, cc (dense layers; NA
# for residual blocks), and the output's Var(z^2) and Cov(z_a^2, z_b^2)
# (var_f2, cc_f2; `input`: the input's state).
finite_width_forward <- function(net, v, bv, bm, e, var_x, input) {
  w <- net$widths
  d <- length(w) - 1
  layers <- net_layers(net)
  out <- list(K = numeric(d), dG = numeric(d), kap = numeric(d), cc = numeric(d),
              A0 = numeric(d), dA = numeric(d), m0 = numeric(d), dm = numeric(d),
              var_f2 = numeric(d), cc_f2 = numeric(d))
  st <- fw_input_state(var_x, input)
  out$input <- st
  overflow <- function(i) finite_width_overflow(i, st$A0)
  for (i in seq_len(d)) {
    if (layers[[i]]$kind == "residual") {
      r <- tryCatch(fw_residual_step(st, layers[[i]]), error = overflow(i))
      st <- r$out
      out$K[i] <- out$kap[i] <- out$cc[i] <- NA_real_
      out$dG[i] <- r$dG; out$A0[i] <- st$A0; out$dA[i] <- r$dA
      out$m0[i] <- 0; out$dm[i] <- 0
      out$var_f2[i] <- st$var_f2; out$cc_f2[i] <- st$cc_f2
      next
    }
    step <- tryCatch(fw_dense_step(st, w[i], v[i], bv[i], bm[i], e[i], net$activation[[i]]),
                     error = overflow(i))
    st <- step$out
    out$K[i] <- step$K; out$dG[i] <- step$dG; out$kap[i] <- step$kap; out$cc[i] <- step$cc
    out$A0[i] <- st$A0; out$dA[i] <- st$dA; out$m0[i] <- step$m0; out$dm[i] <- step$dm
    out$var_f2[i] <- st$var_f2; out$cc_f2[i] <- st$cc_f2
  }
  out
}

# The leading 1/n kurtosis of each layer's pre-activations about their mean,
# E[(s - mu)^4] / Var(s)^2 = 3 + kap / K^2 + O(1/n^2), from the recursion
# above (predict_kurtosis(method = "expansion")).
finite_width_kurtosis <- function(net, input) {
  w <- net$widths
  d <- length(w) - 1
  v <- vapply(seq_len(d), function(i) weight_variance(net$init[[i]], w[i], w[i + 1]), 0)
  e <- vapply(seq_len(d), function(i) {
    weight_excess_kurtosis(net$init[[i]], w[i], w[i + 1], i, "`method = \"expansion\"`")
  }, 0)
  bm <- vapply(net$bias, function(s) weight_mean(s), 0)
  bv <- vapply(net$bias, function(s) weight_variance(s), 0)
  for (i in seq_len(d)) {
    b <- resolve_scheme(net$bias[[i]], 1, 1)
    if (!(b$family %in% c("normal", "constant"))) {
      abort(sprintf(paste0(
        "`method = \"expansion\"` needs normal or constant biases: layer %d draws its ",
        "biases from %s."), i, scheme_distribution_text(b)))
    }
  }
  fw <- finite_width_forward(net, v, bv, bm, e, 1, input)
  ifelse(fw$K > 0, 3 + fw$kap / fw$K^2, NA_real_)
}

# The 1/n correction to Var(dC/ds) of every layer, for Gaussian weights and
# an output gradient drawn independently of the network (grad = "normal"):
# dC/ds_i = J^T g with J = ds_d / ds_i, so Var(dC/ds_i) = Var(g) E|J e_a|^2,
# a forward quantity: the tangent t = J e_a, propagated with s. Given the
# layer below, a unit's (s, t) is Gaussian with covariance (G, C; C, H), so
#   E[f'(s)^2 t^2] = H <f'^2>_G + 2 C^2 d<f'^2>/dG,
# and over the layers below, with T = E[H], X = Cov(H, G), Y = E[C^2]:
#   E[f'^2 t^2] = T (h + dG h' + (c / 2) h'') + h' X + 2 h' Y,
#   T' = n v E[f'^2 t^2],
#   X' = v^2 [n T (<f'^2 f^2> - <f'^2><f^2>) + n (n - 1) (h A' X + T h' A' c)],
#   Y' = v^2 [n T <f^2 f'^2> + n (n - 1) Y A'^2],
# (h = <f'^2>, A = <f^2>, primes d/dK) starting from the one-hot tangent at
# layer i: T = v E[f'(s_i)^2], X = v^2 (<f'^2 f^2> - <f'^2><f^2> + n c h' A'),
# Y = v^2 <f^2 f'^2>. Returns the ratio of Var(dC/ds_i) to its mean-field
# value per layer.
finite_width_grad_ratio <- function(net, v, bm, fw) {
  w <- net$widths
  d <- length(w) - 1
  if (d < 2) return(rep(1, d))
  mo <- lapply(seq_len(d), function(m) {
    a <- net$activation[[m]]
    K <- fw$K[m]
    mu <- bm[m]
    if (K == 0) return(NULL)
    sd <- sqrt(K)
    ex <- function(g) normal_expectation(g, sd, mu, kinks = a$kinks)
    h2 <- function(x) { z <- (x - mu) / sd; z^2 - 1 }
    h4 <- function(x) { z <- (x - mu) / sd; z^4 - 6 * z^2 + 3 }
    d2 <- function(x) a$df(x)^2
    list(h = ex(d2), h1 = ex(function(x) d2(x) * h2(x)) / (2 * K),
         h2 = ex(function(x) d2(x) * h4(x)) / (4 * K^2),
         A1 = ex(function(x) a$f(x)^2 * h2(x)) / (2 * K),
         A0 = ex(function(x) a$f(x)^2), ff = ex(function(x) a$f(x)^2 * d2(x)))
  })
  if (any(vapply(mo, is.null, TRUE))) return(rep(1, d))
  ratio <- rep(1, d)
  for (i in seq_len(d - 1)) {
    o <- mo[[i]]
    n <- w[i + 1]
    vv <- v[i + 1]
    Tm <- vv * (o$h + fw$dG[i] * o$h1 + fw$kap[i] / 6 * o$h2)
    Xm <- vv^2 * (o$ff - o$h * o$A0 + n * fw$cc[i] * o$h1 * o$A1)
    Ym <- vv^2 * o$ff
    Tmf <- vv * o$h
    if (i + 1 <= d - 1) {
      for (m in (i + 1):(d - 1)) {
        o <- mo[[m]]
        n <- w[m + 1]
        vv <- v[m + 1]
        e2 <- Tm * (o$h + fw$dG[m] * o$h1 + fw$cc[m] / 2 * o$h2) + o$h1 * Xm + 2 * o$h1 * Ym
        Xn <- vv^2 * (n * Tm * (o$ff - o$h * o$A0) + n * (n - 1) * (o$h * o$A1 * Xm + Tm * o$h1 * o$A1 * fw$cc[m]))
        Yn <- vv^2 * (n * Tm * o$ff + n * (n - 1) * Ym * o$A1^2)
        Tm <- n * vv * e2
        Xm <- Xn
        Ym <- Yn
        Tmf <- n * vv * o$h * Tmf
      }
    }
    ratio[i] <- Tm / Tmf
  }
  ratio
}

# The 1/n correction to Var(dC/dW) of every dense layer (Gaussian weights,
# an output gradient g independent of the network). Layer i's weight
# gradient is dC/dW_ab = z_a (dC/ds_i)_b, z = z^(i-1) its input, so
#   Var(dC/dW_ab) = E[z_a^2 (dC/ds_i)_b^2] = Var(g) E[z_a^2 |t_d|^2],
# t = J e_b the tangent of the gradient ratio above. Mean field factors
# this as E[z^2] E|t_d|^2; at finite width z_a^2 and |t_d|^2 are correlated
# through the shared squared norms: with Z = z_a^2, P_m = Cov(Z, G_m) (G_m
# = v_m |z^(m-1)|^2 + sigma_b^2, the conditional variance of layer m's
# pre-activations) and Q_m = Cov(Z, H_m) (H_m the tangent's),
#   P_i     = v_i [Var(z^2) + (n_(i-1) - 1) Cov(z_a^2, z_c^2)]     (z = z^(i-1)),
#   P_(m+1) = n_m v_(m+1) A'_m P_m,
#   Q_(i+1) = v_(i+1) h'_i P_i,   Q_(m+1) = n_m v_(m+1) (h_m Q_m + T_m h'_m P_m),
# (h = <f'^2>_K, A = <f^2>_K, primes d/dK; given z, s_b ~ N(mu, G), so Z
# reaches f'(s_b)^2 and f(s_c)^2 only through G), all O(1/n) relative to
# E[Z] T. So Q_d / T_d = sum_(m = i..d-1) (h'_m / h_m) P_m, and
#   Var(dC/dW^(i-1)) = Var(dC/ds_i) [E[z^2] + dA + sum_m (h'_m / h_m) P_m]
# to O(1/n^2), with Var(dC/ds_i) and E[z^2] + dA already corrected. 0 at
# the top layer (dC/ds_d = g is independent of z) and for ReLU and linear
# networks (h' = 0). Returns the bracket per layer; `m2` the mean-field
# E[z^2] of each layer's input.
finite_width_grad_w_factor <- function(net, bm, fw, m2) {
  w <- net$widths
  d <- length(w) - 1
  dA_in <- c(0, fw$dA[-d])
  fac <- m2 + dA_in
  if (d < 2) return(fac)
  hr <- Ap <- numeric(d)
  for (m in seq_len(d)) {
    a <- net$activation[[m]]
    K <- fw$K[m]
    mu <- bm[m]
    slope <- homogeneous_slope(a)
    if (K == 0 || (!is.null(slope) && mu == 0)) {
      # <f'^2> does not depend on K: exactly 0
      hr[m] <- 0
      Ap[m] <- if (K == 0) 0 else (1 + slope^2) / 2
      next
    }
    sd <- sqrt(K)
    ex <- function(g) normal_expectation(g, sd, mu, kinks = a$kinks)
    h2 <- function(x) { z <- (x - mu) / sd; z^2 - 1 }
    h <- ex(function(x) a$df(x)^2)
    h1 <- ex(function(x) a$df(x)^2 * h2(x)) / (2 * K)
    hr[m] <- if (h > 0) h1 / h else 0
    Ap[m] <- ex(function(x) a$f(x)^2 * h2(x)) / (2 * K)
  }
  vf2 <- c(fw$input$var_f2, fw$var_f2[-d])
  cf2 <- c(fw$input$cc_f2, fw$cc_f2[-d])
  v <- vapply(seq_len(d), function(i) weight_variance(net$init[[i]], w[i], w[i + 1]), 0)
  for (i in seq_len(d - 1)) {
    P <- v[i] * (vf2[i] + (w[i] - 1) * cf2[i])
    R <- 0
    for (m in i:(d - 1)) {
      R <- R + hr[m] * P
      P <- w[m + 1] * v[m + 1] * Ap[m] * P
    }
    fac[i] <- fac[i] + R
  }
  fac
}
