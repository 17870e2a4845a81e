/* cnnrt_norm_grad_avx2.h — AVX2/FMA forms of the BatchNormalization (inference and training
 * mode), Softmax and LogSoftmax gradients of cnnrt_norm_grad.h, same contracts.
 *
 * BatchNormalization: per channel the reductions (sum (x - x_0) with x_0 the channel's first
 * element, for the mean; then sum (x - m)^2, sum dy,
 * sum dy * (x - m) in one pass) run in float vectors over blocks of at most 256 elements whose
 * partial sums are added in double (so the error does not grow with the plane size), and dx is
 * one fused pass dx = a * dy + b * (x - m_f) + c with per-channel constants computed in double.
 * m_f is the mean rounded to float; the difference m - m_f is corrected for exactly in the
 * double sums (sum dy (x - m) = sum dy (x - m_f) + (m_f - m) sum dy, and likewise for the
 * variance), and x - m_f keeps the cancellation near the mean in float where it is exact or
 * nearly so. Training mode reads x three times and dy twice (the reference: four and three).
 * Channels are split over the threads of `par` (NULL: serial).
 *
 * Softmax / LogSoftmax: rows along a contiguous axis (inner = 1) reduce with float vectors,
 * four accumulators, the total in double; strided axes (inner > 1) run 8 inner positions per
 * vector. Results equal the references (double sums) to float rounding.
 * Empty without AVX2+FMA. */
#ifndef CNNRT_NORM_GRAD_AVX2_H
#define CNNRT_NORM_GRAD_AVX2_H

#include <math.h>

#include "cnnrt.h"
#include "cnnrt_act_avx2.h"
#include "cnnrt_norm_grad.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* Lanes i < k on (k in 0..8). */
static inline __m256i cnnrt_norm_grad_avx2_mask_(int64_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline double cnnrt_norm_grad_avx2_hsum_(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128d lo = _mm_cvtps_pd(s), hi = _mm_cvtps_pd(_mm_movehl_ps(s, s));
  const __m128d t = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}

#define CNNRT_NORM_GRAD_AVX2_BLOCK 256

/* sum of p[0..len) - shift in double, float vectors within blocks. With shift an element of
 * the data the differences are small (and exact near shift), so the float partial sums stay
 * accurate when the data sit far from zero. */
static inline double cnnrt_norm_grad_avx2_sum_(const float *p, int64_t len, float shift) {
  const __m256 vs = _mm256_set1_ps(shift);
  double total = 0.0;
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_AVX2_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_GRAD_AVX2_BLOCK < len ? b0 + CNNRT_NORM_GRAD_AVX2_BLOCK : len;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = b0;
    for (; i + 16 <= b1; i += 16) {
      s0 = _mm256_add_ps(s0, _mm256_sub_ps(_mm256_loadu_ps(p + i), vs));
      s1 = _mm256_add_ps(s1, _mm256_sub_ps(_mm256_loadu_ps(p + i + 8), vs));
    }
    for (; i + 8 <= b1; i += 8) {
      s0 = _mm256_add_ps(s0, _mm256_sub_ps(_mm256_loadu_ps(p + i), vs));
    }
    if (i < b1) {
      const __m256i m = cnnrt_norm_grad_avx2_mask_(b1 - i);
      s1 = _mm256_add_ps(s1, _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + i, m), vs),
                                           _mm256_castsi256_ps(m)));
    }
    total += cnnrt_norm_grad_avx2_hsum_(_mm256_add_ps(s0, s1));
  }
  return total;
}

