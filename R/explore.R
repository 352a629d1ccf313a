# Explorations used by the vignettes: several simulations on one plot, the
# across-neuron spread against width, and where the linear regime ends.

#' Per-layer variance of several simulations on one plot
#'
#' Draws, on one log-scale panel, the simulated per-layer variance of one
#' quantity for several [simulate_network()] results (points with confidence
#' intervals) and their predictions (lines: solid mean-field, dashed linear
#' regime), for instance the same network under several initializations.
#'
#' @param sims A named list of `initvar_simulation` objects; the names label
#'   the legend.
#' @param quantity One of `"s"`, `"z"`, `"grad_s"`, `"grad_w"`.
#' @param regime Which prediction to draw: `"mean_field"`, `"linear"`,
#'   `"both"` or `"none"`.
#' @param main Title.
#' @param col Colours, one per simulation.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, a data frame of what was drawn (`label` plus the
#'   columns of `as.data.frame()` of each simulation).
#' @examples
#' set.seed(1)
#' w <- rep(64, 8)
#' twice <- init_variance_scaling(4, "fan_in", "normal")
#' sims <- list(
#'   "sd = 1/sqrt(n)" = simulate_network(mlp(w, "linear", init_lecun()), 10, 16),
#'   "sd = 2/sqrt(n)" = simulate_network(mlp(w, "linear", twice), 10, 16))
#' plot_simulations(sims, "z")
#' @export
plot_simulations <- function(sims, quantity = "z", regime = c("both", "mean_field", "linear", "none"),
                             main = NULL, col = NULL, ...) {
  if (!is.list(sims) || length(sims) == 0 || is.null(names(sims)) ||
      !all(vapply(sims, inherits, TRUE, "initvar_simulation"))) {
    abort_arg("sims", "a named list of simulations from `simulate_network()`", sims)
  }
  quantity <- check_choice(quantity, names(quantity_titles), "quantity")
  regime <- check_choice(regime, c("both", "mean_field", "linear", "none"), "regime")
  if (is.null(col)) col <- grDevices::hcl.colors(max(length(sims), 2), "Dark 3")[seq_along(sims)]
  pcol <- quantity_prediction[[quantity]]
  rows <- lapply(names(sims), function(nm) {
    df <- as.data.frame(sims[[nm]])
    df <- df[df$quantity == quantity, ]
    df$label <- nm
    df$linear <- if (is.null(sims[[nm]]$prediction$linear)) NA else sims[[nm]]$prediction$linear[[pcol]]
    df$mean_field <- if (is.null(sims[[nm]]$prediction$mean_field)) NA else
      sims[[nm]]$prediction$mean_field[[pcol]]
    df
  })
  all <- do.call(rbind, rows)
  vals <- c(all$estimate, all$upper, all$lower[all$lower > 0],
            if (regime %in% c("both", "linear")) all$linear,
            if (regime %in% c("both", "mean_field")) all$mean_field)
  vals <- vals[is.finite(vals) & vals > 0]
  ylim <- range(vals)
  ylim[1] <- ylim[1] / (ylim[2] / ylim[1])^0.25
  if (is.null(main)) main <- paste0("Var(", quantity_titles[[quantity]], ") by layer")
  graphics::plot(NA, xlim = range(all$layer) + c(-0.2, 0.2), ylim = ylim, log = "y",
                 xlab = "layer", ylab = "variance (log scale)", main = main, ...)
  for (k in seq_along(rows)) {
    r <- rows[[k]]
    if (regime %in% c("both", "mean_field")) graphics::lines(r$layer, r$mean_field, col = col[k], lwd = 2)
    if (regime %in% c("both", "linear")) graphics::lines(r$layer, r$linear, col = col[k], lty = 2)
    graphics::segments(r$layer, pmax(r$lower, ylim[1]), r$layer, r$upper, col = col[k])
    graphics::points(r$layer, r$estimate, pch = 19, col = col[k])
  }
  leg_extra <- c("simulated (points, intervals)",
                 if (regime %in% c("both", "mean_field")) "mean-field prediction",
                 if (regime %in% c("both", "linear")) "linear-regime prediction")
  graphics::legend("bottomleft", bty = "n", cex = 0.75, ncol = 2,
                   legend = c(names(sims), leg_extra),
                   col = c(col, rep("black", length(leg_extra))),
                   lty = c(rep(1, length(sims)), NA,
                           if (regime %in% c("both", "mean_field")) 1,
                           if (regime %in% c("both", "linear")) 2),
                   lwd = c(rep(4, length(sims)), NA,
                           if (regime %in% c("both", "mean_field")) 2,
                           if (regime %in% c("both", "linear")) 1),
                   pch = c(rep(NA, length(sims)), 19,
                           if (regime %in% c("both", "mean_field")) NA,
                           if (regime %in% c("both", "linear")) NA))
  invisible(all)
}

