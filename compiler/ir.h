/* ir.h — the graph IR that every frontend produces and every pass and emitter consumes.
 *
 * A graph is a set of values (tensors) and nodes (ops). Values are identified by index; nodes
 * refer to their inputs and outputs by value index (-1 for an absent optional input). One IR
 * serves inference and training: backward graphs are built by a pass out of ordinary nodes.
 * Each value carries everything later stages need: static shape, dtype, the layout it is stored
 * in, whether its data is known at compile time, and where the memory plan put it. */
#ifndef CN_IR_H
#define CN_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/cnnrt.h"
#include "diag.h"
#include "util.h"

#define CN_MAX_RANK CNNRT_MAX_RANK
/* Largest tensor cnncc accepts, in elements and in bytes: refuse absurd sizes early. */
#define CN_MAX_ELEMENTS (INT64_C(1) << 34)
#define CN_MAX_BYTES (INT64_C(1) << 36)

typedef enum cnnrt_dtype cn_dtype;

typedef enum cn_op {
#define OP(id, name, onnx, family) CN_OP_##id,
#include "ops.def"
#undef OP
  CN_OP_COUNT
} cn_op;

typedef enum cn_value_kind {
  CN_VALUE_TEMP = 0, /* computed at run time, lives in the arena (or in an output buffer) */
  CN_VALUE_INPUT,    /* graph input, provided by the caller */
  CN_VALUE_CONST     /* known at compile time: initializers and folded values */
} cn_value_kind;

/* How a value's elements are laid out in memory. PLAIN is dense row-major (NCHW for images);
 * channel-blocked layouts keep C/8 (or C/16) blocks of 8 (16) channels innermost. */
typedef enum cn_layout { CN_LAYOUT_PLAIN = 0, CN_LAYOUT_NCHW8C, CN_LAYOUT_NCHW16C } cn_layout;

typedef struct cn_value {
  char *name;
  cn_dtype dtype;
  int rank; /* -1 until known */
  int64_t dims[CN_MAX_RANK];
  char *dim_param[CN_MAX_RANK]; /* symbolic dimension names of graph inputs, else NULL */
  cn_value_kind kind;
  bool is_output;
  cn_layout layout;
  void *data;     /* CONST: elements in C order */
  bool owns_data; /* data is ours to free (else it points into the loaded model) */
  int producer;   /* index of the producing node, -1 for inputs and constants */
  int alias;      /* value whose storage this view shares, -1 if it has its own */
  int64_t alias_offset; /* where in the alias's bytes this value starts (a Concat input written
                         * in place, passes/concat.c); 0 for views */
  int64_t offset; /* memory plan: arena offset (TEMP) or weight-blob offset (CONST), -1 unset */
  bool initializer; /* a model initializer (a parameter --grad differentiates), not a folded value */
} cn_value;

typedef enum cn_attr_type {
  CN_ATTR_UNDEFINED = 0,
  CN_ATTR_FLOAT = 1,
  CN_ATTR_INT = 2,
  CN_ATTR_STRING = 3,
  CN_ATTR_TENSOR = 4,
  CN_ATTR_GRAPH = 5,
  CN_ATTR_FLOATS = 6,
  CN_ATTR_INTS = 7,
  CN_ATTR_STRINGS = 8
} cn_attr_type;

/* A tensor literal (attribute values such as Constant's `value`). */
typedef struct cn_tensor {
  cn_dtype dtype;
  int rank;
  int64_t dims[CN_MAX_RANK];
  void *data;
} cn_tensor;

typedef struct cn_attr {
  char *name;
  cn_attr_type type;
  float f;
  int64_t i;
  char *s; /* STRING: NUL-terminated copy */
  int n;   /* FLOATS/INTS count */
  float *floats;
  int64_t *ints;
  cn_tensor *t;
} cn_attr;

typedef struct cn_node {
  cn_op op;
  char *name;    /* ONNX node name (or a generated one): used in messages */
  char *op_type; /* the op as the model spelled it, for messages */
  int opset;     /* opset version the node was written against */
  int n_in, n_out;
  int *in, *out; /* value indices; -1 for an absent optional input */
  int n_attrs;
  cn_attr *attrs;
  bool dead; /* removed by a pass (folded, fused, eliminated) */
  /* Fused epilogue, applied by the producing kernel before the store. */
  int act; /* enum cnnrt_act */
  float act_alpha, act_beta;
  int residual; /* value added before the activation, -1 for none */
  /* Conv only: [N, C_in, 1, 1] value the input channels are multiplied by where the kernel reads
   * them (a squeeze-excitation Mul fused into its consumer, fuse.c), -1 for none. */
  int in_scale;
  /* Parameters resolved by shape inference, in the form the op family's kernels take. */
  void *params;
  /* Kernel chosen by the schedule pass (family-specific variant, 0 = portable reference) and
   * its name for --dump. */
  int variant;
  const char *kernel;
  int64_t scratch_bytes; /* arena scratch the kernel needs while it runs */
  int64_t scratch_offset;
  /* When the scratch is one region per task and nothing else (cn_set_task_scratch): a region's
   * bytes, so that the memory plan may place every such node's task t at one address; else 0. */
  int64_t task_scratch_bytes;
  /* Built by the autodiff pass: runs in NAME_backward, after the forward nodes (which it may read
   * the saved values of). Only the code generator's driver looks at it, to split the functions. */
  bool backward;
} cn_node;

/* One `key = value` of a .cnn model's train section: a training option (its long command-line
 * name, e.g. "lr") and its value as written; the training code checks both. */
struct cn_train_decl {
  char *key;
  char *value;
  int line, col; /* where it is written, for messages */
};

