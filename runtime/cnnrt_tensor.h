/* cnnrt_tensor.h — data-movement kernels of the cnncc runtime: Transpose, Slice, Concat,
 * Split, Pad, Tile, Expand, Gather, DepthToSpace and SpaceToDepth.
 *
 * All kernels are type-agnostic: they move elements of `elem_size` bytes (1, 2, 4, 8 or any
 * other size) and take void pointers. Shapes are resolved by the compiler into the params
 * structs; a kernel only executes. Tensors are dense and row-major. Inputs and outputs must not
 * overlap.
 *
 * Most kernels reduce to one engine, cnnrt_strided_copy_, which writes a dense output from a
 * strided view of the input: it drops size-1 axes, merges axes that stay adjacent in memory,
 * folds the contiguous innermost run into a bigger "element" (copied with memcpy), and when the
 * innermost output axis is strided in the input but another axis is contiguous there (a real
 * transpose), it copies 2-D tiles so that both reads and writes stay in cache. */
#ifndef CNNRT_TENSOR_H
#define CNNRT_TENSOR_H

#include "cnnrt.h"

/* ---------------------------------------------------------------------------------------- */
/* Internal helpers                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* Fills nbytes (a multiple of es) of dst with copies of the es-byte pattern. A NULL pattern
 * means zeros. Writes the pattern once, then doubles the filled prefix with memcpy. */
static inline void cnnrt_fill_pattern_(unsigned char *dst, int64_t nbytes, const void *pattern,
                                       int64_t es) {
  if (nbytes <= 0) {
    return;
  }
  const unsigned char *pat = (const unsigned char *)pattern;
  int uniform = 1;
  if (pat != NULL) {
    for (int64_t i = 1; i < es; i++) {
      if (pat[i] != pat[0]) {
        uniform = 0;
        break;
      }
    }
  }
  if (uniform) { /* zero or a repeated byte (0xff...): memset is fastest */
    memset(dst, pat != NULL ? pat[0] : 0, (size_t)nbytes);
    return;
  }
  memcpy(dst, pat, (size_t)es);
  int64_t done = es;
  while (done < nbytes) {
    int64_t n = done < nbytes - done ? done : nbytes - done;
    memcpy(dst + done, dst, (size_t)n);
    done += n;
  }
}

/* dst[i] = src[i * ss] for i < n, elements of eb bytes, dst dense. The fixed-size memcpy in each
 * case compiles to a single load/store (and is alignment- and aliasing-safe). */
static inline void cnnrt_copy_run_(unsigned char *dst, const unsigned char *src, int64_t n,
                                   int64_t ss, int64_t eb) {
  switch (eb) {
  case 1:
    for (int64_t i = 0; i < n; i++) {
      dst[i] = src[i * ss];
    }
    break;
  case 2:
    for (int64_t i = 0; i < n; i++) {
      memcpy(dst + 2 * i, src + i * ss, 2);
    }
    break;
  case 4:
    for (int64_t i = 0; i < n; i++) {
      memcpy(dst + 4 * i, src + i * ss, 4);
    }
    break;
  case 8:
    for (int64_t i = 0; i < n; i++) {
      memcpy(dst + 8 * i, src + i * ss, 8);
    }
    break;
  default:
    for (int64_t i = 0; i < n; i++) {
      memcpy(dst + eb * i, src + i * ss, (size_t)eb);
    }
    break;
  }
}

/* 2-D tile copy: dst[i*dsi + j*eb] = src[i*ssi + j*ssj], i < ni, j < nj. The caller picks the
 * axis i that is (nearly) contiguous in src and j contiguous in dst; tiles of ~128 bytes per
 * side keep the strided side of each tile in L1. The loop nest is stamped out per element size
 * so that the element copy is a single load/store (the switch is outside all loops). Bounds are
 * written as i0 + min(ni - i0, t) so that no expression can overflow. */
