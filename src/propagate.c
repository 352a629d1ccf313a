/* The propagation engine: random dense networks, forward and backward, with
 * per-layer moments accumulated in one pass over each layer's output.
 *
 * A call simulates one block of networks (first, ..., first + count - 1).
 * Network j draws everything from streams j * (2d + 2) + component of the
 * call's seed, so the result does not depend on the thread that ran it. The
 * per-network summaries are folded in network order, and blocks are folded
 * in block order by the caller, so a run gives the same numbers for any
 * number of threads or workers.
 *
 * Quantities, per layer i = 0..d-1 (Glorot's indices): s^i = z^i W^i + b^i,
 * z^{i+1} = f(s^i), g^i = dC/ds^i, and the per-example weight gradients
 * dC/dW^i_{lk} = z^i_l g^i_k.
 */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#ifndef FCONE
#define FCONE
#endif
#include <string.h>
#include "rng.h"
#include "threads.h"
#include "sample.h"
#include "checks.h"
#include "moments.h"
#include "activations.h"
#include "interrupt.h"
#ifdef _OPENMP
#include <omp.h>
#endif

enum { Q_S = 0, Q_Z = 1, Q_G = 2, Q_W = 3, NQ = 4 };
enum { W_UNIFORM = 1, W_NORMAL = 2, W_TRUNC = 3, W_CONSTANT = 4,
       W_IDENTITY = 5, W_ORTHO = 6, W_SPARSE = 7 };

/* per-network summary of one (quantity, layer): n, mean, M2, M3, M4, a, b, e */
#define NSUM 8

typedef struct {
    int d, batch, nbins;
    int *w;                 /* widths, d + 1 */
    const int *act;
    const double *aparam;
    const int *wkind, *bkind;
    iv_family *wf, *bf;     /* iid families of weights and biases */
    const double *wpar, *bpar; /* 4 per layer */
    int input;              /* 1 normal, 2 uniform, 3 matrix */
    double var_x;
    const double *X;
    int grad;               /* 1 normal, 2 softmax cross-entropy */
    double var_grad;
    const double *center;   /* NQ x d */
    const double *scale;    /* NQ x d: powers of 2; values are accumulated
                               divided by them (for Q_W: the scale of the
                               layer's input z, times that of dC/ds) */
    const double *hrange;   /* 2 x 3 x d: (lo, hi) for z, g, w */
    SEXP rfuns;             /* list of d: NULL or list(f, df) */
    uint64_t seed;
    int maxw, lwork;
} spec_t;

typedef struct {
    double **Z, **S, **W;
    double *bias, *G, *dZ, *scratch, *tau, *work;
    double *rowz;           /* (d + 1) x 4 x batch: row power sums of z^i */
    double *rowa, *rowb;    /* batch: row sums of s - c_s and its square */
    double *rowc, *rowd;    /* batch: row sums of z - c_z and its square */
    double *rowg;           /* 4 x batch */
    int *perm;
    double *hist;           /* 3 x d x (nbins + 2) */
    double **trace_s, **trace_b, **trace_g; /* NULL, or copies for tests */
} work_t;

/* ---- spec from the R list ---------------------------------------------- */

static SEXP spec_elt(SEXP spec, int i, SEXPTYPE type, R_xlen_t len,
                     const char *what)
{
    SEXP x = VECTOR_ELT(spec, i);
    if (TYPEOF(x) != type || (len >= 0 && XLENGTH(x) != len))
        error("`spec$%s` has the wrong type or length.", what);
    return x;
}

