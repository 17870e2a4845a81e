/* cnnrt_conv_grad_avx2.h — the filter gradient of a group-1 convolution as the packed AVX2
 * GEMM of cnnrt_gemm_avx2.h (x86 AVX2 + FMA):
 *
 *   dW [c_out, c_in*kvol] = sum over images b and pixel chunks of
 *                           dy[b][:, chunk] (c_out x pc)  *  im2col(x[b])[:, chunk]^T (pc x c_in*kvol)
 *
 * Per chunk of pc output pixels, dy's rows are packed into the GEMM's 6-row A panels and the
 * transposed im2col block (pc rows of c_in*kvol taps, padding as zeros) is written row by row;
 * the GEMM then adds the product onto dW (its in-place residual), the first chunk storing. pc
 * keeps the im2col block near 1 MiB. Threads split the columns of dW (cnnrt_f32_gemm_avx2_split)
 * over one shared packed A / im2col block, each with its own B-packing scratch.
 * Results equal cnnrt_f32_conv_grad_filter_ref up to float rounding (summation order).
 *
 * The data gradient, a ConvTranspose (group 1) of dy with the forward weights, runs as the same
 * GEMM followed by col2im: per image and chunk of pc input pixels,
 *   cols [c_out*kvol, pc] = W^T [c_out*kvol, c_in] (packed at build time)  *  x[:, chunk]
 * then every column adds its taps into y at o*stride + t*dilation - pad (taps outside y are the
 * cropped ones). y starts at the bias (or zero).
 * Scratch sizes and the weight packing are portable (the compiler plans and packs); the kernels
 * exist only with AVX2+FMA.
 *
 * Grouped convolutions (group > 1; depthwise ones have their own kernels below) run the same
 * group-1 code once per group, with the per-group parameters (cnnrt_conv_grad_per_group_: c_in
 * and c_out divided by the group count) and pointer offsets to the group's channels: the
 * filter gradient of group g is dW_g = dy_g * im2col(x_g)^T into rows [g*cog, (g+1)*cog) of
 * dW, the data gradient is group g's GEMM + col2im into output channels [g*cog, (g+1)*cog).
 * Scratch is sized for one group and reused; W^T is packed group after group. */
#ifndef CNNRT_CONV_GRAD_AVX2_H
#define CNNRT_CONV_GRAD_AVX2_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_conv_grad.h"
#include "cnnrt_gemm_avx2.h"

static inline int64_t cnnrt_conv_grad_avx2_round64_(int64_t b) { return (b + 63) / 64 * 64; }

/* Whether p (a Conv, or the ConvTranspose of its data gradient) is depthwise: one input and one
 * output channel per group. (Portable: the compiler's schedule asks it.) */
static inline int cnnrt_conv_is_depthwise(const cnnrt_conv_params *p) {
  return p->group > 1 && p->group == p->c_in && p->group == p->c_out;
}

/* One group of p as a group-1 problem: channels per group, the same geometry and batch. */
static inline cnnrt_conv_params cnnrt_conv_grad_per_group_(const cnnrt_conv_params *p) {
  cnnrt_conv_params q = *p;
  const int64_t groups = p->group > 1 ? p->group : 1;
  q.c_in = p->c_in / groups;
  q.c_out = p->c_out / groups;
  q.group = 1;
  return q;
}

/* Output pixels per chunk. */
static inline int64_t cnnrt_conv_grad_filter_avx2_chunk(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  int64_t kvol = 1, plane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
    plane *= p->out[i];
  }
  const int64_t k = p->c_in * kvol;
  int64_t pc = ((int64_t)1 << 18) / (k > 0 ? k : 1);
  pc = pc / 16 * 16;
  if (pc < 16) {
    pc = 16;
  }
  return plane < pc ? (plane > 0 ? plane : 1) : pc;
}

