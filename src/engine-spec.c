/* The engine's spec: the named list engine_spec() (R/simulate.R) builds,
 * read by name and checked field by field, so that no input from R can
 * crash the engine. */
#include <R.h>
#include <Rinternals.h>
#include <string.h>
#include "engine.h"
#include "checks.h"

/* ---- spec from the R list, read by name --------------------------------- */

#define IV_SPEC_NAME(e, name, value) name,
static const char *spec_names[IV_NSPEC] = { IV_SPEC_FIELDS(IV_SPEC_NAME) };

/* Positions of the fields of `spec`, a list named by exactly the names of
   IV_SPEC_FIELDS (src/vocab.h), in any order. */
static void spec_index(SEXP spec, int *pos)
{
    if (TYPEOF(spec) != VECSXP || XLENGTH(spec) != IV_NSPEC)
        error("`spec` must be a list of %d elements (see initvar:::engine_spec).", IV_NSPEC);
    SEXP nm = getAttrib(spec, R_NamesSymbol);
    if (TYPEOF(nm) != STRSXP) error("`spec` must be a named list (see initvar:::engine_spec).");
    for (int f = 0; f < IV_NSPEC; f++) pos[f] = -1;
    for (int k = 0; k < IV_NSPEC; k++) {
        const char *n = CHAR(STRING_ELT(nm, k));
        int f = 0;
        while (f < IV_NSPEC && strcmp(n, spec_names[f]) != 0) f++;
        if (f == IV_NSPEC) error("`spec` has an unknown field `%s`.", n);
        if (pos[f] >= 0) error("`spec` has the field `%s` twice.", n);
        pos[f] = k;
    }
}

#define FIELD(f) VECTOR_ELT(spec, pos[f])

static SEXP spec_elt(SEXP spec, const int *pos, int f, SEXPTYPE type, R_xlen_t len)
{
    SEXP x = FIELD(f);
    if ((SEXPTYPE) TYPEOF(x) != type || (len >= 0 && XLENGTH(x) != len))
        error("`spec$%s` has the wrong type or length.", spec_names[f]);
    return x;
}

/* The fields every block x -> skip x + alpha F(x) shares (residual and
   attention layers): its width kept, finite multipliers, a normalization. */
static void check_block(const spec_t *sp, int i, const char *what)
{
    if (sp->w[i] != sp->w[i + 1])
        error("`spec$widths`: %s layer %d must keep its width.", what, i + 1);
    if (!R_FINITE(sp->ralpha[i]) || !R_FINITE(sp->rskip[i]))
        error("`spec$res_alpha` and `spec$res_skip` must be finite.");
    if (sp->rnorm[i] < NORM_NONE || sp->rnorm[i] > NORM_POST)
        error("`spec$res_norm[%d]` is not a normalization (src/vocab.h, IV_NORM_KINDS).", i + 1);
    if (sp->rnorm[i] != NORM_NONE && sp->w[i] < 2)
        error("`spec$widths`: a normalized %s layer needs width >= 2.", what);
}

