/* onnx_mutator.h — a structure-aware libFuzzer mutator for ONNX models (included by the ONNX
 * fuzz targets, which then define LLVMFuzzerCustomMutator with it).
 *
 * Byte-level mutations of a protobuf mostly break its framing, so the fuzzer rarely gets past
 * the decoder into the passes and code generation. Three times out of four this mutator decodes
 * the input with protobuf-c instead, changes one thing a model author (or an attacker) could
 * write — an attribute's value, a dimension, an integer initializer element (shapes, axes, pads),
 * an operator type, which value a node reads, an input dropped, an attribute's string — and
 * encodes it again. The rest of the time, and whenever the input does not decode, libFuzzer's
 * own byte mutations run (with the -dict words: operator and attribute names).
 *
 * Pointers the mutation swaps into the decoded message (strings it does not own, shortened
 * counts) are put back before protobuf-c frees it: an undo log. */
#ifndef CNNCC_ONNX_MUTATOR_H
#define CNNCC_ONNX_MUTATOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

typedef struct onnx_mut_rng {
  uint64_t s;
} onnx_mut_rng;

static uint64_t onnx_mut_next(onnx_mut_rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static size_t onnx_mut_below(onnx_mut_rng *r, size_t n) {
  return n ? (size_t)(onnx_mut_next(r) % n) : 0;
}

/* Values that find off-by-ones, sign and overflow mistakes. */
static int64_t onnx_mut_int(onnx_mut_rng *r, int64_t old) {
  static const int64_t interesting[] = {0,  1,  2,  3,  4,  5,  7,  8,   16,  31,  64,
                                        -1, -2, -3, -4, -8, 255, 256, 1000, 65536,
                                        INT32_MAX, INT32_MIN, (int64_t)1 << 31, (int64_t)1 << 32,
                                        (int64_t)1 << 34, (int64_t)1 << 40, INT64_MAX, INT64_MIN,
                                        INT64_MAX - 1, INT64_MIN + 1};
  switch (onnx_mut_below(r, 4)) { /* (wrapping, in unsigned arithmetic) */
  case 0: return (int64_t)((uint64_t)old + 1);
  case 1: return (int64_t)((uint64_t)old - 1);
  case 2: return (int64_t)(0 - (uint64_t)old);
  default: return interesting[onnx_mut_below(r, sizeof interesting / sizeof interesting[0])];
  }
}

static float onnx_mut_float(onnx_mut_rng *r, float old) {
  static const float interesting[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-30f, 1e30f,
                                      3.4e38f, -3.4e38f, 1e-45f};
  if (onnx_mut_below(r, 3) == 0) {
    return old * 2.0f; /* (may overflow to infinity: fine in IEEE arithmetic) */
  }
  if (onnx_mut_below(r, 8) == 0) { /* NaN and infinities, without <math.h> macros */
    union {
      uint32_t u;
      float f;
    } v;
    static const uint32_t bits[] = {0x7fc00000u, 0x7f800000u, 0xff800000u};
    v.u = bits[onnx_mut_below(r, 3)];
    return v.f;
  }
  return interesting[onnx_mut_below(r, sizeof interesting / sizeof interesting[0])];
}

/* The undo log: slots the mutation pointed at memory protobuf-c does not own. */
typedef struct onnx_mut_undo {
  void **ptr_slot[4];
  void *ptr_old[4];
  int n_ptr;
  size_t *count_slot[4];
  size_t count_old[4];
  int n_count;
  ProtobufCBinaryData *bin_slot;
  ProtobufCBinaryData bin_old;
  protobuf_c_boolean *has_slot;
  protobuf_c_boolean has_old;
} onnx_mut_undo;

static void onnx_mut_set_ptr(onnx_mut_undo *u, void **slot, void *value) {
  if (u->n_ptr < 4) {
    u->ptr_slot[u->n_ptr] = slot;
    u->ptr_old[u->n_ptr++] = *slot;
    *slot = value;
  }
}

static void onnx_mut_set_count(onnx_mut_undo *u, size_t *slot, size_t value) {
  if (u->n_count < 4) {
    u->count_slot[u->n_count] = slot;
    u->count_old[u->n_count++] = *slot;
    *slot = value;
  }
}

static void onnx_mut_restore(onnx_mut_undo *u) {
  for (int i = u->n_ptr - 1; i >= 0; i--) {
    *u->ptr_slot[i] = u->ptr_old[i];
  }
  for (int i = u->n_count - 1; i >= 0; i--) {
    *u->count_slot[i] = u->count_old[i];
  }
  if (u->bin_slot) {
    *u->bin_slot = u->bin_old;
    *u->has_slot = u->has_old;
  }
}

/* A name of some value of the graph: an input, an initializer or a node output. */
static char *onnx_mut_value_name(onnx_mut_rng *r, const Onnx__GraphProto *g) {
  size_t outs = 0;
  for (size_t i = 0; i < g->n_node; i++) {
    outs += g->node[i]->n_output;
  }
  size_t total = g->n_input + g->n_initializer + outs;
  if (total == 0) {
    return NULL;
  }
  size_t k = onnx_mut_below(r, total);
  if (k < g->n_input) {
    return g->input[k]->name;
  }
  k -= g->n_input;
  if (k < g->n_initializer) {
    return g->initializer[k]->name;
  }
  k -= g->n_initializer;
  for (size_t i = 0; i < g->n_node; i++) {
    if (k < g->node[i]->n_output) {
      return g->node[i]->output[k];
    }
    k -= g->node[i]->n_output;
  }
  return NULL;
}

static const char *const onnx_mut_ops[] = {
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "LpPool", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "LRN",
    "Softmax", "LogSoftmax", "Hardmax", "Relu", "LeakyRelu", "Sigmoid", "HardSwish", "Clip",
    "Add", "Mul", "Sub", "Div", "Pow", "PRelu", "Where", "Equal", "Max", "Sum", "Gemm", "MatMul",
    "ReduceMean", "ReduceSum", "ArgMax", "Resize", "Upsample", "Reshape", "Flatten", "Squeeze",
    "Unsqueeze", "Identity", "Transpose", "Concat", "Split", "Slice", "Pad", "Tile", "Expand",
    "Gather", "DepthToSpace", "SpaceToDepth", "Constant", "ConstantOfShape", "Shape", "Size",
    "Cast", "Dropout"};

static const char *const onnx_mut_strings[] = {
    "constant", "reflect", "edge", "wrap", "nearest", "linear", "cubic", "SAME_UPPER",
    "SAME_LOWER", "VALID", "NOTSET", "DCR", "CRD", "half_pixel", "align_corners", "asymmetric",
    "pytorch_half_pixel", "tf_crop_and_resize", "floor", "ceil", "round_prefer_floor", ""};

/* One structured change; false when the model has nothing of the kind chosen. */
static bool onnx_mut_apply(onnx_mut_rng *r, Onnx__ModelProto *m, onnx_mut_undo *u) {
  Onnx__GraphProto *g = m->graph;
  Onnx__NodeProto *n = g->n_node ? g->node[onnx_mut_below(r, g->n_node)] : NULL;
  Onnx__AttributeProto *a =
      n && n->n_attribute ? n->attribute[onnx_mut_below(r, n->n_attribute)] : NULL;
  switch (onnx_mut_below(r, 11)) {
  case 0: /* an attribute's number */
    if (!a) {
      return false;
    }
    if (a->n_ints) {
      int64_t *v = &a->ints[onnx_mut_below(r, a->n_ints)];
      *v = onnx_mut_int(r, *v);
    } else if (a->n_floats) {
      float *v = &a->floats[onnx_mut_below(r, a->n_floats)];
      *v = onnx_mut_float(r, *v);
    } else if (a->has_i) {
      a->i = onnx_mut_int(r, a->i);
    } else if (a->has_f) {
      a->f = onnx_mut_float(r, a->f);
    } else {
      return false;
    }
    return true;
  case 1: { /* an element of an integer initializer (shapes, axes, pads, repeats, sizes) */
    if (!g->n_initializer) {
      return false;
    }
    Onnx__TensorProto *t = g->initializer[onnx_mut_below(r, g->n_initializer)];
    if (t->n_int64_data) {
      int64_t *v = &t->int64_data[onnx_mut_below(r, t->n_int64_data)];
      *v = onnx_mut_int(r, *v);
    } else if (t->has_raw_data && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 &&
               t->raw_data.len >= 8) {
      size_t k = onnx_mut_below(r, t->raw_data.len / 8);
      int64_t v;
      memcpy(&v, t->raw_data.data + 8 * k, 8);
      v = onnx_mut_int(r, v);
      memcpy(t->raw_data.data + 8 * k, &v, 8);
    } else if (t->has_raw_data && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
               t->raw_data.len >= 4) {
      size_t k = onnx_mut_below(r, t->raw_data.len / 4);
      float v;
      memcpy(&v, t->raw_data.data + 4 * k, 4);
      v = onnx_mut_float(r, v);
      memcpy(t->raw_data.data + 4 * k, &v, 4);
    } else if (t->n_dims) {
      int64_t *v = &t->dims[onnx_mut_below(r, t->n_dims)];
      *v = onnx_mut_int(r, *v);
    } else {
      return false;
    }
    return true;
  }
  case 2: { /* a graph input's dimension */
    if (!g->n_input) {
      return false;
    }
    Onnx__ValueInfoProto *vi = g->input[onnx_mut_below(r, g->n_input)];
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type || !vi->type->tensor_type->shape ||
        !vi->type->tensor_type->shape->n_dim) {
      return false;
    }
    Onnx__TensorShapeProto *s = vi->type->tensor_type->shape;
    Onnx__TensorShapeProto__Dimension *dim = s->dim[onnx_mut_below(r, s->n_dim)];
    if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      return false;
    }
    /* Small sizes mostly: large ones only make the plan big. */
    dim->dim_value = onnx_mut_below(r, 4) ? (int64_t)onnx_mut_below(r, 9) : onnx_mut_int(r, 0);
    return true;
  }
  case 3: /* the operator */
    if (!n) {
      return false;
    }
    onnx_mut_set_ptr(u, (void **)&n->op_type,
                     (void *)onnx_mut_ops[onnx_mut_below(r, sizeof onnx_mut_ops / sizeof
                                                                 onnx_mut_ops[0])]);
    return true;
  case 4: /* which value a node reads */
  case 5: {
    if (!n || !n->n_input) {
      return false;
    }
    char *name = onnx_mut_value_name(r, g);
    if (!name) {
      return false;
    }
    onnx_mut_set_ptr(u, (void **)&n->input[onnx_mut_below(r, n->n_input)], name);
    return true;
  }
  case 6: /* an input dropped (the last one: optional inputs) */
    if (!n || !n->n_input) {
      return false;
    }
    onnx_mut_set_count(u, &n->n_input, n->n_input - 1);
    return true;
  case 7: /* an attribute dropped (the last one) */
    if (!n || !n->n_attribute) {
      return false;
    }
    onnx_mut_set_count(u, &n->n_attribute, n->n_attribute - 1);
    return true;
  case 8: /* an attribute's string */
    if (!a || !a->has_s) {
      return false;
    } else {
      const char *s =
          onnx_mut_strings[onnx_mut_below(r, sizeof onnx_mut_strings / sizeof onnx_mut_strings[0])];
      u->bin_slot = &a->s;
      u->bin_old = a->s;
      u->has_slot = &a->has_s;
      u->has_old = a->has_s;
      a->s.data = (uint8_t *)(uintptr_t)s;
      a->s.len = strlen(s);
      return true;
    }
  case 9: /* the opset */
    if (!m->n_opset_import) {
      return false;
    }
    m->opset_import[0]->version = (int64_t)onnx_mut_below(r, 19);
    m->opset_import[0]->has_version = 1;
    return true;
  default: { /* which value the graph outputs */
    if (!g->n_output) {
      return false;
    }
    char *name = onnx_mut_value_name(r, g);
    if (!name) {
      return false;
    }
    onnx_mut_set_ptr(u, (void **)&g->output[onnx_mut_below(r, g->n_output)]->name, name);
    return true;
  }
  }
}

