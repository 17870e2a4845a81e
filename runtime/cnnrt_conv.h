/* cnnrt_conv.h — ONNX Conv and ConvTranspose, float32 portable reference kernels.
 *
 * Layouts (dense, row-major): x [n, c_in, in...], y [n, c_out, out...];
 * Conv weights [c_out, c_in/group, kernel...], ConvTranspose weights [c_in, c_out/group, kernel...].
 * One to three spatial axes, groups (depthwise included), strides, dilations and asymmetric pads.
 * The compiler resolves auto_pad / output_padding / output_shape into out[] and pad_begin[]
 * (helpers below); pad_end is implied by out[]. Padding reads as zero.
 *
 * Algorithm: direct convolution, one output row (last spatial axis) at a time for a block of up
 * to four output channels. Every (input channel, kernel tap) contributes one contiguous axpy to
 * the rows, so the inner loop is long, unit-stride on the output (and on the input when the
 * stride is 1) and the rows stay in L1 while all taps accumulate. Rows start at
 * bias + residual and get the activation while still hot. The four-channel block reuses every
 * loaded input element four times. A pointwise layer (1x1, stride 1, no pad) runs as one row per
 * channel plane. ConvTranspose uses the same row scheme, gathering the taps that reach a row. */
#ifndef CNNRT_CONV_H
#define CNNRT_CONV_H

#include "cnnrt.h"

typedef struct cnnrt_conv_params {
  int64_t spatial;                  /* number of spatial axes, 1..3 */
  int64_t n, c_in, c_out, group;    /* batch, channels; c_in and c_out divisible by group */
  int64_t in[3], out[3];            /* spatial sizes of x and y */
  int64_t kernel[3], stride[3], dilation[3];
  int64_t pad_begin[3];             /* resolved leading pad per axis (may be any integer) */
  int64_t act;                      /* enum cnnrt_act, applied last */
  float alpha, beta;                /* activation parameters */
} cnnrt_conv_params;                /* unused slots [spatial, 3): size 1, stride 1, dilation 1, pad 0 */

/* One group of one image of p as a group-1 problem (the grouped GEMM kernels run one of these
 * per (image, group)): batch 1, the channels of one group, the same geometry and epilogue. */
static inline cnnrt_conv_params cnnrt_conv_group_params(const cnnrt_conv_params *p) {
  cnnrt_conv_params q = *p;
  const int64_t groups = p->group > 1 ? p->group : 1;
  q.n = 1;
  q.c_in = p->c_in / groups;
  q.c_out = p->c_out / groups;
  q.group = 1;
  return q;
}

/* Whether a grouped 2-D convolution runs as one packed GEMM per group (the compiler's schedule
 * asks; portable). Not depthwise (its own kernels), and at least 3 input and 3 output channels
 * per group: with 1 or 2 the GEMM's rows and depth are too short to pay for the im2col packing,
 * and bench/kernels/bench_grouped_avx2.c measured the reference 1.4-2.3x faster (64 groups of
 * 2 -> 2, 1 -> 2 and 1 -> 4 channels at 28 x 28, one thread, -march=native on Zen 5); 3 -> 3 is
 * 1.1x faster on the GEMM, ResNeXt's 4 -> 4 1.0-1.7x, 8 -> 8 3.8x, 16 -> 16 (RegNet, ResNeXt's
 * later stages) 14-17x. */
static inline int cnnrt_conv_grouped_gemm_applies(const cnnrt_conv_params *p) {
  return p->spatial == 2 && p->group > 1 && p->c_in % p->group == 0 &&
         p->c_out % p->group == 0 && p->c_in / p->group >= 3 && p->c_out / p->group >= 3;
}

/* Depthwise kernels with a fused GlobalAveragePool (compiler/passes/fuse.c): a per-plane
 * reduction with the signature of the global pools (cnnrt_f32_global_avgpool_*):
 * out[i] = reduce(y[i * plane_size .. (i + 1) * plane_size)) for i < n_planes. */
typedef void (*cnnrt_plane_reduce_fn)(int64_t n_planes, int64_t plane_size, const float *y,
                                      float *out);

/* Planes of output the NEON depthwise task reduces per chunk, while they are still in cache:
 * about 16 KB of them (the x86 kernels reduce each plane inside their plane loop). */