/* Scratch: packed dy chunk + im2col block (shared) + one GEMM scratch per task. */
static inline int64_t cnnrt_f32_conv_grad_filter_avx2_shared_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  int64_t kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
  }
  const int64_t pc = cnnrt_conv_grad_filter_avx2_chunk(p);
  return 64 + cnnrt_conv_grad_avx2_round64_((p->c_out + 5) / 6 * 6 * pc * 4) +
         cnnrt_conv_grad_avx2_round64_(pc * p->c_in * kvol * 4);
}

static inline int64_t cnnrt_f32_conv_grad_filter_avx2_task_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  int64_t kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
  }
  const int64_t pc = cnnrt_conv_grad_filter_avx2_chunk(p);
  /* = cnnrt_f32_gemm_packed_avx2_scratch_bytes(c_out, c_in * kvol, pc), which exists only
   * with AVX2: the B-packing block of the GEMM. */
  const int64_t n = p->c_in * kvol;
  const int64_t nc = cnnrt_gemm_avx2_min(n, CNNRT_GEMM_AVX2_NC);
  return cnnrt_conv_grad_avx2_round64_(64 + (cnnrt_gemm_avx2_kc(pc) + 1) * ((nc + 15) / 16 * 16) *
                                                (int64_t)sizeof(float));
}

/* ---- ConvTranspose (p as the ConvTranspose's params: c_in = channels of x, in[] = x's sizes,
 * out[] = y's sizes; weights [c_in, c_out / group, kernel...]; any group, not only 1). ---- */

/* Bytes of one group's packed W^T. */
static inline int64_t cnnrt_f32_conv_transpose_pack_group_bytes_(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp);
  int64_t kvol = 1;
  for (int64_t i = 0; i < q.spatial; i++) {
    kvol *= q.kernel[i];
  }
  return cnnrt_f32_pack_a_mr6_bytes(q.c_out * kvol, q.c_in);
}

/* Packs W^T per group, group after group: A_g[(co, t), ci] = w_g[(ci * cog + co) * kvol + t]
 * with w_g = w + g * cig * cog * kvol (cig, cog: channels per group), in the GEMM's 6-row
 * panels. */
static inline int64_t cnnrt_f32_conv_transpose_pack_bytes(const cnnrt_conv_params *p) {
  return (p->group > 1 ? p->group : 1) * cnnrt_f32_conv_transpose_pack_group_bytes_(p);
}

static inline void cnnrt_f32_conv_transpose_pack(const cnnrt_conv_params *pp, const float *w,
                                                 float *packed) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  const int64_t groups = pp->group > 1 ? pp->group : 1;
  const int64_t group_floats = cnnrt_f32_conv_transpose_pack_group_bytes_(pp) / (int64_t)sizeof(float);
  int64_t kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
  }
  const int64_t m = p->c_out * kvol, k = p->c_in;
  const int64_t m6 = (m + 5) / 6 * 6;
  for (int64_t g = 0; g < groups; g++) {
    const float *wg = w + g * k * m;
    float *pg = packed + g * group_floats;
    for (int64_t i = 0; i < m6; i++) {
      for (int64_t kk = 0; kk < k; kk++) {
        const int64_t co = i / kvol, t = i % kvol;
        pg[(i / 6) * 6 * k + kk * 6 + i % 6] = i < m ? wg[(kk * p->c_out + co) * kvol + t] : 0.0f;
      }
    }
  }
}

static inline int64_t cnnrt_conv_transpose_avx2_chunk(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  int64_t kvol = 1, plane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
    plane *= p->in[i];
  }
  const int64_t m = p->c_out * kvol;
  int64_t pc = ((int64_t)1 << 18) / (m > 0 ? m : 1);
  pc = pc / 16 * 16;
  if (pc < 16) {
    pc = 16;
  }
  return plane < pc ? (plane > 0 ? plane : 1) : pc;
}

/* Scratch: the cols block (shared) + one GEMM B-packing region per task. */
static inline int64_t cnnrt_f32_conv_transpose_avx2_shared_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  int64_t kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
  }
  return 64 + cnnrt_conv_grad_avx2_round64_(p->c_out * kvol * cnnrt_conv_transpose_avx2_chunk(p) * 4);
}

