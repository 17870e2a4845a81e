/* fuse.c — epilogue fusion: a residual Add and an activation that follow a Conv (or an
 * activation after a Gemm / ConvTranspose) are applied by the producing kernel before it stores
 * its output, saving a full pass over the tensor each. Prologue fusion: a squeeze-excitation
 * channel scale (Mul of x [N, C, H, W] by s [N, C, 1, 1]) is applied by the pointwise Conv that
 * reads the product, where it packs its input. A GlobalAveragePool of a depthwise Conv's output
 * is computed by the depthwise kernel as a second output. */
#include <string.h>

#include "../../runtime/cnnrt_conv.h"
#include "../ops.h"
#include "passes.h"

typedef struct use {
  int count;
  int node; /* the single consumer, when count == 1 */
} use;

static use uses_of(const cn_graph *g, int v) {
  use u = {0, -1};
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    for (int k = 0; k < cn_node_n_reads(n); k++) {
      if (cn_node_read(n, k) == v) {
        u.count++;
        u.node = i;
      }
    }
  }
  return u;
}

/* The activation a node computes, if it is one we can fuse. */
static bool activation_of(cn_graph *g, const cn_node *n, int *act, float *alpha, float *beta) {
  *alpha = 0.0f;
  *beta = 0.0f;
  switch (n->op) {
  case CN_OP_RELU: *act = CNNRT_ACT_RELU; return true;
  case CN_OP_LEAKY_RELU:
    *act = CNNRT_ACT_LEAKY_RELU;
    *alpha = cn_attr_float(n, "alpha", 0.01f);
    return true;
  case CN_OP_SIGMOID: *act = CNNRT_ACT_SIGMOID; return true;
  case CN_OP_TANH: *act = CNNRT_ACT_TANH; return true;
  case CN_OP_HARD_SWISH: *act = CNNRT_ACT_HARD_SWISH; return true;
  case CN_OP_HARD_SIGMOID:
    *act = CNNRT_ACT_HARD_SIGMOID;
    *alpha = cn_attr_float(n, "alpha", 0.2f);
    *beta = cn_attr_float(n, "beta", 0.5f);
    return true;
  case CN_OP_CLIP: {
    float lo = -INFINITY, hi = INFINITY;
    if (n->opset < 11) {
      lo = cn_attr_float(n, "min", -INFINITY);
      hi = cn_attr_float(n, "max", INFINITY);
    } else {
      for (int k = 1; k < 3; k++) {
        const cn_value *v = cn_in(g, n, k);
        if (v && (v->kind != CN_VALUE_CONST || v->dtype != CNNRT_F32)) {
          return false;
        }
        if (v) {
          float f = ((const float *)v->data)[0];
          if (k == 1) {
            lo = f;
          } else {
            hi = f;
          }
        }
      }
    }
    *act = CNNRT_ACT_CLIP;
    *alpha = lo;
    *beta = hi;
    return true;
  }
  default:
    return false;
  }
}

/* If the single consumer of node p's output is op `want`-like, returns its index, else -1. */
static int sole_consumer(cn_graph *g, int pi) {
  const cn_node *p = &g->nodes[pi];
  int y = p->out[0];
  if (y < 0 || g->values[y].is_output) {
    return -1;
  }
  use u = uses_of(g, y);
  /* Forward and backward nodes run in different functions: never fuse across. */
  return u.count == 1 && g->nodes[u.node].backward == p->backward ? u.node : -1;
}

static void take_output(cn_graph *g, int pi, int ci) {
  cn_node *p = &g->nodes[pi];
  cn_node *c = &g->nodes[ci];
  p->out[0] = c->out[0];
  g->values[c->out[0]].producer = pi;
  c->dead = true;
}

/* SiLU as exporters write it, y * Sigmoid(y): when a producer's output y feeds exactly a
 * Sigmoid s and a Mul(y, s), and s feeds only that Mul, returns the Mul's index, else -1. */
