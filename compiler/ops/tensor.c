/* tensor.c — data movement: Transpose, Concat, Split, Slice, Pad, Tile, Expand, Gather,
 * DepthToSpace, SpaceToDepth (runtime/cnnrt_tensor.h). All are type-agnostic byte movers; the
 * shape-like inputs (Slice starts, Pad pads, Tile repeats, ...) must be compile-time constants. */
#include <stdlib.h>
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_tensor.h"
#include "../ops.h"

/* Resolved parameters of every op of the family (only the part an op uses is filled). */
typedef struct tensor_params {
  cnnrt_transpose_params transpose;
  cnnrt_slice_params slice;
  cnnrt_pad_params pad;
  cnnrt_tile_params tile;
  cnnrt_expand_params expand;
  int axis;                 /* Concat, Split, Gather */
  int64_t blocksize, crd;   /* DepthToSpace / SpaceToDepth */
  int64_t pad_value_bytes;  /* Pad: constant value given as an attribute (opset < 11) */
  unsigned char pad_value[8];
} tensor_params;

static bool infer_transpose(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  const int64_t *perm;
  int np = cn_attr_ints(n, "perm", &perm);
  int64_t dims[CN_MAX_RANK];
  bool seen[CN_MAX_RANK] = {false};
  p->transpose.rank = x->rank;
  p->transpose.elem_size = cn_dtype_size(x->dtype);
  if (np >= 0 && np != x->rank) {
    cn_error_node(d, n, "perm has %d entries for an input of rank %d", np, x->rank);
    return false;
  }
  for (int i = 0; i < x->rank; i++) {
    int64_t a = np >= 0 ? perm[i] : x->rank - 1 - i;
    if (a < 0) {
      a += x->rank;
    }
    if (a < 0 || a >= x->rank || seen[a]) {
      cn_error_node(d, n, "perm is not a permutation of 0..%d", x->rank - 1);
      return false;
    }
    seen[a] = true;
    p->transpose.perm[i] = a;
    p->transpose.in[i] = x->dims[i];
    dims[i] = x->dims[a];
  }
  return cn_set_output(d, g, n, 0, x->dtype, x->rank, dims);
}

static bool infer_concat(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  if (n->n_in < 1) {
    cn_error_node(d, n, "needs at least one input");
    return false;
  }
  const cn_value *x0 = cn_in(g, n, 0);
  if (!cn_attr_find(n, "axis")) {
    cn_error_node(d, n, "attribute 'axis' is required");
    return false;
  }
  int axis;
  if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", 0), x0->rank, &axis)) {
    return false;
  }
  int64_t dims[CN_MAX_RANK];
  memcpy(dims, x0->dims, sizeof dims);
  dims[axis] = 0;
  for (int i = 0; i < n->n_in; i++) {
    const cn_value *x = cn_in(g, n, i);
    if (!x) {
      cn_error_node(d, n, "input %d is missing", i);
      return false;
    }
    bool ok = x->rank == x0->rank && x->dtype == x0->dtype;
    for (int k = 0; ok && k < x->rank; k++) {
      ok = k == axis || x->dims[k] == x0->dims[k];
    }
    if (!ok) {
      char s1[160], s2[160];
      cn_error_node(d, n, "input %d of shape %s does not match input 0 of shape %s outside "
                          "axis %d",
                    i, cn_shape_str(x->rank, x->dims, s1, sizeof s1),
                    cn_shape_str(x0->rank, x0->dims, s2, sizeof s2), axis);
      return false;
    }
    dims[axis] += x->dims[axis];
  }
  p->axis = axis;
  return cn_set_output(d, g, n, 0, x0->dtype, x0->rank, dims);
}

