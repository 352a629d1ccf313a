# Reference values for tests/testthat/test-accuracy.R, computed once and
# committed (tests/testthat/accuracy-reference.csv), so that the tests need
# neither Rmpfr nor the time these take. Run from the package's top
# directory:   Rscript tools/accuracy-reference.R
#
# E[g(mu + sigma Z)], Z ~ N(0, 1), sigma = sqrt(q) (the double the test
# passes), for the grid
#   activation x q in {1e-6, ..., 1e4} x mu in {-3, ..., 3} x g in
#   {f, (f - E f)^2, f^2, f'^2},
# computed WITHOUT the package (nothing of initvar is loaded):
#
# * linear, relu, leaky_relu, elu, selu: closed forms through the truncated
#   normal moments E[s^k 1{s > 0}], E[exp(t s) 1{s < 0}], evaluated in
#   256-bit arithmetic with Rmpfr (no cancellation, no underflow: the
#   column log10_ref holds log10 of the exact value even where it underflows
#   double precision).
# * tanh, sigmoid, softsign, scaled_tanh: stats::integrate in z on finite
#   pieces of [-40, 40] split at the centre / kink z0 = -mu / sigma, at
#   z0 +- k / sigma (k = 1/2, 2, 8, 32, 128: features of width 1/sigma) and at
#   z = 0, +-1/2, +-3, +-6, +-12, +-24, with rel.tol = 1e-13, abs.tol = 0.
#   (f - E f)^2 is integrated as (D - E D)^2 with D = f(s) - f(mu) computed
#   without cancellation (tanh(a) - tanh(b) = sinh(a - b) / (cosh a cosh b),
#   and alike), so the reference does not suffer the rounding of f(s) - E f.
#   Cross-checks, recorded in the column `check` (the second value):
#     - a second, independent integrate() in s-space (for f, of the odd part
#       folded onto s > 0: int_0^Inf f(s) p(s) (1 - exp(-2 s mu / sigma^2)),
#       a one-signed integrand even where E f cancels);
#     - for tanh, sigmoid, scaled_tanh at sigma in {0.1, 1, 10}: the
#       trapezoidal rule in z with 128-bit Rmpfr arithmetic (the integrand
#       is analytic in a strip of half-width pi / (2 sigma), so the rule
#       converges geometrically; the step is chosen for an error below
#       1e-35), printed at the end.
suppressPackageStartupMessages(library(Rmpfr))

qs <- c(1e-6, 1e-4, 1e-2, 1, 1e2, 1e4)
mus <- c(-3, -1, -0.5, 0, 0.5, 1, 3)
functionals <- c("f", "var", "f2", "df2")
selu_alpha <- 1.6732632423543772848170429916717   # as in R/activations.R (doubles)
selu_lambda <- 1.0507009873554804934193349852946
acts <- list(
  list(name = "linear", param = NA), list(name = "relu", param = NA),
  list(name = "leaky_relu", param = 0.01), list(name = "leaky_relu", param = 0.2),
  list(name = "elu", param = 1), list(name = "selu", param = NA),
  list(name = "tanh", param = NA), list(name = "sigmoid", param = NA),
  list(name = "softsign", param = NA), list(name = "scaled_tanh", param = NA))

prec <- 256
mp <- function(x) mpfr(x, prec)

