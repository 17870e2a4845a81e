/* schedule.c — picks the kernel of every node for the target and prepares what it reads.
 *
 * On aarch64 and ARMv7 (schedule_arm), 2-D group-1 convolutions run as the NEON packed GEMM
 * (weights re-laid out here into cn_neon_gemm_mr(target)-row panels; the portable fallback
 * cnnrt_f32_conv_packed_mr_ref reads the same layout) and depthwise convolutions use the NEON
 * depthwise kernel. cortex-m and generic keep the portable reference kernels (no packing: the
 * reference reads the weights as given, and flash holds one copy).
 *
 * On x86-64, 2-D group-1 convolutions run as a packed GEMM (weights re-laid out here, once, into
 * the 6-row panels the AVX2 microkernel reads; the portable fallback reads the same layout) and
 * depthwise convolutions use the AVX2 depthwise kernel; those with at most 4 input channels (an
 * image network's first layer) use the direct kernel of cnnrt_conv_direct_avx2.h on the same
 * packed weights. The packed layout serves two tiles: the
 * AVX2 6x16 tile, and where the generated code is built with AVX-512 (__AVX512F__, e.g.
 * -march=native on Zen 4/5 or Skylake-SP and later) a 12x32 tile over two adjacent panels of each
 * operand; measured on Zen 5 it runs the ResNet convolutions 1.6-2x faster than the AVX2 tile.
 * Every choice is guarded in the generated
 * code by the ISA macros, so a build without AVX2 still compiles and runs the portable kernels.
 * The choice is recorded in node->kernel and shown by --dump. */
#include <stdlib.h>
#include <string.h>

#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_conv_direct_avx2.h"
#include "../../runtime/cnnrt_conv_grad_avx2.h"
#include "../../runtime/cnnrt_conv_grad_neon.h"
#include "../../runtime/cnnrt_conv_mvec.h"
#include "../../runtime/cnnrt_gemm_avx2.h"
#include "../../runtime/cnnrt_gemm_neon.h"
#define CNNRT_XSMM_SIZES_ONLY /* sizes only: the compiler does not link libxsmm */
#include "../../runtime/cnnrt_xsmm.h"
#include "../../runtime/cnnrt_winograd.h"
#include "../ops.h"
#include "passes.h"

/* Adds a float constant named after value `src` plus `suffix` (made unique), of shape `dims`,
 * with its data allocated for the caller to fill, and returns its id. Adding a value may move
 * g->values: callers re-read pointers into it afterwards. */
static int add_packed_const(cn_graph *g, int src, const char *suffix, int rank, const int64_t *dims) {
  char *name = cn_fmt("%s%s", g->values[src].name, suffix);
  char *unique = cn_unique_name(g, name);
  int id = cn_value_add(g, unique);
  free(name);
  free(unique);
  cn_value *packed = &g->values[id];
  packed->kind = CN_VALUE_CONST;
  packed->dtype = CNNRT_F32;
  cn_value_set_shape(packed, rank, dims);
  cn_value_alloc_data(packed);
  return id;
}

/* The one-dimensional form: `bytes` of floats. */
int cn_schedule_add_packed(cn_graph *g, int src, const char *suffix, int64_t bytes) {
  const int64_t elems = bytes / (int64_t)sizeof(float);
  return add_packed_const(g, src, suffix, 1, &elems);
}

/* Makes `packed` the node's fourth input (inputs 2 and 3 absent become -1): the ConvTranspose
 * GEMM kernels read W^T there, while the portable fallback still reads the original W. */
static void append_packed_input(cn_node *n, int packed) {
  int *in = cn_malloc(sizeof(int) * 4);
  for (int k = 0; k < 3; k++) {
    in[k] = k < n->n_in ? n->in[k] : -1;
  }
  in[3] = packed;
  free(n->in);
  n->in = in;
  n->n_in = 4;
}

/* Scratch of a layer split into tasks: one region per task (at most max_threads), each rounded
 * up to 64 bytes so that every region starts on a cache line. */
int64_t cn_task_scratch_bytes(int64_t per_task, int max_threads) {
  return (per_task + 63) / 64 * 64 * (max_threads > 1 ? max_threads : 1);
}

/* The node's scratch is just its task regions: the memory plan may move them (memplan.c). */
void cn_set_task_scratch(cn_node *n, int64_t per_task, int max_threads) {
  n->scratch_bytes = cn_task_scratch_bytes(per_task, max_threads);
  n->task_scratch_bytes = cn_task_scratch_bytes(per_task, 1); /* one region */
}

