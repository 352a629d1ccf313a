#' Fan-in and fan-out of a weight array or of a layer
#'
#' `fans(dim, layout)` computes `fan_in` and `fan_out` from an array shape
#' the way torch (`torch.nn.init._calculate_fan_in_and_fan_out`) and Keras
#' (`keras.initializers.VarianceScaling`) do: for a convolution kernel both
#' are multiplied by the receptive field size, the product of the spatial
#' dimensions. `fans(layer)` computes them from what the layer *does*
#' ([conv_layer()], [dense_layer()], [attention_layer()]): the real fans
#' (`convention = "real"`), or the value a framework computes for that
#' layer's weight (`convention = "torch"`, `"keras"`, `"jax"`).
#'
#' @section Fans from a shape:
#' A shape does not say what the layer does, so `fans(dim)` can only apply a
#' framework's rule, which is right for dense layers and for ungrouped,
#' unstrided, non-transposed convolutions and wrong for the others (see the
#' next section):
#'
#' * `layout = "torch"`: a shape `(d1, d2, k1, k2, ...)`; `fan_in = d2 * prod(k)`,
#'   `fan_out = d1 * prod(k)`, as torch computes them. For `nn.Linear` and
#'   `nn.ConvNd` the weight is `(out, in / groups, k...)`, so `d1` is the
#'   number of output channels; for `nn.ConvTransposeNd` it is
#'   `(in, out / groups, k...)`, and torch's (and this function's) fans are
#'   then read from the wrong axes (pytorch#7865). torch refuses shapes with
#'   fewer than two dimensions, and so does this function.
#' * `layout = "keras"`: a shape `(k1, k2, ..., d_in, d_out)`;
#'   `fan_in = d_in * prod(k)`, `fan_out = d_out * prod(k)`. A one-dimensional
#'   shape `n` gives `fan_in = fan_out = n`, as in Keras. Keras's
#'   `compute_fans()` applied this to every kernel of rank > 2, including the
#'   einsum kernels of `EinsumDense` and `MultiHeadAttention` (issue 16 of
#'   this package records that this lasted until 2026).
#'
#' A matrix in initvar's own layout, `fan_in x fan_out`, is the Keras layout
#' of a dense kernel.
#'
#' @section Real fans of a layer:
#' The fan-in that keeps the forward variance (the `n` of Glorot & Bengio's
#' \eqn{n \mathrm{Var}(W) = 1}) is the number of weight-input products that
#' make one output unit; the fan-out that keeps the backward variance is the
#' number of products one input unit takes part in *within one map* (one
#' linear map, whose outputs' gradients are summed into that input's). Both
#' are counted from the map's Jacobian and averaged over units, without
#' boundary effects (the limit of a large input, or circular padding):
#'
#' | layer | real `fan_in` | real `fan_out` |
#' |---|---|---|
#' | convolution | `in/groups * prod(k)` | `out/groups * prod(k) / prod(stride)` |
#' | transposed convolution | `in/groups * prod(k) / prod(stride)` | `out/groups * prod(k)` |
#' | dense / einsum | `prod(in_features)` | `prod(out_features)` |
#'
#' A strided convolution visits each input position `prod(k) / prod(stride)`
#' times on average, and a transposed convolution (its adjoint) sums that many
#' kernel taps into each output position. A packed projection
#' (`dense_layer(packed = 3)`, torch's `in_proj_weight` of shape
#' `(3E, E)`) is three independent maps: its fan-out is that of one of them,
#' `E` (64 for `attention_layer(64, 4)`), not the `3E` = 192 products an
#' input takes part in over the three. Packing is a storage choice: the
#' query, key and value projections are the same three maps whether stored
#' as one weight or as three `nn.Linear` layers (as many implementations
#' do), and each map's backward pass scales its gradient by its own fan-out
#' times its weights' variance; the three gradients meet only where the
#' input branches, as a residual stream's do, which no single weight's
#' initialization accounts for. So the initialization must not change with
#' the packing, and torch's `3E` (pytorch#166378) is the framework's artifact.
#'
#' Where the frameworks differ from the real fans:
#'
#' * torch: transposed convolutions, whose weight is `(in, out/groups, k...)`:
#'   `fan_in = out/groups * prod(k)`, `fan_out = in * prod(k)`
#'   (pytorch#7865); grouped and depthwise convolutions: `fan_out = out *
#'   prod(k)`, not `out/groups * prod(k)` (pytorch#23854); packed QKV:
#'   `fan_out = 3E` (pytorch#166378); strides are ignored everywhere.
#' * Keras (`convention = "keras"`, the classic `compute_fans()`):
#'   `Conv*Transpose` kernels are `(k..., out, in)`, so the fans are swapped;
#'   `DepthwiseConv*D` kernels `(k..., in, multiplier)` give `fan_in = in *
#'   prod(k)`; grouped `Conv*D` give `fan_out = out * prod(k)`; an einsum kernel
#'   `(d_model, heads, head_dim)` is read as a convolution with receptive
#'   field `d_model`. Keras has no grouped transposed convolution (`NA`).
#' * JAX / Flax (`convention = "jax"`, `variance_scaling(in_axis = -2,
#'   out_axis = -1)` on Flax kernels): convolutions as Keras (the kernel is
#'   `(k..., in/groups, out)`, depthwise through `feature_group_count`, so
#'   `fan_out = out * prod(k)`), transposed convolutions `(k..., in, out)`
#'   with the strides ignored (no groups: `NA`); `DenseGeneral` flattens its
#'   kernel first, so einsum kernels get their real fans.
#'
#' @param dim Integer vector: the array shape; or a layer description made
#'   by [conv_layer()], [dense_layer()] or [attention_layer()].
#' @param layout `"torch"` or `"keras"`: the layout of a shape `dim`. It
#'   must be named when the two layouts give the shape different fans
#'   (`c(256, 784)` is `Linear(784, 256)` to torch, a 256 x 784 kernel to
#'   Keras): the default, `NULL`, is then an error, never a guess. A shape
#'   both read alike (a square matrix) needs none.
#' @param convention For a layer: `"real"` (the fans of the layer's
#'   Jacobian), or the framework whose computation to reproduce: `"torch"`,
#'   `"keras"`, `"jax"`.
#' @return A named numeric vector: `fan_in`, `fan_out`, `receptive_field`,
#'   `in_units` and `out_units` (for a shape, the numbers of input and output
#'   channels as the framework reads them; for a layer and `convention =
#'   "real"`, the layer's input and output channels, `receptive_field` being
#'   `prod(kernel_size)`).
#' @seealso [compare_fans()] for every framework's value beside the real one
#'   and the variance the difference makes; [weight_variance()] takes a
#'   `layer` too.
#' @export
#' @examples
#' fans(c(64, 3, 3, 3), layout = "torch")   # torch Conv2d(3, 64, 3) weight
#' fans(c(3, 3, 3, 64), layout = "keras")   # the same kernel in Keras
#' fans(c(256, 784), layout = "torch")      # torch Linear(784, 256)
#' try(fans(c(256, 784)))                   # which layout? it must be named
#' # torch ConvTranspose2d(64, 16, 4): what torch computes, and the real fans
#' tc <- conv_layer(64, 16, 4, transposed = TRUE)
#' fans(tc, convention = "torch")[c("fan_in", "fan_out")]   # 256, 1024
#' fans(tc)[c("fan_in", "fan_out")]                         # 1024, 256
#' fans(conv_layer(64, 16, 4, stride = 2, transposed = TRUE))[["fan_in"]]   # 256
fans <- function(dim, layout = NULL,
                 convention = c("real", "torch", "keras", "jax")) {
  convention_given <- !missing(convention)
  if (!is.null(layout)) layout <- check_choice(layout, c("torch", "keras"), "layout")
  convention <- check_choice(convention, c("real", "torch", "keras", "jax"), "convention")
  if (inherits(dim, "initvar_layer")) {
    check_fan_layer(dim, "dim")
    return(layer_fans_of(dim, convention))
  }
  if (convention_given) {
    abort_arg("convention", paste0(
      "left out for a shape `dim` (it applies to a layer such as `conv_layer(3, 16, 3)`; ",
      "a shape's fans follow `layout`)"), convention)
  }
  check_dim(dim, "dim")
  shape_fans(as.double(dim), shape_layout(layout, dim, or_fans = FALSE))
}