static bool infer_split(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  int axis;
  if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", 0), x->rank, &axis)) {
    return false;
  }
  p->axis = axis;
  int64_t sizes[64];
  int count = n->n_out;
  if (count > 64) {
    cn_error_node(d, n, "at most 64 outputs are supported");
    return false;
  }
  const int64_t *attr;
  int na = n->opset < 13 ? cn_attr_ints(n, "split", &attr) : -1;
  if (na >= 0) {
    if (na != count) {
      cn_error_node(d, n, "'split' has %d entries for %d outputs", na, count);
      return false;
    }
    memcpy(sizes, attr, sizeof(int64_t) * (size_t)count);
  } else if (n->opset >= 13 && cn_has_input(n, 1)) {
    if (!cn_require_const(d, g, n, 1, "split")) {
      return false;
    }
    if (cn_value_numel(cn_in(g, n, 1)) != count) {
      cn_error_node(d, n, "'split' has %lld entries for %d outputs",
                    (long long)cn_value_numel(cn_in(g, n, 1)), count);
      return false;
    }
    cn_const_ints(g, n, 1, sizes, 64);
  } else {
    int64_t len = x->dims[axis];
    int64_t chunk = (len + count - 1) / count;
    for (int i = 0; i < count; i++) {
      int64_t left = len - chunk * i;
      sizes[i] = left < 0 ? 0 : (left < chunk ? left : chunk);
    }
  }
  int64_t total = 0;
  for (int i = 0; i < count; i++) {
    if (sizes[i] < 0) {
      cn_error_node(d, n, "split sizes must be non-negative");
      return false;
    }
    if (sizes[i] > x->dims[axis] - total) { /* (also keeps the sum from overflowing) */
      cn_error_node(d, n, "split sizes add up to more than axis %d's %lld", axis,
                    (long long)x->dims[axis]);
      return false;
    }
    total += sizes[i];
  }
  if (total != x->dims[axis]) {
    cn_error_node(d, n, "split sizes add up to %lld but axis %d has %lld", (long long)total, axis,
                  (long long)x->dims[axis]);
    return false;
  }
  for (int i = 0; i < count; i++) {
    int64_t dims[CN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = sizes[i];
    if (!cn_set_output(d, g, n, i, x->dtype, x->rank, dims)) {
      return false;
    }
  }
  return true;
}

static bool infer_slice(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  int64_t starts[CN_MAX_RANK], ends[CN_MAX_RANK], axes[CN_MAX_RANK], steps[CN_MAX_RANK];
  int ns, ne, nax = -1, nst = -1;
  if (n->opset < 10) {
    const int64_t *a;
    ns = cn_attr_ints(n, "starts", &a);
    if (ns > 0 && ns <= CN_MAX_RANK) {
      memcpy(starts, a, sizeof(int64_t) * (size_t)ns);
    }
    ne = cn_attr_ints(n, "ends", &a);
    if (ne > 0 && ne <= CN_MAX_RANK) {
      memcpy(ends, a, sizeof(int64_t) * (size_t)ne);
    }
    nax = cn_attr_ints(n, "axes", &a);
    if (nax > 0 && nax <= CN_MAX_RANK) {
      memcpy(axes, a, sizeof(int64_t) * (size_t)nax);
    }
  } else {
    if (!cn_check_arity(d, n, 3, 5, 1, 1)) {
      return false;
    }
    for (int i = 1; i < 5; i++) {
      static const char *const names[] = {"", "starts", "ends", "axes", "steps"};
      if (!cn_require_const(d, g, n, i, names[i])) {
        return false;
      }
      if (cn_has_input(n, i) && cn_value_numel(cn_in(g, n, i)) > CN_MAX_RANK) {
        cn_error_node(d, n, "'%s' has too many entries", names[i]);
        return false;
      }
    }
    ns = cn_const_ints(g, n, 1, starts, CN_MAX_RANK);
    ne = cn_const_ints(g, n, 2, ends, CN_MAX_RANK);
    if (cn_has_input(n, 3)) {
      nax = cn_const_ints(g, n, 3, axes, CN_MAX_RANK);
    }
    if (cn_has_input(n, 4)) {
      nst = cn_const_ints(g, n, 4, steps, CN_MAX_RANK);
    }
  }
  if (ns < 0 || ns != ne || ns > CN_MAX_RANK || (nax >= 0 && nax != ns) ||
      (nst >= 0 && nst != ns)) {
    cn_error_node(d, n, "starts, ends, axes and steps must have the same length");
    return false;
  }
  cnnrt_slice_params *s = &p->slice;
  s->rank = x->rank;
  s->elem_size = cn_dtype_size(x->dtype);
  bool used[CN_MAX_RANK] = {false};
  for (int a = 0; a < x->rank; a++) {
    s->in[a] = s->out[a] = x->dims[a];
    s->start[a] = 0;
    s->step[a] = 1;
  }
  for (int i = 0; i < ns; i++) {
    int a;
    if (!cn_norm_axis(d, n, nax >= 0 ? axes[i] : i, x->rank, &a)) {
      return false;
    }
    if (used[a]) {
      cn_error_node(d, n, "axis %d is sliced twice", a);
      return false;
    }
    used[a] = true;
    int64_t step = nst >= 0 ? steps[i] : 1;
    if (cnnrt_slice_resolve(x->dims[a], starts[i], ends[i], step, &s->start[a], &s->out[a]) != 0) {
      cn_error_node(d, n, "step 0 is invalid");
      return false;
    }
    s->step[a] = step;
  }
  return cn_set_output(d, g, n, 0, x->dtype, x->rank, s->out);
}

