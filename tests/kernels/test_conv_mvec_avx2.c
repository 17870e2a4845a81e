/* test_conv_mvec_avx2.c — the output-channel-vectorised convolution (cnnrt_conv_mvec.h) against
 * cnnrt_f32_conv_ref (the portable reference reading the weights as ONNX gives them), and its
 * portable fallback cnnrt_f32_conv_packed_mr_ref (mr 32) on the same packed weights:
 * kernels 1/3/5/7, strides 1, 2 and 3, dilation 2, pads 0 / 1 / asymmetric / negative-free
 * oversized, planes 1x1, 3x5, 7x7, 13x13, 14x14 and widths 1..30 (tile multiples and
 * remainders), c_out not a multiple of 16 or 32 (17, 40), c_in 1, 3, 64, 300, batch 2, every
 * fused activation, bias absent / present, residual absent / separate / in place, and the
 * tasks of the channel split run in reverse order (more tasks than panels too). Guard zones
 * around y catch stray stores, which AddressSanitizer does not see.
 * Built with -mavx2 -mfma (the 16x6 AVX2 tile) and once more with -mavx512f as
 * test_conv_mvec_avx512 (the 32x14 AVX-512 tile); without AVX2 the kernel is absent and only
 * the portable fallback is checked. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv_mvec.h"
#include "../kernel_test_util.h"

#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_CONV_MVEC_AVX512)
#error "built for AVX-512 but cnnrt_conv_mvec.h did not enable its AVX-512 tile"
#endif

#define GUARD 16
#define GUARD_VAL -12345.0f

typedef struct mvec_case {
  int64_t n, ci, co, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int act;
  int bias, residual; /* residual: 0 none, 1 separate buffer, 2 in place (y = residual) */
  int64_t tasks;
} mvec_case;

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return cnnrt_conv_floor_div(in + pb + pe - ((k - 1) * d + 1), s) + 1;
}

/* Runs one case through the SIMD kernel (use_ref 0) or the portable packed fallback (1);
 * returns the max relative error vs cnnrt_f32_conv_ref (or fails on a guard). */
