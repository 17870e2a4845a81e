/* bn_fold.c — inference-mode BatchNormalization costs nothing: y = x * s + t with
 * s = scale / sqrt(var + eps) and t = B - mean * s per channel. When x comes from a Conv,
 * ConvTranspose or Gemm that nothing else reads, s and t are folded into its weights and bias;
 * otherwise the node becomes a per-channel affine op with precomputed s and t. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "passes.h"

static int consumers(const cn_graph *g, int v) {
  int count = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    for (int k = 0; k < cn_node_n_reads(n); k++) {
      count += cn_node_read(n, k) == v;
    }
  }
  return count;
}

/* A new constant float value of the given shape; returns its index. */
static int new_const(cn_graph *g, const char *base, int rank, const int64_t *dims) {
  char *name = cn_unique_name(g, base);
  int id = cn_value_add(g, name);
  free(name);
  cn_value *v = &g->values[id];
  v->kind = CN_VALUE_CONST;
  v->dtype = CNNRT_F32;
  cn_value_set_shape(v, rank, dims);
  cn_value_alloc_data(v);
  return id;
}

static bool bn_is_foldable(cn_graph *g, const cn_node *bn) {
  if (bn->n_in != 5 || bn->out[0] < 0) {
    return false;
  }
  for (int i = 1; i < 5; i++) {
    const cn_value *v = cn_in(g, bn, i);
    if (!v || v->kind != CN_VALUE_CONST || v->dtype != CNNRT_F32) {
      return false;
    }
  }
  for (int o = 1; o < bn->n_out; o++) { /* training outputs must be unused */
    if (bn->out[o] >= 0 && consumers(g, bn->out[o]) > 0) {
      return false;
    }
    if (bn->out[o] >= 0 && g->values[bn->out[o]].is_output) {
      return false;
    }
  }
  return cn_attr_int(bn, "training_mode", 0) == 0;
}

/* Folds s, t into the producer when possible. `s`, `t` have C entries. */
static bool fold_into_producer(cn_graph *g, int bn_index, const float *s, const float *t) {
  cn_node *bn = &g->nodes[bn_index];
  int x = bn->in[0];
  int pi = g->values[x].producer;
  if (pi < 0 || g->values[x].is_output || consumers(g, x) != 1) {
    return false;
  }
  cn_node *p = &g->nodes[pi];
  if (p->dead || p->act != CNNRT_ACT_NONE || p->residual >= 0) {
    return false;
  }
  if (p->op != CN_OP_CONV && p->op != CN_OP_CONV_TRANSPOSE && p->op != CN_OP_GEMM) {
    return false;
  }
  const cn_value *w = cn_in(g, p, 1);
  const cn_value *b = cn_in(g, p, 2);
  if (w->kind != CN_VALUE_CONST || (b && b->kind != CN_VALUE_CONST)) {
    return false;
  }
  const cn_value *y = &g->values[x];
  int64_t channels = y->dims[1];
  if (y->rank < 2 || cn_value_numel(cn_in(g, bn, 1)) != channels) {
    return false;
  }
  if (p->op == CN_OP_GEMM) {
    /* y = alpha*op(A)op(B) + beta*C; fold into B's columns and a full-row C. */
    if (b && !(b->rank <= 1 || (b->rank == 2 && b->dims[0] == 1))) {
      return false;
    }
  }
  int wid = new_const(g, "bnfold_w", w->rank, w->dims);
  int64_t cdim = channels;
  int bid = new_const(g, "bnfold_b", 1, &cdim);
  /* Pointers only after both additions: cn_value_add may move g->values. */
  w = cn_in(g, &g->nodes[pi], 1);
  b = cn_in(g, &g->nodes[pi], 2);
  p = &g->nodes[pi];
  const float *wsrc = w->data;
  float *wdst = g->values[wid].data;
  float *bdst = g->values[bid].data;
  int64_t wn = cn_value_numel(w);
  if (p->op == CN_OP_CONV) {
    int64_t per_oc = wn / w->dims[0];
    for (int64_t i = 0; i < wn; i++) {
      wdst[i] = wsrc[i] * s[i / per_oc];
    }
  } else if (p->op == CN_OP_CONV_TRANSPOSE) {
    int64_t group = cn_attr_int(p, "group", 1);
    int64_t ocg = w->dims[1], icg = w->dims[0] / group;
    int64_t per = wn / (w->dims[0] * w->dims[1]);
    for (int64_t i = 0; i < wn; i++) {
      int64_t ic = i / (ocg * per), oc_in = (i / per) % ocg;
      wdst[i] = wsrc[i] * s[(ic / icg) * ocg + oc_in];
    }
  } else {
    bool trans_b = cn_attr_int(p, "transB", 0) != 0;
    int64_t cols = w->dims[1];
    for (int64_t i = 0; i < wn; i++) {
      wdst[i] = wsrc[i] * s[trans_b ? i / cols : i % cols];
    }
  }
  for (int64_t c = 0; c < channels; c++) {
    float bias = 0.0f;
    if (b) {
      bias = ((const float *)b->data)[cn_value_numel(b) == 1 ? 0 : c];
    }
    if (p->op == CN_OP_GEMM) {
      bias *= cn_attr_float(p, "beta", 1.0f);
    }
    bdst[c] = bias * s[c] + t[c];
  }
  if (p->op == CN_OP_GEMM) {
    /* The new C is already scaled by beta: beta becomes 1 (the params are re-resolved below). */
    for (int a = 0; a < p->n_attrs; a++) {
      if (strcmp(p->attrs[a].name, "beta") == 0) {
        p->attrs[a].type = CN_ATTR_FLOAT;
        p->attrs[a].f = 1.0f;
      }
    }
  }
  p->in[1] = wid;
  if (p->n_in < 3) {
    p->in = cn_realloc(p->in, sizeof(int) * 3);
    p->n_in = 3;
  }
  p->in[2] = bid;
  /* The producer now writes the BN's output directly. */
  int yid = bn->out[0];
  p->out[0] = yid;
  g->values[yid].producer = pi;
  bn->dead = true;
  cn_diag quiet;
  cn_diag_init(&quiet, NULL);
  quiet.quiet = true;
  bool ok = cn_op_infer(g, p, &quiet);
  CN_ASSERT(ok); /* the producer's shapes are unchanged */
  return true;
}

