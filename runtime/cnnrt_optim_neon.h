/* cnnrt_optim_neon.h — NEON versions of the optimizer updates of cnnrt_optim.h (the mirror of
 * cnnrt_optim_avx2.h).
 *
 * Updates are bandwidth-bound (SGD-momentum streams 3 arrays, Adam 4 per element), so these
 * are plain 4-lane loops with the references' operation order; the n % 4 tail goes through the
 * reference. Multiply-adds are fused where the core has FMA (aarch64, VFPv4), so results can
 * differ from the reference by an ulp. Adam's square root and division: vsqrtq/vdivq on
 * aarch64; on ARMv7 (which has neither as a vector instruction) estimates refined by Newton
 * steps with a final residual correction (within 2 ulp of the correctly rounded value; sqrt(0)
 * is 0). Without NEON the functions are the references. */
#ifndef CNNRT_OPTIM_NEON_H
#define CNNRT_OPTIM_NEON_H

#include "cnnrt_optim.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h" /* cnnrt_neon_fma, cnnrt_neon_fms, cnnrt_neon_div */
#include <arm_neon.h>

/* sqrt(v) for v >= 0 (the second moment). */
static inline float32x4_t cnnrt_neon_sqrt(float32x4_t v) {
#if defined(__aarch64__)
  return vsqrtq_f32(v);
#else
  float32x4_t r = vrsqrteq_f32(v); /* 1/sqrt(v), 8 bits; +inf at 0 */
  r = vmulq_f32(r, vrsqrtsq_f32(vmulq_f32(v, r), r));
  r = vmulq_f32(r, vrsqrtsq_f32(vmulq_f32(v, r), r));
  r = vmulq_f32(r, vrsqrtsq_f32(vmulq_f32(v, r), r));
  float32x4_t s = vmulq_f32(v, r);
  /* s + (v - s^2) * r / 2: the residual correction */
  s = cnnrt_neon_fma(s, vmulq_f32(vdupq_n_f32(0.5f), r), cnnrt_neon_fms(v, s, s));
  /* v = 0 (and denormals flushed by the estimate): 0 * inf gave NaN */
  return vbslq_f32(vcgtq_f32(v, vdupq_n_f32(1e-30f)), s, vdupq_n_f32(0.0f));
#endif
}

static inline void cnnrt_f32_sgd_neon(const cnnrt_optim_params *p, int64_t n, float lr,
                                      float gscale, float *param, const float *grad,
                                      float *mom) {
  const float32x4_t vmu = vdupq_n_f32(p->momentum), vwd = vdupq_n_f32(p->weight_decay);
  const float32x4_t vlr = vdupq_n_f32(lr), vgs = vdupq_n_f32(gscale);
  const int has_mu = p->momentum != 0.0f, nesterov = p->nesterov != 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t w = vld1q_f32(param + i);
    float32x4_t g = cnnrt_neon_fma(vmulq_f32(vld1q_f32(grad + i), vgs), vwd, w);
    if (has_mu) {
      const float32x4_t buf = cnnrt_neon_fma(g, vmu, vld1q_f32(mom + i));
      vst1q_f32(mom + i, buf);
      g = nesterov ? cnnrt_neon_fma(g, vmu, buf) : buf;
    }
    vst1q_f32(param + i, cnnrt_neon_fms(w, vlr, g));
  }
  if (i < n) {
    cnnrt_f32_sgd_ref(p, n - i, lr, gscale, param + i, grad + i, mom ? mom + i : NULL);
  }
}

static inline void cnnrt_f32_adam_neon(const cnnrt_optim_params *p, const cnnrt_adam_consts *c,
                                       int64_t n, float gscale, float *param, const float *grad,
                                       float *m, float *v) {
  const float wd = p->kind == CNNRT_OPTIM_ADAM ? p->weight_decay : 0.0f;
  const float32x4_t b1 = vdupq_n_f32(p->beta1), b2 = vdupq_n_f32(p->beta2);
  const float32x4_t ob1 = vdupq_n_f32(p->one_minus_beta1);
  const float32x4_t ob2 = vdupq_n_f32(p->one_minus_beta2);
  const float32x4_t eps = vdupq_n_f32(p->eps), vwd = vdupq_n_f32(wd);
  const float32x4_t keep = vdupq_n_f32(c->decay_keep), step = vdupq_n_f32(c->step_size);
  const float32x4_t inv_bc2 = vdupq_n_f32(1.0f / c->bc2_sqrt), vgs = vdupq_n_f32(gscale);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t w = vmulq_f32(vld1q_f32(param + i), keep);
    const float32x4_t g = cnnrt_neon_fma(vmulq_f32(vld1q_f32(grad + i), vgs), vwd, w);
    const float32x4_t mi = cnnrt_neon_fma(vmulq_f32(ob1, g), b1, vld1q_f32(m + i));
    const float32x4_t vi =
        cnnrt_neon_fma(vmulq_f32(ob2, vmulq_f32(g, g)), b2, vld1q_f32(v + i));
    vst1q_f32(m + i, mi);
    vst1q_f32(v + i, vi);
    const float32x4_t denom = cnnrt_neon_fma(eps, cnnrt_neon_sqrt(vi), inv_bc2);
    vst1q_f32(param + i, cnnrt_neon_fms(w, step, cnnrt_neon_div(mi, denom)));
  }
  if (i < n) {
    cnnrt_f32_adam_ref(p, c, n - i, gscale, param + i, grad + i, m + i, v + i);
  }
}

/* Sum of squares in double (gradient clipping): aarch64 widens to float64x2 lanes; ARMv7 NEON
 * has no double lanes, so there it is the reference (VFP double multiply-adds). */
static inline double cnnrt_f32_sum_squares_neon(int64_t n, const float *x) {
#if defined(__aarch64__)
  float64x2_t acc0 = vdupq_n_f64(0.0), acc1 = vdupq_n_f64(0.0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    const float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
    acc0 = vfmaq_f64(acc0, lo, lo);
    acc1 = vfmaq_f64(acc1, hi, hi);
  }
  const float64x2_t acc = vaddq_f64(acc0, acc1);
  return vgetq_lane_f64(acc, 0) + vgetq_lane_f64(acc, 1) + cnnrt_f32_sum_squares_ref(n - i, x + i);
#else
  return cnnrt_f32_sum_squares_ref(n, x);
#endif
}

#else

static inline void cnnrt_f32_sgd_neon(const cnnrt_optim_params *p, int64_t n, float lr,
                                      float gscale, float *param, const float *grad,
                                      float *mom) {
  cnnrt_f32_sgd_ref(p, n, lr, gscale, param, grad, mom);
}
static inline void cnnrt_f32_adam_neon(const cnnrt_optim_params *p, const cnnrt_adam_consts *c,
                                       int64_t n, float gscale, float *param, const float *grad,
                                       float *m, float *v) {
  cnnrt_f32_adam_ref(p, c, n, gscale, param, grad, m, v);
}
static inline double cnnrt_f32_sum_squares_neon(int64_t n, const float *x) {
  return cnnrt_f32_sum_squares_ref(n, x);
}

#endif /* __ARM_NEON */

#endif /* CNNRT_OPTIM_NEON_H */
