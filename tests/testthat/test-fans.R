test_that("torch layout: (out, in, k...) as torch's _calculate_fan_in_and_fan_out", {
  # nn.Linear(784, 256).weight has shape (256, 784)
  expect_equal(fans(c(256, 784), "torch")[c("fan_in", "fan_out")], c(fan_in = 784, fan_out = 256))
  # nn.Conv2d(3, 64, 3).weight has shape (64, 3, 3, 3)
  expect_equal(fans(c(64, 3, 3, 3), "torch")[c("fan_in", "fan_out", "receptive_field")],
               c(fan_in = 27, fan_out = 576, receptive_field = 9))
  # nn.Conv1d(16, 33, 5) and nn.Conv3d(2, 4, (3, 5, 7))
  expect_equal(fans(c(33, 16, 5), "torch")[["fan_in"]], 80)
  expect_equal(fans(c(4, 2, 3, 5, 7), "torch")[["fan_out"]], 4 * 105)
  expect_error(fans(10), "at least 2 dimensions")
})

test_that("keras layout: (k..., in, out) as VarianceScaling's _compute_fans", {
  expect_equal(fans(c(784, 256), "keras")[c("fan_in", "fan_out")],
               c(fan_in = 784, fan_out = 256))
  expect_equal(fans(c(3, 3, 3, 64), "keras")[c("fan_in", "fan_out")],
               c(fan_in = 27, fan_out = 576))
  expect_equal(fans(10, "keras")[c("fan_in", "fan_out")], c(fan_in = 10, fan_out = 10))
  expect_equal(fans(c(3, 3, 3, 64), "keras")[c("in_units", "out_units")],
               c(in_units = 3, out_units = 64))
})

test_that("fans are exact beyond integer range", {
  f <- fans(c(2^20, 2^20, 2^10), "torch")
  expect_equal(f[["fan_in"]], 2^30)
  expect_equal(f[["fan_out"]], 2^30)
})

# ---- real fans against a plain-R count from the layer's Jacobian ------------

# The Jacobian dy/dx of a convolution or transposed convolution written out
# from its definition (cross-correlation, as torch computes it), with
# circular padding so that every unit is an interior one. Input channels x
# spatial grid `n` (0-based positions, column-major, channel slowest).
# Weights in torch's layout: (out, in/g, k...) for a convolution,
# (in, out/g, k...) for a transposed one; `w` a function of that index
# (1-based) giving the weight, by default 1 (then J counts products).
plain_conv_jacobian <- function(cin, cout, k, s = rep(1, length(k)), g = 1,
                                transposed = FALSE, n = k, w = NULL) {
  d <- length(k)
  s <- rep_len(s, d)
  m <- if (transposed) n * s else n / s           # output grid
  stopifnot(all(m == round(m)))
  grid_index <- function(pos, size) {             # pos: matrix P x d, 0-based
    idx <- 0; mult <- 1
    for (a in seq_len(d)) { idx <- idx + pos[, a] * mult; mult <- mult * size[a] }
    idx
  }
  all_pos <- function(size) as.matrix(expand.grid(lapply(size, function(z) seq_len(z) - 1)))
  taps <- all_pos(k)
  J <- matrix(0, cout * prod(m), cin * prod(n))
  cin_g <- cin / g; cout_g <- cout / g
  for (t in seq_len(nrow(taps))) {
    j <- taps[t, ]
    if (!transposed) {
      P <- all_pos(m)                             # output positions
      ipos <- sweep(sweep(P, 2, s, "*"), 2, j, "+") %% rep(n, each = nrow(P))
      grid <- expand.grid(p = seq_len(nrow(P)), o = seq_len(cout) - 1, cl = seq_len(cin_g) - 1)
      c_in <- (grid$o %/% cout_g) * cin_g + grid$cl
      row <- grid$o * prod(m) + grid_index(P, m)[grid$p] + 1
      col <- c_in * prod(n) + grid_index(ipos, n)[grid$p] + 1
      widx <- cbind(grid$o + 1, grid$cl + 1, matrix(j + 1, nrow(grid), d, byrow = TRUE))
    } else {
      P <- all_pos(n)                             # input positions
      opos <- sweep(sweep(P, 2, s, "*"), 2, j, "+") %% rep(m, each = nrow(P))
      grid <- expand.grid(p = seq_len(nrow(P)), c = seq_len(cin) - 1, ol = seq_len(cout_g) - 1)
      o <- (grid$c %/% cin_g) * cout_g + grid$ol
      row <- o * prod(m) + grid_index(opos, m)[grid$p] + 1
      col <- grid$c * prod(n) + grid_index(P, n)[grid$p] + 1
      widx <- cbind(grid$c + 1, grid$ol + 1, matrix(j + 1, nrow(grid), d, byrow = TRUE))
    }
    val <- if (is.null(w)) rep(1, length(row)) else w(widx)
    # accumulate (duplicate (row, col) pairs add up)
    key <- row + (col - 1) * nrow(J)
    agg <- tapply(val, key, sum)
    kk <- as.numeric(names(agg))
    J[kk] <- J[kk] + agg
  }
  J
}

