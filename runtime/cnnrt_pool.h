/* cnnrt_pool.h — portable float pooling kernels: ONNX MaxPool (with Indices), AveragePool,
 * LpPool and their Global* forms, on dense N x C x D1[..D3] tensors (1 to 3 spatial dims).
 *
 * The compiler resolves every attribute (auto_pad, ceil_mode, defaults) into cnnrt_pool_params
 * with the two helpers below; kernels only execute.  Semantics, shared by all windowed kernels:
 *  - output o along an axis has its window taps at input coordinate o*stride - pad_begin +
 *    j*dilation, j in [0, kernel).  Taps outside [0, in) are padding; with ceil_mode a window
 *    may also reach past in + pad_end (beyond the padded input).
 *  - MaxPool: padding never wins (it is -inf).  NaN inputs are ignored (a > comparison, as
 *    onnxruntime; the ONNX reference drops NaN too).  Ties go to the first tap in row-major
 *    window order.  A window with no real tap (only possible when pads >= the dilated kernel)
 *    yields -inf and Indices -1.
 *  - AveragePool: count_include_pad = 0 divides by the number of real taps; 1 divides by the
 *    number of taps inside the padded input [-pad_begin, in + pad_end), i.e. taps that ceil_mode
 *    pushes beyond the padded end are not counted (PyTorch, and onnxruntime since the fix of
 *    onnxruntime#16203).  An empty divisor gives 0.
 *  - LpPool: (sum over real taps of |x|^p)^(1/p); padding contributes 0.
 * Loop structure: for each output row (all spatial output coordinates but the last) the kernel
 * accumulates whole contiguous input rows into the output row, one (tap, row) pair at a time,
 * so the innermost loop runs over the last output axis and vectorizes (unit stride when
 * stride == 1).  x and y must not overlap (pooling is never in place).  The *_range_ref forms
 * compute planes [nc_begin, nc_end) of the whole tensors: the unit for cnnrt_parallel_for. */
#ifndef CNNRT_POOL_H
#define CNNRT_POOL_H

#include "cnnrt.h"

/* Resolved pooling geometry.  Slots 0..spatial-1 of the arrays hold the spatial axes in tensor
 * order; unused trailing slots hold in = out = kernel = stride = dilation = 1, pads = 0.
 * count_include_pad is read by AveragePool only, p by LpPool only, storage_order by MaxPool's
 * Indices only. */
typedef struct cnnrt_pool_params {
  int64_t spatial; /* 1..3 */
  int64_t n, c;
  int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
  int64_t count_include_pad;
  float p;               /* LpPool's p (ONNX: int attribute, default 2) */
  int64_t storage_order; /* MaxPool Indices: 0 row-major, 1 column-major */
} cnnrt_pool_params;

/* ---- Attribute resolution (used by the compiler) ---- */

/* Output size of one axis for explicit pads (auto_pad NOTSET; VALID is this with zero pads and
 * ceil_mode 0).  ceil_mode rounds the window count up, but drops a last window that would start
 * inside the end padding (PyTorch, onnxruntime, and the ONNX spec since it was clarified; the
 * onnx 1.12 text does not state it and its tests never hit it).  E.g. in 4, kernel 3, stride 2
 * (ONNX test_maxpool_2d_ceil) gives 2 (floor: 1); in 5, kernel 2, stride 2, pads 1/1 gives 3,
 * not 4.  Returns 0 when the dilated kernel exceeds the padded input (an invalid model; the
 * compiler should reject it). */
static inline int64_t cnnrt_pool_out_dim(int64_t in, int64_t kernel, int64_t stride,
                                         int64_t dilation, int64_t pad_begin, int64_t pad_end,
                                         int64_t ceil_mode) {
  int64_t ek = (kernel - 1) * dilation + 1;
  int64_t span = in + pad_begin + pad_end - ek;
  if (span < 0) {
    return 0;
  }
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) {
    out--;
  }
  return out;
}

