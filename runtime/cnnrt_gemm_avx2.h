/* cnnrt_gemm_avx2.h — packed float32 GEMM and GEMM-based convolution for x86 AVX2 + FMA.
 *
 * C[m, n] = act(A[m, k] * B[k, n] + bias[row] + residual[m, n]), the convolution as that GEMM with
 * A = weights [c_out, c_in * kvol] and B = the im2col view of one image [c_in * kvol, pixels].
 *
 * Structure (the BLIS/GotoBLAS scheme):
 *  - A (the weights, constant) is packed once, at build time, by the portable
 *    cnnrt_f32_pack_a_mr6: panels of 6 rows, k-major inside a panel, the last panel zero-padded:
 *        packed[(i / 6) * 6 * k + kk * 6 + i % 6] = A[i, kk]      (panel p starts at p * 6 * k)
 *    so the microkernel reads 6 consecutive floats per k step, from any k offset.
 *  - B is packed at run time, per cache block of KC rows x NC columns, into panels of 16 columns,
 *    k-major inside a panel (bp[(j / 16) * (kc + 1) * 16 + kk * 16 + j % 16]), columns past n
 *    zeroed. The one spare row per panel breaks the power-of-two panel stride (kc = 256 would put
 *    every panel on the same L1 sets, and the row-by-row packing writes all panels at once).
 *    The convolution packs this layout straight from the image (implicit im2col: never a whole
 *    im2col matrix, only one KC x NC block in scratch).
 *  - The 6x16 microkernel keeps its tile in 12 named __m256 accumulators (12 + 2 B vectors + 1
 *    broadcast = 15 of the 16 ymm registers; an accumulator array makes gcc spill), issuing 12
 *    FMAs per 2 loads + 6 broadcasts, and does the epilogue while storing.
 *  - Loops: column blocks (NC) > k blocks (KC, the B block stays in L2) > row blocks (MC, the A
 *    block stays in L2) > 16-column panels (the B micro-panel, kc x 16, stays in L1) > 6-row
 *    panels.
 *  - k blocks: the first one stores acc + bias + residual, later ones add onto C, the last one
 *    applies the activation. Each residual element is read before that element of C is first
 *    written, so `residual` may be the very buffer C (in-place residual add).
 *  - Edges: the last row panel computes six rows (zero padding) and stores only the valid ones;
 *    a column edge uses masked loads / stores, and a last panel of at most 8 columns runs a 6x8
 *    kernel (7 x 7 images: 49 = 3 * 16 + 1 pixels).
 *  - Results equal the portable references up to float rounding (different summation order).
 *  - Threading: the _range entries compute a contiguous range of columns (GEMM) or, for the
 *    convolution, either of output pixels (all channels) or of output channels (all pixels),
 *    each task with its own scratch. cnnrt_f32_gemm_avx2_split gives balanced, 16-aligned
 *    pixel ranges, cnnrt_f32_gemm_avx2_split_rows balanced ranges of whole 12-row (AVX-512) or
 *    6-row panel units. cnnrt_conv_gemm_split_channels chooses between the two from the shape:
 *    small images (7 x 7, 14 x 14) with many weights split over channels, so that each thread
 *    streams only its half of the weights instead of all of them.
 *
 * Everything except the weight packing (which the compiler runs on any host) is compiled only
 * when __AVX2__ and __FMA__ are defined; without them this header declares nothing else. */
#ifndef CNNRT_GEMM_AVX2_H
#define CNNRT_GEMM_AVX2_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_act_avx2.h"

#define CNNRT_GEMM_AVX2_MR 6  /* rows of the microkernel tile (the A panel height) */
#define CNNRT_GEMM_AVX2_NR 16 /* columns of the microkernel tile (the B panel width) */

/* Bytes of the packed form of a row-major [m, k] A (m rounded up to a multiple of 6). */
static inline int64_t cnnrt_f32_pack_a_mr6_bytes(int64_t m, int64_t k) {
  return (m + 5) / 6 * 6 * k * (int64_t)sizeof(float);
}

/* Packs row-major A [m, k] into 6-row panels, k-major inside a panel, padding rows zeroed:
 * packed[(i / 6) * 6 * k + kk * 6 + i % 6] = A[i, kk]. Portable: the compiler runs it on
 * constant weights at build time. For a convolution A is the weight [c_out, c_in, kernel...]
 * viewed as [c_out, c_in * kernel volume]. */
static inline void cnnrt_f32_pack_a_mr6(int64_t m, int64_t k, const float *a, float *packed) {
  for (int64_t i0 = 0; i0 < m; i0 += 6) {
    const int64_t rows = m - i0 < 6 ? m - i0 : 6;
    float *dst = packed + i0 * k; /* panel i0 / 6 starts at (i0 / 6) * 6 * k */
    for (int64_t kk = 0; kk < k; kk++) {
      for (int64_t r = 0; r < 6; r++) {
        dst[kk * 6 + r] = r < rows ? a[(i0 + r) * k + kk] : 0.0f;
      }
    }
  }
}

/* Bytes of a grouped convolution's weights packed group by group (cnnrt_f32_conv_grouped_pack_mr6). */
static inline int64_t cnnrt_f32_conv_grouped_pack_mr6_bytes(const cnnrt_conv_params *p) {
  const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
  return p->group * cnnrt_f32_pack_a_mr6_bytes(p->c_out / p->group, p->c_in / p->group * kvol);
}

/* Packs a grouped convolution's weights [c_out, c_in / group, kernel...] for
 * cnnrt_f32_conv_grouped_gemm_avx2_range: group g's rows [g * c_out / group, ...) viewed as
 * [c_out / group, c_in / group * kvol] in 6-row panels, at packed + g * (its packed floats).
 * Each group's last panel is zero-padded on its own, so that a group's GEMM never reads the next
 * group's rows. Portable (the compiler runs it at build time). */
static inline void cnnrt_f32_conv_grouped_pack_mr6(const cnnrt_conv_params *p, const float *w,
                                                   float *packed) {
  const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
  const int64_t m = p->c_out / p->group, k = p->c_in / p->group * kvol;
  const int64_t wg = cnnrt_f32_pack_a_mr6_bytes(m, k) / (int64_t)sizeof(float);
  for (int64_t g = 0; g < p->group; g++) {
    cnnrt_f32_pack_a_mr6(m, k, w + g * m * k, packed + g * wg);
  }
}

/* ---- Blocking and scratch sizes: portable, so that the compiler can plan the arena. ---- */

/* Cache blocking. k is split into equal blocks of at most KC; B is packed a kc x NC block at a
 * time and A is walked in MC-row blocks. MC must be a multiple of 12 (the AVX-512 tile takes two
 * 6-row panels at a time), NC of 16.
 * - AVX-512 (tuned on Zen 4/5, 1 MiB L2): KC 320, so the kc x 32 B panels stay in L1. KC
 *   256..384, MC 48..192 and NC 128..512 were within a few percent of each other there, except
 *   that NC 512 lost up to 10% when m is small (64).
 * - AVX2 (tuned on a Zen 3 VM, 512 KiB L2, weights coming from memory as in a whole network):
 *   KC 1024: fewer passes over C, and each 6-row A panel is read as one long run instead of
 *   1.3 KiB-per-row pieces the prefetcher keeps restarting on. Together with the row-outer
 *   order of cnnrt_gemm_avx2_macro, against KC 320 and the column-outer order, layer by layer
 *   with cold weights and both build orders (docs/design.md): 0.91x on resnet50's 1x1
 *   512 -> 2048 at 7x7, 0.96-0.97x on its other layers of depth 512-1152. KC 512 and 2048
 *   measured within 3% of 1024 (one build order).
 * The compiler (built without AVX-512) sizes the scratch with the larger KC, so code built for
 * either path fits in it. */
#ifndef CNNRT_GEMM_AVX2_KC
#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_GEMM_AVX2_KC 320
#else
#define CNNRT_GEMM_AVX2_KC 1024
#endif
#endif
#ifndef CNNRT_GEMM_AVX2_MC
#define CNNRT_GEMM_AVX2_MC 96
#endif
#ifndef CNNRT_GEMM_AVX2_NC
#define CNNRT_GEMM_AVX2_NC 128
#endif

static inline int64_t cnnrt_gemm_avx2_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* Width of the column blocks of an n-column GEMM (a portable function: the compiler sizes the
 * scratch with it). Tried: one block for images up to 256 pixels, so that the weights of the
 * 14 x 14 and 7 x 7 layers stream through the cache once: no measurable gain on Zen 5, even
 * with the weights coming from memory (bench/kernels, "cold"). */
static inline int64_t cnnrt_gemm_avx2_nc(int64_t n) {
  (void)n;
  return CNNRT_GEMM_AVX2_NC;
}

/* Depth of the k blocks: k split into equal blocks of at most KC (a short last block would run
 * the microkernel with little work per C tile load/store). */
static inline int64_t cnnrt_gemm_avx2_kc(int64_t k) {
  if (k <= 0) {
    return 0;
  }
  const int64_t nblk = (k + CNNRT_GEMM_AVX2_KC - 1) / CNNRT_GEMM_AVX2_KC;
  return (k + nblk - 1) / nblk;
}

/* Bytes of the im2col tap tables (cnnrt_im2col_tab) one task keeps in its scratch. */
static inline int64_t cnnrt_im2col_tab_bytes(int64_t kvol) {
  return 2 * kvol * (2 + 16) * (int64_t)sizeof(int32_t) + 64;
}

/* The split of a GEMM convolution over n_tasks tasks: 1 = over output channels (every task
 * computes all pixels of its rows and packs the whole im2col itself), 0 = over output pixels
 * (every task computes all channels of its pixels and streams all the weights). Portable, so
 * that the compiler can report it in --dump.
 * Per task, the channel split saves streaming (1 - 1/T) of the c_out x k weights per column
 * block and costs packing (1 - 1/T) more of the k x pixels im2col block, so it pays when the
 * output has more channels than pixels; the weights come from memory (a network's weights do
 * not stay in the cache) while the image block is packed from cache, hence c_out >= 2 * pixels.
 * Small images only (at most 256 pixels, two 128-column blocks), and at least four 12-row units
 * per task. On small images the pixel split is also uneven: 7 x 7 = 49 pixels give one task 32
 * columns and the other 17, both with all 9.4 MB of resnet50's 3 x 3 512->512 weights.
 * Measured with bench/kernels/bench_conv_threads_avx2.c on the resnet50 shapes (critical path in
 * thread CPU time, 2 tasks, two runs; pixels / channels): 7 x 7 layers 1.68-1.87x / 1.89-2.09x;
 * 14 x 14 with c_out 1024-2048 1.74-1.86x / 1.84-2.01x; 14 x 14 with c_out 256 (c_out < 2 P)
 * within 0.07x of each other, either way. */
#ifndef CNNRT_CONV_SPLIT_CHANNELS_MAX_PIXELS
#define CNNRT_CONV_SPLIT_CHANNELS_MAX_PIXELS 256
#endif
static inline int cnnrt_conv_gemm_split_channels(const cnnrt_conv_params *p, int64_t n_tasks) {
  if (n_tasks < 2) {
    return 0;
  }
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t pixels = p->n * g.out[0] * g.out[1] * g.out[2];
  if (pixels <= 1) {
    return 0; /* the 1-pixel GEMV path splits its weight panels already */
  }
  return pixels <= CNNRT_CONV_SPLIT_CHANNELS_MAX_PIXELS && p->c_out >= 2 * pixels &&
         p->c_out >= 48 * n_tasks;
}

/* Scratch bytes of one task (every task of _range needs its own region of this size). */
static inline int64_t cnnrt_f32_conv_gemm_avx2_scratch_bytes(const cnnrt_conv_params *p) {
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  const int64_t nc = cnnrt_gemm_avx2_min(out_plane, cnnrt_gemm_avx2_nc(out_plane));
  return 64 +
         (cnnrt_gemm_avx2_kc(p->c_in * kvol) + 1) * ((nc + 15) / 16 * 16) * (int64_t)sizeof(float) +
         cnnrt_im2col_tab_bytes(kvol);
}

