/* cnnrt_dwconv_avx2.h — depthwise 2-D convolution, float32, NCHW, AVX2 + FMA.
 *
 * y[b, c] = act(bias[c] + conv2d(x[b, c], w[c]) + residual[b, c]) for every (batch, channel)
 * plane: Conv with group == c_in == c_out (channel multiplier 1), any kernel size, any stride,
 * dilation and (asymmetric, even negative) padding; cnnrt_conv_params as for cnnrt_f32_conv_ref,
 * w [c, 1, kh, kw]. 1-D convs (spatial 1) run as one-row images.
 *
 * Algorithm (why it looks like this): output is computed as blocks of 4 output rows x 8
 * columns (one __m256 per row: four independent FMA chains), every tap being one broadcast
 * weight times one contiguous load. To make every tap a plain load whatever the padding or
 * stride, the input rows are first copied into a small stack buffer ("slots"), zero-padded on
 * both sides and, for stride s > 1, split into s phases (element t of phase q holds input column
 * q + s*t): output column o, tap kw then reads phase (kw*dil) % s at offset o + (kw*dil) / s,
 * consecutive for consecutive o. The deinterleave is paid once per input row instead of once
 * per tap and output vector. Measured (bench_dw_avx2.c "s2"): gathers are ~4x slower on Zen 4;
 * per-tap vshufps straight from x is up to ~25% faster on the interior of large planes but
 * would need separate border code.
 * Slots form a ring over the rows a block spans plus the rows of the next block, which are
 * copied one block ahead (a load straddling two just-issued stores cannot be store-forwarded).
 * Kernel rows that fall in the vertical padding point at a zero slot. The inner loop has no
 * borders and no branches; the last partial vector of a row uses a masked residual load and a
 * masked store. 3x3 and 5x5 with stride 1 or 2 (both axes) and no dilation are compiled with
 * every loop bound and tap offset constant (fully unrolled, slot pointer + displacement
 * addressing, loads shared between the 4 rows merged); other shapes run the same code with
 * run-time bounds. RELU and CLIP (ReLU6) are applied in registers before the store, the other
 * activations as a pass over the block's rows while they are in L1. Stack use:
 * CNNRT_DW_AVX2_SCRATCH floats (16 KiB); wide rows are processed in strips of output columns.
 *
 * Fallback: shapes the buffer cannot hold (more than CNNRT_DW_AVX2_MAX_K taps per axis, a
 * block spanning more than CNNRT_DW_AVX2_MAX_RING input rows, a dilated kernel spanning
 * hundreds of columns) and real 3-D convs run cnnrt_f32_conv_ref plane by plane;
 * cnnrt_f32_dwconv2d_avx2_fast(p) tells which path a layer takes.
 *
 * Aliasing: y must not alias x, w or bias; y may be the residual buffer itself (each residual
 * element is read before the same element of y is written).
 * Epilogue: cnnrt_f32_act_avx2_ps (cnnrt_act_avx2.h), cnnrt_apply_act semantics. */
#ifndef CNNRT_DWCONV_AVX2_H
#define CNNRT_DWCONV_AVX2_H

#include "cnnrt.h"
#include "cnnrt_act_avx2.h"
#include "cnnrt_conv.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define CNNRT_DW_AVX2_SCRATCH 4096 /* floats of stack buffer for padded input rows */
#define CNNRT_DW_AVX2_MAX_K 64     /* taps per axis handled by the fast path */
#define CNNRT_DW_AVX2_MAX_RING 128 /* input rows one block of output rows may span */
#define CNNRT_DW_AVX2_ROWS 4       /* output rows computed together */

/* The block kernel must be inlined into each call site with constant kernel sizes, or the tap
 * loops stay generic (measured: 2x slower); compilers decline on their own because it is big. */
#if defined(__GNUC__)
#define CNNRT_DW_AVX2_INLINE static inline __attribute__((always_inline))
#else
#define CNNRT_DW_AVX2_INLINE static inline
#endif
/* Full unrolling of the tap loops when their trip counts are compile-time constants. */
#if defined(__clang__)
#define CNNRT_DW_AVX2_UNROLL _Pragma("unroll 8")
#elif defined(__GNUC__)
#define CNNRT_DW_AVX2_UNROLL _Pragma("GCC unroll 8")
#else
#define CNNRT_DW_AVX2_UNROLL
#endif

