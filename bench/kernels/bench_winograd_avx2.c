/* bench_winograd_avx2.c — single-thread speed of the Winograd F(4x4, 3x3) convolution
 * (runtime/cnnrt_winograd.h) against the packed-GEMM direct convolution (cnnrt_gemm_avx2.h) on
 * the 3x3 stride-1 layers of ResNet-18/50, SqueezeNet 1.1 and U-Net, alternating the two kernels
 * round by round (the machine is shared: medians of the per-round ratios). GFLOP/s are
 * direct-equivalent (2 * c_in * 9 * c_out * pixels), so Winograd can exceed the FMA peak.
 * Also prints the largest |winograd - direct| / max|direct| per layer (random inputs).
 *
 *   gcc -std=c99 -O2 -march=native -Iruntime bench/kernels/bench_winograd_avx2.c -o bw -lm
 *   ./bw [tile_block]      (tile_block: tiles per block, default as the compiler picks) */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_winograd.h"

#if !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

static int64_t forced_tb;

static void bench_layer(const char *name, int64_t c_in, int64_t c_out, int64_t hw) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = c_in;
  p.c_out = c_out;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = p.in[1] = p.out[0] = p.out[1] = hw;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  p.act = CNNRT_ACT_RELU;
  float *x = bench_rand_buf(c_in * hw * hw, 1), *w = bench_rand_buf(c_out * c_in * 9, 2), *bias = bench_rand_buf(c_out, 3);
  float *y0 = bench_rand_buf(c_out * hw * hw, 4), *y1 = bench_rand_buf(c_out * hw * hw, 5);
  float *wp = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(c_out, c_in * 9));
  float *wt = malloc((size_t)cnnrt_f32_winograd43_weights_bytes(c_out, c_in));
  cnnrt_f32_pack_a_mr6(c_out, c_in * 9, w, wp);
  cnnrt_f32_winograd43_pack_weights(c_out, c_in, w, wt);
  const int64_t tb = forced_tb > 0 ? forced_tb : cnnrt_winograd43_tile_block(&p);
  void *s0 = malloc((size_t)cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p));
  void *s1 = malloc((size_t)cnnrt_f32_conv_winograd43_scratch_bytes(&p, tb));
  const double flops = 2.0 * (double)c_in * 9 * (double)c_out * (double)(hw * hw);
  enum { ROUNDS = 15 };
  double td[ROUNDS], tw[ROUNDS], ratio[ROUNDS];
  cnnrt_f32_conv_gemm_avx2(&p, x, wp, bias, NULL, y0, s0);
  cnnrt_f32_conv_winograd43_avx2_range(&p, x, wt, bias, NULL, y1, tb, s1, 0, 1, NULL);
  double maxref = 0.0, maxerr = 0.0;
  for (int64_t i = 0; i < c_out * hw * hw; i++) {
    maxref = fmax(maxref, fabs((double)y0[i]));
    maxerr = fmax(maxerr, fabs((double)y0[i] - (double)y1[i]));
  }
  for (int r = 0; r < ROUNDS; r++) {
    int64_t it = 0;
    double t0 = bench_cpu_seconds(), t1;
    do {
      cnnrt_f32_conv_gemm_avx2(&p, x, wp, bias, NULL, y0, s0);
      it++;
    } while ((t1 = bench_cpu_seconds()) - t0 < 0.02);
    td[r] = (t1 - t0) / (double)it;
    it = 0;
    t0 = bench_cpu_seconds();
    do {
      cnnrt_f32_conv_winograd43_avx2_range(&p, x, wt, bias, NULL, y1, tb, s1, 0, 1, NULL);
      it++;
    } while ((t1 = bench_cpu_seconds()) - t0 < 0.02);
    tw[r] = (t1 - t0) / (double)it;
    ratio[r] = td[r] / tw[r];
  }
  qsort(td, ROUNDS, sizeof(double), bench_cmp_double);
  qsort(tw, ROUNDS, sizeof(double), bench_cmp_double);
  qsort(ratio, ROUNDS, sizeof(double), bench_cmp_double);
  printf("%-22s %4lld->%-4lld %3lldpx tb=%-4lld direct %6.1f  winograd %6.1f GFLOP/s  "
         "speedup %.2fx  err/max %.1e\n",
         name, (long long)c_in, (long long)c_out, (long long)hw, (long long)tb,
         flops / td[ROUNDS / 2] * 1e-9, flops / tw[ROUNDS / 2] * 1e-9, ratio[ROUNDS / 2],
         maxerr / maxref);
  free(x); free(w); free(bias); free(y0); free(y1); free(wp); free(wt); free(s0); free(s1);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    forced_tb = atoll(argv[1]);
  }
  bench_layer("resnet 56px", 64, 64, 56);
  bench_layer("resnet50 28px", 128, 128, 28);
  bench_layer("resnet50 14px", 256, 256, 14);
  bench_layer("resnet 7px", 512, 512, 7);
  bench_layer("resnet18 56px", 64, 64, 56);
  bench_layer("squeezenet 55px", 16, 64, 55);
  bench_layer("squeezenet 27px", 32, 128, 27);
  bench_layer("squeezenet 13px", 64, 256, 13);
  bench_layer("unet 64px", 64, 64, 64);
  bench_layer("unet 32px", 128, 128, 32);
  return 0;
}
#endif
