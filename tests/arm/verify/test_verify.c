/* test_verify.c — cnncc --verify's checker (tools/verify.c) on small hand-written files: a
 * defect inside `#if defined(__ARM_NEON)` must be reported for the ARM targets and only for
 * them (the triple and ISA flags decide which branch is parsed), a defect in plain C for every
 * target, and a clean NEON file must pass where arm_neon.h is the target's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "verify.h"

static const char *write_file(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", CNNCC_VERIFY_TEST_DIR, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static bool check(const char *path, int target) {
  FILE *sink = fopen("/dev/null", "w");
  assert_non_null(sink);
  bool ok = cn_verify_file(path, target, sink);
  fclose(sink);
  return ok;
}

/* Where CMake found libclang (CNNCC_VERIFY_EXPECTED), failing to load it is a failure, not a
 * skip: --verify loads it with dlopen at run time, so only this catches a wrong library path. */
static bool verify_expected_or_skip(void) {
  if (cn_verify_available()) {
    return true;
  }
#if defined(CNNCC_VERIFY_EXPECTED)
  fail_msg("libclang was found at configure time but cannot be loaded");
#else
  skip();
#endif
  return false;
}

enum { X86 = 0, AARCH64 = 1, ARMV7 = 2, CORTEX_M = 3, GENERIC = 4 };

static void test_neon_branch(void **state) {
  (void)state;
  if (!verify_expected_or_skip()) {
    return;
  }
  /* an unused variable (-Wunused-variable) only in the NEON branch */
  const char *bad = write_file("neon_bad.c",
                               "#include <stdint.h>\n"
                               "#if defined(__ARM_NEON)\n#include <arm_neon.h>\n"
                               "float f(const float *x) { float32x4_t v = vld1q_f32(x); int unused;\n"
                               "  return vgetq_lane_f32(v, 0); }\n"
                               "#else\nfloat f(const float *x) { return x[0]; }\n#endif\n");
  assert_false(check(bad, AARCH64));
  assert_false(check(bad, ARMV7));
  assert_true(check(bad, X86));
  assert_true(check(bad, CORTEX_M));
  const char *good = write_file("neon_good.c",
                                "#include <stdint.h>\n#include <math.h>\n"
                                "#if defined(__ARM_NEON)\n#include <arm_neon.h>\n"
                                "float f(const float *x) { float32x4_t v = vld1q_f32(x);\n"
                                "  return vgetq_lane_f32(vfmaq_f32(v, v, v), 0); }\n"
                                "#else\nfloat f(const float *x) { return sqrtf(x[0]); }\n#endif\n");
  for (int t = X86; t <= GENERIC; t++) {
    assert_true(check(good, t));
  }
  /* an AVX2 defect is seen only by the x86-64 target (-mavx2 -mfma) */
  const char *avx = write_file("avx_bad.c",
                               "#if defined(__AVX2__) && defined(__FMA__)\n"
                               "int g(int a) { return a << 40; }\n#else\nint g(int a) { return a; }\n#endif\n");
  assert_false(check(avx, X86));
  assert_true(check(avx, AARCH64));
}

static void test_plain_c_defect(void **state) {
  (void)state;
  if (!verify_expected_or_skip()) {
    return;
  }
  const char *bad = write_file("plain_bad.c", "int h(unsigned a, int b) { return a < b; }\n");
  for (int t = X86; t <= GENERIC; t++) {
    assert_false(check(bad, t)); /* -Wsign-compare (-Wextra) */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_neon_branch),
                                     cmocka_unit_test(test_plain_c_defect)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
