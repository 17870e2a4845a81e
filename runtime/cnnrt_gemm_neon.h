/* cnnrt_gemm_neon.h — GEMM-based 2-D convolution (group 1) for ARM NEON, with its portable
 * fallback.
 *
 * y = act(conv(x) + bias + residual), the convolution as the GEMM C[m, n] = A[m, k] * B[k, n]
 * with A = the weights [c_out, c_in * kh * kw] and B = the im2col view of one image
 * [c_in * kh * kw, oh * ow]; the same BLIS-style scheme as cnnrt_gemm_avx2.h:
 *  - A (constant) is packed once, at build time, by the portable cnnrt_f32_pack_a_mr into panels
 *    of MR rows, k-major inside a panel, the last panel zero-padded:
 *        packed[(i / MR) * MR * k + kk * MR + i % MR] = A[i, kk]
 *    MR is chosen per target by the compiler (schedule.c): 8 for aarch64 (the 8x12 kernel),
 *    4 for ARMv7 (the 4x8 kernel). Any MR that is a multiple of 4 runs on any NEON core: the
 *    4-row kernel walks 4-row slices of a wider panel.
 *  - B is packed at run time, per block of KC rows x NC columns, straight from the image
 *    (implicit im2col, zeros for padding taps) into panels of NR columns, k-major inside a
 *    panel, columns past the end zeroed.
 *  - Microkernels (registers: aarch64 has 32 q-registers, ARMv7 16):
 *      aarch64 8x12: 24 accumulators + 2 A vectors + 3 B vectors = 29 registers; per k step
 *        5 loads and 24 FMAs by lane (vfmaq_laneq_f32: no broadcasts needed). A72/A76 issue two
 *        128-bit FMAs per cycle with a 4-cycle latency (A72: 7 with the accumulate forwarding
 *        path 3), so 24 independent accumulators hide the latency with room to spare.
 *      ARMv7 4x8: 8 accumulators + 1 A vector + 2 B vectors = 11 of 16 q-registers; 8 multiply-
 *        adds by scalar lane (VMLA.F32 q, q, d[x]) per 3 loads.
 *    The tile is written raw to a small stack buffer; the epilogue then adds bias and residual
 *    (first k block) or the partial C (later k blocks), applies the activation (last k block)
 *    and stores only the valid rows and columns. Each residual element is read before that
 *    element of C is written, so `residual` may be the very buffer y (in-place residual add).
 *  - Loops: output pixels of the task > column blocks (NC) > k blocks (KC) > row panels (MR) >
 *    column panels (NR).
 *  - Results equal the portable reference up to float rounding (different summation order).
 *
 * The portable part (weight packing, scratch sizes, the packed reference kernel) is always
 * declared: the compiler runs it on any host, and a build without NEON of NEON-targeted output
 * calls cnnrt_f32_conv_packed_mr_ref. The rest needs __ARM_NEON. */
#ifndef CNNRT_GEMM_NEON_H
#define CNNRT_GEMM_NEON_H

#include "cnnrt.h"
#include "cnnrt_conv.h"

/* Blocking: the KC x NR micro-panel of B (12 KiB at KC 256, NR 12) stays in L1 (A72: 32 KiB,
 * A76: 64 KiB) while the MR x KC slivers of A stream past; the KC x NC block (96 KiB) stays in
 * L2. NC is a multiple of both tile widths (8 and 12). */
#ifndef CNNRT_GEMM_NEON_KC
#define CNNRT_GEMM_NEON_KC 256
#endif
#ifndef CNNRT_GEMM_NEON_NC
#define CNNRT_GEMM_NEON_NC 96
#endif

/* Bytes of the packed form of a row-major [m, k] A (m rounded up to a multiple of mr). */
static inline int64_t cnnrt_f32_pack_a_mr_bytes(int64_t m, int64_t k, int64_t mr) {
  return (m + mr - 1) / mr * mr * k * (int64_t)sizeof(float);
}

/* Packs row-major A [m, k] into mr-row panels, k-major inside a panel, padding rows zeroed. */
static inline void cnnrt_f32_pack_a_mr(int64_t m, int64_t k, int64_t mr, const float *a,
                                       float *packed) {
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int64_t rows = m - i0 < mr ? m - i0 : mr;
    float *dst = packed + i0 * k;
    for (int64_t kk = 0; kk < k; kk++) {
      for (int64_t r = 0; r < mr; r++) {
        dst[kk * mr + r] = r < rows ? a[(i0 + r) * k + kk] : 0.0f;
      }
    }
  }
}

/* Depth of the k blocks: k split into equal blocks of at most KC. */
static inline int64_t cnnrt_gemm_neon_kc(int64_t k) {
  if (k <= 0) {
    return 0;
  }
  const int64_t nblk = (k + CNNRT_GEMM_NEON_KC - 1) / CNNRT_GEMM_NEON_KC;
  return (k + nblk - 1) / nblk;
}

