# Each scheme: mean, variance against weight_variance(), bounds, KS.

test_that("uniform: bounds, moments and distribution", {
  s <- init_uniform(-0.3, 0.5)
  set.seed(201)
  w <- as.vector(sample_weights(s, 1000, 500))
  expect_true(all(w > -0.3 & w < 0.5))
  expect_equal(weight_mean(s, 1000, 500), 0.1)
  expect_equal(weight_variance(s, 1000, 500), 0.8^2 / 12)
  expect_mean(w, weight_mean(s, 1000, 500))
  expect_variance(w, weight_variance(s, 1000, 500))
  expect_ks(w, "punif", -0.3, 0.5)
})

test_that("normal: moments and distribution", {
  s <- init_normal(0.2, 0.05)
  set.seed(202)
  w <- as.vector(sample_weights(s, 1000, 500))
  expect_mean(w, 0.2)
  expect_variance(w, weight_variance(s, 1000, 500))
  expect_equal(weight_variance(s, 1, 1), 0.05^2)
  expect_ks(w, "pnorm", 0.2, 0.05)
})

test_that("truncated normal: every sampler path is exact", {
  # bounds chosen to exercise normal, uniform and exponential rejection,
  # the mirror image, and the far tail
  cases <- list(c(-2, 2), c(3, Inf), c(-Inf, -5), c(0.1, 0.15),
                c(-0.5, 4), c(8, 9), c(-1, 0), c(-Inf, Inf), c(25, 26))
  for (i in seq_along(cases)) {
    ab <- cases[[i]]
    s <- init_truncated_normal(mean = 1, sd = 2, lower = ab[1], upper = ab[2])
    set.seed(300 + i)
    w <- as.vector(sample_weights(s, 2e5, 1))
    lo <- 1 + 2 * ab[1]
    hi <- 1 + 2 * ab[2]
    expect_true(all(w >= lo & w <= hi))
    expect_mean(w, weight_mean(s, 1))
    expect_variance(w, weight_variance(s, 1))
    expect_ks(w, ptrunc, mean = 1, sd = 2, a = ab[1], b = ab[2])
  }
})

test_that("truncated normal with absolute bounds, as torch's trunc_normal_", {
  s <- init_truncated_normal(mean = 0, sd = 0.02, lower = -2, upper = 2,
                             bounds = "absolute")
  # the bounds are 100 sd away: the realized variance is the normal's
  expect_equal(weight_variance(s, 1), 0.02^2, tolerance = 1e-12)
  s2 <- init_truncated_normal(mean = 1, sd = 2, lower = 0, upper = 3,
                              bounds = "absolute")
  s3 <- init_truncated_normal(mean = 1, sd = 2, lower = -0.5, upper = 1)
  expect_equal(weight_variance(s2, 1), weight_variance(s3, 1))
  set.seed(310)
  w <- as.vector(sample_weights(s2, 1e5, 1))
  expect_true(all(w >= 0 & w <= 3))
})

test_that("exact truncated moments match direct numerical integration", {
  brute <- function(a, b) {
    z <- integrate(dnorm, a, b, rel.tol = 1e-13)$value
    m <- integrate(function(x) x * dnorm(x), a, b, rel.tol = 1e-13)$value / z
    v <- integrate(function(x) (x - m)^2 * dnorm(x), a, b, rel.tol = 1e-13)$value / z
    c(mean = m, var = v)
  }
  for (ab in list(c(-2, 2), c(-1, 3), c(0.5, 2.5), c(-3, -0.2), c(2.9, 3.1),
                  c(-0.01, 0.04), c(1, 1.05))) {
    expect_equal(initvar:::tn_moments(ab[1], ab[2]), brute(ab[1], ab[2]),
                 tolerance = 1e-9)
  }
  # continuity where the method switches (a = 3, width 0.1)
  expect_equal(initvar:::tn_moments(2.999999, Inf), initvar:::tn_moments(3.000001, Inf),
               tolerance = 1e-5)
  expect_equal(initvar:::tn_moments(0, 0.0999999), initvar:::tn_moments(0, 0.1000001),
               tolerance = 1e-5)
  # far tail: Var -> 1 / a^2 (Mills ratio expansion: 1/a^2 - 6/a^4 + ...)
  a <- 1000
  expect_equal(initvar:::tn_moments(a, Inf)[["var"]], 1 / a^2 - 6 / a^4, tolerance = 1e-6)
  # the Keras/JAX correction constant is the sd of N(0, 1) truncated to [-2, 2]
  expect_equal(sqrt(initvar:::tn_moments(-2, 2)[["var"]]), 0.87962566103423978,
               tolerance = 1e-15)
})

