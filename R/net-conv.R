# Convolutional networks: cnn(), the "conv" layer kind (a convolution, or
# the global-average-pool read-out), its geometry for the engine
# (src/conv.c) and its predictions position by position.

#' A convolutional network at initialization
#'
#' `cnn()` describes a stack of 1-D or 2-D convolutions, each followed by
#' its activation, optionally read out by a global average pool and a dense
#' layer. Every convolution is a [conv_layer()] (with its `padding` and
#' `dilation`), so [fans()], [compare_fans()] and `weight_variance(layer = )`
#' see the same layer the engine runs; weights are drawn by the scheme with
#' the layer's real fans, `fan_in = c_in / groups * prod(kernel)` and
#' `fan_out = c_out / groups * prod(kernel) / prod(stride)` (see [fans()]).
#'
#' @section Layout:
#' An input (a row of the `input` matrix of [simulate_network()]) is one
#' image flattened channel-major, `c x H x W` with the last axis fastest:
#' torch's NCHW order, `as.vector(aperm(x, 3:1))` of an `H x W x c`...
#' precisely, element `c H W + h W + w` (0-based) is channel `c` at row `h`
#' and column `w`. A layer's weight is torch's `(out, in / groups, kh, kw)`
#' array. A 1-D convolution (scalar `spatial`) is a 2-D one of height 1.
#'
#' @section Padding:
#' `"zero"` pads `floor(d (k - 1) / 2)` zeros before and `ceiling(d (k - 1)
#' / 2)` after each axis (torch's `padding = "same"`, and for stride `s` the
#' output has `ceiling(n / s)` positions, as Keras's `"same"`); `"circular"`
#' wraps the input around with the same sizes; `"valid"` pads nothing
#' (`floor((n - d (k - 1) - 1) / s) + 1` positions).
#'
#' @param channels The channels: one number for every layer (input channels
#'   included), or the vector `c_0, c_1, ..., c_depth` (the first entry the
#'   input's channels), as [mlp()]'s widths.
#' @param kernel Kernel size: one number (square), or one per spatial axis;
#'   or a list of one such per layer.
#' @param depth Number of convolutions (taken from `channels` when it is a
#'   vector).
#' @param spatial The input's size: `c(H, W)`, or a length for 1-D.
#' @param padding `"zero"`, `"circular"` or `"valid"`, or one per layer.
#' @param activation Activation of every convolution, or one per layer (as
#'   in [mlp()]).
#' @param init Weight scheme of every layer, or a list of one per layer.
#' @param bias Bias scheme (one bias per output channel), or one per layer.
#' @param stride,dilation As `kernel`: one number, one per axis, or a list
#'   of one per layer.
#' @param groups Groups, or one per layer (`groups` equal to the channels:
#'   depthwise).
#' @param n_out `NULL` (the last convolution's features are the output), or
#'   the width of a dense read-out on the channels' global average pool.
#' @param readout_activation,readout_init,readout_bias The read-out's
#'   activation and schemes.
#' @param transposed Must be `FALSE`: the engine runs no transposed
#'   convolutions (their fans are in [fans()]).
#' @return An `initvar_cnn` network (also an `initvar_mlp`, whose `widths`
#'   are the flattened sizes `c H W`), for [simulate_network()] and
#'   [predict_variance()].
#' @examples
#' net <- cnn(4, kernel = 3, depth = 3, spatial = c(8, 8), activation = "relu",
#'            init = init_he())
#' net
#' cnn(c(1, 8, 8), kernel = 5, spatial = 32, stride = list(1, 2), n_out = 10)
#' @export
cnn <- function(channels, kernel = 3, depth = NULL, spatial,
                padding = c("zero", "circular", "valid"), activation = "relu",
                init = init_he(), bias = init_constant(0), stride = 1, dilation = 1,
                groups = 1, n_out = NULL, readout_activation = "linear",
                readout_init = init_glorot(), readout_bias = init_constant(0),
                transposed = FALSE) {
  check_flag(transposed, "transposed")
  if (transposed) {
    abort_arg("transposed", "FALSE: `cnn()` runs no transposed convolutions (see `fans()` for their fans)",
              transposed)
  }
  if (missing(spatial)) abort("`spatial` must be given: the input's size, c(H, W) or a length.")
  if (!is.numeric(spatial) || !length(spatial) %in% 1:2 || anyNA(spatial) ||
      any(!is.finite(spatial)) || any(spatial != round(spatial)) || any(spatial < 1)) {
    abort_arg("spatial", "one or two positive whole numbers (a length, or c(H, W))", spatial)
  }
  nd <- length(spatial)
  if (!is.numeric(channels) || length(channels) < 1 || anyNA(channels) ||
      any(!is.finite(channels)) || any(channels != round(channels)) || any(channels < 1)) {
    abort_arg("channels", "positive whole numbers", channels)
  }
  if (length(channels) == 1) {
    if (is.null(depth)) abort("`depth` must be given when `channels` is one number.")
    check_whole(depth, "depth", max = 1e4)
    channels <- rep(channels, depth + 1)
  } else {
    if (!is.null(depth)) {
      check_whole(depth, "depth", max = 1e4)
      if (depth != length(channels) - 1) {
        abort(sprintf("`depth` (%s) must be `length(channels) - 1` (%d) when `channels` is a vector.",
                      format(depth), length(channels) - 1))
      }
    }
    depth <- length(channels) - 1
  }
  d <- depth
  geo <- function(x, arg) {
    xs <- if (is.list(x)) x else rep(list(x), d)
    if (length(xs) != d) {
      abort(sprintf("`%s` must be one value or a list of one per layer (%d), not a list of length %d.",
                    arg, d, length(xs)))
    }
    lapply(seq_len(d), function(i) {
      a <- if (is.list(x)) sprintf("%s[[%d]]", arg, i) else arg
      v <- xs[[i]]
      if (!is.numeric(v) || !length(v) %in% c(1, nd) || anyNA(v) || any(!is.finite(v)) ||
          any(v != round(v)) || any(v < 1) || any(v > 1e4)) {
        abort_arg(a, sprintf("one positive whole number or %d (one per spatial axis)", nd), v)
      }
      rep_len(as.double(v), nd)
    })
  }
  kernels <- geo(kernel, "kernel")
  strides <- geo(stride, "stride")
  dilations <- geo(dilation, "dilation")
  if (!is.numeric(groups) || !length(groups) %in% c(1, d) || anyNA(groups) ||
      any(groups != round(groups)) || any(groups < 1)) {
    abort_arg("groups", sprintf("one positive whole number or %d (one per layer)", d), groups)
  }
  groups <- rep_len(as.double(groups), d)
  if (missing(padding)) padding <- "zero"
  if (!is.character(padding) || !length(padding) %in% c(1, d) || anyNA(padding)) {
    abort_arg("padding", sprintf("one of \"zero\", \"circular\", \"valid\", or %d of them", d), padding)
  }
  paddings <- rep_len(padding, d)
  for (i in seq_len(d)) {
    paddings[i] <- check_choice(paddings[i], c("zero", "circular", "valid"),
                                if (length(padding) > 1) sprintf("padding[%d]", i) else "padding")
  }
  acts <- per_layer(activation, d, "activation",
                    function(x) inherits(x, "initvar_activation") ||
                      is.function(x) || (is.character(x) && length(x) == 1))
  acts <- lapply(seq_len(d), function(i) {
    as_activation(acts[[i]], if (d == 1) "activation" else sprintf("activation[[%d]]", i))
  })
  inits <- per_layer(init, d, "init", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) check_scheme(inits[[i]], if (d == 1) "init" else sprintf("init[[%d]]", i))
  biases <- per_layer(bias, d, "bias", function(x) inherits(x, "initvar_scheme"))
  for (i in seq_len(d)) check_bias_scheme(biases[[i]], if (d == 1) "bias" else sprintf("bias[[%d]]", i))
  layers <- vector("list", d + !is.null(n_out))
  sp <- as.double(spatial)
  for (i in seq_len(d)) {
    ci <- channels[i]
    co <- channels[i + 1]
    if (ci %% groups[i] != 0 || co %% groups[i] != 0) {
      abort(sprintf("`groups` (%s at layer %d) must divide the layer's channels in (%s) and out (%s).",
                    format(groups[i]), i, format(ci), format(co)))
    }
    k <- kernels[[i]]
    s <- strides[[i]]
    dl <- dilations[[i]]
    reach <- dl * (k - 1)
    if (paddings[i] == "valid") {
      if (any(sp <= reach)) {
        abort(sprintf(paste0(
          "`kernel` (%s, dilation %s) is wider than layer %d's input (%s) under `padding = \"valid\"`: ",
          "no output position is left."), paste(k, collapse = "x"), paste(dl, collapse = "x"), i,
          paste(sp, collapse = "x")))
      }
      pad <- numeric(nd)
      out <- floor((sp - reach - 1) / s) + 1
    } else {
      if (paddings[i] == "circular" && any(ceiling(reach / 2) > sp)) {
        abort(sprintf(paste0(
          "`kernel` (%s, dilation %s) is too wide for circular padding of layer %d's input (%s): ",
          "it would wrap around more than once."), paste(k, collapse = "x"),
          paste(dl, collapse = "x"), i, paste(sp, collapse = "x")))
      }
      pad <- floor(reach / 2)
      out <- ceiling(sp / s)
    }
    if (ci * prod(sp) > max_width || co * prod(out) > max_width) {
      abort(sprintf("`channels` x `spatial`: layer %d is wider than 16,777,216 values.", i))
    }
    cl <- conv_layer(ci, co, k, s, groups[i], padding = paddings[i], dilation = dl)
    layers[[i]] <- new_layer("conv", ci * prod(sp), co * prod(out), conv = cl, pool = FALSE,
                             spatial_in = sp, spatial_out = out, pad = pad,
                             activation = acts[[i]], init = inits[[i]], bias = biases[[i]])
    sp <- out
  }
  if (!is.null(n_out)) {
    check_whole(n_out, "n_out", max = max_width)
    check_scheme(readout_init, "readout_init")
    check_bias_scheme(readout_bias, "readout_bias")
    c_last <- channels[d + 1]
    layers[[d + 1]] <- new_layer("conv", c_last * prod(sp), n_out,
                                 conv = dense_layer(c_last, n_out), pool = TRUE,
                                 spatial_in = sp, spatial_out = 1, pad = numeric(nd),
                                 activation = as_activation(readout_activation, "readout_activation"),
                                 init = readout_init, bias = readout_bias)
  }
  net <- new_network(layers)
  net$cnn <- list(channels = channels, spatial = as.double(spatial), dims = nd,
                  readout = !is.null(n_out))
  class(net) <- c("initvar_cnn", class(net))
  net
}

