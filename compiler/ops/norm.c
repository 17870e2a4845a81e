/* norm.c — normalisation and softmax: BatchNormalization (inference and training mode),
 * InstanceNormalization, LayerNormalization, LRN, Softmax, LogSoftmax, Hardmax and the internal
 * per-channel affine op that unfused BatchNormalization becomes (runtime/cnnrt_norm.h). */
#include <stdio.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_norm.h"
#include "../ops.h"

/* Geometry shared by the family: an input viewed as [n, c, spatial] or [outer, axis, inner]. */
typedef struct norm_params {
  int64_t n, c, spatial;
  int64_t outer, axis_len, inner;
  float eps, momentum;
  float alpha, beta, bias; /* LRN */
  int64_t size;            /* LRN */
  int64_t training;        /* BatchNormalization training_mode */
} norm_params;

static bool check_channel_param(cn_diag *d, const cn_node *n, const cn_value *v, int64_t c,
                                const char *what) {
  if (!v || cn_value_numel(v) != c || v->dtype != CNNRT_F32) {
    cn_error_node(d, n, "'%s' must be a float32 tensor of %lld values (one per channel)", what,
                  (long long)c);
    return false;
  }
  return true;
}

static bool infer_channelwise(cn_graph *g, cn_node *n, cn_diag *d, norm_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  if (x->rank < 2) {
    cn_error_node(d, n, "expects an input of rank >= 2 (N, C, ...)");
    return false;
  }
  p->n = x->dims[0];
  p->c = x->dims[1];
  p->spatial = cn_numel(x->rank - 2, x->dims + 2);
  return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims);
}

bool cn_infer_norm(cn_graph *g, cn_node *n, cn_diag *d) {
  norm_params *p = cn_node_params(n, sizeof *p);
  const cn_value *x = n->n_in > 0 ? cn_in(g, n, 0) : NULL;
  if (x && x->dtype != CNNRT_F32) {
    cn_error_node(d, n, "only float32 is supported, got %s", cn_dtype_name(x->dtype));
    return false;
  }
  p->eps = cn_attr_float(n, "epsilon", 1e-5f);
  switch (n->op) {
  case CN_OP_BATCH_NORM: {
    if (!cn_check_arity(d, n, 5, 5, 1, 5) || !infer_channelwise(g, n, d, p)) {
      return false;
    }
    static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
      if (!check_channel_param(d, n, cn_in(g, n, i), p->c, names[i])) {
        return false;
      }
    }
    p->momentum = cn_attr_float(n, "momentum", 0.9f);
    p->training = cn_attr_int(n, "training_mode", 0);
    if (n->opset < 9 && cn_attr_int(n, "spatial", 1) == 0) {
      cn_error_node(d, n, "spatial=0 (per-activation statistics) is not supported");
      return false;
    }
    if (!p->training && n->n_out > 1) {
      for (int o = 1; o < n->n_out; o++) {
        if (n->out[o] >= 0 && n->opset >= 14) {
          cn_error_node(d, n, "has training outputs but training_mode is 0");
          return false;
        }
      }
    }
    for (int o = 1; o < n->n_out && o < 3; o++) {
      int64_t c = p->c;
      if (!cn_set_output(d, g, n, o, CNNRT_F32, 1, &c)) {
        return false;
      }
    }
    if (n->n_out > 3) { /* saved mean / var of opset < 14 */
      for (int o = 3; o < n->n_out; o++) {
        int64_t c = p->c;
        if (!cn_set_output(d, g, n, o, CNNRT_F32, 1, &c)) {
          return false;
        }
      }
    }
    if (n->opset < 14 && n->n_out > 1) {
      p->training = 1; /* older opsets signal training by asking for the statistics */
    }
    return true;
  }
  case CN_OP_CHANNEL_AFFINE:
    return cn_check_arity(d, n, 3, 3, 1, 1) && infer_channelwise(g, n, d, p);
  case CN_OP_INSTANCE_NORM:
    if (!cn_check_arity(d, n, 3, 3, 1, 1) || !infer_channelwise(g, n, d, p)) {
      return false;
    }
    return check_channel_param(d, n, cn_in(g, n, 1), p->c, "scale") &&
           check_channel_param(d, n, cn_in(g, n, 2), p->c, "B");
  case CN_OP_LRN: {
    if (!cn_check_arity(d, n, 1, 1, 1, 1) || !infer_channelwise(g, n, d, p)) {
      return false;
    }
    p->size = cn_attr_int(n, "size", 0);
    p->alpha = cn_attr_float(n, "alpha", 1e-4f);
    p->beta = cn_attr_float(n, "beta", 0.75f);
    p->bias = cn_attr_float(n, "bias", 1.0f);
    if (p->size < 1) {
      cn_error_node(d, n, "attribute 'size' must be positive");
      return false;
    }
    return true;
  }
  case CN_OP_LAYER_NORM: {
    if (!cn_check_arity(d, n, 2, 3, 1, 3)) {
      return false;
    }
    int axis;
    if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", -1), x->rank, &axis)) {
      return false;
    }
    p->outer = cn_numel(axis, x->dims);
    p->inner = cn_numel(x->rank - axis, x->dims + axis);
    for (int i = 1; i < 3; i++) {
      const cn_value *v = cn_in(g, n, i);
      if (v && (cn_value_numel(v) != p->inner || v->dtype != CNNRT_F32)) {
        cn_error_node(d, n, "'%s' must have %lld float32 values (the normalized shape)",
                      i == 1 ? "Scale" : "B", (long long)p->inner);
        return false;
      }
    }
    int64_t stat[CN_MAX_RANK];
    for (int k = 0; k < x->rank; k++) {
      stat[k] = k < axis ? x->dims[k] : 1;
    }
    return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims) &&
           cn_set_output(d, g, n, 1, CNNRT_F32, x->rank, stat) &&
           cn_set_output(d, g, n, 2, CNNRT_F32, x->rank, stat);
  }
  case CN_OP_SOFTMAX:
  case CN_OP_LOG_SOFTMAX:
  case CN_OP_HARDMAX: {
    if (!cn_check_arity(d, n, 1, 1, 1, 1)) {
      return false;
    }
    int axis;
    if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", n->opset < 13 ? 1 : -1), x->rank, &axis)) {
      return false;
    }
    p->outer = cn_numel(axis, x->dims);
    if (n->opset < 13) { /* coerced to 2-D at axis */
      p->axis_len = cn_numel(x->rank - axis, x->dims + axis);
      p->inner = 1;
    } else {
      p->axis_len = x->dims[axis];
      p->inner = cn_numel(x->rank - axis - 1, x->dims + axis + 1);
    }
    return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, x->dims);
  }
  default:
    CN_UNREACHABLE();
  }
}

