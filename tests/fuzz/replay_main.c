/* replay_main.c — runs a libFuzzer harness (fuzz_<target>.c) once on each file named on the
 * command line, without libFuzzer: the regression corpus (tests/fuzz/regressions/<target>/) is
 * replayed by ordinary ctest cases built with the project's C compiler (gcc or clang) under
 * ASan+UBSan, so it runs on machines without clang's libFuzzer too.
 *
 *   fuzz_replay_<target> FILE...
 *
 * A crash, sanitizer report or failed assertion in the harness ends the process (non-zero
 * status) and names the file being run; otherwise prints how many files passed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The structure-aware mutator of the ONNX targets calls libFuzzer's byte mutator; replaying
 * never mutates, but the symbol must exist. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) {
  (void)data;
  (void)max_size;
  return size;
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      break;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    size_t len = 0;
    unsigned char *data = read_file(argv[i], &len);
    if (!data) {
      fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
      return 2;
    }
    fprintf(stderr, "running %s (%zu bytes)\n", argv[i], len);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
  }
  printf("%d regression input(s) pass\n", argc - 1);
  return 0;
}
