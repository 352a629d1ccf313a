# Precompute the explorer's phase diagrams (inst/explorer/phase-cache.rds):
# for each activation the app offers, phase_diagram() on its default grid
# and critical_line() on a finer sigma_b2 grid. A tanh diagram takes about
# 30 s, too long for an app that answers within a second, so the app reads
# this file (and computes, with a progress bar, only what is not in it).
#   R_LIBS=LIB Rscript tools/explorer-phase.R [OUT]
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "inst/explorer/phase-cache.rds"
suppressPackageStartupMessages(library(initvar))
acts <- initvar:::explorer_activations
cache <- list()
for (a in acts) {
  t0 <- proc.time()[["elapsed"]]
  cache[[a]] <- initvar:::explorer_phase_compute(a)
  cat(sprintf("%-10s %6.1f s\n", a, proc.time()[["elapsed"]] - t0))
}
attr(cache, "initvar_version") <- format(utils::packageVersion("initvar"))
saveRDS(cache, out, version = 2)
cat("wrote", out, "\n")
