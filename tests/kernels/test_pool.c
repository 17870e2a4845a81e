/* test_pool.c — cmocka tests of runtime/cnnrt_pool.h (MaxPool with Indices, AveragePool,
 * LpPool, Global*Pool, and the output-size / auto_pad helpers).
 *
 * Oracles: (1) values copied from the ONNX 1.12 node test generators (maxpool.py,
 * averagepool.py, globalaveragepool.py); (2) values generated once with PyTorch 1.13 (ceil_mode
 * with count_include_pad, dilation, indices) on the input formula cnnrt_test_input(), embedded
 * below; (3) a naive pooling written straight from the ONNX definition (every tap of every
 * window, double accumulation), compared on thousands of random geometries: 1-3 spatial dims,
 * 1x1 images, dilations, ceil_mode, asymmetric pads up to windows lying entirely in the padding,
 * count_include_pad both, storage_order both, NaN/-inf inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_pool.h"

/* ---- Expected outputs generated once with torch.nn.functional.{avg,max}_pool{1,2,3}d
 * (PyTorch 1.13; plane-local indices shifted by (n*C + c) * plane to ONNX's flattened form),
 * numpy for LpPool p=3, on the input cnnrt_test_input(i); t_outdim rows are
 * {in, kernel, stride, dilation, pad (both sides), ceil_mode, PyTorch's output size}. ---- */
/* avg_pool2d x(1, 2, 6, 7) k3 s2 p1 ceil count_include_pad=1 */
/* (1, 2, 4, 4) */
static const float t_avg2d_cip1[32] = {
    0.953125f, 1.66666663f, -1.52083337f, -2.60763884f, 3.08854175f, 1.046875f, -3.734375f,
    -1.37673616f, 1.796875f, -0.890625f, -2.16840267f, 2.58680558f, 0.575520813f, -0.9296875f,
    -0.692708313f, 1.84635413f, 0.121527776f, -2.20833325f, -0.140625f, 1.81597221f,
    -0.786458313f, -3.01388884f, 2.71527767f, 1.75520837f, -2.078125f, -1.44791663f, 4.28125f,
    0.463541657f, -1.36197913f, -1.20833337f, 1.65625f, -0.0911458358f
};
/* (1, 2, 4, 4) */
static const float t_avg2d_cip0[32] = {
    2.14453125f, 2.5f, -2.28125f, -5.8671875f, 4.6328125f, 1.046875f, -3.734375f, -2.06510425f,
    2.6953125f, -0.890625f, -2.16840267f, 3.88020825f, 1.7265625f, -1.859375f, -1.38541663f,
    5.5390625f, 0.2734375f, -3.3125f, -0.2109375f, 4.0859375f, -1.1796875f, -3.01388884f,
    2.71527767f, 2.6328125f, -3.1171875f, -1.44791663f, 4.28125f, 0.6953125f, -4.0859375f,
    -2.41666675f, 3.3125f, -0.2734375f
};
/* max2d k3 s2 p1 d2 ceil (1, 2, 3, 3) */
static const float t_max2d[18] = {
    4.40625f, 4.40625f, -0.375f, 4.40625f, 6.734375f, 6.734375f, 2.46875f, 6.734375f, 6.734375f,
    7.640625f, 7.640625f, 7.640625f, 7.640625f, 7.640625f, 7.640625f, 7.640625f, 7.640625f,
    7.640625f
};
static const int64_t t_max2d_i[18] = {
    8, 8, 10, 8, 40, 40, 22, 40, 40, 66, 66, 66, 66, 66, 66, 66, 66, 66
};
/* max3d (1, 1, 3, 3, 2) */
static const float t_max3d[18] = {
    4.40625f, 2.015625f, 7.25f, 4.859375f, 7.25f, 4.859375f, 4.796875f, 7.703125f, 7.640625f,
    7.703125f, 7.640625f, 5.765625f, 5.703125f, 7.578125f, 7.125f, 7.0625f, 3.25f, 7.0625f
};
static const int64_t t_max3d_i[18] = {
    8, 9, 20, 21, 20, 21, 54, 33, 66, 33, 66, 47, 80, 99, 86, 119, 114, 119
};
/* avg3d cip1 (1, 1, 3, 3, 2) */
static const float t_avg3d[18] = {
    -0.200520828f, 0.0364583321f, -1.86197913f, 1.12109375f, -1.23242188f, 0.916015625f, 0.03125f,
    0.505208313f, 2.1796875f, -1.05078125f, 1.80078125f, -1.78515625f, -1.58203125f, 1.51953125f,
    -2.2109375f, -0.186197922f, -0.39453125f, -0.0390625f
};
/* avg1d k7 s3 p3 ceil cip1 (1, 3, 4) */
static const float t_avg1d[12] = {
    0.136160716f, -1.65848219f, -0.109375f, 0.770833313f, -0.897321403f, -0.651785731f,
    -0.533482134f, 0.5234375f, 0.321428567f, 0.354910702f, -0.957589269f, -2.3515625f
};
/* max1d k4 s3 p2 ceil (1, 3, 4) */
static const float t_max1d[12] = {
    5.375f, 5.375f, 6.796875f, 6.796875f, 2.015625f, -0.375f, 5.828125f, 1.046875f, -3.734375f,
    7.25f, 2.46875f, -4.703125f
};
static const int64_t t_max1d_i[12] = {1, 1, 7, 7, 9, 10, 14, 16, 18, 20, 22, 25};
/* lp2d p3 k(2,3) s2 */
static const float t_lp2d[18] = {
    10.3278119f, 3.95760229f, 9.83721048f, 7.17597564f, 5.56182348f, 11.1111519f, 4.55483663f,
    8.40862277f, 11.3695385f, 4.45848219f, 10.8244607f, 10.5262384f, 7.03684282f, 11.4332239f,
    7.76255953f, 10.0381525f, 11.052204f, 5.00869479f
};
static const int64_t t_outdim[60][7] = {
    {2, 2, 3, 2, 1, 1, 1},
    {5, 2, 3, 2, 1, 1, 2},
    {7, 4, 3, 1, 2, 1, 3},
    {7, 2, 2, 1, 1, 1, 4},
    {6, 2, 3, 1, 0, 1, 2},
    {1, 4, 3, 1, 2, 1, 1},
    {9, 2, 3, 1, 0, 1, 3},
    {2, 1, 2, 1, 0, 1, 1},
    {5, 1, 3, 2, 0, 1, 2},
    {5, 1, 3, 1, 0, 1, 2},
    {6, 1, 3, 2, 0, 1, 2},
    {6, 1, 2, 1, 0, 1, 3},
    {5, 4, 3, 1, 2, 1, 3},
    {7, 4, 3, 2, 1, 1, 2},
    {4, 4, 2, 2, 2, 1, 2},
    {4, 2, 3, 1, 0, 1, 2},
    {6, 3, 2, 2, 0, 1, 2},
    {2, 2, 2, 2, 1, 1, 2},
    {9, 2, 3, 2, 1, 1, 4},
    {9, 4, 3, 2, 1, 1, 3},
    {6, 2, 2, 2, 1, 1, 4},
    {6, 4, 3, 1, 1, 1, 3},
    {7, 4, 2, 1, 2, 1, 5},
    {7, 4, 3, 1, 1, 1, 3},
    {1, 4, 2, 1, 2, 1, 2},
    {7, 3, 3, 2, 0, 1, 2},
    {6, 2, 3, 2, 1, 1, 3},
    {5, 2, 3, 2, 0, 1, 2},
    {7, 4, 2, 1, 0, 1, 3},
    {4, 4, 3, 1, 1, 1, 2},
    {6, 4, 3, 1, 0, 1, 2},
    {9, 4, 3, 1, 0, 1, 3},
    {5, 4, 2, 1, 0, 1, 2},
    {9, 4, 2, 1, 1, 1, 5},
    {7, 2, 3, 1, 0, 1, 3},
    {7, 2, 2, 1, 0, 1, 4},
    {7, 4, 1, 1, 0, 1, 4},
    {7, 1, 1, 1, 0, 0, 7},
    {1, 1, 2, 1, 0, 0, 1},
    {5, 4, 2, 2, 1, 0, 1},
    {7, 4, 3, 1, 1, 0, 2},
    {4, 3, 3, 1, 1, 1, 2},
    {6, 2, 1, 1, 0, 1, 5},
    {9, 2, 1, 1, 1, 1, 10},
    {1, 2, 1, 2, 1, 0, 1},
    {6, 4, 3, 1, 0, 0, 1},
    {4, 4, 1, 1, 1, 0, 3},
    {9, 3, 1, 1, 1, 1, 9},
    {6, 2, 2, 1, 0, 1, 3},
    {6, 4, 1, 1, 1, 0, 5},
    {7, 1, 2, 2, 0, 0, 4},
    {4, 4, 1, 2, 2, 1, 2},
    {5, 3, 2, 2, 1, 1, 2},
    {4, 4, 1, 2, 2, 0, 2},
    {7, 4, 2, 2, 2, 0, 3},
    {4, 4, 1, 1, 0, 0, 1},
    {9, 3, 1, 1, 1, 0, 9},
    {6, 3, 1, 1, 1, 0, 6},
    {5, 2, 1, 2, 0, 1, 3},
    {1, 1, 3, 2, 0, 1, 1}
};

