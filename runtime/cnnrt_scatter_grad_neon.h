/* cnnrt_scatter_grad_neon.h — NEON forms (aarch64 ASIMD and ARMv7 NEON) of the two scatter-add
 * gradients, same contracts as their scalar references, work split over the threads of `par`;
 * the mirror of cnnrt_scatter_grad_avx2.h (see there for the structure):
 *
 *   cnnrt_f32_gather_grad_neon   Gather's gradient (cnnrt_f32_gather_grad_ref): each index adds
 *     one contiguous dy row into one dx row, 4 floats at a time, every dx element receiving its
 *     terms in the reference's order: bit-identical to the reference (ARMv7 NEON flushes
 *     subnormal results to zero where the scalar VFP code may not).
 *
 *   cnnrt_f32_resize_grad_neon   Resize's gradient (cnnrt_f32_resize_grad_ref): the separable
 *     adjoint of cnnrt_resize_grad.h's plan with 4 output rows as the lanes (full 4x4 blocks of
 *     dy are loaded as rows and transposed, other columns filled lane by lane: NEON has no
 *     gather), the per-input-column accumulators transposed back and added into the input rows;
 *     nearest 2x upsampling sums the 2x2 blocks with pairwise adds. Every mode and coordinate
 *     mode; within ~1e-6 relative of the reference (float weights, another addition order).
 *     Multiply-adds are fused on aarch64 and with VFPv4 (__ARM_FEATURE_FMA), VMLA otherwise.
 *     Other shapes (rank 1, resized leading axes, empty axes) run the reference.
 *
 * Without NEON the functions run the scalar references. */
#ifndef CNNRT_SCATTER_GRAD_NEON_H
#define CNNRT_SCATTER_GRAD_NEON_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_resize_grad.h"
#include "cnnrt_tensor.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

/* acc + a * b */
static inline float32x4_t cnnrt_scatter_grad_neon_fma_(float32x4_t acc, float32x4_t a,
                                                       float32x4_t b) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmaq_f32(acc, a, b);
#else
  return vmlaq_f32(acc, a, b);
#endif
}

static inline int64_t cnnrt_scatter_grad_neon_threads_(const cnnrt_parallel *par) {
  return par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
}

/* ---- Gather ---- */

typedef struct cnnrt_gather_grad_neon_task {
  int64_t outer, axis_len, inner, n_indices, index_elem_size;
  const void *indices;
  const float *dy;
  float *dx;
  int64_t n_chunks, chunk; /* the slice split into n_chunks stretches of `chunk` floats */
  int64_t n_units, n_tasks; /* units = outer * n_chunks, split evenly over the tasks */
} cnnrt_gather_grad_neon_task;

static inline void cnnrt_gather_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_gather_grad_neon_task *t = (const cnnrt_gather_grad_neon_task *)arg;
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
      for (; i + 16 <= n; i += 16) {
        const float32x4_t s0 = vld1q_f32(s + i), s1 = vld1q_f32(s + i + 4);
        const float32x4_t s2 = vld1q_f32(s + i + 8), s3 = vld1q_f32(s + i + 12);
        vst1q_f32(d + i, vaddq_f32(vld1q_f32(d + i), s0));
        vst1q_f32(d + i + 4, vaddq_f32(vld1q_f32(d + i + 4), s1));
        vst1q_f32(d + i + 8, vaddq_f32(vld1q_f32(d + i + 8), s2));
        vst1q_f32(d + i + 12, vaddq_f32(vld1q_f32(d + i + 12), s3));
      }
      for (; i + 4 <= n; i += 4) {
        vst1q_f32(d + i, vaddq_f32(vld1q_f32(d + i), vld1q_f32(s + i)));
      }
      for (; i < n; i++) {
        d[i] += s[i];
      }
    }
  }
}

static inline void cnnrt_f32_gather_grad_neon(int64_t outer, int64_t axis_len, int64_t inner,
                                              const void *indices, int64_t n_indices,
                                              int64_t index_elem_size, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  if (axis_len <= 0 || outer <= 0 || inner <= 0) {
    cnnrt_f32_gather_grad_ref(outer, axis_len, inner, indices, n_indices, index_elem_size, dy,
                              dx);
    return;
  }
  const int64_t threads = cnnrt_scatter_grad_neon_threads_(par);
  /* Fewer outer positions than threads: split the slice too (stretches of >= 64 floats). */
  int64_t n_chunks = 1;
  if (outer < threads && inner >= 128) {
    n_chunks = (threads + outer - 1) / outer;
    if (n_chunks > inner / 64) {
      n_chunks = inner / 64;
    }
  }
  int64_t chunk = (inner + n_chunks - 1) / n_chunks;
  chunk = (chunk + 3) / 4 * 4;
  n_chunks = (inner + chunk - 1) / chunk;
  const int64_t n_units = outer * n_chunks;
  cnnrt_gather_grad_neon_task t = {outer,   axis_len, inner, n_indices, index_elem_size,
                                   indices, dy,       dx,    n_chunks,  chunk,
                                   n_units, threads < n_units ? threads : n_units};
  cnnrt_parallel_for(par, cnnrt_gather_grad_neon_task_, &t, t.n_tasks);
}