static inline int64_t cnnrt_f32_conv_transpose_avx2_task_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(pp), *p = &q;
  const int64_t pc = cnnrt_conv_transpose_avx2_chunk(p);
  const int64_t nc = cnnrt_gemm_avx2_min(pc, CNNRT_GEMM_AVX2_NC);
  return cnnrt_conv_grad_avx2_round64_(64 + (cnnrt_gemm_avx2_kc(p->c_in) + 1) *
                                                ((nc + 15) / 16 * 16) * (int64_t)sizeof(float));
}

#if defined(__AVX2__) && defined(__FMA__)

typedef struct cnnrt_conv_transpose_task {
  const cnnrt_conv_params *p;
  const float *a_packed, *xb;
  float *cols, *yb;
  int64_t m, len, ldb, n_tasks, task_bytes;
  unsigned char *scratch;
  int64_t p0;
} cnnrt_conv_transpose_task;

static inline void cnnrt_conv_transpose_gemm_task_(void *arg, int64_t task) {
  const cnnrt_conv_transpose_task *t = (const cnnrt_conv_transpose_task *)arg;
  int64_t n0, n1;
  cnnrt_f32_gemm_avx2_split(t->len, task, t->n_tasks, &n0, &n1);
  cnnrt_f32_gemm_packed_avx2_range(t->m, t->len, t->p->c_in, t->a_packed, t->xb + t->p0, t->ldb,
                                   t->cols, t->len, NULL, NULL, CNNRT_ACT_NONE, 0.0f, 0.0f, n0, n1,
                                   t->scratch + task * t->task_bytes);
}

/* col2im of output channels [co0, co1): y[co, o*s + t*d - pb] += cols[(co, t), q]. */
static inline void cnnrt_conv_transpose_col2im_task_(void *arg, int64_t task) {
  const cnnrt_conv_transpose_task *t = (const cnnrt_conv_transpose_task *)arg;
  const cnnrt_conv_params *p = t->p;
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  /* (as a convolution from y to x: the grad geometry helper takes in = y, out = x) */
  cnnrt_conv_params q = *p;
  for (int i = 0; i < 3; i++) {
    q.in[i] = p->out[i];
    q.out[i] = p->in[i];
  }
  cnnrt_conv_grad_geom_(&q, in, out, k, s, d, pb); /* in[] = y sizes, out[] = x sizes */
  const int64_t kvol = k[0] * k[1] * k[2], yplane = in[0] * in[1] * in[2];
  const int64_t co0 = p->c_out * task / t->n_tasks, co1 = p->c_out * (task + 1) / t->n_tasks;
  /* The chunk's pixels are walked as stretches of one x row (no divisions per element); within
   * a stretch the taps that land inside y's row are one range of x2, added as vectors when the
   * stride along the row is 1. Each y element receives its additions in the same order as an
   * element-by-element walk (tap, then pixel), so the result does not depend on this. */
  for (int64_t co = co0; co < co1; co++) {
    float *yc = t->yb + co * yplane;
    for (int64_t tap = 0; tap < kvol; tap++) {
      const int64_t t0 = tap / (k[1] * k[2]), t1 = (tap / k[2]) % k[1], t2 = tap % k[2];
      const int64_t off2 = t2 * d[2] - pb[2];
      int64_t lo2, hi2; /* x2 with 0 <= x2 * s + off2 < y's row length */
      cnnrt_conv_grad_range_(off2, s[2], in[2], out[2], &lo2, &hi2);
      const float *cr = t->cols + (co * kvol + tap) * t->len;
      int64_t q2 = 0;
      while (q2 < t->len) {
        const int64_t pix = t->p0 + q2;
        const int64_t x2s = pix % out[2], row = pix / out[2];
        const int64_t x1 = row % out[1], x0 = row / out[1];
        const int64_t span = out[2] - x2s < t->len - q2 ? out[2] - x2s : t->len - q2;
        const int64_t o0 = x0 * s[0] + t0 * d[0] - pb[0], o1 = x1 * s[1] + t1 * d[1] - pb[1];
        if (o0 >= 0 && o0 < in[0] && o1 >= 0 && o1 < in[1]) {
          const int64_t a = lo2 > x2s ? lo2 : x2s;
          const int64_t b = hi2 < x2s + span ? hi2 : x2s + span;
          float *yr = yc + (o0 * in[1] + o1) * in[2];
          const float *c = cr + q2; /* c[j] belongs to x2 = x2s + j */
          int64_t x2 = a;
          if (s[2] == 1) {
            for (; x2 + 8 <= b; x2 += 8) {
              float *yv = yr + x2 + off2;
              _mm256_storeu_ps(yv, _mm256_add_ps(_mm256_loadu_ps(yv), _mm256_loadu_ps(c + (x2 - x2s))));
            }
          }
          for (; x2 < b; x2++) {
            yr[x2 * s[2] + off2] += c[x2 - x2s];
          }
        }
        q2 += span;
      }
    }
  }
}

