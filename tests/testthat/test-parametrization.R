# parametrization(): the exponent tables against the papers' values, typed
# here independently of R/parametrization.R.

ex <- function(p, group, col) p$table[[col]][p$table$group == group]

test_that("muP matches Tensor Programs V, Table 3", {
  p <- parametrization("mup")
  # init variance: input 1/fan_in (fixed fan-in), hidden 1/n, output 1/n^2
  expect_identical(c(ex(p, "input", "init_var"), ex(p, "hidden", "init_var"),
                     ex(p, "output", "init_var")), c(0, -1, -2))
  # SGD: input and biases eta * fan_out, hidden eta, output eta / fan_in
  expect_identical(c(ex(p, "input", "lr_sgd"), ex(p, "bias", "lr_sgd"),
                     ex(p, "hidden", "lr_sgd"), ex(p, "output", "lr_sgd")), c(1, 1, 0, -1))
  # Adam: input and biases eta, hidden and output eta / fan_in
  expect_identical(c(ex(p, "input", "lr_adam"), ex(p, "bias", "lr_adam"),
                     ex(p, "hidden", "lr_adam"), ex(p, "output", "lr_adam")), c(0, 0, -1, -1))
  expect_identical(ex(p, "attention", "multiplier"), -1)
  expect_true(all(p$table$zero == (p$table$group %in% c("query", "output"))))
  expect_true(is.na(p$alpha))
  expect_true(all(p$table$multiplier_depth[p$table$group != "attention"] == 0))
})

test_that("SP and NTK differ from muP where they should", {
  sp <- parametrization("sp")
  ntk <- parametrization("ntk")
  expect_identical(ex(sp, "output", "init_var"), -1)
  expect_identical(ex(sp, "attention", "multiplier"), -0.5)
  expect_identical(ex(sp, "hidden", "lr_adam"), 0)
  expect_identical(c(ex(ntk, "hidden", "multiplier"), ex(ntk, "output", "multiplier"),
                     ex(ntk, "hidden", "init_var")), c(-0.5, -0.5, 0))
  expect_false(any(sp$table$zero) || any(ntk$table$zero))
})

test_that("the depth family follows Dey et al. (2025) and the derived SGD exponent", {
  for (a in c(0.5, 0.75, 1)) {
    p <- parametrization("depth_mup", alpha = a)
    expect_identical(ex(p, "branch", "multiplier_depth"), -a)
    for (g in c("hidden", "query", "bias")) {
      expect_identical(ex(p, g, "lr_adam_depth"), a - 1)
      expect_identical(ex(p, g, "eps_depth"), -a)
      expect_identical(ex(p, g, "lr_sgd_depth"), 2 * a - 1)
    }
    for (g in c("input", "output")) expect_identical(ex(p, g, "lr_adam_depth"), 0)
    # width exponents are muP's
    m <- parametrization("mup")
    expect_identical(p$table[, c("init_var", "lr_sgd", "lr_adam", "eps")],
                     m$table[, c("init_var", "lr_sgd", "lr_adam", "eps")])
  }
  expect_identical(parametrization("depth_mup")$alpha, 0.5)
  expect_identical(parametrization("completep")$alpha, 1)
  expect_match(parametrization("completep")$label, "CompleteP")
})

test_that("factors are m_N^e m_L^e_L", {
  p <- parametrization("completep", width = 1024, depth = 32, base_width = 256, base_depth = 4)
  # hidden Adam lr: (1024/256)^-1 * (32/4)^0; eps: 4^-1 * 8^-1; branch: 8^-1
  expect_equal(ex(p, "hidden", "lr_adam_factor"), 1 / 4)
  expect_equal(ex(p, "hidden", "eps_factor"), 1 / 32)
  expect_equal(ex(p, "hidden", "lr_sgd_factor"), 8)
  expect_equal(ex(p, "output", "init_var_factor"), 1 / 16)
  expect_equal(ex(p, "branch", "multiplier_factor"), 1 / 8)
  q <- parametrization("mup", width = 64, base_width = 16)
  expect_equal(ex(q, "input", "lr_sgd_factor"), 4)
  expect_equal(ex(q, "hidden", "init_var_factor"), 1 / 4)
  expect_identical(as.data.frame(q), q$table)
})

test_that("print names the source; bad input is refused clearly", {
  expect_output(print(parametrization("mup")), "Tensor Programs V")
  expect_output(print(parametrization("completep", width = 8)), "Dey et al")
  expect_error(parametrization("mupp"), "`name` must be one of")
  expect_error(parametrization("mup", alpha = 0.5), "`alpha` must be NULL")
  expect_error(parametrization("completep", alpha = 0.3), "`alpha` must be")
  expect_error(parametrization("completep", alpha = NA), "`alpha` must be")
  expect_error(parametrization("mup", width = 0), "`width` must be")
  expect_error(parametrization("mup", depth = 4), "`depth` needs `width`")
  expect_error(parametrization("mup", width = 4, base_width = "a"), "`base_width` must be")
})
