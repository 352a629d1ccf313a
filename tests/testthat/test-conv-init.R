# Delta-orthogonal kernels (init_delta_orthogonal(), R/init-delta.R) in
# sample_weights(), weight_variance() and cnn() through the engine; the
# fan-rule conformance table (fan_conformance(), R/fans.R).

# The centre-tap rows of an engine K x c_out kernel (rows cc taps + tap).
centre_rows <- function(cin_g, k) {
  ctr <- initvar:::delta_kernel(k)
  (seq_len(cin_g) - 1) * ctr$taps + ctr$centre + 1
}

test_that("sample_weights() puts an orthogonal matrix at the centre tap, zeros elsewhere", {
  set.seed(11)
  # torch (out, in, kh, kw), even kernel: centre tap floor((k - 1) / 2) + 1
  K <- sample_weights(init_delta_orthogonal(1.7), dim = c(6, 4, 3, 4), layout = "torch")
  M <- K[, , 2, 2]                                       # out x in
  expect_lt(max(abs(crossprod(M) - 1.7^2 * diag(4))), 1e-12)
  expect_identical(sum(K[, , -2, ] != 0) + sum(K[, , 2, -2] != 0), 0L)
  expect_identical(sum(K != 0), 24L)
  # Keras (kh, kw, in, out); in > out: the co-isometry M^T M = gain^2 I
  K <- sample_weights(init_delta_orthogonal(0.5), dim = c(2, 5, 7, 3), layout = "keras")
  M <- K[1, 3, , ]                                       # in x out
  expect_lt(max(abs(crossprod(M) - 0.25 * diag(3))), 1e-12)
  expect_gt(max(abs(tcrossprod(M) - 0.25 * diag(7))), 0.1)   # no forward isometry
  K[1, 3, , ] <- 0
  expect_true(all(K == 0))
  # a 2-d shape is a 1 x 1 kernel: the matrix itself, in the layout's orientation
  M <- sample_weights(init_delta_orthogonal(), dim = c(5, 3), layout = "torch")
  expect_identical(dim(M), c(5L, 3L))
  expect_lt(max(abs(crossprod(M) - diag(3))), 1e-12)
})

test_that("weight_variance() is the variance the draws realize, over the whole kernel", {
  s <- init_delta_orthogonal(2)
  # gain^2 / (taps max(c_in, c_out) / groups)
  expect_equal(weight_variance(s, dim = c(6, 4, 3, 4), layout = "torch"), 4 / (12 * 6))
  expect_equal(weight_variance(s, dim = c(2, 5, 7, 3), layout = "keras"), 4 / (10 * 7))
  expect_equal(weight_variance(s, layer = conv_layer(4, 16, c(3, 3))), 4 / (9 * 16))
  expect_equal(weight_variance(s, layer = conv_layer(8, 12, c(3, 3), groups = 4)), 4 / (9 * 3))
  expect_equal(weight_mean(s, dim = c(6, 4, 3, 4), layout = "torch"), 0)
  expect_error(weight_variance(s, layer = conv_layer(4, 4, 3, transposed = TRUE)), "`layer`")
  # every draw's mean square is the variance exactly (the centre matrix's
  # squares sum to gain^2 min(c_in, c_out)); one entry's variance over
  # draws is gain^2 / max(c_in, c_out): a Haar column is uniform on the sphere
  set.seed(12)
  R <- 4000
  e <- numeric(R)
  for (r in seq_len(R)) {
    K <- sample_weights(s, dim = c(6, 4, 3, 4), layout = "torch")
    if (r <= 20) expect_equal(mean(K^2), 4 / 72, tolerance = 1e-13)
    e[r] <- K[2, 3, 2, 2]
  }
  v <- mean(e^2)                                  # the mean is 0 by symmetry
  mcse <- sd(e^2) / sqrt(R)
  expect_lt(abs(v - 4 / 6) / mcse, 4)
  expect_lt(abs(mean(e)) / (sd(e) / sqrt(R)), 4)
})

