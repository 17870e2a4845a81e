/* test_tensor.c — cmocka tests of runtime/cnnrt_tensor.h (data movement) against naive
 * index-mapping loops written straight from the ONNX definitions, plus fixed cases generated
 * with numpy (numpy.pad, Python slicing) and the ONNX DepthToSpace examples.
 *
 * Every kernel is run with element sizes 1, 2, 4, 8 and odd sizes (3, 12, 80) on random
 * shapes (size-1 and size-0 dims included) and compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_tensor.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
/* uniform in [lo, hi] */
static int64_t rndi(int64_t lo, int64_t hi) {
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static const int64_t ELEM_SIZES[] = {1, 2, 4, 8, 3, 12};
#define N_ELEM_SIZES ((int)(sizeof ELEM_SIZES / sizeof ELEM_SIZES[0]))

static int64_t prod(int64_t rank, const int64_t *d) {
  int64_t n = 1;
  for (int64_t a = 0; a < rank; a++) {
    n *= d[a];
  }
  return n;
}

static void unravel(int64_t lin, int64_t rank, const int64_t *d, int64_t *idx) {
  for (int64_t a = rank - 1; a >= 0; a--) {
    idx[a] = lin % d[a];
    lin /= d[a];
  }
}

static int64_t ravel(int64_t rank, const int64_t *d, const int64_t *idx) {
  int64_t lin = 0;
  for (int64_t a = 0; a < rank; a++) {
    lin = lin * d[a] + idx[a];
  }
  return lin;
}

static unsigned char *rand_buf(int64_t nbytes) {
  unsigned char *b = malloc((size_t)(nbytes > 0 ? nbytes : 1));
  assert_non_null(b);
  for (int64_t i = 0; i < nbytes; i++) {
    b[i] = (unsigned char)rnd();
  }
  return b;
}

/* Output buffers are pre-filled with garbage and get a guard zone checked after the call. */
#define GUARD 64
static unsigned char *out_buf(int64_t nbytes) {
  unsigned char *b = malloc((size_t)(nbytes + GUARD));
  assert_non_null(b);
  memset(b, 0xa5, (size_t)(nbytes + GUARD));
  return b;
}
static void check_guard(const unsigned char *b, int64_t nbytes) {
  for (int64_t i = 0; i < GUARD; i++) {
    assert_int_equal(b[nbytes + i], 0xa5);
  }
}

static void rand_perm(int64_t n, int64_t *perm) {
  for (int64_t i = 0; i < n; i++) {
    perm[i] = i;
  }
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = rndi(0, i);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/* ---- Transpose --------------------------------------------------------------------------- */

static void naive_transpose(int64_t rank, const int64_t *in, const int64_t *perm, int64_t es,
                            const unsigned char *x, unsigned char *y) {
  int64_t od[CNNRT_MAX_RANK] = {0}, oi[CNNRT_MAX_RANK], ii[CNNRT_MAX_RANK];
  for (int64_t i = 0; i < rank; i++) {
    od[i] = in[perm[i]];
  }
  int64_t n = prod(rank, od);
  for (int64_t lin = 0; lin < n; lin++) {
    unravel(lin, rank, od, oi);
    for (int64_t i = 0; i < rank; i++) {
      ii[perm[i]] = oi[i];
    }
    memcpy(y + lin * es, x + ravel(rank, in, ii) * es, (size_t)es);
  }
}

static void run_transpose(int64_t rank, const int64_t *in, const int64_t *perm, int64_t es) {
  cnnrt_transpose_params p;
  p.rank = rank;
  p.elem_size = es;
  for (int64_t i = 0; i < CNNRT_MAX_RANK; i++) {
    p.in[i] = i < rank ? in[i] : 1;
    p.perm[i] = i < rank ? perm[i] : i;
  }
  int64_t nb = prod(rank, in) * es;
  unsigned char *x = rand_buf(nb), *y = out_buf(nb), *ref = out_buf(nb);
  naive_transpose(rank, in, perm, es, x, ref);
  cnnrt_transpose(&p, x, y);
  assert_memory_equal(y, ref, (size_t)nb);
  check_guard(y, nb);
  free(x);
  free(y);
  free(ref);
}

static void test_transpose_random(void **state) {
  (void)state;
  for (int it = 0; it < 600; it++) {
    int64_t rank = rndi(0, 6), in[CNNRT_MAX_RANK], perm[CNNRT_MAX_RANK];
    for (int64_t a = 0; a < rank; a++) {
      int64_t u = rndi(0, 19);
      in[a] = u == 0 ? 0 : (u < 5 ? 1 : rndi(2, 5));
    }
    rand_perm(rank, perm);
    run_transpose(rank, in, perm, ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)]);
  }
}

/* Shapes big enough for several 2-D tiles, with remainders. */
static void test_transpose_tiled(void **state) {
  (void)state;
  static const int64_t shapes[][5] = {/* rank, dims... */ {2, 70, 37, 0, 0},
                                      {3, 3, 50, 41, 0},
                                      {4, 2, 3, 33, 65},
                                      {4, 2, 64, 9, 9},
                                      {2, 1, 200, 0, 0},
                                      {3, 129, 2, 67, 0}};
  static const int64_t perms[][4] = {{1, 0, 2, 3}, {2, 1, 0, 3}, {0, 2, 3, 1},
                                     {0, 2, 3, 1}, {1, 0, 2, 3}, {2, 0, 1, 3}};
  static const int64_t es_list[] = {1, 2, 4, 8, 12};
  for (int s = 0; s < 6; s++) {
    for (int e = 0; e < 5; e++) {
      run_transpose(shapes[s][0], &shapes[s][1], perms[s], es_list[e]);
    }
  }
  /* NCHW -> NHWC and back with 3 channels */
  const int64_t nchw[4] = {2, 3, 17, 19}, to_nhwc[4] = {0, 2, 3, 1};
  const int64_t nhwc[4] = {2, 17, 19, 3}, to_nchw[4] = {0, 3, 1, 2};
  run_transpose(4, nchw, to_nhwc, 4);
  run_transpose(4, nhwc, to_nchw, 4);
}

/* Hand-computed: 2x3 int32 transposed. */
static void test_transpose_hand(void **state) {
  (void)state;
  const int32_t x[6] = {1, 2, 3, 4, 5, 6};
  const int32_t expect[6] = {1, 4, 2, 5, 3, 6};
  int32_t y[6];
  cnnrt_transpose_params p = {2, {2, 3, 1, 1, 1, 1, 1, 1}, {1, 0, 2, 3, 4, 5, 6, 7}, 4};
  cnnrt_transpose(&p, x, y);
  assert_memory_equal(y, expect, sizeof expect);
}

/* ---- Slice ------------------------------------------------------------------------------- */

/* Generated with python from the ONNX spec rules and cross-checked against Python slicing
 * (which differs only for start < -dim with step < 0, where ONNX clamps start to 0).
 * {dim, start, end, step, out_start, out_len} */
