/* checkpoint.c — recomputation (--checkpoint): trades compute for activation memory.
 *
 * After the autodiff pass, backward nodes read forward values (a convolution's input for its
 * filter gradient, a BatchNormalization's input, an activation's output, ...). Without this
 * pass every such value stays alive from the forward node that makes it to the last backward
 * node that reads it, so the arena holds all of them at once at the turn from forward to
 * backward. With it, only a set of "kept" forward values (the checkpoints) stay alive; every
 * other forward value a backward node reads is recomputed: the forward nodes that produce it
 * are duplicated, reading kept values (or recomputed ones, recursively), and the copies are
 * placed right before the first backward node that needs them. The copies are ordinary
 * nodes marked `backward` (they run in NAME_backward under --grad), so fusion, scheduling and
 * the memory plan treat them like any other node and the arena is still planned statically.
 *
 * Which values are kept:
 *   auto (default)  the forward nodes are cut into about sqrt(N) segments of sqrt(N) nodes;
 *                   the values that cross a cut (made before it, read by a forward node after
 *                   it) are kept. A segment is then recomputed from its entry values alone.
 *   every:K         the same with segments of K forward nodes.
 *   NAME,NAME,...   exactly the named values (plus graph inputs, outputs and constants).
 * The recomputed nodes read the same inputs as the originals, so they produce the same bits:
 * Dropout in a train step is a multiplication by a mask that is a graph input (filled once per
 * step), and BatchNormalization in training mode recomputes the same batch statistics; only
 * the original node's running-statistics outputs are graph outputs, so the statistics are
 * updated once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "autodiff.h"
#include "passes.h"

typedef struct ck {
  cn_graph *g;
  cn_diag *d;
  int n_fwd_values; /* values that existed before the pass */
  bool *keep;       /* per forward value: a checkpoint (never recomputed) */
  int *clone;       /* per forward value: its recomputed copy, -1 for none yet */
  int *pending;     /* clone nodes made for the backward node being visited, in order */
  int n_pending, cap_pending;
  int64_t n_cloned;
  bool ok;
} ck;

/* Whether value v is recomputed when a backward node reads it: a run-time forward value that
 * is not a checkpoint, a graph input, a graph output or a constant. */
static bool recomputable(const ck *c, int v) {
  if (v < 0 || v >= c->n_fwd_values || c->keep[v]) {
    return false;
  }
  const cn_value *val = &c->g->values[v];
  if (val->kind != CN_VALUE_TEMP || val->is_output || val->producer < 0) {
    return false;
  }
  const cn_node *p = &c->g->nodes[val->producer];
  return !p->dead && !p->backward;
}

static void copy_attrs(cn_node *dst, const cn_node *src) {
  dst->n_attrs = src->n_attrs;
  dst->attrs = cn_calloc((size_t)(src->n_attrs > 0 ? src->n_attrs : 1), sizeof(cn_attr));
  for (int i = 0; i < src->n_attrs; i++) {
    const cn_attr *s = &src->attrs[i];
    cn_attr *a = &dst->attrs[i];
    *a = *s;
    a->name = cn_strdup(s->name);
    a->s = s->s ? cn_strdup(s->s) : NULL;
    a->ints = NULL;
    a->floats = NULL;
    a->t = NULL;
    if (s->ints) {
      a->ints = cn_malloc(sizeof(int64_t) * (size_t)(s->n > 0 ? s->n : 1));
      memcpy(a->ints, s->ints, sizeof(int64_t) * (size_t)s->n);
    }
    if (s->floats) {
      a->floats = cn_malloc(sizeof(float) * (size_t)(s->n > 0 ? s->n : 1));
      memcpy(a->floats, s->floats, sizeof(float) * (size_t)s->n);
    }
    CN_ASSERT(s->t == NULL); /* (Constant nodes are folded before autodiff) */
  }
}

/* The value a backward node reads in place of forward value v: v itself when it is kept,
 * else its recomputed copy (made on first use, with the copies of what it needs). */
static int recompute(ck *c, int v) {
  if (!c->ok || !recomputable(c, v)) {
    return v;
  }
  if (c->clone[v] >= 0) {
    return c->clone[v];
  }
  /* (a copy of the header: adding nodes below may move g->nodes; its arrays stay put) */
  const cn_node src = c->g->nodes[c->g->values[v].producer];
  int in[64], out[16];
  CN_ASSERT(src.n_in <= 64 && src.n_out <= 16);
  for (int k = 0; k < src.n_in; k++) {
    in[k] = src.in[k] >= 0 ? recompute(c, src.in[k]) : -1;
  }
  for (int o = 0; o < src.n_out; o++) {
    out[o] = -1;
    if (src.out[o] >= 0) {
      char *name = cn_fmt("%s_rc", c->g->values[src.out[o]].name);
      char *unique = cn_unique_name(c->g, name);
      out[o] = cn_value_add(c->g, unique);
      free(name);
      free(unique);
    }
  }
  char *name = cn_fmt("%s/recompute", src.name && *src.name ? src.name : "node");
  int id = cn_node_add(c->g, src.op, name, src.op_type, in, src.n_in, out, src.n_out);
  free(name);
  cn_node *n = &c->g->nodes[id];
  n->opset = src.opset;
  n->backward = true;
  copy_attrs(n, &src);
  for (int o = 0; o < src.n_out; o++) {
    if (out[o] >= 0) {
      c->g->values[out[o]].producer = id;
      c->clone[src.out[o]] = out[o];
    }
  }
  if (!cn_op_infer(c->g, &c->g->nodes[id], c->d)) {
    c->ok = false;
    return v;
  }
  for (int o = 0; o < src.n_out; o++) { /* the copy must be the same tensor */
    CN_ASSERT(out[o] < 0 || cn_value_shape_eq(&c->g->values[out[o]], &c->g->values[src.out[o]]));
  }
  CN_PUSH(c->pending, c->n_pending, c->cap_pending, id);
  c->n_cloned++;
  return c->clone[v];
}

