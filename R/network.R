# Dense networks: mlp() and activations.

#' Activation functions
#'
#' `activation()` describes the nonlinearity \eqn{f} of a layer, for [mlp()],
#' [linear_regime()] and [gain()].
#'
#' @section Built-in activations:
#' These run in C: `"linear"` (or `"identity"`), `"tanh"`, `"sigmoid"`,
#' `"softsign"` \eqn{x / (1 + |x|)} (Glorot and Bengio's three are tanh,
#' sigmoid and softsign), `"relu"`, `"leaky_relu"` (`param` = negative slope,
#' default 0.01), `"elu"` (`param` = alpha, default 1), `"selu"`,
#' `"scaled_tanh"`, LeCun's \eqn{1.7159 \tanh(2x/3)}, and the smooth
#' activations of transformers and modern convolutional networks:
#' * `"gelu"`: \eqn{x \Phi(x)}, \eqn{\Phi} the standard normal CDF (the exact
#'   GELU of Hendrycks and Gimpel, torch's default `approximate = "none"`);
#' * `"gelu_tanh"`: \eqn{\frac{1}{2} x (1 + \tanh(\sqrt{2/\pi}(x + 0.044715
#'   x^3)))}, the tanh approximation (torch's `approximate = "tanh"`);
#' * `"silu"` (alias `"swish"`): \eqn{x \sigma(x)}, \eqn{\sigma} the logistic
#'   sigmoid;
#' * `"mish"`: \eqn{x \tanh(\mathrm{softplus}(x))},
#'   \eqn{\mathrm{softplus}(x) = \log(1 + e^x)}.
#'
#' The C forms avoid cancellation and overflow (\eqn{\Phi} through `erfc`,
#' softplus as \eqn{\log(1 + e^{-|x|}) + \max(x, 0)}, \eqn{1 + \tanh u} as
#' \eqn{2 \sigma(2u)}) and agree with the R forms to about 1e-15 relative,
#' for \eqn{|x|} up to 1e3 and beyond.
#'
#' No framework documents a gain for GELU, SiLU or Mish, so `gain("gelu",
#' method = "table")` is an error and `gain("gelu")` returns the
#' second-moment gain \eqn{1 / \sqrt{E[f(Z)^2]}}, \eqn{Z \sim N(0, 1)}, by
#' half-range Gauss-Hermite quadrature (40 nodes on each half-line, accurate to rounding for
#' these smooth functions; checked against [stats::integrate()] to 1e-10):
#' 1.5335 for gelu, 1.5336 for gelu_tanh, 1.6765 for silu and 1.4868 for
#' mish.
#'
#' @section R functions:
#' Any other activation is a vectorized R function of one argument: give it
#' as `activation(f)`, as `activation("label", f = f)`, or directly to
#' [mlp()] and [linear_regime()]. When `df` is not given the derivative is
#' found by [stats::D()] if the body of `f` is a single expression that `D()`
#' can differentiate (arithmetic, `exp`, `log`, `tanh`, `pnorm`, ...; a
#' primitive such as `tanh` itself also works) and agrees with a numerical
#' derivative at a few points; otherwise (`pmax`, `abs`, `plogis`, `ifelse`,
#' several statements) by a five-point central difference with step
#' \eqn{h = \epsilon^{1/5} \max(|x|, 1)}, whose error is about 1e-12
#' relative to the size of \eqn{f} on that scale for a smooth \eqn{f}
#' (truncation \eqn{h^4 |f^{(5)}| / 30} and rounding \eqn{1.5 \epsilon |f| /
#' h} balance there; tested to 1e-10 absolute against exact derivatives).
#' Within \eqn{2h} of a kink the difference is one-sided (on the side of
#' \eqn{x}, the right side at the kink itself), so give the `kinks` of a
#' function that bends (`pmax(x, 0)` bends at 0): they also split the
#' quadrature of [predict_variance()] and [linear_regime()] there, which is
#' otherwise slow or inaccurate. `print()` says which derivative was used.
#' Networks with an R function run on a slower path (R is called for each
#' layer, on one thread).
#'
#' @param name A built-in activation's name, or a label for `f`; or an R
#'   function (then `f` must be `NULL`), labelled by its code.
#' @param param The parameter of `"leaky_relu"` or `"elu"`; `NULL` for the
#'   default.
#' @param f,df For a custom activation: vectorized R functions computing
#'   \eqn{f(x)} and \eqn{f'(x)}; `df = NULL` derives it (see "R functions").
#' @param kinks For a custom activation: the points where `f` or its
#'   derivative jumps (`0` for `pmax(x, 0)` or `abs(x)`); `NULL` for none.
#'   Built-in activations know their own.
#' @return An `initvar_activation` object: a list with `name`, `code` (of
#'   the C engine), `param`, `f`, `df`, `kinks`, `text` (the formula) and
#'   `derivative` (how `df` was obtained). `plot()` draws \eqn{f} and
#'   \eqn{f'} (see [plot.initvar_activation()]).
#' @examples
#' activation("tanh")
#' activation("leaky_relu", 0.2)
#' activation("gelu")
#' activation(function(x) x * pnorm(x))            # derivative by stats::D()
#' relu <- activation("my relu", f = function(x) pmax(x, 0), kinks = 0)
#' relu$df(c(-1, 0, 1))                            # numerical: 0 1 1
#' swish <- activation("swish", f = function(x) x * plogis(x),
#'                     df = function(x) plogis(x) * (1 + x * (1 - plogis(x))))
#' swish
#' @export
activation <- function(name, param = NULL, f = NULL, df = NULL, kinks = NULL) {
  if (is.function(name)) {
    if (!is.null(f)) abort_arg("f", "NULL when `name` is a function", f)
    f <- name
    name <- function_label(f)
  }
  check_string(name, "name")
  if (!is.null(f) || !is.null(df)) {
    check_activation_function(f, "f")
    if (!is.null(df)) check_activation_function(df, "df")
    if (!is.null(param)) abort_arg("param", "NULL for a custom activation", param)
    kinks <- check_kinks(kinks)
    deriv <- if (is.null(df)) derive_activation(f, kinks) else list(df = df, method = "given")
    return(structure(list(name = name, code = activation_codes[["r_function"]],
                          param = 0, f = f, df = deriv$df, kinks = kinks,
                          text = function_label(f), derivative = deriv$method),
                     class = "initvar_activation"))
  }
  if (!is.null(kinks)) {
    abort_arg("kinks", "NULL for a built-in activation (it knows its kinks)", kinks)
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
  in_c <- !is.null(entry$code)
  structure(list(name = canon, code = if (in_c) entry$code else activation_codes[["r_function"]],
                 param = param,
                 f = function(x) entry$f(x, p), df = function(x) entry$df(x, p),
                 kinks = if (is.null(entry$kinks)) numeric() else entry$kinks,
                 text = entry$text,
                 derivative = if (in_c) "exact (built in, C and R)" else "exact (built in, R)"),
            class = "initvar_activation")
}

#' @export
format.initvar_activation <- function(x, ...) {
  if (x$name %in% c("leaky_relu", "elu")) {
    sprintf("%s(%s)", x$name, format(x$param))
  } else if (x$code == activation_codes[["r_function"]]) {
    if (identical(x$name, x$text)) x$name else paste0(x$name, " (R function)")
  } else {
    x$name
  }
}

#' @export
print.initvar_activation <- function(x, ...) {
  custom <- x$code == activation_codes[["r_function"]]
  cat("<initvar activation> ", format(x), "\n", sep = "")
  if (!is.null(x$text)) cat("  f(x)        = ", x$text, "\n", sep = "")
  if (x$name %in% c("leaky_relu", "elu")) {
    cat("  param       = ", format(x$param), "\n", sep = "")
  }
  cat("  derivative  : ", if (is.null(x$derivative)) "given" else x$derivative, "\n", sep = "")
  cat("  kinks       : ", if (length(x$kinks)) paste(format(x$kinks), collapse = ", ") else
    "none (smooth)", "\n", sep = "")
  g <- activation_gain(x)
  cat("  gain        : ", if (is.na(g)) "undefined (E[f(Z)^2] is 0 or infinite)" else
    sprintf("%.4f = 1 / sqrt(E[f(Z)^2]), Z ~ N(0, 1)", g), "\n", sep = "")
  cat("  runs        : ", if (custom) "in R (slower, one thread)" else "in C", "\n", sep = "")
  invisible(x)
}

# The second-moment gain 1 / sqrt(E[f(Z)^2]) of an activation object; NA
# when it is not defined.
activation_gain <- function(a) {
  m2 <- tryCatch(normal_expectation(function(z) a$f(z)^2, kinks = a$kinks),
                 error = function(e) NA_real_)
  if (!is.finite(m2) || m2 <= 0) return(NA_real_)
  1 / sqrt(m2)
}

as_activation <- function(x, arg) {
  if (inherits(x, "initvar_activation")) {
    why <- activation_problem(x)
    if (!is.null(why)) {
      abort(sprintf(paste0("`%s` must be an activation name, an R function or an `activation()`, ",
                           "not a forged <initvar_activation> (%s)."), arg, why))
    }
    return(x)
  }
  if (is.character(x) && length(x) == 1 && !is.na(x)) {
    canon <- canonical_activation(x, arg)
    return(activation(canon))
  }
  if (is.function(x)) {
    check_activation_function(x, arg)
    return(tryCatch(activation(x), error = function(e) {
      abort(sprintf("`%s` could not be made an activation: %s", arg, conditionMessage(e)))
    }))
  }
  abort_arg(arg, "an activation name, an R function or an `activation()`", x)
}

# Why an object of class initvar_activation is not one activation() makes
# (NULL when it is): a list with a `name`, a known engine `code`, a numeric
# `param`, finite `kinks`, and `f` and `df` vectorized functions.
activation_problem <- function(a) {
  if (!is.list(a)) return("not a list")
  if (!is.character(a$name) || length(a$name) != 1 || is.na(a$name)) return("it has no `name`")
  if (!is.numeric(a$code) || length(a$code) != 1 || !a$code %in% activation_codes) {
    return("its `code` is not a known activation code")
  }
  if (!is.numeric(a$param) || length(a$param) != 1 || is.na(a$param)) {
    return("its `param` is not a number")
  }
  if (!is.numeric(a$kinks) || anyNA(a$kinks) || !all(is.finite(a$kinks))) {
    return("its `kinks` are not finite numbers")
  }
  for (nm in c("f", "df")) {
    if (!is.function(a[[nm]])) return(sprintf("its `%s` is not a function", nm))
    why <- activation_function_problem(a[[nm]])
    if (!is.null(why)) return(sprintf("its `%s`: %s", nm, sub("^f\\(", paste0(nm, "("), why)))
  }
  NULL
}

# One value, or one per layer, as a list of length d.
per_layer <- function(x, d, arg, is_one) {
  if (is_one(x)) return(rep(list(x), d))
  was_vector <- is.character(x) && length(x) > 1
  if (was_vector) x <- as.list(x)
  if (is.list(x) && !inherits(x, "initvar_scheme") && !inherits(x, "initvar_activation")) {
    if (length(x) != d) {
      abort(sprintf(
        "`%s` must be one value or a list of one per layer (%d), not %s of length %d.",
        arg, d, if (was_vector) "a vector" else "a list", length(x)))
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
#'   character vector or a list): names as in [activation()], vectorized R
#'   functions (derivative found as in [activation()]), or `activation()`
#'   objects.
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
  if (is.matrix(widths) || is.array(widths) || is.list(widths)) {
    abort(sprintf(paste0(
      "`widths` must be a plain vector of layer widths, such as c(784, 256, 10), not %s: ",
      "a network is a chain of widths (its weights are drawn for you)."),
      if (is.list(widths)) "a list" else
        sprintf("a %s %s", paste(dim(widths), collapse = " x "),
                if (is.matrix(widths)) "matrix" else "array")))
  }
  if (!is.numeric(widths) || length(widths) < 2) {
    abort_arg("widths", "a vector of at least 2 positive whole numbers", widths)
  }
  # each width a positive whole number (naming the first bad element); not
  # check_dim(), which also bounds prod(widths), the size of an array of
  # that shape, never allocated for a chain of widths
  bad <- which(is.na(widths) | !is.finite(widths) | widths != round(widths) | widths < 1)
  if (length(bad)) {
    abort_arg(sprintf("widths[%d]", bad[1]), "a positive whole number", widths[bad[1]])
  }
  if (any(widths > max_width)) {
    abort_arg("widths", "a vector of widths no larger than 16,777,216", widths)
  }
  d <- length(widths) - 1L
  parts <- layer_parts(activation, init, bias, d)
  acts <- parts$activation
  inits <- parts$init
  biases <- parts$bias
  layers <- lapply(seq_len(d), function(i) {
    new_layer("dense", widths[i], widths[i + 1], activation = acts[[i]], init = inits[[i]],
              bias = biases[[i]])
  })
  new_network(layers)
}

# The per-layer activation, weight scheme and bias scheme of a chain of d
# layers (mlp(), cnn()): each argument one value or one per layer, checked
# and named by element (`init[[2]]`); biases must not depend on the layer.
layer_parts <- function(activation, init, bias, d) {
  name <- function(arg, i) if (d == 1) arg else sprintf("%s[[%d]]", arg, i)
  acts <- per_layer(activation, d, "activation",
                    function(x) inherits(x, "initvar_activation") ||
                      is.function(x) || (is.character(x) && length(x) == 1))
  acts <- lapply(seq_len(d), function(i) as_activation(acts[[i]], name("activation", i)))
  inits <- per_layer(init, d, "init", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) check_scheme(inits[[i]], name("init", i))
  biases <- per_layer(bias, d, "bias", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) check_bias_scheme(biases[[i]], name("bias", i))
  list(activation = acts, init = inits, bias = biases)
}

# A bias scheme: a real scheme that does not depend on the layer size.
check_bias_scheme <- function(s, arg) {
  check_scheme(s, arg)
  if (!s$family %in% fan_free) {
    abort_arg(arg, "a scheme that does not depend on the layer size, such as `init_constant(0)`",
              s$label)
  }
  invisible(s)
}

# ---- a network is a list of layers ------------------------------------------

# Layer kinds. Each layer is a list with its `kind`, `n_in`, `n_out` and the
# kind's own fields (dense: `activation`, `init`, `bias`). Its kind knows
#   fans(layer):      the fans its weights' scheme sees;
#   forward(layer, m2_in, mean_in, regime): the moments of its output given
#     E[z_in^2] (and E[z_in]) of its input, in the linear regime or at
#     infinite width: list(var_s, mean_s, var_z, mean_z, m2_z, dfd2), dfd2 =
#     E[f'(s)^2];
#   backward(layer, var_g, fwd): the variance of dC/dz_in from that of dC/ds
#     (fwd: the layer's forward result);
#   units(layer): its dense units (weight matrices) in the engine's order;
#   and whether the C engine runs it (its code in layer_kind_codes,
#   src/vocab.h: the kernel the engine dispatches on).
# A new kind (residual blocks, normalization, attention, convolutions) is a
# new entry here, its code in the vocabularies, and its case in the engine.
layer_kinds <- list(
  dense = list(
    fans = function(l) c(fan_in = l$n_in, fan_out = l$n_out),
    forward = function(l, m2_in, mean_in, regime) {
      v <- weight_variance(l$init, l$n_in, l$n_out)
      bm <- weight_mean(l$bias)
      q <- l$n_in * v * m2_in + weight_variance(l$bias)
      if (regime == "linear") {
        return(list(var_s = q, mean_s = bm, var_z = q, mean_z = bm, m2_z = q + bm^2, dfd2 = 1))
      }
      a <- l$activation
      ex <- function(g) normal_expectation(g, sqrt(q), bm, kinks = a$kinks)
      m1 <- ex(a$f)
      # central moments computed centrally: E[z^2] - E[z]^2 cancels when
      # the mean is large (a bias mean of 1e8)
      vz <- ex(function(x) (a$f(x) - m1)^2)
      list(var_s = q, mean_s = bm, var_z = vz, mean_z = m1, m2_z = vz + m1^2,
           dfd2 = ex(function(x) a$df(x)^2))
    },
    backward = function(l, var_g, fwd = NULL) {
      l$n_out * weight_variance(l$init, l$n_in, l$n_out) * var_g
    },
    units = function(l) list(l),
    engine = TRUE),
  # residual blocks: R/net-residual.R
  residual = residual_kind,
  # transformer attention sublayers: R/net-transformer.R
  attention = attention_kind,
  # convolutions and the pooled read-out: R/net-conv.R
  conv = conv_kind)

new_layer <- function(kind, n_in, n_out, ...) {
  if (is.null(layer_kinds[[kind]])) stop("internal error: unknown layer kind ", kind)
  structure(list(kind = kind, n_in = as.double(n_in), n_out = as.double(n_out), ...),
            class = c(paste0("initvar_net_layer_", kind), "initvar_net_layer"))
}

# A network from its layers: the list `layers`, and for the dense stacks of
# Glorot's notation the per-layer summaries the predictions and reports
# read (`widths`, `activation`, `init`, `bias`), derived from the layers.
new_network <- function(layers) {
  widths <- c(layers[[1]]$n_in, vapply(layers, function(l) l$n_out, 0))
  structure(list(layers = layers, widths = as.double(widths),
                 activation = lapply(layers, `[[`, "activation"),
                 init = lapply(layers, `[[`, "init"),
                 bias = lapply(layers, `[[`, "bias")),
            class = "initvar_mlp")
}

# The layers of a network (networks made before layers existed carry only
# the per-layer summaries: their layers are dense).
net_layers <- function(net) {
  if (!is.null(net$layers)) return(net$layers)
  w <- net$widths
  lapply(seq_along(net$activation), function(i) {
    new_layer("dense", w[i], w[i + 1], activation = net$activation[[i]],
              init = net$init[[i]], bias = net$bias[[i]])
  })
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
