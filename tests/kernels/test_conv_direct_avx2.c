/* test_conv_direct_avx2.c — the few-input-channel convolution (cnnrt_conv_direct_avx2.h) against
 * cnnrt_f32_conv_ref (the portable reference reading the weights as ONNX gives them):
 * c_in 1..4, kernels 1/3/5/7 and non-square, strides 1..3 and mixed, dilation 2, symmetric,
 * asymmetric, zero and oversized pads, output widths 1..40 and 16..176 (the stems' 111 and
 * 112 included: every split of a row into 32-pixel tiles and a tail),
 * c_out not a multiple of the vector or tile height (1, 3, 17, 40), 1x1 images, batch 2,
 * every fused activation, bias absent / present, residual absent / separate / in place, and
 * the tasks of the parallel split run in reverse order. Guard zones around y catch stray
 * (masked) stores, which AddressSanitizer does not see.
 * Built with -mavx2 -mfma (and once more with -mavx512f as test_conv_direct_avx512, which runs
 * the AVX-512 tiles); without AVX2 the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv_packed.h"
#include "../kernel_test_util.h"

#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_CONV_DIRECT_AVX512)
#error "built for AVX-512 but cnnrt_conv_direct_avx2.h did not enable its AVX-512 tiles"
#endif

#if defined(__AVX2__) && defined(__FMA__)

#define GUARD 16
#define GUARD_VAL -12345.0f

typedef struct direct_case {
  int64_t n, ci, co, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int act;
  int bias, residual; /* residual: 0 none, 1 separate buffer, 2 in place (y = residual) */
  int64_t tasks;
} direct_case;

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return cnnrt_conv_floor_div(in + pb + pe - ((k - 1) * d + 1), s) + 1;
}

/* Runs one case; returns the max relative error vs the reference (or fails on a guard). */
static double run_case(const direct_case *c) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = c->n;
  p.c_in = c->ci;
  p.c_out = c->co;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = c->ih;
  p.in[1] = c->iw;
  p.kernel[0] = c->kh;
  p.kernel[1] = c->kw;
  p.stride[0] = c->sh;
  p.stride[1] = c->sw;
  p.dilation[0] = c->dh;
  p.dilation[1] = c->dw;
  p.pad_begin[0] = c->pt;
  p.pad_begin[1] = c->pl;
  p.out[0] = out_size(c->ih, c->kh, c->sh, c->dh, c->pt, c->pb);
  p.out[1] = out_size(c->iw, c->kw, c->sw, c->dw, c->pl, c->pr);
  assert_true(p.out[0] >= 1 && p.out[1] >= 1);
  p.act = c->act;
  p.alpha = c->act == CNNRT_ACT_CLIP ? -0.25f : (c->act == CNNRT_ACT_HARD_SIGMOID ? 0.2f : 0.1f);
  p.beta = c->act == CNNRT_ACT_CLIP ? 0.5f : 0.5f;
  assert_true(cnnrt_conv_direct_applies(&p));
  const int64_t k = c->ci * c->kh * c->kw;
  const int64_t xn = c->n * c->ci * c->ih * c->iw, wn = c->co * k;
  const int64_t yn = c->n * c->co * p.out[0] * p.out[1];
  float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
  float *b = malloc(sizeof(float) * (size_t)c->co), *r = malloc(sizeof(float) * (size_t)yn);
  float *want = malloc(sizeof(float) * (size_t)yn);
  float *ybuf = malloc(sizeof(float) * (size_t)(yn + 2 * GUARD));
  float *wp = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(c->co, k));
  const int64_t scratch_stride = (cnnrt_f32_conv_direct_avx2_scratch_bytes(&p) + 63) / 64 * 64;
  unsigned char *scratch = malloc((size_t)(scratch_stride * c->tasks));
  for (int64_t i = 0; i < xn; i++) x[i] = urand();
  for (int64_t i = 0; i < wn; i++) w[i] = urand();
  for (int64_t i = 0; i < c->co; i++) b[i] = urand();
  for (int64_t i = 0; i < yn; i++) r[i] = urand();
  for (int64_t i = 0; i < yn + 2 * GUARD; i++) ybuf[i] = GUARD_VAL;
  float *y = ybuf + GUARD;
  cnnrt_f32_pack_a_mr6(c->co, k, w, wp);
  const float *bias = c->bias ? b : NULL;
  cnnrt_f32_conv_ref(&p, x, w, bias, c->residual ? r : NULL, want);
  const float *res = NULL;
  if (c->residual == 1) {
    res = r;
  } else if (c->residual == 2) {
    memcpy(y, r, sizeof(float) * (size_t)yn);
    res = y;
  }
  cnnrt_conv_task t = {&p,       x,    wp,   bias, res,  y, scratch, scratch_stride,
                       c->tasks, NULL, NULL, NULL, {{0}}};
  cnnrt_parallel par = {run_reverse, NULL, (int)c->tasks};
  cnnrt_parallel_for(&par, cnnrt_conv_direct_avx2_task, &t, c->tasks);
  for (int64_t i = 0; i < GUARD; i++) {
    if (ybuf[i] != GUARD_VAL || ybuf[GUARD + yn + i] != GUARD_VAL) {
      fail_msg("store outside y (guard %lld)", (long long)i);
    }
  }
  const double err = max_rel_err(y, want, yn);
  free(x);
  free(w);
  free(b);
  free(r);
  free(want);
  free(ybuf);
  free(wp);
  free(scratch);
  return err;
}

