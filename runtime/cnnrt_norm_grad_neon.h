/* cnnrt_norm_grad_neon.h — NEON forms (aarch64 ASIMD and ARMv7 NEON) of the BatchNormalization
 * (inference and training mode), InstanceNormalization, LayerNormalization, Softmax and
 * LogSoftmax gradients of cnnrt_norm_grad.h, same contracts; the mirror of
 * cnnrt_norm_grad_avx2.h.
 *
 * InstanceNormalization: the training-mode BatchNormalization recipe per (image, channel) plane,
 * channels over the threads. LayerNormalization: the same per row with g = dy * scale, rows over
 * the threads only when dscale and dbias are not asked for (they sum over all rows).
 *
 * BatchNormalization: per channel the reductions (sum (x - x_0) with x_0 the channel's first
 * element, for the mean; then sum (x - m_f)^2, sum dy, sum dy (x - m_f) in one pass) run in
 * float32x4 vectors over blocks of at most 256 elements; each block's lanes are added in double
 * (ARMv7 has no double lanes, so this is done on scalars on both profiles), so the error does not
 * grow with the plane size. m_f is the mean rounded to float and m - m_f is corrected for exactly
 * in the double sums, as in the AVX2 file. dx is one fused pass dx = a dy + b (x - m_f) + c with
 * per-channel constants computed in double. The n % 4 tail of each plane is scalar (in double).
 * Channels are split over the threads of `par` (NULL: serial).
 *
 * Softmax / LogSoftmax: rows along a contiguous axis (inner = 1) reduce in float vectors per
 * block, the total in double; strided axes (inner > 1) run 4 inner positions per vector, the
 * remaining positions scalar. LogSoftmax's exp is cnnrt_f32_exp_neon_ps (a few ulp).
 * Multiply-adds are fused on aarch64 and with VFPv4, VMLA otherwise (cnnrt_neon_fma).
 * Without NEON the functions run the scalar references. */
#ifndef CNNRT_NORM_GRAD_NEON_H
#define CNNRT_NORM_GRAD_NEON_H

#include <math.h>

#include "cnnrt.h"
#include "cnnrt_norm_grad.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include <arm_neon.h>

#define CNNRT_NORM_GRAD_NEON_BLOCK 256

/* The four lanes of v added in double. */
static inline double cnnrt_norm_grad_neon_hsum_(float32x4_t v) {
  return ((double)vgetq_lane_f32(v, 0) + (double)vgetq_lane_f32(v, 1)) +
         ((double)vgetq_lane_f32(v, 2) + (double)vgetq_lane_f32(v, 3));
}

/* sum of p[0..len) - shift in double, float vectors within blocks (see the AVX2 file: with
 * shift an element of the data the differences are small and exact near shift). */
static inline double cnnrt_norm_grad_neon_sum_(const float *p, int64_t len, float shift) {
  const float32x4_t vs = vdupq_n_f32(shift);
  double total = 0.0;
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_NEON_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_GRAD_NEON_BLOCK < len ? b0 + CNNRT_NORM_GRAD_NEON_BLOCK : len;
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int64_t i = b0;
    for (; i + 8 <= b1; i += 8) {
      s0 = vaddq_f32(s0, vsubq_f32(vld1q_f32(p + i), vs));
      s1 = vaddq_f32(s1, vsubq_f32(vld1q_f32(p + i + 4), vs));
    }
    for (; i + 4 <= b1; i += 4) {
      s0 = vaddq_f32(s0, vsubq_f32(vld1q_f32(p + i), vs));
    }
    total += cnnrt_norm_grad_neon_hsum_(vaddq_f32(s0, s1));
    for (; i < b1; i++) {
      total += (double)(p[i] - shift);
    }
  }
  return total;
}

