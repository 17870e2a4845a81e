/* diag.c — printing of user-facing diagnostics. */
#include "diag.h"

#include <stdarg.h>

#include "ir.h"

void cn_diag_init(cn_diag *d, const char *file) {
  d->file = file;
  d->errors = 0;
  d->warnings = 0;
  d->out = stderr;
  d->quiet = false;
}

bool cn_diag_failed(const cn_diag *d) { return d->errors > 0; }

static void vreport(cn_diag *d, const char *kind, const cn_node *n, const char *fmt, va_list ap) {
  if (d->quiet) {
    return;
  }
  FILE *out = d->out ? d->out : stderr;
  fprintf(out, "cnncc: %s: ", kind);
  if (d->file) {
    fprintf(out, "%s: ", d->file);
  }
  if (n) {
    fprintf(out, "node '%s' (%s): ", n->name, n->op_type);
  }
  vfprintf(out, fmt, ap);
  fputc('\n', out);
}

void cn_error(cn_diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, "error", NULL, fmt, ap);
  va_end(ap);
  d->errors++;
}

void cn_warning(cn_diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, "warning", NULL, fmt, ap);
  va_end(ap);
  d->warnings++;
}

void cn_error_node(cn_diag *d, const cn_node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, "error", n, fmt, ap);
  va_end(ap);
  d->errors++;
}

void cn_error_at(cn_diag *d, int line, int col, const char *source_line, const char *fmt, ...) {
  d->errors++;
  if (d->quiet) {
    return;
  }
  FILE *out = d->out ? d->out : stderr;
  va_list ap;
  va_start(ap, fmt);
  fprintf(out, "%s:%d:%d: error: ", d->file ? d->file : "<input>", line, col);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
  if (source_line) {
    int len = 0;
    while (source_line[len] && source_line[len] != '\n') {
      len++;
    }
    fprintf(out, "  %.*s\n  ", len, source_line);
    for (int i = 1; i < col; i++) {
      fputc(source_line[i - 1] == '\t' ? '\t' : ' ', out);
    }
    fputs("^\n", out);
  }
}
