/* dsl_build.c — evaluates a parsed .cnn program into the graph IR.
 *
 * The program is interpreted: blocks are called with their arguments bound, `repeat` and `if`
 * run their bodies, and every operator call adds one IR node (a few, such as gelu, add several)
 * with ONNX semantics at opset 17, the same nodes the ONNX loader would build. Each node's
 * shapes are inferred as soon as it is added (by the op family's own inference), so that layers
 * can size their parameters from their input and shape errors are reported at the call.
 *
 * Values in the language are numbers, booleans, strings, lists, tensors, and "error": the
 * result of anything that was reported, which quietly poisons what uses it so that one mistake
 * gives one message and evaluation can go on to find the next. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/ops.h"
#include "../../runtime/cnnrt_npy.h"
#include "../onnx/onnx_loader.h"
#include "dsl_internal.h"

enum {
  OPSET = 17,
  MAX_CALL_DEPTH = 48,     /* block calls nested (recursion is refused before this) */
  MAX_LIST = 1 << 16,      /* elements of a list value */
  MAX_NODES = 1 << 16,     /* nodes of one model */
  MAX_STEPS = 1 << 18,     /* statements executed: bounds repeat loops and recursion */
  MAX_ERRORS = 50,         /* evaluation stops after this many errors (as -ferror-limit) */
  MAX_REPEAT = 1 << 16
};

/* --- values --- */

typedef enum vkind { V_ERROR = 0, V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR, V_LIST, V_TENSOR } vkind;

typedef struct val val;
struct val {
  vkind k;
  int64_t i;     /* INT, BOOL; TENSOR: value index */
  double f;      /* FLOAT */
  const char *s; /* STR (owned by the program or the builder's pool) */
  int n;         /* LIST */
  val *items;
};

static const val ERR = {V_ERROR, 0, 0, NULL, 0, NULL};

static val mk_int(int64_t i) { return (val){V_INT, i, 0, NULL, 0, NULL}; }
static val mk_float(double f) { return (val){V_FLOAT, 0, f, NULL, 0, NULL}; }
static val mk_bool(bool b) { return (val){V_BOOL, b, 0, NULL, 0, NULL}; }
static val mk_tensor(int id) { return (val){V_TENSOR, id, 0, NULL, 0, NULL}; }

static const char *kind_name(vkind k) {
  static const char *const names[] = {"error", "none", "an integer", "a number", "a boolean",
                                      "a string", "a list", "a tensor"};
  return names[k];
}

/* A name bound in a scope. */
typedef struct binding {
  const char *name;
  val v;
} binding;

typedef struct env {
  int n, cap;
  binding *b;
  const char *prefix; /* layer-name prefix of this scope: "" at top level, "layer1.0." in blocks */
  bool returned;
  val ret;
} env;

typedef struct param_source {
  const char *path;
  cn_graph *onnx; /* the model's initializers, or NULL for a folder of NAME.npy files */
  int used;
} param_source;

typedef struct builder {
  const dsl_source *src;
  cn_diag *d;
  cn_graph *g;
  const cn_dsl_options *opt;
  char *base_dir;
  uint64_t seed;
  int n_blocks;
  const dsl_stmt **blocks;
  int n_sources, cap_sources;
  param_source *sources;
  int64_t param_elements, max_param_elements;
  int64_t steps;
  int call_depth;
  int n_pool, cap_pool;
  void **pool; /* allocations freed with the builder */
  cn_map scopes; /* layer/scope names used, to make generated ones unique */
  env *global;
  int n_seeded; /* parameters initialised from the seed while files were given */
  cn_map next_suffix; /* base name -> the next _N suffix to try (keeps naming linear) */
  bool stopped; /* a limit was hit (recursion, statements, errors): evaluate nothing more */
} builder;

static char *fresh_name(builder *b, const char *base, bool values_only);

static void *pool_alloc(builder *b, size_t n) {
  void *p = cn_calloc(1, n ? n : 1);
  CN_PUSH(b->pool, b->n_pool, b->cap_pool, p);
  return p;
}

static char *pool_str(builder *b, char *s) { /* takes ownership of a malloc'd string */
  CN_PUSH(b->pool, b->n_pool, b->cap_pool, s);
  return s;
}

static void error_at(builder *b, const dsl_expr *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_at(builder *b, const dsl_expr *e, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dsl_error(b->d, b->src, e ? e->line : 0, e ? e->col : 0, "%s", msg);
}

static void error_line(builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void error_line(builder *b, int line, int col, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dsl_error(b->d, b->src, line, col, "%s", msg);
}

static const char *shape_of(builder *b, int id, char *buf, int cap) {
  const cn_value *v = &b->g->values[id];
  (void)b;
  return cn_shape_str(v->rank, v->dims, buf, cap);
}

/* --- environments --- */

static val *env_find_local(env *e, const char *name) {
  for (int i = e->n - 1; i >= 0; i--) {
    if (strcmp(e->b[i].name, name) == 0) {
      return &e->b[i].v;
    }
  }
  return NULL;
}

static val *env_lookup(builder *b, env *e, const char *name) {
  val *v = env_find_local(e, name);
  if (!v && e != b->global) {
    v = env_find_local(b->global, name);
  }
  return v;
}

static void env_set(env *e, const char *name, val v) {
  val *old = env_find_local(e, name);
  if (old) {
    *old = v;
    return;
  }
  CN_PUSH(e->b, e->n, e->cap, ((binding){name, v}));
}

/* --- graph construction helpers --- */

typedef struct attr_list {
  int n;
  cn_attr a[24];
} attr_list;

static cn_attr *attr_new(attr_list *al, const char *name, cn_attr_type type) {
  CN_ASSERT(al->n < (int)(sizeof al->a / sizeof al->a[0]));
  cn_attr *a = &al->a[al->n++];
  memset(a, 0, sizeof *a);
  a->name = cn_strdup(name);
  a->type = type;
  return a;
}
static void attr_int(attr_list *al, const char *name, int64_t v) {
  attr_new(al, name, CN_ATTR_INT)->i = v;
}
static void attr_float(attr_list *al, const char *name, double v) {
  attr_new(al, name, CN_ATTR_FLOAT)->f = (float)v;
}
static void attr_string(attr_list *al, const char *name, const char *s) {
  attr_new(al, name, CN_ATTR_STRING)->s = cn_strdup(s);
}
static void attr_ints(attr_list *al, const char *name, int n, const int64_t *v) {
  cn_attr *a = attr_new(al, name, CN_ATTR_INTS);
  a->n = n;
  a->ints = cn_malloc(sizeof(int64_t) * (size_t)(n + 1));
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}
static void attr_floats(attr_list *al, const char *name, int n, const double *v) {
  cn_attr *a = attr_new(al, name, CN_ATTR_FLOATS);
  a->n = n;
  a->floats = cn_malloc(sizeof(float) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    a->floats[i] = (float)v[i];
  }
}
static void attr_list_free(attr_list *al) {
  for (int i = 0; i < al->n; i++) {
    free(al->a[i].name);
    free(al->a[i].s);
    free(al->a[i].ints);
    free(al->a[i].floats);
  }
  al->n = 0;
}

/* A constant value (an operator's shape-like input, or a scalar operand). */
static int add_const(builder *b, const char *base, cn_dtype dtype, int rank, const int64_t *dims,
                     const void *data) {
  char *name = fresh_name(b, base, true);
  int id = cn_value_add(b->g, name);
  free(name);
  cn_value *v = &b->g->values[id];
  v->kind = CN_VALUE_CONST;
  v->dtype = dtype;
  cn_value_set_shape(v, rank, dims);
  memcpy(cn_value_alloc_data(v), data, (size_t)cn_value_bytes(v));
  return id;
}

static int const_i64s(builder *b, const char *base, int n, const int64_t *vals) {
  int64_t dims[1] = {n};
  return add_const(b, base, CNNRT_I64, 1, dims, n ? (const void *)vals : (const void *)"");
}

static int const_f32s(builder *b, const char *base, int n, const double *vals, bool scalar) {
  float *f = cn_calloc((size_t)n + 1, sizeof *f);
  for (int i = 0; i < n; i++) {
    f[i] = (float)vals[i];
  }
  int64_t dims[1] = {n};
  int id = add_const(b, base, CNNRT_F32, scalar ? 0 : 1, dims, f);
  free(f);
  return id;
}

/* Runs the op family's shape inference on node `id`. Its messages name the node; here they are
 * reported at the call instead, as `op: message`. */
static bool infer_node(builder *b, int id, const char *op, const dsl_expr *at) {
  cn_diag quiet;
  cn_diag_init(&quiet, NULL);
  quiet.quiet = true;
  if (cn_op_infer(b->g, &b->g->nodes[id], &quiet) && !cn_diag_failed(&quiet)) {
    return true;
  }
  /* Failed: again, capturing the message (inference is a pure function of the node). */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  cn_diag sub;
  cn_diag_init(&sub, NULL);
  sub.out = mem;
  sub.quiet = mem == NULL;
  bool ok = cn_op_infer(b->g, &b->g->nodes[id], &sub) && !cn_diag_failed(&sub);
  if (mem) {
    fclose(mem);
  }
  if (!ok) {
    /* "cnncc: error: node 'x' (Conv): message\n" → "message" (first line) */
    const char *m = text ? text : "";
    const char *p = strstr(m, "): ");
    if (p) {
      m = p + 3;
    } else if (strncmp(m, "cnncc: error: ", 14) == 0) {
      m += 14;
    }
    size_t n = strcspn(m, "\n");
    if (n == 0) {
      error_at(b, at, "%s: invalid arguments", op);
    } else {
      error_at(b, at, "%s: %.*s", op, (int)n, m);
    }
  }
  free(text);
  return ok;
}

/* Adds a node with inputs `in` (value ids, -1 absent) and n_out outputs named from `name`
 * (unique), attaches the attributes (taken) and infers its shapes. Returns the index of its
 * first output, or -1 after a reported error. outs (optional) receives every output. */
static int add_node_n(builder *b, cn_op op, const char *opname, const char *name, const int *in,
                      int n_in, attr_list *attrs, int n_out, int *outs, const dsl_expr *at) {
  for (int i = 0; i < n_in; i++) {
    CN_ASSERT(in[i] >= -1 && in[i] < b->g->n_values);
  }
  if (b->g->n_nodes >= MAX_NODES) {
    error_at(b, at, "the model has more than %d operators", MAX_NODES);
    if (attrs) {
      attr_list_free(attrs);
    }
    return -1;
  }
  int out_ids[8];
  CN_ASSERT(n_out >= 1 && n_out <= 8);
  for (int k = 0; k < n_out; k++) {
    char *oname = n_out == 1 ? fresh_name(b, name, true) : NULL;
    if (!oname) {
      char *base = cn_fmt("%s.%d", name, k);
      oname = fresh_name(b, base, true);
      free(base);
    }
    out_ids[k] = cn_value_add(b->g, oname);
    free(oname);
  }
  const char *onnx = cn_op_onnx_name(op);
  int id = cn_node_add(b->g, op, b->g->values[out_ids[0]].name, onnx, in, n_in, out_ids, n_out);
  cn_node *n = &b->g->nodes[id];
  n->opset = OPSET;
  for (int k = 0; k < n_out; k++) {
    b->g->values[out_ids[k]].producer = id;
  }
  if (attrs && attrs->n) {
    n->n_attrs = attrs->n;
    n->attrs = cn_calloc((size_t)attrs->n, sizeof *n->attrs);
    memcpy(n->attrs, attrs->a, sizeof *n->attrs * (size_t)attrs->n);
    attrs->n = 0;
  }
  if (!infer_node(b, id, opname, at)) {
    return -1;
  }
  if (outs) {
    memcpy(outs, out_ids, sizeof(int) * (size_t)n_out);
  }
  return out_ids[0];
}

static int add_node(builder *b, cn_op op, const char *opname, const char *name, const int *in,
                    int n_in, attr_list *attrs, const dsl_expr *at) {
  return add_node_n(b, op, opname, name, in, n_in, attrs, 1, NULL, at);
}

/* --- parameters --- */

typedef enum init_kind { INIT_UNIFORM, INIT_CONST } init_kind;


/* Looks `name` up in the parameter sources; fills v's data if found (shape checked). Returns
 * false with a reported error when a source has it with the wrong shape or type. */
static bool load_param(builder *b, const char *name, cn_value *v, bool *found,
                       const dsl_expr *at) {
  *found = false;
  for (int s = 0; s < b->n_sources; s++) {
    param_source *ps = &b->sources[s];
    char want[200], got[200];
    cn_shape_str(v->rank, v->dims, want, sizeof want);
    if (ps->onnx) {
      int id = cn_value_find(ps->onnx, name);
      if (id < 0 || ps->onnx->values[id].kind != CN_VALUE_CONST) {
        continue;
      }
      const cn_value *src = &ps->onnx->values[id];
      if (src->dtype != CNNRT_F32 || !cn_value_shape_eq(src, v)) {
        error_at(b, at, "parameter '%s' in %s is %s %s, but the layer needs float32 %s", name,
                 ps->path, cn_dtype_name(src->dtype),
                 cn_shape_str(src->rank, src->dims, got, sizeof got), want);
        return false;
      }
      memcpy(cn_value_alloc_data(v), src->data, (size_t)cn_value_bytes(v));
      ps->used++;
      *found = true;
      return true;
    }
    char *path = cn_fmt("%s/%s.npy", ps->path, name);
    size_t len = 0;
    unsigned char *buf = cn_read_file(path, &len);
    if (!buf) {
      free(path);
      continue;
    }
    cnnrt_npy_info info;
    const char *err = cnnrt_npy_parse(buf, len, &info);
    bool ok = true;
    if (err) {
      error_at(b, at, "parameter '%s': %s: %s", name, path, err);
      ok = false;
    } else if (info.dtype != CNNRT_F32 || info.rank != v->rank ||
               memcmp(info.dims, v->dims, sizeof(int64_t) * (size_t)v->rank) != 0) {
      error_at(b, at, "parameter '%s': %s is %s %s, but the layer needs float32 %s", name, path,
               cn_dtype_name((cn_dtype)info.dtype),
               cn_shape_str(info.rank, info.dims, got, sizeof got), want);
      ok = false;
    } else {
      memcpy(cn_value_alloc_data(v), buf + info.data_offset, (size_t)cn_value_bytes(v));
      ps->used++;
      *found = true;
    }
    free(buf);
    free(path);
    return ok;
  }
  return true;
}

/* Creates the float32 parameter `<layer>.<what>` of the given shape: loaded by name from the
 * parameter sources, else initialised from the seed (uniform in [-bound, bound), or `value`).
 * Returns its value index, or -1 after a reported error. */
static int make_param(builder *b, const char *layer, const char *what, int rank,
                      const int64_t *dims, init_kind init, double bound, const dsl_expr *at) {
  char *name = cn_fmt("%s.%s", layer, what);
  if (cn_value_find(b->g, name) >= 0) {
    error_at(b, at, "parameter '%s' is defined twice; give this layer another name with 'as'",
             name);
    free(name);
    return -1;
  }
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] <= 0 || !cn_mul_checked(numel, dims[i], CN_MAX_ELEMENTS, &numel)) {
      char buf[200];
      error_at(b, at, "parameter '%s' would have shape %s", name,
               cn_shape_str(rank, dims, buf, sizeof buf));
      free(name);
      return -1;
    }
  }
  if (b->param_elements + numel > b->max_param_elements) {
    error_at(b, at, "parameter '%s' has %" PRId64 " elements: the model's parameters would exceed "
                    "%" PRId64,
             name, numel, b->max_param_elements);
    free(name);
    return -1;
  }
  b->param_elements += numel;
  int id = cn_value_add(b->g, name);
  cn_value *v = &b->g->values[id];
  v->kind = CN_VALUE_CONST;
  v->initializer = true; /* a parameter: --grad and --train differentiate it */
  v->dtype = CNNRT_F32;
  cn_value_set_shape(v, rank, dims);
  bool found = false;
  if (!load_param(b, name, v, &found, at)) {
    free(name);
    return -1;
  }
  if (!found) {
    float *data = cn_value_alloc_data(v);
    for (int64_t i = 0; i < numel; i++) {
      data[i] = init == INIT_CONST ? (float)bound : (float)(bound * dsl_uniform(b->seed, name, i));
    }
    if (b->n_sources > 0) {
      b->n_seeded++;
      if (b->n_seeded <= 8) {
        cn_warning(b->d, "parameter '%s' is in none of the parameter files; initialised from the "
                         "seed",
                   name);
      }
    }
  }
  free(name);
  return id;
}