#define CNNRT_TILE2D_LOOPS_(EB)                                                                    \
  for (int64_t i0 = 0, i1; i0 < ni; i0 = i1) {                                                     \
    i1 = i0 + (ni - i0 < t ? ni - i0 : t);                                                         \
    for (int64_t j0 = 0, j1; j0 < nj; j0 = j1) {                                                   \
      j1 = j0 + (nj - j0 < t ? nj - j0 : t);                                                       \
      for (int64_t i = i0; i < i1; i++) {                                                          \
        unsigned char *d_ = dst + i * dsi;                                                         \
        const unsigned char *s_ = src + i * ssi;                                                   \
        for (int64_t j = j0; j < j1; j++) {                                                        \
          memcpy(d_ + j * (EB), s_ + j * ssj, (size_t)(EB));                                       \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }

static inline void cnnrt_copy_tile2d_(unsigned char *dst, int64_t dsi, const unsigned char *src,
                                      int64_t ssi, int64_t ssj, int64_t ni, int64_t nj,
                                      int64_t eb) {
  int64_t t = 128 / eb;
  t = t < 8 ? 8 : (t > 32 ? 32 : t);
  switch (eb) {
  case 1:
    CNNRT_TILE2D_LOOPS_(1)
    break;
  case 2:
    CNNRT_TILE2D_LOOPS_(2)
    break;
  case 4:
    CNNRT_TILE2D_LOOPS_(4)
    break;
  case 8:
    CNNRT_TILE2D_LOOPS_(8)
    break;
  default:
    CNNRT_TILE2D_LOOPS_(eb)
    break;
  }
}

/* The engine: dense dst[i0..ir-1] = src[sum_a i_a * stride[a]] (strides in bytes, any sign,
 * 0 for broadcast), elements of eb bytes. */
static inline void cnnrt_strided_copy_(int64_t rank, const int64_t *dims, const int64_t *stride,
                                       int64_t eb, const void *src_, void *dst_) {
  const unsigned char *src = (const unsigned char *)src_;
  unsigned char *dst = (unsigned char *)dst_;
  int64_t d[CNNRT_MAX_RANK], s[CNNRT_MAX_RANK];
  int64_t r = 0;
  for (int64_t a = 0; a < rank; a++) {
    if (dims[a] == 0) {
      return;
    }
    if (dims[a] == 1) {
      continue;
    }
    /* Output is dense, so axes merge whenever they are adjacent in the source too. */
    if (r > 0 && s[r - 1] == stride[a] * dims[a]) {
      d[r - 1] *= dims[a];
      s[r - 1] = stride[a];
    } else {
      d[r] = dims[a];
      s[r] = stride[a];
      r++;
    }
  }
  /* A contiguous innermost axis becomes part of the element: whole runs move with memcpy. */
  while (r > 0 && s[r - 1] == eb) {
    eb *= d[r - 1];
    r--;
  }
  if (r == 0) {
    memcpy(dst, src, (size_t)eb);
    return;
  }
  int64_t ds[CNNRT_MAX_RANK]; /* dense destination strides in bytes */
  ds[r - 1] = eb;
  for (int64_t a = r - 2; a >= 0; a--) {
    ds[a] = ds[a + 1] * d[a + 1];
  }
  /* Transpose-like case: the innermost output axis is strided in the source while another axis
   * is contiguous there. Copy 2-D tiles over those two axes. */
  int64_t q = -1;
  if (s[r - 1] != 0) {
    for (int64_t a = 0; a < r - 1; a++) {
      if (s[a] == eb || s[a] == -eb) {
        q = a;
        break;
      }
    }
  }
  int64_t idx[CNNRT_MAX_RANK];
  int64_t n_outer = 1;
  for (int64_t a = 0; a < r - 1; a++) {
    idx[a] = 0;
    if (a != q) {
      n_outer *= d[a];
    }
  }
  int64_t soff = 0, doff = 0;
  for (int64_t it = 0; it < n_outer; it++) {
    if (q >= 0) {
      cnnrt_copy_tile2d_(dst + doff, ds[q], src + soff, s[q], s[r - 1], d[q], d[r - 1], eb);
    } else {
      cnnrt_copy_run_(dst + doff, src + soff, d[r - 1], s[r - 1], eb);
    }
    for (int64_t a = r - 2; a >= 0; a--) { /* odometer over the outer axes */
      if (a == q) {
        continue;
      }
      idx[a]++;
      soff += s[a];
      doff += ds[a];
      if (idx[a] < d[a]) {
        break;
      }
      soff -= s[a] * d[a];
      doff -= ds[a] * d[a];
      idx[a] = 0;
    }
  }
}

/* y = transpose(x viewed with dims[], perm): output axis i is input axis perm[i]. */
static inline void cnnrt_permute_(int64_t rank, const int64_t *dims, const int64_t *perm,
                                  int64_t eb, const void *x, void *y) {
  /* (zero-initialised: gcc cannot see that rank 0 leaves them unread) */
  int64_t in_stride[CNNRT_MAX_RANK] = {0}, od[CNNRT_MAX_RANK] = {0}, os[CNNRT_MAX_RANK] = {0};
  int64_t st = eb;
  for (int64_t a = rank - 1; a >= 0; a--) {
    in_stride[a] = st;
    st *= dims[a];
  }
  for (int64_t i = 0; i < rank; i++) {
    od[i] = dims[perm[i]];
    os[i] = in_stride[perm[i]];
  }
  cnnrt_strided_copy_(rank, od, os, eb, x, y);
}

/* ---------------------------------------------------------------------------------------- */
/* Transpose                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Output dims are in[perm[i]]; output axis i is input axis perm[i] (ONNX Transpose). */
typedef struct cnnrt_transpose_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK];
  int64_t perm[CNNRT_MAX_RANK];
  int64_t elem_size;
} cnnrt_transpose_params;

static inline void cnnrt_transpose(const cnnrt_transpose_params *p, const void *x, void *y) {
  cnnrt_permute_(p->rank, p->in, p->perm, p->elem_size, x, y);
}

/* ---------------------------------------------------------------------------------------- */
/* Slice (general strided copy)                                                               */
/* ---------------------------------------------------------------------------------------- */

/* y[i_0..i_r-1] = x[start_a + i_a * step_a per axis], i_a < out[a]. Steps may be negative (or
 * 0 for a broadcast read). Unsliced axes: start 0, step 1, out = in. */
typedef struct cnnrt_slice_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK];
  int64_t out[CNNRT_MAX_RANK];
  int64_t start[CNNRT_MAX_RANK];
  int64_t step[CNNRT_MAX_RANK];
  int64_t elem_size;
} cnnrt_slice_params;

