/* Built-in activations and their derivatives (codes shared with R's
   activation_codes). */
#ifndef INITVAR_ACTIVATIONS_H
#define INITVAR_ACTIVATIONS_H

#include <math.h>

enum { ACT_LINEAR = 0, ACT_TANH, ACT_SIGMOID, ACT_SOFTSIGN, ACT_RELU,
       ACT_LEAKY, ACT_SELU, ACT_SCALED_TANH, ACT_ELU, ACT_R };

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_LAMBDA 1.0507009873554804934193349852946

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
    default: *ds = 1; return s;
    }
}

#endif
