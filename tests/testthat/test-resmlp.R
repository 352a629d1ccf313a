# resmlp(): the engine against a plain-R reference of the same residual
# network, the predictions against closed forms, simulated per-block
# variances against the predictions (calibrated, Bonferroni over the file),
# the scaling rules at depths 10 and 100, and bad input.

# plain-R reference of a resmlp network's forward and backward pass from its trace
ln_fwd <- function(X) {
  C <- X - rowMeans(X)
  r <- sqrt(rowMeans(C^2))
  list(y = C / r, r = r)
}
ln_bwd <- function(dY, y, r) (dY - rowMeans(dY) - y * rowMeans(dY * y)) / r
reference_resmlp <- function(net, tr) {
  layers <- initvar:::net_layers(net)
  d <- length(layers)
  u <- 0
  Z <- tr$X
  S <- zs <- st <- vector("list", d)
  for (i in seq_len(d)) {
    l <- layers[[i]]
    bmat <- function(b) matrix(b, nrow(Z), length(b), byrow = TRUE)
    if (l$kind == "dense") {
      u <- u + 1
      S[[i]] <- Z %*% tr$W[[u]] + bmat(tr$b[[u]])
      st[[i]] <- list(u = u, D = l$activation$df(S[[i]]))
      Z <- l$activation$f(S[[i]])
    } else {
      x <- Z
      pre <- if (l$norm == "pre") ln_fwd(x)
      inp <- if (l$norm == "pre") pre$y else x
      units <- integer(); D <- list()
      for (k in seq_along(l$branch)) {
        u <- u + 1
        a <- l$branch[[k]]$activation
        t <- inp %*% tr$W[[u]] + bmat(tr$b[[u]])
        D[[k]] <- a$df(t)
        inp <- a$f(t)
        units <- c(units, u)
      }
      S[[i]] <- l$skip * x + l$alpha * inp
      post <- if (l$norm == "post") ln_fwd(S[[i]])
      Z <- if (l$norm == "post") post$y else S[[i]]
      st[[i]] <- list(units = units, D = D, pre = pre, post = post)
    }
    zs[[i]] <- Z
  }
  G <- vector("list", d)
  G[[d]] <- tr$g[[d]]
  if (d > 1) {
    for (i in d:2) {
      l <- layers[[i]]
      if (l$kind == "dense") {
        dz <- G[[i]] %*% t(tr$W[[st[[i]]$u]])
      } else {
        cur <- l$alpha * G[[i]]
        for (k in rev(seq_along(st[[i]]$units))) {
          cur <- (cur * st[[i]]$D[[k]]) %*% t(tr$W[[st[[i]]$units[k]]])
        }
        if (l$norm == "pre") cur <- ln_bwd(cur, st[[i]]$pre$y, st[[i]]$pre$r)
        dz <- l$skip * G[[i]] + cur
      }
      lb <- layers[[i - 1]]
      G[[i - 1]] <- if (lb$kind == "dense") dz * st[[i - 1]]$D else if (lb$norm == "post")
        ln_bwd(dz, st[[i - 1]]$post$y, st[[i - 1]]$post$r) else dz
    }
  }
  list(s = S, z = zs, g = G)
}

test_that("C forward and backward passes of residual blocks equal a plain-R reference to 1e-12", {
  swish <- activation("swish", f = function(x) x * plogis(x),
                      df = function(x) plogis(x) * (1 + x * (1 - plogis(x))))
  set.seed(2001)
  acts <- list("tanh", "relu", swish)
  ios <- list(c(7, NA), c(5, 4))
  grid <- expand.grid(norm = c("none", "pre", "post"), m = 1:3, act = 1:3, io = 1:2,
                      stringsAsFactors = FALSE)
  for (r in tier_rows(grid)) {
    norm <- grid$norm[r]; m <- grid$m[r]; act <- acts[[grid$act[r]]]; io <- ios[[grid$io[r]]]
    {
      net <- resmlp(7, 3, act, init_he(), alpha = 0.7, skip = 0.9, branch_depth = m, norm = norm,
                    bias = init_normal(0.1, 0.2), n_in = io[1],
                    n_out = if (is.na(io[2])) NULL else io[2])
      tr <- initvar:::network_trace(net, inputs = 5)
      expect_length(tr$W, length(net$layers) * m - (io[1] != 7) * (m - 1) - (!is.na(io[2])) * (m - 1))
      ref <- reference_resmlp(net, tr)
      for (q in c("s", "z", "g")) for (i in seq_along(ref[[q]])) {
        expect_equal(tr[[q]][[i]], ref[[q]][[i]], tolerance = 1e-12)
      }
    }
  }
  # orthogonal and sparse branch weights, a softmax read-out
  net <- resmlp(6, 2, "tanh", list(init_orthogonal(), init_sparse(0.5, 0.3)), branch_depth = 2,
                norm = "pre", n_out = 3)
  tr <- initvar:::network_trace(net, inputs = 9, grad = "softmax")
  ref <- reference_resmlp(net, tr)
  for (i in 1:3) expect_equal(tr$g[[i]], ref$g[[i]], tolerance = 1e-12)
})

