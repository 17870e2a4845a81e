/* emit_train.c — cnncc --train: the train step around two ordinary generated graphs.
 *
 *   OUT/NAME.c       the train graph (compiler/train.c): forward in training mode, the loss, the
 *                    backward nodes — one NAME_run, one memory plan
 *   OUT/NAME_eval.c  the same network for evaluation (BN with running statistics)
 *   OUT/NAME_train.c the glue written here: the context layout (parameters, gradients, optimizer
 *                    state, both graphs' arena), NAME_train_init / _step / _eval / _write.
 *
 * The optimizer is glue, not graph: it runs once per parameter tensor after NAME_run, with the
 * learning rate of the step and the clipping factor computed at run time. Everything is sized
 * here, at build time; the generated code allocates nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler/train.h"
#include "../runtime/cnnrt_optim.h"
#include "emit.h"
#include "runtime_files.h"

#define ALIGN 64

static int64_t align_up(int64_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

/* Bytes as adjacent C string literals (the shortest octal escapes), as codegen/emit.c does for
 * the weights. */
static void put_bytes(cn_buf *c, const unsigned char *p, int64_t n) {
  static const char octal[] = "01234567";
  for (int64_t start = 0; start < n; start += 4000) {
    int64_t end = start + 4000 < n ? start + 4000 : n;
    cn_buf_puts(c, "\"");
    for (int64_t i = start; i < end; i++) {
      unsigned char ch = p[i];
      if (ch >= 32 && ch < 127 && ch != '"' && ch != '\\' && ch != '?') {
        char s[2] = {(char)ch, 0};
        cn_buf_puts(c, s);
      } else {
        bool next_digit = i + 1 < end && p[i + 1] >= '0' && p[i + 1] <= '7';
        char s[5];
        int k = 0;
        s[k++] = '\\';
        if (next_digit || ch >= 0100) {
          s[k++] = octal[(ch >> 6) & 7];
        }
        if (next_digit || ch >= 010) {
          s[k++] = octal[(ch >> 3) & 7];
        }
        s[k++] = octal[ch & 7];
        s[k] = 0;
        cn_buf_puts(c, s);
      }
    }
    cn_buf_puts(c, "\"\n");
  }
}

/* A C float literal (finite values only: the options are checked). */
static const char *flit(char *buf, size_t cap, double v) {
  snprintf(buf, cap, "%.9g", (double)(float)v);
  if (!strpbrk(buf, ".eEn")) {
    strncat(buf, ".0", cap - strlen(buf) - 1);
  }
  strncat(buf, "f", cap - strlen(buf) - 1);
  return buf;
}

static char *upper(const char *s) {
  char *u = cn_strdup(s);
  for (char *p = u; *p; p++) {
    if (*p >= 'a' && *p <= 'z') {
      *p = (char)(*p - 'a' + 'A');
    }
  }
  return u;
}

/* The record NAME_train_write puts before a tensor's data (docs/training.md): u32 name length,
 * the name, u32 rank, i64 dims, all little-endian. */
static void write_record_header(cn_buf *c, const cn_value *v) {
  unsigned char hdr[4 + 4096 + 4 + 8 * CN_MAX_RANK];
  size_t n = 0, len = strlen(v->name);
  if (len > 4096) {
    len = 4096;
  }
  for (int k = 0; k < 4; k++) {
    hdr[n++] = (unsigned char)(len >> (8 * k));
  }
  memcpy(hdr + n, v->name, len);
  n += len;
  for (int k = 0; k < 4; k++) {
    hdr[n++] = (unsigned char)((uint32_t)v->rank >> (8 * k));
  }
  for (int r = 0; r < v->rank; r++) {
    for (int k = 0; k < 8; k++) {
      hdr[n++] = (unsigned char)((uint64_t)v->dims[r] >> (8 * k));
    }
  }
  cn_buf_printf(c, "  static const unsigned char h[%zu] = {", n);
  for (size_t i = 0; i < n; i++) {
    cn_buf_printf(c, "%s%u", i ? "," : "", hdr[i]);
  }
  cn_buf_puts(c, "};\n");
}

