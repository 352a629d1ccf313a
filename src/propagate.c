/* The engine's kernel: one random dense network, forward and backward, with
 * per-layer moments accumulated in one pass over each layer's output (see
 * engine.h for the quantities). */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#ifndef FCONE
#define FCONE
#endif
#include <string.h>
#include "engine.h"
#include "rng.h"
#include "activations.h"

/* ---- activations ----------------------------------------------------- */

/* f and f' of an R function, applied to x[0..n); main thread only.
   `layer` (1-based) is for the error messages. */
static void act_r(SEXP fl, double *x, double *z, R_xlen_t n, int layer)
{
    SEXP v = PROTECT(allocVector(REALSXP, n));
    memcpy(REAL(v), x, n * sizeof(double));
    for (int k = 0; k < 2; k++) {
        SEXP call = PROTECT(lang2(VECTOR_ELT(fl, k), v));
        SEXP res = PROTECT(eval(call, R_GlobalEnv));
        if (TYPEOF(res) == INTSXP || TYPEOF(res) == LGLSXP)
            res = coerceVector(res, REALSXP);
        UNPROTECT(1);
        PROTECT(res);
        if (TYPEOF(res) != REALSXP || XLENGTH(res) != n)
            error("`net`: the activation's %s (layer %d) must return a numeric vector "
                  "as long as its input (%.0f values), not one of type %s and length %.0f.",
                  k == 0 ? "f" : "df", layer, (double) n, type2char(TYPEOF(res)),
                  (double) XLENGTH(res));
        const double *rv = REAL(res), *in = REAL(v);
        for (R_xlen_t t = 0; t < n; t++)
            if (!R_FINITE(rv[t]) && R_FINITE(in[t]))
                error("`net`: the activation's %s (layer %d) returned %s for the finite "
                      "input %g.", k == 0 ? "f" : "df", layer,
                      ISNAN(rv[t]) ? "NaN" : "an infinite value", in[t]);
        memcpy(k == 0 ? z : x, rv, n * sizeof(double));
        UNPROTECT(2);
    }
    UNPROTECT(1);
}

/* ---- accumulation helpers -------------------------------------------- */

static inline void hist_add(double *h, int nb, double lo, double scale, double x)
{
    /* bins 1..nb, 0 below (and NaN), nb + 1 above; without branches */
    double t = (x - lo) * scale;
    t = t >= 0 ? t : -1.0;
    t = t < nb ? t : (double) nb;
    h[(int) t + 1] += 1;
}

/* The histogram counts of one column, into the IV_HIST_LANES copies of h
   (`lane` apart; see work_t). Four values at a time with vector extensions
   (AVX2 where the CPU has it), their bins computed as hist_add() computes
   them. */
#ifdef IV_HAVE_V2D
#define IV_HIST_VEC                                                           \
    const iv_v4d zero = { 0.0, 0.0, 0.0, 0.0 }, m1 = { -1.0, -1.0, -1.0, -1.0 }; \
    const iv_v4d top = { nb, nb, nb, nb };                                    \
    for (; b + 4 <= n; b += 4) {                                              \
        iv_v4d t;                                                             \
        memcpy(&t, x + b, sizeof t);                                          \
        t = (t - lo) * scale;                                                 \
        t = IV_VSEL4((iv_v4u) (t >= zero), t, m1);                            \
        t = IV_VSEL4((iv_v4u) (t < top), t, top);                             \
        h[(int) t[0] + 1] += 1;                                               \
        h[lane + (int) t[1] + 1] += 1;                                        \
        h[2 * lane + (int) t[2] + 1] += 1;                                    \
        h[3 * lane + (int) t[3] + 1] += 1;                                    \
    }
#else
#define IV_HIST_VEC
#endif
#define IV_HIST_BODY                                                          \
    int b = 0;                                                                \
    IV_HIST_VEC                                                               \
    for (; b < n; b++) hist_add(h, nb, lo, scale, x[b]);

#ifdef IV_HAVE_AVX2
__attribute__((target("avx2")))
static void hist_column_avx2(double *h, size_t lane, int nb, double lo, double scale,
                             const double *x, int n)
{
    IV_HIST_BODY
}
#endif

static void hist_column(double *h, size_t lane, int nb, double lo, double scale,
                        const double *x, int n)
{
#ifdef IV_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        hist_column_avx2(h, lane, nb, lo, scale, x, n);
        return;
    }
#endif
    IV_HIST_BODY
}

/* Adds to the row power sums p_j[b] (p_j = p + (j - 1) B, j = 1..4) the
   powers ((x[b] - c) is)^j of one column x, or the sums of those of two
   columns x and y (y = NULL: one). Four rows at a time with vector
   extensions (AVX2 where the CPU has it), the same arithmetic lane by lane
   as the scalar tail. */
#ifdef IV_HAVE_V2D
#define IV_ADD4(P, V) do { iv_v4d a_; memcpy(&a_, (P) + b, sizeof a_); a_ += (V); \
                           memcpy((P) + b, &a_, sizeof a_); } while (0)
#define IV_POWER_SUMS_VEC                                                     \
    if (y) {                                                                  \
        for (; b + 4 <= B; b += 4) {                                          \
            iv_v4d u, v;                                                      \
            memcpy(&u, x + b, sizeof u);                                      \
            memcpy(&v, y + b, sizeof v);                                      \
            u = (u - c) * is;                                                 \
            v = (v - c) * is;                                                 \
            iv_v4d u2 = u * u, v2 = v * v;                                    \
            IV_ADD4(p1, u + v); IV_ADD4(p2, u2 + v2);                         \
            IV_ADD4(p3, u2 * u + v2 * v); IV_ADD4(p4, u2 * u2 + v2 * v2);     \
        }                                                                     \
    } else {                                                                  \
        for (; b + 4 <= B; b += 4) {                                          \
            iv_v4d u;                                                         \
            memcpy(&u, x + b, sizeof u);                                      \
            u = (u - c) * is;                                                 \
            iv_v4d u2 = u * u;                                                \
            IV_ADD4(p1, u); IV_ADD4(p2, u2); IV_ADD4(p3, u2 * u);             \
            IV_ADD4(p4, u2 * u2);                                             \
        }                                                                     \
    }
#else
#define IV_POWER_SUMS_VEC
#endif
#define IV_POWER_SUMS_BODY                                                    \
    double *p1 = p, *p2 = p + B, *p3 = p + 2 * (size_t) B, *p4 = p + 3 * (size_t) B; \
    int b = 0;                                                                \
    IV_POWER_SUMS_VEC                                                         \
    if (y) {                                                                  \
        for (; b < B; b++) {                                                  \
            double u = (x[b] - c) * is, v = (y[b] - c) * is, u2 = u * u, v2 = v * v; \
            p1[b] += u + v; p2[b] += u2 + v2; p3[b] += u2 * u + v2 * v;       \
            p4[b] += u2 * u2 + v2 * v2;                                       \
        }                                                                     \
    } else {                                                                  \
        for (; b < B; b++) {                                                  \
            double u = (x[b] - c) * is, u2 = u * u;                           \
            p1[b] += u; p2[b] += u2; p3[b] += u2 * u; p4[b] += u2 * u2;       \
        }                                                                     \
    }

#ifdef IV_HAVE_AVX2
__attribute__((target("avx2"))) IV_NONNULL(1, 2)
static void power_sums_avx2(double *p, const double *x, const double *y, double c,
                            double is, int B)
{
    IV_POWER_SUMS_BODY
}
#endif

