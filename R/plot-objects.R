# plot() methods for the package's objects: networks, schemes, activations,
# verifications, scheme comparisons and variance predictions; and tidy
# as.data.frame() methods.

#' Draw a network, a scheme or an activation
#'
#' * A network ([mlp()]): one box per layer of units, its height growing
#'   with the log of the width, labelled with the width; between boxes the
#'   weights \eqn{W^{i-1}} (scheme and exact \eqn{Var(W)}) and the
#'   activation, numbered as the rows of [predict_variance()].
#' * A network with blocks ([resmlp()], [transformer()], or any network
#'   whose layers are not all dense): one column per layer, each block drawn
#'   with what is inside it: a residual block's branch units (width in and
#'   out, activation, scheme), an attention sublayer's projections (heads,
#'   \eqn{d_k}, causal or cross), the layer normalization before the branch
#'   (pre-LN) or after the sum (post-LN), and the skip connection as an arc
#'   over the block, labelled with its multiplier and the branch's
#'   \eqn{\alpha}.
#' * A scheme (`init_*()`): the distribution of one weight of a
#'   `fan_in` x `fan_out` matrix: a histogram of sampled weights, the exact
#'   density where it has one (uniform, normal, truncated normal), and
#'   \eqn{\pm} one exact standard deviation \eqn{\sqrt{Var(W)}}
#'   ([weight_variance()]); the title gives the exact variance.
#' * An activation ([activation()]): \eqn{f} and \eqn{f'} over `xlim`, the
#'   kinks, and the standard normal density for scale; the title gives the
#'   second-moment gain \eqn{1 / \sqrt{E[f(Z)^2]}}.
#'
#' @param x An `initvar_mlp`, `initvar_scheme` or `initvar_activation`.
#' @param fan_in,fan_out The size of the weight matrix a scheme is drawn
#'   for (defaults: 100 inputs, as many outputs).
#' @param n Number of weights to sample for the histogram.
#' @param xlim Range of \eqn{x} for an activation.
#' @param main Title; a sensible one by default.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, the data drawn: for a network a data frame of layers
#'   (`layer`, `n_in`, `n_out`, `activation`, `weights`, `var_w`; for a
#'   network with blocks, one row per unit: `layer`, `kind`, `unit`, `n_in`,
#'   `n_out`, `activation`, `weights`, `skip`, `alpha`, `norm`); for a
#'   scheme the sampled weights; for an activation a data frame with `x`,
#'   `f`, `df`.
#' @examples
#' plot(mlp(c(784, rep(1000, 5), 10), c(rep("tanh", 5), "linear")))
#' plot(resmlp(64, depth = 3, "relu", list(init_he(), init_lecun()), branch_depth = 2))
#' plot(transformer(32, heads = 4, depth = 2, seq_len = 8))
#' set.seed(1)
#' plot(init_glorot("normal"), fan_in = 256, fan_out = 128)
#' plot(init_he("normal", convention = "tfjs"))
#' plot(activation("gelu"))
#' @name plot-objects
NULL

