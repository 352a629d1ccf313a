# verify() and verify_all(): identities checked by simulation with honest
# Monte Carlo standard errors (built-in kernels in C; formulas in
# R/verify-formula.R), and the registry's table, identities().

#' The registry of identities
#'
#' Every variance and covariance identity the Glorot derivation rests on, as
#' checked by [verify()]: the linear-transformation rules of the fan-in
#' notes, the variance of sums and products, a neuron's pre-activation, the
#' covariance proof closing the Q&A, the delta method of its step 2, the
#' independence of layers, and Glorot and Bengio's eqs. 5, 6 and 7.
#'
#' @return A data frame with one row per identity, built-in ones first, then
#'   those added with [register_identity()]: `id`, `statement`,
#'   `latex`, `assumptions`, `used_in` (where in the derivation it is used),
#'   `estimand` (what is estimated: a mean, a variance, a covariance, a ratio
#'   of variances, a per-layer variance of simulated networks, or a user's
#'   `"formula"`), `drops` (the assumptions [verify()] can drop to show a
#'   counterexample) and `source` (`"built-in"` or `"registered"`).
#' @examples
#' ids <- identities()
#' ids[, c("id", "statement")]
#' @export
identities <- function() {
  builtin <- data.frame(
    id = names(identity_defs),
    statement = vapply(identity_defs, `[[`, "", "statement"),
    latex = vapply(identity_defs, `[[`, "", "latex"),
    assumptions = vapply(identity_defs, `[[`, "", "assumptions"),
    used_in = vapply(identity_defs, `[[`, "", "used_in"),
    estimand = vapply(identity_defs, `[[`, "", "estimand"),
    drops = vapply(identity_defs, function(d) paste(names(d$drops), collapse = ", "), ""),
    source = "built-in", row.names = NULL, stringsAsFactors = FALSE)
  reg <- registered_identities()
  if (!length(reg)) return(builtin)
  user <- data.frame(
    id = names(reg),
    statement = vapply(reg, `[[`, "", "statement"),
    latex = NA_character_,
    assumptions = vapply(reg, `[[`, "", "assumptions"),
    used_in = vapply(reg, `[[`, "", "used_in"),
    estimand = "formula",
    drops = vapply(reg, function(d) paste(names(d$drops), collapse = ", "), ""),
    source = "registered", row.names = NULL, stringsAsFactors = FALSE)
  rbind(builtin, user)
}

# Estimate and MCSE of an estimand from a packed bivariate accumulator.
# mean: sd / sqrt(n); var: sqrt((m4 - m2^2) / n); cov: sqrt((m22 - m11^2) / n);
# ratio Var(u) / Var(v): the delta method.
# The accumulator holds u / su and v / sv (`scale`, powers of 2 chosen by
# C_identity_moments): the moments are computed on that scale, where they neither
# underflow nor overflow, and the estimate and MCSE are scaled back.
biv_estimate <- function(a, estimand, scale = c(1, 1)) {
  n <- a[1]
  M <- matrix(a[4:28], 5, byrow = TRUE)   # M[p + 1, q + 1]
  m <- function(p, q) M[p + 1, q + 1] / n
  su <- scale[1]; sv <- scale[2]
  r <- switch(estimand,
    mean = c(estimate = a[2], mcse = sqrt(m(2, 0) / n)) * su,
    var = c(estimate = M[3, 1] / (n - 1), mcse = sqrt(max(m(4, 0) - m(2, 0)^2, 0) / n)) * su^2,
    cov = c(estimate = M[2, 2] / (n - 1), mcse = sqrt(max(m(2, 2) - m(1, 1)^2, 0) / n)) * (su * sv),
    ratio = {
      r <- m(2, 0) / m(0, 2)
      v <- (m(4, 0) - m(2, 0)^2) / m(0, 2)^2 + m(2, 0)^2 * (m(0, 4) - m(0, 2)^2) / m(0, 2)^4 -
        2 * m(2, 0) * (m(2, 2) - m(2, 0) * m(0, 2)) / m(0, 2)^3
      c(estimate = r, mcse = sqrt(max(v, 0) / n)) * (su / sv)^2
    })
  r
}

