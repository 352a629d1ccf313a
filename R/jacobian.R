# The singular values of random networks' Jacobians (src/jacobian.c), with
# the predictions of random-matrix theory and free probability.

jac_block_size <- 8L
jac_ns <- 5L   # per network and row: mean sv, mean sv^2, mean sv^4, min, max

# The list C_jacobian reads (src/jacobian.c, read_jspec()): the engine's own
# spec of the networks (engine_spec(), R/simulate.R) with a batch of one
# input, so that network j is the engine's network j, and the depths (then
# the layers flag), and `every`: 0 for the singular values, m >= 1 for the
# log spectrum by re-orthonormalization every m layers
# (jacobian_log_spectrum()). `input_code` is a code of input_kind_codes.
jacobian_spec <- function(net, input_code, var_x, x, seed, depths, layers, every = 0L) {
  d <- length(net$widths) - 1
  input <- names(input_kind_codes)[match(input_code, input_kind_codes)]
  X <- if (input == "matrix") matrix(as.double(x), 1) else NULL
  es <- engine_spec(net, batch = 1L, input = input, var_x = var_x, X = X, grad = "normal",
                    var_grad = 1, center = numeric(n_quantities * d), nbins = 1L,
                    hrange = rep(c(-1, 1), 3 * d), seed = seed)
  list(engine = es, depths = c(as.integer(depths), as.integer(layers)), every = as.integer(every))
}

