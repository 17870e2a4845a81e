/* test_neon_pool.c — runtime/cnnrt_pool_neon.h (forward MaxPool, AveragePool and the global
 * pools) against the scalar references of cnnrt_pool.h, cross-built for aarch64 and ARMv7 NEON
 * and run under qemu-user (tests/arm/CMakeLists.txt). The cases are tests/pool_fwd_cases.h, the
 * same as tests/kernels' test_pool_avx2.c (1-D to 3-D windows, kernels 1-7, strides 1-3,
 * dilation 2, pads, ceil_mode, rows of 1 to 40, 1x1 images, odd plane counts over tasks run in
 * reverse, NaN / inf / signed-zero ties), compared bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cnnrt_pool_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_pool.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

#define SIMD_MAXPOOL(p, x, y, par) cnnrt_f32_maxpool_neon(p, x, y, par)
#define SIMD_AVGPOOL(p, x, y, par) cnnrt_f32_avgpool_neon(p, x, y, par)
#define SIMD_GLOBAL_MAXPOOL(nc, n, x, y) cnnrt_f32_global_maxpool_neon(nc, n, x, y)
#define SIMD_GLOBAL_AVGPOOL(nc, n, x, y) cnnrt_f32_global_avgpool_neon(nc, n, x, y)
#define POOL_CASES_WIDTH_STEP 1
#include "../../pool_fwd_cases.h"

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_fwd),
      cmocka_unit_test(test_global_pool_fwd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