static void read_spec(SEXP spec, spec_t *sp)
{
    if (TYPEOF(spec) != VECSXP || XLENGTH(spec) != 19)
        error("`spec` must be a list of 19 elements (see initvar:::engine_spec).");
    SEXP widths = VECTOR_ELT(spec, 0);
    if (TYPEOF(widths) != INTSXP || XLENGTH(widths) < 2)
        error("`spec$widths` must be an integer vector of length >= 2.");
    if (XLENGTH(widths) > 100001) error("`spec$widths` describes more than 1e5 layers.");
    int d = (int) XLENGTH(widths) - 1;
    sp->d = d;
    sp->w = INTEGER(widths);
    sp->maxw = 0;
    for (int i = 0; i <= d; i++) {
        if (sp->w[i] < 1 || sp->w[i] > (1 << 24))
            error("`spec$widths` must hold positive widths.");
        if (sp->w[i] > sp->maxw) sp->maxw = sp->w[i];
    }
    sp->act = INTEGER(spec_elt(spec, 1, INTSXP, d, "act"));
    sp->aparam = REAL(spec_elt(spec, 2, REALSXP, d, "act_param"));
    sp->wkind = INTEGER(spec_elt(spec, 3, INTSXP, d, "wkind"));
    sp->wpar = REAL(spec_elt(spec, 4, REALSXP, 4 * (R_xlen_t) d, "wpar"));
    sp->bkind = INTEGER(spec_elt(spec, 5, INTSXP, d, "bkind"));
    sp->bpar = REAL(spec_elt(spec, 6, REALSXP, 4 * (R_xlen_t) d, "bpar"));
    sp->input = iv_int_arg(VECTOR_ELT(spec, 7), "spec$input");
    sp->var_x = iv_real_arg(VECTOR_ELT(spec, 8), "spec$var_x");
    sp->batch = (int) iv_size_arg(VECTOR_ELT(spec, 12), "spec$batch", 1 << 24);
    SEXP X = VECTOR_ELT(spec, 9);
    if (sp->input == 3) {
        if (TYPEOF(X) != REALSXP || XLENGTH(X) != (R_xlen_t) sp->batch * sp->w[0])
            error("`spec$X` must be a batch x n0 double matrix.");
        sp->X = REAL(X);
    } else if (sp->input == 1 || sp->input == 2) {
        if (X != R_NilValue) error("`spec$X` must be NULL for random inputs.");
        sp->X = NULL;
        if (sp->var_x < 0) error("`spec$var_x` must be non-negative.");
    } else {
        error("`spec$input` must be 1, 2 or 3.");
    }
    sp->grad = iv_int_arg(VECTOR_ELT(spec, 10), "spec$grad");
    if (sp->grad != 1 && sp->grad != 2) error("`spec$grad` must be 1 or 2.");
    sp->var_grad = iv_real_arg(VECTOR_ELT(spec, 11), "spec$var_grad");
    if (sp->var_grad < 0) error("`spec$var_grad` must be non-negative.");
    sp->center = REAL(spec_elt(spec, 13, REALSXP, NQ * (R_xlen_t) d, "center"));
    sp->nbins = (int) iv_size_arg(VECTOR_ELT(spec, 14), "spec$nbins", 1e6);
    sp->hrange = REAL(spec_elt(spec, 15, REALSXP, 6 * (R_xlen_t) d, "hrange"));
    for (int i = 0; i < 3 * d; i++)
        if (!(sp->hrange[2 * i] < sp->hrange[2 * i + 1]) ||
            !R_FINITE(sp->hrange[2 * i]) || !R_FINITE(sp->hrange[2 * i + 1]))
            error("`spec$hrange` must hold finite increasing pairs.");
    const double *sd = REAL(spec_elt(spec, 16, REALSXP, 2, "seed"));
    if (!(sd[0] >= 0 && sd[0] < 4294967296.0 && sd[1] >= 0 && sd[1] < 4294967296.0))
        error("`spec$seed` must hold two 32-bit halves.");
    sp->seed = ((uint64_t) sd[0] << 32) ^ (uint64_t) sd[1];
    sp->rfuns = spec_elt(spec, 17, VECSXP, d, "rfuns");
    sp->scale = REAL(spec_elt(spec, 18, REALSXP, NQ * (R_xlen_t) d, "scale"));
    for (R_xlen_t i = 0; i < NQ * (R_xlen_t) d; i++) {
        int e;
        if (!(sp->scale[i] > 0) || !R_FINITE(sp->scale[i]) || frexp(sp->scale[i], &e) != 0.5)
            error("`spec$scale` must hold powers of 2.");
    }

    sp->wf = (iv_family *) R_alloc(d, sizeof(iv_family));
    sp->bf = (iv_family *) R_alloc(d, sizeof(iv_family));
    sp->lwork = 1;
    for (int i = 0; i < d; i++) {
        if (sp->act[i] < ACT_LINEAR || sp->act[i] > ACT_R)
            error("`spec$act` has an unknown activation code.");
        if (!R_FINITE(sp->aparam[i])) error("`spec$act_param` must be finite.");
        if (sp->act[i] == ACT_R) {
            SEXP fl = VECTOR_ELT(sp->rfuns, i);
            if (TYPEOF(fl) != VECSXP || XLENGTH(fl) != 2 ||
                !isFunction(VECTOR_ELT(fl, 0)) || !isFunction(VECTOR_ELT(fl, 1)))
                error("`spec$rfuns[[%d]]` must be list(f, df).", i + 1);
        }
        const double *p = sp->wpar + 4 * i;
        for (int k = 0; k < 2; k++)
            if (!R_FINITE(p[k])) error("`spec$wpar` must be finite.");
        int wk = sp->wkind[i], nin = sp->w[i], nout = sp->w[i + 1];
        iv_family *f = sp->wf + i;
        f->family = wk; f->p1 = p[0]; f->p2 = p[1]; f->lo = p[2]; f->hi = p[3];
        f->tn_method = 0; f->tn_flip = 0; f->tn_alpha = 1; f->tn_m2 = 0;
        if (wk == W_UNIFORM && !(p[0] <= p[1])) error("uniform weights need a <= b.");
        if ((wk == W_NORMAL || wk == W_TRUNC || wk == W_SPARSE) && p[1] < 0)
            error("weights need sd >= 0.");
        if (wk == W_TRUNC) {
            if (!(p[2] < p[3]) || p[2] == R_PosInf || p[3] == R_NegInf)
                error("truncated weights need lower < upper.");
            iv_tn_setup(f);
        } else if (wk == W_ORTHO) {
            int m = nin > nout ? nin : nout, k = nin > nout ? nout : nin;
            int lw = iv_qr_lwork(m, k);
            if (lw > sp->lwork) sp->lwork = lw;
        } else if (wk == W_SPARSE) {
            if (p[0] < 0 || p[0] > nin || p[0] != floor(p[0]))
                error("sparse weights need 0 <= nzero <= fan_in.");
        } else if (wk < W_UNIFORM || wk > W_SPARSE) {
            error("`spec$wkind` has an unknown code.");
        }
        const double *bp = sp->bpar + 4 * i;
        int bk = sp->bkind[i];
        iv_family *g = sp->bf + i;
        g->family = bk; g->p1 = bp[0]; g->p2 = bp[1]; g->lo = bp[2]; g->hi = bp[3];
        g->tn_method = 0; g->tn_flip = 0; g->tn_alpha = 1; g->tn_m2 = 0;
        if (!R_FINITE(bp[0]) || !R_FINITE(bp[1])) error("`spec$bpar` must be finite.");
        if (bk == W_UNIFORM && !(bp[0] <= bp[1])) error("uniform biases need a <= b.");
        if ((bk == W_NORMAL || bk == W_TRUNC) && bp[1] < 0) error("biases need sd >= 0.");
        if (bk == W_TRUNC) {
            if (!(bp[2] < bp[3]) || bp[2] == R_PosInf || bp[3] == R_NegInf)
                error("truncated biases need lower < upper.");
            iv_tn_setup(g);
        } else if (bk < W_UNIFORM || bk > W_CONSTANT) {
            error("`spec$bkind` has an unknown code.");
        }
    }
}

