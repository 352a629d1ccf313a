#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Visibility.h>
#include "rng.h"

SEXP C_sample_iid(SEXP dim, SEXP family, SEXP params, SEXP threads);
SEXP C_sample_orthogonal(SEXP rows, SEXP cols, SEXP gain, SEXP threads);
SEXP C_sample_sparse(SEXP rows, SEXP cols, SEXP nzero, SEXP sd, SEXP threads);
SEXP C_openmp_threads(void);
SEXP C_simulate_block(SEXP spec, SEXP first, SEXP count, SEXP threads,
                      SEXP workspace);
SEXP C_workspace(SEXP spec, SEXP threads);
SEXP C_draw_seed(void);
SEXP C_network_trace(SEXP spec, SEXP net);
SEXP C_merge_acc(SEXP a, SEXP b);
SEXP C_moments(SEXP x, SEXP y);
SEXP C_identity(SEXP code, SEXP params, SEXP n, SEXP threads);
SEXP C_formula_moments(SEXP V, SEXP center, SEXP scale, SEXP pi, SEXP pj);
SEXP C_jacobian(SEXP spec, SEXP first, SEXP count, SEXP threads);
SEXP C_test_jacobian(SEXP spec, SEXP net);

/* Registered as "sample_iid" etc.; useDynLib(.fixes = "C_") names the R
   objects C_sample_iid etc., the same as the C functions. */
#define CALLDEF(name, n) {#name, (DL_FUNC) &C_##name, n}

static const R_CallMethodDef CallEntries[] = {
    CALLDEF(sample_iid, 4),
    CALLDEF(sample_orthogonal, 4),
    CALLDEF(sample_sparse, 5),
    CALLDEF(openmp_threads, 0),
    CALLDEF(simulate_block, 5),
    CALLDEF(workspace, 2),
    CALLDEF(draw_seed, 0),
    CALLDEF(network_trace, 2),
    CALLDEF(merge_acc, 2),
    CALLDEF(moments, 2),
    CALLDEF(identity, 4),
    CALLDEF(formula_moments, 5),
    CALLDEF(jacobian, 4),
    CALLDEF(test_jacobian, 2),
    {NULL, NULL, 0}
};

void attribute_visible R_init_initvar(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, CallEntries, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
    iv_zig_setup();
    iv_fork_guard();
}
