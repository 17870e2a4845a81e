/* test_train_kernels.c — the training kernels (runtime/cnnrt_loss.h, cnnrt_optim.h,
 * cnnrt_dropout.h) against PyTorch. The reference values are computed at test time by
 * tests/train/torch_refs.py (python3-torch) into the folder given as the first argument:
 * losses and gradients vs torch.nn.functional + autograd, three optimizer steps vs torch.optim,
 * clipping vs clip_grad_norm_, learning rates vs torch's schedulers. Dropout has no PyTorch
 * twin (its RNG is ours); it is checked for its keep rate, scaling, determinism and for
 * independence from how the work is split.
 * usage: test_train_kernels REFDIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cnnrt_dropout.h"
#include "cnnrt_loss.h"
#include "cnnrt_npy.h"
#include "cnnrt_optim.h"

static const char *ref_dir;

/* Loads REFDIR/name.npy; returns its elements (malloc'd) and their count. */
static void *load(const char *name, int dtype, int64_t *count) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.npy", ref_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail_msg("cannot open %s (run torch_refs.py first)", path);
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)len);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  cnnrt_npy_info info;
  const char *err = cnnrt_npy_parse(buf, (size_t)len, &info);
  if (err) {
    fail_msg("%s: %s", path, err);
  }
  assert_int_equal(info.dtype, dtype);
  size_t bytes = (size_t)info.numel * (size_t)cnnrt_npy_elem_size(dtype);
  void *data = malloc(bytes ? bytes : 1);
  assert_non_null(data);
  memcpy(data, buf + info.data_offset, bytes);
  free(buf);
  if (count) {
    *count = info.numel;
  }
  return data;
}

static float *loadf(const char *name, int64_t *count) { return load(name, CNNRT_F32, count); }

/* max |got - want| <= rtol * max |want| (the whole tensor's scale), and reports the error. */
static void check_rel(const char *what, const float *got, const float *want, int64_t n,
                      double rtol) {
  double err = 0.0, scale = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    err = d > err ? d : err;
    scale = fabs((double)want[i]) > scale ? fabs((double)want[i]) : scale;
  }
  printf("  %-28s max|d| = %.3g, max|ref| = %.3g, relative %.3g\n", what, err, scale,
         scale > 0 ? err / scale : err);
  if (!(err <= rtol * scale) && !(scale == 0.0 && err == 0.0)) {
    fail_msg("%s: max|d| %.3g > %.3g * max|ref| %.3g", what, err, rtol, scale);
  }
}

/* ---- losses ---------------------------------------------------------------------------------- */

static void xent_case(const char *tag, float smoothing) {
  int64_t n_logits, n_labels;
  float *z = loadf("xent_logits", &n_logits);
  int64_t *labels = load("xent_labels", CNNRT_I64, &n_labels);
  char name[64];
  snprintf(name, sizeof name, "xent_loss_%s", tag);
  float *want_loss = loadf(name, NULL);
  snprintf(name, sizeof name, "xent_grad_%s", tag);
  float *want_grad = loadf(name, NULL);
  const int64_t classes = n_logits / n_labels;
  float loss = 0.0f;
  float *grad = malloc((size_t)n_logits * sizeof *grad);
  assert_non_null(grad);
  assert_int_equal(cnnrt_f32_softmax_xent_ref(n_labels, classes, smoothing, z, labels, &loss,
                                              grad),
                   0);
  check_rel(tag[1] == '0' ? "cross_entropy loss" : "cross_entropy(ls=.1) loss", &loss, want_loss,
            1, 1e-5);
  check_rel(tag[1] == '0' ? "cross_entropy grad" : "cross_entropy(ls=.1) grad", grad, want_grad,
            n_logits, 1e-5);
  /* In place (dlogits aliasing logits) gives the same. */
  float loss2 = 0.0f;
  assert_int_equal(cnnrt_f32_softmax_xent_ref(n_labels, classes, smoothing, z, labels, &loss2, z),
                   0);
  assert_true(loss2 == loss);
  assert_memory_equal(z, grad, (size_t)n_logits * sizeof *z);
  free(z);
  free(labels);
  free(want_loss);
  free(want_grad);
  free(grad);
}

