/* test_dwconv_avx2.c — cnnrt_dwconv_avx2.h against a naive double-precision depthwise conv
 * written from the ONNX Conv definition (group == channels) and against cnnrt_f32_conv_ref:
 * widths 1..33 (tile multiples and remainders), 1x1 images, channel counts that are not
 * multiples of 8, kernels 1x1..7x7 and non-square, strides 1, 2, 3 and mixed, dilation 2,
 * asymmetric / negative / oversized pads, every activation, bias and residual (separate and
 * in place), strips (rows wider than the stack buffer), 1-D and 3-D params, the reference
 * fallback, and the plane-range entry point. Guard zones around y catch stray (masked) stores,
 * which AddressSanitizer does not see.
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_dwconv_avx2.h"
#include "../../runtime/cnnrt_dwconv_avx512.h"
#include "../../runtime/cnnrt_dwconv_c8_avx2.h"
#include "../../runtime/cnnrt_conv_packed.h"
#include "../../runtime/cnnrt_pool_avx2.h"

/* Built once more with -mavx512f as test_dwconv_avx512 (tests/CMakeLists.txt): the same cases
 * then run through the AVX-512 kernel (which hands the shapes it does not take to the AVX2
 * one, and those to the reference). */
#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_DW_AVX512)
#error "built for AVX-512 but cnnrt_dwconv_avx512.h did not enable its kernel"
#endif
#if defined(__AVX2__) && defined(__FMA__)
/* force_c8: 1 runs the AVX2 channel-vectorised kernel (cnnrt_dwc8_*) on every shape it can
 * take, selected or not (its selection threshold is a speed choice, its correctness must not
 * depend on it), on AVX2 and AVX-512 builds alike. */
static int force_c8;
#if defined(CNNRT_DW_AVX512)
/* force_c16: 1 runs the channel-vectorised kernel on every shape it can take, selected or not
 * (its selection threshold is a speed choice, its correctness must not depend on it); 2 runs
 * the plane kernel (and the AVX2 one it hands shapes to) on every shape, the channel kernel's
 * included. */
static int force_c16;
#endif
static void dw_range_under_test(const cnnrt_conv_params *p, const float *x, const float *w,
                                const float *bias, const float *residual, float *y,
                                int64_t plane_begin, int64_t plane_end) {
  cnnrt_dwc8_geom d8;
  if (force_c8 == 1 && cnnrt_dwc8_make_geom(p, &d8)) {
    cnnrt_f32_dwconv2d_c8_avx2_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end,
                                            NULL, NULL);
    return;
  }
#if defined(CNNRT_DW_AVX512)
  cnnrt_dwc16_geom d;
  if (force_c16 == 1 && cnnrt_dwc16_make_geom(p, &d)) {
    cnnrt_f32_dwconv2d_c16_avx512_range_reduce(p, x, w, bias, residual, y, plane_begin,
                                               plane_end, NULL, NULL);
  } else if (force_c16 == 2) {
    cnnrt_f32_dwconv2d_plane_avx512_range_reduce(p, x, w, bias, residual, y, plane_begin,
                                                 plane_end, NULL, NULL);
  } else {
    cnnrt_f32_dwconv2d_avx512_range(p, x, w, bias, residual, y, plane_begin, plane_end);
  }
#else
  cnnrt_f32_dwconv2d_avx2_range(p, x, w, bias, residual, y, plane_begin, plane_end);
#endif
}
static void dw_under_test(const cnnrt_conv_params *p, const float *x, const float *w,
                          const float *bias, const float *residual, float *y) {
  dw_range_under_test(p, x, w, bias, residual, y, 0, p->n * p->c_out);
}
#define DW_FN dw_under_test
#define DW_RANGE_FN dw_range_under_test
#if defined(CNNRT_DW_AVX512)
#define DW_RANGE_REDUCE_FN cnnrt_f32_dwconv2d_avx512_range_reduce
#else
/* What cnnrt_dwconv_avx2_task runs on AVX2 builds: the c8 kernel for the shapes selected for
 * it, else the plane kernel. */
static void dw_avx2_range_reduce(const cnnrt_conv_params *p, const float *x, const float *w,
                                 const float *bias, const float *residual, float *y,
                                 int64_t plane_begin, int64_t plane_end,
                                 cnnrt_plane_reduce_fn reduce, float *reduced) {
  if (cnnrt_dwc8_selected(p)) {
    cnnrt_f32_dwconv2d_c8_avx2_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end,
                                            reduce, reduced);
  } else {
    cnnrt_f32_dwconv2d_avx2_range_reduce(p, x, w, bias, residual, y, plane_begin, plane_end,
                                         reduce, reduced);
  }
}
#define DW_RANGE_REDUCE_FN dw_avx2_range_reduce
#endif
#endif

#if defined(__AVX2__) && defined(__FMA__)

static uint32_t rng_state = 2024u;

static uint32_t urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

static float frand(void) { /* uniform in [-1, 1) */
  return (float)urand() / 8388608.0f - 1.0f;
}

#define GUARD 16
#define GUARD_VAL -12345.0f

typedef struct dw_case {
  int64_t n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int act;
  float alpha, beta;
  int bias, residual; /* residual: 0 none, 1 separate buffer, 2 in place (y = residual) */
} dw_case;

