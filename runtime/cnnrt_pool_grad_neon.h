/* cnnrt_pool_grad_neon.h — NEON forms (aarch64 ASIMD and ARMv7 NEON) of the MaxPool and
 * AveragePool gradients of cnnrt_pool_grad.h, same contracts, planes ((n, c) pairs) split over
 * the threads of `par`; the mirror of cnnrt_pool_grad_avx2.h.
 *
 * Along the last axis, the outputs whose window lies wholly inside the row (the interior) run 4
 * at a time; the border outputs and the last (interior % 4) ones take the reference's scalar
 * step.
 *   MaxPool: each tap of the 4 windows is one vector (a load for stride 1, four lanes filled
 *     from scalars otherwise: NEON has no gather), visited in the reference's order, keeping the
 *     first maximum (strict >) and letting the first NaN win, exactly as the reference; each
 *     lane's dy is then added at its argmax (scalar: lanes may share an argmax). Bit-identical
 *     to the reference.
 *   AveragePool: the shares dy / count of 4 outputs (divided as the reference does, so equal to
 *     its shares); with stride 1 each tap adds the vector into a contiguous stretch of dx,
 *     otherwise the shares are added per lane. In the interior the count along the last axis is
 *     the kernel size in both count_include_pad modes. Equal to the reference up to the order
 *     of the additions into dx.
 *   GlobalMaxPool: a vector pass for the plane's maximum and whether it holds a NaN, a second
 *     one for the first lane equal to it (or the first NaN); bit-identical to the reference.
 * Without NEON the functions run the scalar references. */
#ifndef CNNRT_POOL_GRAD_NEON_H
#define CNNRT_POOL_GRAD_NEON_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_pool.h"
#include "cnnrt_pool_grad.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

/* Interior of the last axis: outputs [*lo, *hi) whose k taps all fall inside [0, in). */
static inline void cnnrt_pool_grad_neon_interior_(const cnnrt_pool_geom *g, int64_t *lo,
                                                  int64_t *hi) {
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

/* The reference's per-output MaxPool step. */
static inline void cnnrt_maxpool_grad_neon_one_(const cnnrt_pool_geom *g, const float *xc,
                                                float *dxc, int64_t st0, int64_t a0, int64_t b0,
                                                int64_t st1, int64_t a1, int64_t b1, int64_t o2,
                                                float gy) {
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

static inline void cnnrt_f32_maxpool_grad_range_neon(const cnnrt_pool_params *p, int64_t nc0,
                                                     int64_t nc1, const float *x, const float *dy,
                                                     float *dx) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  const int64_t in1 = g.in[1], in2 = g.in[2], s2 = g.s[2];
  int64_t ilo, ihi;
  cnnrt_pool_grad_neon_interior_(&g, &ilo, &ihi);
  /* lane l's element is l * s2 past lane 0's */
  const int32_t lane_step[4] = {0, (int32_t)s2, (int32_t)(2 * s2), (int32_t)(3 * s2)};
  const int32x4_t lane_off = vld1q_s32(lane_step);
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
        for (; o2 < ilo; o2++) {
          cnnrt_maxpool_grad_neon_one_(&g, xc, dxc, st0, a0, b0, st1, a1, b1, o2, dyr[o2]);
        }
        if (a0 < b0 && a1 < b1) {
          for (; o2 + 4 <= ihi; o2 += 4) {
            const int64_t first = o2 * s2 - g.pb[2]; /* lane 0's first tap within its row */
            float32x4_t best = vdupq_n_f32(0.0f);
            int32x4_t bi = vdupq_n_s32(-1);
            uint32x4_t done = vdupq_n_u32(0); /* lanes whose maximum is a NaN (final) */
            int first_tap = 1;
            for (int64_t j0 = a0; j0 < b0; j0++) {
              const int64_t i0 = st0 + j0 * g.d[0];
              for (int64_t j1 = a1; j1 < b1; j1++) {
                const int64_t i1 = st1 + j1 * g.d[1];
                const int64_t row = (i0 * in1 + i1) * in2;
                for (int64_t j2 = 0; j2 < g.k[2]; j2++) {
                  const int64_t at = row + first + j2 * g.d[2];
                  float32x4_t v;
                  if (s2 == 1) {
                    v = vld1q_f32(xc + at);
                  } else {
                    const float lanes[4] = {xc[at], xc[at + s2], xc[at + 2 * s2],
                                            xc[at + 3 * s2]};
                    v = vld1q_f32(lanes);
                  }
                  const int32x4_t idx = vaddq_s32(lane_off, vdupq_n_s32((int32_t)at));
                  const uint32x4_t nan = vmvnq_u32(vceqq_f32(v, v));
                  uint32x4_t take;
                  if (first_tap) {
                    take = vdupq_n_u32(0xffffffffu);
                    first_tap = 0;
                  } else { /* v > best, or v is NaN; not after a NaN was taken */
                    take = vbicq_u32(vorrq_u32(vcgtq_f32(v, best), nan), done);
                  }
                  best = vbslq_f32(take, v, best);
                  bi = vbslq_s32(take, idx, bi);
                  done = vorrq_u32(done, vandq_u32(take, nan));
                }
              }
            }
            int32_t where[4];
            vst1q_s32(where, bi);
            for (int l = 0; l < 4; l++) {
              dxc[where[l]] += dyr[o2 + l];
            }
          }
        }
        for (; o2 < g.out[2]; o2++) {
          cnnrt_maxpool_grad_neon_one_(&g, xc, dxc, st0, a0, b0, st1, a1, b1, o2, dyr[o2]);
        }
      }
    }
  }
}

