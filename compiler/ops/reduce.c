/* reduce.c — ReduceMean/Max/Min/Sum/L1/L2/Prod/SumSquare/LogSum/LogSumExp over any set of axes,
 * and ArgMax/ArgMin (runtime/cnnrt_reduce.h). keepdims changes only the output's shape. */
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_reduce.h"
#include "../ops.h"

typedef struct reduce_params {
  cnnrt_reduce_params r;
  int64_t outer, axis_len, inner, select_last; /* ArgMax / ArgMin */
  int identity;                                /* noop_with_empty_axes with no axes: a copy */
} reduce_params;

static const char *reduce_name(cn_op op) {
  switch (op) {
  case CN_OP_REDUCE_MEAN: return "mean";
  case CN_OP_REDUCE_MAX: return "max";
  case CN_OP_REDUCE_MIN: return "min";
  case CN_OP_REDUCE_SUM: return "sum";
  case CN_OP_REDUCE_L2: return "l2";
  case CN_OP_REDUCE_L1: return "l1";
  case CN_OP_REDUCE_PROD: return "prod";
  case CN_OP_REDUCE_SUM_SQUARE: return "sum_square";
  case CN_OP_REDUCE_LOG_SUM: return "log_sum";
  case CN_OP_REDUCE_LOG_SUM_EXP: return "log_sum_exp";
  default: CN_UNREACHABLE();
  }
}

static bool is_arg(cn_op op) { return op == CN_OP_ARG_MAX || op == CN_OP_ARG_MIN; }

bool cn_infer_reduce(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 1, 2, 1, 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0);
  reduce_params *p = cn_node_params(n, sizeof *p);
  bool keep = cn_attr_int(n, "keepdims", 1) != 0;
  int64_t dims[CN_MAX_RANK];
  int rank = 0;
  if (is_arg(n->op)) {
    if (x->dtype != CNNRT_F32 && x->dtype != CNNRT_I32 && x->dtype != CNNRT_I64) {
      cn_error_node(d, n, "%s inputs are not supported", cn_dtype_name(x->dtype));
      return false;
    }
    int axis;
    if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", 0), x->rank, &axis)) {
      return false;
    }
    p->outer = cn_numel(axis, x->dims);
    p->axis_len = x->dims[axis];
    p->inner = cn_numel(x->rank - axis - 1, x->dims + axis + 1);
    p->select_last = cn_attr_int(n, "select_last_index", 0);
    for (int a = 0; a < x->rank; a++) {
      if (a != axis) {
        dims[rank++] = x->dims[a];
      } else if (keep) {
        dims[rank++] = 1;
      }
    }
    return cn_set_output(d, g, n, 0, CNNRT_I64, rank, dims);
  }
  bool int_ok = n->op == CN_OP_REDUCE_MAX || n->op == CN_OP_REDUCE_MIN || n->op == CN_OP_REDUCE_SUM;
  if (x->dtype != CNNRT_F32 && !(int_ok && (x->dtype == CNNRT_I32 || x->dtype == CNNRT_I64))) {
    cn_error_node(d, n, "%s inputs are not supported", cn_dtype_name(x->dtype));
    return false;
  }
  int64_t axes[CN_MAX_RANK];
  int na = -1;
  bool axes_from_input = n->op == CN_OP_REDUCE_SUM ? n->opset >= 13 : n->opset >= 18;
  if (axes_from_input) {
    if (cn_has_input(n, 1)) {
      if (!cn_require_const(d, g, n, 1, "axes")) {
        return false;
      }
      if (cn_value_numel(cn_in(g, n, 1)) > CN_MAX_RANK) {
        cn_error_node(d, n, "too many axes");
        return false;
      }
      na = cn_const_ints(g, n, 1, axes, CN_MAX_RANK);
    }
  } else {
    const int64_t *a;
    na = cn_attr_ints(n, "axes", &a);
    if (na > CN_MAX_RANK) {
      cn_error_node(d, n, "too many axes");
      return false;
    }
    if (na > 0) {
      memcpy(axes, a, sizeof(int64_t) * (size_t)na);
    }
  }
  p->r.rank = x->rank;
  for (int a = 0; a < x->rank; a++) {
    p->r.in[a] = x->dims[a];
  }
  if (na <= 0) {
    if (cn_attr_int(n, "noop_with_empty_axes", 0)) {
      p->identity = 1;
    } else {
      for (int a = 0; a < x->rank; a++) {
        p->r.reduce[a] = 1;
      }
    }
  }
  for (int i = 0; i < na; i++) {
    int a;
    if (!cn_norm_axis(d, n, axes[i], x->rank, &a)) {
      return false;
    }
    p->r.reduce[a] = 1;
  }
  for (int a = 0; a < x->rank; a++) {
    if (!p->r.reduce[a]) {
      dims[rank++] = x->dims[a];
    } else if (keep) {
      dims[rank++] = 1;
    }
  }
  return cn_set_output(d, g, n, 0, x->dtype, rank, dims);
}

bool cn_eval_reduce(cn_graph *g, cn_node *n) {
  (void)g;
  (void)n;
  return false; /* folding reductions of constants is rare; they run at run time */
}

static const cn_field reduce_fields[] = {CN_I64(cnnrt_reduce_params, rank),
                                         CN_I64(cnnrt_reduce_params, in),
                                         CN_I64(cnnrt_reduce_params, reduce)};

void cn_emit_reduce(cn_emitter *e, cn_graph *g, cn_node *n) {
  const reduce_params *p = n->params;
  const cn_value *x = cn_in(g, n, 0);
  cn_emit_use(e, CN_RT_REDUCE);
  const char *xs = cn_emit_in(e, n->in[0]), *ys = cn_emit_out(e, n->out[0]);
  if (is_arg(n->op)) {
    cn_emit_line(e, "    cnnrt_%s_%s(%lld, %lld, %lld, %lld, %s, %s);", cn_dtype_suffix(x->dtype),
                 n->op == CN_OP_ARG_MAX ? "argmax" : "argmin", (long long)p->outer,
                 (long long)p->axis_len, (long long)p->inner, (long long)p->select_last, xs, ys);
    return;
  }
  if (p->identity) {
    cn_emit_line(e, "    memcpy(%s, %s, %lld);", cn_emit_out_void(e, n->out[0]),
                 cn_emit_in_void(e, n->in[0]), (long long)cn_value_bytes(x));
    return;
  }
  const char *pp = cn_emit_params(e, "cnnrt_reduce_params", CN_FIELDS(reduce_fields), &p->r);
  cn_emit_line(e, "    cnnrt_%s_reduce_%s(%s, %s, %s);", cn_dtype_suffix(x->dtype),
               reduce_name(n->op), pp, xs, ys);
}
