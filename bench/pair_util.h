/* pair_util.h — what the bench's pair tools (pair_ort.c, pair_threads.c, pair_variants.c,
 * layer_pair.c) share: loading a generated model's input and weights as its own driver does, and
 * timing two ways of running it in alternating bursts within one process.
 *
 * Include after the generated header(s) and cnnrt_driver.h (the driver's host helpers: huge-page
 * buffers, weights and .npy input loading). PAIR_MODEL_DESC(M, m) describes the model of m.h
 * (its M_* macros and m_run_parallel); any other prefix works the same, so one program can hold
 * two builds of a model (pair_variants.c: a.h and b.h).
 *
 * Why bursts: on a shared machine the speed of a core changes in phases lasting seconds, so
 * two processes timed one after the other can see different machines. pair_time runs `burst`
 * runs of one way (A), then `burst` of the other (B) -- which goes first alternates by round --,
 * all within a second or so, so both see the same phase. The first run of a burst follows the
 * other way's runs, which have replaced the caches' contents; it is left out, as the
 * process-level rounds leave out their warm-up run, and the round's ratio is the median of the
 * burst's other A runs over the median of its other B runs. */
#ifndef PAIR_UTIL_H
#define PAIR_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double pair_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median of v[0..n) (sorts v). */
static double pair_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cnnrt_driver_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* What a tool needs to know of a generated model: the macros and run function of its header. */
typedef struct pair_model_desc {
  int n_inputs, in_dtype, out_dtype, in_rank, weights_embedded;
  const char *in_name;
  const int64_t *in_shape;
  int64_t in_size, out_size, arena_bytes, weights_bytes;
  cnnrt_driver_run_fn run; /* p_run_parallel */
} pair_model_desc;

/* The description of the model whose header defines P_* macros and p_run_parallel. */
#define PAIR_MODEL_DESC(P, p)                                                                      \
  ((pair_model_desc){P##_NUM_INPUTS, P##_INPUT0_DTYPE, P##_OUTPUT0_DTYPE, P##_INPUT0_RANK,         \
                     P##_WEIGHTS_EMBEDDED, P##_INPUT0_NAME, (const int64_t[])P##_INPUT0_SHAPE,     \
                     P##_INPUT0_SIZE, P##_OUTPUT0_SIZE, P##_ARENA_BYTES, P##_WEIGHTS_BYTES,        \
                     p##_run_parallel})

/* A generated model's buffers: its input (read from a .npy file), arena and weights. */
typedef struct pair_model {
  pair_model_desc d;
  float *in;
  void *arena;
  const void *weights; /* NULL when the weights are embedded in the generated code */
} pair_model;

/* Loads them; `tool` names the program in messages. 0, or 1 after a message. */
static int pair_model_load(pair_model *m, pair_model_desc d, const char *tool,
                           const char *input_path, const char *weights_path) {
  m->d = d;
  if (d.n_inputs != 1 || d.in_dtype != 1 || d.out_dtype != 1) {
    fprintf(stderr, "%s: the model must have one float input and one float output\n", tool);
    return 1;
  }
  const cnnrt_driver_tensor in_tensor = {d.in_name, d.in_name, d.in_dtype, d.in_rank, d.in_shape};
  m->in = (float *)cnnrt_driver_alloc(sizeof(float) * d.in_size);
  m->arena = cnnrt_driver_alloc(d.arena_bytes);
  m->weights = NULL;
  if (!m->in || !m->arena || cnnrt_driver_load_input(input_path, &in_tensor, m->in)) {
    return 1;
  }
  if (!d.weights_embedded) {
    int size_ok;
    m->weights = cnnrt_driver_read_weights(weights_path, d.weights_bytes, &size_ok);
    if (!m->weights || !size_ok) {
      fprintf(stderr, "%s: %s: not the model's weights\n", tool, weights_path);
      return 1;
    }
  }
  return 0;
}

/* One run of the model into out: on the calling thread (par NULL) or on par's threads. */
static int pair_model_run(const pair_model *m, void *out, const cnnrt_parallel *par) {
  const void *const ins[1] = {m->in};
  void *const outs[1] = {out};
  return m->d.run(m->arena, m->weights, ins, outs, par);
}

/* max|a - ref| / max|ref| over n floats (max|a - ref| when ref is all zero). */
static double pair_rel_diff(const float *a, const float *ref, int64_t n) {
  double diff = 0, big = 0;
  for (int64_t i = 0; i < n; i++) {
    const double d = (double)a[i] - (double)ref[i], r = (double)ref[i];
    diff = d > diff ? d : (-d > diff ? -d : diff);
    big = r > big ? r : (-r > big ? -r : big);
  }
  return big > 0 ? diff / big : diff;
}

/* The figures of pair_time: per round, A's median run over B's; all timed runs of each way. */
typedef struct pair_result {
  double ratio_median, ratio_q25, ratio_q75; /* of the round ratios */
  double a_median, b_median, a_min, b_min;   /* seconds, over all timed runs */
} pair_result;

/* `rounds` rounds of `burst` runs of run(ctx, 0) (A) and `burst` of run(ctx, 1) (B), in the
 * order described at the top. With TRACE in the environment, prints each round as
 * "round R NAME_A_ms=.. NAME_B_ms=.. ratio=..". 0, or 1 when out of memory. */
static int pair_time(int rounds, int burst, void (*run)(void *ctx, int b), void *ctx,
                     const char *name_a, const char *name_b, pair_result *res) {
  const int timed = burst - 1; /* runs per burst after its first */
  double *all[2], *t[2];
  double *ratio = malloc(sizeof(double) * (size_t)rounds);
  for (int w = 0; w < 2; w++) {
    all[w] = malloc(sizeof(double) * (size_t)(rounds * timed));
    t[w] = malloc(sizeof(double) * (size_t)burst);
  }
  if (!ratio || !all[0] || !all[1] || !t[0] || !t[1] || timed < 1) {
    return 1;
  }
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 2; k++) {
      const int w = (k == 0) == (r % 2 == 0) ? 0 : 1;
      for (int i = 0; i < burst; i++) {
        const double t0 = pair_now();
        run(ctx, w);
        t[w][i] = pair_now() - t0;
      }
    }
    double med[2];
    for (int w = 0; w < 2; w++) {
      memcpy(all[w] + r * timed, t[w] + 1, sizeof(double) * (size_t)timed);
      med[w] = pair_median(t[w] + 1, timed);
    }
    ratio[r] = med[0] / med[1];
    if (getenv("TRACE")) {
      printf("round %d %s_ms=%.3f %s_ms=%.3f ratio=%.4f\n", r, name_a, 1e3 * med[0], name_b,
             1e3 * med[1], ratio[r]);
    }
  }
  const int n = rounds * timed;
  res->ratio_median = pair_median(ratio, rounds); /* sorts ratio */
  res->ratio_q25 = ratio[rounds / 4];
  res->ratio_q75 = ratio[3 * rounds / 4];
  res->a_median = pair_median(all[0], n); /* sorts it: [0] is the minimum */
  res->b_median = pair_median(all[1], n);
  res->a_min = all[0][0];
  res->b_min = all[1][0];
  for (int w = 0; w < 2; w++) {
    free(all[w]), free(t[w]);
  }
  free(ratio);
  return 0;
}

#endif
