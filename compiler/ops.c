/* ops.c — dispatch from op to family, and helpers shared by the op families. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

typedef bool (*infer_fn)(cn_graph *, cn_node *, cn_diag *);
typedef bool (*eval_fn)(cn_graph *, cn_node *);
typedef void (*emit_fn)(struct cn_emitter *, cn_graph *, cn_node *);

static const infer_fn infer_table[] = {
#define OP(id, name, onnx, family) cn_infer_##family,
#include "ops.def"
#undef OP
};
static const eval_fn eval_table[] = {
#define OP(id, name, onnx, family) cn_eval_##family,
#include "ops.def"
#undef OP
};
static const emit_fn emit_table[] = {
#define OP(id, name, onnx, family) cn_emit_##family,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof infer_table / sizeof infer_table[0] == CN_OP_COUNT, "op table out of step");

bool cn_op_infer(cn_graph *g, cn_node *n, cn_diag *d) { return infer_table[n->op](g, n, d); }
bool cn_op_eval(cn_graph *g, cn_node *n) { return eval_table[n->op](g, n); }
void cn_op_emit(struct cn_emitter *e, cn_graph *g, cn_node *n) { emit_table[n->op](e, g, n); }

bool cn_check_arity(cn_diag *d, const cn_node *n, int min_in, int max_in, int min_out,
                    int max_out) {
  if (n->n_in < min_in || n->n_in > max_in) {
    if (min_in == max_in) {
      cn_error_node(d, n, "takes %d input%s, got %d", min_in, min_in == 1 ? "" : "s", n->n_in);
    } else {
      cn_error_node(d, n, "takes %d to %d inputs, got %d", min_in, max_in, n->n_in);
    }
    return false;
  }
  for (int i = 0; i < min_in; i++) {
    if (n->in[i] < 0) {
      cn_error_node(d, n, "input %d is required", i);
      return false;
    }
  }
  if (n->n_out < min_out || n->n_out > max_out) {
    cn_error_node(d, n, "has %d outputs; %d to %d expected", n->n_out, min_out, max_out);
    return false;
  }
  return true;
}

bool cn_require_input(cn_diag *d, cn_graph *g, const cn_node *n, int i, const char *what) {
  const cn_value *v = cn_in(g, n, i);
  if (!v) {
    cn_error_node(d, n, "input '%s' is required", what);
    return false;
  }
  if (v->rank < 0) {
    cn_error_node(d, n, "input '%s' (%s) has an unknown shape", what, v->name);
    return false;
  }
  return true;
}

bool cn_require_const(cn_diag *d, cn_graph *g, const cn_node *n, int i, const char *what) {
  const cn_value *v = cn_in(g, n, i);
  if (v && v->kind != CN_VALUE_CONST) {
    cn_error_node(d, n,
                  "input '%s' ('%s') must be known at compile time; make it an initializer or "
                  "bind it with --bind %s=FILE.npy",
                  what, v->name, v->name);
    return false;
  }
  return true;
}

int64_t cn_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    n *= dims[i];
  }
  return n;
}

bool cn_set_output(cn_diag *d, cn_graph *g, const cn_node *n, int i, cn_dtype dtype, int rank,
                   const int64_t *dims) {
  cn_value *v = cn_out(g, n, i);
  if (!v) {
    return true; /* optional output not used */
  }
  if (rank < 0 || rank > CN_MAX_RANK) {
    cn_error_node(d, n, "output '%s' would have rank %d; at most %d is supported", v->name, rank,
                  CN_MAX_RANK);
    return false;
  }
  for (int k = 0; k < rank; k++) {
    if (dims[k] < 0) {
      char buf[200];
      cn_error_node(d, n, "output '%s' would have a negative dimension: %s", v->name,
                    cn_shape_str(rank, dims, buf, sizeof buf));
      return false;
    }
  }
  int64_t total;
  if (!cn_numel_checked(rank, dims, CN_MAX_ELEMENTS, &total)) {
    cn_error_node(d, n, "output '%s' would be too large (more than 2^34 elements)", v->name);
    return false;
  }
  v->dtype = dtype;
  cn_value_set_shape(v, rank, dims);
  return true;
}

bool cn_norm_axis(cn_diag *d, const cn_node *n, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) { /* (a scalar has no axis) */
    cn_error_node(d, n, "axis %lld is out of range for rank %d", (long long)axis, rank);
    return false;
  }
  *out = (int)a;
  return true;
}

int cn_const_ints(cn_graph *g, const cn_node *n, int i, int64_t *vals, int cap) {
  const cn_value *v = cn_in(g, n, i);
  CN_ASSERT(v && v->kind == CN_VALUE_CONST && v->data);
  int64_t count = cn_value_numel(v);
  for (int64_t k = 0; k < count && k < cap; k++) {
    vals[k] = cn_value_get_int(v, k);
  }
  return (int)count;
}

void *cn_node_params(cn_node *n, size_t size) {
  free(n->params);
  n->params = cn_calloc(1, size);
  return n->params;
}

void cn_fold_outputs(cn_graph *g, cn_node *n) {
  for (int i = 0; i < n->n_out; i++) {
    cn_value *v = cn_out(g, n, i);
    if (v) {
      cn_value_alloc_data(v);
      v->kind = CN_VALUE_CONST;
    }
  }
}
