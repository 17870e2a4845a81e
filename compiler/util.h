/* util.h — small building blocks the compiler shares: checked allocation, a growable string
 * buffer for emitting text, and a string→int hash map for name lookup. */
#ifndef CN_UTIL_H
#define CN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Internal invariant: names the file and line, then aborts. User errors go through diag.h. */
#define CN_ASSERT(cond)                                                                            \
  ((cond) ? (void)0 : cn_assert_fail(#cond, __FILE__, __LINE__))
#define CN_UNREACHABLE() cn_assert_fail("unreachable", __FILE__, __LINE__)
_Noreturn void cn_assert_fail(const char *what, const char *file, int line);

void *cn_malloc(size_t n);
void *cn_calloc(size_t count, size_t size);
void *cn_realloc(void *p, size_t n);
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);
char *cn_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows *items (of *cap elements of elem_size bytes) so that it holds at least `need`. */
void cn_grow(void **items, int *cap, int need, size_t elem_size);
#define CN_PUSH(arr, count, cap, value)                                                            \
  do {                                                                                             \
    cn_grow((void **)&(arr), &(cap), (count) + 1, sizeof *(arr));                                  \
    (arr)[(count)++] = (value);                                                                    \
  } while (0)

/* Growable text buffer; `data` is always NUL-terminated. */
typedef struct cn_buf {
  char *data;
  size_t len, cap;
} cn_buf;
void cn_buf_printf(cn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cn_buf_vprintf(cn_buf *b, const char *fmt, va_list ap);
void cn_buf_append(cn_buf *b, const char *s, size_t n);
void cn_buf_puts(cn_buf *b, const char *s);
void cn_buf_free(cn_buf *b);

/* Open-addressing hash map from strings (borrowed, must outlive the map) to ints. */
typedef struct cn_map {
  const char **keys;
  int *vals;
  size_t cap, count;
} cn_map;
void cn_map_put(cn_map *m, const char *key, int val);
bool cn_map_get(const cn_map *m, const char *key, int *val);
void cn_map_free(cn_map *m);

/* Multiplies non-negative sizes, returning false when either or the product exceeds `limit`. */
bool cn_mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out);

/* The element count of a shape of non-negative dimensions, false when it, or the product of its
 * non-zero dimensions alone, exceeds `limit`: every partial product of an accepted shape (the
 * outer and inner sizes kernels split a shape into) then fits too, also for empty tensors. */
bool cn_numel_checked(int rank, const int64_t *dims, int64_t limit, int64_t *numel);

/* Writes `len` bytes to `path` atomically enough for our purpose: a temporary file renamed into
 * place, so that a failed compile never leaves a partial output. */
bool cn_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; returns NULL (errno set) on failure. */
unsigned char *cn_read_file(const char *path, size_t *len);

#endif
