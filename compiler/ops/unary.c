/* unary.c — one-input elementwise ops: activations, math functions, Clip, Not and Cast
 * (runtime/cnnrt_elementwise.h). Each maps to a kernel `cnnrt_<type>_<name>(n, x, [a, [b,]] y)`. */
#include <math.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_elementwise.h"
#include "../ops.h"

typedef struct unary_info {
  const char *kernel; /* kernel name part, e.g. "leaky_relu" */
  int n_params;       /* scalar parameters after x */
  bool ints;          /* also defined for signed integers */
} unary_info;

static unary_info info_of(cn_op op) {
  switch (op) {
  case CN_OP_RELU: return (unary_info){"relu", 0, true};
  case CN_OP_LEAKY_RELU: return (unary_info){"leaky_relu", 1, false};
  case CN_OP_ELU: return (unary_info){"elu", 1, false};
  case CN_OP_SELU: return (unary_info){"selu", 2, false};
  case CN_OP_CELU: return (unary_info){"celu", 1, false};
  case CN_OP_SIGMOID: return (unary_info){"sigmoid", 0, false};
  case CN_OP_HARD_SIGMOID: return (unary_info){"hard_sigmoid", 2, false};
  case CN_OP_HARD_SWISH: return (unary_info){"hard_swish", 0, false};
  case CN_OP_TANH: return (unary_info){"tanh", 0, false};
  case CN_OP_SOFTPLUS: return (unary_info){"softplus", 0, false};
  case CN_OP_SOFTSIGN: return (unary_info){"softsign", 0, false};
  case CN_OP_ERF: return (unary_info){"erf", 0, false};
  case CN_OP_MISH: return (unary_info){"mish", 0, false};
  case CN_OP_THRESHOLDED_RELU: return (unary_info){"thresholded_relu", 1, false};
  case CN_OP_CLIP: return (unary_info){"clip", 2, true};
  case CN_OP_SQRT: return (unary_info){"sqrt", 0, false};
  case CN_OP_RECIPROCAL: return (unary_info){"reciprocal", 0, false};
  case CN_OP_EXP: return (unary_info){"exp", 0, false};
  case CN_OP_LOG: return (unary_info){"log", 0, false};
  case CN_OP_ABS: return (unary_info){"abs", 0, true};
  case CN_OP_NEG: return (unary_info){"neg", 0, true};
  case CN_OP_FLOOR: return (unary_info){"floor", 0, false};
  case CN_OP_CEIL: return (unary_info){"ceil", 0, false};
  case CN_OP_NOT: return (unary_info){"not", 0, false};
  default: return (unary_info){"cast", 0, true};
  }
}

/* Scalar attributes with ONNX's defaults. */
static void attrs_of(const cn_node *n, float *a, float *b) {
  *a = 0.0f;
  *b = 0.0f;
  switch (n->op) {
  case CN_OP_LEAKY_RELU: *a = cn_attr_float(n, "alpha", 0.01f); break;
  case CN_OP_ELU:
  case CN_OP_CELU:
  case CN_OP_THRESHOLDED_RELU: *a = cn_attr_float(n, "alpha", 1.0f); break;
  case CN_OP_SELU:
    *a = cn_attr_float(n, "alpha", 1.67326319217681884765625f);
    *b = cn_attr_float(n, "gamma", 1.05070102214813232421875f);
    break;
  case CN_OP_HARD_SIGMOID:
    *a = cn_attr_float(n, "alpha", 0.2f);
    *b = cn_attr_float(n, "beta", 0.5f);
    break;
  case CN_OP_CLIP:
    *a = cn_attr_float(n, "min", -INFINITY);
    *b = cn_attr_float(n, "max", INFINITY);
    break;
  default: break;
  }
}

static bool is_signed_int(cn_dtype t) {
  return t == CNNRT_I8 || t == CNNRT_I16 || t == CNNRT_I32 || t == CNNRT_I64;
}
static bool is_unsigned_int(cn_dtype t) {
  return t == CNNRT_U8 || t == CNNRT_U16 || t == CNNRT_U32 || t == CNNRT_U64;
}

