/* cnnrt_pool_avx2.h — AVX2 forms of the forward MaxPool (without Indices), AveragePool and
 * GlobalMaxPool / GlobalAveragePool of cnnrt_pool.h, same contracts, planes ((n, c) pairs) split
 * over the threads of `par` as cnnrt_pool_task_fn does.
 *
 * Windowed pools (1-D to 3-D; the last axis is the contiguous one): for each output row the
 * outputs whose window lies wholly inside the row along the last axis (the interior) run in
 * vectors of 8 with the accumulators in registers, 4 vectors at a time (2 on rows of up to 24
 * interior outputs): a single chain of k dependent max/add operations per vector is
 * latency-bound. The taps of the 8 windows are one vector each: a plain unaligned load for
 * stride 1; for stride 2 two loads whose even / odd elements are the wanted ones (with
 * dilation 1 two consecutive taps come from the same two loads), reading no element outside
 * the windows, lanes left permuted until the store; a gather for larger strides. The vectors'
 * starts are clamped to end at the interior's end, so a remainder overlaps the previous
 * vector (outputs are recomputed, not accumulated: harmless). Border outputs take the
 * reference's scalar step.
 * The taps are visited in the reference's order (rows of the first two axes, then the last axis)
 * with the reference's operations:
 *   MaxPool: acc = x > acc ? x : acc, which is exactly _mm256_max_ps(x, acc) (MAXPS returns its
 *     second operand when either is NaN or both are equal): NaN is ignored, the first of equal
 *     values (+0 / -0) is kept, an all-NaN or all-padding window gives -inf. Bit-identical.
 *   AveragePool: the sum of the real taps from 0.0f in the same order, divided (a true division)
 *     by the same count as the reference. Bit-identical.
 * Global pools: 8 partial results per plane as cnnrt_pool_reduce keeps them (lane l holds the
 * elements l mod 8, the tail added lane by lane, the lanes combined in order). Bit-identical.
 * Empty without AVX2+FMA (the generated code then calls the references). */
#ifndef CNNRT_POOL_AVX2_H
#define CNNRT_POOL_AVX2_H

#include "cnnrt.h"
#include "cnnrt_pool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* Interior of the last axis: outputs [*lo, *hi) whose k taps all fall inside [0, in). */
static inline void cnnrt_pool_avx2_interior_(const cnnrt_pool_geom *g, int64_t *lo, int64_t *hi) {
  const int64_t span = (g->k[2] - 1) * g->d[2];
  int64_t a = (g->pb[2] + g->s[2] - 1) / g->s[2]; /* o * s - pb >= 0 */
  int64_t b = g->in[2] - span + g->pb[2] > 0 ? (g->in[2] - 1 - span + g->pb[2]) / g->s[2] + 1
                                                : 0; /* o * s - pb + span < in */
  if (b > g->out[2]) {
    b = g->out[2];
  }
  if (a > b) {
    a = b;
  }
  *lo = a;
  *hi = b;
}

/* The taps x[0], x[s], ..., x[7s] of 8 outputs, reading only x[0 .. 7s]. Stride 2 (two loads
 * of x[0..7] and x[7..14] whose even / odd elements are the wanted ones) leaves the lanes in
 * the order of outputs 0 1 4 5 2 3 6 7, the same for every tap: the accumulator is put back in
 * order once, by cnnrt_pool_avx2_unpermute_, instead of permuting every tap. */
static inline __m256 cnnrt_pool_avx2_load_(const float *x, int64_t s, __m256i gather_idx) {
  if (s == 1) {
    return _mm256_loadu_ps(x);
  }
  if (s == 2) {
    const __m256 a = _mm256_loadu_ps(x);     /* x0 .. x7 */
    const __m256 b = _mm256_loadu_ps(x + 7); /* x7 .. x14 */
    /* per 128-bit lane: a[0], a[2], b[1], b[3] -> x0 x2 x8 x10 | x4 x6 x12 x14 */
    return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 2, 0));
  }
  return _mm256_i32gather_ps(x, gather_idx, 4);
}

static inline __m256 cnnrt_pool_avx2_unpermute_(__m256 v, int64_t s) {
  if (s != 2) {
    return v;
  }
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* One tap of 8 windows into the accumulator: max (MAXPS returns acc unless v > acc) or sum. */
static inline __m256 cnnrt_pool_avx2_tap_(int max, __m256 acc, const float *x, int64_t s,
                                          __m256i gather_idx) {
  const __m256 v = cnnrt_pool_avx2_load_(x, s, gather_idx);
  return max ? _mm256_max_ps(v, acc) : _mm256_add_ps(acc, v);
}

/* Two consecutive taps of 8 stride-2 windows (dilation 1), in order: the even elements of
 * x[0 .. 15], then the odd ones, both in the lane order of cnnrt_pool_avx2_load_'s stride 2. */
static inline void cnnrt_pool_avx2_tap2_(int max, __m256 *acc, const float *x) {
  const __m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
  const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* x0 x2 x8 x10 | x4 .. */
  const __m256 odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));  /* x1 x3 x9 x11 | x5 .. */
  *acc = max ? _mm256_max_ps(even, *acc) : _mm256_add_ps(*acc, even);
  *acc = max ? _mm256_max_ps(odd, *acc) : _mm256_add_ps(*acc, odd);
}

/* The nv (2 or 4) accumulators of outputs os[i] + [0, 8) of one output row: the real rows of the
 * first two axes ([a0, b0) x [a1, b1) from st0, st1), all k taps of the last axis, in the
 * reference's order. Always inlined, so that the calls with constant max / s compile to
 * branch-free loops. With nv = 2, accs[2..3] are left as they are. */
