/* The engine's entry points: a block of networks over threads, with one
 * workspace per thread, and the trace of one network for the tests.
 *
 * A call simulates one block of networks (first, ..., first + count - 1).
 * Network j draws everything from streams j * (2U + 2) + component of the
 * call's seed, so the result does not depend on the thread that ran it. The
 * per-network summaries are folded in network order, and blocks are folded
 * in block order by the caller, so a run gives the same numbers for any
 * number of threads or workers.
 */
#include <R.h>
#include <Rinternals.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "checks.h"
#include "api.h"
#include "moments.h"
#include "rng.h"
#include "threads.h"
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
    int d = sp->d, B = sp->batch, U = sp->U;
    ws->Z = (double **) R_alloc(d + 1, sizeof(double *));
    ws->S = (double **) R_alloc(d, sizeof(double *));
    ws->W = (double **) R_alloc(U, sizeof(double *));
    ws->D = (double **) R_alloc(d, sizeof(double *));
    ws->A = (double **) R_alloc(d, sizeof(double *));
    ws->R = (double **) R_alloc(d, sizeof(double *));
    ws->P = (double **) R_alloc(d, sizeof(double *));
    size_t atmp = 0;
    ws->Z[0] = sp->input == IN_MATRIX ? NULL :
        (double *) take(a, (size_t) (sp->dstart >= 0 ? 2 : 1) * B * sp->w[0], sizeof(double));
    size_t scratch = 1;
    /* conv layers: one scratch area for all (src/conv.c) */
    size_t cwork = 0;
    for (int i = 0; i < d; i++)
        if (sp->kind[i] == LAYER_CONV && iv_conv_work(sp, i) > cwork) cwork = iv_conv_work(sp, i);
    double *cbuf = cwork ? (double *) take(a, cwork, sizeof(double)) : NULL;
    for (int i = 0; i < d; i++) {
        ws->Z[i + 1] = (double *) take(a, (size_t) B * sp->w[i + 1], sizeof(double));
        ws->S[i] = (double *) take(a, (size_t) B * sp->w[i + 1], sizeof(double));
        for (int k = 0; k < sp->units[i]; k++) {
            int u = sp->ufirst[i] + k;
            ws->W[u] = (double *) take(a, (size_t) sp->uin[u] * sp->uout[u], sizeof(double));
            size_t need = iv_draw_scratch(sp, u);
            if (need > scratch) scratch = need;
        }
        ws->D[i] = ws->A[i] = ws->R[i] = ws->P[i] = NULL;
        if (sp->kind[i] == LAYER_RESIDUAL) {
            size_t n = (size_t) sp->w[i], inner = 0;
            for (int k = 0; k < sp->units[i]; k++) inner += (size_t) sp->uout[sp->ufirst[i] + k];
            ws->D[i] = (double *) take(a, (size_t) B * inner, sizeof(double));
            if (sp->rnorm[i] == NORM_PRE) ws->A[i] = (double *) take(a, (size_t) B * n, sizeof(double));
            /* row power sums (4 B) and 1 / r (2 B) of LN, then the last
               unit's input's first row */
            ws->R[i] = (double *) take(a, (size_t) 6 * B + sp->uin[sp->ufirst[i] + sp->units[i] - 1],
                                       sizeof(double));
        } else if (sp->kind[i] == LAYER_ATTENTION) {
            /* src/transformer.c: Q, K, V, AV; the attention matrices */
            size_t n = (size_t) sp->w[i], hd = (size_t) sp->uout[sp->ufirst[i]];
            size_t T = (size_t) sp->attn[5 * i + 2], H = (size_t) sp->attn[5 * i];
            ws->D[i] = (double *) take(a, (size_t) 4 * B * hd, sizeof(double));
            ws->P[i] = (double *) take(a, (size_t) B * T * H, sizeof(double));
            if (sp->rnorm[i] == NORM_PRE) ws->A[i] = (double *) take(a, (size_t) B * n, sizeof(double));
            ws->R[i] = (double *) take(a, (size_t) 6 * B + hd, sizeof(double));
            if (4 * B * hd + T * T > atmp) atmp = 4 * B * hd + T * T;
        } else if (sp->kind[i] == LAYER_CONV) {
            ws->D[i] = cbuf;
        }
    }
    ws->bias = (double *) take(a, sp->maxw, sizeof(double));
    ws->G = (double *) take(a, (size_t) B * sp->maxw, sizeof(double));
    ws->dZ = (double *) take(a, (size_t) B * sp->maxw, sizeof(double));
    ws->dT = sp->nres ? (double *) take(a, (size_t) B * sp->maxw, sizeof(double)) : NULL;
    ws->gM = sp->dstart >= 0 ? (double *) take(a, (size_t) B * sp->w[0], sizeof(double)) : NULL;
    ws->atmp = sp->natt ? (double *) take(a, atmp, sizeof(double)) : NULL;
    ws->scratch = (double *) take(a, scratch, sizeof(double));
    ws->tau = (double *) take(a, sp->maxw, sizeof(double));
    ws->work = (double *) take(a, sp->lwork, sizeof(double));
    ws->rowz = (double *) take(a, (size_t) (d + 1) * 4 * B, sizeof(double));
    ws->rows = (double *) take(a, (size_t) 8 * B, sizeof(double));
    ws->rowg = (double *) take(a, (size_t) 4 * B, sizeof(double));
    ws->col = (double *) take(a, (size_t) 2 * B, sizeof(double));
    ws->zrow = (double *) take(a, sp->maxw, sizeof(double));
    ws->perm = (int *) take(a, sp->maxw, sizeof(int));
    ws->hlane = (size_t) 3 * d * (sp->nbins + 2);
    ws->hist = (double *) take(a, IV_HIST_LANES * ws->hlane, sizeof(double));
    ws->trace_s = ws->trace_b = ws->trace_g = NULL;
    ws->pos = NULL;
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
    for (int u = 0; u < sp->U; u++) if (sp->act[u] == ACT_R) nth = 1;
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
    iv_read_spec(spec, &sp);
    int nth = block_threads(&sp, threads);
    size_t bytes = (size_t) nth * work_bytes(&sp);
    SEXP p = PROTECT(R_MakeExternalPtr(NULL, workspace_tag(), R_NilValue));
    R_RegisterCFinalizerEx(p, workspace_finalize, TRUE);
    workspace_t *w = (workspace_t *) calloc(1, sizeof(workspace_t));
    if (!w) error("cannot allocate the simulation workspace.");
    R_SetExternalPtrAddr(p, w);
    w->mem = (char *) malloc(bytes);
    if (!w->mem) error("cannot allocate %.0f bytes for the simulation workspace.", (double) bytes);
    iv_advise_huge(w->mem, bytes);   /* fewer first-touch faults in the first block */
    w->cap = bytes;
    UNPROTECT(1);
    return p;
}

