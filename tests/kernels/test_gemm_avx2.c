/* test_gemm_avx2.c — cnnrt_gemm_avx2.h (packed AVX2 GEMM, GEMM-based convolution) against the
 * portable references cnnrt_f32_gemm_ref / cnnrt_f32_conv_ref. The tolerance is relative to the
 * sum of |terms| of each output (computed here in double by naive loops), times the largest
 * slope of the activation. Build with -mavx2 -mfma; without them only the portable weight
 * packing is tested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_gemm.h"
#include "../../runtime/cnnrt_gemm_avx2.h"

/* The -mavx512f build of this test (test_gemm_avx512) must exercise the AVX-512 tiles. */
#if defined(CNNCC_TEST_REQUIRE_AVX512) && !defined(CNNRT_GEMM_AVX512)
#error "built for AVX-512 but cnnrt_gemm_avx2.h did not enable its AVX-512 path"
#endif

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

static float *nan_buf(int64_t n) {
  float *b = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  assert_non_null(b);
  for (int64_t i = 0; i < n; i++) {
    b[i] = NAN;
  }
  return b;
}

/* ---- weight packing (portable) ----------------------------------------------------------- */

static void test_pack_a(void **state) {
  (void)state;
  const int64_t sizes[][2] = {{1, 1}, {5, 3}, {6, 4}, {7, 2}, {13, 9}, {12, 1}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    const int64_t m = sizes[s][0], k = sizes[s][1];
    float *a = rand_buf(m * k);
    const int64_t bytes = cnnrt_f32_pack_a_mr6_bytes(m, k);
    assert_int_equal(bytes, (m + 5) / 6 * 6 * k * 4);
    float *pk = nan_buf(bytes / 4);
    cnnrt_f32_pack_a_mr6(m, k, a, pk);
    for (int64_t i = 0; i < (m + 5) / 6 * 6; i++) {
      for (int64_t kk = 0; kk < k; kk++) {
        const float want = i < m ? a[i * k + kk] : 0.0f;
        assert_true(pk[(i / 6) * 6 * k + kk * 6 + i % 6] == want);
      }
    }
    free(a);
    free(pk);
  }
}

#if defined(__AVX2__) && defined(__FMA__)

/* Activation parameters per activation, and the activation's largest slope. */
static void act_params(int act, float *alpha, float *beta, double *slope) {
  *alpha = 0.0f;
  *beta = 0.0f;
  *slope = 1.0;
  switch (act) {
  case CNNRT_ACT_LEAKY_RELU:
    *alpha = 0.1f;
    break;
  case CNNRT_ACT_CLIP:
    *alpha = -0.5f;
    *beta = 0.75f;
    break;
  case CNNRT_ACT_HARD_SIGMOID:
    *alpha = 0.2f;
    *beta = 0.5f;
    break;
  case CNNRT_ACT_HARD_SWISH:
  case CNNRT_ACT_SILU:
    *slope = 1.5;
    break;
  default:
    break;
  }
}

#define N_ACTS 9

/* Relative error the epilogue's vector approximations add to the activation's value
 * (cnnrt_act_avx2.h: ~3e-7 for sigmoid, SiLU and tanh; hard sigmoid / swish are rounded
 * differently from the scalar reference). Piecewise-linear activations add none: for them only
 * the summation-order tolerance applies. */
static double act_rel_tol(int act) {
  switch (act) {
  case CNNRT_ACT_SIGMOID:
  case CNNRT_ACT_HARD_SIGMOID:
  case CNNRT_ACT_HARD_SWISH:
  case CNNRT_ACT_SILU:
  case CNNRT_ACT_TANH:
    return 1e-6;
  default:
    return 0.0;
  }
}

static int check_close(const char *what, int id, const float *got, const float *want,
                       const double *absum, double slope, int act, int64_t n) {
  const double rel = act_rel_tol(act);
  for (int64_t i = 0; i < n; i++) {
    const double tol = 1e-5 * slope * absum[i] + rel * fabs((double)want[i]) + 1e-30;
    const double err = fabs((double)got[i] - (double)want[i]);
    if (!(err <= tol)) {
      print_error("%s case %d: element %lld got %.9g want %.9g (tol %.3g)\n", what, id,
                  (long long)i, (double)got[i], (double)want[i], tol);
      return 0;
    }
  }
  return 1;
}