#' @rdname plot-objects
#' @export
plot.initvar_mlp <- function(x, main = NULL, ...) {
  kinds <- vapply(x$layers, function(l) l$kind, "")
  if (any(kinds != "dense")) return(plot_blocks(x, main, ...))
  w <- x$widths
  d <- length(w) - 1
  acts <- vapply(x$activation, format, "")
  vw <- vapply(seq_len(d), function(i) weight_variance(x$init[[i]], w[i], w[i + 1]), 0)
  labs <- vapply(x$init, function(s) s$label, "")
  h <- 0.15 + 0.55 * log10(w) / max(log10(c(w, 10)))
  if (is.null(main)) {
    r <- rle(w)
    main <- sprintf("Network: %d layer%s, widths %s", d, if (d > 1) "s" else "",
                    paste(ifelse(r$lengths > 1, paste0(r$values, "x", r$lengths), r$values),
                          collapse = "-"))
  }
  graphics::plot(NA, xlim = c(0.4, d + 1.4), ylim = c(-1.6, 1.1), axes = FALSE,
                 xlab = "", ylab = "", main = main, ...)
  cex <- if (d > 6) 0.6 else 0.8
  cols <- c("#dbe9f6", rep("#f2f2f2", max(d - 1, 0)), "#fbe3d6")
  for (j in seq_len(d + 1)) {
    graphics::rect(j - 0.18, -h[j], j + 0.18, h[j], col = cols[j], border = "grey30")
    graphics::text(j, 0, format(w[j], big.mark = ","), cex = cex, srt = if (d > 4) 90 else 0)
    graphics::text(j, -h[j] - 0.12, if (j == 1) "x = z^0" else sprintf("z^%d", j - 1), cex = cex)
  }
  graphics::arrows(seq_len(d) + 0.2, 0, seq_len(d) + 0.8, 0, length = 0.06, col = "grey40")
  graphics::text(0.4, -0.95, "Var(W):", cex = cex * 0.9, col = "#1b6ca8", adj = 0)
  same <- length(unique(labs)) == 1
  for (i in seq_len(d)) {
    graphics::text(i + 0.5, 0.95, sprintf("layer %d", i), cex = cex, font = 2)
    graphics::text(i + 0.5, 0.14, acts[i], cex = cex, col = "#c0392b")
    graphics::text(i + 0.5, -0.95, formatC(vw[i], digits = 3, format = "g"),
                   cex = cex * 0.9, col = "#1b6ca8")
    if (!same) {
      graphics::text(i + 0.5, if (i %% 2) -1.3 else -1.5, labs[i], cex = cex * 0.85, col = "#1b6ca8")
    }
  }
  if (same) graphics::text((d + 2) / 2, -1.4, sprintf("weights: %s", labs[1]), cex = cex,
                           col = "#1b6ca8")
  invisible(data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
                       activation = acts, weights = labs, var_w = vw,
                       stringsAsFactors = FALSE))
}

#' @rdname plot-objects
#' @export
plot.initvar_scheme <- function(x, fan_in = 100, fan_out = fan_in, n = 1e5, main = NULL, ...) {
  check_whole(fan_in, "fan_in")
  check_whole(fan_out, "fan_out")
  check_whole(n, "n", max = 1e8)
  v <- weight_variance(x, fan_in, fan_out)
  mu <- weight_mean(x, fan_in, fan_out)
  reps <- max(1, ceiling(n / (fan_in * fan_out)))
  draws <- unlist(lapply(seq_len(reps), function(i) sample_weights(x, fan_in, fan_out)))
  draws <- draws[seq_len(min(length(draws), n))]
  if (is.null(main)) {
    main <- sprintf("%s, %g x %g\nexact Var(W) = %s", x$label, fan_in, fan_out,
                    formatC(v, digits = 4, format = "g"))
  }
  r <- resolve_scheme(x, fan_in, fan_out)
  sd <- sqrt(v)
  dens <- family_of(r$family)$density(r)
  spread <- if (sd > 0) sd else max(abs(draws - mu), 1)
  xr <- range(c(draws, mu - 4 * spread, mu + 4 * spread))
  if (r$family %in% c("uniform", "truncated_normal")) xr <- range(draws) + c(-1, 1) * 0.6 * spread
  discrete <- length(unique(draws)) <= 3
  if (discrete) {
    tab <- table(draws) / length(draws)
    graphics::plot(as.numeric(names(tab)), as.numeric(tab), type = "h", lwd = 6, col = "grey60",
                   xlim = xr, ylim = c(0, 1), xlab = "weight value", ylab = "share of weights",
                   main = main, ...)
  } else {
    hh <- graphics::hist(draws, breaks = 60, plot = FALSE)
    ymax <- max(hh$density, if (!is.null(dens)) dens(seq(xr[1], xr[2], length.out = 400)))
    graphics::plot(hh, freq = FALSE, col = "grey88", border = "grey65", xlim = xr,
                   ylim = c(0, 1.08 * ymax), xlab = "weight value", main = main, ...)
    if (!is.null(dens)) graphics::curve(dens(x), xr[1], xr[2], n = 801, add = TRUE,
                                        col = "#1b6ca8", lwd = 2)
  }
  graphics::abline(v = mu + c(-1, 1) * sd, col = "#c0392b", lty = 2, lwd = 1.5)
  graphics::legend("topright", bty = "n", cex = 0.8,
                   legend = c(sprintf("%s sampled weights", format(length(draws), big.mark = ",")),
                              if (!is.null(dens) && !discrete) "exact density",
                              "mean +/- sqrt(exact Var(W))"),
                   col = c("grey65", if (!is.null(dens) && !discrete) "#1b6ca8", "#c0392b"),
                   lwd = c(8, if (!is.null(dens) && !discrete) 2, 1.5),
                   lty = c(1, if (!is.null(dens) && !discrete) 1, 2))
  invisible(draws)
}

