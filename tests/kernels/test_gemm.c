/* test_gemm.c — cnnrt_gemm.h (Gemm, batched MatMul) against naive loops written straight from the
 * ONNX definitions (double accumulation), plus a few hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_gemm.h"

static uint32_t rng_state = 777u;

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

/* ---- Gemm -------------------------------------------------------------------------------- */

static void naive_gemm(const cnnrt_gemm_params *p, const float *A, const float *B, const float *C,
                       float *Y, double *absum) {
  for (int64_t i = 0; i < p->m; i++) {
    for (int64_t j = 0; j < p->n; j++) {
      double s = 0.0, a = 0.0;
      for (int64_t k = 0; k < p->k; k++) {
        const double av = p->trans_a ? A[k * p->m + i] : A[i * p->k + k];
        const double bv = p->trans_b ? B[j * p->k + k] : B[k * p->n + j];
        s += av * bv;
        a += fabs(av * bv);
      }
      s *= p->alpha;
      a *= fabs(p->alpha);
      if (C != NULL && p->beta != 0.0f) {
        const int64_t ci = p->c_rows == 1 ? 0 : i, cj = p->c_cols == 1 ? 0 : j;
        const double cv = C[ci * p->c_cols + cj];
        s += p->beta * cv;
        a += fabs(p->beta * cv);
      }
      Y[i * p->n + j] = cnnrt_apply_act((int)p->act, p->act_alpha, p->act_beta, (float)s);
      absum[i * p->n + j] = a;
    }
  }
}

static int run_gemm(int64_t m, int64_t n, int64_t k, int ta, int tb, int cshape, float alpha,
                    float beta, int act, int id) {
  cnnrt_gemm_params p;
  memset(&p, 0, sizeof p);
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_a = ta;
  p.trans_b = tb;
  p.alpha = alpha;
  p.beta = beta;
  p.act = act;
  p.act_alpha = act == CNNRT_ACT_CLIP ? -0.5f : (act == CNNRT_ACT_HARD_SIGMOID ? 0.2f : 0.1f);
  p.act_beta = act == CNNRT_ACT_CLIP ? 0.5f : 0.5f;
  /* cshape: 0 none, 1 scalar, 2 row (1, n), 3 column (m, 1), 4 full */
  const int64_t rows[5] = {0, 1, 1, m, m}, cols[5] = {0, 1, n, 1, n};
  p.c_rows = rows[cshape];
  p.c_cols = cols[cshape];
  float *A = rand_buf(m * k), *B = rand_buf(k * n), *C = rand_buf(m * n);
  float *Y = rand_buf(m * n), *R = rand_buf(m * n);
  double *absum = malloc((size_t)(m * n > 0 ? m * n : 1) * sizeof(double));
  assert_non_null(absum);
  const float *c = cshape ? C : NULL;
  naive_gemm(&p, A, B, c, R, absum);
  cnnrt_f32_gemm_ref(&p, A, B, c, Y);
  const int ok = check_close("gemm", id, Y, R, absum, m * n);
  if (!ok) {
    print_error("  m=%lld n=%lld k=%lld ta=%d tb=%d c=%d alpha=%g beta=%g act=%d\n", (long long)m,
                (long long)n, (long long)k, ta, tb, cshape, (double)alpha, (double)beta, act);
  }
  free(A);
  free(B);
  free(C);
  free(Y);
  free(R);
  free(absum);
  return ok;
}

static void test_gemm_all_modes(void **state) {
  (void)state;
  /* size-1 dims, remainders of the 4-row block and of the 8-lane dot, k-block and column-block
   * boundaries (KB 128, NB 256) */
  static const int64_t sizes[][3] = {{1, 1, 1},   {1, 10, 17},  {5, 7, 13},  {4, 1, 9},
                                     {6, 3, 0},   {9, 300, 5},  {7, 33, 140}, {3, 260, 2},
                                     {13, 2, 257}};
  static const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.25f, 0.0f}};
  int ok = 1, id = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int ta = 0; ta < 2; ta++) {
      for (int tb = 0; tb < 2; tb++) {
        for (int cs = 0; cs < 5; cs++) {
          for (size_t v = 0; v < sizeof ab / sizeof ab[0]; v++) {
            ok &= run_gemm(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, cs, ab[v][0], ab[v][1],
                           CNNRT_ACT_NONE, id++);
          }
        }
      }
    }
  }
  assert_true(ok);
}

static void test_gemm_activations(void **state) {
  (void)state;
  int ok = 1;
  for (int act = CNNRT_ACT_NONE; act <= CNNRT_ACT_TANH; act++) {
    for (int tb = 0; tb < 2; tb++) {
      ok &= run_gemm(6, 11, 9, 0, tb, 2, 1.5f, 0.75f, act, 1000 + act * 2 + tb);
    }
  }
  assert_true(ok);
}

