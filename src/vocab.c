/* C_test_vocabulary(): C's side of every vocabulary that crosses between R
   and C (src/vocab.h), as a named list of named integer vectors, for
   tests/testthat/test-vocabulary.R to compare with R's. */
#include <R.h>
#include <Rinternals.h>
#include "vocab.h"
#include "api.h"

typedef struct { const char *name; int value; } entry_t;

#define IV_TABLE_ENTRY(e, name, value) { name, value },
static const entry_t families[] = { IV_FAMILIES(IV_TABLE_ENTRY) };
static const entry_t activations[] = { IV_ACTIVATIONS(IV_TABLE_ENTRY) };
static const entry_t layer_kinds[] = { IV_LAYER_KINDS(IV_TABLE_ENTRY) };
static const entry_t norm_kinds[] = { IV_NORM_KINDS(IV_TABLE_ENTRY) };
static const entry_t input_kinds[] = { IV_INPUT_KINDS(IV_TABLE_ENTRY) };
static const entry_t grad_kinds[] = { IV_GRAD_KINDS(IV_TABLE_ENTRY) };
static const entry_t quantities[] = { IV_QUANTITIES(IV_TABLE_ENTRY) };
static const entry_t acc_slots[] = { IV_ACC_SLOTS(IV_TABLE_ENTRY) };
static const entry_t kernels[] = { IV_IDENTITY_KERNELS(IV_TABLE_ENTRY) };
static const entry_t dists[] = { IV_IDENTITY_DISTS(IV_TABLE_ENTRY) };
static const entry_t spec_fields[] = { IV_SPEC_FIELDS(IV_TABLE_ENTRY) };
static const entry_t block_slots[] = { IV_BLOCK_SLOTS(IV_TABLE_ENTRY) };
static const entry_t limits[] = { { "max_width", IV_MAX_WIDTH },
                                  { "max_threads", IV_MAX_THREADS },
                                  { "n_acc", IV_NACC }, { "n_quantities", NQ },
                                  { "n_spec", IV_NSPEC } };

#define N_OF(a) ((int) (sizeof(a) / sizeof((a)[0])))

static SEXP table(const entry_t *e, int n)
{
    SEXP v = PROTECT(allocVector(INTSXP, n));
    SEXP nm = PROTECT(allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) {
        INTEGER(v)[i] = e[i].value;
        SET_STRING_ELT(nm, i, mkChar(e[i].name));
    }
    setAttrib(v, R_NamesSymbol, nm);
    UNPROTECT(2);
    return v;
}

SEXP C_test_vocabulary(void)
{
    struct { const char *name; const entry_t *e; int n; } all[] = {
        { "families", families, N_OF(families) },
        { "activations", activations, N_OF(activations) },
        { "layer_kinds", layer_kinds, N_OF(layer_kinds) },
        { "norm_kinds", norm_kinds, N_OF(norm_kinds) },
        { "input_kinds", input_kinds, N_OF(input_kinds) },
        { "grad_kinds", grad_kinds, N_OF(grad_kinds) },
        { "quantities", quantities, N_OF(quantities) },
        { "acc_slots", acc_slots, N_OF(acc_slots) },
        { "identity_kernels", kernels, N_OF(kernels) },
        { "identity_dists", dists, N_OF(dists) },
        { "spec_fields", spec_fields, N_OF(spec_fields) },
        { "block_slots", block_slots, N_OF(block_slots) },
        { "limits", limits, N_OF(limits) }
    };
    int n = N_OF(all);
    SEXP ans = PROTECT(allocVector(VECSXP, n));
    SEXP nm = PROTECT(allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) {
        SET_VECTOR_ELT(ans, i, table(all[i].e, all[i].n));
        SET_STRING_ELT(nm, i, mkChar(all[i].name));
    }
    setAttrib(ans, R_NamesSymbol, nm);
    UNPROTECT(2);
    return ans;
}
