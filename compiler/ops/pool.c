/* pool.c — MaxPool (with Indices), AveragePool, LpPool and the global pools, 1-D to 3-D
 * (runtime/cnnrt_pool.h). Resolves auto_pad and ceil_mode into explicit output sizes and pads. */
#include <stdio.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_pool.h"
#include "../ops.h"

static bool ints_attr(cn_diag *d, const cn_node *n, const char *name, int count, int64_t def,
                      int64_t *out) {
  const int64_t *v;
  int k = cn_attr_ints(n, name, &v);
  if (k < 0) {
    for (int i = 0; i < count; i++) {
      out[i] = def;
    }
    return true;
  }
  if (k != count) {
    cn_error_node(d, n, "attribute '%s' has %d values; %d expected", name, k, count);
    return false;
  }
  memcpy(out, v, sizeof(int64_t) * (size_t)count);
  return true;
}

static bool is_global(cn_op op) {
  return op == CN_OP_GLOBAL_AVERAGE_POOL || op == CN_OP_GLOBAL_MAX_POOL ||
         op == CN_OP_GLOBAL_LP_POOL;
}

bool cn_infer_pool(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 1, 1, 1, n->op == CN_OP_MAX_POOL ? 2 : 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0);
  char s1[160];
  /* Max pooling of 8-bit and half-precision data runs in float32, which holds them exactly. */
  bool max_pool = n->op == CN_OP_MAX_POOL || n->op == CN_OP_GLOBAL_MAX_POOL;
  bool via_f32 = max_pool && (x->dtype == CNNRT_U8 || x->dtype == CNNRT_I8 ||
                              x->dtype == CNNRT_F16 || x->dtype == CNNRT_BF16);
  if (x->dtype != CNNRT_F32 && !via_f32) {
    cn_error_node(d, n, "%s inputs are not supported", cn_dtype_name(x->dtype));
    return false;
  }
  if (x->rank < 3 || x->rank > 5) {
    cn_error_node(d, n, "expects a 3-D to 5-D input (N, C, spatial...), got %s",
                  cn_shape_str(x->rank, x->dims, s1, sizeof s1));
    return false;
  }
  int sp = x->rank - 2;
  cnnrt_pool_params *p = cn_node_params(n, sizeof *p);
  p->spatial = sp;
  p->n = x->dims[0];
  p->c = x->dims[1];
  p->p = (float)cn_attr_int(n, "p", 2);
  if (cn_attr_find(n, "p") && cn_attr_find(n, "p")->type == CN_ATTR_FLOAT) {
    p->p = cn_attr_float(n, "p", 2.0f); /* LpPool-1 had a float p */
  }
  for (int i = 0; i < 3; i++) {
    p->in[i] = p->out[i] = p->kernel[i] = p->stride[i] = p->dilation[i] = 1;
  }
  int64_t ydims[5] = {x->dims[0], x->dims[1], 1, 1, 1};
  if (is_global(n->op)) {
    for (int i = 0; i < sp; i++) {
      p->in[i] = p->kernel[i] = x->dims[2 + i];
    }
    n->scratch_bytes = via_f32 ? (cn_value_numel(x) + cn_numel(x->rank, ydims)) * 4 : 0;
    return cn_set_output(d, g, n, 0, x->dtype, x->rank, ydims);
  }
  const int64_t *ks;
  int nk = cn_attr_ints(n, "kernel_shape", &ks);
  if (nk != sp) {
    cn_error_node(d, n, "kernel_shape must have %d values (one per spatial axis)", sp);
    return false;
  }
  int64_t stride[3], dil[3], pads[6];
  if (!ints_attr(d, n, "strides", sp, 1, stride) || !ints_attr(d, n, "dilations", sp, 1, dil) ||
      !ints_attr(d, n, "pads", 2 * sp, 0, pads)) {
    return false;
  }
  const char *auto_pad = cn_attr_string(n, "auto_pad", "NOTSET");
  int64_t ceil_mode = cn_attr_int(n, "ceil_mode", 0);
  p->count_include_pad = cn_attr_int(n, "count_include_pad", 0);
  p->storage_order = cn_attr_int(n, "storage_order", 0);
  for (int i = 0; i < sp; i++) {
    if (ks[i] < 1 || stride[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[sp + i] < 0) {
      cn_error_node(d, n, "kernel sizes, strides and dilations must be positive and pads "
                          "non-negative");
      return false;
    }
    /* The output size arithmetic (runtime/cnnrt_pool.h) must not overflow. */
    int64_t span;
    if (stride[i] > CN_MAX_ELEMENTS || pads[i] > CN_MAX_ELEMENTS ||
        pads[sp + i] > CN_MAX_ELEMENTS ||
        !cn_mul_checked(ks[i] - 1, dil[i], CN_MAX_ELEMENTS, &span)) {
      cn_error_node(d, n, "kernel size, stride, dilation or pads of spatial axis %d are too large",
                    i);
      return false;
    }
    int64_t in = x->dims[2 + i], pb = pads[i], pe = pads[sp + i], out;
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
      out = cnnrt_pool_same_pads(in, ks[i], stride[i], dil[i],
                                 strcmp(auto_pad, "SAME_LOWER") == 0, &pb, &pe);
    } else if (strcmp(auto_pad, "VALID") == 0) {
      pb = pe = 0;
      out = cnnrt_pool_out_dim(in, ks[i], stride[i], dil[i], 0, 0, ceil_mode);
    } else if (strcmp(auto_pad, "NOTSET") == 0) {
      out = cnnrt_pool_out_dim(in, ks[i], stride[i], dil[i], pb, pe, ceil_mode);
    } else {
      cn_error_node(d, n, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                    auto_pad);
      return false;
    }
    if (out < 1) {
      cn_error_node(d, n, "kernel %lld does not fit spatial axis %d of size %lld",
                    (long long)ks[i], i, (long long)in);
      return false;
    }
    p->in[i] = in;
    p->out[i] = out;
    p->kernel[i] = ks[i];
    p->stride[i] = stride[i];
    p->dilation[i] = dil[i];
    p->pad_begin[i] = pb;
    p->pad_end[i] = pe;
    ydims[2 + i] = out;
  }
  n->scratch_bytes = via_f32 ? (cn_value_numel(x) + cn_numel(x->rank, ydims)) * 4 : 0;
  if (!cn_set_output(d, g, n, 0, x->dtype, x->rank, ydims)) {
    return false;
  }
  return cn_set_output(d, g, n, 1, CNNRT_I64, x->rank, ydims);
}

