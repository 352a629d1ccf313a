# Interrupts, partial results, progress bars and cluster failures.
#
# C routines stop promptly on Ctrl-C (see src/interrupt.h) and hand back
# what they finished; R code then re-signals the interrupt as a condition
# carrying the partial result.

the <- new.env(parent = emptyenv())
the$last_partial <- NULL

# Signal an interrupt of class c("initvar_interrupt", "interrupt",
# "condition") whose `partial` field holds what was finished, and, when no
# handler takes it, return to the top level as an interrupt does. Never
# returns. Called from R and from C (iv_raise_interrupt).
#
# With nothing finished (`partial` NULL) the condition has class
# "initvar_nothing_finished" too, its message says so (with `what`, what
# was not done, when given: "no network done") and `last_partial()` is cleared: it never
# hands back an older run's result as this one's.
raise_interrupt <- function(partial = NULL, what = NULL) {
  the$last_partial <- partial
  msg <- if (!is.null(partial)) {
    "interrupted: the partial result is in `e$partial` and `last_partial()`"
  } else if (!is.null(what)) {
    sprintf("interrupted: nothing finished yet (%s), so there is no partial result", what)
  } else {
    "interrupted: nothing finished yet, so there is no partial result"
  }
  cond <- structure(
    class = c(if (is.null(partial)) "initvar_nothing_finished", "initvar_interrupt",
              "interrupt", "condition"),
    list(message = msg, call = NULL, partial = partial))
  signalCondition(cond)
  invokeRestart("abort")
}

#' The partial result of the last interrupted run
#'
#' When [simulate_network()] or [verify()] is interrupted (Ctrl-C, or a
#' failed cluster worker), it keeps what it finished: networks are merged
#' in blocks of 8, draws in chunks, both exactly, so the finished part is a
#' valid smaller run. So do [first_step()] (the networks done),
#' [coordinate_check()] and [width_sweep()] (the widths done, and the
#' partial result of the width in progress) and [simulate_correlation()]
#' (the blocks of networks done). The interrupt is re-signalled as a condition of class
#' `c("initvar_interrupt", "interrupt", "condition")` whose `partial` field
#' is that result (with `networks` or `n` set to what was done), so
#' `tryCatch(simulate_network(...), interrupt = function(e) e$partial)`
#' returns it; `last_partial()` returns the last one. Interrupted before
#' anything finished, the condition also has class
#' `initvar_nothing_finished`, says so in its message, and its `partial`
#' and `last_partial()` are `NULL`.
#'
#' An interrupted simulation can be continued with
#' `simulate_network(net, networks = N, resume = partial)`: the result is
#' identical to an uninterrupted run of `N` networks with the same seed.
#'
#' @param clear Forget the stored partial result after returning it.
#' @return The partial result (an `initvar_simulation`, an
#'   `initvar_verification`, ...), or `NULL` if nothing was interrupted or
#'   the last interrupted run had finished nothing.
#' @examples
#' set.seed(1)
#' net <- mlp(c(20, 20, 20), "tanh", init_glorot())
#' sim <- tryCatch(simulate_network(net, networks = 16, inputs = 8),
#'                 interrupt = function(e) e$partial)
#' is.null(last_partial())   # TRUE: nothing was interrupted
#' @export
last_partial <- function(clear = FALSE) {
  out <- the$last_partial
  check_flag(clear, "clear")
  if (clear) the$last_partial <- NULL
  out
}

# ---- progress bars (cli) ----------------------------------------------------

# A cli progress bar in the caller's frame (closed when it returns), or
# NULL when `show` (the `progress` argument) is FALSE.
progress_bar <- function(show, total, name, .envir = parent.frame()) {
  check_flag(show, "progress")
  if (!show || total < 1) return(NULL)
  cli::cli_progress_bar(name = name, total = total, clear = TRUE, .envir = .envir)
}

progress_set <- function(bar, set, .envir = parent.frame()) {
  if (!is.null(bar)) cli::cli_progress_update(id = bar, set = set, .envir = .envir)
  invisible(NULL)
}

# ---- parallel clusters ------------------------------------------------------

# Runs on a worker: never throws, so that a worker's error is attributed to
# that worker rather than lost with its round.
cluster_block_worker <- function(block, spec, threads) {
  tryCatch(list(ok = TRUE, value = sim_block_worker(block, spec, threads)),
           error = function(e) list(ok = FALSE, message = conditionMessage(e),
                                    pid = Sys.getpid(), host = Sys.info()[["nodename"]]))
}

# One round: block i on worker i. Returns list(results, failed, message):
# the results of the blocks before the first failure, in block order, the
# failed worker's index (or NA) and what went wrong.
sim_cluster_round <- function(cl, blocks, spec, threads) {
  nodes <- seq_along(blocks)
  res <- tryCatch(parallel::clusterApply(cl[nodes], blocks, cluster_block_worker,
                                         spec = spec, threads = threads),
                  error = function(e) e)
  if (inherits(res, "error")) {
    # a worker died or its connection broke: find the first that does not
    # answer (the ones before it in the round have been read)
    failed <- NA_integer_
    for (i in nodes) {
      alive <- tryCatch({
        parallel::clusterCall(cl[i], Sys.getpid)
        TRUE
      }, error = function(e) FALSE)
      if (!alive) {
        failed <- i
        break
      }
    }
    return(list(results = list(), failed = failed,
                message = paste("it stopped responding:", conditionMessage(res))))
  }
  ok <- vapply(res, function(r) is.list(r) && isTRUE(r$ok), TRUE)
  if (all(ok)) return(list(results = lapply(res, `[[`, "value"), failed = NA_integer_))
  i <- which(!ok)[1]
  r <- res[[i]]
  list(results = lapply(res[seq_len(i - 1)], `[[`, "value"), failed = i,
       message = if (is.list(r) && !is.null(r$message)) sprintf("%s (pid %s on %s)", r$message,
         r$pid, r$host) else "it returned an invalid result")
}

# The error for a failed worker, carrying the partial result.
worker_error <- function(failed, ncl, message, first, last, partial) {
  the$last_partial <- partial
  who <- if (is.na(failed)) "a worker of the cluster" else sprintf("worker %d of %d", failed, ncl)
  msg <- if (is.null(partial)) {
    sprintf(paste0("%s failed on networks %.0f-%.0f: %s\nNothing finished yet: no networks ",
                   "were merged before, so there is no partial result."),
            who, first, last, message)
  } else {
    sprintf(paste0("%s failed on networks %.0f-%.0f: %s\nThe %.0f networks merged before ",
                   "are kept: see `last_partial()` or the error's `partial` field, and ",
                   "continue with `simulate_network(..., resume = last_partial())`."),
            who, first, last, message, partial$networks)
  }
  stop(structure(class = c("initvar_worker_error", "error", "condition"),
                 list(message = msg, call = NULL, worker = failed, partial = partial)))
}

# ---- resuming a simulation --------------------------------------------------

check_resume <- function(resume, networks) {
  st <- if (inherits(resume, "initvar_simulation")) resume$resume
  if (is.null(st) || is.null(st$setup)) {
    abort_arg("resume", "NULL or a partial result of `simulate_network()` (from `last_partial()`)",
              resume)
  }
  done <- st$blocks * sim_block_size
  if (networks < resume$networks) {
    abort_arg("networks", sprintf("at least the %.0f networks of `resume`", resume$networks), networks)
  }
  if (resume$networks %% sim_block_size != 0 && networks != resume$networks) {
    abort_arg("networks", sprintf("%.0f, the size of `resume` (it ended with a partial block)",
                                  resume$networks), networks)
  }
  invisible(done)
}
