# The results of verify(): the verification object, its verdict through
# agreement(), and its print, as.data.frame and plot methods.

new_verification <- function(def, id, p, drop, theory, estimate, mcse, n, level, df,
                             general = NULL, path = NULL, approximation = NULL,
                             log_scale = FALSE) {
  # per-layer variances of networks: the test and interval on the log scale,
  # as simulate_network() reports them
  ag <- if (log_scale && estimate > 0 && mcse > 0 && theory > 0) {
    r <- agreement(log(estimate), mcse / estimate, log(theory), df, level)
    r$lower <- exp(r$lower); r$upper <- exp(r$upper)
    r
  } else agreement(estimate, mcse, theory, df, level)
  z <- ag$z
  pv <- ag$p_value
  consistent <- ag$consistent
  gz <- if (!is.null(general) && !is.na(general)) agreement(estimate, mcse, general, df, level)$z else NA_real_
  verdict <- verdict_text(consistent, z, pv, level, theory, estimate)
  structure(list(
    id = id, statement = def$statement, latex = def$latex, assumptions = def$assumptions,
    used_in = def$used_in, params = p, dropped = drop,
    dropped_text = if (!is.null(drop)) def$drops[[drop]],
    estimand = def$estimand, n = n, level = level, df = df,
    theoretical = theory, estimate = estimate, mcse = mcse,
    lower = ag$lower, upper = ag$upper,
    z = z, p_value = pv, consistent = consistent, verdict = verdict,
    general = general, general_text = def$general_text, general_z = gz,
    approximation = approximation, path = path), class = "initvar_verification")
}

fmt_params <- function(p) {
  p <- p[!vapply(p, is.null, TRUE)]
  vals <- vapply(names(p), function(nm) {
    v <- p[[nm]]
    if (inherits(v, "initvar_mlp")) {
      acts <- unique(vapply(v$activation, format, ""))
      inits <- unique(vapply(v$init, function(s) s$label, ""))
      paste0("mlp(", paste(v$widths, collapse = "-"), ", ",
             if (length(acts) == 1) acts else "mixed activations", ", ",
             if (length(inits) == 1) inits else "mixed initializations", ")")
    }
    else if (is.character(v)) v else format(v, digits = 4)
  }, "")
  paste0(names(p), " = ", vals, collapse = ", ")
}

# A labelled field of a printout ("  assumptions: ..."), its text wrapped
# at the console width under the label's column; and a paragraph wrapped
# likewise. Printouts follow getOption("width"), so that they fit a page.
cat_field <- function(label, ...) {
  lab <- sprintf("  %-12s ", label)
  w <- strwrap(paste0(...), width = max(20, getOption("width") - nchar(lab)))
  if (!length(w)) w <- ""
  cat(paste0(c(lab, rep(strrep(" ", nchar(lab)), length(w) - 1)), w), sep = "\n")
}
cat_para <- function(..., indent = 2, exdent = indent + 2) {
  cat(strwrap(paste0(...), width = getOption("width"), indent = indent, exdent = exdent), sep = "\n")
}

#' @export
print.initvar_verification <- function(x, digits = 4, ...) {
  if (identical(x$estimand, "formula")) return(print_formula_verification(x, digits))
  f <- function(v) format(signif(v, digits))
  cat_para("Identity `", x$id, "`: ", x$statement, indent = 0, exdent = 4)
  cat_field("assumptions:", x$assumptions)
  if (!is.null(x$dropped)) cat_field("DROPPED:", x$dropped, ": ", x$dropped_text)
  cat_field("used in:", x$used_in)
  cat_field("parameters:", fmt_params(x$params))
  what <- switch(x$estimand, mean = "sample mean", var = "sample variance",
                 cov = "sample covariance", ratio = "ratio of sample variances",
                 network = "per-layer variance over networks")
  se <- switch(x$estimand, mean = "s / sqrt(n)", var = "sqrt((m4 - m2^2) / n)",
               cov = "sqrt((m22 - m11^2) / n)", ratio = "delta method",
               network = "network-level replicates, delta method")
  cat_field("simulation:", sprintf("%s of %s %s; MCSE: %s", what,
                                   format(x$n, big.mark = ",", scientific = FALSE),
                                   if (x$estimand == "network") "networks" else "draws", se))
  cat("\n")
  lvl <- paste0(100 * x$level, "%")
  cat(sprintf("  theoretical  %s\n", f(x$theoretical)))
  cat(sprintf("  estimate     %s   (MCSE %s)\n", f(x$estimate), format(signif(x$mcse, 2))))
  cat(sprintf("  %s CI       [%s, %s]\n", lvl, f(x$lower), f(x$upper)))
  cat(sprintf("  z = %.2f, p = %.3g%s\n", x$z, x$p_value,
              if (is.finite(x$df)) sprintf(" (t, %g df)", x$df) else ""))
  if (!is.null(x$approximation)) {
    cat_para(sprintf("delta method: f'(mean)^2 sd^2 = %s, %+.2f%% from the exact value%s",
                f(x$approximation), 100 * (x$approximation / x$theoretical - 1),
                if (abs(x$approximation / x$theoretical - 1) < 0.05) " (linear regime)" else
                  " (outside the linear regime)"))
  }
  cat("\n")
  cat_para(x$verdict)
  if (!is.null(x$general)) {
    cat_para(sprintf("The general formula, %s, gives %s: %s (z = %.2f).", x$general_text, f(x$general),
                if (is.na(x$general_z)) "not available" else if (agreement(
                  x$estimate, x$mcse, x$general, x$df, x$level)$consistent)
                  "consistent with the estimate" else "not consistent with the estimate",
                x$general_z))
  }
  invisible(x)
}