/* Output size from the explicit pads (ONNX NOTSET); < 1 means invalid. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return cnnrt_conv_floor_div(in + pb + pe - ((k - 1) * d + 1), s) + 1;
}

static cnnrt_conv_params make_params(const dw_case *t) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = t->n;
  p.c_in = p.c_out = p.group = t->c;
  p.in[0] = t->h;
  p.in[1] = t->w;
  p.out[0] = out_size(t->h, t->kh, t->sh, t->dh, t->pt, t->pb);
  p.out[1] = out_size(t->w, t->kw, t->sw, t->dw, t->pl, t->pr);
  p.in[2] = p.out[2] = 1;
  p.kernel[0] = t->kh;
  p.kernel[1] = t->kw;
  p.kernel[2] = 1;
  p.stride[0] = t->sh;
  p.stride[1] = t->sw;
  p.stride[2] = 1;
  p.dilation[0] = t->dh;
  p.dilation[1] = t->dw;
  p.dilation[2] = 1;
  p.pad_begin[0] = t->pt;
  p.pad_begin[1] = t->pl;
  p.act = t->act;
  p.alpha = t->alpha;
  p.beta = t->beta;
  return p;
}

/* Naive depthwise conv in double, plus the sum of |terms| for the tolerance. */
static void naive_dw(const cnnrt_conv_params *p, const float *x, const float *w,
                     const float *bias, const float *res, double *y, double *absum) {
  const int64_t H = p->in[0], W = p->in[1], OH = p->out[0], OW = p->out[1];
  const int64_t KH = p->kernel[0], KW = p->kernel[1];
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t c = 0; c < p->c_out; c++) {
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          double s = bias != NULL ? bias[c] : 0.0;
          double a = fabs(s);
          const int64_t o = ((b * p->c_out + c) * OH + oy) * OW + ox;
          if (res != NULL) {
            s += res[o];
            a += fabs(res[o]);
          }
          for (int64_t i = 0; i < KH; i++) {
            for (int64_t j = 0; j < KW; j++) {
              const int64_t iy = oy * p->stride[0] + i * p->dilation[0] - p->pad_begin[0];
              const int64_t ix = ox * p->stride[1] + j * p->dilation[1] - p->pad_begin[1];
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                continue;
              }
              const double t =
                  (double)x[((b * p->c_in + c) * H + iy) * W + ix] * w[(c * KH + i) * KW + j];
              s += t;
              a += fabs(t);
            }
          }
          y[o] = s;
          absum[o] = a;
        }
      }
    }
  }
}

/* Activation of a double pre-activation value, as cnnrt_apply_act but in double. */
static double act_d(int act, double alpha, double beta, double v) {
  switch (act) {
  case CNNRT_ACT_RELU:
    return v > 0 ? v : 0;
  case CNNRT_ACT_LEAKY_RELU:
    return v >= 0 ? v : alpha * v;
  case CNNRT_ACT_CLIP:
    return v < alpha ? alpha : (v > beta ? beta : v);
  case CNNRT_ACT_SIGMOID:
    return 1.0 / (1.0 + exp(-v));
  case CNNRT_ACT_HARD_SIGMOID: {
    const double t = alpha * v + beta;
    return t < 0 ? 0 : (t > 1 ? 1 : t);
  }
  case CNNRT_ACT_HARD_SWISH: {
    const double t = v / 6 + 0.5;
    return v * (t < 0 ? 0 : (t > 1 ? 1 : t));
  }
  case CNNRT_ACT_SILU:
    return v / (1.0 + exp(-v));
  case CNNRT_ACT_TANH:
    return tanh(v);
  default:
    return v;
  }
}

/* Runs one case through dwconv2d_avx2 (and the range entry point), checks against the naive
 * double result and against cnnrt_f32_conv_ref. Returns 0 if the shape is invalid. */
