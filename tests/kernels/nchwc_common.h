/* nchwc_common.h — the helpers shared by tests/kernels/test_nchwc.c (the portable NCHW8c
 * references) and tests/kernels/test_nchwc_avx2.c (the AVX2 kernels): always base_params (2-D
 * convolution params, pads resolved as the compiler does) and the cmocka test test_applies (the
 * applicability predicates reject what the blocked kernels do not compute); and, when the
 * includer defines NCHWC_RNG_SEED (frand's seed, its own per test), the random data (frand,
 * rand_buf), the shapes (pw_shape, dw_shape), the activations under test (acts, set_act,
 * act_d), init_y (y and the residual before a run), scale_x (a fused input scale applied as the
 * Mul it replaces would), the naive double-precision convolution, check_out with its tolerance
 * and check_pool (a fused GlobalAveragePool against the pool's own reference, bit for bit). A build
 * without the kernels' instruction set runs only test_applies and leaves NCHWC_RNG_SEED undefined.
 * The includer includes cnnrt_conv.h and cnnrt_nchwc.h first; cmocka, math.h, stdio.h, stdlib.h and
 * string.h are included. */
#ifndef CNNCC_TESTS_NCHWC_COMMON_H
#define CNNCC_TESTS_NCHWC_COMMON_H

/* ---- predicates (portable): shapes the blocked kernels must not be given ------------------ */

static cnnrt_conv_params base_params(int64_t n, int64_t c_in, int64_t c_out, int64_t group,
                                     int64_t h, int64_t w, int64_t k, int64_t s, int64_t pt,
                                     int64_t pb, int64_t pl, int64_t pr) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = 2;
  p.n = n;
  p.c_in = c_in;
  p.c_out = c_out;
  p.group = group;
  for (int a = 0; a < 3; a++) {
    p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    p.pad_begin[a] = 0;
  }
  const int64_t dims[2] = {h, w}, pbeg[2] = {pt, pl}, pend[2] = {pb, pr};
  for (int a = 0; a < 2; a++) {
    p.in[a] = dims[a];
    p.kernel[a] = k;
    p.stride[a] = s;
    p.out[a] = cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, dims[a], k, s, 1, pbeg[a],
                                       pend[a], &p.pad_begin[a]);
  }
  p.act = CNNRT_ACT_NONE;
  return p;
}

