/* test_conv.c — cnnrt_conv.h (Conv, ConvTranspose, pad resolution) against naive loops written
 * straight from the ONNX definitions, and against the expected outputs of the ONNX backend node
 * tests (onnx/backend/test/case/node/conv.py, convtranspose.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_conv.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint32_t rng_state = 12345u;

static float frand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static float *rand_buf(int64_t n) {
  float *b = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  assert_non_null(b);
  for (int64_t i = 0; i < n; i++) {
    b[i] = frand();
  }
  return b;
}

/* Tolerance from the sum of |terms|, the scale of the float rounding error of any summation
 * order. */
static int check_close(const char *what, int id, const float *got, const float *want,
                       const double *absum, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double tol = 2e-5 * (absum != NULL ? absum[i] : 1.0) + 1e-5;
    const double err = fabs((double)got[i] - (double)want[i]);
    if (!(err <= tol)) {
      print_error("%s case %d: element %lld got %.7g want %.7g\n", what, id, (long long)i,
                  (double)got[i], (double)want[i]);
      return 0;
    }
  }
  return 1;
}

static int64_t prod3(const int64_t *a) { return a[0] * a[1] * a[2]; }

/* ---- naive references -------------------------------------------------------------------- */

/* Conv, straight from the definition; neutral slots make every case a 3-D loop nest. */
static void naive_conv(const cnnrt_conv_params *p, const float *x, const float *w,
                       const float *bias, const float *res, float *y, double *absum) {
  const int64_t icg = p->c_in / p->group, ocg = p->c_out / p->group;
  const int64_t *I = p->in, *O = p->out, *K = p->kernel;
  for (int64_t b = 0; b < p->n; b++)
    for (int64_t oc = 0; oc < p->c_out; oc++)
      for (int64_t o0 = 0; o0 < O[0]; o0++)
        for (int64_t o1 = 0; o1 < O[1]; o1++)
          for (int64_t o2 = 0; o2 < O[2]; o2++) {
            const int64_t g = oc / ocg;
            double s = 0.0, a = 0.0;
            for (int64_t icl = 0; icl < icg; icl++)
              for (int64_t t0 = 0; t0 < K[0]; t0++)
                for (int64_t t1 = 0; t1 < K[1]; t1++)
                  for (int64_t t2 = 0; t2 < K[2]; t2++) {
                    const int64_t i0 = o0 * p->stride[0] + t0 * p->dilation[0] - p->pad_begin[0];
                    const int64_t i1 = o1 * p->stride[1] + t1 * p->dilation[1] - p->pad_begin[1];
                    const int64_t i2 = o2 * p->stride[2] + t2 * p->dilation[2] - p->pad_begin[2];
                    if (i0 < 0 || i0 >= I[0] || i1 < 0 || i1 >= I[1] || i2 < 0 || i2 >= I[2]) {
                      continue; /* zero padding */
                    }
                    const int64_t ic = g * icg + icl;
                    const double xv = x[(((b * p->c_in + ic) * I[0] + i0) * I[1] + i1) * I[2] + i2];
                    const double wv = w[(((oc * icg + icl) * K[0] + t0) * K[1] + t1) * K[2] + t2];
                    s += xv * wv;
                    a += fabs(xv * wv);
                  }
            const int64_t yi = (((b * p->c_out + oc) * O[0] + o0) * O[1] + o1) * O[2] + o2;
            if (bias != NULL) {
              s += bias[oc];
              a += fabs(bias[oc]);
            }
            if (res != NULL) {
              s += res[yi];
              a += fabs(res[yi]);
            }
            y[yi] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, (float)s);
            absum[yi] = a;
          }
}

