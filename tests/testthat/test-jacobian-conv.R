# Jacobians of networks with conv layers (src/jacobian.c's transposed
# runner, R/jacobian.R) and the log spectrum, against the plain-R
# reference convolution of helper-conv.R and exact identities.

ns <- asNamespace("initvar")
full <- test_tier() == "full"

# Network j's Jacobians in R, from its draws (C_test_jacobian): a layer's
# transposed Jacobian is the reference layer without bias applied to the
# identity, its columns scaled by f'(s).
conv_jac_reference <- function(net, tr) {
  L <- net$layers
  z <- matrix(tr$x, 1)
  P <- diag(net$widths[1])              # (dz^i/dz^0)^T
  prod_sv <- layer_sv <- list()
  for (i in seq_along(L)) {
    lay <- ref_layer(L[[i]], tr$W[[i]], tr$b[[i]])
    lin <- ref_layer(L[[i]], tr$W[[i]], 0 * tr$b[[i]])
    s <- drop(lay(z))
    a <- L[[i]]$activation
    Jt <- lin(diag(length(z))) %*% diag(a$df(s), length(s))
    P <- P %*% Jt
    z <- matrix(a$f(s), 1)
    layer_sv[[i]] <- svd(Jt, 0, 0)$d
    prod_sv[[i]] <- svd(P, 0, 0)$d
  }
  list(prod = prod_sv, layer = layer_sv)
}

test_that("conv Jacobians agree with a plain-R reference from the same draws", {
  set.seed(31)
  nets <- list(
    cnn(c(2, 3, 2), kernel = 3, spatial = c(4, 5), padding = "zero", activation = "tanh",
        init = init_he(), bias = init_normal(0, 0.3)),
    cnn(c(2, 4), kernel = c(2, 3), spatial = c(5, 4), padding = "circular", activation = "relu",
        init = init_glorot(), bias = init_normal(0.1, 0.2)),
    cnn(c(4, 4, 2), kernel = 3, spatial = c(7, 8), padding = "valid", stride = list(1, 2),
        groups = c(2, 1), activation = c("tanh", "linear"), init = init_lecun()),
    cnn(c(2, 2), kernel = 3, spatial = 7, dilation = 2, padding = "zero", activation = "gelu",
        init = init_delta_orthogonal(1.2), bias = init_normal(0, 0.1), n_out = 3),
    cnn(c(1, 1), kernel = 3, spatial = c(1, 1), padding = "zero", activation = "tanh",
        init = init_he()))
  for (net in nets) {
    d <- length(net$widths) - 1
    spec <- ns$jacobian_spec(net, 1L, 1.3, NULL, ns$engine_seed(), seq_len(d), TRUE)
    for (j in c(0, 5)) {
      tr <- .Call(ns$C_test_jacobian, spec, j)
      r <- .Call(ns$C_jacobian, spec, j, 1L, 1L)
      R <- conv_jac_reference(net, tr)
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
    }
    # the same results on 2 threads, bit for bit
    expect_identical(.Call(ns$C_jacobian, spec, 0, 3L, 2L), .Call(ns$C_jacobian, spec, 0, 3L, 1L))
  }
})

