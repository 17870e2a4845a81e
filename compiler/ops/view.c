/* view.c — ops that only reinterpret a tensor's shape: Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity and inference-mode Dropout. Their output shares the input's storage (value.alias),
 * so they cost nothing at run time; only a view that is itself a graph output is copied. */
#include <string.h>

#include "../../codegen/emit.h"
#include "../ops.h"

static bool infer_reshape(cn_graph *g, cn_node *n, cn_diag *d, int64_t *dims, int *rank) {
  const cn_value *x = cn_in(g, n, 0);
  int64_t shape[CN_MAX_RANK];
  int count;
  if (n->opset < 5) {
    const int64_t *s;
    count = cn_attr_ints(n, "shape", &s);
    if (count < 0) {
      cn_error_node(d, n, "attribute 'shape' is required");
      return false;
    }
    if (count > CN_MAX_RANK) {
      cn_error_node(d, n, "target shape has %d dimensions; at most %d are supported", count,
                    CN_MAX_RANK);
      return false;
    }
    memcpy(shape, s, sizeof(int64_t) * (size_t)count);
  } else {
    if (!cn_check_arity(d, n, 2, 2, 1, 1) || !cn_require_const(d, g, n, 1, "shape")) {
      return false;
    }
    const cn_value *s = cn_in(g, n, 1);
    if (s->rank != 1 || cn_value_numel(s) > CN_MAX_RANK) {
      cn_error_node(d, n, "input 'shape' must be a 1-D tensor of at most %d values", CN_MAX_RANK);
      return false;
    }
    count = cn_const_ints(g, n, 1, shape, CN_MAX_RANK);
  }
  bool allowzero = cn_attr_int(n, "allowzero", 0) != 0;
  int infer_at = -1;
  int64_t known = 1;
  for (int i = 0; i < count; i++) {
    int64_t s = shape[i];
    if (s == 0 && !allowzero) {
      if (i >= x->rank) {
        cn_error_node(d, n, "shape[%d] = 0 copies a dimension the input (rank %d) does not have",
                      i, x->rank);
        return false;
      }
      s = x->dims[i];
    } else if (s == -1) {
      if (infer_at >= 0) {
        cn_error_node(d, n, "shape has more than one -1");
        return false;
      }
      infer_at = i;
      dims[i] = 1;
      continue;
    } else if (s < -1) {
      cn_error_node(d, n, "shape[%d] = %lld is invalid", i, (long long)s);
      return false;
    }
    dims[i] = s;
    if (!cn_mul_checked(known, s, CN_MAX_ELEMENTS, &known)) {
      cn_error_node(d, n, "target shape is too large");
      return false;
    }
  }
  int64_t total = cn_value_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) {
      cn_error_node(d, n, "cannot reshape %lld elements with a -1 dimension and %lld others",
                    (long long)total, (long long)known);
      return false;
    }
    dims[infer_at] = total / known;
    known = total;
  }
  if (known != total) {
    char a[160], b[160];
    cn_error_node(d, n, "cannot reshape %s (%lld elements) to %s",
                  cn_shape_str(x->rank, x->dims, a, sizeof a), (long long)total,
                  cn_shape_str(count, dims, b, sizeof b));
    return false;
  }
  *rank = count;
  return true;
}

/* Squeeze/Unsqueeze axes: attribute before opset 13, input from 13 on. */
static int axes_of(cn_graph *g, cn_node *n, cn_diag *d, int64_t *axes, bool *ok) {
  *ok = true;
  if (n->opset < 13) {
    const int64_t *a;
    int count = cn_attr_ints(n, "axes", &a);
    if (count > CN_MAX_RANK) {
      cn_error_node(d, n, "too many axes");
      *ok = false;
      return 0;
    }
    if (count > 0) {
      memcpy(axes, a, sizeof(int64_t) * (size_t)count);
    }
    return count;
  }
  if (!cn_has_input(n, 1)) {
    return -1;
  }
  if (!cn_require_const(d, g, n, 1, "axes")) {
    *ok = false;
    return 0;
  }
  if (cn_value_numel(cn_in(g, n, 1)) > CN_MAX_RANK) {
    cn_error_node(d, n, "too many axes");
    *ok = false;
    return 0;
  }
  return cn_const_ints(g, n, 1, axes, CN_MAX_RANK);
}

