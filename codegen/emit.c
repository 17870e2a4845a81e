/* emit.c — the code generator's driver: NAME.c (weights blob + run function), NAME.h (the
 * public API as macros and prototypes), the runtime headers the model uses and, with --main,
 * the driver program NAME_main.c. Everything is built in memory and written only when the whole
 * model has been generated, so that a failure leaves no partial output. */
#include "emit.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler/ops.h"
#include "runtime_files.h"

#define BLOB_ALIGN 64
#define BLOB_ROW 4000 /* bytes of weights per line of the generated string literal */

const char *cn_emit_str(cn_emitter *e, const char *fmt, ...) {
  cn_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  cn_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  CN_PUSH(e->strings, e->n_strings, e->cap_strings, b.data);
  return b.data;
}

const char *cn_emit_comment(cn_emitter *e, const char *s) {
  cn_buf b = {0};
  cn_buf_puts(&b, ""); /* never NULL, even for "" */
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    cn_buf_append(&b, c < 32 || c == 127 ? "?" : p, 1);
    if ((c == '*' && p[1] == '/') || (c == '/' && p[1] == '*')) {
      cn_buf_puts(&b, " "); /* "* /" and "/ *" end or nest no comment */
    }
  }
  CN_PUSH(e->strings, e->n_strings, e->cap_strings, b.data);
  return b.data;
}

void cn_emit_use(cn_emitter *e, cn_rt_set headers) { e->headers |= headers; }

