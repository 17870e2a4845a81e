/* cnnrt_pool_grad.h — gradients of MaxPool and AveragePool (float32, scalar references).
 *
 * Same resolved geometry as the forward kernels (cnnrt_pool_params, cnnrt_pool.h). MaxPool routes
 * each dy to the first maximum of its window (the tap order and the strict comparison of the
 * forward kernel and of PyTorch); AveragePool spreads dy / count over the real taps of the window,
 * count being what the forward divided by (count_include_pad or not). dx is overwritten. */
#ifndef CNNRT_POOL_GRAD_H
#define CNNRT_POOL_GRAD_H

#include <string.h>

#include "cnnrt.h"
#include "cnnrt_pool.h"

static inline void cnnrt_f32_maxpool_grad_range_ref(const cnnrt_pool_params *p, int64_t nc0,
                                                    int64_t nc1, const float *x, const float *dy,
                                                    float *dx) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  const int64_t in1 = g.in[1], in2 = g.in[2];
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *xc = x + nc * g.in_size;
    const float *dyc = dy + nc * g.out_size;
    float *dxc = dx + nc * g.in_size;
    memset(dxc, 0, sizeof(float) * (size_t)g.in_size);
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      int64_t st0 = o0 * g.s[0] - g.pb[0], a0, b0;
      cnnrt_pool_taps(st0, g.k[0], g.d[0], 0, g.in[0], &a0, &b0);
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        int64_t st1 = o1 * g.s[1] - g.pb[1], a1, b1;
        cnnrt_pool_taps(st1, g.k[1], g.d[1], 0, in1, &a1, &b1);
        for (int64_t o2 = 0; o2 < g.out[2]; o2++) {
          int64_t st2 = o2 * g.s[2] - g.pb[2], a2, b2;
          cnnrt_pool_taps(st2, g.k[2], g.d[2], 0, in2, &a2, &b2);
          float best = -INFINITY;
          int64_t bi = -1;
          for (int64_t j0 = a0; j0 < b0; j0++) {
            int64_t i0 = st0 + j0 * g.d[0];
            for (int64_t j1 = a1; j1 < b1; j1++) {
              int64_t i1 = st1 + j1 * g.d[1];
              const int64_t row = (i0 * in1 + i1) * in2;
              for (int64_t j2 = a2; j2 < b2; j2++) {
                int64_t i = row + st2 + j2 * g.d[2];
                if (bi < 0 || xc[i] > best || xc[i] != xc[i]) {
                  best = xc[i];
                  bi = i;
                  if (best != best) { /* NaN wins, as in PyTorch */
                    j0 = b0;
                    j1 = b1;
                    break;
                  }
                }
              }
            }
          }
          if (bi >= 0) {
            dxc[bi] += dyc[(o0 * g.out[1] + o1) * g.out[2] + o2];
          }
        }
      }
    }
  }
}

static inline void cnnrt_f32_maxpool_grad_ref(const cnnrt_pool_params *p, const float *x,
                                              const float *dy, float *dx) {
  cnnrt_f32_maxpool_grad_range_ref(p, 0, p->n * p->c, x, dy, dx);
}

static inline void cnnrt_f32_avgpool_grad_range_ref(const cnnrt_pool_params *p, int64_t nc0,
                                                    int64_t nc1, const float *dy, float *dx) {
  cnnrt_pool_geom g;
  cnnrt_pool_geom_init(p, &g);
  int64_t lo[3], hi[3];
  for (int64_t i = 0; i < 3; i++) {
    lo[i] = p->count_include_pad ? -g.pb[i] : 0;
    hi[i] = p->count_include_pad ? g.in[i] + g.pe[i] : g.in[i];
  }
  const int64_t in1 = g.in[1], in2 = g.in[2];
  for (int64_t nc = nc0; nc < nc1; nc++) {
    const float *dyc = dy + nc * g.out_size;
    float *dxc = dx + nc * g.in_size;
    memset(dxc, 0, sizeof(float) * (size_t)g.in_size);
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      int64_t st0 = o0 * g.s[0] - g.pb[0], a0, b0, c0a, c0b;
      cnnrt_pool_taps(st0, g.k[0], g.d[0], 0, g.in[0], &a0, &b0);
      cnnrt_pool_taps(st0, g.k[0], g.d[0], lo[0], hi[0], &c0a, &c0b);
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        int64_t st1 = o1 * g.s[1] - g.pb[1], a1, b1, c1a, c1b;
        cnnrt_pool_taps(st1, g.k[1], g.d[1], 0, in1, &a1, &b1);
        cnnrt_pool_taps(st1, g.k[1], g.d[1], lo[1], hi[1], &c1a, &c1b);
        for (int64_t o2 = 0; o2 < g.out[2]; o2++) {
          int64_t st2 = o2 * g.s[2] - g.pb[2], a2, b2, c2a, c2b;
          cnnrt_pool_taps(st2, g.k[2], g.d[2], 0, in2, &a2, &b2);
          cnnrt_pool_taps(st2, g.k[2], g.d[2], lo[2], hi[2], &c2a, &c2b);
          const int64_t count = (c0b - c0a) * (c1b - c1a) * (c2b - c2a);
          if (count <= 0) {
            continue;
          }
          const float share = dyc[(o0 * g.out[1] + o1) * g.out[2] + o2] / (float)count;
          for (int64_t j0 = a0; j0 < b0; j0++) {
            int64_t i0 = st0 + j0 * g.d[0];
            for (int64_t j1 = a1; j1 < b1; j1++) {
              int64_t i1 = st1 + j1 * g.d[1];
              float *row = dxc + (i0 * in1 + i1) * in2 + st2;
              for (int64_t j2 = a2; j2 < b2; j2++) {
                row[j2 * g.d[2]] += share;
              }
            }
          }
        }
      }
    }
  }
}

static inline void cnnrt_f32_avgpool_grad_ref(const cnnrt_pool_params *p, const float *dy,
                                              float *dx) {
  cnnrt_f32_avgpool_grad_range_ref(p, 0, p->n * p->c, dy, dx);
}

/* GlobalMaxPool: dy of each plane goes to the plane's first maximum. */
static inline void cnnrt_f32_global_maxpool_grad_ref(int64_t n_c, int64_t spatial, const float *x,
                                                     const float *dy, float *dx) {
  for (int64_t nc = 0; nc < n_c; nc++) {
    const float *xc = x + nc * spatial;
    float *dxc = dx + nc * spatial;
    int64_t bi = 0;
    for (int64_t i = 0; i < spatial; i++) {
      dxc[i] = 0.0f;
      if (xc[i] > xc[bi] || (xc[i] != xc[i] && xc[bi] == xc[bi])) {
        bi = i;
      }
    }
    if (spatial > 0) {
      dxc[bi] = dy[nc];
    }
  }
}

#endif /* CNNRT_POOL_GRAD_H */
