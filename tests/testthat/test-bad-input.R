# Bad input: a clear R error naming the argument, never a crash.

test_that("fan sizes are checked before anything is allocated", {
  s <- init_glorot()
  bad <- list("a", NA, NaN, Inf, -Inf, 0, -3, 2.5, 1e10, c(2, 3), NULL, list(3))
  for (b in bad) {
    expect_error(sample_weights(s, b, 10), "`fan_in`")
    expect_error(sample_weights(s, 10, b), "`fan_out`")
    # (a vector of valid fans is one value per layer for weight_variance())
    if (!identical(b, c(2, 3))) expect_error(weight_variance(s, b, 10), "`fan_in`")
  }
  # each size fits in an integer but the product overflows R's vector limit
  expect_error(sample_weights(s, 2^30, 2^30), "more than R can store")
  expect_error(sample_weights(init_orthogonal(), 2^30, 2^30), "more than R can store")
  expect_error(sample_weights(s, dim = c(2^20, 2^20, 2^20)), "more than R can store")
  expect_error(sample_weights(s, dim = c(3, -1)), "`dim\\[2\\]` must be a positive whole number, not -1")
  expect_error(sample_weights(s, dim = c(3, NA)), "`dim\\[2\\]`")
  expect_error(sample_weights(s, dim = numeric(0)), "`dim`")
  expect_error(sample_weights(s), "`fan_in` is missing")
  expect_snapshot(show_error(sample_weights(s, -3, 10)))
  expect_snapshot(show_error(sample_weights(s, 10, 2.5)))
  expect_snapshot(show_error(sample_weights(s, 2^30, 2^30)))
})

test_that("unknown schemes, layouts and names are rejected", {
  expect_error(sample_weights("glorot", 3, 3), "`scheme` must be an initialization scheme")
  expect_error(weight_variance(list(family = "normal"), 3), "`scheme`")
  expect_error(sample_weights(init_he(), dim = c(3, 3), layout = "jax"), "`layout`")
  expect_error(fans(c(3, 3), layout = "mxnet"), "`layout`")
  expect_error(init_glorot("laplace"), "`distribution`")
  expect_error(init_he(mode = "fan_avg"), "`mode`")
  expect_error(init_variance_scaling(mode = "fan_sum"), "`mode`")
  expect_error(init_glorot(convention = "mxnet"), "`convention`")
  expect_error(init_truncated_normal(bounds = "quantile"), "`bounds`")
  expect_snapshot(show_error(init_glorot("laplace")))
  expect_snapshot(show_error(sample_weights("glorot", 3, 3)))
})

test_that("distribution parameters are checked", {
  expect_error(init_uniform(1, 1), "`b` must be greater than `a`")
  expect_error(init_uniform(NA, 1), "`a`")
  expect_error(init_uniform(0, Inf), "`b`")
  expect_error(init_normal(sd = 0), "`sd`")
  expect_error(init_normal(sd = -1), "`sd`")
  expect_error(init_normal(mean = "0"), "`mean`")
  expect_error(init_truncated_normal(sd = 0), "`sd`")
  expect_error(init_truncated_normal(lower = 2, upper = 2), "`upper` must be greater than `lower`")
  expect_error(init_truncated_normal(lower = 3, upper = 1), "`upper`")
  expect_error(init_truncated_normal(lower = NaN), "`lower`")
  expect_error(init_truncated_normal(lower = Inf, upper = Inf), "`upper`|`lower`")
  expect_error(init_sparse(1), "`sparsity`")
  expect_error(init_sparse(-0.1), "`sparsity`")
  expect_error(init_sparse(0.5, sd = 0), "`sd`")
  expect_error(init_constant(NA), "`value`")
  expect_error(init_constant(c(1, 2)), "`value`")
  expect_error(init_identity(0), "`gain`")
  expect_error(init_orthogonal(-1), "`gain`")
  expect_error(init_glorot(gain = Inf), "`gain`")
  expect_error(init_variance_scaling(scale = 0), "`scale`")
  expect_error(init_he(a = NA), "`a`")
  expect_error(sample_weights(init_sparse(), dim = 5), "`dim`")
  expect_error(sample_weights(init_normal(), 3, threads = 0), "`threads`")
  expect_error(initvar_threads(-1), "`n`")
  expect_snapshot(show_error(init_truncated_normal(lower = 3, upper = 1)))
  expect_snapshot(show_error(init_sparse(1)))
  expect_snapshot(show_error(init_normal(sd = -1)))
})