test_that("delta-orthogonal linear CNNs are isometries to 1e-10 at depth 100", {
  # stride 1, c_in = c_out: every singular value is gain^depth, under
  # circular padding and under zero 'same' padding (odd kernel: the centre
  # tap never reads the padding), and for an even kernel under circular
  # padding; the full tier runs the first two at Xiao et al.'s 16 channels,
  # 8 x 8 (a 1024 x 1024 Jacobian, about 15 s of CPU each)
  big <- if (full) list(ch = 16, sp = c(8, 8)) else list(ch = 4, sp = c(4, 4))
  small <- list(ch = 4, sp = c(4, 4))
  cases <- list(c(list(pad = "circular", k = 3), big), c(list(pad = "zero", k = 3), big),
                c(list(pad = "circular", k = 2), small), c(list(pad = "zero", k = 5), small))
  gain <- 1.01
  for (cs in cases) {
    set.seed(7)
    net <- cnn(cs$ch, kernel = cs$k, depth = 100, spatial = cs$sp, padding = cs$pad,
               activation = "linear", init = init_delta_orthogonal(gain))
    js <- jacobian_spectrum(net, networks = 2, depths = c(1, 100), layers = FALSE)
    s <- js$sv[js$sv_depth == 100, ]
    expect_equal(length(s), 2 * cs$ch * prod(cs$sp))
    expect_lte(max(abs(s / gain^100 - 1)), 1e-10)
    p <- js$prediction
    expect_true(all(p$deterministic))
    expect_equal(p$mean_sv, gain^c(1, 100))
    expect_true(all(summary(js)$consistent))
    set.seed(7)
    small_net <- cnn(small$ch, kernel = cs$k, depth = 100, spatial = small$sp, padding = cs$pad,
                     activation = "linear", init = init_delta_orthogonal(gain))
    lg <- jacobian_log_spectrum(small_net, networks = 2, depths = 100)
    expect_lte(max(abs(lg$log_sv / (100 * log(gain)) - 1)), 1e-10)
    expect_true(summary(lg)$consistent)
  }
})

test_that("non-isometric delta-orthogonal layers are not predicted as isometries", {
  # stride 2 halves the positions, valid padding shrinks the image, and a
  # nonlinearity breaks the isometry
  nets <- list(
    cnn(c(2, 2, 2), kernel = 3, spatial = c(4, 4), stride = list(1, 2), padding = "circular",
        activation = "linear", init = init_delta_orthogonal()),
    cnn(c(2, 2), kernel = 3, spatial = c(5, 5), padding = "valid", activation = "linear",
        init = init_delta_orthogonal()),
    cnn(c(2, 2, 2), kernel = 3, spatial = c(4, 4), padding = "circular",
        activation = c("tanh", "linear"), init = init_delta_orthogonal()))
  for (net in nets) {
    p <- ns$jacobian_predict_conv(net, length(net$widths) - 1, FALSE)
    expect_false(p$deterministic)
  }
  # widening then narrowing channels: no isometry either
  net <- cnn(c(2, 4, 2), kernel = 3, spatial = c(3, 3), padding = "circular",
             activation = "linear", init = init_delta_orthogonal())
  p <- ns$jacobian_predict_conv(net, 1:2, FALSE)
  expect_identical(p$deterministic, c(TRUE, FALSE))
})

# E tr(J J^T) of a linear CNN by brute force in R: the average over draws
# is the Monte Carlo check; here the exact value for one layer from the
# definition, sum over output units of sum over input units of Var(J).
test_that("the exact E tr(J J^T) of one conv layer matches its definition", {
  cfgs <- list(
    list(ch = c(2, 3), k = 3, sp = c(4, 5), pad = "zero", stride = 1, groups = 1),
    list(ch = c(4, 2), k = c(2, 3), sp = c(5, 4), pad = "circular", stride = 2, groups = 2),
    list(ch = c(2, 2), k = 3, sp = c(6, 6), pad = "valid", stride = 1, groups = 1),
    list(ch = c(3, 3), k = 3, sp = c(5, 5), pad = "zero", stride = 2, groups = 3))
  for (cf in cfgs) {
    net <- cnn(cf$ch, kernel = cf$k, spatial = cf$sp, padding = cf$pad, stride = cf$stride,
               groups = cf$groups, activation = "linear", init = init_he())
    l <- net$layers[[1]]
    v <- weight_variance(init_he(), layer = l$conv)
    # Var(J_(o,q),(c,p)) = v times the number of taps of output (o, q)
    # reading input p of channel c (c in o's group): count them with the
    # reference convolution applied to unit inputs and a kernel of ones
    Wt <- array(1, c(cf$ch[2], cf$ch[1] / cf$groups, rep_len(cf$k, 2)))
    hw <- if (length(cf$sp) == 1) c(1, cf$sp) else cf$sp
    cnt <- ref_conv(diag(l$n_in), Wt, rep(0, cf$ch[2]), hw[1], hw[2], rep_len(cf$k, 2),
                    rep_len(cf$stride, 2), c(1, 1), cf$groups, cf$pad)
    # each entry counts taps: J's entries are sums of that many weights
    exact <- v * sum(cnt)
    L <- ns$jacobian_conv_layers(net)
    expect_equal(ns$jacobian_conv_trace(L, 1, 1), exact, tolerance = 1e-12)
  }
})

