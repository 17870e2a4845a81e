/* test_neon_grad.c — the NEON backward kernels against their scalar references, cross-built
 * for aarch64 and armv7 and run under qemu-user (tests/arm/CMakeLists.txt).
 *
 * Covered: the filter gradient and the GEMM + col2im ConvTranspose (the data gradient) of
 * runtime/cnnrt_conv_grad_neon.h against cnnrt_f32_conv_grad_filter_ref and
 * cnnrt_f32_conv_transpose_ref (both checked against finite differences in tests/kernels'
 * test_grad.c): output channels not multiples of 4, 8 or 12, tap counts that leave GEMM column
 * remainders, 1x1 images, strides, dilations, asymmetric pads, 1-D to 3-D, several pixel chunks
 * and images (accumulation across GEMM calls), W^T in 4- and 8-row panels, split across 1 to 3
 * tasks (a parallel hook that runs the tasks one after the other, in reverse); the same two for
 * grouped convolutions (2 to 4 groups: the per-group GEMMs, odd channels per group, 1x1 images,
 * 1-D to 3-D); the depthwise filter gradient and ConvTranspose (cnnrt_f32_dwconv_*_neon: 1, 3,
 * 17 channels, rows with vector bodies and 1-3 element tails, strides 1-3, dilation 2,
 * asymmetric pads, 1x1 images, 1-D to 3-D, bias or none, 1 to 3 tasks in reverse). The optimizer
 * updates of cnnrt_optim_neon.h (SGD plain, momentum, Nesterov, weight decay; Adam with L2 and
 * AdamW decay; clipping's gradient scale; 6 steps each so the state is exercised; lengths with
 * and without a tail; zero gradients) against cnnrt_optim.h, and the sum of squares. The
 * activation gradients of cnnrt_act_grad_neon.h against cnnrt_f32_act_grad_ref for every kind,
 * each with its NEON form (the boundaries 0, +-3, alpha, beta, Mish's 20 included in the
 * inputs), max |got - want| / (1 + |want|) <= 1e-6. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The scalar filter-gradient reference accumulates in double on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include "cnnrt_conv_grad_neon.h"
#pragma GCC diagnostic pop
#include "cnnrt_act_grad_neon.h"
#include "cnnrt_optim_neon.h"

#if !defined(__ARM_NEON) && !defined(__ARM_NEON__)
#error "test_neon_grad.c is built for NEON targets only"
#endif

#include "../../kernel_test_util.h"

static double worst_filter = 0.0, worst_transpose = 0.0; /* max rel err over the grouped cases */

static void filter_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t group, int64_t in,
                        int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, int tasks) {
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
  int64_t bytes = cnnrt_f32_conv_grad_filter_neon_shared_bytes(&p) +
                  tasks * cnnrt_f32_conv_grad_filter_neon_task_bytes(&p);
  void *scratch = NULL;
  assert_int_equal(posix_memalign(&scratch, 64, (size_t)(bytes + 63) / 64 * 64), 0);
  cnnrt_f32_conv_grad_filter_ref(&p, x, dy, ref);
  for (int64_t i = 0; i < nw; i++) {
    got[i] = 12345.0f; /* must be overwritten, not accumulated into */
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  cnnrt_f32_conv_grad_filter_neon(&p, x, dy, got, scratch, tasks, tasks > 1 ? &par : NULL);
  double worst = 0.0, scale = 1e-6;
  for (int64_t i = 0; i < nw; i++) {
    worst = fmax(worst, fabs((double)got[i] - (double)ref[i]));
    scale = fmax(scale, fabs((double)ref[i]));
  }
  if (worst > 1e-5 * scale) {
    fprintf(stderr, "sp %d n %lld ci %lld co %lld g %lld in %lld k %lld s %lld: max|d| %g (scale %g)\n",
            sp, (long long)n, (long long)ci, (long long)co, (long long)group, (long long)in,
            (long long)k, (long long)s, worst, scale);
  }
  worst_filter = fmax(worst_filter, worst / scale);
  assert_true(worst <= 1e-5 * scale);
  free(x);
  free(dy);
  free(ref);
  free(got);
  free(scratch);
}

static void one_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k, int64_t s,
                     int64_t d, int64_t pb, int64_t pe, int tasks) {
  filter_case(sp, n, ci, co, 1, in, k, s, d, pb, pe, tasks);
}

