/* dsl_parse.c — lexer and recursive-descent parser of the .cnn language (grammar: docs/dsl.md).
 *
 * Statements end at a newline. A newline does not end a statement inside ( ) or [ ], after a
 * token that needs a right-hand side (an operator, `->`, `,`, `=`), or before a line that starts
 * with `->`, so that long pipelines can be written one stage a line. On a syntax error the parser
 * reports it and skips to the next statement, so that one run shows every syntax error. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_internal.h"

/* Deeper nesting than this is refused, not recursed into (the parser is fuzzed). */
enum { MAX_DEPTH = 64 };

/* --- source --- */

void dsl_source_init(dsl_source *s, const char *file, const char *text, size_t len) {
  s->file = file;
  char *copy = cn_malloc(len + 1);
  memcpy(copy, text, len);
  copy[len] = '\0';
  s->text = copy;
  s->len = len;
  s->n_lines = 0;
  int cap = 0;
  s->line_start = NULL;
  CN_PUSH(s->line_start, s->n_lines, cap, 0);
  for (size_t i = 0; i < len; i++) {
    if (copy[i] == '\n') {
      CN_PUSH(s->line_start, s->n_lines, cap, (int)(i + 1));
    }
  }
}

void dsl_source_free(dsl_source *s) {
  free((void *)s->text);
  free(s->line_start);
}

void dsl_error(cn_diag *d, const dsl_source *s, int line, int col, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *text = NULL;
  if (line >= 1 && line <= s->n_lines) {
    text = s->text + s->line_start[line - 1];
  }
  /* A NUL byte in the source would end the line early: the caret stays within what is shown. */
  if (text) {
    int shown = 0;
    while (text[shown] && text[shown] != '\n') {
      shown++;
    }
    if (col > shown + 1) {
      col = shown + 1;
    }
  }
  const char *saved = d->file;
  d->file = s->file;
  cn_error_at(d, line, col, text, "%s", msg);
  d->file = saved;
}

int dsl_edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 64 || m > 64) {
    return 1000;
  }
  int row[65];
  for (size_t j = 0; j <= m; j++) {
    row[j] = (int)j;
  }
  for (size_t i = 1; i <= n; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) {
        best = row[j] + 1;
      }
      if (row[j - 1] + 1 < best) {
        best = row[j - 1] + 1;
      }
      row[j] = best;
      diag = up;
    }
  }
  return row[m];
}

/* --- lexer --- */

typedef enum tok_kind {
  T_EOF = 0,
  T_NEWLINE,
  T_IDENT,
  T_INT,
  T_FLOAT,
  T_STRING,
  T_ARROW, /* -> */
  T_EQ,    /* == */
  T_NE,
  T_LE,
  T_GE,
  T_AND, /* && */
  T_OR,  /* || */
  T_PUNCT /* one character, in .c */
} tok_kind;

typedef struct token {
  tok_kind kind;
  char c; /* T_PUNCT */
  int line, col;
  const char *start;
  int len;
  int64_t i;
  double f;
} token;

typedef struct parser {
  const dsl_source *src;
  cn_diag *d;
  const char *p; /* next character */
  int line, col;
  int paren; /* ( and [ nesting: newlines inside are not statement ends */
  token tok; /* current token */
  token prev;
  int depth; /* recursion depth of the parser */
  bool panic; /* an error in this statement was reported: skip to its end */
  bool no_as; /* parsing a repeat count: `as` belongs to the repeat statement */
  dsl_stmt *poison; /* set with a failed statement: the names it would have defined */
} parser;