/* The 2-D view of a (1-, 2- or degenerate 3-D) depthwise conv, and the buffer layout. */
typedef struct cnnrt_dw_avx2_geom {
  int64_t h, w, oh, ow;   /* input and output plane */
  int64_t kh, kw;         /* kernel */
  int64_t sh, sw, dh, dw; /* strides, dilations */
  int64_t ph, pw;         /* leading pads */
  int64_t window;         /* input rows spanned by a block of ROWS output rows */
  int64_t ring;           /* slots: the window and the ROWS * sh rows filled ahead */
  int64_t nv;             /* output vectors (8 columns) per strip */
  int64_t pitch;          /* floats per phase of a slot */
  int64_t kind;           /* CNNRT_DW_AVX2_K*: which compiled block kernel */
} cnnrt_dw_avx2_geom;

/* Block kernels with everything compile-time (kernel, strides, dilation 1 and the slot pitch,
 * so every tap address is a slot pointer plus a constant), and the generic one. */
enum {
  CNNRT_DW_AVX2_KGEN = 0,
  CNNRT_DW_AVX2_K3S1,
  CNNRT_DW_AVX2_K3S2,
  CNNRT_DW_AVX2_K5S1,
  CNNRT_DW_AVX2_K5S2
};
#define CNNRT_DW_AVX2_PITCH_S1 152 /* = pitch for 16 vectors, kspan <= 4 */
#define CNNRT_DW_AVX2_PITCH_S2 88  /* = pitch for 8 vectors, kspan <= 2 */

/* Floats per phase of a slot for a strip of nv vectors: a front margin of 8 (for the whole-vector
 * zero stores of the left padding), the columns read (8 nv + kspan) rounded up to 8, and 8 more
 * for the whole-vector stores at the right end. Element 0 of a phase sits at offset 8. */
static inline int64_t cnnrt_dw_avx2_pitch(const cnnrt_dw_avx2_geom *g, int64_t nv) {
  return 8 + (8 * nv + ((g->kw - 1) * g->dw) / g->sw + 7) / 8 * 8 + 8;
}

