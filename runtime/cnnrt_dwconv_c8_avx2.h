/* cnnrt_dwconv_c8_avx2.h — depthwise 2-D convolution, float32, NCHW, AVX2 + FMA, vectorised
 * over channels: the AVX2 counterpart of the AVX-512 channel kernel (cnnrt_dwc16_* in
 * cnnrt_dwconv_avx512.h), 8 channels per __m256.
 *
 * Same contract as cnnrt_f32_dwconv2d_avx2_range_reduce (cnnrt_dwconv_avx2.h): y[b, c] =
 * act(bias[c] + conv2d(x[b, c], w[c]) + residual[b, c]); y may be the residual itself (each
 * residual element is read before the same element of y is written), reduce as there.
 *
 * Why: the plane kernel (cnnrt_dwconv_avx2.h) puts 8 output columns of one row in a vector, so
 * a 7-column row fills 7 of 8 lanes, a 14-column one 14 of 16, and every block of rows pays its
 * set-up (the row copy, the stride-2 de-interleave, the pad stores) for a few dozen FMAs. ONNX
 * Runtime vectorises over channels (NCHWc), which fills every lane whatever the plane width or
 * stride. This kernel does that on our NCHW tensors, 8 channel planes at a time:
 *   - the block's input rows are transposed (8x8 in registers) into a zero-padded scratch of
 *     [padded row][padded column][8 channels] (at most CNNRT_DWC8_CAP pixels: 16 KiB, half of
 *     L1d; taller planes run in bands of output rows);
 *   - the weights of the 8 channels are packed [tap][8] (72 / 200 floats, once per block);
 *   - a group is 7 consecutive output pixels of one row (output widths are multiples of 7):
 *     7 bias-initialised accumulators, and per tap one weight vector and 7 loads at constant
 *     offsets from the group's row pointers (K and S compile-time), so 7 accumulators + the
 *     weight use 8 of the 16 ymm registers and nothing spills;
 *   - the accumulators (and a zero vector) are transposed back into 8 channel vectors of the
 *     group's 7 pixels, which are consecutive in y: residual added there, stored as whole
 *     vectors (lane 7 is overwritten by the next group; a plane's last group stores 7 lanes
 *     with a mask);
 *   - RELU, CLIP, SILU and SIGMOID run in registers (before the transpose when there is no
 *     residual: 7 vectors instead of up to 8), with the same register functions as
 *     cnnrt_f32_act_avx2, so results equal the plane kernel's epilogue; the other activations
 *     as a pass over the block's planes (still in L1).
 * Shapes: 3x3 and 5x5, stride 1 or 2 on both axes, no dilation, no negative leading pad, output
 * width a multiple of 7. Which of those take it: measured, cnnrt_dwc8_selected.
 * Stack: the scratch (16 KiB), the packed weights (1 KiB) and a pixel table (2 KiB). */
#ifndef CNNRT_DWCONV_C8_AVX2_H
#define CNNRT_DWCONV_C8_AVX2_H

#include "cnnrt_dwconv_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#define CNNRT_DWC8_CAP 512 /* padded pixels (x 8 channels) of scratch: 16 KiB */
#define CNNRT_DWC8_NP 7    /* output pixels per group */

#if defined(__clang__)
#define CNNRT_DWC8_UNROLL _Pragma("unroll 32")
#elif defined(__GNUC__)
#define CNNRT_DWC8_UNROLL _Pragma("GCC unroll 32")
#else
#define CNNRT_DWC8_UNROLL
#endif

typedef struct cnnrt_dwc8_geom {
  cnnrt_dw_avx2_geom g; /* the 2-D view */
  int64_t k, s;         /* square kernel, stride */
  int64_t pitch;        /* pixels per padded row stored: the (ow - 1) * s + k read, or pw + w */
  int64_t rows;         /* output rows per band */
  int64_t prows;        /* padded rows of the scratch: (rows - 1) * s + k */
} cnnrt_dwc8_geom;

