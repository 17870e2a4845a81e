/* cnnrt_nchwc_avx2.h — pointwise (1x1) and depthwise convolutions on the NCHW8c layout
 * (cnnrt_nchwc.h), AVX2 + FMA. Same contracts as the references there; y may be the residual.
 *
 * Pointwise: the GEMM C[pixel][oc] = X[pixel][ic] * W[ic][oc], roles swapped against the NCHW
 * GEMM (cnnrt_gemm_avx2.h) so that a tile's rows are pixels and its 16 columns two blocks of 8
 * output channels: each finished row is two vector stores into NCHW8c, 6 consecutive pixels
 * being 192 contiguous bytes per block. W is packed at build time in 16-channel panels
 * (cnnrt_f32_pw_nchwc_pack, k-major: the microkernel's B panel as it is); X is packed at run
 * time, 96 pixels x up to 512 channels at a time, into 6-pixel panels [kc][6] (from NCHW8c by
 * 8x8 in-register transposes, from NCHW by one row load per channel). Loops: pixel blocks, k
 * blocks (later blocks accumulate into y), 16-channel panels, 6-pixel panels: the B panel stays
 * in L1 while the packed X block streams from L2. An 8-channel last panel runs a 12-pixel x
 * 8-channel tile. Bias, residual and act (cnnrt_nchwc_act_ok) are applied in registers, SILU and
 * HARD_SWISH to each panel's stored pixel block. Plain output (the end of a blocked region)
 * transposes the tile's halves into channel rows. A fused input-channel scale multiplies x as it is
 * packed (one vector multiply per 8 channels of a pixel, or per 6 pixels of a plain channel row).
 *
 * Depthwise: one vector of 8 channels per pixel; 6 output pixels of a row at a time, each tap
 * one weight load and 6 input loads + FMAs, kernel size and stride compile-time (3x3, 5x5;
 * stride 1, 2); border pixels one at a time with bounds checks. A fused GlobalAveragePool reads
 * each finished channel block's plane back (from L2) into 8 vector accumulators, pixel i into
 * accumulator i % 8: per channel (vector lane) the operations of cnnrt_f32_global_avgpool_ref.
 *
 * Measured in mobilenet_v2 against the NCHW kernels (docs/runtime.md): depthwise 0.40-0.74x the
 * time, pointwise 0.77-1.07x, the whole model 0.85x.
 *
 * Tasks: pointwise over (image, pixel block) units, or over 16-channel panels when there are
 * fewer than two units per task (7x7 and 14x14 planes); depthwise over (image, channel block)
 * units. Each pointwise task has its own scratch (the packed X block). */
#ifndef CNNRT_NCHWC_AVX2_H
#define CNNRT_NCHWC_AVX2_H

#include "cnnrt.h"
#include "cnnrt_act_avx2.h"
#include "cnnrt_conv.h"
#include "cnnrt_dwconv_c8_avx2.h" /* cnnrt_dwc8_transpose */
#include "cnnrt_nchwc.h"

#define CNNRT_PW_NCHWC_MC 96  /* pixels per packed X block (a multiple of 6) */
#define CNNRT_PW_NCHWC_KC 512 /* at most this many input channels per packed X block */

/* Scratch bytes of one pointwise task (portable: the compiler sizes the memory
 * plan). */
/* Depth of the k blocks: k split into equal blocks of at most KC, rounded up to whole channel
 * blocks of 8 (the last block takes the rest). One block up to 512 channels: the partial sums
 * of later blocks are re-read from y. */
static inline int64_t cnnrt_pw_nchwc_kc(int64_t k) {
  const int64_t nblk = (k + CNNRT_PW_NCHWC_KC - 1) / CNNRT_PW_NCHWC_KC;
  const int64_t kc = nblk > 0 ? (k + nblk - 1) / nblk : 0;
  return (kc + 7) / 8 * 8;
}

