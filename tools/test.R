# Run the test suite against the installed initvar and print the totals.
#   Rscript tools/test.R                      the quick tier (a few minutes)
#   INITVAR_TESTS=full Rscript tools/test.R   the full calibrated suite
#   INITVAR_TESTS=smoke Rscript tools/test.R  a minute: tests/smoke-tier.txt
#   Rscript tools/test.R interrupt threads    only those files
# The last line is "N passed, N failed"; the exit status is 1 on any failure.
Sys.setenv(NOT_CRAN = "true")
if (!nzchar(system.file(package = "initvar"))) {
  cat("initvar is not installed: install it first, from the top of a checkout with\n",
      "  R CMD build . && R CMD INSTALL initvar_*.tar.gz\n",
      "or from a tarball with install.packages(\"initvar_<version>.tar.gz\", repos = NULL)\n",
      sep = "")
  quit(status = 1)
}
if (!requireNamespace("testthat", quietly = TRUE)) {
  cat("The tests need the testthat package: install.packages(\"testthat\")\n")
  quit(status = 1)
}
# Under tools/sanitize.sh the sanitizer runtime is preloaded into every
# process: this one checks its leaks at exit, the tools the tests start
# (zip, a child R) keep the error checks but not the leak check, since their
# leaks are not initvar's
if (nzchar(Sys.getenv("INITVAR_SANITIZER")) && nzchar(Sys.getenv("LD_PRELOAD"))) {
  Sys.setenv(ASAN_OPTIONS = sub("detect_leaks=1", "detect_leaks=0", Sys.getenv("ASAN_OPTIONS")))
}
suppressPackageStartupMessages(library(testthat))
options(testthat.progress.max_fails = Inf)   # report every failure, never stop early
here <- if (dir.exists("tests/testthat")) "tests/testthat" else
  stop("run from the package's top directory", call. = FALSE)
tier <- Sys.getenv("INITVAR_TESTS", "quick")
if (!nzchar(tier)) tier <- "quick"
if (!tier %in% c("smoke", "quick", "full")) {
  cat(sprintf("INITVAR_TESTS must be \"smoke\", \"quick\" or \"full\", not \"%s\".\n", tier))
  quit(status = 1)
}
# which files: those named on the command line (`Rscript tools/test.R
# interrupt threads` runs test-interrupt.R and test-threads.R), else the
# smoke tier's list, else all
files <- commandArgs(trailingOnly = TRUE)
if (!length(files) && tier == "smoke") {
  files <- grep("^[^#]", trimws(readLines("tests/smoke-tier.txt")), value = TRUE)
}
filter <- if (length(files)) paste0("^(", paste(files, collapse = "|"), ")$") else NULL
cat(sprintf("initvar %s, test tier: %s%s\n", format(packageVersion("initvar")), tier,
            if (tier == "quick") " (INITVAR_TESTS=full runs the full calibrated suite)" else ""))
t0 <- proc.time()[["elapsed"]]
res <- as.data.frame(test_dir(here, package = "initvar", load_package = "installed", filter = filter,
                              reporter = ProgressReporter$new(show_praise = FALSE),
                              stop_on_failure = FALSE))
passed <- sum(res$passed)
failed <- sum(res$failed) + sum(res$error)
skipped <- sum(res$skipped)
cat(sprintf("tier %s: %.0f s\n", tier, proc.time()[["elapsed"]] - t0))
cat(sprintf("%d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0) 1 else 0)