static inline int64_t cnnrt_reduce_chunk_planes(int64_t plane_size) {
  return plane_size >= 4096 ? 1 : 4096 / (plane_size > 0 ? plane_size : 1);
}

/* ---------------------------------------------------------------------------------------------
 * Attribute resolution (called by the compiler, per spatial axis).
 * ------------------------------------------------------------------------------------------- */

enum cnnrt_conv_auto_pad {
  CNNRT_CONV_AUTO_PAD_NOTSET = 0,
  CNNRT_CONV_AUTO_PAD_SAME_UPPER = 1,
  CNNRT_CONV_AUTO_PAD_SAME_LOWER = 2,
  CNNRT_CONV_AUTO_PAD_VALID = 3
};

/* Floor/ceil division for any sign of a and b > 0 (C division truncates toward zero). */
static inline int64_t cnnrt_conv_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline int64_t cnnrt_conv_ceil_div(int64_t a, int64_t b) {
  return -cnnrt_conv_floor_div(-a, b);
}

/* Conv, one axis. Returns the output size (< 1 means the attributes are invalid for this input)
 * and stores the leading pad. pad_begin_attr / pad_end_attr are the `pads` attribute values,
 * used only with NOTSET. As in ONNX (and its shape inference):
 *   NOTSET:     out = floor((in + pb + pe - dk) / stride) + 1,  dk = (kernel - 1) * dilation + 1
 *   VALID:      out = floor((in - dk) / stride) + 1, no padding
 *   SAME_*:     out = ceil(in / stride), total = max(0, (out - 1) * stride + dk - in);
 *               SAME_UPPER puts the odd element at the end   (begin = floor(total / 2)),
 *               SAME_LOWER puts it at the beginning          (begin = total - floor(total / 2)). */
static inline int64_t cnnrt_conv_resolve_axis(int64_t auto_pad, int64_t in, int64_t kernel,
                                              int64_t stride, int64_t dilation,
                                              int64_t pad_begin_attr, int64_t pad_end_attr,
                                              int64_t *pad_begin) {
  const int64_t dk = (kernel - 1) * dilation + 1;
  if (auto_pad == CNNRT_CONV_AUTO_PAD_SAME_UPPER || auto_pad == CNNRT_CONV_AUTO_PAD_SAME_LOWER) {
    const int64_t out = cnnrt_conv_ceil_div(in, stride);
    int64_t total = (out - 1) * stride + dk - in;
    if (total < 0) {
      total = 0;
    }
    *pad_begin = auto_pad == CNNRT_CONV_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    return out;
  }
  if (auto_pad == CNNRT_CONV_AUTO_PAD_VALID) {
    *pad_begin = 0;
    return cnnrt_conv_floor_div(in - dk, stride) + 1;
  }
  *pad_begin = pad_begin_attr;
  return cnnrt_conv_floor_div(in + pad_begin_attr + pad_end_attr - dk, stride) + 1;
}

/* ConvTranspose, one axis. Returns the output size (< 1: invalid) and stores the leading pad.
 * output_shape < 0 means the attribute is absent (pass the spatial entry of output_shape when
 * present; ONNX allows it with or without the N, C prefix). With
 *   full  = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1
 * (the length of the un-cropped result):
 *   output_shape given:  out = output_shape, total = max(0, full - out), pads attribute ignored;
 *                        SAME_UPPER: begin = floor(total/2)   SAME_LOWER: begin = total - floor(total/2)
 *                        NOTSET/VALID: begin = floor(total/2)  (extra padding at the end; this is
 *                        what onnxruntime does and agrees with the ONNX reference implementation
 *                        and backend tests; the spec text would put it at the beginning)
 *   SAME_UPPER/LOWER:    out = in * stride, total = max(0, full - out), split as above (this is
 *                        the ONNX spec and test_convtranspose_autopad_same: extra at the end for
 *                        SAME_UPPER). output_padding only enters `full`.
 *   VALID:               out = full, no padding
 *   NOTSET:              out = full - pb - pe, begin = pb
 * A negative total (out > full) is clamped to 0 as onnxruntime does: the positions past the
 * computed region get bias only. */
