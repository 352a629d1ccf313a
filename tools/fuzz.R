# Fuzz every exported function and every registered .Call entry point, and
# check results against plain-R references.
#   Rscript tools/fuzz.R [calls = 20000] [seed] [--interrupts]     (make fuzz: 1e6)
# The seed defaults to one drawn from the time and the process id; it is
# printed, and `Rscript tools/fuzz.R N SEED` replays a run. FUZZ_VERBOSE=1
# prints every offending call, not only one per class.
#
# Calls come from four generators (tests/testthat/helper-hardening.R has the
# small valid call of every export and routine; tools/fuzz.R the rest):
#  * routines: a registered .Call routine with one or two arguments (or one
#    element of a network spec) replaced by a malformed value, or a wrong
#    argument count;
#  * exports: the small valid call of an export with one argument replaced
#    by a malformed or edge value (every export);
#  * targeted: per-export argument classes (sizes, numbers, flags, choices,
#    activations incl. R functions returning NA/Inf/the wrong length,
#    schemes, networks, rules, layers, identities, formulas, random
#    variables, and forged objects of the package's classes), with bad
#    values that must be refused and edge values (huge sizes, 1e300 scales,
#    seq_len 4096) that must be refused or handled within the time limit;
#  * references: small valid cases whose value is compared with a plain-R
#    reference (weight_variance / weight_mean against the schemes'
#    formulas, sample_weights' shape, moments and thread-independence,
#    fans() against the torch and keras rules, predict_variance of linear
#    networks against Var(x) * prod(n_i Var(W_i)), verify() of true and
#    false identities (within 6 MCSE), formulas with reductions and non-base
#    functions, clashing names, fixed points, gains, residual growth, ...).
# Calls run in batches in a child R process (ulimit -v 4 GB), each logged
# before it runs, under a watchdog: a call running more than 10 s is a hang
# (stopped by setTimeLimit() when it checks for interrupts, else the child is
# killed 2 s later); a child that dies is a crash. After a hang, the further
# calls of the same class (same target, argument and value, or the same
# reference case) are skipped and counted as such: the class is reported
# and the run fails already, and a hang costs 10 s.
#
# Outcomes, per call:
#  crash          the child process died in the call
#  hang           the call ran longer than the per-call limit (10 s)
#  refusal        an error that names the user's function or the argument:
#                 conditionCall() is a call of an exported function (or of a
#                 print/format/summary/plot/as.data.frame method), or the
#                 message names something in backticks (`arg`, `dim[2]`,
#                 `net`), or it is R's own argument matching error for the
#                 call ("unused argument", "is missing, with no default");
#                 and the message is none of R's internal messages below. For .Call routines (not
#                 user-facing) any R error is a refusal, and so is stopping
#                 at the time limit (their R callers bound the work).
#  unclear        any other error: R internals ("missing value where
#                 TRUE/FALSE needed", "the condition has length > 1",
#                 "argument is of length zero", "non-numeric argument",
#                 "subscript out of bounds", "could not find function",
#                 "cannot allocate vector": no preflight, ...), or an error
#                 whose call is an internal function
#  silent accept  a call with a known-invalid argument returned a value with
#                 neither an error nor a warning
#  wrong result   a small valid case returned a value inconsistent with the
#                 plain-R reference (or was refused, or printing it failed)
# Interrupts (with --interrupts, or INITVAR_FUZZ_INTERRUPTS=1; on by default
# when N >= 20000, as in CI): three long calls of the hardening tables are
# interrupted after a short delay (interrupt_child() of helper-hardening.R,
# as tools/interrupts.R does): one of those that must keep partial work
# (simulate_network, verify, a verify() formula) and two others. Each must
# end within 2 s by an interrupt condition (else a hang), and the first must
# leave a partial result in last_partial() (else a wrong result). The full
# sweep (every long call, 1 and 2 threads, memory) stays in tools/interrupts.R.
# Exits with status 1 if any call crashed, hung, was accepted silently, gave
# an unclear error or a wrong result. There is no allowlist.
args <- commandArgs(TRUE)
limit <- 10   # seconds per call
unclear_patterns <- c(
  "missing value where TRUE/FALSE needed", "the condition has length > 1",
  "argument is of length zero", "non-numeric argument", "subscript out of bounds",
  "could not find function", "cannot allocate", "object '.*' not found",
  "invalid 'type'", "NAs are not allowed", "argument of length 0",
  "invalid argument to unary operator", "non-conformable", "arguments imply differing",
  "replacement has", "is not a function", "attempt to apply non-function",
  "\\$ operator is invalid for atomic vectors", "invalid 'times' argument",
  "invalid (first|second)? ?argument", "undefined columns", "recursive indexing failed",
  "cannot open", "NA/NaN argument", "vector size cannot be", "result would be too long",
  "long vectors not supported", "negative length vectors", "promise already under evaluation",
  "evaluation nested too deeply", "C stack usage", "invalid subscript type",
  "incorrect number of (dimensions|subscripts)", "must be atomic", "unimplemented type",
  "cannot coerce", "argument \"[^\"]*\" is missing, with no default.*internal")
method_names <- c("print", "format", "summary", "plot", "as.data.frame", "str")
suppressPackageStartupMessages(library(initvar))
source("tests/testthat/helper-hardening.R")   # the hardening tables
# ---- targeted generators: per-export argument classes and reference checks ----
# Each generator returns a case: list(call, kind, target, class, check).
#   kind "bad":   known-invalid input; must be refused (an error, or at least a
#                 warning). Returning silently is a silent accept.
#   kind "edge":  unusual but possibly valid input; any outcome but a crash,
#                 a hang or an unclear error is fine.
#   kind "valid": a small valid call; it must return, and `check(v)` (a plain-R
#                 reference) must return NULL; a string is a wrong result.
#   kind "check": a call that may be refused (clearly), but if it returns, its
#                 value must pass `check(v)` (e.g. formulas with reductions).
# `class` names the input class (target:argument:value kind), used to
# deduplicate the report.
case <- function(call, kind, class, check = NULL, target = NULL) {
  if (is.null(target)) target <- as.character(call[[1]])
  list(call = call, kind = kind, target = target, class = class, check = check,
       bad = kind == "bad")
}

# argument classes: values that must be refused (bad) and unusual values
# (edge). Quoted calls are evaluated in the child, as part of the call.
forged <- function(cls) list(call("structure", quote(list()), class = cls),
                             call("structure", quote(list(a = 1)), class = cls))
