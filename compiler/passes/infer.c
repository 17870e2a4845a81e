/* infer.c — static shape inference and constant folding, one walk in topological order.
 * A node whose inputs are all compile-time constants is evaluated with the runtime's own
 * kernels (cn_op_eval) and disappears; this is what turns exporter shape chains
 * (Shape → Gather → Unsqueeze → Concat → Reshape) into constants. */
#include "passes.h"

#include "../ops.h"

/* Folding materializes each folded value in memory (and, when it is used, in the generated code),
 * so what it may create is bounded by the data the model carries itself: twice the bytes of its
 * constants (initializers, bound inputs, Constant nodes: room for casts to wider types and layout
 * changes) plus FOLD_SLACK for the tensors exporters build from shapes (ConstantOfShape, Expand
 * of a scalar). Past that a node is left to run time, and an op that exists only at compile time
 * is reported: a few hundred bytes of ONNX must not make the compiler allocate gigabytes. */
#define FOLD_SLACK (INT64_C(64) << 20)

static int64_t outputs_bytes(const cn_graph *g, const cn_node *n) {
  int64_t total = 0;
  for (int o = 0; o < n->n_out; o++) {
    if (n->out[o] >= 0) {
      total += cn_value_bytes(&g->values[n->out[o]]);
    }
  }
  return total;
}

/* Whether value v is a graph output or some node's input. (Only asked of the rare output an
 * operator leaves undefined: an unread one is harmless and removed by DCE.) */
static bool value_is_read(const cn_graph *g, int v) {
  if (g->values[v].is_output) {
    return true;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in; k++) {
      if (n->in[k] == v) {
        return true;
      }
    }
  }
  return false;
}

static bool all_inputs_const(const cn_graph *g, const cn_node *n) {
  for (int i = 0; i < n->n_in; i++) {
    if (n->in[i] >= 0 && g->values[n->in[i]].kind != CN_VALUE_CONST) {
      return false;
    }
    if (n->in[i] >= 0 && g->keep_params && g->values[n->in[i]].initializer &&
        g->values[n->in[i]].dtype == CNNRT_F32) {
      return false; /* a parameter being differentiated (cn_graph.keep_params) */
    }
  }
  return true;
}

bool cn_pass_infer(cn_graph *g, cn_diag *d) {
  for (int i = 0; i < g->n_inputs; i++) {
    const cn_value *v = &g->values[g->inputs[i]];
    if (v->rank < 0) {
      cn_error(d, "graph input '%s' has no shape; give one with --shape %s=DIMS", v->name,
               v->name);
      return false;
    }
    for (int k = 0; k < v->rank; k++) {
      if (v->dims[k] < 0) {
        cn_error(d, "graph input '%s' has a symbolic dimension '%s' (axis %d); fix it with "
                    "--shape %s=DIMS",
                 v->name, v->dim_param[k] ? v->dim_param[k] : "?", k, v->name);
        return false;
      }
    }
    int64_t numel;
    if (!cn_numel_checked(v->rank, v->dims, CN_MAX_ELEMENTS, &numel)) {
      cn_error(d, "graph input '%s' is too large (more than 2^34 elements)", v->name);
      return false;
    }
  }
  int64_t fold_budget = FOLD_SLACK;
  for (int v = 0; v < g->n_values; v++) {
    if (g->values[v].kind == CN_VALUE_CONST) {
      fold_budget += 2 * cn_value_bytes(&g->values[v]);
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    bool known = true;
    for (int k = 0; k < n->n_in; k++) {
      if (n->in[k] >= 0 && g->values[n->in[k]].rank < 0) {
        known = false; /* its producer failed; that error has been reported */
      }
    }
    if (!known) {
      continue;
    }
    int first_named = 0;
    while (first_named < n->n_out && n->out[first_named] < 0) {
      first_named++;
    }
    if (first_named == n->n_out) {
      n->dead = true; /* no output has a name: nothing can read what it computes */
      continue;
    }
    if (first_named > 0) {
      /* Every operator cnncc supports has a required first output; only later ones are
       * optional (e.g. Dropout's mask). An empty first name with a later output named is
       * malformed, and the kernels assume output #1 exists. */
      cn_error_node(d, n, "output #1 has no name, but the operator requires it");
      continue;
    }
    if (!cn_op_infer(g, n, d)) {
      continue; /* keep going: report every bad node at once */
    }
    bool outputs_known = true;
    for (int o = 0; o < n->n_out; o++) {
      if (n->out[o] >= 0 && g->values[n->out[o]].rank < 0 && value_is_read(g, n->out[o])) {
        cn_error_node(d, n, "lists %d outputs, but the operator defines no output #%d (which is read)", n->n_out,
                      o + 1);
        outputs_known = false;
        break;
      }
    }
    if (!outputs_known) {
      continue;
    }
    bool foldable = all_inputs_const(g, n) || n->op == CN_OP_SHAPE || n->op == CN_OP_SIZE;
    int64_t bytes = foldable ? outputs_bytes(g, n) : 0;
    if (n->op == CN_OP_CONSTANT) {
      fold_budget += 2 * bytes; /* the model's own data, as an initializer's */
      bytes = 0;
    } else if (n->op == CN_OP_SHAPE || n->op == CN_OP_SIZE) {
      bytes = 0; /* a few integers */
    }
    if (foldable && bytes > fold_budget) {
      if (n->op == CN_OP_CONSTANT_OF_SHAPE) { /* compile time only: there is no kernel for it */
        cn_error_node(d, n,
                      "the output would take %lld bytes, more than cnncc computes at compile "
                      "time for this model (%lld bytes left)",
                      (long long)bytes, (long long)fold_budget);
      }
      continue; /* left to run time */
    }
    bool folded = false;
    if (foldable && cn_node_outputs_empty(g, n)) {
      /* folding computes nothing; the kernel could still walk 2^34 rows of nothing */
      cn_fold_outputs(g, n);
      folded = true;
    } else if (foldable) {
      folded = cn_op_eval(g, n);
    }
    if (folded) {
      fold_budget -= bytes;
      n->dead = true;
      for (int o = 0; o < n->n_out; o++) {
        if (n->out[o] >= 0) {
          g->values[n->out[o]].producer = -1;
          g->values[n->out[o]].kind = CN_VALUE_CONST;
        }
      }
    }
  }
  return !cn_diag_failed(d);
}
