/* test_neon_resize.c — runtime/cnnrt_resize_neon.h (the forward Resize) against the scalar
 * reference cnnrt_f32_resize_ref (checked against the ONNX numpy reference by the node tests),
 * cross-built for aarch64, ARMv7+VFPv4 and ARMv7 NEON without FMA and run under qemu-user
 * (tests/arm/CMakeLists.txt). The cases are those of tests/kernels' test_resize_avx2.c (shared
 * through tests/kernels/resize_cases.h), same bounds: every mode, nearest mode and coordinate
 * mode, scales 0.1 to 3 and `sizes`, planes of 1x1 to 40x150, rank 1 to 4, 1-3 tasks run in
 * reverse; nearest bit for bit, linear within 1e-6 of max |reference|, cubic 2e-6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The reference (and this test's own double sums) promote float to double on purpose. */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "cnnrt_resize_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_resize.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

#define RZ_RESIZE cnnrt_f32_resize_neon
#include "../../kernels/resize_cases.h"

static void test_resize(void **state) {
  (void)state;
  rz_cases();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
