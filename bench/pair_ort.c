/* pair_ort.c — cnncc's generated code and ONNX Runtime timed in one process, alternating.
 *
 *   pair_ort LIBONNXRUNTIME MODEL.onnx INPUT.npy WEIGHTS.bin|- ROUNDS BURST
 *
 * Built by bench.py against one generated model (cnncc ... -o DIR/m.c --main: m.h and the .c
 * files but not m_main.c) with the same flags as the benchmarked program. ONNX Runtime is the
 * libonnxruntime.so.1 that onnxruntime-node bundles, opened with dlopen and driven through its C
 * API with the session options of ort_bench.js (intra-op and inter-op threads 1, sequential, all
 * graph optimizations). One thread only: with two, each engine's pool threads spin-wait for a
 * while after their work and take a core from the other engine (measured: cnncc's 2-thread runs
 * took 1.7x their time alone).
 *
 * Why: on a shared machine the speed of a core changes in phases lasting seconds, so two
 * processes timed one after the other can see different machines. Here each round runs BURST
 * runs of one engine, then BURST of the other (which goes first alternates), all within a
 * second or so, so both see the same phase. The first run of a burst follows the other engine's
 * runs, which have replaced the caches' contents; it is left out, as the process-level rounds
 * leave out their warm-up run, and the round's ratio is the median of the burst's other runs
 * against the other engine's. After 3 warm-up runs of each engine, ROUNDS rounds are timed
 * (CLOCK_MONOTONIC). The last stdout line is
 *   pair_ratio=<median of the round ratios> q25=.. q75=.. cnncc_ms=<median run> ort_ms=..
 *   cnncc_min=.. ort_min=.. max_rel_diff=<max|cnncc - ORT| / max|ORT| of output 0>
 * A TRACE environment variable prints every round first.
 *
 * No ONNX Runtime header is needed: the functions used are entries of the version-1 part of
 * struct OrtApi (onnxruntime_c_api.h), whose order ONNX Runtime keeps fixed in every release
 * (new entries are only appended), so they are addressed by index. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "m.h"
/* The generated driver's host helpers (huge-page buffers, weights and .npy input loading), so
 * that cnncc's side runs on buffers allocated exactly as in its own driver; its other functions
 * (the command line, output files) go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnnrt_driver.h"
#pragma GCC diagnostic pop

/* Indices into struct OrtApi (all from its version-1 part). */
enum {
  ORT_GET_ERROR_MESSAGE = 2,
  ORT_CREATE_ENV = 3,
  ORT_CREATE_SESSION = 7,
  ORT_RUN = 9,
  ORT_CREATE_SESSION_OPTIONS = 10,
  ORT_SET_SESSION_EXECUTION_MODE = 13,
  ORT_SET_GRAPH_OPTIMIZATION_LEVEL = 23,
  ORT_SET_INTRA_OP_NUM_THREADS = 24,
  ORT_SET_INTER_OP_NUM_THREADS = 25,
  ORT_CREATE_TENSOR_WITH_DATA = 49,
  ORT_CREATE_CPU_MEMORY_INFO = 69,
};
enum { ORT_LOGGING_LEVEL_ERROR = 3, ORT_SEQUENTIAL = 0, ORT_ENABLE_ALL = 99 };
enum { ORT_ARENA_ALLOCATOR = 1, ORT_MEM_TYPE_DEFAULT = 0, ORT_TENSOR_FLOAT = 1 };

typedef void (*ort_fn)(void);
typedef struct ort_api_base {
  const ort_fn *(*get_api)(uint32_t version);
  const char *(*get_version_string)(void);
} ort_api_base;

typedef struct ort {
  const ort_fn *api;
  void *session;
  void *input, *output; /* OrtValue over our own buffers */
} ort;

static void ort_check(const ort *o, void *status, const char *what) {
  if (status) {
    const char *(*msg)(void *) = (const char *(*)(void *))o->api[ORT_GET_ERROR_MESSAGE];
    fprintf(stderr, "pair_ort: ONNX Runtime %s: %s\n", what, msg(status));
    exit(1);
  }
}

