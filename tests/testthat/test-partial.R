# Partial results of interrupted runs, resuming, failed cluster workers.

# Interrupt a run from inside: raise a real interrupt from the progress
# bar's update after `after` blocks (a calling handler cannot do that, so
# the test replaces progress_set for the duration of the call).
with_interrupt_after <- function(after, expr) {
  ns <- asNamespace("initvar")
  old <- get("progress_set", ns)
  count <- 0
  fake <- function(bar, set, .envir = parent.frame()) {
    count <<- count + 1
    if (count == after) tools::pskill(Sys.getpid(), tools::SIGINT)
    invisible(NULL)
  }
  unlockBinding("progress_set", ns)
  assign("progress_set", fake, ns)
  on.exit({
    assign("progress_set", old, ns)
    lockBinding("progress_set", ns)
  })
  force(expr)
}

test_that("an interrupted simulation keeps its finished blocks and resumes bit-identically", {
  skip_on_os("windows")
  net <- mlp(c(20, 30, 30, 10), c("tanh", "relu", "linear"), init_glorot())
  for (th in 1:2) {
    set.seed(7)
    full <- simulate_network(net, networks = 50, inputs = 12, threads = th, progress = FALSE)
    set.seed(7)
    e <- with_interrupt_after(3, tryCatch(
      simulate_network(net, networks = 50, inputs = 12, threads = th, progress = TRUE),
      interrupt = function(e) e))
    expect_s3_class(e, "initvar_interrupt")
    expect_s3_class(e, "interrupt")
    part <- e$partial
    expect_s3_class(part, "initvar_simulation")
    expect_true(part$networks %in% c(24, 32))   # the interrupt lands within a block or two
    expect_identical(last_partial(), part)
    df <- as.data.frame(part)
    expect_true(all(is.finite(df$estimate)))
    res <- simulate_network(net, networks = 50, resume = part, threads = 3 - th, progress = FALSE)
    expect_identical(res$acc, full$acc)
    expect_identical(res$hist, full$hist)
    expect_identical(res$networks, full$networks)
    expect_identical(as.data.frame(res), as.data.frame(full))
  }
  expect_error(simulate_network(net, resume = list()), "`resume`")
  expect_error(simulate_network(net, networks = 10, resume = part), "`networks`")
})