static bool infer_pad(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  int64_t pads[2 * CN_MAX_RANK];
  int np;
  const char *mode = cn_attr_string(n, "mode", "constant");
  int es = cn_dtype_size(x->dtype);
  if (n->opset < 11) {
    const int64_t *a;
    np = cn_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &a);
    if (np > 2 * CN_MAX_RANK) {
      np = -1;
    }
    if (np > 0) {
      memcpy(pads, a, sizeof(int64_t) * (size_t)np);
    }
    float value = cn_attr_float(n, "value", 0.0f);
    memcpy(p->pad_value, &value, sizeof value);
    p->pad_value_bytes = 4;
  } else {
    if (!cn_check_arity(d, n, 2, 3, 1, 1) || !cn_require_const(d, g, n, 1, "pads")) {
      return false;
    }
    np = (int)cn_value_numel(cn_in(g, n, 1));
    if (np > 2 * CN_MAX_RANK) {
      np = -1;
    } else {
      cn_const_ints(g, n, 1, pads, 2 * CN_MAX_RANK);
    }
    const cn_value *cv = cn_in(g, n, 2);
    if (cv && cv->dtype != x->dtype) {
      cn_error_node(d, n, "constant_value must have the input's type");
      return false;
    }
  }
  if (np != 2 * x->rank) {
    cn_error_node(d, n, "pads must have %d entries (2 per axis)", 2 * x->rank);
    return false;
  }
  cnnrt_pad_params *pp = &p->pad;
  pp->rank = x->rank;
  pp->elem_size = es;
  if (strcmp(mode, "constant") == 0) {
    pp->mode = CNNRT_PAD_CONSTANT;
  } else if (strcmp(mode, "reflect") == 0) {
    pp->mode = CNNRT_PAD_REFLECT;
  } else if (strcmp(mode, "edge") == 0) {
    pp->mode = CNNRT_PAD_EDGE;
  } else if (strcmp(mode, "wrap") == 0) {
    pp->mode = CNNRT_PAD_WRAP;
  } else {
    cn_error_node(d, n, "mode '%s' is not one of constant, reflect, edge", mode);
    return false;
  }
  for (int a = 0; a < x->rank; a++) {
    int64_t begin = pads[a], end = pads[x->rank + a];
    if (begin < -CN_MAX_ELEMENTS || begin > CN_MAX_ELEMENTS || end < -CN_MAX_ELEMENTS ||
        end > CN_MAX_ELEMENTS) { /* (and the sum below cannot overflow) */
      cn_error_node(d, n, "pads of axis %d are out of range", a);
      return false;
    }
    pp->in[a] = x->dims[a];
    pp->pad_begin[a] = pads[a];
    pp->out[a] = x->dims[a] + pads[a] + pads[x->rank + a];
    if (pp->out[a] < 0) {
      cn_error_node(d, n, "pads crop axis %d below zero", a);
      return false;
    }
    if (pp->mode == CNNRT_PAD_REFLECT && (pads[a] > 0 || pads[x->rank + a] > 0) && x->dims[a] < 2 &&
        pp->out[a] > 0) {
      cn_error_node(d, n, "reflect padding needs at least 2 elements on axis %d", a);
      return false;
    }
  }
  return cn_set_output(d, g, n, 0, x->dtype, x->rank, pp->out);
}

