/* test_neon_norm.c — runtime/cnnrt_norm_neon.h (forward BatchNormalization in inference and
 * training mode, InstanceNormalization, LayerNormalization, channel affine) against the scalar
 * references of cnnrt_norm.h, cross-built for aarch64 / ARMv7 (with and without VFPv4 FMA) and
 * run under qemu-user (tests/arm/CMakeLists.txt). The cases and bounds are those of
 * tests/kernels' test_norm_avx2.c, in tests/norm_fwd_cases.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The references (and the test's error measure) promote float to double on purpose. */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "cnnrt_norm_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_norm.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

#define NORM_FWD(name) cnnrt_f32_##name##_neon
#include "../../norm_fwd_cases.h"

int main(void) { return norm_fwd_tests(); }
