/* Sampling and reduction together, for the identities of the Glorot
 * derivation: draws of (u, v) are generated in chunks of IV_CHUNK (chunk c
 * from stream c), each chunk is reduced to bivariate co-moments up to order
 * four about its first draw (shifted power sums), and chunks are merged in
 * chunk order. Memory is constant in n and the result is the same for any
 * number of threads.
 */
#include <R.h>
#include <Rinternals.h>
#include <string.h>
#include "rng.h"
#include "checks.h"
#include "api.h"
#include "moments.h"
#include "activations.h"
#include "interrupt.h"
#include "threads.h"

/* kernel codes ID_* and distribution codes D_*: src/vocab.h */
#define NPAR 10
#define BATCH 64

/* A standardized draw: mean 0, variance 1. */
static inline double std_draw(int dist, iv_rng *r)
{
    switch (dist) {
    case D_UNIFORM: return 1.7320508075688772 * (2 * iv_unif(r) - 1);
    case D_EXPONENTIAL: return iv_exp(r) - 1;
    default: return iv_norm(r);
    }
}

/* One draw of (u, v) for identity `code` with parameters p. */
static inline void draw(int code, const double *p, iv_rng *r, double *u, double *v)
{
    switch (code) {
    case ID_LINEAR: { /* dist, mean, sd, a, b */
        double x = p[1] + p[2] * std_draw((int) p[0], r);
        *u = p[3] * x + p[4];
        *v = x;
        break;
    }
    case ID_SUM: { /* m, dist, mean, sd, rho */
        int m = (int) p[0], dist = (int) p[1];
        double f = p[4] > 0 ? sqrt(p[4]) * std_draw(dist, r) : 0, e = sqrt(1 - p[4]);
        double s = 0, x1 = 0;
        for (int i = 0; i < m; i++) {
            double x = p[2] + p[3] * (f + e * std_draw(dist, r));
            s += x;
            if (i == 0) x1 = x;
        }
        *u = s;
        *v = x1;
        break;
    }
    case ID_SUM_UNCORRELATED: { /* m, mean_w, sd_w, mean_z, sd_z */
        int m = (int) p[0];
        double z = p[3] + p[4] * iv_norm(r), s = 0, t1 = 0;
        for (int i = 0; i < m; i++) {
            double t = (p[1] + p[2] * iv_norm(r)) * z;
            s += t;
            if (i == 0) t1 = t;
        }
        *u = s;
        *v = t1;
        break;
    }
    case ID_PRODUCT: { /* mean_x, sd_x, mean_y, sd_y, rho, dist */
        int dist = (int) p[5];
        double e1 = std_draw(dist, r), e2 = std_draw(dist, r);
        double x = p[0] + p[1] * e1;
        double y = p[2] + p[3] * (p[4] * e1 + sqrt(1 - p[4] * p[4]) * e2);
        *u = x * y;
        *v = x;
        break;
    }
    case ID_NEURON: { /* n, wdist, mean_w, sd_w, xdist, mean_x, sd_x, rho_x, beta */
        int n = (int) p[0], wd = (int) p[1], xd = (int) p[4];
        double f = p[7] > 0 ? sqrt(p[7]) * std_draw(xd, r) : 0, e = sqrt(1 - p[7]);
        double s = 0, x1 = 0;
        for (int j = 0; j < n; j++) {
            double xc = p[6] * (f + e * std_draw(xd, r));
            double w = p[2] + p[8] * xc + p[3] * std_draw(wd, r);
            s += w * (p[5] + xc);
            if (j == 0) x1 = p[5] + xc;
        }
        *u = s;
        *v = x1;
        break;
    }
    case ID_COVARIANCE: { /* n, mean_w, sd_w, sd_z, rho_z */
        int n = (int) p[0];
        double f = p[4] > 0 ? sqrt(p[4]) * iv_norm(r) : 0, e = sqrt(1 - p[4]);
        double a = 0, b = 0;
        for (int l = 0; l < n; l++) {
            double z = p[3] * (f + e * iv_norm(r));
            a += (p[1] + p[2] * iv_norm(r)) * z;
            b += (p[1] + p[2] * iv_norm(r)) * z;
        }
        *u = a;
        *v = b;
        break;
    }
    case ID_DELTA: { /* act, act_param, mean, sd */
        double x = p[2] + p[3] * iv_norm(r), ds;
        *u = act_eval((int) p[0], p[1], x, &ds);
        *v = x;
        break;
    }
    default: { /* ID_LAYERS: n, sd1, sd2, tied, dist */
        int n = (int) p[0], dist = (int) p[4];
        double s = 0;
        for (int k = 0; k < n; k++) {
            double a = p[1] * std_draw(dist, r);
            double b = p[3] != 0 ? a : p[2] * std_draw(dist, r);
            s += a * b;
        }
        *u = s;
        *v = 0;
    }
    }
}

