/* cnnrt_norm.h — portable float normalisation and softmax kernels: inference
 * BatchNormalization (as a per-channel affine map), InstanceNormalization, LayerNormalization,
 * LRN, Softmax, LogSoftmax and Hardmax, on dense row-major tensors.
 *
 * The compiler flattens every tensor to the 2-D or 3-D view a kernel takes:
 *  - [n, c, spatial] for the channel ops (spatial = product of the dims after C, 1 for N x C);
 *  - [outer, inner] for LayerNormalization at `axis` (outer = product of dims before axis);
 *  - [outer, axis_len, inner] for Softmax/LogSoftmax/Hardmax: opset >= 13 reduces one axis
 *    (outer = dims before it, inner = dims after it); opsets < 13 coerce to 2-D, i.e.
 *    axis_len = product of the dims from axis on and inner = 1.
 * Statistics (means, variances, softmax sums) are accumulated in double so that long rows
 * lose no precision; everything else is float.  Unless a kernel says otherwise y may alias x
 * (each element is read before it is written). */
#ifndef CNNRT_NORM_H
#define CNNRT_NORM_H

#include "cnnrt.h"

/* ---- BatchNormalization (inference) ---- */

/* y = x * scale[ch] + shift[ch].  The compiler folds BatchNormalization's mean, var, epsilon,
 * scale and B into scale' = scale / sqrt(var + epsilon), shift' = B - mean * scale'. */
static inline void cnnrt_f32_channel_affine_ref(int64_t n, int64_t c, int64_t spatial,
                                                const float *x, const float *scale,
                                                const float *shift, float *y) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      const int64_t base = (b * c + ch) * spatial;
      const float a = scale[ch], s = shift[ch];
      for (int64_t i = 0; i < spatial; i++) {
        y[base + i] = x[base + i] * a + s;
      }
    }
  }
}

/* ---- Shared row statistics ---- */

/* Mean and population variance of v[0..len) in two passes (no cancellation). */
static inline void cnnrt_norm__meanvar(const float *v, int64_t len, double *mean, double *var) {
  double s = 0.0;
  for (int64_t i = 0; i < len; i++) {
    s += (double)v[i];
  }
  const double m = len > 0 ? s / (double)len : 0.0;
  double q = 0.0;
  for (int64_t i = 0; i < len; i++) {
    const double d = (double)v[i] - m;
    q += d * d;
  }
  *mean = m;
  *var = len > 0 ? q / (double)len : 0.0;
}

/* ---- InstanceNormalization ---- */

/* y = scale[ch] * (x - mean) / sqrt(var + eps) + bias[ch], mean and population variance over
 * the spatial extent of each (batch, channel). */
static inline void cnnrt_f32_instancenorm_ref(int64_t n, int64_t c, int64_t spatial, float eps,
                                              const float *x, const float *scale,
                                              const float *bias, float *y) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      const int64_t base = (b * c + ch) * spatial;
      double mean, var;
      cnnrt_norm__meanvar(x + base, spatial, &mean, &var);
      /* (x - mean) * a + bias rather than x * a + (bias - mean * a): the latter cancels
       * catastrophically when |mean| >> std. */
      const float m = (float)mean;
      const double a_d = (double)scale[ch] / sqrt(var + (double)eps);
      const float a = (float)a_d;
      /* x - mean = (x - m) + (m - mean): the second term, below float resolution of the mean
       * but not of the output, is folded into the offset */
      const float s = (float)((double)bias[ch] + ((double)m - mean) * a_d);
      for (int64_t i = 0; i < spatial; i++) {
        y[base + i] = (x[base + i] - m) * a + s;
      }
    }
  }
}

/* ---- LayerNormalization ---- */

/* Each of the `outer` rows of `inner` elements is normalised: y = (x - mean) * inv_std *
 * scale[i] + bias[i], inv_std = 1 / sqrt(var + eps) (population variance).  scale and bias
 * hold `inner` elements (the compiler materialises broadcast ones); NULL scale means 1, NULL
 * bias means 0.  mean and inv_std, when not NULL, receive the per-row statistics (the
 * optional Mean and InvStdDev outputs, `outer` elements each). */
static inline void cnnrt_f32_layernorm_ref(int64_t outer, int64_t inner, float eps,
                                           const float *x, const float *scale,
                                           const float *bias, float *y, float *mean,
                                           float *inv_std) {
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * inner;
    float *yr = y + o * inner;
    double mu, var;
    cnnrt_norm__meanvar(xr, inner, &mu, &var);
    const float m = (float)mu;
    const float corr = (float)((double)m - mu); /* x - mu = (x - m) + corr */
    const float is = (float)(1.0 / sqrt(var + (double)eps));
    if (mean != NULL) {
      mean[o] = m;
    }
    if (inv_std != NULL) {
      inv_std[o] = is;
    }
    if (scale != NULL && bias != NULL) {
      for (int64_t i = 0; i < inner; i++) {
        yr[i] = ((xr[i] - m) + corr) * is * scale[i] + bias[i];
      }
    } else if (scale != NULL) {
      for (int64_t i = 0; i < inner; i++) {
        yr[i] = ((xr[i] - m) + corr) * is * scale[i];
      }
    } else { /* no scale: not valid ONNX, kept so that NULL means 1 consistently */
      for (int64_t i = 0; i < inner; i++) {
        yr[i] = ((xr[i] - m) + corr) * is + (bias != NULL ? bias[i] : 0.0f);
      }
    }
  }
}