/* Over p's plane: sum d^2 (if sq), sum dy, sum dy * d with d = x - mf, added into the doubles. */
static inline void cnnrt_norm_grad_avx2_moments_(const float *x, const float *dy, int64_t len,
                                                 float mf, double *sq, double *sdy,
                                                 double *sdyd) {
  const __m256 vm = _mm256_set1_ps(mf);
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_AVX2_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_GRAD_AVX2_BLOCK < len ? b0 + CNNRT_NORM_GRAD_AVX2_BLOCK : len;
    __m256 a_sq = _mm256_setzero_ps(), a_dy = _mm256_setzero_ps(), a_dyd = _mm256_setzero_ps();
    int64_t i = b0;
    for (; i + 8 <= b1; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
      const __m256 g = _mm256_loadu_ps(dy + i);
      a_sq = _mm256_fmadd_ps(d, d, a_sq);
      a_dy = _mm256_add_ps(a_dy, g);
      a_dyd = _mm256_fmadd_ps(g, d, a_dyd);
    }
    if (i < b1) {
      const __m256i m = cnnrt_norm_grad_avx2_mask_(b1 - i);
      const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm),
                                     _mm256_castsi256_ps(m));
      const __m256 g = _mm256_maskload_ps(dy + i, m);
      a_sq = _mm256_fmadd_ps(d, d, a_sq);
      a_dy = _mm256_add_ps(a_dy, g);
      a_dyd = _mm256_fmadd_ps(g, d, a_dyd);
    }
    if (sq) {
      *sq += cnnrt_norm_grad_avx2_hsum_(a_sq);
    }
    *sdy += cnnrt_norm_grad_avx2_hsum_(a_dy);
    *sdyd += cnnrt_norm_grad_avx2_hsum_(a_dyd);
  }
}

/* dx = a * dy + b * (x - mf) + c over a plane. */
static inline void cnnrt_norm_grad_avx2_affine_(const float *x, const float *dy, float *dx,
                                                int64_t len, float mf, float a, float b, float c) {
  const __m256 vm = _mm256_set1_ps(mf), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b),
               vc = _mm256_set1_ps(c);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
    _mm256_storeu_ps(dx + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(dy + i), _mm256_fmadd_ps(vb, d, vc)));
  }
  if (i < len) {
    const __m256i m = cnnrt_norm_grad_avx2_mask_(len - i);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm);
    _mm256_maskstore_ps(dx + i, m,
                        _mm256_fmadd_ps(va, _mm256_maskload_ps(dy + i, m), _mm256_fmadd_ps(vb, d, vc)));
  }
}

typedef struct cnnrt_bn_grad_avx2_task {
  int64_t n, c, spatial, n_tasks;
  float eps;
  const float *x, *scale, *mean, *var, *dy;
  float *dx, *dscale, *dbias, *dmean, *dvar;
} cnnrt_bn_grad_avx2_task;

static inline void cnnrt_bn_train_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_avx2_task *t = (const cnnrt_bn_grad_avx2_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  const double count = (double)(n * spatial);
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    const float shift = count > 0 ? t->x[ch * spatial] : 0.0f;
    double sum = 0.0;
    for (int64_t b = 0; b < n; b++) {
      sum += cnnrt_norm_grad_avx2_sum_(t->x + (b * c + ch) * spatial, spatial, shift);
    }
    const double m = count > 0 ? (double)shift + sum / count : 0.0;
    const float mf = (float)m;
    const double dm = (double)mf - m; /* x - m = (x - mf) + dm */
    double sq = 0.0, sum_dy = 0.0, sdyd = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_avx2_moments_(t->x + off, t->dy + off, spatial, mf, &sq, &sum_dy, &sdyd);
    }
    /* sum (x - m)^2 = sum (x - mf)^2 + 2 dm sum (x - mf) + M dm^2, sum (x - mf) = -M dm */
    const double sq_m = count > 0 ? sq - count * dm * dm : 0.0;
    const double inv = 1.0 / sqrt((count > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)t->eps);
    const double sum_dy_xhat = (sdyd + dm * sum_dy) * inv;
    const double k = count > 0 ? (double)t->scale[ch] * inv / count : 0.0;
    /* dx = k (M dy - sum_dy - xhat sum_dy_xhat), xhat = ((x - mf) + dm) inv */
    const float a = (float)(k * count), bcoef = (float)(-k * inv * sum_dy_xhat),
                cc = (float)(-k * sum_dy - k * inv * sum_dy_xhat * dm);
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_avx2_affine_(t->x + off, t->dy + off, t->dx + off, spatial, mf, a, bcoef,
                                   cc);
    }
    if (t->dscale) {
      t->dscale[ch] = (float)sum_dy_xhat;
    }
    if (t->dbias) {
      t->dbias[ch] = (float)sum_dy;
    }
  }
}

