/* pool_fwd_cases.h — the cases shared by the forward pooling kernel tests (tests/kernels/
 * test_pool_avx2.c, tests/arm/kernels/test_neon_pool.c): a SIMD MaxPool / AveragePool /
 * GlobalMaxPool / GlobalAveragePool against the scalar references of cnnrt_pool.h (themselves
 * checked against ONNX's node test data and PyTorch).
 *
 * The including file defines, before including this one (after kernel_test_util.h):
 *   SIMD_MAXPOOL(p, x, y, par), SIMD_AVGPOOL(p, x, y, par)   windowed pools (par may be NULL)
 *   SIMD_GLOBAL_MAXPOOL(nc, n, x, y), SIMD_GLOBAL_AVGPOOL(nc, n, x, y)
 *   POOL_CASES_WIDTH_STEP  1 to run every row width 1..40, more to thin them (slow emulators)
 *
 * Windowed cases: 1-D, 2-D and 3-D windows; along the last axis kernels 1-7, strides 1-3,
 * dilations 1 and 2, pads none / symmetric / asymmetric, ceil_mode off and on, row widths 1..40
 * (interiors shorter than, equal to and longer than a vector, every remainder); the other axes
 * small with padding (border rows). 1 to 5 planes (odd channel counts) over 1 to 3 tasks run in
 * reverse. The output is pre-filled with garbage (every element must be written) and x is an
 * exact-size allocation (AddressSanitizer catches a read past the tensor).
 * MaxPool: values on a coarse grid (ties), some -0/+0 pairs, NaNs and infinities, compared bit
 * for bit (the reference ignores NaN and keeps the first of equal values).
 * AveragePool: uniform values, both count_include_pad modes, compared bit for bit too: the
 * kernels add the taps in the reference's order and divide by the same count (the brief's bound
 * is 1e-6 relative; the test asserts the stronger property the kernels promise). */
#ifndef CNNCC_TESTS_POOL_FWD_CASES_H
#define CNNCC_TESTS_POOL_FWD_CASES_H

static int pool_cases_run = 0;

/* The geometry of the axes before the last one in pool_fwd_case: row count, kernel, stride,
 * pads of the first spatial axis (the second of a 3-D window: 5, 3, 2, 1/1); in = 0: the
 * default small axes (4 rows, kernel 2, stride 1, pads 1/0). */
typedef struct pool_rows {
  int64_t in, k, s, pb, pe;
} pool_rows;

/* Returns 0 when the parameters are not a valid pool (nothing run). */
static int pool_fwd_case_rows(int sp, int64_t planes, pool_rows rows, int64_t in, int64_t k,
                              int64_t s, int64_t d, int64_t pb, int64_t pe, int ceil_mode,
                              int include_pad, int tasks, int special) {
  cnnrt_pool_params p;
  memset(&p, 0, sizeof p);
  p.spatial = sp;
  p.n = 1;
  p.c = planes;
  p.count_include_pad = include_pad;
  int64_t in_vol = 1, out_vol = 1;
  for (int i = 0; i < 3; i++) {
    p.in[i] = p.out[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 1;
  }
  for (int i = 0; i < sp; i++) {
    const int last = i == sp - 1;
    p.in[i] = last ? in : 4 + i;
    p.kernel[i] = last ? k : 2 + i;
    p.stride[i] = last ? s : 1 + i;
    p.dilation[i] = last ? d : 1;
    p.pad_begin[i] = last ? pb : 1;
    p.pad_end[i] = last ? pe : i;
    if (!last && rows.in > 0) {
      p.in[i] = i == 0 ? rows.in : 5;
      p.kernel[i] = i == 0 ? rows.k : 3;
      p.stride[i] = i == 0 ? rows.s : 2;
      p.pad_begin[i] = i == 0 ? rows.pb : 1;
      p.pad_end[i] = i == 0 ? rows.pe : 1;
    }
    if (p.pad_begin[i] >= (p.kernel[i] - 1) * p.dilation[i] + 1 ||
        p.pad_end[i] >= (p.kernel[i] - 1) * p.dilation[i] + 1) {
      return 0; /* ONNX requires pads smaller than the (dilated) kernel */
    }
    p.out[i] = cnnrt_pool_out_dim(p.in[i], p.kernel[i], p.stride[i], p.dilation[i],
                                  p.pad_begin[i], p.pad_end[i], ceil_mode);
    if (p.out[i] < 1) {
      return 0;
    }
    in_vol *= p.in[i];
    out_vol *= p.out[i];
  }
  pool_cases_run++;
  const int64_t nx = planes * in_vol, ny = planes * out_vol;
  float *x = malloc(sizeof(float) * (size_t)nx);
  float *want = malloc(sizeof(float) * (size_t)ny), *got = malloc(sizeof(float) * (size_t)ny);
  cnnrt_parallel par = {run_reverse, NULL, tasks};
  const cnnrt_parallel *pp = tasks > 1 ? &par : NULL;

  for (int64_t i = 0; i < nx; i++) {
    x[i] = roundf(urand() * 4.0f) / 4.0f; /* ties */
    if (special && i % 13 == 4) {
      x[i] = NAN;
    } else if (special && i % 17 == 7) {
      x[i] = (i & 1) ? INFINITY : -INFINITY;
    } else if (special && i % 5 == 1) {
      x[i] = (i & 2) ? -0.0f : 0.0f;
    }
  }
  for (int64_t i = 0; i < ny; i++) {
    want[i] = 777.0f;
    got[i] = -777.0f;
  }
  cnnrt_f32_maxpool_range_ref(&p, 0, planes, x, want, NULL);
  SIMD_MAXPOOL(&p, x, got, pp);
  for (int64_t i = 0; i < ny; i++) {
    if (memcmp(&want[i], &got[i], 4) != 0) {
      fprintf(stderr, "maxpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld ceil %d: "
                      "y[%lld] %g vs %g\n",
              sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
              (long long)pe, ceil_mode, (long long)i, (double)got[i], (double)want[i]);
    }
    assert_memory_equal(&want[i], &got[i], 4);
  }

  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < ny; i++) {
    want[i] = 777.0f;
    got[i] = -777.0f;
  }
  cnnrt_f32_avgpool_range_ref(&p, 0, planes, x, want);
  SIMD_AVGPOOL(&p, x, got, pp);
  for (int64_t i = 0; i < ny; i++) {
    if (memcmp(&want[i], &got[i], 4) != 0) {
      fprintf(stderr, "avgpool sp %d in %lld k %lld s %lld d %lld pads %lld/%lld ceil %d incl %d: "
                      "y[%lld] %.9g vs %.9g\n",
              sp, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb,
              (long long)pe, ceil_mode, include_pad, (long long)i, (double)got[i],
              (double)want[i]);
    }
    assert_memory_equal(&want[i], &got[i], 4);
  }
  free(x);
  free(want);
  free(got);
  return 1;
}