static const int64_t slice_table[][6] = {
    {5, 1, -5, 1, 0, 0},
    {2, -2, INT64_MIN, -1, 0, 1},
    {5, INT64_MAX, 6, INT64_MAX, 0, 0},
    {1, INT64_MIN, INT64_MIN, INT64_MAX, 0, 0},
    {1, -1, -2, -3, 0, 1},
    {10, 1000, -10, -3, 9, 3},
    {1, 1, 2, INT64_MIN, 0, 0},
    {5, 6, 0, INT64_MIN, 4, 1},
    {1, -1000, 0, -1, 0, 0},
    {10, 10, INT64_MIN, -2, 9, 5},
    {2, 3, INT64_MAX, INT64_MAX, 0, 0},
    {0, 1000, 0, -1, 0, 0},
    {1, 0, 1000, -2, 0, 0},
    {10, -10, -10, 1, 0, 0},
    {10, -1000, 1000, -3, 0, 0},
    {1, -1, INT64_MIN, 1, 0, 0},
    {5, INT64_MIN, -1, INT64_MIN, 0, 0},
    {1, 1, -1, -1, 0, 0},
    {10, INT64_MAX, 0, 3, 0, 0},
    {10, -11, 0, -3, 0, 0},
    {1, -1000, 1, -2, 0, 0},
    {2, INT64_MIN, -3, 3, 0, 0},
    {2, 1000, 3, -2, 0, 0},
    {1, -1000, INT64_MAX, 3, 0, 1},
    {5, INT64_MAX, INT64_MAX, -3, 0, 0},
    {1, INT64_MIN, -1, 3, 0, 0},
    {2, 1000, 1, -1, 0, 0},
    {0, INT64_MAX, 1000, -3, 0, 0},
    {10, INT64_MAX, INT64_MAX, 1, 0, 0},
    {2, -1000, -3, 3, 0, 0},
    {5, -4, 1, 1, 0, 0},
    {10, -1000, INT64_MAX, -3, 0, 0},
    {2, -3, -1, -3, 0, 0},
    {10, 1000, 9, -3, 0, 0},
    {1, INT64_MAX, 0, 1, 0, 0},
    {5, 0, INT64_MIN, -1, 0, 1},
    {2, 0, 1000, 1, 0, 2},
    {1, 2, 1000, 1, 0, 0},
    {2, 1, 0, -1, 1, 1},
    {5, 1000, INT64_MIN, INT64_MAX, 0, 0},
    {1, 2, -1000, 3, 0, 0},
    {10, INT64_MAX, -11, INT64_MIN, 9, 1},
    {1, -2, INT64_MIN, 3, 0, 0},
    {1, -1000, 2, 1, 0, 1},
    {2, 3, -1000, INT64_MIN, 1, 1},
    {10, 9, -11, 3, 0, 0},
    {10, 11, INT64_MAX, -1, 0, 0},
    {10, -11, 10, INT64_MAX, 0, 1},
    {5, 0, 0, 2, 0, 0},
    {10, -1, 10, INT64_MAX, 9, 1},
    {10, -9, 11, 1, 1, 9},
    {5, 6, -6, INT64_MAX, 0, 0},
    {5, -1, -4, -1, 4, 3},
    {5, -1000, -1000, INT64_MAX, 0, 0},
    {2, 0, 3, 1, 0, 2},
    {5, INT64_MIN, 5, -1, 0, 0},
    {1, 0, -1, 3, 0, 0},
    {5, -1, -4, INT64_MIN, 4, 1},
    {10, 11, -1, INT64_MAX, 0, 0},
    {10, 9, INT64_MIN, INT64_MIN, 9, 1},
    {5, 4, 6, 2, 4, 1},
    {10, -9, -1, -2, 0, 0},
    {5, -4, -1, 3, 1, 1},
    {1, -1, -1, -1, 0, 0},
    {1, INT64_MAX, 0, -1, 0, 0},
    {10, 10, -1, 2, 0, 0},
    {2, -1, -2, INT64_MIN, 1, 1},
    {5, 4, 4, INT64_MAX, 0, 0},
    {2, -2, -1000, -3, 0, 1},
    {10, 1, 1, -3, 0, 0},
    {10, -11, -10, INT64_MAX, 0, 0},
    {0, 1000, 1000, 2, 0, 0},
    {1, -1, 1000, INT64_MIN, 0, 0},
    {5, 0, -1, INT64_MAX, 0, 1},
    {5, 4, 0, INT64_MAX, 0, 0},
    {5, 5, -4, 1, 0, 0},
    {10, 9, -11, -2, 9, 5},
    {10, -1, INT64_MIN, 2, 0, 0},
    {1, -2, 1000, INT64_MIN, 0, 0},
    {1, 1, 2, 3, 0, 0},
    {5, -6, INT64_MAX, INT64_MIN, 0, 0},
    {10, 0, -1, -1, 0, 0},
    {1, -2, 0, 1, 0, 0},
    {1, -1000, 1000, 2, 0, 1},
    {5, 0, -1000, -2, 0, 1},
    {10, -9, -11, 3, 0, 0},
    {5, -4, -1000, INT64_MIN, 1, 1},
    {5, INT64_MAX, -1000, -2, 4, 3},
    {5, 5, INT64_MIN, INT64_MAX, 0, 0},
    {0, 0, -1, 1, 0, 0},
    {10, -1, -1, INT64_MAX, 0, 0},
    {5, 5, 5, -1, 0, 0},
    {2, -1, 2, 1, 1, 1},
    {1, INT64_MAX, -1, -1, 0, 0},
    {10, 1, INT64_MAX, -2, 0, 0},
    {1, -1000, 1, 3, 0, 1},
    {2, 1000, -2, -1, 1, 1},
    {5, -4, -4, INT64_MAX, 0, 0},
    {2, INT64_MIN, 3, -1, 0, 0},
    {5, -1000, INT64_MIN, 1, 0, 0},
    {10, INT64_MIN, -1000, INT64_MAX, 0, 0},
    {5, INT64_MAX, 0, INT64_MAX, 0, 0},
    {10, 9, -11, -1, 9, 10},
    {1, 0, -2, 1, 0, 0},
    {2, -1, 0, 3, 0, 0},
    {10, -9, -1, INT64_MIN, 0, 0},
    {10, INT64_MIN, 0, 3, 0, 0},
    {10, INT64_MAX, -9, -3, 9, 3},
    {5, -5, 4, 1, 0, 4},
    {2, -1000, 1, -3, 0, 0},
    {10, -11, INT64_MAX, INT64_MAX, 0, 1},
    {10, INT64_MAX, -1, -1, 0, 0},
    {5, -5, 4, -2, 0, 0},
    {10, -1000, 9, INT64_MAX, 0, 1},
    {5, 5, INT64_MAX, INT64_MIN, 0, 0},
    {5, 1000, 5, 1, 0, 0},
    {2, INT64_MAX, 0, 3, 0, 0},
    {2, -2, INT64_MIN, -2, 0, 1},
    {1, 0, 0, -1, 0, 0},
    {2, 0, -1, -1, 0, 0},
    {2, -2, INT64_MIN, INT64_MIN, 0, 1},
    {2, INT64_MAX, 1, -2, 0, 0},
    {2, INT64_MAX, 2, INT64_MIN, 0, 0},
    {0, -1000, 1000, 3, 0, 0},
    {10, 1, -10, -2, 1, 1},
    {2, 0, INT64_MAX, -3, 0, 0},
    {5, -6, -1, -2, 0, 0},
    {5, -5, INT64_MAX, 2, 0, 3},
    {0, INT64_MIN, 1, 2, 0, 0},
    {2, -3, 1, 2, 0, 1},
    {10, -1000, INT64_MAX, -2, 0, 0},
    {10, 1000, -11, -1, 9, 10},
    {5, 6, 6, -2, 0, 0},
    {5, 0, 6, INT64_MAX, 0, 1},
    {2, INT64_MIN, -1, -2, 0, 0},
    {10, 10, 9, INT64_MAX, 0, 0},
    {1, INT64_MIN, 1000, INT64_MAX, 0, 1},
    {10, -1, INT64_MIN, -2, 9, 5},
    {5, INT64_MAX, 4, 3, 0, 0},
    {10, INT64_MIN, -11, 1, 0, 0},
    {10, INT64_MIN, -10, -2, 0, 0},
    {5, INT64_MAX, 6, 1, 0, 0},
    {1, 2, 1000, -2, 0, 0},
    {10, 1, INT64_MIN, 1, 0, 0},
    {10, INT64_MIN, -1, 1, 0, 9},
    {1, -1000, INT64_MAX, -3, 0, 0},
    {2, 1, 3, 2, 1, 1},
    {1, -2, 2, -1, 0, 0},
    {2, 3, -1, INT64_MAX, 0, 0},
    {10, -10, 11, 2, 0, 5},
    {2, -1, -1000, 2, 0, 0},
    {1, 1000, 1, 1, 0, 0},
    {5, 4, 0, -3, 4, 2},
    {1, INT64_MIN, 2, 3, 0, 1},
    {1, 2, 2, 3, 0, 0},
    {0, INT64_MIN, INT64_MIN, 2, 0, 0},
    {10, 1000, -9, -1, 9, 8},
    {1, 2, 1, -1, 0, 0},
    {5, 6, -4, INT64_MAX, 0, 0},
    {0, 0, 1000, 1, 0, 0},
    {1, -1, INT64_MIN, -2, 0, 1},
    {2, 3, -2, INT64_MIN, 1, 1},
    {5, 1000, -4, INT64_MAX, 0, 0},
    {2, -3, 1000, 1, 0, 2},
    {5, -1000, 0, 3, 0, 0},
    {5, 5, -1000, 2, 0, 0},
    {5, 6, -1, -1, 0, 0},
    {10, 0, -1, -2, 0, 0},
    {2, INT64_MIN, INT64_MIN, 3, 0, 0},
    {1, INT64_MAX, -1000, -2, 0, 1},
    {10, 1, 0, INT64_MAX, 0, 0},
    {10, -1, 11, 2, 9, 1},
    {10, 0, 1000, INT64_MIN, 0, 0},
    {10, 1, -11, -1, 1, 2},
    {5, 0, -5, INT64_MAX, 0, 0},
    {1, 0, 1000, -1, 0, 0},
    {2, -3, -1, -2, 0, 0},
    {1, 2, 2, 2, 0, 0},
    {5, 4, 5, 3, 4, 1},
    {5, -6, 1, -2, 0, 0},
    {10, 0, 11, 1, 0, 10},
    {2, -1, INT64_MIN, 3, 0, 0},
    {10, 10, 10, -3, 0, 0},
    {0, 0, -1, -3, 0, 0},
    {2, 3, -1000, 2, 0, 0},
    {10, 11, 9, INT64_MIN, 0, 0},
    {5, 6, -6, INT64_MIN, 4, 1},
    {2, -3, 2, 1, 0, 2},
    {10, 1000, 1000, 2, 0, 0},
    {0, 0, INT64_MAX, -3, 0, 0},
    {10, 11, 9, INT64_MAX, 0, 0},
    {5, -1, -6, -3, 4, 2},
    {1, 1, -1, -3, 0, 0},
    {5, -6, -5, INT64_MIN, 0, 0},
    {10, 10, 1000, INT64_MAX, 0, 0},
    {5, 6, 4, 1, 0, 0},
    {2, -1, 1, 1, 0, 0},
    {5, 5, 5, -3, 0, 0},
    {2, 1000, 3, 2, 0, 0},
    {10, 1000, INT64_MIN, 3, 0, 0},
    {10, 1000, 10, -2, 0, 0},
    {10, 9, 9, INT64_MAX, 0, 0},
    {5, 1, 5, 1, 1, 4},
    {2, 1000, 3, -1, 0, 0},
    {2, 2, -1000, INT64_MAX, 0, 0},
    {5, INT64_MIN, -4, -3, 0, 0},
    {10, INT64_MIN, -1, 3, 0, 3},
    {2, INT64_MAX, -1000, 2, 0, 0},
    {2, 2, 1, -3, 0, 0},
    {10, 10, 1000, 1, 0, 0},
    {10, 1, 1000, -2, 0, 0},
    {5, 5, 5, -2, 0, 0},
    {0, 1, -1000, -3, 0, 0},
    {0, 1, INT64_MIN, -2, 0, 0},
    {5, -5, 5, -2, 0, 0},
    {10, 0, -10, -2, 0, 0},
    {5, -6, INT64_MIN, INT64_MAX, 0, 0},
    {2, 2, INT64_MIN, 3, 0, 0},
    {5, 4, 1000, 1, 4, 1},
    {10, -9, -10, INT64_MIN, 1, 1},
    {5, 5, -5, -1, 4, 4},
    {5, 6, -1, INT64_MIN, 0, 0},
    {1, 0, -1000, INT64_MIN, 0, 1},
    {2, 1000, 0, INT64_MAX, 0, 0},
    {1, 2, 2, 1, 0, 0},
    {2, INT64_MAX, -1000, 3, 0, 0},
    {10, 0, -1000, 3, 0, 0},
    {2, 2, -2, -1, 1, 1},
    {5, 4, -4, 3, 0, 0},
    {2, 3, INT64_MIN, 3, 0, 0},
    {10, 1, -1000, 2, 0, 0},
    {0, INT64_MIN, -1000, INT64_MIN, 0, 0},
    {10, 0, 11, INT64_MIN, 0, 0},
    {5, 4, 6, INT64_MAX, 4, 1},
    {1, 0, 2, 3, 0, 1},
    {1, INT64_MAX, 2, 3, 0, 0},
    {5, INT64_MAX, -4, 3, 0, 0},
    {2, 2, 1, 1, 0, 0},
    {10, 0, 10, -2, 0, 0},
    {2, 0, 1, INT64_MAX, 0, 1},
    {10, -10, -10, 3, 0, 0},
    {5, 1, 1000, INT64_MIN, 0, 0},
    {1, 0, INT64_MAX, 3, 0, 1},
    {5, INT64_MAX, 1000, INT64_MAX, 0, 0},
    {10, -1, 1, 3, 0, 0},
    {10, INT64_MIN, 0, 1, 0, 0},
    {1, 0, 2, -1, 0, 0},
    {2, -2, 3, -3, 0, 0},
    {2, -1, 1000, 1, 1, 1},
    {2, INT64_MIN, 1, 1, 0, 1},
    {0, 1, INT64_MIN, 2, 0, 0},
    {2, -2, INT64_MIN, INT64_MAX, 0, 0},
    {10, -1, 10, -2, 0, 0},
    {2, -3, 1, -3, 0, 0},
    {10, 0, -1, -3, 0, 0},
    {5, 5, -4, 3, 0, 0},
    {2, -2, 0, -3, 0, 0},
    {10, INT64_MAX, -10, INT64_MAX, 0, 0},
    {10, INT64_MAX, -10, -1, 9, 9},
    {2, INT64_MIN, INT64_MAX, 2, 0, 1},
    {0, 0, INT64_MIN, INT64_MIN, 0, 0},
    {0, -1, INT64_MIN, -2, 0, 0},
    {1, 2, 2, -3, 0, 0},
    {10, 11, 1, 2, 0, 0},
    {2, -1000, 1000, 1, 0, 2},
    {10, -10, -10, 2, 0, 0},
    {2, 2, -1000, -1, 1, 2},
    {2, 3, 2, 1, 0, 0},
    {0, 1, INT64_MIN, -3, 0, 0},
    {5, -1000, -1, INT64_MIN, 0, 0},
    {2, 3, 3, INT64_MIN, 0, 0},
    {5, -4, 6, -1, 0, 0},
    {10, 9, 1, 2, 0, 0},
    {5, INT64_MIN, -1, INT64_MAX, 0, 1},
    {5, 1, -1, 3, 1, 1},
    {5, -6, -1000, 1, 0, 0},
    {10, 1000, INT64_MAX, -1, 0, 0},
    {1, -1000, 1000, 3, 0, 1},
    {5, 5, 1, INT64_MAX, 0, 0},
    {10, -1, -11, 2, 0, 0},
    {10, 10, 11, 2, 0, 0},
    {10, -11, -11, 2, 0, 0},
    {10, 9, 1, -3, 9, 3},
    {2, INT64_MIN, 1000, INT64_MIN, 0, 0},
    {10, 11, INT64_MAX, -2, 0, 0},
    {2, -2, -1000, -1, 0, 1},
    {10, 11, -9, 1, 0, 0},
    {10, 10, -10, INT64_MAX, 0, 0},
    {0, -1, 1000, 2, 0, 0},
    {10, -10, 10, -3, 0, 0},
    {2, 1, INT64_MIN, -2, 1, 1},
    {0, INT64_MIN, 1, 1, 0, 0},
    {2, -3, INT64_MAX, -1, 0, 0},
    {2, 0, INT64_MIN, -1, 0, 1},
    {2, -3, INT64_MIN, INT64_MAX, 0, 0},
    {10, 0, -9, INT64_MAX, 0, 1},
    {1, INT64_MAX, 2, -3, 0, 0},
    {10, INT64_MAX, 1000, INT64_MAX, 0, 0},
    {1, -1000, INT64_MAX, 2, 0, 1},
    {10, 11, 1000, -1, 0, 0},
    {10, INT64_MAX, 11, INT64_MAX, 0, 0},
    {10, 1, -1000, 1, 0, 0},
    {1, 1000, -1000, 2, 0, 0},
    {1, -1000, -1, 2, 0, 0},
    {2, 1, 3, INT64_MIN, 0, 0},
    {5, -5, 1, 1, 0, 1},
    {0, INT64_MAX, -1000, 2, 0, 0},
    {1, 2, -1000, -2, 0, 1},
    {10, 10, INT64_MIN, INT64_MIN, 9, 1},
    {10, -9, 10, 1, 1, 9},
    {1, -2, -1000, INT64_MAX, 0, 0},
    {10, -10, INT64_MAX, INT64_MIN, 0, 0},
    {5, 1, -4, INT64_MIN, 0, 0},
    {10, 9, 1000, -3, 0, 0},
    {10, 10, -1, -1, 0, 0},
    {2, 2, 1, 2, 0, 0},
    {5, -5, 1, 3, 0, 1},
    {10, -9, 10, 2, 1, 5},
    {10, 10, -1000, 3, 0, 0},
    {10, 1000, -1000, 1, 0, 0},
    {10, 11, -10, INT64_MAX, 0, 0},
    {5, -6, -1000, 3, 0, 0},
    {2, 2, 1000, -1, 0, 0},
    {10, -9, -9, 3, 0, 0},
    {2, -1000, 1, INT64_MIN, 0, 0},
    {10, -1000, 11, 2, 0, 5},
    {1, INT64_MAX, INT64_MAX, 1, 0, 0},
    {10, -10, 1000, -3, 0, 0},
    {5, 0, 4, 1, 0, 4},
    {1, -1, -2, INT64_MAX, 0, 0},
    {2, -3, INT64_MIN, -2, 0, 1},
    {10, INT64_MIN, INT64_MIN, -2, 0, 1},
    {1, -1000, -1000, -3, 0, 1},
    {2, -1000, -1000, -3, 0, 1},
    {5, INT64_MIN, -1000, -2, 0, 1},
    {1, -2, -1000, INT64_MIN, 0, 1},
    {2, INT64_MIN, INT64_MIN, INT64_MIN, 0, 1},
    {5, -1000, -6, -2, 0, 1},
    {2, INT64_MIN, INT64_MIN, -1, 0, 1},
    {2, -3, -1000, -1, 0, 1},
    {1, -2, -2, INT64_MIN, 0, 1},
    {10, INT64_MIN, -11, INT64_MIN, 0, 1},
    {2, -1000, -3, -1, 0, 1},
    {1, -2, INT64_MIN, -1, 0, 1},
    {5, -6, -1000, -2, 0, 1},
    {10, -1000, -1000, -1, 0, 1},
    {2, INT64_MIN, -1000, -2, 0, 1},
    {10, -1000, -1000, -3, 0, 1},
    {5, -1000, INT64_MIN, -2, 0, 1},
    {5, -6, -6, -3, 0, 1},
    {1, -2, -1000, -1, 0, 1},
    {1, -1000, -2, -1, 0, 1},
    {5, -1000, -1000, -3, 0, 1},
    {2, -1000, -1000, INT64_MIN, 0, 1},
    {2, -3, -1000, -2, 0, 1},
    {2, -1000, INT64_MIN, INT64_MIN, 0, 1},
    {2, INT64_MIN, -1000, INT64_MIN, 0, 1},
    {2, -1000, -1000, -2, 0, 1},
    {1, -2, INT64_MIN, -2, 0, 1},
    {2, INT64_MIN, -3, -2, 0, 1},
};
/* numpy.pad on x = arange(rows*cols).reshape(rows, cols) (int64); pads {b0,b1,e0,e1} */
static const int64_t pad_np_expect[] = {
    -7, -7, 0,  1,  -7, -7, 2,  3,  -7, -7, 4,  5,  -7, -7, -7, -7, -7, 0,  1,  -7, -7, 2,  3,  -7,
    -7, 4,  5,  -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 0,  1,  2,  -7, -7, -7, -7,
    3,  4,  5,  -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 0,  1,  2,  3,  -7, -7, -7, -7, -7, -7, 4,  5,  6,
    7,  -7, -7, -7, -7, -7, -7, 8,  9,  10, 11, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 0,  1,  2,  3,  -7, -7, -7, -7, -7, -7, 0,
    1,  2,  3,  -7, -7, -7, -7, -7, -7, -7, -7, 0,  1,  2,  -7, -7, -7, -7, -7, -7, -7, -7, -7, 3,
    4,  5,  -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, 0,  1,  2,  -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 3,  4,  5,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 6,  7,  8,  -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7,
    -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, -7, 0,  -7, -7, -7, -7, -7, 0,  1,
    0,  1,  2,  3,  2,  3,  4,  5,  4,  5,  3,  2,  3,  2,  1,  0,  1,  0,  3,  2,  3,  2,  5,  4,
    5,  4,  3,  2,  3,  2,  5,  4,  3,  4,  5,  4,  3,  2,  1,  0,  1,  2,  1,  0,  5,  4,  3,  4,
    5,  4,  3,  2,  1,  0,  1,  2,  1,  0,  11, 10, 9,  8,  9,  10, 11, 10, 9,  8,  7,  6,  5,  4,
    5,  6,  7,  6,  5,  4,  3,  2,  1,  0,  1,  2,  3,  2,  1,  0,  7,  6,  5,  4,  5,  6,  7,  6,
    5,  4,  11, 10, 9,  8,  9,  10, 11, 10, 9,  8,  7,  6,  5,  4,  5,  6,  7,  6,  5,  4,  3,  2,
    1,  0,  1,  2,  3,  2,  1,  0,  3,  2,  1,  0,  1,  2,  3,  2,  1,  0,  3,  2,  1,  0,  1,  2,
    3,  2,  1,  0,  1,  0,  1,  2,  1,  0,  1,  2,  1,  0,  1,  2,  4,  3,  4,  5,  4,  3,  4,  5,
    4,  3,  4,  5,  1,  2,  1,  0,  1,  2,  1,  0,  1,  2,  1,  0,  1,  2,  1,  0,  4,  5,  4,  3,
    4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  7,  8,  7,  6,  7,  8,  7,  6,  7,  8,  7,  6,
    7,  8,  7,  6,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  1,  2,  1,  0,
    1,  2,  1,  0,  1,  2,  1,  0,  1,  2,  1,  0,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,
    4,  5,  4,  3,  7,  8,  7,  6,  7,  8,  7,  6,  7,  8,  7,  6,  7,  8,  7,  6,  4,  5,  4,  3,
    4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  1,  2,  1,  0,  1,  2,  1,  0,  1,  2,  1,  0,
    1,  2,  1,  0,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,  7,  8,  7,  6,
    7,  8,  7,  6,  7,  8,  7,  6,  7,  8,  7,  6,  4,  5,  4,  3,  4,  5,  4,  3,  4,  5,  4,  3,
    4,  5,  4,  3,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  1,
    2,  2,  2,  3,  4,  4,  4,  5,  0,  0,  1,  1,  0,  0,  1,  1,  2,  2,  3,  3,  4,  4,  5,  5,
    4,  4,  5,  5,  0,  0,  0,  1,  2,  2,  2,  0,  0,  0,  1,  2,  2,  2,  3,  3,  3,  4,  5,  5,
    5,  3,  3,  3,  4,  5,  5,  5,  0,  0,  0,  0,  1,  2,  3,  3,  3,  3,  0,  0,  0,  0,  1,  2,
    3,  3,  3,  3,  0,  0,  0,  0,  1,  2,  3,  3,  3,  3,  4,  4,  4,  4,  5,  6,  7,  7,  7,  7,
    8,  8,  8,  8,  9,  10, 11, 11, 11, 11, 8,  8,  8,  8,  9,  10, 11, 11, 11, 11, 8,  8,  8,  8,
    9,  10, 11, 11, 11, 11, 0,  0,  0,  0,  1,  2,  3,  3,  3,  3,  0,  0,  0,  0,  1,  2,  3,  3,
    3,  3,  0,  0,  0,  0,  0,  0,  1,  2,  2,  2,  2,  2,  3,  3,  3,  3,  3,  3,  4,  5,  5,  5,
    5,  5,  0,  0,  0,  0,  0,  0,  0,  0,  1,  2,  2,  2,  2,  2,  2,  2,  0,  0,  0,  0,  0,  0,
    0,  0,  1,  2,  2,  2,  2,  2,  2,  2,  0,  0,  0,  0,  0,  0,  0,  0,  1,  2,  2,  2,  2,  2,
    2,  2,  0,  0,  0,  0,  0,  0,  0,  0,  1,  2,  2,  2,  2,  2,  2,  2,  0,  0,  0,  0,  0,  0,
    0,  0,  1,  2,  2,  2,  2,  2,  2,  2,  3,  3,  3,  3,  3,  3,  3,  3,  4,  5,  5,  5,  5,  5,
    5,  5,  6,  6,  6,  6,  6,  6,  6,  6,  7,  8,  8,  8,  8,  8,  8,  8,  6,  6,  6,  6,  6,  6,
    6,  6,  7,  8,  8,  8,  8,  8,  8,  8,  6,  6,  6,  6,  6,  6,  6,  6,  7,  8,  8,  8,  8,  8,
    8,  8,  6,  6,  6,  6,  6,  6,  6,  6,  7,  8,  8,  8,  8,  8,  8,  8,  6,  6,  6,  6,  6,  6,
    6,  6,  7,  8,  8,  8,  8,  8,  8,  8,  6,  6,  6,  6,  6,  6,  6,  6,  7,  8,  8,  8,  8,  8,
    8,  8,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  1,  0,  1,  2,  3,
    2,  3,  4,  5,  4,  5,  5,  4,  5,  4,  1,  0,  1,  0,  3,  2,  3,  2,  5,  4,  5,  4,  1,  0,
    1,  0,  4,  5,  3,  4,  5,  3,  4,  1,  2,  0,  1,  2,  0,  1,  4,  5,  3,  4,  5,  3,  4,  1,
    2,  0,  1,  2,  0,  1,  5,  6,  7,  4,  5,  6,  7,  4,  5,  6,  9,  10, 11, 8,  9,  10, 11, 8,
    9,  10, 1,  2,  3,  0,  1,  2,  3,  0,  1,  2,  5,  6,  7,  4,  5,  6,  7,  4,  5,  6,  9,  10,
    11, 8,  9,  10, 11, 8,  9,  10, 1,  2,  3,  0,  1,  2,  3,  0,  1,  2,  5,  6,  7,  4,  5,  6,
    7,  4,  5,  6,  1,  2,  3,  0,  1,  2,  3,  0,  1,  2,  1,  2,  3,  0,  1,  2,  3,  0,  1,  2,
};
static const int64_t pad_np_cases[][8] = {
    /* mode, rows, cols, b0, b1, e0, e1, n_out */
    {0, 3, 2, 0, 2, 0, 0, 12}, {0, 3, 2, 1, 1, 1, 1, 20},  {0, 2, 3, 1, 2, 1, 2, 28},
    {0, 3, 4, 2, 3, 2, 3, 70}, {0, 1, 4, 0, 3, 0, 3, 10},  {0, 4, 1, 3, 0, 3, 0, 10},
    {0, 2, 3, 0, 5, 0, 4, 24}, {0, 3, 3, 4, 7, 5, 6, 192}, {0, 1, 1, 2, 2, 1, 1, 16},
    {1, 3, 2, 0, 2, 0, 0, 12}, {1, 3, 2, 1, 1, 1, 1, 20},  {1, 2, 3, 1, 2, 1, 2, 28},
    {1, 3, 4, 2, 3, 2, 3, 70}, {1, 1, 4, 0, 3, 0, 3, 10},  {1, 4, 1, 3, 0, 3, 0, 10},
    {1, 2, 3, 0, 5, 0, 4, 24}, {1, 3, 3, 4, 7, 5, 6, 192}, {1, 1, 1, 2, 2, 1, 1, 16},
    {2, 3, 2, 0, 2, 0, 0, 12}, {2, 3, 2, 1, 1, 1, 1, 20},  {2, 2, 3, 1, 2, 1, 2, 28},
    {2, 3, 4, 2, 3, 2, 3, 70}, {2, 1, 4, 0, 3, 0, 3, 10},  {2, 4, 1, 3, 0, 3, 0, 10},
    {2, 2, 3, 0, 5, 0, 4, 24}, {2, 3, 3, 4, 7, 5, 6, 192}, {2, 1, 1, 2, 2, 1, 1, 16},
    {3, 3, 2, 0, 2, 0, 0, 12}, {3, 3, 2, 1, 1, 1, 1, 20},  {3, 2, 3, 1, 2, 1, 2, 28},
    {3, 3, 4, 2, 3, 2, 3, 70}, {3, 1, 4, 0, 3, 0, 3, 10},  {3, 4, 1, 3, 0, 3, 0, 10},
};

