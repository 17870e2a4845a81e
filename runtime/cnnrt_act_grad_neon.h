/* cnnrt_act_grad_neon.h — NEON versions of every activation gradient of cnnrt_act_grad.h (the
 * mirror of cnnrt_act_grad_avx2.h): Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid,
 * HardSwish, Tanh, Softplus, Softsign, Erf, Mish, ThresholdedRelu, Clip, Sqrt, Reciprocal, Exp,
 * Log, Abs. The n % 4 tail and builds without NEON run the reference. Same contract as
 * cnnrt_f32_act_grad (v is x or y as cnnrt_act_grad_uses_y says); boundaries (the comparisons)
 * are the reference's exactly, values within a few ulp: exp is cnnrt_f32_exp_neon_ps (Elu,
 * Selu, Celu, Erf, Mish) and sigmoid cnnrt_f32_sigmoid_neon_ps (Softplus); divisions are
 * cnnrt_neon_div (exact on aarch64, reciprocal steps on ARMv7); Mish uses the closed form of
 * the AVX2 file (one exp, one division). */
#ifndef CNNRT_ACT_GRAD_NEON_H
#define CNNRT_ACT_GRAD_NEON_H

#include "cnnrt_act_grad.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include <arm_neon.h>

/* Whether cnnrt_f32_act_grad_neon has a vector form of `kind`. */
static inline int cnnrt_act_grad_neon_has(int kind) {
  switch (kind) {
  case CNNRT_GRAD_RELU: case CNNRT_GRAD_LEAKY_RELU: case CNNRT_GRAD_ELU:
  case CNNRT_GRAD_SELU: case CNNRT_GRAD_CELU: case CNNRT_GRAD_SIGMOID:
  case CNNRT_GRAD_HARD_SIGMOID: case CNNRT_GRAD_HARD_SWISH: case CNNRT_GRAD_TANH:
  case CNNRT_GRAD_SOFTPLUS: case CNNRT_GRAD_SOFTSIGN: case CNNRT_GRAD_ERF:
  case CNNRT_GRAD_MISH: case CNNRT_GRAD_THRESHOLDED_RELU: case CNNRT_GRAD_CLIP:
  case CNNRT_GRAD_SQRT: case CNNRT_GRAD_RECIPROCAL: case CNNRT_GRAD_EXP:
  case CNNRT_GRAD_LOG: case CNNRT_GRAD_ABS:
    return 1;
  default:
    return 0;
  }
}

