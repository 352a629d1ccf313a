# coordinate_check(parametrization = , depths = ): the factors applied per
# group against the rule tables written out by hand, the per-unit optimizer
# against a plain-R step, the slope tests' calibration over seeds, the Holm
# verdict, depth sweeps and mup_bugs().

mlp_base <- function(n) {
  mlp(c(16, n, n, 10), c("relu", "relu", "linear"),
      list(init_lecun(), init_he(), init_normal(sd = 1 / 32)))
}
unit_vars <- function(net) {
  vapply(initvar:::net_units(net$layers), function(u) weight_variance(u$init, u$n_in, u$n_out), 0)
}

test_that("muP, SP and NTK scale an MLP's groups as their tables say", {
  m <- 128 / 32
  ap <- initvar:::cc_apply(mlp_base(128), mlp_base(32), mlp_base(64), parametrization("mup"),
                           128, 1, 32, 1, lr = 0.01, eps = 1e-8, optimizer = "adam")
  expect_equal(ap$groups, c("input", "hidden", "output"))
  # Tensor Programs V, Table 3 (Adam): input var 1/fan_in, lr 1; hidden var
  # 1/n, lr 1/m; output var 1/n^2, lr 1/m; biases lr 1; eps 1/m except the
  # read-out's
  expect_equal(unit_vars(ap$net), c(1 / 16, 2 / 32 / m, (1 / 32)^2 / m^2))
  expect_equal(ap$opt$lr_w, 0.01 * c(1, 1 / m, 1 / m))
  expect_equal(ap$opt$lr_b, rep(0.01, 3))
  expect_equal(ap$opt$eps_w, 1e-8 * c(1 / m, 1 / m, 1))
  expect_equal(ap$opt$eps_b, rep(1e-8 / m, 3))
  # muP with SGD: input and bias lr m, hidden 1, output 1/m
  ap <- initvar:::cc_apply(mlp_base(128), mlp_base(32), mlp_base(64), parametrization("mup"),
                           128, 1, 32, 1, lr = c(0.1, 0.2, 0.3), eps = 1e-8, optimizer = "sgd")
  expect_equal(ap$opt$lr_w, c(0.1 * m, 0.2, 0.3 / m))
  expect_equal(ap$opt$lr_b, c(0.1, 0.2, 0.3) * m)
  # SP: the base variances at the base fans, rescaled by 1/m for the
  # width-to-width matrices; learning rates and eps untouched
  ap <- initvar:::cc_apply(mlp_base(128), mlp_base(32), mlp_base(64), parametrization("sp"),
                           128, 1, 32, 1, lr = 0.01, eps = 1e-8, optimizer = "adam")
  expect_equal(unit_vars(ap$net), c(1 / 16, 2 / 32 / m, (1 / 32)^2 / m))
  expect_equal(ap$opt$lr_w, rep(0.01, 3))
  # NTK: the multiplier n^(-1/2) absorbed into the weight: variance times
  # 1/m, SGD lr times c^2 = 1/m, Adam lr times c, eps divided by c
  ntk <- parametrization("ntk")
  ap <- initvar:::cc_apply(mlp_base(128), mlp_base(32), mlp_base(64), ntk, 128, 1, 32, 1,
                           lr = 0.01, eps = 1e-8, optimizer = "sgd")
  expect_equal(unit_vars(ap$net), c(1 / 16, 2 / 32 / m, (1 / 32)^2 / m))
  expect_equal(ap$opt$lr_w, 0.01 * c(1, 1 / m, 1 / m))
  ap <- initvar:::cc_apply(mlp_base(128), mlp_base(32), mlp_base(64), ntk, 128, 1, 32, 1,
                           lr = 0.01, eps = 1e-8, optimizer = "adam")
  expect_equal(ap$opt$lr_w, 0.01 * c(1, m^-0.5, m^-0.5))
  expect_equal(ap$opt$eps_w, 1e-8 * c(1, m^0.5, m^0.5))
})