test_that("constant, zeros and ones", {
  expect_identical(sample_weights(init_constant(0.5), 2, 3), matrix(0.5, 2, 3))
  expect_identical(sample_weights(init_zeros(), dim = 4), rep(0, 4))
  expect_identical(sample_weights(init_ones(), dim = c(2, 2, 2)), array(1, c(2, 2, 2)))
  expect_equal(weight_variance(init_ones(), 3), 0)
  expect_equal(weight_mean(init_constant(-2), 3), -2)
})

test_that("identity: rectangular and Dirac kernels", {
  expect_identical(sample_weights(init_identity(2), 3, 5),
                   cbind(diag(2, 3), matrix(0, 3, 2)))
  expect_identical(sample_weights(init_identity(), 4, 2), diag(1, 4, 2))
  # torch dirac_: (out, in, k1, k2), gain at the kernel centre
  k <- sample_weights(init_identity(), dim = c(4, 3, 3, 5), layout = "torch")
  expect_equal(sum(k), 3)
  for (i in 1:3) expect_equal(k[i, i, 2, 3], 1)
  # Keras layout (k1, k2, in, out)
  k <- sample_weights(init_identity(), dim = c(3, 3, 2, 2), layout = "keras")
  expect_equal(k[2, 2, , ], diag(2))
  expect_equal(sum(k), 2)
  # mean and variance of the entries of the fixed matrix
  W <- sample_weights(init_identity(3), 4, 6)
  expect_equal(weight_mean(init_identity(3), 4, 6), mean(W))
  expect_equal(weight_variance(init_identity(3), 4, 6), mean((W - mean(W))^2))
})

test_that("orthogonal: orthonormal columns or rows to 1e-12", {
  set.seed(401)
  W <- sample_weights(init_orthogonal(), 60, 25)
  expect_lt(max(abs(crossprod(W) - diag(25))), 1e-12)
  W <- sample_weights(init_orthogonal(), 25, 60)
  expect_lt(max(abs(tcrossprod(W) - diag(25))), 1e-12)
  W <- sample_weights(init_orthogonal(2), 30, 30)
  expect_lt(max(abs(crossprod(W) - diag(4, 30))), 1e-12)
  expect_lt(max(abs(tcrossprod(W) - diag(4, 30))), 1e-12)
  # a torch conv kernel (out, in, k, k): the out filters are orthonormal
  K <- sample_weights(init_orthogonal(), dim = c(8, 3, 3, 3), layout = "torch")
  F <- matrix(K, 8)
  expect_lt(max(abs(tcrossprod(F) - diag(8))), 1e-12)
  K <- sample_weights(init_orthogonal(), dim = c(3, 3, 3, 8), layout = "keras")
  F <- matrix(K, ncol = 8)
  expect_lt(max(abs(crossprod(F) - diag(8))), 1e-12)
})

test_that("orthogonal: Haar distributed (signs corrected)", {
  skip_unless_full()
  # For a Haar orthogonal 3 x 3 matrix, W[1, 1] is the first coordinate of a
  # uniform point on the sphere: mean 0, variance 1/3, and the law of
  # (W11 + 1) / 2 is Beta(1, 1) = uniform. Without the sign correction,
  # LAPACK's Householder QR makes W[1, 1] always negative.
  set.seed(402)
  w11 <- replicate(4000, sample_weights(init_orthogonal(), 3, 3)[1, 1])
  expect_mean(w11, 0)
  expect_mean(w11^2, 1 / 3)
  expect_ks((w11 + 1) / 2, "punif")
  expect_equal(weight_variance(init_orthogonal(), 3, 3), 1 / 3)
  expect_equal(weight_variance(init_orthogonal(3), 10, 40), 9 / 40)
})

test_that("orthogonal: entry variance gain^2 / max(rows, cols)", {
  set.seed(403)
  v <- replicate(50, mean(sample_weights(init_orthogonal(1.5), 40, 10)[, 1]^2))
  # column norms are exactly gain^2: the estimate is exact
  expect_equal(mean(v), weight_variance(init_orthogonal(1.5), 40, 10), tolerance = 1e-12)
})

