# Monte Carlo simulation of random networks, forward and backward, in C.

sim_block_size <- 8L

# The named list C_simulate_block reads by name (fields: spec_fields in
# R/codes.R; src/propagate.c, read_spec()). Codes are taken from the
# vocabularies at this boundary only.
engine_spec <- function(net, batch, input, var_x, X, grad, var_grad, center,
                        nbins, hrange, seed, scale = NULL) {
  w <- net$widths
  d <- length(w) - 1
  layers <- net_layers(net)
  # the dense units (weight matrices) of every layer, in order: one for a
  # dense layer, a residual block's branch layers
  units <- unlist(lapply(layers, layer_units), recursive = FALSE)
  # (a conv unit's matrix is K x c_out, its fans the layer's: l$fans)
  wc <- lapply(units, function(l) {
    f <- if (is.null(l$fans)) c(l$n_in, l$n_out) else l$fans
    family_c_params(resolve_scheme(l$init, f[[1]], f[[2]], l$n_in, l$n_out))
  })
  bc <- lapply(units, function(l) family_c_params(resolve_scheme(l$bias, 1, 1)))
  acts <- lapply(units, `[[`, "activation")
  res_field <- function(name, default) {
    vapply(layers, function(l) if (!is.null(l[[name]])) as.double(l[[name]]) else default, 0)
  }
  # attention sublayers (R/net-transformer.R): heads, d_k, seq_len,
  # causal, logit scale; 0 for other layers
  attn <- vapply(layers, function(l) {
    if (l$kind == "attention") c(l$heads, l$d_k, l$seq_len, attention_mask_code(l), l$scale) else numeric(5)
  }, numeric(5))
  spec <- list(
    widths = as.integer(w),
    layer_kind = code_of(layer_kind_codes, vapply(layers, `[[`, "", "kind")),
    act = vapply(acts, function(a) a$code, 0L),
    act_param = vapply(acts, function(a) as.double(a$param), 0),
    wkind = vapply(wc, `[[`, 0L, "code"), wpar = unlist(lapply(wc, `[[`, "params")),
    bkind = vapply(bc, `[[`, 0L, "code"), bpar = unlist(lapply(bc, `[[`, "params")),
    input = code_of(input_kind_codes, input), var_x = as.double(var_x), X = X,
    grad = code_of(grad_kind_codes, grad), var_grad = as.double(var_grad),
    batch = as.integer(batch), center = as.double(center), nbins = as.integer(nbins),
    hrange = as.double(hrange), seed = seed,
    rfuns = lapply(seq_along(acts), function(u) {
      a <- acts[[u]]
      if (a$code != activation_codes[["r_function"]]) return(NULL)
      layer <- unit_layer(layers)[u]
      list(guard_activation(a$f, "f", layer), guard_activation(a$df, "df", layer))
    }),
    scale = if (is.null(scale)) rep(1, n_quantities * d) else as.double(scale),
    units = vapply(layers, function(l) length(layer_units(l)), 0L),
    res_alpha = res_field("alpha", 0), res_skip = res_field("skip", 0),
    res_norm = code_of(norm_kind_codes, vapply(layers, function(l) {
      if (!is.null(l$norm)) l$norm else "none"
    }, "")),
    unit_in = vapply(units, function(l) as.integer(l$n_in), 0L),
    unit_out = vapply(units, function(l) as.integer(l$n_out), 0L),
    attn = as.double(attn),
    # conv layers' geometry (R/net-conv.R); 0 for other layers
    conv = as.double(vapply(layers, conv_geometry, numeric(conv_npar))),
    # correlated tokens (transformer(token_cor = )), for random inputs
    token_mix = if (input == "normal") token_mix_matrix(net))
  spec[spec_fields]
}

# An activation given as an R function, as the engine calls it: its errors
# say which activation of `net` failed (the engine adds the user's call).
guard_activation <- function(f, what, layer) {
  force(f)
  function(x) {
    tryCatch(f(x), error = function(e) {
      stop(sprintf("`net`: the activation's %s (layer %d) failed: %s", what, layer,
                   conditionMessage(e)), call. = FALSE)
    })
  }
}

# 64 bits of seed material from R's RNG, as two 32-bit halves: the numbers
# the samplers draw in C (iv_seed_from_R(), src/rng.c), drawn here.
engine_seed <- function() floor(stats::runif(2) * 2^32)

# One block's accumulators as an array: slot x quantity x layer, named.
block_acc <- function(acc, d) {
  array(acc, c(length(acc_slots), nrow(quantity_table), d),
        list(acc_slots, quantity_table$name, NULL))
}

# Powers of 2 near the typical size of each accumulated quantity (4 x d:
# s, z, dC/ds and, for dC/dW, the layer's input z), from the predicted
# second moments: the engine accumulates values divided by them, exactly,
# so that fourth moments of a layer whose variance is 1e-160 (a deep
# shrinking stack) or 1e160 neither underflow nor overflow.
engine_scale <- function(net, var_x, m2) {
  d <- length(net$widths) - 1
  p2 <- function(v) {
    r <- sqrt(v)
    ifelse(is.finite(r) & r > 0, 2^round(log2(pmax(r, 2^-1000))), 1)
  }
  if (is.null(m2)) return(matrix(1, n_quantities, d))
  zin <- c(var_x, m2$z[-d])
  # the norms M_l, near E[z_l^2] / E[x^2] (formed as a ratio of scales:
  # each may be near the double range's ends)
  pm <- function(m) {
    e <- log2(m$z) - log2(var_x)
    ifelse(is.finite(e), 2^pmin(pmax(round(e), -1000), 1000), 1)
  }
  rbind(p2(m2$s), p2(m2$z), p2(m2$g), p2(zin), pm(m2))
}