IV_NONNULL(1, 2)
static void power_sums(double *p, const double *x, const double *y, double c, double is,
                       int B)
{
#ifdef IV_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        power_sums_avx2(p, x, y, c, is, B);
        return;
    }
#endif
    IV_POWER_SUMS_BODY
}

/* Per-network summary from power sums about c. */
static void summarize(double *out, double n, const double *P, double c,
                      double e)
{
    double m = P[0] / n;
    double m2 = m * m;
    out[0] = n;
    out[1] = c + m;
    out[2] = P[1] - n * m2;
    out[3] = P[2] - 3 * m * P[1] + 2 * n * m2 * m;
    out[4] = P[3] - 4 * m * P[2] + 6 * m2 * P[1] - 3 * n * m2 * m2;
    if (out[2] < 0) out[2] = 0;
    if (out[4] < 0) out[4] = 0;
    out[5] = m;
    out[6] = P[1] / n;
    out[7] = e;
}

/* Mean over rows of the across-neuron sample variance, from row sums about
   a common point; NaN for a width of 1. */
static double across_var(const double *r1, const double *r2, int B, int n)
{
    if (n < 2) return NAN;
    double acc = 0;
    for (int b = 0; b < B; b++) {
        double v = (r2[b] - r1[b] * r1[b] / n) / (n - 1);
        acc += v < 0 ? 0 : v;
    }
    return acc / B;
}

/* ---- one network -------------------------------------------------------- */

/* Xiao et al. (2018)'s Algorithm 1 (TensorFlow's ConvolutionOrthogonal):
   a kh x kw kernel whose symbol sum_t W_t e^(i w.t) is gain times an
   isometry at every frequency, so that under circular padding at stride 1
   the convolution is gain times an orthogonal map. Per group (c_in/G = ci,
   c_out/G = co, n = max(ci, co)): the polynomial P = prod over kh - 1
   factors along the height and kw - 1 along the width of (p + (I - p) z),
   each p = Q D Q^T a symmetric projection (Q Haar on n x n, D a diagonal
   of fair 0/1 coins), multiplied out tap by tap (each factor on the
   right), then W_t = M P_t for ci <= co (M ci x n with orthonormal rows)
   or P_t M for ci > co (M n x co with orthonormal columns). The kernel's
   rows are cc taps + tap, tap = a kw + t, as the engine's (src/conv.c). */
static void conv_orthogonal_kernel(int nin, int nout, const double *p, double *W,
                                   double *scratch, double *tau, double *work, int lwork,
                                   iv_rng *r)
{
    const double one = 1.0, zero = 0.0;
    const int kh = (int) p[1], kw = (int) p[2], G = (int) p[3], taps = kh * kw;
    const int ci = nin / taps, co = nout / G, n = ci > co ? ci : co;
    const R_xlen_t nn = (R_xlen_t) n * n;
    iv_family g = { FAM_NORMAL, 0.0, 1.0, 0, 0, 0, 0, 1, 0 };
    iv_family u01 = { FAM_UNIFORM, 0.0, 1.0, 0, 0, 0, 0, 1, 0 };
    /* scratch: K and K2 (taps n^2 each), Q, Pr, T (n^2), M (ci co), coins (n) */
    double *K = scratch, *K2 = K + taps * nn, *Q = K2 + taps * nn, *Pr = Q + nn,
        *T = Pr + nn, *M = T + nn, *coin = M + (R_xlen_t) ci * co;
    for (int gr = 0; gr < G; gr++) {
        /* the isometry M, then the factors */
        iv_fill(M, (R_xlen_t) ci * co, &g, r);
        if (ci > co) {
            iv_orthonormalize(M, ci, co, p[0], tau, work, lwork);
        } else {
            iv_orthonormalize(M, co, ci, p[0], tau, work, lwork);
            iv_transpose(M, co, ci, T);
            memcpy(M, T, (size_t) ci * co * sizeof(double));
        }
        /* K: the polynomial so far, ch x cw taps (start: I) */
        int ch = 1, cw = 1;
        memset(K, 0, (size_t) nn * sizeof(double));
        for (int k = 0; k < n; k++) K[k + (R_xlen_t) k * n] = 1.0;
        for (int f = 0; f < kh + kw - 2; f++) {
            const int along_h = f < kh - 1;
            iv_fill(Q, nn, &g, r);
            iv_orthonormalize(Q, n, n, 1.0, tau, work, lwork);
            iv_fill(coin, n, &u01, r);
            /* Pr = sum over the kept columns q_j q_j^T */
            int kept = 0;
            for (int j = 0; j < n; j++)
                if (coin[j] < 0.5) {
                    if (kept != j) memcpy(Q + (R_xlen_t) kept * n, Q + (R_xlen_t) j * n,
                                          (size_t) n * sizeof(double));
                    kept++;
                }
            if (kept) {
                F77_CALL(dgemm)("N", "T", &n, &n, &kept, &one, Q, &n, Q, &n, &zero, Pr, &n
                                FCONE FCONE);
            } else {
                memset(Pr, 0, (size_t) nn * sizeof(double));
            }
            /* K2 = K (x) (Pr + (I - Pr) z): tap (a, t) gets K[a, t] Pr +
               K[a - 1, t] (I - Pr) along the height (K[a, t - 1] along the
               width) */
            const int nh = ch + along_h, nw2 = cw + !along_h;
            for (int a = 0; a < nh; a++)
                for (int t = 0; t < nw2; t++) {
                    double *dst = K2 + (R_xlen_t) (a * nw2 + t) * nn;
                    int has0 = a < ch && t < cw;
                    int a1 = along_h ? a - 1 : a, t1 = along_h ? t : t - 1;
                    int has1 = a1 >= 0 && t1 >= 0 && a1 < ch && t1 < cw;
                    memset(dst, 0, (size_t) nn * sizeof(double));
                    if (has0)
                        F77_CALL(dgemm)("N", "N", &n, &n, &n, &one, K + (R_xlen_t) (a * cw + t) * nn,
                                        &n, Pr, &n, &zero, dst, &n FCONE FCONE);
                    if (has1) {
                        /* + K1 - K1 Pr */
                        const double *K1 = K + (R_xlen_t) (a1 * cw + t1) * nn;
                        const double mone = -1.0;
                        for (R_xlen_t q = 0; q < nn; q++) dst[q] += K1[q];
                        F77_CALL(dgemm)("N", "N", &n, &n, &n, &mone, K1, &n, Pr, &n, &one, dst,
                                        &n FCONE FCONE);
                    }
                }
            ch = nh; cw = nw2;
            double *sw = K; K = K2; K2 = sw;
        }
        /* W_t = M P_t (ci x co) or P_t M; into the group's columns */
        for (int tap = 0; tap < taps; tap++) {
            const double *Pt = K + (R_xlen_t) tap * nn;
            if (ci <= co) {
                F77_CALL(dgemm)("N", "N", &ci, &co, &n, &one, M, &ci, Pt, &n, &zero, T, &ci
                                FCONE FCONE);
            } else {
                F77_CALL(dgemm)("N", "N", &ci, &co, &n, &one, Pt, &n, M, &n, &zero, T, &ci
                                FCONE FCONE);
            }
            for (int o = 0; o < co; o++)
                for (int c = 0; c < ci; c++)
                    W[(R_xlen_t) c * taps + tap + (R_xlen_t) (gr * co + o) * nin] =
                        T[c + (R_xlen_t) o * ci];
        }
        /* K's pointer may now be K2's block: restore the layout for the
           next group */
        if (K != scratch) { memcpy(scratch, K, (size_t) taps * nn * sizeof(double)); K = scratch; }
        K2 = K + taps * nn;
    }
}

