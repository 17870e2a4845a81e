/* dsl.h — the .cnn language front end: reads a network written in cnncc's own language into the
 * same graph IR the ONNX loader builds (docs/dsl.md describes the language).
 *
 *   source text → lexer + recursive-descent parser (dsl_parse.c) → syntax tree
 *   → evaluation (dsl_build.c): blocks, repetition and arguments resolved, one IR node per
 *     operator, shapes inferred node by node, parameters created and initialised (dsl_params.c)
 *
 * Every user mistake is reported as `file:line:col: error: message` with the source line and a
 * caret, through the one diagnostic type (compiler/diag.h); evaluation goes on after an error
 * where it can, so that one run shows several. */
#ifndef CN_DSL_H
#define CN_DSL_H

#include <stddef.h>

#include "../../compiler/ir.h"

typedef struct cn_dsl_options {
  /* Parameter sources, searched in order before the seeded initialisation: ONNX models (their
   * initializers, by name) or folders holding NAME.npy files. The `params "..."` statements of
   * the source add to these (after them). */
  int n_param_files;
  const char *const *param_files;
  /* Refuse models whose parameters hold more than this many elements (0: CN_MAX_ELEMENTS).
   * The fuzzer sets it low so that a few bytes of source cannot ask for gigabytes. */
  int64_t max_param_elements;
  /* Refuse to read parameter files named by the source (the fuzzer reads no files). */
  bool no_files;
} cn_dsl_options;

/* Reads the .cnn file at `path`. Returns NULL after reporting every problem found through `d`. */
cn_graph *cn_dsl_load(const char *path, const cn_dsl_options *opt, cn_diag *d);
/* Reads a .cnn source from memory; `filename` is used in messages and as the folder that
 * relative `params` paths are resolved against (NULL: "<input>", the current folder). */
cn_graph *cn_dsl_load_buffer(const char *src, size_t len, const char *filename,
                             const cn_dsl_options *opt, cn_diag *d);

/* The long names of the training options a `train { ... }` section may set (NULL-terminated);
 * they are the training command-line options without their leading "--". */
extern const char *const cn_dsl_train_keys[];

#endif