test_that("the depth family scales residual branches, learning rates and eps in depth", {
  rf <- function(n, L) resmlp(n, L, "relu", list(init_he(), init_lecun()), branch_depth = 2,
                              n_in = 16, n_out = 10)
  for (a in c(0.5, 0.75, 1)) {
    p <- parametrization(if (a == 1) "completep" else "depth_mup", alpha = if (a != 1) a)
    ap <- initvar:::cc_apply(rf(64, 8), rf(64, 8), rf(128, 8), p, 64, 8, 64, 2, lr = 0.01,
                             eps = 1e-3, optimizer = "adam")
    mL <- 8 / 2
    expect_equal(ap$groups, c("input", rep("hidden", 16), "output"))
    res <- vapply(ap$net$layers, function(l) l$kind == "residual", TRUE)
    expect_equal(vapply(ap$net$layers[res], function(l) l$alpha, 0), rep(mL^-a, 8))
    # Dey et al. (2025), Table 1: Adam lr L^(alpha - 1), eps L^(-alpha)
    # inside the branches; input and read-out untouched in depth
    expect_equal(ap$opt$lr_w, 0.01 * c(1, rep(mL^(a - 1), 16), 1))
    expect_equal(ap$opt$eps_w, 1e-3 * c(1, rep(mL^-a, 16), 1))
    sgd <- initvar:::cc_apply(rf(64, 8), rf(64, 8), rf(128, 8), p, 64, 8, 64, 2, lr = 0.01,
                              eps = 1e-3, optimizer = "sgd")
    expect_equal(sgd$opt$lr_w[2:17], rep(0.01 * mL^(2 * a - 1), 16))
  }
})

test_that("a transformer's query, hidden matrices and attention scale follow muP", {
  tf <- function(n, dff = 4 * n) transformer(n, heads = 2, depth = 1, d_ff = dff, seq_len = 4,
                                             init = init_lecun())
  ap <- initvar:::cc_apply(tf(64), tf(32), tf(64), parametrization("mup"), 64, 1, 32, 1,
                           lr = 0.01, eps = 1e-8, optimizer = "adam")
  expect_equal(ap$groups, c("query", rep("hidden", 5)))
  # base variances at width 32 (LeCun: 1 / fan_in; d_ff = 128), times 1/m
  expect_equal(unit_vars(ap$net), c(rep(1 / 32, 4), 1 / 32, 1 / 128) / 2)
  # muP's 1/d_k from the base's 1/sqrt(16): 1/4 * 16/32
  expect_equal(ap$net$layers[[1]]$scale, 1 / 8)
  sp <- initvar:::cc_apply(tf(64), tf(32), tf(64), parametrization("sp"), 64, 1, 32, 1,
                           lr = 0.01, eps = 1e-8, optimizer = "adam")
  expect_equal(sp$net$layers[[1]]$scale, 1 / sqrt(32))
})

test_that("train_steps() with per-unit learning rates equals a plain-R SGD step", {
  net <- mlp(c(3, 2), "linear", init_normal(sd = 0.7), init_normal(sd = 0.5))
  opt <- list(lr_w = 0.1, lr_b = 0.3, eps_w = 1, eps_b = 1)
  set.seed(6100)
  got <- initvar:::train_steps_one(net, 1, "sgd", 4, "mse", 1, 1e-8, 1, opt = opt)
  set.seed(6100)
  dr <- initvar:::first_step_draw(net, 4, 1)
  X <- dr$X; W <- dr$par[[1]]$W; b <- dr$par[[1]]$b
  Y <- X %*% W + matrix(b, 4, 2, byrow = TRUE)
  target <- matrix(rnorm(8), 4, 2)
  G <- (Y - target) / 4
  dZ <- X %*% (-0.1 * crossprod(X, G)) + matrix(-0.3 * colSums(G), 4, 2, byrow = TRUE)
  expect_equal(got[, 1], mean(Y^2))
  expect_equal(got[, 2], mean(dZ^2))
  # the same rates through `lr` give the same numbers when lr_w = lr_b
  set.seed(6200)
  a <- initvar:::train_steps_one(net, 0.2, "adam", 4, "softmax", 1, 1e-3, 2)
  set.seed(6200)
  b <- initvar:::train_steps_one(net, 0.2, "adam", 4, "softmax", 1, 1e-3, 2,
                                 opt = list(lr_w = 0.2, lr_b = 0.2, eps_w = 1e-3, eps_b = 1e-3))
  expect_identical(a, b)
})