#' @rdname plot-objects
#' @export
plot.initvar_activation <- function(x, xlim = c(-4, 4), main = NULL, ...) {
  if (!is.numeric(xlim) || length(xlim) != 2 || any(!is.finite(xlim)) || xlim[1] >= xlim[2]) {
    abort_arg("xlim", "two increasing finite numbers", xlim)
  }
  t <- sort(unique(c(seq(xlim[1], xlim[2], length.out = 401), x$kinks[x$kinks > xlim[1] &
                                                                       x$kinks < xlim[2]])))
  f <- x$f(t)
  df <- x$df(t)
  g <- activation_gain(x)
  if (is.null(main)) {
    main <- sprintf("Activation %s: gain 1/sqrt(E[f(Z)^2]) = %s", format(x),
                    if (is.na(g)) "undefined" else formatC(g, digits = 4, format = "f"))
  }
  phi <- stats::dnorm(t)
  yr <- range(c(f, df, 0), finite = TRUE)
  graphics::plot(NA, xlim = xlim, ylim = yr, xlab = "x (pre-activation s)", ylab = "",
                 main = main, ...)
  graphics::polygon(c(t, rev(t)), c(yr[1] + phi / max(phi) * 0.25 * diff(yr), rep(yr[1], length(t))),
                    col = "#eeeeee", border = NA)
  graphics::abline(h = 0, v = 0, col = "grey80")
  if (length(x$kinks)) graphics::abline(v = x$kinks, lty = 3, col = "grey40")
  graphics::lines(t, f, col = "#1b6ca8", lwd = 2)
  graphics::lines(t, df, col = "#c0392b", lwd = 2, lty = 2)
  graphics::legend("topleft", bty = "n", cex = 0.85,
                   legend = c("f(x)", "f'(x)", "N(0, 1) density (scaled)",
                              if (length(x$kinks)) "kink"),
                   col = c("#1b6ca8", "#c0392b", "#dddddd", if (length(x$kinks)) "grey40"),
                   lwd = c(2, 2, 8, if (length(x$kinks)) 1),
                   lty = c(1, 2, 1, if (length(x$kinks)) 3))
  invisible(data.frame(x = t, f = f, df = df))
}

# ---- forest plots -------------------------------------------------------------