/* auto_pad SAME_UPPER (same_lower = 0) / SAME_LOWER (same_lower = 1) for one axis: out =
 * ceil(in / stride), total pad = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in),
 * split evenly with the odd unit at the end (UPPER) or at the beginning (LOWER).  ceil_mode does
 * not apply.  Returns out and writes the two pads. */
static inline int64_t cnnrt_pool_same_pads(int64_t in, int64_t kernel, int64_t stride,
                                           int64_t dilation, int64_t same_lower,
                                           int64_t *pad_begin, int64_t *pad_end) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = (out - 1) * stride + (kernel - 1) * dilation + 1 - in;
  if (total < 0) {
    total = 0;
  }
  int64_t half = total / 2;
  *pad_begin = same_lower ? total - half : half;
  *pad_end = same_lower ? half : total - half;
  return out;
}

/* ---- Internal helpers ---- */

/* The geometry as a 3-D problem with the real axes right-aligned, so that the last slot is
 * always the contiguous innermost axis (a 1-D pool becomes 1 x 1 x W). */
typedef struct cnnrt_pool_geom {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
  int64_t in_size, out_size; /* elements of one (n, c) plane */
} cnnrt_pool_geom;

static inline void cnnrt_pool_geom_init(const cnnrt_pool_params *p, cnnrt_pool_geom *g) {
  int64_t sp = p->spatial < 1 ? 1 : (p->spatial > 3 ? 3 : p->spatial);
  int64_t shift = 3 - sp;
  g->in_size = 1;
  g->out_size = 1;
  for (int64_t i = 0; i < 3; i++) {
    if (i < shift) {
      g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
      g->pb[i] = g->pe[i] = 0;
    } else {
      int64_t a = i - shift;
      g->in[i] = p->in[a];
      g->out[i] = p->out[a];
      g->k[i] = p->kernel[a];
      g->s[i] = p->stride[a];
      g->d[i] = p->dilation[a];
      g->pb[i] = p->pad_begin[a];
      g->pe[i] = p->pad_end[a];
    }
    g->in_size *= g->in[i];
    g->out_size *= g->out[i];
  }
}

/* Taps j in [0, k) of a window whose tap 0 sits at coordinate `start` (negative inside the
 * begin padding), dilation d, whose coordinate start + j*d lies in [lo, hi).  Writes [*j0, *j1),
 * with *j1 == *j0 when none do.  Only non-negative numbers are divided. */
static inline void cnnrt_pool_taps(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi,
                                   int64_t *j0, int64_t *j1) {
  int64_t a = 0;
  int64_t b = 0;
  if (d == 1) {
    a = start < lo ? lo - start : 0;
    b = hi > start ? hi - start : 0;
  } else {
    a = start < lo ? (lo - start + d - 1) / d : 0;
    b = hi > start ? (hi - start + d - 1) / d : 0;
  }
  if (b > k) {
    b = k;
  }
  *j0 = a;
  *j1 = b > a ? b : a;
}

/* What a windowed kernel accumulates per tap. */
enum {
  CNNRT_POOL_OP_MAX = 0, /* max(x) */
  CNNRT_POOL_OP_SUM,     /* x */
  CNNRT_POOL_OP_ABS,     /* |x|   (LpPool p = 1) */
  CNNRT_POOL_OP_SQR,     /* x*x   (LpPool p = 2) */
  CNNRT_POOL_OP_POW      /* |x|^p (LpPool, other p) */
};

/* y[i] op= f(x[i*s]) for i in [0, n).  Split on s == 1 so that the common case is a plain
 * contiguous loop the compiler vectorizes. */