test_that("sparse: exact zeros per column, normal non-zeros, uniform positions", {
  s <- init_sparse(sparsity = 0.3, sd = 0.5)
  set.seed(501)
  W <- sample_weights(s, 50, 4000)
  expect_true(all(colSums(W == 0) == 15))
  nz <- W[W != 0]
  expect_ks(nz, "pnorm", 0, 0.5)
  # every row equally likely to be zeroed: chi-square on the row counts
  counts <- rowSums(W == 0)
  p <- chisq.test(counts, p = rep(1 / 50, 50))$p.value
  expect_gt(p, 0.001)
  expect_equal(weight_variance(s, 50, 4000), 0.25 * (1 - 15 / 50))
  expect_variance(as.vector(W), weight_variance(s, 50, 4000))
  # ceiling, as torch: 0.3 * 7 = 2.1 -> 3 zeros
  W <- sample_weights(s, 7, 10)
  expect_true(all(colSums(W == 0) == 3))
  expect_equal(sample_weights(init_sparse(0), 3, 3) != 0, matrix(TRUE, 3, 3))
})

test_that("variance scaling: the named schemes are its special cases", {
  fi <- 300; fo <- 120
  expect_equal(weight_variance(init_glorot(), fi, fo), 2 / (fi + fo))
  expect_equal(weight_variance(init_glorot("normal", gain = 5 / 3), fi, fo),
               (5 / 3)^2 * 2 / (fi + fo))
  expect_equal(weight_variance(init_he(), fi, fo), 2 / fi)
  expect_equal(weight_variance(init_he(mode = "fan_out"), fi, fo), 2 / fo)
  expect_equal(weight_variance(init_he("uniform", a = 0.2), fi, fo), 2 / (1.04 * fi))
  expect_equal(weight_variance(init_lecun(), fi, fo), 1 / fi)
  expect_equal(weight_variance(init_glorot_standard(), fi, fo), 1 / (3 * fi))
  expect_equal(weight_variance(init_torch_default(), fi, fo), 1 / (3 * fi))
  expect_equal(weight_variance(init_variance_scaling(2, "fan_geo_avg", "uniform"), fi, fo),
               2 / sqrt(fi * fo))
  expect_equal(weight_variance(init_variance_scaling(1, "fan_avg"), fi, fo), 2 / (fi + fo))
  # Glorot's eq. 1 and torch's default: U[-1/sqrt(fan_in), 1/sqrt(fan_in)]
  set.seed(601)
  W <- sample_weights(init_torch_default(), 400, 300)
  expect_true(all(abs(W) < 1 / sqrt(400)))
  expect_gt(max(abs(W)), 0.999 / sqrt(400))
  expect_ks(as.vector(W), "punif", -1 / sqrt(400), 1 / sqrt(400))
  # Glorot's eq. 16: U[-sqrt(6 / (n_in + n_out)), +]
  W <- sample_weights(init_glorot(), 400, 300)
  b <- sqrt(6 / 700)
  expect_ks(as.vector(W), "punif", -b, b)
  expect_variance(as.vector(W), 2 / 700)
})

test_that("framework conventions for 'normal'", {
  v <- 2 / 200
  wv <- function(s) weight_variance(s, 100, 100)
  # torch and initvar: untruncated
  expect_equal(wv(init_glorot("normal", convention = "torch")), v)
  expect_equal(wv(init_glorot("normal")), v)
  # keras and jax glorot_normal: corrected truncated normal, variance = target
  expect_equal(wv(init_glorot("normal", convention = "keras")), v, tolerance = 1e-14)
  expect_equal(wv(init_glorot("normal", convention = "jax")), v, tolerance = 1e-14)
  # jax's variance_scaling(distribution = "normal") is untruncated, keras's is not
  expect_identical(init_variance_scaling(1, "fan_avg", "normal", "jax")$draw, "normal")
  expect_identical(init_variance_scaling(1, "fan_avg", "normal", "keras")$draw,
                   "truncated_normal")
  # tfjs: truncated without correction
  expect_equal(wv(init_glorot("normal", convention = "tfjs")) / v,
               0.87962566103423978^2, tolerance = 1e-14)
  expect_equal(0.87962566103423978^2, 0.7737, tolerance = 1e-4)
  # torch has no truncated variance scaling
  expect_error(init_he("truncated_normal", convention = "torch"), "torch")
  # keras-style draws realize the target variance and stay within 2 sd
  set.seed(701)
  s <- init_he("normal", convention = "keras")
  W <- as.vector(sample_weights(s, 500, 400))
  sd0 <- sqrt(2 / 500) / 0.87962566103423978
  expect_true(all(abs(W) <= 2 * sd0))
  expect_variance(W, 2 / 500)
  s <- init_he("normal", convention = "tfjs")
  W <- as.vector(sample_weights(s, 500, 400))
  expect_variance(W, 0.87962566103423978^2 * 2 / 500)
})

