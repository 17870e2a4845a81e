/* cnnrt_norm_grad.h — gradients of BatchNormalization (inference and training mode), Softmax
 * and LogSoftmax (float32 scalar references; sums in double).
 *
 * Inference mode is a per-channel affine map with the running statistics as parameters, so it
 * has gradients for all five inputs. Training mode normalises with the batch statistics, which
 * the gradient recomputes from x (no saved statistics are needed from the forward node). */
#ifndef CNNRT_NORM_GRAD_H
#define CNNRT_NORM_GRAD_H

#include "cnnrt.h"

/* y = (x - mean) / sqrt(var + eps) * scale + bias. Outputs other than dx may be NULL. */
static inline void cnnrt_f32_batchnorm_grad_ref(int64_t n, int64_t c, int64_t spatial, float eps,
                                                const float *x, const float *scale,
                                                const float *mean, const float *var,
                                                const float *dy, float *dx, float *dscale,
                                                float *dbias, float *dmean, float *dvar) {
  for (int64_t ch = 0; ch < c; ch++) {
    const double inv = 1.0 / sqrt((double)var[ch] + (double)eps);
    const float gain = (float)(scale[ch] * inv);
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      const float *dyp = dy + (b * c + ch) * spatial;
      float *dxp = dx + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        sum_dy += dyp[i];
        sum_dy_xc += (double)dyp[i] * ((double)xp[i] - (double)mean[ch]);
        dxp[i] = dyp[i] * gain;
      }
    }
    if (dscale) {
      dscale[ch] = (float)(sum_dy_xc * inv);
    }
    if (dbias) {
      dbias[ch] = (float)sum_dy;
    }
    if (dmean) {
      dmean[ch] = (float)(-sum_dy * scale[ch] * inv);
    }
    if (dvar) {
      dvar[ch] = (float)(-0.5 * sum_dy_xc * scale[ch] * inv * inv * inv);
    }
  }
}

/* Training mode: mean and biased variance over N and the spatial axes.
 *   dx = scale * inv / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)),  M = n * spatial. */
static inline void cnnrt_f32_batchnorm_train_grad_ref(int64_t n, int64_t c, int64_t spatial,
                                                      float eps, const float *x,
                                                      const float *scale, const float *dy,
                                                      float *dx, float *dscale, float *dbias) {
  const double count = (double)(n * spatial);
  for (int64_t ch = 0; ch < c; ch++) {
    double sum = 0.0, sq = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        sum += xp[i];
      }
    }
    const double m = count > 0 ? sum / count : 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        sq += ((double)xp[i] - m) * ((double)xp[i] - m);
      }
    }
    const double inv = 1.0 / sqrt((count > 0 ? sq / count : 0.0) + (double)eps);
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      const float *dyp = dy + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        sum_dy += dyp[i];
        sum_dy_xhat += (double)dyp[i] * ((double)xp[i] - m) * inv;
      }
    }
    const double k = count > 0 ? (double)scale[ch] * inv / count : 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      const float *dyp = dy + (b * c + ch) * spatial;
      float *dxp = dx + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        const double xhat = ((double)xp[i] - m) * inv;
        dxp[i] = (float)(k * (count * dyp[i] - sum_dy - xhat * sum_dy_xhat));
      }
    }
    if (dscale) {
      dscale[ch] = (float)sum_dy_xhat;
    }
    if (dbias) {
      dbias[ch] = (float)sum_dy;
    }
  }
}

/* Softmax along an axis of length `len` (tensor viewed as [outer, len, inner]), from its output:
 * dx = y * (dy - sum(dy * y)). */
static inline void cnnrt_f32_softmax_grad_ref(int64_t outer, int64_t len, int64_t inner,
                                              const float *y, const float *dy, float *dx) {
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      double dot = 0.0;
      for (int64_t k = 0; k < len; k++) {
        dot += (double)dy[base + k * inner] * y[base + k * inner];
      }
      for (int64_t k = 0; k < len; k++) {
        const int64_t j = base + k * inner;
        dx[j] = (float)(y[j] * (dy[j] - dot));
      }
    }
  }
}

/* LogSoftmax from its output: dx = dy - exp(y) * sum(dy). */
static inline void cnnrt_f32_logsoftmax_grad_ref(int64_t outer, int64_t len, int64_t inner,
                                                 const float *y, const float *dy, float *dx) {
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      double sum = 0.0;
      for (int64_t k = 0; k < len; k++) {
        sum += dy[base + k * inner];
      }
      for (int64_t k = 0; k < len; k++) {
        const int64_t j = base + k * inner;
        dx[j] = (float)(dy[j] - exp((double)y[j]) * sum);
      }
    }
  }
}

/* InstanceNormalization (statistics per (n, c) plane; scale and bias per channel):
 *   dx = scale * inv / S * (S * dy - sum(dy) - xhat * sum(dy * xhat)) per plane,
 *   dscale[c] = sum over n of sum(dy * xhat), dbias[c] = sum over n of sum(dy). */
