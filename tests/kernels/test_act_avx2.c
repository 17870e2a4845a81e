/* test_act_avx2.c — cnnrt_act_avx2.h against double-precision libm: max error over a dense
 * sweep of [-100, 100], a geometric sweep of magnitudes 2^-149..2^7 (tiny arguments, where
 * relative accuracy is hardest for odd functions), and the special values ±0, ±inf, NaN and
 * denormals; the epilogue activation against cnnrt_apply_act (including its NaN semantics);
 * softmax against a naive double implementation; tails, in-place use and position
 * independence of the array kernels.
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_act_avx2.h"

/* The -mavx512f build of this test (test_act_avx512) must exercise the AVX-512 forms. */
#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_ACT_AVX512)
#error "built for AVX-512 but cnnrt_act_avx2.h did not enable its AVX-512 forms"
#endif

#if defined(__AVX2__) && defined(__FMA__)

/* ---- references in double ---------------------------------------------------------------- */

static double ref_exp(double x) { return exp(x); }
static double ref_sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
static double ref_tanh(double x) { return tanh(x); }
static double ref_erf(double x) { return erf(x); }
static double ref_silu(double x) { return x * ref_sigmoid(x); }
static double ref_softplus(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double ref_mish(double x) { return x * tanh(ref_softplus(x)); }
static double ref_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double ref_hard_swish(double x) {
  double t = x / 6.0 + 0.5;
  return x * (t < 0 ? 0 : (t > 1 ? 1 : t));
}
static double ref_relu(double x) { return x < 0 ? 0 : x; }

typedef void (*array_fn)(int64_t n, const float *x, float *y);
typedef double (*ref_fn)(double);

/* Error of one result: relative, with results below FLT_MIN judged against FLT_MIN (a denormal
 * cannot carry more relative precision). Special results (inf, NaN) must match exactly. */
static double err_of(float got, double want) {
  if (isnan(want)) {
    return isnan(got) ? 0.0 : INFINITY;
  }
  if (isinf(want) || fabs(want) > FLT_MAX) {
    return (double)got == (want > 0 ? INFINITY : -INFINITY) ? 0.0 : INFINITY;
  }
  if (isnan(got) || isinf(got)) {
    return INFINITY;
  }
  const double den = fabs(want) > FLT_MIN ? fabs(want) : FLT_MIN;
  return fabs((double)got - want) / den;
}

#define SWEEP_N (1 << 20)

/* The sweep points: dense linear [-100, 100] then ±2^k (1 + j/32). */
static int64_t make_sweep(float **out) {
  const int64_t nlin = SWEEP_N + 1;
  const int64_t ngeo = 2 * (157 * 32);
  float *x = malloc((size_t)(nlin + ngeo) * sizeof(float));
  assert_non_null(x);
  int64_t n = 0;
  for (int64_t i = 0; i < nlin; i++) {
    x[n++] = (float)(-100.0 + 200.0 * (double)i / SWEEP_N);
  }
  for (int k = -149; k <= 7; k++) {
    for (int j = 0; j < 32; j++) {
      const float v = ldexpf(1.0f + (float)j / 32.0f, k);
      x[n++] = v;
      x[n++] = -v;
    }
  }
  *out = x;
  return n;
}

static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
                                 1e-45f, -1e-45f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN,
                                 FLT_MAX, -FLT_MAX, 88.72283f, 88.7228394f, -87.33654f,
                                 -103.9720840454f, -103.9720916748f, -104.0f, -1e30f, 1e30f};
#define NSPECIAL ((int64_t)(sizeof specials / sizeof specials[0]))

/* Max error of f over [lo, hi) restricted points; prints the worst point. */
static double max_err(const char *name, array_fn f, ref_fn ref, const float *x, int64_t n,
                      double lo, double hi) {
  float *y = malloc((size_t)n * sizeof(float));
  assert_non_null(y);
  f(n, x, y);
  double worst = 0.0;
  int64_t wi = -1;
  for (int64_t i = 0; i < n; i++) {
    if (!(x[i] >= lo && x[i] <= hi)) {
      continue;
    }
    const double e = err_of(y[i], ref((double)x[i]));
    if (!(e <= worst)) {
      worst = e;
      wi = i;
    }
  }
  if (wi >= 0) {
    printf("  %-10s max err %.3g at x = %.9g (got %.9g want %.9g)\n", name, worst,
           (double)x[wi], (double)y[wi], ref((double)x[wi]));
  }
  free(y);
  return worst;
}

