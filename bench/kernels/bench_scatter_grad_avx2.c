/* bench_scatter_grad_avx2.c — single-thread speed of the AVX2 Resize and Gather gradients
 * (runtime/cnnrt_scatter_grad_avx2.h) and of the forward Resize (runtime/cnnrt_resize_avx2.h,
 * lines "fwd") against their scalar references, on decoder-like shapes
 * (64 channels, 56x56 inputs: nearest 2x, bilinear 2x in two coordinate modes, bilinear 1.7x,
 * a 0.5x downsampling, cubic 2x) and an embedding-like Gather (rows of 256 floats). Kernels
 * alternate round by round (the machine is shared): medians of the per-round ratios, thread
 * CPU time. Also prints the largest |avx2 - ref| / max|ref| per case.
 *
 *   gcc -std=c99 -O2 -march=native -Iruntime bench/kernels/bench_scatter_grad_avx2.c -o bs -lm
 *   ./bs */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_resize_avx2.h"
#include "cnnrt_scatter_grad_avx2.h"

#if !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

static double rel_err(const float *got, const float *want, int64_t n) {
  double m = 0.0, e = 0.0;
  for (int64_t i = 0; i < n; i++) {
    m = fmax(m, fabs((double)want[i]));
    e = fmax(e, fabs((double)got[i] - (double)want[i]));
  }
  return m > 0 ? e / m : e;
}

#define ROUNDS 9

static void bench_resize(const char *name, int64_t c, int64_t h, int64_t w, int64_t oh,
                         int64_t ow, int mode, int coord) {
  cnnrt_resize_params p;
  memset(&p, 0, sizeof p);
  p.rank = 4;
  for (int d = 0; d < CNNRT_MAX_RANK; d++) {
    p.in[d] = p.out[d] = 1;
    p.scale[d] = 1.0f;
    p.roi_end[d] = 1.0f;
  }
  p.in[1] = p.out[1] = c;
  p.in[2] = h;
  p.in[3] = w;
  p.out[2] = oh;
  p.out[3] = ow;
  p.scale[2] = cnnrt_resize_scale_from_size(h, oh);
  p.scale[3] = cnnrt_resize_scale_from_size(w, ow);
  p.from_sizes = 1;
  p.mode = mode;
  p.coord_mode = coord;
  p.cubic_a = -0.75f;
  const int64_t nx = c * h * w, ny = c * oh * ow;
  float *dy = bench_rand_buf(ny, 7), *ref = bench_rand_buf(nx, 1), *got = bench_rand_buf(nx, 2);
  double ratio[ROUNDS], tref = 1e30, tavx = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = bench_cpu_seconds();
    cnnrt_f32_resize_grad_ref(&p, dy, ref);
    double t1 = bench_cpu_seconds();
    cnnrt_f32_resize_grad_avx2(&p, dy, got, NULL);
    double t2 = bench_cpu_seconds();
    ratio[r] = (t1 - t0) / (t2 - t1);
    tref = fmin(tref, t1 - t0);
    tavx = fmin(tavx, t2 - t1);
  }
  qsort(ratio, ROUNDS, sizeof ratio[0], bench_cmp_double);
  printf("%-34s ref %8.3f ms  avx2 %7.3f ms  speedup %5.1fx  rel err %.2g\n", name, 1e3 * tref,
         1e3 * tavx, ratio[ROUNDS / 2], rel_err(got, ref, nx));
  /* The forward: dy's shape is the output's. */
  float *yref = bench_rand_buf(ny, 3), *ygot = bench_rand_buf(ny, 4);
  tref = tavx = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = bench_cpu_seconds();
    cnnrt_f32_resize_ref(&p, ref, yref);
    double t1 = bench_cpu_seconds();
    cnnrt_f32_resize_avx2(&p, ref, ygot, NULL);
    double t2 = bench_cpu_seconds();
    ratio[r] = (t1 - t0) / (t2 - t1);
    tref = fmin(tref, t1 - t0);
    tavx = fmin(tavx, t2 - t1);
  }
  qsort(ratio, ROUNDS, sizeof ratio[0], bench_cmp_double);
  printf("  fwd %-30s ref %8.3f ms  avx2 %7.3f ms  speedup %5.1fx  rel err %.2g\n", name,
         1e3 * tref, 1e3 * tavx, ratio[ROUNDS / 2], rel_err(ygot, yref, ny));
  free(yref);
  free(ygot);
  free(dy);
  free(ref);
  free(got);
}

