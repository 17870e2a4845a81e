/* conv.c — Conv and ConvTranspose: attribute checking, auto_pad/output_shape resolution and
 * shape inference for 1-D to 3-D convolutions (runtime/cnnrt_conv.h executes them). */
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_conv.h"
#include "../../runtime/cnnrt_conv_grad_avx2.h" /* ConvTranspose as GEMM: packed sizes */
#include "../../runtime/cnnrt_conv_grad_neon.h"
#include "../../runtime/cnnrt_gemm_avx2.h" /* packed-weight sizes (run-time packing) */
#include "../../runtime/cnnrt_conv_mvec.h" /* CNNRT_CONV_MVEC_MR */
#include "../../runtime/cnnrt_winograd.h"
#include "../ops.h"

static bool auto_pad_of(cn_diag *d, const cn_node *n, int64_t *mode) {
  const char *s = cn_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(s, "NOTSET") == 0) {
    *mode = CNNRT_CONV_AUTO_PAD_NOTSET;
  } else if (strcmp(s, "SAME_UPPER") == 0) {
    *mode = CNNRT_CONV_AUTO_PAD_SAME_UPPER;
  } else if (strcmp(s, "SAME_LOWER") == 0) {
    *mode = CNNRT_CONV_AUTO_PAD_SAME_LOWER;
  } else if (strcmp(s, "VALID") == 0) {
    *mode = CNNRT_CONV_AUTO_PAD_VALID;
  } else {
    cn_error_node(d, n, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", s);
    return false;
  }
  return true;
}

/* Reads an INTS attribute of exactly `count` values (or fills `def` when absent). */
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

