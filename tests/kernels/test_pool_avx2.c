/* test_pool_avx2.c — runtime/cnnrt_pool_avx2.h (forward MaxPool, AveragePool and the global
 * pools) against the scalar references of cnnrt_pool.h; the cases are tests/pool_fwd_cases.h
 * (1-D to 3-D windows, kernels 1-7, strides 1-3, dilation 2, pads, ceil_mode, rows of 1 to 40,
 * 1x1 images, odd plane counts over tasks run in reverse, NaN / inf / signed-zero ties),
 * compared bit for bit. Build with -mavx2 -mfma; without them the header is empty and the test
 * skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_pool_avx2.h"

/* (built a second time with -mavx512f as test_pool_avx512: the AVX-512 MaxPool path) */
#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_POOL_AVX512)
#error "built for AVX-512 but cnnrt_pool_avx2.h did not enable its AVX-512 path"
#endif

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

#define SIMD_MAXPOOL(p, x, y, par) cnnrt_f32_maxpool_avx2(p, x, y, par)
#define SIMD_AVGPOOL(p, x, y, par) cnnrt_f32_avgpool_avx2(p, x, y, par)
#define SIMD_GLOBAL_MAXPOOL(nc, n, x, y) cnnrt_f32_global_maxpool_avx2(nc, n, x, y)
#define SIMD_GLOBAL_AVGPOOL(nc, n, x, y) cnnrt_f32_global_avgpool_avx2(nc, n, x, y)
#define POOL_CASES_WIDTH_STEP 1
#include "../pool_fwd_cases.h"

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_fwd),
      cmocka_unit_test(test_global_pool_fwd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