/* ConvTranspose as the scatter of the definition. */
static void naive_conv_transpose(const cnnrt_conv_params *p, const float *x, const float *w,
                                 const float *bias, float *y, double *absum) {
  const int64_t icg = p->c_in / p->group, ocg = p->c_out / p->group;
  const int64_t *I = p->in, *O = p->out, *K = p->kernel;
  const int64_t ny = p->n * p->c_out * prod3(O);
  double *acc = calloc((size_t)ny, sizeof(double));
  assert_non_null(acc);
  for (int64_t i = 0; i < ny; i++) {
    absum[i] = 0.0;
  }
  for (int64_t b = 0; b < p->n; b++)
    for (int64_t ic = 0; ic < p->c_in; ic++)
      for (int64_t i0 = 0; i0 < I[0]; i0++)
        for (int64_t i1 = 0; i1 < I[1]; i1++)
          for (int64_t i2 = 0; i2 < I[2]; i2++)
            for (int64_t ocl = 0; ocl < ocg; ocl++)
              for (int64_t t0 = 0; t0 < K[0]; t0++)
                for (int64_t t1 = 0; t1 < K[1]; t1++)
                  for (int64_t t2 = 0; t2 < K[2]; t2++) {
                    const int64_t o0 = i0 * p->stride[0] + t0 * p->dilation[0] - p->pad_begin[0];
                    const int64_t o1 = i1 * p->stride[1] + t1 * p->dilation[1] - p->pad_begin[1];
                    const int64_t o2 = i2 * p->stride[2] + t2 * p->dilation[2] - p->pad_begin[2];
                    if (o0 < 0 || o0 >= O[0] || o1 < 0 || o1 >= O[1] || o2 < 0 || o2 >= O[2]) {
                      continue;
                    }
                    const int64_t oc = (ic / icg) * ocg + ocl;
                    const double xv = x[(((b * p->c_in + ic) * I[0] + i0) * I[1] + i1) * I[2] + i2];
                    const double wv = w[(((ic * ocg + ocl) * K[0] + t0) * K[1] + t1) * K[2] + t2];
                    const int64_t yi = (((b * p->c_out + oc) * O[0] + o0) * O[1] + o1) * O[2] + o2;
                    acc[yi] += xv * wv;
                    absum[yi] += fabs(xv * wv);
                  }
  const int64_t plane = prod3(O);
  for (int64_t i = 0; i < ny; i++) {
    const int64_t oc = (i / plane) % p->c_out;
    double s = acc[i];
    if (bias != NULL) {
      s += bias[oc];
      absum[i] += fabs(bias[oc]);
    }
    y[i] = cnnrt_apply_act((int)p->act, p->alpha, p->beta, (float)s);
  }
  free(acc);
}

/* ---- random cases ------------------------------------------------------------------------ */

typedef struct conv_case {
  int sp;
  int64_t n, ci, co, g;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
  int64_t op[3]; /* ConvTranspose output_padding (ignored by Conv) */
  int bias, res, act;
} conv_case;

/* Params from a case; 0 entries in k/s/d mean 1 (so tables can omit trailing slots). */
static cnnrt_conv_params make_params(const conv_case *c, int transpose) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = c->sp;
  p.n = c->n;
  p.c_in = c->ci;
  p.c_out = c->co;
  p.group = c->g;
  for (int a = 0; a < 3; a++) {
    const int real = a < c->sp;
    p.in[a] = real ? c->in[a] : 1;
    p.kernel[a] = real && c->k[a] ? c->k[a] : 1;
    p.stride[a] = real && c->s[a] ? c->s[a] : 1;
    p.dilation[a] = real && c->d[a] ? c->d[a] : 1;
    p.pad_begin[a] = real ? c->pb[a] : 0;
    const int64_t pe = real ? c->pe[a] : 0;
    const int64_t dk = (p.kernel[a] - 1) * p.dilation[a] + 1;
    if (transpose) {
      p.out[a] = real ? p.stride[a] * (p.in[a] - 1) + c->op[a] + dk - p.pad_begin[a] - pe : 1;
    } else {
      p.out[a] = real ? (p.in[a] + p.pad_begin[a] + pe - dk) / p.stride[a] + 1 : 1;
    }
  }
  p.act = c->act;
  p.alpha = 0.3f;
  p.beta = 0.7f;
  if (c->act == CNNRT_ACT_CLIP) {
    p.alpha = -0.4f;
    p.beta = 0.6f;
  } else if (c->act == CNNRT_ACT_HARD_SIGMOID) {
    p.alpha = 0.2f;
    p.beta = 0.5f;
  }
  return p;
}

