# Power against two of issue 26's injected bugs, and the false-positive rate
# of the exact read-out test, over seeds, for a 16-n-n-10 ReLU MLP in muP
# built from parametrization("mup") (widths 32, 64, 128, 256; base 32; 20
# networks per width; batch 32; Adam, eta = 0.01, 3 steps).
#   exact:      output logits at initialization, slope -1/2 (read-out variance
#               1/n^2): coordinate_check()'s calibrated z test at level 0.99.
#   asymptotic: hidden layer's change after 3 Adam steps, slope 0, flagged
#               when |slope| > delta = 0.25.
# Bugs: "readout" (read-out variance 1/(n n_0), not divided by the width
# multiplier) and "hidden_lr" (hidden Adam learning rate not scaled).
# Usage: Rscript tools/bug-power.R [seeds = 20]
library(initvar)
args <- commandArgs(TRUE)
seeds <- if (length(args)) as.integer(args[1]) else 20
widths <- c(32, 64, 128, 256)
base <- 32
n0 <- 16
eta <- 0.01
delta <- 0.25
net_for <- function(n, bug) {
  p <- parametrization("mup", width = n, base_width = base)$table
  f <- function(g, col) p[[paste0(col, "_factor")]][p$group == g]
  v_out <- if (bug == "readout") 1 / (n * base) else f("output", "init_var") / base^2
  mlp(c(n0, n, n, 10), c("relu", "relu", "linear"),
      list(init_normal(sd = sqrt(1 / n0)), init_normal(sd = sqrt(f("hidden", "init_var") / base)),
           init_normal(sd = sqrt(v_out))))
}
lr_for <- function(n, bug) {
  p <- parametrization("mup", width = n, base_width = base)$table
  f <- function(g) p$lr_adam_factor[p$group == g]
  lr <- eta * c(f("input"), f("hidden"), f("output"))
  if (bug == "hidden_lr") lr[2] <- eta
  lr
}
run <- function(bug, seed) {
  set.seed(seed)
  init <- coordinate_check(function(n) net_for(n, bug), widths, layer = 3, what = "init",
                           slope = -0.5, networks = 20, batch = 32)
  set.seed(seed + 1e4)
  dz <- coordinate_check(function(n) net_for(n, bug), widths, layer = 2, what = "first_step",
                         steps = 3, lr_fun = function(n) lr_for(n, bug), networks = 20,
                         optimizer = "adam", batch = 32)
  s <- attr(dz, "slope")$estimate
  data.frame(bug = bug, seed = seed, init_slope = attr(init, "slope")$estimate,
             init_flag = !attr(init, "slope")$consistent, dz_slope = s,
             dz_flag = abs(s) > delta, flag = !attr(init, "slope")$consistent || abs(s) > delta)
}
t0 <- proc.time()[["elapsed"]]
res <- do.call(rbind, lapply(c("none", "readout", "hidden_lr"), function(b)
  do.call(rbind, lapply(seq_len(seeds), function(s) run(b, s)))))
agg <- do.call(rbind, lapply(split(res, res$bug), function(r) {
  p <- mean(r$flag)
  data.frame(bug = r$bug[1], seeds = nrow(r), flagged = p, mcse = sqrt(p * (1 - p) / nrow(r)),
             init_flag = mean(r$init_flag), dz_flag = mean(r$dz_flag),
             init_slope = mean(r$init_slope), dz_slope = mean(r$dz_slope),
             dz_slope_sd = stats::sd(r$dz_slope))
}))
print(agg, digits = 3, row.names = FALSE)
cat(sprintf("%.0f s\n", proc.time()[["elapsed"]] - t0))
