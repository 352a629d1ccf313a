/* Built-in activations and their derivatives (codes shared with R's
   activation_codes). */
#ifndef INITVAR_ACTIVATIONS_H
#define INITVAR_ACTIVATIONS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* IV_NONNULL(i, ...): the pointer arguments a function never accepts as
   NULL, for the compilers that check it (and for clang's static analyzer,
   which then checks the callers instead of guessing inside). */
#if defined(__GNUC__) || defined(__clang__)
#define IV_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define IV_NONNULL(...)
#endif

/* Built-in activations: X(ENUM_NAME, "r name", code), with their R twins
   in the activation table (R/activations.R); C_test_vocabulary() returns
   this list. A new activation is one line here and one case in act_eval()
   below. New codes go before ACT_R, which stays last: an R function,
   called back from C. */
#define IV_ACTIVATIONS(X) \
    X(ACT_LINEAR, "linear", 0) \
    X(ACT_TANH, "tanh", 1) \
    X(ACT_SIGMOID, "sigmoid", 2) \
    X(ACT_SOFTSIGN, "softsign", 3) \
    X(ACT_RELU, "relu", 4) \
    X(ACT_LEAKY, "leaky_relu", 5) \
    X(ACT_SELU, "selu", 6) \
    X(ACT_SCALED_TANH, "scaled_tanh", 7) \
    X(ACT_ELU, "elu", 8) \
    X(ACT_GELU, "gelu", 9) \
    X(ACT_GELU_TANH, "gelu_tanh", 10) \
    X(ACT_SILU, "silu", 11) \
    X(ACT_MISH, "mish", 12) \
    X(ACT_R, "r_function", 13)

#define IV_ACT_ENUM(e, name, value) e = value,
enum { IV_ACTIVATIONS(IV_ACT_ENUM) ACT_END_ };

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_LAMBDA 1.0507009873554804934193349852946
#define ACT_SQRT_2_PI 0.79788456080286535587989211986876   /* sqrt(2 / pi) */
#define ACT_INV_SQRT_2PI 0.39894228040143267793994605993438 /* 1 / sqrt(2 pi) */
#define ACT_SQRT1_2 0.70710678118654752440084436210485     /* 1 / sqrt(2) */

/* c ? a : b, by masking the bits: the compiler cannot make it a branch
   (which, taken at random, costs more than computing both a and b) */
static inline double iv_select(int c, double a, double b)
{
    uint64_t ua, ub, m = (uint64_t) 0 - (uint64_t) (c != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & m) | (ub & ~m);
    memcpy(&a, &ua, sizeof a);
    return a;
}

static inline uint64_t iv_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double iv_double(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* 2^(j/32), j = 0..31, correctly rounded */
static const double iv_exp2_32[32] = {
    0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,
    0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,
    0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,
    0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,
    0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,
    0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,
    0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,
    0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0
};

/* Constants of the fast tanh: 32 / ln2; ln2 / 32 in two parts, the first
   with 32 significant bits (exact times any n < 2^21); 1.5 * 2^52, whose
   addition rounds to an integer held in the low bits. */
#define IV_K32_LN2 46.16624130844683
#define IV_LN2_32_HI 0x1.62e42fee00000p-6
#define IV_LN2_32_LO 5.9631716539705866e-12
#define IV_ROUND_MAGIC 0x1.8p52

/* tanh within 1.6 ulp of the correctly rounded value (1.52 worst against
   long-double tanh on 4e7 random points; tested within 3 of R's
   tanh() in test-activations.R), at a fraction of libm's cost:
   * for |x| <= 0.625, Cephes' rational form x + x^3 P(x^2) / Q(x^2)
     (Moshier 1989);
   * else 1 - 2 / (e + 1), e = exp(2|x|), where the result is at least 0.55
     so the subtraction loses nothing. e is computed inline: y = 2|x|
     clamped to [0, 40] (above 40 the result is exactly 1; NaN becomes 40),
     y = (32 k + j) ln2 / 32 + r with |r| <= ln2 / 64 (Cody-Waite), exp(r)
     by its Taylor polynomial of degree 6 (truncation < 4e-18), times the
     table's 2^(j/32) and 2^k set in the exponent bits.
   Both forms are evaluated and one selected, with a single division and no
   branch: for inputs near |x| = 0.625 of either sign a branch is
   mispredicted half the time, which costs more than the form not used. NaN
   propagates through the rational form. iv_tanh4() below is the same
   computation on four lanes, with bit-identical results. */
static inline double iv_tanh(double x)
{
    double a = fabs(x), y = 2 * a;
    y = iv_select(y < 40, y, 40.0);
    double kd = y * IV_K32_LN2 + IV_ROUND_MAGIC;
    uint64_t n = iv_bits(kd) - iv_bits(IV_ROUND_MAGIC);
    double nd = kd - IV_ROUND_MAGIC;
    double r = (y - nd * IV_LN2_32_HI) - nd * IV_LN2_32_LO;
    double pe = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 +
                r * (1.0 / 120 + r * (1.0 / 720))))));
    double e = iv_exp2_32[n & 31] * pe * iv_double(((n >> 5) + 1023) << 52);
    double s = x * x;
    double p = (-9.64399179425052238628E-1 * s - 9.92877231001918586564E1) * s -
        1.61468768441708447952E3;
    double q = ((s + 1.12811678491632931402E2) * s + 2.23548839060100448583E3) * s +
        4.84406305325125486048E3;
    const int big = a > 0.625;
    double t = iv_select(big, 2.0, p) / iv_select(big, e + 1.0, q);
    double zb = iv_double(iv_bits(1.0 - t) | (iv_bits(x) & 0x8000000000000000ULL));
    double zs = x + x * s * t;
    return iv_select(big, zb, zs);
}