#define CNNRT_POOL_AVX2_INLINE static inline __attribute__((always_inline))
CNNRT_POOL_AVX2_INLINE void cnnrt_pool_avx2_acc4_(int nv, int max, int64_t s,
                                                  const cnnrt_pool_geom *g,
                                                  const float *xc, int64_t st0, int64_t a0,
                                                  int64_t b0, int64_t st1, int64_t a1,
                                                  int64_t b1, const int64_t os[4],
                                                  __m256i gather_idx, __m256 accs[4]) {
  const int64_t in1 = g->in[1], in2 = g->in[2], k2 = g->k[2], d2 = g->d[2];
  const __m256 init = _mm256_set1_ps(max ? -INFINITY : 0.0f);
  __m256 acc0 = init, acc1 = init, acc2 = init, acc3 = init;
  for (int64_t j0 = a0; j0 < b0; j0++) {
    for (int64_t j1 = a1; j1 < b1; j1++) {
      const float *xr = xc + ((st0 + j0 * g->d[0]) * in1 + st1 + j1 * g->d[1]) * in2 - g->pb[2];
      const float *x0 = xr + os[0] * s, *x1 = xr + os[1] * s;
      const float *x2 = xr + os[2] * s, *x3 = xr + os[3] * s;
      int64_t j2 = 0;
      if (s == 2 && d2 == 1) {
        /* taps j2, j2 + 1 together: the even and odd elements of x[j2 .. j2 + 15] (two loads
         * instead of four; every element read is a tap of one of the 8 windows) */
        for (; j2 + 1 < k2; j2 += 2) {
          cnnrt_pool_avx2_tap2_(max, &acc0, x0 + j2);
          cnnrt_pool_avx2_tap2_(max, &acc1, x1 + j2);
          if (nv > 2) {
            cnnrt_pool_avx2_tap2_(max, &acc2, x2 + j2);
            cnnrt_pool_avx2_tap2_(max, &acc3, x3 + j2);
          }
        }
      }
      for (; j2 < k2; j2++) {
        const int64_t t = j2 * d2;
        acc0 = cnnrt_pool_avx2_tap_(max, acc0, x0 + t, s, gather_idx);
        acc1 = cnnrt_pool_avx2_tap_(max, acc1, x1 + t, s, gather_idx);
        if (nv > 2) {
          acc2 = cnnrt_pool_avx2_tap_(max, acc2, x2 + t, s, gather_idx);
          acc3 = cnnrt_pool_avx2_tap_(max, acc3, x3 + t, s, gather_idx);
        }
      }
    }
  }
  accs[0] = acc0;
  accs[1] = acc1;
  accs[2] = acc2;
  accs[3] = acc3;
}

/* The reference's result for one output o2 of a row (border outputs): the taps in its order. */
static inline float cnnrt_pool_avx2_one_(const cnnrt_pool_geom *g, int max, const float *xc,
                                         int64_t st0, int64_t a0, int64_t b0, int64_t st1,
                                         int64_t a1, int64_t b1, int64_t o2) {
  const int64_t st2 = o2 * g->s[2] - g->pb[2];
  int64_t a2, b2;
  cnnrt_pool_taps(st2, g->k[2], g->d[2], 0, g->in[2], &a2, &b2);
  float acc = max ? -INFINITY : 0.0f;
  for (int64_t j0 = a0; j0 < b0; j0++) {
    for (int64_t j1 = a1; j1 < b1; j1++) {
      const float *xr = xc + ((st0 + j0 * g->d[0]) * g->in[1] + st1 + j1 * g->d[1]) * g->in[2];
      for (int64_t j2 = a2; j2 < b2; j2++) {
        const float v = xr[st2 + j2 * g->d[2]];
        if (max) {
          acc = v > acc ? v : acc;
        } else {
          acc += v;
        }
      }
    }
  }
  return acc;
}

/* ---- AVX-512 MaxPool with stride 2 along the last axis: rows pooled once, then combined ----
 *
 * For the 3x3 stride-2 max pools of ResNet / SqueezeNet the loop above spends most of its time
 * de-interleaving: every input row is pooled along the last axis again for each window it is
 * in (3x3 s2: the last row of one window is the first of the next), 8 outputs per vector, and
 * the border outputs take the scalar step. Here (AVX-512) an input row is pooled along the last
 * axis ("h": the max of its k taps, 16 outputs per vector, the even / odd taps of 32 loaded
 * floats picked by one two-source permute each) once per window it begins or is inside, the
 * window's last row is kept in `cache` for the next output row, and an output row is the
 * combination of its real rows' h in row order. Rows whose chunks would read outside them are
 * first copied between -inf, so border outputs take the vector path too.
 * Bit-identical to the reference: acc = x > acc ? x : acc from -inf keeps the first maximal tap
 * in visiting order and drops NaN; a -inf padding lane never replaces anything; combining the
 * rows' h (each seeded with -inf, so never NaN) with b > a ? b : a (= _mm512_max_ps(b, a)) in
 * row order keeps the first maximal one as well: the reference's row-major first maximum (the
 * sign of a zero maximum included). */
#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_POOL_AVX512 1

/* Output widths up to this many outputs: the cached row lives on the stack. */
#define CNNRT_POOL_AVX512_MAXROW 1024

/* The 16-output chunks of a row: [0, nch); those in [c_lo, c_hi) load inside the row (tap 0 of
 * their first output at b = 32 c - pb >= 0, their last load ending at b + ((k - 1) & ~1) + 32
 * <= in), the others take edge loads. */
