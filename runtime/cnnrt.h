/* cnnrt.h — the common part of the cnncc runtime, copied into every output directory.
 *
 * Everything here is C99, header-only and free of mutable global state. Kernels live in
 * per-family headers (cnnrt_conv.h, cnnrt_pool.h, ...) as `static inline` functions so that
 * the generated model file, which calls them with compile-time constant parameters, lets the
 * C compiler specialize each call; the same headers are included by the compiler itself (for
 * constant folding) and by the kernel unit tests. */
#ifndef CNNRT_H
#define CNNRT_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CNNRT_MAX_RANK 8

/* Element types, numbered as ONNX's TensorProto.DataType so that the compiler, the driver and
 * .npy conversion share one numbering. */
enum cnnrt_dtype {
  CNNRT_UNDEFINED = 0,
  CNNRT_F32 = 1,
  CNNRT_U8 = 2,
  CNNRT_I8 = 3,
  CNNRT_U16 = 4,
  CNNRT_I16 = 5,
  CNNRT_I32 = 6,
  CNNRT_I64 = 7,
  CNNRT_STRING = 8,
  CNNRT_BOOL = 9,
  CNNRT_F16 = 10,
  CNNRT_F64 = 11,
  CNNRT_U32 = 12,
  CNNRT_U64 = 13,
  CNNRT_BF16 = 16
};

/* Activation applied in a kernel's epilogue (fusion of Relu & co. into their producer). */
enum cnnrt_act {
  CNNRT_ACT_NONE = 0,
  CNNRT_ACT_RELU,
  CNNRT_ACT_LEAKY_RELU, /* alpha */
  CNNRT_ACT_CLIP,       /* alpha = min, beta = max (ReLU6 is CLIP 0..6) */
  CNNRT_ACT_SIGMOID,
  CNNRT_ACT_HARD_SIGMOID, /* alpha, beta */
  CNNRT_ACT_HARD_SWISH,
  CNNRT_ACT_SILU,
  CNNRT_ACT_TANH
};

static inline float cnnrt_sigmoidf(float x) {
  /* Written so that neither branch overflows expf. */
  if (x >= 0.0f) {
    return 1.0f / (1.0f + expf(-x));
  }
  float e = expf(x);
  return e / (1.0f + e);
}

static inline float cnnrt_apply_act(int act, float alpha, float beta, float v) {
  switch (act) {
  case CNNRT_ACT_RELU:
    return v > 0.0f ? v : 0.0f;
  case CNNRT_ACT_LEAKY_RELU:
    return v >= 0.0f ? v : alpha * v;
  case CNNRT_ACT_CLIP:
    return v < alpha ? alpha : (v > beta ? beta : v);
  case CNNRT_ACT_SIGMOID:
    return cnnrt_sigmoidf(v);
  case CNNRT_ACT_HARD_SIGMOID: {
    float t = alpha * v + beta;
    return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
  }
  case CNNRT_ACT_HARD_SWISH: {
    float t = v / 6.0f + 0.5f;
    return v * (t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t));
  }
  case CNNRT_ACT_SILU:
    return v * cnnrt_sigmoidf(v);
  case CNNRT_ACT_TANH:
    return tanhf(v);
  default:
    return v;
  }
}

/* Optional parallel-for hook. Generated code splits independent work into `n` tasks and calls
 * `run(ctx, task_fn, task_arg, n)`; a NULL hook (or NULL run) means serial execution. The
 * application may plug in its own pool (OpenMP, RTOS tasks) or the optional cnnrt_pool. */
typedef void (*cnnrt_task_fn)(void *arg, int64_t task);
typedef struct cnnrt_parallel {
  void (*run)(void *ctx, cnnrt_task_fn fn, void *arg, int64_t n);
  void *ctx;
  int threads; /* how many tasks the hook runs at once; used to size the split */
} cnnrt_parallel;

static inline void cnnrt_parallel_for(const cnnrt_parallel *par, cnnrt_task_fn fn, void *arg,
                                      int64_t n) {
  if (par != NULL && par->run != NULL && par->threads > 1 && n > 1) {
    par->run(par->ctx, fn, arg, n);
  } else {
    for (int64_t i = 0; i < n; i++) {
      fn(arg, i);
    }
  }
}

/* Keeps two vectors that feed several FMAs in registers. Without it GCC 12 (-O2/-O3, AVX2)
 * folds the load into every FMA that uses the vector ("vfmadd231ps mem, ..."): a 6x16 tile then
 * issues 18 loads per k step instead of 8, and on Zen 3 (3 loads per cycle, only 2 of them
 * 256-bit) the packed GEMM ran at 58 GFLOP/s instead of 91 (bench/kernels/bench_gemm_avx2.c,
 * peak 103). The empty asm makes each value opaque, so the loads stay separate instructions.
 * Nothing for other compilers. */
