/* test_neon_norm_pool_grad.c — runtime/cnnrt_norm_grad_neon.h and runtime/cnnrt_pool_grad_neon.h
 * against the scalar references of cnnrt_norm_grad.h and cnnrt_pool_grad.h (checked against
 * finite differences in tests/kernels' test_grad.c and against PyTorch by the grad tests),
 * cross-built for aarch64, ARMv7+VFPv4 and ARMv7 NEON without FMA and run under qemu-user
 * (tests/arm/CMakeLists.txt). The cases are those of tests/kernels' test_norm_grad_avx2.c and
 * test_pool_grad_avx2.c (the AVX2 forms of the same kernels), with the same bounds:
 *  - BatchNormalization gradients in inference and training mode for batch 1..3, channel
 *    counts 1, 3, 17, planes of 1 (1x1 images), 7, 8, 9, 49, 300 and 784 elements (vector
 *    multiples, remainders, several 256-element blocks), data far from zero (mean 100, std 0.1),
 *    optional outputs NULL, channels over 1..4 tasks run in reverse: dx within 2e-6 of max|ref|
 *    (or of the largest term scale * inv * dy), the inference-mode dx within 1e-7, the
 *    per-channel sums within 1e-5;
 *  - Softmax and LogSoftmax gradients along contiguous and strided axes (lengths 1..1000, inner
 *    sizes 1, 3, 8, 11, 16: vector multiples and remainders): within 2e-6;
 *  - MaxPool and AveragePool gradients for 1-D to 3-D windows, kernels 1-3, strides 1-3,
 *    dilation 2, symmetric/asymmetric pads, ceil mode, count_include_pad on and off, rows of 1
 *    to 41 elements, 1 to 5 planes over 1 to 3 tasks; MaxPool inputs with ties and NaNs,
 *    compared bit for bit; AveragePool within 1e-6 relative;
 *  - InstanceNormalization (batch 1..3, channels 1, 3, 17, the planes above, data far from
 *    zero, optional dscale/dbias) and LayerNormalization (1..12 rows of 1..784 elements, with
 *    and without scale, optional dscale/dbias) gradients, 1..4 tasks in reverse: dx within 2e-6
 *    of max|ref| (or of the largest term scale * inv * dy), the parameter sums within 1e-5;
 *  - GlobalMaxPool gradients (planes of 1 to 70 elements, ties, NaNs, -0/+0, infinities) bit
 *    for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The references (and this test's own double sums) promote float to double on purpose. */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "cnnrt_norm_grad_neon.h"
