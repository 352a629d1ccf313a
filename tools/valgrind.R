# The C-facing tests under valgrind's memcheck (see `make valgrind`):
#   R -d "valgrind --tool=memcheck --error-exitcode=1" --vanilla -f tools/valgrind.R
# Runs the test files that call into C, skipping the slow interrupt tests.
Sys.setenv(NOT_CRAN = "true", INITVAR_SANITIZER = "valgrind")
suppressPackageStartupMessages(library(testthat))
files <- Sys.getenv("VALGRIND_TESTS", "rng,identities,simulate,bad-input,hardening")
files <- file.path("tests/testthat", paste0("test-", strsplit(files, ",")[[1]], ".R"))
res <- lapply(files, function(f) as.data.frame(test_file(f, package = "initvar",
  load_package = "installed", reporter = "summary", stop_on_failure = FALSE)))
res <- do.call(rbind, res)
cat(sprintf("valgrind tests: %d passed, %d failed\n", sum(res$passed),
            sum(res$failed) + sum(res$error)))
