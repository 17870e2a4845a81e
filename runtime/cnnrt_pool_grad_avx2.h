/* cnnrt_pool_grad_avx2.h — AVX2 forms of the MaxPool, GlobalMaxPool and AveragePool gradients of
 * cnnrt_pool_grad.h, same contracts, planes ((n, c) pairs) split over the threads of `par`.
 *
 * Along the last axis, the outputs whose window lies wholly inside the row (the interior) run 8
 * at a time (MaxPool: the last few as a partial vector); the border outputs take the scalar
 * path of the reference.
 *   MaxPool: the window's taps are gathered per lane in the reference's order, keeping the
 *     first maximum (strict >) and letting the first NaN win, exactly as the reference; each
 *     lane's dy is then added at its argmax (a scalar scatter: lanes may share an argmax).
 *   GlobalMaxPool: see cnnrt_f32_global_maxpool_grad_range_avx2 (bit-identical).
 *   AveragePool: dy / count for 8 outputs at once; with stride 1 each tap adds the vector into
 *     a contiguous stretch of dx, otherwise the shares are scattered per lane. In the interior
 *     the count along the last axis is the kernel size in both count_include_pad modes.
 * MaxPool's result is bit-identical to the reference; AveragePool's up to the order of the
 * additions into dx. Empty without AVX2+FMA. */
#ifndef CNNRT_POOL_GRAD_AVX2_H
#define CNNRT_POOL_GRAD_AVX2_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_pool.h"
#include "cnnrt_pool_grad.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* Interior of the last axis: outputs [*lo, *hi) whose k taps all fall inside [0, in). */
static inline void cnnrt_pool_grad_interior_(const cnnrt_pool_geom *g, int64_t *lo, int64_t *hi) {
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

/* The reference's per-output MaxPool step (border outputs). */
static inline void cnnrt_maxpool_grad_one_(const cnnrt_pool_geom *g, const float *xc, float *dxc,
                                           int64_t st0, int64_t a0, int64_t b0, int64_t st1,
                                           int64_t a1, int64_t b1, int64_t o2, float gy) {
  const int64_t in1 = g->in[1], in2 = g->in[2];
  const int64_t st2 = o2 * g->s[2] - g->pb[2];
  int64_t a2, b2;
  cnnrt_pool_taps(st2, g->k[2], g->d[2], 0, in2, &a2, &b2);
  float best = -INFINITY;
  int64_t bi = -1;
  for (int64_t j0 = a0; j0 < b0; j0++) {
    const int64_t i0 = st0 + j0 * g->d[0];
    for (int64_t j1 = a1; j1 < b1; j1++) {
      const int64_t i1 = st1 + j1 * g->d[1];
      const int64_t row = (i0 * in1 + i1) * in2;
      for (int64_t j2 = a2; j2 < b2; j2++) {
        const int64_t i = row + st2 + j2 * g->d[2];
        if (bi < 0 || xc[i] > best || xc[i] != xc[i]) {
          best = xc[i];
          bi = i;
          if (best != best) {
            j0 = b0;
            j1 = b1;
            break;
          }
        }
      }
    }
  }
  if (bi >= 0) {
    dxc[bi] += gy;
  }
}

static inline void cnnrt_f32_maxpool_grad_range_avx2(const cnnrt_pool_params *p, int64_t nc0,
                                                     int64_t nc1, const float *x, const float *dy,
                                                     float *dx) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  const int64_t in1 = g.in[1], in2 = g.in[2];
  int64_t ilo, ihi;
  cnnrt_pool_grad_interior_(&g, &ilo, &ihi);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i vs2 = _mm256_set1_epi32((int)g.s[2]);
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g.in_size;
    const float *dyc = dy + nc * g.out_size;
    float *dxc = dx + nc * g.in_size;
    memset(dxc, 0, sizeof(float) * (size_t)g.in_size);
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      const int64_t st0 = o0 * g.s[0] - g.pb[0];
      int64_t a0, b0;
      cnnrt_pool_taps(st0, g.k[0], g.d[0], 0, g.in[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        const int64_t st1 = o1 * g.s[1] - g.pb[1];
        int64_t a1, b1;
        cnnrt_pool_taps(st1, g.k[1], g.d[1], 0, in1, &a1, &b1);
        const float *dyr = dyc + (o0 * g.out[1] + o1) * g.out[2];
        int64_t o2 = 0;
        for (; o2 < ilo && o2 < g.out[2]; o2++) {
          cnnrt_maxpool_grad_one_(&g, xc, dxc, st0, a0, b0, st1, a1, b1, o2, dyr[o2]);
        }
        if (a0 < b0 && a1 < b1) {
          /* 8 outputs at a time; the last interior ones as a partial vector (lanes >= nl off) */
          int nl = 8;
          for (; o2 < ihi; o2 += nl) {
            nl = ihi - o2 < 8 ? (int)(ihi - o2) : 8;
            const __m256 on = _mm256_castsi256_ps(
                _mm256_cmpgt_epi32(_mm256_set1_epi32(nl), lane));
            /* element index of each lane's first tap along the last axis, within its row */
            const __m256i base = _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)o2), lane), vs2),
                _mm256_set1_epi32((int)-g.pb[2]));
            __m256 best = _mm256_setzero_ps();
            __m256i bi = _mm256_set1_epi32(-1);
            __m256 done = _mm256_setzero_ps(); /* lanes whose maximum is a NaN (final) */
            for (int64_t j0 = a0; j0 < b0; j0++) {
              const int64_t i0 = st0 + j0 * g.d[0];
              for (int64_t j1 = a1; j1 < b1; j1++) {
                const int64_t i1 = st1 + j1 * g.d[1];
                const int64_t row = (i0 * in1 + i1) * in2;
                for (int64_t j2 = 0; j2 < g.k[2]; j2++) {
                  const __m256i idx =
                      _mm256_add_epi32(base, _mm256_set1_epi32((int)(row + j2 * g.d[2])));
                  const __m256 v =
                      _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, idx, on, 4);
                  __m256 take;
                  if (j0 == a0 && j1 == a1 && j2 == 0) {
                    take = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
                  } else { /* v > best, or v is NaN; not after a NaN was taken */
                    take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                        _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    take = _mm256_andnot_ps(done, take);
                  }
                  best = _mm256_blendv_ps(best, v, take);
                  bi = _mm256_castps_si256(
                      _mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), take));
                  done = _mm256_or_ps(done, _mm256_and_ps(take, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
                }
              }
            }
            int32_t where[8];
            _mm256_storeu_si256((__m256i *)(void *)where, bi);
            for (int l = 0; l < nl; l++) {
              dxc[where[l]] += dyr[o2 + l];
            }
          }
        }
        for (; o2 < g.out[2]; o2++) {
          cnnrt_maxpool_grad_one_(&g, xc, dxc, st0, a0, b0, st1, a1, b1, o2, dyr[o2]);
        }
      }
    }
  }
}

