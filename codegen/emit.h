/* emit.h — writing the generated C. The driver (emit.c) walks the scheduled IR and asks each
 * node's family emitter (emit_<family>.c) for the statements that run it; the helpers here give
 * emitters pointer expressions for values, kernel parameter initializers and runtime headers. */
#ifndef CN_EMIT_H
#define CN_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "../compiler/ir.h"
#include "../compiler/pipeline.h"

typedef uint64_t cn_rt_set; /* a set of runtime headers: CN_RT_* bits, below */

typedef struct cn_emitter {
  cn_graph *g;
  const cn_options *opt;
  const char *ident; /* model identifier: prefix of every public symbol */
  cn_buf body;       /* statements of the run function */
  cn_rt_set headers; /* runtime headers used (CN_RT_* bits) */
  int64_t blob_bytes;
  int n_params; /* counter for unique parameter variable names */
  char **strings; /* strings handed out by the helpers, freed with the emitter */
  int n_strings, cap_strings;
} cn_emitter;

/* Runtime headers a model may need, as a bit set; cn_emit_use marks them, the file list follows
 * from it. 64 bits: 32 ran out, and C enum constants must fit an int. */
#define CN_RT_CONV (UINT64_C(1) << 0)
#define CN_RT_GEMM (UINT64_C(1) << 1)
#define CN_RT_POOL (UINT64_C(1) << 2)
#define CN_RT_NORM (UINT64_C(1) << 3)
#define CN_RT_ELEMENTWISE (UINT64_C(1) << 4)
#define CN_RT_TENSOR (UINT64_C(1) << 5)
#define CN_RT_REDUCE (UINT64_C(1) << 6)
#define CN_RT_RESIZE (UINT64_C(1) << 7)
/* packed-GEMM and depthwise x86 kernels, with portable fallbacks */
#define CN_RT_CONV_AVX2 (UINT64_C(1) << 8)
#define CN_RT_ACT_AVX2 (UINT64_C(1) << 9) /* vectorized activations and softmax */
#define CN_RT_GEMV_AVX2 (UINT64_C(1) << 10) /* fully connected layers at batch 1 */
#define CN_RT_CONV_GRAD (UINT64_C(1) << 11) /* backward kernels (autodiff) */
#define CN_RT_POOL_GRAD (UINT64_C(1) << 12)
#define CN_RT_NORM_GRAD (UINT64_C(1) << 13)
#define CN_RT_ACT_GRAD (UINT64_C(1) << 14)
#define CN_RT_CONV_GRAD_AVX2 (UINT64_C(1) << 15)
#define CN_RT_RESIZE_GRAD (UINT64_C(1) << 16)
/* vectorized backward kernels, each with its scalar fallback */
#define CN_RT_ACT_GRAD_AVX2 (UINT64_C(1) << 17)
#define CN_RT_POOL_GRAD_AVX2 (UINT64_C(1) << 18)
#define CN_RT_NORM_GRAD_AVX2 (UINT64_C(1) << 19)
/* ARM NEON kernels (--target aarch64 / armv7), each with its portable fallback */
#define CN_RT_CONV_NEON (UINT64_C(1) << 20) /* packed-GEMM and depthwise convolutions */
#define CN_RT_ACT_NEON (UINT64_C(1) << 21) /* activations and softmax */
#define CN_RT_GEMV_NEON (UINT64_C(1) << 22) /* fully connected layers at batch 1 */
#define CN_RT_CONV_GRAD_NEON (UINT64_C(1) << 23) /* backward convolutions on the NEON packed GEMM */
#define CN_RT_ACT_GRAD_NEON (UINT64_C(1) << 24) /* activation gradients */
/* --gemm libxsmm: convolutions and Gemm on libxsmm (x86-64; the generated code then needs
 * <libxsmm.h> and -lxsmm) */
#define CN_RT_XSMM (UINT64_C(1) << 25)
/* Winograd F(4x4,3x3) convolution (AVX2, portable reference) */
#define CN_RT_WINOGRAD (UINT64_C(1) << 26)
#define CN_RT_NORM_GRAD_NEON (UINT64_C(1) << 27) /* BatchNormalization / softmax gradients (NEON) */
#define CN_RT_POOL_GRAD_NEON (UINT64_C(1) << 28) /* MaxPool / AveragePool gradients (NEON) */
#define CN_RT_POOL_AVX2 (UINT64_C(1) << 29) /* forward MaxPool / AveragePool / global pools (AVX2) */
#define CN_RT_POOL_NEON (UINT64_C(1) << 30) /* forward MaxPool / AveragePool / global pools (NEON) */
/* forward BatchNormalization (inference, training mode), Instance/LayerNormalization and the
 * channel affine map, each with its portable fallback */
#define CN_RT_NORM_AVX2 (UINT64_C(1) << 31)
#define CN_RT_NORM_NEON (UINT64_C(1) << 32)
/* Gather and Resize gradients, AVX2 and NEON forms (both headers; each is the references off its
 * ISA) */
#define CN_RT_SCATTER_GRAD_SIMD (UINT64_C(1) << 33)
/* forward Resize, AVX2 and NEON forms (both headers, as above) */
#define CN_RT_RESIZE_SIMD (UINT64_C(1) << 34)
/* convolution vectorised over output channels (AVX-512 / AVX2 tiles; the portable fallback
 * cnnrt_f32_conv_packed_mr_ref of cnnrt_gemm_neon.h reads the same 32-row panels) */
#define CN_RT_CONV_MVEC (UINT64_C(1) << 35)
/* pointwise and depthwise convolutions on the NCHW8c layout (compiler/passes/layout.c) */
#define CN_RT_NCHWC (UINT64_C(1) << 36)
void cn_emit_use(cn_emitter *e, cn_rt_set headers);

/* A forward kernel call in the form the target runs: on x86-64 cnnrt_f32_<fn>_avx2 under
 * `#if defined(__AVX2__) && defined(__FMA__)` with cnnrt_f32_<fn>_ref in the `#else`; on aarch64
 * and armv7 cnnrt_f32_<fn>_neon (its header falls back to the reference without NEON); on other
 * targets the reference. args: the reference's arguments; the SIMD forms take them too, then
 * `par` when with_par. avx2 / neon: the runtime headers of those forms. */
void cn_emit_simd_call(cn_emitter *e, cn_rt_set avx2, cn_rt_set neon, const char *fn,
                       const char *args, bool with_par);

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
