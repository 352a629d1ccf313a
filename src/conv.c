/* The "conv" layer kind: 1-D and 2-D convolutions (stride, dilation,
 * groups, zero or circular padding) and the global-average-pool read-out,
 * forward and backward, dispatched from iv_run_network() (propagate.c),
 * which accumulates their moments with the dense layers' fused passes.
 *
 * Layout: a layer's input and output are B x (c H W) column-major matrices
 * whose column c H W + h W + w is channel c at position (h, w) (each row an
 * image flattened channel-major: torch's NCHW). A 1-D convolution is a 2-D
 * one of height 1.
 *
 * Method: im2col plus dgemm, over the whole batch at once. The columns
 * matrix of a chunk of output positions p0..p1 - 1 has rows b + B (p - p0)
 * and one column per (input channel of the group, tap); since the engine's
 * s^i has rows b and columns o P + p, the chunk's product lands directly in
 * rows B p0 .. B p1 - 1 of s^i seen as a (B P) x c_out matrix with leading
 * dimension B P: one GEMM of size (B np) x (c_out / groups) x K per chunk
 * and group, no transposition of the output. Each copy into the columns
 * matrix moves B contiguous doubles. Chunks keep the columns matrix near 2
 * MB. The backward pass is the same GEMM transposed, then col2im (adds, in
 * a fixed order: bit-identical for any number of threads). Direct loops
 * would be simpler but run the same multiply-adds without the BLAS's
 * blocking: several times slower at 64 channels.
 *
 * Per-example weight gradients (quantity Q_W) do not factor as a dense
 * layer's do (they sum over positions): for each example, its positions'
 * columns (P x c_in kh kw) and gradients (P x c_out) are gathered and one
 * GEMM per group gives its K x c_out/groups gradients.
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

#define CV(i, f) ((int) sp->conv[IV_CONV_NPAR * (size_t) (i) + (f)])

/* The geometry of one conv layer. */
typedef struct {
    int type, cin, cout, G, H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, ph, pw, circ;
    int cing, coutg, k, K, P, Pin;
} geom_t;

static geom_t geometry(const spec_t *sp, int i)
{
    geom_t g;
    g.type = CV(i, CV_TYPE); g.cin = CV(i, CV_CIN); g.cout = CV(i, CV_COUT);
    g.G = CV(i, CV_GROUPS); g.H = CV(i, CV_H); g.W = CV(i, CV_W);
    g.Ho = CV(i, CV_HO); g.Wo = CV(i, CV_WO); g.kh = CV(i, CV_KH); g.kw = CV(i, CV_KW);
    g.sh = CV(i, CV_SH); g.sw = CV(i, CV_SW); g.dh = CV(i, CV_DH); g.dw = CV(i, CV_DW);
    g.ph = CV(i, CV_PH); g.pw = CV(i, CV_PW); g.circ = CV(i, CV_CIRC);
    g.cing = g.G > 0 ? g.cin / g.G : 0;
    g.coutg = g.G > 0 ? g.cout / g.G : 0;
    g.k = g.kh * g.kw;
    g.K = g.cing * g.k;
    g.P = g.Ho * g.Wo;
    g.Pin = g.H * g.W;
    return g;
}

static int whole_in(double x, double lo, double hi)
{
    return R_FINITE(x) && x == floor(x) && x >= lo && x <= hi;
}