# Rows: labels, estimate, lower, upper, reference (theory), ok. Draws
# (estimate - reference) / scale with its interval, scale = |reference|
# (relative deviation) or, where the reference is 0, the half-width of the
# interval (marked "*").
forest <- function(labels, estimate, lower, upper, reference, ok, main, xlab, ...) {
  k <- length(labels)
  scale <- abs(reference)
  zero <- !is.finite(scale) | scale == 0
  half <- (upper - lower) / 2
  scale[zero] <- ifelse(is.finite(half[zero]) & half[zero] > 0, half[zero], 1)
  e <- (estimate - reference) / scale
  lo <- (lower - reference) / scale
  hi <- (upper - reference) / scale
  labels <- ifelse(zero, paste0(labels, " *"), labels)
  y <- rev(seq_len(k))
  # one wild interval must not squash the others to dots: the axis spans
  # twice the third-largest reach (or all, when few rows), and what lies
  # beyond is clipped at the edge with an arrow and its value
  reach <- pmax(abs(lo), abs(hi), abs(e), na.rm = TRUE)
  reach <- reach[is.finite(reach)]
  lim <- if (length(reach) > 3) 2 * sort(reach, decreasing = TRUE)[3] else max(c(reach, 1e-6))
  lim <- max(lim, 1e-6)
  clipped <- is.finite(e) & (pmax(abs(lo), abs(hi), abs(e), na.rm = TRUE) > lim)
  xr <- range(c(pmax(pmin(c(lo, hi, e), lim), -lim), 0), finite = TRUE)
  xr <- xr + c(-1, 1) * 0.05 * max(diff(xr), 1e-6)
  clamp <- function(v) pmax(pmin(v, xr[2]), xr[1])
  op <- graphics::par(mar = c(4.5, max(6, 0.5 * max(nchar(labels))), 3.5, 1))
  on.exit(graphics::par(op))
  graphics::plot(NA, xlim = xr, ylim = c(0.5, k + 0.5), yaxt = "n", ylab = "", xlab = xlab,
                 main = main, ...)
  graphics::axis(2, at = y, labels = labels, las = 1, cex.axis = 0.75)
  graphics::abline(v = 0, col = "grey40")
  col <- ifelse(is.na(ok), "grey50", ifelse(ok, "#2e8b57", "#c0392b"))
  graphics::segments(clamp(lo), y, clamp(hi), y, col = col, lwd = 2)
  graphics::points(clamp(e), y, pch = ifelse(clipped & abs(e) > lim, NA, 19), col = col)
  for (i in which(clipped)) {
    side <- if (max(hi[i], e[i], na.rm = TRUE) > lim) 2 else 1
    from <- clamp(if (side == 2) lo[i] else hi[i])
    if (abs(from - xr[side]) < 0.04 * diff(xr)) from <- xr[side] - (if (side == 2) 1 else -1) * 0.08 * diff(xr)
    graphics::arrows(from, y[i], xr[side], y[i], length = 0.06, col = col[i], lwd = 2)
    graphics::text(xr[side], y[i] + 0.3, formatC(e[i], digits = 2, format = "g"),
                   adj = if (side == 2) 1 else 0, cex = 0.65, col = col[i])
  }
  graphics::legend("bottomright", bty = "n", cex = 0.75, pch = 19, col = c("#2e8b57", "#c0392b"),
                   legend = c("consistent with theory", "not consistent"))
  if (any(zero)) graphics::mtext("* theory is 0: deviation in interval half-widths", side = 1,
                                 line = 3.3, adj = 1, cex = 0.7)
  invisible(data.frame(label = labels, deviation = e, lower = lo, upper = hi, ok = ok,
                       clipped = clipped, stringsAsFactors = FALSE))
}

#' Forest plots of checks against theory
#'
#' Each row is one check: its Monte Carlo estimate and confidence interval
#' drawn as the deviation from the theoretical value, relative to it
#' (\eqn{(estimate - theory) / |theory|}, so 0 means agreement and 0.01 a 1%
#' excess); a row whose theoretical value is 0 is drawn in units of its
#' interval's half-width instead and marked `*`. Green rows are consistent
#' with theory (`consistent_holm` when present, after Holm's adjustment for
#' the number of checks), red ones are not.
#'
#' @param x The result of `verify_all()` (class `initvar_verifications`,
#'   with columns `id`, `estimate`, `theoretical`, `lower`, `upper`,
#'   `consistent`, optionally `dropped` and `consistent_holm`) or of
#'   [compare_schemes()].
#' @param main Title; a sensible one by default.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, the data drawn: `label`, `deviation`, `lower`, `upper`,
#'   `ok`.
#' @examples
#' set.seed(1)
#' cmp <- compare_schemes(200, 100, reps = 5)
#' plot(cmp)
#' @name plot-checks
NULL

