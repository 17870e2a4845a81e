/* cnnrt_dropout.h — training-mode Dropout with a counter-based random number generator.
 *
 * Whether element i is kept at training step `step` is a pure function of (seed, stream, step,
 * i): a 64-bit hash (the splitmix64 finaliser applied to a combination of the four), so
 *   - results are reproducible and do not depend on how the work is split across threads,
 *   - the backward pass recomputes the mask instead of storing it (no arena for masks).
 * `stream` tells dropout layers apart (the generated code gives each its own). Kept elements are
 * scaled by 1 / (1 - ratio) as in PyTorch and ONNX; ratio 0 is the identity, ratio 1 zeroes.
 * The keep test compares 24 random bits with ratio * 2^24, so ratios are resolved to 2^-24. */
#ifndef CNNRT_DROPOUT_H
#define CNNRT_DROPOUT_H

#include "cnnrt.h"

static inline uint64_t cnnrt_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The per-(seed, stream, step) key; element i's bits are cnnrt_mix64(key + i * golden). */
static inline uint64_t cnnrt_dropout_key(uint64_t seed, uint64_t stream, uint64_t step) {
  return cnnrt_mix64(cnnrt_mix64(seed ^ 0x243f6a8885a308d3ull) ^ (stream * 0x9e3779b97f4a7c15ull) ^
                     cnnrt_mix64(step + 0x13198a2e03707344ull));
}

static inline int cnnrt_dropout_keep(uint64_t key, int64_t i, uint32_t threshold) {
  const uint64_t bits = cnnrt_mix64(key + (uint64_t)i * 0x9e3779b97f4a7c15ull);
  return (uint32_t)(bits >> 40) >= threshold; /* top 24 bits */
}

static inline uint32_t cnnrt_dropout_threshold(float ratio) {
  if (ratio <= 0.0f) {
    return 0u;
  }
  if (ratio >= 1.0f) {
    return 1u << 24;
  }
  return (uint32_t)((double)ratio * 16777216.0 + 0.5);
}

/* Elements [first, first + n) of y = x * mask / (1 - ratio), mask from (seed, stream, step);
 * x and y point at element `first`; y may alias x. A thread handling a slice passes its first
 * index, so the split does not change the result. Used for both directions: the backward pass
 * calls it with dy and dx and the same (seed, stream, step). */
static inline void cnnrt_f32_dropout_range_ref(int64_t first, int64_t n, float ratio,
                                               uint64_t seed, uint64_t stream, uint64_t step,
                                               const float *x, float *y) {
  const uint32_t threshold = cnnrt_dropout_threshold(ratio);
  const float scale = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
  const uint64_t key = cnnrt_dropout_key(seed, stream, step);
  for (int64_t i = 0; i < n; i++) {
    y[i] = cnnrt_dropout_keep(key, first + i, threshold) ? x[i] * scale : 0.0f;
  }
}

static inline void cnnrt_f32_dropout_ref(int64_t n, float ratio, uint64_t seed, uint64_t stream,
                                         uint64_t step, const float *x, float *y) {
  cnnrt_f32_dropout_range_ref(0, n, ratio, seed, stream, step, x, y);
}

/* The mask as 0/1 bytes (for tests and for ONNX's optional mask output). */
static inline void cnnrt_dropout_mask_ref(int64_t n, float ratio, uint64_t seed, uint64_t stream,
                                          uint64_t step, uint8_t *mask) {
  const uint32_t threshold = cnnrt_dropout_threshold(ratio);
  const uint64_t key = cnnrt_dropout_key(seed, stream, step);
  for (int64_t i = 0; i < n; i++) {
    mask[i] = (uint8_t)cnnrt_dropout_keep(key, i, threshold);
  }
}

/* The mask as the factors a train graph multiplies by: 1 / (1 - ratio) where kept, else 0 (the
 * same elements cnnrt_f32_dropout_ref keeps). The backward pass of x * mask is dy * mask. */
static inline void cnnrt_f32_dropout_scale_mask_ref(int64_t n, float ratio, uint64_t seed,
                                                    uint64_t stream, uint64_t step, float *mask) {
  const uint32_t threshold = cnnrt_dropout_threshold(ratio);
  const float scale = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
  const uint64_t key = cnnrt_dropout_key(seed, stream, step);
  for (int64_t i = 0; i < n; i++) {
    mask[i] = cnnrt_dropout_keep(key, i, threshold) ? scale : 0.0f;
  }
}

#endif /* CNNRT_DROPOUT_H */