size_t iv_draw_scratch(const spec_t *sp, int u)
{
    const size_t nin = (size_t) sp->uin[u], nout = (size_t) sp->uout[u];
    const double *p = sp->wpar + 4 * u;
    switch (sp->wkind[u]) {
    case FAM_ORTHO:
        return nin < nout ? nin * nout : 1;
    case FAM_DELTA_ORTHO:
        /* the groups' centre matrices and their transposes */
        return 2 * nin * nout;
    case FAM_CONV_ORTHO: {
        const size_t taps = (size_t) p[1] * (size_t) p[2], ci = nin / taps,
            co = nout / (size_t) p[3], n = ci > co ? ci : co;
        return (2 * taps + 3) * n * n + ci * co + n;
    }
    default:
        return 1;
    }
}

/* The weights (nin x nout, into W) and biases (into bias) of unit i (the
   layer i of a dense stack) of the network with stream base `base`:
   weights from stream base + 1 + i, biases from base + 1 + U + i. scratch,
   tau, work and perm are workspace for orthogonal and sparse weights (see
   alloc_work() in engine.c). */
void iv_draw_layer(const spec_t *sp, int i, uint64_t base, double *W, double *bias,
                   double *scratch, double *tau, double *work, int *perm)
{
    int nin = sp->uin[i], nout = sp->uout[i];
    R_xlen_t nw = (R_xlen_t) nin * nout;
    const double *p = sp->wpar + 4 * i;
    iv_rng r;
    iv_rng_init(&r, sp->seed, base + 1 + i);
    switch (sp->wkind[i]) {
    case FAM_CONSTANT:
        for (R_xlen_t k = 0; k < nw; k++) W[k] = p[0];
        break;
    case FAM_IDENTITY:
        memset(W, 0, nw * sizeof(double));
        for (int k = 0; k < nin && k < nout; k++) W[k + (R_xlen_t) k * nin] = p[0];
        break;
    case FAM_ORTHO: {
        iv_family g = { FAM_NORMAL, 0.0, 1.0, 0, 0, 0, 0, 1, 0 };
        if (nin >= nout) {
            iv_fill(W, nw, &g, &r);
            iv_orthonormalize(W, nin, nout, p[0], tau, work, sp->lwork);
        } else {
            iv_fill(scratch, nw, &g, &r);
            iv_orthonormalize(scratch, nout, nin, p[0], tau, work, sp->lwork);
            iv_transpose(scratch, nout, nin, W);
        }
        break;
    }
    case FAM_DELTA_ORTHO: {
        /* a conv kernel (rows: in-group channel cc, tap: cc taps + tap) that
           is zero but at the centre tap, where each group's c_in/G x
           c_out/G matrix is gain times a Haar matrix with orthonormal
           columns (or rows), drawn group after group from the stream */
        iv_family g = { FAM_NORMAL, 0.0, 1.0, 0, 0, 0, 0, 1, 0 };
        const int taps = (int) p[1], ctr = (int) p[2], G = (int) p[3];
        const int ci = nin / taps, co = nout / G;
        const R_xlen_t nm = (R_xlen_t) ci * co;
        double *M = scratch, *T = scratch + nm;
        memset(W, 0, nw * sizeof(double));
        for (int gr = 0; gr < G; gr++) {
            iv_fill(M, nm, &g, &r);
            if (ci >= co) {
                iv_orthonormalize(M, ci, co, p[0], tau, work, sp->lwork);
            } else {
                iv_orthonormalize(M, co, ci, p[0], tau, work, sp->lwork);
                iv_transpose(M, co, ci, T);
                memcpy(M, T, (size_t) nm * sizeof(double));
            }
            for (int o = 0; o < co; o++)
                for (int c = 0; c < ci; c++)
                    W[(R_xlen_t) c * taps + ctr + (R_xlen_t) (gr * co + o) * nin] = M[c + (R_xlen_t) o * ci];
        }
        break;
    }
    case FAM_CONV_ORTHO:
        conv_orthogonal_kernel(nin, nout, p, W, scratch, tau, work, sp->lwork, &r);
        break;
    case FAM_SPARSE:
        for (int k = 0; k < nout; k++)
            iv_sparse_column(W + (R_xlen_t) k * nin, nin, (int) p[0], p[1], perm, &r);
        break;
    default:
        iv_fill(W, nw, sp->wf + i, &r);
    }
    iv_rng_init(&r, sp->seed, base + 1 + sp->U + i);
    if (sp->bkind[i] == FAM_CONSTANT) {
        for (int k = 0; k < nout; k++) bias[k] = sp->bpar[4 * i];
    } else {
        iv_fill(bias, nout, sp->bf + i, &r);
    }
}

static void row_powers(const double *Z, int B, int n, double is, double *rp)
{
    /* rp[p * B + b] = sum_k (is Z[b, k])^(p + 1), p = 0..3 */
    memset(rp, 0, (size_t) 4 * B * sizeof(double));
    for (int k = 0; k < n; k++) {
        const double *col = Z + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) {
            double z = is * col[b], z2 = z * z;
            rp[b] += z; rp[B + b] += z2; rp[2 * B + b] += z2 * z; rp[3 * B + b] += z2 * z2;
        }
    }
}

/* A summary whose moments are not finite: the values overflowed. */
static int summary_bad(const double *out)
{
    for (int k = 1; k < 7; k++) if (!R_FINITE(out[k])) return 1;
    return 0;
}

/* The summaries of layer i's s and z from the row power sums in ws->rows
   (4 B of s, then 4 B of z, centred and scaled), shared by the dense and
   residual (and attention) forward passes. */
static void forward_summaries(const spec_t *sp, work_t *ws, int i, double *res, int *bad)
{
    const int B = sp->batch, nout = sp->w[i + 1];
    const double cs = sp->center[Q_S + NQ * i], cz = sp->center[Q_Z + NQ * i];
    const double iss = 1 / sp->scale[Q_S + NQ * i], isz = 1 / sp->scale[Q_Z + NQ * i];
    const double *r1 = ws->rows, *q1 = r1 + 4 * (size_t) B;
    double ps[4] = {0, 0, 0, 0}, pz[4] = {0, 0, 0, 0};
    for (int p = 0; p < 4; p++)
        for (int b = 0; b < B; b++) {
            ps[p] += r1[(size_t) p * B + b];
            pz[p] += q1[(size_t) p * B + b];
        }
    double n = (double) B * nout;
    summarize(res + NSUM * (Q_S + NQ * i), n, ps, cs * iss, across_var(r1, r1 + B, B, nout));
    summarize(res + NSUM * (Q_Z + NQ * i), n, pz, cz * isz, across_var(q1, q1 + B, B, nout));
    if (*bad == 0 && summary_bad(res + NSUM * (Q_S + NQ * i))) *bad = 1 + Q_S + NQ * i;
    if (*bad == 0 && summary_bad(res + NSUM * (Q_Z + NQ * i))) *bad = 1 + Q_Z + NQ * i;
}

