# The propagation engine against a plain-R reference, and the simulated
# variances against their predictions.

# Plain-R forward and backward pass for a network's draws `tr`.
reference_pass <- function(net, tr, grad = "normal") {
  d <- length(net$widths) - 1
  Z <- tr$X
  S <- zs <- vector("list", d)
  for (i in seq_len(d)) {
    S[[i]] <- Z %*% tr$W[[i]] + matrix(tr$b[[i]], nrow(Z), length(tr$b[[i]]), byrow = TRUE)
    Z <- net$activation[[i]]$f(S[[i]])
    zs[[i]] <- Z
  }
  G <- vector("list", d)
  G[[d]] <- tr$g[[d]]   # the output gradient is drawn in C (or from random labels)
  if (d > 1) {
    for (i in (d - 1):1) {
      G[[i]] <- (G[[i + 1]] %*% t(tr$W[[i + 1]])) * net$activation[[i]]$df(S[[i]])
    }
  }
  list(s = S, z = zs, g = G)
}

test_that("C forward and backward passes equal a plain-R reference to 1e-12", {
  acts <- list("linear", "tanh", "sigmoid", "softsign", "relu", activation("leaky_relu", 0.2),
               "selu", "scaled_tanh", activation("elu", 0.7),
               activation("swish", f = function(x) x * plogis(x),
                          df = function(x) plogis(x) * (1 + x * (1 - plogis(x)))))
  inits <- list(init_glorot(), init_he("normal"), init_orthogonal(), init_sparse(0.5, 0.3),
                init_lecun("normal", convention = "keras"), init_identity())
  set.seed(1001)
  for (a in acts) {
    for (k in seq_along(inits)) {
      net <- mlp(c(7, 9, 5, 6), a, inits[[k]], bias = init_normal(0.1, 0.2))
      tr <- initvar:::network_trace(net, inputs = 11)
      ref <- reference_pass(net, tr)
      for (i in 1:3) {
        expect_equal(tr$s[[i]], ref$s[[i]], tolerance = 1e-12)
        expect_equal(tr$z[[i]], ref$z[[i]], tolerance = 1e-12)
        expect_equal(tr$g[[i]], ref$g[[i]], tolerance = 1e-12)
      }
    }
  }
})

test_that("the softmax cross-entropy output gradient is (p - y) f'(s) with one-hot y", {
  set.seed(1002)
  net <- mlp(c(5, 8, 4), c("tanh", "tanh"), init_glorot())
  tr <- initvar:::network_trace(net, inputs = 50, grad = "softmax")
  logits <- tr$z[[2]]
  p <- exp(logits) / rowSums(exp(logits))
  y <- p - tr$g[[2]] / (1 - tanh(tr$s[[2]])^2)
  expect_equal(rowSums(y), rep(1, 50), tolerance = 1e-12)
  expect_true(all(abs(y[abs(y) > 1e-9] - 1) < 1e-9))
  ref <- reference_pass(net, tr)
  expect_equal(tr$g[[1]], ref$g[[1]], tolerance = 1e-12)
})

test_that("a user-supplied input matrix is used as the batch", {
  set.seed(1003)
  X <- matrix(rnorm(30), 10, 3)
  net <- mlp(c(3, 4, 2), "tanh")
  tr <- initvar:::network_trace(net, input = X)
  expect_identical(tr$X, X)
  expect_equal(tr$s[[1]], X %*% tr$W[[1]] + matrix(tr$b[[1]], 10, 4, byrow = TRUE),
               tolerance = 1e-12)
})

test_that("weights in the engine follow the scheme's exact variance", {
  set.seed(1004)
  net <- mlp(c(300, 200), "linear", init_glorot("normal", convention = "keras"))
  W <- as.vector(initvar:::network_trace(net)$W[[1]])
  expect_variance(W, 2 / 500)
  expect_true(all(abs(W) <= 2 * sqrt(2 / 500) / 0.87962566103423978))
  net <- mlp(c(30, 20), "linear", init_orthogonal())
  W <- initvar:::network_trace(net)$W[[1]]
  expect_lt(max(abs(crossprod(W) - diag(20))), 1e-12)
})