#' Singular values of the Jacobians of random networks
#'
#' Draws `networks` random networks from `net`'s initialization and one
#' input for each, and computes in C the singular values of the
#' input-output Jacobian \eqn{J = \partial z^l / \partial z^0} at each
#' requested depth \eqn{l} and of each layer's own Jacobian \eqn{J^i =
#' \partial z^{i+1} / \partial z^i} (Glorot and Bengio 2010, section
#' 4.2.2), next to the predictions of random-matrix theory.
#'
#' @section Convention:
#' As in [mlp()], \eqn{s^i = z^i W^i + b^i} with row vectors and \eqn{W^i}
#' of size \eqn{n_i \times n_{i+1}}, \eqn{z^{i+1} = f(s^i)}; so \eqn{J^i =
#' D^i (W^i)^T} (\eqn{n_{i+1} \times n_i}, \eqn{D^i = \mathrm{diag}
#' f'(s^i)}) and \eqn{J = J^{l-1} \cdots J^0 = D_l W_l \cdots D_1 W_1} in
#' the column-vector notation of Pennington et al. (\eqn{W_l = (W^{l-1})^T}).
#' A \eqn{p \times q} Jacobian has \eqn{k = \min(p, q)} singular values
#' \eqn{\sigma_1, \dots, \sigma_k}; the statistics are over these (the
#' spectrum of the smaller of \eqn{J J^T} and \eqn{J^T J}):
#' `mean_sv` \eqn{= E[\frac1k \sum \sigma]}, `mean_sq` \eqn{= m_1 =
#' E[\frac1k \mathrm{tr}\, J J^T]}, `var_sq` \eqn{= m_2 - m_1^2} with
#' \eqn{m_2 = E[\frac1k \mathrm{tr} (J J^T)^2]}, the variance of the squared
#' singular values pooled over networks (Pennington et al.'s
#' \eqn{\sigma^2_{JJ^T}}). Network \eqn{j} draws its weights and biases from
#' the streams of the engine's network \eqn{j} ([simulate_network()]), so
#' the result is the same for any `threads`.
#'
#' @section Monte Carlo standard errors:
#' Networks are the replicates. Network \eqn{j} gives \eqn{c_j = \frac1k
#' \sum \sigma}, \eqn{a_j = \frac1k \sum \sigma^2}, \eqn{b_j = \frac1k
#' \sum \sigma^4}; `mean_sv` and `mean_sq` are the means of \eqn{c_j} and
#' \eqn{a_j}, `var_sq` is \eqn{\bar b - \bar a^2 + s_a^2 / J} (unbiased for
#' \eqn{m_2 - m_1^2}), and the MCSEs are the standard deviations over
#' networks divided by \eqn{\sqrt J} (for `var_sq` by the delta method, with
#' the covariance of \eqn{(a_j, b_j)}). The `z_*` columns compare the
#' estimates with the predictions by [Student's t][stats::pt] with \eqn{J -
#' 1} df, the package's rule for verdicts (level 0.99). Where the
#' prediction is exact and deterministic (orthogonal linear networks, all
#' \eqn{\sigma = \prod g}), the MCSE is floored at the rounding bound
#' \eqn{\epsilon (l\,n_{\max} + k)} times the prediction's scale.
#'
#' In narrow, deep products a network's \eqn{a_j} and \eqn{b_j} are
#' heavy-tailed and a t interval from few networks does not hold its level.
#' For linear Gaussian products the relative variance \eqn{c} of \eqn{a_j}
#' is known exactly (\eqn{E(\mathrm{tr} S)^2 / (E\,\mathrm{tr} S)^2 - 1}
#' from the recursion below), and, as in [simulate_network()], a verdict
#' needs \eqn{J \ge \max(20, 10 (c + 3)^2 c)} networks (for `var_sq`, with
#' \eqn{(1 + c)^4 - 1}, the log-normal value for \eqn{b_j}); `summary()`
#' gives no verdict on rows with fewer and says how many they need.
#' Over 29 seeds of the test grid (widths 8-256, depths to 50, 48
#' comparisons each) 0.4\% of the |z| exceeded the 1\% point 2.58, the
#' largest 3.0.
#'
#' @section Predictions:
#' With \eqn{\sigma_l^2 = n_{l-1}\mathrm{Var}(W)} per layer, square layers
#' (\eqn{n_{l-1} = n_l = n}), and the activation's moments
#' \eqn{\mu_1 = E[f'(s)^2]}, \eqn{\mu_2 = E[f'(s)^4]} at each layer's
#' mean-field pre-activation distribution ([predict_variance()] with
#' `regime = "mean_field"`; at the fixed point \eqn{q^*} these are
#' Pennington et al.'s \eqn{\mu_1, \mu_2}):
#' * `mean_sq`: \eqn{E\,\mathrm{tr}(J J^T) = n_0 \prod_l n_l
#'   \mathrm{Var}(W_l) \mu_{1,l}} divided by \eqn{k}; exact at every width for
#'   linear networks with independent zero-mean layers (iid, sparse or
#'   orthogonal), the infinite-width value otherwise (Pennington et al. 2017:
#'   \eqn{m_1 = (\sigma_w^2 \mu_1)^L} at the fixed point).
#' * `var_sq`, exact at finite width: for linear Gaussian layers of any
#'   widths, by the recursion over layers of \eqn{T = E(\mathrm{tr} S)^2} and
#'   \eqn{U = E\,\mathrm{tr} S^2}, \eqn{S = J J^T}: a Gaussian \eqn{n \times
#'   m} layer \eqn{A} of variance \eqn{v} gives \eqn{E(\mathrm{tr}\, A S
#'   A^T)^2 = v^2 (n^2 T + 2 n U)} and \eqn{E\,\mathrm{tr} (A S A^T)^2 = v^2
#'   (n T + n (n + 1) U)}, from \eqn{T = n_0^2, U = n_0} (one layer:
#'   \eqn{E\,\mathrm{tr} (W W^T)^2 = v^2 p q (p + q + 1)}, the Wishart
#'   moment); for one linear layer of iid weights with fourth moment
#'   \eqn{\mu_4}, \eqn{E\,\mathrm{tr} (W W^T)^2 = p q \mu_4 + p q (p + q -
#'   2) v^2}; for orthogonal linear networks whose widths never both rise and
#'   fall, 0 (all \eqn{\sigma = \prod_l g_l}).
#' * `var_sq` at infinite width, square layers: Pennington, Schoenholz and
#'   Ganguli (2017), at the fixed point \eqn{\sigma^2_{JJ^T} = m_2 - m_1^2 =
#'   L m_1^2 (\mu_2/\mu_1^2 - 1 - s_1)}, with \eqn{s_1} the first
#'   coefficient of the S-transform of \eqn{W W^T}: \eqn{-1} for Gaussian
#'   (and other iid) weights, 0 for orthogonal ones. Away from the fixed
#'   point (an input of variance `var_x` that is not \eqn{q^*}), the
#'   layers' terms add, because the normalized variance \eqn{\sigma^2 /
#'   m_1^2} is additive under free multiplicative convolution (the S-transform
#'   \eqn{S(z) = m_1^{-1} (1 - z \sigma^2 / m_1^2 + O(z^2))} multiplies):
#'   \eqn{\sigma^2_{JJ^T} = m_1^2 \sum_l (\mu_{2,l} / \mu_{1,l}^2 - 1 -
#'   s_{1,l})}, \eqn{m_1 = \prod_l \sigma_l^2 \mu_{1,l}}. For linear
#'   Gaussian layers it is the Fuss-Catalan variance \eqn{L m_1^2}.
#' * `mean_sv`: for linear square networks with \eqn{m} iid layers (the
#'   others orthogonal), \eqn{\prod_l \sigma_l} times the half moment of the
#'   Fuss-Catalan law of order \eqn{m} (the limiting spectrum of \eqn{J J^T}
#'   for a product of \eqn{m} square Gaussian matrices, normalized),
#'   \eqn{E[x^{1/2}] = \Gamma(\frac{m+1}{2} + 1) / (\Gamma(\frac32)
#'   \Gamma(\frac m2 + 2))}, from its Mellin transform \eqn{E[x^s] =
#'   \Gamma((m+1)s + 1) / (\Gamma(s + 1) \Gamma(m s + 2))} (Penson and
#'   Zyczkowski 2011); \eqn{8 / (3\pi)} for one layer, the quarter-circle
#'   law. For one rectangular linear layer, the Marchenko-Pastur half
#'   moment with ratio \eqn{k / \max(p, q)} (numerical integration).
#'   Orthogonal linear networks (monotone widths): \eqn{\prod g}, exactly.
#'   Not predicted for nonlinear networks (`NA`).
#'   With one square Gaussian layer (the others orthogonal; a `"layer"`
#'   row of a Gaussian linear network), the \eqn{1/n} term is added
#'   (basis `"finite width (1/n)"`): for \eqn{S = W W^T}, \eqn{W} \eqn{n
#'   \times n} real Gaussian of variance \eqn{1/n}, \eqn{E\,\mathrm{tr}
#'   S^k / n = C_k + a_k / n + O(n^{-2})} with \eqn{a_k = 4^k / 4 -
#'   \binom{2k}{k} / 2} (exact for \eqn{k = 1, 2, 3}: \eqn{0, 1, 6}), the
#'   moments of \eqn{(\delta_0 + \delta_4) / 4} minus half the arcsine law
#'   on \eqn{[0, 4]}, whose half moment gives \eqn{E \bar\sigma = \sigma_w
#'   (8 / (3\pi) + (1/2 - 2/\pi) / n)}: -1.6\% at width 10. Measured at
#'   widths 16 and 32 (4,000 networks): the infinite-width value was 11-13
#'   MCSE above the simulation; the corrected one within the MCSE. Products
#'   of two or more Gaussian layers keep the infinite-width value: their gap
#'   is about \eqn{-0.25/n, -0.34/n, -0.43/n} relative at 2, 3, 4 layers
#'   (measured at widths 16 and 32), not derived here.
#'
#' The `*_basis` columns say which: `"exact"` (at this width) or
#' `"infinite width"` (expect a bias of order \eqn{1/n}: a verdict against
#' it measures the finite-width correction as much as the theory).
#'
#' @section Glorot and Bengio's average singular value:
#' Their section 4.2.2 reports the average singular value of the layer
#' Jacobians \eqn{J^i} of a tanh network: about 0.5 with the standard
#' initialization \eqn{U[-1/\sqrt n, 1/\sqrt n]} and 0.8 with the
#' normalized one. The `mean_sv` of the `"layer"` rows is that quantity.
#' For their 784-1000-1000-1000-1000-1000 tanh network with inputs of mean
#' square 0.1 (as MNIST pixels in \eqn{[0, 1]}), `var_x = 0.1`, the five
#' layers average 0.50 with [init_glorot_standard()] (0.56, then 0.48-0.49)
#' and 0.82 with [init_glorot()] (0.88, then 0.80-0.81), MCSE 0.002 from 2
#' networks; with `var_x = 1` the first layers saturate and give 0.47 and
#' 0.70. The linear-regime values are \eqn{\sigma_w \cdot 8/(3\pi)}:
#' \eqn{0.85/\sqrt 3 = 0.49} and 0.85.
#'
#' @section Convolutional networks:
#' For a [cnn()], the C code carries the transposed product \eqn{J^T}
#' (\eqn{n_0 \times n_l}, \eqn{n_l} = channels times positions), each conv
#' layer acting on its \eqn{n_0} rows as on a batch (the engine's im2col
#' and GEMM, src/conv.c), and a layer's own Jacobian is the layer applied to
#' the identity: a 1024-unit input (16 channels, 8 x 8) costs \eqn{2 n_0 P
#' K c_{out}} = 0.3 GFLOP per 3 x 3 layer. The predictions:
#' * `mean_sq`, exact at every size for linear networks of zero-mean
#'   kernels with uncorrelated entries (iid and delta-orthogonal), any
#'   padding, stride, dilation and groups: with \eqn{M} the diagonal of
#'   \eqn{E[J_{>i}^T J_{>i}]} of the layers above, input unit \eqn{(c, p)}
#'   of a conv layer gets \eqn{\sum_o \sum_{(q, t) \to p} \mathrm{Var}(W_t)
#'   M_{o q}} over the output channels \eqn{o} of \eqn{c}'s group and the
#'   (output position, tap) pairs that read \eqn{p} (zero padding reads
#'   nothing; every tap at the centre for delta-orthogonal kernels), the
#'   pool read-out \eqn{\mathrm{Var}(W) \sum_o M_o / P^2}; \eqn{E\,
#'   \mathrm{tr}(J J^T)} is the sum at the input. Not predicted for
#'   nonlinear CNNs (`NA`).
#' * Delta-orthogonal linear layers at stride 1 whose centre tap reads every
#'   position itself (circular padding; zero `"same"` padding with an odd
#'   kernel or dilation 1), with channels that never both rise and fall:
#'   all singular values \eqn{\prod g}, exactly (`var_sq` 0); so too for
#'   [init_conv_orthogonal()] (Xiao et al.'s Algorithm 1) under circular
#'   padding at stride 1, and not under zero padding (`NA` there: its taps'
#'   variances have no closed form).
#' For the spread of the singular values at depths of hundreds or
#' thousands of layers, see [jacobian_log_spectrum()].
#'
#' @param net A network from [mlp()] or [cnn()] with built-in activations.
#' @param networks Number of random networks (at least 2).
#' @param input `"normal"` or `"uniform"` iid inputs of variance `var_x`,
#'   one per network, or a numeric vector of length \eqn{n_0} used as the
#'   input of every network.
#' @param var_x Variance of the input features.
#' @param depths Depths \eqn{l} (1 to the number of layers) at which the
#'   input-output Jacobian's singular values are computed; `NULL` for all,
#'   `integer(0)` for none (then only the layers').
#' @param layers `TRUE` to compute each layer's Jacobian \eqn{J^i} too.
#' @param threads Number of threads; see [initvar_threads()].
#' @return An `initvar_jacobian` object. `as.data.frame()` (and `summary()`,
#'   which adds the verdicts) give per `kind` (`"product"`: the
#'   input-output Jacobian to `depth`; `"layer"`: the layer's own) and
#'   `depth`: `n_in`, `n_out`, `k`, and for each of `mean_sv`, `mean_sq`,
#'   `var_sq` the estimate, its `_mcse`, `_pred`, `_basis` and `_z`, and
#'   `mean_sq_networks_needed` and `var_sq_networks_needed` (see "Monte
#'   Carlo standard errors"), and the smallest and largest singular value
#'   seen (`min_sv`, `max_sv`).
#'   `plot()` draws the spectrum (see [plot.initvar_jacobian()]).
#' @references
#' Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of
#' training deep feedforward neural networks. AISTATS.
#'
#' Pennington, J., Schoenholz, S. S. and Ganguli, S. (2017). Resurrecting
#' the sigmoid in deep learning through dynamical isometry: theory and
#' practice. NeurIPS.
#'
#' Penson, K. A. and Zyczkowski, K. (2011). Product of Ginibre matrices:
#' Fuss-Catalan and Raney distributions. Physical Review E 83, 061118.
#' @examples
#' set.seed(1)
#' # a product of Gaussian linear layers: exact finite-width moments
#' lin <- mlp(rep(32, 4), "linear", init_lecun())
#' js <- jacobian_spectrum(lin, networks = 50)
#' js
#' # Glorot and Bengio's section 4.2.2: the layers' average singular value
#' std <- mlp(c(160, rep(200, 4)), "tanh", init_glorot_standard())
#' nrm <- mlp(c(160, rep(200, 4)), "tanh", init_glorot())
#' g <- function(net) {
#'   js <- jacobian_spectrum(net, networks = 2, var_x = 0.1, depths = integer(0))
#'   df <- as.data.frame(js)
#'   mean(df$mean_sv)
#' }
#' c(standard = g(std), normalized = g(nrm))   # about 0.5 and 0.8
#' @export
jacobian_spectrum <- function(net, networks = 100, input = c("normal", "uniform"), var_x = 1,
                              depths = NULL, layers = TRUE, threads = initvar_threads()) {
  check_mlp(net)
  check_jacobian_net(net)
  w <- net$widths
  d <- length(w) - 1
  rf <- which(vapply(net$activation, function(a) a$code == activation_codes[["r_function"]], TRUE))
  if (length(rf)) {
    abort(sprintf(paste0("`net` must use built-in activations: layer %d uses the R function %s ",
                         "(jacobian_spectrum() runs in C only)."), rf[1], format(net$activation[[rf[1]]])))
  }
  check_whole(networks, "networks", min = 2, max = 1e6)
  inp <- jacobian_input(input, var_x, w[1])
  depths <- jacobian_depths(depths, d)
  check_flag(layers, "layers")
  if (!length(depths) && !layers) {
    abort_arg("depths", "a non-empty vector of depths when `layers = FALSE`", depths)
  }
  threads <- check_whole(threads, "threads", max = 1024)
  if (max(w) * max(w[1], max(w)) > 2^28) {
    abort_arg("net", "a network whose Jacobians have at most 2^28 entries", net)
  }
  ksv <- pmin(w[depths + 1], w[1])
  nrows <- length(depths) + if (layers) d else 0L
  check_jacobian_size(ksv, nrows, networks)
  spec <- jacobian_spec(net, inp$code, inp$var_x, inp$x, engine_seed(), depths, layers)
  pred <- if (inherits(net, "initvar_cnn")) jacobian_predict_conv(net, depths, layers) else
    jacobian_predict(net, inp$var_x, depths, layers)
  jacobian_run(spec, networks, nrows, sum(ksv), threads, function(stats, sv, n, seconds) {
    structure(list(net = net, networks = n, input = inp$input, var_x = inp$var_x, depths = depths,
                   layers = layers, stats = stats, sv = sv, sv_depth = rep(depths, ksv),
                   prediction = pred, seconds = seconds),
              class = "initvar_jacobian")
  })
}

