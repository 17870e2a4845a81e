/* test_nchwc_avx2.c — the NCHW8c kernels of cnnrt_nchwc_avx2.h (pointwise and depthwise, run
 * as tasks) against cnnrt_f32_conv_ref (plain NCHW, the weights as ONNX gives them), against
 * the portable NCHW8c references of cnnrt_nchwc.h and against a naive double-precision
 * convolution, every output converted back to plain NCHW with cnnrt_f32_nchwc_reorder.
 * Pointwise: c_in 1..1032 (one, two and three k blocks, multiples of 8 and not), c_out 8..64
 * (half 16-channel panels included), planes 1x1, 1x7, 7x7, 13x13 (not a multiple of the 6-pixel
 * tile), 10x10 and 112x3 (more than the 96-pixel block), batch 1 and 2, plain and blocked x and
 * y, bias present / NULL, residual absent / separate / in place, NONE / RELU / CLIP / SILU /
 * HARD_SWISH, with and without a fused input scale (the kernel with the scale must give, bit for
 * bit, what it gives on the input scaled first, as the Mul would), 1, 2, 3 and 5 tasks (both
 * splits: pixel blocks and 16-channel panels), run forward and in reverse.
 * Depthwise: 8, 16, 40 channels, planes 1x1..14x14, 13x9 and 9x31, kernels 3 and 5, strides 1
 * and 2, leading pads 0..2 with equal and different trailing pads (and trailing pads past the
 * kernel, which cnnrt_nchwc_depthwise_applies accepts), batch 1 and 2, bias present / NULL,
 * residual absent / separate / in place, NONE / RELU / CLIP / SILU / HARD_SWISH, with and without
 * a fused GlobalAveragePool (bit for bit what cnnrt_f32_global_avgpool_ref and _avx2 give on the
 * output), 1..4 tasks.
 * Guard zones around y catch stray stores that AddressSanitizer does not see (y is inside one
 * allocation with the guards), the inputs end against an inaccessible page (AddressSanitizer
 * does not check masked loads either), the pointwise scratch is allocated to the byte at an odd
 * address.
 * Also: the applicability predicates reject what the kernels do not compute.
 * Build with -mavx2 -mfma; without them the header declares no kernels and the test skips. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mprotect, sysconf (CMake defines it for every target) */
#endif
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "cnnrt_conv.h"
#include "cnnrt_nchwc.h"
#include "cnnrt_nchwc_avx2.h"
#include "cnnrt_pool.h"
#include "cnnrt_pool_avx2.h"

/* base_params and test_applies (the predicates, portable); with the kernels also frand /
 * rand_buf, acts / set_act, init_y, naive_conv and check_out */
#if defined(__AVX2__) && defined(__FMA__)
#define NCHWC_RNG_SEED 20250611u
#endif
#include "nchwc_common.h"

#if defined(__AVX2__) && defined(__FMA__)

/* Kernel inputs end flush against an inaccessible page: AddressSanitizer does not check the
 * masked loads (vmaskmovps) the kernels use for the ends of rows and planes, the page does (a
 * masked-off lane does not fault, a stray one does). Released together by fences_release. */
#define MAX_FENCES 12
static struct {
  unsigned char *base;
  size_t data, page;
} fences[MAX_FENCES];
static int n_fences;

static float *fenced(int64_t len) {
  assert_true(n_fences < MAX_FENCES);
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t bytes = (size_t)(len > 0 ? len : 1) * sizeof(float);
  const size_t data = (bytes + page - 1) / page * page;
  void *base = NULL;
  assert_int_equal(posix_memalign(&base, page, data + page), 0);
  assert_int_equal(mprotect((unsigned char *)base + data, page, PROT_NONE), 0);
  fences[n_fences].base = base;
  fences[n_fences].data = data;
  fences[n_fences].page = page;
  n_fences++;
  return (float *)(void *)((unsigned char *)base + data - bytes);
}

static float *fenced_rand(int64_t len) {
  float *b = fenced(len);
  for (int64_t i = 0; i < len; i++) {
    b[i] = frand();
  }
  return b;
}

