/* grad.c — the backward-only ops the autodiff pass builds (compiler/passes/autodiff.c): shape
 * inference and emission. They are never read from a model and never folded (their inputs
 * always include a run-time gradient). Where a forward op computes a gradient already
 * (ConvTranspose for a convolution's data gradient, Gemm, ReduceSum, ...) the pass uses it
 * instead of an op here.
 *
 *   conv_grad_filter      (x, w, dy) -> dw        attributes of the forward Conv; w gives the shape
 *   max_pool_grad         (x, dy) -> dx           attributes of the forward MaxPool
 *   average_pool_grad     (x, dy) -> dx           attributes of the forward AveragePool
 *   global_max_pool_grad  (x, dy) -> dx
 *   batch_norm_grad       (x, scale, mean, var, dy) -> (dx, dscale, dbias, dmean, dvar)  epsilon
 *   batch_norm_train_grad (x, scale, dy) -> (dx, dscale, dbias)                          epsilon
 *   act_grad              (v, dy) -> dx           kind (enum cnnrt_act_grad), alpha, beta;
 *                                                 v is the forward input or output (kind says)
 *   softmax_grad, log_softmax_grad (y, dy) -> dx  axis, with the forward node's opset
 *   instance_norm_grad    (x, scale, dy) -> (dx, dscale, dbias)                          epsilon
 *   layer_norm_grad       (x, scale, dy) -> (dx, dscale, dbias)                 axis, epsilon
 *   resize_grad           (the forward's inputs..., dy) -> dx   attributes of the forward Resize
 *                                                 (upsample = 1: of an Upsample)
 *   gather_grad           (indices, dy) -> dx     axis (normalised), size (x's length along axis):
 *                                                 a scatter-add of dy into zeros (x itself is not
 *                                                 read, so it need not be kept for the backward) */
#include <stdio.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_act_grad.h"
#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_pool.h"
#include "../../runtime/cnnrt_resize.h"
#include "../ops.h"

/* Geometry of the channel-wise and softmax-like grads. */
typedef struct grad_params {
  int64_t n, c, spatial;          /* batch norm */
  int64_t outer, axis_len, inner; /* softmax */
  int64_t kind;                   /* act_grad */
  int64_t n_indices;              /* gather_grad (outer, axis_len, inner as softmax) */
  float eps, alpha, beta;
} grad_params;

static bool same_shape_as(cn_diag *d, cn_graph *g, const cn_node *n, int a, int b) {
  const cn_value *va = cn_in(g, n, a), *vb = cn_in(g, n, b);
  if (!cn_value_shape_eq(va, vb)) {
    char s1[160], s2[160];
    cn_error_node(d, n, "gradient shape %s does not match %s",
                  cn_shape_str(vb->rank, vb->dims, s1, sizeof s1),
                  cn_shape_str(va->rank, va->dims, s2, sizeof s2));
    return false;
  }
  return true;
}

/* Runs the forward op's shape inference on the first n_fwd_in inputs (which resolves the kernel
 * parameters into n->params), checks that dy has the forward output's shape, and gives output 0
 * the shape of input `like`. */
static bool infer_as_forward(cn_graph *g, cn_node *n, cn_diag *d, cn_op fwd, int n_fwd_in,
                             int dy_index, int like) {
  cn_op op = n->op;
  int n_in = n->n_in;
  n->op = fwd;
  n->n_in = n_fwd_in;
  bool ok = cn_op_infer(g, n, d);
  n->op = op;
  n->n_in = n_in;
  if (!ok) {
    return false;
  }
  const cn_value *fwd_out = cn_out(g, n, 0), *dy = cn_in(g, n, dy_index);
  if (!cn_value_shape_eq(fwd_out, dy)) {
    char s1[160], s2[160];
    cn_error_node(d, n, "upstream gradient shape %s does not match the forward output %s",
                  cn_shape_str(dy->rank, dy->dims, s1, sizeof s1),
                  cn_shape_str(fwd_out->rank, fwd_out->dims, s2, sizeof s2));
    return false;
  }
  const cn_value *l = cn_in(g, n, like);
  return cn_set_output(d, g, n, 0, CNNRT_F32, l->rank, l->dims);
}

