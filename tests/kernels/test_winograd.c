/* test_winograd.c — Winograd F(4x4, 3x3) convolution (runtime/cnnrt_winograd.h) against the
 * direct reference cnnrt_f32_conv_ref: the portable Winograd reference always, the AVX2 kernel
 * (and its AVX-512 GEMM tiles) when built with the ISA flags (test_winograd_avx2.c includes this
 * file). Shapes cover whole tiles and remainders, 1x1 / 2x2 images, pads 0 / 1 / 2 /
 * asymmetric, channel counts that are not multiples of 6, 8 or 16, batches, tile blocks that
 * split tile rows, several tasks, and the fused epilogues (bias, activations, residual, the
 * residual being y itself).
 *
 * Tolerance: |y - y_direct| <= 1e-5 * (|bias| + |res| + sum over taps |w x|) per element. F(4x4,
 * 3x3)'s transforms scale partial sums by up to 8 (and 1/24), so it rounds worse than direct
 * convolution; the largest ratio seen is printed (about 1e-7 here). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cnnrt_conv.h"
#include "cnnrt_winograd.h"

static double worst_ratio;

static float frand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void compare(const char *what, const float *got, const float *want, const float *bound,
                    int64_t yn, const cnnrt_conv_params *p) {
  for (int64_t i = 0; i < yn; i++) {
    const double err = fabs((double)got[i] - (double)want[i]);
    const double tol = 1e-5 * (double)bound[i] + 1e-30;
    if (err / tol * 1e-5 > worst_ratio) {
      worst_ratio = err / tol * 1e-5;
    }
    if (!(err <= tol)) {
      fail_msg("%s: ci=%lld co=%lld %lldx%lld pads %lld,%lld act=%lld: y[%lld] %.9g vs %.9g "
               "(bound %g)",
               what, (long long)p->c_in, (long long)p->c_out, (long long)p->in[0],
               (long long)p->in[1], (long long)p->pad_begin[0], (long long)p->pad_begin[1],
               (long long)p->act, (long long)i, (double)got[i], (double)want[i],
               (double)bound[i]);
    }
  }
}

/* pt, pl: leading pads (top, left); pb, pr: trailing pads. */
static void check_case(int64_t n, int64_t ci, int64_t co, int64_t ih, int64_t iw, int64_t pt,
                       int64_t pl, int64_t pb, int64_t pr, int act, int res_mode, int use_bias) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = n;
  p.c_in = ci;
  p.c_out = co;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = ih;
  p.in[1] = iw;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = pt;
  p.pad_begin[1] = pl;
  p.out[0] = ih + pt + pb - 2;
  p.out[1] = iw + pl + pr - 2;
  assert_true(p.out[0] >= 1 && p.out[1] >= 1);
  p.act = act;
  p.alpha = act == CNNRT_ACT_CLIP ? -0.5f : 0.1f;
  p.beta = 0.5f;
  const int64_t xn = n * ci * ih * iw, wn = co * ci * 9, yn = n * co * p.out[0] * p.out[1];
  float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
  float *ax = malloc(sizeof(float) * (size_t)xn), *aw = malloc(sizeof(float) * (size_t)wn);
  float *b = malloc(sizeof(float) * (size_t)co), *r = malloc(sizeof(float) * (size_t)yn);
  float *y0 = malloc(sizeof(float) * (size_t)yn), *y1 = malloc(sizeof(float) * (size_t)yn);
  float *bound = malloc(sizeof(float) * (size_t)yn);
  float *wt = malloc((size_t)cnnrt_f32_winograd43_weights_bytes(co, ci));
  unsigned seed = (unsigned)(ci * 131 + co * 7 + ih * 3 + iw);
  for (int64_t i = 0; i < xn; i++) {
    x[i] = frand(&seed);
    ax[i] = fabsf(x[i]);
  }
  for (int64_t i = 0; i < wn; i++) {
    w[i] = frand(&seed);
    aw[i] = fabsf(w[i]);
  }
  for (int64_t i = 0; i < co; i++) b[i] = frand(&seed);
  for (int64_t i = 0; i < yn; i++) r[i] = frand(&seed);
  const float *bias = use_bias ? b : NULL;
  /* The bound: sum |w x| over taps, plus what the epilogue adds. */
  cnnrt_conv_params pa = p;
  pa.act = CNNRT_ACT_NONE;
  cnnrt_f32_conv_ref(&pa, ax, aw, NULL, NULL, bound);
  for (int64_t i = 0; i < yn; i++) {
    const int64_t oc = (i / (p.out[0] * p.out[1])) % co;
    bound[i] += (use_bias ? fabsf(b[oc]) : 0.0f) + (res_mode ? fabsf(r[i]) : 0.0f) + 1e-3f;
  }
  cnnrt_f32_conv_ref(&p, x, w, bias, res_mode ? r : NULL, y0);
  cnnrt_f32_winograd43_pack_weights(co, ci, w, wt);
  /* res_mode 2: the residual is y itself (in-place add). */
  if (res_mode == 2) {
    memcpy(y1, r, sizeof(float) * (size_t)yn);
  }
  cnnrt_f32_conv_winograd43_ref(&p, x, wt, bias, res_mode == 1 ? r : (res_mode == 2 ? y1 : NULL),
                                y1);
  compare("winograd43_ref", y1, y0, bound, yn, &p);
