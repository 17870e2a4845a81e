/* cnnrt_conv_direct_avx2.h — 2-D group-1 convolutions with few input channels (the first layer
 * of an image network: 3 channels in, e.g. ResNet's 7x7 stride-2 stem), AVX2/FMA and AVX-512.
 *
 * Why not the packed GEMM: with 3 input channels the GEMM's depth is c_in * kh * kw (27 or 147)
 * and its B operand is the im2col of a strided 3-channel image, which costs about as much as the
 * multiply itself. Here the im2col is implicit: the microkernel reads its B vectors straight out
 * of a copy of the input rows in which every row is padded and split by column phase
 * (column c of the padded row goes to phase c % stride_w, slot c / stride_w). Output pixel ox at
 * tap kx then reads slot ox + (kx * dilation_w) / stride_w of phase (kx * dilation_w) % stride_w:
 * consecutive output pixels read consecutive floats, for any stride, so a vector of 16 (8)
 * output pixels is one unaligned load. Each tap is one such load per 16 pixels and one
 * broadcast per output channel of the tile; the tile is 12 output channels x 32 pixels (AVX-512,
 * 24 accumulators) or 6 x 16 (AVX2, 12 accumulators), with narrower tiles at the row's end.
 *
 * Weights: the 6-row panel layout of the AVX2 GEMM (cnnrt_f32_pack_a_mr6 of [c_out, c_in*kh*kw]),
 * so the portable fallback is cnnrt_f32_conv_packed_ref. Output NCHW, each tile stored with the
 * GEMM's fused epilogue (bias + residual, then the activation; SiLU & co by the AVX2 activation
 * kernels on the stored tile), so the results are those of the GEMM path.
 *
 * Work: tasks take equal shares of the (batch, output row) range; a task walks its rows in
 * bands of CNNRT_CONV_DIRECT_BAND output rows, copying the input rows a band reads into its
 * scratch (a few % of the arithmetic for the ResNet stem), then for each output row runs the
 * channel blocks x pixel tiles. */
#ifndef CNNRT_CONV_DIRECT_AVX2_H
#define CNNRT_CONV_DIRECT_AVX2_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_gemm_avx2.h"

#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

/* Output rows per band: the band's input copy (c_in x ((BAND-1) * stride + (kh-1) * dilation
 * + 1) rows) is ~70 KiB for the ResNet stem, L2-resident; the rows one output row reads are
 * ~23 KiB, L1-resident. */
#ifndef CNNRT_CONV_DIRECT_BAND
#define CNNRT_CONV_DIRECT_BAND 8
#endif

/* ---- Portable geometry (the compiler sizes the scratch with it) ---- */

/* Whether the kernel takes this convolution: 2-D, group 1, at most 4 input channels, strides
 * 1..4, and kernels small enough that the input copy stays in cache (kh * kw <= 121). The tap
 * offsets are int32. */
static inline int cnnrt_conv_direct_applies(const cnnrt_conv_params *p) {
  if (p->spatial != 2 || p->group != 1 || p->c_in < 1 || p->c_in > 4 || p->c_out < 1) {
    return 0;
  }
  for (int a = 0; a < 2; a++) {
    if (p->stride[a] < 1 || p->stride[a] > 4 || p->dilation[a] < 1 || p->kernel[a] < 1 ||
        p->out[a] < 1 || p->in[a] < 1) {
      return 0;
    }
  }
  if (p->kernel[0] * p->kernel[1] > 121 || p->out[1] > (1 << 16) ||
      (p->kernel[0] - 1) * p->dilation[0] > 256 || (p->kernel[1] - 1) * p->dilation[1] > 256) {
    return 0;
  }
  return 1;
}

/* Floats per phase of a copied row: the widest pixel tile (32) rounded up over the output
 * width, plus the farthest tap's slot offset, rounded to 16 floats (so every vector load of a
 * tile, masked-off pixels included, stays inside the copy). */
static inline int64_t cnnrt_conv_direct_slots(const cnnrt_conv_params *p) {
  const int64_t reach = (p->kernel[1] - 1) * p->dilation[1] / p->stride[1];
  return ((p->out[1] + 31) / 32 * 32 + reach + 1 + 15) / 16 * 16;
}

