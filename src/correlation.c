/* Pairs of correlated inputs through the engine's networks: the finite
 * network's counterpart of the c-map (predict_correlation(), R/signal.R).
 *
 * The spec is list(engine, c0, mu): an engine spec (engine.h, read by
 * iv_read_spec()) whose batch holds 2P rows, P pairs; c0 the inputs'
 * correlation; mu the mean of each layer's pre-activations (the bias
 * means: the weights have mean zero). Network j draws its weights with
 * iv_draw_layer(), from the engine's streams, so it is the engine's network
 * j; its inputs come from stream j (2d + 2): x = sd u, x' = sd (c0 u +
 * sqrt(1 - c0^2) v), u, v iid standard normal.
 *
 * Per network and layer it returns the averages over pairs of
 *   A = (1/n) sum_k (s_k - mu)(s'_k - mu),  Q = (1/2n) sum_k (s_k - mu)^2 + (s'_k - mu)^2,
 * whose ratio of expectations over networks is the correlation the c-map
 * predicts.
 */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#ifndef FCONE
#define FCONE
#endif
#include <string.h>
#include "engine.h"
#include "checks.h"
#include "threads.h"
#include "activations.h"
#include "api.h"

typedef struct {
    spec_t e;
    double c0;
    const double *mu;
    int P;
} cspec_t;

typedef struct {
    double *W, *bias, *scratch, *tau, *work, *Za, *Zb, *S;
    int *perm;
} cwork_t;

static void read_cspec(SEXP spec, cspec_t *sp)
{
    SEXP nm = getAttrib(spec, R_NamesSymbol);
    if (TYPEOF(spec) != VECSXP || XLENGTH(spec) != 3 || TYPEOF(nm) != STRSXP ||
        strcmp(CHAR(STRING_ELT(nm, 0)), "engine") != 0 ||
        strcmp(CHAR(STRING_ELT(nm, 1)), "c0") != 0 ||
        strcmp(CHAR(STRING_ELT(nm, 2)), "mu") != 0)
        error("`spec` must be list(engine, c0, mu) (see initvar:::correlation_spec).");
    iv_read_spec(VECTOR_ELT(spec, 0), &sp->e);
    const spec_t *e = &sp->e;
    if (e->input != IN_NORMAL) error("`spec$engine$input` must be normal.");
    if (e->batch % 2 != 0) error("`spec$engine$batch` must be even (pairs).");
    sp->P = e->batch / 2;
    if (e->nres > 0 || e->U != e->d)
        error("`spec$engine` must describe a dense network (no residual blocks).");
    for (int i = 0; i < e->d; i++)
        if (e->act[i] == ACT_R) error("`spec$engine$act` must hold built-in activations.");
    sp->c0 = iv_real_arg(VECTOR_ELT(spec, 1), "spec$c0");
    if (sp->c0 < -1 || sp->c0 > 1) error("`spec$c0` must be in [-1, 1].");
    sp->mu = iv_real_vec_arg(VECTOR_ELT(spec, 2), "spec$mu", e->d);
    for (int i = 0; i < e->d; i++)
        if (!R_FINITE(sp->mu[i])) error("`spec$mu` must be finite.");
}

static void alloc_cwork(const cspec_t *sp, cwork_t *ws)
{
    const spec_t *e = &sp->e;
    size_t mw = (size_t) e->maxw, B = (size_t) e->batch;
    size_t wmax = 1;
    for (int i = 0; i < e->d; i++) {
        size_t n = (size_t) e->w[i] * e->w[i + 1];
        if (n > wmax) wmax = n;
    }
    ws->W = (double *) R_alloc(wmax, sizeof(double));
    ws->scratch = (double *) R_alloc(wmax, sizeof(double));
    ws->bias = (double *) R_alloc(mw, sizeof(double));
    ws->tau = (double *) R_alloc(mw, sizeof(double));
    ws->work = (double *) R_alloc(e->lwork, sizeof(double));
    ws->perm = (int *) R_alloc(mw, sizeof(int));
    ws->Za = (double *) R_alloc(B * mw, sizeof(double));
    ws->Zb = (double *) R_alloc(B * mw, sizeof(double));
    ws->S = (double *) R_alloc(B * mw, sizeof(double));
}

/* Network `net`: out[2 i], out[2 i + 1] = A, Q of layer i. Returns 0, 1 when
   stopped for an interrupt, 2 when values are not finite. */
