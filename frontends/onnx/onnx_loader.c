/* onnx_loader.c — ONNX protobuf → graph IR.
 *
 * Decoding is protobuf-c's; this file checks everything a hostile or broken file can get wrong
 * (sizes, byte counts, names, types) and turns it into one clear diagnostic each, so that later
 * stages can trust the IR. Initializer data is converted once into dense C-order arrays. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "onnx_loader.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

/* Opsets 7-17 are what exporters of the last years write; older ones are read too, with each
 * op's semantics of its own version (n->opset), since ONNX keeps old definitions. */
enum { MIN_OPSET = 1, MAX_OPSET = 17, MAX_IR_VERSION = 8 };

static bool dtype_supported(int t) {
  return t == CNNRT_F32 || t == CNNRT_F64 || t == CNNRT_F16 || t == CNNRT_BF16 || t == CNNRT_I8 ||
         t == CNNRT_I16 || t == CNNRT_I32 || t == CNNRT_I64 || t == CNNRT_U8 || t == CNNRT_U16 ||
         t == CNNRT_U32 || t == CNNRT_U64 || t == CNNRT_BOOL;
}

static const char *onnx_type_name(int t) {
  static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",      "UINT16",
                                      "INT16",     "INT32",  "INT64",  "STRING",    "BOOL",
                                      "FLOAT16",   "DOUBLE", "UINT32", "UINT64",    "COMPLEX64",
                                      "COMPLEX128", "BFLOAT16"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* Checks that dims are non-negative and their product is sane; returns the element count. */
static bool checked_numel(cn_diag *d, const char *what, size_t rank, const int64_t *dims,
                          int64_t *numel) {
  if (rank > CN_MAX_RANK) {
    cn_error(d, "%s has rank %zu; at most %d dimensions are supported", what, rank, CN_MAX_RANK);
    return false;
  }
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] < 0) {
      cn_error(d, "%s has a negative dimension (%lld)", what, (long long)dims[i]);
      return false;
    }
  }
  if (!cn_numel_checked((int)rank, dims, CN_MAX_ELEMENTS, numel)) {
    cn_error(d, "%s is too large (more than 2^34 elements)", what);
    return false;
  }
  return true;
}

/* Joins base_dir and a relative location, refusing anything that could leave base_dir. */
static char *external_path(cn_diag *d, const char *what, const char *base_dir,
                           const char *location) {
  if (base_dir == NULL) {
    cn_error(d, "%s refers to external data '%s', but the model was not loaded from a file", what,
             location);
    return NULL;
  }
  if (location[0] == '/' || location[0] == '\\' || strstr(location, "..") != NULL ||
      strchr(location, ':') != NULL) {
    cn_error(d, "%s: external data location '%s' must be a plain relative path inside the model's "
                "folder",
             what, location);
    return NULL;
  }
  char *path = cn_fmt("%s/%s", base_dir, location);
  /* A symbolic link inside the folder could still lead out of it: compare the resolved paths.
   * (A file that does not exist is reported when it is opened.) */
  char *real_base = realpath(base_dir, NULL), *real_path = realpath(path, NULL);
  if (real_base && real_path) {
    size_t n = strlen(real_base);
    bool inside = strncmp(real_path, real_base, n) == 0 &&
                  (real_path[n] == '/' || (n == 1 && real_base[0] == '/'));
    if (!inside) {
      cn_error(d, "%s: external data location '%s' leads out of the model's folder (to '%s')",
               what, location, real_path);
      free(path);
      path = NULL;
    }
  }
  free(real_base);
  free(real_path);
  return path;
}

/* Reads the tensor's bytes into *dst, allocated (nbytes, at least 1) only once the file is known
 * to hold them: a small model cannot make the loader allocate a huge buffer for nothing. */
