/* pair_threads.c — cnncc's generated code on one thread and on two, timed in one process,
 * alternating: the two-thread speedup measured on one machine state.
 *
 *   pair_threads INPUT.npy WEIGHTS.bin|- ROUNDS BURST
 *
 * Built by bench.py against one generated model (cnncc ... -o DIR/m.c --main --max-threads 2:
 * m.h and the .c files but not m_main.c) with the flags of the benchmarked program. One thread
 * is m_run (no parallel hook: the code a one-thread build runs); two threads are
 * m_run_parallel on a cnnrt_threadpool of 2, as the driver's --threads 2.
 *
 * Why: on this shared machine a core's speed changes in phases lasting seconds (the same
 * program's median moved between 22.5 and 29 ms on ResNet-50 within minutes, session 18), and
 * the two virtual CPUs are not always equally fast: one-thread runs pinned to the slower one
 * took 1.18x those on the other. Two processes timed one after the other, as the table's
 * "cnncc 1T" and "cnncc 2T" columns are, then compare different machines. Here each round runs
 * BURST one-thread runs, then BURST two-thread runs, and the round's speedup is the median
 * one-thread run over the median two-thread run (bench/pair_util.h: pair_time; the first run of
 * a burst, for two threads after the pool's worker went to sleep, is left out). After 3 warm-up
 * runs of each, ROUNDS rounds are timed (CLOCK_MONOTONIC). The one-thread runs stay on the
 * calling thread's core, wherever the scheduler keeps it. The last stdout line is
 *   pair_speedup=<median of the round speedups> q25=.. q75=.. t1_ms=<median one-thread run>
 *   t2_ms=.. t1_min=.. t2_min=.. max_rel_diff=<max|2T - 1T| / max|1T| of output 0>
 * A TRACE environment variable prints every round first. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "m.h"
/* The generated driver's host helpers; its other functions go unused here. It includes
 * cnnrt_threadpool.h. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnnrt_driver.h"
#include "pair_util.h"
#pragma GCC diagnostic pop

/* The two ways pair_time alternates: one thread (0) and two on the pool (1). */
typedef struct modes {
  const pair_model *m;
  void *out1, *out2;
  const cnnrt_parallel *par;
} modes;

static int run_mode(const modes *s, int two) {
  return two ? pair_model_run(s->m, s->out2, s->par) : pair_model_run(s->m, s->out1, NULL);
}

static void run_timed(void *ctx, int two) { (void)run_mode((const modes *)ctx, two); }

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s INPUT.npy WEIGHTS.bin|- ROUNDS BURST\n", argv[0]);
    return 2;
  }
  const int rounds = atoi(argv[3]), burst = atoi(argv[4]);
  if (rounds < 1 || burst < 2) {
    fprintf(stderr, "pair_threads: ROUNDS >= 1, BURST >= 2\n");
    return 2;
  }
  pair_model m;
  if (pair_model_load(&m, PAIR_MODEL_DESC(M, m), "pair_threads", argv[1], argv[2]) != 0) {
    return 1;
  }
  float *out1 = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  float *out2 = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  cnnrt_threadpool pool;
  if (!out1 || !out2 || cnnrt_threadpool_start(&pool, 2) != 0) {
    fprintf(stderr, "pair_threads: out of memory or no thread pool\n");
    return 1;
  }
  const cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
  modes s = {&m, out1, out2, &par};
  for (int i = 0; i < 3; i++) {
    if (run_mode(&s, 0) != 0 || run_mode(&s, 1) != 0) {
      fprintf(stderr, "pair_threads: the model failed\n");
      return 1;
    }
  }
  const double rel = pair_rel_diff(out2, out1, M_OUTPUT0_SIZE);
  pair_result r;
  if (pair_time(rounds, burst, run_timed, &s, "t1", "t2", &r) != 0) {
    return 1;
  }
  cnnrt_threadpool_stop(&pool);
  printf("pair_speedup=%.4f q25=%.4f q75=%.4f t1_ms=%.3f t2_ms=%.3f t1_min=%.3f t2_min=%.3f "
         "max_rel_diff=%.3g\n",
         r.ratio_median, r.ratio_q25, r.ratio_q75, 1e3 * r.a_median, 1e3 * r.b_median,
         1e3 * r.a_min, 1e3 * r.b_min, rel);
  return 0;
}
