/* The codes that cross between R and C, each written once here as an
 * X-macro list X(ENUM_NAME, "r name", value) that makes both the C enum and
 * the table C_test_vocabulary() returns (src/vocab.c). Their R twins live
 * in R/codes.R (and the activation table, R/activations.R);
 * tests/testthat/test-vocabulary.R asserts that the two sides agree on
 * every name and code.
 */
#ifndef INITVAR_VOCAB_H
#define INITVAR_VOCAB_H

/* Elementwise scheme families of the samplers and the engine. */
#define IV_FAMILIES(X) \
    X(FAM_UNIFORM, "uniform", 1) \
    X(FAM_NORMAL, "normal", 2) \
    X(FAM_TRUNC, "truncated_normal", 3) \
    X(FAM_CONSTANT, "constant", 4) \
    X(FAM_IDENTITY, "identity", 5) \
    X(FAM_ORTHO, "orthogonal", 6) \
    X(FAM_SPARSE, "sparse", 7) \
    X(FAM_DELTA_ORTHO, "delta_orthogonal", 8) \
    X(FAM_CONV_ORTHO, "conv_orthogonal", 9)

/* The activations' codes, IV_ACTIVATIONS, are listed in src/activations.h,
   beside act_eval(), which evaluates them. */
#include "activations.h"

/* The engine's layer kinds (a network is a list of layers). */
#define IV_LAYER_KINDS(X) \
    X(LAYER_DENSE, "dense", 1) \
    X(LAYER_RESIDUAL, "residual", 2) \
    X(LAYER_ATTENTION, "attention", 3) \
    X(LAYER_CONV, "conv", 4)

/* The layer normalization of a residual block: none, before the branch
   ("pre": x + alpha F(LN(x))) or after the sum ("post": LN(skip x + alpha
   F(x))). */
#define IV_NORM_KINDS(X) \
    X(NORM_NONE, "none", 0) \
    X(NORM_PRE, "pre", 1) \
    X(NORM_POST, "post", 2)

/* The engine's inputs and output gradients. */
#define IV_INPUT_KINDS(X) \
    X(IN_NORMAL, "normal", 1) \
    X(IN_UNIFORM, "uniform", 2) \
    X(IN_MATRIX, "matrix", 3)

#define IV_GRAD_KINDS(X) \
    X(GRAD_NORMAL, "normal", 1) \
    X(GRAD_SOFTMAX, "softmax", 2)

/* The per-layer quantities the engine accumulates, in this order. */
#define IV_QUANTITIES(X) \
    X(Q_S, "s", 0) \
    X(Q_Z, "z", 1) \
    X(Q_G, "grad_s", 2) \
    X(Q_W, "grad_w", 3) \
    X(Q_M, "norm", 4)
#define NQ 5

/* The slots of one mergeable accumulator (src/moments.h): pooled central
   moment sums of all values (Pebay), the network count, the mean and
   co-deviation sums of the per-network moments a_j, b_j (Chan), and of the
   per-network across-neuron variance e_j. */
#define IV_ACC_SLOTS(X) \
    X(ACC_N, "n", 0) \
    X(ACC_MEAN, "mean", 1) \
    X(ACC_M2, "M2", 2) \
    X(ACC_M3, "M3", 3) \
    X(ACC_M4, "M4", 4) \
    X(ACC_J, "networks", 5) \
    X(ACC_MEAN_A, "mean_a", 6) \
    X(ACC_MEAN_B, "mean_b", 7) \
    X(ACC_C_AA, "C_aa", 8) \
    X(ACC_C_BB, "C_bb", 9) \
    X(ACC_C_AB, "C_ab", 10) \
    X(ACC_MEAN_E, "mean_e", 11) \
    X(ACC_M2_E, "M2_e", 12)
#define IV_NACC 13