bool cn_infer_conv(cn_graph *g, cn_node *n, cn_diag *d) {
  bool transpose = n->op == CN_OP_CONV_TRANSPOSE;
  if (!cn_check_arity(d, n, 2, 3, 1, 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0), *w = cn_in(g, n, 1), *b = cn_in(g, n, 2);
  char s1[160], s2[160];
  if (x->dtype != CNNRT_F32 || w->dtype != CNNRT_F32 || (b && b->dtype != CNNRT_F32)) {
    cn_error_node(d, n, "only float32 convolutions are supported (got %s)",
                  cn_dtype_name(x->dtype));
    return false;
  }
  if (x->rank < 3 || x->rank > 5) {
    cn_error_node(d, n, "expects a 3-D to 5-D input (N, C, spatial...), got %s",
                  cn_shape_str(x->rank, x->dims, s1, sizeof s1));
    return false;
  }
  int sp = x->rank - 2;
  if (w->rank != x->rank) {
    cn_error_node(d, n, "weight shape %s does not match input shape %s",
                  cn_shape_str(w->rank, w->dims, s1, sizeof s1),
                  cn_shape_str(x->rank, x->dims, s2, sizeof s2));
    return false;
  }
  int64_t group = cn_attr_int(n, "group", 1);
  if (group < 1) {
    cn_error_node(d, n, "group must be positive, got %lld", (long long)group);
    return false;
  }
  int64_t kernel[3], stride[3], dil[3], pads[6], auto_pad;
  const int64_t *ks;
  int nks = cn_attr_ints(n, "kernel_shape", &ks);
  if (nks >= 0) {
    bool match = nks == sp;
    for (int i = 0; match && i < sp; i++) {
      match = ks[i] == w->dims[2 + i];
    }
    if (!match) {
      cn_error_node(d, n, "kernel_shape %s does not match weight shape %s",
                    cn_shape_str(nks, ks, s1, sizeof s1),
                    cn_shape_str(w->rank, w->dims, s2, sizeof s2));
      return false;
    }
  }
  for (int i = 0; i < sp; i++) {
    kernel[i] = w->dims[2 + i];
  }
  if (!ints_attr(d, n, "strides", sp, 1, stride) || !ints_attr(d, n, "dilations", sp, 1, dil) ||
      !ints_attr(d, n, "pads", 2 * sp, 0, pads) || !auto_pad_of(d, n, &auto_pad)) {
    return false;
  }
  for (int i = 0; i < sp; i++) {
    if (stride[i] < 1 || dil[i] < 1 || kernel[i] < 1 || pads[i] < 0 || pads[sp + i] < 0) {
      cn_error_node(d, n, "strides, dilations and kernel sizes must be positive and pads "
                          "non-negative");
      return false;
    }
    /* The output size arithmetic (runtime/cnnrt_conv.h) must not overflow. */
    int64_t span, stretch;
    if (pads[i] > CN_MAX_ELEMENTS || pads[sp + i] > CN_MAX_ELEMENTS ||
        !cn_mul_checked(kernel[i] - 1, dil[i], CN_MAX_ELEMENTS, &span) ||
        !cn_mul_checked(stride[i], x->dims[2 + i], CN_MAX_ELEMENTS, &stretch)) {
      cn_error_node(d, n, "strides, dilations or pads of spatial axis %d are too large", i);
      return false;
    }
  }
  int64_t w_group; /* channels the weight covers over all groups */
  if (!cn_mul_checked(w->dims[1], group, CN_MAX_ELEMENTS, &w_group)) {
    cn_error_node(d, n, "group %lld is too large", (long long)group);
    return false;
  }
  cnnrt_conv_params *p = cn_node_params(n, sizeof *p);
  p->spatial = sp;
  p->n = x->dims[0];
  p->group = group;
  for (int i = 0; i < 3; i++) {
    p->in[i] = p->out[i] = p->kernel[i] = p->stride[i] = p->dilation[i] = 1;
    p->pad_begin[i] = 0;
  }
  int64_t ydims[5];
  ydims[0] = x->dims[0];
  if (!transpose) {
    p->c_in = x->dims[1];
    p->c_out = w->dims[0];
    if (w_group != x->dims[1] || p->c_out % group != 0) {
      cn_error_node(d, n, "input has %lld channels but the weight %s with group %lld expects %lld",
                    (long long)x->dims[1], cn_shape_str(w->rank, w->dims, s1, sizeof s1),
                    (long long)group, (long long)w_group);
      return false;
    }
  } else {
    p->c_in = x->dims[1];
    p->c_out = w_group;
    if (w->dims[0] != x->dims[1] || p->c_in % group != 0) {
      cn_error_node(d, n, "input has %lld channels but the weight %s expects %lld",
                    (long long)x->dims[1], cn_shape_str(w->rank, w->dims, s1, sizeof s1),
                    (long long)w->dims[0]);
      return false;
    }
  }
  ydims[1] = p->c_out;
  if (b && (b->rank != 1 || b->dims[0] != p->c_out)) {
    cn_error_node(d, n, "bias shape %s does not match %lld output channels",
                  cn_shape_str(b->rank, b->dims, s1, sizeof s1), (long long)p->c_out);
    return false;
  }
  int64_t out_pad[3] = {0, 0, 0}, out_shape[5];
  int n_out_shape = -1;
  if (transpose) {
    if (!ints_attr(d, n, "output_padding", sp, 0, out_pad)) {
      return false;
    }
    for (int i = 0; i < sp; i++) {
      if (out_pad[i] < 0 || out_pad[i] > CN_MAX_ELEMENTS) {
        cn_error_node(d, n, "output_padding %lld is out of range", (long long)out_pad[i]);
        return false;
      }
    }
    const int64_t *os;
    n_out_shape = cn_attr_ints(n, "output_shape", &os);
    if (n_out_shape >= 0) {
      if (n_out_shape != sp && n_out_shape != sp + 2) {
        cn_error_node(d, n, "output_shape has %d values; %d expected", n_out_shape, sp);
        return false;
      }
      memcpy(out_shape, os + (n_out_shape - sp), sizeof(int64_t) * (size_t)sp);
    }
  }
  for (int i = 0; i < sp; i++) {
    int64_t out, pb;
    if (transpose) {
      out = cnnrt_conv_transpose_resolve_axis(auto_pad, x->dims[2 + i], kernel[i], stride[i],
                                              dil[i], out_pad[i],
                                              n_out_shape >= 0 ? out_shape[i] : -1, pads[i],
                                              pads[sp + i], &pb);
    } else {
      out = cnnrt_conv_resolve_axis(auto_pad, x->dims[2 + i], kernel[i], stride[i], dil[i],
                                    pads[i], pads[sp + i], &pb);
    }
    if (out < 1) {
      cn_error_node(d, n, "kernel %lld (dilation %lld) does not fit spatial axis %d of size %lld "
                          "with the given padding",
                    (long long)kernel[i], (long long)dil[i], i, (long long)x->dims[2 + i]);
      return false;
    }
    p->in[i] = x->dims[2 + i];
    p->out[i] = out;
    p->kernel[i] = kernel[i];
    p->stride[i] = stride[i];
    p->dilation[i] = dil[i];
    p->pad_begin[i] = pb;
    ydims[2 + i] = out;
  }
  return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, ydims);
}