void iv_conv_check(const spec_t *sp, int i)
{
    const double *c = sp->conv + IV_CONV_NPAR * (size_t) i;
    for (int f = 0; f < IV_CONV_NPAR; f++)
        if (!whole_in(c[f], 0, IV_MAX_WIDTH))
            error("`spec$conv` must hold whole numbers between 0 and 2^24 (layer %d).", i + 1);
    geom_t g = geometry(sp, i);
    const int u = sp->ufirst[i];
    if (g.type == CONV_POOL) {
        if (g.cin < 1 || g.H < 1 || g.W < 1 || (double) g.cin * g.H * g.W != sp->w[i] ||
            g.cout != sp->w[i + 1] || sp->uin[u] != g.cin || sp->uout[u] != g.cout)
            error("`spec$conv`: the pool read-out of layer %d does not match its widths.", i + 1);
        return;
    }
    if (g.type != CONV_CONV) error("`spec$conv`: layer %d is not a convolution.", i + 1);
    if (g.G < 1 || g.cin < 1 || g.cout < 1 || g.cin % g.G || g.cout % g.G)
        error("`spec$conv`: the groups of layer %d must divide its channels.", i + 1);
    if (g.H < 1 || g.W < 1 || g.Ho < 1 || g.Wo < 1 || g.kh < 1 || g.kw < 1 || g.sh < 1 ||
        g.sw < 1 || g.dh < 1 || g.dw < 1 || g.circ > 1)
        error("`spec$conv`: the sizes of layer %d must be positive.", i + 1);
    if ((double) g.cin * g.Pin != sp->w[i] || (double) g.cout * g.P != sp->w[i + 1])
        error("`spec$widths`: conv layer %d must map c_in H W to c_out H_out W_out.", i + 1);
    if (sp->uin[u] != g.K || sp->uout[u] != g.cout)
        error("`spec$unit_in`, `spec$unit_out`: conv layer %d's kernel must be "
              "(c_in / groups) kh kw x c_out.", i + 1);
    /* the output positions' first taps start inside the input, the
       padding before is at most d (k - 1) (and then every read is inside
       the padded input), and circular padding wraps at most once */
    if ((double) g.sh * (g.Ho - 1) > g.H - 1 || (double) g.sw * (g.Wo - 1) > g.W - 1 ||
        (double) g.ph > (double) g.dh * (g.kh - 1) || (double) g.pw > (double) g.dw * (g.kw - 1))
        error("`spec$conv`: the output size of conv layer %d does not fit its input.", i + 1);
    if (g.circ && (g.ph > g.H || g.pw > g.W ||
                   (double) g.sh * (g.Ho - 1) + (double) g.dh * (g.kh - 1) - g.ph >= 2.0 * g.H ||
                   (double) g.sw * (g.Wo - 1) + (double) g.dw * (g.kw - 1) - g.pw >= 2.0 * g.W))
        error("`spec$conv`: circular padding of conv layer %d wraps more than once.", i + 1);
}

/* Output positions per chunk: the columns matrix about 2^18 doubles. */
static int chunk_positions(const geom_t *g, int B)
{
    double pc = (double) (1 << 18) / ((double) B * (g->K > 0 ? g->K : 1));
    if (pc < 1) pc = 1;
    if (pc > g->P) pc = g->P;
    return (int) pc;
}

size_t iv_conv_work(const spec_t *sp, int i)
{
    geom_t g = geometry(sp, i);
    const size_t B = (size_t) sp->batch;
    if (g.type == CONV_POOL) {
        size_t t = (size_t) g.cin * g.cout > B * g.cin ? (size_t) g.cin * g.cout : B * g.cin;
        return B * (size_t) g.cin + t;
    }
    size_t cols = B * (size_t) chunk_positions(&g, sp->batch) * g.K;
    size_t ex = (size_t) g.P * g.cin * g.k + (size_t) g.P * g.cout + (size_t) g.K * g.cout;
    return cols > ex ? cols : ex;
}

/* The input position of output index p along one axis and tap t, or -1
   for a zero of the padding. */
static inline int in_pos(int p, int t, int s, int dl, int pad, int n, int circ)
{
    int q = s * p + dl * t - pad;
    if (circ) {
        if (q < 0) q += n;
        else if (q >= n) q -= n;
        return q;
    }
    return q >= 0 && q < n ? q : -1;
}

/* The columns matrix of group gr for output positions p0..p1 - 1: rows
   b + B (p - p0), column (ci - gr c_in/G) k + a kw + t, from the input X
   (B x c_in H W). */