typedef struct layout {
  int64_t step_off;   /* int64 step, steps_per_epoch, total_steps */
  int64_t param_off;  /* parameters, then statistics */
  int64_t *p_off, *s_off;
  int64_t param_bytes;
  int64_t grad_off, *g_off, grad_bytes;
  int64_t optim_off, *m_off, *v_off, optim_bytes;
  int64_t *so_off; /* the graph's updated statistics, before cnnrt_f32_running_stat_update */
  int64_t *mask_off; /* dropout masks, refilled every step */
  int64_t targets_off, logits_off, loss_off, arena_off, total;
} layout;

static layout plan(const cn_graph *g, const cn_graph *ge, const cn_train_info *t,
                   const cn_train_spec *s) {
  layout L = {0};
  int np = t->n_params, ns = t->n_state;
  L.p_off = cn_calloc((size_t)np + 1, sizeof(int64_t));
  L.s_off = cn_calloc((size_t)ns + 1, sizeof(int64_t));
  L.g_off = cn_calloc((size_t)np + 1, sizeof(int64_t));
  L.m_off = cn_calloc((size_t)np + 1, sizeof(int64_t));
  L.v_off = cn_calloc((size_t)np + 1, sizeof(int64_t));
  L.so_off = cn_calloc((size_t)ns + 1, sizeof(int64_t));
  L.mask_off = cn_calloc((size_t)t->n_masks + 1, sizeof(int64_t));
  int64_t at = ALIGN; /* the step counters */
  L.param_off = at;
  for (int i = 0; i < np; i++) {
    L.p_off[i] = at;
    at += align_up(cn_value_bytes(&g->values[t->params[i]]));
  }
  for (int i = 0; i < ns; i++) {
    L.s_off[i] = at;
    at += align_up(cn_value_bytes(&g->values[t->state[i]]));
  }
  L.param_bytes = at - L.param_off;
  L.grad_off = at;
  for (int i = 0; i < np; i++) {
    L.g_off[i] = at;
    at += align_up(cn_value_bytes(&g->values[t->params[i]]));
  }
  L.grad_bytes = at - L.grad_off;
  L.optim_off = at;
  bool sgd = s->optimizer == CNNRT_OPTIM_SGD;
  for (int i = 0; i < np; i++) {
    int64_t b = align_up(cn_value_bytes(&g->values[t->params[i]]));
    L.m_off[i] = L.v_off[i] = -1;
    if (!sgd || s->momentum != 0.0) {
      L.m_off[i] = at;
      at += b;
    }
    if (!sgd) {
      L.v_off[i] = at;
      at += b;
    }
  }
  L.optim_bytes = at - L.optim_off;
  for (int i = 0; i < ns; i++) {
    L.so_off[i] = at;
    at += align_up(cn_value_bytes(&g->values[t->state[i]]));
  }
  for (int i = 0; i < t->n_masks; i++) {
    L.mask_off[i] = at;
    at += align_up(cn_value_bytes(&g->values[t->masks[i]]));
  }
  L.targets_off = at;
  at += align_up(cn_value_bytes(&g->values[t->targets]));
  L.logits_off = at;
  at += align_up(cn_value_bytes(&g->values[t->logits]));
  L.loss_off = at;
  at += ALIGN;
  L.arena_off = at;
  at += align_up(g->arena_bytes > ge->arena_bytes ? g->arena_bytes : ge->arena_bytes);
  L.total = at;
  return L;
}

static void free_layout(layout *L) {
  free(L->p_off);
  free(L->s_off);
  free(L->g_off);
  free(L->m_off);
  free(L->v_off);
  free(L->so_off);
  free(L->mask_off);
}

static const char *optimizer_name(int k) {
  return k == CNNRT_OPTIM_SGD ? "sgd" : k == CNNRT_OPTIM_ADAM ? "adam" : "adamw";
}

