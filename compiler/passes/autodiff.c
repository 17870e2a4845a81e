/* autodiff.c — reverse-mode differentiation as a graph-to-graph pass (see autodiff.h).
 *
 * Walks the forward nodes from last to first. Each node whose outputs carry a gradient gets its
 * gradient rule applied: the rule appends ordinary IR nodes computing the gradients of the
 * node's inputs, which are summed (Add) into the gradient of each input value. Only values on a
 * path from a requested value to a root are differentiated (a convolution whose input needs no
 * gradient, e.g. the first layer under --train, builds no data-gradient node).
 *
 * The rules, per op family, reuse forward ops wherever one computes the gradient:
 *   Conv            dx = ConvTranspose(dy, W) (same strides/dilations/groups, pads making the
 *                   output x's size), dW = conv_grad_filter(x, W, dy), dB = ReduceSum(dy)
 *   ConvTranspose   dx = Conv(dy, W), dW = conv_grad_filter(dy, W, x), dB = ReduceSum(dy)
 *   Gemm / MatMul   Gemm / MatMul with transposed operands, broadcast dims summed away
 *   pools           max_pool_grad, average_pool_grad, global_max_pool_grad; GlobalAveragePool
 *                   as Mul + Expand
 *   BatchNorm       batch_norm_grad (inference: an affine map of all five inputs) or
 *                   batch_norm_train_grad (batch statistics)
 *   activations     act_grad (from x or from y, whichever is exact and cheap), Neg
 *   Softmax & co.   softmax_grad, log_softmax_grad
 *   Add/Sub/Mul/Div/Pow/Sum/Mean with broadcasting: elementwise ops, then ReduceSum + Reshape
 *                   back to each operand's shape (Pow's exponent: y ln(a) dy, PyTorch's masks)
 *   Clip            act_grad for constant bounds; Where masks (torch.clamp's) for run-time or
 *                   differentiated bounds, which get the summed dy where they were taken
 *   views           Reshape back to the input's shape; Transpose by the inverse permutation
 *   Concat/Split    Slice / Concat;  Slice: Pad;  Expand: ReduceSum
 *   ReduceSum/Mean  Reshape + Expand (+ Mul by 1/count)
 *   Instance/LayerNorm  instance_norm_grad, layer_norm_grad;  Resize/Upsample: resize_grad
 *                   (roi/scales are sampling parameters: no gradient, as in PyTorch)
 *   PRelu, Where    Where of the upstream gradient (Greater for PRelu's mask)
 *   Min/Max         Where(input == result) sharing dy evenly among ties (PyTorch's maximum)
 *   ReduceMax/Min   the same per reduced window (PyTorch's amax); ReduceL1/L2/SumSquare/
 *                   LogSum/LogSumExp by their closed forms, ReduceProd by counting zeros per
 *                   window (the product of the others), then Expand
 *   MatMul (1-D)    the operand promoted to a row/column, dy given the unit axis back
 *   Tile            dy viewed as [r0, d0, r1, d1, ...], ReduceSum over the r's
 *   strided Slice   reversed (negative steps), each element padded by step-1 zeros, Pad
 *   Pad             constant: a Slice; per axis, reflect/edge: the centre plus the border regions
 *                   mirrored back / summed onto the edge (numpy's long reflect: periods folded),
 *                   wrap: whole periods summed; then a zero Pad puts back what negative pads
 *                   cropped
 *   LpPool          |x|^(p-2) x times AveragePool's adjoint of dy y^(1-p) (Expand if global)
 *   Depth/SpaceToDepth  Reshape, Transpose by the inverse permutation, Reshape
 *   LRN             closed form with channel-window sums (AveragePool over [N, 1, C, rest])
 *   Gather          gather_grad: dy scatter-added into zeros of x's shape (repeated indices
 *                   add up); the indices get no gradient
 * Integer and shape ops carry no gradient. */
#include "autodiff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/cnnrt_act_grad.h"
#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_pool.h"
#include "../../runtime/cnnrt_reduce.h"
#include "../../runtime/cnnrt_tensor.h"
#include "../ops.h"
#include "passes.h"

typedef struct ad {
  cn_graph *g;
  cn_diag *d;
  int n_fwd_values; /* values that existed before the pass: the only ones with gradients */
  int *grad;        /* per forward value: its gradient so far, -1 for none */
  bool *need;       /* per forward value: lies on a path from a requested value */
  int cur;          /* forward node whose rule is running (names, messages) */
  int counter;
  bool ok;
} ad;

/* ---------------------------------------------------------------------------------------------
 * Building nodes.
 * ------------------------------------------------------------------------------------------- */

static cn_node *fwd_node(ad *a) { return &a->g->nodes[a->cur]; }

static int new_value(ad *a, const char *base) {
  char *name = cn_fmt("%s_grad%d", base, a->counter++);
  char *unique = cn_unique_name(a->g, name);
  int v = cn_value_add(a->g, unique);
  free(name);
  free(unique);
  return v;
}

static void add_attr(cn_node *n, const char *name, cn_attr_type type) {
  n->attrs = realloc(n->attrs, sizeof(cn_attr) * (size_t)(n->n_attrs + 1));
  CN_ASSERT(n->attrs);
  cn_attr *at = &n->attrs[n->n_attrs++];
  memset(at, 0, sizeof *at);
  at->name = cn_strdup(name);
  at->type = type;
}

static void attr_int(ad *a, int node, const char *name, int64_t v) {
  cn_node *n = &a->g->nodes[node];
  add_attr(n, name, CN_ATTR_INT);
  n->attrs[n->n_attrs - 1].i = v;
}

static void attr_float(ad *a, int node, const char *name, float v) {
  cn_node *n = &a->g->nodes[node];
  add_attr(n, name, CN_ATTR_FLOAT);
  n->attrs[n->n_attrs - 1].f = v;
}

static void attr_ints(ad *a, int node, const char *name, const int64_t *v, int count) {
  cn_node *n = &a->g->nodes[node];
  add_attr(n, name, CN_ATTR_INTS);
  cn_attr *at = &n->attrs[n->n_attrs - 1];
  at->n = count;
  at->ints = cn_malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
  memcpy(at->ints, v, sizeof(int64_t) * (size_t)count);
}

/* Copies the forward node's attributes (those `keep` accepts, or all when keep is NULL). */
static void copy_attrs(ad *a, int node, const cn_node *src) {
  for (int i = 0; i < src->n_attrs; i++) {
    const cn_attr *s = &src->attrs[i];
    cn_node *n = &a->g->nodes[node];
    add_attr(n, s->name, s->type);
    cn_attr *at = &n->attrs[n->n_attrs - 1];
    at->f = s->f;
    at->i = s->i;
    at->n = s->n;
    at->s = s->s ? cn_strdup(s->s) : NULL;
    if (s->ints) {
      at->ints = cn_malloc(sizeof(int64_t) * (size_t)(s->n > 0 ? s->n : 1));
      memcpy(at->ints, s->ints, sizeof(int64_t) * (size_t)s->n);
    }
    if (s->floats) {
      at->floats = cn_malloc(sizeof(float) * (size_t)(s->n > 0 ? s->n : 1));
      memcpy(at->floats, s->floats, sizeof(float) * (size_t)s->n);
    }
    CN_ASSERT(s->t == NULL); /* no tensor attributes on differentiable ops */
  }
}

/* Adds a backward node with n_out fresh outputs (written to outs when not NULL); returns its
 * index. Attributes are added by the caller, then finish() infers the shapes. */
static int begin_node(ad *a, cn_op op, int opset, const int *in, int n_in, int n_out, int *outs) {
  const char *base = a->g->nodes[a->cur].name;
  const char *vbase = a->g->values[a->g->nodes[a->cur].out[0]].name;
  int out[8];
  CN_ASSERT(n_out <= 8);
  for (int i = 0; i < n_out; i++) {
    out[i] = new_value(a, vbase);
  }
  char *name = cn_fmt("%s/grad/%s%d", base && *base ? base : "node", cn_op_name(op),
                      a->counter++);
  const char *op_type = cn_op_onnx_name(op)[0] ? cn_op_onnx_name(op) : cn_op_name(op);
  int id = cn_node_add(a->g, op, name, op_type, in, n_in, out, n_out);
  free(name);
  cn_node *n = &a->g->nodes[id];
  n->backward = true;
  n->opset = opset;
  for (int i = 0; i < n_out; i++) {
    a->g->values[out[i]].producer = id;
    if (outs) {
      outs[i] = out[i];
    }
  }
  return id;
}

static bool finish(ad *a, int node) {
  if (!a->ok) {
    return false;
  }
  if (!cn_op_infer(a->g, &a->g->nodes[node], a->d)) {
    a->ok = false;
    return false;
  }
  return true;
}

/* One-output node: returns the output value, or -1 after an error. */
static int node1(ad *a, cn_op op, int opset, const int *in, int n_in) {
  int out;
  int id = begin_node(a, op, opset, in, n_in, 1, &out);
  return finish(a, id) ? out : -1;
}

static int const_i64(ad *a, const int64_t *vals, int64_t count) {
  int v = new_value(a, "shape");
  cn_value *val = &a->g->values[v];
  val->kind = CN_VALUE_CONST;
  val->dtype = CNNRT_I64;
  cn_value_set_shape(val, 1, &count);
  memcpy(cn_value_alloc_data(val), vals, sizeof(int64_t) * (size_t)count);
  return v;
}

/* A float32 constant of the given shape filled with f. */
static int const_f32(ad *a, float f, int rank, const int64_t *dims) {
  int v = new_value(a, "const");
  cn_value *val = &a->g->values[v];
  val->kind = CN_VALUE_CONST;
  val->dtype = CNNRT_F32;
  cn_value_set_shape(val, rank, dims);
  float *p = cn_value_alloc_data(val);
  for (int64_t i = 0; i < cn_value_numel(val); i++) {
    p[i] = f;
  }
  return v;
}

static int binary(ad *a, cn_op op, int x, int y) {
  int in[2] = {x, y};
  return node1(a, op, a->g->opset > 7 ? a->g->opset : 13, in, 2);
}

static int scale_by(ad *a, int x, float f) {
  if (f == 1.0f) {
    return x;
  }
  return binary(a, CN_OP_MUL, x, const_f32(a, f, 0, NULL));
}

