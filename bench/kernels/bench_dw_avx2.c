/* bench_dw_avx2.c — AVX2 depthwise conv (cnnrt_dwconv_avx2.h) vs the portable reference on
 * MobileNetV2's depthwise layers, and the AVX2 activation kernels (cnnrt_act_avx2.h) vs scalar
 * libm loops.
 *
 *   gcc -std=c99 -O2 -mavx2 -mfma -Iruntime bench/kernels/bench_dw_avx2.c -o /tmp/bench_dw -lm
 *   (with -march=native on an AVX-512 machine every layer gets a second line: cnnrt_dwconv_avx512.h)
 *   /tmp/bench_dw            # all;  /tmp/bench_dw dw | act | s2 | c8   for one part
 *
 * Depthwise: batch 1, 3x3 pad 1 (plus two 5x5 layers of MobileNetV3 / EfficientNet shape),
 * ReLU6 (CLIP 0..6) epilogue, bias. GB/s counts the compulsory traffic (x + y + weights once),
 * GFLOP/s 2 * k * k multiply-adds per output. The working set of every layer fits in L2/L3, so
 * these are cache-resident speeds, as inside a network where the producer just wrote x.
 * Activations: elements per ns over an L1-resident array (4096 floats) and a DRAM-sized one
 * (16 Mi floats).
 * "s2" compares three ways of doing stride 2 for the 3x3 layers: the deinterleaved row buffer
 * the kernel uses, gathers (_mm256_i32gather_ps) and per-tap shuffles (two loads + vshufps),
 * the latter two on the interior only (a lower bound on their cost). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_act_avx2.h"
#include "cnnrt_conv.h"
#include "cnnrt_dwconv_avx2.h"
#include "cnnrt_dwconv_avx512.h"
#include "cnnrt_dwconv_c8_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

static volatile float sink;

/* Seconds per call: the best of 60 rounds of >= 0.3 ms of thread CPU time each. CPU time, short
 * rounds and the minimum make the number robust on a shared machine. */
#define TIME_IT(out_sec, STMT)                                                                    \
  do {                                                                                           \
    STMT;                                                                                        \
    double t0_ = bench_cpu_seconds();                                                                        \
    int64_t reps_ = 1;                                                                           \
    for (;;) {                                                                                   \
      t0_ = bench_cpu_seconds();                                                                             \
      for (int64_t r_ = 0; r_ < reps_; r_++) {                                                   \
        STMT;                                                                                    \
      }                                                                                          \
      if (bench_cpu_seconds() - t0_ > 0.0003) {                                                                \
        break;                                                                                   \
      }                                                                                          \
      reps_ *= 2;                                                                                \
    }                                                                                            \
    double best_ = 1e30;                                                                         \
    for (int round_ = 0; round_ < 60; round_++) {                                                 \
      t0_ = bench_cpu_seconds();                                                                             \
      for (int64_t r_ = 0; r_ < reps_; r_++) {                                                   \
        STMT;                                                                                    \
      }                                                                                          \
      const double dt_ = (bench_cpu_seconds() - t0_) / (double)reps_;                                        \
      best_ = dt_ < best_ ? dt_ : best_;                                                         \
    }                                                                                            \
    (out_sec) = best_;                                                                           \
  } while (0)

static float *rand_buf(int64_t n) {
  float *b = malloc((size_t)n * sizeof(float));
  if (b == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  uint32_t s = (uint32_t)n * 2654435761u + 1u;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    b[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
  }
  return b;
}

typedef struct layer {
  int64_t c, h, w, k, s;
} layer;

static cnnrt_conv_params layer_params(const layer *l) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = p.c_out = p.group = l->c;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = l->h;
  p.in[1] = l->w;
  p.kernel[0] = p.kernel[1] = l->k;
  p.stride[0] = p.stride[1] = l->s;
  p.pad_begin[0] = p.pad_begin[1] = l->k / 2;
  p.out[0] = (l->h + 2 * (l->k / 2) - l->k) / l->s + 1;
  p.out[1] = (l->w + 2 * (l->k / 2) - l->k) / l->s + 1;
  p.act = CNNRT_ACT_CLIP;
  p.alpha = 0.0f;
  p.beta = 6.0f;
  return p;
}