#' @export
as.data.frame.initvar_verification <- function(x, row.names = NULL, optional = FALSE, ...) {
  data.frame(id = x$id, dropped = if (is.null(x$dropped)) NA_character_ else x$dropped,
             n = x$n, theoretical = x$theoretical, estimate = x$estimate,
             difference = x$estimate - x$theoretical, mcse = x$mcse,
             lower = x$lower, upper = x$upper, z = x$z, p_value = x$p_value,
             consistent = x$consistent,
             general = if (is.null(x$general)) NA_real_ else x$general,
             verdict = x$verdict, stringsAsFactors = FALSE)
}

#' @rdname verify
#' @param x An `initvar_verification`.
#' @param y Ignored.
#' @param main,ylim Title and vertical range of the plot.
#' @export
plot.initvar_verification <- function(x, y, main = NULL, ylim = NULL, ...) {
  if (is.null(main)) {
    main <- paste0("verify(\"", x$id, "\")", if (!is.null(x$dropped)) paste0(", dropped: ", x$dropped))
  }
  if (identical(x$estimand, "formula")) return(invisible(plot_formula_verification(x, main, ...)))
  if (is.null(x$path)) {
    return(invisible(plot(x$simulation, type = "variance", main = main, ...)))
  }
  pa <- x$path
  q <- stats::qt(1 - (1 - x$level) / 2, max(x$df, 1))
  lo <- pa$estimate - q * pa$mcse
  hi <- pa$estimate + q * pa$mcse
  if (is.null(ylim)) {
    ylim <- range(c(lo, hi, x$theoretical, x$general), na.rm = TRUE)
    ylim[2] <- ylim[2] + 0.3 * diff(ylim)   # room for the legend
  }
  graphics::plot(pa$n, pa$estimate, log = "x", ylim = ylim, pch = 19,
                 xlab = "number of draws n (log scale)", ylab = "estimate", main = main, ...)
  graphics::segments(pa$n, lo, pa$n, hi)
  graphics::abline(h = x$theoretical, col = "#c0392b", lwd = 2)
  leg <- c("estimate with interval", "identity's value")
  cols <- c("black", "#c0392b")
  ltys <- c(1, 1)
  if (!is.null(x$general) && !is.na(x$general)) {
    graphics::abline(h = x$general, col = "#1b6ca8", lwd = 2, lty = 2)
    leg <- c(leg, "general formula")
    cols <- c(cols, "#1b6ca8")
    ltys <- c(ltys, 2)
  }
  graphics::legend("top", legend = leg, col = cols, lty = ltys, pch = c(19, NA, NA)[seq_along(leg)],
                   bty = "n", cex = 0.8, horiz = TRUE)
  invisible(pa)
}

#' @export
print.initvar_verifications <- function(x, ...) {
  level <- attr(x, "level")
  if (is.null(level)) level <- verdict_level
  f <- function(v) formatC(v, digits = 4, format = "g")
  tab <- data.frame(
    id = x$id,
    n = format(x$n, big.mark = ",", scientific = FALSE, trim = TRUE),
    theory = f(x$theoretical), estimate = f(x$estimate),
    mcse = formatC(x$mcse, digits = 2, format = "g"),
    z = formatC(x$z, digits = 2, format = "f"),
    p = formatC(x$p_value, digits = 2, format = "g"),
    holm = formatC(x$p_holm, digits = 2, format = "g"),
    ok = ifelse(is.na(x$consistent), "-", ifelse(x$consistent, "yes", "NO")),
    stringsAsFactors = FALSE)
  cat(sprintf("<initvar verifications> %d identities, level %s each (holm: Holm-adjusted p)\n\n",
              nrow(x), format(level)))
  print(tab, row.names = FALSE, right = FALSE)
  fam <- all(x$consistent_holm, na.rm = TRUE)
  cat("\n", strwrap(sprintf(paste(
    "Family-wise (Holm, level %s): %s. %d of %d identities are consistent one by one; with",
    "%d tests, about %.1f would be flagged by chance if all were true."),
    format(level), if (fam) "consistent: no identity is flagged after adjusting for the number of tests"
    else sprintf("NOT consistent: %s flagged after adjustment", paste(x$id[!x$consistent_holm], collapse = ", ")),
    sum(x$consistent, na.rm = TRUE), nrow(x), nrow(x), nrow(x) * (1 - level))), sep = "\n")
  invisible(x)
}