static void fences_release(void) {
  for (int i = 0; i < n_fences; i++) {
    assert_int_equal(mprotect(fences[i].base + fences[i].data, fences[i].page,
                              PROT_READ | PROT_WRITE),
                     0);
    free(fences[i].base);
  }
  n_fences = 0;
}

#define GUARD 24
#define GUARD_VAL -12345.0f

static void fill_guards(float *ybuf, int64_t ny) {
  for (int64_t i = 0; i < GUARD; i++) {
    ybuf[i] = GUARD_VAL;
    ybuf[GUARD + ny + i] = GUARD_VAL;
  }
}

static void check_guards(const float *ybuf, int64_t ny, const char *what, const char *desc) {
  for (int64_t i = 0; i < GUARD; i++) {
    if (ybuf[i] != GUARD_VAL) {
      fail_msg("%s %s: store %lld floats before y", what, desc, (long long)(GUARD - i));
    }
    if (ybuf[GUARD + ny + i] != GUARD_VAL) {
      fail_msg("%s %s: store %lld floats past the end of y", what, desc, (long long)i);
    }
  }
}

static void run_tasks(cnnrt_task_fn fn, cnnrt_nchwc_task *t, int reverse) {
  for (int64_t i = 0; i < t->n_tasks; i++) {
    fn(t, reverse ? t->n_tasks - 1 - i : i);
  }
}

/* ---- pointwise ---------------------------------------------------------------------------- */

static int64_t pw_splits[2]; /* runs that split [0] pixel blocks, [1] channel panels */

/* One pointwise shape with one activation, residual mode (0 none, 1 separate, 2 in place) and
 * bias present / NULL: the references once, then the kernel for every x / y layout and task
 * count. */
