/* cnnrt_gemm.h — ONNX Gemm and (batched, broadcasting) MatMul, float32 portable reference kernels.
 *
 * Two loop shapes cover every case with unit-stride inner loops:
 *  - B not transposed: rows of Y are accumulated as axpys of rows of B (i-k-j order), four rows
 *    of Y at a time so that every loaded B element serves four FMAs. Columns are blocked
 *    (CNNRT_GEMM_NB) so the four Y row pieces live in L1, and k is blocked (CNNRT_GEMM_KB) so the
 *    B panel being swept stays in L2 across all row blocks.
 *  - B transposed (the usual FC layer: Gemm(x, W^T) with W [n, k]): each Y element is a dot
 *    product of two contiguous k-vectors, computed with independent partial sums (vectorizable
 *    without -ffast-math). B rows are taken in blocks of about 128 KiB that are reused for all
 *    rows of A.
 * Summation order therefore differs from a naive loop (results agree to float rounding). */
#ifndef CNNRT_GEMM_H
#define CNNRT_GEMM_H

#include "cnnrt.h"

/* Y[m, n] = act(alpha * op(A) * op(B) + beta * C)
 * op(A) is [m, k]: A is stored [m, k], or [k, m] when trans_a. op(B) is [k, n]: B is stored
 * [k, n], or [n, k] when trans_b. C is broadcast to [m, n] (ONNX unidirectional broadcasting);
 * (c_rows, c_cols) is its shape after the compiler has prepended 1s up to rank 2:
 * (0, 0) no C, (1, 1) scalar, (1, n) row vector, (m, 1) column, (m, n) full. */
typedef struct cnnrt_gemm_params {
  int64_t m, n, k;
  int64_t trans_a, trans_b;
  float alpha, beta;
  int64_t c_rows, c_cols;
  int64_t act; /* enum cnnrt_act */
  float act_alpha, act_beta;
} cnnrt_gemm_params;

/* Y[batch..., m, n] = A[batch..., m, k] * B[batch..., k, n] with numpy broadcasting over the
 * batch dims. batch[] is the broadcast batch shape (the shape of Y minus its last two dims);
 * a_batch_stride / b_batch_stride give, per batch dim, the element stride of that operand's
 * matrices (0 where the operand has size 1 or lacks the dim). Each matrix is dense row-major.
 * 1-D operands are reshaped by the compiler ([k] -> [1, k] for A, [k] -> [k, 1] for B). */
typedef struct cnnrt_matmul_params {
  int64_t batch_rank;
  int64_t batch[CNNRT_MAX_RANK];
  int64_t a_batch_stride[CNNRT_MAX_RANK], b_batch_stride[CNNRT_MAX_RANK];
  int64_t m, n, k;
} cnnrt_matmul_params;

#define CNNRT_GEMM_NB 256 /* columns of Y per cache block */
#define CNNRT_GEMM_KB 128 /* depth per cache block */

/* y = act(alpha * y + beta * c) over one row piece; c is NULL or the row of C (c_step 0 for a
 * broadcast column, 1 otherwise). The expressions match cnnrt_apply_act exactly. */
static inline void cnnrt_f32_gemm_epilogue_row(const cnnrt_gemm_params *p, const float *c,
                                               int64_t c_step, float *y, int64_t len) {
  const float alpha = p->alpha, beta = p->beta;
  if (c == NULL) {
    for (int64_t j = 0; j < len; j++) {
      y[j] = alpha * y[j];
    }
  } else if (c_step == 0) {
    const float bc = beta * c[0];
    for (int64_t j = 0; j < len; j++) {
      y[j] = alpha * y[j] + bc;
    }
  } else {
    for (int64_t j = 0; j < len; j++) {
      y[j] = alpha * y[j] + beta * c[j];
    }
  }
  const float a = p->act_alpha, b = p->act_beta;
  switch (p->act) {
  case CNNRT_ACT_NONE:
    break;
  case CNNRT_ACT_RELU:
    for (int64_t j = 0; j < len; j++) {
      y[j] = y[j] > 0.0f ? y[j] : 0.0f;
    }
    break;
  case CNNRT_ACT_LEAKY_RELU:
    for (int64_t j = 0; j < len; j++) {
      y[j] = y[j] >= 0.0f ? y[j] : a * y[j];
    }
    break;
  case CNNRT_ACT_CLIP:
    for (int64_t j = 0; j < len; j++) {
      const float v = y[j];
      y[j] = v < a ? a : (v > b ? b : v);
    }
    break;
  default:
    for (int64_t j = 0; j < len; j++) {
      y[j] = cnnrt_apply_act((int)p->act, a, b, y[j]);
    }
    break;
  }
}