#include "cnnrt_pool_grad_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_norm_pool_grad.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

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
  cnnrt_f32_batchnorm_train_grad_neon(n, c, spatial, eps, x, scale, dy, dx1, ds1, db1,
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
  cnnrt_f32_batchnorm_grad_neon(n, c, spatial, eps, x, scale, mean, var, dy, dx1, ds1, db1, dm1,
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
  cnnrt_f32_softmax_grad_neon(outer, len, inner, y, dy, dx1);
  expect_close("softmax dx", dx1, dx0, total, 2e-6, 0.0);
  cnnrt_f32_logsoftmax_grad_ref(outer, len, inner, ly, dy, dx0);
  cnnrt_f32_logsoftmax_grad_neon(outer, len, inner, ly, dy, dx1);
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

static int n_cases = 0;
static double worst_avg = 0.0;

static void pool_case(int sp, int64_t planes, int64_t in, int64_t k, int64_t s, int64_t d,
                     int64_t pb, int64_t pe, int ceil_mode, int include_pad, int tasks,
                     int nans) {
  cnnrt_pool_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = 1;
  p.c = planes;
  p.count_include_pad = include_pad;
  int64_t in_vol = 1, out_vol = 1;
  for (int i = 0; i < sp; i++) {
    p.in[i] = i == sp - 1 ? in : 3 + i;
    p.kernel[i] = i == sp - 1 ? k : 2;
    p.stride[i] = i == sp - 1 ? s : 1;
    p.dilation[i] = i == sp - 1 ? d : 1;
    p.pad_begin[i] = i == sp - 1 ? pb : 1;
    p.pad_end[i] = i == sp - 1 ? pe : 0;
    p.out[i] = cnnrt_pool_out_dim(p.in[i], p.kernel[i], p.stride[i], p.dilation[i],
                                  p.pad_begin[i], p.pad_end[i], ceil_mode);
    if (p.out[i] < 1 || pb >= (k - 1) * d + 1 || pe >= (k - 1) * d + 1) {
      return; /* not a valid pool */
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
  }
  n_cases++;
  const int64_t nx = planes * in_vol, ny = planes * out_vol;
  float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
  float *dx0 = malloc(sizeof(float) * (size_t)nx), *dx1 = malloc(sizeof(float) * (size_t)nx);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = roundf(urand() * 4.0f) / 4.0f; /* ties */
    if (nans && i % 11 == 5) {
      x[i] = NAN;
    }
  }
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;

  memset(dx1, 0x7f, sizeof(float) * (size_t)nx); /* overwritten, not accumulated into */
  cnnrt_f32_maxpool_grad_ref(&p, x, dy, dx0);
  cnnrt_f32_maxpool_grad_neon(&p, x, dy, dx1, pp);
  for (int64_t i = 0; i < nx; i++) {
    if (memcmp(&dx0[i], &dx1[i], 4) != 0) {
      fprintf(stderr, "maxpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld: dx[%lld] %g vs %g\n",
              sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
              (long long)pe, (long long)i, (double)dx1[i], (double)dx0[i]);
    }
    assert_memory_equal(&dx0[i], &dx1[i], 4);
  }

  memset(dx1, 0x7f, sizeof(float) * (size_t)nx);
  cnnrt_f32_avgpool_grad_ref(&p, dy, dx0);
  cnnrt_f32_avgpool_grad_neon(&p, dy, dx1, pp);
  double maxref = 0.0, maxerr = 0.0;
  for (int64_t i = 0; i < nx; i++) {
    maxref = fmax(maxref, fabs((double)dx0[i]));
    maxerr = fmax(maxerr, fabs((double)dx1[i] - (double)dx0[i]));
  }
  const double rel = maxref > 0 ? maxerr / maxref : maxerr;
  worst_avg = fmax(worst_avg, rel);
  if (!(rel <= 1e-6)) {
    fprintf(stderr, "avgpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld incl %d: rel %g\n",
            sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
            (long long)pe, include_pad, rel);
  }
  assert_true(rel <= 1e-6);
  free(x);
  free(dy);
  free(dx0);
  free(dx1);
}

static void test_pool_grads(void **state) {
  (void)state;
  const int64_t widths[] = {1, 2, 7, 8, 16, 17, 28, 41};
  int t = 0;
  for (int sp = 1; sp <= 3; sp++) {
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
      for (int64_t k = 1; k <= 3; k++) {
        for (int64_t s = 1; s <= 3; s++) {
          for (int64_t pb = 0; pb <= 1; pb++) {
            for (int incl = 0; incl <= 1; incl++) {
              t++;
              pool_case(sp, 1 + t % 5, widths[w], k, s, 1, pb, pb, 0, incl, 1 + t % 3, t % 4 == 0);
              pool_case(sp, 2, widths[w], k, s, 1, pb, 0, 1, incl, 2, 0); /* ceil mode */
              pool_case(sp, 3, widths[w], k, s, 2, pb, pb + 1 < k ? pb + 1 : pb, 0, incl, 1,
                       t % 3 == 0); /* dilation, asymmetric pad */
            }
          }
        }
      }
    }
  }
  printf("%d pool cases; AveragePool worst rel err %.3g, MaxPool bit-identical\n", n_cases,
         worst_avg);
  assert_true(n_cases > 500);
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

/* Largest per-channel sum of |dy * xhat| (InstanceNormalization's dscale terms). */
static double dscale_terms(const float *x, const float *dy, int64_t n, int64_t c, int64_t spatial,
                           float eps) {
  double worst_sum = 0.0;
  for (int64_t ch = 0; ch < c; ch++) {
    double sum = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ch) * spatial, *dyp = dy + (b * c + ch) * spatial;
      double s = 0.0, sq = 0.0;
      for (int64_t i = 0; i < spatial; i++) {
        s += xp[i];
      }
      const double m = spatial > 0 ? s / (double)spatial : 0.0;
      for (int64_t i = 0; i < spatial; i++) {
        sq += (xp[i] - m) * (xp[i] - m);
      }
      const double inv = 1.0 / sqrt((spatial > 0 ? sq / (double)spatial : 0.0) + (double)eps);
      for (int64_t i = 0; i < spatial; i++) {
        sum += fabs((double)dyp[i] * (xp[i] - m) * inv);
      }
    }
    worst_sum = fmax(worst_sum, sum);
  }
  return worst_sum;
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
  cnnrt_f32_instancenorm_grad_neon(n, c, spatial, eps, x, scale, dy, dx1,
                                   with_params ? p1 : NULL, with_params ? p1 + c : NULL,
                                   tasks > 1 ? &par : NULL);
  expect_close("instancenorm dx", dx1, dx0, total, 2e-6,
               norm_term(x, dy, n * c, spatial, eps, max_scale));
  if (with_params) {
    /* dscale sums dy * xhat over n * spatial terms of both signs and may cancel far below
     * them (without FMA the products round differently): the error may reach 1e-7 of the
     * largest per-channel sum of |dy * xhat| (about one float rounding of the terms) when that
     * exceeds 1e-5 of max |dscale| */
    expect_close("instancenorm dscale", p1, p0, c, 1e-5,
                 1e-2 * dscale_terms(x, dy, n, c, spatial, eps));
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
  cnnrt_f32_layernorm_grad_neon(outer, inner, eps, x, sc, dy, dx1, with_params ? p1 : NULL,
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

/* GlobalMaxPool: planes of 1 (1x1 images) to 70 elements, values on a coarse grid (ties),
 * optionally with NaNs, -0/+0 and infinities; bit-identical to the reference (first NaN, else
 * first maximum), dx pre-filled with garbage (every element must be written). */
static void test_global_maxpool_grad(void **state) {
  (void)state;
  const int64_t spatials[] = {1, 2, 7, 8, 9, 15, 16, 17, 49, 70};
  int n_global = 0;
  for (size_t si = 0; si < sizeof spatials / sizeof spatials[0]; si++) {
    for (int64_t planes = 1; planes <= 7; planes += 3) {
      for (int mode = 0; mode < 4; mode++) {
        const int64_t sp = spatials[si], total = planes * sp;
        float *x = malloc(sizeof(float) * (size_t)total), *dy = malloc(sizeof(float) * (size_t)planes);
        float *want = malloc(sizeof(float) * (size_t)total), *got = malloc(sizeof(float) * (size_t)total);
        for (int64_t i = 0; i < total; i++) {
          x[i] = roundf(4.0f * urand()) * 0.5f; /* ties */
          if (mode == 1 && (i * 7 + sp) % 11 == 3) {
            x[i] = NAN;
          }
          if (mode == 2) {
            x[i] = (i % 3 == 0) ? -0.0f : ((i % 3 == 1) ? 0.0f : -1.0f);
          }
          if (mode == 3 && i % 5 == 2) {
            x[i] = (i % 2) ? INFINITY : -INFINITY;
          }
          want[i] = 777.0f;
          got[i] = -777.0f;
        }
        for (int64_t i = 0; i < planes; i++) {
          dy[i] = urand();
        }
        cnnrt_parallel par = {run_reverse, NULL, 1 + (int)(planes % 3)};
        cnnrt_f32_global_maxpool_grad_ref(planes, sp, x, dy, want);
        cnnrt_f32_global_maxpool_grad_neon(planes, sp, x, dy, got, &par);
        assert_memory_equal(got, want, sizeof(float) * (size_t)total);
        n_global++;
        free(x);
        free(dy);
        free(want);
        free(got);
      }
    }
  }
  printf("global maxpool: %d cases bit-identical\n", n_global);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_batchnorm_offset),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_pool_grads),
      /* last: the tests above see the same random data as before these were added */
      cmocka_unit_test(test_instancenorm),
      cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_global_maxpool_grad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