test_that("one network's accumulated moments equal two-pass R computations", {
  net <- mlp(c(6, 5, 4), c("tanh", "sigmoid"), init_he(), bias = init_uniform(-0.1, 0.3))
  set.seed(1005)
  tr <- initvar:::network_trace(net, inputs = 9, network = 0)
  set.seed(1005)
  sim <- simulate_network(net, networks = 2, inputs = 9, progress = FALSE)
  # merge of network 0 and network 1: recompute both in R
  set.seed(1005)
  tr1 <- initvar:::network_trace(net, inputs = 9, network = 1)
  df <- as.data.frame(sim)
  for (i in 1:2) {
    per_example_w <- function(t) {
      zin <- if (i == 1) t$X else t$z[[i - 1]]
      unlist(lapply(seq_len(nrow(zin)), function(b) outer(zin[b, ], t$g[[i]][b, ])))
    }
    vals <- list(s = c(tr$s[[i]], tr1$s[[i]]), z = c(tr$z[[i]], tr1$z[[i]]),
                 grad_s = c(tr$g[[i]], tr1$g[[i]]),
                 grad_w = c(per_example_w(tr), per_example_w(tr1)))
    for (q in names(vals)) {
      row <- df[df$layer == i & df$quantity == q, ]
      v <- vals[[q]]
      expect_equal(row$estimate, mean((v - mean(v))^2), tolerance = 1e-10)
      expect_equal(row$mean, mean(v), tolerance = 1e-10)
      m4 <- mean((v - mean(v))^4)
      expect_equal(row$kurtosis, m4 / mean((v - mean(v))^2)^2, tolerance = 1e-9)
    }
    # across-neuron variance: per input, the variance over the layer's units
    across <- function(m) mean(apply(m, 1, var))
    row <- df[df$layer == i & df$quantity == "z", ]
    expect_equal(row$across_mean, mean(c(across(tr$z[[i]]), across(tr1$z[[i]]))),
                 tolerance = 1e-10)
  }
})

test_that("linear networks: simulated variances agree with the exact linear predictions", {
  nets <- list(
    mlp(c(20, 30, 10, 25), "linear", init_glorot()),
    mlp(c(40, 40, 40), "linear", list(init_he("uniform"), init_lecun("normal"))),
    mlp(c(15, 60, 15), "linear", init_glorot_standard()),
    mlp(c(30, 30, 30), "linear", init_orthogonal(0.9)))
  set.seed(1006)
  for (net in nets) {
    for (input in c("normal", "uniform")) {
      sim <- simulate_network(net, networks = 400, inputs = 16, input = input,
                              var_x = 2, var_grad = 0.5, regime = "linear", progress = FALSE)
      df <- as.data.frame(sim)
      expect_true(all(abs(df$z) < 5), info = paste(capture.output(print(df)), collapse = "\n"))
    }
  }
})

test_that("tanh: standard init shrinks the variance by about 1/3 per layer, normalized holds", {
  set.seed(1007)
  w <- c(256, rep(256, 5))
  std <- simulate_network(mlp(w, "tanh", init_glorot_standard()), networks = 60,
                          inputs = 64, progress = FALSE)
  nrm <- simulate_network(mlp(w, "tanh", init_glorot()), networks = 60,
                          inputs = 64, progress = FALSE)
  ds <- as.data.frame(std)
  dn <- as.data.frame(nrm)
  # linear regime: Var(s^i) = Var(x) (1/3)^i for the standard init, 1 for normalized
  lin_s <- std$prediction$linear$var_s
  expect_equal(lin_s, 3^-(1:5))
  expect_equal(nrm$prediction$linear$var_s, rep(1, 5))
  # the mean-field prediction holds (5 MCSE plus 1% for finite width, O(1/256))
  for (df in list(ds, dn)) {
    for (q in c("s", "z", "grad_s", "grad_w")) {
      r <- df[df$quantity == q, ]
      expect_true(all(abs(r$estimate - r$prediction) < 5 * r$mcse + 0.01 * r$prediction),
                  info = q)
    }
  }
  # standard: Var(s) shrinks by a factor tending to 1/3 per layer (tanh is
  # below its tangent, so the first layers shrink faster)
  mf_s <- std$prediction$mean_field$var_s
  expect_true(all(diff(mf_s[-1] / mf_s[-5]) > 0))
  expect_gt(mf_s[5] / mf_s[4], 0.32)
  expect_lt(mf_s[5] / mf_s[4], 1 / 3)
  # Glorot & Bengio's eq. 14: with the standard init the back-propagated
  # gradients shrink towards the input, the weight gradients do not
  g_std <- ds$estimate[ds$quantity == "grad_s"]
  w_std <- ds$estimate[ds$quantity == "grad_w"]
  expect_gt(g_std[5] / g_std[1], 100)
  expect_lt(max(w_std) / min(w_std), 1.1)
  expect_equal(nrm$prediction$linear$var_grad_s, rep(1, 5))
})

