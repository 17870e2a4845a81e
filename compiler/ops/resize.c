/* resize.c — Resize (opsets 10, 11, 13) and Upsample (7, 9): every interpolation mode, nearest
 * rounding mode and coordinate transformation (runtime/cnnrt_resize.h). Scales, sizes and roi
 * must be compile-time constants. */
#include <stdio.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_resize.h"
#include "../ops.h"

static bool lookup(cn_diag *d, const cn_node *n, const char *attr, const char *value,
                   const char *const *names, int count, int64_t *out) {
  for (int i = 0; i < count; i++) {
    if (strcmp(value, names[i]) == 0) {
      *out = i;
      return true;
    }
  }
  cn_error_node(d, n, "%s '%s' is not supported", attr, value);
  return false;
}

/* A constant input that may be absent or empty (ONNX's way of leaving it out). */
static const cn_value *optional_const(cn_graph *g, const cn_node *n, int i) {
  const cn_value *v = cn_in(g, n, i);
  return v && cn_value_numel(v) > 0 ? v : NULL;
}

bool cn_infer_resize(cn_graph *g, cn_node *n, cn_diag *d) {
  if (!cn_check_arity(d, n, 1, 4, 1, 1)) {
    return false;
  }
  const cn_value *x = cn_in(g, n, 0);
  if (x->dtype != CNNRT_F32) {
    cn_error_node(d, n, "only float32 is supported, got %s", cn_dtype_name(x->dtype));
    return false;
  }
  for (int i = 1; i < n->n_in; i++) {
    static const char *const names[] = {"X", "roi", "scales", "sizes"};
    if (!cn_require_const(d, g, n, i, n->op == CN_OP_UPSAMPLE || n->opset < 11 ? "scales" : names[i])) {
      return false;
    }
  }
  cnnrt_resize_params *p = cn_node_params(n, sizeof *p);
  p->rank = x->rank;
  for (int a = 0; a < CNNRT_MAX_RANK; a++) {
    p->in[a] = p->out[a] = 1;
    p->scale[a] = 1.0f;
    p->roi_start[a] = 0.0f;
    p->roi_end[a] = 1.0f;
  }
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  const char *mode = cn_attr_string(n, "mode", "nearest");
  if (n->op == CN_OP_UPSAMPLE && strcmp(mode, "bilinear") == 0) {
    mode = "linear"; /* Upsample-7 accepted this spelling */
  }
  if (!lookup(d, n, "mode", mode, modes, 3, &p->mode)) {
    return false;
  }
  bool legacy = n->op == CN_OP_UPSAMPLE || n->opset < 11;
  if (legacy) {
    p->coord_mode = CNNRT_RESIZE_ASYMMETRIC;
    p->nearest_mode = CNNRT_RESIZE_SIMPLE;
    if (p->mode == CNNRT_RESIZE_CUBIC) {
      cn_error_node(d, n, "cubic mode needs Resize-11 or later");
      return false;
    }
  } else {
    static const char *const coords[] = {"half_pixel",           "asymmetric",
                                         "pytorch_half_pixel",   "tf_half_pixel_for_nearest",
                                         "align_corners",        "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
    if (!lookup(d, n, "coordinate_transformation_mode",
                cn_attr_string(n, "coordinate_transformation_mode", "half_pixel"), coords, 6,
                &p->coord_mode) ||
        !lookup(d, n, "nearest_mode", cn_attr_string(n, "nearest_mode", "round_prefer_floor"),
                nearest, 4, &p->nearest_mode)) {
      return false;
    }
    p->cubic_a = cn_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = cn_attr_int(n, "exclude_outside", 0);
    p->extrapolation_value = cn_attr_float(n, "extrapolation_value", 0.0f);
  }
  /* Where scales and sizes come from. */
  const cn_value *scales = NULL, *sizes = NULL, *roi = NULL;
  const float *attr_scales = NULL;
  int n_attr_scales = -1;
  if (n->op == CN_OP_UPSAMPLE && n->opset < 9) {
    n_attr_scales = cn_attr_floats(n, "scales", &attr_scales);
    if (n_attr_scales < 0) {
      cn_error_node(d, n, "attribute 'scales' is required");
      return false;
    }
  } else if (legacy) {
    scales = optional_const(g, n, 1);
  } else {
    roi = optional_const(g, n, 1);
    scales = optional_const(g, n, 2);
    sizes = optional_const(g, n, 3);
  }
  if (!attr_scales && !scales && !sizes) {
    cn_error_node(d, n, "needs either scales or sizes");
    return false;
  }
  if (scales && sizes) {
    cn_error_node(d, n, "takes scales or sizes, not both");
    return false;
  }
  int64_t count = attr_scales ? n_attr_scales : cn_value_numel(scales ? scales : sizes);
  if (count != x->rank) {
    cn_error_node(d, n, "%s has %lld entries for an input of rank %d", sizes ? "sizes" : "scales",
                  (long long)count, x->rank);
    return false;
  }
  if (roi && cn_value_numel(roi) != 2 * x->rank) {
    cn_error_node(d, n, "roi must have %d entries", 2 * x->rank);
    return false;
  }
  for (int a = 0; a < x->rank; a++) {
    p->in[a] = x->dims[a];
    if (sizes) {
      p->out[a] = cn_value_get_int(sizes, a);
      p->scale[a] = cnnrt_resize_scale_from_size(x->dims[a], p->out[a]);
      p->from_sizes = 1;
    } else {
      float s = attr_scales ? attr_scales[a] : (float)cn_value_get_float(scales, a);
      if (!(s > 0.0f) || s > 1e6f) {
        cn_error_node(d, n, "scale %g on axis %d is not a positive number", (double)s, a);
        return false;
      }
      p->scale[a] = s;
      p->out[a] = cnnrt_resize_out_dim(x->dims[a], s);
    }
    if (roi) {
      p->roi_start[a] = (float)cn_value_get_float(roi, a);
      p->roi_end[a] = (float)cn_value_get_float(roi, x->rank + a);
    }
  }
  return cn_set_output(d, g, n, 0, CNNRT_F32, x->rank, p->out);
}

bool cn_eval_resize(cn_graph *g, cn_node *n) {
  cn_fold_outputs(g, n);
  cnnrt_f32_resize_ref(n->params, cn_in(g, n, 0)->data, cn_out(g, n, 0)->data);
  return true;
}

static const cn_field resize_fields[] = {
    CN_I64(cnnrt_resize_params, rank),         CN_I64(cnnrt_resize_params, in),
    CN_I64(cnnrt_resize_params, out),          CN_F32(cnnrt_resize_params, scale),
    CN_F32(cnnrt_resize_params, roi_start),    CN_F32(cnnrt_resize_params, roi_end),
    CN_I64(cnnrt_resize_params, mode),         CN_I64(cnnrt_resize_params, nearest_mode),
    CN_I64(cnnrt_resize_params, coord_mode),   CN_F32(cnnrt_resize_params, cubic_a),
    CN_I64(cnnrt_resize_params, exclude_outside), CN_F32(cnnrt_resize_params, extrapolation_value),
    CN_I64(cnnrt_resize_params, from_sizes),
};

/* The AVX2 / NEON forms (runtime/cnnrt_resize_{avx2,neon}.h) where the target has them. */
void cn_emit_resize(cn_emitter *e, cn_graph *g, cn_node *n) {
  (void)g;
  cn_emit_use(e, CN_RT_RESIZE);
  const char *p = cn_emit_params(e, "cnnrt_resize_params", CN_FIELDS(resize_fields), n->params);
  char args[512]; /* (value expressions are short) */
  snprintf(args, sizeof args, "%s, %s, %s", p, cn_emit_in(e, n->in[0]), cn_emit_out(e, n->out[0]));
  cn_emit_simd_call(e, CN_RT_RESIZE_SIMD, CN_RT_RESIZE_SIMD, "resize", args, true);
}
