/* test_act_grad_avx2.c — cnnrt_f32_act_grad_avx2 (runtime/cnnrt_act_grad_avx2.h) against the
 * scalar reference cnnrt_f32_act_grad_ref (itself checked against finite differences in
 * test_grad.c and against PyTorch by the grad tests) for every gradient kind: random values
 * over [-8, 8] plus the boundaries of the piecewise kinds (0, +-3, alpha, beta, the zeros of
 * HardSigmoid), NaN, +-inf, array lengths 0..40 and 1003 (vector multiples, the 16-wide loop,
 * the masked tail), outputs in place over dy. Kinds computed without approximations must
 * agree bit for bit (same operations in the same order); ELU/SELU/CELU/Erf/Softplus to
 * 1e-6 relative (the exp/sigmoid approximations of cnnrt_act_avx2.h); Mish to 2e-6 of
 * |dy| * (|tanh(sp)| + |x sigmoid(x) (1 - tanh(sp)^2)|) (its derivative is a sum of two terms
 * that cancel near x = -1.19, where a relative bound on the result is meaningless; both the
 * reference's expf/log1pf/tanhf and the vector exp/reciprocal round at ~1e-7 of the terms).
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_act_grad_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

typedef struct kind_case {
  int kind;
  float alpha, beta;
  int approx; /* uses an exp/sigmoid approximation (2: Mish, bound on its terms) */
  int positive; /* v must be > 0 (Sqrt's y, Log's x) for a meaningful comparison */
} kind_case;

static const kind_case cases[] = {
    {CNNRT_GRAD_RELU, 0, 0, 0, 0},
    {CNNRT_GRAD_LEAKY_RELU, 0.01f, 0, 0, 0},
    {CNNRT_GRAD_ELU, 1.0f, 0, 1, 0},
    {CNNRT_GRAD_ELU, 0.3f, 0, 1, 0},
    {CNNRT_GRAD_SELU, 1.67326319f, 1.05070102f, 1, 0},
    {CNNRT_GRAD_CELU, 1.5f, 0, 1, 0},
    {CNNRT_GRAD_SIGMOID, 0, 0, 0, 0},
    {CNNRT_GRAD_HARD_SIGMOID, 0.2f, 0.5f, 0, 0},
    {CNNRT_GRAD_HARD_SIGMOID, 1.0f / 6.0f, 0.5f, 0, 0},
    {CNNRT_GRAD_HARD_SWISH, 0, 0, 0, 0},
    {CNNRT_GRAD_TANH, 0, 0, 0, 0},
    {CNNRT_GRAD_SOFTPLUS, 0, 0, 1, 0},
    {CNNRT_GRAD_SOFTSIGN, 0, 0, 0, 0},
    {CNNRT_GRAD_ERF, 0, 0, 1, 0},
    {CNNRT_GRAD_MISH, 0, 0, 2, 0}, /* judged against its terms (see check_kind) */
    {CNNRT_GRAD_THRESHOLDED_RELU, 1.0f, 0, 0, 0},
    {CNNRT_GRAD_CLIP, 0.0f, 6.0f, 0, 0},
    {CNNRT_GRAD_CLIP, -1.0f, 1.0f, 0, 0},
    {CNNRT_GRAD_SQRT, 0, 0, 0, 1},
    {CNNRT_GRAD_RECIPROCAL, 0, 0, 0, 0},
    {CNNRT_GRAD_EXP, 0, 0, 0, 0},
    {CNNRT_GRAD_LOG, 0, 0, 0, 1},
    {CNNRT_GRAD_ABS, 0, 0, 0, 0},
};

static double mish_worst = 0.0; /* largest Mish error relative to its terms */