/* --- argument binding --- */

/* One parameter of an operator, parsed from its spec text (see the op table below):
 *   name        a tensor input            name?  an optional tensor input
 *   name*       any number of tensors (the rest of the positional tensors)
 *   name:T      a value of type T: i int, f float, b bool, s string, is int or int list,
 *               fs float or float list, t tensor or number, I tensor or int list, any
 *   name>onnx:T for generic ops: the ONNX attribute (or, with T = @..., input) it sets
 *   ...:@T      an ONNX input made from a constant (shape-like inputs at opset 17)
 *   ...!        required          ...=V   default V (documentation; the builder applies it) */
typedef struct arg_spec {
  char name[96];
  char onnx[96];
  char type[96];
  bool tensor, optional, variadic, as_input, required;
  char def[96];
} arg_spec;

enum { MAX_SPECS = 12, MAX_ARGS = 64 };

static int parse_spec(const char *spec, arg_spec *out) {
  int n = 0;
  const char *p = spec;
  while (*p) {
    while (*p == ' ') {
      p++;
    }
    if (!*p) {
      break;
    }
    CN_ASSERT(n < MAX_SPECS);
    arg_spec *a = &out[n++];
    memset(a, 0, sizeof *a);
    size_t len = strcspn(p, " ");
    char item[96];
    CN_ASSERT(len < sizeof item);
    memcpy(item, p, len);
    item[len] = '\0';
    p += len;
    char *eq = strchr(item, '=');
    if (eq) {
      *eq = '\0';
      snprintf(a->def, sizeof a->def, "%s", eq + 1);
    }
    char *colon = strchr(item, ':');
    if (!colon) {
      size_t l = strlen(item);
      a->tensor = true;
      if (item[l - 1] == '?') {
        a->optional = true;
        item[--l] = '\0';
      } else if (item[l - 1] == '*') {
        a->variadic = true;
        item[--l] = '\0';
      } else {
        a->required = true;
      }
      snprintf(a->name, sizeof a->name, "%s", item);
      snprintf(a->onnx, sizeof a->onnx, "%s", item);
      continue;
    }
    *colon = '\0';
    char *type = colon + 1;
    size_t tl = strlen(type);
    if (tl && type[tl - 1] == '!') {
      a->required = true;
      type[--tl] = '\0';
    }
    if (type[0] == '@') {
      a->as_input = true;
      type++;
    }
    snprintf(a->type, sizeof a->type, "%s", type);
    char *gt = strchr(item, '>');
    if (gt) {
      *gt = '\0';
      snprintf(a->onnx, sizeof a->onnx, "%s", gt + 1);
    } else {
      snprintf(a->onnx, sizeof a->onnx, "%s", item);
    }
    snprintf(a->name, sizeof a->name, "%s", item);
  }
  return n;
}

/* The arguments of one call, matched to the op's parameters. */
typedef struct call_args {
  int n_spec;
  arg_spec spec[MAX_SPECS];
  val v[MAX_SPECS];
  const dsl_expr *at[MAX_SPECS]; /* argument expression, for messages; NULL if not given */
  bool given[MAX_SPECS];
  int n_var; /* the variadic tensors */
  val var[MAX_ARGS];
  const dsl_expr *var_at[MAX_ARGS];
} call_args;

static int spec_index(const call_args *c, const char *name) {
  for (int i = 0; i < c->n_spec; i++) {
    if (strcmp(c->spec[i].name, name) == 0) {
      return i;
    }
  }
  CN_UNREACHABLE();
}

static bool has(const call_args *c, const char *name) { return c->given[spec_index(c, name)]; }
static val arg(const call_args *c, const char *name) { return c->v[spec_index(c, name)]; }
static const dsl_expr *arg_at(const call_args *c, const char *name, const dsl_expr *call) {
  const dsl_expr *e = c->at[spec_index(c, name)];
  return e ? e : call;
}

static bool is_number(const val *v) { return v->k == V_INT || v->k == V_FLOAT; }
static double num(const val *v) { return v->k == V_FLOAT ? v->f : (double)v->i; }

/* Checks a value against a spec type; reports at `at`. */
static bool check_type(builder *b, const char *op, const arg_spec *s, const val *v,
                       const dsl_expr *at) {
  const char *t = s->type;
  bool ok;
  const char *want;
  if (s->tensor) {
    ok = v->k == V_TENSOR;
    want = "a tensor";
  } else if (strcmp(t, "i") == 0) {
    ok = v->k == V_INT || v->k == V_BOOL;
    want = "an integer";
  } else if (strcmp(t, "f") == 0) {
    ok = is_number(v);
    want = "a number";
  } else if (strcmp(t, "b") == 0) {
    ok = v->k == V_BOOL || v->k == V_INT;
    want = "true or false";
  } else if (strcmp(t, "s") == 0) {
    ok = v->k == V_STR;
    want = "a string";
  } else if (strcmp(t, "is") == 0 || strcmp(t, "I") == 0) {
    ok = v->k == V_INT || (t[0] == 'I' && v->k == V_TENSOR);
    if (v->k == V_LIST) {
      ok = true;
      for (int i = 0; i < v->n; i++) {
        ok = ok && v->items[i].k == V_INT;
      }
    }
    want = t[0] == 'I' ? "a tensor or a list of integers" : "an integer or a list of integers";
  } else if (strcmp(t, "fs") == 0) {
    ok = is_number(v);
    if (v->k == V_LIST) {
      ok = true;
      for (int i = 0; i < v->n; i++) {
        ok = ok && is_number(&v->items[i]);
      }
    }
    want = "a number or a list of numbers";
  } else if (strcmp(t, "t") == 0) {
    ok = v->k == V_TENSOR || is_number(v);
    want = "a tensor or a number";
  } else {
    ok = true;
    want = "";
  }
  if (!ok) {
    error_at(b, at, "%s: argument '%s' must be %s, not %s", op, s->name, want, kind_name(v->k));
  }
  return ok;
}

/* Integers of an `is` argument (a single int is one element). Returns the count. */
static int get_ints(const val *v, int64_t *out, int cap) {
  if (v->k == V_INT || v->k == V_BOOL) {
    out[0] = v->i;
    return 1;
  }
  int n = v->n < cap ? v->n : cap;
  for (int i = 0; i < n; i++) {
    out[i] = v->items[i].i;
  }
  return v->n;
}

static int get_floats(const val *v, double *out, int cap) {
  if (is_number(v)) {
    out[0] = num(v);
    return 1;
  }
  int n = v->n < cap ? v->n : cap;
  for (int i = 0; i < n; i++) {
    out[i] = num(&v->items[i]);
  }
  return v->n;
}

static const char *suggest(const char *name, const char *const *cands, int n) {
  const char *best = NULL;
  int best_d = (int)strlen(name) <= 3 ? 2 : 3;
  for (int i = 0; i < n; i++) {
    int dd = dsl_edit_distance(name, cands[i]);
    if (dd < best_d) {
      best_d = dd;
      best = cands[i];
    }
  }
  return best;
}

/* Matches evaluated call arguments to the spec: positional arguments fill the parameters in
 * order (a variadic tensor parameter takes every positional tensor), keywords by name. */
static bool bind_args(builder *b, const char *op, const char *spec, int n_args, const val *args,
                      const dsl_expr *const *arg_at_, char *const *names, const dsl_expr *call,
                      call_args *c) {
  memset(c, 0, sizeof *c);
  c->n_spec = parse_spec(spec, c->spec);
  bool ok = true;
  int next = 0;
  for (int a = 0; a < n_args; a++) {
    int slot = -1;
    if (names[a]) {
      for (int i = 0; i < c->n_spec; i++) {
        if (strcmp(c->spec[i].name, names[a]) == 0) {
          slot = i;
        }
      }
      if (slot < 0) {
        const char *cands[MAX_SPECS];
        for (int i = 0; i < c->n_spec; i++) {
          cands[i] = c->spec[i].name;
        }
        const char *s = suggest(names[a], cands, c->n_spec);
        int line = call->arg_line ? call->arg_line[a] : arg_at_[a]->line;
        int col = call->arg_col ? call->arg_col[a] : arg_at_[a]->col;
        if (s) {
          error_line(b, line, col, "%s has no argument '%s'; did you mean '%s'?", op, names[a], s);
        } else {
          error_line(b, line, col, "%s has no argument '%s'", op, names[a]);
        }
        ok = false;
        continue;
      }
      if (c->spec[slot].variadic) {
        error_at(b, arg_at_[a], "%s: '%s' is given as positional arguments", op, names[a]);
        ok = false;
        continue;
      }
    } else {
      while (next < c->n_spec && c->given[next] && !c->spec[next].variadic) {
        next++;
      }
      if (next < c->n_spec && c->spec[next].variadic) {
        if (args[a].k == V_TENSOR || args[a].k == V_ERROR) {
          if (c->n_var == MAX_ARGS) {
            error_at(b, arg_at_[a], "%s: more than %d inputs", op, MAX_ARGS);
            return false;
          }
          c->var_at[c->n_var] = arg_at_[a];
          c->var[c->n_var++] = args[a];
          c->given[next] = true;
          continue;
        }
        next++;
      }
      if (next >= c->n_spec) {
        int max_pos = c->n_spec;
        error_at(b, arg_at_[a], "%s takes at most %d positional argument%s, got %d", op, max_pos,
                 max_pos == 1 ? "" : "s", n_args - (int)(names[a] != NULL));
        ok = false;
        break;
      }
      slot = next++;
    }
    if (c->given[slot]) {
      error_at(b, arg_at_[a], "%s: argument '%s' is given twice", op, c->spec[slot].name);
      ok = false;
      continue;
    }
    c->given[slot] = true;
    c->v[slot] = args[a];
    c->at[slot] = arg_at_[a];
    if (args[a].k == V_ERROR) {
      ok = false; /* (reported where it was made) */
    } else if (args[a].k != V_NONE && !check_type(b, op, &c->spec[slot], &args[a], arg_at_[a])) {
      ok = false;
    }
    if (args[a].k == V_NONE) {
      c->given[slot] = false; /* `none` is the same as leaving it out */
    }
  }
  for (int i = 0; ok && i < c->n_spec; i++) {
    if (c->spec[i].required && !c->given[i]) {
      /* a missing input (tensor, or tensor-or-number) is a wrong number of inputs */
      int n_inputs = 0, n_given = 0;
      bool is_input = false;
      for (int k = 0; k < c->n_spec; k++) {
        bool input = c->spec[k].tensor || strcmp(c->spec[k].type, "t") == 0;
        if (input && c->spec[k].required) {
          n_inputs++;
          n_given += c->given[k];
          is_input = is_input || k == i;
        }
      }
      if (is_input) {
        error_at(b, call, "%s expects %d input%s, got %d", op, n_inputs, n_inputs == 1 ? "" : "s",
                 n_given);
      } else {
        error_at(b, call, "%s: missing argument '%s'", op, c->spec[i].name);
      }
      ok = false;
    }
  }
  for (int k = 0; k < c->n_var; k++) {
    ok = ok && c->var[k].k == V_TENSOR;
  }
  return ok;
}