static inline int64_t cnnrt_conv_transpose_resolve_axis(int64_t auto_pad, int64_t in,
                                                        int64_t kernel, int64_t stride,
                                                        int64_t dilation, int64_t output_padding,
                                                        int64_t output_shape,
                                                        int64_t pad_begin_attr,
                                                        int64_t pad_end_attr,
                                                        int64_t *pad_begin) {
  const int64_t full = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1;
  int64_t out;
  if (output_shape >= 0) {
    out = output_shape;
  } else if (auto_pad == CNNRT_CONV_AUTO_PAD_SAME_UPPER ||
             auto_pad == CNNRT_CONV_AUTO_PAD_SAME_LOWER) {
    out = in * stride;
  } else if (auto_pad == CNNRT_CONV_AUTO_PAD_VALID) {
    *pad_begin = 0;
    return full;
  } else {
    *pad_begin = pad_begin_attr;
    return full - pad_begin_attr - pad_end_attr;
  }
  int64_t total = full - out;
  if (total < 0) {
    total = 0;
  }
  *pad_begin = auto_pad == CNNRT_CONV_AUTO_PAD_SAME_LOWER ? total - total / 2 : total / 2;
  return out;
}

/* ---------------------------------------------------------------------------------------------
 * Kernel building blocks.
 * ------------------------------------------------------------------------------------------- */

#define CNNRT_CONV_OC_BLOCK 4

/* Geometry with the real axes right-aligned into three slots (leading slots neutral), so one
 * 3-D loop nest serves 1-D, 2-D and 3-D and the innermost loop runs along the last real axis.
 * A pointwise layer (every kernel 1, stride 1, no pad) is flattened to a single row per
 * channel: its rows then span the whole image instead of one (possibly short) image row. */
typedef struct cnnrt_conv_geom {
  int64_t in[3], out[3], k[3], s[3], d[3], pad[3];
} cnnrt_conv_geom;

static inline cnnrt_conv_geom cnnrt_conv_make_geom(const cnnrt_conv_params *p) {
  cnnrt_conv_geom g;
  const int64_t sp = p->spatial < 0 ? 0 : (p->spatial > 3 ? 3 : p->spatial);
  int pointwise = 1;
  for (int64_t a = 0; a < 3; a++) {
    const int64_t src = a - (3 - sp); /* real axis feeding slot a, or < 0 */
    if (src >= 0) {
      g.in[a] = p->in[src];
      g.out[a] = p->out[src];
      g.k[a] = p->kernel[src];
      g.s[a] = p->stride[src];
      g.d[a] = p->dilation[src];
      g.pad[a] = p->pad_begin[src];
    } else {
      g.in[a] = g.out[a] = g.k[a] = g.s[a] = g.d[a] = 1;
      g.pad[a] = 0;
    }
    if (g.k[a] != 1 || g.s[a] != 1 || g.pad[a] != 0 || g.in[a] != g.out[a]) {
      pointwise = 0;
    }
  }
  if (pointwise) {
    g.in[2] = g.out[2] = g.in[0] * g.in[1] * g.in[2];
    g.in[0] = g.in[1] = g.out[0] = g.out[1] = 1;
  }
  return g;
}

/* Range [*lo, *hi) of loop indices i in [0, n_iter) such that i * s + off lies in [0, n_tgt).
 * Conv iterates output positions into the input (n_iter = out, n_tgt = in); ConvTranspose
 * iterates input positions into the output. */
static inline void cnnrt_conv_range(int64_t n_iter, int64_t n_tgt, int64_t s, int64_t off,
                                    int64_t *lo, int64_t *hi) {
  int64_t l, h;
  if (s == 1) { /* the common case, without divisions */
    l = -off;
    h = n_tgt - off;
  } else {
    l = cnnrt_conv_ceil_div(-off, s);
    h = cnnrt_conv_floor_div(n_tgt - 1 - off, s) + 1;
  }
  if (l < 0) {
    l = 0;
  }
  if (h > n_iter) {
    h = n_iter;
  }
  *lo = l;
  *hi = h < l ? l : h;
}

/* yr[r][i * ys] += wv[r] * x[i * xs] for i in [0, len), r < nb <= CNNRT_CONV_OC_BLOCK.
 * Conv gathers (ys = 1, xs = stride), ConvTranspose scatters (ys = stride, xs = 1). */
