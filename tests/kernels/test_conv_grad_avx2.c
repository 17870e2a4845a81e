/* test_conv_grad_avx2.c — cmocka tests of the AVX2 filter gradient and of the GEMM + col2im
 * ConvTranspose (the data gradient) in runtime/cnnrt_conv_grad_avx2.h against the scalar
 * references cnnrt_f32_conv_grad_filter_ref and cnnrt_f32_conv_transpose_ref (itself checked against finite
 * differences in test_grad.c): output channels not multiples of 6 or 8, tap counts that leave
 * GEMM column remainders, 1x1 images, strides, dilations, asymmetric pads, 1-D to 3-D, several
 * pixel chunks and images (accumulation across GEMM calls), and split across 1 to 3 tasks
 * (a parallel hook that runs the tasks one after the other, in reverse). Grouped (not
 * depthwise) convolutions, groups 2 and 4 with channels per group not multiples of 6 or 16, run
 * the same kernels once per group and are checked against the same grouped references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv_grad_avx2.h"

#include "../kernel_test_util.h"

static void group_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k,
                       int64_t s, int64_t d, int64_t pb, int64_t pe, int64_t group, int tasks) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = group;
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
  int64_t nx = n * ci * in_vol, ny = n * co * out_vol, nw = co * (ci / group) * kvol;
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
    fprintf(stderr, "sp %d n %lld ci %lld co %lld in %lld k %lld s %lld g %lld: max|d| %g (scale %g)\n",
            sp, (long long)n, (long long)ci, (long long)co, (long long)in, (long long)k,
            (long long)s, (long long)group, worst, scale);
  }
  assert_true(worst <= 1e-5 * scale);
  free(x);
  free(dy);
  free(ref);
  free(got);
  free(scratch);
}

static void one_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k, int64_t s,
                     int64_t d, int64_t pb, int64_t pe, int tasks) {
  group_case(sp, n, ci, co, in, k, s, d, pb, pe, 1, tasks);
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

/* Grouped convolutions (not depthwise): groups 2 and 4, channels per group 3, 5, 7, 9, 17. */
static void test_conv_grad_filter_grouped_avx2(void **state) {
  (void)state;
  for (int tasks = 1; tasks <= 3; tasks++) {
    group_case(2, 2, 6, 10, 6, 3, 1, 1, 1, 1, 2, tasks);   /* 3 in, 5 out per group */
    group_case(2, 1, 12, 28, 9, 3, 2, 1, 1, 0, 4, tasks);  /* 3 in, 7 out per group, stride 2 */
    group_case(2, 3, 20, 36, 7, 3, 1, 2, 2, 2, 4, tasks);  /* 5 in, 9 out, dilation 2 */
    group_case(2, 2, 34, 14, 5, 1, 1, 1, 0, 0, 2, tasks);  /* 17 in, 7 out, pointwise */
    group_case(2, 1, 128, 34, 24, 3, 1, 1, 1, 1, 2, tasks); /* 64 in per group: several chunks */
    group_case(1, 2, 6, 10, 20, 5, 2, 1, 2, 2, 2, tasks);  /* 1-D */
    group_case(3, 1, 4, 12, 4, 3, 1, 1, 1, 1, 4, tasks);   /* 3-D, 1 in / 3 out per group */
  }
}