test_that("the asymptotic test's p-value is P(Z > (|b - b0| - delta) / se), Holm over rows", {
  # two sizes' log mean squares with a known slope, built by hand
  out <- data.frame(width = c(32, 64, 32, 64), depth = NA, layer = c("1", "1", "2", "2"),
                    step = 1L, rms = 1, log_ms = c(0, 2 * 0.4 * log(2), 0, 2 * 0.1 * log(2)),
                    se = 0.05)
  pred <- data.frame(layer = c("1", "2"), step = 1L, predicted = 0, kind = "asymptotic")
  r <- initvar:::cc_sweep_result(out, pred, list(sweep = "width", what = "first_step", p = NULL,
                                                 base_width = 32, base_depth = 1, delta = 0.25))
  s <- attr(r, "slope")
  se <- sqrt(2) * 0.025 / log(2)
  expect_equal(s$estimate, c(0.4, 0.1))
  expect_equal(s$se, rep(se, 2))
  p <- stats::pnorm(c(0.15, -0.15) / se, lower.tail = FALSE)
  expect_equal(s$p_value, p)
  expect_equal(s$p_holm, pmin(1, c(2 * p[1], max(2 * p[1], p[2]))))
  expect_identical(attr(r, "verdict"), all(s$p_holm > 0.01))
  # calibration of the formula at the boundary |b - b0| = delta: slopes
  # drawn N(delta, se^2) are rejected at level 0.01 (binomial band, 1e-3)
  set.seed(6300)
  reps <- 2000
  rej <- vapply(seq_len(reps), function(i) {
    b <- 0.25 + rnorm(1, sd = se)
    o <- out[1:2, ]
    o$log_ms <- c(0, 2 * b * log(2))
    rr <- initvar:::cc_sweep_result(o, pred[1, ], list(sweep = "width", what = "first_step",
                                                       p = NULL, base_width = 32,
                                                       base_depth = 1, delta = 0.25))
    !attr(rr, "verdict")
  }, TRUE)
  expect_lte(sum(rej), qbinom(1 - 1e-3, reps, 0.01))
  expect_gte(sum(rej), qbinom(1e-3, reps, 0.01))
})

test_that("exact slopes under muP are accepted at their level over seeds (small sizes)", {
  skip_on_cran()
  # layer 2 (hidden, slope 0) and 3 (read-out, slope -1/2), both exact:
  # the family-wise rejections ~ at most Binomial(reps, 0.01)
  nf <- function(n) mlp(c(4, n, n, 10), c("relu", "relu", "linear"),
                        list(init_lecun(), init_he(), init_normal(sd = 1 / 8)))
  reps <- if (identical(Sys.getenv("INITVAR_TESTS"), "full")) 200 else 25
  rej <- vapply(seq_len(reps), function(r) {
    set.seed(6400 + r)
    cc <- coordinate_check(nf, c(8, 16, 32), layer = 2:3, parametrization = "mup",
                           networks = 20, batch = 8)
    !attr(cc, "verdict")
  }, TRUE)
  expect_lte(sum(rej), qbinom(1 - 1e-3, reps, 0.01))
  # and a wrong read-out (variance 1/(n n_0), slope 0) is caught
  bug <- mup_bugs("readout")$readout$parametrization
  set.seed(6500)
  cc <- coordinate_check(nf, c(8, 16, 32), layer = 2:3, parametrization = bug, networks = 20,
                         batch = 8)
  s <- attr(cc, "slope")
  expect_false(attr(cc, "verdict"))
  expect_equal(s$predicted, c(0, -0.5))
  expect_identical(s$consistent, c(TRUE, FALSE))
})

test_that("attention logits under muP have width slope -1/2 (exact), 0 with 1/sqrt(d_k)", {
  skip_on_cran()
  tf <- function(n) transformer(n, heads = 2, depth = 1, seq_len = 4, init = init_lecun())
  set.seed(6600)
  cc <- coordinate_check(tf, c(8, 16, 32), layer = 1, what = "logits", parametrization = "mup",
                         networks = 20, batch = 8)
  s <- attr(cc, "slope")
  expect_equal(s$predicted, -0.5)
  expect_identical(s$kind, "exact")
  # the interval contains -1/2 (the test's own 0.99 level, one seed)
  expect_true(abs(s$estimate + 0.5) < qnorm(0.995) * s$se)
  bug <- mup_bugs("attention_sqrt")$attention_sqrt$parametrization
  set.seed(6600)
  cb <- coordinate_check(tf, c(8, 16, 32), layer = 1, what = "logits", parametrization = bug,
                         networks = 20, batch = 8)
  expect_lt(abs(attr(cb, "slope")$estimate), 0.1)
  expect_false(attr(cb, "verdict"))
})

