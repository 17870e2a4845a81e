/* reentrant.c — generated code is reentrant: several contexts of one model, and two different
 * models, run at the same time on several threads and give the very results of a sequential run.
 *
 * Built against the quickstart model compiled twice and a second, different network of the same
 * input and output sizes (tests/examples/example_test.py):
 *   cnncc fashion_cnn.onnx -o W/fashion_a.c                          (weights embedded)
 *   cnncc fashion_cnn.onnx -o W/fashion_b.c --weights W/fashion_b.bin (weights loaded here)
 *   cnncc other_cnn.onnx -o W/other.c                                 (another model)
 *
 *   ./reentrant W/fashion_b.bin [ITERATIONS]
 *
 * 1. Sequential reference: every test input through each model (one arena each).
 * 2. Six threads at once, each with its own arena: two run model A, two run model B (sharing one
 *    copy of B's weights, read-only), two run the other model; each runs ITERATIONS inferences
 *    over the inputs, starting at different ones, and compares every output bit for bit with
 *    its model's sequential reference.
 * The thread arenas start out filled with garbage, the reference arenas with zeros: results must
 * not depend on what the arena held before. Exit status 0 when everything matched. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fashion_a.h"
#include "fashion_b.h"
#include "other.h"

#if FASHION_A_INPUT0_SIZE != FASHION_B_INPUT0_SIZE ||                                              \
    FASHION_A_OUTPUT0_SIZE != FASHION_B_OUTPUT0_SIZE || FASHION_A_WEIGHTS_EMBEDDED != 1 ||         \
    FASHION_B_WEIGHTS_EMBEDDED != 0
#error "expected the same model twice, A with embedded weights, B with a weights file"
#endif
#if OTHER_INPUT0_SIZE != FASHION_A_INPUT0_SIZE || OTHER_OUTPUT0_SIZE != FASHION_A_OUTPUT0_SIZE
#error "expected another model with the same input and output sizes"
#endif

#define N_INPUTS 8
#define IN_SIZE FASHION_A_INPUT0_SIZE
#define OUT_SIZE FASHION_A_OUTPUT0_SIZE

typedef int (*run_fn)(void *arena, const void *weights, const void *const *inputs,
                      void *const *outputs);

static float inputs[N_INPUTS][IN_SIZE];
static float reference[N_INPUTS][OUT_SIZE];       /* models A and B */
static float reference_other[N_INPUTS][OUT_SIZE]; /* the other model */

typedef struct {
  const char *name;
  run_fn run;
  const void *weights;
  float (*ref)[OUT_SIZE]; /* its model's sequential results (read only) */
  void *arena;
  int start;
  long iterations;
  long runs, mismatches, failures; /* results */
} worker;

static void *alloc64(size_t bytes) {
  void *p = NULL;
  return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

static int infer(run_fn run, void *arena, const void *weights, const float *in, float *out) {
  const void *ins[1] = {in};
  void *outs[1] = {out};
  return run(arena, weights, ins, outs);
}

static void *work(void *arg) {
  worker *w = arg;
  float out[OUT_SIZE];
  for (long it = 0; it < w->iterations; it++) {
    int i = (int)((w->start + it) % N_INPUTS);
    memset(out, 0xff, sizeof out);
    if (infer(w->run, w->arena, w->weights, inputs[i], out) != 0) {
      w->failures++;
    } else if (memcmp(out, w->ref[i], sizeof out) != 0) {
      w->mismatches++;
    }
    w->runs++;
  }
  return NULL;
}

/* Reads the whole weights file into a 64-byte aligned buffer of exactly `bytes` bytes. */
static void *load_weights(const char *path, long bytes) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return NULL;
  }
  void *w = alloc64((size_t)bytes);
  int ok = w != NULL && fread(w, 1, (size_t)bytes, f) == (size_t)bytes && fgetc(f) == EOF;
  fclose(f);
  if (!ok) {
    fprintf(stderr, "reentrant: %s: not %ld bytes of weights\n", path, bytes);
    free(w);
    return NULL;
  }
  return w;
}

/* Test images with pixels in [0, 1), from a fixed xorshift generator. */
static void make_inputs(void) {
  uint32_t s = 0x12345678u;
  for (int i = 0; i < N_INPUTS; i++) {
    for (int k = 0; k < IN_SIZE; k++) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      inputs[i][k] = (float)(s >> 8) / 16777216.0f;
    }
  }
}

