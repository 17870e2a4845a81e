/* test_neon_scatter_grad.c — runtime/cnnrt_scatter_grad_neon.h against the scalar references
 * (cnnrt_f32_gather_grad_ref of cnnrt_tensor.h, cnnrt_f32_resize_grad_ref of cnnrt_resize_grad.h;
 * checked against finite differences in tests/kernels' test_grad.c and against PyTorch by the
 * grad tests), cross-built for aarch64, ARMv7+VFPv4 and ARMv7 NEON without FMA and run under
 * qemu-user (tests/arm/CMakeLists.txt). The cases are those of tests/kernels'
 * test_scatter_grad_avx2.c (shared through tests/kernels/scatter_grad_cases.h), same bounds:
 *  - Gather gradients (repeated, negative, out-of-range indices; slices of 1 to 300 floats;
 *    1-4 tasks run in reverse) bit for bit;
 *  - Resize gradients (planes of 1x1 to 40x150, scales 0.5 to 3, 0.1 and `sizes`, nearest in
 *    every nearest mode, linear and cubic, every coordinate mode, rank 1 to 4, 1-3 tasks run
 *    in reverse): within 1e-6 of max |reference| (cubic 2e-6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The references (and this test's own double sums) promote float to double on purpose. */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "cnnrt_scatter_grad_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_scatter_grad.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

#define SG_GATHER_GRAD cnnrt_f32_gather_grad_neon
#define SG_RESIZE_GRAD cnnrt_f32_resize_grad_neon
#include "../../kernels/scatter_grad_cases.h"

static void test_gather_grad(void **state) {
  (void)state;
  sg_gather_cases();
}

static void test_resize_grad(void **state) {
  (void)state;
  sg_resize_cases();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_grad),
      cmocka_unit_test(test_resize_grad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
