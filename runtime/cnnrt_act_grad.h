/* cnnrt_act_grad.h — gradients of the elementwise activations (float32).
 *
 * dx[i] = dy[i] * f'(.) with f' written from the forward input x or, where that is cheaper and
 * exact, the forward output y (Relu, Sigmoid, Tanh, Sqrt, Reciprocal, Exp): the autodiff pass
 * passes whichever the rule needs and NULL for the other. Boundaries follow PyTorch (Relu and
 * Clip pass no gradient at the threshold itself). */
#ifndef CNNRT_ACT_GRAD_H
#define CNNRT_ACT_GRAD_H

#include "cnnrt.h"

enum cnnrt_act_grad {
  CNNRT_GRAD_RELU = 0,     /* y */
  CNNRT_GRAD_LEAKY_RELU,   /* x, alpha */
  CNNRT_GRAD_ELU,          /* x, alpha */
  CNNRT_GRAD_SELU,         /* x, alpha, gamma (beta) */
  CNNRT_GRAD_CELU,         /* x, alpha */
  CNNRT_GRAD_SIGMOID,      /* y */
  CNNRT_GRAD_HARD_SIGMOID, /* x, alpha, beta */
  CNNRT_GRAD_HARD_SWISH,   /* x */
  CNNRT_GRAD_TANH,         /* y */
  CNNRT_GRAD_SOFTPLUS,     /* x */
  CNNRT_GRAD_SOFTSIGN,     /* x */
  CNNRT_GRAD_ERF,          /* x */
  CNNRT_GRAD_MISH,         /* x */
  CNNRT_GRAD_THRESHOLDED_RELU, /* x, alpha */
  CNNRT_GRAD_CLIP,         /* x, alpha = min, beta = max */
  CNNRT_GRAD_SQRT,         /* y */
  CNNRT_GRAD_RECIPROCAL,   /* y */
  CNNRT_GRAD_EXP,          /* y */
  CNNRT_GRAD_LOG,          /* x */
  CNNRT_GRAD_ABS,          /* x */
  CNNRT_GRAD_COUNT
};

/* Whether the gradient of `kind` reads the forward output y (else the input x). */
static inline int cnnrt_act_grad_uses_y(int kind) {
  return kind == CNNRT_GRAD_RELU || kind == CNNRT_GRAD_SIGMOID || kind == CNNRT_GRAD_TANH ||
         kind == CNNRT_GRAD_SQRT || kind == CNNRT_GRAD_RECIPROCAL || kind == CNNRT_GRAD_EXP;
}

static inline float cnnrt_act_grad_elem(int kind, float alpha, float beta, float v, float g) {
  switch (kind) {
  case CNNRT_GRAD_RELU: return v > 0.0f ? g : 0.0f;
  case CNNRT_GRAD_LEAKY_RELU: return v > 0.0f ? g : g * alpha;
  case CNNRT_GRAD_ELU: return v > 0.0f ? g : g * alpha * expf(v);
  case CNNRT_GRAD_SELU: return v > 0.0f ? g * beta : g * beta * alpha * expf(v);
  case CNNRT_GRAD_CELU: return v > 0.0f ? g : g * expf(v / alpha);
  case CNNRT_GRAD_SIGMOID: return g * v * (1.0f - v);
  case CNNRT_GRAD_HARD_SIGMOID: {
    const float t = alpha * v + beta;
    return t > 0.0f && t < 1.0f ? g * alpha : 0.0f;
  }
  case CNNRT_GRAD_HARD_SWISH:
    return v < -3.0f ? 0.0f : (v <= 3.0f ? g * (v / 3.0f + 0.5f) : g);
  case CNNRT_GRAD_TANH: return g * (1.0f - v * v);
  case CNNRT_GRAD_SOFTPLUS: return g / (1.0f + expf(-v));
  case CNNRT_GRAD_SOFTSIGN: {
    const float d = 1.0f + fabsf(v);
    return g / (d * d);
  }
  case CNNRT_GRAD_ERF: return g * 1.12837916709551257f * expf(-v * v);
  case CNNRT_GRAD_MISH: {
    const float sp = v > 20.0f ? v : log1pf(expf(v));
    const float t = tanhf(sp);
    const float sg = 1.0f / (1.0f + expf(-v));
    return g * (t + v * sg * (1.0f - t * t));
  }
  case CNNRT_GRAD_THRESHOLDED_RELU: return v > alpha ? g : 0.0f;
  case CNNRT_GRAD_CLIP: return v > alpha && v < beta ? g : 0.0f;
  case CNNRT_GRAD_SQRT: return g * 0.5f / v;
  case CNNRT_GRAD_RECIPROCAL: return -g * v * v;
  case CNNRT_GRAD_EXP: return g * v;
  case CNNRT_GRAD_LOG: return g / v;
  case CNNRT_GRAD_ABS: return v > 0.0f ? g : (v < 0.0f ? -g : 0.0f);
  default: return 0.0f;
  }
}

/* v is x or y as cnnrt_act_grad_uses_y(kind) says. */
static inline void cnnrt_f32_act_grad_ref(int kind, float alpha, float beta, int64_t n,
                                          const float *v, const float *dy, float *dx) {
  for (int64_t i = 0; i < n; i++) {
    dx[i] = cnnrt_act_grad_elem(kind, alpha, beta, v[i], dy[i]);
  }
}

/* Entry point of generated code (vectorized forms may take over; same contract). */
static inline void cnnrt_f32_act_grad(int kind, float alpha, float beta, int64_t n,
                                      const float *v, const float *dy, float *dx) {
  cnnrt_f32_act_grad_ref(kind, alpha, beta, n, v, dy, dx);
}

#endif /* CNNRT_ACT_GRAD_H */
