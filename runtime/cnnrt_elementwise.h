/* cnnrt_elementwise.h — elementwise ONNX ops: unary activations and math, binary arithmetic,
 * comparison and logic with numpy broadcasting, Where, Cast, Scale and Copy.
 *
 * Type tags and their C storage: f32 float, f64 double, i8/i16/i32/i64 intN_t,
 * u8/u16/u32/u64 uintN_t, bool uint8_t holding 0 or 1, f16 and bf16 uint16_t bit patterns
 * (only cnnrt_cast and cnnrt_f16_where / cnnrt_bf16_where handle those).
 *
 * Three layers, all `static inline`:
 *   cnnrt_<t>_<op>_elem(a[, b | params])   one element; also what the constant folder may call
 *   cnnrt_<t>_<op>(n, x, [params,] y)       unary kernels over n contiguous elements
 *   cnnrt_<t>_<op>(p, a, b, y)              binary kernels over a broadcast (cnnrt_bcast_params)
 *
 * Semantics shared by all kernels (the compiler must respect them):
 * - Integer arithmetic wraps modulo 2^bits (as numpy does); nothing invokes C undefined
 *   behaviour: integer x/0 and x%0 give 0, MIN/-1 gives MIN, float->int conversions saturate
 *   and map NaN to 0, shifts by >= the bit width give 0.
 * - Unary kernels may run in place (y == x). Binary kernels may write y over an input that has
 *   the output's full shape (y == a or y == b); otherwise outputs must not overlap inputs.
 * - Float Min/Max propagate NaN (np.minimum/np.maximum); Relu, Clip, HardSigmoid & co. pass NaN
 *   through.
 * - The loops carry no `restrict` (in-place use is allowed), so gcc vectorizes them at -O3
 *   (runtime alias check); at -O2 gcc needs -fvect-cost-model=dynamic, clang does it at -O2.
 *
 * Semantics shared by all kernels, continued:
 * - Integer Div truncates toward zero (C, onnxruntime); Mod fmod=0 takes the divisor's sign
 *   (numpy), fmod=1 the dividend's (C).
 *
 * ONNX ops map to lower_snake names: LeakyRelu -> leaky_relu, HardSigmoid -> hard_sigmoid,
 * LessOrEqual -> less_equal, BitShift LEFT/RIGHT -> shl/shr, Mod fmod=0/1 -> mod/fmod, Not ->
 * bool_not, ... Variadic Sum/Min/Max/Mean are chained pairwise by the compiler (Mean finishes
 * with scale(1/n)). Kernels without an ONNX op of their own: silu, gelu (exact), scale.
 *
 * Generated kernel names (FLT = f32 f64, SINT = i8 i16 i32 i64, UINT = u8 u16 u32 u64,
 * NUM = FLT SINT UINT; each name also has a cnnrt_<t>_<op>_elem scalar version):
 *   unary, float (FLT):      relu leaky_relu(alpha) elu(alpha) selu(alpha, gamma) celu(alpha)
 *                            sigmoid hard_sigmoid(alpha, beta) hard_swish tanh softplus softsign
 *                            erf mish silu gelu thresholded_relu(alpha) sqrt reciprocal exp log
 *                            floor ceil round sin cos tan asin acos atan sinh cosh asinh acosh
 *                            atanh abs neg sign clip(lo, hi) scale(s)
 *                            isnan, isinf(detect_negative, detect_positive) -> bool output
 *   unary, SINT:             relu abs neg sign clip(lo, hi)
 *   unary, UINT:             abs sign clip(lo, hi)
 *   unary, bool:             cnnrt_bool_not
 *   binary, NUM:             add sub mul div min max mod (fmod=0) fmod (fmod=1) prelu
 *                            equal less greater less_equal greater_equal (-> bool)
 *   binary, UINT:            shl shr (BitShift LEFT/RIGHT)
 *   binary, bool:            cnnrt_bool_and cnnrt_bool_or cnnrt_bool_xor cnnrt_bool_equal
 *   Pow:                     cnnrt_<tx>_<ty>_pow, tx and ty in {f32 f64 i32 i64}, result tx;
 *                            cnnrt_<t>_pow == cnnrt_<t>_<t>_pow for t in {f32 f64 i32 i64}
 *   Where:                   cnnrt_<t>_where for NUM, bool, f16, bf16 (cnnrt_bcast3_params)
 *   Cast:                    cnnrt_cast(n, from_dtype, x, to_dtype, y)
 *   Copy:                    cnnrt_copy(bytes, src, dst)
 */
#ifndef CNNRT_ELEMENTWISE_H
#define CNNRT_ELEMENTWISE_H

#include "cnnrt.h"

/* ------------------------------------------------------------------------------------------ */
/* Integer helpers                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Integer ops are computed in unsigned arithmetic, which wraps modulo 2^N by definition, and the
 * low bits are brought back with cnnrt_<t>_from_bits: a signed overflow would be undefined and a
 * narrowing conversion to a signed type implementation-defined. intN_t is two's complement
 * without padding by definition, so the fixed-size memcpy is exact; it compiles to nothing and
 * does not get in the way of vectorization. */
static inline int8_t cnnrt_i8_from_bits(uint64_t u) {
  uint8_t b = (uint8_t)u;
  int8_t r;
  memcpy(&r, &b, sizeof r);
  return r;
}
static inline int16_t cnnrt_i16_from_bits(uint64_t u) {
  uint16_t b = (uint16_t)u;
  int16_t r;
  memcpy(&r, &b, sizeof r);
  return r;
}
static inline int32_t cnnrt_i32_from_bits(uint64_t u) {
  uint32_t b = (uint32_t)u;
  int32_t r;
  memcpy(&r, &b, sizeof r);
  return r;
}
static inline int64_t cnnrt_i64_from_bits(uint64_t u) {
  int64_t r;
  memcpy(&r, &u, sizeof r);
  return r;
}
static inline uint8_t cnnrt_u8_from_bits(uint64_t u) { return (uint8_t)u; }
static inline uint16_t cnnrt_u16_from_bits(uint64_t u) { return (uint16_t)u; }
static inline uint32_t cnnrt_u32_from_bits(uint64_t u) { return (uint32_t)u; }
static inline uint64_t cnnrt_u64_from_bits(uint64_t u) { return u; }

/* Float -> integer: truncate toward zero, saturate out-of-range values, NaN -> 0. Converting a
 * double whose integral part does not fit is undefined in C, hence the explicit clamps. lo and
 * hi must be exactly representable (true for all types up to 32 bits). */
static inline int64_t cnnrt_f64_to_int_clamp(double d, double lo, double hi) {
  if (d != d) {
    return 0;
  }
  if (d <= lo) {
    return (int64_t)lo;
  }
  if (d >= hi) {
    return (int64_t)hi;
  }
  return (int64_t)d;
}
static inline int8_t cnnrt_i8_from_f64(double d) {
  return (int8_t)cnnrt_f64_to_int_clamp(d, -128.0, 127.0);
}
static inline int16_t cnnrt_i16_from_f64(double d) {
  return (int16_t)cnnrt_f64_to_int_clamp(d, -32768.0, 32767.0);
}
static inline int32_t cnnrt_i32_from_f64(double d) {
  return (int32_t)cnnrt_f64_to_int_clamp(d, -2147483648.0, 2147483647.0);
}
static inline int64_t cnnrt_i64_from_f64(double d) {
  if (d != d) {
    return 0;
  }
  if (d >= 9223372036854775808.0) { /* 2^63; INT64_MAX itself is not a double */
    return INT64_MAX;
  }
  if (d <= -9223372036854775808.0) {
    return INT64_MIN;
  }
  return (int64_t)d;
}
static inline uint8_t cnnrt_u8_from_f64(double d) {
  return (uint8_t)cnnrt_f64_to_int_clamp(d, 0.0, 255.0);
}
static inline uint16_t cnnrt_u16_from_f64(double d) {
  return (uint16_t)cnnrt_f64_to_int_clamp(d, 0.0, 65535.0);
}
static inline uint32_t cnnrt_u32_from_f64(double d) {
  return (uint32_t)cnnrt_f64_to_int_clamp(d, 0.0, 4294967295.0);
}
static inline uint64_t cnnrt_u64_from_f64(double d) {
  if (!(d > 0.0)) { /* NaN, zero and negative values */
    return 0;
  }
  if (d >= 18446744073709551616.0) { /* 2^64 */
    return UINT64_MAX;
  }
  return (uint64_t)d;
}

