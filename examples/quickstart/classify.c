/* classify.c — the quickstart application: classify Fashion-MNIST images with the model that
 * cnncc compiled from fashion_cnn.onnx.
 *
 *   cnncc fashion_cnn.onnx -o out/fashion.c
 *   cc -O2 -std=c99 -Wall -Wextra -Wpedantic -Iout classify.c out/fashion.c -o classify -lm
 *   ./classify [--logits] samples/00_tshirt.npy samples/01_trouser.npy ...
 *
 * Each input is a .npy file holding one image: float32 [1,1,28,28] (or [28,28]), pixels scaled
 * to [0,1] (x/255). For every image the program prints the predicted class and its softmax
 * probability; when a labels.txt ("<file> <class index> <class name>" per line) sits next to
 * the image, it also says whether the prediction matches the true class. With --logits it
 * prints the raw model outputs as well. The exit status is 0 when every image could be read
 * and classified, 1 otherwise; wrong predictions are reported, not treated as errors.
 *
 * Plain C99 (no POSIX): the model needs nothing but its arena, and the weights are embedded. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "fashion.h"

#define NUM_CLASSES 10
#define IMAGE_SIDE 28

/* The application relies on the model's interface; fail the build, not the run, if the model
 * ever changes. (The DTYPE macros use ONNX's numbering: 1 is float32.) */
#if FASHION_NUM_INPUTS != 1 || FASHION_NUM_OUTPUTS != 1 || FASHION_INPUT0_DTYPE != 1 ||            \
    FASHION_OUTPUT0_DTYPE != 1 || FASHION_INPUT0_SIZE != IMAGE_SIDE * IMAGE_SIDE ||                \
    FASHION_OUTPUT0_SIZE != NUM_CLASSES
#error "fashion.h does not describe a 28x28 float32 image -> 10 float32 logits model"
#endif

/* In the order of the model's outputs (Fashion-MNIST's class indices). */
static const char *const class_names[NUM_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* ---- Arena ------------------------------------------------------------------------------ */

/* The generated code wants its arena aligned to 64 bytes. C99 has no aligned allocator, so
 * over-allocate and round the pointer up; keep the raw pointer for free(). */
typedef struct {
  void *raw;
  void *aligned;
} arena_mem;

static int arena_alloc(arena_mem *m, size_t bytes) {
  const size_t align = 64;
  m->raw = malloc(bytes + align);
  if (m->raw == NULL) {
    m->aligned = NULL;
    return -1;
  }
  uintptr_t p = (uintptr_t)m->raw;
  m->aligned = (unsigned char *)m->raw + (align - p % align) % align;
  return 0;
}

/* ---- A small .npy reader --------------------------------------------------------------- */

/* Finds `key` (quoted, e.g. "'descr'") in the header dictionary and returns the text after
 * its colon, or NULL. */
static const char *npy_field(const char *header, const char *key) {
  const char *p = strstr(header, key);
  if (p == NULL) {
    return NULL;
  }
  p += strlen(key);
  while (*p == ' ') {
    p++;
  }
  if (*p != ':') {
    return NULL;
  }
  p++;
  while (*p == ' ') {
    p++;
  }
  return p;
}

/* Checks a .npy header dictionary: float32, C order, shape of leading 1s then (28, 28).
 * Sets *big_endian from the byte order. Returns NULL if fine, else what is wrong. */
static const char *npy_check_header(const char *header, int *big_endian) {
  const char *descr = npy_field(header, "'descr'");
  if (descr != NULL && strncmp(descr, "'<f4'", 5) == 0) {
    *big_endian = 0;
  } else if (descr != NULL && strncmp(descr, "'>f4'", 5) == 0) {
    *big_endian = 1;
  } else {
    return "element type is not float32 (expected 'descr': '<f4')";
  }
  const char *order = npy_field(header, "'fortran_order'");
  if (order == NULL || strncmp(order, "False", 5) != 0) {
    return "array is not in C order";
  }
  const char *p = npy_field(header, "'shape'");
  if (p == NULL || *p != '(') {
    return "no shape in the header";
  }
  long dims[8];
  int rank = 0;
  p++;
  for (;;) {
    while (*p == ' ' || *p == ',') {
      p++;
    }
    if (*p == ')') {
      break;
    }
    char *end;
    long d = strtol(p, &end, 10);
    if (end == p || rank == 8) {
      return "malformed shape";
    }
    dims[rank++] = d;
    p = end;
  }
  int ok = rank >= 2 && dims[rank - 2] == IMAGE_SIDE && dims[rank - 1] == IMAGE_SIDE;
  for (int i = 0; i + 2 < rank; i++) {
    ok = ok && dims[i] == 1;
  }
  return ok ? NULL : "shape is not (1, 1, 28, 28)";
}

/* Reads the image from the open .npy file `f`. Returns NULL on success, else what is wrong. */
static const char *npy_read_image(FILE *f, float *pixels) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  unsigned char pre[12];
  size_t header_len;

  /* Preamble: magic, version (1.0: 2-byte header length; 2.0 and 3.0: 4-byte). */
  if (fread(pre, 1, 8, f) != 8 || memcmp(pre, magic, sizeof magic) != 0) {
    return "not a .npy file";
  }
  if (pre[6] == 1) {
    if (fread(pre + 8, 1, 2, f) != 2) {
      return "truncated header";
    }
    header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 8, 1, 4, f) != 4) {
      return "truncated header";
    }
    header_len =
        (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    return "unsupported .npy version";
  }
  if (header_len == 0 || header_len > 65536) {
    return "implausible header length";
  }
  char *header = malloc(header_len + 1);
  if (header == NULL) {
    return "out of memory";
  }
  const char *problem = NULL;
  int big_endian = 0;
  if (fread(header, 1, header_len, f) != header_len) {
    problem = "truncated header";
  } else {
    header[header_len] = '\0';
    problem = npy_check_header(header, &big_endian);
  }
  free(header);
  if (problem != NULL) {
    return problem;
  }

  /* Data: 784 float32 values. Assemble each from its bytes, so that neither the host's byte
   * order nor its alignment rules matter. */
  for (int i = 0; i < IMAGE_SIDE * IMAGE_SIDE; i++) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) {
      return "truncated data";
    }
    uint32_t bits =
        big_endian
            ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3]
            : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | (uint32_t)b[0];
    memcpy(&pixels[i], &bits, sizeof bits);
  }
  return NULL;
}

