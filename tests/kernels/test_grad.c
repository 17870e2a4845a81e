/* test_grad.c — cmocka tests of the backward kernels (runtime/cnnrt_*_grad.h, and the
 * ConvTranspose the autodiff pass uses as a convolution's data gradient) against central
 * finite differences of the forward kernels.
 *
 * For a forward f and a random upstream gradient dy, L(p) = <dy, f(p)>; the gradient kernel's
 * result for parameter p must match (L(p + h) - L(p - h)) / 2h element by element, within
 * tol * max|gradient|. Linear maps (convolutions, average pooling) make the difference exact up
 * to float rounding; smooth ones (BatchNorm, softmax, activations) have O(h^2) error. Max pooling
 * uses inputs with distinct values spaced wider than 2h so that no perturbation moves an argmax.
 * Geometries: strides, dilations, asymmetric pads, groups, 1x1 images, odd sizes. The
 * activations' forwards are written here from their definitions (an independent reference). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../runtime/cnnrt_act_grad.h"
#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_conv_grad.h"
#include "../../runtime/cnnrt_norm.h"
#include "../../runtime/cnnrt_norm_grad.h"
#include "../../runtime/cnnrt_pool.h"
#include "../../runtime/cnnrt_pool_grad.h"
#include "../../runtime/cnnrt_resize.h"
#include "../../runtime/cnnrt_resize_grad.h"
#include "../../runtime/cnnrt_tensor.h"

static uint64_t rng_state = 88172645463325252ull;
static float urand(void) { /* [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}
static void fill(float *p, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    p[i] = urand();
  }
}

/* The function whose gradient is checked: L of the current parameters. */
typedef double (*loss_fn)(void *ctx);

/* Checks grad[i] against the central difference of L in param[i], for every i. */
static void check_fd(const char *what, loss_fn L, void *ctx, float *param, const float *grad,
                     int64_t n, float h, double tol) {
  double gmax = 1e-6, worst = 0.0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < n; i++) {
    gmax = fmax(gmax, fabs(grad[i]));
  }
  for (int64_t i = 0; i < n; i++) {
    const float p0 = param[i];
    param[i] = p0 + h;
    const double lp = L(ctx);
    param[i] = p0 - h;
    const double lm = L(ctx);
    param[i] = p0;
    const double fd = (lp - lm) / (2.0 * (double)h);
    const double err = fabs(fd - grad[i]);
    if (err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  if (worst > tol * gmax) {
    fprintf(stderr, "%s: element %lld: |fd - grad| = %g > %g * max|grad| (%g)\n", what,
            (long long)worst_i, worst, tol, gmax);
  }
  assert_true(worst <= tol * gmax);
}

static double dot(const float *a, const float *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    s += (double)a[i] * b[i];
  }
  return s;
}

/* ---- convolution: filter gradient, and the data gradient as a ConvTranspose ---- */

typedef struct conv_ctx {
  cnnrt_conv_params p;
  float *x, *w, *y, *dy;
  int64_t ny;
} conv_ctx;

static double conv_loss(void *c) {
  conv_ctx *k = c;
  cnnrt_f32_conv_ref(&k->p, k->x, k->w, NULL, NULL, k->y);
  return dot(k->y, k->dy, k->ny);
}

/* The params of the ConvTranspose that computes dx from dy (as autodiff.c builds it). */
static cnnrt_conv_params data_grad_params(const cnnrt_conv_params *p) {
  cnnrt_conv_params q = *p;
  q.c_in = p->c_out;
  q.c_out = p->c_in;
  for (int i = 0; i < 3; i++) {
    q.in[i] = p->out[i];
    q.out[i] = p->in[i];
  }
  return q;
}