# The multiplier of a variance in each (quantity, layer): scale^2, and for
# dC/dW the product of the input's and the gradient's scales, squared.
engine_var_scale <- function(scale) {
  if (is.null(scale)) return(NULL)
  sc <- matrix(scale, n_quantities)
  rbind(sc[1, ], sc[2, ], sc[3, ], sc[4, ] * sc[3, ], sc[5, ])^2
}

# Errors of the engine (an activation given as an R function that fails or
# returns the wrong values, an overflow) name the user's call
# (simulate_network(), or whatever exported function ran it), not this
# internal one.
sim_block_worker <- function(block, spec, threads, workspace = NULL) {
  local_blas_single_thread()   # the engine's threads call dgemm: one BLAS thread, restored on exit
  tryCatch(.Call(C_simulate_block, spec, block[[1]], block[[2]], threads, workspace),
           error = function(e) abort(conditionMessage(e)))
}

#' Simulate random networks forward and backward
#'
#' Draws `networks` independent networks from `net`'s initialization, pushes
#' a batch of `inputs` random inputs forward through each and a random output
#' gradient backward (Glorot and Bengio's eqs. 2-3), all in C, and
#' accumulates per layer the moments of the pre-activations \eqn{s}, the
#' activations \eqn{z}, the back-propagated gradients
#' \eqn{\partial C / \partial s} and the per-example weight gradients
#' \eqn{\partial C / \partial W}, next to the predictions of
#' [predict_variance()].
#'
#' @section Monte Carlo standard errors:
#' Activations of one network share its weights, so they are not independent:
#' the network is the unit of replication. For each quantity, network
#' \eqn{j} contributes its first and second moments \eqn{a_j, b_j} (about a
#' fixed reference point); the estimate is the pooled variance
#' \eqn{\bar b - \bar a^2} and its MCSE comes from the delta method with the
#' between-network covariance of \eqn{(a_j, b_j)}. Moments are accumulated in
#' one pass with mergeable updates (Pebay 2008 for the pooled moments up to
#' the fourth, Chan et al. 1979 for the network-level co-moments), so memory
#' does not grow with `networks`.
#'
#' @section Intervals and verdicts:
#' A network's contribution to a per-layer variance is a product of
#' per-layer factors, so in narrow, deep networks it has a heavy right tail
#' (in a ReLU network of width 4 and depth 6, about a third of the networks
#' are dead and contribute exactly 0). The interval is therefore on the log
#' scale, \eqn{\hat v \exp(\pm t_{J-1} \, \mathrm{MCSE} / \hat v)}, and
#' the verdict (`consistent`, printed as `agrees`) is the two-sided t test
#' of the same statistic at level 0.99, the package's one level for
#' verdicts; the interval has its own `level` (0.95 by default).
#'
#' Even on the log scale no interval from \eqn{J} networks holds its level
#' when the spread of a network's contribution is large against \eqn{J}.
#' For each row the engine predicts that spread, the relative variance
#' \eqn{c} of a network's contribution (the product of Hanin and Rolnick's
#' per-layer factors \eqn{1 + k_l / n_l}, with \eqn{k_l} from the
#' activation's fourth moment at the mean-field distribution; it ignores the
#' averaging over inputs, so it overstates), and gives an interval and a
#' verdict only when
#' \deqn{J \ge \max(20, \; 10 (c + 3)^2 c),}
#' ten times the squared skewness of a log-normal with that relative
#' variance. Other rows get `NA` (printed `?`) and `networks_needed` says
#' how many networks they need. The rule uses the prediction, not the
#' estimated spread, because a rule that looks at the same draws would
#' report just the rows whose spread it underestimated (without a
#' prediction, for weights with a non-zero mean, the estimated spread is
#' used). Coverage is tested over seeds on narrow, deep linear and ReLU
#' networks (tests/testthat/test-calibration.R).
#'
#' @section Scales:
#' Values are accumulated divided by powers of 2 near each layer's predicted
#' scale, exactly, so a stack whose variance shrinks to 1e-240 or an input
#' variance of 1e160 gives the same relative accuracy as scale 1. A run
#' that still overflows double precision is an error naming the layer.
#'
#' @section Reproducibility:
#' Network \eqn{j} draws its inputs, weights, biases and output gradient
#' from its own streams of one seed taken from R's RNG, and networks are
#' merged in blocks of 8 in a fixed order: the result is the same for any
#' `threads`, and with a `parallel` cluster `cl` (for instance
#' `parallel::makePSOCKcluster(hosts)` across machines) or on the workers of
#' a `future::plan()` (`future = TRUE`) it is identical to the sequential
#' run. To go from one machine to a cluster: `future::plan(future::cluster,
#' workers = c("host1", "host2"))`, then `simulate_network(..., future =
#' TRUE)`; nothing else changes.
#'
#' @section Two meanings of Var(z):
#' The prediction is the variance of one neuron over random weights and
#' inputs. For each network and input the engine also records the empirical
#' variance across the neurons of a layer, the quantity the question in
#' Glorot and Bengio's formula is often confused with. Each network's values
#' are averaged over its `inputs` inputs; `across_mean` and `across_sd` are
#' the mean and standard deviation of that average over networks (so
#' `across_sd` shrinks as `inputs` grows, as well as with width).
#'
#' @param net A network from [mlp()].
#' @param networks Number of independent networks (at least 2).
#' @param inputs Batch size: inputs pushed through each network (at least 2).
#' @param input `"normal"` or `"uniform"` iid inputs with variance `var_x`,
#'   or a `inputs x n_0` matrix used as the batch of every network.
#' @param var_x Variance of each input feature.
#' @param grad Output gradient: `"normal"` (iid, variance `var_grad`) or
#'   `"softmax"` (softmax cross-entropy on uniformly random labels).
#' @param var_grad Variance of the output gradient for `grad = "normal"`.
#' @param regime Which prediction the estimates are compared with; both are
#'   kept in the result.
#' @param nbins Number of histogram bins per layer and quantity.
#' @param level Confidence level of the intervals (the verdicts are at
#'   level 0.99).
#' @param threads Number of threads; see [initvar_threads()]. Networks run
#'   concurrently, so R's BLAS should be single-threaded.
#' @param cl A `parallel` cluster, or `NULL`.
#' @param future `TRUE` to run the blocks of networks on the workers of the
#'   current `future::plan()` (for instance `future::plan(multisession)`, a
#'   cluster of machines with `future::plan(cluster, workers = hosts)`, or a
#'   scheduler through future.batchtools), with the future.apply package. The
#'   result is identical to a sequential run with the same seed.
#' @param progress Show a progress bar (cli) when the run takes more than two
#'   seconds; never when not interactive, unless `TRUE` is given.
#' @param resume `NULL`, or a partial result of an interrupted run (from
#'   [last_partial()], or the `partial` field of the interrupt condition) to
#'   continue: its network, inputs, seed and settings are used (the other
#'   arguments but `networks`, `threads`, `cl` and `progress` are ignored)
#'   and the result is identical to an uninterrupted run of `networks`
#'   networks.
#' @section Interrupts:
#' Ctrl-C stops the run within about a second, with one or several threads
#' or a cluster. The blocks of 8 networks merged so far are kept: the
#' interrupt is re-signalled as a condition of class `initvar_interrupt`
#' whose `partial` field is the result for those networks, also kept in
#' [last_partial()], and `resume = ` continues it. Interrupted before the
#' first block is merged, the condition also has class
#' `initvar_nothing_finished` and says so: there is no partial result (no
#' 0-network simulation), and `last_partial()` is `NULL`. A cluster worker
#' that fails gives an error (class `initvar_worker_error`) naming the
#' worker, with the blocks merged before it in its `partial` field (`NULL`,
#' and said, when there are none). An activation given as an R function that
#' fails or returns values of the wrong length, or `NA`/`Inf` for finite
#' inputs, is an error naming the layer and the function called. After an
#' interrupt, a cluster's workers may still be busy: stop and restart it.
#' @return An `initvar_simulation` object: `summary()` and `as.data.frame()`
#'   give per layer and quantity the `prediction`, `estimate`, `mcse`, the
#'   interval `lower`, `upper`, the log-scale `z`, `p_value`, the verdict
#'   `consistent` (level 0.99), `networks_needed` (where too few networks
#'   were run for a calibrated interval), the pooled `mean` and `kurtosis`,
#'   and the across-neuron `across_mean` and `across_sd`; `print()` shows
#'   them; `plot()` draws them. For a [cnn()] network, [position_map()]
#'   gives the per-position maps of its convolutions.
#' @examples
#' set.seed(1)
#' net <- mlp(c(50, 50, 50, 50), "tanh", init_glorot())
#' sim <- simulate_network(net, networks = 20, inputs = 32)
#' # 12 rows, each its own test at level 0.99: even when every prediction
#' # holds, a row is flagged NO about 1 time in 100, so read the family-wise
#' # (Holm) line at the end of the printout before reading one NO.
#' sim
#' head(as.data.frame(sim))
#' @export
simulate_network <- function(net, networks = 100, inputs = 256,
                             input = c("normal", "uniform"), var_x = 1,
                             grad = c("normal", "softmax"), var_grad = 1,
                             regime = c("mean_field", "linear"), nbins = 60,
                             level = 0.95, threads = initvar_threads(),
                             cl = NULL, progress = interactive(), resume = NULL,
                             future = FALSE) {
  check_future(future)
  if (future && !is.null(cl)) abort_arg("future", "FALSE when a cluster `cl` is given", future)
  if (!is.null(resume)) {
    check_resume(resume, networks)
    net <- resume$net
    a <- resume$resume$args
    inputs <- a$inputs; input <- a$input; var_x <- a$var_x; grad <- a$grad
    var_grad <- a$var_grad; regime <- a$regime; nbins <- a$nbins; level <- a$level
  }
  check_mlp(net)
  check_whole(networks, "networks", min = 2, max = 1e9)
  X <- NULL
  if (is.matrix(input)) {
    if (!is.numeric(input) || ncol(input) != net_input_width(net) || nrow(input) < 2 ||
        any(!is.finite(input))) {
      abort_arg("input", sprintf("a finite numeric matrix with %g columns and at least 2 rows",
                                 net_input_width(net)), input)
    }
    X <- matrix(as.double(input), nrow(input))
    inputs <- nrow(X)
    input <- "matrix"
    var_x <- mean(X^2)
  } else {
    input <- check_choice(input, c("normal", "uniform"), "input")
    check_whole(inputs, "inputs", min = 2, max = max_width)
    check_number(var_x, min = 0)
  }
  check_sequence_batch(net, inputs, "inputs")
  if (inherits(net, "initvar_transformer") && !is.null(net$transformer$token_kernel) &&
      input != "normal") {
    abort_arg("input", paste0("\"normal\" for a transformer with correlated tokens ",
                              "(`token_cor` of transformer())"), input)
  }
  grad <- check_choice(grad, c("normal", "softmax"), "grad")
  check_softmax_output(net, grad)
  check_number(var_grad, min = 0)
  regime <- check_choice(regime, c("mean_field", "linear"), "regime")
  check_whole(nbins, "nbins", max = 1e5)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  threads <- check_whole(threads, "threads", max = max_threads)
  if (!is.null(cl) && !inherits(cl, "cluster")) abort_arg("cl", "a `parallel` cluster or NULL", cl)
  args <- list(inputs = inputs, input = input, var_x = var_x, grad = grad, var_grad = var_grad,
               regime = regime, nbins = nbins, level = level)
  setup <- if (is.null(resume)) sim_setup(net, inputs, input, var_x, X, grad, var_grad, nbins) else
    resume$resume$setup
  spec <- setup$spec
  pred <- setup$pred
  hrange <- setup$hrange
  cv2 <- setup$cv2
  d <- length(net$widths) - 1
  nblocks <- ceiling(networks / sim_block_size)
  block <- function(k) {
    s <- (k - 1) * sim_block_size
    list(s, min(sim_block_size, networks - s))
  }
  # blocks are merged as they arrive, in block order: memory does not grow
  # with `networks`. The state is replaced in one assignment, so that an
  # interrupt never leaves it half updated. Merging into zeros copies.
  st <- if (is.null(resume)) {
    list(acc = numeric(length(acc_slots) * nrow(quantity_table) * d), hist = numeric((nbins + 2) * 3 * d),
         pos = numeric(10 * conv_n_positions(net)), blocks = 0L)
  } else {
    resume$resume[c("acc", "hist", "pos", "blocks")]
  }
  add <- function(r) {
    st <<- list(acc = .Call(C_merge_acc, st$acc, r$acc), hist = st$hist + r$hist,
                pos = st$pos + r$pos, blocks = st$blocks + 1L)
  }
  t0 <- proc.time()[["elapsed"]]
  result <- function(partial = FALSE) {
    done <- if (partial) min(networks, st$blocks * sim_block_size) else networks
    out <- structure(list(net = net, networks = done, inputs = inputs,
                          input = input, var_x = var_x,
                          grad = grad, var_grad = var_grad, regime = regime, level = level,
                          prediction = pred, no_prediction = setup$why,
                          acc = block_acc(st$acc, d),
                          hist = array(st$hist, c(nbins + 2, 3, d)),
                          scale = matrix(spec$scale, n_quantities), cv2 = cv2,
                          hrange = array(hrange, c(2, 3, d)),
                          seconds = proc.time()[["elapsed"]] - t0),
                     class = "initvar_simulation")
    # conv layers: per-position sums over networks (position_map())
    if (length(st$pos)) out$position <- st$pos
    if (partial) out$resume <- c(st, list(setup = setup, args = args))
    # no across-neuron variance for a layer of width 1: NA, not NaN
    one <- which(net$widths[-1] == 1)
    if (length(one)) out$acc[c("mean_e", "M2_e"), , one] <- NA_real_
    out
  }
  bar <- progress_bar(progress, nblocks, "simulate_network")
  failure <- NULL
  interrupted <- tryCatch({
    if (isTRUE(future)) {
      # rounds of blocks on the workers of the current future::plan(),
      # merged in block order: each block draws from its own streams, so the
      # result is the one of a single process
      round_size <- 16L
      # a plan may draw from R's RNG in this process (batchtools seeds its
      # registries with it): R's stream is left as a sequential run leaves
      # it, so that the next call (a sweep's next width) draws the same seed
      rng <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
      while (st$blocks < nblocks) {
        ks <- seq_len(min(round_size, nblocks - st$blocks)) + st$blocks
        res <- future.apply::future_lapply(lapply(ks, block), sim_block_worker, spec = spec,
                                           threads = 1L, future.seed = NULL,
                                           future.packages = "initvar")
        for (r in res) add(r)
        progress_set(bar, st$blocks)
      }
      if (!is.null(rng)) assign(".Random.seed", rng, envir = globalenv())
    } else if (is.null(cl)) {
      workspace <- tryCatch(.Call(C_workspace, spec, threads), error = function(e) {
        bytes <- suppressWarnings(as.numeric(sub(".*allocate ([0-9.e+]+) bytes.*", "\\1",
                                                 conditionMessage(e))))
        abort(sprintf(paste0("`net` is too large to simulate here: the workspace of one network%s ",
                             "was refused by the system. Use fewer `inputs`, narrower layers or ",
                             "fewer threads."),
                      if (is.finite(bytes)) sprintf(" (%.1f GB)", bytes / 1e9) else ""))
      })
      for (k in seq_len(nblocks - st$blocks) + st$blocks) {
        r <- sim_block_worker(block(k), spec, threads, workspace)
        if (is.null(r)) break   # interrupted in C: this block is abandoned
        add(r)
        progress_set(bar, k)
      }
    } else {
      # rounds of one block per worker, merged in block order
      while (st$blocks < nblocks) {
        ks <- seq_len(min(length(cl), nblocks - st$blocks)) + st$blocks
        round <- sim_cluster_round(cl, lapply(ks, block), spec, threads)
        for (r in round$results) add(r)
        if (!is.na(round$failed)) {
          b <- block(ks[round$failed])
          failure <- list(round$failed, length(cl), round$message, b[[1]] + 1, b[[1]] + b[[2]])
          break
        }
        progress_set(bar, st$blocks)
      }
    }
    st$blocks < nblocks && is.null(failure)
  }, interrupt = function(e) TRUE)
  # with no block merged there is no partial result (a 0-network
  # simulation is no simulation): the interrupt says nothing finished yet
  partial <- if (st$blocks > 0) result(partial = TRUE)
  if (interrupted) raise_interrupt(partial, "no block of 8 networks done")
  if (!is.null(failure)) do.call(worker_error, c(failure, list(partial)))
  out <- result()
  # (the norms M are not defined when every input is 0: not an overflow)
  bad <- which(!is.finite(out$acc[setdiff(acc_slots, c("mean_e", "M2_e")), variance_quantities, ,
                                  drop = FALSE]), arr.ind = TRUE)
  if (length(bad)) {
    abort(sprintf(paste0(
      "the simulation of `net` over- or underflowed double precision at layer %d (%s): ",
      "its values are too large or too small to square. Rescale `var_x` or the weights."),
      bad[1, 3], quantities[[bad[1, 2]]]))
  }
  out
}