static void test_slice_resolve_table(void **state) {
  (void)state;
  int n = (int)(sizeof slice_table / sizeof slice_table[0]);
  for (int i = 0; i < n; i++) {
    const int64_t *t = slice_table[i];
    int64_t s = -99, len = -99;
    int rc = cnnrt_slice_resolve(t[0], t[1], t[2], t[3], &s, &len);
    if (rc != 0 || s != t[4] || len != t[5]) {
      print_error("row %d: dim %lld start %lld end %lld step %lld -> %lld,%lld want %lld,%lld\n", i,
                  (long long)t[0], (long long)t[1], (long long)t[2], (long long)t[3], (long long)s,
                  (long long)len, (long long)t[4], (long long)t[5]);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(s, t[4]);
    assert_int_equal(len, t[5]);
  }
}

static void test_slice_resolve_hand(void **state) {
  (void)state;
  int64_t s, n;
  /* ONNX example 2: starts [0,1] ends [-1,1000] on [2,4] -> rows 0..0, cols 1..3 */
  cnnrt_slice_resolve(2, 0, -1, 1, &s, &n);
  assert_int_equal(s, 0);
  assert_int_equal(n, 1);
  cnnrt_slice_resolve(4, 1, 1000, 1, &s, &n);
  assert_int_equal(s, 1);
  assert_int_equal(n, 3);
  /* x[20:0:-1] on 20 -> 19..1 (19 elements); x[10:0:-3] on 10 -> 9,6,3; x[4:1:-2] on 5 -> 4,2 */
  cnnrt_slice_resolve(20, 20, 0, -1, &s, &n);
  assert_int_equal(s, 19);
  assert_int_equal(n, 19);
  cnnrt_slice_resolve(10, 10, 0, -3, &s, &n);
  assert_int_equal(s, 9);
  assert_int_equal(n, 3);
  cnnrt_slice_resolve(5, 4, 1, -2, &s, &n);
  assert_int_equal(s, 4);
  assert_int_equal(n, 2);
  /* full reverse with INT64_MIN end */
  cnnrt_slice_resolve(7, -1, INT64_MIN, -1, &s, &n);
  assert_int_equal(s, 6);
  assert_int_equal(n, 7);
  /* start out of bounds: empty */
  cnnrt_slice_resolve(10, 1000, 1000, 1, &s, &n);
  assert_int_equal(n, 0);
  /* step 0 is invalid */
  assert_int_equal(cnnrt_slice_resolve(10, 0, 5, 0, &s, &n), -1);
  assert_int_equal(n, 0);
}

static void naive_slice(int64_t rank, const int64_t *in, const int64_t *out, const int64_t *start,
                        const int64_t *step, int64_t es, const unsigned char *x, unsigned char *y) {
  int64_t oi[CNNRT_MAX_RANK], ii[CNNRT_MAX_RANK];
  int64_t n = prod(rank, out);
  for (int64_t lin = 0; lin < n; lin++) {
    unravel(lin, rank, out, oi);
    for (int64_t a = 0; a < rank; a++) {
      ii[a] = start[a] + oi[a] * step[a];
      assert_true(ii[a] >= 0 && ii[a] < in[a]);
    }
    memcpy(y + lin * es, x + ravel(rank, in, ii) * es, (size_t)es);
  }
}

static void test_slice_random(void **state) {
  (void)state;
  static const int64_t steps[] = {1, 1, 2, 3, -1, -1, -2, -3, 5};
  for (int it = 0; it < 600; it++) {
    cnnrt_slice_params p;
    int64_t rank = rndi(1, 5), es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)];
    p.rank = rank;
    p.elem_size = es;
    for (int64_t a = 0; a < CNNRT_MAX_RANK; a++) {
      p.in[a] = p.out[a] = p.step[a] = 1;
      p.start[a] = 0;
    }
    for (int64_t a = 0; a < rank; a++) {
      int64_t d = rndi(0, 24) == 0 ? 0 : rndi(1, 6);
      p.in[a] = d;
      if (rndi(0, 2) == 0) { /* axis not sliced */
        p.out[a] = d;
        continue;
      }
      int64_t raw[2];
      for (int k = 0; k < 2; k++) {
        int64_t u = rndi(0, 9);
        raw[k] = u == 0 ? INT64_MIN : (u == 1 ? INT64_MAX : rndi(-d - 2, d + 2));
      }
      int64_t st = steps[rndi(0, 8)], s0, len;
      assert_int_equal(cnnrt_slice_resolve(d, raw[0], raw[1], st, &s0, &len), 0);
      p.start[a] = s0;
      p.out[a] = len;
      p.step[a] = st;
    }
    int64_t nbx = prod(rank, p.in) * es, nby = prod(rank, p.out) * es;
    unsigned char *x = rand_buf(nbx), *y = out_buf(nby), *ref = out_buf(nby);
    naive_slice(rank, p.in, p.out, p.start, p.step, es, x, ref);
    cnnrt_slice(&p, x, y);
    assert_memory_equal(y, ref, (size_t)nby);
    check_guard(y, nby);
    free(x);
    free(y);
    free(ref);
  }
}