static bool infer_tile(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  if (!cn_check_arity(d, n, 2, 2, 1, 1) || !cn_require_const(d, g, n, 1, "repeats")) {
    return false;
  }
  if (cn_value_numel(cn_in(g, n, 1)) != x->rank) {
    cn_error_node(d, n, "repeats must have %d entries", x->rank);
    return false;
  }
  int64_t rep[CN_MAX_RANK];
  cn_const_ints(g, n, 1, rep, CN_MAX_RANK);
  p->tile.rank = x->rank;
  p->tile.elem_size = cn_dtype_size(x->dtype);
  for (int a = 0; a < x->rank; a++) {
    if (rep[a] < 0) {
      cn_error_node(d, n, "repeats must be non-negative");
      return false;
    }
    p->tile.in[a] = x->dims[a];
    if (!cn_mul_checked(x->dims[a], rep[a], CN_MAX_ELEMENTS, &p->tile.out[a])) {
      cn_error_node(d, n, "output would be too large");
      return false;
    }
  }
  return cn_set_output(d, g, n, 0, x->dtype, x->rank, p->tile.out);
}

static bool infer_expand(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  if (!cn_check_arity(d, n, 2, 2, 1, 1) || !cn_require_const(d, g, n, 1, "shape")) {
    return false;
  }
  const cn_value *s = cn_in(g, n, 1);
  if (s->rank != 1 || cn_value_numel(s) > CN_MAX_RANK) {
    cn_error_node(d, n, "shape must be 1-D with at most %d entries", CN_MAX_RANK);
    return false;
  }
  int64_t shape[CN_MAX_RANK];
  int ns = cn_const_ints(g, n, 1, shape, CN_MAX_RANK);
  int rank = ns > x->rank ? ns : x->rank;
  cnnrt_expand_params *e = &p->expand;
  e->rank = rank;
  e->elem_size = cn_dtype_size(x->dtype);
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; i--) {
    int xi = i - (rank - x->rank), si = i - (rank - ns);
    int64_t dx = xi >= 0 ? x->dims[xi] : 1, ds = si >= 0 ? shape[si] : 1;
    if (dx != ds && dx != 1 && ds != 1) {
      char s1[160], s2[160];
      cn_error_node(d, n, "cannot expand %s to %s", cn_shape_str(x->rank, x->dims, s1, sizeof s1),
                    cn_shape_str(ns, shape, s2, sizeof s2));
      return false;
    }
    if (ds < 0) {
      cn_error_node(d, n, "shape has a negative entry");
      return false;
    }
    e->out[i] = dx == 1 ? ds : dx;
    e->in_stride[i] = dx == 1 ? 0 : stride;
    stride *= dx;
  }
  return cn_set_output(d, g, n, 0, x->dtype, rank, e->out);
}

