/* cnnrt_pool_neon.h — NEON forms (aarch64 ASIMD and ARMv7 NEON) of the forward MaxPool (without
 * Indices), AveragePool and GlobalMaxPool / GlobalAveragePool of cnnrt_pool.h, same contracts,
 * planes ((n, c) pairs) split over the threads of `par`; the mirror of cnnrt_pool_avx2.h.
 *
 * Windowed pools: along the last axis the outputs whose window lies wholly inside the row (the
 * interior) run in vectors of 4, two vectors at a time (two independent dependency chains),
 * with the accumulators in registers, the last vectors overlapping the previous ones when the
 * interior is not a multiple of 8 (outputs are recomputed, not accumulated); border outputs
 * take the reference's scalar step. The taps of the 4 windows are
 * one vector each: a load for stride 1, two overlapping loads x[0..3], x[3..6] unzipped for
 * stride 2 (vld2q would read x[7], possibly past the tensor), four lanes filled from scalars
 * otherwise (NEON has no gather). Taps in the reference's order, with its operations:
 *   MaxPool: acc = x > acc ? x : acc as a compare and bit-select (vmaxq would propagate NaN and
 *     order -0 < +0; the reference ignores NaN and keeps the first of equal values).
 *   AveragePool: the sum from 0.0f in the same order, divided by the same count (vdivq on
 *     aarch64; ARMv7 has no vector division, so its lanes are divided as scalars).
 * Global pools: the 8 partial results of cnnrt_pool_reduce in two vectors.
 * Bit-identical to the references, except that ARMv7 NEON arithmetic flushes subnormal inputs
 * and results to zero (the scalar VFP code does not). Without NEON the functions run the scalar
 * references, so the generated code calls them unconditionally on ARM targets. */
#ifndef CNNRT_POOL_NEON_H
#define CNNRT_POOL_NEON_H

#include "cnnrt.h"
#include "cnnrt_pool.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