#' @rdname plot-checks
#' @export
plot.initvar_verifications <- function(x, main = NULL, ...) {
  need <- c("id", "estimate", "theoretical", "lower", "upper", "consistent")
  if (!all(need %in% names(x))) {
    abort_arg("x", paste0("a verify_all() result with columns ", paste(need, collapse = ", ")),
              x)
  }
  lab <- as.character(x$id)
  if ("dropped" %in% names(x)) {
    dr <- as.character(x$dropped)
    lab <- ifelse(is.na(dr) | dr == "" | dr == "none", lab, paste0(lab, " (drop ", dr, ")"))
  }
  ok <- if ("consistent_holm" %in% names(x)) x$consistent_holm else x$consistent
  if (is.null(main)) main <- "Simulation against theory: the identities of the derivation"
  forest(lab, x$estimate, x$lower, x$upper, x$theoretical, as.logical(ok), main,
         "(estimate - theory) / |theory|, with confidence interval", ...)
}

#' @rdname plot-checks
#' @export
plot.initvar_scheme_comparison <- function(x, main = NULL, ...) {
  if (is.null(main)) {
    main <- sprintf("Var(W), %g x %g layer: %d matrices per scheme vs exact",
                    attr(x, "fan_in"), attr(x, "fan_out"), attr(x, "reps"))
  }
  forest(x$scheme, x$estimate, x$lower, x$upper, x$exact, x$agrees, main,
         sprintf("(estimate - exact) / exact, %g%% interval", 100 * attr(x, "level")), ...)
}

#' Tidy results of a scheme comparison
#'
#' @param x The result of [compare_schemes()].
#' @param row.names,optional Ignored (for the generic).
#' @param ... Ignored.
#' @return A plain data frame: `scheme`, `exact`, `estimate`, `mcse`,
#'   `lower`, `upper`, `z`, `p` (two-sided normal p-value of `z`; `NA`
#'   where the MCSE is 0), `agrees` and `verdict` (a sentence).
#' @examples
#' set.seed(1)
#' as.data.frame(compare_schemes(100, 50, reps = 4))[, c("scheme", "p", "verdict")]
#' @export
as.data.frame.initvar_scheme_comparison <- function(x, row.names = NULL, optional = FALSE, ...) {
  lv <- attr(x, "level")
  out <- data.frame(scheme = x$scheme, exact = x$exact, estimate = x$estimate, mcse = x$mcse,
                    lower = x$lower, upper = x$upper, z = x$z,
                    p = 2 * stats::pnorm(-abs(x$z)), agrees = x$agrees,
                    stringsAsFactors = FALSE)
  out$verdict <- ifelse(out$agrees,
                        sprintf("consistent with the exact variance at level %g", lv),
                        sprintf("not consistent with the exact variance at level %g", lv))
  out
}

