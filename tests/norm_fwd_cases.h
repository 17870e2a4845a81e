/* norm_fwd_cases.h — the cases of the forward normalisation kernel tests, shared by
 * tests/kernels/test_norm_avx2.c (cnnrt_norm_avx2.h) and tests/arm/kernels/test_neon_norm.c
 * (cnnrt_norm_neon.h). The includer defines NORM_FWD(name), the SIMD form of kernel `name`
 * (e.g. cnnrt_f32_##name##_avx2), includes kernel_test_util.h and then this file, and runs
 * norm_fwd_tests (cmocka).
 *
 * Each kernel is compared with its scalar reference in cnnrt_norm.h (two-pass double sums;
 * checked against ONNX's and PyTorch's outputs by the onnx_node, model and train tests):
 *  - channel affine, inference BatchNormalization, training-mode BatchNormalization (y and the
 *    updated running mean / variance), InstanceNormalization: batch 1..3, channel counts 1, 3,
 *    17 (odd), planes of 1..40 elements (1x1 images, every remainder of the vector width) and
 *    300, 784, 3136 (several 256-element blocks); data centred at 0 and at 1000 (std ~0.6:
 *    the cancellation the x - m_f form exists for); units split over 1..4 tasks run in reverse;
 *    one in-place call (y == x) per kernel;
 *  - LayerNormalization: 1..12 rows of 1..40, 300, 784 elements, with and without scale/bias
 *    and the Mean / InvStdDev outputs, centred at 0 and 1000.
 * Error: max |got - want| / max |want| per output, bound 1e-5 (float rounding of the fused
 * multiply-add and of block sums of up to 256 terms; the figures seen are ~1e-7). */
#ifndef CNNCC_TESTS_NORM_FWD_CASES_H
#define CNNCC_TESTS_NORM_FWD_CASES_H

#define NORM_FWD_TOL 1e-5

static double norm_fwd_worst = 0.0;

static void norm_fwd_expect(const char *what, const float *got, const float *want, int64_t len,
                            int64_t n, int64_t c, int64_t spatial) {
  const double rel = max_rel_err(got, want, len);
  if (rel > norm_fwd_worst) {
    norm_fwd_worst = rel;
  }
  if (!(rel <= NORM_FWD_TOL)) {
    fprintf(stderr, "%s: n %lld c %lld spatial %lld: rel err %.3g\n", what, (long long)n,
            (long long)c, (long long)spatial, rel);
  }
  assert_true(rel <= NORM_FWD_TOL);
}

static float *norm_fwd_alloc(int64_t n) { return malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)); }

