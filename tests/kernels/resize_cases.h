/* resize_cases.h — the cases of the SIMD forward Resize tests, shared by
 * tests/kernels/test_resize_avx2.c and tests/arm/kernels/test_neon_resize.c. The includer
 * defines RZ_RESIZE (the kernel under test: the reference's arguments plus a cnnrt_parallel *)
 * after including the runtime header and kernel_test_util.h; cmocka is included.
 * Nearest results must be bit-identical (copies of input elements); linear and cubic within
 * 1e-6 of max |reference| (the same products added in another order; cubic 2e-6). */
#ifndef CNNCC_TESTS_RESIZE_CASES_H
#define CNNCC_TESTS_RESIZE_CASES_H

static int rz_n = 0;
static double rz_worst[3] = {0.0, 0.0, 0.0}; /* per mode: nearest, linear, cubic */

/* Resize params for rank r: `in` and `out` given per axis; scale[] as the compiler sets it. */
static cnnrt_resize_params rz_params(int64_t rank, const int64_t *in, const int64_t *out,
                                     const float *scale, int from_sizes, int mode,
                                     int nearest_mode, int coord_mode, int exclude_outside) {
  cnnrt_resize_params p;
  memset(&p, 0, sizeof p);
  p.rank = rank;
  for (int d = 0; d < CNNRT_MAX_RANK; d++) {
    p.in[d] = p.out[d] = 1;
    p.scale[d] = 1.0f;
    p.roi_start[d] = 0.0f;
    p.roi_end[d] = 1.0f;
  }
  for (int64_t d = 0; d < rank; d++) {
    p.in[d] = in[d];
    p.out[d] = out[d];
    p.scale[d] = from_sizes ? cnnrt_resize_scale_from_size(in[d], out[d]) : scale[d];
  }
  if (coord_mode == CNNRT_RESIZE_TF_CROP_AND_RESIZE) { /* some outputs extrapolate */
    p.roi_start[rank - 2] = -0.2f;
    p.roi_end[rank - 2] = 0.9f;
    p.roi_start[rank - 1] = 0.1f;
    p.roi_end[rank - 1] = 1.3f;
  }
  p.mode = mode;
  p.nearest_mode = nearest_mode;
  p.coord_mode = coord_mode;
  p.cubic_a = -0.75f;
  p.exclude_outside = exclude_outside;
  p.extrapolation_value = 0.5f;
  p.from_sizes = from_sizes;
  return p;
}

static void rz_run(const cnnrt_resize_params *p, int threads, const char *what) {
  int64_t nx = 1, ny = 1;
  for (int64_t d = 0; d < p->rank; d++) {
    nx *= p->in[d];
    ny *= p->out[d];
  }
  float *x = malloc((size_t)nx * sizeof *x);
  float *want = calloc((size_t)ny, sizeof *want); /* calloc: quiets -Wmaybe-uninitialized */
  float *got = calloc((size_t)ny, sizeof *got);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = urand();
  }
  for (int64_t i = 0; i < ny; i++) {
    got[i] = 12345.0f; /* every element must be written */
  }
  cnnrt_f32_resize_ref(p, x, want);
  const cnnrt_parallel par = {run_reverse, NULL, threads};
  RZ_RESIZE(p, x, got, &par);
  const double err = max_rel_err(got, want, ny);
  const double tol =
      p->mode == CNNRT_RESIZE_NEAREST ? 0.0 : (p->mode == CNNRT_RESIZE_CUBIC ? 2e-6 : 1e-6);
  if (err > rz_worst[p->mode]) {
    rz_worst[p->mode] = err;
  }
  if (!(err <= tol)) {
    fprintf(stderr,
            "resize %s: in %lldx%lld out %lldx%lld mode %lld nearest %lld coord %lld "
            "excl %lld sizes %lld: rel err %.3g\n",
            what, (long long)p->in[p->rank - 2], (long long)p->in[p->rank - 1],
            (long long)p->out[p->rank - 2], (long long)p->out[p->rank - 1], (long long)p->mode,
            (long long)p->nearest_mode, (long long)p->coord_mode, (long long)p->exclude_outside,
            (long long)p->from_sizes, err);
  }
  assert_true(err <= tol);
  rz_n++;
  free(x);
  free(want);
  free(got);
}

