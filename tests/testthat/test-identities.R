test_that("the registry lists every identity with its statement and assumptions", {
  ids <- identities()
  expect_s3_class(ids, "data.frame")
  expect_true(all(c("linear_mean", "linear_var", "sum_independent", "sum_uncorrelated",
                    "product_independent", "product_zero_mean", "neuron", "fan_in",
                    "covariance_zero", "delta_method", "layer_independence",
                    "glorot_forward", "glorot_backward", "glorot_weight_gradient") %in% ids$id))
  # (identities registered by other tests, made with new_identity(), need
  # not say where they are used: the built-ins do)
  b <- ids[ids$id %in% names(initvar:::identity_defs), ]
  expect_gte(nrow(b), 14)
  expect_true(all(nzchar(b$statement) & nzchar(b$latex) & nzchar(b$assumptions) &
                    nzchar(b$used_in)))
})

test_that("every identity holds under its assumptions (level 0.99, fixed seed)", {
  set.seed(2001)
  tab <- verify_all(n = 2e5)
  expect_equal(nrow(tab), nrow(identities()))
  expect_true(all(tab$consistent), info = paste(capture.output(print(tab[, 1:10])), collapse = "\n"))
})

test_that("calibration: a true identity is rejected about 1% of the time at level 0.99", {
  skip_unless_full()
  # Under a correct MCSE, rejections over 200 seeds are Binomial(200, 0.01):
  # more than qbinom(0.999, 200, 0.01) = 7 would reject the MCSE at level 0.001.
  bound <- qbinom(0.999, 200, 0.01)
  for (id in c("sum_independent", "product_independent", "covariance_zero", "fan_in")) {
    rej <- vapply(1:200, function(s) {
      set.seed(s)
      !verify(id, n = 1e4)$consistent
    }, TRUE)
    expect_lte(sum(rej), bound, label = id)
  }
  rej <- vapply(1:200, function(s) {
    set.seed(s)
    !verify("glorot_forward", n = 400, net = mlp(c(16, 16, 16), "linear", init_glorot()),
            batch = 8)$consistent
  }, TRUE)
  expect_lte(sum(rej), bound)
})

test_that("power: every counterexample is rejected, and the general formula holds", {
  skip_unless_full()
  set.seed(2002)
  for (id in identities()$id) {
    drops <- names(initvar:::identity_defs[[id]]$drops)
    for (dr in setdiff(drops, "independent_inputs")) {
      n <- if (initvar:::identity_defs[[id]]$estimand == "network") 100 else 2e5
      v <- verify(id, n = n, drop = dr)
      expect_false(v$consistent, label = paste(id, dr))
      expect_match(v$verdict, "not consistent at level 0.99")
      if (!is.null(v$general) && !is.na(v$general)) {
        expect_lt(abs(v$estimate - v$general), 5 * v$mcse + 0.02 * abs(v$general),
                  label = paste(id, dr, "general"))
      }
    }
  }
  # correlated inputs do not break the neuron's identity: the covariance proof
  v <- verify("neuron", n = 2e5, drop = "independent_inputs")
  expect_lt(abs(v$z), 4)
})

test_that("the delta method holds in the linear regime and breaks outside it", {
  set.seed(2003)
  small <- verify("delta_method", n = 1e5, activation = "tanh", sd = 0.05)
  # the simulation agrees with the exact value within 4 MCSE
  expect_lt(abs(small$z), 4)
  expect_lt(abs(small$approximation / small$theoretical - 1), 0.01)
  big <- verify("delta_method", n = 1e5, activation = "tanh", sd = 2)
  expect_lt(abs(big$z), 4)                        # the exact value by quadrature
  expect_gt(big$approximation / big$theoretical, 3)  # the approximation is far off
  sig <- verify("delta_method", n = 1e5, activation = "sigmoid", mean = 2, sd = 1)
  expect_lt(abs(sig$z), 4)
  expect_gt(abs(sig$approximation / sig$theoretical - 1), 0.05)
})

