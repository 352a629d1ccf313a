# Signal propagation: fixed_point(), critical_line(), phase_diagram(),
# predict_correlation(), predict_kurtosis().
#
# References are computed independently of the package's quadrature:
# stats::integrate split at the kinks (nested for the 2-D expectations),
# closed forms (ReLU's arc-cosine kernel, leaky ReLU, the linear map), and
# plain-R simulations of random networks.

# Every Monte Carlo comparison in this file is one cell; the band is
# Bonferroni at 1e-3 over all of them.
mc_cells <- 6 + 6 + 4 + 6 + 3 + 2 + 2
mc_band <- qnorm(1 - 1e-3 / (2 * mc_cells))
mc_used <- 0
expect_mc <- function(est, mcse, value) {
  mc_used <<- mc_used + length(est)
  z <- (est - value) / mcse
  expect_true(all(abs(z) <= mc_band),
              label = sprintf("|z| = %s within %.2f MCSE", paste(format(abs(z), digits = 3), collapse = ", "), mc_band))
}

# ---- independent references -----------------------------------------------------

int_split <- function(h, br, rel = 1e-12, strict = TRUE) {
  br <- sort(unique(br))
  sum(vapply(seq_len(length(br) - 1), function(j)
    integrate(h, br[j], br[j + 1], rel.tol = rel, abs.tol = 0, subdivisions = 1000L,
              stop.on.error = strict)$value, 0))
}
L <- 12
# E[g(mu + sigma Z)]
E_ref <- function(g, sigma, mu = 0, kinks = numeric()) {
  k <- (kinks - mu) / sigma
  int_split(function(z) g(mu + sigma * z) * dnorm(z), c(-L, k[abs(k) < L], L))
}
# E[f(mu + u1) g(mu + u2)], corr cc, variances q: nested integrate
E2_ref <- function(f, g, q, cc, mu = 0, kinks = numeric()) {
  sq <- sqrt(q); sd2 <- sq * sqrt(1 - cc^2)
  inner <- function(z1) vapply(z1, function(z) {
    m <- mu + cc * sq * z
    k <- (kinks - m) / sd2
    int_split(function(z2) g(m + sd2 * z2) * dnorm(z2), c(-L, k[abs(k) < L], L), strict = FALSE)
  }, 0)
  br <- c(-L, L, (kinks - mu) / sq)
  if (length(kinks)) br <- c(br, outer((kinks - mu) / (cc * sq), sqrt(1 - cc^2) / abs(cc) * c(-4, -1, 0, 1, 4), "+"))
  int_split(function(z1) f(mu + sq * z1) * inner(z1) * dnorm(z1), br[abs(br) <= L], 1e-11)
}
relu <- function(x) pmax(x, 0)
arccos1 <- function(cc) (sqrt(1 - cc^2) + (pi - acos(cc)) * cc) / pi   # E[relu relu] / (q/2)
rel_err <- function(x, ref) abs(x - ref) / abs(ref)
worst <- new.env()
note_err <- function(what, x, ref) {
  e <- max(rel_err(x, ref))
  worst[[what]] <- max(worst[[what]], e)
  e
}

# ---- fixed_point -------------------------------------------------------------