/* Whether dense layer i's f' is left for the backward pass to compute from
   z, f' = 1 - z^2 (tanh, below the output layer), rather than stored in
   ws->S[i]: one store per value less in the forward pass. */
static int tanh_df_from_z(const spec_t *sp, int i)
{
    return sp->kind[i] == LAYER_DENSE && sp->act[sp->ufirst[i]] == ACT_TANH && i < sp->d - 1;
}

/* The fused elementwise pass of dense layer i after its product S = Z W:
   adds the bias, applies the activation (Z[i + 1] = f(s), S = f'(s)), and
   accumulates the power sums, row sums and histograms of s and z. */
/* The activation of one column: col[b] = s = S[b] + bias, Z[b] = f(s),
   S[b] = f'(s). One loop per common activation, so that the switch is
   outside the loop. */
IV_NONNULL(4, 5, 6)
static void act_column(int code, double a, double bias, double *S, double *Z, double *col, int B)
{
    switch (code) {
    case ACT_TANH:
        iv_tanh_column(S, bias, col, Z, S, B);
        break;
    case ACT_RELU:
        for (int b = 0; b < B; b++) {
            double s = S[b] + bias;
            col[b] = s; Z[b] = s > 0 ? s : 0; S[b] = s > 0 ? 1 : 0;
        }
        break;
    case ACT_LINEAR:
        for (int b = 0; b < B; b++) {
            double s = S[b] + bias;
            col[b] = s; Z[b] = s; S[b] = 1;
        }
        break;
    default:
        for (int b = 0; b < B; b++) {
            double s = S[b] + bias, ds;
            col[b] = s; Z[b] = act_eval(code, a, s, &ds); S[b] = ds;
        }
    }
}

/* The fused elementwise pass of dense layer i after its product S = Z W:
   adds the bias, applies the activation (Z[i + 1] = f(s), S = f'(s)), and
   accumulates, per row (example), the power sums of the centred, scaled s
   and z and the raw power sums of z for the next layer's weight gradients,
   and the histogram of z. The per-row sums are independent across rows (two
   rows at a time, power_sums()); the totals are their sums over rows. */
static void dense_forward_moments(const spec_t *sp, work_t *ws, int i, double *res, int *bad)
{
    const int d = sp->d, B = sp->batch, nb = sp->nbins, nout = sp->w[i + 1];
    double *S = ws->S[i], *Z = ws->Z[i + 1];
    const double cs = sp->center[Q_S + NQ * i], cz = sp->center[Q_Z + NQ * i];
    const double iss = 1 / sp->scale[Q_S + NQ * i], isz = 1 / sp->scale[Q_Z + NQ * i];
    const double isw = i + 1 < d ? 1 / sp->scale[Q_W + NQ * (i + 1)] : 1;
    const double hlo = sp->hrange[6 * i], hsc = nb / (sp->hrange[6 * i + 1] - hlo);
    double *hz = ws->hist + (size_t) (3 * i + 0) * (nb + 2);
    double *r1 = ws->rows, *q1 = r1 + 4 * (size_t) B;               /* s; z */
    double *rz = ws->rowz + (size_t) (i + 1) * 4 * B;                 /* raw z */
    memset(ws->rows, 0, (size_t) 8 * B * sizeof(double));
    memset(rz, 0, (size_t) 4 * B * sizeof(double));
    const int u = sp->ufirst[i];
    const int code = sp->act[u];
    const double ap = sp->aparam[u];
    double *ts = ws->trace_s ? ws->trace_s[i] : NULL;
    /* (a conv layer copies its per-channel biases itself: ws->bias holds
       them per output column) */
    if (ws->trace_b && sp->kind[i] == LAYER_DENSE)
        memcpy(ws->trace_b[u], ws->bias, nout * sizeof(double));
    if (code == ACT_R) {
        R_xlen_t n = (R_xlen_t) B * nout;
        for (int k = 0; k < nout; k++) {
            double bk = ws->bias[k];
            for (int b = 0; b < B; b++) S[b + (R_xlen_t) k * B] += bk;
        }
        memcpy(ws->dZ, S, n * sizeof(double));     /* keep s for its moments */
        act_r(VECTOR_ELT(sp->rfuns, u), S, Z, n, i + 1);  /* Z = f(s), S = f'(s) */
    }
    /* With z centred at 0 (a symmetric activation, or a prediction of mean
       0), the raw sums of z * isw are the centred sums of z * isz times
       powers of the power of 2 isw / isz: exactly, so they are not summed
       twice. Columns go in pairs, so that every pass over the rows' sums
       adds two values. */
    const double ratio = isw / isz;
    const int ew = ilogb(ratio);
    /* tanh below the output: S keeps s, and the backward pass takes f' from
       z (the output layer's f' is kept, for the softmax gradient) */
    const int tz = tanh_df_from_z(sp, i);
    const int derive = cz == 0 && ratio == ldexp(1.0, ew);
    for (int k = 0; k < nout; k += 2) {
        const int two = k + 1 < nout;
        double *Sk = S + (R_xlen_t) k * B, *Zk = Z + (R_xlen_t) k * B;
        double *Sl = two ? Sk + B : Sk, *Zl = two ? Zk + B : Zk;
        const double *sc, *sl;
        if (code == ACT_R) {
            sc = ws->dZ + (R_xlen_t) k * B;
            sl = two ? sc + B : sc;
        } else if (tz) {
            /* f' = 1 - z^2 is computed from z in the backward pass */
            iv_tanh_column(Sk, ws->bias[k], ws->col, Zk, NULL, B);
            sc = sl = ws->col;
            if (two) {
                iv_tanh_column(Sl, ws->bias[k + 1], ws->col + B, Zl, NULL, B);
                sl = ws->col + B;
            }
        } else {
            act_column(code, ap, ws->bias[k], Sk, Zk, ws->col, B);
            sc = sl = ws->col;
            if (two) {
                act_column(code, ap, ws->bias[k + 1], Sl, Zl, ws->col + B, B);
                sl = ws->col + B;
            }
        }
        if (ts) {
            memcpy(ts + (R_xlen_t) k * B, sc, (size_t) B * sizeof(double));
            if (two) memcpy(ts + (R_xlen_t) (k + 1) * B, sl, (size_t) B * sizeof(double));
        }
        power_sums(r1, sc, two ? sl : NULL, cs, iss, B);
        power_sums(q1, Zk, two ? Zl : NULL, cz, isz, B);
        if (!derive) power_sums(rz, Zk, two ? Zl : NULL, 0.0, isw, B);
        hist_column(hz, ws->hlane, nb, hlo, hsc, Zk, B);
        if (two) hist_column(hz, ws->hlane, nb, hlo, hsc, Zl, B);
    }
    if (derive)
        for (int p = 0; p < 4; p++)
            for (int b = 0; b < B; b++)
                rz[(size_t) p * B + b] = ldexp(ws->rows[(size_t) (4 + p) * B + b], (p + 1) * ew);
    forward_summaries(sp, ws, i, res, bad);
}

/* The output gradient dC/ds^{d-1} into ws->G: iid normal, or the softmax
   cross-entropy gradient of uniformly random labels. */