static size_t onnx_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  onnx_mut_rng r = {seed * 0x2545f4914f6cdd1dull + 1};
  if (onnx_mut_below(&r, 4) == 0) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m || !m->graph) {
    if (m) {
      onnx__model_proto__free_unpacked(m, NULL);
    }
    return LLVMFuzzerMutate(data, size, max_size);
  }
  size_t out = 0;
  int changes = 1 + (int)onnx_mut_below(&r, 3);
  for (int attempt = 0; attempt < 8 && changes > 0; attempt++) {
    onnx_mut_undo u;
    memset(&u, 0, sizeof u);
    if (!onnx_mut_apply(&r, m, &u)) {
      continue;
    }
    changes--;
    size_t need = onnx__model_proto__get_packed_size(m);
    if (need <= max_size) {
      uint8_t *buf = malloc(need ? need : 1);
      out = onnx__model_proto__pack(m, buf);
      memcpy(data, buf, out);
      free(buf);
    }
    /* Later changes build on this one in the buffer, not in the message: re-decode. */
    onnx_mut_restore(&u);
    if (changes > 0 && out > 0) {
      onnx__model_proto__free_unpacked(m, NULL);
      m = onnx__model_proto__unpack(NULL, out, data);
      if (!m || !m->graph) {
        break;
      }
    }
  }
  if (m) {
    onnx__model_proto__free_unpacked(m, NULL);
  }
  return out > 0 ? out : LLVMFuzzerMutate(data, size, max_size);
}

#endif
