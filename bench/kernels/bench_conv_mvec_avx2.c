/* bench_conv_mvec_avx2.c — single-thread speed of the output-channel-vectorised convolution
 * (runtime/cnnrt_conv_mvec.h) against the packed-GEMM convolution (cnnrt_gemm_avx2.h) on the
 * small-plane layers of ResNet-50 / ResNet-18 (7x7 and 14x14 outputs) and a few larger planes
 * that decide the selection threshold, alternating the two kernels round by round (the machine
 * is shared: medians of the per-round times). Thread CPU time, so descheduling does not count.
 * Also prints the largest |mvec - gemm| / max|gemm| per layer (random inputs).
 *
 *   gcc -std=c99 -O2 -march=native -Iruntime bench/kernels/bench_conv_mvec_avx2.c -o bm -lm
 *   ./bm [rounds [name-substring]] */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_conv_mvec.h"
#include "cnnrt_gemm_avx2.h"

#if !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

typedef struct layer {
  const char *name;
  int64_t ci, co, hw, k, s; /* input plane hw x hw, kernel k x k, stride s, pad k / 2 */
  int act;                  /* fused activation */
} layer;

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 7;
  const char *only = argc > 2 ? argv[2] : ""; /* run the layers whose name contains this */
  static const layer layers[] = {
      {"r50 l4 1x1 2048->512", 2048, 512, 7, 1, 1, CNNRT_ACT_RELU},
      {"r50 l4 3x3 512->512", 512, 512, 7, 3, 1, CNNRT_ACT_RELU},
      {"r50 l4 1x1 512->2048", 512, 2048, 7, 1, 1, CNNRT_ACT_RELU},
      {"r50 l4 3x3 s2 512->512", 512, 512, 14, 3, 2, CNNRT_ACT_RELU},
      {"r50 l4 ds 1x1 s2 1024->2048", 1024, 2048, 14, 1, 2, CNNRT_ACT_RELU},
      {"r50 l3 1x1 1024->256", 1024, 256, 14, 1, 1, CNNRT_ACT_RELU},
      {"r50 l3 3x3 256->256", 256, 256, 14, 3, 1, CNNRT_ACT_RELU},
      {"r50 l3 1x1 256->1024", 256, 1024, 14, 1, 1, CNNRT_ACT_RELU},
      {"r50 l3 3x3 s2 256->256", 256, 256, 28, 3, 2, CNNRT_ACT_RELU},
      {"r18 l4 3x3 512->512", 512, 512, 7, 3, 1, CNNRT_ACT_RELU},
      {"r18 l3 3x3 256->256", 256, 256, 14, 3, 1, CNNRT_ACT_RELU},
      {"r50 l2 1x1 512->128 (28x28)", 512, 128, 28, 1, 1, CNNRT_ACT_RELU},
      {"r50 l2 1x1 128->512 (28x28)", 128, 512, 28, 1, 1, CNNRT_ACT_RELU},
      {"r18 l2 3x3 128->128 (28x28)", 128, 128, 28, 3, 1, CNNRT_ACT_RELU},
      {"r50 l2 3x3 s2 128->128 (28x28)", 128, 128, 56, 3, 2, CNNRT_ACT_RELU},
      {"r18 l2 3x3 s2 64->128 (28x28)", 64, 128, 56, 3, 2, CNNRT_ACT_RELU},
      /* MobileNetV2 / EfficientNet-B0 pointwise layers at 7x7 / 14x14 (K from 64 to 1152) */
      {"mbv2 1x1 960->320 @7", 960, 320, 7, 1, 1, CNNRT_ACT_NONE},
      {"mbv2 1x1 160->960 @7 clip", 160, 960, 7, 1, 1, CNNRT_ACT_CLIP},
      {"mbv2 1x1 320->1280 @7 clip", 320, 1280, 7, 1, 1, CNNRT_ACT_CLIP},
      {"mbv2 1x1 96->576 @14 clip", 96, 576, 14, 1, 1, CNNRT_ACT_CLIP},
      {"mbv2 1x1 576->96 @14", 576, 96, 14, 1, 1, CNNRT_ACT_NONE},
      {"mbv2 1x1 64->384 @14 clip", 64, 384, 14, 1, 1, CNNRT_ACT_CLIP},
      {"mbv2 1x1 384->64 @14", 384, 64, 14, 1, 1, CNNRT_ACT_NONE},
      {"mbv2 1x1 384->96 @14", 384, 96, 14, 1, 1, CNNRT_ACT_NONE},
      {"effb0 1x1 240->80 @14", 240, 80, 14, 1, 1, CNNRT_ACT_NONE},
      {"effb0 1x1 1152->192 @7", 1152, 192, 7, 1, 1, CNNRT_ACT_NONE},
      {"effb0 1x1 192->1152 @7 silu", 192, 1152, 7, 1, 1, CNNRT_ACT_SILU},
      {"effb0 1x1 672->192 @7", 672, 192, 7, 1, 1, CNNRT_ACT_NONE},
      {"effb0 1x1 112->672 @14 silu", 112, 672, 14, 1, 1, CNNRT_ACT_SILU},
      {"effb0 1x1 672->112 @14", 672, 112, 14, 1, 1, CNNRT_ACT_NONE},
      {"effb0 1x1 80->480 @14 silu", 80, 480, 14, 1, 1, CNNRT_ACT_SILU},
      {"sq1.1 1x1 512->1000 @13", 512, 1000, 13, 1, 1, CNNRT_ACT_RELU},
      {"sq1.1 1x1 512->64 @13", 512, 64, 13, 1, 1, CNNRT_ACT_RELU},
      {"sq1.1 1x1 384->64 @13", 384, 64, 13, 1, 1, CNNRT_ACT_RELU},
      {"sq1.1 1x1 384->48 @13", 384, 48, 13, 1, 1, CNNRT_ACT_RELU},
      {"sq1.1 1x1 256->48 @13", 256, 48, 13, 1, 1, CNNRT_ACT_RELU},
      {"sq1.1 3x3 48->192 @13", 48, 192, 13, 3, 1, CNNRT_ACT_RELU},
      {"sq1.1 3x3 64->256 @13", 64, 256, 13, 3, 1, CNNRT_ACT_RELU},
  };
  printf("%-30s %9s %9s %9s %8s %9s\n", "layer", "gemm GF/s", "mvec GF/s", "mvec/gemm", "K",
         "rel err");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    if (strstr(L->name, only) == NULL) {
      continue;
    }
    cnnrt_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = 2;
    p.n = 1;
    p.c_in = L->ci;
    p.c_out = L->co;
    p.group = 1;
    for (int a = 0; a < 3; a++) {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    }
    const int64_t pad = L->k / 2;
    p.in[0] = p.in[1] = L->hw;
    p.kernel[0] = p.kernel[1] = L->k;
    p.stride[0] = p.stride[1] = L->s;
    p.pad_begin[0] = p.pad_begin[1] = pad;
    p.out[0] = p.out[1] = (L->hw + 2 * pad - L->k) / L->s + 1;
    p.act = L->act;
    p.alpha = 0.0f; /* Clip's bounds (ReLU6) */
    p.beta = 6.0f;
    const int64_t k = L->ci * L->k * L->k, plane = p.out[0] * p.out[1];
    float *x = bench_rand_buf(L->ci * L->hw * L->hw, 1), *w = bench_rand_buf(L->co * k, 2), *b = bench_rand_buf(L->co, 3);
    float *y0 = bench_rand_buf(L->co * plane, 4), *y1 = bench_rand_buf(L->co * plane, 5);
    float *w6 = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(L->co, k));
    float *w32 = malloc((size_t)cnnrt_f32_pack_a_mr_bytes(L->co, k, CNNRT_CONV_MVEC_MR));
    cnnrt_f32_pack_a_mr6(L->co, k, w, w6);
    cnnrt_f32_pack_a_mr(L->co, k, CNNRT_CONV_MVEC_MR, w, w32);
    unsigned char *s0 = malloc((size_t)cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p));
    unsigned char *s1 = malloc((size_t)cnnrt_f32_conv_mvec_scratch_bytes(&p));
    const double flop = 2.0 * (double)k * (double)L->co * (double)plane;
    const int reps = (int)(2e8 / flop) + 1;
    double t0s[64], t1s[64];
    for (int r = 0; r < rounds && r < 64; r++) {
      double t = bench_cpu_seconds();
      for (int i = 0; i < reps; i++) {
        cnnrt_f32_conv_gemm_avx2_range(&p, x, w6, b, NULL, y0, s0, 0, 1);
      }
      t0s[r] = (bench_cpu_seconds() - t) / reps;
      t = bench_cpu_seconds();
      for (int i = 0; i < reps; i++) {
        cnnrt_f32_conv_mvec_range(&p, x, w32, b, NULL, y1, s1, 0, 1);
      }
      t1s[r] = (bench_cpu_seconds() - t) / reps;
    }
    qsort(t0s, (size_t)rounds, sizeof(double), bench_cmp_double);
    qsort(t1s, (size_t)rounds, sizeof(double), bench_cmp_double);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < L->co * plane; i++) {
      err = fmax(err, fabs((double)y1[i] - (double)y0[i]));
      ref = fmax(ref, fabs((double)y0[i]));
    }
    const double g0 = flop / t0s[rounds / 2] * 1e-9, g1 = flop / t1s[rounds / 2] * 1e-9;
    printf("%-30s %9.1f %9.1f %9.2f %8lld %9.1e\n", L->name, g0, g1, g1 / g0, (long long)k,
           err / ref);
    free(x), free(w), free(b), free(y0), free(y1), free(w6), free(w32), free(s0), free(s1);
  }
  return 0;
}
#endif
