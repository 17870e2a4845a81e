/* cnnrt_conv_grad_neon.h — convolution backward kernels on the NEON packed GEMM of
 * cnnrt_gemm_neon.h (8x12 tile on aarch64, 4x8 on ARMv7); the NEON mirror of
 * cnnrt_conv_grad_avx2.h.
 *
 * A general packed GEMM first: C[m, n] (+)= A[m, k] * B[k, n], A packed in mr-row panels
 * (cnnrt_f32_pack_a_mr's layout), B any row-major matrix (row stride ldb), packed per KC x NC
 * block into the microkernels' NR-column panels; the tile is added onto C (accumulate) or
 * stored by cnnrt_gemm_neon_epilogue. Tasks split the columns of C.
 *
 *  - Filter gradient (group 1):
 *      dW [c_out, c_in*kvol] = sum over images and chunks of pc output pixels of
 *                              dy[b][:, chunk] (c_out x pc)  *  im2col(x[b])[:, chunk]^T
 *    dy's chunk is packed into A panels (MR rows: 8 on aarch64, 4 on ARMv7) and the transposed
 *    im2col block (pc rows of c_in*kvol taps, zeros for padding) is B; the first chunk stores,
 *    later ones accumulate.
 *  - Data gradient / ConvTranspose (group 1): per image and chunk of pc input pixels,
 *      cols [c_out*kvol, pc] = W^T [c_out*kvol, c_in] (packed, mr rows)  *  x[:, chunk]
 *    then col2im adds every column's taps into y (which starts at the bias or zero).
 *    W^T is packed by cnnrt_f32_conv_transpose_pack_mr: at build time for constant weights,
 *    at run time (into the front of the scratch) for trained ones.
 *
 * Scratch sizes and packing are portable (the compiler plans and packs on any host) and sized
 * for the widest case (8-row panels, 24-column rounding), so one plan serves aarch64 and ARMv7.
 * Results equal cnnrt_f32_conv_grad_filter_ref / cnnrt_f32_conv_transpose_ref up to float
 * rounding (summation order).
 *
 * Grouped convolutions (group > 1) run the same group-1 code once per group, as the AVX2 forms
 * do: the per-group parameters (cnnrt_conv_grad_neon_group_: c_in and c_out divided by the
 * group count) and pointer offsets to the group's channels; dW_g = dy_g * im2col(x_g)^T into
 * rows [g*cog, (g+1)*cog) of dW, and the data gradient is group g's GEMM + col2im into output
 * channels [g*cog, (g+1)*cog). Scratch is sized for one group and reused; W^T is packed group
 * after group. Depthwise convolutions (group = c_in = c_out) have their own kernels at the end
 * (rows of a channel's plane vectorised, no GEMM, no scratch). */
#ifndef CNNRT_CONV_GRAD_NEON_H
#define CNNRT_CONV_GRAD_NEON_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_conv_grad.h"
#include "cnnrt_gemm_neon.h"

static inline int64_t cnnrt_conv_grad_neon_round64_(int64_t b) { return (b + 63) / 64 * 64; }

/* One group of p as a group-1 problem: channels per group, the same geometry and batch. */
static inline cnnrt_conv_params cnnrt_conv_grad_neon_group_(const cnnrt_conv_params *p) {
  cnnrt_conv_params q = *p;
  const int64_t groups = p->group > 1 ? p->group : 1;
  q.c_in = p->c_in / groups;
  q.c_out = p->c_out / groups;
  q.group = 1;
  return q;
}

/* Whether p is depthwise: one input and one output channel per group. */
static inline int cnnrt_conv_grad_neon_is_depthwise(const cnnrt_conv_params *p) {
  return p->group > 1 && p->group == p->c_in && p->group == p->c_out;
}