# ---- closed forms (piecewise linear / exponential activations) ----------
# s ~ N(M, S^2); returns mpfr E[f], E[f^2], E[f'^2], E|f|.
closed_form <- function(name, param, mu, sigma) {
  M <- mp(mu); S <- mp(sigma); a <- M / S
  Pp <- pnorm(a); Pm <- pnorm(-a); ph <- dnorm(a)
  E1p <- M * Pp + S * ph                 # E[s 1{s>0}]
  E2p <- (M^2 + S^2) * Pp + M * S * ph   # E[s^2 1{s>0}]
  E1m <- M * Pm - S * ph                 # E[s 1{s<0}]
  E2m <- (M^2 + S^2) * Pm - M * S * ph   # E[s^2 1{s<0}]
  Ee <- function(t) exp(t * M + t^2 * S^2 / 2) * pnorm(-(M + t * S^2) / S)  # E[e^{ts} 1{s<0}]
  switch(name,
    linear = list(m1 = M, m2 = M^2 + S^2, d2 = mp(1), abs = S * 2 * ph + M * (2 * Pp - 1)),
    relu = list(m1 = E1p, m2 = E2p, d2 = Pp, abs = E1p),
    leaky_relu = {
      p <- mp(param)
      list(m1 = E1p + p * E1m, m2 = E2p + p^2 * E2m, d2 = Pp + p^2 * Pm, abs = E1p - p * E1m)
    },
    elu = , selu = {
      al <- mp(if (name == "elu") param else selu_alpha)
      la <- mp(if (name == "elu") 1 else selu_lambda)
      list(m1 = la * (E1p + al * (Ee(1) - Pm)),
           m2 = la^2 * (E2p + al^2 * (Ee(2) - 2 * Ee(1) + Pm)),
           d2 = la^2 * (Pp + al^2 * Ee(2)),
           abs = la * (E1p + al * (Pm - Ee(1))))
    })
}

# ---- integrate() references (smooth activations) -----------------------
# the cancellation-free difference where it does not overflow (|s| < 300;
# beyond, f(s) - f(mu) is no cancellation for the |mu| <= 3 of the grid)
guard <- function(s, accurate, direct) suppressWarnings(ifelse(abs(s) < 300, accurate, direct))
smooth <- list(
  tanh = list(f = function(s) tanh(s), df = function(s) 1 - tanh(s)^2,
              dif = function(s, m) guard(s, sinh(s - m) / (cosh(s) * cosh(m)), tanh(s) - tanh(m)),
              odd = function(s) tanh(s), const = 0, fmp = function(s) tanh(s)),
  sigmoid = list(f = function(s) plogis(s), df = function(s) { p <- plogis(s); p * (1 - p) },
                 dif = function(s, m) guard(s, exp(m) * expm1(s - m) / ((1 + exp(s)) * (1 + exp(m))),
                                            plogis(s) - plogis(m)),
                 odd = function(s) tanh(s / 2) / 2, const = 0.5, fmp = function(s) 1 / (1 + exp(-s))),
  softsign = list(f = function(s) s / (1 + abs(s)), df = function(s) 1 / (1 + abs(s))^2,
                  dif = function(s, m) ((s - m) + ifelse(s * m < 0, s * abs(m) - m * abs(s), 0)) /
                    ((1 + abs(s)) * (1 + abs(m))),
                  odd = function(s) s / (1 + abs(s)), const = 0, fmp = function(s) s / (1 + abs(s))),
  scaled_tanh = list(f = function(s) 1.7159 * tanh(2 * s / 3),
                     df = function(s) 1.7159 * 2 / 3 * (1 - tanh(2 * s / 3)^2),
                     dif = function(s, m) 1.7159 * guard(s, sinh(2 * (s - m) / 3) /
                       (cosh(2 * s / 3) * cosh(2 * m / 3)), tanh(2 * s / 3) - tanh(2 * m / 3)),
                     odd = function(s) 1.7159 * tanh(2 * s / 3), const = 0,
                     fmp = function(s) 1.7159 * tanh(2 * s / 3)))