/* Scratch bytes of one task of cnnrt_f32_conv_grouped_gemm_avx2_range: one group's GEMM. */
static inline int64_t cnnrt_f32_conv_grouped_avx2_scratch_bytes(const cnnrt_conv_params *p) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  return cnnrt_f32_conv_gemm_avx2_scratch_bytes(&sp);
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>


/* The per-row epilogue must be inlined into the microkernel: as a call it spills all twelve
 * accumulators, which costs as much as dozens of k steps. */
#if defined(__GNUC__)
#define CNNRT_AVX2_INLINE static inline __attribute__((always_inline))
#else
#define CNNRT_AVX2_INLINE static inline
#endif

/* Epilogue of one call of the macro kernel. */
typedef struct cnnrt_gemm_avx2_epi {
  int64_t act;       /* enum cnnrt_act */
  float alpha, beta; /* activation parameters */
  int first;         /* first k block: C = acc + bias + residual (else C += acc) */
  int last;          /* last k block: apply the activation */
} cnnrt_gemm_avx2_epi;



/* Scratch start rounded up to 64 bytes (packed panels then start on cache lines). */
static inline float *cnnrt_gemm_avx2_align(void *scratch) {
  const uintptr_t u = ((uintptr_t)scratch + 63u) & ~(uintptr_t)63u;
  return (float *)u;
}

/* Lanes [0, n) of an 8-lane mask set (n clamped to 0..8). */
static inline __m256i cnnrt_avx2_lane_mask(int64_t n) {
  const int32_t c = (int32_t)(n < 0 ? 0 : (n > 8 ? 8 : n));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Activations with cheap vector forms; the expressions reproduce cnnrt_apply_act bit for bit
 * (NaN and -0 included): max_ps(v, 0) is `v > 0 ? v : 0`, min_ps(beta, v) is `v > beta ? beta
 * : v`. Other activations return v unchanged and are applied by the scalar reference. */
CNNRT_AVX2_INLINE __m256 cnnrt_avx2_act(__m256 v, int64_t act, float alpha, float beta) {
  switch (act) {
  case CNNRT_ACT_RELU:
    return _mm256_max_ps(v, _mm256_setzero_ps());
  case CNNRT_ACT_LEAKY_RELU: {
    const __m256 ge = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(alpha), v), v, ge);
  }
  case CNNRT_ACT_CLIP: {
    const __m256 lo = _mm256_set1_ps(alpha);
    const __m256 t = _mm256_min_ps(_mm256_set1_ps(beta), v);
    return _mm256_blendv_ps(t, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
  }
  default:
    return v;
  }
}

static inline int cnnrt_avx2_act_is_vector(int64_t act) {
  return act == CNNRT_ACT_NONE || act == CNNRT_ACT_RELU || act == CNNRT_ACT_LEAKY_RELU ||
         act == CNNRT_ACT_CLIP;
}

/* Stores n (1..8) columns of one row of a finished tile: v holds the accumulators, c the row of
 * C, bias the row's bias (NULL: none), res the row of the residual (NULL: none). Partial rows
 * use masked loads and stores, which touch no element past the n-th. */
CNNRT_AVX2_INLINE void cnnrt_gemm_avx2_store8(float *c, const float *bias, const float *res,
                                              __m256 v, int64_t n, const cnnrt_gemm_avx2_epi *e) {
  if (n >= 8) {
    if (e->first) {
      if (bias != NULL) {
        v = _mm256_add_ps(v, _mm256_broadcast_ss(bias));
      }
      if (res != NULL) {
        v = _mm256_add_ps(v, _mm256_loadu_ps(res));
      }
    } else {
      v = _mm256_add_ps(v, _mm256_loadu_ps(c));
    }
    if (e->last) {
      v = cnnrt_avx2_act(v, e->act, e->alpha, e->beta);
    }
    _mm256_storeu_ps(c, v);
  } else {
    const __m256i m = cnnrt_avx2_lane_mask(n);
    if (e->first) {
      if (bias != NULL) {
        v = _mm256_add_ps(v, _mm256_broadcast_ss(bias));
      }
      if (res != NULL) {
        v = _mm256_add_ps(v, _mm256_maskload_ps(res, m));
      }
    } else {
      v = _mm256_add_ps(v, _mm256_maskload_ps(c, m));
    }
    if (e->last) {
      v = cnnrt_avx2_act(v, e->act, e->alpha, e->beta);
    }
    _mm256_maskstore_ps(c, m, v);
  }
}

/* The activations that need more registers than the store path has (sigmoid, SiLU, tanh,
 * hard sigmoid / swish), applied to the stored tile by the AVX2 activation kernels of
 * cnnrt_act_avx2.h (~3e-7 relative, see there). Kept apart from the stores: evaluated while
 * the accumulators are live, their polynomials would make gcc / clang spill accumulators inside
 * the k loop. The tile is still in L1. */
#if defined(CNNRT_ACT_AVX512)
/* SiLU / sigmoid over the rows of a stored tile with the switch outside the row loop, so that
 * the 16-lane function's constants stay in registers for the whole tile (a call of
 * cnnrt_f32_act_avx2 per row of 8..32 floats reloaded them every row, and measured ~2x the
 * array kernel's time per element inside the 1x1 convolutions). */
#define CNNRT_GEMM_TILE_ACT512(FN)                                                                 \
  for (int64_t r = 0; r < mr; r++) {                                                               \
    float *row = c + r * ldc;                                                                      \
    for (int64_t j = 0; j < nr; j += 16) {                                                         \
      const __mmask16 m_ =                                                                         \
          nr - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nr - j)) - 1u);                    \
      _mm512_mask_storeu_ps(row + j, m_, FN(_mm512_maskz_loadu_ps(m_, row + j)));                  \
    }                                                                                              \
  }
#else
/* The same at 8 lanes: before this, each row of the tile went through a call of
 * cnnrt_f32_act_avx2 (its switch, and its ~20 constants loaded again for 16 floats).
 * EfficientNet-B0's expanding 1x1 layers + SiLU (k = 16..112, where the SiLU costs as much as
 * the GEMM), old and new alternating in one binary on Zen 3: 16->96 at 112 x 112 0.85x the
 * time, 24->144 at 56 x 56 0.84x, 40->240 at 28 x 28 0.86x, 112->672 at 14 x 14 0.93x. */
#define CNNRT_GEMM_TILE_ACT256(FN)                                                                 \
  for (int64_t r = 0; r < mr; r++) {                                                               \
    float *row = c + r * ldc;                                                                      \
    int64_t j = 0;                                                                                 \
    for (; j + 8 <= nr; j += 8) {                                                                  \
      _mm256_storeu_ps(row + j, FN(_mm256_loadu_ps(row + j)));                                     \
    }                                                                                              \
    if (j < nr) {                                                                                  \
      const __m256i m_ = cnnrt_avx2_lane_mask(nr - j);                                             \
      _mm256_maskstore_ps(row + j, m_, FN(_mm256_maskload_ps(row + j, m_)));                       \
    }                                                                                              \
  }
#endif

static inline void cnnrt_gemm_avx2_scalar_act(float *c, int64_t ldc, int64_t mr, int64_t nr,
                                              const cnnrt_gemm_avx2_epi *e) {
  if (e->last && !cnnrt_avx2_act_is_vector(e->act)) {
#if defined(CNNRT_ACT_AVX512)
    if (e->act == CNNRT_ACT_SILU) {
      CNNRT_GEMM_TILE_ACT512(cnnrt_f32_silu_avx512_ps)
      return;
    }
    if (e->act == CNNRT_ACT_SIGMOID) {
      CNNRT_GEMM_TILE_ACT512(cnnrt_f32_sigmoid_avx512_ps)
      return;
    }
#else
    if (e->act == CNNRT_ACT_SILU) {
      CNNRT_GEMM_TILE_ACT256(cnnrt_f32_silu_avx2_ps)
      return;
    }
    if (e->act == CNNRT_ACT_SIGMOID) {
      CNNRT_GEMM_TILE_ACT256(cnnrt_f32_sigmoid_avx2_ps)
      return;
    }
#endif
    for (int64_t r = 0; r < mr; r++) {
      cnnrt_f32_act_avx2(e->act, e->alpha, e->beta, nr, c + r * ldc, c + r * ldc);
    }
  }
}

/* Stores one row of 16 columns (nr valid) of a finished tile, (v0, v1) its accumulators. */
CNNRT_AVX2_INLINE void cnnrt_gemm_avx2_store_row(float *c, const float *bias, const float *res,
                                                 __m256 v0, __m256 v1, int64_t nr,
                                                 const cnnrt_gemm_avx2_epi *e) {
  cnnrt_gemm_avx2_store8(c, bias, res, v0, nr, e);
  if (nr > 8) {
    cnnrt_gemm_avx2_store8(c + 8, bias, res != NULL ? res + 8 : NULL, v1, nr - 8, e);
  }
}

/* The microkernel: the 6 x 16 tile C[0..mr) x [0..nr) from kc steps of a (6 floats per step,
 * a packed A panel) and b (16 floats per step, a packed B panel), then the epilogue e.
 * bias points at the tile's first row's bias (or NULL), res at the tile in the residual (or
 * NULL; row stride ldc like C). */
