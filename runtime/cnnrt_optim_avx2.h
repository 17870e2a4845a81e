/* cnnrt_optim_avx2.h — AVX2/FMA versions of the optimizer updates of cnnrt_optim.h.
 *
 * Updates are bandwidth-bound (SGD-momentum streams 3 arrays, Adam 4 per element), so these
 * are plain 8-lane loops with the same operation order as the references; the n % 8 tail goes
 * through the reference. Results can differ from the reference by an ulp where FMA contracts
 * a multiply-add. Without AVX2/FMA the functions are the references. */
#ifndef CNNRT_OPTIM_AVX2_H
#define CNNRT_OPTIM_AVX2_H

#include "cnnrt_optim.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline void cnnrt_f32_sgd_avx2(const cnnrt_optim_params *p, int64_t n, float lr,
                                      float gscale, float *param, const float *grad,
                                      float *mom) {
  const __m256 vmu = _mm256_set1_ps(p->momentum), vwd = _mm256_set1_ps(p->weight_decay);
  const __m256 vlr = _mm256_set1_ps(lr), vgs = _mm256_set1_ps(gscale);
  const int has_mu = p->momentum != 0.0f, nesterov = p->nesterov != 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 w = _mm256_loadu_ps(param + i);
    __m256 g = _mm256_fmadd_ps(vwd, w, _mm256_mul_ps(_mm256_loadu_ps(grad + i), vgs));
    if (has_mu) {
      const __m256 buf = _mm256_fmadd_ps(vmu, _mm256_loadu_ps(mom + i), g);
      _mm256_storeu_ps(mom + i, buf);
      g = nesterov ? _mm256_fmadd_ps(vmu, buf, g) : buf;
    }
    _mm256_storeu_ps(param + i, _mm256_fnmadd_ps(vlr, g, w));
  }
  if (i < n) {
    cnnrt_f32_sgd_ref(p, n - i, lr, gscale, param + i, grad + i, mom ? mom + i : NULL);
  }
}

static inline void cnnrt_f32_adam_avx2(const cnnrt_optim_params *p, const cnnrt_adam_consts *c,
                                       int64_t n, float gscale, float *param, const float *grad,
                                       float *m, float *v) {
  const float wd = p->kind == CNNRT_OPTIM_ADAM ? p->weight_decay : 0.0f;
  const __m256 b1 = _mm256_set1_ps(p->beta1), b2 = _mm256_set1_ps(p->beta2);
  const __m256 ob1 = _mm256_set1_ps(p->one_minus_beta1);
  const __m256 ob2 = _mm256_set1_ps(p->one_minus_beta2);
  const __m256 eps = _mm256_set1_ps(p->eps), vwd = _mm256_set1_ps(wd);
  const __m256 keep = _mm256_set1_ps(c->decay_keep), step = _mm256_set1_ps(c->step_size);
  const __m256 inv_bc2 = _mm256_set1_ps(1.0f / c->bc2_sqrt), vgs = _mm256_set1_ps(gscale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 w = _mm256_mul_ps(_mm256_loadu_ps(param + i), keep);
    const __m256 g = _mm256_fmadd_ps(vwd, w, _mm256_mul_ps(_mm256_loadu_ps(grad + i), vgs));
    const __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(ob1, g));
    const __m256 vi =
        _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(ob2, _mm256_mul_ps(g, g)));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    const __m256 denom = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), inv_bc2, eps);
    _mm256_storeu_ps(param + i, _mm256_fnmadd_ps(step, _mm256_div_ps(mi, denom), w));
  }
  if (i < n) {
    cnnrt_f32_adam_ref(p, c, n - i, gscale, param + i, grad + i, m + i, v + i);
  }
}

static inline double cnnrt_f32_sum_squares_avx2(int64_t n, const float *x) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    acc0 = _mm256_fmadd_pd(lo, lo, acc0);
    acc1 = _mm256_fmadd_pd(hi, hi, acc1);
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(acc0, acc1));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + cnnrt_f32_sum_squares_ref(n - i, x + i);
}

#else

static inline void cnnrt_f32_sgd_avx2(const cnnrt_optim_params *p, int64_t n, float lr,
                                      float gscale, float *param, const float *grad,
                                      float *mom) {
  cnnrt_f32_sgd_ref(p, n, lr, gscale, param, grad, mom);
}
static inline void cnnrt_f32_adam_avx2(const cnnrt_optim_params *p, const cnnrt_adam_consts *c,
                                       int64_t n, float gscale, float *param, const float *grad,
                                       float *m, float *v) {
  cnnrt_f32_adam_ref(p, c, n, gscale, param, grad, m, v);
}
static inline double cnnrt_f32_sum_squares_avx2(int64_t n, const float *x) {
  return cnnrt_f32_sum_squares_ref(n, x);
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_OPTIM_AVX2_H */
