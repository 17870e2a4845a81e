/* cnnrt_resize_avx2.h — AVX2 form of the forward Resize (cnnrt_f32_resize_ref, cnnrt_resize.h),
 * same contract, planes split over the threads of `par`.
 *
 * The common case (last two axes resized, leading axes untouched: NCHW) runs per plane with the
 * column tables of cnnrt_resize_col_block (blocks of up to 64 output columns whose taps lie in a
 * span of at most 64 input columns):
 *   nearest   an output row reads one source row; consecutive output rows reading the same
 *             source row are copied; when the width is a nearest 2x upsampling (column j reads
 *             j / 2) a row is duplicated with unpack-and-permute, otherwise 8 outputs within 8
 *             inputs are a load and a lane permute, others read by index (a gather measured no
 *             faster). Bit-identical to the reference.
 *   linear / cubic   the source rows of an output row are first combined over the block's
 *             input span (vector axpys with the row weights), then each output column reads
 *             its taps from that combination, 8 columns at a time, one FMA per tap: one load
 *             and a lane permute when the 8 taps lie within 8 inputs (upsampling), a gather
 *             otherwise.
 *             The reference interpolates each row first and then combines the rows: the
 *             products are the same, the order differs (within ~1e-6 relative).
 * Extrapolated rows and columns (tf_crop_and_resize) get extrapolation_value. Other shapes
 * (rank 1, resized leading axes, empty axes) run the reference.
 *
 * Empty without AVX2+FMA (the generated code then calls the reference). */
#ifndef CNNRT_RESIZE_AVX2_H
#define CNNRT_RESIZE_AVX2_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_resize.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* True when the last axis is a nearest upsampling by exactly 2 (column j reads j / 2). */
static inline int cnnrt_resize_avx2_width_dup2_(const cnnrt_resize_params *p) {
  const int64_t ax = p->rank - 1;
  if (p->mode != CNNRT_RESIZE_NEAREST || p->out[ax] != 2 * p->in[ax]) {
    return 0;
  }
  for (int64_t o = 0; o < p->out[ax]; o++) {
    int64_t idx[4];
    double w[4];
    if (cnnrt_resize__taps(p, ax, o, idx, w) != 1 || idx[0] != o / 2) {
      return 0;
    }
  }
  return 1;
}

/* y[0 .. 2 w) = each of x[0 .. w) twice. */
static inline void cnnrt_resize_avx2_dup2_row_(const float *x, int64_t w, float *y) {
  int64_t j = 0;
  for (; j + 8 <= w; j += 8) {
    const __m256 a = _mm256_loadu_ps(x + j);
    const __m256 lo = _mm256_unpacklo_ps(a, a); /* a0 a0 a1 a1 | a4 a4 a5 a5 */
    const __m256 hi = _mm256_unpackhi_ps(a, a); /* a2 a2 a3 a3 | a6 a6 a7 a7 */
    _mm256_storeu_ps(y + 2 * j, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(y + 2 * j + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
  for (; j < w; j++) {
    y[2 * j] = y[2 * j + 1] = x[j];
  }
}

/* When the 8 indices g[0..8) all lie in [g[0], g[0] + 8) (upsampling: neighbouring outputs
 * read neighbouring inputs), sets *rel to g - g[0] and returns g[0], else -1: the 8 reads are
 * then one load and a lane permute instead of a gather. */
static inline int32_t cnnrt_resize_avx2_window8_(const int32_t *g, __m256i *rel) {
  const __m256i idx = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)g),
                                       _mm256_set1_epi32(g[0]));
  const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)),
                                      _mm256_cmpgt_epi32(_mm256_setzero_si256(), idx));
  if (!_mm256_testz_si256(bad, bad)) {
    return -1;
  }
  *rel = idx;
  return g[0];
}

static inline void cnnrt_resize_avx2_fill_(float *y, int64_t n, float v) {
  for (int64_t j = 0; j < n; j++) {
    y[j] = v;
  }
}

