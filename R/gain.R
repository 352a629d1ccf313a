#' Recommended gain for an activation function
#'
#' The gain multiplies a scheme's standard deviation (see [init_glorot()]'s
#' `gain`) to compensate for what the activation does to the variance.
#'
#' * `method = "table"`: the values torch's `calculate_gain()` documents:
#'   1 for `"linear"`/`"identity"` and the convolutions, 1 for `"sigmoid"`,
#'   5/3 for `"tanh"`, \eqn{\sqrt{2}} for `"relu"`,
#'   \eqn{\sqrt{2 / (1 + slope^2)}} for `"leaky_relu"` (`param` = negative
#'   slope, default 0.01) and 3/4 for `"selu"`.
#' * `method = "gauss_hermite"` or `"integrate"`: the second-moment gain
#'   \eqn{1 / \sqrt{E[f(Z)^2]}}, \eqn{Z \sim N(0, 1)}, the gain that makes
#'   \eqn{E[f(s)^2] = 1} for a unit-variance pre-activation \eqn{s}
#'   (\eqn{\sqrt{2}} for ReLU, exactly He et al.'s factor). It is computed by
#'   Gauss-Hermite quadrature on each half-line (`nodes` nodes on each side
#'   of 0, so that activations with a kink at 0 are integrated to full
#'   precision), or by [stats::integrate()]. It works for any vectorized R
#'   function.
#' * `method = "auto"` (default): the table where it has the activation,
#'   Gauss-Hermite otherwise.
#'
#' Gauss-Hermite quadrature cannot tell a divergent integral from a
#' convergent one: it returns a finite number for `exp(x^2)` or `1 / x`, whose
#' \eqn{E[f(Z)^2]} is infinite. Its value is therefore checked: \eqn{f} must
#' be finite on a fine grid of \eqn{[-12, 12]}, near 0 and at
#' \eqn{|z| \le 40}; \eqn{|z| f(z)^2} must vanish as \eqn{z \to 0} and
#' \eqn{|z| f(z)^2 \phi(z)} must decrease to a negligible size beyond
#' \eqn{|z| = 12}; and a midpoint rule on the grid must agree with the
#' quadrature to 1e-4. Where the integral diverges this is an error naming
#' `activation`; where it converges but the quadrature cannot be trusted
#' (an integrable singularity, a slowly decaying tail) the value comes from
#' [stats::integrate()] on \eqn{[-40, 40]}, split at 0 and \eqn{\pm 12}, and
#' an error if that fails.
#'
#' The table's values are conventions, not second moments: torch's 5/3 for
#' tanh is larger than tanh's second-moment gain (about 1.59), and sigmoid's
#' table gain 1 ignores its non-zero mean.
#'
#' @param activation A name (`"linear"`, `"identity"`, `"conv1d"`, `"conv2d"`,
#'   `"conv3d"`, `"conv_transpose1d"`, ..., `"sigmoid"`, `"tanh"`, `"relu"`,
#'   `"leaky_relu"`, `"selu"`, `"elu"`, `"softsign"`, `"scaled_tanh"`) or a
#'   vectorized R function.
#' @param param The negative slope of `"leaky_relu"` (default 0.01) or the
#'   `alpha` of `"elu"` (default 1); `NULL` otherwise.
#' @param method `"auto"`, `"table"`, `"gauss_hermite"` or `"integrate"`.
#' @param nodes Number of Gauss-Hermite nodes on each half-line (at most 100).
#' @return A single positive finite number. Parameters whose gain is not
#'   one (such as a `"leaky_relu"` slope of 1e200, whose
#'   \eqn{\sqrt{2 / (1 + slope^2)}} underflows to 0) are an error naming
#'   `param`.
#' @examples
#' gain("tanh")                              # torch's 5/3
#' gain("tanh", method = "gauss_hermite")    # second-moment gain, 1.59
#' gain("leaky_relu", 0.2)
#' gain(function(x) pmax(x, 0))              # sqrt(2)
#' gain(function(x) x / (1 + abs(x)), method = "integrate")
#' @export
gain <- function(activation = "linear", param = NULL,
                 method = c("auto", "table", "gauss_hermite", "integrate"),
                 nodes = 40L) {
  method <- check_choice(method, c("auto", "table", "gauss_hermite", "integrate"),
                         "method")
  check_whole(nodes, "nodes", max = 100)
  if (is.function(activation)) {
    if (!is.null(param)) {
      abort_arg("param", "NULL when `activation` is a function", param)
    }
    if (method == "table") {
      abort_arg("method", "\"auto\", \"gauss_hermite\" or \"integrate\" for a function",
                method)
    }
    f <- activation
    check_gain_function(f, sys.call())
  } else {
    name <- canonical_activation(activation)
    entry <- activation_table[[name]]
    if (is.null(entry$param)) {
      if (!is.null(param)) {
        abort_arg("param", sprintf("NULL for activation \"%s\"", name), param)
      }
    } else {
      if (is.null(param)) param <- entry$param
      param <- check_number(param, "param")
    }
    table <- switch(name, linear = 1, sigmoid = 1, tanh = 5 / 3, relu = sqrt(2),
                    leaky_relu = sqrt(2 / (1 + param^2)), selu = 3 / 4, NULL)
    if (name == "leaky_relu" && !(is.finite(table) && table >= .Machine$double.xmin)) {
      abort_arg("param", sprintf(
        "a slope whose gain sqrt(2 / (1 + param^2)) is a positive finite number (|param| <= %s)",
        format(sqrt(2 / .Machine$double.xmin), digits = 4)), param)
    }
    if (method == "table" || (method == "auto" && !is.null(table))) {
      if (is.null(table)) {
        abort_arg("method", sprintf(
          "\"auto\", \"gauss_hermite\" or \"integrate\": torch's table has no gain for \"%s\"",
          name), method)
      }
      return(table)
    }
    p <- param
    f <- function(x) entry$f(x, p)
  }
  quad <- if (method == "integrate") "integrate" else "gauss_hermite"
  this_call <- sys.call()
  m2 <- tryCatch(
    normal_expectation(function(z) f(z)^2, method = quad, nodes = nodes),
    error = function(e) stop(simpleError(sprintf(
      "`activation`: E[f(Z)^2] could not be computed by %s: %s", quad,
      conditionMessage(e)), call = this_call)))
  if (!is.finite(m2) && !is.function(activation) && !is.null(param)) {
    abort_arg("param", sprintf("a value for which E[f(Z)^2] of \"%s\" is finite", name), param)
  }
  if (!is.finite(m2) || m2 <= 0) {
    abort(sprintf(
      "`activation` has E[f(Z)^2] = %s; the second-moment gain needs a positive finite value.",
      format(m2)))
  }
  if (quad == "gauss_hermite") m2 <- checked_second_moment(f, m2, sys.call())
  g <- 1 / sqrt(m2)
  if (!(is.finite(g) && g > 0)) {
    abort(sprintf(
      "`activation` has E[f(Z)^2] = %s, whose gain 1 / sqrt(E[f(Z)^2]) is not a positive finite number.",
      format(m2)))
  }
  g
}