static bool read_external(cn_diag *d, const char *what, const Onnx__TensorProto *t,
                          const char *base_dir, int64_t nbytes, unsigned char **dst) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (!e->key || !e->value) {
      continue;
    }
    char *end = NULL;
    if (strcmp(e->key, "location") == 0) {
      location = e->value;
    } else if (strcmp(e->key, "offset") == 0) {
      errno = 0;
      offset = strtoll(e->value, &end, 10);
      if (errno || *end || offset < 0) {
        cn_error(d, "%s: bad external data offset '%s'", what, e->value);
        return false;
      }
    } else if (strcmp(e->key, "length") == 0) {
      errno = 0;
      length = strtoll(e->value, &end, 10);
      if (errno || *end || length < 0) {
        cn_error(d, "%s: bad external data length '%s'", what, e->value);
        return false;
      }
    }
  }
  if (!location) {
    cn_error(d, "%s: external data without a location", what);
    return false;
  }
  if (length >= 0 && length != nbytes) {
    cn_error(d, "%s: external data length %lld does not match the tensor's %lld bytes", what,
             (long long)length, (long long)nbytes);
    return false;
  }
  char *path = external_path(d, what, base_dir, location);
  if (!path) {
    return false;
  }
  FILE *f = fopen(path, "rb");
  bool ok = false;
  if (!f) {
    cn_error(d, "%s: cannot open external data file '%s': %s", what, path, strerror(errno));
  } else {
    long size = -1;
    ok = fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && offset <= size &&
         nbytes <= size - offset && fseek(f, (long)offset, SEEK_SET) == 0;
    if (ok) {
      *dst = cn_calloc(1, (size_t)(nbytes ? nbytes : 1));
      ok = fread(*dst, 1, (size_t)nbytes, f) == (size_t)nbytes;
    }
    if (!ok) {
      cn_error(d, "%s: external data file '%s' is shorter than offset %lld + %lld bytes", what,
               path, (long long)offset, (long long)nbytes);
    }
  }
  if (f) {
    fclose(f);
  }
  free(path);
  return ok;
}

/* How many elements a TensorProto's typed field for data type dt holds. */
static size_t typed_count(const Onnx__TensorProto *t, int dt) {
  switch (dt) {
  case CNNRT_F32: return t->n_float_data;
  case CNNRT_F64: return t->n_double_data;
  case CNNRT_I64: return t->n_int64_data;
  case CNNRT_U32:
  case CNNRT_U64: return t->n_uint64_data;
  default: return t->n_int32_data; /* every type narrower than 32 bits, float16 as raw bits */
  }
}

/* Converts a TensorProto into a dense array. `what` names it in messages. */
/* Converts t into out. With `take` (t is an initializer of a message the loader owns), raw data is
 * not copied: out->data takes over protobuf-c's buffer, so that a model's weights are held once
 * (by the message, then by the graph) instead of twice. */
