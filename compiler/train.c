/* train.c — the training specification: parsing and validating --train's options (and the same
 * keys from a .cnn `training` section) into cn_train_spec. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/cnnrt_optim.h"
#include "util.h"

void cn_train_spec_init(cn_train_spec *s) {
  memset(s, 0, sizeof *s);
  s->loss = CN_LOSS_CROSS_ENTROPY;
  s->optimizer = CNNRT_OPTIM_SGD;
  s->lr = 0.01;
  s->beta1 = 0.9;
  s->beta2 = 0.999;
  s->eps = 1e-8;
  s->lr_schedule = CNNRT_LR_CONSTANT;
  s->lr_gamma = 0.1;
  s->epochs = 1;
  s->seed = 20261126;
}

void cn_train_spec_free(cn_train_spec *s) {
  for (int i = 0; i < s->n_freeze; i++) {
    free(s->freeze[i]);
  }
  free(s->freeze);
  s->freeze = NULL;
  s->n_freeze = 0;
}

static bool parse_double(const char *v, double *out) {
  if (!v || !*v) {
    return false;
  }
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (*end || errno || !isfinite(x)) {
    return false;
  }
  *out = x;
  return true;
}

static bool parse_int(const char *v, int64_t *out) {
  if (!v || !*v) {
    return false;
  }
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (*end || errno) {
    return false;
  }
  *out = x;
  return true;
}

/* The options that take a number, with their ranges. */
typedef struct num_key {
  const char *key;
  size_t offset;
  bool integer;
  double lo, hi;       /* allowed range */
  bool lo_open, hi_open; /* exclusive bounds */
  const char *what;    /* "a positive number", ... for the message */
} num_key;

#define DKEY(k, f, lo, hi, lo_open, hi_open, what)                                                 \
  {k, offsetof(cn_train_spec, f), false, lo, hi, lo_open, hi_open, what}
#define IKEY(k, f, lo, hi, what) {k, offsetof(cn_train_spec, f), true, lo, hi, false, false, what}

static const num_key num_keys[] = {
    DKEY("label-smoothing", label_smoothing, 0.0, 1.0, false, false, "a number from 0 to 1"),
    DKEY("lr", lr, 0.0, 1e9, true, false, "a positive number"),
    DKEY("momentum", momentum, 0.0, 1.0, false, true, "a number in [0, 1)"),
    DKEY("weight-decay", weight_decay, 0.0, 1e9, false, false, "a number >= 0"),
    DKEY("beta1", beta1, 0.0, 1.0, false, true, "a number in [0, 1)"),
    DKEY("beta2", beta2, 0.0, 1.0, false, true, "a number in [0, 1)"),
    DKEY("eps", eps, 0.0, 1e9, true, false, "a positive number"),
    IKEY("lr-step", lr_step, 1, 1e12, "a positive count of epochs"),
    DKEY("lr-gamma", lr_gamma, 0.0, 1e9, true, false, "a positive number"),
    IKEY("warmup", warmup, 0, 1e12, "a count of steps >= 0"),
    IKEY("epochs", epochs, 1, 1e9, "a positive count"),
    IKEY("batch", batch, 1, 1e9, "a positive count"),
    DKEY("clip-norm", clip_norm, 0.0, 1e30, true, false, "a positive number"),
    IKEY("seed", seed, 0, 4294967295.0, "a number from 0 to 4294967295"),
};

static const char *const flag_keys[] = {"nesterov"};

bool cn_train_key_takes_value(const char *key) {
  for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
    if (strcmp(key, num_keys[i].key) == 0) {
      return true;
    }
  }
  return strcmp(key, "loss") == 0 || strcmp(key, "optimizer") == 0 ||
         strcmp(key, "lr-schedule") == 0 || strcmp(key, "freeze") == 0;
}

static bool set_choice(cn_diag *d, const char *key, const char *value, const char *const *names,
                       int count, const char *list, int *out) {
  for (int i = 0; value && i < count; i++) {
    if (strcmp(value, names[i]) == 0) {
      *out = i;
      return true;
    }
  }
  cn_error(d, "--%s takes %s, not '%s'", key, list, value ? value : "");
  return false;
}

