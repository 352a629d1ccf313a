/* Attention sublayers of transformers (layer kind LAYER_ATTENTION): the
 * forward and backward passes of x -> skip x + alpha MHA(x), with the
 * normalization placements of a residual block (R/net-transformer.R).
 *
 * Layer i has units u0..u0+3: W_Q, W_K, W_V (n -> H dk) and W_O (H dk ->
 * n). The batch is B / T sequences of T rows each (rows of one sequence
 * contiguous); head h owns the columns h dk .. (h + 1) dk - 1 of Q, K, V
 * and AV. Storage (alloc_work(), engine.c): ws->D[i] = Q | K | V | AV (B x
 * H dk each, column-major), ws->P[i] the softmax matrices (T x T per
 * sequence and head, in that order), ws->A[i] = LN(x) with NORM_PRE, and
 * ws->R[i] laid out as for a residual layer (row power sums and first row
 * of AV, the input of W_O; the rows' 1 / r) so that the engine's residual
 * moments (propagate.c) summarize this layer: s = h, z = the output,
 * grad_s = dC/dh, grad_w = the per-token gradient of W_O.
 *
 * Cross-attention (mask ATT_CROSS, an encoder-decoder's decoder): the keys
 * and values are M W_K + b_K, M W_V + b_V with M = ws->Z[sp->dstart], the
 * encoder's output (the memory: source sequence s is rows s T .. s T + T - 1
 * of M, as target sequence s is of the decoder's input); the backward pass
 * adds dK W_K^T + dV W_V^T to ws->gM, the memory's gradient.
 */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <R_ext/BLAS.h>
#ifndef FCONE
#define FCONE
#endif
#include <math.h>
#include <string.h>
#include "engine.h"

/* Softmax of the rows of the T x T matrix L (leading dimension T), in
   place; with `causal`, row t over columns 0..t only (the others 0). */
static void softmax_rows(double *L, int T, int causal)
{
    for (int t = 0; t < T; t++) {
        int last = causal ? t : T - 1;
        double mx = L[t];
        for (int s = 1; s <= last; s++) if (L[t + (R_xlen_t) s * T] > mx) mx = L[t + (R_xlen_t) s * T];
        double tot = 0;
        for (int s = 0; s <= last; s++) {
            double e = exp(L[t + (R_xlen_t) s * T] - mx);
            L[t + (R_xlen_t) s * T] = e;
            tot += e;
        }
        for (int s = 0; s <= last; s++) L[t + (R_xlen_t) s * T] /= tot;
        for (int s = last + 1; s < T; s++) L[t + (R_xlen_t) s * T] = 0;
    }
}

int iv_attention_forward(const spec_t *sp, work_t *ws, int i, const double *Xin,
                         uint64_t base, iv_stop_t *stop)
{
    const int B = sp->batch, n = sp->w[i], u0 = sp->ufirst[i], nrm = sp->rnorm[i];
    const double *at = sp->attn + 5 * (R_xlen_t) i;
    const int H = (int) at[0], dk = (int) at[1], T = (int) at[2];
    const int causal = at[3] == ATT_CAUSAL || at[3] == ATT_DECODER, cross = at[3] == ATT_CROSS;
    const double scale = at[4], alpha = sp->ralpha[i], skip = sp->rskip[i];
    const int hd = H * dk, nseq = B / T;
    const double one = 1.0, zero = 0.0;
    const R_xlen_t Bn = (R_xlen_t) B * n, Bh = (R_xlen_t) B * hd;
    double *Q = ws->D[i], *K = Q + Bh, *V = K + Bh, *C = V + Bh;
    const double *mem = cross ? ws->Z[sp->dstart] : NULL;
    double *R = ws->R[i], *ru = R, *rpre = R + 4 * (size_t) B, *rpost = rpre + B;
    double *urow = rpost + B;
    const double *a = Xin;
    if (nrm == NORM_PRE) {
        iv_ln_rows(Xin, ws->A[i], rpre, ws->col, B, n);
        a = ws->A[i];
    }
    /* Q, K, V = a W + b (cross-attention: K, V from the memory) */
    double *dst[3] = { Q, K, V };
    for (int k = 0; k < 3; k++) {
        const int u = u0 + k;
        if (iv_poll(stop)) return 1;
        iv_draw_layer(sp, u, base, ws->W[u], ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
        if (ws->trace_b) memcpy(ws->trace_b[u], ws->bias, (size_t) hd * sizeof(double));
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "N", &B, &hd, &n, &one, cross && k > 0 ? mem : a, &B, ws->W[u], &n,
                        &zero, dst[k], &B FCONE FCONE);
        for (int c = 0; c < hd; c++) {
            double bc = ws->bias[c], *col = dst[k] + (R_xlen_t) c * B;
            for (int b = 0; b < B; b++) col[b] += bc;
        }
    }
    /* per sequence and head: P = softmax(scale Q K^T), AV = P V */
    for (int s = 0; s < nseq; s++) {
        if (iv_poll(stop)) return 1;
        for (int h = 0; h < H; h++) {
            R_xlen_t off = (R_xlen_t) s * T + (R_xlen_t) h * dk * B;
            double *P = ws->P[i] + ((R_xlen_t) s * H + h) * T * T;
            F77_CALL(dgemm)("N", "T", &T, &T, &dk, &scale, Q + off, &B, K + off, &B,
                            &zero, P, &T FCONE FCONE);
            softmax_rows(P, T, causal);
            F77_CALL(dgemm)("N", "N", &T, &dk, &T, &one, P, &T, V + off, &B,
                            &zero, C + off, &B FCONE FCONE);
        }
    }
    /* the moments of W_O's input, AV, for its weight gradients */
    const double is = 1 / sp->scale[Q_W + NQ * i];
    memset(ru, 0, (size_t) 4 * B * sizeof(double));
    for (int c = 0; c < hd; c++) {
        const double *col = C + (R_xlen_t) c * B;
        for (int b = 0; b < B; b++) {
            double z = is * col[b], z2 = z * z;
            ru[b] += z; ru[B + b] += z2; ru[2 * B + b] += z2 * z; ru[3 * B + b] += z2 * z2;
        }
        urow[c] = col[0];
    }
    /* O = AV W_O + b_O, h = skip x + alpha O, the output LN(h) or h */
    const int uo = u0 + 3;
    if (iv_poll(stop)) return 1;
    iv_draw_layer(sp, uo, base, ws->W[uo], ws->bias, ws->scratch, ws->tau, ws->work, ws->perm);
    if (ws->trace_b) memcpy(ws->trace_b[uo], ws->bias, (size_t) n * sizeof(double));
    double *hsum = ws->S[i], *Z = ws->Z[i + 1];
    if (iv_poll(stop)) return 1;
    F77_CALL(dgemm)("N", "N", &B, &n, &hd, &one, C, &B, ws->W[uo], &hd,
                    &zero, hsum, &B FCONE FCONE);
    if (iv_poll(stop)) return 1;
    for (int c = 0; c < n; c++) {
        double bc = ws->bias[c], *hc = hsum + (R_xlen_t) c * B;
        const double *xc = Xin + (R_xlen_t) c * B;
        for (int b = 0; b < B; b++) hc[b] = skip * xc[b] + alpha * (hc[b] + bc);
    }
    if (nrm == NORM_POST) iv_ln_rows(hsum, Z, rpost, ws->col, B, n);
    else memcpy(Z, hsum, (size_t) Bn * sizeof(double));
    return 0;
}