/* x^e for integers, wrapping modulo 2^64 (exponentiation by squaring; e < 2^64 so at most 64
 * steps). The caller truncates to its own width: the low bits are correct for any width. */
static inline uint64_t cnnrt_upow(uint64_t x, uint64_t e) {
  uint64_t r = 1;
  while (e != 0) {
    if (e & 1u) {
      r *= x;
    }
    x *= x;
    e >>= 1;
  }
  return r;
}

/* Signed integer power. Negative exponents follow truncating integer math (1/x^|e|): 1 for
 * x == 1, +-1 for x == -1, 0 otherwise (0^negative, a division by zero, also gives 0). */
static inline int64_t cnnrt_ipow(int64_t x, int64_t e) {
  if (e >= 0) {
    return cnnrt_i64_from_bits(cnnrt_upow((uint64_t)x, (uint64_t)e));
  }
  if (x == 1) {
    return 1;
  }
  if (x == -1) {
    return (e % 2 != 0) ? -1 : 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Float format helpers (cnnrt.h has f32 <-> f16 and bf16 round-to-nearest-even)               */
/* ------------------------------------------------------------------------------------------ */

/* double -> float, round to nearest even. Out-of-range conversion is undefined in ISO C (only
 * Annex F defines it), so overflow is done by hand: 2^128 - 2^103 = 0x1.ffffffp127 lies halfway
 * between FLT_MAX and 2^128 and rounds up, to even. NaN and inf convert normally. */
static inline float cnnrt_f64_to_f32(double d) {
  if (d >= 0x1.ffffffp127) {
    return INFINITY;
  }
  if (d <= -0x1.ffffffp127) {
    return -INFINITY;
  }
  return (float)d;
}

/* double -> IEEE half, round to nearest even, in one step (going through float would round
 * twice and could differ from numpy's astype(float16) on ties). */
static inline uint16_t cnnrt_f64_to_f16(double d) {
  uint64_t x;
  memcpy(&x, &d, sizeof x);
  uint16_t sign = (uint16_t)((x >> 48) & 0x8000u);
  uint64_t absx = x & 0x7fffffffffffffffull;
  if (absx >= 0x7ff0000000000000ull) { /* inf or nan (nan stays quiet nan) */
    return (uint16_t)(sign | 0x7c00u | (absx > 0x7ff0000000000000ull ? 0x200u : 0u));
  }
  if (absx >= 0x40effe0000000000ull) { /* >= 65520 rounds to inf */
    return (uint16_t)(sign | 0x7c00u);
  }
  if (absx >= 0x3f10000000000000ull) { /* >= 2^-14: normal half */
    /* exponent field 1009 (2^-14) maps to half exponent 1; a mantissa carry rolls into the
     * exponent, which is the correct rounding up. */
    uint64_t h = (absx >> 42) - ((uint64_t)1008 << 10);
    uint64_t rem = absx & ((1ull << 42) - 1u);
    if (rem > (1ull << 41) || (rem == (1ull << 41) && (h & 1u))) {
      h++;
    }
    return (uint16_t)(sign | h);
  }
  if (absx < 0x3e60000000000000ull) { /* < 2^-25: below half of the smallest subnormal */
    return sign;
  }
  /* subnormal half: count units of 2^-24; value = m * 2^(e - 1075) */
  uint64_t e = absx >> 52;
  uint64_t m = (absx & 0xfffffffffffffull) | (1ull << 52);
  uint64_t shift = 1051u - e; /* 43 .. 53 */
  uint64_t h = m >> shift;
  uint64_t rem = m & ((1ull << shift) - 1u);
  uint64_t mid = 1ull << (shift - 1u);
  if (rem > mid || (rem == mid && (h & 1u))) {
    h++;
  }
  return (uint16_t)(sign | h);
}

/* float -> bfloat16 by truncation (keeps the upper 16 bits), which is what ONNX's
 * test_cast_FLOAT_to_BFLOAT16 expects (onnx 1.12) and what onnxruntime of that era did; NaN stays
 * a quiet NaN (a NaN whose payload sits only in the low bits would otherwise become inf). */
static inline uint16_t cnnrt_f32_to_bf16_trunc(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    return (uint16_t)((x >> 16) | 0x40u);
  }
  return (uint16_t)(x >> 16);
}

/* ------------------------------------------------------------------------------------------ */
/* Broadcasting                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Output shape and per-operand element strides of a broadcast binary op, as filled by
 * cnnrt_bcast_init: adjacent dims that broadcast the same way are merged and size-1 output dims
 * dropped, so the common cases become rank 1 (same shape, scalar operand) or a short loop nest
 * whose innermost dim is contiguous or constant for each operand (stride 1 or 0).
 * Kernels accept any strides, though (e.g. hand-made params for a transposed view).
 * Unused slots [rank, CNNRT_MAX_RANK) hold 1. count = product of out[0..rank). */
typedef struct cnnrt_bcast_params {
  int64_t rank;
  int64_t out[CNNRT_MAX_RANK];
  int64_t a_stride[CNNRT_MAX_RANK]; /* element strides, 0 on broadcast dims */
  int64_t b_stride[CNNRT_MAX_RANK];
  int64_t count;
} cnnrt_bcast_params;

/* Same for Where(cond, x, y): c_stride for cond, a_stride for x, b_stride for y. */
typedef struct cnnrt_bcast3_params {
  int64_t rank;
  int64_t out[CNNRT_MAX_RANK];
  int64_t c_stride[CNNRT_MAX_RANK];
  int64_t a_stride[CNNRT_MAX_RANK];
  int64_t b_stride[CNNRT_MAX_RANK];
  int64_t count;
} cnnrt_bcast3_params;

/* Broadcast nops (1..3) operands with numpy rules and collapse the result (see
 * cnnrt_bcast_params). ranks[k] and dims[k] describe operand k (rank 0 = scalar, dims unused);
 * strides[k] receives its CNNRT_MAX_RANK strides. Returns 0, or -1 on incompatible shapes,
 * negative dims or rank > CNNRT_MAX_RANK (the outputs then describe an empty op: count 0).
 * Pure: touches nothing but its outputs.
 * A zero-sized output gives rank 1, out[0] = 0, count 0; an all-ones output gives rank 1,
 * out[0] = 1, strides 0. (The uncollapsed ONNX output shape is the compiler's business: it is
 * the elementwise max of the right-aligned dims, with 0 winning over 1.) */
static inline int cnnrt_bcast_collapse(int64_t nops, const int64_t *ranks,
                                       const int64_t *const *dims, int64_t *rank, int64_t *out,
                                       int64_t *const *strides, int64_t *count) {
  if (nops < 1 || nops > 3) {
    return -1;
  }
  /* Start from an empty layout, so that even a failed call leaves params on which the kernels
   * do nothing (and the outputs are never left uninitialized). */
  *rank = 1;
  *count = 0;
  for (int64_t j = 0; j < CNNRT_MAX_RANK; j++) {
    out[j] = j == 0 ? 0 : 1;
    for (int64_t k = 0; k < nops; k++) {
      strides[k][j] = j == 0 ? 0 : 1;
    }
  }
  int64_t r = 0;
  for (int64_t k = 0; k < nops; k++) {
    if (ranks[k] < 0 || ranks[k] > CNNRT_MAX_RANK) {
      return -1;
    }
    r = ranks[k] > r ? ranks[k] : r;
  }
  int64_t size[CNNRT_MAX_RANK];
  int present[CNNRT_MAX_RANK][3]; /* operand k has this (merged) dim, i.e. is not broadcast */
  int64_t kept = 0;
  int zero = 0;
  for (int64_t d = 0; d < r; d++) {
    int64_t dk[3] = {1, 1, 1};
    int64_t o = 1;
    for (int64_t k = 0; k < nops; k++) {
      int64_t lead = r - ranks[k]; /* right alignment: operand k starts at dim `lead` */
      dk[k] = d < lead ? 1 : dims[k][d - lead];
      if (dk[k] < 0) {
        return -1;
      }
      if (dk[k] != 1) {
        if (o == 1) {
          o = dk[k];
        } else if (o != dk[k]) {
          return -1;
        }
      }
    }
    if (o == 1) {
      continue; /* size-1 output dim: no loop needed */
    }
    if (o == 0) {
      zero = 1;
    }
    int same = kept > 0;
    for (int64_t k = 0; k < nops; k++) {
      if (same && present[kept - 1][k] != (dk[k] == o)) {
        same = 0;
      }
    }
    if (same) {
      size[kept - 1] *= o; /* broadcasts like the previous dim: merge */
    } else {
      size[kept] = o;
      for (int64_t k = 0; k < 3; k++) {
        present[kept][k] = k < nops && dk[k] == o;
      }
      kept++;
    }
  }
  if (zero) {
    return 0; /* the empty layout set up above */
  }
  if (kept == 0) { /* every dim is 1: a single element */
    out[0] = 1;
    *count = 1;
    return 0;
  }
  *rank = kept;
  *count = 1;
  for (int64_t j = 0; j < kept; j++) {
    out[j] = size[j];
    *count *= size[j];
  }
  /* Each operand is dense in its own (collapsed) dims: innermost present dim has stride 1. */
  for (int64_t k = 0; k < nops; k++) {
    int64_t s = 1;
    for (int64_t j = kept - 1; j >= 0; j--) {
      strides[k][j] = present[j][k] ? s : 0;
      if (present[j][k]) {
        s *= size[j];
      }
    }
  }
  return 0;
}

static inline int cnnrt_bcast_init(cnnrt_bcast_params *p, int64_t rank_a, const int64_t *dims_a,
                                   int64_t rank_b, const int64_t *dims_b) {
  const int64_t ranks[2] = {rank_a, rank_b};
  const int64_t *dims[2] = {dims_a, dims_b};
  int64_t *strides[2] = {p->a_stride, p->b_stride};
  return cnnrt_bcast_collapse(2, ranks, dims, &p->rank, p->out, strides, &p->count);
}

static inline int cnnrt_bcast3_init(cnnrt_bcast3_params *p, int64_t rank_c, const int64_t *dims_c,
                                    int64_t rank_a, const int64_t *dims_a, int64_t rank_b,
                                    const int64_t *dims_b) {
  const int64_t ranks[3] = {rank_c, rank_a, rank_b};
  const int64_t *dims[3] = {dims_c, dims_a, dims_b};
  int64_t *strides[3] = {p->c_stride, p->a_stride, p->b_stride};
  return cnnrt_bcast_collapse(3, ranks, dims, &p->rank, p->out, strides, &p->count);
}

/* Row iterator shared by the broadcast kernels: the innermost output dim is one "row" of n
 * elements; off[k] is the element offset of operand k at the start of the current row and
 * inc[k] its innermost stride. A rank <= 0 params is treated as a single element. */
typedef struct cnnrt_bcast_iter {
  int64_t n, rows, nops, outer;
  int64_t inc[3], off[3];
  int64_t idx[CNNRT_MAX_RANK];
  const int64_t *out;
  const int64_t *stride[3];
} cnnrt_bcast_iter;

static inline void cnnrt_bcast_iter_init(cnnrt_bcast_iter *it, int64_t rank, const int64_t *out,
                                         int64_t nops, const int64_t *const *stride) {
  it->nops = nops;
  it->out = out;
  for (int64_t k = 0; k < 3; k++) {
    it->stride[k] = k < nops ? stride[k] : NULL;
    it->inc[k] = 0;
    it->off[k] = 0;
  }
  if (rank <= 0) {
    it->n = 1;
    it->rows = 1;
    it->outer = 0;
    return;
  }
  it->outer = rank - 1;
  it->n = out[rank - 1];
  it->rows = it->n > 0 ? 1 : 0;
  for (int64_t d = 0; d < rank - 1; d++) {
    it->idx[d] = 0;
    it->rows *= out[d] > 0 ? out[d] : 0;
  }
  for (int64_t k = 0; k < nops; k++) {
    it->inc[k] = stride[k][rank - 1];
  }
}

static inline void cnnrt_bcast_iter_next(cnnrt_bcast_iter *it) {
  for (int64_t d = it->outer - 1; d >= 0; d--) {
    for (int64_t k = 0; k < it->nops; k++) {
      it->off[k] += it->stride[k][d];
    }
    if (++it->idx[d] < it->out[d]) {
      return;
    }
    for (int64_t k = 0; k < it->nops; k++) {
      it->off[k] -= it->stride[k][d] * it->out[d];
    }
    it->idx[d] = 0;
  }
}

/* Defines `void NAME(const cnnrt_bcast_params *p, const TA *a, const TB *b, TY *y)` computing
 * y = ELEM(a, b) elementwise. Inner-loop variants: both operands contiguous (same shape), b
 * constant along the row (scalar b, per-channel b), a constant along the row, any strides. */
#define CNNRT_DEFINE_BINARY(NAME, TA, TB, TY, ELEM)                                              \
  static inline void NAME(const cnnrt_bcast_params *p, const TA *a, const TB *b, TY *y) {       \
    const int64_t *strides[2] = {p->a_stride, p->b_stride};                                     \
    cnnrt_bcast_iter it;                                                                         \
    cnnrt_bcast_iter_init(&it, p->rank, p->out, 2, strides);                                     \
    const int64_t n = it.n, sa = it.inc[0], sb = it.inc[1];                                      \
    for (int64_t r = 0; r < it.rows; r++, y += n) {                                              \
      const TA *ar = a + it.off[0];                                                              \
      const TB *br = b + it.off[1];                                                              \
      if (sa == 1 && sb == 1) {                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                        \
          y[i] = ELEM(ar[i], br[i]);                                                             \
        }                                                                                        \
      } else if (sa == 1 && sb == 0) {                                                           \
        const TB bv = br[0];                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                        \
          y[i] = ELEM(ar[i], bv);                                                                \
        }                                                                                        \
      } else if (sa == 0 && sb == 1) {                                                           \
        const TA av = ar[0];                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                        \
          y[i] = ELEM(av, br[i]);                                                                \
        }                                                                                        \
      } else {                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                        \
          y[i] = ELEM(ar[i * sa], br[i * sb]);                                                   \
        }                                                                                        \
      }                                                                                          \
      cnnrt_bcast_iter_next(&it);                                                                \
    }                                                                                            \
  }