#if defined(__GNUC__)
/* Vectors with GCC's (and clang's) extensions: 2 lanes for the engine's
   row sums (SSE2 on x86-64, NEON on arm64), 4 for the tanh (AVX2 where the
   CPU has it, else lowered by the compiler to pairs of 2-lane operations).
   Lane by lane the arithmetic is that of the scalar code, so the results are
   the same bit for bit on every path. */
#define IV_HAVE_V2D 1
typedef double iv_v2d __attribute__((vector_size(16)));
typedef uint64_t iv_v2u __attribute__((vector_size(16)));
typedef double iv_v4d __attribute__((vector_size(32)));
typedef uint64_t iv_v4u __attribute__((vector_size(32)));

static inline iv_v2d iv_vsel(iv_v2u m, iv_v2d a, iv_v2d b)
{
    return (iv_v2d) (((iv_v2u) a & m) | ((iv_v2u) b & ~m));
}

#define IV_VSEL4(m, a, b) ((iv_v4d) (((iv_v4u) (a) & (m)) | ((iv_v4u) (b) & ~(m))))

/* iv_tanh() of in[0..3] + bias, as the engine's column form needs it: s into
   col (unless NULL), tanh(s) into z, 1 - tanh(s)^2 into dz (dz may be in;
   unless NULL).
   Vectors are loaded and stored with memcpy (no alignment needed) and are
   never passed by value. */
static inline __attribute__((always_inline))
void iv_tanh4(const double *in, double bias, double *col, double *z, double *dz)
{
    const iv_v4u sign = { 0x8000000000000000ULL, 0x8000000000000000ULL,
                          0x8000000000000000ULL, 0x8000000000000000ULL };
    const iv_v4d c40 = { 40.0, 40.0, 40.0, 40.0 };
    const iv_v4d magic = { IV_ROUND_MAGIC, IV_ROUND_MAGIC, IV_ROUND_MAGIC, IV_ROUND_MAGIC };
    const iv_v4d one = { 1.0, 1.0, 1.0, 1.0 }, two = { 2.0, 2.0, 2.0, 2.0 };
    const iv_v4d lim = { 0.625, 0.625, 0.625, 0.625 };
    iv_v4d x;
    memcpy(&x, in, sizeof x);
    x = x + bias;
    iv_v4d a = (iv_v4d) ((iv_v4u) x & ~sign), y = a + a;
    y = IV_VSEL4((iv_v4u) (y < c40), y, c40);
    iv_v4d kd = y * IV_K32_LN2 + magic;
    iv_v4u n = (iv_v4u) kd - (iv_v4u) magic;
    iv_v4d nd = kd - magic;
    iv_v4d r = (y - nd * IV_LN2_32_HI) - nd * IV_LN2_32_LO;
    iv_v4d pe = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 +
                r * (1.0 / 120 + r * (1.0 / 720))))));
    iv_v4d tab = { iv_exp2_32[n[0] & 31], iv_exp2_32[n[1] & 31],
                   iv_exp2_32[n[2] & 31], iv_exp2_32[n[3] & 31] };
    iv_v4d e = tab * pe * (iv_v4d) (((n >> 5) + 1023) << 52);
    iv_v4d s = x * x;
    iv_v4d p = (-9.64399179425052238628E-1 * s - 9.92877231001918586564E1) * s -
        1.61468768441708447952E3;
    iv_v4d q = ((s + 1.12811678491632931402E2) * s + 2.23548839060100448583E3) * s +
        4.84406305325125486048E3;
    iv_v4u big = (iv_v4u) (a > lim);
    iv_v4d t = IV_VSEL4(big, two, p) / IV_VSEL4(big, e + one, q);
    iv_v4d zb = (iv_v4d) ((iv_v4u) (one - t) | ((iv_v4u) x & sign));
    iv_v4d zs = x + x * s * t;
    iv_v4d zv = IV_VSEL4(big, zb, zs), dv = one - zv * zv;
    if (col) memcpy(col, &x, sizeof x);
    memcpy(z, &zv, sizeof zv);
    if (dz) memcpy(dz, &dv, sizeof dv);
}