/* ConvTranspose as GEMM + col2im (per group when grouped) vs cnnrt_f32_conv_transpose_ref. */
static void transpose_group_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k,
                                 int64_t s, int64_t d, int64_t pb, int64_t extra, int bias,
                                 int64_t group, int tasks) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = group;
  int64_t in_vol = 1, out_vol = 1, kvol = 1;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
    if (i < sp) {
      p.in[i] = in + (i == sp - 1 ? 2 : 0);
      p.kernel[i] = k;
      p.stride[i] = s;
      p.dilation[i] = d;
      p.pad_begin[i] = pb;
      /* full length minus the pads, plus `extra` (output_padding) */
      p.out[i] = s * (p.in[i] - 1) + (k - 1) * d + 1 - 2 * pb + extra;
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
    kvol *= p.kernel[i];
  }
  int64_t nx = n * ci * in_vol, ny = n * co * out_vol, nw = ci * (co / group) * kvol;
  float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
  float *b = malloc(sizeof(float) * (size_t)co);
  float *ref = malloc(sizeof(float) * (size_t)ny), *got = malloc(sizeof(float) * (size_t)ny);
  float *packed = malloc((size_t)cnnrt_f32_conv_transpose_pack_bytes(&p));
  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < nw; i++) {
    w[i] = urand();
  }
  for (int64_t i = 0; i < co; i++) {
    b[i] = urand();
  }
  cnnrt_f32_conv_transpose_pack(&p, w, packed);
  int64_t bytes = cnnrt_f32_conv_transpose_avx2_shared_bytes(&p) +
                  tasks * cnnrt_f32_conv_transpose_avx2_task_bytes(&p);
  void *scratch = NULL;
  assert_int_equal(posix_memalign(&scratch, 64, (size_t)(bytes + 63) / 64 * 64), 0);
  cnnrt_f32_conv_transpose_ref(&p, x, w, bias ? b : NULL, ref);
  for (int64_t i = 0; i < ny; i++) {
    got[i] = 777.0f;
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  cnnrt_f32_conv_transpose_gemm_avx2(&p, x, packed, bias ? b : NULL, got, scratch, tasks,
                                     tasks > 1 ? &par : NULL);
  double worst = 0.0, scale = 1e-6;
  for (int64_t i = 0; i < ny; i++) {
    worst = fmax(worst, fabs((double)got[i] - ref[i]));
    scale = fmax(scale, fabs(ref[i]));
  }
  if (worst > 1e-5 * scale) {
    fprintf(stderr, "transpose sp %d ci %lld co %lld in %lld k %lld s %lld g %lld: max|d| %g\n",
            sp, (long long)ci, (long long)co, (long long)in, (long long)k, (long long)s,
            (long long)group, worst);
  }
  assert_true(worst <= 1e-5 * scale);
  free(x);
  free(w);
  free(b);
  free(ref);
  free(got);
  free(packed);
  free(scratch);
}

static void transpose_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k,
                           int64_t s, int64_t d, int64_t pb, int64_t extra, int bias, int tasks) {
  transpose_group_case(sp, n, ci, co, in, k, s, d, pb, extra, bias, 1, tasks);
}

static void test_conv_transpose_gemm_avx2(void **state) {
  (void)state;
  for (int tasks = 1; tasks <= 3; tasks++) {
    transpose_case(2, 2, 4, 3, 5, 3, 2, 1, 1, 1, 1, tasks);  /* stride 2, output_padding 1 */
    transpose_case(2, 1, 7, 13, 6, 3, 1, 1, 1, 0, 0, tasks); /* odd channels, no bias */
    transpose_case(2, 1, 5, 2, 4, 2, 2, 1, 0, 0, 1, tasks);  /* 2x2 stride 2 (upsampling) */
    transpose_case(2, 2, 3, 4, 1, 3, 1, 1, 1, 0, 1, tasks);  /* 1x1 input */
    transpose_case(2, 1, 3, 5, 5, 3, 2, 2, 2, 1, 1, tasks);  /* dilation */
    transpose_case(2, 1, 64, 9, 30, 3, 1, 1, 1, 0, 1, tasks); /* several pixel chunks */
    transpose_case(1, 2, 3, 4, 9, 4, 3, 1, 1, 2, 1, tasks);  /* 1-D */
    transpose_case(3, 1, 2, 3, 3, 2, 2, 1, 0, 0, 1, tasks);  /* 3-D */
  }
}

/* Grouped ConvTranspose (a grouped convolution's data gradient): groups 2 and 4. */
static void test_conv_transpose_gemm_grouped_avx2(void **state) {
  (void)state;
  for (int tasks = 1; tasks <= 3; tasks++) {
    transpose_group_case(2, 2, 10, 6, 5, 3, 2, 1, 1, 1, 1, 2, tasks);   /* 5 -> 3 per group */
    transpose_group_case(2, 1, 28, 12, 6, 3, 1, 1, 1, 0, 0, 4, tasks);  /* 7 -> 3, no bias */
    transpose_group_case(2, 1, 36, 20, 5, 3, 2, 2, 2, 1, 1, 4, tasks);  /* 9 -> 5, dilation */
    transpose_group_case(2, 2, 14, 34, 4, 2, 2, 1, 0, 0, 1, 2, tasks);  /* 7 -> 17, upsampling */
    transpose_group_case(2, 1, 34, 128, 24, 3, 1, 1, 1, 0, 1, 2, tasks); /* several chunks */
    transpose_group_case(1, 2, 6, 10, 9, 4, 3, 1, 1, 2, 1, 2, tasks);   /* 1-D */
    transpose_group_case(3, 1, 12, 4, 3, 2, 2, 1, 0, 0, 1, 4, tasks);   /* 3-D, 3 -> 1 */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_grad_filter_avx2),
                                     cmocka_unit_test(test_conv_transpose_gemm_avx2),
                                     cmocka_unit_test(test_conv_grad_filter_grouped_avx2),
                                     cmocka_unit_test(test_conv_transpose_gemm_grouped_avx2)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
