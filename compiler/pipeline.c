/* pipeline.c — the compiler, top to bottom. Read this file as the table of contents:
 *
 *   load (ONNX or DSL) → --shape / --bind → toposort → infer+fold → dce → fold BN → fuse
 *   → memory plan → codegen
 *
 * `--dump=PASS` prints the IR after PASS (or after every pass with --dump=all). */
#include "pipeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/emit.h"
#include "../frontends/dsl/dsl.h"
#include "../frontends/onnx/onnx_loader.h"
#include "../frontends/onnx/onnx_writer.h"
#include "../runtime/cnnrt_npy.h"
#include "passes/autodiff.h"
#include "passes/passes.h"
#include "train.h"


static void dump_after(const cn_options *opt, const cn_graph *g, const char *pass) {
  if (!opt->dump_pass || (strcmp(opt->dump_pass, pass) != 0 && strcmp(opt->dump_pass, "all") != 0)) {
    return;
  }
  cn_buf b = {0};
  cn_graph_dump(g, &b);
  printf("; after %s\n%s", pass, b.data ? b.data : "");
  cn_buf_free(&b);
}

static bool apply_shapes(cn_graph *g, const cn_options *opt, cn_diag *d) {
  for (int i = 0; i < opt->n_shapes; i++) {
    const cn_shape_opt *s = &opt->shapes[i];
    int v = cn_value_find(g, s->name);
    if (v < 0 || g->values[v].kind != CN_VALUE_INPUT) {
      cn_error(d, "--shape %s: the model has no input called '%s'", s->name, s->name);
      continue;
    }
    cn_value *val = &g->values[v];
    if (val->rank < 0) { /* the model gives no shape at all */
      val->rank = s->rank;
      for (int k = 0; k < s->rank; k++) {
        val->dims[k] = -1;
      }
    }
    if (val->rank != s->rank) {
      cn_error(d, "--shape %s: input '%s' has rank %d, the option gives %d dimensions", s->name,
               s->name, val->rank, s->rank);
      continue;
    }
    for (int k = 0; k < s->rank; k++) {
      if (val->dims[k] >= 0 && val->dims[k] != s->dims[k]) {
        cn_warning(d, "--shape %s: overriding fixed dimension %d (%" PRId64 " -> %" PRId64 ")",
                   s->name, k, val->dims[k], s->dims[k]);
      }
      val->dims[k] = s->dims[k];
    }
  }
  return !cn_diag_failed(d);
}

/* Whether a --bind array fits the input's declared shape (symbolic dimensions take any size). */
static bool bind_fits(const cn_value *v, int rank, const int64_t *dims) {
  if (v->rank < 0) {
    return true; /* the model declares no shape */
  }
  if (v->rank != rank) {
    return false;
  }
  for (int k = 0; k < rank; k++) {
    if (v->dims[k] >= 0 && v->dims[k] != dims[k]) {
      return false;
    }
  }
  return true;
}

/* --bind NAME=FILE.npy: the input becomes a constant with the file's contents. */
static bool apply_binds(cn_graph *g, const cn_options *opt, cn_diag *d) {
  for (int i = 0; i < opt->n_binds; i++) {
    const cn_bind_opt *b = &opt->binds[i];
    int v = cn_value_find(g, b->name);
    if (v < 0 || g->values[v].kind != CN_VALUE_INPUT) {
      cn_error(d, "--bind %s: the model has no input called '%s'", b->name, b->name);
      continue;
    }
    size_t len = 0;
    unsigned char *buf = cn_read_file(b->path, &len);
    if (!buf) {
      cn_error(d, "--bind %s: cannot read '%s'", b->name, b->path);
      continue;
    }
    cnnrt_npy_info info;
    const char *err = cnnrt_npy_parse(buf, len, &info);
    cn_value *val = &g->values[v];
    if (err) {
      cn_error(d, "--bind %s: %s: %s", b->name, b->path, err);
    } else if ((int)val->dtype != info.dtype) {
      cn_error(d, "--bind %s: %s holds %s data but the input is %s", b->name, b->path,
               cn_dtype_name((cn_dtype)info.dtype), cn_dtype_name(val->dtype));
    } else if (!bind_fits(val, info.rank, info.dims)) {
      char s1[160], s2[160];
      cn_error(d, "--bind %s: %s has shape %s but the input's is %s", b->name, b->path,
               cn_shape_str(info.rank, info.dims, s1, sizeof s1),
               cn_shape_str(val->rank, val->dims, s2, sizeof s2));
    } else {
      val->kind = CN_VALUE_CONST;
      cn_value_set_shape(val, info.rank, info.dims);
      memcpy(cn_value_alloc_data(val), buf + info.data_offset, (size_t)cn_value_bytes(val));
      int k = 0;
      for (int j = 0; j < g->n_inputs; j++) {
        if (g->inputs[j] != v) {
          g->inputs[k++] = g->inputs[j];
        }
      }
      g->n_inputs = k;
    }
    free(buf);
  }
  return !cn_diag_failed(d);
}