# Predictions, reference points, histogram ranges and the engine's spec,
# with a fresh seed from R's RNG.
sim_setup <- function(net, inputs, input, var_x, X, grad, var_grad, nbins) {
  w <- net$widths
  d <- length(w) - 1
  if (inputs * max(w) * (d + 2) > 2^31) {
    abort("`inputs` x widths is too large for one network's workspace.")
  }
  # a network the theory does not cover (weights of non-zero mean, an
  # overflowing variance, ...) is simulated without a prediction, and the
  # reason is kept for print() (never dropped silently)
  why <- list()
  try_predict <- function(regime) {
    tryCatch(predict_variance(net, var_x, var_grad, regime, grad), error = function(e) {
      why[[regime]] <<- conditionMessage(e)
      NULL
    })
  }
  pred <- list(linear = try_predict("linear"), mean_field = try_predict("mean_field"))
  mf <- pred$mean_field
  # (NA, not NaN: a quantity the theory does not predict, as a conv layer's
  # weight gradients under a pooled read-out)
  finite <- function(v) !is.numeric(v) || all(is.finite(v) | (is.na(v) & !is.nan(v)))
  if (!is.null(mf) && !all(vapply(mf, finite, TRUE))) {
    # an overflowing (or NaN) prediction is no prediction: no reference
    # points or histogram ranges from it; the engine reports an overflow
    pred$mean_field <- mf <- NULL
    why$mean_field <- "the mean-field prediction is not finite (it overflows double precision)."
  }
  center <- rbind(s = if (is.null(mf)) numeric(d) else mf$mean_s,
                  z = if (is.null(mf)) numeric(d) else mf$mean_z,
                  g = 0, w = 0, norm = 0)
  hrange <- histogram_ranges(net, mf)
  seed <- engine_seed()
  # the scales from the mean-field prediction, else from the linear one (a
  # product of fans and variances: the right size when the quadrature
  # cannot say, as for a variance of 1e400)
  lin <- pred$linear
  m2 <- if (!is.null(mf)) {
    list(s = mf$var_s + mf$mean_s^2, z = mf$var_z + mf$mean_z^2, g = mf$var_grad_s)
  } else if (!is.null(lin)) {
    list(s = lin$var_s + lin$mean_s^2, z = lin$var_z + lin$mean_z^2, g = lin$var_grad_s)
  }
  scale <- engine_scale(net, var_x, m2)
  spec <- engine_spec(net, inputs, input, var_x, X, grad,
                      var_grad, center, nbins, hrange, seed, scale)
  if (is.null(mf)) {
    # No prediction to centre the moments on (weights with a non-zero mean):
    # take the reference points from a pilot run of network 0, so that power
    # sums are accumulated near the means and lose no digits to an offset.
    pilot <- sim_block_worker(list(0, 1L), spec, 1L)
    if (is.null(pilot)) raise_interrupt(NULL, "no network done")
    pa <- block_acc(pilot$acc, d)
    pm <- matrix(pa["mean", , ], n_quantities, d)                 # means: quantity x layer
    pv <- matrix(pa["M2", , ] / pa["n", , ], n_quantities, d)     # variances
    spec$center <- as.double(rbind(pm[1, ], pm[2, ], 0, 0, 0))
    spec$scale <- as.double(engine_scale(net, var_x,
                                         list(s = pv[1, ] + pm[1, ]^2, z = pv[2, ] + pm[2, ]^2,
                                              g = pv[3, ] + pm[3, ]^2)))
  }
  # transformers: no predicted spread yet (the estimated one is used)
  list(spec = spec, pred = pred, why = why, hrange = hrange,
       cv2 = if (!is.null(mf) && !inherits(net, "initvar_transformer") && !inherits(net, "initvar_cnn"))
         network_cv2(net, mf, input, inputs, grad, var_x))
}