/* One group: p is group 1 (the per-group params); x and y point at the group's first channel,
 * images x_batch / y_batch floats apart. */
static inline void cnnrt_f32_conv_transpose_gemm_avx2_group_(const cnnrt_conv_params *p,
                                                             const float *x, int64_t x_batch,
                                                             const float *a_packed,
                                                             const float *bias, float *y,
                                                             int64_t y_batch, void *scratch,
                                                             int64_t max_tasks,
                                                             const cnnrt_parallel *par) {
  int64_t kvol = 1, xplane = 1, yplane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
    xplane *= p->in[i];
    yplane *= p->out[i];
  }
  cnnrt_conv_transpose_task t;
  t.p = p;
  t.a_packed = a_packed;
  t.m = p->c_out * kvol;
  t.ldb = xplane;
  t.cols = (float *)scratch;
  t.scratch = (unsigned char *)scratch + cnnrt_f32_conv_transpose_avx2_shared_bytes(p) - 64;
  t.task_bytes = cnnrt_f32_conv_transpose_avx2_task_bytes(p);
  int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  t.n_tasks = threads < max_tasks ? threads : max_tasks;
  if (t.n_tasks < 1) {
    t.n_tasks = 1;
  }
  const int64_t pc = cnnrt_conv_transpose_avx2_chunk(p);
  for (int64_t b = 0; b < p->n; b++) {
    float *yb = y + b * y_batch;
    for (int64_t co = 0; co < p->c_out; co++) {
      const float v = bias != NULL ? bias[co] : 0.0f;
      for (int64_t i = 0; i < yplane; i++) {
        yb[co * yplane + i] = v;
      }
    }
    t.xb = x + b * x_batch;
    t.yb = yb;
    for (int64_t p0 = 0; p0 < xplane; p0 += pc) {
      t.p0 = p0;
      t.len = xplane - p0 < pc ? xplane - p0 : pc;
      cnnrt_parallel_for(par, cnnrt_conv_transpose_gemm_task_, &t, t.n_tasks);
      cnnrt_parallel_for(par, cnnrt_conv_transpose_col2im_task_, &t, t.n_tasks);
    }
  }
}

/* ConvTranspose (any group; depthwise ones are faster with cnnrt_f32_dwconv_transpose_avx2),
 * weights packed by cnnrt_f32_conv_transpose_pack. scratch: shared_bytes + max_tasks *
 * task_bytes, 64-byte aligned. */
static inline void cnnrt_f32_conv_transpose_gemm_avx2(const cnnrt_conv_params *p, const float *x,
                                                      const float *a_packed, const float *bias,
                                                      float *y, void *scratch, int64_t max_tasks,
                                                      const cnnrt_parallel *par) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(p);
  const int64_t groups = p->group > 1 ? p->group : 1;
  const int64_t group_floats = cnnrt_f32_conv_transpose_pack_group_bytes_(p) / (int64_t)sizeof(float);
  int64_t xplane = 1, yplane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    xplane *= p->in[i];
    yplane *= p->out[i];
  }
  for (int64_t g = 0; g < groups; g++) {
    cnnrt_f32_conv_transpose_gemm_avx2_group_(
        &q, x + g * q.c_in * xplane, p->c_in * xplane, a_packed + g * group_floats,
        bias != NULL ? bias + g * q.c_out : NULL, y + g * q.c_out * yplane, p->c_out * yplane,
        scratch, max_tasks, par);
  }
}