test_that("fixed_point() for tanh agrees with stats::integrate references", {
  cases <- data.frame(sw = c(0.8, 1.5, 2.5, 1.2, 3.5), sb = c(0.05, 0.05, 0.05, 0, 0.2))
  fp <- fixed_point("tanh", cases$sw, cases$sb)
  expect_s3_class(fp, "data.frame")
  expect_named(fp, c("sigma_w2", "sigma_b2", "q_star", "chi_1", "c_star", "chi_c",
                     "xi_q", "xi_c", "phase", "note"))
  for (i in seq_len(nrow(cases))) {
    sw <- cases$sw[i]; sb <- cases$sb[i]
    V <- function(q) sw * E_ref(function(x) tanh(x)^2, sqrt(q)) + sb
    q_ref <- uniroot(function(t) V(exp(t)) / exp(t) - 1, c(log(1e-3), log(50)), tol = 1e-13)$root
    q_ref <- exp(q_ref)
    q <- fp$q_star[i]
    expect_lt(note_err("q_star", q, q_ref), 1e-10)
    chi_ref <- sw * E_ref(function(x) (1 - tanh(x)^2)^2, sqrt(q_ref))
    expect_lt(note_err("chi_1", fp$chi_1[i], chi_ref), 1e-10)
    # xi_q from V'(q*) by Gaussian integration by parts (no f'')
    dV <- sw * E_ref(function(x) tanh(x)^2 * (x^2 / q_ref - 1), sqrt(q_ref)) / (2 * q_ref)
    expect_lt(note_err("xi_q", fp$xi_q[i], -1 / log(dV)), 1e-9)
    expect_equal(fp$phase[i], if (chi_ref < 1) "ordered" else "chaotic")
    if (fp$phase[i] == "chaotic") {
      cs <- fp$c_star[i]
      expect_gte(cs, 0); expect_lt(cs, 1)
      expect_equal(cs == 0, sb == 0)   # odd f, no bias: M(0) = 0
      # c* is a fixed point of the reference c-map, chi_c its reference slope
      M <- (sw * E2_ref(tanh, tanh, q, cs) + sb) / q
      if (cs > 0) expect_lt(note_err("c_star", M, cs), 1e-8) else expect_lt(abs(M), 1e-14)
      chi_c_ref <- sw * E2_ref(function(x) 1 - tanh(x)^2, function(x) 1 - tanh(x)^2, q, cs)
      expect_lt(note_err("chi_c", fp$chi_c[i], chi_c_ref), 1e-8)
      expect_lt(note_err("xi_c", fp$xi_c[i], -1 / log(chi_c_ref)), 1e-7)
    } else {
      expect_equal(fp$c_star[i], 1)
      expect_equal(fp$chi_c[i], fp$chi_1[i])
    }
  }
  # odd activation without bias: c* = 0 exactly
  expect_identical(fixed_point("tanh", 2, 0)$c_star, 0)
})

test_that("fixed_point() for sigmoid, SELU, ELU and a custom activation agrees with references", {
  for (case in list(list("sigmoid", 20, 0.1), list("selu", 1.5, 0.1), list("elu", 1.5, 0.02),
                    list("softsign", 3, 0.05))) {
    a <- activation(case[[1]])
    sw <- case[[2]]; sb <- case[[3]]
    fp <- fixed_point(a, sw, sb)
    k <- a$kinks
    V <- function(q) sw * E_ref(function(x) a$f(x)^2, sqrt(q), kinks = k) + sb
    q_ref <- exp(uniroot(function(t) V(exp(t)) / exp(t) - 1, c(log(1e-3), log(1e3)), tol = 1e-13)$root)
    expect_lt(note_err("q_star", fp$q_star, q_ref), 1e-10)
    dV <- sw * E_ref(function(x) a$f(x)^2 * (x^2 / q_ref - 1), sqrt(q_ref), kinks = k) / (2 * q_ref)
    expect_lt(note_err("xi_q", fp$xi_q, -1 / log(dV)), 1e-9)
    chi_ref <- sw * E_ref(function(x) a$df(x)^2, sqrt(q_ref), kinks = k)
    expect_lt(note_err("chi_1", fp$chi_1, chi_ref), 1e-10)
    if (fp$phase == "chaotic") {
      M <- (sw * E2_ref(a$f, a$f, fp$q_star, fp$c_star, kinks = k) + sb) / fp$q_star
      expect_lt(note_err("c_star", M, fp$c_star), 1e-8)
    }
  }
  # a custom activation uses integration by parts for V'(q*): same as tanh's f''
  th <- activation("th", f = tanh, df = function(x) 1 - tanh(x)^2)
  expect_lt(note_err("xi_q", fixed_point(th, 1.7, 0.1)$xi_q, fixed_point("tanh", 1.7, 0.1)$xi_q), 1e-10)
})