static const layer mbv2[] = {
    {32, 112, 112, 3, 1}, {96, 112, 112, 3, 2}, {144, 56, 56, 3, 1}, {144, 56, 56, 3, 2},
    {192, 28, 28, 3, 1},  {192, 28, 28, 3, 2},  {384, 14, 14, 3, 1}, {576, 14, 14, 3, 1},
    {576, 14, 14, 3, 2},  {960, 7, 7, 3, 1},    {72, 56, 56, 5, 2},  {240, 28, 28, 5, 1},
    {672, 14, 14, 5, 1},  {1152, 7, 7, 5, 1}, /* EfficientNet-B0 */
};

static void bench_dw(void) {
  printf("depthwise conv, batch 1, ReLU6 epilogue            reference            avx2        "
         "speedup\n");
  printf("%-28s %9s %8s %8s %8s %8s\n", "layer (c hxw kxk s)", "ref us", "avx2 us", "GB/s",
         "GFLOP/s", "x");
  double tot_ref = 0, tot_avx = 0;
  for (size_t i = 0; i < sizeof mbv2 / sizeof mbv2[0]; i++) {
    const layer *l = &mbv2[i];
    const cnnrt_conv_params p = layer_params(l);
    const int64_t nx = l->c * l->h * l->w, ny = l->c * p.out[0] * p.out[1];
    float *x = rand_buf(nx), *w = rand_buf(l->c * l->k * l->k), *b = rand_buf(l->c);
    float *y = rand_buf(ny);
    double t_ref, t_avx;
    TIME_IT(t_ref, cnnrt_f32_conv_ref(&p, x, w, b, NULL, y));
    TIME_IT(t_avx, cnnrt_f32_dwconv2d_avx2(&p, x, w, b, NULL, y));
    sink = y[ny / 2];
#if defined(CNNRT_DW_AVX512)
    double t_512;
    TIME_IT(t_512, cnnrt_f32_dwconv2d_avx512(&p, x, w, b, NULL, y));
    sink = y[ny / 2];
#endif
    const double bytes = 4.0 * (double)(nx + ny + l->c * l->k * l->k + l->c);
    const double flops = 2.0 * (double)ny * (double)(l->k * l->k);
    char name[64];
    snprintf(name, sizeof name, "%lld %lldx%lld %lldx%lld s%lld", (long long)l->c,
             (long long)l->h, (long long)l->w, (long long)l->k, (long long)l->k,
             (long long)l->s);
    printf("%-28s %9.1f %8.1f %8.1f %8.1f %8.2f   (ref %.1f GB/s %.1f GFLOP/s)\n", name,
           t_ref * 1e6, t_avx * 1e6, bytes / t_avx * 1e-9, flops / t_avx * 1e-9, t_ref / t_avx,
           bytes / t_ref * 1e-9, flops / t_ref * 1e-9);
#if defined(CNNRT_DW_AVX512)
    printf("%-28s %9s %8.1f %8.1f %8.1f %8.2f   (AVX-512 kernel; x: over avx2)\n", "", "",
           t_512 * 1e6, bytes / t_512 * 1e-9, flops / t_512 * 1e-9, t_avx / t_512);
#endif
    if (l->k == 3) {
      tot_ref += t_ref;
      tot_avx += t_avx;
    }
    free(x);
    free(w);
    free(b);
    free(y);
  }
  printf("3x3 layers once each: ref %.1f us, avx2 %.1f us (%.2fx)\n\n", tot_ref * 1e6,
         tot_avx * 1e6, tot_ref / tot_avx);
}

/* ---- stride-2 alternatives (interior only, for timing) ---------------------------------- */

/* 3x3 stride 2, pad 1: output columns [1, ow) whose taps are all inside the row, 8 per
 * vector, lanes read with a gather of stride-2 indices. Rows 1..oh-1. */