#endif /* __AVX2__ && __FMA__ (ConvTranspose) */

#if defined(__AVX2__) && defined(__FMA__)

typedef struct cnnrt_conv_grad_gemm_task {
  int64_t m, n, k;
  const float *ap, *bt;
  float *dw;
  int first;
  unsigned char *scratch;
  int64_t task_bytes, n_tasks;
} cnnrt_conv_grad_gemm_task;

static inline void cnnrt_conv_grad_gemm_task_(void *arg, int64_t task) {
  const cnnrt_conv_grad_gemm_task *t = (const cnnrt_conv_grad_gemm_task *)arg;
  int64_t n0, n1;
  cnnrt_f32_gemm_avx2_split(t->n, task, t->n_tasks, &n0, &n1);
  cnnrt_f32_gemm_packed_avx2_range(t->m, t->n, t->k, t->ap, t->bt, t->n, t->dw, t->n, NULL,
                                   t->first ? NULL : t->dw, CNNRT_ACT_NONE, 0.0f, 0.0f, n0, n1,
                                   t->scratch + task * t->task_bytes);
}

/* One group: p is group 1 (the per-group params); x and dy point at the group's first channel,
 * images x_batch / dy_batch floats apart; dw at the group's first row. */
static inline void cnnrt_f32_conv_grad_filter_avx2_group_(const cnnrt_conv_params *p,
                                                          const float *x, int64_t x_batch,
                                                          const float *dy, int64_t dy_batch,
                                                          float *dw, void *scratch,
                                                          int64_t max_tasks,
                                                          const cnnrt_parallel *par) {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  cnnrt_conv_grad_geom_(p, in, out, k, s, d, pb);
  const int64_t kvol = k[0] * k[1] * k[2], K = p->c_in * kvol;
  const int64_t in_plane = in[0] * in[1] * in[2], P = out[0] * out[1] * out[2];
  const int64_t m = p->c_out, m6 = (m + 5) / 6 * 6;
  const int64_t pc = cnnrt_conv_grad_filter_avx2_chunk(p);
  unsigned char *base = (unsigned char *)scratch;
  float *ap = (float *)base;
  float *bt = (float *)(base + cnnrt_conv_grad_avx2_round64_(m6 * pc * 4));
  cnnrt_conv_grad_gemm_task t;
  t.m = m;
  t.n = K;
  t.ap = ap;
  t.bt = bt;
  t.dw = dw;
  t.first = 1;
  t.scratch = base + cnnrt_f32_conv_grad_filter_avx2_shared_bytes(p) - 64;
  t.task_bytes = cnnrt_f32_conv_grad_filter_avx2_task_bytes(p);
  int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  t.n_tasks = threads < max_tasks ? threads : max_tasks;
  if (t.n_tasks < 1) {
    t.n_tasks = 1;
  }
  if (p->n * P == 0) {
    memset(dw, 0, sizeof(float) * (size_t)(m * K));
    return;
  }
  for (int64_t b = 0; b < p->n; b++) {
    const float *xb = x + b * x_batch;
    const float *dyb = dy + b * dy_batch;
    for (int64_t p0 = 0; p0 < P; p0 += pc) {
      const int64_t len = P - p0 < pc ? P - p0 : pc;
      /* A: dy rows of this chunk in 6-row panels, k-major. */
      for (int64_t i0 = 0; i0 < m6; i0 += 6) {
        float *panel = ap + i0 * len;
        for (int64_t kk = 0; kk < len; kk++) {
          for (int64_t r = 0; r < 6; r++) {
            panel[kk * 6 + r] = i0 + r < m ? dyb[(i0 + r) * P + p0 + kk] : 0.0f;
          }
        }
      }
      /* B: row q = output pixel p0 + q, column (ci, t0, t1, t2) = the input it reads. */
      for (int64_t q = 0; q < len; q++) {
        const int64_t pix = p0 + q;
        const int64_t o2 = pix % out[2], o1 = (pix / out[2]) % out[1], o0 = pix / (out[1] * out[2]);
        float *row = bt + q * K;
        for (int64_t t0 = 0; t0 < k[0]; t0++) {
          const int64_t i0 = o0 * s[0] + t0 * d[0] - pb[0];
          for (int64_t t1 = 0; t1 < k[1]; t1++) {
            const int64_t i1 = o1 * s[1] + t1 * d[1] - pb[1];
            for (int64_t t2 = 0; t2 < k[2]; t2++) {
              const int64_t i2 = o2 * s[2] + t2 * d[2] - pb[2];
              const int64_t tap = (t0 * k[1] + t1) * k[2] + t2;
              const int inside = i0 >= 0 && i0 < in[0] && i1 >= 0 && i1 < in[1] && i2 >= 0 &&
                                 i2 < in[2];
              const float *src = xb + (i0 * in[1] + i1) * in[2] + i2;
              for (int64_t ci = 0; ci < p->c_in; ci++) {
                row[ci * kvol + tap] = inside ? src[ci * in_plane] : 0.0f;
              }
            }
          }
        }
      }
      t.k = len;
      cnnrt_parallel_for(par, cnnrt_conv_grad_gemm_task_, &t, t.n_tasks);
      t.first = 0;
    }
  }
}