/* Replaces the weight input of a group-1 2-D convolution by its 6-row panel form (AVX2). */
static void pack_conv_weights(cn_graph *g, cn_node *n) {
  const cnnrt_conv_params *p = n->params;
  int64_t m = p->c_out, k = p->c_in * p->kernel[0] * p->kernel[1];
  int id = cn_schedule_add_packed(g, n->in[1], "_packed", cnnrt_f32_pack_a_mr6_bytes(m, k));
  cnnrt_f32_pack_a_mr6(m, k, g->values[n->in[1]].data, g->values[id].data);
  n->in[1] = id;
}

/* Replaces the weight input of a group-1 2-D convolution by its mr-row panel form (NEON). */
static void pack_conv_weights_mr(cn_graph *g, cn_node *n, int64_t mr) {
  const cnnrt_conv_params *p = n->params;
  int64_t m = p->c_out, k = p->c_in * p->kernel[0] * p->kernel[1];
  char *suffix = cn_fmt("_packed%lld", (long long)mr);
  int id = cn_schedule_add_packed(g, n->in[1], suffix, cnnrt_f32_pack_a_mr_bytes(m, k, mr));
  free(suffix);
  cnnrt_f32_pack_a_mr(m, k, mr, g->values[n->in[1]].data, g->values[id].data);
  n->in[1] = id;
}

/* Winograd F(4x4,3x3) for an x86 3x3 stride-1 group-1 convolution with constant weights, where
 * bench/kernels/bench_winograd_avx2.c measured it faster than the packed GEMM (Zen 5, one
 * thread, direct-equivalent GFLOP/s, built with -march=native, i.e. the GEMM's AVX-512 tiles):
 * 1.24-1.35x on ResNet's 56 and 28 pixel layers, 2.0-2.2x on U-Net's 64 and 32 pixel layers;
 * slower on SqueezeNet's few-channel layers (16->64 at 55 px 0.93x, 32->128 at 27 px 0.97x),
 * with 16 tiles (14 and 13 pixel images, 0.86x) and on 7x7 images (0.23x: 4 tiles, the GEMMs
 * get 4 columns). So: at least 32 tiles and at least 64 channels in and out.
 * Tuned for AVX2 only (tune_avx512 false; Zen 3, 103 GFLOP/s peak, bench_winograd_avx2.c
 * against the direct GEMM with its loads kept in registers): 56 and 28 pixels 1.57-1.83x,
 * 14 pixels (16 tiles) 256->256 1.22x, but SqueezeNet's 13 pixels 64->256 0.79x and 7 pixels
 * 0.48x; so there also 16 tiles when both channel counts are at least 128. In the generated
 * ResNet-50 (one binary holding both schedules, per-layer thread CPU time, alternating) its
 * 14 x 14 3x3 layers ran 0.87-0.97x the time of the output-channel kernel's.
 * The weights are replaced by their 36 transformed, packed matrices (4x the floats of the 3x3
 * kernel). Returns whether it chose Winograd. */
static bool schedule_x86_winograd(cn_graph *g, int i, int max_threads, bool tune_avx512) {
  cn_node *n = &g->nodes[i];
  const cnnrt_conv_params *p = n->params;
  const cn_value *w = cn_in(g, n, 1);
  if (!cnnrt_winograd43_applies(p) || w->kind != CN_VALUE_CONST || !w->data) {
    return false;
  }
  const int64_t tiles = p->n * cnnrt_winograd43_tile_rows(p) * cnnrt_winograd43_tile_cols(p);
  const bool wide = p->c_in >= 128 && p->c_out >= 128 && !tune_avx512;
  if (tiles < (wide ? 16 : 32) || p->c_in < 64 || p->c_out < 64) {
    return false;
  }
  int id = cn_schedule_add_packed(g, n->in[1], "_winograd43",
                                  cnnrt_f32_winograd43_weights_bytes(p->c_out, p->c_in));
  cnnrt_f32_winograd43_pack_weights(p->c_out, p->c_in, g->values[n->in[1]].data,
                                    g->values[id].data);
  n = &g->nodes[i];
  n->in[1] = id;
  n->variant = CN_CONV_WINOGRAD_AVX2;
  n->kernel = "f32_conv_winograd43_avx2 (F(4x4,3x3), 36 GEMMs 12x32_avx512|6x16_avx2)";
  const int64_t tb = cnnrt_winograd43_tile_block(p);
  cn_set_task_scratch(n, cnnrt_f32_conv_winograd43_scratch_bytes(p, tb), max_threads);
  return true;
}