/* Nearest 2x along the width: whole rows, a row per source row reused. */
static inline void cnnrt_resize_avx2_nearest_dup2_plane_(const cnnrt_resize_params *p,
                                                         const float *x, float *y) {
  const int64_t r = p->rank, iw = p->in[r - 1], oh = p->out[r - 2], ow = p->out[r - 1];
  int64_t prev = -1;
  for (int64_t oy = 0; oy < oh; oy++) {
    float *yo = y + oy * ow;
    int64_t ri[4];
    double rw[4];
    if (cnnrt_resize__taps(p, r - 2, oy, ri, rw) == 0) {
      cnnrt_resize_avx2_fill_(yo, ow, p->extrapolation_value);
      prev = -1;
    } else if (ri[0] == prev) {
      memcpy(yo, yo - ow, (size_t)ow * sizeof *yo);
    } else {
      cnnrt_resize_avx2_dup2_row_(x + ri[0] * iw, iw, yo);
      prev = ri[0];
    }
  }
}

/* Any mode through the column blocks. */
static inline void cnnrt_resize_avx2_plane_(const cnnrt_resize_params *p, const float *x,
                                            float *y) {
  const int64_t r = p->rank, iw = p->in[r - 1], oh = p->out[r - 2], ow = p->out[r - 1];
  const float ev = p->extrapolation_value;
  const int nearest = p->mode == CNNRT_RESIZE_NEAREST;
  int nt[CNNRT_RESIZE_BLOCK];
  int64_t ci[4 * CNNRT_RESIZE_BLOCK];
  float cw[4 * CNNRT_RESIZE_BLOCK];
  int32_t gi[4][CNNRT_RESIZE_BLOCK]; /* tap t of column j: span offset, weight (0: padding) */
  float gw[4][CNNRT_RESIZE_BLOCK];
  float comb[CNNRT_RESIZE_BLOCK]; /* the source rows combined over the span (zero beyond it:
                                    the windowed loads may read past the span, unused lanes) */
  memset(comb, 0, sizeof comb);
  for (int64_t j0 = 0; j0 < ow;) {
    int64_t lo;
    const int64_t j1 = cnnrt_resize_col_block(p, j0, nt, ci, cw, &lo);
    const int64_t nb = j1 - j0;
    const int64_t span = iw - lo < CNNRT_RESIZE_BLOCK ? iw - lo : CNNRT_RESIZE_BLOCK;
    int ntmax = 1, any_ext = 0;
    for (int64_t j = 0; j < nb; j++) {
      ntmax = nt[j] > ntmax ? nt[j] : ntmax;
      any_ext |= nt[j] == 0;
      for (int t = 0; t < 4; t++) {
        const int64_t c = t < nt[j] ? ci[4 * j + t] : (nt[j] > 0 ? ci[4 * j] : lo);
        gi[t][j] = (int32_t)(c - lo);
        gw[t][j] = t < nt[j] ? cw[4 * j + t] : 0.0f;
      }
    }
    int64_t prev = -1; /* nearest: source row of the previous output row */
    for (int64_t oy = 0; oy < oh; oy++) {
      float *yo = y + oy * ow + j0;
      int64_t ri[4];
      double rwd[4];
      const int nr = cnnrt_resize__taps(p, r - 2, oy, ri, rwd);
      if (nr == 0) {
        cnnrt_resize_avx2_fill_(yo, nb, ev);
        prev = -1;
        continue;
      }
      int64_t j = 0;
      if (nearest) {
        if (ri[0] == prev) { /* integer upsampling repeats rows */
          memcpy(yo, yo - ow, (size_t)nb * sizeof *yo);
          continue;
        }
        prev = ri[0];
        const float *src = x + ri[0] * iw + lo;
        for (; j + 8 <= nb; j += 8) {
          __m256i rel;
          const int32_t b = cnnrt_resize_avx2_window8_(&gi[0][j], &rel);
          if (b >= 0 && b + 8 <= iw - lo) {
            _mm256_storeu_ps(yo + j, _mm256_permutevar8x32_ps(_mm256_loadu_ps(src + b), rel));
          } else { /* indexed loads: a gather is no faster for a plain copy */
            for (int k = 0; k < 8; k++) {
              yo[j + k] = src[gi[0][j + k]];
            }
          }
        }
        for (; j < nb; j++) {
          yo[j] = src[gi[0][j]];
        }
      } else {
        /* comb = sum_t rw_t * row_t over the span */
        const float *r0 = x + ri[0] * iw + lo;
        const __m256 w0 = _mm256_set1_ps((float)rwd[0]);
        int64_t c = 0;
        for (; c + 8 <= span; c += 8) {
          _mm256_storeu_ps(comb + c, _mm256_mul_ps(w0, _mm256_loadu_ps(r0 + c)));
        }
        for (; c < span; c++) {
          comb[c] = (float)rwd[0] * r0[c];
        }
        for (int t = 1; t < nr; t++) {
          const float *rt = x + ri[t] * iw + lo;
          const __m256 wt = _mm256_set1_ps((float)rwd[t]);
          c = 0;
          for (; c + 8 <= span; c += 8) {
            _mm256_storeu_ps(comb + c, _mm256_fmadd_ps(wt, _mm256_loadu_ps(rt + c),
                                                       _mm256_loadu_ps(comb + c)));
          }
          for (; c < span; c++) {
            comb[c] += (float)rwd[t] * rt[c];
          }
        }
        for (; j + 8 <= nb; j += 8) {
          __m256 acc = _mm256_setzero_ps();
          for (int t = 0; t < ntmax; t++) {
            __m256i rel;
            const int32_t b = cnnrt_resize_avx2_window8_(&gi[t][j], &rel);
            const __m256 v =
                b >= 0 && b + 8 <= CNNRT_RESIZE_BLOCK
                    ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(comb + b), rel)
                    : _mm256_i32gather_ps(comb, _mm256_loadu_si256((const __m256i *)&gi[t][j]), 4);
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(&gw[t][j]), v, acc);
          }
          _mm256_storeu_ps(yo + j, acc);
        }
        for (; j < nb; j++) {
          float acc = gw[0][j] * comb[gi[0][j]];
          for (int t = 1; t < ntmax; t++) {
            acc += gw[t][j] * comb[gi[t][j]];
          }
          yo[j] = acc;
        }
      }
      if (any_ext) {
        for (int64_t k = 0; k < nb; k++) {
          if (nt[k] == 0) {
            yo[k] = ev;
          }
        }
      }
    }
    j0 = j1;
  }
}

