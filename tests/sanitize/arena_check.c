/* arena_check.c — runs a model compiled by cnncc in a debug build (-DCNNRT_DEBUG: the runtime's
 * CNNRT_ASSERTs are live) with its arena fenced and poisoned, and checks what the memory plan
 * promises:
 *
 *   - nothing is written outside [arena, arena + ARENA_BYTES): guard zones of GUARD bytes on
 *     both sides hold a canary pattern that must survive every run;
 *   - nothing is read from the arena before it is written in the same run: the arena is filled
 *     with a different pattern before each run (0xff bytes are NaNs in float32, 0x00, 0x5a) and
 *     the outputs must be bit-identical across patterns;
 *   - the weights are never written (compile with --weights FILE: they are checked against a
 *     copy; embedded weights are const data anyway);
 *   - the inputs are never written;
 *   - the outputs match the reference (optional): logits of every input within a relative
 *     tolerance of a reference .npy with one row per input.
 *
 * Built by tests/sanitize/sanitize_test.sh against the generated NAME.c/NAME.h, with
 *   -DMODEL_HEADER='"fashion.h"' -DMODEL_PREFIX=fashion -DMODEL_PREFIX_UPPER=FASHION
 * usage: arena_check [--weights FILE] [--ref REF.npy] [--tol T] IN.npy...
 * (a float32 model with one input and one output) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_HEADER
#include "cnnrt_npy.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define M(suffix) CAT(MODEL_PREFIX, suffix)
#define MU(suffix) CAT(MODEL_PREFIX_UPPER, suffix)

enum { GUARD = 4096 };
static const unsigned char CANARY = 0xa5;

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "arena_check: FAIL: " __VA_ARGS__);                                          \
      fputc('\n', stderr);                                                                         \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "arena_check: cannot open %s\n", path);
    exit(2);
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) {
      break;
    }
    n += got;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* Loads a float32 .npy; returns its elements (malloc'd) and their count. */
static float *load_f32(const char *path, int64_t *count) {
  size_t len;
  unsigned char *buf = read_file(path, &len);
  cnnrt_npy_info info;
  const char *err = cnnrt_npy_parse(buf, len, &info);
  if (err || info.dtype != CNNRT_F32) {
    fprintf(stderr, "arena_check: %s: %s\n", path, err ? err : "not float32");
    exit(2);
  }
  float *v = malloc((size_t)(info.numel ? info.numel : 1) * sizeof(float));
  memcpy(v, buf + info.data_offset, (size_t)info.numel * sizeof(float));
  free(buf);
  *count = info.numel;
  return v;
}

static void *alloc64(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n ? n : 1) != 0) {
    fprintf(stderr, "arena_check: out of memory\n");
    exit(2);
  }
  return p;
}