static int64_t ulp_diff(float a, float b) {
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  if (ia < 0) ia = (int32_t)(0x80000000u - (uint32_t)ia);
  if (ib < 0) ib = (int32_t)(0x80000000u - (uint32_t)ib);
  return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* Fills v with values that hit the kind's boundaries every few elements. */
static void fill(const kind_case *c, int64_t n, float *v, float *dy, int specials) {
  const float edges[] = {0.0f, -0.0f, 3.0f, -3.0f, c->alpha, c->beta, 6.0f, 1.0f, -1.0f,
                         (1.0f - c->beta) / (c->alpha != 0 ? c->alpha : 1.0f),
                         -c->beta / (c->alpha != 0 ? c->alpha : 1.0f), NAN, INFINITY, -INFINITY};
  const int n_edges = specials ? (int)(sizeof edges / sizeof edges[0]) : 11;
  for (int64_t i = 0; i < n; i++) {
    v[i] = 8.0f * urand();
    if (i % 5 == 3) {
      v[i] = edges[(i / 5) % n_edges];
    }
    if (c->positive) {
      v[i] = fabsf(v[i]) + 0.01f;
    }
    dy[i] = urand();
  }
}

static void check_kind(const kind_case *c, int64_t n, int specials) {
  float *v = malloc(sizeof(float) * (size_t)(n + 1));
  float *dy = malloc(sizeof(float) * (size_t)(n + 1));
  float *want = malloc(sizeof(float) * (size_t)(n + 1));
  float *got = malloc(sizeof(float) * (size_t)(n + 1));
  fill(c, n, v, dy, specials);
  cnnrt_f32_act_grad_ref(c->kind, c->alpha, c->beta, n, v, dy, want);
  memcpy(got, dy, sizeof(float) * (size_t)n);
  got[n] = 12345.0f; /* guard: the masked tail stores nothing past n */
  cnnrt_f32_act_grad_avx2(c->kind, c->alpha, c->beta, n, v, got, got); /* in place over dy */
  assert_true(got[n] == 12345.0f);
  for (int64_t i = 0; i < n; i++) {
    const float a = got[i], b = want[i];
    int ok;
    if (b != b) {
      ok = a != a;
    } else if (isinf(b)) {
      ok = a == b;
    } else if (c->approx == 2) {
      const double x = v[i], e = exp(x), t = tanh(log1p(e)), sg = 1.0 / (1.0 + exp(-x));
      const double terms = fabs(t) + fabs(x * sg * (1.0 - t * t));
      ok = fabs((double)a - (double)b) <= 2e-6 * fabs((double)dy[i]) * terms + 1e-30;
      if (fabs((double)a - (double)b) > mish_worst * fabs((double)dy[i]) * terms) {
        mish_worst = fabs((double)a - (double)b) / (fabs((double)dy[i]) * terms + 1e-300);
      }
    } else if (c->approx) {
      ok = fabsf(a - b) <= 1e-6f * fabsf(b) + 1e-30f;
    } else {
      ok = ulp_diff(a, b) == 0 || (a == 0.0f && b == 0.0f);
    }
    if (!ok) {
      fprintf(stderr, "kind %d alpha %g beta %g n %lld i %lld: v %.9g dy %.9g got %.9g want %.9g\n",
              c->kind, (double)c->alpha, (double)c->beta, (long long)n, (long long)i,
              (double)v[i], (double)dy[i], (double)a, (double)b);
    }
    assert_true(ok);
  }
  free(v);
  free(dy);
  free(want);
  free(got);
}

static void test_all_kinds_all_lengths(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    for (int64_t n = 0; n <= 40; n++) {
      check_kind(&cases[k], n, 0);
    }
    check_kind(&cases[k], 1003, 0);
  }
}

static void test_special_values(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    check_kind(&cases[k], 4099, 1);
  }
}

/* Every kind of the enum has a vector form. */
static void test_coverage(void **state) {
  (void)state;
  int n_vector = 0;
  for (int k = 0; k < CNNRT_GRAD_COUNT; k++) {
    n_vector += cnnrt_act_grad_has_avx2(k);
  }
  assert_int_equal(n_vector, CNNRT_GRAD_COUNT);
  printf("mish: worst error %.3g of its terms\n", mish_worst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_kinds_all_lengths),
      cmocka_unit_test(test_special_values),
      cmocka_unit_test(test_coverage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