/* Bytes of one task's B-packing block for a GEMM of depth k and at most n columns. */
static inline int64_t cnnrt_f32_gemm_packed_neon_task_bytes(int64_t k, int64_t n) {
  const int64_t nc = n < CNNRT_GEMM_NEON_NC ? n : CNNRT_GEMM_NEON_NC;
  return cnnrt_conv_grad_neon_round64_(64 + cnnrt_gemm_neon_kc(k) * ((nc + 23) / 24 * 24) *
                                                (int64_t)sizeof(float));
}

static inline int64_t cnnrt_conv_grad_neon_kvol_(const cnnrt_conv_params *p) {
  int64_t kvol = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    kvol *= p->kernel[i];
  }
  return kvol;
}

/* Pixels per chunk: keeps the im2col (filter) or cols (transpose) block near 1 MiB. */
static inline int64_t cnnrt_conv_grad_neon_chunk_(int64_t row_elems, int64_t plane) {
  int64_t pc = ((int64_t)1 << 18) / (row_elems > 0 ? row_elems : 1);
  pc = pc / 24 * 24;
  if (pc < 24) {
    pc = 24;
  }
  return plane < pc ? (plane > 0 ? plane : 1) : pc;
}

static inline int64_t cnnrt_conv_grad_filter_neon_chunk(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  int64_t plane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    plane *= p->out[i];
  }
  return cnnrt_conv_grad_neon_chunk_(p->c_in * cnnrt_conv_grad_neon_kvol_(p), plane);
}

/* Filter gradient scratch (one group's): packed dy chunk + im2col block (shared) + one B block
 * per task. */
static inline int64_t cnnrt_f32_conv_grad_filter_neon_shared_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  const int64_t pc = cnnrt_conv_grad_filter_neon_chunk(p);
  return 64 + cnnrt_conv_grad_neon_round64_((p->c_out + 7) / 8 * 8 * pc * 4) +
         cnnrt_conv_grad_neon_round64_(pc * p->c_in * cnnrt_conv_grad_neon_kvol_(p) * 4);
}

static inline int64_t cnnrt_f32_conv_grad_filter_neon_task_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  return cnnrt_f32_gemm_packed_neon_task_bytes(cnnrt_conv_grad_filter_neon_chunk(p),
                                               p->c_in * cnnrt_conv_grad_neon_kvol_(p));
}

/* ---- ConvTranspose (p as the ConvTranspose's params: c_in = channels of x, in[] = x's sizes,
 * out[] = y's sizes; weights [c_in, c_out / group, kernel...]; any group). ---- */

/* Bytes of one group's packed W^T. */
static inline int64_t cnnrt_f32_conv_transpose_pack_mr_group_bytes_(const cnnrt_conv_params *pp,
                                                                    int64_t mr) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp);
  return cnnrt_f32_pack_a_mr_bytes(q.c_out * cnnrt_conv_grad_neon_kvol_(&q), q.c_in, mr);
}

static inline int64_t cnnrt_f32_conv_transpose_pack_mr_bytes(const cnnrt_conv_params *p,
                                                             int64_t mr) {
  return (p->group > 1 ? p->group : 1) * cnnrt_f32_conv_transpose_pack_mr_group_bytes_(p, mr);
}

/* Packs W^T group after group: A_g[(co, t), ci] = w_g[(ci * cog + co) * kvol + t] with
 * w_g = w + g * cig * cog * kvol (cig, cog: channels per group), in mr-row panels. */
static inline void cnnrt_f32_conv_transpose_pack_mr(const cnnrt_conv_params *pp, const float *w,
                                                    int64_t mr, float *packed) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  const int64_t groups = pp->group > 1 ? pp->group : 1;
  const int64_t group_floats =
      cnnrt_f32_conv_transpose_pack_mr_group_bytes_(pp, mr) / (int64_t)sizeof(float);
  const int64_t kvol = cnnrt_conv_grad_neon_kvol_(p);
  const int64_t m = p->c_out * kvol, k = p->c_in;
  const int64_t mp = (m + mr - 1) / mr * mr;
  for (int64_t g = 0; g < groups; g++) {
    const float *wg = w + g * k * m;
    float *pg = packed + g * group_floats;
    for (int64_t i = 0; i < mp; i++) {
      const int64_t co = i / kvol, t = i % kvol;
      for (int64_t kk = 0; kk < k; kk++) {
        pg[(i / mr) * mr * k + kk * mr + i % mr] =
            i < m ? wg[(kk * p->c_out + co) * kvol + t] : 0.0f;
      }
    }
  }
}