static int run_case(const conv_case *c, int id, int transpose) {
  const cnnrt_conv_params p = make_params(c, transpose);
  for (int a = 0; a < 3; a++) {
    assert_true(p.out[a] >= 1);
  }
  const int64_t nx = p.n * p.c_in * prod3(p.in);
  const int64_t ny = p.n * p.c_out * prod3(p.out);
  const int64_t nw = (transpose ? p.c_in * (p.c_out / p.group) : p.c_out * (p.c_in / p.group)) *
                     prod3(p.kernel);
  float *x = rand_buf(nx), *w = rand_buf(nw), *bias = rand_buf(p.c_out);
  float *res = rand_buf(ny), *y = rand_buf(ny), *ref = rand_buf(ny);
  double *absum = malloc((size_t)ny * sizeof(double));
  assert_non_null(absum);
  int ok;
  if (transpose) {
    naive_conv_transpose(&p, x, w, c->bias ? bias : NULL, ref, absum);
    cnnrt_f32_conv_transpose_ref(&p, x, w, c->bias ? bias : NULL, y);
    ok = check_close("conv_transpose", id, y, ref, absum, ny);
  } else {
    naive_conv(&p, x, w, c->bias ? bias : NULL, c->res ? res : NULL, ref, absum);
    cnnrt_f32_conv_ref(&p, x, w, c->bias ? bias : NULL, c->res ? res : NULL, y);
    ok = check_close("conv", id, y, ref, absum, ny);
    if (ok && c->res) { /* in place: y written over the residual buffer */
      cnnrt_f32_conv_ref(&p, x, w, c->bias ? bias : NULL, res, res);
      ok = check_close("conv in-place residual", id, res, ref, absum, ny);
    }
  }
  free(x);
  free(w);
  free(bias);
  free(res);
  free(y);
  free(ref);
  free(absum);
  return ok;
}

/*  sp  n  ci co  g   in          k          s          d          pb         pe        op  */
static const conv_case conv_cases[] = {
    /* 2-D */
    {2, 2, 3, 5, 1, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, 0},
    {2, 1, 4, 6, 2, {9, 8}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {0, 2}, {0}, 1, 1, CNNRT_ACT_RELU},
    {2, 1, 3, 4, 1, {9, 7}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, {0}, 0, 0, 0},
    {2, 1, 3, 4, 1, {10, 11}, {3, 3}, {2, 3}, {2, 2}, {1, 2}, {3, 0}, {0}, 1, 0, 0},
    {2, 2, 6, 6, 6, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 1, CNNRT_ACT_RELU},
    {2, 1, 3, 6, 3, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}, {0}, 1, 0, CNNRT_ACT_CLIP},
    {2, 1, 8, 9, 1, {5, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 1, CNNRT_ACT_CLIP},
    {2, 1, 8, 8, 1, {5, 7}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 0, 0},
    {2, 1, 5, 3, 1, {6, 6}, {1, 1}, {1, 1}, {1, 1}, {1, 0}, {0, 1}, {0}, 1, 0, 0},
    {2, 1, 4, 7, 1, {1, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 1, 0},
    {2, 3, 4, 7, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, 0, 1, 0},
    {2, 1, 2, 3, 1, {3, 3}, {5, 5}, {1, 1}, {1, 1}, {4, 4}, {4, 4}, {0}, 1, 0, 0},
    {2, 1, 2, 5, 1, {11, 10}, {2, 2}, {3, 3}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 0, 0},
    {2, 1, 16, 13, 1, {12, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 1, 0},
    {2, 1, 12, 8, 4, {6, 5}, {3, 1}, {1, 2}, {1, 1}, {1, 0}, {1, 0}, {0}, 0, 0, 0},
    {2, 1, 1, 1, 1, {1, 9}, {1, 4}, {1, 1}, {1, 3}, {0, 5}, {0, 2}, {0}, 1, 0, 0},
    {2, 1, 3, 4, 1, {40, 37}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, {0}, 1, 0, 0},
    /* 1-D */
    {1, 2, 4, 4, 2, {17}, {5}, {3}, {2}, {2}, {3}, {0}, 1, 1, CNNRT_ACT_LEAKY_RELU},
    {1, 1, 6, 5, 1, {13}, {1}, {1}, {1}, {0}, {0}, {0}, 1, 1, 0},
    {1, 1, 5, 5, 5, {20}, {7}, {1}, {1}, {3}, {3}, {0}, 0, 0, 0},
    {1, 1, 3, 2, 1, {1}, {3}, {2}, {1}, {1}, {1}, {0}, 1, 0, 0},
    /* 3-D */
    {3, 1, 3, 5, 1, {4, 5, 6}, {3, 2, 3}, {1, 2, 1}, {2, 1, 1}, {1, 0, 2}, {2, 1, 0}, {0}, 1, 1, CNNRT_ACT_TANH},
    {3, 2, 4, 4, 4, {3, 4, 5}, {3, 3, 3}, {1, 1, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0}, 1, 0, 0},
    {3, 1, 4, 6, 2, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0}, 0, 1, 0},
    {3, 1, 2, 3, 1, {1, 1, 1}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {1, 0, 1}, {0, 1, 0}, {0}, 1, 0, 0},
};

static void test_conv_random(void **state) {
  (void)state;
  int ok = 1;
  for (int i = 0; i < (int)(sizeof conv_cases / sizeof conv_cases[0]); i++) {
    ok &= run_case(&conv_cases[i], i, 0);
  }
  assert_true(ok);
}

static void test_conv_activations(void **state) {
  (void)state;
  int ok = 1;
  for (int act = CNNRT_ACT_NONE; act <= CNNRT_ACT_TANH; act++) {
    conv_case c = {2, 1, 5, 6, 1, {5, 6}, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 0}, {0}, 1, 1, act};
    ok &= run_case(&c, 100 + act, 0);
    c.res = 0;
    c.bias = act % 2;
    ok &= run_case(&c, 200 + act, 0);
    ok &= run_case(&c, 300 + act, 1);
  }
  assert_true(ok);
}

