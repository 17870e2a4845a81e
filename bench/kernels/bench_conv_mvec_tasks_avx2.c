/* bench_conv_mvec_tasks_avx2.c — the output-channel-vectorised convolution
 * (runtime/cnnrt_conv_mvec.h) against the packed-GEMM convolution (cnnrt_gemm_avx2.h) on the
 * 28 x 28-output layers of ResNet-18/50 that CN_MVEC_MAX_PLANE_KXK (compiler/passes/schedule.c)
 * decides, with 1 task and with 2 tasks. The 2 tasks run one after the other on this thread and
 * the longer one's thread CPU time is the critical path: the mvec kernel's tasks each make their
 * own padded copy of the image, so its 2-task time is not half its 1-task time. Rounds alternate
 * the two kernels (each first in every other round), medians; 4 input / output buffers in turn.
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_conv_mvec_tasks_avx2.c \
 *       -o bmt -lm
 *   ./bmt [rounds] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} layer;

enum { NBUF = 4, REPS = 8, MAX_ROUNDS = 64 };

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 21;
  const int nr = rounds < 1 ? 1 : (rounds < MAX_ROUNDS ? rounds : MAX_ROUNDS);
  static const layer layers[] = {
      {"r50 l2.0 3x3 s2 128->128 @56", 128, 128, 56, 3, 2},
      {"r18 l2.0 3x3 s2 64->128 @56", 64, 128, 56, 3, 2},
      {"r50 l2 1x1 512->128 @28", 512, 128, 28, 1, 1},
      {"r50 l3.0 1x1 512->256 @28", 512, 256, 28, 1, 1},
  };
  printf("%-30s %8s %8s %9s | %8s %8s %9s  (ms; 2 tasks: critical path)\n", "layer",
         "gemm 1T", "mvec 1T", "mvec/gemm", "gemm 2T", "mvec 2T", "mvec/gemm");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
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
    p.act = CNNRT_ACT_RELU;
    const int64_t k = L->ci * L->k * L->k, plane = p.out[0] * p.out[1];
    float *x[NBUF], *y[NBUF];
    for (int i = 0; i < NBUF; i++) {
      x[i] = bench_rand_buf(L->ci * L->hw * L->hw, 1 + (uint32_t)i);
      y[i] = bench_rand_buf(L->co * plane, 10 + (uint32_t)i);
    }
    float *w = bench_rand_buf(L->co * k, 2), *b = bench_rand_buf(L->co, 3);
    float *w6 = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(L->co, k));
    float *w32 = malloc((size_t)cnnrt_f32_pack_a_mr_bytes(L->co, k, CNNRT_CONV_MVEC_MR));
    unsigned char *sg[2], *sm[2];
    for (int t = 0; t < 2; t++) {
      sg[t] = malloc((size_t)cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p));
      sm[t] = malloc((size_t)cnnrt_f32_conv_mvec_scratch_bytes(&p));
      if (sg[t] == NULL || sm[t] == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
      }
    }
    if (w6 == NULL || w32 == NULL) {
      fprintf(stderr, "out of memory\n");
      return 1;
    }
    cnnrt_f32_pack_a_mr6(L->co, k, w, w6);
    cnnrt_f32_pack_a_mr(L->co, k, CNNRT_CONV_MVEC_MR, w, w32);
    double one[2][MAX_ROUNDS], crit[2][MAX_ROUNDS];
    for (int rd = 0; rd < nr; rd++) {
      for (int vi = 0; vi < 2; vi++) {
        const int v = vi ^ (rd & 1); /* 0 gemm, 1 mvec */
        double t0 = bench_cpu_seconds();
        for (int i = 0; i < REPS; i++) {
          if (v == 0) {
            cnnrt_f32_conv_gemm_avx2_range(&p, x[i % NBUF], w6, b, NULL, y[i % NBUF], sg[0], 0, 1);
          } else {
            cnnrt_f32_conv_mvec_range(&p, x[i % NBUF], w32, b, NULL, y[i % NBUF], sm[0], 0, 1);
          }
        }
        one[v][rd] = (bench_cpu_seconds() - t0) / REPS;
        double tt[2] = {0.0, 0.0};
        for (int i = 0; i < REPS; i++) {
          for (int t = 0; t < 2; t++) {
            t0 = bench_cpu_seconds();
            if (v == 0) {
              cnnrt_f32_conv_gemm_avx2_range(&p, x[i % NBUF], w6, b, NULL, y[i % NBUF], sg[t], t,
                                             2);
            } else {
              cnnrt_f32_conv_mvec_range(&p, x[i % NBUF], w32, b, NULL, y[i % NBUF], sm[t], t, 2);
            }
            tt[t] += bench_cpu_seconds() - t0;
          }
        }
        crit[v][rd] = (tt[0] > tt[1] ? tt[0] : tt[1]) / REPS;
      }
    }
    for (int v = 0; v < 2; v++) {
      qsort(one[v], (size_t)nr, sizeof(double), bench_cmp_double);
      qsort(crit[v], (size_t)nr, sizeof(double), bench_cmp_double);
    }
    printf("%-30s %8.3f %8.3f %9.3f | %8.3f %8.3f %9.3f\n", L->name, one[0][nr / 2] * 1e3,
           one[1][nr / 2] * 1e3, one[0][nr / 2] / one[1][nr / 2], crit[0][nr / 2] * 1e3,
           crit[1][nr / 2] * 1e3, crit[0][nr / 2] / crit[1][nr / 2]);
    for (int i = 0; i < NBUF; i++) {
      free(x[i]), free(y[i]);
    }
    for (int t = 0; t < 2; t++) {
      free(sg[t]), free(sm[t]);
    }
    free(w), free(b), free(w6), free(w32);
  }
  return 0;
}
#endif
