/* C_test_act_eval(code, param, x): f(x) and f'(x) of built-in activation
   `code`, as act_eval() computes them in the engine, as a length(x) x 2
   matrix; for the tests of the C activations (and of the fast tanh)
   against R and against high-precision references. */
#include <R.h>
#include <Rinternals.h>
#include "activations.h"
#include "checks.h"
#include "api.h"

SEXP C_test_act_eval(SEXP code, SEXP param, SEXP x)
{
    int c = iv_int_arg(code, "code");
    if (c < ACT_LINEAR || c >= ACT_R) error("`code` must be the code of a built-in activation.");
    double a = iv_real_arg(param, "param");
    if (!isReal(x)) error("`x` must be a double vector.");
    R_xlen_t n = XLENGTH(x);
    if (n > INT_MAX) error("`x` is too long.");
    SEXP ans = PROTECT(allocMatrix(REALSXP, (int) n, 2));
    const double *px = REAL(x);
    double *z = REAL(ans), *dz = REAL(ans) + n;
    for (R_xlen_t i = 0; i < n; i++) z[i] = act_eval(c, a, px[i], dz + i);
    UNPROTECT(1);
    return ans;
}