/* Marks the checkpoints of segments of k forward nodes: the values made in one segment and
 * read by a forward node of a later one. */
static void keep_segment_entries(ck *c, const int *fwd, int nf, int k) {
  cn_graph *g = c->g;
  int *pos = cn_malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
  int *last_read = cn_malloc(sizeof(int) * ((size_t)c->n_fwd_values + 1));
  for (int i = 0; i < g->n_nodes; i++) {
    pos[i] = -1;
  }
  for (int j = 0; j < nf; j++) {
    pos[fwd[j]] = j;
  }
  for (int v = 0; v < c->n_fwd_values; v++) {
    last_read[v] = -1;
  }
  for (int j = 0; j < nf; j++) {
    const cn_node *n = &g->nodes[fwd[j]];
    for (int i = 0; i < n->n_in; i++) {
      if (n->in[i] >= 0) {
        last_read[n->in[i]] = j;
      }
    }
  }
  for (int v = 0; v < c->n_fwd_values; v++) {
    const cn_value *val = &g->values[v];
    if (val->producer < 0 || pos[val->producer] < 0) {
      continue;
    }
    int made = pos[val->producer];
    int cut = (made / k + 1) * k - 1; /* the last node of the value's segment */
    c->keep[v] = last_read[v] > cut;
  }
  free(pos);
  free(last_read);
}

static bool parse_spec(ck *c, const char *spec, const int *fwd, int nf) {
  if (!spec || !*spec || strcmp(spec, "auto") == 0) {
    int k = (int)ceil(sqrt((double)nf));
    keep_segment_entries(c, fwd, nf, k > 0 ? k : 1);
    return true;
  }
  if (strncmp(spec, "every:", 6) == 0) {
    char *end;
    long k = strtol(spec + 6, &end, 10);
    if (*end || end == spec + 6 || k < 1 || k > 1000000) {
      cn_error(c->d, "--checkpoint=every:K takes a positive node count, not '%s'", spec + 6);
      return false;
    }
    keep_segment_entries(c, fwd, nf, (int)k);
    return true;
  }
  /* A list of value names. */
  const char *p = spec;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char *name = cn_malloc(len + 1);
    memcpy(name, p, len);
    name[len] = '\0';
    int v = cn_value_find(c->g, name);
    if (v < 0 || v >= c->n_fwd_values || c->g->values[v].producer < 0 ||
        c->g->nodes[c->g->values[v].producer].backward) {
      cn_error(c->d,
               "--checkpoint: '%s' is not a value computed by the model's forward pass "
               "(give value names as in --dump=infer, or auto, or every:K)",
               name);
      free(name);
      return false;
    }
    c->keep[v] = true;
    free(name);
    p = comma ? comma + 1 : p + len;
  }
  return true;
}

bool cn_pass_checkpoint(cn_graph *g, const char *spec, cn_diag *d) {
  ck c = {0};
  c.g = g;
  c.d = d;
  c.ok = true;
  c.n_fwd_values = g->n_values;
  c.keep = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  c.clone = cn_malloc(sizeof(int) * ((size_t)g->n_values + 1));
  for (int v = 0; v < g->n_values; v++) {
    c.clone[v] = -1;
  }
  const int n_old = g->n_nodes;
  int *fwd = cn_malloc(sizeof(int) * ((size_t)n_old + 1));
  int nf = 0;
  for (int i = 0; i < n_old; i++) {
    if (!g->nodes[i].dead && !g->nodes[i].backward) {
      fwd[nf++] = i;
    }
  }
  bool ok = parse_spec(&c, spec, fwd, nf);
  free(fwd);

  /* New order: forward nodes as they were, then each backward node preceded by the copies
   * made for it (its first need of them). Forward nodes never read backward ones, so all
   * forward nodes can come first. */
  int *order = NULL;
  int n_order = 0, cap_order = 0;
  for (int i = 0; ok && i < n_old; i++) {
    if (g->nodes[i].dead || !g->nodes[i].backward) {
      CN_PUSH(order, n_order, cap_order, i);
    }
  }
  for (int i = 0; ok && i < n_old; i++) {
    if (g->nodes[i].dead || !g->nodes[i].backward) {
      continue;
    }
    c.n_pending = 0;
    int n_in = g->nodes[i].n_in;
    for (int k = 0; k < n_in && c.ok; k++) {
      int v = g->nodes[i].in[k];
      int r = recompute(&c, v);
      g->nodes[i].in[k] = r;
    }
    ok = c.ok;
    for (int j = 0; j < c.n_pending; j++) {
      CN_PUSH(order, n_order, cap_order, c.pending[j]);
    }
    CN_PUSH(order, n_order, cap_order, i);
  }
  if (ok) {
    CN_ASSERT(n_order == g->n_nodes);
    int *new_index = cn_malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
    cn_node *nodes = cn_malloc(sizeof(cn_node) * ((size_t)g->cap_nodes + 1));
    for (int j = 0; j < n_order; j++) {
      nodes[j] = g->nodes[order[j]];
      new_index[order[j]] = j;
    }
    free(g->nodes);
    g->nodes = nodes;
    for (int v = 0; v < g->n_values; v++) {
      if (g->values[v].producer >= 0) {
        g->values[v].producer = new_index[g->values[v].producer];
      }
    }
    free(new_index);
  }
  free(order);
  free(c.pending);
  free(c.keep);
  free(c.clone);
  return ok;
}
