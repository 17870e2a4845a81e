/* train.h — the training specification (--train and its options, or a .cnn `training`
 * section) and the pass that turns a forward graph into a train step.
 *
 * Options and DSL keys share one setter, cn_train_spec_set(spec, key, value, diag), with the
 * CLI's long option names without the dashes as keys ("optimizer", "lr", "nesterov", ...).
 * Defaults are PyTorch's where PyTorch has one: Adam(W) betas (0.9, 0.999), eps 1e-8, AdamW
 * weight decay 1e-2, StepLR gamma 0.1; SGD's learning rate, which PyTorch requires, defaults to
 * 0.01 here and Adam's to 1e-3 as in PyTorch. */
#ifndef CN_TRAIN_H
#define CN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

struct cn_graph;

typedef enum cn_loss_kind { CN_LOSS_CROSS_ENTROPY = 0, CN_LOSS_MSE } cn_loss_kind;

typedef struct cn_train_spec {
  cn_loss_kind loss;
  float label_smoothing;
  int optimizer; /* enum cnnrt_optimizer (runtime/cnnrt_optim.h) */
  double lr, momentum, weight_decay, beta1, beta2, eps;
  bool nesterov;
  int lr_schedule; /* enum cnnrt_lr_schedule */
  int64_t lr_step; /* epochs between StepLR decays */
  double lr_gamma;
  int64_t warmup; /* warm-up steps */
  int64_t epochs; /* for the driver / cosine length; the train step itself does not loop */
  int64_t batch;  /* batch size (first dimension of the first input); 0 = the model's */
  double clip_norm; /* 0 = no clipping */
  /* Seed of the Dropout masks: (seed, layer, step, element) picks each mask bit
   * (runtime/cnnrt_dropout.h). */
  int64_t seed;
  int n_freeze;
  char **freeze; /* initializer-name prefixes that stay fixed */
  /* which options were given (defaults that depend on another option are resolved last) */
  bool lr_set, weight_decay_set;
} cn_train_spec;

/* Sets PyTorch's defaults. */
void cn_train_spec_init(cn_train_spec *s);
void cn_train_spec_free(cn_train_spec *s);

/* Sets one key ("lr", "optimizer", "nesterov", ... the long option names without "--") from its
 * text value (NULL or "" for flags such as nesterov, which also take "true"/"false"). Reports a
 * bad key or value through d ("cnncc: error: --lr takes a positive number, not 'x'") and returns
 * false. The CLI and the DSL's `training` section both call it. */
bool cn_train_spec_set(cn_train_spec *s, const char *key, const char *value, cn_diag *d);

/* Whether `key` names a training option that takes a value (for the CLI's argument parsing). */
bool cn_train_key_takes_value(const char *key);

/* Resolves defaults that depend on other options and checks the combination (e.g. --nesterov
 * needs momentum). Returns false after reporting. */
bool cn_train_spec_finish(cn_train_spec *s, cn_diag *d);

/* The spec --train compiles `opt->model_path` with: PyTorch's defaults, then the model's own
 * `training` section (a .cnn model's train_decls, each reported at its line on error), then the
 * command line's training options (opt->train_arg_*), which win. Without a training section it
 * is a copy of *opt->train. Returns false after reporting; free `out` with cn_train_spec_free. */
struct cn_options;
bool cn_train_spec_for_model(cn_train_spec *out, const struct cn_options *opt, cn_diag *d);

/* Whether initializer `name` is frozen by a --freeze prefix. */
bool cn_train_is_frozen(const cn_train_spec *s, const char *name);

/* What the train-step code generator needs to know about a graph built by cn_train_build.
 * Graph inputs are, in order: the model's input, the loss targets (float, the logits' shape:
 * one-hot rows smoothed for cross-entropy, targets for MSE), the n_params parameters, the
 * n_state statistics (BatchNormalization running mean / variance). Graph outputs: the loss
 * (one element), the logits, the n_params gradients, the n_state updated statistics. The
 * parameters and statistics carry their initial values in `data` (kind INPUT). */
typedef struct cn_train_info {
  int input, targets, loss, logits;
  int n_params;
  int *params, *grads;
  int n_state;
  int *state, *state_out;
  /* Per statistic: a running variance (else a mean), its BN's momentum and the number of values
   * each channel's batch variance is taken over. ONNX updates the running variance with the
   * biased batch variance, PyTorch with the unbiased one: the train step follows PyTorch. */
  bool *state_is_var;
  float *state_momentum;
  int64_t *state_count;
  /* Dropout layers: each became x * mask with the mask a graph input (after the statistics),
   * filled every step by the train step from the counter-based RNG (runtime/cnnrt_dropout.h). */
  int n_masks;
  int *masks;
  float *mask_ratio;
} cn_train_info;

void cn_train_info_free(cn_train_info *t);

/* Loads the model and turns it into a train step: parameters and statistics become inputs,
 * BatchNormalization trains (batch statistics, running-statistics outputs), the loss is
 * appended as ordinary ops and differentiated by the autodiff pass, then the usual passes run
 * (no BN folding). With `training` false, the same parameters and statistics become inputs of
 * an inference graph (BN with running statistics) for evaluation while training. Returns NULL
 * after reporting errors. */
struct cn_options;
struct cn_graph *cn_train_build(const struct cn_options *opt, bool training, cn_train_info *info,
                                cn_diag *d);

/* cnncc --train: writes OUT/NAME.c (train graph), OUT/NAME_eval.c (evaluation graph) and
 * OUT/NAME_train.{c,h} (the train step). Returns the exit status. */
int cn_train_compile(const struct cn_options *opt);

/* --params FILE: replaces the data of the model's initializers by the values in FILE (the
 * format NAME_train_write produces, docs/training.md), matched by name with equal shapes, and
 * puts BatchNormalization in inference mode (running statistics). */
bool cn_train_load_params(struct cn_graph *g, const char *path, cn_diag *d);

#endif