/* Unary kernels `void cnnrt_<t>_<op>(int64_t n, const T *x, [T p1, [T p2,]] T *y)`. */
#define CNNRT_DEFINE_UNARY(t, T, op)                                                             \
  static inline void cnnrt_##t##_##op(int64_t n, const T *x, T *y) {                             \
    for (int64_t i = 0; i < n; i++) {                                                            \
      y[i] = cnnrt_##t##_##op##_elem(x[i]);                                                      \
    }                                                                                            \
  }
#define CNNRT_DEFINE_UNARY1(t, T, op, P1)                                                        \
  static inline void cnnrt_##t##_##op(int64_t n, const T *x, T P1, T *y) {                       \
    for (int64_t i = 0; i < n; i++) {                                                            \
      y[i] = cnnrt_##t##_##op##_elem(x[i], P1);                                                  \
    }                                                                                            \
  }
#define CNNRT_DEFINE_UNARY2(t, T, op, P1, P2)                                                    \
  static inline void cnnrt_##t##_##op(int64_t n, const T *x, T P1, T P2, T *y) {                 \
    for (int64_t i = 0; i < n; i++) {                                                            \
      y[i] = cnnrt_##t##_##op##_elem(x[i], P1, P2);                                              \
    }                                                                                            \
  }

/* Binary kernels with the same input and output type, and comparisons producing bool. */
#define CNNRT_BINARY_SAME(t, T, op)                                                              \
  CNNRT_DEFINE_BINARY(cnnrt_##t##_##op, T, T, T, cnnrt_##t##_##op##_elem)
#define CNNRT_BINARY_CMP(t, T, op)                                                               \
  CNNRT_DEFINE_BINARY(cnnrt_##t##_##op, T, T, uint8_t, cnnrt_##t##_##op##_elem)

/* ------------------------------------------------------------------------------------------ */
/* Float element functions. S is the libm suffix: f for float, empty for double.               */
/* All constants are cast to T so that f32 math stays in float.                                */
/* ------------------------------------------------------------------------------------------ */

#define CNNRT_FLOAT_ELEMS(t, T, S)                                                               \
  /* activations (x < 0 tests let NaN through, as the ONNX numpy references do) */               \
  static inline T cnnrt_##t##_relu_elem(T x) { return x < (T)0 ? (T)0 : x; }                    \
  static inline T cnnrt_##t##_leaky_relu_elem(T x, T alpha) { return x < (T)0 ? alpha * x : x; } \
  static inline T cnnrt_##t##_elu_elem(T x, T alpha) {                                           \
    return x < (T)0 ? alpha * expm1##S(x) : x;                                                   \
  }                                                                                              \
  static inline T cnnrt_##t##_selu_elem(T x, T alpha, T gamma) {                                 \
    return x > (T)0 ? gamma * x : gamma * (alpha * expm1##S(x));                                 \
  }                                                                                              \
  /* max(0,x) + min(0, alpha*(exp(x/alpha)-1)) collapses to this for any alpha != 0 */           \
  static inline T cnnrt_##t##_celu_elem(T x, T alpha) {                                          \
    return x > (T)0 ? x : alpha * expm1##S(x / alpha);                                           \
  }                                                                                              \
  static inline T cnnrt_##t##_sigmoid_elem(T x) { /* neither branch overflows exp */             \
    if (x >= (T)0) {                                                                             \
      return (T)1 / ((T)1 + exp##S(-x));                                                         \
    }                                                                                            \
    T e = exp##S(x);                                                                             \
    return e / ((T)1 + e);                                                                       \
  }                                                                                              \
  static inline T cnnrt_##t##_hard_sigmoid_elem(T x, T alpha, T beta) {                          \
    T v = alpha * x + beta;                                                                      \
    v = v < (T)0 ? (T)0 : v;                                                                     \
    return v > (T)1 ? (T)1 : v;                                                                  \
  }                                                                                              \
  static inline T cnnrt_##t##_hard_swish_elem(T x) { /* x * HardSigmoid(x, 1/6, 1/2) */          \
    return x * cnnrt_##t##_hard_sigmoid_elem(x, (T)(1.0 / 6.0), (T)0.5);                         \
  }                                                                                              \
  static inline T cnnrt_##t##_tanh_elem(T x) { return tanh##S(x); }                              \
  /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, no loss for small */     \
  static inline T cnnrt_##t##_softplus_elem(T x) {                                               \
    return (x > (T)0 ? x : (T)0) + log1p##S(exp##S(-fabs##S(x)));                                \
  }                                                                                              \
  static inline T cnnrt_##t##_softsign_elem(T x) { return x / ((T)1 + fabs##S(x)); }             \
  static inline T cnnrt_##t##_erf_elem(T x) { return erf##S(x); }                                \
  static inline T cnnrt_##t##_mish_elem(T x) {                                                   \
    return x * tanh##S(cnnrt_##t##_softplus_elem(x));                                            \
  }                                                                                              \
  static inline T cnnrt_##t##_silu_elem(T x) { return x * cnnrt_##t##_sigmoid_elem(x); }         \
  static inline T cnnrt_##t##_gelu_elem(T x) { /* exact (erf) GELU */                            \
    return (T)0.5 * x * ((T)1 + erf##S(x * (T)0.70710678118654752440));                          \
  }                                                                                              \
  static inline T cnnrt_##t##_thresholded_relu_elem(T x, T alpha) {                              \
    return x <= alpha ? (T)0 : x;                                                                \
  }                                                                                              \
  static inline T cnnrt_##t##_clip_elem(T x, T lo, T hi) { /* lo > hi gives hi, like numpy */    \
    T v = x < lo ? lo : x;                                                                       \
    return v > hi ? hi : v;                                                                      \
  }                                                                                              \
  static inline T cnnrt_##t##_scale_elem(T x, T s) { return x * s; }                             \
  /* math */                                                                                     \
  static inline T cnnrt_##t##_sqrt_elem(T x) { return sqrt##S(x); }                              \
  static inline T cnnrt_##t##_reciprocal_elem(T x) { return (T)1 / x; }                          \
  static inline T cnnrt_##t##_exp_elem(T x) { return exp##S(x); }                                \
  static inline T cnnrt_##t##_log_elem(T x) { return log##S(x); }                                \
  static inline T cnnrt_##t##_floor_elem(T x) { return floor##S(x); }                            \
  static inline T cnnrt_##t##_ceil_elem(T x) { return ceil##S(x); }                              \
  /* Round: half to even (default rounding mode), without raising inexact */                     \
  static inline T cnnrt_##t##_round_elem(T x) { return nearbyint##S(x); }                        \
  static inline T cnnrt_##t##_sin_elem(T x) { return sin##S(x); }                                \
  static inline T cnnrt_##t##_cos_elem(T x) { return cos##S(x); }                                \
  static inline T cnnrt_##t##_tan_elem(T x) { return tan##S(x); }                                \
  static inline T cnnrt_##t##_asin_elem(T x) { return asin##S(x); }                              \
  static inline T cnnrt_##t##_acos_elem(T x) { return acos##S(x); }                              \
  static inline T cnnrt_##t##_atan_elem(T x) { return atan##S(x); }                              \
  static inline T cnnrt_##t##_sinh_elem(T x) { return sinh##S(x); }                              \
  static inline T cnnrt_##t##_cosh_elem(T x) { return cosh##S(x); }                              \
  static inline T cnnrt_##t##_asinh_elem(T x) { return asinh##S(x); }                            \
  static inline T cnnrt_##t##_acosh_elem(T x) { return acosh##S(x); }                            \
  static inline T cnnrt_##t##_atanh_elem(T x) { return atanh##S(x); }                            \
  static inline T cnnrt_##t##_abs_elem(T x) { return fabs##S(x); }                               \
  static inline T cnnrt_##t##_neg_elem(T x) { return -x; }                                       \
  static inline T cnnrt_##t##_sign_elem(T x) { /* 0, -0 and NaN map to themselves */             \
    return x > (T)0 ? (T)1 : (x < (T)0 ? (T)-1 : x);                                             \
  }                                                                                              \
  static inline uint8_t cnnrt_##t##_isnan_elem(T x) { return (uint8_t)(x != x); }                \
  /* binary */                                                                                   \
  static inline T cnnrt_##t##_add_elem(T a, T b) { return a + b; }                               \
  static inline T cnnrt_##t##_sub_elem(T a, T b) { return a - b; }                               \
  static inline T cnnrt_##t##_mul_elem(T a, T b) { return a * b; }                               \
  static inline T cnnrt_##t##_div_elem(T a, T b) { return a / b; }                               \
  /* As np.minimum / np.maximum: NaN in either operand gives NaN, ties (0 vs -0) give b */      \
  static inline T cnnrt_##t##_min_elem(T a, T b) { return (a < b || a != a) ? a : b; }           \
  static inline T cnnrt_##t##_max_elem(T a, T b) { return (a > b || a != a) ? a : b; }           \
  /* Mod fmod=1: C fmod, sign of the dividend */                                                 \
  static inline T cnnrt_##t##_fmod_elem(T a, T b) { return fmod##S(a, b); }                      \
  /* Mod fmod=0 (ONNX requires fmod=1 for floats, this is np.mod): sign of the divisor */        \
  static inline T cnnrt_##t##_mod_elem(T a, T b) {                                               \
    T r = fmod##S(a, b);                                                                         \
    if (r != (T)0) {                                                                             \
      return (r < (T)0) != (b < (T)0) ? r + b : r;                                               \
    }                                                                                            \
    return copysign##S((T)0, b);                                                                 \
  }                                                                                              \
  static inline T cnnrt_##t##_prelu_elem(T x, T slope) { return x < (T)0 ? slope * x : x; }      \
  static inline uint8_t cnnrt_##t##_equal_elem(T a, T b) { return (uint8_t)(a == b); }           \
  static inline uint8_t cnnrt_##t##_less_elem(T a, T b) { return (uint8_t)(a < b); }             \
  static inline uint8_t cnnrt_##t##_greater_elem(T a, T b) { return (uint8_t)(a > b); }          \
  static inline uint8_t cnnrt_##t##_less_equal_elem(T a, T b) { return (uint8_t)(a <= b); }      \
  static inline uint8_t cnnrt_##t##_greater_equal_elem(T a, T b) { return (uint8_t)(a >= b); }

