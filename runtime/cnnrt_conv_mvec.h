/* cnnrt_conv_mvec.h — 2-D group-1 convolution vectorised over OUTPUT CHANNELS, for small output
 * planes (ResNet's 7x7 and 14x14 layers) on x86.
 *
 * Why: the packed GEMM (cnnrt_gemm_avx2.h) puts output pixels in the vector lanes, so a 7x7
 * plane (49 pixels) fills 49 of the 64 lanes of its 32-column AVX-512 tiles, and its thread split
 * over pixels makes every thread stream the whole weight matrix. Here the lanes hold output
 * channels: 32 channels (two zmm) x up to 14 consecutive output pixels per tile, and threads
 * split the output channels, so each streams only its share of the weights.
 *
 * Layout and loops:
 *  - Weights packed once, at build time, by the portable cnnrt_f32_pack_a_mr (cnnrt_gemm_neon.h)
 *    with mr = 32: wp[panel][kk][32], kk = (ic * kh + ky) * kw + kx, padding rows zero. The
 *    portable fallback cnnrt_f32_conv_packed_mr_ref (mr 32) reads the same layout.
 *  - No im2col: the input value of tap kk for output pixel (oy, ox) is
 *    xin[koff[kk] + oy * sh * rs + ox * sw], xin the image (pads all 0 and the taps inside it) or
 *    a zero-padded copy of it in the task's scratch, rs its row stride, koff a per-task table of
 *    K int32 offsets. A tile is nr consecutive pixels of one output row (a 1x1 stride-1 pad-0
 *    convolution: of the whole plane, one "row" of oh * ow pixels), so its pixel j reads
 *    base + j * sw: one broadcast per pixel and k step. Rows of 7 pixels (7 x 7 planes) go two
 *    to a tile, the second row's pixels at base + row2 + (j - 7) * sw.
 *  - AVX-512 tile: 32 channels x nr (<= 14) pixels, 2 * nr accumulators + 2 weight vectors +
 *    1 broadcast <= 31 zmm; per k step 2 loads, nr broadcasts, 2 * nr FMAs, over a k block of
 *    at most CNNRT_CONV_MVEC_KC taps (the 32 x kc weight block stays in L1 while every tile of
 *    the plane runs over it, and each tile prefetches its share of the next block: the weights
 *    stream from memory).
 *    AVX2 tile (builds without AVX-512): 16 channels x nr (<= 6) pixels, once per half panel.
 *  - Epilogue per tile: accumulators stored [pixel][channel] into a small buffer; AVX-512: each
 *    16-channel half transposed in registers (16 x 16) to one vector of nr pixels per channel,
 *    bias, residual and ReLU added on it, stored with a mask of nr lanes (other activations: the
 *    array kernel cnnrt_f32_act_avx2, the GEMM epilogue's semantics, on a [16][16] buffer);
 *    AVX2: scalar transpose. Each residual element is read before that element of y is
 *    written (residual may be y).
 *  - Threads: task t of n takes a contiguous range of the 32-channel panels, then panels from
 *    the back of the others' (one image), or, on large planes, a share of the tiles over all
 *    panels (cnnrt_conv_mvec_split_pixels); every task pads its own copy of the image, or of
 *    the rows its tiles read (scratch + t * stride, sized by cnnrt_f32_conv_mvec_scratch_bytes).
 * Results equal cnnrt_f32_conv_ref up to float rounding (summation order). */
#ifndef CNNRT_CONV_MVEC_H
#define CNNRT_CONV_MVEC_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_gemm_neon.h" /* cnnrt_f32_pack_a_mr, cnnrt_f32_conv_packed_mr_ref (portable) */

#define CNNRT_CONV_MVEC_MR 32 /* output channels per weight panel */

/* Geometry of the input the tiles read: the image itself or a copy of it in scratch. */
typedef struct cnnrt_mvec_geom {
  int64_t rows, cols; /* rows / columns of the copy (when copied) */
  int padded;         /* 1: read a copy in scratch, 0: read x directly */
  int sub;            /* 1: a 1x1 kernel's copy holds just the taps, [c_in][oh][ow] */
  int flat;           /* 1: the plane is read as one row of oh * ow pixels at stride 1 */
} cnnrt_mvec_geom;

static inline cnnrt_mvec_geom cnnrt_mvec_make_geom(const cnnrt_conv_params *p) {
  cnnrt_mvec_geom g;
  g.rows = (p->out[0] - 1) * p->stride[0] + (p->kernel[0] - 1) * p->dilation[0] + 1;
  g.cols = (p->out[1] - 1) * p->stride[1] + (p->kernel[1] - 1) * p->dilation[1] + 1;
  g.padded = !(p->pad_begin[0] == 0 && p->pad_begin[1] == 0 && g.rows <= p->in[0] &&
               g.cols <= p->in[1]);
  const int one = p->kernel[0] == 1 && p->kernel[1] == 1;
  g.flat = !g.padded && one && p->stride[0] == 1 && p->stride[1] == 1 && p->out[1] == p->in[1];
  /* Any other 1x1 convolution (strided, padded, cropped) reads a copy of just its taps, which
   * is then flat: a stride-2 tile's broadcasts would otherwise touch twice the cache lines. */
  g.sub = one && !g.flat;
  if (g.sub) {
    g.padded = 1;
    g.flat = 1;
    g.rows = p->out[0];
    g.cols = p->out[1];
  }
  return g;
}

