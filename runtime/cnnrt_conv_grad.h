/* cnnrt_conv_grad.h — the filter gradient of ONNX Conv (and, with the roles of x and dy
 * swapped, of ConvTranspose), float32.
 *
 * The data gradient needs no kernel of its own: it is a ConvTranspose of dy with the same
 * weights (the autodiff pass builds that node), and a convolution's bias gradient is a ReduceSum.
 *
 *   dW[co, ci, k...] = sum_n sum_o dy[n, co, o...] * x[n, g*ci_per_group + ci, o*s + k*d - pb]
 *
 * p describes the forward convolution (cnnrt_conv_params of x -> dy): c_in = channels of x,
 * c_out = channels of dy, in[] = x's spatial sizes, out[] = dy's. Taps that fall into the padding
 * read zero and contribute nothing. The scalar reference accumulates in double; the AVX2 form
 * (cnnrt_conv_grad_avx2.h) is tested against it. */
#ifndef CNNRT_CONV_GRAD_H
#define CNNRT_CONV_GRAD_H

#include "cnnrt.h"
#include "cnnrt_conv.h"

/* Geometry right-aligned into three slots, as the forward kernels do. */
static inline void cnnrt_conv_grad_geom_(const cnnrt_conv_params *p, int64_t *in, int64_t *out,
                                         int64_t *k, int64_t *s, int64_t *d, int64_t *pb) {
  const int64_t shift = 3 - p->spatial;
  for (int64_t i = 0; i < 3; i++) {
    if (i < shift) {
      in[i] = out[i] = k[i] = s[i] = d[i] = 1;
      pb[i] = 0;
    } else {
      in[i] = p->in[i - shift];
      out[i] = p->out[i - shift];
      k[i] = p->kernel[i - shift];
      s[i] = p->stride[i - shift];
      d[i] = p->dilation[i - shift];
      pb[i] = p->pad_begin[i - shift];
    }
  }
}

/* Range [*lo, *hi) of outputs o in [0, out) whose tap at offset off = k*d - pb reads a real
 * input element: 0 <= o*s + off < in. */
static inline void cnnrt_conv_grad_range_(int64_t off, int64_t s, int64_t in, int64_t out,
                                          int64_t *lo, int64_t *hi) {
  int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t b = in - off > 0 ? (in - off + s - 1) / s : 0;
  if (b > out) {
    b = out;
  }
  *lo = a;
  *hi = b > a ? b : a;
}

/* Filter gradient for output channels [co_begin, co_end): the unit of work for threads. */
static inline void cnnrt_f32_conv_grad_filter_range_ref(const cnnrt_conv_params *p,
                                                        int64_t co_begin, int64_t co_end,
                                                        const float *x, const float *dy,
                                                        float *dw) {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  cnnrt_conv_grad_geom_(p, in, out, k, s, d, pb);
  const int64_t cig = p->c_in / p->group, cog = p->c_out / p->group;
  const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  const int64_t taps = k[0] * k[1] * k[2];
  for (int64_t co = co_begin; co < co_end; co++) {
    const int64_t grp = co / cog;
    for (int64_t ci = 0; ci < cig; ci++) {
      float *dwc = dw + (co * cig + ci) * taps;
      for (int64_t t0 = 0; t0 < k[0]; t0++) {
        int64_t lo0, hi0;
        cnnrt_conv_grad_range_(t0 * d[0] - pb[0], s[0], in[0], out[0], &lo0, &hi0);
        for (int64_t t1 = 0; t1 < k[1]; t1++) {
          int64_t lo1, hi1;
          cnnrt_conv_grad_range_(t1 * d[1] - pb[1], s[1], in[1], out[1], &lo1, &hi1);
          for (int64_t t2 = 0; t2 < k[2]; t2++) {
            const int64_t off2 = t2 * d[2] - pb[2];
            int64_t lo2, hi2;
            cnnrt_conv_grad_range_(off2, s[2], in[2], out[2], &lo2, &hi2);
            double acc = 0.0;
            for (int64_t b = 0; b < p->n; b++) {
              const float *xc = x + (b * p->c_in + grp * cig + ci) * in_plane;
              const float *dyc = dy + (b * p->c_out + co) * out_plane;
              for (int64_t o0 = lo0; o0 < hi0; o0++) {
                const int64_t i0 = o0 * s[0] + t0 * d[0] - pb[0];
                for (int64_t o1 = lo1; o1 < hi1; o1++) {
                  const int64_t i1 = o1 * s[1] + t1 * d[1] - pb[1];
                  const float *xr = xc + (i0 * in[1] + i1) * in[2] + off2;
                  const float *dyr = dyc + (o0 * out[1] + o1) * out[2];
                  float row = 0.0f;
                  for (int64_t o2 = lo2; o2 < hi2; o2++) {
                    row += dyr[o2] * xr[o2 * s[2]];
                  }
                  acc += row;
                }
              }
            }
            dwc[(t0 * k[1] + t1) * k[2] + t2] = (float)acc;
          }
        }
      }
    }
  }
}

static inline void cnnrt_f32_conv_grad_filter_ref(const cnnrt_conv_params *p, const float *x,
                                                  const float *dy, float *dw) {
  cnnrt_f32_conv_grad_filter_range_ref(p, 0, p->c_out, x, dy, dw);
}

/* The entry point generated code calls: output channels split across the threads of `par`
 * (NULL: serial). `scratch` is reserved for the vectorized form. */
typedef struct cnnrt_conv_grad_task {
  const cnnrt_conv_params *p;
  const float *x, *dy;
  float *dw;
  int64_t n_tasks;
} cnnrt_conv_grad_task;

static inline void cnnrt_conv_grad_filter_task_(void *arg, int64_t task) {
  const cnnrt_conv_grad_task *t = (const cnnrt_conv_grad_task *)arg;
  const int64_t c = t->p->c_out;
  cnnrt_f32_conv_grad_filter_range_ref(t->p, c * task / t->n_tasks, c * (task + 1) / t->n_tasks,
                                       t->x, t->dy, t->dw);
}

static inline void cnnrt_f32_conv_grad_filter(const cnnrt_conv_params *p, const float *x,
                                              const float *dy, float *dw, void *scratch,
                                              const cnnrt_parallel *par) {
  cnnrt_conv_grad_task t;
  int64_t threads = par != NULL && par->run != NULL && par->threads > 1 ? par->threads : 1;
  (void)scratch;
  t.p = p;
  t.x = x;
  t.dy = dy;
  t.dw = dw;
  t.n_tasks = threads < p->c_out ? threads : p->c_out;
  cnnrt_parallel_for(par, cnnrt_conv_grad_filter_task_, &t, t.n_tasks);
}

#endif /* CNNRT_CONV_GRAD_H */