bool cn_train_spec_set(cn_train_spec *s, const char *key, const char *value, cn_diag *d) {
  for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
    const num_key *k = &num_keys[i];
    if (strcmp(key, k->key) != 0) {
      continue;
    }
    double x;
    int64_t n = 0;
    bool ok = k->integer ? parse_int(value, &n) : parse_double(value, &x);
    if (k->integer) {
      x = (double)n;
    }
    ok = ok && (k->lo_open ? x > k->lo : x >= k->lo) && (k->hi_open ? x < k->hi : x <= k->hi);
    if (!ok) {
      cn_error(d, "--%s takes %s, not '%s'", key, k->what, value ? value : "");
      return false;
    }
    char *field = (char *)s + k->offset;
    if (k->integer) {
      memcpy(field, &n, sizeof n);
    } else if (strcmp(key, "label-smoothing") == 0) {
      s->label_smoothing = (float)x;
    } else {
      memcpy(field, &x, sizeof x);
    }
    s->lr_set |= strcmp(key, "lr") == 0;
    s->weight_decay_set |= strcmp(key, "weight-decay") == 0;
    return true;
  }
  if (strcmp(key, "loss") == 0) {
    static const char *const names[] = {"cross_entropy", "mse"};
    int v;
    if (!set_choice(d, key, value, names, 2, "cross_entropy or mse", &v)) {
      return false;
    }
    s->loss = (cn_loss_kind)v;
    return true;
  }
  if (strcmp(key, "optimizer") == 0) {
    static const char *const names[] = {"sgd", "adam", "adamw"}; /* enum cnnrt_optimizer */
    return set_choice(d, key, value, names, 3, "sgd, adam or adamw", &s->optimizer);
  }
  if (strcmp(key, "lr-schedule") == 0) {
    static const char *const names[] = {"constant", "step", "cosine"}; /* cnnrt_lr_schedule */
    return set_choice(d, key, value, names, 3, "constant, step or cosine", &s->lr_schedule);
  }
  if (strcmp(key, "freeze") == 0) {
    if (!value || !*value) {
      cn_error(d, "--freeze takes PREFIX[,PREFIX...], e.g. conv1.,layer1.");
      return false;
    }
    for (const char *p = value; *p;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      if (len == 0) {
        cn_error(d, "--freeze: empty prefix in '%s'", value);
        return false;
      }
      s->freeze = cn_realloc(s->freeze, (size_t)(s->n_freeze + 1) * sizeof *s->freeze);
      s->freeze[s->n_freeze++] = cn_strndup(p, len);
      p += len + (comma ? 1 : 0);
    }
    return true;
  }
  for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++) {
    if (strcmp(key, flag_keys[i]) == 0) {
      if (!value || !*value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        s->nesterov = true;
      } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        s->nesterov = false;
      } else {
        cn_error(d, "--%s takes no value (or true/false), not '%s'", key, value);
        return false;
      }
      return true;
    }
  }
  cn_error(d, "unknown training option '%s'", key);
  return false;
}

bool cn_train_spec_finish(cn_train_spec *s, cn_diag *d) {
  if (!s->lr_set) {
    s->lr = s->optimizer == CNNRT_OPTIM_SGD ? 0.01 : 1e-3; /* Adam's PyTorch default */
  }
  if (!s->weight_decay_set) {
    s->weight_decay = s->optimizer == CNNRT_OPTIM_ADAMW ? 1e-2 : 0.0; /* AdamW's default */
  }
  bool ok = true;
  if (s->nesterov && (s->optimizer != CNNRT_OPTIM_SGD || s->momentum <= 0.0)) {
    cn_error(d, "--nesterov needs --optimizer sgd with --momentum > 0");
    ok = false;
  }
  if (s->momentum != 0.0 && s->optimizer != CNNRT_OPTIM_SGD) {
    cn_error(d, "--momentum applies to --optimizer sgd (Adam's are --beta1/--beta2)");
    ok = false;
  }
  if (s->label_smoothing != 0.0f && s->loss != CN_LOSS_CROSS_ENTROPY) {
    cn_error(d, "--label-smoothing applies to --loss cross_entropy");
    ok = false;
  }
  if (s->lr_schedule != CNNRT_LR_STEP && s->lr_step != 0) {
    cn_error(d, "--lr-step applies to --lr-schedule step");
    ok = false;
  }
  if (s->lr_schedule == CNNRT_LR_STEP && s->lr_step == 0) {
    cn_error(d, "--lr-schedule step needs --lr-step N (epochs between decays)");
    ok = false;
  }
  return ok;
}