/* Over a plane: sum d^2 (if sq), sum dy, sum dy * d with d = x - mf, added into the doubles. */
static inline void cnnrt_norm_grad_neon_moments_(const float *x, const float *dy, int64_t len,
                                                 float mf, double *sq, double *sdy,
                                                 double *sdyd) {
  const float32x4_t vm = vdupq_n_f32(mf);
  for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_NEON_BLOCK) {
    const int64_t b1 = b0 + CNNRT_NORM_GRAD_NEON_BLOCK < len ? b0 + CNNRT_NORM_GRAD_NEON_BLOCK : len;
    float32x4_t a_sq = vdupq_n_f32(0.0f), a_dy = vdupq_n_f32(0.0f), a_dyd = vdupq_n_f32(0.0f);
    int64_t i = b0;
    for (; i + 4 <= b1; i += 4) {
      const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vm);
      const float32x4_t g = vld1q_f32(dy + i);
      a_sq = cnnrt_neon_fma(a_sq, d, d);
      a_dy = vaddq_f32(a_dy, g);
      a_dyd = cnnrt_neon_fma(a_dyd, g, d);
    }
    double t_sq = cnnrt_norm_grad_neon_hsum_(a_sq), t_dy = cnnrt_norm_grad_neon_hsum_(a_dy),
           t_dyd = cnnrt_norm_grad_neon_hsum_(a_dyd);
    for (; i < b1; i++) {
      const double d = (double)(x[i] - mf);
      t_sq += d * d;
      t_dy += (double)dy[i];
      t_dyd += (double)dy[i] * d;
    }
    if (sq) {
      *sq += t_sq;
    }
    *sdy += t_dy;
    *sdyd += t_dyd;
  }
}

/* dx = a * dy + b * (x - mf) + c over a plane. */
static inline void cnnrt_norm_grad_neon_affine_(const float *x, const float *dy, float *dx,
                                                int64_t len, float mf, float a, float b, float c) {
  const float32x4_t vm = vdupq_n_f32(mf), va = vdupq_n_f32(a), vb = vdupq_n_f32(b),
                    vc = vdupq_n_f32(c);
  int64_t i = 0;
  for (; i + 4 <= len; i += 4) {
    const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vm);
    vst1q_f32(dx + i, cnnrt_neon_fma(cnnrt_neon_fma(vc, vb, d), va, vld1q_f32(dy + i)));
  }
  for (; i < len; i++) {
    dx[i] = a * dy[i] + (b * (x[i] - mf) + c);
  }
}

typedef struct cnnrt_bn_grad_neon_task {
  int64_t n, c, spatial, n_tasks;
  float eps;
  const float *x, *scale, *mean, *var, *dy;
  float *dx, *dscale, *dbias, *dmean, *dvar;
} cnnrt_bn_grad_neon_task;

static inline void cnnrt_bn_train_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_neon_task *t = (const cnnrt_bn_grad_neon_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  const double count = (double)(n * spatial);
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    const float shift = count > 0 ? t->x[ch * spatial] : 0.0f;
    double sum = 0.0;
    for (int64_t b = 0; b < n; b++) {
      sum += cnnrt_norm_grad_neon_sum_(t->x + (b * c + ch) * spatial, spatial, shift);
    }
    const double m = count > 0 ? (double)shift + sum / count : 0.0;
    const float mf = (float)m;
    const double dm = (double)mf - m; /* x - m = (x - mf) + dm */
    double sq = 0.0, sum_dy = 0.0, sdyd = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_neon_moments_(t->x + off, t->dy + off, spatial, mf, &sq, &sum_dy, &sdyd);
    }
    /* sum (x - m)^2 = sum (x - mf)^2 + 2 dm sum (x - mf) + M dm^2, sum (x - mf) = -M dm */
    const double sq_m = count > 0 ? sq - count * dm * dm : 0.0;
    const double inv =
        1.0 / sqrt((count > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)t->eps);
    const double sum_dy_xhat = (sdyd + dm * sum_dy) * inv;
    const double k = count > 0 ? (double)t->scale[ch] * inv / count : 0.0;
    /* dx = k (M dy - sum_dy - xhat sum_dy_xhat), xhat = ((x - mf) + dm) inv */
    const float a = (float)(k * count), bcoef = (float)(-k * inv * sum_dy_xhat),
                cc = (float)(-k * sum_dy - k * inv * sum_dy_xhat * dm);
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_neon_affine_(t->x + off, t->dy + off, t->dx + off, spatial, mf, a, bcoef,
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

static inline void cnnrt_bn_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_neon_task *t = (const cnnrt_bn_grad_neon_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    const double inv = 1.0 / sqrt((double)t->var[ch] + (double)t->eps);
    const float gain = (float)((double)t->scale[ch] * inv);
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_neon_moments_(t->x + off, t->dy + off, spatial, t->mean[ch], NULL, &sum_dy,
                                    &sum_dy_xc);
      if (t->dx) {
        cnnrt_norm_grad_neon_affine_(t->x + off, t->dy + off, t->dx + off, spatial, 0.0f, gain,
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
      t->dmean[ch] = (float)(-sum_dy * (double)t->scale[ch] * inv);
    }
    if (t->dvar) {
      t->dvar[ch] = (float)(-0.5 * sum_dy_xc * (double)t->scale[ch] * inv * inv * inv);
    }
  }
}

static inline int64_t cnnrt_norm_grad_neon_tasks_(const cnnrt_parallel *par, int64_t c) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < c ? threads : (c > 0 ? c : 1);
}