static inline void cnnrt_bn_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_avx2_task *t = (const cnnrt_bn_grad_avx2_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    const double inv = 1.0 / sqrt((double)t->var[ch] + (double)t->eps);
    const float gain = (float)(t->scale[ch] * inv);
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_avx2_moments_(t->x + off, t->dy + off, spatial, t->mean[ch], NULL, &sum_dy,
                                    &sum_dy_xc);
      if (t->dx) {
        cnnrt_norm_grad_avx2_affine_(t->x + off, t->dy + off, t->dx + off, spatial, 0.0f, gain,
                                     0.0f, 0.0f);
      }
    }
    if (t->dscale) {
      t->dscale[ch] = (float)(sum_dy_xc * inv);
    }
    if (t->dbias) {
      t->dbias[ch] = (float)sum_dy;
    }
    if (t->dmean) {
      t->dmean[ch] = (float)(-sum_dy * t->scale[ch] * inv);
    }
    if (t->dvar) {
      t->dvar[ch] = (float)(-0.5 * sum_dy_xc * t->scale[ch] * inv * inv * inv);
    }
  }
}

static inline int64_t cnnrt_norm_grad_avx2_tasks_(const cnnrt_parallel *par, int64_t c) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < c ? threads : (c > 0 ? c : 1);
}

/* Same contract as cnnrt_f32_batchnorm_train_grad_ref (dscale, dbias may be NULL). */
static inline void cnnrt_f32_batchnorm_train_grad_avx2(int64_t n, int64_t c, int64_t spatial,
                                                       float eps, const float *x,
                                                       const float *scale, const float *dy,
                                                       float *dx, float *dscale, float *dbias,
                                                       const cnnrt_parallel *par) {
  cnnrt_bn_grad_avx2_task t = {n, c, spatial, cnnrt_norm_grad_avx2_tasks_(par, c), eps, x, scale,
                               NULL, NULL, dy, dx, dscale, dbias, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_bn_train_grad_avx2_task_, &t, t.n_tasks);
}

/* Same contract as cnnrt_f32_batchnorm_grad_ref (outputs other than dx may be NULL). */
static inline void cnnrt_f32_batchnorm_grad_avx2(int64_t n, int64_t c, int64_t spatial, float eps,
                                                 const float *x, const float *scale,
                                                 const float *mean, const float *var,
                                                 const float *dy, float *dx, float *dscale,
                                                 float *dbias, float *dmean, float *dvar,
                                                 const cnnrt_parallel *par) {
  cnnrt_bn_grad_avx2_task t = {n,  c,  spatial, cnnrt_norm_grad_avx2_tasks_(par, c), eps, x, scale,
                               mean, var, dy, dx, dscale, dbias, dmean, dvar};
  cnnrt_parallel_for(par, cnnrt_bn_grad_avx2_task_, &t, t.n_tasks);
}