/* ---- Helpers ---- */

/* The input of the PyTorch cases: distinct values within 1009 elements, exact in float. */
static float cnnrt_test_input(int64_t i) { return (float)((i * 7919) % 1009) / 64.0f - 8.0f; }

static void fill_formula(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    x[i] = cnnrt_test_input(i);
  }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static int64_t rng_int(int64_t lo, int64_t hi) { /* inclusive */
  return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}
static float rng_float(void) { return (float)(rng_next() >> 40) / (float)(1 << 24) * 8.0f - 4.0f; }

/* Params with all 3 slots neutral, then the given spatial axes; out[] from cnnrt_pool_out_dim. */
static cnnrt_pool_params make_params(int64_t spatial, int64_t n, int64_t c, const int64_t *in,
                                     const int64_t *k, const int64_t *s, const int64_t *d,
                                     const int64_t *pb, const int64_t *pe, int64_t ceil_mode) {
  cnnrt_pool_params p;
  memset(&p, 0, sizeof p);
  p.spatial = spatial;
  p.n = n;
  p.c = c;
  p.p = 2.0f;
  for (int i = 0; i < 3; i++) {
    int used = i < spatial;
    p.in[i] = used ? in[i] : 1;
    p.kernel[i] = used ? k[i] : 1;
    p.stride[i] = used && s ? s[i] : 1;
    p.dilation[i] = used && d ? d[i] : 1;
    p.pad_begin[i] = used && pb ? pb[i] : 0;
    p.pad_end[i] = used && pe ? pe[i] : 0;
    p.out[i] = cnnrt_pool_out_dim(p.in[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i],
                                  p.pad_end[i], ceil_mode);
  }
  return p;
}

static int64_t plane_in(const cnnrt_pool_params *p) { return p->in[0] * p->in[1] * p->in[2]; }
static int64_t plane_out(const cnnrt_pool_params *p) { return p->out[0] * p->out[1] * p->out[2]; }

static int close_enough(float a, float b, float tol) {
  if (isnan(b)) {
    return isnan(a);
  }
  if (isinf(b)) {
    return a == b;
  }
  return fabsf(a - b) <= tol * (1.0f + fabsf(b));
}

