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
 * runs of one engine, then BURST of the other, and the round's ratio is cnncc's median run over
 * ORT's (bench/pair_util.h: pair_time). After 3 warm-up runs of each engine, ROUNDS rounds are
 * timed (CLOCK_MONOTONIC). The last stdout line is
 *   pair_ratio=<median of the round ratios> q25=.. q75=.. cnncc_ms=<median run> ort_ms=..
 *   cnncc_min=.. ort_min=.. max_rel_diff=<max|cnncc - ORT| / max|ORT| of output 0>
 * A TRACE environment variable prints every round first.
 *
 * No ONNX Runtime header is needed: the functions used are entries of the version-1 part of
 * struct OrtApi (onnxruntime_c_api.h), whose order ONNX Runtime keeps fixed in every release
 * (new entries are only appended), so they are addressed by index. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m.h"
/* The generated driver's host helpers (huge-page buffers, weights and .npy input loading), so
 * that cnncc's side runs on buffers allocated exactly as in its own driver; its other functions
 * (the command line, output files) go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnnrt_driver.h"
#include "pair_util.h"
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

/* The two ways pair_time alternates: cnncc's generated code (0) and ONNX Runtime (1). */
typedef struct engines {
  const pair_model *m;
  void *out_cn;
  ort *o;
} engines;

static void run_engine(void *ctx, int which) {
  engines *e = (engines *)ctx;
  if (which == 0) {
    (void)pair_model_run(e->m, e->out_cn, NULL);
  } else {
    ort_run(e->o);
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s LIBONNXRUNTIME MODEL.onnx INPUT.npy WEIGHTS.bin|- ROUNDS BURST\n",
            argv[0]);
    return 2;
  }
  const int rounds = atoi(argv[5]), burst = atoi(argv[6]);
  if (rounds < 1 || burst < 2) {
    fprintf(stderr, "pair_ort: ROUNDS >= 1, BURST >= 2\n");
    return 2;
  }
  pair_model m;
  if (pair_model_load(&m, PAIR_MODEL_DESC(M, m), "pair_ort", argv[3], argv[4]) != 0) {
    return 1;
  }
  float *out_cn = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  float *out_ort = (float *)cnnrt_driver_alloc(sizeof(float) * M_OUTPUT0_SIZE);
  ort o;
  if (!out_cn || !out_ort || ort_open(&o, argv[1], argv[2], m.in, out_ort) != 0) {
    return 1;
  }
  engines e = {&m, out_cn, &o};
  for (int i = 0; i < 3; i++) {
    if (pair_model_run(&m, out_cn, NULL) != 0) {
      fprintf(stderr, "pair_ort: m_run failed\n");
      return 1;
    }
    ort_run(&o);
  }
  const double rel = pair_rel_diff(out_cn, out_ort, M_OUTPUT0_SIZE);
  pair_result r;
  if (pair_time(rounds, burst, run_engine, &e, "cnncc", "ort", &r) != 0) {
    return 1;
  }
  printf("pair_ratio=%.4f q25=%.4f q75=%.4f cnncc_ms=%.3f ort_ms=%.3f cnncc_min=%.3f ort_min=%.3f "
         "max_rel_diff=%.3g\n",
         r.ratio_median, r.ratio_q25, r.ratio_q75, 1e3 * r.a_median, 1e3 * r.b_median,
         1e3 * r.a_min, 1e3 * r.b_min, rel);
  return 0;
}