bool cn_train_is_frozen(const cn_train_spec *s, const char *name) {
  for (int i = 0; i < s->n_freeze; i++) {
    if (strncmp(name, s->freeze[i], strlen(s->freeze[i])) == 0) {
      return true;
    }
  }
  return false;
}

/* ---- the train graph ------------------------------------------------------------------------ */

#include <stdio.h>

#include "../frontends/onnx/onnx_loader.h"
#include "ir.h"
#include "ops.h"
#include "passes/autodiff.h"
#include "passes/passes.h"
#include "pipeline.h"

void cn_train_info_free(cn_train_info *t) {
  free(t->params);
  free(t->grads);
  free(t->state);
  free(t->state_out);
  free(t->state_is_var);
  free(t->state_momentum);
  free(t->state_count);
  free(t->masks);
  free(t->mask_ratio);
  memset(t, 0, sizeof *t);
}

static void add_int_attr(cn_node *n, const char *name, int64_t value) {
  for (int a = 0; a < n->n_attrs; a++) {
    if (strcmp(n->attrs[a].name, name) == 0) {
      n->attrs[a].type = CN_ATTR_INT;
      n->attrs[a].i = value;
      return;
    }
  }
  n->attrs = cn_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  cn_attr *at = &n->attrs[n->n_attrs++];
  memset(at, 0, sizeof *at);
  at->name = cn_strdup(name);
  at->type = CN_ATTR_INT;
  at->i = value;
}

/* A new value called after `base` (made unique). */
static int new_value(cn_graph *g, const char *base) {
  char *name = cn_unique_name(g, base);
  int v = cn_value_add(g, name);
  free(name);
  return v;
}

/* BatchNormalization nodes in training mode: batch statistics, and outputs 1 and 2 (the updated
 * running mean and variance) added when the model did not ask for them. */
static void batchnorm_to_training(cn_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (n->dead || n->op != CN_OP_BATCH_NORM) {
      continue;
    }
    add_int_attr(n, "training_mode", 1);
    if (n->n_out < 3) {
      n->out = cn_realloc(n->out, 3 * sizeof *n->out);
      for (int o = n->n_out; o < 3; o++) {
        n->out[o] = -1;
      }
      n->n_out = 3;
    }
    for (int o = 1; o < 3; o++) {
      if (n->out[o] < 0) {
        char *base = cn_fmt("%s_running_%s", n->name, o == 1 ? "mean" : "var");
        int v = new_value(g, base);
        free(base);
        g->values[v].producer = i;
        n = &g->nodes[i];
        n->out[o] = v;
      }
    }
  }
}

/* BatchNormalization nodes for inference: running statistics, no statistics outputs (a model
 * exported in training mode asks for them, which makes older opsets train). */
static void batchnorm_to_inference(cn_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (!n->dead && n->op == CN_OP_BATCH_NORM) {
      if (n->opset >= 14) { /* older opsets have no such attribute: one output means inference */
        add_int_attr(n, "training_mode", 0);
      }
      n->n_out = 1;
    }
  }
}

/* Dropout's ratio: the attribute before opset 12, else the constant input 1 (an initializer or
 * a Constant node's value, not folded yet), 0.5 by default. */
