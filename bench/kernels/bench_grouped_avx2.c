/* bench_grouped_avx2.c — grouped (not depthwise) 3x3 convolutions: the portable reference
 * cnnrt_f32_conv_ref (what they ran before; -O3 -march=native vectorises its pixel loops) vs one
 * packed GEMM per group (cnnrt_f32_conv_grouped_gemm_avx2_range), one thread, batch 1, bias +
 * ReLU. The layers: ResNeXt-50 32x4d's (4, 8, 16, 32 channels per group), RegNetX-400MF's
 * (16 channels per group), 1 to 6 channels per group and grouped 1x1 (ShuffleNet-like).
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_grouped_avx2.c -o /tmp/bench_grouped -lm
 *   /tmp/bench_grouped [rounds]
 *
 * Each layer is timed in alternating rounds (ref, gemm, ref, ...), each the best of 10
 * repetitions of thread CPU time; the figures are the median over the rounds.
 * GFLOP/s = 2 * MACs / time. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_conv.h"
#include "cnnrt_conv_packed.h"

#if defined(__AVX2__) && defined(__FMA__)

typedef struct layer {
  const char *name;
  int64_t groups, cig, cog, size, stride, k;
} layer;

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 5;
  static const layer layers[] = {
      {"resnext 32x4 @56", 32, 4, 4, 56, 1, 3},       {"resnext 32x4 @28 s2", 32, 4, 4, 28, 2, 3},
      {"resnext 32x4 @28", 32, 4, 4, 28, 1, 3},       {"resnext 32x8 @28", 32, 8, 8, 28, 1, 3},
      {"resnext 32x16 @14", 32, 16, 16, 14, 1, 3},    {"resnext 32x32 @7", 32, 32, 32, 7, 1, 3},
      {"regnet 16x16 @14 (g 16)", 16, 16, 16, 14, 1, 3},
      {"regnet 16x16 @7 (g 25)", 25, 16, 16, 7, 1, 3}, {"g 32 x6 @28", 32, 6, 6, 28, 1, 3},
      {"g 64 x3 @28", 64, 3, 3, 28, 1, 3},           {"g 64 x2 @28", 64, 2, 2, 28, 1, 3},
      {"g 64 x1->2 @28", 64, 1, 2, 28, 1, 3},         {"g 64 x1->4 @28", 64, 1, 4, 28, 1, 3},
      {"1x1 g 4 x4->6 @32", 4, 4, 6, 32, 1, 1},       {"1x1 g 8 x8 @28", 8, 8, 8, 28, 1, 1},
      {"1x1 g 3 x80 @28", 3, 80, 80, 28, 1, 1},
  };
  printf("%-26s %10s %10s %8s %8s %7s\n", "layer", "ref ms", "gemm ms", "ref GF", "gemm GF",
         "speedup");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    cnnrt_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = 2;
    p.n = 1;
    p.group = L->groups;
    p.c_in = L->groups * L->cig;
    p.c_out = L->groups * L->cog;
    for (int a = 0; a < 3; a++) {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    }
    for (int a = 0; a < 2; a++) {
      p.in[a] = L->size * L->stride;
      p.kernel[a] = L->k;
      p.stride[a] = L->stride;
      p.pad_begin[a] = L->k / 2;
      p.out[a] = (p.in[a] + 2 * (L->k / 2) - L->k) / L->stride + 1;
    }
    p.act = CNNRT_ACT_RELU;
    const int64_t plane = p.out[0] * p.out[1];
    float *x = bench_rand_buf(p.c_in * p.in[0] * p.in[1], 1u), *w = bench_rand_buf(p.c_out * L->cig * L->k * L->k, 1u);
    float *b = bench_rand_buf(p.c_out, 1u), *y = bench_rand_buf(p.c_out * plane, 1u);
    float *wp = malloc((size_t)cnnrt_f32_conv_grouped_pack_mr6_bytes(&p));
    cnnrt_f32_conv_grouped_pack_mr6(&p, w, wp);
    void *scratch = malloc((size_t)cnnrt_f32_conv_grouped_avx2_scratch_bytes(&p));
    double *t_ref = malloc(sizeof(double) * (size_t)rounds);
    double *t_gemm = malloc(sizeof(double) * (size_t)rounds);
    for (int r = 0; r < rounds; r++) {
      for (int v = 0; v < 2; v++) {
        double best = 1e30;
        for (int rep = 0; rep < 10; rep++) {
          const double t0 = bench_cpu_seconds();
          if (v == 0) {
            cnnrt_f32_conv_ref(&p, x, w, b, NULL, y);
          } else {
            cnnrt_f32_conv_grouped_gemm_avx2_range(&p, x, wp, b, NULL, y, scratch, 0, 1, NULL);
          }
          const double t = bench_cpu_seconds() - t0;
          best = t < best ? t : best;
        }
        (v == 0 ? t_ref : t_gemm)[r] = best;
      }
    }
    qsort(t_ref, (size_t)rounds, sizeof(double), bench_cmp_double);
    qsort(t_gemm, (size_t)rounds, sizeof(double), bench_cmp_double);
    const double tr = t_ref[rounds / 2], tg = t_gemm[rounds / 2];
    const double flop = 2.0 * (double)(p.c_out * plane * L->cig * L->k * L->k);
    printf("%-26s %10.3f %10.3f %8.1f %8.1f %6.2fx\n", L->name, tr * 1e3, tg * 1e3,
           flop / tr * 1e-9, flop / tg * 1e-9, tr / tg);
    free(x);
    free(w);
    free(b);
    free(y);
    free(wp);
    free(scratch);
    free(t_ref);
    free(t_gemm);
  }
  return 0;
}

#else
int main(void) {
  printf("needs AVX2 and FMA (-march=native on an AVX2 machine)\n");
  return 0;
}
#endif
