# Objects that carry a package class but were not made by its constructors
# ("forged") are refused with an initvar error that names the user's
# function and the argument.

expect_forged_error <- function(expr, fun, arg) {
  e <- tryCatch({ expr; NULL }, error = identity)
  expect_s3_class(e, "initvar_error")
  expect_identical(as.character(conditionCall(e)[[1]]), fun)
  msg <- conditionMessage(e)
  expect_true(grepl(paste0("`", arg, "`"), msg, fixed = TRUE) ||
                grepl(paste0("`", arg, "[["), msg, fixed = TRUE), label = msg)
}

forged_schemes <- list(structure(list(a = 1), class = "initvar_scheme"),
                       structure(list(), class = "initvar_scheme"),
                       structure(list(family = "nope", name = "x"), class = "initvar_scheme"))

test_that("forged schemes are refused by every function taking a scheme", {
  bad_scale <- init_glorot(); bad_scale$scale <- NA
  for (f in c(forged_schemes, list(bad_scale))) {
    expect_forged_error(weight_variance(f, 3), "weight_variance", "scheme")
    expect_forged_error(weight_mean(f, 3), "weight_mean", "scheme")
    expect_forged_error(sample_weights(f, 3, 4, threads = 1), "sample_weights", "scheme")
    expect_forged_error(mlp(c(3, 4, 2), "tanh", init = f), "mlp", "init")
    expect_forged_error(mlp(c(3, 4, 2), "tanh", bias = f), "mlp", "bias")
    expect_forged_error(resmlp(3, depth = 2, init = f), "resmlp", "init")
    expect_forged_error(resmlp(3, depth = 2, proj_init = f), "resmlp", "proj_init")
    expect_forged_error(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2, init = f), "cnn", "init")
    expect_forged_error(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2, bias = f), "cnn", "bias")
    expect_forged_error(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2, readout_bias = f),
                        "cnn", "readout_bias")
    expect_forged_error(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2, init = f),
                        "transformer", "init")
  }
})

test_that("real schemes still pass the scheme check", {
  for (s in list(init_glorot(), init_he("normal", convention = "keras"), init_orthogonal(),
                 init_identity(), init_sparse(0.1), init_truncated_normal(), init_zeros(),
                 init_uniform(0, 1), init_lecun())) {
    expect_true(is.finite(weight_variance(s, 4, 3)))
  }
})

test_that("forged activations are refused by every function taking an activation", {
  for (a in list(structure(list(), class = "initvar_activation"),
                 structure(list(a = 1), class = "initvar_activation"))) {
    expect_forged_error(fixed_point(a, sigma_w2 = 1.5, sigma_b2 = 0.05), "fixed_point", "activation")
    expect_forged_error(critical_line(a, sigma_b2 = 0.05), "critical_line", "activation")
    expect_forged_error(phase_diagram(a, sigma_w2 = c(1, 3), sigma_b2 = c(0, 0.1)),
                        "phase_diagram", "activation")
    expect_forged_error(mlp(c(3, 4, 2), a), "mlp", "activation")
    expect_forged_error(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2, activation = a),
                        "cnn", "activation")
    expect_forged_error(resmlp(3, depth = 2, activation = a), "resmlp", "activation")
    expect_forged_error(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2, activation = a),
                        "transformer", "activation")
  }
  bad_df <- activation("tanh"); bad_df$df <- function(x) x[-1]
  expect_forged_error(mlp(c(3, 4, 2), bad_df), "mlp", "activation")
})

