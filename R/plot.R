# Plots of simulations: variance against layer, and Glorot & Bengio's
# per-layer histograms (their figures 6-8).

# (the quantities' titles, quantity_titles and short_titles, are in
# R/codes.R)

#' Plot a network simulation
#'
#' * `type = "variance"`: per-layer variance on a log scale, simulated
#'   (points, with `level` confidence intervals) against the prediction
#'   (lines: solid for the mean-field regime, dashed for Glorot's linear
#'   regime), one colour per quantity.
#' * `type = "histogram"`: for each quantity a panel of normalized
#'   histograms, one line per layer, as in Glorot and Bengio's figures 6
#'   (activations), 7 (back-propagated gradients) and 8 (weight gradients).
#'   Weight gradients are those of the first input of each network. Values
#'   outside the fixed bins (set from the prediction before the run) are
#'   counted and reported in the axis label; the x axis covers all but 1%
#'   of the in-bin values of every layer (pass `xlim` to choose it).
#' * `type = "across"`: per layer, the ensemble variance of the activations
#'   (over weights and inputs) against the across-neuron variance of one
#'   network for one input, with the spread of the latter across networks.
#'
#' @param x An `initvar_simulation` from [simulate_network()].
#' @param type `"variance"`, `"histogram"` or `"across"`.
#' @param quantity Which quantities: any of `"s"`, `"z"`, `"grad_s"`,
#'   `"grad_w"`.
#' @param layers Which layers to draw (histograms and across-neuron plots);
#'   all by default.
#' @param main Title; a sensible one by default.
#' @param col Colours (one per quantity, or per layer for histograms).
#' @param legend Draw a legend.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, the data drawn: a data frame (`"variance"`,
#'   `"across"`) or a list of data frames, one per quantity
#'   (`"histogram"`), with columns `layer`, `x` (bin mid-point) and
#'   `density`.
#' @examples
#' set.seed(1)
#' sim <- simulate_network(mlp(c(100, rep(100, 4)), "tanh", init_glorot_standard()),
#'                         networks = 10, inputs = 32)
#' plot(sim)
#' plot(sim, type = "histogram", quantity = "z")
#' plot(sim, type = "across")
#' @export
plot.initvar_simulation <- function(x, type = c("variance", "histogram", "across"),
                                    quantity = NULL, layers = NULL, main = NULL,
                                    col = NULL, legend = TRUE, ...) {
  type <- check_choice(type, c("variance", "histogram", "across"), "type")
  ok <- names(quantity_titles)
  if (!is.null(quantity) && (!is.character(quantity) || !all(quantity %in% ok) ||
                             length(quantity) == 0)) {
    abort_arg("quantity", paste0("a subset of ", paste0("\"", ok, "\"", collapse = ", ")),
              quantity)
  }
  d <- dim(x$acc)[3]
  # histograms of the hidden layers by default: the output layer's spread
  # (a softmax's, a read-out's) would squash them, as in Glorot's figures
  if (is.null(layers)) layers <- if (type == "histogram" && d > 1) seq_len(d - 1) else seq_len(d)
  if (!is.numeric(layers) || length(layers) == 0 || anyNA(layers) ||
      any(!layers %in% seq_len(d))) {
    abort_arg("layers", sprintf("a vector of layer numbers between 1 and %d", d), layers)
  }
  switch(type,
    variance = plot_variance(x, if (is.null(quantity)) c("z", "grad_s", "grad_w") else quantity,
                             main, col, legend, ...),
    histogram = plot_histograms(x, if (is.null(quantity)) c("z", "grad_s", "grad_w") else quantity,
                                layers, main, col, legend, ...),
    across = plot_across(x, if (is.null(quantity)) "z" else quantity[1], main, col, legend, ...))
}

