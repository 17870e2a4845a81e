/* cnnrt_winograd.h — 3x3 stride-1 convolution (group 1, 2-D) by Winograd F(4x4, 3x3).
 *
 * Each 4x4 block of output pixels (a "tile") of one output channel is
 *     Y = A^T [ sum_ic (G g G^T) . (B^T d B) ] A
 * with g the 3x3 kernel of (oc, ic), d the 6x6 input patch of the tile in channel ic (zero
 * outside the image) and "." the element-wise product. The 36 element-wise products summed over
 * input channels are 36 independent matrix products M[xi] = U[xi] * V[xi] with
 *     U[xi] [c_out, c_in]   (the transformed weights: constant, made at build time),
 *     V[xi] [c_in, tiles]   (the transformed input),
 * which is what makes Winograd pay: 36 multiplies per (oc, ic, tile) instead of 144.
 *
 * Matrices (Lavin & Gray, interpolation points 0, +-1, +-2, infinity):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * F(4x4, 3x3) rounds more than direct convolution (the +-2 points scale partial sums by up to 8
 * and 1/24); measured in tests/kernels/test_winograd.c and on whole models (docs/runtime.md).
 * Inference only: the compiler never selects it for training graphs' gradient convolutions.
 *
 * Weights: cnnrt_f32_winograd43_pack_weights (portable, run by the compiler on constant weights)
 * computes U in double and stores the 36 matrices one after the other, each in the 6-row panel
 * layout of cnnrt_f32_pack_a_mr6, so that the packed AVX2 GEMM (cnnrt_gemm_avx2.h: 6x16 AVX2 /
 * 12x32 AVX-512 microkernels) reads them as they are. The portable reference
 * cnnrt_f32_conv_winograd43_ref reads the same layout (one weights blob for both builds).
 *
 * AVX2 kernel (cnnrt_f32_conv_winograd43_avx2_range), per block of `tb` tiles (in (batch, tile
 * row, tile column) order; tb = cnnrt_winograd43_tile_block: whole tile rows, V and M in L2):
 *   1. input transform, per input channel and tile row: the 6 input rows (zero padded) are copied
 *      into line buffers, transformed vertically (B^T over rows, 8 columns per vector), then
 *      horizontally 8 tiles per vector (stride-4 gathers), into V [36][c_in][ldv];
 *   2. 36 GEMMs M[xi] = U[xi] * V[xi] (cnnrt_f32_gemm_packed_avx2_range), M [36][c_out][ldv];
 *   3. output transform, 8 tiles per vector, fused with bias, residual and activation, and an
 *      8x4 transpose so that rows of 32 output pixels are stored straight into NCHW y.
 * Threads: tasks take even, contiguous ranges of tiles, each with its own scratch region. */
#ifndef CNNRT_WINOGRAD_H
#define CNNRT_WINOGRAD_H

#include "cnnrt.h"
#include "cnnrt_conv.h"
#include "cnnrt_gemm_avx2.h"

/* Tiles of 4x4 output pixels: rows and columns (the last ones may be partial). */
static inline int64_t cnnrt_winograd43_tile_rows(const cnnrt_conv_params *p) {
  return (p->out[0] + 3) / 4;
}
static inline int64_t cnnrt_winograd43_tile_cols(const cnnrt_conv_params *p) {
  return (p->out[1] + 3) / 4;
}

/* Whether a convolution is one this kernel computes: 2-D, group 1, 3x3, stride 1, dilation 1. */
static inline int cnnrt_winograd43_applies(const cnnrt_conv_params *p) {
  return p->spatial == 2 && p->group == 1 && p->kernel[0] == 3 && p->kernel[1] == 3 &&
         p->stride[0] == 1 && p->stride[1] == 1 && p->dilation[0] == 1 && p->dilation[1] == 1;
}

/* Floats of one transformed weight matrix U[xi] in the packed layout. */
static inline int64_t cnnrt_winograd43_u_stride(int64_t c_out, int64_t c_in) {
  return cnnrt_f32_pack_a_mr6_bytes(c_out, c_in) / (int64_t)sizeof(float);
}

static inline int64_t cnnrt_f32_winograd43_weights_bytes(int64_t c_out, int64_t c_in) {
  return 36 * cnnrt_f32_pack_a_mr6_bytes(c_out, c_in);
}

/* Transforms weights w [c_out, c_in, 3, 3] into U = G g G^T (in double, rounded once), stored as
 * 36 packed matrices: packed[xi * u_stride + (oc / 6) * 6 * c_in + ic * 6 + oc % 6] = U[xi][oc][ic]
 * (xi = 6 * row + column of the 6x6 transformed kernel; padding rows of the last panel zero). */