/* Big buffers come from an arena (a workspace kept across blocks, see
   C_workspace) or, without one, from R_alloc. An arena with base NULL only
   counts the bytes needed. */
typedef struct {
    char *base;
    size_t used, cap;
} arena_t;

static void *take(arena_t *a, size_t n, size_t size)
{
    size_t bytes = (n * size + 63) & ~((size_t) 63);
    if (a == NULL) return R_alloc(n, size);
    void *p = a->base ? a->base + a->used : NULL;
    a->used += bytes;
    if (a->base && a->used > a->cap) error("internal error: workspace too small.");
    return p;
}

static void alloc_work(const spec_t *sp, work_t *ws, arena_t *a)
{
    int d = sp->d, B = sp->batch;
    ws->Z = (double **) R_alloc(d + 1, sizeof(double *));
    ws->S = (double **) R_alloc(d, sizeof(double *));
    ws->W = (double **) R_alloc(d, sizeof(double *));
    ws->Z[0] = sp->input == 3 ? NULL : (double *) take(a, (size_t) B * sp->w[0], sizeof(double));
    size_t scratch = 1;
    for (int i = 0; i < d; i++) {
        ws->Z[i + 1] = (double *) take(a, (size_t) B * sp->w[i + 1], sizeof(double));
        ws->S[i] = (double *) take(a, (size_t) B * sp->w[i + 1], sizeof(double));
        ws->W[i] = (double *) take(a, (size_t) sp->w[i] * sp->w[i + 1], sizeof(double));
        if (sp->wkind[i] == W_ORTHO && sp->w[i] < sp->w[i + 1]) {
            size_t need = (size_t) sp->w[i] * sp->w[i + 1];
            if (need > scratch) scratch = need;
        }
    }
    ws->bias = (double *) take(a, sp->maxw, sizeof(double));
    ws->G = (double *) take(a, (size_t) B * sp->maxw, sizeof(double));
    ws->dZ = (double *) take(a, (size_t) B * sp->maxw, sizeof(double));
    ws->scratch = (double *) take(a, scratch, sizeof(double));
    ws->tau = (double *) take(a, sp->maxw, sizeof(double));
    ws->work = (double *) take(a, sp->lwork, sizeof(double));
    ws->rowz = (double *) take(a, (size_t) (d + 1) * 4 * B, sizeof(double));
    ws->rowa = (double *) take(a, B, sizeof(double));
    ws->rowb = (double *) take(a, B, sizeof(double));
    ws->rowc = (double *) take(a, B, sizeof(double));
    ws->rowd = (double *) take(a, B, sizeof(double));
    ws->rowg = (double *) take(a, (size_t) 4 * B, sizeof(double));
    ws->perm = (int *) take(a, sp->maxw, sizeof(int));
    ws->hist = (double *) take(a, (size_t) 3 * d * (sp->nbins + 2), sizeof(double));
    ws->trace_s = ws->trace_b = ws->trace_g = NULL;
}