/* The ONNX neg_steps example x[20:0:-1, 10:0:-3, 4:1:-2] on [20,10,5], plus a large inner
 * contiguous slice (memcpy runs) and a reversed inner axis. */
static void test_slice_onnx_examples(void **state) {
  (void)state;
  const int64_t in[3] = {20, 10, 5};
  const int64_t starts[3] = {20, 10, 4}, ends[3] = {0, 0, 1}, steps[3] = {-1, -3, -2};
  cnnrt_slice_params p;
  memset(&p, 0, sizeof p);
  p.rank = 3;
  p.elem_size = 4;
  for (int a = 0; a < CNNRT_MAX_RANK; a++) {
    p.in[a] = p.out[a] = p.step[a] = 1;
  }
  for (int a = 0; a < 3; a++) {
    p.in[a] = in[a];
    p.step[a] = steps[a];
    cnnrt_slice_resolve(in[a], starts[a], ends[a], steps[a], &p.start[a], &p.out[a]);
  }
  assert_int_equal(p.out[0], 19);
  assert_int_equal(p.out[1], 3);
  assert_int_equal(p.out[2], 2);
  float x[1000], y[19 * 3 * 2];
  for (int i = 0; i < 1000; i++) {
    x[i] = (float)i;
  }
  cnnrt_slice(&p, x, y);
  for (int i = 0; i < 19; i++) {
    for (int j = 0; j < 3; j++) {
      for (int k = 0; k < 2; k++) {
        assert_true(y[(i * 3 + j) * 2 + k] == x[(19 - i) * 50 + (9 - 3 * j) * 5 + (4 - 2 * k)]);
      }
    }
  }
}

