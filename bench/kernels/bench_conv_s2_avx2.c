/* bench_conv_s2_avx2.c — single-thread speed of the packed-GEMM convolution
 * (cnnrt_gemm_avx2.h) built two ways, on the stride-2 3x3 layers of ResNet-18/50 (and a few
 * stride-1 / 1x1 controls): "old" and "new" are the same header compiled with different
 * switches, e.g. the stride-2 phase window (CNNRT_CONV_PHASE_SPLIT) or the 16-float im2col
 * copies (CNNRT_IM2COL_PACK16) off in "old". Rounds alternate old and new, medians of thread
 * CPU time (the machine is shared); each run cycles through 4 input / output buffers.
 *
 * The two variants are two translation units of this file (static inline kernels: each unit
 * keeps its own copy), linked with a third that holds the driver:
 *   F="-std=c99 -O3 -march=native -Iruntime"
 *   gcc $F -DBENCH_VARIANT=old -DCNNRT_CONV_PHASE_SPLIT=0 -c bench/kernels/bench_conv_s2_avx2.c -o old.o
 *   gcc $F -DBENCH_VARIANT=new -c bench/kernels/bench_conv_s2_avx2.c -o new.o
 *   gcc $F bench/kernels/bench_conv_s2_avx2.c old.o new.o -o bs2 -lm
 *   ./bs2 [rounds] [name filter] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#include "cnnrt_gemm_avx2.h"

#if !(defined(__AVX2__) && defined(__FMA__))
#if !defined(BENCH_VARIANT)
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#endif
#elif defined(BENCH_VARIANT)

#define BENCH_CAT2(a, b) a##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)

int64_t BENCH_CAT(bench_scratch_, BENCH_VARIANT)(const cnnrt_conv_params *p);
void BENCH_CAT(bench_conv_, BENCH_VARIANT)(const cnnrt_conv_params *p, const float *x,
                                           const float *w_packed, const float *bias, float *y,
                                           void *scratch);

int64_t BENCH_CAT(bench_scratch_, BENCH_VARIANT)(const cnnrt_conv_params *p) {
  return cnnrt_f32_conv_gemm_avx2_scratch_bytes(p);
}

void BENCH_CAT(bench_conv_, BENCH_VARIANT)(const cnnrt_conv_params *p, const float *x,
                                           const float *w_packed, const float *bias, float *y,
                                           void *scratch) {
  cnnrt_f32_conv_gemm_avx2_range(p, x, w_packed, bias, NULL, y, scratch, 0, 1);
}

#else

int64_t bench_scratch_old(const cnnrt_conv_params *p);
int64_t bench_scratch_new(const cnnrt_conv_params *p);
void bench_conv_old(const cnnrt_conv_params *p, const float *x, const float *w_packed,
                    const float *bias, float *y, void *scratch);
void bench_conv_new(const cnnrt_conv_params *p, const float *x, const float *w_packed,
                    const float *bias, float *y, void *scratch);

typedef struct layer {
  const char *name;
  int64_t ci, co, hw, k, s; /* input plane hw x hw, kernel k x k, stride s, pad k / 2 */
} layer;

enum { NBUF = 4, MAX_ROUNDS = 64 };

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 15;
  const char *only = argc > 2 ? argv[2] : NULL;
  static const layer layers[] = {
      {"r50 l2.0 3x3 s2 128->128 @56", 128, 128, 56, 3, 2},
      {"r18 l2.0 3x3 s2 64->128 @56", 64, 128, 56, 3, 2},
      {"r50 l3.0 3x3 s2 256->256 @28", 256, 256, 28, 3, 2},
      {"r50 l4.0 3x3 s2 512->512 @14", 512, 512, 14, 3, 2},
      {"3x3 s1 64->64 @56", 64, 64, 56, 3, 1},
      {"3x3 s1 128->128 @28", 128, 128, 28, 3, 1},
      {"1x1 s1 256->64 @56", 256, 64, 56, 1, 1},
      {"1x1 s2 256->512 @56", 256, 512, 56, 1, 2},
  };
  printf("%-30s %9s %9s %8s\n", "layer", "old ms", "new ms", "old/new");
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
    p.act = CNNRT_ACT_RELU;
    const int64_t k = L->ci * L->k * L->k, plane = p.out[0] * p.out[1];
    float *x[NBUF], *y[NBUF];
    for (int i = 0; i < NBUF; i++) {
      x[i] = bench_rand_buf(L->ci * L->hw * L->hw, 1 + (uint32_t)i);
      y[i] = bench_rand_buf(L->co * plane, 10 + (uint32_t)i);
    }
    float *w = bench_rand_buf(L->co * k, 2), *b = bench_rand_buf(L->co, 3);
    float *w6 = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(L->co, k));
    cnnrt_f32_pack_a_mr6(L->co, k, w, w6);
    void *s_old = malloc((size_t)bench_scratch_old(&p));
    void *s_new = malloc((size_t)bench_scratch_new(&p));
    if (w6 == NULL || s_old == NULL || s_new == NULL) {
      fprintf(stderr, "out of memory\n");
      return 1;
    }
    const double flop = 2.0 * (double)k * (double)L->co * (double)plane;
    const int reps = (int)(1e8 / flop) + 1;
    const int nr = rounds < MAX_ROUNDS ? rounds : MAX_ROUNDS;
    double ts[2][MAX_ROUNDS];
    for (int rd = 0; rd < nr; rd++) {
      for (int v = 0; v < 2; v++) {
        const double t = bench_cpu_seconds();
        for (int i = 0; i < reps; i++) {
          if (v == 0) {
            bench_conv_old(&p, x[i % NBUF], w6, b, y[i % NBUF], s_old);
          } else {
            bench_conv_new(&p, x[i % NBUF], w6, b, y[i % NBUF], s_new);
          }
        }
        ts[v][rd] = (bench_cpu_seconds() - t) / reps;
      }
    }
    qsort(ts[0], (size_t)nr, sizeof(double), bench_cmp_double);
    qsort(ts[1], (size_t)nr, sizeof(double), bench_cmp_double);
    printf("%-30s %9.3f %9.3f %8.3f\n", L->name, ts[0][nr / 2] * 1e3, ts[1][nr / 2] * 1e3,
           ts[0][nr / 2] / ts[1][nr / 2]);
    for (int i = 0; i < NBUF; i++) {
      free(x[i]), free(y[i]);
    }
    free(w), free(b), free(w6), free(s_old), free(s_new);
  }
  return 0;
}
#endif