test_that("ReLU: closed forms, the arc-cosine kernel, unbounded and marginal cases", {
  fp <- fixed_point("relu", c(1, 1.5, 1.99, 2, 2, 2.5), c(0.1, 0.1, 0.3, 0, 0.1, 0))
  expect_equal(fp$q_star[1:3], c(0.1, 0.1, 0.3) / (1 - c(1, 1.5, 1.99) / 2), tolerance = 1e-14)
  expect_equal(fp$phase, c("ordered", "ordered", "ordered", "critical", "unbounded", "unbounded"))
  expect_equal(fp$chi_1, c(1, 1.5, 1.99, 2, 2, 2.5) / 2)
  expect_equal(fp$c_star[1:4], rep(1, 4))
  expect_true(is.na(fp$q_star[4]))
  expect_match(fp$note[4], "every q is a fixed point")
  expect_true(is.infinite(fp$q_star[5]) && is.infinite(fp$q_star[6]))
  expect_match(fp$note[5], "grows without bound")
  expect_match(fp$note[6], "grows without bound")
  expect_equal(fp$xi_c[1:3], -1 / log(c(1, 1.5, 1.99) / 2))
  expect_equal(fp$xi_c[4], Inf)
  # the package's c-map for ReLU against the arc-cosine kernel (Cho & Saul 2009)
  a <- activation("relu")
  for (cc in c(-0.9, -0.3, 0, 0.2, 0.6, 0.95, 0.9999)) {
    q <- 0.4; sw <- 1.5; sb <- 0.1
    m <- initvar:::c_map_v(a, q, cc, sw, sb)
    ref <- sw / 2 * arccos1(cc) + sb / q
    expect_lt(note_err("relu c-map", m[["value"]], ref), 1e-12)
    # slope: sw E[1{u1 > 0} 1{u2 > 0}] = sw (pi - acos c) / (2 pi)
    expect_lt(note_err("relu chi_c", m[["slope"]], sw * (pi - acos(cc)) / (2 * pi)), 1e-12)
  }
  # leaky ReLU: q* = sb / (1 - sw (1 + a^2) / 2); E[f f] = q [a c + (1 - a)^2 k(c) / 2]
  la <- activation("leaky_relu", 0.2)
  for (cc in c(-0.5, 0.3, 0.9)) {
    e <- initvar:::bivariate_expectation(list(la$f), list(la$f), 2, cc, kinks = 0)
    ref <- 2 * (0.2 * cc + 0.8^2 * arccos1(cc) / 2)
    expect_lt(note_err("leaky c-map", e, ref), 1e-12)
  }
  expect_equal(fixed_point(la, 1.5, 0.1)$q_star, 0.1 / (1 - 1.5 * 1.04 / 2))
  # zero bias, ordered: q* = 0 and the note on chi_c
  fp0 <- fixed_point("relu", 1, 0)
  expect_identical(fp0$q_star, 0)
  expect_match(fp0$note, "q\\* = 0")
})

test_that("the nested 2-D quadrature agrees with nested stats::integrate", {
  for (case in list(list("tanh", 0.01, 0.3), list("tanh", 50, 0.97), list("selu", 1, 0.99999),
                    list("elu", 3, -0.6), list("sigmoid", 4, 0.5), list("softsign", 2, 0.999))) {
    a <- activation(case[[1]])
    v <- initvar:::bivariate_expectation(list(a$f), list(a$f), case[[2]], case[[3]], kinks = a$kinks)
    ref <- E2_ref(a$f, a$f, case[[2]], case[[3]], kinks = a$kinks)
    expect_lt(note_err("E[f(u1) f(u2)]", v, ref), 1e-10)
  }
  # with a mean (predict_correlation's bias mean)
  a <- activation("relu")
  v <- initvar:::bivariate_expectation(list(a$f), list(a$f), 1.3, 0.7, mu = 0.4, kinks = 0)
  expect_lt(note_err("E[f(u1) f(u2)]", v, E2_ref(relu, relu, 1.3, 0.7, mu = 0.4, kinks = 0)), 1e-10)
})

# ---- critical_line ------------------------------------------------------------

test_that("critical_line() finds chi_1 = 1", {
  cl <- critical_line("tanh", c(0, 0.05, 0.2))
  expect_identical(cl$sigma_w2[1], 1)
  expect_identical(cl$q_star[1], 0)
  for (i in 2:3) {
    sw <- cl$sigma_w2[i]; q <- cl$q_star[i]; sb <- cl$sigma_b2[i]
    expect_lt(rel_err(sw * E_ref(function(x) tanh(x)^2, sqrt(q)) + sb, q), 1e-10)
    chi <- sw * E_ref(function(x) (1 - tanh(x)^2)^2, sqrt(q))
    expect_lt(abs(chi - 1), 1e-9)
    worst[["critical chi_1 - 1"]] <- max(worst[["critical chi_1 - 1"]], abs(chi - 1))
  }
  fp <- fixed_point("tanh", cl$sigma_w2[2] * c(1 - 1e-6, 1 + 1e-6), 0.05)
  expect_equal(fp$phase, c("ordered", "chaotic"))
  expect_equal(critical_line("relu", 0)$sigma_w2, 2)
  expect_equal(critical_line(activation("leaky_relu", 0.5), 0)$sigma_w2, 2 / 1.25)
  expect_error(critical_line("relu", c(0, 0.1)), "`sigma_b2` must be 0 for relu.*no finite fixed point")
})

