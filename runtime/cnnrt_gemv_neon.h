/* cnnrt_gemv_neon.h — fully connected layers at batch 1 on ARM NEON.
 *
 * ONNX Gemm with one row of A and a transposed B (PyTorch's Linear):
 * y[j] = act(alpha * dot(a, B[j, :]) + beta * C[j]), as cnnrt_gemv_avx2.h: each output is a dot
 * product over a contiguous row of B, streamed once with four independent 4-wide accumulators
 * (the loop is bound by memory bandwidth). Semantics of cnnrt_f32_gemm_ref for m == 1,
 * trans_a == 0, trans_b == 1; only the summation order differs. Compiled only with NEON. */
#ifndef CNNRT_GEMV_NEON_H
#define CNNRT_GEMV_NEON_H

#include "cnnrt.h"
#include "cnnrt_gemm.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include <arm_neon.h>

/* dot(a, b) over k floats. */
static inline float cnnrt_gemv_neon_dot(const float *a, const float *b, int64_t k) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    s0 = cnnrt_neon_fma(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    s1 = cnnrt_neon_fma(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    s2 = cnnrt_neon_fma(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    s3 = cnnrt_neon_fma(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= k; i += 4) {
    s0 = cnnrt_neon_fma(s0, vld1q_f32(a + i), vld1q_f32(b + i));
  }
  float sum = cnnrt_neon_hsum(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; i < k; i++) {
    sum += a[i] * b[i];
  }
  return sum;
}

/* Outputs [j0, j1) of y = act(alpha * a B^T + beta * C). */
static inline void cnnrt_f32_gemv_t_neon_range(const cnnrt_gemm_params *p, const float *a,
                                               const float *b, const float *c, float *y,
                                               int64_t j0, int64_t j1) {
  CNNRT_ASSERT(p->m == 1 && !p->trans_a && p->trans_b);
  const int64_t k = p->k;
  for (int64_t j = j0; j < j1; j++) {
    float v = p->alpha * cnnrt_gemv_neon_dot(a, b + j * k, k);
    if (c != NULL && p->beta != 0.0f) {
      v += p->beta * c[p->c_cols == 1 ? 0 : j]; /* C: a scalar, a row, or a column of one */
    }
    y[j] = cnnrt_apply_act((int)p->act, p->act_alpha, p->act_beta, v);
  }
}

static inline void cnnrt_f32_gemv_t_neon(const cnnrt_gemm_params *p, const float *a,
                                         const float *b, const float *c, float *y) {
  cnnrt_f32_gemv_t_neon_range(p, a, b, c, y, 0, p->n);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_GEMV_NEON_H */
