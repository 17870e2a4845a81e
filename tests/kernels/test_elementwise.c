/* test_elementwise.c — cmocka tests for runtime/cnnrt_elementwise.h.
 *
 * Every kernel is checked against an independent naive version written here from the ONNX /
 * numpy definition: broadcasting by explicit multi-index arithmetic on the uncollapsed shapes,
 * Cast against a generic "round to p significant bits" oracle built on frexp/ldexp, plus values
 * taken from the ONNX node tests, numpy and torch. Build with -fsanitize=undefined (and
 * -fsanitize=float-cast-overflow) to check that the kernels never rely on undefined behaviour.
 *
 *   gcc -std=c99 -O1 -g -fsanitize=address,undefined,float-cast-overflow -Wall -Wextra \
 *       -Wpedantic -Werror -Iruntime tests/kernels/test_elementwise.c -o t -lcmocka -lm
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "cnnrt_elementwise.h"

#define MAXN 512
#define ARRAY_LEN(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------------------------ */
/* Random values                                                                               */
/* ------------------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

/* Full-range integers (their naive ops run in 64-bit, which cannot overflow for them) ... */
static int8_t gen_i8(void) { return (int8_t)((int64_t)(rnd() % 256) - 128); }
static int16_t gen_i16(void) { return (int16_t)((int64_t)(rnd() % 65536) - 32768); }
static int32_t gen_i32(void) { return (int32_t)((int64_t)(rnd() % 4294967296ull) - 2147483648ll); }
/* ... but i64 values stay small so that the naive int64 arithmetic does not overflow. */
static int64_t gen_i64(void) { return (int64_t)(rnd() % 2001) - 1000; }
static uint8_t gen_u8(void) { return (uint8_t)rnd(); }
static uint16_t gen_u16(void) { return (uint16_t)rnd(); }
static uint32_t gen_u32(void) { return (uint32_t)rnd(); }
static uint64_t gen_u64(void) { return rnd(); }
/* Nonzero divisors for the naive division (x/0 is checked by hand). Small magnitudes most of the
 * time so that quotients are not all 0. */
#define DEF_GEN_NZ(t, T)                                                                         \
  static T gen_##t##_nz(void) {                                                                  \
    T v = (rnd() & 1) ? (T)(rnd() % 13) : gen_##t();                                             \
    return v == 0 ? (T)3 : v;                                                                    \
  }
DEF_GEN_NZ(i8, int8_t)
DEF_GEN_NZ(i16, int16_t)
DEF_GEN_NZ(i32, int32_t)
DEF_GEN_NZ(i64, int64_t)
DEF_GEN_NZ(u8, uint8_t)
DEF_GEN_NZ(u16, uint16_t)
DEF_GEN_NZ(u32, uint32_t)
DEF_GEN_NZ(u64, uint64_t)
static uint8_t gen_bool(void) { return (uint8_t)(rnd() & 1); }

/* Floats in [-8, 8), with the occasional special value. */
static double gen_double(void) {
  static const double special[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1e30, -1e-30, 2.0};
  if (rnd() % 12 == 0) {
    return special[rnd() % 8];
  }
  return (double)(int64_t)(rnd() % 16000) / 1000.0 - 8.0;
}
static float gen_f32(void) { return (float)gen_double(); }
static double gen_f64(void) { return gen_double(); }

/* ------------------------------------------------------------------------------------------ */
/* Comparison helpers                                                                          */
/* ------------------------------------------------------------------------------------------ */

static int same_f32(float a, float b) { return (a != a && b != b) || memcmp(&a, &b, 4) == 0; }
static int same_f64(double a, double b) { return (a != a && b != b) || memcmp(&a, &b, 8) == 0; }
#define SAME_INT(a, b) ((a) == (b))

/* Close in the precision of the result type; NaN matches NaN, inf matches the same inf. */
static int close_to(double got, double want, double rel, double abs_tol) {
  if (want != want) {
    return got != got;
  }
  if (isinf(want) || isinf(got)) {
    return got == want;
  }
  return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

/* ------------------------------------------------------------------------------------------ */
/* Naive broadcasting                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct shape_case {
  int64_t ra;
  int64_t da[8];
  int64_t rb;
  int64_t db[8];
} shape_case;

static const shape_case kShapes[] = {
    {2, {3, 4}, 2, {3, 4}},                   /* same shape */
    {3, {2, 3, 5}, 0, {0}},                   /* b scalar */
    {0, {0}, 3, {2, 3, 5}},                   /* a scalar */
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}},       /* per-channel b */
    {4, {1, 3, 1, 1}, 4, {2, 3, 4, 5}},       /* per-channel a */
    {2, {3, 1}, 2, {1, 4}},                   /* outer product */
    {1, {5}, 3, {2, 3, 5}},                   /* rank mismatch */
    {3, {2, 3, 5}, 1, {5}},                   /* rank mismatch, other side */
    {3, {2, 1, 3}, 2, {4, 1}},                /* both broadcast */
    {1, {1}, 1, {1}},                         /* single element */
    {0, {0}, 0, {0}},                         /* scalar op scalar */
    {2, {1, 7}, 1, {1}},                      /* size-1 everything but one dim */
    {4, {2, 1, 3, 1}, 4, {1, 4, 1, 5}},       /* alternating */
    {3, {2, 3, 4}, 3, {2, 1, 4}},             /* middle broadcast */
    {2, {0, 3}, 2, {1, 3}},                   /* empty output */
    {6, {2, 1, 2, 1, 3, 1}, 3, {2, 1, 3}},    /* rank 6, unit dims in between */
    {3, {3, 5, 1}, 3, {3, 1, 17}},            /* inner broadcast of a */
    {8, {1, 2, 1, 2, 1, 2, 1, 3}, 8, {2, 1, 2, 1, 2, 1, 1, 3}}, /* CNNRT_MAX_RANK */
};
#define NSHAPES ARRAY_LEN(kShapes)

static int64_t numel(int64_t r, const int64_t *d) {
  int64_t n = 1;
  for (int64_t i = 0; i < r; i++) {
    n *= d[i];
  }
  return n;
}

/* Output shape of numpy broadcasting (shapes assumed compatible). */
static int64_t naive_out_shape(int64_t ra, const int64_t *da, int64_t rb, const int64_t *db,
                               int64_t *out) {
  int64_t r = ra > rb ? ra : rb;
  for (int64_t k = 0; k < r; k++) {
    int64_t ka = k - (r - ra), kb = k - (r - rb);
    int64_t x = ka >= 0 ? da[ka] : 1, y = kb >= 0 ? db[kb] : 1;
    out[k] = x == 1 ? y : x;
  }
  return r;
}

/* Index into an operand of rank r, dims d, of output element `lin` (row-major output ro/dout). */
static int64_t bcast_index(int64_t ro, const int64_t *dout, int64_t lin, int64_t r,
                           const int64_t *d) {
  int64_t idx = 0, stride = 1;
  for (int64_t k = ro - 1; k >= 0; k--) {
    int64_t coord = lin % dout[k];
    lin /= dout[k];
    int64_t j = k - (ro - r);
    if (j >= 0) {
      if (d[j] != 1) {
        idx += coord * stride;
      }
      stride *= d[j];
    }
  }
  return idx;
}

/* Runs KERNEL over every shape case on random inputs and compares with NAIVE element by
 * element; then once more in place (y == a) on the cases where a has the output's shape. */
