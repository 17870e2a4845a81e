/* test_conv_grad_avx2.c — cmocka tests of the AVX2 filter gradient (runtime/cnnrt_conv_grad_avx2.h)
 * against the scalar reference cnnrt_f32_conv_grad_filter_ref (itself checked against finite
 * differences in test_grad.c): output channels not multiples of 6 or 8, tap counts that leave
 * GEMM column remainders, 1x1 images, strides, dilations, asymmetric pads, 1-D to 3-D, several
 * pixel chunks and images (accumulation across GEMM calls), and split across 1 to 3 tasks
 * (a parallel hook that runs the tasks one after the other, in reverse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv_grad_avx2.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

static void run_reverse(void *ctx, cnnrt_task_fn fn, void *arg, int64_t n) {
  (void)ctx;
  for (int64_t i = n - 1; i >= 0; i--) {
    fn(arg, i);
  }
}

static void one_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k, int64_t s,
                     int64_t d, int64_t pb, int64_t pe, int tasks) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = 1;
  int64_t in_vol = 1, out_vol = 1, kvol = 1;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
    if (i < sp) {
      p.in[i] = in + (i == sp - 1 ? 3 : 0); /* last axis a little longer */
      p.kernel[i] = k;
      p.stride[i] = s;
      p.dilation[i] = d;
      p.pad_begin[i] = pb;
      p.out[i] = cnnrt_conv_floor_div(p.in[i] + pb + pe - ((k - 1) * d + 1), s) + 1;
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
    kvol *= p.kernel[i];
  }
  int64_t nx = n * ci * in_vol, ny = n * co * out_vol, nw = co * ci * kvol;
  float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
  float *ref = malloc(sizeof(float) * (size_t)nw), *got = malloc(sizeof(float) * (size_t)nw);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  int64_t bytes = cnnrt_f32_conv_grad_filter_avx2_shared_bytes(&p) +
                  tasks * cnnrt_f32_conv_grad_filter_avx2_task_bytes(&p);
  void *scratch = NULL;
  assert_int_equal(posix_memalign(&scratch, 64, (size_t)(bytes + 63) / 64 * 64), 0);
  cnnrt_f32_conv_grad_filter_ref(&p, x, dy, ref);
  for (int64_t i = 0; i < nw; i++) {
    got[i] = 12345.0f; /* must be overwritten, not accumulated into */
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  cnnrt_f32_conv_grad_filter_avx2(&p, x, dy, got, scratch, tasks, tasks > 1 ? &par : NULL);
  double worst = 0.0, scale = 1e-6;
  for (int64_t i = 0; i < nw; i++) {
    worst = fmax(worst, fabs((double)got[i] - ref[i]));
    scale = fmax(scale, fabs(ref[i]));
  }
  if (worst > 1e-5 * scale) {
    fprintf(stderr, "sp %d n %lld ci %lld co %lld in %lld k %lld s %lld: max|d| %g (scale %g)\n",
            sp, (long long)n, (long long)ci, (long long)co, (long long)in, (long long)k,
            (long long)s, worst, scale);
  }
  assert_true(worst <= 1e-5 * scale);
  free(x);
  free(dy);
  free(ref);
  free(got);
  free(scratch);
}

static void test_conv_grad_filter_avx2(void **state) {
  (void)state;
  for (int tasks = 1; tasks <= 3; tasks++) {
    one_case(2, 2, 3, 4, 6, 3, 1, 1, 1, 1, tasks);
    one_case(2, 1, 5, 7, 9, 3, 2, 1, 1, 0, tasks);   /* odd channels, stride 2 */
    one_case(2, 3, 8, 13, 5, 3, 1, 2, 2, 2, tasks);  /* dilation, 13 rows: 2 full panels + 1 */
    one_case(2, 1, 17, 6, 1, 1, 1, 1, 0, 0, tasks);  /* 1x1 image, pointwise */
    one_case(2, 2, 4, 5, 1, 3, 1, 1, 1, 1, tasks);   /* 1x1 image, 3x3 kernel */
    one_case(2, 1, 64, 20, 30, 3, 1, 1, 1, 1, tasks); /* several pixel chunks */
    one_case(1, 2, 3, 9, 20, 5, 2, 1, 2, 2, tasks);  /* 1-D */
    one_case(3, 1, 2, 3, 4, 3, 1, 1, 1, 1, tasks);   /* 3-D */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_grad_filter_avx2)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