static bool infer_gather(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0), *idx = cn_in(g, n, 1);
  if (!cn_check_arity(d, n, 2, 2, 1, 1)) {
    return false;
  }
  int axis;
  if (!cn_norm_axis(d, n, cn_attr_int(n, "axis", 0), x->rank, &axis)) {
    return false;
  }
  if (idx->dtype != CNNRT_I64 && idx->dtype != CNNRT_I32) {
    cn_error_node(d, n, "indices must be int32 or int64");
    return false;
  }
  if (idx->kind == CN_VALUE_CONST) {
    for (int64_t i = 0; i < cn_value_numel(idx); i++) {
      int64_t v = cn_value_get_int(idx, i);
      if (v < -x->dims[axis] || v >= x->dims[axis]) {
        cn_error_node(d, n, "index %lld is out of range for axis %d of size %lld", (long long)v,
                      axis, (long long)x->dims[axis]);
        return false;
      }
    }
  }
  int rank = x->rank - 1 + idx->rank;
  if (rank > CN_MAX_RANK) {
    cn_error_node(d, n, "result would have rank %d", rank);
    return false;
  }
  int64_t dims[CN_MAX_RANK];
  int k = 0;
  for (int i = 0; i < axis; i++) {
    dims[k++] = x->dims[i];
  }
  for (int i = 0; i < idx->rank; i++) {
    dims[k++] = idx->dims[i];
  }
  for (int i = axis + 1; i < x->rank; i++) {
    dims[k++] = x->dims[i];
  }
  p->axis = axis;
  return cn_set_output(d, g, n, 0, x->dtype, rank, dims);
}

static bool infer_depth_space(cn_graph *g, cn_node *n, cn_diag *d, tensor_params *p) {
  const cn_value *x = cn_in(g, n, 0);
  int64_t b = cn_attr_int(n, "blocksize", 0), b2;
  if (x->rank != 4 || b < 1 || !cn_mul_checked(b, b, CN_MAX_ELEMENTS, &b2)) {
    cn_error_node(d, n, "expects a 4-D input and a positive blocksize (at most 2^17)");
    return false;
  }
  p->blocksize = b;
  int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
  if (n->op == CN_OP_DEPTH_TO_SPACE) {
    const char *mode = cn_attr_string(n, "mode", "DCR");
    if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0) {
      cn_error_node(d, n, "mode '%s' is not DCR or CRD", mode);
      return false;
    }
    p->crd = strcmp(mode, "CRD") == 0;
    if (x->dims[1] % b2 != 0) {
      cn_error_node(d, n, "channels (%lld) are not a multiple of blocksize^2",
                    (long long)x->dims[1]);
      return false;
    }
    dims[1] /= b2;
    if (!cn_mul_checked(x->dims[2], b, CN_MAX_ELEMENTS, &dims[2]) ||
        !cn_mul_checked(x->dims[3], b, CN_MAX_ELEMENTS, &dims[3])) {
      cn_error_node(d, n, "output would be too large");
      return false;
    }
  } else {
    if (x->dims[2] % b != 0 || x->dims[3] % b != 0) {
      cn_error_node(d, n, "height and width must be multiples of the blocksize");
      return false;
    }
    if (!cn_mul_checked(x->dims[1], b2, CN_MAX_ELEMENTS, &dims[1])) {
      cn_error_node(d, n, "output would be too large");
      return false;
    }
    dims[2] /= b;
    dims[3] /= b;
  }
  return cn_set_output(d, g, n, 0, x->dtype, 4, dims);
}

