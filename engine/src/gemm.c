/* gemm.c — single-precision GEMM: an AVX-512 packed kernel with a cblas
 * fallback.
 *
 * Design (BLIS/GotoBLAS style). The product is cut into T rectangles, one
 * per thread of the engine's pool, along N (or along M when M > N); each
 * thread runs the same blocked loop on its rectangle with its own pack
 * buffers:
 *
 *   for jc over N in NC columns
 *     for pc over K in KC steps          pack op(B)[pc:+kc][jc:+nc] -> pb
 *       for ic over M in MC rows         pack op(A)[ic:+mc][pc:+kc] -> pa
 *         for jr over nc in NR columns   (B strip kc x NR stays in L1)
 *           for ir over mc in MR rows    (A strip MR x kc streams from L2)
 *             microkernel: C[ir:+MR][jr:+NR] (+)= alpha * Astrip x Bstrip
 *
 * Packed layouts: an A strip is [kc][MR] (MR consecutive rows of op(A) for
 * each k), a B strip is [kc][NR] (NR consecutive columns of op(B) for each
 * k); both are zero-padded past the matrix edge, so the microkernel never
 * branches on k. Transposition is handled entirely by the packing (16x16
 * register transposes for the strided cases), so one microkernel serves all
 * four transpose combinations.
 *
 * The microkernel keeps an MR x NR = 14 x 32 tile of C in 28 zmm
 * accumulators; per k it loads two B vectors, broadcasts 14 A values and
 * issues 28 FMAs. Row tails use a kernel compiled for fewer rows (no
 * wasted FMAs), column tails a one-vector kernel and masked stores. The
 * first K block applies the caller's beta (beta == 0 stores without reading
 * C), later blocks accumulate with beta = 1; alpha scales each block's sum.
 *
 * All AVX-512 code sits in functions with a target attribute, selected at
 * run time with __builtin_cpu_supports; the result is cached in a single
 * atomic. Without AVX-512 (or with DINET_SGEMM=blas) the call goes to
 * cblas_sgemm. */
#include "gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "parallel.h"

#define MR 14 /* microkernel rows (broadcast A values) */
#define NR 32 /* microkernel columns (two zmm vectors) */
/* Block sizes (overridable with -D for tuning):
 * KC: K block; a B strip is KC x NR x 4 B = 32 KiB (L1).
 * MC: M block; an A block is MC x KC x 4 B = 336 KiB (L2).
 * NC: N block; a B panel is KC x NC x 4 B = 3 MiB (L3). */
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 336
#endif
#ifndef NC
#define NC 3072
#endif

/* Products below this many flops run on the calling thread only. */
#define PAR_MIN_FLOPS 3.0e6

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INLINE_AVX512 static inline __attribute__((always_inline)) AVX512

/* 0 = not yet decided, 1 = cblas, 2 = AVX-512 kernel. */
static atomic_int sgemm_mode;

/* Decides (once) whether the AVX-512 kernel is usable and wanted. */
static int sgemm_mode_get(void) {
  int m = atomic_load_explicit(&sgemm_mode, memory_order_acquire);
  if (m == 0) {
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    const char *e = getenv("DINET_SGEMM");
    if (e && strcmp(e, "blas") == 0)
      ok = 0;
    m = ok ? 2 : 1;
    atomic_store_explicit(&sgemm_mode, m, memory_order_release);
  }
  return m;
}

int dinet__sgemm_native(void) { return sgemm_mode_get() == 2; }

/* ------------------------------------------------------------------ */
/* Microkernel                                                          */

/* Signature of the microkernels: C[mr][nr] = alpha * a x b + beta * C,
 * a: packed A strip [kc][MR], b: packed B strip [kc][NR] (64-byte aligned),
 * mlast: lanes of the last C vector of each row to store. */
typedef void (*kern_fn)(int kc, const float *a, const float *b, float *c, long ldc,
                        float alpha, float beta, __mmask16 mlast);

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

