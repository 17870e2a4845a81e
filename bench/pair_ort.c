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
#include <sys/mman.h>
#include <time.h>

#include "cnnrt_npy.h"
#include "m.h"

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

/* 2 MiB aligned and marked for huge pages, as the generated driver allocates them. */
static void *alloc_big(size_t n) {
  const size_t align = (size_t)2 << 20;
  n = (n + align - 1) / align * align;
  void *p = NULL;
  if (posix_memalign(&p, align, n ? n : align) != 0) {
    return NULL;
  }
  (void)madvise(p, n, MADV_HUGEPAGE);
  memset(p, 0, n);
  return p;
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) {
    return NULL;
  }
  long n = ftell(f);
  rewind(f);
  unsigned char *buf = n > 0 ? (unsigned char *)alloc_big((size_t)n) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
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
  size_t len;
  unsigned char *npy = read_file(argv[3], &len);
  cnnrt_npy_info info;
  const char *bad = npy ? cnnrt_npy_parse(npy, len, &info) : "cannot read";
  if (bad || info.numel != M_INPUT0_SIZE || info.dtype != CNNRT_F32) {
    fprintf(stderr, "pair_ort: %s: %s\n", argv[3], bad ? bad : "not the model's input");
    return 1;
  }
  float *in = (float *)alloc_big(sizeof(float) * M_INPUT0_SIZE);
  float *out_cn = (float *)alloc_big(sizeof(float) * M_OUTPUT0_SIZE);
  float *out_ort = (float *)alloc_big(sizeof(float) * M_OUTPUT0_SIZE);
  memcpy(in, npy + info.data_offset, sizeof(float) * M_INPUT0_SIZE);

  const void *weights = NULL;
  if (!M_WEIGHTS_EMBEDDED) {
    size_t wlen;
    weights = read_file(argv[4], &wlen);
    if (!weights || wlen != (size_t)M_WEIGHTS_BYTES) {
      fprintf(stderr, "pair_ort: %s: not the model's weights\n", argv[4]);
      return 1;
    }
  }
  void *arena = alloc_big(M_ARENA_BYTES);
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
    ratio[r] = median(t_cn + 1, timed) / median(t_ort + 1, timed);
    if (getenv("TRACE")) {
      printf("round %d cnncc_ms=%.3f ort_ms=%.3f ratio=%.4f\n", r, 1e3 * median(t_cn + 1, timed),
             1e3 * median(t_ort + 1, timed), ratio[r]);
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
