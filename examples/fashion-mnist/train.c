/* train.c — trains the Fashion-MNIST CNN from scratch with the train step that
 * `cnncc --train` generated (fnet_train.h), on the idx files of the dataset.
 *
 *   ./train DATA_DIR [--epochs N (default: cnncc's --epochs)] [--train-limit N] [--test-limit N] [--save FILE]
 *                    [--min-accuracy PCT] [--quiet]
 *
 * DATA_DIR holds the four uncompressed idx files (train-images-idx3-ubyte, ...). Each epoch
 * shuffles the training set (seeded), runs batches of FNET_TRAIN_BATCH images through
 * fnet_train_step with a progress bar, then evaluates on the test set (fnet_train_eval: BN with
 * running statistics) and prints the mean loss, the test accuracy and the images per second of
 * the training (the evaluation is not timed). --save writes the trained parameters for
 * `cnncc fashion.onnx --params FILE --emit-onnx trained.onnx`. --min-accuracy makes the exit
 * status 1 when the final test accuracy is below PCT (for tests). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, posix_memalign */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnet_train.h"

#define BATCH FNET_TRAIN_BATCH
#define PIXELS (28 * 28)
#define CLASSES FNET_TRAIN_CLASSES

/* The dataset's mean and standard deviation of pixel values (in [0, 1]). */
#define PIXEL_MEAN 0.2860f
#define PIXEL_STD 0.3530f

/* ---- idx files (http://yann.lecun.com/exdb/mnist/ format): big-endian header, then bytes ---- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an idx file whose element type is unsigned byte (0x08) and rank `rank`; returns its data
 * (malloc'd) and the first dimension, checks the others against `dims_after_first`. */
static unsigned char *read_idx(const char *dir, const char *name, int rank,
                               const uint32_t *dims_after_first, uint32_t *count) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "train: cannot open %s\n", path);
    exit(1);
  }
  unsigned char head[16];
  size_t head_len = 4 + 4 * (size_t)rank;
  if (fread(head, 1, head_len, f) != head_len || head[0] != 0 || head[1] != 0 ||
      head[2] != 0x08 || head[3] != rank) {
    fprintf(stderr, "train: %s is not an idx file of unsigned bytes of rank %d\n", path, rank);
    exit(1);
  }
  *count = be32(head + 4);
  size_t per_item = 1;
  for (int k = 1; k < rank; k++) {
    if (be32(head + 4 + 4 * k) != dims_after_first[k - 1]) {
      fprintf(stderr, "train: %s: dimension %d is %u, expected %u\n", path, k,
              be32(head + 4 + 4 * k), dims_after_first[k - 1]);
      exit(1);
    }
    per_item *= dims_after_first[k - 1];
  }
  size_t bytes = (size_t)*count * per_item;
  unsigned char *data = malloc(bytes ? bytes : 1);
  if (!data || fread(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "train: %s is truncated\n", path);
    exit(1);
  }
  fclose(f);
  return data;
}

typedef struct dataset {
  uint32_t n;
  unsigned char *images; /* n x 28 x 28 */
  unsigned char *labels; /* n */
} dataset;

static dataset load(const char *dir, const char *images, const char *labels, uint32_t limit) {
  static const uint32_t image_dims[2] = {28, 28};
  dataset d;
  uint32_t n_labels;
  d.images = read_idx(dir, images, 3, image_dims, &d.n);
  d.labels = read_idx(dir, labels, 1, NULL, &n_labels);
  if (n_labels != d.n) {
    fprintf(stderr, "train: %s has %u labels for %u images\n", labels, n_labels, d.n);
    exit(1);
  }
  if (limit > 0 && limit < d.n) {
    d.n = limit;
  }
  return d;
}