static void check_floats(const char *what, const float *got, const float *want, int64_t n,
                         float tol) {
  for (int64_t i = 0; i < n; i++) {
    if (!close_enough(got[i], want[i], tol)) {
      fail_msg("%s: element %lld: got %.9g want %.9g", what, (long long)i, (double)got[i],
               (double)want[i]);
    }
  }
}

static void check_ints(const char *what, const int64_t *got, const int64_t *want, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (got[i] != want[i]) {
      fail_msg("%s: element %lld: got %lld want %lld", what, (long long)i, (long long)got[i],
               (long long)want[i]);
    }
  }
}

/* ---- Naive oracle, straight from the ONNX definition ----
 * Visits every tap of every window in row-major kernel order.  A tap is "real" if its
 * coordinate lies in [0, in) on every axis and "in the padded input" if in [-pad_begin,
 * in + pad_end).  Max: first real tap is the initial candidate, then strict >.  Avg: sum of real
 * taps / (real taps, or padded-input taps with count_include_pad).  Lp: (sum |x|^p)^(1/p). */
enum { NAIVE_MAX, NAIVE_AVG, NAIVE_LP };

static void naive_pool(const cnnrt_pool_params *p, int kind, const float *x, float *y,
                       int64_t *ind) {
  const int64_t sp = p->spatial;
  int64_t pin = 1, pout = 1, ktot = 1;
  for (int64_t a = 0; a < sp; a++) {
    pin *= p->in[a];
    pout *= p->out[a];
    ktot *= p->kernel[a];
  }
  for (int64_t nc = 0; nc < p->n * p->c; nc++) {
    for (int64_t oi = 0; oi < pout; oi++) {
      int64_t o[3], rem = oi;
      for (int64_t a = sp - 1; a >= 0; a--) {
        o[a] = rem % p->out[a];
        rem /= p->out[a];
      }
      double sum = 0.0;
      int64_t creal = 0, cpad = 0, bi = -1;
      float best = -INFINITY;
      for (int64_t ji = 0; ji < ktot; ji++) {
        int64_t j[3], pos[3];
        rem = ji;
        for (int64_t a = sp - 1; a >= 0; a--) {
          j[a] = rem % p->kernel[a];
          rem /= p->kernel[a];
        }
        int real = 1, padded = 1;
        for (int64_t a = 0; a < sp; a++) {
          pos[a] = o[a] * p->stride[a] - p->pad_begin[a] + j[a] * p->dilation[a];
          real = real && pos[a] >= 0 && pos[a] < p->in[a];
          padded = padded && pos[a] >= -p->pad_begin[a] && pos[a] < p->in[a] + p->pad_end[a];
        }
        cpad += padded;
        if (!real) {
          continue;
        }
        creal++;
        int64_t rm = 0, cm = 0, mul = 1;
        for (int64_t a = 0; a < sp; a++) {
          rm = rm * p->in[a] + pos[a];
          cm += pos[a] * mul;
          mul *= p->in[a];
        }
        float v = x[nc * pin + rm];
        int64_t idx = nc * pin + (p->storage_order ? cm : rm);
        if (bi < 0) {
          bi = idx;
        }
        if (v > best) {
          best = v;
          bi = idx;
        }
        sum += kind == NAIVE_LP ? pow(fabs((double)v), (double)p->p) : (double)v;
      }
      float *yo = y + nc * pout + oi;
      if (kind == NAIVE_MAX) {
        *yo = best;
        if (ind) {
          ind[nc * pout + oi] = bi;
        }
      } else if (kind == NAIVE_AVG) {
        int64_t cnt = p->count_include_pad ? cpad : creal;
        *yo = cnt > 0 ? (float)(sum / (double)cnt) : 0.0f;
      } else {
        *yo = (float)pow(sum, 1.0 / (double)p->p);
      }
    }
  }
}

/* Runs kernel and oracle on input x (NULL: formula input); y is pre-poisoned with NaN so every
 * output must be written. */
static void run_and_compare(const cnnrt_pool_params *p, int kind, const float *xin, int with_ind,
                            float tol, const char *what) {
  int64_t nin = p->n * p->c * plane_in(p), nout = p->n * p->c * plane_out(p);
  float *x = malloc((size_t)nin * sizeof *x);
  float *y = malloc((size_t)nout * sizeof *y);
  float *yr = malloc((size_t)nout * sizeof *yr);
  int64_t *ind = malloc((size_t)nout * sizeof *ind);
  int64_t *indr = malloc((size_t)nout * sizeof *indr);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(yr);
  assert_non_null(ind);
  assert_non_null(indr);
  if (xin) {
    memcpy(x, xin, (size_t)nin * sizeof *x);
  } else {
    fill_formula(x, nin);
  }
  for (int64_t i = 0; i < nout; i++) {
    y[i] = NAN;
    ind[i] = -7;
  }
  naive_pool(p, kind, x, yr, with_ind ? indr : NULL);
  if (kind == NAIVE_MAX) {
    cnnrt_f32_maxpool_ref(p, x, y, with_ind ? ind : NULL);
  } else if (kind == NAIVE_AVG) {
    cnnrt_f32_avgpool_ref(p, x, y);
  } else {
    cnnrt_f32_lppool_ref(p, x, y);
  }
  check_floats(what, y, yr, nout, tol);
  if (with_ind) {
    check_ints(what, ind, indr, nout);
  }
  free(x);
  free(y);
  free(yr);
  free(ind);
  free(indr);
}

/* ---- Output size and auto_pad helpers ---- */