bool cn_infer_tensor(cn_graph *g, cn_node *n, cn_diag *d) {
  if (n->op != CN_OP_CONCAT && !cn_check_arity(d, n, 1, 5, 1, 64)) {
    return false;
  }
  tensor_params *p = cn_node_params(n, sizeof *p);
  switch (n->op) {
  case CN_OP_TRANSPOSE: return infer_transpose(g, n, d, p);
  case CN_OP_CONCAT: return infer_concat(g, n, d, p);
  case CN_OP_SPLIT: return infer_split(g, n, d, p);
  case CN_OP_SLICE: return infer_slice(g, n, d, p);
  case CN_OP_PAD: return infer_pad(g, n, d, p);
  case CN_OP_TILE: return infer_tile(g, n, d, p);
  case CN_OP_EXPAND: return infer_expand(g, n, d, p);
  case CN_OP_GATHER: return infer_gather(g, n, d, p);
  case CN_OP_DEPTH_TO_SPACE:
  case CN_OP_SPACE_TO_DEPTH: return infer_depth_space(g, n, d, p);
  default: CN_UNREACHABLE();
  }
}

/* Concat/Split geometry: rows before the axis, and bytes of one row of `v` from the axis on. */
static int64_t outer_of(const cn_value *v, int axis) { return cn_numel(axis, v->dims); }
static int64_t row_bytes(const cn_value *v, int axis) {
  return cn_numel(v->rank - axis, v->dims + axis) * cn_dtype_size(v->dtype);
}

/* Runs the node on host buffers (constant folding). */
static void run_host(cn_graph *g, cn_node *n) {
  const tensor_params *p = n->params;
  const cn_value *x = cn_in(g, n, 0);
  const cn_value *y = cn_out(g, n, 0);
  switch (n->op) {
  case CN_OP_TRANSPOSE: cnnrt_transpose(&p->transpose, x->data, y->data); break;
  case CN_OP_SLICE: cnnrt_slice(&p->slice, x->data, y->data); break;
  case CN_OP_PAD: {
    const cn_value *cv = n->opset >= 11 ? cn_in(g, n, 2) : NULL;
    unsigned char zero[8] = {0};
    const void *value = cv ? cv->data : (n->opset < 11 ? (const void *)p->pad_value : zero);
    cnnrt_pad(&p->pad, x->data, value, y->data);
    break;
  }
  case CN_OP_TILE: cnnrt_tile(&p->tile, x->data, y->data); break;
  case CN_OP_EXPAND: cnnrt_expand(&p->expand, x->data, y->data); break;
  case CN_OP_CONCAT: {
    int64_t offset = 0;
    for (int i = 0; i < n->n_in; i++) {
      const cn_value *xi = cn_in(g, n, i);
      cnnrt_concat_part(outer_of(y, p->axis), row_bytes(xi, p->axis), row_bytes(y, p->axis),
                        offset, xi->data, y->data);
      offset += row_bytes(xi, p->axis);
    }
    break;
  }
  case CN_OP_SPLIT: {
    int64_t offset = 0;
    for (int i = 0; i < n->n_out; i++) {
      const cn_value *yi = cn_out(g, n, i);
      if (!yi) {
        continue;
      }
      cnnrt_split_part(outer_of(x, p->axis), row_bytes(x, p->axis), row_bytes(yi, p->axis),
                       offset, x->data, yi->data);
      offset += row_bytes(yi, p->axis);
    }
    break;
  }
  case CN_OP_GATHER: {
    const cn_value *idx = cn_in(g, n, 1);
    cnnrt_gather(outer_of(x, p->axis), x->dims[p->axis],
                 row_bytes(x, p->axis) / (x->dims[p->axis] ? x->dims[p->axis] : 1), idx->data,
                 cn_value_numel(idx), cn_dtype_size(idx->dtype), x->data, y->data);
    break;
  }
  case CN_OP_DEPTH_TO_SPACE:
    cnnrt_depth_to_space(x->dims[0], x->dims[1], x->dims[2], x->dims[3], p->blocksize, p->crd,
                         cn_dtype_size(x->dtype), x->data, y->data);
    break;
  case CN_OP_SPACE_TO_DEPTH:
    cnnrt_space_to_depth(x->dims[0], x->dims[1], x->dims[2], x->dims[3], p->blocksize,
                         cn_dtype_size(x->dtype), x->data, y->data);
    break;
  default: CN_UNREACHABLE();
  }
}