#' Plot predicted variances by layer
#'
#' Draws the per-layer variances of a [predict_variance()] result on a log
#' scale: activations \eqn{Var(z^i)}, back-propagated gradients
#' \eqn{Var(\partial C / \partial s^{i-1})} and weight gradients
#' \eqn{Var(\partial C / \partial W^{i-1})}, layers numbered as in the
#' table. A flat line is a variance preserved across depth.
#'
#' @param x A `predict_variance()` result (class `initvar_prediction`).
#' @param quantity Which columns: any of `"var_s"`, `"var_z"`,
#'   `"var_grad_s"`, `"var_grad_w"`.
#' @param main Title.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, `x`.
#' @examples
#' p <- predict_variance(mlp(c(1000, rep(1000, 5)), "tanh", init_glorot_standard()))
#' class(p) <- unique(c("initvar_prediction", class(p)))
#' plot(p)
#' @export
plot.initvar_prediction <- function(x, quantity = c("var_z", "var_grad_s", "var_grad_w"),
                                    main = "Predicted variance by layer", ...) {
  ok <- c("var_s", "var_z", "var_grad_s", "var_grad_w")
  if (!is.character(quantity) || length(quantity) == 0 || !all(quantity %in% ok)) {
    abort_arg("quantity", paste0("a subset of ", paste0("\"", ok, "\"", collapse = ", ")),
              quantity)
  }
  col <- c(var_s = "#8e44ad", var_z = "#1b6ca8", var_grad_s = "#c0392b",
           var_grad_w = "#2e8b57")[quantity]
  lab <- c(var_s = "Var(s^(i-1))", var_z = "Var(z^i), activations",
           var_grad_s = "Var(dC/ds^(i-1)), back-propagated",
           var_grad_w = "Var(dC/dW^(i-1)), weight gradients")[quantity]
  vals <- unlist(x[quantity])
  vals <- vals[is.finite(vals) & vals > 0]
  if (length(vals) == 0) vals <- 1
  ylim <- range(vals)
  ylim[1] <- ylim[1] / max((ylim[2] / ylim[1])^0.35, 3)
  graphics::plot(NA, xlim = range(x$layer) + c(-0.2, 0.2), ylim = ylim, log = "y",
                 xlab = "layer i (holds W^(i-1), outputs z^i)", ylab = "variance (log scale)",
                 main = main, xaxt = "n", ...)
  graphics::axis(1, at = x$layer)
  for (q in quantity) {
    v <- x[[q]]
    v[!(v > 0)] <- NA
    graphics::lines(x$layer, v, col = col[[q]], lwd = 2, type = "o", pch = 19)
  }
  graphics::legend("bottomleft", bty = "n", cex = 0.8, col = col, lwd = 2, pch = 19, legend = lab)
  invisible(x)
}

# A network of blocks: one column per layer, its units stacked inside, the
# normalization where it sits, the skip as an arc over the block.
block_units <- function(l) {
  unit_row <- function(u, name) {
    data.frame(unit = name, n_in = u$n_in, n_out = u$n_out,
               activation = format(u$activation), weights = u$init$label,
               stringsAsFactors = FALSE)
  }
  if (l$kind == "dense") return(unit_row(l, "W"))
  if (l$kind == "attention") {
    nm <- c("W_Q", "W_K", "W_V", "W_O")[seq_along(l$branch)]
    return(do.call(rbind, Map(unit_row, l$branch, nm)))
  }
  if (!is.null(l$branch)) {
    return(do.call(rbind, Map(unit_row, l$branch, sprintf("W%d", seq_along(l$branch)))))
  }
  data.frame(unit = l$kind, n_in = l$n_in, n_out = l$n_out, activation = "",
             weights = if (!is.null(l$init$label)) l$init$label else "",
             stringsAsFactors = FALSE)
}

block_title <- function(l) {
  switch(l$kind,
    attention = sprintf("%s%sattention\n%g heads, d_k %g", if (isTRUE(l$cross)) "cross-" else "",
                        if (isTRUE(l$causal)) "causal " else "", l$heads, l$d_k),
    residual = if (length(l$branch) > 1 && any(vapply(l$branch, function(u) u$n_out, 0) != l$n_in))
      sprintf("residual block\n(FFN, inner %g)", l$branch[[1]]$n_out) else "residual block",
    dense = "dense",
    l$kind)
}

