/* Fast, reproducible random numbers for initvar.
 *
 * Seed material comes from R's RNG (see initvar_seed_from_R); all further
 * numbers come from xoshiro256++ streams, one per fixed work chunk, each
 * seeded by splitmix64 from (seed, chunk index).  A result therefore depends
 * only on the seed and on how the work is cut into chunks, never on how many
 * threads (or machines) process the chunks.
 */
#ifndef INITVAR_RNG_H
#define INITVAR_RNG_H

#include <stdint.h>
#include <string.h>
#include <math.h>

typedef struct {
    uint64_t s[4];
} iv_rng;

/* Number of doubles generated per chunk by the elementwise samplers. */
#define IV_CHUNK ((R_xlen_t) 65536)

static inline uint64_t iv_rotl(const uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t iv_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* xoshiro256++ (Blackman and Vigna 2019). */
static inline uint64_t iv_next(iv_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = iv_rotl(s[0] + s[3], 23) + s[0];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = iv_rotl(s[3], 45);
    return result;
}

/* Uniform on the open interval (0, 1), 52 random bits: (k + 1/2) 2^-52 for
   the top 52 bits k of the output. Computed without an integer-to-double
   conversion: the bits k as the mantissa of d = 1 + k 2^-52 in [1, 2), then
   d - (1 - 2^-53), which is exact (both operands and the result are
   doubles), so the value is the same as ((double) k + 0.5) * 2^-52. */
static inline double iv_unif(iv_rng *r)
{
    uint64_t b = (iv_next(r) >> 12) | UINT64_C(0x3FF0000000000000);
    double d;
    memcpy(&d, &b, sizeof d);
    return d - (1.0 - 0x1.0p-53);
}

/* Uniform integer in [0, n), exactly (Lemire 2019, with rejection). */
static inline uint64_t iv_below(iv_rng *r, uint64_t n)
{
    uint64_t x = iv_next(r) >> 32; /* 32 random bits; n < 2^32 here */
    uint64_t m = x * n;
    uint32_t l = (uint32_t) m;
    if (l < n) {
        uint32_t t = (uint32_t) ((-(uint32_t) n) % (uint32_t) n);
        while (l < t) {
            x = iv_next(r) >> 32;
            m = x * n;
            l = (uint32_t) m;
        }
    }
    return m >> 32;
}

void iv_rng_init(iv_rng *r, uint64_t seed, uint64_t stream);

/* Standard normal deviates: a 256-layer ziggurat (rng.c), whose fast path
   (the rectangle of a layer, 98.8% of draws) is inlined here. */
extern double iv_zig_x[257];
extern double iv_zig_r[256];
double iv_norm_slow(iv_rng *r, int i, double u);
static inline double iv_norm(iv_rng *r)
{
    uint64_t b = iv_next(r);
    int i = (int) (b & 0xFF);
    /* u uniform on (-1, 1), from bits 12..63 (52 bits, exact) */
    double u = ((double) (b >> 12) + 0.5) * 0x1.0p-51 - 1.0;
    if (fabs(u) < iv_zig_r[i]) return u * iv_zig_x[i];
    return iv_norm_slow(r, i, u);
}
double iv_exp(iv_rng *r);
void iv_zig_setup(void);

/* Seed material from R's RNG; must be called on the main thread. */
uint64_t iv_seed_from_R(void);

#endif
