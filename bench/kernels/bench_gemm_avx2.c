/* bench_gemm_avx2.c — single-thread throughput of cnnrt_gemm_avx2.h: the microkernel in L1, the
 * packed GEMM on conv-like shapes (n = 3136 = 56 * 56 pixels) and GEMM-based convolutions of
 * ResNet-50. Prints GFLOP/s and the share of the core's fp32 peak (default 116 GFLOP/s: 2 x
 * 256-bit FMA per cycle; override with the first argument, e.g. 223 for the AVX-512 peak of
 * this Zen 5). Built with AVX-512 (-march=native here) it times the 12x32 AVX-512 path, with
 * -DCNNRT_NO_AVX512 or -mavx2 -mfma the AVX2 path.
 *
 *   gcc -std=c99 -O2 -mavx2 -mfma -Iruntime bench/kernels/bench_gemm_avx2.c -o bench_gemm_avx2 -lm
 *   ./bench_gemm_avx2 [peak_gflops] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_gemm_avx2.h"

#if !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

/* Thread CPU time: the machine may be shared, and time spent descheduled is not ours. */
static double peak = 116.0;

static void report(const char *what, double flops, double secs) {
  const double gf = flops / secs * 1e-9;
  printf("%-44s %8.1f GFLOP/s  %5.1f%% of peak\n", what, gf, 100.0 * gf / peak);
}

/* Best of 20 runs, each repeating the call for at least 20 ms of CPU time (the best run is the
 * one least disturbed by other processes). */
#define TIME_BEST(best, call)                                                                      \
  do {                                                                                             \
    call;                                                                                          \
    best = 1e30;                                                                                   \
    for (int rep_ = 0; rep_ < 20; rep_++) {                                                        \
      int64_t iters_ = 0;                                                                          \
      const double t0_ = bench_cpu_seconds();                                                                    \
      double t1_;                                                                                  \
      do {                                                                                         \
        call;                                                                                      \
        iters_++;                                                                                  \
        t1_ = bench_cpu_seconds();                                                                               \
      } while (t1_ - t0_ < 0.02);                                                                  \
      const double per_ = (t1_ - t0_) / (double)iters_;                                            \
      if (per_ < best) {                                                                           \
        best = per_;                                                                               \
      }                                                                                            \
    }                                                                                              \
  } while (0)

static void bench_microkernel(void) {
  const int64_t kc = 256;
  float *a = bench_rand_buf(6 * kc, 1u), *b = bench_rand_buf(16 * kc, 1u), *c = bench_rand_buf(6 * 16, 1u);
  cnnrt_gemm_avx2_epi e = {CNNRT_ACT_NONE, 0.0f, 0.0f, 1, 1};
  double best;
  TIME_BEST(
      best, for (int r = 0; r < 1000;
                 r++) { cnnrt_f32_gemm_6x16_avx2(kc, a, b, c, 16, 6, 16, NULL, NULL, &e); });
  report("microkernel 6x16, kc 256, in L1", 1000.0 * 2.0 * 6 * 16 * (double)kc, best);
#if defined(CNNRT_GEMM_AVX512)
  {
    float *a2 = bench_rand_buf(12 * kc, 1u), *b2 = bench_rand_buf(32 * kc, 1u), *c2 = bench_rand_buf(12 * 32, 1u);
    TIME_BEST(best, for (int r = 0; r < 1000; r++) {
      cnnrt_f32_gemm_12x32_avx512(kc, a2, a2 + 6 * kc, b2, b2 + 16 * kc, c2, 32, 12, 32, NULL,
                                  NULL, &e);
    });
    report("microkernel 12x32 AVX-512, kc 256, in L1", 1000.0 * 2.0 * 12 * 32 * (double)kc, best);
    free(a2);
    free(b2);
    free(c2);
  }
#endif
  free(a);
  free(b);
  free(c);
}

static void bench_gemm(int64_t m, int64_t n, int64_t k) {
  float *a = bench_rand_buf(m * k, 1u), *b = bench_rand_buf(k * n, 1u), *c = bench_rand_buf(m * n, 1u), *bias = bench_rand_buf(m, 1u);
  float *ap = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(m, k));
  void *s = malloc((size_t)cnnrt_f32_gemm_packed_avx2_scratch_bytes(m, n, k));
  if (ap == NULL || s == NULL) {
    exit(1);
  }
  cnnrt_f32_pack_a_mr6(m, k, a, ap);
  double best;
  TIME_BEST(best, cnnrt_f32_gemm_packed_avx2(m, n, k, ap, b, n, c, n, bias, NULL, CNNRT_ACT_RELU,
                                             0.0f, 0.0f, s));
  char name[96];
  snprintf(name, sizeof name, "gemm m %4lld n %5lld k %4lld", (long long)m, (long long)n,
           (long long)k);
  report(name, 2.0 * (double)m * (double)n * (double)k, best);
  free(a);
  free(b);
  free(c);
  free(bias);
  free(ap);
  free(s);
}

