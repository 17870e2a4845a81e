/* cnnrt_conv_packed.h — portable 2-D convolution (group 1) reading weights in the packed layout
 * of the AVX2 GEMM path (cnnrt_f32_pack_a_mr6: 6-row panels, k-major inside a panel).
 *
 * The compiler packs a convolution's weights once, at build time, for the fast kernel; this is
 * the same computation for a build without AVX2, so that one weights blob serves both and the
 * output still compiles and runs everywhere. Semantics are exactly cnnrt_f32_conv_ref's
 * (y = act(conv(x) + bias + residual)); only the weight indexing differs. */
#ifndef CNNRT_CONV_PACKED_H
#define CNNRT_CONV_PACKED_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_conv_direct_avx2.h"
#include "cnnrt_dwconv_avx2.h"
#include "cnnrt_dwconv_avx512.h"
#include "cnnrt_dwconv_c8_avx2.h"
#include "cnnrt_gemm_avx2.h"

/* Weight [oc, kk] (kk = (ic * kh + ky) * kw + kx) in the 6-row panel layout. */
static inline float cnnrt_packed_weight(const float *wp, int64_t k, int64_t oc, int64_t kk) {
  return wp[(oc / 6) * 6 * k + kk * 6 + oc % 6];
}

/* in_scale [n, c_in] (NULL: none) scales the input channels where they are read, as
 * float(x * s): a squeeze-excitation Mul fused into this convolution (compiler/passes/fuse.c). */
static inline void cnnrt_f32_conv_packed_scaled_ref(const cnnrt_conv_params *p, const float *x,
                                                    const float *in_scale, const float *wp,
                                                    const float *bias, const float *residual,
                                                    float *y) {
  CNNRT_ASSERT(p->spatial == 2 && p->group == 1);
  const int64_t ih = p->in[0], iw = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t kh = p->kernel[0], kw = p->kernel[1], sh = p->stride[0], sw = p->stride[1];
  const int64_t dh = p->dilation[0], dw = p->dilation[1];
  const int64_t ph = p->pad_begin[0], pw = p->pad_begin[1];
  const int64_t k = p->c_in * kh * kw;
  const int64_t plane = oh * ow;
  for (int64_t b = 0; b < p->n; b++) {
    const float *xb = x + b * p->c_in * ih * iw;
    for (int64_t oc = 0; oc < p->c_out; oc++) {
      float *yp = y + (b * p->c_out + oc) * plane;
      const float *rp = residual ? residual + (b * p->c_out + oc) * plane : NULL;
      const float b0 = bias ? bias[oc] : 0.0f;
      /* Start from bias + residual (read before the row is written: y may be the residual). */
      for (int64_t i = 0; i < plane; i++) {
        yp[i] = b0 + (rp ? rp[i] : 0.0f);
      }
      for (int64_t ic = 0; ic < p->c_in; ic++) {
        const float *xc = xb + ic * ih * iw;
        const float sc = in_scale != NULL ? in_scale[b * p->c_in + ic] : 1.0f;
        for (int64_t ky = 0; ky < kh; ky++) {
          for (int64_t kx = 0; kx < kw; kx++) {
            const float wv = cnnrt_packed_weight(wp, k, oc, (ic * kh + ky) * kw + kx);
            /* Output columns whose tap falls inside the input row. */
            int64_t x0 = 0, x1 = ow;
            while (x0 < ow && x0 * sw + kx * dw - pw < 0) {
              x0++;
            }
            while (x1 > x0 && (x1 - 1) * sw + kx * dw - pw >= iw) {
              x1--;
            }
            for (int64_t oy = 0; oy < oh; oy++) {
              const int64_t iy = oy * sh + ky * dh - ph;
              if (iy < 0 || iy >= ih) {
                continue;
              }
              const float *xr = xc + iy * iw + kx * dw - pw;
              float *yr = yp + oy * ow;
              /* Unscaled inputs take the loops without the multiply by 1.0f. */
              if (in_scale == NULL && sw == 1) {
                for (int64_t ox = x0; ox < x1; ox++) {
                  yr[ox] += wv * xr[ox];
                }
              } else if (in_scale == NULL) {
                for (int64_t ox = x0; ox < x1; ox++) {
                  yr[ox] += wv * xr[ox * sw];
                }
              } else if (sw == 1) {
                for (int64_t ox = x0; ox < x1; ox++) {
                  yr[ox] += wv * (xr[ox] * sc);
                }
              } else {
                for (int64_t ox = x0; ox < x1; ox++) {
                  yr[ox] += wv * (xr[ox * sw] * sc);
                }
              }
            }
          }
        }
      }
      if (p->act != CNNRT_ACT_NONE) {
        for (int64_t i = 0; i < plane; i++) {
          yp[i] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, yp[i]);
        }
      }
    }
  }
}

static inline void cnnrt_f32_conv_packed_ref(const cnnrt_conv_params *p, const float *x,
                                             const float *wp, const float *bias,
                                             const float *residual, float *y) {
  cnnrt_f32_conv_packed_scaled_ref(p, x, NULL, wp, bias, residual, y);
}

/* Grouped convolution reading weights packed by cnnrt_f32_conv_grouped_pack_mr6 (one 6-row panel
 * block per group): the portable fallback of cnnrt_f32_conv_grouped_gemm_avx2_range, one
 * cnnrt_f32_conv_packed_ref per (image, group). Semantics of cnnrt_f32_conv_ref. */
