# Dense networks: mlp() and activations.

# Codes shared with src/propagate.c.
activation_codes <- c(linear = 0L, tanh = 1L, sigmoid = 2L, softsign = 3L,
                      relu = 4L, leaky_relu = 5L, selu = 6L, scaled_tanh = 7L,
                      elu = 8L, r_function = 9L)

#' Activation functions
#'
#' `activation()` describes the nonlinearity \eqn{f} of a layer, for [mlp()].
#' Built-in activations run in C: `"linear"` (or `"identity"`), `"tanh"`,
#' `"sigmoid"`, `"softsign"` \eqn{x / (1 + |x|)} (Glorot and Bengio's three are
#' tanh, sigmoid and softsign), `"relu"`, `"leaky_relu"` (`param` = negative
#' slope, default 0.01), `"elu"` (`param` = alpha, default 1), `"selu"` and
#' `"scaled_tanh"`, LeCun's \eqn{1.7159 \tanh(2x/3)}. Any other activation is
#' given as a vectorized R function `f` with its derivative `df`; networks
#' that use one run on a slower path (R is called for each layer, on one
#' thread).
#'
#' @param name A built-in activation's name, or a label for `f`.
#' @param param The parameter of `"leaky_relu"` or `"elu"`; `NULL` for the
#'   default.
#' @param f,df For a custom activation: vectorized R functions computing
#'   \eqn{f(x)} and \eqn{f'(x)}.
#' @return An `initvar_activation` object.
#' @examples
#' activation("tanh")
#' activation("leaky_relu", 0.2)
#' swish <- activation("swish", f = function(x) x * plogis(x),
#'                     df = function(x) plogis(x) * (1 + x * (1 - plogis(x))))
#' swish
#' @export
activation <- function(name, param = NULL, f = NULL, df = NULL) {
  check_string(name, "name")
  if (!is.null(f) || !is.null(df)) {
    if (!is.function(f)) abort_arg("f", "a vectorized R function", f)
    if (!is.function(df)) abort_arg("df", "a vectorized R function (the derivative of `f`)", df)
    if (!is.null(param)) abort_arg("param", "NULL for a custom activation", param)
    return(structure(list(name = name, code = activation_codes[["r_function"]],
                          param = 0, f = f, df = df, kinks = numeric()),
                     class = "initvar_activation"))
  }
  canon <- canonical_activation(name, "name")
  entry <- activation_table[[canon]]
  if (is.null(entry$param)) {
    if (!is.null(param)) abort_arg("param", sprintf("NULL for activation \"%s\"", canon), param)
    param <- 0
  } else {
    if (is.null(param)) param <- entry$param
    check_number(param, "param")
  }
  p <- param
  structure(list(name = canon, code = activation_codes[[canon]], param = param,
                 f = function(x) entry$f(x, p), df = function(x) entry$df(x, p),
                 kinks = if (is.null(entry$kinks)) numeric() else entry$kinks),
            class = "initvar_activation")
}

#' @export
format.initvar_activation <- function(x, ...) {
  if (x$name %in% c("leaky_relu", "elu")) {
    sprintf("%s(%s)", x$name, format(x$param))
  } else if (x$code == activation_codes[["r_function"]]) {
    paste0(x$name, " (R function)")
  } else {
    x$name
  }
}

#' @export
print.initvar_activation <- function(x, ...) {
  cat("<initvar activation> ", format(x), "\n", sep = "")
  invisible(x)
}

as_activation <- function(x, arg) {
  if (inherits(x, "initvar_activation")) return(x)
  if (is.character(x) && length(x) == 1 && !is.na(x)) {
    return(tryCatch(activation(x), error = function(e) {
      abort_arg(arg, paste0("a known activation (",
                            paste0("\"", activation_names(), "\"", collapse = ", "),
                            ") or an `activation()`"), x)
    }))
  }
  if (is.function(x)) {
    abort_arg(arg, "a name or an `activation()`: a function needs its derivative, as `activation(\"name\", f = f, df = df)`", x)
  }
  abort_arg(arg, "an activation name or an `activation()`", x)
}

# One value, or one per layer, as a list of length d.
per_layer <- function(x, d, arg, is_one) {
  if (is_one(x)) return(rep(list(x), d))
  if (is.character(x) && length(x) > 1) x <- as.list(x)
  if (is.list(x) && !inherits(x, "initvar_scheme") && !inherits(x, "initvar_activation")) {
    if (length(x) != d) {
      abort(sprintf(
        "`%s` must be one value or a list of one per layer (%d), not a list of length %d.",
        arg, d, length(x)))
    }
    return(x)
  }
  rep(list(x), d)
}

