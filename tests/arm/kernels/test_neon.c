/* test_neon.c — the NEON kernels against the scalar references, cross-built for aarch64 and
 * armv7 and run under qemu-user (tests/arm/CMakeLists.txt).
 *
 * Covered: the packed GEMM convolution (both weight layouts, mr 4 and 8, split into 1..3 tasks:
 * tile multiples and remainders of rows and columns, 1x1 images, channel counts that are not
 * multiples of the vector width, several k blocks, strides, dilations, padding, residual in and
 * out of place, epilogue activations) against cnnrt_f32_conv_ref; the portable packed fallback
 * cnnrt_f32_conv_packed_mr_ref likewise; depthwise against cnnrt_f32_conv_ref with group = c;
 * GEMV against cnnrt_f32_gemm_ref; the activations against double-precision libm; softmax
 * against cnnrt_f32_softmax_ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cnnrt_act_neon.h"
#include "cnnrt_conv.h"
#include "cnnrt_dwconv_neon.h"
#include "cnnrt_gemm.h"
#include "cnnrt_gemm_neon.h"
#include "cnnrt_gemv_neon.h"
#include "cnnrt_norm.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon.c is built for NEON targets only"
#endif

static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_buf(int64_t n, unsigned *seed) {
  float *b = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  assert_non_null(b);
  for (int64_t i = 0; i < n; i++) {
    b[i] = frand(seed);
  }
  return b;
}

static cnnrt_conv_params conv_params(int64_t n, int64_t ci, int64_t co, int64_t group, int64_t ih,
                                     int64_t iw, int64_t k, int64_t s, int64_t d, int64_t pad,
                                     int act) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = group;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  const int64_t dims[2] = {ih, iw};
  for (int a = 0; a < 2; a++) {
    p.in[a] = dims[a];
    p.kernel[a] = k;
    p.stride[a] = s;
    p.dilation[a] = d;
    p.pad_begin[a] = pad;
    p.out[a] = (dims[a] + 2 * pad - ((k - 1) * d + 1)) / s + 1;
  }
  p.act = act;
  p.alpha = act == CNNRT_ACT_CLIP ? -0.25f : 0.1f;
  p.beta = 0.5f;
  return p;
}

static void expect_close(const float *got, const float *want, int64_t n, double tol,
                         const char *what) {
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs((double)got[i] - (double)want[i]);
    if (!(d <= tol * (1.0 + fabs((double)want[i])))) {
      fail_msg("%s: [%lld] got %.9g want %.9g", what, (long long)i, (double)got[i],
               (double)want[i]);
    }
  }
}

/* One convolution case through the NEON GEMM (mr 4 and 8, 1..3 tasks, residual in place or
 * not) and the portable packed fallback, against cnnrt_f32_conv_ref. */
static void conv_case(int64_t n, int64_t ci, int64_t co, int64_t ih, int64_t iw, int64_t k,
                      int64_t s, int64_t d, int64_t pad, int act, int use_res) {
  const cnnrt_conv_params p = conv_params(n, ci, co, 1, ih, iw, k, s, d, pad, act);
  const int64_t kk = ci * k * k, plane = p.out[0] * p.out[1];
  const int64_t xn = n * ci * ih * iw, yn = n * co * plane;
  unsigned seed = (unsigned)(ci * 131 + co * 7 + ih * 3 + k);
  float *x = rand_buf(xn, &seed), *w = rand_buf(co * kk, &seed), *b = rand_buf(co, &seed);
  float *r = rand_buf(yn, &seed);
  float *want = malloc(sizeof(float) * (size_t)yn), *got = malloc(sizeof(float) * (size_t)yn);
  cnnrt_f32_conv_ref(&p, x, w, b, use_res ? r : NULL, want);
  char what[160];
  snprintf(what, sizeof what, "conv n%lld ci%lld co%lld %lldx%lld k%lld s%lld d%lld p%lld act%d res%d",
           (long long)n, (long long)ci, (long long)co, (long long)ih, (long long)iw, (long long)k,
           (long long)s, (long long)d, (long long)pad, act, use_res);
  const double tol = 2e-6 * (double)kk;
  const int64_t scratch_bytes = cnnrt_f32_conv_gemm_neon_scratch_bytes(&p);
  for (int64_t mr = 4; mr <= 8; mr += 4) {
    float *wp = malloc((size_t)cnnrt_f32_pack_a_mr_bytes(co, kk, mr));
    cnnrt_f32_pack_a_mr(co, kk, mr, w, wp);
    cnnrt_f32_conv_packed_mr_ref(&p, x, wp, mr, b, use_res ? r : NULL, got);
    expect_close(got, want, yn, tol, what);
    for (int64_t tasks = 1; tasks <= 3; tasks++) {
      for (int in_place = 0; in_place <= (use_res ? 1 : 0); in_place++) {
        unsigned char *scratch = malloc((size_t)(scratch_bytes * tasks));
        cnnrt_conv_neon_task t = {&p, x, wp, b, NULL, got, scratch, scratch_bytes, tasks, mr, NULL, NULL, NULL};
        if (use_res) {
          if (in_place) { /* the residual is the output buffer */
            memcpy(got, r, sizeof(float) * (size_t)yn);
            t.residual = got;
          } else {
            t.residual = r;
          }
        }
        for (int64_t i = 0; i < tasks; i++) {
          cnnrt_conv_gemm_neon_task(&t, i);
        }
        expect_close(got, want, yn, tol, what);
        free(scratch);
      }
    }
    free(wp);
  }
  free(x);
  free(w);
  free(b);
  free(r);
  free(want);
  free(got);
}

