# gctorture(TRUE) over a small valid call of every registered .Call entry
# point and every exported function (tests/testthat/helper-hardening.R):
# an unprotected object is collected at the next allocation and shows up
# as a crash, an error or a result different from the one without torture.
#   Rscript tools/gctorture.R [routines|ci|all]
# "ci": the routines and the exported functions that reach C, without the
# slow plotting and reporting ones (make gctorture runs "all").
args <- commandArgs(TRUE)
which <- if (length(args)) args[1] else "all"
ci_exported <- c("sample_weights", "simulate_network", "verify", "initvar_threads", "mlp",
                 "predict_variance", "compare_schemes", "last_partial", "weight_variance")
suppressPackageStartupMessages(library(initvar))
source("tests/testthat/helper-hardening.R")
t0 <- proc.time()[["elapsed"]]
grDevices::pdf(NULL)
calls <- list()
for (nm in names(hardening_routines)) {
  a <- hardening_routines[[nm]]$args()
  calls[[paste0("C_", nm)]] <- as.call(c(list(quote(.Call), call(":::", quote(initvar),
                                                                as.name(paste0("C_", nm)))), a))
}
if (which != "routines") {
  for (nm in names(hardening_exported)) {
    if (which == "ci" && !nm %in% ci_exported) next
    if (!is.null(hardening_exported[[nm]]$gctorture)) calls[[nm]] <- hardening_exported[[nm]]$gctorture
  }
}
problems <- 0
n <- 0
secs <- list()
for (nm in names(calls)) {
  cl <- calls[[nm]]
  set.seed(1)
  ref <- tryCatch(eval(cl, globalenv()), error = function(e) e)
  set.seed(1)
  t1 <- proc.time()[["elapsed"]]
  gctorture(TRUE)
  got <- tryCatch(eval(cl, globalenv()), error = function(e) e)
  gctorture(FALSE)
  secs[[nm]] <- proc.time()[["elapsed"]] - t1
  n <- n + 1
  if (inherits(ref, "initvar_simulation")) ref$seconds <- got$seconds <- 0
  # results must agree (external pointers and environments compare by type)
  same <- if (inherits(ref, "error") || inherits(got, "error")) {
    inherits(ref, "error") && inherits(got, "error") && conditionMessage(ref) == conditionMessage(got)
  } else if (typeof(ref) %in% c("externalptr", "environment", "closure")) {
    typeof(ref) == typeof(got)
  } else {
    isTRUE(all.equal(ref, got, check.attributes = TRUE)) || identical(nm, "glorot_report") ||
      identical(nm, "plot_simulations")
  }
  if (!same || inherits(got, "error")) {
    problems <- problems + 1
    cat(sprintf("PROBLEM in %s: %s\n", nm, if (inherits(got, "error")) conditionMessage(got) else
      "result differs from the run without gctorture"))
  }
}
cat(sprintf("gctorture: %d calls (%s) in %.0f s, %d problems\n", n,
            switch(which, all = "routines and exported functions", ci = "routines and C-facing functions",
                   "routines"),
            proc.time()[["elapsed"]] - t0, problems))
if (nzchar(Sys.getenv("GCTORTURE_VERBOSE"))) print(round(unlist(secs), 1))
quit(status = if (problems > 0) 1 else 0)