/* C_simulate_block(spec, first, count, threads, workspace): list(acc, hist).
   workspace is NULL or from C_workspace(spec, threads). */
SEXP C_simulate_block(SEXP spec, SEXP first, SEXP count, SEXP threads,
                      SEXP workspace)
{
    spec_t sp;
    iv_read_spec(spec, &sp);
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
        memset(ws[t].hist, 0, IV_HIST_LANES * ws[t].hlane * sizeof(double));
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
    /* conv layers' per-position sums, one set per network (src/conv.c) */
    const size_t npos = iv_conv_npos(&sp), pstride = (size_t) IV_POS_PER * npos;
    double *posnet = npos ? (double *) R_alloc(pstride * cnt, sizeof(double)) : NULL;
    iv_stop_t stop = { 0 };
    if (nth == 1) {
        for (int j = 0; j < cnt && !stop.stop; j++) {
            ws->pos = posnet ? posnet + pstride * j : NULL;
            iv_run_network(&sp, ws, f0 + j, res + stride * j, &stop, bad + j);
        }
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static, 1)
#endif
        for (int j = 0; j < cnt; j++) {
            work_t *w = ws + iv_thread_num();
            w->pos = posnet ? posnet + pstride * j : NULL;
            if (!stop.stop) iv_run_network(&sp, w, f0 + j, res + stride * j, &stop, bad + j);
        }
    }
    if (stop.stop) return R_NilValue;
    for (int j = 0; j < cnt; j++) {
        if (bad[j]) {
            static const char *qn[NQ] = { "pre-activations s", "activations z",
                                          "gradients dC/ds", "weight gradients dC/dW",
                                          "normalized squared norms" };
            int q = (bad[j] - 1) % NQ, layer = (bad[j] - 1) / NQ + 1;
            error("`net`: the %s of layer %d overflowed (their moments are not finite "
                  "in network %.0f): the variance grows too fast through this network "
                  "for its initialization and inputs; see predict_variance().",
                  qn[q], layer, f0 + j);
        }
    }

    SEXP ans = PROTECT(allocVector(VECSXP, 3));
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
        for (int k = 0; k < nth; k++)
            for (int j = 0; j < IV_HIST_LANES; j++) s += ws[k].hist[t + j * ws[k].hlane];
        h[t] = s;
    }
    /* per position: the sums over networks of a, b, a^2, b^2, a b for s,
       then for dC/ds, in network order */
    SEXP pos = PROTECT(allocVector(REALSXP, (R_xlen_t) 10 * npos));
    double *ps = REAL(pos);
    for (R_xlen_t t = 0; t < XLENGTH(pos); t++) ps[t] = 0;
    /* (posnet is NULL when no layer has positions: no pointer arithmetic then) */
    for (int j = 0; posnet && j < cnt; j++) {
        const double *pj = posnet + pstride * j;
        for (size_t p = 0; p < npos; p++)
            for (int k = 0; k < 2; k++) {
                const double a = pj[IV_POS_PER * p + 2 * k], b = pj[IV_POS_PER * p + 2 * k + 1];
                double *o = ps + 10 * p + 5 * k;
                o[0] += a; o[1] += b; o[2] += a * a; o[3] += b * b; o[4] += a * b;
            }
    }
    SET_VECTOR_ELT(ans, BLK_ACC, acc);
    SET_VECTOR_ELT(ans, BLK_HIST, hist);
    SET_VECTOR_ELT(ans, BLK_POS, pos);
    SEXP nm = PROTECT(allocVector(STRSXP, 3));
