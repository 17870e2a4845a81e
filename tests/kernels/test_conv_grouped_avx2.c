/* test_conv_grouped_avx2.c — the grouped convolution as one packed GEMM per group
 * (cnnrt_f32_conv_grouped_gemm_avx2_range, cnnrt_gemm_avx2.h) and its portable fallback on the
 * same packed weights (cnnrt_f32_conv_grouped_packed_ref, cnnrt_conv_packed.h), both against
 * cnnrt_f32_conv_ref (the portable reference reading the weights as ONNX gives them):
 * groups 2, 3, 4, 8, 32; channels per group 1..(not multiples of the 6-row panel or the 8-lane
 * vector: 3 in, 5 out, 7, 13); 1x1, 3x3 and 5x3 kernels; strides 1 and 2; dilation 2; symmetric,
 * asymmetric and zero pads; 1x1 planes (the 1-pixel pointwise case too); batch 2; every fused
 * activation; bias absent / present; residual absent / separate / in place; 1, 2, 3 and 5 tasks
 * run in reverse order (task ranges that cross group and image boundaries). Guard zones around y
 * catch stray masked stores, which AddressSanitizer does not see.
 * Built with -mavx2 -mfma (and once more with -mavx512f as test_conv_grouped_avx512, which runs
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

#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_GEMM_AVX512)
#error "built for AVX-512 but cnnrt_gemm_avx2.h did not enable its AVX-512 tiles"
#endif

#if defined(__AVX2__) && defined(__FMA__)

#include "../conv_grouped_cases.h"

/* Runs one case through the GEMM (fallback = 0) or the packed reference (fallback = 1); returns
 * the max relative error vs cnnrt_f32_conv_ref (or fails on a guard). */
static double run_case(const grouped_case *c, int fallback) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = c->n;
  p.group = c->groups;
  p.c_in = c->cig * c->groups;
  p.c_out = c->cog * c->groups;
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
  const int64_t xn = c->n * p.c_in * c->ih * c->iw, wn = p.c_out * c->cig * c->kh * c->kw;
  const int64_t yn = c->n * p.c_out * p.out[0] * p.out[1];
  float *x = malloc(sizeof(float) * (size_t)xn), *w = malloc(sizeof(float) * (size_t)wn);
  float *b = malloc(sizeof(float) * (size_t)p.c_out), *r = malloc(sizeof(float) * (size_t)yn);
  float *want = malloc(sizeof(float) * (size_t)yn);
  float *ybuf = malloc(sizeof(float) * (size_t)(yn + 2 * GUARD));
  float *wp = malloc((size_t)cnnrt_f32_conv_grouped_pack_mr6_bytes(&p));
  const int64_t scratch_stride = (cnnrt_f32_conv_grouped_avx2_scratch_bytes(&p) + 63) / 64 * 64;
  unsigned char *scratch = malloc((size_t)(scratch_stride * c->tasks));
  for (int64_t i = 0; i < xn; i++) x[i] = urand();
  for (int64_t i = 0; i < wn; i++) w[i] = urand();
  for (int64_t i = 0; i < p.c_out; i++) b[i] = urand();
  for (int64_t i = 0; i < yn; i++) r[i] = urand();
  for (int64_t i = 0; i < yn + 2 * GUARD; i++) ybuf[i] = GUARD_VAL;
  float *y = ybuf + GUARD;
  cnnrt_f32_conv_grouped_pack_mr6(&p, w, wp);
  const float *bias = c->bias ? b : NULL;
  cnnrt_f32_conv_ref(&p, x, w, bias, c->residual ? r : NULL, want);
  const float *res = NULL;
  if (c->residual == 1) {
    res = r;
  } else if (c->residual == 2) {
    memcpy(y, r, sizeof(float) * (size_t)yn);
    res = y;
  }
  if (fallback) {
    cnnrt_f32_conv_grouped_packed_ref(&p, x, wp, bias, res, y);
  } else {
    cnnrt_conv_task t = {&p,       x,    wp,   bias, res,  y, scratch, scratch_stride,
                         c->tasks, NULL, NULL, NULL, {{0}}};
    cnnrt_parallel par = {run_reverse, NULL, (int)c->tasks};
    cnnrt_parallel_for(&par, cnnrt_conv_grouped_gemm_avx2_task, &t, c->tasks);
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

static void check(const grouped_case *c) {
  for (int fallback = 0; fallback <= 1; fallback++) {
    const double err = run_case(c, fallback);
    /* float32 sums of at most 40 * 9 products of values in [-1, 1) in another order: a few
     * ulps of the sum; the vector activations of cnnrt_act_avx2.h add ~3e-7 relative. */
    if (!(err <= 2e-5)) {
      fail_msg("%s: n=%lld groups=%lld cig=%lld cog=%lld in=%lldx%lld k=%lldx%lld s=%lldx%lld "
               "d=%lldx%lld pads=%lld,%lld,%lld,%lld act=%d bias=%d res=%d tasks=%lld: rel err %g",
               fallback ? "packed_ref" : "gemm_avx2", (long long)c->n, (long long)c->groups,
               (long long)c->cig, (long long)c->cog, (long long)c->ih, (long long)c->iw,
               (long long)c->kh, (long long)c->kw, (long long)c->sh, (long long)c->sw,
               (long long)c->dh, (long long)c->dw, (long long)c->pt, (long long)c->pl,
               (long long)c->pb, (long long)c->pr, c->act, c->bias, c->residual,
               (long long)c->tasks, err);
    }
  }
}


/* The schedule's rule: grouped, at least 3 channels per group in and out, 2-D. */
static void test_applies(void **state) {
  (void)state;
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.group = 32;
  p.c_in = 32 * 4;
  p.c_out = 32 * 4;
  assert_true(cnnrt_conv_grouped_gemm_applies(&p));
  p.c_in = 32 * 3;
  p.c_out = 32 * 3;
  assert_true(cnnrt_conv_grouped_gemm_applies(&p));
  p.c_in = 32 * 2; /* 2 input channels per group */
  assert_false(cnnrt_conv_grouped_gemm_applies(&p));
  p.c_in = 32;
  p.c_out = 64; /* depthwise with a channel multiplier */
  assert_false(cnnrt_conv_grouped_gemm_applies(&p));
  p.c_in = p.c_out = 32 * 4;
  p.group = 1;
  assert_false(cnnrt_conv_grouped_gemm_applies(&p));
  p.group = 32;
  p.spatial = 1;
  assert_false(cnnrt_conv_grouped_gemm_applies(&p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_network_shapes),
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