static inline void cnnrt_f32_winograd43_pack_weights(int64_t c_out, int64_t c_in, const float *w,
                                                     float *packed) {
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  const int64_t us = cnnrt_winograd43_u_stride(c_out, c_in);
  const int64_t m_pad = (c_out + 5) / 6 * 6;
  for (int64_t oc = 0; oc < m_pad; oc++) {
    for (int64_t ic = 0; ic < c_in; ic++) {
      double gg[6][3]; /* G g */
      for (int i = 0; i < 6; i++) {
        for (int c = 0; c < 3; c++) {
          double s = 0.0;
          for (int k = 0; k < 3; k++) {
            s += oc < c_out ? G[i][k] * (double)w[((oc * c_in + ic) * 3 + k) * 3 + c] : 0.0;
          }
          gg[i][c] = s;
        }
      }
      for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 6; j++) {
          double s = 0.0;
          for (int k = 0; k < 3; k++) {
            s += gg[i][k] * G[j][k];
          }
          packed[(i * 6 + j) * us + (oc / 6) * 6 * c_in + ic * 6 + oc % 6] = (float)s;
        }
      }
    }
  }
}

/* 1-D transforms (scalar): B^T d (6 -> 6) and A^T m (6 -> 4). */
static inline void cnnrt_winograd43_bt(const float d[6], float w[6]) {
  const float t0 = d[4] - 4.0f * d[2], t1 = d[3] - 4.0f * d[1];
  const float t2 = d[4] - d[2], t3 = 2.0f * (d[3] - d[1]);
  w[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  w[1] = t0 + t1;
  w[2] = t0 - t1;
  w[3] = t2 + t3;
  w[4] = t2 - t3;
  w[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}
static inline void cnnrt_winograd43_at(const float m[6], float o[4]) {
  const float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
  o[0] = m[0] + s12 + s34;
  o[1] = d12 + 2.0f * d34;
  o[2] = s12 + 4.0f * s34;
  o[3] = d12 + 8.0f * d34 + m[5];
}

/* Portable reference: y = act(conv(x, w) + bias + residual) with w given as
 * cnnrt_f32_winograd43_pack_weights made it. bias [c_out] and residual (y's shape) may be NULL;
 * residual may be y itself (each element is read just before it is first written). Input
 * channels go in chunks whose transformed tiles fit a stack buffer; each chunk's output
 * transform adds onto the tile (the output transform is linear). */
#define CNNRT_WINOGRAD43_REF_CHUNK 32
static inline void cnnrt_f32_conv_winograd43_ref(const cnnrt_conv_params *p, const float *x,
                                                 const float *wt, const float *bias,
                                                 const float *residual, float *y) {
  CNNRT_ASSERT(cnnrt_winograd43_applies(p));
  const int64_t ih = p->in[0], iw = p->in[1], oh = p->out[0], ow = p->out[1];
  const int64_t ph = p->pad_begin[0], pw = p->pad_begin[1];
  const int64_t th = cnnrt_winograd43_tile_rows(p), tw = cnnrt_winograd43_tile_cols(p);
  const int64_t us = cnnrt_winograd43_u_stride(p->c_out, p->c_in);
  float v[CNNRT_WINOGRAD43_REF_CHUNK][36];
  for (int64_t b = 0; b < p->n; b++) {
    for (int64_t ty = 0; ty < th; ty++) {
      for (int64_t tx = 0; tx < tw; tx++) {
        for (int64_t c0 = 0; c0 < p->c_in; c0 += CNNRT_WINOGRAD43_REF_CHUNK) {
          const int64_t cn = p->c_in - c0 < CNNRT_WINOGRAD43_REF_CHUNK ? p->c_in - c0
                                                                        : CNNRT_WINOGRAD43_REF_CHUNK;
          for (int64_t c = 0; c < cn; c++) { /* V = B^T d B for input channel c0 + c */
            const float *xc = x + (b * p->c_in + c0 + c) * ih * iw;
            float d[6][6], t[6][6], col[6], out[6];
            for (int i = 0; i < 6; i++) {
              for (int j = 0; j < 6; j++) {
                const int64_t iy = 4 * ty + i - ph, ix = 4 * tx + j - pw;
                d[i][j] = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? xc[iy * iw + ix] : 0.0f;
              }
            }
            for (int j = 0; j < 6; j++) { /* columns: B^T d */
              for (int i = 0; i < 6; i++) {
                col[i] = d[i][j];
              }
              cnnrt_winograd43_bt(col, out);
              for (int i = 0; i < 6; i++) {
                t[i][j] = out[i];
              }
            }
            for (int i = 0; i < 6; i++) { /* rows: (B^T d) B */
              cnnrt_winograd43_bt(t[i], out);
              for (int j = 0; j < 6; j++) {
                v[c][i * 6 + j] = out[j];
              }
            }
          }
          const int first = c0 == 0, last = c0 + cn >= p->c_in;
          for (int64_t oc = 0; oc < p->c_out; oc++) {
            float m[36], t[4][6], col[6], o4[4], yt[4][4];
            for (int xi = 0; xi < 36; xi++) {
              const float *u = wt + xi * us + (oc / 6) * 6 * p->c_in + oc % 6;
              float s = 0.0f;
              for (int64_t c = 0; c < cn; c++) {
                s += u[(c0 + c) * 6] * v[c][xi];
              }
              m[xi] = s;
            }
            for (int j = 0; j < 6; j++) { /* A^T m */
              for (int i = 0; i < 6; i++) {
                col[i] = m[i * 6 + j];
              }
              cnnrt_winograd43_at(col, o4);
              for (int r = 0; r < 4; r++) {
                t[r][j] = o4[r];
              }
            }
            for (int r = 0; r < 4; r++) { /* (A^T m) A */
              cnnrt_winograd43_at(t[r], yt[r]);
            }
            const int64_t plane = (b * p->c_out + oc) * oh * ow;
            for (int r = 0; r < 4; r++) {
              for (int c = 0; c < 4; c++) {
                const int64_t oy = 4 * ty + r, ox = 4 * tx + c;
                if (oy >= oh || ox >= ow) {
                  continue;
                }
                float *yp = y + plane + oy * ow + ox;
                float s = yt[r][c];
                if (first) {
                  s += (bias ? bias[oc] : 0.0f) + (residual ? residual[plane + oy * ow + ox] : 0.0f);
                } else {
                  s += *yp;
                }
                if (last) {
                  s = cnnrt_apply_act((int)p->act, p->alpha, p->beta, s);
                }
                *yp = s;
              }
            }
          }
        }
      }
    }
  }
}

/* ---- Blocking and scratch sizes (portable: the compiler plans the arena with them). ---- */

/* Row stride of V and M: the block's tiles rounded up to whole vectors, plus one vector for the
 * stores of the last group, which may run past the block. */
static inline int64_t cnnrt_winograd43_ldv(int64_t tb) { return (tb + 7) / 8 * 8 + 8; }

/* Floats of one line buffer: every column a group of 8 tiles may read, past the row too. */
static inline int64_t cnnrt_winograd43_line(const cnnrt_conv_params *p) {
  return ((4 * (cnnrt_winograd43_tile_cols(p) + 8) + 8) + 7) / 8 * 8;
}

/* Tiles per block. A block's tiles run as the columns of the 36 GEMMs, and the transforms work
 * per tile-row segment, 8 tiles per vector, each segment's columns rounded up to 8: a block of
 * whole tile rows with at most 32 columns so rounded keeps the GEMMs at one 32-column AVX-512 tile
 * (or two 16-column AVX2 ones) with no narrow column remainder. So: as many whole tile rows as
 * fit in CNNRT_WINOGRAD43_TB (= 32) columns, or CNNRT_WINOGRAD43_TB tiles where one row is wider.
 * Measured on Zen 5 (bench/kernels/bench_winograd_avx2.c, one thread, tb forced): ResNet's 56 x 56
 * layers (14 tiles per row) 1.28x faster with 28 tiles (two rows, 30 columns) than with 32 (blocks
 * straddling rows: 36-40 columns, a 4-8 column GEMM remainder on the 6x8 AVX2 kernel, and
 * half-empty transform vectors), 28 x 28 (7 per row) 1.24x with 28; 21, 35 and 42 no better than 32.
 * 32 tiles was best among 8..128 earlier: 8 starves the GEMM, 64 and 128 were 2-10% slower (V and
 * M leave L2). Blocks never cross a task's range (cnnrt_f32_conv_winograd43_avx2_range). */
#ifndef CNNRT_WINOGRAD43_TB
#define CNNRT_WINOGRAD43_TB 32
#endif
static inline int64_t cnnrt_winograd43_tile_block(const cnnrt_conv_params *p) {
  const int64_t tw = cnnrt_winograd43_tile_cols(p);
  const int64_t tb = CNNRT_WINOGRAD43_TB;
  if (tw > tb) {
    return tb;
  }
  /* rows - 1 whole rows and the last one rounded up to 8 columns within tb columns. */
  const int64_t rows = 1 + (tb - (tw + 7) / 8 * 8) / tw;
  return rows * tw;
}

/* Scratch bytes of one task with blocks of tb tiles: V, M, 12 line buffers, the GEMM's B
 * panels; each part starts on a 64-byte boundary. */
static inline int64_t cnnrt_f32_conv_winograd43_scratch_bytes(const cnnrt_conv_params *p,
                                                              int64_t tb) {
  const int64_t ldv = cnnrt_winograd43_ldv(tb);
  const int64_t v = (36 * p->c_in * ldv * 4 + 63) / 64 * 64;
  const int64_t m = (36 * p->c_out * ldv * 4 + 63) / 64 * 64;
  const int64_t lines = (12 * cnnrt_winograd43_line(p) * 4 + 63) / 64 * 64;
  /* = cnnrt_f32_gemm_packed_avx2_scratch_bytes(c_out, ldv, c_in) (that one exists only under
   * AVX2): the GEMMs run on up to tb + 7 columns */
  const int64_t nc = cnnrt_gemm_avx2_min(ldv, cnnrt_gemm_avx2_nc(ldv));
  const int64_t gemm =
      64 + (cnnrt_gemm_avx2_kc(p->c_in) + 1) * ((nc + 15) / 16 * 16) * (int64_t)sizeof(float);
  return 64 + v + m + lines + gemm;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* One tile row's stretch inside a block: tiles [tx0, tx1) of row ty of image b, at block
 * column j0. */
typedef struct cnnrt_winograd43_seg {
  int64_t b, ty, tx0, tx1, j0;
} cnnrt_winograd43_seg;

/* Calls fn over the segments of the tiles [t0, t1) (flattened (b, ty, tx) order). */
static inline int64_t cnnrt_winograd43_segments(const cnnrt_conv_params *p, int64_t t0,
                                                int64_t t1, cnnrt_winograd43_seg *segs,
                                                int64_t cap) {
  const int64_t th = cnnrt_winograd43_tile_rows(p), tw = cnnrt_winograd43_tile_cols(p);
  int64_t ns = 0;
  for (int64_t t = t0; t < t1 && ns < cap;) {
    const int64_t row = t / tw, tx = t % tw;
    const int64_t end = (row + 1) * tw < t1 ? (row + 1) * tw : t1;
    segs[ns].b = row / th;
    segs[ns].ty = row % th;
    segs[ns].tx0 = tx;
    segs[ns].tx1 = tx + (end - t);
    segs[ns].j0 = t - t0;
    ns++;
    t = end;
  }
  return ns;
}

/* 1-D transforms on 8 lanes. */
#define CNNRT_WINO_BT(d0, d1, d2, d3, d4, d5, w0, w1, w2, w3, w4, w5)                              \
  do {                                                                                             \
    const __m256 c4_ = _mm256_set1_ps(4.0f), c5_ = _mm256_set1_ps(5.0f);                           \
    const __m256 t0_ = _mm256_fnmadd_ps(c4_, d2, d4), t1_ = _mm256_fnmadd_ps(c4_, d1, d3);          \
    const __m256 t2_ = _mm256_sub_ps(d4, d2);                                                      \
    const __m256 t3_ = _mm256_add_ps(_mm256_sub_ps(d3, d1), _mm256_sub_ps(d3, d1));                \
    w0 = _mm256_add_ps(_mm256_fnmadd_ps(c5_, d2, _mm256_mul_ps(c4_, d0)), d4);                     \
    w1 = _mm256_add_ps(t0_, t1_);                                                                  \
    w2 = _mm256_sub_ps(t0_, t1_);                                                                  \
    w3 = _mm256_add_ps(t2_, t3_);                                                                  \
    w4 = _mm256_sub_ps(t2_, t3_);                                                                  \
    w5 = _mm256_add_ps(_mm256_fnmadd_ps(c5_, d3, _mm256_mul_ps(c4_, d1)), d5);                     \
  } while (0)

#define CNNRT_WINO_AT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                      \
  do {                                                                                             \
    const __m256 s12_ = _mm256_add_ps(m1, m2), d12_ = _mm256_sub_ps(m1, m2);                       \
    const __m256 s34_ = _mm256_add_ps(m3, m4), d34_ = _mm256_sub_ps(m3, m4);                       \
    o0 = _mm256_add_ps(_mm256_add_ps(m0, s12_), s34_);                                             \
    o1 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34_, d12_);                                        \
    o2 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34_, s12_);                                        \
    o3 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34_, d12_), m5);                     \
  } while (0)