static void test_conv_grad_filter_neon(void **state) {
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

/* ConvTranspose (group 1) as GEMM + col2im vs cnnrt_f32_conv_transpose_ref. */
static void transpose_case_g(int sp, int64_t n, int64_t ci, int64_t co, int64_t group,
                             int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb,
                             int64_t extra, int bias, int tasks) {
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
  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < nw; i++) {
    w[i] = urand();
  }
  for (int64_t i = 0; i < co; i++) {
    b[i] = urand();
  }
  int64_t bytes = cnnrt_f32_conv_transpose_neon_shared_bytes(&p) +
                  tasks * cnnrt_f32_conv_transpose_neon_task_bytes(&p);
  void *scratch = NULL;
  assert_int_equal(posix_memalign(&scratch, 64, (size_t)(bytes + 63) / 64 * 64), 0);
  cnnrt_f32_conv_transpose_ref(&p, x, w, bias ? b : NULL, ref);
  for (int64_t mr = 4; mr <= 8; mr += 4) {
    float *packed = malloc((size_t)cnnrt_f32_conv_transpose_pack_mr_bytes(&p, mr));
    cnnrt_f32_conv_transpose_pack_mr(&p, w, mr, packed);
    for (int64_t i = 0; i < ny; i++) {
      got[i] = 777.0f;
    }
    cnnrt_parallel par = {run_reverse, NULL, tasks};
    cnnrt_f32_conv_transpose_gemm_neon(&p, x, packed, mr, bias ? b : NULL, got, scratch, tasks,
                                       tasks > 1 ? &par : NULL);
    double worst = 0.0, scale = 1e-6;
    for (int64_t i = 0; i < ny; i++) {
      worst = fmax(worst, fabs((double)got[i] - (double)ref[i]));
      scale = fmax(scale, fabs((double)ref[i]));
    }
    if (worst > 1e-5 * scale) {
      fprintf(stderr, "transpose sp %d ci %lld co %lld g %lld in %lld k %lld s %lld: max|d| %g\n",
              sp, (long long)ci, (long long)co, (long long)group, (long long)in, (long long)k,
              (long long)s, worst);
    }
    worst_transpose = fmax(worst_transpose, worst / scale);
    assert_true(worst <= 1e-5 * scale);
    free(packed);
  }
  free(x);
  free(w);
  free(b);
  free(ref);
  free(got);
  free(scratch);
}

static void transpose_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t in, int64_t k,
                           int64_t s, int64_t d, int64_t pb, int64_t extra, int bias, int tasks) {
  transpose_case_g(sp, n, ci, co, 1, in, k, s, d, pb, extra, bias, tasks);
}