#define CHECK_BINARY(TA, TB, TY, KERNEL, NAIVE, GENA, GENB, SAME)                                \
  do {                                                                                           \
    for (int64_t s_ = 0; s_ < NSHAPES; s_++) {                                                   \
      const shape_case *c_ = &kShapes[s_];                                                       \
      TA a_[MAXN];                                                                               \
      TB b_[MAXN];                                                                               \
      TY y_[MAXN];                                                                               \
      int64_t dout_[8];                                                                          \
      int64_t na_ = numel(c_->ra, c_->da), nb_ = numel(c_->rb, c_->db);                          \
      for (int64_t i_ = 0; i_ < na_; i_++) {                                                     \
        a_[i_] = GENA();                                                                         \
      }                                                                                          \
      for (int64_t i_ = 0; i_ < nb_; i_++) {                                                     \
        b_[i_] = GENB();                                                                         \
      }                                                                                          \
      int64_t ro_ = naive_out_shape(c_->ra, c_->da, c_->rb, c_->db, dout_);                      \
      int64_t no_ = numel(ro_, dout_);                                                           \
      cnnrt_bcast_params p_;                                                                     \
      assert_int_equal(cnnrt_bcast_init(&p_, c_->ra, c_->da, c_->rb, c_->db), 0);                \
      assert_int_equal(p_.count, no_);                                                           \
      KERNEL(&p_, a_, b_, y_);                                                                   \
      for (int64_t i_ = 0; i_ < no_; i_++) {                                                     \
        TA av_ = a_[bcast_index(ro_, dout_, i_, c_->ra, c_->da)];                                \
        TB bv_ = b_[bcast_index(ro_, dout_, i_, c_->rb, c_->db)];                                \
        TY e_ = NAIVE(av_, bv_);                                                                 \
        if (!SAME(y_[i_], e_)) {                                                                 \
          fail_msg("%s: shape case %d, element %d (%g, %g)", #KERNEL, (int)s_, (int)i_,           \
                   (double)av_, (double)bv_);                                                    \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  } while (0)

/* In place: y aliases a, which has the output's full shape. Only for TY == TA. */
#define CHECK_BINARY_INPLACE(T, KERNEL, NAIVE, GEN, SAME)                                        \
  do {                                                                                           \
    static const int64_t da_[4] = {2, 3, 4, 5}, db_[4] = {1, 3, 1, 1};                           \
    T a_[120], b_[3], ref_[120];                                                                 \
    for (int64_t i_ = 0; i_ < 120; i_++) {                                                       \
      a_[i_] = GEN();                                                                            \
    }                                                                                            \
    for (int64_t i_ = 0; i_ < 3; i_++) {                                                         \
      b_[i_] = GEN();                                                                            \
    }                                                                                            \
    for (int64_t i_ = 0; i_ < 120; i_++) {                                                       \
      ref_[i_] = NAIVE(a_[i_], b_[(i_ / 20) % 3]);                                               \
    }                                                                                            \
    cnnrt_bcast_params p_;                                                                       \
    assert_int_equal(cnnrt_bcast_init(&p_, 4, da_, 4, db_), 0);                                  \
    KERNEL(&p_, a_, b_, a_);                                                                     \
    for (int64_t i_ = 0; i_ < 120; i_++) {                                                       \
      if (!SAME(a_[i_], ref_[i_])) {                                                             \
        fail_msg("%s in place: element %d", #KERNEL, (int)i_);                                   \
      }                                                                                          \
    }                                                                                            \
  } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Naive element ops                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Float: straight from the definitions. np.minimum/np.maximum propagate NaN and return the
 * second operand on ties (np.minimum(0., -0.) is -0.); np.mod takes the divisor's sign. */
#define DEF_NAIVE_FLOAT(t, T, S)                                                                 \
  static T n_##t##_add(T a, T b) { return a + b; }                                               \
  static T n_##t##_sub(T a, T b) { return a - b; }                                               \
  static T n_##t##_mul(T a, T b) { return a * b; }                                               \
  static T n_##t##_div(T a, T b) { return a / b; }                                               \
  static T n_##t##_min(T a, T b) { return isnan(a) ? a : isnan(b) ? b : (a < b ? a : b); }       \
  static T n_##t##_max(T a, T b) { return isnan(a) ? a : isnan(b) ? b : (a > b ? a : b); }       \
  static T n_##t##_fmod(T a, T b) { return fmod##S(a, b); }                                      \
  static T n_##t##_mod(T a, T b) {                                                               \
    T r = fmod##S(a, b);                                                                         \
    if (r == 0) {                                                                                \
      return copysign##S(0, b);                                                                  \
    }                                                                                            \
    return (b < 0) == (r < 0) ? r : r + b;                                                       \
  }                                                                                              \
  static T n_##t##_prelu(T x, T s) { return x >= 0 || isnan(x) ? x : s * x; }                   \
  static uint8_t n_##t##_equal(T a, T b) { return a == b; }                                      \
  static uint8_t n_##t##_less(T a, T b) { return a < b; }                                        \
  static uint8_t n_##t##_greater(T a, T b) { return a > b; }                                     \
  static uint8_t n_##t##_less_equal(T a, T b) { return !(a > b) && a == a && b == b; }           \
  static uint8_t n_##t##_greater_equal(T a, T b) { return !(a < b) && a == a && b == b; }
DEF_NAIVE_FLOAT(f32, float, f)
DEF_NAIVE_FLOAT(f64, double, )

/* Integers: computed in the 64-bit type W (int64_t / uint64_t), which does not overflow for the
 * generated values, then narrowed (modular on every compiler we target). Div truncates like C;
 * Mod with fmod=0 is a - floor(a/b)*b. */
#define DEF_NAIVE_INT(t, T, W)                                                                   \
  static T n_##t##_add(T a, T b) { return (T)((W)a + (W)b); }                                    \
  static T n_##t##_sub(T a, T b) { return (T)((W)a - (W)b); }                                    \
  static T n_##t##_mul(T a, T b) { return (T)((W)a * (W)b); }                                    \
  static T n_##t##_div(T a, T b) { return (T)((W)a / (W)b); }                                    \
  static T n_##t##_min(T a, T b) { return b < a ? b : a; }                                       \
  static T n_##t##_max(T a, T b) { return b > a ? b : a; }                                       \
  static T n_##t##_fmod(T a, T b) { return (T)((W)a % (W)b); }                                   \
  static uint8_t n_##t##_equal(T a, T b) { return a == b; }                                      \
  static uint8_t n_##t##_less(T a, T b) { return a < b; }                                        \
  static uint8_t n_##t##_greater(T a, T b) { return a > b; }                                     \
  static uint8_t n_##t##_less_equal(T a, T b) { return a <= b; }                                \
  static uint8_t n_##t##_greater_equal(T a, T b) { return a >= b; }
DEF_NAIVE_INT(i8, int8_t, int64_t)
DEF_NAIVE_INT(i16, int16_t, int64_t)
DEF_NAIVE_INT(i32, int32_t, int64_t)
DEF_NAIVE_INT(i64, int64_t, int64_t)
DEF_NAIVE_INT(u8, uint8_t, uint64_t)
DEF_NAIVE_INT(u16, uint16_t, uint64_t)
DEF_NAIVE_INT(u32, uint32_t, uint64_t)
DEF_NAIVE_INT(u64, uint64_t, uint64_t)
#define DEF_NAIVE_SMOD(t, T)                                                                     \
  static T n_##t##_mod(T a, T b) { /* floor division: q = floor(a / b) */                        \
    int64_t q = (int64_t)a / b;                                                                  \
    if (q * b != a && ((a < 0) != (b < 0))) {                                                    \
      q = q - 1;                                                                                 \
    }                                                                                            \
    return (T)(a - q * b);                                                                       \
  }
DEF_NAIVE_SMOD(i8, int8_t)
DEF_NAIVE_SMOD(i16, int16_t)
DEF_NAIVE_SMOD(i32, int32_t)
DEF_NAIVE_SMOD(i64, int64_t)
static uint8_t n_u8_mod(uint8_t a, uint8_t b) { return (uint8_t)(a % b); }
static uint16_t n_u16_mod(uint16_t a, uint16_t b) { return (uint16_t)(a % b); }
static uint32_t n_u32_mod(uint32_t a, uint32_t b) { return a % b; }
static uint64_t n_u64_mod(uint64_t a, uint64_t b) { return a % b; }
static int8_t n_i8_prelu(int8_t x, int8_t s) { return x >= 0 ? x : (int8_t)((int64_t)x * s); }
static int16_t n_i16_prelu(int16_t x, int16_t s) { return x >= 0 ? x : (int16_t)((int64_t)x * s); }
static int32_t n_i32_prelu(int32_t x, int32_t s) { return x >= 0 ? x : (int32_t)((int64_t)x * s); }
static int64_t n_i64_prelu(int64_t x, int64_t s) { return x >= 0 ? x : x * s; }
static uint8_t n_u8_prelu(uint8_t x, uint8_t s) { return (uint8_t)(x + 0 * s); }
static uint16_t n_u16_prelu(uint16_t x, uint16_t s) { return (uint16_t)(x + 0 * s); }
static uint32_t n_u32_prelu(uint32_t x, uint32_t s) { return x + 0 * s; }
static uint64_t n_u64_prelu(uint64_t x, uint64_t s) { return x + 0 * s; }

/* All binary kernels of one numeric type against their naive versions on every shape case. */
#define DEF_BINARY_TYPE_TEST(t, T, SAME)                                                         \
  static void test_binary_##t(void **state) {                                                    \
    (void)state;                                                                                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_add, n_##t##_add, gen_##t, gen_##t, SAME);                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_sub, n_##t##_sub, gen_##t, gen_##t, SAME);                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_mul, n_##t##_mul, gen_##t, gen_##t, SAME);                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_div, n_##t##_div, gen_##t, gen_##t##_nz, SAME);            \
    CHECK_BINARY(T, T, T, cnnrt_##t##_min, n_##t##_min, gen_##t, gen_##t, SAME);                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_max, n_##t##_max, gen_##t, gen_##t, SAME);                 \
    CHECK_BINARY(T, T, T, cnnrt_##t##_mod, n_##t##_mod, gen_##t, gen_##t##_nz, SAME);            \
    CHECK_BINARY(T, T, T, cnnrt_##t##_fmod, n_##t##_fmod, gen_##t, gen_##t##_nz, SAME);          \
    CHECK_BINARY(T, T, T, cnnrt_##t##_prelu, n_##t##_prelu, gen_##t, gen_##t, SAME);             \
    CHECK_BINARY(T, T, uint8_t, cnnrt_##t##_equal, n_##t##_equal, gen_##t, gen_##t, SAME_INT);   \
    CHECK_BINARY(T, T, uint8_t, cnnrt_##t##_less, n_##t##_less, gen_##t, gen_##t, SAME_INT);     \
    CHECK_BINARY(T, T, uint8_t, cnnrt_##t##_greater, n_##t##_greater, gen_##t, gen_##t,         \
                 SAME_INT);                                                                      \
    CHECK_BINARY(T, T, uint8_t, cnnrt_##t##_less_equal, n_##t##_less_equal, gen_##t, gen_##t,   \
                 SAME_INT);                                                                      \
    CHECK_BINARY(T, T, uint8_t, cnnrt_##t##_greater_equal, n_##t##_greater_equal, gen_##t,      \
                 gen_##t, SAME_INT);                                                             \
    CHECK_BINARY_INPLACE(T, cnnrt_##t##_add, n_##t##_add, gen_##t, SAME);                        \
    CHECK_BINARY_INPLACE(T, cnnrt_##t##_max, n_##t##_max, gen_##t, SAME);                        \
  }

/* Floats have no separate nonzero generator: x/0 gives inf/NaN in both versions. */
#define gen_f32_nz gen_f32
#define gen_f64_nz gen_f64
DEF_BINARY_TYPE_TEST(f32, float, same_f32)
DEF_BINARY_TYPE_TEST(f64, double, same_f64)
DEF_BINARY_TYPE_TEST(i8, int8_t, SAME_INT)
DEF_BINARY_TYPE_TEST(i16, int16_t, SAME_INT)
DEF_BINARY_TYPE_TEST(i32, int32_t, SAME_INT)
DEF_BINARY_TYPE_TEST(i64, int64_t, SAME_INT)
DEF_BINARY_TYPE_TEST(u8, uint8_t, SAME_INT)
DEF_BINARY_TYPE_TEST(u16, uint16_t, SAME_INT)
DEF_BINARY_TYPE_TEST(u32, uint32_t, SAME_INT)
DEF_BINARY_TYPE_TEST(u64, uint64_t, SAME_INT)

/* Bool logic and BitShift. */
static uint8_t n_and(uint8_t a, uint8_t b) { return a && b; }
static uint8_t n_or(uint8_t a, uint8_t b) { return a || b; }
static uint8_t n_xor(uint8_t a, uint8_t b) { return (a && !b) || (!a && b); }
static uint8_t n_beq(uint8_t a, uint8_t b) { return (a && b) || (!a && !b); }
static uint8_t gen_shift8(void) { return (uint8_t)(rnd() % 10); }
static uint32_t gen_shift32(void) { return (uint32_t)(rnd() % 36); }
static uint64_t gen_shift64(void) { return rnd() % 70; }
static uint8_t n_u8_shl(uint8_t a, uint8_t b) { return b >= 8 ? 0 : (uint8_t)(a * (1u << b)); }
static uint8_t n_u8_shr(uint8_t a, uint8_t b) { return b >= 8 ? 0 : (uint8_t)(a / (1u << b)); }
static uint32_t n_u32_shl(uint32_t a, uint32_t b) {
  return b >= 32 ? 0 : (uint32_t)((uint64_t)a * ((uint64_t)1 << b));
}
static uint32_t n_u32_shr(uint32_t a, uint32_t b) {
  return b >= 32 ? 0 : (uint32_t)(a / ((uint64_t)1 << b));
}
static uint64_t n_u64_shl(uint64_t a, uint64_t b) {
  uint64_t r = a;
  for (uint64_t i = 0; i < b; i++) {
    r *= 2; /* wraps */
  }
  return r;
}
static uint64_t n_u64_shr(uint64_t a, uint64_t b) {
  uint64_t r = a;
  for (uint64_t i = 0; i < b; i++) {
    r /= 2;
  }
  return r;
}

static void test_binary_bool_and_shift(void **state) {
  (void)state;
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_bool_and, n_and, gen_bool, gen_bool, SAME_INT);
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_bool_or, n_or, gen_bool, gen_bool, SAME_INT);
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_bool_xor, n_xor, gen_bool, gen_bool, SAME_INT);
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_bool_equal, n_beq, gen_bool, gen_bool, SAME_INT);
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_u8_shl, n_u8_shl, gen_u8, gen_shift8, SAME_INT);
  CHECK_BINARY(uint8_t, uint8_t, uint8_t, cnnrt_u8_shr, n_u8_shr, gen_u8, gen_shift8, SAME_INT);
  CHECK_BINARY(uint32_t, uint32_t, uint32_t, cnnrt_u32_shl, n_u32_shl, gen_u32, gen_shift32,
               SAME_INT);
  CHECK_BINARY(uint32_t, uint32_t, uint32_t, cnnrt_u32_shr, n_u32_shr, gen_u32, gen_shift32,
               SAME_INT);
  CHECK_BINARY(uint64_t, uint64_t, uint64_t, cnnrt_u64_shl, n_u64_shl, gen_u64, gen_shift64,
               SAME_INT);
  CHECK_BINARY(uint64_t, uint64_t, uint64_t, cnnrt_u64_shr, n_u64_shr, gen_u64, gen_shift64,
               SAME_INT);
  /* nonzero non-one inputs count as true */
  uint8_t a[4] = {0, 2, 7, 0}, b[4] = {5, 0, 9, 0}, y[4];
  int64_t d = 4;
  cnnrt_bcast_params p;
  assert_int_equal(cnnrt_bcast_init(&p, 1, &d, 1, &d), 0);
  cnnrt_bool_and(&p, a, b, y);
  assert_true(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 0);
  cnnrt_bool_equal(&p, a, b, y);
  assert_true(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 1);
  cnnrt_bool_not(4, a, y);
  assert_true(y[0] == 1 && y[1] == 0 && y[2] == 0 && y[3] == 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Broadcast parameter construction                                                            */
/* ------------------------------------------------------------------------------------------ */

static void expect_params(const cnnrt_bcast_params *p, int64_t rank, const int64_t *out,
                          const int64_t *as, const int64_t *bs) {
  assert_int_equal(p->rank, rank);
  int64_t count = 1;
  for (int64_t i = 0; i < rank; i++) {
    assert_int_equal(p->out[i], out[i]);
    assert_int_equal(p->a_stride[i], as[i]);
    assert_int_equal(p->b_stride[i], bs[i]);
    count *= out[i];
  }
  for (int64_t i = rank; i < CNNRT_MAX_RANK; i++) { /* neutral unused slots */
    assert_int_equal(p->out[i], 1);
    assert_int_equal(p->a_stride[i], 1);
    assert_int_equal(p->b_stride[i], 1);
  }
  assert_int_equal(p->count, count);
}

static void test_bcast_init(void **state) {
  (void)state;
  cnnrt_bcast_params p;
  {
    const int64_t a[4] = {2, 3, 4, 5};
    assert_int_equal(cnnrt_bcast_init(&p, 4, a, 4, a), 0);
    expect_params(&p, 1, (const int64_t[]){120}, (const int64_t[]){1}, (const int64_t[]){1});
  }
  {
    const int64_t a[4] = {2, 3, 4, 5}, b[4] = {1, 3, 1, 1};
    assert_int_equal(cnnrt_bcast_init(&p, 4, a, 4, b), 0);
    expect_params(&p, 3, (const int64_t[]){2, 3, 20}, (const int64_t[]){60, 20, 1},
                  (const int64_t[]){0, 1, 0});
  }
  {
    const int64_t a[2] = {3, 1}, b[2] = {1, 4};
    assert_int_equal(cnnrt_bcast_init(&p, 2, a, 2, b), 0);
    expect_params(&p, 2, (const int64_t[]){3, 4}, (const int64_t[]){1, 0},
                  (const int64_t[]){0, 1});
  }
  {
    const int64_t a[1] = {5}, b[3] = {2, 3, 5};
    assert_int_equal(cnnrt_bcast_init(&p, 1, a, 3, b), 0);
    expect_params(&p, 2, (const int64_t[]){6, 5}, (const int64_t[]){0, 1},
                  (const int64_t[]){5, 1});
  }
  {
    const int64_t b[2] = {2, 3};
    assert_int_equal(cnnrt_bcast_init(&p, 0, NULL, 2, b), 0);
    expect_params(&p, 1, (const int64_t[]){6}, (const int64_t[]){0}, (const int64_t[]){1});
  }
  {
    assert_int_equal(cnnrt_bcast_init(&p, 0, NULL, 0, NULL), 0);
    expect_params(&p, 1, (const int64_t[]){1}, (const int64_t[]){0}, (const int64_t[]){0});
    const int64_t a[2] = {1, 1}, b[1] = {1};
    assert_int_equal(cnnrt_bcast_init(&p, 2, a, 1, b), 0);
    expect_params(&p, 1, (const int64_t[]){1}, (const int64_t[]){0}, (const int64_t[]){0});
  }
  {
    const int64_t a[3] = {2, 1, 3}, b[2] = {4, 1};
    assert_int_equal(cnnrt_bcast_init(&p, 3, a, 2, b), 0);
    expect_params(&p, 3, (const int64_t[]){2, 4, 3}, (const int64_t[]){3, 0, 1},
                  (const int64_t[]){0, 1, 0});
  }
  { /* empty outputs */
    const int64_t a[2] = {0, 3}, b[2] = {1, 3}, c[1] = {0}, d[1] = {1};
    assert_int_equal(cnnrt_bcast_init(&p, 2, a, 2, b), 0);
    expect_params(&p, 1, (const int64_t[]){0}, (const int64_t[]){0}, (const int64_t[]){0});
    assert_int_equal(cnnrt_bcast_init(&p, 1, c, 1, d), 0);
    assert_int_equal(p.count, 0);
    assert_int_equal(cnnrt_bcast_init(&p, 1, c, 1, c), 0);
    assert_int_equal(p.count, 0);
  }
  { /* incompatible and invalid */
    const int64_t a[1] = {3}, b[1] = {4}, c[2] = {2, 3}, d[2] = {3, 2}, z[1] = {0}, two[1] = {2};
    const int64_t neg[1] = {-1}, big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(cnnrt_bcast_init(&p, 1, a, 1, b), -1);
    assert_int_equal(cnnrt_bcast_init(&p, 2, c, 2, d), -1);
    assert_int_equal(cnnrt_bcast_init(&p, 1, z, 1, two), -1);
    assert_int_equal(cnnrt_bcast_init(&p, 1, neg, 1, a), -1);
    assert_int_equal(cnnrt_bcast_init(&p, 9, big, 1, a), -1);
    assert_int_equal(cnnrt_bcast_init(&p, -1, a, 1, a), -1);
  }
  { /* three operands */
    cnnrt_bcast3_params q;
    const int64_t c[2] = {3, 1}, x[2] = {1, 4};
    assert_int_equal(cnnrt_bcast3_init(&q, 2, c, 2, x, 0, NULL), 0);
    assert_int_equal(q.rank, 2);
    assert_int_equal(q.out[0], 3);
    assert_int_equal(q.out[1], 4);
    assert_int_equal(q.c_stride[0], 1);
    assert_int_equal(q.c_stride[1], 0);
    assert_int_equal(q.a_stride[0], 0);
    assert_int_equal(q.a_stride[1], 1);
    assert_int_equal(q.b_stride[0], 0);
    assert_int_equal(q.b_stride[1], 0);
    assert_int_equal(q.count, 12);
    const int64_t e[2] = {3, 5};
    assert_int_equal(cnnrt_bcast3_init(&q, 2, c, 2, x, 1, e + 1), -1);
  }
}

/* Kernels accept hand-made params with arbitrary strides and rank 0. */
static void test_bcast_strided_params(void **state) {
  (void)state;
  /* y[i][j] = at[j][i] + b[i][j]: a is a [4,3] buffer read transposed (strides 1, 3). */
  float at[12], b[12], y[12];
  for (int i = 0; i < 12; i++) {
    at[i] = (float)i;
    b[i] = (float)(100 * i);
  }
  cnnrt_bcast_params p = {2, {3, 4, 1, 1, 1, 1, 1, 1}, {1, 3, 1, 1, 1, 1, 1, 1},
                          {4, 1, 1, 1, 1, 1, 1, 1}, 12};
  cnnrt_f32_add(&p, at, b, y);
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 4; j++) {
      assert_true(y[i * 4 + j] == at[j * 3 + i] + b[i * 4 + j]);
    }
  }
  /* both operands strided along the row: y[i][j] = at[j][i] - bt[j][i] */
  cnnrt_bcast_params q = {2, {3, 4, 1, 1, 1, 1, 1, 1}, {1, 3, 1, 1, 1, 1, 1, 1},
                          {1, 3, 1, 1, 1, 1, 1, 1}, 12};
  cnnrt_f32_sub(&q, at, b, y);
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 4; j++) {
      assert_true(y[i * 4 + j] == at[j * 3 + i] - b[j * 3 + i]);
    }
  }
  cnnrt_bcast_params s = {0, {1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1},
                          {1, 1, 1, 1, 1, 1, 1, 1}, 1};
  int32_t a1 = 7, b1 = -3, y1 = 0;
  cnnrt_i32_mul(&s, &a1, &b1, &y1);
  assert_int_equal(y1, -21);
}

/* ------------------------------------------------------------------------------------------ */
/* Integer edge cases: wrap-around and the defined results for C's undefined cases            */
/* ------------------------------------------------------------------------------------------ */

static void test_integer_edges(void **state) {
  (void)state;
  int64_t one = 1;
  cnnrt_bcast_params p;
  assert_int_equal(cnnrt_bcast_init(&p, 1, &one, 1, &one), 0);
#define BIN1(t, T, op, a, b, want)                                                               \
  do {                                                                                           \
    /* static: with everything constant-propagated, gcc -O2 warns (falsely) that the kernel's   \
     * dead vector branches might read uninitialized neighbours of a stack scalar */             \
    static T a_[1], b_[1], y_[1];                                                                \
    a_[0] = (a);                                                                                 \
    b_[0] = (b);                                                                                 \
    cnnrt_##t##_##op(&p, a_, b_, y_);                                                            \
    if (y_[0] != (T)(want)) {                                                                    \
      fail_msg("%s %s(%lld, %lld) = %lld, want %lld", #t, #op, (long long)a_[0],                 \
               (long long)b_[0], (long long)y_[0], (long long)(T)(want));                        \
    }                                                                                            \
  } while (0)
  BIN1(i8, int8_t, add, 127, 1, -128);
  BIN1(i8, int8_t, sub, -128, 1, 127);
  BIN1(i8, int8_t, mul, -128, -1, -128);
  BIN1(i8, int8_t, div, -128, -1, -128);
  BIN1(i16, int16_t, mul, -32768, -32768, 0);
  BIN1(i32, int32_t, add, INT32_MAX, 1, INT32_MIN);
  BIN1(i32, int32_t, sub, INT32_MIN, 1, INT32_MAX);
  BIN1(i32, int32_t, mul, 65536, 65536, 0);
  BIN1(i32, int32_t, mul, INT32_MIN, -1, INT32_MIN);
  BIN1(i32, int32_t, div, INT32_MIN, -1, INT32_MIN);
  BIN1(i32, int32_t, div, 7, 0, 0);
  BIN1(i32, int32_t, div, -7, 2, -3); /* truncation toward zero */
  BIN1(i32, int32_t, mod, -7, 2, 1);
  BIN1(i32, int32_t, fmod, -7, 2, -1);
  BIN1(i32, int32_t, mod, 7, -2, -1);
  BIN1(i32, int32_t, mod, 7, 0, 0);
  BIN1(i32, int32_t, fmod, 7, 0, 0);
  BIN1(i32, int32_t, mod, INT32_MIN, -1, 0);
  BIN1(i32, int32_t, fmod, INT32_MIN, -1, 0);
  BIN1(i64, int64_t, add, INT64_MAX, 1, INT64_MIN);
  BIN1(i64, int64_t, sub, INT64_MIN, 1, INT64_MAX);
  BIN1(i64, int64_t, mul, INT64_MIN, -1, INT64_MIN);
  BIN1(i64, int64_t, mul, 4294967296ll, 4294967296ll, 0);
  BIN1(i64, int64_t, div, INT64_MIN, -1, INT64_MIN);
  BIN1(i64, int64_t, div, 5, 0, 0);
  BIN1(i64, int64_t, mod, INT64_MIN, -1, 0);
  BIN1(i64, int64_t, prelu, INT64_MIN, -1, INT64_MIN);
  BIN1(u8, uint8_t, add, 200, 100, 44);
  BIN1(u8, uint8_t, sub, 0, 1, 255);
  BIN1(u8, uint8_t, div, 7, 0, 0);
  BIN1(u16, uint16_t, mul, 65535, 65535, 1); /* would overflow int after promotion */
  BIN1(u32, uint32_t, mul, 4294967295u, 4294967295u, 1);
  BIN1(u64, uint64_t, sub, 0, 1, UINT64_MAX);
  BIN1(u64, uint64_t, mod, 9, 0, 0);
  BIN1(u8, uint8_t, shl, 1, 7, 128);
  BIN1(u8, uint8_t, shl, 1, 8, 0);
  BIN1(u8, uint8_t, shl, 255, 1, 254);
  BIN1(u16, uint16_t, shl, 1, 15, 32768);
  BIN1(u16, uint16_t, shl, 1, 16, 0);
  BIN1(u32, uint32_t, shl, 1, 31, 2147483648u);
  BIN1(u32, uint32_t, shl, 1, 32, 0);
  BIN1(u32, uint32_t, shr, 0x80000000u, 31, 1);
  BIN1(u32, uint32_t, shr, 0x80000000u, 40, 0);
  BIN1(u64, uint64_t, shl, 1, 63, 0x8000000000000000ull);
  BIN1(u64, uint64_t, shl, 1, 64, 0);
  BIN1(u64, uint64_t, shr, UINT64_MAX, 63, 1);
  BIN1(u64, uint64_t, shr, UINT64_MAX, 64, 0);
#undef BIN1
  /* ONNX mod.py: mixed signs, fmod=0 and fmod=1 */
  {
    const int64_t x[6] = {-4, 7, 5, 4, -7, 8}, d[6] = {2, -3, 8, -2, 3, 5};
    const int64_t want_mod[6] = {0, -2, 5, 0, 2, 3};
    int64_t y[6], n = 6;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &n, 1, &n), 0);
    cnnrt_i64_mod(&p, x, d, y);
    for (int i = 0; i < 6; i++) {
      assert_int_equal(y[i], want_mod[i]);
    }
    const double xf[6] = {-4.3, 7.2, 5.0, 4.3, -7.2, 8.0}, df[6] = {2.1, -3.4, 8.0, -2.1, 3.4, 5.0};
    const double want_fmod[6] = {-0.1, 0.4, 5.0, 0.1, -0.4, 3.0};
    const double want_npmod[6] = {2.0, -3.0, 5.0, -2.0, 3.0, 3.0};
    double yf[6];
    cnnrt_f64_fmod(&p, xf, df, yf);
    for (int i = 0; i < 6; i++) {
      assert_true(fabs(yf[i] - want_fmod[i]) < 1e-12);
    }
    cnnrt_f64_mod(&p, xf, df, yf);
    for (int i = 0; i < 6; i++) {
      assert_true(fabs(yf[i] - want_npmod[i]) < 1e-12);
    }
  }
  /* ONNX div.py test_div_uint8: floor division of nonnegative values */
  {
    const uint8_t x[4] = {23, 7, 0, 255}, d[4] = {24, 2, 5, 1}, want[4] = {0, 3, 0, 255};
    uint8_t y[4];
    int64_t n = 4;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &n, 1, &n), 0);
    cnnrt_u8_div(&p, x, d, y);
    assert_memory_equal(y, want, 4);
  }
  /* float Min/Max propagate NaN from either side (np.minimum / np.maximum) */
  {
    const float x[4] = {NAN, 1.0f, 3.0f, -0.0f}, z[4] = {1.0f, NAN, 2.0f, 0.0f};
    float y[4];
    int64_t n = 4;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &n, 1, &n), 0);
    cnnrt_f32_max(&p, x, z, y);
    assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 3.0f);
    cnnrt_f32_min(&p, x, z, y);
    assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 2.0f);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Pow                                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void test_pow(void **state) {
  (void)state;
  int64_t n = 3;
  cnnrt_bcast_params p;
  assert_int_equal(cnnrt_bcast_init(&p, 1, &n, 1, &n), 0);
  /* ONNX test_pow_types_*: [1, 2, 3] ** [4, 5, 6] = [1, 32, 729] for every type pair. */
#define POW_TYPES(tx, TX, ty, TY)                                                                \
  do {                                                                                           \
    const TX x_[3] = {1, 2, 3};                                                                  \
    const TY e_[3] = {4, 5, 6};                                                                  \
    TX y_[3];                                                                                    \
    cnnrt_##tx##_##ty##_pow(&p, x_, e_, y_);                                                     \
    assert_true(y_[0] == 1 && y_[1] == 32 && y_[2] == 729);                                      \
  } while (0)
#define POW_ALL_EXP(tx, TX)                                                                      \
  POW_TYPES(tx, TX, f32, float);                                                                 \
  POW_TYPES(tx, TX, f64, double);                                                                \
  POW_TYPES(tx, TX, i32, int32_t);                                                               \
  POW_TYPES(tx, TX, i64, int64_t)
  POW_ALL_EXP(f32, float);
  POW_ALL_EXP(f64, double);
  POW_ALL_EXP(i32, int32_t);
  POW_ALL_EXP(i64, int64_t);
#undef POW_ALL_EXP
#undef POW_TYPES
  {
    const float x[3] = {1, 2, 3}, e[3] = {4, 5, 6};
    float y[3];
    cnnrt_f32_pow(&p, x, e, y);
    assert_true(y[0] == 1.0f && y[1] == 32.0f && y[2] == 729.0f);
  }
  /* integer ** integer: exact, wrapping; negative exponents truncate */
  {
    const int32_t x[8] = {3, -2, 2, 1, -1, -1, 0, 7};
    const int32_t e[8] = {21, 31, -1, -5, -3, -4, -1, 0};
    const int32_t want[8] = {1870418611, INT32_MIN, 0, 1, -1, 1, 0, 1};
    int32_t y[8];
    int64_t m = 8;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &m, 1, &m), 0);
    cnnrt_i32_pow(&p, x, e, y);
    for (int i = 0; i < 8; i++) {
      assert_int_equal(y[i], want[i]);
    }
    /* naive: repeated multiplication in int64 for small values */
    int64_t xb[64], eb[64], yb[64], k = 64;
    for (int i = 0; i < 64; i++) {
      xb[i] = (int64_t)(rnd() % 11) - 5;
      eb[i] = (int64_t)(rnd() % 20);
    }
    assert_int_equal(cnnrt_bcast_init(&p, 1, &k, 1, &k), 0);
    cnnrt_i64_pow(&p, xb, eb, yb);
    for (int i = 0; i < 64; i++) {
      int64_t r = 1;
      for (int64_t j = 0; j < eb[i]; j++) {
        r *= xb[i];
      }
      assert_int_equal(yb[i], r);
    }
  }
  /* integer ** float: in double, truncated and saturated; NaN -> 0 */
  {
    const int32_t x[4] = {-8, 2, 2, 10};
    const float e[4] = {1.0f / 3.0f, 100.0f, 0.5f, -1.0f};
    const int32_t want[4] = {0, INT32_MAX, 1, 0};
    int32_t y[4];
    int64_t m = 4;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &m, 1, &m), 0);
    cnnrt_i32_f32_pow(&p, x, e, y);
    for (int i = 0; i < 4; i++) {
      assert_int_equal(y[i], want[i]);
    }
  }
  /* float ** float against libm, with broadcasting (test_pow_bcast_array) */
  {
    const int64_t dx[2] = {2, 3}, de[1] = {3};
    const float x[6] = {1, 2, 3, 4, 5, 6}, e[3] = {1, 2, 3};
    const float want[6] = {1, 4, 27, 4, 25, 216};
    float y[6];
    assert_int_equal(cnnrt_bcast_init(&p, 2, dx, 1, de), 0);
    cnnrt_f32_pow(&p, x, e, y);
    assert_memory_equal(y, want, sizeof want);
    const float big[1] = {10.0f};
    const int64_t ie[1] = {39}; /* 1e39 overflows float: inf, not undefined behaviour */
    float yb[1];
    int64_t one = 1;
    assert_int_equal(cnnrt_bcast_init(&p, 1, &one, 1, &one), 0);
    cnnrt_f32_i64_pow(&p, big, ie, yb);
    assert_true(isinf(yb[0]) && yb[0] > 0);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Where                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct where_case {
  int64_t r[3];
  int64_t d[3][8];
} where_case;

static const where_case kWhere[] = {
    {{2, 2, 2}, {{3, 4}, {3, 4}, {3, 4}}},       /* all contiguous */
    {{2, 2, 0}, {{3, 4}, {3, 4}, {0}}},          /* masked fill with a scalar */
    {{2, 0, 2}, {{3, 4}, {0}, {3, 4}}},
    {{2, 0, 0}, {{3, 4}, {0}, {0}}},
    {{2, 2, 0}, {{3, 1}, {1, 4}, {0}}},          /* cond broadcast along rows */
    {{1, 3, 2}, {{5}, {2, 3, 5}, {3, 1}}},
    {{0, 1, 1}, {{0}, {7}, {7}}},                /* scalar cond */
    {{4, 4, 4}, {{2, 1, 3, 1}, {1, 4, 1, 1}, {1, 1, 1, 5}}},
    {{2, 2, 2}, {{0, 2}, {1, 2}, {0, 1}}},       /* empty */
};

#define DEF_WHERE_TEST(t, T)                                                                     \
  static void where_##t(void) {                                                                  \
    for (int64_t s = 0; s < ARRAY_LEN(kWhere); s++) {                                            \
      const where_case *c = &kWhere[s];                                                          \
      uint8_t cond[MAXN];                                                                        \
      T x[MAXN], y[MAXN], out[MAXN];                                                             \
      for (int64_t i = 0; i < numel(c->r[0], c->d[0]); i++) {                                    \
        cond[i] = (uint8_t)(rnd() % 3); /* 2 is true as well */                                  \
      }                                                                                          \
      for (int64_t i = 0; i < numel(c->r[1], c->d[1]); i++) {                                    \
        x[i] = (T)rnd();                                                                         \
      }                                                                                          \
      for (int64_t i = 0; i < numel(c->r[2], c->d[2]); i++) {                                    \
        y[i] = (T)rnd();                                                                         \
      }                                                                                          \
      int64_t t01[8], dout[8];                                                                   \
      int64_t r01 = naive_out_shape(c->r[0], c->d[0], c->r[1], c->d[1], t01);                    \
      int64_t ro = naive_out_shape(r01, t01, c->r[2], c->d[2], dout);                            \
      cnnrt_bcast3_params p;                                                                     \
      assert_int_equal(                                                                          \
          cnnrt_bcast3_init(&p, c->r[0], c->d[0], c->r[1], c->d[1], c->r[2], c->d[2]), 0);       \
      assert_int_equal(p.count, numel(ro, dout));                                                \
      cnnrt_##t##_where(&p, cond, x, y, out);                                                    \
      for (int64_t i = 0; i < numel(ro, dout); i++) {                                            \
        uint8_t cv = cond[bcast_index(ro, dout, i, c->r[0], c->d[0])];                           \
        T xv = x[bcast_index(ro, dout, i, c->r[1], c->d[1])];                                    \
        T yv = y[bcast_index(ro, dout, i, c->r[2], c->d[2])];                                    \
        if (memcmp(&out[i], cv ? &xv : &yv, sizeof(T)) != 0) {                                   \
          fail_msg("where %s: case %d element %d", #t, (int)s, (int)i);                          \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }
DEF_WHERE_TEST(f32, float)
DEF_WHERE_TEST(f64, double)
DEF_WHERE_TEST(i8, int8_t)
DEF_WHERE_TEST(i16, int16_t)
DEF_WHERE_TEST(i32, int32_t)
DEF_WHERE_TEST(i64, int64_t)
DEF_WHERE_TEST(u8, uint8_t)
DEF_WHERE_TEST(u16, uint16_t)
DEF_WHERE_TEST(u32, uint32_t)
DEF_WHERE_TEST(u64, uint64_t)
DEF_WHERE_TEST(bool, uint8_t)
DEF_WHERE_TEST(f16, uint16_t)
DEF_WHERE_TEST(bf16, uint16_t)

static void test_where(void **state) {
  (void)state;
  where_f32();
  where_f64();
  where_i8();
  where_i16();
  where_i32();
  where_i64();
  where_u8();
  where_u16();
  where_u32();
  where_u64();
  where_bool();
  where_f16();
  where_bf16();
}

/* ------------------------------------------------------------------------------------------ */
/* Unary float ops                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Naive references in double, written like the ONNX numpy references. */
static double clipd(double x, double lo, double hi) {
  if (isnan(x)) {
    return x;
  }
  return x < lo ? lo : (x > hi ? hi : x);
}
static double r_relu(double x) { return clipd(x, 0, INFINITY); }
static double r_leaky(double x) { return clipd(x, 0, INFINITY) + clipd(x, -INFINITY, 0) * 0.1; }
static double r_elu(double x) {
  return clipd(x, 0, INFINITY) + (exp(clipd(x, -INFINITY, 0)) - 1) * 2.0;
}
static double r_selu(double x) {
  return clipd(x, 0, INFINITY) * 3.0 + (exp(clipd(x, -INFINITY, 0)) - 1) * 2.0 * 3.0;
}
static double r_celu(double x) {
  double neg = 2.0 * (exp(x / 2.0) - 1);
  return (isnan(x) ? x : (x > 0 ? x : 0)) + (neg < 0 ? neg : 0);
}
static double r_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double r_hsig(double x) { return clipd(x * 0.5 + 0.6, 0, 1); }
static double r_hswish(double x) { return x * clipd(x / 6.0 + 0.5, 0, 1); }
static double r_softplus(double x) { return x > 700 ? x : log(exp(x) + 1); } /* exp overflow */
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_mish(double x) { return x * tanh(log(exp(x) + 1)); }
static double r_silu(double x) { return x / (1.0 + exp(-x)); }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_threlu(double x) { return isnan(x) ? x : (x > 2.0 ? x : 0.0); }
static double r_clip(double x) { return clipd(x, -1.0, 1.5); }
static double r_scale(double x) { return x * -2.5; }
static double r_recip(double x) { return 1.0 / x; }
static double r_neg(double x) { return -x; }
static double r_sign(double x) { return isnan(x) ? x : (x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0)); }
static double r_round(double x) { /* half to even, from floor */
  if (isnan(x) || isinf(x)) {
    return x;
  }
  double f = floor(x), d = x - f;
  if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0)) {
    f += 1;
  }
  return f;
}

typedef struct unary_case {
  const char *name;
  double (*ref)(double);
  void (*f32)(int64_t, const float *, float *);
  void (*f64)(int64_t, const double *, double *);
} unary_case;

/* Adapters binding the op parameters used by the references above. */
#define ADAPT1(name, P1)                                                                         \
  static void a32_##name(int64_t n, const float *x, float *y) {                                  \
    cnnrt_f32_##name(n, x, (float)(P1), y);                                                      \
  }                                                                                              \
  static void a64_##name(int64_t n, const double *x, double *y) {                                \
    cnnrt_f64_##name(n, x, P1, y);                                                               \
  }