/* Same contract as cnnrt_f32_batchnorm_train_grad_ref (dscale, dbias may be NULL). */
static inline void cnnrt_f32_batchnorm_train_grad_neon(int64_t n, int64_t c, int64_t spatial,
                                                       float eps, const float *x,
                                                       const float *scale, const float *dy,
                                                       float *dx, float *dscale, float *dbias,
                                                       const cnnrt_parallel *par) {
  cnnrt_bn_grad_neon_task t = {n, c, spatial, cnnrt_norm_grad_neon_tasks_(par, c), eps, x, scale,
                               NULL, NULL, dy, dx, dscale, dbias, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_bn_train_grad_neon_task_, &t, t.n_tasks);
}

/* Same contract as cnnrt_f32_batchnorm_grad_ref (outputs other than dx may be NULL). */
static inline void cnnrt_f32_batchnorm_grad_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                                 const float *x, const float *scale,
                                                 const float *mean, const float *var,
                                                 const float *dy, float *dx, float *dscale,
                                                 float *dbias, float *dmean, float *dvar,
                                                 const cnnrt_parallel *par) {
  cnnrt_bn_grad_neon_task t = {n,    c,   spatial, cnnrt_norm_grad_neon_tasks_(par, c), eps, x,
                               scale, mean, var, dy, dx, dscale, dbias, dmean, dvar};
  cnnrt_parallel_for(par, cnnrt_bn_grad_neon_task_, &t, t.n_tasks);
}

/* Softmax (log = 0) or LogSoftmax (log = 1) gradient; same contracts as the references. */
static inline void cnnrt_f32_softmax_grad_any_neon_(int log, int64_t outer, int64_t len,
                                                    int64_t inner, const float *y,
                                                    const float *dy, float *dx) {
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++) {
      const float *yr = y + o * len, *gr = dy + o * len;
      float *dr = dx + o * len;
      /* softmax: dot = sum dy y; log-softmax: sum = sum dy */
      double acc = 0.0;
      for (int64_t b0 = 0; b0 < len; b0 += CNNRT_NORM_GRAD_NEON_BLOCK) {
        const int64_t b1 =
            b0 + CNNRT_NORM_GRAD_NEON_BLOCK < len ? b0 + CNNRT_NORM_GRAD_NEON_BLOCK : len;
        float32x4_t s = vdupq_n_f32(0.0f);
        int64_t i = b0;
        for (; i + 4 <= b1; i += 4) {
          const float32x4_t g = vld1q_f32(gr + i);
          s = log ? vaddq_f32(s, g) : cnnrt_neon_fma(s, g, vld1q_f32(yr + i));
        }
        acc += cnnrt_norm_grad_neon_hsum_(s);
        for (; i < b1; i++) {
          acc += log ? (double)gr[i] : (double)gr[i] * (double)yr[i];
        }
      }
      const float af = (float)acc;
      const float32x4_t va = vdupq_n_f32(af);
      int64_t i = 0;
      for (; i + 4 <= len; i += 4) {
        const float32x4_t yv = vld1q_f32(yr + i), g = vld1q_f32(gr + i);
        vst1q_f32(dr + i, log ? cnnrt_neon_fms(g, cnnrt_f32_exp_neon_ps(yv), va)
                              : vmulq_f32(yv, vsubq_f32(g, va)));
      }
      for (; i < len; i++) {
        dr[i] = log ? (float)((double)gr[i] - exp((double)yr[i]) * acc)
                    : (float)((double)yr[i] * ((double)gr[i] - acc));
      }
    }
    return;
  }
  /* strided axis: 4 inner positions per vector (sums over len in float; len is an axis of a
   * CNN tensor, small), the inner % 4 remaining positions as the reference */
  for (int64_t o = 0; o < outer; o++) {
    int64_t i = 0;
    for (; i + 4 <= inner; i += 4) {
      const int64_t base = o * len * inner + i;
      float32x4_t s = vdupq_n_f32(0.0f);
      for (int64_t k = 0; k < len; k++) {
        const float32x4_t g = vld1q_f32(dy + base + k * inner);
        s = log ? vaddq_f32(s, g) : cnnrt_neon_fma(s, g, vld1q_f32(y + base + k * inner));
      }
      for (int64_t k = 0; k < len; k++) {
        const float32x4_t yv = vld1q_f32(y + base + k * inner);
        const float32x4_t g = vld1q_f32(dy + base + k * inner);
        vst1q_f32(dx + base + k * inner, log ? cnnrt_neon_fms(g, cnnrt_f32_exp_neon_ps(yv), s)
                                             : vmulq_f32(yv, vsubq_f32(g, s)));
      }
    }
    for (; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      double acc = 0.0;
      for (int64_t k = 0; k < len; k++) {
        acc += log ? (double)dy[base + k * inner]
                   : (double)dy[base + k * inner] * (double)y[base + k * inner];
      }
      for (int64_t k = 0; k < len; k++) {
        const int64_t j = base + k * inner;
        dx[j] = log ? (float)((double)dy[j] - exp((double)y[j]) * acc)
                    : (float)((double)y[j] * ((double)dy[j] - acc));
      }
    }
  }
}

