/* cnnrt_xsmm.h — convolutions and Gemm on libxsmm 1.17's JIT kernels (cnncc --gemm libxsmm).
 *
 * libxsmm is column-major. A row-major NCHW output plane Y[c_out, P] is the column-major matrix
 * Y^T (P x c_out, ld P), and Y^T = X^T W^T: libxsmm's A is the input seen as pixels x c_in*kvol
 * (the row-major im2col matrix [c_in*kvol, P] read column-major), its B is the row-major weight
 * [c_out, c_in*kvol] read column-major (ld c_in*kvol), so the weights stay as ONNX gives them
 * (the portable fallback cnnrt_f32_conv_ref reads the same array).
 *
 * Blocking (one task = a range of 16-pixel panels of every image, all output channels):
 *   for each tile of CNNRT_XSMM_NC pixels, for each k block of at most CNNRT_XSMM_KC rows:
 *     im2col of the tile into 16-pixel panels (the AVX2 packer of cnnrt_gemm_avx2.h; a 1x1
 *     stride-1 unpadded layer reads the input in place instead, ld P),
 *     for each block of CNNRT_XSMM_NB output channels (its weights stay in L2), for each panel:
 *       one libxsmm kernel m = 16 pixels, n = channels, k = rows; beta 0 on the first k block
 *       (beta 1 when the residual was copied in first), beta 1 after;
 *   then the epilogue on the tile while it is in cache: + bias, activation.
 * The residual Add is fused by starting the accumulation from it (beta = 1).
 *
 * Kernels are dispatched (JIT-compiled on first use, afterwards looked up in libxsmm's code
 * registry) once per layer and run into a plan on the caller's stack: the generated code keeps
 * no state of its own, and libxsmm's registry is thread-safe, so contexts may run concurrently.
 * When libxsmm cannot produce a kernel (no JIT for this CPU) the plan is marked invalid and the
 * caller runs the portable reference instead.
 *
 * The size functions at the top are portable (the compiler sizes the arena with them and
 * defines CNNRT_XSMM_SIZES_ONLY, so it does not need libxsmm itself). */
#ifndef CNNRT_XSMM_H
#define CNNRT_XSMM_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_gemm.h"

#define CNNRT_XSMM_MR 16  /* pixels per libxsmm call on im2col panels (the packer's width) */
#define CNNRT_XSMM_MR_1X1 64 /* pixels per libxsmm call on a 1x1 layer's input, read in place */
#define CNNRT_XSMM_NC 128 /* pixels per tile: im2col block and epilogue unit */
#define CNNRT_XSMM_KC 256 /* im2col rows per k block */
#define CNNRT_XSMM_NB 64  /* output channels per weight block */
#define CNNRT_XSMM_GEMM_MB 64 /* Gemm: columns of Y per libxsmm call (and per task unit) */
#define CNNRT_XSMM_GEMM_NB 16 /* Gemm: rows of Y per libxsmm call */

/* How many tasks to split a layer into: the hook's thread count, at most `max_tasks` (the
 * number of scratch regions the memory plan reserved). */
static inline int64_t cnnrt_xsmm_task_count(const cnnrt_parallel *par, int64_t max_tasks) {
  int64_t t = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  return t < max_tasks ? t : max_tasks;
}

/* k split into equal blocks of at most KC rows (no short last block). */
static inline int64_t cnnrt_xsmm_kc(int64_t k) {
  if (k <= 0) {
    return 0;
  }
  const int64_t nblk = (k + CNNRT_XSMM_KC - 1) / CNNRT_XSMM_KC;
  return (k + nblk - 1) / nblk;
}

/* Whether the convolution reads its input in place (1x1, stride 1, no padding, 2-D). */
static inline int cnnrt_xsmm_conv_pointwise(const cnnrt_conv_params *p) {
  return p->kernel[0] == 1 && p->kernel[1] == 1 && p->stride[0] == 1 && p->stride[1] == 1 &&
         p->pad_begin[0] == 0 && p->pad_begin[1] == 0 && p->in[0] == p->out[0] &&
         p->in[1] == p->out[1];
}

