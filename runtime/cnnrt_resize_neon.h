/* cnnrt_resize_neon.h — NEON form (aarch64 ASIMD and ARMv7 NEON) of the forward Resize
 * (cnnrt_f32_resize_ref, cnnrt_resize.h), same contract, planes split over the threads of
 * `par`; the mirror of cnnrt_resize_neon.h (see there for the structure):
 *   nearest   rows read from one source row, repeated rows copied, nearest 2x widths
 *             duplicated with vzip (bit-identical to the reference; other widths index per
 *             output: NEON has no gather);
 *   linear / cubic   the source rows combined over the block's input span in vectors, then
 *             each tap of 4 output columns loaded lane by lane and multiply-added (fused on
 *             aarch64 and with VFPv4, VMLA otherwise); within ~1e-6 relative of the reference.
 * Other shapes (rank 1, resized leading axes, empty axes) run the reference; so does
 * everything without NEON. */
#ifndef CNNRT_RESIZE_NEON_H
#define CNNRT_RESIZE_NEON_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_resize.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>

/* acc + a * b */
static inline float32x4_t cnnrt_resize_neon_fma_(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmaq_f32(acc, a, b);
#else
  return vmlaq_f32(acc, a, b);
#endif
}

/* True when the last axis is a nearest upsampling by exactly 2 (column j reads j / 2). */
static inline int cnnrt_resize_neon_width_dup2_(const cnnrt_resize_params *p) {
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
static inline void cnnrt_resize_neon_dup2_row_(const float *x, int64_t w, float *y) {
  int64_t j = 0;
  for (; j + 4 <= w; j += 4) {
    const float32x4_t a = vld1q_f32(x + j);
    const float32x4x2_t z = vzipq_f32(a, a); /* a0 a0 a1 a1 | a2 a2 a3 a3 */
    vst1q_f32(y + 2 * j, z.val[0]);
    vst1q_f32(y + 2 * j + 4, z.val[1]);
  }
  for (; j < w; j++) {
    y[2 * j] = y[2 * j + 1] = x[j];
  }
}

static inline void cnnrt_resize_neon_fill_(float *y, int64_t n, float v) {
  for (int64_t j = 0; j < n; j++) {
    y[j] = v;
  }
}

/* Nearest 2x along the width: whole rows, a row per source row reused. */
static inline void cnnrt_resize_neon_nearest_dup2_plane_(const cnnrt_resize_params *p,
                                                         const float *x, float *y) {
  const int64_t r = p->rank, iw = p->in[r - 1], oh = p->out[r - 2], ow = p->out[r - 1];
  int64_t prev = -1;
  for (int64_t oy = 0; oy < oh; oy++) {
    float *yo = y + oy * ow;
    int64_t ri[4];
    double rw[4];
    if (cnnrt_resize__taps(p, r - 2, oy, ri, rw) == 0) {
      cnnrt_resize_neon_fill_(yo, ow, p->extrapolation_value);
      prev = -1;
    } else if (ri[0] == prev) {
      memcpy(yo, yo - ow, (size_t)ow * sizeof *yo);
    } else {
      cnnrt_resize_neon_dup2_row_(x + ri[0] * iw, iw, yo);
      prev = ri[0];
    }
  }
}

/* Any mode through the column blocks. */
static inline void cnnrt_resize_neon_plane_(const cnnrt_resize_params *p, const float *x,
                                            float *y) {
  const int64_t r = p->rank, iw = p->in[r - 1], oh = p->out[r - 2], ow = p->out[r - 1];
  const float ev = p->extrapolation_value;
  const int nearest = p->mode == CNNRT_RESIZE_NEAREST;
  int nt[CNNRT_RESIZE_BLOCK];
  int64_t ci[4 * CNNRT_RESIZE_BLOCK];
  float cw[4 * CNNRT_RESIZE_BLOCK];
  int32_t gi[4][CNNRT_RESIZE_BLOCK]; /* tap t of column j: span offset, weight (0: padding) */
  float gw[4][CNNRT_RESIZE_BLOCK];
  float comb[CNNRT_RESIZE_BLOCK]; /* the source rows combined over the span */
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
        cnnrt_resize_neon_fill_(yo, nb, ev);
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
        for (; j < nb; j++) {
          yo[j] = src[gi[0][j]];
        }
      } else {
        /* comb = sum_t rw_t * row_t over the span */
        const float *r0 = x + ri[0] * iw + lo;
        const float32x4_t w0 = vdupq_n_f32((float)rwd[0]);
        int64_t c = 0;
        for (; c + 4 <= span; c += 4) {
          vst1q_f32(comb + c, vmulq_f32(w0, vld1q_f32(r0 + c)));
        }
        for (; c < span; c++) {
          comb[c] = (float)rwd[0] * r0[c];
        }
        for (int t = 1; t < nr; t++) {
          const float *rt = x + ri[t] * iw + lo;
          const float32x4_t wt = vdupq_n_f32((float)rwd[t]);
          c = 0;
          for (; c + 4 <= span; c += 4) {
            vst1q_f32(comb + c, cnnrt_resize_neon_fma_(vld1q_f32(comb + c), wt, vld1q_f32(rt + c)));
          }
          for (; c < span; c++) {
            comb[c] += (float)rwd[t] * rt[c];
          }
        }
        for (; j + 4 <= nb; j += 4) { /* tap by tap, 4 columns filled lane by lane */
          float32x4_t acc = vdupq_n_f32(0.0f);
          for (int t = 0; t < ntmax; t++) {
            float32x4_t v = vdupq_n_f32(0.0f);
            v = vld1q_lane_f32(comb + gi[t][j], v, 0);
            v = vld1q_lane_f32(comb + gi[t][j + 1], v, 1);
            v = vld1q_lane_f32(comb + gi[t][j + 2], v, 2);
            v = vld1q_lane_f32(comb + gi[t][j + 3], v, 3);
            acc = t == 0 ? vmulq_f32(vld1q_f32(&gw[0][j]), v)
                         : cnnrt_resize_neon_fma_(acc, vld1q_f32(&gw[t][j]), v);
          }
          vst1q_f32(yo + j, acc);
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

typedef struct cnnrt_resize_neon_task {
  const cnnrt_resize_params *p;
  const float *x;
  float *y;
  int64_t planes, n_tasks;
  int dup2;
} cnnrt_resize_neon_task;

static inline void cnnrt_resize_neon_task_(void *arg, int64_t task) {
  const cnnrt_resize_neon_task *t = (const cnnrt_resize_neon_task *)arg;
  const cnnrt_resize_params *p = t->p;
  const int64_t r = p->rank;
  const int64_t in_plane = p->in[r - 2] * p->in[r - 1], out_plane = p->out[r - 2] * p->out[r - 1];
  const int64_t a = t->planes * task / t->n_tasks, b = t->planes * (task + 1) / t->n_tasks;
  for (int64_t pl = a; pl < b; pl++) {
    if (t->dup2) {
      cnnrt_resize_neon_nearest_dup2_plane_(p, t->x + pl * in_plane, t->y + pl * out_plane);
    } else {
      cnnrt_resize_neon_plane_(p, t->x + pl * in_plane, t->y + pl * out_plane);
    }
  }
}

/* y = Resize(x) as cnnrt_f32_resize_ref; x and y must not overlap. */
static inline void cnnrt_f32_resize_neon(const cnnrt_resize_params *p, const float *x, float *y,
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
  cnnrt_resize_neon_task t = {p, x, y, planes, threads < planes ? threads : planes,
                              cnnrt_resize_neon_width_dup2_(p)};
  cnnrt_parallel_for(par, cnnrt_resize_neon_task_, &t, t.n_tasks);
}

#else /* no NEON: the reference (par unused) */

static inline void cnnrt_f32_resize_neon(const cnnrt_resize_params *p, const float *x, float *y,
                                         const cnnrt_parallel *par) {
  (void)par;
  cnnrt_f32_resize_ref(p, x, y);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_RESIZE_NEON_H */