static void test_conv_gemm(void **state) {
  (void)state;
  /* 1x1 convolutions: rows 1..33 (tile multiples and remainders), pixels 1..100 */
  static const int64_t cos[] = {1, 3, 4, 7, 8, 9, 12, 16, 17, 33};
  static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {3, 4}, {5, 5}, {7, 7}, {10, 10}};
  for (size_t a = 0; a < sizeof cos / sizeof cos[0]; a++) {
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
      conv_case(1, 5, cos[a], sizes[b][0], sizes[b][1], 1, 1, 1, 0, CNNRT_ACT_NONE, 0);
    }
  }
  /* 3x3 pad 1 and stride 2, activations, residual, batch 2 */
  conv_case(2, 3, 17, 9, 11, 3, 1, 1, 1, CNNRT_ACT_RELU, 1);
  conv_case(1, 6, 16, 14, 14, 3, 2, 1, 1, CNNRT_ACT_CLIP, 0);
  conv_case(1, 5, 9, 13, 7, 3, 2, 1, 0, CNNRT_ACT_SIGMOID, 1);
  conv_case(1, 4, 8, 1, 1, 3, 1, 1, 1, CNNRT_ACT_LEAKY_RELU, 1);
  conv_case(1, 3, 24, 16, 16, 7, 2, 1, 3, CNNRT_ACT_RELU, 0); /* a ResNet stem */
  conv_case(1, 2, 5, 12, 12, 5, 1, 2, 4, CNNRT_ACT_SILU, 0);  /* dilation 2 */
  conv_case(1, 40, 13, 6, 5, 3, 1, 1, 1, CNNRT_ACT_HARD_SWISH, 1); /* k 360: two k blocks */
  conv_case(1, 64, 20, 8, 8, 3, 1, 1, 1, CNNRT_ACT_TANH, 1);       /* k 576: three k blocks */
  conv_case(1, 600, 9, 3, 3, 1, 1, 1, 0, CNNRT_ACT_NONE, 1);       /* 1x1, k 600 */
  conv_case(1, 16, 10, 60, 40, 1, 1, 1, 0, CNNRT_ACT_RELU, 0);     /* several column blocks */
}

static void dw_case(int64_t n, int64_t c, int64_t ih, int64_t iw, int64_t k, int64_t s,
                    int64_t d, int64_t pad, int act, int use_res) {
  const cnnrt_conv_params p = conv_params(n, c, c, c, ih, iw, k, s, d, pad, act);
  const int64_t yn = n * c * p.out[0] * p.out[1];
  unsigned seed = (unsigned)(c * 17 + ih * 5 + iw + k * 3 + s);
  float *x = rand_buf(n * c * ih * iw, &seed), *w = rand_buf(c * k * k, &seed);
  float *b = rand_buf(c, &seed), *r = rand_buf(yn, &seed);
  float *want = malloc(sizeof(float) * (size_t)yn), *got = malloc(sizeof(float) * (size_t)yn);
  cnnrt_f32_conv_ref(&p, x, w, b, use_res ? r : NULL, want);
  char what[160];
  snprintf(what, sizeof what, "dwconv n%lld c%lld %lldx%lld k%lld s%lld d%lld p%lld act%d res%d",
           (long long)n, (long long)c, (long long)ih, (long long)iw, (long long)k, (long long)s,
           (long long)d, (long long)pad, act, use_res);
  cnnrt_f32_dwconv2d_neon(&p, x, w, b, use_res ? r : NULL, got);
  expect_close(got, want, yn, 1e-5, what);
  if (use_res) { /* in place: y is the residual; and split into two plane ranges */
    memcpy(got, r, sizeof(float) * (size_t)yn);
    const int64_t planes = n * c;
    cnnrt_f32_dwconv2d_neon_range(&p, x, w, b, got, got, 0, planes / 2);
    cnnrt_f32_dwconv2d_neon_range(&p, x, w, b, got, got, planes / 2, planes);
    expect_close(got, want, yn, 1e-5, what);
  }
  free(x);
  free(w);
  free(b);
  free(r);
  free(want);
  free(got);
}

