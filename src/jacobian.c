/* Singular values of the input-output Jacobian of random networks, and of
 * each layer's Jacobian, for jacobian_spectrum() (R/jacobian.R).
 *
 * Glorot and Bengio's convention, as the engine (src/propagate.c): s^i =
 * z^i W^i + b^i with z^i a row vector and W^i of size n_i x n_{i+1},
 * z^{i+1} = f(s^i). The layer Jacobian J^i = dz^{i+1}/dz^i is the
 * n_{i+1} x n_i matrix D^i (W^i)^T, D^i = diag(f'(s^i)), and the
 * input-output Jacobian to depth l is J^{l-1} ... J^0 (n_l x n_0).
 *
 * Network j draws its input from stream j * (2d + 2) of the call's seed,
 * the weights of layer i from stream j * (2d + 2) + 1 + i and its biases
 * from j * (2d + 2) + 1 + d + i: the layout of the engine, so network j
 * has the weights of the engine's network j for the same seed (and its
 * input is the first input of the engine's batch when the batch is 1).
 * Networks are independent and written to their own slots: the result does
 * not depend on the number of threads.
 *
 * Networks with conv layers (cnn(), src/conv.c) and the log-spectrum mode
 * run in the transposed form: PT = (dz^i/dz^0)^T, n_0 x n_i, whose row r
 * is the derivative of layer i's units with respect to input unit r, so
 * that a layer acts on PT as on a batch of n_0 inputs (iv_conv_apply(),
 * without bias) and D^i scales its columns; a layer's own Jacobian is the
 * layer applied to the identity. In the log-spectrum mode (`every` = m >=
 * 1) PT is re-orthonormalized every m layers and at each requested depth
 * by an LQ factorization PT = L Q (dgelqf, dorglq), the logs |L_kk|
 * accumulated per k: at depth l, J^T = L_1 ... L_t Q, so the sums are the
 * log-diagonal of the triangular factor of J^T, the finite-depth Lyapunov
 * exponents times l, which resolve singular values far below 1e-16 of the
 * largest (an SVD of the product cannot). It needs n_i >= n_0 at every
 * layer.
 */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif
#include <string.h>
#include "rng.h"
#include "sample.h"
#include "checks.h"
#include "activations.h"
#include "interrupt.h"
#include "engine.h"
#include "threads.h"
#include "api.h"   /* omp.h comes with threads.h */

/* The networks are the engine's (engine.h): the spec's `engine` field is an
   engine spec with a batch of one input, read by iv_read_spec(), and the
   weights are drawn by iv_draw_layer() from the same streams. */

/* per (network, row): mean sv, mean sv^2, mean sv^4, min sv, max sv */
#define JNS 5

typedef struct {
    spec_t e;               /* the engine's spec of the networks */
    int d, n0, maxw;
    const int *w, *act, *dep;
    const double *aparam;
    int input;              /* IN_NORMAL, IN_UNIFORM, or IN_MATRIX: a fixed input */
    double var_x;
    const double *x;
    uint64_t seed;
    int ndep, layers, nrows;
    int *is_dep;            /* d: 1 if depth i + 1 is requested */
    int every;              /* 0: SVD of the product; m >= 1: log spectrum by
                               re-orthonormalization every m layers */
    int transposed;         /* the transposed-form runner (conv or log) */
    size_t cwork;           /* conv scratch (iv_conv_apply_work) */
    int lwork_lq;
    R_xlen_t nsv;           /* singular values kept per network */
    R_xlen_t *sv_off;       /* d: offset of depth i + 1's values, or -1 */
    int lwork_qr, lwork_svd;
} jspec_t;

typedef struct {
    double *W, *bias, *z, *s, *dv, *P, *P2, *A, *sv, *scratch, *tau, *qrwork,
        *svdwork, *cbuf, *lsum, *lqwork;
    int *perm, *iwork;
} jwork_t;

static SEXP jelt(SEXP spec, int i, SEXPTYPE type, R_xlen_t len, const char *what)
{
    SEXP x = VECTOR_ELT(spec, i);
    if ((SEXPTYPE) TYPEOF(x) != type || (len >= 0 && XLENGTH(x) != len))
        error("`spec$%s` has the wrong type or length.", what);
    return x;
}