static inline int64_t cnnrt_pw_nchwc_scratch_bytes(const cnnrt_conv_params *p) {
  const int64_t kc = cnnrt_pw_nchwc_kc(p->c_in);
  return 64 + (CNNRT_PW_NCHWC_MC * kc + 8) * (int64_t)sizeof(float);
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#if defined(__GNUC__)
#define CNNRT_NCHWC_INLINE static inline __attribute__((always_inline))
#define CNNRT_NCHWC_NOINLINE static __attribute__((noinline, unused))
#else
#define CNNRT_NCHWC_INLINE static inline
#define CNNRT_NCHWC_NOINLINE static
#endif

/* One convolution split into tasks (cnnrt_parallel hook): x_blocked / y_blocked
 * as for the references; scratch (pointwise) n_tasks regions of scratch_stride
 * bytes; in_scale (pointwise) and pooled (depthwise) as for the references, NULL if unfused. */
typedef struct cnnrt_nchwc_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride;
  int64_t n_tasks;
  int x_blocked, y_blocked;
  const float *in_scale;
  float *pooled;
  cnnrt_steal steal; /* units taken over ({{0}}: cnnrt_steal_next) */
} cnnrt_nchwc_task;

/* The epilogue activation in registers: NONE, RELU or CLIP, with the epilogue's own register
 * functions, each called with a constant act so that it inlines to two or three instructions
 * (through cnnrt_f32_act_avx2_ps's whole switch the kernels ran 1.17x slower). SILU and
 * HARD_SWISH pass through here unchanged: cnnrt_nchwc_act_after applies them to the stored
 * values. */
CNNRT_NCHWC_INLINE __m256 cnnrt_nchwc_act(int act, __m256 alpha, __m256 beta, __m256 v) {
  if (act == CNNRT_ACT_RELU) {
    return cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, alpha, beta, v);
  }
  return act == CNNRT_ACT_CLIP ? cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, alpha, beta, v) : v;
}

/* Lanes [0, n) set. */
static inline __m256i cnnrt_nchwc_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Whether cnnrt_nchwc_act_after has anything to do for act. */
static inline int cnnrt_nchwc_act_is_after(int act) {
  return act == CNNRT_ACT_SILU || act == CNNRT_ACT_HARD_SWISH;
}

/* SILU or HARD_SWISH over the n floats at y, just stored and still in L1: the runtime's own
 * array activation (cnnrt_f32_act_avx2), called out of line, as the NCHW GEMM applies these to
 * its stored tile (cnnrt_gemm_avx2_scalar_act): their constants and temporaries stay out of the
 * code where the accumulators are live. The pointwise kernel applies it per 16-channel panel of
 * a pixel block, the depthwise kernel per output row. Measured: SILU inline in the store path
 * made EfficientNet-B0's blocked expanding 1x1 layers 1.07-1.11x the NCHW GEMM's time (16->96
 * at 112x112, 24->144 at 56x56); calls in the pointwise tile itself (a third larger) made
 * MobileNet-v2, which has neither activation, 1.05-1.07x slower. */
CNNRT_NCHWC_NOINLINE void cnnrt_nchwc_act_after(int act, float *y, int64_t n) {
  cnnrt_f32_act_avx2(act, 0.0f, 0.0f, n, y, y);
}

/* ---- pointwise ------------------------------------------------------------------------------ */

/* Packs pixels [p0, p0 + mc) x input channels [k0, k0 + kc) of one image's x
 * into 6-pixel panels ap[(i / 6) * 6 * kc + kk * 6 + i % 6] (pixels past mc
 * zero). scale (NULL: none): the image's input-channel scale [c_in], channel ch packed as
 * float(x * scale[ch]); lanes of pixels past mc then hold 0 * scale, which only ever reaches
 * output pixels that are not stored. */