static bool infer_channel_grad(cn_graph *g, cn_node *n, cn_diag *d, int dy_index, int n_params) {
  const cn_value *x = cn_in(g, n, 0);
  if (!same_shape_as(d, g, n, 0, dy_index) || x->rank < 2) {
    return false;
  }
  grad_params *p = cn_node_params(n, sizeof *p);
  p->n = x->dims[0];
  p->c = x->dims[1];
  p->spatial = cn_numel(x->rank - 2, x->dims + 2);
  p->eps = cn_attr_float(n, "epsilon", 1e-5f);
  if (!cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims)) {
    return false;
  }
  for (int o = 1; o <= n_params; o++) {
    if (!cn_set_output(d, g, n, o, CNNRT_F32, 1, &p->c)) {
      return false;
    }
  }
  return true;
}

bool cn_infer_grad(cn_graph *g, cn_node *n, cn_diag *d) {
  switch (n->op) {
  case CN_OP_CONV_GRAD_FILTER:
    return cn_check_arity(d, n, 3, 3, 1, 1) &&
           infer_as_forward(g, n, d, CN_OP_CONV, 2, 2, 1);
  case CN_OP_MAX_POOL_GRAD:
    return cn_check_arity(d, n, 2, 2, 1, 1) && infer_as_forward(g, n, d, CN_OP_MAX_POOL, 1, 1, 0);
  case CN_OP_AVERAGE_POOL_GRAD:
    return cn_check_arity(d, n, 2, 2, 1, 1) &&
           infer_as_forward(g, n, d, CN_OP_AVERAGE_POOL, 1, 1, 0);
  case CN_OP_GLOBAL_MAX_POOL_GRAD:
    return cn_check_arity(d, n, 2, 2, 1, 1) &&
           infer_as_forward(g, n, d, CN_OP_GLOBAL_MAX_POOL, 1, 1, 0);
  case CN_OP_BATCH_NORM_GRAD:
    return cn_check_arity(d, n, 5, 5, 1, 5) && infer_channel_grad(g, n, d, 4, n->n_out - 1);
  case CN_OP_BATCH_NORM_TRAIN_GRAD:
    return cn_check_arity(d, n, 3, 3, 1, 3) && infer_channel_grad(g, n, d, 2, n->n_out - 1);
  case CN_OP_ACT_GRAD: {
    if (!cn_check_arity(d, n, 2, 2, 1, 1) || !same_shape_as(d, g, n, 0, 1)) {
      return false;
    }
    grad_params *p = cn_node_params(n, sizeof *p);
    p->kind = cn_attr_int(n, "kind", -1);
    p->alpha = cn_attr_float(n, "alpha", 0.0f);
    p->beta = cn_attr_float(n, "beta", 0.0f);
    CN_ASSERT(p->kind >= 0 && p->kind < CNNRT_GRAD_COUNT);
    const cn_value *x = cn_in(g, n, 0);
    return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims);
  }
  case CN_OP_SOFTMAX_GRAD:
  case CN_OP_LOG_SOFTMAX_GRAD: {
    if (!cn_check_arity(d, n, 2, 2, 1, 1) || !same_shape_as(d, g, n, 0, 1)) {
      return false;
    }
    const cn_value *y = cn_in(g, n, 0);
    int axis;
    if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", n->opset < 13 ? 1 : -1), y->rank, &axis)) {
      return false;
    }
    grad_params *p = cn_node_params(n, sizeof *p);
    p->outer = cn_numel(axis, y->dims);
    if (n->opset < 13) { /* coerced to 2-D at axis, as the forward op */
      p->axis_len = cn_numel(y->rank - axis, y->dims + axis);
      p->inner = 1;
    } else {
      p->axis_len = y->dims[axis];
      p->inner = cn_numel(y->rank - axis - 1, y->dims + axis + 1);
    }
    return cn_set_output(d, g, n, 0, CNNRT_F32, y->rank, y->dims);
  }
  case CN_OP_INSTANCE_NORM_GRAD:
    return cn_check_arity(d, n, 3, 3, 1, 3) && infer_channel_grad(g, n, d, 2, n->n_out - 1);
  case CN_OP_LAYER_NORM_GRAD: {
    if (!cn_check_arity(d, n, 3, 3, 1, 3) || !same_shape_as(d, g, n, 0, 2)) {
      return false;
    }
    const cn_value *x = cn_in(g, n, 0), *sc = cn_in(g, n, 1);
    int axis;
    if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", -1), x->rank, &axis)) {
      return false;
    }
    grad_params *p = cn_node_params(n, sizeof *p);
    p->outer = cn_numel(axis, x->dims);
    p->inner = cn_numel(x->rank - axis, x->dims + axis);
    p->eps = cn_attr_float(n, "epsilon", 1e-5f);
    return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims) &&
           cn_set_output(d, g, n, 1, CNNRT_F32, sc->rank, sc->dims) &&
           cn_set_output(d, g, n, 2, CNNRT_F32, sc->rank, sc->dims);
  }
  case CN_OP_RESIZE_GRAD:
    return cn_check_arity(d, n, 1, 5, 1, 1) && n->n_in >= 2 && n->in[n->n_in - 1] >= 0 &&
           infer_as_forward(g, n, d, cn_attr_int(n, "upsample", 0) ? CN_OP_UPSAMPLE : CN_OP_RESIZE,
                            n->n_in - 1, n->n_in - 1, 0);
  case CN_OP_GATHER_GRAD: {
    if (!cn_check_arity(d, n, 2, 2, 1, 1)) {
      return false;
    }
    const cn_value *idx = cn_in(g, n, 0), *dy = cn_in(g, n, 1);
    const int64_t axis = cn_attr_int(n, "axis", -1), size = cn_attr_int(n, "size", -1);
    const int rank = dy->rank - idx->rank + 1; /* x's rank */
    /* built only by the autodiff pass from a Gather that inferred */
    CN_ASSERT(idx->dtype == CNNRT_I64 || idx->dtype == CNNRT_I32);
    CN_ASSERT(rank >= 1 && rank <= CN_MAX_RANK && axis >= 0 && axis < rank && size >= 0);
    int64_t dims[CN_MAX_RANK];
    for (int i = 0; i < rank; i++) {
      dims[i] = i < axis ? dy->dims[i] : (i == axis ? size : dy->dims[i - 1 + idx->rank]);
    }
    grad_params *p = cn_node_params(n, sizeof *p);
    p->outer = cn_numel((int)axis, dy->dims);
    p->axis_len = size;
    p->inner = cn_numel(rank - 1 - (int)axis, dims + axis + 1);
    p->n_indices = cn_value_numel(idx);
    return cn_set_output(d, g, n, 0, CNNRT_F32, rank, dims);
  }
  default:
    CN_UNREACHABLE();
  }
}