#if defined(__GNUC__) || defined(__clang__)
#define CNNRT_KEEP_IN_REGS(x, y) __asm__("" : "+x"(x), "+x"(y))
#else
#define CNNRT_KEEP_IN_REGS(x, y) ((void)0)
#endif

/* Prefetches, for reading into every cache level, share i of n of the `lines` 64-byte lines that
 * start at base, none at or past end (base <= end): kernels spread the next block's lines over the pieces of
 * work that run before it is needed (the hardware prefetcher does not follow weights read once
 * per block and then reused from L1). Nothing without the GCC / Clang builtin. */
static inline void cnnrt_prefetch_share(const void *base, int64_t lines, int64_t i, int64_t n,
                                        const void *end) {
#if defined(__GNUC__) || defined(__clang__)
  const char *b = (const char *)base;
  const int64_t room = ((const char *)end - b + 63) / 64; /* lines that start before end */
  const int64_t l1 = lines * (i + 1) / n;
  for (int64_t l = lines * i / n; l < l1 && l < room; l++) {
    __builtin_prefetch(b + l * 64, 0, 3);
  }
#else
  (void)base, (void)lines, (void)i, (void)n, (void)end;
#endif
}

/* Arena bound checks for debug builds of generated code (-DCNNRT_DEBUG): the generated run
 * function asserts cnnrt_arena_fits for every buffer of its memory plan, kernels assert their
 * parameters. (Without CNNRT_DEBUG, or with NDEBUG, nothing is checked and nothing costs.) */
#ifdef CNNRT_DEBUG
#include <assert.h>
#define CNNRT_ASSERT(cond) assert(cond)
#else
#define CNNRT_ASSERT(cond) ((void)0)
#endif
/* Whether `bytes` bytes at byte offset `offset` lie inside an arena of `arena_bytes` bytes. */
static inline int cnnrt_arena_fits(int64_t offset, int64_t bytes, int64_t arena_bytes) {
  return offset >= 0 && bytes >= 0 && offset <= arena_bytes && bytes <= arena_bytes - offset;
}

/* Fixed shares with stealing. A layer's work is `units` units (pixel panels, tile rows,
 * channel blocks) split evenly into n_tasks fixed shares, [units * t / n_tasks,
 * units * (t + 1) / n_tasks) for task t, as the kernels split it before. Task t takes pieces of
 * its own share from the front; once that is used up, it takes pieces from the back of the
 * share with the most units left. So a task whose thread was descheduled for a while (a shared
 * machine's vCPU) or runs on a slower core holds up the layer by at most one piece instead of
 * its whole share, while undisturbed every task computes exactly its own share, and a layer's
 * pixels stay on the core that wrote them: pieces handed out from one counter scattered them,
 * and cost SqueezeNet 6-8% on two threads (docs/design.md).
 *
 * The state is one word per task, the units taken from the front (low 32 bits) and from the
 * back (high 32 bits) of its share, claimed with compare-and-swap; all zero is the initial
 * state, so the generated code initialises a task struct's cnnrt_steal member with {{0}}. The
 * words are 64 bytes apart: owners claiming their pieces do not share a line. Without the
 * GCC/Clang __atomic builtins, or with more than CNNRT_STEAL_SLOTS tasks, a task takes just its
 * own share (a fixed split). */
#define CNNRT_STEAL_SLOTS 16
typedef struct cnnrt_steal {
  uint64_t taken[CNNRT_STEAL_SLOTS * 8]; /* task t's word: taken[8 * t] */
} cnnrt_steal;

#if defined(__GNUC__) || defined(__clang__)
#define CNNRT_STEAL_ATOMIC 1
#else
#define CNNRT_STEAL_ATOMIC 0
#endif

/* The end of the piece that starts at `start` in a share ending at `end` (start < end): at most
 * `grain` units, cut back to a multiple of `align` (0 or 1: none) where one lies inside, so that
 * a piece ends on a tile row or an image's last row. */
static inline int64_t cnnrt_steal_piece_end(int64_t start, int64_t end, int64_t grain,
                                            int64_t align) {
  int64_t b = end - start > grain ? start + grain : end;
  if (align > 1 && b < end && b / align * align > start) {
    b = b / align * align;
  }
  return b;
}

#if CNNRT_STEAL_ATOMIC
/* Takes a piece of task v's share [s0, s1) (front: as its owner); 0 if none is left. The pieces
 * are a fixed grid of the share, the ones its owner takes when nobody steals (s0, then
 * cnnrt_steal_piece_end of each piece's start): a thief takes the last piece left, not the last
 * `grain` units. So which units are computed together (one GEMM call, one tile block) does not
 * depend on timing, and neither do the results: the kernels' edge tiles sum in another order
 * than their full ones (the AVX-512 GEMM's 12x16 panel), and with pieces cut where a thief
 * happened to arrive, two runs of a model on two threads differed in the last bit. */
