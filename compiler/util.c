/* util.c — checked allocation, text buffers, the name map and file helpers. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_assert_fail(const char *what, const char *file, int line) {
  fprintf(stderr, "cnncc: internal error: %s:%d: assertion '%s' failed\n", file, line, what);
  abort();
}

static void *check(void *p) {
  if (p == NULL) {
    fprintf(stderr, "cnncc: error: out of memory\n");
    exit(1);
  }
  return p;
}

void *cn_malloc(size_t n) { return check(malloc(n ? n : 1)); }
void *cn_calloc(size_t count, size_t size) { return check(calloc(count ? count : 1, size ? size : 1)); }
void *cn_realloc(void *p, size_t n) { return check(realloc(p, n ? n : 1)); }
char *cn_strdup(const char *s) { return cn_strndup(s, strlen(s)); }

char *cn_strndup(const char *s, size_t n) {
  char *d = cn_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *cn_fmt(const char *fmt, ...) {
  cn_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  cn_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  return b.data ? b.data : cn_strdup("");
}

void cn_grow(void **items, int *cap, int need, size_t elem_size) {
  if (need <= *cap) {
    return;
  }
  int c = *cap ? *cap : 8;
  while (c < need) {
    c *= 2;
  }
  *items = cn_realloc(*items, (size_t)c * elem_size);
  memset((char *)*items + (size_t)*cap * elem_size, 0, (size_t)(c - *cap) * elem_size);
  *cap = c;
}

static void buf_reserve(cn_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) {
    return;
  }
  size_t c = b->cap ? b->cap : 256;
  while (c < b->len + extra + 1) {
    c *= 2;
  }
  b->data = cn_realloc(b->data, c);
  b->cap = c;
}

void cn_buf_vprintf(cn_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  CN_ASSERT(n >= 0);
  buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void cn_buf_printf(cn_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cn_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void cn_buf_append(cn_buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void cn_buf_puts(cn_buf *b, const char *s) { cn_buf_append(b, s, strlen(s)); }

void cn_buf_free(cn_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) {
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  }
  return h;
}

void cn_map_put(cn_map *m, const char *key, int val) {
  if ((m->count + 1) * 2 > m->cap) {
    cn_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = cn_calloc(m->cap, sizeof *m->keys);
    m->vals = cn_calloc(m->cap, sizeof *m->vals);
    m->count = 0;
    for (size_t i = 0; i < old.cap; i++) {
      if (old.keys[i]) {
        cn_map_put(m, old.keys[i], old.vals[i]);
      }
    }
    free(old.keys);
    free(old.vals);
  }
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], key) != 0) {
    i = (i + 1) & (m->cap - 1);
  }
  if (!m->keys[i]) {
    m->count++;
  }
  m->keys[i] = key;
  m->vals[i] = val;
}

bool cn_map_get(const cn_map *m, const char *key, int *val) {
  if (m->cap == 0) {
    return false;
  }
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->keys[i]) {
    if (strcmp(m->keys[i], key) == 0) {
      *val = m->vals[i];
      return true;
    }
    i = (i + 1) & (m->cap - 1);
  }
  return false;
}

void cn_map_free(cn_map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

bool cn_mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out) {
  /* Either factor alone past the limit fails too, even times 0: a dimension of 2^62 beside a
   * dimension of 0 would overflow the arithmetic of later stages. */
  if (a < 0 || b < 0 || a > limit || b > limit) {
    return false;
  }
  if (a != 0 && b > limit / a) {
    return false;
  }
  *out = a * b;
  return true;
}

bool cn_numel_checked(int rank, const int64_t *dims, int64_t limit, int64_t *numel) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0) {
      empty = true;
    } else if (!cn_mul_checked(nonzero, dims[i], limit, &nonzero)) {
      return false;
    }
  }
  *numel = empty ? 0 : nonzero;
  return true;
}

bool cn_write_file(const char *path, const void *data, size_t len) {
  char *tmp = cn_fmt("%s.tmp%ld", path, (long)rand());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    free(tmp);
    return false;
  }
  bool ok = fwrite(data, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (ok) {
    ok = rename(tmp, path) == 0;
  }
  if (!ok) {
    remove(tmp);
  }
  free(tmp);
  return ok;
}

unsigned char *cn_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  /* Size first (one read for regular files), growing only for pipes and the like. */
  size_t cap = 1 << 16, n = 0;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > 0) {
      cap = (size_t)size + 1;
    }
    rewind(f);
  }
  unsigned char *data = cn_malloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      data = cn_realloc(data, cap);
    }
    size_t got = fread(data + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      break;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(data);
    errno = EIO;
    return NULL;
  }
  *len = n;
  return data;
}
