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
 * mode runs this way: only the tap tables differ; extrapolated rows and columns pass nothing.
 * The column blocks are cnnrt_resize_col_block's (cnnrt_resize.h). */

/* True when both last axes are nearest upsamplings by exactly 2 (output o reads input o / 2
 * with weight 1: U-Net / FPN decoders), where every input element's gradient is the sum of a
 * 2x2 block of dy. Assumes cnnrt_resize_last2_ok. */
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

#endif /* CNNRT_RESIZE_GRAD_H */
