/* The network engine's shared types: the spec of a run (read from R's named
 * list by iv_read_spec(), engine-spec.c), one thread's workspace, and the
 * kernel that simulates one network (iv_run_network(), propagate.c). The
 * entry points (engine.c) cut a run into blocks of networks over threads.
 *
 * Quantities, per layer i = 0..d-1 (Glorot's indices): s^i = z^i W^i + b^i,
 * z^{i+1} = f(s^i), g^i = dC/ds^i, and the per-example weight gradients
 * dC/dW^i_{lk} = z^i_l g^i_k. Codes (Q_*, FAM_*, ACT_*, IN_*, GRAD_*,
 * LAYER_*, SP_*): src/vocab.h.
 */
#ifndef INITVAR_ENGINE_H
#define INITVAR_ENGINE_H

#include <R.h>
#include <Rinternals.h>
#include <stdint.h>
#include "vocab.h"
#include "sample.h"
#include "interrupt.h"

/* copies of the histogram counts (see work_t) */
#define IV_HIST_LANES 4

/* per-network summary of one (quantity, layer): n, mean, M2, M3, M4, a, b, e */
#define NSUM 8

typedef struct {
    int d, batch, nbins;
    int *w;                 /* widths, d + 1 */
    /* Layers and their dense units. Layer i is of kind kind[i]
       (LAYER_DENSE: one unit, w[i] -> w[i + 1]; LAYER_RESIDUAL: a block
       x -> skip x + alpha F(x) of units[i] units of width w[i] = w[i + 1],
       F(x) = f_m(... f_1(x W_1 + b_1) ...) W_m + b_m, with the normalization
       rnorm[i]). A unit is one weight matrix with its biases and the
       activation applied after it; U units in all (U = d for a dense
       stack), unit ufirst[i] the first of layer i. */
    int U, nres;            /* units; residual and attention layers */
    /* Attention layers (LAYER_ATTENTION, src/transformer.c): 4 units
       W_Q, W_K, W_V (w[i] -> heads d_k) and W_O (heads d_k -> w[i]);
       attn[5 i + 0..4] = heads, d_k, seq_len, mask, logit scale (mask:
       ATT_BIDIR 0, ATT_CAUSAL 1, ATT_CROSS 2: keys and values from the
       memory, ATT_DECODER 3: causal, and the first sublayer of an
       encoder-decoder's decoder, whose input is the target tokens and
       whose layer index is dstart). Unit u is uin[u] -> uout[u] (spec
       fields unit_in, unit_out). */
    int natt, maxT;         /* attention layers; their largest seq_len */
    int dstart;             /* encoder-decoder: the decoder's first layer
                               (the memory is Z[dstart], the encoder's
                               output; the input is source | target, 2 x
                               batch x w[0]); -1 otherwise */
    const double *attn;     /* 5 x d */
    /* Convolutional layers (LAYER_CONV, src/conv.c): one unit, the kernel
       as a K x c_out matrix (K = c_in / groups x kh x kw; column o is
       torch's weight[o, , , ] in C order), bias per output channel. A
       layer's input and output rows are images flattened channel-major
       (c, h, w), w fastest: torch's NCHW order. conv[IV_CONV_NPAR i + CV_*]
       holds its geometry (1-D: height 1); CV_TYPE 2 is the global-average
       pool read-out (the unit c_in x n_out on the channels' means). */
    const double *conv;     /* IV_CONV_NPAR x d */
    const int *kind, *units, *rnorm;
    const double *ralpha, *rskip;
    int *ufirst, *uin, *uout;  /* d; U; U */
    const int *act;         /* per unit */
    const double *aparam;   /* per unit */
    const int *wkind, *bkind;  /* per unit */
    iv_family *wf, *bf;     /* iid families of weights and biases, per unit */
    const double *wpar, *bpar; /* 4 per unit */
    int input;              /* IN_NORMAL, IN_UNIFORM or IN_MATRIX */
    double var_x;
    const double *X;
    /* NULL, or the T x T matrix M (column-major, M M' the tokens' kernel,
       tmT = T the first layer's seq_len) that mixes every sequence's
       iid normal tokens, feature by feature: x = M z (spec field
       token_mix; transformer(token_cor = )) */
    const double *token_mix;
    int tmT;
    int grad;               /* GRAD_NORMAL or GRAD_SOFTMAX (cross-entropy) */
    double var_grad;
    const double *center;   /* NQ x d */
    const double *scale;    /* NQ x d: powers of 2; values are accumulated
                               divided by them (for Q_W: the scale of the
                               layer's input z, times that of dC/ds) */
    const double *hrange;   /* 2 x 3 x d: (lo, hi) for z, g, w */
    SEXP rfuns;             /* list of U: NULL or list(f, df) */
    uint64_t seed;
    int maxw, lwork;
} spec_t;

