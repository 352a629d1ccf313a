#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include "interrupt.h"

static void check_interrupt_fn(void *unused)
{
    (void) unused;
    R_CheckUserInterrupt();
}

int iv_interrupted(void)
{
    return R_ToplevelExec(check_interrupt_fn, NULL) == FALSE;
}

/* Asking R costs about a microsecond (a top-level context and R's event
   check), which is most of the work of a small network's layer: ask at most
   every IV_POLL_INTERVAL seconds of wall time. Main thread only, so the
   state (the caller's) needs no synchronization. */
#define IV_POLL_INTERVAL 0.005

static double iv_now(void)
{
#ifdef CLOCK_MONOTONIC
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1;
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
#else
    return -1;   /* no clock: always ask */
#endif
}

int iv_interrupted_throttled(double *last)
{
    double t = iv_now();
    /* *last == 0: a fresh computation (its iv_stop_t zero-initialized) */
    if (t > 0 && *last > 0 && t >= *last && t - *last < IV_POLL_INTERVAL) return 0;
    *last = t;
    return iv_interrupted();
}

void iv_raise_interrupt(void)
{
    SEXP name = PROTECT(mkString("initvar"));
    SEXP ns = PROTECT(R_FindNamespace(name));
    SEXP call = PROTECT(lang1(install("raise_interrupt")));
    eval(call, ns);
    UNPROTECT(3); /* not reached: raise_interrupt() does not return */
}
