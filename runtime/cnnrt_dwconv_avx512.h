/* cnnrt_dwconv_avx512.h — depthwise 2-D convolution, float32, NCHW, AVX-512F: a plane kernel
 * (stride 1, below) and a channel-vectorised kernel (strides 1 and 2, further down).
 *
 * Same contract as cnnrt_f32_dwconv2d_avx2_range (cnnrt_dwconv_avx2.h): y[b, c] = act(bias[c] +
 * conv2d(x[b, c], w[c]) + residual[b, c]) per (batch, channel) plane. This kernel takes stride-1
 * layers of planes up to 32 columns wide (any kernel up to 64 taps, dilation, any padding); the
 * rest run the AVX2 kernel, which falls back to the reference in
 * turn. Compiled only under __AVX512F__ and not -DCNNRT_NO_AVX512.
 *
 * Why a second kernel: EfficientNet and MobileNet spend much of their depthwise time on 7x7 and
 * 14x14 planes, where the AVX2 kernel (one output row per vector, blocks of 4 rows) wastes most
 * of its lanes and pays per-row set-up for a few FMAs. Here a whole plane (or a band of rows of
 * a tall one) is computed as one flat 1-D convolution:
 *   - the input rows are copied into a zero-padded buffer with row pitch q = ow + (kw-1)*dw:
 *     padded row r holds input row r - ph from column pw on;
 *   - output (oy, ox) is flat index f = oy*q + ox, and tap (i, j) reads the buffer at
 *     f + i*dh*q + j*dw: every tap of 16 consecutive f is one unaligned load, whatever the rows;
 *   - the q - ow lanes per row that are not outputs are computed and dropped (4 of 11 for 5x5 at
 *     7x7, 2 of 58 for 3x3 at 56x56); the output lanes of each vector are compressed in a
 *     register (vcompressps) and stored consecutively, which is exactly y's order;
 *   - 8 vectors (128 outputs) are accumulated at a time (8 independent FMA chains: latency times
 *     the two FMA pipes), the tail (1-7 vectors) in one more pass over the taps; 3x3 and 5x5
 *     compile with the tap loop unrolled; residual and activation are applied in registers
 *     (SiLU / sigmoid as 16-lane functions; the rarer ones as a pass over the rows written);
 *   - whole planes are double-buffered: plane p + 1 is copied in before plane p is computed, so
 *     the tap loads, which straddle the copy's stores, never wait for them (store forwarding
 *     fails on such loads); when no pad is negative the copy is a masked load and an in-register
 *     vexpandps per 16 floats, from a lane map computed once per call.
 * Measured on Zen 5 (bench/kernels/bench_dw_avx2.c, loaded machine): 1.5-2.2x the AVX2 kernel
 * on 7x7, 14x14 and 28x28 stride-1 layers; equal or slower from 56x56 on (memory-bound), so
 * planes wider than CNNRT_DW512_MAX_OW columns stay with the AVX2 kernel. For stride 2 the same
 * scheme (the buffer split into column / row phases) measured 1.0-1.6x slower than the AVX2
 * kernel, so stride 2 stays with it -- or, up to CNNRT_DWC16_MAX_OW output columns, goes to the
 * channel-vectorised kernel below.
 * Stack: CNNRT_DW512_SCRATCH floats (32 KiB) and the lane maps (~12 KiB). */
#ifndef CNNRT_DWCONV_AVX512_H
#define CNNRT_DWCONV_AVX512_H

#include "cnnrt_dwconv_avx2.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_DW_AVX512 1

#define CNNRT_DW512_SCRATCH 8192 /* floats of stack buffer: padded planes and their slack */
#define CNNRT_DW512_MAX_TAPS 64  /* kh * kw handled by this kernel */
#define CNNRT_DW512_MAX_VECS 512 /* flat vectors per band */
/* Wider planes stay with the AVX2 kernel: inside EfficientNet its 56- and 112-column layers
 * measured 1.2-1.4x faster than this one (there the AVX2 kernel's lanes are full and the layer
 * is bound by memory, and this one's extra pass over the input does not pay). */
#define CNNRT_DW512_MAX_OW 32

typedef struct cnnrt_dw512_geom {
  cnnrt_dw_avx2_geom g; /* the 2-D view: h, w, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw */
  int64_t q;            /* floats per padded row = flat pitch of the output rows */
  int64_t rows;         /* output rows per band */
  int64_t prow;         /* padded input rows per band: rows + (kh-1)*dh */
  int64_t region;       /* floats of one buffer: prow * q and the zero slack, 16-aligned */
  int64_t nbuf;         /* 2: whole planes, the next one filled while this one is computed */
  int64_t expand_fill;  /* whole planes, stride 1, no cropping: fill by expanding loads */
  int64_t koff[CNNRT_DW512_MAX_TAPS]; /* tap i*kw + j: i*dh*q + j*dw */
} cnnrt_dw512_geom;

/* Floats of one buffer for bands of `rows` output rows: the padded rows, then q + 16 floats of
 * slack (read by the dropped lanes of the last vectors), rounded up to 16 (64 bytes). */
static inline int64_t cnnrt_dw512_region(int64_t rows, int64_t extra, int64_t q) {
  return ((rows + extra) * q + q + 16 + 15) / 16 * 16;
}

