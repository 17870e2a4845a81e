/* diag.h — the one diagnostic type for user-facing problems (bad model, unsupported op, bad
 * DSL, bad options). Messages are printed like a compiler's, as they are found:
 *   cnncc: error: model.onnx: node 'Conv_12' (Conv): kernel_shape [3,3] does not match ...
 *   net.cnn:4:13: error: unknown argument 'strde'
 * Callers check cn_diag_failed() and stop before writing any output. Internal invariants use
 * CN_ASSERT (util.h) instead. */
#ifndef CN_DIAG_H
#define CN_DIAG_H

#include <stdbool.h>
#include <stdio.h>

struct cn_node;

typedef struct cn_diag {
  const char *file; /* the model or source file being processed, for messages */
  int errors;
  int warnings;
  FILE *out;     /* where messages go (stderr by default) */
  bool quiet;    /* suppress output (fuzzing) */
} cn_diag;

void cn_diag_init(cn_diag *d, const char *file);
bool cn_diag_failed(const cn_diag *d);

void cn_error(cn_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cn_warning(cn_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error about one node: names the node and its operator. */
void cn_error_node(cn_diag *d, const struct cn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error at a source position (DSL): prints the line and a caret under the column. */
void cn_error_at(cn_diag *d, int line, int col, const char *source_line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
