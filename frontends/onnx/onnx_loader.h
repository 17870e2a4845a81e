/* onnx_loader.h — reads an ONNX model (protobuf, decoded with protobuf-c) into the graph IR. */
#ifndef CN_ONNX_LOADER_H
#define CN_ONNX_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "../../compiler/ir.h"

/* Loads the model at `path`. Returns NULL after reporting every problem found through `d`. */
cn_graph *cn_onnx_load(const char *path, cn_diag *d);
/* Loads a model from memory; external data files are looked up in `base_dir` (NULL: refused). */
cn_graph *cn_onnx_load_buffer(const uint8_t *data, size_t len, const char *base_dir, cn_diag *d);

#endif