static inline void cnnrt_pool_avx512_chunks_(const cnnrt_pool_geom *g, int64_t *nch,
                                             int64_t *c_lo, int64_t *c_hi) {
  const int64_t reach = ((g->k[2] - 1) & ~(int64_t)1) + 32, pb = g->pb[2], in = g->in[2];
  *nch = (g->out[2] + 15) / 16;
  *c_lo = (pb + 31) / 32 < *nch ? (pb + 31) / 32 : *nch;
  const int64_t hi = in + pb - reach >= 0 ? (in + pb - reach) / 32 + 1 : 0;
  *c_hi = hi > *nch ? *nch : (hi < *c_lo ? *c_lo : hi);
}

/* Rows of at least 32 outputs: on rows of 27 and 13 outputs (SqueezeNet's 2nd and 3rd pools)
 * the row loop above was faster (bench/kernels/bench_pool_avx2.c: 0.91x and 0.68x; per-row
 * bookkeeping dominates such rows), on 56 and 55 this path (1.17x ResNet's 112 -> 56, 1.12x
 * SqueezeNet's 111 -> 55, thread CPU time, medians of alternating rounds). At most 4 edge
 * chunks (their loads are precomputed). */
static inline int cnnrt_pool_avx512_max_s2_applies_(const cnnrt_pool_geom *g) {
  if (g->s[2] != 2 || g->d[2] != 1 || g->out[2] < 32 || g->out[2] > CNNRT_POOL_AVX512_MAXROW ||
      g->k[2] > 16) {
    return 0;
  }
  int64_t nch, c_lo, c_hi;
  cnnrt_pool_avx512_chunks_(g, &nch, &c_lo, &c_hi);
  return c_lo + (nch - c_hi) <= 4;
}

/* h of 16 outputs: x[2i + j] for output i, taps j < k, in order from -inf (all readable). */
#define CNNRT_POOL_AVX512_INLINE static inline __attribute__((always_inline))
CNNRT_POOL_AVX512_INLINE __m512 cnnrt_pool_avx512_h16_(const float *x, int64_t k) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                        31);
  __m512 acc = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < k; j += 2) {
    const __m512 lo = _mm512_loadu_ps(x + j), hi = _mm512_loadu_ps(x + j + 16);
    acc = _mm512_max_ps(_mm512_permutex2var_ps(lo, even, hi), acc);
    if (j + 1 < k) {
      acc = _mm512_max_ps(_mm512_permutex2var_ps(lo, odd, hi), acc);
    }
  }
  return acc;
}

/* The loads of a chunk that reaches outside its row (CNNRT_POOL_AVX512_LOADS of them: lo, hi
 * for taps 0-1, 2-3, ...): load t fills the lanes of mask[t] with the floats from the row's
 * element off[t] on, the first shift[t] lanes being before the row's start, the other lanes
 * -inf. */
#define CNNRT_POOL_AVX512_LOADS 16
typedef struct cnnrt_pool_avx512_edge {
  int64_t off[CNNRT_POOL_AVX512_LOADS];
  int64_t shift[CNNRT_POOL_AVX512_LOADS];
  __mmask16 mask[CNNRT_POOL_AVX512_LOADS];
} cnnrt_pool_avx512_edge;

/* The edge loads of the chunk whose tap 0 of its first output is at element b of a row of in. */
static inline void cnnrt_pool_avx512_edge_init_(int64_t b, int64_t in, int64_t k,
                                                cnnrt_pool_avx512_edge *e) {
  for (int64_t t = 0; t < CNNRT_POOL_AVX512_LOADS && t < (k + 1) / 2 * 2; t++) {
    const int64_t s = b + (t / 2) * 2 + (t % 2) * 16; /* element of lane 0 */
    const int64_t l0 = s < 0 ? (-s < 16 ? -s : 16) : 0;
    const int64_t l1 = in - s < 16 ? (in - s > 0 ? in - s : 0) : 16;
    e->off[t] = s > 0 ? s : 0;
    e->shift[t] = l0;
    e->mask[t] = l1 > l0 ? (__mmask16)(((1u << l1) - 1u) & ~((1u << l0) - 1u)) : 0;
  }
}

/* Load t of an edge chunk: a masked load, or where the 16 floats begin before the row, a masked
 * load of the row's first floats moved up to their lanes (no address before the row). */
CNNRT_POOL_AVX512_INLINE __m512 cnnrt_pool_avx512_edge_load_(const float *xr,
                                                             const cnnrt_pool_avx512_edge *e,
                                                             int64_t t) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  if (e->shift[t] == 0) {
    return _mm512_mask_loadu_ps(ninf, e->mask[t], xr + e->off[t]);
  }
  const __mmask16 m = (__mmask16)(e->mask[t] >> e->shift[t]);
  const __m512i idx = _mm512_sub_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32((int)e->shift[t]));
  return _mm512_mask_permutexvar_ps(ninf, e->mask[t], idx, _mm512_maskz_loadu_ps(m, xr));
}

CNNRT_POOL_AVX512_INLINE __m512 cnnrt_pool_avx512_h16_edge_(const float *xr, int64_t k,
                                                            const cnnrt_pool_avx512_edge *e) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                        31);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 acc = ninf;
  for (int64_t j = 0; j < k; j += 2) {
    const __m512 lo = cnnrt_pool_avx512_edge_load_(xr, e, j);
    const __m512 hi = cnnrt_pool_avx512_edge_load_(xr, e, j + 1);
    acc = _mm512_max_ps(_mm512_permutex2var_ps(lo, even, hi), acc);
    if (j + 1 < k) {
      acc = _mm512_max_ps(_mm512_permutex2var_ps(lo, odd, hi), acc);
    }
  }
  return acc;
}