CNNRT_FLOAT_ELEMS(f32, float, f)
CNNRT_FLOAT_ELEMS(f64, double, )

/* ------------------------------------------------------------------------------------------ */
/* Integer element functions. U is the unsigned type the arithmetic is done in: uint32_t for   */
/* types up to 32 bits (no promotion to signed int, so no overflow), uint64_t for 64 bits.     */
/* ------------------------------------------------------------------------------------------ */

/* Element functions common to signed and unsigned types. */
#define CNNRT_INT_ELEMS(t, T, U)                                                                 \
  static inline T cnnrt_##t##_add_elem(T a, T b) { return cnnrt_##t##_from_bits((U)a + (U)b); } \
  static inline T cnnrt_##t##_sub_elem(T a, T b) { return cnnrt_##t##_from_bits((U)a - (U)b); } \
  static inline T cnnrt_##t##_mul_elem(T a, T b) { return cnnrt_##t##_from_bits((U)a * (U)b); } \
  static inline T cnnrt_##t##_min_elem(T a, T b) { return a < b ? a : b; }                       \
  static inline T cnnrt_##t##_max_elem(T a, T b) { return a > b ? a : b; }                       \
  static inline T cnnrt_##t##_clip_elem(T x, T lo, T hi) {                                       \
    T v = x < lo ? lo : x;                                                                       \
    return v > hi ? hi : v;                                                                      \
  }                                                                                              \
  static inline uint8_t cnnrt_##t##_equal_elem(T a, T b) { return (uint8_t)(a == b); }           \
  static inline uint8_t cnnrt_##t##_less_elem(T a, T b) { return (uint8_t)(a < b); }             \
  static inline uint8_t cnnrt_##t##_greater_elem(T a, T b) { return (uint8_t)(a > b); }          \
  static inline uint8_t cnnrt_##t##_less_equal_elem(T a, T b) { return (uint8_t)(a <= b); }      \
  static inline uint8_t cnnrt_##t##_greater_equal_elem(T a, T b) { return (uint8_t)(a >= b); }