static inline int64_t cnnrt_conv_transpose_neon_chunk(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  int64_t plane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    plane *= p->in[i];
  }
  return cnnrt_conv_grad_neon_chunk_(p->c_out * cnnrt_conv_grad_neon_kvol_(p), plane);
}

/* ConvTranspose scratch (one group's): the cols block (shared) + one B block per task. */
static inline int64_t cnnrt_f32_conv_transpose_neon_shared_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  return 64 + cnnrt_conv_grad_neon_round64_(p->c_out * cnnrt_conv_grad_neon_kvol_(p) *
                                            cnnrt_conv_transpose_neon_chunk(p) * 4);
}

static inline int64_t cnnrt_f32_conv_transpose_neon_task_bytes(const cnnrt_conv_params *pp) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(pp), *p = &q;
  return cnnrt_f32_gemm_packed_neon_task_bytes(p->c_in, cnnrt_conv_transpose_neon_chunk(p));
}

#if defined(__ARM_NEON) || defined(__ARM_NEON__)

#if defined(__aarch64__)
#define CNNRT_GEMM_NEON_MR 8 /* rows of the panels packed at run time (the 8x12 kernel) */
#else
#define CNNRT_GEMM_NEON_MR 4 /* the 4x8 kernel */
#endif

/* Packs B rows [k0, k0 + kc) x columns [j0, j0 + nc) of a row-major matrix into NR-column
 * panels (bp[(jj / NR) * kc * NR + kk * NR + jj % NR]), padding columns zeroed. */
static inline void cnnrt_gemm_neon_pack_b_matrix(const float *b, int64_t ldb, int64_t k0,
                                                 int64_t kc, int64_t j0, int64_t nc, float *bp) {
  const int64_t NR = CNNRT_GEMM_NEON_NR;
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = nc - jp < NR ? nc - jp : NR;
    float *panel = bp + jp * kc;
    const float *src = b + k0 * ldb + j0 + jp;
    for (int64_t kr = 0; kr < kc; kr++, src += ldb, panel += NR) {
      if (cols == NR) {
        for (int64_t q = 0; q < NR; q += 4) {
          vst1q_f32(panel + q, vld1q_f32(src + q));
        }
      } else {
        for (int64_t q = 0; q < NR; q++) {
          panel[q] = q < cols ? src[q] : 0.0f;
        }
      }
    }
  }
}

/* C[m, n0:n1] (+)= A * B[:, n0:n1]: A packed in mr-row panels (mr 4 or 8), B row-major [k, n]
 * (row stride ldb), C row-major (row stride ldc). accumulate: add onto C, else store. scratch:
 * cnnrt_f32_gemm_packed_neon_task_bytes(k, n) bytes. */