static inline void cnnrt_pool_row(int op, float pw, float *restrict y, const float *restrict x,
                                  int64_t n, int64_t s) {
  switch (op) {
  case CNNRT_POOL_OP_MAX:
    if (s == 1) {
      for (int64_t i = 0; i < n; i++) {
        y[i] = x[i] > y[i] ? x[i] : y[i];
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        float v = x[i * s];
        y[i] = v > y[i] ? v : y[i];
      }
    }
    break;
  case CNNRT_POOL_OP_SUM:
    if (s == 1) {
      for (int64_t i = 0; i < n; i++) {
        y[i] += x[i];
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        y[i] += x[i * s];
      }
    }
    break;
  case CNNRT_POOL_OP_ABS:
    for (int64_t i = 0; i < n; i++) {
      y[i] += fabsf(x[i * s]);
    }
    break;
  case CNNRT_POOL_OP_SQR:
    for (int64_t i = 0; i < n; i++) {
      float v = x[i * s];
      y[i] += v * v;
    }
    break;
  default:
    for (int64_t i = 0; i < n; i++) {
      y[i] += powf(fabsf(x[i * s]), pw);
    }
    break;
  }
}

/* Accumulates planes [nc0, nc1) of x into y: max, or the sum of f(x) over the real taps. */
static inline void cnnrt_pool_accumulate(const cnnrt_pool_geom *g, int op, float pw,
                                         int64_t nc0, int64_t nc1, const float *x, float *y) {
  const float init = op == CNNRT_POOL_OP_MAX ? -INFINITY : 0.0f;
  const int64_t in1 = g->in[1], in2 = g->in[2];
  const int64_t out1 = g->out[1], out2 = g->out[2];
  const int64_t k2 = g->k[2], s2 = g->s[2], d2 = g->d[2], pb2 = g->pb[2];
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g->in_size;
    float *yc = y + nc * g->out_size;
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
      int64_t st0 = o0 * g->s[0] - g->pb[0], a0, b0;
      cnnrt_pool_taps(st0, g->k[0], g->d[0], 0, g->in[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < out1; o1++) {
        int64_t st1 = o1 * g->s[1] - g->pb[1], a1, b1;
        cnnrt_pool_taps(st1, g->k[1], g->d[1], 0, in1, &a1, &b1);
        float *yr = yc + (o0 * out1 + o1) * out2;
        for (int64_t o2 = 0; o2 < out2; o2++) {
          yr[o2] = init;
        }
        for (int64_t j0 = a0; j0 < b0; j0++) {
          int64_t i0 = st0 + j0 * g->d[0];
          for (int64_t j1 = a1; j1 < b1; j1++) {
            int64_t i1 = st1 + j1 * g->d[1];
            const float *xr = xc + (i0 * in1 + i1) * in2;
            for (int64_t j2 = 0; j2 < k2; j2++) {
              /* Tap j2 of output o2 reads xr[o2*s2 + off]; keep the o2 with a real tap. */
              int64_t off = j2 * d2 - pb2;
              int64_t lo = off >= 0 ? 0 : (s2 - 1 - off) / s2;
              int64_t hi = in2 > off ? (in2 - off + s2 - 1) / s2 : 0;
              if (hi > out2) {
                hi = out2;
              }
              if (lo < hi) {
                cnnrt_pool_row(op, pw, yr + lo, xr + (lo * s2 + off), hi - lo, s2);
              }
            }
          }
        }
      }
    }
  }
}

/* ---- MaxPool ---- */

/* MaxPool with Indices: one window at a time, tracking where the maximum came from.  The index
 * is the flattened position in X, (n*C + c) * plane + spatial offset, with the spatial offset
 * row-major (storage_order 0) or column-major, first spatial axis fastest (storage_order 1).
 * The initial candidate is the first real tap, so all -inf / NaN windows still report an index
 * inside the window. */