bool cn_eval_grad(cn_graph *g, cn_node *n) {
  (void)g;
  (void)n;
  return false; /* a gradient always depends on a run-time upstream gradient */
}

static const cn_field conv_fields[] = {
    CN_I64(cnnrt_conv_params, spatial),   CN_I64(cnnrt_conv_params, n),
    CN_I64(cnnrt_conv_params, c_in),      CN_I64(cnnrt_conv_params, c_out),
    CN_I64(cnnrt_conv_params, group),     CN_I64(cnnrt_conv_params, in),
    CN_I64(cnnrt_conv_params, out),       CN_I64(cnnrt_conv_params, kernel),
    CN_I64(cnnrt_conv_params, stride),    CN_I64(cnnrt_conv_params, dilation),
    CN_I64(cnnrt_conv_params, pad_begin), CN_I64(cnnrt_conv_params, act),
    CN_F32(cnnrt_conv_params, alpha),     CN_F32(cnnrt_conv_params, beta),
};

static const cn_field pool_fields[] = {
    CN_I64(cnnrt_pool_params, spatial),   CN_I64(cnnrt_pool_params, n),
    CN_I64(cnnrt_pool_params, c),         CN_I64(cnnrt_pool_params, in),
    CN_I64(cnnrt_pool_params, out),       CN_I64(cnnrt_pool_params, kernel),
    CN_I64(cnnrt_pool_params, stride),    CN_I64(cnnrt_pool_params, dilation),
    CN_I64(cnnrt_pool_params, pad_begin), CN_I64(cnnrt_pool_params, pad_end),
    CN_I64(cnnrt_pool_params, count_include_pad), CN_F32(cnnrt_pool_params, p),
    CN_I64(cnnrt_pool_params, storage_order),
};

