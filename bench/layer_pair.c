/* layer_pair.c — every layer's time on one thread and on two, alternating in one process: the
 * main program of `bench/layer_profile.py --pair-threads` (built against its instrumented copy
 * of m.c, which adds each layer block's rdtsc ticks to cnncc_prof_ticks[layer]).
 *
 *   layer_pair INPUT.npy WEIGHTS.bin|- ROUNDS BURST
 *
 * Each round runs BURST runs on one thread (m_run) and BURST on two (m_run_parallel on a
 * cnnrt_threadpool), which goes first alternating, as bench/pair_util.h's pair_time does for
 * whole runs; a burst's first run is left out and the counters cover the others. Per layer and
 * mode it prints the minimum and the mean over rounds of the per-run ticks, one line per layer
 *   LAYER <tab> min1 <tab> min2 <tab> mean1 <tab> mean2
 * and last "tsc_hz=<rdtsc ticks per second, measured over the whole run>".
 * Why: a layer's two-thread speedup measured in separate processes mixes the host's phases
 * (docs/design.md, session 18); here both modes of a layer see the same ones. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnnrt_driver.h"
#include "pair_util.h"
#pragma GCC diagnostic pop

/* Defined by layer_profile.py's instrumented m.c. */
unsigned long long *cnncc_prof_ticks_array(void);
int cnncc_prof_layer_count(void);

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s INPUT.npy WEIGHTS.bin|- ROUNDS BURST\n", argv[0]);
    return 2;
  }
  const int rounds = atoi(argv[3]), burst = atoi(argv[4]);
  pair_model m;
  if (rounds < 1 || burst < 2 ||
      pair_model_load(&m, PAIR_MODEL_DESC(M, m), "layer_pair", argv[1], argv[2]) != 0) {
    fprintf(stderr, "layer_pair: ROUNDS >= 1, BURST >= 2, and a model that loads\n");
    return 2;
  }
  void *out = cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  cnnrt_threadpool pool;
  if (!out || cnnrt_threadpool_start(&pool, 2) != 0) {
    return 1;
  }
  const cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
  unsigned long long *ticks = cnncc_prof_ticks_array();
  const int n = cnncc_prof_layer_count();
  double *best = malloc(sizeof(double) * 2 * (size_t)n);
  double *sum = calloc(2 * (size_t)n, sizeof(double));
  if (!best || !sum) {
    return 1;
  }
  for (int i = 0; i < 2 * n; i++) {
    best[i] = 1e300;
  }
  for (int i = 0; i < 3; i++) {
    if (pair_model_run(&m, out, NULL) != 0 || pair_model_run(&m, out, &par) != 0) {
      fprintf(stderr, "layer_pair: the model failed\n");
      return 1;
    }
  }
  const double t_start = pair_now();
  const unsigned long long c_start = __builtin_ia32_rdtsc();
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 2; k++) {
      const int two = (k == 0) == (r % 2 == 0) ? 0 : 1;
      for (int i = 0; i < burst; i++) {
        if (i == 1) {
          memset(ticks, 0, sizeof(unsigned long long) * (size_t)n);
        }
        (void)pair_model_run(&m, out, two ? &par : NULL);
      }
      for (int l = 0; l < n; l++) {
        const double per_run = (double)ticks[l] / (burst - 1);
        sum[two * n + l] += per_run;
        if (per_run < best[two * n + l]) {
          best[two * n + l] = per_run;
        }
      }
    }
  }
  const double tsc_hz = (double)(__builtin_ia32_rdtsc() - c_start) / (pair_now() - t_start);
  cnnrt_threadpool_stop(&pool);
  for (int l = 0; l < n; l++) {
    printf("%d\t%.0f\t%.0f\t%.0f\t%.0f\n", l, best[l], best[n + l], sum[l] / rounds,
           sum[n + l] / rounds);
  }
  printf("tsc_hz=%.0f\n", tsc_hz);
  return 0;
}
