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
#' image flattened channel-major, torch's NCHW order: element `c H W + h W +
#' w` (0-based) is channel `c` at row `h` and column `w`; for an R array
#' `a[c, h, w]` that is `as.vector(aperm(a, 3:1))`. A layer's weight is
#' torch's `(out, in / groups, kh, kw)`
#' array. A 1-D convolution (scalar `spatial`) is a 2-D one of height 1.
#'
#' @section Padding:
#' `"zero"` pads `floor(d (k - 1) / 2)` zeros before and `ceiling(d (k - 1)
#' / 2)` after each axis (torch's `padding = "same"`, and for stride `s` the
#' output has `ceiling(n / s)` positions, as Keras's `"same"`); `"circular"`
#' wraps the input around with the same sizes; `"valid"` pads nothing
#' (`floor((n - d (k - 1) - 1) / s) + 1` positions).
#'
#' @section Predictions:
#' [predict_variance()] of a `cnn()` walks per-position maps (in the
#' `"position"` attribute of its result, one list of `var_s`, `var_z`,
#' `var_grad_s` matrices per convolution, `H_out x W_out`; see
#' [position_map()]), and its per-layer rows are their averages over
#' positions (for `var_z`, the pooled variance over positions, whose means
#' differ near a zero border). With \eqn{\sigma_w^2 = \mathrm{fan_{in}}
#' \mathrm{Var}(W)} and stride \eqn{s}, dilation \eqn{d}, padding before
#' \eqn{\pi},
#' \deqn{q_{l+1}(p) = \frac{\sigma_w^2}{|k|} \sum_{o:\, s p + d o - \pi
#'   \in \mathrm{input}} E[f(z)^2]_{q_l(s p + d o - \pi)} + \sigma_b^2,}
#' out-of-bounds taps reading the padding's zeros (not \eqn{f(0)}); circular
#' padding wraps the position. For [init_delta_orthogonal()] kernels each
#' tap carries its own variance (all of it at the centre tap), and the sum
#' is weighted accordingly. Backward, each input position sums
#' \eqn{\mathrm{Var}(W) c_{out}/\mathrm{groups}} times the gradient
#' variances of the (tap, output position) pairs that read it, times
#' \eqn{E f'(s)^2} there; a weight's gradient sums over positions. The
#' forward map is exact for ReLU without biases at any channel count (for
#' Var(s); Var(z) involves E(z), exact only at infinite width). The pooled
#' read-out needs the kernel over position pairs, carried in closed form for
#' linear and zero-mean ReLU layers (the arc-cosine kernel; `NA` for other
#' activations). Under a pooled read-out a channel's gradient is shared by
#' all its positions, so only the last convolution's gradient is predicted
#' (`NA` below it, and for the convolutions' weight gradients). No
#' `regime = "finite_width"` for convolutions.
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
  parts <- layer_parts(activation, init, bias, d)
  acts <- parts$activation
  inits <- parts$init
  biases <- parts$bias
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


# ---- the layer kind ---------------------------------------------------------