/* Fills d; returns 0 when the shape is not one this kernel handles. */
static inline int cnnrt_dwc8_make_geom(const cnnrt_conv_params *p, cnnrt_dwc8_geom *d) {
  if (!cnnrt_dw_avx2_make_geom(p, &d->g)) {
    return 0;
  }
  const cnnrt_dw_avx2_geom *g = &d->g;
  if (g->kh != g->kw || (g->kh != 3 && g->kh != 5) || g->sh != g->sw || g->sh > 2 ||
      g->dh != 1 || g->dw != 1 || g->ph < 0 || g->pw < 0 || g->oh < 1 || g->ow < 1 ||
      g->ow % CNNRT_DWC8_NP != 0) {
    return 0;
  }
  d->k = g->kh;
  d->s = g->sh;
  const int64_t pwid = (g->ow - 1) * d->s + d->k;
  d->pitch = pwid > g->pw + g->w ? pwid : g->pw + g->w;
  /* rows per band: as many as the scratch holds, balanced over the bands */
  const int64_t fit = (CNNRT_DWC8_CAP / d->pitch - d->k) / d->s + 1;
  if (CNNRT_DWC8_CAP / d->pitch < d->k || fit < 1) {
    return 0;
  }
  const int64_t bands = (g->oh + fit - 1) / fit;
  d->rows = (g->oh + bands - 1) / bands;
  d->prows = (d->rows - 1) * d->s + d->k;
  return d->prows * d->pitch <= CNNRT_DWC8_CAP;
}

/* Which shapes take this kernel: output planes up to CNNRT_DWC8_MAX_OW columns wide.
 * Measured (bench_dw_avx2.c "c8", Zen 3, AVX2, shared machine, median of 41 alternating
 * rounds, AVX2 plane kernel time / this one, three runs): 7x7 outputs 1.7-3.7 (ReLU6 3x3 s1
 * 3.2-3.7, SiLU 5x5 s1 1.6-2.3); 14x14 outputs 1.5-2.5 (stride 1), 2.4-4.0 (stride 2 from
 * 28x28); 28x28 outputs 1.04-1.5 (stride 1; 5x5 SiLU the lowest), 1.5-2.6 (stride 2 from
 * 56x56). 56x56 outputs 0.86-0.88 (3x3 s1) and 0.97-1.02 (s2 from 112x112): there the plane
 * kernel's rows fill its vectors and the two transposes do not pay. */
#define CNNRT_DWC8_MAX_OW 28
static inline int cnnrt_dwc8_selected(const cnnrt_conv_params *p) {
  cnnrt_dwc8_geom d;
  return cnnrt_dwc8_make_geom(p, &d) && d.g.ow <= CNNRT_DWC8_MAX_OW;
}

/* In-register transpose: v[i] lane j <-> v[j] lane i. The loops must unroll (GCC does not on
 * its own at -O2) or t, u and v live on the stack. */
static inline void cnnrt_dwc8_transpose(__m256 v[8]) {
  __m256 t[8], u[8];
  CNNRT_DWC8_UNROLL
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  CNNRT_DWC8_UNROLL
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  CNNRT_DWC8_UNROLL
  for (int i = 0; i < 4; i++) {
    v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

/* The in-register activations with a compile-time act each (cnnrt_f32_act_avx2's functions). */
static inline __m256 cnnrt_dwc8_act(int64_t act, __m256 alpha, __m256 beta, __m256 v) {
  switch (act) {
  case CNNRT_ACT_RELU:
    return cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, alpha, beta, v);
  case CNNRT_ACT_CLIP:
    return cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, alpha, beta, v);
  case CNNRT_ACT_SILU:
    return cnnrt_f32_act_avx2_ps(CNNRT_ACT_SILU, alpha, beta, v);
  case CNNRT_ACT_SIGMOID:
    return cnnrt_f32_act_avx2_ps(CNNRT_ACT_SIGMOID, alpha, beta, v);
  default: /* the others run as a pass over the planes afterwards (cnnrt_dwc8_act_inline) */
    return v;
  }
}

static inline int cnnrt_dwc8_act_inline(int64_t act) {
  return act == CNNRT_ACT_NONE || act == CNNRT_ACT_RELU || act == CNNRT_ACT_CLIP ||
         act == CNNRT_ACT_SILU || act == CNNRT_ACT_SIGMOID;
}