static const cn_field resize_fields[] = {
    CN_I64(cnnrt_resize_params, rank),         CN_I64(cnnrt_resize_params, in),
    CN_I64(cnnrt_resize_params, out),          CN_F32(cnnrt_resize_params, scale),
    CN_F32(cnnrt_resize_params, roi_start),    CN_F32(cnnrt_resize_params, roi_end),
    CN_I64(cnnrt_resize_params, mode),         CN_I64(cnnrt_resize_params, nearest_mode),
    CN_I64(cnnrt_resize_params, coord_mode),   CN_F32(cnnrt_resize_params, cubic_a),
    CN_I64(cnnrt_resize_params, exclude_outside), CN_F32(cnnrt_resize_params, extrapolation_value),
    CN_I64(cnnrt_resize_params, from_sizes),
};

/* --target aarch64 / armv7: the NEON backward kernels (runtime/cnnrt_*_grad_neon.h). */
static bool target_is_arm(const cn_emitter *e) {
  return e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7;
}

static const char *in_or_null(cn_emitter *e, const cn_node *n, int i) {
  return cn_emit_in(e, cn_has_input(n, i) ? n->in[i] : -1);
}
static const char *out_or_null(cn_emitter *e, const cn_node *n, int i) {
  return cn_emit_out(e, i < n->n_out ? n->out[i] : -1);
}