/* Any group (depthwise ones are faster with cnnrt_f32_dwconv_grad_filter_avx2). scratch:
 * shared_bytes + max_tasks * task_bytes, 64-byte aligned. */
static inline void cnnrt_f32_conv_grad_filter_avx2(const cnnrt_conv_params *p, const float *x,
                                                   const float *dy, float *dw, void *scratch,
                                                   int64_t max_tasks,
                                                   const cnnrt_parallel *par) {
  const cnnrt_conv_params q = cnnrt_conv_grad_per_group_(p);
  const int64_t groups = p->group > 1 ? p->group : 1;
  int64_t in_plane = 1, out_plane = 1, kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    in_plane *= p->in[i];
    out_plane *= p->out[i];
    kvol *= p->kernel[i];
  }
  for (int64_t g = 0; g < groups; g++) {
    cnnrt_f32_conv_grad_filter_avx2_group_(&q, x + g * q.c_in * in_plane, p->c_in * in_plane,
                                           dy + g * q.c_out * out_plane, p->c_out * out_plane,
                                           dw + g * q.c_out * q.c_in * kvol, scratch, max_tasks,
                                           par);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Depthwise convolutions (group = c_in = c_out): filter gradient and data gradient (the
 * ConvTranspose of dy with group = channels), vectorised along the rows of a channel's plane
 * (NCHW keeps a channel's pixels contiguous; cnnrt_dwconv_avx2.h does the same forward).
 *
 * Filter: dW[c, tap] = sum over images and output rows of the dot product of a dy row with the
 * x row the tap reads (stride 1: contiguous; stride 2: the even lanes of two loads), each row's
 * dot in a float vector, rows added in double. Data: per tap and dy row, an axpy of w[c, tap] *
 * dy row into the dx row it reaches (stride 1 along the row: vector; else scalar), dx starting
 * at the bias or zero. Channels are split over the threads of `par`; no scratch.
 * ------------------------------------------------------------------------------------------- */

/* sum_j a[j] * b[j * stride], j < n, stride 1 or 2 vectorised (others scalar). */
static inline float cnnrt_dw_grad_dot_avx2_(const float *a, const float *b, int64_t n,
                                            int64_t stride) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t j = 0;
  if (stride == 1) {
    for (; j + 16 <= n; j += 16) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), acc1);
    }
    for (; j + 8 <= n; j += 8) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
    }
  } else if (stride == 2) {
    /* b[2j .. 2j + 15] are read: only while j + 8 < n, so that b[2j + 15] <= b[2(n - 1)] */
    for (; j + 8 < n; j += 8) {
      const __m256 lo = _mm256_loadu_ps(b + 2 * j), hi = _mm256_loadu_ps(b + 2 * j + 8);
      const __m256 ev = _mm256_castpd_ps(_mm256_permute4x64_pd(
          _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), ev, acc0);
    }
  }
  acc0 = _mm256_add_ps(acc0, acc1);
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  float sum = _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
  for (; j < n; j++) {
    sum += a[j] * b[j * stride];
  }
  return sum;
}

