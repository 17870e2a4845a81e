/* test_resize_avx2.c — runtime/cnnrt_resize_avx2.h (the forward Resize) against the scalar
 * reference cnnrt_f32_resize_ref (itself checked against the ONNX numpy reference by the node
 * tests). The cases are shared with the NEON test (tests/arm/kernels/test_neon_resize.c)
 * through resize_cases.h: planes of 1x1 to 40x150, scales 0.5, 2, 3, 1.7, 0.3, 0.1 and `sizes`,
 * nearest (every nearest mode), linear and cubic (exclude_outside on and off) under every
 * coordinate mode (tf_crop_and_resize with an roi that extrapolates), rank 1 to 4, 1-3 planes
 * over 1-3 tasks run in reverse, nearest 2x upsampling (the duplication path): nearest bit for
 * bit, linear within 1e-6 of max |reference|, cubic 2e-6.
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The reference promotes float to double on purpose. */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "../../runtime/cnnrt_resize_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

#define RZ_RESIZE cnnrt_f32_resize_avx2
#include "resize_cases.h"

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

#else

int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}

#endif
