/* fuzz_onnx_load.c — libFuzzer target: the ONNX front end on arbitrary bytes.
 *
 * cn_onnx_load_buffer decodes the protobuf (protobuf-c) and builds the graph IR, checking every
 * size, name and type a hostile file can get wrong. Whatever the input, it must either return a
 * graph or report errors and return NULL: no crash, no leak, no undefined behaviour. External
 * data is refused (base_dir NULL), so no file is ever opened. */
#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "frontends/onnx/onnx_loader.h"
#include "onnx_mutator.h"

enum { MAX_INPUT_BYTES = 1 << 20 };

/* Structure-aware mutations (onnx_mutator.h), mixed with libFuzzer's byte-level ones. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  return onnx_mutate(data, size, max_size, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT_BYTES) {
    return -1; /* not added to the corpus */
  }
  cn_diag d;
  cn_diag_init(&d, "fuzz.onnx");
  d.quiet = true;
  cn_graph *g = cn_onnx_load_buffer(data, size, NULL, &d);
  if (g) {
    /* A graph without errors: walk it the way the passes will (names, producers, inputs). */
    for (int i = 0; i < g->n_nodes; i++) {
      const cn_node *n = &g->nodes[i];
      for (int k = 0; k < n->n_in; k++) {
        CN_ASSERT(n->in[k] >= -1 && n->in[k] < g->n_values);
      }
      for (int k = 0; k < n->n_out; k++) {
        CN_ASSERT(n->out[k] >= -1 && n->out[k] < g->n_values);
      }
    }
    cn_graph_free(g);
  } else {
    CN_ASSERT(cn_diag_failed(&d));
  }
  return 0;
}
