/* gemm.c — Gemm and MatMul (runtime/cnnrt_gemm.h): shape inference with ONNX's broadcasting of
 * Gemm's C and MatMul's batch dimensions. */
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_gemm.h"
#include "../ops.h"

static bool infer_gemm(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 2, 3, 1, 1)) {
    return false;
  }
  const cn_value *a = cn_in(g, n, 0), *b = cn_in(g, n, 1), *c = cn_in(g, n, 2);
  char s1[160], s2[160];
  if (a->rank != 2 || b->rank != 2) {
    cn_error_node(d, n, "expects 2-D A and B, got %s and %s",
                  cn_shape_str(a->rank, a->dims, s1, sizeof s1),
                  cn_shape_str(b->rank, b->dims, s2, sizeof s2));
    return false;
  }
  cnnrt_gemm_params *p = cn_node_params(n, sizeof *p);
  p->trans_a = cn_attr_int(n, "transA", 0) != 0;
  p->trans_b = cn_attr_int(n, "transB", 0) != 0;
  p->alpha = cn_attr_float(n, "alpha", 1.0f);
  p->beta = cn_attr_float(n, "beta", 1.0f);
  p->m = p->trans_a ? a->dims[1] : a->dims[0];
  p->k = p->trans_a ? a->dims[0] : a->dims[1];
  int64_t kb = p->trans_b ? b->dims[1] : b->dims[0];
  p->n = p->trans_b ? b->dims[0] : b->dims[1];
  if (kb != p->k) {
    cn_error_node(d, n, "inner dimensions differ: A %s%s and B %s%s",
                  cn_shape_str(a->rank, a->dims, s1, sizeof s1), p->trans_a ? " (transposed)" : "",
                  cn_shape_str(b->rank, b->dims, s2, sizeof s2), p->trans_b ? " (transposed)" : "");
    return false;
  }
  if (c) {
    int64_t cr = c->rank >= 2 ? c->dims[c->rank - 2] : 1;
    int64_t cc = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if (c->rank > 2 || (cr != 1 && cr != p->m) || (cc != 1 && cc != p->n)) {
      cn_error_node(d, n, "C of shape %s does not broadcast to [%lld, %lld]",
                    cn_shape_str(c->rank, c->dims, s1, sizeof s1), (long long)p->m,
                    (long long)p->n);
      return false;
    }
    p->c_rows = cr;
    p->c_cols = cc;
  }
  for (int i = 0; i < 3; i++) {
    const cn_value *v = cn_in(g, n, i);
    if (v && v->dtype != CNNRT_F32) {
      cn_error_node(d, n, "only float32 is supported, got %s", cn_dtype_name(v->dtype));
      return false;
    }
  }
  int64_t y[2] = {p->m, p->n};
  return cn_set_output(d, g, n, 0, CNNRT_F32, 2, y);
}

static bool infer_matmul(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 2, 2, 1, 1)) {
    return false;
  }
  const cn_value *a = cn_in(g, n, 0), *b = cn_in(g, n, 1);
  char s1[160], s2[160];
  if (a->rank < 1 || b->rank < 1) {
    cn_error_node(d, n, "operands must have rank >= 1");
    return false;
  }
  if (a->dtype != CNNRT_F32 || b->dtype != CNNRT_F32) {
    cn_error_node(d, n, "only float32 is supported, got %s", cn_dtype_name(a->dtype));
    return false;
  }
  /* Promote 1-D operands: A [k] -> [1, k], B [k] -> [k, 1]; those dims are dropped again. */
  int64_t ad[CN_MAX_RANK + 1], bd[CN_MAX_RANK + 1];
  int ar = a->rank, br = b->rank;
  if (ar == 1) {
    ad[0] = 1;
    ad[1] = a->dims[0];
    ar = 2;
  } else {
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
  }
  if (br == 1) {
    bd[0] = b->dims[0];
    bd[1] = 1;
    br = 2;
  } else {
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
  }
  cnnrt_matmul_params *p = cn_node_params(n, sizeof *p);
  p->m = ad[ar - 2];
  p->k = ad[ar - 1];
  p->n = bd[br - 1];
  if (bd[br - 2] != p->k) {
    cn_error_node(d, n, "inner dimensions differ: %s x %s",
                  cn_shape_str(a->rank, a->dims, s1, sizeof s1),
                  cn_shape_str(b->rank, b->dims, s2, sizeof s2));
    return false;
  }
  int batch = (ar > br ? ar : br) - 2;
  if (batch > CN_MAX_RANK - 2) {
    cn_error_node(d, n, "too many batch dimensions");
    return false;
  }
  p->batch_rank = batch;
  int64_t astride = p->m * p->k, bstride = p->k * p->n;
  int64_t ydims[CN_MAX_RANK];
  int yr = 0;
  for (int i = batch - 1; i >= 0; i--) {
    int ai = ar - 3 - (batch - 1 - i), bi = br - 3 - (batch - 1 - i);
    int64_t da = ai >= 0 ? ad[ai] : 1, db = bi >= 0 ? bd[bi] : 1;
    if (da != db && da != 1 && db != 1) {
      cn_error_node(d, n, "batch dimensions do not broadcast: %s x %s",
                    cn_shape_str(a->rank, a->dims, s1, sizeof s1),
                    cn_shape_str(b->rank, b->dims, s2, sizeof s2));
      return false;
    }
    p->batch[i] = da > db ? da : db;
    p->a_batch_stride[i] = da == 1 ? 0 : astride;
    p->b_batch_stride[i] = db == 1 ? 0 : bstride;
    astride *= da;
    bstride *= db;
  }
  for (int i = 0; i < batch; i++) {
    ydims[yr++] = p->batch[i];
  }
  if (a->rank > 1) {
    ydims[yr++] = p->m;
  }
  if (b->rank > 1) {
    ydims[yr++] = p->n;
  }
  return cn_set_output(d, g, n, 0, CNNRT_F32, yr, ydims);
}