test_that("ReLU: He init holds the variance over 30 layers, Glorot halves it", {
  set.seed(1008)
  w <- rep(64, 31)
  he <- simulate_network(mlp(w, "relu", init_he()), networks = 200, inputs = 8,
                         progress = FALSE)
  gl <- simulate_network(mlp(w, "relu", init_glorot("normal")), networks = 200, inputs = 8,
                         progress = FALSE)
  expect_equal(he$prediction$mean_field$var_s, rep(2, 30), tolerance = 1e-10)
  expect_equal(gl$prediction$mean_field$var_s, 2^-(0:29), tolerance = 1e-10)
  for (sim in list(he, gl)) {
    df <- as.data.frame(sim)
    r <- df[df$quantity == "s", ]
    # for ReLU the ensemble variance recursion is exact at any width; deep
    # layers of a width-64 stack need more than 200 networks for a
    # calibrated interval, and say so
    ok <- !is.na(r$z)
    expect_gte(sum(ok), 5)
    expect_true(all(abs(r$z[ok]) < 5))
    expect_true(all(r$networks_needed[!ok] > 200))
    expect_true(all(diff(ok) <= 0))   # the refused layers are the deepest
  }
})

test_that("mean field matches simulation for tanh, relu and sigmoid", {
  skip_unless_full()
  set.seed(1009)
  for (a in c("tanh", "relu", "sigmoid")) {
    net <- mlp(rep(512, 4), a, init_glorot("normal", gain = gain(a)),
               bias = init_normal(0, 0.1))
    df <- as.data.frame(simulate_network(net, networks = 40, inputs = 32, progress = FALSE))
    for (q in c("s", "z")) {
      r <- df[df$quantity == q, ]
      expect_true(all(abs(r$estimate - r$prediction) < 5 * r$mcse + 0.005 * r$prediction),
                  info = paste(a, q))
    }
  }
})

test_that("the across-neuron variance of one network converges to the ensemble variance", {
  set.seed(1010)
  spread <- sapply(c(16, 64, 256, 1024), function(n) {
    sim <- simulate_network(mlp(c(n, n, n), "tanh", init_glorot()), networks = 30,
                            inputs = 8, progress = FALSE)
    df <- as.data.frame(sim)
    r <- df[df$quantity == "z" & df$layer == 2, ]
    c(gap = abs(r$across_mean - r$estimate) / r$estimate, sd = r$across_sd / r$estimate)
  })
  # the spread across networks falls like 1/sqrt(width): about halves per 4x
  expect_true(all(diff(spread["sd", ]) < 0))
  expect_lt(spread["sd", 4], 0.35 * spread["sd", 1])
  expect_lt(spread["gap", 4], 0.02)
})

test_that("same seed, same result, for 1 and 2 threads and a 2-worker cluster", {
  net <- mlp(c(20, 30, 30, 10), c("tanh", "relu", "linear"), init_glorot())
  run <- function(...) {
    set.seed(1011)
    simulate_network(net, networks = 21, inputs = 16, grad = "softmax", progress = FALSE, ...)
  }
  a <- run(threads = 1)
  b <- run(threads = 2)
  expect_identical(a$acc, b$acc)
  expect_identical(a$hist, b$hist)
  skip_on_cran()
  cl <- parallel::makePSOCKcluster(2)
  on.exit(parallel::stopCluster(cl))
  c <- run(threads = 1, cl = cl)
  expect_identical(a$acc, c$acc)
  expect_identical(a$hist, c$hist)
})