static int run_case(const dw_case *t, int id) {
  cnnrt_conv_params p = make_params(t);
  if (p.out[0] < 1 || p.out[1] < 1) {
    return 0;
  }
  const int64_t nx = t->n * t->c * t->h * t->w;
  const int64_t ny = t->n * t->c * p.out[0] * p.out[1];
  const int64_t nw = t->c * t->kh * t->kw;
  float *x = malloc((size_t)nx * sizeof(float));
  float *w = malloc((size_t)nw * sizeof(float));
  float *b = malloc((size_t)t->c * sizeof(float));
  float *res = malloc((size_t)ny * sizeof(float));
  float *ybuf = malloc((size_t)(ny + 2 * GUARD) * sizeof(float));
  float *yref = malloc((size_t)ny * sizeof(float));
  double *want = malloc((size_t)ny * sizeof(double));
  double *absum = malloc((size_t)ny * sizeof(double));
  assert_true(x && w && b && res && ybuf && yref && want && absum);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = frand() * 2.0f;
  }
  for (int64_t i = 0; i < nw; i++) {
    w[i] = frand();
  }
  for (int64_t i = 0; i < t->c; i++) {
    b[i] = frand();
  }
  for (int64_t i = 0; i < ny; i++) {
    res[i] = frand();
  }
  const float *bias = t->bias ? b : NULL;
  const float *resid = t->residual ? res : NULL;
  naive_dw(&p, x, w, bias, resid, want, absum);
  cnnrt_f32_conv_ref(&p, x, w, bias, resid, yref);

  float *y = ybuf + GUARD;
  for (int pass = 0; pass < 2; pass++) {
    for (int64_t i = 0; i < ny + 2 * GUARD; i++) {
      ybuf[i] = GUARD_VAL;
    }
    const float *r = resid;
    if (t->residual == 2) { /* in place: y starts as the residual */
      memcpy(y, res, (size_t)ny * sizeof(float));
      r = y;
    }
    if (pass == 0) {
      DW_FN(&p, x, w, bias, r, y);
    } else { /* uneven plane ranges, as a thread split would make */
      const int64_t planes = t->n * t->c;
      int64_t at = 0;
      for (int64_t k = 1; at < planes; k++) {
        const int64_t end = at + k > planes ? planes : at + k;
        DW_RANGE_FN(&p, x, w, bias, r, y, at, end);
        at = end;
      }
    }
    for (int64_t i = 0; i < GUARD; i++) {
      if (ybuf[i] != GUARD_VAL || ybuf[GUARD + ny + i] != GUARD_VAL) {
        fail_msg("case %d: write outside y", id);
      }
    }
    for (int64_t i = 0; i < ny; i++) {
      const double wv = act_d(t->act, t->alpha, t->beta, want[i]);
      /* float summation error ~ absum * 2^-24 * taps, propagated through act (slope <= 1);
       * plus the activation approximation. */
      const double tol = 2e-6 * absum[i] + 2e-6 * fabs(wv) + 1e-6;
      if (!(fabs((double)y[i] - wv) <= tol) || !(fabs((double)y[i] - (double)yref[i]) <= 2 * tol)) {
        fail_msg("case %d (n%lld c%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld pad %lld %lld "
                 "%lld %lld act %d bias %d res %d) pass %d: y[%lld] = %.8g, want %.8g, ref %.8g",
                 id, (long long)t->n, (long long)t->c, (long long)t->h, (long long)t->w,
                 (long long)t->kh, (long long)t->kw, (long long)t->sh, (long long)t->sw,
                 (long long)t->dh, (long long)t->dw, (long long)t->pt, (long long)t->pl,
                 (long long)t->pb, (long long)t->pr, t->act, t->bias, t->residual, pass,
                 (long long)i, (double)y[i], wv, (double)yref[i]);
      }
    }
  }
  free(x);
  free(w);
  free(b);
  free(res);
  free(ybuf);
  free(yref);
  free(want);
  free(absum);
  return 1;
}

static dw_case base_case(int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad) {
  dw_case t;
  memset(&t, 0, sizeof t);
  t.n = 1;
  t.c = 3;
  t.h = h;
  t.w = w;
  t.kh = t.kw = k;
  t.sh = t.sw = s;
  t.dh = t.dw = 1;
  t.pt = t.pl = t.pb = t.pr = pad;
  t.bias = 1;
  return t;
}

/* Every activation kind. */
static const int acts[] = {CNNRT_ACT_NONE,       CNNRT_ACT_RELU,    CNNRT_ACT_LEAKY_RELU,
                           CNNRT_ACT_CLIP,       CNNRT_ACT_SIGMOID, CNNRT_ACT_HARD_SIGMOID,
                           CNNRT_ACT_HARD_SWISH, CNNRT_ACT_SILU,    CNNRT_ACT_TANH};

/* The fast paths (3x3, 5x5, stride 1 and 2) over every width 1..33 and a few heights. */
static void test_widths(void **state) {
  (void)state;
  int id = 0;
  const int64_t ks[2] = {3, 5};
  for (int ki = 0; ki < 2; ki++) {
    for (int64_t s = 1; s <= 2; s++) {
      for (int64_t w = 1; w <= 33; w++) {
        for (int64_t h = 1; h <= 9; h += 4) {
          dw_case t = base_case(h, w, ks[ki], s, ks[ki] / 2);
          t.residual = (int)(w % 3);
          t.act = (int)(w % 2) * CNNRT_ACT_RELU;
          run_case(&t, id++);
        }
      }
    }
  }
}

/* 1x1 images, 1x1 kernels, pads larger than the image, negative pads (crop). */
static void test_small_and_pads(void **state) {
  (void)state;
  int id = 1000;
  const int64_t pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 0, 1, 3}, {0, 3, 4, 0},
                             {5, 5, 5, 5}, {-1, 0, 0, -1}, {-1, -2, 1, 2}, {7, 1, 0, 9}};
  const int64_t sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 9}, {5, 16}, {6, 17}};
  const int64_t kern[][2] = {{1, 1}, {3, 3}, {2, 3}, {1, 5}, {3, 1}, {5, 5}, {7, 7}, {4, 2}};
  for (size_t a = 0; a < sizeof pads / sizeof pads[0]; a++) {
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
      for (size_t k = 0; k < sizeof kern / sizeof kern[0]; k++) {
        for (int64_t s = 1; s <= 2; s++) {
          dw_case t = base_case(sizes[b][0], sizes[b][1], 1, s, 0);
          t.kh = kern[k][0];
          t.kw = kern[k][1];
          t.pt = pads[a][0];
          t.pl = pads[a][1];
          t.pb = pads[a][2];
          t.pr = pads[a][3];
          t.c = 2;
          t.residual = (int)((a + k) % 3);
          t.bias = (int)(b % 2);
          run_case(&t, id++);
        }
      }
    }
  }
}

