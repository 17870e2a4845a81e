/* cnnrt_norm_avx2.h — AVX2/FMA forms of the forward normalisation kernels of cnnrt_norm.h:
 * inference BatchNormalization (run-time parameters), training-mode BatchNormalization (batch
 * statistics and the running-statistics update), InstanceNormalization, LayerNormalization and
 * the per-channel affine map that unfused BatchNormalization becomes. Same contracts as the
 * references (y may alias x); each takes `par` and splits its independent units over the
 * threads (NULL: serial).
 *
 * Statistics: per channel / plane / row the mean is shift + sum (x - shift) / count with shift
 * the first element, and the variance sum (x - m_f)^2 / count - (m_f - m)^2 with m_f the mean
 * rounded to float; both sums run in float vectors over blocks of at most 256 elements whose
 * partial sums are added in double (the scheme of cnnrt_norm_grad_avx2.h), so the error neither
 * grows with the plane size nor with the distance of the data from zero. The output is one fused
 * pass y = (x - m_f) * a + b, with m - m_f folded into b in double, as the references do.
 * Results equal the references (two-pass double sums) to float rounding.
 * Empty without AVX2+FMA. */
#ifndef CNNRT_NORM_AVX2_H
#define CNNRT_NORM_AVX2_H

#include <math.h>

#include "cnnrt.h"
#include "cnnrt_norm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define CNNRT_NORM_AVX2_BLOCK 256

/* Lanes i < k on (k in 0..8). */
static inline __m256i cnnrt_norm_avx2_mask_(int64_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline double cnnrt_norm_avx2_hsum_(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128d lo = _mm_cvtps_pd(s), hi = _mm_cvtps_pd(_mm_movehl_ps(s, s));
  const __m128d t = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}

/* sum of (p[i] - shift) over [0, len) when sq is 0, of (p[i] - shift)^2 when sq is 1; in double,
 * float vectors within blocks. */
static inline double cnnrt_norm_avx2_sum_(const float *p, int64_t len, float shift, int sq) {
  const __m256 vs = _mm256_set1_ps(shift);
  double total = 0.0;
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_AVX2_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_AVX2_BLOCK < len ? b0 + CNNRT_NORM_AVX2_BLOCK : len;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = b0;
    if (sq) {
      for (; i + 16 <= b1; i += 16) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(p + i), vs);
        const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(p + i + 8), vs);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
      }
    } else {
      for (; i + 16 <= b1; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_sub_ps(_mm256_loadu_ps(p + i), vs));
        s1 = _mm256_add_ps(s1, _mm256_sub_ps(_mm256_loadu_ps(p + i + 8), vs));
      }
    }
    for (; i < b1; i += 8) {
      const __m256i m = cnnrt_norm_avx2_mask_(b1 - i < 8 ? b1 - i : 8);
      const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + i, m), vs),
                                     _mm256_castsi256_ps(m));
      s0 = sq ? _mm256_fmadd_ps(d, d, s0) : _mm256_add_ps(s0, d);
    }
    total += cnnrt_norm_avx2_hsum_(_mm256_add_ps(s0, s1));
  }
  return total;
}

/* Mean and population variance of the `planes` planes p + k * stride, k < planes, of len
 * elements each (a BatchNormalization channel: planes = N; one plane otherwise). *mf receives
 * the mean rounded to float and *corr = mf - mean (in double). */
static inline void cnnrt_norm_avx2_stats_(const float *p, int64_t planes, int64_t stride,
                                          int64_t len, float *mf, double *corr, double *var) {
  const double count = (double)(planes * len);
  if (!(count > 0)) {
    *mf = 0.0f;
    *corr = 0.0;
    *var = 0.0;
    return;
  }
  const float shift = p[0];
  double sum = 0.0;
  for (int64_t k = 0; k < planes; k++) {
    sum += cnnrt_norm_avx2_sum_(p + k * stride, len, shift, 0);
  }
  const double m = (double)shift + sum / count;
  const float f = (float)m;
  const double dm = (double)f - m;
  double sq = 0.0;
  for (int64_t k = 0; k < planes; k++) {
    sq += cnnrt_norm_avx2_sum_(p + k * stride, len, f, 1);
  }
  /* sum (x - m)^2 = sum (x - f)^2 - count dm^2 (as sum (x - f) = count dm) */
  const double v = sq / count - dm * dm;
  *mf = f;
  *corr = dm;
  *var = v > 0 ? v : 0.0;
}