/* Softmax (log = 0) or LogSoftmax (log = 1) gradient; same contracts as the references. */
static inline void cnnrt_f32_softmax_grad_any_avx2_(int log, int64_t outer, int64_t len,
                                                    int64_t inner, const float *y,
                                                    const float *dy, float *dx) {
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++) {
      const float *yr = y + o * len, *gr = dy + o * len;
      float *dr = dx + o * len;
      /* softmax: dot = sum dy y; log-softmax: sum = sum dy */
      double acc = 0.0;
      for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_AVX2_BLOCK) {
        const int64_t b1 =
            b0 + CNNRT_NORM_GRAD_AVX2_BLOCK < len ? b0 + CNNRT_NORM_GRAD_AVX2_BLOCK : len;
        __m256 s = _mm256_setzero_ps();
        int64_t i = b0;
        for (; i + 8 <= b1; i += 8) {
          const __m256 g = _mm256_loadu_ps(gr + i);
          s = log ? _mm256_add_ps(s, g) : _mm256_fmadd_ps(g, _mm256_loadu_ps(yr + i), s);
        }
        if (i < b1) {
          const __m256i m = cnnrt_norm_grad_avx2_mask_(b1 - i);
          const __m256 g = _mm256_maskload_ps(gr + i, m);
          s = log ? _mm256_add_ps(s, g) : _mm256_fmadd_ps(g, _mm256_maskload_ps(yr + i, m), s);
        }
        acc += cnnrt_norm_grad_avx2_hsum_(s);
      }
      const __m256 va = _mm256_set1_ps((float)acc);
      int64_t i = 0;
      for (; i + 8 <= len; i += 8) {
        const __m256 yv = _mm256_loadu_ps(yr + i), g = _mm256_loadu_ps(gr + i);
        _mm256_storeu_ps(dr + i, log ? _mm256_fnmadd_ps(cnnrt_f32_exp_avx2_ps(yv), va, g)
                                     : _mm256_mul_ps(yv, _mm256_sub_ps(g, va)));
      }
      if (i < len) {
        const __m256i m = cnnrt_norm_grad_avx2_mask_(len - i);
        const __m256 yv = _mm256_maskload_ps(yr + i, m), g = _mm256_maskload_ps(gr + i, m);
        _mm256_maskstore_ps(dr + i, m,
                            log ? _mm256_fnmadd_ps(cnnrt_f32_exp_avx2_ps(yv), va, g)
                                : _mm256_mul_ps(yv, _mm256_sub_ps(g, va)));
      }
    }
    return;
  }
  /* strided axis: 8 inner positions at a time (sums over len in float; len is an axis of a
   * CNN tensor, small) */
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i += 8) {
      const __m256i m = cnnrt_norm_grad_avx2_mask_(inner - i < 8 ? inner - i : 8);
      const int64_t base = o * len * inner + i;
      __m256 s = _mm256_setzero_ps();
      for (int64_t k = 0; k < len; k++) {
        const __m256 g = _mm256_maskload_ps(dy + base + k * inner, m);
        s = log ? _mm256_add_ps(s, g)
                : _mm256_fmadd_ps(g, _mm256_maskload_ps(y + base + k * inner, m), s);
      }
      for (int64_t k = 0; k < len; k++) {
        const __m256 yv = _mm256_maskload_ps(y + base + k * inner, m);
        const __m256 g = _mm256_maskload_ps(dy + base + k * inner, m);
        _mm256_maskstore_ps(dx + base + k * inner, m,
                            log ? _mm256_fnmadd_ps(cnnrt_f32_exp_avx2_ps(yv), s, g)
                                : _mm256_mul_ps(yv, _mm256_sub_ps(g, s)));
      }
    }
  }
}

static inline void cnnrt_f32_softmax_grad_avx2(int64_t outer, int64_t len, int64_t inner,
                                               const float *y, const float *dy, float *dx) {
  cnnrt_f32_softmax_grad_any_avx2_(0, outer, len, inner, y, dy, dx);
}

static inline void cnnrt_f32_logsoftmax_grad_avx2(int64_t outer, int64_t len, int64_t inner,
                                                  const float *y, const float *dy, float *dx) {
  cnnrt_f32_softmax_grad_any_avx2_(1, outer, len, inner, y, dy, dx);
}

/* InstanceNormalization gradient of one (n, c) plane of `len` elements (the training-mode
 * BatchNormalization recipe above with the plane as the batch): writes dx, returns
 * sum dy * xhat and sum dy through the doubles. */