static float dropout_ratio(const cn_graph *g, const cn_node *n) {
  if (n->opset < 12) {
    return cn_attr_float(n, "ratio", 0.5f);
  }
  if (!cn_has_input(n, 1)) {
    return 0.5f;
  }
  const cn_value *r = &g->values[n->in[1]];
  if (r->kind == CN_VALUE_CONST && r->data) {
    return (float)cn_value_get_float(r, 0);
  }
  if (r->producer >= 0 && g->nodes[r->producer].op == CN_OP_CONSTANT) {
    const cn_attr *a = cn_attr_find(&g->nodes[r->producer], "value");
    if (a && a->t && a->t->data && a->t->dtype == CNNRT_F32) {
      return ((const float *)a->t->data)[0];
    }
    if (a && a->t && a->t->data && a->t->dtype == CNNRT_F64) {
      return (float)((const double *)a->t->data)[0];
    }
  }
  return 0.5f;
}

/* Dropout nodes lose their training_mode input (so that they infer as the identity); their
 * ratios are recorded, per node index, for dropout_to_mask. */
static void dropout_strip_training(cn_graph *g, float *ratio_of_node) {
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (!n->dead && n->op == CN_OP_DROPOUT) {
      ratio_of_node[i] = dropout_ratio(g, n);
      if (n->n_in > 2) {
        n->in[2] = -1;
      }
      if (n->n_in > 1) {
        n->in[1] = -1;
      }
    }
  }
}

static void make_input(cn_graph *g, int v);

/* Active dropout in the train graph: y = x * mask, mask a new graph input of x's shape. */
static bool dropout_to_mask(cn_graph *g, const float *ratio_of_node, cn_train_info *t,
                            cn_diag *d) {
  int cap = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    cn_node *n = &g->nodes[i];
    if (n->dead || n->op != CN_OP_DROPOUT || ratio_of_node[i] == 0.0f) {
      continue;
    }
    const cn_value *x = &g->values[n->in[0]];
    char *base = cn_fmt("%s_mask", n->name);
    int m = new_value(g, base);
    free(base);
    cn_value *mv = &g->values[m];
    mv->kind = CN_VALUE_INPUT; /* listed among the graph inputs at the end of cn_train_build */
    mv->dtype = CNNRT_F32;
    cn_value_set_shape(mv, x->rank, x->dims);
    n = &g->nodes[i];
    n->op = CN_OP_MUL;
    free(n->op_type);
    n->op_type = cn_strdup("Mul");
    n->opset = 13;
    n->n_in = 2;
    n->in[1] = m;
    n->n_out = 1;
    g->values[n->out[0]].alias = -1;
    free(n->params);
    n->params = NULL;
    if (!cn_op_infer(g, n, d)) {
      return false;
    }
    CN_PUSH(t->masks, t->n_masks, cap, m);
    int k = t->n_masks - 1;
    t->mask_ratio = cn_realloc(t->mask_ratio, (size_t)(k + 1) * sizeof(float));
    t->mask_ratio[k] = ratio_of_node[i];
  }
  return true;
}

static void make_input(cn_graph *g, int v) {
  g->values[v].kind = CN_VALUE_INPUT;
  CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, v);
}

/* Whether value v is read by some live node as something other than a BN statistic. */
static bool read_as_param(const cn_graph *g, int v, bool *as_stat) {
  bool param = false;
  *as_stat = false;
  for (int i = 0; i < g->n_nodes; i++) {
    const cn_node *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_in; k++) {
      if (n->in[k] != v) {
        continue;
      }
      if (n->op == CN_OP_BATCH_NORM && (k == 3 || k == 4)) {
        *as_stat = true;
      } else {
        param = true;
      }
    }
  }
  return param;
}

/* Adds node op(in...) -> one new output value, inferred now. Returns the output, -1 on error. */
static int add_node(cn_graph *g, cn_op op, const char *name, const int *in, int n_in, cn_diag *d) {
  int out = new_value(g, name);
  int id = cn_node_add(g, op, name, cn_op_onnx_name(op), in, n_in, &out, 1);
  g->nodes[id].opset = 13;
  g->values[out].producer = id;
  return cn_op_infer(g, &g->nodes[id], d) ? out : -1;
}