static size_t work_bytes(const spec_t *sp)
{
    work_t tmp;
    arena_t count = { NULL, 0, 0 };
    alloc_work(sp, &tmp, &count);
    return count.used;
}

static int block_threads(const spec_t *sp, SEXP threads)
{
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    for (int i = 0; i < sp->d; i++) if (sp->act[i] == ACT_R) nth = 1;
    return nth;
}

/* A workspace for nth threads, reused by every block of a simulation so that
   memory does not depend on the number of blocks. Freed by its finalizer,
   also after an error or an interrupt. */
typedef struct {
    size_t cap;
    char *mem;
} workspace_t;

static SEXP workspace_tag(void)
{
    return install("initvar_workspace");
}

static void workspace_finalize(SEXP p)
{
    workspace_t *w = (workspace_t *) R_ExternalPtrAddr(p);
    if (w) {
        free(w->mem);
        free(w);
        R_ClearExternalPtr(p);
    }
}

SEXP C_workspace(SEXP spec, SEXP threads)
{
    spec_t sp;
    read_spec(spec, &sp);
    int nth = block_threads(&sp, threads);
    size_t bytes = (size_t) nth * work_bytes(&sp);
    SEXP p = PROTECT(R_MakeExternalPtr(NULL, workspace_tag(), R_NilValue));
    R_RegisterCFinalizerEx(p, workspace_finalize, TRUE);
    workspace_t *w = (workspace_t *) calloc(1, sizeof(workspace_t));
    if (!w) error("cannot allocate the simulation workspace.");
    R_SetExternalPtrAddr(p, w);
    w->mem = (char *) malloc(bytes);
    if (!w->mem) error("cannot allocate %.0f bytes for the simulation workspace.", (double) bytes);
    w->cap = bytes;
    UNPROTECT(1);
    return p;
}

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
    double t = (x - lo) * scale;
    int i;
    if (!(t >= 0)) i = 0;                  /* underflow (and NaN) */
    else if (t >= nb) i = nb + 1;          /* overflow */
    else i = 1 + (int) t;
    h[i] += 1;
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