#define ADAPT2(name, P1, P2)                                                                     \
  static void a32_##name(int64_t n, const float *x, float *y) {                                  \
    cnnrt_f32_##name(n, x, (float)(P1), (float)(P2), y);                                         \
  }                                                                                              \
  static void a64_##name(int64_t n, const double *x, double *y) {                                \
    cnnrt_f64_##name(n, x, P1, P2, y);                                                           \
  }
ADAPT1(leaky_relu, 0.1)
ADAPT1(elu, 2.0)
ADAPT2(selu, 2.0, 3.0)
ADAPT1(celu, 2.0)
ADAPT2(hard_sigmoid, 0.5, 0.6)
ADAPT1(thresholded_relu, 2.0)
ADAPT2(clip, -1.0, 1.5)
ADAPT1(scale, -2.5)

#define U0(name, ref) {#name, ref, cnnrt_f32_##name, cnnrt_f64_##name}
#define U1(name, ref) {#name, ref, a32_##name, a64_##name}
static const unary_case kUnary[] = {
    U0(relu, r_relu),       U1(leaky_relu, r_leaky),     U1(elu, r_elu),
    U1(selu, r_selu),       U1(celu, r_celu),            U0(sigmoid, r_sigmoid),
    U1(hard_sigmoid, r_hsig), U0(hard_swish, r_hswish),  U0(tanh, tanh),
    U0(softplus, r_softplus), U0(softsign, r_softsign),  U0(erf, erf),
    U0(mish, r_mish),       U0(silu, r_silu),            U0(gelu, r_gelu),
    U1(thresholded_relu, r_threlu), U1(clip, r_clip),    U1(scale, r_scale),
    U0(sqrt, sqrt),         U0(reciprocal, r_recip),     U0(exp, exp),
    U0(log, log),           U0(floor, floor),            U0(ceil, ceil),
    U0(round, r_round),     U0(sin, sin),                U0(cos, cos),
    U0(tan, tan),           U0(asin, asin),              U0(acos, acos),
    U0(atan, atan),         U0(sinh, sinh),              U0(cosh, cosh),
    U0(asinh, asinh),       U0(acosh, acosh),            U0(atanh, atanh),
    U0(abs, fabs),          U0(neg, r_neg),              U0(sign, r_sign),
};