void cn_emit_simd_call(cn_emitter *e, cn_rt_set avx2, cn_rt_set neon, const char *fn,
                       const char *args, bool with_par) {
  const char *par = with_par ? ", par" : "";
  if (e->opt->target == CN_TARGET_X86_64) {
    cn_emit_use(e, avx2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    cn_emit_line(e, "    cnnrt_f32_%s_avx2(%s%s);", fn, args, par);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_%s_ref(%s);", fn, args);
    cn_emit_line(e, "#endif");
  } else if (e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7) {
    cn_emit_use(e, neon);
    cn_emit_line(e, "    cnnrt_f32_%s_neon(%s%s);", fn, args, par);
  } else {
    cn_emit_line(e, "    cnnrt_f32_%s_ref(%s);", fn, args);
  }
}

void cn_emit_line(cn_emitter *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cn_buf_vprintf(&e->body, fmt, ap);
  va_end(ap);
  cn_buf_puts(&e->body, "\n");
}

static int index_in(const int *list, int n, int v) {
  for (int i = 0; i < n; i++) {
    if (list[i] == v) {
      return i;
    }
  }
  return -1;
}

/* Where the bytes of value v live, as an expression of type `unsigned char *` (or const). */
static const char *storage(cn_emitter *e, int v) {
  cn_graph *g = e->g;
  /* The storage root, adding up the byte offsets of Concat slices (passes/concat.c) on the way. */
  int r = v;
  int64_t slice = 0;
  while (g->values[r].alias >= 0) {
    slice += g->values[r].alias_offset;
    r = g->values[r].alias;
  }
  cn_value *val = &g->values[r];
  if (slice != 0) {
    CN_ASSERT(val->kind == CN_VALUE_TEMP && !val->is_output && val->offset >= 0);
    return cn_emit_str(e, "(A + %" PRId64 ")", val->offset + slice);
  }
  if (val->kind == CN_VALUE_INPUT) {
    int k = index_in(g->inputs, g->n_inputs, r);
    if (k < 0) { /* an upstream gradient: an input of NAME_backward only */
      k = index_in(g->seeds, g->n_seeds, r);
      CN_ASSERT(k >= 0);
      return cn_emit_str(e, "grad_outputs[%d]", k);
    }
    return cn_emit_str(e, "inputs[%d]", k);
  }
  if (val->kind == CN_VALUE_CONST) {
    if (val->offset < 0) {
      val->offset = e->blob_bytes;
      e->blob_bytes += (cn_value_bytes(val) + BLOB_ALIGN - 1) / BLOB_ALIGN * BLOB_ALIGN;
    }
    return cn_emit_str(e, "(W + %" PRId64 ")", val->offset);
  }
  if (val->is_output) {
    return cn_emit_str(e, "outputs[%d]", index_in(g->outputs, g->n_outputs, r));
  }
  CN_ASSERT(val->offset >= 0);
  return cn_emit_str(e, "(A + %" PRId64 ")", val->offset);
}

const char *cn_emit_in(cn_emitter *e, int v) {
  if (v < 0) {
    return "NULL";
  }
  return cn_emit_str(e, "(const %s *)%s", cn_dtype_ctype(e->g->values[v].dtype), storage(e, v));
}

const char *cn_emit_out(cn_emitter *e, int v) {
  if (v < 0) {
    return "NULL";
  }
  return cn_emit_str(e, "(%s *)%s", cn_dtype_ctype(e->g->values[v].dtype), storage(e, v));
}

const char *cn_emit_in_void(cn_emitter *e, int v) {
  return v < 0 ? "NULL" : cn_emit_str(e, "(const void *)%s", storage(e, v));
}

const char *cn_emit_out_void(cn_emitter *e, int v) {
  return v < 0 ? "NULL" : cn_emit_str(e, "(void *)%s", storage(e, v));
}

const char *cn_emit_scratch(cn_emitter *e, const cn_node *n) {
  if (n->scratch_bytes <= 0) {
    return "NULL";
  }
  return cn_emit_str(e, "(void *)(A + %" PRId64 ")", n->scratch_offset);
}

const char *cn_emit_scratch_at(cn_emitter *e, const cn_node *n, int64_t offset, const char *ctype) {
  CN_ASSERT(n->scratch_offset >= 0 && offset < n->scratch_bytes);
  return cn_emit_str(e, "(%s *)(A + %" PRId64 ")", ctype, n->scratch_offset + offset);
}

void cn_emit_cast(cn_emitter *e, int64_t count, cn_dtype from, const char *src, cn_dtype to,
                  const char *dst) {
  cn_emit_use(e, CN_RT_ELEMENTWISE);
  cn_emit_line(e, "    (void)cnnrt_cast(%" PRId64 ", %d, %s, %d, %s);", count, (int)from, src,
               (int)to, dst);
}

const char *cn_emit_float(cn_emitter *e, float f) {
  if (isnan(f)) {
    return "NAN";
  }
  if (isinf(f)) {
    return f > 0 ? "INFINITY" : "-INFINITY";
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", (double)f);
  bool has_point = strpbrk(buf, ".eE") != NULL;
  return cn_emit_str(e, "%s%sf", buf, has_point ? "" : ".0");
}

const char *cn_emit_params(cn_emitter *e, const char *type, const cn_field *fields, int n_fields,
                           const void *params) {
  int id = e->n_params++;
  cn_buf_printf(&e->body, "    static const %s p%d = {", type, id);
  for (int f = 0; f < n_fields; f++) {
    const cn_field *fd = &fields[f];
    const unsigned char *base = (const unsigned char *)params + fd->offset;
    cn_buf_printf(&e->body, "%s.%s = ", f ? ", " : "", fd->name);
    bool array = fd->count > 1;
    /* Arrays of one element are declared as such in the struct only when count reads 1 from
     * sizeof; the runtime structs use count > 1 for every array. */
    if (array) {
      cn_buf_puts(&e->body, "{");
    }
    for (int k = 0; k < fd->count; k++) {
      if (fd->kind == CN_FIELD_I64) {
        int64_t v;
        memcpy(&v, base + (size_t)k * sizeof v, sizeof v);
        if (v == INT64_MIN) {
          cn_buf_printf(&e->body, "%sINT64_MIN", k ? ", " : "");
        } else {
          cn_buf_printf(&e->body, "%s%" PRId64, k ? ", " : "", v);
        }
      } else {
        float v;
        memcpy(&v, base + (size_t)k * sizeof v, sizeof v);
        cn_buf_printf(&e->body, "%s%s", k ? ", " : "", cn_emit_float(e, v));
      }
    }
    if (array) {
      cn_buf_puts(&e->body, "}");
    }
  }
  cn_buf_puts(&e->body, "};\n");
  return cn_emit_str(e, "&p%d", id);
}

const char *cn_emit_i64_array(cn_emitter *e, const int64_t *vals, int n) {
  int id = e->n_params++;
  cn_buf_printf(&e->body, "    static const int64_t p%d[%d] = {", id, n > 0 ? n : 1);
  for (int k = 0; k < n; k++) {
    cn_buf_printf(&e->body, "%s%" PRId64, k ? ", " : "", vals[k]);
  }
  if (n == 0) {
    cn_buf_puts(&e->body, "0");
  }
  cn_buf_puts(&e->body, "};\n");
  return cn_emit_str(e, "p%d", id);
}

/* ---------------------------------------------------------------------------------------- */

char *cn_model_ident(const char *out_path) {
  const char *base = strrchr(out_path, '/');
  base = base ? base + 1 : out_path;
  size_t len = strlen(base);
  if (len > 2 && strcmp(base + len - 2, ".c") == 0) {
    len -= 2;
  }
  char *id = cn_strndup(base, len);
  for (char *p = id; *p; p++) {
    bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (!ok) {
      *p = '_';
    }
  }
  if (id[0] == '\0' || (id[0] >= '0' && id[0] <= '9')) {
    char *p = cn_fmt("m_%s", id);
    free(id);
    id = p;
  }
  return id;
}

static char *upper(const char *s) {
  char *u = cn_strdup(s);
  for (char *p = u; *p; p++) {
    if (*p >= 'a' && *p <= 'z') {
      *p = (char)(*p - 'a' + 'A');
    }
  }
  return u;
}

/* A C string literal body for `s` (quotes, backslashes and non-printables escaped). */
static void put_c_string(cn_buf *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      cn_buf_printf(b, "\\%c", *p);
    } else if (*p < 32 || *p >= 127 || *p == '?') {
      cn_buf_printf(b, "\\%03o", *p);
    } else {
      cn_buf_append(b, (const char *)p, 1);
    }
  }
}

