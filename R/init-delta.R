# Delta-orthogonal convolution kernels (Xiao et al. 2018): the scheme, its
# kernel geometry, its sampler for sample_weights() and its exact moments.
# (The family's entry is `delta_orthogonal` in R/scheme-families.R; the
# engine draws it in iv_draw_layer(), src/propagate.c.)

#' Delta-orthogonal convolution kernels
#'
#' `init_delta_orthogonal()` draws a convolution kernel that is zero at
#' every tap but the kernel's centre, where it is `gain` times a
#' Haar-random orthogonal matrix between the input and output channels
#' (Xiao et al. 2018, "Dynamical isometry and a mean field theory of CNNs":
#' the kernels that train plain CNNs at 10,000 layers). At the centre the
#' convolution is a 1 x 1 convolution by an orthogonal matrix, so with
#' `c_in <= c_out`, stride 1 and a padding that never puts the centre tap
#' out of bounds (circular, or zero padding with torch's `"same"` sizes)
#' every example's output norm is `gain` times its input norm, exactly.
#'
#' @section The centre tap:
#' Per spatial axis the centre is tap `floor((k - 1) / 2)` (0-based): the
#' middle tap of an odd kernel and, for an even kernel, the one before the
#' middle. With [cnn()]'s zero and circular padding (`floor(d (k - 1) /
#' 2)` before), output position `p` reads input position `p` through this
#' tap whenever the dilation is 1 or the kernel is odd. (TensorFlow's
#' `convolutional_delta_orthogonal` puts it at `k // 2`, the tap after the
#' middle of an even kernel, which reads position `p + 1` under
#' `"same"` padding.)
#'
#' @section Channels in and out:
#' Written as initvar's `c_in x c_out` matrix `M` (the centre tap of the
#' kernel in the Keras layout; its transpose in torch's `(out, in, k...)`),
#' the centre holds:
#' * `c_in <= c_out`: `M M^T = gain^2 I` (orthonormal columns in torch's
#'   orientation): `|x M| = gain |x|`, a forward isometry.
#' * `c_in > c_out`: only `M^T M = gain^2 I` is possible, a co-isometry: the
#'   gradients' norms are preserved (`|M g| = gain |g|`), the forward pass
#'   projects onto `c_out` directions. TensorFlow refuses this case; initvar
#'   allows it, as [init_orthogonal()] allows non-square matrices, and says
#'   so here.
#'
#' With `groups` (in [cnn()]), each group's `c_in/groups x c_out/groups`
#' block is drawn independently, the others zero, as a grouped convolution's
#' weight.
#'
#' @section Variance:
#' A Haar-random `m x n` matrix with orthonormal columns or rows has entries
#' of mean 0 and variance `1 / max(m, n)`, exactly. Averaged over the whole
#' kernel (`taps = prod(kernel)` taps, all but one zero), the variance
#' [weight_variance()] gives is
#' \deqn{\mathrm{Var}(W) = \frac{\mathrm{gain}^2}{\mathrm{taps}\,
#'   \max(c_{in}, c_{out}) / \mathrm{groups}},}
#' so that `fan_in Var(W) = gain^2 c_in / max(c_in, c_out)`: `gain^2` when
#' `c_in >= c_out`, less for a widening layer (whose norm is still kept: the
#' variance spreads over more outputs). It is what the engine and
#' [sample_weights()] realize, checked against simulation in the tests. Give `dim` and `layout` ([sample_weights()], [weight_variance()]:
#' torch's `(out, in, k...)` or Keras's `(k..., in, out)`), or for the
#' variance a `layer = conv_layer()` (transposed convolutions are not
#' covered). A 2-dimensional shape is a 1 x 1 kernel: [init_orthogonal()].
#'
#' In [predict_variance()] of a [cnn()] the recursion gives each tap its own
#' variance (all of it at the centre), so the per-position maps are those
#' of the delta kernel, not of a spread one.
#'
#' @param gain Multiplier of the orthogonal centre matrix, `gain > 0`.
#' @return An `initvar_scheme`.
#' @references Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington (2018).
#'   Dynamical isometry and a mean field theory of CNNs: how to train
#'   10,000-layer vanilla convolutional neural networks. ICML.
#' @examples
#' K <- sample_weights(init_delta_orthogonal(), dim = c(8, 8, 3, 3), layout = "torch")
#' M <- K[, , 2, 2]                 # the centre tap: out x in
#' round(crossprod(M), 12)          # the identity
#' sum(K != 0)                      # 64: the centre tap's 8 x 8, zeros elsewhere
#' weight_variance(init_delta_orthogonal(), dim = c(8, 8, 3, 3), layout = "torch")  # 1 / 72
#' weight_variance(init_delta_orthogonal(2), layer = conv_layer(4, 16, c(3, 3)))    # 4 / 144
#' net <- cnn(8, kernel = 3, depth = 4, spatial = c(8, 8), padding = "circular",
#'            activation = "linear", init = init_delta_orthogonal())
#' net
#' @export
init_delta_orthogonal <- function(gain = 1) {
  gain <- check_number(gain, min = 0, min_open = TRUE)
  check_square_finite(gain, "gain", "the variance, a multiple of `gain`^2,")
  new_scheme("delta_orthogonal", "delta-orthogonal", "delta_orthogonal", gain = gain,
             reference = "Xiao et al. (2018)")
}