/* Scratch bytes of one task of cnnrt_f32_conv_gemm_neon_range (the packed B block). */
static inline int64_t cnnrt_f32_conv_gemm_neon_scratch_bytes(const cnnrt_conv_params *p) {
  const int64_t k = p->c_in * p->kernel[0] * p->kernel[1];
  const int64_t plane = p->out[0] * p->out[1];
  const int64_t nc = plane < CNNRT_GEMM_NEON_NC ? plane : CNNRT_GEMM_NEON_NC;
  return 64 + cnnrt_gemm_neon_kc(k) * ((nc + 23) / 24 * 24) * (int64_t)sizeof(float);
}

/* Portable convolution reading weights packed by cnnrt_f32_pack_a_mr: the fallback of NEON-
 * targeted output built for a core without NEON. Semantics of cnnrt_f32_conv_ref. */
/* in_scale [n, c_in] or NULL: as cnnrt_f32_conv_packed_scaled_ref. */
static inline void cnnrt_f32_conv_packed_mr_scaled_ref(const cnnrt_conv_params *p, const float *x,
                                                       const float *in_scale, const float *wp,
                                                       int64_t mr, const float *bias,
                                                       const float *residual, float *y) {
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
      const float *wrow = wp + (oc / mr) * mr * k + oc % mr; /* weight kk at wrow[kk * mr] */
      for (int64_t i = 0; i < plane; i++) {
        yp[i] = b0 + (rp ? rp[i] : 0.0f); /* residual read before y is written */
      }
      for (int64_t ic = 0; ic < p->c_in; ic++) {
        const float *xc = xb + ic * ih * iw;
        const float sc = in_scale != NULL ? in_scale[b * p->c_in + ic] : 1.0f;
        for (int64_t ky = 0; ky < kh; ky++) {
          for (int64_t kx = 0; kx < kw; kx++) {
            const float wv = wrow[((ic * kh + ky) * kw + kx) * mr];
            int64_t x0 = 0, x1 = ow; /* output columns whose tap is inside the row */
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
              for (int64_t ox = x0; ox < x1; ox++) {
                yr[ox] += wv * (xr[ox * sw] * sc);
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

static inline void cnnrt_f32_conv_packed_mr_ref(const cnnrt_conv_params *p, const float *x,
                                                const float *wp, int64_t mr, const float *bias,
                                                const float *residual, float *y) {
  cnnrt_f32_conv_packed_mr_scaled_ref(p, x, NULL, wp, mr, bias, residual, y);
}

/* Bytes of a grouped convolution's weights packed by cnnrt_f32_conv_grouped_pack_mr. */
static inline int64_t cnnrt_f32_conv_grouped_pack_mr_bytes(const cnnrt_conv_params *p,
                                                           int64_t mr) {
  return p->group * cnnrt_f32_pack_a_mr_bytes(p->c_out / p->group,
                                              p->c_in / p->group * p->kernel[0] * p->kernel[1],
                                              mr);
}

/* Packs a grouped 2-D convolution's weights [c_out, c_in / group, kh, kw]: group g's rows viewed
 * as [c_out / group, c_in / group * kh * kw] in mr-row panels (zero-padded per group, so that a
 * group's GEMM never reads the next group's rows), group after group. */
static inline void cnnrt_f32_conv_grouped_pack_mr(const cnnrt_conv_params *p, const float *w,
                                                  int64_t mr, float *packed) {
  const int64_t m = p->c_out / p->group, k = p->c_in / p->group * p->kernel[0] * p->kernel[1];
  const int64_t wg = cnnrt_f32_pack_a_mr_bytes(m, k, mr) / (int64_t)sizeof(float);
  for (int64_t g = 0; g < p->group; g++) {
    cnnrt_f32_pack_a_mr(m, k, mr, w + g * m * k, packed + g * wg);
  }
}

/* Scratch bytes of one task of cnnrt_f32_conv_grouped_gemm_neon_range: one group's GEMM. */
static inline int64_t cnnrt_f32_conv_grouped_neon_scratch_bytes(const cnnrt_conv_params *p) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  return cnnrt_f32_conv_gemm_neon_scratch_bytes(&sp);
}

/* The portable fallback of the grouped NEON GEMM on the same packed weights: one
 * cnnrt_f32_conv_packed_mr_ref per (image, group). Semantics of cnnrt_f32_conv_ref. */
static inline void cnnrt_f32_conv_grouped_packed_mr_ref(const cnnrt_conv_params *p,
                                                        const float *x, const float *wp,
                                                        int64_t mr, const float *bias,
                                                        const float *residual, float *y) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  const int64_t in_plane = p->in[0] * p->in[1], plane = p->out[0] * p->out[1];
  const int64_t wg =
      cnnrt_f32_pack_a_mr_bytes(sp.c_out, sp.c_in * p->kernel[0] * p->kernel[1], mr) /
      (int64_t)sizeof(float);
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t g = 0; g < p->group; g++) {
      const int64_t yo = (b * p->c_out + g * sp.c_out) * plane;
      cnnrt_f32_conv_packed_mr_ref(&sp, x + (b * p->c_in + g * sp.c_in) * in_plane, wp + g * wg,
                                   mr, bias != NULL ? bias + g * sp.c_out : NULL,
                                   residual != NULL ? residual + yo : NULL, y + yo);
    }
  }
}

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include "cnnrt_act_neon.h"
#include "cnnrt_dwconv_neon.h"
#include <arm_neon.h>

#if defined(__aarch64__)
#define CNNRT_GEMM_NEON_NR 12 /* columns of the 8x12 tile */
#else
#define CNNRT_GEMM_NEON_NR 8 /* columns of the 4x8 tile */
#endif
#define CNNRT_GEMM_NEON_TILE_MAX (8 * 12)

/* One convolution split into tasks for the cnnrt_parallel hook (task t: its share of the output
 * pixels, with its own scratch region scratch + t * scratch_stride). */
typedef struct cnnrt_conv_neon_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride;
  int64_t n_tasks;
  int64_t mr; /* row panel height of the packed weights */
  const float *in_scale; /* [n, c_in] input channel scale of the GEMM task, or NULL */
  /* Depthwise task only (else NULL): a fused GlobalAveragePool, as in cnnrt_conv_task. */
  cnnrt_plane_reduce_fn reduce;
  float *reduced;
} cnnrt_conv_neon_task;