static void io_macros(cn_buf *h, const cn_graph *g, const char *U, const char *kind, int idx,
                      int v) {
  const cn_value *val = &g->values[v];
  cn_buf_printf(h, "#define %s_%s%d_NAME \"", U, kind, idx);
  put_c_string(h, val->name);
  cn_buf_printf(h, "\"\n#define %s_%s%d_DTYPE %d /* %s */\n", U, kind, idx, (int)val->dtype,
                cn_dtype_name(val->dtype));
  cn_buf_printf(h, "#define %s_%s%d_RANK %d\n", U, kind, idx, val->rank);
  cn_buf_printf(h, "#define %s_%s%d_SHAPE {", U, kind, idx);
  for (int k = 0; k < val->rank; k++) {
    cn_buf_printf(h, "%s%" PRId64, k ? ", " : "", val->dims[k]);
  }
  cn_buf_printf(h, "%s}\n", val->rank == 0 ? "1" : "");
  cn_buf_printf(h, "#define %s_%s%d_SIZE %" PRId64 " /* elements */\n", U, kind, idx,
                cn_value_numel(val));
}

/* A C identifier made of `name`'s letters and digits (for typed parameter names). */
static char *c_ident(const char *name, const char *prefix) {
  char *id = cn_fmt("%s%s", prefix, name);
  for (char *p = id; *p; p++) {
    bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (!ok) {
      *p = '_';
    }
  }
  return id;
}

/* The parameter names of NAME_infer for a list of values (inputs or outputs): c_ident, plus
 * "_<position>" while a name reads like an earlier one (names that differ only in punctuation,
 * an output listed twice). Free with free_names. */
static char **param_names(const cn_graph *g, const int *list, int n, const char *prefix) {
  char **names = cn_calloc((size_t)n + 1, sizeof *names);
  for (int i = 0; i < n; i++) {
    names[i] = c_ident(g->values[list[i]].name, prefix);
    for (int k = 0; k < i; k++) {
      if (strcmp(names[i], names[k]) == 0) {
        char *u = cn_fmt("%s_%d", names[i], i);
        free(names[i]);
        names[i] = u;
        k = -1; /* compare again with every earlier one */
      }
    }
  }
  return names;
}

static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) {
    free(names[i]);
  }
  free(names);
}

/* FNV-1a over the weights: lets an application (and the driver) reject a weights file that
 * belongs to another build of the model. */
static uint64_t blob_checksum(const unsigned char *blob, int64_t bytes) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < bytes; i++) {
    h = (h ^ blob[i]) * 1099511628211ull;
  }
  return h;
}