static void alt_s2_gather(const layer *l, const float *x, const float *w, const float *b,
                          float *y, int64_t oh, int64_t ow) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t c = 0; c < l->c; c++) {
    const float *xc = x + c * l->h * l->w;
    const float *wc = w + c * 9;
    float *yc = y + c * oh * ow;
    for (int64_t oy = 1; oy < oh; oy++) {
      const float *r0 = xc + (2 * oy - 1) * l->w;
      for (int64_t ox = 1; ox + 8 <= ow && 2 * (ox + 7) + 1 < l->w; ox += 8) {
        __m256 acc = _mm256_set1_ps(b[c]);
        for (int64_t i = 0; i < 3; i++) {
          for (int64_t j = 0; j < 3; j++) {
            const __m256 v = _mm256_i32gather_ps(r0 + i * l->w + 2 * ox - 1 + j, idx, 4);
            acc = _mm256_fmadd_ps(v, _mm256_broadcast_ss(wc + 3 * i + j), acc);
          }
        }
        acc = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), acc));
        _mm256_storeu_ps(yc + oy * ow + ox, acc);
      }
    }
  }
}

/* Same, lanes made with two loads and vshufps per tap; the lane order is permuted the same way
 * for every tap, so it is fixed once per output vector. */
static void alt_s2_shuffle(const layer *l, const float *x, const float *w, const float *b,
                           float *y, int64_t oh, int64_t ow) {
  for (int64_t c = 0; c < l->c; c++) {
    const float *xc = x + c * l->h * l->w;
    const float *wc = w + c * 9;
    float *yc = y + c * oh * ow;
    for (int64_t oy = 1; oy < oh; oy++) {
      const float *r0 = xc + (2 * oy - 1) * l->w;
      for (int64_t ox = 1; ox + 8 <= ow && 2 * ox - 1 + 18 <= l->w; ox += 8) {
        __m256 acc = _mm256_set1_ps(b[c]);
        for (int64_t i = 0; i < 3; i++) {
          const float *s = r0 + i * l->w + 2 * ox - 1;
          const __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + 8);
          const __m256 c0 = _mm256_loadu_ps(s + 2), c1 = _mm256_loadu_ps(s + 10);
          const __m256 e0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
          const __m256 o0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
          const __m256 e2 = _mm256_shuffle_ps(c0, c1, _MM_SHUFFLE(2, 0, 2, 0));
          acc = _mm256_fmadd_ps(e0, _mm256_broadcast_ss(wc + 3 * i), acc);
          acc = _mm256_fmadd_ps(o0, _mm256_broadcast_ss(wc + 3 * i + 1), acc);
          acc = _mm256_fmadd_ps(e2, _mm256_broadcast_ss(wc + 3 * i + 2), acc);
        }
        acc = _mm256_castpd_ps(
            _mm256_permute4x64_pd(_mm256_castps_pd(acc), _MM_SHUFFLE(3, 1, 2, 0)));
        acc = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), acc));
        _mm256_storeu_ps(yc + oy * ow + ox, acc);
      }
    }
  }
}

static void bench_s2(void) {
  printf("stride 2, 3x3: row buffer (full layer) vs gathers / per-tap shuffles (interior only)\n");
  printf("%-28s %10s %10s %10s\n", "layer", "buffer us", "gather us", "shuffle us");
  for (size_t i = 0; i < sizeof mbv2 / sizeof mbv2[0]; i++) {
    const layer *l = &mbv2[i];
    if (l->s != 2 || l->k != 3) {
      continue;
    }
    const cnnrt_conv_params p = layer_params(l);
    const int64_t nx = l->c * l->h * l->w, ny = l->c * p.out[0] * p.out[1];
    float *x = rand_buf(nx), *w = rand_buf(l->c * 9), *b = rand_buf(l->c);
    float *y0 = rand_buf(ny), *y1 = rand_buf(ny), *y2 = rand_buf(ny);
    double t0, t1, t2;
    TIME_IT(t0, cnnrt_f32_dwconv2d_avx2(&p, x, w, b, NULL, y0));
    TIME_IT(t1, alt_s2_gather(l, x, w, b, y1, p.out[0], p.out[1]));
    TIME_IT(t2, alt_s2_shuffle(l, x, w, b, y2, p.out[0], p.out[1]));
    /* the alternatives must agree with the kernel where they wrote */
    int64_t diffs = 0;
    for (int64_t k = 0; k < ny; k++) {
      const int64_t ox = k % p.out[1], oy = (k / p.out[1]) % p.out[0];
      if (oy >= 1 && ox >= 1 && ox < 1 + 8 * ((p.out[1] - 1) / 8)) {
        diffs += fabsf(y1[k] - y0[k]) > 1e-4f || fabsf(y2[k] - y0[k]) > 1e-4f;
      }
    }
    char name[64];
    snprintf(name, sizeof name, "%lld %lldx%lld s2", (long long)l->c, (long long)l->h,
             (long long)l->w);
    printf("%-28s %10.1f %10.1f %10.1f%s\n", name, t0 * 1e6, t1 * 1e6, t2 * 1e6,
           diffs ? "  MISMATCH" : "");
    free(x);
    free(w);
    free(b);
    free(y0);
    free(y1);
    free(y2);
  }
  printf("\n");
}