CNNRT_NCHWC_INLINE void cnnrt_pw_nchwc_pack_x(int x_blocked, const float *x, const float *scale,
                                              int64_t plane, int64_t p0, int64_t mc, int64_t k0,
                                              int64_t kc, float *ap) {
  for (int64_t i = 0; i < mc; i += 6) {
    const int64_t rows = mc - i < 6 ? mc - i : 6;
    float *dst = ap + i * kc;
    if (!x_blocked) {
      /* 6 contiguous pixels of each channel row: one 8-float store per k step, the 2 floats
       * past the panel row overwritten by the next step (the last ones land in the slack the
       * scratch keeps after the panels). A short panel, or one whose 8-float load could leave
       * the plane, is read with a mask of its pixels (the other lanes load as 0). */
      const __m256i mask = cnnrt_nchwc_lanes(rows == 6 && p0 + i + 8 <= plane ? 8 : rows);
      for (int64_t kk = 0; kk < kc; kk++) {
        const float *src = x + (k0 + kk) * plane + p0 + i;
        __m256 v = _mm256_maskload_ps(src, mask);
        if (scale != NULL) {
          v = _mm256_mul_ps(v, _mm256_set1_ps(scale[k0 + kk]));
        }
        _mm256_storeu_ps(dst + kk * 6, v);
      }
      continue;
    }
    for (int64_t kb = 0; kb < kc; kb += 8) { /* block (k0 + kb) / 8: [plane][8] */
      const float *src = x + (k0 + kb) * plane + (p0 + i) * 8;
      __m256 v[8];
      for (int64_t r = 0; r < 8; r++) {
        v[r] = r < rows ? _mm256_loadu_ps(src + r * 8) : _mm256_setzero_ps();
      }
      if (scale != NULL) {
        const __m256 sv = _mm256_loadu_ps(scale + k0 + kb);
        for (int64_t r = 0; r < rows; r++) {
          v[r] = _mm256_mul_ps(v[r], sv);
        }
      }
      cnnrt_dwc8_transpose(v); /* v[j] = channel k0 + kb + j of the 6 pixels (lanes 6, 7: 0) */
      for (int j = 0; j < 8; j++) {
        _mm256_storeu_ps(dst + (kb + j) * 6, v[j]);
      }
    }
  }
}

/* Epilogue of one 8-channel vector of a blocked row. */
CNNRT_NCHWC_INLINE void cnnrt_pw_nchwc_store8(float *y, const float *res, __m256 v, __m256 bias,
                                              int first, int last, int act, __m256 alpha,
                                              __m256 beta) {
  if (first) {
    v = _mm256_add_ps(v, bias);
    if (res != NULL) {
      v = _mm256_add_ps(v, _mm256_loadu_ps(res));
    }
  } else {
    v = _mm256_add_ps(v, _mm256_loadu_ps(y));
  }
  if (last) {
    v = cnnrt_nchwc_act(act, alpha, beta, v);
  }
  _mm256_storeu_ps(y, v);
}

/* The epilogue of a tile into plain y: the 6 x 8 halves transposed in registers into rows of
 * one channel's 6 pixels, then per channel the same operations as cnnrt_pw_nchwc_store8. With
 * `spill` the row is written as 8 floats (the 2 past the tile belong to the next tile of the
 * same task, which overwrites them without reading them); else with a mask of mr lanes. y, res at
 * (channel m0, the tile's first pixel). */
static inline void cnnrt_pw_nchwc_store_plain(__m256 v[8], float *y, const float *res,
                                              int64_t plane, int64_t mr, const float *bias,
                                              int first, int last, int spill,
                                              const cnnrt_conv_params *p) {
  const int act = (int)p->act;
  const __m256 alpha = _mm256_set1_ps(p->alpha), beta = _mm256_set1_ps(p->beta);
  const __m256i mask = cnnrt_nchwc_lanes(mr);
  cnnrt_dwc8_transpose(v);
  for (int j = 0; j < 8; j++) {
    float *yo = y + j * plane;
    __m256 w = v[j];
    if (first) {
      w = _mm256_add_ps(w, _mm256_set1_ps(bias != NULL ? bias[j] : 0.0f));
      if (res != NULL) {
        const float *ro = res + j * plane;
        w = _mm256_add_ps(w, spill ? _mm256_loadu_ps(ro) : _mm256_maskload_ps(ro, mask));
      }
    } else {
      w = _mm256_add_ps(w, spill ? _mm256_loadu_ps(yo) : _mm256_maskload_ps(yo, mask));
    }
    if (last) {
      w = cnnrt_nchwc_act(act, alpha, beta, w);
    }
    if (spill) {
      _mm256_storeu_ps(yo, w);
    } else {
      _mm256_maskstore_ps(yo, mask, w);
    }
  }
}