static void draw_layer(const spec_t *sp, work_t *ws, int i, uint64_t base)
{
    int nin = sp->w[i], nout = sp->w[i + 1];
    R_xlen_t nw = (R_xlen_t) nin * nout;
    double *W = ws->W[i];
    const double *p = sp->wpar + 4 * i;
    iv_rng r;
    iv_rng_init(&r, sp->seed, base + 1 + i);
    switch (sp->wkind[i]) {
    case W_CONSTANT:
        for (R_xlen_t k = 0; k < nw; k++) W[k] = p[0];
        break;
    case W_IDENTITY:
        memset(W, 0, nw * sizeof(double));
        for (int k = 0; k < nin && k < nout; k++) W[k + (R_xlen_t) k * nin] = p[0];
        break;
    case W_ORTHO: {
        iv_family g = { W_NORMAL, 0.0, 1.0, 0, 0, 0, 0, 1, 0 };
        if (nin >= nout) {
            iv_fill(W, nw, &g, &r);
            iv_orthonormalize(W, nin, nout, p[0], ws->tau, ws->work, sp->lwork);
        } else {
            iv_fill(ws->scratch, nw, &g, &r);
            iv_orthonormalize(ws->scratch, nout, nin, p[0], ws->tau, ws->work, sp->lwork);
            iv_transpose(ws->scratch, nout, nin, W);
        }
        break;
    }
    case W_SPARSE:
        for (int k = 0; k < nout; k++)
            iv_sparse_column(W + (R_xlen_t) k * nin, nin, (int) p[0], p[1], ws->perm, &r);
        break;
    default:
        iv_fill(W, nw, sp->wf + i, &r);
    }
    iv_rng_init(&r, sp->seed, base + 1 + sp->d + i);
    if (sp->bkind[i] == W_CONSTANT) {
        for (int k = 0; k < nout; k++) ws->bias[k] = sp->bpar[4 * i];
    } else {
        iv_fill(ws->bias, nout, sp->bf + i, &r);
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

/* Simulate network `net`, writing its summaries to res (NSUM x NQ x d) and
   adding its histogram counts to ws->hist. Returns 0, or 1 if it stopped
   early for an interrupt (stop may be NULL: never stop). *bad is set to
   1 + q + NQ * i for the first (quantity q, layer i) whose moments are not
   finite, else left alone. The histogram counts of a stopped network are
   partial: the caller discards the whole call then. */
static int run_network(const spec_t *sp, work_t *ws, double net, double *res,
                       iv_stop_t *stop, int *bad)
{
    const int d = sp->d, B = sp->batch, nb = sp->nbins;
    const uint64_t base = (uint64_t) net * (uint64_t) (2 * d + 2);
    const double one = 1.0, zero = 0.0;
    iv_rng r;

    /* inputs */
    double *X;
    if (sp->input == 3) {
        X = (double *) sp->X;
    } else {
        X = ws->Z[0];
        iv_family fx;
        double sx = sqrt(sp->var_x);
        if (sp->input == 1) { fx.family = W_NORMAL; fx.p1 = 0; fx.p2 = sx; }
        else { fx.family = W_UNIFORM; fx.p1 = -sqrt(3.0) * sx; fx.p2 = sqrt(3.0) * sx; }
        iv_rng_init(&r, sp->seed, base);
        iv_fill(X, (R_xlen_t) B * sp->w[0], &fx, &r);
    }
    const double *Zin = X;
    row_powers(X, B, sp->w[0], 1 / sp->scale[Q_W], ws->rowz);

    /* forward; checks for an interrupt around every matrix product */
    for (int i = 0; i < d; i++) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        if (iv_poll(stop)) return 1;
        draw_layer(sp, ws, i, base);
        double *S = ws->S[i], *Z = ws->Z[i + 1];
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "N", &B, &nout, &nin, &one, Zin, &B, ws->W[i], &nin,
                        &zero, S, &B FCONE FCONE);
        if (iv_poll(stop)) return 1;
        const double cs = sp->center[Q_S + NQ * i], cz = sp->center[Q_Z + NQ * i];
        const double iss = 1 / sp->scale[Q_S + NQ * i], isz = 1 / sp->scale[Q_Z + NQ * i];
        const double hlo = sp->hrange[6 * i], hsc = nb / (sp->hrange[6 * i + 1] - hlo);
        double *hz = ws->hist + (size_t) (3 * i + 0) * (nb + 2);
        double ps[4] = {0, 0, 0, 0}, pz[4] = {0, 0, 0, 0};
        double *ra = ws->rowa, *rb = ws->rowb, *rc = ws->rowc, *rd = ws->rowd;
        memset(ra, 0, B * sizeof(double));
        memset(rb, 0, B * sizeof(double));
        memset(rc, 0, B * sizeof(double));
        memset(rd, 0, B * sizeof(double));
        const int code = sp->act[i];
        const double ap = sp->aparam[i];
        double *ts = ws->trace_s ? ws->trace_s[i] : NULL;
        if (ws->trace_b) memcpy(ws->trace_b[i], ws->bias, nout * sizeof(double));
        if (code == ACT_R) {
            R_xlen_t n = (R_xlen_t) B * nout;
            for (int k = 0; k < nout; k++) {
                double bk = ws->bias[k];
                for (int b = 0; b < B; b++) S[b + (R_xlen_t) k * B] += bk;
            }
            memcpy(ws->dZ, S, n * sizeof(double));     /* keep s for its moments */
            act_r(VECTOR_ELT(sp->rfuns, i), S, Z, n, i + 1);  /* Z = f(s), S = f'(s) */
        }
        for (int k = 0; k < nout; k++) {
            const double bk = ws->bias[k];
            double *Sk = S + (R_xlen_t) k * B, *Zk = Z + (R_xlen_t) k * B;
            const double *Sr = ws->dZ + (R_xlen_t) k * B;
            for (int b = 0; b < B; b++) {
                double s, z, ds;
                if (code == ACT_R) { s = Sr[b]; z = Zk[b]; }
                else {
                    s = Sk[b] + bk;
                    z = act_eval(code, ap, s, &ds);
                    Zk[b] = z;
                    Sk[b] = ds;
                }
                if (ts) ts[b + (R_xlen_t) k * B] = s;
                double u = (s - cs) * iss, u2 = u * u;
                ps[0] += u; ps[1] += u2; ps[2] += u2 * u; ps[3] += u2 * u2;
                ra[b] += u; rb[b] += u2;
                double v = (z - cz) * isz, v2 = v * v;
                pz[0] += v; pz[1] += v2; pz[2] += v2 * v; pz[3] += v2 * v2;
                rc[b] += v; rd[b] += v2;
                hist_add(hz, nb, hlo, hsc, z);
            }
        }
        double n = (double) B * nout;
        summarize(res + NSUM * (Q_S + NQ * i), n, ps, cs * iss, across_var(ra, rb, B, nout));
        double *rz = ws->rowz + (size_t) (i + 1) * 4 * B;
        row_powers(Z, B, nout, i + 1 < d ? 1 / sp->scale[Q_W + NQ * (i + 1)] : 1, rz);
        summarize(res + NSUM * (Q_Z + NQ * i), n, pz, cz * isz, across_var(rc, rd, B, nout));
        if (*bad == 0 && summary_bad(res + NSUM * (Q_S + NQ * i))) *bad = 1 + Q_S + NQ * i;
        if (*bad == 0 && summary_bad(res + NSUM * (Q_Z + NQ * i))) *bad = 1 + Q_Z + NQ * i;
        Zin = Z;
    }

    /* output gradient dC/ds^{d-1} */
    int nd = sp->w[d];
    double *G = ws->G, *dZ = ws->dZ;
    iv_rng_init(&r, sp->seed, base + 2 * d + 1);
    if (sp->grad == 1) {
        iv_family fg = { W_NORMAL, 0.0, sqrt(sp->var_grad), 0, 0, 0, 0, 1, 0 };
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

    /* backward */
    for (int i = d - 1; i >= 0; i--) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        if (iv_poll(stop)) return 1;
        const double cg = sp->center[Q_G + NQ * i], isg = 1 / sp->scale[Q_G + NQ * i];
        const double glo = sp->hrange[6 * i + 2], gsc = nb / (sp->hrange[6 * i + 3] - glo);
        const double wlo = sp->hrange[6 * i + 4], wsc = nb / (sp->hrange[6 * i + 5] - wlo);
        double *hg = ws->hist + (size_t) (3 * i + 1) * (nb + 2);
        double *hw = ws->hist + (size_t) (3 * i + 2) * (nb + 2);
        double pg[4] = {0, 0, 0, 0};
        double *rg = ws->rowg;
        if (ws->trace_g) memcpy(ws->trace_g[i], G, (size_t) B * nout * sizeof(double));
        memset(rg, 0, (size_t) 4 * B * sizeof(double));
        for (int k = 0; k < nout; k++) {
            const double *Gk = G + (R_xlen_t) k * B;
            for (int b = 0; b < B; b++) {
                double g = Gk[b] * isg, g2 = g * g;
                double u = g - cg * isg, u2 = u * u;
                pg[0] += u; pg[1] += u2; pg[2] += u2 * u; pg[3] += u2 * u2;
                rg[b] += g; rg[B + b] += g2; rg[2 * B + b] += g2 * g; rg[3 * B + b] += g2 * g2;
                hist_add(hg, nb, glo, gsc, Gk[b]);
            }
        }
        double n = (double) B * nout;
        summarize(res + NSUM * (Q_G + NQ * i), n, pg, cg * isg, across_var(rg, rg + B, B, nout));
        /* per-example weight gradients z^i_l g^i_k: their power sums factor
           over examples, sum_lk (z_l g_k)^p = (sum_l z_l^p)(sum_k g_k^p) */
        const double *rz = ws->rowz + (size_t) i * 4 * B;
        double pw[4] = {0, 0, 0, 0};
        for (int p = 0; p < 4; p++)
            for (int b = 0; b < B; b++) pw[p] += rz[p * B + b] * rg[p * B + b];
        summarize(res + NSUM * (Q_W + NQ * i), n * nin, pw, 0.0, NAN);
        if (*bad == 0 && summary_bad(res + NSUM * (Q_G + NQ * i))) *bad = 1 + Q_G + NQ * i;
        if (*bad == 0 && summary_bad(res + NSUM * (Q_W + NQ * i))) *bad = 1 + Q_W + NQ * i;
        /* histogram of the weight gradients of the first example */
        const double *Zi = i == 0 ? X : ws->Z[i];
        for (int k = 0; k < nout; k++) {
            double g0 = G[(R_xlen_t) k * B];
            for (int l = 0; l < nin; l++) hist_add(hw, nb, wlo, wsc, Zi[(R_xlen_t) l * B] * g0);
        }
        if (i > 0) {
            F77_CALL(dgemm)("N", "T", &B, &nin, &nout, &one, G, &B, ws->W[i], &nin,
                            &zero, dZ, &B FCONE FCONE);
            const double *D = ws->S[i - 1];
            R_xlen_t m = (R_xlen_t) B * nin;
            for (R_xlen_t t = 0; t < m; t++) dZ[t] *= D[t];
            double *tmp = G; G = dZ; dZ = tmp;
        }
    }
    return 0;
}

