/* test_pool_grad_avx2.c — runtime/cnnrt_pool_grad_avx2.h against the scalar references of
 * cnnrt_pool_grad.h (checked against finite differences in test_grad.c and PyTorch by the grad
 * tests): MaxPool and AveragePool gradients for 1-D to 3-D windows, kernels 1-3 (and 2x2
 * stride 2), strides 1-3, dilation 2, symmetric/asymmetric pads, ceil mode, count_include_pad
 * on and off, rows of 1 to 41 elements (interiors shorter and longer than a vector), 1 to 5
 * planes over 1 to 3 tasks run in reverse. MaxPool inputs hold ties (values rounded to a
 * coarse grid) and NaNs, whose handling (first maximum; first NaN wins) must match exactly:
 * MaxPool gradients are compared bit for bit, AveragePool ones to 1e-6 relative (order of the
 * additions into overlapping windows).
 * GlobalMaxPool gradients bit for bit (test_global_maxpool_grad).
 * Build with -mavx2 -mfma; without them the header is empty and the test skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_pool_grad_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "../kernel_test_util.h"

static int n_cases = 0;
static double worst_avg = 0.0;

static void one_case(int sp, int64_t planes, int64_t in, int64_t k, int64_t s, int64_t d,
                     int64_t pb, int64_t pe, int ceil_mode, int include_pad, int tasks,
                     int nans) {
  cnnrt_pool_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = 1;
  p.c = planes;
  p.count_include_pad = include_pad;
  int64_t in_vol = 1, out_vol = 1;
  for (int i = 0; i < sp; i++) {
    p.in[i] = i == sp - 1 ? in : 3 + i;
    p.kernel[i] = i == sp - 1 ? k : 2;
    p.stride[i] = i == sp - 1 ? s : 1;
    p.dilation[i] = i == sp - 1 ? d : 1;
    p.pad_begin[i] = i == sp - 1 ? pb : 1;
    p.pad_end[i] = i == sp - 1 ? pe : 0;
    p.out[i] = cnnrt_pool_out_dim(p.in[i], p.kernel[i], p.stride[i], p.dilation[i],
                                  p.pad_begin[i], p.pad_end[i], ceil_mode);
    if (p.out[i] < 1 || pb >= (k - 1) * d + 1 || pe >= (k - 1) * d + 1) {
      return; /* not a valid pool */
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
  }
  n_cases++;
  const int64_t nx = planes * in_vol, ny = planes * out_vol;
  float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
  float *dx0 = malloc(sizeof(float) * (size_t)nx), *dx1 = malloc(sizeof(float) * (size_t)nx);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = roundf(urand() * 4.0f) / 4.0f; /* ties */
    if (nans && i % 11 == 5) {
      x[i] = NAN;
    }
  }
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;

  memset(dx1, 0x7f, sizeof(float) * (size_t)nx); /* overwritten, not accumulated into */
  cnnrt_f32_maxpool_grad_ref(&p, x, dy, dx0);
  cnnrt_f32_maxpool_grad_avx2(&p, x, dy, dx1, pp);
  for (int64_t i = 0; i < nx; i++) {
    if (memcmp(&dx0[i], &dx1[i], 4) != 0) {
      fprintf(stderr, "maxpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld: dx[%lld] %g vs %g\n",
              sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
              (long long)pe, (long long)i, (double)dx1[i], (double)dx0[i]);
    }
    assert_memory_equal(&dx0[i], &dx1[i], 4);
  }

  memset(dx1, 0x7f, sizeof(float) * (size_t)nx);
  cnnrt_f32_avgpool_grad_ref(&p, dy, dx0);
  cnnrt_f32_avgpool_grad_avx2(&p, dy, dx1, pp);
  double maxref = 0.0, maxerr = 0.0;
  for (int64_t i = 0; i < nx; i++) {
    maxref = fmax(maxref, fabs((double)dx0[i]));
    maxerr = fmax(maxerr, fabs((double)dx1[i] - (double)dx0[i]));
  }
  const double rel = maxref > 0 ? maxerr / maxref : maxerr;
  worst_avg = fmax(worst_avg, rel);
  if (!(rel <= 1e-6)) {
    fprintf(stderr, "avgpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld incl %d: rel %g\n",
            sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
            (long long)pe, include_pad, rel);
  }
  assert_true(rel <= 1e-6);
  free(x);
  free(dy);
  free(dx0);
  free(dx1);
}