test_that("the engine draws delta-orthogonal kernels in cnn(), per group", {
  set.seed(13)
  net <- cnn(c(3, 5, 2, 4), kernel = list(c(3, 4), 3, c(2, 2)), spatial = c(6, 7),
             padding = "circular", activation = "linear",
             init = init_delta_orthogonal(1.5), groups = c(1, 1, 2))
  tr <- initvar:::network_trace(net, inputs = 2)
  W <- tr$W[[1]]                                   # K x c_out, 3 in, 5 out
  rows <- centre_rows(3, c(3, 4))
  expect_lt(max(abs(tcrossprod(W[rows, ]) - 2.25 * diag(3))), 1e-12)   # in < out: M M^T
  expect_true(all(W[-rows, ] == 0))
  W <- tr$W[[2]]                                   # 5 in, 2 out: co-isometry
  rows <- centre_rows(5, c(3, 3))
  expect_lt(max(abs(crossprod(W[rows, ]) - 2.25 * diag(2))), 1e-12)
  expect_true(all(W[-rows, ] == 0))
  W <- tr$W[[3]]                                   # groups 2: 1 in, 2 out per group
  rows <- centre_rows(1, c(2, 2))
  expect_identical(rows, 1)                        # the tap (0, 0) of a 2 x 2 kernel
  expect_true(all(W[-rows, ] == 0))
  expect_equal(sum(W[rows, 1:2]^2), 2.25, tolerance = 1e-12)
  expect_equal(sum(W[rows, 3:4]^2), 2.25, tolerance = 1e-12)
  # the weights' variance the engine realizes: mean square = weight_variance()
  for (i in 1:3) {
    l <- net$layers[[i]]
    expect_equal(mean(tr$W[[i]]^2), weight_variance(l$init, layer = l$conv), tolerance = 1e-12)
  }
})

test_that("a linear delta-orthogonal cnn keeps every example's norm times gain^depth", {
  set.seed(14)
  g <- 1.3
  for (pad in c("circular", "zero")) {
    net <- cnn(4, kernel = 3, depth = 6, spatial = c(5, 6), padding = pad,
               activation = "linear", init = init_delta_orthogonal(g))
    tr <- initvar:::network_trace(net, inputs = 3)
    r <- sqrt(rowSums(tr$s[[6]]^2)) / sqrt(rowSums(tr$X^2))
    expect_lt(max(abs(r / g^6 - 1)), 1e-10)
    # against a plain-R convolution: at stride 1 with the centre tap aligned
    # the delta kernel is a 1 x 1 convolution by its centre matrix
    P <- 30
    z <- tr$X
    for (i in 1:6) {
      M <- tr$W[[i]][centre_rows(4, c(3, 3)), ]
      s <- matrix(0, 3, 4 * P)
      for (o in 1:4) for (cc in 1:4) {
        s[, (o - 1) * P + 1:P] <- s[, (o - 1) * P + 1:P] + M[cc, o] * z[, (cc - 1) * P + 1:P]
      }
      expect_lt(max(abs(s - tr$s[[i]])), 1e-12 * max(1, abs(s)))
      z <- s
    }
    # the prediction: uniform over positions, gain^(2 l), border included
    p <- predict_variance(net, regime = "linear")
    expect_equal(p$var_s, g^(2 * (1:6)), tolerance = 1e-12)
    expect_lt(max(abs(position_map(p, 6) - g^12)), 1e-10)
  }
  # even kernel, zero padding: the centre tap floor((k - 1) / 2) is aligned too
  net <- cnn(3, kernel = c(2, 4), depth = 4, spatial = c(4, 5), padding = "zero",
             activation = "linear", init = init_delta_orthogonal())
  tr <- initvar:::network_trace(net, inputs = 2)
  expect_lt(max(abs(rowSums(tr$s[[4]]^2) / rowSums(tr$X^2) - 1)), 1e-10)
  # 1-d, dilation 2, odd kernel, zero padding: the centre tap reads p itself
  net <- cnn(5, kernel = 5, depth = 3, spatial = 11, dilation = 2, padding = "zero",
             activation = "linear", init = init_delta_orthogonal())
  tr <- initvar:::network_trace(net, inputs = 2)
  expect_lt(max(abs(rowSums(tr$s[[3]]^2) / rowSums(tr$X^2) - 1)), 1e-10)
  # even kernel with dilation 2: the centre tap reads p - 1 (pad 1, tap 0):
  # a shift, an isometry under circular padding, not under zero padding
  for (pad in c("circular", "zero")) {
    net <- cnn(3, kernel = 2, depth = 2, spatial = c(4, 4), dilation = 2, padding = pad,
               activation = "linear", init = init_delta_orthogonal())
    tr <- initvar:::network_trace(net, inputs = 2)
    r <- rowSums(tr$s[[2]]^2) / rowSums(tr$X^2)
    if (pad == "circular") expect_lt(max(abs(r - 1)), 1e-10) else expect_true(all(r < 1 - 1e-3))
  }
  # in > out: the gradient's norm is kept through the layer (co-isometry)
  net2 <- cnn(c(3, 6, 3), kernel = 3, spatial = c(4, 4), padding = "circular",
              activation = "linear", init = init_delta_orthogonal(2))
  tr <- initvar:::network_trace(net2, inputs = 3)
  expect_lt(max(abs(rowSums(tr$g[[1]]^2) / rowSums(tr$g[[2]]^2) - 4)), 1e-10)
})

