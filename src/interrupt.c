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

void iv_raise_interrupt(void)
{
    SEXP name = PROTECT(mkString("initvar"));
    SEXP ns = PROTECT(R_FindNamespace(name));
    SEXP call = PROTECT(lang1(install("raise_interrupt")));
    eval(call, ns);
    UNPROTECT(3); /* not reached: raise_interrupt() does not return */
}