static inline void cnnrt_f32_avgpool_grad_range_avx2(const cnnrt_pool_params *p, int64_t nc0,
                                                     int64_t nc1, const float *dy, float *dx) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  int64_t lo[3], hi[3];
  for (int64_t i = 0; i < 3; i++) {
    lo[i] = p->count_include_pad ? -g.pb[i] : 0;
    hi[i] = p->count_include_pad ? g.in[i] + g.pe[i] : g.in[i];
  }
  const int64_t in1 = g.in[1], in2 = g.in[2];
  int64_t ilo, ihi;
  cnnrt_pool_grad_interior_(&g, &ilo, &ihi);
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *dyc = dy + nc * g.out_size;
    float *dxc = dx + nc * g.in_size;
    memset(dxc, 0, sizeof(float) * (size_t)g.in_size);
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      int64_t st0 = o0 * g.s[0] - g.pb[0], a0, b0, c0a, c0b;
      cnnrt_pool_taps(st0, g.k[0], g.d[0], 0, g.in[0], &a0, &b0);
      cnnrt_pool_taps(st0, g.k[0], g.d[0], lo[0], hi[0], &c0a, &c0b);
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        int64_t st1 = o1 * g.s[1] - g.pb[1], a1, b1, c1a, c1b;
        cnnrt_pool_taps(st1, g.k[1], g.d[1], 0, in1, &a1, &b1);
        cnnrt_pool_taps(st1, g.k[1], g.d[1], lo[1], hi[1], &c1a, &c1b);
        const float *dyr = dyc + (o0 * g.out[1] + o1) * g.out[2];
        for (int64_t o2 = 0; o2 < g.out[2];) {
          const int64_t rows = (c0b - c0a) * (c1b - c1a);
          if (o2 >= ilo && o2 + 8 <= ihi && rows > 0) {
            /* 8 interior outputs: count = rows * k2 */
            const __m256 share = _mm256_div_ps(_mm256_loadu_ps(dyr + o2),
                                               _mm256_set1_ps((float)(rows * g.k[2])));
            float sh[8];
            _mm256_storeu_ps(sh, share);
            for (int64_t j0 = a0; j0 < b0; j0++) {
              const int64_t i0 = st0 + j0 * g.d[0];
              for (int64_t j1 = a1; j1 < b1; j1++) {
                const int64_t i1 = st1 + j1 * g.d[1];
                float *row = dxc + (i0 * in1 + i1) * in2 + o2 * g.s[2] - g.pb[2];
                for (int64_t j2 = 0; j2 < g.k[2]; j2++) {
                  float *t = row + j2 * g.d[2];
                  if (g.s[2] == 1) {
                    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), share));
                  } else {
                    for (int l = 0; l < 8; l++) {
                      t[l * g.s[2]] += sh[l];
                    }
                  }
                }
              }
            }
            o2 += 8;
            continue;
          }
          /* the reference's step for one output */
          int64_t st2 = o2 * g.s[2] - g.pb[2], a2, b2, c2a, c2b;
          cnnrt_pool_taps(st2, g.k[2], g.d[2], 0, in2, &a2, &b2);
          cnnrt_pool_taps(st2, g.k[2], g.d[2], lo[2], hi[2], &c2a, &c2b);
          const int64_t count = rows * (c2b - c2a);
          if (count > 0) {
            const float share = dyr[o2] / (float)count;
            for (int64_t j0 = a0; j0 < b0; j0++) {
              int64_t i0 = st0 + j0 * g.d[0];
              for (int64_t j1 = a1; j1 < b1; j1++) {
                int64_t i1 = st1 + j1 * g.d[1];
                float *row = dxc + (i0 * in1 + i1) * in2 + st2;
                for (int64_t j2 = a2; j2 < b2; j2++) {
                  row[j2 * g.d[2]] += share;
                }
              }
            }
          }
          o2++;
        }
      }
    }
  }
}

