/* fma_peak.c — single-core float32 FMA peak of this machine, for bench/run.sh.
 *
 *   gcc -O2 -march=native bench/fma_peak.c -o fma_peak && ./fma_peak [seconds]
 *
 * Runs a loop of independent FMA chains on one thread: 12 __m256 accumulators (AVX2+FMA),
 * and, where the compiler targets AVX-512F, 12 __m512 accumulators as well. 12 chains cover
 * FMA latency (4-5 cycles) x 2 FMA pipes with room to spare, so the loop runs at the FMA
 * throughput limit. Prints one line per width, best of 50 short repetitions:
 *   avx2_gflops=<x>
 *   avx512_gflops=<y>      (only when built with AVX-512F)
 * where one FMA lane counts as 2 FLOP.
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define NACC 12
#define INNER 1000

/* Returns the FLOP done; *sink receives a value that depends on every accumulator. */
static double run_avx2(long outer, float *sink) {
  __m256 acc[NACC];
  for (int i = 0; i < NACC; i++) acc[i] = _mm256_set1_ps((float)i * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long o = 0; o < outer; o++) {
    for (int k = 0; k < INNER; k++) {
#pragma GCC unroll 12
      for (int i = 0; i < NACC; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __asm__ volatile("" : : : "memory");
  }
  __m256 s = acc[0];
  for (int i = 1; i < NACC; i++) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink += out[0] + out[7];
  return (double)outer * INNER * NACC * 8 * 2;
}

#ifdef __AVX512F__
static double run_avx512(long outer, float *sink) {
  __m512 acc[NACC];
  for (int i = 0; i < NACC; i++) acc[i] = _mm512_set1_ps((float)i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long o = 0; o < outer; o++) {
    for (int k = 0; k < INNER; k++) {
#pragma GCC unroll 12
      for (int i = 0; i < NACC; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __asm__ volatile("" : : : "memory");
  }
  __m512 s = acc[0];
  for (int i = 1; i < NACC; i++) s = _mm512_add_ps(s, acc[i]);
  *sink += _mm512_reduce_add_ps(s);
  return (double)outer * INNER * NACC * 16 * 2;
}
#endif

/* Best GFLOP/s of REPS repetitions of about SECONDS/REPS each. */
static double measure(double (*fn)(long, float *), double seconds, float *sink) {
  const int reps = 50; /* short repetitions: on a shared machine some run undisturbed */
  long outer = 100;
  double t0 = now();
  fn(outer, sink); /* warm-up and calibration */
  double dt = now() - t0;
  if (dt > 0) outer = (long)(outer * (seconds / reps) / dt);
  if (outer < 1) outer = 1;
  double best = 0;
  for (int r = 0; r < reps; r++) {
    t0 = now();
    double flop = fn(outer, sink);
    dt = now() - t0;
    if (flop / dt > best) best = flop / dt;
  }
  return best * 1e-9;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  float sink = 0;
  printf("avx2_gflops=%.2f\n", measure(run_avx2, seconds, &sink));
#ifdef __AVX512F__
  printf("avx512_gflops=%.2f\n", measure(run_avx512, seconds, &sink));
#endif
  fprintf(stderr, "sink=%g\n", (double)sink);
  return 0;
}