static inline void cnnrt_f32_conv_grouped_packed_ref(const cnnrt_conv_params *p, const float *x,
                                                     const float *wp, const float *bias,
                                                     const float *residual, float *y) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  const int64_t in_plane = p->in[0] * p->in[1], plane = p->out[0] * p->out[1];
  const int64_t wg = cnnrt_f32_pack_a_mr6_bytes(sp.c_out, sp.c_in * p->kernel[0] * p->kernel[1]) /
                     (int64_t)sizeof(float);
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t g = 0; g < p->group; g++) {
      const int64_t yo = (b * p->c_out + g * sp.c_out) * plane;
      cnnrt_f32_conv_packed_ref(&sp, x + (b * p->c_in + g * sp.c_in) * in_plane, wp + g * wg,
                                bias != NULL ? bias + g * sp.c_out : NULL,
                                residual != NULL ? residual + yo : NULL, y + yo);
    }
  }
}

/* One convolution split into tasks for the cnnrt_parallel hook: task t computes its share of
 * the output pixels with its own scratch region (scratch + t * scratch_stride). in_scale: see
 * cnnrt_f32_conv_gemm_avx2_range_scaled (only the GEMM task takes one; NULL elsewhere).
 * reduce / reduced (depthwise task only, else NULL): a GlobalAveragePool fused into the
 * convolution (compiler/passes/fuse.c); each plane is reduced into reduced[plane] right after
 * the task wrote it, by the very function the standalone pool calls. */
typedef struct cnnrt_conv_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride;
  int64_t n_tasks;
  const float *in_scale;
  cnnrt_plane_reduce_fn reduce;
  float *reduced;
  cnnrt_steal steal; /* pieces taken over from other tasks ({{0}}: cnnrt_steal_next) */
} cnnrt_conv_task;

/* How many tasks to split a layer into: the hook's thread count, at most `max_tasks` (the
 * number of scratch regions the memory plan reserved). */
static inline int64_t cnnrt_task_count(const cnnrt_parallel *par, int64_t max_tasks) {
  int64_t t = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return t < max_tasks ? t : max_tasks;
}

#if defined(__AVX2__) && defined(__FMA__)
/* Depthwise: task t of n_tasks takes its share of the (batch, channel) planes, in whole blocks
 * of 16 or 8 channels for the channel-vectorised kernels, a few pieces at a time and then pieces
 * from the ends of the other shares (cnnrt_steal_next); the AVX-512 kernel where the build has
 * it (it hands the shapes it does not take to the AVX2 one), else the AVX2 channel-vectorised
 * kernel for the shapes selected for it, or the AVX2 plane one. */
static inline void cnnrt_dwconv_avx2_task(void *arg, int64_t t) {
  cnnrt_conv_task *a = (cnnrt_conv_task *)arg;
  CNNRT_ASSERT(a->in_scale == NULL);
  const int64_t planes = a->p->n * a->p->c_out;
#if defined(CNNRT_DW_AVX512)
  const int64_t block = cnnrt_dwc16_selected(a->p) ? 16 : 1;
#else
  const int64_t block = cnnrt_dwc8_selected(a->p) ? 8 : 1;
#endif
  const int64_t units = (planes + block - 1) / block;
  const int64_t grain = units / (8 * a->n_tasks) > 1 ? units / (8 * a->n_tasks) : 1;
  int64_t u0, u1;
  for (int first = 1; cnnrt_steal_next(&a->steal, units, a->n_tasks, t, grain, 0, first, &u0, &u1);
       first = 0) {
    const int64_t lo = block * u0, hi = block * u1 < planes ? block * u1 : planes;
#if defined(CNNRT_DW_AVX512)
    cnnrt_f32_dwconv2d_avx512_range_reduce(a->p, a->x, a->w, a->bias, a->residual, a->y, lo, hi,
                                           a->reduce, a->reduced);
#else
    if (block == 8) {
      cnnrt_f32_dwconv2d_c8_avx2_range_reduce(a->p, a->x, a->w, a->bias, a->residual, a->y, lo, hi,
                                              a->reduce, a->reduced);
    } else {
      cnnrt_f32_dwconv2d_avx2_range_reduce(a->p, a->x, a->w, a->bias, a->residual, a->y, lo, hi,
                                           a->reduce, a->reduced);
    }
#endif
  }
}

static inline void cnnrt_conv_gemm_avx2_task(void *arg, int64_t t) {
  cnnrt_conv_task *a = (cnnrt_conv_task *)arg;
  cnnrt_f32_conv_gemm_avx2_range_scaled(a->p, a->x, a->in_scale, a->w, a->bias, a->residual, a->y,
                                        a->scratch + t * a->scratch_stride, t, a->n_tasks,
                                        &a->steal);
}

/* Grouped: task t takes its share of the flattened (image, group, pixel) range. */
static inline void cnnrt_conv_grouped_gemm_avx2_task(void *arg, int64_t t) {
  cnnrt_conv_task *a = (cnnrt_conv_task *)arg;
  cnnrt_f32_conv_grouped_gemm_avx2_range(a->p, a->x, a->w, a->bias, a->residual, a->y,
                                         a->scratch + t * a->scratch_stride, t, a->n_tasks,
                                         &a->steal);
}

/* Few input channels (cnnrt_conv_direct_avx2.h): the same weights, task split by output rows. */
static inline void cnnrt_conv_direct_avx2_task(void *arg, int64_t t) {
  cnnrt_conv_task *a = (cnnrt_conv_task *)arg;
  CNNRT_ASSERT(a->in_scale == NULL);
  cnnrt_f32_conv_direct_avx2_range(a->p, a->x, a->w, a->bias, a->residual, a->y,
                                   a->scratch + t * a->scratch_stride, t, a->n_tasks, &a->steal);
}
#endif

#endif