static void perr(parser *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void perr(parser *ps, int line, int col, const char *fmt, ...) {
  if (ps->panic) {
    return; /* one error per statement: what follows the first is usually noise */
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dsl_error(ps->d, ps->src, line, col, "%s", msg);
  ps->panic = true;
}

static void advance_char(parser *ps) {
  if (*ps->p == '\n') {
    ps->line++;
    ps->col = 1;
  } else {
    ps->col++;
  }
  ps->p++;
}

static bool at_end(const parser *ps) { return (size_t)(ps->p - ps->src->text) >= ps->src->len; }

/* Skips spaces, tabs, carriage returns and comments (not newlines). */
static void skip_blank(parser *ps) {
  while (!at_end(ps)) {
    char c = *ps->p;
    if (c == ' ' || c == '\t' || c == '\r') {
      advance_char(ps);
    } else if (c == '#') {
      while (!at_end(ps) && *ps->p != '\n') {
        advance_char(ps);
      }
    } else {
      break;
    }
  }
}

/* Whether the next line that is not blank starts with `->` (a pipeline continues). */
static bool next_line_continues(const parser *ps) {
  const char *q = ps->p;
  const char *end = ps->src->text + ps->src->len;
  while (q < end) {
    if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
      q++;
    } else if (*q == '#') {
      while (q < end && *q != '\n') {
        q++;
      }
    } else {
      return q + 1 < end && q[0] == '-' && q[1] == '>';
    }
  }
  return false;
}

/* Whether a newline after token t continues the statement. */
static bool wants_more(const token *t) {
  if (t->kind == T_ARROW || t->kind == T_EQ || t->kind == T_NE || t->kind == T_LE ||
      t->kind == T_GE || t->kind == T_AND || t->kind == T_OR) {
    return true;
  }
  return t->kind == T_PUNCT && strchr("+-*/%,=<>?:!", t->c) != NULL;
}

static void next_token(parser *ps) {
  ps->prev = ps->tok;
  for (;;) {
    skip_blank(ps);
    token t = {0};
    t.line = ps->line;
    t.col = ps->col;
    t.start = ps->p;
    if (at_end(ps)) {
      t.kind = T_EOF;
      ps->tok = t;
      return;
    }
    char c = *ps->p;
    if (c == '\n') {
      advance_char(ps);
      if (ps->paren > 0 || wants_more(&ps->prev) || next_line_continues(ps)) {
        continue;
      }
      if (ps->prev.kind == T_NEWLINE) {
        continue; /* blank lines */
      }
      t.kind = T_NEWLINE;
      ps->tok = t;
      ps->prev.kind = T_NEWLINE;
      return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
      while (!at_end(ps) && (isalnum((unsigned char)*ps->p) || *ps->p == '_')) {
        advance_char(ps);
      }
      t.kind = T_IDENT;
      t.len = (int)(ps->p - t.start);
      ps->tok = t;
      return;
    }
    if (isdigit((unsigned char)c)) {
      /* A number: digits [. digits] [e [+-] digits]. `1.foo` is not a float (layer paths such
       * as `layer1.0` are lexed as IDENT . INT), so a '.' must be followed by a digit. */
      bool is_float = false;
      while (!at_end(ps) && isdigit((unsigned char)*ps->p)) {
        advance_char(ps);
      }
      if (!at_end(ps) && *ps->p == '.' && isdigit((unsigned char)ps->p[1]) &&
          !(ps->prev.kind == T_PUNCT && ps->prev.c == '.')) {
        is_float = true;
        advance_char(ps);
        while (!at_end(ps) && isdigit((unsigned char)*ps->p)) {
          advance_char(ps);
        }
      }
      if (!at_end(ps) && (*ps->p == 'e' || *ps->p == 'E')) {
        const char *q = ps->p + 1;
        if (*q == '+' || *q == '-') {
          q++;
        }
        if (isdigit((unsigned char)*q)) {
          is_float = true;
          while (ps->p < q) {
            advance_char(ps);
          }
          while (!at_end(ps) && isdigit((unsigned char)*ps->p)) {
            advance_char(ps);
          }
        }
      }
      t.len = (int)(ps->p - t.start);
      char buf[64];
      int n = t.len < 63 ? t.len : 63;
      memcpy(buf, t.start, (size_t)n);
      buf[n] = '\0';
      errno = 0;
      if (is_float) {
        t.kind = T_FLOAT;
        t.f = strtod(buf, NULL);
      } else {
        t.kind = T_INT;
        t.i = (int64_t)strtoll(buf, NULL, 10);
      }
      if (errno || t.len > 60) {
        perr(ps, t.line, t.col, "number '%.*s' is out of range", n, buf);
        t.kind = T_INT;
        t.i = 0;
      }
      ps->tok = t;
      return;
    }
    if (c == '"') {
      advance_char(ps);
      while (!at_end(ps) && *ps->p != '"' && *ps->p != '\n') {
        advance_char(ps);
      }
      if (at_end(ps) || *ps->p != '"') {
        perr(ps, t.line, t.col, "unterminated string");
      } else {
        advance_char(ps);
      }
      t.kind = T_STRING;
      t.len = (int)(ps->p - t.start);
      ps->tok = t;
      return;
    }
    advance_char(ps);
    char n = at_end(ps) ? '\0' : *ps->p;
    t.kind = T_PUNCT;
    t.c = c;
    if (c == '-' && n == '>') {
      t.kind = T_ARROW;
    } else if (c == '=' && n == '=') {
      t.kind = T_EQ;
    } else if (c == '!' && n == '=') {
      t.kind = T_NE;
    } else if (c == '<' && n == '=') {
      t.kind = T_LE;
    } else if (c == '>' && n == '=') {
      t.kind = T_GE;
    } else if (c == '&' && n == '&') {
      t.kind = T_AND;
    } else if (c == '|' && n == '|') {
      t.kind = T_OR;
    }
    if (t.kind != T_PUNCT) {
      advance_char(ps);
    } else if (!strchr("()[]{},:=.?+-*/%<>!", c)) {
      if (isprint((unsigned char)c)) {
        perr(ps, t.line, t.col, "unexpected character '%c'", c);
      } else {
        perr(ps, t.line, t.col, "unexpected byte 0x%02x", (unsigned char)c);
      }
      continue;
    }
    if (c == '(' || c == '[') {
      ps->paren++;
    } else if ((c == ')' || c == ']') && ps->paren > 0) {
      ps->paren--;
    }
    t.len = (int)(ps->p - t.start);
    ps->tok = t;
    return;
  }
}

static bool is_punct(const parser *ps, char c) { return ps->tok.kind == T_PUNCT && ps->tok.c == c; }

static bool is_word(const parser *ps, const char *w) {
  return ps->tok.kind == T_IDENT && (int)strlen(w) == ps->tok.len &&
         memcmp(ps->tok.start, w, (size_t)ps->tok.len) == 0;
}

static char *tok_text(const token *t) { return cn_strndup(t->start, (size_t)t->len); }

static const char *describe(const token *t, char *buf, size_t cap) {
  switch (t->kind) {
  case T_EOF: return "end of file";
  case T_NEWLINE: return "end of line";
  default: {
    int n = t->len < 40 ? t->len : 40;
    snprintf(buf, cap, "'%.*s'", n, t->start);
    for (char *q = buf; *q; q++) {
      if (!isprint((unsigned char)*q)) {
        *q = '?';
      }
    }
    return buf;
  }
  }
}

static bool expect_punct(parser *ps, char c, const char *what) {
  if (is_punct(ps, c)) {
    next_token(ps);
    return true;
  }
  char buf[64];
  perr(ps, ps->tok.line, ps->tok.col, "expected '%c' %s, got %s", c, what,
       describe(&ps->tok, buf, sizeof buf));
  return false;
}

static const char *const keywords[] = {"model", "seed",   "params", "input", "output", "block",
                                       "repeat", "if",    "else",   "return", "train", "as",
                                       "true",  "false",  "none",   NULL};

static bool is_keyword_tok(const token *t) {
  for (int i = 0; keywords[i]; i++) {
    if ((int)strlen(keywords[i]) == t->len && memcmp(t->start, keywords[i], (size_t)t->len) == 0) {
      return true;
    }
  }
  return false;
}

/* An identifier that is not a keyword; NULL (reported) otherwise. */
static char *expect_name(parser *ps, const char *what) {
  char buf[64];
  if (ps->tok.kind != T_IDENT || is_keyword_tok(&ps->tok)) {
    perr(ps, ps->tok.line, ps->tok.col, "expected %s, got %s", what,
         describe(&ps->tok, buf, sizeof buf));
    return NULL;
  }
  char *s = tok_text(&ps->tok);
  next_token(ps);
  return s;
}

/* --- syntax tree construction --- */

static dsl_expr *new_expr(dsl_expr_kind kind, const token *at) {
  dsl_expr *e = cn_calloc(1, sizeof *e);
  e->kind = kind;
  e->line = at->line;
  e->col = at->col;
  return e;
}

static void expr_free(dsl_expr *e) {
  if (!e) {
    return;
  }
  for (int i = 0; i < e->n_kids; i++) {
    expr_free(e->kids[i]);
    if (e->arg_names) {
      free(e->arg_names[i]);
    }
  }
  for (int i = 0; i < e->n_as; i++) {
    expr_free(e->as_path[i]);
  }
  free(e->kids);
  free(e->arg_names);
  free(e->arg_line);
  free(e->arg_col);
  free(e->as_path);
  free(e->s);
  free(e);
}

static void add_kid_at(dsl_expr *e, dsl_expr *kid, char *arg_name, int line, int col) {
  size_t n = (size_t)(e->n_kids + 1);
  e->kids = cn_realloc(e->kids, sizeof *e->kids * n);
  e->arg_names = cn_realloc(e->arg_names, sizeof *e->arg_names * n);
  e->arg_line = cn_realloc(e->arg_line, sizeof *e->arg_line * n);
  e->arg_col = cn_realloc(e->arg_col, sizeof *e->arg_col * n);
  e->kids[e->n_kids] = kid;
  e->arg_names[e->n_kids] = arg_name;
  e->arg_line[e->n_kids] = kid ? kid->line : 0;
  e->arg_col[e->n_kids] = kid ? kid->col : 0;
  if (line > 0) {
    e->arg_line[e->n_kids] = line;
    e->arg_col[e->n_kids] = col;
  }
  e->n_kids++;
}

static void add_kid(dsl_expr *e, dsl_expr *kid, char *arg_name) { add_kid_at(e, kid, arg_name, 0, 0); }

static dsl_expr *parse_expr(parser *ps);

/* call arguments: '(' [arg {',' arg}] ')' where arg = [NAME '='] expr */
/* The closing bracket of `open`: a missing one is reported at the opening bracket when the
 * statement ran on past its line (an unclosed bracket swallows the lines that follow). */
static bool expect_close(parser *ps, const token *open, char c, const char *what) {
  if (!is_punct(ps, c) && ps->tok.line != open->line) {
    perr(ps, open->line, open->col, "this '%c' is never closed", open->c);
    return false;
  }
  return expect_punct(ps, c, what);
}

static bool parse_args(parser *ps, dsl_expr *call) {
  token open = ps->tok;
  if (!expect_punct(ps, '(', "to open the arguments")) {
    return false;
  }
  bool keyword_seen = false;
  while (!is_punct(ps, ')')) {
    char *name = NULL;
    token at = ps->tok;
    if (ps->tok.kind == T_IDENT) {
      /* NAME '=' is a keyword argument; look one token ahead without consuming. */
      parser save = *ps;
      next_token(ps);
      if (is_punct(ps, '=')) {
        name = tok_text(&at);
        next_token(ps);
      } else {
        bool reported = ps->panic;
        *ps = save;
        ps->panic = reported; /* (an error found while looking ahead is not reported twice) */
      }
    }
    if (!name && keyword_seen) {
      perr(ps, at.line, at.col, "positional argument after keyword arguments");
      return false;
    }
    keyword_seen = keyword_seen || name;
    dsl_expr *arg = parse_expr(ps);
    if (!arg) {
      free(name);
      return false;
    }
    add_kid_at(call, arg, name, at.line, at.col);
    if (!is_punct(ps, ',')) {
      break;
    }
    next_token(ps);
  }
  return expect_close(ps, &open, ')', "to close the arguments");
}

/* `as` path: seg {'.' seg}, seg = NAME | INT | '(' expr ')' */
static bool parse_as_path(parser *ps, dsl_expr *call) {
  for (;;) {
    dsl_expr *seg = NULL;
    token at = ps->tok;
    if (ps->tok.kind == T_IDENT && !is_keyword_tok(&ps->tok)) {
      seg = new_expr(DSL_E_STRING, &at);
      seg->s = tok_text(&at);
      next_token(ps);
    } else if (ps->tok.kind == T_INT) {
      seg = new_expr(DSL_E_INT, &at);
      seg->i = at.i;
      next_token(ps);
    } else if (is_punct(ps, '(')) {
      next_token(ps);
      seg = parse_expr(ps);
      if (!seg || !expect_punct(ps, ')', "after the name segment")) {
        expr_free(seg);
        return false;
      }
    } else {
      char buf[64];
      perr(ps, at.line, at.col, "expected a layer name after 'as', got %s",
           describe(&at, buf, sizeof buf));
      return false;
    }
    call->as_path = cn_realloc(call->as_path, sizeof *call->as_path * (size_t)(call->n_as + 1));
    call->as_path[call->n_as++] = seg;
    if (!is_punct(ps, '.')) {
      return true;
    }
    next_token(ps);
  }
}

static dsl_expr *parse_primary(parser *ps) {
  token t = ps->tok;
  char buf[64];
  dsl_expr *e = NULL;
  if (t.kind == T_INT) {
    e = new_expr(DSL_E_INT, &t);
    e->i = t.i;
    next_token(ps);
  } else if (t.kind == T_FLOAT) {
    e = new_expr(DSL_E_FLOAT, &t);
    e->f = t.f;
    next_token(ps);
  } else if (t.kind == T_STRING) {
    e = new_expr(DSL_E_STRING, &t);
    e->s = cn_strndup(t.start + 1, t.len >= 2 ? (size_t)t.len - 2 : 0);
    next_token(ps);
  } else if (is_word(ps, "true") || is_word(ps, "false")) {
    e = new_expr(DSL_E_BOOL, &t);
    e->i = is_word(ps, "true");
    next_token(ps);
  } else if (is_word(ps, "none")) {
    e = new_expr(DSL_E_NONE, &t);
    next_token(ps);
  } else if (t.kind == T_IDENT && !is_keyword_tok(&t)) {
    char *name = tok_text(&t);
    next_token(ps);
    if (is_punct(ps, '(')) {
      e = new_expr(DSL_E_CALL, &t);
      e->s = name;
      if (!parse_args(ps, e)) {
        expr_free(e);
        return NULL;
      }
    } else {
      e = new_expr(DSL_E_NAME, &t);
      e->s = name;
    }
  } else if (is_punct(ps, '(')) {
    next_token(ps);
    e = parse_expr(ps);
    if (e && !expect_close(ps, &t, ')', "to close the parenthesis")) {
      expr_free(e);
      return NULL;
    }
  } else if (is_punct(ps, '[')) {
    e = new_expr(DSL_E_LIST, &t);
    next_token(ps);
    while (!is_punct(ps, ']')) {
      dsl_expr *item = parse_expr(ps);
      if (!item) {
        expr_free(e);
        return NULL;
      }
      add_kid(e, item, NULL);
      if (!is_punct(ps, ',')) {
        break;
      }
      next_token(ps);
    }
    if (!expect_close(ps, &t, ']', "to close the list")) {
      expr_free(e);
      return NULL;
    }
  } else {
    perr(ps, t.line, t.col, "expected an expression, got %s", describe(&t, buf, sizeof buf));
    return NULL;
  }
  /* postfix: indexing x[i] and `as` layer names */
  while (e) {
    if (is_punct(ps, '[') && ps->prev.start + ps->prev.len == ps->tok.start) {
      token at = ps->tok;
      next_token(ps);
      dsl_expr *idx = parse_expr(ps);
      if (!idx || !expect_punct(ps, ']', "to close the index")) {
        expr_free(idx);
        expr_free(e);
        return NULL;
      }
      dsl_expr *ix = new_expr(DSL_E_INDEX, &at);
      add_kid(ix, e, NULL);
      add_kid(ix, idx, NULL);
      e = ix;
    } else if (is_word(ps, "as") && !ps->no_as) {
      token at = ps->tok;
      if (e->kind == DSL_E_NAME) {
        e->kind = DSL_E_CALL; /* `relu as act`: a call without arguments (a pipeline stage) */
      }
      if (e->kind != DSL_E_CALL || e->n_as) {
        perr(ps, at.line, at.col, "'as' names a layer: it must follow a call");
        expr_free(e);
        return NULL;
      }
      next_token(ps);
      if (!parse_as_path(ps, e)) {
        expr_free(e);
        return NULL;
      }
    } else {
      break;
    }
  }
  return e;
}

static dsl_expr *parse_unary(parser *ps) {
  if (is_punct(ps, '-') || is_punct(ps, '!')) {
    token t = ps->tok;
    next_token(ps);
    if (++ps->depth > MAX_DEPTH) {
      perr(ps, t.line, t.col, "expression nested too deeply");
      ps->depth--;
      return NULL;
    }
    dsl_expr *x = parse_unary(ps);
    ps->depth--;
    if (!x) {
      return NULL;
    }
    dsl_expr *e = new_expr(DSL_E_UNARY, &t);
    e->op = t.c;
    add_kid(e, x, NULL);
    return e;
  }
  return parse_primary(ps);
}

/* Binary operator precedence (higher binds tighter); 0: not a binary operator. */
static int binary_prec(const token *t, int *op) {
  switch (t->kind) {
  case T_OR: *op = DSL_OP_OR; return 1;
  case T_AND: *op = DSL_OP_AND; return 2;
  case T_EQ: *op = DSL_OP_EQ; return 3;
  case T_NE: *op = DSL_OP_NE; return 3;
  case T_LE: *op = DSL_OP_LE; return 4;
  case T_GE: *op = DSL_OP_GE; return 4;
  case T_PUNCT:
    *op = t->c;
    switch (t->c) {
    case '<':
    case '>': return 4;
    case '+':
    case '-': return 5;
    case '*':
    case '/':
    case '%': return 6;
    default: return 0;
    }
  default: return 0;
  }
}

static dsl_expr *parse_binary(parser *ps, int min_prec) {
  dsl_expr *lhs = parse_unary(ps);
  while (lhs) {
    int op = 0;
    int prec = binary_prec(&ps->tok, &op);
    if (prec == 0 || prec < min_prec) {
      break;
    }
    token t = ps->tok;
    next_token(ps);
    if (++ps->depth > MAX_DEPTH) {
      perr(ps, t.line, t.col, "expression nested too deeply");
      ps->depth--;
      expr_free(lhs);
      return NULL;
    }
    dsl_expr *rhs = parse_binary(ps, prec + 1);
    ps->depth--;
    if (!rhs) {
      expr_free(lhs);
      return NULL;
    }
    dsl_expr *e = new_expr(DSL_E_BINARY, &t);
    e->op = op;
    add_kid(e, lhs, NULL);
    add_kid(e, rhs, NULL);
    lhs = e;
  }
  return lhs;
}

/* pipeline: binary {'->' stage}, stage = NAME | call; `x -> f(a)` is f(x, a). */
static dsl_expr *parse_pipeline(parser *ps) {
  dsl_expr *e = parse_binary(ps, 1);
  while (e && ps->tok.kind == T_ARROW) {
    next_token(ps);
    token at = ps->tok;
    dsl_expr *stage = parse_primary(ps);
    if (!stage) {
      expr_free(e);
      return NULL;
    }
    if (stage->kind == DSL_E_NAME) {
      stage->kind = DSL_E_CALL;
    }
    if (stage->kind != DSL_E_CALL) {
      perr(ps, at.line, at.col, "a pipeline stage after '->' must be an operator or block call");
      expr_free(stage);
      expr_free(e);
      return NULL;
    }
    /* Insert the piped value as the first argument. */
    add_kid(stage, NULL, NULL);
    size_t n = (size_t)(stage->n_kids - 1);
    memmove(stage->kids + 1, stage->kids, sizeof *stage->kids * n);
    memmove(stage->arg_names + 1, stage->arg_names, sizeof *stage->arg_names * n);
    memmove(stage->arg_line + 1, stage->arg_line, sizeof *stage->arg_line * n);
    memmove(stage->arg_col + 1, stage->arg_col, sizeof *stage->arg_col * n);
    stage->kids[0] = e;
    stage->arg_names[0] = NULL;
    stage->arg_line[0] = e->line;
    stage->arg_col[0] = e->col;
    e = stage;
  }
  return e;
}

static dsl_expr *parse_expr(parser *ps) {
  if (++ps->depth > MAX_DEPTH) {
    perr(ps, ps->tok.line, ps->tok.col, "expression nested too deeply");
    ps->depth--;
    return NULL;
  }
  dsl_expr *e = parse_pipeline(ps);
  if (e && is_punct(ps, '?')) {
    token t = ps->tok;
    next_token(ps);
    dsl_expr *a = parse_expr(ps);
    dsl_expr *b = NULL;
    if (a && expect_punct(ps, ':', "in the conditional expression")) {
      b = parse_expr(ps);
    }
    if (!a || !b) {
      expr_free(e);
      expr_free(a);
      expr_free(b);
      e = NULL;
    } else {
      dsl_expr *c = new_expr(DSL_E_COND, &t);
      add_kid(c, e, NULL);
      add_kid(c, a, NULL);
      add_kid(c, b, NULL);
      e = c;
    }
  }
  ps->depth--;
  return e;
}

/* --- statements --- */

static void stmt_free(dsl_stmt *s);

static void body_free(dsl_body *b) {
  for (int i = 0; i < b->n; i++) {
    stmt_free(b->stmts[i]);
  }
  free(b->stmts);
}

static void stmt_free(dsl_stmt *s) {
  if (!s) {
    return;
  }
  for (int i = 0; i < s->n_names; i++) {
    free(s->names[i]);
  }
  free(s->names);
  free(s->name_cols);
  expr_free(s->expr);
  free(s->text);
  for (int i = 0; i < s->n_dims; i++) {
    expr_free(s->dims[i]);
  }
  free(s->dims);
  for (int i = 0; i < s->n_params; i++) {
    free(s->params[i].name);
    expr_free(s->params[i].def);
  }
  free(s->params);
  body_free(&s->body);
  body_free(&s->else_body);
  for (int i = 0; i < s->n_train; i++) {
    free(s->train[i].key);
    free(s->train[i].value);
  }
  free(s->train);
  free(s);
}

void dsl_program_free(dsl_program *p) {
  if (p) {
    body_free(&p->body);
    free(p);
  }
}

static void add_name(dsl_stmt *s, char *name, int col) {
  s->names = cn_realloc(s->names, sizeof *s->names * (size_t)(s->n_names + 1));
  s->name_cols = cn_realloc(s->name_cols, sizeof *s->name_cols * (size_t)(s->n_names + 1));
  s->names[s->n_names] = name;
  s->name_cols[s->n_names] = col;
  s->n_names++;
}

static void body_add(dsl_body *b, dsl_stmt *s) {
  b->stmts = cn_realloc(b->stmts, sizeof *b->stmts * (size_t)(b->n + 1));
  b->stmts[b->n++] = s;
}

static void parse_body(parser *ps, dsl_body *body, bool nested);

/* '{' NEWLINE? statements '}' */
static bool parse_braced(parser *ps, dsl_body *body, const char *what) {
  if (!expect_punct(ps, '{', what)) {
    return false;
  }
  token open = ps->prev;
  if (++ps->depth > MAX_DEPTH) {
    perr(ps, open.line, open.col, "blocks nested too deeply");
    ps->depth--;
    return false;
  }
  parse_body(ps, body, true);
  ps->depth--;
  if (!is_punct(ps, '}')) {
    perr(ps, open.line, open.col, "this '{' is never closed");
    return false;
  }
  next_token(ps);
  return true;
}

const char *const cn_dsl_train_keys[] = {
    "loss",   "label-smoothing", "optimizer", "lr",     "momentum", "nesterov", "weight-decay",
    "beta1",  "beta2",           "eps",       "lr-schedule", "lr-step", "lr-gamma", "warmup",
    "epochs", "batch",           "clip-norm", "freeze", NULL};

/* train '{' then one `key = value` per line up to a line holding '}'. The values are kept as
 * text (the training code checks them), so this section is read line by line, not tokenized. */
static void parse_train(parser *ps, dsl_stmt *s) {
  /* ps->tok is '{'; the lexer has read nothing beyond it. */
  if (!is_punct(ps, '{')) {
    char buf[64];
    perr(ps, ps->tok.line, ps->tok.col, "expected '{' after 'train', got %s",
         describe(&ps->tok, buf, sizeof buf));
    return;
  }
  const char *end = ps->src->text + ps->src->len;
  int open_line = ps->tok.line, open_col = ps->tok.col;
  /* The rest of the '{' line must be empty. */
  skip_blank(ps);
  if (ps->p < end && *ps->p != '\n') {
    perr(ps, ps->line, ps->col, "expected a new line after 'train {'");
  }
  bool closed = false;
  while (ps->p < end) {
    /* at a '\n' (or the start of a line) */
    if (*ps->p == '\n') {
      advance_char(ps);
    }
    while (ps->p < end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')) {
      advance_char(ps);
    }
    if (ps->p >= end) {
      break;
    }
    if (*ps->p == '\n' || *ps->p == '#') {
      skip_blank(ps);
      continue;
    }
    if (*ps->p == '}') {
      closed = true;
      advance_char(ps);
      break;
    }
    int line = ps->line, col = ps->col;
    const char *k = ps->p;
    while (ps->p < end && (isalnum((unsigned char)*ps->p) || *ps->p == '-' || *ps->p == '_')) {
      advance_char(ps);
    }
    char *key = cn_strndup(k, (size_t)(ps->p - k));
    while (ps->p < end && (*ps->p == ' ' || *ps->p == '\t')) {
      advance_char(ps);
    }
    bool ok = true;
    if (key[0] == '\0') {
      dsl_error(ps->d, ps->src, line, col, "expected a training option name");
      ok = false;
    } else if (ps->p >= end || (*ps->p != '=' && *ps->p != ':')) {
      dsl_error(ps->d, ps->src, ps->line, ps->col, "expected '=' after training option '%s'", key);
      ok = false;
    }
    int known = -1;
    for (int i = 0; ok && cn_dsl_train_keys[i]; i++) {
      if (strcmp(cn_dsl_train_keys[i], key) == 0) {
        known = i;
      }
    }
    if (ok && known < 0) {
      const char *best = NULL;
      int best_d = 3;
      for (int i = 0; cn_dsl_train_keys[i]; i++) {
        int dd = dsl_edit_distance(key, cn_dsl_train_keys[i]);
        if (dd < best_d) {
          best_d = dd;
          best = cn_dsl_train_keys[i];
        }
      }
      if (best) {
        dsl_error(ps->d, ps->src, line, col, "unknown training option '%s'; did you mean '%s'?",
                  key, best);
      } else {
        dsl_error(ps->d, ps->src, line, col, "unknown training option '%s'", key);
      }
      ok = false;
    }
    char *value = NULL;
    if (ok) {
      advance_char(ps); /* '=' */
      while (ps->p < end && (*ps->p == ' ' || *ps->p == '\t')) {
        advance_char(ps);
      }
      int vline = ps->line, vcol = ps->col;
      const char *v = ps->p;
      while (ps->p < end && *ps->p != '\n' && *ps->p != '#') {
        advance_char(ps);
      }
      const char *ve = ps->p;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r')) {
        ve--;
      }
      if (ve > v && ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
        v++;
        ve--;
      }
      if (ve == v) {
        dsl_error(ps->d, ps->src, vline, vcol, "training option '%s' needs a value", key);
        ok = false;
      } else {
        value = cn_strndup(v, (size_t)(ve - v));
      }
    }
    for (int i = 0; ok && i < s->n_train; i++) {
      if (strcmp(s->train[i].key, key) == 0) {
        dsl_error(ps->d, ps->src, line, col, "training option '%s' is set twice (first on line %d)",
                  key, s->train[i].line);
        ok = false;
      }
    }
    if (ok) {
      s->train = cn_realloc(s->train, sizeof *s->train * (size_t)(s->n_train + 1));
      s->train[s->n_train++] = (dsl_train_entry){key, value, line, col};
    } else {
      free(key);
      free(value);
    }
    while (ps->p < end && *ps->p != '\n') {
      advance_char(ps);
    }
  }
  if (!closed) {
    dsl_error(ps->d, ps->src, open_line, open_col, "this '{' is never closed");
  }
  ps->prev.kind = T_PUNCT; /* (the '}' just read) */
  ps->prev.c = '}';
  ps->tok.kind = T_PUNCT;
  ps->tok.c = '}';
  next_token(ps);
}

