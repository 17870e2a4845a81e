/* onnx_writer.c — graph IR → ONNX protobuf (cnncc --emit-onnx), encoded with protobuf-c.
 *
 * The writer is the loader in reverse, for the IR as it stands right after shape inference and
 * constant folding (compiler/pipeline.c calls it there): every live node is still one of the
 * model's ONNX operators with the attributes it was read with, and every constant (initializer,
 * Constant node, folded shape chain, --bind input) is a dense C-order array. What it writes:
 *
 *   - the runtime inputs and the outputs, with element type and (inferred, fixed) shape;
 *   - the constants live nodes read, as initializers with little-endian raw_data;
 *   - the live nodes in topological order, each as its ONNX op_type with its attributes;
 *   - the shapes inference found for every intermediate value, as value_info;
 *   - an Identity from an initializer for an output that folding made constant.
 *
 * Later passes change the IR in ways ONNX cannot express node for node: BatchNormalization
 * folding rewrites weights and leaves channel_affine (an internal op), fusion moves activations
 * and residual adds into their producer (node->act, node->residual). Writing that IR would need
 * those expanded back into ONNX nodes; the writer refuses it instead, with a message, so that a
 * caller that calls it too late finds out at once rather than writing a different model.
 *
 * The messages built here point into the graph (names, constant data) or into a pool of
 * allocations that is freed once the model is packed; the graph itself is not changed. */
#include "onnx_writer.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/pipeline.h" /* CNNCC_VERSION */
#include "onnx.pb-c.h"

enum { IR_VERSION = 8, DEFAULT_OPSET = 13 };

typedef struct writer {
  const cn_graph *g;
  cn_diag *d;
  int errors0;         /* d->errors on entry: any more means failure */
  void **allocs;       /* everything below is freed at the end */
  int n_allocs, cap_allocs;
  const char **names;  /* the name written for each value, NULL until given */
  cn_map used;         /* value names given so far (keys borrowed from the graph or the pool) */
} writer;

static void *w_alloc(writer *w, size_t n) {
  void *p = cn_calloc(1, n ? n : 1);
  CN_PUSH(w->allocs, w->n_allocs, w->cap_allocs, p);
  return p;
}

static char *w_adopt(writer *w, char *s) {
  CN_PUSH(w->allocs, w->n_allocs, w->cap_allocs, (void *)s);
  return s;
}

static bool w_failed(const writer *w) { return w->d->errors > w->errors0; }

/* A name based on `base` that no value written has. (Every value the model refers to is named
 * before the first fresh name is made, so a fresh name never takes one that is needed later.) */
static const char *fresh_name(writer *w, const char *base) {
  int dummy;
  if (base[0] && !cn_map_get(&w->used, base, &dummy)) {
    char *s = w_adopt(w, cn_strdup(base));
    cn_map_put(&w->used, s, 1);
    return s;
  }
  for (int i = 1;; i++) {
    char *s = cn_fmt("%s_%d", base[0] ? base : "value", i);
    if (!cn_map_get(&w->used, s, &dummy)) {
      cn_map_put(&w->used, w_adopt(w, s), 1);
      return s;
    }
    free(s);
  }
}

/* Value v's name in the written model: its own, unless it is empty or already taken (the IR
 * keeps names unique, but the writer does not rely on it: ONNX requires it). */
static const char *value_name(writer *w, int v) {
  if (!w->names[v]) {
    const char *name = w->g->values[v].name ? w->g->values[v].name : "";
    int dummy;
    if (name[0] && !cn_map_get(&w->used, name, &dummy)) {
      cn_map_put(&w->used, name, 1);
      w->names[v] = name;
    } else {
      w->names[v] = fresh_name(w, name);
    }
  }
  return w->names[v];
}

