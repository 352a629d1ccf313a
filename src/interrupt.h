/* User interrupts for long computations.
 *
 * iv_interrupted() asks R whether the user pressed Ctrl-C without letting R
 * jump out of the caller (R_CheckUserInterrupt under R_ToplevelExec): the
 * caller can then stop its threads, free what it holds and return. It must
 * be called from R's main thread only, which inside an OpenMP region is
 * thread 0 of a team started from the main thread; iv_poll() does that.
 * R clears its pending flag when it reports the interrupt, so after cleanup
 * the caller either returns a partial result for R code to re-signal, or
 * calls iv_raise_interrupt(), which signals the interrupt condition (class
 * c("initvar_interrupt", "interrupt", "condition")) and does not return. */
#ifndef INITVAR_INTERRUPT_H
#define INITVAR_INTERRUPT_H

#include <R.h>
#include <Rinternals.h>
#include "threads.h"

int iv_interrupted(void);
/* The same, but asking R at most every 5 ms since *last (a time from the
   same clock; < 0: never asked, so ask now), which it updates; else 0. */
int iv_interrupted_throttled(double *last);
void iv_raise_interrupt(void);

/* A stop flag shared by the threads of one computation. */
typedef struct {
    volatile int stop;
    double last;     /* when the main thread last asked R; 0-initialized: ask */
} iv_stop_t;

/* Nonzero when the computation should stop: the flag is set, or this is the
   main thread and the user interrupted (then the flag is set for the others).
   R is asked at the first poll of a computation and then at most every
   5 ms, so that polling costs nothing next to the work between polls and
   the latency stays a few milliseconds. */
static inline int iv_poll(iv_stop_t *s)
{
    if (s == NULL) return 0;
    if (s->stop) return 1;
    if (iv_thread_num() != 0) return 0;
    if (iv_interrupted_throttled(&s->last)) {
        s->stop = 1;
#ifdef _OPENMP
#pragma omp flush
#endif
        return 1;
    }
    return 0;
}

#endif