/* The 6 x 16 tile: rows = pixels (mr valid), columns = channels m0 .. m0 + 15
 * (nb = 2 blocks) or m0 .. m0 + 7 (nb = 1: the zero half of the last panel is
 * computed and dropped). y, res at the tile's first pixel of block m0 / 8
 * (blocked) or at (channel m0, first pixel) (plain). */
static inline void cnnrt_pw_nchwc_tile(int64_t kc, const float *a, const float *b, float *y,
                                       const float *res, int64_t plane, int64_t mr, int64_t nb,
                                       const float *bias, int first, int last, int y_blocked,
                                       int spill, const cnnrt_conv_params *p) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(b + 16 * k), b1 = _mm256_loadu_ps(b + 16 * k + 8);
    __m256 t = _mm256_broadcast_ss(a + 6 * k + 0);
    c00 = _mm256_fmadd_ps(t, b0, c00);
    c01 = _mm256_fmadd_ps(t, b1, c01);
    t = _mm256_broadcast_ss(a + 6 * k + 1);
    c10 = _mm256_fmadd_ps(t, b0, c10);
    c11 = _mm256_fmadd_ps(t, b1, c11);
    t = _mm256_broadcast_ss(a + 6 * k + 2);
    c20 = _mm256_fmadd_ps(t, b0, c20);
    c21 = _mm256_fmadd_ps(t, b1, c21);
    t = _mm256_broadcast_ss(a + 6 * k + 3);
    c30 = _mm256_fmadd_ps(t, b0, c30);
    c31 = _mm256_fmadd_ps(t, b1, c31);
    t = _mm256_broadcast_ss(a + 6 * k + 4);
    c40 = _mm256_fmadd_ps(t, b0, c40);
    c41 = _mm256_fmadd_ps(t, b1, c41);
    t = _mm256_broadcast_ss(a + 6 * k + 5);
    c50 = _mm256_fmadd_ps(t, b0, c50);
    c51 = _mm256_fmadd_ps(t, b1, c51);
  }
  if (!y_blocked) {
    const __m256 z = _mm256_setzero_ps();
    __m256 h0[8] = {c00, c10, c20, c30, c40, c50, z, z};
    cnnrt_pw_nchwc_store_plain(h0, y, res, plane, mr, bias, first, last, spill, p);
    if (nb > 1) {
      __m256 h1[8] = {c01, c11, c21, c31, c41, c51, z, z};
      cnnrt_pw_nchwc_store_plain(h1, y + 8 * plane, res != NULL ? res + 8 * plane : NULL, plane, mr,
                                 bias != NULL ? bias + 8 : NULL, first, last, spill, p);
    }
    return;
  }
  const int act = (int)p->act;
  const __m256 alpha = _mm256_set1_ps(p->alpha), beta = _mm256_set1_ps(p->beta);
  const __m256 bb0 = bias != NULL ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 bb1 = bias != NULL && nb > 1 ? _mm256_loadu_ps(bias + 8) : bb0;
  float *y1 = y + plane * 8;
  const float *r1 = res != NULL ? res + plane * 8 : NULL;
#define CNNRT_PW_NCHWC_ROW(r, v0, v1)                                                              \
  if (mr > (r)) {                                                                                  \
    cnnrt_pw_nchwc_store8(y + (r)*8, res != NULL ? res + (r)*8 : NULL, v0, bb0, first, last, act,  \
                          alpha, beta);                                                            \
    if (nb > 1) {                                                                                  \
      cnnrt_pw_nchwc_store8(y1 + (r)*8, r1 != NULL ? r1 + (r)*8 : NULL, v1, bb1, first, last, act, \
                            alpha, beta);                                                          \
    }                                                                                              \
  }
  CNNRT_PW_NCHWC_ROW(0, c00, c01)
  CNNRT_PW_NCHWC_ROW(1, c10, c11)
  CNNRT_PW_NCHWC_ROW(2, c20, c21)
  CNNRT_PW_NCHWC_ROW(3, c30, c31)
  CNNRT_PW_NCHWC_ROW(4, c40, c41)
  CNNRT_PW_NCHWC_ROW(5, c50, c51)
