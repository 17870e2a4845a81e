/* emit.h — writing the generated C. The driver (emit.c) walks the scheduled IR and asks each
 * node's family emitter (emit_<family>.c) for the statements that run it; the helpers here give
 * emitters pointer expressions for values, kernel parameter initializers and runtime headers. */
#ifndef CN_EMIT_H
#define CN_EMIT_H

#include <stddef.h>

#include "../compiler/ir.h"
#include "../compiler/pipeline.h"

typedef struct cn_emitter {
  cn_graph *g;
  const cn_options *opt;
  const char *ident; /* model identifier: prefix of every public symbol */
  cn_buf body;       /* statements of the run function */
  unsigned headers;  /* runtime headers used (bit set of enum cn_runtime_header) */
  int64_t blob_bytes;
  int n_params; /* counter for unique parameter variable names */
  char **strings; /* strings handed out by the helpers, freed with the emitter */
  int n_strings, cap_strings;
} cn_emitter;

/* Runtime headers a model may need; cn_emit_use marks one, the file list follows from it. */
enum cn_runtime_header {
  CN_RT_CONV = 1u << 0,
  CN_RT_GEMM = 1u << 1,
  CN_RT_POOL = 1u << 2,
  CN_RT_NORM = 1u << 3,
  CN_RT_ELEMENTWISE = 1u << 4,
  CN_RT_TENSOR = 1u << 5,
  CN_RT_REDUCE = 1u << 6,
  CN_RT_RESIZE = 1u << 7,
  CN_RT_CONV_AVX2 = 1u << 8, /* packed-GEMM and depthwise x86 kernels, with portable fallbacks */
  CN_RT_ACT_AVX2 = 1u << 9,  /* vectorized activations and softmax */
  CN_RT_GEMV_AVX2 = 1u << 10, /* fully connected layers at batch 1 */
  CN_RT_CONV_GRAD = 1u << 11, /* backward kernels (autodiff) */
  CN_RT_POOL_GRAD = 1u << 12,
  CN_RT_NORM_GRAD = 1u << 13,
  CN_RT_ACT_GRAD = 1u << 14,
  CN_RT_CONV_GRAD_AVX2 = 1u << 15,
  CN_RT_RESIZE_GRAD = 1u << 16,
  CN_RT_ACT_GRAD_AVX2 = 1u << 17, /* vectorized backward kernels, each with its scalar fallback */
  CN_RT_POOL_GRAD_AVX2 = 1u << 18,
  CN_RT_NORM_GRAD_AVX2 = 1u << 19,
  /* ARM NEON kernels (--target aarch64 / armv7), each with its portable fallback */
  CN_RT_CONV_NEON = 1u << 20, /* packed-GEMM and depthwise convolutions */
  CN_RT_ACT_NEON = 1u << 21,  /* activations and softmax */
  CN_RT_GEMV_NEON = 1u << 22, /* fully connected layers at batch 1 */
  CN_RT_CONV_GRAD_NEON = 1u << 23, /* backward convolutions on the NEON packed GEMM */
  CN_RT_ACT_GRAD_NEON = 1u << 24,  /* activation gradients */
  /* --gemm libxsmm: convolutions and Gemm on libxsmm (x86-64; the generated code then needs
   * <libxsmm.h> and -lxsmm) */
  CN_RT_XSMM = 1u << 25,
  CN_RT_WINOGRAD = 1u << 26, /* Winograd F(4x4,3x3) convolution (AVX2, portable reference) */
  CN_RT_NORM_GRAD_NEON = 1u << 27, /* BatchNormalization / softmax gradients (NEON) */
  CN_RT_POOL_GRAD_NEON = 1u << 28, /* MaxPool / AveragePool gradients (NEON) */
  /* Gather and Resize gradients, AVX2 and NEON forms (both headers: one bit, bits are scarce;
   * each header is empty or the references off its ISA) */
  CN_RT_SCATTER_GRAD_SIMD = 1u << 29,
  CN_RT_RESIZE_SIMD = 1u << 30 /* forward Resize, AVX2 and NEON forms (both headers, as above) */
};
void cn_emit_use(cn_emitter *e, unsigned headers);

/* Appends a line (indentation included by the caller's format). */
void cn_emit_line(cn_emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pointer expressions, typed by the value's dtype: `(const float *)(W + 64)`. */
const char *cn_emit_in(cn_emitter *e, int value);
const char *cn_emit_out(cn_emitter *e, int value);
/* Same, as `const void *` / `void *` (type-agnostic kernels). */
const char *cn_emit_in_void(cn_emitter *e, int value);
const char *cn_emit_out_void(cn_emitter *e, int value);
/* Pointer to the node's scratch memory in the arena. */
const char *cn_emit_scratch(cn_emitter *e, const cn_node *n);
/* Pointer of C type `ctype` to byte `offset` of the node's scratch memory. */
const char *cn_emit_scratch_at(cn_emitter *e, const cn_node *n, int64_t offset, const char *ctype);
/* Emits a conversion of `count` elements between dtypes (runtime cnnrt_cast). */
void cn_emit_cast(cn_emitter *e, int64_t count, cn_dtype from, const char *src, cn_dtype to,
                  const char *dst);
/* A C literal for a float ("1.5f", "-INFINITY"). */
const char *cn_emit_float(cn_emitter *e, float f);

/* Describes a kernel parameter struct so that it can be printed as an initializer. The structs
 * hold only int64_t and float scalars and fixed arrays (docs/runtime.md). */
typedef enum { CN_FIELD_I64, CN_FIELD_F32 } cn_field_kind;
typedef struct cn_field {
  const char *name;
  size_t offset;
  cn_field_kind kind;
  int count; /* 1 for scalars */
} cn_field;
#define CN_I64(T, f) {#f, offsetof(T, f), CN_FIELD_I64, (int)(sizeof(((T *)0)->f) / sizeof(int64_t))}
#define CN_F32(T, f) {#f, offsetof(T, f), CN_FIELD_F32, (int)(sizeof(((T *)0)->f) / sizeof(float))}
#define CN_FIELDS(arr) (arr), (int)(sizeof(arr) / sizeof((arr)[0]))

/* Emits `static const TYPE pN = {...};` into the current block and returns "&pN". */
const char *cn_emit_params(cn_emitter *e, const char *type, const cn_field *fields, int n_fields,
                           const void *params);
/* Emits an `int64_t` array constant and returns its name. */
const char *cn_emit_i64_array(cn_emitter *e, const int64_t *vals, int n);

/* A string owned by the emitter. */
const char *cn_emit_str(cn_emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `s` made safe inside a C comment (model names are untrusted): no comment delimiters, no
 * control characters. Owned by the emitter. */
const char *cn_emit_comment(cn_emitter *e, const char *s);

/* Generates NAME.c, NAME.h, the runtime files and (with --main) NAME_main.c into memory, then
 * writes them to OUT. Returns false after reporting errors; nothing is written then. */
bool cn_codegen(cn_graph *g, const cn_options *opt, cn_diag *d);

#endif