# The input of jacobian_spectrum() and jacobian_log_spectrum(): list(x,
# code, var_x, input).
jacobian_input <- function(input, var_x, n0) {
  if (is.numeric(input) && !is.matrix(input)) {
    if (length(input) != n0) {
      abort_arg("input", sprintf("\"normal\", \"uniform\" or a numeric vector of length %g", n0), input)
    }
    bad <- which(!is.finite(input))
    if (length(bad)) abort_arg(sprintf("input[%d]", bad[1]), "a finite number", input[bad[1]])
    x <- as.double(input)
    return(list(x = x, code = input_kind_codes[["matrix"]], var_x = mean(x^2), input = "fixed"))
  }
  input <- check_choice(input, c("normal", "uniform"), "input")
  check_number(var_x, min = 0)
  list(x = NULL, code = input_kind_codes[[input]], var_x = var_x, input = input)
}

# Requested depths: NULL for all, else whole numbers in 1..d (sorted, unique).
jacobian_depths <- function(depths, d) {
  if (is.null(depths)) return(seq_len(d))
  if (!is.numeric(depths)) abort_arg("depths", "NULL or a vector of whole numbers", depths)
  bad <- which(is.na(depths) | !is.finite(depths) | depths != round(depths) | depths < 1 | depths > d)
  if (length(bad)) {
    abort_arg(sprintf("depths[%d]", bad[1]), sprintf("a whole number between 1 and %d", d),
              depths[bad[1]])
  }
  sort(unique(as.integer(depths)))
}

check_jacobian_size <- function(ksv, nrows, networks) {
  if ((sum(ksv) + 5 * nrows) * networks > 2^28) {
    abort_arg("networks", sprintf(
      "at most %s for this network (each keeps %s singular values)",
      big_number(floor(2^28 / (sum(ksv) + 5 * nrows))), big_number(sum(ksv))),
      networks)
  }
}

# Runs C_jacobian over blocks of networks; result(stats, sv, n, seconds)
# makes the answer from the first n networks (the partial result of an
# interrupt when n >= 2).
jacobian_run <- function(spec, networks, nrows, nsv, threads, result) {
  nblocks <- ceiling(networks / jac_block_size)
  stats <- array(NA_real_, c(jac_ns, nrows, networks))
  sv <- matrix(NA_real_, nsv, networks)
  done <- 0
  t0 <- proc.time()[["elapsed"]]
  res <- function(n) {
    result(stats[, , seq_len(n), drop = FALSE], sv[, seq_len(n), drop = FALSE], n,
           proc.time()[["elapsed"]] - t0)
  }
  interrupted <- tryCatch({
    for (b in seq_len(nblocks)) {
      first <- (b - 1) * jac_block_size
      cnt <- min(jac_block_size, networks - first)
      # errors of the C code (an overflow) name the user's call
      r <- tryCatch(.Call(C_jacobian, spec, first, as.integer(cnt), as.integer(threads)),
                    error = function(e) abort(conditionMessage(e)))
      if (is.null(r)) break
      idx <- first + seq_len(cnt)
      stats[, , idx] <- r[[1]]
      sv[, idx] <- r[[2]]
      done <- first + cnt
    }
    done < networks
  }, interrupt = function(e) TRUE)
  if (interrupted) raise_interrupt(if (done >= 2) res(done))
  res(networks)
}

# Dense and conv layers only (the Jacobian runner of src/jacobian.c).
check_jacobian_net <- function(net, arg = "net") {
  kinds <- vapply(net_layers(net), `[[`, "", "kind")
  bad <- which(!kinds %in% c("dense", "conv"))
  if (length(bad)) {
    abort(sprintf(paste0("`%s` has %s layers (layer %d): this function handles networks of dense ",
                         "and conv layers, from `mlp()` and `cnn()`."), arg, kinds[bad[1]], bad[1]))
  }
  invisible(net)
}

# ---- predictions ------------------------------------------------------------