test_that("mean_sq of linear CNNs agrees with simulation (calibrated, Bonferroni)", {
  set.seed(404)
  cfgs <- list(
    list(ch = c(2, 3, 3), k = 3, sp = c(5, 5), pad = "zero", stride = list(1, 2), groups = 1,
         init = init_he()),
    list(ch = c(2, 2, 2), k = 2, sp = c(4, 4), pad = "circular", stride = 1, groups = c(2, 1),
         init = init_glorot()),
    list(ch = c(1, 2, 2), k = 3, sp = c(6, 6), pad = "valid", stride = 1, groups = 1,
         init = init_lecun(), n_out = 3))
  if (full) {
    cfgs <- c(cfgs, list(
      list(ch = c(3, 3, 3, 3), k = 3, sp = c(6, 6), pad = "zero", stride = list(1, 2, 1),
           groups = c(1, 3, 1), init = init_he()),
      list(ch = c(2, 4, 4), k = 3, sp = c(4, 4), pad = "circular", stride = 1, groups = 1,
           init = init_delta_orthogonal(0.9))))
  }
  nets <- lapply(cfgs, function(cf) {
    cnn(cf$ch, kernel = cf$k, spatial = cf$sp, padding = cf$pad, stride = cf$stride,
        groups = cf$groups, activation = "linear", init = cf$init, n_out = cf$n_out)
  })
  rows <- sum(vapply(nets, function(n) 2 * (length(n$widths) - 1), 0))
  # one family over every row of every configuration
  crit <- stats::qt(1 - 0.001 / (2 * rows), 399)
  for (net in nets) {
    js <- jacobian_spectrum(net, networks = 400, threads = 2)
    df <- as.data.frame(js)
    expect_true(all(df$mean_sq_basis == "exact"))
    ok <- df$mean_sq_mcse > 0
    expect_true(all(abs(df$mean_sq_z[ok]) < crit), info = paste(format(df$mean_sq_z), collapse = " "))
  }
})

test_that("the log spectrum's mean is the mean log singular value, exactly", {
  set.seed(12)
  nets <- list(mlp(c(6, 8, 7, 9), c("tanh", "linear", "gelu"), init_glorot(),
                   bias = init_normal(0, 0.2)),
               cnn(c(2, 3, 3), kernel = 3, spatial = c(3, 4), padding = "zero",
                   activation = "tanh", init = init_he(), bias = init_normal(0, 0.1)))
  for (net in nets) {
    d <- length(net$widths) - 1
    seed <- ns$engine_seed()
    sv <- ns$jacobian_spec(net, 1L, 1, NULL, seed, seq_len(d), FALSE)
    for (every in c(1, 2)) {
      lg <- ns$jacobian_spec(net, 1L, 1, NULL, seed, seq_len(d), FALSE, every = every)
      a <- .Call(ns$C_jacobian, sv, 0, 3L, 1L)
      b <- .Call(ns$C_jacobian, lg, 0, 3L, 1L)
      n0 <- net$widths[1]
      for (j in 1:3) for (l in seq_len(d)) {
        s <- a[[2]][(l - 1) * n0 + seq_len(n0), j]
        lam <- b[[2]][(l - 1) * n0 + seq_len(n0), j]
        expect_lte(abs(mean(log(s)) - mean(lam)), 1e-10)
        expect_equal(b[[1]][(j - 1) * 5 * d + (l - 1) * 5 + 1], mean(lam), tolerance = 1e-12)
        expect_false(is.unsorted(rev(lam)))
      }
    }
  }
})