typedef struct {
    double **Z, **S;        /* per layer: outputs z^{i+1}, and s^i (dense:
                               f'(s^i) after the forward pass, but s^i less
                               its bias for tanh below the output, whose f'
                               is taken from z; residual: the sum h = skip x
                               + alpha F(x)) */
    double **W;             /* per unit */
    double **D;             /* per residual layer (NULL for dense): f' of
                               its units' pre-activations, B x n each */
    double **A;             /* per residual layer with NORM_PRE: LN(x) */
    double **R;             /* per residual layer: 4 x B row power sums of
                               the last unit's input, its first row (n), and
                               the rows' norms 1/r of LN (2 x B) */
    double *dT;             /* B x max width (residual backward) */
    double **P;             /* per attention layer (NULL otherwise): the
                               attention matrices, T x T per sequence and
                               head; its D[i] holds Q, K, V, AV (B x
                               heads d_k each) */
    double *gM;             /* encoder-decoder: dC/d(memory), B x w[dstart],
                               summed over the cross-attention layers */
    double *atmp;           /* attention backward: 4 B x max heads d_k,
                               plus T x T */
    double *bias, *G, *dZ, *scratch, *tau, *work;
    double *rowz;           /* (d + 1) x 4 x batch: row power sums of z^i */
    double *rows;           /* 8 x batch: per-row power sums of the centred,
                               scaled values of two quantities */
    double *rowg;           /* 4 x batch: row power sums of dC/ds */
    double *col;            /* batch: one column of s */
    double *zrow;           /* max width: the first example's z^i */
    int *perm;
    double *hist;           /* IV_HIST_LANES copies, hlane apart, of the
                               3 x d x (nbins + 2) counts: lane j of a
                               vector of values counts into copy j, so that
                               the lanes' increments do not wait for each
                               other; their sum is the histogram */
    size_t hlane;
    double **trace_s, **trace_b, **trace_g; /* NULL, or copies for tests
                               (trace_b per unit) */
    double *pos;            /* NULL, or this network's per-position sums of
                               its conv layers (src/conv.c,
                               iv_conv_position_sums()) */
} work_t;

enum { ATT_BIDIR = 0, ATT_CAUSAL = 1, ATT_CROSS = 2, ATT_DECODER = 3 };

/* The fields of a conv layer's geometry in spec field `conv` (engine_spec(),
   R/simulate.R, conv_geometry() in R/net-conv.R): type (0 not a conv layer,
   1 convolution, 2 global-average pool and dense read-out), channels in and
   out, groups, input and output height and width, kernel, stride and
   dilation (height, width), zeros before (height, width), circular (1) or
   not (0: zeros read outside, 'same' or 'valid' alike). */
enum { CV_TYPE, CV_CIN, CV_COUT, CV_GROUPS, CV_H, CV_W, CV_HO, CV_WO, CV_KH, CV_KW,
       CV_SH, CV_SW, CV_DH, CV_DW, CV_PH, CV_PW, CV_CIRC, IV_CONV_NPAR };
enum { CONV_NONE = 0, CONV_CONV = 1, CONV_POOL = 2 };

/* Fill *sp from the named list `spec` (fields IV_SPEC_FIELDS), checking
   every field; errors name the field. */
void iv_read_spec(SEXP spec, spec_t *sp);

/* Simulate network `net`, writing its summaries to res (NSUM x NQ x d) and
   adding its histogram counts to ws->hist. Returns 0, or 1 if it stopped
   early for an interrupt (stop may be NULL: never stop). *bad is set to
   1 + q + NQ * i for the first (quantity q, layer i) whose moments are not
   finite, else left alone. The histogram counts of a stopped network are
   partial: the caller discards the whole call then. */