# A user's activation must be a vectorized function returning numbers.
check_gain_function <- function(f, call) {
  z <- c(-1.5, -0.5, 0.25, 2)
  v <- tryCatch(f(z), error = function(e) e)
  if (inherits(v, "error")) {
    stop(simpleError(sprintf("`activation` fails on c(-1.5, -0.5, 0.25, 2): %s",
                             conditionMessage(v)), call = call))
  }
  if (!is.numeric(v) || length(v) != length(z)) {
    stop(simpleError(sprintf(paste0(
      "`activation` must be a vectorized function returning one number per ",
      "input: f(c(-1.5, -0.5, 0.25, 2)) gave %s."), describe(v)), call = call))
  }
  invisible(TRUE)
}

# Gauss-Hermite's value m2 of E[f(Z)^2], checked for convergence (see
# ?gain): an error naming `activation` where the integral diverges, the
# value of integrate() where it converges but the rule cannot be trusted.
checked_second_moment <- function(f, m2, call) {
  fail <- function(why) {
    stop(simpleError(sprintf(paste0(
      "`activation` has no finite second moment: E[f(Z)^2] diverges (%s). ",
      "The second-moment gain needs a convergent integral."), why), call = call))
  }
  ev <- function(z) {
    v <- f(z)
    if (!is.numeric(v) || length(v) != length(z)) {
      stop(simpleError("`activation` must be a vectorized function returning one number per input.",
                       call = call))
    }
    bad <- !is.finite(v)
    if (any(bad)) {
      fail(sprintf("f(%s) = %s", format(z[bad][1], digits = 6), format(v[bad][1])))
    }
    v
  }
  trust <- TRUE
  # near 0, on each side: |z| f(z)^2 must vanish; f^2 growing means a
  # singularity that the quadrature cannot integrate
  k <- 10^-(2:15)
  for (side in c(-1, 1)) {
    v <- ev(side * k)
    lg <- log(k) + 2 * log(abs(v))
    n <- length(k)
    if (is.finite(lg[n]) && lg[n] > lg[1] - 0.1 && lg[n] > log(m2) - 30) {
      fail(sprintf("f(z)^2 grows at least like 1 / |z| as z -> 0: f(%g) = %s",
                   side * k[n], format(v[n], digits = 4)))
    }
    if (any(abs(v[-1]) > 2 * abs(v[1]) + 1)) trust <- FALSE
  }
  # tails: |z| f(z)^2 phi(z) must decrease, and be negligible beyond 12
  zt <- c(12, 16, 20, 24, 28, 32, 36, 40)
  for (side in c(-1, 1)) {
    v <- ev(side * zt)
    lt <- log(zt) + 2 * log(abs(v)) + stats::dnorm(zt, log = TRUE)
    lt[v == 0] <- -Inf
    if (lt[8] >= lt[6] && is.finite(lt[8])) {
      fail(sprintf("|z| f(z)^2 phi(z) does not decay as z -> %sInf: f(%g) = %s",
                   if (side < 0) "-" else "", side * 40, format(v[8], digits = 4)))
    }
    if (max(lt) > log(m2) + log(1e-14)) trust <- FALSE
  }
  # a midpoint rule on [-12, 12], cells meeting at 0, sees what the nodes miss
  h <- 0.005
  zg <- (seq.int(-2400, 2399) + 0.5) * h
  vg <- ev(zg)
  mid <- h * sum(vg^2 * stats::dnorm(zg))
  if (!is.finite(mid) || abs(mid - m2) > 1e-4 * m2) trust <- FALSE
  if (trust) return(m2)
  h2 <- function(z) {
    v <- f(z)
    out <- v^2 * stats::dnorm(z)
    out[v == 0] <- 0
    out
  }
  parts <- tryCatch(
    vapply(list(c(-40, -12), c(-12, 0), c(0, 12), c(12, 40)), function(r) {
      stats::integrate(h2, r[1], r[2], rel.tol = 1e-10, subdivisions = 1000L)$value
    }, 0),
    error = function(e) fail(sprintf("stats::integrate(): %s", conditionMessage(e))))
  m2i <- sum(parts)
  if (!is.finite(m2i) || m2i <= 0) fail(sprintf("stats::integrate() gives %s", format(m2i)))
  m2i
}