static int crun_network(const cspec_t *sp, cwork_t *ws, double net, double *out,
                        iv_stop_t *stop)
{
    const spec_t *e = &sp->e;
    const int d = e->d, B = e->batch, P = sp->P, n0 = e->w[0];
    const uint64_t base = (uint64_t) net * (uint64_t) (2 * d + 2);
    const double one = 1.0, zero = 0.0;
    const double sx = sqrt(e->var_x), c0 = sp->c0, s0 = sqrt(1 - c0 * c0);
    iv_rng r;
    iv_rng_init(&r, e->seed, base);
    double *Z = ws->Za, *Zn = ws->Zb;
    for (int k = 0; k < n0; k++) {
        double *col = Z + (R_xlen_t) k * B;
        for (int b = 0; b < P; b++) {
            double u = iv_norm(&r), v = iv_norm(&r);
            col[b] = sx * u;
            col[P + b] = sx * (c0 * u + s0 * v);
        }
    }
    for (int i = 0; i < d; i++) {
        int nin = e->w[i], nout = e->w[i + 1];
        if (iv_poll(stop)) return 1;
        iv_draw_layer(e, i, base, ws->W, ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "N", &B, &nout, &nin, &one, Z, &B, ws->W, &nin, &zero, ws->S, &B
                        FCONE FCONE);
        if (iv_poll(stop)) return 1;
        const int code = e->act[i];
        const double ap = e->aparam[i], mu = sp->mu[i];
        double A = 0, Q = 0;
        for (int k = 0; k < nout; k++) {
            const double bk = ws->bias[k];
            const double *Sk = ws->S + (R_xlen_t) k * B;
            double *Zk = Zn + (R_xlen_t) k * B;
            for (int b = 0; b < P; b++) {
                double s = Sk[b] + bk, t = Sk[P + b] + bk, ds;
                double u = s - mu, v = t - mu;
                A += u * v;
                Q += u * u + v * v;
                Zk[b] = act_eval(code, ap, s, &ds);
                Zk[P + b] = act_eval(code, ap, t, &ds);
            }
        }
        out[2 * i] = A / ((double) P * nout);
        out[2 * i + 1] = Q / (2.0 * P * nout);
        if (!R_FINITE(out[2 * i]) || !R_FINITE(out[2 * i + 1])) return 2;
        double *tmp = Z; Z = Zn; Zn = tmp;
    }
    return 0;
}

/* C_correlation(spec, first, count, threads): a 2 x d x count array of the
   per-network A, Q (see above); NULL after an interrupt. */
SEXP C_correlation(SEXP spec, SEXP first, SEXP count, SEXP threads)
{
    cspec_t sp;
    read_cspec(spec, &sp);
    double f0 = iv_real_arg(first, "first");
    if (f0 < 0 || f0 != floor(f0) || f0 > 1e12) error("`first` must be a whole number >= 0.");
    int cnt = (int) iv_size_arg(count, "count", 1e6);
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    if (nth > cnt) nth = cnt;
    cwork_t *ws = (cwork_t *) R_alloc(nth, sizeof(cwork_t));
    for (int t = 0; t < nth; t++) alloc_cwork(&sp, ws + t);
    const int d = sp.e.d;
    SEXP ans = PROTECT(allocVector(REALSXP, (R_xlen_t) 2 * d * cnt));
    double *o = REAL(ans);
    int *status = (int *) R_alloc(cnt, sizeof(int));
    memset(status, 0, (size_t) cnt * sizeof(int));
    iv_stop_t stop = { 0 };
    if (nth == 1) {
        for (int j = 0; j < cnt && !stop.stop; j++)
            status[j] = crun_network(&sp, ws, f0 + j, o + (size_t) 2 * d * j, &stop);
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static, 1)
#endif
        for (int j = 0; j < cnt; j++) {
            cwork_t *w = ws + iv_thread_num();
            if (!stop.stop) status[j] = crun_network(&sp, w, f0 + j, o + (size_t) 2 * d * j, &stop);
        }
    }
    if (stop.stop) {
        UNPROTECT(1);
        return R_NilValue;
    }
    for (int j = 0; j < cnt; j++)
        if (status[j] == 2)
            error("`net`: the pre-activations of network %.0f overflowed: the variance grows "
                  "too fast through this network; see predict_variance().", f0 + j);
    UNPROTECT(1);
    return ans;
}
