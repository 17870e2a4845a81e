/* constant.c — ops whose result is known at compile time from attributes or shapes alone:
 * Constant, ConstantOfShape, Shape, Size. They are always folded, so they never reach codegen. */
#include <string.h>

#include "../../codegen/emit.h"
#include "../ops.h"

bool cn_infer_constant(cn_graph *g, cn_node *n, cn_diag *d) {
  switch (n->op) {
  case CN_OP_CONSTANT: {
    if (!cn_check_arity(d, n, 0, 0, 1, 1)) {
      return false;
    }
    const cn_attr *a = n->n_attrs == 1 ? &n->attrs[0] : NULL;
    if (!a) {
      cn_error_node(d, n, "needs exactly one attribute giving its value");
      return false;
    }
    if (strcmp(a->name, "value") == 0 && a->type == CN_ATTR_TENSOR) {
      return cn_set_output(d, g, n, 0, a->t->dtype, a->t->rank, a->t->dims);
    }
    int64_t count = a->n;
    if (strcmp(a->name, "value_float") == 0 && a->type == CN_ATTR_FLOAT) {
      return cn_set_output(d, g, n, 0, CNNRT_F32, 0, NULL);
    }
    if (strcmp(a->name, "value_int") == 0 && a->type == CN_ATTR_INT) {
      return cn_set_output(d, g, n, 0, CNNRT_I64, 0, NULL);
    }
    if (strcmp(a->name, "value_floats") == 0 && a->type == CN_ATTR_FLOATS) {
      return cn_set_output(d, g, n, 0, CNNRT_F32, 1, &count);
    }
    if (strcmp(a->name, "value_ints") == 0 && a->type == CN_ATTR_INTS) {
      return cn_set_output(d, g, n, 0, CNNRT_I64, 1, &count);
    }
    cn_error_node(d, n, "attribute '%s' is not a supported Constant value", a->name);
    return false;
  }
  case CN_OP_CONSTANT_OF_SHAPE: {
    if (!cn_check_arity(d, n, 1, 1, 1, 1) || !cn_require_const(d, g, n, 0, "input")) {
      return false;
    }
    const cn_value *s = cn_in(g, n, 0);
    if (s->rank != 1 || cn_value_numel(s) > CN_MAX_RANK) {
      cn_error_node(d, n, "input must be a 1-D shape of at most %d values", CN_MAX_RANK);
      return false;
    }
    int64_t dims[CN_MAX_RANK];
    int rank = cn_const_ints(g, n, 0, dims, CN_MAX_RANK);
    const cn_attr *a = cn_attr_find(n, "value");
    cn_dtype t = CNNRT_F32;
    if (a) {
      if (a->type != CN_ATTR_TENSOR || cn_numel(a->t->rank, a->t->dims) != 1) {
        cn_error_node(d, n, "attribute 'value' must be a one-element tensor");
        return false;
      }
      t = a->t->dtype;
    }
    return cn_set_output(d, g, n, 0, t, rank, dims);
  }
  case CN_OP_SHAPE: {
    if (!cn_check_arity(d, n, 1, 1, 1, 1)) {
      return false;
    }
    const cn_value *x = cn_in(g, n, 0);
    int64_t start = cn_attr_int(n, "start", 0), end = cn_attr_int(n, "end", x->rank);
    start = start < 0 ? start + x->rank : start;
    end = end < 0 ? end + x->rank : end;
    start = start < 0 ? 0 : (start > x->rank ? x->rank : start);
    end = end < 0 ? 0 : (end > x->rank ? x->rank : end);
    int64_t len = end > start ? end - start : 0;
    return cn_set_output(d, g, n, 0, CNNRT_I64, 1, &len);
  }
  case CN_OP_SIZE:
    return cn_check_arity(d, n, 1, 1, 1, 1) && cn_set_output(d, g, n, 0, CNNRT_I64, 0, NULL);
  default:
    CN_UNREACHABLE();
  }
}

bool cn_eval_constant(cn_graph *g, cn_node *n) {
  cn_value *y = cn_out(g, n, 0);
  cn_fold_outputs(g, n);
  switch (n->op) {
  case CN_OP_CONSTANT: {
    const cn_attr *a = &n->attrs[0];
    if (a->type == CN_ATTR_TENSOR) {
      memcpy(y->data, a->t->data, (size_t)cn_value_bytes(y));
    } else if (a->type == CN_ATTR_FLOAT) {
      ((float *)y->data)[0] = a->f;
    } else if (a->type == CN_ATTR_INT) {
      ((int64_t *)y->data)[0] = a->i;
    } else if (a->type == CN_ATTR_FLOATS) {
      memcpy(y->data, a->floats, sizeof(float) * (size_t)a->n);
    } else {
      memcpy(y->data, a->ints, sizeof(int64_t) * (size_t)a->n);
    }
    return true;
  }
  case CN_OP_CONSTANT_OF_SHAPE: {
    const cn_attr *a = cn_attr_find(n, "value");
    int64_t count = cn_value_numel(y);
    int size = cn_dtype_size(y->dtype);
    for (int64_t i = 0; a && i < count; i++) {
      memcpy((unsigned char *)y->data + i * size, a->t->data, (size_t)size);
    }
    return true; /* without `value`: float zeros, already there */
  }
  case CN_OP_SHAPE: {
    const cn_value *x = cn_in(g, n, 0);
    int64_t start = cn_attr_int(n, "start", 0);
    start = start < 0 ? start + x->rank : start;
    start = start < 0 ? 0 : (start > x->rank ? x->rank : start);
    for (int64_t i = 0; i < y->dims[0]; i++) {
      ((int64_t *)y->data)[i] = x->dims[start + i];
    }
    return true;
  }
  case CN_OP_SIZE:
    ((int64_t *)y->data)[0] = cn_value_numel(cn_in(g, n, 0));
    return true;
  default:
    CN_UNREACHABLE();
  }
}

void cn_emit_constant(cn_emitter *e, cn_graph *g, cn_node *n) {
  (void)e;
  (void)g;
  (void)n;
  CN_UNREACHABLE(); /* always folded by the infer pass */
}