/* Input transform of one segment in channel c: V[xi][c][seg.j0 + k] for its tiles (and, past
 * tx1, up to 7 tiles of transformed zero-padded lines that later rows or nobody reads). */
static inline void cnnrt_winograd43_input_seg(const cnnrt_conv_params *p, const float *xc,
                                              const cnnrt_winograd43_seg *s, float *lines,
                                              int64_t lw, float *v_c, int64_t v_xi_stride) {
  const int64_t ih = p->in[0], iw = p->in[1], ph = p->pad_begin[0], pw = p->pad_begin[1];
  const int64_t groups = (s->tx1 - s->tx0 + 7) / 8;
  const int64_t xa = 4 * s->tx0, xb = 4 * (s->tx0 + 8 * groups) + 2; /* line columns used */
  float *raw = lines, *tl = lines + 6 * lw;
  /* Valid input columns of the line range: ix = xx - pw in [0, iw). */
  int64_t va = xa, vb = xb;
  if (va < pw) {
    va = pw;
  }
  if (vb > iw + pw) {
    vb = iw + pw;
  }
  for (int i = 0; i < 6; i++) {
    const int64_t iy = 4 * s->ty + i - ph;
    float *l = raw + i * lw;
    if (iy < 0 || iy >= ih || va >= vb) {
      for (int64_t xx = xa; xx < xb; xx++) {
        l[xx] = 0.0f;
      }
      continue;
    }
    const float *src = xc + iy * iw; /* input column xx - pw */
    for (int64_t xx = xa; xx < va; xx++) {
      l[xx] = 0.0f;
    }
    for (int64_t xx = va; xx < vb; xx++) {
      l[xx] = src[xx - pw];
    }
    for (int64_t xx = vb; xx < xb; xx++) {
      l[xx] = 0.0f;
    }
  }
  /* Vertical: tl[i] = sum_k B^T[i][k] raw[k] (columns xa..xb rounded to 8; lw leaves room). */
  for (int64_t xx = xa; xx < xb; xx += 8) {
    const __m256 d0 = _mm256_loadu_ps(raw + xx), d1 = _mm256_loadu_ps(raw + lw + xx);
    const __m256 d2 = _mm256_loadu_ps(raw + 2 * lw + xx), d3 = _mm256_loadu_ps(raw + 3 * lw + xx);
    const __m256 d4 = _mm256_loadu_ps(raw + 4 * lw + xx), d5 = _mm256_loadu_ps(raw + 5 * lw + xx);
    __m256 w0, w1, w2, w3, w4, w5;
    CNNRT_WINO_BT(d0, d1, d2, d3, d4, d5, w0, w1, w2, w3, w4, w5);
    _mm256_storeu_ps(tl + xx, w0);
    _mm256_storeu_ps(tl + lw + xx, w1);
    _mm256_storeu_ps(tl + 2 * lw + xx, w2);
    _mm256_storeu_ps(tl + 3 * lw + xx, w3);
    _mm256_storeu_ps(tl + 4 * lw + xx, w4);
    _mm256_storeu_ps(tl + 5 * lw + xx, w5);
  }
  /* Horizontal: 8 tiles per vector, tile k's column j at tl[i][4 * (tx0 + k) + j]. */
  const __m256i idx = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  for (int64_t g = 0; g < groups; g++) {
    const int64_t x0 = 4 * (s->tx0 + 8 * g);
    float *vo = v_c + s->j0 + 8 * g;
    for (int i = 0; i < 6; i++) {
      const float *r = tl + i * lw + x0;
      const __m256 d0 = _mm256_i32gather_ps(r, idx, 4), d1 = _mm256_i32gather_ps(r + 1, idx, 4);
      const __m256 d2 = _mm256_i32gather_ps(r + 2, idx, 4), d3 = _mm256_i32gather_ps(r + 3, idx, 4);
      const __m256 d4 = _mm256_i32gather_ps(r + 4, idx, 4), d5 = _mm256_i32gather_ps(r + 5, idx, 4);
      __m256 w0, w1, w2, w3, w4, w5;
      CNNRT_WINO_BT(d0, d1, d2, d3, d4, d5, w0, w1, w2, w3, w4, w5);
      float *vi = vo + (int64_t)(i * 6) * v_xi_stride;
      _mm256_storeu_ps(vi, w0);
      _mm256_storeu_ps(vi + v_xi_stride, w1);
      _mm256_storeu_ps(vi + 2 * v_xi_stride, w2);
      _mm256_storeu_ps(vi + 3 * v_xi_stride, w3);
      _mm256_storeu_ps(vi + 4 * v_xi_stride, w4);
      _mm256_storeu_ps(vi + 5 * v_xi_stride, w5);
    }
  }
}

