/* layout.c — layout assignment: which values live channel-blocked (NCHW8c, runtime/cnnrt_nchwc.h).
 *
 * Pointwise (1x1) and depthwise convolutions vectorise over channels. On NCHW tensors the
 * depthwise kernels spend most of their time transposing planes in and out, and the 1x1 GEMM
 * writes 16-pixel rows scattered over the output planes; on NCHW8c neither happens
 * (runtime/cnnrt_nchwc_avx2.h: 0.32-0.75x and 0.74-1.0x the time on MobileNet-v2's layers).
 * So on x86-64 a value is stored blocked when it flows only between such convolutions:
 *   - it is a float32 [n, c, h, w] run-time value with c a multiple of 8, not a graph output,
 *     not a gradient, not a view or an alias of another value;
 *   - its producer is a blockable pointwise or depthwise convolution (its only output);
 *   - every reader is a blockable convolution reading it as its input or as its residual.
 * A depthwise convolution runs blocked only with its input, output (and residual) blocked: its
 * blocked kernel does not convert. A pointwise convolution converts for free at a region's
 * edges: it packs plain or blocked input and stores plain or blocked output; its residual has
 * the layout of its output. The rules are applied until nothing changes (dropping a depthwise
 * convolution from the blocked set unblocks its neighbours' values). A pointwise convolution
 * with plain input and output keeps the NCHW GEMM.
 * Blockable: constant weights (and bias), act NONE / RELU / CLIP / SILU / HARD_SWISH, no --gemm
 * libxsmm claim, shapes as cnnrt_nchwc_pointwise_applies / cnnrt_nchwc_depthwise_applies say; a
 * fused input-channel scale (squeeze-excitation) only on a pointwise convolution, a fused
 * GlobalAveragePool (the second output, always plain: [n, c, 1, 1]) only on a depthwise one.
 * Inference only (the backward kernels read NCHW), and only for x86-64 (the AVX2 kernels; other
 * targets keep NCHW with their own kernels). */
#include <stdlib.h>

#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_nchwc.h"
#include "../../runtime/cnnrt_nchwc_avx2.h"
#include "../ops.h"
#include "passes.h"

enum { NODE_NO = 0, NODE_PW = 1, NODE_DW = 2 };

static bool const_or_absent(const cn_graph *g, const cn_node *n, int k) {
  if (!cn_has_input(n, k)) {
    return true;
  }
  const cn_value *v = &g->values[n->in[k]];
  return v->kind == CN_VALUE_CONST && v->data != NULL;
}

/* What a node can be: NODE_PW, NODE_DW or NODE_NO. */
static int node_kind(const cn_graph *g, const cn_node *n) {
  if (n->dead || n->op != CN_OP_CONV || n->variant == CN_CONV_XSMM || n->n_in < 1 || n->in[0] < 0 ||
      n->params == NULL || n->n_out < 1 || n->n_out > 2 || n->out[0] < 0 || !cn_has_input(n, 1) ||
      !const_or_absent(g, n, 1) || !const_or_absent(g, n, 2)) {
    return NODE_NO;
  }
  cnnrt_conv_params p = *(const cnnrt_conv_params *)n->params;
  p.act = n->act; /* the fused epilogue (fuse.c) */
  if (n->n_out == 1 && cnnrt_nchwc_pointwise_applies(&p)) {
    return NODE_PW; /* with or without a fused input scale */
  }
  /* a second output is a fused GlobalAveragePool (fuse.c: depthwise convolutions only) */
  return n->in_scale < 0 && cnnrt_nchwc_depthwise_applies(&p) ? NODE_DW : NODE_NO;
}

/* Whether value v could be blocked whatever its producer and readers are. */
static bool value_shape_ok(const cn_graph *g, int v) {
  const cn_value *val = &g->values[v];
  if (val->kind != CN_VALUE_TEMP || val->dtype != CNNRT_F32 || val->rank != 4 ||
      val->dims[1] % CNNRT_NCHWC_B != 0 || val->is_output || val->alias >= 0 || val->producer < 0) {
    return false;
  }
  for (int k = 0; k < g->n_grads; k++) {
    if (g->grads[k] == v) {
      return false;
    }
  }
  return true;
}

/* blocked[v] = shape_ok[v], v the main output of a blockable producer (not a fused pool's), and
 * every live reader a blockable convolution reading v as its input or its residual (not as its
 * input scale). */
