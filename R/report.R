#' Compare initialization schemes: exact variance against simulation
#'
#' Draws `reps` independent weight matrices from each scheme and compares
#' the exact variance of an entry ([weight_variance()]) with its Monte Carlo
#' estimate.
#'
#' The estimate for one matrix is the mean of \eqn{(W_{ij} - \mu)^2} over its
#' entries, with \eqn{\mu} the exact mean ([weight_mean()]); it is unbiased
#' for the variance for every scheme, including those whose entries are not
#' independent (orthogonal, sparse). Because the entries of one matrix can be
#' dependent, the matrix is the unit of replication: the reported estimate is
#' the mean of the `reps` per-matrix values and its Monte Carlo standard
#' error (MCSE) is their standard deviation over \eqn{\sqrt{reps}}. An
#' orthogonal matrix has fixed column norms, so its per-matrix value hardly
#' varies and its MCSE is tiny; the identity is not random and has MCSE 0.
#'
#' @inheritParams weight_variance
#' @param schemes A named list of schemes; the default covers every scheme
#'   of the package, with the framework conventions of "normal".
#' @param reps Number of independent matrices per scheme (at least 2).
#' @param level Confidence level of the agreement check.
#' @param threads Number of threads; see [initvar_threads()].
#' @return A data frame of class `initvar_scheme_comparison`, one row per
#'   scheme: `scheme`, `exact` (variance), `estimate`, `mcse`, `z`
#'   (`(estimate - exact) / mcse`), `lower` and `upper` (confidence interval)
#'   and `agrees` (whether the interval covers the exact value).
#' @examples
#' set.seed(1)
#' compare_schemes(200, 100, reps = 5)
#' @export
compare_schemes <- function(fan_in = 512, fan_out = fan_in,
                            schemes = default_schemes(), reps = 10,
                            level = 0.99, threads = initvar_threads()) {
  check_whole(fan_in, "fan_in")
  check_whole(fan_out, "fan_out")
  check_whole(reps, "reps", min = 2, max = 1e6)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  if (!is.list(schemes) || length(schemes) == 0 ||
      !all(vapply(schemes, inherits, logical(1), "initvar_scheme"))) {
    abort_arg("schemes", "a non-empty list of initialization schemes", schemes)
  }
  if (is.null(names(schemes))) {
    names(schemes) <- vapply(schemes, function(s) s$label, "")
  }
  q <- stats::qnorm(1 - (1 - level) / 2)
  rows <- lapply(names(schemes), function(nm) {
    s <- schemes[[nm]]
    mu <- weight_mean(s, fan_in, fan_out)
    exact <- weight_variance(s, fan_in, fan_out)
    per <- vapply(seq_len(reps), function(i) {
      mean((sample_weights(s, fan_in, fan_out, threads = threads) - mu)^2)
    }, numeric(1))
    est <- mean(per)
    mcse <- stats::sd(per) / sqrt(reps)
    # no Monte Carlo error beyond rounding (identity, orthogonal): report 0
    if (mcse <= 1e-10 * abs(exact)) mcse <- 0
    data.frame(scheme = nm, exact = exact, estimate = est, mcse = mcse,
               z = if (mcse > 0) (est - exact) / mcse else NA_real_,
               lower = est - q * mcse, upper = est + q * mcse,
               agrees = abs(est - exact) <= q * mcse + 1e-10 * abs(exact),
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  attr(out, "fan_in") <- fan_in
  attr(out, "fan_out") <- fan_out
  attr(out, "reps") <- reps
  attr(out, "level") <- level
  class(out) <- c("initvar_scheme_comparison", "data.frame")
  out
}

#' @rdname compare_schemes
#' @export
default_schemes <- function() {
  list(
    "glorot uniform" = init_glorot("uniform"),
    "glorot normal (torch)" = init_glorot("normal", convention = "torch"),
    "glorot normal (keras, jax)" = init_glorot("normal", convention = "keras"),
    "glorot normal (tfjs)" = init_glorot("normal", convention = "tfjs"),
    "glorot standard, eq. 1" = init_glorot_standard(),
    "he normal" = init_he("normal"),
    "he uniform" = init_he("uniform"),
    "lecun normal" = init_lecun("normal"),
    "torch nn.Linear default" = init_torch_default(),
    "variance scaling, fan_geo_avg" = init_variance_scaling(1, "fan_geo_avg", "normal"),
    "orthogonal" = init_orthogonal(),
    "sparse 0.9, sd 0.01" = init_sparse(0.9, 0.01),
    "identity" = init_identity()
  )
}

#' @export
print.initvar_scheme_comparison <- function(x, digits = 4, ...) {
  cat(sprintf("Weight variance for a %g x %g layer: exact against %d simulated matrices\n",
              attr(x, "fan_in"), attr(x, "fan_out"), attr(x, "reps")))
  cat(sprintf("(MCSE from between-matrix spread; agreement at level %g)\n\n",
              attr(x, "level")))
  df <- data.frame(
    scheme = x$scheme,
    exact = formatC(x$exact, digits = digits, format = "g"),
    estimate = formatC(x$estimate, digits = digits, format = "g"),
    mcse = formatC(x$mcse, digits = 2, format = "g"),
    z = ifelse(is.na(x$z), "-", formatC(x$z, digits = 2, format = "f")),
    agrees = ifelse(x$agrees, "yes", "NO"),
    stringsAsFactors = FALSE)
  print(df, right = FALSE, row.names = FALSE)
  invisible(x)
}
