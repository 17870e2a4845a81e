/* cnnrt_npy.h — parsing and writing the header of NumPy .npy files (format 1.0/2.0/3.0).
 * Used by the generated driver program (NAME_main.c) and by the compiler's --bind; everything
 * works on memory buffers so that it can be fuzzed without files. Host-side code: it is never
 * part of a model's generated C. */
#ifndef CNNRT_NPY_H
#define CNNRT_NPY_H

#include <stdio.h>

#include "cnnrt.h"

typedef struct cnnrt_npy_info {
  int dtype; /* enum cnnrt_dtype */
  int rank;
  int64_t dims[CNNRT_MAX_RANK];
  int64_t numel;
  size_t data_offset; /* where the elements start in the buffer */
} cnnrt_npy_info;

static inline int cnnrt_npy_dtype_from_descr(const char *d, size_t len) {
  /* Little-endian ('<') or byte-order-free ('|') descriptors only. */
  static const struct {
    const char *descr;
    int dtype;
  } table[] = {{"<f4", CNNRT_F32}, {"<f8", CNNRT_F64}, {"<f2", CNNRT_F16}, {"<i8", CNNRT_I64},
               {"<i4", CNNRT_I32}, {"<i2", CNNRT_I16}, {"|i1", CNNRT_I8},  {"|u1", CNNRT_U8},
               {"<u2", CNNRT_U16}, {"<u4", CNNRT_U32}, {"<u8", CNNRT_U64}, {"|b1", CNNRT_BOOL}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (len == 3 && memcmp(d, table[i].descr, 3) == 0) {
      return table[i].dtype;
    }
  }
  return CNNRT_UNDEFINED;
}

static inline const char *cnnrt_npy_descr(int dtype) {
  switch (dtype) {
  case CNNRT_F32: return "<f4";
  case CNNRT_F64: return "<f8";
  case CNNRT_F16: return "<f2";
  case CNNRT_I64: return "<i8";
  case CNNRT_I32: return "<i4";
  case CNNRT_I16: return "<i2";
  case CNNRT_I8: return "|i1";
  case CNNRT_U8: return "|u1";
  case CNNRT_U16: return "<u2";
  case CNNRT_U32: return "<u4";
  case CNNRT_U64: return "<u8";
  case CNNRT_BOOL: return "|b1";
  default: return NULL;
  }
}

static inline int cnnrt_npy_elem_size(int dtype) {
  switch (dtype) {
  case CNNRT_F64: case CNNRT_I64: case CNNRT_U64: return 8;
  case CNNRT_F32: case CNNRT_I32: case CNNRT_U32: return 4;
  case CNNRT_F16: case CNNRT_I16: case CNNRT_U16: case CNNRT_BF16: return 2;
  case CNNRT_I8: case CNNRT_U8: case CNNRT_BOOL: return 1;
  default: return 0;
  }
}

/* Finds `'key':` in the header dict and returns a pointer just past the colon, or NULL. */
static inline const char *cnnrt_npy_find_key(const char *h, size_t hlen, const char *key) {
  size_t klen = strlen(key);
  for (size_t i = 0; i + klen + 2 < hlen; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, klen) == 0 &&
        h[i + 1 + klen] == h[i]) {
      size_t j = i + klen + 2;
      while (j < hlen && h[j] == ' ') {
        j++;
      }
      if (j < hlen && h[j] == ':') {
        j++;
        while (j < hlen && h[j] == ' ') {
          j++;
        }
        return h + j;
      }
    }
  }
  return NULL;
}

/* Parses the header of the .npy image in buf[0..len). Returns NULL on success, else a static
 * message saying what is wrong. The data size is checked against len. */
static inline const char *cnnrt_npy_parse(const unsigned char *buf, size_t len,
                                          cnnrt_npy_info *info) {
  memset(info, 0, sizeof *info);
  if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
    return "not a .npy file (bad magic)";
  }
  unsigned major = buf[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) {
      return "truncated .npy header";
    }
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
           ((size_t)buf[11] << 24);
    hstart = 12;
  } else {
    return "unsupported .npy format version";
  }
  if (hlen > len - hstart) {
    return "truncated .npy header";
  }
  const char *h = (const char *)buf + hstart;
  const char *p = cnnrt_npy_find_key(h, hlen, "descr");
  const char *end = h + hlen;
  if (!p || p >= end || (*p != '\'' && *p != '"')) {
    return "the .npy header has no 'descr'";
  }
  char q = *p++;
  const char *dstart = p;
  while (p < end && *p != q) {
    p++;
  }
  if (p >= end) {
    return "malformed 'descr' in the .npy header";
  }
  info->dtype = cnnrt_npy_dtype_from_descr(dstart, (size_t)(p - dstart));
  if (info->dtype == CNNRT_UNDEFINED) {
    return "unsupported .npy dtype (supported: little-endian float16/32/64, int8/16/32/64, "
           "uint8/16/32/64, bool)";
  }
  p = cnnrt_npy_find_key(h, hlen, "fortran_order");
  if (!p || end - p < 4) {
    return "the .npy header has no 'fortran_order'";
  }
  if (memcmp(p, "True", 4) == 0) {
    return "Fortran-ordered .npy arrays are not supported (save with np.ascontiguousarray)";
  }
  p = cnnrt_npy_find_key(h, hlen, "shape");
  if (!p || p >= end || *p != '(') {
    return "the .npy header has no 'shape'";
  }
  p++;
  int64_t numel = 1;
  for (;;) {
    while (p < end && (*p == ' ' || *p == ',')) {
      p++;
    }
    if (p >= end) {
      return "malformed 'shape' in the .npy header";
    }
    if (*p == ')') {
      break;
    }
    if (*p < '0' || *p > '9') {
      return "malformed 'shape' in the .npy header";
    }
    int64_t dim = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (dim > (INT64_C(1) << 40)) {
        return "a .npy dimension is too large";
      }
      dim = dim * 10 + (*p - '0');
      p++;
    }
    if (info->rank == CNNRT_MAX_RANK) {
      return "the .npy array has too many dimensions";
    }
    info->dims[info->rank++] = dim;
    if (dim != 0 && numel > (INT64_C(1) << 40) / dim) {
      return "the .npy array is too large";
    }
    numel *= dim;
  }
  info->numel = numel;
  info->data_offset = hstart + hlen;
  size_t need = (size_t)numel * (size_t)cnnrt_npy_elem_size(info->dtype);
  if (len - info->data_offset < need) {
    return "the .npy file is truncated (fewer data bytes than its shape needs)";
  }
  return NULL;
}

/* Writes a .npy (format 1.0) header for a C-ordered array to f. Returns 0 on success. */
static inline int cnnrt_npy_write_header(FILE *f, int dtype, int rank, const int64_t *dims) {
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   cnnrt_npy_descr(dtype));
  for (int i = 0; i < rank; i++) {
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)dims[i],
                  rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
  }
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  unsigned short hlen = (unsigned short)((size_t)n + pad + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n) {
    return -1;
  }
  for (size_t i = 0; i < pad; i++) {
    fputc(' ', f);
  }
  fputc('\n', f);
  return ferror(f) ? -1 : 0;
}

#endif