#if defined(__AVX2__) && defined(__FMA__)
  /* Block sizes: one tile, a short block (splits tile rows), the whole image, the compiler's
   * choice (whole tile rows); 1 to 3 tasks (task ranges start inside tile rows; or, with fewer
   * blocks than tasks and enough output channels, tasks split by output channels). */
  const int64_t tiles = n * cnnrt_winograd43_tile_rows(&p) * cnnrt_winograd43_tile_cols(&p);
  const int64_t tb_compiler = cnnrt_winograd43_tile_block(&p);
  const int64_t tbs[5] = {1, 5, tiles < 96 ? tiles : 96, tb_compiler, tb_compiler};
  const int64_t tasks[5] = {1, 2, 3, 1, 2};
  for (int k = 0; k < 5; k++) {
    const int64_t tb = tbs[k];
    const int64_t n_tasks = tasks[k];
    const int64_t per = (cnnrt_f32_conv_winograd43_scratch_bytes(&p, tb) + 63) / 64 * 64;
    unsigned char *scratch = malloc((size_t)(per * n_tasks));
    memset(scratch, 0xff, (size_t)(per * n_tasks)); /* NaN: nothing may read unwritten scratch */
    if (res_mode == 2) {
      memcpy(y1, r, sizeof(float) * (size_t)yn);
    } else {
      memset(y1, 0xff, sizeof(float) * (size_t)yn);
    }
    for (int64_t t = 0; t < n_tasks; t++) {
      cnnrt_f32_conv_winograd43_avx2_range(&p, x, wt, bias,
                                           res_mode == 1 ? r : (res_mode == 2 ? y1 : NULL), y1, tb,
                                           scratch + t * per, t, n_tasks, NULL);
    }
    compare("winograd43_avx2", y1, y0, bound, yn, &p);
    if (n_tasks > 1) { /* with stealing, last task first: it takes the others' blocks too */
      if (res_mode == 2) {
        memcpy(y1, r, sizeof(float) * (size_t)yn);
      } else {
        memset(y1, 0xff, sizeof(float) * (size_t)yn);
      }
      cnnrt_steal steal;
      memset(&steal, 0, sizeof steal);
      for (int64_t t = n_tasks - 1; t >= 0; t--) {
        cnnrt_f32_conv_winograd43_avx2_range(&p, x, wt, bias,
                                             res_mode == 1 ? r : (res_mode == 2 ? y1 : NULL), y1,
                                             tb, scratch + t * per, t, n_tasks, &steal);
      }
      compare("winograd43_avx2 stealing", y1, y0, bound, yn, &p);
    }
    free(scratch);
  }
#endif
  free(x); free(w); free(ax); free(aw); free(b); free(r); free(y0); free(y1); free(bound);
  free(wt);
}

static void test_tiles_and_remainders(void **state) {
  (void)state;
  check_case(1, 3, 8, 8, 8, 1, 1, 1, 1, CNNRT_ACT_NONE, 0, 1);     /* 2x2 whole tiles */
  check_case(1, 5, 7, 9, 7, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 1);     /* remainders both ways */
  check_case(1, 16, 16, 14, 14, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 1); /* ResNet-like 14x14 */
  check_case(1, 17, 33, 7, 7, 1, 1, 1, 1, CNNRT_ACT_NONE, 2, 1);   /* 7x7, in-place residual */
  check_case(2, 9, 13, 11, 13, 1, 1, 1, 1, CNNRT_ACT_RELU, 2, 1);  /* batch 2 */
  check_case(1, 8, 40, 37, 45, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 1);  /* many tiles per row */
}