static int64_t spatial_size(const cnnrt_pool_params *p) {
  return p->in[0] * p->in[1] * p->in[2];
}

/* The windowed references visit every window position of every output, padding included: a
 * kernel_shape of 2^34 on a small constant input (the ONNX attribute is not bounded by any
 * tensor) kept the compiler folding for hours (found by fuzz_pipeline). Pools with more window
 * steps than this are left to run time, like folds over the byte budget (passes/infer.c). */
#define CN_POOL_FOLD_MAX_STEPS ((int64_t)1 << 28)

static bool pool_fold_small(const cnnrt_pool_params *p) {
  int64_t dims[2 + 2 * 3];
  int k = 0;
  dims[k++] = p->n;
  dims[k++] = p->c;
  for (int i = 0; i < p->spatial && i < 3; i++) {
    dims[k++] = p->out[i];
    dims[k++] = p->kernel[i];
  }
  int64_t steps;
  return cn_numel_checked(k, dims, CN_POOL_FOLD_MAX_STEPS, &steps);
}

bool cn_eval_pool(cn_graph *g, cn_node *n) {
  if (cn_in(g, n, 0)->dtype != CNNRT_F32) {
    return false;
  }
  const cnnrt_pool_params *p = n->params;
  const bool windowed =
      n->op == CN_OP_MAX_POOL || n->op == CN_OP_AVERAGE_POOL || n->op == CN_OP_LP_POOL;
  if (windowed && !pool_fold_small(p)) {
    return false;
  }
  cn_fold_outputs(g, n);
  const float *x = cn_in(g, n, 0)->data;
  float *y = cn_out(g, n, 0)->data;
  switch (n->op) {
  case CN_OP_MAX_POOL: {
    cn_value *ind = cn_out(g, n, 1);
    cnnrt_f32_maxpool_ref(p, x, y, ind ? ind->data : NULL);
    break;
  }
  case CN_OP_AVERAGE_POOL: cnnrt_f32_avgpool_ref(p, x, y); break;
  case CN_OP_LP_POOL: cnnrt_f32_lppool_ref(p, x, y); break;
  case CN_OP_GLOBAL_AVERAGE_POOL: cnnrt_f32_global_avgpool_ref(p->n * p->c, spatial_size(p), x, y); break;
  case CN_OP_GLOBAL_MAX_POOL: cnnrt_f32_global_maxpool_ref(p->n * p->c, spatial_size(p), x, y); break;
  case CN_OP_GLOBAL_LP_POOL: cnnrt_f32_global_lppool_ref(p->n * p->c, spatial_size(p), p->p, x, y); break;
  default: CN_UNREACHABLE();
  }
  return true;
}