static void pw_case(const pw_shape *s, int act_i, int res_mode, int with_bias, int with_scale) {
  cnnrt_conv_params p = base_params(s->n, s->c_in, s->c_out, 1, s->h, s->w, 1, 1, 0, 0, 0, 0);
  set_act(&p, act_i);
  assert_true(cnnrt_nchwc_pointwise_applies(&p));
  const int64_t plane = s->h * s->w, nx = s->n * s->c_in * plane, ny = s->n * s->c_out * plane;
  const int64_t wfloats = cnnrt_f32_pw_nchwc_pack_bytes(s->c_out, s->c_in) / 4;
  const int x_can_block = s->c_in % 8 == 0;
  float *x = fenced_rand(nx), *w = rand_buf(s->c_out * s->c_in), *b = fenced_rand(s->c_out);
  const float *bias = with_bias ? b : NULL;
  float *res = fenced_rand(ny), *res_b = fenced(ny);
  float *x_b = x_can_block ? fenced(nx) : NULL;
  float *wp = fenced(wfloats);
  float *ref_conv = malloc((size_t)ny * sizeof(float)), *ref_nc = malloc((size_t)ny * sizeof(float));
  float *ybuf = malloc((size_t)(ny + 2 * GUARD) * sizeof(float));
  float *got = malloc((size_t)ny * sizeof(float));
  double *want = malloc((size_t)ny * sizeof(double)), *absum = malloc((size_t)ny * sizeof(double));
  float *scale = fenced_rand(s->n * s->c_in), *xs = fenced(nx), *xs_b = fenced(nx);
  float *unfused = malloc((size_t)ny * sizeof(float));
  assert_true(ref_conv && ref_nc && ybuf && got && want && absum && unfused);
  const float *sc = with_scale ? scale : NULL;
  cnnrt_f32_pw_nchwc_pack(s->c_out, s->c_in, w, wp);
  if (x_can_block) {
    cnnrt_f32_nchwc_reorder(1, s->n, s->c_in, plane, x, x_b);
  }
  cnnrt_f32_nchwc_reorder(1, s->n, s->c_out, plane, res, res_b);
  if (with_scale) { /* xs: the input as the Mul would have scaled it */
    scale_x(x, scale, s->n, s->c_in, plane, xs);
  } else {
    memcpy(xs, x, (size_t)nx * sizeof(float));
  }
  if (x_can_block) {
    cnnrt_f32_nchwc_reorder(1, s->n, s->c_in, plane, xs, xs_b);
  }
  const float *r_plain = res_mode != 0 ? res : NULL;
  naive_conv(&p, xs, w, bias, r_plain, want, absum);
  cnnrt_f32_conv_ref(&p, xs, w, bias, r_plain, ref_conv);
  cnnrt_f32_conv_pw_nchwc_ref(&p, 0, x, sc, wp, bias, r_plain, 0, ref_nc);

  const int64_t scratch = cnnrt_pw_nchwc_scratch_bytes(&p);
  const int64_t tasks[] = {1, 2, 3, 5};
  int run = 0;
  for (int xb = 0; xb <= x_can_block; xb++) {
    for (int yb = 0; yb < 2; yb++) {
      for (size_t ti = 0; ti < sizeof tasks / sizeof tasks[0]; ti++, run++) {
        const int64_t nt = tasks[ti];
        char desc[200];
        snprintf(desc, sizeof desc,
                 "n %lld c_in %lld c_out %lld %lldx%lld act %d (%g, %g) bias %d res %d scale %d "
                 "x_blocked %d y_blocked %d n_tasks %lld",
                 (long long)s->n, (long long)s->c_in, (long long)s->c_out, (long long)s->h,
                 (long long)s->w, (int)p.act, (double)p.alpha, (double)p.beta, with_bias,
                 res_mode, with_scale, xb, yb, (long long)nt);
        /* with a scale, a second run on the input scaled first (no fused scale) must agree bit
         * for bit: the fused multiply is the Mul's, the sums the same */
        for (int pass = 0; pass <= with_scale; pass++) {
          float *y = ybuf + GUARD;
          fill_guards(ybuf, ny);
          const float *r = init_y(y, ny, res_mode, yb ? res_b : res);
          /* scratch to the byte, at an odd address: the kernel aligns inside its region */
          const size_t off = 1 + (size_t)run % 7;
          unsigned char *sbuf = malloc(off + (size_t)(nt * scratch));
          assert_non_null(sbuf);
          cnnrt_nchwc_task t;
          memset(&t, 0, sizeof t);
          t.p = &p;
          t.x = pass == 0 ? (xb ? x_b : x) : (xb ? xs_b : xs);
          t.in_scale = pass == 0 ? sc : NULL;
          t.w = wp;
          t.bias = bias;
          t.residual = r;
          t.y = y;
          t.scratch = sbuf + off;
          t.scratch_stride = scratch;
          t.n_tasks = nt;
          t.x_blocked = xb;
          t.y_blocked = yb;
          run_tasks(cnnrt_pw_nchwc_avx2_task, &t, run % 2);
          free(sbuf);
          check_guards(ybuf, ny, "pointwise", desc);
          if (yb) {
            cnnrt_f32_nchwc_reorder(0, s->n, s->c_out, plane, y, pass == 0 ? got : unfused);
          } else {
            memcpy(pass == 0 ? got : unfused, y, (size_t)ny * sizeof(float));
          }
        }
        check_out("pointwise", desc, &p, got, want, absum, ref_conv, ref_nc);
        if (with_scale && memcmp(got, unfused, (size_t)ny * sizeof(float)) != 0) {
          fail_msg("pointwise %s: the fused scale differs from the input scaled first", desc);
        }
        /* which split the kernel took (its rule, cnnrt_pw_nchwc_avx2_task), for coverage */
        const int64_t units = s->n * ((plane + CNNRT_PW_NCHWC_MC - 1) / CNNRT_PW_NCHWC_MC);
        const int64_t panels = (s->c_out + 15) / 16;
        pw_splits[units < 2 * nt && panels >= nt]++;
      }
    }
  }
  fences_release();
  free(unfused);
  free(w);
  free(ref_conv);
  free(ref_nc);
  free(ybuf);
  free(got);
  free(want);
  free(absum);
}

