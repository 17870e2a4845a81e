/* passes.h — the graph passes, in the order compiler/pipeline.c runs them. Each takes the graph
 * and a diagnostic sink and returns false after reporting a user error. */
#ifndef CN_PASSES_H
#define CN_PASSES_H

#include "../ir.h"

/* Orders nodes so that producers come before consumers; reports cycles. */
bool cn_pass_toposort(cn_graph *g, cn_diag *d);
/* Shape inference in topological order, folding nodes whose inputs are all constants. */
bool cn_pass_infer(cn_graph *g, cn_diag *d);
/* Removes nodes (and constants) that no graph output depends on. */
bool cn_pass_dce(cn_graph *g, cn_diag *d);
/* Folds inference-mode BatchNormalization into a preceding Conv/ConvTranspose/Gemm's weights
 * and bias; turns the remaining ones into a per-channel affine op. */
bool cn_pass_fold_batchnorm(cn_graph *g, cn_diag *d);
/* Fuses activations (and residual adds) into the producing convolution or GEMM. */
bool cn_pass_fuse_epilogues(cn_graph *g, cn_diag *d);
/* Chooses each node's kernel for the target (0 = x86-64, see cn_target) and prepares its
 * operands, e.g. weights packed for the AVX2 GEMM; scratch is sized for max_threads tasks. */
bool cn_pass_schedule(cn_graph *g, int target, int max_threads, bool winograd, bool tune_avx512,
                      cn_diag *d);
/* Layout assignment (x86-64 inference): values flowing only between pointwise and depthwise
 * convolutions become channel-blocked (NCHW8c); those convolutions get the blocked kernels
 * (variants CN_CONV_PW_NCHWC_AVX2 / CN_CONV_DW_NCHWC_AVX2, weights packed), which
 * cn_pass_schedule then leaves alone. Runs after fusion, before cn_pass_schedule. */
bool cn_pass_layout(cn_graph *g, int max_threads, cn_diag *d);
/* Shared with the layout pass (schedule.c): a float constant of `bytes` named after value src
 * plus suffix (its id; g->values may move); the scratch of max_threads task regions of per_task
 * bytes (after other scratch of the node), or as the node's whole scratch; a residual
 * convolution's output placed in its residual's storage where safe. */
int cn_schedule_add_packed(cn_graph *g, int src, const char *suffix, int64_t bytes);
int64_t cn_task_scratch_bytes(int64_t per_task, int max_threads);
void cn_set_task_scratch(cn_node *n, int64_t per_task, int max_threads);
bool cn_schedule_residual_in_place(cn_graph *g, int i);
/* --gemm libxsmm: runs before cn_pass_schedule and claims the convolutions and Gemm nodes that
 * libxsmm runs (variant CN_CONV_XSMM / CN_GEMM_XSMM, which cn_pass_schedule then leaves alone).
 * A target other than x86-64 is a user error. */
bool cn_pass_schedule_xsmm(cn_graph *g, int target, int max_threads, cn_diag *d);
/* Concat elimination: the inputs of a Concat become slices of its output (value.alias with
 * alias_offset), written in place by their producers, where the layout allows. */
bool cn_pass_concat_in_place(cn_graph *g, cn_diag *d);
/* Liveness-based static memory plan: arena offsets for every run-time value. */
bool cn_pass_memplan(cn_graph *g, cn_diag *d);

#endif
