/* ir.c — construction and queries of the graph IR, dtype facts, attribute access. */
#include "ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define OP(id, name, onnx, family) name,
#include "ops.def"
#undef OP
};
static const char *const op_onnx_names[] = {
#define OP(id, name, onnx, family) onnx,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof op_names / sizeof op_names[0] == CN_OP_COUNT, "op name table out of step");
_Static_assert(sizeof op_onnx_names / sizeof op_onnx_names[0] == CN_OP_COUNT,
               "ONNX name table out of step");

const char *cn_op_name(cn_op op) { return op_names[op]; }
const char *cn_op_onnx_name(cn_op op) { return op_onnx_names[op]; }

bool cn_op_from_onnx(const char *op_type, cn_op *op) {
  for (int i = 0; i < CN_OP_COUNT; i++) {
    if (op_onnx_names[i][0] && strcmp(op_onnx_names[i], op_type) == 0) {
      *op = (cn_op)i;
      return true;
    }
  }
  return false;
}

cn_graph *cn_graph_new(void) {
  cn_graph *g = cn_calloc(1, sizeof *g);
  g->name = cn_strdup("model");
  return g;
}

static void tensor_free(cn_tensor *t) {
  if (t) {
    free(t->data);
    free(t);
  }
}

void cn_graph_free(cn_graph *g) {
  if (!g) {
    return;
  }
  for (int i = 0; i < g->n_values; i++) {
    cn_value *v = &g->values[i];
    free(v->name);
    for (int d = 0; d < CN_MAX_RANK; d++) {
      free(v->dim_param[d]);
    }
    if (v->owns_data) {
      free(v->data);
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    free(n->name);
    free(n->op_type);
    free(n->in);
    free(n->out);
    for (int a = 0; a < n->n_attrs; a++) {
      cn_attr *at = &n->attrs[a];
      free(at->name);
      free(at->s);
      free(at->floats);
      free(at->ints);
      tensor_free(at->t);
    }
    free(n->attrs);
    free(n->params);
  }
  for (int i = 0; i < g->n_train_decls; i++) {
    free(g->train_decls[i].key);
    free(g->train_decls[i].value);
  }
  free(g->train_decls);
  free(g->values);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->seeds);
  free(g->grads);
  free(g->grad_wrt);
  free(g->name);
  cn_map_free(&g->by_name);
  free(g);
}

int cn_value_add(cn_graph *g, const char *name) {
  cn_grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values);
  int id = g->n_values++;
  cn_value *v = &g->values[id];
  memset(v, 0, sizeof *v);
  v->name = cn_strdup(name);
  v->rank = -1;
  v->producer = -1;
  v->alias = -1;
  v->offset = -1;
  /* The map borrows the name: it must be rebuilt if names are ever freed or moved. */
  cn_map_put(&g->by_name, v->name, id);
  return id;
}

int cn_value_find(const cn_graph *g, const char *name) {
  int id;
  return cn_map_get(&g->by_name, name, &id) ? id : -1;
}

char *cn_unique_name(const cn_graph *g, const char *base) {
  if (cn_value_find(g, base) < 0) {
    return cn_strdup(base);
  }
  for (int i = 1;; i++) {
    char *s = cn_fmt("%s_%d", base, i);
    if (cn_value_find(g, s) < 0) {
      return s;
    }
    free(s);
  }
}

int cn_node_add(cn_graph *g, cn_op op, const char *name, const char *op_type, const int *in,
                int n_in, const int *out, int n_out) {
  cn_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes);
  int id = g->n_nodes++;
  cn_node *n = &g->nodes[id];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->name = cn_strdup(name);
  n->op_type = cn_strdup(op_type);
  n->opset = g->opset;
  n->n_in = n_in;
  n->n_out = n_out;
  n->in = cn_malloc(sizeof(int) * (size_t)(n_in > 0 ? n_in : 1));
  n->out = cn_malloc(sizeof(int) * (size_t)(n_out > 0 ? n_out : 1));
  for (int i = 0; i < n_in; i++) {
    n->in[i] = in[i];
  }
  for (int i = 0; i < n_out; i++) {
    n->out[i] = out[i];
  }
  n->residual = -1;
  n->in_scale = -1;
  n->scratch_offset = -1;
  return id;
}

int64_t cn_value_numel(const cn_value *v) {
  int64_t n = 1;
  for (int i = 0; i < v->rank; i++) {
    n *= v->dims[i];
  }
  return n;
}

bool cn_node_outputs_empty(const cn_graph *g, const cn_node *n) {
  for (int o = 0; o < n->n_out; o++) {
    if (n->out[o] >= 0 && cn_value_numel(&g->values[n->out[o]]) != 0) {
      return false;
    }
  }
  return true;
}

int64_t cn_value_bytes(const cn_value *v) { return cn_value_numel(v) * cn_dtype_size(v->dtype); }