/* C_simulate_block(spec, first, count, threads, workspace): list(acc, hist).
   workspace is NULL or from C_workspace(spec, threads). */
SEXP C_simulate_block(SEXP spec, SEXP first, SEXP count, SEXP threads,
                      SEXP workspace)
{
    spec_t sp;
    read_spec(spec, &sp);
    double f0 = iv_real_arg(first, "first");
    if (f0 < 0 || f0 != floor(f0) || f0 > 1e12) error("`first` must be a whole number >= 0.");
    int cnt = (int) iv_size_arg(count, "count", 1e6);
    int nth = block_threads(&sp, threads);
    int d = sp.d;
    if (nth > cnt) nth = cnt;

    arena_t arena = { NULL, 0, 0 }, *ap = NULL;
    if (workspace != R_NilValue) {
        if (TYPEOF(workspace) != EXTPTRSXP || R_ExternalPtrTag(workspace) != workspace_tag())
            error("`workspace` must be NULL or come from C_workspace().");
        workspace_t *w = (workspace_t *) R_ExternalPtrAddr(workspace);
        if (w && w->mem && w->cap >= (size_t) nth * work_bytes(&sp)) {
            arena.base = w->mem;
            arena.cap = w->cap;
            ap = &arena;
        }
    }
    work_t *ws = (work_t *) R_alloc(nth, sizeof(work_t));
    for (int t = 0; t < nth; t++) {
        alloc_work(&sp, ws + t, ap);
        memset(ws[t].hist, 0, (size_t) 3 * d * (sp.nbins + 2) * sizeof(double));
    }
    size_t stride = (size_t) NSUM * NQ * d;
    double *res = (double *) R_alloc(stride * cnt, sizeof(double));
    int *bad = (int *) R_alloc(cnt, sizeof(int));
    memset(bad, 0, (size_t) cnt * sizeof(int));

    /* An interrupt stops every thread between two phases of a network (a
       matrix product at most); the block is then abandoned and NULL
       returned, with nothing left allocated but R memory and the
       workspace, which its external pointer owns. The caller keeps the
       blocks merged before and re-signals the interrupt. */
    iv_stop_t stop = { 0 };
    if (nth == 1) {
        for (int j = 0; j < cnt && !stop.stop; j++)
            run_network(&sp, ws, f0 + j, res + stride * j, &stop, bad + j);
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static, 1)
#endif
        for (int j = 0; j < cnt; j++) {
#ifdef _OPENMP
            work_t *w = ws + omp_get_thread_num();
#else
            work_t *w = ws;
#endif
            if (!stop.stop) run_network(&sp, w, f0 + j, res + stride * j, &stop, bad + j);
        }
    }
    if (stop.stop) return R_NilValue;
    for (int j = 0; j < cnt; j++) {
        if (bad[j]) {
            static const char *qn[NQ] = { "pre-activations s", "activations z",
                                          "gradients dC/ds", "weight gradients dC/dW" };
            int q = (bad[j] - 1) % NQ, layer = (bad[j] - 1) / NQ + 1;
            error("`net`: the %s of layer %d overflowed (their moments are not finite "
                  "in network %.0f): the variance grows too fast through this network "
                  "for its initialization and inputs; see predict_variance().",
                  qn[q], layer, f0 + j);
        }
    }

    SEXP ans = PROTECT(allocVector(VECSXP, 2));
    SEXP acc = PROTECT(allocVector(REALSXP, (R_xlen_t) IV_NACC * NQ * d));
    double *a = REAL(acc);
    for (R_xlen_t t = 0; t < XLENGTH(acc); t++) a[t] = 0;
    for (int j = 0; j < cnt; j++) {
        const double *rj = res + stride * j;
        for (int q = 0; q < NQ * d; q++) {
            double one_net[IV_NACC];
            iv_acc_from_network(one_net, rj + NSUM * q);
            iv_acc_merge(a + IV_NACC * q, one_net);
        }
    }
    SEXP hist = PROTECT(allocVector(REALSXP, (R_xlen_t) 3 * d * (sp.nbins + 2)));
    double *h = REAL(hist);
    for (R_xlen_t t = 0; t < XLENGTH(hist); t++) {
        double s = 0;
        for (int k = 0; k < nth; k++) s += ws[k].hist[t];
        h[t] = s;
    }
    SET_VECTOR_ELT(ans, 0, acc);
    SET_VECTOR_ELT(ans, 1, hist);
    UNPROTECT(3);
    return ans;
}