/* The loss as ordinary ops on the logits and the targets input (see train.h). */
static int append_loss(cn_graph *g, const cn_train_spec *s, cn_train_info *t, cn_diag *d) {
  const cn_value *z = &g->values[t->logits];
  if (z->dtype != CNNRT_F32) {
    cn_error(d, "--train: the model's output '%s' is %s; the loss needs float32", z->name,
             cn_dtype_name(z->dtype));
    return -1;
  }
  if (s->loss == CN_LOSS_CROSS_ENTROPY && z->rank != 2) {
    char buf[160];
    cn_error(d, "--loss cross_entropy needs logits of shape [batch, classes]; the output '%s' "
                "has shape %s",
             z->name, cn_shape_str(z->rank, z->dims, buf, sizeof buf));
    return -1;
  }
  int rank = z->rank;
  int64_t dims[CN_MAX_RANK];
  memcpy(dims, z->dims, sizeof dims);
  t->targets = new_value(g, "targets");
  cn_value *tv = &g->values[t->targets];
  tv->dtype = CNNRT_F32;
  cn_value_set_shape(tv, rank, dims);
  make_input(g, t->targets);
  if (s->loss == CN_LOSS_MSE) {
    int in[2] = {t->logits, t->targets};
    int diff = add_node(g, CN_OP_SUB, "loss_diff", in, 2, d);
    if (diff < 0) {
      return -1;
    }
    int sq_in[2] = {diff, diff};
    int sq = add_node(g, CN_OP_MUL, "loss_square", sq_in, 2, d);
    return sq < 0 ? -1 : add_node(g, CN_OP_REDUCE_MEAN, "loss", &sq, 1, d);
  }
  /* loss = -(1/B) sum(t * log_softmax(z)) = -C * mean(t * log_softmax(z)) */
  int logp = add_node(g, CN_OP_LOG_SOFTMAX, "loss_log_softmax", &t->logits, 1, d);
  if (logp < 0) {
    return -1;
  }
  int in[2] = {t->targets, logp};
  int prod = add_node(g, CN_OP_MUL, "loss_target_logp", in, 2, d);
  int mean = prod < 0 ? -1 : add_node(g, CN_OP_REDUCE_MEAN, "loss_mean", &prod, 1, d);
  if (mean < 0) {
    return -1;
  }
  int scale = new_value(g, "loss_scale");
  cn_value *sv = &g->values[scale];
  sv->kind = CN_VALUE_CONST;
  sv->dtype = CNNRT_F32;
  int64_t one = 1;
  cn_value_set_shape(sv, 1, &one);
  ((float *)cn_value_alloc_data(sv))[0] = -(float)dims[1];
  int min[2] = {mean, scale};
  return add_node(g, CN_OP_MUL, "loss", min, 2, d);
}