/* --- operators --- */

typedef struct op_call {
  builder *b;
  const char *op;      /* as written */
  const dsl_expr *at;  /* the call */
  const char *layer;   /* layer name: parameters are <layer>.weight, ... */
  const char *name;    /* name of the result value */
  call_args c;
} op_call;

typedef val (*op_fn)(op_call *oc, cn_op op);

static cn_value *tv(op_call *oc, const char *argname) {
  return &oc->b->g->values[arg(&oc->c, argname).i];
}

/* Tensor input argument `x`, with a rank check: "conv2d expects a 4-D input, got [1, 784]". */
static bool need_rank(op_call *oc, const char *argname, int min_rank, int max_rank) {
  cn_value *v = tv(oc, argname);
  if (v->rank >= min_rank && v->rank <= max_rank) {
    return true;
  }
  char buf[200];
  const char *shape = cn_shape_str(v->rank, v->dims, buf, sizeof buf);
  if (min_rank == max_rank) {
    error_at(oc->b, arg_at(&oc->c, argname, oc->at), "%s expects a %d-D input, got %s", oc->op,
             min_rank, shape);
  } else {
    error_at(oc->b, arg_at(&oc->c, argname, oc->at), "%s expects a %d-D to %d-D input, got %s",
             oc->op, min_rank, max_rank, shape);
  }
  return false;
}

/* An int-list argument broadcast to `n` values (a single int is repeated). */
static bool ints_n(op_call *oc, const char *argname, int n, int64_t dflt, int64_t *out,
                   int64_t min) {
  if (!has(&oc->c, argname)) {
    for (int i = 0; i < n; i++) {
      out[i] = dflt;
    }
    return true;
  }
  val v = arg(&oc->c, argname);
  int64_t tmp[CN_MAX_RANK * 2];
  int k = get_ints(&v, tmp, CN_MAX_RANK * 2);
  if (k != 1 && k != n) {
    error_at(oc->b, arg_at(&oc->c, argname, oc->at), "%s: '%s' takes 1 or %d values, got %d",
             oc->op, argname, n, k);
    return false;
  }
  for (int i = 0; i < n; i++) {
    out[i] = tmp[k == 1 ? 0 : i];
    if (out[i] < min) {
      error_at(oc->b, arg_at(&oc->c, argname, oc->at), "%s: '%s' must be at least %" PRId64
                                                       ", got %" PRId64,
               oc->op, argname, min, out[i]);
      return false;
    }
  }
  return true;
}

/* pad: an int (every side), a list of `sp` (both sides of each axis) or 2*sp values (ONNX order:
 * all begins, then all ends), "same" or "valid". pads[] receives 2*sp values; *auto_pad is set for
 * "same". Without the argument, pad_default[i] per axis. */
static bool get_pads(op_call *oc, int sp, const int64_t *pad_default, int64_t *pads,
                     const char **auto_pad) {
  *auto_pad = NULL;
  if (!has(&oc->c, "pad")) {
    for (int i = 0; i < sp; i++) {
      pads[i] = pads[i + sp] = pad_default[i];
    }
    return true;
  }
  val v = arg(&oc->c, "pad");
  const dsl_expr *at = arg_at(&oc->c, "pad", oc->at);
  if (v.k == V_STR) {
    if (strcmp(v.s, "same") == 0) {
      *auto_pad = "SAME_UPPER";
    } else if (strcmp(v.s, "valid") != 0) {
      error_at(oc->b, at, "%s: pad must be a number, a list, \"same\" or \"valid\", not \"%s\"",
               oc->op, v.s);
      return false;
    }
    for (int i = 0; i < 2 * sp; i++) {
      pads[i] = 0;
    }
    return true;
  }
  if (v.k != V_INT && v.k != V_LIST) {
    error_at(oc->b, at, "%s: pad must be a number, a list, \"same\" or \"valid\", not %s", oc->op,
             kind_name(v.k));
    return false;
  }
  int64_t tmp[CN_MAX_RANK * 2];
  for (int i = 0; v.k == V_LIST && i < v.n; i++) {
    if (v.items[i].k != V_INT) {
      error_at(oc->b, at, "%s: pad must hold integers", oc->op);
      return false;
    }
  }
  int k = get_ints(&v, tmp, CN_MAX_RANK * 2);
  if (k != 1 && k != sp && k != 2 * sp) {
    error_at(oc->b, at, "%s: pad takes 1, %d or %d values, got %d", oc->op, sp, 2 * sp, k);
    return false;
  }
  for (int i = 0; i < 2 * sp; i++) {
    pads[i] = k == 1 ? tmp[0] : k == sp ? tmp[i % sp] : tmp[i];
    if (pads[i] < 0) {
      error_at(oc->b, at, "%s: pad must not be negative", oc->op);
      return false;
    }
  }
  return true;
}

static int64_t get_int(op_call *oc, const char *argname, int64_t dflt) {
  return has(&oc->c, argname) ? arg(&oc->c, argname).i : dflt;
}
static double get_num(op_call *oc, const char *argname, double dflt) {
  if (!has(&oc->c, argname)) {
    return dflt;
  }
  val v = arg(&oc->c, argname);
  return num(&v);
}
static const char *get_str(op_call *oc, const char *argname, const char *dflt) {
  return has(&oc->c, argname) ? arg(&oc->c, argname).s : dflt;
}

static val result(int id) { return id < 0 ? ERR : mk_tensor(id); }

/* conv1d/conv2d/conv3d/conv and dwconv2d: weight [out, in/groups, k...] and bias [out],
 * initialised as PyTorch's Conv: kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) with fan_in = in/groups * prod(k), and the bias with the same bound. */
static val op_conv(op_call *oc, cn_op op) {
  builder *b = oc->b;
  int sp = 2;
  if (strcmp(oc->op, "conv1d") == 0) {
    sp = 1;
  } else if (strcmp(oc->op, "conv3d") == 0) {
    sp = 3;
  } else if (strcmp(oc->op, "conv") == 0) {
    sp = tv(oc, "x")->rank - 2;
    if (sp < 1 || sp > 3) {
      return need_rank(oc, "x", 3, 5) ? ERR : ERR;
    }
  }
  if (!need_rank(oc, "x", sp + 2, sp + 2)) {
    return ERR;
  }
  bool depthwise = strcmp(oc->op, "dwconv2d") == 0;
  bool transposed = op == CN_OP_CONV_TRANSPOSE;
  int64_t cin = tv(oc, "x")->dims[1];
  int64_t groups = depthwise ? cin : get_int(oc, "groups", 1);
  int64_t cout = depthwise ? cin * get_int(oc, "multiplier", 1) : get_int(oc, "out", 0);
  int64_t k[3], stride[3], dil[3], pads[6], pad_def[3], outpad[3];
  if (!ints_n(oc, "kernel", sp, 3, k, 1) || !ints_n(oc, "stride", sp, 1, stride, 1) ||
      !ints_n(oc, "dilation", sp, 1, dil, 1)) {
    return ERR;
  }
  for (int i = 0; i < sp; i++) {
    pad_def[i] = transposed ? 0 : dil[i] * (k[i] - 1) / 2;
  }
  const char *auto_pad = NULL;
  if (!get_pads(oc, sp, pad_def, pads, &auto_pad)) {
    return ERR;
  }
  const dsl_expr *at_g = arg_at(&oc->c, depthwise ? "x" : "groups", oc->at);
  if (cout <= 0) {
    error_at(b, arg_at(&oc->c, depthwise ? "multiplier" : "out", oc->at),
             "%s: the number of output channels must be positive, got %" PRId64, oc->op, cout);
    return ERR;
  }
  if (groups <= 0 || cin % groups != 0 || cout % groups != 0) {
    error_at(b, at_g, "%s: groups=%" PRId64 " must divide the input channels (%" PRId64
                      ") and the output channels (%" PRId64 ")",
             oc->op, groups, cin, cout);
    return ERR;
  }
  int64_t wdims[5];
  int64_t fan_in;
  if (transposed) { /* ConvTranspose weight: [in, out/groups, k...] */
    wdims[0] = cin;
    wdims[1] = cout / groups;
  } else {
    wdims[0] = cout;
    wdims[1] = cin / groups;
  }
  fan_in = wdims[1]; /* PyTorch takes fan_in from dim 1 of the weight, transposed or not */
  for (int i = 0; i < sp; i++) {
    wdims[2 + i] = k[i];
    fan_in *= k[i];
  }
  double bound = 1.0 / sqrt((double)fan_in);
  int w = make_param(b, oc->layer, "weight", sp + 2, wdims, INIT_UNIFORM, bound, oc->at);
  int bias = -1;
  bool with_bias = has(&oc->c, "bias") ? arg(&oc->c, "bias").i != 0 : !depthwise;
  if (w >= 0 && with_bias) {
    int64_t bdims[1] = {cout};
    bias = make_param(b, oc->layer, "bias", 1, bdims, INIT_UNIFORM, bound, oc->at);
    if (bias < 0) {
      return ERR;
    }
  }
  if (w < 0) {
    return ERR;
  }
  attr_list al = {0};
  attr_ints(&al, "kernel_shape", sp, k);
  attr_ints(&al, "strides", sp, stride);
  attr_ints(&al, "dilations", sp, dil);
  attr_int(&al, "group", groups);
  if (auto_pad) {
    attr_string(&al, "auto_pad", auto_pad);
  } else {
    attr_ints(&al, "pads", 2 * sp, pads);
  }
  if (transposed && ints_n(oc, "output_pad", sp, 0, outpad, 0)) {
    attr_ints(&al, "output_padding", sp, outpad);
  }
  int in[3] = {(int)arg(&oc->c, "x").i, w, bias};
  return result(add_node(b, op, oc->op, oc->name, in, bias >= 0 ? 3 : 2, &al, oc->at));
}

/* linear: y = x W^T + b (Gemm, transB=1); W [out, in], b [out]; PyTorch's Linear initialisation
 * (bound 1/sqrt(in) for both). */
static val op_linear(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  cn_value *x = tv(oc, "x");
  if (x->rank != 2) {
    char buf[200];
    error_at(b, arg_at(&oc->c, "x", oc->at),
             "linear expects a 2-D input, got %s (flatten it first: x -> flatten)",
             cn_shape_str(x->rank, x->dims, buf, sizeof buf));
    return ERR;
  }
  int64_t in_f = x->dims[1], out_f = get_int(oc, "out", 0);
  if (out_f <= 0) {
    error_at(b, arg_at(&oc->c, "out", oc->at), "linear: 'out' must be positive, got %" PRId64,
             out_f);
    return ERR;
  }
  double bound = in_f > 0 ? 1.0 / sqrt((double)in_f) : 0.0;
  int64_t wdims[2] = {out_f, in_f}, bdims[1] = {out_f};
  int w = make_param(b, oc->layer, "weight", 2, wdims, INIT_UNIFORM, bound, oc->at);
  int bias = -1;
  if (w >= 0 && (!has(&oc->c, "bias") || arg(&oc->c, "bias").i)) {
    bias = make_param(b, oc->layer, "bias", 1, bdims, INIT_UNIFORM, bound, oc->at);
    if (bias < 0) {
      return ERR;
    }
  }
  if (w < 0) {
    return ERR;
  }
  attr_list al = {0};
  attr_int(&al, "transB", 1);
  int in[3] = {(int)arg(&oc->c, "x").i, w, bias};
  return result(add_node(b, CN_OP_GEMM, oc->op, oc->name, in, bias >= 0 ? 3 : 2, &al, oc->at));
}

/* batchnorm (inference form): weight 1, bias 0, running_mean 0, running_var 1, as PyTorch. */
static val op_batchnorm(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  if (!need_rank(oc, "x", 2, CN_MAX_RANK)) {
    return ERR;
  }
  int64_t c[1] = {tv(oc, "x")->dims[1]};
  static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
  static const double values[4] = {1, 0, 0, 1};
  int in[5] = {(int)arg(&oc->c, "x").i};
  for (int i = 0; i < 4; i++) {
    in[i + 1] = make_param(b, oc->layer, names[i], 1, c, INIT_CONST, values[i], oc->at);
    if (in[i + 1] < 0) {
      return ERR;
    }
  }
  attr_list al = {0};
  attr_float(&al, "epsilon", get_num(oc, "eps", 1e-5));
  attr_float(&al, "momentum", 1.0 - get_num(oc, "momentum", 0.1)); /* ONNX's is 1 - PyTorch's */
  return result(add_node(b, CN_OP_BATCH_NORM, oc->op, oc->name, in, 5, &al, oc->at));
}

