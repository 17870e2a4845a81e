/* cnnrt_reduce.h — reductions of the cnncc runtime: ReduceSum/Mean/Max/Min/Prod/L1/L2/
 * SumSquare/LogSum/LogSumExp over any set of axes, and ArgMax/ArgMin along one axis.
 *
 * The input is dense row-major with dims p->in[]; reduce[a] != 0 marks a reduced axis. The
 * output holds the kept axes in order (keepdims only changes the shape, not the data), dense.
 *
 * Strategy: drop size-1 axes and merge neighbouring axes with the same flag, so any reduction
 * becomes alternating kept/reduced blocks. The input is then walked once in memory order as
 * "runs" along the innermost block:
 *   - innermost reduced: each run is a contiguous horizontal reduction (8 partial accumulators
 *     so the compiler can vectorize without reassociation flags) combined into one y element;
 *   - innermost kept: each run is combined element-wise into a contiguous row of y (vertical,
 *     vectorizable).
 * y itself holds the accumulators: it is initialised with the identity, then finalised (mean,
 * sqrt, log). Empty reductions follow numpy/ONNX: sum 0, prod 1, max -inf (INT_MIN for
 * integers), min +inf (INT_MAX), mean NaN, l1/l2/sum_square 0, log_sum/log_sum_exp -inf.
 * Float sums accumulate in float; NaN propagation in max/min/arg* is not guaranteed.
 * x and y must not overlap (the vertical loops use restrict pointers). */
#ifndef CNNRT_REDUCE_H
#define CNNRT_REDUCE_H

#include "cnnrt.h"

typedef struct cnnrt_reduce_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK];
  int64_t reduce[CNNRT_MAX_RANK]; /* 1 if axis reduced */
} cnnrt_reduce_params;

/* ---------------------------------------------------------------------------------------- */
/* Shared plan: collapsed geometry and the walk over runs                                     */
/* ---------------------------------------------------------------------------------------- */

typedef struct cnnrt_reduce_plan_ {
  int64_t rank; /* collapsed rank >= 1 */
  int64_t dim[CNNRT_MAX_RANK];
  int64_t ystride[CNNRT_MAX_RANK]; /* y element stride per collapsed axis, 0 if reduced */
  int64_t inner;                   /* length of the innermost collapsed axis (one run) */
  int64_t inner_reduced;
  int64_t n_runs; /* number of runs = input size / inner */
  int64_t n_out;  /* output elements */
  int64_t n_red;  /* elements reduced into each output */
  int64_t idx[CNNRT_MAX_RANK];
  int64_t yoff; /* y offset of the current run */
} cnnrt_reduce_plan_;

static inline void cnnrt_reduce_plan_init_(cnnrt_reduce_plan_ *pl, const cnnrt_reduce_params *p) {
  int64_t red[CNNRT_MAX_RANK];
  int64_t r = 0;
  pl->n_out = 1;
  pl->n_red = 1;
  for (int64_t a = 0; a < p->rank; a++) {
    int64_t d = p->in[a];
    int rd = p->reduce[a] != 0;
    if (rd) {
      pl->n_red *= d;
    } else {
      pl->n_out *= d;
    }
    if (d == 1) {
      continue;
    }
    if (r > 0 && red[r - 1] == rd) {
      pl->dim[r - 1] *= d;
    } else {
      pl->dim[r] = d;
      red[r] = rd;
      r++;
    }
  }
  if (r == 0) { /* a single element: treat it as one kept axis of length 1 */
    pl->dim[0] = 1;
    red[0] = 0;
    r = 1;
  }
  pl->rank = r;
  int64_t ys = 1;
  for (int64_t a = r - 1; a >= 0; a--) {
    pl->ystride[a] = red[a] ? 0 : ys;
    if (!red[a]) {
      ys *= pl->dim[a];
    }
  }
  pl->inner = pl->dim[r - 1];
  pl->inner_reduced = red[r - 1];
  pl->n_runs = 1;
  for (int64_t a = 0; a < r - 1; a++) {
    pl->n_runs *= pl->dim[a];
    pl->idx[a] = 0;
  }
  pl->yoff = 0;
}