static void rz_cases(void) {
  static const int64_t hw[][2] = {{1, 1}, {3, 5}, {4, 4}, {7, 9}, {8, 16}, {13, 1},
                                  {1, 17}, {9, 150}, {40, 31}};
  static const float scales[] = {0.5f, 2.0f, 3.0f, 1.7f, 0.3f, 0.1f};
  int counter = 0;
  for (size_t s = 0; s < sizeof hw / sizeof hw[0]; s++) {
    for (int si = 0; si <= 6; si++) { /* si == 6: `sizes` (h + 2, 2 w - 1) */
      int64_t in[4] = {1, 1 + counter % 3, hw[s][0], hw[s][1]}, out[4];
      float scale[4] = {1.0f, 1.0f, 1.0f, 1.0f};
      const int from_sizes = si == 6;
      out[0] = in[0];
      out[1] = in[1];
      if (from_sizes) {
        out[2] = in[2] + 2;
        out[3] = 2 * in[3] - 1 > 0 ? 2 * in[3] - 1 : 1;
      } else {
        scale[2] = scales[si];
        scale[3] = scales[(si + (int)s % 2) % 6];
        out[2] = cnnrt_resize_out_dim(in[2], scale[2]);
        out[3] = cnnrt_resize_out_dim(in[3], scale[3]);
        if (out[2] == 0 || out[3] == 0) {
          continue;
        }
      }
      for (int coord = 0; coord <= CNNRT_RESIZE_TF_CROP_AND_RESIZE; coord++) {
        for (int mode = 0; mode <= CNNRT_RESIZE_CUBIC; mode++) {
          const int n_sub = mode == CNNRT_RESIZE_NEAREST ? 5 : 2;
          for (int sub = 0; sub < n_sub; sub++) {
            const int nearest_mode = mode == CNNRT_RESIZE_NEAREST ? sub : 0;
            const int excl = mode != CNNRT_RESIZE_NEAREST ? sub : 0;
            const int rank = 2 + counter % 3;
            const cnnrt_resize_params p =
                rz_params(rank, in + 4 - rank, out + 4 - rank, scale + 4 - rank, from_sizes,
                          mode, nearest_mode, coord, excl);
            rz_run(&p, 1 + counter % 3, "last2");
            counter++;
          }
        }
      }
    }
  }
  /* Shapes left to the reference: rank 1, a resized leading axis. */
  {
    const int64_t in[3] = {3, 4, 5}, out[3] = {6, 4, 10};
    const float scale[3] = {2.0f, 1.0f, 2.0f};
    for (int mode = 0; mode <= CNNRT_RESIZE_CUBIC; mode++) {
      cnnrt_resize_params p = rz_params(3, in, out, scale, 0, mode, 0, 0, 0);
      rz_run(&p, 2, "leading axis");
      p = rz_params(1, in + 2, out + 2, scale + 2, 0, mode, 0, 0, 0);
      rz_run(&p, 2, "rank 1");
    }
  }
  /* Nearest 2x (the U-Net decoder case, the duplication path), odd and vector widths. */
  for (int coord = 0; coord <= 1; coord++) {
    const int64_t in[4] = {2, 3, 17, 37 - 21 * coord}, out[4] = {2, 3, 34, 74 - 42 * coord};
    const float scale[4] = {1.0f, 1.0f, 2.0f, 2.0f};
    const cnnrt_resize_params p = rz_params(4, in, out, scale, 0, 0, 0, coord, 0);
    rz_run(&p, 3, "nearest 2x");
  }
  printf("resize: %d cases, worst rel err nearest %.3g (bit-identical), linear %.3g, cubic "
         "%.3g\n",
         rz_n, rz_worst[0], rz_worst[1], rz_worst[2]);
}

#endif /* CNNCC_TESTS_RESIZE_CASES_H */
