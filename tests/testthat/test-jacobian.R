# jacobian_spectrum(): the C engine against a plain-R reference, and the
# predictions against simulation.
#
# Statistical comparisons share one Bonferroni budget of 0.001 for the file
# (a correct implementation fails it by chance at most 1 in 1000): each of
# the `jac_tests` comparisons is a two-sided t test at level 1 - 0.001 /
# jac_tests, through agreement().

jac_tests <- 80
jac_level <- 1 - 0.001 / jac_tests

ns <- asNamespace("initvar")

# Everything network j computes, from its draws (C_test_jacobian), in R:
# per requested depth the product's singular values, per layer its own.
jac_reference <- function(net, tr) {
  d <- length(net$widths) - 1
  z <- tr$x
  P <- diag(net$widths[1])
  prod_sv <- layer_sv <- list()
  for (i in seq_len(d)) {
    s <- drop(z %*% tr$W[[i]]) + tr$b[[i]]
    a <- net$activation[[i]]
    z <- a$f(s)
    Ji <- a$df(s) * t(tr$W[[i]])          # D^i (W^i)^T
    P <- Ji %*% P
    layer_sv[[i]] <- svd(Ji, 0, 0)$d
    prod_sv[[i]] <- svd(P, 0, 0)$d
  }
  list(prod = prod_sv, layer = layer_sv)
}

jac_agree <- function(est, mcse, pred, J) {
  ns$agreement(est, mcse, pred, df = J - 1, level = jac_level)$consistent
}

test_that("the C Jacobians agree with a plain-R reference from the same draws", {
  set.seed(101)
  nets <- list(
    mlp(c(5, 7, 4, 6), c("tanh", "relu", "gelu"), init_glorot()),
    mlp(c(6, 6, 6), "tanh", init_orthogonal(1.3), bias = init_normal(0, 0.2)),
    mlp(c(4, 9, 3), c("selu", "softsign"), init_truncated_normal(0, 0.3)),
    mlp(c(8, 8, 8), "leaky_relu", init_sparse(0.5, 0.4)),
    mlp(c(9, 5, 7), c("linear", "sigmoid"), init_orthogonal()),
    mlp(c(6, 6, 6, 6), c("elu", "silu", "mish"), init_uniform(-0.5, 0.5)))
  for (net in nets) {
    d <- length(net$widths) - 1
    for (input in list("normal", "uniform", seq(-1, 1, length.out = net$widths[1]))) {
      code <- if (is.numeric(input)) 3L else if (input == "normal") 1L else 2L
      seed <- ns$engine_seed()
      x <- if (code == 3L) input else NULL
      spec <- ns$jacobian_spec(net, code, 1.5, x, seed, seq_len(d), TRUE)
      for (j in c(0, 7)) {
        tr <- .Call(ns$C_test_jacobian, spec, j)
        if (code == 3L) expect_identical(tr$x, input)
        r <- .Call(ns$C_jacobian, spec, j, 1L, 1L)
        R <- jac_reference(net, tr)
        st <- array(r[[1]], c(5, 2 * d))
        sv <- c(R$prod, R$layer)
        for (k in seq_along(sv)) {
          s <- sv[[k]]
          top <- max(s)
          ref <- c(mean(s), mean(s^2), mean(s^4), min(s), max(s))
          sc <- c(top, top^2, top^4, top, top)
          expect_lte(max(abs(st[, k] - ref) / sc), 1e-12)
        }
        expect_lte(max(abs(r[[2]] - unlist(R$prod))) / max(unlist(R$prod)), 1e-12)
        # the same weights, biases and input as the engine's network j
        # (simulate_network(), same seed, a batch of one input)
        if (code != 3L) {
          es <- ns$engine_spec(net, 1L, names(ns$input_kind_codes)[code], 1.5, NULL, "normal", 1,
                               numeric(ns$n_quantities * d), 1L, rep(c(-1, 1), 3 * d), seed)
          et <- .Call(ns$C_test_network_trace, es, j)
          expect_identical(et$W, tr$W)
          expect_identical(lapply(et$b, as.vector), tr$b)
          expect_identical(as.vector(et$X), tr$x)
        }
      }
    }
  }
})