/* ONNX Slice clamping for one axis of size dim. start/end are the raw ONNX values (any int64,
 * including INT64_MAX / INT64_MIN), step != 0. Negative start/end get dim added, then for
 * step > 0: start, end clamped to [0, dim]; for step < 0: start clamped to [0, dim-1], end to
 * [-1, dim-1]. Writes the first element index and the number of elements (0 for an empty
 * slice, with *out_start = 0). Returns 0, or -1 (and length 0) when step == 0 (invalid). */
static inline int cnnrt_slice_resolve(int64_t dim, int64_t start, int64_t end, int64_t step,
                                      int64_t *out_start, int64_t *out_len) {
  *out_start = 0;
  *out_len = 0;
  if (step == 0) {
    return -1;
  }
  if (dim <= 0) { /* (the negative-step clamp range [0, dim-1] would be empty) */
    return 0;
  }
  /* dim > 0, so adding it to a negative value cannot overflow. */
  if (start < 0) {
    start += dim;
  }
  if (end < 0) {
    end += dim;
  }
  int64_t len = 0;
  if (step > 0) {
    start = start < 0 ? 0 : (start > dim ? dim : start);
    end = end < 0 ? 0 : (end > dim ? dim : end);
    if (end > start) {
      len = (end - start - 1) / step + 1; /* ceil((end-start)/step) without overflow */
    }
  } else {
    start = start < 0 ? 0 : (start > dim - 1 ? dim - 1 : start);
    end = end < -1 ? -1 : (end > dim - 1 ? dim - 1 : end);
    if (start > end) {
      /* step == INT64_MIN cannot be negated; any such slice holds exactly one element. */
      len = step == INT64_MIN ? 1 : (start - end - 1) / (-step) + 1;
    }
  }
  if (len > 0) {
    *out_start = start;
    *out_len = len;
  }
  return 0;
}