static void gen_train_header(cn_buf *h, const char *id, const cn_graph *g, const cn_train_info *t,
                             const cn_train_spec *s, const layout *L) {
  char *U = upper(id);
  const cn_value *x = &g->values[t->input], *z = &g->values[t->logits];
  bool ce = s->loss == CN_LOSS_CROSS_ENTROPY;
  cn_buf_printf(h,
                "/* %s_train.h — generated by cnncc %s (--train). Do not edit.\n"
                " *\n"
                " * A train step for the network in %s.c: loss %s, optimizer %s.\n"
                " * Give it a context of %s_TRAIN_ARENA_BYTES bytes aligned to 64 (parameters,\n"
                " * gradients, optimizer state and the graphs' working memory; nothing is\n"
                " * allocated), then\n"
                " *   %s_train_init(ctx, steps_per_epoch, total_steps);   parameters from the model\n"
                " *   %s_train_step(ctx, input, labels, &loss);           one optimizer step\n"
                " *   %s_train_eval(ctx, input, logits);                  inference, BN running stats\n"
                " *   %s_train_write(ctx, write_fn, user);                trained parameters, for\n"
                " *                                        cnncc MODEL --params FILE --emit-onnx ...\n"
                " * input: %s_TRAIN_INPUT_SIZE floats (shape %s_TRAIN_INPUT_SHAPE); labels: %s.\n"
                " * Returns 0, -1 for a missing argument, -2 for a label outside [0, classes). */\n",
                id, CNNCC_VERSION, id, ce ? "softmax cross-entropy" : "mean-squared error",
                optimizer_name(s->optimizer), U, id, id, id, id, U, U,
                ce ? "BATCH int64 class indices" : "float targets of the logits' shape");
  cn_buf_printf(h, "#ifndef %s_TRAIN_H\n#define %s_TRAIN_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n",
                U, U);
  cn_buf_printf(h, "#define %s_TRAIN_ARENA_BYTES %" PRId64 "\n", U, L->total);
  cn_buf_printf(h, "#define %s_PARAM_BYTES %" PRId64 " /* parameters and BN statistics */\n", U,
                L->param_bytes);
  cn_buf_printf(h, "#define %s_GRAD_BYTES %" PRId64 "\n", U, L->grad_bytes);
  cn_buf_printf(h, "#define %s_OPTIM_STATE_BYTES %" PRId64 "\n", U, L->optim_bytes);
  cn_buf_printf(h, "#define %s_GRAPH_ARENA_BYTES %" PRId64 " /* activations, saved values, backward */\n",
                U, g->arena_bytes);
  cn_buf_printf(h, "#define %s_TRAIN_NUM_PARAMS %d /* tensors */\n", U, t->n_params);
  int64_t count = 0;
  for (int i = 0; i < t->n_params; i++) {
    count += cn_value_numel(&g->values[t->params[i]]);
  }
  cn_buf_printf(h, "#define %s_TRAIN_PARAM_COUNT %" PRId64 " /* trained floats */\n", U, count);
  cn_buf_printf(h, "#define %s_TRAIN_BATCH %" PRId64 "\n", U, x->rank > 0 ? x->dims[0] : 1);
  cn_buf_printf(h, "#define %s_TRAIN_INPUT_SHAPE {", U);
  for (int k = 0; k < x->rank; k++) {
    cn_buf_printf(h, "%s%" PRId64, k ? ", " : "", x->dims[k]);
  }
  cn_buf_printf(h, "}\n#define %s_TRAIN_INPUT_SIZE %" PRId64 "\n", U, cn_value_numel(x));
  cn_buf_printf(h, "#define %s_TRAIN_OUTPUT_SIZE %" PRId64 " /* logits */\n", U, cn_value_numel(z));
  cn_buf_printf(h, "#define %s_TRAIN_CLASSES %" PRId64 "\n", U, z->rank >= 2 ? z->dims[1] : 1);
  cn_buf_printf(h, "#define %s_TRAIN_LOSS_MSE %d\n", U, ce ? 0 : 1);
  cn_buf_printf(h, "#define %s_TRAIN_EPOCHS %" PRId64 " /* --epochs: for the application's loop */\n\n",
                U, s->epochs);
  cn_buf_printf(h,
                "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
                "struct cnnrt_parallel; /* runtime/cnnrt.h */\n\n"
                "/* Parameters from the model, optimizer state zeroed, step 0. steps_per_epoch\n"
                " * drives --lr-schedule step, total_steps --lr-schedule cosine (0: none). */\n"
                "int %s_train_init(void *ctx, int64_t steps_per_epoch, int64_t total_steps);\n"
                "int %s_train_step(void *ctx, const float *input, const void *labels, float *loss);\n"
                "int %s_train_step_parallel(void *ctx, const float *input, const void *labels,\n"
                "    float *loss, const struct cnnrt_parallel *par);\n"
                "/* Logits of the last train step (training-mode forward). */\n"
                "const float *%s_train_logits(const void *ctx);\n"
                "/* Inference with the current parameters (BN with running statistics). */\n"
                "int %s_train_eval(void *ctx, const float *input, float *logits);\n"
                "int %s_train_eval_parallel(void *ctx, const float *input, float *logits,\n"
                "    const struct cnnrt_parallel *par);\n"
                "/* Optimizer steps taken so far. */\n"
                "int64_t %s_train_steps(const void *ctx);\n"
                "/* Writes the trained parameters and statistics through write(user, data, bytes)\n"
                " * (which returns 0 on success) in cnncc's parameter format. */\n"
                "int %s_train_write(const void *ctx, int (*write)(void *user, const void *data,\n"
                "    size_t bytes), void *user);\n\n"
                "#ifdef __cplusplus\n}\n#endif\n\n#endif\n",
                id, id, id, id, id, id, id, id);
  free(U);
}