#' The two meanings of Var(z) as the width grows
#'
#' For each width, simulates a square network and compares, at one layer,
#' the ensemble variance of an activation (one neuron, over the randomness
#' of weights and inputs: Glorot and Bengio's \eqn{Var(z^i)}) with the
#' empirical variance across the neurons of the layer for one network and
#' one input, and its spread from network to network. The spread shrinks
#' like \eqn{1/\sqrt{width}}: for a wide layer the two meanings agree.
#'
#' @param widths Widths to try.
#' @param depth Number of layers.
#' @param layer Which layer to look at (default: the last).
#' @param activation,init As in [mlp()].
#' @param networks,inputs As in [simulate_network()].
#' @param quantity `"z"` (activations) or `"s"` (pre-activations).
#' @param progress Show a progress bar (cli) over the widths.
#' @param future `TRUE` to run each width's blocks of networks on the
#'   workers of the current `future::plan()`, as in [simulate_network()]:
#'   the result is identical to a sequential run with the same seed.
#' @section On a cluster:
#' With `future = TRUE`, the sweep's simulations run wherever
#' `future::plan()` points, a Slurm cluster included, through the
#' future.batchtools package. On a machine that submits Slurm jobs, with a
#' registry folder that every node sees (here `~/.future`) and the
#' template shipped with the package,
#' `system.file("batchtools", "batchtools.slurm.tmpl", package = "initvar")`
#' (copy it and set the partition, time and memory your site wants):
#' \preformatted{
#' options(future.cache.path = "~/.future")
#' future::plan(future.batchtools::batchtools_slurm,
#'              template = system.file("batchtools", "batchtools.slurm.tmpl",
#'                                     package = "initvar"),
#'              resources = list(ncpus = 1, memory = "2G", walltime = "00:30:00"))
#' set.seed(1)
#' sw <- width_sweep(2^(3:10), depth = 10, networks = 800, future = TRUE)
#' }
#' Each round of up to 16 blocks of 8 networks is one set of Slurm jobs;
#' the sweep equals `width_sweep(..., future = FALSE)` with the same seed,
#' bit for bit. `future.batchtools::batchtools_local` runs the same jobs on
#' the local machine, to try it first.
#' @return A data frame of class `initvar_width_sweep`: `width`, `ensemble`
#'   (estimate), `ensemble_mcse`, `prediction` (mean field), `across_mean`
#'   and `across_sd` (mean and standard deviation over networks of a
#'   network's across-neuron variance, averaged over its `inputs` inputs:
#'   with more inputs per network the spread is smaller),
#'   `relative_spread = across_sd / ensemble`, and `networks`, the networks
#'   behind the row. `plot()` draws the spread against width.
#'
#'   Interrupted (Ctrl-C), it keeps every width finished and the width in
#'   progress: the interrupt's `partial` field (and [last_partial()]) is the
#'   data frame of those widths, the last one's row from the blocks of 8
#'   networks done (see `networks`), with that partial simulation in
#'   `attr(, "in_progress")` (continue it with [simulate_network()]'s
#'   `resume`) and the widths asked for in `attr(, "widths_requested")`.
#' @examples
#' set.seed(1)
#' sw <- width_sweep(c(16, 64, 256), depth = 3, networks = 10, inputs = 4)
#' sw
#' plot(sw)
#' @export
width_sweep <- function(widths = c(8, 32, 128, 512), depth = 3, layer = depth,
                        activation = "tanh", init = init_glorot(), networks = 50,
                        inputs = 8, quantity = c("z", "s"), progress = interactive(),
                        future = FALSE) {
  check_future(future)
  if (!is.numeric(widths) || length(widths) < 1 || anyNA(widths) || any(widths < 2) ||
      any(widths != round(widths))) {
    abort_arg("widths", "a vector of whole numbers >= 2", widths)
  }
  check_whole(depth, "depth", max = 1000)
  check_whole(layer, "layer", max = depth)
  quantity <- check_choice(quantity, c("z", "s"), "quantity")
  bar <- progress_bar(progress, length(widths), "width_sweep")
  row <- function(w, sim) {
    df <- as.data.frame(sim)
    r <- df[df$quantity == quantity & df$layer == layer, ]
    data.frame(width = w, ensemble = r$estimate, ensemble_mcse = r$mcse, prediction = r$prediction,
               across_mean = r$across_mean, across_sd = r$across_sd,
               relative_spread = r$across_sd / r$estimate, networks = sim$networks)
  }
  result <- function(rows) {
    out <- do.call(rbind, rows)
    attr(out, "layer") <- layer
    attr(out, "quantity") <- quantity
    class(out) <- c("initvar_width_sweep", "data.frame")
    out
  }
  # Ctrl-C: every width finished is kept, and the partial simulation of the
  # width in progress (its row from the networks done, and the simulation
  # itself in attr(, "in_progress"), to continue with `resume =`)
  rows <- list()
  in_progress <- NULL
  interrupted <- tryCatch({
    for (k in seq_along(widths)) {
      w <- widths[k]
      sim <- tryCatch(simulate_network(mlp(rep(w, depth + 1), activation, init),
                                       networks = networks, inputs = inputs, progress = FALSE,
                                       future = future),
                      initvar_interrupt = function(e) e)
      if (inherits(sim, "initvar_interrupt")) {
        in_progress <- sim$partial
        break
      }
      rows[[k]] <- row(w, sim)
      progress_set(bar, k)
    }
    length(rows) < length(widths)
  }, interrupt = function(e) TRUE)
  if (interrupted) {
    if (!is.null(in_progress)) rows[[length(rows) + 1]] <- row(in_progress$net$widths[1], in_progress)
    if (length(rows) == 0) {
      raise_interrupt(NULL, sprintf("no block of 8 networks done at width %g", widths[1]))
    }
    out <- result(rows)
    attr(out, "in_progress") <- in_progress
    attr(out, "widths_requested") <- widths
    raise_interrupt(out)
  }
  result(rows)
}

