/* cnncc.c — the command-line driver: argument parsing only; the compiler is the library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../compiler/info.h"
#include "../compiler/pipeline.h"
#include "../compiler/train.h"
#include "verify.h"

/* Whether `path` begins with the magic of a parameter file written by NAME_train_write. */
static bool is_cnncc_param_file(const char *path) {
  char magic[8] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    return false;
  }
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  return got == sizeof magic && memcmp(magic, "CNNCCPRM", sizeof magic) == 0;
}

static const char usage_text[] =
    "usage: cnncc MODEL.onnx -o OUT/NAME.c [options]\n"
    "       cnncc MODEL.cnn -o OUT/NAME.c [--params FILE] [options]   (docs/dsl.md)\n"
    "       cnncc MODEL.onnx --emit-onnx FILE.onnx [--shape ...] [--bind ...]\n"
    "       cnncc --info MODEL.onnx [--shape ...]\n"
    "\n"
    "Compiles a convolutional network (ONNX, or cnncc's .cnn language) to standalone C99:\n"
    "OUT/NAME.c, OUT/NAME.h and the runtime headers they need.\n"
    "\n"
    "options:\n"
    "  -o OUT/NAME.c          output file; its folder receives the other files (created)\n"
    "  --main                 also write OUT/NAME_main.c, a command-line driver:\n"
    "                         ./prog in0.npy ... [--out-dir DIR] [--bench N] [--threads T]\n"
    "  --grad                 also generate NAME_backward: gradients (vector-Jacobian\n"
    "                         products) w.r.t. every float input and initializer; the\n"
    "                         --main driver then takes --vjp dy0.npy [dy1.npy ...]\n"
    "  --checkpoint[=SPEC]    --grad/--train: recompute activations in the backward pass\n"
    "                         (less arena); SPEC auto, every:K or NAME,... (docs/cli.md)\n"
    "  --name IDENT           prefix of the generated functions and macros (default: NAME)\n"
    "  --weights FILE.bin     put the weights in FILE.bin (the application passes them in)\n"
    "                         instead of embedding them as constant arrays\n"
    "  --shape NAME=1x3x224x224\n"
    "                         fix the shape of an input (symbolic dimensions, e.g. batch)\n"
    "  --bind NAME=FILE.npy   make an input a compile-time constant with the file's value\n"
    "  --params FILE          parameters of a .cnn model, by name: an ONNX model's\n"
    "                         initializers, or a folder of NAME.npy files (repeatable;\n"
    "                         the first file that has a parameter gives it), or, for any\n"
    "                         model, a trained parameter file written by NAME_train_write\n"
    "                         (e.g. with --emit-onnx trained.onnx)\n"
    "  --target T             x86-64 (default), aarch64, armv7, cortex-m, generic\n"
    "  --verify               after writing OUT/NAME.c, parse it with libclang for the\n"
    "                         target's triple and ISA (-Wall -Wextra -Wpedantic); any\n"
    "                         diagnostic is printed and fails (exit 1)\n"
    "  --gemm own|libxsmm     GEMM-shaped layers (convolutions, Gemm) on cnncc's own kernels\n"
    "                         (default) or on libxsmm's JIT kernels (x86-64; the generated\n"
    "                         code then needs libxsmm.h and -lxsmm -lpthread -ldl -lm)\n"
    "  --max-arena BYTES      fail if the memory plan needs more arena than BYTES\n"
    "  --max-threads N        size the arena for N threads (default 1; run with\n"
    "                         NAME_run_parallel or the driver's --threads)\n"
    "  --no-winograd          never run 3x3 convolutions by Winograd F(4x4,3x3) (x86-64;\n"
    "                         for A/B benchmarks and bit-closer-to-direct results)\n"
    "  --no-nchwc             keep every tensor NCHW: no channel-blocked (NCHW8c) values\n"
    "                         between 1x1 and depthwise convolutions (x86-64; A/B benchmarks)\n"
    "  --tune native|avx2|avx512\n"
    "                         x86-64: choose kernels for a CPU with AVX-512 or with AVX2\n"
    "                         only (default native: as the CPU cnncc runs on); the code\n"
    "                         builds and runs correctly on either\n"
    "  --emit-onnx FILE.onnx  write the model as ONNX after shape inference and constant\n"
    "                         folding (shapes fixed, constants folded); with -o it also\n"
    "                         compiles, without -o that is all it does\n";

