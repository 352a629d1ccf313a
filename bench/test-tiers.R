# Benchmark: the wall time of the two test tiers, as a newcomer runs them
# (issue 24: the README's command must finish in under 5 minutes on 2
# cores). Each tier runs in a fresh process from the top of a checkout,
# against the installed initvar; the machine's cores and load average are
# printed beside the times, since a loaded machine is slower.
#   Rscript bench/test-tiers.R            the quick tier
#   Rscript bench/test-tiers.R full       both tiers
args <- commandArgs(trailingOnly = TRUE)
tiers <- if (length(args) && args[1] == "full") c("quick", "full") else "quick"
if (!file.exists("tools/test.R")) stop("run from the top of a checkout", call. = FALSE)
`%||%` <- function(a, b) if (is.null(a)) b else a
load <- function() tryCatch(scan("/proc/loadavg", n = 1, quiet = TRUE), error = function(e) NA)
cat(sprintf("initvar %s; %d cores; BLAS: %s\n", format(packageVersion("initvar")),
            parallel::detectCores(), initvar::initvar_blas()$name %||% "?"))
for (tier in tiers) {
  l0 <- load()
  t0 <- proc.time()[["elapsed"]]
  out <- suppressWarnings(system2("Rscript", "tools/test.R", stdout = TRUE, stderr = TRUE,
                                  env = paste0("INITVAR_TESTS=", tier)))
  secs <- proc.time()[["elapsed"]] - t0
  totals <- grep("^[0-9]+ passed, [0-9]+ failed", out, value = TRUE)
  cat(sprintf("tier %-5s %6.0f s (%.1f min), load average %.1f before; %s\n", tier, secs,
              secs / 60, l0, if (length(totals)) totals[length(totals)] else "no totals"))
  if (tier == "quick") {
    cat(sprintf("  quick tier within 5 minutes: %s\n", if (secs < 300) "yes" else "NO"))
  }
}