/* simd: the optimizer kernels' suffix, "avx2" or "neon" (cnnrt_optim_<simd>.h; each falls back
 * to the reference on a core without its ISA). */
static void gen_train_c(cn_buf *c, const char *id, const char *file_base, const cn_graph *g,
                        const cn_train_info *t, const cn_train_spec *s, const layout *L,
                        const char *simd) {
  const cn_value *z = &g->values[t->logits];
  bool ce = s->loss == CN_LOSS_CROSS_ENTROPY;
  cn_buf_printf(c, "/* %s_train.c — generated by cnncc %s (--train). Do not edit. */\n", file_base,
                CNNCC_VERSION);
  cn_buf_printf(c,
                "#include \"cnnrt.h\"\n#include \"cnnrt_dropout.h\"\n#include \"cnnrt_loss.h\"\n"
                "#include \"cnnrt_optim_%s.h\"\n"
                "#include \"%s.h\"\n#include \"%s_eval.h\"\n#include \"%s_train.h\"\n\n",
                simd, file_base, file_base, file_base);
  /* Initial parameters and statistics, in the context's layout. */
  unsigned char *init = cn_calloc((size_t)L->param_bytes + 1, 1);
  for (int i = 0; i < t->n_params; i++) {
    const cn_value *v = &g->values[t->params[i]];
    CN_ASSERT(v->data);
    memcpy(init + (L->p_off[i] - L->param_off), v->data, (size_t)cn_value_bytes(v));
  }
  for (int i = 0; i < t->n_state; i++) {
    const cn_value *v = &g->values[t->state[i]];
    CN_ASSERT(v->data);
    memcpy(init + (L->s_off[i] - L->param_off), v->data, (size_t)cn_value_bytes(v));
  }
  cn_buf_printf(c,
                "/* The model's parameters and statistics, as %s_train_init copies them. */\n"
                "#if defined(__GNUC__)\n#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n"
                "#endif\n"
                "static const union {\n  unsigned char bytes[%" PRId64 "];\n  double align;\n"
                "} %s_initial_params = {\n",
                id, L->param_bytes + 1, id);
  put_bytes(c, init, L->param_bytes);
  cn_buf_puts(c, "};\n\n");
  free(init);

  /* hyper-parameters */
  cnnrt_optim_params op = {0};
  op.kind = s->optimizer;
  op.nesterov = s->nesterov;
  op.momentum = (float)s->momentum;
  op.weight_decay = (float)s->weight_decay;
  op.beta1 = (float)s->beta1;
  op.beta2 = (float)s->beta2;
  op.eps = (float)s->eps;
  op.one_minus_beta1 = (float)(1.0 - s->beta1);
  op.one_minus_beta2 = (float)(1.0 - s->beta2);
  char f[7][40];
  cn_buf_printf(c,
                "static const cnnrt_optim_params %s_optim = {%" PRId64 ", %" PRId64
                ", %s, %s, %s, %s, %s, %s, %s};\n",
                id, op.kind, op.nesterov, flit(f[0], 40, op.momentum),
                flit(f[1], 40, op.weight_decay), flit(f[2], 40, op.beta1), flit(f[3], 40, op.beta2),
                flit(f[4], 40, op.eps), flit(f[5], 40, op.one_minus_beta1),
                flit(f[6], 40, op.one_minus_beta2));
  cn_buf_printf(c,
                "static const cnnrt_lr_params %s_lr = {%d, %" PRId64 ", %" PRId64 ", %s, %s};\n\n",
                id, s->lr_schedule, s->lr_step, s->warmup, flit(f[0], 40, s->lr),
                flit(f[1], 40, s->lr_gamma));

  cn_buf_printf(c,
                "int %s_train_init(void *ctx, int64_t steps_per_epoch, int64_t total_steps) {\n"
                "  unsigned char *C = (unsigned char *)ctx;\n"
                "  if (C == NULL) {\n    return -1;\n  }\n"
                "  memset(C, 0, %" PRId64 ");\n"
                "  memcpy(C + %" PRId64 ", %s_initial_params.bytes, %" PRId64 ");\n"
                "  memset(C + %" PRId64 ", 0, %" PRId64 ");\n"
                "  ((int64_t *)(void *)C)[1] = steps_per_epoch;\n"
                "  ((int64_t *)(void *)C)[2] = total_steps;\n"
                "  return 0;\n}\n\n",
                id, (int64_t)ALIGN, L->param_off, id, L->param_bytes, L->grad_off,
                L->arena_off - L->grad_off);

  /* the inputs and outputs of the train graph */
  cn_buf_printf(c,
                "int %s_train_step_parallel(void *ctx, const float *input, const void *labels,\n"
                "    float *loss, const struct cnnrt_parallel *par) {\n"
                "  unsigned char *C = (unsigned char *)ctx;\n"
                "  if (C == NULL || input == NULL || labels == NULL) {\n    return -1;\n  }\n"
                "  int64_t *counters = (int64_t *)(void *)C;\n"
                "  float *targets = (float *)(void *)(C + %" PRId64 ");\n",
                id, L->targets_off);
  if (ce) {
    cn_buf_printf(c,
                  "  if (cnnrt_f32_smoothed_onehot_ref(%" PRId64 ", %" PRId64
                  ", %s, (const int64_t *)labels, targets) != 0) {\n    return -2;\n  }\n",
                  z->dims[0], z->dims[1], flit(f[0], 40, s->label_smoothing));
  } else {
    cn_buf_printf(c, "  memcpy(targets, labels, %" PRId64 ");\n", cn_value_bytes(z));
  }
  for (int i = 0; i < t->n_masks; i++) {
    char fr[40];
    cn_buf_printf(c,
                  "  cnnrt_f32_dropout_scale_mask_ref(%" PRId64 ", %s, UINT64_C(%" PRId64 "), %d, (uint64_t)counters[0],\n"
                  "      (float *)(void *)(C + %" PRId64 ")); /* dropout %d */\n",
                  cn_value_numel(&g->values[t->masks[i]]), flit(fr, sizeof fr, t->mask_ratio[i]),
                  s->seed, i, L->mask_off[i], i);
  }
  cn_buf_printf(c, "  const void *const inputs[%d] = {input, targets",
                2 + t->n_params + t->n_state + t->n_masks);
  for (int i = 0; i < t->n_params; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->p_off[i]);
  }
  for (int i = 0; i < t->n_state; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->s_off[i]);
  }
  for (int i = 0; i < t->n_masks; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->mask_off[i]);
  }
  cn_buf_printf(c, "};\n  void *const outputs[%d] = {C + %" PRId64 ", C + %" PRId64,
                2 + t->n_params + t->n_state, L->loss_off, L->logits_off);
  for (int i = 0; i < t->n_params; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->g_off[i]);
  }
  for (int i = 0; i < t->n_state; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->so_off[i]);
  }
  cn_buf_printf(c,
                "};\n"
                "  if (%s_run_parallel(C + %" PRId64 ", NULL, inputs, outputs, par) != 0) {\n"
                "    return -1;\n  }\n"
                "  const int64_t step = counters[0];\n"
                "  const float lr = cnnrt_lr_at(&%s_lr, step, counters[1], counters[2]);\n"
                "  float gscale = 1.0f;\n",
                id, L->arena_off, id);
  if (s->clip_norm > 0.0) {
    cn_buf_puts(c, "  double sum_squares = 0.0;\n");
    for (int i = 0; i < t->n_params; i++) {
      cn_buf_printf(c,
                    "  sum_squares += cnnrt_f32_sum_squares_%s(%" PRId64
                    ", (const float *)(const void *)(C + %" PRId64 "));\n",
                    simd, cn_value_numel(&g->values[t->params[i]]), L->g_off[i]);
    }
    cn_buf_printf(c, "  gscale = cnnrt_clip_factor(sum_squares, %s);\n",
                  flit(f[0], 40, s->clip_norm));
  }
  if (s->optimizer != CNNRT_OPTIM_SGD) {
    cn_buf_printf(c, "  const cnnrt_adam_consts ac = cnnrt_adam_step_consts(&%s_optim, lr, step + 1);\n",
                  id);
  }
  for (int i = 0; i < t->n_params; i++) {
    int64_t n = cn_value_numel(&g->values[t->params[i]]);
    cn_buf_printf(c, "  /* parameter %d */\n", i);
    if (s->optimizer == CNNRT_OPTIM_SGD) {
      cn_buf_printf(c,
                    "  cnnrt_f32_sgd_%s(&%s_optim, %" PRId64 ", lr, gscale, (float *)(void *)(C + %" PRId64
                    "),\n      (const float *)(const void *)(C + %" PRId64 "), ",
                    simd, id, n, L->p_off[i], L->g_off[i]);
      if (L->m_off[i] >= 0) {
        cn_buf_printf(c, "(float *)(void *)(C + %" PRId64 "));\n", L->m_off[i]);
      } else {
        cn_buf_puts(c, "NULL);\n");
      }
    } else {
      cn_buf_printf(c,
                    "  cnnrt_f32_adam_%s(&%s_optim, &ac, %" PRId64 ", gscale, (float *)(void *)(C + %" PRId64
                    "),\n      (const float *)(const void *)(C + %" PRId64
                    "), (float *)(void *)(C + %" PRId64 "), (float *)(void *)(C + %" PRId64 "));\n",
                    simd, id, n, L->p_off[i], L->g_off[i], L->m_off[i], L->v_off[i]);
    }
  }
  for (int i = 0; i < t->n_state; i++) {
    char fm[40];
    cn_buf_printf(c,
                  "  cnnrt_f32_running_stat_update(%" PRId64 ", %d, %s, %" PRId64
                  ", (const float *)(const void *)(C + %" PRId64 "), (float *)(void *)(C + %" PRId64
                  "));\n",
                  cn_value_numel(&g->values[t->state[i]]), t->state_is_var[i] ? 1 : 0,
                  flit(fm, sizeof fm, t->state_momentum[i]), t->state_count[i], L->so_off[i],
                  L->s_off[i]);
  }
  cn_buf_printf(c,
                "  counters[0] = step + 1;\n"
                "  if (loss != NULL) {\n    *loss = *(const float *)(const void *)(C + %" PRId64 ");\n  }\n"
                "  return 0;\n}\n\n",
                L->loss_off);
  cn_buf_printf(c,
                "int %s_train_step(void *ctx, const float *input, const void *labels, float *loss) {\n"
                "  return %s_train_step_parallel(ctx, input, labels, loss, NULL);\n}\n\n",
                id, id);
  cn_buf_printf(c,
                "const float *%s_train_logits(const void *ctx) {\n"
                "  return (const float *)(const void *)((const unsigned char *)ctx + %" PRId64 ");\n}\n\n",
                id, L->logits_off);
  cn_buf_printf(c,
                "int64_t %s_train_steps(const void *ctx) {\n"
                "  return ((const int64_t *)ctx)[0];\n}\n\n",
                id);
  /* evaluation graph: input, params, state -> logits */
  cn_buf_printf(c,
                "int %s_train_eval_parallel(void *ctx, const float *input, float *logits,\n"
                "    const struct cnnrt_parallel *par) {\n"
                "  unsigned char *C = (unsigned char *)ctx;\n"
                "  if (C == NULL || input == NULL || logits == NULL) {\n    return -1;\n  }\n"
                "  const void *const inputs[%d] = {input",
                id, 1 + t->n_params + t->n_state);
  for (int i = 0; i < t->n_params; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->p_off[i]);
  }
  for (int i = 0; i < t->n_state; i++) {
    cn_buf_printf(c, ",\n      C + %" PRId64, L->s_off[i]);
  }
  cn_buf_printf(c,
                "};\n  void *const outputs[1] = {logits};\n"
                "  return %s_eval_run_parallel(C + %" PRId64 ", NULL, inputs, outputs, par);\n}\n\n",
                id, L->arena_off);
  cn_buf_printf(c,
                "int %s_train_eval(void *ctx, const float *input, float *logits) {\n"
                "  return %s_train_eval_parallel(ctx, input, logits, NULL);\n}\n\n",
                id, id);
  /* writer */
  cn_buf_printf(c,
                "int %s_train_write(const void *ctx, int (*write)(void *user, const void *data,\n"
                "    size_t bytes), void *user) {\n"
                "  const unsigned char *C = (const unsigned char *)ctx;\n"
                "  if (C == NULL || write == NULL) {\n    return -1;\n  }\n"
                "  {\n    /* magic, format version 1, tensor count (little-endian) */\n"
                "    static const unsigned char head[16] = {'C', 'N', 'N', 'C', 'C', 'P', 'R', 'M', 1, 0, 0, 0, %d, %d, %d, %d};\n"
                "    if (write(user, head, sizeof head) != 0) {\n      return -1;\n    }\n  }\n",
                id, (t->n_params + t->n_state) & 255, ((t->n_params + t->n_state) >> 8) & 255,
                ((t->n_params + t->n_state) >> 16) & 255, ((t->n_params + t->n_state) >> 24) & 255);
  for (int i = 0; i < t->n_params + t->n_state; i++) {
    bool param = i < t->n_params;
    const cn_value *v = &g->values[param ? t->params[i] : t->state[i - t->n_params]];
    int64_t off = param ? L->p_off[i] : L->s_off[i - t->n_params];
    cn_buf_puts(c, "  {\n");
    write_record_header(c, v);
    cn_buf_printf(c,
                  "  if (write(user, h, sizeof h) != 0 || write(user, C + %" PRId64 ", %" PRId64
                  ") != 0) {\n    return -1;\n  }\n  }\n",
                  off, cn_value_bytes(v));
  }
  cn_buf_puts(c, "  return 0;\n}\n");
}

