# The fan-rule conformance table: for each convolution type and framework,
# the fans the framework computes for the layer's weight, the layer's real
# fans (R/fans.R: real_fans()), and the variance the framework's He and
# Glorot initializers realize against the rule's target with the real fans.

#' Fan-rule conformance of torch, Keras 3, JAX/Flax, MLX and TensorFlow.js
#'
#' For each convolution (standard, strided, grouped, depthwise, transposed
#' at strides 1 and 2, grouped transposed, dilated, or your own layers), the
#' fans each framework computes for the layer's weight beside the layer's
#' real fans (see [fans()]), and the weight variance the framework's He
#' (`fan_in` and `fan_out`) and Glorot initializers realize, as a ratio to
#' the variance the rule asks for with the real fans. A ratio of 0.25 under
#' He `fan_out` means the backward variance shrinks 4-fold at that layer
#' instead of being kept.
#'
#' @section The frameworks' rules, from their source:
#' * torch (`torch/nn/init.py`, `_calculate_fan_in_and_fan_out`): weight
#'   `(out, in/groups, k...)`, or `(in, out/groups, k...)` transposed;
#'   `fan_in = shape[2] * prod(k)`, `fan_out = shape[1] * prod(k)`. He is
#'   `kaiming_normal_` (untruncated), Glorot `xavier_uniform_`. A grouped or
#'   depthwise convolution gets `fan_out = out * prod(k)`, not `out/groups *
#'   prod(k)` (pytorch#23854: `Conv2d(4, 4, 3, groups = 4)` has fans (9, 36)
#'   against the real (9, 9)); transposed convolutions read the fans from the
#'   wrong axes (pytorch#7865).
#' * Keras 3 (`keras/src/initializers/random_initializers.py`,
#'   `compute_fans`): the kernel `(k..., in/groups, out)`, `(k..., out, in)`
#'   transposed, `(k..., in, multiplier)` depthwise; `fan_in = shape[-2] *
#'   prod(k)`, `fan_out = shape[-1] * prod(k)`. `HeNormal` is the corrected
#'   truncated normal (realized = target), `GlorotUniform` the layers'
#'   default. No grouped transposed convolution (`NA`).
#' * JAX / Flax (`jax/_src/nn/initializers.py`, `variance_scaling` with
#'   `in_axis = -2, out_axis = -1`; `flax/linen/linear.py`): `Conv` kernels
#'   `(k..., in/groups, out)` (depthwise through `feature_group_count`),
#'   `ConvTranspose` `(k..., in, out)`; `he_normal` is the corrected truncated
#'   normal. No grouped transposed convolution (`NA`).
#' * MLX (`python/mlx/nn/init.py`, `_calculate_fan_in_fan_out`;
#'   `python/mlx/nn/layers/convolution.py`, `convolution_transpose.py`):
#'   channels-last weights `(out, k..., in/groups)` for `Conv*d` and `(out,
#'   k..., in)` for `ConvTranspose*d`, with `fan_in = shape[-1] * prod(k)`,
#'   `fan_out = shape[0] * prod(k)`: the axes are right for transposed
#'   convolutions (the strides ignored), and grouped convolutions get torch's
#'   `fan_out = out * prod(k)`. `he_normal` is an untruncated normal.
#'   `ConvTranspose*d` takes no groups (`NA`). (MLX's layers draw their own
#'   default, `U(-1/sqrt(in k), 1/sqrt(in k))`; the table is about
#'   `nn.init.he_normal()` and friends applied to the weight.)
#' * TensorFlow.js (`tfjs-layers/src/initializers.ts`, `computeFans`): the
#'   Keras layout and rule (channels-last kernels; `DepthwiseConv2D` `(k...,
#'   in, multiplier)`, `Conv2DTranspose` `(k..., out, in)`), but `heNormal`
#'   draws `truncatedNormal(0, sqrt(scale))` *without* the correction, so
#'   every He cell realizes 0.7737 of its fans' variance (see
#'   [init_he()]'s `convention = "tfjs"`). No grouped convolutions (`NA`).
#'
#' The real fans average over units away from the border (see [fans()]):
#' the stride divides a convolution's `fan_out` and a transposed one's
#' `fan_in`; dilation and padding change neither, which is why no framework
#' is wrong about a dilated convolution.
#'
#' @param layers `NULL` for the standard table, or a (named) list of
#'   [conv_layer()]s (or one).
#' @param frameworks Any of `"torch"`, `"keras"`, `"jax"`, `"mlx"`,
#'   `"tfjs"`.
#' @return A data frame, one row per layer and framework: `type` (the
#'   name), `layer` (its label), `framework`, `fan_in`, `fan_out` (the
#'   framework's), `real_fan_in`, `real_fan_out`, `correct`, and for `he`
#'   (He normal, `fan_in`), `he_fan_out` and `glorot` (Glorot uniform):
#'   `var_<rule>` (the variance the framework's initializer realizes),
#'   `target_<rule>` (the rule with the real fans) and `ratio_<rule>`. `NA`
#'   where the framework has no such layer.
#' @seealso [compare_fans()] for any layer and variance-scaling scheme.
#' @examples
#' tab <- fan_conformance()
#' tab[tab$type == "depthwise" & tab$framework == "torch", ]   # pytorch#23854
#' xtabs(ratio_he_fan_out ~ type + framework, tab)
#' @export
fan_conformance <- function(layers = NULL,
                            frameworks = c("torch", "keras", "jax", "mlx", "tfjs")) {
  all_fw <- c("torch", "keras", "jax", "mlx", "tfjs")
  if (!is.character(frameworks) || length(frameworks) < 1 || anyNA(frameworks) ||
      !all(frameworks %in% all_fw) || anyDuplicated(frameworks)) {
    abort_arg("frameworks", "distinct names among \"torch\", \"keras\", \"jax\", \"mlx\", \"tfjs\"",
              frameworks)
  }
  if (is.null(layers)) layers <- conformance_layers()
  if (inherits(layers, "initvar_layer")) layers <- list(layers)
  if (!is.list(layers) || length(layers) == 0) {
    abort_arg("layers", "`NULL` or a list of layers such as `conv_layer(16, 32, c(3, 3))`", layers)
  }
  for (i in seq_along(layers)) {
    if (!inherits(layers[[i]], "initvar_layer") || layers[[i]]$kind != "conv") {
      abort_arg(sprintf("layers[[%d]]", i), "a convolution such as `conv_layer(16, 32, c(3, 3))`",
                layers[[i]])
    }
  }
  types <- names(layers)
  if (is.null(types)) types <- rep("", length(layers))
  types[!nzchar(types)] <- vapply(layers[!nzchar(types)], layer_label, "")
  rules <- list(he = init_he(), he_fan_out = init_he(mode = "fan_out"), glorot = init_glorot())
  rows <- list()
  for (i in seq_along(layers)) {
    l <- layers[[i]]
    real <- real_fans(l)
    for (fw in frameworks) {
      f <- framework_fans(l, fw)
      row <- data.frame(type = types[i], layer = layer_label(l), framework = fw,
                        fan_in = f[["fan_in"]], fan_out = f[["fan_out"]],
                        real_fan_in = real[["fan_in"]], real_fan_out = real[["fan_out"]],
                        correct = f[["fan_in"]] == real[["fan_in"]] &
                          f[["fan_out"]] == real[["fan_out"]],
                        stringsAsFactors = FALSE)
      for (nm in names(rules)) {
        target <- dist_moments(resolve_scheme(rules[[nm]], real[["fan_in"]], real[["fan_out"]]))[["var"]]
        v <- if (is.na(f[["fan_in"]])) NA_real_ else
          dist_moments(resolve_scheme(framework_rule(nm, fw), f[["fan_in"]], f[["fan_out"]]))[["var"]]
        row[[paste0("var_", nm)]] <- v
        row[[paste0("target_", nm)]] <- target
        row[[paste0("ratio_", nm)]] <- v / target
      }
      rows[[length(rows) + 1]] <- row
    }
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}

# The standard table's layers: 2-d, 3 x 3 kernels (4 x 4 transposed).
conformance_layers <- function() {
  list(
    standard = conv_layer(16, 32, c(3, 3)),
    strided = conv_layer(16, 32, c(3, 3), stride = 2),
    grouped = conv_layer(16, 32, c(3, 3), groups = 4),
    depthwise = conv_layer(4, 4, c(3, 3), groups = 4),            # pytorch#23854
    transposed = conv_layer(16, 8, c(4, 4), transposed = TRUE),
    transposed_stride2 = conv_layer(16, 8, c(4, 4), stride = 2, transposed = TRUE),
    grouped_transposed = conv_layer(16, 8, c(4, 4), groups = 2, transposed = TRUE),
    dilated = conv_layer(16, 32, c(3, 3), dilation = 2))
}

# A framework's He normal (fan_in, fan_out) and Glorot uniform, with its
# meaning of "normal" (?init_variance_scaling, "Framework conventions").
framework_rule <- function(rule, fw) {
  cv <- if (fw == "mlx") "torch" else fw   # MLX: an untruncated normal
  switch(rule,
    he = init_he("normal", convention = cv),
    he_fan_out = init_he("normal", mode = "fan_out", convention = cv),
    glorot = init_glorot("uniform", convention = cv))
}

# The fans a framework computes for a conv layer's weight (NA: no such
# layer). torch, Keras and JAX/Flax as fans(convention = ); MLX and TF.js
# from their weight layouts and rules (see ?fan_conformance).
framework_fans <- function(l, fw) {
  if (fw %in% c("torch", "keras", "jax")) return(layer_fans_of(l, fw))
  na <- c(fan_in = NA_real_, fan_out = NA_real_)
  k <- l$kernel_size
  rf <- prod(k)
  ci <- l$in_channels
  co <- l$out_channels
  g <- l$groups
  if (fw == "mlx") {
    # (out, k..., in/groups) or, transposed, (out, k..., in): fan_in =
    # shape[-1] rf, fan_out = shape[0] rf
    if (l$transposed && g > 1) return(na)
    last <- if (l$transposed) ci else ci / g
    return(c(fan_in = last * rf, fan_out = co * rf))
  }
  # tfjs: the Keras layout and rule; no grouped convolutions
  if (l$transposed) {
    if (g > 1) return(na)
    return(c(fan_in = co * rf, fan_out = ci * rf))        # (k..., out, in)
  }
  if (g == 1) return(c(fan_in = ci * rf, fan_out = co * rf))
  if (g == ci) return(c(fan_in = ci * rf, fan_out = co / ci * rf))   # DepthwiseConv2D
  na
}