/* Epilogue of row i, columns [j0, j0 + len). C is not read at all when beta == 0 (as in
 * onnxruntime), so its contents, even NaN, do not matter then. */
static inline void cnnrt_f32_gemm_finish_row(const cnnrt_gemm_params *p, const float *C, int64_t i,
                                             int64_t j0, float *y, int64_t len) {
  const float *c = NULL;
  int64_t c_step = 0;
  if (C != NULL && p->c_rows > 0 && p->c_cols > 0 && p->beta != 0.0f) {
    const int64_t ci = p->c_rows == 1 ? 0 : i;
    c_step = p->c_cols == 1 ? 0 : 1;
    c = C + ci * p->c_cols + j0 * c_step;
  }
  cnnrt_f32_gemm_epilogue_row(p, c, c_step, y, len);
}

/* Y[m, n] = sum_k a(i, kk) * B[kk, j] with a(i, kk) = A[i * a_rs + kk * a_cs] and B dense [k, n].
 * Overwrites Y (row stride n). When ep != NULL each finished row piece gets the Gemm epilogue. */
static inline void cnnrt_f32_gemm_nn(int64_t m, int64_t n, int64_t k, const float *A, int64_t a_rs,
                                     int64_t a_cs, const float *B, float *Y,
                                     const cnnrt_gemm_params *ep, const float *C) {
  for (int64_t j0 = 0; j0 < n; j0 += CNNRT_GEMM_NB) {
    const int64_t jn = n - j0 < CNNRT_GEMM_NB ? n - j0 : CNNRT_GEMM_NB;
    for (int64_t i = 0; i < m; i++) {
      memset(Y + i * n + j0, 0, (size_t)jn * sizeof(float));
    }
    for (int64_t k0 = 0; k0 < k; k0 += CNNRT_GEMM_KB) {
      const int64_t k1 = k - k0 < CNNRT_GEMM_KB ? k : k0 + CNNRT_GEMM_KB;
      for (int64_t i0 = 0; i0 < m; i0 += 4) { /* register block of four rows of Y */
        if (m - i0 >= 4) {
          float *restrict y0 = Y + i0 * n + j0;
          float *restrict y1 = y0 + n;
          float *restrict y2 = y1 + n;
          float *restrict y3 = y2 + n;
          const float *a = A + i0 * a_rs;
          for (int64_t kk = k0; kk < k1; kk++) {
            const float *restrict b = B + kk * n + j0;
            const float a0 = a[kk * a_cs], a1 = a[a_rs + kk * a_cs];
            const float a2 = a[2 * a_rs + kk * a_cs], a3 = a[3 * a_rs + kk * a_cs];
            for (int64_t j = 0; j < jn; j++) {
              const float v = b[j];
              y0[j] += a0 * v;
              y1[j] += a1 * v;
              y2[j] += a2 * v;
              y3[j] += a3 * v;
            }
          }
        } else {
          for (int64_t i = i0; i < m; i++) {
            float *restrict yy = Y + i * n + j0;
            const float *a = A + i * a_rs;
            for (int64_t kk = k0; kk < k1; kk++) {
              const float *restrict b = B + kk * n + j0;
              const float av = a[kk * a_cs];
              for (int64_t j = 0; j < jn; j++) {
                yy[j] += av * b[j];
              }
            }
          }
        }
      }
    }
    if (ep != NULL) {
      for (int64_t i = 0; i < m; i++) {
        cnnrt_f32_gemm_finish_row(ep, C, i, j0, Y + i * n + j0, jn);
      }
    }
  }
}

/* Dot product of a (stride a_cs) and a contiguous b. Sixteen products per step go to two
 * 8-lane partial-sum arrays: independent lanes vectorize without -ffast-math, and this shape
 * maps well onto SSE, AVX2 and AVX-512 with both gcc and clang (a single 8-lane array
 * confuses gcc's AVX-512 code generation). */