test_that("predictions follow the closed forms: geometric, linear, constant in depth", {
  L <- 12
  # linear branch (LeCun: gain 1 per layer), no normalization: residual_growth()
  for (m in 1:3) {
    net <- resmlp(50, L, "linear", init_lecun(), alpha = 0.6, skip = 1.1, branch_depth = m)
    p <- predict_variance(net, var_x = 2)
    expect_equal(p$var_z, 2 * residual_growth(depth = 1:L, skip = 1.1, alpha = 0.6,
                                              gains = rep(1, m)), tolerance = 1e-12)
    expect_equal(p$var_grad_s, residual_growth(depth = (L - 1):0, skip = 1.1, alpha = 0.6,
                                               gains = rep(1, m)), tolerance = 1e-12)
    # dC/dW of the last branch layer: E[u^2] alpha^2 Var(dC/dh)
    expect_equal(p$var_grad_w, c(2, p$var_z[-L]) * 0.36 * p$var_grad_s, tolerance = 1e-12)
  }
  # ReLU branch W2 relu(W1 x), He weights: branch gain 2 x 1/2 x 2 = 2
  net <- resmlp(40, L, "relu", init_he(), alpha = 0.5, branch_depth = 2)
  p <- predict_variance(net, regime = "mean_field")
  expect_equal(p$var_z, 1.5^(1:L), tolerance = 1e-9)
  # E[f'(t)^2] = 1/2: the backward gain is 2 x 1/2 x 2 as well
  expect_equal(p$var_grad_s, 1.5^((L - 1):0), tolerance = 1e-9)
  # pre-normalization: Var(x_l) = 1 + l alpha^2 g; post: 1 after every block
  pre <- predict_variance(resmlp(40, L, "relu", init_he(), alpha = 0.5, branch_depth = 2,
                                 norm = "pre"), regime = "mean_field")
  expect_equal(pre$var_z, 1 + 0.5 * (1:L), tolerance = 1e-9)
  post <- predict_variance(resmlp(40, L, "relu", init_he(), alpha = 0.5, skip = 2,
                                  branch_depth = 2, norm = "post"), regime = "mean_field")
  expect_equal(post$var_z, rep(1, L))
  expect_equal(post$var_s, c(4 * 1 + 0.5, rep(4 + 0.5, L - 1)), tolerance = 1e-9)
  # the depth profile says the same
  pr <- residual_depth_profile(resmlp(40, L, "relu", init_he(), alpha = 0.5, branch_depth = 2))
  expect_equal(pr$ratio, 1.5^(1:L), tolerance = 1e-9)
  expect_equal(pr$forward_factor, rep(1.5, L), tolerance = 1e-9)
  expect_equal(pr$backward_factor, rep(1.5, L), tolerance = 1e-9)
  expect_equal(pr$branch_share, rep(0.5 / 1.5, L), tolerance = 1e-9)
  expect_identical(attr(pr, "law"), "geometric")
})

# Simulated per-block variances against their predictions, where the
# predictions are exact at finite width: forward variances of linear and
# ReLU branches (symmetric weights and inputs) with or without
# normalization, and every variance of linear branches without
# normalization. Verdicts by sim_intervals() (the simulate_network() rule);
# the file's rows share a Bonferroni budget of 1e-3.
n_calibrated_rows <- 6 * 3 * 2 * 6 + 2 * 4 * 6 + 7 * 2
bonferroni_p <- 1e-3 / n_calibrated_rows

test_that("simulated per-block variances agree with the exact predictions (calibrated)", {
  skip_unless_full()
  set.seed(2002)
  for (norm in c("none", "pre", "post")) for (cfg in list(list("linear", 1), list("linear", 2),
                                                          list("relu", 2))) {
    for (w in c(16, 32)) {
      net <- resmlp(w, 6, cfg[[1]], init_he(), alpha = 0.8, skip = 1, branch_depth = cfg[[2]],
                    norm = norm)
      s <- as.data.frame(simulate_network(net, networks = 600, inputs = 8, threads = 2))
      fwd <- s[s$quantity %in% c("s", "z"), ]
      exact1 <- norm == "post" & fwd$quantity == "z"
      # a normalized output has mean square 1 in every network: exact
      expect_true(all(abs(fwd$estimate[exact1] - 1) < 1e-12))
      rows <- fwd[!exact1, ]
      # rows without a calibrated interval say how many networks they need
      expect_true(all(is.na(rows$p_value) == (rows$networks_needed > 600) %in% TRUE))
      expect_gte(mean(!is.na(rows$p_value)), 0.5)
      expect_true(all(rows$p_value > bonferroni_p, na.rm = TRUE),
                  label = paste(norm, cfg[[1]], cfg[[2]], w, "min p", min(rows$p_value)))
    }
  }
  # gradients: linear branches without normalization
  for (m in 1:2) for (w in c(16, 32)) {
    net <- resmlp(w, 6, "linear", init_lecun(), alpha = 0.7, skip = 0.9, branch_depth = m)
    s <- as.data.frame(simulate_network(net, networks = 600, inputs = 8, threads = 2))
    rows <- s[s$quantity %in% c("grad_s", "grad_w"), ]
    expect_true(all(is.na(rows$p_value) == (rows$networks_needed > 600) %in% TRUE))
    expect_gte(mean(!is.na(rows$p_value)), 0.5)
    expect_true(all(rows$p_value > bonferroni_p, na.rm = TRUE),
                label = paste("grad", m, w, min(rows$p_value, na.rm = TRUE)))
  }
})