/* Output transform of one segment for output channel oc, with the epilogue, into y. */
static inline void cnnrt_winograd43_output_seg(const cnnrt_conv_params *p, const float *m_oc,
                                               int64_t m_xi_stride, const cnnrt_winograd43_seg *s,
                                               int64_t oc, const float *bias,
                                               const float *residual, float *y,
                                               const cnnrt_gemm_avx2_epi *e) {
  const int64_t oh = p->out[0], ow = p->out[1];
  const int64_t groups = (s->tx1 - s->tx0 + 7) / 8;
  const int64_t col_end = 4 * s->tx1 < ow ? 4 * s->tx1 : ow;
  const int64_t plane = (s->b * p->c_out + oc) * oh * ow;
  const float *bo = bias != NULL ? bias + oc : NULL;
  for (int64_t g = 0; g < groups; g++) {
    const float *mg = m_oc + s->j0 + 8 * g;
    __m256 t[4][6];
    for (int j = 0; j < 6; j++) { /* columns of the 6x6: A^T m */
      const __m256 m0 = _mm256_loadu_ps(mg + (0 * 6 + j) * m_xi_stride);
      const __m256 m1 = _mm256_loadu_ps(mg + (1 * 6 + j) * m_xi_stride);
      const __m256 m2 = _mm256_loadu_ps(mg + (2 * 6 + j) * m_xi_stride);
      const __m256 m3 = _mm256_loadu_ps(mg + (3 * 6 + j) * m_xi_stride);
      const __m256 m4 = _mm256_loadu_ps(mg + (4 * 6 + j) * m_xi_stride);
      const __m256 m5 = _mm256_loadu_ps(mg + (5 * 6 + j) * m_xi_stride);
      CNNRT_WINO_AT(m0, m1, m2, m3, m4, m5, t[0][j], t[1][j], t[2][j], t[3][j]);
    }
    const int64_t x0 = 4 * (s->tx0 + 8 * g);
    const int64_t ncols = col_end - x0; /* valid output columns from x0 (> 0) */
    for (int r = 0; r < 4; r++) {
      const int64_t oy = 4 * s->ty + r;
      if (oy >= oh) {
        break;
      }
      __m256 o0, o1, o2, o3;
      CNNRT_WINO_AT(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], o0, o1, o2, o3);
      /* o_c holds column c of 8 tiles; transpose into 32 consecutive pixels. */
      const __m256 ab_lo = _mm256_unpacklo_ps(o0, o1), ab_hi = _mm256_unpackhi_ps(o0, o1);
      const __m256 cd_lo = _mm256_unpacklo_ps(o2, o3), cd_hi = _mm256_unpackhi_ps(o2, o3);
      const __m256 q0 = _mm256_shuffle_ps(ab_lo, cd_lo, 0x44), q1 = _mm256_shuffle_ps(ab_lo, cd_lo, 0xEE);
      const __m256 q2 = _mm256_shuffle_ps(ab_hi, cd_hi, 0x44), q3 = _mm256_shuffle_ps(ab_hi, cd_hi, 0xEE);
      const __m256 px0 = _mm256_permute2f128_ps(q0, q1, 0x20);
      const __m256 px1 = _mm256_permute2f128_ps(q2, q3, 0x20);
      const __m256 px2 = _mm256_permute2f128_ps(q0, q1, 0x31);
      const __m256 px3 = _mm256_permute2f128_ps(q2, q3, 0x31);
      float *yr = y + plane + oy * ow + x0;
      const float *rr = residual != NULL ? residual + plane + oy * ow + x0 : NULL;
      cnnrt_gemm_avx2_store8(yr, bo, rr, px0, ncols, e);
      if (ncols > 8) {
        cnnrt_gemm_avx2_store8(yr + 8, bo, rr != NULL ? rr + 8 : NULL, px1, ncols - 8, e);
      }
      if (ncols > 16) {
        cnnrt_gemm_avx2_store8(yr + 16, bo, rr != NULL ? rr + 16 : NULL, px2, ncols - 16, e);
      }
      if (ncols > 24) {
        cnnrt_gemm_avx2_store8(yr + 24, bo, rr != NULL ? rr + 24 : NULL, px3, ncols - 24, e);
      }
      if (!cnnrt_avx2_act_is_vector(e->act)) {
        cnnrt_f32_act_avx2(e->act, e->alpha, e->beta, ncols < 32 ? ncols : 32, yr, yr);
      }
    }
  }
}