# rel.tol = 1e-13, abs.tol = 0; where integrate() reports a roundoff error
# (a piece negligible against the whole, or one at the double-precision
# floor) the piece is redone with abs.tol = 1e-17 times a rough value of the
# whole expectation, E|h|, which keeps the total at 1e-13 relative; such
# pieces are counted in `n_fallback`.
n_fallback <- 0
int_piece <- function(fun, lo, hi, scale) {
  tryCatch(stats::integrate(fun, lo, hi, rel.tol = 1e-13, abs.tol = 0, subdivisions = 5000L)$value,
           error = function(e) {
             n_fallback <<- n_fallback + 1
             stats::integrate(fun, lo, hi, rel.tol = 1e-13, abs.tol = 1e-17 * scale,
                              subdivisions = 5000L)$value
           })
}
rough <- function(fun, lo, hi) {
  stats::integrate(function(x) abs(fun(x)), lo, hi, rel.tol = 1e-6, subdivisions = 5000L)$value
}
zbreaks <- function(mu, sigma) {
  z0 <- -mu / sigma
  k <- c(0.5, 2, 8, 32, 128)
  z <- c(z0, z0 + c(-k, k) / sigma, 0, c(-1, 1) * rep(c(0.5, 3, 6, 12, 24), each = 2))
  z <- z[is.finite(z) & abs(z) < 40]
  sort(unique(c(-40, z, 40)))
}
# E[h(mu + sigma Z)], integrate in z
ez <- function(h, mu, sigma) {
  br <- zbreaks(mu, sigma)
  fz <- function(z) h(mu + sigma * z) * dnorm(z)
  sc <- sum(vapply(seq_len(length(br) - 1), function(j) rough(fz, br[j], br[j + 1]), 0))
  sum(vapply(seq_len(length(br) - 1), function(j) int_piece(fz, br[j], br[j + 1], sc), 0))
}
# E[h(s)], s ~ N(mu, sigma^2), integrate in s on [lo, hi] (default mu +- 40 sigma)
es <- function(h, mu, sigma, lo = mu - 40 * sigma, hi = mu + 40 * sigma, extra = numeric()) {
  br <- c(mu + sigma * c(-1, 1) * rep(c(1, 4, 10, 20, 30), each = 2), mu,
          c(-1, 1) * rep(c(0.25, 1, 4, 16, 64), each = 2), 0, extra)
  br <- sort(unique(c(lo, br[br > lo & br < hi], hi)))
  fs <- function(s) h(s) * dnorm(s, mu, sigma)
  sc <- sum(vapply(seq_len(length(br) - 1), function(j) rough(fs, br[j], br[j + 1]), 0))
  sum(vapply(seq_len(length(br) - 1), function(j) int_piece(fs, br[j], br[j + 1], sc), 0))
}
# E[odd(s)] folded onto s > 0 (one-signed integrand)
es_odd <- function(odd, mu, sigma) {
  if (mu == 0) return(0)
  sg <- sign(mu); m <- abs(mu)
  h <- function(s) odd(s) * (-expm1(-2 * s * m / sigma^2))
  sg * es(h, m, sigma, lo = 0, hi = m + 40 * sigma, extra = sigma^2 / m * c(0.1, 1, 10))
}

smooth_ref <- function(name, mu, sigma) {
  a <- smooth[[name]]
  # mean: z-space integral of f, and the folded s-space integral of the odd part
  m1 <- ez(a$f, mu, sigma)
  m1_s <- a$const + es_odd(a$odd, mu, sigma)
  abs1 <- ez(function(s) abs(a$f(s)), mu, sigma)
  m1_use <- m1_s             # one-signed integrand: the more accurate
  # (f - m)^2 with m the double reference mean, via D = f(s) - f(mu)
  # dm = m - f(mu) exactly (f(mu) in 256 bits, not rounded to double)
  dm <- asNumeric(mp(m1_use) - a$fmp(mp(mu)))
  # E[(f(s) - m)^2] = E[(D - dm)^2], dm = m - f(mu) with m the reference mean
  v <- ez(function(s) (a$dif(s, mu) - dm)^2, mu, sigma)
  v_s <- es(function(s) (a$dif(s, mu) - dm)^2, mu, sigma)
  f2 <- ez(function(s) a$f(s)^2, mu, sigma)
  f2_s <- es(function(s) a$f(s)^2, mu, sigma)
  d2 <- ez(function(s) a$df(s)^2, mu, sigma)
  d2_s <- es(function(s) a$df(s)^2, mu, sigma)
  data.frame(functional = functionals, ref = c(m1_use, v, f2, d2),
             check = c(m1, v_s, f2_s, d2_s), abs_scale = c(abs1, v, f2, d2))
}