/* One input row's h, 16 outputs per chunk, chunks [0, nch) (the last one partly past the output
 * row: its lanes are computed and never stored), combined into acc (first: acc = h, else
 * acc = h > acc ? h : acc) and, if keep != NULL, kept there too. Chunks [c_lo, c_hi) load
 * inside the row (tap 0 of their first output at 32 c - pb); the others take the edge loads
 * edge[c] (c < c_lo) or edge[c - c_hi + c_lo]. */
CNNRT_POOL_AVX512_INLINE void cnnrt_pool_avx512_hrow_(const float *xr, int64_t pb2, int64_t k2,
                                                      int64_t nch, int64_t c_lo, int64_t c_hi,
                                                      const cnnrt_pool_avx512_edge *edge,
                                                      int first, float *acc, float *keep) {
  for (int64_t c = 0; c < nch; c++) {
    __m512 h;
    if (c >= c_lo && c < c_hi) {
      h = cnnrt_pool_avx512_h16_(xr + 32 * c - pb2, k2);
    } else {
      h = cnnrt_pool_avx512_h16_edge_(xr, k2, edge + (c < c_lo ? c : c - c_hi + c_lo));
    }
    if (keep != NULL) {
      _mm512_store_ps(keep + 16 * c, h);
    }
    _mm512_store_ps(acc + 16 * c, first ? h : _mm512_max_ps(h, _mm512_load_ps(acc + 16 * c)));
  }
}

/* Planes [nc0, nc1); requires cnnrt_pool_avx512_max_s2_applies_(g). */
static inline void cnnrt_f32_maxpool_s2_range_avx512_(const cnnrt_pool_geom *g, int64_t nc0,
                                                      int64_t nc1, const float *x, float *y) {
  const int64_t in1 = g->in[1], in2 = g->in[2], out1 = g->out[1], out2 = g->out[2];
  const int64_t k2 = g->k[2], pb2 = g->pb[2];
  int64_t nch, c_lo, c_hi;
  cnnrt_pool_avx512_chunks_(g, &nch, &c_lo, &c_hi);
  cnnrt_pool_avx512_edge edge[4];
  for (int64_t c = 0; c < nch; c++) {
    if (c < c_lo || c >= c_hi) {
      cnnrt_pool_avx512_edge_init_(32 * c - pb2, in2, k2, edge + (c < c_lo ? c : c - c_hi + c_lo));
    }
  }
  /* the cached row's h, the output row being combined */
  float cache[CNNRT_POOL_AVX512_MAXROW] __attribute__((aligned(64)));
  float acc[CNNRT_POOL_AVX512_MAXROW] __attribute__((aligned(64)));
  const __mmask16 tail = (__mmask16)((1u << (out2 % 16 == 0 ? 16 : out2 % 16)) - 1u);
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g->in_size;
    float *yc = y + nc * g->out_size;
    int64_t cached = -1; /* flattened input row (i0 * in1 + i1) held by cache, -1: none */
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
      const int64_t st0 = o0 * g->s[0] - g->pb[0];
      int64_t a0, b0;
      cnnrt_pool_taps(st0, g->k[0], g->d[0], 0, g->in[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < out1; o1++) {
        const int64_t st1 = o1 * g->s[1] - g->pb[1];
        int64_t a1, b1;
        cnnrt_pool_taps(st1, g->k[1], g->d[1], 0, in1, &a1, &b1);
        float *yr = yc + (o0 * out1 + o1) * out2;
        if (a0 >= b0 || a1 >= b1) { /* no real row: -inf (the reference's empty window) */
          for (int64_t o2 = 0; o2 < out2; o2++) {
            yr[o2] = -INFINITY;
          }
          continue;
        }
        /* the window's last row replaces the cache (after the cache was read: rows ascend) */
        const int64_t last = (st0 + (b0 - 1) * g->d[0]) * in1 + st1 + (b1 - 1) * g->d[1];
        int first = 1;
        for (int64_t j0 = a0; j0 < b0; j0++) {
          const int64_t i0 = st0 + j0 * g->d[0];
          for (int64_t j1 = a1; j1 < b1; j1++) {
            const int64_t row = i0 * in1 + st1 + j1 * g->d[1];
            if (row == cached) {
              for (int64_t c = 0; c < nch; c++) {
                const __m512 h = _mm512_load_ps(cache + 16 * c);
                _mm512_store_ps(acc + 16 * c,
                                first ? h : _mm512_max_ps(h, _mm512_load_ps(acc + 16 * c)));
              }
            } else {
              const float *xr = xc + row * in2;
              float *keep = row == last ? cache : NULL;
              /* (the calls with constant k and first compile to unrolled loops) */
              if (k2 == 3 && first) {
                cnnrt_pool_avx512_hrow_(xr, pb2, 3, nch, c_lo, c_hi, edge, 1, acc, keep);
              } else if (k2 == 3) {
                cnnrt_pool_avx512_hrow_(xr, pb2, 3, nch, c_lo, c_hi, edge, 0, acc, keep);
              } else if (first) {
                cnnrt_pool_avx512_hrow_(xr, pb2, k2, nch, c_lo, c_hi, edge, 1, acc, keep);
              } else {
                cnnrt_pool_avx512_hrow_(xr, pb2, k2, nch, c_lo, c_hi, edge, 0, acc, keep);
              }
            }
            first = 0;
          }
        }
        for (int64_t c = 0; c + 1 < nch; c++) {
          _mm512_storeu_ps(yr + 16 * c, _mm512_load_ps(acc + 16 * c));
        }
        _mm512_mask_storeu_ps(yr + 16 * (nch - 1), tail, _mm512_load_ps(acc + 16 * (nch - 1)));
        cached = last;
      }
    }
  }
}
#endif /* __AVX512F__ && !CNNRT_NO_AVX512 */

