/* task_trace.c — where a generated model's two-thread time goes: every parallel region (one per
 * layer that splits its work) is timed task by task on the cnnrt_threadpool.
 *
 *   cnncc model.onnx -o GEN/m.c --max-threads 2 --weights GEN/w.bin
 *   gcc -O3 -march=native -IGEN GEN/m.c bench/task_trace.c -o trace -lm -lpthread
 *   ./trace GEN/w.bin 2      two threads: the two tasks of each region run concurrently
 *   ./trace GEN/w.bin 1      one thread, the same two tasks per region run one after the other
 *
 * (The model's prefix must be "m": the generated m.h and m_run_parallel.) The generated code is
 * always handed a parallel hook with 2 threads, so both modes run the same task split; the
 * pool has `threads` threads. Per region, medians over 40 runs (after 5 warm-up runs) of: the
 * region's wall time, each task's time, the later task's start lag, the difference between
 * the two tasks' end times (the imbalance the earlier one waits out) and the region's time
 * outside its tasks (dispatch); with one thread the tasks run one after the other, so lag and
 * imbalance are just the first task's time. Comparing a task's time in the two modes gives what running
 * next to the other task costs it (shared caches and memory, data the other core wrote). */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "m.h"

#include "cnnrt_threadpool.h"

enum { MAX_REGIONS = 512, RUNS = 40, WARMUP = 5 };

typedef struct region_rec {
  double r0, r1;             /* region start / end, on the calling thread */
  double t0[2], t1[2];       /* start / end of tasks 0 and 1 */
  int64_t n;                 /* tasks */
} region_rec;

typedef struct trace {
  cnnrt_threadpool pool;
  region_rec (*rec)[MAX_REGIONS]; /* [RUNS][MAX_REGIONS] */
  int run, region;
} trace;

typedef struct traced_task {
  cnnrt_task_fn fn;
  void *arg;
  region_rec *r;
} traced_task;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void traced_task_fn(void *arg, int64_t t) {
  const traced_task *w = (const traced_task *)arg;
  const double t0 = now_seconds();
  w->fn(w->arg, t);
  const double t1 = now_seconds();
  if (t < 2) { /* each task writes its own slots */
    w->r->t0[t] = t0;
    w->r->t1[t] = t1;
  }
}

static void traced_run(void *ctx, cnnrt_task_fn fn, void *arg, int64_t n) {
  trace *tr = (trace *)ctx;
  region_rec scratch_rec;
  region_rec *r = tr->run >= 0 && tr->region < MAX_REGIONS ? &tr->rec[tr->run][tr->region]
                                                           : &scratch_rec;
  tr->region++;
  traced_task w = {fn, arg, r};
  r->n = n;
  r->t0[1] = r->t1[1] = 0.0;
  r->r0 = now_seconds();
  cnnrt_threadpool_run(&tr->pool, traced_task_fn, &w, n);
  r->r1 = now_seconds();
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_ms(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2] * 1e3;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s WEIGHTS.bin THREADS(1|2)\n", argv[0]);
    return 2;
  }
  const int threads = atoi(argv[2]) >= 2 ? 2 : 1;
  void *weights = aligned_alloc(64, (M_WEIGHTS_BYTES + 63) / 64 * 64);
  void *arena = aligned_alloc(64, (M_ARENA_BYTES + 63) / 64 * 64);
  float *in = malloc(sizeof(float) * M_INPUT0_SIZE), *out = malloc(sizeof(float) * M_OUTPUT0_SIZE);
  static trace tr;
  tr.rec = malloc(sizeof(region_rec[RUNS][MAX_REGIONS]));
  FILE *f = fopen(argv[1], "rb");
  if (weights == NULL || arena == NULL || in == NULL || out == NULL || tr.rec == NULL ||
      f == NULL || fread(weights, 1, M_WEIGHTS_BYTES, f) != M_WEIGHTS_BYTES) {
    fprintf(stderr, "cannot read %s or out of memory\n", argv[1]);
    return 1;
  }
  fclose(f);
  for (int64_t i = 0; i < M_INPUT0_SIZE; i++) {
    in[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
  }
  const void *inputs[1] = {in};
  void *outputs[1] = {out};
  if (cnnrt_threadpool_start(&tr.pool, threads) != 0) {
    return 1;
  }
  const cnnrt_parallel par = {traced_run, &tr, 2};
  double total[RUNS];
  int regions = 0;
  for (int it = -WARMUP; it < RUNS; it++) {
    tr.run = it;
    tr.region = 0;
    const double t0 = now_seconds();
    if (m_run_parallel(arena, weights, inputs, outputs, &par) != 0) {
      return 1;
    }
    if (it >= 0) {
      total[it] = now_seconds() - t0;
      regions = tr.region < MAX_REGIONS ? tr.region : MAX_REGIONS;
    }
  }
  cnnrt_threadpool_stop(&tr.pool);
  printf("%d thread(s): median run %.3f ms, %d regions\n", threads, median_ms(total, RUNS),
         regions);
  printf("region tasks   wall ms  task0 ms  task1 ms  lag ms  imbalance ms  dispatch ms\n");
  double sum[6] = {0};
  for (int g = 0; g < regions; g++) {
    double v[6][RUNS];
    for (int r = 0; r < RUNS; r++) {
      const region_rec *x = &tr.rec[r][g];
      const int two = x->n >= 2;
      const double first = two && x->t0[1] < x->t0[0] ? x->t0[1] : x->t0[0];
      const double last_start = two && x->t0[1] > x->t0[0] ? x->t0[1] : x->t0[0];
      const double first_end = two && x->t1[1] < x->t1[0] ? x->t1[1] : x->t1[0];
      const double last_end = two && x->t1[1] > x->t1[0] ? x->t1[1] : x->t1[0];
      v[0][r] = x->r1 - x->r0;
      v[1][r] = x->t1[0] - x->t0[0];
      v[2][r] = two ? x->t1[1] - x->t0[1] : 0.0;
      v[3][r] = last_start - first;
      v[4][r] = last_end - first_end;
      v[5][r] = (x->r1 - x->r0) - (last_end - first);
    }
    double m[6];
    for (int c = 0; c < 6; c++) {
      m[c] = median_ms(v[c], RUNS);
      sum[c] += m[c];
    }
    printf("%6d %5lld %9.3f %9.3f %9.3f %7.3f %13.3f %12.3f\n", g, (long long)tr.rec[0][g].n,
           m[0], m[1], m[2], m[3], m[4], m[5]);
  }
  printf("   sum       %9.3f %9.3f %9.3f %7.3f %13.3f %12.3f\n", sum[0], sum[1], sum[2], sum[3],
         sum[4], sum[5]);
  free(weights), free(arena), free(in), free(out), free(tr.rec);
  return 0;
}