static bool host_little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/* A TensorProto of the given array (C order, host byte order) with raw_data. */
static Onnx__TensorProto *tensor_proto(writer *w, const char *what, const char *name,
                                       cn_dtype dtype, int rank, const int64_t *dims,
                                       const void *data) {
  int esize = cn_dtype_size(dtype);
  if (esize == 0 || dtype == CNNRT_STRING) {
    cn_error(w->d, "--emit-onnx: %s has data type %s, which cannot be written", what,
             cn_dtype_name(dtype));
    return NULL;
  }
  int64_t numel = 1;
  for (int k = 0; k < rank; k++) {
    numel *= dims[k];
  }
  size_t nbytes = (size_t)numel * (size_t)esize;
  if (nbytes > 0 && !data) {
    cn_error(w->d, "--emit-onnx: %s has no data", what);
    return NULL;
  }
  Onnx__TensorProto *t = w_alloc(w, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->n_dims = (size_t)rank;
  t->dims = w_alloc(w, sizeof(int64_t) * (size_t)(rank > 0 ? rank : 1));
  if (rank > 0) {
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  }
  t->has_data_type = 1;
  t->data_type = (int32_t)dtype;
  t->has_raw_data = 1;
  t->raw_data.len = nbytes;
  t->raw_data.data = (uint8_t *)data; /* read only by the packer */
  if (nbytes > 0 && esize > 1 && !host_little_endian()) {
    uint8_t *swapped = w_alloc(w, nbytes); /* ONNX raw data is little-endian */
    const uint8_t *src = data;
    for (size_t i = 0; i < nbytes; i += (size_t)esize) {
      for (int b = 0; b < esize; b++) {
        swapped[i + (size_t)b] = src[i + (size_t)(esize - 1 - b)];
      }
    }
    t->raw_data.data = swapped;
  }
  return t;
}

/* A ValueInfoProto: element type and, when known, shape (fixed dimensions as dim_value). */
static Onnx__ValueInfoProto *value_info(writer *w, int v) {
  const cn_value *val = &w->g->values[v];
  if (cn_dtype_size(val->dtype) == 0) {
    cn_error(w->d, "--emit-onnx: value '%s' has no known element type", val->name);
    return NULL;
  }
  Onnx__ValueInfoProto *vi = w_alloc(w, sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = (char *)value_name(w, v);
  Onnx__TypeProto *tp = w_alloc(w, sizeof *tp);
  onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = w_alloc(w, sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)val->dtype;
  if (val->rank >= 0) {
    Onnx__TensorShapeProto *sp = w_alloc(w, sizeof *sp);
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = (size_t)val->rank;
    sp->dim = w_alloc(w, sizeof *sp->dim * (size_t)(val->rank > 0 ? val->rank : 1));
    for (int k = 0; k < val->rank; k++) {
      Onnx__TensorShapeProto__Dimension *dim = w_alloc(w, sizeof *dim);
      onnx__tensor_shape_proto__dimension__init(dim);
      if (val->dims[k] >= 0) {
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dim->dim_value = val->dims[k];
      } else if (val->dim_param[k]) {
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        dim->dim_param = val->dim_param[k];
      }
      sp->dim[k] = dim;
    }
    tt->shape = sp;
  }
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->type = tp;
  return vi;
}

static Onnx__AttributeProto *attr_proto(writer *w, const cn_node *n, const cn_attr *a) {
  Onnx__AttributeProto *p = w_alloc(w, sizeof *p);
  onnx__attribute_proto__init(p);
  p->name = a->name;
  p->has_type = 1;
  switch (a->type) {
  case CN_ATTR_FLOAT:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    p->has_f = 1;
    p->f = a->f;
    break;
  case CN_ATTR_INT:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    p->has_i = 1;
    p->i = a->i;
    break;
  case CN_ATTR_STRING:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    p->has_s = 1;
    p->s.data = (uint8_t *)(a->s ? a->s : "");
    p->s.len = a->s ? strlen(a->s) : 0;
    break;
  case CN_ATTR_FLOATS:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    p->n_floats = (size_t)(a->n > 0 ? a->n : 0);
    p->floats = a->floats;
    break;
  case CN_ATTR_INTS:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    p->n_ints = (size_t)(a->n > 0 ? a->n : 0);
    p->ints = a->ints;
    break;
  case CN_ATTR_TENSOR: {
    if (!a->t) {
      cn_error_node(w->d, n, "--emit-onnx: attribute '%s' has no tensor", a->name);
      return NULL;
    }
    char *what = w_adopt(w, cn_fmt("node '%s' (%s): attribute '%s'", n->name, n->op_type,
                                   a->name));
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    p->t = tensor_proto(w, what, NULL, a->t->dtype, a->t->rank, a->t->dims, a->t->data);
    if (!p->t) {
      return NULL;
    }
    break;
  }
  default:
    /* The loader keeps graph-, strings- and other-valued attributes by name only. */
    cn_error_node(w->d, n, "--emit-onnx: attribute '%s' is of a type (%d) whose value cnncc does "
                           "not keep, so it cannot be written",
                  a->name, (int)a->type);
    return NULL;
  }
  return p;
}

static const char empty[] = "";

/* A node of the graph as a NodeProto; `defined` marks the values known so far. */
static Onnx__NodeProto *node_proto(writer *w, const cn_node *n, int opset, bool *defined,
                                   cn_map *node_names) {
  const char *op_type = cn_op_onnx_name(n->op);
  if (!op_type || !op_type[0]) {
    cn_error_node(w->d, n, "--emit-onnx: the internal operator '%s' has no ONNX equivalent "
                           "(the graph must be written before the passes that introduce it)",
                  cn_op_name(n->op));
    return NULL;
  }
  if (n->act != CNNRT_ACT_NONE || n->residual >= 0) {
    cn_error_node(w->d, n, "--emit-onnx: the node carries a fused activation or residual add, "
                           "which ONNX cannot express (the graph must be written before fusion)");
    return NULL;
  }
  if (n->opset > 0 && n->opset != opset) {
    cn_error_node(w->d, n, "--emit-onnx: the node was read against operator set %d but the model "
                           "imports %d",
                  n->opset, opset);
    return NULL;
  }
  Onnx__NodeProto *p = w_alloc(w, sizeof *p);
  onnx__node_proto__init(p);
  p->op_type = (char *)op_type;
  /* Node names need not be unique in ONNX, but tools read them as ids: keep them so. */
  const char *name = n->name && n->name[0] ? n->name : op_type;
  int dummy;
  if (cn_map_get(node_names, name, &dummy)) {
    char *s = NULL;
    for (int i = 1; !s || cn_map_get(node_names, s, &dummy); i++) {
      s = w_adopt(w, cn_fmt("%s_%d", name, i));
    }
    name = s;
  }
  cn_map_put(node_names, name, 1);
  p->name = (char *)name;

  p->n_input = (size_t)n->n_in;
  p->input = w_alloc(w, sizeof(char *) * (size_t)(n->n_in > 0 ? n->n_in : 1));
  for (int k = 0; k < n->n_in; k++) {
    int v = n->in[k];
    if (v < 0) {
      p->input[k] = (char *)empty; /* an absent optional input */
      continue;
    }
    if (!defined[v]) {
      cn_error_node(w->d, n, "--emit-onnx: input '%s' is used before it is computed",
                    w->g->values[v].name);
      return NULL;
    }
    p->input[k] = (char *)value_name(w, v);
  }
  p->n_output = (size_t)n->n_out;
  p->output = w_alloc(w, sizeof(char *) * (size_t)(n->n_out > 0 ? n->n_out : 1));
  for (int k = 0; k < n->n_out; k++) {
    int v = n->out[k];
    p->output[k] = v < 0 ? (char *)empty : (char *)value_name(w, v);
    if (v >= 0) {
      defined[v] = true;
    }
  }
  p->n_attribute = (size_t)n->n_attrs;
  p->attribute = w_alloc(w, sizeof *p->attribute * (size_t)(n->n_attrs > 0 ? n->n_attrs : 1));
  for (int k = 0; k < n->n_attrs; k++) {
    p->attribute[k] = attr_proto(w, n, &n->attrs[k]);
    if (!p->attribute[k]) {
      return NULL;
    }
  }
  return p;
}

/* Builds the ModelProto in w's pool; NULL after errors. */
static Onnx__ModelProto *build_model(writer *w) {
  const cn_graph *g = w->g;
  int opset = g->opset > 0 ? g->opset : DEFAULT_OPSET;
  size_t nv = (size_t)g->n_values + 1;
  bool *defined = w_alloc(w, sizeof(bool) * nv);
  bool *listed = w_alloc(w, sizeof(bool) * nv); /* has an initializer or a value_info */

  /* Names first: inputs and outputs keep theirs whatever else happens, then every value a live
   * node reads or writes; fresh names (for the initializers of constant outputs) come after. */
  for (int i = 0; i < g->n_inputs; i++) {
    value_name(w, g->inputs[i]);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    value_name(w, g->outputs[i]);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in + n->n_out; k++) {
      int v = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
      if (v >= 0) {
        value_name(w, v);
      }
    }
  }

  Onnx__GraphProto *gp = w_alloc(w, sizeof *gp);
  onnx__graph_proto__init(gp);
  gp->name = g->name && g->name[0] ? g->name : "model";
  gp->doc_string = "written by cnncc --emit-onnx after shape inference and constant folding";

  gp->input = w_alloc(w, sizeof *gp->input * (size_t)(g->n_inputs + 1));
  for (int i = 0; i < g->n_inputs; i++) {
    int v = g->inputs[i];
    if (g->values[v].kind != CN_VALUE_INPUT) {
      cn_error(w->d, "--emit-onnx: graph input '%s' is not a runtime input", g->values[v].name);
      return NULL;
    }
    if (!(gp->input[gp->n_input++] = value_info(w, v))) {
      return NULL;
    }
    defined[v] = listed[v] = true;
  }

  /* Initializers: the constants live nodes read, in order of first use. An output that folding
   * made constant is produced by an Identity from an initializer of its own (a fresh name). */
  int n_live = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    n_live += !g->nodes[i].dead;
  }
  size_t max_nodes = (size_t)n_live + (size_t)g->n_outputs + 1;
  gp->node = w_alloc(w, sizeof *gp->node * max_nodes);
  gp->initializer = w_alloc(w, sizeof *gp->initializer * nv);
  for (int i = 0; i < g->n_outputs; i++) {
    int v = g->outputs[i];
    const cn_value *val = &g->values[v];
    if (val->kind != CN_VALUE_CONST || defined[v]) {
      continue;
    }
    const char *init = fresh_name(w, w_adopt(w, cn_fmt("%s_value", value_name(w, v))));
    char *what = w_adopt(w, cn_fmt("constant output '%s'", val->name));
    Onnx__TensorProto *t =
        tensor_proto(w, what, init, val->dtype, val->rank, val->dims, val->data);
    if (!t) {
      return NULL;
    }
    gp->initializer[gp->n_initializer++] = t;
    Onnx__NodeProto *p = w_alloc(w, sizeof *p);
    onnx__node_proto__init(p);
    p->op_type = "Identity";
    p->name = w_adopt(w, cn_fmt("%s_identity", value_name(w, v)));
    p->n_input = p->n_output = 1;
    p->input = w_alloc(w, sizeof(char *));
    p->output = w_alloc(w, sizeof(char *));
    p->input[0] = (char *)init;
    p->output[0] = (char *)value_name(w, v);
    gp->node[gp->n_node++] = p;
    defined[v] = true;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in; k++) {
      int v = n->in[k];
      if (v < 0 || defined[v] || g->values[v].kind != CN_VALUE_CONST) {
        continue;
      }
      const cn_value *val = &g->values[v];
      char *what = w_adopt(w, cn_fmt("constant '%s'", val->name));
      Onnx__TensorProto *t =
          tensor_proto(w, what, value_name(w, v), val->dtype, val->rank, val->dims, val->data);
      if (!t) {
        return NULL;
      }
      gp->initializer[gp->n_initializer++] = t;
      defined[v] = listed[v] = true;
    }
  }

  /* Nodes, in the (topological) order of the graph. */
  cn_map node_names = {0};
  for (size_t i = 0; i < gp->n_node; i++) {
    cn_map_put(&node_names, gp->node[i]->name, 1);
  }
  for (int i = 0; i < g->n_nodes && !w_failed(w); i++) {
    const cn_node *n = &g->nodes[i];
    if (!n->dead) {
      Onnx__NodeProto *p = node_proto(w, n, opset, defined, &node_names);
      if (p) {
        gp->node[gp->n_node++] = p;
      }
    }
  }
  cn_map_free(&node_names);
  if (w_failed(w)) {
    return NULL;
  }

  gp->output = w_alloc(w, sizeof *gp->output * (size_t)(g->n_outputs + 1));
  for (int i = 0; i < g->n_outputs; i++) {
    int v = g->outputs[i];
    if (!defined[v]) {
      cn_error(w->d, "--emit-onnx: graph output '%s' is computed by no live node",
               g->values[v].name);
      return NULL;
    }
    if (!(gp->output[gp->n_output++] = value_info(w, v))) {
      return NULL;
    }
    listed[v] = true;
  }

  /* value_info: the shapes inference found for the intermediate values. */
  gp->value_info = w_alloc(w, sizeof *gp->value_info * nv);
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_out; k++) {
      int v = n->out[k];
      if (v >= 0 && !listed[v] && g->values[v].rank >= 0 &&
          cn_dtype_size(g->values[v].dtype) > 0) {
        if (!(gp->value_info[gp->n_value_info++] = value_info(w, v))) {
          return NULL;
        }
        listed[v] = true;
      }
    }
  }

  Onnx__OperatorSetIdProto *os = w_alloc(w, sizeof *os);
  onnx__operator_set_id_proto__init(os);
  os->domain = (char *)empty;
  os->has_version = 1;
  os->version = opset;

  Onnx__ModelProto *m = w_alloc(w, sizeof *m);
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = IR_VERSION;
  m->n_opset_import = 1;
  m->opset_import = w_alloc(w, sizeof *m->opset_import);
  m->opset_import[0] = os;
  m->producer_name = "cnncc";
  m->producer_version = CNNCC_VERSION;
  m->graph = gp;
  return m;
}