# Fans from a Jacobian: products per output unit (row sums of the unit-weight
# Jacobian) and per input unit (column sums), averaged; and the inputs touched
# per output (non-zeros), which must be the same count.
jacobian_fans <- function(J) {
  c(fan_in = mean(rowSums(J)), fan_out = mean(colSums(J)),
    touched_in = mean(rowSums(J != 0)), touched_out = mean(colSums(J != 0)))
}

# The 13 torch modules of issue 16 with their weight shapes as torch stores
# them (nn.Conv*: (out, in/groups, k...); nn.ConvTranspose*: (in, out/groups, k...)).
torch_modules <- list(
  "Linear(784, 256)" = list(l = dense_layer(784, 256), shape = c(256, 784),
                            conv = list(784, 256, 1)),
  "Conv1d(16, 33, 5)" = list(l = conv_layer(16, 33, 5), shape = c(33, 16, 5)),
  "Conv2d(3, 64, 3)" = list(l = conv_layer(3, 64, c(3, 3)), shape = c(64, 3, 3, 3)),
  "Conv3d(2, 4, (3, 5, 7))" = list(l = conv_layer(2, 4, c(3, 5, 7)), shape = c(4, 2, 3, 5, 7)),
  "Conv2d(8, 16, 3, groups=4)" = list(l = conv_layer(8, 16, c(3, 3), groups = 4),
                                      shape = c(16, 2, 3, 3)),
  "Conv2d(32, 32, 3, groups=32)" = list(l = conv_layer(32, 32, c(3, 3), groups = 32),
                                        shape = c(32, 1, 3, 3)),
  "Conv2d(16, 32, 3, groups=16)" = list(l = conv_layer(16, 32, c(3, 3), groups = 16),
                                        shape = c(32, 1, 3, 3)),
  "Conv2d(16, 32, 3, stride=2)" = list(l = conv_layer(16, 32, c(3, 3), stride = 2),
                                       shape = c(32, 16, 3, 3)),
  "ConvTranspose1d(16, 33, 5)" = list(l = conv_layer(16, 33, 5, transposed = TRUE),
                                      shape = c(16, 33, 5)),
  "ConvTranspose2d(64, 16, 4)" = list(l = conv_layer(64, 16, c(4, 4), transposed = TRUE),
                                      shape = c(64, 16, 4, 4)),
  "ConvTranspose2d(64, 16, 4, stride=2)" = list(
    l = conv_layer(64, 16, c(4, 4), stride = 2, transposed = TRUE), shape = c(64, 16, 4, 4)),
  "ConvTranspose2d(8, 16, 3, groups=4)" = list(
    l = conv_layer(8, 16, c(3, 3), groups = 4, transposed = TRUE), shape = c(8, 4, 3, 3)),
  "ConvTranspose1d(16, 8, 4, stride=2, groups=2)" = list(
    l = conv_layer(16, 8, 4, stride = 2, groups = 2, transposed = TRUE), shape = c(16, 4, 4))
)

# torch's _calculate_fan_in_and_fan_out, written out here.
torch_calculate_fans <- function(shape) {
  rf <- if (length(shape) > 2) prod(shape[-(1:2)]) else 1
  c(fan_in = shape[2] * rf, fan_out = shape[1] * rf)
}

module_jacobian <- function(l) {
  if (l$kind == "dense") {   # a Linear layer is a 1x1 convolution on a 1-point grid
    return(plain_conv_jacobian(prod(l$in_features), prod(l$out_features), 1, n = 1))
  }
  k <- l$kernel_size; s <- l$stride
  # a grid large enough that no kernel wraps onto itself, divisible by the stride
  n <- if (l$transposed) pmax(1, ceiling(k / s)) + 1 else s * (ceiling(k / s) + 1)
  plain_conv_jacobian(l$in_channels, l$out_channels, k, s, l$groups, l$transposed, n)
}