static void test_applies(void **state) {
  (void)state;
  /* pointwise */
  cnnrt_conv_params p = base_params(1, 16, 16, 1, 5, 5, 1, 1, 0, 0, 0, 0), q;
  assert_true(cnnrt_nchwc_pointwise_applies(&p));
  q = p;
  q.act = CNNRT_ACT_RELU;
  assert_true(cnnrt_nchwc_pointwise_applies(&q));
  q.act = CNNRT_ACT_CLIP;
  assert_true(cnnrt_nchwc_pointwise_applies(&q));
  q.act = CNNRT_ACT_SILU;
  assert_true(cnnrt_nchwc_pointwise_applies(&q));
  q.act = CNNRT_ACT_HARD_SWISH;
  assert_true(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(2, 3, 8, 1, 1, 7, 1, 1, 0, 0, 0, 0); /* c_in need not be a multiple of 8 */
  assert_true(cnnrt_nchwc_pointwise_applies(&q));
  const int64_t bad_cout[] = {12, 4, 1, 20};
  for (size_t i = 0; i < sizeof bad_cout / sizeof bad_cout[0]; i++) {
    q = base_params(1, 16, bad_cout[i], 1, 5, 5, 1, 1, 0, 0, 0, 0);
    assert_false(cnnrt_nchwc_pointwise_applies(&q));
  }
  q = base_params(1, 16, 16, 1, 5, 5, 1, 2, 0, 0, 0, 0); /* 1x1 stride 2 */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(1, 16, 16, 1, 7, 7, 1, 3, 0, 0, 0, 0); /* 1x1 stride 3 */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(1, 16, 16, 1, 5, 5, 3, 1, 1, 1, 1, 1); /* 3x3 */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(1, 16, 16, 1, 9, 9, 7, 1, 3, 3, 3, 3); /* 7x7 */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(1, 16, 16, 1, 5, 5, 1, 1, 1, 1, 1, 1); /* 1x1 with padding */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  q = base_params(1, 16, 16, 2, 5, 5, 1, 1, 0, 0, 0, 0); /* grouped */
  assert_false(cnnrt_nchwc_pointwise_applies(&q));
  const int bad_act[] = {CNNRT_ACT_LEAKY_RELU, CNNRT_ACT_SIGMOID, CNNRT_ACT_HARD_SIGMOID,
                         CNNRT_ACT_TANH};
  for (size_t i = 0; i < sizeof bad_act / sizeof bad_act[0]; i++) {
    q = p;
    q.act = bad_act[i];
    assert_false(cnnrt_nchwc_pointwise_applies(&q));
  }
  q = p;
  q.spatial = 1;
  assert_false(cnnrt_nchwc_pointwise_applies(&q));

  /* depthwise */
  p = base_params(1, 16, 16, 16, 7, 7, 3, 1, 1, 1, 1, 1);
  assert_true(cnnrt_nchwc_depthwise_applies(&p));
  q = base_params(2, 40, 40, 40, 9, 9, 5, 2, 2, 1, 0, 2);
  q.act = CNNRT_ACT_CLIP;
  assert_true(cnnrt_nchwc_depthwise_applies(&q));
  q.act = CNNRT_ACT_SILU;
  assert_true(cnnrt_nchwc_depthwise_applies(&q));
  q.act = CNNRT_ACT_HARD_SWISH;
  assert_true(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 8, 8, 8, 5, 5, 3, 2, 2, 0, 2, 0); /* pad_begin = kernel - 1 */
  q.act = CNNRT_ACT_RELU;
  assert_true(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 12, 12, 12, 7, 7, 3, 1, 1, 1, 1, 1); /* channels % 8 != 0 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 16, 32, 16, 7, 7, 3, 1, 1, 1, 1, 1); /* channel multiplier 2 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 16, 16, 1, 7, 7, 3, 1, 1, 1, 1, 1); /* dense 3x3 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 16, 16, 16, 9, 9, 3, 3, 1, 1, 1, 1); /* stride 3 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 16, 16, 16, 9, 9, 7, 1, 3, 3, 3, 3); /* kernel 7 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = base_params(1, 16, 16, 16, 9, 9, 1, 1, 0, 0, 0, 0); /* kernel 1 */
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = p;
  q.kernel[1] = 5; /* 3x5 */
  q.out[1] = p.in[1] + 2 - 5 + 1;
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  q = p;
  q.stride[1] = 2; /* strides 1, 2 */
  q.out[1] = (p.in[1] + 2 - 3) / 2 + 1;
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
  for (int a = 0; a < 2; a++) { /* dilation 2 on either axis */
    q = p;
    q.dilation[a] = 2;
    q.out[a] = p.in[a] + 2 - 5 + 1;
    assert_false(cnnrt_nchwc_depthwise_applies(&q));
  }
  for (int a = 0; a < 2; a++) { /* pad_begin == kernel, negative pad_begin */
    q = base_params(1, 16, 16, 16, 7, 7, 3, 1, a == 0 ? 3 : 1, 1, a == 1 ? 3 : 1, 1);
    assert_false(cnnrt_nchwc_depthwise_applies(&q));
    q = base_params(1, 16, 16, 16, 7, 7, 3, 1, a == 0 ? -1 : 1, 1, a == 1 ? -1 : 1, 1);
    assert_false(cnnrt_nchwc_depthwise_applies(&q));
  }
  for (size_t i = 0; i < sizeof bad_act / sizeof bad_act[0]; i++) {
    q = p;
    q.act = bad_act[i];
    assert_false(cnnrt_nchwc_depthwise_applies(&q));
  }
  q = p;
  q.spatial = 3;
  assert_false(cnnrt_nchwc_depthwise_applies(&q));
}

#ifdef NCHWC_RNG_SEED

/* ---- data --------------------------------------------------------------------------------- */

static uint32_t rng_state = NCHWC_RNG_SEED;

static float frand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static float *rand_buf(int64_t len) {
  float *b = malloc((size_t)(len > 0 ? len : 1) * sizeof(float));
  assert_non_null(b);
  for (int64_t i = 0; i < len; i++) {
    b[i] = frand();
  }
  return b;
}

typedef struct pw_shape {
  int64_t n, c_in, c_out, h, w;
} pw_shape;

typedef struct dw_shape {
  int64_t n, c, h, w, k, s, pt, pb, pl, pr;
} dw_shape;

/* ---- the expected outputs ----------------------------------------------------------------- */

/* The activations under test: NONE, RELU, CLIP(0, 6) (ReLU6), CLIP(-0.5, 0.25) (both bounds
 * active on most elements), SILU and HARD_SWISH (outputs here are within a few units of 0,
 * where both curve). */
#define N_ACTS 6
static const struct {
  int act;
  float alpha, beta;
} acts[N_ACTS] = {{CNNRT_ACT_NONE, 0.0f, 0.0f}, {CNNRT_ACT_RELU, 0.0f, 0.0f},
                  {CNNRT_ACT_CLIP, 0.0f, 6.0f}, {CNNRT_ACT_CLIP, -0.5f, 0.25f},
                  {CNNRT_ACT_SILU, 0.0f, 0.0f}, {CNNRT_ACT_HARD_SWISH, 0.0f, 0.0f}};

static double act_d(int act, double alpha, double beta, double v) {
  if (act == CNNRT_ACT_RELU) {
    return v > 0 ? v : 0;
  }
  if (act == CNNRT_ACT_CLIP) {
    return v < alpha ? alpha : (v > beta ? beta : v);
  }
  if (act == CNNRT_ACT_SILU) {
    return v / (1.0 + exp(-v));
  }
  if (act == CNNRT_ACT_HARD_SWISH) {
    const double t = v / 6.0 + 0.5;
    return v * (t < 0 ? 0 : (t > 1 ? 1 : t));
  }
  return v;
}

/* p's activation: entry act_i of acts. */
static void set_act(cnnrt_conv_params *p, int act_i) {
  p->act = acts[act_i].act;
  p->alpha = acts[act_i].alpha;
  p->beta = acts[act_i].beta;
}

/* y (ny floats) before a run with residual mode res_mode (0 none, 1 separate, 2 in place) and
 * residual res in y's layout; returns the residual to pass: in place, res copied into y and y;
 * else y filled with NaN (its old contents must not matter) and res or NULL. */
static const float *init_y(float *y, int64_t ny, int res_mode, const float *res) {
  if (res_mode == 2) {
    memcpy(y, res, (size_t)ny * sizeof(float));
    return y;
  }
  for (int64_t i = 0; i < ny; i++) {
    y[i] = NAN;
  }
  return res_mode == 1 ? res : NULL;
}

/* xs = x * scale per (image, channel) of a [n, c, plane] tensor, each product rounded to float:
 * what the squeeze-excitation Mul that a fused input scale replaces computes. */
static void scale_x(const float *x, const float *scale, int64_t n, int64_t c, int64_t plane,
                    float *xs) {
  for (int64_t i = 0; i < n * c * plane; i++) {
    xs[i] = x[i] * scale[i / plane];
  }
}

/* A fused GlobalAveragePool: pooled [n_c] must equal, bit for bit, what
 * cnnrt_f32_global_avgpool_ref computes from the plain output y [n_c][plane]. */
static void check_pool(const char *what, const char *desc, int64_t n_c, int64_t plane,
                       const float *y, const float *pooled) {
  float *want = malloc((size_t)n_c * sizeof(float));
  assert_non_null(want);
  cnnrt_f32_global_avgpool_ref(n_c, plane, y, want);
  for (int64_t i = 0; i < n_c; i++) {
    if (memcmp(&want[i], &pooled[i], sizeof(float)) != 0) {
      fail_msg("%s %s: pooled[%lld] = %.9g, GlobalAveragePool %.9g", what, desc, (long long)i,
               (double)pooled[i], (double)want[i]);
    }
  }
  free(want);
}

/* Naive 2-D convolution (group 1 or depthwise) in double on plain NCHW with the ONNX weights,
 * before the activation; absum: the sum of the magnitudes of every term (products, bias,
 * residual) of each output, for the tolerance. */
static void naive_conv(const cnnrt_conv_params *p, const float *x, const float *w,
                       const float *bias, const float *res, double *want, double *absum) {
  const int64_t H = p->in[0], W = p->in[1], OH = p->out[0], OW = p->out[1];
  const int64_t KH = p->kernel[0], KW = p->kernel[1];
  const int64_t icg = p->c_in / p->group, ocg = p->c_out / p->group;
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t oc = 0; oc < p->c_out; oc++) {
      const int64_t g = oc / ocg;
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          const int64_t o = ((b * p->c_out + oc) * OH + oy) * OW + ox;
          double s = bias != NULL ? bias[oc] : 0.0;
          double a = fabs(s);
          for (int64_t ic = 0; ic < icg; ic++) {
            const float *xc = x + (b * p->c_in + g * icg + ic) * H * W;
            const float *wc = w + (oc * icg + ic) * KH * KW;
            for (int64_t ky = 0; ky < KH; ky++) {
              const int64_t iy = oy * p->stride[0] - p->pad_begin[0] + ky * p->dilation[0];
              if (iy < 0 || iy >= H) {
                continue;
              }
              for (int64_t kx = 0; kx < KW; kx++) {
                const int64_t ix = ox * p->stride[1] - p->pad_begin[1] + kx * p->dilation[1];
                if (ix < 0 || ix >= W) {
                  continue;
                }
                const double t = (double)xc[iy * W + ix] * (double)wc[ky * KW + kx];
                s += t;
                a += fabs(t);
              }
            }
          }
          if (res != NULL) {
            s += res[o];
            a += fabs(res[o]);
          }
          want[o] = s;
          absum[o] = a;
        }
      }
    }
  }
}

