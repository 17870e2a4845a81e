/* cnnrt_nchwc.h — the channel-blocked layout NCHW8c and the portable convolutions on it.
 *
 * A float32 tensor [n, c, h, w] with c a multiple of 8 is stored in NCHW8c as
 * [n][c / 8][h][w][8]: element (b, ch, i) of the plain tensor (i the pixel index in the plane)
 * sits at ((b * c / 8 + ch / 8) * h * w + i) * 8 + ch % 8. Same bytes, different order.
 *
 * Why: depthwise and 1x1 convolutions vectorise over channels. On NCHW every depthwise kernel
 * either wastes lanes on short rows or transposes 8 planes in and out (cnnrt_dwconv_c8_avx2.h),
 * and the 1x1 GEMM writes its output as rows of 16 pixels scattered over the planes. On NCHW8c
 * a depthwise tap is one vector load and one FMA, and a 1x1 convolution writes 8 channels of a
 * pixel as one vector. The compiler's layout pass (compiler/passes/layout.c) keeps the values
 * between such convolutions blocked; a 1x1 convolution converts at the edges (it reads plain or
 * blocked input, and writes plain or blocked output).
 *
 * This header: the weight layouts (portable: the compiler packs at build time) and the portable
 * references, which the generated code runs where AVX2 is not compiled in. The AVX2 kernels are
 * in cnnrt_nchwc_avx2.h. Only 2-D convolutions with group 1 and a 1x1 kernel (pointwise) or with
 * group == c_in == c_out (depthwise) are blocked; act is NONE, RELU, CLIP, SILU or HARD_SWISH.
 * Fusions the kernels take (compiler/passes/fuse.c): a pointwise convolution's input-channel
 * scale (a squeeze-excitation Mul, applied as x is read, as the Mul would have rounded it) and a
 * depthwise convolution's GlobalAveragePool of its output (the means of each channel, summed in
 * the order of cnnrt_f32_global_avgpool_ref: bit-identical to the pool on the same values). */
#ifndef CNNRT_NCHWC_H
#define CNNRT_NCHWC_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_pool.h" /* cnnrt_pool_reduce_strided: the fused pool's sums */

#define CNNRT_NCHWC_B 8 /* channels per block */

/* Index of element (b, ch, i) of a [n, c, plane] tensor in `blocked` (NCHW8c)
 * or plain order. */
static inline int64_t cnnrt_nchwc_index(int blocked, int64_t c, int64_t plane, int64_t b,
                                        int64_t ch, int64_t i) {
  if (!blocked) {
    return (b * c + ch) * plane + i;
  }
  return ((b * c + (ch & ~(int64_t)7)) * plane) + i * 8 + (ch & 7);
}

/* Reorders a [n, c, plane] tensor from plain to NCHW8c (to_blocked 1) or back
 * (0). */
static inline void cnnrt_f32_nchwc_reorder(int to_blocked, int64_t n, int64_t c, int64_t plane,
                                           const float *x, float *y) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      for (int64_t i = 0; i < plane; i++) {
        const int64_t pi = cnnrt_nchwc_index(0, c, plane, b, ch, i);
        const int64_t bi = cnnrt_nchwc_index(1, c, plane, b, ch, i);
        if (to_blocked) {
          y[bi] = x[pi];
        } else {
          y[pi] = x[bi];
        }
      }
    }
  }
}

/* Whether a convolution is one the blocked kernels compute. */
static inline int cnnrt_nchwc_act_ok(int64_t act) {
  return act == CNNRT_ACT_NONE || act == CNNRT_ACT_RELU || act == CNNRT_ACT_CLIP ||
         act == CNNRT_ACT_SILU || act == CNNRT_ACT_HARD_SWISH;
}
static inline int cnnrt_nchwc_pointwise_applies(const cnnrt_conv_params *p) {
  return p->spatial == 2 && p->group == 1 && p->kernel[0] == 1 && p->kernel[1] == 1 &&
         p->stride[0] == 1 && p->stride[1] == 1 && p->pad_begin[0] == 0 && p->pad_begin[1] == 0 &&
         p->in[0] == p->out[0] && p->in[1] == p->out[1] && p->c_out % CNNRT_NCHWC_B == 0 &&
         p->c_out > 0 && p->c_in > 0 && cnnrt_nchwc_act_ok(p->act);
}
static inline int cnnrt_nchwc_depthwise_applies(const cnnrt_conv_params *p) {
  return p->spatial == 2 && p->group == p->c_in && p->group == p->c_out &&
         p->c_in % CNNRT_NCHWC_B == 0 && p->c_in > 0 && p->kernel[0] == p->kernel[1] &&
         (p->kernel[0] == 3 || p->kernel[0] == 5) && p->stride[0] == p->stride[1] &&
         (p->stride[0] == 1 || p->stride[0] == 2) && p->dilation[0] == 1 && p->dilation[1] == 1 &&
         p->pad_begin[0] >= 0 && p->pad_begin[1] >= 0 && p->pad_begin[0] < p->kernel[0] &&
         p->pad_begin[1] < p->kernel[1] && cnnrt_nchwc_act_ok(p->act);
}

/* Pointwise weights [c_out, c_in] as 16-channel panels [c_out / 16 rounded
 * up][c_in][16] (the columns of a last 8-channel panel zero): panel j holds
 * output channels 16 j .. 16 j + 15. */