static void test_small_images_and_pads(void **state) {
  (void)state;
  check_case(1, 4, 6, 1, 1, 1, 1, 1, 1, CNNRT_ACT_NONE, 0, 1);  /* 1x1 image */
  check_case(1, 4, 6, 2, 2, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 0);  /* 2x2 image */
  check_case(1, 6, 5, 6, 6, 0, 0, 0, 0, CNNRT_ACT_NONE, 0, 1);  /* no pad: one 4x4 tile */
  check_case(1, 6, 5, 10, 9, 0, 0, 0, 0, CNNRT_ACT_NONE, 1, 0); /* no pad, remainders */
  check_case(1, 3, 7, 8, 10, 0, 1, 1, 0, CNNRT_ACT_CLIP, 0, 1); /* asymmetric (SAME_LOWER-like) */
  check_case(1, 3, 7, 9, 8, 1, 0, 0, 1, CNNRT_ACT_NONE, 1, 1);  /* asymmetric (SAME_UPPER-like) */
  check_case(1, 2, 3, 5, 6, 2, 2, 2, 2, CNNRT_ACT_LEAKY_RELU, 0, 1); /* pads larger than 1 */
  check_case(1, 1, 1, 3, 3, 0, 0, 0, 0, CNNRT_ACT_NONE, 0, 0);  /* 1x1 output */
}

static void test_epilogues_and_channels(void **state) {
  (void)state;
  check_case(1, 1, 1, 12, 12, 1, 1, 1, 1, CNNRT_ACT_SIGMOID, 1, 1);
  check_case(1, 23, 19, 10, 10, 1, 1, 1, 1, CNNRT_ACT_HARD_SWISH, 0, 1);
  check_case(1, 70, 29, 6, 9, 1, 1, 1, 1, CNNRT_ACT_RELU, 2, 1);
  check_case(1, 333, 12, 5, 5, 1, 1, 1, 1, CNNRT_ACT_NONE, 0, 1); /* c_in > the GEMM's KC */
  /* c_out over several 24-row GEMM strips, the last one partial; c_in > KC with it */
  check_case(1, 17, 61, 9, 11, 1, 1, 1, 1, CNNRT_ACT_RELU, 1, 1);
  check_case(1, 330, 50, 6, 6, 1, 1, 1, 1, CNNRT_ACT_NONE, 2, 0);
}

#if defined(__AVX2__) && defined(__FMA__)
/* ResNet's c -> c 3x3 convolution on hw x hw images. */
static cnnrt_conv_params resnet_3x3(int64_t c, int64_t hw) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = 1;
  p.c_in = p.c_out = c;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = p.in[1] = p.out[0] = p.out[1] = hw;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  return p;
}
#endif

/* Few tiles, many output channels: two and three tasks split the output channels
 * (cnnrt_winograd43_by_channels), at multiples of 12, the last share partial. */
static void test_channel_split(void **state) {
  (void)state;
  for (int64_t co = 48; co <= 53; co++) { /* 2 tasks: shares 24 + 24 .. 24 + 29 */
    check_case(1, 7, co, 7, 7, 1, 1, 1, 1, CNNRT_ACT_RELU, (int)(co % 3), 1);
  }
  check_case(1, 20, 100, 14, 14, 1, 1, 1, 1, CNNRT_ACT_RELU, 2, 1); /* ResNet's 14x14, 3 tasks */
  check_case(1, 40, 77, 13, 13, 1, 1, 1, 1, CNNRT_ACT_SIGMOID, 1, 0);
  check_case(2, 9, 96, 5, 6, 1, 1, 1, 1, CNNRT_ACT_NONE, 0, 1); /* batch 2 */
#if defined(__AVX2__) && defined(__FMA__)
  const cnnrt_conv_params p14 = resnet_3x3(256, 14), p28 = resnet_3x3(128, 28);
  assert_true(cnnrt_winograd43_by_channels(&p14, cnnrt_winograd43_tile_block(&p14), 2));
  assert_false(cnnrt_winograd43_by_channels(&p14, cnnrt_winograd43_tile_block(&p14), 1));
  assert_false(cnnrt_winograd43_by_channels(&p28, cnnrt_winograd43_tile_block(&p28), 2));
#endif
}

static int report(void **state) {
  (void)state;
  printf("# largest |error| / bound: %.3g (tolerance 1e-5)\n", worst_ratio);
  return 0;
}

int main(void) {
#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(__AVX512F__)
#error "built for AVX-512 without -mavx512f"
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiles_and_remainders), cmocka_unit_test(test_small_images_and_pads),
      cmocka_unit_test(test_epilogues_and_channels), cmocka_unit_test(test_channel_split)};
  return cmocka_run_group_tests(tests, NULL, report);
}