/* ---- LRN ---- */

/* ONNX LRN across channels: square_sum[ch] = sum of x[k]^2 for k in [ch - floor((size-1)/2),
 * ch + ceil((size-1)/2)] clipped to [0, c), y = x / (bias + alpha / size * square_sum)^beta.
 * Float arithmetic throughout, as the numpy reference.  y must NOT alias x (it holds the
 * running square sums while neighbouring channels of x are still needed). */
static inline void cnnrt_f32_lrn_ref(int64_t n, int64_t c, int64_t spatial, int64_t size,
                                     float alpha, float beta, float bias, const float *x,
                                     float *y) {
  const float coef = alpha / (float)size;
  const int64_t before = (size - 1) / 2, after = size / 2; /* floor, ceil of (size - 1) / 2 */
  for (int64_t b = 0; b < n; b++) {
    const float *xb = x + b * c * spatial;
    float *yb = y + b * c * spatial;
    for (int64_t ch = 0; ch < c; ch++) {
      const int64_t lo = ch - before < 0 ? 0 : ch - before;
      const int64_t hi = ch + after > c - 1 ? c - 1 : ch + after;
      float *ys = yb + ch * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        ys[i] = 0.0f;
      }
      for (int64_t k = lo; k <= hi; k++) { /* channel order, as the reference sums */
        const float *xk = xb + k * spatial;
        for (int64_t i = 0; i < spatial; i++) {
          ys[i] += xk[i] * xk[i];
        }
      }
      const float *xs = xb + ch * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        ys[i] = xs[i] / powf(bias + coef * ys[i], beta);
      }
    }
  }
}

/* ---- Softmax family ---- */

/* Inner positions processed together when inner > 1: the reductions then run over rows of
 * contiguous elements (stack use 64 floats + 64 doubles). */
#define CNNRT_SOFTMAX_CHUNK 64

/* kind 0 softmax, 1 log-softmax.  Max-subtracted: y = exp(x - max) / sum, or (x - max) -
 * log(sum).  A NaN in a row makes the whole row NaN (through the sum), as numpy. */
static inline void cnnrt_softmax__impl(int kind, int64_t outer, int64_t axis_len, int64_t inner,
                                       const float *x, float *y) {
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++) {
      const float *xr = x + o * axis_len;
      float *yr = y + o * axis_len;
      float mx = -INFINITY;
      for (int64_t a = 0; a < axis_len; a++) {
        mx = xr[a] > mx ? xr[a] : mx;
      }
      double sum = 0.0;
      if (kind == 0) {
        for (int64_t a = 0; a < axis_len; a++) {
          const float e = expf(xr[a] - mx);
          yr[a] = e;
          sum += (double)e;
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t a = 0; a < axis_len; a++) {
          yr[a] *= inv;
        }
      } else {
        for (int64_t a = 0; a < axis_len; a++) {
          sum += (double)expf(xr[a] - mx);
        }
        const float ls = (float)log(sum);
        for (int64_t a = 0; a < axis_len; a++) {
          yr[a] = (xr[a] - mx) - ls;
        }
      }
    }
    return;
  }
  float mx[CNNRT_SOFTMAX_CHUNK];
  double sum[CNNRT_SOFTMAX_CHUNK];
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * axis_len * inner;
    float *yo = y + o * axis_len * inner;
    for (int64_t i0 = 0; i0 < inner; i0 += CNNRT_SOFTMAX_CHUNK) {
      const int64_t nb = inner - i0 < CNNRT_SOFTMAX_CHUNK ? inner - i0 : CNNRT_SOFTMAX_CHUNK;
      for (int64_t j = 0; j < nb; j++) {
        mx[j] = -INFINITY;
        sum[j] = 0.0;
      }
      for (int64_t a = 0; a < axis_len; a++) {
        const float *xa = xo + a * inner + i0;
        for (int64_t j = 0; j < nb; j++) {
          mx[j] = xa[j] > mx[j] ? xa[j] : mx[j];
        }
      }
      for (int64_t a = 0; a < axis_len; a++) {
        const float *xa = xo + a * inner + i0;
        float *ya = yo + a * inner + i0;
        for (int64_t j = 0; j < nb; j++) {
          const float e = expf(xa[j] - mx[j]);
          if (kind == 0) {
            ya[j] = e;
          }
          sum[j] += (double)e;
        }
      }
      if (kind == 0) {
        for (int64_t j = 0; j < nb; j++) {
          sum[j] = 1.0 / sum[j];
        }
        for (int64_t a = 0; a < axis_len; a++) {
          float *ya = yo + a * inner + i0;
          for (int64_t j = 0; j < nb; j++) {
            ya[j] *= (float)sum[j];
          }
        }
      } else {
        for (int64_t j = 0; j < nb; j++) {
          sum[j] = log(sum[j]);
        }
        for (int64_t a = 0; a < axis_len; a++) {
          const float *xa = xo + a * inner + i0;
          float *ya = yo + a * inner + i0;
          for (int64_t j = 0; j < nb; j++) {
            ya[j] = (xa[j] - mx[j]) - (float)sum[j];
          }
        }
      }
    }
  }
}

