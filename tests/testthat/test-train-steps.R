# train_steps() (internal): a few SGD or Adam steps from initialization,
# against first_step_one() at one step and a hand-written linear-net
# reference over several steps.

test_that("one step is first_step_one(), for SGD and Adam", {
  net <- mlp(c(5, 7, 6, 3), c("tanh", "relu", "linear"), init_he(), bias = init_normal(0.1))
  for (opt in c("sgd", "adam")) for (loss in c("softmax", "mse")) {
    set.seed(11)
    a <- initvar:::first_step_one(net, rep(0.05, 3), opt, 4, loss, 1, 1e-8)
    set.seed(11)
    b <- initvar:::train_steps_one(net, rep(0.05, 3), opt, 4, loss, 1, 1e-8, steps = 1)
    expect_equal(b, a, tolerance = 1e-10)
  }
})

test_that("several steps match a hand-written linear network", {
  net <- mlp(c(3, 4, 2), c("linear", "linear"), init_glorot(), bias = init_normal(0.2))
  lr <- c(0.1, 0.05)
  steps <- 4
  ref <- function(opt, eps = 1e-8, b1 = 0.9, b2 = 0.999) {
    X <- matrix(rnorm(5 * 3), 5, 3)
    W1 <- matrix(sample_weights(init_glorot(), 3, 4, layout = "keras"), 3, 4)
    b1v <- as.vector(sample_weights(init_normal(0.2), 1, 4, layout = "keras"))
    W2 <- matrix(sample_weights(init_glorot(), 4, 2, layout = "keras"), 4, 2)
    b2v <- as.vector(sample_weights(init_normal(0.2), 1, 2, layout = "keras"))
    Y <- NULL
    p <- list(W1, b1v, W2, b2v)
    m <- lapply(p, function(x) 0 * x)
    v <- m
    fwd <- function(p) {
      h <- X %*% p[[1]] + matrix(p[[2]], 5, 4, byrow = TRUE)
      list(h = h, y = h %*% p[[3]] + matrix(p[[4]], 5, 2, byrow = TRUE))
    }
    f0 <- fwd(p)
    out <- matrix(0, 2, steps + 1)
    out[, 1] <- c(mean(f0$h^2), mean(f0$y^2))
    f <- f0
    for (t in seq_len(steps)) {
      if (is.null(Y)) Y <- matrix(rnorm(10), 5, 2)
      dy <- (f$y - Y) / 5
      dh <- dy %*% t(p[[3]])
      g <- list(t(X) %*% dh, colSums(dh), t(f$h) %*% dy, colSums(dy))
      lrs <- lr[c(1, 1, 2, 2)]
      for (k in 1:4) {
        if (opt == "sgd") {
          p[[k]] <- p[[k]] - lrs[k] * g[[k]]
        } else {
          m[[k]] <- b1 * m[[k]] + (1 - b1) * g[[k]]
          v[[k]] <- b2 * v[[k]] + (1 - b2) * g[[k]]^2
          p[[k]] <- p[[k]] - lrs[k] * (m[[k]] / (1 - b1^t)) / (sqrt(v[[k]] / (1 - b2^t)) + eps)
        }
        p[[k]] <- drop(p[[k]]) + 0 * p[[k]]
      }
      f <- fwd(p)
      out[, t + 1] <- c(mean((f$h - f0$h)^2), mean((f$y - f0$y)^2))
    }
    out
  }
  for (opt in c("sgd", "adam")) {
    set.seed(3)
    want <- ref(opt)
    set.seed(3)
    got <- initvar:::train_steps_one(net, lr, opt, 5, "mse", 1, 1e-8, steps = steps)
    expect_equal(got, want, tolerance = 1e-10)
  }
})

test_that("train_steps() tables RMS with MCSE and states its memory", {
  net <- mlp(c(4, 8, 3), c("relu", "linear"), init_he())
  set.seed(1)
  r <- initvar:::train_steps(net, 0.1, "adam", batch = 4, networks = 6, steps = 3)
  expect_identical(nrow(r$table), 2L * 4L)
  expect_true(all(r$table$rms[r$table$step > 0] > 0))
  expect_true(all(r$table$rms_mcse >= 0))
  # the stated 34 GB: width 4096, 64 hidden layers, Adam
  big <- mlp(c(4096, rep(4096, 64)), "linear", init_he())
  expect_gt(initvar:::train_steps_bytes(big, 1, "adam") / 1e9, 34)
  expect_lt(initvar:::train_steps_bytes(big, 1, "adam") / 1e9, 35)
  expect_error(initvar:::check_train_steps_memory(big, 1, "adam"), "would need about")
})

test_that("coordinate_check(steps = ) runs the few-step path and refuses bad input", {
  he <- function(n) mlp(c(8, n, 4), c("relu", "linear"), init_he())
  set.seed(2)
  cc <- coordinate_check(he, c(8, 16, 32), layer = 1, what = "first_step", steps = 2,
                         networks = 20, optimizer = "adam", batch = 4)
  expect_s3_class(cc, "initvar_coordinate_check")
  expect_true(is.finite(attr(cc, "slope")$estimate))
  # steps = 2 measures the change after two steps: the same draws, step 2
  set.seed(2)
  ts <- initvar:::train_steps(he(8), 0.01, "adam", batch = 4, networks = 20, steps = 2)
  expect_equal(cc$log_ms[1], log(mean(ts$per_network[, 1, 3])))
  expect_error(coordinate_check(he, c(8, 16, 32), 1, steps = 2), "`steps` must be 1")
  expect_error(coordinate_check(he, c(8, 16, 32), 1, "first_step", steps = 11), "`steps` must be")
  expect_error(coordinate_check(he, c(8, 16, 32), 1, "first_step", steps = 2, level = 0.9),
               "takes only")
  expect_error(coordinate_check(he, c(8, 16, 32), 1, "first_step", steps = 2, optimizer = "sgdd"),
               "`optimizer` must be one of")
  expect_error(coordinate_check(he, c(8, 16, 32), 1, "first_step", steps = 2,
                                lr_fun = function(n) -1), "`lr_fun` must return")
})