static double run_case(const mvec_case *c, int use_ref) {
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
  p.beta = 0.5f;
  const int64_t k = c->ci * c->kh * c->kw;
  const int64_t xn = c->n * c->ci * c->ih * c->iw, wn = c->co * k;
  const int64_t yn = c->n * c->co * p.out[0] * p.out[1];
  float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
  float *b = malloc(sizeof(float) * (size_t)c->co), *r = malloc(sizeof(float) * (size_t)yn);
  float *want = malloc(sizeof(float) * (size_t)yn);
  float *ybuf = malloc(sizeof(float) * (size_t)(yn + 2 * GUARD));
  float *wp = malloc((size_t)cnnrt_f32_pack_a_mr_bytes(c->co, k, CNNRT_CONV_MVEC_MR));
  const int64_t scratch_stride = (cnnrt_f32_conv_mvec_scratch_bytes(&p) + 63) / 64 * 64;
  unsigned char *scratch = malloc((size_t)(scratch_stride * c->tasks));
  /* NaN bytes: a tile that reads a part of the image copy its task did not write (split by
   * pixels, a task copies only the rows its tiles read) makes NaN outputs. */
  memset(scratch, 0xff, (size_t)(scratch_stride * c->tasks));
  for (int64_t i = 0; i < xn; i++) x[i] = urand();
  for (int64_t i = 0; i < wn; i++) w[i] = urand();
  for (int64_t i = 0; i < c->co; i++) b[i] = urand();
  for (int64_t i = 0; i < yn; i++) r[i] = urand();
  for (int64_t i = 0; i < yn + 2 * GUARD; i++) ybuf[i] = GUARD_VAL;
  float *y = ybuf + GUARD;
  cnnrt_f32_pack_a_mr(c->co, k, CNNRT_CONV_MVEC_MR, w, wp);
  const float *bias = c->bias ? b : NULL;
  cnnrt_f32_conv_ref(&p, x, w, bias, c->residual ? r : NULL, want);
  const float *res = NULL;
  if (c->residual == 1) {
    res = r;
  } else if (c->residual == 2) {
    memcpy(y, r, sizeof(float) * (size_t)yn);
    res = y;
  }
  if (use_ref) {
    cnnrt_f32_conv_packed_mr_ref(&p, x, wp, CNNRT_CONV_MVEC_MR, bias, res, y);
  } else {
#if defined(__AVX2__) && defined(__FMA__)
    cnnrt_conv_mvec_task t = {&p, x, wp, bias, res, y, scratch, scratch_stride, c->tasks, {{0}}};
    cnnrt_parallel par = {run_reverse, NULL, (int)c->tasks};
    cnnrt_parallel_for(&par, cnnrt_conv_mvec_task_fn, &t, c->tasks);
#endif
  }
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

static void check_one(const mvec_case *c, int use_ref) {
  const double err = run_case(c, use_ref);
  /* float32 sums of up to 300 * 9 products of values in [-1, 1), in another order than the
   * reference's: a few ulps of the largest partial sums; the vector activations of
   * cnnrt_act_avx2.h add ~3e-7 relative. */
  if (!(err <= 2e-5)) {
    fail_msg("%s n=%lld ci=%lld co=%lld in=%lldx%lld k=%lldx%lld s=%lldx%lld d=%lldx%lld "
             "pads=%lld,%lld,%lld,%lld act=%d bias=%d res=%d tasks=%lld: rel err %g",
             use_ref ? "ref" : "simd", (long long)c->n, (long long)c->ci, (long long)c->co,
             (long long)c->ih, (long long)c->iw, (long long)c->kh, (long long)c->kw,
             (long long)c->sh, (long long)c->sw, (long long)c->dh, (long long)c->dw,
             (long long)c->pt, (long long)c->pl, (long long)c->pb, (long long)c->pr, c->act,
             c->bias, c->residual, (long long)c->tasks, err);
  }
}

static void check(const mvec_case *c) {
#if defined(__AVX2__) && defined(__FMA__)
  check_one(c, 0);
#endif
  check_one(c, 1);
}

/* Square kernels 1/3/5/7, strides 1 and 2, output widths 1..30 (every tile split of both
 * tile widths), c_out 17 / 40 / 64. */
static void test_widths(void **state) {
  (void)state;
  static const int64_t kernels[] = {1, 3, 5, 7};
  static const int64_t couts[] = {17, 40, 64};
  int n_cases = 0;
  for (int ki = 0; ki < 4; ki++) {
    for (int64_t s = 1; s <= 2; s++) {
      for (int64_t ow = 1; ow <= 30; ow++) {
        const int64_t kk = kernels[ki];
        const int64_t pad = (ow + ki) % 2 == 0 ? kk / 2 : 0;
        mvec_case c;
        memset(&c, 0, sizeof c);
        c.n = 1;
        c.ci = 1 + (ow * 7 + ki) % 9;
        c.co = couts[(ow + s) % 3];
        c.iw = (ow - 1) * s + kk - 2 * pad;
        if (c.iw < 1) {
          continue;
        }
        c.ih = kk + ow % 4 - 2 * pad; /* output heights 1..4 */
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
  assert_true(n_cases > 200);
}

/* The ResNet small-plane layers (channel counts cut to keep the test short) and the listed
 * planes, channel counts and activations. */
static void test_shapes(void **state) {
  (void)state;
  static const mvec_case cases[] = {
      /* n ci  co  ih  iw kh kw sh sw dh dw pt pl pb pr act bias res tasks */
      {1, 300, 40, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 0, 2},    /* flat 49 */
      {1, 64, 96, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 0, 2},     /* 3x3 7x7 */
      {1, 64, 70, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 0, 3},   /* 3x3 s2 */
      /* tasks split the pixels (cnnrt_conv_mvec_split_pixels): flat, more tasks than tiles;
       * rows of a 3x3 plane split unevenly; stride 2 */
      {1, 24, 40, 12, 12, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 2, 13},
      {1, 16, 70, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_HARD_SWISH, 1, 1, 3},
      {2, 40, 33, 27, 27, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 0, 2, 2},
      /* 7-pixel rows run in pairs: an even row count, K over several k blocks, in place */
      {1, 40, 70, 8, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 2, 3},
      {2, 40, 33, 15, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_SILU, 1, 1, 2},
      {1, 64, 64, 14, 14, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, CNNRT_ACT_NONE, 1, 0, 2},   /* 1x1 s2 */
      /* 1x1 stride 2 split by pixels: each task copies the taps of its rows only */
      {1, 16, 40, 28, 28, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 0, 3},
      {1, 16, 40, 27, 29, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, CNNRT_ACT_HARD_SWISH, 1, 1, 2},
      {1, 64, 40, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 2, 2},     /* in place */
      {1, 64, 40, 14, 14, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 1, 2},   /* flat 196 */
      {1, 64, 33, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_CLIP, 0, 1, 2},
      {1, 3, 17, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_LEAKY_RELU, 1, 2, 1},
      {1, 1, 17, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_HARD_SWISH, 1, 0, 2},
      {1, 64, 40, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_SIGMOID, 1, 1, 2},   /* 1x1 */
      {1, 64, 40, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_SILU, 1, 2, 2},
      {2, 64, 40, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, CNNRT_ACT_SILU, 1, 2, 2},     /* batch 2 */
      {2, 300, 17, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_TANH, 0, 1, 3},
      {1, 64, 40, 11, 11, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, CNNRT_ACT_RELU, 1, 0, 2},   /* dilation */
      {1, 64, 40, 12, 13, 3, 5, 1, 2, 2, 1, 0, 2, 1, 1, CNNRT_ACT_RELU, 1, 1, 2},   /* asym */
      {1, 64, 40, 9, 9, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, CNNRT_ACT_HARD_SIGMOID, 1, 0, 2},
      {1, 64, 40, 13, 13, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, CNNRT_ACT_RELU, 1, 0, 2},
      {1, 16, 40, 15, 16, 3, 3, 3, 3, 1, 1, 1, 0, 1, 2, CNNRT_ACT_RELU, 1, 2, 2},   /* stride 3 */
      {1, 16, 40, 6, 8, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4, CNNRT_ACT_NONE, 1, 0, 2},     /* big pads */
      {1, 16, 40, 9, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, CNNRT_ACT_RELU, 1, 0, 5},     /* tasks > panels */
      {1, 16, 40, 9, 9, 1, 1, 1, 1, 1, 1, 0, 0, -1, -1, CNNRT_ACT_RELU, 1, 0, 2},   /* end crop */
      /* 28 x 28 outputs of a 3x3 stride 2 (the resnet layer2.0 shape, CN_MVEC_MAX_PLANE_KXK) */
      {1, 5, 40, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 2, 2},
      {1, 7, 33, 55, 57, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, CNNRT_ACT_HARD_SWISH, 0, 1, 3}, /* odd */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check(&cases[i]);
  }
  /* Every activation on the 3x3 7x7 layer, residual in place. */
  for (int act = 0; act <= CNNRT_ACT_TANH; act++) {
    mvec_case c = {1, 64, 40, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, act, 1, 2, 2};
    check(&c);
  }
}

/* A NaN input: ReLU maps the NaN sums to 0 (cnnrt_apply_act's `v > 0 ? v : 0`, which the
 * AVX-512 epilogue's max(v, 0) must match), no activation keeps them NaN; every other output
 * equals the reference. 1x1 at 7x7 (flat tiles 13 / 10) and 3x3 at 14x14 (row tiles of 14),
 * c_out 40 (a full and a part panel), residual separate, two tasks in reverse. */
static void test_nan_relu(void **state) {
  (void)state;
#if defined(__AVX2__) && defined(__FMA__)
  for (int shape = 0; shape < 2; shape++) {
    for (int act = 0; act <= 1; act++) {
      const int64_t ci = 20, co = 40, hw = shape == 0 ? 7 : 14, kk = shape == 0 ? 1 : 3;
      cnnrt_conv_params p;
      memset(&p, 0, sizeof p);
      p.spatial = 2;
      p.n = 1;
      p.c_in = ci;
      p.c_out = co;
      p.group = 1;
      for (int a = 0; a < 3; a++) {
        p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
      }
      p.in[0] = p.in[1] = p.out[0] = p.out[1] = hw;
      p.kernel[0] = p.kernel[1] = kk;
      p.pad_begin[0] = p.pad_begin[1] = kk / 2;
      p.act = act == 0 ? CNNRT_ACT_NONE : CNNRT_ACT_RELU;
      const int64_t k = ci * kk * kk, plane = hw * hw, yn = co * plane;
      float *x = malloc(sizeof(float) * (size_t)(ci * plane));
      float *w = malloc(sizeof(float) * (size_t)(co * k)), *b = malloc(sizeof(float) * (size_t)co);
      float *r = malloc(sizeof(float) * (size_t)yn), *want = malloc(sizeof(float) * (size_t)yn);
      float *y = malloc(sizeof(float) * (size_t)yn);
      float *wp = malloc((size_t)cnnrt_f32_pack_a_mr_bytes(co, k, CNNRT_CONV_MVEC_MR));
      const int64_t stride = (cnnrt_f32_conv_mvec_scratch_bytes(&p) + 63) / 64 * 64;
      unsigned char *scratch = malloc((size_t)(stride * 2));
      for (int64_t i = 0; i < ci * plane; i++) x[i] = urand();
      for (int64_t i = 0; i < co * k; i++) w[i] = urand();
      for (int64_t i = 0; i < co; i++) b[i] = urand();
      for (int64_t i = 0; i < yn; i++) r[i] = urand();
      x[3 * plane + 5] = NAN; /* channel 3, pixel 5: the first tile (and, 3x3, its neighbours) */
      x[7 * plane + plane - 1] = NAN; /* the last pixel: the last, shorter tile */
      cnnrt_f32_pack_a_mr(co, k, CNNRT_CONV_MVEC_MR, w, wp);
      cnnrt_f32_conv_ref(&p, x, w, b, r, want);
      cnnrt_conv_mvec_task t = {&p, x, wp, b, r, y, scratch, stride, 2, {{0}}};
      cnnrt_parallel par = {run_reverse, NULL, 2};
      cnnrt_parallel_for(&par, cnnrt_conv_mvec_task_fn, &t, 2);
      int64_t nans = 0;
      for (int64_t i = 0; i < yn; i++) {
        if (isnan(want[i])) {
          nans++;
          assert_true(isnan(y[i]));
        } else {
          assert_false(isnan(y[i]));
          assert_true(fabsf(y[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])));
        }
      }
      /* The case is what it claims: NaN sums without activation, none after ReLU. */
      assert_true(act == 0 ? nans >= 2 * co : nans == 0);
      free(x), free(w), free(b), free(r), free(want), free(y), free(wp), free(scratch);
    }
  }
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_widths),
      cmocka_unit_test(test_shapes),
      cmocka_unit_test(test_nan_relu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