# ---- phase_diagram --------------------------------------------------------------

test_that("phase_diagram() tabulates fixed_point(), prints and plots", {
  pd <- phase_diagram("tanh", c(0.5, 1, 1.5, 2.5), c(0, 0.1))
  expect_s3_class(pd, "initvar_phase_diagram")
  expect_equal(dim(pd$xi_c), c(4, 2))
  expect_equal(pd$table, rbind(fixed_point("tanh", c(0.5, 1, 1.5, 2.5), 0),
                               fixed_point("tanh", c(0.5, 1, 1.5, 2.5), 0.1)))
  expect_equal(pd$phase[, 1], c("ordered", "critical", "chaotic", "chaotic"))
  expect_output(print(pd), "phase diagram.*tanh")
  pdf(NULL)
  on.exit(dev.off())
  expect_invisible(plot(pd, critical = critical_line("tanh", 0.1)))
  pr <- phase_diagram("relu", c(1, 2, 3), c(0, 0.1))
  expect_equal(pr$phase, matrix(c("ordered", "critical", "unbounded", "ordered", "unbounded", "unbounded"), 3))
  expect_output(print(pr), "no chaotic phase")
  expect_invisible(plot(pr))
})

# ---- predict_correlation -----------------------------------------------------

test_that("predict_correlation() matches closed forms and predict_variance()", {
  net <- mlp(rep(100, 6), "relu", init_he())
  pc <- predict_correlation(net, 0.3)
  cref <- 0.3
  for (l in 2:5) cref[l] <- arccos1(cref[l - 1])
  expect_lt(note_err("predict_correlation (ReLU)", pc$c, cref), 1e-12)
  expect_equal(pc$q, rep(2, 5))
  lin <- mlp(rep(50, 4), "linear", init_lecun(), bias = init_normal(0, 0.5))
  pl <- predict_correlation(lin, -0.4, var_x = 2)
  q <- 2; cv <- -0.8
  for (l in 1:3) { q[l + 1] <- q[l] + 0.25; cv[l + 1] <- cv[l] + 0.25 }
  expect_equal(pl$q, q[-1], tolerance = 1e-13)
  expect_equal(pl$c, cv[-1] / q[-1], tolerance = 1e-13)
  th <- mlp(rep(500, 5), "tanh", init_normal(0, sqrt(2 / 500)), bias = init_normal(0.3, 0.2))
  expect_equal(predict_correlation(th, 0.5)$q, predict_variance(th, regime = "mean_field")$var_s,
               tolerance = 1e-12)
  expect_equal(predict_correlation(th, 1)$c, rep(1, 4))
})

# Plain-R simulation of two inputs through many random networks with
# Gaussian weights. Given the previous layer's activations z, z' of one
# network, the columns w_j of W are iid N(0, v I), so the pairs
# (z . w_j, z' . w_j) are iid bivariate normal with covariance v G, G the
# Gram matrix of (z, z'): drawing them from G is an exact simulation of the
# network (it avoids the n x n matrices, not any randomness).
sim_correlation <- function(widths, f, sw, bias_mean, bias_sd, c0, R) {
  n0 <- widths[1]
  g11 <- rep(n0, R); g22 <- g11; g12 <- rep(c0 * n0, R)   # var_x = 1
  d <- length(widths) - 1
  A <- B <- matrix(0, R, d)
  for (l in seq_len(d)) {
    n <- widths[l + 1]
    v <- sw / widths[l]
    a11 <- sqrt(v * g11)
    a21 <- v * g12 / a11
    a22 <- sqrt(pmax(v * g22 - a21^2, 0))
    z1 <- matrix(rnorm(R * n), R); z2 <- matrix(rnorm(R * n), R)
    u <- a11 * z1
    u2 <- a21 * z1 + a22 * z2
    b <- matrix(rnorm(R * n, 0, bias_sd), R)
    A[, l] <- rowMeans((u + b) * (u2 + b))               # centred: s - mean
    B[, l] <- rowMeans(((u + b)^2 + (u2 + b)^2) / 2)
    y <- f(u + b + bias_mean); y2 <- f(u2 + b + bias_mean)
    g11 <- rowSums(y^2); g22 <- rowSums(y2^2); g12 <- rowSums(y * y2)
  }
  # ratio of means across networks, delta-method MCSE
  est <- colMeans(A) / colMeans(B)
  mcse <- vapply(seq_len(d), function(l) {
    ma <- mean(A[, l]); mb <- mean(B[, l])
    g <- c(1 / mb, -ma / mb^2)
    sqrt(drop(t(g) %*% cov(cbind(A[, l], B[, l])) %*% g) / R)
  }, 0)
  list(est = est, mcse = mcse)
}