bool cn_infer_unary(cn_graph *g, cn_node *n, cn_diag *d) {
  bool clip_inputs = n->op == CN_OP_CLIP && n->opset >= 11;
  if (!cn_check_arity(d, n, 1, clip_inputs ? 3 : 1, 1, 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0);
  cn_dtype out = x->dtype;
  if (n->op == CN_OP_CAST) {
    const cn_attr *to = cn_attr_find(n, "to");
    if (!to || to->type != CN_ATTR_INT || cn_dtype_size((cn_dtype)to->i) == 0) {
      cn_error_node(d, n, "attribute 'to' is missing or names an unsupported type");
      return false;
    }
    out = (cn_dtype)to->i;
    if (cn_dtype_size(x->dtype) == 0) {
      cn_error_node(d, n, "cannot cast from %s", cn_dtype_name(x->dtype));
      return false;
    }
  } else if (n->op == CN_OP_NOT) {
    if (x->dtype != CNNRT_BOOL) {
      cn_error_node(d, n, "expects a bool input, got %s", cn_dtype_name(x->dtype));
      return false;
    }
  } else {
    unary_info in = info_of(n->op);
    bool ok = x->dtype == CNNRT_F32 || x->dtype == CNNRT_F64;
    ok |= in.ints && is_signed_int(x->dtype) ;
    ok |= (n->op == CN_OP_ABS || n->op == CN_OP_CLIP) && is_unsigned_int(x->dtype);
    if (!ok) {
      cn_error_node(d, n, "%s inputs are not supported", cn_dtype_name(x->dtype));
      return false;
    }
    for (int i = 1; i < n->n_in; i++) {
      const cn_value *v = cn_in(g, n, i);
      if (v && (v->dtype != x->dtype || cn_value_numel(v) != 1)) {
        cn_error_node(d, n, "min and max must be scalars of the input's type");
        return false;
      }
    }
  }
  return cn_set_output(d, g, n, 0, out, x->rank, x->dims);
}

bool cn_eval_unary(cn_graph *g, cn_node *n) {
  const cn_value *x = cn_in(g, n, 0);
  cn_value *y = cn_out(g, n, 0);
  int64_t count = cn_value_numel(x);
  if (n->op == CN_OP_CAST) {
    cn_fold_outputs(g, n);
    cnnrt_cast(count, x->dtype, x->data, y->dtype, y->data);
    return true;
  }
  bool foldable = n->op == CN_OP_RELU || n->op == CN_OP_SIGMOID || n->op == CN_OP_TANH ||
                  n->op == CN_OP_SQRT || n->op == CN_OP_RECIPROCAL || n->op == CN_OP_EXP ||
                  n->op == CN_OP_LOG || n->op == CN_OP_ABS || n->op == CN_OP_NEG ||
                  n->op == CN_OP_FLOOR || n->op == CN_OP_CEIL || n->op == CN_OP_ERF;
  if (x->dtype != CNNRT_F32 || !foldable) {
    return false; /* other folds are rare: computed at run time */
  }
  cn_fold_outputs(g, n);
  const float *xs = x->data;
  float *ys = y->data;
  switch (n->op) {
  case CN_OP_RELU: cnnrt_f32_relu(count, xs, ys); break;
  case CN_OP_SIGMOID: cnnrt_f32_sigmoid(count, xs, ys); break;
  case CN_OP_TANH: cnnrt_f32_tanh(count, xs, ys); break;
  case CN_OP_SQRT: cnnrt_f32_sqrt(count, xs, ys); break;
  case CN_OP_RECIPROCAL: cnnrt_f32_reciprocal(count, xs, ys); break;
  case CN_OP_EXP: cnnrt_f32_exp(count, xs, ys); break;
  case CN_OP_LOG: cnnrt_f32_log(count, xs, ys); break;
  case CN_OP_ABS: cnnrt_f32_abs(count, xs, ys); break;
  case CN_OP_NEG: cnnrt_f32_neg(count, xs, ys); break;
  case CN_OP_FLOOR: cnnrt_f32_floor(count, xs, ys); break;
  case CN_OP_CEIL: cnnrt_f32_ceil(count, xs, ys); break;
  case CN_OP_ERF: cnnrt_f32_erf(count, xs, ys); break;
  default: CN_UNREACHABLE();
  }
  return true;
}

/* Ops with a vectorized x86 kernel in runtime/cnnrt_act_avx2.h (accurate to ~3e-7). */
static bool has_avx2_kernel(cn_op op) {
  return op == CN_OP_RELU || op == CN_OP_SIGMOID || op == CN_OP_TANH || op == CN_OP_ERF ||
         op == CN_OP_EXP || op == CN_OP_HARD_SWISH || op == CN_OP_MISH;
}

/* The C expression for Clip's bound i (1 = min, 2 = max), defaulting to the type's range. */
static const char *clip_bound(cn_emitter *e, cn_graph *g, cn_node *n, int i, float attr) {
  const cn_value *x = cn_in(g, n, 0);
  if (n->opset >= 11 && cn_has_input(n, i)) {
    return cn_emit_str(e, "(%s)[0]", cn_emit_in(e, n->in[i]));
  }
  if (x->dtype == CNNRT_F32 || x->dtype == CNNRT_F64) {
    return cn_emit_float(e, n->opset >= 11 ? (i == 1 ? -INFINITY : INFINITY) : attr);
  }
  static const struct {
    cn_dtype t;
    const char *lo, *hi;
  } limits[] = {{CNNRT_I8, "INT8_MIN", "INT8_MAX"},       {CNNRT_I16, "INT16_MIN", "INT16_MAX"},
                {CNNRT_I32, "INT32_MIN", "INT32_MAX"},    {CNNRT_I64, "INT64_MIN", "INT64_MAX"},
                {CNNRT_U8, "0", "UINT8_MAX"},             {CNNRT_U16, "0", "UINT16_MAX"},
                {CNNRT_U32, "0", "UINT32_MAX"},           {CNNRT_U64, "0", "UINT64_MAX"}};
  for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
    if (limits[k].t == x->dtype) {
      return i == 1 ? limits[k].lo : limits[k].hi;
    }
  }
  CN_UNREACHABLE();
}

