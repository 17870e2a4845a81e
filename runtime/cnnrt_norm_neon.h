/* cnnrt_norm_neon.h — NEON forms (aarch64 ASIMD and ARMv7 NEON) of the forward normalisation
 * kernels of cnnrt_norm.h: inference and training-mode BatchNormalization,
 * InstanceNormalization, LayerNormalization and the per-channel affine map; the mirror of
 * cnnrt_norm_avx2.h, same contracts (y may alias x), same `par` splitting (NULL: serial).
 *
 * Statistics: mean = shift + sum (x - shift) / count (shift the first element), variance
 * sum (x - m_f)^2 / count - (m_f - m)^2 with m_f the mean rounded to float; both sums in
 * float32x4 vectors over blocks of at most 256 elements whose lanes are added in double (on
 * scalars: ARMv7 has no double lanes), the n % 4 tail in double. Output: one fused pass
 * y = (x - m_f) * a + b with m - m_f folded into b, as the references.
 * Multiply-adds are fused on aarch64 and with VFPv4, VMLA otherwise (cnnrt_neon_fma).
 * Without NEON the functions run the scalar references. */
#ifndef CNNRT_NORM_NEON_H
#define CNNRT_NORM_NEON_H

#include <math.h>

#include "cnnrt.h"
#include "cnnrt_norm.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include <arm_neon.h>

#define CNNRT_NORM_NEON_BLOCK 256

/* The four lanes of v added in double. */
static inline double cnnrt_norm_neon_hsum_(float32x4_t v) {
  return ((double)vgetq_lane_f32(v, 0) + (double)vgetq_lane_f32(v, 1)) +
         ((double)vgetq_lane_f32(v, 2) + (double)vgetq_lane_f32(v, 3));
}

/* sum of (p[i] - shift) when sq is 0, of (p[i] - shift)^2 when sq is 1, over [0, len), in
 * double; float vectors within blocks. */
static inline double cnnrt_norm_neon_sum_(const float *p, int64_t len, float shift, int sq) {
  const float32x4_t vs = vdupq_n_f32(shift);
  double total = 0.0;
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_NEON_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_NEON_BLOCK < len ? b0 + CNNRT_NORM_NEON_BLOCK : len;
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int64_t i = b0;
    if (sq) {
      for (; i + 8 <= b1; i += 8) {
        const float32x4_t d0 = vsubq_f32(vld1q_f32(p + i), vs);
        const float32x4_t d1 = vsubq_f32(vld1q_f32(p + i + 4), vs);
        s0 = cnnrt_neon_fma(s0, d0, d0);
        s1 = cnnrt_neon_fma(s1, d1, d1);
      }
      for (; i + 4 <= b1; i += 4) {
        const float32x4_t d = vsubq_f32(vld1q_f32(p + i), vs);
        s0 = cnnrt_neon_fma(s0, d, d);
      }
    } else {
      for (; i + 8 <= b1; i += 8) {
        s0 = vaddq_f32(s0, vsubq_f32(vld1q_f32(p + i), vs));
        s1 = vaddq_f32(s1, vsubq_f32(vld1q_f32(p + i + 4), vs));
      }
      for (; i + 4 <= b1; i += 4) {
        s0 = vaddq_f32(s0, vsubq_f32(vld1q_f32(p + i), vs));
      }
    }
    total += cnnrt_norm_neon_hsum_(vaddq_f32(s0, s1));
    for (; i < b1; i++) {
      const double d = (double)(p[i] - shift);
      total += sq ? d * d : d;
    }
  }
  return total;
}

/* Mean and population variance of the `planes` planes p + k * stride of len elements each;
 * *mf the mean rounded to float, *corr = mf - mean. */
static inline void cnnrt_norm_neon_stats_(const float *p, int64_t planes, int64_t stride,
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
    sum += cnnrt_norm_neon_sum_(p + k * stride, len, shift, 0);
  }
  const double m = (double)shift + sum / count;
  const float f = (float)m;
  const double dm = (double)f - m;
  double sq = 0.0;
  for (int64_t k = 0; k < planes; k++) {
    sq += cnnrt_norm_neon_sum_(p + k * stride, len, f, 1);
  }
  const double v = sq / count - dm * dm; /* sum (x - f) = count dm */
  *mf = f;
  *corr = dm;
  *var = v > 0 ? v : 0.0;
}

