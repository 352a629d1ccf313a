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

#define IV_NACC 13

/* acc from one network's summary (n, mean, M2, M3, M4, a, b, e). */
void iv_acc_from_network(double *acc, const double *summary);
/* a <- a merged with b. */
void iv_acc_merge(double *a, const double *b);

#endif