int main(int argc, char **argv) {
  const char *ref_path = NULL, *weights_path = NULL;
  double tol = 1e-4;
  int first = 1;
  while (first < argc && strncmp(argv[first], "--", 2) == 0) {
    if (strcmp(argv[first], "--weights") == 0 && first + 1 < argc) {
      weights_path = argv[first + 1];
      first += 2;
    } else if (strcmp(argv[first], "--ref") == 0 && first + 1 < argc) {
      ref_path = argv[first + 1];
      first += 2;
    } else if (strcmp(argv[first], "--tol") == 0 && first + 1 < argc) {
      tol = atof(argv[first + 1]);
      first += 2;
    } else {
      fprintf(stderr, "usage: arena_check [--weights FILE] [--ref REF.npy] [--tol T] IN.npy...\n");
      return 2;
    }
  }
  if (first >= argc || MU(_NUM_INPUTS) != 1 || MU(_NUM_OUTPUTS) != 1 ||
      MU(_INPUT0_DTYPE) != 1 || MU(_OUTPUT0_DTYPE) != 1) {
    fprintf(stderr, "arena_check: needs inputs, and a model with one input and one output\n");
    return 2;
  }
#ifndef CNNRT_DEBUG
  fprintf(stderr, "arena_check: warning: built without -DCNNRT_DEBUG\n");
#endif
  const int64_t arena_bytes = MU(_ARENA_BYTES);
  const int64_t in_numel = MU(_INPUT0_SIZE), out_numel = MU(_OUTPUT0_SIZE);
  printf("arena_check: arena %lld bytes, input %lld, output %lld elements\n",
         (long long)arena_bytes, (long long)in_numel, (long long)out_numel);

  /* The arena between two guard zones, in one block aligned as the model asks. */
  size_t total = (size_t)arena_bytes + 2 * GUARD;
  unsigned char *block = alloc64(total);
  unsigned char *arena = block + GUARD;
  float *out = alloc64((size_t)out_numel * sizeof(float));
  float *first_out = malloc((size_t)out_numel * sizeof(float));
  float *ref = NULL;
  int64_t ref_count = 0;
  if (ref_path) {
    ref = load_f32(ref_path, &ref_count);
  }
  /* Weights from a file: a copy to check that no run writes them. */
  unsigned char *weights = NULL, *weights_copy = NULL;
  size_t weights_len = 0;
  if (weights_path) {
    unsigned char *w = read_file(weights_path, &weights_len);
    CHECK((int64_t)weights_len == MU(_WEIGHTS_BYTES), "%s: %zu bytes, the model wants %lld",
          weights_path, weights_len, (long long)MU(_WEIGHTS_BYTES));
    weights = alloc64(weights_len);
    memcpy(weights, w, weights_len);
    weights_copy = w;
  } else if (!MU(_WEIGHTS_EMBEDDED)) {
    fprintf(stderr, "arena_check: the model's weights are in a file: give --weights FILE\n");
    return 2;
  }
  static const unsigned char patterns[] = {0xff, 0x00, 0x5a};
  for (int i = first; i < argc; i++) {
    int64_t n;
    float *x = load_f32(argv[i], &n);
    CHECK(n == in_numel, "%s: %lld elements, the model takes %lld", argv[i], (long long)n,
          (long long)in_numel);
    if (n != in_numel) {
      free(x);
      continue;
    }
    float *x_in = alloc64((size_t)n * sizeof(float));
    memcpy(x_in, x, (size_t)n * sizeof(float));
    for (size_t p = 0; p < sizeof patterns; p++) {
      memset(block, CANARY, GUARD);
      memset(arena, patterns[p], (size_t)arena_bytes);
      memset(arena + arena_bytes, CANARY, GUARD);
      memset(out, patterns[p], (size_t)out_numel * sizeof(float));
      const void *ins[1] = {x_in};
      void *outs[1] = {out};
      int rc = M(_run)(arena, weights, ins, outs);
      CHECK(rc == 0, "%s: run returned %d", argv[i], rc);
      for (size_t k = 0; k < GUARD; k++) {
        if (block[k] != CANARY || arena[arena_bytes + (int64_t)k] != CANARY) {
          CHECK(0, "%s: a guard byte around the arena was overwritten (%s, offset %zu)", argv[i],
                block[k] != CANARY ? "before" : "after", k);
          break;
        }
      }
      CHECK(memcmp(x_in, x, (size_t)n * sizeof(float)) == 0, "%s: the input was modified",
            argv[i]);
      if (p == 0) {
        memcpy(first_out, out, (size_t)out_numel * sizeof(float));
      } else {
        CHECK(memcmp(first_out, out, (size_t)out_numel * sizeof(float)) == 0,
              "%s: outputs depend on the arena's previous contents (pattern 0x%02x vs 0x%02x)",
              argv[i], patterns[p], patterns[0]);
      }
    }
    for (int64_t k = 0; k < out_numel; k++) {
      CHECK(isfinite(out[k]), "%s: output %lld is not finite", argv[i], (long long)k);
    }
    if (ref) {
      int row = i - first;
      if ((int64_t)(row + 1) * out_numel > ref_count) {
        CHECK(0, "%s: the reference has no row %d", argv[i], row);
      } else {
        const float *r = ref + (int64_t)row * out_numel;
        double max_ref = 0, max_d = 0;
        for (int64_t k = 0; k < out_numel; k++) {
          max_ref = fmax(max_ref, fabs(r[k]));
          max_d = fmax(max_d, fabs((double)out[k] - r[k]));
        }
        CHECK(max_d <= tol * max_ref, "%s: max|d| = %g > %g * max|ref| (%g)", argv[i], max_d, tol,
              max_ref);
        printf("arena_check: %s: max|d| = %.3g (max|ref| %.3g)\n", argv[i], max_d, max_ref);
      }
    }
    free(x_in);
    free(x);
  }
  if (weights_copy) {
    CHECK(memcmp(weights_copy, weights, weights_len) == 0, "the weights were modified");
  }
  free(weights);
  free(weights_copy);
  free(ref);
  free(first_out);
  free(out);
  free(block);
  printf("arena_check: %s (%d input file(s), %d failure(s))\n", failures ? "FAILED" : "ok",
         argc - first, failures);
  return failures ? 1 : 0;
}
