/* dsl_internal.h — what the .cnn front end's files share: tokens, the syntax tree, the source
 * (for positions in messages) and the parameter helpers. Not part of the compiler's interface. */
#ifndef CN_DSL_INTERNAL_H
#define CN_DSL_INTERNAL_H

#include <stdint.h>

#include "dsl.h"

/* The source text and where its lines start, for `file:line:col` messages with the line. */
typedef struct dsl_source {
  const char *file; /* for messages */
  const char *text; /* NUL-terminated copy of the source */
  size_t len;
  int n_lines;
  int *line_start; /* offset of the first character of each line (1-based line i at [i-1]) */
} dsl_source;

void dsl_source_init(dsl_source *s, const char *file, const char *text, size_t len);
void dsl_source_free(dsl_source *s);
/* Reports an error at (line, col) of the source, with the line and a caret. */
void dsl_error(cn_diag *d, const dsl_source *s, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* --- syntax tree --- */

typedef enum dsl_expr_kind {
  DSL_E_INT,
  DSL_E_FLOAT,
  DSL_E_STRING,
  DSL_E_BOOL,
  DSL_E_NONE,
  DSL_E_NAME,   /* s */
  DSL_E_LIST,   /* kids */
  DSL_E_CALL,   /* s = callee, kids = arguments, arg_names[i] = keyword or NULL; as_path */
  DSL_E_BINARY, /* op, kids[0], kids[1] */
  DSL_E_UNARY,  /* op ('-' or '!'), kids[0] */
  DSL_E_COND,   /* kids[0] ? kids[1] : kids[2] */
  DSL_E_INDEX   /* kids[0][kids[1]] */
} dsl_expr_kind;

/* Binary operators, by their token spelling. */
enum {
  DSL_OP_ADD = '+',
  DSL_OP_SUB = '-',
  DSL_OP_MUL = '*',
  DSL_OP_DIV = '/',
  DSL_OP_MOD = '%',
  DSL_OP_LT = '<',
  DSL_OP_GT = '>',
  DSL_OP_NOT = '!',
  DSL_OP_EQ = 256,
  DSL_OP_NE,
  DSL_OP_LE,
  DSL_OP_GE,
  DSL_OP_AND,
  DSL_OP_OR
};

typedef struct dsl_expr dsl_expr;
struct dsl_expr {
  dsl_expr_kind kind;
  int line, col;
  int op;
  int64_t i;
  double f;
  char *s;
  int n_kids;
  dsl_expr **kids;
  char **arg_names; /* CALL: keyword of each argument, NULL for positional ones */
  int *arg_line, *arg_col; /* CALL: where each argument starts (its keyword, if it has one) */
  /* CALL: `as a.b.(expr)`: a layer name. Segments are NAME (literal), INT or any expression. */
  int n_as;
  dsl_expr **as_path;
};

typedef enum dsl_stmt_kind {
  DSL_S_MODEL,  /* model NAME */
  DSL_S_SEED,   /* seed EXPR */
  DSL_S_PARAMS, /* params "FILE" */
  DSL_S_INPUT,  /* input NAME: DTYPE[dims] */
  DSL_S_OUTPUT, /* output NAME [= EXPR] */
  DSL_S_ASSIGN, /* NAME [, NAME...] = EXPR */
  DSL_S_EXPR,   /* EXPR (a call whose result is not kept) */
  DSL_S_BLOCK,  /* block NAME(PARAMS) { ... } */
  DSL_S_REPEAT, /* repeat EXPR [as NAME] { ... } */
  DSL_S_IF,     /* if EXPR { ... } [else { ... }] */
  DSL_S_RETURN, /* return EXPR */
  DSL_S_TRAIN,  /* train { key = value ... } */
  DSL_S_POISON  /* what a statement with a syntax error would have defined (names; or a block
                   name when `text` is "block"): uses of it are not reported again */
} dsl_stmt_kind;

typedef struct dsl_stmt dsl_stmt;
typedef struct dsl_body {
  int n;
  dsl_stmt **stmts;
} dsl_body;

typedef struct dsl_param {
  char *name;
  dsl_expr *def; /* default value, or NULL: required */
  int line, col;
} dsl_param;

typedef struct dsl_train_entry {
  char *key, *value;
  int line, col;
} dsl_train_entry;

struct dsl_stmt {
  dsl_stmt_kind kind;
  int line, col;
  int n_names;
  char **names;      /* ASSIGN targets; MODEL/INPUT/OUTPUT/BLOCK name; REPEAT index variable */
  int *name_cols;    /* column of each name */
  dsl_expr *expr;    /* value, SEED, REPEAT count, IF condition, RETURN value */
  char *text;        /* PARAMS file, INPUT dtype */
  int text_col;      /* column of the INPUT dtype */
  int n_dims;        /* INPUT */
  dsl_expr **dims;
  int n_params;      /* BLOCK */
  dsl_param *params;
  dsl_body body, else_body;
  int n_train; /* TRAIN */
  dsl_train_entry *train;
};

typedef struct dsl_program {
  dsl_body body;
} dsl_program;

/* Parses the source; reports syntax errors (recovering at the next statement) through d. The
 * program returned holds every statement that parsed; check d for errors. */
dsl_program *dsl_parse(const dsl_source *src, cn_diag *d);
void dsl_program_free(dsl_program *p);

/* Levenshtein distance, for "did you mean" suggestions. */
int dsl_edit_distance(const char *a, const char *b);

/* --- parameters (dsl_params.c) --- */

/* The counter-based generator: value `index` of parameter `name` under `seed`, uniform in
 * [-1, 1). Depends only on its arguments (never on order or platform). */
double dsl_uniform(uint64_t seed, const char *name, int64_t index);

#endif