/* Normalised float images of the given indices (a batch); rows past n are zero. */
static void make_batch(const dataset *d, const uint32_t *idx, int n, float *x, int64_t *y) {
  for (int b = 0; b < BATCH; b++) {
    for (int p = 0; p < PIXELS; p++) {
      x[b * PIXELS + p] =
          b < n ? ((float)d->images[(size_t)idx[b] * PIXELS + p] / 255.0f - PIXEL_MEAN) / PIXEL_STD
                : 0.0f;
    }
    y[b] = b < n ? d->labels[idx[b]] : 0;
  }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_random(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(int epoch, int epochs, uint32_t done, uint32_t total, double loss,
                     double seconds) {
  const int width = 30;
  int fill = total ? (int)((uint64_t)done * width / total) : width;
  char bar[64];
  for (int i = 0; i < width; i++) {
    bar[i] = i < fill ? '#' : '.';
  }
  bar[width] = '\0';
  fprintf(stderr, "\repoch %d/%d [%s] %5.1f%%  loss %.4f  %7.0f images/s", epoch, epochs, bar,
          100.0 * done / (total ? total : 1), loss, seconds > 0 ? done / seconds : 0.0);
  fflush(stderr);
}

static double evaluate(void *ctx, const dataset *test, float *x, int64_t *y, float *logits) {
  uint32_t *idx = malloc(BATCH * sizeof *idx);
  uint32_t correct = 0;
  for (uint32_t start = 0; start < test->n; start += BATCH) {
    int n = test->n - start < BATCH ? (int)(test->n - start) : BATCH;
    for (int b = 0; b < n; b++) {
      idx[b] = start + (uint32_t)b;
    }
    make_batch(test, idx, n, x, y);
    if (fnet_train_eval(ctx, x, logits) != 0) {
      fprintf(stderr, "train: evaluation failed\n");
      exit(1);
    }
    for (int b = 0; b < n; b++) {
      int best = 0;
      for (int k = 1; k < CLASSES; k++) {
        best = logits[b * CLASSES + k] > logits[b * CLASSES + best] ? k : best;
      }
      correct += best == y[b];
    }
  }
  free(idx);
  return 100.0 * correct / (test->n ? test->n : 1);
}

static int write_file(void *user, const void *data, size_t bytes) {
  return fwrite(data, 1, bytes, (FILE *)user) == bytes ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: train DATA_DIR [--epochs N] [--train-limit N] [--test-limit N] "
                    "[--save FILE] [--min-accuracy PCT] [--quiet]\n");
    return 2;
  }
  const char *dir = argv[1], *save = NULL;
  int epochs = FNET_TRAIN_EPOCHS; /* cnncc --epochs (train.flags) */
  uint32_t train_limit = 0, test_limit = 0;
  double min_accuracy = -1.0;
  int quiet = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--quiet") == 0) {
      quiet = 1;
    } else if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0) {
      epochs = atoi(argv[++i]);
    } else if (i + 1 < argc && strcmp(argv[i], "--train-limit") == 0) {
      train_limit = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (i + 1 < argc && strcmp(argv[i], "--test-limit") == 0) {
      test_limit = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (i + 1 < argc && strcmp(argv[i], "--save") == 0) {
      save = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--min-accuracy") == 0) {
      min_accuracy = atof(argv[++i]);
    } else {
      fprintf(stderr, "train: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  dataset train = load(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train_limit);
  dataset test = load(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test_limit);
  const uint32_t steps_per_epoch = train.n / BATCH; /* the last partial batch is dropped */
  void *ctx = NULL;
  if (posix_memalign(&ctx, 64, FNET_TRAIN_ARENA_BYTES) != 0 ||
      fnet_train_init(ctx, steps_per_epoch, (int64_t)steps_per_epoch * epochs) != 0) {
    fprintf(stderr, "train: cannot set up the train step\n");
    return 1;
  }
  printf("training %u images (%u steps of %d an epoch), testing %u; %d parameters, "
         "%.1f MB of training memory\n",
         train.n, steps_per_epoch, BATCH, test.n, (int)FNET_TRAIN_PARAM_COUNT,
         FNET_TRAIN_ARENA_BYTES / 1e6);
  float *x = malloc(sizeof(float) * BATCH * PIXELS), *logits = malloc(sizeof(float) * BATCH * CLASSES);
  int64_t *y = malloc(sizeof(int64_t) * BATCH);
  uint32_t *order = malloc(sizeof(uint32_t) * (train.n ? train.n : 1));
  for (uint32_t i = 0; i < train.n; i++) {
    order[i] = i;
  }
  double accuracy = 0.0, total_seconds = 0.0;
  for (int epoch = 1; epoch <= epochs; epoch++) {
    for (uint32_t i = train.n; i > 1; i--) { /* Fisher-Yates */
      uint32_t j = next_random() % i, t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
    double loss_sum = 0.0, seconds = 0.0;
    for (uint32_t s = 0; s < steps_per_epoch; s++) {
      make_batch(&train, order + (size_t)s * BATCH, BATCH, x, y);
      double t0 = now();
      float loss;
      int rc = fnet_train_step(ctx, x, y, &loss);
      seconds += now() - t0;
      if (rc != 0) {
        fprintf(stderr, "\ntrain: train step failed (%d)\n", rc);
        return 1;
      }
      loss_sum += loss;
      if (!quiet && (s % 20 == 19 || s + 1 == steps_per_epoch)) {
        progress(epoch, epochs, (s + 1) * BATCH, steps_per_epoch * BATCH, loss_sum / (s + 1),
                 seconds);
      }
    }
    total_seconds += seconds;
    accuracy = evaluate(ctx, &test, x, y, logits);
    if (!quiet) {
      fprintf(stderr, "\n");
    }
    printf("epoch %d: loss %.4f  test accuracy %.2f%%  %.0f images/s\n", epoch,
           loss_sum / (steps_per_epoch ? steps_per_epoch : 1), accuracy,
           seconds > 0 ? steps_per_epoch * BATCH / seconds : 0.0);
    fflush(stdout);
  }
  printf("trained %d epochs in %.1f s of train steps: %.0f images/s; final test accuracy %.2f%%\n",
         epochs, total_seconds,
         total_seconds > 0 ? (double)epochs * steps_per_epoch * BATCH / total_seconds : 0.0,
         accuracy);
  if (save) {
    FILE *f = fopen(save, "wb");
    if (!f || fnet_train_write(ctx, write_file, f) != 0 || fclose(f) != 0) {
      fprintf(stderr, "train: cannot write %s\n", save);
      return 1;
    }
  }
  free(x);
  free(y);
  free(logits);
  free(order);
  free(ctx);
  free(train.images);
  free(train.labels);
  free(test.images);
  free(test.labels);
  return min_accuracy >= 0 && accuracy < min_accuracy ? 1 : 0;
}
