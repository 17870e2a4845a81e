/* info.c — model summary for `cnncc --info`, and the MAC count used by it and by benchmarks. */
#include "info.h"

#include "../runtime/cnnrt_conv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int64_t cn_node_macs(const cn_graph *g, const cn_node *n) {
  const cn_value *y = n->n_out > 0 && n->out[0] >= 0 ? &g->values[n->out[0]] : NULL;
  if (!y) {
    return 0;
  }
  switch (n->op) {
  case CN_OP_CONV: {
    /* From the resolved parameters: the weight may already be packed for its kernel. */
    const cnnrt_conv_params *p = n->params;
    int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    return cn_value_numel(y) * (p->c_in / p->group) * kvol;
  }
  case CN_OP_CONV_TRANSPOSE: {
    const cnnrt_conv_params *p = n->params;
    const cn_value *x = &g->values[n->in[0]];
    int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    return cn_value_numel(x) * (p->c_out / p->group) * kvol;
  }
  case CN_OP_GEMM:
  case CN_OP_MATMUL: {
    const cn_value *a = &g->values[n->in[0]];
    int64_t k = a->rank > 0 ? a->dims[a->rank - 1] : 1;
    if (n->op == CN_OP_GEMM && cn_attr_int(n, "transA", 0) && a->rank == 2) {
      k = a->dims[0];
    }
    return cn_value_numel(y) * k;
  }
  default:
    return 0;
  }
}

int cn_print_info(const cn_options *opt, FILE *out) {
  cn_diag d;
  cn_diag_init(&d, opt->model_path);
  cn_graph *g = cn_load_and_optimize(opt, &d);
  if (!g) {
    return 1;
  }
  int64_t params = g->n_params, total_macs = 0;
  int counts[CN_OP_COUNT] = {0};
  fprintf(out, "model: %s\n", opt->model_path);
  fprintf(out, "layers (after folding and fusion):\n");
  fprintf(out, "  %-32s %-20s %-22s %14s\n", "node", "op", "output shape", "MACs");
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    if (n->dead) {
      continue;
    }
    counts[n->op]++;
    int64_t macs = cn_node_macs(g, n);
    total_macs += macs;
    char shape[128] = "";
    if (n->n_out > 0 && n->out[0] >= 0) {
      const cn_value *y = &g->values[n->out[0]];
      cn_shape_str(y->rank, y->dims, shape, sizeof shape);
    }
    fprintf(out, "  %-32.32s %-20s %-22s %14" PRId64 "\n", n->name, cn_op_name(n->op), shape, macs);
  }
  fprintf(out, "operators:");
  for (int op = 0; op < CN_OP_COUNT; op++) {
    if (counts[op]) {
      fprintf(out, " %s×%d", cn_op_name((cn_op)op), counts[op]);
    }
  }
  fprintf(out, "\nparameters: %" PRId64 "\n", params);
  fprintf(out, "MACs: %" PRId64 " (%.3f G)\n", total_macs, (double)total_macs * 1e-9);
  fprintf(out, "arena bytes: %" PRId64 "\n", g->arena_bytes);
  cn_graph_free(g);
  return 0;
}
