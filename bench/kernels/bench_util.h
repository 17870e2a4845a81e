/* bench_util.h — what the kernel micro-benchmarks share: clocks, reproducible random buffers and
 * a qsort comparison for medians. The machine is shared, so the benchmarks time with the
 * thread's CPU clock (descheduled time does not count) and alternate old and new code. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds of CPU time of the calling thread. */
static inline double bench_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall-clock seconds (for work spread over threads). */
static inline double bench_wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n floats in [-0.5, 0.5) from a linear congruential sequence started at `seed` (the same
 * values on every run); exits when out of memory. The caller frees it. */
static inline float *bench_rand_buf(int64_t n, uint32_t seed) {
  float *b = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (b == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  uint32_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
  }
  return b;
}

/* qsort comparison of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#endif