test_that("the Gaussian log-determinant prediction is calibrated over seeds", {
  # E mean log sv of linear Gaussian products (the digamma formula), as a
  # t test at level 0.99: the rejection rate over seeds within the binomial
  # band (two-sided, 1 - 1e-3), at a narrow and a wider, deeper network
  nseed <- if (full) 200 else 40
  nets <- list(mlp(c(3, 3, 4), "linear", init_normal(sd = 0.7)),
               mlp(c(6, rep(8, 12)), "linear", init_lecun()))
  for (net in nets) {
    rej <- vapply(seq_len(nseed), function(sd) {
      set.seed(900 + sd)
      !all(summary(jacobian_log_spectrum(net, networks = 10, depths = c(1, length(net$widths) - 1),
                                         threads = 1))$consistent)
    }, TRUE)
    # two rows per seed, not independent: the family-wise rate is between
    # 0.01 and 0.02; the band is around 0.02 (the larger) with its
    # binomial 1 - 1e-3 bound, the lower end 0
    expect_lte(sum(rej), stats::qbinom(1 - 1e-3, nseed, 0.02))
  }
  # and the prediction itself against a long run (one value, 2000 networks)
  set.seed(5)
  lg <- jacobian_log_spectrum(mlp(c(4, 5, 6, 4), "linear", init_normal(sd = 0.5)),
                              networks = 2000, depths = 3, threads = 2)
  df <- as.data.frame(lg)
  expect_lt(abs(df$mean_log_z), stats::qt(1 - 0.0005, 1999))
})

test_that("jacobian_log_spectrum() refuses what it cannot compute, naming the argument", {
  expect_error(jacobian_log_spectrum(mlp(c(4, 3, 4), "tanh", init_he())),
               "every width at least its input's 4")
  expect_error(jacobian_log_spectrum(mlp(c(4, 4), "tanh", init_he()), every = 2),
               "`every` must be")
  expect_error(jacobian_log_spectrum(mlp(c(4, 4), "tanh", init_he()), networks = 1),
               "`networks` must be")
  expect_error(jacobian_log_spectrum(mlp(c(4, 4), "tanh", init_he()), depths = 2),
               "`depths\\[1\\]` must be")
  expect_error(jacobian_log_spectrum(mlp(c(4, 4), "tanh", init_he()), input = 1:3),
               "`input` must be")
  # an inactive ReLU makes a zero singular value
  expect_error(jacobian_log_spectrum(mlp(c(8, 8), "relu", init_he()), networks = 4),
               "zero[[:space:]]+singular[[:space:]]+value")
  expect_error(jacobian_log_spectrum(resmlp(4, 2, "relu", init_he())), "residual layers")
  expect_error(jacobian_spectrum(resmlp(4, 2, "relu", init_he())), "residual layers")
})

# ---- Algorithm-1 orthogonal kernels ---------------------------------------------

# The taps of a kernel drawn by the engine (K x c_out, rows cc taps + tap),
# group g: a list of c_i x c_o matrices, one per tap.
engine_taps <- function(W, taps, G, g) {
  ci <- nrow(W) / taps
  co <- ncol(W) / G
  lapply(seq_len(taps), function(t) W[(seq_len(ci) - 1) * taps + t, (g - 1) * co + seq_len(co),
                                      drop = FALSE])
}

