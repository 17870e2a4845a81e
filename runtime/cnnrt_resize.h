/* cnnrt_resize.h — portable float ONNX Resize (opsets 10, 11, 13) and Upsample (7, 9) on dense
 * row-major tensors of any rank up to CNNRT_MAX_RANK; any subset of axes may be resized.
 *
 * Semantics are those of the ONNX numpy reference (onnx/backend/test/case/node/resize.py,
 * interpolate_nd), which the compiler's constant folder and the generated code must reproduce:
 *  - N-D interpolation is separable: the 1-D rule below is applied along every axis and the
 *    results are combined as a tensor product of per-axis weights.
 *  - Per axis, with in = input length, s = scale, ow = s * in (a real number, NOT the integer
 *    output length), the output index x maps to the source coordinate
 *        half_pixel           (x + 0.5) / s - 0.5
 *        asymmetric           x / s
 *        pytorch_half_pixel   ow == 1 ? -0.5 : (x + 0.5) / s - 0.5   (the reference's -0.5;
 *                             the spec text says 0 — they differ only for cubic)
 *        tf_half_pixel_for_nn (x + 0.5) / s                        (opset 11 only; not in the
 *                             numpy reference, taken from the spec)
 *        align_corners        ow == 1 ? 0 : x * (in - 1) / (ow - 1)
 *        tf_crop_and_resize   ow == 1 ? (end - start) * (in - 1) / 2 : x * (end - start) *
 *                             (in - 1) / (ow - 1), plus start * (in - 1); a coordinate outside
 *                             [0, in - 1] on ANY axis makes the output extrapolation_value.
 *    All of this is evaluated in double exactly as numpy does (roi difference in float, like
 *    numpy's float32 roi), so rounding ties (nearest modes) resolve identically.
 *  - With c = source coordinate, f = ceil(c) - 1 and ratio r = c - f in (0, 1] (r == 1 exactly
 *    when c is an integer), the taps are f, f+1 (nearest, linear) or f-1 .. f+2 (cubic):
 *        nearest  picks f+1 when r == 1, else by nearest_mode: round_prefer_floor r > 0.5,
 *                 round_prefer_ceil r >= 0.5, floor never, ceil always, and the legacy
 *                 "simple" mode (4, Resize-10/Upsample as onnxruntime) ceil on axes with
 *                 scale < 1 and floor otherwise.
 *        linear   weights 1 - r, r.
 *        cubic    Keys' kernel with a = cubic_a (weights as resize.py's cubic_coeffs(r, a)).
 *    Taps outside [0, in) read the edge element (numpy's edge padding).  With exclude_outside
 *    (linear and cubic; onnxruntime rejects it otherwise) their weights are zeroed and the rest
 *    renormalised to sum 1.
 *  - The scale s: numpy uses out/in in double when `sizes` is given, and the float32 scale
 *    widened to double when `scales` is given.  The two differ in the last bits for ratios
 *    such as 3/5 vs 0.6f, which flips nearest-mode ties (5 -> 3, half_pixel, floor: source
 *    row 1.9999999 vs 2), so params.from_sizes tells the kernel which one to use.
 * Axes whose taps reduce to the identity cost a coordinate computation but no extra gathers.
 * The common case (resizing only the last two axes, leading axes untouched: NCHW up/down-
 * sampling, 1-D resize of [N, C, L]) runs a dedicated path with per-column tap tables, float
 * arithmetic and row reuse for nearest; everything else takes the general N-D path (double
 * accumulation, taps recomputed per output index). */
#ifndef CNNRT_RESIZE_H
#define CNNRT_RESIZE_H

#include "cnnrt.h"

enum {
  CNNRT_RESIZE_NEAREST = 0,
  CNNRT_RESIZE_LINEAR = 1,
  CNNRT_RESIZE_CUBIC = 2
};

enum {
  CNNRT_RESIZE_ROUND_PREFER_FLOOR = 0,
  CNNRT_RESIZE_ROUND_PREFER_CEIL = 1,
  CNNRT_RESIZE_FLOOR = 2,
  CNNRT_RESIZE_CEIL = 3,
  CNNRT_RESIZE_SIMPLE = 4 /* Resize-10 / Upsample: floor when scale >= 1, ceil when < 1 */
};