static void test_unary_float(void **state) {
  (void)state;
  /* a grid plus special values; +-100 check that softplus & co. do not overflow */
  double v[160];
  int64_t n = 0;
  for (int i = 0; i < 120; i++) {
    v[n++] = -12.0 + 0.2011 * i;
  }
  static const double special[] = {0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0, 2.0,
                                   1e-7, -1e-7, 20.0, -20.0, 88.0, -88.0, 100.0, -100.0,
                                   1e30, -1e30, INFINITY, -INFINITY, NAN, 3.0, -3.0};
  for (int64_t i = 0; i < ARRAY_LEN(special); i++) {
    v[n++] = special[i];
  }
  float x32[160], y32[160];
  double x64[160], y64[160];
  for (int64_t i = 0; i < n; i++) {
    x32[i] = (float)v[i];
    x64[i] = v[i];
  }
  for (int64_t k = 0; k < ARRAY_LEN(kUnary); k++) {
    const unary_case *u = &kUnary[k];
    u->f32(n, x32, y32);
    u->f64(n, x64, y64);
    for (int64_t i = 0; i < n; i++) {
      double w32 = u->ref((double)x32[i]); /* reference on the float input, rounded to float */
      w32 = (double)cnnrt_f64_to_f32(w32);
      double w64 = u->ref(x64[i]);
      if (!close_to(y32[i], w32, 4e-6, 1e-6)) {
        fail_msg("f32 %s(%.9g) = %.9g, want %.9g", u->name, (double)x32[i], (double)y32[i], w32);
      }
      /* expm1/log1p formulations are more accurate than the references near 0 and around
       * large magnitudes, hence the small absolute slack. */
      if (!close_to(y64[i], w64, 1e-12, 1e-14)) {
        fail_msg("f64 %s(%.17g) = %.17g, want %.17g", u->name, x64[i], y64[i], w64);
      }
    }
    /* in place gives the same */
    float z32[160];
    memcpy(z32, x32, sizeof z32);
    u->f32(n, z32, z32);
    for (int64_t i = 0; i < n; i++) {
      assert_true(same_f32(z32[i], y32[i]));
    }
  }
}