#define IV_SET_SLOT_NAME(e, name, value) SET_STRING_ELT(nm, e, mkChar(name));
    IV_BLOCK_SLOTS(IV_SET_SLOT_NAME)
    setAttrib(ans, R_NamesSymbol, nm);
    UNPROTECT(5);
    return ans;
}

/* C_test_network_trace(spec, net): the inputs, weights, biases, pre-activations,
   activations and back-propagated gradients of network `net`, for tests
   against a plain-R reference. W and b have one element per unit (per
   layer in a dense stack); s, z and g one per layer (for a residual layer:
   the sum h = skip x + alpha F(x), the block's output, and dC/dh). */
SEXP C_test_network_trace(SEXP spec, SEXP net)
{
    spec_t sp;
    iv_read_spec(spec, &sp);
    double j = iv_real_arg(net, "net");
    if (j < 0 || j != floor(j) || j > 1e12) error("`net` must be a whole number >= 0.");
    int d = sp.d, B = sp.batch, U = sp.U;
    work_t ws;
    alloc_work(&sp, &ws, NULL);
    memset(ws.hist, 0, IV_HIST_LANES * ws.hlane * sizeof(double));
    SEXP ans = PROTECT(allocVector(VECSXP, 6));
    const int nx = (sp.dstart >= 0 ? 2 : 1) * sp.w[0];   /* source | target */
    SEXP X = PROTECT(allocMatrix(REALSXP, B, nx));
    SEXP lists[5];
    /* each new vector goes straight into a protected list, so it is
       reachable (protected) before anything else is allocated */
    for (int k = 0; k < 5; k++) {
        SET_VECTOR_ELT(ans, k + 1, allocVector(VECSXP, k < 2 ? U : d));
        lists[k] = VECTOR_ELT(ans, k + 1);
    }
    ws.trace_s = (double **) R_alloc(d, sizeof(double *));
    ws.trace_b = (double **) R_alloc(U, sizeof(double *));
    ws.trace_g = (double **) R_alloc(d, sizeof(double *));
    for (int u = 0; u < U; u++) {
        SET_VECTOR_ELT(lists[0], u, allocMatrix(REALSXP, sp.uin[u], sp.uout[u]));  /* W */
        SET_VECTOR_ELT(lists[1], u, allocVector(REALSXP, sp.uout[u]));           /* b */
        ws.trace_b[u] = REAL(VECTOR_ELT(lists[1], u));
    }
    for (int i = 0; i < d; i++) {
        int nout = sp.w[i + 1];
        SET_VECTOR_ELT(lists[2], i, allocMatrix(REALSXP, B, nout));    /* s */
        SET_VECTOR_ELT(lists[3], i, allocMatrix(REALSXP, B, nout));    /* z */
        SET_VECTOR_ELT(lists[4], i, allocMatrix(REALSXP, B, nout));    /* g */
        ws.trace_s[i] = REAL(VECTOR_ELT(lists[2], i));
        ws.trace_g[i] = REAL(VECTOR_ELT(lists[4], i));
    }
    double *res = (double *) R_alloc((size_t) NSUM * NQ * d, sizeof(double));
    int bad = 0;
    iv_run_network(&sp, &ws, j, res, NULL, &bad);
    memcpy(REAL(X), sp.input == IN_MATRIX ? sp.X : ws.Z[0], (size_t) B * nx * sizeof(double));
    for (int u = 0; u < U; u++)
        memcpy(REAL(VECTOR_ELT(lists[0], u)), ws.W[u],
               (size_t) sp.uin[u] * sp.uout[u] * sizeof(double));
    for (int i = 0; i < d; i++) {
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
