/* test_norm_grad_avx2.c — runtime/cnnrt_norm_grad_avx2.h against the scalar references of
 * cnnrt_norm_grad.h (double sums; themselves checked against finite differences in
 * test_grad.c and against PyTorch by the grad tests): BatchNormalization gradients in
 * inference and training mode for batch 1..3, channel counts 1, 3, 17, planes of 1 (1x1
 * images), 7, 8, 9, 49, 300 and 784 elements (vector multiples, remainders, several 256-element
 * blocks), data centred far from zero (mean 100, std 0.1: the cancellation the x - m_f form
 * exists for), optional outputs NULL, channels split over 1..4 tasks run in reverse order;
 * Softmax and LogSoftmax gradients along contiguous and strided axes with lengths and inner
 * sizes around the vector width. Errors are measured as max |got - want| / max |want| per
 * output (for the training-mode dx: or the largest term scale * inv * dy when that is larger,
 * as for a channel of one element, whose dx is 0 by cancellation); the bound is 2e-6 (float
 * rounding of sums of up to 3000 terms); 1e-5 for the per-channel sums (dscale, dbias, dmean,
 * dvar), which cancel: float partial sums over 256 elements, added in double).
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_norm_grad_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

static double worst = 0.0;

/* Relative to max |want|, or to `floor` when that is larger (outputs that are sums of
 * cancelling terms, e.g. dx of a channel with one element, are judged against the terms). */
static void expect_close(const char *what, const float *got, const float *want, int64_t len,
                         double tol, double floor) {
  double maxref = floor, maxerr = 0.0;
  for (int64_t i = 0; i < len; i++) {
    maxref = fmax(maxref, fabs((double)want[i]));
    maxerr = fmax(maxerr, fabs((double)got[i] - (double)want[i]));
  }
  const double rel = maxref > 0 ? maxerr / maxref : maxerr;
  if (rel > worst) {
    worst = rel;
  }
  if (!(rel <= tol)) {
    fprintf(stderr, "%s: len %lld rel err %.3g (max ref %.3g)\n", what, (long long)len, rel,
            maxref);
  }
  assert_true(rel <= tol);
}

static float *alloc_f(int64_t n) { return malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)); }