cn_graph *cn_train_build(const cn_options *opt, bool training, cn_train_info *t, cn_diag *d) {
  const cn_train_spec *s = opt->train;
  memset(t, 0, sizeof *t);
  cn_graph *g = cn_load_model(opt, d); /* ONNX or .cnn */
  if (!g) {
    return NULL;
  }
  if (g->n_inputs < 1 || g->n_outputs < 1) {
    cn_error(d, "--train needs a model with an input and an output");
    cn_graph_free(g);
    return NULL;
  }
  if (opt->params_path && !cn_train_load_params(g, opt->params_path, d)) {
    cn_graph_free(g);
    return NULL;
  }
  t->input = g->inputs[0];
  t->logits = g->outputs[0];
  cn_value *x = &g->values[t->input];
  if (s->batch > 0 && x->rank > 0) {
    x->dims[0] = s->batch;
  } else if (x->rank > 0 && x->dims[0] < 0) {
    x->dims[0] = 1;
  }
  for (int k = 0; k < g->n_inputs; k++) {
    cn_value *in = &g->values[g->inputs[k]];
    for (int j = 0; j < in->rank; j++) {
      if (in->dims[j] < 0) {
        cn_error(d, "--train: input '%s' has a symbolic dimension (axis %d) other than the batch",
                 in->name, j);
      }
    }
  }
  if (g->n_inputs != 1) {
    cn_error(d, "--train supports models with one input; this one has %d", g->n_inputs);
  }
  if (cn_diag_failed(d) || !cn_pass_toposort(g, d)) {
    cn_graph_free(g);
    return NULL;
  }
  if (training) {
    batchnorm_to_training(g);
  } else {
    batchnorm_to_inference(g);
  }
  float *ratio_of_node = cn_calloc((size_t)g->n_nodes + 1, sizeof(float));
  dropout_strip_training(g, ratio_of_node);
  /* Parameters and statistics become inputs before shape inference, so that nothing is folded
   * into a constant that the optimizer then could not update. */
  int n_values = g->n_values, cap_state = 0, cap_params = 0;
  for (int v = 0; v < n_values; v++) {
    cn_value *val = &g->values[v];
    if (val->kind != CN_VALUE_CONST || !val->initializer || val->dtype != CNNRT_F32) {
      continue;
    }
    bool as_stat;
    bool as_param = read_as_param(g, v, &as_stat);
    if (as_param && as_stat) {
      cn_error(d, "--train: initializer '%s' is both a parameter and a BatchNormalization "
                  "statistic", val->name);
    } else if (as_stat) {
      make_input(g, v);
      CN_PUSH(t->state, t->n_state, cap_state, v);
    } else if (as_param && !cn_train_is_frozen(s, val->name)) {
      make_input(g, v);
      CN_PUSH(t->params, t->n_params, cap_params, v);
    }
  }
  bool ok = !cn_diag_failed(d) && cn_pass_infer(g, d) && cn_pass_dce(g, d);
  if (ok && training) {
    ok = dropout_to_mask(g, ratio_of_node, t, d);
  }
  free(ratio_of_node);
  if (ok && training) {
    t->loss = append_loss(g, s, t, d);
    ok = t->loss >= 0;
  }
  if (ok && training) {
    t->grads = cn_calloc((size_t)t->n_params + 1, sizeof(int));
    cn_autodiff_opts ao = {0};
    int seed = -1;
    ao.n_roots = 1;
    ao.roots = &t->loss;
    ao.root_seeds = &seed;
    ao.n_wrt = t->n_params;
    ao.wrt = t->params;
    ok = cn_autodiff(g, &ao, t->grads, d);
  }
  if (ok && training) {
    /* Parameters that do not reach the loss have a zero gradient: leave them out. */
    int k = 0;
    for (int i = 0; i < t->n_params; i++) {
      if (t->grads[i] >= 0) {
        t->params[k] = t->params[i];
        t->grads[k++] = t->grads[i];
      } else {
        cn_warning(d, "--train: parameter '%s' does not affect the loss; it is not trained",
                   g->values[t->params[i]].name);
      }
    }
    t->n_params = k;
    t->state_out = cn_calloc((size_t)t->n_state + 1, sizeof(int));
    t->state_is_var = cn_calloc((size_t)t->n_state + 1, sizeof(bool));
    t->state_momentum = cn_calloc((size_t)t->n_state + 1, sizeof(float));
    t->state_count = cn_calloc((size_t)t->n_state + 1, sizeof(int64_t));
    for (int i = 0; i < t->n_state; i++) {
      t->state_out[i] = -1;
      for (int j = 0; j < g->n_nodes; j++) {
        const cn_node *n = &g->nodes[j];
        if (!n->dead && n->op == CN_OP_BATCH_NORM && n->n_out >= 3 &&
            (n->in[3] == t->state[i] || n->in[4] == t->state[i])) {
          const cn_value *xv = &g->values[n->in[0]];
          t->state_is_var[i] = n->in[4] == t->state[i];
          t->state_out[i] = n->out[t->state_is_var[i] ? 2 : 1];
          t->state_momentum[i] = cn_attr_float(n, "momentum", 0.9f);
          t->state_count[i] = xv->rank >= 2 ? cn_value_numel(xv) / xv->dims[1] : 1;
        }
      }
      CN_ASSERT(t->state_out[i] >= 0);
    }
    /* --checkpoint: after the statistics' outputs are found, so that they are the original
     * BatchNormalization's (a recomputed copy's statistics are never read). */
    if (opt->checkpoint) {
      ok = cn_pass_checkpoint(g, opt->checkpoint, d);
    }
    /* One function: the train step runs forward, loss and backward in NAME_run. */
    for (int i = 0; i < g->n_nodes; i++) {
      g->nodes[i].backward = false;
    }
  }
  if (ok) {
    /* Inputs: data, [targets], params, state; outputs: [loss], logits, [grads], [state]. */
    g->n_inputs = 0;
    g->n_outputs = 0;
    for (int v = 0; v < g->n_values; v++) {
      g->values[v].is_output = false;
    }
    CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, t->input);
    if (training) {
      CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, t->targets);
    }
    for (int i = 0; i < t->n_params; i++) {
      CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, t->params[i]);
    }
    for (int i = 0; i < t->n_state; i++) {
      CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, t->state[i]);
    }
    for (int i = 0; i < t->n_masks; i++) {
      CN_PUSH(g->inputs, g->n_inputs, g->cap_inputs, t->masks[i]);
    }
    if (training) {
      CN_PUSH(g->outputs, g->n_outputs, g->cap_outputs, t->loss);
    }
    CN_PUSH(g->outputs, g->n_outputs, g->cap_outputs, t->logits);
    for (int i = 0; training && i < t->n_params; i++) {
      CN_PUSH(g->outputs, g->n_outputs, g->cap_outputs, t->grads[i]);
    }
    for (int i = 0; training && i < t->n_state; i++) {
      CN_PUSH(g->outputs, g->n_outputs, g->cap_outputs, t->state_out[i]);
    }
    for (int i = 0; i < g->n_outputs; i++) {
      g->values[g->outputs[i]].is_output = true;
    }
    g->n_params = 0;
    for (int i = 0; i < t->n_params; i++) {
      g->n_params += cn_value_numel(&g->values[t->params[i]]);
    }
    ok = cn_pass_dce(g, d) && cn_pass_fuse_epilogues(g, d) && cn_pass_dce(g, d) &&
         cn_pass_schedule(g, (int)opt->target, opt->max_threads, false, opt->tune_avx512, d) && cn_pass_dce(g, d) &&
         cn_pass_memplan(g, d);
  }
  if (!ok) {
    cn_train_info_free(t);
    cn_graph_free(g);
    return NULL;
  }
  return g;
}

