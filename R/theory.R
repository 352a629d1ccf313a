# Per-layer variance predictions: Glorot & Bengio's linear regime and the
# infinite-width (mean-field) recursion.

#' Predicted per-layer variances of a random network
#'
#' For a network from [mlp()] at initialization, predicts layer by layer the
#' variance of the pre-activations \eqn{s}, of the activations \eqn{z}, of
#' the back-propagated gradients \eqn{\partial C / \partial s} and of the
#' per-example weight gradients \eqn{\partial C / \partial W}. Variances are
#' over the randomness of the weights, biases and inputs, for one neuron (see
#' `vignette("what-var-means", package = "initvar")`, and [simulate_network()]
#' for the across-neuron variance of one fixed network).
#'
#' Row \eqn{i} (1-based) is the layer holding \eqn{W^{i-1}}, of size
#' \eqn{n_{i-1} \times n_i}: it takes \eqn{z^{i-1}} to \eqn{s^{i-1}} and
#' outputs \eqn{z^i = f(s^{i-1})}, with \eqn{z^0 = x}. Write
#' \eqn{v_i = Var(W^{i-1})} ([weight_variance()]) and
#' \eqn{g_i = \partial C / \partial s^{i-1}}.
#'
#' @section `regime = "linear"`: Glorot and Bengio (2010), with
#'   \eqn{f'(0) = 1} and zero-mean weights, so that every layer is linear:
#'   \deqn{Var(z^i) = Var(x) \prod_{i'=1}^{i} n_{i'-1} v_{i'}}
#'   (their eq. 5, indices shifted by one: their \eqn{\prod_{i'=0}^{i-1}
#'   n_{i'} Var(W^{i'})});
#'   \deqn{Var(g_i) = Var(g_d) \prod_{i'=i+1}^{d} n_{i'} v_{i'}}
#'   (their eq. 6, whose product runs one layer too far: the gradient at
#'   layer \eqn{i} has passed through the weights *above* it only, each
#'   summing \eqn{n_{i'}} terms);
#'   \deqn{Var(\partial C / \partial W^{i-1}) = Var(z^{i-1}) Var(g_i)}
#'   (their eq. 7). Their eq. 13 prints \eqn{Var[x]} where
#'   \eqn{Var[\partial C / \partial s^d]} is meant. A bias variance, if any,
#'   is added to each \eqn{Var(s)}.
#'
#' @section `regime = "mean_field"`: the exact recursion of an infinitely wide
#'   network (Poole et al. 2016; Schoenholz et al. 2017), for any activation
#'   and bias: with \eqn{s^{i-1} \sim N(\mu_b, q_i)},
#'   \deqn{q_i = n_{i-1} v_i E[(z^{i-1})^2] + \sigma_b^2, \quad
#'   E[(z^i)^k] = E[f(\mu_b + \sqrt{q_i} Z)^k],}
#'   \deqn{Var(g_i) = E[f'(s^{i-1})^2] \, n_{i+1} v_{i+1} Var(g_{i+1}),
#'   \quad Var(\partial C / \partial W^{i-1}) = E[(z^{i-1})^2] Var(g_i),}
#'   the expectations by half-range Gauss-Hermite quadrature (see [gain()]).
#'   Note \eqn{E[z^2]}, not \eqn{Var(z)}, drives the next layer: they differ
#'   when \eqn{f} has a non-zero mean (sigmoid). For ReLU, \eqn{E[f(s)^2] =
#'   q/2}: He et al.'s factor 1/2 exactly. The backward pass assumes the
#'   gradients independent of the forward activations, as is standard; it is
#'   exact for linear networks.
#'
#' In both regimes the weights must have mean zero.
#'
#' @section Finite width: what is exact:
#' * Linear networks: every value, at any width.
#' * ReLU and leaky ReLU with symmetric zero-mean weights and zero-mean
#'   biases: `var_s` is exact at any width (the pre-activations are
#'   symmetric about 0, so \eqn{E[relu(s)^2] = E[s^2]/2} whatever their
#'   distribution). `var_grad_s` and `var_grad_w` are exact as long as no
#'   unit is exactly dead: a layer whose inputs are all 0 has \eqn{s = 0}
#'   exactly, where \eqn{f'(0) = 0}, so \eqn{P(s > 0) < 1/2}; that happens
#'   only in narrow networks (at width 4, 6 ReLU layers, the
#'   back-propagated gradient variance at the fifth layer is 0.74 of the
#'   prediction, with 5000 networks). `var_z` and `mean_z` are not exact:
#'   \eqn{E[relu(s)]} depends on the distribution of \eqn{|s|}, which is not
#'   Gaussian at finite width (at width 4 the simulated Var(z) is 5-38\%
#'   above the prediction). With a non-zero bias mean nothing is exact.
#' * Other activations: exact only as the width grows: the pre-activations
#'   of a finite layer are not exactly Gaussian, and for deep tanh networks
#'   the simulated variance sits below the prediction by a relative amount
#'   of order \eqn{1/n} per layer (about \eqn{2/n} after 15 layers of width
#'   \eqn{n}). A long [simulate_network()] run, whose MCSE shrinks, will
#'   then flag deep layers; widen the network to see the gap close.
#'
#' @section Accuracy:
#' The mean-field expectations are computed by adaptive Gauss-Kronrod
#' quadrature split at the activation's kinks and resolved on the scale
#' \eqn{1/\sqrt{q}} (see `vignette("beyond-linear", package = "initvar")`),
#' to a relative error below 1e-10 for \eqn{q} from 1e-6 to 1e4 and bias
#' means from -3 to 3 (tested against independent references); central
#' moments are computed centrally, so a bias mean of 1e8 costs no digits.
#' A value whose whole mass lies more than 37.5 standard deviations away
#' (below 1e-300 of the integrand's scale) is returned as 0.
#'
#' @param net A network from [mlp()].
#' @param var_x Variance of each input feature (zero mean).
#' @param var_grad Variance of the output gradient \eqn{\partial C /
#'   \partial s^{d-1}} when `grad = "normal"`.
#' @param regime `"linear"` or `"mean_field"`.
#' @param grad `"normal"`: the output gradient is drawn iid with variance
#'   `var_grad`; `"softmax"`: it comes from a softmax cross-entropy cost on
#'   uniformly random labels, \eqn{(p - y) f'(s^{d-1})}, whose variance is
#'   \eqn{1/n_d - 1/n_d^2} for small logits (linear regime) and is computed
#'   exactly for independent Gaussian pre-activations in the mean-field
#'   regime (a one-dimensional integral).
#' @return A data frame of class `initvar_prediction` with one row per layer:
#'   `layer`, `n_in`, `n_out`, `var_s`, `var_z`, `var_grad_s`, `var_grad_w`,
#'   `mean_s`, `mean_z`; `plot()` draws the variances by layer.
#' @references
#' Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training
#' deep feedforward neural networks. AISTATS.
#'
#' Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J. and Ganguli, S.
#' (2016). Exponential expressivity in deep neural networks through transient
#' chaos. NeurIPS.
#' @examples
#' net <- mlp(c(1000, rep(1000, 5)), "tanh", init_glorot_standard())
#' predict_variance(net)                       # shrinks by 1/3 per layer
#' predict_variance(net, regime = "mean_field")
#' relu <- mlp(rep(500, 11), "relu", init_he())
#' predict_variance(relu, regime = "mean_field")$var_s   # constant: He's factor 2
#' @export
predict_variance <- function(net, var_x = 1, var_grad = 1,
                             regime = c("linear", "mean_field"),
                             grad = c("normal", "softmax")) {
  check_mlp(net)
  check_number(var_x, min = 0)
  check_number(var_grad, min = 0)
  default_regime <- missing(regime)
  regime <- check_choice(regime, c("linear", "mean_field"), "regime")
  grad <- check_choice(grad, c("normal", "softmax"), "grad")
  check_softmax_output(net, grad)
  w <- net$widths
  d <- length(w) - 1
  if (default_regime) {
    off <- Filter(Negate(linear_regime_applies), net$activation)
    if (length(off)) {
      message(sprintf(paste0(
        "predict_variance(): the default `regime = \"linear\"` is Glorot's linear regime, ",
        "which assumes f(0) = 0 and f'(0) = 1; %s does not satisfy it. ",
        "Use `regime = \"mean_field\"` for a prediction exact at infinite width."),
        format(off[[1]])))
    }
  }
  v <- vapply(seq_len(d), function(i) weight_variance(net$init[[i]], w[i], w[i + 1]), 0)
  wm <- vapply(seq_len(d), function(i) weight_mean(net$init[[i]], w[i], w[i + 1]), 0)
  if (any(abs(wm) > 1e-12 * sqrt(v))) {
    abort(paste0(
      "`net` has weights with a non-zero mean (layer ", which(abs(wm) > 1e-12 * sqrt(v))[1],
      "): the predictions assume zero-mean weights."))
  }
  layers <- net_layers(net)
  var_s <- var_z <- mean_s <- mean_z <- m2_z <- dfd2 <- numeric(d)
  fwd <- vector("list", d)
  m2_prev <- var_x
  mean_prev <- 0
  for (i in seq_len(d)) {
    l <- layers[[i]]
    m <- layer_kinds[[l$kind]]$forward(l, m2_prev, mean_prev, regime)
    fwd[[i]] <- m
    var_s[i] <- m$var_s
    mean_s[i] <- m$mean_s
    var_z[i] <- m$var_z
    mean_z[i] <- m$mean_z
    m2_z[i] <- m$m2_z
    dfd2[i] <- m$dfd2
    m2_prev <- m2_z[i]
    mean_prev <- mean_z[i]
  }
  var_g <- numeric(d)
  var_g[d] <- if (grad == "normal") var_grad else
    softmax_grad_var(net, var_s[d], mean_s[d], regime) * dfd2[d]
  if (d > 1) {
    for (i in (d - 1):1) {
      l <- layers[[i + 1]]
      var_g[i] <- dfd2[i] * layer_kinds[[l$kind]]$backward(l, var_g[i + 1], fwd[[i + 1]])
    }
  }
  m2_in <- c(var_x, m2_z[-d])
  # a layer kind may say which input its weight gradients see (a residual
  # block: its last branch layer's)
  m2_w <- vapply(seq_len(d), function(i) if (is.null(fwd[[i]]$m2_w)) m2_in[i] else fwd[[i]]$m2_w, 0)
  out <- data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
                    var_s = var_s, var_z = var_z, var_grad_s = var_g,
                    var_grad_w = m2_w * var_g, mean_s = mean_s, mean_z = mean_z)
  attr(out, "regime") <- regime
  class(out) <- c("initvar_prediction", "data.frame")
  out
}