static void test_gemm_large(void **state) {
  (void)state;
  int ok = 1;
  /* FC layer shape (batch 2, 600 -> 300), both storage orders of B; and a tall case. */
  ok &= run_gemm(2, 300, 600, 0, 1, 2, 1.0f, 1.0f, CNNRT_ACT_RELU, 2000);
  ok &= run_gemm(2, 300, 600, 0, 0, 2, 1.0f, 1.0f, CNNRT_ACT_RELU, 2001);
  ok &= run_gemm(37, 270, 150, 1, 0, 4, 0.5f, 2.0f, CNNRT_ACT_NONE, 2002);
  assert_true(ok);
}

static void test_gemm_hand(void **state) {
  (void)state;
  /* A = [[1,2],[3,4]], B = [[5,6],[7,8]] -> AB = [[19,22],[43,50]]; C column [1, -1], beta 2,
   * alpha -1; ReLU. */
  const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[2] = {1, -1};
  cnnrt_gemm_params p = {2, 2, 2, 0, 0, -1.0f, 2.0f, 2, 1, CNNRT_ACT_RELU, 0.0f, 0.0f};
  float Y[4];
  cnnrt_f32_gemm_ref(&p, A, B, C, Y);
  const float e1[4] = {0, 0, 0, 0};
  assert_true(check_close("gemm hand", 0, Y, e1, NULL, 4));
  p.act = CNNRT_ACT_NONE;
  cnnrt_f32_gemm_ref(&p, A, B, C, Y);
  const float e2[4] = {-17, -20, -45, -52};
  assert_true(check_close("gemm hand", 1, Y, e2, NULL, 4));
  /* A^T B^T = (BA)^T: BA = [[23,34],[31,46]] */
  p.trans_a = p.trans_b = 1;
  p.alpha = 1.0f;
  p.c_rows = p.c_cols = 0;
  cnnrt_f32_gemm_ref(&p, A, B, NULL, Y);
  const float e3[4] = {23, 31, 34, 46};
  assert_true(check_close("gemm hand", 2, Y, e3, NULL, 4));
  /* beta == 0 skips C entirely, even a NaN one. */
  const float Cn[4] = {NAN, NAN, NAN, NAN};
  p.beta = 0.0f;
  p.c_rows = p.c_cols = 2;
  cnnrt_f32_gemm_ref(&p, A, B, Cn, Y);
  assert_true(check_close("gemm hand", 3, Y, e3, NULL, 4));
}

/* ---- MatMul ------------------------------------------------------------------------------ */

/* Shapes of A and B including their matrix dims (rank >= 2), numpy-broadcast. */
static int run_matmul(int ra, const int64_t *sa, int rb, const int64_t *sb, int id) {
  cnnrt_matmul_params p;
  memset(&p, 0, sizeof p);
  p.m = sa[ra - 2];
  p.k = sa[ra - 1];
  p.n = sb[rb - 1];
  assert_int_equal(sb[rb - 2], p.k);
  const int ba = ra - 2, bb = rb - 2;
  const int br = ba > bb ? ba : bb;
  p.batch_rank = br;
  /* per-operand dense strides, right-aligned to the broadcast batch */
  int64_t stride_a = p.m * p.k, stride_b = p.k * p.n, na = p.m * p.k, nb = p.k * p.n;
  for (int d = br - 1; d >= 0; d--) {
    const int da = d - (br - ba), db = d - (br - bb);
    const int64_t ea = da >= 0 ? sa[da] : 1, eb = db >= 0 ? sb[db] : 1;
    assert_true(ea == eb || ea == 1 || eb == 1);
    p.batch[d] = ea > eb ? ea : eb;
    p.a_batch_stride[d] = ea == 1 ? 0 : stride_a;
    p.b_batch_stride[d] = eb == 1 ? 0 : stride_b;
    stride_a *= ea;
    stride_b *= eb;
  }
  na = stride_a;
  nb = stride_b;
  int64_t total = 1;
  for (int d = 0; d < br; d++) {
    total *= p.batch[d];
  }
  const int64_t ny = total * p.m * p.n;
  float *A = rand_buf(na), *B = rand_buf(nb), *Y = rand_buf(ny), *R = rand_buf(ny);
  double *absum = malloc((size_t)(ny > 0 ? ny : 1) * sizeof(double));
  assert_non_null(absum);
  /* naive: decompose the flat batch index, offsets from the strides */
  for (int64_t t = 0; t < total; t++) {
    int64_t rem = t, ao = 0, bo = 0;
    for (int d = br - 1; d >= 0; d--) {
      const int64_t i = rem % p.batch[d];
      rem /= p.batch[d];
      ao += i * p.a_batch_stride[d];
      bo += i * p.b_batch_stride[d];
    }
    for (int64_t i = 0; i < p.m; i++) {
      for (int64_t j = 0; j < p.n; j++) {
        double s = 0.0, a = 0.0;
        for (int64_t k = 0; k < p.k; k++) {
          const double v = (double)A[ao + i * p.k + k] * B[bo + k * p.n + j];
          s += v;
          a += fabs(v);
        }
        R[(t * p.m + i) * p.n + j] = (float)s;
        absum[(t * p.m + i) * p.n + j] = a;
      }
    }
  }
  cnnrt_f32_matmul_ref(&p, A, B, Y);
  const int ok = check_close("matmul", id, Y, R, absum, ny);
  free(A);
  free(B);
  free(Y);
  free(R);
  free(absum);
  return ok;
}

