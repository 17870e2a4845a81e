/* onnx_writer.h — writes the graph IR back out as an ONNX model (cnncc --emit-onnx). */
#ifndef CN_ONNX_WRITER_H
#define CN_ONNX_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "../../compiler/ir.h"

/* Serialises `g` as an ONNX model (IR version 8, the graph's default opset or 13) and writes it
 * to `path`: runtime inputs and outputs with their types and shapes, the constants that live
 * nodes read as initializers (raw_data, little-endian), every live node as its ONNX op with its
 * attributes, and the shapes inference found as value_info. The graph must still be
 * ONNX-shaped: internal ops and fused epilogues are refused (see onnx_writer.c). Returns false
 * after reporting through `d`; nothing is written then. */
bool cn_onnx_write(const cn_graph *g, const char *path, cn_diag *d);

/* The same into memory: returns a malloc'd buffer of *len bytes, or NULL after errors. */
uint8_t *cn_onnx_write_buffer(const cn_graph *g, size_t *len, cn_diag *d);

#endif