static inline void cnnrt_f32_softmax_grad_neon(int64_t outer, int64_t len, int64_t inner,
                                               const float *y, const float *dy, float *dx) {
  cnnrt_f32_softmax_grad_any_neon_(0, outer, len, inner, y, dy, dx);
}

static inline void cnnrt_f32_logsoftmax_grad_neon(int64_t outer, int64_t len, int64_t inner,
                                                  const float *y, const float *dy, float *dx) {
  cnnrt_f32_softmax_grad_any_neon_(1, outer, len, inner, y, dy, dx);
}

/* InstanceNormalization gradient of one (n, c) plane of `len` elements (the training-mode
 * BatchNormalization recipe above with the plane as the batch): writes dx, adds sum dy * xhat
 * and sum dy into the doubles. */
static inline void cnnrt_norm_grad_neon_plane_(const float *x, const float *dy, float *dx,
                                               int64_t len, float eps, float scale,
                                               double *sum_dy_xhat_out, double *sum_dy_out) {
  const double count = (double)len;
  const float shift = len > 0 ? x[0] : 0.0f;
  const double sum = cnnrt_norm_grad_neon_sum_(x, len, shift);
  const double m = len > 0 ? (double)shift + sum / count : 0.0;
  const float mf = (float)m;
  const double dm = (double)mf - m; /* x - m = (x - mf) + dm */
  double sq = 0.0, sum_dy = 0.0, sdyd = 0.0;
  cnnrt_norm_grad_neon_moments_(x, dy, len, mf, &sq, &sum_dy, &sdyd);
  const double sq_m = len > 0 ? sq - count * dm * dm : 0.0;
  const double inv = 1.0 / sqrt((len > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)eps);
  const double sum_dy_xhat = (sdyd + dm * sum_dy) * inv;
  const double k = len > 0 ? (double)scale * inv / count : 0.0;
  const float a = (float)(k * count), bcoef = (float)(-k * inv * sum_dy_xhat),
              cc = (float)(-k * sum_dy - k * inv * sum_dy_xhat * dm);
  cnnrt_norm_grad_neon_affine_(x, dy, dx, len, mf, a, bcoef, cc);
  *sum_dy_xhat_out += sum_dy_xhat;
  *sum_dy_out += sum_dy;
}

