/* cnnrt_act_avx2.h — vectorized (AVX2 + FMA) float32 activations, 8 lanes per __m256.
 *
 * Register functions  cnnrt_f32_<op>_avx2_ps(__m256): exp, sigmoid, tanh, erf, gelu, silu, mish,
 *                     hard_swish, and cnnrt_f32_act_avx2_ps: the conv/gemm epilogue
 *                     (cnnrt_apply_act semantics, enum cnnrt_act).
 * Array kernels       cnnrt_f32_<op>_avx2(int64_t n, const float *x, float *y) for relu, sigmoid,
 *                     tanh, erf, gelu, silu, mish, hard_swish, exp; cnnrt_f32_act_avx2 (any
 *                     enum cnnrt_act); cnnrt_f32_softmax_avx2 (last axis, inner = 1).
 *                     y may equal x (in place). The n % 8 tail is one masked vector through the
 *                     same code, so an element's result does not depend on its position.
 *
 * Accuracy, measured against double-precision libm on every 17th float bit pattern with
 * |x| <= 200 (1.3e8 points per function; tests/kernels/test_act_avx2.c checks a denser sweep of
 * [-100, 100], tiny magnitudes and the special values), as |got - want| / max(|want|, FLT_MIN),
 * i.e. relative, denormal results judged by absolute error against FLT_MIN (a denormal cannot
 * hold more relative precision):
 *   exp 1.2e-7, sigmoid 2.5e-7, tanh 1.8e-7, erf 1.7e-7, silu 2.9e-7, mish 3.3e-7,
 *   hard_swish 1.8e-7, gelu 1.9e-6 for x >= -5.6 (below: absolute error < 5e-8; see gelu).
 * Special values: exp overflows to +inf (x > 88.7228), underflows through the denormals to +0
 * (x < -103.97), exp(-inf) = 0, exp(+inf) = inf; NaN in gives NaN out for every function except
 * the epilogue's RELU (NaN -> 0, as cnnrt_apply_act). Signs of zero follow the function (tanh,
 * erf, silu, gelu, hard_swish keep -0). x*f(x) forms at x = -inf give NaN like the scalar
 * x * sigmoid(x) (silu, mish, gelu).
 *
 * exp: n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two so r is exact), e^r by the Cephes
 * expf polynomial (degree 7), 2^n applied as two factors 2^(n>>1) * 2^(n - n>>1) so that
 * results in the denormal range are rounded only once and no intermediate overflows. */
#ifndef CNNRT_ACT_AVX2_H
#define CNNRT_ACT_AVX2_H

#include "cnnrt.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* ---------------------------------------------------------------------------------------------
 * Building blocks.
 * ------------------------------------------------------------------------------------------- */

/* e^x = (p * s1) * s2 with p = e^r in [0.7, 1.42] and s1, s2 powers of two (s2 = 0 when x is
 * below the underflow limit). Callers that multiply e^x by another factor m apply it as
 * ((m * p) * s1) * s2: the only rounding into the denormal range is the last one, and
 * m * 0 for x -> -inf gives the NaN of m = inf that the scalar m * exp(x) would give. */
typedef struct cnnrt_f32_exp_parts_avx2 {
  __m256 p, s1, s2;
} cnnrt_f32_exp_parts_avx2;

/* x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2, for |x| up to 150: ln2 in two
 * parts, the first with few enough bits that n * hi is exact. */
static inline __m256 cnnrt_f32_exp_reduce_avx2_ps(__m256 x, __m256 *n) {
  *n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(0.693145751953125f), x); /* exact */
  return _mm256_fnmadd_ps(*n, _mm256_set1_ps(1.428606765330187e-06f), r);
}

/* Coefficients of e^r = 1 + r + r^2 q(r), q(r) = C5 + C4 r + ... + C0 r^5 (|r| <= ln2 / 2). */
#define CNNRT_EXP_C0 1.9875691500e-4f
#define CNNRT_EXP_C1 1.3981999507e-3f
#define CNNRT_EXP_C2 8.3334519073e-3f
#define CNNRT_EXP_C3 4.1665795894e-2f
#define CNNRT_EXP_C4 1.6666665459e-1f
#define CNNRT_EXP_C5 5.0000001201e-1f