static int pool_fwd_case(int sp, int64_t planes, int64_t in, int64_t k, int64_t s, int64_t d,
                         int64_t pb, int64_t pe, int ceil_mode, int include_pad, int tasks,
                         int special) {
  const pool_rows rows = {0, 0, 0, 0, 0};
  return pool_fwd_case_rows(sp, planes, rows, in, k, s, d, pb, pe, ceil_mode, include_pad, tasks,
                            special);
}

static void test_pool_fwd(void **state) {
  (void)state;
  int t = 0;
  for (int sp = 1; sp <= 3; sp++) {
    for (int64_t w = 1; w <= 40; w += sp == 2 ? POOL_CASES_WIDTH_STEP : 3 * POOL_CASES_WIDTH_STEP) {
      for (int64_t k = 1; k <= 7; k++) {
        for (int64_t s = 1; s <= 3; s++) {
          for (int64_t d = 1; d <= 2; d++) {
            for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++) {
              for (int pads = 0; pads < 3; pads++) {
                const int64_t pb = pads == 0 ? 0 : k / 2;
                const int64_t pe = pads == 0 ? 0 : (pads == 1 ? k / 2 : (k - 1) / 3);
                t++;
                pool_fwd_case(sp, 1 + t % 5, w, k, s, d, pb, pe, ceil_mode, t % 2, 1 + t % 3,
                              t % 3 == 0);
              }
            }
          }
        }
      }
    }
  }
  /* 1x1 images and the shapes of the models' pooling layers (squeezenet's 3x3/2 ceil_mode
   * MaxPools, resnet's padded 3x3/2 one) */
  pool_fwd_case(2, 3, 1, 1, 1, 1, 0, 0, 0, 0, 2, 1);
  pool_fwd_case(2, 7, 55, 3, 2, 1, 0, 0, 1, 0, 3, 1);
  pool_fwd_case(2, 5, 27, 3, 2, 1, 0, 0, 1, 0, 2, 0);
  pool_fwd_case(2, 3, 112, 3, 2, 1, 1, 1, 0, 1, 2, 1);
  /* Rows of 32 and more outputs at stride 2 (the AVX-512 MaxPool path of cnnrt_pool_avx2.h:
   * whole 16-output chunks, partial last chunks, edge chunks at both ends, kernels up to 9,
   * pads, ceil_mode), under 3x3 stride-2 rows (windows sharing their last row), rows with
   * padding above and below, and the default rows; 2-D and 3-D windows. */
  const pool_rows rows_3x3s2 = {9, 3, 2, 1, 1}, rows_2s1 = {6, 2, 1, 1, 0};
  int u = 0;
  for (int64_t w = 62; w <= 100; w += 3 * POOL_CASES_WIDTH_STEP) {
    for (int64_t k = 1; k <= 9; k++) {
      for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++) {
        for (int pads = 0; pads < 3; pads++) {
          const int64_t pb = pads == 0 ? 0 : k / 2;
          const int64_t pe = pads == 0 ? 0 : (pads == 1 ? k / 2 : (k - 1) / 3);
          u++;
          const pool_rows rows =
              u % 3 == 0 ? rows_3x3s2 : (u % 3 == 1 ? rows_2s1 : (pool_rows){0, 0, 0, 0, 0});
          pool_fwd_case_rows(2 + u % 4 / 3, 1 + u % 3, rows, w, k, 2, 1, pb, pe, ceil_mode,
                             u % 2, 1 + u % 3, u % 2 == 0);
        }
      }
    }
  }
  pool_fwd_case_rows(2, 5, rows_3x3s2, 111, 3, 2, 1, 0, 0, 1, 0, 2, 1);
  pool_fwd_case_rows(2, 3, (pool_rows){112, 3, 2, 1, 1}, 112, 3, 2, 1, 1, 1, 0, 0, 2, 1);
  pool_fwd_case_rows(2, 2, rows_3x3s2, 2100, 3, 2, 1, 1, 1, 0, 0, 1, 1); /* rows too wide */
  /* 3x3 stride-2 windows without padding on both axes (cnnrt_pool_avx2.h's 3x3/2 MaxPool path:
   * SqueezeNet's pools): 3 to 12 rows (under ceil_mode an even count clips the last window's
   * rows), rows of 6 to 30 outputs (odd and even widths), ceil_mode off and on; SqueezeNet's three
   * shapes. */
  int v = 0;
  for (int64_t h = 3; h <= 12; h++) {
    for (int64_t w = 13; w <= 61; w += 3 * POOL_CASES_WIDTH_STEP) {
      for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++, v++) {
        pool_fwd_case_rows(2, 1 + v % 4, (pool_rows){h, 3, 2, 0, 0}, w, 3, 2, 1, 0, 0, ceil_mode, 0,
                           1 + v % 3, v % 2 == 0);
      }
    }
  }
  const int64_t squeezenet[3][2] = {{7, 111}, {5, 55}, {3, 27}}; /* planes, size */
  for (int i = 0; i < 3; i++) {
    const int64_t in = squeezenet[i][1];
    pool_fwd_case_rows(2, squeezenet[i][0], (pool_rows){in, 3, 2, 0, 0}, in, 3, 2, 1, 0, 0, 1, 0, 2,
                       i % 2);
  }
  printf("%d forward pool cases bit-identical (MaxPool with NaN/inf/-0 ties, AveragePool)\n",
         pool_cases_run);
  assert_true(pool_cases_run > 1000);
}

