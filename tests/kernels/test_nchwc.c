/* test_nchwc.c — the portable part of cnnrt_nchwc.h: the NCHW8c index and reorder (against the
 * layout's definition, as a permutation, and round trip), the two weight packers (against their
 * layouts, the zero columns of a half 16-channel panel included), and the two references
 * cnnrt_f32_conv_pw_nchwc_ref and cnnrt_f32_dwconv_nchwc_ref against cnnrt_f32_conv_ref (plain
 * NCHW, the weights as ONNX gives them) and a naive double-precision convolution: pointwise
 * with every x / y layout (plain or blocked), c_in 1..520, c_out 8..64, planes 1x1..112x3,
 * batch 1 and 2; depthwise with kernels 3 and 5, strides 1 and 2, equal and different pads;
 * both with bias present / NULL, residual absent / separate / in place and NONE / RELU / CLIP /
 * SILU / HARD_SWISH; pointwise with and without a fused input scale (which must give, bit for
 * bit, what the reference gives on the input scaled first), depthwise with and without a fused
 * GlobalAveragePool (bit for bit what cnnrt_f32_global_avgpool_ref gives on the output).
 * A layout does not change a reference's arithmetic, so the results of all layouts must agree
 * bit for bit. Also: the applicability predicates reject what the blocked kernels do not
 * compute. No SIMD: runs everywhere. */
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
#include "cnnrt_nchwc.h"
#include "cnnrt_pool.h"

/* base_params, test_applies, frand / rand_buf, acts / set_act, init_y, naive_conv, check_out */
#define NCHWC_RNG_SEED 77u
#include "nchwc_common.h"

static float *alloc_f(int64_t len) {
  float *b = malloc((size_t)(len > 0 ? len : 1) * sizeof(float));
  assert_non_null(b);
  return b;
}

/* ---- layout ------------------------------------------------------------------------------- */

static void test_index_and_reorder(void **state) {
  (void)state;
  static const int64_t shapes[][3] = {{1, 8, 1}, {2, 16, 7}, {1, 24, 169}, {2, 40, 6}, {3, 8, 5}};
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t n = shapes[si][0], c = shapes[si][1], plane = shapes[si][2];
    const int64_t len = n * c * plane;
    /* the index: the definition [n][c / 8][plane][8], and plain [n][c][plane] */
    for (int64_t b = 0; b < n; b++) {
      for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t i = 0; i < plane; i++) {
          assert_int_equal(cnnrt_nchwc_index(0, c, plane, b, ch, i), (b * c + ch) * plane + i);
          assert_int_equal(cnnrt_nchwc_index(1, c, plane, b, ch, i),
                           ((b * (c / 8) + ch / 8) * plane + i) * 8 + ch % 8);
        }
      }
    }
    /* to blocked: every element lands where the definition says, every slot written once */
    float *x = alloc_f(len), *xb = alloc_f(len), *back = alloc_f(len);
    for (int64_t i = 0; i < len; i++) {
      x[i] = (float)i; /* distinct, exact */
      xb[i] = NAN;
      back[i] = NAN;
    }
    cnnrt_f32_nchwc_reorder(1, n, c, plane, x, xb);
    for (int64_t b = 0; b < n; b++) {
      for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t i = 0; i < plane; i++) {
          const int64_t at = ((b * (c / 8) + ch / 8) * plane + i) * 8 + ch % 8;
          assert_true(xb[at] == (float)((b * c + ch) * plane + i));
        }
      }
    }
    /* and back: the identity */
    cnnrt_f32_nchwc_reorder(0, n, c, plane, xb, back);
    assert_memory_equal(back, x, (size_t)len * sizeof(float));
    /* blocked -> plain -> blocked on random data as well */
    float *r = rand_buf(len);
    cnnrt_f32_nchwc_reorder(0, n, c, plane, r, back);
    cnnrt_f32_nchwc_reorder(1, n, c, plane, back, xb);
    assert_memory_equal(xb, r, (size_t)len * sizeof(float));
    free(x);
    free(xb);
    free(back);
    free(r);
  }
}