/* Fills g; returns 0 when the layer must take the AVX2 kernel instead. */
static inline int cnnrt_dw512_make_geom(const cnnrt_conv_params *p, cnnrt_dw512_geom *g) {
  if (!cnnrt_dw_avx2_make_geom(p, &g->g)) {
    return 0;
  }
  const cnnrt_dw_avx2_geom *d = &g->g;
  if (d->kh * d->kw > CNNRT_DW512_MAX_TAPS || d->oh < 1 || d->ow < 1 || d->sh != 1 ||
      d->sw != 1 || d->ow > CNNRT_DW512_MAX_OW) {
    return 0;
  }
  const int64_t q = d->ow + (d->kw - 1) * d->dw;
  const int64_t extra = (d->kh - 1) * d->dh;
  int64_t rows = d->oh;
  g->nbuf = 2;
  if (2 * cnnrt_dw512_region(rows, extra, q) > CNNRT_DW512_SCRATCH) {
    /* one buffer, bands of as many rows as fit, balanced */
    g->nbuf = 1;
    const int64_t avail = CNNRT_DW512_SCRATCH - 2 * 16 - q - extra * q;
    rows = avail > 0 ? avail / q : 0;
    if (rows < 1) {
      return 0;
    }
    const int64_t bands = (d->oh + rows - 1) / rows;
    rows = (d->oh + bands - 1) / bands;
  }
  if ((rows * q + 15) / 16 > CNNRT_DW512_MAX_VECS) {
    return 0;
  }
  g->q = q;
  g->rows = rows;
  g->prow = rows + extra;
  g->region = cnnrt_dw512_region(rows, extra, q);
  /* every input element lands in the padded plane, in order (no pad is negative) */
  g->expand_fill = g->nbuf == 2 && d->ph >= 0 && d->pw >= 0 &&
                   g->prow - d->ph >= d->h && q - d->pw >= d->w &&
                   (g->prow * q + 15) / 16 <= CNNRT_DW512_MAX_VECS;
  for (int64_t i = 0; i < d->kh; i++) {
    for (int64_t j = 0; j < d->kw; j++) {
      g->koff[i * d->kw + j] = i * d->dh * q + j * d->dw;
    }
  }
  return 1;
}

/* Where the vectors of a band of rb rows go: vector v (flat outputs 16v .. 16v+15) holds the
 * outputs of lanes mask[v] (column < ow, row < rb), which are consecutive in y from pos[v] on
 * (band-relative); store[v] has as many low lanes set. */
typedef struct cnnrt_dw512_map {
  int64_t nvec;
  uint16_t mask[CNNRT_DW512_MAX_VECS], store[CNNRT_DW512_MAX_VECS];
  int32_t pos[CNNRT_DW512_MAX_VECS];
} cnnrt_dw512_map;

static inline void cnnrt_dw512_make_map(const cnnrt_dw512_geom *g, int64_t rb,
                                        cnnrt_dw512_map *m) {
  const int64_t nf = rb * g->q, ow = g->g.ow, q = g->q;
  m->nvec = (nf + 15) / 16;
  int64_t col = 0, n = 0;
  for (int64_t v = 0; v < m->nvec; v++) {
    unsigned mk = 0, cnt = 0;
    for (int64_t l = 0; l < 16; l++) {
      if (16 * v + l < nf && col < ow) {
        mk |= 1u << l;
        cnt++;
      }
      col = col + 1 == q ? 0 : col + 1;
    }
    m->mask[v] = (uint16_t)mk;
    m->store[v] = (uint16_t)((1u << cnt) - 1u);
    m->pos[v] = (int32_t)n;
    n += cnt;
  }
}

/* Whether cnnrt_f32_dwconv2d_avx512_range takes the AVX-512 path for p (else the AVX2 kernel). */
static inline int cnnrt_f32_dwconv2d_avx512_fast(const cnnrt_conv_params *p) {
  cnnrt_dw512_geom g;
  return cnnrt_dw512_make_geom(p, &g);
}

/* Lanes [lo, hi) of 16 set (lo, hi clamped to [0, 16]). */
static inline __mmask16 cnnrt_dw512_range_mask(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
  hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
  if (hi <= lo) {
    return 0;
  }
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* 16 floats of row xrow (w columns) from column c: lanes outside [0, w) are 0 and not read. */
static inline __m512 cnnrt_dw512_load_cols(const float *xrow, int64_t c, int64_t w) {
  if (c >= 0 && c + 16 <= w) {
    return _mm512_loadu_ps(xrow + c);
  }
  const __mmask16 m = cnnrt_dw512_range_mask(-c, w - c);
  if (m == 0) {
    return _mm512_setzero_ps();
  }
  /* the address of lane 0 may lie outside the row; masked-off lanes are not accessed. Formed
   * as an integer so that no out-of-range pointer arithmetic happens in C. */
  const float *base = (const float *)((uintptr_t)xrow + (uintptr_t)(c * (int64_t)sizeof(float)));
  return _mm512_maskz_loadu_ps(m, base);
}

/* Stores the first n (1..16) lanes of v at dst. */
static inline void cnnrt_dw512_store_n(float *dst, int64_t n, __m512 v) {
  if (n >= 16) {
    _mm512_storeu_ps(dst, v);
  } else {
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1u), v);
  }
}