/*  sp  n  ci co  g   in          k          s          d          pb         pe        op  */
static const conv_case convt_cases[] = {
    {2, 1, 3, 5, 1, {4, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 0, 0},
    {2, 2, 4, 6, 1, {3, 3}, {4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, 1, 0, CNNRT_ACT_RELU},
    {2, 1, 4, 6, 2, {5, 4}, {3, 2}, {3, 2}, {1, 2}, {0, 2}, {1, 0}, {2, 1}, 0, 0, 0},
    {2, 1, 6, 6, 6, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 0, 0},
    {2, 1, 3, 6, 3, {4, 4}, {2, 2}, {1, 1}, {2, 2}, {0, 0}, {0, 0}, {0, 0}, 1, 0, 0},
    {2, 1, 5, 9, 1, {4, 6}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0, 0}, 1, 0, 0},
    {2, 1, 2, 3, 1, {3, 4}, {1, 2}, {3, 3}, {1, 1}, {0, 0}, {0, 0}, {2, 1}, 1, 0, 0},
    {2, 1, 4, 5, 1, {1, 1}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {0, 0}, 1, 0, 0},
    {2, 1, 2, 2, 1, {3, 3}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {-2, -1}, {0, 0}, 1, 0, 0},
    {2, 1, 8, 8, 1, {6, 5}, {3, 3}, {1, 1}, {1, 1}, {2, 0}, {0, 2}, {0, 0}, 0, 0, 0},
    {1, 2, 4, 6, 2, {9}, {3}, {2}, {2}, {1}, {2}, {1}, 1, 0, CNNRT_ACT_SIGMOID},
    {1, 1, 3, 4, 1, {7}, {5}, {1}, {1}, {2}, {2}, {0}, 1, 0, 0},
    {3, 1, 2, 3, 1, {2, 3, 4}, {3, 2, 3}, {2, 1, 2}, {1, 2, 1}, {1, 0, 1}, {0, 1, 1}, {1, 0, 1}, 1, 0, 0},
    {3, 1, 4, 4, 4, {3, 3, 3}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 1, 0, 0},
};

static void test_conv_transpose_random(void **state) {
  (void)state;
  int ok = 1;
  for (int i = 0; i < (int)(sizeof convt_cases / sizeof convt_cases[0]); i++) {
    ok &= run_case(&convt_cases[i], i, 1);
  }
  assert_true(ok);
}

/* ---- ONNX backend test vectors ----------------------------------------------------------- */

static const float onnx_x55[25] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                   13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
static const float ones9[18] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* 2-D single-channel Conv from attributes through the resolve helper. */
static void onnx_conv2d(int64_t auto_pad, const int64_t pads[4], const int64_t strides[2],
                        int64_t in_h, int64_t in_w, const float *x, const float *expect,
                        int64_t out_h, int64_t out_w) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = p.c_in = p.c_out = p.group = 1;
  const int64_t in[2] = {in_h, in_w};
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  for (int a = 0; a < 2; a++) {
    p.in[a] = in[a];
    p.kernel[a] = 3;
    p.stride[a] = strides[a];
    p.out[a] = cnnrt_conv_resolve_axis(auto_pad, in[a], 3, strides[a], 1, pads[a], pads[a + 2],
                                       &p.pad_begin[a]);
  }
  assert_int_equal(p.out[0], out_h);
  assert_int_equal(p.out[1], out_w);
  float y[64];
  cnnrt_f32_conv_ref(&p, x, ones9, NULL, NULL, y);
  assert_true(check_close("onnx conv", 0, y, expect, NULL, out_h * out_w));
}