static void expect_f32(const float *got, const float *want, int64_t n, float tol) {
  for (int64_t i = 0; i < n; i++) {
    if (!close_to(got[i], want[i], tol, tol)) {
      fail_msg("element %d: %.9g, want %.9g", (int)i, (double)got[i], (double)want[i]);
    }
  }
}

/* Values from the ONNX node tests, numpy and torch. */
static void test_unary_onnx_values(void **state) {
  (void)state;
  const float m101[3] = {-1.0f, 0.0f, 1.0f};
  float y[8];
  cnnrt_f32_selu(3, m101, 2.0f, 3.0f, y);
  expect_f32(y, (const float[]){-3.79272366f, 0.0f, 3.0f}, 3, 1e-6f);
  {
    const float x[4] = {-2.0f, -0.5f, 0.5f, 2.0f};
    cnnrt_f32_selu(4, x, 1.67326319217681884765625f, 1.05070102214813232421875f, y);
    expect_f32(y, (const float[]){-1.52016652f, -0.691758215f, 0.525350511f, 2.10140204f}, 4,
               1e-6f);
  }
  cnnrt_f32_elu(3, m101, 2.0f, y);
  expect_f32(y, (const float[]){-1.26424122f, 0.0f, 1.0f}, 3, 1e-6f);
  {
    const float x[5] = {-2.0f, -1.0f, 0.0f, 0.5f, 1.0f};
    cnnrt_f32_celu(5, x, 2.0f, y);
    expect_f32(y, (const float[]){-1.26424122f, -0.786938667f, 0.0f, 0.5f, 1.0f}, 5, 1e-6f);
  }
  cnnrt_f32_hard_sigmoid(3, m101, 0.5f, 0.6f, y);
  expect_f32(y, (const float[]){0.1f, 0.6f, 1.0f}, 3, 1e-6f);
  cnnrt_f32_leaky_relu(3, m101, 0.1f, y);
  expect_f32(y, (const float[]){-0.1f, 0.0f, 1.0f}, 3, 1e-6f);
  cnnrt_f32_softplus(3, m101, y);
  expect_f32(y, (const float[]){0.31326166f, 0.6931472f, 1.3132617f}, 3, 1e-6f);
  {
    const float x[5] = {-1.5f, 0.0f, 1.2f, 2.0f, 2.2f};
    cnnrt_f32_thresholded_relu(5, x, 2.0f, y);
    expect_f32(y, (const float[]){0.0f, 0.0f, 0.0f, 0.0f, 2.2f}, 5, 0.0f);
  }
  {
    const float x[8] = {-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f, 4.0f};
    cnnrt_f32_hard_swish(8, x, y); /* torch.nn.functional.hardswish */
    expect_f32(y,
               (const float[]){0.0f, -0.333333343f, -0.208333328f, 0.0f, 0.291666657f,
                               0.666666687f, 3.0f, 4.0f},
               8, 1e-6f);
    cnnrt_f32_mish(8, x, y); /* torch.nn.functional.mish */
    expect_f32(y,
               (const float[]){-0.145647466f, -0.30340144f, -0.22074376f, 0.0f, 0.375245243f,
                               0.865098357f, 2.98653507f, 3.99741292f},
               8, 1e-6f);
  }
  { /* no overflow for large inputs */
    const float x[4] = {100.0f, 1e30f, -100.0f, 89.0f};
    cnnrt_f32_softplus(4, x, y);
    assert_true(y[0] == 100.0f && y[1] == 1e30f && y[2] >= 0.0f && y[2] < 1e-40f);
    assert_true(y[3] == 89.0f);
    cnnrt_f32_mish(4, x, y);
    assert_true(y[0] == 100.0f && y[1] == 1e30f);
    cnnrt_f32_sigmoid(4, x, y);
    assert_true(y[0] == 1.0f && y[2] >= 0.0f && y[2] < 1e-40f);
  }
  { /* Clip: ONNX clip.py, NaN passes, min > max gives max */
    const float x[4] = {-2.0f, 0.0f, 2.0f, NAN};
    cnnrt_f32_clip(4, x, -1.0f, 1.0f, y);
    assert_true(y[0] == -1.0f && y[1] == 0.0f && y[2] == 1.0f && isnan(y[3]));
    cnnrt_f32_clip(3, x, 1.0f, -1.0f, y);
    assert_true(y[0] == -1.0f && y[1] == -1.0f && y[2] == -1.0f);
  }
  { /* Round: half to even */
    const float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.4f, 2.6f, -2.6f};
    cnnrt_f32_round(8, x, y);
    expect_f32(y, (const float[]){0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 0.0f, 3.0f, -3.0f}, 8, 0.0f);
  }
  { /* IsNaN / IsInf */
    const float x[5] = {1.0f, NAN, INFINITY, -INFINITY, -0.0f};
    uint8_t b[5];
    cnnrt_f32_isnan(5, x, b);
    assert_memory_equal(b, ((const uint8_t[]){0, 1, 0, 0, 0}), 5);
    cnnrt_f32_isinf(5, x, 1, 1, b);
    assert_memory_equal(b, ((const uint8_t[]){0, 0, 1, 1, 0}), 5);
    cnnrt_f32_isinf(5, x, 0, 1, b);
    assert_memory_equal(b, ((const uint8_t[]){0, 0, 1, 0, 0}), 5);
    cnnrt_f32_isinf(5, x, 1, 0, b);
    assert_memory_equal(b, ((const uint8_t[]){0, 0, 0, 1, 0}), 5);
    const double xd[3] = {INFINITY, NAN, 0.0};
    cnnrt_f64_isinf(3, xd, 1, 1, b);
    assert_memory_equal(b, ((const uint8_t[]){1, 0, 0}), 3);
  }
}