/* y = (x - mf) * a + b over len elements. */
static inline void cnnrt_norm_neon_affine_(const float *x, float *y, int64_t len, float mf,
                                           float a, float b) {
  const float32x4_t vm = vdupq_n_f32(mf), va = vdupq_n_f32(a), vb = vdupq_n_f32(b);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const float32x4_t d0 = vsubq_f32(vld1q_f32(x + i), vm);
    const float32x4_t d1 = vsubq_f32(vld1q_f32(x + i + 4), vm);
    vst1q_f32(y + i, cnnrt_neon_fma(vb, d0, va));
    vst1q_f32(y + i + 4, cnnrt_neon_fma(vb, d1, va));
  }
  for (; i + 4 <= len; i += 4) {
    vst1q_f32(y + i, cnnrt_neon_fma(vb, vsubq_f32(vld1q_f32(x + i), vm), va));
  }
  for (; i < len; i++) {
    y[i] = (x[i] - mf) * a + b;
  }
}

static inline int64_t cnnrt_norm_neon_tasks_(const cnnrt_parallel *par, int64_t units) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < units ? threads : (units > 0 ? units : 1);
}

typedef struct cnnrt_norm_neon_task {
  int64_t n, c, spatial, n_tasks;
  float eps, momentum;
  const float *x, *scale, *bias, *mean, *var;
  float *y, *run_mean, *run_var;
} cnnrt_norm_neon_task;

static inline void cnnrt_channel_affine_neon_task_(void *arg, int64_t task) {
  const cnnrt_norm_neon_task *t = (const cnnrt_norm_neon_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    cnnrt_norm_neon_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial, 0.0f,
                            t->scale[ch], t->bias[ch]);
  }
}

static inline void cnnrt_f32_channel_affine_neon(int64_t n, int64_t c, int64_t spatial,
                                                 const float *x, const float *scale,
                                                 const float *shift, float *y,
                                                 const cnnrt_parallel *par) {
  cnnrt_norm_neon_task t = {n,    c,    spatial, cnnrt_norm_neon_tasks_(par, n * c), 0.0f, 0.0f, x,
                            scale, shift, NULL, NULL, y,  NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_channel_affine_neon_task_, &t, t.n_tasks);
}

static inline void cnnrt_batchnorm_neon_task_(void *arg, int64_t task) {
  const cnnrt_norm_neon_task *t = (const cnnrt_norm_neon_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    const float s = t->scale[ch] / sqrtf(t->var[ch] + t->eps); /* as the reference */
    cnnrt_norm_neon_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial,
                            t->mean[ch], s, t->bias[ch]);
  }
}

static inline void cnnrt_f32_batchnorm_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            const float *mean, const float *var, float *y,
                                            const cnnrt_parallel *par) {
  cnnrt_norm_neon_task t = {n,    c,    spatial, cnnrt_norm_neon_tasks_(par, n * c), eps, 0.0f, x,
                            scale, bias, mean, var, y,  NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_batchnorm_neon_task_, &t, t.n_tasks);
}

