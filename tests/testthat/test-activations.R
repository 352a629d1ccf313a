# Activations: the R table, the C engine and R functions as activations.

# The C engine's f and f' on a grid: a 2-layer net with identity weights
# and zero biases, so that s = x in layer 1, z = f(x), and the
# back-propagated gradient of layer 1 is f'(x) times that of layer 2.
engine_eval <- function(act, x) {
  n <- length(x)
  net <- mlp(c(n, n, n), list(act, "linear"), init_identity())
  tr <- initvar:::network_trace(net, input = matrix(x, 1))
  expect_equal(drop(tr$s[[1]]), x)   # the grid reached the activation untouched
  list(f = drop(tr$z[[1]]), df = drop(tr$g[[1]] / tr$g[[2]]))
}

rel_err <- function(a, b) ifelse(a == b, 0, abs(a - b) / pmax(abs(b), 1e-300))

grid <- c(-1000, -300, -40, -30, -20, -10, -5, -3, -2, -1.5, -1, -0.75, -0.5, -0.1,
          -1e-5, 0, 1e-5, 0.1, 0.5, 1, 2, 3, 5, 10, 20, 40, 300, 1000)

test_that("every activation name has an engine code, and the enum ends with the R functions", {
  tab <- names(initvar:::activation_table)
  codes <- initvar:::activation_codes
  expect_setequal(setdiff(names(codes), "r_function"), tab)
  expect_false(anyDuplicated(codes) > 0)
  expect_identical(unname(codes[["r_function"]]), max(codes))
  expect_identical(sort(unname(codes)), seq(0L, length(codes) - 1L))
  for (a in names(initvar:::activation_aliases)) {
    expect_true(initvar:::activation_aliases[[a]] %in% tab)
  }
})

test_that("C activations equal their R forms to 1e-12 relative, large |x| included", {
  for (nm in names(initvar:::activation_table)) {
    act <- if (nm == "leaky_relu") activation(nm, 0.2) else if (nm == "elu") activation(nm, 0.7) else activation(nm)
    ce <- engine_eval(act, grid)
    expect_true(all(is.finite(ce$f)), info = nm)
    expect_true(all(is.finite(ce$df)), info = nm)
    ok <- grid != 0 | nm %in% c("linear", "tanh", "sigmoid", "scaled_tanh", "gelu",
                                "gelu_tanh", "silu", "mish")   # f'(0) of a kink is a convention
    expect_lte(max(rel_err(ce$f, act$f(grid))), 1e-12, label = paste(nm, "f"))
    expect_lte(max(rel_err(ce$df[ok], act$df(grid[ok]))), 1e-12, label = paste(nm, "df"))
  }
})

test_that("GELU, SiLU and Mish have the textbook values and derivatives", {
  x <- c(-6, -2, -0.7, 0, 0.3, 1, 4)
  expect_equal(activation("gelu")$f(x), x * pnorm(x), tolerance = 1e-15)
  # the tanh approximation, written the naive way, away from cancellation
  naive <- 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
  expect_equal(activation("gelu_tanh")$f(x), naive, tolerance = 1e-13)
  expect_lt(max(abs(activation("gelu_tanh")$f(x) - x * pnorm(x))), 1e-3)  # it approximates GELU
  expect_equal(activation("silu")$f(x), x / (1 + exp(-x)), tolerance = 1e-15)
  expect_identical(activation("swish")$name, "silu")
  expect_equal(activation("mish")$f(x), x * tanh(log(1 + exp(x))), tolerance = 1e-14)
  # derivatives against a fine central difference of the naive forms
  for (nm in c("gelu", "gelu_tanh", "silu", "mish")) {
    a <- activation(nm)
    h <- 1e-5
    expect_equal(a$df(x), (a$f(x + h) - a$f(x - h)) / (2 * h), tolerance = 1e-8, info = nm)
  }
  # far tails: no NaN, the right limits
  big <- c(-1e6, -800, 800, 1e6)
  for (nm in c("gelu", "gelu_tanh", "silu", "mish")) {
    a <- activation(nm)
    expect_equal(a$f(big), c(0, 0, 800, 1e6), info = nm)
    expect_equal(a$df(big), c(0, 0, 1, 1), info = nm)
  }
})