# Per layer: what the predictions need. class: "gaussian", "iid" (other
# zero-mean iid families), "sparse", "orthogonal" or "other".
jacobian_layers <- function(net, var_x) {
  w <- net$widths
  d <- length(w) - 1
  mf <- tryCatch(suppressMessages(predict_variance(net, var_x, regime = "mean_field")),
                 error = function(e) NULL)
  lapply(seq_len(d), function(i) {
    r <- resolve_scheme(net$init[[i]], w[i], w[i + 1])
    v <- weight_variance(net$init[[i]], w[i], w[i + 1])
    mu <- weight_mean(net$init[[i]], w[i], w[i + 1])
    zero_mean <- abs(mu) <= 1e-12 * sqrt(v)
    cls <- if (!zero_mean || v == 0) "other" else switch(r$family,
      normal = "gaussian", uniform = "iid", truncated_normal = "iid", sparse = "sparse",
      orthogonal = "orthogonal", "other")
    m4 <- switch(cls, gaussian = 3 * v^2,
                 iid = if (r$family == "uniform") 9 / 5 * v^2 else tn_fourth(r, v),
                 NA_real_)
    a <- net$activation[[i]]
    linear <- a$code == activation_codes[["linear"]]
    mom <- if (linear) c(1, 1) else if (is.null(mf)) c(NA_real_, NA_real_) else {
      ex <- function(g) tryCatch(normal_expectation(g, sqrt(mf$var_s[i]), mf$mean_s[i],
                                                    kinks = a$kinks),
                                 error = function(e) NA_real_)
      c(ex(function(s) a$df(s)^2), ex(function(s) a$df(s)^4))
    }
    list(n_in = w[i], n_out = w[i + 1], v = v, class = cls, m4 = m4, linear = linear,
         gain = if (cls == "orthogonal") r$gain else NA_real_, mu1 = mom[1], mu2 = mom[2])
  })
}

# Fourth moment of zero-mean truncated-normal weights of variance v, for
# standardized bounds -c, c: E Z^4 = 3 E Z^2 - 2 c^3 phi(c) / (2 Phi(c) - 1)
# (the recursion m_k = (k - 1) m_(k-2) - [b^(k-1) phi(b) - a^(k-1) phi(a)] / P).
tn_fourth <- function(r, v) {
  if (r$mean != 0 || r$lower != -r$upper) return(NA_real_)
  cc <- r$upper
  if (!is.finite(cc)) return(3 * v^2)
  P <- 1 - 2 * stats::pnorm(-cc)
  m2 <- 1 - 2 * cc * stats::dnorm(cc) / P
  m4 <- 3 * m2 - 2 * cc^3 * stats::dnorm(cc) / P
  m4 / m2^2 * v^2
}

# Mellin transform of the Fuss-Catalan law of order m: E[x^s].
fuss_catalan_moment <- function(m, s) {
  exp(lgamma((m + 1) * s + 1) - lgamma(s + 1) - lgamma(m * s + 2))
}

# Density of the Fuss-Catalan law of order m >= 1 at the points x(phi),
# phi in (0, pi / (m + 1)) (Haagerup and Moller 2012; Neuschel 2014):
# x = sin((m+1) phi)^(m+1) / (sin(phi) sin(m phi)^m),
# density = sin(phi)^2 sin(m phi)^(m-1) / (pi sin((m+1) phi)^m).
fuss_catalan_curve <- function(m, n = 400) {
  phi <- seq(0, pi / (m + 1), length.out = n + 2)[-c(1, n + 2)]
  x <- sin((m + 1) * phi)^(m + 1) / (sin(phi) * sin(m * phi)^m)
  dens <- sin(phi)^2 * sin(m * phi)^(m - 1) / (pi * sin((m + 1) * phi)^m)
  data.frame(x = x, density = dens)
}

# Marchenko-Pastur law with ratio c <= 1 (mean 1): E[x^(1/2)], numerically.
mp_half_moment <- function(c) {
  if (c == 1) return(8 / (3 * pi))
  lo <- (1 - sqrt(c))^2
  hi <- (1 + sqrt(c))^2
  # x = lo + (hi - lo) sin^2(t) removes the square-root endpoints
  f <- function(t) {
    x <- lo + (hi - lo) * sin(t)^2
    sqrt(x) * sqrt((hi - x) * (x - lo)) / (2 * pi * c * x) * (hi - lo) * 2 * sin(t) * cos(t)
  }
  stats::integrate(f, 0, pi / 2, rel.tol = 1e-12)$value
}

# The 1/n term of E[x^(1/2)] for the eigenvalues x of S = W W^T, W n x n
# with iid N(0, 1/n) entries (real): the moments are E tr S^k / n = C_k +
# a_k / n + O(1/n^2) with a_k = 4^k / 4 - choose(2k, k) / 2, the moments
# of the signed measure (delta_0 + delta_4) / 4 - arcsine[0, 4] / 2 (the
# 1/n correction of the real Laguerre ensemble; a_1 = 0, a_2 = 1, a_3 = 6,
# as the exact E tr S = n, E tr S^2 = 2n + 1 and E tr (W W^T)^3 = p q (p^2
# + q^2 + 3 p q + 3 p + 3 q + 4) at p = q = n, v = 1 give). Its half
# moment: sqrt(4) / 4 - E_arcsine[x^(1/2)] / 2 = 1/2 - 2/pi (x = 4
# sin^2 theta, E|2 sin theta| = 4/pi).
wishart_half_correction <- function() 1 / 2 - 2 / pi

mp_density <- function(x, c) {
  lo <- (1 - sqrt(c))^2
  hi <- (1 + sqrt(c))^2
  ifelse(x > lo & x < hi, sqrt(pmax((hi - x) * (x - lo), 0)) / (2 * pi * c * x), 0)
}

# Predictions for the Jacobian of layers i1..i2 (one chain).
jacobian_chain <- function(L, i1, i2) {
  ly <- L[i1:i2]
  n0 <- ly[[1]]$n_in
  nL <- ly[[length(ly)]]$n_out
  k <- min(n0, nL)
  cls <- vapply(ly, `[[`, "", "class")
  lin <- all(vapply(ly, `[[`, TRUE, "linear"))
  nout <- vapply(ly, `[[`, 0, "n_out")
  nin <- vapply(ly, `[[`, 0, "n_in")
  v <- vapply(ly, `[[`, 0, "v")
  mu1 <- vapply(ly, `[[`, 0, "mu1")
  mu2 <- vapply(ly, `[[`, 0, "mu2")
  out <- list(mean_sv = NA_real_, mean_sv_basis = NA_character_,
              mean_sq = NA_real_, mean_sq_basis = NA_character_,
              var_sq = NA_real_, var_sq_basis = NA_character_, deterministic = FALSE,
              cv2 = NA_real_)
  if (any(cls == "other") || anyNA(mu1)) return(out)
  e <- n0 * prod(nout * v * mu1)       # E tr(J J^T)
  out$mean_sq <- e / k
  out$mean_sq_basis <- if (lin) "exact" else "infinite width"
  square <- all(c(nin, nout) == n0)
  ws <- c(n0, nout)
  monotone <- all(diff(ws) >= 0) || all(diff(ws) <= 0)
  iid <- cls %in% c("gaussian", "iid", "sparse")
  if (lin && all(cls == "gaussian")) {
    # exact: T, U normalized by (E tr S)^2 along the chain
    a <- 1
    b <- 1 / n0
    for (n in nout) {
      a2 <- a + 2 * b / n
      b <- a / n + (n + 1) * b / n
      a <- a2
    }
    out$var_sq <- e^2 * (b / k - 1 / k^2)
    out$var_sq_basis <- "exact"
    # the relative variance of a network's tr(J J^T), exactly
    out$cv2 <- a - 1
  } else if (lin && length(ly) == 1 && cls == "iid" && is.finite(ly[[1]]$m4)) {
    p <- nout; q <- nin
    out$var_sq <- (p * q * ly[[1]]$m4 + p * q * (p + q - 2) * v^2) / k - out$mean_sq^2
    out$var_sq_basis <- "exact"
  } else if (lin && all(cls == "orthogonal") && monotone) {
    out$var_sq <- 0
    out$var_sq_basis <- "exact"
  } else if (square && !anyNA(mu2)) {
    s1 <- ifelse(iid, -1, 0)
    out$var_sq <- out$mean_sq^2 * sum(mu2 / mu1^2 - 1 - s1)
    out$var_sq_basis <- "infinite width"
  }
  if (lin) {
    g <- vapply(ly, `[[`, 0, "gain")
    if (all(cls == "orthogonal") && monotone) {
      out$mean_sv <- prod(g)
      out$mean_sv_basis <- "exact"
      out$mean_sq <- prod(g^2)
      out$deterministic <- TRUE
    } else if (square && all(iid | cls == "orthogonal")) {
      out$mean_sv <- sqrt(prod(n0 * v)) * fuss_catalan_moment(sum(iid), 1 / 2)
      out$mean_sv_basis <- "infinite width"
      if (sum(iid) == 1 && cls[iid] == "gaussian") {
        # one square Gaussian layer (the others orthogonal): the 1/n
        # correction of the real Wishart law's half moment
        out$mean_sv <- out$mean_sv + sqrt(prod(n0 * v)) * wishart_half_correction() / n0
        out$mean_sv_basis <- "finite width (1/n)"
      }
    } else if (length(ly) == 1 && iid) {
      out$mean_sv <- sqrt(max(n0, nL) * v) * mp_half_moment(k / max(n0, nL))
      out$mean_sv_basis <- "infinite width"
    }
  }
  out
}