static inline void cnnrt_f32_gemm_6x16_avx2(int64_t kc, const float *a, const float *b, float *c,
                                            int64_t ldc, int64_t mr, int64_t nr, const float *bias,
                                            const float *res, const cnnrt_gemm_avx2_epi *e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  /* Touch the tile's rows now so that the epilogue's C traffic overlaps the FMAs. */
  for (int64_t r = 0; r < mr; r++) {
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
  }
#define CNNRT_GEMM_AVX2_STEP(u)                                                                    \
  do {                                                                                             \
    __m256 b0 = _mm256_loadu_ps(b + 16 * (u));                                                     \
    __m256 b1 = _mm256_loadu_ps(b + 16 * (u) + 8);                                                 \
    CNNRT_KEEP_IN_REGS(b0, b1);                                                                    \
    __m256 t = _mm256_broadcast_ss(a + 6 * (u) + 0);                                               \
    c00 = _mm256_fmadd_ps(t, b0, c00);                                                             \
    c01 = _mm256_fmadd_ps(t, b1, c01);                                                             \
    t = _mm256_broadcast_ss(a + 6 * (u) + 1);                                                      \
    c10 = _mm256_fmadd_ps(t, b0, c10);                                                             \
    c11 = _mm256_fmadd_ps(t, b1, c11);                                                             \
    t = _mm256_broadcast_ss(a + 6 * (u) + 2);                                                      \
    c20 = _mm256_fmadd_ps(t, b0, c20);                                                             \
    c21 = _mm256_fmadd_ps(t, b1, c21);                                                             \
    t = _mm256_broadcast_ss(a + 6 * (u) + 3);                                                      \
    c30 = _mm256_fmadd_ps(t, b0, c30);                                                             \
    c31 = _mm256_fmadd_ps(t, b1, c31);                                                             \
    t = _mm256_broadcast_ss(a + 6 * (u) + 4);                                                      \
    c40 = _mm256_fmadd_ps(t, b0, c40);                                                             \
    c41 = _mm256_fmadd_ps(t, b1, c41);                                                             \
    t = _mm256_broadcast_ss(a + 6 * (u) + 5);                                                      \
    c50 = _mm256_fmadd_ps(t, b0, c50);                                                             \
    c51 = _mm256_fmadd_ps(t, b1, c51);                                                             \
  } while (0)
  for (int64_t kk = 0; kk < kc; kk++) {
    CNNRT_GEMM_AVX2_STEP(0);
    a += 6;
    b += 16;
  }
#undef CNNRT_GEMM_AVX2_STEP
  /* A local copy of the epilogue parameters: the __m256 stores may alias anything, so through
   * the pointer they would be reloaded after every store. Rows past mr exist only in the zero
   * padding of the last A panel. */
  const cnnrt_gemm_avx2_epi ev = *e;
  e = &ev;
  cnnrt_gemm_avx2_store_row(c, bias, res, c00, c01, nr, e);
  if (mr > 1) {
    cnnrt_gemm_avx2_store_row(c + ldc, bias != NULL ? bias + 1 : NULL,
                              res != NULL ? res + ldc : NULL, c10, c11, nr, e);
  }
  if (mr > 2) {
    cnnrt_gemm_avx2_store_row(c + 2 * ldc, bias != NULL ? bias + 2 : NULL,
                              res != NULL ? res + 2 * ldc : NULL, c20, c21, nr, e);
  }
  if (mr > 3) {
    cnnrt_gemm_avx2_store_row(c + 3 * ldc, bias != NULL ? bias + 3 : NULL,
                              res != NULL ? res + 3 * ldc : NULL, c30, c31, nr, e);
  }
  if (mr > 4) {
    cnnrt_gemm_avx2_store_row(c + 4 * ldc, bias != NULL ? bias + 4 : NULL,
                              res != NULL ? res + 4 * ldc : NULL, c40, c41, nr, e);
  }
  if (mr > 5) {
    cnnrt_gemm_avx2_store_row(c + 5 * ldc, bias != NULL ? bias + 5 : NULL,
                              res != NULL ? res + 5 * ldc : NULL, c50, c51, nr, e);
  }
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* The 6 x 8 variant for a last column panel with at most 8 valid columns (reads the first half
 * of each 16-float B row): on small images (7 x 7 = 49 pixels = 3 panels + 1) it halves the
 * work wasted on padding columns. Even and odd k steps go to separate accumulators: six chains
 * of 4-cycle FMAs alone could not keep both FMA pipes busy. */
static inline void cnnrt_f32_gemm_6x8_avx2(int64_t kc, const float *a, const float *b, float *c,
                                           int64_t ldc, int64_t mr, int64_t nr, const float *bias,
                                           const float *res, const cnnrt_gemm_avx2_epi *e) {
  __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps();
  __m256 c3 = _mm256_setzero_ps(), c4 = _mm256_setzero_ps(), c5 = _mm256_setzero_ps();
  __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps(), d2 = _mm256_setzero_ps();
  __m256 d3 = _mm256_setzero_ps(), d4 = _mm256_setzero_ps(), d5 = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 2 <= kc; kk += 2) {
    __m256 b0 = _mm256_loadu_ps(b);
    __m256 b1 = _mm256_loadu_ps(b + 16);
    CNNRT_KEEP_IN_REGS(b0, b1);
    c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
    c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
    c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
    c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
    c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
    c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
    d0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 6), b1, d0);
    d1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 7), b1, d1);
    d2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 8), b1, d2);
    d3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 9), b1, d3);
    d4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 10), b1, d4);
    d5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 11), b1, d5);
    a += 12;
    b += 32;
  }
  if (kk < kc) {
    const __m256 b0 = _mm256_loadu_ps(b);
    c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
    c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
    c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
    c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
    c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
    c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
  }
  const cnnrt_gemm_avx2_epi ev = *e; /* see cnnrt_f32_gemm_6x16_avx2 */
  e = &ev;
  const __m256 rows[6] = {_mm256_add_ps(c0, d0), _mm256_add_ps(c1, d1), _mm256_add_ps(c2, d2),
                          _mm256_add_ps(c3, d3), _mm256_add_ps(c4, d4), _mm256_add_ps(c5, d5)};
  for (int64_t r = 0; r < mr; r++) {
    cnnrt_gemm_avx2_store8(c + r * ldc, bias != NULL ? bias + r : NULL,
                           res != NULL ? res + r * ldc : NULL, rows[r], nr, e);
  }
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* Widest last column panel that cnnrt_f32_gemm_6xn_avx2 takes (the 6x8 kernel takes 3..8).
 * Tried: up to 4 columns (14 x 14 images: 196 = 12 * 16 + 4) with 2 chains of 4 columns:
 * 1.01-1.06x the 6x8 kernel's time on 1x1 layers at 10 x 10 and 14 x 14. */
#define CNNRT_GEMM_AVX2_NARROW_MAX 2

/* C tile of 6 rows x nr (1 or 2) columns, for a last column panel that holds only one or two
 * valid columns (7 x 7 images: 49 = 3 * 16 + 1 pixels). The rows go in the vector lanes
 * instead: per k step one load of the panel's 6 A values (8 lanes read, the last two belong to
 * the next step and are never used; the very last step of the panel loads masked, so nothing
 * past the packed weights is read) and one broadcast per column: 2 or 3 loads per k step where
 * the 6x8 kernel issues 7 whatever nr is. 7 x 7 layers of resnet50 (3x3 512->512, 1x1
 * 512->2048 and 2048->512): 0.89-0.91x the time of the 6x8 kernel. Four named accumulators per
 * column, one per k residue, cover the FMA latency without spilling. The sums per column land
 * in out[0..nr). */
#define CNNRT_6XN_A(kk) _mm256_loadu_ps(a + 6 * (kk))
#define CNNRT_6XN_FMA(acc, av, kk, j)                                                              \
  acc = _mm256_fmadd_ps(av, _mm256_broadcast_ss(b + 16 * (kk) + (j)), acc)
static inline void cnnrt_gemm_avx2_6x1_body(int64_t kc, const float *a, const float *b,
                                            __m256 *out) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 5 <= kc; kk += 4) { /* the next step's first A value follows: a full load is safe */
    CNNRT_6XN_FMA(s0, CNNRT_6XN_A(kk), kk, 0);
    CNNRT_6XN_FMA(s1, CNNRT_6XN_A(kk + 1), kk + 1, 0);
    CNNRT_6XN_FMA(s2, CNNRT_6XN_A(kk + 2), kk + 2, 0);
    CNNRT_6XN_FMA(s3, CNNRT_6XN_A(kk + 3), kk + 3, 0);
  }
  for (; kk + 1 < kc; kk++) {
    CNNRT_6XN_FMA(s0, CNNRT_6XN_A(kk), kk, 0);
  }
  if (kk < kc) {
    CNNRT_6XN_FMA(s1, _mm256_maskload_ps(a + 6 * kk, cnnrt_avx2_lane_mask(6)), kk, 0);
  }
  out[0] = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
}

static inline void cnnrt_gemm_avx2_6x2_body(int64_t kc, const float *a, const float *b,
                                            __m256 *out) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps(), t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
  __m256 t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 5 <= kc; kk += 4) {
    __m256 av = CNNRT_6XN_A(kk);
    CNNRT_6XN_FMA(s0, av, kk, 0);
    CNNRT_6XN_FMA(t0, av, kk, 1);
    av = CNNRT_6XN_A(kk + 1);
    CNNRT_6XN_FMA(s1, av, kk + 1, 0);
    CNNRT_6XN_FMA(t1, av, kk + 1, 1);
    av = CNNRT_6XN_A(kk + 2);
    CNNRT_6XN_FMA(s2, av, kk + 2, 0);
    CNNRT_6XN_FMA(t2, av, kk + 2, 1);
    av = CNNRT_6XN_A(kk + 3);
    CNNRT_6XN_FMA(s3, av, kk + 3, 0);
    CNNRT_6XN_FMA(t3, av, kk + 3, 1);
  }
  for (; kk < kc; kk++) {
    const __m256 av = kk + 1 < kc ? CNNRT_6XN_A(kk)
                                  : _mm256_maskload_ps(a + 6 * kk, cnnrt_avx2_lane_mask(6));
    CNNRT_6XN_FMA(s0, av, kk, 0);
    CNNRT_6XN_FMA(t0, av, kk, 1);
  }
  out[0] = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  out[1] = _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3));
}

#undef CNNRT_6XN_A
#undef CNNRT_6XN_FMA

static inline void cnnrt_f32_gemm_6xn_avx2(int64_t kc, const float *a, const float *b, float *c,
                                           int64_t ldc, int64_t mr, int64_t nr, const float *bias,
                                           const float *res, const cnnrt_gemm_avx2_epi *e) {
  CNNRT_ASSERT(nr >= 1 && nr <= CNNRT_GEMM_AVX2_NARROW_MAX);
  __m256 cols[CNNRT_GEMM_AVX2_NARROW_MAX];
  if (nr == 1) {
    cnnrt_gemm_avx2_6x1_body(kc, a, b, cols);
  } else {
    cnnrt_gemm_avx2_6x2_body(kc, a, b, cols);
  }
  const cnnrt_gemm_avx2_epi ev = *e; /* see cnnrt_f32_gemm_6x16_avx2 */
  const __m256i rows = cnnrt_avx2_lane_mask(mr);
  const __m256 bias_v = ev.first && bias != NULL ? _mm256_maskload_ps(bias, rows)
                                                 : _mm256_setzero_ps();
  for (int64_t j = 0; j < nr; j++) {
    /* Column j across the rows, with cnnrt_gemm_avx2_store8's arithmetic (its order of bias,
     * residual / partial sum and activation; bit-identical). Calling store8 per row instead
     * (a transposed 6 x nr buffer, masked loads and stores) measured 1.02-1.03x the time on
     * ResNet's 7x7 layers: vmaskmovps stores are microcoded on Zen. The residual (or the
     * partial sum in C) is read before that row's element of C is written, as the in-place
     * residual add requires. */
    float in[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const float *src = ev.first ? res : c;
    if (src != NULL) {
      for (int64_t r = 0; r < mr; r++) {
        in[r] = src[r * ldc + j];
      }
    }
    __m256 v = cols[j];
    if (ev.first && bias != NULL) { /* the order of cnnrt_gemm_avx2_store8: (acc + bias) + res */
      v = _mm256_add_ps(v, bias_v);
    }
    if (src != NULL) {
      v = _mm256_add_ps(v, _mm256_loadu_ps(in));
    }
    if (ev.last) {
      v = cnnrt_avx2_act(v, ev.act, ev.alpha, ev.beta);
    }
    float out[8];
    _mm256_storeu_ps(out, v);
    for (int64_t r = 0; r < mr; r++) {
      c[r * ldc + j] = out[r];
    }
  }
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, &ev);
}

/* ---------------------------------------------------------------------------------------------
 * AVX-512 variant of the macro kernel (compiled only with __AVX512F__, e.g. -march=native on an
 * AVX-512 machine; -DCNNRT_NO_AVX512 keeps the AVX2 path). It reads the same packed layouts as
 * the AVX2 path (6-row A panels, 16-column B panels), so the weights the compiler packed serve
 * both and a build with -mavx2 -mfma alone stays correct: the 12x32 tile is two adjacent A
 * panels x two adjacent B panels, 24 zmm accumulators + 2 B vectors + 1 broadcast of the 32
 * registers, 24 FMAs per 2 loads + 12 broadcasts. A single leftover A panel runs 6x32; a last
 * column panel of at most 16 columns runs the AVX2 6x16 / 6x8 kernels. On this Zen 5 (full
 * 512-bit FMA pipes) the 512-bit FMAs double the AVX2 peak.
 * ------------------------------------------------------------------------------------------- */
#if defined(__AVX512F__) && !defined(CNNRT_NO_AVX512)
#define CNNRT_GEMM_AVX512 1
#ifndef CNNRT_GEMM_AVX512_PF
#define CNNRT_GEMM_AVX512_PF 384
#endif

/* cnnrt_avx2_act on 16 lanes, with the same bit-exact expressions (NaN and -0 included). */
CNNRT_AVX2_INLINE __m512 cnnrt_avx512_act(__m512 v, int64_t act, float alpha, float beta) {
  switch (act) {
  case CNNRT_ACT_RELU: /* max(v, 0) returns 0 for NaN v, as `v > 0 ? v : 0` */
    return _mm512_max_ps(v, _mm512_setzero_ps());
  case CNNRT_ACT_LEAKY_RELU: {
    const __mmask16 ge = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mask_blend_ps(ge, _mm512_mul_ps(_mm512_set1_ps(alpha), v), v);
  }
  case CNNRT_ACT_CLIP: {
    const __m512 lo = _mm512_set1_ps(alpha);
    const __m512 t = _mm512_min_ps(_mm512_set1_ps(beta), v);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), t, lo);
  }
  default:
    return v;
  }
}