test_that("mlp() and simulate_network() reject bad input, naming the argument", {
  expect_error(mlp(10), "`widths`")
  expect_error(mlp(c(10, 2.5)), "`widths\\[2\\]`")
  expect_error(mlp(c(10, 0)), "`widths\\[2\\]`")
  expect_error(mlp(c(10, NA)), "`widths\\[2\\]`")
  expect_error(mlp(c(10, 5), "swishy"), "`activation`")
  expect_error(mlp(c(10, 5), function(x) "a"), "`activation` must be a vectorized R function")
  expect_error(mlp(c(10, 5, 5), c("tanh", "tanh", "tanh")), "`activation`.*per layer")
  expect_error(mlp(c(10, 5, 5), init = list(init_he())), "`init`.*per layer")
  expect_error(mlp(c(10, 5), init = "he"), "`init`")
  expect_error(mlp(c(10, 5), bias = init_glorot()), "`bias`")
  expect_error(activation("tanh", 0.1), "`param`")
  expect_error(activation("x", f = function(x) x, df = 1), "`df`")
  net <- mlp(c(4, 4))
  expect_error(simulate_network("net"), "`net`")
  expect_error(simulate_network(net, networks = 1), "`networks`")
  expect_error(simulate_network(net, networks = 2.5), "`networks`")
  expect_error(simulate_network(net, inputs = 1), "`inputs`")
  expect_error(simulate_network(net, var_x = Inf), "`var_x`")
  expect_error(simulate_network(net, var_x = NA), "`var_x`")
  expect_error(simulate_network(net, input = "cauchy"), "`input`")
  expect_error(simulate_network(net, input = matrix(1, 3, 2)), "`input`")
  expect_error(simulate_network(net, grad = "mse"), "`grad`")
  expect_error(simulate_network(net, cl = 2), "`cl`")
  expect_error(predict_variance(net, var_x = -1), "`var_x`")
  expect_error(predict_variance(net, regime = "exact"), "`regime`")
  expect_error(predict_variance(mlp(c(3, 3), init = init_uniform(0, 1))), "non-zero mean")
  expect_snapshot(show_error(mlp(c(10, 5, 5), c("tanh", "tanh", "tanh"))))
  expect_snapshot(show_error(simulate_network(net, networks = 1)))
})

test_that("C entry points of the engine reject malformed specs", {
  expect_error(.Call(initvar:::C_simulate_block, list(), 0, 1L, 1L, NULL), "spec")
  expect_error(.Call(initvar:::C_simulate_block, NULL, 0, 1L, 1L, NULL), "spec")
  set.seed(1)
  net <- mlp(c(3, 3))
  setup <- initvar:::sim_setup(net, 4, "normal", 1, NULL, "normal", 1, 10)
  spec <- setup$spec
  expect_error(.Call(initvar:::C_simulate_block, spec, -1, 1L, 1L, NULL), "first")
  expect_error(.Call(initvar:::C_simulate_block, spec, 0, 0L, 1L, NULL), "count")
  bad <- spec; bad$widths <- c(3L, -1L)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "widths")
  bad <- spec; bad$act <- 99L
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "act")
  bad <- spec; bad$wpar <- 1
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "wpar")
  bad <- spec; bad$input <- 3L
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "X")
  bad <- spec; bad$seed <- c(-1, 0)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "seed")
  bad <- spec; bad$hrange[2] <- bad$hrange[1]
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "hrange")
  bad <- spec; bad$act <- initvar:::activation_codes[["r_function"]]
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "rfuns")
  expect_error(.Call(initvar:::C_merge_acc, 1:13, 1:13), "double")
  expect_error(.Call(initvar:::C_simulate_block, spec, 0, 1L, 1L, 1), "workspace")
  # a workspace made for one spec is not used beyond its size
  small <- .Call(initvar:::C_workspace, spec, 1L)
  big <- spec; big$widths <- c(3L, 300L); big$wpar <- spec$wpar; big$center <- spec$center
  big$unit_out <- 300L   # the unit's width follows the layer's
  set.seed(2); a <- .Call(initvar:::C_simulate_block, big, 0, 2L, 1L, small)
  set.seed(2); b <- .Call(initvar:::C_simulate_block, big, 0, 2L, 1L, NULL)
  expect_identical(a, b)
})

test_that("a future plan gives the same simulation as one process", {
  skip_if_not_installed("future.apply")
  skip_on_cran()
  net <- mlp(c(20, 20, 20), "tanh", init_glorot())
  set.seed(5100)
  a <- simulate_network(net, 40, 8, threads = 1)
  old <- future::plan(future::multisession, workers = 2)
  on.exit(future::plan(old), add = TRUE)
  set.seed(5100)
  b <- simulate_network(net, 40, 8, future = TRUE)
  expect_identical(a$acc, b$acc)
  expect_identical(a$hist, b$hist)
  expect_error(simulate_network(net, 40, 8, future = "yes"), "`future`")
})