A <- list(
  size = list(bad = list(NA, NA_real_, NaN, Inf, -Inf, -1, 0, 2.5, "3", list(3), c(3, 3),
                         numeric(0), NULL, TRUE, 1i, 1e15, 2^31, -2^31),
              # (huge sizes R can store: refused by a preflight, or done in 10 s)
              edge = list(1, 1L, 2, 5, 2^20, .Machine$integer.max, 1e5)),
  count = list(bad = list(NA, NaN, Inf, -1, 0, 2.5, "3", list(3), c(3, 3), numeric(0), NULL,
                          TRUE, 1e15),
               edge = list(1, 2, 3, 2L)),
  num = list(bad = list(NA, NA_real_, NaN, Inf, -Inf, "1", list(1), c(1, 2), numeric(0), NULL,
                        1i, TRUE),
             edge = list(0, -1, 1e300, 1e-300, 0.5, -0.5, 100, -1e300)),
  flag = list(bad = list(NA, "TRUE", c(TRUE, FALSE), logical(0), NULL, 1, list(TRUE)),
              edge = list(TRUE, FALSE)),
  choice = list(bad = list(NA, NA_character_, "zzz", "", 1, NULL, list("a"), character(0),
                           c("zzz", "yyy")),
                edge = list()),
  level = list(bad = list(NA, 0, 1, -0.5, 1.5, "0.9", c(0.9, 0.95), NULL, NaN, Inf),
               edge = list(0.5, 0.999, 1e-10)),
  threads = list(bad = list(NA, 0, -1, 2.5, "1", c(1, 2), Inf, NULL, 1e15),
                 edge = list(1, 2, 1L)),
  act = list(bad = c(list("nope", NA, 1, list(), NULL, c("relu", "nope")),
                     forged("initvar_activation"),
                     # (nf: non-finite values; activation() and the network constructors
                     # take them, since exp overflows legitimately: the functions that
                     # evaluate the activation must refuse them)
                     list(nf_na = quote(activation("na", f = function(x) rep(NA_real_, length(x)),
                                                   df = function(x) x)),
                          nf_inf = quote(activation("inf", f = function(x) rep(Inf, length(x)),
                                                    df = function(x) x)),
                          quote(activation("short", f = function(x) x[-1], df = function(x) x)),
                          quote(activation("chr", f = function(x) as.character(x),
                                           df = function(x) x)),
                          nf_nan_df = quote(activation("nan_df", f = function(x) x,
                                                       df = function(x) rep(NaN, length(x)))))),
             edge = list("relu", "tanh", "linear", "sigmoid", quote(activation("leaky_relu", 0.1)),
                         quote(activation("cube", f = function(x) x^3, df = function(x) 3 * x^2)),
                         quote(activation("exp", f = exp, df = exp)))),
  scheme = list(bad = c(list("glorot", NA, 1, list(), NULL, function(n) rnorm(n)),
                        forged("initvar_scheme")),
                edge = list(quote(init_he()), quote(init_zeros()), quote(init_orthogonal()),
                            quote(init_uniform(-1, 1)), quote(init_sparse()),
                            quote(init_truncated_normal()), quote(init_normal(sd = 1e100)),
                            quote(init_normal(sd = 1e-300)))),
  # (a plain mlp() without `layers`, as 0.1.0 saved them, is rebuilt from
  # its per-layer lists: valid, so an edge value)
  net = list(bad = c(list(NULL, "net", 1, list(), quote({n <- hardening_net(); n$widths[2] <- NA; n})),
                     forged("initvar_mlp"), forged(c("initvar_resmlp", "initvar_mlp")),
                     forged(c("initvar_transformer", "initvar_mlp"))),
             edge = list(quote(mlp(c(2, 1, 2), "relu", init_he())), quote(resmlp(3, 2)),
                         quote({n <- hardening_net(); n$layers <- NULL; n}),
                         quote(mlp(c(3, 3, 2), "linear", init_zeros())),
                         quote(mlp(c(3, 3, 2), "tanh", init_normal(sd = 1e6))),
                         quote(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2)))),
  rule = list(bad = c(list("fixup", 1, list(), NA), forged("initvar_scaling_rule")),
              edge = list(NULL, quote(scaling_rule("fixup", 4)), quote(scaling_rule("deepnet", 4)))),
  layer = list(bad = c(list(list(), "conv", NA, NULL, 3), forged("initvar_layer"),
                       list(call("structure", quote(list(kind = "conv")), class = "initvar_layer"))),
               edge = list(quote(conv_layer(4, 2, 3)), quote(dense_layer(4, 3)),
                           quote(attention_layer(8, 2)))),
  dimvec = list(bad = list(NA, c(3, NA), c(3, -1), c(3, 2.5), numeric(0), "3", list(3), NULL,
                           c(3, Inf), c(1e10, 1e10), c(3, 0), c(2^31, 2)),
                edge = list(3, c(3, 4), c(2, 3, 4, 5), c(1, 1), c(1e5, 1e5), c(3e4, 3e4))),
  # (a conv net's kernel, stride or dilation: one value, one per axis, or a
  # list of one per layer: list(3) is right for one layer, list(3, 3) not)
  kernels = list(bad = list(NA, c(3, NA), c(3, -1), c(3, 2.5), numeric(0), "3", list(3, 3), NULL,
                            c(3, Inf), c(3, 0), c(3, 3, 3)),
                 edge = list(3, c(3, 1), list(3), list(c(1, 3)))),
  widths = list(bad = list(c(3, NA), c(3, 0), c(3, 2.5), numeric(0), "3", list(3, 2), c(3, -2),
                           c(3, Inf), NULL, NA),
                edge = list(c(1, 1), c(2, 3, 4, 5), 3, c(1e5, 1e5))),
  identity = list(bad = c(list(list(), "a", NULL, NA),
                          forged("initvar_identity"),
                          list(call("structure", quote(list(id = "fz_forged")), class = "initvar_identity"),
                               call("structure", quote(list(id = NA)), class = "initvar_identity"),
                               call("structure", quote(list(id = c("a", "b"))), class = "initvar_identity"))),
                  edge = list()),
  formula = list(bad = list(quote(E(X) ~ NA), quote(E(X) ~ NaN), quote(E(X) ~ Inf), quote(~ E(X)),
                            quote(E(X) ~ E(Y)), quote(E(X) ~ c(1, 2)), quote(E(X) ~ "a"),
                            quote(E(zzz_fn(X)) ~ 0), quote(X ~ 1), "E(X) ~ 1", 1, NULL,
                            quote(E(X) ~ NULL), quote(E(X, X) ~ 0), quote(Var() ~ 1),
                            quote(E(X) ~ 1 ~ 2)),
                 edge = list(quote(E(X) ~ 0), quote(Var(X) ~ 1), quote(E(X^2) ~ 1))),
  var = list(bad = list(NA, "a", function(n) rep(NA_real_, n), function(n) rnorm(n - 1),
                        function(n) rep(Inf, n), function(n) rep("a", n),
                        function(n) matrix(rnorm(2 * n), n), function() 1, list(),
                        forged("initvar_scheme")[[1]], function(n) c(rnorm(n - 1), NaN)),
             edge = list(1, quote(init_normal()), quote(init_uniform(-1, 1)), function(n) rnorm(n))),
  any = list(bad = list(NA, "a", 1, list(), NULL, function(x) x), edge = list()),
  text = list(bad = list(NA, NA_character_, 1, list(), c("a", "b"), function(x) x, NULL, character(0)),
              edge = list("a", "", "fz text")),
  # (graphical parameters: whatever plot() takes)
  plotarg = list(bad = list(), edge = list(NA, 1, NULL, c("red", "blue"))),
  # vectors of real numbers (variances, gains, standard deviations)
  numvec = list(bad = list(NA, c(1, NA), c(1, NaN), c(1, Inf), numeric(0), "1", list(1), NULL, 1i),
                edge = list(1, c(0.5, 1), c(1e-300, 1e300), c(-1, 1), 0, c(2, 0.5))),
  # truncation bounds: infinite ones are one-sided truncations
  bound = list(bad = list(NA, NaN, "1", list(1), c(1, 2), NULL, numeric(0)),
               edge = list(-Inf, Inf, 0, -1e300, 1e300, 0.5, -0.5))
)
if (!setequal(names(A), hardening_arg_classes))
  stop("the argument classes of tools/fuzz.R and hardening_arg_classes differ")

# Targets: the call to mutate and the class of each argument, for every export
# (hardening_fuzz in tests/testthat/helper-hardening.R).
TG <- lapply(hardening_fuzz, function(e) list(e$call, e$args))
# values that are valid for some arguments although their class lists them
# as bad (the argument's default, or documented alternatives)
valid_for <- list(
  "activation:f" = list(NULL), "activation:df" = list(NULL), "activation:param" = list(NULL),
  "new_identity:draw" = list(NULL, is.function), "coordinate_check:lr_fun" = list(is.function), "verify:draw" = list(NULL, is.function), "new_identity:params" = list(list()),
  "new_identity:variables" = list(list()),
  "verify:params" = list(list()), "verify_all:ids" = list(NULL),
  "gain:param" = list(NULL), "resmlp:n_out" = list(NULL), "resmlp:rule" = list(NULL),
  "transformer:rule" = list(NULL), "residual_growth:rule" = list(NULL),
  "sample_weights:dim" = list(NULL), "weight_mean:dim" = list(NULL),
  "weight_variance:dim" = list(NULL), "weight_mean:layer" = list(NULL),
  "weight_variance:layer" = list(NULL),
  # depths = integer(0) with layers = TRUE (the default): the per-layer table only
  "jacobian_spectrum:depths" = list(NULL, numeric(0)),
  "compare_fans:schemes" = list(), "initvar_threads:n" = list(NULL), "scaling_rules:depth" = list(3),
  "phase_diagram:sigma_w2" = list(3), "linear_regime:sd" = list(3), "init_identity:gain" = list(),
  "new_identity:assumptions" = list("a"),
  "new_identity:id" = list("a"), "verify:X" = list(1)
)
is_valid_for <- function(key, value) {
  # NULL where it is the argument's default
  nm <- strsplit(key, ":", fixed = TRUE)[[1]]
  f <- get0(nm[1], envir = asNamespace("initvar"), mode = "function")
  if (is.null(value) && !is.null(f) && nm[2] %in% names(formals(f)) &&
      is.null(formals(f)[[nm[2]]])) return(TRUE)
  # the argument's default (a constant, or a call of base functions)
  if (!is.null(f) && nm[2] %in% names(formals(f))) {
    d <- formals(f)[[nm[2]]]
    if (!missing(d) && !is.symbol(d)) {
      dv <- tryCatch(eval(d, baseenv()), error = function(e) e)
      if (!inherits(dv, "error") && identical(dv, value)) return(TRUE)
    }
  }
  any(vapply(valid_for[[key]], function(v) if (is.function(v)) isTRUE(v(value)) else
    identical(v, value), TRUE))
}
# constructors, which take activations returning non-finite values
act_constructors <- c("mlp", "resmlp", "transformer", "activation", "cnn")
# arguments that accept vectors (their "bad" c(3, 3) is fine)
vector_ok <- c("first_step:lr", "fixed_point:sigma_w2", "fixed_point:sigma_b2", "critical_line:sigma_b2",
               "dense_layer:in_features", "phase_diagram:sigma_b2", "residual_growth:gains", "residual_growth:depth", "weight_variance:fan_in",
               "weight_variance:fan_out", "weight_mean:fan_in", "weight_mean:fan_out",
               "dense_layer:out_features", "conv_layer:kernel_size", "conv_layer:stride",
               "mlp:activation")