static void check(const direct_case *c) {
  const double err = run_case(c);
  /* float32 sums of up to 4 * 49 products of values in [-1, 1): a few ulps of the sum; the
   * vector activations of cnnrt_act_avx2.h add ~3e-7 relative. */
  if (!(err <= 2e-5)) {
    fail_msg("n=%lld ci=%lld co=%lld in=%lldx%lld k=%lldx%lld s=%lldx%lld d=%lldx%lld "
             "pads=%lld,%lld,%lld,%lld act=%d bias=%d res=%d tasks=%lld: rel err %g",
             (long long)c->n, (long long)c->ci, (long long)c->co, (long long)c->ih,
             (long long)c->iw, (long long)c->kh, (long long)c->kw, (long long)c->sh,
             (long long)c->sw, (long long)c->dh, (long long)c->dw, (long long)c->pt,
             (long long)c->pl, (long long)c->pb, (long long)c->pr, c->act, c->bias, c->residual,
             (long long)c->tasks, err);
  }
}

/* Square kernels 1/3/5/7, strides 1 and 2, c_in 1..4, output widths 1..40. */
static void test_widths(void **state) {
  (void)state;
  static const int64_t kernels[] = {1, 3, 5, 7};
  static const int64_t couts[] = {3, 17, 40};
  int n_cases = 0;
  for (int ki = 0; ki < 4; ki++) {
    for (int64_t s = 1; s <= 2; s++) {
      for (int64_t ow = 1; ow <= 40; ow++) {
        const int64_t kk = kernels[ki];
        const int64_t pad = kk / 2;
        direct_case c;
        memset(&c, 0, sizeof c);
        c.n = 1;
        c.ci = 1 + (ow + ki) % 4;
        c.co = couts[(ow + s) % 3];
        /* ow = (iw + 2 pad - k) / s + 1 */
        c.iw = (ow - 1) * s + kk - 2 * pad;
        if (c.iw < 1) {
          continue;
        }
        c.ih = 3 + ow % 5;
        c.kh = c.kw = kk;
        c.sh = c.sw = s;
        c.dh = c.dw = 1;
        c.pt = c.pl = c.pb = c.pr = pad;
        c.act = (int)(ow % 9);
        c.bias = ow % 3 != 0;
        c.residual = (int)(ow % 3);
        c.tasks = 1 + ow % 3;
        check(&c);
        n_cases++;
      }
    }
  }
  assert_true(n_cases > 250);
}

/* Output widths of the real stems and around them: the AVX-512 row split into 32-pixel tiles
 * (the last one 17..32 wide) and a 1..16-pixel tail (112 = 3 x 32 + 16, 111 ends in a 15-pixel
 * tail, 128 and 144 have none), and the AVX2 16-pixel tiles with full and partial last
 * vectors, up to 11 vectors of 16; strides 1 and 2, c_out 1, 4, 7, 13 and 64 (not multiples
 * of the 6- or 12-channel blocks; 64 = 5 x 12 + 4 as in the ResNet stem), every activation,
 * residual absent / separate / in place, 1..3 tasks run in reverse. 2..4 rows, so the cases
 * stay cheap (the widths test above stops at 40 pixels: a single 32-pixel tile and tail). */
static void test_tile_widths(void **state) {
  (void)state;
  static const int64_t widths[] = {16,  17,  31,  32,  47,  48,  63,  64,  65,  79, 80,
                                   96,  97,  111, 112, 113, 127, 128, 144, 161, 176};
  static const int64_t couts[] = {1, 4, 7, 13, 64};
  int n_cases = 0;
  for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
    for (int64_t s = 1; s <= 2; s++) {
      const int64_t ow = widths[wi];
      const int64_t kk = s == 1 ? 3 : 7, pad = kk / 2;
      direct_case c;
      memset(&c, 0, sizeof c);
      c.n = 1;
      c.ci = 1 + (int64_t)(wi + (size_t)s) % 4;
      c.co = couts[(wi + (size_t)s) % 5];
      c.iw = (ow - 1) * s + kk - 2 * pad;
      c.ih = 2 + (int64_t)wi % 3;
      c.kh = c.kw = kk;
      c.sh = c.sw = s;
      c.dh = c.dw = 1;
      c.pt = c.pl = c.pb = c.pr = pad;
      c.act = (int)((wi + (size_t)s) % (CNNRT_ACT_TANH + 1));
      c.bias = wi % 4 != 0;
      c.residual = (int)((wi + (size_t)s) % 3);
      c.tasks = 1 + (int64_t)wi % 3;
      check(&c);
      n_cases++;
    }
  }
  assert_true(n_cases == 42);
}