static inline int64_t cnnrt_f32_pw_nchwc_pack_bytes(int64_t c_out, int64_t c_in) {
  return (c_out + 15) / 16 * 16 * c_in * (int64_t)sizeof(float);
}
static inline void cnnrt_f32_pw_nchwc_pack(int64_t c_out, int64_t c_in, const float *w,
                                           float *packed) {
  for (int64_t m0 = 0; m0 < c_out; m0 += 16) {
    for (int64_t k = 0; k < c_in; k++) {
      for (int64_t j = 0; j < 16; j++) {
        packed[m0 * c_in + k * 16 + j] = m0 + j < c_out ? w[(m0 + j) * c_in + k] : 0.0f;
      }
    }
  }
}

/* Depthwise weights [c, 1, kh, kw] as [c / 8][kh * kw][8]. */
static inline int64_t cnnrt_f32_dw_nchwc_pack_bytes(int64_t c, int64_t taps) {
  return c * taps * (int64_t)sizeof(float);
}
static inline void cnnrt_f32_dw_nchwc_pack(int64_t c, int64_t taps, const float *w, float *packed) {
  for (int64_t ch = 0; ch < c; ch++) {
    for (int64_t t = 0; t < taps; t++) {
      packed[(ch / 8) * taps * 8 + t * 8 + ch % 8] = w[ch * taps + t];
    }
  }
}

/* y = act(conv1x1(x * in_scale) + bias + residual) with x in plain (x_blocked 0) or NCHW8c
 * order and y (and the residual, which may be y itself) in plain (y_blocked 0)
 * or NCHW8c order; w packed by cnnrt_f32_pw_nchwc_pack; in_scale [n, c_in] (NULL: none), each
 * x * in_scale rounded to float before it is used, as the Mul it replaces rounded it. Sums in
 * input-channel order, like the AVX2 kernel. */
static inline void cnnrt_f32_conv_pw_nchwc_ref(const cnnrt_conv_params *p, int x_blocked,
                                               const float *x, const float *in_scale,
                                               const float *wp, const float *bias,
                                               const float *residual, int y_blocked, float *y) {
  CNNRT_ASSERT(cnnrt_nchwc_pointwise_applies(p));
  const int64_t plane = p->out[0] * p->out[1], k = p->c_in;
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t oc = 0; oc < p->c_out; oc++) {
      const float *wc = wp + (oc / 16) * 16 * k + oc % 16;
      for (int64_t i = 0; i < plane; i++) {
        float acc = 0.0f;
        for (int64_t ic = 0; ic < k; ic++) {
          float xv = x[cnnrt_nchwc_index(x_blocked, k, plane, b, ic, i)];
          if (in_scale != NULL) {
            xv = xv * in_scale[b * k + ic];
          }
          acc += xv * wc[ic * 16];
        }
        const int64_t yi = cnnrt_nchwc_index(y_blocked, p->c_out, plane, b, oc, i);
        float v = acc + (bias != NULL ? bias[oc] : 0.0f);
        if (residual != NULL) {
          v += residual[yi];
        }
        y[yi] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, v);
      }
    }
  }
}

/* The means of one channel block's plane yb [plane][8] (NCHW8c), out[j] that of channel j: the
 * sum of cnnrt_f32_global_avgpool_ref (pixel i into lane i % 8, the lanes summed in order), read
 * with a stride of 8, and its division. */
static inline void cnnrt_f32_nchwc_block_mean_ref(const float *yb, int64_t plane, float *out) {
  for (int j = 0; j < 8; j++) {
    const float s = cnnrt_pool_reduce_strided(CNNRT_POOL_OP_SUM, 0.0f, yb + j, plane, 8);
    out[j] = plane > 0 ? s / (float)plane : 0.0f;
  }
}

/* Depthwise convolution with x, y (and the residual, which may be y) in NCHW8c
 * order; w packed by cnnrt_f32_dw_nchwc_pack. Taps summed row by row, left to
 * right, from the bias. pooled [n, c] (NULL: none) receives the mean of each output channel
 * (a fused GlobalAveragePool, cnnrt_f32_nchwc_block_mean_ref). */
static inline void cnnrt_f32_dwconv_nchwc_ref(const cnnrt_conv_params *p, const float *x,
                                              const float *wp, const float *bias,
                                              const float *residual, float *y, float *pooled) {
  CNNRT_ASSERT(cnnrt_nchwc_depthwise_applies(p));
  const int64_t h = p->in[0], w = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t kk = p->kernel[0], s = p->stride[0], pt = p->pad_begin[0], pl = p->pad_begin[1];
  const int64_t c = p->c_in;
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      const float *wc = wp + (ch / 8) * kk * kk * 8 + ch % 8;
      for (int64_t oy = 0; oy < oh; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
          float acc = bias != NULL ? bias[ch] : 0.0f;
          for (int64_t ky = 0; ky < kk; ky++) {
            const int64_t iy = oy * s - pt + ky;
            if (iy < 0 || iy >= h) {
              continue;
            }
            for (int64_t kx = 0; kx < kk; kx++) {
              const int64_t ix = ox * s - pl + kx;
              if (ix < 0 || ix >= w) {
                continue;
              }
              acc += wc[(ky * kk + kx) * 8] * x[cnnrt_nchwc_index(1, c, h * w, b, ch, iy * w + ix)];
            }
          }
          const int64_t yi = cnnrt_nchwc_index(1, c, oh * ow, b, ch, oy * ow + ox);
          if (residual != NULL) {
            acc += residual[yi];
          }
          y[yi] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, acc);
        }
      }
    }
    for (int64_t cb = 0; pooled != NULL && cb < c; cb += 8) {
      cnnrt_f32_nchwc_block_mean_ref(y + (b * c + cb) * oh * ow, oh * ow, pooled + b * c + cb);
    }
  }
}

#endif