/* Interior of the last axis: outputs [*lo, *hi) whose k taps all fall inside [0, in). */
static inline void cnnrt_pool_neon_interior_(const cnnrt_pool_geom *g, int64_t *lo, int64_t *hi) {
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

/* x[0], x[s], x[2s], x[3s], reading only x[0 .. 3s]. */
static inline float32x4_t cnnrt_pool_neon_load_(const float *x, int64_t s) {
  if (s == 1) {
    return vld1q_f32(x);
  }
  if (s == 2) {
    /* even lanes of x0..x3 (x0 x2), odd lanes of x3..x6 (x4 x6) */
    const float32x4x2_t u = vuzpq_f32(vld1q_f32(x), vld1q_f32(x + 3));
    return vcombine_f32(vget_low_f32(u.val[0]), vget_high_f32(u.val[1]));
  }
  const float t[4] = {x[0], x[s], x[2 * s], x[3 * s]};
  return vld1q_f32(t);
}

static inline float32x4_t cnnrt_pool_neon_max_(float32x4_t v, float32x4_t acc) {
  return vbslq_f32(vcgtq_f32(v, acc), v, acc); /* v > acc ? v : acc, per lane */
}

/* acc / c, a true division per lane. */
static inline float32x4_t cnnrt_pool_neon_div_(float32x4_t acc, float c) {
#if defined(__aarch64__)
  return vdivq_f32(acc, vdupq_n_f32(c));
#else
  float t[4];
  vst1q_f32(t, acc);
  for (int l = 0; l < 4; l++) {
    t[l] /= c;
  }
  return vld1q_f32(t);
#endif
}

/* The reference's result for one output o2 of a row (border outputs): the taps in its order. */
static inline float cnnrt_pool_neon_one_(const cnnrt_pool_geom *g, int max, const float *xc,
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

/* MaxPool (max = 1) or AveragePool (max = 0) of planes [nc0, nc1). */
static inline void cnnrt_f32_pool_range_neon(const cnnrt_pool_params *p, int max, int64_t nc0,
                                             int64_t nc1, const float *x, float *y) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  const int64_t in1 = g.in[1], in2 = g.in[2], out1 = g.out[1], out2 = g.out[2];
  const int64_t k2 = g.k[2], s2 = g.s[2], d2 = g.d[2], pb2 = g.pb[2];
  int64_t ilo, ihi;
  cnnrt_pool_neon_interior_(&g, &ilo, &ihi);
  const int vec = ihi - ilo >= 4;
  int64_t lo[3], hi[3]; /* AveragePool's counted range per axis */
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
            /* interior: two vectors of 4 outputs at a time (two independent dependency
             * chains), their starts clamped to end at ihi */
            for (int64_t v0 = ilo; v0 < ihi; v0 += 8) {
              const int64_t oa = v0 + 4 <= ihi ? v0 : ihi - 4;
              const int64_t ob = v0 + 8 <= ihi ? v0 + 4 : ihi - 4;
              float32x4_t acca = vdupq_n_f32(max ? -INFINITY : 0.0f), accb = acca;
              for (int64_t j0 = a0; j0 < b0; j0++) {
                for (int64_t j1 = a1; j1 < b1; j1++) {
                  const float *xr =
                      xc + ((st0 + j0 * g.d[0]) * in1 + st1 + j1 * g.d[1]) * in2 - pb2;
                  const float *xa = xr + oa * s2, *xb = xr + ob * s2;
                  if (max) {
                    for (int64_t j2 = 0; j2 < k2; j2++) {
                      acca = cnnrt_pool_neon_max_(cnnrt_pool_neon_load_(xa + j2 * d2, s2), acca);
                      accb = cnnrt_pool_neon_max_(cnnrt_pool_neon_load_(xb + j2 * d2, s2), accb);
                    }
                  } else {
                    for (int64_t j2 = 0; j2 < k2; j2++) {
                      acca = vaddq_f32(acca, cnnrt_pool_neon_load_(xa + j2 * d2, s2));
                      accb = vaddq_f32(accb, cnnrt_pool_neon_load_(xb + j2 * d2, s2));
                    }
                  }
                }
              }
              if (!max) {
                const float cnt = (float)(c01 * k2);
                acca = c01 > 0 ? cnnrt_pool_neon_div_(acca, cnt) : vdupq_n_f32(0.0f);
                accb = c01 > 0 ? cnnrt_pool_neon_div_(accb, cnt) : vdupq_n_f32(0.0f);
              }
              vst1q_f32(yr + oa, acca);
              vst1q_f32(yr + ob, accb);
            }
            o2 = ihi - 1;
            continue;
          }
          const float r = cnnrt_pool_neon_one_(&g, max, xc, st0, a0, b0, st1, a1, b1, o2);
          yr[o2] = max ? r : cnnrt_pool_avg_edge(&g, r, c01, o2, lo[2], hi[2]);
        }
      }
    }
  }
}

/* cnnrt_pool_reduce (SUM or MAX) of one plane, lanes 0-3 and 4-7 in two vectors. */
static inline float cnnrt_pool_reduce_neon_(int max, const float *x, int64_t n) {
  const float init = max ? -INFINITY : 0.0f;
  float32x4_t acc0 = vdupq_n_f32(init), acc1 = acc0;
  const int64_t nv = n - n % CNNRT_POOL_LANES;
  if (max) {
    for (int64_t i = 0; i < nv; i += 8) {
      acc0 = cnnrt_pool_neon_max_(vld1q_f32(x + i), acc0);
      acc1 = cnnrt_pool_neon_max_(vld1q_f32(x + i + 4), acc1);
    }
  } else {
    for (int64_t i = 0; i < nv; i += 8) {
      acc0 = vaddq_f32(acc0, vld1q_f32(x + i));
      acc1 = vaddq_f32(acc1, vld1q_f32(x + i + 4));
    }
  }
  float lanes[8];
  vst1q_f32(lanes, acc0);
  vst1q_f32(lanes + 4, acc1);
  cnnrt_pool_row(max ? CNNRT_POOL_OP_MAX : CNNRT_POOL_OP_SUM, 0.0f, lanes, x + nv, n - nv, 1);
  float r = init;
  for (int l = 0; l < 8; l++) {
    r = max ? (lanes[l] > r ? lanes[l] : r) : r + lanes[l];
  }
  return r;
}

