/* bench_pool_avx2.c — forward MaxPool of the benchmark models (runtime/cnnrt_pool_avx2.h): the
 * per-output-row loop ("rows": every input row pooled along the last axis again for every
 * window it is in) vs what cnnrt_f32_pool_range_avx2 runs ("s2": the AVX-512 or AVX2 stride-2
 * path that pools each input row once per window and combines rows, on rows of >= 32 outputs;
 * -DCNNRT_POOL_AVX2_S2_MIN_OUT=1 sends narrower rows there too; 3x3 stride-2 windows without
 * padding, SqueezeNet's, take the 3x3/2 path, on AVX-512 builds too), vs the scalar reference;
 * one thread, batch 1, bit-identity of s2 checked.
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_pool_avx2.c -o /tmp/bench_pool -lm
 *   /tmp/bench_pool [rounds]
 *
 * Alternating rounds (rows, s2, ref, rows, ...), each the best of 20 repetitions of thread CPU
 * time; the figures are medians over the rounds. The input stays cache-resident between
 * repetitions (as inside a network, where the layer before just wrote it); the 8-plane line is
 * the ResNet shape with an L2-resident input. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_pool_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

typedef struct layer {
  const char *name;
  int64_t c, in, k, s, pad, ceil;
} layer;

static double best_of(int which, const cnnrt_pool_params *p, const float *x, float *y) {
  double best = 1e30;
  for (int rep = 0; rep < 20; rep++) {
    const double t0 = bench_cpu_seconds();
    if (which == 0) {
      cnnrt_f32_pool_range_avx2_rows_(p, 1, 0, p->c, x, y);
    } else if (which == 1) {
      cnnrt_f32_pool_range_avx2(p, 1, 0, p->c, x, y);
    } else {
      cnnrt_f32_maxpool_ref(p, x, y, NULL);
    }
    const double dt = bench_cpu_seconds() - t0;
    best = dt < best ? dt : best;
  }
  return best;
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 7;
  static const layer layers[] = {
      {"resnet maxpool 3x3 s2 p1 64@112", 64, 112, 3, 2, 1, 0},
      {"(L2-resident: 8 planes) 8@112", 8, 112, 3, 2, 1, 0},
      {"squeezenet maxpool 3x3 s2 ceil 64@111", 64, 111, 3, 2, 0, 1},
      {"squeezenet maxpool 3x3 s2 ceil 128@55", 128, 55, 3, 2, 0, 1},
      {"squeezenet maxpool 3x3 s2 ceil 256@27", 256, 27, 3, 2, 0, 1},
  };
  printf("%-40s %9s %9s %9s %7s\n", "layer", "rows ms", "s2 ms", "ref ms", "rows/s2");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *l = &layers[li];
    cnnrt_pool_params p;
    memset(&p, 0, sizeof p);
    p.spatial = 2;
    p.n = 1;
    p.c = l->c;
    for (int a = 0; a < 2; a++) {
      p.in[a] = l->in;
      p.kernel[a] = l->k;
      p.stride[a] = l->s;
      p.dilation[a] = 1;
      p.pad_begin[a] = p.pad_end[a] = l->pad;
      p.out[a] = cnnrt_pool_out_dim(l->in, l->k, l->s, 1, l->pad, l->pad, l->ceil);
    }
    p.in[2] = p.out[2] = p.kernel[2] = p.stride[2] = p.dilation[2] = 1;
    const int64_t nx = l->c * l->in * l->in, ny = l->c * p.out[0] * p.out[1];
    float *x = malloc(sizeof(float) * (size_t)nx);
    float *y0 = malloc(sizeof(float) * (size_t)ny), *y1 = malloc(sizeof(float) * (size_t)ny);
    uint32_t s = 12345u;
    for (int64_t i = 0; i < nx; i++) {
      s = s * 1664525u + 1013904223u;
      x[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
    double t[3][64];
    const int n = rounds < 64 ? rounds : 64;
    for (int r = 0; r < n; r++) {
      for (int w = 0; w < 3; w++) {
        t[w][r] = best_of(w, &p, x, w == 1 ? y1 : y0);
      }
    }
    for (int w = 0; w < 3; w++) {
      qsort(t[w], (size_t)n, sizeof(double), bench_cmp_double);
    }
    cnnrt_f32_maxpool_ref(&p, x, y0, NULL);
    cnnrt_f32_pool_range_avx2(&p, 1, 0, p.c, x, y1);
    printf("%-40s %9.4f %9.4f %9.4f %6.2fx  (%s)\n", l->name, 1e3 * t[0][n / 2],
           1e3 * t[1][n / 2], 1e3 * t[2][n / 2], t[0][n / 2] / t[1][n / 2],
           memcmp(y0, y1, sizeof(float) * (size_t)ny) == 0 ? "bit-identical" : "DIFFERS");
    free(x);
    free(y0);
    free(y1);
  }
  return 0;
}

#else
int main(void) {
  printf("needs AVX2 and FMA (-mavx2 -mfma or -march=native)\n");
  return 0;
}
#endif