bool cn_eval_tensor(cn_graph *g, cn_node *n) {
  cn_fold_outputs(g, n);
  run_host(g, n);
  return true;
}

static const cn_field transpose_fields[] = {
    CN_I64(cnnrt_transpose_params, rank), CN_I64(cnnrt_transpose_params, in),
    CN_I64(cnnrt_transpose_params, perm), CN_I64(cnnrt_transpose_params, elem_size)};
static const cn_field slice_fields[] = {
    CN_I64(cnnrt_slice_params, rank),  CN_I64(cnnrt_slice_params, in),
    CN_I64(cnnrt_slice_params, out),   CN_I64(cnnrt_slice_params, start),
    CN_I64(cnnrt_slice_params, step),  CN_I64(cnnrt_slice_params, elem_size)};
static const cn_field pad_fields[] = {
    CN_I64(cnnrt_pad_params, rank),      CN_I64(cnnrt_pad_params, in),
    CN_I64(cnnrt_pad_params, out),       CN_I64(cnnrt_pad_params, pad_begin),
    CN_I64(cnnrt_pad_params, mode),      CN_I64(cnnrt_pad_params, elem_size)};
static const cn_field tile_fields[] = {
    CN_I64(cnnrt_tile_params, rank), CN_I64(cnnrt_tile_params, in),
    CN_I64(cnnrt_tile_params, out),  CN_I64(cnnrt_tile_params, elem_size)};
static const cn_field expand_fields[] = {
    CN_I64(cnnrt_expand_params, rank), CN_I64(cnnrt_expand_params, out),
    CN_I64(cnnrt_expand_params, in_stride), CN_I64(cnnrt_expand_params, elem_size)};

