# The normalized squared norms M = (|z^l|^2 / n_l) / (|x|^2 / n_0) of the
# engine (network_norms()): against a plain-R computation from the same
# network's trace, and against Hanin and Rolnick's exact moments, with
# calibrated verdicts.

test_that("the engine's per-network norm moments equal a plain-R computation", {
  for (act in c("relu", "tanh", "linear")) {
    set.seed(4100)
    net <- mlp(c(7, 5, 6, 4), c(act, act, "linear"), init_glorot("normal"), init_normal(0, 0.1))
    setup <- initvar:::sim_setup(net, 9, "normal", 1.5, NULL, "normal", 1, 10)
    tr <- .Call(initvar:::C_test_network_trace, setup$spec, 0)
    blk <- .Call(initvar:::C_simulate_block, setup$spec, 0, 1L, 1L, NULL)
    acc <- initvar:::block_acc(blk$acc, 3)
    q0 <- rowSums(tr$X^2) / ncol(tr$X)
    # the engine accumulates M divided by a power of 2 near its size
    sc <- matrix(setup$spec$scale, initvar:::n_quantities)[5, ]
    expect_true(all(log2(sc) == round(log2(sc))))
    for (l in 1:3) {
      M <- (rowSums(tr$z[[l]]^2) / ncol(tr$z[[l]])) / q0
      expect_equal(acc["mean_a", "norm", l] * sc[l], mean(M), tolerance = 1e-12,
                   label = paste(act, l))
      expect_equal(acc["mean_b", "norm", l] * sc[l]^2, mean(M^2), tolerance = 1e-12,
                   label = paste(act, l))
      expect_equal(acc["n", "norm", l], 9)
    }
  }
})

test_that("Hanin and Rolnick's exact ratios: closed forms", {
  net <- mlp(c(10, 6, 6, 3), c("relu", "relu", "linear"), init_he())
  p <- initvar:::norm_prediction(net)
  expect_equal(p$ratio, cumprod(c(1 + 5 / 6, 1 + 5 / 6, 1 + 2 / 3)), tolerance = 1e-12)
  # He keeps E[M] = 1 through ReLU layers; the linear output layer with He's
  # 2 / n_in doubles it (E[f(Z)^2] = 1 there, not 1/2)
  expect_equal(p$mean, c(1, 1, 2), tolerance = 1e-12)
  lin <- mlp(c(5, 4, 3), "linear", init_lecun())
  pl <- initvar:::norm_prediction(lin)
  expect_equal(pl$ratio, cumprod(1 + 2 / c(4, 3)), tolerance = 1e-12)
  expect_equal(pl$mean, c(1, 1), tolerance = 1e-12)
  # chi-square moments: E[(chi2_n / n)^4] / E[(chi2_n / n)^2]^2
  n <- c(4, 3)
  r4 <- cumprod((1 + 4 / n) * (1 + 6 / n) / (1 + 2 / n))
  expect_equal(pl$ratio4, r4, tolerance = 1e-12)
  # not exact: tanh, uniform weights, biases
  expect_true(all(is.na(initvar:::norm_prediction(mlp(c(5, 4, 3), "tanh"))$ratio)))
  expect_true(all(is.na(initvar:::norm_prediction(mlp(c(5, 4, 3), "relu", init_he("uniform")))$ratio)))
  expect_true(all(is.na(initvar:::norm_prediction(
    mlp(c(5, 4, 3), "relu", init_he(), init_normal(0, 0.1)))$ratio)))
})

test_that("simulated norms agree with the exact moments (family-wise over a grid)", {
  skip_unless_full()
  skip_on_cran()
  # He/ReLU with a linear output and linear LeCun stacks, widths 16 to 128,
  # depths 2 to 6 (narrower or deeper rows need more networks than a test
  # can afford: see networks_needed); every reported row must have
  # p > 1e-3 / rows (Bonferroni)
  cells <- list(list(w = 32, d = 3, act = "relu", J = 1500), list(w = 64, d = 6, act = "relu", J = 1500),
                list(w = 128, d = 4, act = "relu", J = 300), list(w = 16, d = 2, act = "linear", J = 1500),
                list(w = 32, d = 6, act = "linear", J = 1200))
  res <- NULL
  for (k in seq_along(cells)) {
    cl <- cells[[k]]
    acts <- c(rep(cl$act, cl$d - 1), "linear")
    init <- if (cl$act == "relu") init_he() else init_lecun()
    net <- mlp(rep(cl$w, cl$d + 1), acts, init)
    set.seed(4200 + k)
    sim <- simulate_network(net, networks = cl$J, inputs = 4, progress = FALSE)
    nn <- network_norms(sim)
    expect_equal(nn$prediction_mean, c(rep(1, cl$d - 1), if (cl$act == "relu") 2 else 1),
                 tolerance = 1e-12)
    res <- rbind(res, nn)
  }
  ok <- !is.na(res$p_value)
  expect_gt(sum(ok), 10)
  expect_true(all(res$p_value[ok] > 1e-3 / sum(ok)), label = paste(format(res$p_value[ok]), collapse = " "))
  # E[M]: z within a Bonferroni band
  zm <- (res$mean_M - res$prediction_mean) / res$mean_M_mcse
  expect_true(all(abs(zm) < qnorm(1 - 1e-3 / (2 * nrow(res)))), label = paste(format(zm), collapse = " "))
})

test_that("intervals for the ratio cover at their level (over seeds)", {
  skip_unless_full()
  skip_on_cran()
  net <- mlp(c(32, 32, 32), c("relu", "linear"), init_he())
  pr <- initvar:::norm_prediction(net)$ratio
  reps <- 200
  hits <- matrix(NA, reps, 2)
  for (r in seq_len(reps)) {
    set.seed(4300 + r)
    nn <- network_norms(simulate_network(net, networks = 500, inputs = 2, level = 0.9,
                                         progress = FALSE))
    hits[r, ] <- nn$lower <= pr & pr <= nn$upper
  }
  expect_false(anyNA(hits))
  for (l in 1:2) {
    h <- hits[, l]
    # binomial band at 1e-3 / 2 (two-sided)
    band <- qbinom(c(1e-3 / 4, 1 - 1e-3 / 4), length(h), 0.9) / length(h)
    expect_gte(mean(h), band[1], label = paste("coverage layer", l))
    expect_lte(mean(h), band[2], label = paste("coverage layer", l))
  }
})

test_that("norms of networks whose values reach 1e150 are computed on their own scale", {
  set.seed(11)
  deep <- mlp(c(10, rep(10, 60), 10), "linear", init_normal(sd = 100))
  nn <- network_norms(simulate_network(deep, 4, 4, progress = FALSE))
  expect_true(all(is.finite(nn$mean_M) & nn$mean_M > 0))
  # E[M_l] = (10 * 100^2)^l exactly for these linear Gaussian layers
  expect_equal(nn$prediction_mean, (10 * 1e4)^(1:61), tolerance = 1e-12)
  expect_true(all(abs(log(nn$mean_M / nn$prediction_mean)) < 10))
})

test_that("network_norms() rejects what is not a simulation", {
  expect_snapshot(show_error(network_norms(mlp(c(3, 3)))))
})