/* Advances to the next run (input runs are consecutive; only y's offset needs an odometer). */
static inline void cnnrt_reduce_plan_next_(cnnrt_reduce_plan_ *pl) {
  for (int64_t a = pl->rank - 2; a >= 0; a--) {
    pl->idx[a]++;
    pl->yoff += pl->ystride[a];
    if (pl->idx[a] < pl->dim[a]) {
      return;
    }
    pl->yoff -= pl->ystride[a] * pl->dim[a];
    pl->idx[a] = 0;
  }
}

/* ---------------------------------------------------------------------------------------- */
/* float32                                                                                    */
/* ---------------------------------------------------------------------------------------- */

enum {
  CNNRT_RED_SUM_ = 0,
  CNNRT_RED_MEAN_,
  CNNRT_RED_MAX_,
  CNNRT_RED_MIN_,
  CNNRT_RED_PROD_,
  CNNRT_RED_L1_,
  CNNRT_RED_L2_,
  CNNRT_RED_SUMSQ_,
  CNNRT_RED_LOGSUM_,
  CNNRT_RED_LOGSUMEXP_
};

/* Horizontal runs. `pre`: 0 plain, 1 |x|, 2 x*x. */
static inline float cnnrt_f32_hsum_(const float *x, int64_t n, int pre) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0, n8 = n - n % 8; /* full blocks of 8 lanes, then the tail */
  if (pre == 0) {
    for (; i < n8; i += 8) {
      for (int j = 0; j < 8; j++) {
        acc[j] += x[i + j];
      }
    }
    for (; i < n; i++) {
      acc[0] += x[i];
    }
  } else if (pre == 1) {
    for (; i < n8; i += 8) {
      for (int j = 0; j < 8; j++) {
        acc[j] += fabsf(x[i + j]);
      }
    }
    for (; i < n; i++) {
      acc[0] += fabsf(x[i]);
    }
  } else {
    for (; i < n8; i += 8) {
      for (int j = 0; j < 8; j++) {
        acc[j] += x[i + j] * x[i + j];
      }
    }
    for (; i < n; i++) {
      acc[0] += x[i] * x[i];
    }
  }
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline float cnnrt_f32_hprod_(const float *x, int64_t n) {
  float acc[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  int64_t i = 0, n8 = n - n % 8; /* full blocks of 8 lanes, then the tail */
  for (; i < n8; i += 8) {
    for (int j = 0; j < 8; j++) {
      acc[j] *= x[i + j];
    }
  }
  for (; i < n; i++) {
    acc[0] *= x[i];
  }
  return ((acc[0] * acc[4]) * (acc[1] * acc[5])) * ((acc[2] * acc[6]) * (acc[3] * acc[7]));
}

static inline float cnnrt_f32_hmax_(const float *x, int64_t n, int is_min) {
  float acc[8];
  for (int j = 0; j < 8; j++) {
    acc[j] = is_min ? INFINITY : -INFINITY;
  }
  int64_t i = 0, n8 = n - n % 8; /* full blocks of 8 lanes, then the tail */
  if (is_min) {
    for (; i < n8; i += 8) {
      for (int j = 0; j < 8; j++) {
        acc[j] = x[i + j] < acc[j] ? x[i + j] : acc[j];
      }
    }
    for (; i < n; i++) {
      acc[0] = x[i] < acc[0] ? x[i] : acc[0];
    }
    for (int j = 1; j < 8; j++) {
      acc[0] = acc[j] < acc[0] ? acc[j] : acc[0];
    }
  } else {
    for (; i < n8; i += 8) {
      for (int j = 0; j < 8; j++) {
        acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
      }
    }
    for (; i < n; i++) {
      acc[0] = x[i] > acc[0] ? x[i] : acc[0];
    }
    for (int j = 1; j < 8; j++) {
      acc[0] = acc[j] > acc[0] ? acc[j] : acc[0];
    }
  }
  return acc[0];
}

/* log(exp(a) + exp(b)) without overflow; -inf is the identity. */
static inline float cnnrt_f32_logaddexp_(float a, float b) {
  if (a == -INFINITY) {
    return b;
  }
  if (b == -INFINITY) {
    return a;
  }
  if (a == b) { /* also covers +inf + +inf, where a - b would be NaN */
    return a + 0.69314718f;
  }
  float m = a > b ? a : b;
  return m + log1pf(expf(-fabsf(a - b)));
}

/* One horizontal run of log-sum-exp, shifted by its own max for stability. */
static inline float cnnrt_f32_hlogsumexp_(const float *x, int64_t n) {
  float m = cnnrt_f32_hmax_(x, n, 0);
  if (m == INFINITY || m == -INFINITY || m != m) {
    return m; /* +inf dominates; all -inf gives -inf; NaN propagates */
  }
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0, n8 = n - n % 8; /* full blocks of 8 lanes, then the tail */
  for (; i < n8; i += 8) {
    for (int j = 0; j < 8; j++) {
      acc[j] += expf(x[i + j] - m);
    }
  }
  for (; i < n; i++) {
    acc[0] += expf(x[i] - m);
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  return m + logf(s);
}

/* Vertical run: y[k] = y[k] (op) x[k]. Each loop is written as blocks of 8 independent lanes
 * on restrict pointers, a form gcc vectorizes already at -O2 (its cheap cost model refuses
 * plain loops that would need an alias check or a scalar epilogue). */
#define CNNRT_BLOCKED8_(N, K, STMT)                                                                \
  do {                                                                                             \
    int64_t b8_ = 0, n8_ = (N) - (N) % 8;                                                          \
    for (; b8_ < n8_; b8_ += 8) {                                                                  \
      for (int64_t j8_ = 0; j8_ < 8; j8_++) {                                                      \
        int64_t K = b8_ + j8_;                                                                     \
        STMT;                                                                                      \
      }                                                                                            \
    }                                                                                              \
    for (; b8_ < (N); b8_++) {                                                                     \
      int64_t K = b8_;                                                                             \
      STMT;                                                                                        \
    }                                                                                              \
  } while (0)

static inline void cnnrt_f32_vrun_(float *restrict y, const float *restrict x, int64_t n, int op) {
  switch (op) {
  case CNNRT_RED_MAX_:
    CNNRT_BLOCKED8_(n, k, y[k] = x[k] > y[k] ? x[k] : y[k]);
    break;
  case CNNRT_RED_MIN_:
    CNNRT_BLOCKED8_(n, k, y[k] = x[k] < y[k] ? x[k] : y[k]);
    break;
  case CNNRT_RED_PROD_:
    CNNRT_BLOCKED8_(n, k, y[k] *= x[k]);
    break;
  case CNNRT_RED_L1_:
    CNNRT_BLOCKED8_(n, k, y[k] += fabsf(x[k]));
    break;
  case CNNRT_RED_L2_:
  case CNNRT_RED_SUMSQ_:
    CNNRT_BLOCKED8_(n, k, y[k] += x[k] * x[k]);
    break;
  case CNNRT_RED_LOGSUMEXP_:
    /* Online log-sum-exp, one exp+log1p per element: stable without scratch memory, but slow;
     * reductions over the innermost axis take the cheaper two-pass path instead. */
    for (int64_t k = 0; k < n; k++) {
      y[k] = cnnrt_f32_logaddexp_(y[k], x[k]);
    }
    break;
  default: /* sum, mean, log_sum */
    CNNRT_BLOCKED8_(n, k, y[k] += x[k]);
    break;
  }
}

static inline void cnnrt_f32_reduce_(const cnnrt_reduce_params *p, int op, const float *x,
                                     float *y) {
  cnnrt_reduce_plan_ pl;
  cnnrt_reduce_plan_init_(&pl, p);
  if (pl.n_out == 0) {
    return;
  }
  float init;
  switch (op) {
  case CNNRT_RED_MAX_:
  case CNNRT_RED_LOGSUMEXP_:
    init = -INFINITY;
    break;
  case CNNRT_RED_MIN_:
    init = INFINITY;
    break;
  case CNNRT_RED_PROD_:
    init = 1.0f;
    break;
  default:
    init = 0.0f;
    break;
  }
  for (int64_t o = 0; o < pl.n_out; o++) {
    y[o] = init;
  }
  if (pl.n_red > 0) {
    int64_t n = pl.inner;
    for (int64_t run = 0; run < pl.n_runs; run++) {
      const float *xr = x + run * n;
      float *yr = y + pl.yoff;
      if (pl.inner_reduced) {
        switch (op) {
        case CNNRT_RED_MAX_:
        case CNNRT_RED_MIN_: {
          float v = cnnrt_f32_hmax_(xr, n, op == CNNRT_RED_MIN_);
          if (op == CNNRT_RED_MAX_ ? v > *yr : v < *yr) {
            *yr = v;
          }
          break;
        }
        case CNNRT_RED_PROD_:
          *yr *= cnnrt_f32_hprod_(xr, n);
          break;
        case CNNRT_RED_L1_:
          *yr += cnnrt_f32_hsum_(xr, n, 1);
          break;
        case CNNRT_RED_L2_:
        case CNNRT_RED_SUMSQ_:
          *yr += cnnrt_f32_hsum_(xr, n, 2);
          break;
        case CNNRT_RED_LOGSUMEXP_:
          *yr = cnnrt_f32_logaddexp_(*yr, cnnrt_f32_hlogsumexp_(xr, n));
          break;
        default: /* sum, mean, log_sum */
          *yr += cnnrt_f32_hsum_(xr, n, 0);
          break;
        }
      } else {
        cnnrt_f32_vrun_(yr, xr, n, op);
      }
      cnnrt_reduce_plan_next_(&pl);
    }
  }
  switch (op) { /* finalise */
  case CNNRT_RED_MEAN_: {
    float cnt = (float)pl.n_red; /* 0/0 = NaN for an empty mean, like numpy */
    for (int64_t o = 0; o < pl.n_out; o++) {
      y[o] = y[o] / cnt;
    }
    break;
  }
  case CNNRT_RED_L2_:
    for (int64_t o = 0; o < pl.n_out; o++) {
      y[o] = sqrtf(y[o]);
    }
    break;
  case CNNRT_RED_LOGSUM_:
    for (int64_t o = 0; o < pl.n_out; o++) {
      y[o] = logf(y[o]);
    }
    break;
  default:
    break;
  }
}

static inline void cnnrt_f32_reduce_sum(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_SUM_, x, y);
}
static inline void cnnrt_f32_reduce_mean(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_MEAN_, x, y);
}
static inline void cnnrt_f32_reduce_max(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_MAX_, x, y);
}
static inline void cnnrt_f32_reduce_min(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_MIN_, x, y);
}
static inline void cnnrt_f32_reduce_prod(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_PROD_, x, y);
}
static inline void cnnrt_f32_reduce_l1(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_L1_, x, y);
}
static inline void cnnrt_f32_reduce_l2(const cnnrt_reduce_params *p, const float *x, float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_L2_, x, y);
}
static inline void cnnrt_f32_reduce_sum_square(const cnnrt_reduce_params *p, const float *x,
                                               float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_SUMSQ_, x, y);
}
static inline void cnnrt_f32_reduce_log_sum(const cnnrt_reduce_params *p, const float *x,
                                            float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_LOGSUM_, x, y);
}
static inline void cnnrt_f32_reduce_log_sum_exp(const cnnrt_reduce_params *p, const float *x,
                                                float *y) {
  cnnrt_f32_reduce_(p, CNNRT_RED_LOGSUMEXP_, x, y);
}