shape_fans <- function(dim, layout) {
  nd <- length(dim)
  if (nd == 1) {
    if (layout == "torch") {
      abort(paste0(
        "`dim` must have at least 2 dimensions for layout \"torch\", not 1: ",
        "torch computes no fans for a vector."))
    }
    return(c(fan_in = dim, fan_out = dim, receptive_field = 1,
             in_units = dim, out_units = dim))
  }
  if (layout == "torch") {
    rf <- if (nd > 2) prod(dim[-(1:2)]) else 1
    n_in <- dim[2]
    n_out <- dim[1]
  } else {
    rf <- if (nd > 2) prod(dim[seq_len(nd - 2)]) else 1
    n_in <- dim[nd - 1]
    n_out <- dim[nd]
  }
  c(fan_in = n_in * rf, fan_out = n_out * rf, receptive_field = rf,
    in_units = n_in, out_units = n_out)
}

# ---- layer descriptions -----------------------------------------------------

#' Layer descriptions for fans
#'
#' What a layer does, for [fans()], [compare_fans()] and
#' [weight_variance()]: the numbers of input and output units, groups,
#' kernel size and stride, whether it is transposed, packed projections.
#'
#' * `conv_layer(in_channels, out_channels, kernel_size, stride, groups,
#'   transposed, padding, dilation)`: torch's `nn.ConvNd` / `nn.ConvTransposeNd` (arguments in
#'   torch's order), Keras's `ConvND` / `ConvNDTranspose` /
#'   `DepthwiseConvND` (a depthwise convolution is `groups = in_channels`),
#'   Flax's `Conv` / `ConvTranspose`. `kernel_size` and `stride` have one
#'   entry per spatial dimension (a single value is recycled over
#'   `length(kernel_size)` dimensions; give `kernel_size = c(3, 3)` for a 2-d
#'   convolution). Dilation and padding do not change the fans (away from the
#'   boundary); they say how the layer runs in [cnn()] networks: `padding`
#'   `"zero"` ('same'-style: floor(d (k - 1) / 2) zeros before, the rest
#'   after, so that the output has ceiling(n / stride) positions),
#'   `"circular"` (the same sizes, wrapped around) or `"valid"` (no padding).
#' * `dense_layer(in_features, out_features, packed)`: a dense or einsum
#'   kernel mapping input axes of sizes `in_features` to output axes of
#'   sizes `out_features` (torch's `nn.Linear`, Keras's `Dense` /
#'   `EinsumDense`, Flax's `DenseGeneral`); `packed` independent such maps
#'   stored in one weight along the output (torch's `in_proj_weight` packs
#'   Q, K and V: `packed = 3`).
#' * `attention_layer(d_model, heads, head_dim, projection)`: the projections
#'   of multi-head attention: `"qkv"` (the query, key or value projection,
#'   `d_model -> heads x head_dim`; torch packs the three into
#'   `in_proj_weight`) or `"output"` (`heads x head_dim -> d_model`).
#'
#' The weight's shape in each framework is element `shapes` of the object:
#' torch `(out, in/groups, k...)` for a convolution but `(in, out/groups,
#' k...)` for a transposed one; Keras `(k..., in/groups, out)`, `(k..., out,
#' in)` transposed, `(k..., in, out/in)` depthwise; Flax `(k..., in/groups,
#' out)`, `(k..., in, out)` transposed.
#'
#' @param in_channels,out_channels Numbers of input and output channels,
#'   both divisible by `groups`.
#' @param kernel_size Kernel size, one entry per spatial dimension.
#' @param stride Stride, one entry per spatial dimension (recycled).
#' @param groups Number of groups (`in_channels` for a depthwise convolution).
#' @param transposed `TRUE` for a transposed convolution.
#' @param padding `"zero"`, `"circular"` or `"valid"` (see above).
#' @param dilation Dilation, one entry per spatial dimension (recycled).
#' @param in_features,out_features Sizes of the input and output axes.
#' @param packed Number of independent maps packed along the output.
#' @param d_model,heads,head_dim Model width, number of heads and head width
#'   (default `d_model / heads`).
#' @param projection `"qkv"` or `"output"`.
#' @return An object of class `initvar_layer`.
#' @examples
#' conv_layer(16, 16, c(3, 3), groups = 16)          # depthwise
#' fans(conv_layer(16, 16, c(3, 3), groups = 16))    # fan_in 9, fan_out 9
#' dense_layer(512, c(8, 64))                        # EinsumDense "bd,dnh->bnh"
#' attention_layer(512, 8)
#' @name layers
NULL

