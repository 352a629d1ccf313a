# Interrupt every long-running function and C routine of the hardening
# tables (tests/testthat/helper-hardening.R) in a child R process, at 1 and
# 2 threads, `reps` times each, and report the latency from SIGINT to the
# end of the call and the resident memory after the runs.
#   Rscript tools/interrupts.R [reps] [name ...]      (make interrupts: 50)
# Exits with status 1 if any latency exceeds 2 s, a run was not
# interrupted, memory grew by more than 50 MB from the second run on, or a
# call marked `partial` in the tables (and verify()'s formula) left no
# partial result in last_partial().
args <- commandArgs(TRUE)
reps <- if (length(args)) as.integer(args[1]) else 3L
only <- args[-1]
suppressPackageStartupMessages(library(initvar))
source("tests/testthat/helper-hardening.R")
options(initvar.hardening_helper = normalizePath("tests/testthat/helper-hardening.R"))
long <- c(Filter(function(e) isTRUE(e$long), hardening_exported),
          Filter(function(e) isTRUE(e$long), hardening_routines))
# verify()'s formulas (R-level draws) are interrupted as well
long$verify_formula <- list(interrupt = hardening_exported$verify$interrupt_formula, partial = TRUE,
                            delay = c(1.5, 2.5))
if (length(only)) long <- long[names(long) %in% only]
bad <- 0
cat(sprintf("%-18s %3s %5s %9s %9s %9s %10s %8s\n", "function", "th", "runs", "median_s", "max_s",
            "handled", "rss_grow_MB", "partial"))
for (nm in names(long)) {
  for (th in 1:2) {
    # (partial = TRUE: the interrupted runs must keep their work in last_partial())
    partial <- isTRUE(long[[nm]]$partial)
    r <- interrupt_child(long[[nm]]$interrupt, threads = th, reps = reps,
                         delay = if (is.null(long[[nm]]$delay)) c(1, 2.5, 1.5, 4) else long[[nm]]$delay,
                         after = if (partial) quote(!is.null(initvar::last_partial())))
    lost <- partial && !isTRUE(attr(r, "after"))
    grow <- if (nrow(r) >= 3) (max(r$rss_kb[-1]) - r$rss_kb[2]) / 1024 else NA
    cat(sprintf("%-18s %3d %5d %9.3f %9.3f %9s %10.1f %8s\n", nm, th, nrow(r),
                if (nrow(r)) stats::median(r$latency) else NA, if (nrow(r)) max(r$latency) else NA,
                sprintf("%d/%d", sum(r$how == "interrupt"), nrow(r)), grow,
                if (!partial) "-" else if (lost) "LOST" else "kept"))
    # (routines return what they did, marked interrupted: only functions must signal)
    if (nrow(r) < reps || any(r$latency > 2) ||
        (!nm %in% names(hardening_routines) && any(r$how != "interrupt")) ||
        (!is.na(grow) && grow > 50) || lost) {
      bad <- bad + 1
      cat("  PROBLEM:", paste(utils::tail(attr(r, "stderr"), 5), collapse = "\n  "), "\n")
    }
  }
}
cat(sprintf("interrupts: %d functions x 2 thread counts x %d runs, %d problems\n",
            length(long), reps, bad))
quit(status = if (bad > 0) 1 else 0)