/* ---------------------------------------------------------------------------------------- */
/* int32 / int64: sum, prod (wrap around modulo 2^n like numpy), max, min                     */
/* ---------------------------------------------------------------------------------------- */

/* CNNRT_REDUCE_INT_(T, U, TMIN, TMAX, PFX) defines cnnrt_<PFX>_reduce_{sum,prod,max,min}.
 * Sums and products go through the unsigned type U so that overflow wraps instead of being
 * undefined behaviour. */
#define CNNRT_REDUCE_INT_(T, U, TMIN, TMAX, PFX)                                                   \
  static inline void cnnrt_##PFX##_reduce_(const cnnrt_reduce_params *p, int op, const T *x,       \
                                           T *y) {                                                 \
    cnnrt_reduce_plan_ pl;                                                                         \
    cnnrt_reduce_plan_init_(&pl, p);                                                               \
    if (pl.n_out == 0) {                                                                           \
      return;                                                                                      \
    }                                                                                              \
    T init = op == CNNRT_RED_MAX_    ? (TMIN)                                                      \
             : op == CNNRT_RED_MIN_  ? (TMAX)                                                      \
             : op == CNNRT_RED_PROD_ ? (T)1                                                        \
                                     : (T)0;                                                       \
    for (int64_t o = 0; o < pl.n_out; o++) {                                                       \
      y[o] = init;                                                                                 \
    }                                                                                              \
    if (pl.n_red == 0) {                                                                           \
      return;                                                                                      \
    }                                                                                              \
    int64_t n = pl.inner;                                                                          \
    for (int64_t run = 0; run < pl.n_runs; run++) {                                                \
      const T *xr = x + run * n;                                                                   \
      T *yr = y + pl.yoff;                                                                         \
      if (pl.inner_reduced) {                                                                      \
        U acc = (U)*yr;                                                                            \
        T m = *yr;                                                                                 \
        switch (op) {                                                                              \
        case CNNRT_RED_MAX_:                                                                       \
          for (int64_t k = 0; k < n; k++) {                                                        \
            m = xr[k] > m ? xr[k] : m;                                                             \
          }                                                                                        \
          *yr = m;                                                                                 \
          break;                                                                                   \
        case CNNRT_RED_MIN_:                                                                       \
          for (int64_t k = 0; k < n; k++) {                                                        \
            m = xr[k] < m ? xr[k] : m;                                                             \
          }                                                                                        \
          *yr = m;                                                                                 \
          break;                                                                                   \
        case CNNRT_RED_PROD_:                                                                      \
          for (int64_t k = 0; k < n; k++) {                                                        \
            acc *= (U)xr[k];                                                                       \
          }                                                                                        \
          *yr = (T)acc;                                                                            \
          break;                                                                                   \
        default:                                                                                   \
          for (int64_t k = 0; k < n; k++) {                                                        \
            acc += (U)xr[k];                                                                       \
          }                                                                                        \
          *yr = (T)acc;                                                                            \
          break;                                                                                   \
        }                                                                                          \
      } else {                                                                                     \
        switch (op) {                                                                              \
        case CNNRT_RED_MAX_:                                                                       \
          for (int64_t k = 0; k < n; k++) {                                                        \
            yr[k] = xr[k] > yr[k] ? xr[k] : yr[k];                                                 \
          }                                                                                        \
          break;                                                                                   \
        case CNNRT_RED_MIN_:                                                                       \
          for (int64_t k = 0; k < n; k++) {                                                        \
            yr[k] = xr[k] < yr[k] ? xr[k] : yr[k];                                                 \
          }                                                                                        \
          break;                                                                                   \
        case CNNRT_RED_PROD_:                                                                      \
          for (int64_t k = 0; k < n; k++) {                                                        \
            yr[k] = (T)((U)yr[k] * (U)xr[k]);                                                      \
          }                                                                                        \
          break;                                                                                   \
        default:                                                                                   \
          for (int64_t k = 0; k < n; k++) {                                                        \
            yr[k] = (T)((U)yr[k] + (U)xr[k]);                                                      \
          }                                                                                        \
          break;                                                                                   \
        }                                                                                          \
      }                                                                                            \
      cnnrt_reduce_plan_next_(&pl);                                                                \
    }                                                                                              \
  }                                                                                                \
  static inline void cnnrt_##PFX##_reduce_sum(const cnnrt_reduce_params *p, const T *x, T *y) {    \
    cnnrt_##PFX##_reduce_(p, CNNRT_RED_SUM_, x, y);                                                \
  }                                                                                                \
  static inline void cnnrt_##PFX##_reduce_prod(const cnnrt_reduce_params *p, const T *x, T *y) {   \
    cnnrt_##PFX##_reduce_(p, CNNRT_RED_PROD_, x, y);                                               \
  }                                                                                                \
  static inline void cnnrt_##PFX##_reduce_max(const cnnrt_reduce_params *p, const T *x, T *y) {    \
    cnnrt_##PFX##_reduce_(p, CNNRT_RED_MAX_, x, y);                                                \
  }                                                                                                \
  static inline void cnnrt_##PFX##_reduce_min(const cnnrt_reduce_params *p, const T *x, T *y) {    \
    cnnrt_##PFX##_reduce_(p, CNNRT_RED_MIN_, x, y);                                                \
  }