#undef CNNRT_PW_NCHWC_ROW
}

/* 12 pixels (two 6-pixel panels of ap) x one 8-channel block, into blocked y: twelve
 * independent FMA chains for the last panel of a c_out that is 8 more than a multiple of 16
 * (the 6 x 16 tile would spend half its FMAs on the panel's zero columns). */
static inline void cnnrt_pw_nchwc_tile12x8(int64_t kc, const float *a, const float *b, float *y,
                                           const float *res, const float *bias, int first, int last,
                                           const cnnrt_conv_params *p) {
  const float *a1 = a + 6 * kc;
  __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  __m256 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(b + 16 * k);
    c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 0), b0, c0);
    c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 1), b0, c1);
    c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 2), b0, c2);
    c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 3), b0, c3);
    c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 4), b0, c4);
    c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6 * k + 5), b0, c5);
    c6 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 0), b0, c6);
    c7 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 1), b0, c7);
    c8 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 2), b0, c8);
    c9 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 3), b0, c9);
    c10 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 4), b0, c10);
    c11 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 6 * k + 5), b0, c11);
  }
  const int act = (int)p->act;
  const __m256 alpha = _mm256_set1_ps(p->alpha), beta = _mm256_set1_ps(p->beta);
  const __m256 bb = bias != NULL ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 v[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
  for (int r = 0; r < 12; r++) {
    cnnrt_pw_nchwc_store8(y + r * 8, res != NULL ? res + r * 8 : NULL, v[r], bb, first, last, act,
                          alpha, beta);
  }
}

/* Pixels [p0, p1) x 16-channel panels [j0, j1) of image b. */
static inline void cnnrt_pw_nchwc_range(const cnnrt_nchwc_task *a, int64_t b, int64_t p0,
                                        int64_t p1, int64_t j0, int64_t j1, float *ap) {
  const cnnrt_conv_params *p = a->p;
  const int64_t plane = p->out[0] * p->out[1], k = p->c_in, m = p->c_out;
  const float *xb = a->x + b * k * plane;
  float *yb = a->y + b * m * plane;
  const float *rb = a->residual != NULL ? a->residual + b * m * plane : NULL;
  for (int64_t q0 = p0; q0 < p1; q0 += CNNRT_PW_NCHWC_MC) {
    const int64_t mc = p1 - q0 < CNNRT_PW_NCHWC_MC ? p1 - q0 : CNNRT_PW_NCHWC_MC;
    const int64_t kc_max = cnnrt_pw_nchwc_kc(k);
    for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
      const int64_t kc = k - k0 < kc_max ? k - k0 : kc_max;
      if (a->in_scale != NULL) { /* two inlined copies: without a scale, no branch per row */
        cnnrt_pw_nchwc_pack_x(a->x_blocked, xb, a->in_scale + b * k, plane, q0, mc, k0, kc, ap);
      } else {
        cnnrt_pw_nchwc_pack_x(a->x_blocked, xb, NULL, plane, q0, mc, k0, kc, ap);
      }
      const int first = k0 == 0, last = k0 + kc >= k;
      /* Plain y: a tile may write 2 floats past its 6 pixels (cnnrt_pw_nchwc_store_plain) only
       * when they are pure scratch until the next tile writes them: one k block (no partial
       * sums there to clip or re-read) and no residual (which may be y itself). */
      const int spill = first && last && rb == NULL;
      for (int64_t j = j0; j < j1; j++) {
        const int64_t m0 = 16 * j;
        const int64_t nb = m - m0 >= 16 ? 2 : 1;
        const float *bp = a->w + m0 * k + k0 * 16;
        int64_t i = 0;
        if (nb == 1 && a->y_blocked) { /* an 8-channel panel: 12 pixels x 8 channels a tile */
          for (; i + 12 <= mc; i += 12) {
            const int64_t off = m0 * plane + (q0 + i) * 8;
            cnnrt_pw_nchwc_tile12x8(kc, ap + i * kc, bp, yb + off, rb != NULL ? rb + off : NULL,
                                    a->bias != NULL ? a->bias + m0 : NULL, first, last, p);
          }
        }
        for (; i < mc; i += 6) {
          const int64_t mr = mc - i < 6 ? mc - i : 6;
          const int64_t off = a->y_blocked ? m0 * plane + (q0 + i) * 8 : m0 * plane + q0 + i;
          cnnrt_pw_nchwc_tile(kc, ap + i * kc, bp, yb + off, rb != NULL ? rb + off : NULL, plane,
                              mr, nb, a->bias != NULL ? a->bias + m0 : NULL, first, last,
                              a->y_blocked, spill && i + 8 <= mc, p);
        }
        if (last && cnnrt_nchwc_act_is_after((int)p->act)) { /* the panel's mc pixels */
          const int64_t chans = nb * 8;
          if (a->y_blocked) {
            for (int64_t c = 0; c < chans; c += 8) {
              cnnrt_nchwc_act_after((int)p->act, yb + (m0 + c) * plane + q0 * 8, mc * 8);
            }
          } else {
            for (int64_t c = 0; c < chans; c++) {
              cnnrt_nchwc_act_after((int)p->act, yb + (m0 + c) * plane + q0, mc);
            }
          }
        }
      }
    }
  }
}