static void test_pointwise(void **state) {
  (void)state;
  static const pw_shape shapes[] = {
      {1, 1, 8, 1, 1},      {2, 3, 16, 1, 7},     {1, 8, 24, 7, 7},     {2, 16, 40, 13, 13},
      {1, 24, 64, 10, 10},  {2, 8, 8, 112, 3},    {1, 200, 16, 7, 7},   {2, 264, 40, 1, 7},
      {1, 264, 8, 13, 13},  {1, 520, 24, 10, 10}, {2, 520, 64, 1, 1},   {1, 3, 64, 112, 3},
      {2, 24, 24, 7, 7},    {1, 16, 16, 13, 13},  {2, 200, 40, 10, 10}, {1, 1, 40, 13, 13},
      {2, 264, 64, 7, 7},   {1, 520, 8, 112, 3},  {1, 8, 40, 1, 1},     {2, 1, 24, 10, 10},
      {1, 264, 16, 112, 3}, {2, 3, 8, 13, 13},    {1, 520, 40, 7, 7},   {1, 200, 64, 1, 7},
      {1, 1032, 24, 7, 7},  {2, 1032, 8, 13, 13}, {1, 1001, 16, 10, 10}, {2, 515, 40, 1, 7},
  };
  const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
  int seen_act[N_ACTS] = {0}, seen_res[3] = {0}, seen_bias[2] = {0}, seen_scale[2] = {0};
  for (int i = 0; i < n_shapes; i++) {
    for (int v = 0; v < 2; v++) { /* two (activation, residual, bias, scale) per shape */
      const int act_i = (i + 2 * v) % N_ACTS, res_mode = (i + v) % 3;
      const int with_bias = (2 * i + v) % 5 != 3, with_scale = (i / 2 + v) % 2;
      seen_act[act_i]++;
      seen_res[res_mode]++;
      seen_bias[with_bias]++;
      seen_scale[with_scale]++;
      pw_case(&shapes[i], act_i, res_mode, with_bias, with_scale);
    }
  }
  assert_true(seen_bias[0] > 0 && seen_bias[1] > 0 && seen_scale[0] > 0 && seen_scale[1] > 0);
  for (int i = 0; i < N_ACTS; i++) {
    assert_true(seen_act[i] > 0);
  }
  for (int i = 0; i < 3; i++) {
    assert_true(seen_res[i] > 0);
  }
  assert_true(pw_splits[0] > 0 && pw_splits[1] > 0);
  print_message("pointwise: %lld runs split pixel blocks, %lld channel panels\n",
                (long long)pw_splits[0], (long long)pw_splits[1]);
}

/* ---- depthwise ---------------------------------------------------------------------------- */

/* One depthwise case: the references once, then the kernel with 1, 2 and 3 tasks (and 4: more
 * tasks than units on the one-block shapes). Returns 0 if the output would be empty. */