static inline void cnnrt_f32_conv_axpy_rows(int64_t nb, float *const *yr, const float *wv,
                                            const float *x, int64_t len, int64_t ys,
                                            int64_t xs) {
  if (nb == 4) {
    float *restrict y0 = yr[0];
    float *restrict y1 = yr[1];
    float *restrict y2 = yr[2];
    float *restrict y3 = yr[3];
    const float *restrict xx = x;
    const float w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3];
    if (ys == 1 && xs == 1) {
      for (int64_t i = 0; i < len; i++) {
        const float v = xx[i];
        y0[i] += w0 * v;
        y1[i] += w1 * v;
        y2[i] += w2 * v;
        y3[i] += w3 * v;
      }
    } else {
      for (int64_t i = 0; i < len; i++) {
        const float v = xx[i * xs];
        y0[i * ys] += w0 * v;
        y1[i * ys] += w1 * v;
        y2[i * ys] += w2 * v;
        y3[i * ys] += w3 * v;
      }
    }
    return;
  }
  for (int64_t r = 0; r < nb; r++) {
    float *restrict yy = yr[r];
    const float *restrict xx = x;
    const float w0 = wv[r];
    if (ys == 1 && xs == 1) {
      for (int64_t i = 0; i < len; i++) {
        yy[i] += w0 * xx[i];
      }
    } else {
      for (int64_t i = 0; i < len; i++) {
        yy[i * ys] += w0 * xx[i * xs];
      }
    }
  }
}

/* y = act(y) over one row; the switch sits outside the loops so that the cheap activations
 * vectorize. Expressions match cnnrt_apply_act exactly. */
static inline void cnnrt_f32_conv_act_row(int64_t act, float alpha, float beta, float *y,
                                          int64_t len) {
  switch (act) {
  case CNNRT_ACT_NONE:
    break;
  case CNNRT_ACT_RELU:
    for (int64_t i = 0; i < len; i++) {
      y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    }
    break;
  case CNNRT_ACT_LEAKY_RELU:
    for (int64_t i = 0; i < len; i++) {
      y[i] = y[i] >= 0.0f ? y[i] : alpha * y[i];
    }
    break;
  case CNNRT_ACT_CLIP:
    for (int64_t i = 0; i < len; i++) {
      const float v = y[i];
      y[i] = v < alpha ? alpha : (v > beta ? beta : v);
    }
    break;
  default:
    for (int64_t i = 0; i < len; i++) {
      y[i] = cnnrt_apply_act((int)act, alpha, beta, y[i]);
    }
    break;
  }
}

/* Starts the rows at bias (+ residual). Reading the residual here, before the row is first
 * written, is what lets y share the residual's buffer. */