static inline cnnrt_f32_exp_parts_avx2 cnnrt_f32_exp_split_avx2_ps(__m256 x) {
  cnnrt_f32_exp_parts_avx2 e;
  /* Clamp so that n stays in [-217, 145] (both halves of 2^n are normal floats). The low end
   * is far below exp's underflow (-103.97) so that m * e^x stays right for |m| up to ~1e20.
   * max/min with x as the second operand return x when it is NaN, so NaN flows through to p. */
  const __m256 lo = _mm256_set1_ps(-150.0f);
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(100.0f), _mm256_max_ps(lo, x));
  __m256 n;
  const __m256 r = cnnrt_f32_exp_reduce_avx2_ps(xc, &n);
  const __m256 z = _mm256_mul_ps(r, r);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(CNNRT_EXP_C0), r, _mm256_set1_ps(CNNRT_EXP_C1));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(CNNRT_EXP_C2));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(CNNRT_EXP_C3));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(CNNRT_EXP_C4));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(CNNRT_EXP_C5));
  e.p = _mm256_fmadd_ps(q, z, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  e.s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  e.s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  /* Below the clamp the result is 0 (e^-150 * 1e20 < FLT_TRUE_MIN / 2). */
  e.s2 = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), e.s2);
  return e;
}

/* 1/d to about 1 ulp for finite normal d: hardware estimate (12 bits) plus a Newton step. */
static inline __m256 cnnrt_f32_recip_avx2_ps(__m256 d) {
  const __m256 r = _mm256_rcp_ps(d);
  return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
}

static inline __m256 cnnrt_f32_abs_avx2_ps(__m256 x) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

/* ---------------------------------------------------------------------------------------------
 * Register functions.
 * ------------------------------------------------------------------------------------------- */

static inline __m256 cnnrt_f32_exp_avx2_ps(__m256 x) {
  const cnnrt_f32_exp_parts_avx2 e = cnnrt_f32_exp_split_avx2_ps(x);
  return _mm256_mul_ps(_mm256_mul_ps(e.p, e.s1), e.s2);
}

/* 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below, with e = e^-|x| in (0, 1] so the divisor
 * lies in [1, 2] and never overflows. */
static inline __m256 cnnrt_f32_sigmoid_avx2_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = cnnrt_f32_exp_avx2_ps(_mm256_or_ps(x, _mm256_set1_ps(-0.0f))); /* -|x| */
  const __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
  return _mm256_mul_ps(num, cnnrt_f32_recip_avx2_ps(_mm256_add_ps(one, e)));
}

/* x * sigmoid(x). For x < 0 the factor e^x is applied last (see exp_split) so that results in
 * the denormal range are rounded once. Any x; cnnrt_f32_silu_avx2_ps takes this path only for
 * vectors with a lane of |x| > 87 (or NaN). */
static inline __m256 cnnrt_f32_silu_any_avx2_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const cnnrt_f32_exp_parts_avx2 e =
      cnnrt_f32_exp_split_avx2_ps(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 ev = _mm256_mul_ps(_mm256_mul_ps(e.p, e.s1), e.s2); /* e^-|x| */
  const __m256 q = _mm256_mul_ps(x, cnnrt_f32_recip_avx2_ps(_mm256_add_ps(one, ev)));
  const __m256 neg = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(q, e.p), e.s1), e.s2);
  return _mm256_blendv_ps(neg, q, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}

/* x * sigmoid(x) for a vector whose lanes all have |x| <= 87, and otherwise the exact form
 * above. There x / (1 + e^-x) needs no sign split: e^-x lies in [2^-126, 2^126), one
 * power-of-two scale (no clamps, no split exponent), and 1 / (1 + e^-x) stays a normal float.
 * The polynomial is cnnrt_f32_exp_split_avx2_ps's, evaluated by Estrin's scheme (depth 3
 * instead of 5 dependent FMAs). Measured on Zen 3 (an L1-resident array): 0.78-0.84x the time
 * of the form with e^-|x| and a blend on the sign, which was 0.75x the exact form's; max
 * relative error 2.5e-7 against double over [-100, 100] (the test bound is 2e-6). */