static const cn_field pool_fields[] = {
    CN_I64(cnnrt_pool_params, spatial),   CN_I64(cnnrt_pool_params, n),
    CN_I64(cnnrt_pool_params, c),         CN_I64(cnnrt_pool_params, in),
    CN_I64(cnnrt_pool_params, out),       CN_I64(cnnrt_pool_params, kernel),
    CN_I64(cnnrt_pool_params, stride),    CN_I64(cnnrt_pool_params, dilation),
    CN_I64(cnnrt_pool_params, pad_begin), CN_I64(cnnrt_pool_params, pad_end),
    CN_I64(cnnrt_pool_params, count_include_pad), CN_F32(cnnrt_pool_params, p),
    CN_I64(cnnrt_pool_params, storage_order),
};

void cn_emit_pool(cn_emitter *e, cn_graph *g, cn_node *n) {
  cn_emit_use(e, CN_RT_POOL);
  const cnnrt_pool_params *p = n->params;
  const cn_value *xv = cn_in(g, n, 0), *yv = cn_out(g, n, 0);
  const char *x = cn_emit_in(e, n->in[0]), *y = cn_emit_out(e, n->out[0]);
  if (xv->dtype != CNNRT_F32) { /* through float32 copies in scratch */
    const char *xf = cn_emit_scratch_at(e, n, 0, "float");
    cn_emit_cast(e, cn_value_numel(xv), xv->dtype, cn_emit_in_void(e, n->in[0]), CNNRT_F32, xf);
    x = xf;
    y = cn_emit_scratch_at(e, n, cn_value_numel(xv) * 4, "float");
  }
  const bool arm = e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7;
  const bool x86 = e->opt->target == CN_TARGET_X86_64;
  if (is_global(n->op) && n->op != CN_OP_GLOBAL_LP_POOL && (arm || x86)) {
    /* The vector reductions of runtime/cnnrt_pool_{avx2,neon}.h (bit-identical to the
     * references); the NEON header falls back to the references by itself. */
    char fn[32], args[512]; /* (value expressions are short) */
    snprintf(fn, sizeof fn, "global_%s", n->op == CN_OP_GLOBAL_AVERAGE_POOL ? "avgpool" : "maxpool");
    snprintf(args, sizeof args, "%lld, %lld, %s, %s", (long long)(p->n * p->c),
             (long long)spatial_size(p), x, y);
    cn_emit_simd_call(e, CN_RT_POOL_AVX2, CN_RT_POOL_NEON, fn, args, false);
    if (yv->dtype != CNNRT_F32) {
      cn_emit_cast(e, cn_value_numel(yv), CNNRT_F32, y, yv->dtype, cn_emit_out_void(e, n->out[0]));
    }
    return;
  }
  if (is_global(n->op)) {
    const char *fn = n->op == CN_OP_GLOBAL_AVERAGE_POOL ? "avgpool"
                     : n->op == CN_OP_GLOBAL_MAX_POOL   ? "maxpool"
                                                        : "lppool";
    if (n->op == CN_OP_GLOBAL_LP_POOL) {
      cn_emit_line(e, "    cnnrt_f32_global_lppool_ref(%lld, %lld, %s, %s, %s);",
                   (long long)(p->n * p->c), (long long)spatial_size(p), cn_emit_float(e, p->p), x,
                   y);
    } else {
      cn_emit_line(e, "    cnnrt_f32_global_%s_ref(%lld, %lld, %s, %s);", fn,
                   (long long)(p->n * p->c), (long long)spatial_size(p), x, y);
    }
    if (yv->dtype != CNNRT_F32) {
      cn_emit_cast(e, cn_value_numel(yv), CNNRT_F32, y, yv->dtype, cn_emit_out_void(e, n->out[0]));
    }
    return;
  }
  const char *pp = cn_emit_params(e, "cnnrt_pool_params", CN_FIELDS(pool_fields), n->params);
  const int64_t work = cn_value_numel(yv) * p->kernel[0] * p->kernel[1] * p->kernel[2];
  const bool split = p->n * p->c >= 2 && work >= CN_PARALLEL_MIN_WORK;
  const bool with_indices = n->op == CN_OP_MAX_POOL && n->n_out > 1 && n->out[1] >= 0;
  const bool simd = (n->op == CN_OP_MAX_POOL && !with_indices) || n->op == CN_OP_AVERAGE_POOL;
  if (simd && arm) {
    /* runtime/cnnrt_pool_neon.h: planes over the threads of `par` when the layer is large
     * enough to split (the references without NEON, in the header) */
    cn_emit_use(e, CN_RT_POOL_NEON);
    cn_emit_line(e, "    cnnrt_f32_%s_neon(%s, %s, %s, %s);",
                 n->op == CN_OP_MAX_POOL ? "maxpool" : "avgpool", pp, x, y,
                 split ? "par" : "NULL");
    if (yv->dtype != CNNRT_F32) {
      cn_emit_cast(e, cn_value_numel(yv), CNNRT_F32, y, yv->dtype, cn_emit_out_void(e, n->out[0]));
    }
    return;
  }
  if (simd && x86) { /* runtime/cnnrt_pool_avx2.h, the code below without AVX2 */
    cn_emit_use(e, CN_RT_POOL_AVX2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    cn_emit_line(e, "    cnnrt_f32_%s_avx2(%s, %s, %s, %s);",
                 n->op == CN_OP_MAX_POOL ? "maxpool" : "avgpool", pp, x, y,
                 split ? "par" : "NULL");
    cn_emit_line(e, "#else");
  }
  if ((n->op == CN_OP_MAX_POOL || n->op == CN_OP_AVERAGE_POOL) && split) {
    /* Split over the (batch, channel) planes across the threads of `par` (ResNet's stem
     * MaxPool is ~1% of the network: serial, it costs 2% of the time on 2 threads). */
    const char *ind = n->op == CN_OP_MAX_POOL && n->n_out > 1 && n->out[1] >= 0
                          ? cn_emit_out(e, n->out[1])
                          : "NULL";
    cn_emit_line(e, "    cnnrt_pool_task t = {%s, %s, %s, %s, %d, 1};", pp, x, y, ind,
                 n->op == CN_OP_MAX_POOL);
    cn_emit_line(e, "    t.n_tasks = par != NULL && par->run != NULL && par->threads > 1 ? "
                    "par->threads : 1;");
    cn_emit_line(e, "    cnnrt_parallel_for(par, cnnrt_pool_task_fn, &t, t.n_tasks);");
    if (simd && x86) {
      cn_emit_line(e, "#endif");
    }
    if (yv->dtype != CNNRT_F32) {
      cn_emit_cast(e, cn_value_numel(yv), CNNRT_F32, y, yv->dtype, cn_emit_out_void(e, n->out[0]));
    }
    return;
  }
  switch (n->op) {
  case CN_OP_MAX_POOL:
    cn_emit_line(e, "    cnnrt_f32_maxpool_ref(%s, %s, %s, %s);", pp, x, y,
                 n->n_out > 1 && n->out[1] >= 0 ? cn_emit_out(e, n->out[1]) : "NULL");
    break;
  case CN_OP_AVERAGE_POOL: cn_emit_line(e, "    cnnrt_f32_avgpool_ref(%s, %s, %s);", pp, x, y); break;
  case CN_OP_LP_POOL: cn_emit_line(e, "    cnnrt_f32_lppool_ref(%s, %s, %s);", pp, x, y); break;
  default: CN_UNREACHABLE();
  }
  if (simd && x86) {
    cn_emit_line(e, "#endif");
  }
  if (yv->dtype != CNNRT_F32) {
    cn_emit_cast(e, cn_value_numel(yv), CNNRT_F32, y, yv->dtype, cn_emit_out_void(e, n->out[0]));
  }
}