static void bench_gather(const char *name, int64_t rows, int64_t n_idx, int64_t inner) {
  int64_t *idx = malloc((size_t)n_idx * sizeof *idx);
  uint32_t s = 3;
  for (int64_t k = 0; k < n_idx; k++) {
    s = s * 1664525u + 1013904223u;
    idx[k] = (int64_t)(s >> 8) % rows - (k % 3 == 0 ? rows : 0); /* some negative */
  }
  float *dy = bench_rand_buf(n_idx * inner, 5), *ref = bench_rand_buf(rows * inner, 1), *got = bench_rand_buf(rows * inner, 2);
  double ratio[ROUNDS], tref = 1e30, tavx = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = bench_cpu_seconds();
    cnnrt_f32_gather_grad_ref(1, rows, inner, idx, n_idx, 8, dy, ref);
    double t1 = bench_cpu_seconds();
    cnnrt_f32_gather_grad_avx2(1, rows, inner, idx, n_idx, 8, dy, got, NULL);
    double t2 = bench_cpu_seconds();
    ratio[r] = (t1 - t0) / (t2 - t1);
    tref = fmin(tref, t1 - t0);
    tavx = fmin(tavx, t2 - t1);
  }
  qsort(ratio, ROUNDS, sizeof ratio[0], bench_cmp_double);
  printf("%-34s ref %8.3f ms  avx2 %7.3f ms  speedup %5.1fx  %s\n", name, 1e3 * tref, 1e3 * tavx,
         ratio[ROUNDS / 2],
         memcmp(got, ref, (size_t)(rows * inner) * sizeof *got) ? "DIFFERS" : "bit-identical");
  free(idx);
  free(dy);
  free(ref);
  free(got);
}

int main(void) {
  bench_resize("nearest 2x 64x56x56", 64, 56, 56, 112, 112, CNNRT_RESIZE_NEAREST,
               CNNRT_RESIZE_ASYMMETRIC);
  bench_resize("bilinear 2x half_pixel 64x56x56", 64, 56, 56, 112, 112, CNNRT_RESIZE_LINEAR,
               CNNRT_RESIZE_HALF_PIXEL);
  bench_resize("bilinear 2x align_corners 64x56x56", 64, 56, 56, 112, 112, CNNRT_RESIZE_LINEAR,
               CNNRT_RESIZE_ALIGN_CORNERS);
  bench_resize("bilinear 1.7x 64x56x56", 64, 56, 56, 95, 95, CNNRT_RESIZE_LINEAR,
               CNNRT_RESIZE_PYTORCH_HALF_PIXEL);
  bench_resize("bilinear 0.5x 64x56x56", 64, 56, 56, 28, 28, CNNRT_RESIZE_LINEAR,
               CNNRT_RESIZE_HALF_PIXEL);
  bench_resize("nearest 3x 64x28x28", 64, 28, 28, 84, 84, CNNRT_RESIZE_NEAREST,
               CNNRT_RESIZE_ASYMMETRIC);
  bench_resize("cubic 2x 64x56x56", 64, 56, 56, 112, 112, CNNRT_RESIZE_CUBIC,
               CNNRT_RESIZE_HALF_PIXEL);
  bench_gather("gather 1000 rows x 256, 4096 idx", 1000, 4096, 256);
  bench_gather("gather 64 rows x 16, 20000 idx", 64, 20000, 16);
  return 0;
}

#endif