typedef struct cnnrt_pool_grad_avx2_task {
  const cnnrt_pool_params *p;
  const float *x, *dy;
  float *dx;
  int64_t n_tasks, max;
} cnnrt_pool_grad_avx2_task;

static inline void cnnrt_pool_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_pool_grad_avx2_task *t = (const cnnrt_pool_grad_avx2_task *)arg;
  const int64_t planes = t->p->n * t->p->c;
  const int64_t a = planes * task / t->n_tasks, b = planes * (task + 1) / t->n_tasks;
  if (t->max) {
    cnnrt_f32_maxpool_grad_range_avx2(t->p, a, b, t->x, t->dy, t->dx);
  } else {
    cnnrt_f32_avgpool_grad_range_avx2(t->p, a, b, t->dy, t->dx);
  }
}

static inline int64_t cnnrt_pool_grad_avx2_tasks_(const cnnrt_parallel *par, int64_t planes) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < planes ? threads : (planes > 0 ? planes : 1);
}

static inline void cnnrt_f32_maxpool_grad_avx2(const cnnrt_pool_params *p, const float *x,
                                               const float *dy, float *dx,
                                               const cnnrt_parallel *par) {
  cnnrt_pool_grad_avx2_task t = {p, x, dy, dx, cnnrt_pool_grad_avx2_tasks_(par, p->n * p->c), 1};
  cnnrt_parallel_for(par, cnnrt_pool_grad_avx2_task_, &t, t.n_tasks);
}