static void test_out_dim_matches_torch(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof t_outdim / sizeof t_outdim[0]; i++) {
    const int64_t *r = t_outdim[i]; /* in, k, s, d, pad (both sides), ceil, torch's out */
    int64_t got = cnnrt_pool_out_dim(r[0], r[1], r[2], r[3], r[4], r[4], r[5]);
    if (got != r[6]) {
      fail_msg("row %zu: in %lld k %lld s %lld d %lld pad %lld ceil %lld: got %lld want %lld", i,
               (long long)r[0], (long long)r[1], (long long)r[2], (long long)r[3],
               (long long)r[4], (long long)r[5], (long long)got, (long long)r[6]);
    }
  }
  /* ONNX test_maxpool_2d_ceil / test_averagepool_2d_ceil: 4, k3, s2, ceil -> 2 (floor 1). */
  assert_int_equal(cnnrt_pool_out_dim(4, 3, 2, 1, 0, 0, 1), 2);
  assert_int_equal(cnnrt_pool_out_dim(4, 3, 2, 1, 0, 0, 0), 1);
  /* Last window would start in the end padding: dropped (3, not 4). */
  assert_int_equal(cnnrt_pool_out_dim(5, 2, 2, 1, 1, 1, 1), 3);
  /* Asymmetric pads: the rule compares with in + pad_begin. */
  assert_int_equal(cnnrt_pool_out_dim(5, 2, 2, 1, 0, 1, 1), 3);
  assert_int_equal(cnnrt_pool_out_dim(5, 2, 2, 1, 2, 0, 1), 4);
  /* test_maxpool_2d_dilations: 4, k2, d2 -> 2; test_maxpool_2d_pads: 28 + 2 + 2, k3 -> 30. */
  assert_int_equal(cnnrt_pool_out_dim(4, 2, 1, 2, 0, 0, 0), 2);
  assert_int_equal(cnnrt_pool_out_dim(28, 3, 1, 1, 2, 2, 0), 30);
  /* test_maxpool_2d_strides: 32, k5, s3 -> 10; 1x1 image with k1. */
  assert_int_equal(cnnrt_pool_out_dim(32, 5, 3, 1, 0, 0, 0), 10);
  assert_int_equal(cnnrt_pool_out_dim(1, 1, 1, 1, 0, 0, 1), 1);
  /* Kernel larger than the padded input: invalid, 0. */
  assert_int_equal(cnnrt_pool_out_dim(2, 3, 1, 1, 0, 0, 1), 0);
  assert_int_equal(cnnrt_pool_out_dim(2, 2, 1, 2, 0, 0, 0), 0);
}

static void test_same_pads(void **state) {
  (void)state;
  int64_t b = -1, e = -1;
  /* test_maxpool_2d_same_upper / same_lower: 32, k2, s1 -> 32, pads 0/1 resp. 1/0. */
  assert_int_equal(cnnrt_pool_same_pads(32, 2, 1, 1, 0, &b, &e), 32);
  assert_int_equal(b, 0);
  assert_int_equal(e, 1);
  assert_int_equal(cnnrt_pool_same_pads(32, 2, 1, 1, 1, &b, &e), 32);
  assert_int_equal(b, 1);
  assert_int_equal(e, 0);
  /* test_maxpool_2d_precomputed_same_upper: 5, k3, s2 -> 3, pads 1/1. */
  assert_int_equal(cnnrt_pool_same_pads(5, 3, 2, 1, 0, &b, &e), 3);
  assert_int_equal(b, 1);
  assert_int_equal(e, 1);
  /* Dilated: 4, k3, s2, d2 -> 2, total (2-1)*2 + 5 - 4 = 3. */
  assert_int_equal(cnnrt_pool_same_pads(4, 3, 2, 2, 0, &b, &e), 2);
  assert_int_equal(b, 1);
  assert_int_equal(e, 2);
  assert_int_equal(cnnrt_pool_same_pads(4, 3, 2, 2, 1, &b, &e), 2);
  assert_int_equal(b, 2);
  assert_int_equal(e, 1);
  /* Negative total clamps to 0: 5, k1, s3 -> 2 ((2-1)*3 + 1 - 5 = -1). */
  assert_int_equal(cnnrt_pool_same_pads(5, 1, 3, 1, 0, &b, &e), 2);
  assert_int_equal(b, 0);
  assert_int_equal(e, 0);
  assert_int_equal(cnnrt_pool_same_pads(1, 1, 1, 1, 1, &b, &e), 1);
  assert_int_equal(b, 0);
  assert_int_equal(e, 0);
}

/* ---- Values from the ONNX node test generators ---- */

static const float onnx_x5[25] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
                                  14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25};