test_that("each scaling rule's variance ratio at depths 10 and 100 matches its prediction", {
  skip_unless_full()
  set.seed(2003)
  rules <- c("standard", "fixup", "skipinit", "rezero", "tfixup", "depth_mup", "deepnet")
  for (L in c(10, 100)) {
    for (nm in rules) {
      r <- scaling_rule(nm, L, branch_depth = 2)
      # a variance-preserving base: He before the ReLU, LeCun for the linear last layer
      net <- resmlp(64, L, "relu", list(init_he(), init_lecun()), branch_depth = 2, rule = r)
      p <- predict_variance(net, regime = "mean_field")
      q <- if (nm == "deepnet") "s" else "z"
      pred <- p[[if (q == "s") "var_s" else "var_z"]][L]
      # the prediction is the rule's closed form (deepnet: the sum before LN)
      expect_equal(pred, if (nm == "deepnet") r$per_block else residual_growth(r),
                   tolerance = 1e-9)
      s <- as.data.frame(simulate_network(net, networks = 200, inputs = 4, threads = 2))
      row <- s[s$quantity == q & s$layer == L, ]
      if (is.na(row$p_value)) {
        # too few networks for a calibrated interval: said, not judged
        expect_gt(row$networks_needed, 200)
      } else {
        expect_gt(row$p_value, bonferroni_p)
      }
    }
  }
})

test_that("bad input names resmlp() and the argument", {
  expect_snapshot_error <- function(expr, pattern) {
    e <- tryCatch(expr, error = function(e) e)
    expect_s3_class(e, "initvar_error")
    expect_match(conditionMessage(e), pattern)
    expect_match(paste(deparse(conditionCall(e)), collapse = ""), "^resmlp\\(")
  }
  expect_snapshot_error(resmlp(0, 3), "`width`")
  expect_snapshot_error(resmlp(4.5, 3), "`width`")
  expect_snapshot_error(resmlp(4, -1), "`depth`")
  expect_snapshot_error(resmlp(4, 2, branch_depth = 0), "`branch_depth`")
  expect_snapshot_error(resmlp(4, 2, alpha = NA), "`alpha`")
  expect_snapshot_error(resmlp(4, 2, skip = Inf), "`skip`")
  expect_snapshot_error(resmlp(4, 2, norm = "batch"), "`norm`")
  expect_snapshot_error(resmlp(1, 2, norm = "pre"), "`width`")
  expect_snapshot_error(resmlp(4, 2, activation = 3), "`activation`")
  expect_snapshot_error(resmlp(4, 2, init = "he"), "`init`")
  expect_snapshot_error(resmlp(4, 2, branch_depth = 2, init = list(init_he(), 1)), "`init\\[\\[2\\]\\]`")
  expect_snapshot_error(resmlp(4, 2, bias = init_he()), "`bias`")
  expect_snapshot_error(resmlp(4, 2, n_in = 0), "`n_in`")
  expect_snapshot_error(resmlp(4, 2, n_out = "a"), "`n_out`")
  expect_snapshot_error(resmlp(4, 2, rule = list()), "`rule`")
  expect_snapshot_error(resmlp(4, 2, rule = scaling_rule("fixup", 3)), "depth 3")
  expect_snapshot_error(resmlp(4, 3, rule = scaling_rule("fixup", 3, branch_depth = 2)),
                        "branch_depth 2")
  expect_snapshot_error(resmlp(4, 3, init = init_uniform(0, 1), branch_depth = 2,
                               rule = scaling_rule("fixup", 3, branch_depth = 2)), "`init")
  net <- resmlp(4, 2)
  expect_error(simulate_network(net, 4, 4, grad = "softmax"), "read-out")
  expect_error(predict_variance(net, grad = "softmax"), "read-out")
  expect_error(jacobian_spectrum(net), "dense[[:space:]]+and[[:space:]]+conv[[:space:]]+layers")
  expect_error(predict_kurtosis(net), "dense networks")
  expect_error(residual_depth_profile(mlp(c(3, 3))), "`net`")
})
