/* dce.c — dead-node elimination: keeps only what the graph outputs depend on. */
#include <stdlib.h>

#include "passes.h"

bool cn_pass_dce(cn_graph *g, cn_diag *d) {
  (void)d;
  bool *live = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  for (int i = 0; i < g->n_outputs; i++) {
    live[g->outputs[i]] = true;
  }
  for (int i = 0; i < g->n_grads; i++) { /* outputs of NAME_backward (autodiff.c) */
    if (g->grads[i] >= 0) {
      live[g->grads[i]] = true;
    }
  }
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    bool needed = false;
    for (int o = 0; o < n->n_out; o++) {
      needed |= n->out[o] >= 0 && live[n->out[o]];
    }
    if (!needed) {
      n->dead = true;
      continue;
    }
    for (int k = 0; k < cn_node_n_reads(n); k++) {
      if (cn_node_read(n, k) >= 0) {
        live[cn_node_read(n, k)] = true;
      }
    }
  }
  /* Constants nobody reads any more need not be kept in memory. */
  for (int v = 0; v < g->n_values; v++) {
    cn_value *val = &g->values[v];
    if (!live[v] && val->kind == CN_VALUE_CONST && val->owns_data) {
      free(val->data);
      val->data = NULL;
      val->owns_data = false;
    }
  }
  free(live);
  return true;
}