bool cn_pass_fold_batchnorm(cn_graph *g, cn_diag *d) {
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *bn = &g->nodes[i];
    if (bn->dead || bn->op != CN_OP_BATCH_NORM || !bn_is_foldable(g, bn)) {
      continue;
    }
    const cn_value *scale = cn_in(g, bn, 1), *bias = cn_in(g, bn, 2), *mean = cn_in(g, bn, 3),
                   *var = cn_in(g, bn, 4);
    int64_t c = cn_value_numel(scale);
    float eps = cn_attr_float(bn, "epsilon", 1e-5f);
    float *s = cn_malloc(sizeof(float) * (size_t)(c + 1));
    float *t = cn_malloc(sizeof(float) * (size_t)(c + 1));
    for (int64_t k = 0; k < c; k++) {
      float sd = sqrtf(((const float *)var->data)[k] + eps);
      s[k] = ((const float *)scale->data)[k] / sd;
      t[k] = ((const float *)bias->data)[k] - ((const float *)mean->data)[k] * s[k];
    }
    if (!fold_into_producer(g, i, s, t)) {
      /* Stand-alone: a channel affine op with inputs (x, s, t). */
      int64_t cdim = c;
      int sid = new_const(g, "bn_scale", 1, &cdim);
      int tid = new_const(g, "bn_shift", 1, &cdim);
      bn = &g->nodes[i];
      memcpy(g->values[sid].data, s, sizeof(float) * (size_t)c);
      memcpy(g->values[tid].data, t, sizeof(float) * (size_t)c);
      bn->op = CN_OP_CHANNEL_AFFINE;
      bn->in[1] = sid;
      bn->in[2] = tid;
      bn->n_in = 3;
      bn->n_out = 1;
      if (!cn_op_infer(g, bn, d)) {
        free(s);
        free(t);
        return false;
      }
    }
    free(s);
    free(t);
  }
  return !cn_diag_failed(d);
}