static int silu_of(cn_graph *g, int pi) {
  int y = g->nodes[pi].out[0];
  if (y < 0 || g->values[y].is_output || uses_of(g, y).count != 2) {
    return -1;
  }
  for (int si = 0; si < g->n_nodes; si++) {
    const cn_node *sg = &g->nodes[si];
    if (sg->dead || sg->op != CN_OP_SIGMOID || sg->in[0] != y || sg->out[0] < 0 ||
        g->values[sg->out[0]].is_output) {
      continue;
    }
    use su = uses_of(g, sg->out[0]);
    if (su.count != 1) {
      return -1;
    }
    const cn_node *mul = &g->nodes[su.node];
    bool pair = mul->op == CN_OP_MUL && mul->n_in == 2 &&
                ((mul->in[0] == y && mul->in[1] == sg->out[0]) ||
                 (mul->in[1] == y && mul->in[0] == sg->out[0]));
    if (!pair || !cn_value_shape_eq(&g->values[mul->out[0]], &g->values[y])) {
      return -1;
    }
    g->nodes[si].dead = true; /* the Sigmoid goes; the caller takes the Mul's output */
    return su.node;
  }
  return -1;
}

/* A conv the input-scale prologue applies to: 2-D, group 1, 1x1 kernel, stride 1, no padding
 * (its GEMM reads x itself as B, runtime/cnnrt_gemm_avx2.h), more than one pixel (the 1-pixel
 * GEMV reads x directly) and a kernel that takes a scale (schedule.c keeps it off the others). */
static bool takes_input_scale(const cn_graph *g, const cn_node *c) {
  if (c->op != CN_OP_CONV || c->in_scale >= 0 || c->n_out != 1 || !c->params) {
    return false;
  }
  const cnnrt_conv_params *p = c->params;
  if (p->spatial != 2 || p->group != 1 || p->in[0] * p->in[1] < 2) {
    return false;
  }
  for (int i = 0; i < 2; i++) {
    if (p->kernel[i] != 1 || p->stride[i] != 1 || p->dilation[i] != 1 || p->pad_begin[i] != 0 ||
        p->out[i] != p->in[i]) {
      return false;
    }
  }
  return g->values[c->out[0]].dtype == CNNRT_F32;
}

/* Squeeze-excitation's y = Mul(x, s) (either order), x [N, C, H, W] and s [N, C, 1, 1], read
 * only as the data input of a pointwise Conv: the Conv reads x and scales each input channel as
 * it packs it (float(x * s), the very product the Mul formed: results are bit-identical), so
 * y's pass over memory and its buffer disappear. */
static void fuse_input_scales(cn_graph *g) {
  for (int mi = 0; mi < g->n_nodes; mi++) {
    const cn_node *mul = &g->nodes[mi];
    if (mul->dead || mul->op != CN_OP_MUL || mul->n_in != 2 || mul->n_out != 1 ||
        mul->in[0] < 0 || mul->in[1] < 0) {
      continue;
    }
    const int y = mul->out[0];
    const cn_value *yv = &g->values[y];
    if (y < 0 || yv->is_output || yv->dtype != CNNRT_F32 || yv->rank != 4) {
      continue;
    }
    int x = -1, s = -1;
    for (int k = 0; k < 2; k++) {
      const cn_value *a = &g->values[mul->in[k]], *b = &g->values[mul->in[1 - k]];
      if (a->dtype == CNNRT_F32 && b->dtype == CNNRT_F32 && a->rank == 4 && b->rank == 4 &&
          cn_value_shape_eq(a, yv) && b->dims[0] == yv->dims[0] && b->dims[1] == yv->dims[1] &&
          b->dims[2] == 1 && b->dims[3] == 1 && yv->dims[2] * yv->dims[3] > 1) {
        x = mul->in[k];
        s = mul->in[1 - k];
        break;
      }
    }
    if (x < 0 || g->values[x].layout != CN_LAYOUT_PLAIN || g->values[s].layout != CN_LAYOUT_PLAIN) {
      continue;
    }
    use u = uses_of(g, y);
    if (u.count != 1 || g->nodes[u.node].backward != mul->backward) {
      continue;
    }
    cn_node *c = &g->nodes[u.node];
    if (c->in[0] != y || c->in[1] == y || (cn_has_input(c, 2) && c->in[2] == y) ||
        c->residual == y || !takes_input_scale(g, c)) {
      continue;
    }
    c->in[0] = x;
    c->in_scale = s;
    g->nodes[mi].dead = true;
  }
}