static int ort_open(ort *o, const char *lib_path, const char *model, float *in, float *out) {
  void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "pair_ort: %s\n", dlerror());
    return -1;
  }
  const ort_api_base *(*get_base)(void);
  void *sym = dlsym(lib, "OrtGetApiBase");
  memcpy(&get_base, &sym, sizeof get_base); /* POSIX: object to function pointer */
  if (!get_base || !(o->api = get_base()->get_api(11))) {
    fprintf(stderr, "pair_ort: %s has no usable OrtGetApiBase\n", lib_path);
    return -1;
  }
  const ort_fn *api = o->api;
  void *env, *opts, *mem;
  ort_check(o, ((void *(*)(int, const char *, void **))api[ORT_CREATE_ENV])(
                   ORT_LOGGING_LEVEL_ERROR, "pair_ort", &env), "CreateEnv");
  ort_check(o, ((void *(*)(void **))api[ORT_CREATE_SESSION_OPTIONS])(&opts), "options");
  ort_check(o, ((void *(*)(void *, int))api[ORT_SET_SESSION_EXECUTION_MODE])(opts, ORT_SEQUENTIAL),
            "options");
  ort_check(o, ((void *(*)(void *, int))api[ORT_SET_GRAPH_OPTIMIZATION_LEVEL])(opts, ORT_ENABLE_ALL),
            "options");
  ort_check(o, ((void *(*)(void *, int))api[ORT_SET_INTRA_OP_NUM_THREADS])(opts, 1),
            "options");
  ort_check(o, ((void *(*)(void *, int))api[ORT_SET_INTER_OP_NUM_THREADS])(opts, 1), "options");
  ort_check(o, ((void *(*)(void *, const char *, void *, void **))api[ORT_CREATE_SESSION])(
                   env, model, opts, &o->session), "CreateSession");
  ort_check(o, ((void *(*)(int, int, void **))api[ORT_CREATE_CPU_MEMORY_INFO])(
                   ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &mem), "memory info");
  typedef void *(*tensor_fn)(void *, void *, size_t, const int64_t *, size_t, int, void **);
  const int64_t in_shape[] = M_INPUT0_SHAPE, out_shape[] = M_OUTPUT0_SHAPE;
  ort_check(o, ((tensor_fn)api[ORT_CREATE_TENSOR_WITH_DATA])(
                   mem, in, sizeof(float) * M_INPUT0_SIZE, in_shape, M_INPUT0_RANK,
                   ORT_TENSOR_FLOAT, &o->input), "input tensor");
  ort_check(o, ((tensor_fn)api[ORT_CREATE_TENSOR_WITH_DATA])(
                   mem, out, sizeof(float) * M_OUTPUT0_SIZE, out_shape, M_OUTPUT0_RANK,
                   ORT_TENSOR_FLOAT, &o->output), "output tensor");
  return 0;
}