test_that("Algorithm-1 kernels have a unitary symbol, draw by draw", {
  set.seed(77)
  cfgs <- list(list(ch = c(3, 5), k = c(2, 3), groups = 1, gain = 1.3, sp = c(4, 5)),
               list(ch = c(6, 2), k = 3, groups = 1, gain = 0.8, sp = c(4, 4)),
               list(ch = c(4, 6), k = 3, groups = 2, gain = 1, sp = 6),
               list(ch = c(2, 2), k = 1, groups = 1, gain = 2, sp = c(3, 3)))
  for (cf in cfgs) {
    net <- cnn(cf$ch, kernel = cf$k, spatial = cf$sp, padding = "circular", groups = cf$groups,
               activation = "linear", init = init_conv_orthogonal(cf$gain))
    spec <- ns$jacobian_spec(net, 1L, 1, NULL, ns$engine_seed(), 1, FALSE)
    kk <- if (length(cf$sp) == 1) c(1, cf$k) else rep_len(cf$k, 2)
    taps <- prod(kk)
    for (j in 0:2) {
      W <- .Call(ns$C_test_jacobian, spec, j)$W[[1]]
      ci <- cf$ch[1] / cf$groups
      co <- cf$ch[2] / cf$groups
      for (g in seq_len(cf$groups)) {
        Wt <- engine_taps(W, taps, cf$groups, g)
        # Parseval, and the symbol at a random frequency
        S <- Reduce(`+`, lapply(Wt, function(w) if (ci <= co) tcrossprod(w) else crossprod(w)))
        expect_lte(max(abs(S - cf$gain^2 * diag(min(ci, co)))), 1e-12)
        om <- stats::runif(2, 0, 2 * pi)
        ph <- exp(1i * (om[1] * rep(seq_len(kk[1]) - 1, each = kk[2]) +
                          om[2] * rep(seq_len(kk[2]) - 1, kk[1])))
        Wh <- Reduce(`+`, Map(function(w, z) w * z, Wt, ph))
        U <- if (ci <= co) Wh %*% Conj(t(Wh)) else Conj(t(Wh)) %*% Wh
        expect_lte(max(Mod(U - cf$gain^2 * diag(min(ci, co)))), 1e-12)
      }
    }
    expect_equal(weight_variance(init_conv_orthogonal(cf$gain), layer = net$layers[[1]]$conv),
                 cf$gain^2 / (taps * max(cf$ch) / cf$groups))
  }
  # sample_weights() draws the same construction: Parseval in torch's layout
  K <- sample_weights(init_conv_orthogonal(1.5), dim = c(5, 3, 2, 3), layout = "torch")
  S <- Reduce(`+`, lapply(seq_len(6), function(t) {
    w <- K[, , (t - 1) %/% 3 + 1, (t - 1) %% 3 + 1]    # out x in
    crossprod(w)
  }))
  expect_lte(max(abs(S - 2.25 * diag(3))), 1e-12)
  expect_true(mean(K != 0) > 0.5)                      # every tap is used
})

test_that("Algorithm-1 linear CNNs are isometries under circular padding only", {
  ch <- if (full) 16 else 4
  sp <- if (full) c(8, 8) else c(4, 4)
  set.seed(8)
  net <- cnn(ch, kernel = 3, depth = 100, spatial = sp, padding = "circular",
             activation = "linear", init = init_conv_orthogonal(1.01))
  js <- jacobian_spectrum(net, networks = 2, depths = 100, layers = FALSE)
  expect_lte(max(abs(js$sv / 1.01^100 - 1)), 1e-10)
  expect_true(js$prediction$deterministic)
  # zero padding: the border cuts the polynomial, the spread is wide
  net0 <- cnn(4, kernel = 3, depth = 10, spatial = c(4, 4), padding = "zero",
              activation = "linear", init = init_conv_orthogonal())
  js0 <- jacobian_spectrum(net0, networks = 2, depths = 10, layers = FALSE)
  expect_false(js0$prediction$deterministic)
  expect_true(is.na(js0$prediction$mean_sq))
  expect_lt(min(js0$sv) / max(js0$sv), 0.5)
  # the predictions refuse them, naming the layer
  expect_error(predict_variance(net0), "Algorithm-1[[:space:]]+orthogonal[[:space:]]+kernels[[:space:]]+\\(layer[[:space:]]+1\\)")
})
