/* memplan.c — the static memory plan. Every run-time value that is not a graph input or output
 * gets an offset in one arena; values whose lifetimes do not overlap share bytes. Views
 * (Reshape & co.) share their source's storage and extend its lifetime. Kernel scratch is a
 * buffer that lives for one node. Placement is greedy best-fit, largest buffers first, which
 * is close to optimal for the chain-like graphs of CNNs and deterministic. */
#include <stdlib.h>

#include "passes.h"

#define ARENA_ALIGN 64

typedef struct buffer {
  int64_t size, offset;
  int first, last; /* node positions during which the bytes must be kept */
  int value;       /* value index, or -1 for a node's scratch */
  int node;        /* node whose scratch this is */
} buffer;

static int by_size_desc(const void *a, const void *b) {
  const buffer *x = a, *y = b;
  if (x->size != y->size) {
    return x->size > y->size ? -1 : 1;
  }
  return x->first - y->first; /* deterministic */
}

static int64_t align_up(int64_t x) { return (x + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

bool cn_pass_memplan(cn_graph *g, cn_diag *d) {
  (void)d;
  int nv = g->n_values;
  int *first = cn_malloc(sizeof(int) * ((size_t)nv + 1));
  int *last = cn_malloc(sizeof(int) * ((size_t)nv + 1));
  for (int v = 0; v < nv; v++) {
    first[v] = -1;
    last[v] = -1;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    for (int o = 0; o < n->n_out; o++) {
      if (n->out[o] >= 0) {
        int r = cn_storage_root(g, n->out[o]);
        if (first[r] < 0) {
          first[r] = i;
        }
        last[r] = last[r] > i ? last[r] : i;
      }
    }
    for (int k = 0; k < cn_node_n_reads(n); k++) {
      int v = cn_node_read(n, k);
      if (v >= 0) {
        int r = cn_storage_root(g, v);
        last[r] = last[r] > i ? last[r] : i;
      }
    }
  }

  /* Graph outputs that are views of a temporary are copied out at the end of the run function:
   * their storage must live until then. */
  for (int i = 0; i < g->n_outputs; i++) {
    int r = cn_storage_root(g, g->outputs[i]);
    if (first[r] >= 0) {
      last[r] = g->n_nodes;
    }
  }

  /* Gradients (autodiff) are copied out at the end of the backward function. */
  for (int i = 0; i < g->n_grads; i++) {
    if (g->grads[i] >= 0) {
      int r = cn_storage_root(g, g->grads[i]);
      last[r] = g->n_nodes;
    }
  }

  buffer *bufs = cn_malloc(sizeof(buffer) * ((size_t)nv + (size_t)g->n_nodes + 1));
  int nb = 0;
  for (int v = 0; v < nv; v++) {
    cn_value *val = &g->values[v];
    if (val->kind != CN_VALUE_TEMP || val->alias >= 0 || val->is_output || first[v] < 0) {
      continue;
    }
    bufs[nb++] = (buffer){align_up(cn_value_bytes(val)), -1, first[v], last[v], v, -1};
  }
  for (int i = 0; i < g->n_nodes; i++) {
    if (!g->nodes[i].dead && g->nodes[i].scratch_bytes > 0) {
      bufs[nb++] = (buffer){align_up(g->nodes[i].scratch_bytes), -1, i, i, -1, i};
    }
  }
  qsort(bufs, (size_t)nb, sizeof *bufs, by_size_desc);

  int64_t arena = 0;
  for (int b = 0; b < nb; b++) {
    /* Lowest offset that overlaps no placed buffer alive at the same time. */
    int64_t offset = 0;
    bool moved = true;
    while (moved) {
      moved = false;
      for (int p = 0; p < b; p++) {
        const buffer *q = &bufs[p];
        bool alive_together = q->first <= bufs[b].last && bufs[b].first <= q->last;
        bool overlap = offset < q->offset + q->size && q->offset < offset + bufs[b].size;
        if (alive_together && overlap) {
          offset = q->offset + q->size;
          moved = true;
        }
      }
    }
    bufs[b].offset = offset;
    if (offset + bufs[b].size > arena) {
      arena = offset + bufs[b].size;
    }
    if (bufs[b].value >= 0) {
      g->values[bufs[b].value].offset = offset;
    } else {
      g->nodes[bufs[b].node].scratch_offset = offset;
    }
  }
  g->arena_bytes = arena;
  free(bufs);
  free(first);
  free(last);
  return true;
}