static inline __m256 cnnrt_f32_silu_avx2_ps(__m256 x) {
  const __m256 ax = cnnrt_f32_abs_avx2_ps(x);
  if (_mm256_movemask_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(87.0f), _CMP_LE_OQ)) != 0xff) {
    return cnnrt_f32_silu_any_avx2_ps(x);
  }
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 a = _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); /* -x in [-87, 87] */
  __m256 n;
  const __m256 r = cnnrt_f32_exp_reduce_avx2_ps(a, &n);
  const __m256 z = _mm256_mul_ps(r, r);
  const __m256 c01 =
      _mm256_fmadd_ps(_mm256_set1_ps(CNNRT_EXP_C4), r, _mm256_set1_ps(CNNRT_EXP_C5));
  const __m256 c23 =
      _mm256_fmadd_ps(_mm256_set1_ps(CNNRT_EXP_C2), r, _mm256_set1_ps(CNNRT_EXP_C3));
  const __m256 c45 =
      _mm256_fmadd_ps(_mm256_set1_ps(CNNRT_EXP_C0), r, _mm256_set1_ps(CNNRT_EXP_C1));
  const __m256 q = _mm256_fmadd_ps(_mm256_fmadd_ps(c45, z, c23), z, c01);
  const __m256 p = _mm256_fmadd_ps(q, z, _mm256_add_ps(r, one)); /* e^r */
  const __m256 scale = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  const __m256 t = _mm256_mul_ps(p, scale); /* e^-x */
  return _mm256_mul_ps(x, cnnrt_f32_recip_avx2_ps(_mm256_add_ps(one, t)));
}

/* tanh on |x| with the sign put back (keeps -0): |x| < 0.625 odd polynomial (Cephes tanhf),
 * else 1 - 2 / (e^{2|x|} + 1) with |x| clamped to 9, past which tanh rounds to 1. */
static inline __m256 cnnrt_f32_tanh_avx2_ps(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 ax = cnnrt_f32_abs_avx2_ps(x);
  const __m256 z = _mm256_mul_ps(ax, ax);
  __m256 ps = _mm256_fmadd_ps(_mm256_set1_ps(-5.70498872745e-3f), z,
                              _mm256_set1_ps(2.06390887954e-2f));
  ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(-5.37397155531e-2f));
  ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(1.33314422036e-1f));
  ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 ys = _mm256_fmadd_ps(_mm256_mul_ps(ps, z), ax, ax);
  const __m256 m = _mm256_min_ps(_mm256_set1_ps(9.0f), ax); /* NaN passes */
  const __m256 e = cnnrt_f32_exp_avx2_ps(_mm256_add_ps(m, m));
  const __m256 r = cnnrt_f32_recip_avx2_ps(_mm256_add_ps(e, _mm256_set1_ps(1.0f)));
  const __m256 yl = _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), r, _mm256_set1_ps(1.0f));
  const __m256 y = _mm256_blendv_ps(yl, ys, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  return _mm256_or_ps(y, sign);
}

/* erf on a = |x|: a < 1: a * P(a^2) (degree 5, relative fit 4e-8); 1 <= a: 1 - e^Q(a), Q a
 * degree-8 fit of log(erfc(a)) on [1, 4] (absolute 1.2e-8) in u = a - 2.5; erfc = 0 past 4
 * (erf rounds to 1 from 3.92 on). Returns the small-branch value, erfc(a) and the branch mask,
 * from which erf and GELU's 1 + erf are built without cancellation. x_lo is a low-order part
 * of the argument (x + x_lo), used by GELU whose x / sqrt 2 is not exact in float: erfc's
 * relative sensitivity 2a * da would otherwise cost up to 2e-6 near a = 4. */
typedef struct cnnrt_f32_erf_parts_avx2 {
  __m256 small_val, erfc_val, is_small, sign;
} cnnrt_f32_erf_parts_avx2;