/* Input rows one band of `rows` output rows reads. */
static inline int64_t cnnrt_conv_direct_band_rows(const cnnrt_conv_params *p, int64_t rows) {
  return (rows - 1) * p->stride[0] + (p->kernel[0] - 1) * p->dilation[0] + 1;
}

/* Floats of one task's input copy. */
static inline int64_t cnnrt_conv_direct_copy_floats(const cnnrt_conv_params *p) {
  return p->c_in * cnnrt_conv_direct_band_rows(p, CNNRT_CONV_DIRECT_BAND) * p->stride[1] *
         cnnrt_conv_direct_slots(p);
}

/* Scratch bytes of one task: alignment slack, the input copy, the tap offsets. */
static inline int64_t cnnrt_f32_conv_direct_avx2_scratch_bytes(const cnnrt_conv_params *p) {
  return 64 + cnnrt_conv_direct_copy_floats(p) * (int64_t)sizeof(float) +
         p->c_in * p->kernel[0] * p->kernel[1] * (int64_t)sizeof(int32_t);
}

/* Slot range [lo, hi) of phase ph whose input column s * sw + ph - pw lies inside [0, iw). */
static inline void cnnrt_conv_direct_inside(int64_t iw, int64_t sw, int64_t pw, int64_t ph,
                                            int64_t slots, int64_t *lo, int64_t *hi) {
  int64_t a = cnnrt_conv_ceil_div(pw - ph, sw), b = cnnrt_conv_ceil_div(iw + pw - ph, sw);
  a = a < 0 ? 0 : (a > slots ? slots : a);
  b = b < a ? a : (b > slots ? slots : b);
  *lo = a;
  *hi = b;
}

/* One padded input row src (iw floats) split into its sw phases of `slots` floats at dst. */
static inline void cnnrt_conv_direct_copy_row(const float *src, int64_t iw, int64_t sw,
                                              int64_t pw, int64_t slots, float *dst) {
  /* Slots [v_lo, v_hi) of every phase done by the vector loop (stride 2 only). */
  int64_t v_lo = 0, v_hi = 0;
#if defined(__AVX2__) && defined(__FMA__)
  if (sw == 2) {
    /* Both phases from one 16-float window, deinterleaved. */
    int64_t lo0, hi0, lo1, hi1;
    cnnrt_conv_direct_inside(iw, 2, pw, 0, slots, &lo0, &hi0);
    cnnrt_conv_direct_inside(iw, 2, pw, 1, slots, &lo1, &hi1);
    const int64_t end = hi0 < hi1 ? hi0 : hi1;
    v_lo = lo0 > lo1 ? lo0 : lo1;
    for (v_hi = v_lo; v_hi + 8 <= end; v_hi += 8) {
      const float *q = src + 2 * v_hi - pw;
      const __m256 a = _mm256_loadu_ps(q), b = _mm256_loadu_ps(q + 8);
      const __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
      _mm256_storeu_ps(dst + v_hi, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                       _mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0))));
      _mm256_storeu_ps(dst + slots + v_hi, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                               _mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0))));
    }
  }
#endif
  for (int64_t ph = 0; ph < sw; ph++) {
    float *d = dst + ph * slots;
    int64_t lo, hi;
    cnnrt_conv_direct_inside(iw, sw, pw, ph, slots, &lo, &hi);
    for (int64_t s = 0; s < lo; s++) {
      d[s] = 0.0f;
    }
    if (sw == 1) {
      memcpy(d + lo, src + lo - pw, sizeof(float) * (size_t)(hi - lo));
    } else {
      /* (when the vector loop ran, lo <= v_lo and v_hi <= hi) */
      const int64_t mid = v_hi > v_lo ? v_lo : hi;
      for (int64_t s = lo; s < mid; s++) {
        d[s] = src[s * sw + ph - pw];
      }
      for (int64_t s = v_hi > v_lo ? v_hi : hi; s < hi; s++) {
        d[s] = src[s * sw + ph - pw];
      }
    }
    for (int64_t s = hi; s < slots; s++) {
      d[s] = 0.0f;
    }
  }
}

/* Copies the input rows of output rows [oy0, oy0 + rows) of one image into `copy`
 * ([c_in][band row][phase][slot], zeros where the padded row lies outside the input). */