check_bias_scheme <- function(s, arg) {
  check_scheme(s, arg)
  if (!s$family %in% fan_free) {
    abort_arg(arg, "a scheme that does not depend on the layer size, such as `init_constant(0)`",
              s$label)
  }
  invisible(s)
}

# ---- the layer kind ---------------------------------------------------------

# A conv layer's single unit: the kernel as a K x c_out matrix (K = c_in /
# groups x prod(kernel)), with the layer's real fans; the read-out's is
# c x n_out on the pooled channels.
conv_unit <- function(l) {
  f <- real_fans(l$conv)
  rows <- if (l$pool) l$conv$in_features else l$conv$in_channels / l$conv$groups * prod(l$conv$kernel_size)
  cols <- if (l$pool) l$conv$out_features else l$conv$out_channels
  list(n_in = rows, n_out = cols, fans = c(f[["fan_in"]], f[["fan_out"]]),
       activation = l$activation, init = l$init, bias = l$bias)
}

conv_kind <- list(
  fans = function(l) {
    f <- real_fans(l$conv)
    c(fan_in = f[["fan_in"]], fan_out = f[["fan_out"]])
  },
  units = function(l) list(conv_unit(l)),
  forward = function(l, m2_in, mean_in, regime) {
    abort("conv layers are predicted position by position: use `predict_variance()` on a `cnn()` network.")
  },
  backward = function(l, var_g, fwd) {
    abort("conv layers are predicted position by position: use `predict_variance()` on a `cnn()` network.")
  },
  engine = TRUE)