static inline void cnnrt_pool_maxpool_indices(const cnnrt_pool_params *p,
                                              const cnnrt_pool_geom *g, int64_t nc0, int64_t nc1,
                                              const float *x, float *y, int64_t *indices) {
  const int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2];
  /* Multipliers of (i0, i1, i2) in the reported spatial offset; the right-aligned leading
   * slots have size 1 and index 0, so the same formula covers 1-D and 2-D. */
  const int64_t m0 = p->storage_order ? 1 : in1 * in2;
  const int64_t m1 = p->storage_order ? in0 : in2;
  const int64_t m2 = p->storage_order ? in0 * in1 : 1;
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g->in_size;
    float *yc = y + nc * g->out_size;
    int64_t *ic = indices + nc * g->out_size;
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
      int64_t st0 = o0 * g->s[0] - g->pb[0], a0, b0;
      cnnrt_pool_taps(st0, g->k[0], g->d[0], 0, in0, &a0, &b0);
      for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
        int64_t st1 = o1 * g->s[1] - g->pb[1], a1, b1;
        cnnrt_pool_taps(st1, g->k[1], g->d[1], 0, in1, &a1, &b1);
        for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
          int64_t st2 = o2 * g->s[2] - g->pb[2], a2, b2;
          cnnrt_pool_taps(st2, g->k[2], g->d[2], 0, in2, &a2, &b2);
          float best = -INFINITY;
          int64_t bi = -1;
          if (a0 < b0 && a1 < b1 && a2 < b2) {
            bi = (st0 + a0 * g->d[0]) * m0 + (st1 + a1 * g->d[1]) * m1 + (st2 + a2 * g->d[2]) * m2;
          }
          for (int64_t j0 = a0; j0 < b0; j0++) {
            int64_t i0 = st0 + j0 * g->d[0];
            for (int64_t j1 = a1; j1 < b1; j1++) {
              int64_t i1 = st1 + j1 * g->d[1];
              const float *xr = xc + (i0 * in1 + i1) * in2;
              for (int64_t j2 = a2; j2 < b2; j2++) {
                int64_t i2 = st2 + j2 * g->d[2];
                if (xr[i2] > best) {
                  best = xr[i2];
                  bi = i0 * m0 + i1 * m1 + i2 * m2;
                }
              }
            }
          }
          int64_t o = (o0 * g->out[1] + o1) * g->out[2] + o2;
          yc[o] = best;
          ic[o] = bi < 0 ? -1 : nc * g->in_size + bi;
        }
      }
    }
  }
}

/* MaxPool on planes [nc_begin, nc_end) of the (whole) tensors x, y, indices: the unit of work
 * for cnnrt_parallel_for.  indices (int64, shape of y) may be NULL. */
static inline void cnnrt_f32_maxpool_range_ref(const cnnrt_pool_params *p, int64_t nc_begin,
                                               int64_t nc_end, const float *x, float *y,
                                               int64_t *indices) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  if (indices != NULL) {
    cnnrt_pool_maxpool_indices(p, &g, nc_begin, nc_end, x, y, indices);
  } else {
    cnnrt_pool_accumulate(&g, CNNRT_POOL_OP_MAX, 0.0f, nc_begin, nc_end, x, y);
  }
}

static inline void cnnrt_f32_maxpool_ref(const cnnrt_pool_params *p, const float *x, float *y,
                                         int64_t *indices) {
  cnnrt_f32_maxpool_range_ref(p, 0, p->n * p->c, x, y, indices);
}

/* ---- AveragePool ---- */

/* Average of output o2 of a row whose first two axes count c01 taps (edges of the last axis). */
static inline float cnnrt_pool_avg_edge(const cnnrt_pool_geom *g, float sum, int64_t c01,
                                        int64_t o2, int64_t lo, int64_t hi) {
  int64_t a2, b2;
  cnnrt_pool_taps(o2 * g->s[2] - g->pb[2], g->k[2], g->d[2], lo, hi, &a2, &b2);
  int64_t cnt = c01 * (b2 - a2);
  return cnt > 0 ? sum / (float)cnt : 0.0f;
}