/* (Two strings: C99 guarantees string literals of 4095 characters only.) */
static const char usage_train_text[] =
    "  --train                compile a train step instead (docs/training.md):\n"
    "                         NAME_train_step(ctx, input, labels, &loss) in OUT/NAME_train.c\n"
    "  --loss L               cross_entropy (default; int64 class labels) or mse\n"
    "  --label-smoothing F    cross-entropy label smoothing (default 0)\n"
    "  --optimizer O          sgd (default), adam or adamw\n"
    "  --lr F                 learning rate (default 0.01 for sgd, 0.001 for adam/adamw)\n"
    "  --momentum F, --nesterov, --weight-decay F, --beta1 F, --beta2 F, --eps F\n"
    "                         optimizer hyper-parameters (PyTorch's defaults; AdamW's weight\n"
    "                         decay defaults to 0.01)\n"
    "  --lr-schedule S        constant (default), step (--lr-step N epochs, --lr-gamma F) or\n"
    "                         cosine; --warmup N: linear warm-up over N steps\n"
    "  --epochs N, --batch N  training length (for the schedule) and batch size\n"
    "  --clip-norm F          clip gradients to global norm F\n"
    "  --seed N               seed of the Dropout masks (default 20261126)\n"
    "  --freeze P[,P...]      keep initializers whose names start with P fixed\n"
    "  --dump=PASS            print the IR after PASS: load, infer, bnfold, fuse, schedule,\n"
    "                         memplan, all\n"
    "  --info                 print operators, parameters, MACs per layer and arena size\n"
    "  --version              print the version\n"
    "  --help                 print this help\n";

/* Whether the CPU cnncc runs on has AVX-512F (--tune native). */
static bool host_has_avx512(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
#else
  return false;
#endif
}

static int fail(const char *fmt, const char *arg) {
  fprintf(stderr, "cnncc: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(run 'cnncc --help' for usage)\n");
  return 1;
}

static bool parse_dims(const char *s, cn_shape_opt *out) {
  out->rank = 0;
  while (*s) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0 || out->rank == CN_MAX_RANK) {
      return false;
    }
    out->dims[out->rank++] = v;
    s = end;
    if (*s == 'x' || *s == 'X' || *s == ',') {
      s++;
      if (*s == '\0') {
        return false;
      }
    } else if (*s != '\0') {
      return false;
    }
  }
  return out->rank > 0;
}

/* mkdir -p of the folder holding `path`. */
static bool make_parent_dirs(const char *path) {
  char *p = strdup(path);
  if (!p) {
    return false;
  }
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = '\0';
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        free(p);
        return false;
      }
      *s = '/';
    }
  }
  free(p);
  return true;
}

static const char *value_of(const char *arg, const char *name, int *i, int argc, char **argv) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) == 0 && arg[n] == '=') {
    return arg + n + 1;
  }
  if (strcmp(arg, name) == 0 && *i + 1 < argc) {
    return argv[++*i];
  }
  return NULL;
}

/* Remembers a training option as given, so that a .cnn model's `training` section can be
 * applied first and the command line still wins (compiler/train.c, cn_train_spec_for_model). */
static bool record_train_arg(cn_options *opt, const char *key, const char *value) {
  enum { MAX_TRAIN_ARGS = 64 };
  static char *keys[MAX_TRAIN_ARGS]; /* static: still reachable when an error returns early */
  static const char *values[MAX_TRAIN_ARGS];
  if (opt->n_train_args == MAX_TRAIN_ARGS) {
    fprintf(stderr, "cnncc: error: too many training options (at most %d)\n", MAX_TRAIN_ARGS);
    return false;
  }
  keys[opt->n_train_args] = strdup(key);
  values[opt->n_train_args] = value;
  opt->train_arg_keys = (const char *const *)keys;
  opt->train_arg_values = values;
  opt->n_train_args++;
  return true;
}

/* Whether `arg` is --KEY or --KEY=VALUE of a training option that takes a value; sets key. */
static bool train_key(const char *arg, char *key, size_t cap) {
  if (strncmp(arg, "--", 2) != 0) {
    return false;
  }
  const char *eq = strchr(arg, '=');
  size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
  if (n == 0 || n >= cap) {
    return false;
  }
  memcpy(key, arg + 2, n);
  key[n] = '\0';
  return cn_train_key_takes_value(key);
}