/* Stores n (<= 0: nothing, >= 16: all) columns of one row of 16 (cnnrt_gemm_avx2_store8 on 16
 * lanes). Masked-off lanes are neither read nor written. */
CNNRT_AVX2_INLINE void cnnrt_gemm_avx512_store16(float *c, const float *bias, const float *res,
                                                 __m512 v, int64_t n,
                                                 const cnnrt_gemm_avx2_epi *e) {
  if (n <= 0) {
    return;
  }
  const __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
  if (e->first) {
    if (bias != NULL) {
      v = _mm512_add_ps(v, _mm512_set1_ps(*bias));
    }
    if (res != NULL) {
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res));
    }
  } else {
    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
  }
  if (e->last) {
    v = cnnrt_avx512_act(v, e->act, e->alpha, e->beta);
  }
  _mm512_mask_storeu_ps(c, m, v);
}

/* Row r of the tile: 32 columns (nr valid) from the accumulator pair (v0, v1). */
CNNRT_AVX2_INLINE void cnnrt_gemm_avx512_store_row(float *c, const float *bias, const float *res,
                                                   int64_t r, int64_t ldc, __m512 v0, __m512 v1,
                                                   int64_t nr, const cnnrt_gemm_avx2_epi *e) {
  const float *br = bias != NULL ? bias + r : NULL;
  const float *rr = res != NULL ? res + r * ldc : NULL;
  cnnrt_gemm_avx512_store16(c + r * ldc, br, rr, v0, nr, e);
  cnnrt_gemm_avx512_store16(c + r * ldc + 16, br, rr != NULL ? rr + 16 : NULL, v1, nr - 16, e);
}

#define CNNRT_AVX512_ACC(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps()
#define CNNRT_AVX512_FMA(r, ap)                                                                    \
  do {                                                                                             \
    const __m512 t_ = _mm512_set1_ps((ap)[(r) % 6]);                                               \
    c##r##0 = _mm512_fmadd_ps(t_, b0, c##r##0);                                                    \
    c##r##1 = _mm512_fmadd_ps(t_, b1, c##r##1);                                                    \
  } while (0)