# Predicted relative variance, over networks, of one network's contribution
# to each per-layer variance (4 x d: s, z, dC/ds, dC/dW): the product over
# the layers it passes of the per-layer factors of the network's mean
# square, as for Gaussian weights (Hanin and Rolnick 2018): forward,
# E[M_l^2] / E[M_l]^2 = E[M_(l-1)^2] / E[M_(l-1)]^2 (1 + k_l / n_l) with
# k_l = E[f(s)^4] / E[f(s)^2]^2 - 1 at the layer's mean-field distribution
# (2 for a linear layer, whose s is a chi-square sum over n_l units; 5 for
# ReLU); backward, the factor is 1 + (3 E[f'^4] / E[f'^2]^2 - 1) / n_l. The
# inputs count as one more layer, averaged over the batch. It ignores the
# averaging over the batch in the hidden layers, so it overstates the
# spread (by a factor of about 1.6 in a width-4 linear stack): conservative.
network_cv2 <- function(net, mf, input, inputs, grad, var_x = 1) {
  w <- net$widths
  d <- length(w) - 1
  kx <- switch(input, normal = 2, uniform = 0.8, matrix = 0)
  pz <- numeric(d + 1)
  pz[1] <- 1 + kx / (w[1] * inputs)
  ps <- numeric(d)
  r <- numeric(d)
  layers <- net_layers(net)
  back <- rep(1, d)    # residual layers: from dC/dh to dC/dx
  for (i in seq_len(d)) {
    if (layers[[i]]$kind == "residual") {
      m2_in <- if (i == 1) var_x else mf$var_z[i - 1] + mf$mean_z[i - 1]^2
      mean_in <- if (i == 1) 0 else mf$mean_z[i - 1]
      fw <- residual_forward(layers[[i]], m2_in, mean_in, "mean_field")
      st <- residual_cv2_step(layers[[i]], fw, m2_in - mean_in^2, mean_in, pz[i])
      ps[i] <- st$ps
      pz[i + 1] <- st$pz
      back[i] <- st$back
      r[i] <- 1    # the output derivative: 1, or 1 / r after a post-normalization (below)
      next
    }
    a <- net$activation[[i]]
    q <- mf$var_s[i]
    mu <- mf$mean_s[i]
    ex <- function(g) tryCatch(normal_expectation(g, sqrt(q), mu, kinks = a$kinks),
                               error = function(e) NA_real_)
    m2 <- ex(function(x) a$f(x)^2)
    m4 <- ex(function(x) a$f(x)^4)
    d2 <- ex(function(x) a$df(x)^2)
    d4 <- ex(function(x) a$df(x)^4)
    k <- if (isTRUE(m2 > 0)) m4 / m2^2 - 1 else 2
    ps[i] <- pz[i] * (1 + 2 / w[i + 1])
    pz[i + 1] <- pz[i] * (1 + k / w[i + 1])
    r[i] <- if (isTRUE(d2 > 0)) d4 / d2^2 else 1
  }
  pg <- numeric(d)
  pg[d] <- 1 + 2 / (w[d + 1] * inputs)   # the output gradient, drawn per example
  if (d > 1) {
    for (i in (d - 1):1) {
      if (layers[[i + 1]]$kind == "dense") {
        pg[i] <- pg[i + 1] * (1 + (3 * r[i] - 1) / w[i + 1])
      } else {
        pg[i] <- pg[i + 1] * back[i + 1] *
          (if (layers[[i]]$kind == "dense") 1 + (3 * r[i] - 1) / w[i + 1] else 1) *
          (if (layers[[i]]$kind == "residual" && layers[[i]]$norm == "post") ps[i] else 1)
      }
      if (layers[[i + 1]]$kind == "dense" && layers[[i]]$kind == "residual" &&
          layers[[i]]$norm == "post") {
        pg[i] <- pg[i] * ps[i]
      }
    }
  }
  out <- rbind(ps, pz[-1], pg, pz[-(d + 1)] * pg) - 1
  out[!is.finite(out)] <- NA
  out
}