static void test_conv_transpose_gemm_neon(void **state) {
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

/* Grouped convolutions (group > 1, not depthwise): the per-group GEMMs. */
static void test_conv_grad_grouped_neon(void **state) {
  (void)state;
  worst_filter = worst_transpose = 0.0;
  for (int tasks = 1; tasks <= 3; tasks++) {
    filter_case(2, 2, 4, 6, 2, 6, 3, 1, 1, 1, 1, tasks);     /* 2 groups of 2 -> 3 */
    filter_case(2, 1, 15, 9, 3, 7, 3, 2, 1, 1, 0, tasks);    /* odd channels per group, stride 2 */
    filter_case(2, 1, 12, 26, 2, 1, 1, 1, 1, 0, 0, tasks);   /* 1x1 image, 13 rows per group */
    filter_case(2, 2, 8, 8, 4, 1, 3, 1, 1, 1, 1, tasks);     /* 1x1 image, 3x3 kernel */
    filter_case(2, 1, 64, 20, 2, 30, 3, 1, 1, 1, 1, tasks);  /* several pixel chunks */
    filter_case(1, 2, 6, 9, 3, 20, 5, 2, 1, 2, 2, tasks);    /* 1-D */
    filter_case(3, 1, 4, 6, 2, 4, 3, 1, 1, 1, 1, tasks);     /* 3-D */
    transpose_case_g(2, 2, 4, 6, 2, 5, 3, 2, 1, 1, 1, 1, tasks);  /* stride 2, output_padding */
    transpose_case_g(2, 1, 21, 15, 3, 6, 3, 1, 1, 1, 0, 0, tasks); /* odd channels, no bias */
    transpose_case_g(2, 2, 6, 8, 2, 1, 3, 1, 1, 1, 0, 1, tasks);  /* 1x1 input */
    transpose_case_g(2, 1, 64, 18, 2, 30, 3, 1, 1, 1, 0, 1, tasks); /* several pixel chunks */
    transpose_case_g(1, 2, 6, 8, 2, 9, 4, 3, 1, 1, 2, 1, tasks);  /* 1-D */
    transpose_case_g(3, 1, 4, 6, 2, 3, 2, 2, 1, 0, 0, 1, tasks);  /* 3-D */
  }
  printf("grouped: filter grad worst rel err %.3g, transpose worst rel err %.3g\n", worst_filter,
         worst_transpose);
}

/* Depthwise (group = c_in = c_out): cnnrt_f32_dwconv_grad_filter_neon and
 * cnnrt_f32_dwconv_transpose_neon vs the references, max |got - want| / max |want| <= 2e-6. */
static double worst_dw = 0.0;

static void expect_close_dw(const char *what, const float *got, const float *want, int64_t len) {
  const double rel = max_rel_err(got, want, len);
  worst_dw = fmax(worst_dw, rel);
  if (!(rel <= 2e-6)) {
    fprintf(stderr, "%s: rel err %.3g\n", what, rel);
  }
  assert_true(rel <= 2e-6);
}

static void dw_case(int sp, int64_t n, int64_t c, int64_t in, int64_t last_extra, int64_t k,
                    int64_t s, int64_t d, int64_t pb, int64_t pe, int tasks, int with_bias) {
  cnnrt_conv_params p; /* the forward depthwise Conv x -> dy */
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = n;
  p.c_in = p.c_out = p.group = c;
  int64_t in_vol = 1, out_vol = 1, kvol = 1;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
    if (i < sp) {
      p.in[i] = in + (i == sp - 1 ? last_extra : 0); /* the last axis longer: vector rows */
      p.kernel[i] = k;
      p.stride[i] = s;
      p.dilation[i] = d;
      p.pad_begin[i] = pb;
      p.out[i] = cnnrt_conv_floor_div(p.in[i] + pb + pe - ((k - 1) * d + 1), s) + 1;
      if (p.out[i] < 1) {
        return;
      }
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
    kvol *= p.kernel[i];
  }
  const int64_t nx = n * c * in_vol, ny = n * c * out_vol, nw = c * kvol;
  float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
  float *w = malloc(sizeof(float) * (size_t)nw), *bias = malloc(sizeof(float) * (size_t)c);
  float *dw0 = malloc(sizeof(float) * (size_t)nw), *dw1 = malloc(sizeof(float) * (size_t)nw);
  float *dx0 = malloc(sizeof(float) * (size_t)nx), *dx1 = malloc(sizeof(float) * (size_t)nx);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  for (int64_t i = 0; i < nw; i++) {
    w[i] = urand();
    dw1[i] = 12345.0f; /* must be overwritten */
  }
  for (int64_t i = 0; i < c; i++) {
    bias[i] = urand();
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;

  assert_true(cnnrt_conv_grad_neon_is_depthwise(&p) || c == 1);
  cnnrt_f32_conv_grad_filter_ref(&p, x, dy, dw0);
  cnnrt_f32_dwconv_grad_filter_neon(&p, x, dy, dw1, pp);
  expect_close_dw("dw filter grad", dw1, dw0, nw);

  /* the data gradient: ConvTranspose dy -> dx with the forward's geometry swapped */
  cnnrt_conv_params q = p;
  for (int i = 0; i < 3; i++) {
    q.in[i] = p.out[i];
    q.out[i] = p.in[i];
  }
  const float *b = with_bias ? bias : NULL;
  for (int64_t i = 0; i < nx; i++) {
    dx1[i] = 777.0f;
  }
  cnnrt_f32_conv_transpose_ref(&q, dy, w, b, dx0);
  cnnrt_f32_dwconv_transpose_neon(&q, dy, w, b, dx1, pp);
  expect_close_dw("dw transpose", dx1, dx0, nx);

  free(x);
  free(dy);
  free(w);
  free(bias);
  free(dw0);
  free(dw1);
  free(dx0);
  free(dx1);
}

static void test_dwconv_grad_neon(void **state) {
  (void)state;
  worst_dw = 0.0;
  int k = 0;
  const int64_t chans[] = {1, 3, 17};
  for (size_t ci = 0; ci < 3; ci++) {
    for (int64_t s = 1; s <= 3; s++) {
      for (int64_t in = 1; in <= 12; in += 5) {
        k++;
        /* rows of 13 and 14 more: vector bodies and 1-3 element remainders */
        dw_case(2, 1 + k % 2, chans[ci], in, 13, 3, s, 1, 1, 1, 1 + k % 3, k % 2);
        dw_case(2, 1, chans[ci], in, 14, 1, s, 1, 0, 0, 2, 0);      /* 1x1 kernel */
        dw_case(2, 2, chans[ci], in + 4, 13, 5, s, 1, 2, 1, 3, 1);  /* 5x5, asymmetric pad */
        dw_case(2, 1, chans[ci], in + 4, 15, 3, s, 2, 2, 0, 1, 0);  /* dilation 2 */
      }
    }
  }
  dw_case(1, 2, 5, 20, 0, 3, 1, 1, 1, 1, 2, 1); /* 1-D */
  dw_case(1, 1, 4, 30, 0, 3, 2, 1, 1, 0, 1, 0);
  dw_case(3, 1, 3, 4, 13, 3, 1, 1, 1, 1, 2, 1); /* 3-D */
  dw_case(3, 2, 2, 5, 0, 2, 2, 1, 0, 0, 1, 0);
  dw_case(2, 2, 9, 1, 0, 3, 1, 1, 1, 1, 3, 1); /* 1x1 image, padded 3x3 kernel */
  dw_case(2, 1, 6, 1, 0, 1, 1, 1, 0, 0, 2, 0); /* 1x1 image, 1x1 kernel */
  printf("depthwise: worst rel err %.3g\n", worst_dw);
}

/* max |got - want| / (1 + |want|) over n */
static double max_mixed_err(const float *got, const float *want, int64_t n) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs((double)got[i] - (double)want[i]) / (1.0 + fabs((double)want[i]));
    worst = d > worst || d != d ? d : worst;
  }
  return worst;
}

