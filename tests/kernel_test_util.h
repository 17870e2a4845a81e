/* kernel_test_util.h — scaffolding shared by the kernel tests (tests/kernels, tests/arm/kernels)
 * that check a SIMD kernel against its scalar reference:
 *  - urand(): a fixed-seed xorshift64 generator, uniform in [-1, 1), so every run sees the same
 *    data and a failure reproduces (urand_bits(): its raw 64 bits);
 *  - run_reverse(): a cnnrt parallel-for hook that runs the tasks last to first on the calling
 *    thread, so a kernel whose tasks depend on running in order fails;
 *  - max_rel_err(): max |got - want| / max |want| (max |got - want| where want is all zero), the
 *    error measure of every kernel test; NaN anywhere makes it NaN, which every `<= tol` rejects.
 * Include it after a runtime header that defines cnnrt_task_fn. */
#ifndef CNNCC_TESTS_KERNEL_TEST_UTIL_H
#define CNNCC_TESTS_KERNEL_TEST_UTIL_H

#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* The generator's next 64 bits. */
static inline uint64_t urand_bits(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static inline float urand(void) {
  return (float)((urand_bits() >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

static inline void run_reverse(void *ctx, cnnrt_task_fn fn, void *arg, int64_t n) {
  (void)ctx;
  for (int64_t i = n - 1; i >= 0; i--) {
    fn(arg, i);
  }
}

static inline double max_rel_err(const float *got, const float *want, int64_t len) {
  double maxref = 0.0, maxerr = 0.0;
  for (int64_t i = 0; i < len; i++) {
    const double err = fabs((double)got[i] - (double)want[i]);
    if (err != err) {
      return err;
    }
    maxref = fmax(maxref, fabs((double)want[i]));
    maxerr = fmax(maxerr, err);
  }
  return maxref > 0 ? maxerr / maxref : maxerr;
}

#endif
