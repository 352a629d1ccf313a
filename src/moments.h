/* Mergeable moment accumulators.
 *
 * One accumulator (IV_NACC doubles) summarizes a quantity over many
 * networks:
 *   [0] n, [1] mean, [2] M2, [3] M3, [4] M4: pooled central moment sums of
 *       all values (Pebay 2008), merged exactly and stably;
 *   [5] J: number of networks;
 *   [6] mean_a, [7] mean_b, [8] C_aa, [9] C_bb, [10] C_ab: mean and
 *       co-deviation sums (Chan et al. 1979) of the per-network first and
 *       second moments a_j, b_j about a fixed reference point: the network
 *       is the unit of replication for Monte Carlo standard errors;
 *   [11] mean_e, [12] M2_e: mean and deviation sum of the per-network
 *       across-neuron variance e_j.
 */
#ifndef INITVAR_MOMENTS_H
#define INITVAR_MOMENTS_H

#include "vocab.h"   /* IV_NACC and the slot names, IV_ACC_SLOTS */

/* acc from one network's summary (n, mean, M2, M3, M4, a, b, e). */
void iv_acc_from_network(double *acc, const double *summary);
/* a <- a merged with b. */
void iv_acc_merge(double *a, const double *b);

#endif

/* Bivariate central co-moments up to order 4, mergeable exactly:
   n, the means of u and v, and M[p][q] = sum (u - mean_u)^p (v - mean_v)^q
   for p + q <= 4 (M[0][0] = n, M[1][0] = M[0][1] = 0). */
typedef struct {
    double n;
    double ku, kv;  /* reference point: the means are mu + ku, mv + kv, */
    double mu, mv;  /* kept small so that merging loses no digits to an offset */
    double M[5][5];
} iv_biv;

#define IV_BIV_LEN 28

void iv_biv_zero(iv_biv *a);
/* From power sums S[p][q] = sum (u - u0)^p (v - v0)^q, S[0][0] = n. */
void iv_biv_from_sums(iv_biv *a, double u0, double v0, double S[5][5]);
/* a <- a merged with b (Pebay 2008, by binomial re-centring). */
void iv_biv_merge(iv_biv *a, const iv_biv *b);
/* n, mean_u, mean_v, then M row by row (IV_BIV_LEN doubles). */
void iv_biv_pack(const iv_biv *a, double *out);