static void bn_case(int64_t n, int64_t c, int64_t spatial, float centre, float spread, int tasks,
                    int with_params) {
  const int64_t total = n * c * spatial;
  float *x = alloc_f(total), *dy = alloc_f(total), *dx0 = alloc_f(total), *dx1 = alloc_f(total);
  float *scale = alloc_f(c), *mean = alloc_f(c), *var = alloc_f(c);
  float *p0 = alloc_f(4 * c), *p1 = alloc_f(4 * c);
  for (int64_t i = 0; i < total; i++) {
    x[i] = centre + spread * urand();
    dy[i] = urand();
  }
  for (int64_t i = 0; i < c; i++) {
    scale[i] = 1.0f + 0.5f * urand();
    mean[i] = centre + 0.1f * spread * urand();
    var[i] = spread * spread * (0.5f + 0.4f * urand());
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const float eps = 1e-5f;
  float *ds0 = with_params ? p0 : NULL, *db0 = with_params ? p0 + c : NULL;
  float *ds1 = with_params ? p1 : NULL, *db1 = with_params ? p1 + c : NULL;

  /* training mode */
  cnnrt_f32_batchnorm_train_grad_ref(n, c, spatial, eps, x, scale, dy, dx0, ds0, db0);
  cnnrt_f32_batchnorm_train_grad_avx2(n, c, spatial, eps, x, scale, dy, dx1, ds1, db1,
                                      tasks > 1 ? &par : NULL);
  /* the terms of dx: scale * inv * dy with inv = 1 / sqrt(batch variance + eps) */
  double term = 0.0;
  for (int64_t ch = 0; ch < c; ch++) {
    double s = 0.0, sq = 0.0;
    for (int64_t b = 0; b < n; b++) {
      for (int64_t i = 0; i < spatial; i++) {
        s += x[(b * c + ch) * spatial + i];
      }
    }
    const double m = s / (double)(n * spatial);
    for (int64_t b = 0; b < n; b++) {
      for (int64_t i = 0; i < spatial; i++) {
        const double d = x[(b * c + ch) * spatial + i] - m;
        sq += d * d;
      }
    }
    term = fmax(term, fabs((double)scale[ch]) / sqrt(sq / (double)(n * spatial) + (double)eps));
  }
  double max_dy = 0.0;
  for (int64_t i = 0; i < total; i++) {
    max_dy = fmax(max_dy, fabs((double)dy[i]));
  }
  expect_close("bn train dx", dx1, dx0, total, 2e-6, term * max_dy);
  if (with_params) {
    expect_close("bn train dscale", ds1, ds0, c, 1e-5, 0.0);
    expect_close("bn train dbias", db1, db0, c, 1e-5, 0.0);
  }

  /* inference mode */
  float *dm0 = with_params ? p0 + 2 * c : NULL, *dv0 = with_params ? p0 + 3 * c : NULL;
  float *dm1 = with_params ? p1 + 2 * c : NULL, *dv1 = with_params ? p1 + 3 * c : NULL;
  cnnrt_f32_batchnorm_grad_ref(n, c, spatial, eps, x, scale, mean, var, dy, dx0, ds0, db0, dm0,
                               dv0);
  cnnrt_f32_batchnorm_grad_avx2(n, c, spatial, eps, x, scale, mean, var, dy, dx1, ds1, db1, dm1,
                                dv1, tasks > 1 ? &par : NULL);
  expect_close("bn eval dx", dx1, dx0, total, 1e-7, 0.0); /* the same single product */
  if (with_params) {
    expect_close("bn eval dscale", ds1, ds0, c, 1e-5, 0.0);
    expect_close("bn eval dbias", db1, db0, c, 1e-5, 0.0);
    expect_close("bn eval dmean", dm1, dm0, c, 1e-5, 0.0);
    expect_close("bn eval dvar", dv1, dv0, c, 1e-5, 0.0);
  }
  free(x);
  free(dy);
  free(dx0);
  free(dx1);
  free(scale);
  free(mean);
  free(var);
  free(p0);
  free(p1);
}

static void test_batchnorm(void **state) {
  (void)state;
  const int64_t batches[] = {1, 2, 3};
  const int64_t channels[] = {1, 3, 17};
  const int64_t planes[] = {1, 7, 8, 9, 49, 300, 784};
  int k = 0;
  for (size_t b = 0; b < 3; b++) {
    for (size_t c = 0; c < 3; c++) {
      for (size_t s = 0; s < sizeof planes / sizeof planes[0]; s++) {
        k++;
        bn_case(batches[b], channels[c], planes[s], 0.3f, 2.0f, 1 + k % 4, k % 3 != 0);
      }
    }
  }
  printf("batchnorm: worst rel err %.3g\n", worst);
}

/* Data far from zero relative to its spread. */
static void test_batchnorm_offset(void **state) {
  (void)state;
  worst = 0.0;
  bn_case(2, 5, 300, 100.0f, 0.1f, 2, 1);
  bn_case(3, 4, 49, -40.0f, 0.05f, 1, 1);
  bn_case(1, 3, 1000, 1000.0f, 1.0f, 3, 1);
  printf("batchnorm offset: worst rel err %.3g\n", worst);
}

static void softmax_case(int64_t outer, int64_t len, int64_t inner) {
  const int64_t total = outer * len * inner;
  float *y = alloc_f(total), *ly = alloc_f(total), *dy = alloc_f(total);
  float *dx0 = alloc_f(total), *dx1 = alloc_f(total);
  /* a real softmax output, and its log */
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      double s = 0.0;
      for (int64_t k = 0; k < len; k++) {
        const int64_t j = (o * len + k) * inner + i;
        y[j] = expf(3.0f * urand());
        s += y[j];
      }
      for (int64_t k = 0; k < len; k++) {
        const int64_t j = (o * len + k) * inner + i;
        y[j] = (float)(y[j] / s);
        ly[j] = logf(y[j]);
      }
    }
  }
  for (int64_t i = 0; i < total; i++) {
    dy[i] = urand();
  }
  cnnrt_f32_softmax_grad_ref(outer, len, inner, y, dy, dx0);
  cnnrt_f32_softmax_grad_avx2(outer, len, inner, y, dy, dx1);
  expect_close("softmax dx", dx1, dx0, total, 2e-6, 0.0);
  cnnrt_f32_logsoftmax_grad_ref(outer, len, inner, ly, dy, dx0);
  cnnrt_f32_logsoftmax_grad_avx2(outer, len, inner, ly, dy, dx1);
  expect_close("logsoftmax dx", dx1, dx0, total, 2e-6, 0.0);
  free(y);
  free(ly);
  free(dy);
  free(dx0);
  free(dx1);
}