static inline void cnnrt_instancenorm_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_bn_grad_neon_task *t = (const cnnrt_bn_grad_neon_task *)arg;
  const int64_t n = t->n, c = t->c, spatial = t->spatial;
  for (int64_t ch = c * task / t->n_tasks; ch < c * (task + 1) / t->n_tasks; ch++) {
    double ds = 0.0, db = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const int64_t off = (b * c + ch) * spatial;
      cnnrt_norm_grad_neon_plane_(t->x + off, t->dy + off, t->dx + off, spatial, t->eps,
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
static inline void cnnrt_f32_instancenorm_grad_neon(int64_t n, int64_t c, int64_t spatial,
                                                    float eps, const float *x,
                                                    const float *scale, const float *dy,
                                                    float *dx, float *dscale, float *dbias,
                                                    const cnnrt_parallel *par) {
  cnnrt_bn_grad_neon_task t = {n, c, spatial, cnnrt_norm_grad_neon_tasks_(par, c), eps, x, scale,
                               NULL, NULL, dy, dx, dscale, dbias, NULL, NULL};
  cnnrt_parallel_for(par, cnnrt_instancenorm_grad_neon_task_, &t, t.n_tasks);
}

/* LayerNormalization, one row: the same recipe with g = dy * scale in place of dy, and
 * dscale[j] += dy * xhat, dbias[j] += dy when those are given (float, as the reference). The
 * inner % 4 tail is scalar. */
static inline void cnnrt_layernorm_grad_neon_row_(const float *x, const float *scale,
                                                  const float *dy, float *dx, int64_t inner,
                                                  float eps, float *dscale, float *dbias) {
  const double count = (double)inner;
  const float shift = inner > 0 ? x[0] : 0.0f;
  const double m = inner > 0 ? (double)shift + cnnrt_norm_grad_neon_sum_(x, inner, shift) / count
                             : 0.0;
  const float mf = (float)m;
  const double dm = (double)mf - m;
  const float32x4_t vm = vdupq_n_f32(mf), one = vdupq_n_f32(1.0f);
  /* sum d^2, sum g, sum g d with d = x - mf, g = dy * scale */
  double sq = 0.0, sg = 0.0, sgd = 0.0;
  for (int64_t b0 = 0; b0 < inner; b0 += CNNRT_NORM_GRAD_NEON_BLOCK) {
    const int64_t b1 =
        b0 + CNNRT_NORM_GRAD_NEON_BLOCK < inner ? b0 + CNNRT_NORM_GRAD_NEON_BLOCK : inner;
    float32x4_t a_sq = vdupq_n_f32(0.0f), a_g = a_sq, a_gd = a_sq;
    int64_t i = b0;
    for (; i + 4 <= b1; i += 4) {
      const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vm);
      const float32x4_t s = scale ? vld1q_f32(scale + i) : one;
      const float32x4_t g = vmulq_f32(vld1q_f32(dy + i), s);
      a_sq = cnnrt_neon_fma(a_sq, d, d);
      a_g = vaddq_f32(a_g, g);
      a_gd = cnnrt_neon_fma(a_gd, g, d);
    }
    double t_sq = cnnrt_norm_grad_neon_hsum_(a_sq), t_g = cnnrt_norm_grad_neon_hsum_(a_g),
           t_gd = cnnrt_norm_grad_neon_hsum_(a_gd);
    for (; i < b1; i++) {
      const double d = (double)(x[i] - mf);
      const double g = (double)(dy[i] * (scale ? scale[i] : 1.0f));
      t_sq += d * d;
      t_g += g;
      t_gd += g * d;
    }
    sq += t_sq;
    sg += t_g;
    sgd += t_gd;
  }
  const double sq_m = inner > 0 ? sq - count * dm * dm : 0.0;
  const double inv = 1.0 / sqrt((inner > 0 ? (sq_m > 0 ? sq_m : 0.0) / count : 0.0) + (double)eps);
  const double sgx = (sgd + dm * sg) * inv;
  /* dx = inv / M (M g - sg - xhat sgx), xhat = (d + dm) inv: dx = a g + b d + c */
  const float fa = (float)inv, fb = (float)(-inv * inv * sgx / count),
              fc = (float)(-inv / count * (sg + inv * dm * sgx)), fxo = (float)(dm * inv);
  const float32x4_t va = vdupq_n_f32(fa), vb = vdupq_n_f32(fb), vc = vdupq_n_f32(fc),
                    vxo = vdupq_n_f32(fxo);
  int64_t i = 0;
  for (; i + 4 <= inner; i += 4) {
    const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vm);
    const float32x4_t gy = vld1q_f32(dy + i);
    const float32x4_t g = scale ? vmulq_f32(gy, vld1q_f32(scale + i)) : gy;
    vst1q_f32(dx + i, cnnrt_neon_fma(cnnrt_neon_fma(vc, vb, d), va, g));
    if (dscale) {
      const float32x4_t xhat = cnnrt_neon_fma(vxo, d, va);
      vst1q_f32(dscale + i, cnnrt_neon_fma(vld1q_f32(dscale + i), gy, xhat));
    }
    if (dbias) {
      vst1q_f32(dbias + i, vaddq_f32(vld1q_f32(dbias + i), gy));
    }
  }
  for (; i < inner; i++) {
    const float d = x[i] - mf;
    const float g = scale ? dy[i] * scale[i] : dy[i];
    dx[i] = fa * g + (fb * d + fc);
    if (dscale) {
      dscale[i] += dy[i] * (d * fa + fxo);
    }
    if (dbias) {
      dbias[i] += dy[i];
    }
  }
}