static inline void cnnrt_batchnorm_train_neon_task_(void *arg, int64_t task) {
  const cnnrt_norm_neon_task *t = (const cnnrt_norm_neon_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    float mf;
    double corr, v;
    cnnrt_norm_neon_stats_(t->x + ch * spatial, n, c * spatial, spatial, &mf, &corr, &v);
    const double s = (double)t->scale[ch] / sqrt(v + (double)t->eps);
    const float b = (float)((double)t->bias[ch] + corr * s);
    for (int64_t k = 0; k < n; k++) {
      const int64_t off = (k * c + ch) * spatial;
      cnnrt_norm_neon_affine_(t->x + off, t->y + off, spatial, mf, (float)s, b);
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

static inline void cnnrt_f32_batchnorm_train_neon(int64_t n, int64_t c, int64_t spatial,
                                                  float eps, float momentum, const float *x,
                                                  const float *scale, const float *bias,
                                                  const float *mean, const float *var, float *y,
                                                  float *run_mean, float *run_var,
                                                  const cnnrt_parallel *par) {
  cnnrt_norm_neon_task t = {n,    c,    spatial, cnnrt_norm_neon_tasks_(par, c), eps, momentum, x,
                            scale, bias, mean, var, y, run_mean, run_var};
  cnnrt_parallel_for(par, cnnrt_batchnorm_train_neon_task_, &t, t.n_tasks);
}

static inline void cnnrt_instancenorm_neon_task_(void *arg, int64_t task) {
  const cnnrt_norm_neon_task *t = (const cnnrt_norm_neon_task *)arg;
  const int64_t planes = t->n * t->c;
  for (int64_t p = planes * task / t->n_tasks; p < planes * (task + 1) / t->n_tasks; p++) {
    const int64_t ch = p % t->c;
    float mf;
    double corr, v;
    cnnrt_norm_neon_stats_(t->x + p * t->spatial, 1, 0, t->spatial, &mf, &corr, &v);
    const double a = (double)t->scale[ch] / sqrt(v + (double)t->eps);
    cnnrt_norm_neon_affine_(t->x + p * t->spatial, t->y + p * t->spatial, t->spatial, mf,
                            (float)a, (float)((double)t->bias[ch] + corr * a));
  }
}

static inline void cnnrt_f32_instancenorm_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                               const float *x, const float *scale,
                                               const float *bias, float *y,
                                               const cnnrt_parallel *par) {
  cnnrt_norm_neon_task t = {n,    c,    spatial, cnnrt_norm_neon_tasks_(par, n * c), eps, 0.0f, x,
                            scale, bias, NULL, NULL, y, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_instancenorm_neon_task_, &t, t.n_tasks);
}

typedef struct cnnrt_layernorm_neon_task {
  int64_t outer, inner, n_tasks;
  float eps;
  const float *x, *scale, *bias;
  float *y, *mean, *inv_std;
} cnnrt_layernorm_neon_task;

/* y = ((x - mf) + corr) * inv_std * scale + bias, as the reference. */
static inline void cnnrt_layernorm_neon_task_(void *arg, int64_t task) {
  const cnnrt_layernorm_neon_task *t = (const cnnrt_layernorm_neon_task *)arg;
  const int64_t inner = t->inner;
  const float32x4_t one = vdupq_n_f32(1.0f), zero = vdupq_n_f32(0.0f);
  for (int64_t r = t->outer * task / t->n_tasks; r < t->outer * (task + 1) / t->n_tasks; r++) {
    const float *xr = t->x + r * inner;
    float *yr = t->y + r * inner;
    float mf;
    double corr, v;
    cnnrt_norm_neon_stats_(xr, 1, 0, inner, &mf, &corr, &v);
    const float is = (float)(1.0 / sqrt(v + (double)t->eps)), cf = (float)corr;
    if (t->mean) {
      t->mean[r] = (float)((double)mf - corr);
    }
    if (t->inv_std) {
      t->inv_std[r] = is;
    }
    const float32x4_t vm = vdupq_n_f32(mf), vc = vdupq_n_f32(cf), vis = vdupq_n_f32(is);
    int64_t i = 0;
    for (; i + 4 <= inner; i += 4) {
      const float32x4_t d = vaddq_f32(vsubq_f32(vld1q_f32(xr + i), vm), vc);
      const float32x4_t sc = t->scale ? vld1q_f32(t->scale + i) : one;
      const float32x4_t bi = t->bias ? vld1q_f32(t->bias + i) : zero;
      vst1q_f32(yr + i, cnnrt_neon_fma(bi, vmulq_f32(d, vis), sc));
    }
    for (; i < inner; i++) {
      const float d = ((xr[i] - mf) + cf) * is;
      yr[i] = d * (t->scale ? t->scale[i] : 1.0f) + (t->bias ? t->bias[i] : 0.0f);
    }
  }
}

static inline void cnnrt_f32_layernorm_neon(int64_t outer, int64_t inner, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            float *y, float *mean, float *inv_std,
                                            const cnnrt_parallel *par) {
  cnnrt_layernorm_neon_task t = {outer, inner, cnnrt_norm_neon_tasks_(par, outer), eps, x, scale,
                                 bias,  y,     mean, inv_std};
  cnnrt_parallel_for(par, cnnrt_layernorm_neon_task_, &t, t.n_tasks);
}

#undef CNNRT_NORM_NEON_BLOCK

#else /* no NEON: the scalar references (par unused) */

static inline void cnnrt_f32_channel_affine_neon(int64_t n, int64_t c, int64_t spatial,
                                                 const float *x, const float *scale,
                                                 const float *shift, float *y,
                                                 const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_channel_affine_ref(n, c, spatial, x, scale, shift, y);
}

static inline void cnnrt_f32_batchnorm_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            const float *mean, const float *var, float *y,
                                            const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_batchnorm_ref(n, c, spatial, eps, x, scale, bias, mean, var, y);
}

static inline void cnnrt_f32_batchnorm_train_neon(int64_t n, int64_t c, int64_t spatial,
                                                  float eps, float momentum, const float *x,
                                                  const float *scale, const float *bias,
                                                  const float *mean, const float *var, float *y,
                                                  float *run_mean, float *run_var,
                                                  const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_batchnorm_train_ref(n, c, spatial, eps, momentum, x, scale, bias, mean, var, y,
                                run_mean, run_var);
}

static inline void cnnrt_f32_instancenorm_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                               const float *x, const float *scale,
                                               const float *bias, float *y,
                                               const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_instancenorm_ref(n, c, spatial, eps, x, scale, bias, y);
}

static inline void cnnrt_f32_layernorm_neon(int64_t outer, int64_t inner, float eps,
                                            const float *x, const float *scale, const float *bias,
                                            float *y, float *mean, float *inv_std,
                                            const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_layernorm_ref(outer, inner, eps, x, scale, bias, y, mean, inv_std);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_NORM_NEON_H */