/* Fills g; returns 0 when the layer needs the reference fallback. */
static inline int cnnrt_dw_avx2_make_geom(const cnnrt_conv_params *p, cnnrt_dw_avx2_geom *g) {
  int64_t a = 0; /* index of the row axis in p's arrays; the column axis is a + 1 */
  if (p->spatial == 1) {
    g->h = g->oh = g->kh = g->sh = g->dh = 1;
    g->ph = 0;
    a = -1;
  } else if (p->spatial == 2) {
    a = 0;
  } else if (p->spatial == 3 && p->in[0] == 1 && p->out[0] == 1 && p->kernel[0] == 1 &&
             p->pad_begin[0] == 0) {
    a = 1; /* a 2-D conv written as 3-D: the depth axis maps output 0 to input 0 */
  } else {
    return 0;
  }
  if (a >= 0) {
    g->h = p->in[a];
    g->oh = p->out[a];
    g->kh = p->kernel[a];
    g->sh = p->stride[a];
    g->dh = p->dilation[a];
    g->ph = p->pad_begin[a];
  }
  g->w = p->in[a + 1];
  g->ow = p->out[a + 1];
  g->kw = p->kernel[a + 1];
  g->sw = p->stride[a + 1];
  g->dw = p->dilation[a + 1];
  g->pw = p->pad_begin[a + 1];
  if (g->kh < 1 || g->kw < 1 || g->kh > CNNRT_DW_AVX2_MAX_K || g->kw > CNNRT_DW_AVX2_MAX_K ||
      g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1) {
    return 0;
  }
  g->window = (CNNRT_DW_AVX2_ROWS - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  g->ring = g->window + CNNRT_DW_AVX2_ROWS * g->sh;
  if (g->window > CNNRT_DW_AVX2_MAX_RING) {
    return 0;
  }
  g->kind = CNNRT_DW_AVX2_KGEN;
  if (g->dh == 1 && g->dw == 1 && g->sh == g->sw && g->sh <= 2 && g->kh == g->kw &&
      (g->kh == 3 || g->kh == 5)) {
    g->kind = g->kh == 3 ? (g->sh == 1 ? CNNRT_DW_AVX2_K3S1 : CNNRT_DW_AVX2_K3S2)
                         : (g->sh == 1 ? CNNRT_DW_AVX2_K5S1 : CNNRT_DW_AVX2_K5S2);
  }
  /* ring slots + one zero slot, each sw phases of pitch floats */
  const int64_t per_phase = CNNRT_DW_AVX2_SCRATCH / ((g->ring + 1) * g->sw);
  int64_t nv_max = (per_phase - 23 - ((g->kw - 1) * g->dw) / g->sw) / 8;
  if (g->kind != CNNRT_DW_AVX2_KGEN) { /* the fixed pitch (fits: ring + 1 <= 20 slots) */
    nv_max = g->sw == 1 ? 16 : 8;
  }
  if (nv_max < 1) {
    return 0;
  }
  const int64_t nvec = (g->ow + 7) / 8;
  const int64_t strips = (nvec + nv_max - 1) / nv_max;
  g->nv = strips > 0 ? (nvec + strips - 1) / strips : 1; /* balanced strips */
  g->pitch = g->kind == CNNRT_DW_AVX2_KGEN ? cnnrt_dw_avx2_pitch(g, g->nv)
                                           : (g->sw == 1 ? CNNRT_DW_AVX2_PITCH_S1
                                                         : CNNRT_DW_AVX2_PITCH_S2);
  return 1;
}

/* Whether cnnrt_f32_dwconv2d_avx2 runs its vector path for p (else the reference per plane). */
static inline int cnnrt_f32_dwconv2d_avx2_fast(const cnnrt_conv_params *p) {
  cnnrt_dw_avx2_geom g;
  return cnnrt_dw_avx2_make_geom(p, &g);
}

/* Lanes [0, n) set. */
static inline __m256i cnnrt_dw_avx2_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 8 floats, or the lanes of `mask` only when part (the last, partial vector of a row). */
static inline __m256 cnnrt_dw_avx2_load_part(const float *p, int part, __m256i mask) {
  return part ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

/* x[c .. c+8), lanes past the end of the row (column w) read as 0; c >= 0. */
static inline __m256 cnnrt_dw_avx2_load_row(const float *xrow, int64_t c, int64_t w) {
  if (c + 8 <= w) {
    return _mm256_loadu_ps(xrow + c);
  }
  if (c >= w) {
    return _mm256_setzero_ps();
  }
  return _mm256_maskload_ps(xrow + c, cnnrt_dw_avx2_mask(w - c));
}

/* Zeros at ph[t] for t in [t_end - 8k, t_end), down to t > -8 (the front margin). The usual
 * pad (< 8) takes one store; the loop (which compilers turn into a memset call) only wider. */
static inline void cnnrt_dw_avx2_zero_left(float *ph, int64_t t_end) {
  if (t_end > 0) {
    _mm256_storeu_ps(ph + t_end - 8, _mm256_setzero_ps());
  }
  for (int64_t t = t_end - 16; t > -8; t -= 8) {
    _mm256_storeu_ps(ph + t, _mm256_setzero_ps());
  }
}

/* Slot for one input row: phase q at slot + q * pitch (element 0 at that pointer; 8 floats of
 * margin before it), element t = input column col0 + q + sw * t, 0 outside the row, t < len.
 * The left padding is stored as whole zero vectors ending at the first column inside the row,
 * so the row itself is read with plain loads from its start (a masked load only at its end).
 * Vector code, no library calls: rows are short and a call would cost more than the copy. */
static inline void cnnrt_dw_avx2_fill(float *slot, int64_t len, int64_t pitch, int64_t sw,
                                      const float *xrow, int64_t w, int64_t col0) {
  if (sw == 1) {
    int64_t t0 = col0 < 0 ? -col0 : 0; /* first element inside the row */
    t0 = t0 < len ? t0 : len;
    cnnrt_dw_avx2_zero_left(slot, t0);
    int64_t t = t0;
    const int64_t t_in = w - col0 - 7 < len ? w - col0 - 7 : len; /* t < t_in: 8 inside */
    for (; t < t_in; t += 8) {
      _mm256_storeu_ps(slot + t, _mm256_loadu_ps(xrow + col0 + t));
    }
    for (; t < len; t += 8) {
      _mm256_storeu_ps(slot + t, cnnrt_dw_avx2_load_row(xrow, col0 + t, w));
    }
  } else if (sw == 2) {
    /* Both phases from 16 consecutive columns: vshufps picks the even / odd ones within each
     * 128-bit lane and vpermpd puts the lanes in order. */
    float *p0 = slot, *p1 = slot + pitch;
    int64_t t0 = col0 < 0 ? (1 - col0) / 2 : 0; /* first t with column col0 + 2t >= 0 */
    t0 = t0 < len ? t0 : len;
    cnnrt_dw_avx2_zero_left(p0, t0);
    cnnrt_dw_avx2_zero_left(p1, t0);
    if (t0 > 0 && col0 + 2 * t0 == 1) {
      p1[t0 - 1] = xrow[0]; /* phase 1 reaches column 0 one element before phase 0 */
    }
    for (int64_t t = t0; t < len; t += 8) {
      const int64_t c = col0 + 2 * t;
      __m256 a, b;
      if (c + 16 <= w) { /* inside the row (the common case) */
        a = _mm256_loadu_ps(xrow + c);
        b = _mm256_loadu_ps(xrow + c + 8);
      } else {
        a = cnnrt_dw_avx2_load_row(xrow, c, w);
        b = cnnrt_dw_avx2_load_row(xrow, c + 8, w);
      }
      const __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 | a4.. */
      const __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
      _mm256_storeu_ps(p0 + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev),
                                                                      _MM_SHUFFLE(3, 1, 2, 0))));
      _mm256_storeu_ps(p1 + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od),
                                                                      _MM_SHUFFLE(3, 1, 2, 0))));
    }
  } else { /* larger strides are rare: element by element */
    for (int64_t q = 0; q < sw; q++) {
      float *ph = slot + q * pitch;
      int64_t l, h;
      cnnrt_conv_range(len, w, sw, col0 + q, &l, &h);
      for (int64_t t = 0; t < len; t++) {
        ph[t] = (t >= l && t < h) ? xrow[col0 + q + t * sw] : 0.0f;
      }
    }
  }
}