/* Thresholds of the output-channel-vectorised kernel (schedule_x86_mvec): at most this many
 * output pixels per image, at least this depth K = c_in * kh * kw: CN_MVEC_MIN_K in general,
 * smaller ones where they were measured: CN_MVEC_MIN_K_7X7 on planes of 36..49 pixels (6x6,
 * 7x7), CN_MVEC_MIN_K_14X14 on planes of 144..196 pixels (12x12 .. 14x14). Measured with
 * bench/kernels/bench_conv_mvec_avx2.c
 * (docs/runtime.md; medians of 9 alternating rounds, mvec / packed GEMM): with the vector
 * epilogue, 7x7 planes: 1x1 K = 160 (160->960 + clip) 1.11-1.17x, K = 192 (192->1152 + SiLU)
 * 1.04-1.21x, K = 320 (320->1280 + clip) 1.05-1.19x; 13x13 / 14x14: K = 384 (384->64 / 96)
 * 1.13-1.41x (384->48, a half-empty second panel, 0.98-1.02x), K = 256 (256->1024, 256->48)
 * 0.94-1.04x, K = 240 / 112 / 96 / 64 0.93-1.06x, 3x3 48->192 (K = 432, SqueezeNet)
 * 1.17-1.19x; every ResNet 7x7 / 14x14 layer with
 * K >= 512 faster (earlier: at K = 128 on 28 px 0.62-0.75x). In the generated ResNet-50
 * (layer_profile --cputime, K >= 384 / K >= 256 builds alternating, 3 + 2 rounds in both
 * orders) ResNet-50's six 1x1 256->1024 + residual + ReLU at 14x14 ran ~1.09x faster on this
 * kernel than on the GEMM (the residual is cheap in its epilogue), hence K >= 256 there.
 * Kernels larger than 1x1 (K >= CN_MVEC_MIN_K) take it up to CN_MVEC_MAX_PLANE_KXK pixels,
 * since its padded copy of the image is made row by row (memcpy) rather than per element:
 * 3x3 stride 2 on 56 x 56 (resnet50 layer2.0 conv2 128->128, resnet18 layer2.0 conv1 64->128),
 * mvec / GEMM (bench/kernels/bench_conv_mvec_tasks_avx2.c), 1 task 1.18-1.20x / 1.17-1.19x,
 * 2 tasks (critical path in thread CPU time)
 * 1.14-1.15x / 1.11-1.14x (three runs of 21-31 alternating rounds; with the per-element copy,
 * which every task makes, 1.07x / 1.08x and 0.92x / 0.99x). The 1x1 layers at 28 x 28 stay
 * on the GEMM: 512->128 1.04-1.06x with 1 task but 0.92-0.96x with 2, 512->256 0.98-1.00x /
 * 0.93x. */
#ifndef CN_MVEC_MAX_PLANE
#define CN_MVEC_MAX_PLANE 196
#endif
#ifndef CN_MVEC_MAX_PLANE_KXK
#define CN_MVEC_MAX_PLANE_KXK 784
#endif
#ifndef CN_MVEC_MIN_K
#define CN_MVEC_MIN_K 512
#endif
#ifndef CN_MVEC_MIN_K_7X7
#define CN_MVEC_MIN_K_7X7 160
#endif
#ifndef CN_MVEC_MIN_K_14X14
#define CN_MVEC_MIN_K_14X14 256
#endif

/* The output-channel-vectorised convolution (runtime/cnnrt_conv_mvec.h) for an x86 group-1 2-D
 * convolution with constant weights, a small output plane and a large K, where the packed
 * GEMM's pixel-wide tiles are mostly empty (see the header). Weights re-laid out into 32-row
 * panels. Returns whether it chose it.
 * Only for AVX-512 CPUs (tune_avx512): its AVX2 form (16 channels x 6 pixels) ran 0.52-0.98x
 * as fast as the packed GEMM on every layer of bench_conv_mvec_avx2.c on Zen 3 (AVX2 only),
 * the 7x7 and 14x14 layers of ResNet-50, MobileNetV2, EfficientNet-B0 and SqueezeNet included;
 * in the generated ResNet-50 its layers ran 1.00-1.24x the GEMM's time. */
static bool schedule_x86_mvec(cn_graph *g, int i, int max_threads, bool tune_avx512) {
  cn_node *n = &g->nodes[i];
  const cnnrt_conv_params *p = n->params;
  const cn_value *w = cn_in(g, n, 1);
  if (!tune_avx512 || p->spatial != 2 || p->group != 1 || w->kind != CN_VALUE_CONST || !w->data) {
    return false;
  }
  const int64_t k = p->c_in * p->kernel[0] * p->kernel[1];
  const cnnrt_mvec_geom mg = cnnrt_mvec_make_geom(p);
  const int64_t span = p->c_in * (mg.padded ? mg.rows * mg.cols : p->in[0] * p->in[1]);
  const int64_t plane = p->out[0] * p->out[1];
  const int64_t min_k = plane >= 36 && plane <= 49     ? CN_MVEC_MIN_K_7X7
                        : plane >= 144 && plane <= 196 ? CN_MVEC_MIN_K_14X14
                                                       : CN_MVEC_MIN_K;
  /* (Planes past CN_MVEC_MAX_PLANE need k >= CN_MVEC_MIN_K through min_k.) */
  const int64_t max_plane =
      p->kernel[0] * p->kernel[1] > 1 ? CN_MVEC_MAX_PLANE_KXK : CN_MVEC_MAX_PLANE;
  if (plane > max_plane || k < min_k || span >= INT32_MAX) {
    return false;
  }
  pack_conv_weights_mr(g, n, CNNRT_CONV_MVEC_MR);
  n = &g->nodes[i];
  n->variant = CN_CONV_MVEC_AVX512;
  n->kernel = "f32_conv_mvec_32x14_avx512|16x6_avx2 (lanes over output channels)";
  cn_set_task_scratch(n, cnnrt_f32_conv_mvec_scratch_bytes(n->params), max_threads);
  return true;
}