#if defined(__aarch64__)
/* c[8][12] = sum over kc of the 8-row A sliver times the 12-column B panel. */
static inline void cnnrt_gemm_neon_8x12(int64_t kc, const float *a, const float *b, float *c) {
#define CNNRT_NEON_ROW_(r) float32x4_t c##r##0 = vdupq_n_f32(0.0f), c##r##1 = c##r##0, c##r##2 = c##r##0;
  CNNRT_NEON_ROW_(0) CNNRT_NEON_ROW_(1) CNNRT_NEON_ROW_(2) CNNRT_NEON_ROW_(3)
  CNNRT_NEON_ROW_(4) CNNRT_NEON_ROW_(5) CNNRT_NEON_ROW_(6) CNNRT_NEON_ROW_(7)
#undef CNNRT_NEON_ROW_
  for (int64_t kk = 0; kk < kc; kk++) {
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
#define CNNRT_NEON_FMA_(r, av, lane)                                                               \
  c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);                                              \
  c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);                                              \
  c##r##2 = vfmaq_laneq_f32(c##r##2, b2, av, lane);
    CNNRT_NEON_FMA_(0, a0, 0) CNNRT_NEON_FMA_(1, a0, 1) CNNRT_NEON_FMA_(2, a0, 2)
    CNNRT_NEON_FMA_(3, a0, 3) CNNRT_NEON_FMA_(4, a1, 0) CNNRT_NEON_FMA_(5, a1, 1)
    CNNRT_NEON_FMA_(6, a1, 2) CNNRT_NEON_FMA_(7, a1, 3)
#undef CNNRT_NEON_FMA_
    a += 8;
    b += 12;
  }
