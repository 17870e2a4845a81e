/* binary.c — elementwise ops over two or more inputs with numpy broadcasting: arithmetic, Pow,
 * PRelu, comparisons, logic, variadic Min/Max/Sum/Mean and Where (runtime/cnnrt_elementwise.h).
 * Broadcast geometry is resolved at compile time by the runtime's own cnnrt_bcast_init, which
 * also collapses dimensions so that the common cases run as flat loops. */
#include <string.h>

#include "../../codegen/emit.h"
#include "../../runtime/cnnrt_elementwise.h"
#include "../../runtime/cnnrt_tensor.h"
#include "../ops.h"

static const char *kernel_of(cn_op op) {
  switch (op) {
  case CN_OP_ADD: case CN_OP_SUM: case CN_OP_MEAN: return "add";
  case CN_OP_SUB: return "sub";
  case CN_OP_MUL: return "mul";
  case CN_OP_DIV: return "div";
  case CN_OP_POW: return "pow";
  case CN_OP_PRELU: return "prelu";
  case CN_OP_EQUAL: return "equal";
  case CN_OP_LESS: return "less";
  case CN_OP_GREATER: return "greater";
  case CN_OP_LESS_OR_EQUAL: return "less_equal";
  case CN_OP_GREATER_OR_EQUAL: return "greater_equal";
  case CN_OP_AND: return "and";
  case CN_OP_OR: return "or";
  case CN_OP_XOR: return "xor";
  case CN_OP_MIN: return "min";
  case CN_OP_MAX: return "max";
  default: CN_UNREACHABLE();
  }
}

static bool is_compare(cn_op op) {
  return op == CN_OP_EQUAL || op == CN_OP_LESS || op == CN_OP_GREATER ||
         op == CN_OP_LESS_OR_EQUAL || op == CN_OP_GREATER_OR_EQUAL;
}
static bool is_logic(cn_op op) { return op == CN_OP_AND || op == CN_OP_OR || op == CN_OP_XOR; }
static bool is_variadic(cn_op op) {
  return op == CN_OP_MIN || op == CN_OP_MAX || op == CN_OP_SUM || op == CN_OP_MEAN;
}

/* numpy broadcast of two shapes into out; false if incompatible. */
static bool broadcast(int ra, const int64_t *da_in, int rb, const int64_t *db, int *ro,
                      int64_t *out) {
  int64_t da[CN_MAX_RANK]; /* out may alias da_in */
  memcpy(da, da_in, sizeof(int64_t) * (size_t)ra);
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - ra), ib = i - (r - rb);
    int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
    if (a != b && a != 1 && b != 1) {
      return false;
    }
    out[i] = a == 1 ? b : a;
  }
  *ro = r;
  return true;
}