static inline float cnnrt_f32_gemm_dot(const float *a, int64_t a_cs, const float *b, int64_t k) {
  float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  float t[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  const int64_t k16 = k - k % 16;
  float acc = 0.0f;
  if (a_cs == 1) {
    for (int64_t kk = 0; kk < k16; kk += 16) {
      for (int l = 0; l < 8; l++) {
        s[l] += a[kk + l] * b[kk + l];
      }
      for (int l = 0; l < 8; l++) {
        t[l] += a[kk + 8 + l] * b[kk + 8 + l];
      }
    }
    for (int64_t kk = k16; kk < k; kk++) {
      acc += a[kk] * b[kk];
    }
  } else {
    for (int64_t kk = 0; kk < k16; kk += 16) {
      for (int l = 0; l < 8; l++) {
        s[l] += a[(kk + l) * a_cs] * b[kk + l];
      }
      for (int l = 0; l < 8; l++) {
        t[l] += a[(kk + 8 + l) * a_cs] * b[kk + 8 + l];
      }
    }
    for (int64_t kk = k16; kk < k; kk++) {
      acc += a[kk * a_cs] * b[kk];
    }
  }
  for (int l = 0; l < 8; l++) {
    s[l] += t[l];
  }
  return (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) + acc;
}

/* ONNX Gemm. C may be NULL (then c_rows/c_cols are ignored). Y must not alias A, B or C. */
static inline void cnnrt_f32_gemm_ref(const cnnrt_gemm_params *p, const float *A, const float *B,
                                      const float *C, float *Y) {
  const int64_t m = p->m, n = p->n, k = p->k;
  /* op(A)(i, kk) = A[i * a_rs + kk * a_cs] */
  const int64_t a_rs = p->trans_a ? 1 : k;
  const int64_t a_cs = p->trans_a ? m : 1;
  if (!p->trans_b) {
    cnnrt_f32_gemm_nn(m, n, k, A, a_rs, a_cs, B, Y, p, C);
    return;
  }
  /* B stored [n, k]: Y(i, j) = dot(op(A) row i, B row j). */
  int64_t jb = k > 0 ? (int64_t)32768 / k : CNNRT_GEMM_NB; /* ~128 KiB of B rows per block */
  if (jb < 4) {
    jb = 4;
  } else if (jb > CNNRT_GEMM_NB) {
    jb = CNNRT_GEMM_NB;
  }
  for (int64_t j0 = 0; j0 < n; j0 += jb) {
    const int64_t jn = n - j0 < jb ? n - j0 : jb;
    for (int64_t i = 0; i < m; i++) {
      float *yy = Y + i * n + j0;
      const float *a = A + i * a_rs;
      for (int64_t j = 0; j < jn; j++) {
        yy[j] = cnnrt_f32_gemm_dot(a, a_cs, B + (j0 + j) * k, k);
      }
      cnnrt_f32_gemm_finish_row(p, C, i, j0, yy, jn);
    }
  }
}

/* ONNX MatMul (float). Y must not alias A or B. */
static inline void cnnrt_f32_matmul_ref(const cnnrt_matmul_params *p, const float *A,
                                        const float *B, float *Y) {
  const int64_t m = p->m, n = p->n, k = p->k;
  int64_t total = 1;
  for (int64_t d = 0; d < p->batch_rank; d++) {
    total *= p->batch[d];
  }
  if (total == 0 || m == 0 || n == 0) {
    return;
  }
  /* When B is shared by every batch and A's matrices are packed back to back (the conv-feature
   * x weight case, [b, m, k] x [k, n]), the batch folds into one tall GEMM: Y is laid out the
   * same way, and tall GEMMs make full use of the four-row register blocks. */
  int foldable = 1;
  int64_t dense = m * k;
  for (int64_t d = p->batch_rank - 1; d >= 0; d--) {
    if (p->batch[d] != 1 && (p->b_batch_stride[d] != 0 || p->a_batch_stride[d] != dense)) {
      foldable = 0;
      break;
    }
    dense *= p->batch[d];
  }
  if (foldable) {
    cnnrt_f32_gemm_nn(total * m, n, k, A, k, 1, B, Y, NULL, NULL);
    return;
  }
  int64_t idx[CNNRT_MAX_RANK] = {0};
  int64_t a_off = 0, b_off = 0;
  for (int64_t t = 0; t < total; t++) {
    cnnrt_f32_gemm_nn(m, n, k, A + a_off, k, 1, B + b_off, Y + t * m * n, NULL, NULL);
    /* Odometer increment of the batch index, keeping both operand offsets in step. */
    for (int64_t d = p->batch_rank - 1; d >= 0; d--) {
      idx[d]++;
      a_off += p->a_batch_stride[d];
      b_off += p->b_batch_stride[d];
      if (idx[d] < p->batch[d]) {
        break;
      }
      a_off -= idx[d] * p->a_batch_stride[d];
      b_off -= idx[d] * p->b_batch_stride[d];
      idx[d] = 0;
    }
  }
}

#endif /* CNNRT_GEMM_H */