/* Integer unary ops, including MIN (abs/neg wrap like numpy) and clip (ONNX clip int8). */
#define DEF_INT_UNARY_COMMON(t, T, TMIN, TMAX, SIGNED)                                           \
  static void int_unary_##t(void) {                                                              \
    T x[64], y[64];                                                                              \
    x[0] = TMIN;                                                                                 \
    x[1] = TMAX;                                                                                 \
    x[2] = 0;                                                                                    \
    x[3] = 1;                                                                                    \
    for (int i = 4; i < 64; i++) {                                                               \
      x[i] = gen_##t();                                                                          \
    }                                                                                            \
    x[4] = (T)(TMIN + 1);                                                                        \
    cnnrt_##t##_abs(64, x, y);                                                                   \
    for (int i = 0; i < 64; i++) {                                                               \
      int neg = SIGNED && (int64_t)x[i] < 0;                                                     \
      T w = (neg && x[i] != TMIN) ? (T)(-(int64_t)x[i]) : x[i];                                  \
      assert_true(y[i] == w);                                                                    \
    }                                                                                            \
    cnnrt_##t##_sign(64, x, y);                                                                  \
    for (int i = 0; i < 64; i++) {                                                               \
      int64_t w = x[i] == 0 ? 0 : ((SIGNED && (int64_t)x[i] < 0) ? -1 : 1);                      \
      assert_true((int64_t)y[i] == w);                                                           \
    }                                                                                            \
    const T lo = (T)(SIGNED ? -5 : 3), hi = (T)100;                                              \
    cnnrt_##t##_clip(64, x, lo, hi, y);                                                          \
    for (int i = 0; i < 64; i++) {                                                               \
      T w = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);                                            \
      assert_true(y[i] == w);                                                                    \
    }                                                                                            \
    memcpy(y, x, sizeof y);                                                                      \
    cnnrt_##t##_clip(64, y, TMIN, TMAX, y); /* in place, full range: identity */                 \
    assert_memory_equal(y, x, sizeof y);                                                         \
  }
DEF_INT_UNARY_COMMON(i8, int8_t, INT8_MIN, INT8_MAX, 1)
DEF_INT_UNARY_COMMON(i16, int16_t, INT16_MIN, INT16_MAX, 1)
DEF_INT_UNARY_COMMON(i32, int32_t, INT32_MIN, INT32_MAX, 1)
DEF_INT_UNARY_COMMON(i64, int64_t, INT64_MIN, INT64_MAX, 1)
DEF_INT_UNARY_COMMON(u8, uint8_t, 0, UINT8_MAX, 0)
DEF_INT_UNARY_COMMON(u16, uint16_t, 0, UINT16_MAX, 0)
DEF_INT_UNARY_COMMON(u32, uint32_t, 0, UINT32_MAX, 0)
DEF_INT_UNARY_COMMON(u64, uint64_t, 0, UINT64_MAX, 0)

#define DEF_SINT_UNARY(t, T, TMIN, TMAX)                                                         \
  static void sint_unary_##t(void) {                                                             \
    T x[64], y[64];                                                                              \
    x[0] = TMIN;                                                                                 \
    x[1] = TMAX;                                                                                 \
    x[2] = 0;                                                                                    \
    x[3] = -1;                                                                                   \
    for (int i = 4; i < 64; i++) {                                                               \
      x[i] = gen_##t();                                                                          \
    }                                                                                            \
    cnnrt_##t##_neg(64, x, y);                                                                   \
    for (int i = 0; i < 64; i++) {                                                               \
      assert_true(y[i] == (x[i] == TMIN ? TMIN : (T)(-(int64_t)x[i])));                          \
    }                                                                                            \
    cnnrt_##t##_relu(64, x, y);                                                                  \
    for (int i = 0; i < 64; i++) {                                                               \
      assert_true(y[i] == (x[i] > 0 ? x[i] : 0));                                                \
    }                                                                                            \
  }
DEF_SINT_UNARY(i8, int8_t, INT8_MIN, INT8_MAX)
DEF_SINT_UNARY(i16, int16_t, INT16_MIN, INT16_MAX)
DEF_SINT_UNARY(i32, int32_t, INT32_MIN, INT32_MAX)
DEF_SINT_UNARY(i64, int64_t, INT64_MIN, INT64_MAX)

static void test_unary_int(void **state) {
  (void)state;
  int_unary_i8();
  int_unary_i16();
  int_unary_i32();
  int_unary_i64();
  int_unary_u8();
  int_unary_u16();
  int_unary_u32();
  int_unary_u64();
  sint_unary_i8();
  sint_unary_i16();
  sint_unary_i32();
  sint_unary_i64();
  /* ONNX clip.py int8 */
  const int8_t x[3] = {-1, 0, 1};
  int8_t y[3];
  cnnrt_i8_clip(3, x, -5, 5, y);
  assert_memory_equal(y, x, 3);
  cnnrt_i8_clip(3, x, 0, INT8_MAX, y);
  assert_memory_equal(y, ((const int8_t[]){0, 0, 1}), 3);
}

/* ------------------------------------------------------------------------------------------ */
/* Cast                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Round x to a binary format with p significant bits, minimum normal exponent emin (so the
 * quantum below 2^emin is 2^(emin-p+1)) and largest finite value maxf: nearest-even if `trunc`
 * is 0, toward zero otherwise. ldexp by powers of two is exact here, nearbyint rounds to even. */