plot_blocks <- function(x, main = NULL, ...) {
  L <- x$layers
  d <- length(L)
  rows <- do.call(rbind, lapply(seq_len(d), function(i) {
    l <- L[[i]]
    u <- block_units(l)
    has_skip <- !is.null(l$skip) && l$kind != "dense"
    cbind(layer = i, kind = l$kind, u,
          skip = if (has_skip) l$skip else NA_real_,
          alpha = if (has_skip && !is.null(l$alpha)) l$alpha else NA_real_,
          norm = if (!is.null(l$norm)) l$norm else "none",
          stringsAsFactors = FALSE)
  }))
  if (is.null(main)) {
    what <- if (inherits(x, "initvar_transformer")) "Transformer" else
      if (inherits(x, "initvar_resmlp")) "Residual network" else "Network"
    main <- if (inherits(x, "initvar_transformer")) {
      sprintf("Transformer: %d sublayers, d_model %g", d, L[[1]]$n_in)
    } else {
      sprintf("%s: %d layer%s, width %g", what, d, if (d > 1) "s" else "", L[[1]]$n_in)
    }
  }
  nu <- max(table(rows$layer))
  cex <- if (d > 8) 0.55 else if (d > 4) 0.7 else 0.8
  top <- nu + 1.6
  graphics::plot(NA, xlim = c(0.3, d + 0.7), ylim = c(-1.3, top + 0.9), axes = FALSE,
                 xlab = "", ylab = "", main = main, ...)
  graphics::arrows(0.3, 0, d + 0.7, 0, length = 0.07, col = "grey55")
  graphics::text(0.3, -0.3, "x", cex = cex, adj = 0)
  for (i in seq_len(d)) {
    l <- L[[i]]
    r <- rows[rows$layer == i, , drop = FALSE]
    k <- nrow(r)
    graphics::rect(i - 0.42, 0.35, i + 0.42, k + 1.15, col = "#f7f7f7", border = "grey40")
    graphics::text(i, k + 0.85, block_title(l), cex = cex, font = 2)
    for (j in seq_len(k)) {
      y <- k - j + 0.75
      graphics::rect(i - 0.36, y - 0.3, i + 0.36, y + 0.3, col = "#dbe9f6", border = "grey50")
      act <- if (nzchar(r$activation[j]) && r$activation[j] != "linear")
        paste0(", ", r$activation[j]) else ""
      sub <- sub("^W_?", "", r$unit[j])
      lab <- if (grepl("^W", r$unit[j]) && nzchar(sub)) {
        bquote(W[.(sub)] ~~ .(r$n_in[j]) %->% .(r$n_out[j]) * .(act))
      } else {
        bquote(.(r$unit[j]) ~~ .(r$n_in[j]) %->% .(r$n_out[j]) * .(act))
      }
      graphics::text(i, y + 0.08, lab, cex = cex * 0.85)
      graphics::text(i, y - 0.16, r$weights[j], cex = cex * 0.7, col = "#1b6ca8")
    }
    norm <- r$norm[1]
    if (norm %in% c("pre", "post")) {
      xn <- if (norm == "pre") i - 0.38 else i + 0.5   # after the fork; at the sum
      graphics::rect(xn - 0.07, -0.22, xn + 0.07, 0.22, col = "#fbe3d6", border = "grey30")
      graphics::text(xn, -0.42, paste0(norm, "-LN"), cex = cex * 0.75)
    }
    if (!is.na(r$skip[1])) {
      th <- seq(pi, 0, length.out = 40)
      graphics::lines(i + 0.5 * cos(th), top - 0.2 + 0.35 * sin(th), col = "#c0392b")
      graphics::segments(i + c(-0.5, 0.5), 0, i + c(-0.5, 0.5), top - 0.2, col = "#c0392b",
                         lty = 3)
      graphics::text(i, top + 0.45, bquote("skip" ~ .(format(r$skip[1], digits = 3)) * "," ~~
                                             alpha ~ "=" ~ .(format(r$alpha[1], digits = 3))),
                     cex = cex * 0.75, col = "#c0392b")
    }
  }
  invisible(rows)
}
