/* scatter_grad_cases.h — the cases of the SIMD scatter-add gradient tests, shared by
 * tests/kernels/test_scatter_grad_avx2.c and tests/arm/kernels/test_neon_scatter_grad.c.
 * The includer defines SG_GATHER_GRAD and SG_RESIZE_GRAD (the kernels under test, with the
 * references' arguments plus a cnnrt_parallel *) after including the runtime header and
 * kernel_test_util.h; cmocka is included. See the test files for what is covered. */
#ifndef CNNCC_TESTS_SCATTER_GRAD_CASES_H
#define CNNCC_TESTS_SCATTER_GRAD_CASES_H

static int sg_n_gather = 0, sg_n_resize = 0, sg_n_nearest2 = 0, sg_n_fallback = 0;
static double sg_worst[3] = {0.0, 0.0, 0.0}; /* per mode: nearest, linear, cubic */

static void sg_gather_case(int64_t outer, int64_t axis_len, int64_t inner, int64_t n_idx,
                           int elem_size, int threads) {
  int64_t idx64[16];
  int32_t idx32[16];
  for (int64_t k = 0; k < n_idx; k++) {
    /* Mostly in [-axis_len, axis_len) (repeats and negatives), now and then out of range. */
    const float u = urand();
    int64_t v = (int64_t)((u + 1.0f) * (float)axis_len) - axis_len;
    if (k % 7 == 5) {
      v = k % 2 ? axis_len + 2 : -axis_len - 3;
    }
    idx64[k] = v;
    idx32[k] = (int32_t)v;
  }
  const void *indices = elem_size == 4 ? (const void *)idx32 : (const void *)idx64;
  const int64_t ny = outer * n_idx * inner, nx = outer * axis_len * inner;
  float *dy = malloc((size_t)ny * sizeof *dy);
  float *want = calloc((size_t)nx, sizeof *want); /* calloc: quiets -Wmaybe-uninitialized */
  float *got = calloc((size_t)nx, sizeof *got);
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  for (int64_t i = 0; i < nx; i++) {
    got[i] = 12345.0f; /* every element must be written */
  }
  cnnrt_f32_gather_grad_ref(outer, axis_len, inner, indices, n_idx, elem_size, dy, want);
  const cnnrt_parallel par = {run_reverse, NULL, threads};
  SG_GATHER_GRAD(outer, axis_len, inner, indices, n_idx, elem_size, dy, got, &par);
  if (memcmp(got, want, (size_t)nx * sizeof *got) != 0) {
    fprintf(stderr, "gather grad outer %lld axis %lld inner %lld n_idx %lld size %d threads %d: "
                    "differs (rel err %.3g)\n",
            (long long)outer, (long long)axis_len, (long long)inner, (long long)n_idx, elem_size,
            threads, max_rel_err(got, want, nx));
  }
  assert_memory_equal(got, want, (size_t)nx * sizeof *got);
  sg_n_gather++;
  free(dy);
  free(want);
  free(got);
}

static void sg_gather_cases(void) {
  static const int64_t outers[] = {1, 2, 3};
  static const int64_t axes[] = {1, 4, 7};
  static const int64_t inners[] = {1, 3, 8, 13, 64, 130, 300};
  static const int64_t n_idxs[] = {1, 5, 12};
  for (int oi = 0; oi < 3; oi++) {
    for (int ai = 0; ai < 3; ai++) {
      for (int ii = 0; ii < 7; ii++) {
        for (int ni = 0; ni < 3; ni++) {
          const int elem_size = (oi + ii + ni) % 2 ? 4 : 8;
          const int threads = 1 + (ai + ii + ni) % 4;
          sg_gather_case(outers[oi], axes[ai], inners[ii], n_idxs[ni], elem_size, threads);
        }
      }
    }
  }
  printf("gather grad: %d cases bit-identical\n", sg_n_gather);
}

