/* fuzz_dsl_parse.c — libFuzzer target: the .cnn front end (frontends/dsl) on arbitrary text.
 *
 * cn_dsl_load_buffer lexes, parses and evaluates the source into the graph IR: blocks, repeat
 * loops, arithmetic, operator arguments, parameter creation and each node's shape inference.
 * Whatever the input, it must either return a graph or report errors and return NULL: no crash,
 * no leak, no undefined behaviour, no hang. Parameter files are refused (no_files) and the
 * parameters' total size is capped, so that a few bytes cannot ask for gigabytes. */
#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "frontends/dsl/dsl.h"

enum { MAX_INPUT_BYTES = 1 << 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT_BYTES) {
    return -1; /* not added to the corpus */
  }
  cn_diag d;
  cn_diag_init(&d, "fuzz.cnn");
  d.quiet = true;
  cn_dsl_options opt = {0};
  opt.no_files = true;
  opt.max_param_elements = INT64_C(1) << 22;
  cn_graph *g = cn_dsl_load_buffer((const char *)data, size, "fuzz.cnn", &opt, &d);
  if (g) {
    for (int i = 0; i < g->n_nodes; i++) {
      const cn_node *n = &g->nodes[i];
      for (int k = 0; k < n->n_in; k++) {
        CN_ASSERT(n->in[k] >= -1 && n->in[k] < g->n_values);
      }
      for (int k = 0; k < n->n_out; k++) {
        CN_ASSERT(n->out[k] >= 0 && n->out[k] < g->n_values);
      }
    }
    CN_ASSERT(g->n_outputs > 0);
    cn_graph_free(g);
  } else {
    CN_ASSERT(cn_diag_failed(&d));
  }
  return 0;
}