rows <- list()
for (a in acts) for (q in qs) for (mu in mus) {
  sigma <- sqrt(q)
  if (a$name %in% names(smooth)) {
    r <- smooth_ref(a$name, mu, sigma)
    r$log10_ref <- NA_real_
    r$method <- "integrate"
  } else {
    cf <- closed_form(a$name, a$param, mu, sigma)
    m1d <- asNumeric(cf$m1)
    vx <- cf$m2 - cf$m1^2 + (cf$m1 - mp(m1d))^2   # E[(f - m1d)^2], m1d the double mean
    vals <- list(cf$m1, vx, cf$m2, cf$d2)
    absv <- list(cf$abs, vx, cf$m2, cf$d2)
    r <- data.frame(functional = functionals,
                    ref = vapply(vals, asNumeric, 0),
                    check = NA_real_,
                    abs_scale = vapply(absv, asNumeric, 0),
                    log10_ref = vapply(vals, function(x)
                      if (x == 0) -Inf else asNumeric(log10(abs(x))), 0))
    r$method <- "closed_form_mpfr"
  }
  rows[[length(rows) + 1]] <- data.frame(activation = a$name, param = a$param, q = q, mu = mu, r)
}
ref <- do.call(rbind, rows)
ok <- !is.na(ref$check)
rel <- abs(ref$check - ref$ref) / pmax(abs(ref$ref), 1e-300)
cat(sprintf("integrate z vs s cross-check: max rel diff %.3g (f: %.3g relative to E|f|)\n",
            max(rel[ok & ref$functional != "f"]),
            max((abs(ref$check - ref$ref) / ref$abs_scale)[ok & ref$functional == "f"])))
ok2 <- ok & ref$mu != 0
print(head(ref[ok2, ][order(-rel[ok2]), c("activation", "q", "mu", "functional", "ref", "check")], 8))

# ---- 128-bit trapezoidal cross-check of a few integrate() values ---------
mpsmooth <- list(
  tanh = list(f = function(s) tanh(s), df = function(s) 1 - tanh(s)^2),
  sigmoid = list(f = function(s) 1 / (1 + exp(-s)), df = function(s) { p <- 1 / (1 + exp(-s)); p * (1 - p) }),
  scaled_tanh = list(f = function(s) mpfr(1.7159, 128) * tanh(2 * s / 3),
                     df = function(s) mpfr(1.7159, 128) * 2 / 3 * (1 - tanh(2 * s / 3)^2)))
worst_mp <- 0
for (nm in names(mpsmooth)) for (q in c(1e-2, 1, 1e2)) for (mu in c(-1, 0.5, 3)) {
  sigma <- sqrt(q)
  h <- 0.05 / max(sigma, 1)
  z <- mpfr(-40, 128) + mpfr(h, 128) * mpfr(0:round(80 / h), 128)
  s <- mpfr(mu, 128) + mpfr(sigma, 128) * z
  w <- exp(-z^2 / 2) / sqrt(2 * Const("pi", 128)) * mpfr(h, 128)
  fv <- mpsmooth[[nm]]$f(s)
  m1 <- sum(w * fv); m2 <- sum(w * fv^2); d2 <- sum(w * mpsmooth[[nm]]$df(s)^2)
  vv <- m2 - m1^2
  got <- ref[ref$activation == nm & ref$q == q & ref$mu == mu, ]
  mpv <- c(asNumeric(m1), asNumeric(vv), asNumeric(m2), asNumeric(d2))
  e <- abs(got$ref - mpv) / abs(mpv)
  worst_mp <- max(worst_mp, e)
  cat(sprintf("%-12s q=%-6g mu=%-4g rel diff vs mpfr trapezoid: %s\n", nm, q, mu,
              paste(formatC(e, digits = 2, format = "e"), collapse = " ")))
}
cat(sprintf("worst integrate vs mpfr: %.3g\n", worst_mp))