#' @rdname layers
#' @export
conv_layer <- function(in_channels, out_channels, kernel_size = 1, stride = 1,
                       groups = 1, transposed = FALSE,
                       padding = c("zero", "circular", "valid"), dilation = 1) {
  in_channels <- check_whole(in_channels, "in_channels")
  out_channels <- check_whole(out_channels, "out_channels")
  kernel_size <- check_size_vector(kernel_size, "kernel_size")
  stride <- check_size_vector(stride, "stride")
  dilation <- check_size_vector(dilation, "dilation")
  groups <- check_whole(groups, "groups")
  check_flag(transposed, "transposed")
  padding <- check_choice(padding, c("zero", "circular", "valid"), "padding")
  nd <- if (length(kernel_size) > 1) length(kernel_size) else max(length(stride), length(dilation))
  if (length(kernel_size) == 1) kernel_size <- rep(kernel_size, nd)
  if (length(stride) == 1) stride <- rep(stride, nd)
  if (length(dilation) == 1) dilation <- rep(dilation, nd)
  if (length(stride) != length(kernel_size)) {
    abort_arg("stride", sprintf("of length 1 or %d (one entry per dimension of `kernel_size`)",
                                length(kernel_size)), stride)
  }
  if (length(dilation) != length(kernel_size)) {
    abort_arg("dilation", sprintf("of length 1 or %d (one entry per dimension of `kernel_size`)",
                                  length(kernel_size)), dilation)
  }
  if (in_channels %% groups != 0) {
    abort_arg("groups", sprintf("a divisor of `in_channels` (%s)", format(in_channels)), groups)
  }
  if (out_channels %% groups != 0) {
    abort_arg("groups", sprintf("a divisor of `out_channels` (%s)", format(out_channels)), groups)
  }
  structure(list(kind = "conv", in_channels = in_channels, out_channels = out_channels,
                 kernel_size = kernel_size, stride = stride, groups = groups,
                 transposed = transposed, padding = padding, dilation = dilation),
            class = "initvar_layer")
}