/* layernorm over the axes from `axis` on; weight 1 and bias 0 of that shape. */
static val op_layernorm(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  if (!need_rank(oc, "x", 1, CN_MAX_RANK)) {
    return ERR;
  }
  cn_value *x = tv(oc, "x");
  int64_t axis = get_int(oc, "axis", -1);
  int64_t a = axis < 0 ? axis + x->rank : axis;
  if (a < 0 || a >= x->rank) {
    error_at(b, arg_at(&oc->c, "axis", oc->at), "layernorm: axis %" PRId64
                                                " is out of range for a %d-D input",
             axis, x->rank);
    return ERR;
  }
  int64_t dims[CN_MAX_RANK];
  int rank = x->rank - (int)a;
  memcpy(dims, x->dims + a, sizeof(int64_t) * (size_t)rank);
  int in[3] = {(int)arg(&oc->c, "x").i};
  in[1] = make_param(b, oc->layer, "weight", rank, dims, INIT_CONST, 1, oc->at);
  in[2] = in[1] < 0 ? -1 : make_param(b, oc->layer, "bias", rank, dims, INIT_CONST, 0, oc->at);
  if (in[2] < 0) {
    return ERR;
  }
  attr_list al = {0};
  attr_int(&al, "axis", a);
  attr_float(&al, "epsilon", get_num(oc, "eps", 1e-5));
  return result(add_node(b, CN_OP_LAYER_NORM, oc->op, oc->name, in, 3, &al, oc->at));
}

static val op_instancenorm(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  if (!need_rank(oc, "x", 3, CN_MAX_RANK)) {
    return ERR;
  }
  int64_t c[1] = {tv(oc, "x")->dims[1]};
  int in[3] = {(int)arg(&oc->c, "x").i};
  in[1] = make_param(b, oc->layer, "weight", 1, c, INIT_CONST, 1, oc->at);
  in[2] = in[1] < 0 ? -1 : make_param(b, oc->layer, "bias", 1, c, INIT_CONST, 0, oc->at);
  if (in[2] < 0) {
    return ERR;
  }
  attr_list al = {0};
  attr_float(&al, "epsilon", get_num(oc, "eps", 1e-5));
  return result(add_node(b, CN_OP_INSTANCE_NORM, oc->op, oc->name, in, 3, &al, oc->at));
}

/* prelu: a learned slope, one (channels=1) or one per channel, initially 0.25 (PyTorch). */
static val op_prelu(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  cn_value *x = tv(oc, "x");
  int64_t channels = get_int(oc, "channels", 1);
  int64_t dims[CN_MAX_RANK] = {channels};
  int rank = 1;
  if (channels != 1) {
    if (x->rank < 2 || x->dims[1] != channels) {
      char buf[200];
      error_at(b, arg_at(&oc->c, "channels", oc->at),
               "prelu: channels=%" PRId64 " does not match the input %s", channels,
               cn_shape_str(x->rank, x->dims, buf, sizeof buf));
      return ERR;
    }
    rank = x->rank - 1; /* [C, 1, 1]: broadcast over the spatial axes */
    for (int i = 1; i < rank; i++) {
      dims[i] = 1;
    }
  }
  int in[2] = {(int)arg(&oc->c, "x").i,
               make_param(b, oc->layer, "weight", rank, dims, INIT_CONST,
                          get_num(oc, "init", 0.25), oc->at)};
  if (in[1] < 0) {
    return ERR;
  }
  return result(add_node(b, CN_OP_PRELU, oc->op, oc->name, in, 2, NULL, oc->at));
}

/* maxpool / avgpool: stride defaults to the kernel size (PyTorch); avgpool counts the padding
 * in its divisor by default (PyTorch's count_include_pad=True). */
static val op_pool(op_call *oc, cn_op op) {
  int sp = tv(oc, "x")->rank - 2;
  if (!need_rank(oc, "x", 3, 5)) {
    return ERR;
  }
  int64_t k[3], stride[3], dil[3], pads[6], zero[3] = {0, 0, 0};
  if (!ints_n(oc, "kernel", sp, 2, k, 1)) {
    return ERR;
  }
  if (!ints_n(oc, "stride", sp, 1, stride, 1) ||
      (op == CN_OP_MAX_POOL && !ints_n(oc, "dilation", sp, 1, dil, 1))) { /* (avgpool has none) */
    return ERR;
  }
  if (!has(&oc->c, "stride")) {
    memcpy(stride, k, sizeof k);
  }
  const char *auto_pad = NULL;
  if (!get_pads(oc, sp, zero, pads, &auto_pad)) {
    return ERR;
  }
  attr_list al = {0};
  attr_ints(&al, "kernel_shape", sp, k);
  attr_ints(&al, "strides", sp, stride);
  if (auto_pad) {
    attr_string(&al, "auto_pad", auto_pad);
  } else {
    attr_ints(&al, "pads", 2 * sp, pads);
  }
  if (get_int(oc, "ceil", 0)) {
    attr_int(&al, "ceil_mode", 1);
  }
  if (op == CN_OP_MAX_POOL) {
    attr_ints(&al, "dilations", sp, dil);
  } else if (get_int(oc, "count_include_pad", 1)) {
    attr_int(&al, "count_include_pad", 1);
  }
  int in[1] = {(int)arg(&oc->c, "x").i};
  return result(add_node(oc->b, op, oc->op, oc->name, in, 1, &al, oc->at));
}

/* upsample(x, scale, mode): Resize of the spatial axes by `scale`, with PyTorch's coordinate
 * conventions (nearest: floor of the asymmetric source index; linear/cubic: half-pixel, or
 * align_corners). */
static val op_upsample(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  cn_value *x = tv(oc, "x");
  if (!need_rank(oc, "x", 3, 5)) {
    return ERR;
  }
  int sp = x->rank - 2;
  double s[3];
  val sv = has(&oc->c, "scale") ? arg(&oc->c, "scale") : mk_int(2);
  int k = get_floats(&sv, s, 3);
  if (k != 1 && k != sp) {
    error_at(b, arg_at(&oc->c, "scale", oc->at), "upsample: scale takes 1 or %d values, got %d",
             sp, k);
    return ERR;
  }
  double scales[CN_MAX_RANK] = {1, 1};
  for (int i = 0; i < sp; i++) {
    scales[2 + i] = s[k == 1 ? 0 : i];
    if (!(scales[2 + i] > 0) || scales[2 + i] > 1e6) {
      error_at(b, arg_at(&oc->c, "scale", oc->at), "upsample: scale must be positive");
      return ERR;
    }
  }
  const char *mode = get_str(oc, "mode", "nearest");
  attr_list al = {0};
  bool align = get_int(oc, "align_corners", 0) != 0;
  if (strcmp(mode, "nearest") == 0) {
    attr_string(&al, "mode", "nearest");
    attr_string(&al, "coordinate_transformation_mode", "asymmetric");
    attr_string(&al, "nearest_mode", "floor");
  } else if (strcmp(mode, "bilinear") == 0 || strcmp(mode, "linear") == 0 ||
             strcmp(mode, "trilinear") == 0 || strcmp(mode, "bicubic") == 0 ||
             strcmp(mode, "cubic") == 0) {
    bool cubic = strstr(mode, "cubic") != NULL;
    attr_string(&al, "mode", cubic ? "cubic" : "linear");
    attr_string(&al, "coordinate_transformation_mode", align ? "align_corners" : "half_pixel");
    if (cubic) {
      attr_float(&al, "cubic_coeff_a", -0.75);
    }
  } else {
    error_at(b, arg_at(&oc->c, "mode", oc->at),
             "upsample: mode must be \"nearest\", \"bilinear\" or \"bicubic\", not \"%s\"", mode);
    return ERR;
  }
  char *base = cn_fmt("%s.scales", oc->name);
  int in[3] = {(int)arg(&oc->c, "x").i, -1, const_f32s(b, base, x->rank, scales, false)};
  free(base);
  return result(add_node(b, CN_OP_RESIZE, oc->op, oc->name, in, 3, &al, oc->at));
}

/* split(x, sizes | parts, axis): a list of tensors. */
static val op_split(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  cn_value *x = tv(oc, "x");
  int64_t axis = get_int(oc, "axis", 1);
  int64_t a = axis < 0 ? axis + x->rank : axis;
  if (a < 0 || a >= x->rank) {
    error_at(b, arg_at(&oc->c, "axis", oc->at), "split: axis %" PRId64
                                                " is out of range for a %d-D input",
             axis, x->rank);
    return ERR;
  }
  int64_t sizes[8];
  int n;
  val sv = has(&oc->c, "sizes") ? arg(&oc->c, "sizes") : mk_int(2);
  if (sv.k == V_INT) {
    n = (int)sv.i;
    if (n < 1 || n > 8 || x->dims[a] % n != 0) {
      error_at(b, arg_at(&oc->c, "sizes", oc->at),
               "split: %" PRId64 " parts do not divide axis %" PRId64 " of size %" PRId64
               " (at most 8 parts)",
               sv.i, a, x->dims[a]);
      return ERR;
    }
    for (int i = 0; i < n; i++) {
      sizes[i] = x->dims[a] / n;
    }
  } else {
    n = get_ints(&sv, sizes, 8);
    int64_t total = 0;
    for (int i = 0; i < n && i < 8; i++) {
      total += sizes[i] > 0 ? sizes[i] : -(INT64_C(1) << 40);
    }
    if (n < 1 || n > 8 || total != x->dims[a]) {
      error_at(b, arg_at(&oc->c, "sizes", oc->at),
               "split: sizes must be 1 to 8 positive values adding up to %" PRId64, x->dims[a]);
      return ERR;
    }
  }
  char *base = cn_fmt("%s.split", oc->name);
  int in[2] = {(int)arg(&oc->c, "x").i, const_i64s(b, base, n, sizes)};
  free(base);
  attr_list al = {0};
  attr_int(&al, "axis", a);
  int outs[8];
  if (add_node_n(b, CN_OP_SPLIT, oc->op, oc->name, in, 2, &al, n, outs, oc->at) < 0) {
    return ERR;
  }
  val list = {V_LIST, 0, 0, NULL, n, pool_alloc(b, sizeof(val) * (size_t)n)};
  for (int i = 0; i < n; i++) {
    list.items[i] = mk_tensor(outs[i]);
  }
  return list;
}

static int unary_node(op_call *oc, cn_op op, int x, const char *name, attr_list *al) {
  int in[1] = {x};
  return add_node(oc->b, op, oc->op, name, in, 1, al, oc->at);
}

static int binary_node(op_call *oc, cn_op op, int x, int y, const char *name) {
  int in[2] = {x, y};
  return add_node(oc->b, op, oc->op, name, in, 2, NULL, oc->at);
}

static int scalar_const(builder *b, const char *base, double v) {
  return const_f32s(b, base, 1, &v, true);
}

/* Activations built of several nodes. */
static val op_composite(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  int x = (int)arg(&oc->c, "x").i;
  if (!cn_dtype_is_float(b->g->values[x].dtype)) {
    error_at(b, arg_at(&oc->c, "x", oc->at), "%s expects a float tensor", oc->op);
    return ERR;
  }
  char *t = cn_fmt("%s.t", oc->name);
  int r = -1;
  if (strcmp(oc->op, "silu") == 0 || strcmp(oc->op, "swish") == 0) {
    int s = unary_node(oc, CN_OP_SIGMOID, x, t, NULL); /* x * sigmoid(x) */
    r = s < 0 ? -1 : binary_node(oc, CN_OP_MUL, x, s, oc->name);
  } else if (strcmp(oc->op, "relu6") == 0) {
    int in[3] = {x, scalar_const(b, t, 0.0), scalar_const(b, t, 6.0)};
    r = add_node(b, CN_OP_CLIP, oc->op, oc->name, in, 3, NULL, oc->at);
  } else if (strcmp(oc->op, "gelu") == 0) { /* 0.5 x (1 + erf(x / sqrt 2)), exact (PyTorch) */
    int d = binary_node(oc, CN_OP_DIV, x, scalar_const(b, t, sqrt(2.0)), t);
    int e = d < 0 ? -1 : unary_node(oc, CN_OP_ERF, d, t, NULL);
    int p = e < 0 ? -1 : binary_node(oc, CN_OP_ADD, e, scalar_const(b, t, 1.0), t);
    int m = p < 0 ? -1 : binary_node(oc, CN_OP_MUL, x, p, t);
    r = m < 0 ? -1 : binary_node(oc, CN_OP_MUL, m, scalar_const(b, t, 0.5), oc->name);
  } else if (strcmp(oc->op, "hard_swish") == 0) {
    r = unary_node(oc, CN_OP_HARD_SWISH, x, oc->name, NULL);
  } else {
    CN_UNREACHABLE();
  }
  free(t);
  return result(r);
}

static bool dtype_from_name(const char *s, cn_dtype *out) {
  static const cn_dtype all[] = {CNNRT_F32, CNNRT_F64, CNNRT_F16, CNNRT_BF16, CNNRT_I8,
                                 CNNRT_I16, CNNRT_I32, CNNRT_I64, CNNRT_U8,   CNNRT_U16,
                                 CNNRT_U32, CNNRT_U64, CNNRT_BOOL};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(s, cn_dtype_suffix(all[i])) == 0 || strcmp(s, cn_dtype_name(all[i])) == 0) {
      *out = all[i];
      return true;
    }
  }
  return false;
}

static val op_cast(op_call *oc, cn_op op) {
  cn_dtype t;
  const char *to = get_str(oc, "to", "f32");
  if (!dtype_from_name(to, &t)) {
    error_at(oc->b, arg_at(&oc->c, "to", oc->at), "cast: unknown element type \"%s\"", to);
    return ERR;
  }
  attr_list al = {0};
  attr_int(&al, "to", (int64_t)t);
  return result(unary_node(oc, op, (int)arg(&oc->c, "x").i, oc->name, &al));
}

