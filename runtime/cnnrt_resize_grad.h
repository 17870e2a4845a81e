/* cnnrt_resize_grad.h — the gradient of Resize / Upsample (float32, scalar reference): the
 * adjoint of the forward's linear map. Every output element spreads its upstream gradient over
 * the input taps it was interpolated from, with the same weights (cnnrt_resize__taps: nearest,
 * n-linear, cubic, every coordinate mode); extrapolated outputs (tf_crop_and_resize) read no
 * input and pass nothing back. dx is overwritten. */
#ifndef CNNRT_RESIZE_GRAD_H
#define CNNRT_RESIZE_GRAD_H

#include "cnnrt.h"
#include "cnnrt_resize.h"

static inline void cnnrt_f32_resize_grad_ref(const cnnrt_resize_params *p, const float *dy,
                                             float *dx) {
  const int64_t rank = p->rank;
  int64_t istride[CNNRT_MAX_RANK], o[CNNRT_MAX_RANK], in_total = 1, total = 1;
  for (int64_t d = rank - 1; d >= 0; d--) {
    istride[d] = in_total;
    in_total *= p->in[d];
    total *= p->out[d];
  }
  for (int64_t i = 0; i < in_total; i++) {
    dx[i] = 0.0f;
  }
  for (int64_t d = 0; d < rank; d++) {
    o[d] = 0;
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t idx[CNNRT_MAX_RANK][4];
    double w[CNNRT_MAX_RANK][4];
    int nt[CNNRT_MAX_RANK], ext = 0;
    for (int64_t d = 0; d < rank; d++) {
      nt[d] = cnnrt_resize__taps(p, d, o[d], idx[d], w[d]);
      ext |= nt[d] == 0;
    }
    if (!ext) {
      int k[CNNRT_MAX_RANK] = {0};
      for (;;) { /* every tap tuple */
        int64_t of = 0;
        double wt = (double)dy[i];
        for (int64_t d = 0; d < rank; d++) {
          of += idx[d][k[d]] * istride[d];
          wt *= w[d][k[d]];
        }
        dx[of] += (float)wt;
        int64_t a = rank - 1;
        while (a >= 0) {
          if (++k[a] < nt[a]) {
            break;
          }
          k[a] = 0;
          a--;
        }
        if (a < 0) {
          break;
        }
      }
    }
    for (int64_t d = rank - 1; d >= 0; d--) {
      if (++o[d] < p->out[d]) {
        break;
      }
      o[d] = 0;
    }
  }
}

/* ---- Plan shared by the SIMD forms (cnnrt_scatter_grad_avx2.h, cnnrt_scatter_grad_neon.h) ----
 * They handle the common case (the last two axes resized, leading axes untouched: NCHW) as the
 * separable adjoint dx = Wh^T dy Ww, per plane: for a block of output columns and a group of
 * output rows (one per vector lane), the width adjoint accumulates every column's taps into a
 * span of input columns (lanes = rows), which is then transposed and added into the input rows
 * the group's rows tap (the height adjoint, an axpy along the row). Blocks are bounded so the
 * span and the column table stay on the stack. Any mode (nearest, linear, cubic) and coordinate
 * mode runs this way: only the tap tables differ; extrapolated rows and columns pass nothing. */

#define CNNRT_RESIZE_GRAD_BLOCK 64 /* output columns per block, input columns per span */

/* True when the SIMD forms' plan applies: rank >= 2, no empty axis, leading axes identity. */
static inline int cnnrt_resize_grad_last2_ok(const cnnrt_resize_params *p) {
  if (p->rank < 2) {
    return 0;
  }
  for (int64_t d = 0; d < p->rank; d++) {
    if (p->in[d] <= 0 || p->out[d] <= 0) {
      return 0;
    }
  }
  for (int64_t d = 0; d < p->rank - 2; d++) {
    if (!cnnrt_resize__axis_is_identity(p, d)) {
      return 0;
    }
  }
  return 1;
}

/* True when both last axes are nearest upsamplings by exactly 2 (output o reads input o / 2
 * with weight 1: U-Net / FPN decoders), where every input element's gradient is the sum of a
 * 2x2 block of dy. Assumes cnnrt_resize_grad_last2_ok. */
static inline int cnnrt_resize_grad_nearest2(const cnnrt_resize_params *p) {
  if (p->mode != CNNRT_RESIZE_NEAREST) {
    return 0;
  }
  for (int64_t d = p->rank - 2; d < p->rank; d++) {
    if (p->out[d] != 2 * p->in[d]) {
      return 0;
    }
    for (int64_t o = 0; o < p->out[d]; o++) {
      int64_t idx[4];
      double w[4];
      if (cnnrt_resize__taps(p, d, o, idx, w) != 1 || idx[0] != o / 2 || w[0] != 1.0) {
        return 0;
      }
    }
  }
  return 1;
}

/* Column table of the block of output columns starting at j0: column j0 + j has nt[j] taps
 * (0: extrapolated) at input columns ci[4 j + t] with weights cw[4 j + t]; all of them lie in
 * [*lo, *lo + CNNRT_RESIZE_GRAD_BLOCK). Returns the block's end (at most
 * CNNRT_RESIZE_GRAD_BLOCK columns; fewer when the taps spread wider, as in downsampling). */
static inline int64_t cnnrt_resize_grad_col_block(const cnnrt_resize_params *p, int64_t j0,
                                                  int nt[CNNRT_RESIZE_GRAD_BLOCK],
                                                  int64_t ci[4 * CNNRT_RESIZE_GRAD_BLOCK],
                                                  float cw[4 * CNNRT_RESIZE_GRAD_BLOCK],
                                                  int64_t *lo) {
  const int64_t ax = p->rank - 1, ow = p->out[ax];
  int64_t mn = -1, mx = -1, j = 0;
  for (; j < CNNRT_RESIZE_GRAD_BLOCK && j0 + j < ow; j++) {
    int64_t idx[4];
    double w[4];
    const int n = cnnrt_resize__taps(p, ax, j0 + j, idx, w);
    if (n > 0) {
      const int64_t nmn = mn < 0 || idx[0] < mn ? idx[0] : mn;
      const int64_t nmx = idx[n - 1] > mx ? idx[n - 1] : mx;
      if (j > 0 && nmx - nmn >= CNNRT_RESIZE_GRAD_BLOCK) {
        break; /* this column starts the next block */
      }
      mn = nmn;
      mx = nmx;
    }
    nt[j] = n;
    for (int t = 0; t < n; t++) {
      ci[4 * j + t] = idx[t];
      cw[4 * j + t] = (float)w[t];
    }
  }
  *lo = mn < 0 ? 0 : mn;
  return j0 + j;
}

#endif /* CNNRT_RESIZE_GRAD_H */
