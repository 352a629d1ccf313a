# Issue 21: transformer predictions whose cost exploded with the logit
# scale or seq_len, and their reproducers. Answers against independent
# references; run times bounded generously (measurements are in NEWS.md).

elapsed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}

# m = 2: A_1 = plogis(D), D = L_1 - L_2 ~ N(0, 2 sigma^2). By stats::integrate
# in z = D / sd for small sd, and for large sd as 1/2 + E[plogis(D)^k -
# 1{D > 0}] in D, whose integrand decays like exp(-|D|) whatever the sd.
ref_m2 <- function(sigma) {
  sd <- sqrt(2) * sigma
  if (sigma == 0) return(c(1 / 4, 1 / 8, 1 / 16, 1 / 16))
  if (sigma <= 30) {
    e <- function(h) stats::integrate(function(z) h(sd * z) * stats::dnorm(z), -Inf, Inf,
                                      rel.tol = 1e-13, subdivisions = 1000)$value
    return(c(vapply(2:4, function(k) e(function(x) stats::plogis(x)^k), 0),
             e(function(x) (stats::plogis(x) * stats::plogis(-x))^2)))
  }
  dens <- function(x) exp(stats::dnorm(x / sd, log = TRUE) - log(sd))
  half <- function(h) {
    stats::integrate(function(x) h(x) * dens(x), -Inf, 0, rel.tol = 1e-13)$value +
      stats::integrate(function(x) h(x) * dens(x), 0, Inf, rel.tol = 1e-13)$value
  }
  c(vapply(2:4, function(k) 1 / 2 + half(function(x) stats::plogis(x)^k - (x > 0)), 0),
    half(function(x) (stats::plogis(x) * stats::plogis(-x))^2))
}

scales <- c(0, 1e-8, 1, 8, 30, 1e3, 1e100, 1e300)

test_that("the softmax moments match stats::integrate at every logit scale (m = 2)", {
  for (sigma in scales) {
    ref <- ref_m2(sigma)
    got <- initvar:::softmax_moments_exact(2, sigma)
    # the stated accuracy of the quadrature: 1e-9, relative (q22 ~ 1 / sigma)
    expect_equal(unname(got[c("p2", "p3", "q4", "q22")]), ref, tolerance = 1e-9,
                 info = paste("sigma =", sigma))
    expect_equal(unname(got[["q211"]]), 0)
    # the splines: 5e-6
    sp <- initvar:::softmax_moments(2, sigma)[1, ]
    expect_equal(unname(sp[c("p2", "p3", "q4", "q22")]), ref, tolerance = 5e-6,
                 info = paste("spline, sigma =", sigma))
  }
})

test_that("the softmax moments match Monte Carlo for m = 3 and 16 (MCSE)", {
  skip_unless_full()
  set.seed(21)
  n <- 2e5
  for (m in c(3, 16)) {
    for (sigma in c(1, 8, 30, 1e3)) {
      L <- matrix(stats::rnorm(n * m, sd = sigma), n)
      L <- L - apply(L, 1, max)
      A <- exp(L)
      A <- A / rowSums(A)
      # per draw, averages over the m (or m (m - 1), ...) exchangeable slots
      x <- cbind(p2 = rowMeans(A^2), p3 = rowMeans(A^3), q4 = rowMeans(A^4),
                 q22 = (rowSums(A^2)^2 - rowSums(A^4)) / (m * (m - 1)),
                 q211 = (rowSums(A^2) * rowSums(A)^2 - 2 * rowSums(A^3) * rowSums(A) -
                           rowSums(A^2)^2 + 2 * rowSums(A^4)) / (m * (m - 1) * (m - 2)))
      est <- colMeans(x)
      se <- apply(x, 2, stats::sd) / sqrt(n)
      got <- initvar:::softmax_moments(m, sigma)[1, ]
      z <- (est - got) / se
      expect_true(all(abs(z) < 4.5), info = sprintf("m = %d, sigma = %g: z = %s", m, sigma,
                                                     paste(round(z, 2), collapse = ", ")))
    }
  }
})

test_that("q211 closes the identity E[A^2 (1 - A)^2] = (m - 1) q22 + (m - 1) (m - 2) q211", {
  for (m in c(3, 7, 64)) {
    for (sigma in c(0.3, 1.2, 2, 6)) {
      e <- initvar:::softmax_moments_exact(m, sigma)
      lhs <- e[["p2"]] - 2 * e[["p3"]] + e[["q4"]]
      expect_equal((m - 1) * e[["q22"]] + (m - 1) * (m - 2) * e[["q211"]], lhs, tolerance = 1e-8)
    }
  }
})