static const float onnx_x4[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_onnx_maxpool(void **state) {
  (void)state;
  float y[25];
  int64_t z[25];
  int64_t k5[2] = {5, 5}, pad2[2] = {2, 2}, in5[2] = {5, 5}, in4[2] = {4, 4};
  /* test_maxpool_2d_precomputed_pads / test_maxpool_with_argmax_2d_precomputed_pads */
  cnnrt_pool_params p = make_params(2, 1, 1, in5, k5, NULL, NULL, pad2, pad2, 0);
  assert_int_equal(p.out[0], 5);
  assert_int_equal(p.out[1], 5);
  static const float yp[25] = {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                               25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25};
  static const int64_t zp[25] = {12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                 24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24};
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, z);
  check_floats("precomputed_pads y", y, yp, 25, 0.0f);
  check_ints("precomputed_pads z", z, zp, 25);
  memset(y, 0, sizeof y);
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, NULL);
  check_floats("precomputed_pads y (no indices)", y, yp, 25, 0.0f);

  /* test_maxpool_2d_precomputed_strides, and with_argmax ... storage_order=1 */
  int64_t k2[2] = {2, 2}, s2[2] = {2, 2};
  p = make_params(2, 1, 1, in5, k2, s2, NULL, NULL, NULL, 0);
  assert_int_equal(plane_out(&p), 4);
  static const float ys[4] = {7, 9, 17, 19};
  static const int64_t zs_col[4] = {6, 16, 8, 18};
  static const int64_t zs_row[4] = {6, 8, 16, 18};
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, NULL);
  check_floats("precomputed_strides", y, ys, 4, 0.0f);
  p.storage_order = 1;
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, z);
  check_floats("precomputed_strides so1 y", y, ys, 4, 0.0f);
  check_ints("precomputed_strides so1 z", z, zs_col, 4);
  p.storage_order = 0;
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, z);
  check_ints("precomputed_strides so0 z", z, zs_row, 4);

  /* test_maxpool_2d_precomputed_same_upper: k3 s2 SAME_UPPER */
  int64_t k3[2] = {3, 3}, pb[2], pe[2];
  for (int a = 0; a < 2; a++) {
    assert_int_equal(cnnrt_pool_same_pads(5, 3, 2, 1, 0, &pb[a], &pe[a]), 3);
  }
  p = make_params(2, 1, 1, in5, k3, s2, NULL, pb, pe, 0);
  static const float ysu[9] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
  cnnrt_f32_maxpool_ref(&p, onnx_x5, y, NULL);
  check_floats("precomputed_same_upper", y, ysu, 9, 0.0f);

  /* test_maxpool_2d_ceil */
  p = make_params(2, 1, 1, in4, k3, s2, NULL, NULL, NULL, 1);
  assert_int_equal(plane_out(&p), 4);
  static const float yc[4] = {11, 12, 15, 16};
  cnnrt_f32_maxpool_ref(&p, onnx_x4, y, NULL);
  check_floats("2d_ceil", y, yc, 4, 0.0f);

  /* test_maxpool_2d_dilations */
  int64_t d2[2] = {2, 2};
  p = make_params(2, 1, 1, in4, k2, NULL, d2, NULL, NULL, 0);
  assert_int_equal(plane_out(&p), 4);
  cnnrt_f32_maxpool_ref(&p, onnx_x4, y, NULL);
  check_floats("2d_dilations", y, yc, 4, 0.0f);
}

static void test_onnx_avgpool(void **state) {
  (void)state;
  float y[25];
  int64_t k5[2] = {5, 5}, pad2[2] = {2, 2}, in5[2] = {5, 5}, in4[2] = {4, 4};
  /* test_averagepool_2d_precomputed_pads */
  cnnrt_pool_params p = make_params(2, 1, 1, in5, k5, NULL, NULL, pad2, pad2, 0);
  static const float yp[25] = {7,  7.5f,  8,  8.5f,  9,  9.5f,  10, 10.5f, 11, 11.5f, 12, 12.5f, 13,
                               13.5f, 14, 14.5f, 15, 15.5f, 16, 16.5f, 17, 17.5f, 18, 18.5f, 19};
  cnnrt_f32_avgpool_ref(&p, onnx_x5, y);
  check_floats("precomputed_pads", y, yp, 25, 1e-6f);
  /* test_averagepool_2d_precomputed_pads_count_include_pad */
  p.count_include_pad = 1;
  static const float ypc[25] = {2.52f, 3.6f,  4.8f,  4.08f,  3.24f, 4.56f, 6.4f,  8.4f, 7.04f,
                                5.52f, 7.2f,  10.0f, 13.0f,  10.8f, 8.4f,  6.96f, 9.6f, 12.4f,
                                10.24f, 7.92f, 6.12f, 8.4f, 10.8f, 8.88f, 6.84f};
  cnnrt_f32_avgpool_ref(&p, onnx_x5, y);
  check_floats("precomputed_pads_count_include_pad", y, ypc, 25, 1e-6f);

  /* test_averagepool_2d_precomputed_strides */
  int64_t k2[2] = {2, 2}, s2[2] = {2, 2}, k3[2] = {3, 3};
  p = make_params(2, 1, 1, in5, k2, s2, NULL, NULL, NULL, 0);
  static const float ys[4] = {4, 6, 14, 16};
  cnnrt_f32_avgpool_ref(&p, onnx_x5, y);
  check_floats("precomputed_strides", y, ys, 4, 1e-6f);

  /* test_averagepool_2d_precomputed_same_upper */
  int64_t pb[2], pe[2];
  for (int a = 0; a < 2; a++) {
    assert_int_equal(cnnrt_pool_same_pads(5, 3, 2, 1, 0, &pb[a], &pe[a]), 3);
  }
  p = make_params(2, 1, 1, in5, k3, s2, NULL, pb, pe, 0);
  static const float ysu[9] = {4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22};
  cnnrt_f32_avgpool_ref(&p, onnx_x5, y);
  check_floats("precomputed_same_upper", y, ysu, 9, 1e-6f);

  /* test_averagepool_2d_ceil: the clipped windows divide by the real elements only. */
  p = make_params(2, 1, 1, in4, k3, s2, NULL, NULL, NULL, 1);
  static const float yc[4] = {6, 7.5f, 12, 13.5f};
  cnnrt_f32_avgpool_ref(&p, onnx_x4, y);
  check_floats("2d_ceil", y, yc, 4, 1e-6f);
}

static void test_onnx_global(void **state) {
  (void)state;
  /* test_globalaveragepool_precomputed: mean of 1..9 is 5. */
  static const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float y[2];
  cnnrt_f32_global_avgpool_ref(1, 9, x9, y);
  assert_float_equal(y[0], 5.0f, 0.0f);
  cnnrt_f32_global_maxpool_ref(1, 9, x9, y);
  assert_float_equal(y[0], 9.0f, 0.0f); /* test_globalmaxpool_precomputed */
  /* Two planes of 4: maxima 4 and 8. */
  cnnrt_f32_global_maxpool_ref(2, 4, x9, y);
  assert_float_equal(y[0], 4.0f, 0.0f);
  assert_float_equal(y[1], 8.0f, 0.0f);
  cnnrt_f32_global_lppool_ref(1, 2, 2.0f, x9 + 2, y); /* sqrt(9 + 16) */
  assert_float_equal(y[0], 5.0f, 1e-6f);
  cnnrt_f32_global_lppool_ref(1, 3, 1.0f, x9, y);
  assert_float_equal(y[0], 6.0f, 0.0f);
}