/* ---- GEMM -------------------------------------------------------------------------------- */

typedef struct gemm_case {
  int64_t m, n, k, ldb_pad, ldc_pad;
  int use_bias, use_res, inplace, act;
  int64_t n_tasks; /* > 1: computed as that many _range calls with their own scratch */
} gemm_case;

static int run_gemm_case(const gemm_case *t, int id) {
  const int64_t m = t->m, n = t->n, k = t->k;
  const int64_t ldb = n + t->ldb_pad, ldc = n + t->ldc_pad;
  float alpha, beta;
  double slope;
  act_params(t->act, &alpha, &beta, &slope);
  float *a = rand_buf(m * k);
  float *b = rand_buf(k * ldb);
  float *bias = t->use_bias ? rand_buf(m) : NULL;
  float *res = t->use_res ? rand_buf(m * ldc) : NULL;
  float *c = nan_buf(m * ldc);
  float *ap = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(m, k) + 4);
  assert_non_null(ap);
  cnnrt_f32_pack_a_mr6(m, k, a, ap);

  /* Expected: the reference GEMM on dense copies, then bias, residual, activation. */
  float *bd = malloc((size_t)(k * n + 1) * sizeof(float));
  float *want = malloc((size_t)(m * n + 1) * sizeof(float));
  double *absum = malloc((size_t)(m * n + 1) * sizeof(double));
  assert_true(bd != NULL && want != NULL && absum != NULL);
  for (int64_t kk = 0; kk < k; kk++) {
    for (int64_t j = 0; j < n; j++) {
      bd[kk * n + j] = b[kk * ldb + j];
    }
  }
  cnnrt_gemm_params gp = {m, n, k, 0, 0, 1.0f, 0.0f, 0, 0, CNNRT_ACT_NONE, 0.0f, 0.0f};
  cnnrt_f32_gemm_ref(&gp, a, bd, NULL, want);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0.0;
      for (int64_t kk = 0; kk < k; kk++) {
        s += fabs((double)a[i * k + kk] * (double)bd[kk * n + j]);
      }
      float v = want[i * n + j];
      if (bias != NULL) {
        v += bias[i];
        s += fabs((double)bias[i]);
      }
      if (res != NULL) {
        v += res[i * ldc + j];
        s += fabs((double)res[i * ldc + j]);
      }
      want[i * n + j] = cnnrt_apply_act(t->act, alpha, beta, v);
      absum[i * n + j] = s;
    }
  }
  if (t->inplace) { /* residual and C are one buffer */
    memcpy(c, res, (size_t)(m * ldc) * sizeof(float));
  }
  const float *r_arg = t->inplace ? c : res;
  const int64_t sb = cnnrt_f32_gemm_packed_avx2_scratch_bytes(m, n, k);
  if (t->n_tasks <= 1) {
    void *scratch = malloc((size_t)sb);
    assert_non_null(scratch);
    cnnrt_f32_gemm_packed_avx2(m, n, k, ap, b, ldb, c, ldc, bias, r_arg, t->act, alpha, beta,
                               scratch);
    free(scratch);
  } else { /* tasks in reverse order, each with its own scratch */
    for (int64_t task = t->n_tasks - 1; task >= 0; task--) {
      int64_t n0, n1;
      cnnrt_f32_gemm_avx2_split(n, task, t->n_tasks, &n0, &n1);
      void *scratch = malloc((size_t)sb);
      assert_non_null(scratch);
      cnnrt_f32_gemm_packed_avx2_range(m, n, k, ap, b, ldb, c, ldc, bias, r_arg, t->act, alpha,
                                       beta, n0, n1, scratch);
      free(scratch);
    }
  }
  int ok = 1;
  for (int64_t i = 0; i < m && ok; i++) {
    ok = check_close("gemm", id, c + i * ldc, want + i * n, absum + i * n, slope, t->act, n);
    /* Padding columns of C (past n) must be left alone (still NaN). */
    for (int64_t j = n; j < ldc && ok; j++) {
      if (!t->inplace && !isnan(c[i * ldc + j])) {
        print_error("gemm case %d: column %lld past n written\n", id, (long long)j);
        ok = 0;
      }
    }
  }
  free(a);
  free(b);
  free(bias);
  free(res);
  free(c);
  free(ap);
  free(bd);
  free(want);
  free(absum);
  return ok;
}