#define CNNRT_AVX512_STORE(r)                                                                      \
  do {                                                                                             \
    if (mr > (r)) {                                                                                \
      cnnrt_gemm_avx512_store_row(c, bias, res, (r), ldc, c##r##0, c##r##1, nr, e);                \
    }                                                                                              \
  } while (0)

/* The 12 x 32 tile C[0..mr) x [0..nr) (6 < mr <= 12, 16 < nr <= 32): rows 0..5 from the A
 * panel a0, rows 6..11 from a1; columns 0..15 from the B panel b0p, 16..31 from b1p. */
static inline void cnnrt_f32_gemm_12x32_avx512(int64_t kc, const float *a0, const float *a1,
                                               const float *b0p, const float *b1p, float *c,
                                               int64_t ldc, int64_t mr, int64_t nr,
                                               const float *bias, const float *res,
                                               const cnnrt_gemm_avx2_epi *e) {
  CNNRT_AVX512_ACC(0);
  CNNRT_AVX512_ACC(1);
  CNNRT_AVX512_ACC(2);
  CNNRT_AVX512_ACC(3);
  CNNRT_AVX512_ACC(4);
  CNNRT_AVX512_ACC(5);
  CNNRT_AVX512_ACC(6);
  CNNRT_AVX512_ACC(7);
  CNNRT_AVX512_ACC(8);
  CNNRT_AVX512_ACC(9);
  CNNRT_AVX512_ACC(10);
  CNNRT_AVX512_ACC(11);
  for (int64_t r = 0; r < mr; r++) {
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
  }
  for (int64_t kk = 0; kk < kc; kk++) {
    const __m512 b0 = _mm512_loadu_ps(b0p);
    const __m512 b1 = _mm512_loadu_ps(b1p);
    _mm_prefetch((const char *)(a0 + CNNRT_GEMM_AVX512_PF), _MM_HINT_T0);
    _mm_prefetch((const char *)(a1 + CNNRT_GEMM_AVX512_PF), _MM_HINT_T0);
    CNNRT_AVX512_FMA(0, a0);
    CNNRT_AVX512_FMA(1, a0);
    CNNRT_AVX512_FMA(2, a0);
    CNNRT_AVX512_FMA(3, a0);
    CNNRT_AVX512_FMA(4, a0);
    CNNRT_AVX512_FMA(5, a0);
    CNNRT_AVX512_FMA(6, a1);
    CNNRT_AVX512_FMA(7, a1);
    CNNRT_AVX512_FMA(8, a1);
    CNNRT_AVX512_FMA(9, a1);
    CNNRT_AVX512_FMA(10, a1);
    CNNRT_AVX512_FMA(11, a1);
    a0 += 6;
    a1 += 6;
    b0p += 16;
    b1p += 16;
  }
  const cnnrt_gemm_avx2_epi ev = *e; /* see cnnrt_f32_gemm_6x16_avx2 */
  e = &ev;
  CNNRT_AVX512_STORE(0);
  CNNRT_AVX512_STORE(1);
  CNNRT_AVX512_STORE(2);
  CNNRT_AVX512_STORE(3);
  CNNRT_AVX512_STORE(4);
  CNNRT_AVX512_STORE(5);
  CNNRT_AVX512_STORE(6);
  CNNRT_AVX512_STORE(7);
  CNNRT_AVX512_STORE(8);
  CNNRT_AVX512_STORE(9);
  CNNRT_AVX512_STORE(10);
  CNNRT_AVX512_STORE(11);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* The 6 x 32 tile (mr <= 6, 16 < nr <= 32) from one A panel. Even and odd k steps go to
 * separate accumulators (24 in all): 12 chains of 4-cycle FMAs could not fill both pipes. */
static inline void cnnrt_f32_gemm_6x32_avx512(int64_t kc, const float *a, const float *b0p,
                                              const float *b1p, float *c, int64_t ldc, int64_t mr,
                                              int64_t nr, const float *bias, const float *res,
                                              const cnnrt_gemm_avx2_epi *e) {
  CNNRT_AVX512_ACC(0);
  CNNRT_AVX512_ACC(1);
  CNNRT_AVX512_ACC(2);
  CNNRT_AVX512_ACC(3);
  CNNRT_AVX512_ACC(4);
  CNNRT_AVX512_ACC(5);
  CNNRT_AVX512_ACC(6);
  CNNRT_AVX512_ACC(7);
  CNNRT_AVX512_ACC(8);
  CNNRT_AVX512_ACC(9);
  CNNRT_AVX512_ACC(10);
  CNNRT_AVX512_ACC(11);
  int64_t kk = 0;
  for (; kk + 2 <= kc; kk += 2) {
    {
      const __m512 b0 = _mm512_loadu_ps(b0p);
      const __m512 b1 = _mm512_loadu_ps(b1p);
      CNNRT_AVX512_FMA(0, a);
      CNNRT_AVX512_FMA(1, a);
      CNNRT_AVX512_FMA(2, a);
      CNNRT_AVX512_FMA(3, a);
      CNNRT_AVX512_FMA(4, a);
      CNNRT_AVX512_FMA(5, a);
    }
    {
      const __m512 b0 = _mm512_loadu_ps(b0p + 16);
      const __m512 b1 = _mm512_loadu_ps(b1p + 16);
      CNNRT_AVX512_FMA(6, a + 6);
      CNNRT_AVX512_FMA(7, a + 6);
      CNNRT_AVX512_FMA(8, a + 6);
      CNNRT_AVX512_FMA(9, a + 6);
      CNNRT_AVX512_FMA(10, a + 6);
      CNNRT_AVX512_FMA(11, a + 6);
    }
    a += 12;
    b0p += 32;
    b1p += 32;
  }
  if (kk < kc) {
    const __m512 b0 = _mm512_loadu_ps(b0p);
    const __m512 b1 = _mm512_loadu_ps(b1p);
    CNNRT_AVX512_FMA(0, a);
    CNNRT_AVX512_FMA(1, a);
    CNNRT_AVX512_FMA(2, a);
    CNNRT_AVX512_FMA(3, a);
    CNNRT_AVX512_FMA(4, a);
    CNNRT_AVX512_FMA(5, a);
  }
  c00 = _mm512_add_ps(c00, c60);
  c01 = _mm512_add_ps(c01, c61);
  c10 = _mm512_add_ps(c10, c70);
  c11 = _mm512_add_ps(c11, c71);
  c20 = _mm512_add_ps(c20, c80);
  c21 = _mm512_add_ps(c21, c81);
  c30 = _mm512_add_ps(c30, c90);
  c31 = _mm512_add_ps(c31, c91);
  c40 = _mm512_add_ps(c40, c100);
  c41 = _mm512_add_ps(c41, c101);
  c50 = _mm512_add_ps(c50, c110);
  c51 = _mm512_add_ps(c51, c111);
  const cnnrt_gemm_avx2_epi ev = *e;
  e = &ev;
  CNNRT_AVX512_STORE(0);
  CNNRT_AVX512_STORE(1);
  CNNRT_AVX512_STORE(2);
  CNNRT_AVX512_STORE(3);
  CNNRT_AVX512_STORE(4);
  CNNRT_AVX512_STORE(5);
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, e);
}

/* The 12 x 16 tile (mr <= 12, 0 < nr <= 16): a last column panel of at most 16 columns, rows
 * 0..5 from the A panel a0 and 6..11 from a1 (when mr <= 6, any panel: those rows are computed
 * but not stored), one 16-column B panel.
 * As in cnnrt_f32_gemm_6x32_avx512, even and odd k steps go to separate accumulators (24 in
 * all, 24 FMAs per 2 B loads and 24 broadcasts). Before it, such panels ran the AVX2 6x16 / 6x8
 * tiles: half the vector width, and on 14 x 14 planes (196 = 6 * 32 + 4 columns) and in
 * Winograd's 16-tile GEMMs that remainder is a large part of the work. */
#define CNNRT_AVX512_FMA16(r, ap, acc, bv)                                                         \
  acc##r = _mm512_fmadd_ps(_mm512_set1_ps((ap)[(r) % 6]), bv, acc##r)
#define CNNRT_AVX512_STEP16(ap0, ap1, acc, bv)                                                     \
  do {                                                                                             \
    CNNRT_AVX512_FMA16(0, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(1, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(2, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(3, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(4, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(5, ap0, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(6, ap1, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(7, ap1, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(8, ap1, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(9, ap1, acc, bv);                                                           \
    CNNRT_AVX512_FMA16(10, ap1, acc, bv);                                                          \
    CNNRT_AVX512_FMA16(11, ap1, acc, bv);                                                          \
  } while (0)
static inline void cnnrt_f32_gemm_12x16_avx512(int64_t kc, const float *a0, const float *a1,
                                               const float *bp, float *c, int64_t ldc, int64_t mr,
                                               int64_t nr, const float *bias, const float *res,
                                               const cnnrt_gemm_avx2_epi *e) {
  __m512 ev0 = _mm512_setzero_ps(), ev1 = ev0, ev2 = ev0, ev3 = ev0, ev4 = ev0, ev5 = ev0;
  __m512 ev6 = ev0, ev7 = ev0, ev8 = ev0, ev9 = ev0, ev10 = ev0, ev11 = ev0;
  __m512 od0 = ev0, od1 = ev0, od2 = ev0, od3 = ev0, od4 = ev0, od5 = ev0;
  __m512 od6 = ev0, od7 = ev0, od8 = ev0, od9 = ev0, od10 = ev0, od11 = ev0;
  for (int64_t r = 0; r < mr; r++) {
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
  }
  int64_t kk = 0;
  for (; kk + 2 <= kc; kk += 2) {
    const __m512 b0 = _mm512_loadu_ps(bp);
    const __m512 b1 = _mm512_loadu_ps(bp + 16);
    CNNRT_AVX512_STEP16(a0, a1, ev, b0);
    CNNRT_AVX512_STEP16(a0 + 6, a1 + 6, od, b1);
    a0 += 12;
    a1 += 12;
    bp += 32;
  }
  if (kk < kc) {
    const __m512 b0 = _mm512_loadu_ps(bp);
    CNNRT_AVX512_STEP16(a0, a1, ev, b0);
  }
  const cnnrt_gemm_avx2_epi ep = *e; /* see cnnrt_f32_gemm_6x16_avx2 */
  const __m512 rows[12] = {_mm512_add_ps(ev0, od0), _mm512_add_ps(ev1, od1),
                           _mm512_add_ps(ev2, od2), _mm512_add_ps(ev3, od3),
                           _mm512_add_ps(ev4, od4), _mm512_add_ps(ev5, od5),
                           _mm512_add_ps(ev6, od6), _mm512_add_ps(ev7, od7),
                           _mm512_add_ps(ev8, od8), _mm512_add_ps(ev9, od9),
                           _mm512_add_ps(ev10, od10), _mm512_add_ps(ev11, od11)};
  for (int64_t r = 0; r < mr; r++) {
    cnnrt_gemm_avx512_store16(c + r * ldc, bias != NULL ? bias + r : NULL,
                              res != NULL ? res + r * ldc : NULL, rows[r], nr, &ep);
  }
  cnnrt_gemm_avx2_scalar_act(c, ldc, mr, nr, &ep);
}
#undef CNNRT_AVX512_FMA16
#undef CNNRT_AVX512_STEP16
#undef CNNRT_AVX512_ACC
#undef CNNRT_AVX512_FMA
#undef CNNRT_AVX512_STORE
#endif /* __AVX512F__ && !CNNRT_NO_AVX512 */


/* One packed B block against all m rows: C[0..m) x [0..nc) (+)= A[:, k0 .. k0 + kc) * block.
 * a_packed is the whole packed A (depth k), bp the block packed as 16-column panels of depth
 * kc; c, res point at the block's first column. */
static inline void cnnrt_gemm_avx2_macro(int64_t m, int64_t nc, int64_t kc, const float *a_packed,
                                         int64_t k, int64_t k0, const float *bp, float *c,
                                         int64_t ldc, const float *bias, const float *res,
                                         const cnnrt_gemm_avx2_epi *e) {
  for (int64_t i0 = 0; i0 < m; i0 += CNNRT_GEMM_AVX2_MC) {
    const int64_t i1 = cnnrt_gemm_avx2_min(m, i0 + CNNRT_GEMM_AVX2_MC);
    int64_t j = 0;
#if defined(CNNRT_GEMM_AVX512)
    /* Pairs of B panels (32 columns) while more than 16 columns remain; rows by 12 (MC is a
     * multiple of 12, so the pairs of A panels never straddle a row block). */
    for (; nc - j > 16; j += 32) {
      const int64_t nr = cnnrt_gemm_avx2_min(32, nc - j);
      const float *bpan0 = bp + j * (kc + 1);
      const float *bpan1 = bpan0 + 16 * (kc + 1);
      for (int64_t i = i0; i < i1; i += 12) {
        const float *apan = a_packed + i * k + k0 * 6;
        const int64_t mr = cnnrt_gemm_avx2_min(12, i1 - i);
        const float *bi = bias != NULL ? bias + i : NULL;
        const float *ri = res != NULL ? res + i * ldc + j : NULL;
        if (mr > 6) {
          cnnrt_f32_gemm_12x32_avx512(kc, apan, apan + 6 * k, bpan0, bpan1, c + i * ldc + j, ldc,
                                      mr, nr, bi, ri, e);
        } else {
          cnnrt_f32_gemm_6x32_avx512(kc, apan, bpan0, bpan1, c + i * ldc + j, ldc, mr, nr, bi, ri,
                                     e);
        }
      }
    }
    /* A last panel of at most 16 columns: 12 rows at a time. */
    for (; j < nc; j += 16) {
      const int64_t nr = cnnrt_gemm_avx2_min(16, nc - j);
      const float *bpan = bp + j * (kc + 1);
      for (int64_t i = i0; i < i1; i += 12) {
        const float *apan = a_packed + i * k + k0 * 6;
        const int64_t mr = cnnrt_gemm_avx2_min(12, i1 - i);
        cnnrt_f32_gemm_12x16_avx512(kc, apan, mr > 6 ? apan + 6 * k : apan, bpan, c + i * ldc + j,
                                    ldc, mr, nr, bias != NULL ? bias + i : NULL,
                                    res != NULL ? res + i * ldc + j : NULL, e);
      }
    }
#endif
    /* Row panels outer, column panels inner: C (and the residual) is then written as 6 rows
     * of nc contiguous columns at a time, a few long streams the prefetcher follows, instead
     * of 64 bytes in each of MC rows in turn. With C's lines not in cache (a large activation
     * written once per inference), both build orders: 0.81x and 0.94x the time of the
     * column-outer order on mobilenet_v2's 1x1 layers at 112x112, 0.98-1.0x on shallow layers
     * at 56x56. */
    for (int64_t i = i0; i < i1; i += 6) {
      const float *apan = a_packed + i * k + k0 * 6; /* panel i / 6, from depth k0 */
      const int64_t mr = cnnrt_gemm_avx2_min(6, m - i);
      const float *bi = bias != NULL ? bias + i : NULL;
      for (int64_t jj = j; jj < nc; jj += 16) {
        const int64_t nr = cnnrt_gemm_avx2_min(16, nc - jj);
        const float *bpan = bp + jj * (kc + 1); /* panel jj / 16 */
        const float *ri = res != NULL ? res + i * ldc + jj : NULL;
        if (nr > 8) {
          cnnrt_f32_gemm_6x16_avx2(kc, apan, bpan, c + i * ldc + jj, ldc, mr, nr, bi, ri, e);
        } else if (nr > CNNRT_GEMM_AVX2_NARROW_MAX) {
          cnnrt_f32_gemm_6x8_avx2(kc, apan, bpan, c + i * ldc + jj, ldc, mr, nr, bi, ri, e);
        } else {
          cnnrt_f32_gemm_6xn_avx2(kc, apan, bpan, c + i * ldc + jj, ldc, mr, nr, bi, ri, e);
        }
      }
    }
  }
}

/* Packs rows [0, kc) x columns [0, nc) of a row-major B (b at the block's corner) into 16-column
 * panels. Row-outer order reads B as long contiguous runs (prefetcher friendly). With row_scale
 * (NULL: none) row kk is packed as float(b[kk][j] * row_scale[kk]): a channel scale fused into
 * the consumer (a squeeze-excitation Mul), formed exactly as the Mul would have formed it. */
static inline void cnnrt_gemm_avx2_pack_b_scaled(int64_t kc, int64_t nc, const float *b,
                                                 int64_t ldb, const float *row_scale, float *bp) {
  const int64_t nfull = nc / 16 * 16;
  const __m256i m0 = cnnrt_avx2_lane_mask(nc - nfull);
  const __m256i m1 = cnnrt_avx2_lane_mask(nc - nfull - 8);
  for (int64_t kk = 0; kk < kc; kk++) {
    const float *src = b + kk * ldb;
    float *dst = bp + kk * 16;
    if (row_scale != NULL) {
      const __m256 s = _mm256_set1_ps(row_scale[kk]);
      for (int64_t j = 0; j < nfull; j += 16) {
        _mm256_store_ps(dst + j * (kc + 1), _mm256_mul_ps(_mm256_loadu_ps(src + j), s));
        _mm256_store_ps(dst + j * (kc + 1) + 8, _mm256_mul_ps(_mm256_loadu_ps(src + j + 8), s));
      }
      if (nfull < nc) { /* padding lanes stay 0 even where s is not finite */
        const __m256 v0 = _mm256_mul_ps(_mm256_maskload_ps(src + nfull, m0), s);
        _mm256_store_ps(dst + nfull * (kc + 1), _mm256_and_ps(v0, _mm256_castsi256_ps(m0)));
        const __m256 v1 = _mm256_mul_ps(_mm256_maskload_ps(src + nfull + 8, m1), s);
        _mm256_store_ps(dst + nfull * (kc + 1) + 8, _mm256_and_ps(v1, _mm256_castsi256_ps(m1)));
      }
      continue;
    }
    for (int64_t j = 0; j < nfull; j += 16) {
      _mm256_store_ps(dst + j * (kc + 1), _mm256_loadu_ps(src + j));
      _mm256_store_ps(dst + j * (kc + 1) + 8, _mm256_loadu_ps(src + j + 8));
    }
    if (nfull < nc) { /* zero-filled edge panel: padding columns must not hold NaN/denormals */
      _mm256_store_ps(dst + nfull * (kc + 1), _mm256_maskload_ps(src + nfull, m0));
      _mm256_store_ps(dst + nfull * (kc + 1) + 8, nc - nfull > 8
                                                      ? _mm256_maskload_ps(src + nfull + 8, m1)
                                                      : _mm256_setzero_ps());
    }
  }
}

static inline void cnnrt_gemm_avx2_pack_b(int64_t kc, int64_t nc, const float *b, int64_t ldb,
                                          float *bp) {
  cnnrt_gemm_avx2_pack_b_scaled(kc, nc, b, ldb, NULL, bp);
}

/* Balanced split of [0, total) into n_tasks contiguous ranges whose bounds are multiples of 16
 * (whole microkernel panels), for threading over columns or output pixels. */
static inline void cnnrt_f32_gemm_avx2_split(int64_t total, int64_t task, int64_t n_tasks,
                                             int64_t *lo, int64_t *hi) {
  if (n_tasks < 1) {
    n_tasks = 1;
  }
  const int64_t panels = (total + 15) / 16;
  const int64_t a = 16 * (panels * task / n_tasks);
  const int64_t b = 16 * (panels * (task + 1) / n_tasks);
  *lo = a < total ? a : total;
  *hi = b < total ? b : total;
}

/* The next column range [*lo, *hi) of task `task`'s share of [0, total) as
 * cnnrt_f32_gemm_avx2_split gives it: the whole share without steal, else a column block
 * (CNNRT_GEMM_AVX2_NC) at a time, then blocks from the ends of the other shares
 * (cnnrt_steal_next). 0 when there is none left; `first` as for cnnrt_steal_next. */
static inline int cnnrt_f32_gemm_avx2_next_columns(cnnrt_steal *steal, int64_t total, int64_t task,
                                                   int64_t n_tasks, int first, int64_t *lo,
                                                   int64_t *hi) {
  int64_t p0, p1;
  if (!cnnrt_steal_next(steal, (total + 15) / 16, n_tasks, task, CNNRT_GEMM_AVX2_NC / 16, 0, first,
                        &p0, &p1)) {
    return 0;
  }
  *lo = 16 * p0;
  *hi = 16 * p1 < total ? 16 * p1 : total;
  return 1;
}

/* Rows of the unit the channel split hands out: two 6-row panels for the AVX-512 12x32 tile
 * (a task boundary inside a pair would run two half-empty tiles), one panel for AVX2. */
#if defined(CNNRT_GEMM_AVX512)
#define CNNRT_GEMM_AVX2_SPLIT_ROWS 12
#else
#define CNNRT_GEMM_AVX2_SPLIT_ROWS 6
#endif

/* Balanced split of the rows [0, m) into n_tasks contiguous ranges whose bounds are multiples of
 * CNNRT_GEMM_AVX2_SPLIT_ROWS (so each range starts on a packed A panel: panel r0 / 6 begins at
 * a_packed + r0 * k). */
static inline void cnnrt_f32_gemm_avx2_split_rows(int64_t m, int64_t task, int64_t n_tasks,
                                                  int64_t *lo, int64_t *hi) {
  if (n_tasks < 1) {
    n_tasks = 1;
  }
  const int64_t unit = CNNRT_GEMM_AVX2_SPLIT_ROWS;
  const int64_t units = (m + unit - 1) / unit;
  const int64_t a = unit * (units * task / n_tasks);
  const int64_t b = unit * (units * (task + 1) / n_tasks);
  *lo = a < m ? a : m;
  *hi = b < m ? b : m;
}

/* ---------------------------------------------------------------------------------------------
 * GEMM: C[m, n] = act(A * B + bias[row] + residual), A packed by cnnrt_f32_pack_a_mr6.
 * B row-major [k, n] with row stride ldb; C and residual row-major with row stride ldc.
 * bias [m] and residual may be NULL; residual may equal c (in-place), otherwise no aliasing.
 * act / alpha / beta: enum cnnrt_act and its parameters (as cnnrt_apply_act).
 * k == 0 gives act(bias + residual).
 * ------------------------------------------------------------------------------------------- */
static inline int64_t cnnrt_f32_gemm_packed_avx2_scratch_bytes(int64_t m, int64_t n, int64_t k) {
  (void)m;
  const int64_t nc = cnnrt_gemm_avx2_min(n, cnnrt_gemm_avx2_nc(n));
  return 64 + (cnnrt_gemm_avx2_kc(k) + 1) * ((nc + 15) / 16 * 16) * (int64_t)sizeof(float);
}

/* Columns [n0, n1) of C only (the rest untouched); scratch as for the whole GEMM. Ranges that
 * start on multiples of 16 (cnnrt_f32_gemm_avx2_split) keep the tiles full. */
/* b_row_scale [k] (NULL: none) scales row kk of B as it is packed (cnnrt_gemm_avx2_pack_b_scaled). */
static inline void cnnrt_f32_gemm_packed_avx2_range_scaled(
    int64_t m, int64_t n, int64_t k, const float *a_packed, const float *b, int64_t ldb,
    const float *b_row_scale, float *c, int64_t ldc, const float *bias, const float *residual,
    int64_t act, float alpha, float beta, int64_t n0, int64_t n1, void *scratch) {
  if (n0 < 0) {
    n0 = 0;
  }
  if (n1 > n) {
    n1 = n;
  }
  if (m <= 0 || n1 <= n0) {
    return;
  }
  float *bp = cnnrt_gemm_avx2_align(scratch);
  const int64_t kc_max = cnnrt_gemm_avx2_kc(k);
  cnnrt_gemm_avx2_epi e;
  e.act = act;
  e.alpha = alpha;
  e.beta = beta;
  const int64_t nc_blk = cnnrt_gemm_avx2_nc(n);
  for (int64_t j0 = n0; j0 < n1; j0 += nc_blk) {
    const int64_t nc = cnnrt_gemm_avx2_min(nc_blk, n1 - j0);
    int64_t k0 = 0;
    do { /* runs once with kc = 0 when k == 0: the epilogue alone */
      const int64_t kc = cnnrt_gemm_avx2_min(kc_max, k - k0);
      cnnrt_gemm_avx2_pack_b_scaled(kc, nc, b + k0 * ldb + j0, ldb,
                                    b_row_scale != NULL ? b_row_scale + k0 : NULL, bp);
      e.first = k0 == 0;
      e.last = k0 + kc >= k;
      cnnrt_gemm_avx2_macro(m, nc, kc, a_packed, k, k0, bp, c + j0, ldc, bias,
                            residual != NULL ? residual + j0 : NULL, &e);
      k0 += kc;
    } while (k0 < k);
  }
}

static inline void cnnrt_f32_gemm_packed_avx2_range(int64_t m, int64_t n, int64_t k,
                                                    const float *a_packed, const float *b,
                                                    int64_t ldb, float *c, int64_t ldc,
                                                    const float *bias, const float *residual,
                                                    int64_t act, float alpha, float beta,
                                                    int64_t n0, int64_t n1, void *scratch) {
  cnnrt_f32_gemm_packed_avx2_range_scaled(m, n, k, a_packed, b, ldb, NULL, c, ldc, bias, residual,
                                          act, alpha, beta, n0, n1, scratch);
}

static inline void cnnrt_f32_gemm_packed_avx2(int64_t m, int64_t n, int64_t k,
                                              const float *a_packed, const float *b, int64_t ldb,
                                              float *c, int64_t ldc, const float *bias,
                                              const float *residual, int64_t act, float alpha,
                                              float beta, void *scratch) {
  cnnrt_f32_gemm_packed_avx2_range(m, n, k, a_packed, b, ldb, c, ldc, bias, residual, act, alpha,
                                   beta, 0, n, scratch);
}

/* ---------------------------------------------------------------------------------------------
 * Convolution (group 1, 1 to 3 spatial axes, any stride / dilation / pads) as GEMM:
 *   y[b] (c_out x P) = act(W (c_out x c_in*kvol) * im2col(x[b]) (c_in*kvol x P) + bias + res)
 * with P the output pixels and im2col row kk = (ic, kd, kh, kw) in the weight's order.
 * A pointwise layer (kernel 1, stride 1, no pad) multiplies x[b] directly. Otherwise each
 * KC x NC block of im2col is packed straight from x: per 16-pixel panel and kernel tap, each
 * half-panel of 8 pixels is classified once (all padding / 8 consecutive inputs / every other
 * input of 16 (stride 2) / either with some lanes in the padding / anything else) and then
 * copied for every input channel of the block with one or two loads (plain or masked, stride 2
 * deinterleaved by two shuffles) or a gather, and one store.
 * Tried (session 7, commit cf71682 on branch s2conv): for 2-D stride 2 with output rows as wide
 * as half the input row (56 -> 28 with pad 1), splitting the block's input rows once into the 4
 * stride-2 phase planes so that every tap reads a stride-1 run (no gather, no deinterleave), and
 * with AVX-512 one masked 16-float load + full-line store per tap and channel where both
 * half-panels form one run. Packing is ~13% of resnet50's 3x3 s2 128->128 @56 layer (it
 * streams from L2/L3: the gathers are not what costs), and the split cost what it saved: the
 * same machine code with the two switched at run time, 1 thread, 21-31 alternating rounds,
 * 3x3 s2 128->128 @56 0.96-1.00x, 64->128 @56 0.98-1.02x, 256->256 @28 0.98-1.04x,
 * 512->512 @14 1.00-1.04x; 3x3 s1 1.00-1.06x. (Two separately compiled builds of this header
 * differ by 3-7% on identical code paths: compare variants within one binary.)
 * ------------------------------------------------------------------------------------------- */

/* Half-panel classes of the im2col packer. */
enum {
  CNNRT_IM2COL_ZERO = 0,   /* every lane reads padding (or is past the last pixel) */
  CNNRT_IM2COL_FULL = 1,   /* lanes read plane[base + 0..7] */
  CNNRT_IM2COL_MASKED = 2, /* lanes read plane[base + l] where mask, else 0 */
  CNNRT_IM2COL_GATHER = 3, /* lanes read plane[idx[l]] where mask, else 0 */
  CNNRT_IM2COL_FULL2 = 4,  /* lanes read plane[base + 2 l] */
  CNNRT_IM2COL_MASKED2 = 5 /* lanes read plane[base + 2 l] where valid, else 0; mask / idx hold
                              the load masks of plane[base + 0..7] / plane[base + 8..15] */
};

/* Lanes 0, 2, .., 14 of the 16 floats (lo, hi), in order: the stride-2 deinterleave. */
CNNRT_AVX2_INLINE __m256 cnnrt_avx2_even_lanes(__m256 lo, __m256 hi) {
  const __m256 t = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); /* 0 2 8 10 | 4 6 12 14 */
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The gather path indexes a channel plane with int32 offsets; planes and coordinates beyond this
 * bound use the scalar packer (tests lower it to cover that path). */
#ifndef CNNRT_CONV_AVX2_I32_LIMIT
#define CNNRT_CONV_AVX2_I32_LIMIT ((int64_t)1 << 30)
#endif

static inline int cnnrt_conv_avx2_fits_i32(const cnnrt_conv_geom *g) {
  const int64_t lim = CNNRT_CONV_AVX2_I32_LIMIT;
  if (g->in[0] * g->in[1] * g->in[2] >= lim) {
    return 0;
  }
  for (int a = 0; a < 3; a++) {
    const int64_t pad = g->pad[a] < 0 ? -g->pad[a] : g->pad[a];
    if (g->out[a] * g->s[a] + g->k[a] * g->d[a] + pad + g->in[a] >= lim) {
      return 0;
    }
  }
  return 1;
}

/* Per-tap table of one panel, in scratch: 2 half-panel entries per tap. */
typedef struct cnnrt_im2col_tab {
  int32_t *mode, *base; /* [2 * kvol] */
  int32_t *idx, *mask;  /* [2 * kvol][8], 32-byte aligned */
} cnnrt_im2col_tab;

/* Classifies the 16 pixels of one panel (cn valid, starting at output pixel q) for every tap.
 * Lane l reads input coordinate o[a] * s[a] - pad[a] + t[a] * d[a] on each axis. */
static inline void cnnrt_im2col_build_tab(const cnnrt_conv_geom *g, int64_t q, int64_t cn,
                                          const cnnrt_im2col_tab *tab) {
  /* Per lane: the input coordinate of tap 0 (invalid lanes far out of range). */
  int32_t base_c[3][16];
  int64_t o2 = q % g->out[2], o1 = q / g->out[2] % g->out[1], o0 = q / (g->out[1] * g->out[2]);
  for (int l = 0; l < 16; l++) {
    if (l < cn) {
      base_c[0][l] = (int32_t)(o0 * g->s[0] - g->pad[0]);
      base_c[1][l] = (int32_t)(o1 * g->s[1] - g->pad[1]);
      base_c[2][l] = (int32_t)(o2 * g->s[2] - g->pad[2]);
      if (++o2 == g->out[2]) {
        o2 = 0;
        if (++o1 == g->out[1]) {
          o1 = 0;
          o0++;
        }
      }
    } else {
      base_c[0][l] = base_c[1][l] = base_c[2][l] = -(int32_t)CNNRT_CONV_AVX2_I32_LIMIT;
    }
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i minus1 = _mm256_set1_epi32(-1);
  const __m256i n0 = _mm256_set1_epi32((int32_t)g->in[0]);
  const __m256i n1 = _mm256_set1_epi32((int32_t)g->in[1]);
  const __m256i n2 = _mm256_set1_epi32((int32_t)g->in[2]);
  const __m256i n12 = _mm256_set1_epi32((int32_t)(g->in[1] * g->in[2]));
  int64_t t = 0;
  for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
    for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
      for (int64_t k2 = 0; k2 < g->k[2]; k2++, t++) {
        const __m256i t0 = _mm256_set1_epi32((int32_t)(k0 * g->d[0]));
        const __m256i t1 = _mm256_set1_epi32((int32_t)(k1 * g->d[1]));
        const __m256i t2 = _mm256_set1_epi32((int32_t)(k2 * g->d[2]));
        for (int h = 0; h < 2; h++) {
          const int64_t e = 2 * t + h;
          const __m256i c0 =
              _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)&base_c[0][8 * h]), t0);
          const __m256i c1 =
              _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)&base_c[1][8 * h]), t1);
          const __m256i c2 =
              _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)&base_c[2][8 * h]), t2);
          __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(c0, minus1), _mm256_cmpgt_epi32(n0, c0));
          ok = _mm256_and_si256(
              ok, _mm256_and_si256(_mm256_cmpgt_epi32(c1, minus1), _mm256_cmpgt_epi32(n1, c1)));
          ok = _mm256_and_si256(
              ok, _mm256_and_si256(_mm256_cmpgt_epi32(c2, minus1), _mm256_cmpgt_epi32(n2, c2)));
          __m256i off = _mm256_add_epi32(
              _mm256_add_epi32(_mm256_mullo_epi32(c0, n12), _mm256_mullo_epi32(c1, n2)), c2);
          off = _mm256_and_si256(off, ok); /* invalid lanes index 0: harmless even unmasked */
          const int okbits = _mm256_movemask_ps(_mm256_castsi256_ps(ok));
          _mm256_store_si256((__m256i *)(tab->idx + 8 * e), off);
          _mm256_store_si256((__m256i *)(tab->mask + 8 * e), ok);
          if (okbits == 0) {
            tab->mode[e] = CNNRT_IM2COL_ZERO;
            tab->base[e] = 0;
            continue;
          }
          /* Consecutive if every valid lane l reads base + l, base from the first valid lane. */
          int first = 0;
          while (!((okbits >> first) & 1)) {
            first++;
          }
          const int32_t base = tab->idx[8 * e + first] - first;
          const __m256i want = _mm256_add_epi32(_mm256_set1_epi32(base), lane);
          const __m256i same =
              _mm256_or_si256(_mm256_cmpeq_epi32(off, want), _mm256_xor_si256(ok, minus1));
          const int contiguous = _mm256_movemask_ps(_mm256_castsi256_ps(same)) == 0xff;
          const int32_t base2 = tab->idx[8 * e + first] - 2 * first;
          const __m256i want2 =
              _mm256_add_epi32(_mm256_set1_epi32(base2), _mm256_add_epi32(lane, lane));
          const __m256i same2 =
              _mm256_or_si256(_mm256_cmpeq_epi32(off, want2), _mm256_xor_si256(ok, minus1));
          const int strided2 = _mm256_movemask_ps(_mm256_castsi256_ps(same2)) == 0xff;
          /* Every address a (masked) load covers must lie inside the plane, masked lanes
           * included, so that the pointer arithmetic stays inside x; otherwise gather, which
           * indexes valid lanes only. */
          const int64_t plane = g->in[0] * g->in[1] * g->in[2];
          if (contiguous && okbits == 0xff) {
            tab->mode[e] = CNNRT_IM2COL_FULL;
            tab->base[e] = base;
          } else if (contiguous && base >= 0 && base + 8 <= plane) {
            tab->mode[e] = CNNRT_IM2COL_MASKED;
            tab->base[e] = base;
          } else if (strided2 && base2 >= 0 && base2 + 16 <= plane) {
            tab->mode[e] = okbits == 0xff ? CNNRT_IM2COL_FULL2 : CNNRT_IM2COL_MASKED2;
            tab->base[e] = base2;
            /* Load masks: element 2 l of the 16 follows lane l's validity, odd elements off. */
            const __m256i even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
            const __m256i lo =
                _mm256_permutevar8x32_epi32(ok, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
            const __m256i hi =
                _mm256_permutevar8x32_epi32(ok, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
            _mm256_store_si256((__m256i *)(tab->mask + 8 * e), _mm256_and_si256(lo, even));
            _mm256_store_si256((__m256i *)(tab->idx + 8 * e), _mm256_and_si256(hi, even));
          } else {
            tab->mode[e] = CNNRT_IM2COL_GATHER;
            tab->base[e] = 0;
          }
        }
      }
    }
  }
}

/* Packs im2col rows [k0, k1) x output pixels [q0, q0 + nc) of image xb into 16-column panels. */
static inline void cnnrt_im2col_pack_avx2(const cnnrt_conv_geom *g, const float *xb, int64_t k0,
                                          int64_t k1, int64_t q0, int64_t nc,
                                          const cnnrt_im2col_tab *tab, float *bp) {
  const int64_t kvol = g->k[0] * g->k[1] * g->k[2];
  const int64_t plane = g->in[0] * g->in[1] * g->in[2];
  const int64_t kc = k1 - k0;
  const int64_t row_step = kvol * 16; /* floats between the rows of one tap in a panel */
  for (int64_t j = 0; j < nc; j += 16) {
    float *pan = bp + j * (kc + 1);
    cnnrt_im2col_build_tab(g, q0 + j, cnnrt_gemm_avx2_min(16, nc - j), tab);
    for (int64_t t = 0; t < kvol; t++) {
      /* Rows kk = ic * kvol + t inside [k0, k1). */
      const int64_t ic_lo = k0 - t <= 0 ? 0 : (k0 - t + kvol - 1) / kvol;
      const int64_t ic_hi = (k1 - 1 - t) < 0 ? -1 : (k1 - 1 - t) / kvol; /* inclusive */
      if (ic_lo > ic_hi) {
        continue;
      }
      const int64_t cnt = ic_hi - ic_lo + 1;
      for (int h = 0; h < 2; h++) {
        const int64_t e = 2 * t + h;
        float *dst = pan + (ic_lo * kvol + t - k0) * 16 + 8 * h;
        const float *src = xb + ic_lo * plane + tab->base[e];
        switch (tab->mode[e]) {
        case CNNRT_IM2COL_ZERO:
          for (int64_t i = 0; i < cnt; i++) {
            _mm256_store_ps(dst + i * row_step, _mm256_setzero_ps());
          }
          break;
        case CNNRT_IM2COL_FULL:
          for (int64_t i = 0; i < cnt; i++) {
            _mm256_store_ps(dst + i * row_step, _mm256_loadu_ps(src + i * plane));
          }
          break;
        case CNNRT_IM2COL_MASKED: {
          const __m256i msk = _mm256_load_si256((const __m256i *)(tab->mask + 8 * e));
          for (int64_t i = 0; i < cnt; i++) {
            _mm256_store_ps(dst + i * row_step, _mm256_maskload_ps(src + i * plane, msk));
          }
          break;
        }
        case CNNRT_IM2COL_FULL2:
          for (int64_t i = 0; i < cnt; i++) {
            const float *si = src + i * plane;
            _mm256_store_ps(dst + i * row_step,
                            cnnrt_avx2_even_lanes(_mm256_loadu_ps(si), _mm256_loadu_ps(si + 8)));
          }
          break;
        case CNNRT_IM2COL_MASKED2: {
          const __m256i mlo = _mm256_load_si256((const __m256i *)(tab->mask + 8 * e));
          const __m256i mhi = _mm256_load_si256((const __m256i *)(tab->idx + 8 * e));
          for (int64_t i = 0; i < cnt; i++) {
            const float *si = src + i * plane;
            _mm256_store_ps(dst + i * row_step,
                            cnnrt_avx2_even_lanes(_mm256_maskload_ps(si, mlo),
                                                  _mm256_maskload_ps(si + 8, mhi)));
          }
          break;
        }
        default: {
          const __m256i idx = _mm256_load_si256((const __m256i *)(tab->idx + 8 * e));
          const __m256 msk =
              _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)(tab->mask + 8 * e)));
          const float *p0 = xb + ic_lo * plane;
          for (int64_t i = 0; i < cnt; i++) {
            _mm256_store_ps(
                dst + i * row_step,
                _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p0 + i * plane, idx, msk, 4));
          }
          break;
        }
        }
      }
    }
  }
}