/* ---- PyTorch-generated cases ---- */

static void test_torch_cases(void **state) {
  (void)state;
  float y[64];
  int64_t z[64];
  float x[1024];
  fill_formula(x, 1024);
  int64_t in2[2] = {6, 7}, k3[2] = {3, 3}, s2[2] = {2, 2}, p1[2] = {1, 1}, d2[2] = {2, 2};
  /* avg_pool2d(ceil, pad 1): windows reach past the padded end; both count modes. */
  cnnrt_pool_params p = make_params(2, 1, 2, in2, k3, s2, NULL, p1, p1, 1);
  assert_int_equal(p.out[0], 4);
  assert_int_equal(p.out[1], 4);
  p.count_include_pad = 1;
  cnnrt_f32_avgpool_ref(&p, x, y);
  check_floats("torch avg2d cip1", y, t_avg2d_cip1, 32, 1e-6f);
  p.count_include_pad = 0;
  cnnrt_f32_avgpool_ref(&p, x, y);
  check_floats("torch avg2d cip0", y, t_avg2d_cip0, 32, 1e-6f);
  /* max_pool2d(k3, s2, p1, dilation 2, ceil) with indices. */
  p = make_params(2, 1, 2, in2, k3, s2, d2, p1, p1, 1);
  assert_int_equal(plane_out(&p), 9);
  cnnrt_f32_maxpool_ref(&p, x, y, z);
  check_floats("torch max2d", y, t_max2d, 18, 0.0f);
  check_ints("torch max2d indices", z, t_max2d_i, 18);
  /* 3-D: k(2,3,2) s(2,2,3) p(1,1,0) d(1,1,2), ceil. */
  int64_t in3[3] = {5, 4, 6}, k3d[3] = {2, 3, 2}, s3d[3] = {2, 2, 3}, p3d[3] = {1, 1, 0},
          d3d[3] = {1, 1, 2}, one3[3] = {1, 1, 1};
  p = make_params(3, 1, 1, in3, k3d, s3d, d3d, p3d, p3d, 1);
  assert_int_equal(p.out[0], 3);
  assert_int_equal(p.out[1], 3);
  assert_int_equal(p.out[2], 2);
  cnnrt_f32_maxpool_ref(&p, x, y, z);
  check_floats("torch max3d", y, t_max3d, 18, 0.0f);
  check_ints("torch max3d indices", z, t_max3d_i, 18);
  p = make_params(3, 1, 1, in3, k3d, s3d, one3, p3d, p3d, 1);
  p.count_include_pad = 1;
  cnnrt_f32_avgpool_ref(&p, x, y);
  check_floats("torch avg3d cip1", y, t_avg3d, 18, 1e-6f);
  /* 1-D: avg k7 s3 p3 ceil count_include_pad (onnxruntime#16203's geometry); max k4 s3 p2. */
  int64_t in1[1] = {9}, k7[1] = {7}, s3[1] = {3}, p3[1] = {3}, k4[1] = {4}, p2[1] = {2};
  p = make_params(1, 1, 3, in1, k7, s3, NULL, p3, p3, 1);
  assert_int_equal(p.out[0], 4);
  p.count_include_pad = 1;
  cnnrt_f32_avgpool_ref(&p, x, y);
  check_floats("torch avg1d", y, t_avg1d, 12, 1e-6f);
  p = make_params(1, 1, 3, in1, k4, s3, NULL, p2, p2, 1);
  assert_int_equal(p.out[0], 4);
  cnnrt_f32_maxpool_ref(&p, x, y, z);
  check_floats("torch max1d", y, t_max1d, 12, 0.0f);
  check_ints("torch max1d indices", z, t_max1d_i, 12);
  /* LpPool p=3 (numpy): k(2,3) s2. */
  int64_t k23[2] = {2, 3};
  p = make_params(2, 1, 2, in2, k23, s2, NULL, NULL, NULL, 0);
  p.p = 3.0f;
  cnnrt_f32_lppool_ref(&p, x, y);
  check_floats("numpy lp2d p3", y, t_lp2d, 18, 1e-5f);
}

/* ---- Random geometries against the naive oracle ---- */

static cnnrt_pool_params random_params(int64_t spatial, int allow_empty_windows) {
  for (;;) {
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t maxin = spatial == 3 ? 5 : (spatial == 2 ? 8 : 12);
    for (int64_t a = 0; a < spatial; a++) {
      in[a] = rng_int(1, maxin);
      k[a] = rng_int(1, 4);
      s[a] = rng_int(1, 3);
      d[a] = rng_int(1, 3) == 3 ? rng_int(2, 3) : 1;
      int64_t ek = (k[a] - 1) * d[a] + 1;
      /* Pads below the dilated kernel (every window touches the input), or occasionally up
       * to it so that whole windows lie in the padding. */
      int64_t pmax = allow_empty_windows ? ek : ek - 1;
      pb[a] = rng_int(0, 3) == 0 ? 0 : rng_int(0, pmax);
      pe[a] = rng_int(0, 3) == 0 ? 0 : rng_int(0, pmax);
    }
    cnnrt_pool_params p = make_params(spatial, rng_int(1, 2), rng_int(1, 3), in, k, s, d, pb, pe,
                                      rng_int(0, 1));
    if (plane_out(&p) > 0) {
      p.count_include_pad = rng_int(0, 1);
      p.storage_order = rng_int(0, 1);
      return p;
    }
  }
}