int iv_attention_backward(const spec_t *sp, work_t *ws, int i, const double *G, double *out,
                          iv_stop_t *stop)
{
    const int B = sp->batch, n = sp->w[i], u0 = sp->ufirst[i];
    const double *at = sp->attn + 5 * (R_xlen_t) i;
    const int H = (int) at[0], dk = (int) at[1], T = (int) at[2], cross = at[3] == ATT_CROSS;
    const double scale = at[4], alpha = sp->ralpha[i], skip = sp->rskip[i];
    const int hd = H * dk, nseq = B / T;
    const double one = 1.0, zero = 0.0;
    const R_xlen_t Bn = (R_xlen_t) B * n, Bh = (R_xlen_t) B * hd;
    const double *Q = ws->D[i], *K = Q + Bh, *V = K + Bh;
    double *dC = ws->atmp, *dQ = dC + Bh, *dK = dQ + Bh, *dV = dK + Bh, *dP = dV + Bh;
    double *da = ws->dT;
    /* dC/d(AV) = alpha G W_O^T */
    if (iv_poll(stop)) return 1;
    F77_CALL(dgemm)("N", "T", &B, &hd, &n, &alpha, G, &B, ws->W[u0 + 3], &hd,
                    &zero, dC, &B FCONE FCONE);
    for (int s = 0; s < nseq; s++) {
        if (iv_poll(stop)) return 1;
        for (int h = 0; h < H; h++) {
            R_xlen_t off = (R_xlen_t) s * T + (R_xlen_t) h * dk * B;
            const double *P = ws->P[i] + ((R_xlen_t) s * H + h) * T * T;
            /* dP = dC V^T, dV = P^T dC */
            F77_CALL(dgemm)("N", "T", &T, &T, &dk, &one, dC + off, &B, V + off, &B,
                            &zero, dP, &T FCONE FCONE);
            F77_CALL(dgemm)("T", "N", &T, &dk, &T, &one, P, &T, dC + off, &B,
                            &zero, dV + off, &B FCONE FCONE);
            /* the softmax's backward pass: dL = P (dP - rowSums(dP P)) */
            for (int t = 0; t < T; t++) {
                double r = 0;
                for (int c = 0; c < T; c++) r += dP[t + (R_xlen_t) c * T] * P[t + (R_xlen_t) c * T];
                for (int c = 0; c < T; c++) {
                    R_xlen_t ix = t + (R_xlen_t) c * T;
                    dP[ix] = P[ix] * (dP[ix] - r);
                }
            }
            /* dQ = scale dL K, dK = scale dL^T Q */
            F77_CALL(dgemm)("N", "N", &T, &dk, &T, &scale, dP, &T, K + off, &B,
                            &zero, dQ + off, &B FCONE FCONE);
            F77_CALL(dgemm)("T", "N", &T, &dk, &T, &scale, dP, &T, Q + off, &B,
                            &zero, dK + off, &B FCONE FCONE);
        }
    }
    /* dC/da = dQ W_Q^T + dK W_K^T + dV W_V^T (cross-attention: dQ W_Q^T,
       and the rest to the memory's gradient) */
    const double *dsrc[3] = { dQ, dK, dV };
    for (int k = 0; k < 3; k++) {
        const double beta = k == 0 || cross ? 0.0 : 1.0;
        double *to = cross && k > 0 ? ws->gM : da;
        if (iv_poll(stop)) return 1;
        F77_CALL(dgemm)("N", "T", &B, &n, &hd, &one, dsrc[k], &B, ws->W[u0 + k], &n,
                        cross && k > 0 ? &one : &beta, to, &B FCONE FCONE);
    }
    if (iv_poll(stop)) return 1;
    if (sp->rnorm[i] == NORM_PRE)
        iv_ln_backward(da, ws->A[i], ws->R[i] + 4 * (size_t) B, ws->rows, B, n);
    for (R_xlen_t t = 0; t < Bn; t++) out[t] = skip * G[t] + da[t];
    return 0;
}