void cn_emit_tensor(cn_emitter *e, cn_graph *g, cn_node *n) {
  const tensor_params *p = n->params;
  const cn_value *x = cn_in(g, n, 0);
  const cn_value *y = cn_out(g, n, 0);
  cn_emit_use(e, CN_RT_TENSOR);
  const char *xs = cn_emit_in_void(e, n->in[0]);
  switch (n->op) {
  case CN_OP_TRANSPOSE:
    cn_emit_line(e, "    cnnrt_transpose(%s, %s, %s);",
                 cn_emit_params(e, "cnnrt_transpose_params", CN_FIELDS(transpose_fields), &p->transpose),
                 xs, cn_emit_out_void(e, n->out[0]));
    break;
  case CN_OP_SLICE:
    cn_emit_line(e, "    cnnrt_slice(%s, %s, %s);",
                 cn_emit_params(e, "cnnrt_slice_params", CN_FIELDS(slice_fields), &p->slice), xs,
                 cn_emit_out_void(e, n->out[0]));
    break;
  case CN_OP_PAD: {
    const char *value;
    if (n->opset >= 11 && cn_has_input(n, 2)) {
      value = cn_emit_in_void(e, n->in[2]);
    } else {
      /* The attribute value (float, opset < 11) or zero, as bytes of the element type. */
      int64_t bytes[1] = {0};
      if (n->opset < 11) {
        memcpy(bytes, p->pad_value, 4);
      }
      value = cn_emit_i64_array(e, bytes, 1);
    }
    cn_emit_line(e, "    cnnrt_pad(%s, %s, %s, %s);",
                 cn_emit_params(e, "cnnrt_pad_params", CN_FIELDS(pad_fields), &p->pad), xs, value,
                 cn_emit_out_void(e, n->out[0]));
    break;
  }
  case CN_OP_TILE:
    cn_emit_line(e, "    cnnrt_tile(%s, %s, %s);",
                 cn_emit_params(e, "cnnrt_tile_params", CN_FIELDS(tile_fields), &p->tile), xs,
                 cn_emit_out_void(e, n->out[0]));
    break;
  case CN_OP_EXPAND:
    cn_emit_line(e, "    cnnrt_expand(%s, %s, %s);",
                 cn_emit_params(e, "cnnrt_expand_params", CN_FIELDS(expand_fields), &p->expand),
                 xs, cn_emit_out_void(e, n->out[0]));
    break;
  case CN_OP_CONCAT: {
    if (cn_in(g, n, 0)->alias == n->out[0]) { /* passes/concat.c */
      cn_emit_line(e, "    /* in place: its inputs were written into it */");
      break;
    }
    int64_t offset = 0;
    for (int i = 0; i < n->n_in; i++) {
      const cn_value *xi = cn_in(g, n, i);
      cn_emit_line(e, "    cnnrt_concat_part(%lld, %lld, %lld, %lld, %s, %s);",
                   (long long)outer_of(y, p->axis), (long long)row_bytes(xi, p->axis),
                   (long long)row_bytes(y, p->axis), (long long)offset,
                   cn_emit_in_void(e, n->in[i]), cn_emit_out_void(e, n->out[0]));
      offset += row_bytes(xi, p->axis);
    }
    break;
  }
  case CN_OP_SPLIT: {
    int64_t offset = 0;
    for (int i = 0; i < n->n_out; i++) {
      const cn_value *yi = cn_out(g, n, i);
      if (!yi) {
        continue;
      }
      cn_emit_line(e, "    cnnrt_split_part(%lld, %lld, %lld, %lld, %s, %s);",
                   (long long)outer_of(x, p->axis), (long long)row_bytes(x, p->axis),
                   (long long)row_bytes(yi, p->axis), (long long)offset, xs,
                   cn_emit_out_void(e, n->out[i]));
      offset += row_bytes(yi, p->axis);
    }
    break;
  }
  case CN_OP_GATHER: {
    const cn_value *idx = cn_in(g, n, 1);
    cn_emit_line(e, "    cnnrt_gather(%lld, %lld, %lld, %s, %lld, %d, %s, %s);",
                 (long long)outer_of(x, p->axis), (long long)x->dims[p->axis],
                 (long long)(row_bytes(x, p->axis) / (x->dims[p->axis] ? x->dims[p->axis] : 1)),
                 cn_emit_in_void(e, n->in[1]), (long long)cn_value_numel(idx),
                 cn_dtype_size(idx->dtype), xs, cn_emit_out_void(e, n->out[0]));
    break;
  }
  case CN_OP_DEPTH_TO_SPACE:
    cn_emit_line(e, "    cnnrt_depth_to_space(%lld, %lld, %lld, %lld, %lld, %lld, %d, %s, %s);",
                 (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
                 (long long)x->dims[3], (long long)p->blocksize, (long long)p->crd,
                 cn_dtype_size(x->dtype), xs, cn_emit_out_void(e, n->out[0]));
    break;
  case CN_OP_SPACE_TO_DEPTH:
    cn_emit_line(e, "    cnnrt_space_to_depth(%lld, %lld, %lld, %lld, %lld, %d, %s, %s);",
                 (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
                 (long long)x->dims[3], (long long)p->blocksize, cn_dtype_size(x->dtype), xs,
                 cn_emit_out_void(e, n->out[0]));
    break;
  default: CN_UNREACHABLE();
  }
}

/* Resolved geometry of a Slice / Pad node, for the autodiff pass (their adjoints are a Pad and
 * a Slice). */
const cnnrt_slice_params *cn_tensor_slice_params(const cn_node *n) {
  CN_ASSERT(n->op == CN_OP_SLICE && n->params);
  return &((const tensor_params *)n->params)->slice;
}

const cnnrt_pad_params *cn_tensor_pad_params(const cn_node *n) {
  CN_ASSERT(n->op == CN_OP_PAD && n->params);
  return &((const tensor_params *)n->params)->pad;
}