static inline cnnrt_f32_erf_parts_avx2 cnnrt_f32_erf_split_avx2_ps(__m256 x, __m256 x_lo) {
  cnnrt_f32_erf_parts_avx2 r;
  const __m256 four = _mm256_set1_ps(4.0f);
  const __m256 a = cnnrt_f32_abs_avx2_ps(x);
  r.sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 z = _mm256_mul_ps(a, a);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(-0.000563142064f), z, _mm256_set1_ps(0.00491755083f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-0.0267113112f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.112801798f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-0.37612325f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.12837911f));
  r.small_val = _mm256_mul_ps(a, p);
  const __m256 a_lo = _mm256_xor_ps(x_lo, r.sign); /* the low part of |x| */
  /* u = min(a, 4) - 2.5 (+ the low part); min with a second lets NaN pass */
  const __m256 u =
      _mm256_add_ps(_mm256_sub_ps(_mm256_min_ps(four, a), _mm256_set1_ps(2.5f)), a_lo);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(1.59981755e-06f), u, _mm256_set1_ps(-1.33017083e-05f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(7.74549262e-05f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.000420173135f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(0.00216508145f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.0108584873f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.943893611f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-5.35268068f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-7.80681515f));
  r.erfc_val = _mm256_andnot_ps(_mm256_cmp_ps(a, four, _CMP_GT_OQ), cnnrt_f32_exp_avx2_ps(q));
  r.is_small = _mm256_cmp_ps(a, _mm256_set1_ps(1.0f), _CMP_LT_OQ); /* false for NaN */
  return r;
}

static inline __m256 cnnrt_f32_erf_avx2_ps(__m256 x) {
  const cnnrt_f32_erf_parts_avx2 r = cnnrt_f32_erf_split_avx2_ps(x, _mm256_setzero_ps());
  const __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), r.erfc_val);
  return _mm256_or_ps(_mm256_blendv_ps(big, r.small_val, r.is_small), r.sign);
}

/* Exact (erf) GELU: 0.5 * x * (1 + erf(x / sqrt 2)). 1 + erf(v) is taken as erfc(|v|) for
 * v <= -1, so the left tail keeps ~2e-6 relative accuracy (limited by the float evaluation of
 * log erfc ~ -17 there) down to x = -5.6, where erfc(4) = 1.5e-8; further left the result is
 * -0 (true |gelu| < 4.4e-8 there). */
static inline __m256 cnnrt_f32_gelu_avx2_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  /* v + v_lo = x / sqrt 2 to ~2^-48 relative: c_hi = float(1/sqrt 2), c_lo = the rest */
  const __m256 c_hi = _mm256_set1_ps(0.70710678118654752f);
  const __m256 v = _mm256_mul_ps(x, c_hi);
  const __m256 v_lo =
      _mm256_fmadd_ps(x, _mm256_set1_ps(1.2101617e-08f), _mm256_fmsub_ps(x, c_hi, v));
  const cnnrt_f32_erf_parts_avx2 r = cnnrt_f32_erf_split_avx2_ps(v, v_lo);
  const __m256 g_small = _mm256_add_ps(one, _mm256_or_ps(r.small_val, r.sign));
  const __m256 g_big = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), r.erfc_val),
                                        r.erfc_val, r.sign); /* sign lane: v < 0 (or -0) */
  const __m256 g = _mm256_blendv_ps(g_big, g_small, r.is_small);
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), g);
}

/* x * tanh(softplus(x)) = x * n / (n + 2) with n = e(e + 2), e = e^x (exact identity
 * tanh(log(1 + e)) = ((1+e)^2 - 1) / ((1+e)^2 + 1)). Written as (x (e+2) / (n+2)) * e with e's
 * scale applied last (denormal results rounded once). Past x = 20 the ratio is 1 in float. */
static inline __m256 cnnrt_f32_mish_avx2_ps(__m256 x) {
  const __m256 two = _mm256_set1_ps(2.0f);
  const cnnrt_f32_exp_parts_avx2 e =
      cnnrt_f32_exp_split_avx2_ps(_mm256_min_ps(_mm256_set1_ps(20.0f), x)); /* NaN passes */
  const __m256 ev = _mm256_mul_ps(_mm256_mul_ps(e.p, e.s1), e.s2);
  const __m256 ep2 = _mm256_add_ps(ev, two);
  const __m256 n = _mm256_mul_ps(ev, ep2);
  const __m256 ratio = _mm256_mul_ps(ep2, cnnrt_f32_recip_avx2_ps(_mm256_add_ps(n, two)));
  const __m256 q = _mm256_mul_ps(x, ratio);
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(q, e.p), e.s1), e.s2);
  /* from 20 on the result is x (the detour through e^20 could round FLT_MAX up to inf) */
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, _mm256_set1_ps(20.0f), _CMP_GT_OQ));
}