test_that("a depth sweep tests the output's change in the depth family", {
  skip_on_cran()
  rf <- function(n, L) resmlp(n, L, "relu", list(init_he(), init_lecun()), branch_depth = 2,
                              n_in = 4, n_out = 4)
  set.seed(6700)
  cc <- coordinate_check(rf, 16, layer = "output", what = "first_step", steps = 2,
                         depths = c(2, 4, 8), parametrization = "completep", networks = 20,
                         optimizer = "adam", batch = 8)
  s <- attr(cc, "slope")
  expect_equal(nrow(s), 2)
  expect_identical(s$kind, rep("asymptotic", 2))
  expect_equal(s$delta, rep(0.35, 2))
  expect_true(attr(cc, "verdict"))
  expect_identical(attr(cc, "sweep"), "depth")
  set.seed(6700)
  bad <- coordinate_check(rf, 16, layer = "output", what = "first_step", steps = 2,
                          depths = c(2, 4, 8), networks = 20, optimizer = "adam", batch = 8,
                          parametrization = mup_bugs("residual_unscaled")[[1]]$parametrization)
  expect_false(attr(bad, "verdict"))
  expect_gt(min(attr(bad, "slope")$estimate), 1)
})

test_that("mup_bugs() edits one entry of the correct table (d_ff: the network)", {
  b <- mup_bugs()
  expect_named(b, c("readout", "hidden_lr", "dff_fixed", "attention_sqrt", "eps_unscaled",
                    "residual_unscaled"))
  cells <- c(readout = 1, hidden_lr = 2, dff_fixed = 0, attention_sqrt = 1, eps_unscaled = 3,
             residual_unscaled = 1)
  for (nm in names(b)) {
    a <- as.matrix(b[[nm]]$correct$table[, -1])
    z <- as.matrix(b[[nm]]$parametrization$table[, -1])
    diff <- sum(!(is.na(a) & is.na(z)) & (is.na(a) != is.na(z) | a != z), na.rm = TRUE)
    expect_equal(diff, cells[[nm]], label = nm)
  }
  expect_equal(b$dff_fixed$net_fun(64)$transformer$d_ff, 128)
  expect_equal(b$dff_fixed$correct_net_fun(64)$transformer$d_ff, 256)
  expect_error(mup_bugs("nope"), "`name`[[:space:]]+must", class = "initvar_error")
})

test_that("bad input to the sweep names coordinate_check() and the argument", {
  nf <- function(n) mlp(c(3, n, 2))
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, parametrization = "zz"),
               "`parametrization`[[:space:]]+must")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, parametrization = list()),
               "`parametrization`[[:space:]]+must")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, depths = c(2, 4)),
               "`widths`[[:space:]]+must[[:space:]]+be[[:space:]]+one[[:space:]]+width")
  expect_error(coordinate_check(nf, 4, 1, depths = c(2, 4, 8)),
               "`net_fun`[[:space:]]+must[[:space:]]+be[[:space:]]+a[[:space:]]+function[[:space:]]+of[[:space:]]+two")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, parametrization = "mup", delta = -1),
               "`delta`[[:space:]]+must")
  expect_error(coordinate_check(nf, c(2, 4, 8), 5, parametrization = "mup"),
               "`layer`[[:space:]]+must[[:space:]]+be[[:space:]]+at[[:space:]]+most[[:space:]]+2")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, what = "logits", parametrization = "mup"),
               "attention[[:space:]]+sublayers")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, what = "logits"),
               "needs[[:space:]]+`parametrization`")
  expect_error(coordinate_check(nf, c(2, 4, 8), 1, parametrization = "mup", depths = NA),
               "`depths`[[:space:]]+must")
  expect_error(coordinate_check(function(n) list(), c(2, 4, 8), 1, parametrization = "mup"),
               "must[[:space:]]+return[[:space:]]+a[[:space:]]+network")
})