static void test_matmul_broadcast(void **state) {
  (void)state;
  int ok = 1;
  {
    const int64_t a[2] = {3, 7}, b[2] = {7, 5};
    ok &= run_matmul(2, a, 2, b, 0);
  }
  { /* [2,1,3,m,k] x [4,1,k,n] -> [2,4,3,m,n] */
    const int64_t a[5] = {2, 1, 3, 5, 6}, b[4] = {4, 1, 6, 3};
    ok &= run_matmul(5, a, 4, b, 1);
  }
  { /* foldable: dense A batch, 2-D B */
    const int64_t a[4] = {2, 3, 5, 9}, b[2] = {9, 11};
    ok &= run_matmul(4, a, 2, b, 2);
  }
  { /* 2-D A shared by every batch of B */
    const int64_t a[2] = {4, 6}, b[3] = {5, 6, 7};
    ok &= run_matmul(2, a, 3, b, 3);
  }
  { /* vector-matrix (1-D A reshaped to [1, k]) against a batch; k = 1 */
    const int64_t a[2] = {1, 8}, b[3] = {3, 8, 9};
    ok &= run_matmul(2, a, 3, b, 4);
    const int64_t a1[3] = {2, 4, 1}, b1[2] = {1, 6};
    ok &= run_matmul(3, a1, 2, b1, 5);
  }
  { /* matrix-vector (1-D B reshaped to [k, 1]); size-1 batch dims on both sides */
    const int64_t a[4] = {1, 3, 5, 10}, b[4] = {2, 1, 10, 1};
    ok &= run_matmul(4, a, 4, b, 6);
  }
  { /* same batch on both, attention-like */
    const int64_t a[4] = {2, 3, 7, 16}, b[4] = {2, 3, 16, 7};
    ok &= run_matmul(4, a, 4, b, 7);
  }
  { /* k = 0: zeros */
    const int64_t a[3] = {2, 3, 0}, b[2] = {0, 4};
    ok &= run_matmul(3, a, 2, b, 8);
  }
  assert_true(ok);
}

static void test_matmul_size1_stride_ignored(void **state) {
  (void)state;
  /* A batch dim of size 1 may carry any stride; folding and the odometer must ignore it. */
  cnnrt_matmul_params p;
  memset(&p, 0, sizeof p);
  p.batch_rank = 2;
  p.batch[0] = 1;
  p.batch[1] = 2;
  p.a_batch_stride[0] = 12345;
  p.a_batch_stride[1] = 4;
  p.b_batch_stride[0] = 777;
  p.b_batch_stride[1] = 0;
  p.m = 2;
  p.k = 2;
  p.n = 1;
  const float A[8] = {1, 2, 3, 4, 5, 6, 7, 8}, B[2] = {1, -1};
  float Y[4];
  cnnrt_f32_matmul_ref(&p, A, B, Y);
  const float e[4] = {-1, -1, -1, -1};
  assert_true(check_close("matmul size1", 0, Y, e, NULL, 4));
  p.b_batch_stride[1] = 1; /* not foldable now: B = [[1], [-1]], then [[-1], [2]] */
  const float B2[3] = {1, -1, 2};
  cnnrt_f32_matmul_ref(&p, A, B2, Y);
  const float e2[4] = {-1, -1, 7, 9};
  assert_true(check_close("matmul size1", 1, Y, e2, NULL, 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_all_modes),
      cmocka_unit_test(test_gemm_activations),
      cmocka_unit_test(test_gemm_large),
      cmocka_unit_test(test_gemm_hand),
      cmocka_unit_test(test_matmul_broadcast),
      cmocka_unit_test(test_matmul_size1_stride_ignored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