static void gen_header(cn_buf *h, const cn_graph *g, const cn_emitter *e, uint64_t checksum) {
  char *U = upper(e->ident);
  const char *id = e->ident;
  cn_buf_printf(h, "/* %s.h — generated by cnncc %s. Do not edit.\n", id, CNNCC_VERSION);
  cn_buf_printf(h,
                " *\n"
                " * Usage: give the model an arena of %s_ARENA_BYTES bytes aligned to\n"
                " * %s_ARENA_ALIGN (malloc'd or static; it need not be zeroed and may be reused\n"
                " * from call to call, but two calls running at once need two arenas), then\n"
                " *   %s_run(arena, weights, inputs, outputs);\n"
                " * inputs[i] / outputs[i] point to dense C-order arrays of the shapes and types\n"
                " * below. `weights` is NULL when the weights are embedded (%s_WEIGHTS_EMBEDDED),\n"
                " * else the contents of the weights file (%s_WEIGHTS_BYTES bytes, aligned to at\n"
                " * least 8; %s_WEIGHTS_CHECKSUM is its FNV-1a hash). No global state is used:\n"
                " * contexts with their own arenas may run on several threads at once.\n"
                " * Returns 0 on success, -1 when the arena or the weights are missing. */\n",
                U, U, id, U, U, U);
  if (e->headers & CN_RT_XSMM) {
    cn_buf_puts(h, "/* Generated with --gemm libxsmm: built with AVX2+FMA (e.g. -march=native) the\n"
                   " * model calls libxsmm 1.17 (x86-64, Debian libxsmm-dev): link with\n"
                   " *   -lxsmm -lpthread -ldl -lm\n"
                   " * e.g. cc -O2 -march=native *.c -o prog -lxsmm -lpthread -ldl -lm. libxsmm\n"
                   " * JIT-compiles each kernel on first use and keeps it in its own thread-safe\n"
                   " * registry; the model itself still keeps no global state. */\n");
  }
  cn_buf_printf(h, "#ifndef %s_H\n#define %s_H\n\n", U, U);
  cn_buf_puts(h, "#include <stdint.h> /* the typed parameters of NAME_infer */\n\n");
  cn_buf_printf(h, "#define %s_ARENA_BYTES %" PRId64 "\n", U, g->arena_bytes);
  cn_buf_printf(h, "#define %s_ARENA_ALIGN 64\n", U);
  cn_buf_printf(h, "#define %s_WEIGHTS_BYTES %" PRId64 "\n", U, e->blob_bytes);
  cn_buf_printf(h, "#define %s_WEIGHTS_EMBEDDED %d\n", U, e->opt->weights_path ? 0 : 1);
  cn_buf_printf(h, "#define %s_WEIGHTS_CHECKSUM 0x%016llxULL\n", U, (unsigned long long)checksum);
  cn_buf_printf(h, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n\n", U, g->n_inputs, U,
                g->n_outputs);
  cn_buf_puts(h, "/* Per input/output: name, dtype (ONNX TensorProto numbering: 1 float32, 7 int64,\n"
                 " * 9 bool, ...), rank, shape (an initializer list) and element count. */\n");
  for (int i = 0; i < g->n_inputs; i++) {
    io_macros(h, g, U, "INPUT", i, g->inputs[i]);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    io_macros(h, g, U, "OUTPUT", i, g->outputs[i]);
  }
  if (e->opt->grad) {
    cn_buf_printf(h,
                  "\n/* --grad: %s_backward computes, for upstream gradients grad_outputs[i] (one\n"
                  " * per output, shaped like it), the gradient of sum_i <grad_outputs[i],\n"
                  " * outputs[i]> with respect to each value below (float inputs, then float\n"
                  " * initializers), into grads[i]. */\n#define %s_NUM_GRADS %d\n",
                  e->ident, U, g->n_grads);
    for (int i = 0; i < g->n_grads; i++) {
      io_macros(h, g, U, "GRAD", i, g->grad_wrt[i]);
    }
  }
  cn_buf_printf(h,
                "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
                "struct cnnrt_parallel; /* runtime/cnnrt.h */\n\n"
                "int %s_run(void *arena, const void *weights, const void *const *inputs,\n"
                "    void *const *outputs);\n"
                "/* Same, splitting work across the threads of `par` (NULL: serial). */\n"
                "int %s_run_parallel(void *arena, const void *weights, const void *const *inputs,\n"
                "    void *const *outputs, const struct cnnrt_parallel *par);\n",
                id, id);
  if (e->opt->grad) {
    cn_buf_printf(h,
                  "/* Backward pass. Call it after %s_run (or _run_parallel) with the same arena,\n"
                  " * weights, inputs and outputs: it reads the activations the forward run left in\n"
                  " * the arena (%s_ARENA_BYTES covers both passes). */\n"
                  "int %s_backward(void *arena, const void *weights, const void *const *inputs,\n"
                  "    const void *const *outputs, const void *const *grad_outputs,\n"
                  "    void *const *grads);\n"
                  "int %s_backward_parallel(void *arena, const void *weights,\n"
                  "    const void *const *inputs, const void *const *outputs,\n"
                  "    const void *const *grad_outputs, void *const *grads,\n"
                  "    const struct cnnrt_parallel *par);\n",
                  id, U, id, id);
  }
  /* A typed entry point with one parameter per input and output. */
  cn_buf_printf(h, "/* Typed form of %s_run%s. */\nint %s_infer(void *arena%s", id,
                e->opt->weights_path ? "" : " with the embedded weights", id,
                e->opt->weights_path ? ", const void *weights" : "");
  char **in_names = param_names(g, g->inputs, g->n_inputs, "in_");
  char **out_names = param_names(g, g->outputs, g->n_outputs, "out_");
  for (int i = 0; i < g->n_inputs; i++) {
    const cn_value *v = &g->values[g->inputs[i]];
    cn_buf_printf(h, ",\n    const %s *%s", cn_dtype_ctype(v->dtype), in_names[i]);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    const cn_value *v = &g->values[g->outputs[i]];
    cn_buf_printf(h, ",\n    %s *%s", cn_dtype_ctype(v->dtype), out_names[i]);
  }
  free_names(in_names, g->n_inputs);
  free_names(out_names, g->n_outputs);
  cn_buf_puts(h, ");\n\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
  free(U);
}

/* The body of NAME_infer (see gen_header). */
static void gen_infer(cn_buf *c, const cn_graph *g, const cn_emitter *e) {
  const char *id = e->ident;
  bool external = e->opt->weights_path != NULL;
  cn_buf_printf(c, "\nint %s_infer(void *arena%s", id, external ? ", const void *weights" : "");
  char **in_names = param_names(g, g->inputs, g->n_inputs, "in_");
  char **out_names = param_names(g, g->outputs, g->n_outputs, "out_");
  for (int i = 0; i < g->n_inputs; i++) {
    const cn_value *v = &g->values[g->inputs[i]];
    cn_buf_printf(c, ",\n    const %s *%s", cn_dtype_ctype(v->dtype), in_names[i]);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    const cn_value *v = &g->values[g->outputs[i]];
    cn_buf_printf(c, ",\n    %s *%s", cn_dtype_ctype(v->dtype), out_names[i]);
  }
  cn_buf_printf(c, ") {\n  const void *const inputs[%d] = {", g->n_inputs > 0 ? g->n_inputs : 1);
  for (int i = 0; i < g->n_inputs; i++) {
    cn_buf_printf(c, "%s%s", i ? ", " : "", in_names[i]);
  }
  cn_buf_printf(c, "%s};\n  void *const outputs[%d] = {", g->n_inputs ? "" : "0",
                g->n_outputs > 0 ? g->n_outputs : 1);
  for (int i = 0; i < g->n_outputs; i++) {
    cn_buf_printf(c, "%s%s", i ? ", " : "", out_names[i]);
  }
  free_names(in_names, g->n_inputs);
  free_names(out_names, g->n_outputs);
  cn_buf_printf(c, "};\n  return %s_run(arena, %s, inputs, outputs);\n}\n", id,
                external ? "weights" : "0");
}

/* The weights blob as rows of string literals; returns false if nothing is needed. */
static void gen_blob_bytes(const cn_graph *g, int64_t bytes, unsigned char **out) {
  unsigned char *blob = cn_calloc((size_t)(bytes ? bytes : 1), 1);
  for (int v = 0; v < g->n_values; v++) {
    const cn_value *val = &g->values[v];
    if (val->kind == CN_VALUE_CONST && val->offset >= 0 && val->data) {
      memcpy(blob + val->offset, val->data, (size_t)cn_value_bytes(val));
    }
  }
  *out = blob;
}

static void gen_blob_c(cn_buf *c, const char *id, const unsigned char *blob, int64_t bytes) {
  /* One array initialised by adjacent string literals, one line per BLOB_ROW bytes: of the
   * encodings measured (docs/design.md), strings compile fastest and smallest. The literal is
   * longer than C99's 4095-character minimum, hence the pragma for -Wpedantic. */
  cn_buf_printf(c,
                "/* The weights, packed in the layouts their kernels read: %" PRId64 " bytes. */\n"
                "#if defined(__GNUC__)\n#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n"
                "#endif\n"
                "static const union {\n  unsigned char bytes[%" PRId64 "];\n  double align;\n"
                "} %s_weights\n#if defined(__GNUC__)\n    __attribute__((aligned(64)))\n#endif\n"
                "    = {\n",
                bytes, bytes, id);
  static const char octal[] = "01234567";
  /* Trailing zero bytes need not be spelled out: the rest of the array is zero-filled. */
  int64_t used = bytes;
  while (used > 0 && blob[used - 1] == 0) {
    used--;
  }
  char *line = cn_malloc(BLOB_ROW * 4 + 16);
  for (int64_t start = 0; start < used; start += BLOB_ROW) {
    int64_t end = start + BLOB_ROW < used ? start + BLOB_ROW : used;
    size_t n = 0;
    line[n++] = '"';
    for (int64_t i = start; i < end; i++) {
      unsigned char ch = blob[i];
      if (ch >= 32 && ch < 127 && ch != '"' && ch != '\\' && ch != '?') {
        line[n++] = (char)ch;
      } else {
        /* Shortest octal escape that the next character cannot extend. */
        bool next_digit = i + 1 < end && blob[i + 1] >= '0' && blob[i + 1] <= '7';
        line[n++] = '\\';
        if (next_digit || ch >= 0100) {
          line[n++] = octal[(ch >> 6) & 7];
        }
        if (next_digit || ch >= 010) {
          line[n++] = octal[(ch >> 3) & 7];
        }
        line[n++] = octal[ch & 7];
      }
    }
    line[n++] = '"';
    line[n++] = '\n';
    cn_buf_append(c, line, n);
  }
  free(line);
  cn_buf_puts(c, used == 0 ? "{0}};\n\n" : "};\n\n");
}

static const struct {
  cn_rt_set bit;
  const char *file;
} header_files[] = {
    {CN_RT_ELEMENTWISE, "cnnrt_elementwise.h"}, {CN_RT_TENSOR, "cnnrt_tensor.h"},
    {CN_RT_GEMM, "cnnrt_gemm.h"},               {CN_RT_CONV, "cnnrt_conv.h"},
    {CN_RT_POOL, "cnnrt_pool.h"},               {CN_RT_NORM, "cnnrt_norm.h"},
    {CN_RT_REDUCE, "cnnrt_reduce.h"},           {CN_RT_RESIZE, "cnnrt_resize.h"},
    {CN_RT_CONV_AVX2 | CN_RT_XSMM, "cnnrt_gemm_avx2.h"},     {CN_RT_CONV_AVX2, "cnnrt_conv_packed.h"},
    {CN_RT_CONV_AVX2 | CN_RT_ACT_AVX2 | CN_RT_ACT_GRAD_AVX2 | CN_RT_NORM_GRAD_AVX2 | CN_RT_XSMM |
         CN_RT_CONV_MVEC,
     "cnnrt_act_avx2.h"},
    {CN_RT_CONV_AVX2, "cnnrt_dwconv_avx2.h"},   {CN_RT_GEMV_AVX2, "cnnrt_gemv_avx2.h"},
    {CN_RT_CONV_AVX2, "cnnrt_dwconv_avx512.h"}, {CN_RT_CONV_AVX2, "cnnrt_dwconv_c8_avx2.h"},
    {CN_RT_CONV_AVX2, "cnnrt_conv_direct_avx2.h"},
    {CN_RT_CONV_NEON | CN_RT_ACT_NEON | CN_RT_GEMV_NEON | CN_RT_NORM_GRAD_NEON | CN_RT_NORM_NEON,
     "cnnrt_act_neon.h"},
    {CN_RT_CONV_NEON | CN_RT_CONV_MVEC, "cnnrt_gemm_neon.h"},     {CN_RT_CONV_NEON, "cnnrt_dwconv_neon.h"},
    {CN_RT_GEMV_NEON, "cnnrt_gemv_neon.h"},     {CN_RT_XSMM, "cnnrt_xsmm.h"},
    {CN_RT_CONV_GRAD, "cnnrt_conv_grad.h"},     {CN_RT_POOL_GRAD, "cnnrt_pool_grad.h"},
    {CN_RT_NORM_GRAD, "cnnrt_norm_grad.h"},     {CN_RT_ACT_GRAD, "cnnrt_act_grad.h"},
    {CN_RT_CONV_GRAD_AVX2, "cnnrt_conv_grad_avx2.h"}, {CN_RT_RESIZE_GRAD, "cnnrt_resize_grad.h"},
    {CN_RT_ACT_GRAD_AVX2, "cnnrt_act_grad_avx2.h"}, {CN_RT_POOL_GRAD_AVX2, "cnnrt_pool_grad_avx2.h"},
    {CN_RT_NORM_GRAD_AVX2, "cnnrt_norm_grad_avx2.h"},
    {CN_RT_CONV_GRAD_NEON, "cnnrt_conv_grad_neon.h"}, {CN_RT_ACT_GRAD_NEON, "cnnrt_act_grad_neon.h"},
    {CN_RT_WINOGRAD, "cnnrt_winograd.h"},
    {CN_RT_NORM_GRAD_NEON, "cnnrt_norm_grad_neon.h"}, {CN_RT_POOL_GRAD_NEON, "cnnrt_pool_grad_neon.h"},
    {CN_RT_POOL_AVX2, "cnnrt_pool_avx2.h"},     {CN_RT_POOL_NEON, "cnnrt_pool_neon.h"},
    {CN_RT_NORM_AVX2, "cnnrt_norm_avx2.h"},     {CN_RT_NORM_NEON, "cnnrt_norm_neon.h"},
    {CN_RT_SCATTER_GRAD_SIMD, "cnnrt_scatter_grad_avx2.h"},
    {CN_RT_SCATTER_GRAD_SIMD, "cnnrt_scatter_grad_neon.h"},
    {CN_RT_RESIZE_SIMD, "cnnrt_resize_avx2.h"},
    {CN_RT_RESIZE_SIMD, "cnnrt_resize_neon.h"},
    {CN_RT_CONV_MVEC, "cnnrt_conv_mvec.h"},
    {CN_RT_NCHWC, "cnnrt_nchwc.h"},             {CN_RT_NCHWC, "cnnrt_nchwc_avx2.h"},
};

/* Emits the copies into graph outputs that are not computed in place (an output that is a graph
 * input, a constant, a view of another value, or listed twice). */
static void emit_output_copies(cn_emitter *e) {
  cn_graph *g = e->g;
  for (int i = 0; i < g->n_outputs; i++) {
    int v = g->outputs[i];
    const cn_value *val = &g->values[v];
    bool computed_here =
        val->kind == CN_VALUE_TEMP && val->alias < 0 && index_in(g->outputs, g->n_outputs, v) == i;
    if (computed_here) {
      continue;
    }
    cn_emit_line(e, "  memcpy(outputs[%d], %s, %" PRId64 "); /* output '%s' */", i,
                 cn_emit_in_void(e, v), cn_value_bytes(val), cn_emit_comment(e, val->name));
  }
}

/* The end of NAME_backward: each gradient into grads[i] (zeros where no path leads from the
 * value to an output). */
static void emit_grad_copies(cn_emitter *e) {
  cn_graph *g = e->g;
  for (int i = 0; i < g->n_grads; i++) {
    const cn_value *w = &g->values[g->grad_wrt[i]];
    int v = g->grads[i];
    if (v < 0) {
      cn_emit_line(e, "  memset(grads[%d], 0, %" PRId64 "); /* gradient of '%s': zero */", i,
                   cn_value_bytes(w), cn_emit_comment(e, w->name));
    } else {
      cn_emit_line(e, "  memcpy(grads[%d], %s, %" PRId64 "); /* gradient of '%s' */", i,
                   cn_emit_in_void(e, v), cn_value_bytes(w), cn_emit_comment(e, w->name));
    }
  }
}

static bool write_out(cn_diag *d, const char *path, const cn_buf *b) {
  if (!cn_write_file(path, b->data ? b->data : "", b->len)) {
    cn_error(d, "cannot write '%s'", path);
    return false;
  }
  return true;
}

/* Debug builds of the generated code (-DCNNRT_DEBUG) assert, before anything runs, that every
 * arena buffer of the memory plan (values and kernel scratch) lies inside the NAME_ARENA_BYTES
 * the header promises: the one contract between the plan and the caller's allocation. */
static void emit_arena_checks(cn_buf *c, const cn_graph *g, const char *U) {
  if (g->arena_bytes <= 0) {
    return;
  }
  cn_buf_puts(c, "#ifdef CNNRT_DEBUG\n"
                 "  /* Every arena buffer of the memory plan lies inside the arena. */\n");
  for (int v = 0; v < g->n_values; v++) {
    const cn_value *val = &g->values[v];
    if (val->kind != CN_VALUE_TEMP || val->alias >= 0 || val->is_output || val->offset < 0) {
      continue;
    }
    cn_buf_printf(c, "  CNNRT_ASSERT(cnnrt_arena_fits(%" PRId64 ", %" PRId64 ", %s_ARENA_BYTES));\n",
                  val->offset, cn_value_bytes(val), U);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead || n->scratch_bytes <= 0) {
      continue;
    }
    cn_buf_printf(c, "  CNNRT_ASSERT(cnnrt_arena_fits(%" PRId64 ", %" PRId64 ", %s_ARENA_BYTES));\n",
                  n->scratch_offset, n->scratch_bytes, U);
  }
  cn_buf_puts(c, "#endif\n");
}