/* The microkernel body for a compile-time row count mr (1..MR) and vector
 * count nv (1 or 2): C[mr][16*nv, last vector masked by mlast] (+)= ...
 * Accumulators c<i>_<v> are row i, columns 16v..16v+15. */
INLINE_AVX512 void kern_body(const int mr, const int nv, int kc, const float *restrict a,
                             const float *restrict b, float *restrict c, long ldc,
                             float alpha, float beta, __mmask16 mlast) {
#define KDECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();
  ROWS(KDECL)
#undef KDECL
#define KPF(i)                                                   \
  if (mr > i) {                                                  \
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);      \
    _mm_prefetch((const char *)(c + i * ldc + 16 * nv - 1), _MM_HINT_T0); \
  }
  if (beta != 0.0f) {
    ROWS(KPF)
  }
#undef KPF
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#define KSTEP(i)                                                  \
  if (mr > i) {                                                   \
    const __m512 ai = _mm512_set1_ps(a[i]);                       \
    c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);                 \
    if (nv > 1)                                                   \
      c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);               \
  }
    ROWS(KSTEP)
#undef KSTEP
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#define KST0(i)                                                                    \
  if (mr > i) {                                                                    \
    float *cr = c + i * ldc;                                                       \
    if (nv > 1) {                                                                  \
      _mm512_storeu_ps(cr, _mm512_mul_ps(va, c##i##_0));                           \
      _mm512_mask_storeu_ps(cr + 16, mlast, _mm512_mul_ps(va, c##i##_1));          \
    } else {                                                                       \
      _mm512_mask_storeu_ps(cr, mlast, _mm512_mul_ps(va, c##i##_0));               \
    }                                                                              \
  }
    ROWS(KST0)
#undef KST0
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#define KSTB(i)                                                                    \
  if (mr > i) {                                                                    \
    float *cr = c + i * ldc;                                                       \
    if (nv > 1) {                                                                  \
      __m512 o0 = _mm512_mul_ps(vb, _mm512_loadu_ps(cr));                          \
      __m512 o1 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mlast, cr + 16));        \
      _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, c##i##_0, o0));                     \
      _mm512_mask_storeu_ps(cr + 16, mlast, _mm512_fmadd_ps(va, c##i##_1, o1));    \
    } else {                                                                       \
      __m512 o0 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mlast, cr));             \
      _mm512_mask_storeu_ps(cr, mlast, _mm512_fmadd_ps(va, c##i##_0, o0));         \
    }                                                                              \
  }
    ROWS(KSTB)
#undef KSTB
  }
}

/* One microkernel per (rows, vectors): kern_<mr>_<nv>. */
#define KDEF(mr)                                                                   \
  static AVX512 void kern_##mr##_1(int kc, const float *a, const float *b, float *c, \
                                   long ldc, float alpha, float beta, __mmask16 m) { \
    kern_body(mr, 1, kc, a, b, c, ldc, alpha, beta, m);                            \
  }                                                                                \
  static AVX512 void kern_##mr##_2(int kc, const float *a, const float *b, float *c, \
                                   long ldc, float alpha, float beta, __mmask16 m) { \
    kern_body(mr, 2, kc, a, b, c, ldc, alpha, beta, m);                            \
  }
KDEF(1) KDEF(2) KDEF(3) KDEF(4) KDEF(5) KDEF(6) KDEF(7)
KDEF(8) KDEF(9) KDEF(10) KDEF(11) KDEF(12) KDEF(13) KDEF(14)
#undef KDEF

/* kern_table[mr - 1][nv - 1] */
static const kern_fn kern_table[MR][2] = {
    {kern_1_1, kern_1_2},   {kern_2_1, kern_2_2},   {kern_3_1, kern_3_2},
    {kern_4_1, kern_4_2},   {kern_5_1, kern_5_2},   {kern_6_1, kern_6_2},
    {kern_7_1, kern_7_2},   {kern_8_1, kern_8_2},   {kern_9_1, kern_9_2},
    {kern_10_1, kern_10_2}, {kern_11_1, kern_11_2}, {kern_12_1, kern_12_2},
    {kern_13_1, kern_13_2}, {kern_14_1, kern_14_2},
};

/* ------------------------------------------------------------------ */
/* Packing                                                              */

/* In-register 16x16 transpose: on entry r[i] is row i, on exit r[j] is
 * column j (r[j][i] = old r[i][j]). */
INLINE_AVX512 void tr16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);     /* a0 b0 a1 b1 | a4.. */
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]); /* a2 b2 a3 b3 | a6.. */
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);     /* abcd0 | abcd4.. */
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);     /* abcd1 | abcd5.. */
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44); /* abcd2 | abcd6.. */
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee); /* abcd3 | abcd7.. */
  }
  /* r[4q + e] holds, for rows 4q..4q+3, columns e, e+4, e+8, e+12 (one
   * 128-bit lane each). */