static int dw_case(const dw_shape *s, int act_i, int res_mode, int with_bias, int with_pool) {
  cnnrt_conv_params p = base_params(s->n, s->c, s->c, s->c, s->h, s->w, s->k, s->s, s->pt, s->pb,
                                    s->pl, s->pr);
  if (p.out[0] < 1 || p.out[1] < 1) {
    return 0;
  }
  set_act(&p, act_i);
  assert_true(cnnrt_nchwc_depthwise_applies(&p));
  const int64_t taps = s->k * s->k, in_plane = s->h * s->w, plane = p.out[0] * p.out[1];
  const int64_t nx = s->n * s->c * in_plane, ny = s->n * s->c * plane;
  float *x = rand_buf(nx), *w = rand_buf(s->c * taps), *b = fenced_rand(s->c), *res = rand_buf(ny);
  float *x_b = fenced(nx), *res_b = fenced(ny);
  float *wp = fenced(cnnrt_f32_dw_nchwc_pack_bytes(s->c, taps) / (int64_t)sizeof(float));
  float *ref_conv = malloc((size_t)ny * sizeof(float)), *ref_nc_b = malloc((size_t)ny * sizeof(float));
  float *ref_nc = malloc((size_t)ny * sizeof(float)), *got = malloc((size_t)ny * sizeof(float));
  float *ybuf = malloc((size_t)(ny + 2 * GUARD) * sizeof(float));
  double *want = malloc((size_t)ny * sizeof(double)), *absum = malloc((size_t)ny * sizeof(double));
  float *pooled = fenced(s->n * s->c), *pooled_ref = malloc((size_t)(s->n * s->c) * sizeof(float));
  float *pooled_avx2 = malloc((size_t)(s->n * s->c) * sizeof(float));
  assert_true(ref_conv && ref_nc_b && ref_nc && got && ybuf && want && absum && pooled_ref &&
              pooled_avx2);
  cnnrt_f32_dw_nchwc_pack(s->c, taps, w, wp);
  cnnrt_f32_nchwc_reorder(1, s->n, s->c, in_plane, x, x_b);
  cnnrt_f32_nchwc_reorder(1, s->n, s->c, plane, res, res_b);
  const float *bias = with_bias ? b : NULL;
  naive_conv(&p, x, w, bias, res_mode != 0 ? res : NULL, want, absum);
  cnnrt_f32_conv_ref(&p, x, w, bias, res_mode != 0 ? res : NULL, ref_conv);
  cnnrt_f32_dwconv_nchwc_ref(&p, x_b, wp, bias, res_mode != 0 ? res_b : NULL, ref_nc_b,
                             pooled_ref);
  cnnrt_f32_nchwc_reorder(0, s->n, s->c, plane, ref_nc_b, ref_nc);
  for (int64_t nt = 1; nt <= 4; nt++) {
    char desc[200];
    snprintf(desc, sizeof desc,
             "n %lld c %lld %lldx%lld k %lld s %lld pads (t %lld b %lld l %lld r %lld) act %d "
             "(%g, %g) bias %d res %d pool %d n_tasks %lld",
             (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->k,
             (long long)s->s, (long long)s->pt, (long long)s->pb, (long long)s->pl,
             (long long)s->pr, (int)p.act, (double)p.alpha, (double)p.beta, with_bias, res_mode,
             with_pool, (long long)nt);
    float *y = ybuf + GUARD;
    fill_guards(ybuf, ny);
    const float *r = init_y(y, ny, res_mode, res_b);
    cnnrt_nchwc_task t;
    memset(&t, 0, sizeof t);
    t.p = &p;
    t.x = x_b;
    t.w = wp;
    t.bias = bias;
    t.residual = r;
    t.y = y;
    t.scratch = NULL;
    t.scratch_stride = 0;
    t.n_tasks = nt;
    t.x_blocked = 1;
    t.y_blocked = 1;
    t.pooled = with_pool ? pooled : NULL;
    for (int64_t i = 0; i < s->n * s->c; i++) {
      pooled[i] = NAN;
    }
    run_tasks(cnnrt_dw_nchwc_avx2_task, &t, (int)(nt % 2 == 0));
    check_guards(ybuf, ny, "depthwise", desc);
    cnnrt_f32_nchwc_reorder(0, s->n, s->c, plane, y, got);
    check_out("depthwise", desc, &p, got, want, absum, ref_conv, ref_nc);
    if (with_pool) { /* the pool's reference and its AVX2 kernel on the output; the NCHW8c
                      * reference pools its own output (which differs in rounding) the same way */
      check_pool("depthwise", desc, s->n * s->c, plane, got, pooled);
      cnnrt_f32_global_avgpool_avx2(s->n * s->c, plane, got, pooled_avx2);
      check_pool("depthwise (pool avx2)", desc, s->n * s->c, plane, got, pooled_avx2);
      check_pool("depthwise (NCHW8c ref)", desc, s->n * s->c, plane, ref_nc, pooled_ref);
    }
  }
  free(pooled_ref);
  free(pooled_avx2);
  fences_release();
  free(x);
  free(w);
  free(res);
  free(ref_conv);
  free(ref_nc_b);
  free(ref_nc);
  free(got);
  free(ybuf);
  free(want);
  free(absum);
  return 1;
}

static void test_depthwise(void **state) {
  (void)state;
  static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {5, 5}, {7, 7}, {14, 14}, {13, 9}, {9, 31}};
  static const int64_t chans[] = {8, 16, 40};
  /* (begin, end) pads of one axis: equal, and different both ways */
  static const int64_t pads[][2] = {{0, 0}, {1, 1}, {2, 2}, {1, 0}, {0, 2}, {2, 1}};
  const int n_sizes = 7, n_pads = 6;
  int cases = 0, seen_act[N_ACTS] = {0}, seen_res[3] = {0}, seen_bias[2] = {0}, seen_pool[2] = {0};
  uint32_t pick = 7u;
  for (int si = 0; si < n_sizes; si++) {
    for (int64_t k = 3; k <= 5; k += 2) {
      for (int64_t st = 1; st <= 2; st++) {
        for (int pi = 0; pi < n_pads; pi++) {
          const int pj = (pi + si + (int)k) % n_pads; /* the column pads differ from the rows' */
          pick = pick * 1103515245u + 12345u;
          const uint32_t h = pick >> 8;
          dw_shape s = {1 + (int64_t)(h % 2),
                        chans[(h / 2) % 3],
                        sizes[si][0],
                        sizes[si][1],
                        k,
                        st,
                        pads[pi][0],
                        pads[pi][1],
                        pads[pj][0],
                        pads[pj][1]};
          const int act_i = (int)((h / 6) % N_ACTS), res_mode = (int)((h / 36) % 3);
          const int with_bias = (h / 108) % 4 != 0, with_pool = (int)((h / 432) % 2);
          if (dw_case(&s, act_i, res_mode, with_bias, with_pool)) {
            cases++;
            seen_act[act_i]++;
            seen_res[res_mode]++;
            seen_bias[with_bias]++;
            seen_pool[with_pool]++;
          }
        }
      }
    }
  }
  for (int i = 0; i < N_ACTS; i++) {
    assert_true(seen_act[i] > 0);
  }
  for (int i = 0; i < 3; i++) {
    assert_true(seen_res[i] > 0);
  }
  assert_true(seen_bias[0] > 0 && seen_bias[1] > 0 && seen_pool[0] > 0 && seen_pool[1] > 0);
  print_message("depthwise: %d cases\n", cases);
}