/* ---- activations ---------------------------------------------------------------------- */

static double gelu_scalar(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }

#define SCALAR_LOOP(name, EXPR)                                                                    \
  static void name(int64_t n, const float *x, float *y) {                                        \
    for (int64_t i = 0; i < n; i++) {                                                            \
      const float v = x[i];                                                                      \
      y[i] = (float)(EXPR);                                                                      \
    }                                                                                            \
  }
SCALAR_LOOP(s_relu, v < 0.0f ? 0.0f : v)
SCALAR_LOOP(s_exp, expf(v))
SCALAR_LOOP(s_sigmoid, cnnrt_sigmoidf(v))
SCALAR_LOOP(s_tanh, tanhf(v))
SCALAR_LOOP(s_erf, erff(v))
SCALAR_LOOP(s_gelu, gelu_scalar(v))
SCALAR_LOOP(s_silu, v * cnnrt_sigmoidf(v))
SCALAR_LOOP(s_mish, v * tanhf(log1pf(expf(v))))
SCALAR_LOOP(s_hard_swish, cnnrt_apply_act(CNNRT_ACT_HARD_SWISH, 0.0f, 0.0f, v))

typedef void (*array_fn)(int64_t, const float *, float *);

static void bench_act(void) {
  const struct {
    const char *name;
    array_fn vec, ref;
  } ops[] = {
      {"relu", cnnrt_f32_relu_avx2, s_relu},       {"exp", cnnrt_f32_exp_avx2, s_exp},
      {"sigmoid", cnnrt_f32_sigmoid_avx2, s_sigmoid}, {"tanh", cnnrt_f32_tanh_avx2, s_tanh},
      {"erf", cnnrt_f32_erf_avx2, s_erf},          {"gelu", cnnrt_f32_gelu_avx2, s_gelu},
      {"silu", cnnrt_f32_silu_avx2, s_silu},       {"mish", cnnrt_f32_mish_avx2, s_mish},
      {"hard_swish", cnnrt_f32_hard_swish_avx2, s_hard_swish},
  };
  const int64_t sizes[2] = {4096, 16 << 20};
  printf("activations, elements/ns (avx2 | scalar libm loop)\n");
  printf("%-12s %16s %16s\n", "op", "n=4096 (L1)", "n=16Mi (DRAM)");
  float *x = rand_buf(sizes[1]), *y = rand_buf(sizes[1]);
  for (int64_t i = 0; i < sizes[1]; i++) {
    x[i] *= 8.0f;
  }
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    double r[2][2];
    for (int s = 0; s < 2; s++) {
      TIME_IT(r[s][0], ops[k].vec(sizes[s], x, y));
      TIME_IT(r[s][1], ops[k].ref(sizes[s], x, y));
    }
    sink = y[7];
    printf("%-12s %7.2f | %6.3f %7.2f | %6.3f\n", ops[k].name, 1e-9 * sizes[0] / r[0][0],
           1e-9 * sizes[0] / r[0][1], 1e-9 * sizes[1] / r[1][0], 1e-9 * sizes[1] / r[1][1]);
  }
  /* softmax over rows of 1000 (classifier) and 64 */
  const int64_t lens[2] = {1000, 64};
  for (int s = 0; s < 2; s++) {
    const int64_t outer = 65536 / lens[s]; /* 256 KiB of input: L2-resident */
    double tv, tr;
    TIME_IT(tv, cnnrt_f32_softmax_avx2(outer, lens[s], x, y));
    TIME_IT(tr, for (int64_t o = 0; o < outer; o++) {
      const float *xr = x + o * lens[s];
      float *yr = y + o * lens[s];
      float mx = -INFINITY;
      for (int64_t a = 0; a < lens[s]; a++) {
        mx = xr[a] > mx ? xr[a] : mx;
      }
      double sum = 0.0;
      for (int64_t a = 0; a < lens[s]; a++) {
        yr[a] = expf(xr[a] - mx);
        sum += yr[a];
      }
      for (int64_t a = 0; a < lens[s]; a++) {
        yr[a] = (float)(yr[a] / sum);
      }
    });
    printf("softmax %4lld x %-4lld %7.2f | %6.3f\n", (long long)outer, (long long)lens[s],
           1e-9 * (double)(outer * lens[s]) / tv, 1e-9 * (double)(outer * lens[s]) / tr);
  }
  free(x);
  free(y);
  printf("\n");
}