test_that("predict_correlation() agrees with simulated wide networks", {
  skip_unless_full()
  set.seed(20240611)
  cases <- list(
    list(act = "tanh", f = tanh, sw = 2.5, bm = 0, bsd = sqrt(0.05), c0 = 0.9, d = 6),
    list(act = "relu", f = relu, sw = 1.8, bm = 0, bsd = sqrt(0.1), c0 = 0.3, d = 6),
    list(act = "tanh", f = tanh, sw = 1.5, bm = 0.3, bsd = sqrt(0.1), c0 = 0.5, d = 4))
  # the mean field is exact as n grows; its O(1/n) error (visible at
  # n = 2000 with a bias mean, about 1.7 MCSE of 300 networks) is kept
  # at about 0.6 MCSE here: bias / MCSE scales like sqrt(R / n)
  n <- 8000
  for (cs in cases) {
    net <- mlp(rep(n, cs$d + 1), cs$act, init_normal(0, sqrt(cs$sw / n)),
               bias = init_normal(cs$bm, cs$bsd))
    pc <- predict_correlation(net, cs$c0)
    sim <- sim_correlation(rep(n, cs$d + 1), cs$f, cs$sw, cs$bm, cs$bsd, cs$c0, R = 160)
    expect_mc(sim$est, sim$mcse, pc$c)
  }
})

# ---- predict_kurtosis ------------------------------------------------------------

# Plain-R simulation: R networks at once, explicit weight matrices.
sim_kurtosis <- function(widths, f, input, R) {
  n0 <- widths[1]
  z <- if (input == "gaussian") matrix(rnorm(R * n0), R) else matrix(1, R, n0)
  d <- length(widths) - 1
  est <- mcse <- numeric(d)
  for (l in seq_len(d)) {
    nin <- widths[l]; nout <- widths[l + 1]
    s <- vapply(seq_len(nout), function(j) rowSums(z * matrix(rnorm(R * nin, 0, sqrt(2 / nin)), R)),
                numeric(R))
    if (R == 1) s <- matrix(s, 1)
    A <- rowMeans(s^4); B <- rowMeans(s^2)
    ma <- mean(A); mb <- mean(B)
    est[l] <- ma / mb^2
    g <- c(1 / mb^2, -2 * ma / mb^3)
    mcse[l] <- sqrt(drop(t(g) %*% cov(cbind(A, B)) %*% g) / R)
    z <- f(s)
  }
  list(est = est, mcse = mcse)
}

test_that("predict_kurtosis(): the formula, and k for each activation", {
  pk <- predict_kurtosis(mlp(c(10, 8, 6, 4), "relu", init_he()))
  expect_equal(pk$kurtosis, 3 * (1 + 2 / 10) * cumprod(c(1, 1 + 5 / 8, 1 + 5 / 6)))
  expect_equal(pk$excess, pk$kurtosis - 3)
  pf <- predict_kurtosis(mlp(c(10, 8, 6), "linear", init_he()), input = "fixed")
  expect_equal(pf$kurtosis, c(3, 3 * (1 + 2 / 8)))
  # k from moments by stats::integrate (leaky ReLU, slope 0.2 and 0.01)
  for (a in c(0.2, 0.01)) {
    f <- function(x) ifelse(x > 0, x, a * x)
    m2 <- E_ref(function(x) f(x)^2, 1, kinks = 0); m4 <- E_ref(function(x) f(x)^4, 1, kinks = 0)
    pk <- predict_kurtosis(mlp(c(5, 7, 3), activation("leaky_relu", a), init_he()), input = "fixed")
    expect_lt(note_err("kurtosis k", pk$kurtosis[2], 3 * (1 + (m4 / m2^2 - 1) / 7)), 1e-12)
  }
  # the last layer's activation is irrelevant
  expect_silent(predict_kurtosis(mlp(c(4, 4, 4), c("relu", "tanh"), init_he())))
})