/* Random mixes: strides 1..3 per axis, dilations 1..3, channels 1..19, batch 1..2, every
 * activation with residual and bias variations. */
static void test_random(void **state) {
  (void)state;
  int run = 0;
  for (int id = 2000; run < 400; id++) {
    dw_case t;
    t.n = 1 + urand() % 2;
    t.c = 1 + urand() % 19;
    t.h = 1 + urand() % 20;
    t.w = 1 + urand() % 40;
    t.kh = 1 + urand() % 6;
    t.kw = 1 + urand() % 6;
    t.sh = 1 + urand() % 3;
    t.sw = 1 + urand() % 3;
    t.dh = 1 + urand() % 3;
    t.dw = 1 + urand() % 3;
    t.pt = (int64_t)(urand() % 5) - 1;
    t.pl = (int64_t)(urand() % 5) - 1;
    t.pb = (int64_t)(urand() % 5) - 1;
    t.pr = (int64_t)(urand() % 5) - 1;
    t.act = acts[urand() % 9];
    t.alpha = t.act == CNNRT_ACT_CLIP ? -0.5f : (t.act == CNNRT_ACT_HARD_SIGMOID ? 0.2f : 0.1f);
    t.beta = t.act == CNNRT_ACT_CLIP ? 0.75f : 0.5f;
    t.bias = (int)(urand() % 2);
    t.residual = (int)(urand() % 3);
    run += run_case(&t, id);
  }
}

/* Every activation on the 3x3 fast paths (vectorized epilogue in both the 4-vector blocks
 * and the tail vector), stride 1 and 2, with the in-place residual. */
static void test_acts(void **state) {
  (void)state;
  int id = 3000;
  for (int a = 0; a < 9; a++) {
    for (int64_t s = 1; s <= 2; s++) {
      dw_case t = base_case(6, 45, 3, s, 1);
      t.c = 5;
      t.act = acts[a];
      t.alpha = acts[a] == CNNRT_ACT_CLIP ? 0.0f : 0.2f;
      t.beta = acts[a] == CNNRT_ACT_CLIP ? 6.0f : 0.5f;
      t.residual = 2;
      run_case(&t, id++);
      t.residual = 1;
      t.kh = t.kw = 5;
      t.pt = t.pb = 2;
      t.pl = 1;
      t.pr = 3;
      run_case(&t, id++);
    }
  }
}

/* Rows wider than one strip (the stack buffer holds ~1000 columns for 3x3 s1). */
static void test_strips(void **state) {
  (void)state;
  dw_case t = base_case(4, 2100, 3, 1, 1);
  t.c = 2;
  t.residual = 1;
  run_case(&t, 4000);
  t = base_case(3, 2501, 3, 2, 1);
  t.pr = 0;
  t.c = 1;
  run_case(&t, 4001);
  t = base_case(3, 1500, 5, 1, 2);
  t.dw = 2;
  t.sw = 3;
  t.c = 1;
  run_case(&t, 4002);
}

/* Shapes the fast path declines (giant dilated kernel, > 64 taps) run the reference. */
static void test_fallback(void **state) {
  (void)state;
  dw_case t = base_case(3, 40, 1, 1, 0);
  t.kw = 70;
  t.pl = 40;
  t.pr = 35;
  cnnrt_conv_params p = make_params(&t);
  assert_false(cnnrt_f32_dwconv2d_avx2_fast(&p));
  run_case(&t, 5000);
  t = base_case(3, 40, 3, 1, 0);
  t.dw = 3000;
  t.pl = t.pr = 3000;
  p = make_params(&t);
  assert_false(cnnrt_f32_dwconv2d_avx2_fast(&p));
  run_case(&t, 5001);
  t = base_case(3, 40, 3, 1, 1);
  p = make_params(&t);
  assert_true(cnnrt_f32_dwconv2d_avx2_fast(&p));
}

/* spatial = 1 and spatial = 3 params (degenerate depth: fast path; real depth: reference). */
static void test_spatial_1_and_3(void **state) {
  (void)state;
  const int64_t c = 3, n = 2;
  for (int64_t sp = 1; sp <= 3; sp += 2) {
    for (int64_t depth = 1; depth <= (sp == 3 ? 3 : 1); depth += 2) {
      cnnrt_conv_params p;
      memset(&p, 0, sizeof p);
      p.spatial = sp;
      p.n = n;
      p.c_in = p.c_out = p.group = c;
      for (int a = 0; a < 3; a++) {
        p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
      }
      const int64_t ax = sp - 1; /* last axis: 13 -> 6, kernel 3, stride 2, pads 1 / 0 */
      p.in[ax] = 13;
      p.kernel[ax] = 3;
      p.stride[ax] = 2;
      p.pad_begin[ax] = 1;
      p.out[ax] = 6;
      if (sp == 3) {
        p.in[1] = 5;
        p.kernel[1] = 3;
        p.out[1] = 5;
        p.pad_begin[1] = 1;
        p.in[0] = depth;
        p.out[0] = depth;
        p.kernel[0] = depth == 1 ? 1 : 3;
        p.pad_begin[0] = depth == 1 ? 0 : 1;
      }
      p.act = CNNRT_ACT_RELU;
      assert_int_equal(cnnrt_f32_dwconv2d_avx2_fast(&p), depth == 1 ? 1 : 0);
      const int64_t in_plane = p.in[0] * p.in[1] * p.in[2];
      const int64_t out_plane = p.out[0] * p.out[1] * p.out[2];
      const int64_t kv = p.kernel[0] * p.kernel[1] * p.kernel[2];
      float *x = malloc((size_t)(n * c * in_plane) * sizeof(float));
      float *w = malloc((size_t)(c * kv) * sizeof(float));
      float *b = malloc((size_t)c * sizeof(float));
      float *y = malloc((size_t)(n * c * out_plane) * sizeof(float));
      float *yr = malloc((size_t)(n * c * out_plane) * sizeof(float));
      assert_true(x && w && b && y && yr);
      for (int64_t i = 0; i < n * c * in_plane; i++) {
        x[i] = frand();
      }
      for (int64_t i = 0; i < c * kv; i++) {
        w[i] = frand();
      }
      for (int64_t i = 0; i < c; i++) {
        b[i] = frand();
      }
      cnnrt_f32_conv_ref(&p, x, w, b, NULL, yr);
      DW_FN(&p, x, w, b, NULL, y);
      for (int64_t i = 0; i < n * c * out_plane; i++) {
        assert_true(fabs((double)y[i] - (double)yr[i]) <= 1e-5);
      }
      free(x);
      free(w);
      free(b);
      free(y);
      free(yr);
    }
  }
}