test_that("results are bit-identical for 1 and 2 threads", {
  net <- mlp(c(20, rep(24, 4), 16), c("tanh", "relu", "linear", "gelu", "tanh"),
             init_orthogonal())
  set.seed(7)
  a <- jacobian_spectrum(net, 21, threads = 1)
  set.seed(7)
  b <- jacobian_spectrum(net, 21, threads = 2)
  expect_identical(a$stats, b$stats)
  expect_identical(a$sv, b$sv)
  expect_identical(as.data.frame(a), as.data.frame(b))
})

test_that("orthogonal linear networks have all singular values exactly prod(gain)", {
  skip_unless_full()
  set.seed(8)
  eps <- .Machine$double.eps
  cases <- list(list(w = rep(8, 51), g = 1), list(w = rep(64, 51), g = 1),
                list(w = rep(256, 11), g = 1), list(w = c(8, 16, 16, 40, 64), g = 1),
                list(w = c(64, 40, 16, 16, 8), g = 1), list(w = rep(16, 6), g = 1.1))
  for (cs in cases) {
    d <- length(cs$w) - 1
    net <- mlp(cs$w, "linear", init_orthogonal(cs$g))
    js <- jacobian_spectrum(net, 4, depths = unique(c(1, d %/% 2, d)))
    df <- as.data.frame(js)
    target <- cs$g^ifelse(df$kind == "layer", 1, df$depth)
    # every singular value of every network, through depth 50: within 1e-12
    expect_lte(max(abs(df$min_sv / target - 1), abs(df$max_sv / target - 1)), 1e-12)
    expect_true(all(df$mean_sv_basis == "exact" & df$var_sq_basis == "exact"))
    expect_equal(df$mean_sv_pred, target, tolerance = 1e-14)
    expect_true(all(df$var_sq_pred == 0))
    # the verdicts (MCSE floored at the rounding bound) agree
    expect_true(all(abs(df$mean_sv_z) < 3 & abs(df$var_sq_z) < 3))
  }
  # widths that rise and fall: no exact prediction
  js <- jacobian_spectrum(mlp(c(8, 16, 8), "linear", init_orthogonal()), 4, layers = FALSE)
  expect_true(is.na(as.data.frame(js)$mean_sv_pred[2]))
})

test_that("the Fuss-Catalan and Marchenko-Pastur moments match independent references", {
  fc <- ns$fuss_catalan_moment
  # integer moments: the Fuss-Catalan numbers binom((m+1)k, k) / (mk + 1)
  for (m in 1:6) for (k in 1:4) {
    expect_equal(fc(m, k), choose((m + 1) * k, k) / (m * k + 1), tolerance = 1e-12)
  }
  # the half moment of one layer: the quarter-circle law of the singular
  # values, 2 / pi sqrt(4 - s^2) on [0, 2]
  qc <- integrate(function(s) s * sqrt(4 - s^2) / pi, 0, 2, rel.tol = 1e-12)$value
  expect_equal(fc(1, 1 / 2), qc, tolerance = 1e-11)
  expect_equal(qc, 8 / (3 * pi), tolerance = 1e-11)
  # order 2: Penson and Zyczkowski's explicit density on (0, 27/4]
  p2 <- function(x) {
    a <- 27 + 3 * sqrt(81 - 12 * x)
    2^(1 / 3) * sqrt(3) / (12 * pi) * (2^(1 / 3) * a^(2 / 3) - 6 * x^(1 / 3)) /
      (x^(2 / 3) * a^(1 / 3))
  }
  expect_equal(integrate(p2, 0, 27 / 4, rel.tol = 1e-10)$value, 1, tolerance = 1e-6)
  expect_equal(integrate(function(x) sqrt(x) * p2(x), 0, 27 / 4, rel.tol = 1e-12)$value,
               fc(2, 1 / 2), tolerance = 1e-8)
  # the plotted density (Haagerup-Moller parametrization) has the moments
  for (m in 1:3) {
    cv <- ns$fuss_catalan_curve(m, 20000)
    o <- order(cv$x)
    x <- cv$x[o]; y <- cv$density[o]
    trap <- function(g) sum(diff(x) * (g[-1] + g[-length(g)]) / 2)
    expect_equal(trap(x * y), 1, tolerance = 0.01)
    expect_equal(trap(x^2 * y), m + 1, tolerance = 0.02)
  }
  # Marchenko-Pastur half moment against a direct integration of the density
  for (cc in c(0.1, 0.25, 0.5, 0.9)) {
    lo <- (1 - sqrt(cc))^2; hi <- (1 + sqrt(cc))^2
    ref <- integrate(function(x) sqrt(x) * sqrt((hi - x) * (x - lo)) / (2 * pi * cc * x),
                     lo, hi, rel.tol = 1e-12)$value
    expect_equal(ns$mp_half_moment(cc), ref, tolerance = 1e-9)
  }
})

