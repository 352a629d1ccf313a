/* One chunk of a user identity's draws reduced to the mean vector and the
 * centred cross-product matrix of its moment columns (see
 * R/verify-formula.R): column r is u_i (pj[r] = 0) or u_i u_j, with
 * u_i = (V_i - center_i) / scale_i, so that no L x k' matrix is formed.
 * Sums are shifted by the chunk's first row, so nothing cancels. */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#ifndef FCONE
# define FCONE
#endif

#define BLK 256

SEXP C_formula_moments(SEXP V, SEXP center, SEXP scale, SEXP pi, SEXP pj)
{
    if (TYPEOF(V) != VECSXP || XLENGTH(V) < 1) error("`V` must be a non-empty list.");
    int k = (int) XLENGTH(V);
    if (TYPEOF(center) != REALSXP || XLENGTH(center) != k) error("`center` must be a double vector, one per element of `V`.");
    if (TYPEOF(scale) != REALSXP || XLENGTH(scale) != k) error("`scale` must be a double vector, one per element of `V`.");
    if (TYPEOF(pi) != INTSXP || TYPEOF(pj) != INTSXP || XLENGTH(pi) != XLENGTH(pj) || XLENGTH(pi) < 1)
        error("`pi` and `pj` must be integer vectors of one length.");
    int m = (int) XLENGTH(pi);
    if (m > 10000) error("`pi` is too long.");
    R_xlen_t L = -1;
    for (int i = 0; i < k; i++) {
        SEXP v = VECTOR_ELT(V, i);
        if (TYPEOF(v) != REALSXP) error("`V[[%d]]` must be a double vector.", i + 1);
        if (L < 0) L = XLENGTH(v);
        else if (XLENGTH(v) != L) error("`V[[%d]]` must have the length of `V[[1]]`.", i + 1);
    }
    if (L < 2) error("`V` must hold at least 2 draws.");
    const int *ip = INTEGER(pi), *jp = INTEGER(pj);
    const double *c = REAL(center), *s = REAL(scale);
    for (int r = 0; r < m; r++) {
        if (ip[r] < 1 || ip[r] > k || jp[r] < 0 || jp[r] > k) error("`pi` or `pj` is out of range.");
    }
    for (int i = 0; i < k; i++) {
        if (!R_FINITE(c[i]) || !R_FINITE(s[i]) || s[i] <= 0) error("`center` and `scale` must be finite, `scale` positive.");
    }
    const double **col = (const double **) R_alloc(k, sizeof(double *));
    for (int i = 0; i < k; i++) col[i] = REAL(VECTOR_ELT(V, i));
    double *U = (double *) R_alloc((size_t) BLK * k, sizeof(double));
    double *Y = (double *) R_alloc((size_t) BLK * m, sizeof(double));  /* BLK x m, by column */
    double *y0 = (double *) R_alloc(m, sizeof(double));
    double *S1 = (double *) R_alloc(m, sizeof(double));
    double *S2 = (double *) R_alloc((size_t) m * m, sizeof(double));  /* upper triangle */
    memset(S1, 0, m * sizeof(double));
    memset(S2, 0, (size_t) m * m * sizeof(double));
    double *is = (double *) R_alloc(k, sizeof(double));
    for (int i = 0; i < k; i++) is[i] = 1 / s[i];
    /* the first row's y, the shift */
    for (int r = 0; r < m; r++) {
        double a = (col[ip[r] - 1][0] - c[ip[r] - 1]) * is[ip[r] - 1];
        y0[r] = jp[r] ? a * ((col[jp[r] - 1][0] - c[jp[r] - 1]) * is[jp[r] - 1]) : a;
    }
    const double one = 1.0;
    for (R_xlen_t t0 = 0; t0 < L; t0 += BLK) {
        int nb = (int) (L - t0 < BLK ? L - t0 : BLK);
        for (int i = 0; i < k; i++) {
            const double *src = col[i] + t0;
            double *dst = U + (size_t) i * BLK;
            for (int b = 0; b < nb; b++) dst[b] = (src[b] - c[i]) * is[i];
        }
        for (int r = 0; r < m; r++) {
            const double *a = U + (size_t) (ip[r] - 1) * BLK;
            double *dst = Y + (size_t) r * BLK, sum = 0, sh = y0[r];
            if (jp[r]) {
                const double *bb = U + (size_t) (jp[r] - 1) * BLK;
                for (int b = 0; b < nb; b++) { dst[b] = a[b] * bb[b] - sh; sum += dst[b]; }
            } else {
                for (int b = 0; b < nb; b++) { dst[b] = a[b] - sh; sum += dst[b]; }
            }
            S1[r] += sum;
        }
        /* S2 += Y' Y (upper triangle) */
        int ld = BLK;
        F77_CALL(dsyrk)("U", "T", &m, &nb, &one, Y, &ld, &one, S2, &m FCONE FCONE);
        if ((t0 & 0xFFFF) == 0 && t0 > 0) R_CheckUserInterrupt();
    }
    SEXP ans = PROTECT(allocVector(VECSXP, 3));
    SEXP nn = PROTECT(ScalarReal((double) L));
    SEXP mean = PROTECT(allocVector(REALSXP, m));
    SEXP C = PROTECT(allocMatrix(REALSXP, m, m));
    double *mu = REAL(mean), *Cp = REAL(C);
    for (int r = 0; r < m; r++) mu[r] = S1[r] / L;
    for (int r = 0; r < m; r++) {
        for (int q = r; q < m; q++) {
            /* dsyrk's upper triangle, column-major: element (r, q) at r + q m */
            double v = S2[r + (size_t) q * m] - L * mu[r] * mu[q];
            Cp[r + (size_t) q * m] = v;
            Cp[q + (size_t) r * m] = v;
        }
    }
    for (int r = 0; r < m; r++) mu[r] += y0[r];
    SET_VECTOR_ELT(ans, 0, nn);
    SET_VECTOR_ELT(ans, 1, mean);
    SET_VECTOR_ELT(ans, 2, C);
    SEXP names = PROTECT(allocVector(STRSXP, 3));
    SET_STRING_ELT(names, 0, mkChar("n"));
    SET_STRING_ELT(names, 1, mkChar("mean"));
    SET_STRING_ELT(names, 2, mkChar("C"));
    setAttrib(ans, R_NamesSymbol, names);
    UNPROTECT(5);
    return ans;
}