static dsl_stmt *new_stmt(dsl_stmt_kind kind, const token *at) {
  dsl_stmt *s = cn_calloc(1, sizeof *s);
  s->kind = kind;
  s->line = at->line;
  s->col = at->col;
  return s;
}

/* input NAME ':' DTYPE '[' expr {',' expr} ']' */
static bool parse_input(parser *ps, dsl_stmt *s) {
  int col = ps->tok.col;
  char *name = expect_name(ps, "an input name");
  if (!name) {
    return false;
  }
  add_name(s, name, col);
  if (!expect_punct(ps, ':', "after the input name")) {
    return false;
  }
  if (ps->tok.kind != T_IDENT) {
    char buf[64];
    perr(ps, ps->tok.line, ps->tok.col, "expected an element type such as f32, got %s",
         describe(&ps->tok, buf, sizeof buf));
    return false;
  }
  s->text = tok_text(&ps->tok);
  s->text_col = ps->tok.col;
  next_token(ps);
  if (!expect_punct(ps, '[', "to open the input's shape")) {
    return false;
  }
  while (!is_punct(ps, ']')) {
    dsl_expr *e = parse_expr(ps);
    if (!e) {
      return false;
    }
    s->dims = cn_realloc(s->dims, sizeof *s->dims * (size_t)(s->n_dims + 1));
    s->dims[s->n_dims++] = e;
    if (!is_punct(ps, ',')) {
      break;
    }
    next_token(ps);
  }
  return expect_punct(ps, ']', "to close the input's shape");
}

