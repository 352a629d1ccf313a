/* Built-in activations and their derivatives (codes shared with R's
   activation_codes). */
#ifndef INITVAR_ACTIVATIONS_H
#define INITVAR_ACTIVATIONS_H

#include <math.h>

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

/* tanh within 1.5 ulp of the correctly rounded value (tested against R's
   tanh() and 50-digit values in test-activations.R), at about a quarter of
   the cost of libm's: for |x| <= 0.625 Cephes' rational form x + x^3
   P(x^2) / Q(x^2) (Moshier 1989), else 1 - 2 / (exp(2|x|) + 1), where the
   result is at least 0.55 so the subtraction loses nothing; exp(2|x|) =
   Inf gives exactly 1. NaN propagates. */
static inline double iv_tanh(double x)
{
    double a = fabs(x);
    if (a > 0.625) {
        double e = exp(2 * a);
        return copysign(1.0 - 2.0 / (e + 1.0), x);
    }
    double s = x * x;
    double p = (-9.64399179425052238628E-1 * s - 9.92877231001918586564E1) * s -
        1.61468768441708447952E3;
    double q = ((s + 1.12811678491632931402E2) * s + 2.23548839060100448583E3) * s +
        4.84406305325125486048E3;
    return x + x * s * (p / q);
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