targeted_mutation <- function(name) {
  t <- TG[[name]]
  base <- t[[1]]
  classes <- t[[2]]
  arg <- sample(names(classes), 1)
  cls <- A[[classes[[arg]]]]
  key <- paste0(name, ":", arg)
  use_bad <- length(cls$bad) > 0 && (length(cls$edge) == 0 || runif(1) < 0.75)
  pool <- if (use_bad) cls$bad else cls$edge
  j <- sample.int(length(pool), 1)
  value <- pool[[j]]
  nf <- startsWith(names(pool)[j] %||% "", "nf_") && name %in% act_constructors
  kind <- if (use_bad && !nf && !is_valid_for(key, value) &&
              !(key %in% vector_ok && is.numeric(value) && length(value) > 1 && all(is.finite(value))))
    "bad" else "edge"
  # positional arguments of the base call are replaced by name
  l <- as.list(base)
  fm <- names(formals(get(name, envir = asNamespace("initvar"))))
  nms <- names(l)
  if (is.null(nms)) nms <- rep("", length(l))
  first_positional <- length(l) > 1 && !nzchar(nms[2])
  pos <- which(!nzchar(nms[-1])) + 1
  for (k in seq_along(pos)) nms[pos[k]] <- setdiff(fm, c(nms, "..."))[1]
  names(l) <- nms
  if (arg %in% names(l)) l[arg] <- list(value) else l <- c(l, stats::setNames(list(value), arg))
  # a positional first argument keeps its place, unnamed (verify's id, etc.)
  if (first_positional) names(l)[2] <- ""
  what <- if (is.language(value)) paste(deparse(value, width.cutoff = 60L)[1], collapse = "")
          else paste(deparse(value, width.cutoff = 60L, nlines = 1L), collapse = "")
  case(as.call(l), kind, sprintf("%s:%s=%s", name, arg, substr(what, 1, 50)), target = name)
}

# ---- small valid cases with a plain-R reference ------------------------------
# Each returns a case of kind "valid" (must return a value passing the check)
# or "check" (may be refused clearly; a value must pass the check).
near <- function(got, want, tol = 1e-8, what = "value") {
  if (!is.numeric(got) || length(got) != length(want) || anyNA(got) ||
      any(abs(got - want) > tol * pmax(1, abs(want)))) {
    return(sprintf("%s %s, reference %s", what, paste(format(got, digits = 7), collapse = " "),
                   paste(format(want, digits = 7), collapse = " ")))
  }
  NULL
}
# a Monte Carlo estimate against a known value: within 6 MCSE
mc_near <- function(v, want) {
  if (!is.numeric(v$estimate) || !is.numeric(v$mcse) || !is.finite(v$estimate) ||
      !is.finite(v$mcse)) return("estimate or MCSE not a finite number")
  if (abs(v$estimate - want) > 6 * v$mcse + 1e-12) {
    return(sprintf("estimate %.6g (MCSE %.3g) is %.1f MCSE from the true value %.6g", v$estimate,
                   v$mcse, abs(v$estimate - want) / v$mcse, want))
  }
  NULL
}
no_na_table <- function(df, what = "table") {
  df <- as.data.frame(df)
  num <- vapply(df, is.numeric, TRUE)
  bad <- names(df)[num][vapply(df[num], function(x) any(is.nan(x) | is.infinite(x)), TRUE)]
  if (length(bad)) return(sprintf("%s has NaN/Inf in %s", what, paste(bad, collapse = ", ")))
  NULL
}
rint <- function(lo, hi) sample(lo:hi, 1)

tn_var <- function(a, b) {   # variance of a standard normal truncated to [a, b]
  z <- pnorm(b) - pnorm(a)
  1 + (a * dnorm(a) - b * dnorm(b)) / z - ((dnorm(a) - dnorm(b)) / z)^2
}

# ---- malformed weights files for read_weights() and audit_init() -----------
# A valid safetensors file (F32, F16, I64 tensors) or .npy file as bytes,
# then one malformation: truncated (a strict prefix, or the data cut), a
# header whose offsets or shape lie, an unknown dtype, a header length
# beyond the file; each must be refused naming `path` (`weights` for
# audit_init()). Random byte corruptions may read or be refused clearly.
wf_u64 <- function(n) { out <- raw(8); for (k in 1:8) { out[k] <- as.raw(n %% 256); n <- n %/% 256 }; out }
wf_st <- function(dtype = c("F32", "F16", "I64"), shape = list(c(2, 3), 4, 1),
                  offs = list(c(0, 24), c(24, 32), c(32, 40)), hlen = NULL, cut = 0) {
  ent <- sprintf('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s]}', c("a", "b", "c"), dtype,
                 vapply(shape, paste, "", collapse = ","), vapply(offs, paste, "", collapse = ","))
  h <- charToRaw(paste0("{", paste(ent, collapse = ","), "}"))
  data <- c(writeBin(as.double(1:6), raw(), size = 4, endian = "little"),
            as.raw(c(0, 60, 0, 188, 0, 0, 0, 124)), as.raw(c(5, rep(0, 7))))
  b <- c(wf_u64(if (is.null(hlen)) length(h) else hlen), h, data)
  b[seq_len(length(b) - cut)]
}
wf_npy <- function(descr = "<f4", shape = "(2, 2)", hlen = NULL, cut = 0) {
  h <- sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
  h <- paste0(h, strrep(" ", max(0, 118 - nchar(h) - 1)), "\n")
  n <- if (is.null(hlen)) nchar(h) else hlen
  b <- c(as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, n %% 256, n %/% 256)), charToRaw(h),
         writeBin(c(0.5, -1, 2, 0), raw(), size = 4, endian = "little"))
  b[seq_len(length(b) - cut)]
}
weights_file_case <- function() {
  kinds <- list(
    prefix = function() { b <- if (runif(1) < 0.5) wf_st() else wf_npy(); b[seq_len(sample.int(length(b), 1) - 1)] },
    data_cut = function() if (runif(1) < 0.5) wf_st(cut = rint(1, 8)) else wf_npy(cut = rint(1, 8)),
    offsets_lie = function() wf_st(offs = sample(list(list(c(0, 24), c(24, 40), c(32, 40)),
                                                       list(c(0, 24), c(28, 36), c(36, 44)),
                                                       list(c(0, 24), c(24, 32), c(32, 48)),
                                                       list(c(0, 20), c(24, 32), c(32, 40))), 1)[[1]]),
    shape_lies = function() if (runif(1) < 0.5) wf_st(shape = list(c(2, rint(4, 9)), 4, 1)) else
      wf_npy(shape = sample(c("(2, 3)", "(5,)", "(2, 2, 2)", "(-1, 4)", "(2, 'a')"), 1)),
    dtype_unknown = function() if (runif(1) < 0.5) wf_st(dtype = c(sample(c("F8_E4M3", "U64", "C64", "f32", ""), 1), "F16", "I64")) else
      wf_npy(descr = sample(c("<c8", "|O", "<U4", "<f16", "V8"), 1)),
    hlen_beyond = function() if (runif(1) < 0.5) wf_st(hlen = sample(c(1e4, 2^40, 2^63, 2^64 - 1), 1)) else
      wf_npy(hlen = sample(c(200, 5000, 65535), 1)),
    corrupt = function() {
      b <- if (runif(1) < 0.5) wf_st() else wf_npy()
      at <- sample(length(b), sample(4, 1))
      b[at] <- as.raw(sample(0:255, length(at), replace = TRUE))
      b
    })
  k <- sample(names(kinds), 1)
  bytes <- as.integer(kinds[[k]]())
  audit <- runif(1) < 0.3
  body <- if (audit) quote(initvar::audit_init(p, initvar::init_glorot(), layout = "torch")) else
    quote(initvar::read_weights(p))
  cl <- bquote({
    p <- tempfile()
    on.exit(unlink(p))
    writeBin(as.raw(.(bytes)), p)
    .(body)
  })
  case(cl, if (k == "corrupt") "check" else "bad",
       sprintf("%s:malformed-file-%s", if (audit) "audit_init" else "read_weights", k),
       check = function(v) NULL, target = if (audit) "audit_init" else "read_weights")
}