static void conv_case(int sp, int64_t n, int64_t ci, int64_t co, int64_t group, int64_t in,
                      int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  conv_ctx c;
  memset(&c, 0, sizeof c);
  cnnrt_conv_params *p = &c.p;
  p->spatial = sp;
  p->n = n;
  p->c_in = ci;
  p->c_out = co;
  p->group = group;
  int64_t in_vol = 1, out_vol = 1, k_vol = 1;
  for (int i = 0; i < 3; i++) {
    p->in[i] = p->out[i] = p->kernel[i] = p->stride[i] = p->dilation[i] = 1;
    if (i < sp) {
      int64_t in_i = in + i; /* non-square */
      p->in[i] = in_i;
      p->kernel[i] = k;
      p->stride[i] = s;
      p->dilation[i] = d;
      p->pad_begin[i] = pb;
      p->out[i] = cnnrt_conv_floor_div(in_i + pb + pe - ((k - 1) * d + 1), s) + 1;
    }
    in_vol *= p->in[i];
    out_vol *= p->out[i];
    k_vol *= p->kernel[i];
  }
  assert_true(p->out[0] >= 1 && p->out[1] >= 1 && p->out[2] >= 1);
  int64_t nx = n * ci * in_vol, nw = co * (ci / group) * k_vol;
  c.ny = n * co * out_vol;
  c.x = malloc(sizeof(float) * (size_t)nx);
  c.w = malloc(sizeof(float) * (size_t)nw);
  c.y = malloc(sizeof(float) * (size_t)c.ny);
  c.dy = malloc(sizeof(float) * (size_t)c.ny);
  float *dw = malloc(sizeof(float) * (size_t)nw), *dx = malloc(sizeof(float) * (size_t)nx);
  fill(c.x, nx);
  fill(c.w, nw);
  fill(c.dy, c.ny);
  cnnrt_f32_conv_grad_filter_ref(p, c.x, c.dy, dw);
  check_fd("conv filter grad", conv_loss, &c, c.w, dw, nw, 0.05f, 1e-4);
  cnnrt_f32_conv_grad_filter(p, c.x, c.dy, dw, NULL, NULL); /* the entry point: same result */
  check_fd("conv filter grad (entry)", conv_loss, &c, c.w, dw, nw, 0.05f, 1e-4);
  cnnrt_conv_params q = data_grad_params(p);
  cnnrt_f32_conv_transpose_ref(&q, c.dy, c.w, NULL, dx);
  check_fd("conv data grad", conv_loss, &c, c.x, dx, nx, 0.05f, 1e-4);
  free(c.x);
  free(c.w);
  free(c.y);
  free(c.dy);
  free(dw);
  free(dx);
}

static void test_conv_grads(void **state) {
  (void)state;
  conv_case(2, 2, 3, 4, 1, 5, 3, 1, 1, 1, 1);
  conv_case(2, 1, 3, 2, 1, 7, 3, 2, 1, 1, 0);  /* stride 2, asymmetric pads */
  conv_case(2, 1, 2, 3, 1, 8, 2, 2, 1, 0, 0);  /* stride drops the last rows on odd sizes */
  conv_case(2, 1, 4, 6, 2, 6, 3, 1, 2, 2, 1);  /* groups, dilation */
  conv_case(2, 2, 5, 5, 5, 5, 3, 2, 1, 1, 1);  /* depthwise */
  conv_case(2, 1, 3, 4, 1, 1, 1, 1, 1, 0, 0);  /* 1x1 image, pointwise */
  conv_case(2, 1, 2, 3, 1, 1, 3, 1, 1, 1, 1);  /* 1x1 image, 3x3 kernel: only the centre tap */
  conv_case(1, 2, 3, 2, 1, 9, 4, 3, 1, 2, 1);  /* 1-D */
  conv_case(3, 1, 2, 2, 1, 3, 2, 1, 1, 1, 0);  /* 3-D */
}

/* ---- pooling ---- */

typedef struct pool_ctx {
  cnnrt_pool_params p;
  float *x, *y, *dy;
  int64_t ny;
  int max;
} pool_ctx;