plot_variance <- function(x, quantity, main, col, legend, ...) {
  df <- as.data.frame(x)
  df <- df[df$quantity %in% quantity, ]
  d <- max(df$layer)
  if (is.null(col)) col <- c("#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad")[seq_along(quantity)]
  lin <- x$prediction$linear
  mf <- x$prediction$mean_field
  pcol <- quantity_prediction
  vals <- c(df$lower[df$lower > 0], df$upper, df$estimate,
            if (!is.null(mf)) unlist(mf[pcol[quantity]]),
            if (!is.null(lin)) unlist(lin[pcol[quantity]]))
  vals <- vals[is.finite(vals) & vals > 0]
  if (is.null(main)) {
    main <- sprintf("Per-layer variance: %d networks x %d inputs", x$networks, x$inputs)
  }
  # room below the data for the legend
  ylim <- range(vals)
  if (legend) ylim[1] <- ylim[1] / (ylim[2] / ylim[1])^0.5
  graphics::plot(NA, xlim = c(0.8, d + 0.2), ylim = ylim, log = "y",
                 xlab = "layer i (output z^i of weights W^(i-1))", ylab = "variance (log scale)",
                 main = main, xaxt = "n", ...)
  graphics::axis(1, at = seq_len(d))
  for (k in seq_along(quantity)) {
    q <- quantity[k]
    r <- df[df$quantity == q, ]
    if (!is.null(mf)) graphics::lines(r$layer, mf[[pcol[[q]]]], col = col[k], lwd = 2)
    if (!is.null(lin)) graphics::lines(r$layer, lin[[pcol[[q]]]], col = col[k], lty = 2)
    lo <- pmax(r$lower, min(vals))
    graphics::segments(r$layer, lo, r$layer, r$upper, col = col[k])
    graphics::points(r$layer, r$estimate, pch = 19, col = col[k])
  }
  # label lines that lie on top of each other (Glorot's eqs. 6 and 7 agree
  # wherever Var(z) = 1), so that no prediction hides another
  for (reg in c("linear", "mean_field")) {
    pr <- x$prediction[[reg]]
    if (is.null(pr) || length(quantity) < 2) next
    for (a in seq_along(quantity)) for (b in seq_along(quantity)) {
      if (b <= a) next
      va <- pr[[pcol[[quantity[a]]]]]
      vb <- pr[[pcol[[quantity[b]]]]]
      same <- abs(va - vb) <= 1e-9 * pmax(abs(va), abs(vb))
      if (sum(same, na.rm = TRUE) >= 2) {
        run <- which(same)
        i <- run[ceiling(length(run) / 2)]
        graphics::text(i, va[i], pos = 3, cex = 0.8, offset = 0.6, xpd = TRUE,
                       labels = sprintf("%s: %s = %s", if (reg == "linear") "linear" else "mean field",
                                        short_titles[[quantity[a]]], short_titles[[quantity[b]]]))
      }
    }
  }
  if (legend) {
    graphics::legend("bottom", bty = "n", cex = 0.85, ncol = 2,
                     legend = c(paste0("Var(", short_titles[quantity], ")"),
                                "simulated", "mean field", "linear (eqs. 5-7)"),
                     col = c(col, "black", "black", "black"),
                     pch = c(rep(NA, length(quantity)), 19, NA, NA),
                     lty = c(rep(1, length(quantity)), NA, 1, 2),
                     lwd = c(rep(4, length(quantity)), NA, 2, 1))
  }
  invisible(df)
}

histogram_data <- function(x, q) {
  k <- match(q, c("z", "grad_s", "grad_w"))
  d <- dim(x$hist)[3]
  nb <- dim(x$hist)[1] - 2
  lapply(seq_len(d), function(i) {
    h <- x$hist[, k, i]
    r <- x$hrange[, k, i]
    width <- (r[2] - r[1]) / nb
    mids <- r[1] + (seq_len(nb) - 0.5) * width
    data.frame(layer = i, x = mids, density = h[2:(nb + 1)] / (sum(h) * width),
               outside = (h[1] + h[nb + 2]) / sum(h))
  })
}

# The x range holding all but 1% of the in-bin mass of every layer,
# symmetric about 0 when the data straddle it, padded by 5%.
histogram_fit_range <- function(hd) {
  lims <- vapply(hd, function(h) {
    w <- h$density / sum(h$density)
    cw <- cumsum(w)
    if (!any(w > 0)) return(range(h$x))
    c(h$x[which(cw >= 0.005)[1]], h$x[which(cw >= 0.995)[1]])
  }, numeric(2))
  r <- c(min(lims[1, ]), max(lims[2, ]))
  if (r[1] < 0 && r[2] > 0) r <- c(-1, 1) * max(abs(r))
  step <- diff(hd[[1]]$x[1:2])
  r + c(-1, 1) * max(0.05 * diff(r), step)
}

