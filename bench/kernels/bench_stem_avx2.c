/* bench_stem_avx2.c — the first convolution of the benchmark models (3 input channels) on the
 * packed GEMM (cnnrt_f32_conv_gemm_avx2: im2col + GEMM) vs the few-input-channel direct kernel
 * (cnnrt_conv_direct_avx2.h), one thread, batch 1, bias + the model's activation.
 *
 *   gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_stem_avx2.c -o /tmp/bench_stem -lm
 *   /tmp/bench_stem [rounds]
 *
 * Every layer is timed in alternating rounds (gemm, im2col alone, direct, gemm, ...), each the
 * best of 20 repetitions of thread CPU time; the figures are the median over the rounds.
 * "copy" is the direct kernel's band copies alone. "im2col" is the GEMM path's B packing alone (the same blocks and calls as
 * cnnrt_f32_conv_gemm_avx2_range), i.e. how much of the GEMM path's time is the im2col.
 * GFLOP/s = 2 * MACs / time. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "cnnrt_conv.h"
#include "cnnrt_conv_packed.h"

#if defined(__AVX2__) && defined(__FMA__)

static float *rand_buf(int64_t n) {
  float *b = malloc((size_t)n * sizeof(float));
  uint32_t s = (uint32_t)n * 2654435761u + 1u;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    b[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
  }
  return b;
}

/* The im2col of cnnrt_f32_conv_gemm_avx2_range alone (one task, batch 1). */
static void im2col_only(const cnnrt_conv_params *p, const float *x, void *scratch) {
  const cnnrt_conv_geom g = cnnrt_conv_make_geom(p);
  const int64_t kvol = g.k[0] * g.k[1] * g.k[2];
  const int64_t k = p->c_in * kvol;
  const int64_t P = g.out[0] * g.out[1] * g.out[2];
  const int64_t kc_max = cnnrt_gemm_avx2_kc(k);
  const int64_t nc_blk = cnnrt_gemm_avx2_nc(P);
  const int64_t nc_max = cnnrt_gemm_avx2_min(P, nc_blk);
  float *bp = cnnrt_gemm_avx2_align(scratch);
  int32_t *tb = (int32_t *)(void *)(bp + (kc_max + 1) * ((nc_max + 15) / 16 * 16));
  cnnrt_im2col_tab tab;
  tab.idx = tb;
  tab.mask = tb + 16 * kvol;
  tab.mode = tb + 32 * kvol;
  tab.base = tb + 34 * kvol;
  for (int64_t j0 = 0; j0 < P; j0 += nc_blk) {
    const int64_t nc = cnnrt_gemm_avx2_min(nc_blk, P - j0);
    for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
      const int64_t kc = cnnrt_gemm_avx2_min(kc_max, k - k0);
      cnnrt_im2col_pack_avx2(&g, x, k0, k0 + kc, j0, nc, &tab, bp);
    }
  }
}

/* The direct kernel's input copies alone (every band of one task). */
static void copy_only(const cnnrt_conv_params *p, const float *x, void *scratch) {
  float *copy = cnnrt_gemm_avx2_align(scratch);
  for (int64_t oy0 = 0; oy0 < p->out[0]; oy0 += CNNRT_CONV_DIRECT_BAND) {
    const int64_t rows = cnnrt_gemm_avx2_min(CNNRT_CONV_DIRECT_BAND, p->out[0] - oy0);
    cnnrt_conv_direct_copy_band(p, x, oy0, rows, copy);
  }
}

typedef struct stem {
  const char *name;
  int64_t c_out, in, k, s, pad, act;
} stem;