/* Every m, n, k combination of small sizes (tile multiples and remainders). */
static void test_gemm_small(void **state) {
  (void)state;
  const int64_t ms[] = {1, 2, 5, 6, 7, 12, 13, 17, 40};
  /* n: 16-column panels and, on AVX-512, 32-column pairs of panels, full and partial; last
   * panels of 1-2 columns (the 6xn kernel) and 3-8 (the 6x8 kernel) */
  const int64_t ns[] = {1, 2, 3, 8, 15, 16, 17, 18, 31, 33, 34, 40, 48, 49};
  const int64_t ks[] = {1, 2, 3, 4, 7, 16, 39, 40};
  int id = 0;
  for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++) {
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
      for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++, id++) {
        gemm_case t = {ms[im], ns[in],       ks[ik], id % 3,      (id / 3) % 2,
                       id % 2, (id / 2) % 2, 0,      id % N_ACTS, 1};
        assert_true(run_gemm_case(&t, id));
      }
    }
  }
}

/* Several column blocks (n > NC), k blocks (k > KC) and row blocks (m > MC), every activation,
 * residual in place, k == 0, and split into tasks. Sizes follow the blocking parameters. */
static void test_gemm_blocked(void **state) {
  (void)state;
  const int64_t KC = CNNRT_GEMM_AVX2_KC, NC = CNNRT_GEMM_AVX2_NC, MC = CNNRT_GEMM_AVX2_MC;
  const gemm_case cases[] = {
      {MC + 4, NC + 88, 2 * KC - KC / 8, 3, 5, 1, 1, 0, CNNRT_ACT_RELU, 1},
      {2 * MC + 8, 4 * NC + 18, KC + 1, 0, 0, 1, 0, 0, CNNRT_ACT_NONE, 1},
      {64, 3 * NC + 16, 2 * KC + 64, 0, 0, 1, 1, 1, CNNRT_ACT_CLIP, 1},
      {MC + 1, 8 * NC + 5, KC + 44, 1, 2, 0, 1, 1, CNNRT_ACT_LEAKY_RELU, 3},
      {30, 100, 3 * KC - 7, 0, 0, 1, 1, 0, CNNRT_ACT_SILU, 7},
      {11, 37, 0, 0, 0, 1, 1, 0, CNNRT_ACT_RELU, 1},
      {11, 37, 0, 0, 3, 0, 0, 0, CNNRT_ACT_SIGMOID, 2},
      {5, 2, 3, 0, 0, 1, 1, 0, CNNRT_ACT_TANH, 5}, /* more tasks than panels */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_true(run_gemm_case(&cases[i], (int)i));
  }
  for (int act = 0; act < N_ACTS; act++) { /* two k blocks, every activation */
    gemm_case t = {13, 45, KC + 20, 0, 1, 1, 1, act % 2, act, 1 + act % 3};
    assert_true(run_gemm_case(&t, 100 + act));
  }
}

/* Odd column range: only [n0, n1) is written. */
static void test_gemm_range(void **state) {
  (void)state;
  const int64_t m = 9, n = 50, k = 20, n0 = 5, n1 = 37;
  float *a = rand_buf(m * k), *b = rand_buf(k * n), *c = nan_buf(m * n), *full = nan_buf(m * n);
  float *ap = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(m, k));
  void *s = malloc((size_t)cnnrt_f32_gemm_packed_avx2_scratch_bytes(m, n, k));
  assert_true(ap != NULL && s != NULL);
  cnnrt_f32_pack_a_mr6(m, k, a, ap);
  cnnrt_f32_gemm_packed_avx2(m, n, k, ap, b, n, full, n, NULL, NULL, CNNRT_ACT_NONE, 0, 0, s);
  cnnrt_f32_gemm_packed_avx2_range(m, n, k, ap, b, n, c, n, NULL, NULL, CNNRT_ACT_NONE, 0, 0, n0,
                                   n1, s);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      if (j >= n0 && j < n1) {
        assert_true(fabsf(c[i * n + j] - full[i * n + j]) <= 1e-5f * 20);
      } else {
        assert_true(isnan(c[i * n + j]));
      }
    }
  }
  free(a);
  free(b);
  free(c);
  free(full);
  free(ap);
  free(s);
}

