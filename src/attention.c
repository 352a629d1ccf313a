/* Attention logits at initialization.
 *
 * Network j (0-based) draws W_Q and W_K (d_model x d_k, elementwise iid
 * from the weight family) and `inputs` sequences of `seq_len` tokens
 * (d_model entries each, iid from the input family), all from stream j of
 * the call's seed, computes the logits L = scale * (X W_Q)(X W_K)^T of each
 * sequence and reduces them to one row of per-network summaries (means over
 * its sequences and rows):
 *   [0] mean of the off-diagonal logits      [1] mean of their squares
 *   [2] mean of their fourth powers          [3] mean of the diagonal squares
 *   [4] softmax entropy of a row (nats)      [5] largest softmax probability
 * Networks are independent replicates: the result does not depend on the
 * number of threads (network j always uses stream j).
 */
#include <R.h>
#include <Rinternals.h>
#include <math.h>
#include <string.h>
#include "rng.h"
#include "checks.h"
#include "sample.h"
#include "interrupt.h"
#include "threads.h"
#include "api.h"   /* omp.h comes with threads.h */

#define ATT_NSUM 6

static iv_family att_family(SEXP family, SEXP params, const char *name)
{
    iv_family f;
    f.family = iv_int_arg(family, name);
    if (f.family < FAM_UNIFORM || f.family > FAM_TRUNC)
        error("`%s` must be 1 (uniform), 2 (normal) or 3 (truncated normal).", name);
    if ((!isReal(params)) || XLENGTH(params) != 4)
        error("the parameters of `%s` must be a double vector of length 4.", name);
    const double *p = REAL(params);
    f.p1 = p[0]; f.p2 = p[1]; f.lo = p[2]; f.hi = p[3];
    f.tn_method = TN_NORMAL; f.tn_flip = 0; f.tn_alpha = 1; f.tn_m1 = 0;
    if (!R_FINITE(f.p1) || !R_FINITE(f.p2))
        error("the parameters of `%s` must be finite.", name);
    if (f.family == FAM_UNIFORM && !(f.p1 <= f.p2))
        error("uniform bounds of `%s` must satisfy a <= b.", name);
    if (f.family != FAM_UNIFORM && f.p2 < 0)
        error("the sd of `%s` must be non-negative.", name);
    if (f.family == FAM_TRUNC) {
        if (ISNAN(f.lo) || ISNAN(f.hi) || !(f.lo < f.hi) || f.lo == R_PosInf || f.hi == R_NegInf)
            error("truncation bounds of `%s` must satisfy lower < upper.", name);
        iv_tn_setup(&f);
    }
    return f;
}

/* One network: fills out[0..ATT_NSUM). Scratch: wq, wk (d x dk), x (T x d),
   q, k (T x dk), row (T). Column-major throughout. */
static void att_network(int d, int dk, int T, int nseq, double scale,
                        const iv_family *fw, const iv_family *fx, uint64_t seed,
                        uint64_t stream, double *wq, double *wk, double *x,
                        double *q, double *k, double *row, double *out)
{
    iv_rng r;
    iv_rng_init(&r, seed, stream);
    R_xlen_t nw = (R_xlen_t) d * dk;
    iv_fill(wq, nw, fw, &r);
    iv_fill(wk, nw, fw, &r);
    double s1 = 0, s2 = 0, s4 = 0, sd2 = 0, sh = 0, smax = 0;
    for (int b = 0; b < nseq; b++) {
        iv_fill(x, (R_xlen_t) T * d, fx, &r);
        /* q = x wq, k = x wk (T x dk) */
        for (int a = 0; a < dk; a++) {
            double *qa = q + (R_xlen_t) a * T, *ka = k + (R_xlen_t) a * T;
            const double *wqa = wq + (R_xlen_t) a * d, *wka = wk + (R_xlen_t) a * d;
            for (int t = 0; t < T; t++) { qa[t] = 0; ka[t] = 0; }
            for (int m = 0; m < d; m++) {
                const double *xm = x + (R_xlen_t) m * T;
                double u = wqa[m], v = wka[m];
                for (int t = 0; t < T; t++) { qa[t] += xm[t] * u; ka[t] += xm[t] * v; }
            }
        }
        for (int i = 0; i < T; i++) {
            double mx = R_NegInf;
            for (int j = 0; j < T; j++) {
                double l = 0;
                for (int a = 0; a < dk; a++)
                    l += q[i + (R_xlen_t) a * T] * k[j + (R_xlen_t) a * T];
                l *= scale;
                row[j] = l;
                if (l > mx) mx = l;
                if (j == i) {
                    sd2 += l * l;
                } else {
                    double l2 = l * l;
                    s1 += l; s2 += l2; s4 += l2 * l2;
                }
            }
            /* softmax entropy H = log Z - sum p (l - mx), Z = sum exp(l - mx) */
            double z = 0, zl = 0;
            for (int j = 0; j < T; j++) {
                double e = exp(row[j] - mx);
                z += e;
                zl += e * (row[j] - mx);
            }
            sh += log(z) - zl / z;
            smax += 1 / z;
        }
    }
    double noff = (double) nseq * T * (T - 1), nrow = (double) nseq * T;
    out[0] = noff > 0 ? s1 / noff : NA_REAL;
    out[1] = noff > 0 ? s2 / noff : NA_REAL;
    out[2] = noff > 0 ? s4 / noff : NA_REAL;
    out[3] = sd2 / nrow;
    out[4] = sh / nrow;
    out[5] = smax / nrow;
}