bool cn_infer_gemm(cn_graph *g, cn_node *n, cn_diag *d) {
  return n->op == CN_OP_GEMM ? infer_gemm(g, n, d) : infer_matmul(g, n, d);
}

static void sync_epilogue(cn_node *n) {
  if (n->op == CN_OP_GEMM) {
    cnnrt_gemm_params *p = n->params;
    p->act = n->act;
    p->act_alpha = n->act_alpha;
    p->act_beta = n->act_beta;
  }
}

bool cn_eval_gemm(cn_graph *g, cn_node *n) {
  sync_epilogue(n);
  cn_fold_outputs(g, n);
  const cn_value *c = cn_in(g, n, 2);
  if (n->op == CN_OP_GEMM) {
    cnnrt_f32_gemm_ref(n->params, cn_in(g, n, 0)->data, cn_in(g, n, 1)->data,
                       c ? c->data : NULL, cn_out(g, n, 0)->data);
  } else {
    cnnrt_f32_matmul_ref(n->params, cn_in(g, n, 0)->data, cn_in(g, n, 1)->data,
                         cn_out(g, n, 0)->data);
  }
  return true;
}

static const cn_field gemm_fields[] = {
    CN_I64(cnnrt_gemm_params, m),         CN_I64(cnnrt_gemm_params, n),
    CN_I64(cnnrt_gemm_params, k),         CN_I64(cnnrt_gemm_params, trans_a),
    CN_I64(cnnrt_gemm_params, trans_b),   CN_F32(cnnrt_gemm_params, alpha),
    CN_F32(cnnrt_gemm_params, beta),      CN_I64(cnnrt_gemm_params, c_rows),
    CN_I64(cnnrt_gemm_params, c_cols),    CN_I64(cnnrt_gemm_params, act),
    CN_F32(cnnrt_gemm_params, act_alpha), CN_F32(cnnrt_gemm_params, act_beta),
};
static const cn_field matmul_fields[] = {
    CN_I64(cnnrt_matmul_params, batch_rank),     CN_I64(cnnrt_matmul_params, batch),
    CN_I64(cnnrt_matmul_params, a_batch_stride), CN_I64(cnnrt_matmul_params, b_batch_stride),
    CN_I64(cnnrt_matmul_params, m),              CN_I64(cnnrt_matmul_params, n),
    CN_I64(cnnrt_matmul_params, k),
};

/* --gemm libxsmm (schedule.c, cn_pass_schedule_xsmm; B transposed there when transB was set):
 * libxsmm kernels split across the threads of `par`, the portable reference without AVX2. */