test_that("the engine's histograms count what a plain-R binning of its trace counts", {
  # z, dC/ds and the first example's dC/dW of every layer, in the engine's
  # bins (0 below and NaN, nbins + 1 above); odd widths and batch sizes
  # exercise the vector lanes' tails, and a narrow range the outer bins
  bins <- function(x, lo, hi, nb) {
    t <- (x - lo) * (nb / (hi - lo))
    t <- ifelse(!is.na(t) & t >= 0, t, -1)
    t <- ifelse(t < nb, t, nb)
    tabulate(as.integer(t) + 2, nb + 2)
  }
  for (case in 1:3) {
    set.seed(700 + case)
    w <- list(c(7, 5, 6, 4), c(3, 9, 1, 2), c(5, 5, 5, 5))[[case]]
    net <- mlp(w, c("relu", "relu", "linear"), init_glorot("normal"), init_normal(0, 0.1))
    B <- c(9, 1, 13)[case]
    nb <- c(10, 7, 3)[case]
    setup <- initvar:::sim_setup(net, B, "normal", 1.5, NULL, "normal", 1, nb)
    if (case == 3) setup$spec$hrange <- setup$spec$hrange / 8   # most values outside
    hr <- array(setup$spec$hrange, c(2, 3, 3))
    expected <- array(0, c(nb + 2, 3, 3))
    for (j in 0:2) {
      tr <- .Call(initvar:::C_test_network_trace, setup$spec, j)
      for (l in 1:3) {
        zin <- if (l == 1) tr$X else tr$z[[l - 1]]
        expected[, 1, l] <- expected[, 1, l] + bins(tr$z[[l]], hr[1, 1, l], hr[2, 1, l], nb)
        expected[, 2, l] <- expected[, 2, l] + bins(tr$g[[l]], hr[1, 2, l], hr[2, 2, l], nb)
        gw <- outer(zin[1, ], tr$g[[l]][1, ])
        expected[, 3, l] <- expected[, 3, l] + bins(gw, hr[1, 3, l], hr[2, 3, l], nb)
      }
    }
    for (th in 1:2) {
      blk <- .Call(initvar:::C_simulate_block, setup$spec, 0, 3L, th, NULL)
      expect_identical(array(blk$hist, c(nb + 2, 3, 3)), expected, label = paste(case, th))
    }
  }
})

test_that("a simulation without a prediction says why (issue 21: nothing dropped silently)", {
  set.seed(21)
  s <- simulate_network(mlp(c(3, 3, 2), "tanh", init_normal(1, 1)), 16, 4, threads = 1)
  expect_match(s$no_prediction$mean_field, "non-zero mean")
  expect_true(any(grepl("No mean-field prediction: `net` has weights with a non-zero mean",
                        paste(capture.output(print(s)), collapse = " "))))
  d <- simulate_network(transformer(2, 1, depth = 50, seq_len = 2, norm = "none"), 2, 2, threads = 1)
  expect_match(d$no_prediction$mean_field, "overflows[[:space:]]+at[[:space:]]+sublayer[[:space:]]+[0-9]+")
  ok <- simulate_network(mlp(c(3, 3, 2), "tanh"), 8, 4, threads = 1)
  expect_length(ok$no_prediction, 0)
})

test_that("the printout gives the family-wise verdict and fits in 80 columns", {
  # one row at p = 0.0049 among 12 (z = -3.18 at 19 df, as in
  # example(simulate_network)) is flagged one by one, not after Holm
  txt <- paste(initvar:::family_verdict_text(c(0.0049, rep(0.5, 11)), "linear"), collapse = " ")
  expect_match(txt, "1 of 12 rows flagged", fixed = TRUE)
  expect_match(txt, "chance alone would flag about 0.12", fixed = TRUE)
  expect_match(txt, "Family-wise (Holm over the 12 rows, level 0.99): consistent", fixed = TRUE)
  txt <- paste(initvar:::family_verdict_text(c(1e-5, rep(0.5, 11)), "mean_field"), collapse = " ")
  expect_match(txt, "NOT consistent", fixed = TRUE)
  expect_match(txt, "exact at infinite width", fixed = TRUE)
  expect_length(initvar:::family_verdict_text(numeric(), "linear"), 0)
  set.seed(1)
  s <- simulate_network(mlp(c(50, 50, 50, 50), "tanh", init_glorot()), networks = 20, inputs = 32)
  out <- capture.output(print(s))
  expect_true(any(grepl("Family-wise (Holm over the 12 rows", out, fixed = TRUE)))
  expect_lte(max(nchar(out)), 80)
  # the README's network: its widths alone ran the header to 86 columns
  s <- simulate_network(mlp(c(784, rep(1000, 5), 10), c(rep("tanh", 5), "linear")), networks = 2,
                        inputs = 2, threads = 1)
  out <- capture.output(print(s))
  expect_true(any(grepl("network: 784-1000-1000-1000-1000-1000-10", out, fixed = TRUE)))
  expect_lte(max(nchar(out)), 80)
})
