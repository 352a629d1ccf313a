# The "conv" layer kind (R/net-conv.R, src/conv.c) against a plain-R
# reference convolution (helper-conv.R), independent of the package.


# The forward values of the reference from the engine's input and weights.
ref_forward <- function(net, tr, from = 0, s_from = NULL) {
  L <- net$layers
  s <- list()
  z <- tr$X
  for (i in seq_along(L)) {
    if (i < from) next
    s[[i]] <- if (i == from) s_from else ref_layer(L[[i]], tr$W[[i]], tr$b[[i]])(z)
    z <- ref_act(L[[i]]$activation$name)(s[[i]])
  }
  s
}

trace_of <- function(net, inputs = 3, ...) initvar:::network_trace(net, inputs = inputs, ...)

expect_engine_matches <- function(net, inputs = 3, tol = 1e-12) {
  tr <- trace_of(net, inputs)
  s <- ref_forward(net, tr)
  for (i in seq_along(net$layers)) {
    sc <- max(1, max(abs(s[[i]])))
    expect_lt(max(abs(s[[i]] - tr$s[[i]])) / sc, tol)
  }
  invisible(tr)
}

# ---- forward against the reference ----------------------------------------

test_that("2-D convolutions match the reference for every padding, stride, dilation and groups", {
  set.seed(2201)
  for (padding in c("zero", "circular", "valid")) {
    for (stride in 1:2) for (dilation in 1:2) for (groups in c(1, 2, 4)) for (k in list(3, 2, c(3, 2))) {
      net <- cnn(c(4, 4), kernel = k, spatial = c(5, 6), padding = padding, stride = stride,
                 dilation = dilation, groups = groups, activation = "linear",
                 init = init_he(), bias = init_normal(0, 0.5))
      expect_engine_matches(net)
    }
  }
})

test_that("1-D convolutions, one channel, even kernels and a pooled read-out match", {
  set.seed(2202)
  for (padding in c("zero", "circular", "valid")) {
    net <- cnn(c(1, 3, 1), kernel = list(4, 3), spatial = 13, padding = padding,
               stride = list(2, 1), dilation = list(1, 2), activation = "tanh",
               bias = init_normal(0, 0.3), n_out = 2)
    tr <- expect_engine_matches(net, inputs = 4)
    expect_equal(dim(tr$s[[3]]), c(4, 2))
    net <- cnn(1, kernel = 2, depth = 2, spatial = c(4, 4), padding = padding,
               activation = "relu")
    expect_engine_matches(net)
  }
  # depthwise, channels changing, a stride-2 layer, read-out
  net <- cnn(c(3, 6, 6, 4), kernel = 3, spatial = c(7, 5), groups = c(3, 6, 2),
             stride = list(1, 2, 1), activation = "tanh", n_out = 3)
  expect_engine_matches(net, inputs = 5)
})

# ---- backward: finite differences on the reference ------------------------

test_that("the engine's dC/ds are the reference's finite differences", {
  set.seed(2203)
  nets <- list(
    cnn(c(2, 4, 4), kernel = list(3, 2), spatial = c(5, 4), padding = "zero",
        stride = list(1, 2), activation = "tanh", bias = init_normal(0, 0.2), n_out = 3),
    cnn(c(4, 4, 2), kernel = 3, spatial = c(6, 6), padding = "circular", groups = c(4, 2),
        dilation = list(2, 1), activation = "tanh"),
    cnn(c(1, 2, 2), kernel = 3, spatial = 7, padding = "valid", stride = list(2, 1),
        activation = "tanh", n_out = 2))
  for (net in nets) {
    tr <- trace_of(net, inputs = 2)
    d <- length(net$layers)
    # C = sum(g_d * s_d): g_d is the engine's output gradient dC/ds_d
    cost <- function(i, si) sum(tr$g[[d]] * ref_forward(net, tr, i, si)[[d]])
    for (i in seq_len(d - 1)) {
      si <- tr$s[[i]]
      for (e in sample(length(si), min(6, length(si)))) {
        h <- 1e-5
        up <- si; up[e] <- up[e] + h
        dn <- si; dn[e] <- dn[e] - h
        fd <- (cost(i, up) - cost(i, dn)) / (2 * h)
        expect_lt(abs(fd - tr$g[[i]][e]), 1e-7 * max(1, abs(fd)))
      }
    }
  }
})

# ---- moments and threads ------------------------------------------------------