#define CNNRT_NEON_STORE_(r)                                                                       \
  vst1q_f32(c + r * 12, c##r##0);                                                                \
  vst1q_f32(c + r * 12 + 4, c##r##1);                                                            \
  vst1q_f32(c + r * 12 + 8, c##r##2);
  CNNRT_NEON_STORE_(0) CNNRT_NEON_STORE_(1) CNNRT_NEON_STORE_(2) CNNRT_NEON_STORE_(3)
  CNNRT_NEON_STORE_(4) CNNRT_NEON_STORE_(5) CNNRT_NEON_STORE_(6) CNNRT_NEON_STORE_(7)
#undef CNNRT_NEON_STORE_
}

/* The 8-row kernel for a last column panel of at most 4 (NB = 1) or 8 (NB = 2) valid columns:
 * reads the same 12-column B panel but computes only the first NB vectors, so that small planes
 * (a 2x2 image is 4 pixels) do not spend two thirds of their FMAs on padding columns. The tile
 * columns it does not compute are left as they were (the epilogue stores only valid columns). */
#define CNNRT_GEMM_NEON_8XN(NB)                                                                    \
  static inline void cnnrt_gemm_neon_8x4x##NB(int64_t kc, const float *a, const float *b,        \
                                              float *c) {                                        \
    float32x4_t acc[8][NB];                                                                      \
    for (int r = 0; r < 8; r++) {                                                                \
      for (int j = 0; j < NB; j++) {                                                             \
        acc[r][j] = vdupq_n_f32(0.0f);                                                           \
      }                                                                                          \
    }                                                                                            \
    for (int64_t kk = 0; kk < kc; kk++) {                                                        \
      const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);                                \
      for (int j = 0; j < NB; j++) {                                                             \
        const float32x4_t bv = vld1q_f32(b + 4 * j);                                             \
        acc[0][j] = vfmaq_laneq_f32(acc[0][j], bv, a0, 0);                                       \
        acc[1][j] = vfmaq_laneq_f32(acc[1][j], bv, a0, 1);                                       \
        acc[2][j] = vfmaq_laneq_f32(acc[2][j], bv, a0, 2);                                       \
        acc[3][j] = vfmaq_laneq_f32(acc[3][j], bv, a0, 3);                                       \
        acc[4][j] = vfmaq_laneq_f32(acc[4][j], bv, a1, 0);                                       \
        acc[5][j] = vfmaq_laneq_f32(acc[5][j], bv, a1, 1);                                       \
        acc[6][j] = vfmaq_laneq_f32(acc[6][j], bv, a1, 2);                                       \
        acc[7][j] = vfmaq_laneq_f32(acc[7][j], bv, a1, 3);                                       \
      }                                                                                          \
      a += 8;                                                                                    \
      b += 12;                                                                                   \
    }                                                                                            \
    for (int r = 0; r < 8; r++) {                                                                \
      for (int j = 0; j < NB; j++) {                                                             \
        vst1q_f32(c + r * 12 + 4 * j, acc[r][j]);                                                \
      }                                                                                          \
    }                                                                                            \
  }
CNNRT_GEMM_NEON_8XN(1)
CNNRT_GEMM_NEON_8XN(2)
#undef CNNRT_GEMM_NEON_8XN
#endif

/* c[4][NR] (NR = 8 on ARMv7, 12 on aarch64) = sum over kc of a 4-row slice of an A panel of
 * height a_step (read at a, a + a_step, ...) times the NR-column B panel. */
#if defined(__aarch64__)
static inline void cnnrt_gemm_neon_4xnr(int64_t kc, const float *a, int64_t a_step,
                                        const float *b, float *c) {
#define CNNRT_NEON_MLA_(acc, bv, av, lane) acc = vfmaq_laneq_f32(acc, bv, av, lane)
  float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c10 = c00, c11 = c00;
  float32x4_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  float32x4_t c02 = c00, c12 = c00, c22 = c00, c32 = c00;
  for (int64_t kk = 0; kk < kc; kk++) {
    const float32x4_t a0 = vld1q_f32(a);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
    CNNRT_NEON_MLA_(c00, b0, a0, 0);
    CNNRT_NEON_MLA_(c01, b1, a0, 0);
    CNNRT_NEON_MLA_(c10, b0, a0, 1);
    CNNRT_NEON_MLA_(c11, b1, a0, 1);
    CNNRT_NEON_MLA_(c20, b0, a0, 2);
    CNNRT_NEON_MLA_(c21, b1, a0, 2);
    CNNRT_NEON_MLA_(c30, b0, a0, 3);
    CNNRT_NEON_MLA_(c31, b1, a0, 3);
    const float32x4_t b2 = vld1q_f32(b + 8);
    CNNRT_NEON_MLA_(c02, b2, a0, 0);
    CNNRT_NEON_MLA_(c12, b2, a0, 1);
    CNNRT_NEON_MLA_(c22, b2, a0, 2);
    CNNRT_NEON_MLA_(c32, b2, a0, 3);
    a += a_step;
    b += CNNRT_GEMM_NEON_NR;
  }
#undef CNNRT_NEON_MLA_
  const int64_t nr = CNNRT_GEMM_NEON_NR;
  vst1q_f32(c, c00);
  vst1q_f32(c + 4, c01);
  vst1q_f32(c + 8, c02);
  vst1q_f32(c + nr, c10);
  vst1q_f32(c + nr + 4, c11);
  vst1q_f32(c + nr + 8, c12);
  vst1q_f32(c + 2 * nr, c20);
  vst1q_f32(c + 2 * nr + 4, c21);
  vst1q_f32(c + 2 * nr + 8, c22);
  vst1q_f32(c + 3 * nr, c30);
  vst1q_f32(c + 3 * nr + 4, c31);
  vst1q_f32(c + 3 * nr + 8, c32);
}
#else
/* ARMv7 4x8: 8 accumulators; per k step one VLD2 loads the 8 B values (even columns into one
 * q-register, odd into the other: the accumulators hold even and odd columns, and VST2
 * re-interleaves them at the end), and VMLA.F32 q, q, d[x] multiplies by an A lane (AArch32
 * has no fused by-scalar form, so this is VMLA even on VFPv4). Two k steps per iteration; for
 * 4-row panels (a_step 4, what the compiler packs for ARMv7) one VLD2 loads both steps' A
 * (rows 0 and 2 in one register, 1 and 3 in the other; step 0 in the low halves). The loop
 * ends on a pointer compare: an int64_t counter costs 4 instructions per step on a 32-bit core.
 * Per two k steps: 16 VMLA + 3 loads (4 for wider panels) + compare and branch. */