void iv_read_spec(SEXP spec, spec_t *sp)
{
    int pos[IV_NSPEC];
    spec_index(spec, pos);
    SEXP widths = FIELD(SP_WIDTHS);
    if (TYPEOF(widths) != INTSXP || XLENGTH(widths) < 2)
        error("`spec$widths` must be an integer vector of length >= 2.");
    if (XLENGTH(widths) > 100001) error("`spec$widths` describes more than 1e5 layers.");
    int d = (int) XLENGTH(widths) - 1;
    sp->d = d;
    sp->w = INTEGER(widths);
    sp->maxw = 0;
    for (int i = 0; i <= d; i++) {
        if (sp->w[i] < 1 || sp->w[i] > IV_MAX_WIDTH)
            error("`spec$widths` must hold positive widths.");
        if (sp->w[i] > sp->maxw) sp->maxw = sp->w[i];
    }
    const int *kind = INTEGER(spec_elt(spec, pos, SP_LAYER_KIND, INTSXP, d));
    sp->kind = kind;
    sp->units = INTEGER(spec_elt(spec, pos, SP_UNITS, INTSXP, d));
    sp->ralpha = REAL(spec_elt(spec, pos, SP_RES_ALPHA, REALSXP, d));
    sp->rskip = REAL(spec_elt(spec, pos, SP_RES_SKIP, REALSXP, d));
    sp->rnorm = INTEGER(spec_elt(spec, pos, SP_RES_NORM, INTSXP, d));
    sp->attn = REAL(spec_elt(spec, pos, SP_ATTN, REALSXP, 5 * (R_xlen_t) d));
    sp->conv = REAL(spec_elt(spec, pos, SP_CONV, REALSXP, IV_CONV_NPAR * (R_xlen_t) d));
    sp->ufirst = (int *) R_alloc(d, sizeof(int));
    sp->U = 0;
    sp->nres = 0;
    sp->natt = 0;
    sp->maxT = 1;
    sp->dstart = -1;
    for (int i = 0; i < d; i++) {
        if (kind[i] == LAYER_DENSE) {
            if (sp->units[i] != 1) error("`spec$units[%d]` must be 1 for a dense layer.", i + 1);
        } else if (kind[i] == LAYER_RESIDUAL) {
            if (sp->units[i] < 1 || sp->units[i] > 1000)
                error("`spec$units[%d]` must be between 1 and 1000.", i + 1);
            check_block(sp, i, "residual");
            sp->nres++;
        } else if (kind[i] == LAYER_ATTENTION) {
            /* attention sublayers: src/transformer.c */
            if (sp->units[i] != 4) error("`spec$units[%d]` must be 4 for an attention layer.", i + 1);
            check_block(sp, i, "attention");
            const double *at = sp->attn + 5 * (R_xlen_t) i;
            for (int k = 0; k < 3; k++)
                if (!(at[k] >= 1 && at[k] <= IV_MAX_WIDTH && at[k] == floor(at[k])))
                    error("`spec$attn` must hold positive whole heads, d_k and seq_len.");
            if (at[0] * at[1] > IV_MAX_WIDTH) error("`spec$attn`: heads x d_k is too large.");
            if (at[2] > 4096) error("`spec$attn`: seq_len must be at most 4096.");
            if (at[3] != ATT_BIDIR && at[3] != ATT_CAUSAL && at[3] != ATT_CROSS &&
                at[3] != ATT_DECODER)
                error("`spec$attn`: the mask (causal, cross) must be 0, 1, 2 or 3.");
            if (at[3] == ATT_DECODER) {
                if (sp->dstart >= 0 || i == 0)
                    error("`spec$attn`: one decoder start, after the encoder.");
                sp->dstart = i;
            }
            if (at[3] == ATT_CROSS && sp->dstart < 0)
                error("`spec$attn`: cross-attention layer %d before the decoder's start.", i + 1);
            if (!R_FINITE(at[4]) || at[4] < 0) error("`spec$attn`: the logit scale must be finite and >= 0.");
            if ((int) at[2] > sp->maxT) sp->maxT = (int) at[2];
            sp->nres++;
            sp->natt++;
        } else if (kind[i] == LAYER_CONV) {
            /* convolutions: src/conv.c (geometry checked with the units) */
            if (sp->units[i] != 1) error("`spec$units[%d]` must be 1 for a conv layer.", i + 1);
        } else {
            error("`spec$layer_kind[%d]` is not a layer kind the engine runs.", i + 1);
        }
        sp->ufirst[i] = sp->U;
        sp->U += sp->units[i];
        if (sp->U > 1000000) error("`spec$units`: more than 1e6 units.");
    }
    int U = sp->U;
    /* the units' widths: a dense layer's w[i] -> w[i + 1]; a residual
       branch's chain from w[i] back to w[i]; attention's W_Q, W_K, W_V
       from w[i] to heads d_k, W_O back */
    sp->uin = INTEGER(spec_elt(spec, pos, SP_UNIT_IN, INTSXP, U));
    sp->uout = INTEGER(spec_elt(spec, pos, SP_UNIT_OUT, INTSXP, U));
    for (int u = 0; u < U; u++) {
        if (sp->uin[u] < 1 || sp->uin[u] > IV_MAX_WIDTH || sp->uout[u] < 1 ||
            sp->uout[u] > IV_MAX_WIDTH)
            error("`spec$unit_in` and `spec$unit_out` must hold positive widths.");
        if (sp->uin[u] > sp->maxw) sp->maxw = sp->uin[u];
        if (sp->uout[u] > sp->maxw) sp->maxw = sp->uout[u];
    }
    for (int i = 0; i < d; i++) {
        const int u0 = sp->ufirst[i], m = sp->units[i];
        if (kind[i] == LAYER_CONV) {
            iv_conv_check(sp, i);
            continue;
        }
        int ok = sp->uin[u0] == sp->w[i] && sp->uout[u0 + m - 1] == sp->w[i + 1];
        if (kind[i] == LAYER_RESIDUAL) {
            for (int k = 1; k < m; k++) ok = ok && sp->uin[u0 + k] == sp->uout[u0 + k - 1];
        } else if (kind[i] == LAYER_ATTENTION) {
            const double *at = sp->attn + 5 * (R_xlen_t) i;
            int hd = (int) (at[0] * at[1]);
            for (int k = 0; k < 3; k++)
                ok = ok && sp->uin[u0 + k] == sp->w[i] && sp->uout[u0 + k] == hd;
            ok = ok && sp->uin[u0 + 3] == hd;
        }
        if (!ok) error("`spec$unit_in`, `spec$unit_out`: the units of layer %d do not chain.", i + 1);
    }
    sp->act = INTEGER(spec_elt(spec, pos, SP_ACT, INTSXP, U));
    sp->aparam = REAL(spec_elt(spec, pos, SP_ACT_PARAM, REALSXP, U));
    sp->wkind = INTEGER(spec_elt(spec, pos, SP_WKIND, INTSXP, U));
    sp->wpar = REAL(spec_elt(spec, pos, SP_WPAR, REALSXP, 4 * (R_xlen_t) U));
    sp->bkind = INTEGER(spec_elt(spec, pos, SP_BKIND, INTSXP, U));
    sp->bpar = REAL(spec_elt(spec, pos, SP_BPAR, REALSXP, 4 * (R_xlen_t) U));
    sp->input = iv_int_arg(FIELD(SP_INPUT), "spec$input");
    sp->var_x = iv_real_arg(FIELD(SP_VAR_X), "spec$var_x");
    sp->batch = (int) iv_size_arg(FIELD(SP_BATCH), "spec$batch", IV_MAX_WIDTH);
    for (int i = 0; i < d; i++)
        if (kind[i] == LAYER_ATTENTION && sp->batch % (int) sp->attn[5 * (R_xlen_t) i + 2] != 0)
            error("`spec$batch` must be a multiple of the sequence length of layer %d.", i + 1);
    if (sp->dstart >= 0) {
        /* encoder-decoder: the memory feeds the cross-attention layers */
        for (int i = sp->dstart; i < d; i++)
            if (kind[i] == LAYER_ATTENTION && sp->attn[5 * (R_xlen_t) i + 3] == ATT_CROSS &&
                (sp->w[i] != sp->w[sp->dstart] ||
                 sp->attn[5 * (R_xlen_t) i + 2] != sp->attn[5 * (R_xlen_t) sp->dstart + 2]))
                error("`spec`: cross-attention layer %d must match the memory's width and seq_len.", i + 1);
        if (sp->w[0] != sp->w[sp->dstart])
            error("`spec$widths`: the decoder's input must be as wide as the encoder's.");
    }
    SEXP X = FIELD(SP_X);
    const R_xlen_t nx = (R_xlen_t) (sp->dstart >= 0 ? 2 : 1) * sp->batch * sp->w[0];
    if (sp->input == IN_MATRIX) {
        if (TYPEOF(X) != REALSXP || XLENGTH(X) != nx)
            error("`spec$X` must be a batch x n0 double matrix (batch x 2 n0 for an encoder-decoder: source | target).");
        sp->X = REAL(X);
    } else if (sp->input == IN_NORMAL || sp->input == IN_UNIFORM) {
        if (X != R_NilValue) error("`spec$X` must be NULL for random inputs.");
        sp->X = NULL;
        if (sp->var_x < 0) error("`spec$var_x` must be non-negative.");
    } else {
        error("`spec$input` is not an input kind (src/vocab.h, IV_INPUT_KINDS).");
    }
    SEXP tm = FIELD(SP_TOKEN_MIX);
    sp->token_mix = NULL;
    sp->tmT = 0;
    if (tm != R_NilValue) {
        if (kind[0] != LAYER_ATTENTION)
            error("`spec$token_mix` needs an attention first layer.");
        if (sp->input != IN_NORMAL) error("`spec$token_mix` needs normal inputs.");
        const int T = (int) sp->attn[2];
        if (TYPEOF(tm) != REALSXP || XLENGTH(tm) != (R_xlen_t) T * T)
            error("`spec$token_mix` must be NULL or a seq_len x seq_len double matrix.");
        const double *m = REAL(tm);
        for (R_xlen_t k = 0; k < (R_xlen_t) T * T; k++)
            if (!R_FINITE(m[k])) error("`spec$token_mix` must be finite.");
        sp->token_mix = m;
        sp->tmT = T;
    }
    sp->grad = iv_int_arg(FIELD(SP_GRAD), "spec$grad");
    if (sp->grad != GRAD_NORMAL && sp->grad != GRAD_SOFTMAX)
        error("`spec$grad` is not an output-gradient kind (src/vocab.h, IV_GRAD_KINDS).");
    if (sp->grad == GRAD_SOFTMAX && kind[d - 1] != LAYER_DENSE)
        error("`spec$grad`: a softmax output gradient needs a dense last layer.");
    sp->var_grad = iv_real_arg(FIELD(SP_VAR_GRAD), "spec$var_grad");
    if (sp->var_grad < 0) error("`spec$var_grad` must be non-negative.");
    sp->center = REAL(spec_elt(spec, pos, SP_CENTER, REALSXP, NQ * (R_xlen_t) d));
    sp->nbins = (int) iv_size_arg(FIELD(SP_NBINS), "spec$nbins", 1e6);
    sp->hrange = REAL(spec_elt(spec, pos, SP_HRANGE, REALSXP, 6 * (R_xlen_t) d));
    for (int i = 0; i < 3 * d; i++)
        if (!(sp->hrange[2 * i] < sp->hrange[2 * i + 1]) ||
            !R_FINITE(sp->hrange[2 * i]) || !R_FINITE(sp->hrange[2 * i + 1]))
            error("`spec$hrange` must hold finite increasing pairs.");
    const double *sd = REAL(spec_elt(spec, pos, SP_SEED, REALSXP, 2));
    if (!(sd[0] >= 0 && sd[0] < 4294967296.0 && sd[1] >= 0 && sd[1] < 4294967296.0 &&
          sd[0] == floor(sd[0]) && sd[1] == floor(sd[1])))
        error("`spec$seed` must hold two 32-bit halves.");
    sp->seed = ((uint64_t) sd[0] << 32) ^ (uint64_t) sd[1];
    sp->rfuns = spec_elt(spec, pos, SP_RFUNS, VECSXP, U);
    sp->scale = REAL(spec_elt(spec, pos, SP_SCALE, REALSXP, NQ * (R_xlen_t) d));
    for (R_xlen_t i = 0; i < NQ * (R_xlen_t) d; i++) {
        int e;
        if (!(sp->scale[i] > 0) || !R_FINITE(sp->scale[i]) || frexp(sp->scale[i], &e) != 0.5)
            error("`spec$scale` must hold powers of 2.");
    }

    sp->wf = (iv_family *) R_alloc(U, sizeof(iv_family));
    sp->bf = (iv_family *) R_alloc(U, sizeof(iv_family));
    sp->lwork = 1;
    for (int i = 0; i < U; i++) {
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
        int wk = sp->wkind[i], nin = sp->uin[i], nout = sp->uout[i];
        iv_family *f = sp->wf + i;
        f->family = wk; f->p1 = p[0]; f->p2 = p[1]; f->lo = p[2]; f->hi = p[3];
        f->tn_method = 0; f->tn_flip = 0; f->tn_alpha = 1; f->tn_m1 = 0;
        if (wk == FAM_UNIFORM && !(p[0] <= p[1])) error("uniform weights need a <= b.");
        if ((wk == FAM_NORMAL || wk == FAM_TRUNC || wk == FAM_SPARSE) && p[1] < 0)
            error("weights need sd >= 0.");
        if (wk == FAM_TRUNC) {
            if (!(p[2] < p[3]) || p[2] == R_PosInf || p[3] == R_NegInf)
                error("truncated weights need lower < upper.");
            iv_tn_setup(f);
        } else if (wk == FAM_ORTHO) {
            int m = nin > nout ? nin : nout, k = nin > nout ? nout : nin;
            int lw = iv_qr_lwork(m, k);
            if (lw > sp->lwork) sp->lwork = lw;
        } else if (wk == FAM_SPARSE) {
            if (p[0] < 0 || p[0] > nin || p[0] != floor(p[0]))
                error("sparse weights need 0 <= nzero <= fan_in.");
        } else if (wk == FAM_DELTA_ORTHO) {
            /* gain, taps, centre tap, groups */
            if (!R_FINITE(p[2]) || !R_FINITE(p[3]) || p[1] < 1 || p[1] != floor(p[1]) ||
                p[2] < 0 || p[2] >= p[1] || p[2] != floor(p[2]) || p[3] < 1 ||
                p[3] != floor(p[3]) || fmod((double) nin, p[1]) != 0 ||
                fmod((double) nout, p[3]) != 0)
                error("delta-orthogonal weights need taps dividing fan_in, 0 <= centre < taps "
                      "and groups dividing the outputs.");
            int ci = (int) (nin / p[1]), co = (int) (nout / p[3]);
            int m = ci > co ? ci : co, k = ci > co ? co : ci;
            int lw = iv_qr_lwork(m, k);
            if (lw > sp->lwork) sp->lwork = lw;
        } else if (wk == FAM_CONV_ORTHO) {
            /* gain, kernel height and width, groups */
            if (!R_FINITE(p[2]) || !R_FINITE(p[3]) || p[1] < 1 || p[1] != floor(p[1]) ||
                p[2] < 1 || p[2] != floor(p[2]) || p[3] < 1 || p[3] != floor(p[3]) ||
                p[1] * p[2] > IV_MAX_WIDTH || fmod((double) nin, p[1] * p[2]) != 0 ||
                fmod((double) nout, p[3]) != 0)
                error("conv-orthogonal weights need kh kw taps dividing fan_in and groups "
                      "dividing the outputs.");
            int ci = (int) (nin / (p[1] * p[2])), co = (int) (nout / p[3]);
            int n = ci > co ? ci : co, k = ci > co ? co : ci;
            int lw = iv_qr_lwork(n, k), lw2 = iv_qr_lwork(n, n);
            if (lw > sp->lwork) sp->lwork = lw;
            if (lw2 > sp->lwork) sp->lwork = lw2;
        } else if (wk < FAM_UNIFORM || wk > FAM_CONV_ORTHO) {
            error("`spec$wkind` has an unknown code.");
        }
        const double *bp = sp->bpar + 4 * i;
        int bk = sp->bkind[i];
        iv_family *g = sp->bf + i;
        g->family = bk; g->p1 = bp[0]; g->p2 = bp[1]; g->lo = bp[2]; g->hi = bp[3];
        g->tn_method = 0; g->tn_flip = 0; g->tn_alpha = 1; g->tn_m1 = 0;
        if (!R_FINITE(bp[0]) || !R_FINITE(bp[1])) error("`spec$bpar` must be finite.");
        if (bk == FAM_UNIFORM && !(bp[0] <= bp[1])) error("uniform biases need a <= b.");
        if ((bk == FAM_NORMAL || bk == FAM_TRUNC) && bp[1] < 0) error("biases need sd >= 0.");
        if (bk == FAM_TRUNC) {
            if (!(bp[2] < bp[3]) || bp[2] == R_PosInf || bp[3] == R_NegInf)
                error("truncated biases need lower < upper.");
            iv_tn_setup(g);
        } else if (bk < FAM_UNIFORM || bk > FAM_CONSTANT) {
            error("`spec$bkind` has an unknown code.");
        }
    }
}