/* A block of ROWS output rows, columns [0, owt) of a strip:
 *   y_r[o] = bias + res_r[o] + sum_{i,j} wk[i*KW + j] * in[r*SH + i*DH][koff[j] + o]
 * in[] are the slots of the consecutive input rows the block spans (the zero slot for padding
 * rows). Rows r >= rb are computed (from the zero slot) but not stored. Four independent
 * accumulator chains; with compile-time KH, KW, SH, DH and koff the tap loops unroll
 * completely, every load is a slot pointer + constant, and the loads that two rows share
 * (stride 1: row r tap i = row r+1 tap i-1) are merged by the compiler. Weights are broadcast
 * from memory at each use (one load; hoisting them into registers measured no faster). */
CNNRT_DW_AVX2_INLINE void cnnrt_dw_avx2_block(int64_t KH, int64_t KW, int64_t SH, int64_t DH,
                                       const float *const *in, const int64_t *koff,
                                       const float *restrict wk, int64_t owt, int64_t rb,
                                       __m256 vbias, const float *const *res, float *const *yr,
                                       int64_t act, __m256 valpha, __m256 vbeta) {
  const __m256i tail = cnnrt_dw_avx2_mask(owt % 8);
  for (int64_t o = 0; o < owt; o += 8) {
    const int part = o + 8 > owt;
    __m256 a0 = vbias, a1 = vbias, a2 = vbias, a3 = vbias;
    if (res != NULL) { /* read before the same elements of y are written (in-place residual) */
      a0 = _mm256_add_ps(a0, cnnrt_dw_avx2_load_part(res[0] + o, part, tail));
      if (rb > 1) {
        a1 = _mm256_add_ps(a1, cnnrt_dw_avx2_load_part(res[1] + o, part, tail));
      }
      if (rb > 2) {
        a2 = _mm256_add_ps(a2, cnnrt_dw_avx2_load_part(res[2] + o, part, tail));
      }
      if (rb > 3) {
        a3 = _mm256_add_ps(a3, cnnrt_dw_avx2_load_part(res[3] + o, part, tail));
      }
    }
    CNNRT_DW_AVX2_UNROLL
    for (int64_t i = 0; i < KH; i++) {
      const float *p0 = in[i * DH] + o;
      const float *p1 = in[SH + i * DH] + o;
      const float *p2 = in[2 * SH + i * DH] + o;
      const float *p3 = in[3 * SH + i * DH] + o;
      CNNRT_DW_AVX2_UNROLL
      for (int64_t j = 0; j < KW; j++) {
        const __m256 wv = _mm256_set1_ps(wk[i * KW + j]);
        const int64_t k = koff[j];
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p0 + k), wv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p1 + k), wv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p2 + k), wv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(p3 + k), wv, a3);
      }
    }
    /* The cheap activations here, exactly as cnnrt_apply_act (one well-predicted branch per
     * four vectors); the others run as a pass over the rows afterwards. */
    if (act == CNNRT_ACT_RELU) {
      a0 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, valpha, vbeta, a0);
      a1 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, valpha, vbeta, a1);
      a2 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, valpha, vbeta, a2);
      a3 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_RELU, valpha, vbeta, a3);
    } else if (act == CNNRT_ACT_CLIP) {
      a0 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, valpha, vbeta, a0);
      a1 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, valpha, vbeta, a1);
      a2 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, valpha, vbeta, a2);
      a3 = cnnrt_f32_act_avx2_ps(CNNRT_ACT_CLIP, valpha, vbeta, a3);
    }
    if (part) {
      _mm256_maskstore_ps(yr[0] + o, tail, a0);
      if (rb > 1) {
        _mm256_maskstore_ps(yr[1] + o, tail, a1);
      }
      if (rb > 2) {
        _mm256_maskstore_ps(yr[2] + o, tail, a2);
      }
      if (rb > 3) {
        _mm256_maskstore_ps(yr[3] + o, tail, a3);
      }
    } else {
      _mm256_storeu_ps(yr[0] + o, a0);
      if (rb > 1) {
        _mm256_storeu_ps(yr[1] + o, a1);
      }
      if (rb > 2) {
        _mm256_storeu_ps(yr[2] + o, a2);
      }
      if (rb > 3) {
        _mm256_storeu_ps(yr[3] + o, a3);
      }
    }
  }
}