static void test_conv_onnx_vectors(void **state) {
  (void)state;
  const int64_t s1[2] = {1, 1}, s2[2] = {2, 2};
  {
    const int64_t pads[4] = {1, 1, 1, 1};
    const float e[25] = {12, 21,  27,  33,  24, 33, 54, 63, 72, 51, 63, 99, 108,
                         117, 81, 93,  144, 153, 162, 111, 72, 111, 117, 123, 84};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_NOTSET, pads, s1, 5, 5, onnx_x55, e, 5, 5);
  }
  {
    const int64_t pads[4] = {0, 0, 0, 0};
    const float e[9] = {54, 63, 72, 99, 108, 117, 144, 153, 162};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_NOTSET, pads, s1, 5, 5, onnx_x55, e, 3, 3);
  }
  /* test_conv_with_strides_*: 7x5 input */
  float x75[35];
  for (int i = 0; i < 35; i++) {
    x75[i] = (float)i;
  }
  {
    const int64_t pads[4] = {1, 1, 1, 1};
    const float e[12] = {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_NOTSET, pads, s2, 7, 5, x75, e, 4, 3);
  }
  {
    const int64_t pads[4] = {0, 0, 0, 0};
    const float e[6] = {54, 72, 144, 162, 234, 252};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_NOTSET, pads, s2, 7, 5, x75, e, 3, 2);
  }
  {
    const int64_t pads[4] = {1, 0, 1, 0};
    const float e[8] = {21, 33, 99, 117, 189, 207, 171, 183};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_NOTSET, pads, s2, 7, 5, x75, e, 4, 2);
  }
  {
    const int64_t pads[4] = {0, 0, 0, 0};
    const float e[9] = {12, 27, 24, 63, 108, 81, 72, 117, 84};
    onnx_conv2d(CNNRT_CONV_AUTO_PAD_SAME_LOWER, pads, s2, 5, 5, onnx_x55, e, 3, 3);
  }
}

/* 2-D ConvTranspose, 1 -> c_out channels, through the resolve helper. */
static void onnx_convt2d(int64_t auto_pad, const int64_t in[2], int64_t c_out, const int64_t k[2],
                         const int64_t s[2], const int64_t d[2], const int64_t pads[4],
                         const int64_t opad[2], const int64_t oshape[2], const float *x,
                         const float *w, const float *expect, int64_t out_h, int64_t out_w) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = p.c_in = p.group = 1;
  p.c_out = c_out;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  for (int a = 0; a < 2; a++) {
    p.in[a] = in[a];
    p.kernel[a] = k[a];
    p.stride[a] = s[a];
    p.dilation[a] = d[a];
    p.out[a] = cnnrt_conv_transpose_resolve_axis(auto_pad, in[a], k[a], s[a], d[a], opad[a],
                                                 oshape[a], pads[a], pads[a + 2], &p.pad_begin[a]);
  }
  assert_int_equal(p.out[0], out_h);
  assert_int_equal(p.out[1], out_w);
  float y[256];
  cnnrt_f32_conv_transpose_ref(&p, x, w, NULL, y);
  assert_true(check_close("onnx convtranspose", 0, y, expect, NULL, c_out * out_h * out_w));
}