static inline void cnnrt_f32_conv_init_rows(int64_t nb, float *const *yr, const float *bias,
                                            int64_t oc, const float *residual,
                                            int64_t residual_stride, int64_t len) {
  for (int64_t r = 0; r < nb; r++) {
    const float b = bias != NULL ? bias[oc + r] : 0.0f;
    float *yy = yr[r];
    if (residual != NULL) {
      const float *rr = residual + r * residual_stride;
      for (int64_t i = 0; i < len; i++) {
        yy[i] = b + rr[i];
      }
    } else {
      for (int64_t i = 0; i < len; i++) {
        yy[i] = b;
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * Conv: y[b, oc, o] = act(bias[oc] + sum_{ic in group(oc), t} x[b, ic, o*stride + t*dilation -
 * pad_begin] * w[oc, ic - group_start, t] + residual[b, oc, o]).
 * bias [c_out] and residual (shape of y) may be NULL. y must not alias x, w or bias, but it may
 * be the residual buffer itself (in-place residual add): each row of the residual is read before
 * that row of y is first written.
 * ------------------------------------------------------------------------------------------- */
/* With in_scale [n, c_in] (NULL: none) input channel ic of image b is read as
 * float(x * in_scale[b * c_in + ic]): a squeeze-excitation Mul fused into the convolution
 * (compiler/passes/fuse.c). The scaled taps of a row go through a small stack buffer, so each
 * output gets the same sums in the same order as from the Mul's output tensor. */
#define CNNRT_CONV_SCALE_CHUNK 64
static inline void cnnrt_f32_conv_scaled_ref(const cnnrt_conv_params *p, const float *x,
                                             const float *in_scale, const float *w,
                                             const float *bias, const float *residual, float *y) {
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t icg = p->c_in / p->group;
  const int64_t ocg = p->c_out / p->group;
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t ow_n = g.out[2];

  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t grp = 0; grp < p->group; grp++) {
      const float *xg = x + (b * p->c_in + grp * icg) * in_plane;
      for (int64_t oc0 = 0; oc0 < ocg; oc0 += CNNRT_CONV_OC_BLOCK) {
        const int64_t nb = ocg - oc0 < CNNRT_CONV_OC_BLOCK ? ocg - oc0 : CNNRT_CONV_OC_BLOCK;
        const int64_t oc = grp * ocg + oc0; /* absolute index of the block's first channel */
        const float *wb = w + oc * icg * kvol;
        const int64_t ybase = (b * p->c_out + oc) * out_plane;
        for (int64_t od = 0; od < g.out[0]; od++) {
          for (int64_t oh = 0; oh < g.out[1]; oh++) {
            const int64_t row = (od * g.out[1] + oh) * ow_n;
            float *yr[CNNRT_CONV_OC_BLOCK];
            for (int64_t r = 0; r < nb; r++) {
              yr[r] = y + ybase + r * out_plane + row;
            }
            float *ys[CNNRT_CONV_OC_BLOCK];
            cnnrt_f32_conv_init_rows(nb, yr, bias, oc,
                                     residual != NULL ? residual + ybase + row : NULL, out_plane,
                                     ow_n);
            for (int64_t ic = 0; ic < icg; ic++) {
              const float *xc = xg + ic * in_plane;
              for (int64_t kd = 0; kd < g.k[0]; kd++) {
                const int64_t id = od * g.s[0] + kd * g.d[0] - g.pad[0];
                if (id < 0 || id >= g.in[0]) {
                  continue;
                }
                for (int64_t kh = 0; kh < g.k[1]; kh++) {
                  const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.pad[1];
                  if (ih < 0 || ih >= g.in[1]) {
                    continue;
                  }
                  const float *xrow = xc + (id * g.in[1] + ih) * g.in[2];
                  const int64_t wtap = ic * kvol + (kd * g.k[1] + kh) * g.k[2];
                  for (int64_t kw = 0; kw < g.k[2]; kw++) {
                    const int64_t off = kw * g.d[2] - g.pad[2];
                    int64_t lo, hi;
                    cnnrt_conv_range(ow_n, g.in[2], g.s[2], off, &lo, &hi);
                    if (lo >= hi) {
                      continue;
                    }
                    float wv[CNNRT_CONV_OC_BLOCK];
                    for (int64_t r = 0; r < nb; r++) {
                      wv[r] = wb[r * icg * kvol + wtap + kw];
                      ys[r] = yr[r] + lo;
                    }
                    const float *xt = xrow + lo * g.s[2] + off;
                    if (in_scale == NULL) {
                      cnnrt_f32_conv_axpy_rows(nb, ys, wv, xt, hi - lo, 1, g.s[2]);
                      continue;
                    }
                    const float sc = in_scale[b * p->c_in + grp * icg + ic];
                    for (int64_t c0 = lo; c0 < hi; c0 += CNNRT_CONV_SCALE_CHUNK) {
                      const int64_t len =
                          hi - c0 < CNNRT_CONV_SCALE_CHUNK ? hi - c0 : CNNRT_CONV_SCALE_CHUNK;
                      float xs[CNNRT_CONV_SCALE_CHUNK];
                      for (int64_t i = 0; i < len; i++) {
                        xs[i] = xt[(c0 - lo + i) * g.s[2]] * sc;
                      }
                      float *yc[CNNRT_CONV_OC_BLOCK];
                      for (int64_t r = 0; r < nb; r++) {
                        yc[r] = yr[r] + c0;
                      }
                      cnnrt_f32_conv_axpy_rows(nb, yc, wv, xs, len, 1, 1);
                    }
                  }
                }
              }
            }
            for (int64_t r = 0; r < nb; r++) {
              cnnrt_f32_conv_act_row(p->act, p->alpha, p->beta, yr[r], ow_n);
            }
          }
        }
      }
    }
  }
}

static inline void cnnrt_f32_conv_ref(const cnnrt_conv_params *p, const float *x, const float *w,
                                      const float *bias, const float *residual, float *y) {
  cnnrt_f32_conv_scaled_ref(p, x, NULL, w, bias, residual, y);
}

/* ---------------------------------------------------------------------------------------------
 * ConvTranspose: y[b, oc, i*stride + t*dilation - pad_begin] += x[b, ic, i] * w[ic, oc_in_group, t]
 * for every input position i and tap t (targets outside [0, out) are dropped), then
 * y = act(y + bias[oc]). bias may be NULL. y must not alias x, w or bias.
 * Computed per output row (gather over the taps that reach it), so the row stays in L1.
 * ------------------------------------------------------------------------------------------- */
static inline void cnnrt_f32_conv_transpose_ref(const cnnrt_conv_params *p, const float *x,
                                                const float *w, const float *bias, float *y) {
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t icg = p->c_in / p->group;
  const int64_t ocg = p->c_out / p->group;
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t ow_n = g.out[2];

  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t grp = 0; grp < p->group; grp++) {
      const float *xg = x + (b * p->c_in + grp * icg) * in_plane;
      const float *wg = w + grp * icg * ocg * kvol;
      for (int64_t oc0 = 0; oc0 < ocg; oc0 += CNNRT_CONV_OC_BLOCK) {
        const int64_t nb = ocg - oc0 < CNNRT_CONV_OC_BLOCK ? ocg - oc0 : CNNRT_CONV_OC_BLOCK;
        const int64_t oc = grp * ocg + oc0;
        const int64_t ybase = (b * p->c_out + oc) * out_plane;
        for (int64_t od = 0; od < g.out[0]; od++) {
          for (int64_t oh = 0; oh < g.out[1]; oh++) {
            const int64_t row = (od * g.out[1] + oh) * ow_n;
            float *yr[CNNRT_CONV_OC_BLOCK];
            for (int64_t r = 0; r < nb; r++) {
              yr[r] = y + ybase + r * out_plane + row;
            }
            float *ys[CNNRT_CONV_OC_BLOCK];
            cnnrt_f32_conv_init_rows(nb, yr, bias, oc, NULL, 0, ow_n);
            for (int64_t kd = 0; kd < g.k[0]; kd++) {
              /* od = id * s + kd * d - pad  <=>  id = (od + pad - kd * d) / s, exactly. */
              const int64_t td = od + g.pad[0] - kd * g.d[0];
              if (td < 0 || td % g.s[0] != 0 || td / g.s[0] >= g.in[0]) {
                continue;
              }
              const int64_t id = td / g.s[0];
              for (int64_t kh = 0; kh < g.k[1]; kh++) {
                const int64_t th = oh + g.pad[1] - kh * g.d[1];
                if (th < 0 || th % g.s[1] != 0 || th / g.s[1] >= g.in[1]) {
                  continue;
                }
                const int64_t ih = th / g.s[1];
                const int64_t xoff = (id * g.in[1] + ih) * g.in[2];
                const int64_t wtap = (kd * g.k[1] + kh) * g.k[2];
                for (int64_t kw = 0; kw < g.k[2]; kw++) {
                  const int64_t off = kw * g.d[2] - g.pad[2];
                  int64_t lo, hi; /* input columns whose target column is inside the row */
                  cnnrt_conv_range(g.in[2], ow_n, g.s[2], off, &lo, &hi);
                  if (lo >= hi) {
                    continue;
                  }
                  for (int64_t r = 0; r < nb; r++) {
                    ys[r] = yr[r] + lo * g.s[2] + off;
                  }
                  for (int64_t ic = 0; ic < icg; ic++) {
                    float wv[CNNRT_CONV_OC_BLOCK];
                    for (int64_t r = 0; r < nb; r++) {
                      wv[r] = wg[(ic * ocg + oc0 + r) * kvol + wtap + kw];
                    }
                    cnnrt_f32_conv_axpy_rows(nb, ys, wv, xg + ic * in_plane + xoff + lo, hi - lo,
                                             g.s[2], 1);
                  }
                }
              }
            }
            for (int64_t r = 0; r < nb; r++) {
              cnnrt_f32_conv_act_row(p->act, p->alpha, p->beta, yr[r], ow_n);
            }
          }
        }
      }
    }
  }
}

#endif /* CNNRT_CONV_H */