static void sync_epilogue(cn_node *n) {
  cnnrt_conv_params *p = n->params;
  p->act = n->act;
  p->alpha = n->act_alpha;
  p->beta = n->act_beta;
}

bool cn_eval_conv(cn_graph *g, cn_node *n) {
  sync_epilogue(n);
  cn_fold_outputs(g, n);
  const cn_value *b = cn_in(g, n, 2);
  const float *x = cn_in(g, n, 0)->data, *w = cn_in(g, n, 1)->data;
  float *y = cn_out(g, n, 0)->data;
  if (n->op == CN_OP_CONV) {
    cnnrt_f32_conv_ref(n->params, x, w, b ? b->data : NULL, NULL, y);
  } else {
    cnnrt_f32_conv_transpose_ref(n->params, x, w, b ? b->data : NULL, y);
  }
  return true;
}

static const cn_field conv_fields[] = {
    CN_I64(cnnrt_conv_params, spatial),   CN_I64(cnnrt_conv_params, n),
    CN_I64(cnnrt_conv_params, c_in),      CN_I64(cnnrt_conv_params, c_out),
    CN_I64(cnnrt_conv_params, group),     CN_I64(cnnrt_conv_params, in),
    CN_I64(cnnrt_conv_params, out),       CN_I64(cnnrt_conv_params, kernel),
    CN_I64(cnnrt_conv_params, stride),    CN_I64(cnnrt_conv_params, dilation),
    CN_I64(cnnrt_conv_params, pad_begin), CN_I64(cnnrt_conv_params, act),
    CN_F32(cnnrt_conv_params, alpha),     CN_F32(cnnrt_conv_params, beta),
};

/* A ConvTranspose with one input and one output channel per group, no activation and no
 * residual (the data gradient of a depthwise convolution). */
static bool is_depthwise_transpose(const cn_node *n) {
  const cnnrt_conv_params *cp = n->params;
  return cp->group > 1 && cp->group == cp->c_in && cp->group == cp->c_out &&
         cp->act == CNNRT_ACT_NONE && n->residual < 0;
}

/* --gemm libxsmm (schedule.c, cn_pass_schedule_xsmm): the weights as ONNX gives them; kernels
 * dispatched in the layer's call, split across the threads of `par`; the portable reference
 * where AVX2 is not compiled in or libxsmm has no kernel. */