/* A case of the channel-vectorised kernels' tests: shape {h, w, k, s, pad top, left, bottom,
 * right}, c channels, batch n, the act_index-th activation kind (with alpha / beta that make
 * CLIP and HARD_SIGMOID bite), bias, residual (0 none, 1 separate, 2 in place). */
static dw_case channel_case(const int64_t shape[8], int64_t c, int64_t n, size_t act_index,
                            int bias, int residual) {
  dw_case t = base_case(shape[0], shape[1], shape[2], shape[3], 0);
  t.pt = shape[4];
  t.pl = shape[5];
  t.pb = shape[6];
  t.pr = shape[7];
  t.c = c;
  t.n = n;
  t.act = acts[act_index % 9];
  t.alpha = t.act == CNNRT_ACT_CLIP ? -0.5f : (t.act == CNNRT_ACT_HARD_SIGMOID ? 0.2f : 0.1f);
  t.beta = t.act == CNNRT_ACT_CLIP ? 0.75f : 0.5f;
  t.bias = bias;
  t.residual = residual;
  return t;
}

#if defined(CNNRT_DW_AVX512)
/* The AVX-512 kernel's own ground: EfficientNet / MobileNet stride-1 shapes (7x7 and 14x14
 * planes, many channels: double-buffered whole planes with the expanding fill), planes taller
 * than one band, all on the AVX-512 path
 * (asserted); the other cases of this file (negative pads: the row fill; dilation) run through
 * it too. Then the shapes it hands to the AVX2 kernel. */
static void test_avx512_path(void **state) {
  (void)state;
  force_c16 = 2; /* these shapes are the channel kernel's now; the plane kernel keeps the rest */
  const int64_t shapes[][4] = {/* c, hw, k, s */
                               {40, 7, 5, 1}, {33, 7, 3, 1},  {17, 14, 5, 1}, {20, 14, 3, 1},
                               {6, 28, 5, 1}, {5, 30, 3, 1},  {3, 1, 3, 1},   {2, 2, 5, 1},
                               {2, 9, 1, 1}};
  int id = 6000;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    for (int a = 0; a < 3; a++) {
      dw_case t = base_case(shapes[i][1], shapes[i][1] + a, shapes[i][2], shapes[i][3],
                            shapes[i][2] / 2);
      t.c = shapes[i][0];
      t.act = a == 0 ? CNNRT_ACT_SILU : (a == 1 ? CNNRT_ACT_CLIP : CNNRT_ACT_HARD_SWISH);
      t.alpha = a == 1 ? 0.0f : 0.2f;
      t.beta = a == 1 ? 6.0f : 0.5f;
      t.residual = a;
      cnnrt_conv_params p = make_params(&t);
      assert_true(cnnrt_f32_dwconv2d_avx512_fast(&p));
      run_case(&t, id++);
    }
  }
  /* planes taller than one band (bands of ~250 rows of 32 columns), with a negative pad (row
   * fill) and without (also the row fill: bands are not double-buffered) */
  dw_case t = base_case(700, 30, 5, 1, 2);
  t.c = 2;
  t.act = CNNRT_ACT_SILU;
  t.residual = 2;
  cnnrt_conv_params p = make_params(&t);
  assert_true(cnnrt_f32_dwconv2d_avx512_fast(&p));
  run_case(&t, id++);
  t.pt = -1;
  t.pr = 3;
  p = make_params(&t);
  assert_true(cnnrt_f32_dwconv2d_avx512_fast(&p));
  run_case(&t, id++);
  /* wider planes stay with the AVX2 kernel */
  t = base_case(3, 56, 3, 1, 1);
  t.c = 1;
  p = make_params(&t);
  assert_false(cnnrt_f32_dwconv2d_avx512_fast(&p));
  run_case(&t, id++);
  /* stride 2 stays with the AVX2 kernel */
  t = base_case(20, 40, 3, 2, 1);
  p = make_params(&t);
  assert_false(cnnrt_f32_dwconv2d_avx512_fast(&p));
  run_case(&t, id++);
  force_c16 = 0;
}

