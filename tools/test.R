# Run the test suite against the installed initvar and print the totals.
#   Rscript tools/test.R           (after R CMD INSTALL .)
# The last line is "N passed, N failed"; the exit status is 1 on any failure.
Sys.setenv(NOT_CRAN = "true")
suppressPackageStartupMessages(library(testthat))
here <- if (dir.exists("tests/testthat")) "tests/testthat" else
  stop("run from the package's top directory", call. = FALSE)
res <- as.data.frame(test_dir(here, package = "initvar", load_package = "installed",
                              reporter = ProgressReporter$new(show_praise = FALSE),
                              stop_on_failure = FALSE))
passed <- sum(res$passed)
failed <- sum(res$failed) + sum(res$error)
skipped <- sum(res$skipped)
cat(sprintf("%d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0) 1 else 0)
