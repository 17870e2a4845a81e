/* bench_norm_avx2.c — the forward normalisation kernels of cnnrt_norm_avx2.h vs their scalar
 * references (cnnrt_norm.h), single thread, at a typical CNN shape (default 1x64x56x56).
 *
 *   gcc -std=c99 -O2 -mavx2 -mfma -Iruntime bench/kernels/bench_norm_avx2.c -o /tmp/bench_norm -lm
 *   /tmp/bench_norm [N C H W]
 *
 * Kernels: channel affine (folded BatchNormalization that could not join a convolution),
 * inference BatchNormalization with run-time parameters, training-mode BatchNormalization (batch
 * statistics and the running-statistics update), InstanceNormalization, LayerNormalization over
 * the last axis (N*C*H rows of W) and over C*H*W (N rows). Time: best of 30 rounds of >= 1 ms
 * thread CPU time each (robust on a shared machine). GB/s counts x read once and y written
 * once (the statistics kernels read x more than once). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_norm.h"
#include "cnnrt_norm_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#define TIME_IT(out_sec, STMT)                                                                    \
  do {                                                                                           \
    STMT;                                                                                        \
    int64_t reps_ = 1;                                                                           \
    for (;;) {                                                                                   \
      const double t0_ = bench_cpu_seconds();                                                                \
      for (int64_t r_ = 0; r_ < reps_; r_++) {                                                   \
        STMT;                                                                                    \
      }                                                                                          \
      if (bench_cpu_seconds() - t0_ > 0.001) {                                                               \
        break;                                                                                   \
      }                                                                                          \
      reps_ *= 2;                                                                                \
    }                                                                                            \
    double best_ = 1e30;                                                                         \
    for (int round_ = 0; round_ < 30; round_++) {                                                \
      const double t0_ = bench_cpu_seconds();                                                                \
      for (int64_t r_ = 0; r_ < reps_; r_++) {                                                   \
        STMT;                                                                                    \
      }                                                                                          \
      const double dt_ = (bench_cpu_seconds() - t0_) / (double)reps_;                                        \
      best_ = dt_ < best_ ? dt_ : best_;                                                         \
    }                                                                                            \
    (out_sec) = best_;                                                                           \
  } while (0)

static float *rand_buf(int64_t n, float centre) {
  float *b = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (b == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  uint32_t s = (uint32_t)n * 2654435761u + 1u;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    b[i] = centre + (float)(s >> 8) / 8388608.0f - 1.0f;
  }
  return b;
}

static void report(const char *name, double t_ref, double t_simd, int64_t total) {
  printf("%-34s ref %9.1f us  avx2 %9.1f us  speed-up %5.2fx  (%.1f GB/s)\n", name, t_ref * 1e6,
         t_simd * 1e6, t_ref / t_simd, 8.0 * (double)total / t_simd * 1e-9);
}

int main(int argc, char **argv) {
  int64_t n = 1, c = 64, h = 56, w = 56;
  if (argc == 5) {
    n = atoll(argv[1]);
    c = atoll(argv[2]);
    h = atoll(argv[3]);
    w = atoll(argv[4]);
  }
  const int64_t spatial = h * w, total = n * c * spatial;
  float *x = rand_buf(total, 0.5f), *y = rand_buf(total, 0.0f);
  float *scale = rand_buf(c, 1.0f), *bias = rand_buf(c, 0.0f), *mean = rand_buf(c, 0.5f),
        *var = rand_buf(c, 2.0f), *rm = rand_buf(c, 0.0f), *rv = rand_buf(c, 0.0f);
  float *lscale = rand_buf(c * spatial, 1.0f), *lbias = rand_buf(c * spatial, 0.0f);
  float *st = rand_buf(2 * n * c * h, 0.0f);
  printf("shape %lldx%lldx%lldx%lld, one thread\n", (long long)n, (long long)c, (long long)h,
         (long long)w);
  double tr, ts;
  TIME_IT(tr, cnnrt_f32_channel_affine_ref(n, c, spatial, x, scale, bias, y));
  TIME_IT(ts, cnnrt_f32_channel_affine_avx2(n, c, spatial, x, scale, bias, y, NULL));
  report("channel affine", tr, ts, total);
  TIME_IT(tr, cnnrt_f32_batchnorm_ref(n, c, spatial, 1e-5f, x, scale, bias, mean, var, y));
  TIME_IT(ts, cnnrt_f32_batchnorm_avx2(n, c, spatial, 1e-5f, x, scale, bias, mean, var, y, NULL));
  report("batchnorm (inference)", tr, ts, total);
  TIME_IT(tr, cnnrt_f32_batchnorm_train_ref(n, c, spatial, 1e-5f, 0.9f, x, scale, bias, mean, var,
                                            y, rm, rv));
  TIME_IT(ts, cnnrt_f32_batchnorm_train_avx2(n, c, spatial, 1e-5f, 0.9f, x, scale, bias, mean,
                                             var, y, rm, rv, NULL));
  report("batchnorm (training mode)", tr, ts, total);
  TIME_IT(tr, cnnrt_f32_instancenorm_ref(n, c, spatial, 1e-5f, x, scale, bias, y));
  TIME_IT(ts, cnnrt_f32_instancenorm_avx2(n, c, spatial, 1e-5f, x, scale, bias, y, NULL));
  report("instancenorm", tr, ts, total);
  TIME_IT(tr, cnnrt_f32_layernorm_ref(n * c * h, w, 1e-5f, x, lscale, lbias, y, st,
                                      st + n * c * h));
  TIME_IT(ts, cnnrt_f32_layernorm_avx2(n * c * h, w, 1e-5f, x, lscale, lbias, y, st,
                                       st + n * c * h, NULL));
  report("layernorm (last axis, W)", tr, ts, total);
  TIME_IT(tr, cnnrt_f32_layernorm_ref(n, c * spatial, 1e-5f, x, lscale, lbias, y, st, st + n));
  TIME_IT(ts, cnnrt_f32_layernorm_avx2(n, c * spatial, 1e-5f, x, lscale, lbias, y, st, st + n,
                                       NULL));
  report("layernorm (C*H*W)", tr, ts, total);
  free(x);
  free(y);
  free(scale);
  free(bias);
  free(mean);
  free(var);
  free(rm);
  free(rv);
  free(lscale);
  free(lbias);
  free(st);
  return 0;
}

#else
int main(void) {
  printf("build with -mavx2 -mfma\n");
  return 0;
}
#endif