#' @rdname layers
#' @export
dense_layer <- function(in_features, out_features, packed = 1) {
  in_features <- check_size_vector(in_features, "in_features")
  out_features <- check_size_vector(out_features, "out_features")
  packed <- check_whole(packed, "packed")
  structure(list(kind = "dense", in_features = in_features, out_features = out_features,
                 packed = packed),
            class = "initvar_layer")
}

#' @rdname layers
#' @export
attention_layer <- function(d_model, heads = 1, head_dim = d_model / heads,
                            projection = c("qkv", "output")) {
  d_model <- check_whole(d_model, "d_model")
  heads <- check_whole(heads, "heads")
  head_dim <- check_whole(head_dim, "head_dim")
  projection <- check_choice(projection, c("qkv", "output"), "projection")
  l <- if (projection == "qkv") {
    dense_layer(d_model, c(heads, head_dim), packed = 3)
  } else {
    dense_layer(c(heads, head_dim), d_model)
  }
  l$attention <- list(d_model = d_model, heads = heads, head_dim = head_dim,
                      projection = projection)
  l
}

check_size_vector <- function(x, arg) {
  if (!is.numeric(x) || length(x) < 1) abort_arg(arg, "a vector of positive whole numbers", x)
  for (i in seq_along(x)) {
    check_whole(x[i], if (length(x) > 1) sprintf("%s[%d]", arg, i) else arg)
  }
  as.double(x)
}

# The weight's shape in each framework (NULL where the framework has no such
# layer).
layer_shapes <- function(l) {
  if (l$kind == "dense") {
    fi <- l$in_features
    fo <- l$out_features
    torch <- if (!is.null(l$attention) && l$attention$projection == "qkv") {
      c(3 * prod(fo), prod(fi))   # in_proj_weight
    } else {
      c(l$packed * prod(fo), prod(fi))
    }
    return(list(torch = torch, keras = c(fi, fo),
                jax = c(fi, fo)))
  }
  k <- l$kernel_size
  ci <- l$in_channels
  co <- l$out_channels
  g <- l$groups
  if (!l$transposed) {
    keras <- if (g > 1 && g == ci) c(k, ci, co / ci) else c(k, ci / g, co)
    list(torch = c(co, ci / g, k), keras = keras, jax = c(k, ci / g, co))
  } else {
    list(torch = c(ci, co / g, k),
         keras = if (g == 1) c(k, co, ci) else NULL,
         jax = if (g == 1) c(k, ci, co) else NULL)
  }
}