/* The ARM targets' choice for one convolution (aarch64, armv7: NEON with portable fallbacks). */
static void schedule_arm_conv(cn_graph *g, int i, int target, int max_threads) {
  cn_node *n = &g->nodes[i];
  const cnnrt_conv_params *p = n->params;
  const cn_value *w = cn_in(g, n, 1);
  const bool known = w->kind == CN_VALUE_CONST && w->data;
  if (p->spatial != 2) {
    return;
  }
  if (p->group == 1 && !known) {
    /* Run-time weights: packed by the generated code into the front of the scratch, in front
     * of the per-task regions (one pass over the weights, small next to the convolution). */
    const int64_t mr = cn_neon_gemm_mr(target);
    const int64_t packed =
        (cnnrt_f32_pack_a_mr_bytes(p->c_out, p->c_in * p->kernel[0] * p->kernel[1], mr) + 63) /
        64 * 64;
    n->variant = CN_CONV_GEMM_NEON_PACK;
    n->kernel = target == 1 ? "f32_conv_gemm_8x12_neon (weights packed at run time)"
                            : "f32_conv_gemm_4x8_neon (weights packed at run time)";
    n->scratch_bytes =
        packed + cn_task_scratch_bytes(cnnrt_f32_conv_gemm_neon_scratch_bytes(p), max_threads);
    return;
  }
  if (p->group == 1) {
    pack_conv_weights_mr(g, n, cn_neon_gemm_mr(target));
    n = &g->nodes[i];
    n->variant = CN_CONV_GEMM_NEON;
    n->kernel = target == 1 ? "f32_conv_gemm_8x12_neon" : "f32_conv_gemm_4x8_neon";
    /* One scratch region per task; regions stay 64-byte aligned. */
    cn_set_task_scratch(n, cnnrt_f32_conv_gemm_neon_scratch_bytes(n->params), max_threads);
  } else if (p->group == p->c_in && p->group == p->c_out) {
    n->variant = CN_CONV_DW_NEON;
    n->kernel = "f32_dwconv2d_neon";
  } else if (known && cnnrt_conv_grouped_gemm_applies(p)) {
    /* Grouped: one NEON packed GEMM per group, weights packed here group after group in the
     * target's panel height; tasks split the (image, group, pixel) range. The same rule as
     * x86 (cnnrt_conv_grouped_gemm_applies: at least 3 channels per group in and out; not
     * measured on an ARM core). */
    const int64_t mr = cn_neon_gemm_mr(target);
    int id = cn_schedule_add_packed(g, n->in[1], "_packed",
                                    cnnrt_f32_conv_grouped_pack_mr_bytes(p, mr));
    cnnrt_f32_conv_grouped_pack_mr(p, g->values[n->in[1]].data, mr, g->values[id].data);
    n = &g->nodes[i];
    n->in[1] = id;
    n->variant = CN_CONV_GROUPED_NEON;
    n->kernel = target == 1 ? "f32_conv_grouped_gemm_8x12_neon (one GEMM per group)"
                            : "f32_conv_grouped_gemm_4x8_neon (one GEMM per group)";
    cn_set_task_scratch(n, cnnrt_f32_conv_grouped_neon_scratch_bytes(n->params), max_threads);
  }
}

/* The ARM targets' ConvTranspose (group 1 or grouped but not depthwise, a convolution's data
 * gradient or a decoder's upsampling): GEMM on the NEON packed kernels + col2im, once per group
 * (cnnrt_conv_grad_neon.h). Constant weights: W^T packed here in the target's panel height,
 * group after group, appended as a fourth input (the portable fallback reads the original W).
 * Run-time weights (a train step's parameters): W^T packed into the front of the node's scratch
 * by the generated code. */
