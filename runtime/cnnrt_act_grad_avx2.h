/* cnnrt_act_grad_avx2.h — AVX2/FMA forms of the activation gradients of cnnrt_act_grad.h:
 * dx[i] = dy[i] * f'(v[i]), v being the forward input or output as cnnrt_act_grad_uses_y says.
 *
 * Same contract and the same comparisons as the scalar cnnrt_act_grad_elem (so the boundary
 * and NaN behaviour is identical: ordered compares, false for NaN). Kinds without
 * transcendental functions (ReLU, LeakyReLU, ThresholdedReLU, Clip, HardSigmoid, HardSwish,
 * Sigmoid, Tanh, Softsign, Sqrt, Reciprocal, Exp, Log, Abs) evaluate the scalar expression
 * in the same order without fused multiply-adds, so they give the scalar result; ELU, SELU, CELU, Erf and Softplus use the
 * exp/sigmoid approximations of cnnrt_act_avx2.h (~2e-7 relative). Mish uses one exp and one
 * reciprocal through the closed form below (~1e-6 of the terms it adds; see the MISH case).
 * The n % 8 tail is one masked vector through the same code. Empty without AVX2+FMA. */
#ifndef CNNRT_ACT_GRAD_AVX2_H
#define CNNRT_ACT_GRAD_AVX2_H

#include "cnnrt.h"
#include "cnnrt_act_avx2.h"
#include "cnnrt_act_grad.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* One vector of dx from v and g = dy. `kind` is a constant at every call site below, so the
 * switch folds away after inlining. */
static inline __m256 cnnrt_f32_act_grad_avx2_ps(int kind, __m256 alpha, __m256 beta, __m256 v,
                                                __m256 g) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (kind) {
  case CNNRT_GRAD_RELU: /* v > 0 ? g : 0 */
    return _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ), g);
  case CNNRT_GRAD_LEAKY_RELU: /* v > 0 ? g : g * alpha */
    return _mm256_blendv_ps(_mm256_mul_ps(g, alpha), g, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  case CNNRT_GRAD_ELU: /* v > 0 ? g : g * alpha * exp(v) */
    return _mm256_blendv_ps(
        _mm256_mul_ps(_mm256_mul_ps(g, alpha), cnnrt_f32_exp_avx2_ps(_mm256_min_ps(zero, v))), g,
        _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  case CNNRT_GRAD_SELU: { /* v > 0 ? g * gamma : g * gamma * alpha * exp(v) (gamma in beta) */
    const __m256 gb = _mm256_mul_ps(g, beta);
    return _mm256_blendv_ps(
        _mm256_mul_ps(_mm256_mul_ps(gb, alpha), cnnrt_f32_exp_avx2_ps(_mm256_min_ps(zero, v))),
        gb, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  }
  case CNNRT_GRAD_CELU: /* v > 0 ? g : g * exp(v / alpha) */
    return _mm256_blendv_ps(
        _mm256_mul_ps(g, cnnrt_f32_exp_avx2_ps(_mm256_min_ps(zero, _mm256_div_ps(v, alpha)))), g,
        _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  case CNNRT_GRAD_SIGMOID: /* g * y * (1 - y) */
    return _mm256_mul_ps(_mm256_mul_ps(g, v), _mm256_sub_ps(one, v));
  case CNNRT_GRAD_HARD_SIGMOID: { /* 0 < alpha v + beta < 1 ? g * alpha : 0 */
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(alpha, v), beta); /* unfused, as the scalar */
    const __m256 in = _mm256_and_ps(_mm256_cmp_ps(t, zero, _CMP_GT_OQ),
                                    _mm256_cmp_ps(t, one, _CMP_LT_OQ));
    return _mm256_and_ps(in, _mm256_mul_ps(g, alpha));
  }
  case CNNRT_GRAD_HARD_SWISH: { /* v < -3 ? 0 : (v <= 3 ? g * (v / 3 + 1/2) : g) */
    const __m256 mid = _mm256_mul_ps(
        g, _mm256_add_ps(_mm256_div_ps(v, _mm256_set1_ps(3.0f)), _mm256_set1_ps(0.5f)));
    const __m256 r = _mm256_blendv_ps(g, mid, _mm256_cmp_ps(v, _mm256_set1_ps(3.0f), _CMP_LE_OQ));
    /* the scalar's v < -3 is false for NaN, and v <= 3 too: NaN gives g */
    return _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-3.0f), _CMP_LT_OQ), r);
  }
  case CNNRT_GRAD_TANH: /* g * (1 - y^2), unfused as the scalar (1 - y^2 cancels near |y| = 1) */
    return _mm256_mul_ps(g, _mm256_sub_ps(one, _mm256_mul_ps(v, v)));
  case CNNRT_GRAD_SOFTPLUS: /* g * sigmoid(x) */
    return _mm256_mul_ps(g, cnnrt_f32_sigmoid_avx2_ps(v));
  case CNNRT_GRAD_SOFTSIGN: { /* g / (1 + |x|)^2 */
    const __m256 d = _mm256_add_ps(one, cnnrt_f32_abs_avx2_ps(v));
    return _mm256_div_ps(g, _mm256_mul_ps(d, d));
  }
  case CNNRT_GRAD_ERF: /* g * 2/sqrt(pi) * exp(-x^2) */
    return _mm256_mul_ps(_mm256_mul_ps(g, _mm256_set1_ps(1.12837916709551257f)),
                         cnnrt_f32_exp_avx2_ps(_mm256_mul_ps(_mm256_xor_ps(v, _mm256_set1_ps(-0.0f)), v)));
  case CNNRT_GRAD_MISH: {
    /* f' = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), sp = softplus(x). With e = e^x,
     * n = e (e + 2), d = n + 2: tanh(sp) = n / d and sigmoid(x) (1 - tanh^2) = 4 e (1 + e) / d^2
     * (as (1 + e)^2 = n + 1), so f' = n / d + (4 x e (1 + e) / d) / d. x is capped at 20 for
     * e (d^2 stays finite); above 20 the scalar's tanh is 1 and its f' is 1 + x * 0 (NaN for
     * x = inf, as here). */
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 e = cnnrt_f32_exp_avx2_ps(_mm256_min_ps(_mm256_set1_ps(20.0f), v)); /* NaN passes */
    const __m256 n = _mm256_mul_ps(e, _mm256_add_ps(e, two));
    const __m256 r = cnnrt_f32_recip_avx2_ps(_mm256_add_ps(n, two));
    const __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(4.0f), v), e),
                                   _mm256_mul_ps(_mm256_add_ps(one, e), r));
    const __m256 d = _mm256_fmadd_ps(u, r, _mm256_mul_ps(n, r));
    const __m256 big = _mm256_fmadd_ps(v, zero, one);
    return _mm256_mul_ps(g, _mm256_blendv_ps(d, big, _mm256_cmp_ps(v, _mm256_set1_ps(20.0f), _CMP_GT_OQ)));
  }
  case CNNRT_GRAD_THRESHOLDED_RELU: /* v > alpha ? g : 0 */
    return _mm256_and_ps(_mm256_cmp_ps(v, alpha, _CMP_GT_OQ), g);
  case CNNRT_GRAD_CLIP: /* alpha < v < beta ? g : 0 */
    return _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(v, alpha, _CMP_GT_OQ),
                                       _mm256_cmp_ps(v, beta, _CMP_LT_OQ)),
                         g);
  case CNNRT_GRAD_SQRT: /* g * 0.5 / y */
    return _mm256_div_ps(_mm256_mul_ps(g, _mm256_set1_ps(0.5f)), v);
  case CNNRT_GRAD_RECIPROCAL: /* -g * y * y */
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)), v), v);
  case CNNRT_GRAD_EXP: /* g * y */
    return _mm256_mul_ps(g, v);
  case CNNRT_GRAD_LOG: /* g / x */
    return _mm256_div_ps(g, v);
  case CNNRT_GRAD_ABS: { /* x > 0 ? g : (x < 0 ? -g : 0) */
    const __m256 pos = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ), g);
    const __m256 neg = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ),
                                     _mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_or_ps(pos, neg);
  }
  default:
    return zero;
  }
}

