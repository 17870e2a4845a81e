/* memplan.c — the static memory plan. Every run-time value that is not a graph input or output
 * gets an offset in one arena; values whose lifetimes do not overlap share bytes. Views
 * (Reshape & co.) share their source's storage and extend its lifetime. Kernel scratch is a
 * buffer that lives for one node. Placement is greedy best-fit, largest buffers first, which
 * is close to optimal for the chain-like graphs of CNNs and deterministic.
 *
 * Scratch split into regions for several tasks (cn_node.task_scratch_bytes) goes after all of
 * that instead, in one block shared by those nodes, with every node's task t at the same offset
 * (block + t * the largest region). A task's thread then finds the lines of its scratch in its
 * own cache, owned, layer after layer. Placed among the tensors, a layer's task regions fell on
 * lines the other core had last written (a tensor it computed, the other task's region of a
 * layer with another region size). Two threads, old and new builds alternating in one process
 * (bench/pair_variants.c, both orders): SqueezeNet 1.1 0.89-0.90x the time, EfficientNet-B0
 * 0.98x, ResNet-50 0.95-0.96x in one phase of the host and 0.99-1.0x in another, ResNet-18 and
 * MobileNet-V2 within 1%. It costs arena: ResNet-50's grows from 7.1 to 9.96 MB (two regions of
 * its largest, a 28 x 28 Winograd layer's 1.5 MB). One-thread builds have no such nodes: their
 * plan is unchanged. */
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

/* Scratch that is just its task regions, for more than one task. */
static bool is_task_scratch(const cn_node *n) {
  return n->task_scratch_bytes > 0 && n->scratch_bytes > n->task_scratch_bytes &&
         n->scratch_bytes % n->task_scratch_bytes == 0;
}

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
  /* Task scratch block: its region size and task count. */
  int64_t region = 0, tasks = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (!n->dead && n->scratch_bytes > 0) {
      if (is_task_scratch(n)) { /* every such node has max_threads regions */
        region = n->task_scratch_bytes > region ? n->task_scratch_bytes : region;
        tasks = n->scratch_bytes / n->task_scratch_bytes;
      } else {
        bufs[nb++] = (buffer){align_up(n->scratch_bytes), -1, i, i, -1, i};
      }
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
  if (region > 0) {
    region = align_up(region);
    const int64_t block = align_up(arena);
    for (int i = 0; i < g->n_nodes; i++) {
      cn_node *n = &g->nodes[i];
      if (!n->dead && n->scratch_bytes > 0 && is_task_scratch(n)) {
        /* tasks * region, so that the generated code's region stride (scratch_bytes / tasks) is
         * the block's */
        CN_ASSERT(n->scratch_bytes / n->task_scratch_bytes == tasks);
        n->scratch_bytes = tasks * region;
        n->task_scratch_bytes = region;
        n->scratch_offset = block;
      }
    }
    arena = block + tasks * region;
  }
  g->arena_bytes = arena;
  free(bufs);
  free(first);
  free(last);
  return true;
}
