/* test_optim_avx2.c — runtime/cnnrt_optim_avx2.h against the references of cnnrt_optim.h on
 * lengths around the vector width (0, 1, 7, 8, 9, 17, 1003), several steps, with and without
 * momentum, Nesterov, weight decay and a clipping scale. FMA contraction lets the two differ by
 * a few ulps of the arrays' scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cnnrt_optim_avx2.h"

static uint32_t rng_state = 99u;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

/* |avx2 - ref| <= 1e-6 * max|ref|: sums like 0.9*m + g cancel, so the error of an element is
 * judged against the array's scale, not its own magnitude. */
static void close_arrays(const char *what, const float *a, const float *b, int64_t n) {
  double scale = 0.0;
  for (int64_t i = 0; i < n; i++) {
    scale = fabs((double)b[i]) > scale ? fabs((double)b[i]) : scale;
  }
  for (int64_t i = 0; i < n; i++) {
    const double tol = 1e-6 * scale;
    if (!(fabs((double)a[i] - (double)b[i]) <= tol)) {
      fail_msg("%s: element %lld: avx2 %.9g ref %.9g", what, (long long)i, (double)a[i],
               (double)b[i]);
    }
  }
}

static void run_case(const cnnrt_optim_params *p, int64_t n, float gscale) {
  float *w1 = malloc((size_t)(n + 1) * sizeof(float)), *w2 = malloc((size_t)(n + 1) * sizeof(float));
  float *g = malloc((size_t)(n + 1) * sizeof(float));
  float *a1 = calloc((size_t)(n + 1), sizeof(float)), *a2 = calloc((size_t)(n + 1), sizeof(float));
  float *b1 = calloc((size_t)(n + 1), sizeof(float)), *b2 = calloc((size_t)(n + 1), sizeof(float));
  assert_true(w1 && w2 && g && a1 && a2 && b1 && b2);
  for (int64_t i = 0; i < n; i++) {
    w1[i] = w2[i] = frand() * 3.0f;
  }
  for (int64_t t = 1; t <= 4; t++) {
    for (int64_t i = 0; i < n; i++) {
      g[i] = frand();
    }
    if (p->kind == CNNRT_OPTIM_SGD) {
      cnnrt_f32_sgd_ref(p, n, 0.05f, gscale, w1, g, a1);
      cnnrt_f32_sgd_avx2(p, n, 0.05f, gscale, w2, g, a2);
    } else {
      const cnnrt_adam_consts c = cnnrt_adam_step_consts(p, 0.01f, t);
      cnnrt_f32_adam_ref(p, &c, n, gscale, w1, g, a1, b1);
      cnnrt_f32_adam_avx2(p, &c, n, gscale, w2, g, a2, b2);
    }
  }
  close_arrays("params", w2, w1, n);
  close_arrays("state 1", a2, a1, n);
  close_arrays("state 2", b2, b1, n);
  const double s1 = cnnrt_f32_sum_squares_ref(n, g), s2 = cnnrt_f32_sum_squares_avx2(n, g);
  assert_true(fabs(s1 - s2) <= 1e-12 * (s1 + 1.0));
  free(w1);
  free(w2);
  free(g);
  free(a1);
  free(a2);
  free(b1);
  free(b2);
}

static const int64_t lengths[] = {0, 1, 7, 8, 9, 17, 1003};

static void test_sgd_avx2(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
    cnnrt_optim_params p = {0};
    run_case(&p, lengths[k], 1.0f);
    p.momentum = 0.9f;
    p.weight_decay = 1e-3f;
    run_case(&p, lengths[k], 0.5f);
    p.nesterov = 1;
    run_case(&p, lengths[k], 1.0f);
  }
}

static void test_adam_avx2(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
    cnnrt_optim_params p = {0};
    p.kind = CNNRT_OPTIM_ADAM;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.one_minus_beta1 = 0.1f;
    p.one_minus_beta2 = 0.001f;
    p.eps = 1e-8f;
    run_case(&p, lengths[k], 1.0f);
    p.weight_decay = 0.01f;
    run_case(&p, lengths[k], 0.7f);
    p.kind = CNNRT_OPTIM_ADAMW;
    run_case(&p, lengths[k], 1.0f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sgd_avx2),
                                     cmocka_unit_test(test_adam_avx2)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