/* constant(value, shape=): a float32 tensor (a number, a list), reshaped if `shape` is given. */
static val op_constant(op_call *oc, cn_op op) {
  (void)op;
  builder *b = oc->b;
  val v = arg(&oc->c, "value");
  int n = v.k == V_LIST ? v.n : 1;
  double *vals = cn_calloc((size_t)n + 1, sizeof *vals);
  get_floats(&v, vals, n);
  int64_t dims[CN_MAX_RANK] = {n};
  int rank = v.k == V_LIST ? 1 : 0;
  if (has(&oc->c, "shape")) {
    val s = arg(&oc->c, "shape");
    rank = get_ints(&s, dims, CN_MAX_RANK);
    int64_t total = 1;
    for (int i = 0; i < rank && rank <= CN_MAX_RANK; i++) {
      total = dims[i] < 0 || dims[i] > n ? -1 : total * dims[i];
    }
    if (rank > CN_MAX_RANK || total != n) {
      error_at(b, arg_at(&oc->c, "shape", oc->at),
               "constant: the shape does not hold the %d values given", n);
      free(vals);
      return ERR;
    }
  }
  float *f = cn_calloc((size_t)n + 1, sizeof *f);
  for (int i = 0; i < n; i++) {
    f[i] = (float)vals[i];
  }
  int id = add_const(b, oc->name, CNNRT_F32, rank, dims, f);
  free(f);
  free(vals);
  return mk_tensor(id);
}

/* Every other operator: tensor inputs, attributes and constant inputs straight from the spec.
 * (Not inlined into the evaluator: its locals would weigh on every level of recursion.) */
__attribute__((noinline)) static val op_generic(op_call *oc, cn_op op) {
  builder *b = oc->b;
  int in[MAX_ARGS + MAX_SPECS];
  int n_in = 0;
  attr_list al = {0};
  cn_dtype ref_dtype = CNNRT_F32; /* numbers become constants of the first tensor's type */
  for (int i = 0; i < oc->c.n_spec; i++) {
    if (oc->c.spec[i].tensor && oc->c.given[i] && oc->c.v[i].k == V_TENSOR) {
      ref_dtype = b->g->values[oc->c.v[i].i].dtype;
      break;
    }
  }
  if (oc->c.n_var > 0) {
    ref_dtype = b->g->values[oc->c.var[0].i].dtype;
  }
  for (int i = 0; i < oc->c.n_spec; i++) {
    const arg_spec *s = &oc->c.spec[i];
    val v = oc->c.v[i];
    if (s->variadic) {
      if (oc->c.n_var == 0) {
        error_at(b, oc->at, "%s expects at least one tensor input", oc->op);
        attr_list_free(&al);
        return ERR;
      }
      for (int k = 0; k < oc->c.n_var; k++) {
        in[n_in++] = (int)oc->c.var[k].i;
      }
      continue;
    }
    bool is_input = s->tensor || s->as_input || strcmp(s->type, "t") == 0 ||
                    strcmp(s->type, "I") == 0;
    if (!oc->c.given[i]) {
      if (is_input) {
        in[n_in++] = -1;
      } else if (s->def[0]) { /* the DSL's default, written out (it may differ from ONNX's) */
        if (strcmp(s->type, "s") == 0) {
          attr_string(&al, s->onnx, s->def);
        } else if (strcmp(s->type, "f") == 0) {
          attr_float(&al, s->onnx, strtod(s->def, NULL));
        } else if (strcmp(s->type, "i") == 0 || strcmp(s->type, "b") == 0) {
          attr_int(&al, s->onnx,
                   strcmp(s->def, "true") == 0 ? 1 : strtoll(s->def, NULL, 10)); /* false: 0 */
        }
      }
      continue;
    }
    if (!is_input) {
      if (strcmp(s->type, "i") == 0 || strcmp(s->type, "b") == 0) {
        attr_int(&al, s->onnx, v.i);
      } else if (strcmp(s->type, "f") == 0) {
        attr_float(&al, s->onnx, num(&v));
      } else if (strcmp(s->type, "s") == 0) {
        attr_string(&al, s->onnx, v.s);
      } else if (strcmp(s->type, "is") == 0) {
        int64_t tmp[64];
        int k = get_ints(&v, tmp, 64);
        if (k > 64) {
          error_at(b, oc->c.at[i], "%s: '%s' has too many values", oc->op, s->name);
          attr_list_free(&al);
          return ERR;
        }
        attr_ints(&al, s->onnx, k, tmp);
      } else if (strcmp(s->type, "fs") == 0) {
        double tmp[64];
        int k = get_floats(&v, tmp, 64);
        if (k > 64) {
          error_at(b, oc->c.at[i], "%s: '%s' has too many values", oc->op, s->name);
          attr_list_free(&al);
          return ERR;
        }
        attr_floats(&al, s->onnx, k, tmp);
      }
      continue;
    }
    if (v.k == V_TENSOR) {
      in[n_in++] = (int)v.i;
      continue;
    }
    /* a number or a list made into a constant input */
    char *base = cn_fmt("%s.%s", oc->name, s->name);
    int id;
    if (strcmp(s->type, "is") == 0 || strcmp(s->type, "I") == 0) {
      int n = v.k == V_LIST ? v.n : 1;
      int64_t *tmp = cn_calloc((size_t)n + 1, sizeof *tmp);
      get_ints(&v, tmp, n);
      id = const_i64s(b, base, n, tmp);
      free(tmp);
    } else if (strcmp(s->type, "fs") == 0) {
      int n = v.k == V_LIST ? v.n : 1;
      double *tmp = cn_calloc((size_t)n + 1, sizeof *tmp);
      get_floats(&v, tmp, n);
      id = const_f32s(b, base, n, tmp, false);
      free(tmp);
    } else { /* f, t: a scalar of the reference type */
      double x = num(&v);
      if (ref_dtype == CNNRT_F32 || !cn_dtype_is_int(ref_dtype)) {
        id = const_f32s(b, base, 1, &x, true);
        if (ref_dtype != CNNRT_F32) {
          error_at(b, oc->c.at[i], "%s: numbers combine with float32 or integer tensors only",
                   oc->op);
          free(base);
          attr_list_free(&al);
          return ERR;
        }
      } else {
        if (x != floor(x)) {
          error_at(b, oc->c.at[i], "%s: an integer tensor combines with integers, not %g",
                   oc->op, x);
          free(base);
          attr_list_free(&al);
          return ERR;
        }
        int64_t xi = (int64_t)x;
        id = add_const(b, base, CNNRT_I64, 0, NULL, &xi);
        if (ref_dtype != CNNRT_I64) {
          attr_list cal = {0};
          attr_int(&cal, "to", (int64_t)ref_dtype);
          int cin[1] = {id};
          id = add_node(b, CN_OP_CAST, oc->op, base, cin, 1, &cal, oc->at);
          if (id < 0) {
            free(base);
            attr_list_free(&al);
            return ERR;
          }
        }
      }
    }
    free(base);
    in[n_in++] = id;
  }
  while (n_in > 0 && in[n_in - 1] < 0) {
    n_in--;
  }
  return result(add_node(b, op, oc->op, oc->name, in, n_in, &al, oc->at));
}

typedef struct op_def {
  const char *name;
  cn_op op;
  op_fn fn;
  const char *spec;
} op_def;

#define CONV_ARGS                                                                                \
  "x out:i! kernel:is=3 stride:is=1 pad:any=k/2 dilation:is=1 groups:i=1 bias:b=true"
static const op_def op_table[] = {
    /* layers with parameters */
    {"conv2d", CN_OP_CONV, op_conv, CONV_ARGS},
    {"conv1d", CN_OP_CONV, op_conv, CONV_ARGS},
    {"conv3d", CN_OP_CONV, op_conv, CONV_ARGS},
    {"conv", CN_OP_CONV, op_conv, CONV_ARGS},
    {"dwconv2d", CN_OP_CONV, op_conv,
     "x kernel:is=3 stride:is=1 pad:any=k/2 dilation:is=1 multiplier:i=1 bias:b=false"},
    {"conv_transpose2d", CN_OP_CONV_TRANSPOSE, op_conv,
     "x out:i! kernel:is=2 stride:is=1 pad:any=0 output_pad:is=0 dilation:is=1 groups:i=1 "
     "bias:b=true"},
    {"linear", CN_OP_GEMM, op_linear, "x out:i! bias:b=true"},
    {"batchnorm", CN_OP_BATCH_NORM, op_batchnorm, "x eps:f=1e-5 momentum:f=0.1"},
    {"layernorm", CN_OP_LAYER_NORM, op_layernorm, "x axis:i=-1 eps:f=1e-5"},
    {"instancenorm", CN_OP_INSTANCE_NORM, op_instancenorm, "x eps:f=1e-5"},
    {"prelu", CN_OP_PRELU, op_prelu, "x channels:i=1 init:f=0.25"},
    /* pooling */
    {"maxpool", CN_OP_MAX_POOL, op_pool,
     "x kernel:is=2 stride:is=kernel pad:any=0 dilation:is=1 ceil:b=false"},
    {"avgpool", CN_OP_AVERAGE_POOL, op_pool,
     "x kernel:is=2 stride:is=kernel pad:any=0 ceil:b=false count_include_pad:b=true"},
    {"global_avgpool", CN_OP_GLOBAL_AVERAGE_POOL, op_generic, "x"},
    {"global_maxpool", CN_OP_GLOBAL_MAX_POOL, op_generic, "x"},
    {"global_lppool", CN_OP_GLOBAL_LP_POOL, op_generic, "x p:i=2"},
    {"lppool", CN_OP_LP_POOL, op_generic,
     "x kernel>kernel_shape:is! stride>strides:is pad>pads:is p:i=2"},
    /* activations */
    {"relu", CN_OP_RELU, op_generic, "x"},
    {"leaky_relu", CN_OP_LEAKY_RELU, op_generic, "x alpha:f=0.01"},
    {"elu", CN_OP_ELU, op_generic, "x alpha:f=1"},
    {"selu", CN_OP_SELU, op_generic, "x alpha:f gamma:f"},
    {"celu", CN_OP_CELU, op_generic, "x alpha:f=1"},
    {"sigmoid", CN_OP_SIGMOID, op_generic, "x"},
    {"hard_sigmoid", CN_OP_HARD_SIGMOID, op_generic, "x alpha:f=0.2 beta:f=0.5"},
    {"hard_swish", CN_OP_HARD_SWISH, op_composite, "x"},
    {"silu", CN_OP_MUL, op_composite, "x"},
    {"swish", CN_OP_MUL, op_composite, "x"},
    {"gelu", CN_OP_MUL, op_composite, "x"},
    {"relu6", CN_OP_CLIP, op_composite, "x"},
    {"tanh", CN_OP_TANH, op_generic, "x"},
    {"softplus", CN_OP_SOFTPLUS, op_generic, "x"},
    {"softsign", CN_OP_SOFTSIGN, op_generic, "x"},
    {"mish", CN_OP_MISH, op_generic, "x"},
    {"thresholded_relu", CN_OP_THRESHOLDED_RELU, op_generic, "x alpha:f=1"},
    {"clip", CN_OP_CLIP, op_generic, "x min:@f max:@f"},
    {"softmax", CN_OP_SOFTMAX, op_generic, "x axis:i=-1"},
    {"log_softmax", CN_OP_LOG_SOFTMAX, op_generic, "x axis:i=-1"},
    {"hardmax", CN_OP_HARDMAX, op_generic, "x axis:i=-1"},
    {"lrn", CN_OP_LRN, op_generic, "x size:i! alpha:f=1e-4 beta:f=0.75 bias:f=1"},
    /* elementwise math */
    {"erf", CN_OP_ERF, op_generic, "x"},
    {"sqrt", CN_OP_SQRT, op_generic, "x"},
    {"reciprocal", CN_OP_RECIPROCAL, op_generic, "x"},
    {"exp", CN_OP_EXP, op_generic, "x"},
    {"log", CN_OP_LOG, op_generic, "x"},
    {"abs", CN_OP_ABS, op_generic, "x"},
    {"neg", CN_OP_NEG, op_generic, "x"},
    {"floor", CN_OP_FLOOR, op_generic, "x"},
    {"ceil", CN_OP_CEIL, op_generic, "x"},
    {"not", CN_OP_NOT, op_generic, "x"},
    {"cast", CN_OP_CAST, op_cast, "x to:s=f32"},
    {"add", CN_OP_ADD, op_generic, "a:t! b:t!"},
    {"sub", CN_OP_SUB, op_generic, "a:t! b:t!"},
    {"mul", CN_OP_MUL, op_generic, "a:t! b:t!"},
    {"div", CN_OP_DIV, op_generic, "a:t! b:t!"},
    {"pow", CN_OP_POW, op_generic, "a:t! b:t!"},
    {"equal", CN_OP_EQUAL, op_generic, "a:t! b:t!"},
    {"less", CN_OP_LESS, op_generic, "a:t! b:t!"},
    {"greater", CN_OP_GREATER, op_generic, "a:t! b:t!"},
    {"less_or_equal", CN_OP_LESS_OR_EQUAL, op_generic, "a:t! b:t!"},
    {"greater_or_equal", CN_OP_GREATER_OR_EQUAL, op_generic, "a:t! b:t!"},
    {"and", CN_OP_AND, op_generic, "a b"},
    {"or", CN_OP_OR, op_generic, "a b"},
    {"xor", CN_OP_XOR, op_generic, "a b"},
    {"min", CN_OP_MIN, op_generic, "xs*"},
    {"max", CN_OP_MAX, op_generic, "xs*"},
    {"sum", CN_OP_SUM, op_generic, "xs*"},
    {"mean", CN_OP_MEAN, op_generic, "xs*"},
    {"where", CN_OP_WHERE, op_generic, "cond a:t! b:t!"},
    /* matrix products */
    {"matmul", CN_OP_MATMUL, op_generic, "a b"},
    {"gemm", CN_OP_GEMM, op_generic, "a b c? alpha:f=1 beta:f=1 transA:b=false transB:b=false"},
    /* reductions */
    {"reduce_mean", CN_OP_REDUCE_MEAN, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_max", CN_OP_REDUCE_MAX, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_min", CN_OP_REDUCE_MIN, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_sum", CN_OP_REDUCE_SUM, op_generic,
     "x axes:@is keepdims:b=true noop_with_empty_axes:b=false"},
    {"reduce_l2", CN_OP_REDUCE_L2, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_l1", CN_OP_REDUCE_L1, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_prod", CN_OP_REDUCE_PROD, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_sum_square", CN_OP_REDUCE_SUM_SQUARE, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_log_sum", CN_OP_REDUCE_LOG_SUM, op_generic, "x axes:is keepdims:b=true"},
    {"reduce_log_sum_exp", CN_OP_REDUCE_LOG_SUM_EXP, op_generic, "x axes:is keepdims:b=true"},
    {"argmax", CN_OP_ARG_MAX, op_generic, "x axis:i=0 keepdims:b=true select_last_index:b=false"},
    {"argmin", CN_OP_ARG_MIN, op_generic, "x axis:i=0 keepdims:b=true select_last_index:b=false"},
    /* resampling */
    {"upsample", CN_OP_RESIZE, op_upsample, "x scale:fs=2 mode:s=nearest align_corners:b=false"},
    {"resize", CN_OP_RESIZE, op_generic,
     "x roi:@fs scales:@fs sizes:@is mode:s=nearest coordinate_transformation_mode:s "
     "nearest_mode:s cubic_coeff_a:f exclude_outside:b extrapolation_value:f"},
    /* shapes and data movement */
    {"reshape", CN_OP_RESHAPE, op_generic, "x shape:@is! allowzero:b=false"},
    {"flatten", CN_OP_FLATTEN, op_generic, "x axis:i=1"},
    {"squeeze", CN_OP_SQUEEZE, op_generic, "x axes:@is"},
    {"unsqueeze", CN_OP_UNSQUEEZE, op_generic, "x axes:@is!"},
    {"identity", CN_OP_IDENTITY, op_generic, "x"},
    {"dropout", CN_OP_DROPOUT, op_generic, "x p>ratio:@f=0.5"},
    {"transpose", CN_OP_TRANSPOSE, op_generic, "x perm:is"},
    {"concat", CN_OP_CONCAT, op_generic, "xs* axis:i=1"},
    {"split", CN_OP_SPLIT, op_split, "x sizes:is=2 axis:i=1"},
    {"slice", CN_OP_SLICE, op_generic, "x starts:@is! ends:@is! axes:@is steps:@is"},
    {"pad", CN_OP_PAD, op_generic, "x pads:@is! value:@f mode:s=constant"},
    {"tile", CN_OP_TILE, op_generic, "x repeats:@is!"},
    {"expand", CN_OP_EXPAND, op_generic, "x shape:@is!"},
    {"gather", CN_OP_GATHER, op_generic, "x indices:I! axis:i=0"},
    {"depth_to_space", CN_OP_DEPTH_TO_SPACE, op_generic, "x blocksize:i! mode:s=DCR"},
    {"space_to_depth", CN_OP_SPACE_TO_DEPTH, op_generic, "x blocksize:i!"},
    {"shape", CN_OP_SHAPE, op_generic, "x start:i end:i"},
    {"size", CN_OP_SIZE, op_generic, "x"},
    {"constant", CN_OP_CONSTANT, op_constant, "value:fs! shape:is"},
    {"constant_of_shape", CN_OP_CONSTANT_OF_SHAPE, op_generic, "shape:@is!"},
};