static inline void cnnrt_pw_nchwc_avx2_task(void *arg, int64_t t) {
  cnnrt_nchwc_task *a = (cnnrt_nchwc_task *)arg;
  const cnnrt_conv_params *p = a->p;
  const int64_t plane = p->out[0] * p->out[1];
  const int64_t blocks = (plane + CNNRT_PW_NCHWC_MC - 1) / CNNRT_PW_NCHWC_MC;
  const int64_t units = p->n * blocks, panels = (p->c_out + 15) / 16;
  unsigned char *s = a->scratch + t * a->scratch_stride;
  float *ap = (float *)(void *)(s + (64 - (uintptr_t)s % 64) % 64);
  if (units < 2 * a->n_tasks && panels >= a->n_tasks) { /* split the channel panels */
    const int64_t j0 = panels * t / a->n_tasks, j1 = panels * (t + 1) / a->n_tasks;
    for (int64_t b = 0; b < p->n; b++) {
      cnnrt_pw_nchwc_range(a, b, 0, plane, j0, j1, ap);
    }
    return;
  }
  int64_t u0, u1;
  for (int first = 1; cnnrt_steal_next(&a->steal, units, a->n_tasks, t, 1, 0, first, &u0, &u1);
       first = 0) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t b = u / blocks, q0 = (u % blocks) * CNNRT_PW_NCHWC_MC;
      const int64_t q1 = q0 + CNNRT_PW_NCHWC_MC < plane ? q0 + CNNRT_PW_NCHWC_MC : plane;
      cnnrt_pw_nchwc_range(a, b, q0, q1, 0, panels, ap);
    }
  }
}

/* ---- depthwise ------------------------------------------------------------------------------ */

/* Output pixels [ox0, ox1) of a row, one at a time, taps outside the row
 * skipped; returns ox1. */
CNNRT_NCHWC_INLINE int64_t cnnrt_dw_nchwc_border(const float *x, int64_t row0, const float *w,
                                                 __m256 bias, const float *rr, float *yr,
                                                 int64_t wd, int64_t ox0, int64_t ox1, int64_t ky0,
                                                 int64_t ky1, int64_t pl, int act, __m256 alpha,
                                                 __m256 beta, const int K, const int S) {
  for (int64_t ox = ox0; ox < ox1; ox++) {
    __m256 acc = bias;
    for (int64_t ky = ky0; ky < ky1; ky++) {
      for (int kx = 0; kx < K; kx++) {
        const int64_t ix = ox * S - pl + kx;
        if (ix >= 0 && ix < wd) {
          acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + (ky * K + kx) * 8),
                                _mm256_loadu_ps(x + ((row0 + ky) * wd + ix) * 8), acc);
        }
      }
    }
    if (rr != NULL) {
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(rr + ox * 8));
    }
    acc = cnnrt_nchwc_act(act, alpha, beta, acc);
    _mm256_storeu_ps(yr + ox * 8, acc);
  }
  return ox1 > ox0 ? ox1 : ox0;
}