static double to_format(double x, int p, int emin, double maxf, int trunc_mode) {
  if (isnan(x) || isinf(x) || x == 0) {
    return x;
  }
  int e;
  frexp(x, &e); /* x = m * 2^e, 0.5 <= |m| < 1: the leading bit is worth 2^(e-1) */
  int q = e - p;
  if (e - 1 < emin) {
    q = emin - p + 1;
  }
  double s = ldexp(x, -q);
  double r = ldexp(trunc_mode ? trunc(s) : nearbyint(s), q);
  if (fabs(r) > maxf) {
    return copysign(INFINITY, x);
  }
  return r == 0 ? copysign(0.0, x) : r;
}
static double as_f32(double x) { return to_format(x, 24, -126, FLT_MAX, 0); }
static double as_f16(double x) { return to_format(x, 11, -14, 65504.0, 0); }
static double as_bf16_trunc(double x) { /* to float first, then chop to 8 bits */
  return to_format(as_f32(x), 8, -126, 3.3895313892515355e38, 1);
}
static double as_bf16_rne(double x) { return to_format(x, 8, -126, 3.3895313892515355e38, 0); }

enum { NTYPES = 13 };
static const int kTypes[NTYPES] = {CNNRT_F32, CNNRT_F64, CNNRT_F16, CNNRT_BF16, CNNRT_I8,
                                   CNNRT_I16, CNNRT_I32, CNNRT_I64, CNNRT_U8,   CNNRT_U16,
                                   CNNRT_U32, CNNRT_U64, CNNRT_BOOL};
static int is_float_type(int t) {
  return t == CNNRT_F32 || t == CNNRT_F64 || t == CNNRT_F16 || t == CNNRT_BF16;
}
static int is_signed_type(int t) {
  return t == CNNRT_I8 || t == CNNRT_I16 || t == CNNRT_I32 || t == CNNRT_I64;
}

/* Integer range of an integer dtype, as doubles lo and hi_excl = max + 1 (exact). */
static void int_range(int t, double *lo, double *hi_excl) {
  switch (t) {
  case CNNRT_I8: *lo = -128.0; *hi_excl = 128.0; break;
  case CNNRT_I16: *lo = -32768.0; *hi_excl = 32768.0; break;
  case CNNRT_I32: *lo = -2147483648.0; *hi_excl = 2147483648.0; break;
  case CNNRT_I64: *lo = -9223372036854775808.0; *hi_excl = 9223372036854775808.0; break;
  case CNNRT_U8: *lo = 0; *hi_excl = 256.0; break;
  case CNNRT_U16: *lo = 0; *hi_excl = 65536.0; break;
  case CNNRT_U32: *lo = 0; *hi_excl = 4294967296.0; break;
  default: *lo = 0; *hi_excl = 18446744073709551616.0; break;
  }
}

/* Largest value of an integer dtype. */
static uint64_t int_max_bits(int t) {
  switch (t) {
  case CNNRT_I8: return INT8_MAX;
  case CNNRT_I16: return INT16_MAX;
  case CNNRT_I32: return INT32_MAX;
  case CNNRT_I64: return INT64_MAX;
  case CNNRT_U8: return UINT8_MAX;
  case CNNRT_U16: return UINT16_MAX;
  case CNNRT_U32: return UINT32_MAX;
  default: return UINT64_MAX;
  }
}

/* Stores the integer si (use_signed) or su into dtype t, wrapping modulo 2^bits. */
static void put_int(int t, void *dst, int64_t i, uint64_t u, int use_signed) {
  uint64_t bits = use_signed ? (uint64_t)i : u;
  switch (t) {
  case CNNRT_I8: { int8_t v = (int8_t)bits; memcpy(dst, &v, 1); break; }
  case CNNRT_I16: { int16_t v = (int16_t)bits; memcpy(dst, &v, 2); break; }
  case CNNRT_I32: { int32_t v = (int32_t)bits; memcpy(dst, &v, 4); break; }
  case CNNRT_I64: { int64_t v = (int64_t)bits; memcpy(dst, &v, 8); break; }
  case CNNRT_U8: { uint8_t v = (uint8_t)bits; memcpy(dst, &v, 1); break; }
  case CNNRT_U16: { uint16_t v = (uint16_t)bits; memcpy(dst, &v, 2); break; }
  case CNNRT_U32: { uint32_t v = (uint32_t)bits; memcpy(dst, &v, 4); break; }
  default: memcpy(dst, &bits, 8); break;
  }
}

/* Expected value of casting the exactly known source value to dtype t, written to dst.
 * Source is a double d (float sources) or an integer (si / su). */
static void expect_cast(int t, void *dst, int src_float, double d, int src_signed, int64_t si,
                        uint64_t su) {
  if (t == CNNRT_BOOL) {
    uint8_t b = src_float ? (d != 0) : (src_signed ? si != 0 : su != 0);
    memcpy(dst, &b, 1);
    return;
  }
  if (is_float_type(t)) {
    double v;
    float f;
    if (!src_float) { /* C int -> float/double conversions round to nearest */
      f = src_signed ? (float)si : (float)su;
      v = src_signed ? (double)si : (double)su;
    } else {
      f = (float)as_f32(d);
      v = d;
    }
    if (t == CNNRT_F32) {
      memcpy(dst, &f, 4);
    } else if (t == CNNRT_F64) {
      memcpy(dst, &v, 8);
    } else if (t == CNNRT_F16) {
      double h = as_f16(v); /* exact value; encode via float (representable, no rounding) */
      uint16_t bits = cnnrt_f32_to_f16((float)h);
      memcpy(dst, &bits, 2);
    } else {
      double h = src_float ? as_bf16_trunc(d) : to_format((double)f, 8, -126, 3.4e38, 1);
      uint32_t fb;
      float hf = (float)h;
      memcpy(&fb, &hf, 4);
      uint16_t bits = (uint16_t)(fb >> 16);
      if (isnan(h)) {
        bits = 0x7fc0;
      }
      memcpy(dst, &bits, 2);
    }
    return;
  }
  if (src_float) { /* truncate, saturate, NaN -> 0 */
    double lo, hi;
    int_range(t, &lo, &hi);
    double tr = isnan(d) ? 0.0 : trunc(d);
    if (tr < lo) {
      tr = lo;
    }
    if (tr >= hi) {
      put_int(t, dst, 0, int_max_bits(t), 0);
      return;
    }
    if (tr < 0) {
      put_int(t, dst, (int64_t)tr, 0, 1);
    } else {
      put_int(t, dst, 0, (uint64_t)tr, 0);
    }
    return;
  }
  put_int(t, dst, si, su, src_signed); /* int -> int wraps */
}

/* Compares one element of dtype t; floats by value with NaN == NaN and signed zeros. */
static int cast_same(int t, const void *got, const void *want) {
  if (t == CNNRT_F32 || t == CNNRT_F64 || t == CNNRT_F16 || t == CNNRT_BF16) {
    double g, w;
    if (t == CNNRT_F32) {
      float a, b;
      memcpy(&a, got, 4);
      memcpy(&b, want, 4);
      g = a;
      w = b;
    } else if (t == CNNRT_F64) {
      memcpy(&g, got, 8);
      memcpy(&w, want, 8);
    } else {
      uint16_t a, b;
      memcpy(&a, got, 2);
      memcpy(&b, want, 2);
      g = t == CNNRT_F16 ? cnnrt_f16_to_f32(a) : cnnrt_bf16_to_f32(a);
      w = t == CNNRT_F16 ? cnnrt_f16_to_f32(b) : cnnrt_bf16_to_f32(b);
    }
    return (isnan(g) && isnan(w)) || (g == w && signbit(g) == signbit(w));
  }
  return memcmp(got, want, (size_t)cnnrt_dtype_bytes(t)) == 0;
}

static const double kCastFloats[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.99, -0.99, 1.5, 2.5, -2.5, 127.0, 127.9, 128.0, -128.0,
    -128.9, -129.0, 255.0, 255.5, 256.0, 32767.0, 32768.0, -32769.0, 65504.0, 65519.0,
    65520.0, 65535.0, 65536.0, 2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0,
    4294967295.0, 4294967296.0, 9007199254740993.0, 9.2233720368547748e18, 9.2233720368547758e18,
    -9.2233720368547758e18, -9.3e18, 1.8446744073709550e19, 1.8446744073709552e19, 1e30, -1e30,
    1e300, -1e300, 3.4028235677973366e38, 3.4028235e38, 2049.0, 2051.0, 1.0009765625,
    1.00048828125, 1.000732421875, 1.0 + 0x1p-11 + 0x1p-40, 0x1p-24, 0x1.8p-24, 0x1p-25,
    0x1.0000001p-25, 0x1.7ffffffffffc0p-24, 6.1e-5, 1e-8, 1e-40, -1e-45, 1e-320, 0.1, -3.7,
    3.14159265358979, 0.47892547, 0.48033667, 0.49968487, 0.81910545, 257.0, 16777217.0,
    INFINITY, -INFINITY, NAN, -NAN};
static const int64_t kCastInts[] = {0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 257, 32767,
                                    32768, -32768, -32769, 65504, 65519, 65520, 65535, 65536,
                                    2049, 2051, 16777217, 2147483647ll, 2147483648ll,
                                    -2147483648ll, -2147483649ll, 4294967295ll, 4294967296ll,
                                    9007199254740993ll, INT64_MAX, INT64_MIN, -7, 1000000007};
static const uint64_t kCastUints[] = {0, 1, 2, 127, 128, 255, 256, 257, 65504, 65519, 65520,
                                      65535, 65536, 2049, 16777217, 4294967295ull, 4294967296ull,
                                      9007199254740993ull, 0x8000000000000000ull, UINT64_MAX,
                                      1000000007};