static inline void cnnrt_slice(const cnnrt_slice_params *p, const void *x, void *y) {
  int64_t eb = p->elem_size;
  int64_t st[CNNRT_MAX_RANK] = {0};
  int64_t in_stride = eb, base = 0;
  for (int64_t a = p->rank - 1; a >= 0; a--) {
    if (p->out[a] == 0) {
      return;
    }
    st[a] = in_stride * p->step[a];
    base += in_stride * p->start[a];
    in_stride *= p->in[a];
  }
  cnnrt_strided_copy_(p->rank, p->out, st, eb, (const unsigned char *)x + base, y);
}

/* ---------------------------------------------------------------------------------------- */
/* Concat / Split                                                                             */
/* ---------------------------------------------------------------------------------------- */

/* Concat: copies one input x into its slot of y. outer = product of the dims before the axis;
 * inner_in_bytes = bytes of one x row from the axis on (x.shape[axis] * inner * elem_size);
 * inner_out_bytes = the same for y; offset_bytes = where x starts within a y row (sum of the
 * previous inputs' inner_in_bytes). Call once per input. */
static inline void cnnrt_concat_part(int64_t outer, int64_t inner_in_bytes, int64_t inner_out_bytes,
                                     int64_t offset_bytes, const void *x, void *y) {
  const unsigned char *src = (const unsigned char *)x;
  unsigned char *dst = (unsigned char *)y + offset_bytes;
  if (inner_in_bytes == inner_out_bytes) { /* single input or outer axis: one block */
    memcpy(dst, src, (size_t)(outer * inner_in_bytes));
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    memcpy(dst + o * inner_out_bytes, src + o * inner_in_bytes, (size_t)inner_in_bytes);
  }
}

/* Split: copies one output y out of x. inner_in_bytes = bytes of one x row from the axis on,
 * inner_out_bytes = bytes of one y row from the axis on, offset_bytes = where y's part starts
 * within an x row. Call once per output. */
static inline void cnnrt_split_part(int64_t outer, int64_t inner_in_bytes, int64_t inner_out_bytes,
                                    int64_t offset_bytes, const void *x, void *y) {
  const unsigned char *src = (const unsigned char *)x + offset_bytes;
  unsigned char *dst = (unsigned char *)y;
  if (inner_in_bytes == inner_out_bytes) {
    memcpy(dst, src, (size_t)(outer * inner_out_bytes));
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    memcpy(dst + o * inner_out_bytes, src + o * inner_in_bytes, (size_t)inner_out_bytes);
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Pad                                                                                        */
/* ---------------------------------------------------------------------------------------- */

enum cnnrt_pad_mode {
  CNNRT_PAD_CONSTANT = 0,
  CNNRT_PAD_REFLECT = 1,
  CNNRT_PAD_EDGE = 2,
  CNNRT_PAD_WRAP = 3
};

/* out[a] = in[a] + pad_begin[a] + pad_end[a]; pad_end is implied. Negative pads crop. */
typedef struct cnnrt_pad_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK];
  int64_t out[CNNRT_MAX_RANK];
  int64_t pad_begin[CNNRT_MAX_RANK]; /* may be negative (cropping) */
  int64_t mode;                      /* enum cnnrt_pad_mode */
  int64_t elem_size;
} cnnrt_pad_params;

/* Per-axis geometry after cropping: the output is `front` pad positions, `n` positions copied
 * from input rows lo..lo+n-1, then `out - front - n` pad positions. */
typedef struct cnnrt_pad_axis_ {
  int64_t in, out, front, lo, n;
} cnnrt_pad_axis_;

/* Source row (0..n-1, relative to the cropped data) for pad position k (k < 0 or k >= n). */
static inline int64_t cnnrt_pad_map_(int64_t mode, int64_t k, int64_t n) {
  if (mode == CNNRT_PAD_EDGE) {
    return k < 0 ? 0 : n - 1;
  }
  if (mode == CNNRT_PAD_WRAP) { /* periodic (torus) */
    int64_t m = k % n;
    return m < 0 ? m + n : m;
  }
  /* reflect (numpy 'reflect'): period 2(n-1), edges not repeated; pads longer than n-1 keep
   * reflecting back and forth exactly like numpy.pad. */
  if (n == 1) {
    return 0;
  }
  int64_t period = 2 * (n - 1);
  int64_t m = k % period;
  if (m < 0) {
    m += period;
  }
  return m < n ? m : period - m;
}