/* Scalar packer for tensors too large for int32 plane offsets: same layout, element by element. */
static inline void cnnrt_im2col_pack_scalar(const cnnrt_conv_geom *g, const float *xb, int64_t k0,
                                            int64_t k1, int64_t q0, int64_t nc, float *bp) {
  const int64_t kvol = g->k[0] * g->k[1] * g->k[2];
  const int64_t plane = g->in[0] * g->in[1] * g->in[2];
  const int64_t kc = k1 - k0;
  for (int64_t j = 0; j < (nc + 15) / 16 * 16; j++) {
    float *dst = bp + (j / 16) * (kc + 1) * 16 + j % 16;
    const int64_t q = q0 + j;
    const int64_t o2 = q % g->out[2], o1 = q / g->out[2] % g->out[1];
    const int64_t o0 = q / (g->out[1] * g->out[2]);
    for (int64_t kk = k0; kk < k1; kk++) {
      const int64_t ic = kk / kvol, t = kk % kvol;
      const int64_t t2 = t % g->k[2], t1 = t / g->k[2] % g->k[1], t0 = t / (g->k[1] * g->k[2]);
      const int64_t i0 = o0 * g->s[0] - g->pad[0] + t0 * g->d[0];
      const int64_t i1 = o1 * g->s[1] - g->pad[1] + t1 * g->d[1];
      const int64_t i2 = o2 * g->s[2] - g->pad[2] + t2 * g->d[2];
      float v = 0.0f;
      if (j < nc && i0 >= 0 && i0 < g->in[0] && i1 >= 0 && i1 < g->in[1] && i2 >= 0 &&
          i2 < g->in[2]) {
        v = xb[ic * plane + (i0 * g->in[1] + i1) * g->in[2] + i2];
      }
      dst[(kk - k0) * 16] = v;
    }
  }
}

