/* cnnrt_dwconv_avx512.h — depthwise 2-D convolution, float32, NCHW, AVX-512F, stride 1.
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
 * kernel, so stride 2 stays there.
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

/* Planes [plane_begin, plane_end) of the n * c (batch, channel) planes (plane = b * c + ch):
 * the unit of work for threading. Shapes this kernel does not take run the AVX2 kernel. */
/* reduce / reduced: as cnnrt_f32_dwconv2d_avx2_range_reduce (each plane right after it is
 * written). */
static inline void cnnrt_f32_dwconv2d_avx512_range_reduce(const cnnrt_conv_params *p,
                                                          const float *x, const float *w,
                                                          const float *bias,
                                                          const float *residual, float *y,
                                                          int64_t plane_begin, int64_t plane_end,
                                                          cnnrt_plane_reduce_fn reduce,
                                                          float *reduced) {
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
