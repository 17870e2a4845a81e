/* bench_conv_mvec_stream_avx2.c — the output-channel-vectorised convolution
 * (runtime/cnnrt_conv_mvec.h) with its weights coming from memory, as in a whole network (the
 * weights of ResNet-50 are 100 MB; every layer's stream in from DRAM on every run), on the
 * layers that run it in the five benchmark models. Copies of the packed weights (over 96 MB in
 * all) are used in turn. One thread, thread CPU time, medians.
 *
 * Two ways to build it:
 *   - one variant, the runtime in -I:
 *       gcc -std=c99 -O3 -march=native -Iruntime bench/kernels/bench_conv_mvec_stream_avx2.c \
 *           -o bms -lm
 *   - two variants of the header alternating round by round in one binary (separately
 *     compiled programs differ by a few % on identical code, so A/B comparisons need this):
 *       gcc -std=c99 -O3 -march=native -IOLD -DMVEC_UNIT=mvec_a -c THIS.c -o a.o
 *       gcc -std=c99 -O3 -march=native -Iruntime -DMVEC_UNIT=mvec_b -c THIS.c -o b.o
 *       gcc -std=c99 -O3 -march=native -Iruntime -DMVEC_AB THIS.c a.o b.o -o bms_ab -lm
 *     (OLD: a copy of runtime/ with the other cnnrt_conv_mvec.h). It prints both GF/s and the
 *     ratio of the median times, B / A.
 *   ./bms [rounds [name-substring]] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#include "cnnrt_conv_mvec.h"

#if defined(MVEC_UNIT)
/* One variant of the kernel under a name of its own. */
void MVEC_UNIT(const cnnrt_conv_params *p, const float *x, const float *w, const float *b,
               float *y, unsigned char *scratch);
void MVEC_UNIT(const cnnrt_conv_params *p, const float *x, const float *w, const float *b,
               float *y, unsigned char *scratch) {
  cnnrt_f32_conv_mvec_range(p, x, w, b, NULL, y, scratch, 0, 1);
}
#elif !(defined(__AVX2__) && defined(__FMA__))
int main(void) {
  fprintf(stderr, "build with -mavx2 -mfma (or -march=native)\n");
  return 1;
}
#else

typedef void (*mvec_fn)(const cnnrt_conv_params *, const float *, const float *, const float *,
                        float *, unsigned char *);
#if defined(MVEC_AB)
void mvec_a(const cnnrt_conv_params *, const float *, const float *, const float *, float *,
            unsigned char *);
void mvec_b(const cnnrt_conv_params *, const float *, const float *, const float *, float *,
            unsigned char *);
#else
static void mvec_a(const cnnrt_conv_params *p, const float *x, const float *w, const float *b,
                   float *y, unsigned char *scratch) {
  cnnrt_f32_conv_mvec_range(p, x, w, b, NULL, y, scratch, 0, 1);
}
#define mvec_b mvec_a
#endif

