/* cnnrt_dwconv_neon.h — depthwise 2-D convolution (group == c_in == c_out) for ARM NEON.
 *
 * y = act(dwconv(x) + bias + residual) with the weights in ONNX layout [c, 1, kh, kw]; the
 * semantics of cnnrt_f32_conv_ref for that case. Per plane and output row, the interior columns
 * (every tap inside the input row) are computed 4 at a time: the accumulator starts at bias +
 * residual and takes one FMA per tap (stride 1: one vld1q; stride 2: vld2q, whose first half
 * holds the even columns). Border columns, other strides, and interior columns whose stride-2
 * load would read past the row's end are computed one by one with the same tap order. Taps of
 * rows outside the image are skipped. Each residual element is read before that element of y is
 * written (y may be the residual).
 *
 * Compiled only with __ARM_NEON (the generated code otherwise calls cnnrt_f32_conv_ref). */
#ifndef CNNRT_DWCONV_NEON_H
#define CNNRT_DWCONV_NEON_H

#include "cnnrt.h"
#include "cnnrt_conv.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include <arm_neon.h>

/* Planes [plane_begin, plane_end) of the n * c (image, channel) planes. */
static inline void cnnrt_f32_dwconv2d_neon_range(const cnnrt_conv_params *p, const float *x,
                                                 const float *w, const float *bias,
                                                 const float *residual, float *y,
                                                 int64_t plane_begin, int64_t plane_end) {
  CNNRT_ASSERT(p->spatial == 2 && p->group == p->c_in && p->c_out == p->c_in);
  const int64_t ih = p->in[0], iw = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t kh = p->kernel[0], kw = p->kernel[1], sh = p->stride[0], sw = p->stride[1];
  const int64_t dh = p->dilation[0], dw = p->dilation[1];
  const int64_t ph = p->pad_begin[0], pw = p->pad_begin[1];
  const float32x4_t va = vdupq_n_f32(p->alpha), vb = vdupq_n_f32(p->beta);
  /* Interior columns [xa, xb): 0 <= ox * sw - pw and ox * sw - pw + (kw - 1) * dw < iw. */
  int64_t xa = pw <= 0 ? 0 : (pw + sw - 1) / sw;
  const int64_t last_tap = (kw - 1) * dw - pw; /* input column of the last tap, minus ox * sw */
  int64_t xb = iw - last_tap <= 0 ? 0 : (iw - last_tap - 1) / sw + 1;
  xa = xa < ow ? xa : ow;
  xb = xb < ow ? xb : ow;
  xb = xb > xa ? xb : xa;
  const int vector_stride = sw == 1 || sw == 2;
  for (int64_t q = plane_begin; q < plane_end; q++) {
    const int64_t ch = q % p->c_out;
    const float *xp = x + q * ih * iw;
    float *yp = y + q * oh * ow;
    const float *rp = residual != NULL ? residual + q * oh * ow : NULL;
    const float *wk = w + ch * kh * kw;
    const float b0 = bias != NULL ? bias[ch] : 0.0f;
    for (int64_t oy = 0; oy < oh; oy++) {
      int64_t ky0 = 0, ky1 = kh; /* taps whose row is inside the image */
      while (ky0 < kh && oy * sh + ky0 * dh - ph < 0) {
        ky0++;
      }
      while (ky1 > ky0 && oy * sh + (ky1 - 1) * dh - ph >= ih) {
        ky1--;
      }
      float *yr = yp + oy * ow;
      const float *rr = rp != NULL ? rp + oy * ow : NULL;
      int64_t ox = 0;
      while (ox < ow) {
        /* 4 interior columns at once when the loads stay inside the row */
        if (vector_stride && ox >= xa && ox + 4 <= xb &&
            (sw == 1 || (ox + 3) * 2 + 1 + last_tap < iw)) {
          float32x4_t acc = vdupq_n_f32(b0);
          if (rr != NULL) {
            acc = vaddq_f32(acc, vld1q_f32(rr + ox));
          }
          for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *xr = xp + (oy * sh + ky * dh - ph) * iw + ox * sw - pw;
            const float *wr = wk + ky * kw;
            for (int64_t kx = 0; kx < kw; kx++) {
              const float32x4_t xv = sw == 1 ? vld1q_f32(xr + kx * dw) : vld2q_f32(xr + kx * dw).val[0];
              acc = cnnrt_neon_fma(acc, xv, vdupq_n_f32(wr[kx]));
            }
          }
          vst1q_f32(yr + ox, cnnrt_f32_act_neon_ps(p->act, va, vb, acc));
          ox += 4;
          continue;
        }
        float acc = b0 + (rr != NULL ? rr[ox] : 0.0f);
        for (int64_t ky = ky0; ky < ky1; ky++) {
          const float *xr = xp + (oy * sh + ky * dh - ph) * iw;
          const float *wr = wk + ky * kw;
          for (int64_t kx = 0; kx < kw; kx++) {
            const int64_t ix = ox * sw + kx * dw - pw;
            if (ix >= 0 && ix < iw) {
              acc += wr[kx] * xr[ix];
            }
          }
        }
        yr[ox] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, acc);
        ox++;
      }
    }
  }
}

static inline void cnnrt_f32_dwconv2d_neon(const cnnrt_conv_params *p, const float *x,
                                           const float *w, const float *bias,
                                           const float *residual, float *y) {
  cnnrt_f32_dwconv2d_neon_range(p, x, w, bias, residual, y, 0, p->n * p->c_out);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_DWCONV_NEON_H */