reference_cases <- list(
  weights_file = function() weights_file_case(),
  weight_variance = function() {
    fi <- rint(1, 60); fo <- rint(1, 60); g <- round(runif(1, 0.1, 3), 2); a <- round(runif(1, 0, 1), 2)
    s <- round(runif(1, 0.01, 5), 2); lo <- -round(runif(1, 0.5, 3), 1); hi <- round(runif(1, 0.5, 3), 1)
    opts <- list(
      list(bquote(init_glorot()), 2 / (fi + fo)),
      list(bquote(init_glorot("normal", gain = .(g))), g^2 * 2 / (fi + fo)),
      list(bquote(init_he()), 2 / fi),
      list(bquote(init_he(mode = "fan_out")), 2 / fo),
      list(bquote(init_he("uniform", a = .(a))), 2 / ((1 + a^2) * fi)),
      list(bquote(init_lecun()), 1 / fi),
      list(bquote(init_lecun("uniform")), 1 / fi),
      list(bquote(init_normal(1, .(s))), s^2),
      list(bquote(init_uniform(.(lo), .(hi))), (hi - lo)^2 / 12),
      list(bquote(init_constant(.(s))), 0),
      list(bquote(init_truncated_normal(0, .(s), .(lo), .(hi))), s^2 * tn_var(lo, hi)),
      list(bquote(init_orthogonal(.(g))), g^2 / max(fi, fo)),
      list(bquote(init_variance_scaling(.(g), "fan_avg", "normal")), 2 * g / (fi + fo)),
      list(bquote(init_variance_scaling(.(g), "fan_out", "uniform")), g / fo))
    o <- opts[[sample.int(length(opts), 1)]]
    want <- o[[2]]
    case(bquote(weight_variance(.(o[[1]]), .(fi), .(fo))), "valid", "weight_variance:reference",
         function(v) near(v, want, 1e-8, "variance"))
  },
  weight_mean = function() {
    a <- round(runif(1, -3, 3), 2); b <- a + round(runif(1, 0.1, 3), 2)
    opts <- list(list(bquote(init_uniform(.(a), .(b))), (a + b) / 2),
                 list(bquote(init_normal(.(a), 2)), a), list(bquote(init_constant(.(a))), a),
                 list(quote(init_glorot()), 0), list(quote(init_he("uniform")), 0))
    o <- opts[[sample.int(length(opts), 1)]]
    want <- o[[2]]
    case(bquote(weight_mean(.(o[[1]]), .(rint(1, 50)), .(rint(1, 50)))), "valid",
         "weight_mean:reference", function(v) near(v, want, 1e-8, "mean"))
  },
  sample_weights = function() {
    fi <- rint(40, 90); fo <- rint(40, 90)
    opts <- list(list(quote(init_glorot()), 2 / (fi + fo)), list(quote(init_he()), 2 / fi),
                 list(quote(init_normal(0, 0.5)), 0.25), list(quote(init_uniform(-1, 1)), 1 / 3),
                 list(quote(init_lecun("uniform")), 1 / fi))
    o <- opts[[sample.int(length(opts), 1)]]
    want <- o[[2]]
    n <- fi * fo
    th <- sample(1:2, 1)
    case(bquote(sample_weights(.(o[[1]]), .(fi), .(fo), threads = .(th))), "valid",
         "sample_weights:reference", function(v) {
           if (!is.matrix(v) || !identical(dim(v), as.integer(c(fi, fo))))
             return(sprintf("shape %s, want %d x %d", paste(dim(v), collapse = " x "), fi, fo))
           if (anyNA(v)) return("NA entries")
           if (abs(mean(v)) > 8 * sqrt(want / n)) return(sprintf("mean %.4g, want 0", mean(v)))
           if (abs(var(as.vector(v)) / want - 1) > 8 * sqrt(2 / n))
             return(sprintf("sample variance %.4g, want %.4g", var(as.vector(v)), want))
           NULL
         })
  },
  sample_weights_dim = function() {
    d <- sample(2:5, sample(1:4, 1), replace = TRUE)
    th <- sample(1:2, 1)
    case(bquote(sample_weights(init_normal(), dim = .(d), threads = .(th))), "valid",
         "sample_weights:dim-shape", function(v) {
           got <- if (length(d) == 1) length(v) else dim(v)
           if (!isTRUE(all(got == d)) || length(got) != length(d) || (length(d) == 1 && !is.null(dim(v))))
             return(sprintf("shape %s, want %s", paste(if (is.null(dim(v))) length(v) else dim(v),
                                                       collapse = " x "), paste(d, collapse = " x ")))
           NULL
         })
  },
  sample_weights_threads = function() {
    fi <- rint(2, 300); fo <- rint(2, 300)
    case(bquote({ set.seed(7); a <- sample_weights(init_he(), .(fi), .(fo), threads = 1)
                  set.seed(7); b <- sample_weights(init_he(), .(fi), .(fo), threads = 2)
                  identical(a, b) }), "valid", "sample_weights:threads-reproducible",
         function(v) if (!isTRUE(v)) "different weights at 1 and 2 threads for one seed",
         target = "sample_weights")
  },
  fans = function() {
    d <- sample(1:7, sample(2:5, 1), replace = TRUE)
    layout <- sample(c("torch", "keras"), 1)
    k <- length(d)
    want <- if (layout == "torch") {
      rf <- prod(d[-(1:2)]); c(d[2] * rf, d[1] * rf)
    } else {
      rf <- prod(d[seq_len(k - 2)]); c(d[k - 1] * rf, d[k] * rf)
    }
    case(bquote(fans(.(d), layout = .(layout))), "valid", "fans:shape-reference",
         function(v) near(unname(v[c("fan_in", "fan_out")]), want, 0, "fans"))
  },
  conv_fans = function() {
    g <- sample(c(1, 2), 1); ic <- g * rint(1, 4); oc <- g * rint(1, 4)
    ks <- sample(1:3, sample(1:3, 1), replace = TRUE); tr <- runif(1) < 0.5
    conv <- sample(c("torch", "real"), 1)
    rf <- prod(ks)
    want <- if (conv == "torch") {
      if (tr) c(oc / g * rf, ic * rf) else c(ic / g * rf, oc * rf)
    } else c(ic / g * rf, oc / g * rf)
    case(bquote(fans(conv_layer(.(ic), .(oc), .(ks), groups = .(g), transposed = .(tr)),
                     convention = .(conv))), "valid", "fans:conv-reference",
         function(v) near(unname(v[c("fan_in", "fan_out")]), want, 0, "fans"))
  },
  predict_variance = function() {
    w <- sample(1:6, rint(2, 5), replace = TRUE); s <- round(runif(1, 0.2, 1.5), 2)
    vx <- round(runif(1, 0.1, 3), 2); vg <- round(runif(1, 0.1, 3), 2)
    regime <- sample(c("linear", "mean_field", "finite_width"), 1)
    L <- length(w) - 1
    var_s <- vx * cumprod(w[-length(w)] * s^2)
    var_gs <- rev(vg * cumprod(c(1, rev(w[-(1:2)]) * s^2)))
    case(bquote(predict_variance(mlp(.(w), "linear", init_normal(sd = .(s))), var_x = .(vx),
                                 var_grad = .(vg), regime = .(regime))),
         "valid", paste0("predict_variance:linear-product-", regime), function(v) {
           v <- as.data.frame(v)
           near(v$var_s, var_s, 1e-8, "var_s") %||% near(v$var_z, var_s, 1e-8, "var_z") %||%
             near(v$var_grad_s, var_gs, 1e-8, "var_grad_s")
         })
  },
  verify_true = function() {
    f <- list(list(quote(E(X^2) ~ 1), quote(init_normal())),
              list(quote(Var(X + Y) ~ 2), quote(init_normal())),
              list(quote(E(exp(X)) ~ exp(1/2)), quote(init_normal())),
              list(quote(Cov(X, X) ~ 1 / 3), quote(init_uniform(-1, 1))),
              list(quote(E(abs(X)) ~ sqrt(2 / pi)), quote(init_normal())))
    o <- f[[sample.int(length(f), 1)]]
    want <- eval(o[[1]][[3]])
    case(bquote(verify(.(o[[1]]), X = .(o[[2]]), Y = init_normal(), n = 1e4, threads = 1)),
         "valid", "verify:true-identity", function(v) mc_near(v, want))
  },
  verify_false = function() {
    case(quote(verify(E(X) ~ 1, X = init_normal(), n = 1e4, threads = 1)), "valid",
         "verify:false-identity-flagged",
         function(v) if (!identical(v$consistent, FALSE)) "E(X) ~ 1 for standard normal X not rejected")
  },
  verify_reduction = function() {
    f <- list(list(quote(E(max(X, 0)) ~ 1 / sqrt(2 * pi)), "max"),
              list(quote(E(min(X, 0)) ~ -1 / sqrt(2 * pi)), "min"),
              list(quote(E(sum(X)) ~ 0), "sum"), list(quote(E(mean(X^2)) ~ 1), "mean"),
              list(quote(Var(sum(X, X)) ~ 4), "sum2"), list(quote(E(length(X)) ~ 1), "length"),
              list(quote(E(prod(X)) ~ 0), "prod"),
              list(quote(E(pmax(X, 0)) ~ 1 / sqrt(2 * pi)), "pmax"),
              list(quote(E(ifelse(X > 0, X, 0)) ~ 1 / sqrt(2 * pi)), "ifelse"),
              list(quote(E(cumsum(X)) ~ 0), "cumsum"), list(quote(E(rev(X) * X) ~ 1), "rev"))
    o <- f[[sample.int(length(f), 1)]]
    want <- eval(o[[1]][[3]])
    case(bquote(verify(.(o[[1]]), X = init_normal(), n = 1e4, threads = 1)), "check",
         paste0("verify:formula-reduction-", o[[2]]), function(v) mc_near(v, want))
  },
  verify_nonbase = function() {
    f <- list(list(quote(E(pnorm(X)) ~ 0.5), "pnorm"), list(quote(E(dnorm(X)) ~ 1 / sqrt(4 * pi)), "dnorm"),
              list(quote(E(plogis(X)) ~ 0.5), "plogis"), list(quote(E(stats::pnorm(X)) ~ 0.5), "stats::pnorm"),
              list(quote(E(zz_user_fn(X)) ~ 1), "user-function"))
    o <- f[[sample.int(length(f), 1)]]
    want <- eval(o[[1]][[3]])
    cl <- bquote(verify(.(o[[1]]), X = init_normal(), n = 1e4, threads = 1))
    if (o[[2]] == "user-function") cl <- bquote({ zz_user_fn <- function(x) x^2; .(cl) })
    case(cl, "check", paste0("verify:formula-function-", o[[2]]), function(v) mc_near(v, want),
         target = "verify")
  },
  verify_clash = function() {
    f <- list(list(quote(verify(E(X) + level ~ 2, X = init_normal(), params = list(level = 2), n = 1e4,
                                threads = 1)), 2, "params-level"),
              list(quote(verify(E(X + n) ~ 3, X = init_normal(), params = list(n = 3), n = 1e4,
                                threads = 1)), 3, "params-n"),
              list(quote(verify(E(pi) ~ 0, pi = init_normal(), n = 1e4, threads = 1)), 0, "variable-pi"),
              list(quote(verify(E(exp(X)) ~ exp(1/2), X = init_normal(), exp = 2, n = 1e4, threads = 1)),
                   exp(1/2), "constant-named-exp"),
              list(quote(verify(E(E) ~ 0, E = init_normal(), n = 1e4, threads = 1)), 0, "variable-E"),
              list(quote(verify(E(X) ~ 0, X = init_normal(), X = init_uniform(), n = 1e4, threads = 1)),
                   NA, "duplicate-X"),
              list(quote(verify(E(X) ~ a, X = init_normal(), a = 0, params = list(a = 1), n = 1e4,
                                threads = 1)), NA, "constant-and-param-a"))
    o <- f[[sample.int(length(f), 1)]]
    want <- o[[2]]
    if (is.na(want)) return(case(o[[1]], "bad", paste0("verify:clash-", o[[3]])))
    case(o[[1]], "check", paste0("verify:clash-", o[[3]]), function(v) mc_near(v, want))
  },
  new_identity = function() {
    case(quote({ id <- new_identity("fz_true", E(X^2) ~ 1, variables = list(X = function(n) rnorm(n)))
                 verify(id, n = 1e4, threads = 1) }), "valid", "new_identity:verify-true",
         function(v) mc_near(v, 1), target = "new_identity")
  },
  register_identity = function() {
    case(quote({ register_identity(new_identity("fz_reg2", E(X) ~ 0,
                                                variables = list(X = function(n) runif(n, -1, 1))),
                                   overwrite = TRUE)
                 verify("fz_reg2", n = 1e4, threads = 1) }), "valid", "register_identity:verify-registered",
         function(v) mc_near(v, 0), target = "register_identity")
  },
  register_twice = function() {
    case(quote({ id <- new_identity("fz_twice", E(X) ~ 0, variables = list(X = function(n) rnorm(n)))
                 register_identity(id, overwrite = TRUE); register_identity(id) }), "bad",
         "register_identity:twice-without-overwrite", target = "register_identity")
  },
  fixed_point = function() {
    w <- round(runif(1, 0.1, 1.9), 2); b <- round(runif(1, 0, 1), 2)
    o <- sample(list(list("relu", b / (1 - w / 2), w / 2), list("linear", if (w < 1) b / (1 - w) else NA, w)), 1)[[1]]
    if (is.na(o[[2]])) return(case(bquote(fixed_point("linear", .(w), .(b))), "edge", "fixed_point:linear-unbounded"))
    want <- o[[2]]
    case(bquote(fixed_point(.(o[[1]]), .(w), .(b))), "valid", paste0("fixed_point:", o[[1]], "-q_star"),
         function(v) near(v$q_star, want, 1e-6, "q_star"))
  },
  critical_line = function() {
    case(quote(critical_line("relu", 0)), "valid", "critical_line:relu",
         function(v) near(as.data.frame(v)$sigma_w2, 2, 1e-8, "sigma_w2"))
  },
  gain = function() {
    a <- round(runif(1, 0, 1), 2)
    o <- sample(list(list(quote(gain("relu")), sqrt(2)), list(quote(gain("linear")), 1),
                     list(quote(gain("tanh")), 5 / 3), list(quote(gain("sigmoid")), 1),
                     list(bquote(gain("leaky_relu", .(a))), sqrt(2 / (1 + a^2)))), 1)[[1]]
    want <- o[[2]]
    case(o[[1]], "valid", "gain:torch-table", function(v) near(v, want, 1e-6, "gain"))
  },
  residual_growth = function() {
    d <- rint(0, 30); s <- round(runif(1, 0, 1.5), 2); al <- round(runif(1, 0, 1.5), 2)
    g <- round(runif(rint(1, 3), 0.2, 1.5), 2)
    want <- (s^2 + al^2 * prod(g^2))^d
    case(bquote(residual_growth(depth = .(d), skip = .(s), alpha = .(al), gains = .(g))), "valid",
         "residual_growth:formula", function(v) near(v, want, 1e-10, "growth"))
  },
  residual_growth_rule = function() {
    s <- round(runif(1, 0.1, 0.9), 2)
    arg <- sample(c("skip", "alpha", "gains"), 1)
    cl <- as.call(c(list(quote(residual_growth), quote(r)), stats::setNames(list(s), arg)))
    case(bquote({ r <- scaling_rule("fixup", 6); .(cl) }), "check",
         paste0("residual_growth:rule-ignores-", arg), function(v) {
           r <- initvar::scaling_rule("fixup", 6)
           sk <- if (arg == "skip") s else r$skip; al <- if (arg == "alpha") s else r$alpha
           g <- if (arg == "gains") s else r$gains
           near(v, (sk^2 + al^2 * prod(g^2))^r$depth, 1e-10, "growth")
         }, target = "residual_growth")
  },
  attention_logits = function() {
    dk <- sample(c(2, 4, 8), 1); dm <- dk * sample(1:4, 1)
    case(bquote(attention_logits(.(dm), .(dk), seq_len = .(rint(2, 6)), inputs = 2, networks = 60,
                                 threads = 1)), "valid", "attention_logits:var-logit", function(v) {
           t <- v$table[v$table$quantity == "var_logit", ]
           near(t$predicted, 1, 1e-8, "predicted var_logit") %||% mc_near(t, 1)
         })
  },
  predict_correlation = function() {
    c0 <- round(runif(1, -1, 1), 2)
    w <- sample(1:5, rint(2, 4), replace = TRUE)
    case(bquote(predict_correlation(mlp(.(w), "linear", init_lecun()), .(c0))), "valid",
         "predict_correlation:linear-preserves-c0", function(v) {
           v <- as.data.frame(v)
           col <- intersect(c("correlation", "c", "rho", "prediction"), names(v))[1]
           if (is.na(col)) return(paste("no correlation column in", paste(names(v), collapse = ", ")))
           near(v[[col]], rep(c0, nrow(v)), 1e-8, "correlation") %||% near(v$q, rep(1, nrow(v)), 1e-8, "q")
         })
  },
  first_step = function() {
    case(bquote(first_step(mlp(.(sample(2:5, 3, TRUE)), .(sample(c("tanh", "relu", "linear"), 1)),
                               init_glorot()), lr = 0.1, networks = 3, batch = 2,
                           optimizer = .(sample(c("sgd", "adam"), 1)),
                           loss = .(sample(c("softmax", "linear", "mse"), 1)))),
         "valid", "first_step:finite-table", function(v) {
           # rel_dz is undefined (NA) exactly where the activations are 0 at
           # initialization (a ReLU layer dead on the whole batch)
           t <- v$table
           undefined <- t$ms_z == 0
           u <- t[!undefined, setdiff(names(t), c("lower", "upper")), drop = FALSE]
           no_na_table(t) %||%
             (if (any(is.na(t$rel_dz) != undefined)) "rel_dz is NA where ms_z is not 0") %||%
             (if (anyNA(u)) "NA in the table")
         })
  },
  first_step_nets = function() {
    net <- sample(list(quote(mlp(c(3, 3, 2), "relu", init_zeros())),
                       quote(mlp(c(3, 3, 2), "tanh", init_constant(0.5))),
                       quote(resmlp(3, 2)), quote(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2))), 1)[[1]]
    case(bquote(first_step(.(net), lr = 0.1, networks = 3, batch = 2)), "valid",
         paste0("first_step:finite-table-", gsub(" ", "", deparse(net)[1])),
         function(v) {
           t <- v$table
           # rel_dz is undefined (NA, said by print()) exactly where the
           # activations are 0 at initialization
           undefined <- t$ms_z == 0
           if (any(is.na(t$rel_dz) != undefined) || any(is.na(t$rel_dz_mcse) != undefined))
             return("rel_dz is NA where ms_z is not 0, or a number where it is")
           u <- t[!undefined, setdiff(names(t), c("lower", "upper")), drop = FALSE]
           no_na_table(t) %||%
             (if (anyNA(u)) paste("NA in", paste(names(u)[vapply(u, anyNA, TRUE)], collapse = ", ")))
         },
         target = "first_step")
  },
  simulate_correlation = function() {
    case(bquote(simulate_correlation(hardening_net(), .(round(runif(1, -1, 1), 2)), networks = 20,
                                     pairs = 2, threads = 1)), "valid", "simulate_correlation:finite",
         function(v) no_na_table(v))
  },
  jacobian_spectrum = function() {
    case(quote(jacobian_spectrum(mlp(c(3, 3, 3), "linear", init_orthogonal()), 3, threads = 1)),
         "valid", "jacobian_spectrum:orthogonal-linear", function(v) {
           sv <- v$sv
           if (!is.numeric(sv) || anyNA(sv)) return("singular values missing")
           near(sort(sv[v$sv_depth == 2, 1]), rep(1, sum(v$sv_depth == 2)), 1e-8, "singular values")
         })
  },
  network_norms = function() {
    case(quote(network_norms(simulate_network(mlp(c(3, 3, 2)), 2, 2, threads = 1))), "valid",
         "network_norms:runs", function(v) NULL)
  },
  transformer_scale = function() {
    sc <- sample(list(1e300, 1e-300, 1e150, 1, .Machine$double.xmax), 1)[[1]]
    sl <- sample(c(2, 64, 4096), 1)
    case(bquote(predict_variance(transformer(8, 2, depth = 1, d_ff = 4, seq_len = .(sl), scale = .(sc)))),
         "edge", sprintf("transformer:predict-scale-%g-seq_len-%d", sc, sl), target = "transformer")
  },
  coordinate_check = function() {
    bad <- sample(list(quote(function(n) "a"), quote(function(n) NULL), quote(function() mlp(c(3, 3))),
                       quote(function(n) list()), quote("mlp"), quote(function(n) stop("no"))), 1)[[1]]
    case(bquote(coordinate_check(.(bad), c(2, 3, 4), 1, networks = 20, batch = 1)), "bad",
         paste0("coordinate_check:net_fun=", deparse(bad)[1]))
  }
)
`%||%` <- function(a, b) if (is.null(a)) b else a

