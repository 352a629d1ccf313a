# One rule decides every verdict the package prints: an estimate with its
# Monte Carlo standard error, compared with a value by a two-sided test at
# `level` (Student's t with `df` degrees of freedom; df = Inf: normal).

# Default level of every verdict. Intervals keep their own `level` (0.95 by
# default, said where they are printed).
verdict_level <- 0.99

# Vectorized over its arguments. An MCSE of 0 (draws that do not vary)
# agrees only with the value itself, to 1e-12 relative: never by an
# absolute tolerance, so that tiny scales behave like scale 1.
agreement <- function(estimate, mcse, value, df = Inf, level = verdict_level,
                      interval_level = level) {
  n <- max(length(estimate), length(mcse), length(value), length(df))
  estimate <- rep_len(estimate, n); mcse <- rep_len(mcse, n)
  value <- rep_len(value, n); df <- rep_len(df, n)
  quant <- function(l) ifelse(is.finite(df), stats::qt(1 - (1 - l) / 2, pmax(df, 1)),
                              stats::qnorm(1 - (1 - l) / 2))
  z <- (estimate - value) / mcse
  exact <- abs(estimate - value) <= 1e-12 * pmax(abs(estimate), abs(value))
  zero <- !is.na(mcse) & mcse == 0
  z[zero] <- ifelse(exact[zero], 0, sign(estimate - value)[zero] * Inf)
  p <- ifelse(is.finite(df), 2 * stats::pt(-abs(z), pmax(df, 1)), 2 * stats::pnorm(-abs(z)))
  q <- quant(interval_level)
  data.frame(z = z, p_value = p, consistent = p > 1 - level,
             lower = estimate - q * mcse, upper = estimate + q * mcse)
}

# The verdict in words: what a rejection means for a calibrated test.
verdict_text <- function(consistent, z, p, level, value = NULL, estimate = NULL) {
  if (is.na(consistent)) return("no verdict: the estimate or its MCSE is not available")
  if (consistent) {
    return(sprintf("consistent with the identity at level %s (|z| = %.2f, p = %.3g)",
                   format(level), abs(z), p))
  }
  diff <- if (!is.null(value)) sprintf("; the estimate differs from %s by %s%s",
                                      format(signif(value, 4)), format(signif(estimate - value, 3)),
                                      if (value != 0) sprintf(" (%+.1f%%)", 100 * (estimate - value) / abs(value)) else "")
  else ""
  # the evidence first (z, and how often chance alone gives a |z| this
  # large), so that a gross rejection (z = 48) does not read like a
  # borderline one; then what the level means
  sprintf(paste0("not consistent at level %s: z = %.1f, and chance alone gives |z| this large ",
                 "with probability %s%s (at level %s, 1 in %s true identities is flagged)"),
          format(level), z, chance_text(p), diff, format(level),
          format(round(1 / (1 - level)), big.mark = ","))
}

# A p-value in words: "0.0031 (about 1 in 320)"; "below 1e-300" when it
# underflows.
chance_text <- function(p) {
  if (is.na(p)) return("unknown")
  if (p < 1e-300) return("below 1e-300")
  if (p < 1e-6) return(format(signif(p, 2)))
  sprintf("%s (about 1 in %s)", format(signif(p, 2)),
          format(signif(1 / p, 2), big.mark = ",", scientific = FALSE))
}