static void test_cross_entropy(void **state) {
  (void)state;
  xent_case("s0", 0.0f);
  xent_case("s1", 0.1f);
}

static void test_cross_entropy_bad_label(void **state) {
  (void)state;
  const float z[6] = {1, 2, 3, 4, 5, 6};
  const int64_t labels[2] = {1, 3}; /* 3 is out of range for 3 classes */
  float grad[6], loss;
  assert_int_equal(cnnrt_f32_softmax_xent_ref(2, 3, 0.0f, z, labels, &loss, grad), 1);
  for (int i = 3; i < 6; i++) {
    assert_true(grad[i] == 0.0f);
  }
  assert_true(isfinite(loss));
}

static void test_mse(void **state) {
  (void)state;
  int64_t n;
  float *pred = loadf("mse_pred", &n), *target = loadf("mse_target", NULL);
  float *want_loss = loadf("mse_loss", NULL), *want_grad = loadf("mse_grad", NULL);
  float *grad = malloc((size_t)n * sizeof *grad);
  assert_non_null(grad);
  float loss;
  cnnrt_f32_mse_ref(n, pred, target, &loss, grad);
  check_rel("mse loss", &loss, want_loss, 1, 1e-5);
  check_rel("mse grad", grad, want_grad, n, 1e-5);
  free(pred);
  free(target);
  free(want_loss);
  free(want_grad);
  free(grad);
}

/* ---- optimizers ------------------------------------------------------------------------------ */

static void optimizer_case(const char *name, const cnnrt_optim_params *p, float lr) {
  int64_t n, n_grads;
  float *w = loadf("opt_w0", &n);
  float *grads = loadf("opt_grads", &n_grads);
  float *s1 = calloc((size_t)n, sizeof(float)), *s2 = calloc((size_t)n, sizeof(float));
  assert_non_null(s1);
  assert_non_null(s2);
  printf(" %s:\n", name);
  for (int64_t t = 1; t <= n_grads / n; t++) {
    const float *g = grads + (t - 1) * n;
    if (p->kind == CNNRT_OPTIM_SGD) {
      cnnrt_f32_sgd_ref(p, n, lr, 1.0f, w, g, s1);
    } else {
      cnnrt_adam_consts c = cnnrt_adam_step_consts(p, lr, t);
      cnnrt_f32_adam_ref(p, &c, n, 1.0f, w, g, s1, s2);
    }
    char ref[64], what[64];
    snprintf(ref, sizeof ref, "opt_%s_w%d", name, (int)t);
    float *want = loadf(ref, NULL);
    /* The parameter moves by ~lr per step: judge the error by the size of the update too (at
     * 5e-5: the parameters are stored in float, an ulp of |w| ~ 4 is 4.8e-7 against an update
     * of ~0.01). */
    float *w_prev_want = t == 1 ? loadf("opt_w0", NULL) : NULL;
    snprintf(what, sizeof what, "params after step %d", (int)t);
    check_rel(what, w, want, n, 1e-5);
    if (w_prev_want) {
      float *du = malloc((size_t)n * sizeof *du), *dw = malloc((size_t)n * sizeof *dw);
      assert_non_null(du);
      assert_non_null(dw);
      for (int64_t i = 0; i < n; i++) {
        du[i] = w[i] - w_prev_want[i];
        dw[i] = want[i] - w_prev_want[i];
      }
      check_rel("update of step 1", du, dw, n, 5e-5);
      free(du);
      free(dw);
      free(w_prev_want);
    }
    free(want);
  }
  char ref[64];
  if (p->kind == CNNRT_OPTIM_SGD && p->momentum != 0.0f) {
    snprintf(ref, sizeof ref, "opt_%s_mom", name);
    float *want = loadf(ref, NULL);
    check_rel("momentum buffer", s1, want, n, 1e-5);
    free(want);
  } else if (p->kind != CNNRT_OPTIM_SGD) {
    snprintf(ref, sizeof ref, "opt_%s_m", name);
    float *want = loadf(ref, NULL);
    check_rel("exp_avg", s1, want, n, 1e-5);
    free(want);
    snprintf(ref, sizeof ref, "opt_%s_v", name);
    want = loadf(ref, NULL);
    check_rel("exp_avg_sq", s2, want, n, 1e-5);
    free(want);
  }
  free(w);
  free(grads);
  free(s1);
  free(s2);
}

