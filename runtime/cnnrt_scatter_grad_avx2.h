/* cnnrt_scatter_grad_avx2.h — AVX2 forms of the two scatter-add gradients, same contracts as
 * their scalar references, work split over the threads of `par`:
 *
 *   cnnrt_f32_gather_grad_avx2   Gather's gradient (cnnrt_f32_gather_grad_ref, cnnrt_tensor.h):
 *     the slice after the gather axis is contiguous, so each index adds one dy row into one dx
 *     row, 8 floats at a time. Work is split over the leading (outer) positions and, when they
 *     are fewer than the threads, over column stretches of the slice; every dx element still
 *     receives its terms in the reference's order (index by index, from zero), with the same
 *     float additions, so the result is bit-identical to the reference, repeated and negative
 *     indices included.
 *
 *   cnnrt_f32_resize_grad_avx2   Resize's gradient (cnnrt_f32_resize_grad_ref,
 *     cnnrt_resize_grad.h), planes split over the threads. The common case (last two axes
 *     resized, leading axes untouched) runs the separable adjoint planned in
 *     cnnrt_resize_grad.h for every mode (nearest, linear, cubic) and coordinate mode: 8 output
 *     rows are the 8 lanes; for each output column of a block the column of dy (a masked
 *     gather) is multiplied by each of the column's tap weights into an accumulator per input
 *     column; the accumulators are transposed 8x8 and each row is added, times its row tap
 *     weights, into the input rows (vector axpy). Nearest upsampling by exactly 2 on both axes
 *     (U-Net, FPN) sums the 2x2 blocks directly: two row loads added, then pairs added with a
 *     horizontal add. Weights are float (the reference multiplies in double and rounds each
 *     term), and the order of the additions differs: equal to the reference within ~1e-6
 *     relative. Other shapes (rank 1, resized leading axes, empty axes) run the reference.
 *
 * Empty without AVX2+FMA (the generated code then calls the references). */
#ifndef CNNRT_SCATTER_GRAD_AVX2_H
#define CNNRT_SCATTER_GRAD_AVX2_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_resize_grad.h"
#include "cnnrt_tensor.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline int64_t cnnrt_scatter_grad_avx2_threads_(const cnnrt_parallel *par) {
  return par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
}

/* ---- Gather ---- */

typedef struct cnnrt_gather_grad_avx2_task {
  int64_t outer, axis_len, inner, n_indices, index_elem_size;
  const void *indices;
  const float *dy;
  float *dx;
  int64_t n_chunks, chunk; /* the slice split into n_chunks stretches of `chunk` floats */
  int64_t n_units, n_tasks; /* units = outer * n_chunks, split evenly over the tasks */
} cnnrt_gather_grad_avx2_task;

static inline void cnnrt_gather_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_gather_grad_avx2_task *t = (const cnnrt_gather_grad_avx2_task *)arg;
  const int64_t u0 = t->n_units * task / t->n_tasks, u1 = t->n_units * (task + 1) / t->n_tasks;
  const int64_t inner = t->inner, axis_len = t->axis_len;
  for (int64_t u = u0; u < u1; u++) {
    const int64_t o = u / t->n_chunks, c0 = (u % t->n_chunks) * t->chunk;
    const int64_t n = inner - c0 < t->chunk ? inner - c0 : t->chunk;
    float *dxo = t->dx + o * axis_len * inner + c0;
    const float *dyo = t->dy + o * t->n_indices * inner + c0;
    for (int64_t a = 0; a < axis_len; a++) {
      memset(dxo + a * inner, 0, (size_t)n * sizeof(float));
    }
    for (int64_t k = 0; k < t->n_indices; k++) {
      const int64_t idx = cnnrt_gather_grad_index(t->indices, t->index_elem_size, k, axis_len);
      float *d = dxo + idx * inner;
      const float *s = dyo + k * inner;
      int64_t i = 0;
      for (; i + 32 <= n; i += 32) {
        const __m256 s0 = _mm256_loadu_ps(s + i), s1 = _mm256_loadu_ps(s + i + 8);
        const __m256 s2 = _mm256_loadu_ps(s + i + 16), s3 = _mm256_loadu_ps(s + i + 24);
        _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), s0));
        _mm256_storeu_ps(d + i + 8, _mm256_add_ps(_mm256_loadu_ps(d + i + 8), s1));
        _mm256_storeu_ps(d + i + 16, _mm256_add_ps(_mm256_loadu_ps(d + i + 16), s2));
        _mm256_storeu_ps(d + i + 24, _mm256_add_ps(_mm256_loadu_ps(d + i + 24), s3));
      }
      for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(s + i)));
      }
      for (; i < n; i++) {
        d[i] += s[i];
      }
    }
  }
}