/* Output row oy of one channel block: x, w, r, y at the block's plane /
 * weights. */
CNNRT_NCHWC_INLINE void cnnrt_dw_nchwc_row(const float *x, const float *w, __m256 bias,
                                           const float *r, float *y, int64_t h, int64_t wd,
                                           int64_t ow, int64_t oy, int64_t pt, int64_t pl, int act,
                                           __m256 alpha, __m256 beta, const int K, const int S) {
  const int64_t ky0 = pt - oy * S > 0 ? pt - oy * S : 0;
  const int64_t ky1 = h + pt - oy * S < K ? h + pt - oy * S : K;
  /* interior columns [ox_lo, ox_hi): every tap inside the row */
  int64_t ox_lo = (pl + S - 1) / S;
  int64_t ox_hi = wd - K + pl >= 0 ? (wd - K + pl) / S + 1 : 0;
  ox_hi = ox_hi < ow ? ox_hi : ow;
  ox_lo = ox_lo < ox_hi ? ox_lo : ox_hi;
  const int64_t row0 = oy * S - pt; /* input row of tap row 0 (may be outside the image) */
  float *yr = y + oy * ow * 8;
  const float *rr = r != NULL ? r + oy * ow * 8 : NULL;
  int64_t ox = cnnrt_dw_nchwc_border(x, row0, w, bias, rr, yr, wd, 0, ox_lo, ky0, ky1, pl, act,
                                     alpha, beta, K, S);
  for (; ox + 6 <= ox_hi; ox += 6) { /* interior: 6 pixels, no checks */
    __m256 a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias;
    for (int64_t ky = ky0; ky < ky1; ky++) {
      const float *xq = x + ((row0 + ky) * wd + ox * S - pl) * 8;
      const float *wq = w + ky * K * 8;
      for (int kx = 0; kx < K; kx++) {
        const __m256 wv = _mm256_loadu_ps(wq + kx * 8);
        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (0 * S + kx) * 8), a0);
        a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (1 * S + kx) * 8), a1);
        a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (2 * S + kx) * 8), a2);
        a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (3 * S + kx) * 8), a3);
        a4 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (4 * S + kx) * 8), a4);
        a5 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xq + (5 * S + kx) * 8), a5);
      }
    }
    if (rr != NULL) {
      const float *ro = rr + ox * 8;
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(ro));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(ro + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(ro + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(ro + 24));
      a4 = _mm256_add_ps(a4, _mm256_loadu_ps(ro + 32));
      a5 = _mm256_add_ps(a5, _mm256_loadu_ps(ro + 40));
    }
    a0 = cnnrt_nchwc_act(act, alpha, beta, a0);
    a1 = cnnrt_nchwc_act(act, alpha, beta, a1);
    a2 = cnnrt_nchwc_act(act, alpha, beta, a2);
    a3 = cnnrt_nchwc_act(act, alpha, beta, a3);
    a4 = cnnrt_nchwc_act(act, alpha, beta, a4);
    a5 = cnnrt_nchwc_act(act, alpha, beta, a5);
    float *yo = yr + ox * 8;
    _mm256_storeu_ps(yo, a0);
    _mm256_storeu_ps(yo + 8, a1);
    _mm256_storeu_ps(yo + 16, a2);
    _mm256_storeu_ps(yo + 24, a3);
    _mm256_storeu_ps(yo + 32, a4);
    _mm256_storeu_ps(yo + 40, a5);
  }
  cnnrt_dw_nchwc_border(x, row0, w, bias, rr, yr, wd, ox, ow, ky0, ky1, pl, act, alpha, beta, K, S);
  if (cnnrt_nchwc_act_is_after(act)) { /* the whole row, in L1 */
    cnnrt_nchwc_act_after(act, yr, ow * 8);
  }
}