static inline void cnnrt_norm_grad_avx2_plane_(const float *x, const float *dy, float *dx,
                                               int64_t len, float eps, float scale,
                                               double *sum_dy_xhat_out, double *sum_dy_out) {
  const double count = (double)len;
  const float shift = len > 0 ? x[0] : 0.0f;
  const double sum = cnnrt_norm_grad_avx2_sum_(x, len, shift);
  const double m = len > 0 ? (double)shift + sum / count : 0.0;
  const float mf = (float)m;
  const double dm = (double)mf - m; /* x - m = (x - mf) + dm */
  double sq = 0.0, sum_dy = 0.0, sdyd = 0.0;
  cnnrt_norm_grad_avx2_moments_(x, dy, len, mf, &sq, &sum_dy, &sdyd);
  const double sq_m = len > 0 ? sq - count * dm * dm : 0.0;
  const double inv = 1.0 / sqrt((len > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)eps);
  const double sum_dy_xhat = (sdyd + dm * sum_dy) * inv;
  const double k = len > 0 ? (double)scale * inv / count : 0.0;
  const float a = (float)(k * count), bcoef = (float)(-k * inv * sum_dy_xhat),
              cc = (float)(-k * sum_dy - k * inv * sum_dy_xhat * dm);
  cnnrt_norm_grad_avx2_affine_(x, dy, dx, len, mf, a, bcoef, cc);
  *sum_dy_xhat_out += sum_dy_xhat;
  *sum_dy_out += sum_dy;
}

static inline void cnnrt_instancenorm_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_avx2_task *t = (const cnnrt_bn_grad_avx2_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    double ds = 0.0, db = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_avx2_plane_(t->x + off, t->dy + off, t->dx + off, spatial, t->eps,
                                  t->scale[ch], &ds, &db);
    }
    if (t->dscale) {
      t->dscale[ch] = (float)ds;
    }
    if (t->dbias) {
      t->dbias[ch] = (float)db;
    }
  }
}

/* Same contract as cnnrt_f32_instancenorm_grad_ref (dscale, dbias may be NULL); channels over
 * the threads of `par` (each channel's planes and parameter sums stay in one task). */
static inline void cnnrt_f32_instancenorm_grad_avx2(int64_t n, int64_t c, int64_t spatial,
                                                    float eps, const float *x,
                                                    const float *scale, const float *dy,
                                                    float *dx, float *dscale, float *dbias,
                                                    const cnnrt_parallel *par) {
  cnnrt_bn_grad_avx2_task t = {n, c, spatial, cnnrt_norm_grad_avx2_tasks_(par, c), eps, x, scale,
                               NULL, NULL, dy, dx, dscale, dbias, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_instancenorm_grad_avx2_task_, &t, t.n_tasks);
}

/* LayerNormalization, one row: the same recipe with g = dy * scale in place of dy, and
 * dscale[j] += dy * xhat, dbias[j] += dy when those are given (float, as the reference). */