test_that("C entry points reject wrong input instead of crashing", {
  iid <- function(...) .Call(initvar:::C_sample_iid, ...)
  expect_error(iid(NULL, 1L, c(0, 1, 0, 0), 1L), "dim")
  expect_error(iid("a", 1L, c(0, 1, 0, 0), 1L), "dim")
  expect_error(iid(c(2, -1), 1L, c(0, 1, 0, 0), 1L), "dim")
  expect_error(iid(c(2^31, 1), 1L, c(0, 1, 0, 0), 1L), "dim")
  expect_error(iid(c(2^30, 2^30), 1L, c(0, 1, 0, 0), 1L), "more elements")
  expect_error(iid(3, 9L, c(0, 1, 0, 0), 1L), "family")
  expect_error(iid(3, NA_integer_, c(0, 1, 0, 0), 1L), "family")
  expect_error(iid(3, 1L, c(0, 1), 1L), "params")
  expect_error(iid(3, 1L, c(0, 1, 0, 0, 0), 1L), "params")
  expect_error(iid(3, 1L, 1:4, 1L), "params")
  expect_error(iid(3, 1L, c(NA, 1, 0, 0), 1L), "params")
  expect_error(iid(3, 1L, c(1, 0, 0, 0), 1L), "a <= b")
  expect_error(iid(3, 2L, c(0, -1, 0, 0), 1L), "sd")
  expect_error(iid(3, 2L, c(Inf, 1, 0, 0), 1L), "finite")
  expect_error(iid(3, 3L, c(0, 1, 2, 1), 1L), "lower < upper")
  expect_error(iid(3, 3L, c(0, 1, Inf, Inf), 1L), "lower < upper")
  expect_error(iid(3, 1L, c(0, 1, 0, 0), NULL), "threads")
  expect_error(iid(3, 1L, c(0, 1, 0, 0), "2"), "threads")
  ortho <- function(...) .Call(initvar:::C_sample_orthogonal, ...)
  expect_error(ortho(0, 3, 1, 1L), "rows")
  expect_error(ortho(3, list(), 1, 1L), "cols")
  expect_error(ortho(3, 3, NA_real_, 1L), "gain")
  expect_error(ortho(2^30, 2^30, 1, 1L), "more elements")
  sparse <- function(...) .Call(initvar:::C_sample_sparse, ...)
  expect_error(sparse(3, 3, 4, 1, 1L), "nzero")
  expect_error(sparse(3, 3, -1, 1, 1L), "nzero")
  expect_error(sparse(3, 3, 1, -1, 1L), "sd")
  expect_error(sparse(3, NULL, 1, 1, 1L), "cols")
  # huge thread counts are bounded, not an error
  set.seed(1); a <- iid(5, 2L, c(0, 1, 0, 0), 1000L)
  set.seed(1); b <- iid(5, 2L, c(0, 1, 0, 0), 1L)
  expect_identical(a, b)
})

test_that("every error names the user's function, not an internal frame", {
  probes <- list(
    quote(init_uniform(1, 1)), quote(mlp(c(3, 3), "swish_typo")), quote(weight_variance(init_glorot())),
    quote(fans(c(3, -1, 2))), quote(simulate_network(mlp(c(3, 3)), networks = 1)),
    quote(verify("neuron", n = 1)), quote(verify_all(n = 1)), quote(predict_variance("net")),
    quote(gain("no_such_activation")), quote(sample_weights(init_glorot(), -1)),
    quote(compare_schemes(reps = 1)), quote(glorot_report(networks = 1)),
    quote(linear_regime(1)), quote(activation("no_such_activation")),
    quote(init_he(a = "a")), quote(init_truncated_normal(lower = 2, upper = 1)),
    quote(verify(Var(X) ~ 1, X = 3, n = 1e4)), quote(new_identity(3, Var(X) ~ 1)),
    quote(register_identity(list())), quote(plot_simulations(list())),
    quote(weight_mean(init_normal(), dim = c(2, NA))), quote(mlp(c(2, 0))))
  for (q in probes) {
    e <- tryCatch(eval(q), error = identity)
    expect_s3_class(e, "error")
    head <- conditionCall(e)[[1]]
    expect_identical(deparse(head), deparse(q[[1]]), label = paste(deparse(q), "names", deparse(conditionCall(e))))
  }
})