static void test_dwconv(void **state) {
  (void)state;
  static const int64_t sizes[][2] = {{1, 1}, {2, 2}, {5, 5}, {7, 9}, {14, 14}, {17, 23}};
  for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++) {
    const int64_t h = sizes[a][0], w = sizes[a][1];
    dw_case(1, 3, h, w, 3, 1, 1, 1, CNNRT_ACT_CLIP, 0);
    dw_case(2, 5, h, w, 3, 2, 1, 1, CNNRT_ACT_RELU, 1);
    dw_case(1, 4, h, w, 5, 1, 1, 2, CNNRT_ACT_NONE, 1);
    dw_case(1, 2, h, w, 5, 2, 1, 2, CNNRT_ACT_SILU, 0);
    dw_case(1, 3, h, w, 3, 1, 2, 2, CNNRT_ACT_HARD_SWISH, 0);
    if (h >= 3 && w >= 3) {
      dw_case(1, 3, h, w, 3, 2, 1, 0, CNNRT_ACT_NONE, 1);
      dw_case(1, 3, h, w, 3, 3, 1, 0, CNNRT_ACT_NONE, 0); /* stride 3: the scalar path */
    }
  }
}

static void test_gemv(void **state) {
  (void)state;
  static const int64_t ks[] = {1, 3, 4, 15, 16, 17, 100, 1000};
  static const int64_t ns[] = {1, 5, 10};
  unsigned seed = 3;
  for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++) {
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
      for (int variant = 0; variant < 3; variant++) {
        const int64_t k = ks[a], n = ns[c];
        cnnrt_gemm_params p;
        memset(&p, 0, sizeof p);
        p.m = 1;
        p.n = n;
        p.k = k;
        p.trans_b = 1;
        p.alpha = variant == 2 ? 0.5f : 1.0f;
        p.beta = variant == 0 ? 0.0f : 1.5f;
        p.c_rows = 1;
        p.c_cols = variant == 2 ? 1 : n;
        p.act = variant == 1 ? CNNRT_ACT_RELU : CNNRT_ACT_NONE;
        float *av = rand_buf(k, &seed), *bm = rand_buf(n * k, &seed), *cv = rand_buf(n, &seed);
        float want[10], got[10];
        cnnrt_f32_gemm_ref(&p, av, bm, variant == 0 ? NULL : cv, want);
        cnnrt_f32_gemv_t_neon(&p, av, bm, variant == 0 ? NULL : cv, got);
        expect_close(got, want, n, 1e-6 * (double)k, "gemv");
        free(av);
        free(bm);
        free(cv);
      }
    }
  }
}

/* ---- activations: against double-precision libm ---- */

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_mish(double x) { return x * tanh(log1p(exp(x))); }
static double ref_silu(double x) { return x * ref_sigmoid(x); }
static double ref_hard_swish(double x) {
  const double t = x / 6.0 + 0.5;
  return x * (t < 0 ? 0 : (t > 1 ? 1 : t));
}
static double ref_relu(double x) { return x < 0 ? 0 : x; }

typedef void (*array_fn)(int64_t, const float *, float *);

/* Relative error (absolute below FLT_MIN) over a sweep; n is not a multiple of 4 so the tail
 * path is used too. */