static int svd_lwork(int m, int n)
{
    int info = 0, lwork = -1, one = 1;
    double wq = 0, dummy = 0;
    int idummy = 0;
    F77_CALL(dgesdd)("N", &m, &n, &dummy, &m, &dummy, &dummy, &one, &dummy, &one,
                     &wq, &lwork, &idummy, &info FCONE);
    lwork = (int) wq;
    return lwork < 1 ? 1 : lwork;
}

static void read_jspec(SEXP spec, jspec_t *sp)
{
    SEXP nm = getAttrib(spec, R_NamesSymbol);
    if (TYPEOF(spec) != VECSXP || XLENGTH(spec) != 3 || TYPEOF(nm) != STRSXP ||
        strcmp(CHAR(STRING_ELT(nm, 0)), "engine") != 0 ||
        strcmp(CHAR(STRING_ELT(nm, 1)), "depths") != 0 ||
        strcmp(CHAR(STRING_ELT(nm, 2)), "every") != 0)
        error("`spec` must be list(engine, depths, every) (see initvar:::jacobian_spec).");
    iv_read_spec(VECTOR_ELT(spec, 0), &sp->e);
    const spec_t *e = &sp->e;
    if (e->batch != 1) error("`spec$engine$batch` must be 1.");
    int d = e->d;
    if (e->U != d || e->nres) error("`spec$engine` must describe a stack of dense and conv layers.");
    int nconv = 0;
    for (int i = 0; i < d; i++) {
        if (e->kind[i] == LAYER_CONV) nconv++;
        else if (e->kind[i] != LAYER_DENSE)
            error("`spec$engine` must describe a stack of dense and conv layers.");
    }
    SEXP ev = jelt(spec, 2, INTSXP, 1, "every");
    sp->every = INTEGER(ev)[0];
    if (sp->every < 0 || sp->every > d) error("`spec$every` must be between 0 and d.");
    sp->transposed = nconv > 0 || sp->every > 0;
    sp->d = d;
    sp->w = e->w;
    sp->maxw = e->maxw;
    for (int i = 0; i <= d; i++)
        if (sp->w[i] > 46340) error("`spec$engine$widths` must hold widths up to 46340.");
    sp->n0 = sp->w[0];
    sp->act = e->act;
    sp->aparam = e->aparam;
    sp->input = e->input;
    sp->var_x = e->var_x;
    sp->x = e->X;
    sp->seed = e->seed;
    if (sp->x)
        for (int k = 0; k < sp->n0; k++)
            if (!R_FINITE(sp->x[k])) error("`spec$engine$X` must be finite.");
    SEXP opt = jelt(spec, 1, INTSXP, -1, "depths");
    /* depths (1-based, increasing), then the layers flag as the last element */
    R_xlen_t no = XLENGTH(opt);
    if (no < 1) error("`spec$depths` must end with the layers flag.");
    sp->ndep = (int) (no - 1);
    sp->dep = INTEGER(opt);
    sp->layers = sp->dep[no - 1];
    if (sp->layers != 0 && sp->layers != 1) error("`spec$depths`: the layers flag must be 0 or 1.");
    if (sp->ndep == 0 && !sp->layers) error("`spec$depths`: nothing to compute.");
    sp->is_dep = (int *) R_alloc(d, sizeof(int));
    sp->sv_off = (R_xlen_t *) R_alloc(d, sizeof(R_xlen_t));
    memset(sp->is_dep, 0, d * sizeof(int));
    for (int k = 0; k < sp->ndep; k++) {
        int l = sp->dep[k];
        if (l < 1 || l > d || (k > 0 && l <= sp->dep[k - 1]))
            error("`spec$depths` must be increasing depths between 1 and d.");
        sp->is_dep[l - 1] = 1;
    }
    sp->nsv = 0;
    for (int i = 0; i < d; i++) {
        sp->sv_off[i] = -1;
        if (sp->is_dep[i]) {
            sp->sv_off[i] = sp->nsv;
            sp->nsv += sp->w[i + 1] < sp->n0 ? sp->w[i + 1] : sp->n0;
        }
    }
    sp->nrows = sp->ndep + (sp->layers ? d : 0);
    if (sp->every > 0) {
        if (sp->layers) error("`spec$depths`: the layers flag must be 0 in the log-spectrum mode.");
        for (int i = 1; i <= d; i++)
            if (sp->w[i] < sp->n0)
                error("`spec$engine$widths`: the log-spectrum mode needs every width >= the input's.");
    }
    /* conv scratch: batches of 1 (the input), n_0 (the product) and n_i
       (a layer's own Jacobian) */
    sp->cwork = 1;
    for (int i = 0; i < d; i++) {
        if (e->kind[i] != LAYER_CONV) continue;
        int bs[3] = { 1, sp->n0, sp->w[i] };
        for (int t = 0; t < 3; t++) {
            size_t c = iv_conv_apply_work(e, i, bs[t]);
            if (c > sp->cwork) sp->cwork = c;
        }
    }
    sp->lwork_lq = 1;
    if (sp->every > 0) {
        int m = sp->n0, n = sp->maxw, info = 0, lw = -1;
        double wq = 0, dummy = 0;
        F77_CALL(dgelqf)(&m, &n, &dummy, &m, &dummy, &wq, &lw, &info);
        if ((int) wq > sp->lwork_lq) sp->lwork_lq = (int) wq;
        lw = -1;
        F77_CALL(dorglq)(&m, &n, &m, &dummy, &m, &dummy, &wq, &lw, &info);
        if ((int) wq > sp->lwork_lq) sp->lwork_lq = (int) wq;
    }

    sp->lwork_qr = e->lwork;
    sp->lwork_svd = 1;
    for (int i = 0; i < d; i++) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        if (sp->act[i] >= ACT_R)
            error("`spec$engine$act` must hold built-in activation codes.");
        if (sp->layers) {
            int lw = svd_lwork(nout, nin);
            if (lw > sp->lwork_svd) sp->lwork_svd = lw;
        }
        if (sp->is_dep[i]) {
            int lw = svd_lwork(nout, sp->n0);
            if (lw > sp->lwork_svd) sp->lwork_svd = lw;
        }
    }
}