/* ---- "c8" / "c16": channel-vectorised kernels vs the plane kernels ------------------------- */

/* Thread CPU seconds per call over `reps` calls of the channel kernel (chan) or of the plane
 * kernel the layer takes without it. */
typedef double (*dw_time_fn)(int chan, const cnnrt_conv_params *p, const float *x,
                             const float *w, const float *b, float *y, int64_t reps);

/* MobileNetV2 (ReLU6) and EfficientNet-B0 (SiLU) depthwise layers that the channel kernel takes
 * (`takes`): plane kernel against channel kernel, alternating in 41 rounds of >= 0.2 ms each;
 * medians of thread CPU time, and the median per-round ratio (plane / channel: > 1 means the
 * channel kernel is faster). */
static void bench_channel(const char *plane, const char *chan, dw_time_fn time_fn,
                          int (*takes)(const cnnrt_conv_params *p)) {
  static const layer ls[] = {
      {32, 112, 112, 3, 1}, {96, 112, 112, 3, 2}, {144, 56, 56, 3, 1}, {144, 56, 56, 3, 2},
      {192, 28, 28, 3, 1},  {192, 28, 28, 3, 2},  {384, 14, 14, 3, 1}, {576, 14, 14, 3, 1},
      {576, 14, 14, 3, 2},  {960, 7, 7, 3, 1},                           /* MobileNetV2 */
      {144, 56, 56, 5, 2},  {240, 28, 28, 5, 1},  {240, 28, 28, 3, 2},  {480, 14, 14, 3, 1},
      {480, 14, 14, 5, 1},  {672, 14, 14, 5, 1},  {672, 14, 14, 5, 2},  {1152, 7, 7, 5, 1},
      {1152, 7, 7, 3, 1}, /* EfficientNet-B0 (SiLU) */
  };
  printf("depthwise: %s vs channel-vectorised (%s), us per layer, thread CPU time\n", plane,
         chan);
  printf("%-34s %9s %9s %8s %8s\n", "layer (c hxw kxk s act)", "plane", chan, "GFLOP/s",
         "ratio");
  for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
    const layer *l = &ls[i];
    cnnrt_conv_params p = layer_params(l);
    const int silu = i >= 10;
    if (silu) {
      p.act = CNNRT_ACT_SILU;
    }
    if (!takes(&p)) {
      continue;
    }
    const int64_t nx = l->c * l->h * l->w, ny = l->c * p.out[0] * p.out[1];
    float *x = rand_buf(nx), *w = rand_buf(l->c * l->k * l->k), *b = rand_buf(l->c);
    float *y = rand_buf(ny);
    int64_t reps = 1;
    while (time_fn(0, &p, x, w, b, y, reps) * (double)reps < 2e-4) {
      reps *= 2;
    }
    enum { ROUNDS = 41 };
    double ta[ROUNDS], tb[ROUNDS], ratio[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
      ta[r] = time_fn(0, &p, x, w, b, y, reps);
      tb[r] = time_fn(1, &p, x, w, b, y, reps);
      ratio[r] = ta[r] / tb[r];
    }
    qsort(ta, ROUNDS, sizeof(double), bench_cmp_double);
    qsort(tb, ROUNDS, sizeof(double), bench_cmp_double);
    qsort(ratio, ROUNDS, sizeof(double), bench_cmp_double);
    sink = y[ny / 2];
    char name[64];
    snprintf(name, sizeof name, "%lld %lldx%lld %lldx%lld s%lld %s", (long long)l->c,
             (long long)l->h, (long long)l->w, (long long)l->k, (long long)l->k,
             (long long)l->s, silu ? "silu" : "relu6");
    const double flops = 2.0 * (double)ny * (double)(l->k * l->k);
    printf("%-34s %9.1f %9.1f %8.1f %8.2f  (plane %.1f GFLOP/s)\n", name, ta[ROUNDS / 2] * 1e6,
           tb[ROUNDS / 2] * 1e6, flops / tb[ROUNDS / 2] * 1e-9, ratio[ROUNDS / 2],
           flops / ta[ROUNDS / 2] * 1e-9);
    free(x);
    free(w);
    free(b);
    free(y);
  }
  printf("\n");
}