/* One vector of dx for `kind` (one of cnnrt_act_grad_neon_has's). */
static inline float32x4_t cnnrt_act_grad_neon_ps(int kind, float32x4_t va, float32x4_t vb,
                                                 float32x4_t v, float32x4_t g) {
  const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
  switch (kind) {
  case CNNRT_GRAD_RELU:
    return vbslq_f32(vcgtq_f32(v, zero), g, zero);
  case CNNRT_GRAD_LEAKY_RELU:
    return vbslq_f32(vcgtq_f32(v, zero), g, vmulq_f32(g, va));
  case CNNRT_GRAD_ELU:
    return vbslq_f32(vcgtq_f32(v, zero), g,
                     vmulq_f32(vmulq_f32(g, va), cnnrt_f32_exp_neon_ps(vminq_f32(v, zero))));
  case CNNRT_GRAD_SELU: { /* v > 0 ? g * gamma : g * gamma * alpha * exp(v) (gamma in beta) */
    const float32x4_t gb = vmulq_f32(g, vb);
    return vbslq_f32(vcgtq_f32(v, zero), gb,
                     vmulq_f32(vmulq_f32(gb, va), cnnrt_f32_exp_neon_ps(vminq_f32(v, zero))));
  }
  case CNNRT_GRAD_CELU: /* v > 0 ? g : g * exp(v / alpha) */
    return vbslq_f32(vcgtq_f32(v, zero), g,
                     vmulq_f32(g, cnnrt_f32_exp_neon_ps(vminq_f32(cnnrt_neon_div(v, va), zero))));
  case CNNRT_GRAD_SIGMOID:
    return vmulq_f32(vmulq_f32(g, v), vsubq_f32(one, v));
  case CNNRT_GRAD_SOFTPLUS: /* g * sigmoid(x) */
    return vmulq_f32(g, cnnrt_f32_sigmoid_neon_ps(v));
  case CNNRT_GRAD_SOFTSIGN: { /* g / (1 + |x|)^2 */
    const float32x4_t d = vaddq_f32(one, vabsq_f32(v));
    return cnnrt_neon_div(g, vmulq_f32(d, d));
  }
  case CNNRT_GRAD_ERF: /* g * 2/sqrt(pi) * exp(-x^2) */
    return vmulq_f32(vmulq_f32(g, vdupq_n_f32(1.12837916709551257f)),
                     cnnrt_f32_exp_neon_ps(vmulq_f32(vnegq_f32(v), v)));
  case CNNRT_GRAD_MISH: {
    /* The closed form of cnnrt_act_grad_avx2.h: e = e^min(x, 20), n = e (e + 2), d = n + 2,
     * f' = n / d + (4 x e (1 + e) / d) / d; above 20 the reference's 1 + x * 0 (NaN for
     * x = inf). */
    const float32x4_t two = vdupq_n_f32(2.0f);
    const float32x4_t e = cnnrt_f32_exp_neon_ps(vminq_f32(vdupq_n_f32(20.0f), v));
    const float32x4_t n = vmulq_f32(e, vaddq_f32(e, two));
    const float32x4_t r = cnnrt_neon_div(one, vaddq_f32(n, two));
    const float32x4_t u = vmulq_f32(vmulq_f32(vmulq_f32(vdupq_n_f32(4.0f), v), e),
                                    vmulq_f32(vaddq_f32(one, e), r));
    const float32x4_t d = cnnrt_neon_fma(vmulq_f32(n, r), u, r);
    const float32x4_t big = cnnrt_neon_fma(one, v, zero);
    return vmulq_f32(g, vbslq_f32(vcgtq_f32(v, vdupq_n_f32(20.0f)), big, d));
  }
  case CNNRT_GRAD_TANH:
    return vmulq_f32(g, cnnrt_neon_fms(one, v, v));
  case CNNRT_GRAD_HARD_SIGMOID: {
    const float32x4_t t = vaddq_f32(vmulq_f32(va, v), vb); /* unfused, as the reference */
    const uint32x4_t in = vandq_u32(vcgtq_f32(t, zero), vcltq_f32(t, one));
    return vbslq_f32(in, vmulq_f32(g, va), zero);
  }
  case CNNRT_GRAD_HARD_SWISH: {
    const float32x4_t mid =
        vmulq_f32(g, vaddq_f32(cnnrt_neon_div(v, vdupq_n_f32(3.0f)), vdupq_n_f32(0.5f)));
    const float32x4_t r = vbslq_f32(vcleq_f32(v, vdupq_n_f32(3.0f)), mid, g);
    return vbslq_f32(vcltq_f32(v, vdupq_n_f32(-3.0f)), zero, r);
  }
  case CNNRT_GRAD_CLIP:
    return vbslq_f32(vandq_u32(vcgtq_f32(v, va), vcltq_f32(v, vb)), g, zero);
  case CNNRT_GRAD_THRESHOLDED_RELU:
    return vbslq_f32(vcgtq_f32(v, va), g, zero);
  case CNNRT_GRAD_SQRT: /* g * 0.5 / y */
    return cnnrt_neon_div(vmulq_f32(g, vdupq_n_f32(0.5f)), v);
  case CNNRT_GRAD_EXP:
    return vmulq_f32(g, v);
  case CNNRT_GRAD_LOG: /* g / x */
    return cnnrt_neon_div(g, v);
  case CNNRT_GRAD_RECIPROCAL:
    return vnegq_f32(vmulq_f32(vmulq_f32(g, v), v));
  case CNNRT_GRAD_ABS:
    return vbslq_f32(vcgtq_f32(v, zero), g, vbslq_f32(vcltq_f32(v, zero), vnegq_f32(g), zero));
  default:
    return zero;
  }
}

static inline void cnnrt_f32_act_grad_neon(int kind, float alpha, float beta, int64_t n,
                                           const float *v, const float *dy, float *dx) {
  if (!cnnrt_act_grad_neon_has(kind)) {
    cnnrt_f32_act_grad_ref(kind, alpha, beta, n, v, dy, dx);
    return;
  }
  const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(dx + i, cnnrt_act_grad_neon_ps(kind, va, vb, vld1q_f32(v + i), vld1q_f32(dy + i)));
  }
  if (i < n) {
    cnnrt_f32_act_grad_ref(kind, alpha, beta, n - i, v + i, dy + i, dx + i);
  }
}

#else

static inline void cnnrt_f32_act_grad_neon(int kind, float alpha, float beta, int64_t n,
                                           const float *v, const float *dy, float *dx) {
  cnnrt_f32_act_grad_ref(kind, alpha, beta, n, v, dy, dx);
}

#endif /* __ARM_NEON */

#endif /* CNNRT_ACT_GRAD_NEON_H */