# ---- outcome of one call (in the child) ------------------------------------
classify_error <- function(e, target, routine) {
  msg <- conditionMessage(e)
  if (grepl("reached (elapsed|CPU) time limit", msg)) return(if (routine) "refusal" else "hang")
  if (routine) return("refusal")
  cl <- conditionCall(e)
  head <- if (is.call(cl)) cl[[1]] else NULL
  if (is.call(head) && length(head) == 3 && as.character(head[[1]]) %in% c("::", ":::")) head <- head[[3]]
  fn <- if (is.name(head)) as.character(head) else ""
  names_user <- fn %in% c(getNamespaceExports("initvar"), method_names)
  r_matching <- grepl("^unused argument|is missing, with no default|matched by multiple actual", msg)
  names_arg <- grepl("`[^`]+`", msg)
  internal <- any(vapply(unclear_patterns, grepl, TRUE, msg))
  if ((names_user || names_arg || r_matching) && !internal) "refusal" else "unclear"
}

run_case <- function(cs) {
  routine <- startsWith(cs$target, "C_")
  warned <- FALSE
  t0 <- proc.time()[["elapsed"]]
  setTimeLimit(elapsed = limit, transient = TRUE)
  v <- tryCatch(withCallingHandlers(
    eval(cs$call, new.env(parent = globalenv())),
    warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") }),
    error = function(e) e, interrupt = function(e) simpleError("reached elapsed time limit (interrupt)"))
  setTimeLimit()
  # (a call that catches the time limit's interrupt and returns is a hang too)
  took <- proc.time()[["elapsed"]] - t0
  # (internal routines given huge work, e.g. 2^31 draws, are only required to
  # stop at the limit: their R callers bound the work)
  # An export given valid but huge work by the generic mutation (an "edge"
  # value such as n = 2^31 draws) is long, not hung, when it stops at the
  # limit as asked (within 1 s: it polls interrupts); explicit checks and
  # bad input must finish or be refused within the limit.
  stopped <- took >= limit && took < limit + 1 && inherits(v, "error") &&
    grepl("time limit", conditionMessage(v))
  if (!routine && cs$kind == "edge" && stopped)
    return(list("long", sprintf("valid long work, stopped at the %g s limit", limit)))
  if (took >= limit && !(routine && took < limit + 1))
    return(list("hang", sprintf("returned after %.1f s", took)))
  if (routine && took >= limit) return(list("refusal", "stopped at the time limit"))
  if (inherits(v, "error")) {
    out <- classify_error(v, cs$target, routine)
    detail <- paste0(if (is.call(conditionCall(v))) paste0("Error in ", deparse(conditionCall(v),
                     nlines = 1L, width.cutoff = 60L)[1], ": ") else "Error: ", conditionMessage(v))
    if (cs$kind == "valid" && out == "refusal") return(list("wrong", paste("refused a valid call:", detail)))
    return(list(out, detail))
  }
  if (cs$kind == "bad") {
    if (warned) return(list("refusal", "a warning"))
    # internal routines trust their R callers for values (Inf, NULL where
    # unused): reported, not failed
    return(if (routine) list("routine_accept", "returned a value") else list("silent", "returned a value"))
  }
  if (cs$kind %in% c("valid", "check")) {
    msg <- tryCatch(cs$check(v), error = function(e) paste("the check failed:", conditionMessage(e)))
    if (is.null(msg)) {
      p <- tryCatch({ utils::capture.output(print(v)); NULL }, error = function(e) conditionMessage(e))
      if (!is.null(p)) msg <- paste("print() failed:", p)
    }
    if (!is.null(msg)) return(list("wrong", msg))
  }
  list("ok", "")
}

if (length(args) && args[1] == "--child") {
  batch <- readRDS(args[2])
  start <- as.integer(args[3])
  log <- file(args[4], open = "a")
  res <- args[5]
  # classes that hung already (in this run): their further calls are skipped
  f_hung <- args[6]
  hung <- if (file.exists(f_hung)) readLines(f_hung) else character()
  setwd(tempdir())
  grDevices::pdf(NULL)
  for (i in seq.int(start, length(batch))) {
    cat(sprintf("%d %.3f\n", i, as.numeric(Sys.time())), file = log)
    flush(log)
    set.seed(batch[[i]]$seed)
    t0 <- proc.time()[["elapsed"]]
    o <- if (batch[[i]]$class %in% hung) list("skipped", "its class hung before") else run_case(batch[[i]])
    if (o[[1]] == "hang") {
      hung <- c(hung, batch[[i]]$class)
      cat(batch[[i]]$class, "\n", sep = "", file = f_hung, append = TRUE)
    }
    cat(sprintf("%d\t%s\t%s\t%.3f\n", i, o[[1]], gsub("[\t\n]", " ", o[[2]]),
                proc.time()[["elapsed"]] - t0), file = res, append = TRUE)
    while (grDevices::dev.cur() > 2) grDevices::dev.off()
    if (batch[[i]]$target %in% c("initvar_threads", "C_openmp_threads", "C_blas_threads"))
      try(initvar::initvar_threads(2), silent = TRUE)
  }
  quit(status = 0)
}

# ---- parent ----------------------------------------------------------------
t_start <- proc.time()[["elapsed"]]
pos <- args[!startsWith(args, "--")]
ncalls <- if (length(pos) >= 1) as.numeric(pos[1]) else 20000
seed <- if (length(pos) >= 2 && nzchar(pos[2])) as.integer(pos[2]) else
  as.integer((as.numeric(Sys.time()) * 1000 + Sys.getpid() * 7919) %% .Machine$integer.max)
do_interrupts <- "--interrupts" %in% args ||
  (Sys.getenv("INITVAR_FUZZ_INTERRUPTS", if (ncalls >= 20000) "1" else "0") == "1")
cat(sprintf("fuzz seed %d (replay: Rscript tools/fuzz.R %.0f %d%s)\n", seed, ncalls, seed,
            if ("--interrupts" %in% args) " --interrupts" else ""))
set.seed(seed)

# ---- routines and exports: mutated small valid calls -----------------------
# malformed values (a call with one is "bad") and edge values (the right
# type, out of range)
malformed <- list(NULL, NA, NA_integer_, NA_real_, NaN, "a", character(0), numeric(0),
                  integer(0), list(), list(1), list(a = 1, 2), list(NULL, b = "x"),
                  function(x) x, new.env(), quote(x), as.raw(1), 1i, factor("a"), c(NA, 1),
                  -Inf, Inf)
edge <- list(-1, 0, 1e15, 2^31, -2^31, 2.5, .Machine$double.xmax, 1e-300, -0.5, 2^53,
             .Machine$integer.max, -.Machine$integer.max, 1L, 0L, 3, c(1, 2, 3), 1:10,
             matrix(1:4, 2), c(a = 1, 2), TRUE, FALSE)
# R's own values that no argument of an export takes (the generic mutation
# counts a call with one of these as "bad"; the rest are judged only for
# crashes, hangs and unclear errors: their validity depends on the argument)
never_valid <- function(x) {
  if (is.call(x) && identical(x[[1]], as.name("quote"))) x <- x[[2]]
  is.environment(x) || is.raw(x) || is.complex(x) || is.factor(x) || is.symbol(x) ||
    (is.numeric(x) && length(x) == 1 && (is.nan(x) || is.na(x))) ||
    identical(x, NA) || identical(x, c(NA, 1))
}
# (a symbol is passed quoted: the call gets the symbol, not a variable lookup)
pick <- function() {
  p <- if (runif(1) < 0.6) list(value = malformed[[sample.int(length(malformed), 1)]], bad = TRUE)
       else list(value = edge[[sample.int(length(edge), 1)]], bad = FALSE)
  if (is.symbol(p$value)) p$value <- call("quote", p$value)
  p
}

routines <- getDLLRegisteredRoutines("initvar")$.Call
valid_args <- lapply(hardening_routines, function(e) e$args())
spec0 <- hardening_spec()

mutate_call <- function(name) {
  a <- valid_args[[name]]
  n <- routines[[name]]$numParameters
  bad <- FALSE
  u <- runif(1)
  if (n == 0 || u < 0.05) {
    k <- if (n == 0) sample(1:2, 1) else sample(c(0:(n - 1), n + 1), 1)
    a <- lapply(seq_len(k), function(i) pick()$value)
    bad <- k != n
  } else if (u < 0.3 && any(vapply(a, function(x) identical(names(x), names(spec0)), TRUE))) {
    j <- which(vapply(a, function(x) identical(names(x), names(spec0)), TRUE))[1]
    s <- a[[j]]
    m <- sample.int(length(s), sample(1:2, 1))
    for (mm in m) {
      p <- pick()
      bad <- bad || p$bad
      if (is.null(p$value)) s[mm] <- list(NULL) else s[[mm]] <- p$value
    }
    if (runif(1) < 0.1) { s <- s[-sample.int(length(s), 1)]; bad <- TRUE }
    if (runif(1) < 0.1) { names(s) <- NULL }
    a[[j]] <- s
  } else {
    for (mm in sample.int(n, min(n, sample(1:2, 1)))) {
      p <- pick()
      bad <- bad || p$bad
      if (is.null(p$value)) a[mm] <- list(NULL) else a[[mm]] <- p$value
    }
  }
  cl <- as.call(c(list(quote(.Call), call(":::", quote(initvar), as.name(paste0("C_", name)))), a))
  list(call = cl, kind = if (bad) "bad" else "edge", target = paste0("C_", name),
       class = paste0("C_", name, if (bad) ":malformed" else ":edge"), bad = bad)
}

set_arg <- function(cl, nm, value) {
  l <- as.list(cl)
  if (nm %in% names(l)) l[nm] <- list(value) else l <- c(l, stats::setNames(list(value), nm))
  as.call(l)
}

# an exported call: one argument replaced (by name or position) or added
mutate_exported <- function(name) {
  e <- hardening_exported[[name]]
  base <- e$gctorture
  if (is.null(base) || !is.call(base) || identical(base[[1]], as.name("{"))) {
    base <- as.call(list(as.name(name)))
  }
  f <- get(name, envir = asNamespace("initvar"))
  fm <- setdiff(names(formals(f)), "...")
  p <- pick()
  cl <- base
  if (length(fm) == 0 || runif(1) < 0.05) {
    cl <- set_arg(cl, "junk", p$value)   # an unused argument
    return(list(call = cl, kind = "bad", target = name, class = paste0(name, ":unused-argument"),
                bad = TRUE))
  }
  nm <- sample(fm, 1)
  if (length(cl) > 1 && runif(1) < 0.5) {
    l <- as.list(cl)
    i <- sample.int(length(cl) - 1, 1) + 1
    l[i] <- list(p$value)
    nm <- if (nzchar(names(l)[i] %||% "")) names(l)[i] else paste0("#", i - 1)
    cl <- as.call(l)
  } else {
    cl <- set_arg(cl, nm, p$value)
  }
  bad <- never_valid(p$value)
  what <- paste(deparse(p$value, nlines = 1L, width.cutoff = 40L), collapse = "")
  list(call = cl, kind = if (bad) "bad" else "edge", target = name,
       class = sprintf("%s:%s=%s", name, nm, substr(what, 1, 40)), bad = bad)
}

exported <- getNamespaceExports("initvar")
missing <- setdiff(c(exported, names(routines)), c(names(hardening_exported), names(hardening_routines)))
if (length(missing)) stop("not in the hardening tables: ", paste(missing, collapse = ", "))
no_targeted <- setdiff(exported, names(TG))

# slow calls (devices, many simulations) are drawn less often
slow <- c("glorot_report", "plot_simulations", "width_sweep", "compare_schemes", "verify_all",
          "linear_regime", "simulate_network", "verify", "predict_variance", "coordinate_check",
          "first_step", "simulate_correlation", "attention_logits", "jacobian_spectrum",
          "critical_line", "fixed_point", "phase_diagram", "predict_correlation", "predict_kurtosis",
          "residual_depth_profile", "transformer")
# explore() serves the app until it is stopped (any call but run = FALSE
# "hangs"): its arguments are tested in test-explore-app.R and the app is
# driven in the browser gate (tools/browser-gate.sh), not fuzzed here
targets <- c(paste0("C:", names(routines)), setdiff(exported, "explore"))
weights <- ifelse(sub("^C:", "", targets) %in% slow, 0.15, 1)
weights[targets == "glorot_report"] <- 0.03
weights[targets == "verify_all"] <- 0.02

make_call <- function() {
  u <- runif(1)
  cs <- if (u < 0.3) {
    t <- sample(targets, 1, prob = weights)
    if (startsWith(t, "C:")) mutate_call(sub("^C:", "", t)) else mutate_exported(t)
  } else if (u < 0.8) {
    tg <- setdiff(names(TG), "explore")   # (see `targets`)
    nm <- sample(tg, 1, prob = ifelse(tg == "glorot_report", 0.05, ifelse(tg %in% slow, 0.3, 1)))
    targeted_mutation(nm)
  } else {
    nm <- sample(names(reference_cases), 1,
                 prob = ifelse(grepl("^(verify|first_step|attention|simulate|jacobian|network_norms|transformer|new_identity|register_identity$)",
                                     names(reference_cases)), 0.4, 1))
    reference_cases[[nm]]()
  }
  cs$seed <- sample.int(.Machine$integer.max, 1)
  cs
}

deparse1l <- function(cl) paste(deparse(cl, width.cutoff = 200L, nlines = 4L), collapse = " ")

# ---- run the batches under a watchdog ---------------------------------------
batch_size <- 2500
grace <- 2          # seconds past the limit before a call that ignores it is killed
f_hung <- tempfile("hung")
nb <- ceiling(ncalls / batch_size)
records <- list()   # offending calls: outcome, class, call, detail
counts <- c(ok = 0, refusal = 0, crash = 0, hang = 0, silent = 0, unclear = 0, wrong = 0,
            routine_accept = 0, skipped = 0, long = 0)
made <- 0
spent <- list()     # seconds per target
routine_accepts <- character()
rscript <- file.path(R.home("bin"), "Rscript")
me <- normalizePath("tools/fuzz.R")
offend <- function(o, cs, detail) {
  counts[[o]] <<- counts[[o]] + 1
  if (o %in% c("ok", "refusal", "skipped")) return()
  if (o == "routine_accept") {
    if (length(routine_accepts) < 5) routine_accepts <<- c(routine_accepts, deparse1l(cs$call))
    return()
  }
  records[[length(records) + 1]] <<- list(outcome = o, class = cs$class, target = cs$target,
                                         call = if (is.character(cs$call)) cs$call else deparse1l(cs$call),
                                         detail = detail)
}
for (b in seq_len(nb)) {
  m <- min(batch_size, ncalls - (b - 1) * batch_size)
  batch <- replicate(m, make_call(), simplify = FALSE)
  f_batch <- tempfile(fileext = ".rds"); f_log <- tempfile(); f_res <- tempfile(); f_rc <- tempfile()
  saveRDS(batch, f_batch)
  start <- 1L
  while (start <= m) {
    unlink(c(f_rc, f_log))
    cmd <- sprintf(paste("ulimit -v 4000000; %s %s --child %s %d %s %s %s >/dev/null 2>&1 &",
                         "echo $! > %s.pid; wait $! 2>/dev/null; echo $? > %s"),
                   shQuote(rscript), shQuote(me), shQuote(f_batch), start, shQuote(f_log),
                   shQuote(f_res), shQuote(f_hung), f_rc, shQuote(f_rc))
    system2("bash", c("-c", shQuote(cmd)), wait = FALSE)
    killed <- FALSE
    repeat {
      Sys.sleep(0.05)
      if (file.exists(f_rc) && length(readLines(f_rc, warn = FALSE))) break
      lg <- if (file.exists(f_log)) readLines(f_log, warn = FALSE) else character()
      if (length(lg)) {
        last <- strsplit(lg[length(lg)], " ")[[1]]
        done <- if (file.exists(f_res)) readLines(f_res, warn = FALSE) else character()
        last_done <- if (length(done)) as.integer(sub("\t.*", "", done[length(done)])) else 0L
        if (as.integer(last[1]) > last_done &&
            as.numeric(Sys.time()) - as.numeric(last[2]) > limit + grace) {
          pid <- as.integer(readLines(paste0(f_rc, ".pid")))
          tools::pskill(pid, tools::SIGKILL)
          killed <- TRUE
        }
      }
    }
    status <- as.integer(readLines(f_rc))
    res <- if (file.exists(f_res)) readLines(f_res, warn = FALSE) else character()
    done <- as.integer(sub("\t.*", "", res))
    if (status == 0 && length(done) && max(done) >= m) break
    lg <- if (file.exists(f_log)) readLines(f_log, warn = FALSE) else character()
    i <- if (length(lg)) as.integer(sub(" .*", "", lg[length(lg)])) else start
    o <- if (killed) "hang" else "crash"
    cat(sprintf("%d\t%s\t%s\t%d\n", i, o, if (killed) sprintf("killed after %d s", limit + grace) else
      sprintf("the child died (status %d)", status), limit + grace), file = f_res, append = TRUE)
    if (killed) cat(batch[[i]]$class, "\n", sep = "", file = f_hung, append = TRUE)
    start <- i + 1L
  }
  res <- readLines(f_res)
  for (r in res) {
    f <- strsplit(r, "\t", fixed = TRUE)[[1]]
    cs <- batch[[as.integer(f[1])]]
    offend(f[2], cs, f[3])
    spent[[cs$target]] <- (spent[[cs$target]] %||% 0) + as.numeric(f[4])
  }
  made <- made + m
  unlink(c(f_batch, f_log, f_res, f_rc, paste0(f_rc, ".pid")))
}
secs_calls <- proc.time()[["elapsed"]] - t_start

# ---- interrupts: a few long calls, interrupted after a short delay -----------
# One call that must keep its partial work (partial = TRUE in the tables, and
# verify()'s formula), interrupted after 1.5 s: it must end within 2 s by an
# interrupt and leave a partial result in last_partial(); and two other long
# calls, interrupted after their table's delay: they must end within 2 s.
n_intr <- 0
if (do_interrupts) {
  options(initvar.hardening_helper = normalizePath("tests/testthat/helper-hardening.R"))
  long <- c(Filter(function(e) isTRUE(e$long), hardening_exported),
            Filter(function(e) isTRUE(e$long), hardening_routines))
  long$verify_formula <- list(interrupt = hardening_exported$verify$interrupt_formula, partial = TRUE)
  # (glorot_report, verify_all and width_sweep take seconds to start: tools/interrupts.R)
  long <- long[setdiff(names(long), c("glorot_report", "verify_all", "width_sweep"))]
  keep <- names(Filter(function(e) isTRUE(e$partial), long))
  chosen <- c(sample(keep, 1), sample(setdiff(names(long), keep), 2))
  for (nm in chosen) {
    n_intr <- n_intr + 1
    e <- long[[nm]]
    partial <- isTRUE(e$partial)
    d <- if (partial) 1.5 else if (!is.null(e$delay)) sample(e$delay, 1) else round(runif(1, 0.5, 1.5), 2)
    th <- sample(1:2, 1)
    r <- interrupt_child(e$interrupt, threads = th, reps = 1, delay = d, timeout = 30,
                         after = if (partial) quote(!is.null(initvar::last_partial())))
    cs <- list(class = paste0(nm, if (partial) ":interrupt-partial" else ":interrupt"), target = nm,
               call = sub("\\bTH\\b", th, deparse1l(e$interrupt)))
    problem <- if (nrow(r) < 1) "did not end within 30 s of the interrupt" else
      # (routines return what they did, marked interrupted, for their R caller)
      if (r$how[1] != "interrupt" && !nm %in% names(hardening_routines))
        sprintf("ended by %s, not by an interrupt", r$how[1]) else
      if (r$latency[1] > 2) sprintf("ended %.2f s after SIGINT (limit 2 s)", r$latency[1]) else
      if (partial && !isTRUE(attr(r, "after"))) "no partial result in last_partial()"
    if (length(problem)) {
      offend(if (nrow(r) < 1 || r$latency[1] > 2) "hang" else "wrong", cs,
             sprintf("SIGINT after %.2f s at %d threads: %s", d, th, problem))
    } else offend("ok", cs, "")
  }
}
secs <- proc.time()[["elapsed"]] - t_start

# ---- report -----------------------------------------------------------------
if (length(records)) {
  cl <- vapply(records, `[[`, "", "class")
  oc <- vapply(records, `[[`, "", "outcome")
  key <- paste(oc, cl)
  cat(sprintf("\nOffending calls: %d, in %d classes (outcome, class, count, one reproducer):\n",
              length(records), length(unique(key))))
  tab <- table(key)
  first <- !duplicated(key)
  ord <- order(oc[first], cl[first])
  for (k in which(first)[ord]) {
    r <- records[[k]]
    cat(sprintf("%-7s %s [%d]\n  %s\n  -> %s\n", toupper(r$outcome), r$class, tab[[key[k]]],
                r$call, substr(r$detail, 1, 300)))
  }
  if (nzchar(Sys.getenv("FUZZ_VERBOSE"))) {
    cat("\nAll offending calls:\n")
    for (r in records) cat(sprintf("%-7s %s\n  -> %s\n", toupper(r$outcome), r$call,
                                   substr(r$detail, 1, 300)))
  }
  cat("\n")
}
if (counts[["routine_accept"]] > 0)
  cat(sprintf("internal routines returned on %d malformed calls (not failed), e.g.\n%s\n",
              counts[["routine_accept"]], paste0("  ", routine_accepts, collapse = "\n")))
sp <- sort(unlist(spent), decreasing = TRUE)
cat("seconds by target (top 8):", paste(sprintf("%s %.1f", names(sp), sp)[seq_len(min(8, length(sp)))],
                                        collapse = ", "), "\n")
if (length(no_targeted))
  cat("exports without argument classes (hardening_fuzz):", paste(sort(no_targeted), collapse = ", "), "\n")
cat(sprintf(paste0("fuzz: %.0f calls (%d exports, %d routines, seed %d) in %.0f s: %d crashes, ",
                   "%d hangs, %d silent accepts, %d unclear errors, %d wrong results; ",
                   "%d clear refusals, %d returned, %d valid long calls stopped at the limit, ",
                   "%d skipped (class hung before); ",
                   "%d interrupt checks%s\n"),
            made, length(exported), length(routines), seed, secs, counts[["crash"]],
            counts[["hang"]], counts[["silent"]], counts[["unclear"]], counts[["wrong"]],
            counts[["refusal"]], counts[["ok"]], counts[["long"]], counts[["skipped"]], n_intr,
            if (do_interrupts) sprintf(" (calls %.0f s, interrupts %.0f s)", secs_calls,
                                       secs - secs_calls) else ""))
quit(status = if (sum(counts[c("crash", "hang", "silent", "unclear", "wrong")]) > 0) 1 else 0)