static int where3(ad *a, int cond, int x, int y) {
  int in[3] = {cond, x, y};
  return node1(a, CN_OP_WHERE, 16, in, 3);
}

/* 1.0f where cond holds, else 0.0f (float, cond's shape). */
static int mask_f32(ad *a, int cond) {
  return where3(a, cond, const_f32(a, 1.0f, 0, NULL), const_f32(a, 0.0f, 0, NULL));
}

static int reshape_to(ad *a, int x, int rank, const int64_t *dims) {
  const cn_value *v = &a->g->values[x];
  bool same = v->rank == rank;
  for (int k = 0; same && k < rank; k++) {
    same = v->dims[k] == dims[k];
  }
  if (same) {
    return x;
  }
  int in[2] = {x, const_i64(a, dims, rank)};
  return node1(a, CN_OP_RESHAPE, 13, in, 2);
}

/* The adjoint of broadcasting: sums gradient gy (broadcast shape) down to the shape of value
 * `like` (numpy rules: leading axes and size-1 axes were broadcast). */
static int sum_to(ad *a, int gy, int like) {
  if (gy < 0) {
    return -1;
  }
  const cn_value *y = &a->g->values[gy], *t = &a->g->values[like];
  if (cn_value_shape_eq(y, t)) {
    return gy;
  }
  /* (copies: adding nodes below may move g->values) */
  int t_rank = t->rank;
  int64_t dims[CN_MAX_RANK];
  memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
  int64_t axes[CN_MAX_RANK];
  int na = 0, lead = y->rank - t->rank;
  CN_ASSERT(lead >= 0);
  for (int k = 0; k < y->rank; k++) {
    if (k < lead || (t->dims[k - lead] == 1 && y->dims[k] != 1)) {
      axes[na++] = k;
    }
  }
  int r = gy;
  if (na > 0) {
    int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &gy, 1, 1, &r);
    attr_ints(a, id, "axes", axes, na);
    attr_int(a, id, "keepdims", 1);
    if (!finish(a, id)) {
      return -1;
    }
  }
  return reshape_to(a, r, t_rank, dims);
}

/* Adds gradient gv into value v's gradient. */
static void accumulate(ad *a, int v, int gv) {
  if (gv < 0 || v < 0 || v >= a->n_fwd_values || !a->need[v]) {
    return;
  }
  if (a->grad[v] < 0) {
    a->grad[v] = gv;
  } else {
    a->grad[v] = binary(a, CN_OP_ADD, a->grad[v], gv);
  }
}

static bool wants(ad *a, const cn_node *n, int i) {
  return cn_has_input(n, i) && n->in[i] < a->n_fwd_values && a->need[n->in[i]];
}

static void unsupported(ad *a, const char *why) {
  cn_error_node(a->d, fwd_node(a), "no gradient: %s", why);
  a->ok = false;
}

/* ---------------------------------------------------------------------------------------------
 * Rules.
 * ------------------------------------------------------------------------------------------- */

/* Resolved leading/trailing pads of a convolution, from its kernel parameters. */
static void conv_pads(const cnnrt_conv_params *p, int64_t *pads, int64_t *extra) {
  for (int i = 0; i < p->spatial; i++) {
    int64_t dk = (p->kernel[i] - 1) * p->dilation[i] + 1;
    /* Trailing input elements the forward conv covered (r >= 0) or never read (r < 0). */
    int64_t r = p->stride[i] * (p->out[i] - 1) + dk - p->pad_begin[i] - p->in[i];
    pads[i] = p->pad_begin[i];
    pads[p->spatial + i] = r >= 0 ? r : 0;
    extra[i] = r >= 0 ? 0 : -r;
  }
}

static void conv_common_attrs(ad *a, int id, const cnnrt_conv_params *p, const int64_t *pads) {
  int sp = (int)p->spatial;
  attr_ints(a, id, "strides", p->stride, sp);
  attr_ints(a, id, "dilations", p->dilation, sp);
  attr_ints(a, id, "kernel_shape", p->kernel, sp);
  attr_ints(a, id, "pads", pads, 2 * sp);
  attr_int(a, id, "group", p->group);
}

static void bias_grad(ad *a, const cn_node *n, int dy) {
  if (!wants(a, n, 2)) {
    return;
  }
  const cn_value *y = &a->g->values[dy];
  int64_t axes[CN_MAX_RANK];
  int na = 0;
  for (int k = 0; k < y->rank; k++) {
    if (k != 1) {
      axes[na++] = k;
    }
  }
  int db;
  int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &dy, 1, 1, &db);
  attr_ints(a, id, "axes", axes, na);
  attr_int(a, id, "keepdims", 0);
  if (finish(a, id)) {
    accumulate(a, n->in[2], db);
  }
}

static void rule_conv(ad *a, const cn_node *n, int dy) {
  const cnnrt_conv_params p = *(const cnnrt_conv_params *)n->params;
  CN_ASSERT(n->act == CNNRT_ACT_NONE && n->residual < 0); /* autodiff runs before fusion */
  int64_t pads[6], extra[3];
  conv_pads(&p, pads, extra);
  int x = n->in[0], w = n->in[1];
  if (wants(a, n, 0)) { /* dx: the transposed convolution of dy */
    int in[2] = {dy, w}, dx;
    int id = begin_node(a, CN_OP_CONV_TRANSPOSE, 11, in, 2, 1, &dx);
    conv_common_attrs(a, id, &p, pads);
    attr_ints(a, id, "output_padding", extra, (int)p.spatial);
    if (finish(a, id)) {
      CN_ASSERT(cn_value_shape_eq(&a->g->values[dx], &a->g->values[x]));
      accumulate(a, x, dx);
    }
  }
  if (wants(a, n, 1)) {
    int in[3] = {x, w, dy}, dw;
    int id = begin_node(a, CN_OP_CONV_GRAD_FILTER, 11, in, 3, 1, &dw);
    conv_common_attrs(a, id, &p, pads);
    if (finish(a, id)) {
      accumulate(a, w, dw);
    }
  }
  bias_grad(a, n, dy);
}

static void rule_conv_transpose(ad *a, const cn_node *n, int dy) {
  const cnnrt_conv_params p = *(const cnnrt_conv_params *)n->params;
  CN_ASSERT(n->act == CNNRT_ACT_NONE);
  /* As a convolution of dy (sizes out[]) back to x (sizes in[]): pads (pb, pe) with
   * (out + pb + pe - dk) = stride * (in - 1). */
  cnnrt_conv_params q = p;
  int64_t pads[6];
  for (int i = 0; i < p.spatial; i++) {
    int64_t dk = (p.kernel[i] - 1) * p.dilation[i] + 1;
    int64_t pe = p.stride[i] * (p.in[i] - 1) + dk - p.out[i] - p.pad_begin[i];
    if (pe < 0 || p.pad_begin[i] < 0) {
      unsupported(a, "ConvTranspose whose output_shape exceeds the full transposed size");
      return;
    }
    pads[i] = p.pad_begin[i];
    pads[p.spatial + i] = pe;
  }
  int x = n->in[0], w = n->in[1];
  if (wants(a, n, 0)) {
    int in[2] = {dy, w};
    int id, dx;
    id = begin_node(a, CN_OP_CONV, 11, in, 2, 1, &dx);
    conv_common_attrs(a, id, &q, pads);
    if (finish(a, id)) {
      CN_ASSERT(cn_value_shape_eq(&a->g->values[dx], &a->g->values[x]));
      accumulate(a, x, dx);
    }
  }
  if (wants(a, n, 1)) { /* the filter gradient of that convolution, with x as its "dy" */
    int in[3] = {dy, w, x}, dw;
    int id = begin_node(a, CN_OP_CONV_GRAD_FILTER, 11, in, 3, 1, &dw);
    conv_common_attrs(a, id, &q, pads);
    if (finish(a, id)) {
      accumulate(a, w, dw);
    }
  }
  bias_grad(a, n, dy);
}

static int gemm(ad *a, int x, int y, int trans_a, int trans_b, float alpha) {
  int in[2] = {x, y}, out;
  int id = begin_node(a, CN_OP_GEMM, 13, in, 2, 1, &out);
  attr_int(a, id, "transA", trans_a);
  attr_int(a, id, "transB", trans_b);
  attr_float(a, id, "alpha", alpha);
  return finish(a, id) ? out : -1;
}

static void rule_gemm(ad *a, const cn_node *n, int dy) {
  CN_ASSERT(n->act == CNNRT_ACT_NONE);
  int A = n->in[0], B = n->in[1];
  int ta = (int)cn_attr_int(n, "transA", 0), tb = (int)cn_attr_int(n, "transB", 0);
  float alpha = cn_attr_float(n, "alpha", 1.0f), beta = cn_attr_float(n, "beta", 1.0f);
  if (wants(a, n, 0)) { /* d op(A) = alpha dY op(B)^T */
    int dA = ta ? gemm(a, B, dy, tb, 1, alpha) : gemm(a, dy, B, 0, !tb, alpha);
    accumulate(a, A, dA);
  }
  if (wants(a, n, 1)) { /* d op(B) = alpha op(A)^T dY */
    int dB = tb ? gemm(a, dy, A, 1, ta, alpha) : gemm(a, A, dy, !ta, 0, alpha);
    accumulate(a, B, dB);
  }
  if (wants(a, n, 2)) {
    accumulate(a, n->in[2], sum_to(a, scale_by(a, dy, beta), n->in[2]));
  }
}

/* Swaps the last two axes. */
static int transpose_last2(ad *a, int x) {
  const int rank = a->g->values[x].rank;
  int64_t perm[CN_MAX_RANK];
  for (int k = 0; k < rank; k++) {
    perm[k] = k;
  }
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  int out;
  int id = begin_node(a, CN_OP_TRANSPOSE, 13, &x, 1, 1, &out);
  attr_ints(a, id, "perm", perm, rank);
  return finish(a, id) ? out : -1;
}

/* Reshapes value v to its own shape with a 1 inserted at axis `at` (numpy's promotion of a
 * 1-D MatMul operand), or back (drop). */