static inline void cnnrt_pad_rec_(const cnnrt_pad_axis_ *ax, const int64_t *in_stride,
                                  const int64_t *out_stride, int64_t r, int64_t a, int64_t mode,
                                  int64_t es, const void *cval, const unsigned char *src,
                                  unsigned char *dst) {
  const cnnrt_pad_axis_ *A = &ax[a];
  int64_t ds = out_stride[a];
  int64_t back = A->out - A->front - A->n;
  if (mode == CNNRT_PAD_CONSTANT || A->n == 0) {
    /* Pad rows are contiguous byte ranges of the constant (also the fallback of the other modes
     * when cropping left no data to replicate). */
    cnnrt_fill_pattern_(dst, A->front * ds, cval, es);
    cnnrt_fill_pattern_(dst + (A->front + A->n) * ds, back * ds, cval, es);
    if (A->n == 0) {
      return;
    }
  }
  src += A->lo * in_stride[a];
  if (a == r - 1) {
    memcpy(dst + A->front * ds, src, (size_t)(A->n * ds));
  } else {
    for (int64_t i = 0; i < A->n; i++) {
      cnnrt_pad_rec_(ax, in_stride, out_stride, r, a + 1, mode, es, cval, src + i * in_stride[a],
                     dst + (A->front + i) * ds);
    }
  }
  if (mode != CNNRT_PAD_CONSTANT) {
    /* Each pad row is a copy of an already finished output row (the whole sub-block). */
    for (int64_t o = 0; o < A->front; o++) {
      int64_t k = cnnrt_pad_map_(mode, o - A->front, A->n);
      memcpy(dst + o * ds, dst + (A->front + k) * ds, (size_t)ds);
    }
    for (int64_t o = A->front + A->n; o < A->out; o++) {
      int64_t k = cnnrt_pad_map_(mode, o - A->front, A->n);
      memcpy(dst + o * ds, dst + (A->front + k) * ds, (size_t)ds);
    }
  }
}

/* ONNX Pad. constant_value points to elem_size bytes (NULL means zero); it is used by mode 0
 * and, in the other modes, for an axis whose cropped data is empty (nothing to replicate).
 * Negative pads crop first; reflect/edge/wrap then work on the cropped data (as onnxruntime).
 * Reflect follows numpy.pad(mode='reflect') also for pads >= dim; wrap is periodic. */
static inline void cnnrt_pad(const cnnrt_pad_params *p, const void *x, const void *constant_value,
                             void *y) {
  int64_t es = p->elem_size;
  int64_t eb = es;
  int64_t mode = p->mode;
  cnnrt_pad_axis_ ax[CNNRT_MAX_RANK];
  int64_t r = 0;
  for (int64_t a = 0; a < p->rank; a++) {
    int64_t in = p->in[a], out = p->out[a], pb = p->pad_begin[a];
    if (out == 0) {
      return;
    }
    int64_t pe = out - in - pb;
    cnnrt_pad_axis_ A;
    A.in = in;
    A.out = out;
    A.lo = pb < 0 ? -pb : 0;
    A.front = pb > 0 ? (pb < out ? pb : out) : 0;
    int64_t hi = in - (pe < 0 ? -pe : 0);
    A.n = hi > A.lo ? hi - A.lo : 0;
    if (A.n > out - A.front) {
      A.n = out - A.front;
    }
    int unpadded = (pb == 0 && in == out);
    /* Adjacent unpadded axes merge into one. */
    if (unpadded && r > 0 && ax[r - 1].lo == 0 && ax[r - 1].front == 0 &&
        ax[r - 1].in == ax[r - 1].out) {
      ax[r - 1].in *= in;
      ax[r - 1].out *= in;
      ax[r - 1].n *= in;
      continue;
    }
    ax[r++] = A;
  }
  /* Trailing unpadded axes become part of the element (whole rows move with memcpy). */
  if (r > 0 && ax[r - 1].lo == 0 && ax[r - 1].front == 0 && ax[r - 1].in == ax[r - 1].out) {
    eb *= ax[r - 1].in;
    r--;
  }
  if (r == 0) {
    memcpy(y, x, (size_t)eb);
    return;
  }
  int64_t in_stride[CNNRT_MAX_RANK], out_stride[CNNRT_MAX_RANK];
  int64_t is = eb, os = eb;
  for (int64_t a = r - 1; a >= 0; a--) {
    in_stride[a] = is;
    out_stride[a] = os;
    is *= ax[a].in;
    os *= ax[a].out;
  }
  cnnrt_pad_rec_(ax, in_stride, out_stride, r, 0, mode, es, constant_value,
                 (const unsigned char *)x, (unsigned char *)y);
}