/* Scales of u and v: powers of 2 near the spread of the first draws of
   chunk 0 (deterministic, whatever the threads). Draws are accumulated
   divided by them, exactly (a power of 2), so that fourth moments of draws
   of size 1e-100 or 1e100 neither underflow nor overflow. */
static double pow2_scale(double a)
{
    if (!(a > 0) || !R_FINITE(a)) return 1;
    return ldexp(1.0, ilogb(a));
}

static void draw_scales(int code, const double *p, uint64_t seed, double *su, double *sv)
{
    iv_rng r;
    iv_rng_init(&r, seed, 0);
    double u0, v0, au = 0, av = 0;
    draw(code, p, &r, &u0, &v0);
    for (int i = 1; i < 64; i++) {
        double u, v;
        draw(code, p, &r, &u, &v);
        if (fabs(u - u0) > au) au = fabs(u - u0);
        if (fabs(v - v0) > av) av = fabs(v - v0);
    }
    *su = pow2_scale(au);
    *sv = pow2_scale(av);
}

static void run_chunk(int code, const double *p, uint64_t seed, uint64_t c,
                      R_xlen_t len, double isu, double isv, iv_biv *out)
{
    iv_rng r;
    iv_rng_init(&r, seed, c);
    double S[5][5] = {{0}};
    double u0, v0;
    draw(code, p, &r, &u0, &v0);
    S[0][0] = 1;
    for (R_xlen_t i = 1; i < len; i++) {
        double u, v;
        draw(code, p, &r, &u, &v);
        double du = (u - u0) * isu, dv = (v - v0) * isv;
        double du2 = du * du, dv2 = dv * dv;
        S[0][0] += 1;
        S[1][0] += du; S[0][1] += dv;
        S[2][0] += du2; S[1][1] += du * dv; S[0][2] += dv2;
        S[3][0] += du2 * du; S[2][1] += du2 * dv; S[1][2] += du * dv2; S[0][3] += dv2 * dv;
        S[4][0] += du2 * du2; S[3][1] += du2 * du * dv; S[2][2] += du2 * dv2;
        S[1][3] += du * dv2 * dv; S[0][4] += dv2 * dv2;
    }
    iv_biv_from_sums(out, u0 * isu, v0 * isv, S);
}

static void check_params(int code, const double *p)
{
    for (int i = 0; i < NPAR; i++)
        if (!R_FINITE(p[i])) error("`params` must be finite.");
    int sizes[9] = {0, 0, 1, 1, 0, 1, 1, 0, 1}; /* p[0] is a count */
    if (sizes[code] && (p[0] < 1 || p[0] != floor(p[0]) || p[0] > 1e7))
        error("`params[1]` must be a whole number of terms between 1 and 1e7.");
    switch (code) {
    case ID_LINEAR:
        if (p[0] < D_NORMAL || p[0] > D_EXPONENTIAL || p[2] < 0) error("bad `params` for code 1.");
        break;
    case ID_SUM:
        if (p[1] < D_NORMAL || p[1] > D_EXPONENTIAL || p[3] < 0 || p[4] < 0 || p[4] > 1)
            error("bad `params` for code 2.");
        break;
    case ID_SUM_UNCORRELATED:
        if (p[2] < 0 || p[4] < 0) error("bad `params` for code 3.");
        break;
    case ID_PRODUCT:
        if (p[1] < 0 || p[3] < 0 || p[4] < -1 || p[4] > 1 || p[5] < D_NORMAL || p[5] > D_EXPONENTIAL)
            error("bad `params` for code 4.");
        break;
    case ID_NEURON:
        if (p[1] < D_NORMAL || p[1] > D_EXPONENTIAL || p[4] < D_NORMAL || p[4] > D_EXPONENTIAL ||
            p[3] < 0 || p[6] < 0 || p[7] < 0 || p[7] > 1)
            error("bad `params` for code 5.");
        break;
    case ID_COVARIANCE:
        if (p[2] < 0 || p[3] < 0 || p[4] < 0 || p[4] > 1) error("bad `params` for code 6.");
        break;
    case ID_DELTA:
        if (p[0] < ACT_LINEAR || p[0] >= ACT_R || p[3] < 0) error("bad `params` for code 7.");
        break;
    case ID_LAYERS:
        if (p[1] < 0 || p[2] < 0 || p[4] < D_NORMAL || p[4] > D_EXPONENTIAL)
            error("bad `params` for code 8.");
        break;
    default:
        error("`code` must be between 1 and 8.");
    }
}

static void mark_interrupted(SEXP x)
{
    SEXP sym = install("interrupted");
    SEXP flag = PROTECT(ScalarLogical(TRUE));
    setAttrib(x, sym, flag);
    UNPROTECT(1);
}