static bool tensor_from_proto(cn_diag *d, const char *what, const Onnx__TensorProto *t,
                              const char *base_dir, Onnx__TensorProto *take, cn_tensor *out) {
  memset(out, 0, sizeof *out);
  int dt = t->has_data_type ? t->data_type : 0;
  if (!dtype_supported(dt)) {
    cn_error(d, "%s has data type %s, which cnncc does not support", what, onnx_type_name(dt));
    return false;
  }
  int64_t numel;
  if (!checked_numel(d, what, t->n_dims, t->dims, &numel)) {
    return false;
  }
  int esize = cn_dtype_size((cn_dtype)dt);
  int64_t nbytes = numel * esize;
  if (nbytes > CN_MAX_BYTES) {
    cn_error(d, "%s is too large (%lld bytes)", what, (long long)nbytes);
    return false;
  }
  out->dtype = (cn_dtype)dt;
  out->rank = (int)t->n_dims;
  for (size_t i = 0; i < t->n_dims; i++) {
    out->dims[i] = t->dims[i];
  }
  bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (external) {
    unsigned char *data = NULL;
    if (!read_external(d, what, t, base_dir, nbytes, &data)) {
      free(data);
      return false;
    }
    out->data = data;
    return true;
  }
  /* The elements must be in the file before room is made for them: a few bytes of dims must not
   * make the loader allocate gigabytes. */
  if (t->has_raw_data) {
    if ((int64_t)t->raw_data.len != nbytes) {
      cn_error(d, "%s: raw_data holds %zu bytes but shape and type need %lld", what,
               t->raw_data.len, (long long)nbytes);
      return false;
    }
  } else {
    size_t have = typed_count(t, dt);
    if ((int64_t)have != numel) {
      cn_error(d, "%s: holds %zu values but its shape needs %lld", what, have, (long long)numel);
      return false;
    }
  }
  if (take && t->has_raw_data && nbytes > 0) {
    CN_ASSERT(take == t);
    /* (protobuf-c's default allocator is malloc: the graph frees it with free()) */
    out->data = take->raw_data.data;
    take->raw_data.data = NULL;
    take->raw_data.len = 0;
    take->has_raw_data = 0;
    return true;
  }
  unsigned char *data = cn_calloc(1, (size_t)(nbytes ? nbytes : 1));
  out->data = data;
  if (nbytes == 0) { /* (an empty field may be NULL) */
    return true;
  }
  if (t->has_raw_data) {
    memcpy(data, t->raw_data.data, (size_t)nbytes); /* ONNX raw data is little-endian, as we are */
    return true;
  }
  switch (dt) {
  case CNNRT_F32:
    memcpy(data, t->float_data, (size_t)nbytes);
    break;
  case CNNRT_F64:
    memcpy(data, t->double_data, (size_t)nbytes);
    break;
  case CNNRT_I64:
    memcpy(data, t->int64_data, (size_t)nbytes);
    break;
  case CNNRT_U32:
  case CNNRT_U64:
    for (int64_t i = 0; i < numel; i++) {
      if (dt == CNNRT_U32) {
        ((uint32_t *)data)[i] = (uint32_t)t->uint64_data[i];
      } else {
        ((uint64_t *)data)[i] = t->uint64_data[i];
      }
    }
    break;
  default: /* int32_data carries every type narrower than 32 bits, float16 as raw bits */
    for (int64_t i = 0; i < numel; i++) {
      int32_t v = t->int32_data[i];
      switch (esize) {
      case 1: data[i] = (unsigned char)v; break;
      case 2: ((uint16_t *)data)[i] = (uint16_t)v; break;
      default: ((int32_t *)data)[i] = v; break;
      }
    }
    break;
  }
  return true;
}

/* Attributes whose name has the same type in every operator (of every opset): a model that gives
 * one another type (kernel_shape as a float, say) is refused here rather than ignored. */
static const struct {
  const char *name;
  cn_attr_type type;
} known_attrs[] = {
    {"kernel_shape", CN_ATTR_INTS},
    {"strides", CN_ATTR_INTS},
    {"pads", CN_ATTR_INTS},
    {"dilations", CN_ATTR_INTS},
    {"output_padding", CN_ATTR_INTS},
    {"output_shape", CN_ATTR_INTS},
    {"perm", CN_ATTR_INTS},
    {"axes", CN_ATTR_INTS},
    {"group", CN_ATTR_INT},
    {"axis", CN_ATTR_INT},
    {"keepdims", CN_ATTR_INT},
    {"transA", CN_ATTR_INT},
    {"transB", CN_ATTR_INT},
    {"ceil_mode", CN_ATTR_INT},
    {"count_include_pad", CN_ATTR_INT},
    {"alpha", CN_ATTR_FLOAT},
    {"beta", CN_ATTR_FLOAT},
    {"epsilon", CN_ATTR_FLOAT},
    {"auto_pad", CN_ATTR_STRING},
    {"mode", CN_ATTR_STRING},
};