static inline void cnnrt_f32_gemm_packed_neon_range(int64_t m, int64_t k, const float *ap,
                                                    int64_t mr, const float *b, int64_t ldb,
                                                    float *c, int64_t ldc, int accumulate,
                                                    int64_t n0, int64_t n1, void *scratch) {
  CNNRT_ASSERT(mr % 4 == 0 && mr <= 8);
  const int64_t NR = CNNRT_GEMM_NEON_NR;
  cnnrt_conv_params none; /* the epilogue's activation: none */
  memset(&none, 0, sizeof(none));
  none.act = CNNRT_ACT_NONE;
  float *bp = (float *)(((uintptr_t)scratch + 63u) & ~(uintptr_t)63u);
  float tile[CNNRT_GEMM_NEON_TILE_MAX];
  if (k == 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; i++) {
        memset(c + i * ldc + n0, 0, sizeof(float) * (size_t)(n1 - n0));
      }
    }
    return;
  }
  const int64_t kcb = cnnrt_gemm_neon_kc(k);
  for (int64_t j0 = n0; j0 < n1; j0 += CNNRT_GEMM_NEON_NC) {
    const int64_t nc = n1 - j0 < CNNRT_GEMM_NEON_NC ? n1 - j0 : CNNRT_GEMM_NEON_NC;
    for (int64_t k0 = 0; k0 < k; k0 += kcb) {
      const int64_t kc = k - k0 < kcb ? k - k0 : kcb;
      const int add = k0 > 0 || accumulate; /* add the tile onto C (else C = tile) */
      cnnrt_gemm_neon_pack_b_matrix(b, ldb, k0, kc, j0, nc, bp);
      for (int64_t i0 = 0; i0 < m; i0 += mr) {
        const float *apanel = ap + i0 * k + k0 * mr;
        for (int64_t jp = 0; jp < nc; jp += NR) {
          const float *bpanel = bp + jp * kc;
          const int64_t cols = nc - jp < NR ? nc - jp : NR;
          for (int64_t s = 0; s < mr; s += 4) {
#if defined(__aarch64__)
            if (mr == 8 && s == 0) {
              if (cols <= 4) {
                cnnrt_gemm_neon_8x4x1(kc, apanel, bpanel, tile);
              } else if (cols <= 8) {
                cnnrt_gemm_neon_8x4x2(kc, apanel, bpanel, tile);
              } else {
                cnnrt_gemm_neon_8x12(kc, apanel, bpanel, tile);
              }
              const int64_t rows = m - i0 < 8 ? m - i0 : 8;
              float *cp = c + i0 * ldc + j0 + jp;
              cnnrt_gemm_neon_epilogue(tile, rows, cols, cp, ldc, NULL, NULL, &none, !add, 0);
              break;
            }
#endif
            const int64_t r0 = i0 + s;
            if (r0 >= m) {
              break;
            }
            cnnrt_gemm_neon_4xnr(kc, apanel + s, mr, bpanel, tile);
            const int64_t rows = m - r0 < 4 ? m - r0 : 4;
            float *cp = c + r0 * ldc + j0 + jp;
            cnnrt_gemm_neon_epilogue(tile, rows, cols, cp, ldc, NULL, NULL, &none, !add, 0);
          }
        }
      }
    }
  }
}

/* Columns [n0, n1) of task t of n_tasks: equal shares in whole 24-column groups. */
static inline void cnnrt_gemm_neon_split(int64_t n, int64_t t, int64_t n_tasks, int64_t *n0,
                                         int64_t *n1) {
  const int64_t groups = (n + 23) / 24;
  const int64_t g0 = groups * t / n_tasks, g1 = groups * (t + 1) / n_tasks;
  *n0 = g0 * 24 < n ? g0 * 24 : n;
  *n1 = g1 * 24 < n ? g1 * 24 : n;
}

typedef struct cnnrt_gemm_neon_task {
  int64_t m, n, k, mr, ldb, ldc;
  const float *ap, *b;
  float *c;
  int accumulate;
  unsigned char *scratch;
  int64_t task_bytes, n_tasks;
} cnnrt_gemm_neon_task;

static inline void cnnrt_gemm_neon_task_run_(void *arg, int64_t task) {
  const cnnrt_gemm_neon_task *t = (const cnnrt_gemm_neon_task *)arg;
  int64_t n0, n1;
  cnnrt_gemm_neon_split(t->n, task, t->n_tasks, &n0, &n1);
  if (n1 > n0) {
    cnnrt_f32_gemm_packed_neon_range(t->m, t->k, t->ap, t->mr, t->b, t->ldb, t->c, t->ldc,
                                     t->accumulate, n0, n1, t->scratch + task * t->task_bytes);
  }
}