/* ---- AVX2 MaxPool with stride 2 along the last axis: rows pooled once, then combined ----
 *
 * The AVX-512 path's design with 8 outputs per vector: an input row is pooled along the last
 * axis ("h": the max of its k taps) once per window it begins or is inside, 8 outputs per
 * vector from two loads of 8 floats whose even / odd elements are the taps (_mm256_shuffle_ps,
 * per 128-bit lane, leaves the outputs in the order 0 1 4 5 2 3 6 7; h and the cached row keep
 * that order and the store puts it back), the window's last row is kept for the next output
 * row, and each chunk of 8 interior outputs is the combination, in registers and in row order,
 * of its real rows' h. Interior chunks read the rows in place (the last one moved back to end at
 * the interior's end); border outputs take the reference's step, as in the row loop.
 * Bit-identical to the reference for the reasons given for the AVX-512 path (first maximal tap
 * in row-major order, NaN dropped). Measured against the row loop (bench/kernels/
 * bench_pool_avx2.c, Zen 3): 1.14-1.25x on rows of 55-56 outputs, 0.92x and 0.83x on rows of 27
 * and 13, hence CNNRT_POOL_AVX2_S2_MIN_OUT. */

/* Output widths up to this many outputs: the cached row lives on the stack. */
#define CNNRT_POOL_AVX2_S2_MAXROW 1024
/* Rows of one window the s2 path handles at once (more: the row loop). */
#define CNNRT_POOL_AVX2_S2_ROWS 16
/* Rows of fewer outputs take the row loop (the tests lower it to 1 to run every case here). */
#ifndef CNNRT_POOL_AVX2_S2_MIN_OUT
#define CNNRT_POOL_AVX2_S2_MIN_OUT 32
#endif

static inline int cnnrt_pool_avx2_max_s2_applies_(const cnnrt_pool_geom *g) {
  int64_t ilo, ihi;
  cnnrt_pool_avx2_interior_(g, &ilo, &ihi);
  return g->s[2] == 2 && g->d[2] == 1 && ihi - ilo >= 8 &&
         g->out[2] >= CNNRT_POOL_AVX2_S2_MIN_OUT && g->out[2] <= CNNRT_POOL_AVX2_S2_MAXROW &&
         g->k[0] * g->k[1] <= CNNRT_POOL_AVX2_S2_ROWS;
}

/* h of 8 outputs in lane order 0 1 4 5 2 3 6 7: x[2i + j] for output i, taps j < k in order,
 * from -inf. Taps in pairs from x[j .. j + 15]; an odd last tap from x[j .. j + 14] (the
 * loads of cnnrt_pool_avx2_load_), so nothing past the last window's last tap is read. */
CNNRT_POOL_AVX2_INLINE __m256 cnnrt_pool_avx2_h8_(const float *x, int64_t k) {
  __m256 acc = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 1 < k; j += 2) {
    cnnrt_pool_avx2_tap2_(1, &acc, x + j);
  }
  if (j < k) {
    acc = cnnrt_pool_avx2_tap_(1, acc, x + j, 2, _mm256_setzero_si256());
  }
  return acc;
}

/* Output row yr from the nr real input rows rows[] of its window (in the reference's order;
 * rows[0]'s h is in cache when from_cache): the interior outputs [ilo, ihi) (ihi - ilo >= 8) in
 * chunks of 8 at ilo + 8 q, the last one moved back to end at ihi (its outputs recomputed, the
 * same values), the h of rows[nr - 1] kept in cache (chunk q at cache + 8 q) when keep_last. */
CNNRT_POOL_AVX2_INLINE void cnnrt_pool_avx2_s2_row_(const float *const *rows, int nr,
                                                    int from_cache, int keep_last, float *cache,
                                                    int64_t pb, int64_t k, int64_t ilo,
                                                    int64_t ihi, float *yr) {
  const int64_t nq = (ihi - ilo + 7) / 8;
  for (int64_t q = 0; q < nq; q++) {
    const int64_t o = ilo + 8 * q + 8 <= ihi ? ilo + 8 * q : ihi - 8;
    const int64_t at = 2 * o - pb; /* tap 0 of output o */
    __m256 acc = from_cache ? _mm256_load_ps(cache + 8 * q) : cnnrt_pool_avx2_h8_(rows[0] + at, k);
    for (int r = 1; r < nr; r++) {
      const __m256 h = cnnrt_pool_avx2_h8_(rows[r] + at, k);
      acc = _mm256_max_ps(h, acc); /* h > acc ? h : acc: rows in order */
      if (r == nr - 1 && keep_last) {
        _mm256_store_ps(cache + 8 * q, h);
      }
    }
    if (nr == 1 && keep_last) {
      _mm256_store_ps(cache + 8 * q, acc);
    }
    _mm256_storeu_ps(yr + o, cnnrt_pool_avx2_unpermute_(acc, 2));
  }
}