static void test_pool_grads(void **state) {
  (void)state;
  const int64_t widths[] = {1, 2, 7, 8, 16, 17, 28, 41};
  int t = 0;
  for (int sp = 1; sp <= 3; sp++) {
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
      for (int64_t k = 1; k <= 3; k++) {
        for (int64_t s = 1; s <= 3; s++) {
          for (int64_t pb = 0; pb <= 1; pb++) {
            for (int incl = 0; incl <= 1; incl++) {
              t++;
              one_case(sp, 1 + t % 5, widths[w], k, s, 1, pb, pb, 0, incl, 1 + t % 3, t % 4 == 0);
              one_case(sp, 2, widths[w], k, s, 1, pb, 0, 1, incl, 2, 0); /* ceil mode */
              one_case(sp, 3, widths[w], k, s, 2, pb, pb + 1 < k ? pb + 1 : pb, 0, incl, 1,
                       t % 3 == 0); /* dilation, asymmetric pad */
            }
          }
        }
      }
    }
  }
  printf("%d pool cases; AveragePool worst rel err %.3g, MaxPool bit-identical\n", n_cases,
         worst_avg);
  assert_true(n_cases > 500);
}

/* GlobalMaxPool: planes of 1 (1x1 images) to 70 elements, values on a coarse grid (ties),
 * optionally with NaNs, -0/+0 and infinities; bit-identical to the reference (first NaN, else
 * first maximum), dx pre-filled with garbage (every element must be written). */
static void test_global_maxpool_grad(void **state) {
  (void)state;
  const int64_t spatials[] = {1, 2, 7, 8, 9, 15, 16, 17, 49, 70};
  int n_global = 0;
  for (size_t si = 0; si < sizeof spatials / sizeof spatials[0]; si++) {
    for (int64_t planes = 1; planes <= 7; planes += 3) {
      for (int mode = 0; mode < 4; mode++) {
        const int64_t sp = spatials[si], total = planes * sp;
        float *x = malloc(sizeof(float) * (size_t)total), *dy = malloc(sizeof(float) * (size_t)planes);
        float *want = malloc(sizeof(float) * (size_t)total), *got = malloc(sizeof(float) * (size_t)total);
        for (int64_t i = 0; i < total; i++) {
          x[i] = roundf(4.0f * urand()) * 0.5f; /* ties */
          if (mode == 1 && (i * 7 + sp) % 11 == 3) {
            x[i] = NAN;
          }
          if (mode == 2) {
            x[i] = (i % 3 == 0) ? -0.0f : ((i % 3 == 1) ? 0.0f : -1.0f);
          }
          if (mode == 3 && i % 5 == 2) {
            x[i] = (i % 2) ? INFINITY : -INFINITY;
          }
          want[i] = 777.0f;
          got[i] = -777.0f;
        }
        for (int64_t i = 0; i < planes; i++) {
          dy[i] = urand();
        }
        cnnrt_parallel par = {run_reverse, NULL, 1 + (int)(planes % 3)};
        cnnrt_f32_global_maxpool_grad_ref(planes, sp, x, dy, want);
        cnnrt_f32_global_maxpool_grad_avx2(planes, sp, x, dy, got, &par);
        assert_memory_equal(got, want, sizeof(float) * (size_t)total);
        n_global++;
        free(x);
        free(dy);
        free(want);
        free(got);
      }
    }
  }
  printf("global maxpool: %d cases bit-identical\n", n_global);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_grads),
      cmocka_unit_test(test_global_maxpool_grad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void) {
  printf("AVX2/FMA not enabled: skipped\n");
  return 0;
}
#endif