/* AVX2: cnnrt_f32_dwconv2d_c8_avx2_range_reduce against cnnrt_f32_dwconv2d_avx2_range_reduce. */
static double time_dw_c8(int chan, const cnnrt_conv_params *p, const float *x, const float *w,
                         const float *b, float *y, int64_t reps) {
  const double t0 = bench_cpu_seconds();
  for (int64_t r = 0; r < reps; r++) {
    if (chan) {
      cnnrt_f32_dwconv2d_c8_avx2_range_reduce(p, x, w, b, NULL, y, 0, p->c_out, NULL, NULL);
    } else {
      cnnrt_f32_dwconv2d_avx2_range_reduce(p, x, w, b, NULL, y, 0, p->c_out, NULL, NULL);
    }
  }
  return (bench_cpu_seconds() - t0) / (double)reps;
}

static int takes_c8(const cnnrt_conv_params *p) {
  cnnrt_dwc8_geom d;
  return cnnrt_dwc8_make_geom(p, &d);
}

#if defined(CNNRT_DW_AVX512)
/* AVX-512: cnnrt_f32_dwconv2d_c16_avx512_range_reduce against the plane kernel the layer takes
 * without it (cnnrt_f32_dwconv2d_plane_avx512_range_reduce: AVX-512 plane kernel, or the AVX2
 * one). */
static double time_dw_c16(int chan, const cnnrt_conv_params *p, const float *x, const float *w,
                          const float *b, float *y, int64_t reps) {
  const double t0 = bench_cpu_seconds();
  for (int64_t r = 0; r < reps; r++) {
    if (chan) {
      cnnrt_f32_dwconv2d_c16_avx512_range_reduce(p, x, w, b, NULL, y, 0, p->c_out, NULL, NULL);
    } else {
      cnnrt_f32_dwconv2d_plane_avx512_range_reduce(p, x, w, b, NULL, y, 0, p->c_out, NULL,
                                                   NULL);
    }
  }
  return (bench_cpu_seconds() - t0) / (double)reps;
}

static int takes_c16(const cnnrt_conv_params *p) {
  cnnrt_dwc16_geom d;
  return cnnrt_dwc16_make_geom(p, &d);
}
#endif

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  if (!strcmp(what, "all") || !strcmp(what, "dw")) {
    bench_dw();
  }
  if (!strcmp(what, "all") || !strcmp(what, "s2")) {
    bench_s2();
  }
  if (!strcmp(what, "all") || !strcmp(what, "act")) {
    bench_act();
  }
  if (!strcmp(what, "all") || !strcmp(what, "c8")) {
    bench_channel("AVX2 plane kernel", "c8", time_dw_c8, takes_c8);
  }
#if defined(CNNRT_DW_AVX512)
  if (!strcmp(what, "all") || !strcmp(what, "c16")) {
    bench_channel("plane kernel", "c16", time_dw_c16, takes_c16);
  }
#endif
  return 0;
}

#else

int main(void) {
  fprintf(stderr, "bench_dw_avx2 needs -mavx2 -mfma\n");
  return 1;
}

#endif
