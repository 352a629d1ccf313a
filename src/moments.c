#include <R.h>
#include <Rinternals.h>
#include <string.h>
#include "moments.h"
#include "checks.h"
#include "api.h"

void iv_acc_from_network(double *acc, const double *s)
{
    acc[0] = s[0]; acc[1] = s[1]; acc[2] = s[2]; acc[3] = s[3]; acc[4] = s[4];
    acc[5] = 1; acc[6] = s[5]; acc[7] = s[6];
    acc[8] = 0; acc[9] = 0; acc[10] = 0;
    acc[11] = s[7]; acc[12] = 0;
}

void iv_acc_merge(double *a, const double *b)
{
    if (b[0] == 0 && b[5] == 0) return;
    if (a[0] == 0 && a[5] == 0) {
        memcpy(a, b, IV_NACC * sizeof(double));
        return;
    }
    /* pooled central moments, Pebay (2008) eqs. 2.1-2.3 */
    double na = a[0], nb = b[0], n = na + nb;
    double delta = b[1] - a[1], dn = delta / n;
    double dn2 = dn * dn;
    double t = delta * dn * na * nb; /* = delta^2 na nb / n */
    double M2 = a[2] + b[2] + t;
    double M3 = a[3] + b[3] + t * dn * (na - nb) + 3 * dn * (na * b[2] - nb * a[2]);
    double M4 = a[4] + b[4] + t * dn2 * (na * na - na * nb + nb * nb)
        + 6 * dn2 * (na * na * b[2] + nb * nb * a[2]) + 4 * dn * (na * b[3] - nb * a[3]);
    a[0] = n;
    a[1] = a[1] + nb * dn;
    a[2] = M2; a[3] = M3; a[4] = M4;
    /* network-level co-moments, Chan, Golub & LeVeque (1979) */
    double Ja = a[5], Jb = b[5], J = Ja + Jb;
    double da = b[6] - a[6], db = b[7] - a[7], de = b[11] - a[11];
    double f = Ja * Jb / J;
    a[8] += b[8] + da * da * f;
    a[9] += b[9] + db * db * f;
    a[10] += b[10] + da * db * f;
    a[12] += b[12] + de * de * f;
    a[6] += da * Jb / J;
    a[7] += db * Jb / J;
    a[11] += de * Jb / J;
    a[5] = J;
}

/* C_merge_acc(a, b): a merged with b, group by group of IV_NACC. */
SEXP C_merge_acc(SEXP a, SEXP b)
{
    if (!isReal(a) || !isReal(b) || XLENGTH(a) != XLENGTH(b) ||
        XLENGTH(a) % IV_NACC != 0)
        error("`a` and `b` must be double vectors of the same length, a multiple of %d.",
              IV_NACC);
    SEXP ans = PROTECT(duplicate(a));
    double *x = REAL(ans);
    const double *y = REAL(b);
    for (R_xlen_t i = 0; i < XLENGTH(a); i += IV_NACC) iv_acc_merge(x + i, y + i);
    UNPROTECT(1);
    return ans;
}

/* ---- bivariate co-moments ------------------------------------------------ */

static const double binom[5][5] = {
    {1, 0, 0, 0, 0}, {1, 1, 0, 0, 0}, {1, 2, 1, 0, 0}, {1, 3, 3, 1, 0}, {1, 4, 6, 4, 1}
};

void iv_biv_zero(iv_biv *a)
{
    memset(a, 0, sizeof(iv_biv));
}

/* T[p][q] = sum_{k<=p, l<=q} C(p,k) C(q,l) S[k][l] (-du)^(p-k) (-dv)^(q-l):
   moments about a point shifted by (du, dv). */
static void recentre(double S[5][5], double du, double dv, double T[5][5])
{
    double pu[5], pv[5];
    pu[0] = pv[0] = 1;
    for (int k = 1; k < 5; k++) { pu[k] = pu[k - 1] * -du; pv[k] = pv[k - 1] * -dv; }
    for (int p = 0; p < 5; p++)
        for (int q = 0; p + q < 5; q++) {
            double t = 0;
            for (int k = 0; k <= p; k++)
                for (int l = 0; l <= q; l++)
                    t += binom[p][k] * binom[q][l] * S[k][l] * pu[p - k] * pv[q - l];
            T[p][q] = t;
        }
}