# The geometry of a kernel for the family: its taps, the centre tap in the
# engine's order (last axis fastest: src/conv.c's a kw + t), the groups, and
# the kernel's size.
delta_kernel <- function(k, groups = 1) {
  k <- as.double(k)
  if (!length(k)) k <- 1
  ctr <- floor((k - 1) / 2)
  stride <- rev(cumprod(c(1, rev(k)[-length(k)])))   # last axis fastest
  list(taps = prod(k), centre = sum(ctr * stride), groups = groups, size = k)
}

# The kernel axes of a shape in a layout (none for a matrix).
shape_kernel <- function(dim, layout) {
  nd <- length(dim)
  if (nd <= 2) return(numeric(0))
  if (layout == "torch") dim[-(1:2)] else dim[seq_len(nd - 2)]
}

# sample_weights(init_delta_orthogonal(), dim = , layout = ): the centre
# matrix (c_in x c_out, C_sample_orthogonal) placed at the centre tap of the
# shape, zeros elsewhere.
sample_delta_orthogonal <- function(r, shape, threads) {
  local_blas_single_thread()   # the QR: one BLAS thread, whatever `threads`
  ci <- r$c_in
  co <- r$c_out
  M <- .Call(C_sample_orthogonal, ci, co, r$gain, threads)
  dm <- shape$dim
  if (shape$layout == "initvar" || length(dm) == 2) {
    return(if (shape$layout == "torch") t(M) else M)
  }
  out <- array(0, dm)
  ctr <- floor((shape_kernel(dm, shape$layout) - 1) / 2) + 1
  i <- rep(seq_len(ci), times = co)
  o <- rep(seq_len(co), each = ci)
  cm <- matrix(ctr, length(i), length(ctr), byrow = TRUE)
  idx <- if (shape$layout == "torch") cbind(o, i, cm) else cbind(cm, i, o)
  out[idx] <- M[cbind(i, o)]
  out
}

# weight_variance(init_delta_orthogonal(), layer = ): exact, from the layer.
delta_layer_moments <- function(scheme, layer) {
  if (layer$kind == "conv" && isTRUE(layer$transposed)) {
    abort_arg("layer", sprintf("a convolution that is not transposed for `init_%s()`",
                               scheme$family), layer)
  }
  dist_moments(resolve_scheme(delta_scheme(scheme, layer), 1, 1,
                              rows = delta_rows(layer), cols = delta_cols(layer)))
}