# Everything network `network` (0-based) of a simulation draws and computes:
# list(X, W, b, s, z, g), for tests against a plain-R reference.
network_trace <- function(net, inputs = 8, input = "normal", var_x = 1,
                          grad = "normal", var_grad = 1, network = 0) {
  X <- NULL
  if (is.matrix(input)) { X <- input; inputs <- nrow(X); input <- "matrix" }
  setup <- sim_setup(net, inputs, input, var_x, X, grad, var_grad, 10)
  .Call(C_test_network_trace, setup$spec, network)
}

# Histogram ranges per layer for z, dC/ds and dC/dW, from the mean-field
# prediction (fixed before the run, so blocks merge exactly).
histogram_ranges <- function(net, mf) {
  d <- length(net$widths) - 1
  out <- array(0, c(2, 3, d))
  sym <- function(v, k) {
    s <- sqrt(max(v, 0))
    if (is.finite(s) && s > 0) c(-k * s, k * s) else c(-1, 1)
  }
  layers <- net_layers(net)
  for (i in seq_len(d)) {
    a <- net$activation[[i]]
    if (layers[[i]]$kind != "dense") a <- list(name = "")   # a block's output is not f's
    out[, 1, i] <- switch(a$name,
      tanh = , softsign = c(-1, 1), sigmoid = c(0, 1),
      scaled_tanh = c(-1.7159, 1.7159),
      if (is.null(mf)) c(-1, 1) else mf$mean_z[i] + sym(mf$var_z[i], 6))
    out[, 2, i] <- if (is.null(mf)) c(-1, 1) else sym(mf$var_grad_s[i], 6)
    out[, 3, i] <- if (is.null(mf)) c(-1, 1) else sym(mf$var_grad_w[i], 10)
  }
  out
}