# ---- primary reference for the analytic activations: 128-bit trapezoid ----
# tanh, sigmoid, scaled_tanh are analytic, so the trapezoidal rule in z is
# geometrically convergent (error ~ exp(-2 pi d / h), d = pi / (2 sigma) for
# tanh, 3 pi / (4 sigma) for scaled_tanh, pi / sigma for sigmoid: with
# h = 0.05 / max(sigma, 1), below 1e-80). These replace the integrate()
# values (kept in `check`), whose accuracy is only ~1e-13 relative (the
# check showed 3.5e-13 for E[sigmoid], q = 1e-6, mu = -3): the test of the
# error estimate needs a reference far below the package's own error.
# softsign has a kink at 0: it keeps integrate() (z-space, `check` = s-space).
# Rows with method "integrate" are good to ~1e-13 relative.
# (sigma <= 1 only, 1601 nodes; for sigma = 10, 100 the step would need
# 16,000 - 160,000 128-bit nodes per point: those keep integrate())
for (nm in names(mpsmooth)) for (q in qs[qs <= 1]) for (mu in mus) {
  sigma <- sqrt(q)
  h <- 0.05 / max(sigma, 1)
  n <- round(80 / h)
  z <- mpfr(-40, 128) + mpfr(80, 128) * mpfr(0:n, 128) / n
  s <- mpfr(mu, 128) + mpfr(sigma, 128) * z
  w <- exp(-z^2 / 2) / sqrt(2 * Const("pi", 128)) * (mpfr(80, 128) / n)
  fv <- mpsmooth[[nm]]$f(s)
  idx <- which(ref$activation == nm & ref$q == q & ref$mu == mu)
  m_d <- ref$ref[idx[1]]                      # the double mean the test subtracts
  m1 <- sum(w * fv)
  vals <- c(asNumeric(m1), asNumeric(sum(w * (fv - mpfr(m_d, 128))^2)),
            asNumeric(sum(w * fv^2)), asNumeric(sum(w * mpsmooth[[nm]]$df(s)^2)))
  if (mu == 0 && nm != "sigmoid") vals[1] <- 0      # odd f: 0 by symmetry
  if (mu == 0 && nm == "sigmoid") vals[1] <- 0.5
  # the var row used the integrate mean: recompute it with the new mean
  m_new <- vals[1]
  vals[2] <- asNumeric(sum(w * (fv - mpfr(m_new, 128))^2))
  ref$check[idx] <- ref$ref[idx]
  ref$ref[idx] <- vals
  ref$abs_scale[idx[2:4]] <- vals[2:4]
  ref$method[idx] <- "trapezoid_mpfr"
}
ok <- ref$method != "closed_form_mpfr"
cat(sprintf("mpfr trapezoid vs integrate: max rel diff %.3g (f: %.3g of E|f|)\n",
            max((abs(ref$check - ref$ref) / abs(ref$ref))[ok & ref$functional != "f"]),
            max((abs(ref$check - ref$ref) / ref$abs_scale)[ok & ref$functional == "f"])))

out <- ref
for (col in c("q", "mu", "ref", "check", "abs_scale", "log10_ref", "param")) {
  out[[col]] <- ifelse(is.na(out[[col]]), NA, sprintf("%.17g", out[[col]]))
}
write.csv(out, "tests/testthat/accuracy-reference.csv", row.names = FALSE, quote = FALSE, na = "NA")
cat("wrote", nrow(out), "rows;", n_fallback, "integrate() pieces needed the abs.tol fallback\n")