static double best_of(int which, const cnnrt_conv_params *p, const float *x, const float *wp,
                      const float *b, float *y, void *scratch) {
  double best = 1e30;
  for (int rep = 0; rep < 20; rep++) {
    const double t0 = bench_cpu_seconds();
    if (which == 0) {
      cnnrt_f32_conv_gemm_avx2(p, x, wp, b, NULL, y, scratch);
    } else if (which == 1) {
      im2col_only(p, x, scratch);
    } else if (which == 3) {
      copy_only(p, x, scratch);
    } else {
      cnnrt_f32_conv_direct_avx2_range(p, x, wp, b, NULL, y, scratch, 0, 1, NULL);
    }
    const double dt = bench_cpu_seconds() - t0;
    best = dt < best ? dt : best;
  }
  return best;
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 7;
  static const stem stems[] = {
      {"resnet conv1 7x7 3->64 s2 p3 +relu", 64, 224, 7, 2, 3, CNNRT_ACT_RELU},
      {"mobilenet_v2 3x3 3->32 s2 p1 +clip", 32, 224, 3, 2, 1, CNNRT_ACT_CLIP},
      {"squeezenet 3x3 3->64 s2 p0 +relu", 64, 224, 3, 2, 0, CNNRT_ACT_RELU},
      {"efficientnet 3x3 3->32 s2 p1 +silu", 32, 224, 3, 2, 1, CNNRT_ACT_SILU},
  };
  printf("%-38s %9s %9s %9s %9s %8s %8s %6s\n", "layer", "gemm ms", "im2col", "direct ms",
         "copy", "gemm GF", "dir GF", "speed");
  for (size_t si = 0; si < sizeof stems / sizeof stems[0]; si++) {
    const stem *st = &stems[si];
    cnnrt_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = 2;
    p.n = 1;
    p.c_in = 3;
    p.c_out = st->c_out;
    p.group = 1;
    for (int a = 0; a < 3; a++) {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    }
    for (int a = 0; a < 2; a++) {
      p.in[a] = st->in;
      p.kernel[a] = st->k;
      p.stride[a] = st->s;
      p.pad_begin[a] = st->pad;
      p.out[a] = (st->in + 2 * st->pad - st->k) / st->s + 1;
    }
    /* mobilenet and efficientnet: pad 1 at 224 gives 112 (pads 0,1 in the ONNX export of
     * efficientnet; the cost is the same) */
    p.act = st->act;
    p.alpha = 0.0f;
    p.beta = 6.0f;
    const int64_t k = 3 * st->k * st->k;
    const int64_t P = p.out[0] * p.out[1];
    float *x = rand_buf(3 * st->in * st->in), *w = rand_buf(st->c_out * k);
    float *b = rand_buf(st->c_out);
    float *y0 = malloc(sizeof(float) * (size_t)(st->c_out * P));
    float *y1 = malloc(sizeof(float) * (size_t)(st->c_out * P));
    float *wp = malloc((size_t)cnnrt_f32_pack_a_mr6_bytes(st->c_out, k));
    cnnrt_f32_pack_a_mr6(st->c_out, k, w, wp);
    int64_t sb = cnnrt_f32_conv_gemm_avx2_scratch_bytes(&p);
    const int64_t sd = cnnrt_f32_conv_direct_avx2_scratch_bytes(&p);
    sb = sb > sd ? sb : sd;
    void *scratch = malloc((size_t)sb);
    double tg[64], ti[64], td[64], tc[64];
    for (int r = 0; r < rounds && r < 64; r++) {
      tg[r] = best_of(0, &p, x, wp, b, y0, scratch);
      ti[r] = best_of(1, &p, x, wp, b, y0, scratch);
      td[r] = best_of(2, &p, x, wp, b, y1, scratch);
      tc[r] = best_of(3, &p, x, wp, b, y1, scratch);
    }
    const int n = rounds < 64 ? rounds : 64;
    qsort(tg, (size_t)n, sizeof(double), bench_cmp_double);
    qsort(ti, (size_t)n, sizeof(double), bench_cmp_double);
    qsort(td, (size_t)n, sizeof(double), bench_cmp_double);
    qsort(tc, (size_t)n, sizeof(double), bench_cmp_double);
    double maxd = 0.0, maxr = 0.0;
    for (int64_t i = 0; i < st->c_out * P; i++) {
      const double d = y0[i] > y1[i] ? y0[i] - y1[i] : y1[i] - y0[i];
      const double a = y0[i] > 0 ? y0[i] : -y0[i];
      maxd = d > maxd ? d : maxd;
      maxr = a > maxr ? a : maxr;
    }
    const double flop = 2.0 * (double)(st->c_out * P * k);
    printf("%-38s %9.3f %9.3f %9.3f %9.3f %8.1f %8.1f %5.2fx  (max|d|/max|y| %.1e)\n",
           st->name, 1e3 * tg[n / 2], 1e3 * ti[n / 2], 1e3 * td[n / 2], 1e3 * tc[n / 2], flop / tg[n / 2] * 1e-9,
           flop / td[n / 2] * 1e-9, tg[n / 2] / td[n / 2], maxd / maxr);
    free(x);
    free(w);
    free(b);
    free(y0);
    free(y1);
    free(wp);
    free(scratch);
  }
  return 0;
}

#else
int main(void) {
  printf("needs AVX2 and FMA (-mavx2 -mfma or -march=native)\n");
  return 0;
}
#endif