static void mark_blocked(const cn_graph *g, const bool *shape_ok, const int *kind, bool *blocked) {
  for (int v = 0; v < g->n_values; v++) {
    const int prod = g->values[v].producer;
    blocked[v] = shape_ok[v] && kind[prod] != NODE_NO && g->nodes[prod].out[0] == v;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *m = &g->nodes[i];
    for (int k = 0; !m->dead && k < cn_node_n_reads(m); k++) {
      const int v = cn_node_read(m, k);
      const bool as_data = k == 0 || k == m->n_in; /* the input, or the residual */
      if (v >= 0 && (kind[i] == NODE_NO || !as_data)) {
        blocked[v] = false;
      }
    }
  }
}

bool cn_pass_layout(cn_graph *g, int max_threads, cn_diag *d) {
  (void)d;
  int *kind = calloc((size_t)g->n_nodes + 1, sizeof(int));
  bool *shape_ok = calloc((size_t)g->n_values + 1, sizeof(bool));
  bool *blocked = calloc((size_t)g->n_values + 1, sizeof(bool));
  CN_ASSERT(kind != NULL && shape_ok != NULL && blocked != NULL);
  for (int i = 0; i < g->n_nodes; i++) {
    kind[i] = node_kind(g, &g->nodes[i]);
  }
  for (int v = 0; v < g->n_values; v++) {
    shape_ok[v] = value_shape_ok(g, v);
  }
  for (bool changed = true; changed;) {
    changed = false;
    mark_blocked(g, shape_ok, kind, blocked);
    for (int i = 0; i < g->n_nodes; i++) {
      const cn_node *n = &g->nodes[i];
      if (kind[i] == NODE_NO) {
        continue;
      }
      const bool x = blocked[n->in[0]], y = blocked[n->out[0]];
      const bool r = n->residual >= 0 && blocked[n->residual];
      const bool ok =
          kind[i] == NODE_DW ? x && y && (n->residual < 0 || r) : n->residual < 0 || r == y;
      if (!ok) {
        kind[i] = NODE_NO;
        changed = true;
      }
    }
  }
  for (int v = 0; v < g->n_values; v++) {
    if (blocked[v]) {
      g->values[v].layout = CN_LAYOUT_NCHW8C;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    if (kind[i] == NODE_NO) { /* (other nodes may have no input 0 at all) */
      continue;
    }
    cn_node *n = &g->nodes[i];
    const bool x = blocked[n->in[0]], y = blocked[n->out[0]];
    if (!x && !y) {
      continue;
    }
    const cnnrt_conv_params *p = n->params;
    if (kind[i] == NODE_DW) {
      const int64_t taps = p->kernel[0] * p->kernel[1];
      const int id = cn_schedule_add_packed(g, n->in[1], "_nchw8c",
                                            cnnrt_f32_dw_nchwc_pack_bytes(p->c_in, taps));
      cnnrt_f32_dw_nchwc_pack(p->c_in, taps, g->values[n->in[1]].data, g->values[id].data);
      n = &g->nodes[i];
      n->in[1] = id;
      n->variant = CN_CONV_DW_NCHWC_AVX2;
      n->kernel = "f32_dwconv_nchw8c_avx2 (x, y NCHW8c)";
      n->scratch_bytes = 0;
      n->task_scratch_bytes = 0;
      continue;
    }
    const int id = cn_schedule_add_packed(g, n->in[1], "_nchw8c",
                                          cnnrt_f32_pw_nchwc_pack_bytes(p->c_out, p->c_in));
    cnnrt_f32_pw_nchwc_pack(p->c_out, p->c_in, g->values[n->in[1]].data, g->values[id].data);
    n = &g->nodes[i];
    n->in[1] = id;
    n->variant = CN_CONV_PW_NCHWC_AVX2;
    n->kernel = x && y ? "f32_pw_nchw8c_6x16_avx2 (x, y NCHW8c)"
                : x    ? "f32_pw_nchw8c_6x16_avx2 (x NCHW8c, y NCHW)"
                       : "f32_pw_nchw8c_6x16_avx2 (x NCHW, y NCHW8c)";
    cn_set_task_scratch(n, cnnrt_pw_nchwc_scratch_bytes(p), max_threads);
    cn_schedule_residual_in_place(g, i);
  }
  free(kind);
  free(shape_ok);
  free(blocked);
  return true;
}
