/* Samplers shared by sample.c and propagate.c. */
#ifndef INITVAR_SAMPLE_H
#define INITVAR_SAMPLE_H

#include <R.h>
#include <Rinternals.h>
#include "rng.h"
#include "vocab.h"

enum { TN_NORMAL = 0, TN_UNIFORM = 1, TN_EXP = 2 };

typedef struct {
    int family;
    double p1, p2;     /* uniform: a, b;  normal: mean, sd */
    double lo, hi;     /* truncated: standardized bounds */
    int tn_method;     /* truncated: sampling method */
    int tn_flip;       /* truncated: sample the mirror image, then negate */
    double tn_alpha;   /* truncated, exponential proposal: rate */
    double tn_m1;      /* truncated, uniform proposal: closest point to 0 */
} iv_family;

/* Choose the truncated-normal sampler; f->lo < f->hi must hold. */
void iv_tn_setup(iv_family *f);
/* Fill out[0..len) with draws from f, in order, from one stream. */
void iv_fill(double *out, R_xlen_t len, const iv_family *f, iv_rng *r);
/* LAPACK workspace (doubles) for iv_orthonormalize on an m x k matrix;
   main thread only. */
int iv_qr_lwork(int m, int k);
/* Replace the Gaussian m x k matrix a (m >= k) by gain * Q, with the signs
   of R's diagonal moved into Q (Haar). Returns LAPACK's info. */
int iv_orthonormalize(double *a, int m, int k, double gain, double *tau,
                      double *work, int lwork);
/* Advise transparent huge pages on fresh, untouched memory of `bytes` bytes
   (large blocks only; nothing where the platform has no such advice). */
void iv_advise_huge(void *x, size_t bytes);
/* o (k x m) = t(a) (a is m x k). */
void iv_transpose(const double *a, int m, int k, double *o);
/* One column of a sparse matrix: N(0, sd^2) with nz zeros at random rows;
   perm is scratch for nr ints. */
void iv_sparse_column(double *col, int nr, int nz, double sd, int *perm,
                      iv_rng *r);

#endif