# The K x c_out matrix of a layer (K = c_in / groups x taps), and the scheme
# with the layer's kernel attached (what cnn()'s units hand the engine).
delta_rows <- function(l) {
  if (l$kind == "conv") l$in_channels / l$groups * prod(l$kernel_size) else prod(l$in_features)
}
delta_cols <- function(l) if (l$kind == "conv") l$out_channels else prod(l$out_features)
delta_scheme <- function(scheme, l) {
  if (!scheme$family %in% c("delta_orthogonal", "conv_orthogonal")) return(scheme)
  scheme$kernel <- if (l$kind == "conv") delta_kernel(l$kernel_size, l$groups) else delta_kernel(1)
  scheme
}

#' Orthogonal convolution kernels (Xiao et al.'s Algorithm 1)
#'
#' `init_conv_orthogonal()` draws a convolution kernel whose every tap may
#' be non-zero and whose convolution is nevertheless orthogonal under
#' circular padding: the kernel's symbol \eqn{\hat W(\omega) = \sum_t W_t
#' e^{i \omega \cdot t}} is `gain` times an isometry at every frequency
#' (Xiao et al. 2018, Algorithm 1; TensorFlow's `ConvolutionOrthogonal2D`
#' and its 1-D and 3-D kin). Against [init_delta_orthogonal()], whose
#' kernel is a 1 x 1 convolution in disguise, it mixes positions.
#'
#' @section Construction:
#' Per group (\eqn{c_i = c_{in}/G}, \eqn{c_o = c_{out}/G}, \eqn{n = \max(c_i,
#' c_o)}): a polynomial \eqn{P(z) = \prod (p_j + (I - p_j) z_j)} of
#' \eqn{k_h - 1} factors along the height and \eqn{k_w - 1} along the width,
#' each \eqn{p_j = Q D Q^T} a symmetric projection (\eqn{Q} Haar-random on
#' \eqn{n \times n}, \eqn{D} a diagonal of fair 0/1 coins), multiplied out
#' tap by tap; each factor is unitary on the unit circle, so \eqn{P} is.
#' Then \eqn{W_t = \mathrm{gain}\, M P_t} with \eqn{M} (\eqn{c_i \times n})
#' with orthonormal rows when \eqn{c_i \le c_o}, a forward isometry (as
#' initvar's rows \eqn{s = z W}), or \eqn{W_t = \mathrm{gain}\, P_t M}
#' with \eqn{M} (\eqn{n \times c_o}) with orthonormal columns when
#' \eqn{c_i > c_o}, a co-isometry that preserves gradient norms (TensorFlow
#' refuses this case). The engine draws it in C, `sample_weights()` in R
#' (the same construction).
#'
#' @section Exactly:
#' By Parseval, \eqn{\sum_t W_t W_t^T = \mathrm{gain}^2 I_{c_i}} (for
#' \eqn{c_i \le c_o}; \eqn{\sum_t W_t^T W_t = \mathrm{gain}^2 I_{c_o}}
#' otherwise) for every draw, so the squared entries of a group sum to
#' \eqn{\mathrm{gain}^2 \min(c_i, c_o)} and the variance averaged over the
#' kernel is, as for delta-orthogonal kernels,
#' \deqn{\mathrm{Var}(W) = \frac{\mathrm{gain}^2}{\mathrm{taps}\,
#'   \max(c_{in}, c_{out}) / \mathrm{groups}}}
#' (the entries have mean 0 and are uncorrelated across channels). Under
#' circular padding at stride 1 a linear network of such layers has every
#' singular value \eqn{\prod \mathrm{gain}} ([jacobian_spectrum()]); under
#' zero padding it does not (the border cuts the polynomial). How the
#' variance splits over the taps has no closed form, so
#' [predict_variance()] refuses `cnn()` networks with these kernels: use
#' [simulate_network()].
#'
#' @param gain Multiplier of the kernel, `gain > 0`.
#' @return An `initvar_scheme`.
#' @references Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington (2018).
#'   Dynamical isometry and a mean field theory of CNNs: how to train
#'   10,000-layer vanilla convolutional neural networks. ICML.
#' @examples
#' set.seed(1)
#' K <- sample_weights(init_conv_orthogonal(), dim = c(4, 4, 3, 3), layout = "torch")
#' # every tap is used, and sum_t W_t W_t^T is the identity
#' round(Reduce(`+`, lapply(1:9, function(t) {
#'   Wt <- K[, , (t - 1) %/% 3 + 1, (t - 1) %% 3 + 1]
#'   crossprod(Wt)
#' })), 12)
#' net <- cnn(4, kernel = 3, depth = 20, spatial = c(5, 5), padding = "circular",
#'            activation = "linear", init = init_conv_orthogonal(1.05))
#' js <- jacobian_spectrum(net, networks = 2, depths = 20, layers = FALSE)
#' range(js$sv) / 1.05^20   # 1 and 1
#' @export
init_conv_orthogonal <- function(gain = 1) {
  gain <- check_number(gain, min = 0, min_open = TRUE)
  check_square_finite(gain, "gain", "the variance, a multiple of `gain`^2,")
  new_scheme("conv_orthogonal", "conv-orthogonal (Algorithm 1)", "conv_orthogonal", gain = gain,
             reference = "Xiao et al. (2018), Algorithm 1")
}