#pragma GCC unroll 4
  for (int e = 0; e < 4; e++) {
    t[e] = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);          /* rows 0-7, cols e, e+8 */
    t[4 + e] = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xdd);      /* rows 0-7, cols e+4, e+12 */
    t[8 + e] = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88); /* rows 8-15, cols e, e+8 */
    t[12 + e] = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xdd);
  }
#pragma GCC unroll 8
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);     /* column j */
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd); /* column j + 8 */
  }
}

/* Transposing copy of up to 16 source rows:
 *   dst[k * ds + i] = src[i * ld + k]   for i < rows, k < kc,
 * lanes i in [rows, 16) are written as 0, and only lanes in smask are
 * stored. src [rows][ld] (unused when rows == 0). */
static AVX512 void pack_t16(const float *src, long ld, int rows, int kc, float *dst, long ds,
                            __mmask16 smask) {
  __m512 r[16];
  for (int k0 = 0; k0 < kc; k0 += 16) {
    const int w = kc - k0 < 16 ? kc - k0 : 16;
    const __mmask16 lm = (__mmask16)((1u << w) - 1u);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(lm, src + i * ld + k0) : _mm512_setzero_ps();
    tr16(r);
    float *d = dst + (long)k0 * ds;
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++)
      if (k < w)
        _mm512_mask_storeu_ps(d + k * ds, smask, r[k]);
  }
}

/* The parameters of one dinet__sgemm call and how it is split. */
typedef struct gemm_job {
  int transA, transB;
  int M, N, K;
  float alpha, beta;
  const float *A, *B;
  float *C;
  long lda, ldb, ldc;
  int tasks;   /* number of rectangles */
  int split_n; /* 1: rectangles split N, 0: they split M */
} gemm_job;

/* Packs op(A)[i0:+mc][k0:+kc] into MR-row strips pa[strip][kc][MR]. */
static AVX512 void pack_A(const gemm_job *g, int i0, int mc, int k0, int kc, float *pa) {
  for (int s = 0; s < mc; s += MR) {
    const int rows = mc - s < MR ? mc - s : MR;
    float *d = pa + (long)s * kc;
    if (!g->transA) {
      /* A [M][lda]: row i of the strip is contiguous in k. */
      pack_t16(g->A + (long)(i0 + s) * g->lda + k0, g->lda, rows, kc, d, MR,
               (__mmask16)((1u << MR) - 1u));
    } else {
      /* A [K][lda]: the strip's MR values for one k are contiguous. */
      const __mmask16 lm = (__mmask16)((1u << rows) - 1u);
      const __mmask16 sm = (__mmask16)((1u << MR) - 1u);
      const float *src = g->A + (long)k0 * g->lda + i0 + s;
      for (int k = 0; k < kc; k++)
        _mm512_mask_storeu_ps(d + (long)k * MR, sm,
                              _mm512_maskz_loadu_ps(lm, src + (long)k * g->lda));
    }
  }
}