static void alloc_jwork(const jspec_t *sp, jwork_t *ws)
{
    size_t mw = (size_t) sp->maxw, sq = mw * mw, pn = mw * (size_t) sp->n0;
    /* a conv layer's kernel (K x c_out) and the sampler's scratch for it
       (iv_draw_scratch()) can exceed the widths' */
    size_t wsz = sq, um = mw;
    for (int u = 0; u < sp->e.U; u++) {
        size_t nu = (size_t) sp->e.uin[u] * sp->e.uout[u];
        if (nu > wsz) wsz = nu;
        if (iv_draw_scratch(&sp->e, u) > wsz) wsz = iv_draw_scratch(&sp->e, u);
        if ((size_t) sp->e.uin[u] > um) um = (size_t) sp->e.uin[u];
        if ((size_t) sp->e.uout[u] > um) um = (size_t) sp->e.uout[u];
    }
    ws->W = (double *) R_alloc(wsz, sizeof(double));
    ws->scratch = (double *) R_alloc(wsz, sizeof(double));
    ws->bias = (double *) R_alloc(um, sizeof(double));
    ws->z = (double *) R_alloc(mw, sizeof(double));
    ws->s = (double *) R_alloc(mw, sizeof(double));
    ws->dv = (double *) R_alloc(mw, sizeof(double));
    ws->P = (double *) R_alloc(pn, sizeof(double));
    ws->P2 = (double *) R_alloc(pn, sizeof(double));
    ws->A = (double *) R_alloc(sq > pn ? sq : pn, sizeof(double));
    ws->sv = (double *) R_alloc(mw, sizeof(double));
    ws->tau = (double *) R_alloc(um, sizeof(double));
    ws->qrwork = (double *) R_alloc(sp->lwork_qr, sizeof(double));
    ws->svdwork = (double *) R_alloc(sp->lwork_svd, sizeof(double));
    ws->perm = (int *) R_alloc(um, sizeof(int));
    ws->iwork = (int *) R_alloc(8 * mw, sizeof(int));
    ws->cbuf = (double *) R_alloc(sp->cwork, sizeof(double));
    ws->lsum = (double *) R_alloc(sp->n0, sizeof(double));
    ws->lqwork = (double *) R_alloc(sp->lwork_lq, sizeof(double));
}