/* Global pools: planes of 1 (1x1 images) to 70 elements, 1 to 7 planes, with and without
 * NaN / infinities / signed zeros for max; bit-identical. */
static void test_global_pool_fwd(void **state) {
  (void)state;
  const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 49, 70};
  int n = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    for (int64_t planes = 1; planes <= 7; planes += 3) {
      for (int mode = 0; mode < 3; mode++) {
        const int64_t size = sizes[si], total = planes * size;
        float *x = malloc(sizeof(float) * (size_t)total);
        float want[7], got[7];
        for (int64_t i = 0; i < total; i++) {
          x[i] = mode == 0 ? urand() : roundf(4.0f * urand()) * 0.5f;
          if (mode == 2 && (i * 7 + size) % 11 == 3) {
            x[i] = NAN;
          } else if (mode == 2 && i % 5 == 2) {
            x[i] = (i % 2) ? INFINITY : -INFINITY;
          } else if (mode == 1 && i % 3 == 1) {
            x[i] = (i % 2) ? -0.0f : 0.0f;
          }
        }
        for (int i = 0; i < 7; i++) {
          want[i] = 777.0f;
          got[i] = -777.0f;
        }
        cnnrt_f32_global_maxpool_ref(planes, size, x, want);
        SIMD_GLOBAL_MAXPOOL(planes, size, x, got);
        assert_memory_equal(got, want, sizeof(float) * (size_t)planes);
        if (mode != 2) { /* NaN payloads of sums may differ between scalar and vector units */
          cnnrt_f32_global_avgpool_ref(planes, size, x, want);
          SIMD_GLOBAL_AVGPOOL(planes, size, x, got);
          assert_memory_equal(got, want, sizeof(float) * (size_t)planes);
        }
        n++;
        free(x);
      }
    }
  }
  printf("global pools: %d cases bit-identical\n", n);
}

#endif /* CNNCC_TESTS_POOL_FWD_CASES_H */