/* Packs op(B)[k0:+kc][j0:+nc] into NR-column strips pb[strip][kc][NR]. */
static AVX512 void pack_B(const gemm_job *g, int k0, int kc, int j0, int nc, float *pb) {
  if (!g->transB) {
    /* B [K][ldb]: read each row segment of nc floats in order (a long
     * sequential stream for the prefetchers) and deal its NR-float pieces
     * out to the strips. */
    const int full = nc / NR, rem = nc % NR;
    const __mmask16 m0 = (__mmask16)(rem >= 16 ? 0xffffu : (1u << rem) - 1u);
    const __mmask16 m1 = (__mmask16)(rem <= 16 ? 0u : (1u << (rem - 16)) - 1u);
    const long sstride = (long)kc * NR;
    for (int k = 0; k < kc; k++) {
      const float *sr = g->B + (long)(k0 + k) * g->ldb + j0;
      float *d = pb + (long)k * NR;
      for (int s = 0; s < full; s++) {
        _mm512_store_ps(d + s * sstride, _mm512_loadu_ps(sr + s * NR));
        _mm512_store_ps(d + s * sstride + 16, _mm512_loadu_ps(sr + s * NR + 16));
      }
      if (rem) {
        _mm512_store_ps(d + full * sstride, _mm512_maskz_loadu_ps(m0, sr + full * NR));
        _mm512_store_ps(d + full * sstride + 16, _mm512_maskz_loadu_ps(m1, sr + full * NR + 16));
      }
    }
    return;
  }
  for (int s = 0; s < nc; s += NR) {
    const int cols = nc - s < NR ? nc - s : NR;
    float *d = pb + (long)s * kc;
    /* B [N][ldb]: column j of op(B) is row j of B, contiguous in k. */
    for (int h = 0; h < NR; h += 16) {
      int rows = cols - h;
      rows = rows < 0 ? 0 : rows > 16 ? 16 : rows;
      const float *src = rows ? g->B + (long)(j0 + s + h) * g->ldb + k0 : g->B;
      pack_t16(src, g->ldb, rows, kc, d + h, NR, (__mmask16)0xffffu);
    }
  }
}

/* ------------------------------------------------------------------ */
/* Blocked product of one rectangle                                     */

/* C[ic:+mc][jc:+nc] (+)= alpha * packed A x packed B for one K block:
 * loops over the NR-wide B strips and, inside, the MR-tall A strips. */
static AVX512 void macro_kernel(int mc, int nc, int kc, const float *pa, const float *pb,
                                float *C, long ldc, float alpha, float beta) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = nc - jr < NR ? nc - jr : NR;
    const int nv = nr > 16 ? 2 : 1;
    const int rem = nr - 16 * (nv - 1);
    const __mmask16 ml = (__mmask16)(rem >= 16 ? 0xffffu : (1u << rem) - 1u);
    const float *b = pb + (long)jr * kc;
    for (int ir = 0; ir < mc; ir += MR) {
      const int mr = mc - ir < MR ? mc - ir : MR;
      kern_table[mr - 1][nv - 1](kc, pa + (long)ir * kc, b, C + ir * ldc + jr, ldc, alpha,
                                 beta, ml);
    }
  }
}

/* Rounds x up to a multiple of m. */
static inline long round_up(long x, long m) { return (x + m - 1) / m * m; }

/* cblas_sgemm on the rectangle C[m0:m1][n0:n1] (used when a pack buffer
 * cannot be allocated). */
static void blas_block(const gemm_job *g, int m0, int m1, int n0, int n1) {
  const float *A = g->transA ? g->A + m0 : g->A + (long)m0 * g->lda;
  const float *B = g->transB ? g->B + (long)n0 * g->ldb : g->B + n0;
  cblas_sgemm(CblasRowMajor, g->transA ? CblasTrans : CblasNoTrans,
              g->transB ? CblasTrans : CblasNoTrans, m1 - m0, n1 - n0, g->K, g->alpha, A,
              (int)g->lda, B, (int)g->ldb, g->beta, g->C + (long)m0 * g->ldc + n0,
              (int)g->ldc);
}

/* The whole blocked loop (see the top of the file) on the rectangle
 * C[m0:m1][n0:n1], with pack buffers sized to it. */