/* The fused GlobalAveragePool of one finished channel block: the means of yb [plane][8] into
 * out[0..8), bit-identical to cnnrt_f32_nchwc_block_mean_ref (and so to
 * cnnrt_f32_global_avgpool_ref and _avx2 on the same channel planes): pixel i into accumulator
 * i % 8, in pixel order, each lane a channel. */
static inline void cnnrt_nchwc_block_mean_avx2(const float *yb, int64_t plane, float *out) {
  __m256 lanes[8]; /* a fixed 8-trip loop: gcc keeps them in registers */
  for (int l = 0; l < 8; l++) {
    lanes[l] = _mm256_setzero_ps();
  }
  const int64_t nv = plane - plane % 8;
  for (int64_t i = 0; i < nv; i += 8) {
    for (int l = 0; l < 8; l++) {
      lanes[l] = _mm256_add_ps(lanes[l], _mm256_loadu_ps(yb + (i + l) * 8));
    }
  }
  for (int64_t i = nv; i < plane; i++) {
    lanes[i - nv] = _mm256_add_ps(lanes[i - nv], _mm256_loadu_ps(yb + i * 8));
  }
  __m256 r = _mm256_setzero_ps();
  for (int l = 0; l < 8; l++) {
    r = _mm256_add_ps(r, lanes[l]);
  }
  _mm256_storeu_ps(out, plane > 0 ? _mm256_div_ps(r, _mm256_set1_ps((float)plane)) : r);
}

CNNRT_NCHWC_INLINE void cnnrt_dw_nchwc_blocks(const cnnrt_nchwc_task *a, int64_t u0, int64_t u1,
                                              const int K, const int S) {
  const cnnrt_conv_params *p = a->p;
  const int64_t h = p->in[0], wd = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t cb = p->c_in / 8;
  const int act = (int)p->act;
  const __m256 alpha = _mm256_set1_ps(p->alpha), beta = _mm256_set1_ps(p->beta);
  for (int64_t u = u0; u < u1; u++) { /* u = image * cb + channel block */
    const float *xb = a->x + u * h * wd * 8;
    const float *wb = a->w + (u % cb) * K * K * 8;
    const __m256 bv =
        a->bias != NULL ? _mm256_loadu_ps(a->bias + (u % cb) * 8) : _mm256_setzero_ps();
    const float *rb = a->residual != NULL ? a->residual + u * oh * ow * 8 : NULL;
    float *yb = a->y + u * oh * ow * 8;
    for (int64_t oy = 0; oy < oh; oy++) {
      cnnrt_dw_nchwc_row(xb, wb, bv, rb, yb, h, wd, ow, oy, p->pad_begin[0], p->pad_begin[1], act,
                         alpha, beta, K, S);
    }
    if (a->pooled != NULL) { /* pooled [n, c]: unit u's 8 channels are pooled[u * 8 ..] */
      cnnrt_nchwc_block_mean_avx2(yb, oh * ow, a->pooled + u * 8);
    }
  }
}

static inline void cnnrt_dw_nchwc_avx2_task(void *arg, int64_t t) {
  cnnrt_nchwc_task *a = (cnnrt_nchwc_task *)arg;
  const cnnrt_conv_params *p = a->p;
  CNNRT_ASSERT(cnnrt_nchwc_depthwise_applies(p));
  const int64_t units = p->n * (p->c_in / 8);
  const int64_t k = p->kernel[0], s = p->stride[0];
  int64_t u0, u1;
  for (int first = 1; cnnrt_steal_next(&a->steal, units, a->n_tasks, t, 1, 0, first, &u0, &u1);
       first = 0) {
    if (k == 3 && s == 1) {
      cnnrt_dw_nchwc_blocks(a, u0, u1, 3, 1);
    } else if (k == 3) {
      cnnrt_dw_nchwc_blocks(a, u0, u1, 3, 2);
    } else if (s == 1) {
      cnnrt_dw_nchwc_blocks(a, u0, u1, 5, 1);
    } else {
      cnnrt_dw_nchwc_blocks(a, u0, u1, 5, 2);
    }
  }
}

#endif /* __AVX2__ && __FMA__ */

#endif