bool cn_value_shape_eq(const cn_value *a, const cn_value *b) {
  if (a->rank != b->rank) {
    return false;
  }
  for (int i = 0; i < a->rank; i++) {
    if (a->dims[i] != b->dims[i]) {
      return false;
    }
  }
  return true;
}

void cn_value_set_shape(cn_value *v, int rank, const int64_t *dims) {
  CN_ASSERT(rank >= 0 && rank <= CN_MAX_RANK);
  v->rank = rank;
  for (int i = 0; i < rank; i++) {
    v->dims[i] = dims[i];
  }
}

void *cn_value_alloc_data(cn_value *v) {
  if (v->owns_data) {
    free(v->data);
  }
  size_t bytes = (size_t)cn_value_bytes(v);
  v->data = cn_calloc(1, bytes ? bytes : 1);
  v->owns_data = true;
  return v->data;
}

const char *cn_shape_str(int rank, const int64_t *dims, char *buf, int cap) {
  int len = snprintf(buf, (size_t)cap, "[");
  for (int i = 0; i < rank && len < cap; i++) {
    len += snprintf(buf + len, (size_t)(cap - len), "%s%" PRId64, i ? ", " : "", dims[i]);
  }
  if (len < cap) {
    snprintf(buf + len, (size_t)(cap - len), "]");
  }
  return buf;
}

int64_t cn_value_get_int(const cn_value *v, int64_t i) {
  CN_ASSERT(v->data != NULL);
  switch (v->dtype) {
  case CNNRT_I64:
    return ((const int64_t *)v->data)[i];
  case CNNRT_I32:
    return ((const int32_t *)v->data)[i];
  case CNNRT_I16:
    return ((const int16_t *)v->data)[i];
  case CNNRT_I8:
    return ((const int8_t *)v->data)[i];
  case CNNRT_U8:
  case CNNRT_BOOL:
    return ((const uint8_t *)v->data)[i];
  case CNNRT_U16:
    return ((const uint16_t *)v->data)[i];
  case CNNRT_U32:
    return ((const uint32_t *)v->data)[i];
  case CNNRT_U64:
    return (int64_t)((const uint64_t *)v->data)[i];
  case CNNRT_F32:
  case CNNRT_F64:
  case CNNRT_F16:
  case CNNRT_BF16: {
    double d = cn_value_get_float(v, i);
    return d != d ? 0 : (d >= 9.2e18 ? INT64_MAX : (d <= -9.2e18 ? INT64_MIN : (int64_t)d));
  }
  default:
    CN_UNREACHABLE();
  }
}

double cn_value_get_float(const cn_value *v, int64_t i) {
  CN_ASSERT(v->data != NULL);
  switch (v->dtype) {
  case CNNRT_F32:
    return ((const float *)v->data)[i];
  case CNNRT_F64:
    return ((const double *)v->data)[i];
  case CNNRT_F16:
    return cnnrt_f16_to_f32(((const uint16_t *)v->data)[i]);
  case CNNRT_BF16:
    return cnnrt_bf16_to_f32(((const uint16_t *)v->data)[i]);
  default:
    return (double)cn_value_get_int(v, i);
  }
}

int cn_dtype_size(cn_dtype t) {
  switch (t) {
  case CNNRT_F32:
  case CNNRT_I32:
  case CNNRT_U32:
    return 4;
  case CNNRT_F64:
  case CNNRT_I64:
  case CNNRT_U64:
    return 8;
  case CNNRT_F16:
  case CNNRT_BF16:
  case CNNRT_I16:
  case CNNRT_U16:
    return 2;
  case CNNRT_I8:
  case CNNRT_U8:
  case CNNRT_BOOL:
    return 1;
  default:
    return 0;
  }
}

const char *cn_dtype_name(cn_dtype t) {
  switch (t) {
  case CNNRT_F32: return "float32";
  case CNNRT_F64: return "float64";
  case CNNRT_F16: return "float16";
  case CNNRT_BF16: return "bfloat16";
  case CNNRT_I8: return "int8";
  case CNNRT_I16: return "int16";
  case CNNRT_I32: return "int32";
  case CNNRT_I64: return "int64";
  case CNNRT_U8: return "uint8";
  case CNNRT_U16: return "uint16";
  case CNNRT_U32: return "uint32";
  case CNNRT_U64: return "uint64";
  case CNNRT_BOOL: return "bool";
  case CNNRT_STRING: return "string";
  default: return "unknown";
  }
}

const char *cn_dtype_ctype(cn_dtype t) {
  switch (t) {
  case CNNRT_F32: return "float";
  case CNNRT_F64: return "double";
  case CNNRT_F16:
  case CNNRT_BF16:
  case CNNRT_U16: return "uint16_t";
  case CNNRT_I8: return "int8_t";
  case CNNRT_I16: return "int16_t";
  case CNNRT_I32: return "int32_t";
  case CNNRT_I64: return "int64_t";
  case CNNRT_U8:
  case CNNRT_BOOL: return "uint8_t";
  case CNNRT_U32: return "uint32_t";
  case CNNRT_U64: return "uint64_t";
  default: return "unsigned char";
  }
}