static void schedule_arm_conv_transpose(cn_graph *g, int i, int target, int max_threads) {
  cn_node *n = &g->nodes[i];
  const cnnrt_conv_params *p = n->params;
  const int64_t mr = cn_neon_gemm_mr(target);
  const int64_t tasks = max_threads > 1 ? max_threads : 1;
  const int64_t work = cnnrt_f32_conv_transpose_neon_shared_bytes(p) +
                       cnnrt_f32_conv_transpose_neon_task_bytes(p) * tasks;
  const char *kernel =
      target == 1 ? "f32_conv_transpose_gemm_8x12_neon" : "f32_conv_transpose_gemm_4x8_neon";
  if (cn_in(g, n, 1)->kind != CN_VALUE_CONST || !cn_in(g, n, 1)->data) {
    n->variant = 4;
    n->kernel = target == 1 ? "f32_conv_transpose_gemm_8x12_neon (weights packed at run time)"
                            : "f32_conv_transpose_gemm_4x8_neon (weights packed at run time)";
    n->scratch_bytes = (cnnrt_f32_conv_transpose_pack_mr_bytes(p, mr) + 63) / 64 * 64 + work;
    return;
  }
  int id = cn_schedule_add_packed(g, n->in[1], "_packed_t",
                                  cnnrt_f32_conv_transpose_pack_mr_bytes(p, mr));
  cnnrt_f32_conv_transpose_pack_mr(p, g->values[n->in[1]].data, mr, g->values[id].data);
  append_packed_input(n, id);
  n->variant = 3;
  n->kernel = kernel;
  n->scratch_bytes = work;
}

#ifndef CNNCC_RESIDUAL_IN_PLACE
#define CNNCC_RESIDUAL_IN_PLACE 1
#endif

/* The residual add of packed-GEMM convolution i in place: when node i is the last reader of
 * its residual's storage, the output takes that storage over (the output value becomes an alias
 * of the residual, memplan gives both one buffer). The GEMM reads each residual element before
 * it writes that element of y (cnnrt_gemm_avx2.h; so does the portable fallback
 * cnnrt_f32_conv_packed_ref), so y == residual is allowed. This is what ONNX Runtime's fused
 * Conv + Sum does: the output lines are already in the cache, read for the residual, instead of
 * being fetched again for writing into a second buffer (write-allocate), and the layer touches
 * one plane-sized buffer fewer. Measured (resnet50, bench/layer_profile.py --cputime, runs of
 * the model with and without it alternating, each layer's ratio divided by that round's median
 * ratio over the GEMM layers it does not change; two rounds, loaded machine): the 1x1 +residual
 * layers at 56 x 56 0.61-0.82x CPU time, at 28 x 28 0.65-0.86x, at 14 x 14 0.90-1.05x;
 * mobilenet_v2's projections +residual (24..64 channels) 0.83-1.12x, i.e. no change. Alone, with
 * the planes coming from memory (bench/kernels/bench_conv_big_avx2.c), 1.0-1.13x faster. A third
 * round gave 0.71-0.73x / 0.72-0.82x at 56 / 28 but 0.97-1.16x at 14 x 14: hence only planes of
 * at least CN_RESIDUAL_IN_PLACE_MIN_PLANE output pixels. */
#ifndef CN_RESIDUAL_IN_PLACE_MIN_PLANE
#define CN_RESIDUAL_IN_PLACE_MIN_PLANE (28 * 28)
#endif
bool cn_schedule_residual_in_place(cn_graph *g, int i) {
  const cn_node *n = &g->nodes[i];
  if (n->residual < 0 || n->n_out != 1 || n->out[0] < 0) {
    return false;
  }
  const cnnrt_conv_params *p = n->params;
  if (p->out[0] * p->out[1] * p->out[2] < CN_RESIDUAL_IN_PLACE_MIN_PLANE) {
    return false;
  }
  cn_value *y = &g->values[n->out[0]];
  const int r = cn_storage_root(g, n->residual);
  const cn_value *rv = &g->values[r];
  if (y->kind != CN_VALUE_TEMP || y->alias >= 0 || y->is_output || rv->kind != CN_VALUE_TEMP ||
      rv->is_output || cn_value_bytes(rv) != cn_value_bytes(y) || n->out[0] == r) {
    return false;
  }
  for (int k = 0; k < n->n_in; k++) { /* y must not alias the input (or the weights) */
    if (n->in[k] >= 0 && cn_storage_root(g, n->in[k]) == r) {
      return false;
    }
  }
  if (n->in_scale >= 0 && cn_storage_root(g, n->in_scale) == r) {
    return false;
  }
  for (int j = i + 1; j < g->n_nodes; j++) { /* nobody reads the residual after node i */
    const cn_node *m = &g->nodes[j];
    if (m->dead) {
      continue;
    }
    for (int k = 0; k < cn_node_n_reads(m); k++) {
      const int v = cn_node_read(m, k);
      if (v >= 0 && cn_storage_root(g, v) == r) {
        return false;
      }
    }
  }
  for (int k = 0; k < g->n_outputs; k++) {
    if (cn_storage_root(g, g->outputs[k]) == r) {
      return false;
    }
  }
  for (int k = 0; k < g->n_grads; k++) {
    if (g->grads[k] >= 0 && cn_storage_root(g, g->grads[k]) == r) {
      return false;
    }
  }
  y->alias = r;
  return true;
}