# The least number of networks for any interval, and the number needed per
# unit of squared skewness of a network's contribution (see "Intervals" in
# ?simulate_network and tests/testthat/test-calibration.R).
sim_min_networks <- 20
sim_networks_per_skew2 <- 10

#' @export
as.data.frame.initvar_simulation <- function(x, row.names = NULL, optional = FALSE, ...) {
  d <- dim(x$acc)[3]
  acc <- block_acc(as.vector(x$acc), d)
  pred <- x$prediction[[x$regime]]
  J <- x$networks
  # the engine accumulated values divided by x$scale (powers of 2): moments
  # are computed on that scale and scaled back
  vs <- engine_var_scale(x$scale)
  if (is.null(vs)) vs <- matrix(1, n_quantities, d)
  rows <- list()
  for (i in seq_len(d)) {
    for (k in match(variance_quantities, quantity_table$name)) {
      qn <- quantity_table$name[k]
      a <- acc[, k, i]
      n <- a[["n"]]
      est <- a[["M2"]] / n
      # delta method on the network-level (a_j, b_j): Var = mean(b) - mean(a)^2
      S <- matrix(c(a[["C_aa"]], a[["C_ab"]], a[["C_ab"]], a[["C_bb"]]), 2) / (J - 1)
      g <- c(-2 * a[["mean_a"]], 1)
      mcse <- sqrt(max(drop(crossprod(g, S %*% g)), 0) / J)
      sc <- vs[k, i]
      p <- if (is.null(pred)) NA_real_ else pred[[quantity_prediction[[qn]]]][i]
      across <- qn != "grad_w"
      rows[[length(rows) + 1]] <- data.frame(
        layer = i, quantity = qn, prediction = p, estimate = est * sc,
        mcse = mcse * sc,
        mean = a[["mean"]] * sqrt(sc),
        kurtosis = if (isTRUE(a[["M2"]] > 0)) n * a[["M4"]] / a[["M2"]]^2 else NA_real_,
        across_mean = if (across) a[["mean_e"]] * sc else NA_real_,
        across_sd = if (across && J > 1) sqrt(a[["M2_e"]] / (J - 1)) * sc else NA_real_,
        stringsAsFactors = FALSE)
    }
  }
  out <- do.call(rbind, rows)
  cv2 <- if (!is.null(x$cv2)) as.vector(x$cv2) else NULL
  out <- cbind(out, sim_intervals(out$estimate, out$mcse, out$prediction, J, x$level, cv2))
  out <- out[, c("layer", "quantity", "prediction", "estimate", "mcse", "lower", "upper",
                 "z", "p_value", "consistent", "networks_needed", "mean", "kurtosis",
                 "across_mean", "across_sd")]
  out$quantity <- factor(out$quantity, levels = variance_quantities)
  out[order(out$quantity, out$layer), , drop = FALSE] -> out
  rownames(out) <- NULL
  out
}