test_that("the per-layer estimates are the pooled moments of the traced values", {
  set.seed(2204)
  net <- cnn(c(2, 4, 4), kernel = list(3, 2), spatial = c(4, 5), stride = list(1, 2),
             groups = c(1, 2), activation = "tanh", bias = init_normal(0, 0.1), n_out = 2)
  set.seed(7); sim <- simulate_network(net, networks = 2, inputs = 3, threads = 1)
  trs <- lapply(0:1, function(j) { set.seed(7); trace_of(net, inputs = 3, network = j) })
  est <- as.data.frame(sim)
  pooled <- function(v) mean((v - mean(v))^2)
  L <- net$layers
  for (i in seq_along(L)) {
    # per-example weight gradients, by the reference: dC/dW = sum over
    # positions, by finite differences of the layer's s in its W (linear)
    gw <- unlist(lapply(trs, function(tr) {
      x <- if (i == 1) tr$X else tr$z[[i - 1]]
      unlist(lapply(seq_len(nrow(x)), function(b) {
        f <- function(W) sum(tr$g[[i]][b, ] * ref_layer(L[[i]], W, tr$b[[i]])(x[b, , drop = FALSE]))
        W0 <- tr$W[[i]]
        base <- f(W0 * 0)
        vapply(seq_along(W0), function(e) { E <- W0 * 0; E[e] <- 1; f(E) - base }, 0)
      }))
    }))
    want <- c(s = pooled(unlist(lapply(trs, function(t) t$s[[i]]))),
              z = pooled(unlist(lapply(trs, function(t) t$z[[i]]))),
              grad_s = pooled(unlist(lapply(trs, function(t) t$g[[i]]))),
              grad_w = pooled(gw))
    got <- est[est$layer == i, ]
    expect_equal(got$estimate[match(names(want), got$quantity)], unname(want), tolerance = 1e-12)
  }
})

test_that("one and two threads give bit-identical results", {
  set.seed(2205)
  net <- cnn(c(3, 8, 8), kernel = 3, spatial = c(8, 8), stride = list(2, 1),
             groups = c(1, 4), activation = "relu", n_out = 4)
  set.seed(3); a <- simulate_network(net, networks = 16, inputs = 4, threads = 1)
  set.seed(3); b <- simulate_network(net, networks = 16, inputs = 4, threads = 2)
  expect_identical(a$acc, b$acc)
  expect_identical(a$hist, b$hist)
  expect_identical(a$position, b$position)
  expect_length(a$position, 10 * (8 * 8 / 4 + 4 * 4))
})

test_that("the per-position maps are the pooled moments of the traced values", {
  set.seed(2207)
  net <- cnn(c(2, 4, 2), kernel = list(3, 2), spatial = c(4, 5), stride = list(2, 1),
             padding = c("circular", "zero"), activation = "tanh", bias = init_normal(0, 0.1),
             n_out = 2)
  J <- 3
  set.seed(9); sim <- simulate_network(net, networks = J, inputs = 3, threads = 1)
  trs <- lapply(seq_len(J) - 1, function(j) { set.seed(9); trace_of(net, inputs = 3, network = j) })
  for (i in 1:2) {
    l <- net$layers[[i]]
    P <- prod(l$spatial_out)
    for (q in c("var_s", "var_grad_s")) {
      vals <- lapply(trs, function(tr) if (q == "var_s") tr$s[[i]] else tr$g[[i]])
      # position p of every channel: columns o P + p
      want <- vapply(seq_len(P), function(p) {
        v <- lapply(vals, function(x) x[, (seq_len(l$conv$out_channels) - 1) * P + p])
        a <- vapply(v, mean, 0)
        b <- vapply(v, function(x) mean(x^2), 0)
        mean(b) - mean(a)^2
      }, 0)
      m <- position_map(sim, i, q)
      expect_equal(dim(m$estimate), rev(rev(l$spatial_out)))
      expect_equal(as.vector(t(m$estimate)), want, tolerance = 1e-12)
      expect_true(all(m$mcse > 0))
    }
  }
  expect_error(position_map(sim, 3), "read-out")
  expect_error(position_map(sim, 1, "var_z"), "`quantity`")
  expect_error(position_map(1, 1), "`x`")
})

# ---- arguments ------------------------------------------------------------------

test_that("cnn() names the argument it refuses", {
  expect_error(cnn(4, depth = 2, spatial = c(8, 8), transposed = TRUE), "`transposed`")
  expect_error(cnn(4, depth = 2), "`spatial`")
  expect_error(cnn(4, spatial = 8), "`depth`")
  expect_error(cnn(c(4, 4), depth = 3, spatial = 8), "`depth`")
  expect_error(cnn(c(4, 6), spatial = 8, groups = 4), "`groups`")
  expect_error(cnn(c(4, 4), spatial = c(8, 8, 8)), "`spatial`")
  expect_error(cnn(c(4, 4), spatial = 8, kernel = c(3, 3)), "`kernel`")
  expect_error(cnn(c(4, 4), spatial = 8, stride = 0), "`stride`")
  expect_error(cnn(c(4, 4), spatial = 8, dilation = list(1, 2)), "`dilation`")
  expect_error(cnn(c(4, 4), spatial = 8, padding = "same"), "`padding`")
  expect_error(cnn(c(4, 4), spatial = 3, kernel = 5, padding = "valid"), "`kernel`")
  expect_error(cnn(c(4, 4), spatial = 3, kernel = 9, padding = "circular"), "`kernel`")
  expect_error(cnn(c(4, 4), spatial = 8, bias = init_he()), "`bias`")
  expect_error(cnn(c(4, 4), spatial = 8, n_out = 0), "`n_out`")
  expect_error(conv_layer(4, 4, c(3, 3), dilation = c(1, 2, 3)), "`dilation`")
  expect_error(conv_layer(4, 4, 3, padding = "same"), "`padding`")
})

