/* test_scatter_grad_avx2.c — runtime/cnnrt_scatter_grad_avx2.h against the scalar references
 * (cnnrt_f32_gather_grad_ref of cnnrt_tensor.h and cnnrt_f32_resize_grad_ref of
 * cnnrt_resize_grad.h, themselves checked against finite differences in test_grad.c and against
 * PyTorch by the grad tests). The cases are shared with the NEON test
 * (tests/arm/kernels/test_neon_scatter_grad.c) through scatter_grad_cases.h:
 *  - Gather gradients: 1-3 outer positions, axis lengths 1-7, slices of 1 to 300 floats (vector
 *    multiples and remainders), repeated, negative and out-of-range indices (4- and 8-byte), 1-4
 *    tasks run in reverse: bit for bit (same additions in the same order);
 *  - Resize gradients: planes of 1x1 to 40x150, scales 0.5, 2, 3, 1.7, 0.3, 0.1 and `sizes`,
 *    nearest (every nearest mode), linear and cubic (exclude_outside on and off) under every
 *    coordinate mode (tf_crop_and_resize with an roi that extrapolates), 1-3 planes over 1-3
 *    tasks run in reverse, rank 2 to 4, plus shapes that fall back to the reference: within
 *    1e-6 of max |reference| (cubic, whose negative weights make cancelling sums: 2e-6). The
 *    nearest 2x fast path is checked to have run.
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
#include "../../runtime/cnnrt_scatter_grad_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

#define SG_GATHER_GRAD cnnrt_f32_gather_grad_avx2
#define SG_RESIZE_GRAD cnnrt_f32_resize_grad_avx2
#include "scatter_grad_cases.h"

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

#else

int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}

#endif