/* ---- Concat / Split ---------------------------------------------------------------------- */

static void test_concat_split_random(void **state) {
  (void)state;
  for (int it = 0; it < 400; it++) {
    int64_t rank = rndi(1, 4), axis = rndi(0, rank - 1), es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)];
    int64_t nin = rndi(1, 4);
    int64_t dims[CNNRT_MAX_RANK], alen[4], total = 0;
    for (int64_t a = 0; a < rank; a++) {
      dims[a] = rndi(1, 4);
    }
    for (int64_t k = 0; k < nin; k++) {
      alen[k] = rndi(0, 3);
      total += alen[k];
    }
    int64_t outer = 1, inner = 1;
    for (int64_t a = 0; a < axis; a++) {
      outer *= dims[a];
    }
    for (int64_t a = axis + 1; a < rank; a++) {
      inner *= dims[a];
    }
    unsigned char *xs[4];
    for (int64_t k = 0; k < nin; k++) {
      xs[k] = rand_buf(outer * alen[k] * inner * es);
    }
    int64_t nby = outer * total * inner * es;
    unsigned char *y = out_buf(nby), *ref = out_buf(nby);
    /* naive: walk the output, find the input owning each axis coordinate */
    int64_t od[CNNRT_MAX_RANK], oi[CNNRT_MAX_RANK];
    memcpy(od, dims, sizeof od);
    od[axis] = total;
    for (int64_t lin = 0; lin < outer * total * inner; lin++) {
      unravel(lin, rank, od, oi);
      int64_t c = oi[axis], k = 0;
      while (c >= alen[k]) {
        c -= alen[k];
        k++;
      }
      int64_t xd[CNNRT_MAX_RANK], xi[CNNRT_MAX_RANK];
      memcpy(xd, dims, sizeof xd);
      memcpy(xi, oi, sizeof xi);
      xd[axis] = alen[k];
      xi[axis] = c;
      memcpy(ref + lin * es, xs[k] + ravel(rank, xd, xi) * es, (size_t)es);
    }
    int64_t off = 0;
    for (int64_t k = 0; k < nin; k++) {
      cnnrt_concat_part(outer, alen[k] * inner * es, total * inner * es, off, xs[k], y);
      off += alen[k] * inner * es;
    }
    assert_memory_equal(y, ref, (size_t)nby);
    check_guard(y, nby);
    /* split it back */
    off = 0;
    for (int64_t k = 0; k < nin; k++) {
      int64_t nb = outer * alen[k] * inner * es;
      unsigned char *part = out_buf(nb);
      cnnrt_split_part(outer, total * inner * es, alen[k] * inner * es, off, y, part);
      assert_memory_equal(part, xs[k], (size_t)nb);
      check_guard(part, nb);
      off += alen[k] * inner * es;
      free(part);
      free(xs[k]);
    }
    free(y);
    free(ref);
  }
}