identity_params <- function(def, args, id) {
  p <- def$params
  unknown <- setdiff(names(args), names(p))
  if (length(args) && (is.null(names(args)) || any(names(args) == ""))) {
    abort("arguments in `...` must be named.")
  }
  if (length(unknown)) {
    abort(sprintf("`%s` is not a parameter of identity \"%s\"; its parameters are %s.",
                             unknown[1], id, paste0("`", names(p), "`", collapse = ", ")))
  }
  p[names(args)] <- args
  for (nm in names(p)) {
    v <- p[[nm]]
    type <- builtin_param_types[[nm]]
    switch(type,
      dist = { p[[nm]] <- check_choice(v, names(dist_codes), nm) },
      activation = {
        if (!(is.character(v) && length(v) == 1 && v %in% activation_names())) {
          abort_arg("activation", "the name of a built-in activation", v)
        }
      },
      flag = { if (!is.logical(v) || length(v) != 1 || is.na(v)) abort_arg(nm, "TRUE or FALSE", v) },
      net = { if (!is.null(v)) check_mlp(v, "net") },
      layer = { if (!is.null(v)) check_whole(v, "layer") },
      count = { if (!is.null(v)) check_whole(v, nm, max = 1e7) },
      correlation = check_number(v, nm, min = -1, max = 1),
      unit = check_number(v, nm, min = 0, max = 1),
      nonneg = { if (!is.null(v)) check_number(v, nm, min = 0) },
      real = check_number(v, nm))
  }
  if (!is.null(def$prepare)) p <- def$prepare(p)
  p
}