static bool write_buf(cn_diag *d, const char *path, const cn_buf *b) {
  if (!cn_write_file(path, b->data ? b->data : "", b->len)) {
    cn_error(d, "cannot write '%s'", path);
    return false;
  }
  return true;
}

/* Makes value v a constant again (a parameter left out of training). */
static void fix_unused_inputs(cn_graph *g) {
  bool *listed = cn_calloc((size_t)g->n_values + 1, sizeof(bool));
  for (int i = 0; i < g->n_inputs; i++) {
    listed[g->inputs[i]] = true;
  }
  for (int v = 0; v < g->n_values; v++) {
    if (g->values[v].kind == CN_VALUE_INPUT && !listed[v]) {
      g->values[v].kind = CN_VALUE_CONST;
    }
  }
  free(listed);
}

static int compile_train_step(const cn_options *opt, cn_diag *d);

int cn_train_compile(const cn_options *cli_opt) {
  cn_diag d;
  cn_diag_init(&d, cli_opt->model_path);
  if (cli_opt->weights_path || cli_opt->emit_main) {
    cn_error(&d, "--train writes NAME_train.c: it does not take --weights or --main");
    return 1;
  }
  /* the model's own training section (.cnn) under the command line's options */
  cn_train_spec spec;
  if (!cn_train_spec_for_model(&spec, cli_opt, &d)) {
    cn_train_spec_free(&spec);
    return 1;
  }
  cn_options opt_with_spec = *cli_opt;
  opt_with_spec.train = &spec;
  int rc = compile_train_step(&opt_with_spec, &d);
  cn_train_spec_free(&spec);
  return rc;
}