static int with_unit_axis(ad *a, int v, int at) {
  const cn_value *val = &a->g->values[v];
  int64_t dims[CN_MAX_RANK];
  int rank = 0;
  for (int k = 0; k <= val->rank; k++) {
    if (k == at) {
      dims[rank++] = 1;
    }
    if (k < val->rank) {
      dims[rank++] = val->dims[k];
    }
  }
  return reshape_to(a, v, rank, dims);
}

static void rule_matmul(ad *a, const cn_node *n, int dy) {
  int A = n->in[0], B = n->in[1];
  const int ra = a->g->values[A].rank, rb = a->g->values[B].rank;
  /* A 1-D operand is a [1, k] row (A) or a [k, 1] column (B), as numpy promotes it; dy gets
   * the unit axes the promotion removed from the result back. */
  int a2 = ra == 1 ? with_unit_axis(a, A, 0) : A;
  int b2 = rb == 1 ? with_unit_axis(a, B, 1) : B;
  int dy2 = dy;
  if (ra == 1 && rb == 1) {
    int64_t one[2] = {1, 1};
    dy2 = reshape_to(a, dy, 2, one);
  } else if (ra == 1) { /* y [..., n] from [1, k] x [..., k, n]: [..., 1, n] */
    dy2 = with_unit_axis(a, dy, a->g->values[dy].rank - 1);
  } else if (rb == 1) { /* y [..., m]: [..., m, 1] */
    dy2 = with_unit_axis(a, dy, a->g->values[dy].rank);
  }
  if (dy2 < 0) {
    return;
  }
  const int r2a = a->g->values[a2].rank, r2b = a->g->values[b2].rank;
  int dA = -1, dB = -1;
  if (r2a == 2 && r2b == 2) {
    dA = wants(a, n, 0) ? gemm(a, dy2, b2, 0, 1, 1.0f) : -1;
    dB = wants(a, n, 1) ? gemm(a, a2, dy2, 1, 0, 1.0f) : -1;
  } else {
    if (wants(a, n, 0)) {
      int in[2] = {dy2, transpose_last2(a, b2)};
      dA = sum_to(a, node1(a, CN_OP_MATMUL, 13, in, 2), a2);
    }
    if (wants(a, n, 1)) {
      int in[2] = {transpose_last2(a, a2), dy2};
      dB = sum_to(a, node1(a, CN_OP_MATMUL, 13, in, 2), b2);
    }
  }
  if (dA >= 0) {
    const cn_value *av = &a->g->values[A];
    int64_t dims[CN_MAX_RANK];
    memcpy(dims, av->dims, sizeof(int64_t) * (size_t)av->rank);
    accumulate(a, A, reshape_to(a, dA, ra, dims));
  }
  if (dB >= 0) {
    const cn_value *bv = &a->g->values[B];
    int64_t dims[CN_MAX_RANK];
    memcpy(dims, bv->dims, sizeof(int64_t) * (size_t)bv->rank);
    accumulate(a, B, reshape_to(a, dB, rb, dims));
  }
}

static void rule_pool(ad *a, const cn_node *n, int dy) {
  int x = n->in[0];
  if (!wants(a, n, 0)) {
    return;
  }
  const cn_value *xv = &a->g->values[x];
  switch (n->op) {
  case CN_OP_MAX_POOL:
  case CN_OP_AVERAGE_POOL: {
    int in[2] = {x, dy}, dx;
    int id = begin_node(a, n->op == CN_OP_MAX_POOL ? CN_OP_MAX_POOL_GRAD : CN_OP_AVERAGE_POOL_GRAD,
                        n->opset, in, 2, 1, &dx);
    copy_attrs(a, id, n);
    if (finish(a, id)) {
      accumulate(a, x, dx);
    }
    break;
  }
  case CN_OP_GLOBAL_MAX_POOL: {
    int in[2] = {x, dy};
    accumulate(a, x, node1(a, CN_OP_GLOBAL_MAX_POOL_GRAD, n->opset, in, 2));
    break;
  }
  case CN_OP_GLOBAL_AVERAGE_POOL: {
    int64_t count = cn_numel(xv->rank - 2, xv->dims + 2);
    int64_t dims[CN_MAX_RANK];
    const int rank = xv->rank;
    memcpy(dims, xv->dims, sizeof(int64_t) * (size_t)rank);
    int scaled = scale_by(a, dy, 1.0f / (float)count);
    int in[2] = {scaled, const_i64(a, dims, rank)};
    accumulate(a, x, node1(a, CN_OP_EXPAND, 13, in, 2));
    break;
  }
  case CN_OP_LP_POOL:
  case CN_OP_GLOBAL_LP_POOL: {
    /* y = (sum_window |x|^p)^(1/p): dx = |x|^(p-2) x * scatter_window(dy y^(1-p)), the scatter
     * being AveragePool's adjoint (padding counted) times the window size, or for the global
     * pool an Expand. */
    const cnnrt_pool_params *pp = n->params;
    float pw = pp->p;
    const int rank = xv->rank;
    int64_t xdims[CN_MAX_RANK];
    memcpy(xdims, xv->dims, sizeof(int64_t) * (size_t)rank);
    int t = binary(a, CN_OP_MUL, dy, binary(a, CN_OP_POW, n->out[0], const_f32(a, 1.0f - pw, 0, NULL)));
    int spread;
    if (n->op == CN_OP_GLOBAL_LP_POOL) {
      int in[2] = {t, const_i64(a, xdims, rank)};
      spread = node1(a, CN_OP_EXPAND, 13, in, 2);
    } else {
      int in[2] = {x, t};
      int id = begin_node(a, CN_OP_AVERAGE_POOL_GRAD, 11, in, 2, 1, &spread);
      copy_attrs(a, id, n);
      attr_int(a, id, "count_include_pad", 1);
      if (!finish(a, id)) {
        return;
      }
      int64_t window = 1;
      for (int k = 0; k < pp->spatial; k++) {
        window *= pp->kernel[k];
      }
      spread = scale_by(a, spread, (float)window);
    }
    int dx = binary(a, CN_OP_MUL, spread, x);
    if (pw != 2.0f) {
      int ax = node1(a, CN_OP_ABS, 13, &x, 1);
      dx = binary(a, CN_OP_MUL, dx, binary(a, CN_OP_POW, ax, const_f32(a, pw - 2.0f, 0, NULL)));
    }
    accumulate(a, x, dx);
    break;
  }
  default:
    unsupported(a, "this pooling op has no gradient rule");
  }
}

static void rule_batch_norm(ad *a, const cn_node *n, int dy) {
  bool training = cn_attr_int(n, "training_mode", 0) != 0 || (n->opset < 14 && n->n_out > 1);
  float eps = cn_attr_float(n, "epsilon", 1e-5f);
  int outs[5];
  if (training) {
    int in[3] = {n->in[0], n->in[1], dy};
    int id = begin_node(a, CN_OP_BATCH_NORM_TRAIN_GRAD, 15, in, 3, 3, outs);
    attr_float(a, id, "epsilon", eps);
    if (!finish(a, id)) {
      return;
    }
    for (int i = 0; i < 3; i++) {
      accumulate(a, n->in[i], outs[i]);
    }
    return;
  }
  int in[5] = {n->in[0], n->in[1], n->in[3], n->in[4], dy};
  int id = begin_node(a, CN_OP_BATCH_NORM_GRAD, 15, in, 5, 5, outs);
  attr_float(a, id, "epsilon", eps);
  if (!finish(a, id)) {
    return;
  }
  accumulate(a, n->in[0], outs[0]);
  accumulate(a, n->in[1], outs[1]);
  accumulate(a, n->in[2], outs[2]);
  accumulate(a, n->in[3], outs[3]);
  accumulate(a, n->in[4], outs[4]);
}

/* A float read from constant input i (Clip bounds), or `def` when absent. */
static bool const_float_input(ad *a, const cn_node *n, int i, float def, float *out) {
  const cn_value *v = cn_in(a->g, n, i);
  if (!v) {
    *out = def;
    return true;
  }
  if (v->kind != CN_VALUE_CONST || !v->data || v->dtype != CNNRT_F32) {
    return false;
  }
  *out = ((const float *)v->data)[0];
  return true;
}

/* Comparison (or And/Or) of two values as an opset-13 node, which every comparison op has. */
static int compare(ad *a, cn_op op, int x, int y) {
  int in[2] = {x, y};
  return node1(a, op, 13, in, 2);
}

/* Clip with bounds read at run time (opset >= 11 inputs that are not constants, or that are
 * differentiated), as PyTorch's clamp with tensor bounds (clamp_backward,
 * clamp_backward_min_max), y = min(max(x, lo), hi):
 *   dx  = dy where lo <= x <= hi (ties with a bound pass the gradient to x)
 *   dlo = sum of dy where x < lo and lo < hi
 *   dhi = sum of dy where x > hi or hi < lo   (lo > hi: y = hi everywhere)
 * An absent bound is -inf / +inf and drops out of the conditions. (With lo == hi, PyTorch gives
 * the elements outside to neither bound; so does this.) */
static void rule_clip_runtime(ad *a, const cn_node *n, int dy) {
  int x = n->in[0];
  int lo = cn_has_input(n, 1) ? n->in[1] : -1, hi = cn_has_input(n, 2) ? n->in[2] : -1;
  int zero = const_f32(a, 0.0f, 0, NULL);
  if (wants(a, n, 0)) {
    int in_range = -1;
    if (lo >= 0) {
      in_range = compare(a, CN_OP_GREATER_OR_EQUAL, x, lo);
    }
    if (hi >= 0) {
      int le = compare(a, CN_OP_LESS_OR_EQUAL, x, hi);
      in_range = in_range < 0 ? le : compare(a, CN_OP_AND, in_range, le);
    }
    accumulate(a, x, in_range < 0 ? dy : sum_to(a, where3(a, in_range, dy, zero), x));
  }
  if (wants(a, n, 1)) {
    int below = compare(a, CN_OP_LESS, x, lo);
    if (hi >= 0) {
      below = compare(a, CN_OP_AND, below, compare(a, CN_OP_LESS, lo, hi));
    }
    accumulate(a, lo, sum_to(a, where3(a, below, dy, zero), lo));
  }
  if (wants(a, n, 2)) {
    int above = compare(a, CN_OP_GREATER, x, hi);
    if (lo >= 0) {
      above = compare(a, CN_OP_OR, above, compare(a, CN_OP_LESS, hi, lo));
    }
    accumulate(a, hi, sum_to(a, where3(a, above, dy, zero), hi));
  }
}

