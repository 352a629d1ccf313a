#include "checks.h"
#include <math.h>

double iv_real_arg(SEXP x, const char *name)
{
    if ((!isReal(x) && !isInteger(x)) || XLENGTH(x) != 1)
        error("`%s` must be a single number.", name);
    double v = asReal(x);
    if (!R_FINITE(v)) error("`%s` must be finite.", name);
    return v;
}

int iv_int_arg(SEXP x, const char *name)
{
    double v = iv_real_arg(x, name);
    if (v != floor(v) || fabs(v) > INT_MAX)
        error("`%s` must be a whole number.", name);
    return (int) v;
}

R_xlen_t iv_size_arg(SEXP x, const char *name, double max)
{
    double v = iv_real_arg(x, name);
    if (v < 1 || v != floor(v) || v > max)
        error("`%s` must be a positive whole number no larger than %.0f.",
              name, max);
    return (R_xlen_t) v;
}

const double *iv_real_vec_arg(SEXP x, const char *name, R_xlen_t len)
{
    if (!isReal(x) || XLENGTH(x) != len)
        error("`%s` must be a double vector of length %d.", name, (int) len);
    const double *p = REAL(x);
    for (R_xlen_t i = 0; i < len; i++)
        if (ISNAN(p[i])) error("`%s` must not contain NA or NaN.", name);
    return p;
}

R_xlen_t iv_dims_total(SEXP dim, const char *name)
{
    if ((!isReal(dim) && !isInteger(dim)) || XLENGTH(dim) < 1)
        error("`%s` must be a non-empty numeric vector.", name);
    double total = 1;
    for (R_xlen_t i = 0; i < XLENGTH(dim); i++) {
        double d = isReal(dim) ? REAL(dim)[i]
            : (INTEGER(dim)[i] == NA_INTEGER ? NA_REAL : INTEGER(dim)[i]);
        if (!R_FINITE(d) || d < 1 || d != floor(d) || d > INT_MAX)
            error("`%s` must hold positive whole numbers no larger than %d.",
                  name, INT_MAX);
        total *= d;
        if (total > (double) R_XLEN_T_MAX)
            error("`%s` describes more elements than R can store in one vector.",
                  name);
    }
    return (R_xlen_t) total;
}