/* x * HardSigmoid(x, 1/6, 1/2) = x * clamp((x + 3) / 6, 0, 1). (x + 3) * (1/6) rather than
 * x / 6 + 1/2: the sum is exact near the zero at x = -3, where x / 6 + 1/2 cancels, so the
 * result keeps ~1e-7 relative accuracy everywhere. Clamps written so that NaN passes (as the
 * scalar kernels). */
static inline __m256 cnnrt_f32_hard_swish_avx2_ps(__m256 x) {
  __m256 t = _mm256_mul_ps(_mm256_add_ps(x, _mm256_set1_ps(3.0f)), _mm256_set1_ps(1.0f / 6.0f));
  t = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
  return _mm256_mul_ps(x, t);
}

/* The epilogue activation with cnnrt_apply_act's semantics, including its NaN behaviour (RELU
 * maps NaN to 0, the others propagate it) and CLIP with alpha > beta (v < alpha ? alpha : beta).
 * Differences: HARD_SWISH computes v/6 + 1/2 as (v + 3) * (1/6) (more accurate near v = -3, not
 * bit-identical); SIGMOID, SILU and TANH use the approximations above (~2e-7 relative).
 * `act` is usually a compile-time constant after inlining; otherwise the switch is a
 * well-predicted branch per vector. */
static inline __m256 cnnrt_f32_act_avx2_ps(int64_t act, __m256 alpha, __m256 beta, __m256 v) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (act) {
  case CNNRT_ACT_RELU: /* v > 0 ? v : 0 */
    return _mm256_max_ps(v, zero);
  case CNNRT_ACT_LEAKY_RELU: /* v >= 0 ? v : alpha * v */
    return _mm256_blendv_ps(_mm256_mul_ps(alpha, v), v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
  case CNNRT_ACT_CLIP: /* v < alpha ? alpha : (v > beta ? beta : v) */
    return _mm256_blendv_ps(_mm256_min_ps(beta, v), alpha, _mm256_cmp_ps(v, alpha, _CMP_LT_OQ));
  case CNNRT_ACT_SIGMOID:
    return cnnrt_f32_sigmoid_avx2_ps(v);
  case CNNRT_ACT_HARD_SIGMOID: { /* t < 0 ? 0 : (t > 1 ? 1 : t) */
    const __m256 t = _mm256_fmadd_ps(alpha, v, beta);
    return _mm256_max_ps(zero, _mm256_min_ps(one, t));
  }
  case CNNRT_ACT_HARD_SWISH: { /* same clamp order as HARD_SIGMOID */
    __m256 t = _mm256_mul_ps(_mm256_add_ps(v, _mm256_set1_ps(3.0f)), _mm256_set1_ps(1.0f / 6.0f));
    t = _mm256_max_ps(zero, _mm256_min_ps(one, t));
    return _mm256_mul_ps(v, t);
  }
  case CNNRT_ACT_SILU:
    return cnnrt_f32_silu_avx2_ps(v);
  case CNNRT_ACT_TANH:
    return cnnrt_f32_tanh_avx2_ps(v);
  default:
    return v;
  }
}

/* ---------------------------------------------------------------------------------------------
 * Array kernels: y[i] = f(x[i]), i < n; y may equal x.
 * ------------------------------------------------------------------------------------------- */

/* Elements n8..n-1 as one masked vector (masked-off lanes read as 0 and are not stored). */
#define CNNRT_ACT_AVX2_TAIL(n, x, y, EXPR)                                                         \
  do {                                                                                           \
    const int64_t n8_ = (n) & ~(int64_t)7;                                                       \
    if (n8_ < (n)) {                                                                             \
      const __m256i m_ = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((n) - n8_)),                 \
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));          \
      const __m256 v = _mm256_maskload_ps((x) + n8_, m_);                                        \
      _mm256_maskstore_ps((y) + n8_, m_, (EXPR));                                                \
    }                                                                                            \
  } while (0)

/* Two vectors per iteration: the approximations are latency chains of ~20 fmas, and two
 * independent chains keep both FMA pipes busy even before out-of-order overlap. */