/* block NAME '(' [param {',' param}] ')' braced; param = NAME ['=' expr] */
static bool parse_block(parser *ps, dsl_stmt *s) {
  int col = ps->tok.col;
  char *name = expect_name(ps, "a block name");
  if (!name) {
    return false;
  }
  add_name(s, name, col);
  if (!expect_punct(ps, '(', "to open the block's parameters")) {
    return false;
  }
  while (!is_punct(ps, ')')) {
    token at = ps->tok;
    char *pname = expect_name(ps, "a parameter name");
    if (!pname) {
      return false;
    }
    dsl_param p = {pname, NULL, at.line, at.col};
    if (is_punct(ps, '=')) {
      next_token(ps);
      p.def = parse_expr(ps);
      if (!p.def) {
        free(pname);
        return false;
      }
    } else if (s->n_params > 0 && s->params[s->n_params - 1].def) {
      perr(ps, at.line, at.col, "parameter '%s' without a default follows one with a default",
           pname);
    }
    for (int i = 0; i < s->n_params; i++) {
      if (strcmp(s->params[i].name, pname) == 0) {
        perr(ps, at.line, at.col, "parameter '%s' is listed twice", pname);
      }
    }
    s->params = cn_realloc(s->params, sizeof *s->params * (size_t)(s->n_params + 1));
    s->params[s->n_params++] = p;
    if (!is_punct(ps, ',')) {
      break;
    }
    next_token(ps);
  }
  if (!expect_punct(ps, ')', "to close the block's parameters")) {
    return false;
  }
  return parse_braced(ps, &s->body, "to open the block's body");
}