static void rule_unary(ad *a, const cn_node *n, int dy) {
  int x = n->in[0], y = n->out[0];
  if (n->op == CN_OP_CLIP && n->opset >= 11) {
    float lo, hi;
    if (wants(a, n, 1) || wants(a, n, 2) || !const_float_input(a, n, 1, -INFINITY, &lo) ||
        !const_float_input(a, n, 2, INFINITY, &hi)) {
      rule_clip_runtime(a, n, dy);
      return;
    }
  }
  if (!wants(a, n, 0)) {
    return;
  }
  int kind = -1;
  float alpha = 0.0f, beta = 0.0f;
  switch (n->op) {
  case CN_OP_RELU: kind = CNNRT_GRAD_RELU; break;
  case CN_OP_LEAKY_RELU: kind = CNNRT_GRAD_LEAKY_RELU; alpha = cn_attr_float(n, "alpha", 0.01f); break;
  case CN_OP_ELU: kind = CNNRT_GRAD_ELU; alpha = cn_attr_float(n, "alpha", 1.0f); break;
  case CN_OP_SELU:
    kind = CNNRT_GRAD_SELU;
    alpha = cn_attr_float(n, "alpha", 1.67326319217681884765625f);
    beta = cn_attr_float(n, "gamma", 1.05070102214813232421875f);
    break;
  case CN_OP_CELU: kind = CNNRT_GRAD_CELU; alpha = cn_attr_float(n, "alpha", 1.0f); break;
  case CN_OP_SIGMOID: kind = CNNRT_GRAD_SIGMOID; break;
  case CN_OP_HARD_SIGMOID:
    kind = CNNRT_GRAD_HARD_SIGMOID;
    alpha = cn_attr_float(n, "alpha", 0.2f);
    beta = cn_attr_float(n, "beta", 0.5f);
    break;
  case CN_OP_HARD_SWISH: kind = CNNRT_GRAD_HARD_SWISH; break;
  case CN_OP_TANH: kind = CNNRT_GRAD_TANH; break;
  case CN_OP_SOFTPLUS: kind = CNNRT_GRAD_SOFTPLUS; break;
  case CN_OP_SOFTSIGN: kind = CNNRT_GRAD_SOFTSIGN; break;
  case CN_OP_ERF: kind = CNNRT_GRAD_ERF; break;
  case CN_OP_MISH: kind = CNNRT_GRAD_MISH; break;
  case CN_OP_THRESHOLDED_RELU:
    kind = CNNRT_GRAD_THRESHOLDED_RELU;
    alpha = cn_attr_float(n, "alpha", 1.0f);
    break;
  case CN_OP_CLIP:
    kind = CNNRT_GRAD_CLIP;
    if (n->opset < 11) {
      alpha = cn_attr_float(n, "min", -INFINITY);
      beta = cn_attr_float(n, "max", INFINITY);
    } else { /* constant bounds (the run-time ones went to rule_clip_runtime) */
      bool ok = const_float_input(a, n, 1, -INFINITY, &alpha) &&
                const_float_input(a, n, 2, INFINITY, &beta);
      CN_ASSERT(ok);
    }
    break;
  case CN_OP_SQRT: kind = CNNRT_GRAD_SQRT; break;
  case CN_OP_RECIPROCAL: kind = CNNRT_GRAD_RECIPROCAL; break;
  case CN_OP_EXP: kind = CNNRT_GRAD_EXP; break;
  case CN_OP_LOG: kind = CNNRT_GRAD_LOG; break;
  case CN_OP_ABS: kind = CNNRT_GRAD_ABS; break;
  case CN_OP_NEG: accumulate(a, x, node1(a, CN_OP_NEG, 13, &dy, 1)); return;
  case CN_OP_CAST: /* float to float only: a copy as far as gradients go */
    accumulate(a, x, dy);
    return;
  case CN_OP_FLOOR:
  case CN_OP_CEIL:
    return; /* zero almost everywhere */
  default:
    unsupported(a, "this elementwise op has no gradient rule");
    return;
  }
  int in[2] = {cnnrt_act_grad_uses_y(kind) ? y : x, dy}, dx;
  int id = begin_node(a, CN_OP_ACT_GRAD, 13, in, 2, 1, &dx);
  attr_int(a, id, "kind", kind);
  attr_float(a, id, "alpha", alpha);
  attr_float(a, id, "beta", beta);
  if (finish(a, id)) {
    accumulate(a, x, dx);
  }
}

/* y = a^b with a run-time, non-scalar or differentiated exponent, as PyTorch's pow_backward_self
 * and pow_backward_exponent:
 *   da = b a^(b-1) dy, 0 where b == 0 (else 0 * a^-1 would give NaN at a == 0)
 *   db = y ln(a) dy,   0 where a == 0 and b >= 0 (the limit of a^b ln a for b > 0; 0^0 := 1)
 * (a < 0 gives ln(a) = NaN in db, as in PyTorch), each summed back to its operand's shape. An
 * integer exponent is cast to float first (it gets no gradient: only float values do). */
static void rule_pow(ad *a, const cn_node *n, int dy) {
  int A = n->in[0], B = n->in[1], y = n->out[0];
  int bf = B;
  if (a->g->values[B].dtype != CNNRT_F32) {
    int id = begin_node(a, CN_OP_CAST, 13, &B, 1, 1, &bf);
    attr_int(a, id, "to", 1); /* TensorProto.FLOAT */
    if (!finish(a, id)) {
      return;
    }
  }
  int zero = const_f32(a, 0.0f, 0, NULL);
  if (wants(a, n, 0)) {
    int t = binary(a, CN_OP_POW, A, binary(a, CN_OP_SUB, bf, const_f32(a, 1.0f, 0, NULL)));
    int d = binary(a, CN_OP_MUL, dy, binary(a, CN_OP_MUL, bf, t));
    accumulate(a, A, sum_to(a, where3(a, compare(a, CN_OP_EQUAL, bf, zero), zero, d), A));
  }
  if (wants(a, n, 1)) {
    int ln = node1(a, CN_OP_LOG, 13, &A, 1);
    int d = binary(a, CN_OP_MUL, dy, binary(a, CN_OP_MUL, y, ln));
    int mask = compare(a, CN_OP_AND, compare(a, CN_OP_EQUAL, A, zero),
                       compare(a, CN_OP_GREATER_OR_EQUAL, bf, zero));
    accumulate(a, B, sum_to(a, where3(a, mask, zero, d), B));
  }
}

static void rule_binary(ad *a, const cn_node *n, int dy) {
  int A = n->in[0], B = n->n_in > 1 ? n->in[1] : -1, y = n->out[0];
  switch (n->op) {
  case CN_OP_ADD:
    if (wants(a, n, 0)) accumulate(a, A, sum_to(a, dy, A));
    if (wants(a, n, 1)) accumulate(a, B, sum_to(a, dy, B));
    break;
  case CN_OP_SUB:
    if (wants(a, n, 0)) accumulate(a, A, sum_to(a, dy, A));
    if (wants(a, n, 1)) accumulate(a, B, sum_to(a, node1(a, CN_OP_NEG, 13, &dy, 1), B));
    break;
  case CN_OP_MUL:
    if (wants(a, n, 0)) accumulate(a, A, sum_to(a, binary(a, CN_OP_MUL, dy, B), A));
    if (wants(a, n, 1)) accumulate(a, B, sum_to(a, binary(a, CN_OP_MUL, dy, A), B));
    break;
  case CN_OP_DIV:
    if (wants(a, n, 0)) accumulate(a, A, sum_to(a, binary(a, CN_OP_DIV, dy, B), A));
    if (wants(a, n, 1)) { /* d(a/b)/db = -y/b */
      int t = binary(a, CN_OP_DIV, binary(a, CN_OP_MUL, dy, y), B);
      accumulate(a, B, sum_to(a, node1(a, CN_OP_NEG, 13, &t, 1), B));
    }
    break;
  case CN_OP_POW: {
    const cn_value *e = &a->g->values[B];
    if (!wants(a, n, 1) && e->kind == CN_VALUE_CONST && cn_value_numel(e) == 1 &&
        cn_dtype_is_float(e->dtype)) { /* constant scalar exponent: b * a^(b-1) */
      float b = (float)cn_value_get_float(e, 0);
      if (b == 0.0f) {
        return; /* y = 1: a zero gradient (PyTorch's 0 also where a == 0) */
      }
      int t = binary(a, CN_OP_POW, A, const_f32(a, b - 1.0f, 0, NULL));
      accumulate(a, A, sum_to(a, binary(a, CN_OP_MUL, dy, scale_by(a, t, b)), A));
      break;
    }
    rule_pow(a, n, dy);
    break;
  }
  case CN_OP_PRELU: { /* y = x > 0 ? x : slope * x */
    int zero = const_f32(a, 0.0f, 0, NULL);
    int pos = binary(a, CN_OP_GREATER, A, zero);
    if (wants(a, n, 0)) {
      int in3[3] = {pos, dy, binary(a, CN_OP_MUL, dy, B)};
      accumulate(a, A, sum_to(a, node1(a, CN_OP_WHERE, 16, in3, 3), A));
    }
    if (wants(a, n, 1)) {
      int in3[3] = {pos, const_f32(a, 0.0f, 0, NULL), binary(a, CN_OP_MUL, dy, A)};
      accumulate(a, B, sum_to(a, node1(a, CN_OP_WHERE, 16, in3, 3), B));
    }
    break;
  }
  case CN_OP_WHERE: { /* Where(cond, A, B): inputs 1 and 2 */
    int cond = n->in[0], zero = const_f32(a, 0.0f, 0, NULL);
    if (wants(a, n, 1)) {
      int in3[3] = {cond, dy, zero};
      accumulate(a, n->in[1], sum_to(a, node1(a, CN_OP_WHERE, 16, in3, 3), n->in[1]));
    }
    if (wants(a, n, 2)) {
      int in3[3] = {cond, zero, dy};
      accumulate(a, n->in[2], sum_to(a, node1(a, CN_OP_WHERE, 16, in3, 3), n->in[2]));
    }
    break;
  }
  case CN_OP_MIN:
  case CN_OP_MAX: {
    /* The gradient goes to the inputs equal to the result, shared evenly among ties: for two
     * inputs that is PyTorch's maximum/minimum (half each on a tie). */
    if (n->n_in == 1) {
      if (wants(a, n, 0)) accumulate(a, A, dy);
      break;
    }
    int masks[64];
    if (n->n_in > 64) {
      unsupported(a, "Min/Max of more than 64 inputs");
      return;
    }
    int count = -1;
    for (int i = 0; i < n->n_in; i++) {
      masks[i] = binary(a, CN_OP_EQUAL, n->in[i], y);
      int f = mask_f32(a, masks[i]);
      count = count < 0 ? f : binary(a, CN_OP_ADD, count, f);
    }
    int share = binary(a, CN_OP_DIV, dy, count);
    int zero = const_f32(a, 0.0f, 0, NULL);
    for (int i = 0; i < n->n_in; i++) {
      if (wants(a, n, i)) {
        accumulate(a, n->in[i], sum_to(a, where3(a, masks[i], share, zero), n->in[i]));
      }
    }
    break;
  }
  case CN_OP_SUM:
  case CN_OP_MEAN: {
    int g = n->op == CN_OP_MEAN ? scale_by(a, dy, 1.0f / (float)n->n_in) : dy;
    for (int i = 0; i < n->n_in; i++) {
      if (wants(a, n, i)) {
        accumulate(a, n->in[i], sum_to(a, g, n->in[i]));
      }
    }
    break;
  }
  default:
    unsupported(a, "this binary op has no gradient rule");
  }
}

