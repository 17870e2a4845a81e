/* test_gemv_avx2.c — the batch-1 fully connected kernel against cnnrt_f32_gemm_ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cnnrt_gemv_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)
static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check(int64_t n, int64_t k, int64_t c_cols, float beta, int act) {
  cnnrt_gemm_params p = {0};
  p.m = 1;
  p.n = n;
  p.k = k;
  p.trans_b = 1;
  p.alpha = 0.75f;
  p.beta = beta;
  p.c_rows = c_cols ? 1 : 0;
  p.c_cols = c_cols;
  p.act = act;
  p.act_alpha = 0.1f;
  p.act_beta = 0.5f;
  float *a = malloc(sizeof(float) * (size_t)(k + 1)), *b = malloc(sizeof(float) * (size_t)(n * k + 1));
  float *c = malloc(sizeof(float) * (size_t)(n + 1));
  float *y0 = malloc(sizeof(float) * (size_t)(n + 1)), *y1 = malloc(sizeof(float) * (size_t)(n + 1));
  unsigned s = 3;
  for (int64_t i = 0; i < k; i++) a[i] = frand(&s);
  for (int64_t i = 0; i < n * k; i++) b[i] = frand(&s);
  for (int64_t i = 0; i < n; i++) c[i] = frand(&s);
  cnnrt_f32_gemm_ref(&p, a, b, c_cols ? c : NULL, y0);
  cnnrt_f32_gemv_t_avx2(&p, a, b, c_cols ? c : NULL, y1);
  for (int64_t j = 0; j < n; j++) {
    double tol = 2e-6 * (double)(k + 1);
    if (!(fabs((double)y0[j] - (double)y1[j]) <= tol)) {
      fail_msg("n=%lld k=%lld c_cols=%lld act=%d: y[%lld] = %g, reference %g", (long long)n,
               (long long)k, (long long)c_cols, act, (long long)j, (double)y1[j], (double)y0[j]);
    }
  }
  free(a); free(b); free(c); free(y0); free(y1);
}

static void test_gemv(void **state) {
  (void)state;
  static const int64_t ks[] = {1, 7, 8, 9, 31, 32, 33, 100, 2048};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    check(5, ks[i], 0, 1.0f, CNNRT_ACT_NONE);
    check(10, ks[i], 10, 0.5f, CNNRT_ACT_RELU);
    check(3, ks[i], 1, 2.0f, CNNRT_ACT_SIGMOID);
    check(4, ks[i], 4, 0.0f, CNNRT_ACT_CLIP);
  }
  check(1000, 512, 1000, 1.0f, CNNRT_ACT_NONE);
}
#else
static void test_gemv(void **state) {
  (void)state;
  skip();
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemv)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