/* Other spellings: the IR's own op names (compiler/ops.def) and common alternatives. */
static const struct {
  const char *alias, *name;
} op_aliases[] = {
    {"batch_norm", "batchnorm"},
    {"layer_norm", "layernorm"},
    {"instance_norm", "instancenorm"},
    {"max_pool", "maxpool"},
    {"average_pool", "avgpool"},
    {"avg_pool", "avgpool"},
    {"global_average_pool", "global_avgpool"},
    {"global_avg_pool", "global_avgpool"},
    {"global_max_pool", "global_maxpool"},
    {"lp_pool", "lppool"},
    {"global_lp_pool", "global_lppool"},
    {"conv_transpose", "conv_transpose2d"},
    {"deconv2d", "conv_transpose2d"},
    {"dense", "linear"},
    {"arg_max", "argmax"},
    {"arg_min", "argmin"},
    {"hardswish", "hard_swish"},
    {"hardsigmoid", "hard_sigmoid"},
    {"leakyrelu", "leaky_relu"},
};

static const op_def *find_op(const char *name) {
  for (size_t i = 0; i < sizeof op_aliases / sizeof op_aliases[0]; i++) {
    if (strcmp(op_aliases[i].alias, name) == 0) {
      name = op_aliases[i].name;
    }
  }
  for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++) {
    if (strcmp(op_table[i].name, name) == 0) {
      return &op_table[i];
    }
  }
  return NULL;
}

/* Gives value `id` (and its producer node) a new name; the name index is rebuilt. */
static void rename_value(builder *b, int id, const char *name) {
  cn_graph *g = b->g;
  cn_value *v = &g->values[id];
  if (v->producer >= 0 && strcmp(g->nodes[v->producer].name, v->name) == 0) {
    free(g->nodes[v->producer].name);
    g->nodes[v->producer].name = cn_strdup(name);
  }
  free(v->name);
  v->name = cn_strdup(name);
  cn_map_free(&g->by_name); /* (it borrowed the old name) */
  memset(&g->by_name, 0, sizeof g->by_name);
  for (int i = 0; i < g->n_values; i++) {
    cn_map_put(&g->by_name, g->values[i].name, i);
  }
}

/* --- evaluation --- */

static val eval(builder *b, env *e, const dsl_expr *x, const char *hint);
static void exec_body(builder *b, env *e, const dsl_body *body);

static const dsl_stmt *find_block(builder *b, const char *name) {
  for (int i = 0; i < b->n_blocks; i++) {
    if (strcmp(b->blocks[i]->names[0], name) == 0) {
      return b->blocks[i];
    }
  }
  return NULL;
}

/* Whether a name is taken as a value (or, unless values_only, as a layer/scope name). */
static bool name_taken(builder *b, const char *s, bool values_only) {
  int dummy;
  return cn_value_find(b->g, s) >= 0 || (!values_only && cn_map_get(&b->scopes, s, &dummy));
}

/* A name not used before: `base`, else base_1, base_2, ... (malloc'd). The next suffix to try is
 * remembered per base, so that a name assigned again and again in a loop stays cheap. */
static char *fresh_name(builder *b, const char *base, bool values_only) {
  if (!name_taken(b, base, values_only)) {
    return cn_strdup(base);
  }
  int k = 1;
  cn_map_get(&b->next_suffix, base, &k);
  char *s = NULL;
  for (;; k++) {
    s = cn_fmt("%s_%d", base, k);
    if (!name_taken(b, s, values_only)) {
      break;
    }
    free(s);
  }
  /* (the map borrows its keys, and a put replaces the stored key: always a lasting copy) */
  cn_map_put(&b->next_suffix, pool_str(b, cn_strdup(base)), k + 1);
  return s;
}

/* A scope or layer name not used before, reserved. */
static const char *unique_scope(builder *b, const char *base) {
  char *s = pool_str(b, fresh_name(b, base, false));
  cn_map_put(&b->scopes, s, 1);
  return s;
}

/* The layer name given by `as a.b.(expr)`, prefixed with the scope's. NULL after an error. */
static const char *as_name(builder *b, env *e, const dsl_expr *call) {
  cn_buf buf = {0};
  cn_buf_puts(&buf, e->prefix);
  for (int i = 0; i < call->n_as; i++) {
    const dsl_expr *seg = call->as_path[i];
    if (i) {
      cn_buf_puts(&buf, ".");
    }
    if (seg->kind == DSL_E_STRING) {
      cn_buf_puts(&buf, seg->s);
      continue;
    }
    val v = eval(b, e, seg, NULL);
    if (v.k == V_INT) {
      cn_buf_printf(&buf, "%" PRId64, v.i);
    } else if (v.k == V_STR && v.s[0]) {
      cn_buf_puts(&buf, v.s);
    } else {
      if (v.k != V_ERROR) {
        error_at(b, seg, "a layer name segment must be a name, an integer or a string, not %s",
                 kind_name(v.k));
      }
      cn_buf_free(&buf);
      return NULL;
    }
  }
  char *s = buf.data ? buf.data : cn_strdup("");
  return pool_str(b, s);
}

static val call_block(builder *b, env *e, const dsl_expr *x, const dsl_stmt *blk, int n_args,
                      const val *args, const char *hint) {
  if (blk->kind == DSL_S_POISON) {
    return ERR; /* (its syntax error is reported) */
  }
  if (b->call_depth >= MAX_CALL_DEPTH) {
    error_at(b, x, "block calls nested more than %d deep (is '%s' recursive?)", MAX_CALL_DEPTH,
             blk->names[0]);
    b->stopped = true; /* (the callers' statements would only fail the same way) */
    return ERR;
  }
  env inner = {0};
  /* bind parameters: positional first, then keywords, then defaults */
  bool ok = true;
  val *bound = cn_calloc((size_t)blk->n_params + 1, sizeof *bound);
  bool *set = cn_calloc((size_t)blk->n_params + 1, sizeof *set);
  int pos = 0;
  for (int a = 0; a < n_args; a++) {
    int slot = -1;
    if (x->arg_names[a]) {
      for (int p = 0; p < blk->n_params; p++) {
        if (strcmp(blk->params[p].name, x->arg_names[a]) == 0) {
          slot = p;
        }
      }
      if (slot < 0) {
        const char *cands[64];
        int nc = blk->n_params < 64 ? blk->n_params : 64;
        for (int p = 0; p < nc; p++) {
          cands[p] = blk->params[p].name;
        }
        const char *s = suggest(x->arg_names[a], cands, nc);
        if (s) {
          error_line(b, x->arg_line[a], x->arg_col[a],
                     "block '%s' has no parameter '%s'; did you mean '%s'?", blk->names[0],
                     x->arg_names[a], s);
        } else {
          error_line(b, x->arg_line[a], x->arg_col[a], "block '%s' has no parameter '%s'",
                     blk->names[0], x->arg_names[a]);
        }
        ok = false;
        continue;
      }
    } else {
      slot = pos++;
      if (slot >= blk->n_params) {
        error_at(b, x->kids[a], "block '%s' takes %d argument%s, got %d", blk->names[0],
                 blk->n_params, blk->n_params == 1 ? "" : "s", n_args);
        ok = false;
        break;
      }
    }
    if (set[slot]) {
      error_at(b, x->kids[a], "block '%s': parameter '%s' is given twice", blk->names[0],
               blk->params[slot].name);
      ok = false;
      continue;
    }
    set[slot] = true;
    bound[slot] = args[a];
    ok = ok && args[a].k != V_ERROR;
  }
  /* the scope of the block's layers */
  const char *scope = NULL;
  if (ok) {
    if (x->n_as) {
      scope = as_name(b, e, x);
      ok = scope != NULL;
    } else {
      char *base = cn_fmt("%s%s", e->prefix, hint ? hint : blk->names[0]);
      scope = unique_scope(b, base);
      free(base);
    }
  }
  inner.prefix = ok ? pool_str(b, cn_fmt("%s.", scope)) : "";
  for (int p = 0; ok && p < blk->n_params; p++) {
    if (!set[p]) {
      if (!blk->params[p].def) {
        error_at(b, x, "block '%s': missing argument '%s'", blk->names[0], blk->params[p].name);
        ok = false;
        break;
      }
      bound[p] = eval(b, &inner, blk->params[p].def, NULL);
      ok = bound[p].k != V_ERROR;
    }
    env_set(&inner, blk->params[p].name, bound[p]);
  }
  free(bound);
  free(set);
  val r = ERR;
  if (ok) {
    b->call_depth++;
    exec_body(b, &inner, &blk->body);
    b->call_depth--;
    if (!inner.returned) {
      error_line(b, blk->line, blk->col, "block '%s' ends without 'return'", blk->names[0]);
    } else {
      r = inner.ret;
    }
  }
  free(inner.b);
  return r;
}

__attribute__((noinline)) static void unknown_callee(builder *b, const dsl_expr *x) {
  const char *cands[sizeof op_table / sizeof op_table[0] + 64];
  int nc = 0;
  for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++) {
    cands[nc++] = op_table[i].name;
  }
  for (int i = 0; i < b->n_blocks && nc < (int)(sizeof cands / sizeof cands[0]); i++) {
    cands[nc++] = b->blocks[i]->names[0];
  }
  const char *s = suggest(x->s, cands, nc);
  if (s) {
    error_at(b, x, "unknown operator or block '%s'; did you mean '%s'?", x->s, s);
  } else {
    error_at(b, x, "unknown operator or block '%s'", x->s);
  }
}