static void test_softmax(void **state) {
  (void)state;
  worst = 0.0;
  const int64_t lens[] = {1, 2, 7, 8, 9, 10, 17, 300, 1000};
  const int64_t inners[] = {1, 3, 8, 11, 16};
  for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
    for (size_t i = 0; i < sizeof inners / sizeof inners[0]; i++) {
      softmax_case(3, lens[l], inners[i]);
    }
  }
  printf("softmax: worst rel err %.3g\n", worst);
}

/* Largest |scale| * inv * |dy| over the (row or plane) groups of `len` elements: the size of
 * the terms whose cancellation gives dx (the floor of its error bound). */
static double norm_term(const float *x, const float *dy, int64_t groups, int64_t len, float eps,
                        double max_scale) {
  double term = 0.0;
  for (int64_t g = 0; g < groups; g++) {
    double s = 0.0, sq = 0.0, mdy = 0.0;
    for (int64_t i = 0; i < len; i++) {
      s += x[g * len + i];
      mdy = fmax(mdy, fabs((double)dy[g * len + i]));
    }
    const double m = len > 0 ? s / (double)len : 0.0;
    for (int64_t i = 0; i < len; i++) {
      sq += (x[g * len + i] - m) * (x[g * len + i] - m);
    }
    term = fmax(term, max_scale * mdy / sqrt((len > 0 ? sq / (double)len : 0.0) + (double)eps));
  }
  return term;
}