/* ---- --params: trained values back into the model ---------------------------------------- */

static uint64_t read_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; k--) {
    v = (v << 8) | p[k];
  }
  return v;
}

bool cn_train_load_params(cn_graph *g, const char *path, cn_diag *d) {
  size_t len = 0;
  unsigned char *buf = cn_read_file(path, &len);
  if (!buf) {
    cn_error(d, "--params: cannot read '%s'", path);
    return false;
  }
  bool ok = len >= 16 && memcmp(buf, "CNNCCPRM", 8) == 0 && read_le(buf + 8, 4) == 1;
  if (!ok) {
    cn_error(d, "--params: '%s' is not a cnncc parameter file (NAME_train_write, version 1)",
             path);
  }
  uint64_t count = ok ? read_le(buf + 12, 4) : 0;
  size_t at = 16;
  for (uint64_t i = 0; ok && i < count; i++) {
    ok = false;
    if (len - at < 4) {
      break;
    }
    uint64_t name_len = read_le(buf + at, 4);
    at += 4;
    if (name_len > len - at || len - at - name_len < 4) {
      break;
    }
    char *name = cn_strndup((const char *)buf + at, (size_t)name_len);
    at += (size_t)name_len;
    uint64_t rank = read_le(buf + at, 4);
    at += 4;
    int64_t dims[CN_MAX_RANK];
    int64_t numel = 1;
    bool shape_ok = rank <= CN_MAX_RANK && (len - at) / 8 >= rank;
    for (uint64_t r = 0; shape_ok && r < rank; r++) {
      dims[r] = (int64_t)read_le(buf + at, 8);
      at += 8;
      shape_ok = dims[r] >= 0;
    }
    shape_ok = shape_ok && cn_numel_checked((int)rank, dims, CN_MAX_ELEMENTS, &numel);
    if (!shape_ok || (uint64_t)(len - at) / 4 < (uint64_t)numel) {
      free(name);
      break;
    }
    int v = cn_value_find(g, name);
    cn_value *val = v >= 0 ? &g->values[v] : NULL;
    char s1[160], s2[160];
    if (!val || val->kind != CN_VALUE_CONST || !val->initializer || val->dtype != CNNRT_F32) {
      cn_error(d, "--params: '%s' is not a float initializer of the model", name);
    } else if (val->rank != (int)rank || memcmp(val->dims, dims, rank * sizeof(int64_t)) != 0) {
      cn_error(d, "--params: '%s' has shape %s in the file but %s in the model", name,
               cn_shape_str((int)rank, dims, s1, sizeof s1),
               cn_shape_str(val->rank, val->dims, s2, sizeof s2));
    } else {
      if (!val->owns_data) {
        val->data = NULL;
        cn_value_alloc_data(val);
      }
      memcpy(val->data, buf + at, (size_t)numel * 4);
      ok = true;
    }
    at += (size_t)numel * 4;
    free(name);
    if (!ok) {
      free(buf);
      return false;
    }
  }
  if (!ok && !cn_diag_failed(d)) {
    cn_error(d, "--params: '%s' is truncated or corrupt", path);
  }
  free(buf);
  /* A trained model is for inference: BatchNormalization with its (trained) running statistics,
   * not with the batch statistics a model exported in training mode asks for. */
  if (ok) {
    batchnorm_to_inference(g);
  }
  return ok;
}