typedef struct cn_graph {
  char *name;
  int opset; /* default-domain opset of the model */
  int n_values, cap_values;
  cn_value *values;
  int n_nodes, cap_nodes;
  cn_node *nodes;
  int n_inputs, cap_inputs;
  int *inputs; /* runtime inputs, in model order */
  int n_outputs, cap_outputs;
  int *outputs;
  cn_map by_name; /* value name -> index */
  /* Reverse mode (compiler/passes/autodiff.c). seeds[i]: the upstream gradient of outputs[i], a
   * run-time input of NAME_backward (-1: none). grads[i]: the gradient of value grad_wrt[i]
   * (-1: identically zero), an output of NAME_backward. */
  int n_seeds, n_grads, cap_grads;
  /* Set before inference when parameters will be differentiated (--grad, --train): nodes that
   * read a float initializer are not constant-folded, so that the initializer itself (not a
   * folded copy, e.g. PRelu's unsqueezed slope) is what the graph reads and gets a gradient. */
  bool keep_params;
  int *seeds;
  int *grads, *grad_wrt;
  int64_t arena_bytes;
  int64_t n_params; /* float constants the model reads, counted before kernel re-layouts */
  /* The train section of a .cnn model (empty for ONNX models), in source order. */
  struct cn_train_decl *train_decls;
  int n_train_decls;
} cn_graph;

/* --- construction --- */
cn_graph *cn_graph_new(void);
void cn_graph_free(cn_graph *g);
/* Adds a value with a unique name (a copy is stored); returns its index. */
int cn_value_add(cn_graph *g, const char *name);
/* Index of the value called `name`, or -1. */
int cn_value_find(const cn_graph *g, const char *name);
/* Adds a node; its in/out arrays are copied. Returns its index (may move g->nodes). */
int cn_node_add(cn_graph *g, cn_op op, const char *name, const char *op_type, const int *in,
                int n_in, const int *out, int n_out);
/* Whether no output of n that the model names has an element: running its kernel computes
 * nothing (and kernels may assume at least one element). */
bool cn_node_outputs_empty(const cn_graph *g, const cn_node *n);
/* A fresh name based on `base` that no value has yet. */
char *cn_unique_name(const cn_graph *g, const char *base);

/* --- values --- */
int64_t cn_value_numel(const cn_value *v);
int64_t cn_value_bytes(const cn_value *v);
bool cn_value_shape_eq(const cn_value *a, const cn_value *b);
/* Sets a value's data to a fresh zeroed buffer of its size, owned by the value. */
void *cn_value_alloc_data(cn_value *v);
void cn_value_set_shape(cn_value *v, int rank, const int64_t *dims);
/* Formats a shape as "[1, 3, 224, 224]" into buf. */
const char *cn_shape_str(int rank, const int64_t *dims, char *buf, int cap);
/* Reads element i of a constant integer/float value as int64 / double. */
int64_t cn_value_get_int(const cn_value *v, int64_t i);
double cn_value_get_float(const cn_value *v, int64_t i);

/* --- dtypes --- */
int cn_dtype_size(cn_dtype t); /* bytes per element, 0 if unsupported */
const char *cn_dtype_name(cn_dtype t);   /* "float32", "int64", ... */
const char *cn_dtype_ctype(cn_dtype t);  /* C type in generated code */
const char *cn_dtype_suffix(cn_dtype t); /* kernel name part: "f32", "i64", ... */
bool cn_dtype_is_float(cn_dtype t);
bool cn_dtype_is_int(cn_dtype t);

/* --- attributes --- */
const cn_attr *cn_attr_find(const cn_node *n, const char *name);
int64_t cn_attr_int(const cn_node *n, const char *name, int64_t def);
float cn_attr_float(const cn_node *n, const char *name, float def);
const char *cn_attr_string(const cn_node *n, const char *name, const char *def);
/* INTS attribute: returns count (or -1 if absent) and sets *vals. */
int cn_attr_ints(const cn_node *n, const char *name, const int64_t **vals);
int cn_attr_floats(const cn_node *n, const char *name, const float **vals);

/* --- node inputs --- */
static inline bool cn_has_input(const cn_node *n, int i) { return i < n->n_in && n->in[i] >= 0; }
static inline cn_value *cn_in(cn_graph *g, const cn_node *n, int i) {
  return cn_has_input(n, i) ? &g->values[n->in[i]] : 0;
}
static inline cn_value *cn_out(cn_graph *g, const cn_node *n, int i) {
  return i < n->n_out && n->out[i] >= 0 ? &g->values[n->out[i]] : 0;
}
/* The value whose storage value v lives in: v itself, or the end of its alias chain (views,
 * outputs computed in place over their residual, Concat inputs written into the Concat). */
static inline int cn_storage_root(const cn_graph *g, int v) {
  while (g->values[v].alias >= 0) {
    v = g->values[v].alias;
  }
  return v;
}
/* Every value a node reads, for the passes that ask who reads a value (dce, bn_fold, fuse,
 * memplan): read slot k < cn_node_n_reads(n) is input k, then the side inputs fusion adds
 * (the residual, the input-channel scale); -1 where absent. A new side input goes here. */
static inline int cn_node_n_reads(const cn_node *n) { return n->n_in + 2; }
static inline int cn_node_read(const cn_node *n, int k) {
  return k < n->n_in ? n->in[k] : k == n->n_in ? n->residual : n->in_scale;
}

/* --- op table --- */
const char *cn_op_name(cn_op op);      /* IR name */
const char *cn_op_onnx_name(cn_op op); /* ONNX op_type, "" for internal ops */
bool cn_op_from_onnx(const char *op_type, cn_op *op);

/* --- printing --- */
struct cn_buf;
void cn_graph_dump(const cn_graph *g, struct cn_buf *out);

#endif
