# Thread policy, R side: the number of threads (initvar_threads()), the BLAS
# in use (initvar_blas()) and keeping the BLAS within initvar's own threads
# (local_blas_single_thread()). The C side is src/threads.c.

#' Number of threads used by initvar
#'
#' initvar's C routines use OpenMP threads where they pay. The default is
#' `getOption("initvar.threads")`, or 2 (CRAN's limit for examples and
#' checks), bounded by the number of processors and by `OMP_THREAD_LIMIT`.
#' Results never depend on the number of threads.
#'
#' @section Forked processes:
#' In a process forked from the R session that loaded initvar (as
#' [parallel::mclapply()] and [parallel::mcparallel()] do), initvar runs on
#' one thread, and so do the processes that such a child forks in turn, at
#' any depth: an OpenMP runtime cannot start threads in a child forked after
#' its parent used OpenMP, and initvar cannot know whether other code in the
#' parent did. The results are the same, only slower; fork one process per
#' core. A process started afresh (a PSOCK cluster from
#' [parallel::makeCluster()], `future::multisession`, `callr`) loads initvar
#' anew and uses threads as usual.
#'
#' @section BLAS threads:
#' A multithreaded BLAS (OpenBLAS, MKL, BLIS) starts its own threads in every
#' matrix product. initvar runs its own products (the networks of
#' [simulate_network()] and of the Glorot identities of [verify()], the QR of
#' [init_orthogonal()] in [sample_weights()], the moment reduction of
#' [verify()] for formulas) with the BLAS set to one thread, and restores
#' the user's setting afterwards, also after an error or an interrupt: its
#' threads are not oversubscribed by the BLAS's, and the results do not
#' depend on the BLAS's number of threads (a product is not bit-for-bit the
#' same for different numbers of BLAS threads) any more than on `threads`.
#' [initvar_blas()] shows which BLAS is in use and whether it can be
#' controlled.
#'
#' @param n `NULL` to query, or a positive whole number to set the default
#'   for this session.
#' @return The number of threads that will be used; when setting, the
#'   previous value, invisibly.
#' @examples
#' initvar_threads()
#' old <- initvar_threads(1)
#' initvar_threads(old)
#' @export
initvar_threads <- function(n = NULL) {
  available <- .Call(C_openmp_threads)
  if (!is.null(n)) {
    check_whole(n, "n", max = max_threads)
    old <- initvar_threads()
    options(initvar.threads = as.integer(n))
    return(invisible(old))
  }
  n <- getOption("initvar.threads", 2L)
  as.integer(max(1L, min(n, available)))
}

#' The BLAS in use
#'
#' Which BLAS library R's matrix products run on, how many threads it uses,
#' and whether initvar can keep it single-threaded while its own threads run
#' (see the section "BLAS threads" of [initvar_threads()]). The library is
#' recognized by the thread-control functions it exports: OpenBLAS, MKL,
#' BLIS and FlexiBLAS can be controlled; the reference BLAS is
#' single-threaded; Accelerate, ATLAS and unknown libraries are left alone.
#'
#' @return A one-row data frame: `name` (`"OpenBLAS"`, `"MKL"`, `"BLIS"`,
#'   `"FlexiBLAS"`, `"Accelerate"`, `"ATLAS"`, `"reference"` or
#'   `"unknown"`), `threads` (its current number of threads, `NA` when it
#'   cannot be asked), `controllable` (whether initvar can set it), `path`
#'   (the library that provides `dgemm`, `NA` when unknown) and `config`
#'   (OpenBLAS's build configuration, `NA` otherwise).
#' @examples
#' initvar_blas()
#' @export
initvar_blas <- function() {
  b <- .Call(C_blas_info)
  if (!is.na(b$path)) b$path <- normalizePath(b$path, mustWork = FALSE)  # through symlinks
  data.frame(b, stringsAsFactors = FALSE)
}

# Sets the BLAS's threads back to n (the on.exit action of
# local_blas_single_thread()).
blas_threads_restore <- function(n) invisible(.Call(C_blas_threads, as.integer(n)))

# Runs the BLAS on one thread until the calling function returns (by value,
# error or interrupt), then restores the user's setting. A no-op when the
# BLAS cannot be controlled or already uses one thread. The restore is
# registered before the change, so that an interrupt in between cannot
# leave the BLAS changed.
local_blas_single_thread <- function(envir = parent.frame()) {
  old <- .Call(C_blas_threads, NA_integer_)
  if (is.na(old) || old <= 1L) return(invisible(old))
  # the function object itself goes into the call: found from any frame
  restore <- as.call(list(blas_threads_restore, old))
  do.call(on.exit, list(restore, add = TRUE, after = FALSE), envir = envir)
  .Call(C_blas_threads, 1L)
  invisible(old)
}