static void emit_conv_xsmm(cn_emitter *e, const char *p, const char *x, const char *w,
                           const char *b, const char *r, const char *y, const cn_node *n) {
  int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
  cn_emit_use(e, CN_RT_XSMM | CN_RT_CONV | CN_RT_GEMM); /* cnnrt_xsmm.h includes both */
  cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
  cn_emit_line(e, "    cnnrt_f32_conv_xsmm(%s, %s, %s, %s, %s, %s, %s, %lld, %lld, par);", p, x, w,
               b, r, y, n->scratch_bytes > 0 ? cn_emit_scratch_at(e, n, 0, "unsigned char") : "NULL",
               (long long)(n->scratch_bytes / max_tasks), (long long)max_tasks);
  cn_emit_line(e, "#else");
  cn_emit_line(e, "    cnnrt_f32_conv_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r, y);
  cn_emit_line(e, "#endif");
}

/* Winograd F(4x4,3x3) (schedule.c, schedule_x86_winograd): weights already transformed and
 * packed; tasks over blocks of tiles, one scratch region each; the portable fallback reads the
 * same transformed weights. */
static void emit_conv_winograd(cn_emitter *e, const cn_node *n, const char *p, const char *x,
                               const char *w, const char *b, const char *r, const char *y) {
  const int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
  const int64_t tb = cnnrt_winograd43_tile_block(n->params);
  cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_WINOGRAD);
  cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
  cn_emit_line(e,
               "    cnnrt_winograd43_task t = {%s, %s, %s, %s, %s, %s, (unsigned char *)%s, %lld, "
               "%lld, 1, {{0}}};",
               p, x, w, b, r, y, cn_emit_scratch(e, n), (long long)(n->scratch_bytes / max_tasks),
               (long long)tb);
  cn_emit_line(e, "    t.n_tasks = cnnrt_task_count(par, %lld);", (long long)max_tasks);
  cn_emit_line(e, "    cnnrt_parallel_for(par, cnnrt_conv_winograd43_avx2_task, &t, t.n_tasks);");
  cn_emit_line(e, "#else");
  cn_emit_line(e, "    cnnrt_f32_conv_winograd43_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r, y);
  cn_emit_line(e, "#endif");
}

/* A threaded convolution kernel in its target form: under the target's SIMD guard (NEON or
 * AVX2 + FMA), `pre` (a statement, or NULL), the task struct `task_init` ("T t = {...};") run as
 * task_fn over the threads of `par` (at most --max-threads tasks: the scratch regions the memory
 * plan reserved), and `fallback` (statements) as the #else. */
static void emit_conv_tasks(cn_emitter *e, bool neon, const char *pre, const char *task_init,
                            const char *task_fn, const char *fallback) {
  const int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
  cn_emit_line(e, neon ? "#if defined(__ARM_NEON) || defined(__ARM_NEON__)"
                       : "#if defined(__AVX2__) && defined(__FMA__)");
  if (pre != NULL) {
    cn_emit_line(e, "    %s", pre);
  }
  cn_emit_line(e, "    %s", task_init);
  cn_emit_line(e, "    t.n_tasks = %s(par, %lld);", neon ? "cnnrt_neon_task_count" : "cnnrt_task_count",
               (long long)max_tasks);
  cn_emit_line(e, "    cnnrt_parallel_for(par, %s, &t, t.n_tasks);", task_fn);
  cn_emit_line(e, "#else");
  cn_emit_line(e, "    %s", fallback);
  cn_emit_line(e, "#endif");
}

/* The portable fallback of a depthwise kernel: the reference, then a fused GlobalAveragePool's
 * own call on the output. */
static const char *emit_conv_dw_ref(cn_emitter *e, const char *p, const char *x, const char *w,
                                    const char *b, const char *r, const char *y,
                                    const char *pooled, const char *pool_dims) {
  const char *conv = cn_emit_str(e, "cnnrt_f32_conv_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r, y);
  if (pooled == NULL) {
    return conv;
  }
  return cn_emit_str(e, "%s\n    cnnrt_f32_global_avgpool_ref(%s, %s, %s);", conv, pool_dims, y,
                     pooled);
}

void cn_emit_conv(cn_emitter *e, cn_graph *g, cn_node *n) {
  sync_epilogue(n);
  cn_emit_use(e, CN_RT_CONV);
  const char *p = cn_emit_params(e, "cnnrt_conv_params", CN_FIELDS(conv_fields), n->params);
  const char *x = cn_emit_in(e, n->in[0]), *w = cn_emit_in(e, n->in[1]);
  const char *b = cn_emit_in(e, cn_has_input(n, 2) ? n->in[2] : -1);
  const char *r = cn_emit_in(e, n->residual), *y = cn_emit_out(e, n->out[0]);
  /* A fused input scale (fuse.c): only the GEMM kernels, the blocked pointwise kernel and the
   * references take one. */
  const char *s = cn_emit_in(e, n->in_scale);
  /* A fused GlobalAveragePool (fuse.c, depthwise only): the pooled [n, c, 1, 1] second output;
   * the depthwise tasks reduce it as they go, other kernels are followed by the pool's own call. */
  const char *pooled = n->n_out > 1 ? cn_emit_out(e, n->out[1]) : NULL;
  const cnnrt_conv_params *cpar = n->params;
  const char *pool_dims =
      cn_emit_str(e, "%lld, %lld", (long long)(cpar->n * cpar->c_out),
                  (long long)(cpar->out[0] * cpar->out[1] * cpar->out[2]));
  CN_ASSERT(!pooled || (n->op == CN_OP_CONV && cpar->group == cpar->c_in &&
                        cpar->group == cpar->c_out && n->variant != CN_CONV_XSMM));
  CN_ASSERT(n->in_scale < 0 || n->variant == CN_CONV_REF || n->variant == CN_CONV_GEMM_AVX2 ||
            n->variant == CN_CONV_GEMM_AVX2_PACK || n->variant == CN_CONV_GEMM_NEON ||
            n->variant == CN_CONV_GEMM_NEON_PACK || n->variant == CN_CONV_PW_NCHWC_AVX2);
  /* The portable reference, with the input scale only where there is one (output unchanged). */
  const char *ref = n->in_scale >= 0
                        ? cn_emit_str(e, "cnnrt_f32_conv_scaled_ref(%s, %s, %s, %s, %s, %s, %s);",
                                      p, x, s, w, b, r, y)
                        : cn_emit_str(e, "cnnrt_f32_conv_ref(%s, %s, %s, %s, %s, %s);", p, x, w,
                                      b, r, y);
  /* Threaded kernels: the task struct's scratch regions, one per task (schedule.c). */
  const int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
  const char *scratch_per_task = cn_emit_str(e, "(unsigned char *)%s, %lld", cn_emit_scratch(e, n),
                                             (long long)(n->scratch_bytes / max_tasks));
  if (n->op == CN_OP_CONV && n->variant == CN_CONV_XSMM) {
    emit_conv_xsmm(e, p, x, w, b, r, y, n);
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GEMM_AVX2) {
    /* The weights are packed for the GEMM; the portable fallback reads the same layout. */
    cn_emit_use(e, CN_RT_CONV_AVX2);
    emit_conv_tasks(
        e, false, NULL,
        cn_emit_str(e,
                    "cnnrt_conv_task t = {%s, %s, %s, %s, %s, %s, %s, 1, %s, NULL, NULL, {{0}}};",
                    p, x, w, b, r, y, scratch_per_task, s),
        "cnnrt_conv_gemm_avx2_task",
        n->in_scale >= 0
            ? cn_emit_str(e, "cnnrt_f32_conv_packed_scaled_ref(%s, %s, %s, %s, %s, %s, %s);", p, x,
                          s, w, b, r, y)
            : cn_emit_str(e, "cnnrt_f32_conv_packed_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r,
                          y));
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GROUPED_AVX2) {
    /* Grouped: one GEMM per group on weights packed group by group (schedule.c); tasks over
     * the (image, group, pixel) range; the portable fallback reads the same layout. */
    cn_emit_use(e, CN_RT_CONV_AVX2);
    emit_conv_tasks(
        e, false, NULL,
        cn_emit_str(e,
                    "cnnrt_conv_task t = {%s, %s, %s, %s, %s, %s, %s, 1, NULL, NULL, NULL, {{0}}};",
                    p, x, w, b, r, y, scratch_per_task),
        "cnnrt_conv_grouped_gemm_avx2_task",
        cn_emit_str(e, "cnnrt_f32_conv_grouped_packed_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r,
                    y));
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_DIRECT_AVX2) {
    /* Few input channels (schedule.c): the GEMM's packed weights, tasks over output rows; the
     * portable fallback reads the same layout. */
    cn_emit_use(e, CN_RT_CONV_AVX2);
    emit_conv_tasks(
        e, false, NULL,
        cn_emit_str(e,
                    "cnnrt_conv_task t = {%s, %s, %s, %s, %s, %s, %s, 1, NULL, NULL, NULL, {{0}}};",
                    p, x, w, b, r, y, scratch_per_task),
        "cnnrt_conv_direct_avx2_task",
        cn_emit_str(e, "cnnrt_f32_conv_packed_ref(%s, %s, %s, %s, %s, %s);", p, x, w, b, r, y));
  } else if (n->op == CN_OP_CONV &&
             (n->variant == CN_CONV_PW_NCHWC_AVX2 || n->variant == CN_CONV_DW_NCHWC_AVX2)) {
    /* Channel-blocked values (passes/layout.c): the pointwise kernel converts at a region's
     * edges and takes a fused input scale, the depthwise kernel a fused GlobalAveragePool; the
     * portable fallback reads the same layouts and packed weights. */
    const bool pw = n->variant == CN_CONV_PW_NCHWC_AVX2;
    const int xb = g->values[n->in[0]].layout == CN_LAYOUT_NCHW8C;
    const int yb = g->values[n->out[0]].layout == CN_LAYOUT_NCHW8C;
    CN_ASSERT(pw ? (xb || yb) && !pooled : xb && yb && n->in_scale < 0);
    const char *pool_out = pooled ? pooled : "NULL";
    /* (cnnrt_task_count; cnnrt_nchwc.h's fused pool reads cnnrt_pool.h) */
    cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_NCHWC | CN_RT_POOL);
    emit_conv_tasks(
        e, false, NULL,
        cn_emit_str(e,
                    "cnnrt_nchwc_task t = {%s, %s, %s, %s, %s, %s, %s, 1, %d, %d, %s, %s, {{0}}};",
                    p, x, w, b, r, y, pw ? scratch_per_task : "NULL, 0", xb, yb, s, pool_out),
        pw ? "cnnrt_pw_nchwc_avx2_task" : "cnnrt_dw_nchwc_avx2_task",
        pw ? cn_emit_str(e, "cnnrt_f32_conv_pw_nchwc_ref(%s, %d, %s, %s, %s, %s, %s, %d, %s);", p,
                         xb, x, s, w, b, r, yb, y)
           : cn_emit_str(e, "cnnrt_f32_dwconv_nchwc_ref(%s, %s, %s, %s, %s, %s, %s);", p, x, w, b,
                         r, y, pool_out));
    if (!pw) {
      return; /* a fused pool is the kernel's own */
    }
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_WINOGRAD_AVX2) {
    emit_conv_winograd(e, n, p, x, w, b, r, y);
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_MVEC_AVX512) {
    /* Weights in 32-row panels (schedule.c, schedule_x86_mvec): tasks over panels of output
     * channels; the portable fallback reads the same layout. */
    cn_emit_use(e, CN_RT_CONV_MVEC | CN_RT_CONV_AVX2); /* (cnnrt_task_count) */
    emit_conv_tasks(e, false, NULL,
                    cn_emit_str(e, "cnnrt_conv_mvec_task t = {%s, %s, %s, %s, %s, %s, %s, 1, {{0}}};", p, x,
                                w, b, r, y, scratch_per_task),
                    "cnnrt_conv_mvec_task_fn",
                    cn_emit_str(e, "cnnrt_f32_conv_packed_mr_ref(%s, %s, %s, %d, %s, %s, %s);", p, x,
                                w, CNNRT_CONV_MVEC_MR, b, r, y));
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GEMM_AVX2_PACK) {
    /* Weights known at run time: pack them into the front of the scratch (schedule.c). */
    const int64_t m = cpar->c_out, k = cpar->c_in * cpar->kernel[0] * cpar->kernel[1];
    const int64_t packed = (cnnrt_f32_pack_a_mr6_bytes(m, k) + 63) / 64 * 64;
    const char *wp = cn_emit_scratch_at(e, n, 0, "float");
    cn_emit_use(e, CN_RT_CONV_AVX2);
    emit_conv_tasks(e, false,
                    cn_emit_str(e, "cnnrt_f32_pack_a_mr6(%lld, %lld, %s, %s);", (long long)m,
                                (long long)k, w, wp),
                    cn_emit_str(e,
                                "cnnrt_conv_task t = {%s, %s, %s, %s, %s, %s, (unsigned char *)%s, "
                                "%lld, 1, %s, NULL, NULL, {{0}}};",
                                p, x, wp, b, r, y,
                                cn_emit_scratch_at(e, n, packed, "unsigned char"),
                                (long long)((n->scratch_bytes - packed) / max_tasks), s),
                    "cnnrt_conv_gemm_avx2_task", ref);
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_DW_AVX2) {
    /* A fused GlobalAveragePool is reduced by the tasks, plane by plane. */
    cn_emit_use(e, CN_RT_CONV_AVX2 | (pooled ? CN_RT_POOL_AVX2 : 0));
    emit_conv_tasks(
        e, false, NULL,
        cn_emit_str(
            e, "cnnrt_conv_task t = {%s, %s, %s, %s, %s, %s, NULL, 0, 1, NULL, %s, %s, {{0}}};", p,
            x, w, b, r, y, pooled ? "cnnrt_f32_global_avgpool_avx2" : "NULL",
            pooled ? pooled : "NULL"),
        "cnnrt_dwconv_avx2_task", emit_conv_dw_ref(e, p, x, w, b, r, y, pooled, pool_dims));
    return;
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GEMM_NEON) {
    /* Weights packed in mr-row panels; the portable fallback reads the same layout. */
    const int mr = cn_neon_gemm_mr((int)e->opt->target);
    cn_emit_use(e, CN_RT_CONV_NEON);
    emit_conv_tasks(e, true, NULL,
                    cn_emit_str(e, "cnnrt_conv_neon_task t = {%s, %s, %s, %s, %s, %s, %s, 1, %d, %s, NULL, NULL};",
                                p, x, w, b, r, y, scratch_per_task, mr, s),
                    "cnnrt_conv_gemm_neon_task",
                    n->in_scale >= 0
                        ? cn_emit_str(e, "cnnrt_f32_conv_packed_mr_scaled_ref(%s, %s, %s, %s, %d, %s, %s, %s);",
                                      p, x, s, w, mr, b, r, y)
                        : cn_emit_str(e, "cnnrt_f32_conv_packed_mr_ref(%s, %s, %s, %d, %s, %s, %s);",
                                      p, x, w, mr, b, r, y));
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GROUPED_NEON) {
    /* Grouped: one NEON GEMM per group on weights packed group by group in mr-row panels
     * (schedule.c); the portable fallback reads the same layout. */
    const int mr = cn_neon_gemm_mr((int)e->opt->target);
    cn_emit_use(e, CN_RT_CONV_NEON);
    emit_conv_tasks(e, true, NULL,
                    cn_emit_str(e, "cnnrt_conv_neon_task t = {%s, %s, %s, %s, %s, %s, %s, 1, %d, NULL, NULL, NULL};",
                                p, x, w, b, r, y, scratch_per_task, mr),
                    "cnnrt_conv_grouped_gemm_neon_task",
                    cn_emit_str(e, "cnnrt_f32_conv_grouped_packed_mr_ref(%s, %s, %s, %d, %s, %s, %s);",
                                p, x, w, mr, b, r, y));
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_GEMM_NEON_PACK) {
    /* Run-time weights: packed into the front of the scratch in the target's panel height
     * (schedule.c), then the NEON GEMM; the portable fallback reads them as given. */
    const int64_t mr = cn_neon_gemm_mr((int)e->opt->target);
    const int64_t m = cpar->c_out, k = cpar->c_in * cpar->kernel[0] * cpar->kernel[1];
    const int64_t packed = (cnnrt_f32_pack_a_mr_bytes(m, k, mr) + 63) / 64 * 64;
    const char *wp = cn_emit_scratch_at(e, n, 0, "float");
    cn_emit_use(e, CN_RT_CONV_NEON);
    emit_conv_tasks(e, true,
                    cn_emit_str(e, "cnnrt_f32_pack_a_mr(%lld, %lld, %lld, %s, %s);", (long long)m,
                                (long long)k, (long long)mr, w, wp),
                    cn_emit_str(e, "cnnrt_conv_neon_task t = {%s, %s, %s, %s, %s, %s, %s, %lld, 1, %lld, %s, NULL, NULL};",
                                p, x, wp, b, r, y,
                                cn_emit_scratch_at(e, n, packed, "unsigned char"),
                                (long long)((n->scratch_bytes - packed) / max_tasks),
                                (long long)mr, s),
                    "cnnrt_conv_gemm_neon_task", ref);
  } else if (n->op == CN_OP_CONV && n->variant == CN_CONV_DW_NEON) {
    cn_emit_use(e, CN_RT_CONV_NEON | (pooled ? CN_RT_POOL_NEON : 0)); /* pooled: as for AVX2 */
    emit_conv_tasks(e, true, NULL,
                    cn_emit_str(e, "cnnrt_conv_neon_task t = {%s, %s, %s, %s, %s, %s, NULL, 0, 1, 0, NULL, %s, %s};",
                                p, x, w, b, r, y, pooled ? "cnnrt_f32_global_avgpool_neon" : "NULL",
                                pooled ? pooled : "NULL"),
                    "cnnrt_dwconv_neon_task", emit_conv_dw_ref(e, p, x, w, b, r, y, pooled, pool_dims));
    return;
  } else if (n->op == CN_OP_CONV) {
    cn_emit_line(e, "    %s", ref);
  } else if (n->op == CN_OP_CONV_TRANSPOSE && n->variant == 1) {
    /* schedule.c: W^T packed for the AVX2 GEMM as input 3; col2im after (cnnrt_conv_grad_avx2.h) */
    int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
    cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_CONV_GRAD | CN_RT_CONV_GRAD_AVX2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_gemm_avx2(%s, %s, %s, %s, %s, %s, %lld, par);", p,
                 x, cn_emit_in(e, n->in[3]), b, y, cn_emit_scratch(e, n), (long long)max_tasks);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p, x, w, b, y);
    cn_emit_line(e, "#endif");
  } else if (n->op == CN_OP_CONV_TRANSPOSE && n->variant == 2) {
    /* schedule.c: run-time weights, W^T packed into the front of the scratch first */
    const cnnrt_conv_params *cp = n->params;
    int64_t packed = (cnnrt_f32_conv_transpose_pack_bytes(cp) + 63) / 64 * 64;
    int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
    cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_CONV_GRAD | CN_RT_CONV_GRAD_AVX2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    const char *wp = cn_emit_scratch_at(e, n, 0, "float");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_pack(%s, %s, %s);", p, w, wp);
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_gemm_avx2(%s, %s, %s, %s, %s, %s, %lld, par);", p,
                 x, wp, b, y, cn_emit_scratch_at(e, n, packed, "unsigned char"),
                 (long long)max_tasks);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p, x, w, b, y);
    cn_emit_line(e, "#endif");
  } else if (n->op == CN_OP_CONV_TRANSPOSE && e->opt->target == CN_TARGET_X86_64 &&
             is_depthwise_transpose(n)) {
    /* a depthwise convolution's data gradient: rows of each channel vectorised, channels over
     * the threads (cnnrt_conv_grad_avx2.h) */
    cn_emit_use(e, CN_RT_CONV_AVX2 | CN_RT_CONV_GRAD | CN_RT_CONV_GRAD_AVX2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    cn_emit_line(e, "    cnnrt_f32_dwconv_transpose_avx2(%s, %s, %s, %s, %s, par);", p, x, w, b, y);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p, x, w, b, y);
    cn_emit_line(e, "#endif");
  } else if (n->op == CN_OP_CONV_TRANSPOSE &&
             (e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7) &&
             is_depthwise_transpose(n)) {
    /* ARM: a depthwise convolution's data gradient, rows of each channel vectorised, channels
     * over the threads (cnnrt_conv_grad_neon.h) */
    cn_emit_use(e, CN_RT_CONV_NEON | CN_RT_CONV_GRAD | CN_RT_CONV_GRAD_NEON);
    cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
    cn_emit_line(e, "    cnnrt_f32_dwconv_transpose_neon(%s, %s, %s, %s, %s, par);", p, x, w, b, y);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p, x, w, b, y);
    cn_emit_line(e, "#endif");
  } else if (n->op == CN_OP_CONV_TRANSPOSE && (n->variant == 3 || n->variant == 4)) {
    /* schedule.c (ARM): NEON GEMM + col2im (once per group; any group but depthwise); W^T
     * packed at build time as input 3 (variant 3) or at run time into the front of the scratch
     * (variant 4). */
    const cnnrt_conv_params *cp = n->params;
    const int64_t mr = cn_neon_gemm_mr((int)e->opt->target);
    int64_t max_tasks = e->opt->max_threads > 1 ? e->opt->max_threads : 1;
    cn_emit_use(e, CN_RT_CONV_NEON | CN_RT_CONV_GRAD | CN_RT_CONV_GRAD_NEON);
    cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
    if (n->variant == 3) {
      cn_emit_line(e, "    cnnrt_f32_conv_transpose_gemm_neon(%s, %s, %s, %lld, %s, %s, %s, %lld, par);",
                   p, x, cn_emit_in(e, n->in[3]), (long long)mr, b, y, cn_emit_scratch(e, n),
                   (long long)max_tasks);
    } else {
      int64_t packed = (cnnrt_f32_conv_transpose_pack_mr_bytes(cp, mr) + 63) / 64 * 64;
      const char *wp = cn_emit_scratch_at(e, n, 0, "float");
      cn_emit_line(e, "    cnnrt_f32_conv_transpose_pack_mr(%s, %s, %lld, %s);", p, w,
                   (long long)mr, wp);
      cn_emit_line(e, "    cnnrt_f32_conv_transpose_gemm_neon(%s, %s, %s, %lld, %s, %s, %s, %lld, par);",
                   p, x, wp, (long long)mr, b, y,
                   cn_emit_scratch_at(e, n, packed, "unsigned char"), (long long)max_tasks);
    }
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p, x, w, b, y);
    cn_emit_line(e, "#endif");
  } else {
    cn_emit_line(e, "    cnnrt_f32_conv_transpose_ref(%s, %s, %s, %s, %s);", p,
                 cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]),
                 cn_emit_in(e, cn_has_input(n, 2) ? n->in[2] : -1), cn_emit_out(e, n->out[0]));
  }
  if (pooled) { /* the kernels above do not pool: the call the pool node would have made */
    cn_emit_simd_call(e, CN_RT_POOL_AVX2, CN_RT_POOL_NEON, "global_avgpool",
                      cn_emit_str(e, "%s, %s, %s", pool_dims, y, pooled), false);
  }
}