/* Reads a float32 image of 28 x 28 pixels from a .npy file into `pixels`. Accepts any shape
 * made of leading 1s followed by (28, 28), either byte order, C order. Returns 0 on success,
 * else says why on stderr and returns -1. */
static int read_image_npy(const char *path, float *pixels) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "classify: %s: %s\n", path, strerror(errno));
    return -1;
  }
  const char *problem = npy_read_image(f, pixels);
  fclose(f);
  if (problem != NULL) {
    fprintf(stderr, "classify: %s: %s\n", path, problem);
    return -1;
  }
  return 0;
}

/* ---- labels.txt ------------------------------------------------------------------------ */

/* Looks up the true class of `path` in the labels.txt of its folder. Returns the class index,
 * or -1 when there is no labels.txt or it does not list the file. */
static int true_label(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dir_len = (size_t)(base - path);
  char *labels_path = malloc(dir_len + sizeof "labels.txt");
  if (labels_path == NULL) {
    return -1;
  }
  memcpy(labels_path, path, dir_len);
  strcpy(labels_path + dir_len, "labels.txt");
  FILE *f = fopen(labels_path, "r");
  free(labels_path);
  if (f == NULL) {
    return -1;
  }
  int label = -1;
  char line[512];
  while (label < 0 && fgets(line, sizeof line, f) != NULL) {
    char name[256];
    int index;
    if (sscanf(line, "%255s %d", name, &index) == 2 && strcmp(name, base) == 0 && index >= 0 &&
        index < NUM_CLASSES) {
      label = index;
    }
  }
  fclose(f);
  return label;
}

/* ---- Main ------------------------------------------------------------------------------ */

static void softmax(const float *logits, double *prob, int n) {
  double max = logits[0], sum = 0.0;
  for (int i = 1; i < n; i++) {
    max = logits[i] > max ? logits[i] : max;
  }
  for (int i = 0; i < n; i++) {
    prob[i] = exp(logits[i] - max);
    sum += prob[i];
  }
  for (int i = 0; i < n; i++) {
    prob[i] /= sum;
  }
}

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [--logits] IMAGE.npy...\n"
          "Classifies 28x28 Fashion-MNIST images (float32 .npy, pixels x/255).\n"
          "  --logits  also print the model's raw outputs\n",
          prog);
  return 2;
}

int main(int argc, char **argv) {
  int print_logits = 0;
  int first = 1;
  for (; first < argc && argv[first][0] == '-'; first++) {
    if (strcmp(argv[first], "--logits") == 0) {
      print_logits = 1;
    } else if (strcmp(argv[first], "--") == 0) {
      first++;
      break;
    } else {
      return usage(argv[0]);
    }
  }
  if (first == argc) {
    return usage(argv[0]);
  }

  /* One arena serves every call; the weights are compiled in, so `weights` is NULL. */
  arena_mem arena;
  if (arena_alloc(&arena, FASHION_ARENA_BYTES) != 0) {
    fprintf(stderr, "classify: out of memory\n");
    return 1;
  }

  float image[FASHION_INPUT0_SIZE];
  float logits[FASHION_OUTPUT0_SIZE];
  const void *inputs[FASHION_NUM_INPUTS] = {image};
  void *outputs[FASHION_NUM_OUTPUTS] = {logits};
  int failures = 0, labelled = 0, correct = 0;

  for (int a = first; a < argc; a++) {
    const char *path = argv[a];
    if (read_image_npy(path, image) != 0) {
      failures++;
      continue;
    }
    if (fashion_run(arena.aligned, NULL, inputs, outputs) != 0) {
      fprintf(stderr, "classify: %s: the model failed to run\n", path);
      failures++;
      continue;
    }

    double prob[NUM_CLASSES];
    softmax(logits, prob, NUM_CLASSES);
    int best = 0;
    for (int i = 1; i < NUM_CLASSES; i++) {
      best = prob[i] > prob[best] ? i : best;
    }
    printf("%-28s %-12s %6.2f%%", path, class_names[best], 100.0 * prob[best]);
    int label = true_label(path);
    if (label >= 0) {
      labelled++;
      correct += label == best;
      if (label == best) {
        printf("  correct");
      } else {
        printf("  WRONG (is %s)", class_names[label]);
      }
    }
    printf("\n");
    if (print_logits) {
      printf("  logits:");
      for (int i = 0; i < NUM_CLASSES; i++) {
        printf(" %.9g", (double)logits[i]);
      }
      printf("\n");
    }
  }
  if (labelled > 0) {
    printf("%d of %d labelled images classified correctly\n", correct, labelled);
  }

  free(arena.raw);
  if (fflush(stdout) != 0) {
    failures++;
  }
  return failures ? 1 : 0;
}