enum {
  CNNRT_RESIZE_HALF_PIXEL = 0,
  CNNRT_RESIZE_ASYMMETRIC = 1,
  CNNRT_RESIZE_PYTORCH_HALF_PIXEL = 2,
  CNNRT_RESIZE_TF_HALF_PIXEL_FOR_NN = 3,
  CNNRT_RESIZE_ALIGN_CORNERS = 4,
  CNNRT_RESIZE_TF_CROP_AND_RESIZE = 5
};

/* Slots rank..CNNRT_MAX_RANK-1 are unused (in = out = 1, scale = 1, roi 0..1). */
typedef struct cnnrt_resize_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK], out[CNNRT_MAX_RANK];
  float scale[CNNRT_MAX_RANK];
  float roi_start[CNNRT_MAX_RANK], roi_end[CNNRT_MAX_RANK];
  int64_t mode;         /* 0 nearest, 1 linear (n-linear), 2 cubic */
  int64_t nearest_mode; /* 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil, 4 simple */
  int64_t coord_mode;   /* 0 half_pixel, 1 asymmetric, 2 pytorch_half_pixel,
                           3 tf_half_pixel_for_nn, 4 align_corners, 5 tf_crop_and_resize */
  float cubic_a;
  int64_t exclude_outside;
  float extrapolation_value;
  int64_t from_sizes; /* 1: out[] came from the `sizes` input, the kernel uses s = out/in in
                         double (scale[] is then informative only); 0: `scales` input, attribute
                         or Upsample, the kernel uses (double)scale[d] */
} cnnrt_resize_params;

/* ---- Attribute resolution (used by the compiler) ---- */

/* Output length of an axis resized by a `scales` entry: floor(in * scale), in double like the
 * numpy reference (float32 scale widened).  The roi is NOT applied, even under
 * tf_crop_and_resize: the opset 11/13 text says floor(in * (end - start) * scale), but ONNX
 * shape inference, onnxruntime and the reference all ignore the roi here, and the kernel's
 * coordinate mapping (ow = scale * in) is consistent with that. */
static inline int64_t cnnrt_resize_out_dim(int64_t in, float scale) {
  return (int64_t)floor((double)in * (double)scale);
}

/* Effective scale of an axis resized by a `sizes` entry (ONNX: out / in); with from_sizes = 1
 * the kernel recomputes it in double, this float is for the compiler's own bookkeeping. */
static inline float cnnrt_resize_scale_from_size(int64_t in, int64_t out) {
  return in > 0 ? (float)((double)out / (double)in) : 1.0f;
}

/* ---- Per-axis coordinate and tap computation ---- */

