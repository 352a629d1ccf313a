/* Built-in activations and their derivatives (codes shared with R's
   activation_codes). */
#ifndef INITVAR_ACTIVATIONS_H
#define INITVAR_ACTIVATIONS_H

#include <math.h>

/* New codes go before ACT_R, which stays last (the R functions). */
enum { ACT_LINEAR = 0, ACT_TANH, ACT_SIGMOID, ACT_SOFTSIGN, ACT_RELU,
       ACT_LEAKY, ACT_SELU, ACT_SCALED_TANH, ACT_ELU, ACT_GELU, ACT_GELU_TANH,
       ACT_SILU, ACT_MISH, ACT_R };

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_LAMBDA 1.0507009873554804934193349852946
#define ACT_SQRT_2_PI 0.79788456080286535587989211986876   /* sqrt(2 / pi) */
#define ACT_INV_SQRT_2PI 0.39894228040143267793994605993438 /* 1 / sqrt(2 pi) */
#define ACT_SQRT1_2 0.70710678118654752440084436210485     /* 1 / sqrt(2) */

/* log(1 + e^s), without overflow or cancellation */
static inline double act_softplus(double s)
{
    return log1p(exp(-fabs(s))) + (s > 0 ? s : 0);
}

static inline double act_eval(int code, double a, double s, double *ds)
{
    double z, t;
    switch (code) {
    case ACT_TANH: z = tanh(s); *ds = 1 - z * z; return z;
    case ACT_SIGMOID: z = 1 / (1 + exp(-s)); *ds = z * (1 - z); return z;
    case ACT_SOFTSIGN: t = 1 + fabs(s); *ds = 1 / (t * t); return s / t;
    case ACT_RELU: *ds = s > 0 ? 1 : 0; return s > 0 ? s : 0;
    case ACT_LEAKY: *ds = s > 0 ? 1 : a; return s > 0 ? s : a * s;
    case ACT_SELU:
        if (s > 0) { *ds = SELU_LAMBDA; return SELU_LAMBDA * s; }
        t = exp(s); *ds = SELU_LAMBDA * SELU_ALPHA * t;
        return SELU_LAMBDA * SELU_ALPHA * (t - 1);
    case ACT_SCALED_TANH:
        t = tanh(2 * s / 3); *ds = 1.7159 * 2 / 3 * (1 - t * t); return 1.7159 * t;
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
        t = tanh(sp);
        *ds = t + s * 4 * e / ((1 + e) * (1 + e)) * p;
        return s * t;
    }
    default: *ds = 1; return s;
    }
}

#endif