static int compile_train_step(const cn_options *opt, cn_diag *dp) {
  cn_diag d = *dp;
  cn_train_info t, te;
  cn_graph *g = cn_train_build(opt, true, &t, &d);
  if (!g) {
    return 1;
  }
  cn_graph *ge = cn_train_build(opt, false, &te, &d);
  if (!ge) {
    cn_train_info_free(&t);
    cn_graph_free(g);
    return 1;
  }
  /* The evaluation graph reads exactly the trained parameters and statistics, in the same order:
   * match them by name (both graphs come from the same model). */
  ge->n_inputs = 1;
  bool ok = true;
  for (int i = 0; ok && i < t.n_params + t.n_state; i++) {
    int tv = i < t.n_params ? t.params[i] : t.state[i - t.n_params];
    int v = cn_value_find(ge, g->values[tv].name);
    ok = v >= 0 && ge->values[v].kind == CN_VALUE_INPUT;
    if (ok) {
      CN_PUSH(ge->inputs, ge->n_inputs, ge->cap_inputs, v);
    } else {
      cn_error(&d, "--train: parameter '%s' is not read by the evaluation graph",
               g->values[tv].name);
    }
  }
  fix_unused_inputs(ge);
  fix_unused_inputs(g);
  char *file_base = cn_model_ident(opt->out_path);
  char *ident = cn_strdup(opt->name ? opt->name : file_base);
  const char *slash = strrchr(opt->out_path, '/');
  char *dir = slash ? cn_strndup(opt->out_path, (size_t)(slash - opt->out_path)) : cn_strdup(".");
  if (ok) {
    cn_options o = *opt;
    o.emit_main = false;
    o.name = ident;
    ok = cn_codegen(g, &o, &d);
    char *eval_path = cn_fmt("%s/%s_eval.c", dir, file_base);
    char *eval_name = cn_fmt("%s_eval", ident);
    o.out_path = eval_path;
    o.name = eval_name;
    ok = ok && cn_codegen(ge, &o, &d);
    free(eval_path);
    free(eval_name);
  }
  if (ok) {
    layout L = plan(g, ge, &t, opt->train);
    cn_buf h = {0}, c = {0};
    gen_train_header(&h, ident, g, &t, opt->train, &L);
    const bool arm = opt->target == CN_TARGET_AARCH64 || opt->target == CN_TARGET_ARMV7;
    gen_train_c(&c, ident, file_base, g, &t, opt->train, &L, arm ? "neon" : "avx2");
    char *hp = cn_fmt("%s/%s_train.h", dir, file_base);
    char *cp = cn_fmt("%s/%s_train.c", dir, file_base);
    ok = write_buf(&d, hp, &h) && write_buf(&d, cp, &c);
    free(hp);
    free(cp);
    cn_buf_free(&h);
    cn_buf_free(&c);
    free_layout(&L);
    static const char *const rt[] = {"cnnrt_dropout.h", "cnnrt_loss.h",   "cnnrt_optim.h",
                                     "cnnrt_optim_avx2.h", "cnnrt_optim_neon.h", "cnnrt_act_neon.h"};
    for (size_t f = 0; ok && f < cn_runtime_file_count; f++) {
      for (size_t k = 0; k < sizeof rt / sizeof rt[0]; k++) {
        if (strcmp(cn_runtime_files[f].name, rt[k]) == 0) {
          char *p = cn_fmt("%s/%s", dir, rt[k]);
          ok = cn_write_file(p, cn_runtime_files[f].data, cn_runtime_files[f].size);
          if (!ok) {
            cn_error(&d, "cannot write '%s'", p);
          }
          free(p);
        }
      }
    }
  }
  free(dir);
  free(ident);
  free(file_base);
  cn_train_info_free(&t);
  cn_train_info_free(&te);
  cn_graph_free(g);
  cn_graph_free(ge);
  return ok ? 0 : 1;
}
