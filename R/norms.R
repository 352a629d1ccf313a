# The normalized squared norms of a simulation: Hanin and Rolnick (2018).

#' Normalized squared norms of simulated networks
#'
#' For every example and layer \eqn{l}, the engine of [simulate_network()]
#' records \eqn{M_l = (|z^l|^2 / n_l) / (|x|^2 / n_0)}, the mean square of
#' the layer's output relative to that of its input. `network_norms()`
#' reports its mean \eqn{E[M_l]} and its relative second moment
#' \eqn{E[M_l^2] / E[M_l]^2} over networks and examples, with Monte Carlo
#' standard errors from the networks (the unit of replication), against
#' their exact values where they are known.
#'
#' @section The exact values: With zero-mean Gaussian weights of variance
#'   \eqn{\sigma_l^2}, zero biases and positively homogeneous activations
#'   (linear, ReLU, leaky ReLU), given the layer's input \eqn{z} the
#'   pre-activations \eqn{s_k} are iid \eqn{N(0, \sigma_l^2 |z|^2)}, so
#'   \eqn{|z^l|^2 / n_l = \sigma_l^2 |z|^2 \frac{1}{n_l} \sum_k f(Z_k)^2}
#'   with \eqn{Z_k} iid standard normal, independent of \eqn{z}. Hence, for
#'   any fixed input (and so for random inputs too, each measured against
#'   its own norm),
#'   \deqn{E[M_l] = \prod_{i \le l} n_{i-1} \sigma_i^2 E[f_i(Z)^2],\qquad
#'   \frac{E[M_l^2]}{E[M_l]^2} = \prod_{i \le l} \left(1 + \frac{k_i}{n_i}\right),}
#'   \eqn{k_i = E[f_i(Z)^4] / E[f_i(Z)^2]^2 - 1}: 2 for a linear layer and
#'   5 for ReLU, which gives Hanin and Rolnick's (2018, Theorem 5) \eqn{\prod
#'   (1 + 5 / n_l)} over the hidden layers times \eqn{1 + 2 / n_L} for a
#'   linear output layer, exactly, at every width. With He's
#'   \eqn{\sigma^2 = 2 / n_{l-1}}, \eqn{E[M_l] = 1}. For other weight
#'   distributions the factor also depends on the weights' kurtosis
#'   \eqn{\kappa_W} and on the layer's inputs: \eqn{Var(s_k^2 | z)} gains
#'   \eqn{(\kappa_W - 3) \sigma^4 \sum_i z_i^4}, so there is no closed form
#'   and the prediction is `NA`. When depth over width is not small, \eqn{\log
#'   M} tends to a normal law (Hanin and Nica 2019) whose variance is about
#'   \eqn{\sum_l k_l / n_l}: the relative second moment then grows like
#'   \eqn{\exp(\sum_l k_l / n_l)}.
#'
#' @section Intervals and verdicts: as for the variances of
#'   [simulate_network()]: log-scale t intervals with networks - 1 degrees of
#'   freedom, reported only where the networks are enough for the predicted
#'   spread of a network's contribution (the exact \eqn{E[M^4] / E[M^2]^2},
#'   from the moments \eqn{E[f(Z)^{2p}]}, \eqn{p \le 4}); verdicts through
#'   the package's one agreement rule at level 0.99.
#'
#' @param x A simulation from [simulate_network()].
#' @return A data frame with one row per layer: `layer`, `n_out`, `mean_M`,
#'   `mean_M_mcse`, `prediction_mean`, `ratio` (\eqn{E[M^2] / E[M]^2}),
#'   `ratio_mcse`, `prediction_ratio`, `lower`, `upper`, `z`, `p_value`,
#'   `consistent` and `networks_needed` (for the ratio).
#' @references Hanin, B. and Rolnick, D. (2018). How to start training: the
#'   effect of initialization and architecture. NeurIPS.
#'   Hanin, B. and Nica, M. (2019). Products of many large random matrices
#'   and gradients in deep neural networks. Comm. Math. Phys.
#' @examples
#' set.seed(1)
#' net <- mlp(c(16, 8, 8, 8, 8), c("relu", "relu", "relu", "linear"), init_he())
#' sim <- simulate_network(net, networks = 400, inputs = 4, progress = FALSE)
#' network_norms(sim)
#' @export
network_norms <- function(x) {
  if (!inherits(x, "initvar_simulation")) {
    abort_arg("x", "a simulation from `simulate_network()`", x)
  }
  net <- x$net
  check_dense_net(net, "x$net")
  d <- length(net$widths) - 1
  acc <- block_acc(as.vector(x$acc), d)
  J <- x$networks
  pred <- norm_prediction(net)
  k <- match("norm", quantity_table$name)
  # the engine accumulated M divided by a power of 2 per layer
  sc <- matrix(x$scale, n_quantities)[k, ]
  rows <- lapply(seq_len(d), function(i) {
    a <- acc[, k, i]
    ma <- a[["mean_a"]] * sc[i]
    mb <- a[["mean_b"]] * sc[i]^2
    S <- matrix(c(a[["C_aa"]] * sc[i]^2, a[["C_ab"]] * sc[i]^3, a[["C_ab"]] * sc[i]^3,
                  a[["C_bb"]] * sc[i]^4), 2) / (J - 1)
    ratio <- mb / ma^2
    g <- c(-2 * mb / ma^3, 1 / ma^2)
    data.frame(layer = i, n_out = net$widths[i + 1], mean_M = ma,
               mean_M_mcse = sqrt(max(S[1, 1], 0) / J),
               prediction_mean = pred$mean[i], ratio = ratio,
               ratio_mcse = sqrt(max(drop(crossprod(g, S %*% g)), 0) / J),
               prediction_ratio = pred$ratio[i])
  })
  out <- do.call(rbind, rows)
  cv2 <- pred$ratio4 - 1
  iv <- sim_intervals(out$ratio, out$ratio_mcse, out$prediction_ratio, J, x$level, cv2)
  out <- cbind(out, iv)
  out[!is.finite(out$ratio), c("ratio", "ratio_mcse")] <- NA_real_
  rownames(out) <- NULL
  out
}