static const char *attr_type_name(int t) {
  static const char *const names[] = {"undefined",      "float",      "int",        "string",
                                      "tensor",         "graph",      "floats",     "ints",
                                      "strings",        "tensors",    "graphs",     "sparse tensor",
                                      "sparse tensors", "type proto", "type protos"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

static bool check_attr_type(cn_diag *d, const cn_node *n, const cn_attr *a) {
  for (size_t i = 0; i < sizeof known_attrs / sizeof known_attrs[0]; i++) {
    cn_attr_type want = known_attrs[i].type;
    if (strcmp(a->name, known_attrs[i].name) == 0 && a->type != want &&
        !(want == CN_ATTR_FLOAT && a->type == CN_ATTR_INT)) {
      cn_error_node(d, n, "attribute '%s' must be of type %s, not %s", a->name,
                    attr_type_name(want), attr_type_name(a->type));
      return false;
    }
  }
  return true;
}

static bool convert_attr(cn_diag *d, const cn_node *n, const Onnx__AttributeProto *a,
                         const char *base_dir, cn_attr *out) {
  memset(out, 0, sizeof *out);
  out->name = cn_strdup(a->name ? a->name : "");
  int type = a->has_type ? (int)a->type : 0;
  switch (type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    out->type = CN_ATTR_FLOAT;
    out->f = a->f;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    out->type = CN_ATTR_INT;
    out->i = a->i;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    out->type = CN_ATTR_STRING;
    out->s = a->has_s && a->s.len ? cn_strndup((const char *)a->s.data, a->s.len)
                                  : cn_strdup(""); /* (an empty string may be NULL) */
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    out->type = CN_ATTR_FLOATS;
    out->n = (int)a->n_floats;
    out->floats = cn_malloc(sizeof(float) * (a->n_floats + 1));
    if (a->n_floats) { /* (an empty list is NULL) */
      memcpy(out->floats, a->floats, sizeof(float) * a->n_floats);
    }
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    out->type = CN_ATTR_INTS;
    out->n = (int)a->n_ints;
    out->ints = cn_malloc(sizeof(int64_t) * (a->n_ints + 1));
    if (a->n_ints) {
      memcpy(out->ints, a->ints, sizeof(int64_t) * a->n_ints);
    }
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
    if (!a->t) {
      cn_error_node(d, n, "attribute '%s' has no tensor", out->name);
      return false;
    }
    out->type = CN_ATTR_TENSOR;
    out->t = cn_calloc(1, sizeof *out->t);
    char *what = cn_fmt("node '%s' (%s): attribute '%s'", n->name, n->op_type, out->name);
    bool ok = tensor_from_proto(d, what, a->t, base_dir, NULL, out->t);
    free(what);
    return ok;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
    out->type = CN_ATTR_STRINGS;
    break;
  default:
    /* Graph-valued and other attributes: kept as a name only; ops that need them reject it. */
    out->type = (cn_attr_type)type;
    break;
  }
  return check_attr_type(d, n, out);
}

static bool shape_from_value_info(cn_diag *d, const Onnx__ValueInfoProto *vi, cn_value *v) {
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    cn_error(d, "graph input '%s' is not a tensor", v->name);
    return false;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int dt = tt->has_elem_type ? tt->elem_type : 0;
  if (!dtype_supported(dt)) {
    cn_error(d, "graph input '%s' has data type %s, which cnncc does not support", v->name,
             onnx_type_name(dt));
    return false;
  }
  v->dtype = (cn_dtype)dt;
  if (!tt->shape) {
    return true; /* rank unknown (-1): --shape must give one; shape inference says so */
  }
  if (tt->shape->n_dim > CN_MAX_RANK) {
    cn_error(d, "graph input '%s' has rank %zu; at most %d dimensions are supported", v->name,
             tt->shape->n_dim, CN_MAX_RANK);
    return false;
  }
  v->rank = (int)tt->shape->n_dim;
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (dim->dim_value < 0) {
        cn_error(d, "graph input '%s' has a negative dimension (%lld)", v->name,
                 (long long)dim->dim_value);
        return false;
      }
      v->dims[i] = dim->dim_value;
    } else {
      /* Symbolic or missing: must be fixed with --shape before shape inference. */
      v->dims[i] = -1;
      v->dim_param[i] = cn_strdup(dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param ? dim->dim_param : "?");
    }
  }
  return true;
}