/* The taps of one group: acc[c] = bias + sum_{i,j} wp[i*K + j] * in(row i, column c*S + j),
 * src the scratch at the group's first row and column, rs the floats per padded row.
 * Each kernel row sweeps the row's (NP-1)*S + K input pixels once, every pixel feeding the taps
 * that use it: 7 accumulators + K weights + the pixel fit the 16 registers. (Written tap by tap,
 * GCC merges the repeated loads of a pixel itself and spills accumulators: ~1.3x slower.)
 * Each pixel's taps are still summed in (i, j) order. */
CNNRT_DW_AVX2_INLINE void cnnrt_dwc8_taps(int64_t K, int64_t S, const float *src, int64_t rs,
                                          const float *wp, __m256 vbias, __m256 *acc) {
  CNNRT_DWC8_UNROLL
  for (int64_t a = 0; a < CNNRT_DWC8_NP; a++) {
    acc[a] = vbias;
  }
  CNNRT_DWC8_UNROLL
  for (int64_t i = 0; i < K; i++) {
    __m256 wv[5];
    CNNRT_DWC8_UNROLL
    for (int64_t j = 0; j < K; j++) {
      wv[j] = _mm256_load_ps(wp + (i * K + j) * 8);
    }
    const float *row = src + i * rs;
    CNNRT_DWC8_UNROLL
    for (int64_t u = 0; u < (CNNRT_DWC8_NP - 1) * S + K; u++) {
      const __m256 in = _mm256_load_ps(row + u * 8);
      CNNRT_DWC8_UNROLL
      for (int64_t j = 0; j < K; j++) {
        const int64_t e = u - j; /* pixel c = e / S reads u through tap j */
        if (e >= 0 && e % S == 0 && e / S < CNNRT_DWC8_NP) {
          acc[e / S] = _mm256_fmadd_ps(in, wv[j], acc[e / S]);
        }
      }
    }
  }
}

/* One block of nl (1..8) consecutive channel planes of one image, every band of output rows.
 * tab[f]: where input pixel f of a band (flat, from its first row) goes in the scratch,
 * relative to that row's place. */