/* Largest error seen, relative to the tolerance (test_nchwc_avx2.c reports it at the end). */
static double worst_ratio;

/* got, ref_conv and ref_nc plain NCHW [n, c_out, oh, ow]; ref_nc (the NCHW8c reference) is NULL
 * where got is that reference. Tolerance per element:
 *   1e-5 * (sum of |x * w| over the terms + |bias| + |residual|) + 1e-6.
 * Why: every float result here (kernel, cnnrt_f32_conv_ref, the NCHW8c reference) sums the
 * same terms in some order, with or without FMA; its error is at most gamma_n * absum, and for
 * random data about sqrt(n) * 2^-24 * absum: <= 1.4e-6 * absum for the longest sum (520 terms
 * + bias + residual). Two such errors meet in a comparison, so 1e-5 leaves a margin of 3x and
 * more; NONE, RELU and CLIP have slope <= 1, SILU < 1.1 and HARD_SWISH <= 1.5 (a margin of 2x
 * left), and the vector SILU's own error (< 3e-7 relative) is far below it.
 * A wrong or missing term (layout or indexing bug) moves the output by about absum / n >= 2e-3
 * absum, far above the bound. The 1e-6 absolute part covers outputs whose terms cancel to ~0. */
static void check_out(const char *what, const char *desc, const cnnrt_conv_params *p,
                      const float *got, const double *want, const double *absum,
                      const float *ref_conv, const float *ref_nc) {
  const int64_t plane = p->out[0] * p->out[1], len = p->n * p->c_out * plane;
  for (int64_t i = 0; i < len; i++) {
    const double wv = act_d((int)p->act, p->alpha, p->beta, want[i]);
    const double tol = 1e-5 * absum[i] + 1e-6;
    const double e0 = fabs((double)got[i] - wv);
    const double e1 = fabs((double)got[i] - (double)ref_conv[i]);
    const double e2 = ref_nc != NULL ? fabs((double)got[i] - (double)ref_nc[i]) : e1;
    const double e = fmax(e0, fmax(e1, e2));
    if (!(e <= tol)) { /* NaN fails too */
      const int64_t b = i / (p->c_out * plane), c = i / plane % p->c_out, px = i % plane;
      char nc[40] = "";
      if (ref_nc != NULL) {
        snprintf(nc, sizeof nc, ", nchwc_ref %.9g", (double)ref_nc[i]);
      }
      fail_msg("%s %s: y[b %lld, c %lld, y %lld, x %lld] = %.9g, naive %.9g, conv_ref %.9g%s "
               "(err %.3g, tol %.3g)",
               what, desc, (long long)b, (long long)c, (long long)(px / p->out[1]),
               (long long)(px % p->out[1]), (double)got[i], wv, (double)ref_conv[i], nc, e, tol);
    }
    worst_ratio = fmax(worst_ratio, e / tol);
  }
}

#endif /* NCHWC_RNG_SEED */

#endif /* CNNCC_TESTS_NCHWC_COMMON_H */
