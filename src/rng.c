#include <R.h>
#include <Rinternals.h>
#include <Rmath.h>
#include "rng.h"

/* --- stream seeding ----------------------------------------------------- */

static uint64_t iv_mix64(uint64_t z)
{
    z = (z ^ (z >> 33)) * UINT64_C(0xFF51AFD7ED558CCD);
    z = (z ^ (z >> 33)) * UINT64_C(0xC4CEB9FE1A85EC53);
    return z ^ (z >> 33);
}

void iv_rng_init(iv_rng *r, uint64_t seed, uint64_t stream)
{
    /* mix64 is a bijection, so distinct streams start from distinct
       splitmix64 states for the same seed. */
    uint64_t x = seed ^ iv_mix64(stream + UINT64_C(0x632BE59BD9B4E019));
    for (int i = 0; i < 4; i++) r->s[i] = iv_splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t iv_seed_from_R(void)
{
    /* unif_rand() has at least 32 bits of resolution for R's default
       generators; two draws give the 64-bit seed. */
    GetRNGstate();
    double u1 = unif_rand(), u2 = unif_rand();
    PutRNGstate();
    uint64_t hi = (uint64_t) floor(u1 * 4294967296.0);
    uint64_t lo = (uint64_t) floor(u2 * 4294967296.0);
    return (hi << 32) ^ lo;
}

/* --- normal deviates: 256-layer ziggurat --------------------------------
 * Marsaglia and Tsang (2000) in the form of Doornik (2005), which keeps the
 * layer index and the uniform in disjoint bits of one 64-bit output, so
 * they are independent.  The algorithm is exact: the rectangles, wedges and
 * tail are each sampled from the exact normal density. */

#define ZIG_C 256
#define ZIG_R 3.6541528853610088

double iv_zig_x[ZIG_C + 1];
double iv_zig_r[ZIG_C];
#define zig_x iv_zig_x
#define zig_r iv_zig_r

/* The common area of the layers: the base layer's rectangle plus the tail,
   computed to full precision so that the table closes exactly. */
static double ZIG_V;

void iv_zig_setup(void)
{
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    ZIG_V = ZIG_R * f + sqrt(2 * M_PI) * pnorm(ZIG_R, 0.0, 1.0, 0, 0);
    zig_x[0] = ZIG_V / f;
    zig_x[1] = ZIG_R;
    zig_x[ZIG_C] = 0.0;
    for (int i = 2; i < ZIG_C; i++) {
        double xi = zig_x[i - 1];
        zig_x[i] = sqrt(-2.0 * log(ZIG_V / xi + exp(-0.5 * xi * xi)));
    }
    for (int i = 0; i < ZIG_C; i++) zig_r[i] = zig_x[i + 1] / zig_x[i];
}

static double zig_tail(iv_rng *r, int negative)
{
    double x, y;
    do {
        x = log(iv_unif(r)) / ZIG_R;
        y = log(iv_unif(r));
    } while (-2.0 * y < x * x);
    return negative ? x - ZIG_R : ZIG_R - x;
}

/* The rest of iv_norm() (rng.h) after its first output b missed the
   rectangle of layer i: the tail, a wedge, or a fresh try. */
double iv_norm_slow(iv_rng *r, int i, double u)
{
    for (;;) {
        if (i == 0) return zig_tail(r, u < 0);
        double x = u * zig_x[i];
        double f0 = exp(-0.5 * (zig_x[i] * zig_x[i] - x * x));
        double f1 = exp(-0.5 * (zig_x[i + 1] * zig_x[i + 1] - x * x));
        if (f1 + iv_unif(r) * (f0 - f1) < 1.0) return x;
        uint64_t b = iv_next(r);
        i = (int) (b & 0xFF);
        u = ((double) (b >> 12) + 0.5) * 0x1.0p-51 - 1.0;
        if (fabs(u) < zig_r[i]) return u * zig_x[i];
    }
}

double iv_exp(iv_rng *r)
{
    return -log(iv_unif(r));
}