test_that("conv layers share one object with fans() and weight_variance()", {
  net <- cnn(c(4, 4, 8), kernel = 3, spatial = c(8, 8), groups = c(4, 1), stride = list(1, 2))
  l1 <- net$layers[[1]]$conv
  expect_identical(unname(fans(l1)[c("fan_in", "fan_out")]), c(9, 9))
  l2 <- net$layers[[2]]$conv
  expect_identical(unname(fans(l2)[c("fan_in", "fan_out")]), c(36, 72 / 4))
  expect_equal(weight_variance(init_he(), layer = l2), 2 / 36)
  expect_identical(l2$padding, "zero")
  expect_identical(l2$dilation, c(1, 1))
})

# ---- predictions position by position -----------------------------------

test_that("the per-position maps count the taps inside the input", {
  net <- cnn(8, kernel = 3, depth = 2, spatial = c(6, 6), activation = "relu", init = init_he())
  p <- predict_variance(net, regime = "mean_field")
  m <- attr(p, "position")[[1]]$var_s
  # Var(W) = 2 / 72; 9 taps inside in the interior, 6 on an edge, 4 in a corner
  expect_equal(m[3, 3], 2)
  expect_equal(m[1, 3], 2 / 72 * 8 * 6)
  expect_equal(m[1, 1], 2 / 72 * 8 * 4)
  expect_equal(p$var_s[1], mean(m))
  # layer 2 reads E[z^2] = q / 2 at each tap: zeros outside, not f(0)
  m2 <- attr(p, "position")[[2]]$var_s
  z2 <- m / 2
  expect_equal(m2[1, 1], 2 / 72 * 8 * sum(z2[1:2, 1:2]))
  # circular padding keeps the forward map uniform, and a stride-2 layer's
  # input gradients are read by 1 or 2 taps per axis
  net <- cnn(8, kernel = 3, depth = 2, spatial = c(6, 6), padding = "circular",
             stride = list(1, 2), activation = "relu", init = init_he())
  pos <- attr(predict_variance(net, regime = "mean_field"), "position")
  expect_equal(range(pos[[1]]$var_s), c(2, 2))
  g <- pos[[1]]$var_grad_s
  # 4 (h, w) reading pairs at even positions, 2 x 1 at mixed, 1 at odd-odd
  expect_equal(g[2, 2] / g[1, 1], 4)
  expect_equal(g[1, 2] / g[1, 1], 2)
  expect_equal(g[2, 1] / g[1, 1], 2)
  # linear regime: the same recursion with f = identity
  lin <- predict_variance(cnn(c(2, 3), kernel = 2, spatial = 5, activation = "linear",
                              init = init_normal(sd = 0.5), bias = init_normal(0, 0.1)),
                          var_x = 2, regime = "linear")
  # kernel 2 'same': floor(1 / 2) = 0 zeros before, 1 after: the last
  # position reads one tap
  expect_equal(attr(lin, "position")[[1]]$var_s[1, ], c(rep(0.25 * 2 * 2 * 2, 4), 0.25 * 2 * 2) + 0.01)
})