static void ort_run(const ort *o) {
  typedef void *(*run_fn)(void *, const void *, const char *const *, const void *const *,
                          size_t, const char *const *, size_t, void **);
  const char *in_name = M_INPUT0_NAME, *out_name = M_OUTPUT0_NAME;
  void *out = o->output;
  ort_check(o, ((run_fn)o->api[ORT_RUN])(o->session, NULL, &in_name,
                                          (const void *const *)&o->input, 1, &out_name, 1, &out),
            "Run");
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cnnrt_driver_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s LIBONNXRUNTIME MODEL.onnx INPUT.npy WEIGHTS.bin|- ROUNDS BURST\n",
            argv[0]);
    return 2;
  }
  const int rounds = atoi(argv[5]), burst = atoi(argv[6]);
  if (M_NUM_INPUTS != 1 || M_INPUT0_DTYPE != 1 || M_OUTPUT0_DTYPE != 1 || rounds < 1 ||
      burst < 2) {
    fprintf(stderr, "pair_ort: one float input and output, ROUNDS >= 1, BURST >= 2\n");
    return 2;
  }
  const int64_t in_dims[] = M_INPUT0_SHAPE;
  const cnnrt_driver_tensor in_tensor = {M_INPUT0_NAME, M_INPUT0_NAME, M_INPUT0_DTYPE,
                                         M_INPUT0_RANK, in_dims};
  float *in = (float *)cnnrt_driver_alloc(sizeof(float) * M_INPUT0_SIZE);
  float *out_cn = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  float *out_ort = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  void *arena = cnnrt_driver_alloc(M_ARENA_BYTES);
  if (!in || !out_cn || !out_ort || !arena || cnnrt_driver_load_input(argv[3], &in_tensor, in)) {
    return 1;
  }
  const void *weights = NULL;
  if (!M_WEIGHTS_EMBEDDED) {
    int size_ok;
    weights = cnnrt_driver_read_weights(argv[4], M_WEIGHTS_BYTES, &size_ok);
    if (!weights || !size_ok) {
      fprintf(stderr, "pair_ort: %s: not the model's weights\n", argv[4]);
      return 1;
    }
  }
  ort o;
  if (ort_open(&o, argv[1], argv[2], in, out_ort) != 0) {
    return 1;
  }
  const void *const ins[1] = {in};
  void *const outs[1] = {out_cn};
  for (int i = 0; i < 3; i++) {
    if (m_run(arena, weights, ins, outs) != 0) {
      fprintf(stderr, "pair_ort: m_run failed\n");
      return 1;
    }
    ort_run(&o);
  }
  double diff = 0, ref = 0;
  for (int i = 0; i < M_OUTPUT0_SIZE; i++) {
    diff = fmax(diff, fabs((double)out_cn[i] - (double)out_ort[i]));
    ref = fmax(ref, fabs((double)out_ort[i]));
  }

  const int timed = burst - 1; /* runs per burst after its first */
  double *all_cn = malloc(sizeof(double) * (size_t)(rounds * timed));
  double *all_ort = malloc(sizeof(double) * (size_t)(rounds * timed));
  double *ratio = malloc(sizeof(double) * (size_t)rounds);
  double *t_cn = malloc(sizeof(double) * (size_t)burst);
  double *t_ort = malloc(sizeof(double) * (size_t)burst);
  if (!all_cn || !all_ort || !ratio || !t_cn || !t_ort) {
    return 1;
  }
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 2; k++) {
      const int cnncc_now = (k == 0) == (r % 2 == 0);
      for (int i = 0; i < burst; i++) {
        const double t0 = now();
        if (cnncc_now) {
          (void)m_run(arena, weights, ins, outs);
          t_cn[i] = now() - t0;
        } else {
          ort_run(&o);
          t_ort[i] = now() - t0;
        }
      }
    }
    memcpy(all_cn + r * timed, t_cn + 1, sizeof(double) * (size_t)timed);
    memcpy(all_ort + r * timed, t_ort + 1, sizeof(double) * (size_t)timed);
    const double med_cn = median(t_cn + 1, timed), med_ort = median(t_ort + 1, timed);
    ratio[r] = med_cn / med_ort;
    if (getenv("TRACE")) {
      printf("round %d cnncc_ms=%.3f ort_ms=%.3f ratio=%.4f\n", r, 1e3 * med_cn, 1e3 * med_ort,
             ratio[r]);
    }
  }
  const int n = rounds * timed;
  const double pair_ratio = median(ratio, rounds); /* sorts ratio */
  const double cn_ms = median(all_cn, n), ort_ms = median(all_ort, n); /* sort them */
  printf("pair_ratio=%.4f q25=%.4f q75=%.4f cnncc_ms=%.3f ort_ms=%.3f cnncc_min=%.3f ort_min=%.3f "
         "max_rel_diff=%.3g\n",
         pair_ratio, ratio[rounds / 4], ratio[3 * rounds / 4], 1e3 * cn_ms, 1e3 * ort_ms,
         1e3 * all_cn[0], 1e3 * all_ort[0], ref > 0 ? diff / ref : diff);
  return 0;
}