/* One statement; NULL after a reported error. */
static dsl_stmt *parse_stmt(parser *ps, bool nested) {
  token t = ps->tok;
  dsl_stmt *s = NULL;
  bool ok = true;
  if (is_word(ps, "model")) {
    s = new_stmt(DSL_S_MODEL, &t);
    next_token(ps);
    int col = ps->tok.col;
    char *name = expect_name(ps, "a model name");
    ok = name != NULL;
    if (ok) {
      add_name(s, name, col);
    }
  } else if (is_word(ps, "seed")) {
    s = new_stmt(DSL_S_SEED, &t);
    next_token(ps);
    ok = (s->expr = parse_expr(ps)) != NULL;
  } else if (is_word(ps, "params")) {
    s = new_stmt(DSL_S_PARAMS, &t);
    next_token(ps);
    if (ps->tok.kind != T_STRING) {
      char buf[64];
      perr(ps, ps->tok.line, ps->tok.col, "expected a file name in quotes after 'params', got %s",
           describe(&ps->tok, buf, sizeof buf));
      ok = false;
    } else {
      s->text = cn_strndup(ps->tok.start + 1, ps->tok.len >= 2 ? (size_t)ps->tok.len - 2 : 0);
      s->n_dims = 0;
      s->line = ps->tok.line;
      s->col = ps->tok.col;
      next_token(ps);
    }
  } else if (is_word(ps, "input")) {
    s = new_stmt(DSL_S_INPUT, &t);
    next_token(ps);
    ok = parse_input(ps, s);
  } else if (is_word(ps, "output")) {
    s = new_stmt(DSL_S_OUTPUT, &t);
    next_token(ps);
    int col = ps->tok.col;
    char *name = expect_name(ps, "an output name");
    ok = name != NULL;
    if (ok) {
      add_name(s, name, col);
      if (is_punct(ps, '=')) {
        next_token(ps);
        ok = (s->expr = parse_expr(ps)) != NULL;
      }
    }
  } else if (is_word(ps, "block")) {
    s = new_stmt(DSL_S_BLOCK, &t);
    if (nested) {
      perr(ps, t.line, t.col, "blocks are defined at the top level only");
      ok = false;
    } else {
      next_token(ps);
      ok = parse_block(ps, s);
    }
  } else if (is_word(ps, "repeat")) {
    s = new_stmt(DSL_S_REPEAT, &t);
    next_token(ps);
    ps->no_as = true;
    ok = (s->expr = parse_expr(ps)) != NULL;
    ps->no_as = false;
    if (ok && is_word(ps, "as")) {
      next_token(ps);
      int col = ps->tok.col;
      char *name = expect_name(ps, "a name for the repetition's index");
      ok = name != NULL;
      if (ok) {
        add_name(s, name, col);
      }
    }
    ok = ok && parse_braced(ps, &s->body, "to open the repeated statements");
  } else if (is_word(ps, "if")) {
    s = new_stmt(DSL_S_IF, &t);
    next_token(ps);
    ok = (s->expr = parse_expr(ps)) != NULL && parse_braced(ps, &s->body, "after the condition");
    if (ok && is_word(ps, "else")) {
      next_token(ps);
      if (is_word(ps, "if")) {
        dsl_stmt *inner = parse_stmt(ps, nested);
        ok = inner != NULL;
        if (ok) {
          body_add(&s->else_body, inner);
        }
        return ok ? s : (stmt_free(s), NULL);
      }
      ok = parse_braced(ps, &s->else_body, "after 'else'");
    }
  } else if (is_word(ps, "return")) {
    s = new_stmt(DSL_S_RETURN, &t);
    next_token(ps);
    ok = (s->expr = parse_expr(ps)) != NULL;
  } else if (is_word(ps, "train")) {
    s = new_stmt(DSL_S_TRAIN, &t);
    if (nested) {
      perr(ps, t.line, t.col, "the train section belongs at the top level");
      ok = false;
    } else {
      /* Read the '{' token but nothing after it: the section is read line by line. */
      parser save = *ps;
      skip_blank(ps);
      if (!at_end(ps) && *ps->p == '{') {
        ps->tok.kind = T_PUNCT;
        ps->tok.c = '{';
        ps->tok.line = ps->line;
        ps->tok.col = ps->col;
        ps->tok.start = ps->p;
        ps->tok.len = 1;
        advance_char(ps);
        parse_train(ps, s);
      } else {
        *ps = save;
        next_token(ps);
        parse_train(ps, s); /* reports the missing '{' */
        ok = false;
      }
    }
  } else if (t.kind == T_IDENT && !is_keyword_tok(&t)) {
    /* NAME {',' NAME} '=' expr, or an expression statement */
    parser save = *ps;
    s = new_stmt(DSL_S_ASSIGN, &t);
    for (;;) {
      if (ps->tok.kind != T_IDENT || is_keyword_tok(&ps->tok)) {
        break;
      }
      add_name(s, tok_text(&ps->tok), ps->tok.col);
      next_token(ps);
      if (!is_punct(ps, ',')) {
        break;
      }
      next_token(ps);
    }
    if (is_punct(ps, '=')) {
      next_token(ps);
      ok = (s->expr = parse_expr(ps)) != NULL;
    } else {
      bool reported = ps->panic;
      *ps = save;
      ps->panic = reported;
      stmt_free(s);
      s = new_stmt(DSL_S_EXPR, &t);
      ok = (s->expr = parse_expr(ps)) != NULL;
      if (ok && s->expr->kind != DSL_E_CALL) {
        dsl_error(ps->d, ps->src, t.line, t.col,
                  "expected a statement (assignment, call, input, output, block, repeat, if, ...)");
        ps->panic = true;
        ok = false;
      }
    }
  } else {
    char buf[64];
    perr(ps, t.line, t.col, "expected a statement, got %s", describe(&t, buf, sizeof buf));
    ok = false;
  }
  if (ok && ps->tok.kind != T_NEWLINE && ps->tok.kind != T_EOF && !is_punct(ps, '}')) {
    char buf[64];
    perr(ps, ps->tok.line, ps->tok.col, "expected the end of the statement, got %s",
         describe(&ps->tok, buf, sizeof buf));
    ok = false;
  }
  if (!ok) {
    if (s && s->n_names > 0 && !ps->poison &&
        (s->kind == DSL_S_ASSIGN || s->kind == DSL_S_INPUT || s->kind == DSL_S_OUTPUT ||
         s->kind == DSL_S_BLOCK)) {
      dsl_stmt *p = cn_calloc(1, sizeof *p);
      p->kind = DSL_S_POISON;
      p->line = s->line;
      p->col = s->col;
      for (int i = 0; i < s->n_names; i++) {
        add_name(p, cn_strdup(s->names[i]), s->name_cols[i]);
      }
      if (s->kind == DSL_S_BLOCK) {
        p->text = cn_strdup("block");
      }
      ps->poison = p;
    }
    stmt_free(s);
    return NULL;
  }
  return s;
}