/* Padded row for input row ih (zeros when ih is outside the plane): element t = input column
 * t - pw, t in [0, q). */
static inline void cnnrt_dw512_fill_row(const cnnrt_dw512_geom *g, const float *x, int64_t ih,
                                        float *dst) {
  const int64_t q = g->q, w = g->g.w, pw = g->g.pw;
  if (ih < 0 || ih >= g->g.h) {
    for (int64_t t = 0; t < q; t += 16) {
      cnnrt_dw512_store_n(dst + t, q - t, _mm512_setzero_ps());
    }
    return;
  }
  const float *xrow = x + ih * w;
  for (int64_t t = 0; t < q; t += 16) {
    cnnrt_dw512_store_n(dst + t, q - t, cnnrt_dw512_load_cols(xrow, t - pw, w));
  }
}

static inline __m512 cnnrt_dw512_act(int64_t act, __m512 alpha, __m512 beta, __m512 v) {
  switch (act) {
  case CNNRT_ACT_RELU: /* v > 0 ? v : 0 (NaN gives 0, as cnnrt_f32_act_avx2_ps) */
    return _mm512_max_ps(v, _mm512_setzero_ps());
  case CNNRT_ACT_CLIP: /* v < alpha ? alpha : (v > beta ? beta : v) */
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, alpha, _CMP_LT_OQ), _mm512_min_ps(beta, v),
                                alpha);
  case CNNRT_ACT_SILU:
    return cnnrt_f32_silu_avx512_ps(v);
  case CNNRT_ACT_SIGMOID:
    return cnnrt_f32_sigmoid_avx512_ps(v);
  default: /* the others run as a pass over the band afterwards (cnnrt_dw512_act_inline) */
    return v;
  }
}

static inline int cnnrt_dw512_act_inline(int64_t act) {
  return act == CNNRT_ACT_NONE || act == CNNRT_ACT_RELU || act == CNNRT_ACT_CLIP ||
         act == CNNRT_ACT_SILU || act == CNNRT_ACT_SIGMOID;
}

/* What a band's vectors need besides the taps. */
typedef struct cnnrt_dw512_out {
  const uint16_t *mask, *store;
  const int32_t *pos;
  float *y;          /* the band's first output */
  const float *res;  /* its residual or NULL */
  int64_t act;
  __m512 vbias, valpha, vbeta;
} cnnrt_dw512_out;

/* NV vectors of 16 flat outputs, sum_t wk[t] * src[koff[t] + 16v + l] + bias, then residual and
 * activation, and the output lanes compressed (in registers) and stored consecutively into y.
 * With compile-time NV and NT everything unrolls and the NV accumulators stay in registers.
 * A residual element is read before the same element of y is written (y may be the residual). */
CNNRT_DW_AVX2_INLINE void cnnrt_dw512_vecs(int64_t NV, int64_t NT, const int64_t *koff,
                                           const float *wk, const float *src,
                                           const cnnrt_dw512_out *o, int64_t v0) {
  __m512 acc[8];
  for (int64_t v = 0; v < NV; v++) {
    acc[v] = o->vbias;
  }
  CNNRT_DW_AVX2_UNROLL
  for (int64_t t = 0; t < NT; t++) {
    const __m512 wv = _mm512_set1_ps(wk[t]);
    const float *s = src + koff[t];
    for (int64_t v = 0; v < NV; v++) {
      acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(s + 16 * v), wv, acc[v]);
    }
  }
  for (int64_t v = 0; v < NV; v++) {
    const __mmask16 m = (__mmask16)o->mask[v0 + v], st = (__mmask16)o->store[v0 + v];
    float *yo = o->y + o->pos[v0 + v];
    __m512 a = acc[v];
    if (o->res != NULL) {
      const __m512 r = _mm512_maskz_loadu_ps(st, o->res + o->pos[v0 + v]);
      a = _mm512_add_ps(a, _mm512_maskz_expand_ps(m, r));
    }
    a = cnnrt_dw512_act(o->act, o->valpha, o->vbeta, a);
    _mm512_mask_storeu_ps(yo, st, _mm512_maskz_compress_ps(m, a));
  }
}