/* 1. The sequential reference, in zeroed arenas; B must match A bit for bit. */
static int sequential(void *arena_a, void *arena_b, void *arena_o, const void *weights_b) {
  for (int i = 0; i < N_INPUTS; i++) {
    float out_b[OUT_SIZE];
    if (infer(fashion_a_run, arena_a, NULL, inputs[i], reference[i]) != 0 ||
        infer(fashion_b_run, arena_b, weights_b, inputs[i], out_b) != 0 ||
        infer(other_run, arena_o, NULL, inputs[i], reference_other[i]) != 0) {
      fprintf(stderr, "reentrant: sequential run %d failed\n", i);
      return -1;
    }
    if (memcmp(out_b, reference[i], sizeof out_b) != 0) {
      fprintf(stderr,
              "reentrant: input %d: model B (weights file) differs from model A "
              "(embedded weights)\n",
              i);
      return -1;
    }
    if (memcmp(reference_other[i], reference[i], sizeof out_b) == 0) {
      fprintf(stderr, "reentrant: input %d: the other model gives model A's results\n", i);
      return -1;
    }
  }
  return 0;
}

/* 2. All workers at once. */
static int concurrent(worker *workers, int n_workers, long iterations) {
  pthread_t threads[8];
  int started = 0;
  for (; started < n_workers; started++) {
    int rc = pthread_create(&threads[started], NULL, work, &workers[started]);
    if (rc != 0) {
      fprintf(stderr, "reentrant: pthread_create: %s\n", strerror(rc));
      break;
    }
  }
  for (int t = 0; t < started; t++) {
    pthread_join(threads[t], NULL);
  }
  if (started < n_workers) {
    return -1;
  }
  int status = 0;
  for (int t = 0; t < n_workers; t++) {
    const worker *w = &workers[t];
    printf("thread %s: %ld runs, %ld mismatches, %ld failures\n", w->name, w->runs, w->mismatches,
           w->failures);
    if (w->runs != iterations || w->mismatches != 0 || w->failures != 0) {
      status = -1;
    }
  }
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s WEIGHTS_B.bin [ITERATIONS]\n", argv[0]);
    return 2;
  }
  long iterations = argc == 3 ? strtol(argv[2], NULL, 10) : 200;
  if (iterations < 1) {
    fprintf(stderr, "reentrant: bad iteration count\n");
    return 2;
  }
  worker workers[6] = {
      {"A1", fashion_a_run, NULL, reference, NULL, 0, iterations, 0, 0, 0},
      {"A2", fashion_a_run, NULL, reference, NULL, 3, iterations, 0, 0, 0},
      {"B1", fashion_b_run, NULL, reference, NULL, 5, iterations, 0, 0, 0},
      {"B2", fashion_b_run, NULL, reference, NULL, 6, iterations, 0, 0, 0},
      {"O1", other_run, NULL, reference_other, NULL, 1, iterations, 0, 0, 0},
      {"O2", other_run, NULL, reference_other, NULL, 4, iterations, 0, 0, 0},
  };
  const int n_workers = (int)(sizeof workers / sizeof workers[0]);

  void *weights_b = load_weights(argv[1], FASHION_B_WEIGHTS_BYTES);
  void *ref_arena_a = alloc64(FASHION_A_ARENA_BYTES);
  void *ref_arena_b = alloc64(FASHION_B_ARENA_BYTES);
  void *ref_arena_o = alloc64(OTHER_ARENA_BYTES);
  int ok = weights_b != NULL && ref_arena_a != NULL && ref_arena_b != NULL && ref_arena_o != NULL;
  if (ok) {
    memset(ref_arena_a, 0, FASHION_A_ARENA_BYTES);
    memset(ref_arena_b, 0, FASHION_B_ARENA_BYTES);
    memset(ref_arena_o, 0, OTHER_ARENA_BYTES);
  }
  for (int t = 0; t < n_workers; t++) {
    int is_b = workers[t].run == fashion_b_run, is_o = workers[t].run == other_run;
    size_t bytes = is_o ? OTHER_ARENA_BYTES : is_b ? FASHION_B_ARENA_BYTES : FASHION_A_ARENA_BYTES;
    workers[t].weights = is_b ? weights_b : NULL;
    workers[t].arena = alloc64(bytes);
    if (workers[t].arena == NULL) {
      ok = 0;
    } else {
      memset(workers[t].arena, 0xa5 + t, bytes); /* garbage: must not matter */
    }
  }
  if (!ok) {
    fprintf(stderr, "reentrant: out of memory or no weights\n");
  } else {
    make_inputs();
    ok = sequential(ref_arena_a, ref_arena_b, ref_arena_o, weights_b) == 0 &&
         concurrent(workers, n_workers, iterations) == 0;
    printf("%s\n", ok ? "OK: concurrent results are bit-identical to sequential ones" : "FAILED");
  }

  for (int t = 0; t < n_workers; t++) {
    free(workers[t].arena);
  }
  free(ref_arena_a);
  free(ref_arena_b);
  free(ref_arena_o);
  free(weights_b);
  return ok ? 0 : 1;
}