static inline int cnnrt_conv_avx2_pointwise(const cnnrt_conv_geom *g) {
  return g->k[0] * g->k[1] * g->k[2] == 1 && g->in[0] == 1 && g->in[1] == 1 && g->out[0] == 1 &&
         g->out[1] == 1 && g->in[2] == g->out[2] && g->pad[2] == 0 && g->s[2] == 1;
}


/* A pointwise convolution of 1-pixel images (squeeze-excitation's two 1x1 convolutions after
 * the global average pool) is a matrix-vector product per image: the GEMM would run its 6x8
 * tile with one valid column in eight and apply the activation row by row. Here each 6-row
 * panel of the packed weights is streamed once against the image's channel vector x: per k step
 * one 8-float load of the panel (6 rows; the 2 extra lanes are the next step's, ignored, and the
 * last step's load is masked so nothing past the panel is read), one broadcast of x[kk] and one
 * FMA, four steps in flight. y gets act(W x + bias + residual) for the rows of panels
 * [panel0, panel1); residual may be y itself. */
static inline void cnnrt_f32_gemv_packed_a_avx2(int64_t m, int64_t k, const float *a_packed,
                                                const float *x, const float *bias,
                                                const float *residual, float *y, int64_t act,
                                                float alpha, float beta, int64_t panel0,
                                                int64_t panel1) {
  const __m256i six = cnnrt_avx2_lane_mask(6);
  for (int64_t pn = panel0; pn < panel1; pn++) {
    const float *a = a_packed + pn * 6 * k;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 5 <= k; kk += 4) { /* the 8-float loads end inside step kk + 4 */
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 6 * kk), _mm256_broadcast_ss(x + kk), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 6 * kk + 6), _mm256_broadcast_ss(x + kk + 1), s1);
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 6 * kk + 12), _mm256_broadcast_ss(x + kk + 2), s2);
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 6 * kk + 18), _mm256_broadcast_ss(x + kk + 3), s3);
    }
    for (; kk + 1 < k; kk++) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 6 * kk), _mm256_broadcast_ss(x + kk), s0);
    }
    if (kk < k) { /* the panel's last step: 6 floats only */
      s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + 6 * kk, six), _mm256_broadcast_ss(x + kk), s1);
    }
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    const int64_t rows = cnnrt_gemm_avx2_min(6, m - 6 * pn);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t i = 6 * pn + r;
      float t = v[r];
      if (bias != NULL) {
        t += bias[i];
      }
      if (residual != NULL) {
        t += residual[i];
      }
      y[i] = t;
    }
  }
  const int64_t i0 = 6 * panel0, i1 = cnnrt_gemm_avx2_min(m, 6 * panel1);
  if (i1 > i0) {
    cnnrt_f32_act_avx2(act, alpha, beta, i1 - i0, y + i0, y + i0);
  }
}

/* Output pixels [lo, hi) of the flattened (batch, pixel) range and output channels [r0, r1)
 * (r0 a multiple of 6: the task's rows start on a packed A panel), with scratch of
 * cnnrt_f32_conv_gemm_avx2_scratch_bytes(p) bytes. x [n, c_in, in...], w_packed =
 * cnnrt_f32_pack_a_mr6(c_out, c_in * kvol, w), bias [c_out] or NULL, residual (shape of y) or
 * NULL and may be y itself; y must not alias x. Requires p->group == 1. The building block of
 * both task splits (cnnrt_f32_conv_gemm_avx2_range_split) and of the grouped convolution. */
