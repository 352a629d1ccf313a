/* The two inner sums of softmax_moments_exact() (R/net-transformer.R),
 * the softmax moments of Gaussian logits that the transformer predictions
 * tabulate: done in R they cost seconds on the first prediction of a
 * session (one exp per term; 10^8 terms for the tables of one m, 10^9 for
 * the 4096 m of a causal seq_len = 4096).
 *
 * C_gauss_smooth(x, v, F): G[j, k] = sum_i exp(-(x_i - v_j)^2 / 2) F[i, k]
 * for x and v on uniform grids (x_i = x_0 + i dx; v in any order; x
 * constant, as at sigma = Inf, by one exp per term). The
 * Gaussian factors by the recurrence g_{i+1} = g_i r_i, r_{i+1} = r_i
 * exp(-dx^2), r_i = exp(-dx (x_i - v) - dx^2 / 2), outward from the node
 * nearest v_j, exact (one exp) every 32 nodes, so that the relative error
 * stays below 1e-13 (32^2 / 2 roundings of exp(-dx^2)); it stops where the
 * factor falls below 1e-300 (the terms that R's exp() underflows too).
 *
 * C_softmax_powsum(a, W, m): S[j, k] = sum_u a_u^(m_j - 1) W[u, k] for
 * 0 <= a_u <= 1 and m ascending (m_j >= 2): the powers by repeated
 * multiplication along m (a relative error of m eps, 5e-13 at m = 4096),
 * the nodes whose power has underflowed to 0 dropped.
 */
#include <R.h>
#include <Rinternals.h>
#include <math.h>
#include "api.h"

#define RESYNC 32

SEXP C_gauss_smooth(SEXP x_, SEXP v_, SEXP F_)
{
    R_xlen_t n = XLENGTH(x_), nv = XLENGTH(v_);
    if (!isReal(x_) || !isReal(v_) || !isReal(F_) || !isMatrix(F_) || nrows(F_) != n || n < 2)
        error("gauss_smooth: bad arguments");
    int nk = ncols(F_);
    const double *x = REAL(x_), *v = REAL(v_), *F = REAL(F_);
    double x0 = x[0], dx = (x[n - 1] - x[0]) / (double) (n - 1);
    SEXP G_ = PROTECT(allocMatrix(REALSXP, (int) nv, nk));
    double *G = REAL(G_);
    for (R_xlen_t e = 0; e < nv * nk; e++) G[e] = 0;
    if (!(dx > 0) || !R_FINITE(dx)) {
        /* not an ascending grid (x constant at sigma = Inf): one exp per term */
        for (R_xlen_t j = 0; j < nv; j++)
            for (R_xlen_t i = 0; i < n; i++) {
                double z = x[i] - v[j], g = exp(-z * z / 2);
                for (int k = 0; k < nk; k++) G[j + (R_xlen_t) k * nv] += g * F[i + (R_xlen_t) k * n];
            }
        UNPROTECT(1);
        return G_;
    }
    double c = exp(-dx * dx);
    for (R_xlen_t j = 0; j < nv; j++) {
        double vj = v[j];
        double pos = (vj - x0) / dx;
        R_xlen_t i0 = pos <= 0 ? 0 : (pos >= (double) (n - 1) ? n - 1 : (R_xlen_t) floor(pos + 0.5));
        /* upward from i0, then downward from i0 - 1 */
        for (int dir = 0; dir < 2; dir++) {
            R_xlen_t i = dir == 0 ? i0 : i0 - 1;
            double g = 0, r = 0;
            int step = 0;
            while (i >= 0 && i < n) {
                double z = (x0 + (double) i * dx) - vj;
                if (step % RESYNC == 0) {
                    g = exp(-z * z / 2);
                    r = dir == 0 ? exp(-dx * z - dx * dx / 2) : exp(dx * z - dx * dx / 2);
                } else {
                    g *= r;
                    r *= c;
                }
                /* moving away from the peak, the factor only falls */
                int away = dir == 0 ? z > 0 : z < 0;
                if (g < 1e-300 && away) break;
                for (int k = 0; k < nk; k++) G[j + (R_xlen_t) k * nv] += g * F[i + (R_xlen_t) k * n];
                step++;
                i += dir == 0 ? 1 : -1;
            }
        }
    }
    UNPROTECT(1);
    return G_;
}