# Intervals and verdicts for per-layer variances estimated from J networks
# (see "Intervals and verdicts" in ?simulate_network): on the log scale,
# Student's t with J - 1 df, est * exp(+-t mcse / est), and only for rows
# where J >= max(sim_min_networks, sim_networks_per_skew2 * skew2), skew2
# the squared skewness of a log-normal with the predicted relative variance
# cv2 of a network's contribution; other rows get NA, and `networks_needed`.
# An estimate of exactly 0 (every network dead) with MCSE 0 agrees only with
# a prediction of 0.
sim_intervals <- function(est, mcse, pred, J, level, cv2 = NULL) {
  # the predicted spread decides, not the estimated one: a rule that looks at
  # the same draws would report the rows whose spread it underestimated
  est_cv2 <- J * (mcse / est)^2
  if (is.null(cv2)) cv2 <- est_cv2
  cv2[is.na(cv2)] <- est_cv2[is.na(cv2)]
  # squared skewness of a log-normal with relative variance cv2: the
  # network's contribution is a product of per-layer factors
  skew2 <- (cv2 + 3)^2 * cv2
  needed <- ceiling(pmax(sim_min_networks, sim_networks_per_skew2 * skew2))
  needed[est == 0 & mcse == 0] <- sim_min_networks
  ok <- is.finite(est) & is.finite(mcse) & !is.na(needed) & J >= needed
  pos <- est > 0 & mcse > 0
  ag_log <- agreement(log(est), mcse / est, log(pred), df = J - 1, interval_level = level)
  ag_lin <- agreement(est, mcse, pred, df = J - 1, interval_level = level)
  use_log <- pos & !is.na(pred) & pred > 0
  z <- ifelse(use_log, ag_log$z, ag_lin$z)
  pv <- ifelse(use_log, ag_log$p_value, ag_lin$p_value)
  lower <- ifelse(pos, exp(ag_log$lower), ag_lin$lower)
  upper <- ifelse(pos, exp(ag_log$upper), ag_lin$upper)
  cons <- pv > 1 - verdict_level
  na <- !ok
  lower[na] <- upper[na] <- z[na] <- pv[na] <- NA
  cons[na | is.na(pred)] <- NA
  data.frame(lower = lower, upper = upper, z = z, p_value = pv, consistent = cons,
             networks_needed = ifelse(ok, NA_real_, needed))
}