static inline void cnnrt_gemm_neon_4xnr(int64_t kc, const float *a, int64_t a_step,
                                        const float *b, float *c) {
/* One k step: row r's A value is lane lr of d-register dr; bv the VLD2-loaded B step. */
#define CNNRT_NEON_STEP4_(d0, l0, d1, l1, d2, l2, d3, l3, bv)                                      \
  c0e = vmlaq_lane_f32(c0e, bv.val[0], d0, l0);                                                  \
  c0o = vmlaq_lane_f32(c0o, bv.val[1], d0, l0);                                                  \
  c1e = vmlaq_lane_f32(c1e, bv.val[0], d1, l1);                                                  \
  c1o = vmlaq_lane_f32(c1o, bv.val[1], d1, l1);                                                  \
  c2e = vmlaq_lane_f32(c2e, bv.val[0], d2, l2);                                                  \
  c2o = vmlaq_lane_f32(c2o, bv.val[1], d2, l2);                                                  \
  c3e = vmlaq_lane_f32(c3e, bv.val[0], d3, l3);                                                  \
  c3o = vmlaq_lane_f32(c3o, bv.val[1], d3, l3);
  float32x4_t c0e = vdupq_n_f32(0.0f), c0o = c0e, c1e = c0e, c1o = c0e;
  float32x4_t c2e = c0e, c2o = c0e, c3e = c0e, c3o = c0e;
  const float *const b_pairs_end = b + (kc & ~(int64_t)1) * 8;
  if (a_step == 4) {
    while (b != b_pairs_end) {
      const float32x4x2_t av = vld2q_f32(a); /* val[0]: rows 0, 2; val[1]: rows 1, 3 */
      const float32x4x2_t b0 = vld2q_f32(b);
      b += 8;
      const float32x4x2_t b1 = vld2q_f32(b);
      b += 8;
      const float32x2_t e0 = vget_low_f32(av.val[0]), o0 = vget_low_f32(av.val[1]);
      const float32x2_t e1 = vget_high_f32(av.val[0]), o1 = vget_high_f32(av.val[1]);
      CNNRT_NEON_STEP4_(e0, 0, o0, 0, e0, 1, o0, 1, b0)
      CNNRT_NEON_STEP4_(e1, 0, o1, 0, e1, 1, o1, 1, b1)
      a += 8;
    }
  } else {
    const int step = (int)a_step;
    while (b != b_pairs_end) {
      const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + step);
      const float32x4x2_t b0 = vld2q_f32(b), b1 = vld2q_f32(b + 8);
      const float32x2_t l0 = vget_low_f32(a0), h0 = vget_high_f32(a0);
      const float32x2_t l1 = vget_low_f32(a1), h1 = vget_high_f32(a1);
      CNNRT_NEON_STEP4_(l0, 0, l0, 1, h0, 0, h0, 1, b0)
      CNNRT_NEON_STEP4_(l1, 0, l1, 1, h1, 0, h1, 1, b1)
      a += 2 * step;
      b += 16;
    }
  }
  if (kc & 1) {
    const float32x4_t a0 = vld1q_f32(a);
    const float32x4x2_t b0 = vld2q_f32(b);
    const float32x2_t l0 = vget_low_f32(a0), h0 = vget_high_f32(a0);
    CNNRT_NEON_STEP4_(l0, 0, l0, 1, h0, 0, h0, 1, b0)
  }
#undef CNNRT_NEON_STEP4_
  float32x4x2_t row;
  row.val[0] = c0e, row.val[1] = c0o;
  vst2q_f32(c, row);
  row.val[0] = c1e, row.val[1] = c1o;
  vst2q_f32(c + 8, row);
  row.val[0] = c2e, row.val[1] = c2o;
  vst2q_f32(c + 16, row);
  row.val[0] = c3e, row.val[1] = c3o;
  vst2q_f32(c + 24, row);
}
#endif

/* Epilogue of one tile: rows [0, rows) x columns [0, cols) of the raw tile t (row stride NR)
 * onto C (row r at c + r * ldc). first: C = t + bias + residual, else C += t; last: act. */