static val eval_call(builder *b, env *e, const dsl_expr *x, const char *hint) {
  int n = x->n_kids;
  val *args = cn_calloc((size_t)n + 1, sizeof *args);
  bool arg_error = false;
  for (int i = 0; i < n; i++) {
    args[i] = eval(b, e, x->kids[i], NULL);
    arg_error = arg_error || args[i].k == V_ERROR;
  }
  val r = ERR;
  const dsl_stmt *blk = find_block(b, x->s);
  const op_def *od = blk ? NULL : find_op(x->s);
  if (blk) {
    r = arg_error ? ERR : call_block(b, e, x, blk, n, args, hint);
  } else if (!od) {
    unknown_callee(b, x);
  } else {
    /* (op_call is large: on the heap, since nested block calls deepen this recursion) */
    op_call *oc = cn_calloc(1, sizeof *oc);
    oc->b = b;
    oc->op = x->s;
    oc->at = x;
    const dsl_expr *const *ats = (const dsl_expr *const *)x->kids;
    if (bind_args(b, x->s, od->spec, n, args, ats, x->arg_names, x, &oc->c) && !arg_error) {
      const char *layer = NULL;
      if (x->n_as) {
        layer = as_name(b, e, x);
      } else {
        char *base = cn_fmt("%s%s", e->prefix, hint ? hint : od->name);
        layer = unique_scope(b, base);
        free(base);
      }
      if (layer) {
        oc->layer = layer;
        oc->name = layer;
        if (hint && x->n_as) {
          oc->name = pool_str(b, cn_fmt("%s%s", e->prefix, hint));
        }
        r = od->fn(oc, od->op);
      }
    }
    free(oc);
  }
  free(args);
  return r;
}

static bool checked_int(builder *b, const dsl_expr *x, int op, int64_t a, int64_t c, int64_t *r) {
  bool overflow = false;
  switch (op) {
  case '+': overflow = __builtin_add_overflow(a, c, r); break;
  case '-': overflow = __builtin_sub_overflow(a, c, r); break;
  case '*': overflow = __builtin_mul_overflow(a, c, r); break;
  case '/':
  case '%':
    if (c == 0) {
      error_at(b, x, "division by zero");
      return false;
    }
    if (a == INT64_MIN && c == -1) {
      overflow = true;
      break;
    }
    /* floor division, as Python: -7 / 2 == -4 */
    *r = op == '/' ? a / c - ((a % c != 0) && ((a < 0) != (c < 0)))
                   : a % c + (((a % c != 0) && ((a < 0) != (c < 0))) ? c : 0);
    break;
  default: CN_UNREACHABLE();
  }
  if (overflow) {
    error_at(b, x, "integer overflow");
    return false;
  }
  return true;
}

static val eval_binary(builder *b, env *e, const dsl_expr *x, const char *hint) {
  val l = eval(b, e, x->kids[0], NULL);
  if (x->op == DSL_OP_AND || x->op == DSL_OP_OR) { /* short-circuit */
    if (l.k == V_ERROR) {
      return ERR;
    }
    if (l.k != V_BOOL) {
      error_at(b, x->kids[0], "'%s' needs true or false, not %s", x->op == DSL_OP_AND ? "&&" : "||",
               kind_name(l.k));
      return ERR;
    }
    if ((x->op == DSL_OP_AND) != (l.i != 0)) {
      return l;
    }
    val r = eval(b, e, x->kids[1], NULL);
    if (r.k != V_BOOL && r.k != V_ERROR) {
      error_at(b, x->kids[1], "'%s' needs true or false, not %s",
               x->op == DSL_OP_AND ? "&&" : "||", kind_name(r.k));
      return ERR;
    }
    return r;
  }
  val r = eval(b, e, x->kids[1], NULL);
  if (l.k == V_ERROR || r.k == V_ERROR) {
    return ERR;
  }
  int op = x->op;
  if (l.k == V_TENSOR || r.k == V_TENSOR) {
    static const struct {
      int op;
      cn_op ir;
      const char *name;
    } tensor_ops[] = {{'+', CN_OP_ADD, "add"},  {'-', CN_OP_SUB, "sub"},
                      {'*', CN_OP_MUL, "mul"},  {'/', CN_OP_DIV, "div"},
                      {'<', CN_OP_LESS, "less"}, {'>', CN_OP_GREATER, "greater"},
                      {DSL_OP_EQ, CN_OP_EQUAL, "equal"},
                      {DSL_OP_LE, CN_OP_LESS_OR_EQUAL, "less_or_equal"},
                      {DSL_OP_GE, CN_OP_GREATER_OR_EQUAL, "greater_or_equal"}};
    for (size_t i = 0; i < sizeof tensor_ops / sizeof tensor_ops[0]; i++) {
      if (tensor_ops[i].op != op) {
        continue;
      }
      if ((l.k != V_TENSOR && !is_number(&l)) || (r.k != V_TENSOR && !is_number(&r))) {
        error_at(b, x, "'%s' combines tensors with tensors or numbers, not with %s",
                 tensor_ops[i].name, kind_name(l.k == V_TENSOR ? r.k : l.k));
        return ERR;
      }
      op_call *oc = cn_calloc(1, sizeof *oc);
      oc->b = b;
      oc->op = tensor_ops[i].name;
      oc->at = x;
      val args[2] = {l, r};
      const dsl_expr *ats[2] = {x->kids[0], x->kids[1]};
      char *names[2] = {NULL, NULL};
      val res = ERR;
      if (bind_args(b, oc->op, "a:t! b:t!", 2, args, ats, names, x, &oc->c)) {
        char *base = cn_fmt("%s%s", e->prefix, hint ? hint : oc->op);
        oc->name = oc->layer = unique_scope(b, base);
        free(base);
        res = op_generic(oc, tensor_ops[i].ir);
      }
      free(oc);
      return res;
    }
    error_at(b, x, "this operator does not apply to tensors");
    return ERR;
  }
  if (l.k == V_STR && r.k == V_STR && (op == DSL_OP_EQ || op == DSL_OP_NE)) {
    return mk_bool((strcmp(l.s, r.s) == 0) == (op == DSL_OP_EQ));
  }
  if (l.k == V_BOOL && r.k == V_BOOL && (op == DSL_OP_EQ || op == DSL_OP_NE)) {
    return mk_bool((l.i == r.i) == (op == DSL_OP_EQ));
  }
  if (l.k == V_STR && r.k == V_STR && op == '+') {
    return (val){V_STR, 0, 0, pool_str(b, cn_fmt("%s%s", l.s, r.s)), 0, NULL};
  }
  if (op == '+' && ((l.k == V_STR && r.k == V_INT) || (l.k == V_INT && r.k == V_STR))) {
    /* "layer" + 1 == "layer1": for layer names built in loops */
    char *s = l.k == V_STR ? cn_fmt("%s%" PRId64, l.s, r.i) : cn_fmt("%" PRId64 "%s", l.i, r.s);
    return (val){V_STR, 0, 0, pool_str(b, s), 0, NULL};
  }
  if (!is_number(&l) || !is_number(&r)) {
    error_at(b, x, "cannot apply this operator to %s and %s", kind_name(l.k), kind_name(r.k));
    return ERR;
  }
  if (l.k == V_INT && r.k == V_INT) {
    int64_t a = l.i, c = r.i, res;
    switch (op) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': return checked_int(b, x, op, a, c, &res) ? mk_int(res) : ERR;
    case '<': return mk_bool(a < c);
    case '>': return mk_bool(a > c);
    case DSL_OP_LE: return mk_bool(a <= c);
    case DSL_OP_GE: return mk_bool(a >= c);
    case DSL_OP_EQ: return mk_bool(a == c);
    case DSL_OP_NE: return mk_bool(a != c);
    default: break;
    }
  } else {
    double a = num(&l), c = num(&r);
    switch (op) {
    case '+': return mk_float(a + c);
    case '-': return mk_float(a - c);
    case '*': return mk_float(a * c);
    case '/':
      if (c == 0) {
        error_at(b, x, "division by zero");
        return ERR;
      }
      return mk_float(a / c);
    case '<': return mk_bool(a < c);
    case '>': return mk_bool(a > c);
    case DSL_OP_LE: return mk_bool(a <= c);
    case DSL_OP_GE: return mk_bool(a >= c);
    case DSL_OP_EQ: return mk_bool(a == c);
    case DSL_OP_NE: return mk_bool(a != c);
    default: break;
    }
  }
  error_at(b, x, "cannot apply this operator to %s and %s", kind_name(l.k), kind_name(r.k));
  return ERR;
}

static val eval(builder *b, env *e, const dsl_expr *x, const char *hint) {
  switch (x->kind) {
  case DSL_E_INT: return mk_int(x->i);
  case DSL_E_FLOAT: return mk_float(x->f);
  case DSL_E_BOOL: return mk_bool(x->i != 0);
  case DSL_E_NONE: return (val){V_NONE, 0, 0, NULL, 0, NULL};
  case DSL_E_STRING: return (val){V_STR, 0, 0, x->s, 0, NULL};
  case DSL_E_NAME: {
    val *v = env_lookup(b, e, x->s);
    if (!v) {
      /* a parameterless operator or block written without parentheses is a mistake here */
      error_at(b, x, "'%s' is not defined", x->s);
      return ERR;
    }
    return *v;
  }
  case DSL_E_LIST: {
    if (x->n_kids > MAX_LIST) {
      error_at(b, x, "a list holds at most %d values", MAX_LIST);
      return ERR;
    }
    val l = {V_LIST, 0, 0, NULL, x->n_kids, pool_alloc(b, sizeof(val) * (size_t)x->n_kids)};
    for (int i = 0; i < x->n_kids; i++) {
      l.items[i] = eval(b, e, x->kids[i], NULL);
      if (l.items[i].k == V_ERROR) {
        return ERR;
      }
    }
    return l;
  }
  case DSL_E_CALL: return eval_call(b, e, x, hint);
  case DSL_E_BINARY: return eval_binary(b, e, x, hint);
  case DSL_E_UNARY: {
    val v = eval(b, e, x->kids[0], NULL);
    if (v.k == V_ERROR) {
      return ERR;
    }
    if (x->op == '!') {
      if (v.k != V_BOOL) {
        error_at(b, x, "'!' needs true or false, not %s", kind_name(v.k));
        return ERR;
      }
      return mk_bool(!v.i);
    }
    if (v.k == V_INT) {
      if (v.i == INT64_MIN) {
        error_at(b, x, "integer overflow");
        return ERR;
      }
      return mk_int(-v.i);
    }
    if (v.k == V_FLOAT) {
      return mk_float(-v.f);
    }
    if (v.k == V_TENSOR) {
      op_call *oc = cn_calloc(1, sizeof *oc);
      oc->b = b;
      oc->op = "neg";
      oc->at = x;
      char *base = cn_fmt("%s%s", e->prefix, hint ? hint : "neg");
      oc->name = oc->layer = unique_scope(b, base);
      free(base);
      val res = result(unary_node(oc, CN_OP_NEG, (int)v.i, oc->name, NULL));
      free(oc);
      return res;
    }
    error_at(b, x, "cannot negate %s", kind_name(v.k));
    return ERR;
  }
  case DSL_E_COND: {
    val c = eval(b, e, x->kids[0], NULL);
    if (c.k == V_ERROR) {
      return ERR;
    }
    if (c.k != V_BOOL) {
      error_at(b, x->kids[0], "a condition must be true or false, not %s", kind_name(c.k));
      return ERR;
    }
    return eval(b, e, x->kids[c.i ? 1 : 2], hint);
  }
  case DSL_E_INDEX: {
    val l = eval(b, e, x->kids[0], NULL);
    val i = eval(b, e, x->kids[1], NULL);
    if (l.k == V_ERROR || i.k == V_ERROR) {
      return ERR;
    }
    if (l.k == V_TENSOR && i.k == V_INT) {
      /* x[k]: dimension k of a tensor's shape (negative counts from the end) */
      const cn_value *v = &b->g->values[l.i];
      int64_t k = i.i < 0 ? i.i + v->rank : i.i;
      if (k < 0 || k >= v->rank) {
        char buf[200];
        error_at(b, x->kids[1], "index %" PRId64 " is out of range for shape %s", i.i,
                 shape_of(b, (int)l.i, buf, sizeof buf));
        return ERR;
      }
      return mk_int(v->dims[k]);
    }
    if (l.k != V_LIST || i.k != V_INT) {
      error_at(b, x, "only lists and tensor shapes can be indexed, with an integer");
      return ERR;
    }
    int64_t k = i.i < 0 ? i.i + l.n : i.i;
    if (k < 0 || k >= l.n) {
      error_at(b, x->kids[1], "index %" PRId64 " is out of range for a list of %d", i.i, l.n);
      return ERR;
    }
    return l.items[k];
  }
  }
  CN_UNREACHABLE();
}

