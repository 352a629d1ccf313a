# Exact moments of a scheme on a layer: weight_variance(), weight_mean().

dist_moments <- function(r) family_of(r$family)$moments(r)

# Moments for a layer description: the scheme resolved with the layer's
# real fans (which may be fractional: a strided transposed convolution).
layer_moments <- function(scheme, layer, fans_given, dim) {
  if (!inherits(layer, "initvar_layer")) {
    abort_arg("layer", "a layer such as `conv_layer(64, 16, c(4, 4), transposed = TRUE)`", layer)
  }
  check_fan_layer(layer, "layer")
  if (fans_given || !is.null(dim)) {
    abort("Give `layer` alone, not with `fan_in`, `fan_out` or `dim`: the layer determines the fans.")
  }
  if (scheme$family %in% c("delta_orthogonal", "conv_orthogonal")) {
    return(delta_layer_moments(scheme, layer))
  }
  if (scheme$family %in% c("identity", "orthogonal", "sparse")) {
    abort_arg("layer", sprintf(
      "left out for `init_%s()`, whose draw depends on the weight's shape: give `dim`",
      scheme$family), layer)
  }
  f <- real_fans(layer)
  dist_moments(resolve_scheme(scheme, f[["fan_in"]], f[["fan_out"]]))
}

scheme_moments <- function(scheme, fan_in, fan_out, dim, layout) {
  if (missing(fan_in) && is.null(dim) && scheme$family %in% fan_free) {
    return(dist_moments(resolve_scheme(scheme, 1, 1)))
  }
  # forced here: a fan-free family's resolve() never reads the shape, and a
  # lazy shape would leave bad fans (NA, NULL, "3") unchecked
  shape <- layer_shape(scheme, fan_in, fan_out, dim, layout)
  dist_moments(resolve_for(scheme, shape))
}

# `fan_out` given without `fan_in`: checked even where the scheme ignores it.
check_lone_fan_out <- function(fan_in_missing, fan_out_missing, fan_out) {
  if (fan_in_missing && !fan_out_missing) {
    if (is.numeric(fan_out) && length(fan_out) > 1) {
      for (v in fan_out) check_whole(v, "fan_out")
    } else {
      check_whole(fan_out, "fan_out")
    }
  }
  invisible(TRUE)
}