/* Builds the IR from a decoded model. */
static cn_graph *graph_from_model(Onnx__ModelProto *m, const char *base_dir, cn_diag *d) {
  if (!m->graph) {
    cn_error(d, "the model has no graph");
    return NULL;
  }
  if (m->has_ir_version && (m->ir_version < 3 || m->ir_version > MAX_IR_VERSION)) {
    cn_error(d, "IR version %lld is not supported (3 to %d are)", (long long)m->ir_version,
             MAX_IR_VERSION);
    return NULL;
  }
  int opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!o->domain || o->domain[0] == '\0' || strcmp(o->domain, "ai.onnx") == 0) {
      opset = o->has_version ? (int)o->version : 1;
    }
  }
  if (opset < 0 && m->has_ir_version && m->ir_version < 3) {
    opset = 1;
  }
  if (opset < 0) {
    cn_error(d, "the model imports no version of the default ONNX operator set");
    return NULL;
  }
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    cn_error(d, "operator set version %d is not supported (%d to %d are)", opset, MIN_OPSET,
             MAX_OPSET);
    return NULL;
  }

  Onnx__GraphProto *gp = m->graph;
  cn_graph *g = cn_graph_new();
  g->opset = opset;
  if (gp->name && gp->name[0]) {
    free(g->name);
    g->name = cn_strdup(gp->name);
  }

  /* Initializers: constants. */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *t = gp->initializer[i];
    const char *name = t->name ? t->name : "";
    if (name[0] == '\0') {
      cn_error(d, "initializer #%zu has no name", i);
      continue;
    }
    if (cn_value_find(g, name) >= 0) {
      cn_error(d, "initializer '%s' is defined twice", name);
      continue;
    }
    char *what = cn_fmt("initializer '%s'", name);
    cn_tensor tensor;
    if (tensor_from_proto(d, what, t, base_dir, t, &tensor)) {
      int id = cn_value_add(g, name);
      cn_value *v = &g->values[id];
      v->kind = CN_VALUE_CONST;
      v->initializer = true;
      v->dtype = tensor.dtype;
      cn_value_set_shape(v, tensor.rank, tensor.dims);
      v->data = tensor.data;
      v->owns_data = true;
    }
    free(what);
  }

  /* Inputs that are not initializers (older exporters list both). */
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = vi->name ? vi->name : "";
    if (name[0] == '\0') {
      cn_error(d, "graph input #%zu has no name", i);
      continue;
    }
    int existing = cn_value_find(g, name);
    if (existing >= 0) {
      if (g->values[existing].kind != CN_VALUE_CONST) {
        cn_error(d, "graph input '%s' is listed twice", name);
      }
      continue;
    }
    int id = cn_value_add(g, name);
    g->values[id].kind = CN_VALUE_INPUT;
    if (shape_from_value_info(d, vi, &g->values[id])) {
      CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, id);
    }
  }

  /* Nodes: first create every output value, so that inputs can be resolved whatever the order
   * (a later toposort reports cycles and orders the nodes). */
  cn_buf unsupported = {0};
  int n_unsupported = 0;
  size_t *proto_of_node = cn_calloc(gp->n_node + 1, sizeof *proto_of_node);
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *op_type = np->op_type ? np->op_type : "";
    char *node_name = np->name && np->name[0] ? cn_strdup(np->name) : cn_fmt("%s_%zu", op_type, i);
    cn_op op = CN_OP_COUNT;
    bool known_domain = !np->domain || np->domain[0] == '\0' || strcmp(np->domain, "ai.onnx") == 0;
    if (!known_domain || !cn_op_from_onnx(op_type, &op)) {
      if (known_domain) {
        cn_buf_printf(&unsupported, "%s  %s (node '%s')", n_unsupported ? "\n" : "", op_type,
                      node_name);
      } else {
        cn_buf_printf(&unsupported, "%s  %s.%s (node '%s')", n_unsupported ? "\n" : "",
                      np->domain, op_type, node_name);
      }
      n_unsupported++;
      for (size_t k = 0; k < np->n_output; k++) { /* so that its consumers find their inputs */
        if (np->output[k] && np->output[k][0] && cn_value_find(g, np->output[k]) < 0) {
          cn_value_add(g, np->output[k]);
        }
      }
      free(node_name);
      continue;
    }
    int *outs = cn_malloc(sizeof(int) * (np->n_output + 1));
    int n_out = 0;
    bool ok = true;
    for (size_t k = 0; k < np->n_output; k++) {
      const char *oname = np->output[k] ? np->output[k] : "";
      if (oname[0] == '\0') { /* an optional output the model does not use */
        outs[n_out++] = -1;
        continue;
      }
      if (cn_value_find(g, oname) >= 0) {
        cn_error(d, "node '%s' (%s): output '%s' is already defined by another node, an input or "
                    "an initializer",
                 node_name, op_type, oname);
        ok = false;
        break;
      }
      outs[n_out++] = cn_value_add(g, oname);
    }
    if (ok) {
      int id = cn_node_add(g, op, node_name, op_type, NULL, 0, outs, n_out);
      proto_of_node[id] = i;
      cn_node *n = &g->nodes[id];
      for (int k = 0; k < n_out; k++) {
        if (outs[k] >= 0) {
          g->values[outs[k]].producer = id;
        }
      }
      n->n_attrs = (int)np->n_attribute;
      n->attrs = cn_calloc(np->n_attribute + 1, sizeof *n->attrs);
      for (size_t k = 0; k < np->n_attribute; k++) {
        convert_attr(d, n, np->attribute[k], base_dir, &n->attrs[k]);
      }
    }
    free(outs);
    free(node_name);
  }
  if (n_unsupported) {
    cn_error(d, "%d node%s use%s operators that cnncc does not support:\n%s", n_unsupported,
             n_unsupported == 1 ? "" : "s", n_unsupported == 1 ? "s" : "", unsupported.data);
  }
  cn_buf_free(&unsupported);

  /* Resolve node inputs by name. */
  for (int id = 0; id < g->n_nodes; id++) {
    const Onnx__NodeProto *np = gp->node[proto_of_node[id]];
    cn_node *n = &g->nodes[id];
    n->n_in = (int)np->n_input;
    free(n->in);
    n->in = cn_malloc(sizeof(int) * (np->n_input + 1));
    for (size_t k = 0; k < np->n_input; k++) {
      const char *iname = np->input[k] ? np->input[k] : "";
      if (iname[0] == '\0') {
        n->in[k] = -1;
        continue;
      }
      int vid = cn_value_find(g, iname);
      if (vid < 0) {
        cn_error_node(d, n, "input '%s' is not a graph input, an initializer or the output of any "
                            "node",
                      iname);
      }
      n->in[k] = vid;
    }
  }
  free(proto_of_node);

  /* Outputs. */
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name ? gp->output[i]->name : "";
    int vid = cn_value_find(g, name);
    if (vid < 0) {
      cn_error(d, "graph output '%s' is not produced by any node", name);
      continue;
    }
    g->values[vid].is_output = true;
    CN_PUSH(g->outputs, g->n_outputs, g->cap_outputs, vid);
  }
  if (gp->n_output == 0) {
    cn_error(d, "the graph has no outputs");
  }
  if (cn_diag_failed(d)) {
    cn_graph_free(g);
    return NULL;
  }
  return g;
}