/* M = U * V for one xi: c_out x cols, depth c_in (V [c_in][ldv], M [c_out][ldv]); u is c_out
 * rows of U (cnnrt_f32_pack_a_mr6 layout, from a multiple of 6), u_len floats, next_u the same
 * rows of the next GEMM's U or NULL.
 * Why not cnnrt_f32_gemm_packed_avx2_range: U streams from memory (all 36 are 2.4 MB for
 * 128 -> 128, and a network's weights do not stay in cache between runs), each U element feeds
 * only `cols` (<= 40) columns, and the hardware prefetcher does not run far enough ahead of
 * that. So the rows go in strips, and before each strip the matching share of next_u's lines
 * is prefetched. Measured (bench/kernels/bench_winograd_threads_avx2.c, U from memory, old and
 * new alternating in one binary): 128 -> 128 at 28 x 28 0.94-0.96x the time on one thread and
 * 0.83-0.86x on two (where both tasks read all of U); 64 -> 64 at 56 x 56 (U 0.6 MB) 0.99-1.01x. */
static inline void cnnrt_winograd43_gemm(int64_t c_out, int64_t cols, int64_t c_in, const float *u,
                                         const float *next_u, int64_t u_len, const float *v,
                                         int64_t ldv, float *m, void *scratch) {
  enum { STRIP = 24 }; /* rows per strip: a multiple of the 12-row AVX-512 tile */
  float *bp = cnnrt_gemm_avx2_align(scratch);
  const int64_t kc_max = cnnrt_gemm_avx2_kc(c_in);
  const int64_t n_strips = (c_out + STRIP - 1) / STRIP;
  const int64_t lines = (u_len * (int64_t)sizeof(float) + 63) / 64;
  cnnrt_gemm_avx2_epi e;
  e.act = CNNRT_ACT_NONE;
  e.alpha = 0.0f;
  e.beta = 0.0f;
  CNNRT_ASSERT(cols <= cnnrt_gemm_avx2_nc(cols));
  for (int64_t k0 = 0; k0 < c_in; k0 += kc_max) {
    const int64_t kc = cnnrt_gemm_avx2_min(kc_max, c_in - k0);
    cnnrt_gemm_avx2_pack_b(kc, cols, v + k0 * ldv, ldv, bp);
    e.first = k0 == 0;
    e.last = k0 + kc >= c_in;
    for (int64_t st = 0; st < n_strips; st++) {
      if (next_u != NULL && k0 == 0) {
        cnnrt_prefetch_share(next_u, lines, st, n_strips, next_u + u_len);
      }
      const int64_t i = st * STRIP, rows = cnnrt_gemm_avx2_min(STRIP, c_out - i);
      cnnrt_gemm_avx2_macro(rows, cols, kc, u + i * c_in, c_in, k0, bp, m + i * ldv, ldv, NULL,
                            NULL, &e);
    }
  }
}

