#include <R.h>
#include <Rinternals.h>
#include <string.h>
#include "moments.h"
#include "checks.h"

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