/* Skips to the end of the current statement: the next newline outside braces, or a '}' that
 * closes an enclosing body (left for the caller). */
static void recover(parser *ps) {
  int braces = 0;
  ps->paren = 0;
  while (ps->tok.kind != T_EOF) {
    if (ps->tok.kind == T_NEWLINE && braces == 0) {
      break;
    }
    if (is_punct(ps, '{')) {
      braces++;
    } else if (is_punct(ps, '}')) {
      if (braces == 0) {
        break;
      }
      braces--;
    }
    next_token(ps);
  }
  ps->panic = false;
}

static void parse_body(parser *ps, dsl_body *body, bool nested) {
  for (;;) {
    while (ps->tok.kind == T_NEWLINE) {
      next_token(ps);
    }
    if (ps->tok.kind == T_EOF || (nested && is_punct(ps, '}'))) {
      return;
    }
    if (!nested && is_punct(ps, '}')) {
      perr(ps, ps->tok.line, ps->tok.col, "'}' without a matching '{'");
      next_token(ps);
      recover(ps);
      continue;
    }
    dsl_stmt *s = parse_stmt(ps, nested);
    if (s) {
      body_add(body, s);
    } else {
      if (ps->poison) {
        body_add(body, ps->poison);
        ps->poison = NULL;
      }
      recover(ps);
    }
  }
}

dsl_program *dsl_parse(const dsl_source *src, cn_diag *d) {
  parser ps;
  memset(&ps, 0, sizeof ps);
  ps.src = src;
  ps.d = d;
  ps.p = src->text;
  ps.line = 1;
  ps.col = 1;
  ps.prev.kind = T_NEWLINE;
  next_token(&ps);
  dsl_program *prog = cn_calloc(1, sizeof *prog);
  parse_body(&ps, &prog->body, false);
  return prog;
}