/* The text of line `line` (1-based) of `path`, or NULL; the caller frees it. */
static char *read_source_line(const char *path, int line) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  char *text = NULL;
  size_t cap = 0;
  ssize_t len = 0;
  for (int i = 0; i < line && (len = getline(&text, &cap, f)) >= 0; i++) {
  }
  fclose(f);
  if (len < 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* Applies one `key = value` of a .cnn training section; a bad one is reported at its position
 * (file:line:col, the line and a caret) with the message the command line would give. */
static bool set_declared(cn_train_spec *s, const struct cn_train_decl *t, const char *path,
                         cn_diag *d) {
  char *message = NULL;
  size_t message_len = 0;
  FILE *capture = open_memstream(&message, &message_len);
  if (!capture) {
    return cn_train_spec_set(s, t->key, t->value, d);
  }
  cn_diag quiet;
  cn_diag_init(&quiet, NULL);
  quiet.out = capture;
  bool ok = cn_train_spec_set(s, t->key, t->value, &quiet);
  fclose(capture);
  if (!ok) {
    /* the captured text is "cnncc: error: MESSAGE\n": keep MESSAGE */
    const char *text = message;
    const char *tag = strstr(text, "error: ");
    text = tag ? tag + strlen("error: ") : text;
    size_t n = strcspn(text, "\n");
    char *source_line = read_source_line(path, t->line);
    const char *file = d->file;
    d->file = path;
    cn_error_at(d, t->line, t->col, source_line, "%.*s", (int)n, text);
    d->file = file;
    free(source_line);
  }
  free(message);
  return ok;
}

bool cn_train_spec_for_model(cn_train_spec *out, const cn_options *opt, cn_diag *d) {
  cn_train_spec_init(out);
  /* Only a .cnn model can carry a training section: an ONNX model is not read an extra time. */
  cn_graph *g = cn_model_is_dsl(opt->model_path) ? cn_load_model(opt, d) : NULL;
  if (!g && cn_diag_failed(d)) {
    return false;
  }
  bool ok = true;
  for (int i = 0; ok && g && i < g->n_train_decls; i++) {
    const struct cn_train_decl *t = &g->train_decls[i];
    ok = set_declared(out, t, opt->model_path, d);
  }
  for (int i = 0; ok && i < opt->n_train_args; i++) {
    /* a list option given on the command line replaces the model's list instead of adding to it */
    if (strcmp(opt->train_arg_keys[i], "freeze") == 0) {
      for (int k = 0; k < out->n_freeze; k++) {
        free(out->freeze[k]);
      }
      out->n_freeze = 0;
    }
  }
  for (int i = 0; ok && i < opt->n_train_args; i++) {
    ok = cn_train_spec_set(out, opt->train_arg_keys[i], opt->train_arg_values[i], d);
  }
  cn_graph_free(g);
  return ok && cn_train_spec_finish(out, d);
}