/* Exact activation semantics on special values (NaN, -0, boundaries). */
static void test_act_exact(void **state) {
  (void)state;
  const float v[8] = {NAN, -0.0f, 0.0f, -0.5f, 0.75f, -3.0f, 2.0f, 1e-40f};
  for (int act = 0; act <= CNNRT_ACT_CLIP; act++) {
    float alpha, beta;
    double slope;
    act_params(act, &alpha, &beta, &slope);
    float out[8];
    _mm256_storeu_ps(out, cnnrt_avx2_act(_mm256_loadu_ps(v), act, alpha, beta));
    for (int l = 0; l < 8; l++) {
      const float want = cnnrt_apply_act(act, alpha, beta, v[l]);
      assert_memory_equal(&out[l], &want, sizeof(float));
    }
  }
  /* Degenerate clip (min > max) follows the reference's order of tests. */
  float out[8];
  _mm256_storeu_ps(out, cnnrt_avx2_act(_mm256_loadu_ps(v), CNNRT_ACT_CLIP, 1.0f, -1.0f));
  for (int l = 0; l < 8; l++) {
    const float want = cnnrt_apply_act(CNNRT_ACT_CLIP, 1.0f, -1.0f, v[l]);
    assert_memory_equal(&out[l], &want, sizeof(float));
  }
}

/* ---- convolution ------------------------------------------------------------------------- */

typedef struct conv_case {
  int64_t spatial, n, c_in, c_out;
  int64_t in[3], kernel[3], stride[3], dilation[3], pb[3], pe[3];
  int use_bias, use_res, inplace, act;
} conv_case;

static cnnrt_conv_params conv_params(const conv_case *t) {
  cnnrt_conv_params p;
  memset(&p, 0, sizeof p);
  p.spatial = t->spatial;
  p.n = t->n;
  p.c_in = t->c_in;
  p.c_out = t->c_out;
  p.group = 1;
  for (int a = 0; a < 3; a++) {
    if (a < t->spatial) {
      p.in[a] = t->in[a];
      p.kernel[a] = t->kernel[a];
      p.stride[a] = t->stride[a];
      p.dilation[a] = t->dilation[a];
      p.out[a] =
          cnnrt_conv_resolve_axis(CNNRT_CONV_AUTO_PAD_NOTSET, t->in[a], t->kernel[a], t->stride[a],
                                  t->dilation[a], t->pb[a], t->pe[a], &p.pad_begin[a]);
    } else {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
      p.pad_begin[a] = 0;
    }
  }
  p.act = t->act;
  return p;
}

/* Sum of |terms| of every output, straight from the definition (right-aligned axes). */
static void conv_absum(const cnnrt_conv_params *p, const float *x, const float *w,
                       const float *bias, const float *res, double *absum) {
  int64_t in[3], out[3], k[3], s[3], d[3], pad[3];
  for (int a = 0; a < 3; a++) {
    const int64_t src = a - (3 - p->spatial);
    in[a] = src >= 0 ? p->in[src] : 1;
    out[a] = src >= 0 ? p->out[src] : 1;
    k[a] = src >= 0 ? p->kernel[src] : 1;
    s[a] = src >= 0 ? p->stride[src] : 1;
    d[a] = src >= 0 ? p->dilation[src] : 1;
    pad[a] = src >= 0 ? p->pad_begin[src] : 0;
  }
  const int64_t P = out[0] * out[1] * out[2], IP = in[0] * in[1] * in[2];
  const int64_t kvol = k[0] * k[1] * k[2];
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t oc = 0; oc < p->c_out; oc++) {
      for (int64_t q = 0; q < P; q++) {
        const int64_t o0 = q / (out[1] * out[2]), o1 = q / out[2] % out[1], o2 = q % out[2];
        double sum = bias != NULL ? fabs((double)bias[oc]) : 0.0;
        if (res != NULL) {
          sum += fabs((double)res[(b * p->c_out + oc) * P + q]);
        }
        for (int64_t ic = 0; ic < p->c_in; ic++) {
          for (int64_t t0 = 0; t0 < k[0]; t0++) {
            for (int64_t t1 = 0; t1 < k[1]; t1++) {
              for (int64_t t2 = 0; t2 < k[2]; t2++) {
                const int64_t i0 = o0 * s[0] + t0 * d[0] - pad[0];
                const int64_t i1 = o1 * s[1] + t1 * d[1] - pad[1];
                const int64_t i2 = o2 * s[2] + t2 * d[2] - pad[2];
                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) {
                  continue;
                }
                const double xv = x[(b * p->c_in + ic) * IP + (i0 * in[1] + i1) * in[2] + i2];
                const double wv = w[(oc * p->c_in + ic) * kvol + (t0 * k[1] + t1) * k[2] + t2];
                sum += fabs(xv * wv);
              }
            }
          }
        }
        absum[(b * p->c_out + oc) * P + q] = sum;
      }
    }
  }
}