/* Float constants read by live nodes: the model's parameters after folding. */
static int64_t count_params(const cn_graph *g) {
  bool *seen = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  int64_t total = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && !seen[v] && g->values[v].kind == CN_VALUE_CONST &&
          cn_dtype_is_float(g->values[v].dtype)) {
        seen[v] = true;
        total += cn_value_numel(&g->values[v]);
      }
    }
  }
  free(seen);
  return total;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether the file starts like .cnn source: text (a comment, a keyword) where an ONNX model
 * starts with the protobuf tag of its ir_version field (0x08). */
static bool looks_like_dsl(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return false;
  }
  int c;
  while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\r' || c == '\n') {
  }
  fclose(f);
  return c == '#' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool cn_model_is_dsl(const char *path) {
  return has_suffix(path, ".cnn") || (!has_suffix(path, ".onnx") && looks_like_dsl(path));
}

cn_graph *cn_load_model(const cn_options *opt, cn_diag *d) {
  if (cn_model_is_dsl(opt->model_path)) {
    cn_dsl_options dopt = {0};
    dopt.n_param_files = opt->n_param_files;
    dopt.param_files = opt->param_files;
    return cn_dsl_load(opt->model_path, &dopt, d);
  }
  if (opt->n_param_files > 0) {
    cn_error(d, "--params with an ONNX model or a folder of .npy files applies to .cnn models; "
                "an ONNX model takes only a cnncc parameter file (written by NAME_train_write)");
    return NULL;
  }
  return cn_onnx_load(opt->model_path, d);
}

cn_graph *cn_load_and_optimize(const cn_options *opt, cn_diag *d) {
  cn_graph *g = cn_load_model(opt, d);
  if (!g) {
    return NULL;
  }
  if (opt->params_path && !cn_train_load_params(g, opt->params_path, d)) {
    cn_graph_free(g);
    return NULL;
  }
  g->keep_params = opt->grad; /* initializers keep their identity for the gradients */
  bool ok = apply_shapes(g, opt, d) && apply_binds(g, opt, d) && cn_pass_toposort(g, d);
  if (ok) {
    dump_after(opt, g, "load");
    ok = cn_pass_infer(g, d) && cn_pass_dce(g, d);
  }
  if (ok) {
    dump_after(opt, g, "infer");
    /* --emit-onnx writes the graph here, while it is still ONNX node for node with the original
     * attributes: BN folding and fusion below introduce internal ops and fused epilogues that
     * ONNX cannot express. Without -o (and --info) that is all cnncc is asked to do. */
    if (opt->emit_onnx_path) {
      ok = cn_onnx_write(g, opt->emit_onnx_path, d);
      if (ok && !opt->out_path && !opt->info) {
        return g;
      }
    }
  }
  if (ok && opt->grad) {
    /* --grad: the backward nodes are built on the graph as the model wrote it. BN folding is
     * skipped so that every initializer keeps its identity (and gets its own gradient). */
    ok = cn_pass_autodiff_outputs(g, d) && cn_pass_dce(g, d);
    if (ok) {
      dump_after(opt, g, "autodiff");
    }
    if (ok && opt->checkpoint) {
      ok = cn_pass_checkpoint(g, opt->checkpoint, d) && cn_pass_dce(g, d);
      if (ok) {
        dump_after(opt, g, "checkpoint");
      }
    }
  }
  if (ok && !opt->grad) {
    ok = cn_pass_fold_batchnorm(g, d) && cn_pass_dce(g, d);
  }
  if (ok) {
    dump_after(opt, g, "bnfold");
    ok = cn_pass_fuse_epilogues(g, d) && cn_pass_dce(g, d);
  }
  if (ok) {
    dump_after(opt, g, "fuse");
    g->n_params = count_params(g);
    if (opt->gemm_libxsmm) {
      ok = cn_pass_schedule_xsmm(g, (int)opt->target, opt->max_threads, d);
    }
    /* NCHW8c pays off with the AVX2 kernels only: tuned for AVX-512 (Zen 5), the NCHW
     * kernels (16-lane depthwise, output-channel GEMM) took 0.68-0.72x the time of the
     * blocked ones on whole mobilenet_v2 and efficientnet_b0 (docs/design.md, session 17). */
    if (ok && !opt->grad && !opt->no_nchwc && !opt->tune_avx512 &&
        opt->target == CN_TARGET_X86_64) {
      ok = cn_pass_layout(g, opt->max_threads, d);
    }
    ok = ok && cn_pass_schedule(g, (int)opt->target, opt->max_threads, !opt->no_winograd, opt->tune_avx512, d) && cn_pass_dce(g, d);
  }
  if (ok) {
    dump_after(opt, g, "schedule");
    ok = cn_pass_concat_in_place(g, d) && cn_pass_memplan(g, d);
  }
  if (ok) {
    dump_after(opt, g, "memplan");
  }
  if (!ok) {
    cn_graph_free(g);
    return NULL;
  }
  return g;
}

int cn_compile(const cn_options *opt) {
  if (opt->train) {
    return cn_train_compile(opt); /* compiler/train.c, codegen/emit_train.c */
  }
  cn_diag d;
  cn_diag_init(&d, opt->model_path);
  cn_graph *g = cn_load_and_optimize(opt, &d);
  if (!g) {
    return 1;
  }
  bool ok = !opt->out_path || cn_codegen(g, opt, &d); /* (--emit-onnx alone: written) */
  cn_graph_free(g);
  return ok ? 0 : 1;
}