static inline void cnnrt_f32_gather_grad_avx2(int64_t outer, int64_t axis_len, int64_t inner,
                                              const void *indices, int64_t n_indices,
                                              int64_t index_elem_size, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  if (axis_len <= 0 || outer <= 0 || inner <= 0) {
    cnnrt_f32_gather_grad_ref(outer, axis_len, inner, indices, n_indices, index_elem_size, dy,
                              dx);
    return;
  }
  const int64_t threads = cnnrt_scatter_grad_avx2_threads_(par);
  /* Fewer outer positions than threads: split the slice too, in stretches of whole vectors
   * (at least 64 floats, so a stretch is worth a task). */
  int64_t n_chunks = 1;
  if (outer < threads && inner >= 128) {
    n_chunks = (threads + outer - 1) / outer;
    if (n_chunks > inner / 64) {
      n_chunks = inner / 64;
    }
  }
  int64_t chunk = (inner + n_chunks - 1) / n_chunks;
  chunk = (chunk + 7) / 8 * 8;
  n_chunks = (inner + chunk - 1) / chunk;
  const int64_t n_units = outer * n_chunks;
  cnnrt_gather_grad_avx2_task t = {outer,   axis_len, inner, n_indices, index_elem_size,
                                   indices, dy,       dx,    n_chunks,  chunk,
                                   n_units, threads < n_units ? threads : n_units};
  cnnrt_parallel_for(par, cnnrt_gather_grad_avx2_task_, &t, t.n_tasks);
}

/* ---- Resize ---- */

/* r[i] <- column i of the 8x8 matrix whose rows are r[0..7]. */
static inline void cnnrt_scatter_grad_avx2_transpose8_(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* d[0..n) += a * s[0..n) */
static inline void cnnrt_scatter_grad_avx2_axpy_(float *d, const float *s, float a, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(d + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(s + i), _mm256_loadu_ps(d + i)));
  }
  for (; i < n; i++) {
    d[i] += a * s[i];
  }
}