static const float *fdata(cn_graph *g, cn_node *n, int i) {
  const cn_value *v = cn_in(g, n, i);
  return v ? v->data : NULL;
}
static float *fout(cn_graph *g, cn_node *n, int i) {
  cn_value *v = cn_out(g, n, i);
  return v ? v->data : NULL;
}

bool cn_eval_norm(cn_graph *g, cn_node *n) {
  const norm_params *p = n->params;
  cn_fold_outputs(g, n);
  const float *x = fdata(g, n, 0);
  float *y = fout(g, n, 0);
  switch (n->op) {
  case CN_OP_BATCH_NORM:
    if (p->training) {
      cnnrt_f32_batchnorm_train_ref(p->n, p->c, p->spatial, p->eps, p->momentum, x, fdata(g, n, 1),
                                    fdata(g, n, 2), fdata(g, n, 3), fdata(g, n, 4), y,
                                    fout(g, n, 1), fout(g, n, 2));
    } else {
      cnnrt_f32_batchnorm_ref(p->n, p->c, p->spatial, p->eps, x, fdata(g, n, 1), fdata(g, n, 2),
                              fdata(g, n, 3), fdata(g, n, 4), y);
    }
    break;
  case CN_OP_CHANNEL_AFFINE:
    cnnrt_f32_channel_affine_ref(p->n, p->c, p->spatial, x, fdata(g, n, 1), fdata(g, n, 2), y);
    break;
  case CN_OP_INSTANCE_NORM:
    cnnrt_f32_instancenorm_ref(p->n, p->c, p->spatial, p->eps, x, fdata(g, n, 1), fdata(g, n, 2), y);
    break;
  case CN_OP_LRN:
    cnnrt_f32_lrn_ref(p->n, p->c, p->spatial, p->size, p->alpha, p->beta, p->bias, x, y);
    break;
  case CN_OP_LAYER_NORM:
    cnnrt_f32_layernorm_ref(p->outer, p->inner, p->eps, x, fdata(g, n, 1), fdata(g, n, 2), y,
                            fout(g, n, 1), fout(g, n, 2));
    break;
  case CN_OP_SOFTMAX: cnnrt_f32_softmax_ref(p->outer, p->axis_len, p->inner, x, y); break;
  case CN_OP_LOG_SOFTMAX: cnnrt_f32_logsoftmax_ref(p->outer, p->axis_len, p->inner, x, y); break;
  case CN_OP_HARDMAX: cnnrt_f32_hardmax_ref(p->outer, p->axis_len, p->inner, x, y); break;
  default: CN_UNREACHABLE();
  }
  return true;
}

static const char *in_or_null(cn_emitter *e, cn_node *n, int i) {
  return cn_emit_in(e, cn_has_input(n, i) ? n->in[i] : -1);
}
static const char *out_or_null(cn_emitter *e, cn_node *n, int i) {
  return cn_emit_out(e, i < n->n_out ? n->out[i] : -1);
}