static inline void cnnrt_f32_dwconv_grad_filter_range_avx2(const cnnrt_conv_params *p, int64_t c0,
                                                           int64_t c1, const float *x,
                                                           const float *dy, float *dw) {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  cnnrt_conv_grad_geom_(p, in, out, k, s, d, pb);
  const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  const int64_t taps = k[0] * k[1] * k[2], C = p->c_in;
  for (int64_t c = c0; c < c1; c++) {
    for (int64_t t0 = 0; t0 < k[0]; t0++) {
      int64_t lo0, hi0;
      cnnrt_conv_grad_range_(t0 * d[0] - pb[0], s[0], in[0], out[0], &lo0, &hi0);
      for (int64_t t1 = 0; t1 < k[1]; t1++) {
        int64_t lo1, hi1;
        cnnrt_conv_grad_range_(t1 * d[1] - pb[1], s[1], in[1], out[1], &lo1, &hi1);
        for (int64_t t2 = 0; t2 < k[2]; t2++) {
          const int64_t off2 = t2 * d[2] - pb[2];
          int64_t lo2, hi2;
          cnnrt_conv_grad_range_(off2, s[2], in[2], out[2], &lo2, &hi2);
          double acc = 0.0;
          for (int64_t b = 0; b < p->n && lo2 < hi2; b++) {
            const float *xc = x + (b * C + c) * in_plane;
            const float *dyc = dy + (b * C + c) * out_plane;
            for (int64_t o0 = lo0; o0 < hi0; o0++) {
              const int64_t i0 = o0 * s[0] + t0 * d[0] - pb[0];
              for (int64_t o1 = lo1; o1 < hi1; o1++) {
                const int64_t i1 = o1 * s[1] + t1 * d[1] - pb[1];
                const float *xr = xc + (i0 * in[1] + i1) * in[2] + off2 + lo2 * s[2];
                const float *dyr = dyc + (o0 * out[1] + o1) * out[2] + lo2;
                acc += cnnrt_dw_grad_dot_avx2_(dyr, xr, hi2 - lo2, s[2]);
              }
            }
          }
          dw[c * taps + (t0 * k[1] + t1) * k[2] + t2] = (float)acc;
        }
      }
    }
  }
}

/* Data gradient: ConvTranspose with group = c_in = c_out (p describes the ConvTranspose: in =
 * dy's spatial sizes, out = dx's), no activation; bias may be NULL. */