typedef struct cnnrt_ln_grad_neon_task {
  int64_t outer, inner, n_tasks;
  float eps;
  const float *x, *scale, *dy;
  float *dx, *dscale, *dbias;
} cnnrt_ln_grad_neon_task;

static inline void cnnrt_layernorm_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_ln_grad_neon_task *t = (const cnnrt_ln_grad_neon_task *)arg;
  for (int64_t r = t->outer * task / t->n_tasks; r < t->outer * (task + 1) / t->n_tasks; r++) {
    cnnrt_layernorm_grad_neon_row_(t->x + r * t->inner, t->scale, t->dy + r * t->inner,
                                   t->dx + r * t->inner, t->inner, t->eps, t->dscale, t->dbias);
  }
}

/* Same contract as cnnrt_f32_layernorm_grad_ref. Rows go over the threads of `par` only when
 * dscale and dbias are NULL: those sum over all rows, and the runtime has no scratch for
 * per-thread partial sums, so with them the rows run serially (in order, as the reference). */
static inline void cnnrt_f32_layernorm_grad_neon(int64_t outer, int64_t inner, float eps,
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
  const int64_t tasks = dscale || dbias ? 1 : cnnrt_norm_grad_neon_tasks_(par, outer);
  cnnrt_ln_grad_neon_task t = {outer, inner, tasks, eps, x, scale, dy, dx, dscale, dbias};
  cnnrt_parallel_for(tasks > 1 ? par : NULL, cnnrt_layernorm_grad_neon_task_, &t, tasks);
}

#undef CNNRT_NORM_GRAD_NEON_BLOCK

#else /* no NEON: the scalar references (par unused) */

static inline void cnnrt_f32_batchnorm_train_grad_neon(int64_t n, int64_t c, int64_t spatial,
                                                       float eps, const float *x,
                                                       const float *scale, const float *dy,
                                                       float *dx, float *dscale, float *dbias,
                                                       const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_batchnorm_train_grad_ref(n, c, spatial, eps, x, scale, dy, dx, dscale, dbias);
}

static inline void cnnrt_f32_batchnorm_grad_neon(int64_t n, int64_t c, int64_t spatial, float eps,
                                                 const float *x, const float *scale,
                                                 const float *mean, const float *var,
                                                 const float *dy, float *dx, float *dscale,
                                                 float *dbias, float *dmean, float *dvar,
                                                 const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_batchnorm_grad_ref(n, c, spatial, eps, x, scale, mean, var, dy, dx, dscale, dbias,
                               dmean, dvar);
}

static inline void cnnrt_f32_softmax_grad_neon(int64_t outer, int64_t len, int64_t inner,
                                               const float *y, const float *dy, float *dx) {
  cnnrt_f32_softmax_grad_ref(outer, len, inner, y, dy, dx);
}

static inline void cnnrt_f32_logsoftmax_grad_neon(int64_t outer, int64_t len, int64_t inner,
                                                  const float *y, const float *dy, float *dx) {
  cnnrt_f32_logsoftmax_grad_ref(outer, len, inner, y, dy, dx);
}

static inline void cnnrt_f32_instancenorm_grad_neon(int64_t n, int64_t c, int64_t spatial,
                                                    float eps, const float *x,
                                                    const float *scale, const float *dy,
                                                    float *dx, float *dscale, float *dbias,
                                                    const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_instancenorm_grad_ref(n, c, spatial, eps, x, scale, dy, dx, dscale, dbias);
}

static inline void cnnrt_f32_layernorm_grad_neon(int64_t outer, int64_t inner, float eps,
                                                 const float *x, const float *scale,
                                                 const float *dy, float *dx, float *dscale,
                                                 float *dbias, const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_layernorm_grad_ref(outer, inner, eps, x, scale, dy, dx, dscale, dbias);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_NORM_GRAD_NEON_H */
