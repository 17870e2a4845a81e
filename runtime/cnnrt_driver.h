/* cnnrt_driver.h — the command-line driver that `cnncc --main` builds around a model:
 *
 *   ./prog in0.npy [in1.npy ...] [--out-dir DIR] [--bench N] [--threads T] [--weights FILE]
 *          [--vjp dy0.npy [dy1.npy ...]]
 *
 * reads the graph inputs from .npy files (in graph-input order), runs the model and writes every
 * graph output to DIR/<output name>.npy, the name with each character outside [A-Za-z0-9_]
 * replaced by '_' (bfloat16 tensors travel as their raw bits in uint16 arrays, as in ONNX's
 * numpy helpers). --bench N runs one warm-up then N timed runs and prints
 * `median_ms=<x> min_ms=<y>` as its last line. With a model compiled with --grad, --vjp takes
 * one upstream gradient per graph output (shaped like it) and, after the forward run, runs the
 * backward pass and also writes DIR/grad_<name>.npy for every float graph input and float
 * initializer (names sanitized as for outputs). Host-side code (stdio, malloc, clock_gettime):
 * it is never part of a model's own generated C. */
#ifndef CNNRT_DRIVER_H
#define CNNRT_DRIVER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h> /* madvise; declared when the including file defines _DEFAULT_SOURCE */
#endif

#include "cnnrt.h"
#include "cnnrt_npy.h"
#ifndef CNNRT_DRIVER_NO_THREADS
#include "cnnrt_threadpool.h"
#endif

typedef struct cnnrt_driver_tensor {
  const char *name;
  const char *file_name; /* sanitized name used for the output file */
  int dtype;
  int rank;
  const int64_t *dims;
} cnnrt_driver_tensor;

typedef int (*cnnrt_driver_run_fn)(void *arena, const void *weights, const void *const *inputs,
                                   void *const *outputs, const cnnrt_parallel *par);

/* NAME_backward_parallel (cnncc --grad). */
typedef int (*cnnrt_driver_backward_fn)(void *arena, const void *weights,
                                        const void *const *inputs, const void *const *outputs,
                                        const void *const *grad_outputs, void *const *grads,
                                        const cnnrt_parallel *par);

typedef struct cnnrt_driver_model {
  const char *name;
  int n_inputs;
  const cnnrt_driver_tensor *inputs;
  int n_outputs;
  const cnnrt_driver_tensor *outputs;
  int64_t arena_bytes;
  int64_t weights_bytes;
  int weights_embedded;
  const char *weights_file; /* default --weights path when not embedded */
  cnnrt_driver_run_fn run;
  uint64_t weights_checksum; /* FNV-1a of the weights file (NAME_WEIGHTS_CHECKSUM) */
  /* --grad models: gradients written by --vjp (file names "grad_<sanitized name>") */
  int n_grads;
  const cnnrt_driver_tensor *grads;
  cnnrt_driver_backward_fn backward; /* NULL: the model was compiled without --grad */
} cnnrt_driver_model;

static uint64_t cnnrt_driver_fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

static int64_t cnnrt_driver_numel(const cnnrt_driver_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) {
    n *= t->dims[i];
  }
  return n;
}

