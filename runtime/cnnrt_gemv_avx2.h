/* cnnrt_gemv_avx2.h — fully connected layers at batch 1 on x86 AVX2 + FMA.
 *
 * ONNX Gemm with one row of A and a transposed B (what PyTorch's Linear exports):
 * y[j] = act(alpha * dot(a, B[j, :]) + beta * C[j]). Each output is a dot product over a
 * contiguous row of B, so the kernel streams B once with four independent 8-wide accumulators
 * per row (the loop is bound by memory bandwidth, not FMAs). Same semantics as cnnrt_f32_gemm_ref for m == 1, trans_a == 0,
 * trans_b == 1; only the summation order differs. Everything is compiled only with AVX2+FMA. */
#ifndef CNNRT_GEMV_AVX2_H
#define CNNRT_GEMV_AVX2_H

#include "cnnrt.h"
#include "cnnrt_gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline float cnnrt_gemv_avx2_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

/* dot(a, b) over k floats. */
static inline float cnnrt_gemv_avx2_dot(const float *a, const float *b, int64_t k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= k; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  float sum = cnnrt_gemv_avx2_hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < k; i++) {
    sum += a[i] * b[i];
  }
  return sum;
}

/* Outputs [j0, j1) of y = act(alpha * a B^T + beta * C); the range form splits across threads. */
static inline void cnnrt_f32_gemv_t_avx2_range(const cnnrt_gemm_params *p, const float *a,
                                               const float *b, const float *c, float *y,
                                               int64_t j0, int64_t j1) {
  CNNRT_ASSERT(p->m == 1 && !p->trans_a && p->trans_b);
  const int64_t k = p->k;
  for (int64_t j = j0; j < j1; j++) {
    float v = p->alpha * cnnrt_gemv_avx2_dot(a, b + j * k, k);
    if (c != NULL && p->beta != 0.0f) {
      /* C broadcast to [1, n]: a scalar, a row, or (m == 1) a column of one. */
      v += p->beta * c[p->c_cols == 1 ? 0 : j];
    }
    y[j] = cnnrt_apply_act((int)p->act, p->act_alpha, p->act_beta, v);
  }
}

static inline void cnnrt_f32_gemv_t_avx2(const cnnrt_gemm_params *p, const float *a,
                                         const float *b, const float *c, float *y) {
  cnnrt_f32_gemv_t_avx2_range(p, a, b, c, y, 0, p->n);
}

/* The GEMV split into tasks for the cnnrt_parallel hook: task t of n_tasks takes its share of
 * the outputs (whole rows of B: each task streams its own part of the weights). */
typedef struct cnnrt_gemv_task {
  const cnnrt_gemm_params *p;
  const float *a, *b, *c;
  float *y;
  int64_t n_tasks;
} cnnrt_gemv_task;

static inline void cnnrt_gemv_t_avx2_task(void *arg, int64_t t) {
  const cnnrt_gemv_task *g = (const cnnrt_gemv_task *)arg;
  const int64_t n = g->p->n;
  cnnrt_f32_gemv_t_avx2_range(g->p, g->a, g->b, g->c, g->y, n * t / g->n_tasks,
                              n * (t + 1) / g->n_tasks);
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_GEMV_AVX2_H */