/* y = (x - mf) * a + b over len elements. */
static inline void cnnrt_norm_avx2_affine_(const float *x, float *y, int64_t len, float mf,
                                           float a, float b) {
  const __m256 vm = _mm256_set1_ps(mf), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  int64_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(d0, va, vb));
    _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(d1, va, vb));
  }
  for (; i < len; i += 8) {
    const __m256i m = cnnrt_norm_avx2_mask_(len - i < 8 ? len - i : 8);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm);
    _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(d, va, vb));
  }
}

static inline int64_t cnnrt_norm_avx2_tasks_(const cnnrt_parallel *par, int64_t units) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < units ? threads : (units > 0 ? units : 1);
}

/* The arguments of every channel kernel; unused members NULL. */
typedef struct cnnrt_norm_avx2_task {
  int64_t n, c, spatial, n_tasks;
  float eps, momentum;
  const float *x, *scale, *bias, *mean, *var;
  float *y, *run_mean, *run_var;
} cnnrt_norm_avx2_task;

/* Units: the n * c planes. */
static inline void cnnrt_channel_affine_avx2_task_(void *arg, int64_t task) {
  const cnnrt_norm_avx2_task *t = (const cnnrt_norm_avx2_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    cnnrt_norm_avx2_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial, 0.0f,
                            t->scale[ch], t->bias[ch]);
  }
}

/* Same contract as cnnrt_f32_channel_affine_ref. */
static inline void cnnrt_f32_channel_affine_avx2(int64_t n, int64_t c, int64_t spatial,
                                                 const float *x, const float *scale,
                                                 const float *shift, float *y,
                                                 const cnnrt_parallel *par) {
  cnnrt_norm_avx2_task t = {n,    c,    spatial, cnnrt_norm_avx2_tasks_(par, n * c), 0.0f, 0.0f, x,
                            scale, shift, NULL, NULL, y,  NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_channel_affine_avx2_task_, &t, t.n_tasks);
}

/* Units: the n * c planes. */
static inline void cnnrt_batchnorm_avx2_task_(void *arg, int64_t task) {
  const cnnrt_norm_avx2_task *t = (const cnnrt_norm_avx2_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    const float s = t->scale[ch] / sqrtf(t->var[ch] + t->eps); /* as the reference */
    cnnrt_norm_avx2_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial,
                            t->mean[ch], s, t->bias[ch]);
  }
}

/* Same contract as cnnrt_f32_batchnorm_ref. */
static inline void cnnrt_f32_batchnorm_avx2(int64_t n, int64_t c, int64_t spatial, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            const float *mean, const float *var, float *y,
                                            const cnnrt_parallel *par) {
  cnnrt_norm_avx2_task t = {n,    c,    spatial, cnnrt_norm_avx2_tasks_(par, n * c), eps, 0.0f, x,
                            scale, bias, mean, var, y,  NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_batchnorm_avx2_task_, &t, t.n_tasks);
}

/* Units: the c channels (each reduces over all n planes). */
static inline void cnnrt_batchnorm_train_avx2_task_(void *arg, int64_t task) {
  const cnnrt_norm_avx2_task *t = (const cnnrt_norm_avx2_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    float mf;
    double corr, v;
    cnnrt_norm_avx2_stats_(t->x + ch * spatial, n, c * spatial, spatial, &mf, &corr, &v);
    const double s = (double)t->scale[ch] / sqrt(v + (double)t->eps);
    const float b = (float)((double)t->bias[ch] + corr * s);
    for (int64_t k = 0; k < n; k++) {
      const int64_t off = (k * c + ch) * spatial;
      cnnrt_norm_avx2_affine_(t->x + off, t->y + off, spatial, mf, (float)s, b);
    }
    const double m = (double)mf - corr, mom = (double)t->momentum;
    if (t->run_mean) {
      t->run_mean[ch] = (float)((double)t->mean[ch] * mom + m * (1.0 - mom));
    }
    if (t->run_var) {
      t->run_var[ch] = (float)((double)t->var[ch] * mom + v * (1.0 - mom));
    }
  }
}

/* Same contract as cnnrt_f32_batchnorm_train_ref (run_mean / run_var may be NULL). */
static inline void cnnrt_f32_batchnorm_train_avx2(int64_t n, int64_t c, int64_t spatial,
                                                  float eps, float momentum, const float *x,
                                                  const float *scale, const float *bias,
                                                  const float *mean, const float *var, float *y,
                                                  float *run_mean, float *run_var,
                                                  const cnnrt_parallel *par) {
  cnnrt_norm_avx2_task t = {n,    c,    spatial, cnnrt_norm_avx2_tasks_(par, c), eps, momentum, x,
                            scale, bias, mean, var, y, run_mean, run_var};
  cnnrt_parallel_for(par, cnnrt_batchnorm_train_avx2_task_, &t, t.n_tasks);
}