static inline void cnnrt_layernorm_grad_avx2_row_(const float *x, const float *scale,
                                                  const float *dy, float *dx, int64_t inner,
                                                  float eps, float *dscale, float *dbias) {
  const double count = (double)inner;
  const float shift = inner > 0 ? x[0] : 0.0f;
  const double m = inner > 0 ? (double)shift + cnnrt_norm_grad_avx2_sum_(x, inner, shift) / count
                             : 0.0;
  const float mf = (float)m;
  const double dm = (double)mf - m;
  const __m256 vm = _mm256_set1_ps(mf), one = _mm256_set1_ps(1.0f);
  /* sum d^2, sum g, sum g d with d = x - mf, g = dy * scale */
  double sq = 0.0, sg = 0.0, sgd = 0.0;
  for (int64_t b0 = 0; b0 < inner; b0 += CNNRT_NORM_GRAD_AVX2_BLOCK) {
    const int64_t b1 =
        b0 + CNNRT_NORM_GRAD_AVX2_BLOCK < inner ? b0 + CNNRT_NORM_GRAD_AVX2_BLOCK : inner;
    __m256 a_sq = _mm256_setzero_ps(), a_g = _mm256_setzero_ps(), a_gd = _mm256_setzero_ps();
    for (int64_t i = b0; i < b1; i += 8) {
      const __m256i mk = cnnrt_norm_grad_avx2_mask_(b1 - i < 8 ? b1 - i : 8);
      const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), vm),
                                     _mm256_castsi256_ps(mk));
      const __m256 s = scale ? _mm256_maskload_ps(scale + i, mk) : one;
      const __m256 g = _mm256_mul_ps(_mm256_maskload_ps(dy + i, mk), s);
      a_sq = _mm256_fmadd_ps(d, d, a_sq);
      a_g = _mm256_add_ps(a_g, g);
      a_gd = _mm256_fmadd_ps(g, d, a_gd);
    }
    sq += cnnrt_norm_grad_avx2_hsum_(a_sq);
    sg += cnnrt_norm_grad_avx2_hsum_(a_g);
    sgd += cnnrt_norm_grad_avx2_hsum_(a_gd);
  }
  const double sq_m = inner > 0 ? sq - count * dm * dm : 0.0;
  const double inv = 1.0 / sqrt((inner > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)eps);
  const double sgx = (sgd + dm * sg) * inv;
  /* dx = inv / M (M g - sg - xhat sgx), xhat = (d + dm) inv: dx = a g + b d + c */
  const __m256 va = _mm256_set1_ps((float)inv),
               vb = _mm256_set1_ps((float)(-inv * inv * sgx / count)),
               vc = _mm256_set1_ps((float)(-inv / count * (sg + inv * dm * sgx))),
               vinv = _mm256_set1_ps((float)inv), vxo = _mm256_set1_ps((float)(dm * inv));
  for (int64_t i = 0; i < inner; i += 8) {
    const __m256i mk = cnnrt_norm_grad_avx2_mask_(inner - i < 8 ? inner - i : 8);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + i, mk), vm);
    const __m256 gy = _mm256_maskload_ps(dy + i, mk);
    const __m256 g = scale ? _mm256_mul_ps(gy, _mm256_maskload_ps(scale + i, mk)) : gy;
    _mm256_maskstore_ps(dx + i, mk, _mm256_fmadd_ps(va, g, _mm256_fmadd_ps(vb, d, vc)));
    if (dscale) {
      const __m256 xhat = _mm256_fmadd_ps(d, vinv, vxo);
      _mm256_maskstore_ps(dscale + i, mk,
                          _mm256_fmadd_ps(gy, xhat, _mm256_maskload_ps(dscale + i, mk)));
    }
    if (dbias) {
      _mm256_maskstore_ps(dbias + i, mk, _mm256_add_ps(_mm256_maskload_ps(dbias + i, mk), gy));
    }
  }
}

typedef struct cnnrt_ln_grad_avx2_task {
  int64_t outer, inner, n_tasks;
  float eps;
  const float *x, *scale, *dy;
  float *dx, *dscale, *dbias;
} cnnrt_ln_grad_avx2_task;

static inline void cnnrt_layernorm_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_ln_grad_avx2_task *t = (const cnnrt_ln_grad_avx2_task *)arg;
  for (int64_t r = t->outer * task / t->n_tasks; r < t->outer * (task + 1) / t->n_tasks; r++) {
    cnnrt_layernorm_grad_avx2_row_(t->x + r * t->inner, t->scale, t->dy + r * t->inner,
                                   t->dx + r * t->inner, t->inner, t->eps, t->dscale, t->dbias);
  }
}

/* Same contract as cnnrt_f32_layernorm_grad_ref. Rows go over the threads of `par` only when
 * dscale and dbias are NULL: those sum over all rows, and the runtime has no scratch for
 * per-thread partial sums, so with them the rows run serially (in order, as the reference). */
static inline void cnnrt_f32_layernorm_grad_avx2(int64_t outer, int64_t inner, float eps,
                                                 const float *x, const float *scale,
                                                 const float *dy, float *dx, float *dscale,
                                                 float *dbias, const cnnrt_parallel *par) {
  for (int64_t j = 0; j < inner; j++) {
    if (dscale) {
      dscale[j] = 0.0f;
    }
    if (dbias) {
      dbias[j] = 0.0f;
    }
  }
  const int64_t tasks = dscale || dbias ? 1 : cnnrt_norm_grad_avx2_tasks_(par, outer);
  cnnrt_ln_grad_avx2_task t = {outer, inner, tasks, eps, x, scale, dy, dx, dscale, dbias};
  cnnrt_parallel_for(tasks > 1 ? par : NULL, cnnrt_layernorm_grad_avx2_task_, &t, tasks);
}

#undef CNNRT_NORM_GRAD_AVX2_BLOCK

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_NORM_GRAD_AVX2_H */