/* Planes [nc0, nc1); requires cnnrt_pool_avx2_max_s2_applies_(g). */
static inline void cnnrt_f32_maxpool_s2_range_avx2_(const cnnrt_pool_geom *g, int64_t nc0,
                                                    int64_t nc1, const float *x, float *y) {
  const int64_t in1 = g->in[1], in2 = g->in[2], out1 = g->out[1], out2 = g->out[2];
  const int64_t k2 = g->k[2], pb2 = g->pb[2];
  int64_t ilo, ihi;
  cnnrt_pool_avx2_interior_(g, &ilo, &ihi);
  float cache[CNNRT_POOL_AVX2_S2_MAXROW] __attribute__((aligned(32)));
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g->in_size;
    float *yc = y + nc * g->out_size;
    int64_t cached = -1; /* flattened input row (i0 * in1 + i1) whose h is in cache, -1: none */
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
      const int64_t st0 = o0 * g->s[0] - g->pb[0];
      int64_t a0, b0;
      cnnrt_pool_taps(st0, g->k[0], g->d[0], 0, g->in[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < out1; o1++) {
        const int64_t st1 = o1 * g->s[1] - g->pb[1];
        int64_t a1, b1;
        cnnrt_pool_taps(st1, g->k[1], g->d[1], 0, in1, &a1, &b1);
        float *yr = yc + (o0 * out1 + o1) * out2;
        /* border outputs (and every output of a window with no real row): the reference's step */
        const int real = a0 < b0 && a1 < b1;
        const int64_t blo = real ? ilo : out2, bhi = real ? ihi : out2;
        for (int64_t o2 = 0; o2 < blo; o2++) {
          yr[o2] = cnnrt_pool_avx2_one_(g, 1, xc, st0, a0, b0, st1, a1, b1, o2);
        }
        for (int64_t o2 = bhi; o2 < out2; o2++) {
          yr[o2] = cnnrt_pool_avx2_one_(g, 1, xc, st0, a0, b0, st1, a1, b1, o2);
        }
        if (!real) {
          continue;
        }
        /* the window's real rows in the reference's order */
        const float *rows[CNNRT_POOL_AVX2_S2_ROWS];
        int nr = 0;
        int64_t first_row = -1, last_row = -1;
        for (int64_t j0 = a0; j0 < b0; j0++) {
          for (int64_t j1 = a1; j1 < b1; j1++) {
            const int64_t row = (st0 + j0 * g->d[0]) * in1 + st1 + j1 * g->d[1];
            first_row = nr == 0 ? row : first_row;
            last_row = row;
            rows[nr++] = xc + row * in2;
          }
        }
        /* rows[0] from the cache when it holds it; the last row's h replaces the cache (each
         * chunk's cached h read before it is overwritten) */
        const int from_cache = first_row == cached;
        const int keep_last = nr > 1 || !from_cache;
        /* (constant k and row counts compile to unrolled loops) */
        if (k2 == 3 && nr == 3) {
          cnnrt_pool_avx2_s2_row_(rows, 3, from_cache, keep_last, cache, pb2, 3, ilo, ihi, yr);
        } else if (k2 == 3 && nr == 2) {
          cnnrt_pool_avx2_s2_row_(rows, 2, from_cache, keep_last, cache, pb2, 3, ilo, ihi, yr);
        } else {
          cnnrt_pool_avx2_s2_row_(rows, nr, from_cache, keep_last, cache, pb2, k2, ilo, ihi, yr);
        }
        cached = keep_last ? last_row : cached;
      }
    }
  }
}

/* ---- AVX2 MaxPool 3x3 stride 2 without padding (SqueezeNet's, AlexNet's pools) ----
 *
 * The stride-2 path above for its most common case, with none of its generality: 2-D, every
 * window's columns inside the row ((out - 1) * 2 + 3 <= in, and the loads reach x[2 out] at most),
 * windows' rows inside but for the last output row under ceil_mode. Each output row takes the h
 * (cnnrt_pool_avx2_h8_: the max of a row's 3 taps, lanes in the order 0 1 4 5 2 3 6 7) of its
 * three input rows in order, the first from the previous output row (its last), so every input
 * row is pooled along the row once: the same operations in the same order as the stride-2 path,
 * hence bit-identical to the reference. Measured (bench/kernels/bench_pool_avx2.c, Zen 3, one
 * thread, against the stride-2 path, which took the row loop's time on rows of 27 and 13):
 * SqueezeNet's 64@111 0.49x the time, 128@55 0.41x, 256@27 0.37x. Not inlined: inlined into
 * cnnrt_f32_pool_range_avx2 next to the other paths it took 1.4-1.7x as long. */
#define CNNRT_POOL_AVX2_NOINLINE static __attribute__((noinline, unused))
static inline int cnnrt_pool_avx2_max_3x3s2_applies_(const cnnrt_pool_geom *g) {
  return g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 &&
         g->s[1] == 2 && g->s[2] == 2 && g->d[1] == 1 && g->d[2] == 1 && g->pb[1] == 0 &&
         g->pb[2] == 0 && g->out[2] >= 8 && g->out[2] <= CNNRT_POOL_AVX2_S2_MAXROW &&
         2 * g->out[2] < g->in[2] && 2 * (g->out[1] - 1) < g->in[1];
}