static inline void cnnrt_f32_instancenorm_grad_ref(int64_t n, int64_t c, int64_t spatial,
                                                   float eps, const float *x, const float *scale,
                                                   const float *dy, float *dx, float *dscale,
                                                   float *dbias) {
  for (int64_t ch = 0; ch < c; ch++) {
    double ds = 0.0, db = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      const float *dyp = dy + (b * c + ch) * spatial;
      float *dxp = dx + (b * c + ch) * spatial;
      double sum = 0.0, sq = 0.0, sdy = 0.0, sdyx = 0.0;
      for (int64_t i = 0; i < spatial; i++) {
        sum += xp[i];
      }
      const double m = spatial > 0 ? sum / (double)spatial : 0.0;
      for (int64_t i = 0; i < spatial; i++) {
        sq += ((double)xp[i] - m) * ((double)xp[i] - m);
      }
      const double inv = 1.0 / sqrt((spatial > 0 ? sq / (double)spatial : 0.0) + (double)eps);
      for (int64_t i = 0; i < spatial; i++) {
        sdy += dyp[i];
        sdyx += (double)dyp[i] * ((double)xp[i] - m) * inv;
      }
      const double k = spatial > 0 ? (double)scale[ch] * inv / (double)spatial : 0.0;
      for (int64_t i = 0; i < spatial; i++) {
        const double xhat = ((double)xp[i] - m) * inv;
        dxp[i] = (float)(k * ((double)spatial * dyp[i] - sdy - xhat * sdyx));
      }
      ds += sdyx;
      db += sdy;
    }
    if (dscale) {
      dscale[ch] = (float)ds;
    }
    if (dbias) {
      dbias[ch] = (float)db;
    }
  }
}

/* LayerNormalization over the trailing `inner` elements of each of `outer` rows; scale and bias
 * (NULL allowed) have `inner` elements:
 *   g = dy * scale,  dx = inv / inner * (inner * g - sum(g) - xhat * sum(g * xhat)),
 *   dscale = sum over rows of dy * xhat, dbias = sum over rows of dy. */
static inline void cnnrt_f32_layernorm_grad_ref(int64_t outer, int64_t inner, float eps,
                                                const float *x, const float *scale,
                                                const float *dy, float *dx, float *dscale,
                                                float *dbias) {
  if (dscale) {
    for (int64_t j = 0; j < inner; j++) {
      dscale[j] = 0.0f;
    }
  }
  if (dbias) {
    for (int64_t j = 0; j < inner; j++) {
      dbias[j] = 0.0f;
    }
  }
  for (int64_t r = 0; r < outer; r++) {
    const float *xr = x + r * inner;
    const float *dyr = dy + r * inner;
    float *dxr = dx + r * inner;
    double sum = 0.0, sq = 0.0, sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < inner; j++) {
      sum += xr[j];
    }
    const double m = inner > 0 ? sum / (double)inner : 0.0;
    for (int64_t j = 0; j < inner; j++) {
      sq += ((double)xr[j] - m) * ((double)xr[j] - m);
    }
    const double inv = 1.0 / sqrt((inner > 0 ? sq / (double)inner : 0.0) + (double)eps);
    for (int64_t j = 0; j < inner; j++) {
      const double xhat = ((double)xr[j] - m) * inv;
      const double gj = (double)dyr[j] * (scale ? (double)scale[j] : 1.0);
      sg += gj;
      sgx += gj * xhat;
      if (dscale) {
        dscale[j] += (float)((double)dyr[j] * xhat);
      }
      if (dbias) {
        dbias[j] += dyr[j];
      }
    }
    for (int64_t j = 0; j < inner; j++) {
      const double xhat = ((double)xr[j] - m) * inv;
      const double gj = (double)dyr[j] * (scale ? (double)scale[j] : 1.0);
      dxr[j] = (float)(inv / (double)inner * ((double)inner * gj - sg - xhat * sgx));
    }
  }
}

/* Entry points of generated code (vectorized forms may take over; same contract). */
static inline void cnnrt_f32_batchnorm_grad(int64_t n, int64_t c, int64_t spatial, float eps,
                                            const float *x, const float *scale, const float *mean,
                                            const float *var, const float *dy, float *dx,
                                            float *dscale, float *dbias, float *dmean,
                                            float *dvar) {
  cnnrt_f32_batchnorm_grad_ref(n, c, spatial, eps, x, scale, mean, var, dy, dx, dscale, dbias,
                               dmean, dvar);
}

static inline void cnnrt_f32_batchnorm_train_grad(int64_t n, int64_t c, int64_t spatial,
                                                  float eps, const float *x, const float *scale,
                                                  const float *dy, float *dx, float *dscale,
                                                  float *dbias) {
  cnnrt_f32_batchnorm_train_grad_ref(n, c, spatial, eps, x, scale, dy, dx, dscale, dbias);
}

#endif /* CNNRT_NORM_GRAD_H */