test_that("a failing R activation gives one clear message, without warnings", {
  e <- expect_error(mlp(c(3, 4, 2), function(x) stop("boom")), class = "initvar_error")
  expect_match(conditionMessage(e), "`activation[[1]]` must be", fixed = TRUE)
  expect_match(conditionMessage(e), "boom", fixed = TRUE)
  expect_no_match(conditionMessage(e), "not a function")
  # right length only for 5 inputs: refused, not a "longer object length" warning
  for (f in list(function(x) rep(1, 5), function(x) if (length(x) == 5) x else x[-1])) {
    expect_no_warning(e <- expect_error(mlp(c(3, 4, 2), f), class = "initvar_error"))
    expect_match(conditionMessage(e), "returns \\d+ values? for \\d+ inputs?")
  }
  expect_error(activation("a", f = function(x) rep(1, 5)), "`f` must be", class = "initvar_error")
  expect_s3_class(mlp(c(3, 4, 2), function(x) x * pnorm(x)), "initvar_mlp")
})

test_that("forged networks are refused by every function taking a network", {
  no_layers <- resmlp(3, 2); no_layers$layers <- NULL
  na_width <- mlp(c(3, 4, 2)); na_width$widths[2] <- NA
  bad_kind <- mlp(c(3, 4, 2)); bad_kind$layers[[1]]$kind <- "bogus"
  bad_chain <- mlp(c(3, 4, 2)); bad_chain$layers[[2]]$n_in <- 5
  empty <- mlp(c(3, 4, 2)); empty$layers <- list()
  nets <- list(structure(list(a = 1), class = "initvar_mlp"),
               structure(list(), class = "initvar_mlp"),
               structure(list(a = 1), class = c("initvar_transformer", "initvar_mlp")),
               structure(list(a = 1), class = c("initvar_resmlp", "initvar_mlp")),
               no_layers, na_width, bad_kind, bad_chain, empty)
  for (n in nets) {
    expect_forged_error(predict_variance(n), "predict_variance", "net")
    expect_forged_error(predict_kurtosis(n), "predict_kurtosis", "net")
    expect_forged_error(predict_correlation(n, 0.5), "predict_correlation", "net")
    expect_forged_error(simulate_network(n, networks = 2, inputs = 2, threads = 1),
                        "simulate_network", "net")
    expect_forged_error(simulate_correlation(n, 0.5, networks = 20, pairs = 2, threads = 1),
                        "simulate_correlation", "net")
    expect_forged_error(jacobian_spectrum(n, networks = 2, threads = 1), "jacobian_spectrum", "net")
    expect_forged_error(first_step(n, lr = 0.1, networks = 2, batch = 2), "first_step", "net")
    expect_forged_error(residual_depth_profile(n), "residual_depth_profile", "net")
  }
  expect_match(tryCatch(predict_variance(bad_chain), error = conditionMessage),
               "layer 1 outputs 4 units but layer 2 takes 5", fixed = TRUE)
})

test_that("real networks pass the network check", {
  for (n in list(mlp(c(3, 4, 2)), resmlp(3, 2), resmlp(3, 2, n_in = 5, n_out = 2),
                 cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2),
                 transformer(4, 2, depth = 2, d_ff = 3, seq_len = 2,
                             architecture = "encoder_decoder"))) {
    expect_null(initvar:::network_problem(n))
  }
})

test_that("a fan given is checked even where the scheme ignores it", {
  u <- init_uniform(0, 1)
  bad <- list(NULL, NA, NaN, "3", list(3), numeric(0), -1, 2.5)
  for (b in bad) {
    expect_forged_error(weight_mean(u, fan_in = b), "weight_mean", "fan_in")
    expect_forged_error(weight_variance(u, fan_in = b), "weight_variance", "fan_in")
    expect_forged_error(weight_mean(u, fan_in = 3, fan_out = b), "weight_mean", "fan_out")
    expect_forged_error(weight_variance(init_zeros(), fan_in = 3, fan_out = b), "weight_variance", "fan_out")
    expect_forged_error(sample_weights(u, fan_in = b, threads = 1), "sample_weights", "fan_in")
    expect_forged_error(sample_weights(u, fan_in = 3, fan_out = b, threads = 1), "sample_weights", "fan_out")
  }
  expect_forged_error(weight_mean(u, fan_out = NA), "weight_mean", "fan_out")
  expect_forged_error(sample_weights(u, dim = 3, fan_out = NA, threads = 1), "sample_weights", "fan_out")
  # without fans, or with good ones, the fan-free schemes still answer
  expect_equal(weight_mean(u), 0.5)
  expect_equal(weight_mean(u, 3, 4), 0.5)
  expect_equal(weight_variance(u, fan_out = 3), 1 / 12)
  expect_length(sample_weights(u, dim = 4, threads = 1), 4)
})