jacobian_predict <- function(net, var_x, depths, layers) {
  jacobian_prediction_table(jacobian_layers(net, var_x), jacobian_chain, depths, layers)
}

# The prediction rows of the products at `depths` and, with `layers`, of
# each layer, from the per-layer list L and its chain predictor
# chain(L, i1, i2) (jacobian_chain(), jacobian_conv_chain()).
jacobian_prediction_table <- function(L, chain, depths, layers) {
  row <- function(kind, depth, i1, i2) {
    p <- chain(L, i1, i2)
    data.frame(kind = kind, depth = depth, n_in = L[[i1]]$n_in, n_out = L[[i2]]$n_out,
               k = min(L[[i1]]$n_in, L[[i2]]$n_out), p, stringsAsFactors = FALSE)
  }
  rows <- c(lapply(depths, function(l) row("product", l, 1, l)),
            if (layers) lapply(seq_along(L), function(i) row("layer", i, i, i)))
  out <- do.call(rbind, rows)
  attr(out, "layers") <- L
  out
}

# ---- results ----------------------------------------------------------------

#' @export
as.data.frame.initvar_jacobian <- function(x, row.names = NULL, optional = FALSE, ...) {
  p <- x$prediction
  J <- x$networks
  st <- x$stats
  nr <- nrow(p)
  eps <- .Machine$double.eps
  maxw <- max(x$net$widths)
  out <- p[, c("kind", "depth", "n_in", "n_out", "k")]
  est <- matrix(NA_real_, nr, 3)
  mcse <- matrix(NA_real_, nr, 3)
  for (r in seq_len(nr)) {
    cj <- st[1, r, ]
    aj <- st[2, r, ]
    bj <- st[3, r, ]
    est[r, 1] <- mean(cj)
    est[r, 2] <- mean(aj)
    est[r, 3] <- mean(bj) - mean(aj)^2 + stats::var(aj) / J
    mcse[r, 1] <- stats::sd(cj) / sqrt(J)
    mcse[r, 2] <- stats::sd(aj) / sqrt(J)
    S <- stats::cov(cbind(aj, bj))
    g <- c(-2 * mean(aj), 1)
    mcse[r, 3] <- sqrt(max(drop(crossprod(g, S %*% g)), 0) / J)
  }
  # rounding bound of the products and the SVD, for deterministic rows
  rb <- eps * (p$depth * maxw + p$k)
  stat <- c("mean_sv", "mean_sq", "var_sq")
  for (s in seq_along(stat)) {
    nm <- stat[s]
    pred <- p[[nm]]
    scale <- switch(nm, mean_sv = abs(p$mean_sv), mean_sq = abs(p$mean_sq),
                    var_sq = p$mean_sq^2)
    m <- ifelse(p$deterministic, pmax(mcse[, s], rb * scale), mcse[, s])
    ag <- agreement(est[, s], m, pred, df = J - 1)
    out[[nm]] <- est[, s]
    out[[paste0(nm, "_mcse")]] <- mcse[, s]
    out[[paste0(nm, "_pred")]] <- pred
    out[[paste0(nm, "_basis")]] <- p[[paste0(nm, "_basis")]]
    out[[paste0(nm, "_z")]] <- ifelse(is.na(pred), NA_real_, ag$z)
  }
  # networks a calibrated t interval needs (the rule of simulate_network():
  # ten times the squared skewness of a log-normal with the network-level
  # relative variance, exact for tr(J J^T) of linear Gaussian products;
  # (1 + c)^4 - 1 for tr (J J^T)^2); NA where not predicted
  need <- function(cv) ceiling(pmax(20, 10 * (cv + 3)^2 * cv))
  out$mean_sq_networks_needed <- need(p$cv2)
  out$var_sq_networks_needed <- need((1 + p$cv2)^4 - 1)
  out$min_sv <- apply(st[4, , , drop = FALSE], 2, min)
  out$max_sv <- apply(st[5, , , drop = FALSE], 2, max)
  rownames(out) <- NULL
  out
}