# The relative variance, over networks, of a_j = tr(J J^T) / k for linear
# Gaussian layers, exactly (the normalized recursion of ?jacobian_spectrum),
# and the networks a t interval needs for a network-level statistic with
# relative variance c (the engine's rule, J >= 10 (c + 3)^2 c: ten times
# the squared skewness of a log-normal). For b_j = tr (J J^T)^2 / k the
# log-normal approximation (1 + c_a)^4 - 1 is used. The grid below runs at
# least 4 times the networks the rule asks for, for every row it tests.
jac_cv2 <- function(w) {
  a <- 1
  b <- 1 / w[1]
  for (n in w[-1]) {
    a2 <- a + 2 * b / n
    b <- a / n + (n + 1) * b / n
    a <- a2
  }
  a - 1
}
jac_needed <- function(c) 10 * (c + 3)^2 * c

test_that("exact finite-width moments agree over widths 8-256 and depths to 50 (family-wise)", {
  skip_unless_full()
  # linear Gaussian layers (LeCun normal): mean_sq and var_sq are exact at
  # every width (Wishart moments for one layer, the recursion for products)
  grid <- list(
    list(w = rep(8, 5), J = 3000, dep = c(1, 2, 4)),
    list(w = rep(16, 9), J = 2400, dep = c(1, 4, 8)),
    list(w = rep(32, 17), J = 2200, dep = c(1, 8, 16)),
    list(w = rep(64, 17), J = 150, dep = c(1, 8, 16)),
    list(w = rep(128, 17), J = 60, dep = c(1, 8, 16)),
    list(w = rep(256, 9), J = 30, dep = c(1, 4, 8)),
    list(w = c(16, rep(128, 50)), J = 130, dep = c(1, 25, 50)),
    list(w = c(8, 32, 16, 64), J = 1000, dep = 1:3))
  set.seed(20261201)
  tested <- 0
  deepest <- 0
  for (g in grid) {
    js <- jacobian_spectrum(mlp(g$w, "linear", init_lecun()), g$J, depths = g$dep,
                            layers = FALSE)
    df <- as.data.frame(js)
    expect_true(all(df$mean_sq_basis == "exact" & df$var_sq_basis == "exact"))
    for (r in seq_len(nrow(df))) {
      ca <- jac_cv2(g$w[1:(df$depth[r] + 1)])
      if (g$J >= 4 * jac_needed(ca)) {
        expect_true(jac_agree(df$mean_sq[r], df$mean_sq_mcse[r], df$mean_sq_pred[r], g$J),
                    label = sprintf("mean_sq, widths %s, depth %d", g$w[2], df$depth[r]))
        tested <- tested + 1
        deepest <- max(deepest, df$depth[r])
      }
      if (g$J >= 4 * jac_needed((1 + ca)^4 - 1)) {
        expect_true(jac_agree(df$var_sq[r], df$var_sq_mcse[r], df$var_sq_pred[r], g$J),
                    label = sprintf("var_sq, widths %s, depth %d", g$w[2], df$depth[r]))
        tested <- tested + 1
      }
    }
  }
  expect_gte(tested, 45)
  expect_identical(deepest, 50)
  # one layer of iid non-Gaussian weights: the fourth-moment Wishart formula
  set.seed(20261202)
  for (net in list(mlp(c(24, 40), "linear", init_glorot("uniform")),
                   mlp(c(40, 24), "linear", init_he("truncated_normal")),
                   mlp(c(30, 30), "linear", init_uniform(-0.1, 0.1)))) {
    js <- jacobian_spectrum(net, 1500)
    df <- as.data.frame(js)
    expect_true(all(df$var_sq_basis == "exact"))
    for (r in seq_len(nrow(df))) {
      expect_true(jac_agree(df$mean_sq[r], df$mean_sq_mcse[r], df$mean_sq_pred[r], 1500))
      expect_true(jac_agree(df$var_sq[r], df$var_sq_mcse[r], df$var_sq_pred[r], 1500))
    }
  }
  # the uniform fourth moment changes the prediction visibly from Gaussian
  u <- ns$jacobian_predict(mlp(c(8, 8), "linear", init_uniform(-1, 1)), 1, 1, FALSE)
  g <- ns$jacobian_predict(mlp(c(8, 8), "linear", init_normal(0, sqrt(1 / 3))), 1, 1, FALSE)
  expect_equal(u$mean_sq, g$mean_sq)
  expect_equal(g$var_sq - u$var_sq, (3 - 9 / 5) / 9 * 8 * 8 / 8, tolerance = 1e-12)
})