static void test_pack(void **state) {
  (void)state;
  /* pointwise: [c_out][c_in] -> [c_out / 16 rounded up][c_in][16], missing columns zero */
  static const int64_t pw[][2] = {{8, 1}, {16, 3}, {24, 8}, {40, 200}, {64, 264}, {8, 520}};
  for (size_t si = 0; si < sizeof pw / sizeof pw[0]; si++) {
    const int64_t co = pw[si][0], ci = pw[si][1], panels = (co + 15) / 16;
    const int64_t bytes = cnnrt_f32_pw_nchwc_pack_bytes(co, ci);
    assert_int_equal(bytes, panels * 16 * ci * (int64_t)sizeof(float));
    float *w = rand_buf(co * ci), *wp = alloc_f(bytes / 4);
    for (int64_t i = 0; i < bytes / 4; i++) {
      wp[i] = NAN; /* every slot must be written */
    }
    cnnrt_f32_pw_nchwc_pack(co, ci, w, wp);
    for (int64_t j = 0; j < panels; j++) {
      for (int64_t k = 0; k < ci; k++) {
        for (int64_t l = 0; l < 16; l++) {
          const float got = wp[(j * ci + k) * 16 + l];
          const int64_t oc = 16 * j + l;
          assert_true(got == (oc < co ? w[oc * ci + k] : 0.0f));
        }
      }
    }
    free(w);
    free(wp);
  }
  /* depthwise: [c][taps] -> [c / 8][taps][8] */
  static const int64_t dw[][2] = {{8, 9}, {16, 25}, {40, 9}, {40, 25}};
  for (size_t si = 0; si < sizeof dw / sizeof dw[0]; si++) {
    const int64_t c = dw[si][0], taps = dw[si][1];
    const int64_t bytes = cnnrt_f32_dw_nchwc_pack_bytes(c, taps);
    assert_int_equal(bytes, c * taps * (int64_t)sizeof(float));
    float *w = rand_buf(c * taps), *wp = alloc_f(bytes / 4);
    for (int64_t i = 0; i < bytes / 4; i++) {
      wp[i] = NAN;
    }
    cnnrt_f32_dw_nchwc_pack(c, taps, w, wp);
    for (int64_t ch = 0; ch < c; ch++) {
      for (int64_t t = 0; t < taps; t++) {
        assert_true(wp[((ch / 8) * taps + t) * 8 + ch % 8] == w[ch * taps + t]);
      }
    }
    free(w);
    free(wp);
  }
}

/* ---- references --------------------------------------------------------------------------- */

/* One pointwise case through every x / y layout; the outputs must agree bit for bit. With
 * with_scale a fused input scale, and the plain-layout run again on the input scaled first. */
