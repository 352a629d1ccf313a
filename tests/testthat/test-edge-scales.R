# Edge scales and the bugs of 0.1.0 away from the defaults: each test failed
# before the fix.

test_that("verify() is scale-free: sd = 1e-100 and 1e100 behave like sd = 1", {
  z <- list()
  for (sd in c(1e-100, 1, 1e100)) {
    set.seed(3001)
    v <- verify("sum_independent", n = 1e5, sd = sd)
    expect_gt(v$mcse, 0)
    expect_true(v$consistent)
    z[[format(sd)]] <- v$z
    set.seed(3002)
    d <- verify("sum_independent", n = 1e5, sd = sd, drop = "independence")
    # 0.1.0 called this consistent at sd = 1e-100 (an absolute tolerance)
    expect_false(d$consistent)
    expect_equal(d$estimate / d$theoretical, 3.7, tolerance = 0.05)
  }
  # the same draws up to a scale: the same z to rounding
  expect_equal(z[[1]], z[[2]], tolerance = 1e-8)
  expect_equal(z[[3]], z[[2]], tolerance = 1e-8)
  set.seed(3003)
  a <- verify("product_zero_mean", n = 1e4, sd_x = 1e-60, sd_y = 1e-60)   # Var(XY) = 1e-240
  expect_gt(a$mcse, 0)
  expect_equal(a$estimate / a$theoretical, 1, tolerance = 6 * a$mcse / a$theoretical)
  set.seed(3003)
  b <- verify("linear_var", n = 1e4, sd = 1e100, a = 1e-50)
  expect_gt(b$mcse, 0)
  expect_true(is.finite(b$z))
})

test_that("an MCSE of 0 agrees only with the value itself (no absolute tolerance)", {
  ag <- initvar:::agreement(c(1e-300, 1e-300, 2), 0, c(1e-300, 3.7e-300, 2))
  expect_identical(ag$consistent, c(TRUE, FALSE, TRUE))
  expect_identical(ag$z[2], -Inf)
})

test_that("simulate_network() accumulates on the layer's own scale (no under- or overflow)", {
  set.seed(3004)
  # a 400-layer stack whose variance shrinks 4-fold a layer, to 1e-241
  net <- mlp(rep(16, 401), "linear", init_variance_scaling(0.25, "fan_in", "normal"))
  df <- as.data.frame(simulate_network(net, 30, 8))
  s <- df[df$quantity == "s", ]
  expect_true(all(s$mcse > 0 & is.finite(s$mcse)))
  expect_true(all(s$estimate > 0 & s$estimate < 1e-200 | s$layer < 340))
  expect_lt(max(abs(s$mcse / s$estimate)), 10)
  # var_x = 1e160: squares overflow unless accumulated on the layer's scale
  set.seed(3005)
  big <- as.data.frame(simulate_network(mlp(c(8, 8, 8), "linear", init_lecun()), 50, 8,
                                        var_x = 1e160))
  expect_true(all(is.finite(big$estimate) & is.finite(big$mcse) & big$mcse > 0))
  r <- big[big$quantity == "s" & big$layer == 1, ]
  expect_lt(abs(r$estimate / r$prediction - 1), 6 * r$mcse / r$prediction)
  # the same simulation at scale 1, up to the factor: same relative figures
  set.seed(3005)
  one <- as.data.frame(simulate_network(mlp(c(8, 8, 8), "linear", init_lecun()), 50, 8))
  expect_equal(big$estimate[big$quantity == "s"] / 1e160, one$estimate[one$quantity == "s"],
               tolerance = 1e-10)
})

test_that("simulate_network() on one layer, with fixed or non-zero-mean weights", {
  set.seed(3006)
  for (init in list(init_identity(), init_uniform(0, 1), init_constant(0.1))) {
    sim <- simulate_network(mlp(c(4, 4), "linear", init), 30, 8)
    df <- as.data.frame(sim)
    expect_equal(nrow(df), 4)
    expect_true(all(is.finite(df$estimate)))
  }
  # identity weights and N(0, 1) inputs: Var(s) = 1 exactly in expectation
  set.seed(3007)
  df <- as.data.frame(simulate_network(mlp(c(4, 4), "linear", init_identity()), 200, 16))
  r <- df[df$quantity == "s", ]
  expect_lt(abs(r$estimate - 1), 5 * r$mcse)
})

test_that("a large bias mean costs no digits: variances computed centrally", {
  net <- mlp(c(16, 16), "linear", init_lecun(), bias = init_constant(1e8))
  p <- predict_variance(net, regime = "mean_field")
  expect_equal(p$var_z, 1, tolerance = 1e-12)
  expect_equal(p$mean_z, 1e8)
  set.seed(3008)
  df <- as.data.frame(simulate_network(net, 50, 16))
  r <- df[df$quantity == "z", ]
  expect_true(isTRUE(r$consistent) || is.na(r$consistent))
  expect_lt(abs(r$z), 5)
})

test_that("the linear-regime default says when it does not apply", {
  expect_message(predict_variance(mlp(c(10, 10, 10), "relu", init_he())), "mean_field")
  expect_message(predict_variance(mlp(c(10, 10), "tanh", init_glorot())), NA)
  expect_message(predict_variance(mlp(c(10, 10), "relu", init_he()), regime = "linear"), NA)
})

test_that("verdict words say what a calibrated rejection means", {
  set.seed(3009)
  v <- verify("product_zero_mean", n = 1e5, drop = "zero_mean")
  expect_match(v$verdict, "^not consistent at level 0.99: z = -?[0-9.]+, and chance alone gives \\|z\\| this large with probability")
  expect_match(v$verdict, "1 in 100 true identities is flagged")
  expect_false(grepl("fails", v$verdict))
})

test_that("a gross rejection states z and how unlikely chance makes it", {
  txt <- initvar:::verdict_text(FALSE, 48, 2 * pnorm(-48), 0.99, value = 0, estimate = 0.5)
  expect_match(txt, "z = 48.0, and chance alone gives |z| this large with probability below 1e-300",
               fixed = TRUE)
  txt <- initvar:::verdict_text(FALSE, 2.9, 2 * pnorm(-2.9), 0.99, value = 1, estimate = 1.1)
  expect_match(txt, "probability 0.0037 (about 1 in 270)", fixed = TRUE)
  expect_false(grepl("p = 0[ )]", txt))
})