bool cn_infer_binary(cn_graph *g, cn_node *n, cn_diag *d) {
  int min_in = is_variadic(n->op) ? 1 : (n->op == CN_OP_WHERE ? 3 : 2);
  int max_in = is_variadic(n->op) ? 64 : min_in;
  if (!cn_check_arity(d, n, min_in, max_in, 1, 1)) {
    return false;
  }
  const cn_value *a = cn_in(g, n, n->op == CN_OP_WHERE ? 1 : 0);
  cn_dtype t = a->dtype;
  int rank = 0;
  int64_t dims[CN_MAX_RANK];
  for (int i = 0; i < n->n_in; i++) {
    const cn_value *v = cn_in(g, n, i);
    if (!v) {
      cn_error_node(d, n, "input %d is missing", i);
      return false;
    }
    bool is_cond = n->op == CN_OP_WHERE && i == 0;
    bool pow_exp = n->op == CN_OP_POW && i == 1;
    if (is_cond ? v->dtype != CNNRT_BOOL : (!pow_exp && v->dtype != t)) {
      cn_error_node(d, n, "input %d has type %s, expected %s", i, cn_dtype_name(v->dtype),
                    is_cond ? "bool" : cn_dtype_name(t));
      return false;
    }
    char s1[160], s2[160];
    if (i == 0) {
      rank = v->rank;
      memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    } else if (!broadcast(rank, dims, v->rank, v->dims, &rank, dims)) {
      cn_error_node(d, n, "shapes %s and %s do not broadcast",
                    cn_shape_str(rank, dims, s1, sizeof s1),
                    cn_shape_str(v->rank, v->dims, s2, sizeof s2));
      return false;
    }
  }
  /* float16/bfloat16 arithmetic is computed in float32 through scratch buffers. */
  bool half = t == CNNRT_F16 || t == CNNRT_BF16;
  bool floaty = t == CNNRT_F32 || t == CNNRT_F64 || (half && !is_logic(n->op));
  bool numeric = floaty || cn_dtype_is_int(t);
  if (is_logic(n->op) ? t != CNNRT_BOOL
      : n->op == CN_OP_EQUAL ? !(numeric || t == CNNRT_BOOL)
      : n->op == CN_OP_WHERE ? cn_dtype_size(t) == 0
      : n->op == CN_OP_POW ? !(floaty || t == CNNRT_I32 || t == CNNRT_I64)
      : n->op == CN_OP_MEAN ? !floaty
                            : !numeric) {
    cn_error_node(d, n, "%s inputs are not supported", cn_dtype_name(t));
    return false;
  }
  if (n->op == CN_OP_POW) {
    cn_dtype e = cn_in(g, n, 1)->dtype;
    if (!(cn_dtype_is_float(e) || cn_dtype_is_int(e))) {
      cn_error_node(d, n, "%s exponents are not supported", cn_dtype_name(e));
      return false;
    }
  }
  /* Scratch for operands converted to a type the kernels take (see compute_types). */
  n->scratch_bytes = 0;
  if (half && n->op != CN_OP_WHERE) {
    for (int i = 0; i < n->n_in; i++) {
      n->scratch_bytes += cn_value_numel(cn_in(g, n, i)) * 4;
    }
    n->scratch_bytes += cn_numel(rank, dims) * 4;
  } else if (n->op == CN_OP_POW && cn_in(g, n, 1)->dtype != CNNRT_F32 &&
             cn_in(g, n, 1)->dtype != CNNRT_F64 && cn_in(g, n, 1)->dtype != CNNRT_I32 &&
             cn_in(g, n, 1)->dtype != CNNRT_I64) {
    n->scratch_bytes = cn_value_numel(cn_in(g, n, 1)) * 8;
  }
  if (n->op == CN_OP_PRELU) { /* the slope broadcasts to X, not the other way round */
    const cn_value *x = cn_in(g, n, 0);
    if (rank != x->rank || cn_numel(rank, dims) != cn_value_numel(x)) {
      cn_error_node(d, n, "slope does not broadcast to the input's shape");
      return false;
    }
  }
  return cn_set_output(d, g, n, 0, is_compare(n->op) ? CNNRT_BOOL : t, rank, dims);
}

/* The name of the kernel for inputs of types ta (and tb for Pow). */
static const char *kernel_name(cn_emitter *e, cn_op op, cn_dtype ta, cn_dtype tb) {
  if (op == CN_OP_POW) {
    return cn_emit_str(e, "cnnrt_%s_%s_pow", cn_dtype_suffix(ta), cn_dtype_suffix(tb));
  }
  if (ta == CNNRT_BOOL) {
    return cn_emit_str(e, "cnnrt_bool_%s", kernel_of(op));
  }
  return cn_emit_str(e, "cnnrt_%s_%s", cn_dtype_suffix(ta), kernel_of(op));
}

static const cn_field bcast_fields[] = {
    CN_I64(cnnrt_bcast_params, rank), CN_I64(cnnrt_bcast_params, out),
    CN_I64(cnnrt_bcast_params, a_stride), CN_I64(cnnrt_bcast_params, b_stride),
    CN_I64(cnnrt_bcast_params, count)};
static const cn_field bcast3_fields[] = {
    CN_I64(cnnrt_bcast3_params, rank),     CN_I64(cnnrt_bcast3_params, out),
    CN_I64(cnnrt_bcast3_params, c_stride), CN_I64(cnnrt_bcast3_params, a_stride),
    CN_I64(cnnrt_bcast3_params, b_stride), CN_I64(cnnrt_bcast3_params, count)};
static const cn_field expand_fields[] = {
    CN_I64(cnnrt_expand_params, rank), CN_I64(cnnrt_expand_params, out),
    CN_I64(cnnrt_expand_params, in_stride), CN_I64(cnnrt_expand_params, elem_size)};

