/* concat.c — Concat elimination: the producers of a Concat's inputs write straight into the
 * Concat's output, so the copy disappears (SqueezeNet's fire modules, U-Net's skip joins,
 * Inception-style branches).
 *
 * An input becomes a view of its slice of the output (value.alias = the output, value.alias_offset
 * = the slice's byte offset); the memory plan then gives the whole output one buffer that lives
 * from the first input's producer to the output's last reader, and the code generator addresses
 * each input inside it. Taken when every input is a contiguous slice of the output (all
 * dimensions before the axis are 1, e.g. channels of a batch-1 NCHW tensor) and is an ordinary
 * arena value of its own: written by a node, not a graph input, constant, graph output or view,
 * not already placed in another Concat, not listed twice -- and neither the output nor an input
 * has its storage taken over by another node's output (a convolution adding its residual in
 * place, schedule.c): that node decided it was the last reader of those bytes before they
 * became part of a larger buffer. Graphs with backward nodes (--grad, --train) keep the copies. */
#include <stdlib.h>

#include "passes.h"

static bool is_view_op(cn_op op) {
  return op == CN_OP_RESHAPE || op == CN_OP_FLATTEN || op == CN_OP_SQUEEZE ||
         op == CN_OP_UNSQUEEZE || op == CN_OP_IDENTITY || op == CN_OP_DROPOUT;
}

/* taken[v]: value v is the storage root that some node other than a view writes its output
 * into (schedule.c's residual in place). */
static bool *storage_taken_over(const cn_graph *g) {
  bool *taken = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  for (int w = 0; w < g->n_values; w++) {
    const cn_value *x = &g->values[w];
    if (x->alias >= 0 && (x->producer < 0 || !is_view_op(g->nodes[x->producer].op))) {
      taken[cn_storage_root(g, x->alias)] = true;
    }
  }
  return taken;
}

static bool has_backward_nodes(const cn_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    if (!g->nodes[i].dead && g->nodes[i].backward) {
      return true;
    }
  }
  return false;
}

/* Whether input k of Concat n can be written in place into its output. */
static bool input_can_be_slice(const cn_graph *g, const cn_node *n, int k, const bool *taken) {
  const int v = n->in[k];
  if (v < 0) {
    return false;
  }
  const cn_value *x = &g->values[v];
  if (x->kind != CN_VALUE_TEMP || x->is_output || x->alias >= 0 || taken[v] || x->producer < 0 ||
      g->nodes[x->producer].dead || cn_value_bytes(x) <= 0) {
    return false;
  }
  for (int j = 0; j < k; j++) {
    if (n->in[j] == v) {
      return false;
    }
  }
  return true;
}

static bool concat_can_be_in_place(const cn_graph *g, const cn_node *n, int axis,
                                   const bool *taken) {
  if (n->n_out != 1 || n->out[0] < 0) {
    return false;
  }
  const cn_value *y = &g->values[n->out[0]];
  if (y->kind != CN_VALUE_TEMP || y->is_output || y->alias >= 0 || taken[n->out[0]]) {
    return false;
  }
  for (int a = 0; a < axis; a++) {
    if (y->dims[a] != 1) {
      return false;
    }
  }
  for (int k = 0; k < n->n_in; k++) {
    if (!input_can_be_slice(g, n, k, taken)) {
      return false;
    }
  }
  return true;
}

bool cn_pass_concat_in_place(cn_graph *g, cn_diag *d) {
  (void)d;
  if (has_backward_nodes(g)) {
    return true;
  }
  /* Before any Concat is placed: the slices made below are not "taken over". */
  bool *taken = storage_taken_over(g);
  /* In node order, so a Concat feeding another Concat is placed first and then moved with its
   * inputs (offsets add up along the alias chain). */
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (n->dead || n->op != CN_OP_CONCAT) {
      continue;
    }
    const cn_value *y = cn_out(g, n, 0);
    int axis = (int)cn_attr_int(n, "axis", 0);
    if (y == NULL || y->rank < 1) {
      continue;
    }
    axis = axis < 0 ? axis + y->rank : axis;
    CN_ASSERT(axis >= 0 && axis < y->rank);
    if (!concat_can_be_in_place(g, n, axis, taken)) {
      continue;
    }
    int64_t offset = 0;
    for (int k = 0; k < n->n_in; k++) {
      cn_value *x = &g->values[n->in[k]];
      x->alias = n->out[0];
      x->alias_offset = offset;
      offset += cn_value_bytes(x);
    }
    CN_ASSERT(offset == cn_value_bytes(y));
    n->kernel = "in place (its inputs are written into it)";
  }
  free(taken);
  return true;
}