typedef struct cnnrt_resize_avx2_task {
  const cnnrt_resize_params *p;
  const float *x;
  float *y;
  int64_t planes, n_tasks;
  int dup2;
} cnnrt_resize_avx2_task;

static inline void cnnrt_resize_avx2_task_(void *arg, int64_t task) {
  const cnnrt_resize_avx2_task *t = (const cnnrt_resize_avx2_task *)arg;
  const cnnrt_resize_params *p = t->p;
  const int64_t r = p->rank;
  const int64_t in_plane = p->in[r - 2] * p->in[r - 1], out_plane = p->out[r - 2] * p->out[r - 1];
  const int64_t a = t->planes * task / t->n_tasks, b = t->planes * (task + 1) / t->n_tasks;
  for (int64_t pl = a; pl < b; pl++) {
    if (t->dup2) {
      cnnrt_resize_avx2_nearest_dup2_plane_(p, t->x + pl * in_plane, t->y + pl * out_plane);
    } else {
      cnnrt_resize_avx2_plane_(p, t->x + pl * in_plane, t->y + pl * out_plane);
    }
  }
}

/* y = Resize(x) as cnnrt_f32_resize_ref; x and y must not overlap. */
static inline void cnnrt_f32_resize_avx2(const cnnrt_resize_params *p, const float *x, float *y,
                                         const cnnrt_parallel *par) {
  if (!cnnrt_resize_last2_ok(p)) {
    cnnrt_f32_resize_ref(p, x, y);
    return;
  }
  int64_t planes = 1;
  for (int64_t d = 0; d < p->rank - 2; d++) {
    planes *= p->in[d];
  }
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  cnnrt_resize_avx2_task t = {p, x, y, planes, threads < planes ? threads : planes,
                              cnnrt_resize_avx2_width_dup2_(p)};
  cnnrt_parallel_for(par, cnnrt_resize_avx2_task_, &t, t.n_tasks);
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_RESIZE_AVX2_H */
