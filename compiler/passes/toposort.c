/* toposort.c — orders nodes producers-first (Kahn's algorithm) and reports cycles. ONNX requires
 * nodes in topological order, but files in the wild (and fuzzers) do not always comply. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

bool cn_pass_toposort(cn_graph *g, cn_diag *d) {
  int n = g->n_nodes;
  int *pending = cn_calloc((size_t)n + 1, sizeof(int)); /* unresolved producer inputs per node */
  int *order = cn_malloc(sizeof(int) * ((size_t)n + 1));
  int *queue = cn_malloc(sizeof(int) * ((size_t)n + 1));
  int head = 0, tail = 0, count = 0;

  /* consumers lists in CSR form */
  int *n_cons = cn_calloc((size_t)g->n_values + 1, sizeof(int));
  for (int i = 0; i < n; i++) {
    const cn_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in; k++) {
      int v = nd->in[k];
      if (v >= 0 && g->values[v].producer >= 0) {
        pending[i]++;
        n_cons[v]++;
      }
    }
  }
  int *start = cn_calloc((size_t)g->n_values + 2, sizeof(int));
  for (int v = 0; v < g->n_values; v++) {
    start[v + 1] = start[v] + n_cons[v];
  }
  int *cons = cn_malloc(sizeof(int) * ((size_t)start[g->n_values] + 1));
  int *fill = cn_calloc((size_t)g->n_values + 1, sizeof(int));
  for (int i = 0; i < n; i++) {
    const cn_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in; k++) {
      int v = nd->in[k];
      if (v >= 0 && g->values[v].producer >= 0) {
        cons[start[v] + fill[v]++] = i;
      }
    }
  }
  for (int i = 0; i < n; i++) {
    if (pending[i] == 0) {
      queue[tail++] = i;
    }
  }
  while (head < tail) {
    int i = queue[head++];
    order[count++] = i;
    const cn_node *nd = &g->nodes[i];
    for (int o = 0; o < nd->n_out; o++) {
      int v = nd->out[o];
      if (v < 0) {
        continue;
      }
      for (int c = start[v]; c < start[v + 1]; c++) {
        if (--pending[cons[c]] == 0) {
          queue[tail++] = cons[c];
        }
      }
    }
  }
  bool ok = count == n;
  if (!ok) {
    for (int i = 0; i < n; i++) {
      if (pending[i] > 0) {
        cn_error_node(d, &g->nodes[i], "is part of a cycle in the graph (its inputs depend on its "
                                       "own outputs)");
        break;
      }
    }
  } else if (n > 0) { /* (a graph without nodes has no node array) */
    cn_node *sorted = cn_malloc(sizeof(cn_node) * ((size_t)n + 1));
    for (int i = 0; i < n; i++) {
      sorted[i] = g->nodes[order[i]];
    }
    memcpy(g->nodes, sorted, sizeof(cn_node) * (size_t)n);
    free(sorted);
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < g->nodes[i].n_out; o++) {
        if (g->nodes[i].out[o] >= 0) {
          g->values[g->nodes[i].out[o]].producer = i;
        }
      }
    }
  }
  free(pending);
  free(order);
  free(queue);
  free(n_cons);
  free(start);
  free(cons);
  free(fill);
  return ok;
}