/* ---- Resize ---- */

/* r[i] <- column i of the 4x4 matrix whose rows are r[0..3]. */
static inline void cnnrt_scatter_grad_neon_transpose4_(float32x4_t r[4]) {
  const float32x4x2_t t0 = vtrnq_f32(r[0], r[1]); /* r00 r10 r02 r12 | r01 r11 r03 r13 */
  const float32x4x2_t t1 = vtrnq_f32(r[2], r[3]);
  r[0] = vcombine_f32(vget_low_f32(t0.val[0]), vget_low_f32(t1.val[0]));
  r[1] = vcombine_f32(vget_low_f32(t0.val[1]), vget_low_f32(t1.val[1]));
  r[2] = vcombine_f32(vget_high_f32(t0.val[0]), vget_high_f32(t1.val[0]));
  r[3] = vcombine_f32(vget_high_f32(t0.val[1]), vget_high_f32(t1.val[1]));
}

/* d[0..n) += a * s[0..n) */
static inline void cnnrt_scatter_grad_neon_axpy_(float *d, const float *s, float a, int64_t n) {
  const float32x4_t va = vdupq_n_f32(a);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(d + i, cnnrt_scatter_grad_neon_fma_(vld1q_f32(d + i), va, vld1q_f32(s + i)));
  }
  for (; i < n; i++) {
    d[i] += a * s[i];
  }
}

/* dx plane [ih, iw] of a nearest 2x upsampling: the sums of dy's 2x2 blocks. */
static inline void cnnrt_resize_grad_neon_nearest2_(int64_t ih, int64_t iw, const float *dy,
                                                    float *dx) {
  const int64_t ow = 2 * iw;
  for (int64_t y = 0; y < ih; y++) {
    const float *r0 = dy + 2 * y * ow, *r1 = r0 + ow;
    float *d = dx + y * iw;
    int64_t j = 0;
    for (; j + 4 <= iw; j += 4) {
      const float32x4_t a = vaddq_f32(vld1q_f32(r0 + 2 * j), vld1q_f32(r1 + 2 * j));
      const float32x4_t b = vaddq_f32(vld1q_f32(r0 + 2 * j + 4), vld1q_f32(r1 + 2 * j + 4));
#if defined(__aarch64__)
      vst1q_f32(d + j, vpaddq_f32(a, b));
#else
      vst1q_f32(d + j, vcombine_f32(vpadd_f32(vget_low_f32(a), vget_high_f32(a)),
                                    vpadd_f32(vget_low_f32(b), vget_high_f32(b))));
#endif
    }
    for (; j < iw; j++) {
      d[j] = (r0[2 * j] + r1[2 * j]) + (r0[2 * j + 1] + r1[2 * j + 1]);
    }
  }
}

/* Column j's accumulation: acc[tap - lo] += weight * v over its taps. */
static inline void cnnrt_resize_grad_neon_col_(float32x4_t *acc, int nt, const int64_t *ci,
                                               const float *cw, int64_t lo, float32x4_t v) {
  for (int t = 0; t < nt; t++) {
    acc[ci[t] - lo] = cnnrt_scatter_grad_neon_fma_(acc[ci[t] - lo], vdupq_n_f32(cw[t]), v);
  }
}