static void test_conv_transpose_onnx_vectors(void **state) {
  (void)state;
  const float x33[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t in33[2] = {3, 3}, k33[2] = {3, 3}, one[2] = {1, 1}, zero[2] = {0, 0};
  const int64_t nopads[4] = {0, 0, 0, 0}, absent[2] = {-1, -1};
  {
    const float e1[25] = {0, 1,  3,  3,  2,  3, 8,  15, 12, 7,  9, 21, 36,
                          27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
    float e[50];
    memcpy(e, e1, sizeof e1);
    memcpy(e + 25, e1, sizeof e1);
    onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 2, k33, one, one, nopads, zero, absent, x33,
                 ones9, e, 5, 5);
  }
  /* test_convtranspose_output_shape / _pad / _kernel_shape: the same 10x8 result */
  const float e108[80] = {0, 0, 1, 1, 3, 2, 2, 0, 0, 0, 1,  1, 3, 2,  2, 0, 0, 0, 1,  1,
                          3, 2, 2, 0, 3, 3, 7, 4, 9, 5, 5,  0, 3, 3,  7, 4, 9, 5, 5,  0,
                          3, 3, 7, 4, 9, 5, 5, 0, 6, 6, 13, 7, 15, 8, 8, 0, 6, 6, 13, 7,
                          15, 8, 8, 0, 6, 6, 13, 7, 15, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  float e2[160];
  memcpy(e2, e108, sizeof e108);
  memcpy(e2 + 80, e108, sizeof e108);
  const int64_t s32[2] = {3, 2}, oshape[2] = {10, 8};
  onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 2, k33, s32, one, nopads, zero, oshape, x33,
               ones9, e2, 10, 8);
  onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 2, k33, s32, one, nopads, one, absent, x33,
               ones9, e2, 10, 8);
  onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 2, k33, s32, one, nopads, one, oshape, x33,
               ones9, e2, 10, 8);
  {
    const int64_t pads[4] = {1, 2, 1, 2};
    const float e1[21] = {1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
    float e[42];
    memcpy(e, e1, sizeof e1);
    memcpy(e + 21, e1, sizeof e1);
    onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 2, k33, s32, one, pads, zero, absent, x33,
                 ones9, e, 7, 3);
  }
  {
    const float xd[9] = {3, 8, 1, 9, 5, 7, 3, 2, 6};
    const float wd[4] = {7, 2, 1, 9};
    const int64_t k22[2] = {2, 2}, d22[2] = {2, 2};
    const float e[25] = {21, 56, 13, 16, 2,  63, 35, 67, 10, 14, 24, 22, 76,
                         76, 21, 9,  5,  88, 45, 63, 3,  2,  33, 18, 54};
    onnx_convt2d(CNNRT_CONV_AUTO_PAD_NOTSET, in33, 1, k22, one, d22, nopads, zero, absent, xd, wd,
                 e, 5, 5);
  }
  {
    const int64_t s22[2] = {2, 2};
    const float e1[36] = {0, 0, 1, 1, 3,  2,  0, 0, 1,  1, 3,  2,  3, 3, 8,  5, 12, 7,
                          3, 3, 7, 4, 9,  5,  9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8};
    float e[72];
    memcpy(e, e1, sizeof e1);
    memcpy(e + 36, e1, sizeof e1);
    onnx_convt2d(CNNRT_CONV_AUTO_PAD_SAME_UPPER, in33, 2, k33, s22, one, nopads, zero, absent,
                 x33, ones9, e, 6, 6);
  }
}

