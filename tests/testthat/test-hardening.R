# The hardening tables cover every exported function and C routine, and
# numerical faults give a correct result or an error naming the argument.

test_that("every exported function and registered routine is in the hardening tables", {
  exported <- sort(getNamespaceExports("initvar"))
  routines <- getDLLRegisteredRoutines("initvar")$.Call
  missing_fun <- setdiff(exported, names(hardening_exported))
  expect_identical(missing_fun, character(0), label = "exported functions without an entry")
  missing_c <- setdiff(names(routines), names(hardening_routines))
  expect_identical(missing_c, character(0), label = "registered routines without an entry")
  expect_identical(setdiff(names(hardening_exported), exported), character(0))
  expect_identical(setdiff(names(hardening_routines), names(routines)), character(0))
  for (nm in names(hardening_exported)) {
    e <- hardening_exported[[nm]]
    # a gctorture call (or a reason why not); the fuzzer mutates it
    expect_true(is.language(e$gctorture) || is.character(e$why), label = nm)
    if (isTRUE(e$long)) expect_true(is.language(e$interrupt), label = paste(nm, "interrupt"))
  }
  for (nm in names(hardening_routines)) {
    e <- hardening_routines[[nm]]
    # valid arguments, as many as registered
    expect_equal(length(e$args()), routines[[nm]]$numParameters, label = nm)
    if (isTRUE(e$long)) expect_true(is.language(e$interrupt), label = paste(nm, "interrupt"))
  }
  # the long-running ones are marked long
  for (nm in c("simulate_network", "verify", "verify_all", "width_sweep", "glorot_report",
               "compare_schemes", "sample_weights")) {
    expect_true(isTRUE(hardening_exported[[nm]]$long), label = nm)
  }
  for (nm in c("simulate_block", "identity_moments", "sample_iid", "sample_sparse", "sample_orthogonal")) {
    expect_true(isTRUE(hardening_routines[[nm]]$long), label = nm)
  }
})

test_that("the fuzzer has a call and argument classes for every export and argument", {
  exported <- sort(getNamespaceExports("initvar"))
  expect_identical(setdiff(exported, names(hardening_fuzz)), character(0),
                   label = "exported functions without a fuzzing entry")
  expect_identical(setdiff(names(hardening_fuzz), exported), character(0))
  for (nm in names(hardening_fuzz)) {
    e <- hardening_fuzz[[nm]]
    expect_true(is.call(e$call), label = nm)
    expect_true(is.character(e$args) && !is.null(names(e$args)), label = nm)
    expect_true(all(e$args %in% hardening_arg_classes), label = paste(nm, "argument classes"))
    f <- get(nm, envir = asNamespace("initvar"))
    fm <- setdiff(as.character(names(formals(f))), "...")
    # every formal argument is fuzzed (functions without any take an unused one)
    expect_identical(setdiff(fm, names(e$args)), character(0),
                     label = paste(nm, "arguments without a class"))
    if (!length(fm)) expect_identical(names(e$args), "junk", label = nm)
    # (functions with `...` take more: verify()'s random variables)
    else if (!"..." %in% names(formals(f)))
      expect_identical(setdiff(names(e$args), fm), character(0), label = paste(nm, "unknown arguments"))
  }
})

test_that("the fuzzer's calls run", {
  # (the slow ones are run by tools/fuzz.R itself)
  # explore() needs shiny, a Suggests that the no-Suggests gate leaves out
  slow <- c("glorot_report", "plot_simulations", "compare_schemes", "verify_all", "width_sweep",
            if (!requireNamespace("shiny", quietly = TRUE)) "explore")
  for (nm in setdiff(names(hardening_fuzz), slow)) {
    set.seed(1)
    expect_error(suppressWarnings(eval(hardening_fuzz[[nm]]$call, new.env(parent = environment()))), NA, label = nm)
  }
})

test_that("the small valid calls of the tables run", {
  for (nm in names(hardening_routines)) {
    a <- hardening_routines[[nm]]$args()
    expect_error(do.call(.Call, c(list(get(paste0("C_", nm), asNamespace("initvar"))), a)), NA,
                 label = nm)
  }
})

test_that("registered routines check their argument counts", {
  expect_error(.Call(initvar:::C_test_moments, 1), "argument")
  expect_error(.Call(initvar:::C_test_vocabulary, 1), "argument")
})

no_nan <- function(sim) {
  df <- as.data.frame(sim)
  for (v in names(df)) if (is.numeric(df[[v]])) expect_false(any(is.nan(df[[v]])), label = v)
  df
}