#define CNNRT_ACT_AVX2_ARRAY(name, EXPR)                                                           \
  static inline void cnnrt_f32_##name##_avx2(int64_t n, const float *x, float *y) {              \
    int64_t i = 0;                                                                               \
    for (; i + 16 <= n; i += 16) {                                                               \
      const __m256 v0 = _mm256_loadu_ps(x + i);                                                  \
      const __m256 v1 = _mm256_loadu_ps(x + i + 8);                                              \
      __m256 v = v0;                                                                             \
      const __m256 r0 = (EXPR);                                                                  \
      v = v1;                                                                                    \
      const __m256 r1 = (EXPR);                                                                  \
      _mm256_storeu_ps(y + i, r0);                                                               \
      _mm256_storeu_ps(y + i + 8, r1);                                                           \
    }                                                                                            \
    for (; i + 8 <= n; i += 8) {                                                                 \
      const __m256 v = _mm256_loadu_ps(x + i);                                                   \
      _mm256_storeu_ps(y + i, (EXPR));                                                           \
    }                                                                                            \
    CNNRT_ACT_AVX2_TAIL(n, x, y, (EXPR));                                                        \
  }

/* Relu as the standalone op (cnnrt_f32_relu in cnnrt_elementwise.h): x < 0 ? 0 : x, NaN and -0
 * pass through. (The epilogue's RELU follows cnnrt_apply_act instead: NaN -> 0.) */
CNNRT_ACT_AVX2_ARRAY(relu, _mm256_max_ps(_mm256_setzero_ps(), v))
CNNRT_ACT_AVX2_ARRAY(sigmoid, cnnrt_f32_sigmoid_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(tanh, cnnrt_f32_tanh_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(erf, cnnrt_f32_erf_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(gelu, cnnrt_f32_gelu_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(silu, cnnrt_f32_silu_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(mish, cnnrt_f32_mish_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(hard_swish, cnnrt_f32_hard_swish_avx2_ps(v))
CNNRT_ACT_AVX2_ARRAY(exp, cnnrt_f32_exp_avx2_ps(v))

/* ---------------------------------------------------------------------------------------------
 * AVX-512 forms of sigmoid and SiLU (16 lanes), used by cnnrt_f32_act_avx2 (the conv / GEMM /
 * depthwise epilogue) when built with __AVX512F__ (and not -DCNNRT_NO_AVX512): EfficientNet
 * applies SiLU to every expanded activation, and at 8 lanes it cost as much as the 1x1
 * convolution producing it. Same formulas as the AVX2 forms above, but e^t is a shorter
 * polynomial scaled by vscalefps (see below) and the reciprocal starts from the 14-bit
 * estimate, so results may differ from the AVX2 ones in the last bits (both < 1e-6).
 * ------------------------------------------------------------------------------------------- */
#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_ACT_AVX512 1

/* e^-|x| as the pair (p, n): e^-|x| = p * 2^n with p = e^r in [0.7, 1.42] (degree-5 minimax
 * polynomial on |r| <= ln2/2, 1.7e-7 relative; 2e-6 is the tests' bound) and n an integer-valued
 * float. The power of two is applied by vscalefps, which rounds once, into the denormals too, so
 * callers that multiply e^-|x| by a factor m apply it as scalef(m * p, n). No exponent-field
 * arithmetic: n is -|x| / ln 2 rounded, unclamped (-inf for infinite x, and scalef(m, -inf) is 0
 * for finite m and NaN for infinite m, which is the scalar m * exp(-inf)); the polynomial's
 * argument is clamped to -150 (n to -216) so that r stays small, e^-150 * m underflowing for
 * |m| < 1e20 whatever p is. NaN x gives NaN p and n. About half the instructions of the AVX2
 * form, which is what the conv / depthwise SiLU epilogue pays per 16 outputs. */
typedef struct cnnrt_f32_exp_parts_avx512 {
  __m512 p, n;
} cnnrt_f32_exp_parts_avx512;

/* -|x| (sign bit set; integer form: _mm512_or_ps needs AVX512DQ) */
static inline __m512 cnnrt_f32_neg_abs_avx512_ps(__m512 x) {
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int32_t)0x80000000u)));
}

static inline cnnrt_f32_exp_parts_avx512 cnnrt_f32_exp_neg_abs_avx512_ps(__m512 x) {
  cnnrt_f32_exp_parts_avx512 e;
  const __m512 a = cnnrt_f32_neg_abs_avx512_ps(x);
  e.n = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  /* max returns its second operand when either is NaN: NaN flows through */
  const __m512 t = _mm512_max_ps(_mm512_set1_ps(-150.0f), a);
  const __m512 np = _mm512_max_ps(_mm512_set1_ps(-216.0f), e.n); /* = round(t / ln 2) */
  __m512 r = _mm512_fnmadd_ps(np, _mm512_set1_ps(0.693145751953125f), t); /* exact */
  r = _mm512_fnmadd_ps(np, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(8.290315047e-03f), r, _mm512_set1_ps(4.189793020e-02f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.666763574e-01f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(4.999915063e-01f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(9.999997020e-01f));
  e.p = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f));
  return e;
}

static inline __m512 cnnrt_f32_recip_avx512_ps(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

/* 1 / (1 + e^-|x|) for x >= 0, e^-|x| / (1 + e^-|x|) below (the power of two applied last). */
static inline __m512 cnnrt_f32_sigmoid_avx512_ps(__m512 x) {
  const cnnrt_f32_exp_parts_avx512 ep = cnnrt_f32_exp_neg_abs_avx512_ps(x);
  const __m512 rc =
      cnnrt_f32_recip_avx512_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_scalef_ps(ep.p, ep.n)));
  const __m512 neg = _mm512_scalef_ps(_mm512_mul_ps(ep.p, rc), ep.n);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), neg, rc);
}