/* copies > 1: that many copies of the packed weights, used in turn, so that (with enough of
 * them) the weights come from memory as in a whole network, not from the cache. */
static void bench_conv_copies(const char *name, int64_t c_in, int64_t c_out, int64_t hw,
                              int64_t kk, int64_t stride, int64_t pad, int with_res, int copies) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = c_in;
  p.c_out = c_out;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    p.pad_begin[a] = 0;
  }
  for (int a = 0; a < 2; a++) {
    p.in[a] = hw;
    p.kernel[a] = kk;
    p.stride[a] = stride;
    p.out[a] = cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, hw, kk, stride, 1, pad, pad,
                                       &p.pad_begin[a]);
  }
  p.act = CNNRT_ACT_RELU;
  const int64_t P = p.out[0] * p.out[1], k = c_in * kk * kk;
  float *x = bench_rand_buf(c_in * hw * hw, 1u), *w = bench_rand_buf(c_out * k, 1u), *bias = bench_rand_buf(c_out, 1u), *y = bench_rand_buf(c_out * P, 1u);
  float *res = with_res ? bench_rand_buf(c_out * P, 1u) : NULL;
  const int64_t wfloats = cnnrt_f32_pack_a_mr6_bytes(c_out, k) / (int64_t)sizeof(float);
  float *wp = malloc((size_t)(wfloats * copies) * sizeof(float));
  void *s = malloc((size_t)cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p));
  if (wp == NULL || s == NULL) {
    exit(1);
  }
  for (int i = 0; i < copies; i++) {
    cnnrt_f32_pack_a_mr6(c_out, k, w, wp + i * wfloats);
  }
  double best;
  int turn = 0;
  TIME_BEST(best, cnnrt_f32_conv_gemm_avx2(&p, x, wp + (turn++ % copies) * wfloats, bias, res,
                                           y, s));
  char full[128];
  snprintf(full, sizeof full, "conv %s%s (scratch %lld KiB)", name, copies > 1 ? " cold" : "",
           (long long)(cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p) / 1024));
  report(full, 2.0 * (double)c_out * (double)P * (double)k, best);
  free(x);
  free(w);
  free(bias);
  free(y);
  free(res);
  free(wp);
  free(s);
}

static void bench_conv(const char *name, int64_t c_in, int64_t c_out, int64_t hw, int64_t kk,
                       int64_t stride, int64_t pad, int with_res) {
  bench_conv_copies(name, c_in, c_out, hw, kk, stride, pad, with_res, 1);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    peak = atof(argv[1]);
  }
  printf("peak %.1f GFLOP/s, KC %d MC %d NC %d\n", peak, CNNRT_GEMM_AVX2_KC, CNNRT_GEMM_AVX2_MC,
         CNNRT_GEMM_AVX2_NC);
  bench_microkernel();
  const int64_t ms[] = {64, 128, 256, 512};
  const int64_t ks[] = {64, 147, 256, 576};
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 4; j++) {
      bench_gemm(ms[i], 3136, ks[j]);
    }
  }
  bench_conv("7x7/2 3->64 224x224", 3, 64, 224, 7, 2, 3, 0);
  bench_conv("3x3 64->64 56x56", 64, 64, 56, 3, 1, 1, 0);
  bench_conv("1x1 256->64 56x56", 256, 64, 56, 1, 1, 0, 0);
  bench_conv("1x1 64->256 56x56 +res", 64, 256, 56, 1, 1, 0, 1);
  bench_conv("3x3/2 128->128 56x56", 128, 128, 56, 3, 2, 1, 0);
  bench_conv("3x3 128->128 28x28", 128, 128, 28, 3, 1, 1, 0);
  bench_conv("1x1/2 256->512 56x56", 256, 512, 56, 1, 2, 0, 0);
  bench_conv("3x3 256->256 14x14", 256, 256, 14, 3, 1, 1, 0);
  bench_conv("3x3 512->512 7x7", 512, 512, 7, 3, 1, 1, 0);
  /* ResNet-50's stage 4 entry (stride 2 into 7x7) and its 7x7 1x1 layers */
  bench_conv("3x3/2 512->512 14x14", 512, 512, 14, 3, 2, 1, 0);
  bench_conv("1x1/2 1024->2048 14x14", 1024, 2048, 14, 1, 2, 0, 0);
  bench_conv("1x1 512->2048 7x7 +res", 512, 2048, 7, 1, 1, 0, 1);
  bench_conv("1x1 2048->512 7x7", 2048, 512, 7, 1, 1, 0, 0);
  /* the same with the weights from memory (12 copies: > 100 MiB) */
  bench_conv_copies("3x3 256->256 14x14", 256, 256, 14, 3, 1, 1, 0, 12);
  bench_conv_copies("3x3 512->512 7x7", 512, 512, 7, 3, 1, 1, 0, 12);
  bench_conv_copies("3x3/2 512->512 14x14", 512, 512, 14, 3, 2, 1, 0, 12);
  bench_conv_copies("1x1 2048->512 7x7", 2048, 512, 7, 1, 1, 0, 0, 12);
  return 0;
}

#endif
