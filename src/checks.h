/* Argument checks for the .Call entry points.  The R wrappers check
 * everything first, with friendlier messages; these guard against direct
 * calls through initvar::: so that no input can crash R. */
#ifndef INITVAR_CHECKS_H
#define INITVAR_CHECKS_H

#include <R.h>
#include <Rinternals.h>

/* A positive whole number no larger than `max`, as R_xlen_t. */
R_xlen_t iv_size_arg(SEXP x, const char *name, double max);
/* A length-one finite double. */
double iv_real_arg(SEXP x, const char *name);
/* A length-one non-NA integer (or whole double). */
int iv_int_arg(SEXP x, const char *name);
/* A double vector of exactly `len` elements (may hold infinities). */
const double *iv_real_vec_arg(SEXP x, const char *name, R_xlen_t len);
/* Product of a vector of dimensions, checked against R's vector limit. */
R_xlen_t iv_dims_total(SEXP dim, const char *name);

#endif
