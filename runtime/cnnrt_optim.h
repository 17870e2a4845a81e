/* cnnrt_optim.h — optimizer updates, gradient clipping and learning-rate schedules for the
 * generated train step. Portable references here; AVX2 versions in cnnrt_optim_avx2.h.
 *
 * Each update reads a parameter tensor, its gradient and its optimizer state and writes the
 * parameter and the state in place, following PyTorch 1.13's single-tensor implementations
 * (torch/optim/{sgd,adam,adamw}.py) with dampening 0, maximize false, amsgrad false:
 *
 *   SGD:   g = gscale*grad + wd*p;  buf = momentum*buf + g  (buf starts at 0, which equals
 *          PyTorch's "buf = g" on the first step);  d = nesterov ? g + momentum*buf : buf
 *          (d = g without momentum);  p -= lr*d
 *   Adam:  g = gscale*grad + wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *          p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   AdamW: p *= 1 - lr*wd, then Adam's update without the wd term.
 *
 * `gscale` multiplies the gradient as it is read: gradient clipping by global norm folds its
 * factor in there instead of rewriting every gradient first. Bias corrections are computed by
 * the caller once per step (cnnrt_adam_step_consts) in double, as PyTorch does in Python. */
#ifndef CNNRT_OPTIM_H
#define CNNRT_OPTIM_H

#include "cnnrt.h"

enum cnnrt_optimizer { CNNRT_OPTIM_SGD = 0, CNNRT_OPTIM_ADAM = 1, CNNRT_OPTIM_ADAMW = 2 };
enum cnnrt_lr_schedule { CNNRT_LR_CONSTANT = 0, CNNRT_LR_STEP = 1, CNNRT_LR_COSINE = 2 };

/* Hyper-parameters of one optimizer, fixed at build time. */
typedef struct cnnrt_optim_params {
  int64_t kind;     /* enum cnnrt_optimizer */
  int64_t nesterov; /* SGD */
  float momentum;   /* SGD */
  float weight_decay;
  float beta1, beta2, eps; /* Adam, AdamW */
  /* 1 - beta1 and 1 - beta2, rounded from the exact values: 1.0f - 0.999f is off by 1.3e-5
   * relative, which PyTorch (computing 1 - beta in double) does not see. */
  float one_minus_beta1, one_minus_beta2;
} cnnrt_optim_params;

/* The learning-rate schedule, evaluated per optimizer step. Warm-up (any schedule) scales the
 * rate linearly from lr/warmup at step 0 to lr at step warmup-1. STEP multiplies by gamma
 * every step_size epochs (PyTorch's StepLR stepped once an epoch); COSINE anneals from lr to 0
 * over the steps after warm-up up to total_steps (CosineAnnealingLR with eta_min 0, per step). */
typedef struct cnnrt_lr_params {
  int64_t kind;      /* enum cnnrt_lr_schedule */
  int64_t step_size; /* STEP: epochs between decays */
  int64_t warmup;    /* warm-up steps, 0 for none */
  float lr, gamma;
} cnnrt_lr_params;

/* Learning rate of optimizer step `step` (0-based) when an epoch has steps_per_epoch steps and
 * training runs total_steps steps (COSINE; 0 = no annealing). */
static inline float cnnrt_lr_at(const cnnrt_lr_params *p, int64_t step, int64_t steps_per_epoch,
                                int64_t total_steps) {
  double lr = (double)p->lr;
  if (p->warmup > 0 && step < p->warmup) {
    return (float)(lr * (double)(step + 1) / (double)p->warmup);
  }
  if (p->kind == CNNRT_LR_STEP && p->step_size > 0 && steps_per_epoch > 0) {
    const int64_t epoch = step / steps_per_epoch;
    lr *= pow((double)p->gamma, (double)(epoch / p->step_size));
  } else if (p->kind == CNNRT_LR_COSINE && total_steps > p->warmup) {
    const double t = (double)(step - p->warmup) / (double)(total_steps - p->warmup);
    const double pi = 3.14159265358979323846;
    lr *= t >= 1.0 ? 0.0 : 0.5 * (1.0 + cos(pi * t));
  }
  return (float)lr;
}

/* Step-dependent constants of Adam/AdamW step t (1-based): PyTorch's step_size and
 * bias_correction2_sqrt, rounded to float once. */