/* Signed: Div truncates toward zero (C, onnxruntime); numpy's floor division differs only for
 * negative operands, which ONNX tests do not cover. */
#define CNNRT_SINT_ELEMS(t, T, U)                                                          \
  CNNRT_INT_ELEMS(t, T, U)                                                                       \
  static inline T cnnrt_##t##_div_elem(T a, T b) {                                               \
    if (b == 0) {                                                                                \
      return 0;                                                                                  \
    }                                                                                            \
    if (b == -1) { /* MIN / -1 overflows: wrap like numpy */                                     \
      return cnnrt_##t##_from_bits((U)0 - (U)a);                                                 \
    }                                                                                            \
    return (T)(a / b);                                                                           \
  }                                                                                              \
  /* Mod fmod=1: C remainder, sign of the dividend */                                            \
  static inline T cnnrt_##t##_fmod_elem(T a, T b) {                                              \
    return (b == 0 || b == -1) ? (T)0 : (T)(a % b);                                              \
  }                                                                                              \
  /* Mod fmod=0: Python/numpy remainder, sign of the divisor */                                  \
  static inline T cnnrt_##t##_mod_elem(T a, T b) {                                               \
    if (b == 0 || b == -1) {                                                                     \
      return 0;                                                                                  \
    }                                                                                            \
    T r = (T)(a % b);                                                                            \
    return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;                                    \
  }                                                                                              \
  static inline T cnnrt_##t##_prelu_elem(T x, T slope) {                                         \
    return x < 0 ? cnnrt_##t##_from_bits((U)slope * (U)x) : x;                                   \
  }                                                                                              \
  static inline T cnnrt_##t##_relu_elem(T x) { return x < 0 ? (T)0 : x; }                        \
  static inline T cnnrt_##t##_neg_elem(T x) { return cnnrt_##t##_from_bits((U)0 - (U)x); }       \
  static inline T cnnrt_##t##_abs_elem(T x) { /* abs(MIN) == MIN, like numpy */                  \
    return x < 0 ? cnnrt_##t##_neg_elem(x) : x;                                                  \
  }                                                                                              \
  static inline T cnnrt_##t##_sign_elem(T x) { return (T)((x > 0) - (x < 0)); }

#define CNNRT_UINT_ELEMS(t, T, U, BITS)                                                          \
  CNNRT_INT_ELEMS(t, T, U)                                                                       \
  static inline T cnnrt_##t##_div_elem(T a, T b) { return b == 0 ? (T)0 : (T)(a / b); }          \
  static inline T cnnrt_##t##_fmod_elem(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }         \
  static inline T cnnrt_##t##_mod_elem(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }          \
  static inline T cnnrt_##t##_prelu_elem(T x, T slope) { /* never negative */                   \
    (void)slope;                                                                                 \
    return x;                                                                                    \
  }                                                                                              \
  static inline T cnnrt_##t##_abs_elem(T x) { return x; }                                        \
  static inline T cnnrt_##t##_sign_elem(T x) { return (T)(x != 0); }                             \
  /* BitShift; shifting by >= the width gives 0 instead of undefined behaviour */                \
  static inline T cnnrt_##t##_shl_elem(T a, T b) {                                               \
    return b >= BITS ? (T)0 : cnnrt_##t##_from_bits((U)a << b);                                  \
  }                                                                                              \
  static inline T cnnrt_##t##_shr_elem(T a, T b) { return b >= BITS ? (T)0 : (T)(a >> b); }

CNNRT_SINT_ELEMS(i8, int8_t, uint32_t)
CNNRT_SINT_ELEMS(i16, int16_t, uint32_t)
CNNRT_SINT_ELEMS(i32, int32_t, uint32_t)
CNNRT_SINT_ELEMS(i64, int64_t, uint64_t)
CNNRT_UINT_ELEMS(u8, uint8_t, uint32_t, 8)
CNNRT_UINT_ELEMS(u16, uint16_t, uint32_t, 16)
CNNRT_UINT_ELEMS(u32, uint32_t, uint32_t, 32)
CNNRT_UINT_ELEMS(u64, uint64_t, uint64_t, 64)

/* bool (uint8_t 0/1; any nonzero input counts as true, outputs are 0/1) */
static inline uint8_t cnnrt_bool_not_elem(uint8_t x) { return (uint8_t)(x == 0); }
static inline uint8_t cnnrt_bool_and_elem(uint8_t a, uint8_t b) {
  return (uint8_t)((a != 0) & (b != 0));
}
static inline uint8_t cnnrt_bool_or_elem(uint8_t a, uint8_t b) {
  return (uint8_t)((a != 0) | (b != 0));
}
static inline uint8_t cnnrt_bool_xor_elem(uint8_t a, uint8_t b) {
  return (uint8_t)((a != 0) ^ (b != 0));
}
static inline uint8_t cnnrt_bool_equal_elem(uint8_t a, uint8_t b) {
  return (uint8_t)((a != 0) == (b != 0));
}

/* ------------------------------------------------------------------------------------------ */
/* Unary kernels                                                                               */
/* ------------------------------------------------------------------------------------------ */

#define CNNRT_FLOAT_UNARY_KERNELS(t, T)                                                          \
  CNNRT_DEFINE_UNARY(t, T, relu)                                                                 \
  CNNRT_DEFINE_UNARY1(t, T, leaky_relu, alpha)                                                   \
  CNNRT_DEFINE_UNARY1(t, T, elu, alpha)                                                          \
  CNNRT_DEFINE_UNARY2(t, T, selu, alpha, gamma)                                                  \
  CNNRT_DEFINE_UNARY1(t, T, celu, alpha)                                                         \
  CNNRT_DEFINE_UNARY(t, T, sigmoid)                                                              \
  CNNRT_DEFINE_UNARY2(t, T, hard_sigmoid, alpha, beta)                                           \
  CNNRT_DEFINE_UNARY(t, T, hard_swish)                                                           \
  CNNRT_DEFINE_UNARY(t, T, tanh)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, softplus)                                                             \
  CNNRT_DEFINE_UNARY(t, T, softsign)                                                             \
  CNNRT_DEFINE_UNARY(t, T, erf)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, mish)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, silu)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, gelu)                                                                 \
  CNNRT_DEFINE_UNARY1(t, T, thresholded_relu, alpha)                                             \
  CNNRT_DEFINE_UNARY2(t, T, clip, lo, hi)                                                        \
  CNNRT_DEFINE_UNARY1(t, T, scale, s)                                                            \
  CNNRT_DEFINE_UNARY(t, T, sqrt)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, reciprocal)                                                           \
  CNNRT_DEFINE_UNARY(t, T, exp)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, log)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, floor)                                                                \
  CNNRT_DEFINE_UNARY(t, T, ceil)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, round)                                                                \
  CNNRT_DEFINE_UNARY(t, T, sin)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, cos)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, tan)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, asin)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, acos)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, atan)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, sinh)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, cosh)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, asinh)                                                                \
  CNNRT_DEFINE_UNARY(t, T, acosh)                                                                \
  CNNRT_DEFINE_UNARY(t, T, atanh)                                                                \
  CNNRT_DEFINE_UNARY(t, T, abs)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, neg)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, sign)                                                                 \
  /* IsNaN / IsInf: bool output */                                                               \
  static inline void cnnrt_##t##_isnan(int64_t n, const T *x, uint8_t *y) {                      \
    for (int64_t i = 0; i < n; i++) {                                                            \
      y[i] = cnnrt_##t##_isnan_elem(x[i]);                                                       \
    }                                                                                            \
  }                                                                                              \
  static inline void cnnrt_##t##_isinf(int64_t n, const T *x, int64_t detect_negative,           \
                                       int64_t detect_positive, uint8_t *y) {                    \
    for (int64_t i = 0; i < n; i++) {                                                            \
      y[i] = (uint8_t)((detect_positive && x[i] == (T)INFINITY) ||                               \
                       (detect_negative && x[i] == -(T)INFINITY));                               \
    }                                                                                            \
  }