static inline void cnnrt_dwc8_block(const cnnrt_dwc8_geom *d, const float *x, const float *wp,
                                    __m256 vbias, const float *res, float *y, int64_t nl,
                                    int64_t act, float alpha, float beta, float *scratch,
                                    const int32_t *tab, int zero_each_band) {
  const cnnrt_dw_avx2_geom *g = &d->g;
  const int64_t in_plane = g->h * g->w, out_plane = g->oh * g->ow;
  const int64_t rs = d->pitch * 8;
  const __m256 valpha = _mm256_set1_ps(alpha), vbeta = _mm256_set1_ps(beta);
  const __m256i m7 = cnnrt_dw_avx2_mask(CNNRT_DWC8_NP);
  for (int64_t oy0 = 0; oy0 < g->oh; oy0 += d->rows) {
    const int64_t rb = g->oh - oy0 < d->rows ? g->oh - oy0 : d->rows;
    const int64_t prows = (rb - 1) * d->s + d->k;
    const int64_t iy0 = oy0 * d->s - g->ph; /* input row of padded row 0 */
    const int64_t iya = iy0 > 0 ? iy0 : 0;
    const int64_t iyb = iy0 + prows < g->h ? iy0 + prows : g->h;
    if (zero_each_band) { /* padded rows outside the plane (they held data in other bands) */
      for (int64_t pr = 0; pr < prows; pr++) {
        if (iy0 + pr < 0 || iy0 + pr >= g->h) {
          memset(scratch + pr * rs, 0, (size_t)rs * sizeof(float));
        }
      }
    }
    /* input rows [iya, iyb) of the 8 planes: flat runs of 8 pixels, transposed, each pixel
     * stored at its padded place (a table: no divisions, no branches) */
    const float *xs = x + iya * g->w;
    float *base = scratch + (iya - iy0) * rs;
    const int64_t nf = (iyb - iya) * g->w;
    for (int64_t f = 0; f < nf; f += 8) {
      const int64_t n = nf - f < 8 ? nf - f : 8;
      __m256 v[8];
      if (n == 8) {
        CNNRT_DWC8_UNROLL
        for (int64_t l = 0; l < 8; l++) {
          v[l] = l < nl ? _mm256_loadu_ps(xs + l * in_plane + f) : _mm256_setzero_ps();
        }
      } else {
        const __m256i m = cnnrt_dw_avx2_mask(n);
        CNNRT_DWC8_UNROLL
        for (int64_t l = 0; l < 8; l++) {
          v[l] = l < nl ? _mm256_maskload_ps(xs + l * in_plane + f, m) : _mm256_setzero_ps();
        }
      }
      cnnrt_dwc8_transpose(v);
      CNNRT_DWC8_UNROLL
      for (int64_t k = 0; k < 8; k++) {
        if (k >= n) {
          break;
        }
        _mm256_store_ps(base + tab[f + k], v[k]);
      }
    }
    for (int64_t oy = oy0; oy < oy0 + rb; oy++) {
      for (int64_t ox0 = 0; ox0 < g->ow; ox0 += CNNRT_DWC8_NP) {
        const float *src = scratch + (oy - oy0) * d->s * rs + ox0 * d->s * 8;
        __m256 acc[8];
        if (d->k == 3 && d->s == 1) {
          cnnrt_dwc8_taps(3, 1, src, rs, wp, vbias, acc);
        } else if (d->k == 3) {
          cnnrt_dwc8_taps(3, 2, src, rs, wp, vbias, acc);
        } else if (d->s == 1) {
          cnnrt_dwc8_taps(5, 1, src, rs, wp, vbias, acc);
        } else {
          cnnrt_dwc8_taps(5, 2, src, rs, wp, vbias, acc);
        }
        if (res == NULL) {
          CNNRT_DWC8_UNROLL
          for (int64_t a = 0; a < CNNRT_DWC8_NP; a++) {
            acc[a] = cnnrt_dwc8_act(act, valpha, vbeta, acc[a]);
          }
        }
        acc[CNNRT_DWC8_NP] = _mm256_setzero_ps();
        cnnrt_dwc8_transpose(acc); /* acc[l]: channel l, the group's 7 pixels in y's order */
        const int64_t off = oy * g->ow + ox0;
        if (off + CNNRT_DWC8_NP < out_plane) {
          /* The loops over acc[] are unrolled with constant indices so that acc stays in
           * registers (a run-time index puts the array on the stack: with the transpose's
           * arrays, measured 2-3x slower).
           * Whole-vector stores (vmaskmovps stores are microcoded and slow on Zen): lane 7
           * lands on the plane's next pixel, which a later group of the same plane
           * overwrites. With a residual that lane carries the residual itself, so an in-place
           * residual is unchanged until its own group reads it. */
          CNNRT_DWC8_UNROLL
          for (int64_t l = 0; l < 8; l++) {
            if (l >= nl) {
              break;
            }
            __m256 a = acc[l];
            if (res != NULL) {
              const __m256 r = _mm256_loadu_ps(res + l * out_plane + off);
              a = cnnrt_dwc8_act(act, valpha, vbeta, _mm256_add_ps(a, r));
              a = _mm256_blend_ps(a, r, 0x80);
            }
            _mm256_storeu_ps(y + l * out_plane + off, a);
          }
        } else { /* the plane's last group: lane 7 would be the next plane's first pixel */
          CNNRT_DWC8_UNROLL
          for (int64_t l = 0; l < 8; l++) {
            if (l >= nl) {
              break;
            }
            __m256 a = acc[l];
            if (res != NULL) { /* read before the same element of y is written */
              a = _mm256_add_ps(a, _mm256_maskload_ps(res + l * out_plane + off, m7));
              a = cnnrt_dwc8_act(act, valpha, vbeta, a);
            }
            _mm256_maskstore_ps(y + l * out_plane + off, m7, a);
          }
        }
      }
    }
  }
  if (!cnnrt_dwc8_act_inline(act)) {
    for (int64_t l = 0; l < nl; l++) {
      cnnrt_f32_act_avx2(act, alpha, beta, out_plane, y + l * out_plane, y + l * out_plane);
    }
  }
}