test_that("both sides of the branch points agree, and the argmax is the limit", {
  skip_unless_full()
  for (m in c(2, 5, 256, 4096)) {
    # sigma = 8: the splines in sigma and in 1 / sigma
    lo <- initvar:::softmax_moments(m, 8 - 1e-7)
    hi <- initvar:::softmax_moments(m, 8 + 1e-7)
    expect_equal(lo, hi, tolerance = 1e-6)
    # sigma = 1.5: Gauss-Hermite and the wide quadrature
    expect_equal(initvar:::softmax_moments_exact(m, 1.5), initvar:::softmax_moments_exact(m, 1.5 + 1e-9),
                 tolerance = 1e-8)
    big <- initvar:::softmax_moments(m, c(1e100, 1e300, Inf))
    expect_equal(unname(big[, "p2"]), rep(1 / m, 3), tolerance = 1e-12)
    expect_equal(unname(big[3, "q22"]), 0)
    # q22 ~ c / sigma: sigma q22 converges
    expect_equal(1e300 * big[2, "q22"], 1e100 * big[1, "q22"], tolerance = 1e-8)
    # the spline against the exact values, between knots, up to 1e300
    s <- c(0.033, 1.47, 1.53, 7.99, 8.01, 11.3, 77.7, 3.1e4, 1e300)
    ex <- t(vapply(s, function(v) initvar:::softmax_moments_exact(m, v), numeric(5)))
    sp <- initvar:::softmax_moments(m, s)
    keep <- ex > 0
    expect_lt(max(abs(sp[keep] / ex[keep] - 1)), 5e-6)
  }
})

test_that("the uniform-attention sandwiches equal the dense products", {
  set.seed(3)
  for (T in c(1, 2, 7)) {
    M <- crossprod(matrix(stats::rnorm(T * T), T))
    for (causal in c(FALSE, TRUE)) {
      A <- initvar:::uniform_attention(T, causal)
      expect_equal(initvar:::uniform_sandwich(M, causal), A %*% M %*% t(A), tolerance = 1e-13)
      expect_equal(initvar:::uniform_sandwich_t(M, causal), t(A) %*% M %*% A, tolerance = 1e-13)
    }
  }
})

test_that("a width-8 one-block prediction at scale 1e300 is fast and is the argmax", {
  # one-hot attention of T = 2 iid tokens passes a value's full variance
  # where uniform attention passes half of it: var_s - 1 doubles
  tm <- elapsed({
    p <- predict_variance(transformer(8, 1, depth = 1, seq_len = 2, scale = 1e300),
                          regime = "mean_field")
  })
  expect_lt(tm, 20)
  p0 <- predict_variance(transformer(8, 1, depth = 1, seq_len = 2, scale = 0), regime = "mean_field")
  expect_equal(p$var_s[1] - 1, 2 * (p0$var_s[1] - 1), tolerance = 1e-12)
  # the logit path's gradient grows like the scale (scale^2 / sigma):
  # linear between 1e100 and 1e300, no overflow and no loss to the argmax
  g <- vapply(c(1e100, 1e300), function(s) {
    attr(predict_variance(transformer(8, 1, depth = 1, seq_len = 2, scale = s),
                          regime = "mean_field"), "var_grad_input")
  }, 0)
  expect_true(all(is.finite(g)))
  expect_equal(g[2] / 1e300, g[1] / 1e100, tolerance = 1e-8)
})

test_that("simulate_network() of a 50-block transformer without normalization finishes", {
  net <- transformer(2, 1, depth = 50, seq_len = 2, norm = "none")
  tm <- elapsed(s <- simulate_network(net, 2, 2))
  expect_lt(tm, 30)
  expect_s3_class(s, "initvar_simulation")
  # the mean-field gradient through the logits grows by a factor of order
  # the layer's variance per attention sublayer (scale^2 / sigma, sigma ~
  # the variance): past the doubles, an error, not Inf or NaN
  expect_error(p <- predict_variance(net, regime = "mean_field"),
               "gradient variance overflows at sublayer", class = "initvar_error")
  # 20 blocks stay finite: without normalization, skip = 1, every
  # sublayer adds a variance
  p <- predict_variance(transformer(2, 1, depth = 20, seq_len = 2, norm = "none"),
                        regime = "mean_field")
  expect_true(all(is.finite(p$var_z)) && all(is.finite(p$var_grad_s)))
  expect_true(all(diff(p$var_z) > 0))
})

test_that("variances that overflow are an error naming the sublayer", {
  net <- transformer(2, 1, depth = 600, seq_len = 2, norm = "none", alpha = 4)
  expect_error(predict_variance(net, regime = "mean_field"), "overflows at sublayer",
               class = "initvar_error")
})