test_that("delta-orthogonal predictions put the variance at the centre tap", {
  # ReLU, zero padding, no bias: the mean field is exact per position; the
  # delta kernel never reads the border, so the maps stay uniform
  net <- cnn(8, kernel = 3, depth = 3, spatial = c(6, 6), activation = "relu",
             init = init_delta_orthogonal(sqrt(2)))
  p <- predict_variance(net, regime = "mean_field")
  # fan_in Var(W) = gain^2 = 2, E relu(s)^2 = q / 2: q = 2 at every position
  expect_lt(max(abs(position_map(p, 3) - 2)), 1e-12)
  expect_lt(max(abs(position_map(p, 1, "var_grad_s") - position_map(p, 1, "var_grad_s")[1])), 1e-12)
  set.seed(15)
  sim <- simulate_network(net, networks = 40, inputs = 8, threads = 1)
  m <- position_map(sim, 3)
  expect_lt(max(abs((m$estimate - m$prediction) / m$mcse)), 4.5)   # 36 positions
})

test_that("delta-orthogonal simulations are bit-identical at 1 and 2 threads", {
  net <- cnn(c(3, 6, 6), kernel = 3, spatial = c(5, 5), activation = "tanh",
             init = init_delta_orthogonal(1.2), groups = c(1, 2))
  set.seed(16)
  a <- simulate_network(net, networks = 6, inputs = 4, threads = 1, progress = FALSE)
  set.seed(16)
  b <- simulate_network(net, networks = 6, inputs = 4, threads = 2, progress = FALSE)
  expect_identical(as.data.frame(a)$estimate, as.data.frame(b)$estimate)
  expect_identical(a$position, b$position)
  # the engine refuses a malformed kernel geometry before drawing (spec check)
  sp <- initvar:::sim_setup(net, 4, "normal", 1, NULL, "normal", 1, 10)$spec
  sp$wpar[3] <- 9   # centre tap 9 of a 9-tap kernel
  expect_error(.Call(initvar:::C_test_network_trace, sp, 0), "delta-orthogonal")
})

# ---- fan-rule conformance ---------------------------------------------------

test_that("fan_conformance() reproduces pytorch#23854 exactly", {
  tab <- fan_conformance()
  r <- tab[tab$type == "depthwise" & tab$framework == "torch", ]
  expect_identical(nrow(r), 1L)
  expect_identical(c(r$fan_in, r$fan_out, r$real_fan_in, r$real_fan_out), c(9, 36, 9, 9))
  expect_false(r$correct)
  expect_equal(r$var_glorot, 2 / 45, tolerance = 1e-15)
  expect_equal(r$target_glorot, 2 / 18, tolerance = 1e-15)
  expect_equal(r$ratio_glorot, 0.4, tolerance = 1e-15)
  expect_equal(r$var_he_fan_out, 2 / 36, tolerance = 1e-15)
  expect_equal(r$target_he_fan_out, 2 / 9, tolerance = 1e-15)
  expect_equal(r$ratio_he_fan_out, 0.25, tolerance = 1e-15)
  expect_equal(c(r$var_he, r$ratio_he), c(2 / 9, 1), tolerance = 1e-15)
  # the same layer given by hand, torch alone
  r2 <- fan_conformance(list(conv_layer(4, 4, c(3, 3), groups = 4)), frameworks = "torch")
  expect_equal(r2$ratio_glorot, 0.4, tolerance = 1e-15)
})

