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
    int U, nres;            /* units; residual layers */
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
                               f'(s^i) after the forward pass; residual: the
                               sum h = skip x + alpha F(x)) */
    double **W;             /* per unit */
    double **D;             /* per residual layer (NULL for dense): f' of
                               its units' pre-activations, B x n each */
    double **A;             /* per residual layer with NORM_PRE: LN(x) */
    double **R;             /* per residual layer: 4 x B row power sums of
                               the last unit's input, its first row (n), and
                               the rows' norms 1/r of LN (2 x B) */
    double *dT;             /* B x max width (residual backward) */
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
} work_t;

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
void iv_draw_layer(const spec_t *sp, int u, uint64_t base, double *W, double *bias,
                   double *scratch, double *tau, double *work, int *perm);

#endif