/* Whether `kind` has a vector form here (else cnnrt_f32_act_grad_avx2 runs the scalar one). */
static inline int cnnrt_act_grad_has_avx2(int kind) {
  return kind >= 0 && kind < CNNRT_GRAD_COUNT;
}

/* The loop for one constant kind: two vectors per iteration (independent chains), then 8, then
 * the masked tail. */
#define CNNRT_ACT_GRAD_AVX2_LOOP(KIND)                                                             \
  do {                                                                                           \
    int64_t i = 0;                                                                               \
    for (; i + 16 <= n; i += 16) {                                                               \
      const __m256 r0 = cnnrt_f32_act_grad_avx2_ps(KIND, va, vb, _mm256_loadu_ps(v + i),         \
                                                   _mm256_loadu_ps(dy + i));                     \
      const __m256 r1 = cnnrt_f32_act_grad_avx2_ps(KIND, va, vb, _mm256_loadu_ps(v + i + 8),     \
                                                   _mm256_loadu_ps(dy + i + 8));                 \
      _mm256_storeu_ps(dx + i, r0);                                                              \
      _mm256_storeu_ps(dx + i + 8, r1);                                                          \
    }                                                                                            \
    for (; i + 8 <= n; i += 8) {                                                                 \
      _mm256_storeu_ps(dx + i, cnnrt_f32_act_grad_avx2_ps(KIND, va, vb, _mm256_loadu_ps(v + i),  \
                                                          _mm256_loadu_ps(dy + i)));             \
    }                                                                                            \
    if (i < n) {                                                                                 \
      const __m256i m_ = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)),                     \
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));          \
      _mm256_maskstore_ps(dx + i, m_,                                                            \
                          cnnrt_f32_act_grad_avx2_ps(KIND, va, vb, _mm256_maskload_ps(v + i, m_), \
                                                     _mm256_maskload_ps(dy + i, m_)));           \
    }                                                                                            \
  } while (0)

#define CNNRT_ACT_GRAD_AVX2_CASE(KIND)                                                             \
  case KIND:                                                                                     \
    CNNRT_ACT_GRAD_AVX2_LOOP(KIND);                                                              \
    break

/* Same contract as cnnrt_f32_act_grad (dx may equal dy or v). */
static inline void cnnrt_f32_act_grad_avx2(int kind, float alpha, float beta, int64_t n,
                                           const float *v, const float *dy, float *dx) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  switch (kind) {
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_RELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_LEAKY_RELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_ELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_SELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_CELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_SIGMOID);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_HARD_SIGMOID);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_HARD_SWISH);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_TANH);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_SOFTPLUS);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_SOFTSIGN);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_ERF);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_MISH);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_THRESHOLDED_RELU);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_CLIP);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_SQRT);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_RECIPROCAL);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_EXP);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_LOG);
    CNNRT_ACT_GRAD_AVX2_CASE(CNNRT_GRAD_ABS);
  default:
    cnnrt_f32_act_grad_ref(kind, alpha, beta, n, v, dy, dx);
    break;
  }
}

#undef CNNRT_ACT_GRAD_AVX2_CASE
#undef CNNRT_ACT_GRAD_AVX2_LOOP

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_ACT_GRAD_AVX2_H */