/* One group: p is group 1 (the per-group params); x and dy point at the group's first channel,
 * images x_batch / dy_batch floats apart; dw at the group's first row. */
static inline void cnnrt_f32_conv_grad_filter_neon_group_(const cnnrt_conv_params *p,
                                                          const float *x, int64_t x_batch,
                                                          const float *dy, int64_t dy_batch,
                                                          float *dw, void *scratch,
                                                          int64_t max_tasks,
                                                          const cnnrt_parallel *par) {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  cnnrt_conv_grad_geom_(p, in, out, k, s, d, pb);
  const int64_t kvol = k[0] * k[1] * k[2], K = p->c_in * kvol;
  const int64_t in_plane = in[0] * in[1] * in[2], P = out[0] * out[1] * out[2];
  const int64_t m = p->c_out, MR = CNNRT_GEMM_NEON_MR, mp = (m + MR - 1) / MR * MR;
  const int64_t pc = cnnrt_conv_grad_filter_neon_chunk(p);
  unsigned char *base = (unsigned char *)scratch;
  float *ap = (float *)base;
  float *bt = (float *)(base + cnnrt_conv_grad_neon_round64_((m + 7) / 8 * 8 * pc * 4));
  cnnrt_gemm_neon_task t;
  t.m = m;
  t.n = K;
  t.mr = MR;
  t.ldb = K;
  t.ldc = K;
  t.ap = ap;
  t.b = bt;
  t.c = dw;
  t.accumulate = 0;
  t.scratch = base + cnnrt_f32_conv_grad_filter_neon_shared_bytes(p) - 64;
  t.task_bytes = cnnrt_f32_conv_grad_filter_neon_task_bytes(p);
  t.n_tasks = cnnrt_neon_task_count(par, max_tasks);
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
      /* A: dy rows of this chunk in MR-row panels, k-major. */
      for (int64_t i0 = 0; i0 < mp; i0 += MR) {
        float *panel = ap + i0 * len;
        for (int64_t r = 0; r < MR; r++) {
          const float *src = i0 + r < m ? dyb + (i0 + r) * P + p0 : NULL;
          for (int64_t kk = 0; kk < len; kk++) {
            panel[kk * MR + r] = src != NULL ? src[kk] : 0.0f;
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
              const float *src = inside ? xb + (i0 * in[1] + i1) * in[2] + i2 : NULL;
              for (int64_t ci = 0; ci < p->c_in; ci++) {
                row[ci * kvol + tap] = inside ? src[ci * in_plane] : 0.0f;
              }
            }
          }
        }
      }
      t.k = len;
      cnnrt_parallel_for(par, cnnrt_gemm_neon_task_run_, &t, t.n_tasks);
      t.accumulate = 1;
    }
  }
}

/* Any group (depthwise ones are faster with cnnrt_f32_dwconv_grad_filter_neon). scratch:
 * shared_bytes + max_tasks * task_bytes, 64-byte aligned. */
static inline void cnnrt_f32_conv_grad_filter_neon(const cnnrt_conv_params *p, const float *x,
                                                   const float *dy, float *dw, void *scratch,
                                                   int64_t max_tasks,
                                                   const cnnrt_parallel *par) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(p);
  const int64_t groups = p->group > 1 ? p->group : 1;
  int64_t in_plane = 1, out_plane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    in_plane *= p->in[i];
    out_plane *= p->out[i];
  }
  const int64_t kvol = cnnrt_conv_grad_neon_kvol_(p);
  for (int64_t g = 0; g < groups; g++) {
    cnnrt_f32_conv_grad_filter_neon_group_(&q, x + g * q.c_in * in_plane, p->c_in * in_plane,
                                           dy + g * q.c_out * out_plane, p->c_out * out_plane,
                                           dw + g * q.c_out * q.c_in * kvol, scratch, max_tasks,
                                           par);
  }
}