/* One (batch, channel) plane through the vector path. scratch: CNNRT_DW_AVX2_SCRATCH floats,
 * 32-byte aligned. */
static inline void cnnrt_dw_avx2_plane(const cnnrt_dw_avx2_geom *g, const float *x,
                                       const float *wk, float bias, const float *res, float *y,
                                       int64_t act, float alpha, float beta, float *scratch) {
  const __m256 vbias = _mm256_set1_ps(bias);
  const __m256 valpha = _mm256_set1_ps(alpha), vbeta = _mm256_set1_ps(beta);
  const int64_t R = CNNRT_DW_AVX2_ROWS;
  const float *in[CNNRT_DW_AVX2_MAX_RING];
  int64_t koff[CNNRT_DW_AVX2_MAX_K];
  for (int64_t ow0 = 0; ow0 < g->ow; ow0 += 8 * g->nv) {
    const int64_t owt = g->ow - ow0 < 8 * g->nv ? g->ow - ow0 : 8 * g->nv;
    const int64_t nvs = (owt + 7) / 8;
    const int64_t len = 8 * nvs + ((g->kw - 1) * g->dw) / g->sw; /* elements read per phase */
    const int64_t pitch = g->pitch;
    const int64_t slot_size = g->sw * pitch;
    const float *zero_slot = scratch + CNNRT_DW_AVX2_SCRATCH - slot_size + 8; /* zeroed by caller */
    /* tap j reads phase (j*dw) % sw at shift (j*dw) / sw; stepped without divisions, which
     * would cost more than a whole 7x7 plane's arithmetic */
    for (int64_t j = 0, q = 0, sft = 0; j < g->kw; j++) {
      koff[j] = q * pitch + sft;
      for (q += g->dw; q >= g->sw; q -= g->sw) {
        sft++;
      }
    }
    const int64_t col0 = ow0 * g->sw - g->pw; /* input column of phase 0, element 0 */
    int64_t next_row = INT64_MIN; /* input rows below this are filled (or not needed) */
    int64_t pos0 = 0;             /* ring slot of the block's first input row ih0 */
    for (int64_t oy = 0; oy < g->oh; oy += R) {
      const int64_t rb = g->oh - oy < R ? g->oh - oy : R;
      const int64_t ih0 = oy * g->sh - g->ph;
      const int64_t jreal = (rb - 1) * g->sh + (g->kh - 1) * g->dh; /* last row real rows use */
      /* Fill this block's window and the next block's new rows: those are stored now and read
       * a block later (read right away, the kernel's loads, which straddle two of the fill's
       * vector stores, cannot be store-forwarded and wait for the stores to retire; a small
       * measured gain). Slot of row ih: pos0 + (ih - ih0), modulo ring. */
      const int64_t fill_end = ih0 + g->ring < g->h ? ih0 + g->ring : g->h;
      for (int64_t ih = next_row > ih0 ? next_row : ih0; ih < fill_end; ih++) {
        if (ih >= 0) {
          int64_t pos = pos0 + (ih - ih0);
          pos = pos >= g->ring ? pos - g->ring : pos;
          cnnrt_dw_avx2_fill(scratch + pos * slot_size + 8, len, pitch, g->sw, x + ih * g->w,
                             g->w, col0);
        }
      }
      next_row = ih0 + g->ring;
      int64_t pos = pos0;
      for (int64_t j = 0; j < g->window; j++) {
        const int64_t ih = ih0 + j;
        in[j] = (ih >= 0 && ih < g->h && j <= jreal) ? scratch + pos * slot_size + 8 : zero_slot;
        pos = pos + 1 == g->ring ? 0 : pos + 1;
      }
      for (pos0 += R * g->sh; pos0 >= g->ring; pos0 -= g->ring) {
      }
      const float *rr[CNNRT_DW_AVX2_ROWS];
      float *yy[CNNRT_DW_AVX2_ROWS];
      for (int64_t r = 0; r < R; r++) {
        const int64_t off = (oy + (r < rb ? r : 0)) * g->ow + ow0;
        rr[r] = res != NULL ? res + off : NULL;
        yy[r] = y + off;
      }
      const float *const *rp = res != NULL ? rr : NULL;
      /* tap offsets (phase * pitch + shift): constants in the compiled kernels */
      static const int64_t ko3s1[3] = {0, 1, 2};
      static const int64_t ko5s1[5] = {0, 1, 2, 3, 4};
      static const int64_t ko3s2[3] = {0, CNNRT_DW_AVX2_PITCH_S2, 1};
      static const int64_t ko5s2[5] = {0, CNNRT_DW_AVX2_PITCH_S2, 1, CNNRT_DW_AVX2_PITCH_S2 + 1, 2};
      switch (g->kind) {
      case CNNRT_DW_AVX2_K3S1:
        cnnrt_dw_avx2_block(3, 3, 1, 1, in, ko3s1, wk, owt, rb, vbias, rp, yy, act, valpha, vbeta);
        break;
      case CNNRT_DW_AVX2_K3S2:
        cnnrt_dw_avx2_block(3, 3, 2, 1, in, ko3s2, wk, owt, rb, vbias, rp, yy, act, valpha, vbeta);
        break;
      case CNNRT_DW_AVX2_K5S1:
        cnnrt_dw_avx2_block(5, 5, 1, 1, in, ko5s1, wk, owt, rb, vbias, rp, yy, act, valpha, vbeta);
        break;
      case CNNRT_DW_AVX2_K5S2:
        cnnrt_dw_avx2_block(5, 5, 2, 1, in, ko5s2, wk, owt, rb, vbias, rp, yy, act, valpha, vbeta);
        break;
      default:
        cnnrt_dw_avx2_block(g->kh, g->kw, g->sh, g->dh, in, koff, wk, owt, rb, vbias, rp, yy, act,
                            valpha, vbeta);
        break;
      }
      if (act != CNNRT_ACT_NONE && act != CNNRT_ACT_RELU && act != CNNRT_ACT_CLIP) {
        /* on the rows just written, still in L1 */
        if (owt == g->ow) { /* whole rows: one contiguous run */
          cnnrt_f32_act_avx2(act, alpha, beta, rb * owt, yy[0], yy[0]);
        } else {
          for (int64_t r = 0; r < rb; r++) {
            cnnrt_f32_act_avx2(act, alpha, beta, owt, yy[r], yy[r]);
          }
        }
      }
    }
  }
}