static inline void cnnrt_f32_avgpool_grad_range_neon(const cnnrt_pool_params *p, int64_t nc0,
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
  cnnrt_pool_grad_neon_interior_(&g, &ilo, &ihi);
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
        const int64_t rows = (c0b - c0a) * (c1b - c1a);
        for (int64_t o2 = 0; o2 < g.out[2];) {
          if (o2 >= ilo && o2 + 4 <= ihi && rows > 0) {
            /* 4 interior outputs: count = rows * k2 */
            const float count = (float)(rows * g.k[2]);
            const float sh[4] = {dyr[o2] / count, dyr[o2 + 1] / count, dyr[o2 + 2] / count,
                                 dyr[o2 + 3] / count};
            const float32x4_t share = vld1q_f32(sh);
            for (int64_t j0 = a0; j0 < b0; j0++) {
              const int64_t i0 = st0 + j0 * g.d[0];
              for (int64_t j1 = a1; j1 < b1; j1++) {
                const int64_t i1 = st1 + j1 * g.d[1];
                float *row = dxc + (i0 * in1 + i1) * in2 + o2 * g.s[2] - g.pb[2];
                for (int64_t j2 = 0; j2 < g.k[2]; j2++) {
                  float *t = row + j2 * g.d[2];
                  if (g.s[2] == 1) {
                    vst1q_f32(t, vaddq_f32(vld1q_f32(t), share));
                  } else {
                    for (int l = 0; l < 4; l++) {
                      t[l * g.s[2]] += sh[l];
                    }
                  }
                }
              }
            }
            o2 += 4;
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

typedef struct cnnrt_pool_grad_neon_task {
  const cnnrt_pool_params *p;
  const float *x, *dy;
  float *dx;
  int64_t n_tasks, max;
} cnnrt_pool_grad_neon_task;

static inline void cnnrt_pool_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_pool_grad_neon_task *t = (const cnnrt_pool_grad_neon_task *)arg;
  const int64_t planes = t->p->n * t->p->c;
  const int64_t a = planes * task / t->n_tasks, b = planes * (task + 1) / t->n_tasks;
  if (t->max) {
    cnnrt_f32_maxpool_grad_range_neon(t->p, a, b, t->x, t->dy, t->dx);
  } else {
    cnnrt_f32_avgpool_grad_range_neon(t->p, a, b, t->dy, t->dx);
  }
}

static inline int64_t cnnrt_pool_grad_neon_tasks_(const cnnrt_parallel *par, int64_t planes) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < planes ? threads : (planes > 0 ? planes : 1);
}

static inline void cnnrt_f32_maxpool_grad_neon(const cnnrt_pool_params *p, const float *x,
                                               const float *dy, float *dx,
                                               const cnnrt_parallel *par) {
  cnnrt_pool_grad_neon_task t = {p, x, dy, dx, cnnrt_pool_grad_neon_tasks_(par, p->n * p->c), 1};
  cnnrt_parallel_for(par, cnnrt_pool_grad_neon_task_, &t, t.n_tasks);
}

static inline void cnnrt_f32_avgpool_grad_neon(const cnnrt_pool_params *p, const float *dy,
                                               float *dx, const cnnrt_parallel *par) {
  cnnrt_pool_grad_neon_task t = {p, NULL, dy, dx, cnnrt_pool_grad_neon_tasks_(par, p->n * p->c),
                                 0};
  cnnrt_parallel_for(par, cnnrt_pool_grad_neon_task_, &t, t.n_tasks);
}

/* Whether any lane of m is set. */
static inline int cnnrt_pool_grad_neon_any_(uint32x4_t m) {
#if defined(__aarch64__)
  return vmaxvq_u32(m) != 0;
#else
  const uint32x2_t h = vorr_u32(vget_low_u32(m), vget_high_u32(m));
  return (vget_lane_u32(h, 0) | vget_lane_u32(h, 1)) != 0;
#endif
}

/* GlobalMaxPool gradient of planes [nc0, nc1): the reference's rule (the first NaN if the plane
 * has one, else the first maximum) found with one vector pass for the maximum and the presence
 * of NaN (dx zeroed in the same pass), and a second pass that stops at the first group of 4
 * holding a lane equal to it (or unordered); the tail of spatial % 4 is scalar. Bit-identical
 * to the reference (vmaxq is only trusted when no NaN was seen). */
static inline void cnnrt_f32_global_maxpool_grad_range_neon(int64_t nc0, int64_t nc1,
                                                            int64_t spatial, const float *x,
                                                            const float *dy, float *dx) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * spatial;
    float *dxc = dx + nc * spatial;
    if (spatial <= 0) {
      continue;
    }
    float32x4_t vmax = vdupq_n_f32(xc[0]);
    uint32x4_t ordered = vdupq_n_u32(0xffffffffu); /* lanes that saw no NaN */
    int64_t i = 0;
    for (; i + 4 <= spatial; i += 4) {
      const float32x4_t v = vld1q_f32(xc + i);
      ordered = vandq_u32(ordered, vceqq_f32(v, v));
      vmax = vmaxq_f32(vmax, v);
      vst1q_f32(dxc + i, zero);
    }
    int has_nan = cnnrt_pool_grad_neon_any_(vmvnq_u32(ordered));
    float best = 0.0f;
#if defined(__aarch64__)
    best = vmaxvq_f32(vmax);
#else
    {
      float32x2_t h = vpmax_f32(vget_low_f32(vmax), vget_high_f32(vmax));
      h = vpmax_f32(h, h);
      best = vget_lane_f32(h, 0);
    }
#endif
    for (int64_t j = i; j < spatial; j++) {
      dxc[j] = 0.0f;
      if (xc[j] != xc[j]) {
        has_nan = 1;
      } else if (xc[j] > best) {
        best = xc[j];
      }
    }
    const float32x4_t vbest = vdupq_n_f32(best);
    int64_t bi = 0, j = 0;
    for (; j + 4 <= spatial; j += 4) {
      const float32x4_t v = vld1q_f32(xc + j);
      const uint32x4_t hit = has_nan ? vmvnq_u32(vceqq_f32(v, v)) : vceqq_f32(v, vbest);
      if (cnnrt_pool_grad_neon_any_(hit)) {
        break;
      }
    }
    for (bi = j; bi < spatial; bi++) { /* the first hit: in this group of 4, or the tail */
      if (has_nan ? xc[bi] != xc[bi] : xc[bi] == best) {
        break;
      }
    }
    dxc[bi < spatial ? bi : 0] = dy[nc];
  }
}

