/* test_conv_packed.c — the portable packed-weight convolution against cnnrt_f32_conv_ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cnnrt_conv.h"
#include "cnnrt_conv_packed.h"
#include "cnnrt_gemm_avx2.h"

static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check_case(int64_t n, int64_t ci, int64_t co, int64_t ih, int64_t iw, int64_t k,
                       int64_t s, int64_t d, int64_t pb, int64_t pe, int act, int use_res) {
  cnnrt_conv_params p = {0};
  p.spatial = 2;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  int64_t dims[2] = {ih, iw};
  for (int a = 0; a < 2; a++) {
    p.in[a] = dims[a];
    p.kernel[a] = k;
    p.stride[a] = s;
    p.dilation[a] = d;
    p.pad_begin[a] = pb;
    p.out[a] = (dims[a] + pb + pe - ((k - 1) * d + 1)) / s + 1;
  }
  p.act = act;
  p.alpha = act == CNNRT_ACT_CLIP ? -0.5f : 0.1f;
  p.beta = 0.5f;
  int64_t xn = n * ci * ih * iw, wn = co * ci * k * k, yn = n * co * p.out[0] * p.out[1];
  float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
  float *b = malloc(sizeof(float) * (size_t)co), *r = malloc(sizeof(float) * (size_t)yn);
  float *y0 = malloc(sizeof(float) * (size_t)yn), *y1 = malloc(sizeof(float) * (size_t)yn);
  float *wp = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(co, ci * k * k));
  unsigned seed = 7;
  for (int64_t i = 0; i < xn; i++) x[i] = frand(&seed);
  for (int64_t i = 0; i < wn; i++) w[i] = frand(&seed);
  for (int64_t i = 0; i < co; i++) b[i] = frand(&seed);
  for (int64_t i = 0; i < yn; i++) r[i] = frand(&seed);
  cnnrt_f32_pack_a_mr6(co, ci * k * k, w, wp);
  cnnrt_f32_conv_ref(&p, x, w, b, use_res ? r : NULL, y0);
  cnnrt_f32_conv_packed_ref(&p, x, wp, b, use_res ? r : NULL, y1);
  for (int64_t i = 0; i < yn; i++) {
    double tol = 1e-5 * (1.0 + (double)(ci * k * k));
    if (!(fabs((double)y0[i] - (double)y1[i]) <= tol)) {
      fail_msg("case ci=%lld co=%lld k=%lld s=%lld d=%lld act=%d: y[%lld] %g vs %g",
               (long long)ci, (long long)co, (long long)k, (long long)s, (long long)d, act,
               (long long)i, (double)y1[i], (double)y0[i]);
    }
  }
  free(x); free(w); free(b); free(r); free(y0); free(y1); free(wp);
}

static void test_shapes(void **state) {
  (void)state;
  check_case(1, 3, 8, 9, 7, 3, 1, 1, 1, 1, CNNRT_ACT_NONE, 0);
  check_case(2, 5, 13, 8, 8, 3, 2, 1, 1, 0, CNNRT_ACT_RELU, 1);
  check_case(1, 4, 6, 11, 5, 3, 1, 2, 2, 2, CNNRT_ACT_CLIP, 0);
  check_case(1, 7, 1, 1, 1, 1, 1, 1, 0, 0, CNNRT_ACT_LEAKY_RELU, 1);
  check_case(1, 2, 7, 10, 10, 5, 3, 1, 0, 2, CNNRT_ACT_SIGMOID, 1);
  check_case(1, 16, 17, 4, 4, 1, 1, 1, 0, 0, CNNRT_ACT_HARD_SWISH, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_shapes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