static void optim_case(int kind, float momentum, int nesterov, float wd, float gscale,
                       int64_t n) {
  cnnrt_optim_params p;
  memset(&p, 0, sizeof p);
  p.kind = kind;
  p.nesterov = nesterov;
  p.momentum = momentum;
  p.weight_decay = wd;
  p.beta1 = 0.9f;
  p.beta2 = 0.999f;
  p.eps = 1e-8f;
  p.one_minus_beta1 = 0.1f;
  p.one_minus_beta2 = 0.001f;
  float *w0 = malloc(sizeof(float) * (size_t)n), *w1 = malloc(sizeof(float) * (size_t)n);
  float *g = malloc(sizeof(float) * (size_t)n);
  float *s0 = calloc((size_t)n, sizeof(float)), *s1 = calloc((size_t)n, sizeof(float));
  float *t0 = calloc((size_t)n, sizeof(float)), *t1 = calloc((size_t)n, sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    w0[i] = w1[i] = urand();
  }
  /* Each step starts both from the reference's state; the parameter's change is compared
   * (to 1e-6 of the update plus 2 ulp of the parameter), since the update is small against
   * the parameter, and the state within 2e-6. */
  float *wp = malloc(sizeof(float) * (size_t)n);
  double worst_update = 0.0, worst_state = 0.0;
  for (int step = 1; step <= 6; step++) {
    for (int64_t i = 0; i < n; i++) {
      g[i] = i % 7 == 3 ? 0.0f : urand() * 0.5f; /* some zero gradients: sqrt(0) in Adam */
    }
    memcpy(wp, w0, sizeof(float) * (size_t)n);
    memcpy(w1, w0, sizeof(float) * (size_t)n);
    memcpy(s1, s0, sizeof(float) * (size_t)n);
    memcpy(t1, t0, sizeof(float) * (size_t)n);
    const float lr = 0.05f / (float)step;
    if (kind == CNNRT_OPTIM_SGD) {
      cnnrt_f32_sgd_ref(&p, n, lr, gscale, w0, g, s0);
      cnnrt_f32_sgd_neon(&p, n, lr, gscale, w1, g, s1);
    } else {
      const cnnrt_adam_consts c = cnnrt_adam_step_consts(&p, lr, step);
      cnnrt_f32_adam_ref(&p, &c, n, gscale, w0, g, s0, t0);
      cnnrt_f32_adam_neon(&p, &c, n, gscale, w1, g, s1, t1);
    }
    for (int64_t i = 0; i < n; i++) {
      const double update = fabs((double)w0[i] - (double)wp[i]);
      const double d = fabs((double)w1[i] - (double)w0[i]) /
                       (1e-6 * update + 2.4e-7 * fabs((double)w0[i]) + 1e-30);
      worst_update = d > worst_update || d != d ? d : worst_update;
    }
    worst_state = fmax(worst_state, fmax(max_mixed_err(s1, s0, n), max_mixed_err(t1, t0, n)));
  }
  if (!(worst_update <= 1.0 && worst_state <= 2e-6)) {
    fprintf(stderr, "optim kind %d mu %g nesterov %d wd %g n %lld: update err %g (of tol), state %g\n",
            kind, (double)momentum, nesterov, (double)wd, (long long)n, worst_update, worst_state);
  }
  assert_true(worst_update <= 1.0 && worst_state <= 2e-6);
  free(wp);
  free(w0);
  free(w1);
  free(g);
  free(s0);
  free(s1);
  free(t0);
  free(t1);
}