typedef struct cnnrt_global_maxpool_grad_neon_task {
  int64_t n_c, spatial, n_tasks;
  const float *x, *dy;
  float *dx;
} cnnrt_global_maxpool_grad_neon_task;

static inline void cnnrt_global_maxpool_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_global_maxpool_grad_neon_task *t = (const cnnrt_global_maxpool_grad_neon_task *)arg;
  cnnrt_f32_global_maxpool_grad_range_neon(t->n_c * task / t->n_tasks,
                                           t->n_c * (task + 1) / t->n_tasks, t->spatial, t->x,
                                           t->dy, t->dx);
}

/* Same contract as cnnrt_f32_global_maxpool_grad_ref; planes over the threads of `par`. */
static inline void cnnrt_f32_global_maxpool_grad_neon(int64_t n_c, int64_t spatial,
                                                      const float *x, const float *dy, float *dx,
                                                      const cnnrt_parallel *par) {
  cnnrt_global_maxpool_grad_neon_task t = {n_c, spatial, cnnrt_pool_grad_neon_tasks_(par, n_c), x,
                                           dy, dx};
  cnnrt_parallel_for(par, cnnrt_global_maxpool_grad_neon_task_, &t, t.n_tasks);
}

#else /* no NEON: the scalar references (par unused) */

static inline void cnnrt_f32_maxpool_grad_neon(const cnnrt_pool_params *p, const float *x,
                                               const float *dy, float *dx,
                                               const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_maxpool_grad_ref(p, x, dy, dx);
}

static inline void cnnrt_f32_avgpool_grad_neon(const cnnrt_pool_params *p, const float *dy,
                                               float *dx, const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_avgpool_grad_ref(p, dy, dx);
}

static inline void cnnrt_f32_global_maxpool_grad_neon(int64_t n_c, int64_t spatial,
                                                      const float *x, const float *dy, float *dx,
                                                      const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_global_maxpool_grad_ref(n_c, spatial, x, dy, dx);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_POOL_GRAD_NEON_H */