const char *cn_dtype_suffix(cn_dtype t) {
  switch (t) {
  case CNNRT_F32: return "f32";
  case CNNRT_F64: return "f64";
  case CNNRT_F16: return "f16";
  case CNNRT_BF16: return "bf16";
  case CNNRT_I8: return "i8";
  case CNNRT_I16: return "i16";
  case CNNRT_I32: return "i32";
  case CNNRT_I64: return "i64";
  case CNNRT_U8: return "u8";
  case CNNRT_U16: return "u16";
  case CNNRT_U32: return "u32";
  case CNNRT_U64: return "u64";
  case CNNRT_BOOL: return "bool";
  default: return "unknown";
  }
}

bool cn_dtype_is_float(cn_dtype t) {
  return t == CNNRT_F32 || t == CNNRT_F64 || t == CNNRT_F16 || t == CNNRT_BF16;
}

bool cn_dtype_is_int(cn_dtype t) {
  return t == CNNRT_I8 || t == CNNRT_I16 || t == CNNRT_I32 || t == CNNRT_I64 || t == CNNRT_U8 ||
         t == CNNRT_U16 || t == CNNRT_U32 || t == CNNRT_U64;
}

const cn_attr *cn_attr_find(const cn_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++) {
    if (strcmp(n->attrs[i].name, name) == 0) {
      return &n->attrs[i];
    }
  }
  return NULL;
}

int64_t cn_attr_int(const cn_node *n, const char *name, int64_t def) {
  const cn_attr *a = cn_attr_find(n, name);
  return a && a->type == CN_ATTR_INT ? a->i : def;
}

float cn_attr_float(const cn_node *n, const char *name, float def) {
  const cn_attr *a = cn_attr_find(n, name);
  if (a && a->type == CN_ATTR_FLOAT) {
    return a->f;
  }
  if (a && a->type == CN_ATTR_INT) {
    return (float)a->i;
  }
  return def;
}

const char *cn_attr_string(const cn_node *n, const char *name, const char *def) {
  const cn_attr *a = cn_attr_find(n, name);
  return a && a->type == CN_ATTR_STRING ? a->s : def;
}

int cn_attr_ints(const cn_node *n, const char *name, const int64_t **vals) {
  const cn_attr *a = cn_attr_find(n, name);
  if (!a || a->type != CN_ATTR_INTS) {
    *vals = NULL;
    return -1;
  }
  *vals = a->ints;
  return a->n;
}

int cn_attr_floats(const cn_node *n, const char *name, const float **vals) {
  const cn_attr *a = cn_attr_find(n, name);
  if (!a || a->type != CN_ATTR_FLOATS) {
    *vals = NULL;
    return -1;
  }
  *vals = a->floats;
  return a->n;
}

static void dump_value(const cn_graph *g, int id, cn_buf *out) {
  if (id < 0) {
    cn_buf_puts(out, "_");
    return;
  }
  const cn_value *v = &g->values[id];
  char shape[160];
  cn_buf_printf(out, "%%%s:%s%s", v->name, cn_dtype_suffix(v->dtype),
                v->rank >= 0 ? cn_shape_str(v->rank, v->dims, shape, sizeof shape) : "[?]");
  if (v->kind == CN_VALUE_CONST) {
    cn_buf_puts(out, "(const)");
  }
  if (v->layout == CN_LAYOUT_NCHW8C) {
    cn_buf_puts(out, "{nchw8c}");
  }
}

void cn_graph_dump(const cn_graph *g, cn_buf *out) {
  cn_buf_printf(out, "graph %s (opset %d)\n", g->name, g->opset);
  for (int i = 0; i < g->n_inputs; i++) {
    cn_buf_puts(out, "  input ");
    dump_value(g, g->inputs[i], out);
    cn_buf_puts(out, "\n");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    cn_buf_puts(out, "  ");
    for (int o = 0; o < n->n_out; o++) {
      cn_buf_puts(out, o ? ", " : "");
      dump_value(g, n->out[o], out);
    }
    cn_buf_printf(out, " = %s(", cn_op_name(n->op));
    for (int k = 0; k < n->n_in; k++) {
      cn_buf_puts(out, k ? ", " : "");
      dump_value(g, n->in[k], out);
    }
    cn_buf_puts(out, ")");
    if (n->residual >= 0) {
      cn_buf_puts(out, " +residual ");
      dump_value(g, n->residual, out);
    }
    if (n->in_scale >= 0) {
      cn_buf_puts(out, " +in_scale ");
      dump_value(g, n->in_scale, out);
    }
    if (n->act) {
      cn_buf_printf(out, " +act %d", n->act);
    }
    if (n->kernel) {
      cn_buf_printf(out, " [%s]", n->kernel);
    }
    cn_buf_printf(out, "  # %s\n", n->name);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    cn_buf_puts(out, "  output ");
    dump_value(g, g->outputs[i], out);
    cn_buf_puts(out, "\n");
  }
}