test_that("dim: kernel shapes use the fans of their layout", {
  set.seed(801)
  K <- sample_weights(init_he(), dim = c(32, 16, 3, 3), layout = "torch")
  expect_identical(dim(K), c(32L, 16L, 3L, 3L))
  expect_equal(weight_variance(init_he(), dim = c(32, 16, 3, 3), layout = "torch"), 2 / (16 * 9))
  expect_variance(as.vector(K), 2 / (16 * 9))
  expect_equal(weight_variance(init_glorot(), dim = c(3, 3, 16, 32), layout = "keras"),
               2 / (16 * 9 + 32 * 9))
  expect_equal(weight_variance(init_he(), dim = c(32, 16, 3, 3), layout = "torch"),
               weight_variance(init_he(), dim = c(3, 3, 16, 32), layout = "keras"))
})

test_that("print and format describe the scheme", {
  expect_match(format(init_glorot()), "Var\\(W\\) = v = 2 / \\(fan_in \\+ fan_out\\)")
  expect_match(format(init_he("normal", convention = "tfjs")), "0.7737")
  expect_match(format(init_glorot_standard()), "1 / \\(3 fan_in\\)")
  expect_snapshot(print(init_glorot()))
  expect_snapshot(print(init_he("normal", convention = "keras")))
  expect_snapshot(print(init_truncated_normal(sd = 0.02)))
  expect_snapshot(print(init_sparse(0.9)))
  expect_snapshot(print(init_orthogonal()))
})

test_that("sparse in the torch layout reproduces torch's sparse_() orientation", {
  set.seed(502)
  # torch: weight (out = 10, in = 6); ceil(0.55 * 10) = 6 zeros in each column
  W <- sample_weights(init_sparse(0.55, 1), dim = c(10, 6), layout = "torch")
  expect_identical(dim(W), c(10L, 6L))
  expect_true(all(colSums(W == 0) == ceiling(0.55 * 10)))
  expect_equal(weight_variance(init_sparse(0.55, 1), dim = c(10, 6), layout = "torch"), 1 - 6 / 10)
  # ceiling as torch computes it, in floating point: 0.55 * 100 > 55
  W <- sample_weights(init_sparse(0.55, 1), 100, 3)
  expect_true(all(colSums(W == 0) == 56))
  expect_error(sample_weights(init_sparse(), dim = c(4, 3, 3, 3), layout = "torch"), "2-dimensional")
})

test_that("fan-free schemes need no layer size for their moments", {
  expect_equal(weight_variance(init_truncated_normal()), 0.87962566103423978^2,
               tolerance = 1e-15)
  expect_equal(weight_mean(init_uniform(1, 3)), 2)
  expect_error(weight_variance(init_glorot()), "`fan_in` is missing")
  expect_error(sample_weights(init_normal()), "`fan_in` is missing")
})

test_that("narrow and far-out truncation intervals are sampled, not looped on", {
  cases <- list(c(-1e-20, 1e-20), c(1e-20, 2e-20), c(-1e-300, 1e-300), c(1e200, Inf),
                c(1e200, 2e200), c(-Inf, -1e200), c(40, 40.5))
  set.seed(503)
  for (ab in cases) {
    w <- sample_weights(init_truncated_normal(lower = ab[1], upper = ab[2]), 50, 2)
    expect_true(all(w >= ab[1] & w <= ab[2]))
  }
  # the narrow interval around 0 is uniform to within the density's variation
  w <- as.vector(sample_weights(init_truncated_normal(lower = -1e-3, upper = 1e-3), 1e5, 1))
  expect_ks(w, "punif", -1e-3, 1e-3)
})

test_that("forked children can sample after the parent used threads", {
  skip_on_os("windows")
  skip_on_cran()
  set.seed(504)
  a <- sample_weights(init_normal(), 300, 300, threads = 2)
  res <- parallel::mclapply(1:2, function(i) {
    set.seed(i)
    sum(sample_weights(init_normal(), 300, 300, threads = 2))
  }, mc.cores = 2)
  expect_true(all(vapply(res, is.numeric, TRUE)))
  set.seed(1)
  expect_equal(res[[1]], sum(sample_weights(init_normal(), 300, 300, threads = 1)))
})

test_that("dim names are not carried into the result", {
  expect_null(names(dim(sample_weights(init_normal(), dim = c(a = 2, b = 3)))))
})

test_that("weight_variance() and weight_mean() take vectors of fans", {
  fi <- c(784, 256, 128); fo <- c(256, 128, 10)
  expect_equal(weight_variance(init_glorot(), fi, fo), 2 / (fi + fo))
  expect_equal(weight_variance(init_he(), fi), 2 / fi)
  expect_equal(weight_mean(init_uniform(0, 1), fi, fo), rep(0.5, 3))
  expect_error(weight_variance(init_glorot(), c(10, -1), 5), "`fan_in`")
})
