/* test_norm_avx2.c — runtime/cnnrt_norm_avx2.h (forward BatchNormalization in inference and
 * training mode, InstanceNormalization, LayerNormalization, channel affine) against the scalar
 * references of cnnrt_norm.h; the cases and bounds are in tests/norm_fwd_cases.h (shared with
 * the NEON test tests/arm/kernels/test_neon_norm.c).
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_norm_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

#define NORM_FWD(name) cnnrt_f32_##name##_avx2
#include "../norm_fwd_cases.h"

int main(void) { return norm_fwd_tests(); }

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