void cn_emit_unary(cn_emitter *e, cn_graph *g, cn_node *n) {
  const cn_value *x = cn_in(g, n, 0);
  const cn_value *y = cn_out(g, n, 0);
  long long count = (long long)cn_value_numel(x);
  cn_emit_use(e, CN_RT_ELEMENTWISE);
  if (n->op == CN_OP_CAST) {
    if (x->dtype == y->dtype) {
      cn_emit_line(e, "    memcpy(%s, %s, %lld);", cn_emit_out_void(e, n->out[0]),
                   cn_emit_in_void(e, n->in[0]), (long long)cn_value_bytes(y));
    } else {
      cn_emit_line(e, "    (void)cnnrt_cast(%lld, %d, %s, %d, %s);", count, (int)x->dtype,
                   cn_emit_in_void(e, n->in[0]), (int)y->dtype, cn_emit_out_void(e, n->out[0]));
    }
    return;
  }
  unary_info in = info_of(n->op);
  float a, b;
  attrs_of(n, &a, &b);
  const char *t = cn_dtype_suffix(x->dtype);
  const char *xs = cn_emit_in(e, n->in[0]), *ys = cn_emit_out(e, n->out[0]);
  if (n->op == CN_OP_CLIP) {
    cn_emit_line(e, "    cnnrt_%s_clip(%lld, %s, %s, %s, %s);", t, count, xs,
                 clip_bound(e, g, n, 1, a), clip_bound(e, g, n, 2, b), ys);
  } else if (in.n_params == 0 && x->dtype == CNNRT_F32 && has_avx2_kernel(n->op) &&
             (e->opt->target == CN_TARGET_AARCH64 || e->opt->target == CN_TARGET_ARMV7)) {
    /* the same ops have NEON kernels (runtime/cnnrt_act_neon.h) */
    cn_emit_use(e, CN_RT_ACT_NEON);
    cn_emit_line(e, "#if defined(__ARM_NEON) || defined(__ARM_NEON__)");
    cn_emit_line(e, "    cnnrt_f32_%s_neon(%lld, %s, %s);", in.kernel, count, xs, ys);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_%s(%lld, %s, %s);", in.kernel, count, xs, ys);
    cn_emit_line(e, "#endif");
  } else if (in.n_params == 0 && x->dtype == CNNRT_F32 && has_avx2_kernel(n->op) &&
             e->opt->target == CN_TARGET_X86_64) {
    cn_emit_use(e, CN_RT_ACT_AVX2);
    cn_emit_line(e, "#if defined(__AVX2__) && defined(__FMA__)");
    cn_emit_line(e, "    cnnrt_f32_%s_avx2(%lld, %s, %s);", in.kernel, count, xs, ys);
    cn_emit_line(e, "#else");
    cn_emit_line(e, "    cnnrt_f32_%s(%lld, %s, %s);", in.kernel, count, xs, ys);
    cn_emit_line(e, "#endif");
  } else if (in.n_params == 0) {
    cn_emit_line(e, "    cnnrt_%s_%s(%lld, %s, %s);", t, in.kernel, count, xs, ys);
  } else if (in.n_params == 1) {
    cn_emit_line(e, "    cnnrt_%s_%s(%lld, %s, %s, %s);", t, in.kernel, count, xs,
                 cn_emit_float(e, a), ys);
  } else {
    cn_emit_line(e, "    cnnrt_%s_%s(%lld, %s, %s, %s, %s);", t, in.kernel, count, xs,
                 cn_emit_float(e, a), cn_emit_float(e, b), ys);
  }
}