#' Exact mean and variance of a scheme's weights
#'
#' `weight_variance()` is the variance a scheme *realizes* for a layer with
#' `fan_in` inputs and `fan_out` outputs, computed exactly: a truncated
#' normal's variance accounts for the truncation (to about 1e-15 relative for
#' any interval: far tails through the Mills ratio's continued fraction,
#' narrow intervals by Gauss-Legendre quadrature about their midpoint), and
#' a sparse scheme's for its zeros. It is the `Var(W)` of Glorot and
#' Bengio's equations.
#'
#' The mean and variance are those of the entry \eqn{W_{ij}} at a uniformly
#' random position \eqn{(i, j)}, over the randomness of the draw. For schemes
#' whose entries are exchangeable (all but identity) this is the mean and
#' variance of every entry; for the identity, whose entries are fixed, it is
#' the spread of the matrix's entries.
#'
#' @param scheme An initialization scheme, such as [init_glorot()].
#' @param fan_in,fan_out Layer sizes: the weight matrix is `fan_in x fan_out`.
#'   `fan_out` defaults to `fan_in`. Vectors give one value per layer: both
#'   of the same length, or one of them of length 1 (recycled); any other
#'   pair of lengths is an error. Schemes whose distribution does not depend
#'   on the layer (uniform, normal, truncated normal, constant) need neither.
#' @param dim Alternatively, an array shape, read with [fans()]. Giving both
#'   `dim` and `fan_in` (or `fan_out`) is accepted only when they agree with
#'   `fans(dim, layout)`; otherwise it is an error naming both.
#' @param layout Layout of `dim`: `"torch"` (out, in, k...) or `"keras"`
#'   (k..., in, out). It must be named when the two read `dim` differently
#'   (`c(784, 256)` is fan_in 256 to torch, 784 to Keras): then the default,
#'   `NULL`, is an error rather than a guess. A shape both read alike (a
#'   square matrix), or a scheme that needs no fans, needs none.
#' @param layer Alternatively (alone), a layer description such as
#'   [conv_layer()]: the scheme uses the layer's real fans (see [fans()]),
#'   which differ from those of its weight's shape for transposed, grouped,
#'   depthwise and strided convolutions and packed projections. Not for the
#'   identity, orthogonal and sparse schemes, whose draw depends on the shape.
#' @param ... Nothing: an argument not listed is an error that names it.
#' @return A single number, or one per layer for vector fans.
#' @examples
#' weight_variance(init_glorot(), 1000, 1000)
#' weight_variance(init_glorot_standard(), 1000, 1000)   # 1 / (3 * 1000)
#' weight_variance(init_he("normal", convention = "tfjs"), 100)   # 0.7737 * 2 / 100
#' weight_variance(init_he(), dim = c(64, 3, 3, 3), layout = "torch")   # Conv2d(3, 64, 3)
#' # torch ConvTranspose2d(64, 16, 4): its weight (64, 16, 4, 4) read as
#' # (out, in, k, k) gives 4x the variance He asks for
#' weight_variance(init_he(), dim = c(64, 16, 4, 4), layout = "torch")       # 2 / 256
#' weight_variance(init_he(), layer = conv_layer(64, 16, c(4, 4), transposed = TRUE))   # 2 / 1024
#' weight_mean(init_uniform(0, 1), 2, 2)
#' weight_variance(init_glorot(), c(784, 256, 128), c(256, 128, 10))   # a whole network
#' @export
weight_variance <- function(scheme, fan_in, fan_out = fan_in, dim = NULL,
                            layout = NULL, layer = NULL, ...) {
  check_dots(...)
  check_scheme(scheme, engine = FALSE)
  check_lone_fan_out(missing(fan_in), missing(fan_out), if (!missing(fan_out)) fan_out)
  layout <- shape_layout(layout, if (is.null(layer)) dim, !(scheme$family %in% fan_free),
                         if (!missing(fan_in)) fan_in, if (!missing(fan_out)) fan_out)
  if (!is.null(layer)) {
    return(layer_moments(scheme, layer, !missing(fan_in) || !missing(fan_out), dim)[["var"]])
  }
  if (!is.null(dim)) check_dim(dim, "dim")   # even where the scheme ignores it
  if (!missing(fan_in) && !is.null(dim)) {
    check_dim_fans(fan_in, fan_out, !missing(fan_out), dim, layout)
  }
  if (vector_fans(fan_in, fan_out, dim)) {
    l <- layer_fans(fan_in, fan_out)
    return(unname(mapply(function(a, b) weight_variance(scheme, a, b), l$fan_in, l$fan_out)))
  }
  scheme_moments(scheme, fan_in, fan_out, dim, layout)[["var"]]
}

#' @rdname weight_variance
#' @export
weight_mean <- function(scheme, fan_in, fan_out = fan_in, dim = NULL,
                        layout = NULL, layer = NULL, ...) {
  check_dots(...)
  check_scheme(scheme, engine = FALSE)
  check_lone_fan_out(missing(fan_in), missing(fan_out), if (!missing(fan_out)) fan_out)
  layout <- shape_layout(layout, if (is.null(layer)) dim, !(scheme$family %in% fan_free),
                         if (!missing(fan_in)) fan_in, if (!missing(fan_out)) fan_out)
  if (!is.null(layer)) {
    return(layer_moments(scheme, layer, !missing(fan_in) || !missing(fan_out), dim)[["mean"]])
  }
  if (!is.null(dim)) check_dim(dim, "dim")   # even where the scheme ignores it
  if (!missing(fan_in) && !is.null(dim)) {
    check_dim_fans(fan_in, fan_out, !missing(fan_out), dim, layout)
  }
  if (vector_fans(fan_in, fan_out, dim)) {
    l <- layer_fans(fan_in, fan_out)
    return(unname(mapply(function(a, b) weight_mean(scheme, a, b), l$fan_in, l$fan_out)))
  }
  scheme_moments(scheme, fan_in, fan_out, dim, layout)[["mean"]]
}
