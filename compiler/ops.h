/* ops.h — the interface every op family implements (compiler/ops/<family>.c plus
 * codegen/emit_<family>.c), and helpers the families share.
 *
 *   infer: check inputs and attributes, set each output's dtype and shape, and resolve the
 *          node's kernel parameters into n->params. Reports user errors through `d`.
 *   eval:  compute the outputs at compile time (constant folding) when every input is a
 *          constant; returns false when the family does not fold this node. Calls the same
 *          runtime kernels as the generated code, with the same params.
 *   emit:  write the C statements that run the node (codegen/emit.h). */
#ifndef CN_OPS_H
#define CN_OPS_H

#include "ir.h"

struct cn_emitter;

/* Multiply-adds (or window taps) below which a node's emitted code does not split its work
 * across the threads of the parallel hook: a region's hand-off and join cost a few
 * microseconds, as much as ~64K multiply-adds on one core. */
#define CN_PARALLEL_MIN_WORK (1 << 16)

#define OP_FAMILY(family)                                                                          \
  bool cn_infer_##family(cn_graph *g, cn_node *n, cn_diag *d);                                     \
  bool cn_eval_##family(cn_graph *g, cn_node *n);                                                  \
  void cn_emit_##family(struct cn_emitter *e, cn_graph *g, cn_node *n);
OP_FAMILY(conv)
OP_FAMILY(pool)
OP_FAMILY(norm)
OP_FAMILY(unary)
OP_FAMILY(binary)
OP_FAMILY(gemm)
OP_FAMILY(reduce)
OP_FAMILY(resize)
OP_FAMILY(view)
OP_FAMILY(tensor)
OP_FAMILY(constant)
OP_FAMILY(grad)
#undef OP_FAMILY

/* Convolution kernels the schedule pass chooses among (node->variant of Conv nodes). */
enum cn_conv_variant {
  CN_CONV_REF = 0,
  CN_CONV_GEMM_AVX2,
  CN_CONV_DW_AVX2,
  /* the same GEMM for weights known only at run time (a train step's parameters): the
   * generated code packs them into the node's scratch first */
  CN_CONV_GEMM_AVX2_PACK,
  /* 3x3 stride-1 layers by Winograd F(4x4,3x3) (runtime/cnnrt_winograd.h): weights transformed
   * and packed at build time (schedule.c, schedule_x86_winograd) */
  CN_CONV_WINOGRAD_AVX2,
  /* few input channels (an image network's first layer): direct convolution reading an
   * implicit im2col (runtime/cnnrt_conv_direct_avx2.h); weights in the GEMM's 6-row panels */
  CN_CONV_DIRECT_AVX2,
  /* grouped, not depthwise (ResNeXt, RegNet): one packed GEMM per group, each group's weights
   * in their own 6-row panels (runtime/cnnrt_gemm_avx2.h, cnnrt_f32_conv_grouped_pack_mr6) */
  CN_CONV_GROUPED_AVX2,
  /* small output planes with a large K (ResNet's 7x7 / 14x14 layers): vectorised over output
   * channels, tiles of 32 channels x up to 14 pixels (runtime/cnnrt_conv_mvec.h); weights in
   * 32-row panels (cnnrt_f32_pack_a_mr), chosen by schedule.c's schedule_x86_mvec */
  CN_CONV_MVEC_AVX512,
  /* pointwise / depthwise convolutions reading or writing channel-blocked NCHW8c values
   * (compiler/passes/layout.c, runtime/cnnrt_nchwc_avx2.h); weights in the blocked kernels'
   * panels, the portable fallback (runtime/cnnrt_nchwc.h) reads the same */
  CN_CONV_PW_NCHWC_AVX2,
  CN_CONV_DW_NCHWC_AVX2,
  /* ARM targets (schedule.c, schedule_arm): weights packed in cn_neon_gemm_mr(target)-row
   * panels for runtime/cnnrt_gemm_neon.h; depthwise in runtime/cnnrt_dwconv_neon.h */
  CN_CONV_GEMM_NEON = 16,
  CN_CONV_DW_NEON,
  /* the NEON GEMM for run-time weights (a train step's parameters, a data gradient's filter
   * input): the generated code packs them into the front of the node's scratch */
  CN_CONV_GEMM_NEON_PACK,
  /* grouped, not depthwise: one NEON packed GEMM per group, each group's weights in their own
   * mr-row panels (runtime/cnnrt_gemm_neon.h, cnnrt_f32_conv_grouped_pack_mr) */
  CN_CONV_GROUPED_NEON,
  /* --gemm libxsmm (schedule.c, cn_pass_schedule_xsmm): group-1 2-D convolutions on libxsmm's
   * JIT kernels, weights as ONNX gives them (runtime/cnnrt_xsmm.h) */
  CN_CONV_XSMM = 32
};

/* Gemm kernels (node->variant of Gemm nodes): 0 the portable/GEMV kernels, or --gemm libxsmm. */
enum cn_gemm_variant { CN_GEMM_OWN = 0, CN_GEMM_XSMM = 1 };

/* Row panel height of the NEON GEMM's packed weights: 8 for aarch64 (the 8x12 microkernel, 32
 * q-registers), 4 for ARMv7 (the 4x8 microkernel, 16 q-registers). `target` is a cn_target. */
static inline int cn_neon_gemm_mr(int target) { return target == 1 /* CN_TARGET_AARCH64 */ ? 8 : 4; }

bool cn_op_infer(cn_graph *g, cn_node *n, cn_diag *d);
bool cn_op_eval(cn_graph *g, cn_node *n);
void cn_op_emit(struct cn_emitter *e, cn_graph *g, cn_node *n);

/* Resolved Slice / Pad geometry (compiler/ops/tensor.c), for the autodiff pass. */
struct cnnrt_slice_params;
struct cnnrt_pad_params;
const struct cnnrt_slice_params *cn_tensor_slice_params(const cn_node *n);
const struct cnnrt_pad_params *cn_tensor_pad_params(const cn_node *n);

/* --- helpers for op families --- */

/* Checks the input/output counts; reports and returns false when they are off. */
bool cn_check_arity(cn_diag *d, const cn_node *n, int min_in, int max_in, int min_out,
                    int max_out);
/* Requires input i to be present with a known shape. */
bool cn_require_input(cn_diag *d, cn_graph *g, const cn_node *n, int i, const char *what);
/* Requires input i to be a compile-time constant (shape-like inputs). */
bool cn_require_const(cn_diag *d, cn_graph *g, const cn_node *n, int i, const char *what);
/* Sets output i's dtype and shape, checking the element count against the global limits. */
bool cn_set_output(cn_diag *d, cn_graph *g, const cn_node *n, int i, cn_dtype dtype, int rank,
                   const int64_t *dims);
/* Normalises a possibly negative axis against `rank`; reports out-of-range axes. */
bool cn_norm_axis(cn_diag *d, const cn_node *n, int64_t axis, int rank, int *out);
/* Reads an int64 list from a constant input (e.g. Reshape's shape) into vals (cap entries). */
int cn_const_ints(cn_graph *g, const cn_node *n, int i, int64_t *vals, int cap);
/* Number of elements of a shape. */
int64_t cn_numel(int rank, const int64_t *dims);
/* Allocates the node's params struct (zeroed) of `size` bytes. */
void *cn_node_params(cn_node *n, size_t size);
/* Allocates the data of every output of a node being folded. */
void cn_fold_outputs(cn_graph *g, cn_node *n);

#endif