/* x / (1 + e^-|x|) for x >= 0, x e^-|x| / (1 + e^-|x|) below (the power of two applied last, so
 * results in the denormal range are rounded once; x = -inf gives scalef(-inf, -inf) = NaN, the
 * scalar x * sigmoid(x) = -inf * 0). */
static inline __m512 cnnrt_f32_silu_avx512_ps(__m512 x) {
  const cnnrt_f32_exp_parts_avx512 ep = cnnrt_f32_exp_neg_abs_avx512_ps(x);
  const __m512 rc =
      cnnrt_f32_recip_avx512_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_scalef_ps(ep.p, ep.n)));
  const __m512 q = _mm512_mul_ps(x, rc);
  const __m512 neg = _mm512_scalef_ps(_mm512_mul_ps(q, ep.p), ep.n);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), neg, q);
}

/* y[0..n) = FN(x[0..n)) in vectors of 16, the tail as one masked vector (same code for every
 * element, nothing read or written past n). */
#define CNNRT_ACT_AVX512_CASE(ACT, FN)                                                             \
  case ACT:                                                                                      \
    for (; i + 16 <= n; i += 16) {                                                               \
      _mm512_storeu_ps(y + i, FN(_mm512_loadu_ps(x + i)));                                       \
    }                                                                                            \
    if (i < n) {                                                                                 \
      const __mmask16 m_ = (__mmask16)((1u << (n - i)) - 1u);                                    \
      _mm512_mask_storeu_ps(y + i, m_, FN(_mm512_maskz_loadu_ps(m_, x + i)));                    \
    }                                                                                            \
    break;
#endif /* __AVX512F__ && !CNNRT_NO_AVX512 */


/* y = act(x) for any enum cnnrt_act (epilogue semantics, see cnnrt_f32_act_avx2_ps); the
 * producers' activation pass. The switch is outside the loops: each case is a loop over the
 * inlined register function with a compile-time act. */
#define CNNRT_ACT_AVX2_CASE(ACT)                                                                   \
  case ACT:                                                                                      \
    for (; i + 8 <= n; i += 8) {                                                                 \
      _mm256_storeu_ps(y + i, cnnrt_f32_act_avx2_ps(ACT, va, vb, _mm256_loadu_ps(x + i)));       \
    }                                                                                            \
    CNNRT_ACT_AVX2_TAIL(n, x, y, cnnrt_f32_act_avx2_ps(ACT, va, vb, v));                         \
    break;