/* Resize params for rank r: `in` and `out` given per axis; scale[] as the compiler sets it. */
static cnnrt_resize_params sg_params(int64_t rank, const int64_t *in, const int64_t *out,
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

static void sg_resize_run(const cnnrt_resize_params *p, int threads, const char *what) {
  int64_t nx = 1, ny = 1;
  for (int64_t d = 0; d < p->rank; d++) {
    nx *= p->in[d];
    ny *= p->out[d];
  }
  float *dy = malloc((size_t)ny * sizeof *dy);
  float *want = calloc((size_t)nx, sizeof *want); /* calloc: quiets -Wmaybe-uninitialized */
  float *got = calloc((size_t)nx, sizeof *got);
  for (int64_t i = 0; i < ny; i++) {
    dy[i] = urand();
  }
  for (int64_t i = 0; i < nx; i++) {
    got[i] = 12345.0f; /* every element must be written */
  }
  cnnrt_f32_resize_grad_ref(p, dy, want);
  const cnnrt_parallel par = {run_reverse, NULL, threads};
  SG_RESIZE_GRAD(p, dy, got, &par);
  const double err = max_rel_err(got, want, nx);
  /* Cubic's negative weights make cancelling sums, where float weights and another order of
   * the additions show more: 2e-6 there, 1e-6 for nearest and linear. */
  const double tol = p->mode == CNNRT_RESIZE_CUBIC ? 2e-6 : 1e-6;
  if (err > sg_worst[p->mode]) {
    sg_worst[p->mode] = err;
  }
  if (!(err <= tol)) {
    fprintf(stderr,
            "resize grad %s: in %lldx%lld out %lldx%lld mode %lld nearest %lld coord %lld "
            "excl %lld sizes %lld: rel err %.3g\n",
            what, (long long)p->in[p->rank - 2], (long long)p->in[p->rank - 1],
            (long long)p->out[p->rank - 2], (long long)p->out[p->rank - 1], (long long)p->mode,
            (long long)p->nearest_mode, (long long)p->coord_mode, (long long)p->exclude_outside,
            (long long)p->from_sizes, err);
  }
  assert_true(err <= tol);
  sg_n_resize++;
  free(dy);
  free(want);
  free(got);
}

static void sg_resize_cases(void) {
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
        /* the two axes take different scales now and then */
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
                sg_params(rank, in + 4 - rank, out + 4 - rank, scale + 4 - rank, from_sizes,
                          mode, nearest_mode, coord, excl);
            if (cnnrt_resize_last2_ok(&p) && cnnrt_resize_grad_nearest2(&p)) {
              sg_n_nearest2++;
            }
            sg_resize_run(&p, 1 + counter % 3, "last2");
            counter++;
          }
        }
      }
    }
  }
  /* Shapes the SIMD plan leaves to the reference: rank 1, a resized leading axis. */
  {
    const int64_t in[3] = {3, 4, 5}, out[3] = {6, 4, 10};
    const float scale[3] = {2.0f, 1.0f, 2.0f};
    for (int mode = 0; mode <= CNNRT_RESIZE_CUBIC; mode++) {
      cnnrt_resize_params p = sg_params(3, in, out, scale, 0, mode, 0, 0, 0);
      assert_false(cnnrt_resize_last2_ok(&p));
      sg_resize_run(&p, 2, "leading axis");
      p = sg_params(1, in + 2, out + 2, scale + 2, 0, mode, 0, 0, 0);
      assert_false(cnnrt_resize_last2_ok(&p));
      sg_resize_run(&p, 2, "rank 1");
      sg_n_fallback += 2;
    }
  }
  /* A large nearest 2x (the U-Net decoder case), odd width. */
  {
    const int64_t in[4] = {2, 3, 17, 37}, out[4] = {2, 3, 34, 74};
    const float scale[4] = {1.0f, 1.0f, 2.0f, 2.0f};
    const cnnrt_resize_params p = sg_params(4, in, out, scale, 0, 0, 0, 0, 0);
    assert_true(cnnrt_resize_grad_nearest2(&p));
    sg_n_nearest2++;
    sg_resize_run(&p, 3, "nearest2");
  }
  printf("resize grad: %d cases (%d nearest 2x fast path, %d reference fallbacks), worst rel err "
         "nearest %.3g, linear %.3g, cubic %.3g\n",
         sg_n_resize, sg_n_nearest2, sg_n_fallback, sg_worst[0], sg_worst[1], sg_worst[2]);
  assert_true(sg_n_nearest2 >= 5);
}

#endif /* CNNCC_TESTS_SCATTER_GRAD_CASES_H */