static void output_gradient(const spec_t *sp, work_t *ws, uint64_t base)
{
    const int d = sp->d, B = sp->batch;
    iv_rng r;
    int nd = sp->w[d];
    double *G = ws->G;
    iv_rng_init(&r, sp->seed, base + 2 * (uint64_t) sp->U + 1);
    if (sp->grad == GRAD_NORMAL) {
        iv_family fg = { FAM_NORMAL, 0.0, sqrt(sp->var_grad), 0, 0, 0, 0, 1, 0 };
        iv_fill(G, (R_xlen_t) B * nd, &fg, &r);
    } else {
        const double *L = ws->Z[d], *D = ws->S[d - 1];
        for (int b = 0; b < B; b++) {
            double mx = L[b];
            for (int k = 1; k < nd; k++) if (L[b + (R_xlen_t) k * B] > mx) mx = L[b + (R_xlen_t) k * B];
            double tot = 0;
            for (int k = 0; k < nd; k++) {
                double e = exp(L[b + (R_xlen_t) k * B] - mx);
                G[b + (R_xlen_t) k * B] = e;
                tot += e;
            }
            int y = (int) iv_below(&r, (uint64_t) nd);
            for (int k = 0; k < nd; k++) {
                R_xlen_t ix = b + (R_xlen_t) k * B;
                G[ix] = (G[ix] / tot - (k == y ? 1.0 : 0.0)) * D[ix];
            }
        }
}
}

/* The moments of layer i's gradients G = dC/ds^i (B x n; D not NULL: G
   holds dC/dz^{i+1} on entry, and is multiplied by f'(s^i) here, D itself
   or, with dz, 1 - D^2 for D = z^{i+1} = tanh(s^i)): the summary of
   Q_G, the raw row power sums of G (scaled) in ws->rowg for the weight
   gradients' factorization, and the histogram of G. Shared by the dense and
   residual backward passes. */
static void grad_moments(const spec_t *sp, work_t *ws, int i, double *G, int n,
                         const double *D, int dz, double *res)
{
    const int B = sp->batch, nb = sp->nbins;
    const double cg = sp->center[Q_G + NQ * i], isg = 1 / sp->scale[Q_G + NQ * i];
    const double cgs = cg * isg;
    const double glo = sp->hrange[6 * i + 2], gsc = nb / (sp->hrange[6 * i + 3] - glo);
    double *hg = ws->hist + (size_t) (3 * i + 1) * (nb + 2);
    double *rg = ws->rowg, *r1 = ws->rows;
    memset(rg, 0, (size_t) 4 * B * sizeof(double));
    /* With the gradients' centre at 0 (as it always is from R) their centred
       sums are the raw ones; columns go in pairs */
    const int centred = cgs != 0;
    if (centred) memset(ws->rows, 0, (size_t) 4 * B * sizeof(double));
    for (int k = 0; k < n; k += 2) {
        double *Gk = G + (R_xlen_t) k * B;
        if (D) {
            /* dC/dz times f'(s), two columns, while they are in the cache */
            const double *Dk = D + (R_xlen_t) k * B;
            const int m = k + 1 < n ? 2 * B : B;
            if (dz) for (int t = 0; t < m; t++) Gk[t] *= 1 - Dk[t] * Dk[t];
            else for (int t = 0; t < m; t++) Gk[t] *= Dk[t];
        }
        power_sums(rg, Gk, k + 1 < n ? Gk + B : NULL, 0.0, isg, B);
        if (centred) power_sums(r1, Gk, k + 1 < n ? Gk + B : NULL, cg, isg, B);
        hist_column(hg, ws->hlane, nb, glo, gsc, Gk, B);
        if (k + 1 < n) hist_column(hg, ws->hlane, nb, glo, gsc, Gk + B, B);
    }
    if (ws->trace_g) memcpy(ws->trace_g[i], G, (size_t) B * n * sizeof(double));
    const double *cen = centred ? ws->rows : rg;
    double pg[4] = {0, 0, 0, 0};
    for (int p = 0; p < 4; p++)
        for (int b = 0; b < B; b++) pg[p] += cen[(size_t) p * B + b];
    summarize(res + NSUM * (Q_G + NQ * i), (double) B * n, pg, cgs, across_var(rg, rg + B, B, n));
}

/* The moments of dense layer i's gradients G = dC/ds^i and of its
   per-example weight gradients, and their histograms. X is the network's
   input (z^0). */
static void dense_backward_moments(const spec_t *sp, work_t *ws, int i, double *G,
                                   const double *D, int dz, const double *X, double *res,
                                   int *bad)
{
    const int B = sp->batch, nb = sp->nbins, nin = sp->w[i], nout = sp->w[i + 1];
    const double wlo = sp->hrange[6 * i + 4], wsc = nb / (sp->hrange[6 * i + 5] - wlo);
    double *hw = ws->hist + (size_t) (3 * i + 2) * (nb + 2);
    double *rg = ws->rowg;
    grad_moments(sp, ws, i, G, nout, D, dz, res);
    double n = (double) B * nout;
    /* per-example weight gradients z^i_l g^i_k: their power sums factor
       over examples, sum_lk (z_l g_k)^p = (sum_l z_l^p)(sum_k g_k^p) */
    const double *rz = ws->rowz + (size_t) i * 4 * B;
    double pw[4] = {0, 0, 0, 0};
    for (int p = 0; p < 4; p++)
        for (int b = 0; b < B; b++) pw[p] += rz[p * B + b] * rg[p * B + b];
    summarize(res + NSUM * (Q_W + NQ * i), n * nin, pw, 0.0, NAN);
    if (*bad == 0 && summary_bad(res + NSUM * (Q_G + NQ * i))) *bad = 1 + Q_G + NQ * i;
    if (*bad == 0 && summary_bad(res + NSUM * (Q_W + NQ * i))) *bad = 1 + Q_W + NQ * i;
    /* histogram of the weight gradients of the first example: its z^i, made
       contiguous, times each g^i_k */
    const double *Zi = i == 0 ? X : ws->Z[i];
    double *z0 = ws->zrow;
    for (int l = 0; l < nin; l++) z0[l] = Zi[(R_xlen_t) l * B];
    for (int k = 0; k < nout; k++) {
        const double g0 = G[(R_xlen_t) k * B];
        for (int l = 0; l < nin; l++) hist_add(hw, nb, wlo, wsc, z0[l] * g0);
    }
}

/* The normalized squared norms M = (|z^l|^2 / n_l) / (|x|^2 / n_0) of every
   example at every layer l = 1..d (Hanin and Rolnick 2018), from the row
   power sums of z^l the forward pass left in ws->rowz (scaled by the next
   layer's input scale, 1 at the output), as quantity Q_M of layer l. Rows
   whose input is 0 have no M and are left out. */
static void norm_moments(const spec_t *sp, work_t *ws, double *res, int *bad)
{
    const int d = sp->d, B = sp->batch;
    const double *r0 = ws->rowz + B;   /* sum_k (x_bk / sc_0)^2 */
    const double sc0 = sp->scale[Q_W];
    for (int l = 1; l <= d; l++) {
        const double scl = l < d ? sp->scale[Q_W + NQ * l] : 1.0, q = scl / sc0;
        const double c = sp->center[Q_M + NQ * (l - 1)], is = 1 / sp->scale[Q_M + NQ * (l - 1)];
        /* M / scale = (rl / r0) q^2 n0 / nl / scale, the scale near q^2:
           no intermediate overflows */
        const double fac = q * (q * is) * sp->w[0] / sp->w[l], cs = c * is;
        const double *rl = ws->rowz + (size_t) l * 4 * B + B;
        double P[4] = {0, 0, 0, 0}, n = 0;
        for (int b = 0; b < B; b++) {
            if (!(r0[b] > 0)) continue;
            double u = rl[b] / r0[b] * fac - cs, u2 = u * u;
            P[0] += u; P[1] += u2; P[2] += u2 * u; P[3] += u2 * u2;
            n += 1;
        }
        double *out = res + NSUM * (Q_M + NQ * (l - 1));
        if (n > 0) {
            summarize(out, n, P, cs, NAN);
        } else {
            /* no example has a non-zero input: nothing to count */
            for (int t = 0; t < NSUM; t++) out[t] = 0;
            out[7] = NAN;
        }
        if (*bad == 0 && summary_bad(out)) *bad = 1 + Q_M + NQ * (l - 1);
    }
}

