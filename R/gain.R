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
#' @return A single positive number.
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
  } else {
    name <- canonical_activation(activation)
    entry <- activation_table[[name]]
    if (is.null(entry$param)) {
      if (!is.null(param)) {
        abort_arg("param", sprintf("NULL for activation \"%s\"", name), param)
      }
    } else {
      if (is.null(param)) param <- entry$param
      check_number(param, "param")
    }
    table <- switch(name, linear = 1, sigmoid = 1, tanh = 5 / 3, relu = sqrt(2),
                    leaky_relu = sqrt(2 / (1 + param^2)), selu = 3 / 4, NULL)
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
  m2 <- normal_expectation(function(z) f(z)^2, method = quad, nodes = nodes)
  if (!is.finite(m2) || m2 <= 0) {
    stop(simpleError(sprintf(
      "`activation` has E[f(Z)^2] = %s; the second-moment gain needs a positive finite value.",
      format(m2)), call = sys.call()))
  }
  1 / sqrt(m2)
}
