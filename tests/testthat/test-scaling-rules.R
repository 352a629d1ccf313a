# Scaling rules: the published constants, and the linear-stack growth
# against a plain-R simulation (Bonferroni over the grid: a correct
# implementation fails this file by chance with probability < 1 / 1000).

test_that("Fixup: L^(-1/(2m-2)) on the first m - 1 layers, zero last layer; m = 1 is the zero branch", {
  r <- scaling_rule("fixup", 16, branch_depth = 2)
  expect_equal(r$gains, c(0.25, 0))
  expect_equal(scaling_rule("fixup", 16, branch_depth = 3)$gains, c(0.5, 0.5, 0))
  expect_equal(residual_growth(r), 1)
  r3 <- scaling_rule("fixup", 81, branch_depth = 3, zero_last = FALSE)
  expect_equal(r3$gains, c(1 / 3, 1 / 3, 1))
  # the m - 1 scaled layers multiply the branch variance by 1 / L
  expect_equal(r3$per_block, 1 + 1 / 81)
  expect_equal(residual_growth(r3), (1 + 1 / 81)^81)
  r1 <- scaling_rule("fixup", 10, branch_depth = 1)
  expect_equal(r1$gains, 0)
  expect_match(r1$note, "undefined for m = 1")
  expect_output(print(r1), "undefined")
})

test_that("SkipInit, ReZero, depth-muP and T-Fixup", {
  for (nm in c("skipinit", "rezero")) {
    r <- scaling_rule(nm, 50)
    expect_equal(r$alpha, 0)
    expect_equal(residual_growth(r, depth = c(10, 100)), c(1, 1))
  }
  r <- scaling_rule("depth_mup", 100)
  expect_equal(r$alpha, 0.1)
  expect_equal(residual_growth(r), 1.01^100)
  expect_equal(scaling_rule("depth_mup", 25, a = 2)$alpha, 0.4)
  expect_equal(scaling_rule("tfixup", 6)$gains, rep(0.67 * 6^(-1 / 4), 2))
  td <- scaling_rule("tfixup", 6, part = "decoder", decoder_depth = 6)
  expect_equal(td$gains, rep(54^(-1 / 4), 2))
  expect_equal(td$embedding_gain, 54^(-1 / 4))
})

test_that("DeepNet constants as published; torchscale's encoder beta is 1.15 / 0.87 = 1.32x", {
  e <- scaling_rule("deepnet", 6)
  expect_equal(c(e$skip, e$gains[1]), c(12^(1 / 4), 48^(-1 / 4)))
  d <- scaling_rule("deepnet", 18, architecture = "decoder")
  expect_equal(c(d$skip, d$gains[1]), c(36^(1 / 4), 144^(-1 / 4)))
  ed <- scaling_rule("deepnet", 6, architecture = "encoder_decoder", decoder_depth = 12)
  expect_equal(ed$skip, 0.81 * (6^4 * 12)^(1 / 16))
  expect_equal(ed$gains[1], 0.87 * (6^4 * 12)^(-1 / 16))
  ts <- scaling_rule("deepnet", 6, architecture = "encoder_decoder", decoder_depth = 12,
                     source = "torchscale")
  expect_equal(ts$gains[1] / ed$gains[1], 1.15 / 0.87)
  expect_equal(ts$skip, ed$skip)
  dd <- scaling_rule("deepnet", 6, architecture = "encoder_decoder", part = "decoder",
                     decoder_depth = 12)
  expect_equal(c(dd$skip, dd$gains[1]), c(36^(1 / 4), 144^(-1 / 4)))
  # branch share of the pre-normalization sum: beta^4 / (alpha^2 + beta^4)
  expect_equal(e$branch_share, 48^(-1) / (sqrt(12) + 48^(-1)))
})

test_that("scaling_rules() tabulates every rule at each depth", {
  t <- scaling_rules(c(10, 100))
  expect_equal(nrow(t), 2 * 7)
  expect_setequal(t$rule, c("standard", "fixup", "skipinit", "rezero", "deepnet", "tfixup", "depth_mup"))
  expect_equal(t$growth[t$rule == "standard"], 2^c(10, 100))
  expect_equal(t$growth[t$rule == "depth_mup"], c(1.1^10, 1.01^100))
  expect_true(all(t$growth[t$rule %in% c("fixup", "skipinit", "rezero")] == 1))
})