test_that("predict_kurtosis() agrees with simulated small networks", {
  set.seed(4711)
  la <- function(x) ifelse(x > 0, x, 0.2 * x)
  cases <- list(
    list(w = rep(16, 7), act = "linear", f = identity, input = "gaussian"),
    list(w = c(4, 8, 8, 8), act = "relu", f = relu, input = "gaussian"),
    list(w = c(12, 12, 12), act = activation("leaky_relu", 0.2), f = la, input = "fixed"),
    list(w = c(4, 4, 4), act = "linear", f = identity, input = "gaussian"))
  for (cs in cases) {
    pk <- predict_kurtosis(mlp(cs$w, cs$act, init_he()), input = cs$input)
    sim <- sim_kurtosis(cs$w, cs$f, cs$input, R = 30000)
    expect_mc(sim$est, sim$mcse, pk$kurtosis)
    # the MCSE decides: it is well below each layer's 1/n factor
    if (length(pk$kurtosis) > 1) expect_true(all(sim$mcse[-1] < 0.2 * diff(pk$kurtosis)))
  }
})

test_that("every Monte Carlo cell was counted", {
  skip_unless_full()
  expect_equal(mc_used, mc_cells)
})

# ---- bad input -------------------------------------------------------------------

test_that("bad input errors name the argument", {
  expect_error(fixed_point("nope", 1), "`activation` must be")
  expect_error(fixed_point(3, 1), "`activation` must be")
  expect_error(fixed_point("tanh", -1), "`sigma_w2` must be")
  expect_error(fixed_point("tanh", "a"), "`sigma_w2` must be")
  expect_error(fixed_point("tanh", numeric()), "`sigma_w2` must be")
  expect_error(fixed_point("tanh", 1, -0.1), "`sigma_b2` must be")
  expect_error(fixed_point("tanh", 1, NA), "`sigma_b2` must be")
  expect_error(fixed_point("tanh", 1:3, c(0, 0.1)), "`sigma_w2` \\(length 3\\) and `sigma_b2` \\(length 2\\)")
  expect_error(critical_line("tanh", -1), "`sigma_b2` must be")
  expect_error(critical_line("tanh"), "sigma_b2")
  expect_error(critical_line("bad", 0), "`activation` must be")
  expect_error(phase_diagram("tanh", c(2, 1)), "`sigma_w2` must be an increasing")
  expect_error(phase_diagram("tanh", c(0, 1)), "`sigma_w2` must be")
  expect_error(phase_diagram("tanh", sigma_b2 = "a"), "`sigma_b2` must be")
  expect_error(phase_diagram("bad"), "`activation` must be")
  net <- mlp(c(4, 4, 4), "relu", init_he())
  expect_error(predict_correlation(1, 0.5), "`net` must be")
  expect_error(predict_correlation(net, 2), "`c0` must be")
  expect_error(predict_correlation(net, NA), "`c0` must be")
  expect_error(predict_correlation(net, 0.5, var_x = 0), "`var_x` must be")
  expect_error(predict_correlation(mlp(c(4, 4), "relu", init_uniform(0, 1)), 0.5), "`net` has weights with a non-zero mean")
  expect_error(predict_kurtosis(1), "`net` must be")
  expect_error(predict_kurtosis(net, input = "x"), "`input` must be one of")
  expect_error(predict_kurtosis(mlp(c(4, 4, 4), "tanh", init_he())), "`net` must use positively homogeneous.*tanh")
  expect_error(predict_kurtosis(mlp(c(4, 4, 4), "relu", init_he("uniform"))), "`net` must have Gaussian")
  expect_error(predict_kurtosis(mlp(c(4, 4, 4), "relu", init_he(), bias = init_constant(0.1))),
               "`net` must have zero biases")
})

test_that("worst relative errors against the references", {
  skip_if_not(nzchar(Sys.getenv("INITVAR_SIGNAL_REPORT")))
  print(unlist(as.list(worst)))
  succeed()
})