/* kind: 0 channel affine, 1 inference BatchNormalization, 2 training-mode, 3 InstanceNorm. */
static void norm_fwd_channel_case(int kind, int64_t n, int64_t c, int64_t spatial, float centre,
                                  int tasks, int in_place) {
  const int64_t total = n * c * spatial;
  float *x = norm_fwd_alloc(total), *y0 = norm_fwd_alloc(total), *y1 = norm_fwd_alloc(total);
  float *scale = norm_fwd_alloc(c), *bias = norm_fwd_alloc(c), *mean = norm_fwd_alloc(c),
        *var = norm_fwd_alloc(c);
  float *rm0 = norm_fwd_alloc(c), *rv0 = norm_fwd_alloc(c), *rm1 = norm_fwd_alloc(c),
        *rv1 = norm_fwd_alloc(c);
  for (int64_t i = 0; i < total; i++) {
    x[i] = centre + urand();
  }
  for (int64_t i = 0; i < c; i++) {
    scale[i] = 1.0f + 0.5f * urand();
    bias[i] = 0.5f * urand();
    mean[i] = centre + 0.1f * urand();
    var[i] = 0.3f + 0.2f * urand();
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;
  const float eps = 1e-5f, momentum = 0.9f;
  const float *xin = x;
  if (in_place) {
    memcpy(y1, x, sizeof(float) * (size_t)total);
    xin = y1;
  }
  switch (kind) {
  case 0:
    cnnrt_f32_channel_affine_ref(n, c, spatial, x, scale, bias, y0);
    NORM_FWD(channel_affine)(n, c, spatial, xin, scale, bias, y1, pp);
    norm_fwd_expect("channel affine", y1, y0, total, n, c, spatial);
    break;
  case 1:
    cnnrt_f32_batchnorm_ref(n, c, spatial, eps, x, scale, bias, mean, var, y0);
    NORM_FWD(batchnorm)(n, c, spatial, eps, xin, scale, bias, mean, var, y1, pp);
    norm_fwd_expect("batchnorm", y1, y0, total, n, c, spatial);
    break;
  case 2:
    cnnrt_f32_batchnorm_train_ref(n, c, spatial, eps, momentum, x, scale, bias, mean, var, y0,
                                  rm0, rv0);
    NORM_FWD(batchnorm_train)(n, c, spatial, eps, momentum, xin, scale, bias, mean, var, y1, rm1,
                              rv1, pp);
    norm_fwd_expect("batchnorm train y", y1, y0, total, n, c, spatial);
    norm_fwd_expect("batchnorm train running mean", rm1, rm0, c, n, c, spatial);
    norm_fwd_expect("batchnorm train running var", rv1, rv0, c, n, c, spatial);
    /* and without the running statistics */
    NORM_FWD(batchnorm_train)(n, c, spatial, eps, momentum, x, scale, bias, mean, var, y1, NULL,
                              NULL, pp);
    norm_fwd_expect("batchnorm train y (no running stats)", y1, y0, total, n, c, spatial);
    break;
  default:
    cnnrt_f32_instancenorm_ref(n, c, spatial, eps, x, scale, bias, y0);
    NORM_FWD(instancenorm)(n, c, spatial, eps, xin, scale, bias, y1, pp);
    norm_fwd_expect("instancenorm", y1, y0, total, n, c, spatial);
    break;
  }
  free(x);
  free(y0);
  free(y1);
  free(scale);
  free(bias);
  free(mean);
  free(var);
  free(rm0);
  free(rv0);
  free(rm1);
  free(rv1);
}

static void norm_fwd_channel_kind(int kind) {
  norm_fwd_worst = 0.0;
  const int64_t batches[] = {1, 2, 3}, channels[] = {1, 3, 17};
  const int64_t big[] = {300, 784, 3136};
  int k = 0;
  for (size_t b = 0; b < 3; b++) {
    for (size_t ci = 0; ci < 3; ci++) {
      for (int64_t s = 1; s <= 40; s++) {
        k++;
        norm_fwd_channel_case(kind, batches[b], channels[ci], s, k % 3 == 0 ? 1000.0f : 0.0f,
                              1 + k % 4, 0);
      }
      for (size_t s = 0; s < 3; s++) {
        k++;
        norm_fwd_channel_case(kind, batches[b], channels[ci], big[s], 0.0f, 1 + k % 4, 0);
        norm_fwd_channel_case(kind, batches[b], channels[ci], big[s], 1000.0f, 1 + k % 4, 0);
      }
    }
  }
  norm_fwd_channel_case(kind, 2, 5, 37, 1000.0f, 3, 1);
  norm_fwd_channel_case(kind, 1, 1, 1, 0.0f, 1, 1);
  printf("%s: worst rel err %.3g\n",
         kind == 0 ? "channel affine" : kind == 1 ? "batchnorm" : kind == 2 ? "batchnorm train"
                                                                             : "instancenorm",
         norm_fwd_worst);
}

static void test_channel_affine(void **state) {
  (void)state;
  norm_fwd_channel_kind(0);
}
static void test_batchnorm(void **state) {
  (void)state;
  norm_fwd_channel_kind(1);
}
static void test_batchnorm_train(void **state) {
  (void)state;
  norm_fwd_channel_kind(2);
}
static void test_instancenorm(void **state) {
  (void)state;
  norm_fwd_channel_kind(3);
}

static void norm_fwd_layernorm_case(int64_t outer, int64_t inner, float centre, int tasks,
                                    int params, int stats, int in_place) {
  const int64_t total = outer * inner;
  float *x = norm_fwd_alloc(total), *y0 = norm_fwd_alloc(total), *y1 = norm_fwd_alloc(total);
  float *sc = norm_fwd_alloc(inner), *bi = norm_fwd_alloc(inner);
  float *st0 = norm_fwd_alloc(2 * outer), *st1 = norm_fwd_alloc(2 * outer);
  for (int64_t i = 0; i < total; i++) {
    x[i] = centre + urand();
  }
  for (int64_t i = 0; i < inner; i++) {
    sc[i] = 1.0f + 0.5f * urand();
    bi[i] = 0.5f * urand();
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const float eps = 1e-5f;
  /* params: 0 none, 1 scale, 2 scale and bias */
  const float *scale = params >= 1 ? sc : NULL, *bias = params == 2 ? bi : NULL;
  const float *xin = x;
  if (in_place) {
    memcpy(y1, x, sizeof(float) * (size_t)total);
    xin = y1;
  }
  cnnrt_f32_layernorm_ref(outer, inner, eps, x, scale, bias, y0, stats ? st0 : NULL,
                          stats ? st0 + outer : NULL);
  NORM_FWD(layernorm)(outer, inner, eps, xin, scale, bias, y1, stats ? st1 : NULL,
                      stats ? st1 + outer : NULL, tasks > 1 ? &par : NULL);
  norm_fwd_expect("layernorm y", y1, y0, total, outer, 1, inner);
  if (stats) {
    norm_fwd_expect("layernorm mean", st1, st0, outer, outer, 1, inner);
    norm_fwd_expect("layernorm inv_std", st1 + outer, st0 + outer, outer, outer, 1, inner);
  }
  free(x);
  free(y0);
  free(y1);
  free(sc);
  free(bi);
  free(st0);
  free(st1);
}

static void test_layernorm(void **state) {
  (void)state;
  norm_fwd_worst = 0.0;
  const int64_t outers[] = {1, 2, 5, 12};
  int k = 0;
  for (size_t o = 0; o < 4; o++) {
    for (int64_t inner = 1; inner <= 42; inner++) {
      const int64_t len = inner <= 40 ? inner : inner == 41 ? 300 : 784;
      k++;
      norm_fwd_layernorm_case(outers[o], len, k % 3 == 0 ? 1000.0f : 0.0f, 1 + k % 4, k % 3,
                              k % 2, 0);
    }
  }
  norm_fwd_layernorm_case(3, 1000, 1000.0f, 3, 2, 1, 0);
  norm_fwd_layernorm_case(4, 37, 1000.0f, 2, 2, 1, 1);
  printf("layernorm: worst rel err %.3g\n", norm_fwd_worst);
}

static int norm_fwd_tests(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_channel_affine),  cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_batchnorm_train), cmocka_unit_test(test_instancenorm),
      cmocka_unit_test(test_layernorm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif /* CNNCC_TESTS_NORM_FWD_CASES_H */