/* test_convtranspose_1d and test_convtranspose_3d (kernel of ones). */
static void test_conv_transpose_onnx_1d_3d(void **state) {
  (void)state;
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 1;
  p.n = p.c_in = p.group = 1;
  p.c_out = 2;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
  }
  p.in[0] = 3;
  p.kernel[0] = 3;
  p.out[0] = cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 3, 3, 1, 1, 0, -1, 0, 0,
                                               &p.pad_begin[0]);
  assert_int_equal(p.out[0], 5);
  const float x1[3] = {0, 1, 2};
  const float e1[10] = {0, 1, 3, 3, 2, 0, 1, 3, 3, 2};
  float y[512];
  cnnrt_f32_conv_transpose_ref(&p, x1, ones9, NULL, y);
  assert_true(check_close("onnx convtranspose 1d", 0, y, e1, NULL, 10));

  /* 3-D: x = arange(60) as (1,1,3,4,5), W ones (1,2,3,3,3); check the first channel's first
   * and last plane and that both channels agree. */
  p.spatial = 3;
  const int64_t in3[3] = {3, 4, 5};
  for (int a = 0; a < 3; a++) {
    p.in[a] = in3[a];
    p.kernel[a] = 3;
    p.out[a] = cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, in3[a], 3, 1, 1, 0,
                                                 -1, 0, 0, &p.pad_begin[a]);
  }
  assert_int_equal(p.out[0] * p.out[1] * p.out[2], 5 * 6 * 7);
  float x3[60], w3[54];
  for (int i = 0; i < 60; i++) {
    x3[i] = (float)i;
  }
  for (int i = 0; i < 54; i++) {
    w3[i] = 1.0f;
  }
  cnnrt_f32_conv_transpose_ref(&p, x3, w3, NULL, y);
  const float first[42] = {0,  1,  3,  6,  9,   7,   4,   5,  12, 21, 27, 33, 24, 13,
                           15, 33, 54, 63, 72,  51,  27,  30, 63, 99, 108, 117, 81, 42,
                           25, 52, 81, 87, 93,  64,  33,  15, 31, 48, 51, 54, 37, 19};
  const float last[42] = {40,  81,  123, 126, 129, 87,  44,  85,  172, 261, 267, 273, 184, 93,
                          135, 273, 414, 423, 432, 291, 147, 150, 303, 459, 468, 477, 321, 162,
                          105, 212, 321, 327, 333, 224, 113, 55,  111, 168, 171, 174, 117, 59};
  assert_true(check_close("onnx convtranspose 3d", 0, y, first, NULL, 42));
  assert_true(check_close("onnx convtranspose 3d", 1, y + 4 * 42, last, NULL, 42));
  assert_true(check_close("onnx convtranspose 3d", 2, y + 210, y, NULL, 210));
}

/* ---- attribute resolution ---------------------------------------------------------------- */

static void test_resolve_conv(void **state) {
  (void)state;
  int64_t pb = -99;
  /* SAME: out = ceil(in / stride) */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 5, 3, 2, 1, 9, 9, &pb), 3);
  assert_int_equal(pb, 1);
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 6, 3, 2, 1, 0, 0, &pb), 3);
  assert_int_equal(pb, 0); /* total 1: extra at the end */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_LOWER, 6, 3, 2, 1, 0, 0, &pb), 3);
  assert_int_equal(pb, 1); /* total 1: extra at the beginning */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 7, 4, 1, 2, 0, 0, &pb), 7);
  assert_int_equal(pb, 3); /* dilated kernel 7: total 6 */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 8, 4, 1, 1, 0, 0, &pb), 8);
  assert_int_equal(pb, 1); /* total 3 */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_LOWER, 8, 4, 1, 1, 0, 0, &pb), 8);
  assert_int_equal(pb, 2);
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 9, 1, 4, 1, 0, 0, &pb), 3);
  assert_int_equal(pb, 0); /* total 0 */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 8, 1, 4, 1, 0, 0, &pb), 2);
  assert_int_equal(pb, 0); /* total -3: clamped */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 1, 3, 1, 1, 0, 0, &pb), 1);
  assert_int_equal(pb, 1);
  /* VALID */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_VALID, 7, 3, 2, 1, 5, 5, &pb), 3);
  assert_int_equal(pb, 0);
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_VALID, 8, 3, 2, 2, 0, 0, &pb), 2);
  assert_true(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_VALID, 2, 3, 1, 1, 0, 0, &pb) < 1);
  /* NOTSET */
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 7, 3, 2, 1, 1, 2, &pb), 4);
  assert_int_equal(pb, 1);
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 224, 7, 2, 1, 3, 3, &pb), 112);
  assert_int_equal(cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 5, 3, 1, 2, 0, 0, &pb), 1);
}