static void jdraw_layer(const jspec_t *sp, jwork_t *ws, int i, uint64_t base)
{
    iv_draw_layer(&sp->e, i, base, ws->W, ws->bias, ws->scratch, ws->tau, ws->qrwork, ws->perm);
}

static void draw_input(const jspec_t *sp, double *z, uint64_t base)
{
    if (sp->input == IN_MATRIX) {
        memcpy(z, sp->x, (size_t) sp->n0 * sizeof(double));
        return;
    }
    iv_family fx = { FAM_NORMAL, 0.0, 0.0, 0, 0, 0, 0, 1, 0 };
    double sx = sqrt(sp->var_x);
    if (sp->input == IN_NORMAL) { fx.p2 = sx; }
    else { fx.family = FAM_UNIFORM; fx.p1 = -sqrt(3.0) * sx; fx.p2 = sqrt(3.0) * sx; }
    iv_rng r;
    iv_rng_init(&r, sp->seed, base);
    iv_fill(z, sp->n0, &fx, &r);
}

/* Singular values of the m x n matrix a (copied into ws->A, which dgesdd
   overwrites), summarized into out[0..JNS); the values go to keep if not
   NULL. Returns 0, or 1 for a non-finite matrix or a failed SVD. */
static int sv_summary(const jspec_t *sp, jwork_t *ws, const double *a, int m, int n,
                      double *out, double *keep)
{
    R_xlen_t mn = (R_xlen_t) m * n;
    for (R_xlen_t t = 0; t < mn; t++) if (!R_FINITE(a[t])) return 1;
    memcpy(ws->A, a, (size_t) mn * sizeof(double));
    int info = 0, one = 1, lw = sp->lwork_svd, k = m < n ? m : n;
    double dummy = 0;
    F77_CALL(dgesdd)("N", &m, &n, ws->A, &m, ws->sv, &dummy, &one, &dummy, &one,
                     ws->svdwork, &lw, ws->iwork, &info FCONE);
    if (info != 0) return 1;
    double s1 = 0, s2 = 0, s4 = 0, lo = ws->sv[0], hi = ws->sv[0];
    for (int t = 0; t < k; t++) {
        double v = ws->sv[t], v2 = v * v;
        s1 += v; s2 += v2; s4 += v2 * v2;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    out[0] = s1 / k; out[1] = s2 / k; out[2] = s4 / k; out[3] = lo; out[4] = hi;
    if (keep) memcpy(keep, ws->sv, (size_t) k * sizeof(double));
    for (int t = 0; t < JNS; t++) if (!R_FINITE(out[t])) return 1;
    return 0;
}

/* Network `net`: res gets JNS x nrows (the product rows at the requested
   depths, then the layer rows), svk its kept singular values. Returns 0,
   1 when stopped for an interrupt, 2 when values overflowed. */
static int jrun_network(const jspec_t *sp, jwork_t *ws, double net, double *res,
                        double *svk, iv_stop_t *stop)
{
    const int d = sp->d, n0 = sp->n0;
    const uint64_t base = (uint64_t) net * (uint64_t) (2 * d + 2);
    const double one = 1.0, zero = 0.0;
    int inc = 1, row = 0;
    double *P = ws->P, *P2 = ws->P2;
    draw_input(sp, ws->z, base);
    for (int i = 0; i < d; i++) {
        int nin = sp->w[i], nout = sp->w[i + 1];
        if (iv_poll(stop)) return 1;
        jdraw_layer(sp, ws, i, base);
        double *W = ws->W;
        /* s = z W + b (a row vector: W^T z as a column) */
        F77_CALL(dgemv)("T", &nin, &nout, &one, W, &nin, ws->z, &inc, &zero, ws->s, &inc FCONE);
        const int code = sp->act[i];
        const double ap = sp->aparam[i];
        for (int k = 0; k < nout; k++) {
            double ds;
            double zk = act_eval(code, ap, ws->s[k] + ws->bias[k], &ds);
            ws->s[k] += ws->bias[k];
            ws->dv[k] = ds;
            ws->z[k] = zk;     /* z is not read again in this layer */
        }
        if (iv_poll(stop)) return 1;
        /* the product P <- D W^T P (nout x n0); P starts as the identity */
        if (i == 0) {
            for (int l = 0; l < nin; l++)
                for (int k = 0; k < nout; k++)
                    P2[k + (R_xlen_t) l * nout] = ws->dv[k] * W[l + (R_xlen_t) k * nin];
        } else {
            F77_CALL(dgemm)("T", "N", &nout, &n0, &nin, &one, W, &nin, P, &nin, &zero,
                            P2, &nout FCONE FCONE);
            for (int l = 0; l < n0; l++) {
                double *col = P2 + (R_xlen_t) l * nout;
                for (int k = 0; k < nout; k++) col[k] *= ws->dv[k];
            }
        }
        double *t = P; P = P2; P2 = t;
        if (sp->is_dep[i]) {
            if (iv_poll(stop)) return 1;
            if (sv_summary(sp, ws, P, nout, n0, res + JNS * row, svk + sp->sv_off[i])) return 2;
            row++;
        }
        if (sp->layers) {
            if (iv_poll(stop)) return 1;
            /* J^i = D W^T, nout x nin; the scratch holds it */
            double *Ji = ws->scratch;
            for (int l = 0; l < nin; l++)
                for (int k = 0; k < nout; k++)
                    Ji[k + (R_xlen_t) l * nout] = ws->dv[k] * W[l + (R_xlen_t) k * nin];
            if (sv_summary(sp, ws, Ji, nout, nin, res + JNS * (sp->ndep + i), NULL)) return 2;
        }
    }
    ws->P = P; ws->P2 = P2;
    return 0;
}

/* The transposed-form runner (networks with conv layers, and the log
   spectrum): P holds PT = (dz^i/dz^0)^T, n_0 x n_i. Returns 0, 1 when
   stopped, 2 when values overflowed, 3 for a zero singular value in the
   log-spectrum mode. */
static int jrun_transposed(const jspec_t *sp, jwork_t *ws, double net, double *res,
                           double *svk, iv_stop_t *stop)
{
    const spec_t *e = &sp->e;
    const int d = sp->d, n0 = sp->n0;
    const uint64_t base = (uint64_t) net * (uint64_t) (2 * d + 2);
    const double one = 1.0, zero = 0.0;
    int inc = 1, row = 0;
    double *P = ws->P, *P2 = ws->P2;
    draw_input(sp, ws->z, base);
    memset(P, 0, (size_t) n0 * n0 * sizeof(double));
    for (int k = 0; k < n0; k++) P[k + (R_xlen_t) k * n0] = 1.0;
    if (sp->every > 0) memset(ws->lsum, 0, (size_t) n0 * sizeof(double));
    for (int i = 0; i < d; i++) {
        const int nin = sp->w[i], nout = sp->w[i + 1], u = e->ufirst[i];
        const int conv = e->kind[i] == LAYER_CONV;
        if (iv_poll(stop)) return 1;
        jdraw_layer(sp, ws, i, base);
        double *W = ws->W;
        /* s = layer(z) + b: a conv layer's output column o P + p has
           channel o's bias (P = n_out / c_out positions; 1 for the pool) */
        if (conv) {
            if (iv_conv_apply(e, i, 1, W, ws->z, ws->s, ws->cbuf, stop)) return 1;
        } else {
            F77_CALL(dgemv)("T", &nin, &nout, &one, W, &nin, ws->z, &inc, &zero, ws->s, &inc
                            FCONE);
        }
        const int per = nout / e->uout[u];
        const int code = sp->act[i];
        const double ap = sp->aparam[i];
        for (int k = 0; k < nout; k++) {
            double ds;
            ws->s[k] += ws->bias[k / per];
            ws->z[k] = act_eval(code, ap, ws->s[k], &ds);
            ws->dv[k] = ds;
        }
        if (iv_poll(stop)) return 1;
        /* PT <- layer(PT) D, a batch of n_0 rows */
        if (conv) {
            if (iv_conv_apply(e, i, n0, W, P, P2, ws->cbuf, stop)) return 1;
        } else {
            F77_CALL(dgemm)("N", "N", &n0, &nout, &nin, &one, P, &n0, W, &nin, &zero, P2, &n0
                            FCONE FCONE);
        }
        for (int k = 0; k < nout; k++) {
            double *col = P2 + (R_xlen_t) k * n0, dk = ws->dv[k];
            for (int l = 0; l < n0; l++) col[l] *= dk;
        }
        double *t = P; P = P2; P2 = t;
        if (sp->every > 0 && ((i + 1) % sp->every == 0 || sp->is_dep[i])) {
            /* PT = L Q: the logs |L_kk| accumulate, Q goes on */
            R_xlen_t mn = (R_xlen_t) n0 * nout;
            for (R_xlen_t q = 0; q < mn; q++) if (!R_FINITE(P[q])) return 2;
            int info = 0, lw = sp->lwork_lq;
            F77_CALL(dgelqf)(&n0, &nout, P, &n0, ws->tau, ws->lqwork, &lw, &info);
            if (info != 0) return 2;
            for (int k = 0; k < n0; k++) {
                double lk = fabs(P[k + (R_xlen_t) k * n0]);
                if (!(lk > 0)) return 3;
                ws->lsum[k] += log(lk);
            }
            F77_CALL(dorglq)(&n0, &nout, &n0, P, &n0, ws->tau, ws->lqwork, &lw, &info);
            if (info != 0) return 2;
        }
        if (sp->is_dep[i]) {
            if (iv_poll(stop)) return 1;
            double *out = res + JNS * row;
            if (sp->every > 0) {
                /* the log spectrum, largest first: mean, mean square, sd,
                   min, max over the n_0 values */
                double *keep = svk + sp->sv_off[i], m = 0, m2 = 0, lo = ws->lsum[0],
                    hi = ws->lsum[0];
                memcpy(keep, ws->lsum, (size_t) n0 * sizeof(double));
                R_rsort(keep, n0);
                for (int a = 0, b = n0 - 1; a < b; a++, b--) {
                    double v = keep[a]; keep[a] = keep[b]; keep[b] = v;
                }
                for (int k = 0; k < n0; k++) {
                    double v = ws->lsum[k];
                    m += v; m2 += v * v;
                    if (v < lo) lo = v;
                    if (v > hi) hi = v;
                }
                m /= n0;
                double ss = 0;
                for (int k = 0; k < n0; k++) ss += (ws->lsum[k] - m) * (ws->lsum[k] - m);
                out[0] = m; out[1] = m2 / n0; out[2] = sqrt(ss / n0); out[3] = lo; out[4] = hi;
                for (int q = 0; q < JNS; q++) if (!R_FINITE(out[q])) return 2;
            } else if (sv_summary(sp, ws, P, n0, nout, out, svk + sp->sv_off[i])) {
                return 2;
            }
            row++;
        }
        if (sp->layers) {
            if (iv_poll(stop)) return 1;
            /* (J^i)^T = layer(I) D, n_in x n_out, in the scratch */
            double *Jt = ws->scratch;
            if (conv) {
                double *I = ws->A;
                memset(I, 0, (size_t) nin * nin * sizeof(double));
                for (int k = 0; k < nin; k++) I[k + (R_xlen_t) k * nin] = 1.0;
                if (iv_conv_apply(e, i, nin, W, I, Jt, ws->cbuf, stop)) return 1;
            } else {
                memcpy(Jt, W, (size_t) nin * nout * sizeof(double));
            }
            for (int k = 0; k < nout; k++) {
                double *col = Jt + (R_xlen_t) k * nin, dk = ws->dv[k];
                for (int l = 0; l < nin; l++) col[l] *= dk;
            }
            if (sv_summary(sp, ws, Jt, nin, nout, res + JNS * (sp->ndep + i), NULL)) return 2;
        }
    }
    ws->P = P; ws->P2 = P2;
    return 0;
}

/* C_jacobian(spec, first, count, threads): list(stats, sv) for networks
   first, ..., first + count - 1, or NULL when interrupted. stats is
   JNS x nrows x count, sv is nsv x count. */
SEXP C_jacobian(SEXP spec, SEXP first, SEXP count, SEXP threads)
{
    jspec_t sp;
    read_jspec(spec, &sp);
    double f0 = iv_real_arg(first, "first");
    if (f0 < 0 || f0 != floor(f0) || f0 > 1e12) error("`first` must be a whole number >= 0.");
    int cnt = (int) iv_size_arg(count, "count", 1e6);
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    if (nth > cnt) nth = cnt;
    jwork_t *ws = (jwork_t *) R_alloc(nth, sizeof(jwork_t));
    for (int t = 0; t < nth; t++) alloc_jwork(&sp, ws + t);
    SEXP ans = PROTECT(allocVector(VECSXP, 2));
    SEXP stats = PROTECT(allocVector(REALSXP, (R_xlen_t) JNS * sp.nrows * cnt));
    SET_VECTOR_ELT(ans, 0, stats);
    SEXP svs = PROTECT(allocMatrix(REALSXP, (int) sp.nsv, cnt));
    SET_VECTOR_ELT(ans, 1, svs);
    double *st = REAL(stats), *sv = REAL(svs);
    int *status = (int *) R_alloc(cnt, sizeof(int));
    memset(status, 0, (size_t) cnt * sizeof(int));
    size_t sstride = (size_t) JNS * sp.nrows;
    iv_stop_t stop = { 0 };
    if (nth == 1) {
        for (int j = 0; j < cnt && !stop.stop; j++)
            status[j] = (sp.transposed ? jrun_transposed : jrun_network)(
                &sp, ws, f0 + j, st + sstride * j, sv + sp.nsv * j, &stop);
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static, 1)
#endif
        for (int j = 0; j < cnt; j++) {
#ifdef _OPENMP
            jwork_t *w = ws + iv_thread_num();
#else
            jwork_t *w = ws;
#endif
            if (!stop.stop)
                status[j] = (sp.transposed ? jrun_transposed : jrun_network)(
                    &sp, w, f0 + j, st + sstride * j, sv + sp.nsv * j, &stop);
        }
    }
    if (stop.stop) {
        UNPROTECT(3);
        return R_NilValue;
    }
    for (int j = 0; j < cnt; j++)
        if (status[j] == 2)
            error("`net`: the Jacobian of network %.0f is not finite (its values overflowed "
                  "double precision): the gradients grow too fast through this network.",
                  f0 + j);
    for (int j = 0; j < cnt; j++)
        if (status[j] == 3)
            error("`net`: the Jacobian of network %.0f has a zero singular value (a unit's "
                  "derivative is 0 for this input, as for a ReLU that is off), so its log "
                  "spectrum holds -Inf.", f0 + j);
    UNPROTECT(3);
    return ans;
}