#' Check an identity by simulation
#'
#' Simulates the quantity an identity speaks of, in C, and compares the
#' estimate with the theoretical value: with its Monte Carlo standard error
#' (MCSE), a confidence interval, a z-score, a p-value and a verdict in
#' words. See [identities()] for the registry.
#'
#' @section Monte Carlo standard errors:
#' For the built-in identities, draws are reduced in chunks (65,536 draws,
#' fewer when one draw sums many terms, so that an interrupt is honoured
#' quickly) to bivariate central co-moments up to order four, merged exactly
#' and stably (Pebay 2008), so memory is constant in `n` and the result is
#' the same for any number of threads. A formula, or an identity from
#' [new_identity()], is evaluated on chunks of 8,192 draws, reduced to the
#' means and centred cross products of its moment columns and merged exactly
#' (Chan et al. 1979); the MCSE of the difference of the two sides is the
#' delta method. The MCSE is the one the estimator needs:
#' * a mean: \eqn{s / \sqrt{n}};
#' * a sample variance: \eqn{\sqrt{(m_4 - m_2^2) / n}}, with the fourth
#'   central moment \eqn{m_4} (not the normal-theory \eqn{s^2 \sqrt{2/n}});
#' * a covariance: \eqn{\sqrt{(m_{22} - m_{11}^2) / n}}, from the moments of
#'   the product of deviations;
#' * a ratio of variances \eqn{R = m_{20} / m_{02}} estimated from the same
#'   draws: the delta method,
#'   \eqn{Var(\hat R) \approx [(m_{40} - m_{20}^2)/m_{02}^2 + m_{20}^2 (m_{04} -
#'   m_{02}^2)/m_{02}^4 - 2 m_{20}(m_{22} - m_{20} m_{02})/m_{02}^3] / n};
#' * Glorot's eqs. 5-7: network-level replication ([simulate_network()]), the
#'   test using Student's t with `n - 1` degrees of freedom.
#'
#' @section Calibration:
#' The draw-based checks are asymptotic: the MCSE of a variance rests on an
#' estimated fourth moment, which is noisy and skewed in small samples, so
#' the test over-rejects a true identity at small `n` (at level 0.99, 21\%
#' for `linear_var` at n = 20, 3\% for `product_independent` at n = 200).
#' `verify()` therefore refuses `n` below 10,000 draws, the size from which
#' the rejection rate of every built-in identity, for normal, uniform and
#' exponential variables, stays within the binomial band of the nominal
#' rate over seeds (tests/testthat/test-calibration.R); the test is then
#' Student's t with `n - 1` degrees of freedom, approximate, not exact. The
#' Glorot identities replicate networks and use the rule of
#' [simulate_network()] ("Intervals and verdicts"): too few networks for a
#' calibrated interval at the chosen layer is an error naming `n`.
#'
#' Heavy tails: the MCSE's square is the sample variance of the estimator's
#' influence values \eqn{\psi} (for a variance, \eqn{(X - \mu)^2 -
#' \sigma^2}), whose relative standard error is \eqn{\sqrt{(\kappa - 1)
#' / n}} (\eqn{\kappa} their kurtosis). A formula's check warns that the
#' draws look heavy-tailed when the sample kurtosis of \eqn{\psi} over all
#' `n` draws exceeds \eqn{0.02 n} (a relative error above about 14\%, an
#' MCSE off by about 7\%; reported as `influence_kurtosis`), or, from 16
#' chunks (\eqn{n \ge 131,072}), when \eqn{\psi}'s variance varies across
#' chunks as if \eqn{\kappa > 0.01 n} or one chunk holds half of it. At n =
#' 10,000, over 400 seeds (tools/verify-heavy-tails.R), `Var(X)` of a
#' lognormal(0, 1) \eqn{X} (whose t test then rejects 4.75\% at level 0.99,
#' not 1\%: its MCSE needs \eqn{E X^8 = e^{32}}) warned in every run;
#' exponential \eqn{X} (\eqn{\kappa = 216}, just above the rule at this
#' n, and calibrated) in 22\%; normal (\eqn{\kappa = 15}) and uniform
#' (2.1) never.
#'
#' Draws are accumulated divided by powers of 2 near their spread, exactly,
#' so that an identity about variances of 1e-100 or 1e100 behaves like one
#' about variances of 1; an MCSE of 0 (draws that do not vary) agrees only
#' with a theoretical value equal to the estimate to 1e-12 relative.
#'
#' A rejection at level 0.99 is reported as "not consistent at level 0.99":
#' 1 in 100 true identities is flagged by chance. [verify_all()] adds a
#' family-wise verdict (Holm).
#'
#' @section Counterexamples:
#' `drop` names an assumption to drop (see the `drops` column of
#' [identities()]): the simulation then breaks it, the identity's value is
#' compared as before, and the general formula that still holds is shown
#' beside it with its own z-score. Dropping `independent_inputs` from
#' `neuron` shows an identity that survives: the covariance proof at work.
#'
#' @param id A built-in or registered identity's id (see [identities()]), an
#'   identity from [new_identity()], or a two-sided formula over `E()`,
#'   `Var()` and `Cov()` of expressions of random variables (see
#'   `vignette("verify-your-own", package = "initvar")`).
#' @param n Number of draws, at least 10,000 (for the Glorot identities: of
#'   networks). Defaults to 1e6 (200 networks).
#' @param ... Parameters of the identity, overriding its defaults (shown by
#'   `print()`): distributions `dist`, `weights`, `inputs` (`"normal"`,
#'   `"uniform"`, `"exponential"`), means, standard deviations, correlations
#'   `rho`, sizes `m` (terms of a sum) and `fan_in` (terms of a neuron); for
#'   `delta_method` an `activation` name; for
#'   the Glorot identities a network `net` from [mlp()], a `layer` and the
#'   `batch` of inputs per network.
#'   For a formula: its random variables (functions of `n` returning `n`
#'   draws, or elementwise schemes such as [init_normal()]) and constants.
#' @param level Confidence level of the interval and the test.
#' @param drop `NULL`, or an assumption to drop.
#' @param threads Number of threads; see [initvar_threads()].
#' @param draw For a formula: `NULL`, or a function of `n` returning an
#'   `n`-row matrix whose named columns are dependent random variables.
#' @param params For a formula: a named list of constants, for names that
#'   clash with `verify()`'s own arguments (`n`, `level`, `drop`, ...).
#' @param progress Show a progress bar (cli) for the Glorot identities
#'   (simulated networks) and for long formula runs.
#' @section Interrupts:
#' Ctrl-C stops a verification within about a second. The draws done so
#' far are kept: the interrupt is re-signalled as a condition of class
#' `initvar_interrupt` whose `partial` field is the verification for those
#' draws (`n` set to their number), also kept in [last_partial()]. This holds
#' for the built-in identities, formulas (with or without `draw`) and
#' identities from [new_identity()]; for these the draws kept are those of
#' the finished chunks of 8,192, and an interrupt before the first chunk
#' finished says so, with `partial` and [last_partial()] `NULL`.
#'
#' @section Formulas:
#' A formula is `left ~ theoretical value`, each side a function of `E()`,
#' `Var()` and `Cov()` of expressions of the random variables. Those
#' expressions must be elementwise, one value per draw from that draw
#' alone, because they are evaluated on chunks of draws: `pmax(X, 0)`, not
#' `max(X, 0)`; no `sum()`, `mean()`, `sort()`, `cumsum()` or other function
#' over the draws (an error names it; a function of your own is checked by
#' evaluating it again on a subset of the draws in another order). Both the
#' expressions and the sides are evaluated in the formula's environment, so
#' they can call functions of any attached package (`pnorm()`) and your own,
#' global or local; the variables and constants mask names there. A name
#' may be given only once: as a variable, a constant or a column of `draw`.
#' @param future For a formula or an identity from [new_identity()]: `TRUE`
#'   to reduce the chunks of draws on the workers of the current
#'   `future::plan()` (multisession, a cluster, a scheduler through
#'   future.batchtools; needs the future.apply package). Every chunk draws
#'   from its own stream, so the result is the same as on one process.
#' @return An `initvar_verification` object: a list with `id`, `statement`,
#'   `assumptions`, `params`, `dropped`, `theoretical`, `estimate`, `mcse`,
#'   `lower`, `upper`, `z`, `p_value`, `consistent`, `verdict`, `general`
#'   (value of the general formula, when an assumption is dropped),
#'   `approximation` (`delta_method`) and `path` (estimates as `n` grows).
#'   It has `print()`, `as.data.frame()` and `plot()` methods.
#' @examples
#' set.seed(1)
#' verify("product_independent", n = 1e5)
#' verify("product_zero_mean", n = 1e5, drop = "zero_mean")
#' verify("neuron", n = 1e5, drop = "independent_inputs")   # still holds
#' verify("delta_method", n = 1e5, activation = "tanh", sd = 2)
#' @export
verify <- function(id, n = NULL, ..., level = 0.99, drop = NULL,
                   threads = initvar_threads(), draw = NULL, params = list(), future = FALSE,
                   progress = interactive()) {
  check_not_bare_moments(substitute(id))
  check_flag(progress, "progress")
  check_future(future)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  threads <- check_whole(threads, "threads", max = max_threads)
  if (!is.list(params) || (length(params) && (is.null(names(params)) || any(!nzchar(names(params)))))) {
    abort_arg("params", "a named list of constants", params)
  }
  if (inherits(id, "formula")) {
    if (!is.null(drop)) {
      abort_arg("drop", "NULL for a formula (counterexamples belong to an identity from `new_identity()`)", drop)
    }
    return(verify_formula(id, n, list(...), params, draw, level, threads,
                          progress = progress, future = future))
  }
  if (is.character(id) && length(id) == 1 && !is.na(id)) {
    id <- if (exists(id, envir = identity_registry, inherits = FALSE)) {
      get(id, envir = identity_registry)
    } else {
      known <- c(names(identity_defs), ls(identity_registry))
      if (!id %in% known && is.na(pmatch(id, known))) {
        abort(paste0(sprintf("`id` must be a built-in or registered identity (see identities()), not \"%s\".", id),
                     did_you_mean(id, known)))
      }
      identity_defs[[check_choice(id, known, "id")]]
    }
  }
  if (!inherits(id, "initvar_identity")) {
    abort_arg("id", "a built-in or registered identity's id, an identity from `new_identity()`, or a formula", id)
  }
  if (is.null(id$estimand)) {
    return(verify_identity_object(id, n, list(...), params, draw, level, drop, threads,
                                  progress = progress, future = future))
  }
  # an identity with a C kernel (the built-ins)
  if (!is.null(draw)) abort_arg("draw", "NULL for a built-in identity", draw)
  if (length(params)) abort_arg("params", "empty for a built-in identity (give its parameters in `...`)", params)
  def <- id
  id <- def$id
  network <- def$estimand == "network"
  if (is.null(n)) n <- if (network) 200 else 1e6
  check_whole(n, "n", min = 2, max = 1e13)
  if (!network && n < verify_min_draws) {
    abort(sprintf(paste0(
      "`n` must be at least %s draws for identity \"%s\", not %s: below that the MCSE, ",
      "which rests on estimated fourth moments, is not calibrated (see ?verify, \"Calibration\")."),
      format(verify_min_draws, big.mark = ",", scientific = FALSE), id, format(n)))
  }
  p <- identity_params(def, list(...), id)
  if (network) {
    check_whole(n, "n", min = 2, max = 1e9)
    check_whole(p$batch, "batch", min = 2, max = max_width)
  }
  if (!is.null(drop)) {
    if (!length(def$drops)) {
      abort_arg("drop", sprintf("NULL: identity \"%s\" has no assumption to drop", id), drop)
    }
    drop <- check_choice(drop, names(def$drops), "drop")
  }
  out <- if (network) verify_network(def, id, n, p, level, drop, threads, progress) else
    verify_draws(def, id, n, p, level, drop, threads)
  out
}