#' @export
plot.initvar_width_sweep <- function(x, main = NULL, ...) {
  q <- attr(x, "quantity")
  if (is.null(main)) {
    main <- c(sprintf("Var(%s), layer %d: two meanings", q, attr(x, "layer")),
              "Spread of the across-neuron variance")
  }
  main <- rep_len(main, 2)
  lo <- pmax(x$across_mean - 2 * x$across_sd, min(x$across_mean) / 100)
  hi <- x$across_mean + 2 * x$across_sd
  op <- graphics::par(mfrow = c(1, 2))
  on.exit(graphics::par(op))
  xa <- x$width * 1.08   # side by side with the ensemble points
  yl <- range(c(lo, hi, x$ensemble, x$prediction), na.rm = TRUE)
  yl[2] <- yl[2] + 0.35 * diff(yl)   # room for the legend
  graphics::plot(xa, x$across_mean, log = "x", ylim = yl, xlim = range(c(x$width, xa)),
                 pch = 17, col = "#c0392b", xlab = "width (log scale)", ylab = "variance",
                 main = main[1], ...)
  graphics::segments(xa, lo, xa, hi, col = "#c0392b")
  if (!all(is.na(x$prediction))) graphics::lines(x$width, x$prediction, lty = 2)
  graphics::points(x$width, x$ensemble, pch = 19, col = "#1b6ca8")
  graphics::legend("top", bty = "n", cex = 0.75, col = c("#1b6ca8", "#c0392b", "black"),
                   pch = c(19, 17, NA), lty = c(NA, 1, 2),
                   legend = c("ensemble: one neuron over weights and inputs",
                              "across neurons, one network (mean +/- 2 sd)",
                              "mean-field prediction"))
  graphics::plot(x$width, x$relative_spread, log = "xy", pch = 19,
                 xlab = "width (log scale)", ylab = "sd over networks / ensemble variance",
                 main = main[2], ...)
  # least-squares line of slope -1/2 on the log-log scale
  a <- mean(log(x$relative_spread) + 0.5 * log(x$width))
  graphics::lines(x$width, exp(a - 0.5 * log(x$width)), lty = 2)
  graphics::legend("topright", bty = "n", cex = 0.75, lty = c(NA, 2), pch = c(19, NA),
                   legend = c("simulated", "c / sqrt(width), fitted"))
  invisible(x)
}