/* Softmax over the middle axis of x[outer][axis_len][inner]. */
static inline void cnnrt_f32_softmax_ref(int64_t outer, int64_t axis_len, int64_t inner,
                                         const float *x, float *y) {
  cnnrt_softmax__impl(0, outer, axis_len, inner, x, y);
}

/* LogSoftmax over the middle axis of x[outer][axis_len][inner]. */
static inline void cnnrt_f32_logsoftmax_ref(int64_t outer, int64_t axis_len, int64_t inner,
                                            const float *x, float *y) {
  cnnrt_softmax__impl(1, outer, axis_len, inner, x, y);
}

/* Hardmax over the middle axis: 1 at the first maximum of each line, 0 elsewhere.  A NaN
 * counts as the maximum (first NaN wins), as numpy's argmax. */
static inline void cnnrt_f32_hardmax_ref(int64_t outer, int64_t axis_len, int64_t inner,
                                         const float *x, float *y) {
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      const float *xl = x + o * axis_len * inner + i;
      float *yl = y + o * axis_len * inner + i;
      int64_t best = 0;
      for (int64_t a = 1; a < axis_len; a++) {
        const float v = xl[a * inner], bv = xl[best * inner];
        if (bv == bv && (v > bv || v != v)) {
          best = a;
        }
      }
      for (int64_t a = 0; a < axis_len; a++) {
        yl[a * inner] = a == best ? 1.0f : 0.0f;
      }
    }
  }
}

/* Inference BatchNormalization with parameters known only at run time (graph inputs):
 * y = (x - mean) * s + bias, s = scale / sqrt(var + eps) (x - mean first, as ONNX defines it:
 * x * s + (bias - mean * s) cancels when |mean| >> std). */
static inline void cnnrt_f32_batchnorm_ref(int64_t n, int64_t c, int64_t spatial, float eps,
                                           const float *x, const float *scale, const float *bias,
                                           const float *mean, const float *var, float *y) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      const float s = scale[ch] / sqrtf(var[ch] + eps);
      const float m = mean[ch], t = bias[ch];
      const float *xp = x + (b * c + ch) * spatial;
      float *yp = y + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        yp[i] = (xp[i] - m) * s + t;
      }
    }
  }
}

/* Training-mode BatchNormalization (ONNX training_mode=1): normalises with the batch statistics
 * (mean and biased variance over N and the spatial axes) and updates the running statistics:
 * run_mean = mean * momentum + batch_mean * (1 - momentum), likewise for the variance.
 * run_mean / run_var may be NULL. */
static inline void cnnrt_f32_batchnorm_train_ref(int64_t n, int64_t c, int64_t spatial,
                                                 float eps, float momentum, const float *x,
                                                 const float *scale, const float *bias,
                                                 const float *mean, const float *var, float *y,
                                                 float *run_mean, float *run_var) {
  const double count = (double)(n * spatial);
  for (int64_t ch = 0; ch < c; ch++) {
    double sum = 0.0, sq = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        sum += (double)xp[i];
      }
    }
    const double m = count > 0 ? sum / count : 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        const double dlt = (double)xp[i] - m;
        sq += dlt * dlt;
      }
    }
    const double v = count > 0 ? sq / count : 0.0;
    const double s_d = (double)scale[ch] / sqrt(v + (double)eps);
    const float s = (float)s_d;
    /* y = (x - mf) * s + t with mf the mean rounded to float and m - mf folded into t: x - mf
     * is exact near the mean, where x * s + (bias - m * s) would cancel when |m| >> std */
    const float mf = (float)m;
    const float t = (float)((double)bias[ch] + ((double)mf - m) * s_d);
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial;
      float *yp = y + (b * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; i++) {
        yp[i] = (xp[i] - mf) * s + t;
      }
    }
    if (run_mean) {
      run_mean[ch] = (float)((double)mean[ch] * (double)momentum + m * (1.0 - (double)momentum));
    }
    if (run_var) {
      run_var[ch] = (float)((double)var[ch] * (double)momentum + v * (1.0 - (double)momentum));
    }
  }
}

#endif /* CNNRT_NORM_H */