/* Scratch bytes of one task: the packed im2col tile and the packer's tap tables. */
static inline int64_t cnnrt_xsmm_conv_task_bytes(const cnnrt_conv_params *p) {
  if (cnnrt_xsmm_conv_pointwise(p)) {
    return 0;
  }
  const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
  const int64_t kc = cnnrt_xsmm_kc(p->c_in * kvol);
  const int64_t tab = 2 * kvol * (2 + 16) * (int64_t)sizeof(int32_t) + 64; /* cnnrt_im2col_tab_bytes */
  return (64 + (kc + 1) * CNNRT_XSMM_NC * (int64_t)sizeof(float) + tab + 63) / 64 * 64;
}

/* dst [cols, rows] = transpose of src [rows, cols] (a Gemm operand given transposed and known
 * only at run time; libxsmm 1.17 JIT-compiles non-transposed operands only). */
static inline void cnnrt_xsmm_transpose(int64_t rows, int64_t cols, const float *src, float *dst) {
  for (int64_t r0 = 0; r0 < rows; r0 += 32) {
    const int64_t r1 = rows - r0 < 32 ? rows : r0 + 32;
    for (int64_t c = 0; c < cols; c++) {
      for (int64_t r = r0; r < r1; r++) {
        dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

#if !defined(CNNRT_XSMM_SIZES_ONLY) && defined(__AVX2__) && defined(__FMA__)
#if defined(__has_include)
#if !__has_include(<libxsmm.h>)
#error "this model was generated with cnncc --gemm libxsmm: it needs libxsmm 1.17 (Debian: apt-get install libxsmm-dev) and linking with -lxsmm -lpthread -ldl -lm (or regenerate with --gemm own)"
#endif
#endif
#include <libxsmm.h>
#include <stdlib.h>

#include "cnnrt_act_avx2.h"
#include "cnnrt_gemm_avx2.h"

/* The kernels of one layer: [m is a full panel][n is a full block][k is a full block][beta]. */
typedef struct cnnrt_xsmm_plan {
  libxsmm_smmfunction kern[2][2][2][2];
  int64_t mb[2], nb[2], kb[2]; /* sizes: [0] the remainder, [1] the full block */
  int valid;                   /* every kernel that the layer needs was dispatched */
} cnnrt_xsmm_plan;

/* Dispatches the kernels for m in {m_rem, m_full}, n in {n_rem, n_full}, k in {k_rem, k_full}
 * (remainders of 0 are not dispatched), beta 0 and 1, with the given leading dimensions.
 * A build with -DCNNRT_XSMM_STRICT aborts instead of falling back when libxsmm has no kernel
 * (the tests use it: a silent fallback would test the reference, not libxsmm). */
static inline void cnnrt_xsmm_plan_make(cnnrt_xsmm_plan *pl, int64_t m_full, int64_t m_rem,
                                        int64_t n_full, int64_t n_rem, int64_t k_full,
                                        int64_t k_rem, int64_t lda, int64_t ldb, int64_t ldc) {
  const float alpha = 1.0f, betas[2] = {0.0f, 1.0f};
  const int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_PREFETCH_NONE;
  const libxsmm_blasint la = (libxsmm_blasint)lda, lb = (libxsmm_blasint)ldb;
  const libxsmm_blasint lc = (libxsmm_blasint)ldc;
  pl->mb[0] = m_rem;
  pl->mb[1] = m_full;
  pl->nb[0] = n_rem;
  pl->nb[1] = n_full;
  pl->kb[0] = k_rem;
  pl->kb[1] = k_full;
  pl->valid = 1;
  for (int im = 0; im < 2; im++) {
    for (int in = 0; in < 2; in++) {
      for (int ik = 0; ik < 2; ik++) {
        for (int ib = 0; ib < 2; ib++) {
          pl->kern[im][in][ik][ib] = NULL;
          if (pl->mb[im] <= 0 || pl->nb[in] <= 0 || pl->kb[ik] <= 0) {
            continue;
          }
          pl->kern[im][in][ik][ib] = libxsmm_smmdispatch(
              (libxsmm_blasint)pl->mb[im], (libxsmm_blasint)pl->nb[in],
              (libxsmm_blasint)pl->kb[ik], &la, &lb, &lc, &alpha, &betas[ib], &flags, &prefetch);
          if (pl->kern[im][in][ik][ib] == NULL) {
            pl->valid = 0;
#if defined(CNNRT_XSMM_STRICT)
            abort();
#endif
          }
        }
      }
    }
  }
}

/* Plan of a convolution (cnnrt_f32_conv_xsmm_range reads it). */
static inline void cnnrt_xsmm_conv_plan(const cnnrt_conv_params *p, cnnrt_xsmm_plan *pl) {
  const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
  const int64_t k = p->c_in * kvol;
  const int64_t P = p->out[0] * p->out[1] * p->out[2];
  const int64_t kc = cnnrt_xsmm_kc(k);
  const int64_t nb = p->c_out < CNNRT_XSMM_NB ? p->c_out : CNNRT_XSMM_NB;
  const int pointwise = cnnrt_xsmm_conv_pointwise(p);
  const int64_t lda = pointwise ? P : CNNRT_XSMM_MR;
  const int64_t mr_max = pointwise ? CNNRT_XSMM_MR_1X1 : CNNRT_XSMM_MR;
  /* Images smaller than a panel have one panel of P pixels (libxsmm needs m <= ldc = P). */
  const int64_t mr = P < mr_max ? P : mr_max;
  cnnrt_xsmm_plan_make(pl, mr, P % mr, nb, p->c_out % nb, kc, k % kc, lda, k, P);
}

/* Epilogue of output channels' rows [0, c_out) over pixels [q, q + len) of one image:
 * y += bias[c] (bias may be NULL), then the activation. */
static inline void cnnrt_xsmm_epilogue(float *y, int64_t ld, int64_t c_out, int64_t q, int64_t len,
                                       const float *bias, int64_t act, float alpha, float beta) {
  for (int64_t c = 0; c < c_out; c++) {
    float *row = y + c * ld + q;
    if (bias != NULL) {
      const __m256 b = _mm256_set1_ps(bias[c]);
      int64_t i = 0;
      for (; i + 8 <= len; i += 8) {
        _mm256_storeu_ps(row + i, _mm256_add_ps(_mm256_loadu_ps(row + i), b));
      }
      for (; i < len; i++) {
        row[i] += bias[c];
      }
    }
    if (act != CNNRT_ACT_NONE) {
      cnnrt_f32_act_avx2(act, alpha, beta, len, row, row);
    }
  }
}

/* Task `task` of n_tasks: pixels [lo, hi) of every image (16-pixel panel bounds), all output
 * channels. x [n, c_in, in...], w [c_out, c_in, kernel...] as ONNX lays it out, bias [c_out] or
 * NULL, residual (shape of y) or NULL and may be y itself; y must not alias x. group 1, 2-D. */
static inline void cnnrt_f32_conv_xsmm_range(const cnnrt_conv_params *p, const cnnrt_xsmm_plan *pl,
                                             const float *x, const float *w, const float *bias,
                                             const float *residual, float *y, void *scratch,
                                             int64_t task, int64_t n_tasks) {
  CNNRT_ASSERT(p->group == 1 && p->spatial == 2);
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t k = p->c_in * kvol;
  const int64_t m = p->c_out;
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t P = g.out[0] * g.out[1] * g.out[2];
  /* Task ranges in whole panels, so that only the image's last panel can be short. */
  const int64_t mr = pl->mb[1];
  const int64_t panels = (P + mr - 1) / mr;
  const int64_t lo_p = mr * (panels * task / n_tasks), hi_p = mr * (panels * (task + 1) / n_tasks);
  const int64_t lo = lo_p < P ? lo_p : P, hi = hi_p < P ? hi_p : P;
  if (m <= 0 || lo >= hi) {
    return;
  }
  const int pointwise = cnnrt_xsmm_conv_pointwise(p);
  const int vec_pack = cnnrt_conv_avx2_fits_i32(&g);
  const int64_t kc_full = pl->kb[1], nb_full = pl->nb[1];
  float *bp = NULL;
  cnnrt_im2col_tab tab = {NULL, NULL, NULL, NULL};
  if (!pointwise) {
    bp = cnnrt_gemm_avx2_align(scratch);
    int32_t *tb = (int32_t *)(void *)(bp + (kc_full + 1) * CNNRT_XSMM_NC);
    tab.idx = tb;
    tab.mask = tb + 16 * kvol;
    tab.mode = tb + 32 * kvol;
    tab.base = tb + 34 * kvol;
  }
  for (int64_t b = 0; b < p->n; b++) {
    const float *xb = x + b * p->c_in * in_plane;
    float *yb = y + b * m * P;
    const float *rb = residual != NULL ? residual + b * m * P : NULL;
    for (int64_t j0 = lo; j0 < hi; j0 += CNNRT_XSMM_NC) {
      const int64_t nc = hi - j0 < CNNRT_XSMM_NC ? hi - j0 : CNNRT_XSMM_NC;
      int beta_first = 0;
      if (rb != NULL) {
        /* Accumulate onto the residual (in place when it is y already). */
        if (rb != yb) {
          for (int64_t c = 0; c < m; c++) {
            memcpy(yb + c * P + j0, rb + c * P + j0, (size_t)nc * sizeof(float));
          }
        }
        beta_first = 1;
      }
      for (int64_t k0 = 0; k0 < k; k0 += kc_full) {
        const int64_t kc = k - k0 < kc_full ? k - k0 : kc_full;
        const int ik = kc == kc_full, ib = k0 == 0 ? beta_first : 1;
        if (!pointwise) {
          if (vec_pack) {
            cnnrt_im2col_pack_avx2(&g, xb, k0, k0 + kc, j0, nc, &tab, bp);
          } else {
            cnnrt_im2col_pack_scalar(&g, xb, k0, k0 + kc, j0, nc, bp);
          }
        }
        for (int64_t c0 = 0; c0 < m; c0 += nb_full) {
          const int in = m - c0 >= nb_full;
          const float *wb = w + c0 * k + k0;
          for (int64_t jj = 0; jj < nc; jj += mr) {
            const int im = nc - jj >= mr;
            const float *a = pointwise ? xb + k0 * P + j0 + jj : bp + jj * (kc + 1);
            pl->kern[im][in][ik][ib](a, wb, yb + c0 * P + j0 + jj);
          }
        }
      }
      cnnrt_xsmm_epilogue(yb, P, m, j0, nc, bias, p->act, p->alpha, p->beta);
    }
  }
}

typedef struct cnnrt_xsmm_conv_task {
  const cnnrt_conv_params *p;
  const cnnrt_xsmm_plan *plan;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride;
  int64_t n_tasks;
} cnnrt_xsmm_conv_task;

static inline void cnnrt_xsmm_conv_task_run(void *arg, int64_t t) {
  const cnnrt_xsmm_conv_task *a = (const cnnrt_xsmm_conv_task *)arg;
  cnnrt_f32_conv_xsmm_range(a->p, a->plan, a->x, a->w, a->bias, a->residual, a->y,
                            a->scratch + t * a->scratch_stride, t, a->n_tasks);
}

/* The whole layer: dispatch, split across the threads of `par` (at most max_tasks tasks, each
 * with task_bytes of scratch), or the portable reference when libxsmm has no kernel. */
static inline void cnnrt_f32_conv_xsmm(const cnnrt_conv_params *p, const float *x, const float *w,
                                       const float *bias, const float *residual, float *y,
                                       unsigned char *scratch, int64_t task_bytes,
                                       int64_t max_tasks, const cnnrt_parallel *par) {
  cnnrt_xsmm_plan plan;
  cnnrt_xsmm_conv_plan(p, &plan);
  if (!plan.valid) {
    cnnrt_f32_conv_ref(p, x, w, bias, residual, y);
    return;
  }
  cnnrt_xsmm_conv_task t;
  t.p = p;
  t.plan = &plan;
  t.x = x;
  t.w = w;
  t.bias = bias;
  t.residual = residual;
  t.y = y;
  t.scratch = scratch;
  t.scratch_stride = task_bytes;
  t.n_tasks = cnnrt_xsmm_task_count(par, max_tasks);
  cnnrt_parallel_for(par, cnnrt_xsmm_conv_task_run, &t, t.n_tasks);
}
/* ---------------------------------------------------------------------------------------------
 * Gemm (cnnrt_gemm_params, trans_a == 0, trans_b == 0; the compiler pre-transposes a constant B
 * given with transB = 1). Row-major Y[m, n] is column-major n x m, = op(B)^T-view x A-view:
 * libxsmm's A is B [k, n] read column-major (ld n), its B is A [m, k] read column-major (ld k).
 * Tasks take ranges of GEMM_MB columns of Y; each finished piece of a row gets the Gemm epilogue
 * (alpha, beta * C broadcast, activation) of cnnrt_gemm.h at once.
 * ------------------------------------------------------------------------------------------- */
static inline void cnnrt_xsmm_gemm_plan(const cnnrt_gemm_params *p, cnnrt_xsmm_plan *pl) {
  /* Blocks no larger than the matrix (libxsmm needs m <= ldc = n). */
  const int64_t mb = p->n < CNNRT_XSMM_GEMM_MB ? p->n : CNNRT_XSMM_GEMM_MB;
  const int64_t nb = p->m < CNNRT_XSMM_GEMM_NB ? p->m : CNNRT_XSMM_GEMM_NB;
  cnnrt_xsmm_plan_make(pl, mb, p->n % mb, nb, p->m % nb, p->k, 0, p->n, p->k, p->n);
}

static inline void cnnrt_f32_gemm_xsmm_range(const cnnrt_gemm_params *p, const cnnrt_xsmm_plan *pl,
                                             const float *A, const float *B, const float *C,
                                             float *Y, int64_t task, int64_t n_tasks) {
  CNNRT_ASSERT(!p->trans_a && !p->trans_b && p->k > 0);
  const int64_t units = (p->n + CNNRT_XSMM_GEMM_MB - 1) / CNNRT_XSMM_GEMM_MB;
  const int64_t lo = CNNRT_XSMM_GEMM_MB * (units * task / n_tasks);
  const int64_t hi_u = CNNRT_XSMM_GEMM_MB * (units * (task + 1) / n_tasks);
  const int64_t hi = hi_u < p->n ? hi_u : p->n;
  for (int64_t j0 = lo; j0 < hi; j0 += pl->mb[1]) {
    const int im = hi - j0 >= pl->mb[1];
    const int64_t len = im ? pl->mb[1] : hi - j0;
    for (int64_t i0 = 0; i0 < p->m; i0 += pl->nb[1]) {
      const int in = p->m - i0 >= pl->nb[1];
      const int64_t rows = in ? pl->nb[1] : p->m - i0;
      pl->kern[im][in][1][0](B + j0, A + i0 * p->k, Y + i0 * p->n + j0);
      for (int64_t i = i0; i < i0 + rows; i++) {
        cnnrt_f32_gemm_finish_row(p, C, i, j0, Y + i * p->n + j0, len);
      }
    }
  }
}

typedef struct cnnrt_xsmm_gemm_task {
  const cnnrt_gemm_params *p;
  const cnnrt_xsmm_plan *plan;
  const float *a, *b, *c;
  float *y;
  int64_t n_tasks;
} cnnrt_xsmm_gemm_task;

static inline void cnnrt_xsmm_gemm_task_run(void *arg, int64_t t) {
  const cnnrt_xsmm_gemm_task *a = (const cnnrt_xsmm_gemm_task *)arg;
  cnnrt_f32_gemm_xsmm_range(a->p, a->plan, a->a, a->b, a->c, a->y, t, a->n_tasks);
}

/* The whole Gemm: dispatch, split across the threads of `par`, or the portable reference when
 * libxsmm has no kernel (or k is 0). */
static inline void cnnrt_f32_gemm_xsmm(const cnnrt_gemm_params *p, const float *A, const float *B,
                                       const float *C, float *Y, const cnnrt_parallel *par) {
  cnnrt_xsmm_plan plan;
  if (p->k <= 0 || p->m <= 0 || p->n <= 0 || p->trans_a || p->trans_b) {
    cnnrt_f32_gemm_ref(p, A, B, C, Y);
    return;
  }
  cnnrt_xsmm_gemm_plan(p, &plan);
  if (!plan.valid) {
    cnnrt_f32_gemm_ref(p, A, B, C, Y);
    return;
  }
  cnnrt_xsmm_gemm_task t;
  const int64_t units = (p->n + CNNRT_XSMM_GEMM_MB - 1) / CNNRT_XSMM_GEMM_MB;
  t.p = p;
  t.plan = &plan;
  t.a = A;
  t.b = B;
  t.c = C;
  t.y = Y;
  t.n_tasks = cnnrt_xsmm_task_count(par, units);
  cnnrt_parallel_for(par, cnnrt_xsmm_gemm_task_run, &t, t.n_tasks);
}
#endif /* !CNNRT_XSMM_SIZES_ONLY && __AVX2__ && __FMA__ */

#endif /* CNNRT_XSMM_H */