# A conv layer's single unit: the kernel as a K x c_out matrix (K = c_in /
# groups x prod(kernel)), with the layer's real fans; the read-out's is
# c x n_out on the pooled channels.
conv_unit <- function(l) {
  f <- real_fans(l$conv)
  rows <- if (l$pool) l$conv$in_features else l$conv$in_channels / l$conv$groups * prod(l$conv$kernel_size)
  cols <- if (l$pool) l$conv$out_features else l$conv$out_channels
  list(n_in = rows, n_out = cols, fans = c(f[["fan_in"]], f[["fan_out"]]),
       activation = l$activation, init = delta_scheme(l$init, l$conv), bias = l$bias)
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
  cat(sprintf("<initvar cnn> %d-D, %d layer%s; input %s channels x %s\n  (rows: c x %s flattened, NCHW)\n",
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

# ---- predictions, position by position --------------------------------------

# The input position (1-based, in the engine's order h W + w) that output
# position p of conv layer l reads through each tap: a P_out x taps matrix,
# NA for a zero of the padding.
conv_taps <- function(l) {
  hw <- function(v) if (length(v) == 1) c(1, v) else v
  cl <- l$conv
  si <- hw(l$spatial_in); so <- hw(l$spatial_out); k <- hw(cl$kernel_size)
  s <- hw(cl$stride); dl <- hw(cl$dilation)
  pad <- if (length(l$pad) == 1) c(0, l$pad) else l$pad
  circ <- cl$padding == "circular"
  ho <- rep(seq_len(so[1]) - 1, each = so[2])
  wo <- rep(seq_len(so[2]) - 1, so[1])
  taps <- expand.grid(t = seq_len(k[2]) - 1, a = seq_len(k[1]) - 1)
  out <- matrix(NA_integer_, length(ho), nrow(taps))
  for (j in seq_len(nrow(taps))) {
    ih <- s[1] * ho + dl[1] * taps$a[j] - pad[1]
    iw <- s[2] * wo + dl[2] * taps$t[j] - pad[2]
    if (circ) { ih <- ih %% si[1]; iw <- iw %% si[2] }
    ok <- ih >= 0 & ih < si[1] & iw >= 0 & iw < si[2]
    out[ok, j] <- as.integer(ih[ok] * si[2] + iw[ok] + 1)
  }
  out
}

# sum over taps of v at the input positions each output position reads
# (zeros of the padding read 0), and its adjoint: sum over the (tap, output
# position) pairs that read each input position.
# With weights w, tap j's terms are multiplied by w[j] (the per-tap weight
# variances over their mean: 1 for iid kernels; see tap_weights()).
tap_sum <- function(taps, v, w = rep(1, ncol(taps))) {
  m <- matrix(v[taps], nrow(taps))
  m[is.na(m)] <- 0
  drop(m %*% w)
}
tap_scatter <- function(taps, g, n_in, w = rep(1, ncol(taps))) {
  out <- numeric(n_in)
  for (j in seq_len(ncol(taps))) {
    ok <- !is.na(taps[, j])
    out[taps[ok, j]] <- out[taps[ok, j]] + w[j] * g[ok]   # one tap reads each input once
  }
  out
}

# Each tap's weight variance over the kernel's mean variance, in the
# engine's tap order: all 1, but for init_delta_orthogonal(), whose
# variance is all at the centre tap (R/init-delta.R).
tap_weights <- function(l) {
  k <- prod(l$conv$kernel_size)
  if (l$init$family != "delta_orthogonal") return(rep(1, k))
  w <- numeric(k)
  w[delta_kernel(l$conv$kernel_size)$centre + 1] <- k
  w
}

# E[f(s)], Var(f(s)) and E[f'(s)^2] for s ~ N(mu, q), vectorized over q
# (closed forms for linear and zero-mean ReLU, else quadrature once per
# distinct q).
act_moments <- function(a, q, mu, regime) {
  if (regime == "linear" || a$name == "linear") {
    return(list(m1 = rep(mu, length(q)), var = q, dfd2 = rep(1, length(q))))
  }
  if (a$name == "relu" && mu == 0) {
    return(list(m1 = sqrt(q / (2 * pi)), var = q / 2 - q / (2 * pi),
                dfd2 = ifelse(q > 0, 1 / 2, 0)))
  }
  uq <- unique(q)
  one <- vapply(uq, function(qq) {
    ex <- function(g) normal_expectation(g, sqrt(qq), mu, kinks = a$kinks)
    m1 <- ex(a$f)
    c(m1, ex(function(x) (a$f(x) - m1)^2), ex(function(x) a$df(x)^2))
  }, numeric(3))
  k <- match(q, uq)
  list(m1 = one[1, k], var = one[2, k], dfd2 = one[3, k])
}

# E[f(u) f(v)] over position pairs for the pooled read-out: from the
# kernel K (P x P) of the pre-activations, closed forms for linear and
# zero-mean ReLU (the arc-cosine kernel); NULL otherwise.
pair_moments <- function(a, K, mu, regime) {
  if (regime == "linear" || a$name == "linear") return(K + mu^2)
  if (a$name == "relu" && mu == 0) {
    dg <- sqrt(pmax(diag(K), 0))
    nn <- outer(dg, dg)
    cth <- ifelse(nn > 0, pmin(pmax(K / nn, -1), 1), 0)
    th <- acos(cth)
    return(nn / (2 * pi) * (sin(th) + (pi - th) * cth))
  }
  NULL
}

# predict_variance() for cnn() networks: the per-position maps of every
# layer (the recursion of ?predict_variance's "Convolutional networks") and
# their averages over positions, the per-layer values the engine pools.
cnn_predict <- function(net, var_x, var_grad, regime, grad) {
  if (regime == "finite_width") {
    abort("`regime = \"finite_width\"` covers networks from `mlp()` and `resmlp()`: for a `cnn()`, use `regime = \"mean_field\"` or `\"linear\"`.")
  }
  if (grad != "normal") {
    abort("`grad = \"softmax\"` needs a dense last layer: a `cnn()` has none; use `grad = \"normal\"`.")
  }
  layers <- net_layers(net)
  d <- length(layers)
  cv <- net$cnn
  v <- numeric(d)
  for (i in seq_len(d)) {
    l <- layers[[i]]
    if (l$init$family == "conv_orthogonal") {
      abort(sprintf(paste0("`net` has Algorithm-1 orthogonal kernels (layer %d): the predictions ",
                           "need each tap's variance and the taps' covariances, which ",
                           "`init_conv_orthogonal()` has in no closed form; `simulate_network()` ",
                           "runs them."), i))
    }
    v[i] <- weight_variance(l$init, layer = l$conv)
    if (abs(weight_mean(l$init, layer = l$conv)) > 1e-12 * sqrt(v[i])) {
      abort(sprintf("`net` has weights with a non-zero mean (layer %d): the predictions assume zero-mean weights.", i))
    }
  }
  bm <- vapply(layers, function(l) weight_mean(l$bias), 0)
  bv <- vapply(layers, function(l) weight_variance(l$bias), 0)
  n_pos <- function(sp) prod(sp)
  m2_in <- rep(var_x, n_pos(cv$spatial))      # E[z^2] per input position
  mean_in <- rep(0, n_pos(cv$spatial))
  K <- if (cv$readout) diag(var_x, n_pos(cv$spatial)) else NULL   # the kernel of z, for the read-out
  fw <- vector("list", d)
  for (i in seq_len(d)) {
    l <- layers[[i]]
    a <- l$activation
    if (l$pool) {
      # z-bar_c = mean_p z_c(p): E[z-bar^2] = mean over pairs of E[z(p) z(p')]
      m2_bar <- if (is.null(K)) NA_real_ else mean(K)
      q <- v[i] * l$conv$in_features * m2_bar + bv[i]
      am <- act_moments(a, q, bm[i], regime)
      fw[[i]] <- list(q = q, m1 = am$m1, var = am$var, dfd2 = am$dfd2, m2_w = m2_bar)
      m2_in <- am$var + am$m1^2
      next
    }
    taps <- conv_taps(l)
    tw <- tap_weights(l)
    cing <- l$conv$in_channels / l$conv$groups
    q <- v[i] * cing * tap_sum(taps, m2_in, tw) + bv[i]
    am <- act_moments(a, q, bm[i], regime)
    fw[[i]] <- list(q = q, m1 = am$m1, var = am$var, dfd2 = am$dfd2, taps = taps,
                    tw = tw, m2_prev = m2_in)
    if (!is.null(K)) {
      # the kernel over position pairs: sum over taps of the input kernel
      # at the pairs of positions each reads (zeros read 0), plus the bias
      Kz <- K
      Ks <- matrix(0, length(q), length(q))
      for (j in seq_len(ncol(taps))) {
        ix <- taps[, j]
        ok <- !is.na(ix)
        Ks[ok, ok] <- Ks[ok, ok] + tw[j] * Kz[ix[ok], ix[ok]]
      }
      Ks <- v[i] * cing * Ks + bv[i]
      K <- pair_moments(a, Ks, bm[i], regime)
    }
    m2_in <- am$var + am$m1^2
  }
  # backward: Var(dC/ds) per output position of each layer
  vg <- vector("list", d)
  vg[[d]] <- rep(var_grad, length(fw[[d]]$q))
  if (d > 1) {
    for (i in (d - 1):1) {
      l <- layers[[i + 1]]
      n_in <- length(fw[[i]]$q)
      dz <- if (l$pool) {
        rep(v[i + 1] * l$conv$out_features * vg[[i + 1]] / n_in^2, n_in)
      } else {
        v[i + 1] * l$conv$out_channels / l$conv$groups * tap_scatter(fw[[i + 1]]$taps, vg[[i + 1]], n_in,
                                                                     fw[[i + 1]]$tw)
      }
      vg[[i]] <- fw[[i]]$dfd2 * dz
      # Under a pooled read-out every position of a channel shares one
      # gradient, so the layer's f' and weights are not independent of the
      # gradient across positions: the diagonal recursion holds for the last
      # convolution (its gradient comes from the read-out's weights alone),
      # not below it (17% off at 8 channels, 8 x 8, ReLU): not predicted.
      if (cv$readout && i < d - 1) vg[[i]] <- rep(NA_real_, n_in)
    }
  }
  # per layer: the averages over positions (and the weight gradients:
  # sum over positions, averaged over taps)
  var_s <- var_z <- mean_s <- mean_z <- var_gs <- var_gw <- numeric(d)
  for (i in seq_len(d)) {
    f <- fw[[i]]
    var_s[i] <- mean(f$q)
    mean_s[i] <- bm[i]
    mean_z[i] <- mean(f$m1)
    var_z[i] <- mean(f$var + f$m1^2) - mean(f$m1)^2
    var_gs[i] <- mean(vg[[i]])
    # (under a pooled read-out the gradients of a channel are correlated
    # across positions: its convolutions' weight gradients, sums over
    # positions, are not predicted)
    var_gw[i] <- if (layers[[i]]$pool) f$m2_w * vg[[i]] else if (cv$readout) NA_real_ else {
      mean(vapply(seq_len(ncol(f$taps)), function(j) {
        ix <- f$taps[, j]
        ok <- !is.na(ix)
        sum(f$m2_prev[ix[ok]] * vg[[i]][ok])
      }, 0))
    }
  }
  w <- net$widths
  out <- data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
                    var_s = var_s, var_z = var_z, var_grad_s = var_gs,
                    var_grad_w = var_gw, mean_s = mean_s, mean_z = mean_z)
  attr(out, "regime") <- regime
  attr(out, "position") <- lapply(seq_len(d), function(i) {
    l <- layers[[i]]
    if (l$pool) return(NULL)
    so <- if (length(l$spatial_out) == 1) c(1, l$spatial_out) else l$spatial_out
    shape <- function(x) matrix(x, so[1], so[2], byrow = TRUE)
    list(var_s = shape(fw[[i]]$q), var_z = shape(fw[[i]]$var),
         var_grad_s = shape(vg[[i]]))
  })
  class(out) <- c("initvar_prediction", "data.frame")
  out
}

# The number of output positions of a network's convolutions (the engine's
# per-position maps; 0 without conv layers).
conv_n_positions <- function(net) {
  sum(vapply(net_layers(net), function(l) {
    if (l$kind == "conv" && !l$pool) prod(l$spatial_out) else 0
  }, 0))
}

#' Per-position variance maps of a convolutional network
#'
#' The maps of Var(s) and Var(dC/ds) (and, predicted, Var(z)) at every
#' spatial position, averaged over channels, of a convolution of a [cnn()]
#' network: from [predict_variance()], or simulated by [simulate_network()]
#' with Monte Carlo standard errors from the networks as replicates (the
#' per-network means over examples and channels of the values and their
#' squares at that position, by the delta method, as the per-layer tables).
#'
#' @param x A [predict_variance()] or [simulate_network()] result for a
#'   [cnn()] network.
#' @param layer The layer (1-based).
#' @param quantity `"var_s"`, `"var_grad_s"`, or for a prediction
#'   `"var_z"`.
#' @return For a prediction, a matrix `H_out x W_out` (one row for a 1-D
#'   convolution). For a simulation, a list of such matrices: `estimate`,
#'   `mcse`, and `prediction` (the map of the simulation's regime, or
#'   `NULL`).
#' @examples
#' net <- cnn(8, kernel = 3, depth = 4, spatial = c(8, 8), activation = "relu")
#' p <- predict_variance(net, regime = "mean_field")
#' round(position_map(p, 4), 3)    # the zero border's deficit, moving inward
#' set.seed(1)
#' sim <- simulate_network(net, networks = 20, inputs = 4, threads = 1)
#' m <- position_map(sim, 4)
#' round((m$estimate - m$prediction) / m$mcse, 1)
#' @export
position_map <- function(x, layer, quantity = c("var_s", "var_grad_s", "var_z")) {
  sim <- inherits(x, "initvar_simulation")
  net <- if (sim) x$net else NULL
  if (!(sim && inherits(net, "initvar_cnn")) &&
      !(inherits(x, "initvar_prediction") && !is.null(attr(x, "position")))) {
    abort_arg("x", "a `predict_variance()` or `simulate_network()` result for a `cnn()` network", x)
  }
  quantity <- check_choice(quantity, c("var_s", "var_grad_s", "var_z"), "quantity")
  if (!sim) {
    pos <- attr(x, "position")
    check_whole(layer, "layer", max = length(pos))
    m <- pos[[layer]]
    if (is.null(m)) abort(sprintf("`layer` %d is the pooled read-out: it has no positions.", layer))
    return(m[[quantity]])
  }
  layers <- net_layers(net)
  check_whole(layer, "layer", max = length(layers))
  l <- layers[[layer]]
  if (l$pool) abort(sprintf("`layer` %d is the pooled read-out: it has no positions.", layer))
  if (quantity == "var_z") {
    abort_arg("quantity", "\"var_s\" or \"var_grad_s\" for a simulation (the engine maps s and dC/ds)", quantity)
  }
  off <- sum(vapply(layers[seq_len(layer - 1)], function(m) {
    if (m$kind == "conv" && !m$pool) prod(m$spatial_out) else 0
  }, 0))
  P <- prod(l$spatial_out)
  k <- if (quantity == "var_s") 0 else 5
  S <- matrix(x$position, 10)[k + 1:5, off + seq_len(P), drop = FALSE]
  J <- x$networks
  ma <- S[1, ] / J
  mb <- S[2, ] / J
  caa <- (S[3, ] - J * ma^2) / (J - 1)
  cbb <- (S[4, ] - J * mb^2) / (J - 1)
  cab <- (S[5, ] - J * ma * mb) / (J - 1)
  est <- mb - ma^2
  # delta method: gradient (-2 mean(a), 1)
  mcse <- sqrt(pmax(4 * ma^2 * caa - 4 * ma * cab + cbb, 0) / J)
  sc <- x$scale[if (quantity == "var_s") 1 else 3, layer]^2
  so <- if (length(l$spatial_out) == 1) c(1, l$spatial_out) else l$spatial_out
  shape <- function(v) matrix(v, so[1], so[2], byrow = TRUE)
  pred <- x$prediction[[x$regime]]
  list(estimate = shape(est * sc), mcse = shape(mcse * sc),
       prediction = if (!is.null(pred) && !is.null(attr(pred, "position")))
         attr(pred, "position")[[layer]][[quantity]])
}

#' Draw a per-position variance map
#'
#' A heat map of [position_map()]: a convolution's Var(s) or Var(dC/ds) by
#' position, predicted or simulated (then the estimate; with `what = "z"`,
#' the estimate's departure from the prediction in MCSEs).
#'
#' @inheritParams position_map
#' @param what For a simulation: `"estimate"`, `"prediction"` or `"z"`
#'   ((estimate - prediction) / MCSE).
#' @param main Title; `NULL` for a default.
#' @param ... Passed to [graphics::image()].
#' @return The matrix drawn, invisibly.
#' @examples
#' net <- cnn(8, kernel = 3, depth = 4, spatial = c(8, 8), activation = "relu")
#' p <- predict_variance(net, regime = "mean_field")
#' plot_position_map(p, 4)
#' @export
plot_position_map <- function(x, layer, quantity = c("var_s", "var_grad_s", "var_z"),
                              what = c("estimate", "prediction", "z"), main = NULL, ...) {
  quantity <- check_choice(quantity, c("var_s", "var_grad_s", "var_z"), "quantity")
  what <- check_choice(what, c("estimate", "prediction", "z"), "what")
  m <- position_map(x, layer, quantity)
  if (is.list(m)) {
    if (what != "estimate" && is.null(m$prediction)) {
      abort_arg("what", "\"estimate\" for a simulation without a prediction", what)
    }
    m <- switch(what, estimate = m$estimate, prediction = m$prediction,
                z = (m$estimate - m$prediction) / m$mcse)
  }
  if (is.null(main)) {
    main <- sprintf("%s, layer %d%s", c(var_s = "Var(s)", var_grad_s = "Var(dC/ds)",
                                        var_z = "Var(z)")[[quantity]], as.integer(layer),
                    if (inherits(x, "initvar_simulation")) paste0(" (", what, ")") else "")
  }
  # rows top to bottom, as the image's rows
  graphics::image(seq_len(ncol(m)), seq_len(nrow(m)), t(m[nrow(m):1, , drop = FALSE]),
                  col = grDevices::hcl.colors(64, "viridis"), xlab = "w", ylab = "h",
                  main = main, axes = FALSE, ...)
  graphics::box()
  invisible(m)
}