static void describe(char *buf, size_t n, const cnnrt_pool_params *p, const char *op) {
  snprintf(buf, n,
           "%s sp%lld nc %lldx%lld in %lld,%lld,%lld out %lld,%lld,%lld k %lld,%lld,%lld "
           "s %lld,%lld,%lld d %lld,%lld,%lld pb %lld,%lld,%lld pe %lld,%lld,%lld cip %lld so %lld",
           op, (long long)p->spatial, (long long)p->n, (long long)p->c, (long long)p->in[0],
           (long long)p->in[1], (long long)p->in[2], (long long)p->out[0], (long long)p->out[1],
           (long long)p->out[2], (long long)p->kernel[0], (long long)p->kernel[1],
           (long long)p->kernel[2], (long long)p->stride[0], (long long)p->stride[1],
           (long long)p->stride[2], (long long)p->dilation[0], (long long)p->dilation[1],
           (long long)p->dilation[2], (long long)p->pad_begin[0], (long long)p->pad_begin[1],
           (long long)p->pad_begin[2], (long long)p->pad_end[0], (long long)p->pad_end[1],
           (long long)p->pad_end[2], (long long)p->count_include_pad,
           (long long)p->storage_order);
}

static void test_random_vs_naive(void **state) {
  (void)state;
  char what[512];
  for (int64_t spatial = 1; spatial <= 3; spatial++) {
    for (int iter = 0; iter < 600; iter++) {
      cnnrt_pool_params p = random_params(spatial, iter % 4 == 3);
      describe(what, sizeof what, &p, "max+indices");
      run_and_compare(&p, NAIVE_MAX, NULL, 1, 0.0f, what);
      describe(what, sizeof what, &p, "max");
      run_and_compare(&p, NAIVE_MAX, NULL, 0, 0.0f, what);
      describe(what, sizeof what, &p, "avg");
      run_and_compare(&p, NAIVE_AVG, NULL, 0, 2e-6f, what);
      static const float ps[4] = {1.0f, 2.0f, 3.0f, 1.5f};
      p.p = ps[iter % 4];
      describe(what, sizeof what, &p, "lp");
      run_and_compare(&p, NAIVE_LP, NULL, 0, 1e-5f, what);
    }
  }
}

/* Random inputs with NaN and -inf sprinkled in: max ignores NaN, indices stay in the window. */
static void test_random_special_values(void **state) {
  (void)state;
  char what[512];
  float *x = malloc(4096 * sizeof *x);
  assert_non_null(x);
  for (int iter = 0; iter < 300; iter++) {
    cnnrt_pool_params p = random_params(1 + iter % 3, iter % 2);
    int64_t nin = p.n * p.c * plane_in(&p);
    assert_true(nin <= 4096);
    for (int64_t i = 0; i < nin; i++) {
      int64_t r = rng_int(0, 5);
      x[i] = r == 0 ? NAN : (r == 1 ? -INFINITY : rng_float());
    }
    describe(what, sizeof what, &p, "max special");
    run_and_compare(&p, NAIVE_MAX, x, 1, 0.0f, what);
    run_and_compare(&p, NAIVE_MAX, x, 0, 0.0f, what);
  }
  free(x);
}

/* Hand-checked corner cases: empty windows, all-NaN windows, 1x1 images, 1x1 kernels. */
static void test_corner_cases(void **state) {
  (void)state;
  float y[8];
  int64_t z[8];
  /* 1-D, in 3, k 1, pads 1/1: outputs 0 and 4 see only padding. */
  int64_t in3[1] = {3}, k1[1] = {1}, p1[1] = {1};
  static const float x3[3] = {NAN, 2.0f, -INFINITY};
  cnnrt_pool_params p = make_params(1, 1, 1, in3, k1, NULL, NULL, p1, p1, 0);
  assert_int_equal(p.out[0], 5);
  cnnrt_f32_maxpool_ref(&p, x3, y, z);
  assert_true(isinf(y[0]) && y[0] < 0 && z[0] == -1);
  assert_true(isinf(y[1]) && y[1] < 0 && z[1] == 0); /* NaN ignored; index stays in window */
  assert_true(y[2] == 2.0f && z[2] == 1);
  assert_true(isinf(y[3]) && y[3] < 0 && z[3] == 2);
  assert_true(isinf(y[4]) && y[4] < 0 && z[4] == -1);
  static const float x3b[3] = {1.0f, 2.0f, 3.0f};
  cnnrt_f32_avgpool_ref(&p, x3b, y);
  assert_true(y[0] == 0.0f && y[1] == 1.0f && y[3] == 3.0f && y[4] == 0.0f);
  p.count_include_pad = 1;
  cnnrt_f32_avgpool_ref(&p, x3b, y);
  assert_true(y[0] == 0.0f && y[2] == 2.0f && y[4] == 0.0f);
  cnnrt_f32_lppool_ref(&p, x3b, y);
  assert_true(y[0] == 0.0f && y[2] == 2.0f);
  /* NaN then a real value: the real value wins in both paths. */
  static const float xn[3] = {NAN, -5.0f, NAN};
  int64_t k3[1] = {3};
  p = make_params(1, 1, 1, in3, k3, NULL, NULL, NULL, NULL, 0);
  cnnrt_f32_maxpool_ref(&p, xn, y, z);
  assert_true(y[0] == -5.0f && z[0] == 1);
  cnnrt_f32_maxpool_ref(&p, xn, y, NULL);
  assert_true(y[0] == -5.0f);
  /* Ties: the first tap in row-major window order wins, for both storage orders. */
  static const float xt[4] = {1.0f, 7.0f, 7.0f, 7.0f};
  int64_t in22[2] = {2, 2}, k22[2] = {2, 2};
  p = make_params(2, 1, 1, in22, k22, NULL, NULL, NULL, NULL, 0);
  cnnrt_f32_maxpool_ref(&p, xt, y, z);
  assert_true(y[0] == 7.0f && z[0] == 1);
  p.storage_order = 1; /* element (0,1) is column-major offset 2 */
  cnnrt_f32_maxpool_ref(&p, xt, y, z);
  assert_true(y[0] == 7.0f && z[0] == 2);
  /* 1x1 image, 3x3 kernel, pads 1: one output equal to the pixel; avg divides by 1 or 9. */
  static const float x1[2] = {-3.0f, 6.0f};
  int64_t in11[2] = {1, 1}, k33[2] = {3, 3}, p11[2] = {1, 1};
  p = make_params(2, 1, 2, in11, k33, NULL, NULL, p11, p11, 0);
  assert_int_equal(plane_out(&p), 1);
  cnnrt_f32_maxpool_ref(&p, x1, y, z);
  assert_true(y[0] == -3.0f && y[1] == 6.0f && z[0] == 0 && z[1] == 1);
  cnnrt_f32_avgpool_ref(&p, x1, y);
  assert_true(y[0] == -3.0f && y[1] == 6.0f);
  p.count_include_pad = 1;
  cnnrt_f32_avgpool_ref(&p, x1, y);
  assert_float_equal(y[1], 6.0f / 9.0f, 1e-7f);
}