/* Planes [plane_begin, plane_end) of the n * c (batch, channel) planes, plane = b * c + ch:
 * the unit of work for threading (disjoint ranges may run concurrently). With reduce (NULL:
 * none), reduced[plane] = reduce(the plane of y) right after the plane is written, while it is
 * in cache: a GlobalAveragePool fused into the convolution (compiler/passes/fuse.c). */
static inline void cnnrt_f32_dwconv2d_avx2_range_reduce(const cnnrt_conv_params *p,
                                                        const float *x, const float *w,
                                                        const float *bias,
                                                        const float *residual, float *y,
                                                        int64_t plane_begin, int64_t plane_end,
                                                        cnnrt_plane_reduce_fn reduce,
                                                        float *reduced) {
  CNNRT_ASSERT(p->group == p->c_in && p->c_out == p->c_in);
  const int64_t sp = p->spatial < 1 ? 1 : (p->spatial > 3 ? 3 : p->spatial);
  int64_t in_plane = 1, out_plane = 1, kvol = 1;
  for (int64_t a = 0; a < sp; a++) {
    in_plane *= p->in[a];
    out_plane *= p->out[a];
    kvol *= p->kernel[a];
  }
  const int64_t c = p->c_out;
  cnnrt_dw_avx2_geom g;
  if (!cnnrt_dw_avx2_make_geom(p, &g)) {
    cnnrt_conv_params q = *p; /* one plane = a 1-channel conv */
    q.n = q.c_in = q.c_out = q.group = 1;
    for (int64_t pl = plane_begin; pl < plane_end; pl++) {
      const int64_t ch = pl % c;
      cnnrt_f32_conv_ref(&q, x + pl * in_plane, w + ch * kvol, bias != NULL ? bias + ch : NULL,
                         residual != NULL ? residual + pl * out_plane : NULL,
                         y + pl * out_plane);
      if (reduce != NULL) {
        reduce(1, out_plane, y + pl * out_plane, reduced + pl);
      }
    }
    return;
  }
  if (g.oh < 1 || g.ow < 1) {
    return;
  }
  float buf[CNNRT_DW_AVX2_SCRATCH + 8];
  float *scratch = (float *)(((uintptr_t)buf + 31u) & ~(uintptr_t)31u);
  /* the zero slot: the end of the buffer, past every ring slot (make_geom sized it so) */
  const int64_t zero_size = g.sw * g.pitch;
  memset(scratch + CNNRT_DW_AVX2_SCRATCH - zero_size, 0, (size_t)zero_size * sizeof(float));
  for (int64_t pl = plane_begin; pl < plane_end; pl++) {
    const int64_t ch = pl % c;
    cnnrt_dw_avx2_plane(&g, x + pl * in_plane, w + ch * kvol, bias != NULL ? bias[ch] : 0.0f,
                        residual != NULL ? residual + pl * out_plane : NULL, y + pl * out_plane,
                        p->act, p->alpha, p->beta, scratch);
    if (reduce != NULL) {
      reduce(1, out_plane, y + pl * out_plane, reduced + pl);
    }
  }
}

static inline void cnnrt_f32_dwconv2d_avx2_range(const cnnrt_conv_params *p, const float *x,
                                                 const float *w, const float *bias,
                                                 const float *residual, float *y,
                                                 int64_t plane_begin, int64_t plane_end) {
  cnnrt_f32_dwconv2d_avx2_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end, NULL,
                                       NULL);
}

/* The whole tensor: x [n, c, h, w], w [c, 1, kh, kw], bias [c] or NULL, residual (shape of y)
 * or NULL, y [n, c, oh, ow]. */
static inline void cnnrt_f32_dwconv2d_avx2(const cnnrt_conv_params *p, const float *x,
                                           const float *w, const float *bias,
                                           const float *residual, float *y) {
  cnnrt_f32_dwconv2d_avx2_range(p, x, w, bias, residual, y, 0, p->n * p->c_out);
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_DWCONV_AVX2_H */
