/* cnnrt_loss.h — training losses: softmax cross-entropy (with optional label smoothing) and
 * mean-squared error, each computing the scalar loss and its gradient in one pass.
 *
 * Semantics follow PyTorch's defaults (reduction='mean'):
 *   cross entropy: loss = mean_b( -sum_j t_bj * log_softmax(z_b)_j ),
 *                  t_bj = (1 - s) * [j == label_b] + s / C        (s = label smoothing)
 *                  dL/dz_bj = (softmax(z_b)_j - t_bj) / B
 *   MSE:           loss = mean_i (p_i - t_i)^2,   dL/dp_i = 2 (p_i - t_i) / n
 * log_softmax is computed max-subtracted, so large logits neither overflow nor lose the
 * gradient. Sums over the batch are accumulated in double. */
#ifndef CNNRT_LOSS_H
#define CNNRT_LOSS_H

#include "cnnrt.h"

/* Softmax cross-entropy over `batch` rows of `classes` logits with int64 class indices.
 * Writes the mean loss to *loss and, when dlogits is not NULL, the gradient of the mean loss
 * with respect to the logits (dlogits may alias logits). Returns the number of labels outside
 * [0, classes): such rows contribute neither loss nor gradient (their gradient row is zero),
 * and the caller should treat a non-zero count as an error in its data. */
static inline int64_t cnnrt_f32_softmax_xent_ref(int64_t batch, int64_t classes, float smoothing,
                                                 const float *logits, const int64_t *labels,
                                                 float *loss, float *dlogits) {
  double total = 0.0;
  int64_t bad = 0;
  const float off = smoothing / (float)classes; /* smoothing mass of every class */
  const float on = 1.0f - smoothing + off;      /* target of the labelled class */
  const float inv_batch = batch > 0 ? 1.0f / (float)batch : 0.0f;
  for (int64_t b = 0; b < batch; b++) {
    const float *z = logits + b * classes;
    float *dz = dlogits ? dlogits + b * classes : NULL;
    const int64_t label = labels[b];
    if (label < 0 || label >= classes) {
      bad++;
      for (int64_t j = 0; dz && j < classes; j++) {
        dz[j] = 0.0f;
      }
      continue;
    }
    float zmax = z[0];
    for (int64_t j = 1; j < classes; j++) {
      zmax = z[j] > zmax ? z[j] : zmax;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < classes; j++) {
      sum += (double)expf(z[j] - zmax);
    }
    const float log_sum = (float)log(sum);
    /* -sum_j t_j (z_j - zmax - log_sum) */
    double row = 0.0;
    if (smoothing != 0.0f) {
      double zsum = 0.0;
      for (int64_t j = 0; j < classes; j++) {
        zsum += (double)(z[j] - zmax - log_sum);
      }
      row -= (double)off * zsum;
      row -= (double)(1.0f - smoothing) * (double)(z[label] - zmax - log_sum);
    } else {
      row -= (double)(z[label] - zmax - log_sum);
    }
    total += row;
    if (dz) {
      const float inv_sum = (float)(1.0 / sum);
      for (int64_t j = 0; j < classes; j++) {
        const float p = expf(z[j] - zmax) * inv_sum;
        dz[j] = (p - (j == label ? on : off)) * inv_batch;
      }
    }
  }
  *loss = batch > 0 ? (float)(total / (double)batch) : 0.0f;
  return bad;
}

/* Mean-squared error over n elements; dpred (may be NULL, may alias pred) receives dL/dpred. */
static inline void cnnrt_f32_mse_ref(int64_t n, const float *pred, const float *target,
                                     float *loss, float *dpred) {
  double total = 0.0;
  const float scale = n > 0 ? 2.0f / (float)n : 0.0f;
  for (int64_t i = 0; i < n; i++) {
    const float d = pred[i] - target[i];
    total += (double)d * (double)d;
    if (dpred) {
      dpred[i] = d * scale;
    }
  }
  *loss = n > 0 ? (float)(total / (double)n) : 0.0f;
}

/* The targets cross-entropy compares with: rows of (1 - s) * one_hot(label) + s / classes.
 * Returns the number of labels outside [0, classes) (their rows are all s / classes). */
static inline int64_t cnnrt_f32_smoothed_onehot_ref(int64_t batch, int64_t classes,
                                                    float smoothing, const int64_t *labels,
                                                    float *targets) {
  int64_t bad = 0;
  const float off = smoothing / (float)classes, on = 1.0f - smoothing + off;
  for (int64_t b = 0; b < batch; b++) {
    const int64_t label = labels[b];
    bad += label < 0 || label >= classes;
    for (int64_t j = 0; j < classes; j++) {
      targets[b * classes + j] = j == label ? on : off;
    }
  }
  return bad;
}

/* Number of rows whose highest logit is at the label (ties: the first maximum), for accuracy. */
static inline int64_t cnnrt_f32_count_correct_ref(int64_t batch, int64_t classes,
                                                  const float *logits, const int64_t *labels) {
  int64_t correct = 0;
  for (int64_t b = 0; b < batch; b++) {
    const float *z = logits + b * classes;
    int64_t best = 0;
    for (int64_t j = 1; j < classes; j++) {
      best = z[j] > z[best] ? j : best;
    }
    correct += best == labels[b];
  }
  return correct;
}

#endif /* CNNRT_LOSS_H */