# `verify(Var(X), ...)`: an expression of moments without `~` would be
# evaluated (and fail on "could not find function Var"). Refused before `id`
# is evaluated, saying what a formula needs.
check_not_bare_moments <- function(expr) {
  if (!is.call(expr) || !is.name(expr[[1]])) return(invisible())
  head <- as.character(expr[[1]])
  arith <- c("+", "-", "*", "/", "^", "(", "==", "!=", "<", ">", "<=", ">=", "=", "sqrt", "log", "exp", "abs")
  if (head %in% moment_ops || (head %in% arith && any(moment_ops %in% all.names(expr)))) {
    abort(sprintf(paste0("`id` must be a formula `left ~ theoretical value` such as `%s ~ 1`, not the ",
                         "expression `%s`: write the value the simulation is checked against after `~`."),
                  if (head %in% moment_ops) deparse_key(expr) else "Var(X)", deparse_key(expr)))
  }
  invisible()
}

# The fewest draws at which the draw-based checks are calibrated: over 400
# seeds their rejection rates at level 0.99 stay within the binomial bound
# at every n >= 1e4 tested (tests/testthat/test-calibration.R); at n = 200
# the plug-in fourth moment rejects a true Var(XY) identity 3% of the time,
# at n = 20 a true Var(aX + b) identity 21%.
verify_min_draws <- 1e4