static inline void cnnrt_gemm_neon_epilogue(const float *t, int64_t rows, int64_t cols, float *c,
                                            int64_t ldc, const float *bias, const float *res,
                                            const cnnrt_conv_params *p, int first, int last) {
  const float32x4_t va = vdupq_n_f32(p->alpha), vb = vdupq_n_f32(p->beta);
  for (int64_t r = 0; r < rows; r++) {
    const float *tr = t + r * CNNRT_GEMM_NEON_NR;
    float *cr = c + r * ldc;
    const float *rr = res != NULL ? res + r * ldc : NULL;
    const float b0 = bias != NULL ? bias[r] : 0.0f;
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4) {
      float32x4_t v = vld1q_f32(tr + j);
      if (first) {
        v = vaddq_f32(v, vdupq_n_f32(b0));
        if (rr != NULL) {
          v = vaddq_f32(v, vld1q_f32(rr + j));
        }
      } else {
        v = vaddq_f32(v, vld1q_f32(cr + j));
      }
      if (last) {
        v = cnnrt_f32_act_neon_ps(p->act, va, vb, v);
      }
      vst1q_f32(cr + j, v);
    }
    for (; j < cols; j++) {
      float v = tr[j];
      v = first ? v + b0 + (rr != NULL ? rr[j] : 0.0f) : v + cr[j];
      cr[j] = last ? cnnrt_apply_act((int)p->act, p->alpha, p->beta, v) : v;
    }
  }
}

/* Packs B rows [k0, k0 + kc) x output pixels [j0, j0 + nc) of image xb into NR-column panels
 * (bp[(jj / NR) * kc * NR + kk * NR + jj % NR]), zeros for padding taps and padding columns.
 * scale [c_in] (NULL: none): input channel ic is packed as float(x * scale[ic]), a
 * squeeze-excitation Mul fused into the convolution (compiler/passes/fuse.c). */
static inline void cnnrt_gemm_neon_pack_b(const cnnrt_conv_params *p, const float *xb,
                                          const float *scale, int64_t k0, int64_t kc, int64_t j0,
                                          int64_t nc, float *bp) {
  const int64_t NR = CNNRT_GEMM_NEON_NR;
  const int64_t ih = p->in[0], iw = p->in[1], ow = p->out[1];
  const int64_t kh = p->kernel[0], kw = p->kernel[1], sh = p->stride[0], sw = p->stride[1];
  const int64_t dh = p->dilation[0], dw = p->dilation[1];
  const int64_t ph = p->pad_begin[0], pw = p->pad_begin[1];
  const int64_t ncp = (nc + NR - 1) / NR * NR;
  for (int64_t kr = 0; kr < kc; kr++) {
    const int64_t kk = k0 + kr;
    const int64_t ic = kk / (kh * kw), ky = kk / kw % kh, kx = kk % kw;
    const float *xc = xb + ic * ih * iw;
    const float sc = scale != NULL ? scale[ic] : 1.0f; /* x * 1.0f is x */
    /* output columns whose tap is inside the row: [x0, x1) */
    const int64_t off = kx * dw - pw;
    int64_t x0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t x1 = iw - off <= 0 ? 0 : (iw - off - 1) / sw + 1;
    x0 = x0 < ow ? x0 : ow;
    x1 = x1 < ow ? x1 : ow;
    x1 = x1 > x0 ? x1 : x0;
    float *panel = bp + kr * NR;
    int64_t lane = 0;
    int64_t j = j0;
    const int64_t jend = j0 + nc;
    while (j < jend) {
      const int64_t oy = j / ow, ox_begin = j % ow;
      const int64_t seg = ow - ox_begin < jend - j ? ow - ox_begin : jend - j;
      const int64_t iy = oy * sh + ky * dh - ph;
      const int row_ok = iy >= 0 && iy < ih;
      const float *xr = row_ok ? xc + iy * iw : NULL;
      for (int64_t ox = ox_begin; ox < ox_begin + seg; ox++) {
        panel[lane] = row_ok && ox >= x0 && ox < x1 ? xr[ox * sw + off] * sc : 0.0f;
        if (++lane == NR) {
          lane = 0;
          panel += kc * NR;
        }
      }
      j += seg;
    }
    for (int64_t jj = nc; jj < ncp; jj++) { /* padding columns of the last panel */
      panel[lane] = 0.0f;
      if (++lane == NR) {
        lane = 0;
        panel += kc * NR;
      }
    }
  }
}

/* Output pixels [jlo, jhi) of every image, every output channel (scratch of
 * cnnrt_f32_conv_gemm_neon_scratch_bytes(p) bytes). in_scale [n, c_in] (NULL: none): see
 * cnnrt_gemm_neon_pack_b. Requires p->group == 1. */