/* Expand parameters that copy `x` broadcast to the shape of `y`. */
static cnnrt_expand_params expand_to(const cn_value *x, const cn_value *y) {
  cnnrt_expand_params p;
  memset(&p, 0, sizeof p);
  p.rank = y->rank;
  p.elem_size = cn_dtype_size(x->dtype);
  int64_t stride = 1;
  for (int i = y->rank - 1; i >= 0; i--) {
    int xi = i - (y->rank - x->rank);
    int64_t dx = xi >= 0 ? x->dims[xi] : 1;
    p.out[i] = y->dims[i];
    p.in_stride[i] = dx == 1 ? 0 : stride;
    stride *= dx;
  }
  for (int i = y->rank; i < CNNRT_MAX_RANK; i++) {
    p.out[i] = 1;
  }
  return p;
}

void cn_emit_binary(cn_emitter *e, cn_graph *g, cn_node *n) {
  cn_emit_use(e, CN_RT_ELEMENTWISE);
  const cn_value *y = cn_out(g, n, 0);
  if (n->op == CN_OP_WHERE) {
    const cn_value *c = cn_in(g, n, 0), *a = cn_in(g, n, 1), *b = cn_in(g, n, 2);
    cnnrt_bcast3_params p;
    memset(&p, 0, sizeof p);
    int rc = cnnrt_bcast3_init(&p, c->rank, c->dims, a->rank, a->dims, b->rank, b->dims);
    CN_ASSERT(rc == 0);
    cn_emit_line(e, "    cnnrt_%s_where(%s, %s, %s, %s, %s);",
                 a->dtype == CNNRT_BOOL ? "bool" : cn_dtype_suffix(a->dtype),
                 cn_emit_params(e, "cnnrt_bcast3_params", CN_FIELDS(bcast3_fields), &p),
                 cn_emit_in(e, n->in[0]), cn_emit_in(e, n->in[1]), cn_emit_in(e, n->in[2]),
                 cn_emit_out(e, n->out[0]));
    return;
  }
  const cn_value *a = cn_in(g, n, 0);
  if (n->n_in == 1) { /* variadic op of one input: a copy */
    cn_emit_line(e, "    memcpy(%s, %s, %lld);", cn_emit_out_void(e, n->out[0]),
                 cn_emit_in_void(e, n->in[0]), (long long)cn_value_bytes(y));
    return;
  }
  /* Operand pointers and the types the kernel sees: half-precision operands go through float32
   * copies in scratch, integer exponents of Pow that the kernels lack through int64. */
  const char *in_ptr[64];
  cn_dtype in_t[64];
  int64_t scratch = 0;
  bool half = a->dtype == CNNRT_F16 || a->dtype == CNNRT_BF16;
  for (int i = 0; i < n->n_in; i++) {
    const cn_value *v = cn_in(g, n, i);
    in_t[i] = v->dtype;
    in_ptr[i] = cn_emit_in(e, n->in[i]);
    bool convert = half || (n->op == CN_OP_POW && i == 1 && n->scratch_bytes > 0);
    if (convert) {
      cn_dtype to = half ? CNNRT_F32 : CNNRT_I64;
      const char *dst = cn_emit_scratch_at(e, n, scratch, cn_dtype_ctype(to));
      cn_emit_cast(e, cn_value_numel(v), v->dtype, cn_emit_in_void(e, n->in[i]), to, dst);
      in_ptr[i] = dst;
      in_t[i] = to;
      scratch += cn_value_numel(v) * cn_dtype_size(to);
    }
  }
  const char *out_ptr = half ? cn_emit_scratch_at(e, n, scratch, "float") : cn_emit_out(e, n->out[0]);
  cn_dtype out_t = half ? (is_compare(n->op) ? CNNRT_BOOL : CNNRT_F32) : y->dtype;
  if (half && is_compare(n->op)) {
    out_ptr = cn_emit_out(e, n->out[0]); /* comparisons write bool directly */
  }
  const char *acc = in_ptr[0];
  cn_value acc_v = *a;
  if (n->n_in > 2) {
    /* Chains: broadcast input 0 into y, then y = op(y, x_i) for every other input. */
    cn_emit_use(e, CN_RT_TENSOR);
    cnnrt_expand_params ep = expand_to(a, y);
    ep.elem_size = cn_dtype_size(in_t[0]);
    cn_emit_line(e, "    cnnrt_expand(%s, %s, (void *)%s);",
                 cn_emit_params(e, "cnnrt_expand_params", CN_FIELDS(expand_fields), &ep),
                 in_ptr[0], out_ptr);
    acc = out_ptr;
    acc_v = *y;
  }
  for (int i = 1; i < n->n_in; i++) {
    const cn_value *b = cn_in(g, n, i);
    cnnrt_bcast_params p;
    memset(&p, 0, sizeof p);
    int rc = cnnrt_bcast_init(&p, acc_v.rank, acc_v.dims, b->rank, b->dims);
    CN_ASSERT(rc == 0);
    cn_emit_line(e, "    %s(%s, %s, %s, %s);", kernel_name(e, n->op, in_t[0], in_t[i]),
                 cn_emit_params(e, "cnnrt_bcast_params", CN_FIELDS(bcast_fields), &p), acc,
                 in_ptr[i], out_ptr);
    acc = out_ptr;
    acc_v = *y;
  }
  if (n->op == CN_OP_MEAN) {
    cn_emit_line(e, "    cnnrt_%s_scale(%lld, %s, %s, %s);", cn_dtype_suffix(out_t),
                 (long long)cn_value_numel(y), acc, cn_emit_float(e, 1.0f / (float)n->n_in),
                 out_ptr);
  }
  if (half && !is_compare(n->op)) {
    cn_emit_cast(e, cn_value_numel(y), CNNRT_F32, out_ptr, y->dtype, cn_emit_out_void(e, n->out[0]));
  }
}