test_that("an interrupted verify() keeps the draws done", {
  skip_on_os("windows")
  # SIGINT from a background shell 0.7 s into a long verify()
  system(sprintf("(sleep 0.7; kill -INT %d)", Sys.getpid()), wait = FALSE)
  e <- tryCatch(verify("neuron", n = 1e11, threads = 2), interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  v <- e$partial
  expect_s3_class(v, "initvar_verification")
  expect_gt(v$n, 1000)
  expect_lt(v$n, 1e11)
  expect_equal(v$n, v$path$n[nrow(v$path)])
  expect_true(is.finite(v$estimate) && v$mcse > 0)
})

test_that("a failing cluster worker is named, and the merged blocks are kept", {
  skip_on_cran()
  skip_on_os("windows")
  net <- mlp(c(10, 12, 6), "tanh", init_glorot())
  cl <- parallel::makePSOCKcluster(2)
  on.exit({
    try(parallel::stopCluster(cl), silent = TRUE)
    for (node in cl) try(close(node$con), silent = TRUE)   # the dead worker's socket
  }, add = TRUE)
  parallel::clusterCall(cl, function(p) .libPaths(p), .libPaths())
  set.seed(3)
  full <- simulate_network(net, networks = 64, inputs = 8, threads = 1)
  # worker 2 errors from its third block on
  parallel::clusterEvalQ(cl[2], {
    ns <- asNamespace("initvar")
    orig <- get("sim_block_worker", ns)
    n_calls <- 0
    unlockBinding("sim_block_worker", ns)
    assign("sim_block_worker", function(...) {
      n_calls <<- n_calls + 1
      if (n_calls >= 3) stop("planted failure")
      orig(...)
    }, ns)
    NULL
  })
  set.seed(3)
  e <- tryCatch(simulate_network(net, networks = 64, inputs = 8, threads = 1, cl = cl),
                error = function(e) e)
  expect_s3_class(e, "initvar_worker_error")
  expect_match(conditionMessage(e), "worker 2 of 2")
  expect_match(conditionMessage(e), "planted failure")
  expect_equal(e$worker, 2)
  expect_equal(e$partial$networks, 40)   # blocks 1-5: rounds 1, 2 and block 5
  res <- simulate_network(net, networks = 64, resume = e$partial, threads = 1)
  expect_identical(res$acc, full$acc)

  # a worker that dies
  pid <- parallel::clusterCall(cl[2], Sys.getpid)[[1]]
  tools::pskill(pid, tools::SIGKILL)
  Sys.sleep(0.3)
  set.seed(3)
  e <- tryCatch(simulate_network(net, networks = 64, inputs = 8, threads = 1, cl = cl),
                error = function(e) e)
  expect_s3_class(e, "initvar_worker_error")
  expect_match(conditionMessage(e), "worker 2 of 2")
  # nothing merged (block 1 on worker 1 is merged only with its round):
  # no 0-network "partial" result, and the message says so
  expect_null(e$partial)
  expect_null(last_partial())
  expect_match(conditionMessage(e), "Nothing finished yet")
})

test_that("progress bars show when asked and stay quiet otherwise", {
  skip_unless_full()
  skip_on_cran()
  # cli redraws on a timer (CLI_TICK_TIME, read when cli loads): a child
  # process with a 1 ms tick shows every update of these small runs
  code <- c(
    "suppressPackageStartupMessages(library(initvar))",
    "options(cli.progress_show_after = 0, cli.dynamic = FALSE)",
    "out <- function(expr) paste(capture.output(expr, type = 'message'), collapse = ' ')",
    "net <- mlp(c(10, 10, 10), 'tanh', init_glorot())",
    "res <- c(",
    "  sim = out(simulate_network(net, 40, 4, progress = TRUE)),",
    "  sim_off = out(simulate_network(net, 40, 4, progress = FALSE)),",
    "  sim_default = out(simulate_network(net, 40, 4)),",
    "  sweep = out(width_sweep(c(4, 8, 12), depth = 2, networks = 4, inputs = 2, progress = TRUE)),",
    "  schemes = out(compare_schemes(4, 4, reps = 2, progress = TRUE)),",
    "  all = out(verify_all(n = 1e4, progress = TRUE)),",
    "  all_default = out(verify_all(n = 1e4)),",
    "  net_id = out(verify('glorot_forward', n = 40, progress = TRUE)),",
    "  report = out(glorot_report(24, 4, 10, 2, quiet = FALSE, progress = TRUE)))",
    "saveRDS(res, commandArgs(TRUE)[1])")
script <- tempfile(fileext = ".R")
  rds <- tempfile(fileext = ".rds")
  writeLines(code, script)
  system2(file.path(R.home("bin"), "Rscript"), c(shQuote(script), shQuote(rds)),
          env = c("CLI_TICK_TIME=1", paste0("R_LIBS=", paste(.libPaths(), collapse = ":"))),
          stdout = FALSE, stderr = FALSE)
  res <- readRDS(rds)
  expect_match(res[["sim"]], "simulate_network")
  expect_match(res[["sim"]], "100%")
  expect_identical(res[["sim_off"]], "")
  expect_identical(res[["sim_default"]], "")
  expect_match(res[["sweep"]], "width_sweep")
  expect_match(res[["schemes"]], "compare_schemes")
  expect_match(res[["all"]], "verify_all")
  expect_identical(res[["all_default"]], "")
  expect_match(res[["net_id"]], "simulate_network")
  expect_match(res[["report"]], "simulate_network")
})