/* Whether n_tasks tasks split a convolution by output channels rather than by tiles: when its
 * tiles make fewer blocks than there are tasks. Split by tiles, every task streams all of U
 * however few tiles it has; ResNet-50's 14 x 14 layers (16 tiles, one block, 256 -> 256: U is
 * 9.4 MB) then ran no faster on two threads than on one. Split by output channels, each task
 * transforms all of the input (a small part of the work) and streams only its rows of U. */
static inline int cnnrt_winograd43_by_channels(const cnnrt_conv_params *p, int64_t tb,
                                               int64_t n_tasks) {
  const int64_t tiles = p->n * cnnrt_winograd43_tile_rows(p) * cnnrt_winograd43_tile_cols(p);
  return n_tasks > 1 && (tiles + tb - 1) / tb < n_tasks && p->c_out >= 24 * n_tasks;
}

/* First output channel of task `task` when split by channels: a multiple of 12 (whole 6-row
 * panels of U, whole 12-row AVX-512 GEMM tiles), c_out for task n_tasks. */
static inline int64_t cnnrt_winograd43_channel_split(int64_t c_out, int64_t task, int64_t n_tasks) {
  return task >= n_tasks ? c_out : (c_out * task / n_tasks + 6) / 12 * 12;
}

/* Task `task` of n_tasks: tiles [tiles * task / n_tasks, tiles * (task + 1) / n_tasks) of all
 * output channels, or all tiles of a share of the output channels
 * (cnnrt_winograd43_by_channels), in blocks of at most tb tiles that end with a tile row where
 * they can. x, bias, residual, y as cnnrt_f32_conv_winograd43_ref; wt the packed U; scratch
 * cnnrt_f32_conv_winograd43_scratch_bytes(p, tb) bytes. steal (NULL: none) is the layer's
 * cnnrt_steal: split by tiles, a task then goes on with blocks of the other tasks' shares. */