# The infinite-width limit of a statistic from runs at widths n = 32, 64,
# 128: the exact fit of e_n = a + b / n + c / n^2 to the errors against the
# prediction extrapolates to a = (1/3) e_32 - 2 e_64 + (8/3) e_128 (the
# O(1/n^3) remainder enters a as 8 / 128^3 of its coefficient), with the
# MCSE from the three independent runs; a must be 0.
jac_limit <- function(make, stats, J = c(600, 300, 150), input = "normal", depth = NULL) {
  wts <- c(1 / 3, -2, 8 / 3)
  e <- s <- matrix(0, 3, length(stats), dimnames = list(NULL, stats))
  for (k in 1:3) {
    n <- c(32, 64, 128)[k]
    net <- make(n)
    x <- if (identical(input, "fixed")) rep(c(-1, 1), n / 2) else input
    d <- if (is.null(depth)) length(net$widths) - 1 else depth
    df <- as.data.frame(jacobian_spectrum(net, J[k], input = x, depths = d, layers = FALSE))
    for (st in stats) {
      e[k, st] <- df[[st]] - df[[paste0(st, "_pred")]]
      s[k, st] <- df[[paste0(st, "_mcse")]]
      expect_true(df[[paste0(st, "_basis")]] %in% c("infinite width", "finite width (1/n)"))
    }
  }
  lapply(stats, function(st) list(a = sum(wts * e[, st]), se = sqrt(sum(wts^2 * s[, st]^2)),
                                  J = min(J)))
}