# The geometry the engine reads (spec field `conv`, CV_* in src/engine.h):
# type, c_in, c_out, groups, H, W, H_out, W_out, kh, kw, sh, sw, dh, dw,
# zeros before (h, w), circular; zeros for other kinds.
conv_npar <- 17L
conv_geometry <- function(l) {
  if (l$kind != "conv") return(numeric(conv_npar))
  hw <- function(v) if (length(v) == 1) c(1, v) else v
  si <- hw(l$spatial_in)
  if (l$pool) {
    return(c(2, l$conv$in_features, l$conv$out_features, 1, si, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0))
  }
  cl <- l$conv
  c(1, cl$in_channels, cl$out_channels, cl$groups, si, hw(l$spatial_out), hw(cl$kernel_size),
    hw(cl$stride), hw(cl$dilation), if (length(l$pad) == 1) c(0, l$pad) else l$pad,
    as.double(cl$padding == "circular"))
}

#' @export
print.initvar_cnn <- function(x, ...) {
  layers <- net_layers(x)
  d <- length(layers)
  cv <- x$cnn
  sz <- function(v) paste(format(v, trim = TRUE), collapse = "x")
  cat(sprintf("<initvar cnn> %d-D, %d layer%s; input %s channels x %s (rows: c x %s flattened, NCHW)\n",
              cv$dims, d, if (d > 1) "s" else "", format(cv$channels[1]), sz(cv$spatial),
              if (cv$dims == 2) "H x W" else "L"))
  tab <- data.frame(
    layer = seq_len(d),
    type = vapply(layers, function(l) if (l$pool) "pool + dense" else layer_label(l$conv), ""),
    out = vapply(layers, function(l) {
      if (l$pool) format(l$n_out) else paste0(format(l$conv$out_channels), " x ", sz(l$spatial_out))
    }, ""),
    activation = vapply(layers, function(l) format(l$activation), ""),
    weights = vapply(layers, function(l) l$init$label, ""),
    `Var(W)` = formatC(vapply(layers, function(l) {
      tryCatch(weight_variance(l$init, layer = l$conv), error = function(e) NA_real_)
    }, 0), digits = 4, format = "g"),
    check.names = FALSE, stringsAsFactors = FALSE)
  print(tab, row.names = FALSE, right = FALSE)
  invisible(x)
}