int main(int argc, char **argv) {
  cn_options opt;
  memset(&opt, 0, sizeof opt);
  static cn_shape_opt shapes[64]; /* static: still reachable when an error returns early */
  static cn_bind_opt binds[64];
  static const char *param_files[64];
  opt.shapes = shapes;
  opt.binds = binds;
  opt.param_files = param_files;
  opt.tune_avx512 = host_has_avx512();
  bool verify = false;
  static cn_train_spec train; /* static: still reachable when an error returns early */
  cn_train_spec_init(&train);
  cn_diag train_diag;
  cn_diag_init(&train_diag, NULL);
  bool want_train = false;
  char key[32];
  const char *train_option = NULL; /* a training option given (needs --train) */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage_text, stdout);
      fputs(usage_train_text, stdout);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("cnncc %s\n", CNNCC_VERSION);
      return 0;
    } else if (strcmp(a, "-o") == 0) {
      if (i + 1 >= argc) {
        return fail("%s needs a file name", a);
      }
      opt.out_path = argv[++i];
    } else if (strcmp(a, "--main") == 0) {
      opt.emit_main = true;
    } else if (strcmp(a, "--no-winograd") == 0) {
      opt.no_winograd = true;
    } else if (strcmp(a, "--no-nchwc") == 0) {
      opt.no_nchwc = true;
    } else if (strcmp(a, "--verify") == 0) {
      verify = true;
    } else if (strcmp(a, "--grad") == 0) {
      opt.grad = true;
    } else if (strcmp(a, "--checkpoint") == 0) {
      opt.checkpoint = "auto";
    } else if (strncmp(a, "--checkpoint=", 13) == 0) {
      if (a[13] == '\0') {
        return fail("%s", "--checkpoint= needs auto, every:K or value names");
      }
      opt.checkpoint = a + 13;
    } else if (strcmp(a, "--info") == 0) {
      opt.info = true;
    } else if (strcmp(a, "--train") == 0) {
      want_train = true;
    } else if (strcmp(a, "--nesterov") == 0) {
      train_option = a;
      if (!cn_train_spec_set(&train, "nesterov", NULL, &train_diag) ||
          !record_train_arg(&opt, "nesterov", NULL)) {
        return 1;
      }
    } else if (train_key(a, key, sizeof key)) {
      /* --KEY VALUE or --KEY=VALUE of a training option */
      const char *eq = strchr(a, '=');
      if (!eq && i + 1 >= argc) {
        return fail("%s needs a value", a);
      }
      train_option = a;
      const char *value = eq ? eq + 1 : argv[++i];
      if (!cn_train_spec_set(&train, key, value, &train_diag) ||
          !record_train_arg(&opt, key, value)) {
        return 1;
      }
    } else if ((v = value_of(a, "--weights", &i, argc, argv)) != NULL) {
      opt.weights_path = v;
    } else if ((v = value_of(a, "--name", &i, argc, argv)) != NULL) {
      bool ok = (v[0] < '0' || v[0] > '9') && v[0] != '\0';
      for (const char *p = v; *p; p++) {
        ok = ok && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_');
      }
      if (!ok) {
        return fail("--name takes a C identifier, not '%s'", v);
      }
      opt.name = v;
    } else if ((v = value_of(a, "--emit-onnx", &i, argc, argv)) != NULL) {
      opt.emit_onnx_path = v;
    } else if ((v = value_of(a, "--dump", &i, argc, argv)) != NULL) {
      opt.dump_pass = v;
    } else if ((v = value_of(a, "--max-arena", &i, argc, argv)) != NULL) {
      char *end;
      opt.max_arena = strtoll(v, &end, 10);
      if (*end || opt.max_arena <= 0) {
        return fail("--max-arena takes a positive byte count, not '%s'", v);
      }
    } else if ((v = value_of(a, "--max-threads", &i, argc, argv)) != NULL) {
      char *end;
      long t = strtol(v, &end, 10);
      if (*end || t < 1 || t > 256) {
        return fail("--max-threads takes a count from 1 to 256, not '%s'", v);
      }
      opt.max_threads = (int)t;
    } else if ((v = value_of(a, "--tune", &i, argc, argv)) != NULL) {
      if (strcmp(v, "native") == 0) {
        opt.tune_avx512 = host_has_avx512();
      } else if (strcmp(v, "avx2") == 0 || strcmp(v, "avx512") == 0) {
        opt.tune_avx512 = strcmp(v, "avx512") == 0;
      } else {
        return fail("--tune takes native, avx2 or avx512, not '%s'", v);
      }
    } else if ((v = value_of(a, "--gemm", &i, argc, argv)) != NULL) {
      if (strcmp(v, "own") == 0) {
        opt.gemm_libxsmm = false;
      } else if (strcmp(v, "libxsmm") == 0) {
        opt.gemm_libxsmm = true;
      } else {
        return fail("--gemm takes own or libxsmm, not '%s'", v);
      }
    } else if ((v = value_of(a, "--target", &i, argc, argv)) != NULL) {
      static const char *const names[] = {"x86-64", "aarch64", "armv7", "cortex-m", "generic"};
      int t = -1;
      for (int k = 0; k < 5; k++) {
        if (strcmp(v, names[k]) == 0) {
          t = k;
        }
      }
      if (t < 0) {
        return fail("unknown target '%s' (x86-64, aarch64, armv7, cortex-m, generic)", v);
      }
      opt.target = (cn_target)t;
    } else if ((v = value_of(a, "--shape", &i, argc, argv)) != NULL) {
      const char *eq = strrchr(v, '=');
      if (!eq || eq == v || opt.n_shapes == 64) {
        return fail("--shape takes NAME=DIMS, e.g. input=1x3x224x224, not '%s'", v);
      }
      cn_shape_opt *s = &shapes[opt.n_shapes++];
      s->name = strndup(v, (size_t)(eq - v));
      if (!parse_dims(eq + 1, s)) {
        return fail("--shape: bad dimensions in '%s' (expected e.g. 1x3x224x224)", v);
      }
    } else if ((v = value_of(a, "--bind", &i, argc, argv)) != NULL) {
      const char *eq = strrchr(v, '=');
      if (!eq || eq == v || eq[1] == '\0' || opt.n_binds == 64) {
        return fail("--bind takes NAME=FILE.npy, not '%s'", v);
      }
      cn_bind_opt *b = &binds[opt.n_binds++];
      b->name = strndup(v, (size_t)(eq - v));
      b->path = eq + 1;
    } else if ((v = value_of(a, "--params", &i, argc, argv)) != NULL) {
      if (opt.n_param_files == 64) {
        return fail("%s", "too many --params files (at most 64)");
      }
      /* a cnncc parameter file (NAME_train_write) replaces any model's initializers; ONNX
       * models and folders of .npy files give a .cnn model's parameters by name */
      if (is_cnncc_param_file(v)) {
        if (opt.params_path) {
          return fail("%s", "only one cnncc parameter file (--params) can be given");
        }
        opt.params_path = v;
      } else {
        param_files[opt.n_param_files++] = v;
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      return fail("unknown option '%s'", a);
    } else if (!opt.model_path) {
      opt.model_path = a;
    } else {
      return fail("more than one model given ('%s')", a);
    }
  }
  if (!opt.model_path) {
    return fail("%s", "no model given");
  }
  if (opt.checkpoint && !opt.grad && !want_train) {
    return fail("%s", "--checkpoint recomputes activations for a backward pass: it needs --grad "
                      "or --train");
  }
  if (train_option && !want_train) {
    return fail("%s is a training option: it needs --train", train_option);
  }
  if (want_train && opt.gemm_libxsmm) {
    /* The train step has its own kernel choice (compiler/train.c); say so rather than ignore it. */
    return fail("%s", "--gemm libxsmm applies to inference code: use it without --train");
  }
  if (want_train) {
    if (!cn_train_spec_finish(&train, &train_diag)) {
      return 1;
    }
    if (opt.emit_onnx_path || opt.info) {
      return fail("%s", "--train compiles a train step: use it without --emit-onnx and --info");
    }
    opt.train = &train;
  }
  int rc;
  if (verify && !opt.out_path) {
    return fail("%s", "--verify needs an output file (-o OUT/NAME.c)");
  }
  if (opt.info) {
    rc = cn_print_info(&opt, stdout);
  } else if (!opt.out_path && !opt.emit_onnx_path) {
    return fail("%s", "no output file given (-o OUT/NAME.c)");
  } else {
    size_t n = opt.out_path ? strlen(opt.out_path) : 0;
    if (opt.out_path && (n < 3 || strcmp(opt.out_path + n - 2, ".c") != 0)) {
      return fail("the output file must end in .c, not '%s'", opt.out_path);
    }
    if (opt.out_path && !make_parent_dirs(opt.out_path)) {
      return fail("cannot create the folder of '%s'", opt.out_path);
    }
    if (opt.emit_onnx_path && !make_parent_dirs(opt.emit_onnx_path)) {
      return fail("cannot create the folder of '%s'", opt.emit_onnx_path);
    }
    rc = cn_compile(&opt);
    if (rc == 0 && verify && !cn_verify_file(opt.out_path, (int)opt.target, stderr)) {
      rc = 1;
    }
  }
  for (int k = 0; k < opt.n_shapes; k++) {
    free((void *)shapes[k].name);
  }
  for (int k = 0; k < opt.n_binds; k++) {
    free((void *)binds[k].name);
  }
  cn_train_spec_free(&train);
  return rc;
}