static void pw_case(const pw_shape *s, int act_i, int res_mode, int with_bias, int with_scale) {
  cnnrt_conv_params p = base_params(s->n, s->c_in, s->c_out, 1, s->h, s->w, 1, 1, 0, 0, 0, 0);
  set_act(&p, act_i);
  assert_true(cnnrt_nchwc_pointwise_applies(&p));
  const int64_t plane = s->h * s->w, nx = s->n * s->c_in * plane, ny = s->n * s->c_out * plane;
  const int x_can_block = s->c_in % 8 == 0;
  float *x = rand_buf(nx), *w = rand_buf(s->c_out * s->c_in), *b = rand_buf(s->c_out);
  float *res = rand_buf(ny), *res_b = alloc_f(ny), *x_b = alloc_f(nx);
  float *wp = alloc_f(cnnrt_f32_pw_nchwc_pack_bytes(s->c_out, s->c_in) / 4);
  float *ref_conv = alloc_f(ny), *y = alloc_f(ny), *got = alloc_f(ny), *first = alloc_f(ny);
  float *scale = rand_buf(s->n * s->c_in), *xs = alloc_f(nx);
  double *want = malloc((size_t)ny * sizeof(double)), *absum = malloc((size_t)ny * sizeof(double));
  assert_true(want && absum);
  const float *bias = with_bias ? b : NULL;
  const float *sc = with_scale ? scale : NULL;
  cnnrt_f32_pw_nchwc_pack(s->c_out, s->c_in, w, wp);
  if (x_can_block) {
    cnnrt_f32_nchwc_reorder(1, s->n, s->c_in, plane, x, x_b);
  }
  cnnrt_f32_nchwc_reorder(1, s->n, s->c_out, plane, res, res_b);
  if (with_scale) {
    scale_x(x, scale, s->n, s->c_in, plane, xs);
  } else {
    memcpy(xs, x, (size_t)nx * sizeof(float));
  }
  naive_conv(&p, xs, w, bias, res_mode != 0 ? res : NULL, want, absum);
  cnnrt_f32_conv_ref(&p, xs, w, bias, res_mode != 0 ? res : NULL, ref_conv);
  int runs = 0;
  for (int xb = 0; xb <= x_can_block; xb++) {
    for (int yb = 0; yb < 2; yb++, runs++) {
      char desc[160];
      snprintf(desc, sizeof desc,
               "n %lld c_in %lld c_out %lld %lldx%lld act %d (%g, %g) bias %d res %d scale %d "
               "x_blocked %d y_blocked %d",
               (long long)s->n, (long long)s->c_in, (long long)s->c_out, (long long)s->h,
               (long long)s->w, (int)p.act, (double)p.alpha, (double)p.beta, with_bias, res_mode,
               with_scale, xb, yb);
      const float *r = init_y(y, ny, res_mode, yb ? res_b : res);
      cnnrt_f32_conv_pw_nchwc_ref(&p, xb, xb ? x_b : x, sc, wp, bias, r, yb, y);
      if (yb) {
        cnnrt_f32_nchwc_reorder(0, s->n, s->c_out, plane, y, got);
      } else {
        memcpy(got, y, (size_t)ny * sizeof(float));
      }
      check_out("pointwise ref", desc, &p, got, want, absum, ref_conv, NULL);
      if (runs == 0) {
        memcpy(first, got, (size_t)ny * sizeof(float));
      } else if (memcmp(first, got, (size_t)ny * sizeof(float)) != 0) {
        fail_msg("pointwise ref %s: differs from the plain-layout run", desc);
      }
    }
  }
  if (with_scale) { /* the scale fused = the Mul first */
    const float *r = init_y(y, ny, res_mode, res);
    cnnrt_f32_conv_pw_nchwc_ref(&p, 0, xs, NULL, wp, bias, r, 0, y);
    if (memcmp(first, y, (size_t)ny * sizeof(float)) != 0) {
      fail_msg("pointwise ref n %lld c_in %lld c_out %lld: the fused scale differs from the "
               "input scaled first", (long long)s->n, (long long)s->c_in, (long long)s->c_out);
    }
  }
  free(scale);
  free(xs);
  free(x);
  free(w);
  free(b);
  free(res);
  free(res_b);
  free(x_b);
  free(wp);
  free(ref_conv);
  free(y);
  free(got);
  free(first);
  free(want);
  free(absum);
}

static void test_pointwise_ref(void **state) {
  (void)state;
  static const pw_shape shapes[] = {
      {1, 1, 8, 1, 1},    {2, 3, 16, 1, 7},     {1, 8, 24, 7, 7},   {2, 16, 40, 13, 13},
      {1, 24, 64, 10, 10}, {1, 8, 8, 112, 3},   {1, 200, 16, 7, 7}, {2, 264, 40, 1, 7},
      {1, 520, 24, 3, 3}, {1, 3, 64, 13, 13},   {2, 24, 8, 10, 10}, {1, 264, 8, 1, 1},
  };
  for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
    for (int v = 0; v < 2; v++) {
      pw_case(&shapes[i], (i + 2 * v) % N_ACTS, (i + v) % 3, (2 * i + v) % 5 != 3, (i + v) % 2);
    }
  }
}