/* Units: the n * c planes. */
static inline void cnnrt_instancenorm_avx2_task_(void *arg, int64_t task) {
  const cnnrt_norm_avx2_task *t = (const cnnrt_norm_avx2_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    float mf;
    double corr, v;
    cnnrt_norm_avx2_stats_(t->x + p * t->spatial, 1, 0, t->spatial, &mf, &corr, &v);
    const double a = (double)t->scale[ch] / sqrt(v + (double)t->eps);
    cnnrt_norm_avx2_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial, mf,
                            (float)a, (float)((double)t->bias[ch] + corr * a));
  }
}

/* Same contract as cnnrt_f32_instancenorm_ref. */
static inline void cnnrt_f32_instancenorm_avx2(int64_t n, int64_t c, int64_t spatial, float eps,
                                               const float *x, const float *scale,
                                               const float *bias, float *y,
                                               const cnnrt_parallel *par) {
  cnnrt_norm_avx2_task t = {n,    c,    spatial, cnnrt_norm_avx2_tasks_(par, n * c), eps, 0.0f, x,
                            scale, bias, NULL, NULL, y, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_instancenorm_avx2_task_, &t, t.n_tasks);
}

typedef struct cnnrt_layernorm_avx2_task {
  int64_t outer, inner, n_tasks;
  float eps;
  const float *x, *scale, *bias;
  float *y, *mean, *inv_std;
} cnnrt_layernorm_avx2_task;

/* Units: the rows. y = ((x - mf) + corr) * inv_std * scale + bias, as the reference. */
static inline void cnnrt_layernorm_avx2_task_(void *arg, int64_t task) {
  const cnnrt_layernorm_avx2_task *t = (const cnnrt_layernorm_avx2_task *)arg;
  const int64_t inner = t->inner;
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (int64_t r = t->outer * task / t->n_tasks; r < t->outer * (task + 1) / t->n_tasks; r++) {
    const float *xr = t->x + r * inner;
    float *yr = t->y + r * inner;
    float mf;
    double corr, v;
    cnnrt_norm_avx2_stats_(xr, 1, 0, inner, &mf, &corr, &v);
    const float is = (float)(1.0 / sqrt(v + (double)t->eps));
    if (t->mean) {
      t->mean[r] = (float)((double)mf - corr);
    }
    if (t->inv_std) {
      t->inv_std[r] = is;
    }
    const __m256 vm = _mm256_set1_ps(mf), vc = _mm256_set1_ps((float)corr),
                 vis = _mm256_set1_ps(is);
    int64_t i = 0;
    if (t->scale && t->bias) {
      for (; i + 8 <= inner; i += 8) {
        const __m256 d = _mm256_add_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm), vc);
        _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(_mm256_mul_ps(d, vis), _mm256_loadu_ps(t->scale + i),
                                                 _mm256_loadu_ps(t->bias + i)));
      }
    }
    for (; i < inner; i += 8) {
      const __m256i mk = cnnrt_norm_avx2_mask_(inner - i < 8 ? inner - i : 8);
      const __m256 d = _mm256_add_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, mk), vm), vc);
      const __m256 sc = t->scale ? _mm256_maskload_ps(t->scale + i, mk) : one;
      const __m256 bi = t->bias ? _mm256_maskload_ps(t->bias + i, mk) : zero;
      _mm256_maskstore_ps(yr + i, mk, _mm256_fmadd_ps(_mm256_mul_ps(d, vis), sc, bi));
    }
  }
}

/* Same contract as cnnrt_f32_layernorm_ref. */
static inline void cnnrt_f32_layernorm_avx2(int64_t outer, int64_t inner, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            float *y, float *mean, float *inv_std,
                                            const cnnrt_parallel *par) {
  cnnrt_layernorm_avx2_task t = {outer, inner, cnnrt_norm_avx2_tasks_(par, outer), eps, x, scale,
                                 bias,  y,     mean, inv_std};
  cnnrt_parallel_for(par, cnnrt_layernorm_avx2_task_, &t, t.n_tasks);
}

#undef CNNRT_NORM_AVX2_BLOCK

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_NORM_AVX2_H */