static inline int cnnrt_steal_take_(cnnrt_steal *s, int64_t v, int64_t s0, int64_t s1,
                                    int64_t grain, int64_t align, int front, int64_t *lo,
                                    int64_t *hi) {
  uint64_t *word = &s->taken[8 * v];
  uint64_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  for (;;) {
    const int64_t start = s0 + (int64_t)(old & 0xffffffffu), end = s1 - (int64_t)(old >> 32);
    if (start >= end) {
      return 0;
    }
    if (front) {
      *lo = start;
      *hi = cnnrt_steal_piece_end(start, s1, grain, align);
    } else { /* the last grid point before end: a share has at most a few dozen pieces */
      int64_t g = s0, g_next;
      while ((g_next = cnnrt_steal_piece_end(g, s1, grain, align)) < end) {
        g = g_next;
      }
      *lo = g;
      *hi = end;
    }
    CNNRT_ASSERT(start <= *lo && *lo < *hi && *hi <= end);
    const uint64_t len = (uint64_t)(*hi - *lo);
    const uint64_t next = old + (front ? len : len << 32);
    if (__atomic_compare_exchange_n(word, &old, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      return 1;
    }
  }
}
#endif

/* The next piece [lo, hi) of the units for task t of n_tasks: from its own share while any is
 * left, then from the back of the share with the most units left; 0 when all are taken. Pieces
 * of at most `grain` units, aligned as cnnrt_steal_piece_end says, and the same pieces whatever
 * the timing (cnnrt_steal_take_). `first` is 1 on the task's first call. With s NULL, one task,
 * more than CNNRT_STEAL_SLOTS tasks or no atomics, the first call returns the whole share and the
 * next one 0 (the fixed split). */
static inline int cnnrt_steal_next(cnnrt_steal *s, int64_t units, int64_t n_tasks, int64_t t,
                                   int64_t grain, int64_t align, int first, int64_t *lo,
                                   int64_t *hi) {
  CNNRT_ASSERT(t >= 0 && t < n_tasks && grain > 0 && units < ((int64_t)1 << 31));
  if (!CNNRT_STEAL_ATOMIC || s == NULL || n_tasks < 2 || n_tasks > CNNRT_STEAL_SLOTS) {
    *lo = units * t / n_tasks;
    *hi = units * (t + 1) / n_tasks;
    return first && *lo < *hi;
  }
#if CNNRT_STEAL_ATOMIC
  if (cnnrt_steal_take_(s, t, units * t / n_tasks, units * (t + 1) / n_tasks, grain, align, 1, lo,
                        hi)) {
    return 1;
  }
  for (;;) {
    int64_t victim = -1, most = 0;
    for (int64_t v = 0; v < n_tasks; v++) {
      const uint64_t w = __atomic_load_n(&s->taken[8 * v], __ATOMIC_RELAXED);
      const int64_t left = units * (v + 1) / n_tasks - units * v / n_tasks -
                           (int64_t)(w & 0xffffffffu) - (int64_t)(w >> 32);
      if (v != t && left > most) {
        victim = v;
        most = left;
      }
    }
    if (victim < 0) {
      return 0;
    }
    if (cnnrt_steal_take_(s, victim, units * victim / n_tasks, units * (victim + 1) / n_tasks,
                          grain, align, 0, lo, hi)) {
      return 1;
    }
  }
#else
  (void)grain, (void)align;
  return 0;
#endif
}

/* IEEE half and bfloat16 conversions (Cast to/from float16). Round to nearest even. */
static inline float cnnrt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint16_t cnnrt_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) { /* inf or nan */
    return (uint16_t)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  }
  if (absx >= 0x477ff000u) { /* rounds to >= 65520: overflow to inf */
    return (uint16_t)(sign | 0x7c00u);
  }
  if (absx < 0x38800000u) { /* result is subnormal or zero */
    if (absx < 0x33000000u) {
      return (uint16_t)sign;
    }
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14 + (113 - e) */
    uint32_t half = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u))) {
      half++;
    }
    return (uint16_t)(sign | half);
  }
  uint32_t h = ((absx >> 13) - (112u << 10));
  uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
    h++;
  }
  return (uint16_t)(sign | h);
}

static inline float cnnrt_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint16_t cnnrt_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    return (uint16_t)((x >> 16) | 0x40u);
  }
  uint32_t lsb = (x >> 16) & 1u;
  return (uint16_t)((x + 0x7fffu + lsb) >> 16);
}

#endif /* CNNRT_H */