typedef struct layer {
  const char *name;
  int64_t ci, co, hw, k, s; /* input plane hw x hw, kernel k x k, stride s, pad k / 2 */
} layer;

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 10;
  const char *only = argc > 2 ? argv[2] : "";
  static const layer layers[] = {
      {"r50 l4 1x1 2048->512", 2048, 512, 7, 1, 1},
      {"r50 l4 3x3 512->512", 512, 512, 7, 3, 1},
      {"r50 l4 1x1 512->2048", 512, 2048, 7, 1, 1},
      {"r50 l4 3x3 s2 512->512", 512, 512, 14, 3, 2},
      {"r50 l4 ds 1x1 s2 1024->2048", 1024, 2048, 14, 1, 2},
      {"r50 l4 1x1 1024->512 @14", 1024, 512, 14, 1, 1},
      {"r50 l3 1x1 1024->256", 1024, 256, 14, 1, 1},
      {"r50 l3 3x3 256->256", 256, 256, 14, 3, 1},
      {"r50 l3 1x1 256->1024", 256, 1024, 14, 1, 1},
      {"r50 l3 3x3 s2 256->256", 256, 256, 28, 3, 2},
      {"r50 l3 ds 1x1 s2 512->1024", 512, 1024, 28, 1, 2},
      {"r50 l2 3x3 s2 128->128", 128, 128, 56, 3, 2},
      {"mbv2 1x1 960->320 @7", 960, 320, 7, 1, 1},
      {"mbv2 1x1 320->1280 @7", 320, 1280, 7, 1, 1},
      {"effb0 1x1 1152->192 @7", 1152, 192, 7, 1, 1},
      {"mbv2 1x1 576->96 @14", 576, 96, 14, 1, 1},
  };
  enum { MAX_ROUNDS = 64 };
  printf("%-30s %9s %9s %9s\n", "layer", "A GF/s", "B GF/s", "B/A time");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    if (strstr(L->name, only) == NULL) {
      continue;
    }
    cnnrt_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = 2;
    p.n = 1;
    p.c_in = L->ci;
    p.c_out = L->co;
    p.group = 1;
    for (int a = 0; a < 3; a++) {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
    }
    const int64_t pad = L->k / 2;
    p.in[0] = p.in[1] = L->hw;
    p.kernel[0] = p.kernel[1] = L->k;
    p.stride[0] = p.stride[1] = L->s;
    p.pad_begin[0] = p.pad_begin[1] = pad;
    p.out[0] = p.out[1] = (L->hw + 2 * pad - L->k) / L->s + 1;
    p.act = CNNRT_ACT_RELU;
    const int64_t k = L->ci * L->k * L->k, plane = p.out[0] * p.out[1];
    const size_t wbytes = (size_t)cnnrt_f32_pack_a_mr_bytes(L->co, k, CNNRT_CONV_MVEC_MR);
    const int ncopy = (int)((96u << 20) / wbytes) + 1;
    float *x = bench_rand_buf(L->ci * L->hw * L->hw, 1), *w = bench_rand_buf(L->co * k, 2);
    float *b = bench_rand_buf(L->co, 3), *y = bench_rand_buf(L->co * plane, 4);
    float **wc = malloc(sizeof(float *) * (size_t)ncopy);
    unsigned char *scratch = malloc((size_t)cnnrt_f32_conv_mvec_scratch_bytes(&p));
    if (wc == NULL || scratch == NULL) {
      fprintf(stderr, "out of memory\n");
      return 1;
    }
    for (int c = 0; c < ncopy; c++) {
      wc[c] = malloc(wbytes);
      if (wc[c] == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
      }
      cnnrt_f32_pack_a_mr(L->co, k, CNNRT_CONV_MVEC_MR, w, wc[c]);
    }
    const double flop = 2.0 * (double)k * (double)L->co * (double)plane;
    const int reps = ncopy * ((int)(4e8 / flop / ncopy) + 1);
    double ta[MAX_ROUNDS], tb[MAX_ROUNDS];
    int na = 0, nb = 0;
    for (int r = 0; r < 2 * rounds && r < 2 * MAX_ROUNDS; r++) {
      const mvec_fn fn = r % 2 == 0 ? mvec_a : mvec_b;
      const double t = bench_cpu_seconds();
      for (int i = 0; i < reps; i++) {
        fn(&p, x, wc[i % ncopy], b, y, scratch);
      }
      const double dt = (bench_cpu_seconds() - t) / reps;
      if (r % 2 == 0) {
        ta[na++] = dt;
      } else {
        tb[nb++] = dt;
      }
    }
    qsort(ta, (size_t)na, sizeof(double), bench_cmp_double);
    qsort(tb, (size_t)nb, sizeof(double), bench_cmp_double);
    printf("%-30s %9.1f %9.1f %9.3f\n", L->name, flop / ta[na / 2] * 1e-9,
           flop / tb[nb / 2] * 1e-9, tb[nb / 2] / ta[na / 2]);
    for (int c = 0; c < ncopy; c++) {
      free(wc[c]);
    }
    free(wc), free(x), free(w), free(b), free(y), free(scratch);
  }
  return 0;
}
#endif