test_that("fans(layer) are the fans counted from the layer's Jacobian, on 13 torch modules", {
  n_torch_right <- 0
  for (nm in names(torch_modules)) {
    m <- torch_modules[[nm]]
    jf <- jacobian_fans(module_jacobian(m$l))
    real <- fans(m$l)
    expect_equal(real[["fan_in"]], jf[["fan_in"]], label = paste(nm, "fan_in"))
    expect_equal(real[["fan_out"]], jf[["fan_out"]], label = paste(nm, "fan_out"))
    # no kernel tap hits the same input twice: products = inputs touched
    expect_equal(jf[["touched_in"]], jf[["fan_in"]], label = nm)
    expect_equal(jf[["touched_out"]], jf[["fan_out"]], label = nm)
    # the torch convention reproduces torch's computation on torch's weight shape
    tf <- torch_calculate_fans(m$shape)
    expect_equal(fans(m$l, convention = "torch")[c("fan_in", "fan_out")], tf, label = nm)
    expect_equal(fans(m$shape, "torch")[c("fan_in", "fan_out")], tf, label = nm)
    n_torch_right <- n_torch_right + all(tf == real[c("fan_in", "fan_out")])
  }
  # torch is right on Linear and the plain Conv1d/2d/3d only
  expect_equal(n_torch_right, 4)
})

test_that("the plain-R convolution is a convolution, and the transposed one its adjoint", {
  # y = J x against a direct loop, 1-d, stride 2, 2 groups
  set.seed(3)
  W <- array(rnorm(4 * 1 * 3), c(4, 1, 3))          # Conv1d(2, 4, 3, groups = 2)
  J <- plain_conv_jacobian(2, 4, 3, 2, 2, n = 6, w = function(i) W[i])
  x <- matrix(rnorm(12), 6, 2)                       # positions x channels
  y <- matrix(0, 3, 4)
  for (o in 1:4) for (p in 0:2) for (t in 0:2) {
    ci <- (o - 1) %/% 2 + 1
    y[p + 1, o] <- y[p + 1, o] + W[o, 1, t + 1] * x[(2 * p + t) %% 6 + 1, ci]
  }
  expect_equal(as.vector(J %*% as.vector(x)), as.vector(y))
  # ConvTranspose with the same weight (torch's (in, out/g, k) read from the
  # conv's (out, in/g, k)) is the adjoint: J_T = t(J)
  Jt <- plain_conv_jacobian(4, 2, 3, 2, 2, transposed = TRUE, n = 3, w = function(i) W[i])
  expect_equal(Jt, t(J))
  Wt <- array(rnorm(6 * 2 * 3 * 2), c(6, 2, 3, 2))    # ConvTranspose2d(6, 4, (3, 2), stride (2, 1), groups 2)
  Jt2 <- plain_conv_jacobian(6, 4, c(3, 2), c(2, 1), 2, TRUE, n = c(2, 3), w = function(i) Wt[i])
  J2 <- plain_conv_jacobian(4, 6, c(3, 2), c(2, 1), 2, FALSE, n = c(4, 3), w = function(i) Wt[i])
  expect_equal(Jt2, t(J2))
})

test_that("a strided transposed convolution averages in * prod(k) / prod(s) inputs per output", {
  # with random weights (no cancellation) the non-zeros of each row of the
  # Jacobian are the inputs an output unit touches: 2 or 4 or 1 per tap row
  set.seed(5)
  l <- conv_layer(8, 4, c(3, 3), stride = 2, transposed = TRUE)
  sh <- c(8, 4, 3, 3)
  W <- array(rnorm(prod(sh)), sh)
  J <- plain_conv_jacobian(8, 4, c(3, 3), 2, 1, TRUE, n = c(2, 2), w = function(i) W[i])
  # E over weights of mean_o sum_i J[o, i]^2 = Var(W) * (products per output)
  expect_equal(fans(l)[["fan_in"]], 8 * 9 / 4)
  expect_equal(mean(rowSums(J != 0)), 8 * 9 / 4)
})

test_that("weight_variance(layer = ) uses the real fans; torch's shape gives 4x for ConvTranspose2d", {
  tc <- conv_layer(64, 16, c(4, 4), transposed = TRUE)
  expect_equal(weight_variance(init_he(), dim = c(64, 16, 4, 4), layout = "torch") /
                 weight_variance(init_he(), layer = tc), 4)
  expect_equal(weight_variance(init_he(), layer = tc), 2 / 1024)
  # at stride 2 torch's fan_in of 256 is right
  tc2 <- conv_layer(64, 16, c(4, 4), stride = 2, transposed = TRUE)
  expect_equal(weight_variance(init_he(), layer = tc2), weight_variance(init_he(), dim = c(64, 16, 4, 4), layout = "torch"))
  # Glorot on a depthwise kernel: torch gives 2 / (1 + C) of the real variance
  dw <- conv_layer(32, 32, c(3, 3), groups = 32)
  expect_equal(weight_variance(init_glorot(), dim = c(32, 1, 3, 3), layout = "torch") /
                 weight_variance(init_glorot(), layer = dw), 2 / 33)
  expect_equal(weight_mean(init_he(), layer = tc), 0)
  expect_equal(weight_variance(init_normal(sd = 2), layer = tc), 4)
  # a fractional real fan is fine
  expect_equal(weight_variance(init_lecun(), layer = conv_layer(3, 4, 3, stride = 2, transposed = TRUE)),
               1 / 4.5)
})