/* GlobalAveragePool of a depthwise Conv's output: the depthwise task reduces each chunk of
 * planes right after writing it (while it is in L1/L2), with the function the standalone pool
 * calls, so the pooled values are bit-identical. The pooled tensor becomes the Conv's second
 * output and the pool node goes. Forward-only graphs: the backward code (--grad, --train) keeps
 * the graph node for node. */
static void fuse_pools_into_depthwise(cn_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].backward) {
      return;
    }
  }
  for (int gi = 0; gi < g->n_nodes; gi++) {
    cn_node *gap = &g->nodes[gi];
    if (gap->dead || gap->op != CN_OP_GLOBAL_AVERAGE_POOL || gap->n_in != 1 || gap->n_out != 1 ||
        gap->in[0] < 0 || gap->out[0] < 0) {
      continue;
    }
    const int x = gap->in[0], pooled = gap->out[0];
    const cn_value *xv = &g->values[x], *pv = &g->values[pooled];
    const int pi = xv->producer;
    if (pi < 0 || xv->dtype != CNNRT_F32 || pv->dtype != CNNRT_F32 || xv->rank != 4 ||
        xv->layout != CN_LAYOUT_PLAIN || pv->layout != CN_LAYOUT_PLAIN) {
      continue;
    }
    cn_node *c = &g->nodes[pi];
    if (c->dead || c->op != CN_OP_CONV || c->n_out != 1 || c->out[0] != x || !c->params) {
      continue;
    }
    const cnnrt_conv_params *p = c->params;
    if (p->spatial != 2 || p->group != p->c_in || p->group != p->c_out) {
      continue;
    }
    c->out = cn_realloc(c->out, 2 * sizeof(int));
    c->out[1] = pooled;
    c->n_out = 2;
    g->values[pooled].producer = pi;
    gap->dead = true;
  }
}

bool cn_pass_fuse_epilogues(cn_graph *g, cn_diag *d) {
  (void)d;
  fuse_input_scales(g);
  for (int pi = 0; pi < g->n_nodes; pi++) {
    cn_node *p = &g->nodes[pi];
    if (p->dead || (p->op != CN_OP_CONV && p->op != CN_OP_CONV_TRANSPOSE && p->op != CN_OP_GEMM)) {
      continue;
    }
    if (g->values[p->out[0]].dtype != CNNRT_F32) {
      continue;
    }
    /* Residual add (Conv only): Add(y, z) or Add(z, y) with z the same shape, computed earlier. */
    int ci = sole_consumer(g, pi);
    if (ci >= 0 && p->op == CN_OP_CONV && g->nodes[ci].op == CN_OP_ADD &&
        g->nodes[ci].n_in == 2 && p->act == CNNRT_ACT_NONE) {
      cn_node *add = &g->nodes[ci];
      int y = p->out[0];
      int z = add->in[0] == y ? add->in[1] : add->in[0];
      const cn_value *zv = &g->values[z];
      bool ready = zv->producer < pi; /* inputs/consts have producer -1 */
      if (z != y && ready && zv->dtype == CNNRT_F32 && cn_value_shape_eq(zv, &g->values[y]) &&
          cn_value_shape_eq(&g->values[add->out[0]], &g->values[y])) {
        p->residual = z;
        take_output(g, pi, ci);
      }
    }
    p = &g->nodes[pi];
    if (p->act == CNNRT_ACT_NONE) {
      int mi = silu_of(g, pi);
      if (mi >= 0) {
        p->act = CNNRT_ACT_SILU;
        take_output(g, pi, mi);
        continue;
      }
    }
    ci = sole_consumer(g, pi);
    p = &g->nodes[pi];
    int act;
    float alpha, beta;
    if (ci >= 0 && p->act == CNNRT_ACT_NONE && activation_of(g, &g->nodes[ci], &act, &alpha, &beta) &&
        g->nodes[ci].n_out == 1 && g->values[g->nodes[ci].out[0]].dtype == CNNRT_F32) {
      p->act = act;
      p->act_alpha = alpha;
      p->act_beta = beta;
      take_output(g, pi, ci);
    }
  }
  fuse_pools_into_depthwise(g); /* after the activations: the pool reads the activated output */
  return true;
}