/* Every (from, to) pair over the tables above, against expect_cast. */
static void test_cast_all_pairs(void **state) {
  (void)state;
  enum { MAXV = 96 };
  for (int fi = 0; fi < NTYPES; fi++) {
    int from = kTypes[fi];
    int64_t fs = cnnrt_dtype_bytes(from);
    unsigned char src[MAXV * 8];
    double sd[MAXV];
    int64_t si[MAXV];
    uint64_t su[MAXV];
    int64_t n = 0;
    /* Source values exactly as the source type holds them. */
    if (is_float_type(from)) {
      for (int64_t k = 0; k < ARRAY_LEN(kCastFloats); k++) {
        double v = kCastFloats[k];
        double h = from == CNNRT_F32   ? as_f32(v)
                   : from == CNNRT_F64 ? v
                   : from == CNNRT_F16 ? as_f16(v)
                                       : as_bf16_rne(v);
        sd[n] = h;
        if (from == CNNRT_F32) {
          float f = (float)h;
          memcpy(src + n * 4, &f, 4);
        } else if (from == CNNRT_F64) {
          memcpy(src + n * 8, &h, 8);
        } else if (from == CNNRT_F16) {
          uint16_t b = cnnrt_f32_to_f16((float)h);
          memcpy(src + n * 2, &b, 2);
        } else {
          uint16_t b = cnnrt_f32_to_bf16((float)h);
          memcpy(src + n * 2, &b, 2);
        }
        n++;
      }
    } else if (is_signed_type(from)) {
      for (int64_t k = 0; k < ARRAY_LEN(kCastInts); k++) {
        put_int(from, src + n * fs, kCastInts[k], 0, 1);
        int64_t v = 0;
        switch (from) { /* read back the wrapped value */
        case CNNRT_I8: { int8_t x; memcpy(&x, src + n * fs, 1); v = x; break; }
        case CNNRT_I16: { int16_t x; memcpy(&x, src + n * fs, 2); v = x; break; }
        case CNNRT_I32: { int32_t x; memcpy(&x, src + n * fs, 4); v = x; break; }
        default: memcpy(&v, src + n * fs, 8); break;
        }
        si[n++] = v;
      }
    } else {
      for (int64_t k = 0; k < ARRAY_LEN(kCastUints); k++) {
        uint64_t v = kCastUints[k];
        switch (from) {
        case CNNRT_U8: v = (uint8_t)v; break;
        case CNNRT_U16: v = (uint16_t)v; break;
        case CNNRT_U32: v = (uint32_t)v; break;
        case CNNRT_BOOL: v = (k % 3) != 0; break;
        default: break;
        }
        put_int(from == CNNRT_BOOL ? CNNRT_U8 : from, src + n * fs, 0, v, 0);
        su[n++] = v;
      }
    }
    for (int ti = 0; ti < NTYPES; ti++) {
      int to = kTypes[ti];
      int64_t ts = cnnrt_dtype_bytes(to);
      unsigned char dst[MAXV * 8], want[8];
      assert_int_equal(cnnrt_cast(n, from, src, to, dst), 0);
      for (int64_t k = 0; k < n; k++) {
        expect_cast(to, want, is_float_type(from), sd[k], is_signed_type(from), si[k], su[k]);
        if (!cast_same(to, dst + k * ts, want)) {
          fail_msg("cast %d -> %d, value #%d (%.17g / %lld / %llu)", from, to, (int)k,
                   is_float_type(from) ? sd[k] : 0.0,
                   is_signed_type(from) ? (long long)si[k] : 0LL,
                   (!is_float_type(from) && !is_signed_type(from)) ? (unsigned long long)su[k]
                                                                   : 0ULL);
        }
      }
    }
  }
}

/* Tables from numpy astype(float16) and the ONNX bfloat16 cast test. */
static void test_cast_tables(void **state) {
  (void)state;
  static const float f32v[27] = {0, -0.0f, 1, 1.00097656f, 1.00048828f, 1.00073242f, 65504,
                                 65519.9883f, 65520, 65536, 9.99999994e-09f, 5.96046448e-08f,
                                 2.98023224e-08f, 2.98023259e-08f, 8.94069672e-08f,
                                 6.10351562e-05f, 6.09999988e-05f, 3.14159274f,
                                 -0.00249999994f, 1.00000002e+30f, INFINITY, -INFINITY, NAN,
                                 0.100000001f, 2049, 2051, -4097};
  static const uint16_t f32_to_f16[27] = {
      0x0000, 0x8000, 0x3c00, 0x3c01, 0x3c00, 0x3c01, 0x7bff, 0x7bff, 0x7c00,
      0x7c00, 0x0000, 0x0001, 0x0000, 0x0001, 0x0002, 0x0400, 0x03ff, 0x4248,
      0x991f, 0x7c00, 0x7c00, 0xfc00, 0x7e00, 0x2e66, 0x6800, 0x6802, 0xec00};
  uint16_t h[27];
  assert_int_equal(cnnrt_cast(27, CNNRT_F32, f32v, CNNRT_F16, h), 0);
  assert_memory_equal(h, f32_to_f16, sizeof h);
  /* double -> half rounds once: via float, 1 + 2^-11 + 2^-40 would tie and round down */
  static const double f64v[14] = {
      0x1.0020000001000p+0, 0x1.0020000000000p+0, 0x1.0060000000000p+0, 0x1.0000000000000p-25,
      0x1.0000000020000p-25, 0x1.8000000000000p-24, 0x1.7ffffffffffc0p-24, 0x1.ffdfffffde721p+15,
      0x1.ffe0000000000p+15, 0x1.3333333333333p-2, -0x1.56e1fc2f8f359p-997,
      0x1.7e43c8800759cp+996, 0x1.0020000000897p+11, 0x1.ffb480a5accd5p-15};
  static const uint16_t f64_to_f16[14] = {0x3c01, 0x3c00, 0x3c02, 0x0000, 0x0001,
                                          0x0002, 0x0001, 0x7bff, 0x7c00, 0x34cd,
                                          0x8000, 0x7c00, 0x6801, 0x03ff};
  assert_int_equal(cnnrt_cast(14, CNNRT_F64, f64v, CNNRT_F16, h), 0);
  assert_memory_equal(h, f64_to_f16, 14 * sizeof(uint16_t));
  /* ONNX test_cast_FLOAT_to_BFLOAT16 (upper 16 bits) and test_cast_BFLOAT16_to_FLOAT */
  static const float bfin[12] = {0.47892547f, 0.48033667f, 0.49968487f, 0.81910545f,
                                 0.47031248f, 0.816468f,   0.21087195f, 0.7229038f,
                                 NAN,         INFINITY,    INFINITY,    -INFINITY};
  static const uint16_t bfout[12] = {0x3ef5, 0x3ef5, 0x3eff, 0x3f51, 0x3ef0, 0x3f51,
                                     0x3e57, 0x3f39, 0x7fc0, 0x7f80, 0x7f80, 0xff80};
  assert_int_equal(cnnrt_cast(12, CNNRT_F32, bfin, CNNRT_BF16, h), 0);
  assert_memory_equal(h, bfout, 12 * sizeof(uint16_t));
  float back[12];
  assert_int_equal(cnnrt_cast(12, CNNRT_BF16, bfout, CNNRT_F32, back), 0);
  for (int i = 0; i < 12; i++) {
    uint32_t bits;
    memcpy(&bits, &back[i], 4);
    assert_int_equal(bits, (uint32_t)bfout[i] << 16);
  }
  /* a NaN whose payload is only in the low bits stays NaN */
  uint32_t nanbits = 0x7f800001u;
  float lownan;
  memcpy(&lownan, &nanbits, 4);
  assert_int_equal(cnnrt_f32_to_bf16_trunc(lownan) & 0x7fc0, 0x7fc0);
}

static void test_cast_misc(void **state) {
  (void)state;
  /* chunking: n not a multiple of the chunk, in place with equal and narrower element size */
  enum { N = 1000 };
  static float f[N];
  static int32_t want[N];
  static double d[N];
  for (int i = 0; i < N; i++) {
    f[i] = (float)(i - 500) * 1.75f;
    want[i] = (int32_t)f[i];
    d[i] = (double)f[i];
  }
  assert_int_equal(cnnrt_cast(N, CNNRT_F32, f, CNNRT_I32, f), 0);
  assert_memory_equal(f, want, sizeof want);
  assert_int_equal(cnnrt_cast(N, CNNRT_F64, d, CNNRT_F32, d), 0);
  for (int i = 0; i < N; i++) {
    float g;
    memcpy(&g, (const unsigned char *)d + 4 * i, 4);
    assert_true(g == (float)(i - 500) * 1.75f);
  }
  /* bool bytes other than 0/1 count as true */
  const uint8_t bools[3] = {0, 2, 255};
  int32_t bi[3];
  float bf[3];
  assert_int_equal(cnnrt_cast(3, CNNRT_BOOL, bools, CNNRT_I32, bi), 0);
  assert_true(bi[0] == 0 && bi[1] == 1 && bi[2] == 1);
  assert_int_equal(cnnrt_cast(3, CNNRT_BOOL, bools, CNNRT_F32, bf), 0);
  assert_true(bf[0] == 0.0f && bf[1] == 1.0f && bf[2] == 1.0f);
  /* same type: a copy; unsupported types */
  int64_t a[3] = {1, 2, 3}, b[3] = {0, 0, 0};
  assert_int_equal(cnnrt_cast(3, CNNRT_I64, a, CNNRT_I64, b), 0);
  assert_memory_equal(a, b, sizeof a);
  assert_int_equal(cnnrt_cast(3, CNNRT_STRING, a, CNNRT_I64, b), -1);
  assert_int_equal(cnnrt_cast(3, CNNRT_I64, a, CNNRT_UNDEFINED, b), -1);
  assert_int_equal(cnnrt_cast(0, CNNRT_F32, NULL, CNNRT_I8, NULL), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Scale, Copy                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void test_scale_copy(void **state) {
  (void)state;
  float x[7] = {1, 2, 3, 4, 5, 6, 7}, y[7];
  cnnrt_f32_scale(7, x, 1.0f / 3.0f, y); /* Mean of three inputs */
  for (int i = 0; i < 7; i++) {
    assert_true(y[i] == x[i] * (1.0f / 3.0f));
  }
  double xd[2] = {3, -4};
  cnnrt_f64_scale(2, xd, 0.5, xd);
  assert_true(xd[0] == 1.5 && xd[1] == -2.0);
  unsigned char buf[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  cnnrt_copy(6, buf, buf + 2); /* overlapping */
  assert_memory_equal(buf, ((const unsigned char[]){0, 1, 0, 1, 2, 3, 4, 5, 8, 9}), 10);
  cnnrt_copy(0, NULL, NULL);
  assert_int_equal(cnnrt_dtype_bytes(CNNRT_BF16), 2);
  assert_int_equal(cnnrt_dtype_bytes(CNNRT_U64), 8);
  assert_int_equal(cnnrt_dtype_bytes(CNNRT_STRING), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bcast_init),
      cmocka_unit_test(test_bcast_strided_params),
      cmocka_unit_test(test_binary_f32),
      cmocka_unit_test(test_binary_f64),
      cmocka_unit_test(test_binary_i8),
      cmocka_unit_test(test_binary_i16),
      cmocka_unit_test(test_binary_i32),
      cmocka_unit_test(test_binary_i64),
      cmocka_unit_test(test_binary_u8),
      cmocka_unit_test(test_binary_u16),
      cmocka_unit_test(test_binary_u32),
      cmocka_unit_test(test_binary_u64),
      cmocka_unit_test(test_binary_bool_and_shift),
      cmocka_unit_test(test_integer_edges),
      cmocka_unit_test(test_pow),
      cmocka_unit_test(test_where),
      cmocka_unit_test(test_unary_float),
      cmocka_unit_test(test_unary_onnx_values),
      cmocka_unit_test(test_unary_int),
      cmocka_unit_test(test_cast_all_pairs),
      cmocka_unit_test(test_cast_tables),
      cmocka_unit_test(test_cast_misc),
      cmocka_unit_test(test_scale_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