typedef struct cnnrt_conv_transpose_neon_task {
  const cnnrt_conv_params *p;
  const float *cols;
  float *yb;
  int64_t len, p0, n_tasks;
} cnnrt_conv_transpose_neon_task;

/* col2im of output channels [co0, co1): y[co, o*s + t*d - pb] += cols[(co, t), q]. */
static inline void cnnrt_conv_transpose_neon_col2im_(void *arg, int64_t task) {
  const cnnrt_conv_transpose_neon_task *t = (const cnnrt_conv_transpose_neon_task *)arg;
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
  for (int64_t co = co0; co < co1; co++) {
    float *yc = t->yb + co * yplane;
    for (int64_t tap = 0; tap < kvol; tap++) {
      const int64_t t0 = tap / (k[1] * k[2]), t1 = (tap / k[2]) % k[1], t2 = tap % k[2];
      const float *cr = t->cols + (co * kvol + tap) * t->len;
      for (int64_t q2 = 0; q2 < t->len; q2++) {
        const int64_t pix = t->p0 + q2;
        const int64_t x2 = pix % out[2], x1 = (pix / out[2]) % out[1], x0 = pix / (out[1] * out[2]);
        const int64_t o0 = x0 * s[0] + t0 * d[0] - pb[0], o1 = x1 * s[1] + t1 * d[1] - pb[1],
                      o2 = x2 * s[2] + t2 * d[2] - pb[2];
        if (o0 >= 0 && o0 < in[0] && o1 >= 0 && o1 < in[1] && o2 >= 0 && o2 < in[2]) {
          yc[(o0 * in[1] + o1) * in[2] + o2] += cr[q2];
        }
      }
    }
  }
}

/* One group: p is group 1 (the per-group params); x and y point at the group's first channel,
 * images x_batch / y_batch floats apart. */
static inline void cnnrt_f32_conv_transpose_gemm_neon_group_(
    const cnnrt_conv_params *p, const float *x, int64_t x_batch, const float *a_packed,
    int64_t mr, const float *bias, float *y, int64_t y_batch, void *scratch, int64_t max_tasks,
    const cnnrt_parallel *par) {
  const int64_t kvol = cnnrt_conv_grad_neon_kvol_(p);
  int64_t xplane = 1, yplane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    xplane *= p->in[i];
    yplane *= p->out[i];
  }
  cnnrt_gemm_neon_task g;
  g.m = p->c_out * kvol;
  g.k = p->c_in;
  g.mr = mr;
  g.ldb = xplane;
  g.ap = a_packed;
  g.c = (float *)scratch;
  g.accumulate = 0;
  g.scratch = (unsigned char *)scratch + cnnrt_f32_conv_transpose_neon_shared_bytes(p) - 64;
  g.task_bytes = cnnrt_f32_conv_transpose_neon_task_bytes(p);
  g.n_tasks = cnnrt_neon_task_count(par, max_tasks);
  if (g.n_tasks < 1) {
    g.n_tasks = 1;
  }
  cnnrt_conv_transpose_neon_task c2;
  c2.p = p;
  c2.cols = g.c;
  c2.n_tasks = g.n_tasks;
  const int64_t pc = cnnrt_conv_transpose_neon_chunk(p);
  for (int64_t b = 0; b < p->n; b++) {
    float *yb = y + b * y_batch;
    for (int64_t co = 0; co < p->c_out; co++) {
      const float v = bias != NULL ? bias[co] : 0.0f;
      for (int64_t i = 0; i < yplane; i++) {
        yb[co * yplane + i] = v;
      }
    }
    c2.yb = yb;
    for (int64_t p0 = 0; p0 < xplane; p0 += pc) {
      const int64_t len = xplane - p0 < pc ? xplane - p0 : pc;
      g.b = x + b * x_batch + p0;
      g.n = len;
      g.ldc = len;
      c2.len = len;
      c2.p0 = p0;
      cnnrt_parallel_for(par, cnnrt_gemm_neon_task_run_, &g, g.n_tasks);
      cnnrt_parallel_for(par, cnnrt_conv_transpose_neon_col2im_, &c2, c2.n_tasks);
    }
  }
}