/* The moments of conv layer i's gradients G = dC/ds^i (D as for
   grad_moments()) and of its per-example weight gradients (src/conv.c),
   and their histograms. Zin is the layer's input. Returns 1 if stopped for
   an interrupt. */
static int conv_backward_moments(const spec_t *sp, work_t *ws, int i, double *G,
                                 const double *D, const double *Zin, double *res, int *bad,
                                 iv_stop_t *stop)
{
    const int B = sp->batch, nb = sp->nbins, nout = sp->w[i + 1], u = sp->ufirst[i];
    const double wlo = sp->hrange[6 * i + 4], wsc = nb / (sp->hrange[6 * i + 5] - wlo);
    double *hw = ws->hist + (size_t) (3 * i + 2) * (nb + 2);
    grad_moments(sp, ws, i, G, nout, D, 0, res);
    iv_conv_position_sums(sp, ws, i, G, NULL, 1);
    const double is = 1 / (sp->scale[Q_W + NQ * i] * sp->scale[Q_G + NQ * i]);
    double pw[4];
    const double *first = NULL;
    if (iv_conv_wgrad(sp, ws, i, Zin, G, is, pw, &first, stop)) return 1;
    const size_t nw = (size_t) sp->uin[u] * sp->uout[u];
    summarize(res + NSUM * (Q_W + NQ * i), (double) B * nw, pw, 0.0, NAN);
    if (*bad == 0 && summary_bad(res + NSUM * (Q_G + NQ * i))) *bad = 1 + Q_G + NQ * i;
    if (*bad == 0 && summary_bad(res + NSUM * (Q_W + NQ * i))) *bad = 1 + Q_W + NQ * i;
    for (size_t t = 0; t < nw; t++) hist_add(hw, nb, wlo, wsc, first[t]);
    return 0;
}

/* ---- residual blocks ------------------------------------------------------ */

/* Layer normalization of the rows of the B x n matrix X (column-major):
   Y = (x - mean(x)) / r, r the root mean square of x - mean(x) over the n
   units; rinv[b] = 1 / r (0 when r = 0, and then Y = 0). mu: B of scratch.
   Y may be X. */
static void ln_rows(const double *X, double *Y, double *rinv, double *mu, int B, int n)
{
    for (int b = 0; b < B; b++) { mu[b] = 0; rinv[b] = 0; }
    for (int k = 0; k < n; k++) {
        const double *c = X + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) mu[b] += c[b];
    }
    for (int b = 0; b < B; b++) mu[b] /= n;
    for (int k = 0; k < n; k++) {
        const double *c = X + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) { double e = c[b] - mu[b]; rinv[b] += e * e; }
    }
    for (int b = 0; b < B; b++) {
        double v = rinv[b] / n;
        rinv[b] = v > 0 ? 1 / sqrt(v) : 0;
    }
    for (int k = 0; k < n; k++) {
        const double *c = X + (R_xlen_t) k * B;
        double *y = Y + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) y[b] = (c[b] - mu[b]) * rinv[b];
    }
}

/* The backward pass of ln_rows(), in place: dY (B x n) becomes
   dX = (dY - mean(dY) - Y mean(dY Y)) / r per row, Y the normalized rows
   and rinv their 1 / r. tmp: 2 B of scratch. */
static void ln_backward(double *dY, const double *Y, const double *rinv, double *tmp,
                        int B, int n)
{
    double *m1 = tmp, *m2 = tmp + B;
    for (int b = 0; b < B; b++) { m1[b] = 0; m2[b] = 0; }
    for (int k = 0; k < n; k++) {
        const double *g = dY + (R_xlen_t) k * B, *y = Y + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) { m1[b] += g[b]; m2[b] += g[b] * y[b]; }
    }
    for (int b = 0; b < B; b++) { m1[b] /= n; m2[b] /= n; }
    for (int k = 0; k < n; k++) {
        double *g = dY + (R_xlen_t) k * B;
        const double *y = Y + (R_xlen_t) k * B;
        for (int b = 0; b < B; b++) g[b] = (g[b] - m1[b] - y[b] * m2[b]) * rinv[b];
    }
}

/* The two, for the attention kernels (src/transformer.c). */
void iv_ln_rows(const double *X, double *Y, double *rinv, double *mu, int B, int n)
{
    ln_rows(X, Y, rinv, mu, B, n);
}

void iv_ln_backward(double *dY, const double *Y, const double *rinv, double *tmp, int B, int n)
{
    ln_backward(dY, Y, rinv, tmp, B, n);
}

/* Residual layer i, forward: x = Xin (B x n), a = LN(x) (NORM_PRE) or x,
   u_0 = a, t_k = u_k W_k + b_k, u_{k+1} = f_k(t_k) for the block's units
   k = 0..m-1 (f_k the unit's activation; f' into ws->D[i]), F(x) = u_m, and
   h = skip x + alpha F(x) into ws->S[i], the output LN(h) (NORM_POST) or h
   into ws->Z[i + 1]. Keeps, in ws->R[i], the row power sums and first row
   of the last unit's input (for its weight gradients) and the rows' 1 / r.
   Returns 1 if stopped for an interrupt. */