static void test_sgd(void **state) {
  (void)state;
  cnnrt_optim_params p = {0};
  p.kind = CNNRT_OPTIM_SGD;
  p.momentum = 0.9f;
  p.weight_decay = 1e-3f;
  optimizer_case("sgd_momentum", &p, 0.05f);
  p.nesterov = 1;
  p.weight_decay = 5e-4f;
  optimizer_case("sgd_nesterov", &p, 0.05f);
  cnnrt_optim_params plain = {0};
  optimizer_case("sgd_plain", &plain, 0.1f);
}

static void test_adam(void **state) {
  (void)state;
  cnnrt_optim_params p = {0};
  p.kind = CNNRT_OPTIM_ADAM;
  p.beta1 = 0.8f;
  p.beta2 = 0.99f;
  p.one_minus_beta1 = (float)(1.0 - 0.8);
  p.one_minus_beta2 = (float)(1.0 - 0.99);
  p.eps = 1e-6f;
  p.weight_decay = 1e-2f;
  optimizer_case("adam", &p, 0.01f);
}

static void test_adamw(void **state) {
  (void)state;
  cnnrt_optim_params p = {0};
  p.kind = CNNRT_OPTIM_ADAMW;
  p.beta1 = 0.9f;
  p.beta2 = 0.999f;
  p.one_minus_beta1 = (float)(1.0 - 0.9);
  p.one_minus_beta2 = (float)(1.0 - 0.999);
  p.eps = 1e-8f;
  p.weight_decay = 0.05f;
  optimizer_case("adamw", &p, 0.01f);
}

/* ---- clipping and schedules ------------------------------------------------------------------ */

static void test_clip_grad_norm(void **state) {
  (void)state;
  int64_t na, nb;
  float *ga = loadf("clip_ga", &na), *gb = loadf("clip_gb", &nb);
  float *wa = loadf("clip_ga_out", NULL), *wb = loadf("clip_gb_out", NULL);
  double ss = cnnrt_f32_sum_squares_ref(na, ga) + cnnrt_f32_sum_squares_ref(nb, gb);
  float f = cnnrt_clip_factor(ss, 5.0f);
  assert_true(f < 1.0f);
  for (int64_t i = 0; i < na; i++) {
    ga[i] *= f;
  }
  for (int64_t i = 0; i < nb; i++) {
    gb[i] *= f;
  }
  check_rel("clipped grads (a)", ga, wa, na, 1e-6);
  check_rel("clipped grads (b)", gb, wb, nb, 1e-6);
  assert_true(cnnrt_clip_factor(1.0, 5.0f) == 1.0f); /* below the limit: untouched */
  free(ga);
  free(gb);
  free(wa);
  free(wb);
}

static void test_lr_schedules(void **state) {
  (void)state;
  int64_t n;
  float *want = loadf("lr_step", &n);
  float got[64];
  cnnrt_lr_params step = {CNNRT_LR_STEP, 2, 0, 0.1f, 0.5f};
  for (int64_t s = 0; s < n; s++) {
    got[s] = cnnrt_lr_at(&step, s, 3, n);
  }
  check_rel("StepLR rates", got, want, n, 1e-6);
  free(want);
  want = loadf("lr_cosine", &n);
  cnnrt_lr_params cosine = {CNNRT_LR_COSINE, 0, 5, 0.1f, 0.0f};
  for (int64_t s = 0; s < n; s++) {
    got[s] = cnnrt_lr_at(&cosine, s, 7, n);
  }
  check_rel("warm-up + cosine rates", got, want, n, 1e-5);
  free(want);
  cnnrt_lr_params constant = {CNNRT_LR_CONSTANT, 0, 0, 0.1f, 0.0f};
  assert_true(cnnrt_lr_at(&constant, 12345, 10, 100) == 0.1f);
}