/* ---- Pad --------------------------------------------------------------------------------- */

/* Naive Pad: crop by the negative pads, then for each output coordinate either the cropped
 * data, the constant, or (edge/reflect/wrap) a source found by literally reflecting/wrapping
 * step by step, like numpy does it. An axis whose cropped data is empty yields the constant. */
static void naive_pad(int64_t rank, const int64_t *in, const int64_t *out, const int64_t *pb,
                      int64_t mode, int64_t es, const unsigned char *x, const unsigned char *cval,
                      unsigned char *y) {
  int64_t oi[CNNRT_MAX_RANK], ii[CNNRT_MAX_RANK];
  static const unsigned char zeros[64];
  int64_t n_out = prod(rank, out);
  for (int64_t lin = 0; lin < n_out; lin++) {
    unravel(lin, rank, out, oi);
    int is_const = 0;
    for (int64_t a = 0; a < rank; a++) {
      int64_t pe = out[a] - in[a] - pb[a];
      int64_t lo = pb[a] < 0 ? -pb[a] : 0;
      int64_t hi = in[a] - (pe < 0 ? -pe : 0);
      int64_t n = hi > lo ? hi - lo : 0;
      int64_t front = pb[a] > 0 ? pb[a] : 0;
      int64_t j = oi[a] - front;
      if (j < 0 || j >= n) {
        if (mode == 0 || n == 0) {
          is_const = 1;
          break;
        }
        if (mode == 2) {
          j = j < 0 ? 0 : n - 1;
        } else if (mode == 1) {
          if (n == 1) {
            j = 0;
          }
          while (j < 0 || j >= n) {
            if (j < 0) {
              j = -j;
            }
            if (j >= n) {
              j = 2 * (n - 1) - j;
            }
          }
        } else {
          while (j < 0) {
            j += n;
          }
          while (j >= n) {
            j -= n;
          }
        }
      }
      ii[a] = lo + j;
    }
    if (is_const) {
      memcpy(y + lin * es, cval != NULL ? cval : zeros, (size_t)es);
    } else {
      memcpy(y + lin * es, x + ravel(rank, in, ii) * es, (size_t)es);
    }
  }
}

static void run_pad(int64_t rank, const int64_t *in, const int64_t *pb, const int64_t *pe,
                    int64_t mode, int64_t es, int null_cval) {
  cnnrt_pad_params p;
  p.rank = rank;
  p.mode = mode;
  p.elem_size = es;
  for (int64_t a = 0; a < CNNRT_MAX_RANK; a++) {
    p.in[a] = a < rank ? in[a] : 1;
    p.pad_begin[a] = a < rank ? pb[a] : 0;
    p.out[a] = a < rank ? in[a] + pb[a] + pe[a] : 1;
    assert_true(p.out[a] >= 0);
  }
  int64_t nbx = prod(rank, p.in) * es, nby = prod(rank, p.out) * es;
  unsigned char *x = rand_buf(nbx), *y = out_buf(nby), *ref = out_buf(nby);
  unsigned char *cv = null_cval ? NULL : rand_buf(es);
  if (cv != NULL && rndi(0, 3) == 0) {
    memset(cv, 0, (size_t)es); /* exercises the memset path */
  }
  naive_pad(rank, p.in, p.out, p.pad_begin, mode, es, x, cv, ref);
  cnnrt_pad(&p, x, cv, y);
  assert_memory_equal(y, ref, (size_t)nby);
  check_guard(y, nby);
  free(x);
  free(y);
  free(ref);
  free(cv);
}