/* The channel-vectorised kernel (cnnrt_dwc16_*, AVX-512): every shape it can take (asserted),
 * run through it whether selected or not: output planes 7x7 (two-row groups), 14x14, 28x28 and 56x56 (several bands, several
 * 14-column groups per row), 3x3 and 5x5, stride 1 and 2, odd input sizes and asymmetric pads
 * (the last output row alone in its group), channel counts around 16 and batch 2 (blocks cut at
 * the image and at the uneven ranges of run_case's second pass), every activation, bias,
 * residual in a buffer and in place. */
static void test_c16_path(void **state) {
  (void)state;
  /* h, w, k, s, pad top, left, bottom, right */
  const int64_t shapes[][8] = {
      {7, 7, 3, 1, 1, 1, 1, 1},     {7, 7, 5, 1, 2, 2, 2, 2},     {14, 14, 3, 2, 1, 1, 1, 1},
      {14, 14, 5, 2, 2, 2, 2, 2},   {13, 13, 3, 2, 1, 1, 1, 1},   {14, 14, 3, 1, 1, 1, 1, 1},
      {14, 14, 5, 1, 2, 2, 2, 2},   {28, 28, 3, 2, 0, 0, 1, 1},   {28, 28, 5, 2, 2, 2, 2, 2},
      {28, 28, 3, 1, 1, 1, 1, 1},   {56, 56, 3, 2, 1, 1, 1, 1},   {56, 56, 5, 1, 2, 2, 2, 2},
      {9, 7, 3, 1, 0, 1, 0, 1},     {5, 9, 3, 1, 1, 0, 1, 0},     {1, 7, 3, 1, 1, 1, 1, 1},
      {2, 14, 5, 1, 2, 2, 2, 2},    {15, 14, 3, 2, 1, 1, 0, 1},   {8, 14, 5, 1, 4, 3, 0, 1},
      {13, 13, 5, 2, 2, 2, 2, 2},   {12, 31, 3, 1, 0, 0, 0, -1},
  };
  const int64_t chans[] = {1, 5, 16, 17, 33};
  int id = 7000;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    for (int v = 0; v < 3; v++) {
      dw_case t = channel_case(shapes[i], chans[(i + (size_t)v) % 5],
                               1 + (int64_t)((i + (size_t)v) % 2), (3 * i + (size_t)v) % 9,
                               v != 1, v);
      cnnrt_conv_params p = make_params(&t);
      cnnrt_dwc16_geom d;
      if (!cnnrt_dwc16_make_geom(&p, &d)) {
        fail_msg("case %d: shape %zu not taken by the channel-vectorised kernel", id, i);
      }
      force_c16 = 1;
      assert_int_equal(run_case(&t, id++), 1);
      force_c16 = 0;
    }
  }
  /* the layers it is selected for: EfficientNet / MobileNet 7x7, 14x14 and 28x28 outputs */
  dw_case t = base_case(14, 14, 5, 2, 2);
  cnnrt_conv_params p = make_params(&t);
  assert_true(cnnrt_dwc16_selected(&p));
  t = base_case(14, 14, 3, 1, 1);
  p = make_params(&t);
  assert_true(cnnrt_dwc16_selected(&p));
  t = base_case(56, 56, 3, 2, 1);
  p = make_params(&t);
  assert_true(cnnrt_dwc16_selected(&p));
  t = base_case(56, 56, 3, 1, 1); /* 56x56 outputs: the plane kernel */
  p = make_params(&t);
  assert_false(cnnrt_dwc16_selected(&p));
  /* shapes it does not take */
  t = base_case(7, 8, 3, 1, 1); /* output width 8 */
  p = make_params(&t);
  assert_false(cnnrt_dwc16_selected(&p));
  t = base_case(7, 7, 3, 1, 1);
  t.dh = 2; /* dilation */
  p = make_params(&t);
  assert_false(cnnrt_dwc16_selected(&p));
  t = base_case(14, 14, 3, 1, 1);
  t.pt = -1; /* negative leading pad */
  p = make_params(&t);
  assert_false(cnnrt_dwc16_selected(&p));
}
#endif

/* The AVX2 channel-vectorised kernel (cnnrt_dwc8_*): every shape it can take (asserted), run
 * through it whether selected or not: output planes 7x7, 14x14, 28x28 (several 7-pixel groups
 * per row) and 56x56 (several bands), 3x3 and 5x5, stride 1 and 2, pads 1 / 2, no pad and
 * asymmetric pads, channel counts around 8 (tails of the 8-channel blocks), batch 1 and 2
 * (blocks cut at the image, and at the uneven plane ranges of run_case's second pass, which
 * start and end inside blocks), every activation, bias or not, residual none / separate / in
 * place. */