/* dx plane [ih, iw] of a nearest 2x upsampling: the sums of dy's 2x2 blocks. */
static inline void cnnrt_resize_grad_avx2_nearest2_(int64_t ih, int64_t iw, const float *dy,
                                                    float *dx) {
  const int64_t ow = 2 * iw;
  for (int64_t y = 0; y < ih; y++) {
    const float *r0 = dy + 2 * y * ow, *r1 = r0 + ow;
    float *d = dx + y * iw;
    int64_t j = 0;
    for (; j + 8 <= iw; j += 8) {
      const __m256 a = _mm256_add_ps(_mm256_loadu_ps(r0 + 2 * j), _mm256_loadu_ps(r1 + 2 * j));
      const __m256 b =
          _mm256_add_ps(_mm256_loadu_ps(r0 + 2 * j + 8), _mm256_loadu_ps(r1 + 2 * j + 8));
      /* hadd: a01 a23 b01 b23 | a45 a67 b45 b67; the 64-bit permute puts them in order. */
      const __m256 h = _mm256_hadd_ps(a, b);
      _mm256_storeu_ps(d + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(h),
                                                                     _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; j < iw; j++) {
      d[j] = (r0[2 * j] + r1[2 * j]) + (r0[2 * j + 1] + r1[2 * j + 1]);
    }
  }
}

/* One plane through the separable adjoint (cnnrt_resize_grad.h's plan). */
static inline void cnnrt_resize_grad_avx2_plane_(const cnnrt_resize_params *p, const float *dy,
                                                 float *dx) {
  const int64_t r = p->rank, ih = p->in[r - 2], iw = p->in[r - 1];
  const int64_t oh = p->out[r - 2], ow = p->out[r - 1];
  int nt[CNNRT_RESIZE_BLOCK];
  int64_t ci[4 * CNNRT_RESIZE_BLOCK];
  float cw[4 * CNNRT_RESIZE_BLOCK];
  __m256 acc[CNNRT_RESIZE_BLOCK];
  float rows[8][CNNRT_RESIZE_BLOCK];
  memset(dx, 0, (size_t)(ih * iw) * sizeof *dx);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i row_off = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)ow));
  for (int64_t j0 = 0; j0 < ow;) {
    int64_t lo;
    const int64_t j1 = cnnrt_resize_col_block(p, j0, nt, ci, cw, &lo);
    const int64_t span = iw - lo < CNNRT_RESIZE_BLOCK ? iw - lo : CNNRT_RESIZE_BLOCK;
    const int64_t span8 = (span + 7) / 8 * 8;
    for (int64_t y0 = 0; y0 < oh; y0 += 8) {
      const int nrows = oh - y0 < 8 ? (int)(oh - y0) : 8;
      int rn[8];
      int64_t ri[8][4];
      float rw[8][4];
      int any = 0;
      for (int q = 0; q < nrows; q++) {
        double w[4];
        rn[q] = cnnrt_resize__taps(p, r - 2, y0 + q, ri[q], w);
        for (int t = 0; t < rn[q]; t++) {
          rw[q][t] = (float)w[t];
        }
        any |= rn[q] > 0;
      }
      if (!any) {
        continue;
      }
      /* Width adjoint: lanes are the group's rows. */
      const __m256 mask =
          _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nrows), lane));
      for (int64_t x = 0; x < span8; x++) {
        acc[x] = _mm256_setzero_ps();
      }
      const float *col = dy + y0 * ow;
      for (int64_t j = j0; j < j1; j++) {
        const int64_t b = j - j0;
        if (nt[b] == 0) {
          continue;
        }
        const __m256 v =
            _mm256_mask_i32gather_ps(_mm256_setzero_ps(), col + j, row_off, mask, 4);
        for (int t = 0; t < nt[b]; t++) {
          const int64_t x = ci[4 * b + t] - lo;
          acc[x] = _mm256_fmadd_ps(_mm256_set1_ps(cw[4 * b + t]), v, acc[x]);
        }
      }
      /* Back to rows, then the height adjoint. */
      for (int64_t x = 0; x < span8; x += 8) {
        __m256 m[8];
        memcpy(m, acc + x, sizeof m);
        cnnrt_scatter_grad_avx2_transpose8_(m);
        for (int q = 0; q < 8; q++) {
          _mm256_storeu_ps(&rows[q][x], m[q]);
        }
      }
      for (int q = 0; q < nrows; q++) {
        for (int t = 0; t < rn[q]; t++) {
          cnnrt_scatter_grad_avx2_axpy_(dx + ri[q][t] * iw + lo, rows[q], rw[q][t], span);
        }
      }
    }
    j0 = j1;
  }
}

typedef struct cnnrt_resize_grad_avx2_task {
  const cnnrt_resize_params *p;
  const float *dy;
  float *dx;
  int64_t planes, n_tasks;
  int nearest2;
} cnnrt_resize_grad_avx2_task;

static inline void cnnrt_resize_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_resize_grad_avx2_task *t = (const cnnrt_resize_grad_avx2_task *)arg;
  const cnnrt_resize_params *p = t->p;
  const int64_t r = p->rank, ih = p->in[r - 2], iw = p->in[r - 1];
  const int64_t in_plane = ih * iw, out_plane = p->out[r - 2] * p->out[r - 1];
  const int64_t a = t->planes * task / t->n_tasks, b = t->planes * (task + 1) / t->n_tasks;
  for (int64_t pl = a; pl < b; pl++) {
    if (t->nearest2) {
      cnnrt_resize_grad_avx2_nearest2_(ih, iw, t->dy + pl * out_plane, t->dx + pl * in_plane);
    } else {
      cnnrt_resize_grad_avx2_plane_(p, t->dy + pl * out_plane, t->dx + pl * in_plane);
    }
  }
}

static inline void cnnrt_f32_resize_grad_avx2(const cnnrt_resize_params *p, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  if (!cnnrt_resize_last2_ok(p)) {
    cnnrt_f32_resize_grad_ref(p, dy, dx);
    return;
  }
  int64_t planes = 1;
  for (int64_t d = 0; d < p->rank - 2; d++) {
    planes *= p->in[d];
  }
  const int64_t threads = cnnrt_scatter_grad_avx2_threads_(par);
  cnnrt_resize_grad_avx2_task t = {p, dy, dx, planes, threads < planes ? threads : planes,
                                   cnnrt_resize_grad_nearest2(p)};
  cnnrt_parallel_for(par, cnnrt_resize_grad_avx2_task_, &t, t.n_tasks);
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_SCATTER_GRAD_AVX2_H */
