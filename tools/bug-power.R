# Power of coordinate_check() against the six injected bugs of mup_bugs(),
# and the family-wise false-positive rate of the correct parametrization,
# over seeds, at the default sizes (each bug's `check`: widths 32-256 or
# depths 2-16 at width 64, 20 networks, 3 Adam steps, batch 32 or 16).
# For each bug and seed s: set.seed(s), the check with the buggy
# parametrization (flagged = attr(, "verdict") is FALSE); set.seed(s + 1e5),
# the same check with the correct one (a false positive when flagged).
# Power and rate with their MCSE sqrt(p (1 - p) / seeds), the one-sided
# 95% Clopper-Pearson bound (lower for power, upper for the rate), and the
# mean slope of each tested row.
# Run once (2026-12-08, initvar 0.1.0 of branch mup-0112, seeds 1..n and
# 1e5 + 1..n; ~70 min of CPU on a machine with load 14 on 2 cores):
#   bug                seeds  power (cp95 lower)  false positives (cp95 upper)
#   readout              40   40/40 (0.928)        1/40 (0.113)
#   hidden_lr            40   40/40 (0.928)        0/40 (0.072)
#   attention_sqrt       40   40/40 (0.928)        1/40 (0.113)
#   dff_fixed            40   40/40 (0.928)        0/40 (0.072)
#   eps_unscaled         40   40/40 (0.928)        0/40 (0.072)
#   residual_unscaled    40   40/40 (0.928)        0/40 (0.072)
# (the last three in two runs, seeds 1-12 and BUG_POWER_FIRST=13 for
# 13-40; binomial band of a rate 0.01: at most 3 flags of 40). Mean
# slopes, bug against correct: read-out logits 0.008 vs -0.496 (predicted
# -0.5, exact); attention logits 0.001 vs -0.498 (-0.5, exact); hidden
# layer after 3 Adam steps 0.74-0.77 vs -0.02-0 (0 +- 0.25); FFN after
# d_ff fixed -0.48 to -0.51 vs -0.02-0.005; CompleteP output change in
# depth, epsilon unscaled -0.39 to -0.58 vs -0.16 to -0.24 (0 +- 0.35),
# branches unscaled 1.86-2.40 vs -0.11 to -0.18.
# Usage: [BUG_POWER_FIRST=1] Rscript tools/bug-power.R [seeds = 20] [bug names...]
#   e.g. Rscript tools/bug-power.R 50 readout hidden_lr attention_sqrt
library(initvar)
args <- commandArgs(TRUE)
seeds <- if (length(args)) as.integer(args[1]) else 20
# BUG_POWER_FIRST=13 runs seeds 13 .. 12 + seeds (to extend an earlier run)
first <- as.integer(Sys.getenv("BUG_POWER_FIRST", "1"))
which <- if (length(args) > 1) args[-1] else names(mup_bugs())
bugs <- mup_bugs(which)
run <- function(b, seed, correct) {
  set.seed(seed + if (correct) 1e5 else 0)
  cc <- suppressWarnings(do.call(coordinate_check, c(
    list(if (correct) b$correct_net_fun else b$net_fun,
         parametrization = if (correct) b$correct else b$parametrization), b$check)))
  s <- attr(cc, "slope")
  data.frame(bug = b$name, side = if (correct) "correct" else "bug", seed = seed,
             flagged = !isTRUE(attr(cc, "verdict")), row = paste0(s$layer, ":", s$step),
             slope = s$estimate, se = s$se)
}
t0 <- proc.time()[["elapsed"]]
res <- do.call(rbind, lapply(bugs, function(b) {
  t1 <- proc.time()[["elapsed"]]
  r <- do.call(rbind, lapply(first - 1 + seq_len(seeds), function(s)
    rbind(run(b, s, FALSE), run(b, s, TRUE))))
  o <- r[!duplicated(r[, c("side", "seed")]), ]
  cat(sprintf("%s: %.0f s; flagged: bug %d of %d, correct %d of %d\n", b$name,
              proc.time()[["elapsed"]] - t1, sum(o$flagged[o$side == "bug"]), seeds,
              sum(o$flagged[o$side == "correct"]), seeds))
  r
}))
one <- res[!duplicated(res[, c("bug", "side", "seed")]), ]
agg <- do.call(rbind, lapply(split(one, list(one$bug, one$side), drop = TRUE), function(r) {
  n <- nrow(r)
  k <- sum(r$flagged)
  p <- k / n
  data.frame(bug = r$bug[1], side = r$side[1], seeds = n, flagged = k, rate = p,
             mcse = sqrt(p * (1 - p) / n),
             cp95 = if (r$side[1] == "bug") stats::qbeta(0.05, k, n - k + 1) else
               stats::qbeta(0.95, k + 1, n - k))
}))
agg$cp95[is.na(agg$cp95)] <- 0
cat("\nflag rates (power for side = bug, false-positive rate for side = correct; cp95:\n",
    "one-sided 95% Clopper-Pearson bound, lower for power, upper for the rate)\n")
print(agg[order(agg$bug, agg$side), ], digits = 3, row.names = FALSE)
sl <- stats::aggregate(cbind(slope, se) ~ bug + side + row, res, mean)
cat("\nmean slope (and mean se) of each tested row\n")
print(sl[order(sl$bug, sl$side, sl$row), ], digits = 3, row.names = FALSE)
cat(sprintf(paste0("level 0.99 (Holm); nominal false-positive rate at most 0.01, binomial band ",
                   "for %d seeds: at most %d flags (P >= 0.999)\n"), seeds,
            stats::qbinom(0.999, seeds, 0.01)))
cat(sprintf("%.0f s\n", proc.time()[["elapsed"]] - t0))
