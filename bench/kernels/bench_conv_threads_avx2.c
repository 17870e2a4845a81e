/* bench_conv_threads_avx2.c — two-thread scaling of the GEMM convolution
 * (cnnrt_f32_conv_gemm_avx2_range_split) on the resnet50 layers that run it: one task on the
 * calling thread, then two tasks on a cnnrt_threadpool split over output pixels and split over
 * output channels, alternating within each round. Prints each layer's best wall-clock time and
 * the two-thread speed-ups, and which split cnnrt_conv_gemm_split_channels picks.
 * The packed weights are used from several copies in turn (more than the L3 holds), so that
 * they come from memory as they do in a whole network.
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_conv_threads_avx2.c \
 *       -o bench_conv_threads_avx2 -lpthread -lm
 *   ./bench_conv_threads_avx2 [rounds]
 * Two figures per variant, each the best of all rounds: the wall clock, and the critical path
 * in thread CPU time (the longest task's CPU time; on a loaded machine this is what is left of
 * the split's cost when the time the threads spent descheduled is not counted). */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_gemm_avx2.h"
#include "cnnrt_threadpool.h"

#if !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

typedef struct layer_run {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *res;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride, n_tasks;
  int by_channels;
  double task_cpu[2]; /* thread CPU seconds of each task */
} layer_run;

static void layer_task(void *arg, int64_t t) {
  layer_run *r = (layer_run *)arg;
  const double t0 = bench_cpu_seconds();
  cnnrt_f32_conv_gemm_avx2_range_split(r->p, r->x, r->w, r->bias, r->res, r->y,
                                       r->scratch + t * r->scratch_stride, t, r->n_tasks,
                                       r->by_channels, NULL);
  r->task_cpu[t] = bench_cpu_seconds() - t0;
}

/* Enough copies of the weights to exceed a 32 MiB L3 (at least 2). */
static int copies_for(int64_t wbytes) {
  int64_t c = (48ll << 20) / (wbytes > 0 ? wbytes : 1) + 1;
  return (int)(c < 2 ? 2 : c > 64 ? 64 : c);
}

static void bench_layer(const cnnrt_parallel *par, int rounds, const char *name, int64_t c_in,
                        int64_t c_out, int64_t hw, int64_t kk, int64_t stride, int with_res) {
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
    p.out[a] = cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, hw, kk, stride, 1, kk / 2,
                                       kk / 2, &p.pad_begin[a]);
  }
  p.act = CNNRT_ACT_RELU;
  const int64_t P = p.out[0] * p.out[1], k = c_in * kk * kk;
  float *x = bench_rand_buf(c_in * hw * hw, 1u), *w = bench_rand_buf(c_out * k, 1u), *bias = bench_rand_buf(c_out, 1u), *y = bench_rand_buf(c_out * P, 1u);
  float *res = with_res ? bench_rand_buf(c_out * P, 1u) : NULL;
  const int64_t wbytes = cnnrt_f32_pack_a_mr6_bytes(c_out, k);
  const int copies = copies_for(wbytes);
  float *wp = malloc((size_t)(wbytes * copies));
  const int64_t stride_bytes = (cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p) + 63) / 64 * 64;
  unsigned char *s = malloc((size_t)(2 * stride_bytes));
  if (wp == NULL || s == NULL) {
    exit(1);
  }
  for (int i = 0; i < copies; i++) {
    cnnrt_f32_pack_a_mr6(c_out, k, w, wp + i * (wbytes / (int64_t)sizeof(float)));
  }
  /* variant 0: 1 task; 1: 2 tasks over pixels; 2: 2 tasks over channels. */
  double best[3] = {1e30, 1e30, 1e30}, best_cpu[3] = {1e30, 1e30, 1e30};
  int turn = 0;
  for (int r = 0; r < rounds; r++) {
    for (int v = 0; v < 3; v++) {
      const int reps = 20;
      double cpu = 0.0;
      double t0 = bench_wall_seconds();
      for (int i = 0; i < reps; i++) {
        layer_run run = {&p, x, wp + (turn++ % copies) * (wbytes / (int64_t)sizeof(float)),
                         bias, res, y, s, stride_bytes, v == 0 ? 1 : 2, v == 2, {0.0, 0.0}};
        if (v == 0) {
          layer_task(&run, 0);
        } else {
          cnnrt_parallel_for(par, layer_task, &run, 2);
        }
        cpu += run.task_cpu[0] > run.task_cpu[1] ? run.task_cpu[0] : run.task_cpu[1];
      }
      const double per = (bench_wall_seconds() - t0) / reps;
      if (per < best[v]) {
        best[v] = per;
      }
      if (cpu / reps < best_cpu[v]) {
        best_cpu[v] = cpu / reps;
      }
    }
  }
  const double gflop = 2.0 * (double)c_out * (double)P * (double)k * 1e-9;
  printf("%-26s %4.1f MB 1T %6.3f ms (%5.1f GF/s) | wall 2T pixels %4.2fx channels %4.2fx | "
         "cpu path 1T %6.3f ms, 2T pixels %4.2fx channels %4.2fx | rule: %s\n",
         name, (double)wbytes / 1e6, best[0] * 1e3, gflop / best[0], best[0] / best[1],
         best[0] / best[2], best_cpu[0] * 1e3, best_cpu[0] / best_cpu[1],
         best_cpu[0] / best_cpu[2], cnnrt_conv_gemm_split_channels(&p, 2) ? "channels" : "pixels");
  fflush(stdout);
  free(x);
  free(w);
  free(bias);
  free(y);
  free(res);
  free(wp);
  free(s);
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 10;
  cnnrt_threadpool pool;
  if (cnnrt_threadpool_start(&pool, 2) != 0) {
    return 1;
  }
  const cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
  /* The GEMM-path layers of resnet50 (torchvision), largest planes last. */
  bench_layer(&par, rounds, "3x3 512->512 7x7", 512, 512, 7, 3, 1, 0);
  bench_layer(&par, rounds, "3x3/2 512->512 14x14", 512, 512, 14, 3, 2, 0);
  bench_layer(&par, rounds, "1x1 2048->512 7x7", 2048, 512, 7, 1, 1, 0);
  bench_layer(&par, rounds, "1x1 512->2048 7x7 +res", 512, 2048, 7, 1, 1, 1);
  bench_layer(&par, rounds, "1x1/2 1024->2048 14x14", 1024, 2048, 14, 1, 2, 0);
  bench_layer(&par, rounds, "3x3 256->256 14x14", 256, 256, 14, 3, 1, 0);
  bench_layer(&par, rounds, "1x1 1024->256 14x14", 1024, 256, 14, 1, 1, 0);
  bench_layer(&par, rounds, "1x1 256->1024 14x14 +res", 256, 1024, 14, 1, 1, 1);
  bench_layer(&par, rounds, "1x1 1024->512 14x14", 1024, 512, 14, 1, 1, 0);
  bench_layer(&par, rounds, "3x3/2 256->256 28x28", 256, 256, 28, 3, 2, 0);
  bench_layer(&par, rounds, "1x1/2 512->1024 28x28", 512, 1024, 28, 1, 2, 0);
  bench_layer(&par, rounds, "1x1 512->128 28x28", 512, 128, 28, 1, 1, 0);
  bench_layer(&par, rounds, "1x1 128->512 28x28 +res", 128, 512, 28, 1, 1, 1);
  bench_layer(&par, rounds, "1x1 64->256 56x56 +res", 64, 256, 56, 1, 1, 1);
  cnnrt_threadpool_stop(&pool);
  return 0;
}
#endif
