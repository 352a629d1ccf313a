/* Every .Call entry point of initvar, in one place: registered in init.c
 * with these exact argument counts. Entry points named C_test_* exist for
 * the tests only (they return internals for comparison with plain-R
 * references) and are not part of what the R functions call. */
#ifndef INITVAR_API_H
#define INITVAR_API_H

#include <R.h>
#include <Rinternals.h>

/* schemes: sampling (sample.c) */
SEXP C_sample_iid(SEXP dim, SEXP family, SEXP params, SEXP threads);
SEXP C_sample_orthogonal(SEXP rows, SEXP cols, SEXP gain, SEXP threads);
SEXP C_sample_sparse(SEXP rows, SEXP cols, SEXP nzero, SEXP sd, SEXP threads);

/* thread policy (threads.c) */
SEXP C_openmp_threads(void);
SEXP C_blas_threads(SEXP n);
SEXP C_blas_info(void);

/* the network engine (propagate.c) */
SEXP C_simulate_block(SEXP spec, SEXP first, SEXP count, SEXP threads,
                      SEXP workspace);
SEXP C_workspace(SEXP spec, SEXP threads);
SEXP C_merge_acc(SEXP a, SEXP b);

/* identity reducers (identities.c, formula.c) */
SEXP C_identity_moments(SEXP code, SEXP params, SEXP n, SEXP threads);
SEXP C_formula_moments(SEXP V, SEXP center, SEXP scale, SEXP pi, SEXP pj);

/* attention logits (attention.c) */
SEXP C_attention(SEXP dims, SEXP scale, SEXP wfamily, SEXP wparams, SEXP xfamily,
                 SEXP xparams, SEXP threads);

/* the Jacobian's singular values (jacobian.c) */
SEXP C_jacobian(SEXP spec, SEXP first, SEXP count, SEXP threads);

/* pairs of correlated inputs (correlation.c) */
SEXP C_correlation(SEXP spec, SEXP first, SEXP count, SEXP threads);

/* test hooks */
SEXP C_test_network_trace(SEXP spec, SEXP net);
SEXP C_test_moments(SEXP x, SEXP y);
SEXP C_test_vocabulary(void);
SEXP C_test_act_eval(SEXP code, SEXP param, SEXP x);
SEXP C_test_jacobian(SEXP spec, SEXP net);

/* softmax.c: the softmax moments' sums (R/net-transformer.R) */
SEXP C_gauss_smooth(SEXP x, SEXP v, SEXP F);
SEXP C_softmax_powsum(SEXP a, SEXP W, SEXP m);
SEXP C_prefix2(SEXP M, SEXP suffix);
SEXP C_test_fill_repeat(SEXP n, SEXP family, SEXP params, SEXP threads, SEXP reps);

#endif