/* C_identity_moments(code, params, n, threads): a matrix with one packed bivariate
   accumulator (IV_BIV_LEN rows) per checkpoint: after 1, 2, 4, ... chunks
   and after the last, of the draws divided by attribute "scale" (two powers
   of 2). Seed from R's RNG.
   On a user interrupt it stops at the end of the current batch of chunks
   and returns the checkpoints so far, the last one holding every chunk
   done, with attribute "interrupted" = TRUE (R code re-signals it). */
SEXP C_identity_moments(SEXP code_, SEXP params, SEXP n_, SEXP threads)
{
    int code = iv_int_arg(code_, "code");
    if (code < ID_LINEAR || code > ID_LAYERS) error("`code` must be between 1 and 8.");
    const double *p = iv_real_vec_arg(params, "params", NPAR);
    check_params(code, p);
    double nd = iv_real_arg(n_, "n");
    if (nd < 2 || nd != floor(nd) || nd > 1e13) error("`n` must be a whole number >= 2.");
    R_xlen_t n = (R_xlen_t) nd;
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    uint64_t seed = iv_seed_from_R();
    double su, sv;
    draw_scales(code, p, seed, &su, &sv);
    const double isu = 1 / su, isv = 1 / sv;

    /* Chunk length: about IV_CHUNK terms of work per chunk, a power of 2
       that depends on the parameters only (not on threads), so that the
       interrupt check between batches of chunks comes every ~4e6 terms. */
    int sizes[9] = {0, 0, 1, 1, 0, 1, 1, 0, 1};
    double cost = sizes[code] ? p[0] : 1;
    R_xlen_t L = IV_CHUNK;
    while (L > 1 && cost > 1) { L /= 2; cost /= 2; }
    R_xlen_t nchunks = (n + L - 1) / L;
    int nck = 1;
    for (R_xlen_t c = 1; c < nchunks; c *= 2) nck++;
    SEXP ans = PROTECT(allocMatrix(REALSXP, IV_BIV_LEN, nck));
    double *out = REAL(ans);
    iv_biv *part = (iv_biv *) R_alloc(BATCH, sizeof(iv_biv));
    iv_biv acc;
    iv_biv_zero(&acc);
    int k = 0, interrupted = 0;
    R_xlen_t next = 1;
    /* chunks per batch (between two interrupt checks): about 2^22 terms of
       work in all, at least one chunk per thread; merging is in chunk order
       whatever the batch, so this does not change the result */
    double chunk_work = (double) L * (sizes[code] ? p[0] : 1);
    R_xlen_t bsz = (R_xlen_t) (4194304.0 / chunk_work);
    if (bsz > BATCH) bsz = BATCH;
    if (bsz < nth) bsz = nth;
    if (bsz < 1) bsz = 1;
    for (R_xlen_t start = 0; start < nchunks; start += bsz) {
        R_xlen_t end = start + bsz < nchunks ? start + bsz : nchunks;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static)
#endif
        for (R_xlen_t c = start; c < end; c++) {
            R_xlen_t len = n - c * L < L ? n - c * L : L;
            run_chunk(code, p, seed, (uint64_t) c, len, isu, isv, part + (c - start));
        }
        for (R_xlen_t c = start; c < end; c++) {
            iv_biv_merge(&acc, part + (c - start));
            if (c + 1 == next || c + 1 == nchunks) {
                if (k < nck) iv_biv_pack(&acc, out + (R_xlen_t) IV_BIV_LEN * k++);
                while (next <= c + 1) next *= 2;
            }
        }
        if (end < nchunks && iv_interrupted()) {
            interrupted = 1;
            /* the last checkpoint holds every chunk done */
            if (k == 0 || REAL(ans)[(R_xlen_t) IV_BIV_LEN * (k - 1)] != acc.n)
                iv_biv_pack(&acc, out + (R_xlen_t) IV_BIV_LEN * (k < nck ? k++ : k - 1));
            break;
        }
    }
    /* fewer checkpoints than reserved when nchunks is a power of 2 */
    int nprot = 1;
    if (k < nck) {
        SEXP trimmed = PROTECT(allocMatrix(REALSXP, IV_BIV_LEN, k));
        memcpy(REAL(trimmed), out, (size_t) IV_BIV_LEN * k * sizeof(double));
        ans = trimmed;
        nprot++;
    }
    if (interrupted) mark_interrupted(ans);
    /* the accumulators hold u / su and v / sv */
    SEXP sc = PROTECT(allocVector(REALSXP, 2));
    REAL(sc)[0] = su;
    REAL(sc)[1] = sv;
    setAttrib(ans, install("scale"), sc);
    UNPROTECT(nprot + 1);
    return ans;
}