void cn_emit_grad(cn_emitter *e, cn_graph *g, cn_node *n) {
  const cn_value *x = cn_in(g, n, 0);
  switch (n->op) {
  case CN_OP_CONV_GRAD_FILTER: {
    cn_emit_use(e, CN_RT_CONV | CN_RT_CONV_GRAD);
    const cnnrt_conv_params *cp = n->params;
    const char *p = cn_emit_params(e, "cnnrt_conv_params", CN_FIELDS(conv_fields), n->params);
    const char *x_ = cn_emit_in(e, n->in[0]), *dy = cn_emit_in(e, n->in[2]);
    const char *dw = cn_emit_out(e, n->out[0]);
    if (n->variant == 1) { /* schedule.c: the packed AVX2 GEMM, portable fallback otherwise */
      cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_CONV_GRAD_AVX2);
      int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter_avx2(%s, %s, %s, %s, %s, %lld, par);", p, x_,
                   dy, dw, cn_emit_scratch(e, n), (long long)max_tasks);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter(%s, %s, %s, %s, NULL, par);", p, x_, dy, dw);
      cn_emit_line(e, "#endif");
    } else if (e->opt->target == CN_TARGET_X86_64 && cp->group > 1 && cp->group == cp->c_in &&
               cp->group == cp->c_out) {
      /* depthwise: vectorised along the rows of each channel (cnnrt_conv_grad_avx2.h) */
      cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_CONV_GRAD_AVX2);
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_dwconv_grad_filter_avx2(%s, %s, %s, %s, par);", p, x_, dy, dw);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter(%s, %s, %s, %s, NULL, par);", p, x_, dy, dw);
      cn_emit_line(e, "#endif");
    } else if (target_is_arm(e) && cp->group > 1 && cp->group == cp->c_in &&
               cp->group == cp->c_out) {
      /* depthwise: vectorised along the rows of each channel (cnnrt_conv_grad_neon.h) */
      cn_emit_use(e, CN_RT_CONV_NEON | CN_RT_CONV_GRAD_NEON);
      cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
      cn_emit_line(e, "    cnnrt_f32_dwconv_grad_filter_neon(%s, %s, %s, %s, par);", p, x_, dy, dw);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter(%s, %s, %s, %s, NULL, par);", p, x_, dy, dw);
      cn_emit_line(e, "#endif");
    } else if (n->variant == 2) { /* schedule.c (ARM): the NEON packed GEMM (once per group) */
      cn_emit_use(e, CN_RT_CONV_NEON | CN_RT_CONV_GRAD_NEON);
      int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
      cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter_neon(%s, %s, %s, %s, %s, %lld, par);", p, x_,
                   dy, dw, cn_emit_scratch(e, n), (long long)max_tasks);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter(%s, %s, %s, %s, NULL, par);", p, x_, dy, dw);
      cn_emit_line(e, "#endif");
    } else {
      cn_emit_line(e, "    cnnrt_f32_conv_grad_filter(%s, %s, %s, %s, NULL, par);", p, x_, dy, dw);
    }
    break;
  }
  case CN_OP_MAX_POOL_GRAD:
  case CN_OP_AVERAGE_POOL_GRAD: {
    cn_emit_use(e, CN_RT_POOL | CN_RT_POOL_GRAD);
    const char *p = cn_emit_params(e, "cnnrt_pool_params", CN_FIELDS(pool_fields), n->params);
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    if (target_is_arm(e)) { /* the NEON forms (the references without NEON, in the header) */
      cn_emit_use(e, CN_RT_POOL_GRAD_NEON);
      if (n->op == CN_OP_MAX_POOL_GRAD) {
        cn_emit_line(e, "    cnnrt_f32_maxpool_grad_neon(%s, %s, %s, %s, par);", p,
                     cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      } else {
        cn_emit_line(e, "    cnnrt_f32_avgpool_grad_neon(%s, %s, %s, par);", p,
                     cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      }
      break;
    }
    if (x86) { /* the AVX2 forms (planes over the threads), the scalar references otherwise */
      cn_emit_use(e, CN_RT_POOL_GRAD_AVX2);
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      if (n->op == CN_OP_MAX_POOL_GRAD) {
        cn_emit_line(e, "    cnnrt_f32_maxpool_grad_avx2(%s, %s, %s, %s, par);", p,
                     cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      } else {
        cn_emit_line(e, "    cnnrt_f32_avgpool_grad_avx2(%s, %s, %s, par);", p,
                     cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      }
      cn_emit_line(e, "#else");
    }
    if (n->op == CN_OP_MAX_POOL_GRAD) {
      cn_emit_line(e, "    cnnrt_f32_maxpool_grad_ref(%s, %s, %s, %s);", p,
                   cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
    } else {
      cn_emit_line(e, "    cnnrt_f32_avgpool_grad_ref(%s, %s, %s);", p, cn_emit_in(e, n->in[1]),
                   cn_emit_out(e, n->out[0]));
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_GLOBAL_MAX_POOL_GRAD: {
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_POOL | CN_RT_POOL_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_POOL_GRAD_NEON);
      cn_emit_line(e, "    cnnrt_f32_global_maxpool_grad_neon(%lld, %lld, %s, %s, %s, par);",
                   (long long)(x->dims[0] * x->dims[1]),
                   (long long)cn_numel(x->rank - 2, x->dims + 2), cn_emit_in(e, n->in[0]),
                   cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_POOL_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e, "    cnnrt_f32_global_maxpool_grad_%s(%lld, %lld, %s, %s, %s%s);",
                   avx2 ? "avx2" : "ref", (long long)(x->dims[0] * x->dims[1]),
                   (long long)cn_numel(x->rank - 2, x->dims + 2), cn_emit_in(e, n->in[0]),
                   cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]), avx2 ? ", par" : "");
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_BATCH_NORM_GRAD: {
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_NORM_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_NORM_GRAD_NEON);
      cn_emit_line(e,
                   "    cnnrt_f32_batchnorm_grad_neon(%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, "
                   "%s, %s, %s, %s, %s, par);",
                   (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), in_or_null(e, n, 3), in_or_null(e, n, 4),
                   out_or_null(e, n, 0), out_or_null(e, n, 1), out_or_null(e, n, 2),
                   out_or_null(e, n, 3), out_or_null(e, n, 4));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_NORM_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e,
                   "    cnnrt_f32_batchnorm_grad%s(%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, %s, "
                   "%s, %s, %s, %s%s);",
                   avx2 ? "_avx2" : "", (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), in_or_null(e, n, 3), in_or_null(e, n, 4),
                   out_or_null(e, n, 0), out_or_null(e, n, 1), out_or_null(e, n, 2),
                   out_or_null(e, n, 3), out_or_null(e, n, 4), avx2 ? ", par" : "");
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_BATCH_NORM_TRAIN_GRAD: {
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_NORM_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_NORM_GRAD_NEON);
      cn_emit_line(e,
                   "    cnnrt_f32_batchnorm_train_grad_neon(%lld, %lld, %lld, %s, %s, %s, %s, %s, "
                   "%s, %s, par);",
                   (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), out_or_null(e, n, 0), out_or_null(e, n, 1),
                   out_or_null(e, n, 2));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_NORM_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e,
                   "    cnnrt_f32_batchnorm_train_grad%s(%lld, %lld, %lld, %s, %s, %s, %s, %s, "
                   "%s, %s%s);",
                   avx2 ? "_avx2" : "", (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), out_or_null(e, n, 0), out_or_null(e, n, 1),
                   out_or_null(e, n, 2), avx2 ? ", par" : "");
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_ACT_GRAD: {
    const grad_params *p = n->params;
    /* x86: the AVX2 form (every kind, Mish included); ARM targets: the
     * NEON kernels (cnnrt_act_grad_neon.h, the reference without NEON). */
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    const bool arm = e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7;
    cn_emit_use(e, CN_RT_ACT_GRAD | (arm ? CN_RT_ACT_NEON | CN_RT_ACT_GRAD_NEON : 0u));
    if (x86) {
      cn_emit_use(e, CN_RT_ACT_GRAD_AVX2);
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_act_grad_avx2(%lld, %s, %s, %lld, %s, %s, %s);",
                   (long long)p->kind, cn_emit_float(e, p->alpha), cn_emit_float(e, p->beta),
                   (long long)cn_value_numel(x), cn_emit_in(e, n->in[0]),
                   cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      cn_emit_line(e, "#else");
    }
    cn_emit_line(e, "    cnnrt_f32_act_grad%s(%lld, %s, %s, %lld, %s, %s, %s);", arm ? "_neon" : "",
                 (long long)p->kind,
                 cn_emit_float(e, p->alpha), cn_emit_float(e, p->beta),
                 (long long)cn_value_numel(x), cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]),
                 cn_emit_out(e, n->out[0]));
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_SOFTMAX_GRAD:
  case CN_OP_LOG_SOFTMAX_GRAD: {
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_NORM_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_NORM_GRAD_NEON);
      cn_emit_line(e, "    cnnrt_f32_%s_grad_neon(%lld, %lld, %lld, %s, %s, %s);",
                   n->op == CN_OP_SOFTMAX_GRAD ? "softmax" : "logsoftmax", (long long)p->outer,
                   (long long)p->axis_len, (long long)p->inner, cn_emit_in(e, n->in[0]),
                   cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_NORM_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e, "    cnnrt_f32_%s_grad_%s(%lld, %lld, %lld, %s, %s, %s);",
                   n->op == CN_OP_SOFTMAX_GRAD ? "softmax" : "logsoftmax", avx2 ? "avx2" : "ref",
                   (long long)p->outer, (long long)p->axis_len, (long long)p->inner,
                   cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_INSTANCE_NORM_GRAD: {
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_NORM_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_NORM_GRAD_NEON);
      cn_emit_line(e,
                   "    cnnrt_f32_instancenorm_grad_neon(%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, "
                   "%s, par);",
                   (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), out_or_null(e, n, 0), out_or_null(e, n, 1),
                   out_or_null(e, n, 2));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_NORM_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e,
                   "    cnnrt_f32_instancenorm_grad_%s(%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, "
                   "%s%s);",
                   avx2 ? "avx2" : "ref", (long long)p->n, (long long)p->c, (long long)p->spatial,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), out_or_null(e, n, 0), out_or_null(e, n, 1),
                   out_or_null(e, n, 2), avx2 ? ", par" : "");
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_LAYER_NORM_GRAD: {
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64;
    cn_emit_use(e, CN_RT_NORM_GRAD);
    if (target_is_arm(e)) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_use(e, CN_RT_NORM_GRAD_NEON);
      cn_emit_line(e, "    cnnrt_f32_layernorm_grad_neon(%lld, %lld, %s, %s, %s, %s, %s, %s, %s, par);",
                   (long long)p->outer, (long long)p->inner, cn_emit_float(e, p->eps),
                   in_or_null(e, n, 0), in_or_null(e, n, 1), in_or_null(e, n, 2),
                   out_or_null(e, n, 0), out_or_null(e, n, 1), out_or_null(e, n, 2));
      break;
    }
    for (int avx2 = x86 ? 1 : 0; avx2 >= 0; avx2--) { /* x86: the AVX2 form, else the scalar */
      if (avx2) {
        cn_emit_use(e, CN_RT_NORM_GRAD_AVX2);
        cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      } else if (x86) {
        cn_emit_line(e, "#else");
      }
      cn_emit_line(e, "    cnnrt_f32_layernorm_grad_%s(%lld, %lld, %s, %s, %s, %s, %s, %s, %s%s);",
                   avx2 ? "avx2" : "ref", (long long)p->outer, (long long)p->inner,
                   cn_emit_float(e, p->eps), in_or_null(e, n, 0), in_or_null(e, n, 1),
                   in_or_null(e, n, 2), out_or_null(e, n, 0), out_or_null(e, n, 1),
                   out_or_null(e, n, 2), avx2 ? ", par" : "");
    }
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_GATHER_GRAD: { /* a scatter-add (runtime/cnnrt_tensor.h; SIMD forms in
                              * cnnrt_scatter_grad_avx2.h / _neon.h, bit-identical) */
    const grad_params *p = n->params;
    const bool x86 = e->opt->target == CN_TARGET_X86_64, arm = target_is_arm(e);
    cn_emit_use(e, CN_RT_TENSOR);
    if (x86 || arm) {
      cn_emit_use(e, CN_RT_RESIZE | CN_RT_RESIZE_GRAD | CN_RT_SCATTER_GRAD_SIMD);
    }
    char args[1024];
    const int len =
        snprintf(args, sizeof args, "%lld, %lld, %lld, %s, %lld, %d, %s, %s", (long long)p->outer,
                 (long long)p->axis_len, (long long)p->inner, cn_emit_in_void(e, n->in[0]),
                 (long long)p->n_indices, cn_dtype_size(x->dtype) /* x: the indices here */,
                 cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
    CN_ASSERT(len > 0 && len < (int)sizeof args);
    if (arm) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_line(e, "    cnnrt_f32_gather_grad_neon(%s, par);", args);
      break;
    }
    if (x86) {
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_gather_grad_avx2(%s, par);", args);
      cn_emit_line(e, "#else");
    }
    cn_emit_line(e, "    cnnrt_f32_gather_grad_ref(%s);", args);
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  case CN_OP_RESIZE_GRAD: {
    const bool x86 = e->opt->target == CN_TARGET_X86_64, arm = target_is_arm(e);
    cn_emit_use(e, CN_RT_RESIZE | CN_RT_RESIZE_GRAD);
    if (x86 || arm) { /* the SIMD headers include cnnrt_tensor.h (Gather's index helper) */
      cn_emit_use(e, CN_RT_TENSOR | CN_RT_SCATTER_GRAD_SIMD);
    }
    const char *p = cn_emit_params(e, "cnnrt_resize_params", CN_FIELDS(resize_fields), n->params);
    const char *dy = cn_emit_in(e, n->in[n->n_in - 1]), *dx = cn_emit_out(e, n->out[0]);
    if (arm) { /* the NEON form (the reference without NEON, in the header) */
      cn_emit_line(e, "    cnnrt_f32_resize_grad_neon(%s, %s, %s, par);", p, dy, dx);
      break;
    }
    if (x86) {
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_resize_grad_avx2(%s, %s, %s, par);", p, dy, dx);
      cn_emit_line(e, "#else");
    }
    cn_emit_line(e, "    cnnrt_f32_resize_grad_ref(%s, %s, %s);", p, dy, dx);
    if (x86) {
      cn_emit_line(e, "#endif");
    }
    break;
  }
  default:
    CN_UNREACHABLE();
  }
}