test_that("packed QKV and einsum kernels: torch, Keras and JAX against the real fans", {
  a <- attention_layer(512, 8)
  expect_equal(fans(a)[c("fan_in", "fan_out")], c(fan_in = 512, fan_out = 512))
  # torch's in_proj_weight (1536, 512)
  expect_equal(fans(a, convention = "torch")[c("fan_in", "fan_out")], c(fan_in = 512, fan_out = 1536))
  # Keras EinsumDense kernel (512, 8, 64) read as a convolution
  expect_equal(fans(a, convention = "keras")[c("fan_in", "fan_out")],
               c(fan_in = 8 * 512, fan_out = 64 * 512))
  expect_equal(fans(a, convention = "jax")[c("fan_in", "fan_out")], c(fan_in = 512, fan_out = 512))
  o <- attention_layer(512, 8, projection = "output")
  expect_equal(fans(o, convention = "keras")[c("fan_in", "fan_out")],
               c(fan_in = 64 * 8, fan_out = 512 * 8))
  expect_equal(fans(o, convention = "torch")[c("fan_in", "fan_out")], c(fan_in = 512, fan_out = 512))
  # one projection's Jacobian: d_model -> heads x head_dim
  J <- module_jacobian(dense_layer(24, c(2, 6)))
  expect_equal(jacobian_fans(J)[1:2], c(fan_in = 24, fan_out = 12))
  cf <- compare_fans(list(qkv = a))
  expect_equal(cf$ratio_glorot[cf$framework == "torch"], 1024 / 2048)
  expect_equal(cf$ratio_glorot[cf$framework == "keras"], 512 / (512 * 36))
  expect_true(cf$correct[cf$framework == "jax"])
})

test_that("Keras and JAX conventions read their own kernel shapes", {
  tc <- conv_layer(64, 16, c(4, 4), transposed = TRUE)
  expect_equal(fans(tc, convention = "keras")[c("fan_in", "fan_out")],
               c(fan_in = 256, fan_out = 1024))          # Conv2DTranspose kernel (4, 4, 16, 64)
  expect_equal(fans(tc, convention = "jax")[c("fan_in", "fan_out")],
               c(fan_in = 1024, fan_out = 256))          # Flax ConvTranspose kernel (4, 4, 64, 16)
  dw <- conv_layer(32, 64, c(3, 3), groups = 32)
  expect_equal(fans(dw, convention = "keras")[c("fan_in", "fan_out")],
               c(fan_in = 32 * 9, fan_out = 2 * 9))      # DepthwiseConv2D kernel (3, 3, 32, 2)
  expect_equal(fans(dw, convention = "jax")[c("fan_in", "fan_out")],
               c(fan_in = 9, fan_out = 64 * 9))
  expect_true(all(is.na(fans(conv_layer(4, 4, 3, groups = 2, transposed = TRUE),
                             convention = "keras"))))
  cf <- compare_fans(conv_layer(3, 64, c(3, 3)))
  expect_true(all(cf$correct))
  expect_equal(nrow(cf), 3)
})

test_that("bad layers and conventions are errors naming the argument", {
  expect_error(conv_layer(6, 4, 3, groups = 4), "`groups` must be a divisor of `in_channels`")
  expect_error(conv_layer(8, 6, 3, groups = 4), "`groups` must be a divisor of `out_channels`")
  expect_error(conv_layer(8, 6, c(3, 3), stride = c(1, 2, 2)), "`stride` must be of length 1 or 2")
  expect_error(conv_layer(8, 6, c(3, 0)), "`kernel_size\\[2\\]` must be a positive whole number")
  expect_error(conv_layer(8, 6, 3, transposed = NA), "`transposed` must be TRUE or FALSE")
  expect_error(dense_layer(0, 3), "`in_features` must be a positive whole number")
  expect_error(attention_layer(10, 3), "`head_dim` must be a positive whole number")
  expect_error(fans(c(3, 4), convention = "torch"), "`convention` must be left out")
  expect_error(fans(conv_layer(3, 4, 3), convention = "mx"), "`convention` must be one of")
  expect_error(weight_variance(init_he(), 3, layer = conv_layer(3, 4, 3)), "Give `layer` alone")
  expect_error(weight_variance(init_he(), layer = 3), "`layer` must be a layer")
  expect_error(weight_variance(init_orthogonal(), layer = conv_layer(3, 4, 3)),
               "`layer` must be left out for `init_orthogonal\\(\\)`")
  expect_error(compare_fans(list(3)), "`layers\\[\\[1\\]\\]` must be a layer")
  expect_error(compare_fans(conv_layer(3, 4, 3), schemes = list(a = init_orthogonal())),
               "`schemes\\$a` must be a variance-scaling scheme")
  expect_error(weight_variance(init_he(), layer = 3), class = "initvar_error")
})