test_that("fan_conformance() has every framework's rule for every conv type", {
  tab <- fan_conformance()
  expect_identical(nrow(tab), 8L * 5L)
  cell <- function(type, fw) tab[tab$type == type & tab$framework == fw, ]
  fans_of <- function(type, fw) unlist(cell(type, fw)[c("fan_in", "fan_out")], use.names = FALSE)
  # standard and dilated: everyone right (TF.js's He: the uncorrected truncation)
  for (fw in c("torch", "keras", "jax", "mlx", "tfjs")) {
    for (type in c("standard", "dilated")) {
      expect_true(cell(type, fw)$correct, label = paste(type, fw))
      expect_equal(cell(type, fw)$ratio_glorot, 1, tolerance = 1e-15)
    }
  }
  expect_equal(cell("standard", "tfjs")$ratio_he, 0.7737413, tolerance = 1e-6)
  expect_equal(cell("standard", "keras")$ratio_he, 1, tolerance = 1e-14)   # corrected
  # grouped Conv2d(16, 32, 3, groups = 4): fan_out 32 x 9, not 8 x 9; TF.js has none
  for (fw in c("torch", "keras", "jax", "mlx")) expect_identical(fans_of("grouped", fw), c(36, 288))
  expect_identical(cell("grouped", "tfjs")$fan_in, NA_real_)
  expect_identical(cell("grouped", "tfjs")$ratio_he, NA_real_)
  # depthwise: Keras's and TF.js's kernel (k, in, 1) gives fan_in in x 9
  expect_identical(fans_of("depthwise", "keras"), c(36, 9))
  expect_identical(fans_of("depthwise", "tfjs"), c(36, 9))
  expect_identical(fans_of("depthwise", "mlx"), c(9, 36))
  expect_equal(cell("depthwise", "keras")$ratio_he, 0.25, tolerance = 1e-15)
  # transposed at stride 2, ConvTranspose2d(16, 8, 4, stride = 2): real (64, 128)
  expect_identical(unlist(cell("transposed_stride2", "torch")[c("real_fan_in", "real_fan_out")],
                          use.names = FALSE), c(64, 128))
  expect_identical(fans_of("transposed_stride2", "torch"), c(128, 256))
  expect_identical(fans_of("transposed_stride2", "keras"), c(128, 256))
  expect_identical(fans_of("transposed_stride2", "jax"), c(256, 128))
  expect_identical(fans_of("transposed_stride2", "mlx"), c(256, 128))
  expect_equal(cell("transposed_stride2", "mlx")$ratio_he, 0.25, tolerance = 1e-15)
  # at stride 1, MLX's and Flax's axes are right; torch's and Keras's swapped
  expect_true(cell("transposed", "mlx")$correct)
  expect_true(cell("transposed", "jax")$correct)
  expect_equal(cell("transposed", "torch")$ratio_he, 2, tolerance = 1e-15)
  # grouped transposed: torch only
  for (fw in c("keras", "jax", "mlx", "tfjs")) {
    expect_identical(cell("grouped_transposed", fw)$fan_in, NA_real_, label = fw)
  }
  expect_identical(fans_of("grouped_transposed", "torch"), c(64, 256))
  expect_equal(cell("grouped_transposed", "torch")$ratio_he, 2, tolerance = 1e-15)
  # the rows agree with compare_fans() where both have the framework
  cf <- compare_fans(conformance <- list(g = conv_layer(16, 32, c(3, 3), groups = 4)))
  expect_equal(cf$ratio_glorot[cf$framework == "torch"], cell("grouped", "torch")$ratio_glorot)
  expect_error(fan_conformance(frameworks = "caffe"), "`frameworks`")
  expect_error(fan_conformance(list(dense_layer(3, 4))), "`layers\\[\\[1\\]\\]`")
})

test_that("fan_conformance(simulate = TRUE): the engine realizes each cell's ratio", {
  set.seed(21)
  tab <- fan_conformance(list(depthwise = conv_layer(4, 4, c(3, 3), groups = 4),
                              t2 = conv_layer(16, 8, c(4, 4), stride = 2, transposed = TRUE),
                              grouped = conv_layer(8, 8, 3, groups = 2)),
                         frameworks = c("torch", "mlx", "tfjs"), simulate = TRUE,
                         networks = 40, threads = 1)
  ok <- !is.na(tab$ratio_he)
  expect_identical(sum(!ok), 1L)                     # TF.js: no grouped convolution
  expect_true(all(is.na(tab$sim_ratio_he[!ok])))
  z <- unlist(lapply(c("he", "he_fan_out", "glorot"), function(r) {
    (tab[[paste0("sim_ratio_", r)]] - tab[[paste0("ratio_", r)]])[ok] /
      tab[[paste0("sim_mcse_", r)]][ok]
  }))
  expect_length(z, 24)
  expect_lt(max(abs(z)), 4)                          # 24 z-scores, family-wise ~0.002
  # pytorch#23854 in the engine: the depthwise layer's backward variance is a quarter
  r <- tab[tab$type == "depthwise" & tab$framework == "torch", ]
  expect_lt(abs(r$sim_ratio_he_fan_out - 0.25), 4 * r$sim_mcse_he_fan_out)
  expect_gt(abs(r$sim_ratio_he_fan_out - 1), 20 * r$sim_mcse_he_fan_out)
  expect_error(fan_conformance(simulate = NA), "`simulate`")
})
