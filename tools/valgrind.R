# memcheck over a minimal tier that touches every registered .Call entry
# point (the small valid calls of tests/testthat/helper-hardening.R's
# routine table, the same that tools/gctorture.R tortures) and the
# exported functions that reach C. Run under valgrind by tools/valgrind.sh:
#   R -d "valgrind --tool=memcheck --error-exitcode=1 -q" --vanilla -f tools/valgrind.R
# VALGRIND_TESTS=rng,simulate adds those test files (the old, slower tier).
Sys.setenv(NOT_CRAN = "true", INITVAR_SANITIZER = "valgrind")
suppressPackageStartupMessages(library(initvar))
source("tests/testthat/helper-hardening.R")
exported <- c("sample_weights", "simulate_network", "verify", "mlp", "predict_variance",
              "weight_variance")
calls <- list()
for (nm in names(hardening_routines)) {
  a <- hardening_routines[[nm]]$args()
  calls[[paste0("C_", nm)]] <- as.call(c(list(quote(.Call), call(":::", quote(initvar),
                                                                as.name(paste0("C_", nm)))), a))
}
for (nm in exported) calls[[nm]] <- hardening_exported[[nm]]$gctorture
t0 <- proc.time()[["elapsed"]]
errors <- 0
for (nm in names(calls)) {
  set.seed(1)
  r <- tryCatch({ eval(calls[[nm]], globalenv()); NULL }, error = function(e) e)
  if (!is.null(r)) { errors <- errors + 1; cat(sprintf("ERROR in %s: %s\n", nm, conditionMessage(r))) }
}
files <- Sys.getenv("VALGRIND_TESTS", "")
if (nzchar(files)) {
  suppressPackageStartupMessages(library(testthat))
  files <- file.path("tests/testthat", paste0("test-", strsplit(files, ",")[[1]], ".R"))
  for (f in files) test_file(f, package = "initvar", load_package = "installed", reporter = "summary")
}
cat(sprintf("valgrind: %d calls (every .Call entry point, %d exported functions) in %.0f s, %d errors\n",
            length(calls), length(exported), proc.time()[["elapsed"]] - t0, errors))
quit(status = if (errors > 0) 1 else 0)