void iv_biv_from_sums(iv_biv *a, double u0, double v0, double S[5][5])
{
    double n = S[0][0];
    iv_biv_zero(a);
    if (n <= 0) return;
    double du = S[1][0] / n, dv = S[0][1] / n;
    a->n = n;
    a->ku = u0;
    a->kv = v0;
    a->mu = du;
    a->mv = dv;
    recentre(S, du, dv, a->M);
    a->M[1][0] = a->M[0][1] = 0;
}

void iv_biv_merge(iv_biv *a, const iv_biv *b)
{
    if (b->n == 0) return;
    if (a->n == 0) { *a = *b; return; }
    double n = a->n + b->n;
    /* b's mean relative to a's reference point: the difference of the two
       reference points is exact when they are within a factor of 2 */
    double du = ((b->ku - a->ku) + b->mu) - a->mu;
    double dv = ((b->kv - a->kv) + b->mv) - a->mv;
    double TA[5][5], TB[5][5], MB[5][5];
    memcpy(MB, b->M, sizeof MB);
    /* a's moments about the merged mean (shifted by +nb/n d), b's by -na/n d */
    recentre(a->M, b->n / n * du, b->n / n * dv, TA);
    recentre(MB, -a->n / n * du, -a->n / n * dv, TB);
    for (int p = 0; p < 5; p++)
        for (int q = 0; p + q < 5; q++) a->M[p][q] = TA[p][q] + TB[p][q];
    a->M[0][0] = n;
    a->M[1][0] = a->M[0][1] = 0;
    a->mu += b->n / n * du;
    a->mv += b->n / n * dv;
    a->n = n;
}

void iv_biv_pack(const iv_biv *a, double *out)
{
    out[0] = a->n; out[1] = a->ku + a->mu; out[2] = a->kv + a->mv;
    for (int p = 0; p < 5; p++)
        for (int q = 0; q < 5; q++) out[3 + 5 * p + q] = a->M[p][q];
}

/* C_test_moments(x, y): bivariate accumulator of the data (y may be NULL, then
   v = 0), computed in chunks of 65536 and merged in order. */
SEXP C_test_moments(SEXP x, SEXP y)
{
    if (!isReal(x)) error("`x` must be a double vector.");
    R_xlen_t n = XLENGTH(x);
    if (y != R_NilValue && (!isReal(y) || XLENGTH(y) != n))
        error("`y` must be NULL or a double vector as long as `x`.");
    const double *px = REAL(x), *py = y == R_NilValue ? NULL : REAL(y);
    for (R_xlen_t i = 0; i < n; i++)
        if (!R_FINITE(px[i]) || (py && !R_FINITE(py[i])))
            error("`x` and `y` must be finite.");
    iv_biv acc, ch;
    iv_biv_zero(&acc);
    for (R_xlen_t start = 0; start < n; start += 65536) {
        R_xlen_t end = n - start > 65536 ? start + 65536 : n;
        double S[5][5] = {{0}};
        double u0 = px[start], v0 = py ? py[start] : 0;
        for (R_xlen_t i = start; i < end; i++) {
            double du = px[i] - u0, dv = py ? py[i] - v0 : 0;
            double pu = 1;
            for (int p = 0; p < 5; p++) {
                double t = pu;
                for (int q = 0; p + q < 5; q++) { S[p][q] += t; t *= dv; }
                pu *= du;
            }
        }
        iv_biv_from_sums(&ch, u0, v0, S);
        iv_biv_merge(&acc, &ch);
        R_CheckUserInterrupt();
    }
    SEXP ans = PROTECT(allocVector(REALSXP, IV_BIV_LEN));
    iv_biv_pack(&acc, REAL(ans));
    UNPROTECT(1);
    return ans;
}