typedef struct cnnrt_adam_consts {
  float step_size;  /* lr / (1 - beta1^t) */
  float bc2_sqrt;   /* sqrt(1 - beta2^t) */
  float decay_keep; /* AdamW: 1 - lr*wd; else 1 */
} cnnrt_adam_consts;

static inline cnnrt_adam_consts cnnrt_adam_step_consts(const cnnrt_optim_params *p, float lr,
                                                       int64_t t) {
  cnnrt_adam_consts c;
  const double bc1 = 1.0 - pow(1.0 - (double)p->one_minus_beta1, (double)t);
  const double bc2 = 1.0 - pow(1.0 - (double)p->one_minus_beta2, (double)t);
  c.step_size = (float)((double)lr / bc1);
  c.bc2_sqrt = (float)sqrt(bc2);
  c.decay_keep = p->kind == CNNRT_OPTIM_ADAMW ? 1.0f - lr * p->weight_decay : 1.0f;
  return c;
}

/* SGD on n elements; mom is the momentum buffer (n floats, zero before the first step; unused
 * and may be NULL when momentum is 0). */
static inline void cnnrt_f32_sgd_ref(const cnnrt_optim_params *p, int64_t n, float lr,
                                     float gscale, float *param, const float *grad, float *mom) {
  const float mu = p->momentum, wd = p->weight_decay;
  for (int64_t i = 0; i < n; i++) {
    float g = grad[i] * gscale;
    if (wd != 0.0f) {
      g += wd * param[i];
    }
    if (mu != 0.0f) {
      const float buf = mu * mom[i] + g;
      mom[i] = buf;
      g = p->nesterov ? g + mu * buf : buf;
    }
    param[i] -= lr * g;
  }
}

/* Adam / AdamW on n elements; m and v are the moment buffers (zero before the first step). */
static inline void cnnrt_f32_adam_ref(const cnnrt_optim_params *p, const cnnrt_adam_consts *c,
                                      int64_t n, float gscale, float *param, const float *grad,
                                      float *m, float *v) {
  const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
  const float ob1 = p->one_minus_beta1, ob2 = p->one_minus_beta2;
  const float wd = p->kind == CNNRT_OPTIM_ADAM ? p->weight_decay : 0.0f;
  for (int64_t i = 0; i < n; i++) {
    float w = param[i] * c->decay_keep;
    float g = grad[i] * gscale;
    if (wd != 0.0f) {
      g += wd * w;
    }
    const float mi = b1 * m[i] + ob1 * g;
    const float vi = b2 * v[i] + ob2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / c->bc2_sqrt + eps;
    param[i] = w - c->step_size * (mi / denom);
  }
}

/* Sum of squares of n elements, in double (gradient clipping accumulates it over all tensors). */
static inline double cnnrt_f32_sum_squares_ref(int64_t n, const float *x) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    s += (double)x[i] * (double)x[i];
  }
  return s;
}

/* torch.nn.utils.clip_grad_norm_: the factor the gradients are scaled by, given the sum of
 * squares of all of them: max_norm / (norm + 1e-6) when that is below 1, else 1. */
static inline float cnnrt_clip_factor(double sum_squares, float max_norm) {
  const double norm = sqrt(sum_squares);
  const double coef = (double)max_norm / (norm + 1e-6);
  return coef < 1.0 ? (float)coef : 1.0f;
}

/* BatchNormalization's running statistics as PyTorch keeps them. The graph updates them as ONNX
 * does, new = momentum * old + (1 - momentum) * batch_stat with the biased batch variance;
 * PyTorch uses the unbiased one (count / (count - 1) times larger). Given old and the graph's
 * new value, writes PyTorch's into old (c channels; is_var 0 copies the mean). */
static inline void cnnrt_f32_running_stat_update(int64_t c, int is_var, float momentum,
                                                 int64_t count, const float *new_stat,
                                                 float *stat) {
  const double unbias = is_var && count > 1 ? (double)count / (double)(count - 1) : 1.0;
  for (int64_t i = 0; i < c; i++) {
    const double keep = (double)momentum * (double)stat[i];
    stat[i] = (float)(keep + ((double)new_stat[i] - keep) * unbias);
  }
}

#endif /* CNNRT_OPTIM_H */