/* Special values: exact for inf/NaN results, else the error metric. */
static void check_specials(const char *name, array_fn f, ref_fn ref, double tol) {
  float y[NSPECIAL];
  f(NSPECIAL, specials, y);
  for (int64_t i = 0; i < NSPECIAL; i++) {
    const double want = ref((double)specials[i]);
    const double e = err_of(y[i], want);
    if (!(e <= tol)) {
      fail_msg("%s(%.9g) = %.9g, want %.9g", name, (double)specials[i], (double)y[i], want);
    }
    /* signs of zero follow the function: zero in, zero out of the same sign */
    if (specials[i] == 0.0f && want == 0.0 && !signbit(want) != !signbit(y[i])) {
      fail_msg("%s(%.9g): sign of zero", name, (double)specials[i]);
    }
  }
}

static float *sweep_x;
static int64_t sweep_n;

static int setup(void **state) {
  (void)state;
  sweep_n = make_sweep(&sweep_x);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(sweep_x);
  return 0;
}

static void check_fn(const char *name, array_fn f, ref_fn ref, double tol, double lo,
                     double hi) {
  const double e = max_err(name, f, ref, sweep_x, sweep_n, lo, hi);
  if (!(e <= tol)) {
    fail_msg("%s: max error %.3g > %.3g", name, e, tol);
  }
  check_specials(name, f, ref, tol);
}

static void test_exp(void **state) {
  (void)state;
  check_fn("exp", cnnrt_f32_exp_avx2, ref_exp, 2e-6, -200, 200);
  /* the overflow / underflow borders exactly */
  const float xs[8] = {88.72283f, 88.7228394f, 89.0f, -103.972f, -103.9721f, -87.3365479f,
                       -100.0f, -87.0f};
  float y[8];
  cnnrt_f32_exp_avx2(8, xs, y);
  for (int i = 0; i < 8; i++) {
    assert_true(err_of(y[i], exp((double)xs[i])) <= 2e-6);
  }
  assert_true(isinf(y[1]) && isinf(y[2]) && y[0] < INFINITY);
}

static void test_sigmoid(void **state) {
  (void)state;
  check_fn("sigmoid", cnnrt_f32_sigmoid_avx2, ref_sigmoid, 2e-6, -200, 200);
}

static void test_tanh(void **state) {
  (void)state;
  check_fn("tanh", cnnrt_f32_tanh_avx2, ref_tanh, 2e-6, -200, 200);
}

static void test_erf(void **state) {
  (void)state;
  check_fn("erf", cnnrt_f32_erf_avx2, ref_erf, 2e-6, -200, 200);
}

static void test_silu(void **state) {
  (void)state;
  check_fn("silu", cnnrt_f32_silu_avx2, ref_silu, 2e-6, -200, 200);
}

/* The epilogue's sigmoid and SiLU (cnnrt_f32_act_avx2: the 16-lane forms in the -mavx512f
 * build of this test, which the conv / GEMM / depthwise kernels apply) over the same dense sweep
 * and special values as the array kernels. */
static void epilogue_sigmoid(int64_t n, const float *x, float *y) {
  cnnrt_f32_act_avx2(CNNRT_ACT_SIGMOID, 0.0f, 0.0f, n, x, y);
}
static void epilogue_silu(int64_t n, const float *x, float *y) {
  cnnrt_f32_act_avx2(CNNRT_ACT_SILU, 0.0f, 0.0f, n, x, y);
}

static void test_epilogue_sweep(void **state) {
  (void)state;
  check_fn("epi_sigmoid", epilogue_sigmoid, ref_sigmoid, 2e-6, -200, 200);
  check_fn("epi_silu", epilogue_silu, ref_silu, 2e-6, -200, 200);
}

static void test_mish(void **state) {
  (void)state;
  check_fn("mish", cnnrt_f32_mish_avx2, ref_mish, 2e-6, -200, 200);
}

static void test_hard_swish(void **state) {
  (void)state;
  check_fn("hard_swish", cnnrt_f32_hard_swish_avx2, ref_hard_swish, 2e-6, -200, 200);
}

static void test_relu(void **state) {
  (void)state;
  check_fn("relu", cnnrt_f32_relu_avx2, ref_relu, 0.0, -200, 200);
}

/* GELU: relative down to x = -5.6, to 3e-6 (the rounding of v = x / sqrt 2 to float alone
 * costs up to 2 v^2 * 6e-8 = 1.9e-6 there), absolute below. */
static void test_gelu(void **state) {
  (void)state;
  const double e = max_err("gelu", cnnrt_f32_gelu_avx2, ref_gelu, sweep_x, sweep_n, -5.6, 200);
  assert_true(e <= 3e-6);
  float *y = malloc((size_t)sweep_n * sizeof(float));
  assert_non_null(y);
  cnnrt_f32_gelu_avx2(sweep_n, sweep_x, y);
  for (int64_t i = 0; i < sweep_n; i++) {
    if (sweep_x[i] < -5.6f) {
      assert_true(fabs((double)y[i] - ref_gelu((double)sweep_x[i])) <= 5e-8);
    }
  }
  free(y);
  check_specials("gelu", cnnrt_f32_gelu_avx2, ref_gelu, 3e-6);
}