static void test_c8_path(void **state) {
  (void)state;
  /* h, w, k, s, pad top, left, bottom, right */
  const int64_t shapes[][8] = {
      {7, 7, 3, 1, 1, 1, 1, 1},   {7, 7, 5, 1, 2, 2, 2, 2},   {9, 9, 3, 1, 0, 0, 0, 0},
      {11, 11, 5, 1, 0, 0, 0, 0}, {14, 14, 3, 2, 1, 1, 1, 1}, {14, 14, 5, 2, 2, 2, 2, 2},
      {13, 13, 3, 2, 1, 1, 1, 1}, {15, 15, 3, 2, 0, 0, 0, 0}, {17, 17, 5, 2, 0, 0, 0, 0},
      {14, 14, 3, 1, 1, 1, 1, 1}, {14, 14, 5, 1, 2, 2, 2, 2}, {16, 16, 3, 1, 0, 0, 0, 0},
      {28, 28, 3, 2, 1, 1, 1, 1}, {28, 28, 5, 2, 2, 2, 2, 2}, {31, 31, 5, 2, 0, 0, 0, 0},
      {28, 28, 3, 1, 1, 1, 1, 1}, {28, 28, 5, 1, 2, 2, 2, 2}, {30, 30, 3, 1, 0, 0, 0, 0},
      {56, 56, 3, 2, 1, 1, 1, 1}, {56, 56, 5, 2, 2, 2, 2, 2}, {57, 57, 3, 2, 0, 0, 0, 0},
      {56, 56, 3, 1, 1, 1, 1, 1}, {56, 56, 5, 1, 2, 2, 2, 2}, {9, 7, 3, 1, 0, 1, 0, 1},
      {5, 9, 3, 1, 1, 0, 1, 0},   {1, 7, 3, 1, 1, 1, 1, 1},   {2, 14, 5, 1, 2, 2, 2, 2},
      {15, 14, 3, 2, 1, 1, 0, 1}, {8, 14, 5, 1, 4, 3, 0, 1},  {12, 31, 3, 1, 0, 0, 0, -1},
  };
  const int64_t chans[] = {1, 7, 8, 9, 17, 24, 40};
  int id = 8000;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    for (int v = 0; v < 6; v++) {
      dw_case t = channel_case(shapes[i], chans[(i + (size_t)v) % 7],
                               1 + (int64_t)((i + (size_t)v / 2) % 2), (4 * i + (size_t)v) % 9,
                               v % 2 == 0, v % 3);
      cnnrt_conv_params p = make_params(&t);
      cnnrt_dwc8_geom d;
      if (!cnnrt_dwc8_make_geom(&p, &d)) {
        fail_msg("case %d: shape %zu not taken by the c8 kernel", id, i);
      }
      force_c8 = 1;
      assert_int_equal(run_case(&t, id++), 1);
      force_c8 = 0;
    }
  }
  /* the layers it is selected for: MobileNetV2 / EfficientNet 7x7, 14x14 and 28x28 outputs */
  const int64_t sel[][4] = {/* hw, k, s, selected */
                            {7, 3, 1, 1},   {7, 5, 1, 1},   {14, 3, 2, 1}, {14, 5, 2, 1},
                            {14, 3, 1, 1},  {14, 5, 1, 1},  {28, 3, 2, 1}, {28, 5, 2, 1},
                            {28, 3, 1, 1},  {28, 5, 1, 1},  {56, 3, 2, 1}, {56, 5, 2, 1},
                            {56, 3, 1, 0},  {112, 3, 2, 0}, {8, 3, 1, 0}};
  for (size_t i = 0; i < sizeof sel / sizeof sel[0]; i++) {
    dw_case t = base_case(sel[i][0], sel[i][0], sel[i][1], sel[i][2], sel[i][1] / 2);
    cnnrt_conv_params p = make_params(&t);
    if (cnnrt_dwc8_selected(&p) != (int)sel[i][3]) {
      fail_msg("selection of %lldx%lld k%lld s%lld: %d", (long long)sel[i][0],
               (long long)sel[i][0], (long long)sel[i][1], (long long)sel[i][2],
               cnnrt_dwc8_selected(&p));
    }
  }
  /* shapes it does not take */
  dw_case t = base_case(7, 7, 3, 1, 1);
  t.dh = 2; /* dilation */
  cnnrt_conv_params p = make_params(&t);
  assert_false(cnnrt_dwc8_selected(&p));
  t = base_case(14, 14, 3, 1, 1);
  t.pt = -1; /* negative leading pad */
  p = make_params(&t);
  assert_false(cnnrt_dwc8_selected(&p));
  t = base_case(14, 14, 7, 1, 3); /* 7x7 kernel */
  p = make_params(&t);
  assert_false(cnnrt_dwc8_selected(&p));
}

/* The fused GlobalAveragePool (compiler/passes/fuse.c): the range entry with a reduce function
 * writes the same y as without it, and reduced[plane] bit-identical to the pool's own function
 * run on that y (what the unfused graph computes), over uneven plane ranges; channel-vectorised
 * shapes (AVX-512 build), plane-kernel shapes and a reference-fallback shape (7x7 kernel with
 * stride 3 on AVX2: the generic block kernel; 3-D) alike. */