static int residual_forward(const spec_t *sp, work_t *ws, int i, const double *Xin,
                            uint64_t base, iv_stop_t *stop)
{
    const int B = sp->batch, n = sp->w[i], m = sp->units[i], u0 = sp->ufirst[i];
    const int nrm = sp->rnorm[i];
    const double one = 1.0, zero = 0.0, alpha = sp->ralpha[i], skip = sp->rskip[i];
    const R_xlen_t Bn = (R_xlen_t) B * n;
    /* R[i]: row power sums of the last unit's input (4 B), the rows' 1 / r
       before and after (B each), that input's first row */
    double *R = ws->R[i], *ru = R, *rpre = R + 4 * (size_t) B, *rpost = rpre + B;
    double *urow = rpost + B;
    const double *in = Xin;
    if (nrm == NORM_PRE) {
        ln_rows(Xin, ws->A[i], rpre, ws->col, B, n);
        in = ws->A[i];
    }
    double *buf[2] = { ws->G, ws->dZ };
    double *Dk = ws->D[i];
    for (int k = 0; k < m; k++) {
        const int u = u0 + k, nin = sp->uin[u], nout = sp->uout[u];
        const R_xlen_t Bo = (R_xlen_t) B * nout;
        if (k == m - 1) {
            row_powers(in, B, nin, 1 / sp->scale[Q_W + NQ * i], ru);
            for (int l = 0; l < nin; l++) urow[l] = in[(R_xlen_t) l * B];
        }
        if (iv_poll(stop)) return 1;
        iv_draw_layer(sp, u, base, ws->W[u], ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
        if (ws->trace_b) memcpy(ws->trace_b[u], ws->bias, (size_t) nout * sizeof(double));
        double *T = buf[k & 1];
        if (k > 0) Dk += (R_xlen_t) B * sp->uout[u - 1];
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "N", &B, &nout, &nin, &one, in, &B, ws->W[u], &nin,
                        &zero, T, &B FCONE FCONE);
        if (iv_poll(stop)) return 1;
        if (sp->act[u] == ACT_R) {
            for (int c = 0; c < nout; c++) {
                double bc = ws->bias[c];
                for (int b = 0; b < B; b++) T[b + (R_xlen_t) c * B] += bc;
            }
            memcpy(Dk, T, (size_t) Bo * sizeof(double));
            act_r(VECTOR_ELT(sp->rfuns, u), Dk, T, Bo, i + 1);   /* T = f, Dk = f' */
        } else {
            for (int c = 0; c < nout; c++) {
                double *Tc = T + (R_xlen_t) c * B, *Dc = Dk + (R_xlen_t) c * B;
                memcpy(Dc, Tc, (size_t) B * sizeof(double));
                act_column(sp->act[u], sp->aparam[u], ws->bias[c], Dc, Tc, ws->col, B);
            }
        }
        in = T;
    }
    double *h = ws->S[i], *Z = ws->Z[i + 1];
    for (R_xlen_t t = 0; t < Bn; t++) h[t] = skip * Xin[t] + alpha * in[t];
    if (nrm == NORM_POST) ln_rows(h, Z, rpost, ws->col, B, n);
    else memcpy(Z, h, (size_t) Bn * sizeof(double));
    return 0;
}

/* The moments of residual layer i's s = h and z (its output), the raw row
   power sums of z for the next layer, and the histogram of z: as
   dense_forward_moments() does for a dense layer. */
static void residual_forward_moments(const spec_t *sp, work_t *ws, int i, double *res, int *bad)
{
    const int d = sp->d, B = sp->batch, nb = sp->nbins, nout = sp->w[i + 1];
    const double *S = ws->S[i], *Z = ws->Z[i + 1];
    const double cs = sp->center[Q_S + NQ * i], cz = sp->center[Q_Z + NQ * i];
    const double iss = 1 / sp->scale[Q_S + NQ * i], isz = 1 / sp->scale[Q_Z + NQ * i];
    const double isw = i + 1 < d ? 1 / sp->scale[Q_W + NQ * (i + 1)] : 1;
    const double hlo = sp->hrange[6 * i], hsc = nb / (sp->hrange[6 * i + 1] - hlo);
    double *hz = ws->hist + (size_t) (3 * i + 0) * (nb + 2);
    double *rz = ws->rowz + (size_t) (i + 1) * 4 * B;
    memset(ws->rows, 0, (size_t) 8 * B * sizeof(double));
    memset(rz, 0, (size_t) 4 * B * sizeof(double));
    if (ws->trace_s) memcpy(ws->trace_s[i], S, (size_t) B * nout * sizeof(double));
    for (int k = 0; k < nout; k += 2) {
        const double *Sk = S + (R_xlen_t) k * B, *Zk = Z + (R_xlen_t) k * B;
        const int two = k + 1 < nout;
        power_sums(ws->rows, Sk, two ? Sk + B : NULL, cs, iss, B);
        power_sums(ws->rows + 4 * (size_t) B, Zk, two ? Zk + B : NULL, cz, isz, B);
        power_sums(rz, Zk, two ? Zk + B : NULL, 0.0, isw, B);
        hist_column(hz, ws->hlane, nb, hlo, hsc, Zk, B);
        if (two) hist_column(hz, ws->hlane, nb, hlo, hsc, Zk + B, B);
    }
    forward_summaries(sp, ws, i, res, bad);
}

/* The moments of residual layer i's gradient G = dC/dh and of the
   per-example gradients of its last unit's weights, dC/dW_m = u_{m-1}
   (alpha G), and their histograms. */
static void residual_backward_moments(const spec_t *sp, work_t *ws, int i, double *G,
                                      double *res, int *bad)
{
    const int B = sp->batch, nb = sp->nbins, n = sp->w[i];
    const double alpha = sp->ralpha[i];
    const double wlo = sp->hrange[6 * i + 4], wsc = nb / (sp->hrange[6 * i + 5] - wlo);
    double *hw = ws->hist + (size_t) (3 * i + 2) * (nb + 2);
    double *rg = ws->rowg;
    grad_moments(sp, ws, i, G, n, NULL, 0, res);
    double nv = (double) B * n;
    /* the last unit's input width (n, or d_ff, or heads d_k) */
    const int nl = sp->uin[sp->ufirst[i] + sp->units[i] - 1];
    /* sum_lk (u_l alpha g_k)^p = alpha^p (sum_l u_l^p)(sum_k g_k^p) */
    const double *ru = ws->R[i], *urow = ws->R[i] + 6 * (size_t) B;
    double pw[4] = {0, 0, 0, 0}, ap = 1;
    for (int p = 0; p < 4; p++) {
        ap *= alpha;
        for (int b = 0; b < B; b++) pw[p] += ru[p * B + b] * rg[p * B + b];
        pw[p] *= ap;
    }
    summarize(res + NSUM * (Q_W + NQ * i), nv * nl, pw, 0.0, NAN);
    if (*bad == 0 && summary_bad(res + NSUM * (Q_G + NQ * i))) *bad = 1 + Q_G + NQ * i;
    if (*bad == 0 && summary_bad(res + NSUM * (Q_W + NQ * i))) *bad = 1 + Q_W + NQ * i;
    for (int k = 0; k < n; k++) {
        const double g0 = alpha * G[(R_xlen_t) k * B];
        for (int l = 0; l < nl; l++) hist_add(hw, nb, wlo, wsc, urow[l] * g0);
    }
}

/* Residual layer i, backward: from G = dC/dh to out = dC/dx (B x n; out is
   not G): skip G plus the branch's backward pass of alpha G, through the
   units' f' and weights and, with NORM_PRE, the normalization. Returns 1 if
   stopped for an interrupt. */
static int residual_backward(const spec_t *sp, work_t *ws, int i, const double *G, double *out,
                             iv_stop_t *stop)
{
    const int B = sp->batch, n = sp->w[i], m = sp->units[i], u0 = sp->ufirst[i];
    const double one = 1.0, zero = 0.0, alpha = sp->ralpha[i], skip = sp->rskip[i];
    const R_xlen_t Bn = (R_xlen_t) B * n;
    double *cur = ws->dT, *other = out;
    for (R_xlen_t t = 0; t < Bn; t++) cur[t] = alpha * G[t];
    R_xlen_t off = 0;   /* the units' f' in D[i], B x uout each */
    for (int k = 0; k < m; k++) off += (R_xlen_t) B * sp->uout[u0 + k];
    for (int k = m - 1; k >= 0; k--) {
        const int nin = sp->uin[u0 + k], nout = sp->uout[u0 + k];
        const R_xlen_t Bo = (R_xlen_t) B * nout;
        off -= Bo;
        const double *Dk = ws->D[i] + off;
        for (R_xlen_t t = 0; t < Bo; t++) cur[t] *= Dk[t];
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "T", &B, &nin, &nout, &one, cur, &B, ws->W[u0 + k], &nin,
                        &zero, other, &B FCONE FCONE);
        double *tmp = cur; cur = other; other = tmp;
    }
    if (sp->rnorm[i] == NORM_PRE)
        ln_backward(cur, ws->A[i], ws->R[i] + 4 * (size_t) B, ws->rows, B, n);
    for (R_xlen_t t = 0; t < Bn; t++) out[t] = skip * G[t] + cur[t];
    return 0;
}