static AVX512 void gemm_block(const gemm_job *g, int m0, int m1, int n0, int n1) {
  const int m = m1 - m0, n = n1 - n0, K = g->K;
  /* Even block sizes: e.g. K = 300 gives two blocks of 150, not 256 + 44. */
  const int nkb = (K + KC - 1) / KC;
  const int kcb = (K + nkb - 1) / nkb;
  const int nmb = (m + MC - 1) / MC;
  const int mcb = (int)round_up((m + nmb - 1) / nmb, MR);
  const int nnb = (n + NC - 1) / NC;
  const int ncb = (int)round_up((n + nnb - 1) / nnb, NR);
  float *pa = aligned_alloc(64, (size_t)round_up((long)mcb * kcb * 4, 64));
  float *pb = aligned_alloc(64, (size_t)round_up((long)ncb * kcb * 4, 64));
  if (!pa || !pb) {
    free(pa);
    free(pb);
    blas_block(g, m0, m1, n0, n1);
    return;
  }
  for (int jc = n0; jc < n1; jc += ncb) {
    const int nc = n1 - jc < ncb ? n1 - jc : ncb;
    for (int pc = 0; pc < K; pc += kcb) {
      const int kc = K - pc < kcb ? K - pc : kcb;
      const float beta = pc == 0 ? g->beta : 1.0f;
      pack_B(g, pc, kc, jc, nc, pb);
      for (int ic = m0; ic < m1; ic += mcb) {
        const int mc = m1 - ic < mcb ? m1 - ic : mcb;
        pack_A(g, ic, mc, pc, kc, pa);
        macro_kernel(mc, nc, kc, pa, pb, g->C + (long)ic * g->ldc + jc, g->ldc, g->alpha, beta);
      }
    }
  }
  free(pa);
  free(pb);
}

/* Pool callback: runs rectangles [begin, end) of the job. Rectangle t
 * covers an even share of whole NR columns (or MR rows). */
static AVX512 void gemm_tasks(void *ctx, int begin, int end) {
  const gemm_job *g = ctx;
  for (int t = begin; t < end; t++) {
    if (g->split_n) {
      const long units = (g->N + NR - 1) / NR;
      int n0 = (int)(units * t / g->tasks) * NR, n1 = (int)(units * (t + 1) / g->tasks) * NR;
      if (n1 > g->N)
        n1 = g->N;
      if (n1 > n0)
        gemm_block(g, 0, g->M, n0, n1);
    } else {
      const long units = (g->M + MR - 1) / MR;
      int m0 = (int)(units * t / g->tasks) * MR, m1 = (int)(units * (t + 1) / g->tasks) * MR;
      if (m1 > g->M)
        m1 = g->M;
      if (m1 > m0)
        gemm_block(g, m0, m1, 0, g->N);
    }
  }
}

/* C = beta * C over M x N (beta == 0 writes zeros without reading C). */
static void scale_c(int M, int N, float beta, float *C, int ldc) {
  if (beta == 1.0f)
    return;
  for (int i = 0; i < M; i++) {
    float *c = C + (long)i * ldc;
    if (beta == 0.0f)
      memset(c, 0, sizeof(float) * (size_t)N);
    else
      for (int j = 0; j < N; j++)
        c[j] *= beta;
  }
}

void dinet__sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (sgemm_mode_get() != 2) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
    return;
  }
  if (M <= 0 || N <= 0 || K < 0)
    return;
  if (K == 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  gemm_job g = {
      .transA = transA != 0, .transB = transB != 0, .M = M, .N = N, .K = K,
      .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
      .lda = lda, .ldb = ldb, .ldc = ldc,
  };
  /* Split the larger dimension: each rectangle packs all of the other
   * operand, so this keeps the duplicated packing small. */
  g.split_n = N >= M;
  const long units = g.split_n ? (N + NR - 1) / NR : (M + MR - 1) / MR;
  int t = 2.0 * M * N * K < PAR_MIN_FLOPS ? 1 : dinet_get_threads();
  if (t > units)
    t = (int)units;
  g.tasks = t < 1 ? 1 : t;
  if (g.tasks == 1)
    gemm_tasks(&g, 0, 1);
  else
    dinet__parallel_for(g.tasks, gemm_tasks, &g);
}