static inline void cnnrt_f32_conv_gemm_neon_pixels(const cnnrt_conv_params *p, const float *x,
                                                   const float *in_scale, const float *wp,
                                                   int64_t mr, const float *bias,
                                                   const float *residual, float *y, void *scratch,
                                                   int64_t jlo, int64_t jhi) {
  CNNRT_ASSERT(p->spatial == 2 && p->group == 1 && mr % 4 == 0 && mr <= 8);
  const int64_t NR = CNNRT_GEMM_NEON_NR;
  const int64_t m = p->c_out, k = p->c_in * p->kernel[0] * p->kernel[1];
  const int64_t plane = p->out[0] * p->out[1];
  const int64_t in_image = p->c_in * p->in[0] * p->in[1];
  const int64_t kcb = cnnrt_gemm_neon_kc(k);
  float *bp = (float *)(((uintptr_t)scratch + 63u) & ~(uintptr_t)63u);
  float tile[CNNRT_GEMM_NEON_TILE_MAX];
  for (int64_t b = 0; b < p->n; b++) {
    const float *xb = x + b * in_image;
    float *yb = y + b * m * plane;
    const float *rb = residual != NULL ? residual + b * m * plane : NULL;
    for (int64_t j0 = jlo; j0 < jhi; j0 += CNNRT_GEMM_NEON_NC) {
      const int64_t nc = jhi - j0 < CNNRT_GEMM_NEON_NC ? jhi - j0 : CNNRT_GEMM_NEON_NC;
      for (int64_t k0 = 0; k0 < k; k0 += kcb) {
        const int64_t kc = k - k0 < kcb ? k - k0 : kcb;
        const int first = k0 == 0, last = k0 + kc >= k;
        cnnrt_gemm_neon_pack_b(p, xb, in_scale != NULL ? in_scale + b * p->c_in : NULL, k0, kc,
                               j0, nc, bp);
        for (int64_t i0 = 0; i0 < m; i0 += mr) {
          const float *ap = wp + i0 * k + k0 * mr; /* panel i0 / mr, from row k0 */
          for (int64_t jp = 0; jp < nc; jp += NR) {
            const float *bpanel = bp + jp * kc; /* panel jp / NR starts at (jp / NR) * kc * NR */
            const int64_t cols = nc - jp < NR ? nc - jp : NR;
            for (int64_t s = 0; s < mr; s += 4) {
#if defined(__aarch64__)
              if (mr == 8 && s == 0) { /* the whole 8-row panel at once */
                if (cols <= 4) {
                  cnnrt_gemm_neon_8x4x1(kc, ap, bpanel, tile);
                } else if (cols <= 8) {
                  cnnrt_gemm_neon_8x4x2(kc, ap, bpanel, tile);
                } else {
                  cnnrt_gemm_neon_8x12(kc, ap, bpanel, tile);
                }
                const int64_t rows = m - i0 < 8 ? m - i0 : 8;
                const int64_t off = i0 * plane + j0 + jp;
                cnnrt_gemm_neon_epilogue(tile, rows, cols, yb + off, plane,
                                         bias != NULL ? bias + i0 : NULL,
                                         rb != NULL ? rb + off : NULL, p, first, last);
                break;
              }
#endif
              const int64_t r0 = i0 + s;
              if (r0 >= m) {
                break;
              }
              cnnrt_gemm_neon_4xnr(kc, ap + s, mr, bpanel, tile);
              const int64_t rows = m - r0 < 4 ? m - r0 : 4;
              const int64_t off = r0 * plane + j0 + jp;
              cnnrt_gemm_neon_epilogue(tile, rows, cols, yb + off, plane,
                                       bias != NULL ? bias + r0 : NULL,
                                       rb != NULL ? rb + off : NULL, p, first, last);
            }
          }
        }
      }
    }
  }
}

/* Output pixels [n * t / n_tasks, n * (t + 1) / n_tasks) of every image and output channel;
 * in_scale as for cnnrt_f32_conv_gemm_neon_pixels. */
static inline void cnnrt_f32_conv_gemm_neon_range_scaled(const cnnrt_conv_params *p,
                                                         const float *x, const float *in_scale,
                                                         const float *wp, int64_t mr,
                                                         const float *bias, const float *residual,
                                                         float *y, void *scratch, int64_t t,
                                                         int64_t n_tasks) {
  const int64_t plane = p->out[0] * p->out[1];
  cnnrt_f32_conv_gemm_neon_pixels(p, x, in_scale, wp, mr, bias, residual, y, scratch,
                                  plane * t / n_tasks, plane * (t + 1) / n_tasks);
}