static Onnx__ModelProto *decode(const uint8_t *data, size_t len, cn_diag *d) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m) {
    cn_error(d, "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file?)");
  }
  return m;
}

cn_graph *cn_onnx_load_buffer(const uint8_t *data, size_t len, const char *base_dir, cn_diag *d) {
  Onnx__ModelProto *m = decode(data, len, d);
  if (!m) {
    return NULL;
  }
  cn_graph *g = graph_from_model(m, base_dir, d);
  onnx__model_proto__free_unpacked(m, NULL);
  return g;
}

cn_graph *cn_onnx_load(const char *path, cn_diag *d) {
  size_t len = 0;
  unsigned char *data = cn_read_file(path, &len);
  if (!data) {
    cn_error(d, "cannot read the model: %s", strerror(errno));
    return NULL;
  }
  const char *slash = strrchr(path, '/');
  char *base_dir = slash ? cn_strndup(path, (size_t)(slash - path)) : cn_strdup(".");
  if (base_dir[0] == '\0') {
    free(base_dir);
    base_dir = cn_strdup("/");
  }
  /* The file's bytes go as soon as they are decoded (protobuf-c copies what it keeps), and the
   * graph takes the initializers' buffers over from the message: cnncc holds a model's weights
   * at most twice at any time (file + message while decoding), once after. */
  Onnx__ModelProto *m = decode(data, len, d);
  free(data);
  cn_graph *g = NULL;
  if (m) {
    g = graph_from_model(m, base_dir, d);
    onnx__model_proto__free_unpacked(m, NULL);
  }
  free(base_dir);
  return g;
}
