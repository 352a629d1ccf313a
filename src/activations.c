/* C_test_act_eval(code, param, x): f(x) and f'(x) of built-in activation
   `code`, as the engine computes them (act_eval(); for tanh, the column form,
   checked against act_eval() bit for bit on x86-64), as a length(x) x 2
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
    if (c == ACT_TANH) {
        /* the engine's column form (two lanes at a time where the compiler
           has vector extensions), which must equal act_eval()'s scalar
           iv_tanh() bit for bit */
        iv_tanh_column(px, 0.0, NULL, z, dz, (int) n);
        /* (iv_tanh_column() accepts dz = NULL; this one is not, and saying
           so keeps gcc -fanalyzer from following that path here) */
        if (!dz) error("no derivative column.");
#if defined(__x86_64__)
        /* (where the compiler may contract a * b + c into one rounding, as
           on arm64, the forms may differ in the last bit) */
        for (R_xlen_t i = 0; i < n; i++) {
            double d1, z1 = act_eval(c, a, px[i], &d1);
            if (!(z1 == z[i] && d1 == dz[i]) && !(ISNAN(z1) && ISNAN(z[i])))
                error("the column tanh differs from the scalar one at x = %.17g.", px[i]);
        }
#endif
    } else {
        for (R_xlen_t i = 0; i < n; i++) z[i] = act_eval(c, a, px[i], dz + i);
    }
    UNPROTECT(1);
    return ans;
}