static inline int64_t cnnrt_resize__clamp(int64_t v, int64_t n) {
  return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

/* The scale as the reference sees it (see the header comment). */
static inline double cnnrt_resize__scale(const cnnrt_resize_params *p, int64_t d) {
  return p->from_sizes ? (double)p->out[d] / (double)p->in[d] : (double)p->scale[d];
}

/* Source coordinate of output index xo along axis d.  Returns 0 when tf_crop_and_resize puts
 * it outside the input (the output is then extrapolation_value). */
static inline int cnnrt_resize__src_coord(const cnnrt_resize_params *p, int64_t d, int64_t xo,
                                          double *coord) {
  const int64_t in = p->in[d];
  const double s = cnnrt_resize__scale(p, d);
  const double ow = s * (double)in;
  const double xd = (double)xo;
  double c;
  switch (p->coord_mode) {
  case CNNRT_RESIZE_ASYMMETRIC:
    c = xd / s;
    break;
  case CNNRT_RESIZE_PYTORCH_HALF_PIXEL:
    c = ow == 1.0 ? -0.5 : (xd + 0.5) / s - 0.5;
    break;
  case CNNRT_RESIZE_TF_HALF_PIXEL_FOR_NN:
    c = (xd + 0.5) / s;
    break;
  case CNNRT_RESIZE_ALIGN_CORNERS:
    c = ow == 1.0 ? 0.0 : (double)(xo * (in - 1)) / (ow - 1.0);
    break;
  case CNNRT_RESIZE_TF_CROP_AND_RESIZE: {
    const float extent = p->roi_end[d] - p->roi_start[d]; /* float, as numpy's float32 roi */
    if (ow == 1.0) {
      c = (double)extent * (double)(in - 1) / 2.0;
    } else {
      c = xd * (double)extent * (double)(in - 1) / (ow - 1.0);
    }
    c += (double)p->roi_start[d] * (double)(in - 1);
    if (c < 0.0 || c > (double)(in - 1)) {
      return 0;
    }
    break;
  }
  default: /* half_pixel */
    c = (xd + 0.5) / s - 0.5;
    break;
  }
  *coord = c;
  return 1;
}

/* Taps of output index xo along axis d: up to 4 clamped source indices (strictly increasing)
 * with their weights; zero-weight taps are dropped and taps that clamp to the same element are
 * merged.  Returns the tap count, 0 for an extrapolated coordinate. */
static inline int cnnrt_resize__taps(const cnnrt_resize_params *p, int64_t d, int64_t xo,
                                     int64_t idx[4], double w[4]) {
  const int64_t in = p->in[d];
  double c;
  if (!cnnrt_resize__src_coord(p, d, xo, &c)) {
    return 0;
  }
  /* f = ceil(c) - 1 rather than floor(c): the reference takes its taps left of c with ratio in
   * (0, 1], so an integer c uses ratio 1 on the right tap. */
  const double fd = ceil(c) - 1.0;
  const double r = c - fd;
  const int64_t f = (int64_t)fd;
  if (p->mode == CNNRT_RESIZE_NEAREST) {
    int64_t up;
    if (r >= 1.0) {
      up = 1;
    } else {
      switch (p->nearest_mode) {
      case CNNRT_RESIZE_ROUND_PREFER_CEIL:
        up = r >= 0.5;
        break;
      case CNNRT_RESIZE_FLOOR:
        up = 0;
        break;
      case CNNRT_RESIZE_CEIL:
        up = 1;
        break;
      case CNNRT_RESIZE_SIMPLE:
        up = cnnrt_resize__scale(p, d) < 1.0;
        break;
      default: /* round_prefer_floor */
        up = r > 0.5;
        break;
      }
    }
    idx[0] = cnnrt_resize__clamp(f + up, in);
    w[0] = 1.0;
    return 1;
  }
  int64_t t[4];
  double cf[4];
  int n;
  if (p->mode == CNNRT_RESIZE_LINEAR) {
    n = 2;
    t[0] = f;
    t[1] = f + 1;
    cf[0] = 1.0 - r;
    cf[1] = r;
  } else {
    /* resize.py cubic_coeffs, term for term. */
    const double a = (double)p->cubic_a;
    const double q = 1.0 - r;
    n = 4;
    t[0] = f - 1;
    t[1] = f;
    t[2] = f + 1;
    t[3] = f + 2;
    cf[0] = ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a;
    cf[1] = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0;
    cf[2] = ((a + 2.0) * q - (a + 3.0)) * q * q + 1.0;
    cf[3] = ((a * (q + 1.0) - 5.0 * a) * (q + 1.0) + 8.0 * a) * (q + 1.0) - 4.0 * a;
  }
  if (p->exclude_outside) {
    double sum = 0.0;
    for (int k = 0; k < n; k++) {
      if (t[k] < 0 || t[k] >= in) {
        cf[k] = 0.0;
      }
      sum += cf[k];
    }
    for (int k = 0; k < n; k++) {
      cf[k] /= sum;
    }
  }
  int m = 0;
  for (int k = 0; k < n; k++) {
    if (cf[k] == 0.0) {
      continue;
    }
    const int64_t ti = cnnrt_resize__clamp(t[k], in);
    if (m > 0 && idx[m - 1] == ti) {
      w[m - 1] += cf[k];
    } else {
      idx[m] = ti;
      w[m] = cf[k];
      m++;
    }
  }
  if (m == 0) { /* cannot happen for valid weights; keep the caller's invariants */
    idx[0] = cnnrt_resize__clamp(f + 1, in);
    w[0] = 0.0;
    m = 1;
  }
  return m;
}

/* True when axis d maps every output index to the same input index with weight exactly 1. */
static inline int cnnrt_resize__axis_is_identity(const cnnrt_resize_params *p, int64_t d) {
  if (p->out[d] != p->in[d]) {
    return 0;
  }
  for (int64_t xo = 0; xo < p->out[d]; xo++) {
    int64_t idx[4];
    double w[4];
    if (cnnrt_resize__taps(p, d, xo, idx, w) != 1 || idx[0] != xo || w[0] != 1.0) {
      return 0;
    }
  }
  return 1;
}

/* ---- Column blocks of the SIMD forms (cnnrt_resize_avx2.h / _neon.h, the gradients'
 * cnnrt_scatter_grad_avx2.h / _neon.h) ---- */

#define CNNRT_RESIZE_BLOCK 64 /* output columns per block, input columns per span */

/* True when the SIMD forms' last-two-axes plan applies: rank >= 2, no empty axis, leading axes
 * identity. */
static inline int cnnrt_resize_last2_ok(const cnnrt_resize_params *p) {
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

/* Column table of the block of output columns starting at j0: column j0 + j has nt[j] taps
 * (0: extrapolated) at input columns ci[4 j + t] with weights cw[4 j + t]; all of them lie in
 * [*lo, *lo + CNNRT_RESIZE_BLOCK). Returns the block's end (at most
 * CNNRT_RESIZE_BLOCK columns; fewer when the taps spread wider, as in downsampling). */
static inline int64_t cnnrt_resize_col_block(const cnnrt_resize_params *p, int64_t j0,
                                             int nt[CNNRT_RESIZE_BLOCK],
                                             int64_t ci[4 * CNNRT_RESIZE_BLOCK],
                                             float cw[4 * CNNRT_RESIZE_BLOCK], int64_t *lo) {
  const int64_t ax = p->rank - 1, ow = p->out[ax];
  int64_t mn = -1, mx = -1, j = 0;
  for (; j < CNNRT_RESIZE_BLOCK && j0 + j < ow; j++) {
    int64_t idx[4];
    double w[4];
    const int n = cnnrt_resize__taps(p, ax, j0 + j, idx, w);
    if (n > 0) {
      const int64_t nmn = mn < 0 || idx[0] < mn ? idx[0] : mn;
      const int64_t nmx = idx[n - 1] > mx ? idx[n - 1] : mx;
      if (j > 0 && nmx - nmn >= CNNRT_RESIZE_BLOCK) {
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

/* ---- General path: any rank, any mode ---- */

static inline void cnnrt_resize__general(const cnnrt_resize_params *p, const float *x,
                                         float *y) {
  const int64_t rank = p->rank;
  int64_t istride[CNNRT_MAX_RANK];
  int64_t o[CNNRT_MAX_RANK];
  int nt[CNNRT_MAX_RANK];
  int64_t off[CNNRT_MAX_RANK][4];
  double w[CNNRT_MAX_RANK][4];
  int64_t total = 1;
  for (int64_t d = rank - 1, st = 1; d >= 0; d--) {
    istride[d] = st;
    st *= p->in[d];
    total *= p->out[d];
  }
  if (total == 0) {
    return;
  }
  /* Taps are cached per axis and recomputed only when that axis' output index changes, so an
   * element costs about one coordinate computation (innermost axis) plus its gathers. */
  for (int64_t d = 0; d < rank; d++) {
    int64_t idx[4];
    o[d] = 0;
    nt[d] = cnnrt_resize__taps(p, d, 0, idx, w[d]);
    for (int k = 0; k < nt[d]; k++) {
      off[d][k] = idx[k] * istride[d];
    }
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t base = 0;
    double bw = 1.0;
    int act[CNNRT_MAX_RANK];
    int na = 0, ext = 0;
    for (int64_t d = 0; d < rank; d++) {
      if (nt[d] == 0) {
        ext = 1;
      } else if (nt[d] == 1) {
        base += off[d][0];
        bw *= w[d][0];
      } else {
        act[na++] = (int)d;
      }
    }
    if (ext) {
      y[i] = p->extrapolation_value;
    } else if (na == 0) {
      y[i] = (float)(bw * (double)x[base]);
    } else {
      /* Sum over the tap tuples of the multi-tap axes. */
      int k[CNNRT_MAX_RANK] = {0};
      double acc = 0.0;
      for (;;) {
        int64_t of = base;
        double wt = bw;
        for (int a = 0; a < na; a++) {
          of += off[act[a]][k[a]];
          wt *= w[act[a]][k[a]];
        }
        acc += wt * (double)x[of];
        int a = na - 1;
        while (a >= 0) {
          if (++k[a] < nt[act[a]]) {
            break;
          }
          k[a] = 0;
          a--;
        }
        if (a < 0) {
          break;
        }
      }
      y[i] = (float)acc;
    }
    /* Advance the output multi-index, refreshing the taps of every axis that moved. */
    for (int64_t d = rank - 1; d >= 0; d--) {
      int64_t idx[4];
      if (++o[d] == p->out[d]) {
        o[d] = 0;
      }
      nt[d] = cnnrt_resize__taps(p, d, o[d], idx, w[d]);
      for (int kk = 0; kk < nt[d]; kk++) {
        off[d][kk] = idx[kk] * istride[d];
      }
      if (o[d] != 0) {
        break;
      }
    }
  }
}

/* ---- Fast path: the last two axes, identity leading axes ---- */

/* Output columns handled per tap table (stack use about 3 KiB). */
#define CNNRT_RESIZE_COLS 64

/* yo[j] (+)= a * sum_k w[k][j] * row[c[k][j]] over nt = 1, 2 or 4 column taps, one plain loop
 * per tap count. */
static inline void cnnrt_resize__row_taps(float *yo, int64_t nb, int accumulate, float a,
                                          const float *row, int nt,
                                          const int64_t *c, const float *w) {
  /* Tap k of column j is c[k * CNNRT_RESIZE_COLS + j], weight w[k * CNNRT_RESIZE_COLS + j]. */
  const int64_t *c0 = c, *c1 = c + CNNRT_RESIZE_COLS, *c2 = c + 2 * CNNRT_RESIZE_COLS,
                *c3 = c + 3 * CNNRT_RESIZE_COLS;
  const float *w0 = w, *w1 = w + CNNRT_RESIZE_COLS, *w2 = w + 2 * CNNRT_RESIZE_COLS,
              *w3 = w + 3 * CNNRT_RESIZE_COLS;
  if (!accumulate) {
    memset(yo, 0, (size_t)nb * sizeof *yo);
  }
  if (nt == 1) {
    for (int64_t j = 0; j < nb; j++) {
      yo[j] += a * (w0[j] * row[c0[j]]);
    }
  } else if (nt == 2) {
    for (int64_t j = 0; j < nb; j++) {
      yo[j] += a * (w0[j] * row[c0[j]] + w1[j] * row[c1[j]]);
    }
  } else {
    for (int64_t j = 0; j < nb; j++) {
      yo[j] += a * (w0[j] * row[c0[j]] + w1[j] * row[c1[j]] + w2[j] * row[c2[j]] +
                    w3[j] * row[c3[j]]);
    }
  }
}

static inline void cnnrt_resize__last2(const cnnrt_resize_params *p, const float *x,
                                       float *y) {
  const int64_t r = p->rank;
  const int64_t h = p->in[r - 2], wdt = p->in[r - 1];
  const int64_t oh = p->out[r - 2], ow = p->out[r - 1];
  const float ev = p->extrapolation_value;
  const int nearest = p->mode == CNNRT_RESIZE_NEAREST;
  int64_t planes = 1;
  for (int64_t d = 0; d < r - 2; d++) {
    planes *= p->in[d];
  }
  /* Column table of one block: up to 4 source columns with float weights; columns with fewer
   * taps repeat their first column with weight 0.  Extrapolated columns read column 0 with
   * zero weight and are overwritten afterwards, keeping the inner loops branch-free. */
  int64_t cidx[4 * CNNRT_RESIZE_COLS];
  float cw[4 * CNNRT_RESIZE_COLS];
  unsigned char cext[CNNRT_RESIZE_COLS];
  int nt = 1;            /* taps per column in the current block (max over its columns) */
  int block_ext = 0;     /* some column of the block is extrapolated */
  int64_t table_block = -1;
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + pl * h * wdt;
    float *yp = y + pl * oh * ow;
    for (int64_t j0 = 0; j0 < ow; j0 += CNNRT_RESIZE_COLS) {
      const int64_t nb = ow - j0 < CNNRT_RESIZE_COLS ? ow - j0 : CNNRT_RESIZE_COLS;
      if (table_block != j0) { /* a single-block row keeps its table across planes */
        nt = 1;
        block_ext = 0;
        for (int64_t j = 0; j < nb; j++) {
          int64_t idx[4];
          double wt[4];
          const int n = cnnrt_resize__taps(p, r - 1, j0 + j, idx, wt);
          cext[j] = n == 0;
          block_ext |= n == 0;
          nt = n > nt ? n : nt;
          for (int k = 0; k < 4; k++) {
            cidx[k * CNNRT_RESIZE_COLS + j] = k < n ? idx[k] : (n > 0 ? idx[0] : 0);
            cw[k * CNNRT_RESIZE_COLS + j] = k < n ? (float)wt[k] : 0.0f;
          }
        }
        nt = nt == 3 ? 4 : nt;
        table_block = j0;
      }
      int64_t prev_row = -1; /* source row of the previous output row (nearest reuse) */
      for (int64_t oy = 0; oy < oh; oy++) {
        float *yo = yp + oy * ow + j0;
        int64_t ridx[4];
        double rw[4];
        const int nr = cnnrt_resize__taps(p, r - 2, oy, ridx, rw);
        if (nr == 0) {
          for (int64_t j = 0; j < nb; j++) {
            yo[j] = ev;
          }
          prev_row = -1;
          continue;
        }
        if (nearest) {
          const float *r0 = xp + ridx[0] * wdt;
          if (ridx[0] == prev_row) { /* integer upsampling repeats rows: copy the last one */
            memcpy(yo, yo - ow, (size_t)nb * sizeof *yo);
          } else {
            for (int64_t j = 0; j < nb; j++) {
              yo[j] = r0[cidx[j]];
            }
          }
          prev_row = ridx[0];
        } else {
          /* Separable like the reference: interpolate each source row along the last axis,
           * then combine the rows. */
          for (int t = 0; t < nr; t++) {
            cnnrt_resize__row_taps(yo, nb, t > 0, (float)rw[t], xp + ridx[t] * wdt, nt, cidx,
                                   cw);
          }
        }
        if (block_ext) {
          for (int64_t j = 0; j < nb; j++) {
            if (cext[j]) {
              yo[j] = ev;
            }
          }
        }
      }
    }
  }
}

/* ---- Entry point ---- */

/* y[out[0]] .. [out[rank-1]] = Resize(x[in[0]] .. [in[rank-1]]).  x and y must not overlap. */
static inline void cnnrt_f32_resize_ref(const cnnrt_resize_params *p, const float *x, float *y) {
  const int64_t r = p->rank;
  for (int64_t d = 0; d < r; d++) {
    if (p->out[d] == 0) {
      return;
    }
    if (p->in[d] == 0) { /* invalid (out > 0 from nothing); produce zeros, never read x */
      int64_t total = 1;
      for (int64_t e = 0; e < r; e++) {
        total *= p->out[e];
      }
      memset(y, 0, (size_t)total * sizeof *y);
      return;
    }
  }
  int fast = r >= 2;
  for (int64_t d = 0; fast && d < r - 2; d++) {
    fast = cnnrt_resize__axis_is_identity(p, d);
  }
  if (fast) {
    cnnrt_resize__last2(p, x, y);
  } else {
    cnnrt_resize__general(p, x, y);
  }
}

#endif /* CNNRT_RESIZE_H */