uint8_t *cn_onnx_write_buffer(const cn_graph *g, size_t *len, cn_diag *d) {
  writer w;
  memset(&w, 0, sizeof w);
  w.g = g;
  w.d = d;
  w.errors0 = d->errors;
  w.names = cn_calloc((size_t)g->n_values + 1, sizeof *w.names);
  uint8_t *buf = NULL;
  Onnx__ModelProto *m = build_model(&w);
  if (m && !w_failed(&w)) {
    size_t size = onnx__model_proto__get_packed_size(m);
    if (size > (size_t)INT32_MAX) {
      cn_error(d, "--emit-onnx: the model would take %zu bytes, more than protobuf's 2 GiB limit "
                  "(writing weights as external data is not supported)",
               size);
    } else {
      buf = cn_malloc(size ? size : 1);
      size_t packed = onnx__model_proto__pack(m, buf);
      CN_ASSERT(packed == size);
      *len = size;
    }
  }
  for (int i = 0; i < w.n_allocs; i++) {
    free(w.allocs[i]);
  }
  free(w.allocs);
  free(w.names);
  cn_map_free(&w.used);
  return buf;
}

bool cn_onnx_write(const cn_graph *g, const char *path, cn_diag *d) {
  size_t len = 0;
  uint8_t *buf = cn_onnx_write_buffer(g, &len, d);
  if (!buf) {
    return false;
  }
  bool ok = cn_write_file(path, buf, len);
  if (!ok) {
    cn_error(d, "--emit-onnx: cannot write '%s': %s", path, strerror(errno));
  }
  free(buf);
  return ok;
}