bool cn_infer_view(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 1, n->op == CN_OP_DROPOUT ? 3 : 2, 1, n->op == CN_OP_DROPOUT ? 2 : 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0);
  int64_t dims[CN_MAX_RANK];
  int rank = 0;
  switch (n->op) {
  case CN_OP_RESHAPE:
    if (!infer_reshape(g, n, d, dims, &rank)) {
      return false;
    }
    break;
  case CN_OP_FLATTEN: {
    int64_t axis = cn_attr_int(n, "axis", 1);
    if (axis < 0) {
      axis += x->rank;
    }
    if (axis < 0 || axis > x->rank) {
      cn_error_node(d, n, "axis %lld is out of range for rank %d",
                    (long long)cn_attr_int(n, "axis", 1), x->rank);
      return false;
    }
    dims[0] = cn_numel((int)axis, x->dims);
    dims[1] = cn_numel(x->rank - (int)axis, x->dims + axis);
    rank = 2;
    break;
  }
  case CN_OP_SQUEEZE: {
    int64_t axes[CN_MAX_RANK];
    bool ok;
    int count = axes_of(g, n, d, axes, &ok);
    if (!ok) {
      return false;
    }
    bool drop[CN_MAX_RANK] = {false};
    if (count <= 0) {
      for (int i = 0; i < x->rank; i++) {
        drop[i] = x->dims[i] == 1;
      }
    }
    for (int i = 0; i < count; i++) {
      int a;
      if (!cn_norm_axis(d, n, axes[i], x->rank, &a)) {
        return false;
      }
      if (x->dims[a] != 1) {
        cn_error_node(d, n, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
        return false;
      }
      drop[a] = true;
    }
    for (int i = 0; i < x->rank; i++) {
      if (!drop[i]) {
        dims[rank++] = x->dims[i];
      }
    }
    break;
  }
  case CN_OP_UNSQUEEZE: {
    int64_t axes[CN_MAX_RANK];
    bool ok;
    int count = axes_of(g, n, d, axes, &ok);
    if (!ok) {
      return false;
    }
    if (count <= 0) {
      cn_error_node(d, n, "'axes' is required");
      return false;
    }
    rank = x->rank + count;
    if (rank > CN_MAX_RANK) {
      cn_error_node(d, n, "result would have rank %d; at most %d is supported", rank, CN_MAX_RANK);
      return false;
    }
    bool inserted[CN_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
      int a;
      if (!cn_norm_axis(d, n, axes[i], rank, &a)) {
        return false;
      }
      if (inserted[a]) {
        cn_error_node(d, n, "axis %d is repeated", a);
        return false;
      }
      inserted[a] = true;
    }
    for (int i = 0, k = 0; i < rank; i++) {
      dims[i] = inserted[i] ? 1 : x->dims[k++];
    }
    break;
  }
  case CN_OP_DROPOUT:
    if (cn_has_input(n, 2)) {
      const cn_value *t = cn_in(g, n, 2), *ratio = cn_in(g, n, 1);
      if (t->kind != CN_VALUE_CONST || cn_value_numel(t) != 1) {
        cn_error_node(d, n, "training_mode must be a constant scalar (cnncc compiles inference "
                            "graphs; use --train for training)");
        return false;
      }
      /* (a ratio known to be 0 makes training mode the identity too) */
      if (cn_value_get_int(t, 0) != 0 &&
          (!ratio || ratio->kind != CN_VALUE_CONST || cn_value_numel(ratio) != 1 ||
           cn_value_get_float(ratio, 0) != 0.0)) {
        cn_error_node(d, n, "training-mode Dropout is not supported in an inference graph");
        return false;
      }
    }
    if (cn_out(g, n, 1)) { /* mask: all true at inference */
      if (!cn_set_output(d, g, n, 1, CNNRT_BOOL, x->rank, x->dims)) {
        return false;
      }
    }
    /* fall through */
  case CN_OP_IDENTITY:
    rank = x->rank;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    break;
  default:
    CN_UNREACHABLE();
  }
  if (!cn_set_output(d, g, n, 0, x->dtype, rank, dims)) {
    return false;
  }
  cn_value *y = cn_out(g, n, 0);
  y->alias = y->is_output ? -1 : n->in[0];
  return true;
}

bool cn_eval_view(cn_graph *g, cn_node *n) {
  cn_value *x = cn_in(g, n, 0);
  cn_value *y = cn_out(g, n, 0);
  y->alias = -1;
  cn_fold_outputs(g, n);
  memcpy(y->data, x->data, (size_t)cn_value_bytes(x));
  cn_value *mask = cn_out(g, n, 1);
  if (mask) {
    memset(mask->data, 1, (size_t)cn_value_bytes(mask));
  }
  return true;
}

void cn_emit_view(cn_emitter *e, cn_graph *g, cn_node *n) {
  cn_value *y = cn_out(g, n, 0);
  if (y->alias >= 0) {
    cn_emit_line(e, "    /* view: shares the storage of '%s' */",
                 cn_emit_comment(e, cn_in(g, n, 0)->name));
  } else {
    cn_emit_line(e, "    memcpy(%s, %s, %lld);", cn_emit_out_void(e, n->out[0]),
                 cn_emit_in_void(e, n->in[0]), (long long)cn_value_bytes(y));
  }
  cn_value *mask = cn_out(g, n, 1);
  if (mask) {
    cn_emit_line(e, "    memset(%s, 1, %lld);", cn_emit_out_void(e, n->out[1]),
                 (long long)cn_value_bytes(mask));
  }
}