/* Depth of the k blocks: k split into equal blocks of at most KC, so that a panel's 32 x kc
 * weight block (16 KiB at kc = 128) stays in L1 while every tile of the plane runs over it. */
#ifndef CNNRT_CONV_MVEC_KC
#define CNNRT_CONV_MVEC_KC 128
#endif
static inline int64_t cnnrt_conv_mvec_kc(int64_t k) {
  const int64_t nblk = (k + CNNRT_CONV_MVEC_KC - 1) / CNNRT_CONV_MVEC_KC;
  return nblk > 0 ? (k + nblk - 1) / nblk : 0;
}

/* Scratch bytes of one task: the tap offset table, the partial sums of one panel over the
 * plane ([pixel][32]) and, when padded, the image copy. */
static inline int64_t cnnrt_f32_conv_mvec_scratch_bytes(const cnnrt_conv_params *p) {
  const cnnrt_mvec_geom g = cnnrt_mvec_make_geom(p);
  const int64_t k = p->c_in * p->kernel[0] * p->kernel[1];
  const int64_t tab = (k * (int64_t)sizeof(int32_t) + 63) / 64 * 64;
  const int64_t part = p->out[0] * p->out[1] * CNNRT_CONV_MVEC_MR * (int64_t)sizeof(float);
  const int64_t copy = g.padded ? p->c_in * g.rows * g.cols * (int64_t)sizeof(float) : 0;
  return 64 + tab + part + copy;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <string.h>

#include "cnnrt_act_avx2.h"

#if defined(__GNUC__)
#define CNNRT_MVEC_INLINE static inline __attribute__((always_inline))
#else
#define CNNRT_MVEC_INLINE static inline
#endif

#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_CONV_MVEC_AVX512 1
#define CNNRT_CONV_MVEC_NR 14 /* pixels per tile */
/* Stride-1 output rows this wide are computed two at a time (14-pixel tiles instead of 7).
 * Measured on ResNet's 3x3 512 -> 512 layer at 7 x 7, weights from memory, the two variants
 * alternating in one binary: 1.15x; the stride-2 one (14 x 14 input) was 0.92x, so it stays on
 * one row per tile. */
#define CNNRT_CONV_MVEC_PAIR_W 7
#else
#define CNNRT_CONV_MVEC_NR 6
#endif

/* Tile kernels: acc[j][c] = sum_kk wp[kk][c] * xb[koff[kk] + off(j)] for j < NR, stored into
 * buf[j * 32 + c], where off(j) = j * sw for the first N1 pixels and row2 + (j - N1) * sw for
 * the rest (a tile over two output rows: row2 is the next row's input offset). NR, N1 and SW are
 * compile-time constants at every call (SW 0: the run-time sw), so the unused accumulators and
 * the address arithmetic fold away. */
#if defined(CNNRT_CONV_MVEC_AVX512)
#define CNNRT_MVEC_ACC(j)                                                                          \
  __m512 a##j##0 = _mm512_setzero_ps(), a##j##1 = _mm512_setzero_ps();                             \
  if (NR > j && !first) {                                                                          \
    a##j##0 = _mm512_loadu_ps(buf + j * 32);                                                       \
    a##j##1 = _mm512_loadu_ps(buf + j * 32 + 16);                                                  \
  }
#define CNNRT_MVEC_FMA(j)                                                                          \
  if (NR > j) {                                                                                    \
    const __m512 xv = _mm512_set1_ps(j < N1 ? xk[j * s] : xk[row2 + (j - N1) * s]);                \
    a##j##0 = _mm512_fmadd_ps(w0, xv, a##j##0);                                                    \
    a##j##1 = _mm512_fmadd_ps(w1, xv, a##j##1);                                                    \
  }
#define CNNRT_MVEC_STORE(j)                                                                        \
  if (NR > j) {                                                                                    \
    _mm512_storeu_ps(buf + j * 32, a##j##0);                                                       \
    _mm512_storeu_ps(buf + j * 32 + 16, a##j##1);                                                  \
  }

CNNRT_MVEC_INLINE void cnnrt_mvec_tile(const int NR, const int N1, const int64_t SW,
                                       const float *wp, const int32_t *koff, int64_t k,
                                       const float *xb, int64_t sw, int64_t row2, int64_t rows,
                                       int first, float *buf) {
  const int64_t s = SW != 0 ? SW : sw;
  (void)rows;
  CNNRT_MVEC_ACC(0) CNNRT_MVEC_ACC(1) CNNRT_MVEC_ACC(2) CNNRT_MVEC_ACC(3)
  CNNRT_MVEC_ACC(4) CNNRT_MVEC_ACC(5) CNNRT_MVEC_ACC(6) CNNRT_MVEC_ACC(7)
  CNNRT_MVEC_ACC(8) CNNRT_MVEC_ACC(9) CNNRT_MVEC_ACC(10) CNNRT_MVEC_ACC(11)
  CNNRT_MVEC_ACC(12) CNNRT_MVEC_ACC(13)
  for (int64_t kk = 0; kk < k; kk++) {
    const __m512 w0 = _mm512_loadu_ps(wp + kk * 32), w1 = _mm512_loadu_ps(wp + kk * 32 + 16);
    const float *xk = xb + koff[kk];
    CNNRT_MVEC_FMA(0) CNNRT_MVEC_FMA(1) CNNRT_MVEC_FMA(2) CNNRT_MVEC_FMA(3)
    CNNRT_MVEC_FMA(4) CNNRT_MVEC_FMA(5) CNNRT_MVEC_FMA(6) CNNRT_MVEC_FMA(7)
    CNNRT_MVEC_FMA(8) CNNRT_MVEC_FMA(9) CNNRT_MVEC_FMA(10) CNNRT_MVEC_FMA(11)
    CNNRT_MVEC_FMA(12) CNNRT_MVEC_FMA(13)
  }
  CNNRT_MVEC_STORE(0) CNNRT_MVEC_STORE(1) CNNRT_MVEC_STORE(2) CNNRT_MVEC_STORE(3)
  CNNRT_MVEC_STORE(4) CNNRT_MVEC_STORE(5) CNNRT_MVEC_STORE(6) CNNRT_MVEC_STORE(7)
  CNNRT_MVEC_STORE(8) CNNRT_MVEC_STORE(9) CNNRT_MVEC_STORE(10) CNNRT_MVEC_STORE(11)
  CNNRT_MVEC_STORE(12) CNNRT_MVEC_STORE(13)
}
#else
/* AVX2: 16 channels (two ymm) x NR <= 6 pixels = 12 accumulators, once per half panel. */
#define CNNRT_MVEC_ACC(j)                                                                          \
  __m256 a##j##0 = _mm256_setzero_ps(), a##j##1 = _mm256_setzero_ps();                             \
  if (NR > j && !first) {                                                                          \
    a##j##0 = _mm256_loadu_ps(bh + j * 32);                                                        \
    a##j##1 = _mm256_loadu_ps(bh + j * 32 + 8);                                                    \
  }
#define CNNRT_MVEC_FMA(j)                                                                          \
  if (NR > j) {                                                                                    \
    const __m256 xv = _mm256_broadcast_ss(j < N1 ? xk + j * s : xk + row2 + (j - N1) * s);        \
    a##j##0 = _mm256_fmadd_ps(w0, xv, a##j##0);                                                    \
    a##j##1 = _mm256_fmadd_ps(w1, xv, a##j##1);                                                    \
  }
#define CNNRT_MVEC_STORE(j)                                                                        \
  if (NR > j) {                                                                                    \
    _mm256_storeu_ps(bh + j * 32, a##j##0);                                                        \
    _mm256_storeu_ps(bh + j * 32 + 8, a##j##1);                                                    \
  }

CNNRT_MVEC_INLINE void cnnrt_mvec_tile(const int NR, const int N1, const int64_t SW,
                                       const float *wp, const int32_t *koff, int64_t k,
                                       const float *xb, int64_t sw, int64_t row2, int64_t rows,
                                       int first, float *buf) {
  const int64_t s = SW != 0 ? SW : sw;
  for (int64_t h = 0; h < 2 && h * 16 < rows; h++) {
    const float *wh = wp + h * 16;
    float *bh = buf + h * 16;
    CNNRT_MVEC_ACC(0) CNNRT_MVEC_ACC(1) CNNRT_MVEC_ACC(2)
    CNNRT_MVEC_ACC(3) CNNRT_MVEC_ACC(4) CNNRT_MVEC_ACC(5)
    for (int64_t kk = 0; kk < k; kk++) {
      __m256 w0 = _mm256_loadu_ps(wh + kk * 32), w1 = _mm256_loadu_ps(wh + kk * 32 + 8);
      CNNRT_KEEP_IN_REGS(w0, w1); /* (see cnnrt.h) */
      const float *xk = xb + koff[kk];
      CNNRT_MVEC_FMA(0) CNNRT_MVEC_FMA(1) CNNRT_MVEC_FMA(2)
      CNNRT_MVEC_FMA(3) CNNRT_MVEC_FMA(4) CNNRT_MVEC_FMA(5)
    }
    CNNRT_MVEC_STORE(0) CNNRT_MVEC_STORE(1) CNNRT_MVEC_STORE(2)
    CNNRT_MVEC_STORE(3) CNNRT_MVEC_STORE(4) CNNRT_MVEC_STORE(5)
  }
}
#endif
#undef CNNRT_MVEC_ACC
#undef CNNRT_MVEC_FMA
#undef CNNRT_MVEC_STORE

/* One instantiation per (nr, stride) pair: stride 1 and 2 compile-time, others run-time. */
#define CNNRT_MVEC_CASE2(NR, N1)                                                                   \
  if (sw == 1) {                                                                                   \
    cnnrt_mvec_tile(NR, N1, 1, wp, koff, k, xb, sw, row2, rows, first, buf);                       \
  } else if (sw == 2) {                                                                            \
    cnnrt_mvec_tile(NR, N1, 2, wp, koff, k, xb, sw, row2, rows, first, buf);                       \
  } else {                                                                                         \
    cnnrt_mvec_tile(NR, N1, 0, wp, koff, k, xb, sw, row2, rows, first, buf);                       \
  }
#define CNNRT_MVEC_CASE(NR)                                                                        \
  case NR:                                                                                         \
    CNNRT_MVEC_CASE2(NR, NR)                                                                       \
    break;

/* A tile of nr pixels: the first n1 (= nr, or CNNRT_CONV_MVEC_PAIR_W for a pair of output rows)
 * at xb + j * sw, the rest at xb + row2 + (j - n1) * sw. */
static inline void cnnrt_mvec_tile_any(int64_t nr, int64_t n1, const float *wp,
                                       const int32_t *koff, int64_t k, const float *xb, int64_t sw,
                                       int64_t row2, int64_t rows, int first, float *buf) {
  (void)n1; /* (read only by the asserts without CNNRT_CONV_MVEC_PAIR_W) */
#if defined(CNNRT_CONV_MVEC_PAIR_W)
  if (n1 < nr) {
    CNNRT_ASSERT(n1 == CNNRT_CONV_MVEC_PAIR_W && nr == 2 * CNNRT_CONV_MVEC_PAIR_W);
    CNNRT_MVEC_CASE2(2 * CNNRT_CONV_MVEC_PAIR_W, CNNRT_CONV_MVEC_PAIR_W)
    return;
  }
#endif
  CNNRT_ASSERT(n1 == nr);
  switch (nr) {
    CNNRT_MVEC_CASE(1) CNNRT_MVEC_CASE(2) CNNRT_MVEC_CASE(3)
    CNNRT_MVEC_CASE(4) CNNRT_MVEC_CASE(5) CNNRT_MVEC_CASE(6)
#if defined(CNNRT_CONV_MVEC_AVX512)
    CNNRT_MVEC_CASE(7) CNNRT_MVEC_CASE(8) CNNRT_MVEC_CASE(9) CNNRT_MVEC_CASE(10)
    CNNRT_MVEC_CASE(11) CNNRT_MVEC_CASE(12) CNNRT_MVEC_CASE(13) CNNRT_MVEC_CASE(14)
#endif
  default:
    CNNRT_ASSERT(0);
  }
}
#undef CNNRT_MVEC_CASE2
#undef CNNRT_MVEC_CASE

/* The scalar epilogue of one tile (the AVX2 build's; the AVX-512 one transposes in registers): buf[j * 32 + c] holds channel oc0 + c of output pixel pix0 + j
 * (c < rows, j < nr); y / res point at the image's output / residual. Per channel: bias and
 * residual added while transposing into a row of nr pixels, the activation (array kernel)
 * writing it into y. */
static inline void cnnrt_mvec_epilogue_scalar(const cnnrt_conv_params *p, const float *buf, int64_t nr,
                                       int64_t rows, int64_t oc0, int64_t pix0, int64_t plane,
                                       const float *bias, const float *res, float *y) {
  if (p->act == CNNRT_ACT_NONE || p->act == CNNRT_ACT_RELU) {
    /* The common case in one scalar pass straight into y (a call of the array kernel per row
     * of <= 14 pixels measured ~20% slower on the 1x1 K = 256 / 512 layers). `v > 0 ? v : 0`
     * is cnnrt_apply_act's ReLU (NaN and -0 to +0). */
    const int relu = p->act == CNNRT_ACT_RELU;
    for (int64_t c = 0; c < rows; c++) {
      const float b = bias != NULL ? bias[oc0 + c] : 0.0f;
      float *yr = y + (oc0 + c) * plane + pix0;
      const float *rr = res != NULL ? res + (oc0 + c) * plane + pix0 : NULL;
      for (int64_t j = 0; j < nr; j++) {
        float v = buf[j * 32 + c] + b;
        if (rr != NULL) {
          v += rr[j]; /* read before yr[j] is written: y may be the residual */
        }
        yr[j] = relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
    return;
  }
  /* Two vectors wide although nr <= CNNRT_CONV_MVEC_NR: the array kernel's 8-float loads are
   * under nr >= 8 tests that GCC's -Warray-bounds cannot see through in the AVX2-only build. */
  float row[16];
  for (int64_t c = 0; c < rows; c++) {
    const float b = bias != NULL ? bias[oc0 + c] : 0.0f;
    if (res != NULL) {
      const float *rr = res + (oc0 + c) * plane + pix0;
      for (int64_t j = 0; j < nr; j++) {
        row[j] = buf[j * 32 + c] + b + rr[j];
      }
    } else {
      for (int64_t j = 0; j < nr; j++) {
        row[j] = buf[j * 32 + c] + b;
      }
    }
    /* (The residual row was read above: y may be the residual.) */
    cnnrt_f32_act_avx2(p->act, p->alpha, p->beta, nr, row, y + (oc0 + c) * plane + pix0);
  }
}

#if defined(CNNRT_CONV_MVEC_AVX512)
/* In-register transpose of 16 x 16 floats: r[i] lane j becomes r[j] lane i (unpack within
 * 128-bit lanes, then two rounds of 128-bit lane shuffles). */
#define CNNRT_MVEC_UNPACK(i)                                                                       \
  const __m512 t##i = _mm512_unpacklo_ps(r[i], r[i + 1]);                                          \
  const __m512 t##i##h = _mm512_unpackhi_ps(r[i], r[i + 1]);
#define CNNRT_MVEC_QUAD(i)                                                                         \
  r[i] = _mm512_shuffle_ps(t##i, t##i##x, 0x44);                                                   \
  r[i + 1] = _mm512_shuffle_ps(t##i, t##i##x, 0xEE);                                               \
  r[i + 2] = _mm512_shuffle_ps(t##i##h, t##i##xh, 0x44);                                           \
  r[i + 3] = _mm512_shuffle_ps(t##i##h, t##i##xh, 0xEE);
#define CNNRT_MVEC_LANES(q)                                                                        \
  {                                                                                                \
    const __m512 a = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88);                                   \
    const __m512 b = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);                                   \
    const __m512 c = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);                              \
    const __m512 d = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);                              \
    o[q] = _mm512_shuffle_f32x4(a, c, 0x88);                                                       \
    o[8 + q] = _mm512_shuffle_f32x4(a, c, 0xDD);                                                   \
    o[4 + q] = _mm512_shuffle_f32x4(b, d, 0x88);                                                   \
    o[12 + q] = _mm512_shuffle_f32x4(b, d, 0xDD);                                                  \
  }
CNNRT_MVEC_INLINE void cnnrt_mvec_transpose16(__m512 r[16], __m512 o[16]) {
  CNNRT_MVEC_UNPACK(0) CNNRT_MVEC_UNPACK(2) CNNRT_MVEC_UNPACK(4) CNNRT_MVEC_UNPACK(6)
  CNNRT_MVEC_UNPACK(8) CNNRT_MVEC_UNPACK(10) CNNRT_MVEC_UNPACK(12) CNNRT_MVEC_UNPACK(14)
  const __m512 t0x = t2, t0xh = t2h, t4x = t6, t4xh = t6h, t8x = t10, t8xh = t10h;
  const __m512 t12x = t14, t12xh = t14h;
  CNNRT_MVEC_QUAD(0) CNNRT_MVEC_QUAD(4) CNNRT_MVEC_QUAD(8) CNNRT_MVEC_QUAD(12)
  CNNRT_MVEC_LANES(0) CNNRT_MVEC_LANES(1) CNNRT_MVEC_LANES(2) CNNRT_MVEC_LANES(3)
}
#undef CNNRT_MVEC_UNPACK
#undef CNNRT_MVEC_QUAD
#undef CNNRT_MVEC_LANES

/* The epilogue of one tile: buf[j * 32 + c] holds channel oc0 + c of output pixel pix0 + j
 * (c < rows, j < nr <= 14); y / res point at the image's output / residual. Each 16-channel half
 * is transposed in registers to one vector of nr pixels per channel (against the scalar
 * transpose: 1.25x on ResNet-50's 1x1 K = 256 / 512 layers with residual, 1.6x with SiLU at
 * K = 192, bench_conv_mvec_avx2 alternating); bias, residual (masked load of nr pixels, read before
 * y is written: y may be the residual) and ReLU are applied on the vector, which is stored with
 * a mask of nr lanes. Other activations: the rows of a half go through the array kernel
 * cnnrt_f32_act_avx2 in one call over a [16][16] buffer. */
static inline void cnnrt_mvec_epilogue(const cnnrt_conv_params *p, const float *buf, int64_t nr,
                                       int64_t rows, int64_t oc0, int64_t pix0, int64_t plane,
                                       const float *bias, const float *res, float *y) {
  const __mmask16 m = (__mmask16)((1u << nr) - 1u);
  const int simple = p->act == CNNRT_ACT_NONE || p->act == CNNRT_ACT_RELU;
  const int relu = p->act == CNNRT_ACT_RELU;
  for (int64_t h = 0; h * 16 < rows; h++) {
    float tmp[16 * 16];
    __m512 r[16], o[16];
    for (int64_t j = 0; j < 16; j++) {
      r[j] = j < nr ? _mm512_loadu_ps(buf + j * 32 + h * 16) : _mm512_setzero_ps();
    }
    cnnrt_mvec_transpose16(r, o);
    const int64_t nc = rows - h * 16 < 16 ? rows - h * 16 : 16;
    for (int64_t c = 0; c < nc; c++) {
      const int64_t oc = oc0 + h * 16 + c;
      __m512 v = o[c];
      if (bias != NULL) {
        v = _mm512_add_ps(v, _mm512_set1_ps(bias[oc]));
      }
      if (res != NULL) {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + oc * plane + pix0));
      }
      if (simple) {
        /* max(v, 0) returns its second operand for NaN and for -0: cnnrt_apply_act's ReLU */
        _mm512_mask_storeu_ps(y + oc * plane + pix0, m,
                              relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v);
      } else {
        _mm512_storeu_ps(tmp + c * 16, v);
      }
    }
    if (!simple) {
      cnnrt_f32_act_avx2(p->act, p->alpha, p->beta, nc * 16, tmp, tmp);
      for (int64_t c = 0; c < nc; c++) {
        _mm512_mask_storeu_ps(y + (oc0 + h * 16 + c) * plane + pix0, m,
                              _mm512_loadu_ps(tmp + c * 16));
      }
    }
  }
}
#else
static inline void cnnrt_mvec_epilogue(const cnnrt_conv_params *p, const float *buf, int64_t nr,
                                       int64_t rows, int64_t oc0, int64_t pix0, int64_t plane,
                                       const float *bias, const float *res, float *y) {
  cnnrt_mvec_epilogue_scalar(p, buf, nr, rows, oc0, pix0, plane, bias, res, y);
}
#endif

/* Whether tasks split the output pixels (every task all panels) rather than the panels: on
 * planes of at least CNNRT_CONV_MVEC_PIXEL_SPLIT_MIN pixels whose input is at least a quarter of
 * the weights. With the panels split, every task reads all input channels, half of them (at 2
 * tasks) written by the other core in the layer before; with the pixels split each task reads
 * about what it wrote, and reads the weights whole. Measured on ResNet-50 at 2 threads
 * (bench/task_trace.c, old and new builds alternating): layer3's 1x1 1024 -> 256 layers 0.79-0.90x
 * the time, whole runs 26.0-26.2 ms against 26.8-27.0 (and 29.2-31.6 against 31.1-32.6 ms in
 * six alternations on a disturbed host). Taking
 * every 14 x 14 layer this way (the 3x3 ones read 12x more weights than input) was no faster
 * than the old split; ResNet's 7 x 7 layers (9 MB of weights) keep the panels split. */
#ifndef CNNRT_CONV_MVEC_PIXEL_SPLIT_MIN
#define CNNRT_CONV_MVEC_PIXEL_SPLIT_MIN 144
#endif
static inline int cnnrt_conv_mvec_split_pixels(const cnnrt_conv_params *p, int64_t n_tasks) {
  const int64_t in_floats = p->c_in * p->in[0] * p->in[1];
  const int64_t w_floats = p->c_out * p->c_in * p->kernel[0] * p->kernel[1];
  return n_tasks > 1 && p->out[0] * p->out[1] >= CNNRT_CONV_MVEC_PIXEL_SPLIT_MIN &&
         4 * in_floats >= w_floats;
}

/* Task t of n_tasks: output-channel panels [lo, hi) of every image, or all panels for the
 * task's share of the tiles (cnnrt_conv_mvec_split_pixels). With steal != NULL (used only for
 * one image split by panels over several tasks), the task takes its share a panel at a time and
 * then panels from the back of the other shares (cnnrt_steal_next): a core slowed by something
 * else then does fewer of them. Until session 17 the tasks claimed panels from one counter;
 * with contiguous shares each task's next panel is known, so its weights are prefetched. */
static inline void cnnrt_mvec_run_(const cnnrt_conv_params *p, const float *x, const float *wp,
                                   const float *bias, const float *residual, float *y,
                                   unsigned char *scratch, int64_t t, int64_t n_tasks,
                                   cnnrt_steal *steal) {
  CNNRT_ASSERT(p->spatial == 2 && p->group == 1);
  const int64_t panels = (p->c_out + CNNRT_CONV_MVEC_MR - 1) / CNNRT_CONV_MVEC_MR;
  const cnnrt_mvec_geom g = cnnrt_mvec_make_geom(p);
  const int64_t ih = p->in[0], iw = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t kh = p->kernel[0], kw = p->kernel[1], sh = p->stride[0], sw = p->stride[1];
  const int64_t dh = p->dilation[0], dw = p->dilation[1];
  const int64_t k = p->c_in * kh * kw, plane = oh * ow;
  /* A "row" of `len` pixels split into equal tiles of at most NR; rows of
   * CNNRT_CONV_MVEC_PAIR_W pixels go in pairs, one tile per pair (`step` rows per tile). */
  const int64_t n_rows = g.flat ? 1 : oh, len = g.flat ? plane : ow;
  const int64_t n_tiles = (len + CNNRT_CONV_MVEC_NR - 1) / CNNRT_CONV_MVEC_NR;
  const int64_t tile = (len + n_tiles - 1) / n_tiles;
#if defined(CNNRT_CONV_MVEC_PAIR_W)
  const int64_t step = !g.flat && ow == CNNRT_CONV_MVEC_PAIR_W && sw == 1 ? 2 : 1;
#else
  const int64_t step = 1;
#endif
  /* The task's panels and tiles (tiles numbered over the plane's rows). */
  const int64_t tiles_per_row = (len + tile - 1) / tile;
  const int64_t tiles_total = (n_rows + step - 1) / step * tiles_per_row;
  const int by_pixels = cnnrt_conv_mvec_split_pixels(p, n_tasks);
  if (by_pixels || p->n != 1 || n_tasks == 1) {
    steal = NULL;
  }
  /* (stealing: any task may get any panel) */
  const int all_panels = by_pixels || steal != NULL;
  const int64_t lo = all_panels ? 0 : panels * t / n_tasks;
  const int64_t hi = all_panels ? panels : panels * (t + 1) / n_tasks;
  const int64_t ti_lo = by_pixels ? tiles_total * t / n_tasks : 0;
  const int64_t ti_hi = by_pixels ? tiles_total * (t + 1) / n_tasks : tiles_total;
  if (lo >= hi || ti_lo >= ti_hi) {
    return;
  }
  const int64_t rs = g.padded ? g.cols : iw, cs = g.padded ? g.rows * g.cols : ih * iw;
  unsigned char *s = (unsigned char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  int32_t *koff = (int32_t *)s;
  float *part = (float *)(s + (k * (int64_t)sizeof(int32_t) + 63) / 64 * 64);
  float *xpad = part + plane * CNNRT_CONV_MVEC_MR;
  const int64_t kc = cnnrt_conv_mvec_kc(k);
  /* Rows [r_lo, r_hi) of the copy that the task's tiles read: split by pixels, a task copies
   * only those (until session 18 every task copied the whole image: on ResNet-50's 3x3 stride-2
   * 128 -> 128 layer, a 1.7 MB copy per task next to 0.4 ms of compute at two threads). */
  int64_t r_lo = 0, r_hi = g.rows;
  if (by_pixels) {
    if (g.flat) { /* one row of oh * ow pixels; the copy's rows are output rows */
      r_lo = ti_lo * tile / ow;
      const int64_t pix_hi = ti_hi * tile < plane ? ti_hi * tile : plane;
      r_hi = (pix_hi - 1) / ow + 1;
    } else {
      const int64_t oy_lo = ti_lo / tiles_per_row * step;
      int64_t oy_hi = ((ti_hi - 1) / tiles_per_row + 1) * step;
      oy_hi = oy_hi < oh ? oy_hi : oh;
      r_lo = oy_lo * sh;
      r_hi = (oy_hi - 1) * sh + (kh - 1) * dh + 1;
    }
    r_hi = r_hi < g.rows ? r_hi : g.rows;
  }
  for (int64_t ic = 0; ic < p->c_in; ic++) {
    for (int64_t ky = 0; ky < kh; ky++) {
      for (int64_t kx = 0; kx < kw; kx++) {
        koff[(ic * kh + ky) * kw + kx] = (int32_t)(ic * cs + ky * dh * rs + kx * dw);
      }
    }
  }
  for (int64_t b = 0; b < p->n; b++) {
    const float *xb = x + b * p->c_in * ih * iw;
    const float *xin = xb;
    if (g.padded) {
      /* xpad[ic][r][c] = x[ic][r * st_r - ph][c * st_c - pw], zero outside the image (st 1:
       * the padded image; a 1x1 kernel's copy (g.sub): st the strides, just the taps). */
      const int64_t ph = p->pad_begin[0], pw = p->pad_begin[1];
      const int64_t st_r = g.sub ? sh : 1, st_c = g.sub ? sw : 1;
      for (int64_t ic = 0; ic < p->c_in; ic++) {
        for (int64_t r = r_lo; r < r_hi; r++) {
          float *dst = xpad + ic * cs + r * rs;
          const int64_t iy = r * st_r - ph;
          if (iy < 0 || iy >= ih) {
            memset(dst, 0, (size_t)g.cols * sizeof(float));
            continue;
          }
          const float *src = xb + (ic * ih + iy) * iw;
          if (st_c == 1) {
            /* Columns [c0, c1) read the row's run src[c0 - pw ..]; the rest is padding. A
             * per-element copy cost ~7% of a 3x3 stride-2 128->128 layer on a 56 x 56 input,
             * paid by every task (each copies the whole image). */
            const int64_t c0 = pw < 0 ? 0 : (pw < g.cols ? pw : g.cols);
            int64_t c1 = iw + pw;
            c1 = c1 < c0 ? c0 : (c1 > g.cols ? g.cols : c1);
            memset(dst, 0, (size_t)c0 * sizeof(float));
            memcpy(dst + c0, src + (c0 - pw), (size_t)(c1 - c0) * sizeof(float));
            memset(dst + c1, 0, (size_t)(g.cols - c1) * sizeof(float));
            continue;
          }
          for (int64_t c = 0; c < g.cols; c++) {
            const int64_t ix = c * st_c - pw;
            dst[c] = ix >= 0 && ix < iw ? src[ix] : 0.0f;
          }
        }
      }
      xin = xpad;
    }
    const float *rb = residual != NULL ? residual + b * p->c_out * plane : NULL;
    float *yb = y + b * p->c_out * plane;
    const int64_t row2 = sh * rs; /* input offset of the next output row */
    /* The weights stream from memory once per image (a 7 x 7 layer's are 9 MB), but only the
     * first tile of a k block reads them there: the hardware prefetcher sees no new addresses
     * while the other tiles run from L1, so each block's load did not overlap any compute.
     * Each tile prefetches its share of the next block's lines instead. */
    const int64_t tiles_per_block = ti_hi - ti_lo;
    const float *w_end = wp + hi * CNNRT_CONV_MVEC_MR * k;
    const int64_t next_lines = kc * CNNRT_CONV_MVEC_MR * (int64_t)sizeof(float) / 64;
    /* With steal: pieces of one panel, own ones [own_lo, own_hi) first; else [lo, hi) once. */
    const int64_t own_lo = panels * t / n_tasks, own_hi = panels * (t + 1) / n_tasks;
    int64_t u0 = lo, u1 = hi;
    for (int first = 1;
         steal != NULL ? cnnrt_steal_next(steal, panels, n_tasks, t, 1, 0, first, &u0, &u1) : first;
         first = 0) {
      for (int64_t pn = u0; pn < u1; pn++) {
        const int64_t oc0 = pn * CNNRT_CONV_MVEC_MR;
        const int64_t rows =
            p->c_out - oc0 < CNNRT_CONV_MVEC_MR ? p->c_out - oc0 : CNNRT_CONV_MVEC_MR;
        const float *wpan = wp + oc0 * k;
        /* Whether this task computes panel pn + 1 next: panels are contiguous; with stealing
         * only while the task is in its own share. */
        const int next_panel = steal == NULL || (pn >= own_lo && pn + 1 < own_hi);
        for (int64_t k0 = 0; k0 < k; k0 += kc) {
          const int64_t kb = k - k0 < kc ? k - k0 : kc;
          /* The next block (past this panel's end, the next panel's first one if next_panel),
           * kc rows of 32 floats: next_lines 64-byte lines. */
          const float *next =
              k0 + kb < k || next_panel ? wpan + (k0 + kb) * CNNRT_CONV_MVEC_MR : w_end;
          int64_t ti = 0;
          for (int64_t oy = 0; oy < n_rows; oy += step) {
            const int64_t pair = step == 2 && oy + 1 < n_rows;
            for (int64_t ox0 = 0; ox0 < len; ox0 += tile, ti++) {
              if (ti < ti_lo || ti >= ti_hi) {
                continue;
              }
              cnnrt_prefetch_share(next, next_lines, ti - ti_lo, tiles_per_block, w_end);
              const int64_t n1 = len - ox0 < tile ? len - ox0 : tile;
              const int64_t nr = pair ? 2 * n1 : n1;
              const int64_t pix0 = oy * ow + ox0; /* (flat: oy = 0, ox0 the pixel) */
              const float *xt = g.flat ? xin + ox0 : xin + oy * sh * rs + ox0 * sw;
              float *pt = part + pix0 * CNNRT_CONV_MVEC_MR;
              cnnrt_mvec_tile_any(nr, n1, wpan + k0 * CNNRT_CONV_MVEC_MR, koff + k0, kb, xt,
                                  g.flat ? 1 : sw, row2, rows, k0 == 0, pt);
              if (k0 + kb == k) {
                cnnrt_mvec_epilogue(p, pt, nr, rows, oc0, pix0, plane, bias, rb, yb);
              }
            }
          }
        }
      }
    }
  }
}

static inline void cnnrt_f32_conv_mvec_range(const cnnrt_conv_params *p, const float *x,
                                             const float *wp, const float *bias,
                                             const float *residual, float *y,
                                             unsigned char *scratch, int64_t t, int64_t n_tasks) {
  cnnrt_mvec_run_(p, x, wp, bias, residual, y, scratch, t, n_tasks, NULL);
}

/* The task of the cnnrt_parallel hook (struct as cnnrt_conv_task of cnnrt_conv_packed.h);
 * steal: all zero ({{0}}), the panels the tasks took over (cnnrt_mvec_run_). */
typedef struct cnnrt_conv_mvec_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride;
  int64_t n_tasks;
  cnnrt_steal steal;
} cnnrt_conv_mvec_task;

static inline void cnnrt_conv_mvec_task_fn(void *arg, int64_t t) {
  cnnrt_conv_mvec_task *a = (cnnrt_conv_mvec_task *)arg;
  cnnrt_mvec_run_(a->p, a->x, a->w, a->bias, a->residual, a->y, a->scratch + t * a->scratch_stride,
                  t, a->n_tasks, &a->steal);
}
#endif /* __AVX2__ && __FMA__ */

#endif