# Plain-R linear residual stacks, vectorized over replicates: R stacks of
# width n, each block drawing its own Gaussian branch matrices of variance
# g_i^2 / n; the squared-norm ratio |x_L|^2 / |x_0|^2 per replicate.
sim_stack <- function(R, n, L, skip, alpha, gains) {
  X <- matrix(rnorm(n), R, n, byrow = TRUE)         # the same x_0 for every replicate
  n0 <- sum(X[1, ]^2)
  for (l in seq_len(L)) {
    H <- X
    for (g in gains) {
      Y <- matrix(0, R, n)
      for (i in seq_len(n)) for (j in seq_len(n)) Y[, i] <- Y[, i] + rnorm(R, 0, g / sqrt(n)) * H[, j]
      H <- Y
    }
    X <- skip * X + alpha * H
  }
  rowSums(X^2) / n0
}

test_that("residual_growth() agrees with plain-R stacks (6 settings)", {
  skip_unless_full()
  set.seed(1601)
  settings <- list(
    list(rule = scaling_rule("standard", 4), n = 16),
    list(rule = scaling_rule("fixup", 5, branch_depth = 3, zero_last = FALSE), n = 12),
    list(rule = scaling_rule("depth_mup", 5), n = 16),
    list(rule = scaling_rule("tfixup", 4), n = 16),
    list(rule = scaling_rule("deepnet", 3), n = 10),
    list(rule = list(skip = 0.5, alpha = 2, gains = c(0.7, 1.3), depth = 3), n = 8))
  lvl <- 1 - 0.001 / length(settings)
  R <- 20000
  for (s in settings) {
    r <- s$rule
    ratio <- sim_stack(R, s$n, r$depth, r$skip, r$alpha, r$gains)
    pred <- if (inherits(r, "initvar_scaling_rule")) residual_growth(r) else
      residual_growth(depth = r$depth, skip = r$skip, alpha = r$alpha, gains = r$gains)
    ag <- initvar:::agreement(mean(ratio), sd(ratio) / sqrt(R), pred, df = R - 1, level = lvl)
    expect_true(ag$consistent, label = sprintf("%s: predicted %.4f, simulated %.4f (z = %.2f)",
                                               if (is.null(r$label)) "custom" else r$label,
                                               pred, mean(ratio), ag$z))
  }
  # zero branches give exactly 1
  expect_equal(sim_stack(10, 4, 3, 1, 0, c(1, 1)), rep(1, 10))
})

test_that("bad input is an error naming the function and the argument", {
  expect_error(scaling_rule("fixupp", 10), "`name` must be one of")
  expect_error(scaling_rule("fixup", 0), "`depth` must be")
  expect_error(scaling_rule("fixup", 10, branch_depth = 1.5), "`branch_depth` must be")
  expect_error(scaling_rule("deepnet", 10, source = "code"), "`source` must be one of")
  expect_error(scaling_rule("deepnet", 10, architecture = "x"), "`architecture` must be one of")
  expect_error(scaling_rule("depth_mup", 10, a = -1), "`a` must be")
  expect_error(scaling_rule("fixup", 10, zero_last = "yes"), "`zero_last` must be TRUE or FALSE")
  expect_error(residual_growth(3), "`rule` must be a rule")
  expect_error(residual_growth(depth = -1), "`depth` must be")
  expect_error(residual_growth(depth = c(1, NA)), "`depth\\[2\\]` must be")
  expect_error(residual_growth(depth = 2, gains = c(1, Inf)), "`gains` must be")
  expect_error(residual_growth(), "`depth` is missing")
  expect_error(scaling_rules(depth = "a"), "`depth` must be")
  e <- tryCatch(scaling_rule("fixup", 0), error = identity)
  expect_match(deparse(conditionCall(e))[1], "^scaling_rule")
})