static void test_fused_pool(void **state) {
  (void)state;
  const int64_t shapes[][4] = {/* hw, k, s, c */
                               {7, 3, 1, 21},  {14, 5, 2, 17}, {14, 3, 1, 40}, {28, 5, 2, 33},
                               {56, 3, 1, 5},  {9, 3, 1, 19},  {30, 5, 2, 3},  {12, 7, 3, 6}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    dw_case t = base_case(shapes[i][0], shapes[i][0], shapes[i][1], shapes[i][2],
                          shapes[i][1] / 2);
    t.c = shapes[i][3];
    t.n = 2;
    t.act = i % 2 ? CNNRT_ACT_SILU : CNNRT_ACT_CLIP;
    t.alpha = 0.0f;
    t.beta = 6.0f;
    const cnnrt_conv_params p = make_params(&t);
    const int64_t planes = t.n * t.c, op = p.out[0] * p.out[1];
    const int64_t nx = planes * t.h * t.w, ny = planes * op, nw = t.c * t.kh * t.kw;
    float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
    float *b = malloc((size_t)t.c * sizeof(float)), *y0 = malloc((size_t)ny * sizeof(float));
    float *y = malloc((size_t)ny * sizeof(float));
    float *red = malloc((size_t)planes * sizeof(float));
    float *want = malloc((size_t)planes * sizeof(float));
    assert_true(x && w && b && y0 && y && red && want);
    for (int64_t k = 0; k < nx; k++) {
      x[k] = frand() * 2.0f;
    }
    for (int64_t k = 0; k < nw; k++) {
      w[k] = frand();
    }
    for (int64_t k = 0; k < t.c; k++) {
      b[k] = frand();
    }
    DW_FN(&p, x, w, b, NULL, y0);
    int64_t at = 0;
    for (int64_t k = 3; at < planes; k += 5) {
      const int64_t end = at + k > planes ? planes : at + k;
      DW_RANGE_REDUCE_FN(&p, x, w, b, NULL, y, at, end, cnnrt_f32_global_avgpool_avx2, red);
      at = end;
    }
    assert_memory_equal(y, y0, (size_t)ny * sizeof(float));
    cnnrt_f32_global_avgpool_avx2(planes, op, y, want);
    assert_memory_equal(red, want, (size_t)planes * sizeof(float));
    free(x);
    free(w);
    free(b);
    free(y0);
    free(y);
    free(red);
    free(want);
  }
}

/* The generated code's task function (cnnrt_conv_packed.h): 1..5 tasks run in reverse order
 * (each must write only its own planes, and together all of them; on AVX-512 builds the
 * channel-kernel layers split on 16-channel blocks) give y and the fused pool bit-identical to
 * one call over all planes. */
static void test_tasks(void **state) {
  (void)state;
  const int64_t shapes[][5] = {/* n, c, hw, k, s */
                               {1, 40, 14, 5, 2}, {2, 37, 7, 3, 1}, {1, 3, 14, 3, 1},
                               {1, 24, 30, 3, 2}, {2, 9, 16, 3, 1}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    dw_case t = base_case(shapes[i][2], shapes[i][2], shapes[i][3], shapes[i][4],
                          shapes[i][3] / 2);
    t.n = shapes[i][0];
    t.c = shapes[i][1];
    t.act = CNNRT_ACT_SILU;
    const cnnrt_conv_params p = make_params(&t);
    const int64_t planes = t.n * t.c, op = p.out[0] * p.out[1];
    const int64_t nx = planes * t.h * t.w, ny = planes * op, nw = t.c * t.kh * t.kw;
    float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
    float *b = malloc((size_t)t.c * sizeof(float)), *y0 = malloc((size_t)ny * sizeof(float));
    float *y = malloc((size_t)ny * sizeof(float));
    float *red0 = malloc((size_t)planes * sizeof(float));
    float *red = malloc((size_t)planes * sizeof(float));
    assert_true(x && w && b && y0 && y && red0 && red);
    for (int64_t k = 0; k < nx; k++) {
      x[k] = frand() * 2.0f;
    }
    for (int64_t k = 0; k < nw; k++) {
      w[k] = frand();
    }
    for (int64_t k = 0; k < t.c; k++) {
      b[k] = frand();
    }
    DW_RANGE_REDUCE_FN(&p, x, w, b, NULL, y0, 0, planes, cnnrt_f32_global_avgpool_avx2, red0);
    for (int64_t nt = 1; nt <= 5; nt++) {
      for (int64_t k = 0; k < ny; k++) {
        y[k] = GUARD_VAL;
      }
      for (int64_t k = 0; k < planes; k++) {
        red[k] = GUARD_VAL;
      }
      cnnrt_conv_task task = {
          &p, x, w, b, NULL, y, NULL, 0, nt, NULL, cnnrt_f32_global_avgpool_avx2, red, {{0}}};
      for (int64_t k = nt - 1; k >= 0; k--) {
        cnnrt_dwconv_avx2_task(&task, k);
      }
      assert_memory_equal(y, y0, (size_t)ny * sizeof(float));
      assert_memory_equal(red, red0, (size_t)planes * sizeof(float));
    }
    free(x);
    free(w);
    free(b);
    free(y0);
    free(y);
    free(red0);
    free(red);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#if defined(CNNRT_DW_AVX512)
      cmocka_unit_test(test_avx512_path),
      cmocka_unit_test(test_c16_path),
#endif
      cmocka_unit_test(test_c8_path),
      cmocka_unit_test(test_widths),  cmocka_unit_test(test_small_and_pads),
      cmocka_unit_test(test_random),  cmocka_unit_test(test_acts),
      cmocka_unit_test(test_strips),  cmocka_unit_test(test_fallback),
      cmocka_unit_test(test_spatial_1_and_3), cmocka_unit_test(test_fused_pool),
      cmocka_unit_test(test_tasks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* no AVX2 + FMA at compile time: nothing to test */

static void test_skipped(void **state) {
  (void)state;
  print_message("cnnrt_dwconv_avx2.h needs -mavx2 -mfma; skipped\n");
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