/* Sums of t over a window of channels [c - before, c + after] (zeros outside), as AveragePool
 * over t viewed as [N, 1, C, rest] times the window size. */
static int channel_window_sum(ad *a, int t, int64_t before, int64_t after) {
  const cn_value *v = &a->g->values[t];
  const int rank = v->rank;
  int64_t dims[CN_MAX_RANK], view[4] = {v->dims[0], 1, v->dims[1], 1};
  memcpy(dims, v->dims, sizeof(int64_t) * (size_t)rank);
  for (int k = 2; k < rank; k++) {
    view[3] *= v->dims[k];
  }
  int x4 = reshape_to(a, t, 4, view), out;
  int id = begin_node(a, CN_OP_AVERAGE_POOL, 11, &x4, 1, 1, &out);
  int64_t kernel[2] = {before + after + 1, 1}, strides[2] = {1, 1}, pads[4] = {before, 0, after, 0};
  attr_ints(a, id, "kernel_shape", kernel, 2);
  attr_ints(a, id, "strides", strides, 2);
  attr_ints(a, id, "pads", pads, 4);
  attr_int(a, id, "count_include_pad", 1);
  if (!finish(a, id)) {
    return -1;
  }
  return reshape_to(a, scale_by(a, out, (float)(before + after + 1)), rank, dims);
}

/* LRN: y_c = x_c d_c^-beta, d_c = bias + alpha/size sum_{c' in [c-lo, c+hi]} x_c'^2, so
 * dx_j = dy_j d_j^-beta - 2 alpha beta/size x_j sum_{c in [j-hi, j+lo]} dy_c x_c d_c^(-beta-1). */
static void rule_lrn(ad *a, const cn_node *n, int dy) {
  if (!wants(a, n, 0)) {
    return;
  }
  int x = n->in[0];
  int64_t size = cn_attr_int(n, "size", 1), lo = (size - 1) / 2, hi = size / 2;
  float alpha = cn_attr_float(n, "alpha", 1e-4f), beta = cn_attr_float(n, "beta", 0.75f);
  float bias = cn_attr_float(n, "bias", 1.0f);
  int sq = channel_window_sum(a, binary(a, CN_OP_MUL, x, x), lo, hi);
  if (sq < 0) {
    return;
  }
  int d = binary(a, CN_OP_ADD, scale_by(a, sq, alpha / (float)size), const_f32(a, bias, 0, NULL));
  int dp = binary(a, CN_OP_POW, d, const_f32(a, -beta, 0, NULL));
  int inner = binary(a, CN_OP_DIV, binary(a, CN_OP_MUL, binary(a, CN_OP_MUL, dy, x), dp), d);
  int back = channel_window_sum(a, inner, hi, lo);
  if (back < 0) {
    return;
  }
  int corr = scale_by(a, binary(a, CN_OP_MUL, x, back), 2.0f * alpha * beta / (float)size);
  accumulate(a, x, binary(a, CN_OP_SUB, binary(a, CN_OP_MUL, dy, dp), corr));
}

static void rule_norm(ad *a, const cn_node *n, int dy) {
  switch (n->op) {
  case CN_OP_BATCH_NORM: rule_batch_norm(a, n, dy); break;
  case CN_OP_LRN: rule_lrn(a, n, dy); break;
  case CN_OP_SOFTMAX:
  case CN_OP_LOG_SOFTMAX: {
    if (!wants(a, n, 0)) {
      return;
    }
    int in[2] = {n->out[0], dy}, dx;
    int id = begin_node(a, n->op == CN_OP_SOFTMAX ? CN_OP_SOFTMAX_GRAD : CN_OP_LOG_SOFTMAX_GRAD,
                        n->opset, in, 2, 1, &dx);
    copy_attrs(a, id, n);
    if (finish(a, id)) {
      accumulate(a, n->in[0], dx);
    }
    break;
  }
  case CN_OP_INSTANCE_NORM:
  case CN_OP_LAYER_NORM: {
    int in[3] = {n->in[0], n->in[1], dy}, outs[3];
    bool layer = n->op == CN_OP_LAYER_NORM;
    int id = begin_node(a, layer ? CN_OP_LAYER_NORM_GRAD : CN_OP_INSTANCE_NORM_GRAD, 17, in, 3,
                        3, outs);
    attr_float(a, id, "epsilon", cn_attr_float(n, "epsilon", 1e-5f));
    if (layer) {
      attr_int(a, id, "axis", cn_attr_int(n, "axis", -1));
    }
    if (finish(a, id)) {
      for (int i = 0; i < 3; i++) {
        if (wants(a, n, i)) {
          accumulate(a, n->in[i], outs[i]);
        }
      }
    }
    break;
  }
  default:
    unsupported(a, "this normalization op has no gradient rule yet");
  }
}

static void rule_resize(ad *a, const cn_node *n, int dy) {
  if (!wants(a, n, 0)) {
    return;
  }
  /* roi, scales and sizes are discrete sampling parameters: like PyTorch's interpolate
   * (scale_factor and size get no gradient), they get none even when computed from
   * differentiated values. */
  if (n->n_in > 4) {
    unsupported(a, "Resize with more than 4 inputs");
    return;
  }
  int in[5], dx;
  for (int i = 0; i < n->n_in; i++) {
    in[i] = n->in[i];
  }
  in[n->n_in] = dy;
  int id = begin_node(a, CN_OP_RESIZE_GRAD, n->opset, in, n->n_in + 1, 1, &dx);
  copy_attrs(a, id, n);
  if (n->op == CN_OP_UPSAMPLE) {
    attr_int(a, id, "upsample", 1);
  }
  if (finish(a, id)) {
    accumulate(a, n->in[0], dx);
  }
}

static void rule_view(ad *a, const cn_node *n, int dy) {
  if (!wants(a, n, 0)) {
    return;
  }
  const cn_value *x = &a->g->values[n->in[0]];
  int64_t dims[CN_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  accumulate(a, n->in[0], reshape_to(a, dy, x->rank, dims));
}

static void rule_reduce(ad *a, const cn_node *n, int dy) {
  if (!wants(a, n, 0)) {
    return;
  }
  const cnnrt_reduce_params *r = n->params; /* first member of the family's params */
  const cn_value *xv = &a->g->values[n->in[0]];
  const int rank = xv->rank;
  int x = n->in[0], y = n->out[0];
  int64_t kdims[CN_MAX_RANK], xdims[CN_MAX_RANK], axes[CN_MAX_RANK], count = 1;
  int na = 0;
  for (int k = 0; k < rank; k++) {
    xdims[k] = xv->dims[k];
    kdims[k] = r->reduce[k] ? 1 : xv->dims[k];
    count *= r->reduce[k] ? xv->dims[k] : 1;
    if (r->reduce[k]) {
      axes[na++] = k;
    }
  }
  int g = reshape_to(a, dy, rank, kdims); /* dy with the reduced axes kept (size 1) */
  int yk = reshape_to(a, y, rank, kdims);
  int zero = const_f32(a, 0.0f, 0, NULL);
  int dx = -1; /* with broadcasting: Expand to x's shape at the end */
  switch (n->op) {
  case CN_OP_REDUCE_SUM: dx = g; break;
  case CN_OP_REDUCE_MEAN: dx = scale_by(a, g, 1.0f / (float)count); break;
  case CN_OP_REDUCE_SUM_SQUARE: /* 2 x dy */
    dx = binary(a, CN_OP_MUL, scale_by(a, x, 2.0f), g);
    break;
  case CN_OP_REDUCE_L1: { /* sign(x) dy */
    int pos = mask_f32(a, binary(a, CN_OP_GREATER, x, zero));
    int neg = mask_f32(a, binary(a, CN_OP_LESS, x, zero));
    dx = binary(a, CN_OP_MUL, binary(a, CN_OP_SUB, pos, neg), g);
    break;
  }
  case CN_OP_REDUCE_L2: { /* x / y dy, 0 where y = 0 (PyTorch's norm) */
    int y0 = binary(a, CN_OP_EQUAL, yk, zero);
    int safe = where3(a, y0, const_f32(a, 1.0f, 0, NULL), yk);
    dx = where3(a, y0, zero, binary(a, CN_OP_MUL, binary(a, CN_OP_DIV, x, safe), g));
    break;
  }
  case CN_OP_REDUCE_LOG_SUM: /* dy / sum(x) = dy / exp(y) */
    dx = binary(a, CN_OP_DIV, g, node1(a, CN_OP_EXP, 13, &yk, 1));
    break;
  case CN_OP_REDUCE_LOG_SUM_EXP: { /* exp(x - y) dy */
    int t = binary(a, CN_OP_SUB, x, yk);
    dx = binary(a, CN_OP_MUL, node1(a, CN_OP_EXP, 13, &t, 1), g);
    break;
  }
  case CN_OP_REDUCE_PROD: {
    /* dx = dy times the product of the other elements of x's window, by counting zeros (as
     * PyTorch's prod_backward): none -> y / x; one -> the product of the non-zero others at the
     * zero's position, 0 elsewhere; two or more -> 0. p is the product of the window with its
     * zeros replaced by 1, so p / x' (x' = x with zeros as 1) is y / x where there are none. */
    int one = const_f32(a, 1.0f, 0, NULL);
    int xz = compare(a, CN_OP_EQUAL, x, zero);
    int xs = where3(a, xz, one, x);
    int f = mask_f32(a, xz), nz, prod;
    int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &f, 1, 1, &nz);
    attr_ints(a, id, "axes", axes, na);
    attr_int(a, id, "keepdims", 1);
    if (!finish(a, id)) {
      return;
    }
    id = begin_node(a, CN_OP_REDUCE_PROD, 13, &xs, 1, 1, &prod);
    attr_ints(a, id, "axes", axes, na);
    attr_int(a, id, "keepdims", 1);
    if (!finish(a, id)) {
      return;
    }
    int others = where3(a, xz, prod, binary(a, CN_OP_DIV, prod, xs));
    int sel = where3(a, xz, mask_f32(a, compare(a, CN_OP_EQUAL, nz, one)),
                     mask_f32(a, compare(a, CN_OP_EQUAL, nz, zero)));
    dx = binary(a, CN_OP_MUL, binary(a, CN_OP_MUL, others, sel), g);
    break;
  }
  case CN_OP_REDUCE_MAX:
  case CN_OP_REDUCE_MIN: { /* to the elements equal to the result, evenly among ties (amax) */
    int m = binary(a, CN_OP_EQUAL, x, yk);
    int f = mask_f32(a, m);
    int cnt;
    int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &f, 1, 1, &cnt);
    attr_ints(a, id, "axes", axes, na);
    attr_int(a, id, "keepdims", 1);
    if (!finish(a, id)) {
      return;
    }
    dx = where3(a, m, binary(a, CN_OP_DIV, g, cnt), zero);
    break;
  }
  default:
    unsupported(a, "this reduction has no gradient rule");
    return;
  }
  if (dx < 0) {
    return;
  }
  const cn_value *dv = &a->g->values[dx];
  bool full = dv->rank == rank;
  for (int k = 0; full && k < rank; k++) {
    full = dv->dims[k] == xdims[k];
  }
  if (!full) {
    int in[2] = {dx, const_i64(a, xdims, rank)};
    dx = node1(a, CN_OP_EXPAND, 13, in, 2);
  }
  accumulate(a, n->in[0], dx);
}