static inline void cnnrt_conv_direct_copy_band(const cnnrt_conv_params *p, const float *xb,
                                               int64_t oy0, int64_t rows, float *copy) {
  const int64_t ih = p->in[0], iw = p->in[1], sw = p->stride[1];
  const int64_t slots = cnnrt_conv_direct_slots(p);
  const int64_t band = cnnrt_conv_direct_band_rows(p, CNNRT_CONV_DIRECT_BAND);
  const int64_t used = cnnrt_conv_direct_band_rows(p, rows);
  const int64_t iy0 = oy0 * p->stride[0] - p->pad_begin[0];
  for (int64_t ic = 0; ic < p->c_in; ic++) {
    for (int64_t r = 0; r < used; r++) {
      const int64_t iy = iy0 + r;
      float *dst = copy + (ic * band + r) * sw * slots;
      if (iy < 0 || iy >= ih) {
        memset(dst, 0, sizeof(float) * (size_t)(sw * slots));
      } else {
        cnnrt_conv_direct_copy_row(xb + (ic * ih + iy) * iw, iw, sw, p->pad_begin[1], slots, dst);
      }
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)

/* Offsets of every tap (k = (ic * kh + ky) * kw + kx, the weights' depth order) into a band's
 * copy, for output row 0 of the band and output column 0. */
static inline void cnnrt_conv_direct_taps(const cnnrt_conv_params *p, int32_t *tap) {
  const int64_t kh = p->kernel[0], kw = p->kernel[1], sw = p->stride[1];
  const int64_t slots = cnnrt_conv_direct_slots(p);
  const int64_t band = cnnrt_conv_direct_band_rows(p, CNNRT_CONV_DIRECT_BAND);
  for (int64_t ic = 0; ic < p->c_in; ic++) {
    for (int64_t ky = 0; ky < kh; ky++) {
      for (int64_t kx = 0; kx < kw; kx++) {
        const int64_t col = kx * p->dilation[1];
        tap[(ic * kh + ky) * kw + kx] =
            (int32_t)(((ic * band + ky * p->dilation[0]) * sw + col % sw) * slots + col / sw);
      }
    }
  }
}

#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_CONV_DIRECT_AVX512 1

#define CNNRT_DIRECT512_ACC(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps()
#define CNNRT_DIRECT512_FMA2(r, ap)                                                                \
  do {                                                                                             \
    const __m512 t_ = _mm512_set1_ps((ap)[(r) % 6]);                                               \
    c##r##0 = _mm512_fmadd_ps(t_, b0, c##r##0);                                                    \
    c##r##1 = _mm512_fmadd_ps(t_, b1, c##r##1);                                                    \
  } while (0)
#define CNNRT_DIRECT512_FMA1(r, ap)                                                                \
  c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps((ap)[(r) % 6]), b0, c##r##0)
#define CNNRT_DIRECT512_STORE(r)                                                                   \
  do {                                                                                             \
    if (mr > (r)) {                                                                                \
      cnnrt_gemm_avx512_store_row(c, bias, res, (r), ldc, c##r##0, c##r##1, nr, e);                \
    }                                                                                              \
  } while (0)

/* Tile of mr (<= 12) channels x nr (<= 32) pixels: rows 0..5 from the weight panel a0, 6..11
 * from a1; x points at the output row's first pixel of the tile in the band copy. */
static inline void cnnrt_conv_direct_12x32_avx512(int64_t k, const int32_t *tap, const float *x,
                                                  const float *a0, const float *a1, float *c,
                                                  int64_t ldc, int64_t mr, int64_t nr,
                                                  const float *bias, const float *res,
                                                  const cnnrt_gemm_avx2_epi *e) {
  CNNRT_DIRECT512_ACC(0);
  CNNRT_DIRECT512_ACC(1);
  CNNRT_DIRECT512_ACC(2);
  CNNRT_DIRECT512_ACC(3);
  CNNRT_DIRECT512_ACC(4);
  CNNRT_DIRECT512_ACC(5);
  CNNRT_DIRECT512_ACC(6);
  CNNRT_DIRECT512_ACC(7);
  CNNRT_DIRECT512_ACC(8);
  CNNRT_DIRECT512_ACC(9);
  CNNRT_DIRECT512_ACC(10);
  CNNRT_DIRECT512_ACC(11);
  for (int64_t kk = 0; kk < k; kk++) {
    const float *xp = x + tap[kk];
    const __m512 b0 = _mm512_loadu_ps(xp);
    const __m512 b1 = _mm512_loadu_ps(xp + 16);
    CNNRT_DIRECT512_FMA2(0, a0);
    CNNRT_DIRECT512_FMA2(1, a0);
    CNNRT_DIRECT512_FMA2(2, a0);
    CNNRT_DIRECT512_FMA2(3, a0);
    CNNRT_DIRECT512_FMA2(4, a0);
    CNNRT_DIRECT512_FMA2(5, a0);
    CNNRT_DIRECT512_FMA2(6, a1);
    CNNRT_DIRECT512_FMA2(7, a1);
    CNNRT_DIRECT512_FMA2(8, a1);
    CNNRT_DIRECT512_FMA2(9, a1);
    CNNRT_DIRECT512_FMA2(10, a1);
    CNNRT_DIRECT512_FMA2(11, a1);
    a0 += 6;
    a1 += 6;
  }
  CNNRT_DIRECT512_STORE(0);
  CNNRT_DIRECT512_STORE(1);
  CNNRT_DIRECT512_STORE(2);
  CNNRT_DIRECT512_STORE(3);
  CNNRT_DIRECT512_STORE(4);
  CNNRT_DIRECT512_STORE(5);
  CNNRT_DIRECT512_STORE(6);
  CNNRT_DIRECT512_STORE(7);
  CNNRT_DIRECT512_STORE(8);
  CNNRT_DIRECT512_STORE(9);
  CNNRT_DIRECT512_STORE(10);
  CNNRT_DIRECT512_STORE(11);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* mr <= 6 channels x nr <= 32 pixels from one panel; even and odd taps in separate
 * accumulators (24 chains, as cnnrt_f32_gemm_6x32_avx512). */
static inline void cnnrt_conv_direct_6x32_avx512(int64_t k, const int32_t *tap, const float *x,
                                                 const float *a, float *c, int64_t ldc,
                                                 int64_t mr, int64_t nr, const float *bias,
                                                 const float *res, const cnnrt_gemm_avx2_epi *e) {
  CNNRT_DIRECT512_ACC(0);
  CNNRT_DIRECT512_ACC(1);
  CNNRT_DIRECT512_ACC(2);
  CNNRT_DIRECT512_ACC(3);
  CNNRT_DIRECT512_ACC(4);
  CNNRT_DIRECT512_ACC(5);
  CNNRT_DIRECT512_ACC(6);
  CNNRT_DIRECT512_ACC(7);
  CNNRT_DIRECT512_ACC(8);
  CNNRT_DIRECT512_ACC(9);
  CNNRT_DIRECT512_ACC(10);
  CNNRT_DIRECT512_ACC(11);
  int64_t kk = 0;
  for (; kk + 2 <= k; kk += 2) {
    {
      const float *xp = x + tap[kk];
      const __m512 b0 = _mm512_loadu_ps(xp);
      const __m512 b1 = _mm512_loadu_ps(xp + 16);
      CNNRT_DIRECT512_FMA2(0, a);
      CNNRT_DIRECT512_FMA2(1, a);
      CNNRT_DIRECT512_FMA2(2, a);
      CNNRT_DIRECT512_FMA2(3, a);
      CNNRT_DIRECT512_FMA2(4, a);
      CNNRT_DIRECT512_FMA2(5, a);
    }
    {
      const float *xp = x + tap[kk + 1];
      const __m512 b0 = _mm512_loadu_ps(xp);
      const __m512 b1 = _mm512_loadu_ps(xp + 16);
      CNNRT_DIRECT512_FMA2(6, a + 6);
      CNNRT_DIRECT512_FMA2(7, a + 6);
      CNNRT_DIRECT512_FMA2(8, a + 6);
      CNNRT_DIRECT512_FMA2(9, a + 6);
      CNNRT_DIRECT512_FMA2(10, a + 6);
      CNNRT_DIRECT512_FMA2(11, a + 6);
    }
    a += 12;
  }
  if (kk < k) {
    const float *xp = x + tap[kk];
    const __m512 b0 = _mm512_loadu_ps(xp);
    const __m512 b1 = _mm512_loadu_ps(xp + 16);
    CNNRT_DIRECT512_FMA2(0, a);
    CNNRT_DIRECT512_FMA2(1, a);
    CNNRT_DIRECT512_FMA2(2, a);
    CNNRT_DIRECT512_FMA2(3, a);
    CNNRT_DIRECT512_FMA2(4, a);
    CNNRT_DIRECT512_FMA2(5, a);
  }
  c00 = _mm512_add_ps(c00, c60);
  c01 = _mm512_add_ps(c01, c61);
  c10 = _mm512_add_ps(c10, c70);
  c11 = _mm512_add_ps(c11, c71);
  c20 = _mm512_add_ps(c20, c80);
  c21 = _mm512_add_ps(c21, c81);
  c30 = _mm512_add_ps(c30, c90);
  c31 = _mm512_add_ps(c31, c91);
  c40 = _mm512_add_ps(c40, c100);
  c41 = _mm512_add_ps(c41, c101);
  c50 = _mm512_add_ps(c50, c110);
  c51 = _mm512_add_ps(c51, c111);
  CNNRT_DIRECT512_STORE(0);
  CNNRT_DIRECT512_STORE(1);
  CNNRT_DIRECT512_STORE(2);
  CNNRT_DIRECT512_STORE(3);
  CNNRT_DIRECT512_STORE(4);
  CNNRT_DIRECT512_STORE(5);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* mr <= 12 channels x nr <= 16 pixels (the row's last pixels). */
static inline void cnnrt_conv_direct_12x16_avx512(int64_t k, const int32_t *tap, const float *x,
                                                  const float *a0, const float *a1, float *c,
                                                  int64_t ldc, int64_t mr, int64_t nr,
                                                  const float *bias, const float *res,
                                                  const cnnrt_gemm_avx2_epi *e) {
  CNNRT_DIRECT512_ACC(0);
  CNNRT_DIRECT512_ACC(1);
  CNNRT_DIRECT512_ACC(2);
  CNNRT_DIRECT512_ACC(3);
  CNNRT_DIRECT512_ACC(4);
  CNNRT_DIRECT512_ACC(5);
  CNNRT_DIRECT512_ACC(6);
  CNNRT_DIRECT512_ACC(7);
  CNNRT_DIRECT512_ACC(8);
  CNNRT_DIRECT512_ACC(9);
  CNNRT_DIRECT512_ACC(10);
  CNNRT_DIRECT512_ACC(11);
  for (int64_t kk = 0; kk < k; kk++) {
    const __m512 b0 = _mm512_loadu_ps(x + tap[kk]);
    CNNRT_DIRECT512_FMA1(0, a0);
    CNNRT_DIRECT512_FMA1(1, a0);
    CNNRT_DIRECT512_FMA1(2, a0);
    CNNRT_DIRECT512_FMA1(3, a0);
    CNNRT_DIRECT512_FMA1(4, a0);
    CNNRT_DIRECT512_FMA1(5, a0);
    CNNRT_DIRECT512_FMA1(6, a1);
    CNNRT_DIRECT512_FMA1(7, a1);
    CNNRT_DIRECT512_FMA1(8, a1);
    CNNRT_DIRECT512_FMA1(9, a1);
    CNNRT_DIRECT512_FMA1(10, a1);
    CNNRT_DIRECT512_FMA1(11, a1);
    a0 += 6;
    a1 += 6;
  }
  CNNRT_DIRECT512_STORE(0);
  CNNRT_DIRECT512_STORE(1);
  CNNRT_DIRECT512_STORE(2);
  CNNRT_DIRECT512_STORE(3);
  CNNRT_DIRECT512_STORE(4);
  CNNRT_DIRECT512_STORE(5);
  CNNRT_DIRECT512_STORE(6);
  CNNRT_DIRECT512_STORE(7);
  CNNRT_DIRECT512_STORE(8);
  CNNRT_DIRECT512_STORE(9);
  CNNRT_DIRECT512_STORE(10);
  CNNRT_DIRECT512_STORE(11);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}
#undef CNNRT_DIRECT512_ACC
#undef CNNRT_DIRECT512_FMA2
#undef CNNRT_DIRECT512_FMA1
#undef CNNRT_DIRECT512_STORE
#endif /* __AVX512F__ && !CNNRT_NO_AVX512 */

#define CNNRT_DIRECT256_ACC(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps()
#define CNNRT_DIRECT256_FMA2(r)                                                                    \
  do {                                                                                             \
    const __m256 t_ = _mm256_broadcast_ss(a + (r));                                                \
    c##r##0 = _mm256_fmadd_ps(t_, b0, c##r##0);                                                    \
    c##r##1 = _mm256_fmadd_ps(t_, b1, c##r##1);                                                    \
  } while (0)
#define CNNRT_DIRECT256_STORE(r)                                                                   \
  do {                                                                                             \
    if (mr > (r)) {                                                                                \
      cnnrt_gemm_avx2_store_row(c + (r) * ldc, bias != NULL ? bias + (r) : NULL,                   \
                                res != NULL ? res + (r) * ldc : NULL, c##r##0, c##r##1, nr, e);    \
    }                                                                                              \
  } while (0)

/* AVX2 tile: mr <= 6 channels x nr <= 16 pixels from one weight panel. (For nr <= 8 the second
 * vector's FMAs are wasted; the row's last tile only.) */
static inline void cnnrt_conv_direct_6x16_avx2(int64_t k, const int32_t *tap, const float *x,
                                               const float *a, float *c, int64_t ldc, int64_t mr,
                                               int64_t nr, const float *bias, const float *res,
                                               const cnnrt_gemm_avx2_epi *e) {
  CNNRT_DIRECT256_ACC(0);
  CNNRT_DIRECT256_ACC(1);
  CNNRT_DIRECT256_ACC(2);
  CNNRT_DIRECT256_ACC(3);
  CNNRT_DIRECT256_ACC(4);
  CNNRT_DIRECT256_ACC(5);
  for (int64_t kk = 0; kk < k; kk++) {
    const float *xp = x + tap[kk];
    __m256 b0 = _mm256_loadu_ps(xp);
    __m256 b1 = _mm256_loadu_ps(xp + 8);
    CNNRT_KEEP_IN_REGS(b0, b1); /* (see cnnrt.h) */
    CNNRT_DIRECT256_FMA2(0);
    CNNRT_DIRECT256_FMA2(1);
    CNNRT_DIRECT256_FMA2(2);
    CNNRT_DIRECT256_FMA2(3);
    CNNRT_DIRECT256_FMA2(4);
    CNNRT_DIRECT256_FMA2(5);
    a += 6;
  }
  CNNRT_DIRECT256_STORE(0);
  CNNRT_DIRECT256_STORE(1);
  CNNRT_DIRECT256_STORE(2);
  CNNRT_DIRECT256_STORE(3);
  CNNRT_DIRECT256_STORE(4);
  CNNRT_DIRECT256_STORE(5);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}
#undef CNNRT_DIRECT256_ACC
#undef CNNRT_DIRECT256_FMA2
#undef CNNRT_DIRECT256_STORE

/* One output row oy of one image: every channel block x pixel tile. x is the band copy advanced
 * to the row (the copy of the band starting at output row oy0 plus (oy - oy0) * stride rows). */
static inline void cnnrt_conv_direct_avx2_row(const cnnrt_conv_params *p, const float *x,
                                              const int32_t *tap, const float *w_packed,
                                              const float *bias, const float *res, float *y,
                                              const cnnrt_gemm_avx2_epi *e) {
  const int64_t k = p->c_in * p->kernel[0] * p->kernel[1];
  const int64_t m = p->c_out, ow = p->out[1], ldc = p->out[0] * p->out[1];
#if defined(CNNRT_CONV_DIRECT_AVX512)
  for (int64_t i = 0; i < m; i += 12) {
    const int64_t mr = cnnrt_gemm_avx2_min(12, m - i);
    const float *a0 = w_packed + i * k;
    const float *bi = bias != NULL ? bias + i : NULL;
    float *c = y + i * ldc;
    const float *r = res != NULL ? res + i * ldc : NULL;
    int64_t j = 0;
    for (; ow - j > 16; j += 32) {
      const int64_t nr = cnnrt_gemm_avx2_min(32, ow - j);
      if (mr > 6) {
        cnnrt_conv_direct_12x32_avx512(k, tap, x + j, a0, a0 + 6 * k, c + j, ldc, mr, nr, bi,
                                       r != NULL ? r + j : NULL, e);
      } else {
        cnnrt_conv_direct_6x32_avx512(k, tap, x + j, a0, c + j, ldc, mr, nr, bi,
                                      r != NULL ? r + j : NULL, e);
      }
    }
    if (j < ow) {
      /* (mr <= 6: a1 is never read past the packed weights, its rows are not stored; it is
       * read though, so point it at the valid first panel.) */
      cnnrt_conv_direct_12x16_avx512(k, tap, x + j, a0, mr > 6 ? a0 + 6 * k : a0, c + j, ldc,
                                     mr, ow - j, bi, r != NULL ? r + j : NULL, e);
    }
  }
#else
  for (int64_t i = 0; i < m; i += 6) {
    const int64_t mr = cnnrt_gemm_avx2_min(6, m - i);
    const float *a = w_packed + i * k;
    const float *bi = bias != NULL ? bias + i : NULL;
    const float *r = res != NULL ? res + i * ldc : NULL;
    for (int64_t j = 0; j < ow; j += 16) {
      cnnrt_conv_direct_6x16_avx2(k, tap, x + j, a, y + i * ldc + j, ldc, mr,
                                  cnnrt_gemm_avx2_min(16, ow - j), bi, r != NULL ? r + j : NULL,
                                  e);
    }
  }
#endif
}

/* Task `task` of n_tasks: its share of the (batch, output row) range, all output channels, and
 * with steal (NULL: none) bands of the other tasks' shares once its own is done.
 * x [n, c_in, ih, iw], w_packed = cnnrt_f32_pack_a_mr6(c_out, c_in * kh * kw, w), bias [c_out]
 * or NULL, residual (shape of y) or NULL and may be y itself; y must not alias x. scratch:
 * cnnrt_f32_conv_direct_avx2_scratch_bytes(p) bytes for this task. Requires
 * cnnrt_conv_direct_applies(p). */
static inline void cnnrt_f32_conv_direct_avx2_range(const cnnrt_conv_params *p, const float *x,
                                                    const float *w_packed, const float *bias,
                                                    const float *residual, float *y, void *scratch,
                                                    int64_t task, int64_t n_tasks,
                                                    cnnrt_steal *steal) {
  CNNRT_ASSERT(cnnrt_conv_direct_applies(p));
  const int64_t oh = p->out[0], ow = p->out[1], plane = oh * ow;
  const int64_t rows = p->n * oh;
  const int64_t in_image = p->c_in * p->in[0] * p->in[1];
  const int64_t row_step = p->stride[0] * p->stride[1] * cnnrt_conv_direct_slots(p);
  float *copy = cnnrt_gemm_avx2_align(scratch);
  int32_t *tap = (int32_t *)(void *)(copy + cnnrt_conv_direct_copy_floats(p));
  cnnrt_conv_direct_taps(p, tap);
  cnnrt_gemm_avx2_epi e;
  e.act = p->act;
  e.alpha = p->alpha;
  e.beta = p->beta;
  e.first = 1;
  e.last = 1;
  int64_t lo, hi;
  for (int first = 1;
       cnnrt_steal_next(steal, rows, n_tasks, task, CNNRT_CONV_DIRECT_BAND, oh, first, &lo, &hi);
       first = 0) {
    for (int64_t r0 = lo; r0 < hi;) {
      const int64_t b = r0 / oh, oy0 = r0 % oh;
      /* a band never crosses an image */
      const int64_t n_rows =
          cnnrt_gemm_avx2_min(cnnrt_gemm_avx2_min(CNNRT_CONV_DIRECT_BAND, hi - r0), oh - oy0);
      cnnrt_conv_direct_copy_band(p, x + b * in_image, oy0, n_rows, copy);
      for (int64_t t = 0; t < n_rows; t++) {
        const int64_t off = b * p->c_out * plane + (oy0 + t) * ow;
        cnnrt_conv_direct_avx2_row(p, copy + t * row_step, tap, w_packed, bias,
                                   residual != NULL ? residual + off : NULL, y + off, &e);
      }
      r0 += n_rows;
    }
  }
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_CONV_DIRECT_AVX2_H */