CNNRT_FLOAT_UNARY_KERNELS(f32, float)
CNNRT_FLOAT_UNARY_KERNELS(f64, double)

#define CNNRT_SINT_UNARY_KERNELS(t, T)                                                           \
  CNNRT_DEFINE_UNARY(t, T, relu)                                                                 \
  CNNRT_DEFINE_UNARY(t, T, abs)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, neg)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, sign)                                                                 \
  CNNRT_DEFINE_UNARY2(t, T, clip, lo, hi)
#define CNNRT_UINT_UNARY_KERNELS(t, T)                                                           \
  CNNRT_DEFINE_UNARY(t, T, abs)                                                                  \
  CNNRT_DEFINE_UNARY(t, T, sign)                                                                 \
  CNNRT_DEFINE_UNARY2(t, T, clip, lo, hi)

CNNRT_SINT_UNARY_KERNELS(i8, int8_t)
CNNRT_SINT_UNARY_KERNELS(i16, int16_t)
CNNRT_SINT_UNARY_KERNELS(i32, int32_t)
CNNRT_SINT_UNARY_KERNELS(i64, int64_t)
CNNRT_UINT_UNARY_KERNELS(u8, uint8_t)
CNNRT_UINT_UNARY_KERNELS(u16, uint16_t)
CNNRT_UINT_UNARY_KERNELS(u32, uint32_t)
CNNRT_UINT_UNARY_KERNELS(u64, uint64_t)
CNNRT_DEFINE_UNARY(bool, uint8_t, not)

/* ------------------------------------------------------------------------------------------ */
/* Binary kernels                                                                              */
/* ------------------------------------------------------------------------------------------ */

#define CNNRT_NUMERIC_BINARY_KERNELS(t, T)                                                       \
  CNNRT_BINARY_SAME(t, T, add)                                                                   \
  CNNRT_BINARY_SAME(t, T, sub)                                                                   \
  CNNRT_BINARY_SAME(t, T, mul)                                                                   \
  CNNRT_BINARY_SAME(t, T, div)                                                                   \
  CNNRT_BINARY_SAME(t, T, min)                                                                   \
  CNNRT_BINARY_SAME(t, T, max)                                                                   \
  CNNRT_BINARY_SAME(t, T, mod)                                                                   \
  CNNRT_BINARY_SAME(t, T, fmod)                                                                  \
  CNNRT_BINARY_SAME(t, T, prelu)                                                                 \
  CNNRT_BINARY_CMP(t, T, equal)                                                                  \
  CNNRT_BINARY_CMP(t, T, less)                                                                   \
  CNNRT_BINARY_CMP(t, T, greater)                                                                \
  CNNRT_BINARY_CMP(t, T, less_equal)                                                             \
  CNNRT_BINARY_CMP(t, T, greater_equal)

CNNRT_NUMERIC_BINARY_KERNELS(f32, float)
CNNRT_NUMERIC_BINARY_KERNELS(f64, double)
CNNRT_NUMERIC_BINARY_KERNELS(i8, int8_t)
CNNRT_NUMERIC_BINARY_KERNELS(i16, int16_t)
CNNRT_NUMERIC_BINARY_KERNELS(i32, int32_t)
CNNRT_NUMERIC_BINARY_KERNELS(i64, int64_t)
CNNRT_NUMERIC_BINARY_KERNELS(u8, uint8_t)
CNNRT_NUMERIC_BINARY_KERNELS(u16, uint16_t)
CNNRT_NUMERIC_BINARY_KERNELS(u32, uint32_t)
CNNRT_NUMERIC_BINARY_KERNELS(u64, uint64_t)

CNNRT_BINARY_SAME(u8, uint8_t, shl)
CNNRT_BINARY_SAME(u8, uint8_t, shr)
CNNRT_BINARY_SAME(u16, uint16_t, shl)
CNNRT_BINARY_SAME(u16, uint16_t, shr)
CNNRT_BINARY_SAME(u32, uint32_t, shl)
CNNRT_BINARY_SAME(u32, uint32_t, shr)
CNNRT_BINARY_SAME(u64, uint64_t, shl)
CNNRT_BINARY_SAME(u64, uint64_t, shr)

CNNRT_BINARY_SAME(bool, uint8_t, and)
CNNRT_BINARY_SAME(bool, uint8_t, or)
CNNRT_BINARY_SAME(bool, uint8_t, xor)
CNNRT_BINARY_SAME(bool, uint8_t, equal)

/* Pow(X: tx, Y: ty) -> tx, following numpy's np.power(x, y).astype(x.dtype):
 * - f32 ** f32 in float (powf); f32 ** other types in double, rounded to float once;
 * - f64 ** anything in double;
 * - integer ** integer exactly, wrapping (cnnrt_ipow: negative exponents truncate to 0/+-1);
 * - integer ** float in double, then truncated and saturated like Cast (NaN -> 0).
 * Other exponent types (i8, u32, ...) are cast to i64 by the compiler first. */