static int slice_axis(ad *a, int x, int axis, int64_t start, int64_t end) {
  int out;
  int id = begin_node(a, CN_OP_SLICE, 9, &x, 1, 1, &out);
  int64_t ax = axis;
  attr_ints(a, id, "starts", &start, 1);
  attr_ints(a, id, "ends", &end, 1);
  attr_ints(a, id, "axes", &ax, 1);
  return finish(a, id) ? out : -1;
}

/* Slice (opset 13) of one axis with a step. */
static int slice_steps(ad *a, int x, int axis, int64_t start, int64_t end, int64_t step) {
  int64_t ax = axis;
  int in[5] = {x, const_i64(a, &start, 1), const_i64(a, &end, 1), const_i64(a, &ax, 1),
               const_i64(a, &step, 1)};
  return node1(a, CN_OP_SLICE, 13, in, 5);
}

/* Along `axis` of length m: each element followed by (step - 1) zeros, length m * step. */
static int spread_axis(ad *a, int x, int axis, int64_t step) {
  const cn_value *v = &a->g->values[x];
  const int rank = v->rank;
  int64_t dims[CN_MAX_RANK], wide[CN_MAX_RANK], pads[2 * CN_MAX_RANK] = {0};
  CN_ASSERT(rank < CN_MAX_RANK);
  for (int k = 0, j = 0; k < rank; k++) {
    dims[j++] = v->dims[k];
    wide[k] = v->dims[k] * (k == axis ? step : 1);
    if (k == axis) {
      dims[j++] = 1;
    }
  }
  int t = reshape_to(a, x, rank + 1, dims), out;
  pads[(rank + 1) + axis + 1] = step - 1; /* after the unit axis */
  int id = begin_node(a, CN_OP_PAD, 2, &t, 1, 1, &out);
  attr_ints(a, id, "pads", pads, 2 * (rank + 1));
  if (!finish(a, id)) {
    return -1;
  }
  return reshape_to(a, out, rank, wide);
}

/* Pads one axis with zeros. */
static int pad_axis(ad *a, int x, int axis, int64_t before, int64_t after) {
  if (x < 0 || (before == 0 && after == 0)) {
    return x;
  }
  const int rank = a->g->values[x].rank;
  int64_t pads[2 * CN_MAX_RANK] = {0};
  pads[axis] = before;
  pads[rank + axis] = after;
  int out;
  int id = begin_node(a, CN_OP_PAD, 2, &x, 1, 1, &out);
  attr_ints(a, id, "pads", pads, 2 * rank);
  return finish(a, id) ? out : -1;
}

/* Sum over axis k (dropped). */
static int reduce_sum_axis(ad *a, int x, int k, int keepdims) {
  int64_t ax = k;
  int r;
  int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &x, 1, 1, &r);
  attr_ints(a, id, "axes", &ax, 1);
  attr_int(a, id, "keepdims", keepdims);
  return finish(a, id) ? r : -1;
}

/* The adjoint of one axis of a wrap Pad of data of length n with b >= 0 pads before: output o
 * is element (o - b) mod n. g is shifted (zeros in front) so that its first element is a copy of
 * element 0, zero-filled to m whole periods, viewed as [m, n] and summed over m. */
static int wrap_axis_grad(ad *a, int g, int k, int64_t b, int64_t n) {
  const cn_value *v = &a->g->values[g];
  const int rank = v->rank;
  if (rank >= CN_MAX_RANK) {
    unsupported(a, "wrap (or long reflect) Pad of a rank-8 tensor");
    return -1;
  }
  int64_t shift = (n - b % n) % n, len = shift + v->dims[k], m = (len + n - 1) / n;
  int64_t dims[CN_MAX_RANK];
  for (int j = 0, i = 0; j < rank; j++) {
    dims[i++] = j == k ? m : v->dims[j];
    if (j == k) {
      dims[i++] = n;
    }
  }
  int t = pad_axis(a, g, k, shift, m * n - len);
  if (t < 0) {
    return -1;
  }
  return reduce_sum_axis(a, reshape_to(a, t, rank + 1, dims), k, 0);
}

/* The adjoint of one axis of a reflect/edge Pad of data of length n (n >= 1) with b >= 0 pads
 * before and e >= 0 after: the centre of g plus the border regions added back where they were
 * read from (mirrored for reflect, summed onto the first or last element for edge). */
static int border_axis_grad(ad *a, int64_t mode, int g, int k, int64_t b, int64_t n, int64_t e) {
  if (n == 1) {
    mode = CNNRT_PAD_EDGE; /* (reflect of one element repeats it, as numpy) */
  }
  if (mode == CNNRT_PAD_REFLECT && (b > n - 1 || e > n - 1)) {
    /* numpy's back-and-forth reflection: output o reads (o - b) mod 2(n-1) =: m, element m for
     * m < n, else 2(n-1) - m. Whole periods summed (as wrap), then the period's second half
     * (elements n-2 .. 1, reversed) added onto the first. */
    int64_t period = 2 * (n - 1);
    int per = wrap_axis_grad(a, g, k, b, period);
    if (per < 0 || n == 2) { /* (n == 2: the period is the two elements) */
      return per;
    }
    int second = slice_steps(a, slice_steps(a, per, k, n, period, 1), k, n - 3, -(n - 2) - 1, -1);
    return binary(a, CN_OP_ADD, slice_steps(a, per, k, 0, n, 1), pad_axis(a, second, k, 1, 1));
  }
  int sum = slice_steps(a, g, k, b, b + n, 1);
  for (int side = 0; side < 2 && sum >= 0; side++) {
    int64_t len = side == 0 ? b : e;
    if (len == 0) {
      continue;
    }
    int part = side == 0 ? slice_steps(a, g, k, 0, b, 1) : slice_steps(a, g, k, b + n, b + n + e, 1);
    if (mode == CNNRT_PAD_REFLECT) { /* out b-1-i <- in 1+i; out b+n+j <- in n-2-j */
      part = slice_steps(a, part, k, len - 1, -len - 1, -1);
      part = side == 0 ? pad_axis(a, part, k, 1, n - 1 - len) : pad_axis(a, part, k, n - 1 - len, 1);
    } else { /* edge: every border element is a copy of the first (last) one */
      part = reduce_sum_axis(a, part, k, 1);
      part = side == 0 ? pad_axis(a, part, k, 0, n - 1) : pad_axis(a, part, k, n - 1, 0);
    }
    sum = part < 0 ? -1 : binary(a, CN_OP_ADD, sum, part);
  }
  return sum;
}

/* The gradient of Pad (cnnrt_pad): negative pads crop first, then each axis is padded by its
 * mode from the cropped data. So: the mode's adjoint from dy down to the cropped lengths
 * (constant: one Slice of all axes; per axis, reflect/edge: border_axis_grad; wrap:
 * wrap_axis_grad), then one zero Pad
 * places the cropped gradient back into x's shape (zeros where the crop dropped elements). */