/* The benchmark models' stems, every activation on the ResNet one. */
static void test_stems(void **state) {
  (void)state;
  for (int act = 0; act <= CNNRT_ACT_TANH; act++) {
    /* ResNet: 3->64 7x7 s2 p3 at 112 x 112 (input cut to 56 x 60 rows to keep the test short) */
    direct_case c = {1, 3, 64, 56, 60, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, act, 1, 0, 2};
    check(&c);
  }
  /* ResNet at its full 112-pixel output width (3 x 32 + a 16-pixel tail), 6 rows */
  direct_case resnet = {1, 3, 64, 12, 224, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, CNNRT_ACT_RELU, 1, 0, 2};
  check(&resnet);
  direct_case mobilenet = {1, 3, 32, 48, 50, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_CLIP, 1, 0, 3};
  check(&mobilenet);
  direct_case squeezenet = {1, 3, 64, 47, 45, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 0, 2};
  check(&squeezenet);
  direct_case efficientnet = {1, 3, 32, 40, 64, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, CNNRT_ACT_SILU, 1, 0, 2};
  check(&efficientnet);
}

/* Asymmetric, zero, negative-free oversized pads, non-square kernels, mixed and larger strides,
 * dilation, 1x1 images, batch 2 with tasks splitting inside an image, c_out 1. */
static void test_odd_shapes(void **state) {
  (void)state;
  static const direct_case cases[] = {
      /* n ci co  ih  iw kh kw sh sw dh dw pt pl pb pr act bias res tasks */
      {1, 3, 17, 9, 11, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, CNNRT_ACT_RELU, 1, 0, 1},
      {1, 2, 40, 10, 13, 5, 5, 1, 2, 1, 1, 2, 0, 1, 3, CNNRT_ACT_LEAKY_RELU, 1, 1, 3},
      {1, 4, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_NONE, 1, 0, 1},
      {1, 1, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_SIGMOID, 0, 1, 1},
      {1, 3, 12, 1, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, CNNRT_ACT_RELU, 1, 0, 1},
      {2, 3, 24, 12, 20, 3, 5, 2, 1, 1, 1, 1, 2, 1, 2, CNNRT_ACT_HARD_SWISH, 1, 2, 3},
      {2, 3, 7, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_TANH, 1, 0, 5},
      {1, 3, 13, 15, 33, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, CNNRT_ACT_SILU, 1, 1, 2},
      {1, 4, 1, 6, 70, 2, 4, 1, 3, 2, 1, 0, 5, 4, 1, CNNRT_ACT_CLIP, 0, 0, 2},
      {1, 2, 36, 7, 37, 1, 7, 1, 2, 1, 1, 0, 3, 0, 3, CNNRT_ACT_HARD_SIGMOID, 1, 0, 4},
      {1, 1, 64, 17, 129, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 0, 2},
      {1, 3, 6, 4, 9, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4, CNNRT_ACT_NONE, 1, 0, 2}, /* pads > kernel */
      {1, 3, 30, 23, 23, 11, 11, 4, 4, 1, 1, 2, 2, 2, 2, CNNRT_ACT_RELU, 1, 0, 2},
      {1, 3, 8, 20, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 0, 16}, /* tasks > rows */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check(&cases[i]);
  }
}

/* The predicate: what the kernel does not take. */
static void test_applies(void **state) {
  (void)state;
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = 3;
  p.c_out = 8;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = p.in[1] = 8;
  p.out[0] = p.out[1] = 8;
  assert_true(cnnrt_conv_direct_applies(&p));
  p.c_in = 5;
  assert_false(cnnrt_conv_direct_applies(&p));
  p.c_in = 3;
  p.group = 3;
  assert_false(cnnrt_conv_direct_applies(&p));
  p.group = 1;
  p.spatial = 3;
  assert_false(cnnrt_conv_direct_applies(&p));
  p.spatial = 2;
  p.stride[1] = 5;
  assert_false(cnnrt_conv_direct_applies(&p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_widths),
      cmocka_unit_test(test_tile_widths),
      cmocka_unit_test(test_stems),
      cmocka_unit_test(test_odd_shapes),
      cmocka_unit_test(test_applies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void) {
  printf("AVX2/FMA not compiled in: skipped\n");
  return 0;
}

#endif