/* Every length 0..40, in place and out of place; each element's result must not depend on
 * where it sits (body vs. tail). */
static void test_tails(void **state) {
  (void)state;
  const array_fn fns[] = {cnnrt_f32_exp_avx2,  cnnrt_f32_sigmoid_avx2,    cnnrt_f32_tanh_avx2,
                          cnnrt_f32_erf_avx2,  cnnrt_f32_silu_avx2,       cnnrt_f32_mish_avx2,
                          cnnrt_f32_gelu_avx2, cnnrt_f32_hard_swish_avx2, cnnrt_f32_relu_avx2};
  float src[48], full[48], a[48], b[48];
  for (int i = 0; i < 48; i++) {
    src[i] = (float)(i * 37 % 23) * 0.37f - 4.1f;
  }
  for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
    fns[k](48, src, full);
    for (int n = 0; n <= 40; n++) {
      for (int i = 0; i < 48; i++) {
        a[i] = -777.0f;
        b[i] = src[i];
      }
      fns[k](n, src, a);
      fns[k](n, b, b); /* in place */
      for (int i = 0; i < 48; i++) {
        if (i < n) {
          assert_true(a[i] == full[i] && b[i] == full[i]);
        } else {
          assert_true(a[i] == -777.0f && b[i] == src[i]); /* nothing written past n */
        }
      }
    }
  }
}

/* The epilogue's array form (16 lanes under AVX-512 for sigmoid / SiLU): every length 0..40,
 * results independent of the position (the tail is the same code), nothing written past n. */
static void test_epilogue_tails(void **state) {
  (void)state;
  const int acts[] = {CNNRT_ACT_SIGMOID, CNNRT_ACT_SILU, CNNRT_ACT_TANH, CNNRT_ACT_HARD_SWISH};
  float src[48], full[48], a[48], b[48];
  for (int i = 0; i < 48; i++) {
    src[i] = (float)(i * 37 % 23) * 0.37f - 4.1f;
  }
  for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
    cnnrt_f32_act_avx2(acts[k], 0.0f, 0.0f, 48, src, full);
    for (int n = 0; n <= 40; n++) {
      for (int i = 0; i < 48; i++) {
        a[i] = -777.0f;
        b[i] = src[i];
      }
      cnnrt_f32_act_avx2(acts[k], 0.0f, 0.0f, n, src, a);
      cnnrt_f32_act_avx2(acts[k], 0.0f, 0.0f, n, b, b); /* in place */
      for (int i = 0; i < 48; i++) {
        if (i < n) {
          assert_true(a[i] == full[i] && b[i] == full[i]);
        } else {
          assert_true(a[i] == -777.0f && b[i] == src[i]);
        }
      }
    }
  }
}

/* The epilogue activation against cnnrt_apply_act, same NaN semantics. */
static void test_epilogue_act(void **state) {
  (void)state;
  const int acts[] = {CNNRT_ACT_NONE,         CNNRT_ACT_RELU,       CNNRT_ACT_LEAKY_RELU,
                      CNNRT_ACT_CLIP,         CNNRT_ACT_SIGMOID,    CNNRT_ACT_HARD_SIGMOID,
                      CNNRT_ACT_HARD_SWISH,   CNNRT_ACT_SILU,       CNNRT_ACT_TANH};
  const float ab[][2] = {{0.1f, 0.0f}, {0.0f, 6.0f}, {-1.5f, 2.0f}, {2.0f, 1.0f}, {0.2f, 0.5f}};
  enum { N = 4096 + 5 };
  static float x[N + NSPECIAL], y[N + NSPECIAL];
  for (int i = 0; i < N; i++) {
    x[i] = (float)(-12.0 + 24.0 * i / (N - 1));
  }
  memcpy(x + N, specials, sizeof specials);
  for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
    for (size_t j = 0; j < sizeof ab / sizeof ab[0]; j++) {
      const float alpha = ab[j][0], beta = ab[j][1];
      cnnrt_f32_act_avx2(acts[k], alpha, beta, N + NSPECIAL, x, y);
      for (int i = 0; i < N + NSPECIAL; i++) {
        const float want = cnnrt_apply_act(acts[k], alpha, beta, x[i]);
        if (isnan(want) || isinf(want)) {
          assert_true(isnan(want) ? isnan(y[i]) : y[i] == want);
          continue;
        }
        /* hard swish near its zero at -3: scalar v/6 + 0.5 itself is off by ~1e-8 absolute */
        double tol = 2e-6 * fabs((double)want) + 1e-38;
        if (acts[k] == CNNRT_ACT_HARD_SWISH) { /* the scalar v/6 + 0.5 cancels near v = -3 */
          tol += 1e-7 * fabs((double)x[i]);
        }
        if (acts[k] == CNNRT_ACT_HARD_SIGMOID) { /* scalar alpha*v + beta is not an fma */
          tol += 1.2e-7 * (fabs((double)alpha * x[i]) + fabs((double)beta));
        }
        if (!(fabs((double)y[i] - (double)want) <= tol)) {
          fail_msg("act %d (alpha %g beta %g) at x = %.9g: got %.9g want %.9g", acts[k],
                   (double)alpha, (double)beta, (double)x[i], (double)y[i], (double)want);
        }
      }
    }
  }
}