#endif /* __ARM_NEON */

/* Planes [nc0, nc1): the NEON kernel, or the reference without NEON. */
static inline void cnnrt_pool_neon_range_(const cnnrt_pool_params *p, int max, int64_t nc0,
                                          int64_t nc1, const float *x, float *y) {
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
  cnnrt_f32_pool_range_neon(p, max, nc0, nc1, x, y);
#else
  if (max) {
    cnnrt_f32_maxpool_range_ref(p, nc0, nc1, x, y, NULL);
  } else {
    cnnrt_f32_avgpool_range_ref(p, nc0, nc1, x, y);
  }
#endif
}

typedef struct cnnrt_pool_neon_task {
  const cnnrt_pool_params *p;
  const float *x;
  float *y;
  int64_t n_tasks;
  int max;
} cnnrt_pool_neon_task;

static inline void cnnrt_pool_neon_task_fn_(void *arg, int64_t t) {
  const cnnrt_pool_neon_task *a = (const cnnrt_pool_neon_task *)arg;
  const int64_t planes = a->p->n * a->p->c;
  cnnrt_pool_neon_range_(a->p, a->max, planes * t / a->n_tasks, planes * (t + 1) / a->n_tasks,
                         a->x, a->y);
}

static inline int64_t cnnrt_pool_neon_tasks_(const cnnrt_parallel *par, int64_t planes) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < planes ? threads : (planes > 0 ? planes : 1);
}

/* MaxPool without Indices (par may be NULL: one task). */
static inline void cnnrt_f32_maxpool_neon(const cnnrt_pool_params *p, const float *x, float *y,
                                          const cnnrt_parallel *par) {
  cnnrt_pool_neon_task t = {p, x, y, cnnrt_pool_neon_tasks_(par, p->n * p->c), 1};
  cnnrt_parallel_for(par, cnnrt_pool_neon_task_fn_, &t, t.n_tasks);
}

static inline void cnnrt_f32_avgpool_neon(const cnnrt_pool_params *p, const float *x, float *y,
                                          const cnnrt_parallel *par) {
  cnnrt_pool_neon_task t = {p, x, y, cnnrt_pool_neon_tasks_(par, p->n * p->c), 0};
  cnnrt_parallel_for(par, cnnrt_pool_neon_task_fn_, &t, t.n_tasks);
}

static inline void cnnrt_f32_global_avgpool_neon(int64_t n_c, int64_t spatial_size,
                                                 const float *x, float *y) {
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
  for (int64_t i = 0; i < n_c; i++) {
    const float s = cnnrt_pool_reduce_neon_(0, x + i * spatial_size, spatial_size);
    y[i] = spatial_size > 0 ? s / (float)spatial_size : 0.0f;
  }
#else
  cnnrt_f32_global_avgpool_ref(n_c, spatial_size, x, y);
#endif
}

static inline void cnnrt_f32_global_maxpool_neon(int64_t n_c, int64_t spatial_size,
                                                 const float *x, float *y) {
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
  for (int64_t i = 0; i < n_c; i++) {
    y[i] = cnnrt_pool_reduce_neon_(1, x + i * spatial_size, spatial_size);
  }
#else
  cnnrt_f32_global_maxpool_ref(n_c, spatial_size, x, y);
#endif
}

#endif /* CNNRT_POOL_NEON_H */