# Real fans: counted from the layer's Jacobian (see ?fans).
real_fans <- function(l) {
  if (l$kind == "dense") {
    return(c(fan_in = prod(l$in_features), fan_out = prod(l$out_features),
             receptive_field = 1, in_units = prod(l$in_features),
             out_units = prod(l$out_features)))
  }
  rf <- prod(l$kernel_size)
  s <- prod(l$stride)
  fi <- l$in_channels / l$groups * rf
  fo <- l$out_channels / l$groups * rf
  if (l$transposed) fi <- fi / s else fo <- fo / s
  c(fan_in = fi, fan_out = fo, receptive_field = rf, in_units = l$in_channels,
    out_units = l$out_channels)
}

layer_fans_of <- function(l, convention) {
  if (convention == "real") return(real_fans(l))
  sh <- layer_shapes(l)[[convention]]
  if (is.null(sh)) {
    return(c(fan_in = NA_real_, fan_out = NA_real_, receptive_field = NA_real_,
             in_units = NA_real_, out_units = NA_real_))
  }
  if (convention == "jax" && l$kind == "dense") {
    # DenseGeneral flattens the kernel to (prod(in), prod(out)) first
    return(shape_fans(c(prod(l$in_features), prod(l$out_features)), "keras"))
  }
  shape_fans(sh, if (convention == "torch") "torch" else "keras")
}

layer_label <- function(l) {
  if (l$kind == "dense") {
    if (!is.null(l$attention)) {
      a <- l$attention
      return(sprintf("attention %s projection (d_model %s, %s heads of %s)",
                     if (a$projection == "qkv") "Q/K/V" else "output",
                     format(a$d_model), format(a$heads), format(a$head_dim)))
    }
    sz <- function(v) paste(format(v, scientific = FALSE, trim = TRUE), collapse = "x")
    return(sprintf("dense %s -> %s%s", sz(l$in_features), sz(l$out_features),
                   if (l$packed > 1) sprintf(" (x%d packed)", as.integer(l$packed)) else ""))
  }
  nd <- length(l$kernel_size)
  kind <- if (l$transposed) "ConvTranspose" else "Conv"
  extra <- c(if (any(l$stride != 1)) sprintf("stride %s", paste(l$stride, collapse = "x")),
             if (isTRUE(any(l$dilation != 1))) sprintf("dilation %s", paste(l$dilation, collapse = "x")),
             if (!is.null(l$padding) && l$padding != "zero") sprintf("padding %s", l$padding),
             if (l$groups > 1) {
               if (l$groups == l$in_channels && !l$transposed) sprintf("depthwise, groups %s", format(l$groups))
               else sprintf("groups %s", format(l$groups))
             })
  sprintf("%s%dd(%s, %s, %s)%s", kind, nd, format(l$in_channels), format(l$out_channels),
          paste(l$kernel_size, collapse = "x"),
          if (length(extra)) paste0(", ", paste(extra, collapse = ", ")) else "")
}

#' @export
print.initvar_layer <- function(x, ...) {
  cat("<initvar layer> ", layer_label(x), "\n", sep = "")
  f <- real_fans(x)
  cat(sprintf("  real fans: fan_in = %s, fan_out = %s\n", format(f[["fan_in"]]),
              format(f[["fan_out"]])))
  sh <- layer_shapes(x)
  show <- function(v) if (is.null(v)) "(no such layer)" else
    paste0("(", paste(format(v, scientific = FALSE, trim = TRUE), collapse = ", "), ")")
  cat("  weight shape: torch ", show(sh$torch), ", keras ", show(sh$keras),
      ", jax ", show(sh$jax), "\n", sep = "")
  invisible(x)
}