static void im2col(const geom_t *g, int B, const double *X, int gr, int p0, int p1, double *cols)
{
    const size_t np = (size_t) (p1 - p0), ld = (size_t) B * np;
    for (int cc = 0; cc < g->cing; cc++) {
        const int ci = gr * g->cing + cc;
        for (int a = 0; a < g->kh; a++)
            for (int t = 0; t < g->kw; t++) {
                double *col = cols + ld * ((size_t) cc * g->k + (size_t) a * g->kw + t);
                for (int p = p0; p < p1; p++) {
                    const int ho = p / g->Wo, wo = p % g->Wo;
                    const int ih = in_pos(ho, a, g->sh, g->dh, g->ph, g->H, g->circ);
                    const int iw = in_pos(wo, t, g->sw, g->dw, g->pw, g->W, g->circ);
                    double *dst = col + (size_t) B * (p - p0);
                    if (ih < 0 || iw < 0) {
                        memset(dst, 0, (size_t) B * sizeof(double));
                    } else {
                        const double *src = X + (size_t) B * ((size_t) ci * g->Pin + (size_t) ih * g->W + iw);
                        memcpy(dst, src, (size_t) B * sizeof(double));
                    }
                }
            }
    }
}

/* Adds the columns matrix's gradients back to the input's (the adjoint of
   im2col()). */
static void col2im(const geom_t *g, int B, double *dX, int gr, int p0, int p1, const double *cols)
{
    const size_t np = (size_t) (p1 - p0), ld = (size_t) B * np;
    for (int cc = 0; cc < g->cing; cc++) {
        const int ci = gr * g->cing + cc;
        for (int a = 0; a < g->kh; a++)
            for (int t = 0; t < g->kw; t++) {
                const double *col = cols + ld * ((size_t) cc * g->k + (size_t) a * g->kw + t);
                for (int p = p0; p < p1; p++) {
                    const int ho = p / g->Wo, wo = p % g->Wo;
                    const int ih = in_pos(ho, a, g->sh, g->dh, g->ph, g->H, g->circ);
                    const int iw = in_pos(wo, t, g->sw, g->dw, g->pw, g->W, g->circ);
                    if (ih < 0 || iw < 0) continue;
                    double *dst = dX + (size_t) B * ((size_t) ci * g->Pin + (size_t) ih * g->W + iw);
                    const double *src = col + (size_t) B * (p - p0);
                    for (int b = 0; b < B; b++) dst[b] += src[b];
                }
            }
    }
}

/* The channels' means over positions (B x c_in) of X. */
static void pool_means(const geom_t *g, int B, const double *X, double *M)
{
    const double inv = 1.0 / g->Pin;
    for (int c = 0; c < g->cin; c++) {
        double *m = M + (size_t) B * c;
        memset(m, 0, (size_t) B * sizeof(double));
        for (int p = 0; p < g->Pin; p++) {
            const double *x = X + (size_t) B * ((size_t) c * g->Pin + p);
            for (int b = 0; b < B; b++) m[b] += x[b];
        }
        for (int b = 0; b < B; b++) m[b] *= inv;
    }
}

size_t iv_conv_apply_work(const spec_t *sp, int i, int B)
{
    geom_t g = geometry(sp, i);
    if (g.type == CONV_POOL) return (size_t) B * g.cin;
    return (size_t) B * chunk_positions(&g, B) * g.K;
}

int iv_conv_apply(const spec_t *sp, int i, int B, const double *W, const double *X, double *S,
                  double *buf, iv_stop_t *stop)
{
    const geom_t g = geometry(sp, i);
    const double one = 1.0, zero = 0.0;
    if (g.type == CONV_POOL) {
        pool_means(&g, B, X, buf);
        F77_CALL(dgemm)("N", "N", &B, &g.cout, &g.cin, &one, buf, &B, W, &g.cin, &zero, S, &B
                        FCONE FCONE);
        return iv_poll(stop);
    }
    const int pc = chunk_positions(&g, B), ldc = B * g.P;
    for (int gr = 0; gr < g.G; gr++) {
        for (int p0 = 0; p0 < g.P; p0 += pc) {
            const int p1 = p0 + pc < g.P ? p0 + pc : g.P, m = B * (p1 - p0);
            im2col(&g, B, X, gr, p0, p1, buf);
            F77_CALL(dgemm)("N", "N", &m, &g.coutg, &g.K, &one, buf, &m,
                            W + (size_t) g.K * g.coutg * gr, &g.K, &zero,
                            S + (size_t) B * ((size_t) g.coutg * gr * g.P + p0), &ldc FCONE FCONE);
            if (iv_poll(stop)) return 1;
        }
    }
    return 0;
}

