/* cnnrt_act_neon.h — vectorized float32 activations and softmax for ARM NEON (aarch64 ASIMD and
 * ARMv7 NEON), 4 lanes per float32x4_t. The NEON counterpart of cnnrt_act_avx2.h: the same
 * approximations (Cephes expf polynomial, tanh/erf fits, exact-identity mish), the same
 * special-value behaviour, so the accuracy figures there (~1e-7..3e-7 relative) hold here too.
 *
 * Register functions  cnnrt_f32_<op>_neon_ps(float32x4_t): exp, sigmoid, tanh, erf, silu, mish,
 *                     hard_swish, and cnnrt_f32_act_neon_ps: the conv/gemm epilogue
 *                     (cnnrt_apply_act semantics, enum cnnrt_act).
 * Array kernels       cnnrt_f32_<op>_neon(int64_t n, const float *x, float *y) for relu, sigmoid,
 *                     tanh, erf, silu, mish, hard_swish, exp; cnnrt_f32_softmax_neon (last axis).
 *                     y may equal x. The n % 4 tail goes through the same vector code (copied
 *                     into a padded vector), so an element's result does not depend on its
 *                     position.
 *
 * Differences between the two ARM profiles, handled here:
 *  - multiply-add: fused (vfmaq_f32) on aarch64 and where VFPv4 is present (__ARM_FEATURE_FMA),
 *    else VMLA (multiply then add, one extra rounding: still within the accuracy above);
 *  - division: vdivq_f32 on aarch64; on ARMv7 the reciprocal estimate plus two Newton steps;
 *  - rounding to nearest integer: the 1.5 * 2^23 trick (exact for |v| < 2^22; v is clamped);
 *  - ARMv7 NEON flushes denormals to zero, so results below FLT_MIN there are 0 (absolute
 *    error < FLT_MIN).
 * max/min: NEON's vmaxq/vminq return NaN when either operand is NaN, so NaN flows through every
 * clamp as in the AVX2 code; where the scalar semantics map NaN elsewhere (the epilogue's
 * RELU: NaN -> 0) a compare-and-select is used instead.
 *
 * Everything is compiled only when __ARM_NEON is defined; otherwise this header declares
 * nothing (the generated code then calls the portable kernels). */
#ifndef CNNRT_ACT_NEON_H
#define CNNRT_ACT_NEON_H

#include "cnnrt.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

/* ---------------------------------------------------------------------------------------------
 * Building blocks shared by the NEON kernels.
 * ------------------------------------------------------------------------------------------- */

#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
#define CNNRT_NEON_FUSED 1
#endif

/* acc + a * b */
static inline float32x4_t cnnrt_neon_fma(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(CNNRT_NEON_FUSED)
  return vfmaq_f32(acc, a, b);
#else
  return vmlaq_f32(acc, a, b);
#endif
}

/* acc - a * b */
static inline float32x4_t cnnrt_neon_fms(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(CNNRT_NEON_FUSED)
  return vfmsq_f32(acc, a, b);
#else
  return vmlsq_f32(acc, a, b);
#endif
}

static inline float32x4_t cnnrt_neon_dup(float v) { return vdupq_n_f32(v); }

/* mask ? a : b */
static inline float32x4_t cnnrt_neon_select(uint32x4_t mask, float32x4_t a, float32x4_t b) {
  return vbslq_f32(mask, a, b);
}

static inline float32x4_t cnnrt_neon_or(float32x4_t a, float32x4_t b) {
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}

static inline float32x4_t cnnrt_neon_and_mask(float32x4_t a, uint32x4_t m) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), m));
}

/* the sign bit of x (as a float with only that bit) */
static inline float32x4_t cnnrt_neon_sign(float32x4_t x) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u)));
}

/* n / d */
static inline float32x4_t cnnrt_neon_div(float32x4_t n, float32x4_t d) {
#if defined(__aarch64__)
  return vdivq_f32(n, d);
#else
  float32x4_t r = vrecpeq_f32(d);
  r = vmulq_f32(r, vrecpsq_f32(d, r));
  r = vmulq_f32(r, vrecpsq_f32(d, r));
  /* one more correction on the quotient: q + r (n - d q) */
  const float32x4_t q = vmulq_f32(n, r);
  return cnnrt_neon_fma(q, r, cnnrt_neon_fms(n, d, q));
#endif
}

