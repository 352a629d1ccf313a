#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Visibility.h>
#include "rng.h"
#include "api.h"
#include "threads.h"

/* Registered as "sample_iid" etc.; useDynLib(.fixes = "C_") names the R
   objects C_sample_iid etc., the same as the C functions. */
/* Through void (*)(void), the generic function pointer type that
   -Wcast-function-type (in -Wextra) accepts as a cast target. */
#define CALLDEF(name, n) {#name, (DL_FUNC) (void (*)(void)) &C_##name, n}

static const R_CallMethodDef CallEntries[] = {
    CALLDEF(sample_iid, 4),
    CALLDEF(sample_orthogonal, 4),
    CALLDEF(sample_sparse, 5),
    CALLDEF(openmp_threads, 0),
    CALLDEF(blas_threads, 1),
    CALLDEF(blas_info, 0),
    CALLDEF(test_fill_repeat, 5),
    CALLDEF(simulate_block, 5),
    CALLDEF(workspace, 2),
    CALLDEF(merge_acc, 2),
    CALLDEF(identity_moments, 4),
    CALLDEF(formula_moments, 5),
    CALLDEF(test_network_trace, 2),
    CALLDEF(test_moments, 2),
    CALLDEF(test_vocabulary, 0),
    CALLDEF(test_act_eval, 3),
    CALLDEF(attention, 7),
    CALLDEF(jacobian, 4),
    CALLDEF(correlation, 4),
    CALLDEF(test_jacobian, 2),
    CALLDEF(gauss_smooth, 3),
    CALLDEF(softmax_powsum, 3),
    CALLDEF(prefix2, 2),
    {NULL, NULL, 0}
};

void attribute_visible R_init_initvar(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, CallEntries, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
    iv_zig_setup();
    iv_threads_init();
}