test_that("forged layers are refused by compare_fans(), fans() and weight_variance(layer =)", {
  bad_groups <- conv_layer(4, 8, 3); bad_groups$groups <- 3
  for (l in list(structure(list(), class = "initvar_layer"),
                 structure(list(a = 1), class = "initvar_layer"),
                 structure(list(kind = "dense"), class = "initvar_layer"), bad_groups)) {
    expect_forged_error(compare_fans(l), "compare_fans", "layers")
    expect_forged_error(compare_fans(list(conv_layer(3, 16, 3), l)), "compare_fans", "layers[[2]]")
    expect_forged_error(fans(l), "fans", "dim")
    expect_forged_error(weight_variance(init_he(), layer = l), "weight_variance", "layer")
  }
  for (l in list(conv_layer(3, 16, 3), conv_layer(64, 16, c(4, 4), stride = 2, transposed = TRUE),
                 conv_layer(16, 16, c(3, 3), groups = 16), dense_layer(512, c(8, 64)),
                 attention_layer(512, 8), attention_layer(512, 8, projection = "output"))) {
    expect_null(initvar:::fan_layer_problem(l))
  }
})

test_that("forged scaling rules are refused by resmlp(), transformer() and residual_growth()", {
  bad_gains <- scaling_rule("fixup", 4); bad_gains$gains <- 1
  for (r in list(structure(list(), class = "initvar_scaling_rule"),
                 structure(list(a = 1), class = "initvar_scaling_rule"), bad_gains)) {
    expect_forged_error(residual_growth(r, depth = 4), "residual_growth", "rule")
    expect_forged_error(resmlp(3, depth = 4, rule = r), "resmlp", "rule")
    expect_forged_error(transformer(4, 2, depth = 4, d_ff = 3, seq_len = 2, rule = r),
                        "transformer", "rule")
  }
  for (nm in initvar:::scaling_rule_names) {
    expect_null(initvar:::rule_problem(scaling_rule(nm, 6)))
  }
})

test_that("coordinate_check() names `net_fun` and the width when net_fun fails", {
  e <- expect_error(coordinate_check(function(n) stop("no"), c(2, 3, 4), 1, networks = 20, batch = 1),
                    class = "initvar_error")
  expect_identical(as.character(conditionCall(e)[[1]]), "coordinate_check")
  expect_match(conditionMessage(e), "`net_fun` failed at width 2", fixed = TRUE)
  expect_match(conditionMessage(e), "no", fixed = TRUE)
  for (f in list(function() mlp(c(3, 3)), function(n, m) mlp(c(3, n)))) {
    expect_forged_error(coordinate_check(f, c(2, 3, 4), 1, networks = 20, batch = 1),
                        "coordinate_check", "net_fun")
  }
  expect_forged_error(coordinate_check(function(n) 3, c(2, 3, 4), 1, networks = 20, batch = 1),
                      "coordinate_check", "net_fun(2)")
  expect_forged_error(coordinate_check(function(n) mlp(c(3, n, 2)), c(2, 3, 4), 1, networks = 20,
                                       batch = 1, what = "first_step",
                                       lr_fun = function(w) stop("bad lr")),
                      "coordinate_check", "lr_fun")
  expect_s3_class(coordinate_check(function(n, ...) mlp(c(3, n, 2)), c(2, 3, 4), 1, networks = 20,
                                   batch = 1), "data.frame")
})