static inline void cnnrt_f32_conv_gemm_neon_range(const cnnrt_conv_params *p, const float *x,
                                                  const float *wp, int64_t mr, const float *bias,
                                                  const float *residual, float *y, void *scratch,
                                                  int64_t t, int64_t n_tasks) {
  cnnrt_f32_conv_gemm_neon_range_scaled(p, x, NULL, wp, mr, bias, residual, y, scratch, t,
                                        n_tasks);
}

/* Grouped convolution (1 < group, not the depthwise kernel's case): one packed GEMM per group on
 * weights packed by cnnrt_f32_conv_grouped_pack_mr (group after group). Task t of n_tasks takes
 * its balanced share of the flattened (image, group, pixel) range, so that both cores are busy
 * even when a group's plane is small and a task crosses group boundaries. Scratch per task:
 * cnnrt_f32_conv_grouped_neon_scratch_bytes(p). */
static inline void cnnrt_f32_conv_grouped_gemm_neon_range(const cnnrt_conv_params *p,
                                                          const float *x, const float *wp,
                                                          int64_t mr, const float *bias,
                                                          const float *residual, float *y,
                                                          void *scratch, int64_t t,
                                                          int64_t n_tasks) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  const int64_t in_plane = p->in[0] * p->in[1], P = p->out[0] * p->out[1];
  const int64_t wg =
      cnnrt_f32_pack_a_mr_bytes(sp.c_out, sp.c_in * p->kernel[0] * p->kernel[1], mr) /
      (int64_t)sizeof(float);
  const int64_t total = p->n * p->group * P;
  const int64_t lo = total * t / n_tasks, hi = total * (t + 1) / n_tasks;
  for (int64_t u = lo / P; u * P < hi; u++) { /* unit u: image u / group, group u % group */
    const int64_t b = u / p->group, grp = u % p->group;
    const int64_t q0 = lo > u * P ? lo - u * P : 0;
    const int64_t q1 = hi < (u + 1) * P ? hi - u * P : P;
    const int64_t yo = (b * p->c_out + grp * sp.c_out) * P;
    cnnrt_f32_conv_gemm_neon_pixels(&sp, x + (b * p->c_in + grp * sp.c_in) * in_plane, NULL,
                                    wp + grp * wg, mr, bias != NULL ? bias + grp * sp.c_out : NULL,
                                    residual != NULL ? residual + yo : NULL, y + yo, scratch, q0,
                                    q1);
  }
}

/* How many tasks to split a layer into: the hook's thread count, at most `max_tasks` (the
 * number of scratch regions the memory plan reserved). */
static inline int64_t cnnrt_neon_task_count(const cnnrt_parallel *par, int64_t max_tasks) {
  int64_t t = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return t < max_tasks ? t : max_tasks;
}

/* Depthwise: task t of n_tasks takes its share of the (image, channel) planes. */
static inline void cnnrt_dwconv_neon_task(void *arg, int64_t t) {
  const cnnrt_conv_neon_task *a = (const cnnrt_conv_neon_task *)arg;
  CNNRT_ASSERT(a->in_scale == NULL);
  const int64_t planes = a->p->n * a->p->c_out;
  const int64_t lo = planes * t / a->n_tasks, hi = planes * (t + 1) / a->n_tasks;
  const int64_t plane_size = a->p->out[0] * a->p->out[1] * a->p->out[2];
  const int64_t chunk = a->reduce != NULL ? cnnrt_reduce_chunk_planes(plane_size) : hi - lo;
  for (int64_t c0 = lo; c0 < hi; c0 += chunk) {
    const int64_t c1 = hi - c0 < chunk ? hi : c0 + chunk;
    cnnrt_f32_dwconv2d_neon_range(a->p, a->x, a->w, a->bias, a->residual, a->y, c0, c1);
    if (a->reduce != NULL) {
      a->reduce(c1 - c0, plane_size, a->y + c0 * plane_size, a->reduced + c0);
    }
  }
}

static inline void cnnrt_conv_gemm_neon_task(void *arg, int64_t t) {
  const cnnrt_conv_neon_task *a = (const cnnrt_conv_neon_task *)arg;
  cnnrt_f32_conv_gemm_neon_range_scaled(a->p, a->x, a->in_scale, a->w, a->mr, a->bias,
                                        a->residual, a->y, a->scratch + t * a->scratch_stride, t,
                                        a->n_tasks);
}

static inline void cnnrt_conv_grouped_gemm_neon_task(void *arg, int64_t t) {
  const cnnrt_conv_neon_task *a = (const cnnrt_conv_neon_task *)arg;
  cnnrt_f32_conv_grouped_gemm_neon_range(a->p, a->x, a->w, a->mr, a->bias, a->residual, a->y,
                                         a->scratch + t * a->scratch_stride, t, a->n_tasks);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_GEMM_NEON_H */