test_that("infinite-width laws are the limits of the simulated statistics", {
  skip_unless_full()
  set.seed(20261203)
  check <- function(lims) {
    for (lim in lims) expect_true(jac_agree(lim$a, lim$se, 0, lim$J))
  }
  # mean singular value: quarter circle, Fuss-Catalan (3 layers),
  # Marchenko-Pastur (ratio 1/2)
  check(jac_limit(function(n) mlp(c(n, n), "linear", init_lecun()), "mean_sv"))
  check(jac_limit(function(n) mlp(rep(n, 4), "linear", init_lecun()), "mean_sv"))
  check(jac_limit(function(n) mlp(c(n, 2 * n), "linear", init_lecun()), "mean_sv"))
  # Pennington, Schoenholz and Ganguli: m1 and the variance of the squared
  # singular values, Gaussian and orthogonal weights, tanh and ReLU
  # (a fixed input removes the input norm's fluctuation)
  nets <- list(
    function(n) mlp(rep(n, 5), "tanh", init_glorot("normal")),
    function(n) mlp(rep(n, 5), "tanh", init_orthogonal(1.2)),
    function(n) mlp(rep(n, 5), "relu", init_he()),
    function(n) mlp(rep(n, 5), "relu", init_orthogonal(sqrt(2))))
  for (mk in nets) {
    check(jac_limit(mk, c("mean_sq", "var_sq"), J = c(400, 200, 100), input = "fixed", depth = 4))
  }
  # dynamical isometry: orthogonal weights halve the variance of a ReLU
  # network's squared singular values (s_1 = 0 instead of -1)
  p <- function(init) ns$jacobian_predict(mlp(rep(50, 5), "relu", init), 1, 4, FALSE)$var_sq
  expect_equal(p(init_he()), 8, tolerance = 1e-6)
  expect_equal(p(init_orthogonal(sqrt(2))), 4, tolerance = 1e-6)
})

test_that("Glorot and Bengio's average layer singular values: about 0.5 and 0.8", {
  # their section 4.2.2 (tanh, standard vs normalized initialization); with
  # inputs of mean square 0.1, as MNIST pixels, a 784-1000x5 network gives
  # 0.50 and 0.82 (2 networks, MCSE 0.002); a width of 200 here
  set.seed(20261204)
  avg <- function(init) {
    net <- mlp(c(160, rep(200, 5)), "tanh", init)
    mean(as.data.frame(jacobian_spectrum(net, 2, var_x = 0.1, depths = integer(0)))$mean_sv)
  }
  expect_lt(abs(avg(init_glorot_standard()) - 0.5), 0.05)
  expect_lt(abs(avg(init_glorot()) - 0.8), 0.05)
})

test_that("bad input is an error naming jacobian_spectrum() and the argument", {
  net <- mlp(c(4, 4, 3), "tanh", init_glorot())
  jerr <- function(expr, pattern) {
    e <- tryCatch({ expr; NULL }, error = identity)
    expect_false(is.null(e))
    expect_s3_class(e, "initvar_error")
    expect_identical(as.character(conditionCall(e)[[1]]), "jacobian_spectrum")
    expect_match(conditionMessage(e), pattern)
  }
  jerr(jacobian_spectrum("net"), "`net` must be a network from `mlp\\(\\)`")
  jerr(jacobian_spectrum(net, networks = 1), "`networks` must be")
  jerr(jacobian_spectrum(net, networks = 2.5), "`networks` must be")
  jerr(jacobian_spectrum(net, networks = NA), "`networks` must be")
  jerr(jacobian_spectrum(net, input = "cauchy"), "`input` must be one of")
  jerr(jacobian_spectrum(net, input = c(1, 2)), "`input` must be .* length 4")
  jerr(jacobian_spectrum(net, input = c(1, 2, NA, 4)), "`input\\[3\\]` must be a finite number")
  jerr(jacobian_spectrum(net, var_x = -1), "`var_x` must be")
  jerr(jacobian_spectrum(net, depths = c(1, 3)), "`depths\\[2\\]` must be a whole number between 1 and 2, not 3")
  jerr(jacobian_spectrum(net, depths = "a"), "`depths` must be")
  jerr(jacobian_spectrum(net, layers = NA), "`layers` must be TRUE or FALSE")
  jerr(jacobian_spectrum(net, depths = integer(0), layers = FALSE), "`depths` must be a non-empty")
  jerr(jacobian_spectrum(net, threads = 0), "`threads` must be")
  jerr(jacobian_spectrum(mlp(rep(256, 51), "linear"), networks = 1e6),
       "`networks` must be at most [0-9,]+ for this network")
  rnet <- mlp(c(3, 3, 3), activation("sq", f = function(x) x^2, df = function(x) 2 * x))
  jerr(jacobian_spectrum(rnet), "`net` must use built-in activations: layer 1")
  js <- jacobian_spectrum(net, 3, depths = 2)
  e <- tryCatch(plot(js, depth = 1), error = identity)
  expect_match(conditionMessage(e), "`depth` must be one of the depths of `x` \\(2\\)")
  # overflow is an error naming `net`, never NaN
  huge <- mlp(rep(10, 41), "linear", init_normal(sd = 1e9))
  jerr(jacobian_spectrum(huge, 2), "`net`: the Jacobian of network 0 is not finite")
})