test_that("first_step(): an undefined relative change is NA, not NaN, and print() says why", {
  set.seed(1)
  z <- first_step(mlp(c(3, 3, 2), "relu", init_zeros()), lr = 0.1, networks = 3, batch = 2)
  expect_true(all(is.na(z$table$rel_dz)) && !any(is.nan(z$table$rel_dz)))
  expect_true(all(is.na(z$table$rel_dz_mcse)) && !any(is.nan(z$table$rel_dz_mcse)))
  expect_equal(z$table$lower, c(0, 0))
  out <- capture.output(print(z))
  expect_length(grep("rel_dz NA", out), 1)
  expect_match(grep("rel_dz NA", out, value = TRUE), "exactly 0 at initialization")
  k <- first_step(mlp(c(3, 3, 2), "tanh", init_constant(0.5)), lr = 0.1, networks = 3, batch = 2)
  expect_false(anyNA(k$table))
  expect_true(all(is.finite(as.matrix(k$table))))
  expect_equal(k$table$rel_dz_mcse[k$table$ms_dz == 0], rep(0, sum(k$table$ms_dz == 0)))
  expect_length(grep("rel_dz NA", capture.output(print(k))), 0)
})

test_that("huge layers are refused before any allocation, with exact numbers (issue 21)", {
  expect_error(sample_weights(init_glorot(), fan_in = 3, fan_out = 2147483647L, threads = 1),
               "6,442,450,941 doubles .* more than `sample_weights\\(\\)` draws in one call")
  expect_error(weight_mean(init_uniform(0, 1), 2147483647L),
               "is 4,611,686,014,132,420,6[0-9]{2} elements, more than R can store")
  expect_equal(weight_mean(init_uniform(0, 1), 2147483647L, 2), 0.5)
  # fan_conformance() checks its arguments even when it does not simulate
  expect_error(fan_conformance(threads = 2.5), "`threads`")
  expect_error(fan_conformance(networks = c(3, 3)), "`networks`")
  # an activation the q-map cannot integrate is refused before any answer
  a <- activation("nan_df", f = function(x) x, df = function(x) rep(NaN, length(x)))
  expect_error(fixed_point(a, 1.5, 0.05), "`activation` must return finite values.*f' is NaN")
})

test_that("the signal maps name an activation their quadrature cannot integrate; verify() refuses forged schemes", {
  expect_error(fixed_point(activation("exp", f = exp, df = exp), sigma_w2 = 1.5, sigma_b2 = 0.05),
               "`activation` grows too fast for the q- and c-maps' quadrature")
  expect_error(verify(E(X^2) ~ 1, X = structure(list(), class = "initvar_scheme"), n = 10000, threads = 1),
               "`X` must be an initialization scheme")
})

test_that("fuzzer finds of seed 337: unknown functions, NA latex, a vector quiet, a huge workspace", {
  expect_error(new_identity("a", formula = E(zzz_no_such_fn(X)) ~ 0,
                            variables = list(X = function(n) rnorm(n))),
               "calls `zzz_no_such_fn\\(\\)`, but no function of that name is found")
  expect_error(verify(E(zzz_no_such_fn(X)) ~ 0, X = init_normal(), n = 1e4),
               "calls `zzz_no_such_fn\\(\\)`")
  expect_error(new_identity("a", formula = Var(X) ~ 1, variables = list(X = function(n) rnorm(n)),
                            latex = NA_character_), "`latex`")
  expect_error(glorot_report(2, inputs = 2, width = 3, depth = 1, file = file.path(tempdir(), "g.png"),
                             quiet = c(TRUE, FALSE), threads = 1), "`quiet` must be TRUE or FALSE")
  e <- tryCatch(width_sweep(c(1e5, 1e5), depth = 1, networks = 2, inputs = 2), error = function(e) e)
  expect_s3_class(e, "initvar_error")
  expect_match(conditionMessage(e), "too large to simulate|`widths`|`inputs`")
})