static inline void cnnrt_f32_avgpool_range_ref(const cnnrt_pool_params *p, int64_t nc_begin,
                                               int64_t nc_end, const float *x, float *y) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  cnnrt_pool_accumulate(&g, CNNRT_POOL_OP_SUM, 0.0f, nc_begin, nc_end, x, y);
  /* Divisor = product of per-axis tap counts (the counted region is a box).  Counted range per
   * axis: the real input, or the padded input when count_include_pad. */
  int64_t lo[3], hi[3];
  for (int64_t i = 0; i < 3; i++) {
    lo[i] = p->count_include_pad ? -g.pb[i] : 0;
    hi[i] = p->count_include_pad ? g.in[i] + g.pe[i] : g.in[i];
  }
  /* Along the last axis, outputs [olo, ohi) have their whole window inside [lo, hi) and count
   * k taps; only the edges need cnnrt_pool_taps. */
  const int64_t ek2 = (g.k[2] - 1) * g.d[2] + 1;
  int64_t olo = (lo[2] + g.pb[2] + g.s[2] - 1) / g.s[2]; /* lo[2] + pb[2] >= 0 */
  int64_t ohi = hi[2] + g.pb[2] >= ek2 ? (hi[2] + g.pb[2] - ek2) / g.s[2] + 1 : 0;
  if (ohi > g.out[2]) {
    ohi = g.out[2];
  }
  if (olo > ohi) {
    olo = ohi;
  }
  for (int64_t nc = nc_begin; nc < nc_end; nc++) {
    float *yc = y + nc * g.out_size;
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      int64_t a0, b0;
      cnnrt_pool_taps(o0 * g.s[0] - g.pb[0], g.k[0], g.d[0], lo[0], hi[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        int64_t a1, b1;
        cnnrt_pool_taps(o1 * g.s[1] - g.pb[1], g.k[1], g.d[1], lo[1], hi[1], &a1, &b1);
        int64_t c01 = (b0 - a0) * (b1 - a1);
        float *yr = yc + (o0 * g.out[1] + o1) * g.out[2];
        int64_t o2 = 0;
        for (; o2 < olo; o2++) {
          yr[o2] = cnnrt_pool_avg_edge(&g, yr[o2], c01, o2, lo[2], hi[2]);
        }
        if (c01 > 0) {
          const float full = (float)(c01 * g.k[2]);
          for (; o2 < ohi; o2++) {
            yr[o2] /= full;
          }
        }
        for (; o2 < g.out[2]; o2++) {
          yr[o2] = cnnrt_pool_avg_edge(&g, yr[o2], c01, o2, lo[2], hi[2]);
        }
      }
    }
  }
}

static inline void cnnrt_f32_avgpool_ref(const cnnrt_pool_params *p, const float *x, float *y) {
  cnnrt_f32_avgpool_range_ref(p, 0, p->n * p->c, x, y);
}

/* MaxPool / AveragePool split into tasks for the cnnrt_parallel hook: task t of n_tasks takes
 * its share of the (batch, channel) planes. */
typedef struct cnnrt_pool_task {
  const cnnrt_pool_params *p;
  const float *x;
  float *y;
  int64_t *indices; /* MaxPool's Indices or NULL */
  int max;          /* 1: MaxPool, 0: AveragePool */
  int64_t n_tasks;
} cnnrt_pool_task;

static inline void cnnrt_pool_task_fn(void *arg, int64_t t) {
  const cnnrt_pool_task *a = (const cnnrt_pool_task *)arg;
  const int64_t planes = a->p->n * a->p->c;
  const int64_t lo = planes * t / a->n_tasks, hi = planes * (t + 1) / a->n_tasks;
  if (a->max) {
    cnnrt_f32_maxpool_range_ref(a->p, lo, hi, a->x, a->y, a->indices);
  } else {
    cnnrt_f32_avgpool_range_ref(a->p, lo, hi, a->x, a->y);
  }
}

/* ---- LpPool ---- */

/* p == 1 and p == 2 (the ONNX default) avoid powf. */
static inline void cnnrt_pool_lp_finish(float p, float *y, int64_t n) {
  if (p == 1.0f) {
    return;
  }
  if (p == 2.0f) {
    for (int64_t i = 0; i < n; i++) {
      y[i] = sqrtf(y[i]);
    }
    return;
  }
  float inv = 1.0f / p;
  for (int64_t i = 0; i < n; i++) {
    y[i] = powf(y[i], inv);
  }
}