/* Planes [nc0, nc1); requires cnnrt_pool_avx2_max_3x3s2_applies_(g). */
CNNRT_POOL_AVX2_NOINLINE void cnnrt_f32_maxpool_3x3s2_range_avx2_(const cnnrt_pool_geom *g,
                                                                  int64_t nc0, int64_t nc1,
                                                                  const float *x, float *y) {
  const int64_t in1 = g->in[1], in2 = g->in[2], out1 = g->out[1], out2 = g->out[2];
  const int64_t nq = (out2 + 7) / 8;
  float cache[CNNRT_POOL_AVX2_S2_MAXROW] __attribute__((aligned(32))); /* h of the shared row */
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g->in_size;
    float *yc = y + nc * g->out_size;
    for (int64_t o1 = 0; o1 < out1; o1++) {
      const float *r0 = xc + 2 * o1 * in2, *r1 = r0 + in2, *r2 = r1 + in2;
      const int64_t rows = in1 - 2 * o1 < 3 ? in1 - 2 * o1 : 3; /* 1..3: ceil_mode's last row */
      float *yr = yc + o1 * out2;
      for (int64_t q = 0; q < nq; q++) {
        /* 8 outputs from o; the last chunk moved back to end at out2 (the same values again) */
        const int64_t o = 8 * q + 8 <= out2 ? 8 * q : out2 - 8;
        __m256 acc = o1 > 0 ? _mm256_load_ps(cache + 8 * q) : cnnrt_pool_avx2_h8_(r0 + 2 * o, 3);
        if (rows > 1) {
          acc = _mm256_max_ps(cnnrt_pool_avx2_h8_(r1 + 2 * o, 3), acc);
        }
        if (rows > 2) {
          const __m256 h = cnnrt_pool_avx2_h8_(r2 + 2 * o, 3);
          acc = _mm256_max_ps(h, acc);
          _mm256_store_ps(cache + 8 * q, h);
        }
        _mm256_storeu_ps(yr + o, cnnrt_pool_avx2_unpermute_(acc, 2));
      }
    }
  }
}

/* MaxPool (max = 1) or AveragePool (max = 0) of planes [nc0, nc1), every output row on its
 * own (any stride). */
static inline void cnnrt_f32_pool_range_avx2_rows_(const cnnrt_pool_params *p, int max,
                                                   int64_t nc0, int64_t nc1, const float *x,
                                                   float *y) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  const int64_t in1 = g.in[1], out1 = g.out[1], out2 = g.out[2];
  const int64_t k2 = g.k[2], s2 = g.s[2];
  int64_t ilo, ihi;
  cnnrt_pool_avx2_interior_(&g, &ilo, &ihi);
  const int vec = ihi - ilo >= 8;
  const __m256i gather_idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                _mm256_set1_epi32((int)s2));
  /* AveragePool's counted range per axis (the real input, or the padded one) */
  int64_t lo[3], hi[3];
  for (int i = 0; i < 3; i++) {
    lo[i] = p->count_include_pad ? -g.pb[i] : 0;
    hi[i] = p->count_include_pad ? g.in[i] + g.pe[i] : g.in[i];
  }
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g.in_size;
    float *yc = y + nc * g.out_size;
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      const int64_t st0 = o0 * g.s[0] - g.pb[0];
      int64_t a0, b0, ca0, cb0;
      cnnrt_pool_taps(st0, g.k[0], g.d[0], 0, g.in[0], &a0, &b0);
      cnnrt_pool_taps(st0, g.k[0], g.d[0], lo[0], hi[0], &ca0, &cb0);
      for (int64_t o1 = 0; o1 < out1; o1++) {
        const int64_t st1 = o1 * g.s[1] - g.pb[1];
        int64_t a1, b1, ca1, cb1;
        cnnrt_pool_taps(st1, g.k[1], g.d[1], 0, in1, &a1, &b1);
        cnnrt_pool_taps(st1, g.k[1], g.d[1], lo[1], hi[1], &ca1, &cb1);
        const int64_t c01 = (cb0 - ca0) * (cb1 - ca1);
        float *yr = yc + (o0 * out1 + o1) * out2;
        for (int64_t o2 = 0; o2 < out2; o2++) {
          if (vec && o2 == ilo) {
            /* Interior: 4 vectors of 8 outputs at a time (4 independent dependency chains:
             * one chain of k taps is latency-bound), vector starts clamped to end at ihi
             * (overlapping vectors recompute the same outputs). */
            const __m256 div = _mm256_set1_ps((float)(c01 * k2));
            for (int64_t v0 = ilo; v0 < ihi; v0 += ihi - v0 > 16 ? 32 : 16) {
              int64_t os[4];
              for (int i = 0; i < 4; i++) {
                os[i] = v0 + 8 * i + 8 <= ihi ? v0 + 8 * i : ihi - 8;
              }
              __m256 accs[4];
              /* 4 vectors while at least 3 are distinct, else 2 (narrow rows) */
              const int nv = ihi - v0 > 16 ? 4 : 2;
              const int64_t s = s2;
#define CNNRT_POOL_AVX2_ACC_(NV, MAX, S)                                                         \
  cnnrt_pool_avx2_acc4_(NV, MAX, S, &g, xc, st0, a0, b0, st1, a1, b1, os, gather_idx, accs)
              if (max && s == 2) { /* the common cases specialised by inlining constants */
                if (nv == 4) CNNRT_POOL_AVX2_ACC_(4, 1, 2); else CNNRT_POOL_AVX2_ACC_(2, 1, 2);
              } else if (max && s == 1) {
                if (nv == 4) CNNRT_POOL_AVX2_ACC_(4, 1, 1); else CNNRT_POOL_AVX2_ACC_(2, 1, 1);
              } else if (!max && s == 2) {
                if (nv == 4) CNNRT_POOL_AVX2_ACC_(4, 0, 2); else CNNRT_POOL_AVX2_ACC_(2, 0, 2);
              } else if (!max && s == 1) {
                if (nv == 4) CNNRT_POOL_AVX2_ACC_(4, 0, 1); else CNNRT_POOL_AVX2_ACC_(2, 0, 1);
              } else {
                if (nv == 4) CNNRT_POOL_AVX2_ACC_(4, max, s); else CNNRT_POOL_AVX2_ACC_(2, max, s);
              }
#undef CNNRT_POOL_AVX2_ACC_
              for (int i = 0; i < nv; i++) {
                __m256 r = cnnrt_pool_avx2_unpermute_(accs[i], s2);
                if (!max) {
                  r = c01 > 0 ? _mm256_div_ps(r, div) : _mm256_setzero_ps();
                }
                _mm256_storeu_ps(yr + os[i], r);
              }
            }
            o2 = ihi - 1;
            continue;
          }
          const float r = cnnrt_pool_avx2_one_(&g, max, xc, st0, a0, b0, st1, a1, b1, o2);
          if (max) {
            yr[o2] = r;
          } else {
            yr[o2] = cnnrt_pool_avg_edge(&g, r, c01, o2, lo[2], hi[2]);
          }
        }
      }
    }
  }
}