test_that("print(), summary() and plot() work", {
  set.seed(9)
  js <- jacobian_spectrum(mlp(c(30, 30, 30), "linear", init_lecun()), 6)
  expect_output(print(js), "Jacobian spectrum")
  s <- summary(js)
  # 6 networks are too few for a calibrated verdict on var_sq at depth 2
  v <- s[s$statistic == "var_sq" & s$kind == "product" & s$depth == 2, ]
  expect_true(is.na(v$consistent) && v$networks_needed > 6)
  expect_output(print(js), "Too few networks")
  expect_setequal(unique(s$statistic), c("mean_sv", "mean_sq", "var_sq"))
  expect_true(all(c("estimate", "mcse", "prediction", "basis", "z", "p_value",
                    "consistent") %in% names(s)))
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_invisible(plot(js))
  expect_invisible(plot(js, depth = 1))
  js2 <- jacobian_spectrum(mlp(c(30, 20), "linear", init_lecun()), 4, layers = FALSE)
  expect_invisible(plot(js2))
  js3 <- jacobian_spectrum(mlp(c(10, 10, 10), "tanh", init_orthogonal()), 4)
  expect_invisible(plot(js3))
  expect_warning(expect_output(print(js3), "Jacobian spectrum"), NA)
})

test_that("one Gaussian layer's mean singular value: the 1/n term at widths 16 and 32", {
  skip_unless_full()
  # the layer rows of 4-layer Gaussian linear networks (independent layers),
  # one Holm family at 1e-3 over the 8 rows; the O(1/n^2) remainder (about
  # +0.5 / n^2 relative, measured) is below a third of the MCSE at these J
  set.seed(20261204)
  rows <- NULL
  for (n in c(16, 32)) {
    J <- c(`16` = 1000, `32` = 1500)[[as.character(n)]]
    net <- mlp(rep(n, 5), "linear", init_normal(0, sqrt(1.3 / n)))
    df <- as.data.frame(jacobian_spectrum(net, networks = J, depths = integer(0), layers = TRUE))
    expect_true(all(df$mean_sv_basis == "finite width (1/n)"))
    inf <- sqrt(1.3) * 8 / (3 * pi)
    expect_equal(df$mean_sv_pred, rep(inf + sqrt(1.3) * (1 / 2 - 2 / pi) / n, 4), tolerance = 1e-12)
    rows <- rbind(rows, data.frame(n = n,
      p = agreement(df$mean_sv, df$mean_sv_mcse, df$mean_sv_pred, df = J - 1)$p_value,
      p_inf = agreement(df$mean_sv, df$mean_sv_mcse, inf, df = J - 1)$p_value))
  }
  expect_true(all(p.adjust(rows$p, "holm") > 1e-3))
  # the infinite-width value is rejected at width 16, taken over the 4 layers
  # (Fisher's combination; its expected |z| per row is about 6)
  p16 <- rows$p_inf[rows$n == 16]
  expect_lt(stats::pchisq(-2 * sum(log(p16)), 2 * length(p16), lower.tail = FALSE), 1e-3)
})
