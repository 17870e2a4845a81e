/* conv_grouped_cases.h — the cases shared by the grouped convolution kernel tests
 * (tests/kernels/test_conv_grouped_avx2.c, tests/arm/kernels/test_neon_grouped.c): one packed
 * GEMM per group and its portable fallback on the same packed weights, against
 * cnnrt_f32_conv_ref (which reads the weights as ONNX gives them).
 *
 * The including file defines, after including this one (and kernel_test_util.h before it),
 *   static void check(const grouped_case *c);
 * which runs one case through its kernels and fails the test on an error or a touched guard.
 * test_groups, test_network_shapes and test_odd_shapes are cmocka tests that call it. */
#ifndef CNNCC_TESTS_CONV_GROUPED_CASES_H
#define CNNCC_TESTS_CONV_GROUPED_CASES_H

#define GUARD 16
#define GUARD_VAL -12345.0f

typedef struct grouped_case {
  int64_t n, groups, cig, cog, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int act;
  int bias, residual; /* residual: 0 none, 1 separate buffer, 2 in place (y = residual) */
  int64_t tasks;
} grouped_case;

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return cnnrt_conv_floor_div(in + pb + pe - ((k - 1) * d + 1), s) + 1;
}

static void check(const grouped_case *c);

static grouped_case make(int64_t n, int64_t groups, int64_t cig, int64_t cog, int64_t ih,
                         int64_t iw, int64_t kk, int64_t s, int64_t pad) {
  grouped_case c;
  memset(&c, 0, sizeof c);
  c.n = n;
  c.groups = groups;
  c.cig = cig;
  c.cog = cog;
  c.ih = ih;
  c.iw = iw;
  c.kh = c.kw = kk;
  c.sh = c.sw = s;
  c.dh = c.dw = 1;
  c.pt = c.pl = c.pb = c.pr = pad;
  c.bias = 1;
  c.tasks = 1;
  return c;
}

/* Groups 2..32 with channels per group off the panel and vector widths, 1x1 and 3x3 kernels,
 * strides 1 and 2, image sizes around the 16-column panel (7, 13, 16, 17), 1..5 tasks. */
static void test_groups(void **state) {
  (void)state;
  static const int64_t groups[] = {2, 3, 4, 8, 32};
  static const int64_t per_group[][2] = {{1, 1}, {3, 5}, {4, 4}, {5, 3}, {7, 13}, {8, 8}, {2, 6}};
  static const int64_t sizes[] = {7, 13, 16, 17};
  int n_cases = 0;
  for (int gi = 0; gi < 5; gi++) {
    for (int ci = 0; ci < 7; ci++) {
      for (int kk = 1; kk <= 3; kk += 2) {
        for (int64_t s = 1; s <= 2; s++) {
          const int64_t size = sizes[(gi + ci + kk + s) % 4];
          grouped_case c = make(1 + (ci + s) % 2, groups[gi], per_group[ci][0], per_group[ci][1],
                                size, size + (gi % 2), kk, s, kk / 2);
          c.tasks = 1 + (gi + ci + kk) % 3;
          c.act = (gi + ci + kk + s) % 3 == 0 ? CNNRT_ACT_RELU : CNNRT_ACT_NONE;
          c.residual = (gi + ci + s) % 3;
          c.bias = (ci + s) % 4 != 0;
          check(&c);
          n_cases++;
        }
      }
    }
  }
  assert_int_equal(n_cases, 5 * 7 * 2 * 2);
}

/* The shapes of real networks: ResNeXt's 32 x 4 (and 32 x 8 with stride 2), RegNet's 8-channel
 * groups, a depthwise layer with a channel multiplier of 2 (group = c_in, c_out = 2 c_in). */
static void test_network_shapes(void **state) {
  (void)state;
  grouped_case c = make(1, 32, 4, 4, 28, 28, 3, 1, 1);
  c.act = CNNRT_ACT_RELU;
  c.tasks = 2;
  check(&c);
  c = make(2, 32, 8, 8, 14, 14, 3, 2, 1);
  c.tasks = 3;
  c.residual = 2;
  check(&c);
  c = make(1, 6, 8, 8, 7, 7, 3, 1, 1);
  c.act = CNNRT_ACT_RELU;
  c.tasks = 2;
  check(&c);
  c = make(1, 12, 1, 2, 9, 9, 3, 1, 1);
  c.tasks = 5;
  check(&c);
  c = make(1, 2, 40, 70, 10, 10, 3, 1, 1); /* k = 360 > KC: two k blocks per group */
  c.tasks = 2;
  c.residual = 1;
  c.act = CNNRT_ACT_RELU;
  check(&c);
}

/* Dilation, asymmetric and oversized pads, non-square kernels and strides, 1x1 planes (and the
 * 1-pixel pointwise case), every activation. */
static void test_odd_shapes(void **state) {
  (void)state;
  grouped_case c = make(1, 4, 3, 5, 11, 9, 3, 1, 2);
  c.dh = c.dw = 2;
  c.tasks = 2;
  check(&c);
  c = make(2, 3, 2, 3, 10, 12, 3, 2, 0);
  c.kh = 5;
  c.pt = 2;
  c.pb = 1;
  c.pl = 0;
  c.pr = 3;
  c.sh = 1;
  c.tasks = 3;
  c.residual = 2;
  check(&c);
  c = make(2, 8, 3, 5, 1, 1, 3, 1, 1); /* 1x1 plane, 3x3 kernel: only the centre tap */
  c.tasks = 2;
  c.residual = 1;
  check(&c);
  c = make(2, 8, 3, 5, 1, 1, 1, 1, 0); /* 1x1 plane, 1x1 kernel (the pointwise 1-pixel case) */
  c.tasks = 3;
  c.residual = 2;
  check(&c);
  c = make(1, 4, 5, 3, 6, 5, 1, 2, 0); /* strided 1x1 (not pointwise) */
  c.tasks = 2;
  check(&c);
  static const int acts[] = {CNNRT_ACT_RELU,     CNNRT_ACT_LEAKY_RELU, CNNRT_ACT_CLIP,
                             CNNRT_ACT_SIGMOID,  CNNRT_ACT_HARD_SIGMOID, CNNRT_ACT_HARD_SWISH,
                             CNNRT_ACT_SILU,     CNNRT_ACT_TANH};
  for (int a = 0; a < (int)(sizeof acts / sizeof acts[0]); a++) {
    c = make(1, 4, 3, 5, 9, 8, 3, 1, 1);
    c.act = acts[a];
    c.residual = a % 3;
    c.tasks = 1 + a % 3;
    check(&c);
  }
}

#endif