#' A dense feed-forward network at initialization
#'
#' `mlp()` describes a multilayer perceptron in Glorot and Bengio's notation:
#' \eqn{s^i = z^i W^i + b^i}, \eqn{z^{i+1} = f(s^i)}, with \eqn{z^0 = x} a row
#' vector of \eqn{n_0} inputs, and weight matrices \eqn{W^i} of size
#' \eqn{n_i \times n_{i+1}}. Layer \eqn{i} (1-based, as in the tables of
#' [predict_variance()] and [simulate_network()]) holds \eqn{W^{i-1}},
#' takes \eqn{z^{i-1}} to \eqn{s^{i-1}} and outputs \eqn{z^i}.
#'
#' @param widths Layer widths \eqn{n_0, n_1, \dots, n_d}: at least two
#'   positive whole numbers.
#' @param activation One activation for every layer, or one per layer (a
#'   character vector or a list): names as in [activation()], or
#'   `activation()` objects.
#' @param init The weight initialization: one scheme, or a list of one per
#'   layer.
#' @param bias The bias initialization: a scheme that does not depend on the
#'   layer size ([init_constant()], [init_zeros()], [init_normal()],
#'   [init_uniform()], [init_truncated_normal()]), or a list of one per
#'   layer.
#' @return An `initvar_mlp` object.
#' @examples
#' # Glorot and Bengio's network: 5 hidden tanh layers of 1000 units
#' net <- mlp(c(784, rep(1000, 5), 10), "tanh", init_glorot())
#' net
#' # He et al.'s ReLU network, linear output
#' mlp(c(100, 100, 100, 10), c("relu", "relu", "linear"), init_he())
#' @export
mlp <- function(widths, activation = "tanh", init = init_glorot(),
                bias = init_constant(0)) {
  if (!is.numeric(widths) || length(widths) < 2 || anyNA(widths) ||
      any(!is.finite(widths)) || any(widths != round(widths)) || any(widths < 1)) {
    abort_arg("widths", "a vector of at least 2 positive whole numbers", widths)
  }
  if (any(widths > 2^24)) abort_arg("widths", "a vector of widths no larger than 16,777,216", widths)
  d <- length(widths) - 1L
  acts <- per_layer(activation, d, "activation",
                    function(x) inherits(x, "initvar_activation") ||
                      is.function(x) || (is.character(x) && length(x) == 1))
  acts <- lapply(seq_len(d), function(i) {
    as_activation(acts[[i]], if (d == 1) "activation" else sprintf("activation[[%d]]", i))
  })
  inits <- per_layer(init, d, "init", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) check_scheme(inits[[i]], if (d == 1) "init" else sprintf("init[[%d]]", i))
  biases <- per_layer(bias, d, "bias", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) {
    arg <- if (d == 1) "bias" else sprintf("bias[[%d]]", i)
    check_scheme(biases[[i]], arg)
    if (!biases[[i]]$family %in% fan_free) {
      abort_arg(arg, "a scheme that does not depend on the layer size, such as `init_constant(0)`",
                biases[[i]]$label)
    }
  }
  structure(list(widths = as.double(widths), activation = acts, init = inits,
                 bias = biases), class = "initvar_mlp")
}

#' @export
print.initvar_mlp <- function(x, ...) {
  w <- x$widths
  d <- length(w) - 1
  cat(sprintf("<initvar mlp> %d layer%s, %s\n", d, if (d > 1) "s" else "",
              paste(format(w, scientific = FALSE, trim = TRUE), collapse = " -> ")))
  acts <- vapply(x$activation, format, "")
  # as a reader would draw it: x -> [W, b] -> s -> f -> z -> ...
  chain <- paste0("x(", w[1], ")")
  for (i in seq_len(d)) {
    chain <- paste0(chain, " -W", i - 1, "-> s", i - 1, " -", acts[i], "-> z", i,
                    "(", w[i + 1], ")")
  }
  cat(strwrap(chain, width = 78, exdent = 2), sep = "\n")
  tab <- data.frame(
    layer = seq_len(d),
    n_in = format(w[-(d + 1)], scientific = FALSE),
    n_out = format(w[-1], scientific = FALSE),
    activation = acts,
    weights = vapply(x$init, function(s) s$label, ""),
    `Var(W)` = formatC(vapply(seq_len(d), function(i)
      weight_variance(x$init[[i]], w[i], w[i + 1]), 0), digits = 4, format = "g"),
    bias = vapply(x$bias, function(s) scheme_distribution_text(s), ""),
    check.names = FALSE, stringsAsFactors = FALSE)
  print(tab, row.names = FALSE, right = FALSE)
  invisible(x)
}