SEXP C_softmax_powsum(SEXP a_, SEXP W_, SEXP m_)
{
    R_xlen_t nu = XLENGTH(a_), nm = XLENGTH(m_);
    if (!isReal(a_) || !isReal(W_) || !isMatrix(W_) || nrows(W_) != nu || !isInteger(m_))
        error("softmax_powsum: bad arguments");
    int nk = ncols(W_);
    const double *a = REAL(a_), *W = REAL(W_);
    const int *m = INTEGER(m_);
    for (R_xlen_t j = 0; j < nm; j++) {
        if (m[j] < 2 || (j > 0 && m[j] < m[j - 1])) error("softmax_powsum: `m` must ascend from 2");
    }
    if (nk != 5) error("softmax_powsum: `W` must have 5 columns");
    SEXP S_ = PROTECT(allocMatrix(REALSXP, (int) nm, nk));
    double *S = REAL(S_);
    /* m outermost: p[i] = a^(m - 1) at the nodes with a > 0, updated in
       place, the five sums in registers (over u ascending, as before);
       a power that underflows to 0 stays 0 for every larger m (a <= 1),
       so the trailing nodes at 0 are dropped */
    double *p = (double *) R_alloc(nu, sizeof(double));
    int *keep = (int *) R_alloc(nu, sizeof(int));
    R_xlen_t nkeep = 0;
    for (R_xlen_t u = 0; u < nu; u++) if (a[u] > 0) keep[nkeep++] = (int) u;
    const double *W0 = W, *W1 = W + nu, *W2 = W + 2 * nu, *W3 = W + 3 * nu, *W4 = W + 4 * nu;
    for (R_xlen_t i = 0; i < nkeep; i++) p[i] = pow(a[keep[i]], (double) (m[0] - 1));
    for (R_xlen_t j = 0; j < nm; j++) {
        if (j > 0) {
            int gap = m[j] - m[j - 1];
            if (gap == 1) {
                for (R_xlen_t i = 0; i < nkeep; i++) p[i] *= a[keep[i]];
            } else if (gap > 1) {
                for (R_xlen_t i = 0; i < nkeep; i++) p[i] *= pow(a[keep[i]], (double) gap);
            }
        }
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
        R_xlen_t last = -1;
        for (R_xlen_t i = 0; i < nkeep; i++) {
            double pi = p[i];
            if (pi == 0) continue;
            last = i;
            int u = keep[i];
            s0 += pi * W0[u]; s1 += pi * W1[u]; s2 += pi * W2[u]; s3 += pi * W3[u]; s4 += pi * W4[u];
        }
        /* the trailing zeros stay 0 for every larger m */
        nkeep = last + 1;
        S[j] = s0; S[j + nm] = s1; S[j + 2 * nm] = s2; S[j + 3 * nm] = s3; S[j + 4 * nm] = s4;
    }
    UNPROTECT(1);
    return S_;
}

/* C_prefix2(M, suffix): the causal uniform attention's A M A^T and A^T G A
 * (uniform_sandwich(), R/net-transformer.R; A_ts = 1 / t for s <= t) in
 * O(T^2) without R's apply() over rows and columns: Q[i, j] = the sum of
 * M[s, s'] over s <= i, s' <= j, divided by i j (1-based); with `suffix`,
 * the sum of M[s, s'] / (s s') over s >= i, s' >= j. */
SEXP C_prefix2(SEXP M_, SEXP suffix_)
{
    if (!isReal(M_) || !isMatrix(M_)) error("prefix2: bad arguments");
    int nr = nrows(M_), nc = ncols(M_), suf = asLogical(suffix_) == TRUE;
    const double *M = REAL(M_);
    SEXP Q_ = PROTECT(allocMatrix(REALSXP, nr, nc));
    double *Q = REAL(Q_);
    /* Q holds the undivided sums first (prefix) */
    for (int jj = 0; jj < nc; jj++) {
        int j = suf ? nc - 1 - jj : jj;
        int jprev = suf ? j + 1 : j - 1;
        double run = 0;   /* the column's running sum over rows */
        for (int ii = 0; ii < nr; ii++) {
            int i = suf ? nr - 1 - ii : ii;
            R_xlen_t e = i + (R_xlen_t) j * nr;
            run += suf ? M[e] / ((double) (i + 1) * (double) (j + 1)) : M[e];
            Q[e] = run + (jj > 0 ? Q[i + (R_xlen_t) jprev * nr] : 0);
        }
    }
    if (!suf) {
        for (int j = 0; j < nc; j++)
            for (int i = 0; i < nr; i++) Q[i + (R_xlen_t) j * nr] /= (double) (i + 1) * (double) (j + 1);
    }
    UNPROTECT(1);
    return Q_;
}