static inline void cnnrt_f32_conv_winograd43_avx2_range(const cnnrt_conv_params *p, const float *x,
                                                        const float *wt, const float *bias,
                                                        const float *residual, float *y, int64_t tb,
                                                        void *scratch, int64_t task,
                                                        int64_t n_tasks, cnnrt_steal *steal) {
  CNNRT_ASSERT(cnnrt_winograd43_applies(p) && tb > 0);
  const int64_t th = cnnrt_winograd43_tile_rows(p), tw = cnnrt_winograd43_tile_cols(p);
  const int64_t tiles = p->n * th * tw;
  /* The task's tiles and output channels: even shares, so that tasks are balanced whatever the
   * blocks. */
  int64_t oc_lo = 0, oc_hi = p->c_out, split_tasks = n_tasks, split_task = task;
  if (cnnrt_winograd43_by_channels(p, tb, n_tasks)) {
    oc_lo = cnnrt_winograd43_channel_split(p->c_out, task, n_tasks);
    oc_hi = cnnrt_winograd43_channel_split(p->c_out, task + 1, n_tasks);
    split_tasks = 1; /* all tiles */
    split_task = 0;
  }
  const int64_t ldv = cnnrt_winograd43_ldv(tb), lw = cnnrt_winograd43_line(p);
  const int64_t us = cnnrt_winograd43_u_stride(p->c_out, p->c_in);
  const int64_t c_in = p->c_in, rows = oc_hi - oc_lo, in_plane = p->in[0] * p->in[1];
  /* The task's rows of each U: from row oc_lo (a multiple of 6), whole panels. */
  const float *u0 = wt + oc_lo * c_in;
  const int64_t u_len = (rows + 5) / 6 * 6 * c_in;
  float *v = cnnrt_gemm_avx2_align(scratch);
  float *m = v + (36 * c_in * ldv + 15) / 16 * 16; /* [36][rows][ldv] */
  float *lines = m + (36 * p->c_out * ldv + 15) / 16 * 16;
  float *gemm = lines + (12 * lw + 15) / 16 * 16;
  cnnrt_gemm_avx2_epi e;
  e.act = p->act;
  e.alpha = p->alpha;
  e.beta = p->beta;
  e.first = 1;
  e.last = 1;
  /* A block spans at most tb / tw + 2 tile rows; segments are computed on the fly in pieces. */
  enum { SEG_CAP = 16 };
  cnnrt_winograd43_seg segs[SEG_CAP];
  /* Split by tiles, a task whose share is done takes blocks from the end of the others' shares
   * (cnnrt_steal_next); the pieces are blocks of at most tb tiles that end at a tile row's end
   * when they contain one, and without stealing (one task, or split by channels) the piece is
   * the share, cut into such blocks here. */
  int64_t lo, hi;
  for (int first = 1;
       cnnrt_steal_next(steal, tiles, split_tasks, split_task, tb, tw, first, &lo, &hi);
       first = 0) {
    for (int64_t t0 = lo, t1; t0 < hi; t0 = t1) {
      t1 = cnnrt_steal_piece_end(t0, hi, tb, tw);
      /* 1. Input transform. Segments in increasing j0: a group's stores past its segment are
       * overwritten by the next segment's. Columns [0, cols) of V get written (cols <= nt + 7);
       * the GEMMs compute all of them, so that the output transform's lanes past the block read
       * defined values (whose results it does not store). */
      int64_t cols = 0;
      for (int64_t ts = t0; ts < t1;) {
        const int64_t ns = cnnrt_winograd43_segments(p, ts, t1, segs, SEG_CAP);
        for (int64_t k = 0; k < ns; k++) {
          segs[k].j0 += ts - t0;
        }
        for (int64_t k = 0; k < ns; k++) {
          const float *xb = x + segs[k].b * c_in * in_plane;
          for (int64_t c = 0; c < c_in; c++) {
            cnnrt_winograd43_input_seg(p, xb + c * in_plane, &segs[k], lines, lw, v + c * ldv,
                                       c_in * ldv);
          }
          cols = segs[k].j0 + (segs[k].tx1 - segs[k].tx0 + 7) / 8 * 8;
        }
        ts = t0 + segs[ns - 1].j0 + (segs[ns - 1].tx1 - segs[ns - 1].tx0);
      }
      /* 2. The 36 GEMMs, each prefetching the next one's U. */
      for (int xi = 0; xi < 36; xi++) {
        cnnrt_winograd43_gemm(rows, cols, c_in, u0 + xi * us,
                              xi + 1 < 36 ? u0 + (xi + 1) * us : NULL, u_len, v + xi * c_in * ldv,
                              ldv, m + xi * rows * ldv, gemm);
      }
      /* 3. Output transform with the epilogue. */
      for (int64_t ts = t0; ts < t1;) {
        const int64_t ns = cnnrt_winograd43_segments(p, ts, t1, segs, SEG_CAP);
        for (int64_t k = 0; k < ns; k++) {
          segs[k].j0 += ts - t0;
        }
        for (int64_t k = 0; k < ns; k++) {
          for (int64_t oc = oc_lo; oc < oc_hi; oc++) {
            cnnrt_winograd43_output_seg(p, m + (oc - oc_lo) * ldv, rows * ldv, &segs[k], oc, bias,
                                        residual, y, &e);
          }
        }
        ts = t0 + segs[ns - 1].j0 + (segs[ns - 1].tx1 - segs[ns - 1].tx0);
      }
    }
  }
}

/* The generated code's task: one conv split into n_tasks ranges of tile blocks. */
typedef struct cnnrt_winograd43_task {
  const cnnrt_conv_params *p;
  const float *x, *w, *bias, *residual;
  float *y;
  unsigned char *scratch;
  int64_t scratch_stride, tb, n_tasks;
  cnnrt_steal steal; /* blocks taken over ({{0}}: cnnrt_steal_next) */
} cnnrt_winograd43_task;

static inline void cnnrt_conv_winograd43_avx2_task(void *arg, int64_t t) {
  cnnrt_winograd43_task *a = (cnnrt_winograd43_task *)arg;
  cnnrt_f32_conv_winograd43_avx2_range(a->p, a->x, a->w, a->bias, a->residual, a->y, a->tb,
                                       a->scratch + t * a->scratch_stride, t, a->n_tasks,
                                       &a->steal);
}

#undef CNNRT_WINO_BT
#undef CNNRT_WINO_AT
#endif /* __AVX2__ && __FMA__ */

#endif /* CNNRT_WINOGRAD_H */