#' Where the linear regime ends: the delta method against the exact variance
#'
#' For \eqn{X \sim N(mean, sd^2)}, compares the exact \eqn{Var(f(X))}
#' (half-range Gauss-Hermite quadrature) with the delta-method
#' approximation \eqn{f'(mean)^2 sd^2} that Glorot and Bengio's linear
#' regime uses (the Q&A's step 2), over a range of input standard
#' deviations. At a kink (ReLU and its relatives at 0) the right derivative
#' is used, as Glorot and Bengio's \eqn{f'(0) = 1} would: for ReLU the ratio
#' is then \eqn{1 / (1/2 - 1/(2\pi)) = 2.93} at every scale, the linear
#' regime never holds.
#'
#' @param activation Activations: a character vector of names (see
#'   [activation()]), an R function or an `activation()`, or a list of
#'   these.
#' @param sd Input standard deviations.
#' @param mean Input mean.
#' @return A data frame of class `initvar_linear_regime`: `activation`,
#'   `sd`, `exact`, `delta`, `ratio = delta / exact`, `mean_f` (the exact
#'   \eqn{E[f(X)]}). `plot()` draws the ratio against `sd`.
#' @examples
#' lr <- linear_regime(c("tanh", "softsign", "sigmoid", "relu"))
#' head(lr)
#' plot(lr)
#' @export
linear_regime <- function(activation = c("tanh", "softsign", "sigmoid", "relu"),
                          sd = 10^seq(-2, 1, length.out = 31), mean = 0) {
  if (is.function(activation) || inherits(activation, "initvar_activation")) {
    activation <- list(activation)
  }
  if (!(is.character(activation) || is.list(activation)) || length(activation) == 0) {
    abort_arg("activation", "activation names, R functions or `activation()` objects", activation)
  }
  activation <- lapply(seq_along(activation), function(k) {
    as_activation(activation[[k]],
                  if (length(activation) == 1) "activation" else sprintf("activation[[%d]]", k))
  })
  if (!is.numeric(sd) || length(sd) == 0 || anyNA(sd) || any(!is.finite(sd)) || any(sd <= 0)) {
    abort_arg("sd", "a vector of positive finite numbers", sd)
  }
  check_number(mean)
  rows <- lapply(activation, function(act) {
    vapply(sd, function(s) {
      m1 <- normal_expectation(act$f, s, mean, kinks = act$kinks)
      ex <- normal_expectation(function(x) (act$f(x) - m1)^2, s, mean, kinks = act$kinks)
      c(exact = ex, delta = delta_derivative(act, mean)^2 * s^2, mean_f = m1)
    }, numeric(3)) -> v
    data.frame(activation = act$name, sd = sd, exact = v["exact", ], delta = v["delta", ],
               ratio = v["delta", ] / v["exact", ], mean_f = v["mean_f", ],
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  attr(out, "mean") <- mean
  class(out) <- c("initvar_linear_regime", "data.frame")
  out
}

#' @export
plot.initvar_linear_regime <- function(x, main = NULL, col = NULL, ...) {
  acts <- unique(x$activation)
  if (is.null(col)) col <- grDevices::hcl.colors(max(length(acts), 2), "Dark 3")[seq_along(acts)]
  if (is.null(main)) {
    main <- sprintf("Delta method / exact Var(f(X)), X ~ N(%s, sd^2)", format(attr(x, "mean")))
  }
  r <- x$ratio[is.finite(x$ratio) & x$ratio > 0]
  ylim <- range(c(r, 0.9, 1.1))
  graphics::plot(NA, xlim = range(x$sd), ylim = ylim, log = "xy",
                 xlab = "input standard deviation sd (log scale)",
                 ylab = "f'(mean)^2 sd^2 / Var(f(X)) (log scale)", main = main, ...)
  # the 5% band, shaded so that it shows on a log axis spanning decades
  usr <- graphics::par("usr")
  graphics::rect(10^usr[1], 0.95, 10^usr[2], 1.05, col = "#9ecae1", border = "#3182bd")
  graphics::abline(h = 1, col = "grey30")
  graphics::text(10^usr[2], 1.05, "5% band: linear regime", adj = c(1.02, -0.4), cex = 0.75,
                 col = "#3182bd")
  for (k in seq_along(acts)) {
    s <- x[x$activation == acts[k], ]
    graphics::lines(s$sd, s$ratio, col = col[k], lwd = 2)
  }
  graphics::legend("topleft", bty = "n", cex = 0.8, col = c(col, "#9ecae1"),
                   lwd = c(rep(2, length(acts)), 10), lty = 1,
                   legend = c(acts, "within 5% of 1 (the linear regime)"))
  invisible(x)
}

# f'(mean) for the delta method; at a kink (the ReLU family at 0) the right
# derivative, as Glorot and Bengio's f'(0) = 1 would have it.
delta_derivative <- function(act, mean) {
  if (mean %in% act$kinks) {
    return(act$df(mean + max(abs(mean), 1) * .Machine$double.eps))
  }
  act$df(mean)
}