verify_draws <- function(def, id, n, p, level, drop, threads) {
  if (!is.null(drop)) p <- def$drop(p, drop)
  theory <- def$theory(p)
  cp <- def$cparams(p)
  cp <- c(cp, numeric(10 - length(cp)))
  path_acc <- .Call(C_identity_moments, code_of(identity_kernel_codes, def$c_kernel), as.double(cp), n, threads)
  # interrupted: keep the draws done (chunks merge exactly), re-signal below
  interrupted <- isTRUE(attr(path_acc, "interrupted"))
  if (interrupted) n <- path_acc[1, ncol(path_acc)]
  path <- t(apply(path_acc, 2, biv_estimate, estimand = def$estimand,
                  scale = attr(path_acc, "scale")))
  path <- data.frame(n = path_acc[1, ], estimate = path[, "estimate"], mcse = path[, "mcse"])
  final <- path[nrow(path), ]
  general <- if (!is.null(drop) && !is.null(def$general)) def$general(p) else NULL
  out <- new_verification(def, id, p, drop, theory, final$estimate, final$mcse, n, level,
                          df = n - 1, general = general, path = path,
                          approximation = if (!is.null(def$approximation)) def$approximation(p))
  if (interrupted) raise_interrupt(out)
  out
}

verify_network <- function(def, id, n, p, level, drop, threads, progress = FALSE) {
  net <- p$net
  if (is.null(net)) net <- mlp(c(40, 40, 40, 40), "linear", init_glorot())
  if (!is.null(drop)) {
    net <- mlp(net$widths, "tanh", net$init, net$bias)
  }
  d <- length(net$widths) - 1
  layer <- p$layer
  if (is.null(layer)) layer <- if (def$quantity == "z") d else 1
  if (layer > d) abort_arg("layer", sprintf("a layer of `net`, between 1 and %d", d), layer)
  sim <- simulate_network(net, networks = n, inputs = p$batch, var_x = p$var_x,
                          regime = "linear", level = level, threads = threads, progress = progress)
  df <- as.data.frame(sim)
  r <- df[df$quantity == def$quantity & df$layer == layer, ]
  if (is.na(r$z)) {
    abort(sprintf(paste0(
      "`n` must be at least %s networks for layer %d of this network, not %s: a network's ",
      "contribution to the variance varies too much for a calibrated interval with fewer ",
      "(see ?simulate_network, \"Intervals\")."),
      format(r$networks_needed, big.mark = ",", scientific = FALSE), layer, format(n)))
  }
  general <- if (!is.null(drop)) {
    mf <- sim$prediction$mean_field
    mf[[quantity_prediction[[def$quantity]]]][layer]
  }
  p$net <- net
  p$layer <- layer
  v <- new_verification(def, id, p, drop, r$prediction, r$estimate, r$mcse, n, level,
                        df = n - 1, general = general, path = NULL, log_scale = TRUE)
  v$simulation <- sim
  if (!is.null(drop)) {
    v$general_text <- paste("the mean-field prediction (exact as the width grows: at finite width",
                            "expect a gap of order 1/width, see ?predict_variance)")
  }
  v
}