static int pad_grad(ad *a, const cnnrt_pad_params *p, int dy) {
  const int rank = (int)p->rank;
  int64_t place[2 * CN_MAX_RANK], starts[CN_MAX_RANK], ends[CN_MAX_RANK];
  bool crop = false, padded = false;
  int g = dy;
  for (int k = 0; k < rank && g >= 0; k++) {
    /* (as cnnrt_pad: `front` pad positions, `nc` kept elements from `lo`, then `back`) */
    int64_t in = p->in[k], out = p->out[k], b = p->pad_begin[k], e = out - in - b;
    int64_t front = b > 0 ? (b < out ? b : out) : 0, lo = b < 0 ? -b : 0;
    int64_t hi = in - (e < 0 ? -e : 0), nc = hi > lo ? hi - lo : 0;
    nc = nc < out - front ? nc : out - front;
    int64_t back = out - front - nc;
    place[k] = lo;
    place[rank + k] = in - lo - nc;
    crop |= lo != 0 || in - lo - nc != 0;
    starts[k] = front;
    ends[k] = front + nc;
    if (nc == 0 || out == 0) { /* nothing of x reaches the output */
      int64_t dims[CN_MAX_RANK];
      for (int j = 0; j < rank; j++) {
        dims[j] = p->in[j];
      }
      return const_f32(a, 0.0f, rank, dims);
    }
    if (front == 0 && back == 0) {
      continue;
    }
    padded = true;
    switch (p->mode) {
    case CNNRT_PAD_CONSTANT: break; /* (one Slice of all axes below) */
    case CNNRT_PAD_WRAP: g = wrap_axis_grad(a, g, k, front, nc); break;
    default: g = border_axis_grad(a, p->mode, g, k, front, nc, back); break;
    }
  }
  if (g >= 0 && padded && p->mode == CNNRT_PAD_CONSTANT) {
    int id = begin_node(a, CN_OP_SLICE, 9, &dy, 1, 1, &g);
    attr_ints(a, id, "starts", starts, rank);
    attr_ints(a, id, "ends", ends, rank);
    g = finish(a, id) ? g : -1;
  }
  if (g < 0 || !crop) {
    return g;
  }
  int out;
  int id = begin_node(a, CN_OP_PAD, 2, &g, 1, 1, &out);
  attr_ints(a, id, "pads", place, 2 * rank);
  return finish(a, id) ? out : -1;
}

static void rule_tensor(ad *a, const cn_node *n, int dy) {
  cn_graph *g = a->g;
  switch (n->op) {
  case CN_OP_TRANSPOSE: {
    if (!wants(a, n, 0)) {
      return;
    }
    const int rank = g->values[n->in[0]].rank;
    const int64_t *perm;
    int np = cn_attr_ints(n, "perm", &perm);
    int64_t inv[CN_MAX_RANK];
    for (int k = 0; k < rank; k++) {
      int64_t pk = np >= 0 ? perm[k] : rank - 1 - k;
      inv[pk] = k;
    }
    int out;
    int id = begin_node(a, CN_OP_TRANSPOSE, 13, &dy, 1, 1, &out);
    attr_ints(a, id, "perm", inv, rank);
    if (finish(a, id)) {
      accumulate(a, n->in[0], out);
    }
    break;
  }
  case CN_OP_CONCAT: {
    const cn_value *y = &g->values[n->out[0]];
    int axis = (int)cn_attr_int(n, "axis", 0);
    axis = axis < 0 ? axis + y->rank : axis;
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
      int64_t len = g->values[n->in[i]].dims[axis];
      if (wants(a, n, i)) {
        accumulate(a, n->in[i], slice_axis(a, dy, axis, off, off + len));
      }
      off += len;
    }
    break;
  }
  case CN_OP_SPLIT: {
    if (!wants(a, n, 0)) {
      return;
    }
    const cn_value *x = &g->values[n->in[0]];
    int axis = (int)cn_attr_int(n, "axis", 0);
    axis = axis < 0 ? axis + x->rank : axis;
    int parts[64];
    if (n->n_out > 64) {
      unsupported(a, "Split into more than 64 parts");
      return;
    }
    for (int o = 0; o < n->n_out; o++) {
      int v = n->out[o];
      parts[o] = v >= 0 && v < a->n_fwd_values ? a->grad[v] : -1;
      if (parts[o] < 0) { /* an unused part: zeros */
        const cn_value *pv = &g->values[v];
        int64_t dims[CN_MAX_RANK];
        memcpy(dims, pv->dims, sizeof(int64_t) * (size_t)pv->rank);
        parts[o] = const_f32(a, 0.0f, pv->rank, dims);
      }
    }
    int out;
    int id = begin_node(a, CN_OP_CONCAT, 13, parts, n->n_out, 1, &out);
    attr_int(a, id, "axis", axis);
    if (finish(a, id)) {
      accumulate(a, n->in[0], out);
    }
    break;
  }
  case CN_OP_SLICE: {
    if (!wants(a, n, 0)) {
      return;
    }
    const cnnrt_slice_params sp = *cn_tensor_slice_params(n);
    const int rank = (int)sp.rank;
    int64_t pads[2 * CN_MAX_RANK];
    int gx = dy;
    for (int k = 0; k < rank && gx >= 0; k++) {
      pads[k] = sp.start[k];
      pads[rank + k] = sp.in[k] - sp.start[k] - sp.out[k];
      if (sp.step[k] == 1 || sp.out[k] <= 1) {
        continue;
      }
      /* A strided axis: element j came from start + j * step. Reversed first when the step is
       * negative, so that it came from `low` + j * |step|. */
      int64_t step = sp.step[k] > 0 ? sp.step[k] : -sp.step[k], m = sp.out[k];
      int64_t low = sp.step[k] > 0 ? sp.start[k] : sp.start[k] + (m - 1) * sp.step[k];
      if (sp.step[k] < 0) {
        gx = slice_steps(a, gx, k, m - 1, -m - 1, -1);
      }
      gx = spread_axis(a, gx, k, step); /* m * step long: element j at j * step */
      int64_t len = m * step < sp.in[k] - low ? m * step : sp.in[k] - low;
      if (len < m * step) {
        gx = slice_steps(a, gx, k, 0, len, 1);
      }
      pads[k] = low;
      pads[rank + k] = sp.in[k] - low - len;
    }
    if (gx < 0) {
      return;
    }
    int out;
    int id = begin_node(a, CN_OP_PAD, 2, &gx, 1, 1, &out);
    attr_ints(a, id, "pads", pads, 2 * rank);
    if (finish(a, id)) {
      accumulate(a, n->in[0], out);
    }
    break;
  }
  case CN_OP_TILE: { /* the sum of the tiles: dy as [r0, d0, r1, d1, ...] summed over the r's */
    if (!wants(a, n, 0)) {
      return;
    }
    const cn_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
    const int rank = x->rank;
    if (2 * rank > CN_MAX_RANK) {
      unsupported(a, "Tile of a tensor of rank > 4");
      return;
    }
    int64_t split[CN_MAX_RANK], axes[CN_MAX_RANK], xdims[CN_MAX_RANK];
    for (int k = 0; k < rank; k++) {
      split[2 * k] = x->dims[k] > 0 ? y->dims[k] / x->dims[k] : 0;
      split[2 * k + 1] = x->dims[k];
      axes[k] = 2 * k;
      xdims[k] = x->dims[k];
    }
    int t = reshape_to(a, dy, 2 * rank, split), out;
    int id = begin_node(a, CN_OP_REDUCE_SUM, 11, &t, 1, 1, &out);
    attr_ints(a, id, "axes", axes, rank);
    attr_int(a, id, "keepdims", 0);
    if (finish(a, id)) {
      accumulate(a, n->in[0], reshape_to(a, out, rank, xdims));
    }
    break;
  }
  case CN_OP_PAD: {
    if (!wants(a, n, 0)) {
      return;
    }
    accumulate(a, n->in[0], pad_grad(a, cn_tensor_pad_params(n), dy));
    break;
  }
  case CN_OP_DEPTH_TO_SPACE:
  case CN_OP_SPACE_TO_DEPTH: { /* permutations: dy through the inverse of their definition */
    if (!wants(a, n, 0)) {
      return;
    }
    const cn_value *x = &g->values[n->in[0]];
    if (x->rank != 4) {
      unsupported(a, "DepthToSpace/SpaceToDepth of a tensor of rank other than 4");
      return;
    }
    int64_t b = cn_attr_int(n, "blocksize", 1), N = x->dims[0], C = x->dims[1], H = x->dims[2];
    int64_t W = x->dims[3], xdims[4] = {N, C, H, W}, mid[6];
    int64_t perm[6];
    if (n->op == CN_OP_DEPTH_TO_SPACE) { /* y = reshape(transpose(reshape(x)), ...) */
      bool crd = strcmp(cn_attr_string(n, "mode", "DCR"), "CRD") == 0;
      int64_t m[6] = {N, C / (b * b), H, b, W, b};
      int64_t dcr_inv[6] = {0, 3, 5, 1, 2, 4}, crd_inv[6] = {0, 1, 3, 5, 2, 4};
      memcpy(mid, m, sizeof m);
      memcpy(perm, crd ? crd_inv : dcr_inv, sizeof perm);
    } else {
      int64_t m[6] = {N, b, b, C, H / b, W / b}, inv[6] = {0, 3, 4, 1, 5, 2};
      memcpy(mid, m, sizeof m);
      memcpy(perm, inv, sizeof perm);
    }
    int t = reshape_to(a, dy, 6, mid), out;
    int id = begin_node(a, CN_OP_TRANSPOSE, 13, &t, 1, 1, &out);
    attr_ints(a, id, "perm", perm, 6);
    if (finish(a, id)) {
      accumulate(a, n->in[0], reshape_to(a, out, 4, xdims));
    }
    break;
  }
  case CN_OP_EXPAND:
    if (wants(a, n, 0)) {
      accumulate(a, n->in[0], sum_to(a, dy, n->in[0]));
    }
    break;
  case CN_OP_GATHER: { /* a scatter-add of dy (gather_grad); the integer indices get none */
    if (!wants(a, n, 0)) {
      return;
    }
    const cn_value *x = &g->values[n->in[0]];
    int64_t axis = cn_attr_int(n, "axis", 0);
    axis = axis < 0 ? axis + x->rank : axis; /* (the forward's inference checked the range) */
    const int64_t size = x->dims[axis];      /* (read before adding values moves them) */
    int in[2] = {n->in[1], dy}, out;
    int id = begin_node(a, CN_OP_GATHER_GRAD, 13, in, 2, 1, &out);
    attr_int(a, id, "axis", axis);
    attr_int(a, id, "size", size);
    if (finish(a, id)) {
      accumulate(a, n->in[0], out);
    }
    break;
  }
  default:
    unsupported(a, "this data-movement op has no gradient rule yet");
  }
}