static unsigned char *cnnrt_driver_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = (unsigned char *)malloc(cap);
  while (buf) {
    if (n == cap) {
      unsigned char *nb = (unsigned char *)realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
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

/* Reads a weights file that should hold exactly `bytes` bytes straight into a 64-byte aligned
 * buffer (cnnrt_driver_alloc). NULL when the file cannot be opened or memory is short;
 * otherwise *size_ok says whether the file had exactly `bytes` bytes. */
static void *cnnrt_driver_read_weights(const char *path, int64_t bytes, int *size_ok);

static int cnnrt_driver_is_float(int t) {
  return t == CNNRT_F32 || t == CNNRT_F64 || t == CNNRT_F16 || t == CNNRT_BF16;
}

static double cnnrt_driver_get_f(int t, const unsigned char *p, int64_t i) {
  switch (t) {
  case CNNRT_F32: { float v; memcpy(&v, p + i * 4, 4); return v; }
  case CNNRT_F64: { double v; memcpy(&v, p + i * 8, 8); return v; }
  case CNNRT_F16: { uint16_t v; memcpy(&v, p + i * 2, 2); return cnnrt_f16_to_f32(v); }
  default: return 0.0;
  }
}

static int64_t cnnrt_driver_get_i(int t, const unsigned char *p, int64_t i) {
  switch (t) {
  case CNNRT_I64: { int64_t v; memcpy(&v, p + i * 8, 8); return v; }
  case CNNRT_I32: { int32_t v; memcpy(&v, p + i * 4, 4); return v; }
  case CNNRT_I16: { int16_t v; memcpy(&v, p + i * 2, 2); return v; }
  case CNNRT_I8: return (int8_t)p[i];
  case CNNRT_U8: case CNNRT_BOOL: return p[i];
  case CNNRT_U16: { uint16_t v; memcpy(&v, p + i * 2, 2); return v; }
  case CNNRT_U32: { uint32_t v; memcpy(&v, p + i * 4, 4); return v; }
  case CNNRT_U64: { uint64_t v; memcpy(&v, p + i * 8, 8); return (int64_t)v; }
  default: return 0;
  }
}

static void cnnrt_driver_put_f(int t, unsigned char *p, int64_t i, double v) {
  switch (t) {
  case CNNRT_F32: { float f = (float)v; memcpy(p + i * 4, &f, 4); break; }
  case CNNRT_F64: memcpy(p + i * 8, &v, 8); break;
  case CNNRT_F16: { uint16_t h = cnnrt_f32_to_f16((float)v); memcpy(p + i * 2, &h, 2); break; }
  case CNNRT_BF16: { uint16_t h = cnnrt_f32_to_bf16((float)v); memcpy(p + i * 2, &h, 2); break; }
  default: break;
  }
}

static void cnnrt_driver_put_i(int t, unsigned char *p, int64_t i, int64_t v) {
  switch (t) {
  case CNNRT_I64: memcpy(p + i * 8, &v, 8); break;
  case CNNRT_I32: { int32_t x = (int32_t)v; memcpy(p + i * 4, &x, 4); break; }
  case CNNRT_I16: { int16_t x = (int16_t)v; memcpy(p + i * 2, &x, 2); break; }
  case CNNRT_I8: p[i] = (unsigned char)(int8_t)v; break;
  case CNNRT_U8: p[i] = (unsigned char)v; break;
  case CNNRT_BOOL: p[i] = v != 0; break;
  case CNNRT_U16: { uint16_t x = (uint16_t)v; memcpy(p + i * 2, &x, 2); break; }
  case CNNRT_U32: { uint32_t x = (uint32_t)v; memcpy(p + i * 4, &x, 4); break; }
  case CNNRT_U64: { uint64_t x = (uint64_t)v; memcpy(p + i * 8, &x, 8); break; }
  default: cnnrt_driver_put_f(t, p, i, (double)v); break;
  }
}

/* Loads one input .npy into dst (the model's dtype and shape). Returns 0 or prints an error. */
static int cnnrt_driver_load_input(const char *path, const cnnrt_driver_tensor *t, void *dst) {
  size_t len = 0;
  unsigned char *buf = cnnrt_driver_read_file(path, &len);
  if (!buf) {
    fprintf(stderr, "error: %s: cannot read: %s\n", path, strerror(errno));
    return -1;
  }
  cnnrt_npy_info info;
  const char *err = cnnrt_npy_parse(buf, len, &info);
  if (err) {
    fprintf(stderr, "error: %s: %s\n", path, err);
    free(buf);
    return -1;
  }
  int same_shape = info.rank == t->rank;
  for (int i = 0; same_shape && i < t->rank; i++) {
    same_shape = info.dims[i] == t->dims[i];
  }
  if (!same_shape) {
    fprintf(stderr, "error: %s: shape (", path);
    for (int i = 0; i < info.rank; i++) {
      fprintf(stderr, "%s%lld", i ? ", " : "", (long long)info.dims[i]);
    }
    fprintf(stderr, ") does not match input '%s' of shape (", t->name);
    for (int i = 0; i < t->rank; i++) {
      fprintf(stderr, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    }
    fprintf(stderr, ")\n");
    free(buf);
    return -1;
  }
  /* Accepted conversions: same kind, bool/int → anything numeric, float → float. */
  if (cnnrt_driver_is_float(info.dtype) && !cnnrt_driver_is_float(t->dtype)) {
    fprintf(stderr, "error: %s: floating-point data cannot feed input '%s', which is integer\n",
            path, t->name);
    free(buf);
    return -1;
  }
  const unsigned char *src = buf + info.data_offset;
  int64_t n = info.numel;
  if (info.dtype == t->dtype || (t->dtype == CNNRT_BF16 && info.dtype == CNNRT_U16)) {
    /* (bfloat16 travels as its raw bits in a uint16 array, as ONNX's numpy helpers keep it) */
    memcpy(dst, src, (size_t)n * (size_t)cnnrt_npy_elem_size(info.dtype));
  } else if (cnnrt_driver_is_float(info.dtype)) {
    for (int64_t i = 0; i < n; i++) {
      cnnrt_driver_put_f(t->dtype, (unsigned char *)dst, i, cnnrt_driver_get_f(info.dtype, src, i));
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      cnnrt_driver_put_i(t->dtype, (unsigned char *)dst, i, cnnrt_driver_get_i(info.dtype, src, i));
    }
  }
  free(buf);
  return 0;
}

static int cnnrt_driver_write_output(const char *dir, const cnnrt_driver_tensor *t,
                                     const void *data) {
  size_t len = strlen(dir) + strlen(t->file_name) + 8;
  char *path = (char *)malloc(len);
  if (!path) {
    return -1;
  }
  snprintf(path, len, "%s/%s.npy", dir, t->file_name);
  FILE *f = fopen(path, "wb");
  int rc = -1;
  if (!f) {
    fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
  } else {
    int64_t n = cnnrt_driver_numel(t);
    if (t->dtype == CNNRT_BF16) { /* numpy has no bfloat16: raw bits as uint16, as ONNX does */
      rc = cnnrt_npy_write_header(f, CNNRT_U16, t->rank, t->dims);
      size_t bytes = (size_t)n * 2;
      if (rc == 0 && bytes > 0 && fwrite(data, 1, bytes, f) != bytes) {
        rc = -1;
      }
    } else {
      rc = cnnrt_npy_write_header(f, t->dtype, t->rank, t->dims);
      size_t bytes = (size_t)n * (size_t)cnnrt_npy_elem_size(t->dtype);
      if (rc == 0 && bytes > 0 && fwrite(data, 1, bytes, f) != bytes) {
        rc = -1;
      }
    }
    if (fclose(f) != 0) {
      rc = -1;
    }
    if (rc != 0) {
      fprintf(stderr, "error: cannot write %s\n", path);
    }
  }
  free(path);
  return rc;
}

static double cnnrt_driver_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cnnrt_driver_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Buffers of at least CNNRT_DRIVER_HUGE bytes (a large model's weights, its arena) start on a
 * 2 MiB boundary and, on Linux, are marked for transparent huge pages (MADV_HUGEPAGE; a system
 * whose THP setting is "madvise", Debian's default, gives them only on request). Every run
 * streams all the weights once: in 4 KiB pages resnet50's 145 MB blob is 37,000 TLB misses per
 * run. The generated driver of resnet50, 240 runs each way alternating in bursts of 20 on one
 * core of a shared Zen 3: median 131 ms against 138 ms with 4 KiB pages (0.95x). The model's
 * own code allocates nothing; an application can do the same for the buffers it passes in. */
#define CNNRT_DRIVER_HUGE ((size_t)2 << 20)

static void *cnnrt_driver_alloc(int64_t bytes) {
  /* 64-byte alignment for the arena and the tensors: what the generated code expects. */
  size_t n = (size_t)(bytes > 0 ? bytes : 1);
  size_t align = 64;
  if (n >= CNNRT_DRIVER_HUGE) {
    align = CNNRT_DRIVER_HUGE;
  }
  n = (n + align - 1) / align * align;
  void *p = NULL;
#if defined(_ISOC11_SOURCE) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L)
  p = aligned_alloc(align, n);
#else
  if (posix_memalign(&p, align, n) != 0) {
    p = NULL;
  }
#endif
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p && align == CNNRT_DRIVER_HUGE) {
    (void)madvise(p, n, MADV_HUGEPAGE); /* a hint: without it the buffer just keeps 4 KiB pages */
  }
#endif
  if (p) {
    memset(p, 0, n);
  }
  return p;
}

static void *cnnrt_driver_read_weights(const char *path, int64_t bytes, int *size_ok) {
  *size_ok = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  unsigned char *buf = (unsigned char *)cnnrt_driver_alloc(bytes);
  size_t n = 0;
  while (buf && n < (size_t)bytes) {
    const size_t got = fread(buf + n, 1, (size_t)bytes - n, f);
    if (got == 0) {
      break;
    }
    n += got;
  }
  unsigned char extra;
  const int longer = buf && fread(&extra, 1, 1, f) == 1;
  fclose(f);
  *size_ok = buf && n == (size_t)bytes && !longer;
  return buf;
}

static int cnnrt_driver_usage(const cnnrt_driver_model *m, const char *prog) {
  fprintf(stderr, "usage: %s", prog);
  for (int i = 0; i < m->n_inputs; i++) {
    fprintf(stderr, " %s.npy", m->inputs[i].file_name);
  }
  fprintf(stderr, " [--out-dir DIR] [--bench N] [--threads T]%s\n",
          m->weights_embedded ? "" : " [--weights FILE]");
  return 1;
}

static int cnnrt_driver_main(int argc, char **argv, const cnnrt_driver_model *m) {
  const char *out_dir = ".";
  const char *weights_path = m->weights_file;
  const char *in_paths[64];
  int n_in = 0;
  const char *dy_paths[64];
  int n_dy = 0, in_vjp = 0;
  long bench = 0;
  long threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--out-dir") == 0 && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (strcmp(a, "--bench") == 0 && i + 1 < argc) {
      bench = strtol(argv[++i], NULL, 10);
      if (bench < 1) {
        fprintf(stderr, "error: --bench takes a positive count\n");
        return 1;
      }
    } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
      threads = strtol(argv[++i], NULL, 10);
      if (threads < 1) {
        fprintf(stderr, "error: --threads takes a positive count\n");
        return 1;
      }
    } else if (strcmp(a, "--weights") == 0 && i + 1 < argc) {
      weights_path = argv[++i];
    } else if (strcmp(a, "--vjp") == 0) {
      if (m->backward == NULL) {
        fprintf(stderr, "error: --vjp needs a model compiled with cnncc --grad\n");
        return 1;
      }
      in_vjp = 1; /* the following file names are upstream gradients */
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      cnnrt_driver_usage(m, argv[0]);
      return 0;
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "error: unknown option '%s'\n", a);
      return cnnrt_driver_usage(m, argv[0]);
    } else if (in_vjp && n_dy < 64) {
      dy_paths[n_dy++] = a;
    } else if (!in_vjp && n_in < 64) {
      in_paths[n_in++] = a;
    } else {
      fprintf(stderr, "error: too many inputs\n");
      return 1;
    }
  }
  if (n_in != m->n_inputs) {
    fprintf(stderr, "error: the model takes %d input%s, %d given\n", m->n_inputs,
            m->n_inputs == 1 ? "" : "s", n_in);
    return cnnrt_driver_usage(m, argv[0]);
  }
  if (in_vjp && n_dy != m->n_outputs) {
    fprintf(stderr, "error: --vjp takes one upstream gradient per output: %d expected, %d given\n",
            m->n_outputs, n_dy);
    return cnnrt_driver_usage(m, argv[0]);
  }
  const cnnrt_parallel *par = NULL;
#ifndef CNNRT_DRIVER_NO_THREADS
  cnnrt_threadpool pool;
  cnnrt_parallel hook;
  int pool_started = 0;
  if (threads > 1 && cnnrt_threadpool_start(&pool, (int)threads) == 0) {
    pool_started = 1;
    hook = cnnrt_threadpool_hook(&pool);
    par = &hook;
  }
#else
  if (threads > 1) {
    fprintf(stderr, "warning: built without threads (CNNRT_DRIVER_NO_THREADS); using one\n");
  }
#endif

  int rc = 1;
  void **ins = (void **)calloc((size_t)m->n_inputs + 1, sizeof(void *));
  void **outs = (void **)calloc((size_t)m->n_outputs + 1, sizeof(void *));
  void **dys = (void **)calloc((size_t)m->n_outputs + 1, sizeof(void *));
  void **grads = (void **)calloc((size_t)m->n_grads + 1, sizeof(void *));
  void *arena = cnnrt_driver_alloc(m->arena_bytes);
  void *weights = NULL;
  if (!ins || !outs || !arena || !dys || !grads) {
    fprintf(stderr, "error: out of memory\n");
    goto done;
  }
  if (!m->weights_embedded) {
    /* Read straight into the aligned buffer the model reads (no second copy: peak memory is
     * the weights once plus the arena). */
    int size_ok = 0;
    weights = weights_path ? cnnrt_driver_read_weights(weights_path, m->weights_bytes, &size_ok)
                           : NULL;
    if (!weights || !size_ok ||
        cnnrt_driver_fnv1a((const unsigned char *)weights, (size_t)m->weights_bytes) !=
            m->weights_checksum) {
      fprintf(stderr, "error: %s: %s\n", weights_path ? weights_path : "(no --weights given)",
              !weights ? "cannot read the weights file"
                       : "these are not this model's weights (size or checksum differ)");
      goto done;
    }
  }
  for (int i = 0; i < m->n_inputs; i++) {
    ins[i] = cnnrt_driver_alloc(cnnrt_driver_numel(&m->inputs[i]) * 8);
    if (!ins[i] || cnnrt_driver_load_input(in_paths[i], &m->inputs[i], ins[i]) != 0) {
      goto done;
    }
  }
  for (int i = 0; i < m->n_outputs; i++) {
    outs[i] = cnnrt_driver_alloc(cnnrt_driver_numel(&m->outputs[i]) * 8);
    if (!outs[i]) {
      goto done;
    }
  }
  if (m->run(arena, weights, (const void *const *)ins, outs, par) != 0) {
    fprintf(stderr, "error: the model failed to run\n");
    goto done;
  }
  for (int i = 0; i < m->n_outputs; i++) {
    if (cnnrt_driver_write_output(out_dir, &m->outputs[i], outs[i]) != 0) {
      goto done;
    }
  }
  if (in_vjp) {
    for (int i = 0; i < m->n_outputs; i++) {
      dys[i] = cnnrt_driver_alloc(cnnrt_driver_numel(&m->outputs[i]) * 8);
      if (!dys[i] || cnnrt_driver_load_input(dy_paths[i], &m->outputs[i], dys[i]) != 0) {
        goto done;
      }
    }
    for (int i = 0; i < m->n_grads; i++) {
      grads[i] = cnnrt_driver_alloc(cnnrt_driver_numel(&m->grads[i]) * 8);
      if (!grads[i]) {
        goto done;
      }
    }
    if (m->backward(arena, weights, (const void *const *)ins, (const void *const *)outs,
                    (const void *const *)dys, grads, par) != 0) {
      fprintf(stderr, "error: the backward pass failed to run\n");
      goto done;
    }
    for (int i = 0; i < m->n_grads; i++) {
      if (cnnrt_driver_write_output(out_dir, &m->grads[i], grads[i]) != 0) {
        goto done;
      }
    }
  }
  if (bench > 0) {
    double *t = (double *)malloc(sizeof(double) * (size_t)bench);
    if (!t) {
      goto done;
    }
    /* With --vjp, each timed run is the forward and the backward pass. */
    for (long r = -1; r < bench; r++) { /* r = -1: warm-up */
      double t0 = cnnrt_driver_now_ms();
      m->run(arena, weights, (const void *const *)ins, outs, par);
      if (in_vjp) {
        m->backward(arena, weights, (const void *const *)ins, (const void *const *)outs,
                    (const void *const *)dys, grads, par);
      }
      if (r >= 0) {
        t[r] = cnnrt_driver_now_ms() - t0;
      }
    }
    qsort(t, (size_t)bench, sizeof(double), cnnrt_driver_cmp_double);
    double median = bench % 2 ? t[bench / 2] : 0.5 * (t[bench / 2 - 1] + t[bench / 2]);
    printf("median_ms=%.4f min_ms=%.4f\n", median, t[0]);
    free(t);
  }
  rc = 0;
done:
#ifndef CNNRT_DRIVER_NO_THREADS
  if (pool_started) {
    cnnrt_threadpool_stop(&pool);
  }
#endif
  if (ins) {
    for (int i = 0; i < m->n_inputs; i++) {
      free(ins[i]);
    }
  }
  if (outs) {
    for (int i = 0; i < m->n_outputs; i++) {
      free(outs[i]);
    }
  }
  if (dys) {
    for (int i = 0; i < m->n_outputs; i++) {
      free(dys[i]);
    }
  }
  if (grads) {
    for (int i = 0; i < m->n_grads; i++) {
      free(grads[i]);
    }
  }
  free(dys);
  free(grads);
  free(ins);
  free(outs);
  free(arena);
  free(weights);
  return rc;
}

#endif