# Simulated per-layer variances against the mean-field maps averaged over
# positions, exact at any channel count for ReLU without biases: Var(s),
# Var(dC/ds) and Var(dC/dW) (Var(z) is not: it involves E[z], which depends
# on the shape of s at finite width). One Holm family at level 1e-3 over
# every row of the file, verdicts as simulate_network() computes them.
test_that("simulated variances agree with the per-position predictions (calibrated, Holm)", {
  set.seed(2206)
  p <- numeric()
  for (padding in c("zero", "circular")) {
    net <- cnn(8, kernel = 3, depth = 6, spatial = c(8, 8), padding = padding,
               stride = list(1, 1, 2, 1, 1, 1), activation = "relu", init = init_he())
    sim <- simulate_network(net, networks = 300, inputs = 8, threads = 2)
    s <- as.data.frame(sim)
    rows <- s[s$quantity %in% c("s", "grad_s", "grad_w"), ]
    expect_gte(mean(!is.na(rows$p_value)), 0.8)
    p <- c(p, rows$p_value)
    # and position by position, by the same rule
    for (i in 1:6) for (q in c("var_s", "var_grad_s")) {
      m <- position_map(sim, i, q)
      iv <- initvar:::sim_intervals(as.vector(m$estimate), as.vector(m$mcse),
                                    as.vector(m$prediction), sim$networks, 0.95)
      p <- c(p, iv$p_value)
    }
  }
  # 1-D, valid padding, dilation 2, an even kernel, groups
  net <- cnn(c(4, 8, 8, 8), kernel = list(3, 4, 3), spatial = 40, padding = "valid",
             dilation = list(1, 2, 1), groups = c(1, 2, 1), activation = "relu", init = init_he())
  sim <- simulate_network(net, networks = 300, inputs = 8, threads = 2)
  s <- as.data.frame(sim)
  p <- c(p, s$p_value[s$quantity %in% c("s", "grad_s", "grad_w")])
  for (i in 1:3) for (q in c("var_s", "var_grad_s")) {
    m <- position_map(sim, i, q)
    p <- c(p, initvar:::sim_intervals(as.vector(m$estimate), as.vector(m$mcse),
                                      as.vector(m$prediction), sim$networks, 0.95)$p_value)
  }
  # the pooled read-out: its output, and the gradient of the last convolution
  net <- cnn(c(3, 8, 8, 8), kernel = 3, spatial = c(8, 8), activation = "relu",
             init = init_he(), n_out = 5)
  s <- as.data.frame(simulate_network(net, networks = 300, inputs = 8, threads = 2))
  rows <- s[(s$layer == 4 & s$quantity == "s") | (s$layer == 3 & s$quantity == "grad_s"), ]
  p <- c(p, rows$p_value)
  p <- p[!is.na(p)]
  expect_gte(length(p), 500)
  expect_true(all(stats::p.adjust(p, "holm") > 1e-3), label = paste("min p", min(p)))
})

test_that("a conv simulation stops within 2 s of SIGINT, 1 and 2 threads", {
  skip_unless_full()
  skip_on_cran()
  skip_on_os(c("windows", "mac", "solaris"))
  if (!file.exists("/proc/self/status")) skip("needs /proc (Linux)")
  if (nzchar(Sys.getenv("INITVAR_SANITIZER"))) skip("not under the sanitizers")
  long <- quote(simulate_network(cnn(32, kernel = 3, depth = 6, spatial = c(32, 32)),
                                 networks = 1000, inputs = 16, threads = TH, progress = FALSE))
  for (th in 1:2) {
    r <- interrupt_child(long, threads = th, reps = 2, delay = 1.5,
                         lib = paste(.libPaths(), collapse = ":"))
    expect_equal(nrow(r), 2)
    expect_true(all(r$how == "interrupt"))
    expect_true(all(r$latency < 2), label = paste(format(r$latency, digits = 3), collapse = " "))
  }
})

test_that("plot_position_map() draws predicted and simulated maps", {
  net <- cnn(4, kernel = 3, depth = 2, spatial = c(5, 6), activation = "relu")
  p <- predict_variance(net, regime = "mean_field")
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_identical(plot_position_map(p, 2), position_map(p, 2))
  set.seed(1)
  sim <- simulate_network(net, networks = 4, inputs = 2, threads = 1)
  z <- plot_position_map(sim, 1, "var_grad_s", what = "z")
  expect_equal(dim(z), c(5, 6))
  expect_error(plot_position_map(p, 1, what = "zz"), "`what`")
})

test_that("an interrupted conv simulation resumes to the uninterrupted maps", {
  skip_on_os("windows")
  ns <- asNamespace("initvar")
  old <- get("progress_set", ns)
  count <- 0
  fake <- function(bar, set, .envir = parent.frame()) {
    count <<- count + 1
    if (count == 2) tools::pskill(Sys.getpid(), tools::SIGINT)
    invisible(NULL)
  }
  unlockBinding("progress_set", ns)
  assign("progress_set", fake, ns)
  on.exit({
    assign("progress_set", old, ns)
    lockBinding("progress_set", ns)
  })
  net <- cnn(c(2, 4, 4), kernel = 3, spatial = c(5, 5), stride = list(1, 2), n_out = 2)
  set.seed(8)
  e <- tryCatch(simulate_network(net, networks = 40, inputs = 3, threads = 1, progress = TRUE),
                interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  expect_lt(e$partial$networks, 40)
  assign("progress_set", old, ns)
  res <- simulate_network(networks = 40, resume = e$partial, threads = 1)
  set.seed(8)
  full <- simulate_network(net, networks = 40, inputs = 3, threads = 1, progress = FALSE)
  expect_identical(res$acc, full$acc)
  expect_identical(res$position, full$position)
})