plot_histograms <- function(x, quantity, layers, main, col, legend, xlim = NULL, ...) {
  quantity <- intersect(quantity, c("z", "grad_s", "grad_w"))
  if (length(quantity) == 0) {
    abort_arg("quantity", "one or more of \"z\", \"grad_s\", \"grad_w\" for histograms", quantity)
  }
  if (length(quantity) > 1) {
    op <- graphics::par(mfrow = c(1, length(quantity)))
    on.exit(graphics::par(op))
  }
  if (is.null(col)) col <- grDevices::hcl.colors(max(layers), "Dark 3")[layers]
  fig <- c(z = "fig. 6", grad_s = "fig. 7", grad_w = "fig. 8")
  out <- list()
  for (q in quantity) {
    hd <- histogram_data(x, q)[layers]
    ymax <- max(vapply(hd, function(h) max(h$density), 0))
    xr <- if (!is.null(xlim)) xlim else histogram_fit_range(hd)
    ttl <- if (is.null(main)) sprintf("Histograms: %s\n(Glorot & Bengio %s)",
                                      short_titles[[q]], fig[[q]]) else main
    outside <- max(vapply(hd, function(h) h$outside[1], 0))
    xlab <- quantity_titles[[q]]
    if (outside > 0) xlab <- sprintf("%s (<= %.2g%% outside bins)", short_titles[[q]], 100 * outside)
    graphics::plot(NA, xlim = xr, ylim = c(0, ymax), main = ttl, xlab = xlab,
                   ylab = "density", ...)
    for (k in seq_along(hd)) graphics::lines(hd[[k]]$x, hd[[k]]$density, col = col[k], lwd = 1.5)
    if (legend) {
      sym <- switch(q, z = sprintf("z^%d", layers), grad_s = sprintf("dC/ds^%d", layers - 1),
                    grad_w = sprintf("dC/dW^%d", layers - 1))
      graphics::legend("topright", legend = sprintf("layer %d: %s", layers, sym), col = col,
                       lwd = 1.5, bty = "n", cex = 0.8)
    }
    out[[q]] <- do.call(rbind, hd)
  }
  invisible(out)
}

plot_across <- function(x, quantity, main, col, legend, ...) {
  if (!quantity %in% c("s", "z", "grad_s")) {
    abort_arg("quantity", "\"s\", \"z\" or \"grad_s\" for the across-neuron variance", quantity)
  }
  df <- as.data.frame(x)
  r <- df[df$quantity == quantity, ]
  if (is.null(col)) col <- c("#1b6ca8", "#c0392b")
  lo <- pmax(r$across_mean - 2 * r$across_sd, 0)
  hi <- r$across_mean + 2 * r$across_sd
  if (is.null(main)) {
    w <- x$net$widths
    hidden <- if (length(w) > 2) unique(w[-c(1, length(w))]) else w[2]
    main <- sprintf("Two meanings of Var(%s), width %s", quantity, paste(hidden, collapse = "/"))
  }
  graphics::plot(NA, xlim = c(0.8, max(r$layer) + 0.2),
                 ylim = range(c(lo, hi, r$estimate, r$prediction), na.rm = TRUE),
                 xlab = "layer", ylab = "variance", main = main, xaxt = "n", ...)
  graphics::axis(1, at = r$layer)
  graphics::segments(r$layer + 0.08, lo, r$layer + 0.08, hi, col = col[2])
  graphics::points(r$layer + 0.08, r$across_mean, pch = 17, col = col[2])
  graphics::points(r$layer - 0.08, r$estimate, pch = 19, col = col[1])
  if (legend) {
    graphics::legend("topright", bty = "n", cex = 0.8, col = col, pch = c(19, 17), lty = c(NA, 1),
                     legend = c("ensemble: one neuron, over weights and inputs",
                                "across neurons of one network (mean +/- 2 sd)"))
  }
  invisible(r)
}