# Var(p_k - y_k) for a softmax over n logits L = f(s), s ~ N(mu, q) iid
# across units (the infinite-width limit), with uniformly random labels:
# E[p^2] - 2 / n^2 + 1 / n. Linear regime: small logits, p = 1/n. Mean
# field: exactly, with 1 / a^2 = int_0^Inf t exp(-a t) dt,
#   E[p_1^2] = int_0^Inf t E[exp(2 L - t e^L)] E[exp(-t e^L)]^(n - 1) dt,
# a one-dimensional integral of one-dimensional Gaussian expectations.
softmax_grad_var <- function(net, q, mu, regime) {
  n <- net$widths[length(net$widths)]
  if (n == 1) return(0)   # one class: p = y = 1, no gradient
  if (regime == "linear") return(1 / n - 1 / n^2)
  act <- net$activation[[length(net$activation)]]
  f <- act$f
  sd_q <- sqrt(q)
  integrand <- function(t) {
    vapply(t, function(tt) {
      a <- normal_expectation(function(x) { l <- f(x); exp(2 * l - tt * exp(l)) }, sd_q, mu,
                              kinks = act$kinks)
      b <- normal_expectation(function(x) exp(-tt * exp(f(x))), sd_q, mu, kinks = act$kinks)
      tt * a * b^(n - 1)
    }, 0)
  }
  Ep2 <- stats::integrate(integrand, 0, Inf, rel.tol = 1e-10)$value
  max(Ep2 - 2 / n^2 + 1 / n, 0)
}

check_mlp <- function(net, arg = "net") {
  if (!inherits(net, "initvar_mlp")) abort_arg(arg, "a network from `mlp()`", net)
  invisible(net)
}

# Whether Glorot's linear regime describes activation `a` near 0: f(0) = 0,
# f'(0) = 1 and no kink at 0.
linear_regime_applies <- function(a) {
  if (0 %in% a$kinks) return(FALSE)
  f0 <- a$f(0)
  d0 <- a$df(0)
  isTRUE(abs(f0) < 1e-12 && abs(d0 - 1) < 1e-8)
}