/* Planes [plane_begin, plane_end) (plane = b * c + ch) in blocks of 8 consecutive channels of
 * one image; reduce / reduced as cnnrt_f32_dwconv2d_avx2_range_reduce. The shape must pass
 * cnnrt_dwc8_make_geom. */
static inline void cnnrt_f32_dwconv2d_c8_avx2_range_reduce(
    const cnnrt_conv_params *p, const float *x, const float *w, const float *bias,
    const float *residual, float *y, int64_t plane_begin, int64_t plane_end,
    cnnrt_plane_reduce_fn reduce, float *reduced) {
  CNNRT_ASSERT(p->group == p->c_in && p->c_out == p->c_in);
  cnnrt_dwc8_geom d;
  if (!cnnrt_dwc8_make_geom(p, &d)) {
    CNNRT_ASSERT(0 && "shape not taken by the channel-vectorised kernel");
    return;
  }
  const int64_t in_plane = d.g.h * d.g.w, out_plane = d.g.oh * d.g.ow, kvol = d.k * d.k;
  const int64_t c = p->c_out;
  float buf[CNNRT_DWC8_CAP * 8 + 8];
  float wbuf[32 * 8 + 8]; /* 25 taps, written 8 at a time */
  float *scratch = (float *)(((uintptr_t)buf + 31u) & ~(uintptr_t)31u);
  float *wp = (float *)(((uintptr_t)wbuf + 31u) & ~(uintptr_t)31u);
  /* zeros everywhere once: the pad columns are never written, and with one band neither are
   * the pad rows; with several bands the rows outside the plane are zeroed per band */
  memset(scratch, 0, (size_t)(d.prows * d.pitch * 8) * sizeof(float));
  int32_t tab[CNNRT_DWC8_CAP]; /* a band's input pixels: at most prows * pitch */
  for (int64_t f = 0; f < d.prows * d.g.w; f++) {
    tab[f] = (int32_t)((f / d.g.w * d.pitch + f % d.g.w + d.g.pw) * 8);
  }
  const int zero_each_band = d.rows < d.g.oh;
  for (int64_t b0 = plane_begin; b0 < plane_end;) {
    const int64_t ch0 = b0 % c;
    int64_t nl = plane_end - b0 < 8 ? plane_end - b0 : 8;
    nl = c - ch0 < nl ? c - ch0 : nl; /* one image per block */
    /* weights [tap][8 channels]: the block's [channel][tap] rows transposed, 8 taps a time */
    for (int64_t t0 = 0; t0 < kvol; t0 += 8) {
      const int64_t nt = kvol - t0 < 8 ? kvol - t0 : 8;
      const __m256i tm = cnnrt_dw_avx2_mask(nt);
      __m256 v[8];
      for (int64_t l = 0; l < 8; l++) {
        v[l] = l < nl ? _mm256_maskload_ps(w + (ch0 + l) * kvol + t0, tm) : _mm256_setzero_ps();
      }
      cnnrt_dwc8_transpose(v);
      for (int64_t t = 0; t < nt; t++) {
        _mm256_store_ps(wp + (t0 + t) * 8, v[t]);
      }
    }
    const __m256 vbias =
        bias != NULL ? _mm256_maskload_ps(bias + ch0, cnnrt_dw_avx2_mask(nl)) : _mm256_setzero_ps();
    cnnrt_dwc8_block(&d, x + b0 * in_plane, wp, vbias,
                     residual != NULL ? residual + b0 * out_plane : NULL, y + b0 * out_plane, nl,
                     p->act, p->alpha, p->beta, scratch, tab, zero_each_band);
    if (reduce != NULL) {
      for (int64_t l = 0; l < nl; l++) {
        reduce(1, out_plane, y + (b0 + l) * out_plane, reduced + b0 + l);
      }
    }
    b0 += nl;
  }
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_DWCONV_C8_AVX2_H */