static void test_pad_random(void **state) {
  (void)state;
  for (int it = 0; it < 1500; it++) {
    int64_t rank = rndi(1, 4), in[CNNRT_MAX_RANK], pb[CNNRT_MAX_RANK], pe[CNNRT_MAX_RANK];
    int64_t mode = rndi(0, 3), es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)];
    for (int64_t a = 0; a < rank; a++) {
      in[a] = rndi(0, 30) == 0 ? 0 : rndi(1, 4);
      int64_t u = rndi(0, 3);
      if (u == 0) { /* unpadded axis */
        pb[a] = pe[a] = 0;
      } else {
        pb[a] = rndi(-3, 5);
        pe[a] = rndi(-3, 5);
      }
      if (in[a] + pb[a] + pe[a] < 0) {
        pe[a] = -in[a] - pb[a];
      }
    }
    run_pad(rank, in, pb, pe, mode, es, rndi(0, 9) == 0);
  }
}

/* Reflect/wrap/edge with pads of exactly dim-1 on every side, and crop+pad on the same axis. */
static void test_pad_edges(void **state) {
  (void)state;
  for (int64_t mode = 0; mode < 4; mode++) {
    for (int e = 0; e < 4; e++) {
      const int64_t in[4] = {2, 3, 4, 5}, pb[4] = {1, 2, 3, 4}, pe[4] = {1, 2, 3, 4};
      run_pad(4, in, pb, pe, mode, ELEM_SIZES[e], 0);
      const int64_t in2[3] = {1, 6, 7}, pb2[3] = {2, -2, 3}, pe2[3] = {1, 3, -4};
      run_pad(3, in2, pb2, pe2, mode, ELEM_SIZES[e], 0);
      /* typical NCHW spatial pad, big enough for long memcpy rows */
      const int64_t in3[4] = {2, 3, 20, 33}, pb3[4] = {0, 0, 2, 3}, pe3[4] = {0, 0, 1, 2};
      run_pad(4, in3, pb3, pe3, mode, ELEM_SIZES[e], 0);
      /* cropping everything on one axis: only padding left */
      const int64_t in4[2] = {3, 4}, pb4[2] = {1, -5}, pe4[2] = {1, 3};
      run_pad(2, in4, pb4, pe4, mode, ELEM_SIZES[e], 0);
      /* rank 0 / all unpadded */
      const int64_t in5[3] = {2, 3, 4}, z[3] = {0, 0, 0};
      run_pad(3, in5, z, z, mode, ELEM_SIZES[e], 0);
      run_pad(0, in5, z, z, mode, ELEM_SIZES[e], 0);
    }
  }
}

static void test_pad_numpy(void **state) {
  (void)state;
  int n = (int)(sizeof pad_np_cases / sizeof pad_np_cases[0]);
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    const int64_t *c = pad_np_cases[i];
    cnnrt_pad_params p;
    memset(&p, 0, sizeof p);
    for (int a = 0; a < CNNRT_MAX_RANK; a++) {
      p.in[a] = p.out[a] = 1;
    }
    p.rank = 2;
    p.mode = c[0];
    p.elem_size = 8;
    p.in[0] = c[1];
    p.in[1] = c[2];
    p.pad_begin[0] = c[3];
    p.pad_begin[1] = c[4];
    p.out[0] = c[1] + c[3] + c[5];
    p.out[1] = c[2] + c[4] + c[6];
    assert_int_equal(p.out[0] * p.out[1], c[7]);
    int64_t x[64], y[256];
    for (int64_t k = 0; k < c[1] * c[2]; k++) {
      x[k] = k;
    }
    const int64_t cv = -7;
    cnnrt_pad(&p, x, &cv, y);
    assert_memory_equal(y, &pad_np_expect[off], (size_t)c[7] * 8);
    off += c[7];
  }
  assert_int_equal(off, (int64_t)(sizeof pad_np_expect / sizeof pad_np_expect[0]));
}

/* ---- Tile -------------------------------------------------------------------------------- */

static void test_tile_random(void **state) {
  (void)state;
  for (int it = 0; it < 500; it++) {
    cnnrt_tile_params p;
    int64_t rank = rndi(0, 5), es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)];
    p.rank = rank;
    p.elem_size = es;
    for (int64_t a = 0; a < CNNRT_MAX_RANK; a++) {
      p.in[a] = p.out[a] = 1;
    }
    for (int64_t a = 0; a < rank; a++) {
      p.in[a] = rndi(0, 30) == 0 ? 0 : rndi(1, 4);
      p.out[a] = p.in[a] * (rndi(0, 30) == 0 ? 0 : rndi(1, 3));
    }
    int64_t nbx = prod(rank, p.in) * es, nby = prod(rank, p.out) * es;
    unsigned char *x = rand_buf(nbx), *y = out_buf(nby), *ref = out_buf(nby);
    int64_t oi[CNNRT_MAX_RANK];
    for (int64_t lin = 0; lin < prod(rank, p.out); lin++) {
      unravel(lin, rank, p.out, oi);
      for (int64_t a = 0; a < rank; a++) {
        oi[a] %= p.in[a];
      }
      memcpy(ref + lin * es, x + ravel(rank, p.in, oi) * es, (size_t)es);
    }
    cnnrt_tile(&p, x, y);
    assert_memory_equal(y, ref, (size_t)nby);
    check_guard(y, nby);
    free(x);
    free(y);
    free(ref);
  }
}

/* ---- Expand ------------------------------------------------------------------------------ */

static void run_expand(int64_t rank, const int64_t *out, const int64_t *xd, int64_t es) {
  /* xd: x dims aligned to the right of out (1 = broadcast); numpy-style strides */
  cnnrt_expand_params p;
  p.rank = rank;
  p.elem_size = es;
  for (int64_t a = 0; a < CNNRT_MAX_RANK; a++) {
    p.out[a] = 1;
    p.in_stride[a] = 0;
  }
  int64_t st = 1;
  for (int64_t a = rank - 1; a >= 0; a--) {
    p.out[a] = out[a];
    p.in_stride[a] = xd[a] == 1 ? 0 : st;
    st *= xd[a];
  }
  int64_t nbx = prod(rank, xd) * es, nby = prod(rank, out) * es;
  unsigned char *x = rand_buf(nbx), *y = out_buf(nby), *ref = out_buf(nby);
  int64_t oi[CNNRT_MAX_RANK];
  for (int64_t lin = 0; lin < prod(rank, out); lin++) {
    unravel(lin, rank, out, oi);
    int64_t src = 0;
    for (int64_t a = 0; a < rank; a++) {
      src += oi[a] * p.in_stride[a];
    }
    memcpy(ref + lin * es, x + src * es, (size_t)es);
  }
  cnnrt_expand(&p, x, y);
  assert_memory_equal(y, ref, (size_t)nby);
  check_guard(y, nby);
  free(x);
  free(y);
  free(ref);
}

static void test_expand_random(void **state) {
  (void)state;
  static const int64_t es_list[] = {1, 2, 4, 8, 3, 12, 80};
  for (int it = 0; it < 800; it++) {
    int64_t rank = rndi(0, 5), out[CNNRT_MAX_RANK], xd[CNNRT_MAX_RANK];
    int64_t xr = rndi(0, rank); /* x has rank xr, the leading rank-xr axes are new */
    for (int64_t a = 0; a < rank; a++) {
      out[a] = rndi(0, 30) == 0 ? 0 : rndi(1, 4);
      xd[a] = (a < rank - xr || rndi(0, 1)) ? 1 : out[a];
    }
    run_expand(rank, out, xd, es_list[rndi(0, 6)]);
  }
  for (int e = 0; e < 7; e++) {
    const int64_t o1[3] = {5, 7, 9}, x1[3] = {5, 1, 1}; /* per-channel bias */
    run_expand(3, o1, x1, es_list[e]);
    const int64_t x2[3] = {1, 1, 1}; /* scalar */
    run_expand(3, o1, x2, es_list[e]);
    const int64_t x3[3] = {1, 7, 1}, x4[3] = {5, 1, 9}, x5[3] = {1, 1, 9};
    run_expand(3, o1, x3, es_list[e]);
    run_expand(3, o1, x4, es_list[e]);
    run_expand(3, o1, x5, es_list[e]);
  }
}