#' @export
summary.initvar_simulation <- function(object, ...) {
  df <- as.data.frame(object)
  rows <- lapply(split(df, df$quantity, drop = TRUE), function(s) {
    ratio <- s$estimate / s$prediction
    data.frame(quantity = as.character(s$quantity[1]), layers = nrow(s),
               agree = sum(s$consistent %in% TRUE), disagree = sum(s$consistent %in% FALSE),
               no_verdict = sum(is.na(s$consistent)),
               max_abs_z = if (any(is.finite(s$z))) max(abs(s$z), na.rm = TRUE) else NA_real_,
               ratio_min = if (any(is.finite(ratio))) min(ratio[is.finite(ratio)]) else NA_real_,
               ratio_max = if (any(is.finite(ratio))) max(ratio[is.finite(ratio)]) else NA_real_,
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("summary.initvar_simulation", "data.frame"),
            networks = object$networks, inputs = object$inputs, regime = object$regime,
            level = verdict_level)
}

#' @export
print.summary.initvar_simulation <- function(x, digits = 3, ...) {
  cat(sprintf("<initvar simulation summary> %d networks x %d inputs; %s prediction; verdicts at level %s\n",
              attr(x, "networks"), attr(x, "inputs"), sub("_", "-", attr(x, "regime")),
              format(attr(x, "level"))))
  tab <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  tab$quantity <- vapply(tab$quantity, function(q) paste0("Var(", quantities[[q]], ")"), "")
  for (v in c("max_abs_z", "ratio_min", "ratio_max")) tab[[v]] <- signif(tab[[v]], digits)
  print(tab, row.names = FALSE)
  cat("ratio: simulated / predicted, over the layers; the full table: as.data.frame()\n")
  invisible(x)
}

# The family-wise reading of a simulation's verdicts: with many rows, a
# true prediction is flagged in about 1 row in 100 by chance, so the
# printout says how many flags chance alone would give and Holm's verdict
# over the rows (the same rule as verify_all()).
family_verdict_text <- function(p, regime, level = verdict_level) {
  m <- length(p)
  if (m == 0) return(character())
  flagged <- sum(p <= 1 - level)
  holm_ok <- all(stats::p.adjust(p, "holm") > 1 - level)
  out <- strwrap(sprintf(paste(
    "%d of %d %s flagged (NO); if every prediction held, chance alone would flag",
    "about %s. Family-wise (Holm over the %s, level %s): %s."),
    flagged, m, if (m == 1) "row" else "rows", format(signif(m * (1 - level), 2)),
    if (m == 1) "1 row" else paste(m, "rows"), format(level),
    if (holm_ok) "consistent, no row is flagged after adjusting for the number of rows"
    else "NOT consistent, some rows are flagged after adjusting for the number of rows"))
  if (identical(regime, "mean_field")) {
    out <- c(out, strwrap(paste(
      "The mean-field prediction is exact at infinite width; at width n it is off by",
      "O(1/n), which many networks can detect (predict_variance(regime = \"finite_width\"))."
    )))
  }
  out
}

#' @export
print.initvar_simulation <- function(x, digits = 3, ...) {
  w <- x$net$widths
  cat(sprintf("<initvar simulation> %d networks x %d inputs; %.1f s\n",
              x$networks, x$inputs, x$seconds))
  cat_para("network: ", paste(w, collapse = "-"))
  cat(sprintf("  inputs: %s, Var(x) = %s; output gradient: %s\n  prediction: %s regime\n",
              x$input, format(x$var_x, digits = 4), x$grad, x$regime))
  cat(sprintf(paste0("  MCSE from %d independent networks; z on the log scale (t, %d df)\n",
                     "  agrees: a test at level %s, row by row\n",
                     "  (as.data.frame()'s intervals are at level %s)\n\n"),
              x$networks, x$networks - 1, format(verdict_level), format(x$level)))
  why <- x$no_prediction[[x$regime]]
  if (!is.null(why)) {
    cat(strwrap(paste0("No ", sub("_", "-", x$regime), " prediction: ", why),
                indent = 2, exdent = 4), sep = "\n")
    cat("\n")
  }
  df <- as.data.frame(x)
  f <- function(v) formatC(v, digits = digits, format = "g")
  for (qn in levels(df$quantity)) {
    s <- df[df$quantity == qn, ]
    cat("Var(", quantities[[qn]], ")\n", sep = "")
    tab <- data.frame(layer = s$layer, predicted = f(s$prediction), simulated = f(s$estimate),
                      mcse = formatC(s$mcse, digits = 2, format = "g"),
                      z = ifelse(is.na(s$z), "-", formatC(s$z, digits = 2, format = "f")),
                      agrees = ifelse(is.na(s$consistent), ifelse(is.na(s$networks_needed), "-", "?"),
                                      ifelse(s$consistent, "yes", "NO")))
    print(tab, row.names = FALSE, right = TRUE)
    cat("\n")
  }
  cat(family_verdict_text(df$p_value[!is.na(df$consistent)], x$regime), sep = "\n")
  if (any(!is.na(df$networks_needed))) {
    cat(strwrap(sprintf(paste(
      "?: too few networks for a calibrated interval (a network's contribution varies too much:",
      "narrow, deep layers); those rows need up to %s networks."),
      format(max(df$networks_needed, na.rm = TRUE), big.mark = ",", scientific = FALSE))), sep = "\n")
  }
  invisible(x)
}