static inline void cnnrt_f32_avgpool_grad_avx2(const cnnrt_pool_params *p, const float *dy,
                                               float *dx, const cnnrt_parallel *par) {
  cnnrt_pool_grad_avx2_task t = {p, NULL, dy, dx, cnnrt_pool_grad_avx2_tasks_(par, p->n * p->c), 0};
  cnnrt_parallel_for(par, cnnrt_pool_grad_avx2_task_, &t, t.n_tasks);
}

/* GlobalMaxPool gradient of planes [nc0, nc1): the reference's rule (the first NaN if the plane
 * has one, else the first maximum) found with one vector pass for the maximum and the presence
 * of NaN, and a second pass that stops at the first lane equal to it (or unordered); dx zeroed
 * with vector stores. Bit-identical to the reference. */
static inline void cnnrt_f32_global_maxpool_grad_range_avx2(int64_t nc0, int64_t nc1,
                                                            int64_t spatial, const float *x,
                                                            const float *dy, float *dx) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * spatial;
    float *dxc = dx + nc * spatial;
    if (spatial <= 0) {
      continue;
    }
    /* max over the plane (masked tail lanes repeat x[0]) and whether any lane is NaN */
    __m256 vmax = _mm256_set1_ps(xc[0]);
    __m256 vnan = _mm256_setzero_ps();
    for (int64_t i = 0; i < spatial; i += 8) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(spatial - i < 8 ? spatial - i : 8)), lanes);
      const __m256 v = _mm256_blendv_ps(_mm256_set1_ps(xc[0]), _mm256_maskload_ps(xc + i, m),
                                        _mm256_castsi256_ps(m));
      vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      vmax = _mm256_max_ps(vmax, v);
      _mm256_maskstore_ps(dxc + i, m, _mm256_setzero_ps());
    }
    const int has_nan = _mm256_movemask_ps(vnan) != 0;
    float best = 0.0f;
    if (!has_nan) {
      __m128 h = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
      best = _mm_cvtss_f32(h);
    }
    const __m256 vbest = _mm256_set1_ps(best);
    int64_t bi = 0;
    for (int64_t i = 0; i < spatial; i += 8) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(spatial - i < 8 ? spatial - i : 8)), lanes);
      const __m256 v = _mm256_maskload_ps(xc + i, m);
      const __m256 hit = has_nan ? _mm256_cmp_ps(v, v, _CMP_UNORD_Q) : _mm256_cmp_ps(v, vbest, _CMP_EQ_OQ);
      const int bits = _mm256_movemask_ps(_mm256_and_ps(hit, _mm256_castsi256_ps(m)));
      if (bits != 0) {
        int lane = 0;
        while (!((bits >> lane) & 1)) {
          lane++;
        }
        bi = i + lane;
        break;
      }
    }
    dxc[bi] = dy[nc];
  }
}

typedef struct cnnrt_global_maxpool_grad_avx2_task {
  int64_t n_c, spatial, n_tasks;
  const float *x, *dy;
  float *dx;
} cnnrt_global_maxpool_grad_avx2_task;

static inline void cnnrt_global_maxpool_grad_avx2_task_(void *arg, int64_t task) {
  const cnnrt_global_maxpool_grad_avx2_task *t = (const cnnrt_global_maxpool_grad_avx2_task *)arg;
  cnnrt_f32_global_maxpool_grad_range_avx2(t->n_c * task / t->n_tasks,
                                           t->n_c * (task + 1) / t->n_tasks, t->spatial, t->x,
                                           t->dy, t->dx);
}

/* Same contract as cnnrt_f32_global_maxpool_grad_ref; planes over the threads of `par`. */
static inline void cnnrt_f32_global_maxpool_grad_avx2(int64_t n_c, int64_t spatial,
                                                      const float *x, const float *dy, float *dx,
                                                      const cnnrt_parallel *par) {
  cnnrt_global_maxpool_grad_avx2_task t = {n_c, spatial, cnnrt_pool_grad_avx2_tasks_(par, n_c), x,
                                           dy, dx};
  cnnrt_parallel_for(par, cnnrt_global_maxpool_grad_avx2_task_, &t, t.n_tasks);
}

#endif /* __AVX2__ && __FMA__ */
#endif /* CNNRT_POOL_GRAD_AVX2_H */
