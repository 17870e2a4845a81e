/* pair_variants.c — two builds of one model (A and B: other runtime headers, other compiler
 * flags or passes) timed in one process, alternating, on the same number of threads: whether a
 * change of a few % is real on a shared machine whose speed moves by more than that between
 * processes (docs/design.md, sessions 18-19).
 *
 *   cnncc model.onnx -o A/a.c --main --max-threads 2 --weights A/w.bin  (prefixes a and b)
 *   cnncc model.onnx -o B/b.c --main --max-threads 2 --weights B/w.bin  (with the change)
 *   cc -O3 -march=native -IA -c A/a.c -o a.o
 *   cc -O3 -march=native -IB -c B/b.c -o b.o
 *   cc -O3 -march=native -IA -IB bench/pair_variants.c a.o b.o -o pair_variants -lm -lpthread
 *   pair_variants INPUT.npy A/w.bin|- B/w.bin|- THREADS ROUNDS BURST
 *
 * (--main puts the driver's helpers and the thread pool beside the code; A's serve this file,
 * each build's code uses its own runtime headers. a_main.c and b_main.c go unused.) Each round runs
 * BURST runs of A and BURST of B (which goes first alternating; bench/pair_util.h: pair_time) on a
 * cnnrt_threadpool of THREADS (1: no pool, the one-thread code path). The last stdout line is
 *   b_over_a=<median of the rounds' B/A time ratios> q25=.. q75=.. a_ms=<median A run> b_ms=..
 *   a_min=.. b_min=.. max_rel_diff=<max|B - A| / max|A| of output 0>
 * A TRACE environment variable prints every round first. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "a.h"
#include "b.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnnrt_driver.h"
#include "pair_util.h"
#pragma GCC diagnostic pop

typedef struct variants {
  const pair_model *m[2]; /* A, B */
  void *out[2];
  const cnnrt_parallel *par; /* NULL: one thread */
} variants;

static void run_timed(void *ctx, int b) {
  const variants *v = (const variants *)ctx;
  (void)pair_model_run(v->m[b], v->out[b], v->par);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s INPUT.npy A_WEIGHTS|- B_WEIGHTS|- THREADS ROUNDS BURST\n", argv[0]);
    return 2;
  }
  const int threads = atoi(argv[4]), rounds = atoi(argv[5]), burst = atoi(argv[6]);
  if (threads < 1 || rounds < 1 || burst < 2) {
    fprintf(stderr, "pair_variants: THREADS >= 1, ROUNDS >= 1, BURST >= 2\n");
    return 2;
  }
  if (A_INPUT0_SIZE != B_INPUT0_SIZE || A_OUTPUT0_SIZE != B_OUTPUT0_SIZE) {
    fprintf(stderr, "pair_variants: A and B are not builds of one model\n");
    return 2;
  }
  pair_model a, b;
  if (pair_model_load(&a, PAIR_MODEL_DESC(A, a), "pair_variants", argv[1], argv[2]) != 0 ||
      pair_model_load(&b, PAIR_MODEL_DESC(B, b), "pair_variants", argv[1], argv[3]) != 0) {
    return 1;
  }
  float *out_a = (float *)cnnrt_driver_alloc(sizeof(float) * A_OUTPUT0_SIZE);
  float *out_b = (float *)cnnrt_driver_alloc(sizeof(float) * B_OUTPUT0_SIZE);
  cnnrt_threadpool pool;
  if (!out_a || !out_b || (threads > 1 && cnnrt_threadpool_start(&pool, threads) != 0)) {
    fprintf(stderr, "pair_variants: out of memory or no thread pool\n");
    return 1;
  }
  const cnnrt_parallel par = threads > 1 ? cnnrt_threadpool_hook(&pool) : (cnnrt_parallel){0};
  variants v = {{&a, &b}, {out_a, out_b}, threads > 1 ? &par : NULL};
  for (int i = 0; i < 3; i++) {
    if (pair_model_run(&a, out_a, v.par) != 0 || pair_model_run(&b, out_b, v.par) != 0) {
      fprintf(stderr, "pair_variants: the model failed\n");
      return 1;
    }
  }
  const double rel = pair_rel_diff(out_b, out_a, A_OUTPUT0_SIZE);
  pair_result r; /* pair_time's ratio is A over B: its reciprocals are B over A */
  if (pair_time(rounds, burst, run_timed, &v, "a", "b", &r) != 0) {
    return 1;
  }
  if (threads > 1) {
    cnnrt_threadpool_stop(&pool);
  }
  printf("b_over_a=%.4f q25=%.4f q75=%.4f a_ms=%.3f b_ms=%.3f a_min=%.3f b_min=%.3f "
         "max_rel_diff=%.3g\n",
         1.0 / r.ratio_median, 1.0 / r.ratio_q75, 1.0 / r.ratio_q25, 1e3 * r.a_median,
         1e3 * r.b_median, 1e3 * r.a_min, 1e3 * r.b_min, rel);
  return 0;
}