static int run_conv_case(const conv_case *t, int id) {
  cnnrt_conv_params p = conv_params(t);
  float alpha, beta;
  double slope;
  act_params(t->act, &alpha, &beta, &slope);
  p.alpha = alpha;
  p.beta = beta;
  int64_t IP = 1, P = 1, kvol = 1;
  for (int a = 0; a < t->spatial; a++) {
    IP *= p.in[a];
    P *= p.out[a];
    kvol *= p.kernel[a];
  }
  const int64_t k = p.c_in * kvol, ny = p.n * p.c_out * P;
  float *x = rand_buf(p.n * p.c_in * IP);
  float *w = rand_buf(p.c_out * k);
  float *bias = t->use_bias ? rand_buf(p.c_out) : NULL;
  float *res = t->use_res ? rand_buf(ny) : NULL;
  float *want = nan_buf(ny);
  double *absum = malloc((size_t)(ny + 1) * sizeof(double));
  float *wp = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(p.c_out, k) + 4);
  assert_true(absum != NULL && wp != NULL);
  cnnrt_f32_pack_a_mr6(p.c_out, k, w, wp);
  cnnrt_f32_conv_ref(&p, x, w, bias, res, want);
  conv_absum(&p, x, w, bias, res, absum);
  const int64_t sb = cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p);
  int ok = 1;
  const int64_t task_counts[] = {1, 2, 3, 7};
  for (size_t tc = 0; tc < sizeof task_counts / sizeof task_counts[0] && ok; tc++) {
    const int64_t nt = task_counts[tc];
    float *y = nan_buf(ny);
    if (t->inplace) {
      memcpy(y, res, (size_t)ny * sizeof(float));
    }
    if (nt == 1) {
      void *scratch = malloc((size_t)sb);
      assert_non_null(scratch);
      cnnrt_f32_conv_gemm_avx2(&p, x, wp, bias, t->inplace ? y : res, y, scratch);
      free(scratch);
      ok = check_close("conv", id * 10 + (int)tc, y, want, absum, slope, t->act, ny);
    } else {
      /* Both splits (pixels, channels) forced, then the one cnnrt_conv_gemm_split_channels
       * picks; tasks run last to first, each with its own scratch. Then the pixel split with
       * stealing (cnnrt_steal_next), tasks last to first (the last one takes its share, then
       * the others' from their ends) and first to last. */
      for (int split = 0; split < 5 && ok; split++) {
        if (split > 0 && t->inplace) {
          memcpy(y, res, (size_t)ny * sizeof(float));
        }
        cnnrt_steal steal;
        memset(&steal, 0, sizeof steal);
        for (int64_t i = 0; i < nt; i++) {
          const int64_t task = split == 4 ? i : nt - 1 - i;
          void *scratch = malloc((size_t)sb);
          assert_non_null(scratch);
          const float *r = t->inplace ? y : res;
          if (split < 2) {
            cnnrt_f32_conv_gemm_avx2_range_split(&p, x, wp, bias, r, y, scratch, task, nt, split,
                                                 NULL);
          } else if (split == 2) {
            cnnrt_f32_conv_gemm_avx2_range(&p, x, wp, bias, r, y, scratch, task, nt);
          } else {
            cnnrt_f32_conv_gemm_avx2_range_split(&p, x, wp, bias, r, y, scratch, task, nt, 0,
                                                 &steal);
          }
          free(scratch);
        }
        ok = check_close("conv", id * 100 + (int)tc * 10 + split, y, want, absum, slope, t->act,
                         ny);
        if (split < 4 && ok) { /* every element is written again by the next split */
          float *fresh = nan_buf(ny);
          memcpy(y, fresh, (size_t)ny * sizeof(float));
          free(fresh);
        }
      }
    }
    free(y);
  }
  free(x);
  free(w);
  free(bias);
  free(res);
  free(want);
  free(absum);
  free(wp);
  return ok;
}

