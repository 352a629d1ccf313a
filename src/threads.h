/* Thread policy: how many threads initvar's parallel sections may use, and
 * keeping the BLAS single-threaded while they run.  One file owns it
 * (threads.c); the parallel loops themselves stay with their kernels.
 *
 * - iv_threads(requested) bounds a request by what OpenMP offers
 *   (omp_get_thread_limit(), omp_get_num_procs()); 1 without OpenMP, and 1
 *   in a forked process (see iv_in_fork()).
 * - iv_in_fork(): nonzero in a process forked from the one that loaded
 *   initvar (parallel::mclapply, mcparallel), and in every process forked
 *   from such a child in turn, at any depth.  OpenMP runtimes cannot start
 *   a team in a child forked after the parent used OpenMP (libgomp hangs),
 *   and initvar cannot know whether some other code did, so forked
 *   processes run single-threaded.  A process started afresh (Rscript, a
 *   PSOCK worker, callr) loads initvar anew and is not affected.
 * - BLAS: iv_blas_set_threads(n) sets the number of threads of the BLAS in
 *   use, when it can be controlled (OpenBLAS, MKL, BLIS, FlexiBLAS), and
 *   returns the previous number (or -1 when it cannot).  R code keeps it at
 *   1 during the engine's parallel sections and restores it with on.exit()
 *   (local_blas_single_thread() in R/threads.R), so that an error or an
 *   interrupt restores it too. */
#ifndef INITVAR_THREADS_H
#define INITVAR_THREADS_H

#ifdef _OPENMP
/* Rinternals.h defines `match` as Rf_match, and clang's omp.h uses the
   word in a pragma ("declare variant match(...)"): hide the macro while
   omp.h is read, wherever this header comes in the include order. */
# ifdef match
#  undef match
#  include <omp.h>
#  define match Rf_match
# else
#  include <omp.h>
# endif
#endif

/* Record the process that loaded initvar; called from R_init_initvar. */
void iv_threads_init(void);
int iv_in_fork(void);
/* Threads requested, bounded by what OpenMP offers (1 without OpenMP, 1 in
   a forked process). */
int iv_threads(int requested);
/* The previous number of BLAS threads, or -1 when the BLAS in use cannot be
   controlled; n < 1 only queries. Main thread only. */
int iv_blas_set_threads(int n);

/* This thread's number in the current team (0 outside a team). */
static inline int iv_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#endif