bool cn_pass_schedule(cn_graph *g, int target, int max_threads, bool winograd, bool tune_avx512,
                      cn_diag *d) {
  (void)d;
  bool x86 = target == 0; /* CN_TARGET_X86_64 */
  bool arm_simd = target == 1 || target == 2; /* CN_TARGET_AARCH64, CN_TARGET_ARMV7 */
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (!n->dead && n->op == CN_OP_CONV_GRAD_FILTER) {
      /* A convolution's filter gradient (autodiff): the packed AVX2 GEMM for group 1 and, once
       * per group, for grouped convolutions (depthwise ones: cnnrt_f32_dwconv_grad_filter_avx2,
       * chosen at emit; scratch sized for one group). */
      const cnnrt_conv_params *p = n->params;
      n->kernel = "f32_conv_grad_filter_ref";
      if (x86 && !cnnrt_conv_is_depthwise(p)) {
        n->variant = 1;
        n->kernel = "f32_conv_grad_filter_gemm_avx2";
        n->scratch_bytes = cnnrt_f32_conv_grad_filter_avx2_shared_bytes(p) +
                           cnnrt_f32_conv_grad_filter_avx2_task_bytes(p) *
                               (max_threads > 1 ? max_threads : 1);
      } else if (arm_simd && cnnrt_conv_is_depthwise(p)) {
        /* Rows of each channel vectorised, channels over the threads; no scratch (emit). */
        n->kernel = "f32_dwconv_grad_filter_neon";
      } else if (arm_simd) {
        /* The NEON packed GEMM (cnnrt_conv_grad_neon.h), once per group for grouped
         * convolutions (scratch sized for one group); dy packed at run time. */
        n->variant = 2;
        n->kernel = target == 1 ? "f32_conv_grad_filter_gemm_8x12_neon"
                                : "f32_conv_grad_filter_gemm_4x8_neon";
        n->scratch_bytes = cnnrt_f32_conv_grad_filter_neon_shared_bytes(p) +
                           cnnrt_f32_conv_grad_filter_neon_task_bytes(p) *
                               (max_threads > 1 ? max_threads : 1);
      }
      continue;
    }
    /* ARM ConvTranspose, group 1 or grouped (one GEMM + col2im per group); depthwise ones have
     * their own kernel (conv.c). */
    if (!n->dead && n->op == CN_OP_CONV_TRANSPOSE && arm_simd &&
        !cnnrt_conv_is_depthwise(n->params) && n->act == CNNRT_ACT_NONE) {
      schedule_arm_conv_transpose(g, i, target, max_threads);
      continue;
    }
    /* x86 ConvTranspose, group 1 or grouped (one GEMM + col2im per group); depthwise ones have
     * their own kernel (conv.c). */
    if (!n->dead && n->op == CN_OP_CONV_TRANSPOSE && x86 &&
        !cnnrt_conv_is_depthwise(n->params) && n->act == CNNRT_ACT_NONE &&
        cn_in(g, n, 1)->kind != CN_VALUE_CONST) {
      /* Weights known only at run time (a train step's parameters): W^T is packed into the
       * front of the node's scratch by the generated code, then the same GEMM + col2im. */
      const cnnrt_conv_params *p = n->params;
      n->variant = 2;
      n->kernel = "f32_conv_transpose_gemm_avx2 (weights packed at run time)";
      n->scratch_bytes = (cnnrt_f32_conv_transpose_pack_bytes(p) + 63) / 64 * 64 +
                         cnnrt_f32_conv_transpose_avx2_shared_bytes(p) +
                         cnnrt_f32_conv_transpose_avx2_task_bytes(p) *
                             (max_threads > 1 ? max_threads : 1);
      continue;
    }
    if (!n->dead && n->op == CN_OP_CONV_TRANSPOSE && x86 &&
        !cnnrt_conv_is_depthwise(n->params) && cn_in(g, n, 1)->kind == CN_VALUE_CONST &&
        cn_in(g, n, 1)->data && n->act == CNNRT_ACT_NONE) {
      /* (A convolution's data gradient, or a decoder's upsampling.) GEMM with W^T packed here,
       * appended as a fourth input, then col2im; the portable fallback reads the original W. */
      const cnnrt_conv_params *p = n->params;
      int id = cn_schedule_add_packed(g, n->in[1], "_packed_t",
                                      cnnrt_f32_conv_transpose_pack_bytes(p));
      cnnrt_f32_conv_transpose_pack(p, g->values[n->in[1]].data, g->values[id].data);
      append_packed_input(n, id);
      n->variant = 1;
      n->kernel = "f32_conv_transpose_gemm_avx2";
      n->scratch_bytes = cnnrt_f32_conv_transpose_avx2_shared_bytes(p) +
                         cnnrt_f32_conv_transpose_avx2_task_bytes(p) *
                             (max_threads > 1 ? max_threads : 1);
      continue;
    }
    if (n->dead || n->op != CN_OP_CONV || n->variant == CN_CONV_XSMM ||
        n->variant == CN_CONV_PW_NCHWC_AVX2 || n->variant == CN_CONV_DW_NCHWC_AVX2) {
      continue; /* claimed by --gemm libxsmm or by the layout pass */
    }
    if (arm_simd) {
      n->variant = CN_CONV_REF;
      n->kernel = "f32_conv_ref";
      schedule_arm_conv(g, i, target, max_threads);
      continue;
    }
    const cnnrt_conv_params *p = n->params;
    const cn_value *w = cn_in(g, n, 1);
    n->variant = CN_CONV_REF;
    n->kernel = "f32_conv_ref";
    if (x86 && p->spatial == 2 && p->group == 1 && w->kind != CN_VALUE_CONST) {
      /* Run-time weights (e.g. parameters being trained): packed at run time into scratch, in
       * front of the GEMM's per-task regions. Packing costs one pass over the weights, small
       * next to the convolution. */
      n->variant = CN_CONV_GEMM_AVX2_PACK;
      n->kernel = "f32_conv_gemm_6x16_avx2 (weights packed at run time)";
      int64_t packed = (cnnrt_f32_pack_a_mr6_bytes(p->c_out, p->c_in * p->kernel[0] * p->kernel[1]) +
                        63) / 64 * 64;
      n->scratch_bytes =
          packed +
          cn_task_scratch_bytes(cnnrt_f32_conv_gemm_avx2_scratch_bytes(n->params), max_threads);
      continue;
    }
    if (!x86 || p->spatial != 2 || w->kind != CN_VALUE_CONST || !w->data) {
      continue;
    }
    /* A fused input scale (fuse.c) is taken by the GEMM kernels only. */
    if (p->group == 1 && winograd && n->in_scale < 0 &&
        schedule_x86_winograd(g, i, max_threads, tune_avx512)) {
      continue;
    }
    if (n->in_scale < 0 && schedule_x86_mvec(g, i, max_threads, tune_avx512)) {
      continue;
    }
    if (cnnrt_conv_direct_applies(p) && n->in_scale < 0) {
      /* At most 4 input channels (the 3-channel stems): the GEMM's depth would be only
       * c_in * kh * kw and the im2col of the strided input costs as much as the multiply;
       * bench/kernels/bench_stem_avx2.c measured the direct kernel 1.4-1.6x faster on the
       * ResNet, MobileNetV2, SqueezeNet and EfficientNet stems (Zen 5, -march=native). Same
       * packed weights as the GEMM. */
      pack_conv_weights(g, n);
      n = &g->nodes[i];
      n->variant = CN_CONV_DIRECT_AVX2;
      n->kernel = "f32_conv_direct_12x32_avx512|6x16_avx2 (c_in <= 4)";
      cn_set_task_scratch(n, cnnrt_f32_conv_direct_avx2_scratch_bytes(n->params), max_threads);
    } else if (p->group == 1) {
      pack_conv_weights(g, n);
      n = &g->nodes[i]; /* (values may have moved; nodes did not, but keep it obvious) */
      n->variant = CN_CONV_GEMM_AVX2;
      /* The runtime splits the tasks by the same rule; --dump shows its choice for
       * --max-threads tasks (a run with fewer threads may choose the pixel split). */
      n->kernel = cnnrt_conv_gemm_split_channels(n->params, max_threads)
                      ? "f32_conv_gemm_12x32_avx512|6x16_avx2 (tasks split output channels)"
                      : "f32_conv_gemm_12x32_avx512|6x16_avx2";
      /* One scratch region per task; regions stay 64-byte aligned. */
      cn_set_task_scratch(n, cnnrt_f32_conv_gemm_avx2_scratch_bytes(n->params), max_threads);
      if (CNNCC_RESIDUAL_IN_PLACE && cn_schedule_residual_in_place(g, i)) {
        n->kernel = cnnrt_conv_gemm_split_channels(n->params, max_threads)
                        ? "f32_conv_gemm_12x32_avx512|6x16_avx2 (tasks split output channels, "
                          "residual in place)"
                        : "f32_conv_gemm_12x32_avx512|6x16_avx2 (residual in place)";
      }
    } else if (p->group == p->c_in && p->group == p->c_out) {
      n->variant = CN_CONV_DW_AVX2;
      n->kernel = "f32_dwconv2d_avx2";
    } else if (cnnrt_conv_grouped_gemm_applies(p)) {
      /* Grouped (ResNeXt's 32 groups of 4..32 channels, RegNet's 16-channel groups): one
       * packed GEMM per group on that group's channels, weights packed here group after group;
       * tasks split the (image, group, pixel) range. Groups of 1 or 2 channels (a depthwise
       * layer with a channel multiplier) keep the reference, faster there (cnnrt_conv.h). */
      const int64_t bytes = cnnrt_f32_conv_grouped_pack_mr6_bytes(p);
      int id = cn_schedule_add_packed(g, n->in[1], "_packed", bytes);
      cnnrt_f32_conv_grouped_pack_mr6(p, g->values[n->in[1]].data, g->values[id].data);
      n = &g->nodes[i];
      n->in[1] = id;
      n->variant = CN_CONV_GROUPED_AVX2;
      n->kernel = "f32_conv_grouped_gemm_12x32_avx512|6x16_avx2 (one GEMM per group)";
      cn_set_task_scratch(n, cnnrt_f32_conv_grouped_avx2_scratch_bytes(n->params), max_threads);
    }
  }
  return true;
}