static void exec_stmt(builder *b, env *e, const dsl_stmt *s) {
  if (b->stopped) {
    return;
  }
  if (++b->steps > MAX_STEPS) {
    error_line(b, s->line, s->col, "the program runs more than %d statements", MAX_STEPS);
    b->stopped = true;
    return;
  }
  if (b->d->errors >= MAX_ERRORS) {
    error_line(b, s->line, s->col, "too many errors; stopping here");
    b->stopped = true;
    return;
  }
  switch (s->kind) {
  case DSL_S_MODEL:
  case DSL_S_SEED:
  case DSL_S_PARAMS:
  case DSL_S_BLOCK:
  case DSL_S_TRAIN: return; /* handled before evaluation */
  case DSL_S_INPUT: {
    if (e != b->global) {
      error_line(b, s->line, s->col, "inputs are declared at the top level only");
      return;
    }
    cn_dtype dt;
    if (!dtype_from_name(s->text, &dt)) {
      error_line(b, s->line, s->text_col, "unknown element type '%s' (f32, f64, f16, i8, i32, i64, "
                                          "u8, bool, ...)",
                 s->text);
      env_set(e, s->names[0], ERR);
      return;
    }
    int64_t dims[CN_MAX_RANK];
    bool ok = s->n_dims <= CN_MAX_RANK;
    if (!ok) {
      error_line(b, s->line, s->col, "an input has at most %d dimensions", CN_MAX_RANK);
    }
    int64_t total = 1;
    for (int i = 0; ok && i < s->n_dims; i++) {
      val v = eval(b, e, s->dims[i], NULL);
      if (v.k != V_INT || v.i < 1 || !cn_mul_checked(total, v.i, CN_MAX_ELEMENTS, &total)) {
        if (v.k != V_ERROR) {
          error_at(b, s->dims[i], "a dimension must be a positive integer (and the input not "
                                  "larger than 2^34 elements)");
        }
        ok = false;
        break;
      }
      dims[i] = v.i;
    }
    if (cn_value_find(b->g, s->names[0]) >= 0) {
      error_line(b, s->line, s->name_cols[0], "'%s' is already defined", s->names[0]);
      ok = false;
    }
    if (!ok) {
      env_set(e, s->names[0], ERR);
      return;
    }
    int id = cn_value_add(b->g, s->names[0]);
    cn_value *v = &b->g->values[id];
    v->kind = CN_VALUE_INPUT;
    v->dtype = dt;
    cn_value_set_shape(v, s->n_dims, dims);
    CN_PUSH(b->g->inputs, b->g->n_inputs, b->g->cap_inputs, id);
    env_set(e, s->names[0], mk_tensor(id));
    return;
  }
  case DSL_S_OUTPUT: {
    if (e != b->global) {
      error_line(b, s->line, s->col, "outputs are declared at the top level only");
      return;
    }
    const char *name = s->names[0];
    val v;
    if (s->expr) {
      v = eval(b, e, s->expr, name);
      env_set(e, name, v);
    } else {
      val *p = env_lookup(b, e, name);
      if (!p) {
        error_line(b, s->line, s->name_cols[0], "'%s' is not defined", name);
        return;
      }
      v = *p;
    }
    if (v.k == V_ERROR) {
      return;
    }
    if (v.k != V_TENSOR) {
      error_line(b, s->line, s->name_cols[0], "output '%s' must be a tensor, not %s", name,
                 kind_name(v.k));
      return;
    }
    int id = (int)v.i;
    /* The graph output is called `name`. A tensor computed here (not yet an output) takes the
     * name itself; an earlier tensor that had it (`x` assigned again and again, then
     * `output x`) gives it up for a fresh one. Inputs, constants and tensors already output get
     * an Identity node of that name. */
    int other = cn_value_find(b->g, name);
    if (other >= 0 && other != id) {
      const cn_value *o = &b->g->values[other];
      if (o->kind != CN_VALUE_TEMP || o->is_output) {
        error_line(b, s->line, s->name_cols[0],
                   "output name '%s' is already the name of an input, a parameter or an output",
                   name);
        return;
      }
      rename_value(b, other, pool_str(b, fresh_name(b, name, false)));
    }
    const cn_value *val_ = &b->g->values[id];
    if (val_->kind == CN_VALUE_TEMP && !val_->is_output) {
      if (strcmp(val_->name, name) != 0) {
        rename_value(b, id, name);
      }
    } else {
      int in[1] = {id};
      char *oname = strcmp(val_->name, name) == 0 ? cn_fmt("%s_out", name) : cn_strdup(name);
      dsl_expr pos = {0};
      pos.line = s->line;
      pos.col = s->name_cols[0];
      id = add_node(b, CN_OP_IDENTITY, "output", oname, in, 1, NULL, s->expr ? s->expr : &pos);
      free(oname);
      if (id < 0) {
        return;
      }
    }
    b->g->values[id].is_output = true;
    CN_PUSH(b->g->outputs, b->g->n_outputs, b->g->cap_outputs, id);
    return;
  }
  case DSL_S_ASSIGN: {
    const char *hint = s->n_names == 1 ? s->names[0] : NULL;
    val v = eval(b, e, s->expr, hint);
    if (s->n_names == 1) {
      env_set(e, s->names[0], v);
      return;
    }
    if (v.k != V_ERROR && (v.k != V_LIST || v.n != s->n_names)) {
      error_line(b, s->line, s->col, "%d names on the left, but the value is %s%s", s->n_names,
                 kind_name(v.k), v.k == V_LIST ? " of another length" : "");
      v = ERR;
    }
    for (int i = 0; i < s->n_names; i++) {
      env_set(e, s->names[i], v.k == V_ERROR ? ERR : v.items[i]);
    }
    return;
  }
  case DSL_S_EXPR: eval(b, e, s->expr, NULL); return;
  case DSL_S_POISON:
    if (!s->text) {
      for (int i = 0; i < s->n_names; i++) {
        env_set(e, s->names[i], ERR);
      }
    }
    return;
  case DSL_S_REPEAT: {
    val n = eval(b, e, s->expr, NULL);
    if (n.k == V_ERROR) {
      return;
    }
    if (n.k != V_INT || n.i < 0 || n.i > MAX_REPEAT) {
      error_at(b, s->expr, "repeat needs a count from 0 to %d", MAX_REPEAT);
      return;
    }
    for (int64_t i = 0; i < n.i && !e->returned && !b->stopped; i++) {
      if (s->n_names) {
        env_set(e, s->names[0], mk_int(i));
      }
      int errors = b->d->errors;
      exec_body(b, e, &s->body);
      if (b->d->errors > errors) {
        break; /* the same mistake again on every round says nothing new */
      }
    }
    return;
  }
  case DSL_S_IF: {
    val c = eval(b, e, s->expr, NULL);
    if (c.k == V_ERROR) {
      return;
    }
    if (c.k != V_BOOL) {
      error_at(b, s->expr, "a condition must be true or false, not %s", kind_name(c.k));
      return;
    }
    exec_body(b, e, c.i ? &s->body : &s->else_body);
    return;
  }
  case DSL_S_RETURN:
    if (e == b->global) {
      error_line(b, s->line, s->col, "'return' outside a block");
      return;
    }
    e->ret = eval(b, e, s->expr, NULL);
    e->returned = true;
    return;
  }
}

static void exec_body(builder *b, env *e, const dsl_body *body) {
  for (int i = 0; i < body->n && !e->returned; i++) {
    exec_stmt(b, e, body->stmts[i]);
  }
}

/* --- the program's declarations: model, seed, params, blocks, train --- */

static void add_source(builder *b, const char *path, int line, int col) {
  param_source ps = {path, NULL, 0};
  size_t n = strlen(path);
  if (n >= 5 && strcmp(path + n - 5, ".onnx") == 0) {
    cn_diag sub;
    cn_diag_init(&sub, path);
    sub.out = b->d->out;
    sub.quiet = b->d->quiet;
    ps.onnx = cn_onnx_load(path, &sub);
    if (!ps.onnx) {
      if (line > 0) {
        error_line(b, line, col, "cannot read parameters from '%s'", path);
      } else {
        cn_error(b->d, "cannot read parameters from '%s'", path);
      }
      return;
    }
  } else {
    /* a folder of NAME.npy files: it must at least be a folder we can read */
    char *probe = cn_fmt("%s/.", path);
    FILE *f = fopen(probe, "r");
    free(probe);
    if (!f) {
      if (line > 0) {
        error_line(b, line, col, "parameter folder '%s' cannot be read: %s", path,
                   strerror(errno));
      } else {
        cn_error(b->d, "parameter folder '%s' cannot be read: %s", path, strerror(errno));
      }
      return;
    }
    fclose(f);
  }
  CN_PUSH(b->sources, b->n_sources, b->cap_sources, ps);
}

static void declarations(builder *b, const dsl_program *prog) {
  bool seen_model = false, seen_seed = false, seen_train = false;
  for (int i = 0; i < prog->body.n; i++) {
    const dsl_stmt *s = prog->body.stmts[i];
    switch (s->kind) {
    case DSL_S_MODEL:
      if (seen_model) {
        error_line(b, s->line, s->col, "the model is named twice");
      }
      seen_model = true;
      free(b->g->name);
      b->g->name = cn_strdup(s->names[0]);
      break;
    case DSL_S_SEED: {
      val v = eval(b, b->global, s->expr, NULL);
      if (seen_seed) {
        error_line(b, s->line, s->col, "the seed is set twice");
      } else if (v.k != V_INT || v.i < 0) {
        if (v.k != V_ERROR) {
          error_at(b, s->expr, "the seed must be a non-negative integer");
        }
      } else {
        b->seed = (uint64_t)v.i;
      }
      seen_seed = true;
      break;
    }
    case DSL_S_PARAMS: {
      if (b->opt->no_files) {
        error_line(b, s->line, s->col, "parameter files are not read here");
        break;
      }
      const char *p = s->text;
      char *path = p[0] == '/' || !b->base_dir ? cn_strdup(p) : cn_fmt("%s/%s", b->base_dir, p);
      add_source(b, pool_str(b, path), s->line, s->col);
      break;
    }
    case DSL_S_POISON:
    case DSL_S_BLOCK:
      if (s->kind == DSL_S_POISON && !s->text) {
        break; /* (a block that did not parse is known; calls to it give no more errors) */
      }
      for (int k = 0; k < b->n_blocks; k++) {
        if (strcmp(b->blocks[k]->names[0], s->names[0]) == 0) {
          error_line(b, s->line, s->name_cols[0], "block '%s' is defined twice (first on line %d)",
                     s->names[0], b->blocks[k]->line);
        }
      }
      if (find_op(s->names[0])) {
        error_line(b, s->line, s->name_cols[0], "block '%s' has the name of an operator",
                   s->names[0]);
      }
      b->blocks = cn_realloc(b->blocks, sizeof *b->blocks * (size_t)(b->n_blocks + 1));
      b->blocks[b->n_blocks++] = s;
      break;
    case DSL_S_TRAIN:
      if (seen_train) {
        error_line(b, s->line, s->col, "the train section is given twice");
        break;
      }
      seen_train = true;
      b->g->train_decls = cn_calloc((size_t)s->n_train + 1, sizeof *b->g->train_decls);
      for (int k = 0; k < s->n_train; k++) {
        struct cn_train_decl *t = &b->g->train_decls[b->g->n_train_decls++];
        t->key = cn_strdup(s->train[k].key);
        t->value = cn_strdup(s->train[k].value);
        t->line = s->train[k].line;
        t->col = s->train[k].col;
      }
      break;
    default: break;
    }
  }
}

cn_graph *cn_dsl_load_buffer(const char *text, size_t len, const char *filename,
                             const cn_dsl_options *opt, cn_diag *d) {
  static const cn_dsl_options no_options = {0};
  if (!opt) {
    opt = &no_options;
  }
  dsl_source src;
  dsl_source_init(&src, filename ? filename : "<input>", text, len);
  dsl_program *prog = dsl_parse(&src, d);

  builder b;
  memset(&b, 0, sizeof b);
  b.src = &src;
  b.d = d;
  b.opt = opt;
  b.g = cn_graph_new();
  b.g->opset = OPSET;
  b.max_param_elements = opt->max_param_elements > 0 ? opt->max_param_elements : CN_MAX_ELEMENTS;
  if (filename) {
    const char *slash = strrchr(filename, '/');
    b.base_dir = slash ? cn_strndup(filename, (size_t)(slash - filename)) : NULL;
  }
  env global = {0};
  global.prefix = "";
  b.global = &global;
  for (int i = 0; i < opt->n_param_files; i++) {
    add_source(&b, opt->param_files[i], 0, 0);
  }
  declarations(&b, prog);
  exec_body(&b, &global, &prog->body);
  if (!cn_diag_failed(d)) {
    if (b.g->n_outputs == 0) {
      error_line(&b, src.n_lines, 1, "the model has no outputs (add e.g. 'output y')");
    }
    if (b.g->n_inputs == 0 && b.g->n_outputs > 0) {
      error_line(&b, 1, 1, "the model has no inputs (add e.g. 'input x: f32[1, 3, 32, 32]')");
    }
  }
  if (b.n_seeded > 8) {
    cn_warning(d, "%d parameters in all were in none of the parameter files", b.n_seeded);
  }

  for (int i = 0; i < b.n_sources; i++) {
    cn_graph_free(b.sources[i].onnx);
  }
  free(b.sources);
  cn_map_free(&b.scopes); /* (before the pool: they borrow the pool's strings) */
  cn_map_free(&b.next_suffix);
  for (int i = 0; i < b.n_pool; i++) {
    free(b.pool[i]);
  }
  free(b.pool);
  free(b.blocks);
  free(global.b);
  free(b.base_dir);
  dsl_program_free(prog);
  dsl_source_free(&src);
  if (cn_diag_failed(d)) {
    cn_graph_free(b.g);
    return NULL;
  }
  return b.g;
}

cn_graph *cn_dsl_load(const char *path, const cn_dsl_options *opt, cn_diag *d) {
  size_t len = 0;
  unsigned char *data = cn_read_file(path, &len);
  if (!data) {
    cn_error(d, "cannot read the model: %s", strerror(errno));
    return NULL;
  }
  cn_graph *g = cn_dsl_load_buffer((const char *)data, len, path, opt, d);
  free(data);
  return g;
}
