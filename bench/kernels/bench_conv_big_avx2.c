/* bench_conv_big_avx2.c — single-thread speed of the packed-GEMM convolution (cnnrt_gemm_avx2.h)
 * on the large-plane (>= 28 x 28) layers of ResNet-50, MobileNetV2 / EfficientNet-B0 and
 * SqueezeNet, with the residual (where the layer has one) in a buffer of its own ("sep") or the
 * output itself ("in place", what compiler/passes/schedule.c arranges when the convolution is
 * the residual's last reader). Rounds alternate the two, medians of the per-round times, thread
 * CPU time (the machine is shared). Each run cycles through 4 sets of input / output / residual
 * buffers, so that, as in a network, the planes do not stay in L1 / L2 from one run to the next.
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_conv_big_avx2.c -o bb -lm
 *   ./bb [rounds] [name filter] */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

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
  int64_t act;              /* enum cnnrt_act (clip: 0..6) */
  int res;                  /* adds a residual */
} layer;

enum { NBUF = 4, MAX_ROUNDS = 64 };

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 7;
  const char *only = argc > 2 ? argv[2] : NULL;
  static const layer layers[] = {
      {"r50 l1 1x1 64->256 +res", 64, 256, 56, 1, 1, CNNRT_ACT_RELU, 1},
      {"r50 l1 1x1 256->64", 256, 64, 56, 1, 1, CNNRT_ACT_RELU, 0},
      {"r50 l1 1x1 64->64", 64, 64, 56, 1, 1, CNNRT_ACT_RELU, 0},
      {"r50 l2 1x1 256->128 @56", 256, 128, 56, 1, 1, CNNRT_ACT_RELU, 0},
      {"r50 l2 ds 1x1 s2 256->512", 256, 512, 56, 1, 2, CNNRT_ACT_NONE, 0},
      {"r50 l2 1x1 128->512 +res", 128, 512, 28, 1, 1, CNNRT_ACT_RELU, 1},
      {"r50 l2 3x3 s2 128->128", 128, 128, 56, 3, 2, CNNRT_ACT_RELU, 0},
      {"r50 l3 1x1 256->1024 +res", 256, 1024, 14, 1, 1, CNNRT_ACT_RELU, 1},
      {"mb 1x1 16->96 @112 clip", 16, 96, 112, 1, 1, CNNRT_ACT_CLIP, 0},
      {"ef 1x1 16->96 @112 silu", 16, 96, 112, 1, 1, CNNRT_ACT_SILU, 0},
      {"mb 1x1 32->16 @112", 32, 16, 112, 1, 1, CNNRT_ACT_NONE, 0},
      {"mb 1x1 24->144 @56 clip", 24, 144, 56, 1, 1, CNNRT_ACT_CLIP, 0},
      {"mb 1x1 144->24 @56 +res", 144, 24, 56, 1, 1, CNNRT_ACT_NONE, 1},
      {"sq 1x1 64->16 @55", 64, 16, 55, 1, 1, CNNRT_ACT_RELU, 0},
      {"sq 1x1 16->64 @55", 16, 64, 55, 1, 1, CNNRT_ACT_RELU, 0},
      {"sq 3x3 16->64 @55", 16, 64, 55, 3, 1, CNNRT_ACT_RELU, 0},
      {"sq 3x3 32->128 @27", 32, 128, 27, 3, 1, CNNRT_ACT_RELU, 0},
  };
  printf("%-28s %9s %9s %8s %6s\n", "layer", "sep GF/s", "inpl GF/s", "inpl/sep", "K");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    if (only != NULL && strstr(L->name, only) == NULL) {
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
    p.alpha = 0.0f;
    p.beta = 6.0f;
    const int64_t k = L->ci * L->k * L->k, plane = p.out[0] * p.out[1];
    float *x[NBUF], *y[NBUF], *r[NBUF];
    for (int i = 0; i < NBUF; i++) {
      x[i] = bench_rand_buf(L->ci * L->hw * L->hw, 1 + (uint32_t)i);
      y[i] = bench_rand_buf(L->co * plane, 10 + (uint32_t)i);
      r[i] = L->res ? bench_rand_buf(L->co * plane, 20 + (uint32_t)i) : NULL;
    }
    float *w = bench_rand_buf(L->co * k, 2), *b = bench_rand_buf(L->co, 3);
    float *w6 = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(L->co, k));
    cnnrt_f32_pack_a_mr6(L->co, k, w, w6);
    unsigned char *s0 = malloc((size_t)cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p));
    const double flop = 2.0 * (double)k * (double)L->co * (double)plane;
    const int reps = (int)(1e8 / flop) + 1;
    const int nr = rounds < MAX_ROUNDS ? rounds : MAX_ROUNDS;
    double ts[2][MAX_ROUNDS];
    for (int rd = 0; rd < nr; rd++) {
      for (int v = 0; v < (L->res ? 2 : 1); v++) {
        const double t = bench_cpu_seconds();
        for (int i = 0; i < reps; i++) {
          const float *res = L->res ? (v == 0 ? r[i % NBUF] : y[i % NBUF]) : NULL;
          cnnrt_f32_conv_gemm_avx2_range(&p, x[i % NBUF], w6, b, res, y[i % NBUF], s0, 0, 1);
        }
        ts[v][rd] = (bench_cpu_seconds() - t) / reps;
      }
    }
    qsort(ts[0], (size_t)nr, sizeof(double), bench_cmp_double);
    const double g0 = flop / ts[0][nr / 2] * 1e-9;
    if (L->res) {
      qsort(ts[1], (size_t)nr, sizeof(double), bench_cmp_double);
      const double g1 = flop / ts[1][nr / 2] * 1e-9;
      printf("%-28s %9.1f %9.1f %8.2f %6lld\n", L->name, g0, g1, g1 / g0, (long long)k);
    } else {
      printf("%-28s %9.1f %9s %8s %6lld\n", L->name, g0, "-", "-", (long long)k);
    }
    for (int i = 0; i < NBUF; i++) {
      free(x[i]), free(y[i]), free(r[i]);
    }
    free(w), free(b), free(w6), free(s0);
  }
  return 0;
}
#endif
