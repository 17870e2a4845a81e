/* test_dwconv_grad_avx2.c — the depthwise filter gradient and depthwise ConvTranspose (data
 * gradient) of runtime/cnnrt_conv_grad_avx2.h against the scalar references
 * cnnrt_f32_conv_grad_filter_ref and cnnrt_f32_conv_transpose_ref (checked against finite
 * differences in test_grad.c): channel counts 1, 3, 17, 1x1 images, rows shorter and longer than
 * a vector (remainders), strides 1, 2, 3, dilation 2, asymmetric pads, 1-D to 3-D, batch 1-2,
 * bias or none, split over 1 to 3 tasks run in reverse. Error: max |got - want| / max |want|
 * <= 2e-6 (summation order differs).
 * Build with -mavx2 -mfma; without them the kernels are absent and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv_grad_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

static double worst = 0.0;

static void expect_close(const char *what, const float *got, const float *want, int64_t len) {
  const double rel = max_rel_err(got, want, len);
  worst = fmax(worst, rel);
  if (!(rel <= 2e-6)) {
    fprintf(stderr, "%s: rel err %.3g\n", what, rel);
  }
  assert_true(rel <= 2e-6);
}

static void one_case(int sp, int64_t n, int64_t c, int64_t in, int64_t k, int64_t s, int64_t d,
                     int64_t pb, int64_t pe, int tasks, int with_bias) {
  cnnrt_conv_params p; /* the forward depthwise Conv x -> dy */
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = n;
  p.c_in = p.c_out = p.group = c;
  int64_t in_vol = 1, out_vol = 1, kvol = 1;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
    if (i < sp) {
      p.in[i] = in + (i == sp - 1 ? 13 : 0); /* the last axis longer: vector rows */
      p.kernel[i] = k;
      p.stride[i] = s;
      p.dilation[i] = d;
      p.pad_begin[i] = pb;
      p.out[i] = cnnrt_conv_floor_div(p.in[i] + pb + pe - ((k - 1) * d + 1), s) + 1;
      if (p.out[i] < 1) {
        return;
      }
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
    kvol *= p.kernel[i];
  }
  const int64_t nx = n * c * in_vol, ny = n * c * out_vol, nw = c * kvol;
  float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
  float *w = malloc(sizeof(float) * (size_t)nw), *bias = malloc(sizeof(float) * (size_t)c);
  float *dw0 = malloc(sizeof(float) * (size_t)nw), *dw1 = malloc(sizeof(float) * (size_t)nw);
  float *dx0 = malloc(sizeof(float) * (size_t)nx), *dx1 = malloc(sizeof(float) * (size_t)nx);
  for (int64_t i = 0; i < nx; i++) x[i] = urand();
  for (int64_t i = 0; i < ny; i++) dy[i] = urand();
  for (int64_t i = 0; i < nw; i++) w[i] = urand();
  for (int64_t i = 0; i < c; i++) bias[i] = urand();
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;

  assert_true(cnnrt_conv_is_depthwise(&p) || c == 1);
  cnnrt_f32_conv_grad_filter_ref(&p, x, dy, dw0);
  cnnrt_f32_dwconv_grad_filter_avx2(&p, x, dy, dw1, pp);
  expect_close("dw filter grad", dw1, dw0, nw);

  /* the data gradient: ConvTranspose dy -> dx with the forward's geometry swapped */
  cnnrt_conv_params q = p;
  for (int i = 0; i < 3; i++) {
    q.in[i] = p.out[i];
    q.out[i] = p.in[i];
  }
  const float *b = with_bias ? bias : NULL;
  cnnrt_f32_conv_transpose_ref(&q, dy, w, b, dx0);
  cnnrt_f32_dwconv_transpose_avx2(&q, dy, w, b, dx1, pp);
  expect_close("dw transpose", dx1, dx0, nx);

  free(x);
  free(dy);
  free(w);
  free(bias);
  free(dw0);
  free(dw1);
  free(dx0);
  free(dx1);
}

static void test_depthwise_2d(void **state) {
  (void)state;
  int k = 0;
  const int64_t chans[] = {1, 3, 17};
  for (size_t ci = 0; ci < 3; ci++) {
    for (int64_t s = 1; s <= 3; s++) {
      for (int64_t in = 1; in <= 12; in += 5) {
        k++;
        one_case(2, 1 + k % 2, chans[ci], in, 3, s, 1, 1, 1, 1 + k % 3, k % 2);
        one_case(2, 1, chans[ci], in, 1, s, 1, 0, 0, 2, 0);          /* 1x1 kernel */
        one_case(2, 2, chans[ci], in + 4, 5, s, 1, 2, 1, 3, 1);      /* 5x5, asymmetric pad */
        one_case(2, 1, chans[ci], in + 4, 3, s, 2, 2, 0, 1, 0);      /* dilation 2 */
      }
    }
  }
  printf("depthwise 2-D: worst rel err %.3g\n", worst);
}

static void test_depthwise_1d_3d_tiny(void **state) {
  (void)state;
  worst = 0.0;
  one_case(1, 2, 5, 20, 3, 1, 1, 1, 1, 2, 1);
  one_case(1, 1, 4, 30, 3, 2, 1, 1, 0, 1, 0);
  one_case(3, 1, 3, 4, 3, 1, 1, 1, 1, 2, 1);
  one_case(3, 2, 2, 5, 2, 2, 1, 0, 0, 1, 0);
  /* a 1x1 image with a padded 3x3 kernel: only the centre tap reads real data (one_case
   * lengthens the last axis, so this one is built here) */
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 2;
  p.c_in = p.c_out = p.group = 9;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
  }
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  float x[18], dy[18], w[81], dw0[81], dw1[81], dx0[18], dx1[18];
  for (int i = 0; i < 18; i++) {
    x[i] = urand();
    dy[i] = urand();
  }
  for (int i = 0; i < 81; i++) w[i] = urand();
  cnnrt_f32_conv_grad_filter_ref(&p, x, dy, dw0);
  cnnrt_f32_dwconv_grad_filter_avx2(&p, x, dy, dw1, NULL);
  expect_close("dw filter grad 1x1", dw1, dw0, 81);
  cnnrt_f32_conv_transpose_ref(&p, dy, w, NULL, dx0);
  cnnrt_f32_dwconv_transpose_avx2(&p, dy, w, NULL, dx1, NULL);
  expect_close("dw transpose 1x1", dx1, dx0, 18);
  printf("depthwise 1-D/3-D/1x1: worst rel err %.3g\n", worst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_depthwise_2d),
      cmocka_unit_test(test_depthwise_1d_3d_tiny),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