static inline void cnnrt_f32_conv_gemm_avx2_block(const cnnrt_conv_params *p, const float *x,
                                                  const float *in_scale, const float *w_packed,
                                                  const float *bias, const float *residual,
                                                  float *y, void *scratch, int64_t lo, int64_t hi,
                                                  int64_t r0, int64_t r1) {
  CNNRT_ASSERT(p->group == 1);
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t k = p->c_in * kvol;
  const int64_t m = p->c_out;
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t P = g.out[0] * g.out[1] * g.out[2];
  const int pointwise = cnnrt_conv_avx2_pointwise(&g);
  CNNRT_ASSERT(in_scale == NULL || (pointwise && P > 1));
  if (r1 <= r0 || lo >= hi) {
    return;
  }
  /* From here on the task's rows are a GEMM of their own: A from panel r0 / 6 (r0 is a
   * multiple of 6), C, bias and residual from row r0. */
  const int64_t rows = r1 - r0;
  const float *a_rows = w_packed + r0 * k;
  const float *bias_rows = bias != NULL ? bias + r0 : NULL;
  const int vec_pack = cnnrt_conv_avx2_fits_i32(&g);
  const int64_t kc_max = cnnrt_gemm_avx2_kc(k);
  const int64_t nc_blk = cnnrt_gemm_avx2_nc(P);
  const int64_t nc_max = cnnrt_gemm_avx2_min(P, nc_blk);
  float *bp = cnnrt_gemm_avx2_align(scratch);
  /* The tap table follows the B block (both multiples of 64 bytes apart from the start). */
  int32_t *tb = (int32_t *)(void *)(bp + (kc_max + 1) * ((nc_max + 15) / 16 * 16));
  cnnrt_im2col_tab tab;
  tab.idx = tb;
  tab.mask = tb + 16 * kvol;
  tab.mode = tb + 32 * kvol;
  tab.base = tb + 34 * kvol;
  cnnrt_gemm_avx2_epi e;
  e.act = p->act;
  e.alpha = p->alpha;
  e.beta = p->beta;
  for (int64_t b = lo / P; b * P < hi; b++) {
    const int64_t q0 = lo > b * P ? lo - b * P : 0;
    const int64_t q1 = hi < (b + 1) * P ? hi - b * P : P;
    const float *xb = x + b * p->c_in * in_plane;
    float *yb = y + (b * m + r0) * P;
    const float *rb = residual != NULL ? residual + (b * m + r0) * P : NULL;
    if (pointwise) {
      cnnrt_f32_gemm_packed_avx2_range_scaled(rows, P, k, a_rows, xb, P,
                                              in_scale != NULL ? in_scale + b * p->c_in : NULL,
                                              yb, P, bias_rows, rb, p->act, p->alpha, p->beta, q0,
                                              q1, scratch);
      continue;
    }
    for (int64_t j0 = q0; j0 < q1; j0 += nc_blk) {
      const int64_t nc = cnnrt_gemm_avx2_min(nc_blk, q1 - j0);
      int64_t k0 = 0;
      do {
        const int64_t kc = cnnrt_gemm_avx2_min(kc_max, k - k0);
        if (vec_pack) {
          cnnrt_im2col_pack_avx2(&g, xb, k0, k0 + kc, j0, nc, &tab, bp);
        } else {
          cnnrt_im2col_pack_scalar(&g, xb, k0, k0 + kc, j0, nc, bp);
        }
        e.first = k0 == 0;
        e.last = k0 + kc >= k;
        cnnrt_gemm_avx2_macro(rows, nc, kc, a_rows, k, k0, bp, yb + j0, P, bias_rows,
                              rb != NULL ? rb + j0 : NULL, &e);
        k0 += kc;
      } while (k0 < k);
    }
  }
}

/* Task `task` of n_tasks, split as by_channels says (cnnrt_conv_gemm_split_channels):
 *  - 0: output pixels [lo, hi) of the flattened (batch, pixel) range from
 *    cnnrt_f32_gemm_avx2_split(n * P, task, n_tasks), all output channels;
 *  - 1: output channels [r0, r1) from cnnrt_f32_gemm_avx2_split_rows(c_out, task, n_tasks), all
 *    pixels of every image (each task packs the im2col blocks itself).
 * Arguments as for cnnrt_f32_conv_gemm_avx2_block; in_scale [n, c_in] (NULL: none): input
 * channel ic of image b is read as float(x * in_scale[b * c_in + ic]), the squeeze-excitation
 * Mul fused into its consumer (compiler/passes/fuse.c). Only pointwise layers of more than one
 * pixel take a scale: their B is x itself, scaled row by row as it is packed. Either split writes
 * every element of y exactly once over all tasks. steal (NULL: none) is the layer's cnnrt_steal:
 * split by pixels, a task then goes on with column blocks from the ends of the other shares. */
static inline void cnnrt_f32_conv_gemm_avx2_range_split_scaled(
    const cnnrt_conv_params *p, const float *x, const float *in_scale, const float *w_packed,
    const float *bias, const float *residual, float *y, void *scratch, int64_t task,
    int64_t n_tasks, int by_channels, cnnrt_steal *steal) {
  CNNRT_ASSERT(p->group == 1);
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t k = p->c_in * g.k[0] * g.k[1] * g.k[2];
  const int64_t m = p->c_out;
  const int64_t P = g.out[0] * g.out[1] * g.out[2];
  CNNRT_ASSERT(in_scale == NULL || (cnnrt_conv_avx2_pointwise(&g) && P > 1));
  if (cnnrt_conv_avx2_pointwise(&g) && P == 1) {
    /* 1-pixel images: one GEMV per image, the tasks split the weight panels (every image), so
     * that both threads stream their own part of the weights. */
    const int64_t panels = (m + 5) / 6;
    const int64_t pa = panels * task / n_tasks, pb = panels * (task + 1) / n_tasks;
    for (int64_t b = 0; b < p->n; b++) {
      cnnrt_f32_gemv_packed_a_avx2(m, k, w_packed, x + b * p->c_in, bias,
                                   residual != NULL ? residual + b * m : NULL, y + b * m, p->act,
                                   p->alpha, p->beta, pa, pb);
    }
    return;
  }
  if (by_channels) {
    int64_t r0, r1;
    cnnrt_f32_gemm_avx2_split_rows(m, task, n_tasks, &r0, &r1);
    cnnrt_f32_conv_gemm_avx2_block(p, x, in_scale, w_packed, bias, residual, y, scratch, 0,
                                   p->n * P, r0, r1);
    return;
  }
  int64_t lo, hi; /* pieces of the (batch, pixel) range */
  for (int first = 1;
       cnnrt_f32_gemm_avx2_next_columns(steal, p->n * P, task, n_tasks, first, &lo, &hi);
       first = 0) {
    cnnrt_f32_conv_gemm_avx2_block(p, x, in_scale, w_packed, bias, residual, y, scratch, lo, hi, 0,
                                   m);
  }
}

static inline void cnnrt_f32_conv_gemm_avx2_range_split(const cnnrt_conv_params *p, const float *x,
                                                        const float *w_packed, const float *bias,
                                                        const float *residual, float *y,
                                                        void *scratch, int64_t task,
                                                        int64_t n_tasks, int by_channels,
                                                        cnnrt_steal *steal) {
  cnnrt_f32_conv_gemm_avx2_range_split_scaled(p, x, NULL, w_packed, bias, residual, y, scratch,
                                              task, n_tasks, by_channels, steal);
}

/* Task `task` of n_tasks with an input scale (as cnnrt_f32_conv_gemm_avx2_range_split_scaled),
 * split over channels or pixels as cnnrt_conv_gemm_split_channels chooses; steal (NULL: fixed
 * shares) is the state all tasks of the layer share. */
static inline void cnnrt_f32_conv_gemm_avx2_range_scaled(const cnnrt_conv_params *p, const float *x,
                                                         const float *in_scale,
                                                         const float *w_packed, const float *bias,
                                                         const float *residual, float *y,
                                                         void *scratch, int64_t task,
                                                         int64_t n_tasks, cnnrt_steal *steal) {
  cnnrt_f32_conv_gemm_avx2_range_split_scaled(p, x, in_scale, w_packed, bias, residual, y, scratch,
                                              task, n_tasks,
                                              cnnrt_conv_gemm_split_channels(p, n_tasks), steal);
}

/* Task `task` of n_tasks, split over channels or pixels as cnnrt_conv_gemm_split_channels
 * chooses for this shape and task count. */
static inline void cnnrt_f32_conv_gemm_avx2_range(const cnnrt_conv_params *p, const float *x,
                                                  const float *w_packed, const float *bias,
                                                  const float *residual, float *y, void *scratch,
                                                  int64_t task, int64_t n_tasks) {
  cnnrt_f32_conv_gemm_avx2_range_scaled(p, x, NULL, w_packed, bias, residual, y, scratch, task,
                                        n_tasks, NULL);
}

/* Grouped convolution (1 < group, not the depthwise kernel's case): one packed GEMM per group,
 * group g reading input channels [g * c_in / group, ...) and writing output channels
 * [g * c_out / group, ...). w_packed = cnnrt_f32_conv_grouped_pack_mr6(p, w): each group's
 * [c_out / group, c_in / group * kvol] weights in 6-row panels, group after group. The work is
 * the flattened (image, group, pixel) range, split into balanced 16-aligned task ranges, so
 * that both threads are busy even when one group's plane is small (7 x 7) and a task crosses
 * group boundaries. Scratch per task: cnnrt_f32_conv_grouped_avx2_scratch_bytes(p). steal (NULL:
 * none): the layer's cnnrt_steal, as for the pixel split of the ungrouped GEMM. */
static inline void cnnrt_f32_conv_grouped_gemm_avx2_range(const cnnrt_conv_params *p,
                                                          const float *x, const float *w_packed,
                                                          const float *bias, const float *residual,
                                                          float *y, void *scratch, int64_t task,
                                                          int64_t n_tasks, cnnrt_steal *steal) {
  const cnnrt_conv_params sp = cnnrt_conv_group_params(p);
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t P = g.out[0] * g.out[1] * g.out[2];
  const int64_t wg = cnnrt_f32_pack_a_mr6_bytes(sp.c_out, sp.c_in * g.k[0] * g.k[1] * g.k[2]) /
                     (int64_t)sizeof(float);
  int64_t lo, hi;
  for (int first = 1;
       cnnrt_f32_gemm_avx2_next_columns(steal, p->n * p->group * P, task, n_tasks, first, &lo, &hi);
       first = 0) {
    for (int64_t u = lo / P; u * P < hi; u++) { /* unit u: image u / group, group u % group */
      const int64_t b = u / p->group, grp = u % p->group;
      const int64_t q0 = lo > u * P ? lo - u * P : 0;
      const int64_t q1 = hi < (u + 1) * P ? hi - u * P : P;
      const int64_t yo = (b * p->c_out + grp * sp.c_out) * P;
      cnnrt_f32_conv_gemm_avx2_block(
          &sp, x + (b * p->c_in + grp * sp.c_in) * in_plane, NULL, w_packed + grp * wg,
          bias != NULL ? bias + grp * sp.c_out : NULL, residual != NULL ? residual + yo : NULL,
          y + yo, scratch, q0, q1, 0, sp.c_out);
    }
  }
}

static inline void cnnrt_f32_conv_gemm_avx2(const cnnrt_conv_params *p, const float *x,
                                            const float *w_packed, const float *bias,
                                            const float *residual, float *y, void *scratch) {
  cnnrt_f32_conv_gemm_avx2_range(p, x, w_packed, bias, residual, y, scratch, 0, 1);
}

#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_GEMM_AVX2_H */