CNNRT_REDUCE_INT_(int32_t, uint32_t, INT32_MIN, INT32_MAX, i32)
CNNRT_REDUCE_INT_(int64_t, uint64_t, INT64_MIN, INT64_MAX, i64)

/* ---------------------------------------------------------------------------------------- */
/* ArgMax / ArgMin                                                                            */
/* ---------------------------------------------------------------------------------------- */

/* x viewed as [outer, axis_len, inner]; y[outer * inner] (int64) gets the index along the axis
 * of the max (min) element. Ties pick the first index, or the last if select_last_index != 0.
 * axis_len == 0 (invalid in ONNX) yields 0. NaN is not treated specially (a NaN never beats
 * the running best). For inner > 1 the axis is walked row by row over a tile of `inner`
 * columns, so every read is contiguous. */
#define CNNRT_ARGREDUCE_TILE_ 256
#define CNNRT_ARGREDUCE_(T, NAME, BETTER, BETTER_EQ)                                               \
  static inline void NAME(int64_t outer, int64_t axis_len, int64_t inner,                          \
                          int64_t select_last_index, const T *x, int64_t *y) {                     \
    if (axis_len <= 0) {                                                                           \
      for (int64_t i = 0; i < outer * inner; i++) {                                                \
        y[i] = 0;                                                                                  \
      }                                                                                            \
      return;                                                                                      \
    }                                                                                              \
    for (int64_t o = 0; o < outer; o++) {                                                          \
      const T *xo = x + o * axis_len * inner;                                                      \
      int64_t *yo = y + o * inner;                                                                 \
      if (inner == 1) {                                                                            \
        T best = xo[0];                                                                            \
        int64_t bi = 0;                                                                            \
        if (select_last_index) {                                                                   \
          for (int64_t a = 1; a < axis_len; a++) {                                                 \
            if (BETTER_EQ(xo[a], best)) {                                                          \
              best = xo[a];                                                                        \
              bi = a;                                                                              \
            }                                                                                      \
          }                                                                                        \
        } else {                                                                                   \
          for (int64_t a = 1; a < axis_len; a++) {                                                 \
            if (BETTER(xo[a], best)) {                                                             \
              best = xo[a];                                                                        \
              bi = a;                                                                              \
            }                                                                                      \
          }                                                                                        \
        }                                                                                          \
        yo[0] = bi;                                                                                \
        continue;                                                                                  \
      }                                                                                            \
      T best[CNNRT_ARGREDUCE_TILE_];                                                               \
      for (int64_t k0 = 0; k0 < inner; k0 += CNNRT_ARGREDUCE_TILE_) {                              \
        int64_t kn = inner - k0 < CNNRT_ARGREDUCE_TILE_ ? inner - k0 : CNNRT_ARGREDUCE_TILE_;      \
        for (int64_t k = 0; k < kn; k++) {                                                         \
          best[k] = xo[k0 + k];                                                                    \
          yo[k0 + k] = 0;                                                                          \
        }                                                                                          \
        for (int64_t a = 1; a < axis_len; a++) {                                                   \
          const T *row = xo + a * inner + k0;                                                      \
          int64_t *yi = yo + k0;                                                                   \
          if (select_last_index) {                                                                 \
            for (int64_t k = 0; k < kn; k++) {                                                     \
              int take = BETTER_EQ(row[k], best[k]);                                               \
              best[k] = take ? row[k] : best[k];                                                   \
              yi[k] = take ? a : yi[k];                                                            \
            }                                                                                      \
          } else {                                                                                 \
            for (int64_t k = 0; k < kn; k++) {                                                     \
              int take = BETTER(row[k], best[k]);                                                  \
              best[k] = take ? row[k] : best[k];                                                   \
              yi[k] = take ? a : yi[k];                                                            \
            }                                                                                      \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }

#define CNNRT_GT_(a, b) ((a) > (b))
#define CNNRT_GE_(a, b) ((a) >= (b))
#define CNNRT_LT_(a, b) ((a) < (b))
#define CNNRT_LE_(a, b) ((a) <= (b))
CNNRT_ARGREDUCE_(float, cnnrt_f32_argmax, CNNRT_GT_, CNNRT_GE_)
CNNRT_ARGREDUCE_(float, cnnrt_f32_argmin, CNNRT_LT_, CNNRT_LE_)
CNNRT_ARGREDUCE_(int32_t, cnnrt_i32_argmax, CNNRT_GT_, CNNRT_GE_)
CNNRT_ARGREDUCE_(int32_t, cnnrt_i32_argmin, CNNRT_LT_, CNNRT_LE_)
CNNRT_ARGREDUCE_(int64_t, cnnrt_i64_argmax, CNNRT_GT_, CNNRT_GE_)
CNNRT_ARGREDUCE_(int64_t, cnnrt_i64_argmin, CNNRT_LT_, CNNRT_LE_)

#endif /* CNNRT_REDUCE_H */