/* The _range_ variants compute exactly planes [b, e) and touch nothing else. */
static void test_range_variants(void **state) {
  (void)state;
  int64_t in[2] = {5, 6}, k[2] = {3, 2}, s[2] = {2, 1}, pb[2] = {1, 0}, pe[2] = {2, 1};
  cnnrt_pool_params p = make_params(2, 2, 3, in, k, s, NULL, pb, pe, 1);
  p.storage_order = 1;
  p.count_include_pad = 1;
  p.p = 3.0f;
  int64_t po = plane_out(&p), nout = 6 * po;
  float x[6 * 30], yf[6 * 64], yr[6 * 64];
  int64_t zf[6 * 64], zr[6 * 64];
  assert_true(po <= 64);
  fill_formula(x, 6 * 30);
  for (int op = 0; op < 3; op++) {
    for (int64_t i = 0; i < nout; i++) {
      yr[i] = 12345.0f;
      zr[i] = 12345;
    }
    if (op == 0) {
      cnnrt_f32_maxpool_ref(&p, x, yf, zf);
      cnnrt_f32_maxpool_range_ref(&p, 2, 5, x, yr, zr);
    } else if (op == 1) {
      cnnrt_f32_avgpool_ref(&p, x, yf);
      cnnrt_f32_avgpool_range_ref(&p, 2, 5, x, yr);
    } else {
      cnnrt_f32_lppool_ref(&p, x, yf);
      cnnrt_f32_lppool_range_ref(&p, 2, 5, x, yr);
    }
    for (int64_t i = 0; i < nout; i++) {
      int inside = i >= 2 * po && i < 5 * po;
      assert_true(inside ? yr[i] == yf[i] : yr[i] == 12345.0f);
      if (op == 0) {
        assert_true(inside ? zr[i] == zf[i] : zr[i] == 12345);
      }
    }
  }
}

static void test_global_vs_naive(void **state) {
  (void)state;
  float x[3 * 70], ya[3], ym[3], yl[3];
  for (int64_t size = 1; size <= 70; size++) {
    for (int64_t i = 0; i < 3 * size; i++) {
      x[i] = rng_float();
    }
    for (int pi = 0; pi < 3; pi++) {
      static const float ps[3] = {1.0f, 2.0f, 2.5f};
      float pw = ps[pi];
      cnnrt_f32_global_avgpool_ref(3, size, x, ya);
      cnnrt_f32_global_maxpool_ref(3, size, x, ym);
      cnnrt_f32_global_lppool_ref(3, size, pw, x, yl);
      for (int64_t c = 0; c < 3; c++) {
        double s = 0.0, l = 0.0;
        float m = -INFINITY;
        for (int64_t i = 0; i < size; i++) {
          float v = x[c * size + i];
          s += v;
          l += pow(fabs((double)v), (double)pw);
          m = v > m ? v : m;
        }
        assert_true(close_enough(ya[c], (float)(s / (double)size), 2e-6f));
        assert_true(ym[c] == m);
        assert_true(close_enough(yl[c], (float)pow(l, 1.0 / (double)pw), 1e-5f));
      }
    }
  }
  /* Same results as the windowed kernels with the kernel covering the whole plane. */
  int64_t in[2] = {5, 7};
  cnnrt_pool_params p = make_params(2, 1, 3, in, in, NULL, NULL, NULL, NULL, 0);
  float y[3];
  fill_formula(x, 3 * 35);
  cnnrt_f32_global_maxpool_ref(3, 35, x, ya);
  cnnrt_f32_maxpool_ref(&p, x, y, NULL);
  check_floats("global max vs windowed", ya, y, 3, 0.0f);
  cnnrt_f32_global_avgpool_ref(3, 35, x, ya);
  cnnrt_f32_avgpool_ref(&p, x, y);
  check_floats("global avg vs windowed", ya, y, 3, 2e-6f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_dim_matches_torch), cmocka_unit_test(test_same_pads),
      cmocka_unit_test(test_onnx_maxpool),          cmocka_unit_test(test_onnx_avgpool),
      cmocka_unit_test(test_onnx_global),           cmocka_unit_test(test_torch_cases),
      cmocka_unit_test(test_random_vs_naive),       cmocka_unit_test(test_random_special_values),
      cmocka_unit_test(test_corner_cases),          cmocka_unit_test(test_range_variants),
      cmocka_unit_test(test_global_vs_naive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