/* C_network_trace(spec, net): the inputs, weights, biases, pre-activations,
   activations and back-propagated gradients of network `net`, for tests
   against a plain-R reference. */
SEXP C_network_trace(SEXP spec, SEXP net)
{
    spec_t sp;
    read_spec(spec, &sp);
    double j = iv_real_arg(net, "net");
    if (j < 0 || j != floor(j) || j > 1e12) error("`net` must be a whole number >= 0.");
    int d = sp.d, B = sp.batch;
    work_t ws;
    alloc_work(&sp, &ws, NULL);
    memset(ws.hist, 0, (size_t) 3 * d * (sp.nbins + 2) * sizeof(double));
    SEXP ans = PROTECT(allocVector(VECSXP, 6));
    SEXP X = PROTECT(allocMatrix(REALSXP, B, sp.w[0]));
    SEXP lists[5];
    /* each new vector goes straight into a protected list, so it is
       reachable (protected) before anything else is allocated */
    for (int k = 0; k < 5; k++) {
        SET_VECTOR_ELT(ans, k + 1, allocVector(VECSXP, d));
        lists[k] = VECTOR_ELT(ans, k + 1);
    }
    ws.trace_s = (double **) R_alloc(d, sizeof(double *));
    ws.trace_b = (double **) R_alloc(d, sizeof(double *));
    ws.trace_g = (double **) R_alloc(d, sizeof(double *));
    for (int i = 0; i < d; i++) {
        int nin = sp.w[i], nout = sp.w[i + 1];
        SET_VECTOR_ELT(lists[0], i, allocMatrix(REALSXP, nin, nout));  /* W */
        SET_VECTOR_ELT(lists[1], i, allocVector(REALSXP, nout));       /* b */
        SET_VECTOR_ELT(lists[2], i, allocMatrix(REALSXP, B, nout));    /* s */
        SET_VECTOR_ELT(lists[3], i, allocMatrix(REALSXP, B, nout));    /* z */
        SET_VECTOR_ELT(lists[4], i, allocMatrix(REALSXP, B, nout));    /* g */
        ws.trace_b[i] = REAL(VECTOR_ELT(lists[1], i));
        ws.trace_s[i] = REAL(VECTOR_ELT(lists[2], i));
        ws.trace_g[i] = REAL(VECTOR_ELT(lists[4], i));
    }
    double *res = (double *) R_alloc((size_t) NSUM * NQ * d, sizeof(double));
    int bad = 0;
    run_network(&sp, &ws, j, res, NULL, &bad);
    memcpy(REAL(X), sp.input == 3 ? sp.X : ws.Z[0], (size_t) B * sp.w[0] * sizeof(double));
    for (int i = 0; i < d; i++) {
        memcpy(REAL(VECTOR_ELT(lists[0], i)), ws.W[i],
               (size_t) sp.w[i] * sp.w[i + 1] * sizeof(double));
        memcpy(REAL(VECTOR_ELT(lists[3], i)), ws.Z[i + 1],
               (size_t) B * sp.w[i + 1] * sizeof(double));
    }
    SET_VECTOR_ELT(ans, 0, X);
    SEXP nm = PROTECT(allocVector(STRSXP, 6));
    const char *names[6] = {"X", "W", "b", "s", "z", "g"};
    for (int k = 0; k < 6; k++) SET_STRING_ELT(nm, k, mkChar(names[k]));
    setAttrib(ans, R_NamesSymbol, nm);
    UNPROTECT(3);
    return ans;
}

/* C_draw_seed(): 64 bits of seed material from R's RNG, as two 32-bit
   halves in doubles. */
SEXP C_draw_seed(void)
{
    uint64_t s = iv_seed_from_R();
    SEXP ans = PROTECT(allocVector(REALSXP, 2));
    REAL(ans)[0] = (double) (s >> 32);
    REAL(ans)[1] = (double) (s & UINT64_C(0xFFFFFFFF));
    UNPROTECT(1);
    return ans;
}
