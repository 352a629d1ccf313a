# Pairs of correlated inputs through random networks (src/correlation.c):
# the finite network's counterpart of predict_correlation().

corr_block_size <- 64L

# The list C_correlation reads: the engine's spec of the networks with a
# batch of 2 * pairs rows, the inputs' correlation, and the means of the
# pre-activations.
correlation_spec <- function(net, pairs, c0, var_x, seed) {
  d <- length(net$widths) - 1
  es <- engine_spec(net, batch = 2L * pairs, input = "normal", var_x = var_x, X = NULL,
                    grad = "normal", var_grad = 1, center = numeric(n_quantities * d),
                    nbins = 1L, hrange = rep(c(-1, 1), 3 * d), seed = seed)
  list(engine = es, c0 = as.double(c0),
       mu = vapply(net$bias, function(b) weight_mean(b), 0))
}

#' Correlation of two inputs through random networks
#'
#' Propagates pairs of Gaussian inputs with correlation `c0` through
#' `networks` random networks drawn from `net`'s initialization (in C, the
#' networks of [simulate_network()] for the same seed) and reports, layer by
#' layer, the correlation of the two pre-activations, against the c-map of
#' [predict_correlation()].
#'
#' @section The estimate: per network and layer, the averages over the
#'   pairs of \eqn{A = \frac1n \sum_k (s_k - \mu)(s'_k - \mu)} and \eqn{Q =
#'   \frac1{2n} \sum_k [(s_k - \mu)^2 + (s'_k - \mu)^2]}, \eqn{\mu} the mean
#'   of the pre-activations (the bias mean); the estimate is \eqn{\bar A /
#'   \bar Q} over networks, the correlation the c-map predicts
#'   (\eqn{E[(s - \mu)(s' - \mu)] / Var(s)}), with a delta-method MCSE from
#'   the networks and Student's t with networks - 1 degrees of freedom.
#'
#' @section Exact and infinite-width predictions: For linear networks with
#'   zero-mean weights the c-map holds exactly at every width:
#'   \eqn{E[s s' | z, z'] = \sigma_w^2 z \cdot z' + \sigma_b^2}, so the
#'   ratio of expectations follows the same recursion. For nonlinear
#'   activations the c-map is the infinite-width limit: the pre-activations
#'   of a finite layer are not jointly Gaussian, and the gap is of order
#'   \eqn{1/n} (tested to shrink at that rate).
#'
#' @param net A network from [mlp()] with built-in activations.
#' @param c0 The inputs' correlation, in \eqn{[-1, 1]}.
#' @param networks Number of random networks (at least 20).
#' @param pairs Input pairs per network.
#' @param var_x Variance of each input coordinate.
#' @param threads Number of threads; see [initvar_threads()].
#' @param level Level of the intervals.
#' @return A data frame per layer: `layer`, `n_out`, `prediction` (the
#'   c-map), `estimate`, `mcse`, `lower`, `upper`, `z`, `p_value`,
#'   `consistent`, with attribute `networks`. Interrupted (Ctrl-C), the
#'   blocks of 64 networks done are kept: the interrupt's `partial` field
#'   (and [last_partial()]) is the table for them, `networks` set to their
#'   number and `networks_requested` to the number asked for.
#' @seealso [predict_correlation()], [fixed_point()].
#' @examples
#' set.seed(1)
#' net <- mlp(rep(64, 6), "tanh", init_normal(0, sqrt(1.5 / 64)))
#' simulate_correlation(net, c0 = 0.5, networks = 50)
#' @export
simulate_correlation <- function(net, c0, networks = 200, pairs = 16, var_x = 1,
                                 threads = initvar_threads(), level = 0.95) {
  check_mlp(net)
  check_dense_net(net)
  check_number(c0, "c0", min = -1, max = 1)
  networks <- check_whole(networks, "networks", min = 20, max = 1e9)
  pairs <- check_whole(pairs, "pairs", max = max_width / 2)
  check_number(var_x, "var_x", min = 0, min_open = TRUE)
  threads <- check_whole(threads, "threads", max = max_threads)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  custom <- vapply(net$activation, function(a) a$code == activation_codes[["r_function"]], TRUE)
  if (any(custom)) {
    abort(sprintf("`net` uses an R function as activation (layer %d): simulate_correlation() runs built-in activations only.",
                  which(custom)[1]))
  }
  pred <- predict_correlation(net, c0, var_x)
  d <- length(net$widths) - 1
  spec <- correlation_spec(net, pairs, c0, var_x, engine_seed())
  local_blas_single_thread()
  nblocks <- ceiling(networks / corr_block_size)
  res <- vector("list", nblocks)
  done <- 0
  # Ctrl-C: the blocks done are a valid smaller run (network j draws from
  # its own streams), re-signalled as the partial result
  interrupted <- tryCatch({
    for (k in seq_len(nblocks)) {
      first <- (k - 1) * corr_block_size
      cnt <- min(corr_block_size, networks - first)
      r <- correlation_block(spec, first, cnt, threads)
      if (is.null(r)) break   # interrupted in C: this block is abandoned
      res[[k]] <- array(r, c(2, d, cnt))
      done <- first + cnt
    }
    done < networks
  }, interrupt = function(e) TRUE)
  if (interrupted) {
    raise_interrupt(if (done >= 2) correlation_result(res, done, net, pred, level, networks),
                    sprintf("no block of %d networks done", min(corr_block_size, networks)))
  }
  correlation_result(res, networks, net, pred, level)
}

# One block of networks in C; its errors (an overflow) name the user's call.
correlation_block <- function(spec, first, cnt, threads) {
  tryCatch(.Call(C_correlation, spec, first, as.integer(cnt), as.integer(threads)),
           error = function(e) abort(conditionMessage(e)))
}

# The table of simulate_correlation() from the first `networks` networks
# (fewer than `requested` in a partial result, with attribute
# `networks_requested`).
correlation_result <- function(res, networks, net, pred, level, requested = networks) {
  d <- length(net$widths) - 1
  a <- array(unlist(res), c(2, d, networks))
  rows <- lapply(seq_len(d), function(i) {
    A <- a[1, i, ]
    Q <- a[2, i, ]
    ma <- mean(A)
    mq <- mean(Q)
    est <- ma / mq
    S <- stats::cov(cbind(A, Q)) / networks
    g <- c(1 / mq, -ma / mq^2)
    se <- sqrt(max(drop(crossprod(g, S %*% g)), 0))
    data.frame(layer = i, n_out = net$widths[i + 1], prediction = pred$c[i], estimate = est,
               mcse = se)
  })
  out <- do.call(rbind, rows)
  ag <- agreement(out$estimate, out$mcse, out$prediction, df = networks - 1,
                  interval_level = level)
  out <- cbind(out, ag[c("lower", "upper", "z", "p_value", "consistent")])
  attr(out, "networks") <- networks
  if (requested != networks) attr(out, "networks_requested") <- requested
  out
}
