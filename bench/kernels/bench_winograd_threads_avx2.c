/* bench_winograd_threads_avx2.c — the Winograd F(4x4, 3x3) convolution (runtime/cnnrt_winograd.h)
 * on ResNet's 56 x 56, 28 x 28 and 14 x 14 layers with one task on the calling thread and with two tasks
 * on a cnnrt_threadpool, wall clock, best of the rounds. The transformed weights U come from
 * memory, as in a whole network: copies of them (over 48 MB in all) are used in turn, and the
 * inputs / outputs cycle through 8 buffers.
 *
 * Two ways to build it:
 *   - one variant, the runtime in -I:
 *       gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_winograd_threads_avx2.c \
 *           -o bwt -lm -lpthread
 *   - two variants of the header alternating within every round in one binary (separately
 *     compiled programs differ by a few % on identical code):
 *       gcc -std=c99 -O3 -march=native -IOLD -DWINO_UNIT=wino_a -c THIS.c -o a.o
 *       gcc -std=c99 -O3 -march=native -Iruntime -DWINO_UNIT=wino_b -c THIS.c -o b.o
 *       gcc -std=c99 -O3 -march=native -Iruntime -DWINO_AB THIS.c a.o b.o -o bwt_ab -lm -lpthread
 *     (OLD: a copy of runtime/ with the other cnnrt_winograd.h); B/A is the ratio of times.
 *   ./bwt [rounds] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#include "cnnrt_winograd.h"

#define WINO_ARGS                                                                                  \
  const cnnrt_conv_params *p, const float *x, const float *wt, const float *bias, float *y,       \
      int64_t tb, void *scratch, int64_t task, int64_t n_tasks

#if defined(WINO_UNIT)
void WINO_UNIT(WINO_ARGS);
void WINO_UNIT(WINO_ARGS) {
  cnnrt_f32_conv_winograd43_avx2_range(p, x, wt, bias, NULL, y, tb, scratch, task, n_tasks, NULL);
}
#elif !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else
#include "cnnrt_threadpool.h"

typedef void (*wino_fn)(WINO_ARGS);
#if defined(WINO_AB)
void wino_a(WINO_ARGS);
void wino_b(WINO_ARGS);
#else
static void wino_a(WINO_ARGS) {
  cnnrt_f32_conv_winograd43_avx2_range(p, x, wt, bias, NULL, y, tb, scratch, task, n_tasks, NULL);
}
#define wino_b wino_a
#endif

typedef struct wino_run {
  wino_fn fn;
  const cnnrt_conv_params *p;
  const float *x, *wt, *bias;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride, tb, n_tasks;
} wino_run;

static void wino_task(void *arg, int64_t t) {
  const wino_run *r = (const wino_run *)arg;
  r->fn(r->p, r->x, r->wt, r->bias, r->y, r->tb, r->scratch + t * r->scratch_stride, t,
        r->n_tasks);
}

static void bench_layer(const cnnrt_parallel *par, int rounds, int64_t c, int64_t hw) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = p.c_out = c;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = p.in[1] = p.out[0] = p.out[1] = hw;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  p.act = CNNRT_ACT_RELU;
  enum { NBUF = 8 };
  float *x[NBUF], *y[NBUF];
  for (int i = 0; i < NBUF; i++) {
    x[i] = bench_rand_buf(c * hw * hw, (uint32_t)i + 1u);
    y[i] = bench_rand_buf(c * hw * hw, (uint32_t)i + 9u);
  }
  float *w = bench_rand_buf(c * c * 9, 2), *bias = bench_rand_buf(c, 3);
  const int64_t ubytes = cnnrt_f32_winograd43_weights_bytes(c, c);
  const int n_u = (int)((48ll << 20) / ubytes) + 2;
  float **u = malloc(sizeof(float *) * (size_t)n_u);
  const int64_t tb = cnnrt_winograd43_tile_block(&p);
  const int64_t ss = (cnnrt_f32_conv_winograd43_scratch_bytes(&p, tb) + 63) / 64 * 64;
  unsigned char *scratch = malloc((size_t)(2 * ss));
  if (u == NULL || scratch == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (int i = 0; i < n_u; i++) {
    u[i] = malloc((size_t)ubytes);
    if (u[i] == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    cnnrt_f32_winograd43_pack_weights(c, c, w, u[i]);
  }
  /* best[variant][tasks - 1], variants A and B alternating within each round */
  double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}};
  int turn = 0;
  for (int r = 0; r < rounds; r++) {
    for (int v = 0; v < 4; v++) {
      const int b = v / 2, n_tasks = v % 2 + 1;
      const int reps = 20;
      const double t0 = bench_wall_seconds();
      for (int i = 0; i < reps; i++, turn++) {
        wino_run run = {b == 0 ? wino_a : wino_b, &p, x[turn % NBUF], u[turn % n_u], bias,
                        y[turn % NBUF], scratch, ss, tb, n_tasks};
        if (n_tasks == 1) {
          wino_task(&run, 0);
        } else {
          cnnrt_parallel_for(par, wino_task, &run, 2);
        }
      }
      const double per = (bench_wall_seconds() - t0) / reps;
      if (per < best[b][n_tasks - 1]) {
        best[b][n_tasks - 1] = per;
      }
    }
  }
  printf("%4lld ch %3lld px: A 1T %.3f ms 2T %.3f ms (%.2fx) | B 1T %.3f 2T %.3f (%.2fx) | "
         "B/A 1T %.3f 2T %.3f\n",
         (long long)c, (long long)hw, best[0][0] * 1e3, best[0][1] * 1e3,
         best[0][0] / best[0][1], best[1][0] * 1e3, best[1][1] * 1e3, best[1][0] / best[1][1],
         best[1][0] / best[0][0], best[1][1] / best[0][1]);
  for (int i = 0; i < NBUF; i++) {
    free(x[i]), free(y[i]);
  }
  for (int i = 0; i < n_u; i++) {
    free(u[i]);
  }
  free(u), free(w), free(bias), free(scratch);
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 15;
  cnnrt_threadpool pool;
  if (cnnrt_threadpool_start(&pool, 2) != 0) {
    return 1;
  }
  const cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
  bench_layer(&par, rounds, 64, 56);
  bench_layer(&par, rounds, 128, 28);
  bench_layer(&par, rounds, 256, 14);
  cnnrt_threadpool_stop(&pool);
  return 0;
}
#endif