#define A3(a, b, c)                                                                                \
  { a, b, c }

static const conv_case conv_cases[] = {
    /* spatial, n, c_in, c_out, in, kernel, stride, dilation, pad begin, pad end, bias, res,
     * inplace, act */
    {2, 1, 5, 7, A3(9, 11, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 1,
     0, 0, CNNRT_ACT_RELU},
    {2, 2, 13, 9, A3(7, 5, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     1, 0, CNNRT_ACT_NONE}, /* pointwise: x used directly as B, batch 2 */
    {2, 1, 12, 10, A3(30, 30, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0),
     0, 1, 1, CNNRT_ACT_CLIP}, /* pointwise, P = 900 > NC, in place */
    {2, 1, 700, 9, A3(5, 7, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     1, 1, CNNRT_ACT_RELU}, /* pointwise with k blocks */
    {2, 1, 6, 5, A3(9, 8, 1), A3(1, 1, 1), A3(2, 2, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1, 0,
     0, CNNRT_ACT_LEAKY_RELU}, /* 1x1 stride 2 */
    {2, 1, 6, 5, A3(5, 6, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 0, 0), A3(0, 2, 0), 1, 0,
     0, CNNRT_ACT_NONE}, /* 1x1 with pads */
    {2, 1, 7, 11, A3(13, 12, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(0, 1, 0), A3(1, 0, 0), 1,
     1, 0, CNNRT_ACT_HARD_SWISH}, /* stride 2, asymmetric pads */
    {2, 1, 9, 6, A3(12, 14, 1), A3(3, 3, 1), A3(1, 1, 1), A3(2, 2, 1), A3(2, 2, 0), A3(2, 2, 0), 1,
     0, 0, CNNRT_ACT_SIGMOID}, /* dilation 2 */
    {2, 1, 3, 8, A3(23, 21, 1), A3(7, 7, 1), A3(2, 2, 1), A3(1, 1, 1), A3(3, 3, 0), A3(3, 3, 0), 1,
     0, 0, CNNRT_ACT_RELU}, /* ResNet stem shape, small */
    {2, 3, 4, 5, A3(1, 1, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 1, 1,
     0, CNNRT_ACT_TANH}, /* 1x1 image, batch 3 */
    {2, 1, 40, 20, A3(20, 20, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 1, CNNRT_ACT_RELU}, /* k = 360: two k blocks, in place residual */
    {2, 1, 90, 7, A3(9, 10, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 1,
     1, 0, CNNRT_ACT_HARD_SWISH}, /* k = 810: three k blocks not aligned to the taps */
    {2, 1, 8, 13, A3(30, 30, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 0,
     0, 0, CNNRT_ACT_NONE}, /* P = 900 > NC */
    {2, 2, 5, 3, A3(6, 3, 1), A3(2, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 2, 0), A3(0, 1, 0), 1, 0,
     0, CNNRT_ACT_HARD_SIGMOID}, /* rows of 3..4 pixels: many rows per panel */
    {2, 1, 4, 6, A3(10, 11, 1), A3(3, 2, 1), A3(1, 2, 1), A3(1, 1, 1), A3(-1, 1, 0), A3(0, -2, 0),
     1, 0, 0, CNNRT_ACT_SILU}, /* negative pads (cropping) */
    {2, 1, 3, 4, A3(7, 19, 1), A3(2, 5, 1), A3(3, 3, 1), A3(2, 3, 1), A3(0, 4, 0), A3(4, 0, 0), 0,
     1, 0, CNNRT_ACT_CLIP}, /* stride 3, dilation 3, mixed */
    {1, 2, 5, 7, A3(37, 1, 1), A3(3, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 0, 0), A3(2, 0, 0), 1,
     1, 0, CNNRT_ACT_RELU}, /* 1-D */
    {3, 1, 3, 5, A3(5, 6, 7), A3(3, 2, 3), A3(1, 2, 1), A3(1, 1, 2), A3(1, 0, 2), A3(1, 1, 2), 1, 0,
     0, CNNRT_ACT_LEAKY_RELU}, /* 3-D */
    {2, 1, 17, 19, A3(17, 17, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 0, CNNRT_ACT_NONE}, /* rows of 17: panels straddle rows */
    {2, 1, 5, 6, A3(10, 41, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 0, 0), 1,
     0, 0, CNNRT_ACT_RELU}, /* stride 2, rows of 20: deinterleaved loads */
    {2, 1, 3, 7, A3(12, 70, 1), A3(7, 7, 1), A3(2, 2, 1), A3(1, 1, 1), A3(3, 3, 0), A3(3, 3, 0), 1,
     0, 0, CNNRT_ACT_NONE}, /* ResNet stem with rows of 35 */
    /* pointwise on 1-pixel images (squeeze-excitation): the GEMV over the packed panels */
    {2, 1, 48, 35, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     0, 0, CNNRT_ACT_SIGMOID}, /* k multiple of 4, last panel of 5 rows */
    {2, 3, 13, 7, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     1, 1, CNNRT_ACT_SILU}, /* batch 3, odd k, in-place residual */
    {2, 1, 1, 6, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 0,
     0, 0, CNNRT_ACT_NONE}, /* k = 1: the masked step alone */
    {2, 2, 700, 20, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 0,
     1, 0, CNNRT_ACT_RELU}, /* long k, separate residual */
    {1, 1, 6, 1, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     0, 0, CNNRT_ACT_HARD_SWISH}, /* one output channel, 1-D */
    {2, 1, 5, 1160, A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0),
     1, 0, 0, CNNRT_ACT_SILU}, /* many panels over the tasks */
    /* small planes with many channels: the shapes the split over output channels is for
     * (c_out not a multiple of 12, so the last task's unit is partial) */
    {2, 1, 20, 101, A3(7, 7, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 1, CNNRT_ACT_RELU}, /* 7 x 7, 3x3, in-place residual */
    {2, 1, 64, 110, A3(7, 7, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 0, 0, CNNRT_ACT_NONE}, /* 7 x 7, k = 576: two k blocks */
    {2, 1, 33, 130, A3(7, 7, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0),
     1, 1, 1, CNNRT_ACT_RELU}, /* 7 x 7 pointwise, in-place residual */
    {2, 1, 24, 107, A3(14, 14, 1), A3(1, 1, 1), A3(2, 2, 1), A3(1, 1, 1), A3(0, 0, 0),
     A3(0, 0, 0), 0, 1, 0, CNNRT_ACT_NONE}, /* 14 x 14 -> 7 x 7, 1x1 stride 2 */
    {2, 1, 16, 450, A3(14, 14, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0),
     1, 1, 0, CNNRT_ACT_RELU}, /* 14 x 14 pointwise, c_out >= 2 pixels */
    {2, 1, 9, 103, A3(14, 14, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 1, CNNRT_ACT_CLIP}, /* 14 x 14, 3x3, in place: two column blocks */
    {2, 2, 10, 220, A3(7, 7, 1), A3(3, 3, 1), A3(1, 1, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 0, CNNRT_ACT_RELU}, /* batch 2 of 7 x 7: every task takes both images */
    /* stride 2 (the deinterleaving loads, rows straddled by half-panels, padding lanes) */
    {2, 1, 5, 7, A3(12, 14, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 1,
     1, 0, CNNRT_ACT_RELU}, /* 56 -> 28 in small: rows of 7, pad 1 */
    {2, 2, 3, 11, A3(13, 15, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 0,
     1, 1, CNNRT_ACT_HARD_SWISH}, /* odd sizes (short odd phases), batch 2, in place */
    {2, 1, 6, 5, A3(10, 10, 1), A3(2, 2, 1), A3(2, 2, 1), A3(1, 1, 1), A3(0, 0, 0), A3(0, 0, 0), 1,
     0, 0, CNNRT_ACT_LEAKY_RELU}, /* 2x2 kernel, no pad: one phase row per tap row */
    {2, 3, 7, 9, A3(1, 1, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0), 1,
     1, 0, CNNRT_ACT_SIGMOID}, /* 1x1 images */
    {2, 1, 70, 19, A3(20, 22, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     1, 1, 1, CNNRT_ACT_RELU}, /* k = 630: k blocks not aligned to channels, in place */
    {2, 1, 9, 13, A3(40, 36, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 1, 0), A3(1, 1, 0),
     0, 0, 0, CNNRT_ACT_CLIP}, /* P = 360 > NC: column blocks with their own phase rows */
    {2, 1, 4, 6, A3(12, 12, 1), A3(3, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(1, 0, 0), A3(0, 1, 0), 1,
     0, 0, CNNRT_ACT_TANH}, /* asymmetric pads */
    {2, 1, 3, 5, A3(9, 7, 1), A3(5, 3, 1), A3(2, 2, 1), A3(1, 1, 1), A3(2, 1, 0), A3(2, 1, 0), 1,
     1, 0, CNNRT_ACT_SILU}, /* 5x3 kernel: three phase rows per tap column */
};

static void test_conv(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
    assert_true(run_conv_case(&conv_cases[i], (int)i));
  }
}

static void test_conv_every_act(void **state) {
  (void)state;
  for (int act = 0; act < N_ACTS; act++) {
    conv_case t = conv_cases[0]; /* 3x3, pad 1, 5 -> 7 channels */
    t.in[0] = 6;
    t.in[1] = 7;
    t.use_bias = act % 2;
    t.use_res = 1;
    t.inplace = act % 3 == 0;
    t.act = act;
    assert_true(run_conv_case(&t, 100 + act));
  }
}

/* The scalar im2col packer (used for planes too large for int32 offsets) agrees with the vector
 * packer bit for bit, on every k block boundary. */
static void test_im2col_scalar(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
    const cnnrt_conv_params p = conv_params(&conv_cases[i]);
    const cnnrt_conv_geom g = cnnrt_conv_make_geom(&p);
    const int64_t kvol = g.k[0] * g.k[1] * g.k[2], k = p.c_in * kvol;
    const int64_t P = g.out[0] * g.out[1] * g.out[2];
    float *x = rand_buf(p.c_in * g.in[0] * g.in[1] * g.in[2]);
    const int64_t cap = (k + 1) * ((P + 15) / 16 * 16); /* panels hold kc + 1 rows */
    void *m1 = malloc((size_t)(cap * 4 + 64)), *m2 = malloc((size_t)(cap * 4 + 64));
    void *mt = malloc((size_t)cnnrt_im2col_tab_bytes(kvol) + 64);
    assert_true(m1 != NULL && m2 != NULL && mt != NULL);
    float *b1 = cnnrt_gemm_avx2_align(m1), *b2 = cnnrt_gemm_avx2_align(m2);
    cnnrt_im2col_tab tab;
    tab.idx = (int32_t *)(void *)cnnrt_gemm_avx2_align(mt);
    tab.mask = tab.idx + 16 * kvol;
    tab.mode = tab.idx + 32 * kvol;
    tab.base = tab.idx + 34 * kvol;
    const int64_t q0 = P > 3 ? 3 : 0, nc = P - q0; /* an unaligned pixel range */
    const int64_t k0 = k > 2 ? k / 3 : 0, k1 = k - (k > 4 ? 1 : 0);
    memset(b1, 0xff, (size_t)cap * 4);
    memset(b2, 0x7f, (size_t)cap * 4);
    cnnrt_im2col_pack_avx2(&g, x, k0, k1, q0, nc, &tab, b1);
    cnnrt_im2col_pack_scalar(&g, x, k0, k1, q0, nc, b2);
    for (int64_t j = 0; j < nc; j += 16) { /* rows [0, kc) of every panel (row kc is spare) */
      const int64_t off = j * (k1 - k0 + 1);
      assert_memory_equal(b1 + off, b2 + off, (size_t)((k1 - k0) * 16) * 4);
    }
    free(x);
    free(m1);
    free(m2);
    free(mt);
  }
}

#endif /* __AVX2__ && __FMA__ */

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pack_a),
#if defined(__AVX2__) && defined(__FMA__)
    cmocka_unit_test(test_act_exact),
    cmocka_unit_test(test_gemm_small),
    cmocka_unit_test(test_gemm_blocked),
    cmocka_unit_test(test_gemm_range),
    cmocka_unit_test(test_conv),
    cmocka_unit_test(test_conv_every_act),
    cmocka_unit_test(test_im2col_scalar),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