test_that("second-moment gains of the new activations match split stats::integrate", {
  for (nm in c("gelu", "gelu_tanh", "silu", "swish", "mish")) {
    a <- activation(nm)
    g2 <- function(z) a$f(z)^2 * dnorm(z)
    m2 <- integrate(g2, -Inf, 0, rel.tol = 1e-12)$value +
      integrate(g2, 0, Inf, rel.tol = 1e-12)$value
    expect_equal(gain(nm), 1 / sqrt(m2), tolerance = 1e-10, info = nm)
    expect_equal(gain(nm, method = "integrate"), 1 / sqrt(m2), tolerance = 1e-10, info = nm)
    expect_error(gain(nm, method = "table"), "`method`.*no gain for")
  }
  # the values the documentation states
  expect_equal(round(c(gain("gelu"), gain("gelu_tanh"), gain("silu"), gain("mish")), 4),
               c(1.5335, 1.5336, 1.6765, 1.4868))
})

test_that("R functions are accepted, with symbolic or numerical derivatives", {
  g <- activation(function(x) x * pnorm(x))
  expect_match(g$derivative, "symbolic")
  x <- seq(-8, 8, by = 0.25)
  expect_equal(g$df(x), activation("gelu")$df(x), tolerance = 1e-14)
  expect_identical(g$code, initvar:::activation_codes[["r_function"]])
  # a constant symbolic derivative still has one value per input
  expect_identical(activation(function(x) 3 * x)$df(c(1, 2, 5)), c(3, 3, 3))
  # primitives and multi-statement bodies
  expect_match(activation(tanh)$derivative, "symbolic")
  expect_equal(activation(tanh)$df(x), 1 - tanh(x)^2, tolerance = 1e-13)
  # D() cannot differentiate plogis: numerical, to the stated accuracy
  s <- activation(function(x) x * plogis(x))
  expect_match(s$derivative, "numerical")
  xs <- seq(-30, 30, by = 0.173)
  expect_lt(max(abs(s$df(xs) - activation("silu")$df(xs))), 1e-10)
  m <- activation(function(x) { sp <- log1p(exp(x)); x * tanh(sp) })
  expect_match(m$derivative, "numerical")
  xm <- seq(-20, 20, by = 0.31)
  expect_lt(max(abs(m$df(xm) - activation("mish")$df(xm))), 1e-10)
  # pmax and abs bend at 0: one-sided differences near the kink
  r <- activation("my relu", f = function(x) pmax(x, 0), kinks = 0)
  expect_match(r$derivative, "numerical")
  expect_identical(r$kinks, 0)
  expect_equal(r$df(c(-2, -1e-9, 0, 1e-9, 3)), c(0, 0, 1, 1, 1), tolerance = 1e-12)
  a <- activation(function(x) abs(x), kinks = 0)
  expect_equal(a$df(c(-1e-6, 1e-6)), c(-1, 1), tolerance = 1e-12)
  # a given derivative is used as is
  d <- activation("lin", f = function(x) x, df = function(x) rep(2, length(x)))
  expect_identical(d$df(1), 2)
  expect_identical(d$derivative, "given")
})

test_that("mlp(), linear_regime() and gain() take bare R functions", {
  f <- function(x) x * pnorm(x)
  net <- mlp(c(6, 5, 4), list(f, "linear"), init_glorot())
  expect_identical(net$activation[[1]]$code, initvar:::activation_codes[["r_function"]])
  # the R path and the C path see the same draws and agree
  c_net <- mlp(c(6, 5, 4), list("gelu", "linear"), init_glorot())
  set.seed(3); tr_r <- initvar:::network_trace(net, inputs = 7)
  set.seed(3); tr_c <- initvar:::network_trace(c_net, inputs = 7)
  expect_equal(tr_r$z[[1]], tr_c$z[[1]], tolerance = 1e-13)
  expect_equal(tr_r$g[[1]], tr_c$g[[1]], tolerance = 1e-13)
  expect_equal(predict_variance(net, regime = "mean_field")$var_z,
               predict_variance(c_net, regime = "mean_field")$var_z, tolerance = 1e-12)
  lr <- linear_regime(list("gelu", f, activation("relu2", f = function(x) pmax(x, 0), kinks = 0)),
                      sd = c(0.1, 1))
  expect_equal(lr$exact[lr$activation == "gelu"], lr$exact[lr$activation == lr$activation[3]],
               tolerance = 1e-10)
  expect_equal(lr$exact[5:6], c(0.5 - 1 / (2 * pi)) * c(0.01, 1), tolerance = 1e-10)
  expect_equal(nrow(linear_regime(function(x) tanh(x), sd = 1)), 1)
  expect_equal(gain(f), gain("gelu"), tolerance = 1e-12)
})