static void check_act(const char *name, array_fn f, double (*ref)(double), float lo, float hi,
                      double tol) {
  const int64_t n = 20003;
  float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) {
    x[i] = lo + (hi - lo) * (float)i / (float)(n - 1);
  }
  x[0] = 0.0f;
  x[1] = -0.0f;
  x[2] = 1e-20f;
  x[3] = -3.0f;
  f(n, x, y);
  double worst = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double want = ref((double)x[i]);
    const double den = fabs(want) > (double)FLT_MIN ? fabs(want) : (double)FLT_MIN;
    const double err = fabs((double)y[i] - want) / den;
    if (err > worst) {
      worst = err;
    }
    if (!(err <= tol)) {
      fail_msg("%s(%.9g): got %.9g want %.9g (rel %.3g)", name, (double)x[i], (double)y[i], want,
               err);
    }
  }
  /* the tail: a lone element must equal the same element computed inside a vector */
  float one;
  f(1, &x[5], &one);
  assert_true(one == y[5]);
  printf("  %-10s max rel err %.3g on [%g, %g]\n", name, worst, (double)lo, (double)hi);
  free(x);
  free(y);
}

static void test_activations(void **state) {
  (void)state;
  check_act("exp", cnnrt_f32_exp_neon, exp, -87.0f, 88.0f, 1e-6);
  check_act("sigmoid", cnnrt_f32_sigmoid_neon, ref_sigmoid, -80.0f, 80.0f, 1e-6);
  check_act("tanh", cnnrt_f32_tanh_neon, tanh, -20.0f, 20.0f, 1e-6);
  check_act("erf", cnnrt_f32_erf_neon, erf, -6.0f, 6.0f, 1e-6);
  check_act("silu", cnnrt_f32_silu_neon, ref_silu, -80.0f, 80.0f, 1e-6);
  check_act("mish", cnnrt_f32_mish_neon, ref_mish, -80.0f, 80.0f, 1e-6);
  check_act("hard_swish", cnnrt_f32_hard_swish_neon, ref_hard_swish, -10.0f, 10.0f, 1e-6);
  check_act("relu", cnnrt_f32_relu_neon, ref_relu, -10.0f, 10.0f, 0.0);
  /* special values */
  const float sp[8] = {INFINITY, -INFINITY, NAN, 100.0f, -200.0f, 0.0f, -0.0f, 1.0f};
  float e[8], t[8];
  cnnrt_f32_exp_neon(8, sp, e);
  assert_true(isinf(e[0]) && e[0] > 0 && e[1] == 0.0f && isnan(e[2]) && isinf(e[3]) &&
              e[4] == 0.0f && e[5] == 1.0f);
  cnnrt_f32_tanh_neon(8, sp, t);
  /* tanh(+-inf) is tanh(+-9) (1 - 3e-8, rounds to 1 - 2^-24) */
  assert_true(fabsf(t[0] - 1.0f) <= 1e-7f && fabsf(t[1] + 1.0f) <= 1e-7f && isnan(t[2]));
  assert_true(t[6] == 0.0f && signbit(t[6]));
  /* the epilogue activations against cnnrt_apply_act */
  for (int act = CNNRT_ACT_NONE; act <= CNNRT_ACT_TANH; act++) {
    float xs[11] = {-7.0f, -3.0f, -1.0f, -0.3f, 0.0f, 0.2f, 0.7f, 1.5f, 4.0f, 9.0f, -0.0f};
    float ys[11];
    cnnrt_f32_act_neon(act, 0.2f, 0.6f, 11, xs, ys);
    for (int i = 0; i < 11; i++) {
      const float want = cnnrt_apply_act(act, 0.2f, 0.6f, xs[i]);
      assert_true(fabsf(ys[i] - want) <= 1e-6f * (1.0f + fabsf(want)));
    }
  }
}

static void test_softmax(void **state) {
  (void)state;
  static const int64_t lens[] = {1, 3, 4, 5, 8, 17, 1000};
  unsigned seed = 11;
  for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++) {
    const int64_t outer = 3, len = lens[a];
    float *x = rand_buf(outer * len, &seed);
    for (int64_t i = 0; i < outer * len; i++) {
      x[i] *= 20.0f;
    }
    float *want = malloc(sizeof(float) * (size_t)(outer * len));
    float *got = malloc(sizeof(float) * (size_t)(outer * len));
    cnnrt_f32_softmax_ref(outer, len, 1, x, want);
    cnnrt_f32_softmax_neon(outer, len, x, got);
    expect_close(got, want, outer * len, 2e-6, "softmax");
    cnnrt_f32_softmax_neon(outer, len, x, x); /* in place */
    expect_close(x, want, outer * len, 2e-6, "softmax in place");
    free(x);
    free(want);
    free(got);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_gemm), cmocka_unit_test(test_dwconv),
      cmocka_unit_test(test_gemv),      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_softmax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