# The exact E[M_l], E[M_l^2] / E[M_l]^2 and E[M_l^4] / E[M_l^2]^2 (see
# ?network_norms); NA unless every layer has zero-mean Gaussian weights,
# zero biases and a positively homogeneous activation.
norm_prediction <- function(net) {
  w <- net$widths
  d <- length(w) - 1
  na <- list(mean = rep(NA_real_, d), ratio = rep(NA_real_, d), ratio4 = rep(NA_real_, d))
  mean <- ratio <- ratio4 <- numeric(d)
  m <- r2 <- r4 <- 1
  for (i in seq_len(d)) {
    r <- resolve_scheme(net$init[[i]], w[i], w[i + 1])
    a <- net$activation[[i]]
    if (r$family != "normal" || r$mean != 0 || weight_variance(net$bias[[i]]) != 0 ||
        weight_mean(net$bias[[i]]) != 0 || is.null(homogeneous_slope(a))) {
      return(na)
    }
    # raw moments of X = f(Z)^2: E[X^p] = E[f(Z)^(2p)], p = 1..4
    mx <- vapply(1:4, function(p) normal_expectation(function(t) a$f(t)^(2 * p), kinks = a$kinks), 0)
    n <- w[i + 1]
    # moments of the mean of n iid copies of X, from its cumulants
    k1 <- mx[1]
    k2 <- mx[2] - mx[1]^2
    k3 <- mx[3] - 3 * mx[2] * mx[1] + 2 * mx[1]^3
    k4 <- mx[4] - 4 * mx[3] * mx[1] - 3 * mx[2]^2 + 12 * mx[2] * mx[1]^2 - 6 * mx[1]^4
    c1 <- k1; c2 <- k2 / n; c3 <- k3 / n^2; c4 <- k4 / n^3
    e2 <- c2 + c1^2
    e4 <- c4 + 4 * c3 * c1 + 3 * c2^2 + 6 * c2 * c1^2 + c1^4
    m <- m * w[i] * r$sd^2 * mx[1]
    r2 <- r2 * e2 / c1^2
    r4 <- r4 * e4 / e2^2
    mean[i] <- m
    ratio[i] <- r2
    ratio4[i] <- r4
  }
  list(mean = mean, ratio = ratio, ratio4 = ratio4)
}