/* --gemm libxsmm ---------------------------------------------------------------------------- */

/* Replaces the constant B [n, k] of a Gemm with transB = 1 by its transpose [k, n] and clears
 * transB: libxsmm 1.17 JIT-compiles only non-transposed operands (runtime/cnnrt_xsmm.h); the
 * portable fallback reads the same transposed B with transB = 0. */
static void transpose_gemm_b(cn_graph *g, cn_node *n) {
  cnnrt_gemm_params *p = n->params;
  const int64_t dims[2] = {p->k, p->n};
  int id = add_packed_const(g, n->in[1], "_t", 2, dims);
  const float *src = g->values[n->in[1]].data;
  float *dst = g->values[id].data;
  for (int64_t j = 0; j < p->n; j++) {
    for (int64_t kk = 0; kk < p->k; kk++) {
      dst[kk * p->n + j] = src[j * p->k + kk];
    }
  }
  n->in[1] = id;
  p->trans_b = 0;
}

bool cn_pass_schedule_xsmm(cn_graph *g, int target, int max_threads, cn_diag *d) {
  static const char *const target_names[] = {"x86-64", "aarch64", "armv7", "cortex-m", "generic"};
  if (target != 0) { /* CN_TARGET_X86_64 */
    cn_error(d, "--gemm libxsmm needs --target x86-64: libxsmm generates x86 code only "
                "(got --target %s; use --gemm own)",
             target > 0 && target < 5 ? target_names[target] : "?");
    return false;
  }
  const int64_t max_tasks = max_threads > 1 ? max_threads : 1;
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    if (n->op == CN_OP_CONV) {
      const cnnrt_conv_params *p = n->params;
      const cn_value *w = cn_in(g, n, 1);
      (void)w; /* read as given: constant or known at run time alike */
      if (p->spatial != 2 || p->group != 1 || n->in_scale >= 0) {
        continue; /* depthwise, grouped, 1-D/3-D, fused input scale: cnncc's own kernels */
      }
      n->variant = CN_CONV_XSMM;
      n->kernel = cnnrt_xsmm_conv_pointwise(p) ? "libxsmm_smm 16xNBxKC (1x1: input read in place)"
                                               : "libxsmm_smm 16xNBxKC on im2col panels";
      n->scratch_bytes = cnnrt_xsmm_conv_task_bytes(p) * max_tasks;
    } else if (n->op == CN_OP_GEMM) {
      cnnrt_gemm_params *p = n->params;
      const cn_value *b = cn_in(g, n, 1);
      if (p->k <= 0 || p->m <= 0 || p->n <= 0) {
        continue;
      }
      if (p->trans_b && b->kind == CN_VALUE_CONST && b->data && b->rank == 2) {
        transpose_gemm_b(g, n);
        n = &g->nodes[i];
      }
      n->variant = CN_GEMM_XSMM;
      n->kernel = "libxsmm_smm 64x16xK";
      /* Operands still transposed (known at run time) are transposed into scratch first. */
      n->scratch_bytes = (p->trans_a ? (p->m * p->k * 4 + 63) / 64 * 64 : 0) +
                         (p->trans_b ? p->k * p->n * 4 : 0);
      if (p->trans_a || p->trans_b) {
        n->kernel = "libxsmm_smm 64x16xK (operands transposed at run time)";
      }
    }
  }
  return true;
}