/* ---- Gather ------------------------------------------------------------------------------ */

static void test_gather_random(void **state) {
  (void)state;
  for (int it = 0; it < 800; it++) {
    int64_t outer = rndi(1, 4), alen = rndi(0, 10) == 0 ? 0 : rndi(1, 5);
    int64_t es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)], inner = rndi(1, 3) * es;
    if (rndi(0, 1)) {
      inner = es; /* gather on the last axis */
    }
    int64_t nidx = rndi(0, 6), isz = rndi(0, 1) ? 4 : 8;
    int64_t idx64[6];
    int32_t idx32[6];
    for (int64_t k = 0; k < nidx; k++) {
      /* mostly valid (incl. negative), sometimes out of range -> clamped */
      idx64[k] = (alen == 0 || rndi(0, 5) == 0) ? rndi(-alen - 3, alen + 3) : rndi(-alen, alen - 1);
      idx32[k] = (int32_t)idx64[k];
    }
    int64_t nbx = outer * alen * inner, nby = outer * nidx * inner;
    unsigned char *x = rand_buf(nbx), *y = out_buf(nby), *ref = out_buf(nby);
    for (int64_t o = 0; o < outer; o++) {
      for (int64_t k = 0; k < nidx; k++) {
        int64_t i = idx64[k];
        if (alen == 0) {
          memset(ref + (o * nidx + k) * inner, 0, (size_t)inner);
          continue;
        }
        if (i < 0) {
          i += alen;
        }
        if (i < 0) {
          i = 0;
        }
        if (i >= alen) {
          i = alen - 1;
        }
        memcpy(ref + (o * nidx + k) * inner, x + (o * alen + i) * inner, (size_t)inner);
      }
    }
    cnnrt_gather(outer, alen, inner, isz == 4 ? (const void *)idx32 : (const void *)idx64, nidx,
                 isz, x, y);
    assert_memory_equal(y, ref, (size_t)nby);
    check_guard(y, nby);
    free(x);
    free(y);
    free(ref);
  }
}

/* Hand-computed: ONNX Gather example, axis 0 of [[1,1.2],[2.3,3.4],[4.5,5.7]] with
 * indices [[0,1],[1,2]], and axis 1 with a negative index. */
static void test_gather_hand(void **state) {
  (void)state;
  const float x[6] = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};
  const int64_t idx[4] = {0, 1, 1, 2};
  const float expect[8] = {1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f};
  float y[8];
  cnnrt_gather(1, 3, 2 * 4, idx, 4, 8, x, y);
  assert_memory_equal(y, expect, sizeof expect);
  const int32_t idx2[2] = {-1, 0};
  const float expect2[6] = {1.2f, 1.0f, 3.4f, 2.3f, 5.7f, 4.5f};
  float y2[6];
  cnnrt_gather(3, 2, 4, idx2, 2, 4, x, y2);
  assert_memory_equal(y2, expect2, sizeof expect2);
}

/* ---- DepthToSpace / SpaceToDepth --------------------------------------------------------- */

static void test_depth_to_space_onnx(void **state) {
  (void)state;
  float x[48], y[48];
  for (int c = 0; c < 8; c++) {
    for (int i = 0; i < 6; i++) {
      x[c * 6 + i] = (float)(c * 9 + i); /* the values of the ONNX example */
    }
  }
  const float dcr[48] = {0,  18, 1,  19, 2,  20, 36, 54, 37, 55, 38, 56, 3,  21, 4,  22,
                         5,  23, 39, 57, 40, 58, 41, 59, 9,  27, 10, 28, 11, 29, 45, 63,
                         46, 64, 47, 65, 12, 30, 13, 31, 14, 32, 48, 66, 49, 67, 50, 68};
  const float crd[48] = {0,  9,  1,  10, 2,  11, 18, 27, 19, 28, 20, 29, 3,  12, 4,  13,
                         5,  14, 21, 30, 22, 31, 23, 32, 36, 45, 37, 46, 38, 47, 54, 63,
                         55, 64, 56, 65, 39, 48, 40, 49, 41, 50, 57, 66, 58, 67, 59, 68};
  cnnrt_depth_to_space(1, 8, 2, 3, 2, 0, 4, x, y);
  assert_memory_equal(y, dcr, sizeof dcr);
  cnnrt_depth_to_space(1, 8, 2, 3, 2, 1, 4, x, y);
  assert_memory_equal(y, crd, sizeof crd);
  /* SpaceToDepth inverts DCR */
  float z[48];
  cnnrt_space_to_depth(1, 2, 4, 6, 2, 4, dcr, z);
  assert_memory_equal(z, x, sizeof x);
}

static void test_depth_space_random(void **state) {
  (void)state;
  for (int it = 0; it < 300; it++) {
    int64_t n = rndi(1, 2), k = rndi(1, 3), b = rndi(1, 3), h = rndi(1, 4), w = rndi(1, 5);
    int64_t es = ELEM_SIZES[rndi(0, N_ELEM_SIZES - 1)], crd = rndi(0, 1);
    int64_t c = k * b * b, nb = n * c * h * w * es;
    unsigned char *x = rand_buf(nb), *y = out_buf(nb), *ref = out_buf(nb), *z = out_buf(nb);
    /* DepthToSpace naive, straight from the index formulas */
    for (int64_t in = 0; in < n; in++) {
      for (int64_t kk = 0; kk < k; kk++) {
        for (int64_t Y = 0; Y < h * b; Y++) {
          for (int64_t X = 0; X < w * b; X++) {
            int64_t i = Y / b, u = Y % b, j = X / b, v = X % b;
            int64_t ch = crd ? kk * b * b + u * b + v : (u * b + v) * k + kk;
            int64_t yo = ((in * k + kk) * h * b + Y) * w * b + X;
            int64_t xo = ((in * c + ch) * h + i) * w + j;
            memcpy(ref + yo * es, x + xo * es, (size_t)es);
          }
        }
      }
    }
    cnnrt_depth_to_space(n, c, h, w, b, crd, es, x, y);
    assert_memory_equal(y, ref, (size_t)nb);
    check_guard(y, nb);
    /* SpaceToDepth naive on x viewed as [n, k, h*b, w*b] */
    for (int64_t in = 0; in < n; in++) {
      for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t i = 0; i < h; i++) {
          for (int64_t j = 0; j < w; j++) {
            int64_t u = (ch / k) / b, v = (ch / k) % b, kk = ch % k;
            int64_t yo = ((in * c + ch) * h + i) * w + j;
            int64_t xo = ((in * k + kk) * h * b + i * b + u) * w * b + j * b + v;
            memcpy(ref + yo * es, x + xo * es, (size_t)es);
          }
        }
      }
    }
    cnnrt_space_to_depth(n, k, h * b, w * b, b, es, x, z);
    assert_memory_equal(z, ref, (size_t)nb);
    check_guard(z, nb);
    free(x);
    free(y);
    free(ref);
    free(z);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transpose_hand),      cmocka_unit_test(test_transpose_random),
      cmocka_unit_test(test_transpose_tiled),     cmocka_unit_test(test_slice_resolve_hand),
      cmocka_unit_test(test_slice_resolve_table), cmocka_unit_test(test_slice_random),
      cmocka_unit_test(test_slice_onnx_examples), cmocka_unit_test(test_concat_split_random),
      cmocka_unit_test(test_pad_numpy),           cmocka_unit_test(test_pad_edges),
      cmocka_unit_test(test_pad_random),          cmocka_unit_test(test_tile_random),
      cmocka_unit_test(test_expand_random),       cmocka_unit_test(test_gather_hand),
      cmocka_unit_test(test_gather_random),       cmocka_unit_test(test_depth_to_space_onnx),
      cmocka_unit_test(test_depth_space_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