#define IV_TANH_COLUMN_BODY                                                   \
    int b = 0;                                                                \
    for (; b + 4 <= n; b += 4)                                                \
        iv_tanh4(in + b, bias, col ? col + b : NULL, z + b, dz ? dz + b : NULL); \
    for (; b < n; b++) {                                                      \
        double sv = in[b] + bias, zv = iv_tanh(sv);                           \
        if (col) col[b] = sv;                                                 \
        z[b] = zv;                                                            \
        if (dz) dz[b] = 1 - zv * zv;                                          \
    }

/* not on Windows, where GCC may spill 32-byte vectors to a stack aligned to
   16 (GCC bug 54412) */
#if defined(__x86_64__) && !defined(_WIN32) && (defined(__clang__) || __GNUC__ >= 5)
#define IV_HAVE_AVX2 1
__attribute__((target("avx2"), unused)) IV_NONNULL(1, 4)
static void iv_tanh_column_avx2(const double *in, double bias, double *col, double *z,
                                double *dz, int n)
{
    IV_TANH_COLUMN_BODY
}
#endif
#endif

/* The engine's tanh of a column: s = in + bias into col (unless NULL),
   z = tanh(s) into z, f'(s) = 1 - z^2 into dz (dz may be in; NULL: not
   stored, for a caller that computes it from z when it needs it). Four values
   at a time with AVX2 where the CPU has it (target("avx2") only: no FMA, so
   the same roundings as the other paths). */
IV_NONNULL(1, 4)
static inline void iv_tanh_column(const double *in, double bias, double *col, double *z,
                                  double *dz, int n)
{
#ifdef IV_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        iv_tanh_column_avx2(in, bias, col, z, dz, n);
        return;
    }
#endif
#ifdef IV_HAVE_V2D
    IV_TANH_COLUMN_BODY
#else
    for (int b = 0; b < n; b++) {
        double sv = in[b] + bias, zv = iv_tanh(sv);
        if (col) col[b] = sv;
        z[b] = zv;
        if (dz) dz[b] = 1 - zv * zv;
    }
#endif
}

/* log(1 + e^s), without overflow or cancellation */
static inline double act_softplus(double s)
{
    return log1p(exp(-fabs(s))) + (s > 0 ? s : 0);
}

static inline double act_eval(int code, double a, double s, double *ds)
{
    double z, t;
    switch (code) {
    case ACT_TANH: z = iv_tanh(s); *ds = 1 - z * z; return z;
    case ACT_SIGMOID: z = 1 / (1 + exp(-s)); *ds = z * (1 - z); return z;
    case ACT_SOFTSIGN: t = 1 + fabs(s); *ds = 1 / (t * t); return s / t;
    case ACT_RELU: *ds = s > 0 ? 1 : 0; return s > 0 ? s : 0;
    case ACT_LEAKY: *ds = s > 0 ? 1 : a; return s > 0 ? s : a * s;
    case ACT_SELU:
        if (s > 0) { *ds = SELU_LAMBDA; return SELU_LAMBDA * s; }
        t = exp(s); *ds = SELU_LAMBDA * SELU_ALPHA * t;
        return SELU_LAMBDA * SELU_ALPHA * (t - 1);
    case ACT_SCALED_TANH:
        t = iv_tanh(2 * s / 3); *ds = 1.7159 * 2 / 3 * (1 - t * t); return 1.7159 * t;
    case ACT_ELU:
        if (s > 0) { *ds = 1; return s; }
        t = exp(s); *ds = a * t; return a * (t - 1);
    case ACT_GELU:
        /* Phi(s) = erfc(-s / sqrt 2) / 2: no cancellation for s << 0 */
        z = 0.5 * erfc(-s * ACT_SQRT1_2);
        *ds = z + s * ACT_INV_SQRT_2PI * exp(-0.5 * s * s);
        return s * z;
    case ACT_GELU_TANH: {
        /* 1 + tanh(u) = 2 sigma(2u), 1 - tanh(u)^2 = 4 sigma(2u) sigma(-2u) */
        double u2 = 2 * ACT_SQRT_2_PI * (s + 0.044715 * s * s * s);
        double p = 1 / (1 + exp(-u2)), q = 1 / (1 + exp(u2)), pq = p * q;
        *ds = p + (pq == 0 ? 0 : s * pq * 2 * ACT_SQRT_2_PI * (1 + 3 * 0.044715 * s * s));
        return s * p;
    }
    case ACT_SILU: {
        double p = 1 / (1 + exp(-s)), q = 1 / (1 + exp(s));
        *ds = p * (1 + s * q);
        return s * p;
    }
    case ACT_MISH: {
        double sp = act_softplus(s), e = exp(-2 * sp), p = 1 / (1 + exp(-s));
        t = iv_tanh(sp);
        *ds = t + s * 4 * e / ((1 + e) * (1 + e)) * p;
        return s * t;
    }
    default: *ds = 1; return s;
    }
}

#endif
