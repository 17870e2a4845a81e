/* pipeline.h — the whole compiler as one call: load → passes → codegen → files. */
#ifndef CN_PIPELINE_H
#define CN_PIPELINE_H

#include "ir.h"

#define CNNCC_VERSION "0.1.0"

typedef enum cn_target {
  CN_TARGET_X86_64 = 0, /* AVX2/FMA (AVX-512 where it pays), portable fallback */
  CN_TARGET_AARCH64,
  CN_TARGET_ARMV7,
  CN_TARGET_CORTEX_M,
  CN_TARGET_GENERIC
} cn_target;

typedef struct cn_shape_opt {
  const char *name;
  int rank;
  int64_t dims[CN_MAX_RANK];
} cn_shape_opt;

typedef struct cn_bind_opt {
  const char *name;
  const char *path; /* .npy file */
} cn_bind_opt;

typedef struct cn_options {
  const char *model_path;
  const char *out_path;     /* OUT/NAME.c */
  const char *weights_path; /* --weights FILE.bin, or NULL for embedded weights */
  const char *name;         /* --name IDENT: prefix of the generated symbols (default NAME) */
  bool emit_main;           /* --main: also write OUT/NAME_main.c */
  const char *dump_pass;    /* --dump=PASS: print the IR after that pass ("all" for every pass) */
  const char *emit_onnx_path; /* --emit-onnx FILE: also write the model as ONNX (NULL: no) */
  bool info;                /* --info: print a model summary instead of compiling */
  bool grad;                /* --grad: also generate NAME_backward (vector-Jacobian products) */
  /* --checkpoint[=SPEC] with --grad or --train: recompute forward values in the backward pass
   * instead of keeping them (cn_pass_checkpoint; "" = automatic); NULL: off. */
  const char *checkpoint;
  cn_target target;
  int64_t max_arena; /* --max-arena BYTES, 0 = no limit */
  int max_threads;   /* --max-threads N: threads the arena's scratch is sized for (default 1) */
  bool gemm_libxsmm; /* --gemm libxsmm: GEMM-shaped layers call libxsmm (x86-64 only) */
  bool no_winograd;  /* --no-winograd: never choose Winograd convolution (A/B benchmarks) */
  bool no_nchwc;     /* --no-nchwc: keep every value NCHW (no layout pass; A/B benchmarks) */
  /* --tune: x86-64 kernel choices for a CPU with AVX-512 (true) or with AVX2 only (false);
   * either way the generated code builds and is correct on both. */
  bool tune_avx512;
  int n_shapes;
  cn_shape_opt *shapes;
  int n_binds;
  cn_bind_opt *binds;
  int n_param_files; /* --params FILE.onnx|DIR: parameter values by name for .cnn models */
  const char **param_files;
  /* --train and its options (compiler/train.h): compile a train step instead; NULL: inference. */
  const struct cn_train_spec *train;
  /* The training options as given on the command line (key, value or NULL), in order: a .cnn
   * model's `training` section is applied first and these on top (cn_train_spec_for_model). */
  int n_train_args;
  const char *const *train_arg_keys;
  const char *const *train_arg_values;
  /* --params FILE that is a cnncc parameter file: replace initializers by the trained values in FILE (a NAME_train_write blob)
   * before anything else, e.g. with --emit-onnx to write the trained model. */
  const char *params_path;
} cn_options;

/* Runs everything; returns the process exit status (0 or 1). */
int cn_compile(const cn_options *opt);

/* Reads the model named by opt: the .cnn language for files ending in .cnn (or, whatever the
 * extension, files that begin like text rather than like an ONNX protobuf), ONNX otherwise.
 * Returns NULL after reporting errors. */
cn_graph *cn_load_model(const cn_options *opt, cn_diag *d);

/* Whether cn_load_model reads `path` as the .cnn language (else as ONNX). */
bool cn_model_is_dsl(const char *path);

/* Loads the model named by opt (ONNX or DSL, by extension) and runs the passes up to the memory
 * plan. Returns NULL after reporting errors. Used by cn_compile, --info and the tests. */
cn_graph *cn_load_and_optimize(const cn_options *opt, cn_diag *d);

/* The identifier derived from OUT/NAME.c ("NAME", sanitized). */
char *cn_model_ident(const char *out_path);

#endif