void cn_emit_norm(cn_emitter *e, cn_graph *g, cn_node *n) {
  (void)g;
  const norm_params *p = n->params;
  cn_emit_use(e, CN_RT_NORM);
  const char *x = cn_emit_in(e, n->in[0]), *y = cn_emit_out(e, n->out[0]);
  long long N = p->n, C = p->c, S = p->spatial;
  char args[2048]; /* a kernel's argument list (value expressions are short) */
  switch (n->op) {
  case CN_OP_BATCH_NORM:
    if (p->training) {
      snprintf(args, sizeof args, "%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s", N, C,
               S, cn_emit_float(e, p->eps), cn_emit_float(e, p->momentum), x, in_or_null(e, n, 1),
               in_or_null(e, n, 2), in_or_null(e, n, 3), in_or_null(e, n, 4), y,
               out_or_null(e, n, 1), out_or_null(e, n, 2));
      cn_emit_simd_call(e, CN_RT_NORM_AVX2, CN_RT_NORM_NEON, "batchnorm_train", args, true);
    } else {
      snprintf(args, sizeof args, "%lld, %lld, %lld, %s, %s, %s, %s, %s, %s, %s", N, C, S,
               cn_emit_float(e, p->eps), x, in_or_null(e, n, 1), in_or_null(e, n, 2),
               in_or_null(e, n, 3), in_or_null(e, n, 4), y);
      cn_emit_simd_call(e, CN_RT_NORM_AVX2, CN_RT_NORM_NEON, "batchnorm", args, true);
    }
    break;
  case CN_OP_CHANNEL_AFFINE:
    snprintf(args, sizeof args, "%lld, %lld, %lld, %s, %s, %s, %s", N, C, S, x,
             in_or_null(e, n, 1), in_or_null(e, n, 2), y);
    cn_emit_simd_call(e, CN_RT_NORM_AVX2, CN_RT_NORM_NEON, "channel_affine", args, true);
    break;
  case CN_OP_INSTANCE_NORM:
    snprintf(args, sizeof args, "%lld, %lld, %lld, %s, %s, %s, %s, %s", N, C, S,
             cn_emit_float(e, p->eps), x, in_or_null(e, n, 1), in_or_null(e, n, 2), y);
    cn_emit_simd_call(e, CN_RT_NORM_AVX2, CN_RT_NORM_NEON, "instancenorm", args, true);
    break;
  case CN_OP_LRN:
    cn_emit_line(e, "    cnnrt_f32_lrn_ref(%lld, %lld, %lld, %lld, %s, %s, %s, %s, %s);", N, C, S,
                 (long long)p->size, cn_emit_float(e, p->alpha), cn_emit_float(e, p->beta),
                 cn_emit_float(e, p->bias), x, y);
    break;
  case CN_OP_LAYER_NORM:
    snprintf(args, sizeof args, "%lld, %lld, %s, %s, %s, %s, %s, %s, %s", (long long)p->outer,
             (long long)p->inner, cn_emit_float(e, p->eps), x, in_or_null(e, n, 1),
             in_or_null(e, n, 2), y, out_or_null(e, n, 1), out_or_null(e, n, 2));
    cn_emit_simd_call(e, CN_RT_NORM_AVX2, CN_RT_NORM_NEON, "layernorm", args, true);
    break;
  case CN_OP_SOFTMAX:
  case CN_OP_LOG_SOFTMAX:
  case CN_OP_HARDMAX: {
    const char *fn = n->op == CN_OP_SOFTMAX ? "softmax" : n->op == CN_OP_LOG_SOFTMAX ? "logsoftmax" : "hardmax";
    if (n->op == CN_OP_SOFTMAX && p->inner == 1 &&
        (e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7)) {
      cn_emit_use(e, CN_RT_ACT_NEON);
      cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
      cn_emit_line(e, "    cnnrt_f32_softmax_neon(%lld, %lld, %s, %s);", (long long)p->outer,
                   (long long)p->axis_len, x, y);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_softmax_ref(%lld, %lld, 1, %s, %s);", (long long)p->outer,
                   (long long)p->axis_len, x, y);
      cn_emit_line(e, "#endif");
      break;
    }
    if (n->op == CN_OP_SOFTMAX && p->inner == 1 && e->opt->target == CN_TARGET_X86_64) {
      cn_emit_use(e, CN_RT_ACT_AVX2);
      cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
      cn_emit_line(e, "    cnnrt_f32_softmax_avx2(%lld, %lld, %s, %s);", (long long)p->outer,
                   (long long)p->axis_len, x, y);
      cn_emit_line(e, "#else");
      cn_emit_line(e, "    cnnrt_f32_softmax_ref(%lld, %lld, 1, %s, %s);", (long long)p->outer,
                   (long long)p->axis_len, x, y);
      cn_emit_line(e, "#endif");
      break;
    }
    cn_emit_line(e, "    cnnrt_f32_%s_ref(%lld, %lld, %lld, %s, %s);", fn, (long long)p->outer,
                 (long long)p->axis_len, (long long)p->inner, x, y);
    break;
  }
  default: CN_UNREACHABLE();
  }
}