static inline double cnnrt_f64_id(double x) { return x; }
#define CNNRT_POW_FLOAT_BASE(tx, TX, ty, TY, NARROW)                                             \
  static inline TX cnnrt_##tx##_##ty##_pow_elem(TX a, TY b) {                                    \
    return NARROW(pow((double)a, (double)b));                                                    \
  }                                                                                              \
  CNNRT_DEFINE_BINARY(cnnrt_##tx##_##ty##_pow, TX, TY, TX, cnnrt_##tx##_##ty##_pow_elem)
#define CNNRT_POW_INT_INT(tx, TX, ty, TY)                                                        \
  static inline TX cnnrt_##tx##_##ty##_pow_elem(TX a, TY b) {                                    \
    return cnnrt_##tx##_from_bits((uint64_t)cnnrt_ipow((int64_t)a, (int64_t)b));                 \
  }                                                                                              \
  CNNRT_DEFINE_BINARY(cnnrt_##tx##_##ty##_pow, TX, TY, TX, cnnrt_##tx##_##ty##_pow_elem)
#define CNNRT_POW_INT_FLOAT(tx, TX, ty, TY)                                                      \
  static inline TX cnnrt_##tx##_##ty##_pow_elem(TX a, TY b) {                                    \
    return cnnrt_##tx##_from_f64(pow((double)a, (double)b));                                     \
  }                                                                                              \
  CNNRT_DEFINE_BINARY(cnnrt_##tx##_##ty##_pow, TX, TY, TX, cnnrt_##tx##_##ty##_pow_elem)

static inline float cnnrt_f32_f32_pow_elem(float a, float b) { return powf(a, b); }
CNNRT_DEFINE_BINARY(cnnrt_f32_f32_pow, float, float, float, cnnrt_f32_f32_pow_elem)
CNNRT_POW_FLOAT_BASE(f32, float, f64, double, cnnrt_f64_to_f32)
CNNRT_POW_FLOAT_BASE(f32, float, i32, int32_t, cnnrt_f64_to_f32)
CNNRT_POW_FLOAT_BASE(f32, float, i64, int64_t, cnnrt_f64_to_f32)
CNNRT_POW_FLOAT_BASE(f64, double, f32, float, cnnrt_f64_id)
CNNRT_POW_FLOAT_BASE(f64, double, f64, double, cnnrt_f64_id)
CNNRT_POW_FLOAT_BASE(f64, double, i32, int32_t, cnnrt_f64_id)
CNNRT_POW_FLOAT_BASE(f64, double, i64, int64_t, cnnrt_f64_id)
CNNRT_POW_INT_FLOAT(i32, int32_t, f32, float)
CNNRT_POW_INT_FLOAT(i32, int32_t, f64, double)
CNNRT_POW_INT_INT(i32, int32_t, i32, int32_t)
CNNRT_POW_INT_INT(i32, int32_t, i64, int64_t)
CNNRT_POW_INT_FLOAT(i64, int64_t, f32, float)
CNNRT_POW_INT_FLOAT(i64, int64_t, f64, double)
CNNRT_POW_INT_INT(i64, int64_t, i32, int32_t)
CNNRT_POW_INT_INT(i64, int64_t, i64, int64_t)
/* same-type shorthands */
CNNRT_DEFINE_BINARY(cnnrt_f32_pow, float, float, float, cnnrt_f32_f32_pow_elem)
CNNRT_DEFINE_BINARY(cnnrt_f64_pow, double, double, double, cnnrt_f64_f64_pow_elem)
CNNRT_DEFINE_BINARY(cnnrt_i32_pow, int32_t, int32_t, int32_t, cnnrt_i32_i32_pow_elem)
CNNRT_DEFINE_BINARY(cnnrt_i64_pow, int64_t, int64_t, int64_t, cnnrt_i64_i64_pow_elem)

/* ------------------------------------------------------------------------------------------ */
/* Where(cond, x, y)                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* `void cnnrt_<t>_where(const cnnrt_bcast3_params *p, const uint8_t *cond, const T *x,
 * const T *y, T *out)`: out = cond ? x : y (nonzero cond = true). Inner-loop variants for the
 * usual shapes: everything contiguous, and contiguous cond with x and/or y constant along the
 * row (masked fill); anything else takes the strided loop. */
#define CNNRT_DEFINE_WHERE(t, T)                                                                 \
  static inline void cnnrt_##t##_where(const cnnrt_bcast3_params *p, const uint8_t *cond,       \
                                       const T *x, const T *y, T *out) {                         \
    const int64_t *strides[3] = {p->c_stride, p->a_stride, p->b_stride};                        \
    cnnrt_bcast_iter it;                                                                         \
    cnnrt_bcast_iter_init(&it, p->rank, p->out, 3, strides);                                     \
    const int64_t n = it.n, sc = it.inc[0], sx = it.inc[1], sy = it.inc[2];                      \
    for (int64_t r = 0; r < it.rows; r++, out += n) {                                            \
      const uint8_t *cr = cond + it.off[0];                                                      \
      const T *xr = x + it.off[1];                                                               \
      const T *yr = y + it.off[2];                                                               \
      if (sc == 1 && sx == 1 && sy == 1) {                                                       \
        for (int64_t i = 0; i < n; i++) {                                                        \
          out[i] = cr[i] ? xr[i] : yr[i];                                                        \
        }                                                                                        \
      } else if (sc == 1 && sx == 1 && sy == 0) {                                                \
        const T yv = yr[0];                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                        \
          out[i] = cr[i] ? xr[i] : yv;                                                           \
        }                                                                                        \
      } else if (sc == 1 && sx == 0 && sy == 1) {                                                \
        const T xv = xr[0];                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                        \
          out[i] = cr[i] ? xv : yr[i];                                                           \
        }                                                                                        \
      } else if (sc == 1 && sx == 0 && sy == 0) {                                                \
        const T xv = xr[0], yv = yr[0];                                                          \
        for (int64_t i = 0; i < n; i++) {                                                        \
          out[i] = cr[i] ? xv : yv;                                                              \
        }                                                                                        \
      } else {                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                        \
          out[i] = cr[i * sc] ? xr[i * sx] : yr[i * sy];                                         \
        }                                                                                        \
      }                                                                                          \
      cnnrt_bcast_iter_next(&it);                                                                \
    }                                                                                            \
  }

CNNRT_DEFINE_WHERE(f32, float)
CNNRT_DEFINE_WHERE(f64, double)
CNNRT_DEFINE_WHERE(i8, int8_t)
CNNRT_DEFINE_WHERE(i16, int16_t)
CNNRT_DEFINE_WHERE(i32, int32_t)
CNNRT_DEFINE_WHERE(i64, int64_t)
CNNRT_DEFINE_WHERE(u8, uint8_t)
CNNRT_DEFINE_WHERE(u16, uint16_t)
CNNRT_DEFINE_WHERE(u32, uint32_t)
CNNRT_DEFINE_WHERE(u64, uint64_t)
CNNRT_DEFINE_WHERE(bool, uint8_t)
CNNRT_DEFINE_WHERE(f16, uint16_t) /* bit patterns: selecting needs no arithmetic */
CNNRT_DEFINE_WHERE(bf16, uint16_t)

/* ------------------------------------------------------------------------------------------ */
/* Copy and Cast                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Identity / Reshape / Flatten when a copy is needed; overlapping buffers are fine. */
static inline void cnnrt_copy(int64_t bytes, const void *src, void *dst) {
  if (bytes > 0 && src != dst) {
    memmove(dst, src, (size_t)bytes);
  }
}

/* Element size of a dtype in bytes; 0 for UNDEFINED, STRING and unknown values. */
static inline int64_t cnnrt_dtype_bytes(int dtype) {
  switch (dtype) {
  case CNNRT_BOOL:
  case CNNRT_U8:
  case CNNRT_I8:
    return 1;
  case CNNRT_U16:
  case CNNRT_I16:
  case CNNRT_F16:
  case CNNRT_BF16:
    return 2;
  case CNNRT_F32:
  case CNNRT_I32:
  case CNNRT_U32:
    return 4;
  case CNNRT_F64:
  case CNNRT_I64:
  case CNNRT_U64:
    return 8;
  default:
    return 0;
  }
}

/* Cast goes through one of three exact intermediate forms: double for float sources, int64_t
 * for signed and uint64_t for unsigned/bool sources (a double could not hold every 64-bit
 * integer). Sources are read a chunk at a time so each loop below has a fixed type pair. */
#define CNNRT_CAST_CHUNK 256
enum { CNNRT_CAST_FLOAT = 0, CNNRT_CAST_SIGNED = 1, CNNRT_CAST_UNSIGNED = 2 };
typedef union cnnrt_cast_buf {
  double f[CNNRT_CAST_CHUNK];
  int64_t i[CNNRT_CAST_CHUNK];
  uint64_t u[CNNRT_CAST_CHUNK];
} cnnrt_cast_buf;

/* Integer -> integer: wrap modulo 2^bits, like numpy's astype and C's unsigned conversions. */
static inline int8_t cnnrt_i8_from_i64(int64_t v) { return cnnrt_i8_from_bits((uint64_t)v); }
static inline int16_t cnnrt_i16_from_i64(int64_t v) { return cnnrt_i16_from_bits((uint64_t)v); }
static inline int32_t cnnrt_i32_from_i64(int64_t v) { return cnnrt_i32_from_bits((uint64_t)v); }
static inline int64_t cnnrt_i64_from_i64(int64_t v) { return v; }
static inline uint8_t cnnrt_u8_from_i64(int64_t v) { return (uint8_t)(uint64_t)v; }
static inline uint16_t cnnrt_u16_from_i64(int64_t v) { return (uint16_t)(uint64_t)v; }
static inline uint32_t cnnrt_u32_from_i64(int64_t v) { return (uint32_t)(uint64_t)v; }
static inline uint64_t cnnrt_u64_from_i64(int64_t v) { return (uint64_t)v; }
static inline uint8_t cnnrt_bool_from_i64(int64_t v) { return (uint8_t)(v != 0); }
static inline uint8_t cnnrt_bool_from_bits(uint64_t u) { return (uint8_t)(u != 0); }
static inline uint8_t cnnrt_bool_from_f64(double d) { return (uint8_t)(d != 0.0); } /* NaN: 1 */
static inline float cnnrt_i64_to_f32(int64_t v) { return (float)v; } /* one rounding, not two */
static inline float cnnrt_u64_to_f32(uint64_t v) { return (float)v; }
static inline double cnnrt_i64_to_f64(int64_t v) { return (double)v; }
static inline double cnnrt_u64_to_f64(uint64_t v) { return (double)v; }
/* |v| >= 2^53 may round in the double step, but such values overflow half to inf anyway. */
static inline uint16_t cnnrt_i64_to_f16(int64_t v) { return cnnrt_f64_to_f16((double)v); }
static inline uint16_t cnnrt_u64_to_f16(uint64_t v) { return cnnrt_f64_to_f16((double)v); }
/* bfloat16 from anything: to float (round to nearest even), then truncate like onnxruntime's
 * BFloat16(float). */