#' Check every identity of the registry
#'
#' Runs [verify()] for each identity in [identities()] with its default
#' parameters: the test a reader runs to see the derivation hold.
#'
#' @section Many tests at once:
#' Each row's verdict is a test at `level`: of 14 true identities, each has
#' a 1 in 100 chance of being flagged, so about 1 run in 7 flags one by
#' chance. The family-wise verdict controls that: Holm's step-down
#' adjustment of the p-values (`p_holm`), and the family is consistent when
#' no adjusted p-value is below `1 - level` (a true registry is then flagged
#' in at most 1 run in 100).
#'
#' @inheritParams verify
#' @param n Draws per identity (at least 10,000; networks for the Glorot
#'   identities: 200).
#' @param progress Show a progress bar (cli) over the identities.
#' @param ids `NULL` (every built-in and registered identity), a character
#'   vector of ids, or a list of identities from [new_identity()] (ids may be
#'   mixed in), each identity once.
#' @return A data frame of class `initvar_verifications`, one row per
#'   identity, with the columns of `as.data.frame(verify(...))` and the
#'   Holm-adjusted `p_holm` and `consistent_holm`; attribute `level`.
#'   `print()` shows it with the family-wise verdict.
#' @examples
#' set.seed(1)
#' verify_all(n = 1e4)
#' @export
verify_all <- function(n = 1e5, level = 0.99, threads = initvar_threads(), ids = NULL,
                       progress = interactive()) {
  check_flag(progress, "progress")
  check_whole(n, "n", min = verify_min_draws, max = 1e13)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  if (is.null(ids)) ids <- c(as.list(names(identity_defs)), registered_identities())
  if (inherits(ids, "initvar_identity")) ids <- list(ids)
  if (is.character(ids)) ids <- as.list(ids)
  if (!is.list(ids) || !length(ids) ||
      !all(vapply(ids, function(x) inherits(x, "initvar_identity") ||
                    (is.character(x) && length(x) == 1), TRUE))) {
    abort_arg("ids", "NULL, a character vector of identity ids, or a list of identities from `new_identity()`", ids)
  }
  # an identity given twice would be run twice and counted twice by Holm
  keys <- vapply(ids, function(x) {
    if (inherits(x, "initvar_identity")) return(if (is.character(x$id)) x$id[1] else NA_character_)
    known <- c(names(identity_defs), ls(identity_registry))
    if (x %in% known) return(x)
    i <- pmatch(x, known)
    if (is.na(i)) x else known[i]
  }, "")
  twice <- unique(keys[duplicated(keys) & !is.na(keys)])
  if (length(twice)) {
    abort(sprintf("`ids` must name each identity once: \"%s\" is given %d times.", twice[1],
                  sum(keys == twice[1], na.rm = TRUE)))
  }
  bar <- progress_bar(progress, length(ids), "verify_all")
  rows <- lapply(seq_along(ids), function(k) {
    id <- ids[[k]]
    nn <- if (is.character(id) && id %in% names(identity_defs) &&
              identity_defs[[id]]$estimand == "network") 200 else n
    row <- as.data.frame(verify(id, n = nn, level = level, threads = threads, progress = FALSE))
    progress_set(bar, k)
    row
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out$p_holm <- stats::p.adjust(out$p_value, "holm")
  out$consistent_holm <- out$p_holm > 1 - level
  attr(out, "level") <- level
  class(out) <- c("initvar_verifications", "data.frame")
  out
}