/* ---------------------------------------------------------------------------------------- */
/* Tile                                                                                       */
/* ---------------------------------------------------------------------------------------- */

/* out[a] = in[a] * repeats[a]; y[i] = x[i mod in] per axis. */
typedef struct cnnrt_tile_params {
  int64_t rank;
  int64_t in[CNNRT_MAX_RANK];
  int64_t out[CNNRT_MAX_RANK];
  int64_t elem_size;
} cnnrt_tile_params;

/* Replicates the first `have` bytes of dst until `total` bytes are filled (doubling memcpy). */
static inline void cnnrt_replicate_(unsigned char *dst, int64_t have, int64_t total) {
  int64_t done = have;
  while (done < total) {
    int64_t n = done < total - done ? done : total - done;
    memcpy(dst + done, dst, (size_t)n);
    done += n;
  }
}

static inline void cnnrt_tile_rec_(const int64_t *in, const int64_t *out, const int64_t *in_stride,
                                   const int64_t *out_stride, int64_t r, int64_t a,
                                   const unsigned char *src, unsigned char *dst) {
  if (a == r - 1) {
    memcpy(dst, src, (size_t)(in[a] * out_stride[a]));
  } else {
    for (int64_t i = 0; i < in[a]; i++) {
      cnnrt_tile_rec_(in, out, in_stride, out_stride, r, a + 1, src + i * in_stride[a],
                      dst + i * out_stride[a]);
    }
  }
  /* The first in[a] output rows are one full period along this axis; repeat it. */
  cnnrt_replicate_(dst, in[a] * out_stride[a], out[a] * out_stride[a]);
}

static inline void cnnrt_tile(const cnnrt_tile_params *p, const void *x, void *y) {
  int64_t eb = p->elem_size;
  int64_t in[CNNRT_MAX_RANK], out[CNNRT_MAX_RANK];
  int64_t r = 0;
  for (int64_t a = 0; a < p->rank; a++) {
    if (p->out[a] == 0 || p->in[a] == 0) {
      return;
    }
    if (p->in[a] == 1 && p->out[a] == 1) {
      continue;
    }
    /* An unrepeated axis merges with the axis before it: rows of the outer axis stay whole. */
    if (r > 0 && p->in[a] == p->out[a]) {
      in[r - 1] *= p->in[a];
      out[r - 1] *= p->in[a];
      continue;
    }
    in[r] = p->in[a];
    out[r] = p->out[a];
    r++;
  }
  if (r > 0 && in[r - 1] == out[r - 1]) { /* an unrepeated innermost block is one element */
    eb *= in[r - 1];
    r--;
  }
  if (r == 0) {
    memcpy(y, x, (size_t)eb);
    return;
  }
  int64_t in_stride[CNNRT_MAX_RANK], out_stride[CNNRT_MAX_RANK];
  int64_t is = eb, os = eb;
  for (int64_t a = r - 1; a >= 0; a--) {
    in_stride[a] = is;
    out_stride[a] = os;
    is *= in[a];
    os *= out[a];
  }
  cnnrt_tile_rec_(in, out, in_stride, out_stride, r, 0, (const unsigned char *)x,
                  (unsigned char *)y);
}

/* ---------------------------------------------------------------------------------------- */
/* Expand (broadcast copy)                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* y (dims out[]) = x broadcast: in_stride[a] is x's element stride along output axis a, 0 on
 * broadcast axes (and on axes x does not have). */
typedef struct cnnrt_expand_params {
  int64_t rank;
  int64_t out[CNNRT_MAX_RANK];
  int64_t in_stride[CNNRT_MAX_RANK]; /* 0 on broadcast dims */
  int64_t elem_size;
} cnnrt_expand_params;