static void emit_gemm_xsmm(cn_emitter *e, const cn_node *n, const char *a, const char *b,
                           const char *c, const char *y) {
  const cnnrt_gemm_params *gp = n->params;
  cn_emit_use(e, CN_RT_XSMM | CN_RT_CONV | CN_RT_GEMM); /* cnnrt_xsmm.h includes both */
  bool transposed = gp->trans_a || gp->trans_b;
  /* Each branch declares the parameters it uses (-Wunused under -Werror). */
  const char *p = transposed ? NULL
                             : cn_emit_params(e, "cnnrt_gemm_params", CN_FIELDS(gemm_fields), gp);
  cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
  const char *px = p, *ax = a, *bx = b;
  if (transposed) {
    /* Operands known only at run time given transposed: transposed into scratch (schedule.c). */
    cnnrt_gemm_params q = *gp;
    q.trans_a = q.trans_b = 0;
    px = cn_emit_params(e, "cnnrt_gemm_params", CN_FIELDS(gemm_fields), &q);
    int64_t off = 0;
    if (gp->trans_a) {
      ax = cn_emit_scratch_at(e, n, 0, "float");
      cn_emit_line(e, "    cnnrt_xsmm_transpose(%lld, %lld, %s, %s);", (long long)gp->k,
                   (long long)gp->m, a, ax);
      off = (gp->m * gp->k * 4 + 63) / 64 * 64;
    }
    if (gp->trans_b) {
      bx = cn_emit_scratch_at(e, n, off, "float");
      cn_emit_line(e, "    cnnrt_xsmm_transpose(%lld, %lld, %s, %s);", (long long)gp->n,
                   (long long)gp->k, b, bx);
    }
  }
  cn_emit_line(e, "    cnnrt_f32_gemm_xsmm(%s, %s, %s, %s, %s, par);", px, ax, bx, c, y);
  cn_emit_line(e, "#else");
  if (transposed) {
    p = cn_emit_params(e, "cnnrt_gemm_params", CN_FIELDS(gemm_fields), gp);
  }
  cn_emit_line(e, "    cnnrt_f32_gemm_ref(%s, %s, %s, %s, %s);", p, a, b, c, y);
  cn_emit_line(e, "#endif");
}

void cn_emit_gemm(cn_emitter *e, cn_graph *g, cn_node *n) {
  (void)g;
  sync_epilogue(n);
  cn_emit_use(e, CN_RT_GEMM);
  if (n->op == CN_OP_GEMM && n->variant == CN_GEMM_XSMM) {
    emit_gemm_xsmm(e, n, cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]),
                   cn_emit_in(e, cn_has_input(n, 2) ? n->in[2] : -1), cn_emit_out(e, n->out[0]));
  } else if (n->op == CN_OP_GEMM) {
    const cnnrt_gemm_params *gp = n->params;
    const char *p = cn_emit_params(e, "cnnrt_gemm_params", CN_FIELDS(gemm_fields), n->params);
    const char *a = cn_emit_in(e, n->in[0]), *b = cn_emit_in(e, n->in[1]);
    const char *c = cn_emit_in(e, cn_has_input(n, 2) ? n->in[2] : -1), *y = cn_emit_out(e, n->out[0]);
    bool gemv = gp->m == 1 && !gp->trans_a && gp->trans_b; /* a fully connected layer, batch 1 */
    bool arm = e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7;
    if (gemv && arm) {
      cn_emit_use(e, CN_RT_GEMV_NEON);
      cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
      cn_emit_line(e, "    cnnrt_f32_gemv_t_neon(%s, %s, %s, %s, %s);", p, a, b, c, y);
      cn_emit_line(e, "#else");
    } else if (gemv && e->opt->target == CN_TARGET_X86_64) {
      cn_emit_use(e, CN_RT_GEMV_AVX2);
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      if (gp->n * gp->k >= CN_PARALLEL_MIN_WORK && gp->n >= 2) {
        /* Split over the outputs: a classifier's weights (8 MB in ResNet-50) are streamed at
         * memory speed by one core; two cores stream them in about half the time. */
        cn_emit_line(e, "    cnnrt_gemv_task t = {%s, %s, %s, %s, %s, 1};", p, a, b, c, y);
        cn_emit_line(e, "    t.n_tasks = par != NULL && par->run != NULL && par->threads > 1 ? "
                        "par->threads : 1;");
        cn_emit_line(e, "    cnnrt_parallel_for(par, cnnrt_gemv_t_avx2_task, &t, t.n_tasks);");
      } else {
        cn_emit_line(e, "    cnnrt_f32_gemv_t_avx2(%s, %s, %s, %s, %s);", p, a, b, c, y);
      }
      cn_emit_line(e, "#else");
    }
    cn_emit_line(e, "    cnnrt_f32_gemm_ref(%s, %s, %s, %s, %s);", p, a, b, c, y);
    if (gemv && (arm || e->opt->target == CN_TARGET_X86_64)) {
      cn_emit_line(e, "#endif");
    }
  } else {
    const char *p = cn_emit_params(e, "cnnrt_matmul_params", CN_FIELDS(matmul_fields), n->params);
    cn_emit_line(e, "    cnnrt_f32_matmul_ref(%s, %s, %s, %s);", p, cn_emit_in(e, n->in[0]),
                 cn_emit_in(e, n->in[1]), cn_emit_out(e, n->out[0]));
  }
}