static void test_optim_neon(void **state) {
  (void)state;
  static const int64_t lens[] = {1, 4, 7, 64, 1001};
  for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
    const int64_t n = lens[l];
    optim_case(CNNRT_OPTIM_SGD, 0.0f, 0, 0.0f, 1.0f, n);
    optim_case(CNNRT_OPTIM_SGD, 0.9f, 0, 1e-4f, 1.0f, n);
    optim_case(CNNRT_OPTIM_SGD, 0.9f, 1, 5e-4f, 0.37f, n);
    optim_case(CNNRT_OPTIM_ADAM, 0.0f, 0, 0.0f, 1.0f, n);
    optim_case(CNNRT_OPTIM_ADAM, 0.0f, 0, 1e-2f, 0.5f, n);
    optim_case(CNNRT_OPTIM_ADAMW, 0.0f, 0, 1e-2f, 1.0f, n);
  }
  for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
    float *x = malloc(sizeof(float) * (size_t)lens[l]);
    for (int64_t i = 0; i < lens[l]; i++) {
      x[i] = urand() * 3.0f;
    }
    const double want = cnnrt_f32_sum_squares_ref(lens[l], x);
    const double got = cnnrt_f32_sum_squares_neon(lens[l], x);
    assert_true(fabs(got - want) <= 1e-12 * (1.0 + want));
    free(x);
  }
}

static void test_act_grad_neon(void **state) {
  (void)state;
  const int64_t n = 4 * 250 + 3; /* a tail */
  float *v = malloc(sizeof(float) * (size_t)n), *dy = malloc(sizeof(float) * (size_t)n);
  float *want = malloc(sizeof(float) * (size_t)n), *got = malloc(sizeof(float) * (size_t)n);
  static const float edges[] = {0.0f, -0.0f, 3.0f, -3.0f, 0.2f, 0.7f, -0.4f, 1.0f};
  int vectorized = 0;
  for (int kind = 0; kind < CNNRT_GRAD_COUNT; kind++) {
    const float alpha = kind == CNNRT_GRAD_CLIP ? -0.4f : 0.2f;
    const float beta = kind == CNNRT_GRAD_CLIP ? 0.7f : 0.5f;
    for (int64_t i = 0; i < n; i++) {
      float x = urand() * 5.0f;
      if (i % 5 == 0) {
        x = edges[(i / 5) % 8]; /* the boundaries exactly */
      }
      if (kind == CNNRT_GRAD_MISH && i % 7 == 1) {
        x = 15.0f + (float)(i % 11); /* around the x > 20 switch (20 itself included) */
      }
      if (kind == CNNRT_GRAD_SIGMOID) {
        x = 0.5f + 0.5f * urand(); /* outputs in (0, 1) */
      } else if (kind == CNNRT_GRAD_TANH) {
        x = urand();
      } else if (kind == CNNRT_GRAD_SQRT || kind == CNNRT_GRAD_LOG ||
                 kind == CNNRT_GRAD_RECIPROCAL || kind == CNNRT_GRAD_EXP) {
        x = 0.1f + fabsf(x); /* positive */
      }
      v[i] = x;
      dy[i] = urand();
    }
    cnnrt_f32_act_grad_ref(kind, alpha, beta, n, v, dy, want);
    cnnrt_f32_act_grad_neon(kind, alpha, beta, n, v, dy, got);
    const double e = max_mixed_err(got, want, n);
    if (!(e <= 1e-6)) {
      fprintf(stderr, "act_grad kind %d: max rel err %g\n", kind, e);
    }
    printf("act_grad kind %2d: max err %.3g\n", kind, e);
    assert_true(e <= 1e-6);
    vectorized += cnnrt_act_grad_neon_has(kind);
  }
  assert_int_equal(vectorized, CNNRT_GRAD_COUNT); /* every kind has its NEON form */
  free(v);
  free(dy);
  free(want);
  free(got);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_grad_filter_neon),
                                     cmocka_unit_test(test_conv_transpose_gemm_neon),
                                     cmocka_unit_test(test_optim_neon),
                                     cmocka_unit_test(test_act_grad_neon),
                                     /* last: the tests above see the same random data as
                                      * before these were added */
                                     cmocka_unit_test(test_conv_grad_grouped_neon),
                                     cmocka_unit_test(test_dwconv_grad_neon)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