static inline void cnnrt_expand(const cnnrt_expand_params *p, const void *x, void *y) {
  int64_t eb = p->elem_size;
  const unsigned char *src = (const unsigned char *)x;
  unsigned char *dst = (unsigned char *)y;
  int64_t d[CNNRT_MAX_RANK], s[CNNRT_MAX_RANK];
  int64_t r = 0;
  for (int64_t a = 0; a < p->rank; a++) {
    if (p->out[a] == 0) {
      return;
    }
    d[r] = p->out[a];
    s[r] = p->in_stride[a] * eb;
    r++;
  }
  /* Trailing broadcast axes: build one x-shaped block then replicate it with memcpy, which is
   * much faster than an element-wise fill when the broadcast block is large. */
  int64_t rep = 1;
  while (r > 0 && s[r - 1] == 0) {
    rep *= d[r - 1];
    r--;
  }
  if (rep == 1) {
    cnnrt_strided_copy_(r, d, s, eb, src, dst);
    return;
  }
  /* Every output row of `rep` elements is one x element repeated. */
  int64_t rows = 1;
  for (int64_t a = 0; a < r; a++) {
    rows *= d[a];
  }
  if (rows == 1) {
    cnnrt_fill_pattern_(dst, rep * eb, src, eb);
    return;
  }
  /* Gather the row heads densely at the end of y (the last `rows` elements), then expand each
   * head in place, front to back: row i's head sits at element (total - rows + i) >= i * rep,
   * so the expansion of row i never overwrites the head of a later row before it is read. */
  int64_t total = rows * rep;
  unsigned char *heads = dst + (total - rows) * eb;
  cnnrt_strided_copy_(r, d, s, eb, src, heads);
  unsigned char tmp[64];
  for (int64_t i = 0; i < rows; i++) {
    const unsigned char *h = heads + i * eb;
    if (eb <= 64) {
      memcpy(tmp, h, (size_t)eb);
      cnnrt_fill_pattern_(dst + i * rep * eb, rep * eb, tmp, eb);
    } else { /* large elements: the head is at or after this row's first element */
      unsigned char *row = dst + i * rep * eb;
      if (row != h) {
        memmove(row, h, (size_t)eb);
      }
      cnnrt_replicate_(row, eb, rep * eb);
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Gather                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* ONNX Gather along one axis: x viewed as [outer, axis_len, inner], y as [outer, n_indices,
 * inner] with inner_bytes = bytes of one inner block. indices are int32 (index_elem_size 4) or
 * int64 (8). Negative indices wrap once (+axis_len); indices still out of range are clamped to
 * [0, axis_len-1] so that bad runtime data cannot read out of bounds (ONNX calls it an error;
 * the compiler validates constant indices). axis_len == 0 yields zeros. */
static inline void cnnrt_gather(int64_t outer, int64_t axis_len, int64_t inner_bytes,
                                const void *indices, int64_t n_indices, int64_t index_elem_size,
                                const void *x, void *y) {
  const unsigned char *src = (const unsigned char *)x;
  unsigned char *dst = (unsigned char *)y;
  if (axis_len <= 0) {
    memset(dst, 0, (size_t)(outer * n_indices * inner_bytes));
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    const unsigned char *xo = src + o * axis_len * inner_bytes;
    unsigned char *yo = dst + o * n_indices * inner_bytes;
    for (int64_t k = 0; k < n_indices; k++) {
      int64_t idx;
      if (index_elem_size == 4) {
        int32_t v;
        memcpy(&v, (const unsigned char *)indices + 4 * k, 4);
        idx = v;
      } else {
        memcpy(&idx, (const unsigned char *)indices + 8 * k, 8);
      }
      if (idx < 0) {
        idx += axis_len;
      }
      idx = idx < 0 ? 0 : (idx >= axis_len ? axis_len - 1 : idx);
      const unsigned char *s = xo + idx * inner_bytes;
      unsigned char *d = yo + k * inner_bytes;
      switch (inner_bytes) { /* small inner blocks (gather on the last axis) */
      case 1:
        d[0] = s[0];
        break;
      case 2:
        memcpy(d, s, 2);
        break;
      case 4:
        memcpy(d, s, 4);
        break;
      case 8:
        memcpy(d, s, 8);
        break;
      default:
        memcpy(d, s, (size_t)inner_bytes);
        break;
      }
    }
  }
}

/* Gather's gradient w.r.t. its (float) data, the adjoint of cnnrt_gather: dx viewed as
 * [outer, axis_len, inner] starts at zero, then dx[o, idx(k), :] += dy[o, k, :] for every index
 * k in order, so repeated indices add up (a scatter-add). Indices wrap and clamp exactly as
 * cnnrt_gather reads them, so the pair stays adjoint even for bad run-time indices. */
/* Index k of Gather's indices (4- or 8-byte), wrapped once if negative and clamped into
 * [0, axis_len) as cnnrt_gather reads it; axis_len > 0. Shared by the gradient's forms. */
static inline int64_t cnnrt_gather_grad_index(const void *indices, int64_t index_elem_size,
                                              int64_t k, int64_t axis_len) {
  int64_t idx;
  if (index_elem_size == 4) {
    int32_t v;
    memcpy(&v, (const unsigned char *)indices + 4 * k, 4);
    idx = v;
  } else {
    memcpy(&idx, (const unsigned char *)indices + 8 * k, 8);
  }
  if (idx < 0) {
    idx += axis_len;
  }
  return idx < 0 ? 0 : (idx >= axis_len ? axis_len - 1 : idx);
}

static inline void cnnrt_f32_gather_grad_ref(int64_t outer, int64_t axis_len, int64_t inner,
                                             const void *indices, int64_t n_indices,
                                             int64_t index_elem_size, const float *dy,
                                             float *dx) {
  for (int64_t i = 0; i < outer * axis_len * inner; i++) {
    dx[i] = 0.0f;
  }
  if (axis_len <= 0) {
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    float *dxo = dx + o * axis_len * inner;
    const float *dyo = dy + o * n_indices * inner;
    for (int64_t k = 0; k < n_indices; k++) {
      const int64_t idx = cnnrt_gather_grad_index(indices, index_elem_size, k, axis_len);
      float *d = dxo + idx * inner;
      const float *s = dyo + k * inner;
      for (int64_t i = 0; i < inner; i++) {
        d[i] += s[i];
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* DepthToSpace / SpaceToDepth                                                                */
/* ---------------------------------------------------------------------------------------- */

/* x: [n, c, h, w] -> y: [n, c/(b*b), h*b, w*b]. DCR (mode_crd == 0, the ONNX default):
 *   y[n][k][i*b+u][j*b+v] = x[n][(u*b+v)*(c/(b*b)) + k][i][j]
 * CRD (mode_crd != 0):
 *   y[n][k][i*b+u][j*b+v] = x[n][k*b*b + u*b + v][i][j]
 * Both are a 6-D transpose, run by the tiled strided-copy engine. */
static inline void cnnrt_depth_to_space(int64_t n, int64_t c, int64_t h, int64_t w,
                                        int64_t blocksize, int64_t mode_crd, int64_t elem_size,
                                        const void *x, void *y) {
  int64_t b = blocksize, k = c / (blocksize * blocksize);
  if (mode_crd) {
    const int64_t dims[6] = {n, k, b, b, h, w};
    const int64_t perm[6] = {0, 1, 4, 2, 5, 3};
    cnnrt_permute_(6, dims, perm, elem_size, x, y);
  } else {
    const int64_t dims[6] = {n, b, b, k, h, w};
    const int64_t perm[6] = {0, 3, 4, 1, 5, 2};
    cnnrt_permute_(6, dims, perm, elem_size, x, y);
  }
}

/* x: [n, c, h, w] -> y: [n, c*b*b, h/b, w/b], y[n][(u*b+v)*c + k][i][j] = x[n][k][i*b+u][j*b+v]
 * (the inverse of DCR DepthToSpace). */
static inline void cnnrt_space_to_depth(int64_t n, int64_t c, int64_t h, int64_t w,
                                        int64_t blocksize, int64_t elem_size, const void *x,
                                        void *y) {
  int64_t b = blocksize;
  const int64_t dims[6] = {n, c, h / b, b, w / b, b};
  const int64_t perm[6] = {0, 3, 5, 1, 2, 4};
  cnnrt_permute_(6, dims, perm, elem_size, x, y);
}

#endif /* CNNRT_TENSOR_H */