/* C_test_jacobian(spec, net): the input, weights and biases network `net`
   draws, for tests against a plain-R reference. */
SEXP C_test_jacobian(SEXP spec, SEXP net)
{
    jspec_t sp;
    read_jspec(spec, &sp);
    double j = iv_real_arg(net, "net");
    if (j < 0 || j != floor(j) || j > 1e12) error("`net` must be a whole number >= 0.");
    int d = sp.d;
    jwork_t ws;
    alloc_jwork(&sp, &ws);
    const uint64_t base = (uint64_t) j * (uint64_t) (2 * d + 2);
    SEXP ans = PROTECT(allocVector(VECSXP, 3));
    SET_VECTOR_ELT(ans, 0, allocVector(REALSXP, sp.n0));
    draw_input(&sp, REAL(VECTOR_ELT(ans, 0)), base);
    SET_VECTOR_ELT(ans, 1, allocVector(VECSXP, d));
    SET_VECTOR_ELT(ans, 2, allocVector(VECSXP, d));
    SEXP Wl = VECTOR_ELT(ans, 1), bl = VECTOR_ELT(ans, 2);
    for (int i = 0; i < d; i++) {
        int nin = sp.e.uin[i], nout = sp.e.uout[i];
        jdraw_layer(&sp, &ws, i, base);
        SET_VECTOR_ELT(Wl, i, allocMatrix(REALSXP, nin, nout));
        memcpy(REAL(VECTOR_ELT(Wl, i)), ws.W, (size_t) nin * nout * sizeof(double));
        SET_VECTOR_ELT(bl, i, allocVector(REALSXP, nout));
        memcpy(REAL(VECTOR_ELT(bl, i)), ws.bias, (size_t) nout * sizeof(double));
    }
    SEXP nm = PROTECT(allocVector(STRSXP, 3));
    SET_STRING_ELT(nm, 0, mkChar("x"));
    SET_STRING_ELT(nm, 1, mkChar("W"));
    SET_STRING_ELT(nm, 2, mkChar("b"));
    setAttrib(ans, R_NamesSymbol, nm);
    UNPROTECT(2);
    return ans;
}