/* The nvec vectors of a band: blocks of 8 (8 FMA chains: latency x pipes), then the rest. */
CNNRT_DW_AVX2_INLINE void cnnrt_dw512_band(int64_t NT, const int64_t *koff, const float *wk,
                                           const float *src, int64_t nvec,
                                           const cnnrt_dw512_out *o) {
  int64_t v = 0;
  for (; v + 8 <= nvec; v += 8) {
    cnnrt_dw512_vecs(8, NT, koff, wk, src + 16 * v, o, v);
  }
  /* the tail in one pass over the taps (a 7x7 plane is 4-5 vectors: all of it) */
  switch (nvec - v) {
  case 7:
    cnnrt_dw512_vecs(7, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 6:
    cnnrt_dw512_vecs(6, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 5:
    cnnrt_dw512_vecs(5, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 4:
    cnnrt_dw512_vecs(4, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 3:
    cnnrt_dw512_vecs(3, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 2:
    cnnrt_dw512_vecs(2, NT, koff, wk, src + 16 * v, o, v);
    break;
  case 1:
    cnnrt_dw512_vecs(1, NT, koff, wk, src + 16 * v, o, v);
    break;
  default:
    break;
  }
}

/* The expanding fill of a whole stride-1 plane (g->expand_fill): padded element f = r*q + t is
 * input element (r - ph, t - pw) when that lies in the plane, else 0; the plane's elements
 * arrive in order, so vector v of the buffer is the next popcount(mask[v]) floats of x, spread
 * over the lanes of mask[v] (a masked load and an in-register vexpandps, ~3 instructions per 16
 * floats instead of a row copy with its pads per row). */
static inline void cnnrt_dw512_make_fill_map(const cnnrt_dw512_geom *g, cnnrt_dw512_map *m) {
  const int64_t q = g->q, nf = g->prow * q; /* (prow * q + 15) / 16 vectors fit the region */
  m->nvec = (nf + 15) / 16;
  int64_t r = 0, t = 0, n = 0;
  for (int64_t v = 0; v < m->nvec; v++) {
    unsigned mk = 0, cnt = 0;
    for (int64_t l = 0; l < 16; l++) {
      if (16 * v + l < nf && r >= g->g.ph && r - g->g.ph < g->g.h && t >= g->g.pw &&
          t - g->g.pw < g->g.w) {
        mk |= 1u << l;
        cnt++;
      }
      if (++t == q) {
        t = 0;
        r++;
      }
    }
    m->mask[v] = (uint16_t)mk;
    m->store[v] = (uint16_t)((1u << cnt) - 1u);
    m->pos[v] = (int32_t)n;
    n += cnt;
  }
}

static inline void cnnrt_dw512_fill_expand(const cnnrt_dw512_map *m, const float *x, float *buf) {
  for (int64_t v = 0; v < m->nvec; v++) {
    const __m512 in = _mm512_maskz_loadu_ps((__mmask16)m->store[v], x + m->pos[v]);
    _mm512_store_ps(buf + 16 * v, _mm512_maskz_expand_ps((__mmask16)m->mask[v], in));
  }
}

/* The padded rows of the band of output rows from oy0 of plane x into buf: row r is input row
 * oy0 - ph + r. */
static inline void cnnrt_dw512_fill_band(const cnnrt_dw512_geom *g, const float *x, int64_t oy0,
                                         float *buf) {
  for (int64_t r = 0; r < g->prow; r++) {
    cnnrt_dw512_fill_row(g, x, oy0 - g->g.ph + r, buf + r * g->q);
  }
}

/* The band of rb output rows from oy0 of one plane, from its filled buffer. */
static inline void cnnrt_dw512_compute_band(const cnnrt_dw512_geom *g, const float *buf,
                                            const float *wk, float bias, const float *res,
                                            float *y, int64_t oy0, int64_t rb,
                                            const cnnrt_dw512_map *map, int64_t act, float alpha,
                                            float beta) {
  const int64_t ow = g->g.ow, ntap = g->g.kh * g->g.kw;
  cnnrt_dw512_out o;
  o.mask = map->mask;
  o.store = map->store;
  o.pos = map->pos;
  o.y = y + oy0 * ow;
  o.res = res != NULL ? res + oy0 * ow : NULL;
  o.act = act;
  o.vbias = _mm512_set1_ps(bias);
  o.valpha = _mm512_set1_ps(alpha);
  o.vbeta = _mm512_set1_ps(beta);
  if (ntap == 9) {
    cnnrt_dw512_band(9, g->koff, wk, buf, map->nvec, &o);
  } else if (ntap == 25) {
    cnnrt_dw512_band(25, g->koff, wk, buf, map->nvec, &o);
  } else {
    cnnrt_dw512_band(ntap, g->koff, wk, buf, map->nvec, &o);
  }
  if (!cnnrt_dw512_act_inline(act)) { /* on the rows just written, still in L1 */
    cnnrt_f32_act_avx2(act, alpha, beta, rb * ow, y + oy0 * ow, y + oy0 * ow);
  }
}

/* ---- Channel-vectorised kernel (the NCHWc idea on NCHW tensors) ------------------------------
 *
 * The plane kernel above vectorises along a plane's rows; a 7- or 14-pixel row fills half a
 * vector, and stride 2 would need de-interleaving. ONNX Runtime vectorises over channels
 * instead (NCHWc), which fills every lane whatever the plane width or stride. This kernel does
 * that on our NCHW tensors, 16 channel planes at a time:
 *   - the block's input rows are transposed (16x16 in registers) into a zero-padded scratch of
 *     [padded row][padded column][16 channels] (at most CNNRT_DWC16_CAP pixels: 32 KiB, in L1;
 *     taller planes run in bands of output rows);
 *   - the weights of the 16 channels are packed [tap][16] (144 / 400 floats, once per block);
 *   - a group of up to 16 output pixels (R whole rows of NP = 7 columns, or NP = 14 columns of
 *     one row) is 16 accumulators; every tap is one weight vector and one aligned load per
 *     pixel at a constant offset from the group's row pointers (K, S, NP, R compile-time);
 *   - the accumulators (bias-initialised) are transposed back into 16 channel vectors of the
 *     group's pixels, which are consecutive in y; residual and activation (SiLU as the 16-lane
 *     function) are applied there and stored with a mask;
 *   - a fused GlobalAveragePool reduces each plane of the block right after the block (the
 *     pool's own function on y, so bit-identical to the unfused graph).
 * Shapes: 3x3 and 5x5, stride 1 or 2 on both axes, no dilation, no negative leading pad, output
 * width 7 or a multiple of 14. Which of those take it is decided by measurement
 * (cnnrt_dwc16_selected). The activation is applied to the pixel vectors before the transpose
 * when there is no residual (fewer vectors), else after adding it. */

#define CNNRT_DWC16_CAP 512 /* padded pixels (x 16 channels) of scratch: 32 KiB */

#if defined(__clang__)
#define CNNRT_DWC16_UNROLL _Pragma("unroll 16")
#elif defined(__GNUC__)
#define CNNRT_DWC16_UNROLL _Pragma("GCC unroll 16")
#else
#define CNNRT_DWC16_UNROLL
#endif

typedef struct cnnrt_dwc16_geom {
  cnnrt_dw_avx2_geom g; /* the 2-D view */
  int64_t k, s;         /* square kernel, stride */
  int64_t np, r;        /* a group: r output rows x np columns (r * np <= 16) */
  int64_t pwid;         /* padded row read: (ow - 1) * s + k pixels */
  int64_t pitch;        /* pixels per padded row stored: pwid, or pw + w if more (crop) */
  int64_t rows;         /* output rows per band (a multiple of r unless the whole plane) */
  int64_t prows;        /* padded rows of the scratch: (rows rounded up to r - 1) * s + k */
} cnnrt_dwc16_geom;

/* Fills d; returns 0 when the shape is not one this kernel handles. */
static inline int cnnrt_dwc16_make_geom(const cnnrt_conv_params *p, cnnrt_dwc16_geom *d) {
  if (!cnnrt_dw_avx2_make_geom(p, &d->g)) {
    return 0;
  }
  const cnnrt_dw_avx2_geom *g = &d->g;
  if (g->kh != g->kw || (g->kh != 3 && g->kh != 5) || g->sh != g->sw || g->sh > 2 ||
      g->dh != 1 || g->dw != 1 || g->ph < 0 || g->pw < 0 || g->oh < 1 || g->ow < 1) {
    return 0;
  }
  d->k = g->kh;
  d->s = g->sh;
  if (g->ow == 7) {
    d->np = 7;
    d->r = 2;
  } else if (g->ow % 14 == 0) {
    d->np = 14;
    d->r = 1;
  } else {
    return 0;
  }
  d->pwid = (g->ow - 1) * d->s + d->k;
  d->pitch = d->pwid > g->pw + g->w ? d->pwid : g->pw + g->w;
  /* rows per band: as many groups of r rows as the scratch holds, balanced over the bands */
  const int64_t groups_fit = ((CNNRT_DWC16_CAP / d->pitch - d->k) / d->s + 1) / d->r;
  if (groups_fit < 1) {
    return 0;
  }
  const int64_t groups = (g->oh + d->r - 1) / d->r;
  const int64_t bands = (groups + groups_fit - 1) / groups_fit;
  d->rows = (groups + bands - 1) / bands * d->r;
  d->prows = (d->rows - 1) * d->s + d->k;
  return d->prows * d->pitch <= CNNRT_DWC16_CAP;
}

/* Which shapes take the channel-vectorised kernel: output planes up to 28 columns wide.
 * Measured (bench_dw_avx2.c "c16", Zen 5, loaded machine, median of 41 alternating rounds,
 * plane kernel time / this one, two runs): 7x7 outputs 1.38-1.67 (stride 1), 3.0-4.2 (stride
 * 2 from 14x14); 14x14 outputs 1.04-1.58 (stride 1), 2.1-2.6 (stride 2 from 28x28); 28x28
 * outputs 1.07-1.37 (stride 1 and 2). 56x56 outputs 0.99-1.03 and 112x112 0.74-0.85: there the
 * plane kernels' rows fill their vectors and the transposes do not pay. */
#define CNNRT_DWC16_MAX_OW 28
static inline int cnnrt_dwc16_selected(const cnnrt_conv_params *p) {
  cnnrt_dwc16_geom d;
  return cnnrt_dwc16_make_geom(p, &d) && d.g.ow <= CNNRT_DWC16_MAX_OW;
}

/* In-register transpose: v[i] lane j <-> v[j] lane i. */
static inline void cnnrt_dwc16_transpose(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    v[i + 1] =
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    v[i + 2] =
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    v[i + 3] =
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(v[h + i], v[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(v[h + i], v[h + i + 4], 0xdd);
    }
  }
  for (int i = 0; i < 8; i++) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

/* The taps of one group: acc[rr * NP + c] = bias + sum_{i,j} wp[i*K + j] * in(row (rr*S + i),
 * column (c*S + j)) where src is the scratch at the group's first row and column and rs the
 * floats per padded row. Everything but rs is a compile-time constant at the call sites. */
CNNRT_DW_AVX2_INLINE void cnnrt_dwc16_taps(int64_t K, int64_t S, int64_t NP, int64_t R,
                                           const float *src, int64_t rs, const float *wp,
                                           __m512 vbias, __m512 *acc) {
  for (int64_t a = 0; a < NP * R; a++) {
    acc[a] = vbias;
  }
  CNNRT_DW_AVX2_UNROLL
  for (int64_t i = 0; i < K; i++) {
    CNNRT_DW_AVX2_UNROLL
    for (int64_t j = 0; j < K; j++) {
      const __m512 wv = _mm512_load_ps(wp + (i * K + j) * 16);
      for (int64_t rr = 0; rr < R; rr++) {
        const float *q = src + (rr * S + i) * rs + j * 16;
        CNNRT_DWC16_UNROLL
        for (int64_t c = 0; c < NP; c++) {
          acc[rr * NP + c] = _mm512_fmadd_ps(_mm512_load_ps(q + c * S * 16), wv, acc[rr * NP + c]);
        }
      }
    }
  }
}

/* One block of nl (1..16) consecutive channel planes of one image, output rows of every band. */
/* tab[f]: where input pixel f of a band (flat, from its first row) goes in the scratch,
 * relative to that row's place. */
static inline void cnnrt_dwc16_block(const cnnrt_dwc16_geom *d, const float *x, const float *wp,
                                     __m512 vbias, const float *res, float *y, int64_t nl,
                                     int64_t act, float alpha, float beta, float *scratch,
                                     const int32_t *tab, int zero_each_band) {
  const cnnrt_dw_avx2_geom *g = &d->g;
  const int64_t in_plane = g->h * g->w, out_plane = g->oh * g->ow;
  const int64_t rs = d->pitch * 16;
  const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
  for (int64_t oy0 = 0; oy0 < g->oh; oy0 += d->rows) {
    const int64_t rb = g->oh - oy0 < d->rows ? g->oh - oy0 : d->rows;
    const int64_t rbc = (rb + d->r - 1) / d->r * d->r; /* rows computed */
    const int64_t prows = (rbc - 1) * d->s + d->k;
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
    /* input rows [iya, iyb) of the 16 planes: flat runs of 16 pixels, transposed, each pixel
     * stored at its padded place (a table: no divisions, no branches) */
    const float *xs = x + iya * g->w;
    float *base = scratch + (iya - iy0) * rs;
    const int64_t nf = (iyb - iya) * g->w;
    for (int64_t f = 0; f < nf; f += 16) {
      const int64_t n = nf - f < 16 ? nf - f : 16;
      const __mmask16 m = (__mmask16)((1u << n) - 1u);
      __m512 v[16];
      for (int64_t l = 0; l < 16; l++) {
        v[l] = l < nl ? _mm512_maskz_loadu_ps(m, xs + l * in_plane + f) : _mm512_setzero_ps();
      }
      cnnrt_dwc16_transpose(v);
      if (n == 16) {
        CNNRT_DWC16_UNROLL
        for (int64_t k = 0; k < 16; k++) {
          _mm512_store_ps(base + tab[f + k], v[k]);
        }
      } else {
        for (int64_t k = 0; k < n; k++) {
          _mm512_store_ps(base + tab[f + k], v[k]);
        }
      }
    }
    /* groups of r rows x np columns */
    for (int64_t oy = oy0; oy < oy0 + rbc; oy += d->r) {
      const int64_t nrows = oy0 + rb - oy < d->r ? oy0 + rb - oy : d->r; /* real rows */
      for (int64_t ox0 = 0; ox0 < g->ow; ox0 += d->np) {
        const float *src = scratch + (oy - oy0) * d->s * rs + ox0 * d->s * 16;
        __m512 acc[16];
        if (d->k == 3 && d->s == 1 && d->np == 7) {
          cnnrt_dwc16_taps(3, 1, 7, 2, src, rs, wp, vbias, acc);
        } else if (d->k == 3 && d->s == 2 && d->np == 7) {
          cnnrt_dwc16_taps(3, 2, 7, 2, src, rs, wp, vbias, acc);
        } else if (d->k == 5 && d->s == 1 && d->np == 7) {
          cnnrt_dwc16_taps(5, 1, 7, 2, src, rs, wp, vbias, acc);
        } else if (d->k == 5 && d->s == 2 && d->np == 7) {
          cnnrt_dwc16_taps(5, 2, 7, 2, src, rs, wp, vbias, acc);
        } else if (d->k == 3 && d->s == 1) {
          cnnrt_dwc16_taps(3, 1, 14, 1, src, rs, wp, vbias, acc);
        } else if (d->k == 3) {
          cnnrt_dwc16_taps(3, 2, 14, 1, src, rs, wp, vbias, acc);
        } else if (d->s == 1) {
          cnnrt_dwc16_taps(5, 1, 14, 1, src, rs, wp, vbias, acc);
        } else {
          cnnrt_dwc16_taps(5, 2, 14, 1, src, rs, wp, vbias, acc);
        }
        for (int64_t a = d->np * d->r; a < 16; a++) {
          acc[a] = _mm512_setzero_ps();
        }
        if (res == NULL) { /* the activation on the np * r pixel vectors, before the transpose:
                            * fewer vectors than the 16 channel vectors after it */
          for (int64_t a = 0; a < d->np * d->r; a++) {
            acc[a] = cnnrt_dw512_act(act, valpha, vbeta, acc[a]);
          }
        }
        cnnrt_dwc16_transpose(acc); /* acc[l]: channel l, the group's pixels in y's order */
        const int64_t npx = nrows * d->np; /* consecutive in y: whole rows, or one row's part */
        const __mmask16 m = (__mmask16)((1u << npx) - 1u);
        const int64_t off = oy * g->ow + ox0;
        for (int64_t l = 0; l < nl; l++) {
          __m512 a = acc[l];
          if (res != NULL) { /* read before the same element of y is written */
            a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, res + l * out_plane + off));
            a = cnnrt_dw512_act(act, valpha, vbeta, a);
          }
          _mm512_mask_storeu_ps(y + l * out_plane + off, m, a);
        }
      }
    }
  }
  if (!cnnrt_dw512_act_inline(act)) { /* the rarer activations: a pass over the block's planes */
    for (int64_t l = 0; l < nl; l++) {
      cnnrt_f32_act_avx2(act, alpha, beta, out_plane, y + l * out_plane, y + l * out_plane);
    }
  }
}

/* Planes [plane_begin, plane_end) (plane = b * c + ch) in blocks of 16 consecutive channels of
 * one image; reduce / reduced as cnnrt_f32_dwconv2d_avx2_range_reduce. The shape must pass
 * cnnrt_dwc16_make_geom. */
static inline void cnnrt_f32_dwconv2d_c16_avx512_range_reduce(
    const cnnrt_conv_params *p, const float *x, const float *w, const float *bias,
    const float *residual, float *y, int64_t plane_begin, int64_t plane_end,
    cnnrt_plane_reduce_fn reduce, float *reduced) {
  CNNRT_ASSERT(p->group == p->c_in && p->c_out == p->c_in);
  cnnrt_dwc16_geom d;
  if (!cnnrt_dwc16_make_geom(p, &d)) {
    CNNRT_ASSERT(0 && "shape not taken by the channel-vectorised kernel");
    return;
  }
  const int64_t in_plane = d.g.h * d.g.w, out_plane = d.g.oh * d.g.ow, kvol = d.k * d.k;
  const int64_t c = p->c_out;
  float buf[CNNRT_DWC16_CAP * 16 + 16];
  float wbuf[32 * 16 + 16]; /* 25 taps, written 16 at a time */
  float *scratch = (float *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
  float *wp = (float *)(((uintptr_t)wbuf + 63u) & ~(uintptr_t)63u);
  /* zeros everywhere once: the pad columns are never written, and with one band neither are
   * the pad rows; with several bands the rows outside the plane are zeroed per band */
  memset(scratch, 0, (size_t)(d.prows * d.pitch * 16) * sizeof(float));
  int32_t tab[CNNRT_DWC16_CAP]; /* a band's input pixels: at most prows * pitch */
  for (int64_t f = 0; f < d.prows * d.g.w; f++) {
    tab[f] = (int32_t)((f / d.g.w * d.pitch + f % d.g.w + d.g.pw) * 16);
  }
  const int zero_each_band = d.rows < d.g.oh;
  for (int64_t b0 = plane_begin; b0 < plane_end;) {
    const int64_t ch0 = b0 % c;
    int64_t nl = plane_end - b0 < 16 ? plane_end - b0 : 16;
    nl = c - ch0 < nl ? c - ch0 : nl; /* one image per block */
    /* weights [tap][16 channels]: the block's [channel][tap] rows transposed, 16 taps a time */
    for (int64_t t0 = 0; t0 < kvol; t0 += 16) {
      const int64_t nt = kvol - t0 < 16 ? kvol - t0 : 16;
      const __mmask16 tm = (__mmask16)((1u << nt) - 1u);
      __m512 v[16];
      for (int64_t l = 0; l < 16; l++) {
        v[l] = l < nl ? _mm512_maskz_loadu_ps(tm, w + (ch0 + l) * kvol + t0) : _mm512_setzero_ps();
      }
      cnnrt_dwc16_transpose(v);
      for (int64_t t = 0; t < nt; t++) {
        _mm512_store_ps(wp + (t0 + t) * 16, v[t]);
      }
    }
    const __mmask16 cm = (__mmask16)((1u << nl) - 1u);
    const __m512 vbias = bias != NULL ? _mm512_maskz_loadu_ps(cm, bias + ch0) : _mm512_setzero_ps();
    cnnrt_dwc16_block(&d, x + b0 * in_plane, wp, vbias,
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

/* Planes [plane_begin, plane_end) of the n * c (batch, channel) planes (plane = b * c + ch):
 * the unit of work for threading. Shapes this kernel does not take run the AVX2 kernel. */
/* reduce / reduced: as cnnrt_f32_dwconv2d_avx2_range_reduce (each plane right after it is
 * written). */
static inline void cnnrt_f32_dwconv2d_plane_avx512_range_reduce(
    const cnnrt_conv_params *p, const float *x, const float *w, const float *bias,
    const float *residual, float *y, int64_t plane_begin, int64_t plane_end,
    cnnrt_plane_reduce_fn reduce, float *reduced) {
  CNNRT_ASSERT(p->group == p->c_in && p->c_out == p->c_in);
  cnnrt_dw512_geom g;
  if (!cnnrt_dw512_make_geom(p, &g)) {
    cnnrt_f32_dwconv2d_avx2_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end,
                                         reduce, reduced);
    return;
  }
  const int64_t in_plane = g.g.h * g.g.w, out_plane = g.g.oh * g.g.ow, kvol = g.g.kh * g.g.kw;
  const int64_t c = p->c_out;
  float buf[CNNRT_DW512_SCRATCH + 16];
  float *scratch = (float *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
  /* The slack after the padded rows is read (into dropped lanes) but never written (only by
   * the expanding fill's last vector, with zeros): zeros, not NaNs or denormals that would slow
   * the FMAs down. */
  const int64_t used = g.prow * g.q;
  for (int64_t k = 0; k < g.nbuf; k++) {
    memset(scratch + k * g.region + used, 0, (size_t)(g.region - used) * sizeof(float));
  }
  /* output maps: full bands, and the last band when it is shorter */
  cnnrt_dw512_map maps[2];
  const int64_t last_rows = g.g.oh - (g.g.oh - 1) / g.rows * g.rows;
  cnnrt_dw512_make_map(&g, g.rows, &maps[0]);
  if (last_rows != g.rows) {
    cnnrt_dw512_make_map(&g, last_rows, &maps[1]);
  }
  const int64_t act = p->act;
  if (g.nbuf == 2) {
    /* Whole planes, double-buffered: plane pl + 1 is copied in before plane pl is computed, so
     * that the tap loads (which straddle the copy's stores) do not wait for those stores. */
    cnnrt_dw512_map fill_map;
    if (g.expand_fill) {
      cnnrt_dw512_make_fill_map(&g, &fill_map);
    }
    for (int64_t pl = plane_begin - 1; pl < plane_end; pl++) {
      if (pl + 1 < plane_end) { /* plane pl + 1 in, then plane pl out */
        float *next = scratch + ((pl + 1 - plane_begin) & 1) * g.region;
        if (g.expand_fill) {
          cnnrt_dw512_fill_expand(&fill_map, x + (pl + 1) * in_plane, next);
        } else {
          cnnrt_dw512_fill_band(&g, x + (pl + 1) * in_plane, 0, next);
        }
      }
      if (pl < plane_begin) {
        continue;
      }
      float *cur = scratch + ((pl - plane_begin) & 1) * g.region;
      const int64_t ch = pl % c;
      cnnrt_dw512_compute_band(&g, cur, w + ch * kvol, bias != NULL ? bias[ch] : 0.0f,
                               residual != NULL ? residual + pl * out_plane : NULL,
                               y + pl * out_plane, 0, g.g.oh, &maps[0], act, p->alpha, p->beta);
      if (reduce != NULL) {
        reduce(1, out_plane, y + pl * out_plane, reduced + pl);
      }
    }
    return;
  }
  for (int64_t pl = plane_begin; pl < plane_end; pl++) {
    const int64_t ch = pl % c;
    for (int64_t oy0 = 0; oy0 < g.g.oh; oy0 += g.rows) {
      const int64_t rb = g.g.oh - oy0 < g.rows ? g.g.oh - oy0 : g.rows;
      cnnrt_dw512_fill_band(&g, x + pl * in_plane, oy0, scratch);
      cnnrt_dw512_compute_band(&g, scratch, w + ch * kvol, bias != NULL ? bias[ch] : 0.0f,
                               residual != NULL ? residual + pl * out_plane : NULL,
                               y + pl * out_plane, oy0, rb, &maps[rb == g.rows ? 0 : 1], act,
                               p->alpha, p->beta);
    }
    if (reduce != NULL) {
      reduce(1, out_plane, y + pl * out_plane, reduced + pl);
    }
  }
}

/* The depthwise entry on AVX-512 builds: the channel-vectorised kernel for the shapes measured
 * faster there (cnnrt_dwc16_selected), else the plane kernel, which hands the shapes it does not
 * take to the AVX2 kernel. */
static inline void cnnrt_f32_dwconv2d_avx512_range_reduce(const cnnrt_conv_params *p,
                                                          const float *x, const float *w,
                                                          const float *bias,
                                                          const float *residual, float *y,
                                                          int64_t plane_begin, int64_t plane_end,
                                                          cnnrt_plane_reduce_fn reduce,
                                                          float *reduced) {
  if (cnnrt_dwc16_selected(p)) {
    cnnrt_f32_dwconv2d_c16_avx512_range_reduce(p, x, w, bias, residual, y, plane_begin,
                                               plane_end, reduce, reduced);
  } else {
    cnnrt_f32_dwconv2d_plane_avx512_range_reduce(p, x, w, bias, residual, y, plane_begin,
                                                 plane_end, reduce, reduced);
  }
}

static inline void cnnrt_f32_dwconv2d_avx512_range(const cnnrt_conv_params *p, const float *x,
                                                   const float *w, const float *bias,
                                                   const float *residual, float *y,
                                                   int64_t plane_begin, int64_t plane_end) {
  cnnrt_f32_dwconv2d_avx512_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end,
                                         NULL, NULL);
}

static inline void cnnrt_f32_dwconv2d_avx512(const cnnrt_conv_params *p, const float *x,
                                             const float *w, const float *bias,
                                             const float *residual, float *y) {
  cnnrt_f32_dwconv2d_avx512_range(p, x, w, bias, residual, y, 0, p->n * p->c_out);
}

#endif /* __AVX512F__ && !CNNRT_NO_AVX512 */
#endif /* CNNRT_DWCONV_AVX512_H */