static inline void cnnrt_f32_dwconv_transpose_range_avx2(const cnnrt_conv_params *p, int64_t c0,
                                                         int64_t c1, const float *x,
                                                         const float *w, const float *bias,
                                                         float *y) {
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2], C = p->c_in;
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t c = c0; c < c1; c++) {
      const float *xc = x + (b * C + c) * in_plane;
      float *yc = y + (b * C + c) * out_plane;
      const float b0 = bias ? bias[c] : 0.0f;
      for (int64_t i = 0; i < out_plane; i++) {
        yc[i] = b0;
      }
      for (int64_t t0 = 0; t0 < g.k[0]; t0++) {
        int64_t lo0, hi0; /* input rows whose target row is inside */
        cnnrt_conv_range(g.in[0], g.out[0], g.s[0], t0 * g.d[0] - g.pad[0], &lo0, &hi0);
        for (int64_t t1 = 0; t1 < g.k[1]; t1++) {
          int64_t lo1, hi1;
          cnnrt_conv_range(g.in[1], g.out[1], g.s[1], t1 * g.d[1] - g.pad[1], &lo1, &hi1);
          for (int64_t t2 = 0; t2 < g.k[2]; t2++) {
            const int64_t off2 = t2 * g.d[2] - g.pad[2];
            int64_t lo2, hi2;
            cnnrt_conv_range(g.in[2], g.out[2], g.s[2], off2, &lo2, &hi2);
            if (lo2 >= hi2) {
              continue;
            }
            const float wv = w[c * kvol + (t0 * g.k[1] + t1) * g.k[2] + t2];
            const __m256 vw = _mm256_set1_ps(wv);
            const int64_t len = hi2 - lo2;
            for (int64_t i0 = lo0; i0 < hi0; i0++) {
              const int64_t o0 = i0 * g.s[0] + t0 * g.d[0] - g.pad[0];
              for (int64_t i1 = lo1; i1 < hi1; i1++) {
                const int64_t o1 = i1 * g.s[1] + t1 * g.d[1] - g.pad[1];
                const float *xr = xc + (i0 * g.in[1] + i1) * g.in[2] + lo2;
                float *yr = yc + (o0 * g.out[1] + o1) * g.out[2] + lo2 * g.s[2] + off2;
                int64_t j = 0;
                if (g.s[2] == 1) {
                  for (; j + 8 <= len; j += 8) {
                    _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(vw, _mm256_loadu_ps(xr + j),
                                                             _mm256_loadu_ps(yr + j)));
                  }
                }
                for (; j < len; j++) {
                  yr[j * g.s[2]] += wv * xr[j];
                }
              }
            }
          }
        }
      }
    }
  }
}

typedef struct cnnrt_dwconv_grad_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *dy;
  float *out;
  int64_t n_tasks;
} cnnrt_dwconv_grad_task;

static inline void cnnrt_dwconv_grad_filter_task_(void *arg, int64_t task) {
  const cnnrt_dwconv_grad_task *t = (const cnnrt_dwconv_grad_task *)arg;
  const int64_t c = t->p->c_in;
  cnnrt_f32_dwconv_grad_filter_range_avx2(t->p, c * task / t->n_tasks,
                                          c * (task + 1) / t->n_tasks, t->x, t->dy, t->out);
}

static inline void cnnrt_dwconv_transpose_task_(void *arg, int64_t task) {
  const cnnrt_dwconv_grad_task *t = (const cnnrt_dwconv_grad_task *)arg;
  const int64_t c = t->p->c_in;
  cnnrt_f32_dwconv_transpose_range_avx2(t->p, c * task / t->n_tasks, c * (task + 1) / t->n_tasks,
                                        t->x, t->w, t->bias, t->out);
}

static inline int64_t cnnrt_dwconv_grad_tasks_(const cnnrt_parallel *par, int64_t c) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < c ? threads : (c > 0 ? c : 1);
}

/* Same contract as cnnrt_f32_conv_grad_filter_ref for a depthwise p. */
static inline void cnnrt_f32_dwconv_grad_filter_avx2(const cnnrt_conv_params *p, const float *x,
                                                     const float *dy, float *dw,
                                                     const cnnrt_parallel *par) {
  cnnrt_dwconv_grad_task t = {p, x, NULL, NULL, dy, dw, cnnrt_dwconv_grad_tasks_(par, p->c_in)};
  cnnrt_parallel_for(par, cnnrt_dwconv_grad_filter_task_, &t, t.n_tasks);
}

/* Same contract as cnnrt_f32_conv_transpose_ref for a depthwise p without activation. */
static inline void cnnrt_f32_dwconv_transpose_avx2(const cnnrt_conv_params *p, const float *x,
                                                   const float *w, const float *bias, float *y,
                                                   const cnnrt_parallel *par) {
  cnnrt_dwconv_grad_task t = {p, x, w, bias, NULL, y, cnnrt_dwconv_grad_tasks_(par, p->c_in)};
  cnnrt_parallel_for(par, cnnrt_dwconv_transpose_task_, &t, t.n_tasks);
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_CONV_GRAD_AVX2_H */