static void apply_rule(ad *a, const cn_node *n, int dy) {
  switch (n->op) {
  case CN_OP_CONV: rule_conv(a, n, dy); break;
  case CN_OP_CONV_TRANSPOSE: rule_conv_transpose(a, n, dy); break;
  case CN_OP_GEMM: rule_gemm(a, n, dy); break;
  case CN_OP_MATMUL: rule_matmul(a, n, dy); break;
  case CN_OP_MAX_POOL:
  case CN_OP_AVERAGE_POOL:
  case CN_OP_GLOBAL_MAX_POOL:
  case CN_OP_GLOBAL_AVERAGE_POOL:
  case CN_OP_LP_POOL:
  case CN_OP_GLOBAL_LP_POOL: rule_pool(a, n, dy); break;
  case CN_OP_BATCH_NORM:
  case CN_OP_SOFTMAX:
  case CN_OP_LOG_SOFTMAX:
  case CN_OP_INSTANCE_NORM:
  case CN_OP_LRN:
  case CN_OP_LAYER_NORM: rule_norm(a, n, dy); break;
  case CN_OP_RESHAPE:
  case CN_OP_FLATTEN:
  case CN_OP_SQUEEZE:
  case CN_OP_UNSQUEEZE: rule_view(a, n, dy); break;
  case CN_OP_IDENTITY:
  case CN_OP_DROPOUT: /* inference mode: the identity */
    accumulate(a, n->in[0], dy);
    break;
  case CN_OP_REDUCE_SUM:
  case CN_OP_REDUCE_MEAN:
  case CN_OP_REDUCE_MAX:
  case CN_OP_REDUCE_MIN:
  case CN_OP_REDUCE_L1:
  case CN_OP_REDUCE_L2:
  case CN_OP_REDUCE_PROD:
  case CN_OP_REDUCE_SUM_SQUARE:
  case CN_OP_REDUCE_LOG_SUM:
  case CN_OP_REDUCE_LOG_SUM_EXP: rule_reduce(a, n, dy); break;
  case CN_OP_TRANSPOSE:
  case CN_OP_CONCAT:
  case CN_OP_SPLIT:
  case CN_OP_SLICE:
  case CN_OP_PAD:
  case CN_OP_TILE:
  case CN_OP_DEPTH_TO_SPACE:
  case CN_OP_SPACE_TO_DEPTH:
  case CN_OP_GATHER:
  case CN_OP_EXPAND: rule_tensor(a, n, dy); break;
  case CN_OP_ADD:
  case CN_OP_SUB:
  case CN_OP_MUL:
  case CN_OP_DIV:
  case CN_OP_POW:
  case CN_OP_SUM:
  case CN_OP_MEAN:
  case CN_OP_PRELU:
  case CN_OP_MIN:
  case CN_OP_MAX:
  case CN_OP_WHERE: rule_binary(a, n, dy); break;
  case CN_OP_RESIZE:
  case CN_OP_UPSAMPLE: rule_resize(a, n, dy); break;
  default:
    if (n->op >= CN_OP_RELU && n->op <= CN_OP_CAST) {
      rule_unary(a, n, dy);
    } else {
      unsupported(a, "the op has no gradient rule");
    }
  }
}

bool cn_op_has_grad(cn_op op) {
  switch (op) {
  case CN_OP_NOT:
  case CN_OP_EQUAL:
  case CN_OP_LESS:
  case CN_OP_GREATER:
  case CN_OP_LESS_OR_EQUAL:
  case CN_OP_GREATER_OR_EQUAL:
  case CN_OP_AND:
  case CN_OP_OR:
  case CN_OP_XOR:
  case CN_OP_ARG_MAX:
  case CN_OP_ARG_MIN:
  case CN_OP_HARDMAX:
  case CN_OP_SHAPE:
  case CN_OP_SIZE:
  case CN_OP_CONSTANT:
  case CN_OP_CONSTANT_OF_SHAPE: return false;
  default: return true;
  }
}

/* ---------------------------------------------------------------------------------------------
 * The pass.
 * ------------------------------------------------------------------------------------------- */

bool cn_autodiff(cn_graph *g, const cn_autodiff_opts *o, int *grads, cn_diag *d) {
  ad a = {0};
  a.g = g;
  a.d = d;
  a.ok = true;
  a.n_fwd_values = g->n_values;
  a.grad = cn_malloc(sizeof(int) * ((size_t)g->n_values + 1));
  a.need = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  for (int v = 0; v < g->n_values; v++) {
    a.grad[v] = -1;
  }
  /* need: reachable from a requested value through differentiable float data. */
  for (int i = 0; i < o->n_wrt; i++) {
    if (o->wrt[i] >= 0 && g->values[o->wrt[i]].dtype == CNNRT_F32) {
      a.need[o->wrt[i]] = true;
    }
  }
  int n_fwd_nodes = g->n_nodes;
  for (int i = 0; i < n_fwd_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead || n->backward || !cn_op_has_grad(n->op)) {
      continue;
    }
    bool any = false;
    for (int k = 0; k < n->n_in; k++) {
      any |= n->in[k] >= 0 && a.need[n->in[k]];
    }
    for (int k = 0; any && k < n->n_out; k++) {
      if (n->out[k] >= 0 && g->values[n->out[k]].dtype == CNNRT_F32) {
        a.need[n->out[k]] = true;
      }
    }
  }
  /* Seeds. */
  for (int r = 0; r < o->n_roots && a.ok; r++) {
    int root = o->roots[r];
    int seed = o->root_seeds ? o->root_seeds[r] : -1;
    if (root < 0 || g->values[root].dtype != CNNRT_F32 || !a.need[root]) {
      continue;
    }
    if (seed < 0) {
      const cn_value *rv = &g->values[root];
      if (cn_value_numel(rv) != 1) {
        cn_error(d, "autodiff: root '%s' is not a scalar and has no upstream gradient",
                 rv->name);
        a.ok = false;
        break;
      }
      int64_t dims[CN_MAX_RANK];
      memcpy(dims, rv->dims, sizeof(int64_t) * (size_t)rv->rank);
      a.cur = rv->producer >= 0 ? rv->producer : 0;
      seed = const_f32(&a, 1.0f, rv->rank, dims);
    }
    a.cur = g->values[root].producer >= 0 ? g->values[root].producer : 0;
    accumulate(&a, root, seed);
  }
  for (int i = n_fwd_nodes - 1; i >= 0 && a.ok; i--) {
    const cn_node *n = &g->nodes[i];
    if (n->dead || n->backward) {
      continue;
    }
    int dy = -1;
    for (int k = 0; k < n->n_out; k++) {
      if (n->out[k] >= 0 && a.grad[n->out[k]] >= 0) {
        dy = k == 0 ? a.grad[n->out[0]] : dy;
        if (k > 0 && n->op != CN_OP_SPLIT && n->op != CN_OP_MAX_POOL && n->op != CN_OP_DROPOUT &&
            n->op != CN_OP_BATCH_NORM) {
          a.cur = i;
          unsupported(&a, "gradient through a secondary output");
        }
        if (k > 0 && n->op == CN_OP_SPLIT) {
          dy = a.grad[n->out[k]];
        }
      }
    }
    if (dy < 0 || !a.ok) {
      continue;
    }
    bool any_input = false;
    for (int k = 0; k < n->n_in; k++) {
      any_input |= wants(&a, n, k);
    }
    if (!any_input) {
      continue;
    }
    a.cur = i;
    /* (g->nodes may move while the rule adds nodes: rules get a copy of the node header, whose
     * arrays and params stay put.) */
    cn_node copy = *n;
    apply_rule(&a, &copy, dy);
  }
  for (int i = 0; i < o->n_wrt; i++) {
    int v = o->wrt[i];
    grads[i] = a.ok && v >= 0 && v < a.n_fwd_values ? a.grad[v] : -1;
  }
  free(a.grad);
  free(a.need);
  return a.ok;
}

bool cn_pass_autodiff_outputs(cn_graph *g, cn_diag *d) {
  /* One seed per output (graph inputs of NAME_backward, not of NAME_run). */
  int n_out = g->n_outputs;
  g->seeds = cn_malloc(sizeof(int) * ((size_t)n_out + 1));
  g->n_seeds = n_out;
  int *roots = cn_malloc(sizeof(int) * ((size_t)n_out + 1));
  for (int i = 0; i < n_out; i++) {
    const cn_value *y = &g->values[g->outputs[i]];
    roots[i] = g->outputs[i];
    g->seeds[i] = -1;
    if (y->dtype != CNNRT_F32) {
      continue;
    }
    char *name = cn_fmt("grad_%s", y->name);
    char *unique = cn_unique_name(g, name);
    int s = cn_value_add(g, unique);
    free(name);
    free(unique);
    cn_value *sv = &g->values[s];
    const cn_value *yv = &g->values[g->outputs[i]];
    sv->kind = CN_VALUE_INPUT;
    sv->dtype = CNNRT_F32;
    cn_value_set_shape(sv, yv->rank, yv->dims);
    g->seeds[i] = s;
  }
  /* With respect to: float inputs, then float initializers live nodes read. */
  bool *read = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in; k++) {
      if (n->in[k] >= 0) {
        read[n->in[k]] = true;
      }
    }
  }
  int n_wrt = 0;
  int *wrt = cn_malloc(sizeof(int) * ((size_t)g->n_values + 1));
  for (int i = 0; i < g->n_inputs; i++) {
    if (g->values[g->inputs[i]].dtype == CNNRT_F32) {
      wrt[n_wrt++] = g->inputs[i];
    }
  }
  for (int v = 0; v < g->n_values; v++) {
    const cn_value *val = &g->values[v];
    if (val->kind == CN_VALUE_CONST && val->initializer && val->dtype == CNNRT_F32 && read[v]) {
      wrt[n_wrt++] = v;
    }
  }
  free(read);
  int *grads = cn_malloc(sizeof(int) * ((size_t)n_wrt + 1));
  cn_autodiff_opts o = {n_out, roots, g->seeds, n_wrt, wrt};
  bool ok = cn_autodiff(g, &o, grads, d);
  free(roots);
  g->n_grads = n_wrt;
  g->cap_grads = n_wrt;
  g->grads = grads;
  g->grad_wrt = wrt;
  return ok;
}