test_that("activation() rejects bad input, naming the argument", {
  expect_error(activation("relu", kinks = 0), "`kinks` must be NULL for a built-in")
  expect_error(activation(function(x) x, kinks = "0"), "`kinks` must be NULL or a vector of finite")
  expect_error(activation(function(x) x, kinks = NA), "`kinks`")
  expect_error(activation("lab", f = function(x) x, df = 2), "`df` must be a vectorized R function")
  expect_error(activation("lab", f = function(x) 1), "`f` must be a vectorized R function returning one number")
  expect_error(activation(function(x) x, f = function(x) x), "`f` must be NULL when `name` is a function")
  expect_error(activation("lab", f = function(x) x, param = 1), "`param`")
  expect_error(mlp(c(3, 3), function(x) stop("no")), "`activation` must be a vectorized R function")
  expect_error(linear_regime(3), "`activation`")
  expect_error(linear_regime(list("tanh", "tahn")), "`activation\\[\\[2\\]\\]`.*Did you mean \"tanh\"")
})

test_that("misspelled activations get a suggestion", {
  expect_error(activation("tahn"), "not \"tahn\". Did you mean \"tanh\"\\?")
  expect_error(mlp(c(3, 3), "rleu"), "`activation`.*Did you mean \"relu\"")
  expect_error(gain("Gelu"), "Did you mean \"gelu\"")
  expect_error(activation("qqqqqq"), "not \"qqqqqq\"\\.$")
  expect_identical(initvar:::did_you_mean("sigmod", c("sigmoid", "tanh")), " Did you mean \"sigmoid\"?")
  expect_identical(initvar:::did_you_mean("xyz", c("sigmoid", "tanh")), "")
  expect_identical(initvar:::did_you_mean("tanh", c("tanh")), "")   # no suggestion for an exact match
  expect_identical(initvar:::did_you_mean(NA_character_, c("tanh")), "")
  expect_match(initvar:::did_you_mean("ab", c("abc", "abd", "xyz")), "\"abc\" or \"abd\"")
})

test_that("print() of an activation says what it is", {
  out <- capture.output(print(activation("gelu")))
  expect_match(out[1], "<initvar activation> gelu")
  expect_true(any(grepl("x \\* Phi\\(x\\)", out)))
  expect_true(any(grepl("gain +: 1.5335", out)))
  expect_true(any(grepl("in C", out)))
  out <- capture.output(print(activation(function(x) pmax(x, 0), kinks = 0)))
  expect_true(any(grepl("numerical", out)))
  expect_true(any(grepl("kinks +: 0", out)))
  expect_true(any(grepl("in R", out)))
})

test_that("the engine's fast tanh is within 3 ulp of libm's, over the whole range", {
  # iv_tanh() (src/activations.h): a rational form for |x| <= 0.625, 1 - 2 /
  # (exp(2|x|) + 1) above, its exp inline; measured 1.52 ulp worst against long-double tanh
  # on 4e7 random points. Here against R's tanh() (libm, itself within 1 ulp),
  # through the engine's column form (two lanes), which C_test_act_eval checks
  # equals the scalar form bit for bit.
  set.seed(11)
  x <- c(0, 1e-310, 5e-324, 1e-300, 1e-20, 1e-8, 10^seq(-8, 2.5, length.out = 20001),
         0.625 + (-1000:1000) * 2^-50, 0.625 + (-1000:1000) * 1e-6,
         runif(20000, 0, 1), runif(20000, 0, 25), 18:25, 354, 400, 1e10, 1e300,
         .Machine$double.xmax)
  x <- c(x, -x)
  code <- initvar:::activation_codes[["tanh"]]
  out <- .Call(initvar:::C_test_act_eval, code, 0, x)
  ref <- tanh(x)
  ulp <- pmax(abs(ref) * .Machine$double.eps, 2^-1074)
  err <- abs(out[, 1] - ref) / ulp
  expect_lt(max(err), 3)
  expect_identical(out[x == 0, 1], x[x == 0])
  expect_identical(out[abs(x) >= 20, 1], sign(x[abs(x) >= 20]))
  # the derivative is 1 - tanh^2, to rounding of that expression
  expect_equal(out[, 2], 1 - out[, 1]^2, tolerance = 0)
  special <- .Call(initvar:::C_test_act_eval, code, 0, c(Inf, -Inf, NaN, NA))
  expect_identical(special[1:2, 1], c(1, -1))
  expect_true(all(is.na(special[3:4, 1])))
  # scaled tanh uses it too
  st <- .Call(initvar:::C_test_act_eval, initvar:::activation_codes[["scaled_tanh"]], 0, x)
  expect_lt(max(abs(st[, 1] - 1.7159 * tanh(2 * x / 3)) /
                  pmax(abs(1.7159 * tanh(2 * x / 3)) * .Machine$double.eps, 2^-1074)), 4)
})