static inline int cnnrt_pool_lp_op(float p) {
  return p == 1.0f ? CNNRT_POOL_OP_ABS : (p == 2.0f ? CNNRT_POOL_OP_SQR : CNNRT_POOL_OP_POW);
}

static inline void cnnrt_f32_lppool_range_ref(const cnnrt_pool_params *p, int64_t nc_begin,
                                              int64_t nc_end, const float *x, float *y) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  cnnrt_pool_accumulate(&g, cnnrt_pool_lp_op(p->p), p->p, nc_begin, nc_end, x, y);
  cnnrt_pool_lp_finish(p->p, y + nc_begin * g.out_size, (nc_end - nc_begin) * g.out_size);
}

static inline void cnnrt_f32_lppool_ref(const cnnrt_pool_params *p, const float *x, float *y) {
  cnnrt_f32_lppool_range_ref(p, 0, p->n * p->c, x, y);
}

/* ---- Global pooling: x is n_c planes of spatial_size contiguous floats, y has n_c values ----
 * Eight independent partial results per plane: no reassociation is needed for the compiler to
 * vectorize, and the summation error grows with size/8 instead of size. */

#define CNNRT_POOL_LANES 8

/* op: CNNRT_POOL_OP_SUM / ABS / SQR / POW of the n values x[i * stride], or MAX (none: -inf).
 * stride 1 is a plane; 8 is one channel of an NCHW8c block (cnnrt_nchwc.h's fused pool), which
 * so gets the same operations, bit for bit, as the plane would. */
static inline float cnnrt_pool_reduce_strided(int op, float pw, const float *x, int64_t n,
                                              int64_t stride) {
  float acc[CNNRT_POOL_LANES];
  const float init = op == CNNRT_POOL_OP_MAX ? -INFINITY : 0.0f;
  for (int l = 0; l < CNNRT_POOL_LANES; l++) {
    acc[l] = init;
  }
  int64_t nv = n - n % CNNRT_POOL_LANES;
  for (int64_t i = 0; i < nv; i += CNNRT_POOL_LANES) {
    cnnrt_pool_row(op, pw, acc, x + i * stride, CNNRT_POOL_LANES, stride);
  }
  cnnrt_pool_row(op, pw, acc, x + nv * stride, n - nv, stride);
  float r = init;
  for (int l = 0; l < CNNRT_POOL_LANES; l++) {
    r = op == CNNRT_POOL_OP_MAX ? (acc[l] > r ? acc[l] : r) : r + acc[l];
  }
  return r;
}

/* op over one plane of n contiguous values. */
static inline float cnnrt_pool_reduce(int op, float pw, const float *x, int64_t n) {
  return cnnrt_pool_reduce_strided(op, pw, x, n, 1);
}

static inline void cnnrt_f32_global_avgpool_ref(int64_t n_c, int64_t spatial_size, const float *x,
                                                float *y) {
  for (int64_t i = 0; i < n_c; i++) {
    float s = cnnrt_pool_reduce(CNNRT_POOL_OP_SUM, 0.0f, x + i * spatial_size, spatial_size);
    y[i] = spatial_size > 0 ? s / (float)spatial_size : 0.0f;
  }
}

static inline void cnnrt_f32_global_maxpool_ref(int64_t n_c, int64_t spatial_size, const float *x,
                                                float *y) {
  for (int64_t i = 0; i < n_c; i++) {
    y[i] = cnnrt_pool_reduce(CNNRT_POOL_OP_MAX, 0.0f, x + i * spatial_size, spatial_size);
  }
}

static inline void cnnrt_f32_global_lppool_ref(int64_t n_c, int64_t spatial_size, float p,
                                               const float *x, float *y) {
  for (int64_t i = 0; i < n_c; i++) {
    y[i] = cnnrt_pool_reduce(cnnrt_pool_lp_op(p), p, x + i * spatial_size, spatial_size);
  }
  cnnrt_pool_lp_finish(p, y, n_c);
}

#endif /* CNNRT_POOL_H */