/* Built-in identity kernels (src/identities.c) and their distributions. */
#define IV_IDENTITY_KERNELS(X) \
    X(ID_LINEAR, "linear", 1) \
    X(ID_SUM, "sum", 2) \
    X(ID_SUM_UNCORRELATED, "sum_uncorrelated", 3) \
    X(ID_PRODUCT, "product", 4) \
    X(ID_NEURON, "neuron", 5) \
    X(ID_COVARIANCE, "covariance", 6) \
    X(ID_DELTA, "delta", 7) \
    X(ID_LAYERS, "layers", 8)

#define IV_IDENTITY_DISTS(X) \
    X(D_NORMAL, "normal", 1) \
    X(D_UNIFORM, "uniform", 2) \
    X(D_EXPONENTIAL, "exponential", 3)

/* The fields of the engine spec, a named list read by name (propagate.c). */
#define IV_SPEC_FIELDS(X) \
    X(SP_WIDTHS, "widths", 0) \
    X(SP_LAYER_KIND, "layer_kind", 1) \
    X(SP_ACT, "act", 2) \
    X(SP_ACT_PARAM, "act_param", 3) \
    X(SP_WKIND, "wkind", 4) \
    X(SP_WPAR, "wpar", 5) \
    X(SP_BKIND, "bkind", 6) \
    X(SP_BPAR, "bpar", 7) \
    X(SP_INPUT, "input", 8) \
    X(SP_VAR_X, "var_x", 9) \
    X(SP_X, "X", 10) \
    X(SP_GRAD, "grad", 11) \
    X(SP_VAR_GRAD, "var_grad", 12) \
    X(SP_BATCH, "batch", 13) \
    X(SP_CENTER, "center", 14) \
    X(SP_NBINS, "nbins", 15) \
    X(SP_HRANGE, "hrange", 16) \
    X(SP_SEED, "seed", 17) \
    X(SP_RFUNS, "rfuns", 18) \
    X(SP_SCALE, "scale", 19) \
    X(SP_UNITS, "units", 20) \
    X(SP_RES_ALPHA, "res_alpha", 21) \
    X(SP_RES_SKIP, "res_skip", 22) \
    X(SP_RES_NORM, "res_norm", 23) \
    X(SP_UNIT_IN, "unit_in", 24) \
    X(SP_UNIT_OUT, "unit_out", 25) \
    X(SP_ATTN, "attn", 26) \
    X(SP_CONV, "conv", 27) \
    X(SP_TOKEN_MIX, "token_mix", 28)
#define IV_NSPEC 29

/* What C_simulate_block returns, by name. */
#define IV_BLOCK_SLOTS(X) \
    X(BLK_ACC, "acc", 0) \
    X(BLK_HIST, "hist", 1) \
    X(BLK_POS, "pos", 2)

/* Limits shared by R's argument checks and C's guards. */
#define IV_MAX_WIDTH (1 << 24)   /* widths and batch sizes: 16,777,216 */
#define IV_MAX_THREADS 1024

#define IV_ENUM_ENTRY(e, name, value) e = value,
enum { IV_FAMILIES(IV_ENUM_ENTRY) FAM_END_ };
enum { IV_LAYER_KINDS(IV_ENUM_ENTRY) LAYER_END_ };
enum { IV_NORM_KINDS(IV_ENUM_ENTRY) NORM_END_ };
enum { IV_INPUT_KINDS(IV_ENUM_ENTRY) IN_END_ };
enum { IV_GRAD_KINDS(IV_ENUM_ENTRY) GRAD_END_ };
enum { IV_QUANTITIES(IV_ENUM_ENTRY) Q_END_ };
enum { IV_ACC_SLOTS(IV_ENUM_ENTRY) ACC_END_ };
enum { IV_IDENTITY_KERNELS(IV_ENUM_ENTRY) ID_END_ };
enum { IV_IDENTITY_DISTS(IV_ENUM_ENTRY) D_END_ };
enum { IV_SPEC_FIELDS(IV_ENUM_ENTRY) SP_END_ };
enum { IV_BLOCK_SLOTS(IV_ENUM_ENTRY) BLK_END_ };

#endif