/* v rounded to the nearest integer (ties to even) as a float, for |v| < 2^22. NaN stays NaN. */
static inline float32x4_t cnnrt_neon_round(float32x4_t v) {
#if defined(__aarch64__)
  return vrndnq_f32(v);
#else
  const float32x4_t magic = vdupq_n_f32(12582912.0f); /* 1.5 * 2^23 */
  return vsubq_f32(vaddq_f32(v, magic), magic);
#endif
}

static inline float cnnrt_neon_hsum(float32x4_t v) {
#if defined(__aarch64__)
  return vaddvq_f32(v);
#else
  const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(s, s), 0);
#endif
}

static inline float cnnrt_neon_hmax(float32x4_t v) {
#if defined(__aarch64__)
  return vmaxvq_f32(v);
#else
  const float32x2_t s = vmax_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpmax_f32(s, s), 0);
#endif
}

/* e^x = (p * s1) * s2, as cnnrt_f32_exp_split_avx2_ps (see there and cnnrt_act_avx2.h). */
typedef struct cnnrt_f32_exp_parts_neon {
  float32x4_t p, s1, s2;
} cnnrt_f32_exp_parts_neon;

static inline cnnrt_f32_exp_parts_neon cnnrt_f32_exp_split_neon_ps(float32x4_t x) {
  cnnrt_f32_exp_parts_neon e;
  const float32x4_t lo = vdupq_n_f32(-150.0f);
  const float32x4_t xc = vminq_f32(vdupq_n_f32(100.0f), vmaxq_f32(lo, x)); /* NaN passes */
  const float32x4_t n = cnnrt_neon_round(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = cnnrt_neon_fms(xc, n, vdupq_n_f32(0.693145751953125f)); /* exact */
  r = cnnrt_neon_fms(r, n, vdupq_n_f32(1.428606765330187e-06f));
  const float32x4_t z = vmulq_f32(r, r);
  float32x4_t q = cnnrt_neon_fma(vdupq_n_f32(1.3981999507e-3f), vdupq_n_f32(1.9875691500e-4f), r);
  q = cnnrt_neon_fma(vdupq_n_f32(8.3334519073e-3f), q, r);
  q = cnnrt_neon_fma(vdupq_n_f32(4.1665795894e-2f), q, r);
  q = cnnrt_neon_fma(vdupq_n_f32(1.6666665459e-1f), q, r);
  q = cnnrt_neon_fma(vdupq_n_f32(5.0000001201e-1f), q, r);
  e.p = cnnrt_neon_fma(vaddq_f32(r, vdupq_n_f32(1.0f)), q, z);
  const int32x4_t ni = vcvtq_s32_f32(n); /* n is integral: truncation is exact (NaN -> 0) */
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  e.s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  e.s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  /* below the clamp the result is 0 */
  e.s2 = cnnrt_neon_select(vcltq_f32(x, lo), vdupq_n_f32(0.0f), e.s2);
  return e;
}

/* ---------------------------------------------------------------------------------------------
 * Register functions (same formulas as the AVX2 ones; comments there).
 * ------------------------------------------------------------------------------------------- */

static inline float32x4_t cnnrt_f32_exp_neon_ps(float32x4_t x) {
  const cnnrt_f32_exp_parts_neon e = cnnrt_f32_exp_split_neon_ps(x);
  return vmulq_f32(vmulq_f32(e.p, e.s1), e.s2);
}

static inline float32x4_t cnnrt_f32_neg_abs_neon_ps(float32x4_t x) {
  return cnnrt_neon_or(x, vdupq_n_f32(-0.0f));
}

static inline float32x4_t cnnrt_f32_sigmoid_neon_ps(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t e = cnnrt_f32_exp_neon_ps(cnnrt_f32_neg_abs_neon_ps(x));
  const float32x4_t num = cnnrt_neon_select(vcgeq_f32(x, vdupq_n_f32(0.0f)), one, e);
  return cnnrt_neon_div(num, vaddq_f32(one, e));
}

static inline float32x4_t cnnrt_f32_silu_neon_ps(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const cnnrt_f32_exp_parts_neon e = cnnrt_f32_exp_split_neon_ps(cnnrt_f32_neg_abs_neon_ps(x));
  const float32x4_t ev = vmulq_f32(vmulq_f32(e.p, e.s1), e.s2);
  const float32x4_t q = cnnrt_neon_div(x, vaddq_f32(one, ev));
  const float32x4_t neg = vmulq_f32(vmulq_f32(vmulq_f32(q, e.p), e.s1), e.s2);
  return cnnrt_neon_select(vcgeq_f32(x, vdupq_n_f32(0.0f)), q, neg);
}

static inline float32x4_t cnnrt_f32_tanh_neon_ps(float32x4_t x) {
  const float32x4_t sign = cnnrt_neon_sign(x);
  const float32x4_t ax = vabsq_f32(x);
  const float32x4_t z = vmulq_f32(ax, ax);
  float32x4_t ps = cnnrt_neon_fma(vdupq_n_f32(2.06390887954e-2f), vdupq_n_f32(-5.70498872745e-3f), z);
  ps = cnnrt_neon_fma(vdupq_n_f32(-5.37397155531e-2f), ps, z);
  ps = cnnrt_neon_fma(vdupq_n_f32(1.33314422036e-1f), ps, z);
  ps = cnnrt_neon_fma(vdupq_n_f32(-3.33332819422e-1f), ps, z);
  const float32x4_t ys = cnnrt_neon_fma(ax, vmulq_f32(ps, z), ax);
  const float32x4_t m = vminq_f32(vdupq_n_f32(9.0f), ax); /* NaN passes */
  const float32x4_t e = cnnrt_f32_exp_neon_ps(vaddq_f32(m, m));
  const float32x4_t r = cnnrt_neon_div(vdupq_n_f32(2.0f), vaddq_f32(e, vdupq_n_f32(1.0f)));
  const float32x4_t yl = vsubq_f32(vdupq_n_f32(1.0f), r);
  const float32x4_t y = cnnrt_neon_select(vcltq_f32(ax, vdupq_n_f32(0.625f)), ys, yl);
  /* NaN: both compares are false, yl is NaN */
  return cnnrt_neon_or(y, sign);
}

static inline float32x4_t cnnrt_f32_erf_neon_ps(float32x4_t x) {
  const float32x4_t four = vdupq_n_f32(4.0f);
  const float32x4_t a = vabsq_f32(x);
  const float32x4_t sign = cnnrt_neon_sign(x);
  const float32x4_t z = vmulq_f32(a, a);
  float32x4_t p = cnnrt_neon_fma(vdupq_n_f32(0.00491755083f), vdupq_n_f32(-0.000563142064f), z);
  p = cnnrt_neon_fma(vdupq_n_f32(-0.0267113112f), p, z);
  p = cnnrt_neon_fma(vdupq_n_f32(0.112801798f), p, z);
  p = cnnrt_neon_fma(vdupq_n_f32(-0.37612325f), p, z);
  p = cnnrt_neon_fma(vdupq_n_f32(1.12837911f), p, z);
  const float32x4_t small_val = vmulq_f32(a, p);
  const float32x4_t u = vsubq_f32(vminq_f32(four, a), vdupq_n_f32(2.5f));
  float32x4_t q = cnnrt_neon_fma(vdupq_n_f32(-1.33017083e-05f), vdupq_n_f32(1.59981755e-06f), u);
  q = cnnrt_neon_fma(vdupq_n_f32(7.74549262e-05f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(-0.000420173135f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(0.00216508145f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(-0.0108584873f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(-0.943893611f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(-5.35268068f), q, u);
  q = cnnrt_neon_fma(vdupq_n_f32(-7.80681515f), q, u);
  const float32x4_t erfc_val =
      cnnrt_neon_select(vcgtq_f32(a, four), vdupq_n_f32(0.0f), cnnrt_f32_exp_neon_ps(q));
  const float32x4_t big = vsubq_f32(vdupq_n_f32(1.0f), erfc_val);
  const float32x4_t y = cnnrt_neon_select(vcltq_f32(a, vdupq_n_f32(1.0f)), small_val, big);
  return cnnrt_neon_or(y, sign);
}

static inline float32x4_t cnnrt_f32_mish_neon_ps(float32x4_t x) {
  const float32x4_t two = vdupq_n_f32(2.0f);
  const cnnrt_f32_exp_parts_neon e = cnnrt_f32_exp_split_neon_ps(vminq_f32(vdupq_n_f32(20.0f), x));
  const float32x4_t ev = vmulq_f32(vmulq_f32(e.p, e.s1), e.s2);
  const float32x4_t ep2 = vaddq_f32(ev, two);
  const float32x4_t n = vmulq_f32(ev, ep2);
  const float32x4_t q = cnnrt_neon_div(vmulq_f32(x, ep2), vaddq_f32(n, two));
  const float32x4_t y = vmulq_f32(vmulq_f32(vmulq_f32(q, e.p), e.s1), e.s2);
  return cnnrt_neon_select(vcgtq_f32(x, vdupq_n_f32(20.0f)), x, y);
}

static inline float32x4_t cnnrt_f32_hard_swish_neon_ps(float32x4_t x) {
  float32x4_t t = vmulq_f32(vaddq_f32(x, vdupq_n_f32(3.0f)), vdupq_n_f32(1.0f / 6.0f));
  t = vminq_f32(vdupq_n_f32(1.0f), vmaxq_f32(vdupq_n_f32(0.0f), t));
  return vmulq_f32(x, t);
}

/* The epilogue activation with cnnrt_apply_act's semantics (NaN included: RELU maps NaN to 0,
 * the others propagate it). As cnnrt_f32_act_avx2_ps: HARD_SWISH as (v + 3) / 6, SIGMOID, SILU
 * and TANH through the approximations above. */
static inline float32x4_t cnnrt_f32_act_neon_ps(int64_t act, float32x4_t alpha, float32x4_t beta,
                                                float32x4_t v) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const float32x4_t one = vdupq_n_f32(1.0f);
  switch (act) {
  case CNNRT_ACT_RELU: /* v > 0 ? v : 0 */
    return cnnrt_neon_select(vcgtq_f32(v, zero), v, zero);
  case CNNRT_ACT_LEAKY_RELU: /* v >= 0 ? v : alpha * v */
    return cnnrt_neon_select(vcgeq_f32(v, zero), v, vmulq_f32(alpha, v));
  case CNNRT_ACT_CLIP: /* v < alpha ? alpha : (v > beta ? beta : v) */
    return cnnrt_neon_select(vcltq_f32(v, alpha), alpha,
                             cnnrt_neon_select(vcgtq_f32(v, beta), beta, v));
  case CNNRT_ACT_SIGMOID:
    return cnnrt_f32_sigmoid_neon_ps(v);
  case CNNRT_ACT_HARD_SIGMOID: { /* t < 0 ? 0 : (t > 1 ? 1 : t) */
    const float32x4_t t = cnnrt_neon_fma(beta, alpha, v);
    return cnnrt_neon_select(vcltq_f32(t, zero), zero, cnnrt_neon_select(vcgtq_f32(t, one), one, t));
  }
  case CNNRT_ACT_HARD_SWISH: {
    const float32x4_t t = vmulq_f32(vaddq_f32(v, vdupq_n_f32(3.0f)), vdupq_n_f32(1.0f / 6.0f));
    const float32x4_t c =
        cnnrt_neon_select(vcltq_f32(t, zero), zero, cnnrt_neon_select(vcgtq_f32(t, one), one, t));
    return vmulq_f32(v, c);
  }
  case CNNRT_ACT_SILU:
    return cnnrt_f32_silu_neon_ps(v);
  case CNNRT_ACT_TANH:
    return cnnrt_f32_tanh_neon_ps(v);
  default:
    return v;
  }
}

/* ---------------------------------------------------------------------------------------------
 * Array kernels: y[i] = f(x[i]), i < n; y may equal x.
 * ------------------------------------------------------------------------------------------- */

/* Two vectors per iteration (two independent latency chains); the tail padded with zeros. */
#define CNNRT_ACT_NEON_ARRAY(name, EXPR)                                                           \
  static inline void cnnrt_f32_##name##_neon(int64_t n, const float *x, float *y) {              \
    int64_t i = 0;                                                                               \
    for (; i + 8 <= n; i += 8) {                                                                 \
      float32x4_t v = vld1q_f32(x + i);                                                          \
      const float32x4_t r0 = (EXPR);                                                             \
      v = vld1q_f32(x + i + 4);                                                                  \
      const float32x4_t r1 = (EXPR);                                                             \
      vst1q_f32(y + i, r0);                                                                      \
      vst1q_f32(y + i + 4, r1);                                                                  \
    }                                                                                            \
    for (; i + 4 <= n; i += 4) {                                                                 \
      const float32x4_t v = vld1q_f32(x + i);                                                    \
      vst1q_f32(y + i, (EXPR));                                                                  \
    }                                                                                            \
    if (i < n) {                                                                                 \
      float t_[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                                    \
      memcpy(t_, x + i, (size_t)(n - i) * sizeof(float));                                        \
      const float32x4_t v = vld1q_f32(t_);                                                       \
      vst1q_f32(t_, (EXPR));                                                                     \
      memcpy(y + i, t_, (size_t)(n - i) * sizeof(float));                                        \
    }                                                                                            \
  }

/* Relu as the standalone op: x < 0 ? 0 : x (NaN and -0 pass through). */
CNNRT_ACT_NEON_ARRAY(relu, cnnrt_neon_select(vcltq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), v))
CNNRT_ACT_NEON_ARRAY(sigmoid, cnnrt_f32_sigmoid_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(tanh, cnnrt_f32_tanh_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(erf, cnnrt_f32_erf_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(silu, cnnrt_f32_silu_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(mish, cnnrt_f32_mish_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(hard_swish, cnnrt_f32_hard_swish_neon_ps(v))
CNNRT_ACT_NEON_ARRAY(exp, cnnrt_f32_exp_neon_ps(v))

/* y = act(x) for any enum cnnrt_act (epilogue semantics). */
static inline void cnnrt_f32_act_neon(int64_t act, float alpha, float beta, int64_t n,
                                      const float *x, float *y) {
  const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(y + i, cnnrt_f32_act_neon_ps(act, va, vb, vld1q_f32(x + i)));
  }
  for (; i < n; i++) {
    y[i] = cnnrt_apply_act((int)act, alpha, beta, x[i]);
  }
}

/* Softmax over the last axis of x[outer][axis_len] (inner = 1), as cnnrt_f32_softmax_avx2:
 * max, exp + sum (stores e), scale by one reciprocal. The tail is padded with -inf (e = 0). */
static inline void cnnrt_f32_softmax_neon(int64_t outer, int64_t axis_len, const float *x,
                                          float *y) {
  const int64_t n4 = axis_len & ~(int64_t)3;
  const int64_t rem = axis_len - n4;
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * axis_len;
    float *yr = y + o * axis_len;
    float tail[4];
    for (int64_t j = 0; j < 4; j++) {
      tail[j] = j < rem ? xr[n4 + j] : -INFINITY;
    }
    float32x4_t mv = vdupq_n_f32(-INFINITY);
    for (int64_t a = 0; a < n4; a += 4) {
      mv = vmaxq_f32(mv, vld1q_f32(xr + a));
    }
    if (rem > 0) {
      mv = vmaxq_f32(mv, vld1q_f32(tail));
    }
    const float32x4_t mx = vdupq_n_f32(cnnrt_neon_hmax(mv));
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int64_t a = 0;
    for (; a + 8 <= n4; a += 8) {
      const float32x4_t e0 = cnnrt_f32_exp_neon_ps(vsubq_f32(vld1q_f32(xr + a), mx));
      const float32x4_t e1 = cnnrt_f32_exp_neon_ps(vsubq_f32(vld1q_f32(xr + a + 4), mx));
      vst1q_f32(yr + a, e0);
      vst1q_f32(yr + a + 4, e1);
      s0 = vaddq_f32(s0, e0);
      s1 = vaddq_f32(s1, e1);
    }
    for (; a < n4; a += 4) {
      const float32x4_t e0 = cnnrt_f32_exp_neon_ps(vsubq_f32(vld1q_f32(xr + a), mx));
      vst1q_f32(yr + a, e0);
      s0 = vaddq_f32(s0, e0);
    }
    if (rem > 0) {
      const float32x4_t e0 = cnnrt_f32_exp_neon_ps(vsubq_f32(vld1q_f32(tail), mx));
      vst1q_f32(tail, e0);
      s0 = vaddq_f32(s0, e0);
      memcpy(yr + n4, tail, (size_t)rem * sizeof(float));
    }
    const float inv_s = 1.0f / cnnrt_neon_hsum(vaddq_f32(s0, s1));
    const float32x4_t inv = vdupq_n_f32(inv_s);
    for (a = 0; a < n4; a += 4) {
      vst1q_f32(yr + a, vmulq_f32(vld1q_f32(yr + a), inv));
    }
    for (a = n4; a < axis_len; a++) {
      yr[a] = yr[a] * inv_s;
    }
  }
}

#endif /* __ARM_NEON */
#endif /* CNNRT_ACT_NEON_H */