/* MaxPool (max = 1) or AveragePool (max = 0) of planes [nc0, nc1). */
static inline void cnnrt_f32_pool_range_avx2(const cnnrt_pool_params *p, int max, int64_t nc0,
                                             int64_t nc1, const float *x, float *y) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  /* The unpadded 3x3/2 path first, on AVX-512 builds too: on Zen 5 SqueezeNet's 64@111 pool
   * took 0.50x the AVX-512 stride-2 path's time (bench/kernels/bench_pool_avx2.c). */
  if (max && cnnrt_pool_avx2_max_3x3s2_applies_(&g)) {
    cnnrt_f32_maxpool_3x3s2_range_avx2_(&g, nc0, nc1, x, y);
    return;
  }
#if defined(CNNRT_POOL_AVX512)
  if (max && cnnrt_pool_avx512_max_s2_applies_(&g)) {
    cnnrt_f32_maxpool_s2_range_avx512_(&g, nc0, nc1, x, y);
    return;
  }
#endif
  if (max && cnnrt_pool_avx2_max_s2_applies_(&g)) {
    cnnrt_f32_maxpool_s2_range_avx2_(&g, nc0, nc1, x, y);
    return;
  }
  cnnrt_f32_pool_range_avx2_rows_(p, max, nc0, nc1, x, y);
}

typedef struct cnnrt_pool_avx2_task {
  const cnnrt_pool_params *p;
  const float *x;
  float *y;
  int64_t n_tasks;
  int max;
} cnnrt_pool_avx2_task;

static inline void cnnrt_pool_avx2_task_fn_(void *arg, int64_t t) {
  const cnnrt_pool_avx2_task *a = (const cnnrt_pool_avx2_task *)arg;
  const int64_t planes = a->p->n * a->p->c;
  cnnrt_f32_pool_range_avx2(a->p, a->max, planes * t / a->n_tasks, planes * (t + 1) / a->n_tasks,
                            a->x, a->y);
}

static inline int64_t cnnrt_pool_avx2_tasks_(const cnnrt_parallel *par, int64_t planes) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < planes ? threads : (planes > 0 ? planes : 1);
}

/* MaxPool without Indices (par may be NULL: one task). */
static inline void cnnrt_f32_maxpool_avx2(const cnnrt_pool_params *p, const float *x, float *y,
                                          const cnnrt_parallel *par) {
  cnnrt_pool_avx2_task t = {p, x, y, cnnrt_pool_avx2_tasks_(par, p->n * p->c), 1};
  cnnrt_parallel_for(par, cnnrt_pool_avx2_task_fn_, &t, t.n_tasks);
}

static inline void cnnrt_f32_avgpool_avx2(const cnnrt_pool_params *p, const float *x, float *y,
                                          const cnnrt_parallel *par) {
  cnnrt_pool_avx2_task t = {p, x, y, cnnrt_pool_avx2_tasks_(par, p->n * p->c), 0};
  cnnrt_parallel_for(par, cnnrt_pool_avx2_task_fn_, &t, t.n_tasks);
}

/* ---- Global pools ---- */

/* cnnrt_pool_reduce (SUM or MAX) of one plane with the 8 lanes in a register. */
static inline float cnnrt_pool_reduce_avx2_(int max, const float *x, int64_t n) {
  const float init = max ? -INFINITY : 0.0f;
  __m256 acc = _mm256_set1_ps(init);
  const int64_t nv = n - n % CNNRT_POOL_LANES;
  if (max) {
    for (int64_t i = 0; i < nv; i += 8) {
      acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
    }
  } else {
    for (int64_t i = 0; i < nv; i += 8) {
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
    }
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  cnnrt_pool_row(max ? CNNRT_POOL_OP_MAX : CNNRT_POOL_OP_SUM, 0.0f, lanes, x + nv, n - nv, 1);
  float r = init;
  for (int l = 0; l < 8; l++) {
    r = max ? (lanes[l] > r ? lanes[l] : r) : r + lanes[l];
  }
  return r;
}

static inline void cnnrt_f32_global_avgpool_avx2(int64_t n_c, int64_t spatial_size,
                                                 const float *x, float *y) {
  for (int64_t i = 0; i < n_c; i++) {
    const float s = cnnrt_pool_reduce_avx2_(0, x + i * spatial_size, spatial_size);
    y[i] = spatial_size > 0 ? s / (float)spatial_size : 0.0f;
  }
}

static inline void cnnrt_f32_global_maxpool_avx2(int64_t n_c, int64_t spatial_size,
                                                 const float *x, float *y) {
  for (int64_t i = 0; i < n_c; i++) {
    y[i] = cnnrt_pool_reduce_avx2_(1, x + i * spatial_size, spatial_size);
  }
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_POOL_AVX2_H */