static inline uint16_t cnnrt_f64_to_bf16(double d) {
  return cnnrt_f32_to_bf16_trunc(cnnrt_f64_to_f32(d));
}
static inline uint16_t cnnrt_i64_to_bf16(int64_t v) { return cnnrt_f32_to_bf16_trunc((float)v); }
static inline uint16_t cnnrt_u64_to_bf16(uint64_t v) { return cnnrt_f32_to_bf16_trunc((float)v); }

/* Reads x[i0 .. i0+m) into buf; returns which member was filled. */
static inline int cnnrt_cast_load(int from, const void *x, int64_t i0, int64_t m,
                                  cnnrt_cast_buf *buf) {
#define CNNRT_CAST_LOAD(DT, T, MEMBER, CLASS, CONV)                                              \
  case DT: {                                                                                     \
    const T *s = (const T *)x + i0;                                                              \
    for (int64_t j = 0; j < m; j++) {                                                            \
      buf->MEMBER[j] = CONV(s[j]);                                                               \
    }                                                                                            \
    return CLASS;                                                                                \
  }
  switch (from) {
    CNNRT_CAST_LOAD(CNNRT_F32, float, f, CNNRT_CAST_FLOAT, (double))
    CNNRT_CAST_LOAD(CNNRT_F64, double, f, CNNRT_CAST_FLOAT, (double))
    CNNRT_CAST_LOAD(CNNRT_F16, uint16_t, f, CNNRT_CAST_FLOAT, (double)cnnrt_f16_to_f32)
    CNNRT_CAST_LOAD(CNNRT_BF16, uint16_t, f, CNNRT_CAST_FLOAT, (double)cnnrt_bf16_to_f32)
    CNNRT_CAST_LOAD(CNNRT_I8, int8_t, i, CNNRT_CAST_SIGNED, (int64_t))
    CNNRT_CAST_LOAD(CNNRT_I16, int16_t, i, CNNRT_CAST_SIGNED, (int64_t))
    CNNRT_CAST_LOAD(CNNRT_I32, int32_t, i, CNNRT_CAST_SIGNED, (int64_t))
    CNNRT_CAST_LOAD(CNNRT_I64, int64_t, i, CNNRT_CAST_SIGNED, (int64_t))
    CNNRT_CAST_LOAD(CNNRT_U8, uint8_t, u, CNNRT_CAST_UNSIGNED, (uint64_t))
    CNNRT_CAST_LOAD(CNNRT_U16, uint16_t, u, CNNRT_CAST_UNSIGNED, (uint64_t))
    CNNRT_CAST_LOAD(CNNRT_U32, uint32_t, u, CNNRT_CAST_UNSIGNED, (uint64_t))
    CNNRT_CAST_LOAD(CNNRT_U64, uint64_t, u, CNNRT_CAST_UNSIGNED, (uint64_t))
    CNNRT_CAST_LOAD(CNNRT_BOOL, uint8_t, u, CNNRT_CAST_UNSIGNED, (uint64_t)cnnrt_bool_from_bits)
  default:
    return -1;
  }
#undef CNNRT_CAST_LOAD
}

/* Writes y[i0 .. i0+m) from buf. Float -> int saturates (NaN -> 0), int -> int wraps modulo
 * 2^bits like numpy/C, anything -> bool is != 0. */
static inline int cnnrt_cast_store(int to, void *y, int64_t i0, int64_t m, int cls,
                                   const cnnrt_cast_buf *buf) {
#define CNNRT_CAST_STORE(DT, T, FROM_F, FROM_I, FROM_U)                                          \
  case DT: {                                                                                     \
    T *d = (T *)y + i0;                                                                          \
    if (cls == CNNRT_CAST_FLOAT) {                                                               \
      for (int64_t j = 0; j < m; j++) {                                                          \
        d[j] = FROM_F(buf->f[j]);                                                                \
      }                                                                                          \
    } else if (cls == CNNRT_CAST_SIGNED) {                                                       \
      for (int64_t j = 0; j < m; j++) {                                                          \
        d[j] = FROM_I(buf->i[j]);                                                                \
      }                                                                                          \
    } else {                                                                                     \
      for (int64_t j = 0; j < m; j++) {                                                          \
        d[j] = FROM_U(buf->u[j]);                                                                \
      }                                                                                          \
    }                                                                                            \
    return 0;                                                                                    \
  }
  switch (to) {
    CNNRT_CAST_STORE(CNNRT_F32, float, cnnrt_f64_to_f32, cnnrt_i64_to_f32, cnnrt_u64_to_f32)
    CNNRT_CAST_STORE(CNNRT_F64, double, cnnrt_f64_id, cnnrt_i64_to_f64, cnnrt_u64_to_f64)
    CNNRT_CAST_STORE(CNNRT_F16, uint16_t, cnnrt_f64_to_f16, cnnrt_i64_to_f16, cnnrt_u64_to_f16)
    CNNRT_CAST_STORE(CNNRT_BF16, uint16_t, cnnrt_f64_to_bf16, cnnrt_i64_to_bf16,
                     cnnrt_u64_to_bf16)
    CNNRT_CAST_STORE(CNNRT_I8, int8_t, cnnrt_i8_from_f64, cnnrt_i8_from_i64, cnnrt_i8_from_bits)
    CNNRT_CAST_STORE(CNNRT_I16, int16_t, cnnrt_i16_from_f64, cnnrt_i16_from_i64,
                     cnnrt_i16_from_bits)
    CNNRT_CAST_STORE(CNNRT_I32, int32_t, cnnrt_i32_from_f64, cnnrt_i32_from_i64,
                     cnnrt_i32_from_bits)
    CNNRT_CAST_STORE(CNNRT_I64, int64_t, cnnrt_i64_from_f64, cnnrt_i64_from_i64,
                     cnnrt_i64_from_bits)
    CNNRT_CAST_STORE(CNNRT_U8, uint8_t, cnnrt_u8_from_f64, cnnrt_u8_from_i64, cnnrt_u8_from_bits)
    CNNRT_CAST_STORE(CNNRT_U16, uint16_t, cnnrt_u16_from_f64, cnnrt_u16_from_i64,
                     cnnrt_u16_from_bits)
    CNNRT_CAST_STORE(CNNRT_U32, uint32_t, cnnrt_u32_from_f64, cnnrt_u32_from_i64,
                     cnnrt_u32_from_bits)
    CNNRT_CAST_STORE(CNNRT_U64, uint64_t, cnnrt_u64_from_f64, cnnrt_u64_from_i64,
                     cnnrt_u64_from_bits)
    CNNRT_CAST_STORE(CNNRT_BOOL, uint8_t, cnnrt_bool_from_f64, cnnrt_bool_from_i64,
                     cnnrt_bool_from_bits)
  default:
    return -1;
  }
#undef CNNRT_CAST_STORE
}

/* Cast n elements of dtype `from` at x to dtype `to` at y (enum cnnrt_dtype values).
 * Returns 0, or -1 for an unsupported dtype (STRING, UNDEFINED). y may equal x when the target
 * element is not wider than the source; otherwise x and y must not overlap.
 * Rules: float -> int truncates toward zero, saturates at the type's range, NaN -> 0;
 * int -> int wraps modulo 2^bits; x -> bool is x != 0 (NaN -> 1); bool -> x gives 0/1;
 * -> f32/f64/f16 round to nearest even (f64 -> f16 in one step, like numpy);
 * -> bf16 rounds to float first, then truncates (see cnnrt_f32_to_bf16_trunc). */
static inline int cnnrt_cast(int64_t n, int from, const void *x, int to, void *y) {
  int64_t fs = cnnrt_dtype_bytes(from), ts = cnnrt_dtype_bytes(to);
  if (fs == 0 || ts == 0) {
    return -1;
  }
  if (from == to) {
    cnnrt_copy(n * fs, x, y);
    return 0;
  }
  cnnrt_cast_buf buf;
  for (int64_t i0 = 0; i0 < n; i0 += CNNRT_CAST_CHUNK) {
    int64_t m = n - i0 < CNNRT_CAST_CHUNK ? n - i0 : CNNRT_CAST_CHUNK;
    int cls = cnnrt_cast_load(from, x, i0, m, &buf);
    cnnrt_cast_store(to, y, i0, m, cls, &buf);
  }
  return 0;
}

#endif /* CNNRT_ELEMENTWISE_H */