test_that("accumulators match two-pass R computations on data with a 1e8 offset", {
  set.seed(2004)
  n <- 300001   # several chunks and a partial one
  x <- rnorm(n) + 1e8
  y <- 0.5 * (x - 1e8) + rexp(n) - 3e8
  a <- .Call(initvar:::C_test_moments, x, y)
  M <- matrix(a[4:28], 5, byrow = TRUE)
  # two-pass reference on the exactly de-offset data (x - 1e8 is exact), so
  # that the reference itself does not lose digits to the offset
  x0 <- x - 1e8
  y0 <- y + 3e8
  dx <- x0 - mean(x0)
  dy <- y0 - mean(y0)
  expect_equal(a[1], n)
  expect_equal(a[2], mean(x), tolerance = 1e-15)
  expect_equal(a[3], mean(y), tolerance = 1e-15)
  for (pq in list(c(2, 0), c(1, 1), c(0, 2), c(3, 0), c(2, 1), c(4, 0), c(2, 2), c(1, 3), c(0, 4))) {
    ref <- sum(dx^pq[1] * dy^pq[2])
    # relative to the scale of the summands (odd moments are near 0)
    scale <- sum(abs(dx)^pq[1] * abs(dy)^pq[2])
    expect_lte(abs(M[pq[1] + 1, pq[2] + 1] - ref), 1e-10 * scale, label = paste(pq, collapse = ","))
  }
  # estimators built on them
  expect_equal(initvar:::biv_estimate(a, "var")[["estimate"]], var(x), tolerance = 1e-10)
  expect_equal(initvar:::biv_estimate(a, "cov")[["estimate"]], cov(x, y), tolerance = 1e-10)
  expect_equal(initvar:::biv_estimate(a, "ratio")[["estimate"]], var(x) / var(y), tolerance = 1e-10)
})

test_that("same seed, same result, for 1 and 2 threads; memory is constant in n", {
  set.seed(2005); a <- verify("product_independent", n = 1e6, threads = 1)
  set.seed(2005); b <- verify("product_independent", n = 1e6, threads = 2)
  expect_identical(a$estimate, b$estimate)
  expect_identical(a$path, b$path)
  # the path of estimates converges: its last interval covers the truth
  expect_true(nrow(a$path) > 3)
  expect_true(all(diff(a$path$n) > 0))
  expect_true(all(diff(a$path$mcse[-1]) < 0))
})

test_that("print, as.data.frame and plot", {
  set.seed(2006)
  v <- verify("product_zero_mean", n = 1e5, drop = "zero_mean")
  out <- capture.output(print(v))
  expect_true(any(grepl("DROPPED", out)))
  expect_true(any(grepl("general formula", out)))
  df <- as.data.frame(v)
  expect_equal(nrow(df), 1)
  expect_false(df$consistent)
  f <- tempfile(fileext = ".pdf")
  grDevices::pdf(f)
  expect_s3_class(plot(v), "data.frame")
  w <- verify("glorot_forward", n = 20)
  expect_s3_class(plot(w), "data.frame")
  grDevices::dev.off()
  unlink(f)
})

test_that("verify() rejects bad input, naming the argument", {
  expect_error(verify("pythagoras"), "`id`")
  expect_error(verify("neuron", n = 1), "`n`")
  expect_error(verify("neuron", n = 10.5), "`n`")
  expect_error(verify("neuron", level = 1), "`level`")
  expect_error(verify("neuron", level = 0), "`level`")
  expect_error(verify("neuron", sd_w = -1), "`sd_w`")
  expect_error(verify("neuron", inputs = "cauchy"), "`inputs`")
  expect_error(verify("neuron", rho_x = 2), "`rho_x`")
  expect_error(verify("neuron", foo = 1), "`foo` is not a parameter")
  expect_error(verify("linear_mean", drop = "independence"), "`drop`")
  expect_error(verify("sum_independent", drop = "zero_mean"), "`drop`")
  expect_error(verify("delta_method", activation = "swishy"), "`activation`")
  expect_error(verify("glorot_forward", net = "net"), "`net`")
  expect_error(verify("glorot_forward", layer = 9), "`layer`")
  expect_error(verify_all(n = 1), "`n`")
  expect_error(.Call(initvar:::C_identity_moments, 9L, numeric(10), 100, 1L), "code")
  expect_error(.Call(initvar:::C_identity_moments, 1L, numeric(3), 100, 1L), "params")
  expect_error(.Call(initvar:::C_identity_moments, 2L, c(0, rep(1, 9)), 100, 1L), "whole number")
  expect_error(.Call(initvar:::C_identity_moments, 1L, c(1, 0, -1, 1, 0, 0, 0, 0, 0, 0), 100, 1L), "params")
  expect_error(.Call(initvar:::C_identity_moments, 1L, c(1, 0, 1, 1, 0, 0, 0, 0, 0, 0), 1, 1L), "`n`")
  expect_error(.Call(initvar:::C_test_moments, 1:3, NULL), "double")
  expect_error(.Call(initvar:::C_test_moments, c(1, 2), 1), "`y`")
  expect_error(verify("glorot_forward", n = 2e9), "`n`")
  expect_error(verify("glorot_forward", batch = 1), "`batch`")
  expect_snapshot(show_error(verify("neuron", foo = 1)))
  # the size of a neuron is its own parameter, not the number of draws
  set.seed(2007)
  v <- verify("fan_in", n = 1e4, fan_in = 16)
  expect_equal(v$params$fan_in, 16)
  expect_equal(v$params$sd_w, 1 / 4)
})