# sample_weights(init_conv_orthogonal(), dim = , layout = ): the
# construction of ?init_conv_orthogonal in R, its Haar matrices from
# C_sample_orthogonal and its coins from R's generator.
sample_conv_orthogonal <- function(r, shape, threads) {
  local_blas_single_thread()   # the QR: one BLAS thread, whatever `threads`
  ci <- r$c_in
  co <- r$c_out
  n <- max(ci, co)
  kh <- r$kh
  kw <- r$kw
  haar <- function(a, b) .Call(C_sample_orthogonal, a, b, 1, threads)
  proj <- function() {
    Q <- haar(n, n)
    keep <- stats::runif(n) < 0.5
    Q[, keep, drop = FALSE] %*% t(Q[, keep, drop = FALSE])
  }
  # K[[a, t]]: the polynomial's coefficient matrices (list-matrix)
  K <- matrix(list(diag(n)), 1, 1)
  grow <- function(K, along_h) {
    p <- proj()
    q <- diag(n) - p
    nh <- nrow(K) + along_h
    nw <- ncol(K) + !along_h
    out <- matrix(list(matrix(0, n, n)), nh, nw)
    for (a in seq_len(nh)) for (t in seq_len(nw)) {
      acc <- matrix(0, n, n)
      if (a <= nrow(K) && t <= ncol(K)) acc <- acc + K[[a, t]] %*% p
      a1 <- if (along_h) a - 1 else a
      t1 <- if (along_h) t else t - 1
      if (a1 >= 1 && t1 >= 1 && a1 <= nrow(K) && t1 <= ncol(K)) acc <- acc + K[[a1, t1]] %*% q
      out[[a, t]] <- acc
    }
    out
  }
  for (f in seq_len(kh - 1)) K <- grow(K, TRUE)
  for (f in seq_len(kw - 1)) K <- grow(K, FALSE)
  M <- if (ci <= co) t(haar(n, ci)) else haar(n, co)
  M <- r$gain * M
  taps <- lapply(seq_len(kh * kw), function(j) {
    a <- (j - 1) %/% kw + 1
    t <- (j - 1) %% kw + 1
    if (ci <= co) M %*% K[[a, t]] else K[[a, t]] %*% M
  })
  dm <- shape$dim
  if (shape$layout == "initvar" || length(dm) == 2) {
    return(if (shape$layout == "torch") t(taps[[1]]) else taps[[1]])
  }
  out <- array(0, dm)
  kd <- shape_kernel(dm, shape$layout)
  # the kernel's axes in C order, last fastest: tap j is (a, t) of the
  # (height, width) view; a 1-D or 3-D kernel maps its taps in order
  idx_k <- arrayInd(seq_len(prod(kd)), rev(kd))[, rev(seq_along(kd)), drop = FALSE]
  for (j in seq_len(prod(kd))) {
    for (o in seq_len(co)) for (i in seq_len(ci)) {
      pos <- if (shape$layout == "torch") c(o, i, idx_k[j, ]) else c(idx_k[j, ], i, o)
      out[matrix(pos, 1)] <- taps[[j]][i, o]
    }
  }
  out
}