static double pool_loss(void *c) {
  pool_ctx *k = c;
  if (k->max) {
    cnnrt_f32_maxpool_ref(&k->p, k->x, k->y, NULL);
  } else {
    cnnrt_f32_avgpool_ref(&k->p, k->x, k->y);
  }
  return dot(k->y, k->dy, k->ny);
}

static void pool_case(int max, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb,
                      int64_t pe, int64_t cip) {
  pool_ctx c;
  memset(&c, 0, sizeof c);
  cnnrt_pool_params *p = &c.p;
  p->spatial = 2;
  p->n = 2;
  p->c = 3;
  p->count_include_pad = cip;
  for (int i = 0; i < 3; i++) {
    p->in[i] = p->out[i] = p->kernel[i] = p->stride[i] = p->dilation[i] = 1;
    if (i < 2) {
      p->in[i] = in + i;
      p->kernel[i] = k;
      p->stride[i] = s;
      p->dilation[i] = d;
      p->pad_begin[i] = pb;
      p->pad_end[i] = pe;
      p->out[i] = cnnrt_pool_out_dim(p->in[i], k, s, d, pb, pe, 0);
    }
  }
  int64_t nx = p->n * p->c * p->in[0] * p->in[1];
  c.ny = p->n * p->c * p->out[0] * p->out[1];
  c.max = max;
  c.x = malloc(sizeof(float) * (size_t)nx);
  c.y = malloc(sizeof(float) * (size_t)c.ny);
  c.dy = malloc(sizeof(float) * (size_t)c.ny);
  float *dx = malloc(sizeof(float) * (size_t)nx);
  /* distinct values 0.01 apart, shuffled */
  for (int64_t i = 0; i < nx; i++) {
    c.x[i] = 0.01f * (float)i - 0.005f * (float)nx;
  }
  for (int64_t i = nx - 1; i > 0; i--) {
    int64_t j = (int64_t)((urand() + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
    float t = c.x[i];
    c.x[i] = c.x[j];
    c.x[j] = t;
  }
  fill(c.dy, c.ny);
  if (max) {
    cnnrt_f32_maxpool_grad_ref(p, c.x, c.dy, dx);
  } else {
    cnnrt_f32_avgpool_grad_ref(p, c.dy, dx);
  }
  check_fd(max ? "maxpool grad" : "avgpool grad", pool_loss, &c, c.x, dx, nx, 1e-3f, 2e-3);
  free(c.x);
  free(c.y);
  free(c.dy);
  free(dx);
}

static void test_pool_grads(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++) {
    pool_case(max, 6, 3, 2, 1, 1, 1, 0);
    pool_case(max, 7, 2, 2, 1, 0, 1, 1); /* a window in the end padding half */
    pool_case(max, 5, 3, 1, 2, 2, 2, 0); /* dilation */
    pool_case(max, 5, 3, 1, 2, 2, 2, 1);
    pool_case(max, 1, 1, 1, 1, 0, 0, 0); /* 1x1 */
  }
}

static double gmax_loss_x(void *c) {
  pool_ctx *k = c;
  cnnrt_f32_global_maxpool_ref(k->p.n * k->p.c, k->p.in[0], k->x, k->y);
  return dot(k->y, k->dy, k->ny);
}

static void test_global_maxpool_grad(void **state) {
  (void)state;
  pool_ctx c;
  memset(&c, 0, sizeof c);
  c.p.n = 2;
  c.p.c = 3;
  c.p.in[0] = 10;
  c.ny = 6;
  float x[60], y[6], dy[6], dx[60];
  for (int i = 0; i < 60; i++) {
    x[i] = 0.01f * (float)((i * 37) % 60);
  }
  fill(dy, 6);
  c.x = x;
  c.y = y;
  c.dy = dy;
  cnnrt_f32_global_maxpool_grad_ref(6, 10, x, dy, dx);
  check_fd("global maxpool grad", gmax_loss_x, &c, x, dx, 60, 1e-3f, 2e-3);
}

/* ---- BatchNormalization ---- */

typedef struct bn_ctx {
  int64_t n, c, s;
  float *x, *scale, *bias, *mean, *var, *y, *dy;
  int train;
} bn_ctx;

static double bn_loss(void *v) {
  bn_ctx *k = v;
  if (k->train) {
    cnnrt_f32_batchnorm_train_ref(k->n, k->c, k->s, 1e-5f, 0.9f, k->x, k->scale, k->bias,
                                  k->mean, k->var, k->y, NULL, NULL);
  } else {
    cnnrt_f32_batchnorm_ref(k->n, k->c, k->s, 1e-5f, k->x, k->scale, k->bias, k->mean, k->var,
                            k->y);
  }
  return dot(k->y, k->dy, k->n * k->c * k->s);
}

static void bn_case(int train, int64_t n, int64_t c, int64_t s) {
  bn_ctx k = {n, c, s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, train};
  int64_t total = n * c * s;
  k.x = malloc(sizeof(float) * (size_t)total);
  k.y = malloc(sizeof(float) * (size_t)total);
  k.dy = malloc(sizeof(float) * (size_t)total);
  float *dx = malloc(sizeof(float) * (size_t)total);
  float par[4][16], grads[4][16];
  k.scale = par[0];
  k.bias = par[1];
  k.mean = par[2];
  k.var = par[3];
  fill(k.x, total);
  fill(k.dy, total);
  for (int64_t i = 0; i < c; i++) {
    par[0][i] = 1.0f + 0.5f * urand();
    par[1][i] = 0.3f * urand();
    par[2][i] = 0.3f * urand();
    par[3][i] = 1.0f + 0.5f * urand();
  }
  if (train) {
    cnnrt_f32_batchnorm_train_grad(n, c, s, 1e-5f, k.x, k.scale, k.dy, dx, grads[0], grads[1]);
    check_fd("bn train dx", bn_loss, &k, k.x, dx, total, 1e-2f, 5e-3);
  } else {
    cnnrt_f32_batchnorm_grad(n, c, s, 1e-5f, k.x, k.scale, k.mean, k.var, k.dy, dx, grads[0],
                             grads[1], grads[2], grads[3]);
    check_fd("bn dx", bn_loss, &k, k.x, dx, total, 1e-2f, 1e-3);
    check_fd("bn dmean", bn_loss, &k, k.mean, grads[2], c, 1e-2f, 1e-3);
    check_fd("bn dvar", bn_loss, &k, k.var, grads[3], c, 1e-2f, 2e-3);
  }
  check_fd("bn dscale", bn_loss, &k, k.scale, grads[0], c, 1e-2f, 1e-3);
  check_fd("bn dbias", bn_loss, &k, k.bias, grads[1], c, 1e-2f, 1e-3);
  free(k.x);
  free(k.y);
  free(k.dy);
  free(dx);
}

static void test_batchnorm_grads(void **state) {
  (void)state;
  bn_case(0, 2, 3, 7);
  bn_case(1, 2, 3, 7);
  bn_case(1, 4, 5, 1); /* 1x1 spatial: statistics over the batch only */
  bn_case(0, 1, 16, 9);
}

/* ---- softmax ---- */

typedef struct sm_ctx {
  int64_t outer, len, inner;
  int log;
  float *x, *y, *dy;
} sm_ctx;

static double sm_loss(void *v) {
  sm_ctx *k = v;
  if (k->log) {
    cnnrt_f32_logsoftmax_ref(k->outer, k->len, k->inner, k->x, k->y);
  } else {
    cnnrt_f32_softmax_ref(k->outer, k->len, k->inner, k->x, k->y);
  }
  return dot(k->y, k->dy, k->outer * k->len * k->inner);
}

static void test_softmax_grads(void **state) {
  (void)state;
  for (int log = 0; log < 2; log++) {
    for (int inner = 1; inner <= 3; inner += 2) {
      sm_ctx k = {2, 5, inner, log, NULL, NULL, NULL};
      float x[30], y[30], dy[30], dx[30];
      int64_t n = 2 * 5 * inner;
      fill(x, n);
      fill(dy, n);
      k.x = x;
      k.y = y;
      k.dy = dy;
      sm_loss(&k);
      if (log) {
        cnnrt_f32_logsoftmax_grad_ref(2, 5, inner, y, dy, dx);
      } else {
        cnnrt_f32_softmax_grad_ref(2, 5, inner, y, dy, dx);
      }
      check_fd(log ? "logsoftmax grad" : "softmax grad", sm_loss, &k, x, dx, n, 1e-2f, 1e-3);
    }
  }
}

/* ---- activations: forwards written from their definitions ---- */

static float act_forward(int kind, float a, float b, float x) {
  switch (kind) {
  case CNNRT_GRAD_RELU: return x > 0 ? x : 0;
  case CNNRT_GRAD_LEAKY_RELU: return x > 0 ? x : a * x;
  case CNNRT_GRAD_ELU: return x > 0 ? x : a * (expf(x) - 1);
  case CNNRT_GRAD_SELU: return x > 0 ? b * x : b * a * (expf(x) - 1);
  case CNNRT_GRAD_CELU: return fmaxf(0, x) + fminf(0, a * (expf(x / a) - 1));
  case CNNRT_GRAD_SIGMOID: return 1 / (1 + expf(-x));
  case CNNRT_GRAD_HARD_SIGMOID: return fmaxf(0, fminf(1, a * x + b));
  case CNNRT_GRAD_HARD_SWISH: return x * fmaxf(0, fminf(1, x / 6 + 0.5f));
  case CNNRT_GRAD_TANH: return tanhf(x);
  case CNNRT_GRAD_SOFTPLUS: return log1pf(expf(x));
  case CNNRT_GRAD_SOFTSIGN: return x / (1 + fabsf(x));
  case CNNRT_GRAD_ERF: return erff(x);
  case CNNRT_GRAD_MISH: return x * tanhf(log1pf(expf(x)));
  case CNNRT_GRAD_THRESHOLDED_RELU: return x > a ? x : 0;
  case CNNRT_GRAD_CLIP: return fmaxf(a, fminf(b, x));
  case CNNRT_GRAD_SQRT: return sqrtf(x);
  case CNNRT_GRAD_RECIPROCAL: return 1 / x;
  case CNNRT_GRAD_EXP: return expf(x);
  case CNNRT_GRAD_LOG: return logf(x);
  case CNNRT_GRAD_ABS: return fabsf(x);
  default: return 0;
  }
}

typedef struct act_ctx {
  int kind;
  float a, b;
  float *x, *dy;
  int64_t n;
} act_ctx;

static double act_loss(void *v) {
  act_ctx *k = v;
  double s = 0;
  for (int64_t i = 0; i < k->n; i++) {
    s += (double)k->dy[i] * act_forward(k->kind, k->a, k->b, k->x[i]);
  }
  return s;
}

static void test_act_grads(void **state) {
  (void)state;
  enum { N = 64 };
  for (int kind = 0; kind < CNNRT_GRAD_COUNT; kind++) {
    float x[N], y[N], dy[N], dx[N];
    float a = 0.3f, b = 0.6f;
    if (kind == CNNRT_GRAD_HARD_SIGMOID) {
      a = 0.2f;
      b = 0.5f;
    } else if (kind == CNNRT_GRAD_SELU) {
      a = 1.6732632f;
      b = 1.0507009f;
    } else if (kind == CNNRT_GRAD_CLIP) {
      a = -0.5f;
      b = 0.4f;
    }
    for (int i = 0; i < N; i++) {
      x[i] = 4.0f * urand();
      /* keep 0.01 away from the kinks, where a finite difference straddles two slopes */
      const float kinks[] = {0.0f, a, b, -3.0f, 3.0f, -2.5f, 2.5f};
      for (size_t q = 0; q < sizeof kinks / sizeof kinks[0]; q++) {
        if (fabsf(x[i] - kinks[q]) < 0.01f) {
          x[i] = kinks[q] + 0.02f;
        }
      }
      if (kind >= CNNRT_GRAD_SQRT && kind <= CNNRT_GRAD_LOG && kind != CNNRT_GRAD_EXP) {
        x[i] = fabsf(x[i]) + 0.5f; /* positive domain */
      }
      y[i] = act_forward(kind, a, b, x[i]);
    }
    fill(dy, N);
    cnnrt_f32_act_grad(kind, a, b, N, cnnrt_act_grad_uses_y(kind) ? y : x, dy, dx);
    act_ctx k = {kind, a, b, x, dy, N};
    char what[40];
    snprintf(what, sizeof what, "act grad kind %d", kind);
    check_fd(what, act_loss, &k, x, dx, N, 2e-3f, 5e-3);
  }
}

/* ---- InstanceNorm, LayerNorm ---- */

typedef struct ln_ctx {
  int64_t a, b, c; /* instance: n, c, spatial; layer: outer, inner, - */
  int layer;
  float *x, *scale, *bias, *y, *dy;
} ln_ctx;

static double ln_loss(void *v) {
  ln_ctx *k = v;
  if (k->layer) {
    cnnrt_f32_layernorm_ref(k->a, k->b, 1e-5f, k->x, k->scale, k->bias, k->y, NULL, NULL);
    return dot(k->y, k->dy, k->a * k->b);
  }
  cnnrt_f32_instancenorm_ref(k->a, k->b, k->c, 1e-5f, k->x, k->scale, k->bias, k->y);
  return dot(k->y, k->dy, k->a * k->b * k->c);
}

static void test_instance_layer_norm_grads(void **state) {
  (void)state;
  for (int layer = 0; layer < 2; layer++) {
    ln_ctx k = {layer ? 6 : 2, layer ? 10 : 3, layer ? 1 : 10, layer, NULL, NULL, NULL, NULL, NULL};
    float x[60], y[60], dy[60], dx[60], scale[10], bias[10], ds[10], db[10];
    int64_t np = layer ? 10 : 3;
    fill(x, 60);
    fill(dy, 60);
    for (int64_t i = 0; i < np; i++) {
      scale[i] = 1.0f + 0.5f * urand();
      bias[i] = 0.3f * urand();
    }
    k.x = x;
    k.y = y;
    k.dy = dy;
    k.scale = scale;
    k.bias = bias;
    if (layer) {
      cnnrt_f32_layernorm_grad_ref(6, 10, 1e-5f, x, scale, dy, dx, ds, db);
    } else {
      cnnrt_f32_instancenorm_grad_ref(2, 3, 10, 1e-5f, x, scale, dy, dx, ds, db);
    }
    check_fd(layer ? "layernorm dx" : "instancenorm dx", ln_loss, &k, x, dx, 60, 1e-2f, 5e-3);
    check_fd(layer ? "layernorm dscale" : "instancenorm dscale", ln_loss, &k, scale, ds, np, 1e-2f,
             1e-3);
    check_fd(layer ? "layernorm dbias" : "instancenorm dbias", ln_loss, &k, bias, db, np, 1e-2f,
             1e-3);
  }
}

/* ---- Resize (linear in x: the difference is exact up to rounding) ---- */

typedef struct rs_ctx {
  cnnrt_resize_params p;
  float *x, *y, *dy;
  int64_t ny;
} rs_ctx;

static double rs_loss(void *v) {
  rs_ctx *k = v;
  cnnrt_f32_resize_ref(&k->p, k->x, k->y);
  return dot(k->y, k->dy, k->ny);
}

static void test_resize_grad(void **state) {
  (void)state;
  for (int mode = 0; mode < 3; mode++) {
    for (int coord = 0; coord < 5; coord += 2) { /* half_pixel, pytorch_half_pixel, align_corners */
      rs_ctx k;
      memset(&k, 0, sizeof k);
      k.p.rank = 4;
      const int64_t in[4] = {1, 2, 3, 5}, out[4] = {1, 2, 7, 8};
      for (int d = 0; d < CNNRT_MAX_RANK; d++) {
        k.p.in[d] = d < 4 ? in[d] : 1;
        k.p.out[d] = d < 4 ? out[d] : 1;
        k.p.scale[d] = (float)k.p.out[d] / (float)k.p.in[d];
        k.p.roi_start[d] = 0.0f;
        k.p.roi_end[d] = 1.0f;
      }
      k.p.mode = mode;
      k.p.coord_mode = coord;
      k.p.nearest_mode = 0;
      k.p.cubic_a = -0.75f;
      k.p.from_sizes = 1;
      float x[30], y[112], dy[112], dx[30];
      k.ny = 112;
      fill(x, 30);
      fill(dy, 112);
      k.x = x;
      k.y = y;
      k.dy = dy;
      cnnrt_f32_resize_grad_ref(&k.p, dy, dx);
      check_fd("resize grad", rs_loss, &k, x, dx, 30, 0.05f, 1e-4);
    }
  }
}

/* ---- Gather (linear in x; the gradient is a scatter-add: repeated and negative indices) ---- */

typedef struct ga_ctx {
  int64_t outer, axis_len, inner, n_idx, idx_size;
  const void *idx;
  float *x, *y, *dy;
} ga_ctx;

static double ga_loss(void *v) {
  ga_ctx *k = v;
  cnnrt_gather(k->outer, k->axis_len, k->inner * 4, k->idx, k->n_idx, k->idx_size, k->x, k->y);
  return dot(k->y, k->dy, k->outer * k->n_idx * k->inner);
}

static void test_gather_grad(void **state) {
  (void)state;
  const int64_t idx64[6] = {2, 0, -1, 2, 3, -4}; /* 2 three times (3 = -1 of 4), 0 twice */
  const int32_t idx32[6] = {1, 1, -3, 0, 1, 2};  /* 1 four times with -3 of 4 */
  const int64_t shapes[3][3] = {{1, 4, 5}, {3, 4, 2}, {6, 4, 1}}; /* axis 0, middle, last */
  for (int s = 0; s < 3; s++) {
    for (int w = 0; w < 2; w++) {
      ga_ctx k;
      k.outer = shapes[s][0];
      k.axis_len = shapes[s][1];
      k.inner = shapes[s][2];
      k.n_idx = 6;
      k.idx_size = w ? 4 : 8;
      k.idx = w ? (const void *)idx32 : (const void *)idx64;
      const int64_t nx = k.outer * k.axis_len * k.inner, ny = k.outer * k.n_idx * k.inner;
      float x[24], y[36], dy[36], dx[24];
      fill(x, nx);
      fill(dy, ny);
      k.x = x;
      k.y = y;
      k.dy = dy;
      for (int64_t i = 0; i < nx; i++) {
        dx[i] = 99.0f; /* must be overwritten */
      }
      cnnrt_f32_gather_grad_ref(k.outer, k.axis_len, k.inner, k.idx, k.n_idx, k.idx_size, dy, dx);
      check_fd("gather grad", ga_loss, &k, x, dx, nx, 0.05f, 1e-4);
      /* index 3 of axis (never gathered with int32 indices) gets exactly zero */
      for (int64_t o = 0; w && o < k.outer; o++) {
        for (int64_t i = 0; i < k.inner; i++) {
          assert_true(dx[(o * k.axis_len + 3) * k.inner + i] == 0.0f);
        }
      }
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_grads),       cmocka_unit_test(test_pool_grads),
      cmocka_unit_test(test_global_maxpool_grad), cmocka_unit_test(test_batchnorm_grads),
      cmocka_unit_test(test_softmax_grads),    cmocka_unit_test(test_act_grads),
      cmocka_unit_test(test_instance_layer_norm_grads), cmocka_unit_test(test_resize_grad),
      cmocka_unit_test(test_gather_grad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