int iv_conv_forward(const spec_t *sp, work_t *ws, int i, const double *Zin, uint64_t base,
                    iv_stop_t *stop)
{
    const geom_t g = geometry(sp, i);
    const int B = sp->batch, u = sp->ufirst[i];
    double *S = ws->S[i], *W = ws->W[u], *buf = ws->D[i];
    if (iv_poll(stop)) return 1;
    iv_draw_layer(sp, u, base, W, ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
    if (ws->trace_b) memcpy(ws->trace_b[u], ws->bias, (size_t) sp->uout[u] * sizeof(double));
    if (iv_poll(stop)) return 1;
    if (iv_conv_apply(sp, i, B, W, Zin, S, buf, stop)) return 1;
    if (g.type == CONV_POOL) return 0;
    /* the bias of every output column o P + p: channel o's; from the end,
       so that no channel's bias is overwritten before it is read */
    for (int o = g.cout - 1; o >= 0; o--) {
        const double bo = ws->bias[o];
        for (int p = g.P - 1; p >= 0; p--) ws->bias[(size_t) o * g.P + p] = bo;
    }
    iv_conv_position_sums(sp, ws, i, S, ws->bias, 0);
    return 0;
}

int iv_conv_backward(const spec_t *sp, work_t *ws, int i, const double *G, double *out,
                     iv_stop_t *stop)
{
    const geom_t g = geometry(sp, i);
    const int B = sp->batch, u = sp->ufirst[i];
    const double one = 1.0, zero = 0.0;
    const double *W = ws->W[u];
    double *buf = ws->D[i];
    memset(out, 0, (size_t) B * sp->w[i] * sizeof(double));
    if (g.type == CONV_POOL) {
        double *t = buf + (size_t) B * g.cin;
        F77_CALL(dgemm)("N", "T", &B, &g.cin, &g.cout, &one, G, &B, W, &g.cin, &zero, t, &B
                        FCONE FCONE);
        const double inv = 1.0 / g.Pin;
        for (int c = 0; c < g.cin; c++)
            for (int p = 0; p < g.Pin; p++) {
                double *o = out + (size_t) B * ((size_t) c * g.Pin + p);
                const double *tc = t + (size_t) B * c;
                for (int b = 0; b < B; b++) o[b] = tc[b] * inv;
            }
        return iv_poll(stop);
    }
    const int pc = chunk_positions(&g, B), ldg = B * g.P;
    for (int gr = 0; gr < g.G; gr++) {
        for (int p0 = 0; p0 < g.P; p0 += pc) {
            const int p1 = p0 + pc < g.P ? p0 + pc : g.P, m = B * (p1 - p0);
            F77_CALL(dgemm)("N", "T", &m, &g.K, &g.coutg, &one,
                            G + (size_t) B * ((size_t) g.coutg * gr * g.P + p0), &ldg,
                            W + (size_t) g.K * g.coutg * gr, &g.K, &zero, buf, &m FCONE FCONE);
            col2im(&g, B, out, gr, p0, p1, buf);
            if (iv_poll(stop)) return 1;
        }
    }
    return 0;
}

static void add_powers(double *pw, const double *x, size_t n, double is)
{
    double p1 = 0, p2 = 0, p3 = 0, p4 = 0;
    for (size_t t = 0; t < n; t++) {
        double v = x[t] * is, v2 = v * v;
        p1 += v; p2 += v2; p3 += v2 * v; p4 += v2 * v2;
    }
    pw[0] += p1; pw[1] += p2; pw[2] += p3; pw[3] += p4;
}

int iv_conv_wgrad(const spec_t *sp, work_t *ws, int i, const double *Zin, const double *G,
                  double is, double *pw, const double **first, iv_stop_t *stop)
{
    const geom_t g = geometry(sp, i);
    const int B = sp->batch;
    const double one = 1.0, zero = 0.0;
    double *buf = ws->D[i];
    pw[0] = pw[1] = pw[2] = pw[3] = 0;
    if (g.type == CONV_POOL) {
        /* dC/dW_ck = mean_p(z_c) g_k, example by example; the last one
           computed is example 0 */
        double *M = buf, *gw = buf + (size_t) B * g.cin;
        pool_means(&g, B, Zin, M);
        for (int b = B - 1; b >= 0; b--) {
            for (int k = 0; k < g.cout; k++) {
                const double gk = G[b + (size_t) B * k];
                for (int c = 0; c < g.cin; c++) gw[c + (size_t) g.cin * k] = M[b + (size_t) B * c] * gk;
            }
            add_powers(pw, gw, (size_t) g.cin * g.cout, is);
        }
        *first = gw;
        return iv_poll(stop);
    }
    /* example b: cb (P x c_in k) its columns, gb (P x c_out) its
       gradients, gw (K x c_out) its weight gradients */
    double *cb = buf, *gb = cb + (size_t) g.P * g.cin * g.k, *gw = gb + (size_t) g.P * g.cout;
    for (int b = B - 1; b >= 0; b--) {
        for (int ci = 0; ci < g.cin; ci++)
            for (int a = 0; a < g.kh; a++)
                for (int t = 0; t < g.kw; t++) {
                    double *col = cb + (size_t) g.P * ((size_t) ci * g.k + (size_t) a * g.kw + t);
                    for (int p = 0; p < g.P; p++) {
                        const int ih = in_pos(p / g.Wo, a, g.sh, g.dh, g.ph, g.H, g.circ);
                        const int iw = in_pos(p % g.Wo, t, g.sw, g.dw, g.pw, g.W, g.circ);
                        col[p] = ih < 0 || iw < 0 ? 0.0 :
                            Zin[b + (size_t) B * ((size_t) ci * g.Pin + (size_t) ih * g.W + iw)];
                    }
                }
        for (int o = 0; o < g.cout; o++)
            for (int p = 0; p < g.P; p++)
                gb[p + (size_t) g.P * o] = G[b + (size_t) B * ((size_t) o * g.P + p)];
        for (int gr = 0; gr < g.G; gr++)
            F77_CALL(dgemm)("T", "N", &g.K, &g.coutg, &g.P, &one, cb + (size_t) g.P * g.K * gr, &g.P,
                            gb + (size_t) g.P * g.coutg * gr, &g.P, &zero,
                            gw + (size_t) g.K * g.coutg * gr, &g.K FCONE FCONE);
        add_powers(pw, gw, (size_t) g.K * g.cout, is);
        if (iv_poll(stop)) return 1;
    }
    *first = gw;
    return 0;
}

static size_t pos_offset(const spec_t *sp, int i)
{
    size_t off = 0;
    for (int j = 0; j < i; j++)
        if (sp->kind[j] == LAYER_CONV && CV(j, CV_TYPE) == CONV_CONV)
            off += (size_t) CV(j, CV_HO) * CV(j, CV_WO);
    return off;
}

size_t iv_conv_npos(const spec_t *sp)
{
    return pos_offset(sp, sp->d);
}

void iv_conv_position_sums(const spec_t *sp, work_t *ws, int i, const double *X,
                           const double *bias, int grad)
{
    if (!ws->pos || CV(i, CV_TYPE) != CONV_CONV) return;
    const geom_t g = geometry(sp, i);
    const int B = sp->batch, q = grad ? Q_G : Q_S;
    const double c = sp->center[q + NQ * i], is = 1 / sp->scale[q + NQ * i];
    const double n = (double) B * g.cout;
    double *out = ws->pos + IV_POS_PER * pos_offset(sp, i) + (grad ? 2 : 0);
    for (int p = 0; p < g.P; p++) {
        double s1 = 0, s2 = 0;
        for (int o = 0; o < g.cout; o++) {
            const size_t col = (size_t) o * g.P + p;
            const double *x = X + (size_t) B * col;
            const double sh = (bias ? bias[col] : 0) - c;
            for (int b = 0; b < B; b++) {
                double v = (x[b] + sh) * is;
                s1 += v; s2 += v * v;
            }
        }
        out[IV_POS_PER * (size_t) p] = s1 / n;
        out[IV_POS_PER * (size_t) p + 1] = s2 / n;
    }
}