/* One plane through the separable adjoint (cnnrt_resize_grad.h's plan). */
static inline void cnnrt_resize_grad_neon_plane_(const cnnrt_resize_params *p, const float *dy,
                                                 float *dx) {
  const int64_t r = p->rank, ih = p->in[r - 2], iw = p->in[r - 1];
  const int64_t oh = p->out[r - 2], ow = p->out[r - 1];
  int nt[CNNRT_RESIZE_BLOCK];
  int64_t ci[4 * CNNRT_RESIZE_BLOCK];
  float cw[4 * CNNRT_RESIZE_BLOCK];
  float32x4_t acc[CNNRT_RESIZE_BLOCK];
  float rows[4][CNNRT_RESIZE_BLOCK];
  memset(dx, 0, (size_t)(ih * iw) * sizeof *dx);
  for (int64_t j0 = 0; j0 < ow;) {
    int64_t lo;
    const int64_t j1 = cnnrt_resize_col_block(p, j0, nt, ci, cw, &lo);
    const int64_t span = iw - lo < CNNRT_RESIZE_BLOCK ? iw - lo : CNNRT_RESIZE_BLOCK;
    const int64_t span4 = (span + 3) / 4 * 4;
    for (int64_t y0 = 0; y0 < oh; y0 += 4) {
      const int nrows = oh - y0 < 4 ? (int)(oh - y0) : 4;
      int rn[4];
      int64_t ri[4][4];
      float rw[4][4];
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
      for (int64_t x = 0; x < span4; x++) {
        acc[x] = vdupq_n_f32(0.0f);
      }
      const float *g = dy + y0 * ow;
      int64_t j = j0;
      if (nrows == 4) {
        for (; j + 4 <= j1; j += 4) { /* 4x4 blocks of dy, transposed into columns */
          float32x4_t m[4] = {vld1q_f32(g + j), vld1q_f32(g + ow + j),
                              vld1q_f32(g + 2 * ow + j), vld1q_f32(g + 3 * ow + j)};
          cnnrt_scatter_grad_neon_transpose4_(m);
          for (int c = 0; c < 4; c++) {
            const int64_t b = j + c - j0;
            cnnrt_resize_grad_neon_col_(acc, nt[b], ci + 4 * b, cw + 4 * b, lo, m[c]);
          }
        }
      }
      for (; j < j1; j++) {
        const int64_t b = j - j0;
        if (nt[b] == 0) {
          continue;
        }
        float32x4_t v = vdupq_n_f32(0.0f);
        v = vld1q_lane_f32(g + j, v, 0);
        if (nrows > 1) {
          v = vld1q_lane_f32(g + ow + j, v, 1);
        }
        if (nrows > 2) {
          v = vld1q_lane_f32(g + 2 * ow + j, v, 2);
        }
        if (nrows > 3) {
          v = vld1q_lane_f32(g + 3 * ow + j, v, 3);
        }
        cnnrt_resize_grad_neon_col_(acc, nt[b], ci + 4 * b, cw + 4 * b, lo, v);
      }
      /* Back to rows, then the height adjoint. */
      for (int64_t x = 0; x < span4; x += 4) {
        float32x4_t m[4] = {acc[x], acc[x + 1], acc[x + 2], acc[x + 3]};
        cnnrt_scatter_grad_neon_transpose4_(m);
        for (int q = 0; q < 4; q++) {
          vst1q_f32(&rows[q][x], m[q]);
        }
      }
      for (int q = 0; q < nrows; q++) {
        for (int t = 0; t < rn[q]; t++) {
          cnnrt_scatter_grad_neon_axpy_(dx + ri[q][t] * iw + lo, rows[q], rw[q][t], span);
        }
      }
    }
    j0 = j1;
  }
}

typedef struct cnnrt_resize_grad_neon_task {
  const cnnrt_resize_params *p;
  const float *dy;
  float *dx;
  int64_t planes, n_tasks;
  int nearest2;
} cnnrt_resize_grad_neon_task;

static inline void cnnrt_resize_grad_neon_task_(void *arg, int64_t task) {
  const cnnrt_resize_grad_neon_task *t = (const cnnrt_resize_grad_neon_task *)arg;
  const cnnrt_resize_params *p = t->p;
  const int64_t r = p->rank, ih = p->in[r - 2], iw = p->in[r - 1];
  const int64_t in_plane = ih * iw, out_plane = p->out[r - 2] * p->out[r - 1];
  const int64_t a = t->planes * task / t->n_tasks, b = t->planes * (task + 1) / t->n_tasks;
  for (int64_t pl = a; pl < b; pl++) {
    if (t->nearest2) {
      cnnrt_resize_grad_neon_nearest2_(ih, iw, t->dy + pl * out_plane, t->dx + pl * in_plane);
    } else {
      cnnrt_resize_grad_neon_plane_(p, t->dy + pl * out_plane, t->dx + pl * in_plane);
    }
  }
}

static inline void cnnrt_f32_resize_grad_neon(const cnnrt_resize_params *p, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  if (!cnnrt_resize_last2_ok(p)) {
    cnnrt_f32_resize_grad_ref(p, dy, dx);
    return;
  }
  int64_t planes = 1;
  for (int64_t d = 0; d < p->rank - 2; d++) {
    planes *= p->in[d];
  }
  const int64_t threads = cnnrt_scatter_grad_neon_threads_(par);
  cnnrt_resize_grad_neon_task t = {p, dy, dx, planes, threads < planes ? threads : planes,
                                   cnnrt_resize_grad_nearest2(p)};
  cnnrt_parallel_for(par, cnnrt_resize_grad_neon_task_, &t, t.n_tasks);
}

#else /* no NEON: the scalar references (par unused) */

static inline void cnnrt_f32_gather_grad_neon(int64_t outer, int64_t axis_len, int64_t inner,
                                              const void *indices, int64_t n_indices,
                                              int64_t index_elem_size, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_gather_grad_ref(outer, axis_len, inner, indices, n_indices, index_elem_size, dy, dx);
}

static inline void cnnrt_f32_resize_grad_neon(const cnnrt_resize_params *p, const float *dy,
                                              float *dx, const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_resize_grad_ref(p, dy, dx);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_SCATTER_GRAD_NEON_H */