/* ---- dropout --------------------------------------------------------------------------------- */

static void test_dropout(void **state) {
  (void)state;
  const int64_t n = 1000003;
  float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
  float *y2 = malloc((size_t)n * sizeof *y2);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(y2);
  for (int64_t i = 0; i < n; i++) {
    x[i] = 1.0f + (float)(i % 7);
  }
  const float ratio = 0.3f;
  cnnrt_f32_dropout_ref(n, ratio, 42, 1, 5, x, y);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    if (y[i] != 0.0f) {
      kept++;
      assert_true(fabsf(y[i] - x[i] / 0.7f) <= 1e-6f * y[i]);
    }
  }
  /* Keep rate within 5 standard deviations of 1 - ratio. */
  const double p = (double)kept / (double)n, sd = sqrt(0.3 * 0.7 / (double)n);
  printf("  dropout keep rate %.5f (want 0.7 +- %.5f)\n", p, 5 * sd);
  assert_true(fabs(p - 0.7) < 5 * sd);
  /* Three slices computed separately (as threads would) equal the whole. */
  cnnrt_f32_dropout_range_ref(0, 1000, ratio, 42, 1, 5, x, y2);
  cnnrt_f32_dropout_range_ref(1000, 5, ratio, 42, 1, 5, x + 1000, y2 + 1000);
  cnnrt_f32_dropout_range_ref(1005, n - 1005, ratio, 42, 1, 5, x + 1005, y2 + 1005);
  assert_memory_equal(y, y2, (size_t)n * sizeof *y);
  /* Another step, stream or seed gives another mask; masks of two steps are uncorrelated. */
  cnnrt_f32_dropout_ref(n, ratio, 42, 1, 6, x, y2);
  int64_t both = 0;
  for (int64_t i = 0; i < n; i++) {
    both += y[i] != 0.0f && y2[i] != 0.0f;
  }
  assert_true(fabs((double)both / (double)n - 0.49) < 5 * sqrt(0.49 * 0.51 / (double)n));
  cnnrt_f32_dropout_ref(n, ratio, 42, 2, 5, x, y2);
  assert_true(memcmp(y, y2, (size_t)n * sizeof *y) != 0);
  cnnrt_f32_dropout_ref(n, ratio, 43, 1, 5, x, y2);
  assert_true(memcmp(y, y2, (size_t)n * sizeof *y) != 0);
  /* The backward pass (same call on dy) zeroes exactly the dropped elements. */
  uint8_t *mask = malloc((size_t)n);
  assert_non_null(mask);
  cnnrt_dropout_mask_ref(n, ratio, 42, 1, 5, mask);
  for (int64_t i = 0; i < n; i++) {
    assert_int_equal(mask[i], y[i] != 0.0f);
  }
  /* The train graph's form: the factors x is multiplied by (y2 = mask * x equals y). */
  cnnrt_f32_dropout_scale_mask_ref(n, ratio, 42, 1, 5, y2);
  for (int64_t i = 0; i < n; i++) {
    assert_true(y2[i] * x[i] == y[i]);
  }
  /* Edge ratios. */
  cnnrt_f32_dropout_ref(n, 0.0f, 42, 1, 5, x, y2);
  assert_memory_equal(x, y2, (size_t)n * sizeof *y);
  cnnrt_f32_dropout_ref(n, 1.0f, 42, 1, 5, x, y2);
  for (int64_t i = 0; i < n; i++) {
    assert_true(y2[i] == 0.0f);
  }
  free(mask);
  free(x);
  free(y);
  free(y2);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s REFDIR (made by tests/train/torch_refs.py)\n", argv[0]);
    return 2;
  }
  ref_dir = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_entropy), cmocka_unit_test(test_cross_entropy_bad_label),
      cmocka_unit_test(test_mse),           cmocka_unit_test(test_sgd),
      cmocka_unit_test(test_adam),          cmocka_unit_test(test_adamw),
      cmocka_unit_test(test_clip_grad_norm), cmocka_unit_test(test_lr_schedules),
      cmocka_unit_test(test_dropout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
