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
#' @section Simulated cells:
#' With `simulate = TRUE` each available cell is also run by the engine
#' ([simulate_network()]): a linear [cnn()] on an 8 x 8 input (1-d layers:
#' length 8) under circular padding (no border, so the real fans hold
#' exactly on average) whose first layer is a 1 x 1 delta-orthogonal
#' (isometric) convolution and whose second is the cell's layer, its
#' weights drawn from the framework's concrete distribution (the
#' framework's fans, its truncation). He (`fan_in`) and Glorot are read
#' from the layer's output variance, `Var(s) / (real fan_in x target)`, He
#' `fan_out` from the first layer's gradient, `Var(dC/ds) / (real fan_out x
#' target)`: each estimates the cell's ratio, with its MCSE over
#' networks. The engine runs no transposed convolution: a transposed
#' layer's forward variance is that of its adjoint convolution's backward
#' pass (and the other way round), which is what is simulated.
#'
#' @param layers `NULL` for the standard table, or a (named) list of
#'   [conv_layer()]s (or one).
#' @param frameworks Any of `"torch"`, `"keras"`, `"jax"`, `"mlx"`,
#'   `"tfjs"`.
#' @param simulate `TRUE` to add, for each rule, `sim_ratio_<rule>` and
#'   `sim_mcse_<rule>`, simulated as described below.
#' @param networks,inputs For `simulate = TRUE`: networks and inputs per
#'   network of each simulation.
#' @param threads Threads of the simulations.
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
#' # He fan_out's realized / target variance (NA: no such layer)
#' round(tapply(tab$ratio_he_fan_out, tab[c("type", "framework")], sum), 3)
#' @export
fan_conformance <- function(layers = NULL,
                            frameworks = c("torch", "keras", "jax", "mlx", "tfjs"),
                            simulate = FALSE, networks = 50, inputs = 8,
                            threads = initvar_threads()) {
  check_flag(simulate, "simulate")
  # checked even when `simulate = FALSE` leaves them unused: a bad value is
  # never ignored
  check_whole(networks, "networks", min = 2, max = 1e6)
  check_whole(inputs, "inputs", max = 1e6)
  threads <- check_whole(threads, "threads", max = max_threads)
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
        if (simulate) {
          sm <- if (is.na(v)) c(NA_real_, NA_real_) else
            simulate_cell(l, resolve_scheme(framework_rule(nm, fw), f[["fan_in"]], f[["fan_out"]]),
                          if (nm == "he_fan_out") "backward" else "forward", target,
                          networks, inputs, threads)
          row[[paste0("sim_ratio_", nm)]] <- sm[1]
          row[[paste0("sim_mcse_", nm)]] <- sm[2]
        }
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

# One simulated cell (see ?fan_conformance, "Simulated cells"): the ratio
# of the realized forward (or backward) variance to the real fan times the
# target, and its MCSE. `r` is the framework's concrete distribution.
simulate_cell <- function(l, r, which, target, networks, inputs, threads) {
  real <- real_fans(l)
  fan <- if (which == "forward") real[["fan_in"]] else real[["fan_out"]]
  conv <- l
  if (l$transposed) {
    # the adjoint convolution: the transposed layer's forward is its backward
    conv <- conv_layer(l$out_channels, l$in_channels, l$kernel_size, l$stride, l$groups,
                       dilation = l$dilation)
    which <- if (which == "forward") "backward" else "forward"
  }
  ci <- conv$in_channels
  nd <- length(conv$kernel_size)
  # the layer's weights: the framework's distribution, whatever the fans
  w <- do.call(new_scheme, c(list("framework", "the framework's draw", r$family),
                             r[setdiff(names(r), "family")]))
  net <- cnn(c(ci, ci, conv$out_channels), kernel = list(1, conv$kernel_size),
             spatial = rep(8, nd), padding = "circular", activation = "linear",
             init = list(init_delta_orthogonal(), w), stride = list(1, conv$stride),
             dilation = list(1, conv$dilation), groups = c(1, conv$groups))
  sim <- simulate_network(net, networks = networks, inputs = inputs, regime = "linear",
                          threads = threads, progress = FALSE)
  tab <- as.data.frame(sim)
  row <- if (which == "forward") tab[tab$layer == 2 & tab$quantity == "s", ] else
    tab[tab$layer == 1 & tab$quantity == "grad_s", ]
  c(row$estimate, row$mcse) / (fan * target)
}