/* Constant folding of the int64/float ops that exporters use for shape arithmetic. */
bool cn_eval_binary(cn_graph *g, cn_node *n) {
  if (n->n_in != 2 || n->op == CN_OP_POW || n->op == CN_OP_PRELU) {
    return false;
  }
  const cn_value *a = cn_in(g, n, 0), *b = cn_in(g, n, 1);
  cn_value *y = cn_out(g, n, 0);
  if (a->dtype != CNNRT_I64 && a->dtype != CNNRT_F32) {
    return false;
  }
  cnnrt_bcast_params p;
  memset(&p, 0, sizeof p);
  if (cnnrt_bcast_init(&p, a->rank, a->dims, b->rank, b->dims) != 0) {
    return false;
  }
  cn_fold_outputs(g, n);
#define FOLD(T, t)                                                                                 \
  switch (n->op) {                                                                                 \
  case CN_OP_ADD: case CN_OP_SUM: cnnrt_##t##_add(&p, a->data, b->data, y->data); break;          \
  case CN_OP_SUB: cnnrt_##t##_sub(&p, a->data, b->data, y->data); break;                          \
  case CN_OP_MUL: cnnrt_##t##_mul(&p, a->data, b->data, y->data); break;                          \
  case CN_OP_DIV: cnnrt_##t##_div(&p, a->data, b->data, y->data); break;                          \
  case CN_OP_MIN: cnnrt_##t##_min(&p, a->data, b->data, y->data); break;                          \
  case CN_OP_MAX: cnnrt_##t##_max(&p, a->data, b->data, y->data); break;                          \
  case CN_OP_EQUAL: cnnrt_##t##_equal(&p, a->data, b->data, y->data); break;                      \
  case CN_OP_LESS: cnnrt_##t##_less(&p, a->data, b->data, y->data); break;                        \
  case CN_OP_GREATER: cnnrt_##t##_greater(&p, a->data, b->data, y->data); break;                  \
  case CN_OP_LESS_OR_EQUAL: cnnrt_##t##_less_equal(&p, a->data, b->data, y->data); break;         \
  case CN_OP_GREATER_OR_EQUAL: cnnrt_##t##_greater_equal(&p, a->data, b->data, y->data); break;   \
  case CN_OP_MEAN:                                                                                 \
    cnnrt_##t##_add(&p, a->data, b->data, y->data);                                                \
    for (int64_t i = 0; i < cn_value_numel(y); i++) {                                              \
      ((T *)y->data)[i] /= 2;                                                                      \
    }                                                                                              \
    break;                                                                                         \
  default: CN_UNREACHABLE();                                                                       \
  }
  if (is_logic(n->op)) {
    return false;
  }
  if (a->dtype == CNNRT_I64) {
    FOLD(int64_t, i64)
  } else {
    FOLD(float, f32)
  }
#undef FOLD
  return true;
}