/* Softmax against double loops; lengths 1..40 and 1000, special values. */
static void naive_softmax(int64_t outer, int64_t len, const float *x, double *y) {
  for (int64_t o = 0; o < outer; o++) {
    double mx = -INFINITY;
    int has_nan = 0;
    for (int64_t a = 0; a < len; a++) {
      has_nan |= isnan(x[o * len + a]);
      mx = x[o * len + a] > mx ? x[o * len + a] : mx;
    }
    double s = 0.0;
    for (int64_t a = 0; a < len; a++) {
      s += exp((double)x[o * len + a] - mx);
    }
    for (int64_t a = 0; a < len; a++) {
      y[o * len + a] = has_nan ? NAN : exp((double)x[o * len + a] - mx) / s;
    }
  }
}

static void check_softmax(int64_t outer, int64_t len, const float *x) {
  const int64_t n = outer * len;
  float *y = malloc((size_t)n * sizeof(float));
  float *yi = malloc((size_t)n * sizeof(float));
  double *want = malloc((size_t)n * sizeof(double));
  assert_true(y != NULL && yi != NULL && want != NULL);
  naive_softmax(outer, len, x, want);
  cnnrt_f32_softmax_avx2(outer, len, x, y);
  memcpy(yi, x, (size_t)n * sizeof(float));
  cnnrt_f32_softmax_avx2(outer, len, yi, yi); /* in place */
  for (int64_t i = 0; i < n; i++) {
    const double tol = 4e-6 * fabs(want[i]) + 1e-30;
    if (isnan(want[i])) {
      assert_true(isnan(y[i]));
    } else if (!(fabs((double)y[i] - want[i]) <= tol)) {
      fail_msg("softmax outer %lld len %lld at %lld: got %.9g want %.9g", (long long)outer,
               (long long)len, (long long)i, (double)y[i], want[i]);
    }
    assert_memory_equal(&y[i], &yi[i], sizeof(float));
  }
  free(y);
  free(yi);
  free(want);
}

static void test_softmax(void **state) {
  (void)state;
  float x[3 * 1000];
  uint32_t s = 99u;
  for (int64_t len = 1; len <= 40; len++) {
    for (int64_t i = 0; i < 3 * len; i++) {
      s = s * 1664525u + 1013904223u;
      x[i] = (float)(s >> 8) / 8388608.0f * 30.0f - 15.0f;
    }
    check_softmax(3, len, x);
  }
  for (int64_t i = 0; i < 3000; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(s >> 8) / 8388608.0f * 100.0f - 50.0f;
  }
  check_softmax(3, 1000, x);
  /* rows: some -inf (weight 0), all -inf (NaN), a +inf (NaN), a NaN (NaN), huge spread */
  const float r[5][11] = {
      {-INFINITY, 1.0f, 2.0f, -INFINITY, 3.0f, 0.5f, -1.0f, 2.0f, 1.0f, -INFINITY, 0.0f},
      {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
       -INFINITY, -INFINITY, -INFINITY},
      {0.0f, 1.0f, INFINITY, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
      {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, NAN},
      {1e30f, -1e30f, 0.0f, 1e30f, 87.0f, -200.0f, 1.0f, 2.0f, 3.0f, 4.0f, 1e-40f}};
  check_softmax(5, 11, &r[0][0]);
  for (int row = 0; row < 5; row++) {
    check_softmax(1, 11, r[row]);
    check_softmax(1, 8, r[row]);
    check_softmax(1, 3, r[row]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exp),        cmocka_unit_test(test_sigmoid),
      cmocka_unit_test(test_tanh),       cmocka_unit_test(test_erf),
      cmocka_unit_test(test_silu),       cmocka_unit_test(test_mish),
      cmocka_unit_test(test_hard_swish), cmocka_unit_test(test_relu),
      cmocka_unit_test(test_gelu),       cmocka_unit_test(test_tails),
      cmocka_unit_test(test_epilogue_act), cmocka_unit_test(test_epilogue_sweep),
      cmocka_unit_test(test_epilogue_tails), cmocka_unit_test(test_softmax),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* no AVX2 + FMA at compile time: nothing to test */

static void test_skipped(void **state) {
  (void)state;
  print_message("cnnrt_act_avx2.h needs -mavx2 -mfma; skipped\n");
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