static void dw_case(const dw_shape *s, int act_i, int res_mode, int with_bias, int with_pool) {
  cnnrt_conv_params p = base_params(s->n, s->c, s->c, s->c, s->h, s->w, s->k, s->s, s->pt, s->pb,
                                    s->pl, s->pr);
  assert_true(p.out[0] >= 1 && p.out[1] >= 1);
  set_act(&p, act_i);
  assert_true(cnnrt_nchwc_depthwise_applies(&p));
  const int64_t taps = s->k * s->k, in_plane = s->h * s->w, plane = p.out[0] * p.out[1];
  const int64_t nx = s->n * s->c * in_plane, ny = s->n * s->c * plane;
  float *x = rand_buf(nx), *w = rand_buf(s->c * taps), *b = rand_buf(s->c), *res = rand_buf(ny);
  float *x_b = alloc_f(nx), *res_b = alloc_f(ny), *wp = alloc_f(s->c * taps);
  float *ref_conv = alloc_f(ny), *y = alloc_f(ny), *got = alloc_f(ny);
  float *pooled = alloc_f(s->n * s->c);
  double *want = malloc((size_t)ny * sizeof(double)), *absum = malloc((size_t)ny * sizeof(double));
  assert_true(want && absum);
  const float *bias = with_bias ? b : NULL;
  cnnrt_f32_dw_nchwc_pack(s->c, taps, w, wp);
  cnnrt_f32_nchwc_reorder(1, s->n, s->c, in_plane, x, x_b);
  cnnrt_f32_nchwc_reorder(1, s->n, s->c, plane, res, res_b);
  naive_conv(&p, x, w, bias, res_mode != 0 ? res : NULL, want, absum);
  cnnrt_f32_conv_ref(&p, x, w, bias, res_mode != 0 ? res : NULL, ref_conv);
  const float *r = init_y(y, ny, res_mode, res_b);
  cnnrt_f32_dwconv_nchwc_ref(&p, x_b, wp, bias, r, y, with_pool ? pooled : NULL);
  cnnrt_f32_nchwc_reorder(0, s->n, s->c, plane, y, got);
  char desc[160];
  snprintf(desc, sizeof desc,
           "n %lld c %lld %lldx%lld k %lld s %lld pads (t %lld b %lld l %lld r %lld) act %d "
           "(%g, %g) bias %d res %d pool %d",
           (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->k,
           (long long)s->s, (long long)s->pt, (long long)s->pb, (long long)s->pl, (long long)s->pr,
           (int)p.act, (double)p.alpha, (double)p.beta, with_bias, res_mode, with_pool);
  check_out("depthwise ref", desc, &p, got, want, absum, ref_conv, NULL);
  if (with_pool) {
    check_pool("depthwise ref", desc, s->n * s->c, plane, got, pooled);
  }
  free(pooled);
  free(x);
  free(w);
  free(b);
  free(res);
  free(x_b);
  free(res_b);
  free(wp);
  free(ref_conv);
  free(y);
  free(got);
  free(want);
  free(absum);
}

static void test_depthwise_ref(void **state) {
  (void)state;
  static const dw_shape shapes[] = {
      {1, 8, 1, 1, 3, 1, 1, 1, 1, 1},     {2, 16, 2, 3, 3, 2, 1, 0, 0, 1},
      {1, 40, 5, 5, 5, 1, 2, 2, 2, 2},    {1, 8, 7, 7, 3, 2, 0, 0, 1, 1},
      {2, 8, 14, 14, 3, 1, 1, 1, 1, 0},   {1, 16, 13, 9, 5, 2, 2, 1, 0, 2},
      {1, 8, 9, 31, 3, 2, 2, 2, 1, 0},    {2, 16, 7, 7, 5, 1, 1, 0, 2, 1},
      {1, 8, 1, 1, 5, 2, 2, 2, 2, 2},     {1, 40, 14, 14, 5, 2, 0, 0, 0, 0},
      {1, 8, 5, 5, 3, 1, 1, 3, 0, 4}, /* trailing pads past the kernel */
  };
  for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
    dw_case(&shapes[i], i % N_ACTS, i % 3, i % 4 != 1, i % 2);
    dw_case(&shapes[i], (i + 1) % N_ACTS, (i + 2) % 3, i % 4 != 2, (i + 1) % 2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_and_reorder), cmocka_unit_test(test_pack),
      cmocka_unit_test(test_pointwise_ref),     cmocka_unit_test(test_depthwise_ref),
      cmocka_unit_test(test_applies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