#' Each framework's fans beside the real ones, and the variance they give
#'
#' For each layer, the fans torch, Keras and JAX/Flax compute for its weight
#' next to the real fans (see [fans()]), and for each scheme the ratio of
#' the variance a framework's fans give to the variance the real fans give:
#' a ratio of 4 means the framework draws weights with 4 times the variance
#' the scheme's rule asks for on that layer, so the layer multiplies the
#' forward (He, LeCun: `fan_in`) or backward (`fan_out`) variance by 4
#' instead of 1.
#'
#' @param layers A layer ([conv_layer()], [dense_layer()],
#'   [attention_layer()]) or a (named) list of layers.
#' @param schemes A named list of variance-scaling schemes.
#' @return A data frame with one row per layer and framework: `layer`,
#'   `framework`, `fan_in`, `fan_out`, `real_fan_in`, `real_fan_out`,
#'   `correct` (both fans equal the real ones), and one column
#'   `ratio_<scheme>` per scheme (framework variance / real variance; `NA`
#'   where the framework has no such layer).
#' @examples
#' compare_fans(list(
#'   transposed = conv_layer(64, 16, c(4, 4), transposed = TRUE),
#'   depthwise = conv_layer(32, 32, c(3, 3), groups = 32),
#'   qkv = attention_layer(512, 8)))
#' @export
compare_fans <- function(layers, schemes = list(he = init_he(), glorot = init_glorot(),
                                                 he_fan_out = init_he(mode = "fan_out"))) {
  single <- inherits(layers, "initvar_layer")
  if (single) layers <- list(layers)
  if (!is.list(layers) || length(layers) == 0) {
    abort_arg("layers", "a layer such as `conv_layer(3, 16, 3)` or a list of layers", layers)
  }
  for (i in seq_along(layers)) {
    check_fan_layer(layers[[i]], if (single) "layers" else sprintf("layers[[%d]]", i))
  }
  if (!is.list(schemes) || length(schemes) == 0 || is.null(names(schemes)) ||
      any(!nzchar(names(schemes)))) {
    abort_arg("schemes", "a named list of schemes", schemes)
  }
  for (nm in names(schemes)) {
    s <- schemes[[nm]]
    if (!inherits(s, "initvar_scheme") || s$family != "variance_scaling") {
      abort_arg(sprintf("schemes$%s", nm), "a variance-scaling scheme such as `init_he()`", s)
    }
  }
  labels <- names(layers)
  if (is.null(labels)) labels <- rep("", length(layers))
  labels[!nzchar(labels)] <- vapply(layers[!nzchar(labels)], layer_label, "")
  rows <- list()
  for (i in seq_along(layers)) {
    real <- real_fans(layers[[i]])
    for (fw in c("torch", "keras", "jax")) {
      f <- layer_fans_of(layers[[i]], fw)
      row <- data.frame(layer = labels[i], framework = fw, fan_in = f[["fan_in"]],
                        fan_out = f[["fan_out"]], real_fan_in = real[["fan_in"]],
                        real_fan_out = real[["fan_out"]],
                        correct = f[["fan_in"]] == real[["fan_in"]] &
                          f[["fan_out"]] == real[["fan_out"]],
                        stringsAsFactors = FALSE)
      for (nm in names(schemes)) {
        s <- schemes[[nm]]
        row[[paste0("ratio_", nm)]] <- if (is.na(f[["fan_in"]])) NA_real_ else
          mode_n(s$mode, real[["fan_in"]], real[["fan_out"]]) /
            mode_n(s$mode, f[["fan_in"]], f[["fan_out"]])
      }
      rows[[length(rows) + 1]] <- row
    }
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  class(out) <- c("initvar_fan_comparison", "data.frame")
  out
}

#' @rdname compare_fans
#' @param x A `compare_fans()` result.
#' @param main Title; a sensible one by default.
#' @param ... Further graphical parameters for [graphics::barplot()].
#' @section Plot:
#' `plot()` draws, for each framework (and layer), the variance each scheme
#' realizes as a ratio to the variance it asks for (1 is right), and
#' returns that matrix invisibly (rows: the scheme; columns: framework
#' within layer).
#' @export
plot.initvar_fan_comparison <- function(x, main = NULL, ...) {
  cols <- intersect(c("ratio_he", "ratio_he_fan_out", "ratio_glorot"), names(x))
  m <- t(as.matrix(as.data.frame(unclass(x))[, cols, drop = FALSE]))
  rownames(m) <- c(ratio_he = "He (fan_in)", ratio_he_fan_out = "He (fan_out)",
                   ratio_glorot = "Glorot")[cols]
  several <- length(unique(x$layer)) > 1
  colnames(m) <- if (several) paste0(x$framework, "\n", abbreviate(x$layer, 12)) else x$framework
  if (is.null(main)) {
    main <- if (several) "Variance realized / variance asked, by framework" else
      paste0(x$layer[1], ": variance realized / asked")
  }
  top <- max(c(m, 1), na.rm = TRUE) * 1.2
  graphics::barplot(m, beside = TRUE, ylim = c(0, top), main = main,
                    ylab = "realized / target variance", col = c("#1b6ca8", "#7fb3d5", "#c0392b")[seq_along(cols)],
                    legend.text = rownames(m), args.legend = list(bty = "n", cex = 0.8), ...)
  graphics::abline(h = 1, lty = 2, col = "grey30")
  invisible(m)
}

#' @export
print.initvar_fan_comparison <- function(x, ...) {
  print(as.data.frame(unclass(x), stringsAsFactors = FALSE), ...)
  invisible(x)
}

# `l` is a layer from conv_layer(), dense_layer() or attention_layer(): an
# object of class initvar_layer of another make (forged) is an error naming
# `arg`.
check_fan_layer <- function(l, arg) {
  if (!inherits(l, "initvar_layer")) {
    abort_arg(arg, "a layer such as `conv_layer(3, 16, 3)`", l)
  }
  why <- fan_layer_problem(l)
  if (!is.null(why)) {
    abort(sprintf("`%s` must be a layer such as `conv_layer(3, 16, 3)`, not a forged <initvar_layer> (%s).",
                  arg, why))
  }
  invisible(l)
}

# Why an object of class initvar_layer is not one the constructors make
# (NULL when it is): kind "dense" with positive whole `in_features`,
# `out_features` and `packed` (and, for attention, a projection "qkv" or
# "output"); or kind "conv" with positive whole channels and `groups`
# dividing both, and `kernel_size`, `stride` and `dilation` of positive
# whole numbers, one per dimension, a flag `transposed` and a known padding.
fan_layer_problem <- function(l) {
  if (!is.list(l)) return("not a list")
  sizes <- function(v, n = NULL) {
    is.numeric(v) && length(v) >= 1 && all(is.finite(v)) && all(v >= 1) && all(v == round(v)) &&
      (is.null(n) || length(v) == n)
  }
  kind <- l$kind
  if (!is.character(kind) || length(kind) != 1 || !kind %in% c("dense", "conv")) {
    return("its `kind` is not \"dense\" or \"conv\"")
  }
  if (kind == "dense") {
    for (nm in c("in_features", "out_features")) {
      if (!sizes(l[[nm]])) return(sprintf("its `%s` are not positive whole numbers", nm))
    }
    if (!sizes(l$packed, 1)) return("its `packed` is not a positive whole number")
    if (!is.null(l$attention) && (!is.list(l$attention) ||
                                  !identical(l$attention$projection, "qkv") &&
                                  !identical(l$attention$projection, "output"))) {
      return("its `attention` has no projection \"qkv\" or \"output\"")
    }
    return(NULL)
  }
  for (nm in c("in_channels", "out_channels", "groups")) {
    if (!sizes(l[[nm]], 1)) return(sprintf("its `%s` is not a positive whole number", nm))
  }
  if (l$in_channels %% l$groups != 0 || l$out_channels %% l$groups != 0) {
    return("its `groups` does not divide its channels")
  }
  if (!sizes(l$kernel_size)) return("its `kernel_size` is not positive whole numbers")
  for (nm in c("stride", "dilation")) {
    if (!sizes(l[[nm]], length(l$kernel_size))) {
      return(sprintf("its `%s` is not one positive whole number per dimension of `kernel_size`", nm))
    }
  }
  if (!isTRUE(l$transposed) && !isFALSE(l$transposed)) return("its `transposed` is not TRUE or FALSE")
  if (!is.character(l$padding) || length(l$padding) != 1 ||
      !l$padding %in% c("zero", "circular", "valid")) {
    return("its `padding` is not \"zero\", \"circular\" or \"valid\"")
  }
  NULL
}