/* Correlated tokens: every sequence's block of T rows of the B x ncol
   matrix X (rows grouped by sequence), column by column, replaced by M
   times it (M T x T, column-major); tmp holds T values. */
static void mix_tokens(const double *M, int T, double *X, int B, int ncol, double *tmp)
{
    for (int j = 0; j < ncol; j++) {
        double *xc = X + (R_xlen_t) j * B;
        for (int s0 = 0; s0 + T <= B; s0 += T) {
            double *xs = xc + s0;
            for (int t = 0; t < T; t++) {
                double acc = 0;
                for (int k = 0; k < T; k++) acc += M[t + (R_xlen_t) k * T] * xs[k];
                tmp[t] = acc;
            }
            for (int t = 0; t < T; t++) xs[t] = tmp[t];
        }
    }
}

/* Simulate network `net`, writing its summaries to res (NSUM x NQ x d) and
   adding its histogram counts to ws->hist. Returns 0, or 1 if it stopped
   early for an interrupt (stop may be NULL: never stop). *bad is set to
   1 + q + NQ * i for the first (quantity q, layer i) whose moments are not
   finite, else left alone. The histogram counts of a stopped network are
   partial: the caller discards the whole call then. */
int iv_run_network(const spec_t *sp, work_t *ws, double net, double *res,
                   iv_stop_t *stop, int *bad)
{
    const int d = sp->d, B = sp->batch;
    const uint64_t base = (uint64_t) net * (uint64_t) (2 * (uint64_t) sp->U + 2);
    const double one = 1.0, zero = 0.0;
    iv_rng r;

    /* inputs */
    double *X;
    if (sp->input == IN_MATRIX) {
        X = (double *) sp->X;
    } else {
        X = ws->Z[0];
        iv_family fx;
        double sx = sqrt(sp->var_x);
        if (sp->input == IN_NORMAL) { fx.family = FAM_NORMAL; fx.p1 = 0; fx.p2 = sx; }
        else { fx.family = FAM_UNIFORM; fx.p1 = -sqrt(3.0) * sx; fx.p2 = sqrt(3.0) * sx; }
        iv_rng_init(&r, sp->seed, base);
        iv_fill(X, (R_xlen_t) (sp->dstart >= 0 ? 2 : 1) * B * sp->w[0], &fx, &r);
        if (sp->token_mix)
            mix_tokens(sp->token_mix, sp->tmT, X, B, (sp->dstart >= 0 ? 2 : 1) * sp->w[0],
                       ws->dT);
    }
    const double *Zin = X;
    row_powers(X, B, sp->w[0], 1 / sp->scale[Q_W], ws->rowz);

    /* forward; checks for an interrupt around every matrix product */
    for (int i = 0; i < d; i++) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        double *S = ws->S[i], *Z = ws->Z[i + 1];
        /* encoder-decoder: the decoder reads the target tokens */
        if (i == sp->dstart) Zin = X + (R_xlen_t) B * sp->w[0];
        if (sp->kind[i] == LAYER_RESIDUAL) {
            if (residual_forward(sp, ws, i, Zin, base, stop)) return 1;
            residual_forward_moments(sp, ws, i, res, bad);
            Zin = Z;
            continue;
        }
        if (sp->kind[i] == LAYER_ATTENTION) {   /* src/transformer.c */
            if (iv_attention_forward(sp, ws, i, Zin, base, stop)) return 1;
            residual_forward_moments(sp, ws, i, res, bad);
            Zin = Z;
            continue;
        }
        if (sp->kind[i] == LAYER_CONV) {   /* src/conv.c: s less its bias */
            if (iv_conv_forward(sp, ws, i, Zin, base, stop)) return 1;
            dense_forward_moments(sp, ws, i, res, bad);
            Zin = Z;
            continue;
        }
        const int u = sp->ufirst[i];
        if (iv_poll(stop)) return 1;
        iv_draw_layer(sp, u, base, ws->W[u], ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "N", &B, &nout, &nin, &one, Zin, &B, ws->W[u], &nin,
                        &zero, S, &B FCONE FCONE);
        if (iv_poll(stop)) return 1;
        dense_forward_moments(sp, ws, i, res, bad);
        Zin = Z;
    }

    norm_moments(sp, ws, res, bad);

    /* output gradient dC/ds^{d-1} */
    double *G = ws->G, *dZ = ws->dZ;
    output_gradient(sp, ws, base);

    /* backward; an encoder-decoder's memory gradient sums the decoder's
       cross-attention layers' (src/transformer.c) */
    if (ws->gM) memset(ws->gM, 0, (size_t) B * sp->w[0] * sizeof(double));
    for (int i = d - 1; i >= 0; i--) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        if (iv_poll(stop)) return 1;
        if (sp->kind[i] == LAYER_RESIDUAL) {
            residual_backward_moments(sp, ws, i, G, res, bad);
            if (i > 0 && residual_backward(sp, ws, i, G, dZ, stop)) return 1;
        } else if (sp->kind[i] == LAYER_ATTENTION) {   /* src/transformer.c */
            residual_backward_moments(sp, ws, i, G, res, bad);
            if (i > 0 && iv_attention_backward(sp, ws, i, G, dZ, stop)) return 1;
        } else if (sp->kind[i] == LAYER_CONV) {   /* src/conv.c */
            if (conv_backward_moments(sp, ws, i, G, i == d - 1 ? NULL : ws->S[i],
                                      i == 0 ? X : ws->Z[i], res, bad, stop)) return 1;
            if (i > 0 && iv_conv_backward(sp, ws, i, G, dZ, stop)) return 1;
        } else {
            /* below the output, G is dC/dz^{i+1}: f'(s^i) is applied in the
               moments' pass */
            const int tz = tanh_df_from_z(sp, i);
            dense_backward_moments(sp, ws, i, G, i == d - 1 ? NULL : tz ? ws->Z[i + 1] : ws->S[i],
                                   tz, X, res, bad);
            if (i > 0)
                F77_CALL(dgemm)("N", "T", &B, &nin, &nout, &one, G, &B, ws->W[sp->ufirst[i]],
                                &nin, &zero, dZ, &B FCONE FCONE);
        }
        if (i > 0 && i == sp->dstart) {
            /* the encoder's output gradient is the memory's, not the
               decoder input's */
            memcpy(dZ, ws->gM, (size_t) B * nin * sizeof(double));
        }
        if (i > 0) {
            /* dC/dz^i to dC/ds^{i-1}: the derivative of layer i - 1's output
               (a dense layer i - 1 multiplies by its f' in its moments' pass) */
            if (sp->kind[i - 1] != LAYER_DENSE && sp->rnorm[i - 1] == NORM_POST) {
                ln_backward(dZ, ws->Z[i], ws->R[i - 1] + 5 * (size_t) B, ws->rows, B, nin);
            }
            double *tmp = G; G = dZ; dZ = tmp;
        }
    }
    return 0;
}