#' @export
summary.initvar_jacobian <- function(object, ...) {
  df <- as.data.frame(object)
  J <- object$networks
  rows <- list()
  for (nm in c("mean_sv", "mean_sq", "var_sq")) {
    pred <- df[[paste0(nm, "_pred")]]
    z <- df[[paste0(nm, "_z")]]
    pv <- 2 * stats::pt(-abs(z), J - 1)
    needed <- if (nm == "mean_sv") rep(NA_real_, nrow(df)) else df[[paste0(nm, "_networks_needed")]]
    few <- !is.na(needed) & J < needed
    z[few] <- pv[few] <- NA
    rows[[nm]] <- data.frame(kind = df$kind, depth = df$depth, statistic = nm,
                             estimate = df[[nm]], mcse = df[[paste0(nm, "_mcse")]],
                             prediction = pred, basis = df[[paste0(nm, "_basis")]],
                             z = z, p_value = pv, consistent = pv > 1 - verdict_level,
                             networks_needed = ifelse(few, needed, NA_real_),
                             stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}

#' @export
print.initvar_jacobian <- function(x, digits = 3, ...) {
  w <- x$net$widths
  cat(sprintf("<initvar Jacobian spectrum> %d networks, %s; %s inputs; %.1f s\n",
              x$networks, paste(w, collapse = "-"), x$input, x$seconds))
  cat(sprintf(paste0("  singular values of dz^l/dz^0 (product) and dz^i/dz^(i-1) (layer)\n",
                     "  z: t with %d df; *: exact prediction, ~: infinite width\n\n"),
              x$networks - 1))
  df <- as.data.frame(x)
  f <- function(v) ifelse(is.na(v), "-", formatC(v, digits = digits, format = "g"))
  mark <- function(b) ifelse(is.na(b), " ", ifelse(b == "exact", "*", "~"))
  fz <- function(z) ifelse(is.na(z), "-", formatC(z, digits = 2, format = "f"))
  tab <- data.frame(kind = df$kind, depth = df$depth,
                    mean_sv = f(df$mean_sv), pred = paste0(f(df$mean_sv_pred), mark(df$mean_sv_basis)),
                    z = fz(df$mean_sv_z),
                    mean_sq = f(df$mean_sq), pred. = paste0(f(df$mean_sq_pred), mark(df$mean_sq_basis)),
                    z. = fz(df$mean_sq_z),
                    var_sq = f(df$var_sq), pred.. = paste0(f(df$var_sq_pred), mark(df$var_sq_basis)),
                    z.. = fz(df$var_sq_z), check.names = FALSE)
  names(tab) <- c("kind", "depth", "mean_sv", "pred", "z", "mean_sq", "pred", "z",
                  "var_sq", "pred", "z")
  print(tab, row.names = FALSE, right = TRUE)
  need <- c(df$mean_sq_networks_needed, df$var_sq_networks_needed)
  need <- if (all(is.na(need))) NA_real_ else max(need, na.rm = TRUE)
  if (!is.na(need) && x$networks < need) {
    cat(strwrap(sprintf(paste(
      "\nToo few networks for calibrated verdicts on some rows (a network's trace varies too",
      "much: narrow, deep products); summary() gives no verdict there; up to %s networks needed."),
      format(need, big.mark = ",", scientific = FALSE))), sep = "\n")
  }
  invisible(x)
}

#' Plot a Jacobian spectrum
#'
#' A histogram of the singular values of the input-output Jacobian at one
#' depth, over all networks, against the predicted density where there is
#' one: the Fuss-Catalan law (quarter circle for one layer) for square
#' linear networks of iid and orthogonal layers, Marchenko-Pastur for one
#' rectangular linear layer, both at infinite width; a vertical line at
#' \eqn{\prod g} for orthogonal linear networks, and at the root mean square
#' predicted otherwise.
#'
#' @param x An `initvar_jacobian` result of [jacobian_spectrum()].
#' @param depth The depth to draw (one of the result's `depths`; the
#'   deepest by default).
#' @param breaks Histogram breaks, as in [graphics::hist()].
#' @param main Title; `NULL` for a default.
#' @param ... Passed to [graphics::hist()].
#' @return `x`, invisibly.
#' @examples
#' set.seed(2)
#' js <- jacobian_spectrum(mlp(rep(64, 3), "linear", init_lecun()), networks = 10)
#' plot(js)
#' @export
plot.initvar_jacobian <- function(x, depth = NULL, breaks = 60, main = NULL, ...) {
  if (!length(x$depths)) abort("`x` holds no input-output Jacobian (it was run with `depths = integer(0)`).")
  if (is.null(depth)) depth <- max(x$depths)
  if (!is.numeric(depth) || length(depth) != 1 || !depth %in% x$depths) {
    abort_arg("depth", paste0("one of the depths of `x` (", paste(x$depths, collapse = ", "), ")"), depth)
  }
  s <- as.vector(x$sv[x$sv_depth == depth, , drop = FALSE])
  p <- x$prediction[x$prediction$kind == "product" & x$prediction$depth == depth, ]
  L <- attr(x$prediction, "layers")[seq_len(depth)]
  if (is.null(main)) main <- sprintf("Singular values of dz^%d/dz^0 (%d networks)", depth, x$networks)
  curve <- jacobian_density(L, p)
  h <- graphics::hist(s, breaks = breaks, plot = FALSE)
  ymax <- max(h$density, if (!is.null(curve)) stats::quantile(curve$density, 0.98))
  graphics::hist(s, breaks = breaks, freq = FALSE, main = main, xlab = "singular value",
                 ylim = c(0, ymax * 1.05), col = "grey85", border = "grey60", ...)
  if (!is.null(curve)) {
    graphics::lines(curve$sv, curve$density, col = "firebrick", lwd = 2)
  } else if (isTRUE(p$deterministic)) {
    graphics::abline(v = p$mean_sv, col = "firebrick", lwd = 2)
  } else if (!is.na(p$mean_sq)) {
    graphics::abline(v = sqrt(p$mean_sq), col = "firebrick", lwd = 2, lty = 2)
  }
  invisible(x)
}

# The predicted density of the singular values (infinite width), or NULL.
jacobian_density <- function(L, p) {
  lin <- all(vapply(L, `[[`, TRUE, "linear"))
  cls <- vapply(L, `[[`, "", "class")
  if (!lin || is.na(p$mean_sv) || isTRUE(p$deterministic)) return(NULL)
  iid <- cls %in% c("gaussian", "iid", "sparse")
  m <- sum(iid)
  n0 <- L[[1]]$n_in
  nL <- L[[length(L)]]$n_out
  sq <- all(c(vapply(L, `[[`, 0, "n_in"), vapply(L, `[[`, 0, "n_out")) == n0)
  # sigma = c sqrt(x), x of mean 1: density of sigma = density_x(x) 2 sqrt(x) / c
  if (sq) {
    cc <- sqrt(prod(n0 * vapply(L, `[[`, 0, "v")))
    fc <- fuss_catalan_curve(m)
    return(data.frame(sv = cc * sqrt(fc$x), density = fc$density * 2 * sqrt(fc$x) / cc))
  }
  if (length(L) == 1) {
    big <- max(n0, nL)
    ratio <- min(n0, nL) / big
    cc <- sqrt(big * L[[1]]$v)
    xs <- seq((1 - sqrt(ratio))^2, (1 + sqrt(ratio))^2, length.out = 402)[-c(1, 402)]
    return(data.frame(sv = cc * sqrt(xs), density = mp_density(xs, ratio) * 2 * sqrt(xs) / cc))
  }
  NULL
}

# ---- networks with conv layers ----------------------------------------------

# Per layer of a network with conv layers: the exact second moments its
# Jacobian needs. For zero-mean kernels whose entries are uncorrelated
# (iid, delta-orthogonal, orthogonal), E[J^T M J] is diagonal for every
# diagonal M whose entries do not depend on the channel: input unit (c, p)
# of a conv layer gets sum over the output channels o of c's group and the
# (output position q, tap t) pairs that read p of Var(W_t) M_(o, q)
# (tap_scatter()); of the pool read-out sum_o Var(W) M_o / P_in^2; of a
# dense layer Var(W) sum_o M_o.
jacobian_conv_layers <- function(net) {
  layers <- net_layers(net)
  lapply(layers, function(l) {
    linear <- l$activation$code == activation_codes[["linear"]]
    if (l$kind == "dense") {
      r <- resolve_scheme(l$init, l$n_in, l$n_out)
      m <- dist_moments(r)
      return(list(kind = "dense", n_in = l$n_in, n_out = l$n_out, v = m[["var"]],
                  zero_mean = abs(m[["mean"]]) <= 1e-12 * sqrt(m[["var"]]),
                  family = r$family, gain = if (r$family == "orthogonal") r$gain else NA_real_,
                  linear = linear, class = "other", isometry = FALSE))
    }
    u <- conv_unit(l)
    r <- resolve_scheme(u$init, u$fans[1], u$fans[2], u$n_in, u$n_out)
    m <- dist_moments(r)
    out <- list(kind = if (l$pool) "pool" else "conv", n_in = l$n_in, n_out = l$n_out,
                v = m[["var"]], zero_mean = abs(m[["mean"]]) <= 1e-12 * sqrt(m[["var"]]),
                family = r$family, gain = if (!is.null(l$init$gain)) l$init$gain else NA_real_,
                linear = linear, class = "other", isometry = FALSE)
    if (!l$pool) {
      out$taps <- conv_taps(l)
      out$tap_var <- m[["var"]] * tap_weights(l)
      out$c_in <- l$conv$in_channels
      out$c_out <- l$conv$out_channels
      out$groups <- l$conv$groups
      # a delta-orthogonal layer that maps every position to itself through
      # its centre tap (stride 1, same size): an isometry (c_in <= c_out) or
      # a co-isometry, times the gain
      P <- nrow(out$taps)
      if (l$init$family == "delta_orthogonal") {
        ctr <- delta_kernel(l$conv$kernel_size)$centre + 1
        out$isometry <- P == l$n_in / out$c_in && identical(as.integer(out$taps[, ctr]), seq_len(P))
      }
      # Algorithm-1 kernels: an isometry under circular padding at stride 1
      # (every tap reads every position once; the symbol is unitary)
      if (l$init$family == "conv_orthogonal") {
        out$isometry <- l$conv$padding == "circular" && all(l$conv$stride == 1) &&
          P == l$n_in / out$c_in
      }
    } else {
      out$positions <- prod(l$spatial_in)
    }
    out
  })
}

# E tr(J J^T) of layers i1..i2, exactly, for linear layers with zero-mean
# uncorrelated weights; NA otherwise.
jacobian_conv_trace <- function(L, i1, i2) {
  ly <- L[i1:i2]
  ok <- all(vapply(ly, function(x) x$linear && x$zero_mean &&
                     x$family %in% c("normal", "uniform", "truncated_normal", "delta_orthogonal",
                                     "orthogonal", "sparse"), TRUE))
  if (!ok) return(NA_real_)
  m <- rep(1, ly[[length(ly)]]$n_out)
  for (x in rev(ly)) {
    if (x$kind == "dense") {
      m <- rep(x$v * sum(m), x$n_in)
    } else if (x$kind == "pool") {
      m <- rep(x$v * sum(m) / x$positions^2, x$n_in)
    } else {
      P_out <- nrow(x$taps)
      P_in <- x$n_in / x$c_in
      M <- matrix(m, P_out, x$c_out)        # positions x channels (channel-major rows)
      g_out <- x$c_out / x$groups
      g_in <- x$c_in / x$groups
      mi <- matrix(0, P_in, x$c_in)
      for (gr in seq_len(x$groups)) {
        s <- rowSums(M[, (gr - 1) * g_out + seq_len(g_out), drop = FALSE])
        col <- tap_scatter(x$taps, s, P_in, x$tap_var)
        mi[, (gr - 1) * g_in + seq_len(g_in)] <- col
      }
      m <- as.vector(mi)
    }
  }
  sum(m)
}

jacobian_conv_chain <- function(L, i1, i2) {
  ly <- L[i1:i2]
  n0 <- ly[[1]]$n_in
  nL <- ly[[length(ly)]]$n_out
  k <- min(n0, nL)
  out <- list(mean_sv = NA_real_, mean_sv_basis = NA_character_,
              mean_sq = NA_real_, mean_sq_basis = NA_character_,
              var_sq = NA_real_, var_sq_basis = NA_character_, deterministic = FALSE,
              cv2 = NA_real_)
  e <- jacobian_conv_trace(L, i1, i2)
  if (!is.na(e)) {
    out$mean_sq <- e / k
    out$mean_sq_basis <- "exact"
  }
  ws <- c(n0, vapply(ly, `[[`, 0, "n_out"))
  monotone <- all(diff(ws) >= 0) || all(diff(ws) <= 0)
  iso <- vapply(ly, function(x) x$linear && (isTRUE(x$isometry) ||
                                               (x$kind == "dense" && x$family == "orthogonal")), TRUE)
  if (all(iso) && monotone) {
    g <- prod(vapply(ly, `[[`, 0, "gain"))
    out[c("mean_sv", "mean_sq", "var_sq")] <- list(g, g^2, 0)
    out[c("mean_sv_basis", "mean_sq_basis", "var_sq_basis")] <- "exact"
    out$deterministic <- TRUE
  }
  out
}

jacobian_predict_conv <- function(net, depths, layers) {
  jacobian_prediction_table(jacobian_conv_layers(net), jacobian_conv_chain, depths, layers)
}

# ---- log spectrum -----------------------------------------------------------

#' Log singular values of deep networks' Jacobians
#'
#' Like [jacobian_spectrum()], but for depths where the singular values of
#' the input-output Jacobian \eqn{J = \partial z^l / \partial z^0} span more
#' than double precision can hold in one matrix (an SVD of the product
#' cannot resolve singular values below about \eqn{10^{-16}} of the
#' largest): the product is re-orthonormalized along the way and only logs
#' are accumulated, the method of Lyapunov exponents, as in Xiao et al.
#' (2018) for CNNs at depth 1,000 and Pennington et al. (2017).
#'
#' @section Method:
#' The C code carries \eqn{P^T = J^T} (\eqn{n_0 \times n_l}) through the
#' layers, a layer acting on its \eqn{n_0} rows as on a batch. Every `every`
#' layers, and at each requested depth, it factors \eqn{P^T = L Q} (LQ:
#' \eqn{L} lower triangular, \eqn{Q} with orthonormal rows), adds
#' \eqn{\log |L_{kk}|} to a running sum \eqn{\lambda_k} and goes on with
#' \eqn{Q}. At depth \eqn{l}, \eqn{J^T = L_1 \cdots L_t Q}, so \eqn{J^T J =
#' \mathcal L \mathcal L^T} with \eqn{\mathcal L = L_1 \cdots L_t}
#' triangular of diagonal \eqn{\prod L_{kk}}: the \eqn{\lambda_k} are the
#' logs of that diagonal.
#' * Their mean is exactly the mean log singular value, \eqn{\frac{1}{n_0}
#'   \sum_k \log \sigma_k = \frac{1}{n_0} \log |\det \mathcal L|}.
#' * Their spread (standard deviation over \eqn{k}) is the finite-depth
#'   Lyapunov spectrum's, which the log singular values' spread approaches as
#'   depth grows (the \eqn{\lambda_k / l} and \eqn{\log \sigma_k / l} have the
#'   same limits; at small depth they differ by terms of order 1).
#'
#' It needs every width \eqn{\ge n_0} (the Jacobian has full rank \eqn{n_0}),
#' and a unit whose derivative is exactly 0 (an inactive ReLU) makes a log
#' \eqn{-\infty}: an error says so.
#'
#' @section Predictions:
#' * Isometric linear networks (orthogonal dense layers, delta-orthogonal
#'   conv layers at stride 1 whose centre tap reads each position, channels
#'   that never both rise and fall): every \eqn{\lambda_k = \log \prod g},
#'   spread 0, exactly.
#' * Linear dense networks of Gaussian layers: layer \eqn{l} multiplies
#'   \eqn{\det(J^T J)} by \eqn{\det(G^T G)} for an \eqn{n_l \times n_0}
#'   matrix \eqn{G} of iid \eqn{N(0, v_l)} entries (the Gaussian layer applied
#'   to orthonormal columns), so exactly
#'   \deqn{E \bar\lambda = \frac{1}{2 n_0} \sum_l \left(n_0 \log (2 v_l) +
#'   \sum_{i=0}^{n_0 - 1} \psi\left(\frac{n_l - i}{2}\right)\right),}
#'   \eqn{\psi} the digamma function (the log-determinant of a Wishart
#'   matrix).
#' Networks are the replicates: the MCSEs are standard deviations over
#' networks divided by \eqn{\sqrt J}, and `z` a t statistic with \eqn{J - 1}
#' df (level 0.99 in `summary()`), the MCSE of a deterministic row floored
#' at the rounding bound \eqn{\epsilon (l\, n_{\max} + n_0)}.
#'
#' @inheritParams jacobian_spectrum
#' @param net A network from [mlp()] or [cnn()] with built-in activations
#'   and every width at least the input's.
#' @param networks Number of random networks (at least 2).
#' @param every Re-orthonormalize every `every` layers (and at each
#'   requested depth): 1 is the safest; larger is faster (each
#'   factorization costs about \eqn{4 n_0^2 n_l} flops) while the singular
#'   values of `every` consecutive layers stay within about \eqn{10^{\pm 100}}.
#' @return An `initvar_jacobian_log` object; `as.data.frame()` gives per
#'   `depth`: `n_in`, `n_out`, `mean_log` (the mean over networks of
#'   \eqn{\bar\lambda}) with `_mcse`, `_pred`, `_basis` and `_z`, `spread`
#'   (the mean over networks of the sd of the \eqn{\lambda_k}) with
#'   `_mcse` and `_pred`, and `min_log`, `max_log`, the extremes over
#'   networks. `$log_sv` holds each network's \eqn{\lambda_k}, largest first,
#'   one column per network, rows by depth (`$sv_depth`).
#' @references
#' Xiao, L., Bahri, Y., Sohl-Dickstein, J., Schoenholz, S. S. and
#' Pennington, J. (2018). Dynamical isometry and a mean field theory of
#' CNNs: how to train 10,000-layer vanilla convolutional neural networks.
#' ICML.
#' @examples
#' set.seed(1)
#' # a delta-orthogonal linear CNN: every log singular value is 50 log 1.1
#' net <- cnn(4, kernel = 3, depth = 50, spatial = c(4, 4), padding = "circular",
#'            activation = "linear", init = init_delta_orthogonal(1.1))
#' jacobian_log_spectrum(net, networks = 2, depths = c(10, 50))
#' # Gaussian linear layers: the spread grows with depth
#' g <- mlp(rep(16, 41), "linear", init_lecun())
#' jacobian_log_spectrum(g, networks = 20, depths = c(10, 40))
#' @export
jacobian_log_spectrum <- function(net, networks = 10, input = c("normal", "uniform"), var_x = 1,
                                  depths = NULL, every = 1, threads = initvar_threads()) {
  check_mlp(net)
  check_jacobian_net(net)
  w <- net$widths
  d <- length(w) - 1
  rf <- which(vapply(net$activation, function(a) a$code == activation_codes[["r_function"]], TRUE))
  if (length(rf)) {
    abort(sprintf(paste0("`net` must use built-in activations: layer %d uses the R function %s ",
                         "(jacobian_log_spectrum() runs in C only)."), rf[1],
                  format(net$activation[[rf[1]]])))
  }
  narrow <- which(w[-1] < w[1])
  if (length(narrow)) {
    abort(sprintf(paste0("`net` must have every width at least its input's %g (the Jacobian of full ",
                         "rank): layer %d has width %g."), w[1], narrow[1], w[narrow[1] + 1]))
  }
  check_whole(networks, "networks", min = 2, max = 1e6)
  inp <- jacobian_input(input, var_x, w[1])
  depths <- jacobian_depths(depths, d)
  if (!length(depths)) abort_arg("depths", "NULL or a non-empty vector of depths", depths)
  every <- check_whole(every, "every", min = 1, max = d)
  threads <- check_whole(threads, "threads", max = 1024)
  if (max(w) * w[1] > 2^28 || w[1] > 46340) {
    abort_arg("net", "a network whose Jacobians have at most 2^28 entries", net)
  }
  ksv <- rep(w[1], length(depths))
  check_jacobian_size(ksv, length(depths), networks)
  spec <- jacobian_spec(net, inp$code, inp$var_x, inp$x, engine_seed(), depths, FALSE,
                        every = every)
  pred <- jacobian_log_predict(net, depths)
  jacobian_run(spec, networks, length(depths), sum(ksv), threads, function(stats, sv, n, seconds) {
    structure(list(net = net, networks = n, input = inp$input, var_x = inp$var_x, depths = depths,
                   every = every, stats = stats, log_sv = sv, sv_depth = rep(depths, ksv),
                   prediction = pred, seconds = seconds),
              class = "initvar_jacobian_log")
  })
}

# Predictions of the mean log singular value and the spread, per depth.
jacobian_log_predict <- function(net, depths) {
  w <- net$widths
  n0 <- w[1]
  cnn_net <- inherits(net, "initvar_cnn")
  L <- if (cnn_net) jacobian_conv_layers(net) else NULL
  per_layer <- vapply(seq_len(length(w) - 1), function(i) {
    if (cnn_net || net$activation[[i]]$code != activation_codes[["linear"]]) return(NA_real_)
    r <- resolve_scheme(net$init[[i]], w[i], w[i + 1])
    m <- dist_moments(r)
    if (r$family != "normal" || abs(m[["mean"]]) > 1e-12 * sqrt(m[["var"]])) return(NA_real_)
    (n0 * log(2 * m[["var"]]) + sum(digamma((w[i + 1] - seq(0, n0 - 1)) / 2))) / (2 * n0)
  }, 0)
  rows <- lapply(depths, function(l) {
    out <- data.frame(depth = l, n_in = n0, n_out = w[l + 1], mean_log_pred = NA_real_,
                      mean_log_basis = NA_character_, spread_pred = NA_real_, deterministic = FALSE)
    chain <- if (cnn_net) jacobian_conv_chain(L, 1, l) else {
      Ld <- jacobian_layers(net, 1)
      jacobian_chain(Ld, 1, l)
    }
    if (isTRUE(chain$deterministic)) {
      out$mean_log_pred <- log(chain$mean_sv)
      out$mean_log_basis <- "exact"
      out$spread_pred <- 0
      out$deterministic <- TRUE
    } else if (!anyNA(per_layer[seq_len(l)])) {
      out$mean_log_pred <- sum(per_layer[seq_len(l)])
      out$mean_log_basis <- "exact"
    }
    out
  })
  do.call(rbind, rows)
}

#' @export
as.data.frame.initvar_jacobian_log <- function(x, row.names = NULL, optional = FALSE, ...) {
  p <- x$prediction
  J <- x$networks
  st <- x$stats
  rb <- .Machine$double.eps * (p$depth * max(x$net$widths) + p$n_in)
  out <- p[, c("depth", "n_in", "n_out")]
  m <- st[1, , , drop = FALSE]
  sp <- st[3, , , drop = FALSE]
  est <- apply(m, 2, mean)
  mc <- apply(m, 2, stats::sd) / sqrt(J)
  mcf <- ifelse(p$deterministic, pmax(mc, rb * pmax(1, abs(p$mean_log_pred))), mc)
  ag <- agreement(est, mcf, p$mean_log_pred, df = J - 1)
  out$mean_log <- est
  out$mean_log_mcse <- mc
  out$mean_log_pred <- p$mean_log_pred
  out$mean_log_basis <- p$mean_log_basis
  out$mean_log_z <- ifelse(is.na(p$mean_log_pred), NA_real_, ag$z)
  out$spread <- apply(sp, 2, mean)
  out$spread_mcse <- apply(sp, 2, stats::sd) / sqrt(J)
  out$spread_pred <- p$spread_pred
  out$min_log <- apply(st[4, , , drop = FALSE], 2, min)
  out$max_log <- apply(st[5, , , drop = FALSE], 2, max)
  rownames(out) <- NULL
  out
}

#' @export
summary.initvar_jacobian_log <- function(object, ...) {
  df <- as.data.frame(object)
  pv <- 2 * stats::pt(-abs(df$mean_log_z), object$networks - 1)
  data.frame(depth = df$depth, statistic = "mean_log", estimate = df$mean_log,
             mcse = df$mean_log_mcse, prediction = df$mean_log_pred, basis = df$mean_log_basis,
             z = df$mean_log_z, p_value = pv, consistent = pv > 1 - verdict_level,
             stringsAsFactors = FALSE)
}

#' @export
print.initvar_jacobian_log <- function(x, digits = 3, ...) {
  w <- x$net$widths
  cat(sprintf("<initvar Jacobian log spectrum> %d networks, widths %s; %s inputs; %.1f s\n",
              x$networks, if (length(w) > 8) sprintf("%g to %g, depth %d", w[1], w[length(w)],
                                                      length(w) - 1) else paste(w, collapse = "-"),
              x$input, x$seconds))
  cat(sprintf(paste0("  logs of the singular values of dz^l/dz^0 by re-orthonormalization every %d ",
                     "layer%s\n  mean_log: their mean; spread: their sd within a network; ",
                     "z: t with %d df; *: exact\n\n"),
              x$every, if (x$every > 1) "s" else "", x$networks - 1))
  df <- as.data.frame(x)
  f <- function(v) ifelse(is.na(v), "-", formatC(v, digits = digits, format = "g"))
  fz <- function(z) ifelse(is.na(z), "-", formatC(z, digits = 2, format = "f"))
  tab <- data.frame(depth = df$depth, mean_log = f(df$mean_log), mcse = f(df$mean_log_mcse),
                    pred = paste0(f(df$mean_log_pred), ifelse(is.na(df$mean_log_basis), " ", "*")),
                    z = fz(df$mean_log_z), spread = f(df$spread), mcse. = f(df$spread_mcse),
                    min_log = f(df$min_log), max_log = f(df$max_log), check.names = FALSE)
  names(tab)[7] <- "mcse"
  print(tab, row.names = FALSE, right = TRUE)
  invisible(x)
}