static inline void cnnrt_f32_act_avx2(int64_t act, float alpha, float beta, int64_t n,
                                      const float *x, float *y) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  int64_t i = 0;
  switch (act) {
#if defined(CNNRT_ACT_AVX512)
    CNNRT_ACT_AVX512_CASE(CNNRT_ACT_SIGMOID, cnnrt_f32_sigmoid_avx512_ps)
    CNNRT_ACT_AVX512_CASE(CNNRT_ACT_SILU, cnnrt_f32_silu_avx512_ps)
#else
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_SIGMOID)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_SILU)
#endif
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_RELU)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_LEAKY_RELU)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_CLIP)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_HARD_SIGMOID)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_HARD_SWISH)
    CNNRT_ACT_AVX2_CASE(CNNRT_ACT_TANH)
  default: /* NONE (and unknown values): identity */
    if (y != x) {
      memmove(y, x, (size_t)n * sizeof(float));
    }
    break;
  }
}

static inline float cnnrt_f32_hmax_avx2_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

static inline float cnnrt_f32_hsum_avx2_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Softmax over the last axis of x[outer][axis_len] (ONNX Softmax with inner = 1):
 * y = exp(x - max) / sum, as cnnrt_f32_softmax_ref. A NaN anywhere in a row, or +inf, makes the
 * row NaN (through the sum), as numpy; a row of -inf gives NaN (-inf - -inf). The sum is kept
 * in float over 8 (x 2) lanes, then scaled by one reciprocal: relative error ~1e-7 * log2(len).
 * y may equal x. Three passes over the row: max, exp + sum (stores e), scale. */
static inline void cnnrt_f32_softmax_avx2(int64_t outer, int64_t axis_len, const float *x,
                                          float *y) {
  const int64_t n8 = axis_len & ~(int64_t)7;
  const int64_t rem = axis_len - n8;
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * axis_len;
    float *yr = y + o * axis_len;
    float tail[8];
    if (rem > 0) { /* the tail padded with -inf, which contributes e = 0 */
      for (int64_t j = 0; j < 8; j++) {
        tail[j] = j < rem ? xr[n8 + j] : -INFINITY;
      }
    }
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (int64_t a = 0; a < n8; a += 8) {
      mv = _mm256_max_ps(mv, _mm256_loadu_ps(xr + a));
    }
    if (rem > 0) {
      mv = _mm256_max_ps(mv, _mm256_loadu_ps(tail));
    }
    const __m256 mx = _mm256_set1_ps(cnnrt_f32_hmax_avx2_ps(mv));
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t a = 0;
    for (; a + 16 <= n8; a += 16) {
      const __m256 e0 = cnnrt_f32_exp_avx2_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + a), mx));
      const __m256 e1 = cnnrt_f32_exp_avx2_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + a + 8), mx));
      _mm256_storeu_ps(yr + a, e0);
      _mm256_storeu_ps(yr + a + 8, e1);
      s0 = _mm256_add_ps(s0, e0);
      s1 = _mm256_add_ps(s1, e1);
    }
    for (; a < n8; a += 8) {
      const __m256 e0 = cnnrt_f32_exp_avx2_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + a), mx));
      _mm256_storeu_ps(yr + a, e0);
      s0 = _mm256_add_ps(s0, e0);
    }
    if (rem > 0) {
      /* Padding lanes give exp(-inf - max) = 0, or NaN only when a real lane is NaN too (max
       * = -inf means the whole row is -inf). */
      const __m256 e0 = cnnrt_f32_exp_avx2_ps(_mm256_sub_ps(_mm256_loadu_ps(tail), mx));
      _mm256_storeu_ps(tail, e0);
      s0 = _mm256_add_ps(s0, e0);
      memcpy(yr + n8, tail, (size_t)rem * sizeof(float));
    }
    const __m256 inv = _mm256_set1_ps(1.0f / cnnrt_f32_hsum_avx2_ps(_mm256_add_ps(s0, s1)));
    for (a = 0; a < n8; a += 8) {
      _mm256_storeu_ps(yr + a, _mm256_mul_ps(_mm256_loadu_ps(yr + a), inv));
    }
    for (a = n8; a < axis_len; a++) {
      yr[a] = yr[a] * _mm256_cvtss_f32(inv);
    }
  }
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_ACT_AVX2_H */