test_that("an overflowing network gives an error naming `net`, never NaN", {
  set.seed(11)
  # values of 1e150 whose squares would overflow: accumulated on their own
  # scale, a correct result (0.1.0 overflowed here)
  deep <- mlp(c(10, rep(10, 60), 10), "linear", init_normal(sd = 100))
  df <- no_nan(simulate_network(deep, 4, 4))
  expect_true(all(is.finite(df$estimate) & is.finite(df$mcse)))
  # values beyond double precision: an error naming `net` and the layer
  deeper <- mlp(c(10, rep(10, 150), 10), "linear", init_normal(sd = 100))
  expect_error(simulate_network(deeper, 4, 4), "`net`.*overflowed")
  huge <- mlp(c(10, 10, 10), "selu", init_normal(sd = 1e100))   # Var(s) = 1e402 at layer 2
  expect_error(simulate_network(huge, 4, 4), "`net`.*layer 2 overflowed")
  # exp in an R activation overflows to Inf for large inputs
  ex <- mlp(c(10, 10, 10), activation("exp", f = exp, df = exp), init_normal(sd = 1e3))
  expect_error(simulate_network(ex, 4, 4), "`net`.*infinite value")
  # a bounded activation with huge weights saturates: finite, correct results
  sat <- mlp(c(10, 10, 10), "tanh", init_normal(sd = 1e6))
  df <- no_nan(simulate_network(sat, 4, 4))
  expect_true(all(df$estimate[df$quantity == "z"] <= 1))
})

test_that("an R activation returning NaN or the wrong length is a clear error", {
  set.seed(12)
  nan_act <- activation("log", f = function(x) suppressWarnings(log(x)), df = function(x) 1 / x)
  expect_error(simulate_network(mlp(c(5, 5, 5), nan_act, init_glorot()), 4, 4),
               "`net`.*layer 1.*NaN")
  # wrong lengths and types are refused when the activation is made
  expect_error(activation("short", f = function(x) x[-1], df = function(x) x),
               "`f` must be a vectorized R function returning one number per input")
  expect_error(activation("chr", f = function(x) x, df = function(x) "a"), "`df`")
})

test_that("widths of 1, depth 500 and var_x = 0 give correct results", {
  set.seed(13)
  one <- no_nan(simulate_network(mlp(c(1, 1, 1), "tanh", init_glorot()), 10, 4))
  expect_true(all(is.na(one$across_mean)))   # no across-neuron variance for one neuron
  expect_true(all(is.finite(one$estimate)))
  narrow <- no_nan(simulate_network(mlp(c(5, 1, 5), "linear", init_lecun()), 200, 8))
  expect_true(all(is.finite(narrow$estimate)))
  deep <- mlp(rep(4, 501), "tanh", init_glorot())
  d <- no_nan(simulate_network(deep, 4, 4))
  expect_equal(nrow(d), 4 * 500)
  expect_true(all(is.finite(d$estimate)))
  zero <- no_nan(simulate_network(mlp(c(4, 4, 4), "tanh", init_glorot()), 40, 4, var_x = 0))
  fw <- zero$quantity %in% c("s", "z", "grad_w")   # the gradients dC/ds stay random
  expect_true(all(zero$estimate[fw] == 0))
  expect_true(all(zero$prediction[fw] == 0))
  g <- zero[zero$quantity == "grad_s", ]
  # with 40 networks of width 4 only the top layer gets a calibrated verdict
  expect_true(all(abs(g$z) < 6, na.rm = TRUE))
  expect_true(any(!is.na(g$z)))
})

test_that("the gctorture and valgrind tiers call every routine of the table above", {
  # both scripts build their calls from hardening_routines, which the first
  # test holds to the registered routines; a script that stops doing so (a
  # hand-kept list) fails here. The scripts are in a checkout, not a tarball.
  top <- testthat::test_path("..", "..")
  scripts <- file.path(top, "tools", c("gctorture.R", "valgrind.R"))
  skip_if_not(all(file.exists(scripts)), "tools/ is not here (a tarball)")
  for (f in scripts) {
    code <- parse(f, keep.source = FALSE)
    loops <- Filter(function(e) is.call(e) && identical(e[[1]], as.name("for")), as.list(code))
    over <- vapply(loops, function(e) deparse(e[[3]]), "")
    expect_true("names(hardening_routines)" %in% over, label = paste(basename(f), "loops over the routine table"))
  }
})