static void instancenorm_case(int64_t n, int64_t c, int64_t spatial, float centre, float spread,
                              int tasks, int with_params) {
  const int64_t total = n * c * spatial;
  float *x = alloc_f(total), *dy = alloc_f(total), *dx0 = alloc_f(total), *dx1 = alloc_f(total);
  float *scale = alloc_f(c), *p0 = alloc_f(2 * c), *p1 = alloc_f(2 * c);
  for (int64_t i = 0; i < total; i++) {
    x[i] = centre + spread * urand();
    dy[i] = urand();
  }
  double max_scale = 0.0;
  for (int64_t i = 0; i < c; i++) {
    scale[i] = 1.0f + 0.5f * urand();
    max_scale = fmax(max_scale, fabs((double)scale[i]));
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const float eps = 1e-5f;
  cnnrt_f32_instancenorm_grad_ref(n, c, spatial, eps, x, scale, dy, dx0,
                                  with_params ? p0 : NULL, with_params ? p0 + c : NULL);
  cnnrt_f32_instancenorm_grad_avx2(n, c, spatial, eps, x, scale, dy, dx1,
                                   with_params ? p1 : NULL, with_params ? p1 + c : NULL,
                                   tasks > 1 ? &par : NULL);
  expect_close("instancenorm dx", dx1, dx0, total, 2e-6,
               norm_term(x, dy, n * c, spatial, eps, max_scale));
  if (with_params) {
    expect_close("instancenorm dscale", p1, p0, c, 1e-5, 0.0);
    expect_close("instancenorm dbias", p1 + c, p0 + c, c, 1e-5, 0.0);
  }
  free(x);
  free(dy);
  free(dx0);
  free(dx1);
  free(scale);
  free(p0);
  free(p1);
}

static void test_instancenorm(void **state) {
  (void)state;
  worst = 0.0;
  const int64_t batches[] = {1, 2, 3};
  const int64_t channels[] = {1, 3, 17};
  const int64_t planes[] = {1, 7, 8, 9, 49, 300, 784};
  int k = 0;
  for (size_t b = 0; b < 3; b++) {
    for (size_t c = 0; c < 3; c++) {
      for (size_t s = 0; s < sizeof planes / sizeof planes[0]; s++) {
        k++;
        instancenorm_case(batches[b], channels[c], planes[s], 0.3f, 2.0f, 1 + k % 4, k % 3 != 0);
      }
    }
  }
  instancenorm_case(2, 5, 300, 100.0f, 0.1f, 2, 1);
  instancenorm_case(1, 3, 1000, 1000.0f, 1.0f, 3, 1);
  instancenorm_case(2, 9, 49, 1000.0f, 0.5f, 4, 1);
  printf("instancenorm: worst rel err %.3g\n", worst);
}

static void layernorm_case(int64_t outer, int64_t inner, float centre, float spread, int tasks,
                           int with_scale, int with_params) {
  const int64_t total = outer * inner;
  float *x = alloc_f(total), *dy = alloc_f(total), *dx0 = alloc_f(total), *dx1 = alloc_f(total);
  float *scale = alloc_f(inner), *p0 = alloc_f(2 * inner), *p1 = alloc_f(2 * inner);
  for (int64_t i = 0; i < total; i++) {
    x[i] = centre + spread * urand();
    dy[i] = urand();
  }
  double max_scale = with_scale ? 0.0 : 1.0;
  for (int64_t i = 0; i < inner; i++) {
    scale[i] = 1.0f + 0.5f * urand();
    max_scale = fmax(max_scale, with_scale ? fabs((double)scale[i]) : 1.0);
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const float eps = 1e-5f;
  const float *sc = with_scale ? scale : NULL;
  cnnrt_f32_layernorm_grad_ref(outer, inner, eps, x, sc, dy, dx0, with_params ? p0 : NULL,
                               with_params ? p0 + inner : NULL);
  cnnrt_f32_layernorm_grad_avx2(outer, inner, eps, x, sc, dy, dx1, with_params ? p1 : NULL,
                                with_params ? p1 + inner : NULL, tasks > 1 ? &par : NULL);
  expect_close("layernorm dx", dx1, dx0, total, 2e-6,
               norm_term(x, dy, outer, inner, eps, max_scale));
  if (with_params) {
    /* float sums over the rows in both (the reference adds rounded products): judged against
     * the largest |dy * xhat| term times the row count */
    expect_close("layernorm dscale", p1, p0, inner, 1e-5, 0.0);
    expect_close("layernorm dbias", p1 + inner, p0 + inner, inner, 1e-6, 0.0);
  }
  free(x);
  free(dy);
  free(dx0);
  free(dx1);
  free(scale);
  free(p0);
  free(p1);
}

static void test_layernorm(void **state) {
  (void)state;
  worst = 0.0;
  const int64_t outers[] = {1, 2, 5, 12};
  const int64_t inners[] = {1, 3, 7, 8, 9, 17, 49, 300, 784};
  int k = 0;
  for (size_t o = 0; o < sizeof outers / sizeof outers[0]; o++) {
    for (size_t i = 0; i < sizeof inners / sizeof inners[0]; i++) {
      k++;
      layernorm_case(outers[o], inners[i], 0.3f, 2.0f, 1 + k % 4, k % 2, k % 3 != 0);
    }
  }
  layernorm_case(4, 300, 100.0f, 0.1f, 2, 1, 1);
  layernorm_case(3, 1000, 1000.0f, 1.0f, 3, 1, 1);
  layernorm_case(6, 49, 1000.0f, 0.5f, 4, 0, 0);
  printf("layernorm: worst rel err %.3g\n", worst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_batchnorm_offset),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_instancenorm),
      cmocka_unit_test(test_layernorm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