/* C_attention(dims, scale, wfamily, wparams, xfamily, xparams, threads):
   dims = c(d_model, d_k, seq_len, networks, inputs). Returns a
   networks x 6 matrix of per-network summaries (see above), seeded from
   R's RNG. On a user interrupt it stops after the current batch and returns
   the networks done, with attribute "interrupted" = TRUE. */
SEXP C_attention(SEXP dims, SEXP scale_, SEXP wfamily, SEXP wparams, SEXP xfamily,
                 SEXP xparams, SEXP threads)
{
    if (!isReal(dims) && !isInteger(dims)) error("`dims` must be numeric.");
    if (XLENGTH(dims) != 5) error("`dims` must have 5 elements.");
    double dd[5];
    const double maxs[5] = {1e6, 1e6, 1e5, 1e7, 1e6};
    for (int i = 0; i < 5; i++) {
        dd[i] = isReal(dims) ? REAL(dims)[i] : (INTEGER(dims)[i] == NA_INTEGER ? NA_REAL : INTEGER(dims)[i]);
        if (!R_FINITE(dd[i]) || dd[i] < 1 || dd[i] != floor(dd[i]) || dd[i] > maxs[i])
            error("`dims[%d]` must be a positive whole number no larger than %.0f.", i + 1, maxs[i]);
    }
    int d = (int) dd[0], dk = (int) dd[1], T = (int) dd[2], nseq = (int) dd[4];
    R_xlen_t J = (R_xlen_t) dd[3];
    if (dd[0] * dd[1] > 1e9 || dd[2] * dd[0] > 1e9 || dd[2] * dd[2] > 1e10)
        error("`dims` ask for more memory than one network may use.");
    double scale = iv_real_arg(scale_, "scale");
    iv_family fw = att_family(wfamily, wparams, "wfamily");
    iv_family fx = att_family(xfamily, xparams, "xfamily");
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    uint64_t seed = iv_seed_from_R();

    size_t per = (size_t) 2 * d * dk + (size_t) T * d + (size_t) 2 * T * dk + (size_t) T;
    double *scratch = (double *) R_alloc((size_t) nth * per, sizeof(double));
    SEXP ans = PROTECT(allocMatrix(REALSXP, (int) J, ATT_NSUM));
    double *res = REAL(ans);
    double *tmp = (double *) R_alloc((size_t) ATT_NSUM * (J < 1024 ? J : 1024), sizeof(double));

    /* batches of networks between interrupt checks: about 2^24 multiply-adds */
    double work = (double) nseq * T * ((double) 2 * d * dk + (double) T * dk) + 2.0 * d * dk;
    R_xlen_t bsz = (R_xlen_t) (16777216.0 / work);
    if (bsz > 1024) bsz = 1024;
    if (bsz < nth) bsz = nth;
    if (bsz < 1) bsz = 1;
    R_xlen_t done = 0;
    int interrupted = 0;
    for (R_xlen_t start = 0; start < J; start += bsz) {
        R_xlen_t end = start + bsz < J ? start + bsz : J;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static)
#endif
        for (R_xlen_t j = start; j < end; j++) {
#ifdef _OPENMP
            double *sc = scratch + (size_t) iv_thread_num() * per;
#else
            double *sc = scratch;
#endif
            double *wq = sc, *wk = wq + (size_t) d * dk, *x = wk + (size_t) d * dk;
            double *q = x + (size_t) T * d, *k = q + (size_t) T * dk, *row = k + (size_t) T * dk;
            att_network(d, dk, T, nseq, scale, &fw, &fx, seed, (uint64_t) j, wq, wk, x, q, k,
                        row, tmp + (size_t) ATT_NSUM * (j - start));
        }
        for (R_xlen_t j = start; j < end; j++)
            for (int c = 0; c < ATT_NSUM; c++)
                res[j + (R_xlen_t) c * J] = tmp[(size_t) ATT_NSUM * (j - start) + c];
        done = end;
        if (end < J && iv_interrupted()) {
            interrupted = 1;
            break;
        }
    }
    if (interrupted) {
        SEXP part = PROTECT(allocMatrix(REALSXP, (int) done, ATT_NSUM));
        for (int c = 0; c < ATT_NSUM; c++)
            memcpy(REAL(part) + (R_xlen_t) c * done, res + (R_xlen_t) c * J,
                   (size_t) done * sizeof(double));
        SEXP flag = PROTECT(ScalarLogical(TRUE));
        setAttrib(part, install("interrupted"), flag);
        UNPROTECT(3);
        return part;
    }
    UNPROTECT(1);
    return ans;
}
