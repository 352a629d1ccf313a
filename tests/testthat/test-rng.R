# The generator: moments, distribution, chunk independence, reproducibility.

n <- 1e6

test_that("uniform draws have the moments of U(0, 1) up to the fourth", {
  set.seed(101)
  u <- as.vector(sample_weights(init_uniform(0, 1), n, 1))
  expect_true(all(u > 0 & u < 1))
  for (k in 1:4) expect_mean(u^k, 1 / (k + 1))
  expect_ks(u, "punif")
})

test_that("normal draws have the moments of N(0, 1) up to the fourth", {
  set.seed(102)
  z <- as.vector(sample_weights(init_normal(0, 1), n, 1))
  expect_mean(z, 0)
  expect_mean(z^2, 1)
  expect_mean(z^3, 0)
  expect_mean(z^4, 3)
  expect_ks(z, "pnorm")
  # the ziggurat's tail (beyond 3.654) has the right mass
  tail <- mean(abs(z) > 3.6541528853610088)
  p <- 2 * pnorm(-3.6541528853610088)
  expect_lte(abs(tail - p), 5 * sqrt(p * (1 - p) / n))
})

test_that("chunks are independent streams", {
  chunk <- 65536
  set.seed(103)
  u <- as.vector(sample_weights(init_uniform(0, 1), 8 * chunk, 1))
  m <- matrix(u, chunk)            # column c = chunk c
  r <- cor(m)[upper.tri(diag(8))]  # 28 correlations, each ~ N(0, 1/chunk)
  expect_lte(max(abs(r)), 5 / sqrt(chunk))
  # lag-1 autocorrelation within and across chunk boundaries
  expect_lte(abs(cor(u[-1], u[-length(u)])), 5 / sqrt(length(u)))
  # no two chunks start alike
  expect_equal(length(unique(m[1, ])), 8)
})

test_that("the same seed gives the same matrix, another seed another", {
  set.seed(7); a <- sample_weights(init_glorot("normal"), 300, 200)
  set.seed(7); b <- sample_weights(init_glorot("normal"), 300, 200)
  set.seed(8); c <- sample_weights(init_glorot("normal"), 300, 200)
  expect_identical(a, b)
  expect_false(any(a == c))
})

test_that("results do not depend on the number of threads", {
  schemes <- list(init_uniform(), init_normal(), init_truncated_normal(),
                  init_truncated_normal(lower = 3, upper = Inf),
                  init_orthogonal(), init_sparse(0.5))
  for (s in schemes) {
    set.seed(9); a <- sample_weights(s, 700, 500, threads = 1)
    set.seed(9); b <- sample_weights(s, 700, 500, threads = 2)
    expect_identical(a, b)
  }
})

test_that("a call takes its seed from R's RNG and advances it by two draws", {
  set.seed(11)
  sample_weights(init_normal(), 3, 3)
  after <- runif(1)
  set.seed(11)
  expect_identical(runif(3)[3], after)
  # deterministic schemes leave it alone
  set.seed(11)
  sample_weights(init_identity(), 3, 3)
  expect_identical(runif(1), {set.seed(11); runif(1)})
})