int iv_run_network(const spec_t *sp, work_t *ws, double net, double *res,
                   iv_stop_t *stop, int *bad);

/* The weights and biases of unit u (layer u of a dense stack) of the
   network with stream base `base` (net * (2U + 2)), as iv_run_network()
   draws them; also used by the Jacobian (jacobian.c), so that its network j
   is the engine's network j. */
/* Doubles of scratch iv_draw_layer() needs for unit u. */
size_t iv_draw_scratch(const spec_t *sp, int u);
void iv_draw_layer(const spec_t *sp, int u, uint64_t base, double *W, double *bias,
                   double *scratch, double *tau, double *work, int *perm);

/* Layer normalization of rows and its backward pass (propagate.c), for
   the attention kernels. */
void iv_ln_rows(const double *X, double *Y, double *rinv, double *mu, int B, int n);
void iv_ln_backward(double *dY, const double *Y, const double *rinv, double *tmp, int B, int n);

/* Attention layer i (src/transformer.c), forward: from Xin to ws->S[i]
   (the sum h) and ws->Z[i + 1] (the output), keeping what the backward
   pass and the moments need (ws->D[i], ws->P[i], ws->A[i], ws->R[i] laid
   out as for a residual layer); backward: from G = dC/dh to out = dC/dx.
   Each returns 1 if stopped for an interrupt. */
int iv_attention_forward(const spec_t *sp, work_t *ws, int i, const double *Xin,
                         uint64_t base, iv_stop_t *stop);
int iv_attention_backward(const spec_t *sp, work_t *ws, int i, const double *G, double *out,
                          iv_stop_t *stop);

/* Conv layers (src/conv.c). iv_conv_check(): the geometry of layer i
   against its widths and unit (errors name the spec field). Workspace:
   iv_conv_work() doubles of scratch (shared by the conv layers, ws->D[i]).
   Forward: draws the unit, writes s less its bias to ws->S[i] and the bias
   of every output column to ws->bias (for the dense layers' fused pass).
   Backward: from G = dC/ds to out = dC/dx. Weight gradients: the power sums
   pw[0..3] of the per-example gradients dC/dW, each multiplied by `is`,
   with example 0's K x c_out gradients left in *first. Each returns 1 if
   stopped for an interrupt. */
void iv_conv_check(const spec_t *sp, int i);
/* Per-position maps: a network's sums are, for each position p of each
   convolution's output (in layer order, IV_POS_PER of them per position),
   the means over examples and channels of (x - c) / scale and of its square
   for x = s (k = 0, 1) and x = dC/ds (k = 2, 3). iv_conv_npos(): the
   number of such positions in the network; iv_conv_position_sums(): layer
   i's, from X (B x c_out P; s less its bias, the bias per column in
   `bias`, or NULL) into ws->pos. */
#define IV_POS_PER 4
size_t iv_conv_npos(const spec_t *sp);
void iv_conv_position_sums(const spec_t *sp, work_t *ws, int i, const double *X,
                           const double *bias, int grad);
size_t iv_conv_work(const spec_t *sp, int i);
/* iv_conv_apply(): S = layer i's convolution (or pool read-out) of the B x
   w[i] input X with the K x c_out kernel W, no bias, for any batch B;
   iv_conv_apply_work(sp, i, B) doubles of scratch in buf. Returns 1 if
   stopped for an interrupt. */
size_t iv_conv_apply_work(const spec_t *sp, int i, int B);
int iv_conv_apply(const spec_t *sp, int i, int B, const double *W, const double *X, double *S,
                  double *buf, iv_stop_t *stop);
int iv_conv_forward(const spec_t *sp, work_t *ws, int i, const double *Zin, uint64_t base,
                    iv_stop_t *stop);
int iv_conv_backward(const spec_t *sp, work_t *ws, int i, const double *G, double *out,
                     iv_stop_t *stop);
int iv_conv_wgrad(const spec_t *sp, work_t *ws, int i, const double *Zin, const double *G,
                  double is, double *pw, const double **first, iv_stop_t *stop);

#endif
