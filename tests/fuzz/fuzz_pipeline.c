/* fuzz_pipeline.c — libFuzzer target: the whole compiler on small ONNX models.
 *
 * load → --shape/--bind (none) → toposort → infer+fold → dce → BN fold → fuse → schedule →
 * memory plan → codegen, exactly as `cnncc model.onnx -o OUT/NAME.c` runs it
 * (cn_load_and_optimize + cn_codegen). The model bytes are written to a per-process scratch
 * folder under /dev/shm (cn_load_and_optimize reads a file) and the generated files land there
 * too; the folder is emptied after every input and removed at exit.
 *
 * Each run is kept bounded: inputs over 64 KiB and graphs with more than MAX_NODES nodes (or
 * MAX_INITIALIZERS initializers) are refused before the compiler sees them. The code generation
 * options (target, threads, --main, --weights) are derived from a hash of the input so that a
 * given input always takes the same path (reproducible crashes). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/emit.h"
#include "compiler/pipeline.h"
#include "onnx.pb-c.h"
#include "onnx_mutator.h"

enum { MAX_INPUT_BYTES = 64 * 1024, MAX_NODES = 48, MAX_INITIALIZERS = 64 };

static char scratch_dir[64];

static void empty_dir(bool remove_dir) {
  if (!scratch_dir[0]) {
    return;
  }
  DIR *dir = opendir(scratch_dir);
  if (dir) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(dir)) != NULL) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        snprintf(path, sizeof path, "%s/%s", scratch_dir, e->d_name);
        unlink(path);
      }
    }
    closedir(dir);
  }
  if (remove_dir) {
    rmdir(scratch_dir);
  }
}

static void cleanup_at_exit(void) { empty_dir(true); }

static bool make_scratch_dir(void) {
  if (scratch_dir[0]) {
    return true;
  }
  const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    if (!bases[i] || access(bases[i], W_OK) != 0) {
      continue;
    }
    snprintf(scratch_dir, sizeof scratch_dir, "%s/cnncc-fuzz-XXXXXX", bases[i]);
    if (mkdtemp(scratch_dir)) {
      atexit(cleanup_at_exit);
      return true;
    }
  }
  scratch_dir[0] = '\0';
  return false;
}

/* Refuses inputs whose graph would make one run slow: too many nodes or initializers. The
 * loader decodes the bytes again; this pre-check only bounds the work. */
static bool small_enough(const uint8_t *data, size_t size) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m) {
    return true; /* the loader reports it: cheap */
  }
  bool ok = !m->graph ||
            (m->graph->n_node <= MAX_NODES && m->graph->n_initializer <= MAX_INITIALIZERS);
  onnx__model_proto__free_unpacked(m, NULL);
  return ok;
}

static uint32_t fnv1a(const uint8_t *data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) {
    h = (h ^ data[i]) * 16777619u;
  }
  return h;
}

static bool write_all(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    return false;
  }
  bool ok = fwrite(data, 1, size, f) == size;
  return (fclose(f) == 0) && ok;
}

/* Structure-aware mutations (onnx_mutator.h), mixed with libFuzzer's byte-level ones. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  return onnx_mutate(data, size, max_size, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT_BYTES || !small_enough(data, size)) {
    return -1; /* not added to the corpus */
  }
  if (!make_scratch_dir()) {
    fprintf(stderr, "fuzz_pipeline: cannot create a scratch folder\n");
    abort();
  }
  char model[128], out[128], weights[128];
  snprintf(model, sizeof model, "%s/model.onnx", scratch_dir);
  snprintf(out, sizeof out, "%s/net.c", scratch_dir);
  snprintf(weights, sizeof weights, "%s/net.bin", scratch_dir);
  if (!write_all(model, data, size)) {
    fprintf(stderr, "fuzz_pipeline: cannot write %s\n", model);
    abort();
  }

  uint32_t h = fnv1a(data, size);
  cn_options opt;
  memset(&opt, 0, sizeof opt);
  opt.model_path = model;
  opt.out_path = out;
  opt.target = (h & 1) ? CN_TARGET_GENERIC : CN_TARGET_X86_64;
  opt.max_threads = (h & 2) ? 4 : 1;
  opt.emit_main = (h & 4) != 0;
  opt.weights_path = (h & 8) ? weights : NULL;

  cn_diag d;
  cn_diag_init(&d, model);
  d.quiet = true;
  cn_graph *g = cn_load_and_optimize(&opt, &d);
  if (g) {
    CN_ASSERT(!cn_diag_failed(&d));
    bool ok = cn_codegen(g, &opt, &d);
    CN_ASSERT(ok == !cn_diag_failed(&d));
    cn_graph_free(g);
  } else {
    CN_ASSERT(cn_diag_failed(&d));
  }
  empty_dir(false);
  return 0;
}