/* Trailing pads of a kernel size and more (output rows / columns entirely in the padding, which
 * get bias + residual only): cnnrt_nchwc_depthwise_applies bounds only the leading pads. */
static void test_depthwise_large_end_pads(void **state) {
  (void)state;
  static const dw_shape shapes[] = {
      {1, 8, 5, 5, 3, 1, 1, 3, 0, 4},   {2, 16, 7, 9, 5, 2, 2, 6, 4, 5},
      {1, 8, 1, 1, 3, 1, 2, 3, 0, 5},   {1, 40, 13, 9, 3, 2, 0, 4, 2, 3},
      {2, 8, 2, 3, 5, 1, 4, 5, 3, 7},   {1, 16, 14, 14, 5, 1, 0, 9, 1, 6},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    assert_true(dw_case(&shapes[i], (int)(i % N_ACTS), (int)(i % 3), i % 5 != 2, (int)(i % 2)));
  }
}

static int report(void **state) {
  (void)state;
  print_message("largest error / tolerance: %.3g\n", worst_ratio);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_applies),
      cmocka_unit_test(test_pointwise),
      cmocka_unit_test(test_depthwise),
      cmocka_unit_test(test_depthwise_large_end_pads),
  };
  return cmocka_run_group_tests(tests, NULL, report);
}

#else /* no AVX2 + FMA at compile time: the predicates only */

static void test_skipped(void **state) {
  (void)state;
  print_message("cnnrt_nchwc_avx2.h needs -mavx2 -mfma; kernels skipped\n");
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_applies),
                                     cmocka_unit_test(test_skipped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