test_that("attention_logits() refuses up front a scale beyond its sums' range", {
  err <- expect_error(attention_logits(8, 2, scale = 1e100, seq_len = 3, inputs = 1, networks = 10),
                      "`scale` must be at most", class = "initvar_error")
  expect_match(conditionMessage(err), "not 1e\\+100")
  expect_identical(as.character(conditionCall(err)[[1]]), "attention_logits")
  # at the limit the summaries are finite
  set.seed(4)
  lim <- as.numeric(sub(".*at most ([^ ]+) for.*", "\\1", conditionMessage(err)))
  a <- attention_logits(8, 2, scale = lim * 0.99, seq_len = 3, inputs = 1, networks = 10)
  expect_false(anyNA(a$table$estimate))
  expect_true(all(is.finite(a$table$estimate)))
})

test_that("transformer() with a missing argument names transformer() and the argument", {
  err <- expect_error(transformer(8, 2), "`depth` is missing", class = "initvar_error")
  expect_identical(as.character(conditionCall(err)[[1]]), "transformer")
  expect_error(transformer(8, depth = 2, seq_len = 2), "`heads` is missing", class = "initvar_error")
})

test_that("long sequences: a causal seq_len = 512 prediction is quadratic, not cubic", {
  skip_unless_full()
  net <- transformer(8, 2, depth = 1, seq_len = 512, architecture = "decoder")
  tm <- elapsed(p <- predict_variance(net, regime = "mean_field"))
  expect_lt(tm, 120)
  expect_true(all(is.finite(p$var_z)))
})

test_that("a non-homogeneous FFN activation: distinct pairs only, and a stated limit", {
  # bidirectional: the kernel has two distinct entries, whatever seq_len
  net <- transformer(8, 2, depth = 1, seq_len = 40, activation = "tanh")
  tm <- elapsed(p <- predict_variance(net, regime = "mean_field"))
  expect_lt(tm, 60)
  expect_true(all(is.finite(p$var_z)))
  # causal: T (T + 1) / 2 distinct pairs, refused before any work
  net <- transformer(8, 2, depth = 1, seq_len = 40, architecture = "decoder", activation = "tanh")
  tm <- elapsed(err <- expect_error(predict_variance(net, regime = "mean_field"),
                                    "`seq_len` must be at most 31", class = "initvar_error"))
  expect_lt(tm, 5)
  expect_match(conditionMessage(err), "not 40")
})

# The first prediction of a session builds the softmax tables: its sums in
# C (src/softmax.c: the Gaussian smoothing by a recurrence, the powers
# a^(m - 1) by repeated multiplication) agree with the R sums they replace
# (engine = "R"), at every branch: sigma = 0, the Gauss-Hermite branch, the
# wide branch (u in steps of 1/8, then v in steps of 1/32), the knot at
# sigma = Inf and m unsorted.
test_that("the softmax moments' C sums equal the R sums", {
  ms <- c(4096, 2, 3, 1, 7, 300, 64)
  for (s in c(0, 0.05, 1.5, 1.6, 4, 8, 300, 1e300, Inf)) {
    for (sc in c(FALSE, TRUE)) {
      a <- initvar:::softmax_moments_exact(ms, s, scaled = sc)
      b <- initvar:::softmax_moments_exact(ms, s, scaled = sc, engine = "R")
      expect_equal(a, b, tolerance = 1e-12)
    }
  }
})

test_that("the splines of many m at once equal those of one m", {
  sig <- c(0.3, 2, 7.9, 8.1, 50, 1e5)
  w <- c(0.1, 0.2, 0.3, 0.2, 0.1, 0.1)
  ms <- c(1, 2, 3, 17, 3, 1)
  all <- initvar:::softmax_moments_mean(ms, sig, w)
  for (j in seq_along(ms)) {
    one <- colSums(initvar:::softmax_moments(ms[j], sig) * w)
    expect_equal(all[j, ], one, tolerance = 1e-13)
  }
  expect_equal(all[ms == 1, ], matrix(c(1, 1, 1, 0, 0), 2, 5, byrow = TRUE,
                                      dimnames = list(NULL, colnames(all))))
})

test_that("the causal uniform sandwiches equal the matrix products", {
  set.seed(3)
  for (T in c(1, 2, 9, 33)) {
    M <- matrix(rnorm(T * T), T)
    A <- initvar:::uniform_attention(T, TRUE)
    expect_equal(initvar:::uniform_sandwich(M, TRUE), A %*% M %*% t(A), tolerance = 1e-13)
    expect_equal(initvar:::uniform_sandwich_t(M, TRUE), t(A) %*% M %*% A, tolerance = 1e-13)
  }
})

# The first prediction's cost: the tables of one m (bidirectional) in
# about 1 s of CPU (was 4 s; bounded generously for loaded machines).
test_that("a fresh table for one m is cheap", {
  m <- 1234 + sample.int(1000, 1)   # not cached by an earlier test
  t <- system.time(initvar:::softmax_prepare(m))[["user.self"]]
  expect_lt(t, 4)
})