extern void cn_gen_driver(cn_buf *out, const cn_graph *g, const char *file_base,
                          const char *ident, const char *weights_file, uint64_t checksum);

bool cn_codegen(cn_graph *g, const cn_options *opt, cn_diag *d) {
  cn_emitter e = {0};
  e.g = g;
  e.opt = opt;
  /* Files are named after OUT/NAME.c; symbols after --name when given. */
  char *file_base = cn_model_ident(opt->out_path);
  char *ident = cn_strdup(opt->name ? opt->name : file_base);
  e.ident = ident;

  for (int v = 0; v < g->n_values; v++) {
    if (g->values[v].kind == CN_VALUE_CONST) {
      g->values[v].offset = -1; /* blob offsets are handed out as constants are used */
    }
  }
  /* Forward nodes go to NAME_run, backward ones (autodiff) to NAME_backward. */
  cn_buf bwd = {0};
  for (int phase = 0; phase < 2; phase++) {
    if (phase == 1) {
      bwd = e.body;
      memset(&e.body, 0, sizeof e.body);
    }
    for (int i = 0; i < g->n_nodes; i++) {
      cn_node *n = &g->nodes[i];
      if (n->dead || (int)n->backward != phase) {
        continue;
      }
      cn_emit_line(&e, "  { /* %s '%s' */", cn_emit_comment(&e, n->op_type),
                   cn_emit_comment(&e, n->name));
      if (cn_node_outputs_empty(g, n)) {
        /* Every output is empty (a live node has a named output: infer drops the others):
         * nothing to compute, and the kernels' scratch and parameter setup assume at least
         * one element. */
        cn_emit_line(&e, "    /* every output has 0 elements */");
        cn_emit_line(&e, "  }");
        continue;
      }
      cn_op_emit(&e, g, n);
      cn_emit_line(&e, "  }");
    }
    if (phase == 0) {
      emit_output_copies(&e);
    } else {
      emit_grad_copies(&e);
    }
  }
  { /* e.body: the forward statements; bwd: the backward ones */
    cn_buf t = e.body;
    e.body = bwd;
    bwd = t;
  }

  /* NAME.c */
  cn_buf c = {0};
  cn_buf_printf(&c, "/* %s.c — generated by cnncc %s from %s. Do not edit. */\n", file_base,
                CNNCC_VERSION, cn_emit_comment(&e, opt->model_path ? opt->model_path : "a model"));
  if (e.headers & CN_RT_XSMM) {
    cn_buf_puts(&c, "/* Generated with --gemm libxsmm: with AVX2 and FMA compiled in (e.g. -march=native),\n"
                    " * convolutions and Gemm call libxsmm 1.17. Build with libxsmm-dev installed and\n"
                    " * link with -lxsmm -lpthread -ldl -lm, e.g.\n"
                    " *   cc -O2 -march=native *.c -o prog -lxsmm -lpthread -ldl -lm */\n");
  }
  cn_buf_printf(&c, "#include \"cnnrt.h\"\n#include \"%s.h\"\n", file_base);
  for (size_t h = 0; h < sizeof header_files / sizeof header_files[0]; h++) {
    if (e.headers & header_files[h].bit) {
      cn_buf_printf(&c, "#include \"%s\"\n", header_files[h].file);
    }
  }
  cn_buf_puts(&c, "\n");
  unsigned char *blob = NULL;
  gen_blob_bytes(g, e.blob_bytes, &blob);
  bool embedded = opt->weights_path == NULL;
  if (embedded && e.blob_bytes > 0) {
    gen_blob_c(&c, ident, blob, e.blob_bytes);
  }
  cn_buf_printf(&c,
                "int %s_run_parallel(void *arena, const void *weights, const void *const *inputs,\n"
                "    void *const *outputs, const struct cnnrt_parallel *par) {\n"
                "  unsigned char *A = (unsigned char *)arena;\n",
                ident);
  if (embedded && e.blob_bytes > 0) {
    cn_buf_printf(&c,
                  "  const unsigned char *W = weights ? (const unsigned char *)weights\n"
                  "                                   : %s_weights.bytes;\n",
                  ident);
  } else {
    cn_buf_puts(&c, "  const unsigned char *W = (const unsigned char *)weights;\n");
  }
  cn_buf_puts(&c, "  (void)A;\n  (void)W;\n  (void)par;\n  (void)inputs;\n  (void)outputs;\n");
  if (g->arena_bytes > 0) {
    cn_buf_puts(&c, "  if (A == NULL) {\n    return -1;\n  }\n");
  }
  if (!embedded && e.blob_bytes > 0) {
    cn_buf_puts(&c, "  if (W == NULL) {\n    return -1;\n  }\n");
  }
  char *ident_upper = upper(ident);
  emit_arena_checks(&c, g, ident_upper);
  free(ident_upper);
  cn_buf_append(&c, e.body.data ? e.body.data : "", e.body.len);
  cn_buf_printf(&c,
                "  return 0;\n}\n\n"
                "int %s_run(void *arena, const void *weights, const void *const *inputs,\n"
                "    void *const *outputs) {\n"
                "  return %s_run_parallel(arena, weights, inputs, outputs, NULL);\n}\n",
                ident, ident);

  if (opt->grad) {
    cn_buf_printf(&c,
                  "\nint %s_backward_parallel(void *arena, const void *weights,\n"
                  "    const void *const *inputs, const void *const *outputs,\n"
                  "    const void *const *grad_outputs, void *const *grads,\n"
                  "    const struct cnnrt_parallel *par) {\n"
                  "  unsigned char *A = (unsigned char *)arena;\n",
                  ident);
    if (embedded && e.blob_bytes > 0) {
      cn_buf_printf(&c,
                    "  const unsigned char *W = weights ? (const unsigned char *)weights\n"
                    "                                   : %s_weights.bytes;\n",
                    ident);
    } else {
      cn_buf_puts(&c, "  const unsigned char *W = (const unsigned char *)weights;\n");
    }
    cn_buf_puts(&c, "  (void)A;\n  (void)W;\n  (void)par;\n  (void)inputs;\n  (void)outputs;\n"
                    "  (void)grad_outputs;\n  (void)grads;\n");
    if (g->arena_bytes > 0) {
      cn_buf_puts(&c, "  if (A == NULL) {\n    return -1;\n  }\n");
    }
    if (!embedded && e.blob_bytes > 0) {
      cn_buf_puts(&c, "  if (W == NULL) {\n    return -1;\n  }\n");
    }
    cn_buf_append(&c, bwd.data ? bwd.data : "", bwd.len);
    cn_buf_printf(&c,
                  "  return 0;\n}\n\n"
                  "int %s_backward(void *arena, const void *weights, const void *const *inputs,\n"
                  "    const void *const *outputs, const void *const *grad_outputs,\n"
                  "    void *const *grads) {\n"
                  "  return %s_backward_parallel(arena, weights, inputs, outputs, grad_outputs,\n"
                  "      grads, NULL);\n}\n",
                  ident, ident);
  }
  cn_buf_free(&bwd);
  gen_infer(&c, g, &e);
  cn_buf h = {0};
  gen_header(&h, g, &e, blob_checksum(blob, e.blob_bytes));

  /* Output directory = dirname(out_path). */
  const char *slash = strrchr(opt->out_path, '/');
  char *dir = slash ? cn_strndup(opt->out_path, (size_t)(slash - opt->out_path)) : cn_strdup(".");
  bool ok = true;
  if (opt->max_arena > 0 && g->arena_bytes > opt->max_arena) {
    cn_error(d, "the memory plan needs %" PRId64 " bytes of arena, more than --max-arena %" PRId64,
             g->arena_bytes, opt->max_arena);
    ok = false;
  }
  cn_buf drv = {0};
  if (ok && opt->emit_main) {
    cn_gen_driver(&drv, g, file_base, ident, opt->weights_path,
                  blob_checksum(blob, e.blob_bytes));
  }
  /* Write everything only now that nothing can fail any more but the file system (the weights
   * first: a weights path that cannot be written then leaves nothing in OUT). */
  if (ok && !embedded) {
    if (!cn_write_file(opt->weights_path, blob, (size_t)e.blob_bytes)) {
      cn_error(d, "cannot write the weights file '%s'", opt->weights_path);
      ok = false;
    }
  }
  if (ok) {
    char *hpath = cn_fmt("%s/%s.h", dir, file_base);
    ok = write_out(d, opt->out_path, &c) && write_out(d, hpath, &h);
    free(hpath);
  }
  cn_rt_set needed = e.headers;
  for (size_t f = 0; ok && f < cn_runtime_file_count; f++) {
    const cn_runtime_file *rf = &cn_runtime_files[f];
    bool want = strcmp(rf->name, "cnnrt.h") == 0;
    for (size_t k = 0; k < sizeof header_files / sizeof header_files[0]; k++) {
      if ((needed & header_files[k].bit) && strcmp(rf->name, header_files[k].file) == 0) {
        want = true;
      }
    }
    if (opt->emit_main && (strcmp(rf->name, "cnnrt_npy.h") == 0 ||
                           strcmp(rf->name, "cnnrt_driver.h") == 0 ||
                           strcmp(rf->name, "cnnrt_threadpool.h") == 0)) {
      want = true;
    }
    if (want) {
      char *p = cn_fmt("%s/%s", dir, rf->name);
      cn_buf content = {0};
      cn_buf_append(&content, (const char *)rf->data, rf->size);
      ok = write_out(d, p, &content);
      cn_buf_free(&content);
      free(p);
    }
  }
  if (ok && opt->emit_main) {
    char *p = cn_fmt("%s/%s_main.c", dir, file_base);
    ok = write_out(d, p, &drv);
    free(p);
  }
  free(blob);
  free(dir);
  cn_buf_free(&drv);
  cn_buf_free(&c);
  cn_buf_free(&h);
  cn_buf_free(&e.body);
  for (int i = 0; i < e.n_strings; i++) {
    free(e.strings[i]);
  }
  free(e.strings);
  free(ident);
  free(file_base);
  return ok;
}