/* ConvTranspose (any group; depthwise ones are faster with cnnrt_f32_dwconv_transpose_neon),
 * weights packed by cnnrt_f32_conv_transpose_pack_mr(p, w, mr, ...). scratch: shared_bytes +
 * max_tasks * task_bytes, 64-byte aligned. */
static inline void cnnrt_f32_conv_transpose_gemm_neon(const cnnrt_conv_params *p, const float *x,
                                                      const float *a_packed, int64_t mr,
                                                      const float *bias, float *y, void *scratch,
                                                      int64_t max_tasks,
                                                      const cnnrt_parallel *par) {
  const cnnrt_conv_params q = cnnrt_conv_grad_neon_group_(p);
  const int64_t groups = p->group > 1 ? p->group : 1;
  const int64_t group_floats =
      cnnrt_f32_conv_transpose_pack_mr_group_bytes_(p, mr) / (int64_t)sizeof(float);
  int64_t xplane = 1, yplane = 1;
  for (int64_t i = 0; i < p->spatial; i++) {
    xplane *= p->in[i];
    yplane *= p->out[i];
  }
  for (int64_t g = 0; g < groups; g++) {
    cnnrt_f32_conv_transpose_gemm_neon_group_(
        &q, x + g * q.c_in * xplane, p->c_in * xplane, a_packed + g * group_floats, mr,
        bias != NULL ? bias + g * q.c_out : NULL, y + g * q.c_out * yplane, p->c_out * yplane,
        scratch, max_tasks, par);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Depthwise convolutions (group = c_in = c_out): filter gradient and data gradient (the
 * ConvTranspose of dy with group = channels), vectorised along the rows of a channel's plane,
 * the NEON mirror of cnnrt_conv_grad_avx2.h's depthwise kernels.
 *
 * Filter: dW[c, tap] = sum over images and output rows of the dot product of a dy row with the
 * x row the tap reads (stride 1: vld1q; stride 2: vld2q, whose first half holds the even
 * columns), each row's dot in a float vector, rows added in double. Data: per tap and dy row, an
 * axpy of w[c, tap] * dy row into the dx row it reaches (stride 1 along the row: vector; else
 * scalar), dx starting at the bias or zero. Channels are split over the threads of `par`; no
 * scratch.
 * ------------------------------------------------------------------------------------------- */

/* sum_j a[j] * b[j * stride], j < n; stride 1 or 2 vectorised (others scalar). */
static inline float cnnrt_dw_grad_dot_neon_(const float *a, const float *b, int64_t n,
                                            int64_t stride) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
  int64_t j = 0;
  if (stride == 1) {
    for (; j + 8 <= n; j += 8) {
      acc0 = cnnrt_neon_fma(acc0, vld1q_f32(a + j), vld1q_f32(b + j));
      acc1 = cnnrt_neon_fma(acc1, vld1q_f32(a + j + 4), vld1q_f32(b + j + 4));
    }
    for (; j + 4 <= n; j += 4) {
      acc0 = cnnrt_neon_fma(acc0, vld1q_f32(a + j), vld1q_f32(b + j));
    }
  } else if (stride == 2) {
    /* vld2q reads b[2j .. 2j + 7]: only while j + 4 < n, so that b[2j + 7] <= b[2(n - 1)] */
    for (; j + 4 < n; j += 4) {
      const float32x4x2_t v = vld2q_f32(b + 2 * j);
      acc0 = cnnrt_neon_fma(acc0, vld1q_f32(a + j), v.val[0]);
    }
  }
  float sum = cnnrt_neon_hsum(vaddq_f32(acc0, acc1));
  for (; j < n; j++) {
    sum += a[j] * b[j * stride];
  }
  return sum;
}

static inline void cnnrt_f32_dwconv_grad_filter_range_neon(const cnnrt_conv_params *p, int64_t c0,
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
                acc += (double)cnnrt_dw_grad_dot_neon_(dyr, xr, hi2 - lo2, s[2]);
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
static inline void cnnrt_f32_dwconv_transpose_range_neon(const cnnrt_conv_params *p, int64_t c0,
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
            const float32x4_t vw = vdupq_n_f32(wv);
            const int64_t len = hi2 - lo2;
            for (int64_t i0 = lo0; i0 < hi0; i0++) {
              const int64_t o0 = i0 * g.s[0] + t0 * g.d[0] - g.pad[0];
              for (int64_t i1 = lo1; i1 < hi1; i1++) {
                const int64_t o1 = i1 * g.s[1] + t1 * g.d[1] - g.pad[1];
                const float *xr = xc + (i0 * g.in[1] + i1) * g.in[2] + lo2;
                float *yr = yc + (o0 * g.out[1] + o1) * g.out[2] + lo2 * g.s[2] + off2;
                int64_t j = 0;
                if (g.s[2] == 1) {
                  for (; j + 4 <= len; j += 4) {
                    vst1q_f32(yr + j, cnnrt_neon_fma(vld1q_f32(yr + j), vw, vld1q_f32(xr + j)));
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

typedef struct cnnrt_dwconv_grad_neon_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *dy;
  float *out;
  int64_t n_tasks;
} cnnrt_dwconv_grad_neon_task;

static inline void cnnrt_dwconv_grad_filter_neon_task_(void *arg, int64_t task) {
  const cnnrt_dwconv_grad_neon_task *t = (const cnnrt_dwconv_grad_neon_task *)arg;
  const int64_t c = t->p->c_in;
  cnnrt_f32_dwconv_grad_filter_range_neon(t->p, c * task / t->n_tasks,
                                          c * (task + 1) / t->n_tasks, t->x, t->dy, t->out);
}

static inline void cnnrt_dwconv_transpose_neon_task_(void *arg, int64_t task) {
  const cnnrt_dwconv_grad_neon_task *t = (const cnnrt_dwconv_grad_neon_task *)arg;
  const int64_t c = t->p->c_in;
  cnnrt_f32_dwconv_transpose_range_neon(t->p, c * task / t->n_tasks, c * (task + 1) / t->n_tasks,
                                        t->x, t->w, t->bias, t->out);
}

static inline int64_t cnnrt_dwconv_grad_neon_tasks_(const cnnrt_parallel *par, int64_t c) {
  const int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return threads < c ? threads : (c > 0 ? c : 1);
}

/* Same contract as cnnrt_f32_conv_grad_filter_ref for a depthwise p. */
static inline void cnnrt_f32_dwconv_grad_filter_neon(const cnnrt_conv_params *p, const float *x,
                                                     const float *dy, float *dw,
                                                     const cnnrt_parallel *par) {
  cnnrt_dwconv_grad_neon_task t = {p, x, NULL, NULL, dy, dw,
                                   cnnrt_dwconv_grad_neon_tasks_(par, p->c_in)};
  cnnrt_parallel_for(par, cnnrt_dwconv_grad_filter_neon_task_, &t, t.n_tasks);
}

/* Same contract as cnnrt_f32_conv_transpose_ref for a depthwise p without activation. */
static inline void cnnrt_f32_dwconv_transpose_neon(const cnnrt_conv_params *p, const float *x,
                                                   const float *w, const float *bias, float *y,
                                                   const cnnrt_parallel *par) {
  cnnrt_dwconv_grad_neon_task t = {p, x, w, bias, NULL, y,
                                   cnnrt_dwconv_grad_neon_tasks_(par, p->c_in)};
  cnnrt_parallel_for(par, cnnrt_dwconv_transpose_neon_task_, &t, t.n_tasks);
}

#endif /* __ARM_NEON */
#endif /* CNNRT_CONV_GRAD_NEON_H */