static void test_resolve_conv_transpose(void **state) {
  (void)state;
  int64_t pb = -99;
  /* NOTSET with pads: full - pb - pe */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 3, 3, 3, 1, 0, -1,
                                                     1, 1, &pb), 7);
  assert_int_equal(pb, 1);
  /* torch ConvTranspose2d(k=3, s=2, p=1, output_padding=1): 2x upsampling */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 16, 3, 2, 1, 1, -1,
                                                     1, 1, &pb), 32);
  assert_int_equal(pb, 1);
  /* VALID: the full result */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_VALID, 4, 3, 2, 2, 1, -1,
                                                     7, 7, &pb), 12);
  assert_int_equal(pb, 0);
  /* SAME: out = in * stride; total = full - out; SAME_UPPER extra at the end */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 3, 3, 2, 1, 0,
                                                     -1, 0, 0, &pb), 6);
  assert_int_equal(pb, 0); /* total 1 */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_LOWER, 3, 3, 2, 1, 0,
                                                     -1, 0, 0, &pb), 6);
  assert_int_equal(pb, 1);
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 4, 5, 1, 1, 0,
                                                     -1, 0, 0, &pb), 4);
  assert_int_equal(pb, 2); /* total 4 */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 3, 3, 2, 1, 1,
                                                     -1, 0, 0, &pb), 6);
  assert_int_equal(pb, 1); /* output_padding enters total only: 2 */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 3, 1, 2, 1, 0,
                                                     -1, 0, 0, &pb), 6);
  assert_int_equal(pb, 0); /* total -1 clamped */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_UPPER, 3, 1, 4, 1, 0,
                                                     -1, 0, 0, &pb), 12);
  assert_int_equal(pb, 0); /* total -3 clamped */
  /* output_shape: pads attribute ignored */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 16, 3, 2, 1, 0,
                                                     32, 5, 5, &pb), 32);
  assert_int_equal(pb, 0); /* total 1 -> end (onnxruntime) */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 16, 4, 2, 1, 0,
                                                     30, 0, 0, &pb), 30);
  assert_int_equal(pb, 2); /* total 4 */
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_SAME_LOWER, 16, 3, 2, 1, 0,
                                                     32, 0, 0, &pb), 32);
  assert_int_equal(pb, 1);
  assert_int_equal(cnnrt_conv_transpose_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, 3, 3, 3, 1, 0, 10,
                                                     0, 0, &pb), 10);
  assert_int_equal(pb, 0); /* total -1 clamped (test_convtranspose_output_shape) */
}

/* A larger 2-D case of realistic shape, mostly to exercise the fast paths at size. */
static void test_conv_large(void **state) {
  (void)state;
  conv_case c = {2, 1, 16, 24, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 1,
                 CNNRT_ACT_RELU};
  assert_true(run_case(&c, 900, 0));
  conv_case dw = {2, 1, 32, 32, 32, {30, 30}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, {0}, 1, 0,
                  CNNRT_ACT_CLIP};
  assert_true(run_case(&dw, 901, 0));
  conv_case pw = {2, 1, 32, 20, 1, {14, 14}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 1, 0};
  assert_true(run_case(&pw, 902, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_random),
      cmocka_unit_test(test_conv_activations),
      cmocka_unit_test(test_conv_transpose_random),
      cmocka_unit_test(test_conv_onnx_vectors),
      cmocka_unit_test(test_conv_transpose_onnx_vectors),
      cmocka_unit_test(test_conv_transpose_onnx_1d_3d),
      cmocka_unit_test(test_resolve_conv),
      cmocka_unit_test(test_resolve_conv_transpose),
      cmocka_unit_test(test_conv_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
