/* fuzz_npy.c — libFuzzer target: the .npy header parser (runtime/cnnrt_npy.h).
 *
 * cnnrt_npy_parse reads untrusted files in the generated driver program and in cnncc --bind.
 * On success its answer must describe data that lies inside the buffer; the harness checks
 * that by touching the last byte of the data (ASan reports a read past the end), and that the
 * header a writer would produce for the same array parses back to the same shape. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cnnrt_npy.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_npy: check failed: %s (line %d)\n", #cond, __LINE__);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size heap copy, so that ASan sees any read past `size`. */
  unsigned char *buf = malloc(size ? size : 1);
  if (size) {
    memcpy(buf, data, size);
  }
  cnnrt_npy_info info;
  const char *err = cnnrt_npy_parse(buf, size, &info);
  if (err == NULL) {
    CHECK(info.rank >= 0 && info.rank <= CNNRT_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < info.rank; i++) {
      CHECK(info.dims[i] >= 0);
      numel *= info.dims[i];
    }
    CHECK(numel == info.numel);
    size_t esize = (size_t)cnnrt_npy_elem_size(info.dtype);
    CHECK(esize > 0);
    CHECK(info.data_offset <= size);
    size_t bytes = (size_t)info.numel * esize;
    CHECK(bytes <= size - info.data_offset);
    if (bytes > 0) {
      sink = buf[info.data_offset + bytes - 1];
    }
    /* Round trip through the writer: same dtype and shape. */
    char *img = NULL;
    size_t img_len = 0;
    FILE *f = open_memstream(&img, &img_len);
    CHECK(f != NULL);
    CHECK(cnnrt_npy_write_header(f, info.dtype, info.rank, info.dims) == 0);
    CHECK(fclose(f) == 0);
    cnnrt_npy_info back;
    /* The header alone describes no data unless the array is empty. */
    const char *err2 = cnnrt_npy_parse((const unsigned char *)img, img_len, &back);
    if (info.numel == 0) {
      CHECK(err2 == NULL);
    }
    CHECK(back.dtype == info.dtype && back.rank == info.rank);
    for (int i = 0; i < info.rank; i++) {
      CHECK(back.dims[i] == info.dims[i]);
    }
    CHECK(img_len % 64 == 0);
    free(img);
  } else {
    CHECK(err[0] != '\0');
  }
  free(buf);
  return 0;
}
