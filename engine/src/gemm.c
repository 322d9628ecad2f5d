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
 * When the rectangle has at most MC rows (convolutions: M = Cout, N =
 * spatial) there is no jc loop: A is packed once per K block and B is
 * packed one NR strip at a time into an L1 buffer just before its
 * microkernels, the packing of each strip prefetching the next strip's
 * source. While the microkernels run they also prefetch, a few lines per
 * 16 k, the source of the next A block, so that packing A finds it in L2.
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
 * Two shapes take other routes: N == 1 is a matrix-vector product
 * (gemv_rows), and 17 <= N <= 320 with A not transposed reads A in place
 * instead of packing it (see "Small N" below), since there each element of
 * A serves only 2N flops.
 *
 * All AVX-512 code sits in functions with a target attribute, selected at
 * run time with __builtin_cpu_supports; the result is cached in a single
 * atomic. Without AVX-512 (or with DINET_SGEMM=blas) the call goes to
 * cblas_sgemm. */
#include "gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "parallel.h"

#define MR 14 /* microkernel rows (broadcast A values) */
#define NR 32 /* microkernel columns (two zmm vectors) */
/* Block sizes for a Zen 4/5 core (L1 48 KiB, L2 1 MiB), measured; K and M
 * are cut into even blocks of at most these. Overridable with -D for
 * tuning.
 * KC: K block; a B strip is KC x NR x 4 B = 48 KiB (L1 size; A streams).
 * MC: M block; an A block is MC x KC x 4 B = 504 KiB (L2).
 * NC: N block; a B panel is KC x NC x 4 B = 4.5 MiB (L3). */
#ifndef KC
#define KC 384
#endif
#ifndef MC
#define MC 336
#endif
#ifndef NC
#define NC 3072
#endif

/* Products below this many flops run on the calling thread only. */
#ifndef PAR_MIN_FLOPS
#define PAR_MIN_FLOPS 3.0e6
#endif

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

/* See gemm.h. */
int dinet__sgemm_native(void) {
  return sgemm_mode_get() == 2;
}

/* A rectangle of source memory (rows of bytes bytes, stride bytes apart)
 * to prefetch into L2 a few lines at a time while the microkernels run, so
 * that the next pack finds it in cache. */
typedef struct prefetcher {
  uintptr_t p; /* first row */
  long stride; /* bytes between rows */
  long bytes;  /* bytes per row */
  int rows;
  int r; /* cursor: row r, line l of it */
  long l;
  int per_call; /* lines per pf_step */
} prefetcher;

/* Issues the next per_call prefetches of pf (NULL: none). */
static inline void pf_step(prefetcher *pf) {
  if (!pf)
    return;
  for (int n = pf->per_call; n > 0 && pf->r < pf->rows; n--) {
    const uintptr_t row = pf->p + (uintptr_t)((long)pf->r * pf->stride);
    const uintptr_t first = row & ~(uintptr_t)63,
                    last = (row + (uintptr_t)pf->bytes - 1) & ~(uintptr_t)63;
    _mm_prefetch((const char *)(first + (uintptr_t)(pf->l * 64)), _MM_HINT_T1);
    if (first + (uintptr_t)(++pf->l * 64) > last) {
      pf->l = 0;
      pf->r++;
    }
  }
}

/* ------------------------------------------------------------------ */
/* Microkernel                                                          */

/* Signature of the microkernels: C[mr][nr] = alpha * a x b + beta * C,
 * a: packed A strip [kc][MR], b: packed B strip [kc][NR] (64-byte aligned),
 * mlast: lanes of the last C vector of each row to store, pf: prefetcher
 * stepped every 16 k (NULL: none). */
typedef void (*kern_fn)(int kc, const float *a, const float *b, float *c, long ldc, float alpha,
                        float beta, __mmask16 mlast, prefetcher *pf);

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

/* The microkernel body for a compile-time row count mr (1..MR) and vector
 * count nv (1 or 2): C[mr][16*nv, last vector masked by mlast] (+)= ...
 * Accumulators c<i>_<v> are row i, columns 16v..16v+15. */
INLINE_AVX512 void kern_body(const int mr, const int nv, int kc, const float *restrict a,
                             const float *restrict b, float *restrict c, long ldc, float alpha,
                             float beta, __mmask16 mlast, prefetcher *pf) {
#define KDECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();
  ROWS(KDECL)
#undef KDECL
#define KPF(i)                                                                                 \
  if (mr > i) {                                                                                \
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                                    \
    _mm_prefetch((const char *)(c + i * ldc + 16 * nv - 1), _MM_HINT_T0);                      \
  }
  if (beta != 0.0f) {
    ROWS(KPF)
  }
#undef KPF
  for (int k0 = 0; k0 < kc; k0 += 16) {
    pf_step(pf);
    const int k1 = kc - k0 < 16 ? kc : k0 + 16;
    for (int k = k0; k < k1; k++) {
      const __m512 b0 = _mm512_load_ps(b);
      const __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#define KSTEP(i)                                                                               \
  if (mr > i) {                                                                                \
    const __m512 ai = _mm512_set1_ps(a[i]);                                                    \
    c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);                                              \
    if (nv > 1)                                                                                \
      c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);                                            \
  }
      ROWS(KSTEP)
#undef KSTEP
      a += MR;
      b += NR;
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#define KST0(i)                                                                                \
  if (mr > i) {                                                                                \
    float *cr = c + i * ldc;                                                                   \
    if (nv > 1) {                                                                              \
      _mm512_storeu_ps(cr, _mm512_mul_ps(va, c##i##_0));                                       \
      _mm512_mask_storeu_ps(cr + 16, mlast, _mm512_mul_ps(va, c##i##_1));                      \
    } else {                                                                                   \
      _mm512_mask_storeu_ps(cr, mlast, _mm512_mul_ps(va, c##i##_0));                           \
    }                                                                                          \
  }
    ROWS(KST0)
#undef KST0
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#define KSTB(i)                                                                                \
  if (mr > i) {                                                                                \
    float *cr = c + i * ldc;                                                                   \
    if (nv > 1) {                                                                              \
      __m512 o0 = _mm512_mul_ps(vb, _mm512_loadu_ps(cr));                                      \
      __m512 o1 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mlast, cr + 16));                    \
      _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, c##i##_0, o0));                                 \
      _mm512_mask_storeu_ps(cr + 16, mlast, _mm512_fmadd_ps(va, c##i##_1, o1));                \
    } else {                                                                                   \
      __m512 o0 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mlast, cr));                         \
      _mm512_mask_storeu_ps(cr, mlast, _mm512_fmadd_ps(va, c##i##_0, o0));                     \
    }                                                                                          \
  }
    ROWS(KSTB)
#undef KSTB
  }
}

/* One microkernel per (rows, vectors): kern_<mr>_<nv>. */
#define KDEF(mr)                                                                               \
  static AVX512 void kern_##mr##_1(int kc, const float *a, const float *b, float *c, long ldc, \
                                   float alpha, float beta, __mmask16 m, prefetcher *pf) {     \
    kern_body(mr, 1, kc, a, b, c, ldc, alpha, beta, m, pf);                                    \
  }                                                                                            \
  static AVX512 void kern_##mr##_2(int kc, const float *a, const float *b, float *c, long ldc, \
                                   float alpha, float beta, __mmask16 m, prefetcher *pf) {     \
    kern_body(mr, 2, kc, a, b, c, ldc, alpha, beta, m, pf);                                    \
  }
KDEF(1)
KDEF(2)
KDEF(3)
KDEF(4) KDEF(5) KDEF(6) KDEF(7) KDEF(8) KDEF(9) KDEF(10) KDEF(11) KDEF(12) KDEF(13) KDEF(14)
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
 * stored. src [rows][ld] (unused when rows == 0). When pf is not NULL, the
 * same k range of pf's first pfrows rows (stride ld) is prefetched into L2
 * on the way, for the next call. */
static AVX512 void pack_t16(const float *src, long ld, int rows, int kc, float *dst, long ds,
                            __mmask16 smask, const float *pf, int pfrows) {
  __m512 r[16];
  for (int k0 = 0; k0 < kc; k0 += 16) {
    const int w = kc - k0 < 16 ? kc - k0 : 16;
    const __mmask16 lm = (__mmask16)((1u << w) - 1u);
    if (pf)
      for (int i = 0; i < pfrows; i++)
        _mm_prefetch((const char *)(pf + i * ld + k0), _MM_HINT_T1);
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
  /* small-N path (see gemm_small_n) */
  const float *Bp; /* op(B), column tile after column tile (pack_small_B) */
  const float *Bl; /* leftover columns np..N-1 of op(B), [nl][K] */
  int np, nl;      /* packed and leftover column counts, np + nl >= N */
  int ntiles;      /* column tiles of 2-4 vectors over the np columns */
  int mrd;         /* rows per small-N tile */
} gemm_job;

/* Packs op(A)[i0:+mc][k0:+kc] into MR-row strips pa[strip][kc][MR]. */
static AVX512 void pack_A(const gemm_job *g, int i0, int mc, int k0, int kc, float *pa) {
  for (int s = 0; s < mc; s += MR) {
    const int rows = mc - s < MR ? mc - s : MR;
    float *d = pa + (long)s * kc;
    if (!g->transA) {
      /* A [M][lda]: row i of the strip is contiguous in k. */
      pack_t16(g->A + (long)(i0 + s) * g->lda + k0, g->lda, rows, kc, d, MR,
               (__mmask16)((1u << MR) - 1u), NULL, 0);
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
        _mm512_store_ps(d + full * sstride + 16,
                        _mm512_maskz_loadu_ps(m1, sr + full * NR + 16));
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
      pack_t16(src, g->ldb, rows, kc, d + h, NR, (__mmask16)0xffffu, NULL, 0);
    }
  }
}

/* Packs one strip op(B)[k0:+kc][j0:+nr] (nr <= NR) into pb[kc][NR] and
 * prefetches into L2 the source of the strip starting at column pfj
 * (pfj < 0: none), which the next call will pack. */
static AVX512 void pack_B_strip(const gemm_job *g, int k0, int kc, int j0, int nr, float *pb,
                                int pfj) {
  if (!g->transB) {
    /* B [K][ldb]: NR contiguous floats per k. */
    const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffffu : (1u << nr) - 1u);
    const __mmask16 m1 = (__mmask16)(nr >= 32   ? 0xffffu
                                     : nr <= 16 ? 0u
                                                : (1u << (nr - 16)) - 1u);
    const float *src = g->B + (long)k0 * g->ldb + j0;
    const int pfw = pfj < 0 ? 0 : g->N - pfj < NR ? g->N - pfj : NR;
    const float *pf = pfj < 0 ? NULL : g->B + (long)k0 * g->ldb + pfj;
    for (int k = 0; k < kc; k++) {
      const float *sr = src + (long)k * g->ldb;
      if (pf) {
        const float *p = pf + (long)k * g->ldb;
        _mm_prefetch((const char *)p, _MM_HINT_T1);
        _mm_prefetch((const char *)(p + pfw / 2), _MM_HINT_T1);
        _mm_prefetch((const char *)(p + pfw - 1), _MM_HINT_T1);
      }
      _mm512_store_ps(pb + (long)k * NR, _mm512_maskz_loadu_ps(m0, sr));
      _mm512_store_ps(pb + (long)k * NR + 16, _mm512_maskz_loadu_ps(m1, sr + 16));
    }
  } else {
    /* B [N][ldb]: column j of op(B) is row j of B, contiguous in k. */
    for (int h = 0; h < NR; h += 16) {
      int rows = nr - h;
      rows = rows < 0 ? 0 : rows > 16 ? 16 : rows;
      int pfrows = pfj < 0 ? 0 : g->N - (pfj + h);
      pfrows = pfrows < 0 ? 0 : pfrows > 16 ? 16 : pfrows;
      const float *src = rows ? g->B + (long)(j0 + h) * g->ldb + k0 : g->B;
      const float *pf = pfrows ? g->B + (long)(pfj + h) * g->ldb + k0 : NULL;
      pack_t16(src, g->ldb, rows, kc, pb + h, NR, (__mmask16)0xffffu, pf, pfrows);
    }
  }
}

/* ------------------------------------------------------------------ */
/* Blocked product of one rectangle                                     */

/* Sets pf to the source of op(A)[i0:+mc][k0:+kc], spread over `calls`
 * pf_step calls (the microkernels make one per 16 k); mc == 0: nothing. */
static void pf_init_A(prefetcher *pf, const gemm_job *g, int i0, int mc, int k0, int kc,
                      long calls) {
  const float *p = g->transA ? g->A + (long)k0 * g->lda + i0 : g->A + (long)i0 * g->lda + k0;
  pf->p = (uintptr_t)p;
  pf->stride = g->lda * (long)sizeof(float);
  pf->rows = mc <= 0 || kc <= 0 ? 0 : g->transA ? kc : mc;
  pf->bytes = (long)(g->transA ? mc : kc) * (long)sizeof(float);
  pf->r = 0;
  pf->l = 0;
  const long lines = (long)pf->rows * (pf->bytes / 64 + 2);
  pf->per_call = (int)(lines / (calls > 0 ? calls : 1)) + 1;
}

/* C[ic:+mc][jc:+nc] (+)= alpha * packed A x packed B for one K block:
 * loops over the NR-wide B strips and, inside, the MR-tall A strips;
 * advances the prefetcher pf (may be NULL) before each microkernel. */
static AVX512 void macro_kernel(int mc, int nc, int kc, const float *pa, const float *pb,
                                float *C, long ldc, float alpha, float beta, prefetcher *pf) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = nc - jr < NR ? nc - jr : NR;
    const int nv = nr > 16 ? 2 : 1;
    const int rem = nr - 16 * (nv - 1);
    const __mmask16 ml = (__mmask16)(rem >= 16 ? 0xffffu : (1u << rem) - 1u);
    const float *b = pb + (long)jr * kc;
    for (int ir = 0; ir < mc; ir += MR) {
      const int mr = mc - ir < MR ? mc - ir : MR;
      kern_table[mr - 1][nv - 1](kc, pa + (long)ir * kc, b, C + ir * ldc + jr, ldc, alpha, beta,
                                 ml, pf);
    }
  }
}

/* Rounds x up to a multiple of m. */
static inline long round_up(long x, long m) {
  return (x + m - 1) / m * m;
}

/* cblas_sgemm on the rectangle C[m0:m1][n0:n1] (used when a pack buffer
 * cannot be allocated). */
static void blas_block(const gemm_job *g, int m0, int m1, int n0, int n1) {
  const float *A = g->transA ? g->A + m0 : g->A + (long)m0 * g->lda;
  const float *B = g->transB ? g->B + (long)n0 * g->ldb : g->B + n0;
  cblas_sgemm(CblasRowMajor, g->transA ? CblasTrans : CblasNoTrans,
              g->transB ? CblasTrans : CblasNoTrans, m1 - m0, n1 - n0, g->K, g->alpha, A,
              (int)g->lda, B, (int)g->ldb, g->beta, g->C + (long)m0 * g->ldc + n0, (int)g->ldc);
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
  /* m <= MC streams one B strip at a time (see below); else a B panel. */
  float *pb = aligned_alloc(64, (size_t)round_up((long)(nmb == 1 ? NR : ncb) * kcb * 4, 64));
  if (!pa || !pb) {
    free(pa);
    free(pb);
    blas_block(g, m0, m1, n0, n1);
    return;
  }
  if (nmb == 1) {
    /* All of the rectangle's rows fit one A block: pack it once per K block
     * and stream B one strip at a time through an L1-sized buffer, each
     * strip prefetching the next one's source into L2. */
    for (int pc = 0; pc < K; pc += kcb) {
      const int kc = K - pc < kcb ? K - pc : kcb;
      const float beta = pc == 0 ? g->beta : 1.0f;
      pack_A(g, m0, m, pc, kc, pa);
      /* the next K block's A source, over this block's microkernel calls */
      prefetcher pf;
      const int kn = K - (pc + kc) < kcb ? K - (pc + kc) : kcb;
      pf_init_A(&pf, g, m0, m, pc + kc, kn,
                (long)((n + NR - 1) / NR) * ((m + MR - 1) / MR) * ((kc + 15) / 16));
      for (int jr = n0; jr < n1; jr += NR) {
        const int nr = n1 - jr < NR ? n1 - jr : NR;
        pack_B_strip(g, pc, kc, jr, nr, pb, jr + NR < n1 ? jr + NR : -1);
        macro_kernel(m, nr, kc, pa, pb, g->C + (long)m0 * g->ldc + jr, g->ldc, g->alpha, beta,
                     &pf);
      }
    }
    free(pa);
    free(pb);
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
        /* the next A block's source (this K block's next rows, else the
         * next K block's first rows), over this block's microkernel calls */
        prefetcher pf;
        const long calls = (long)((nc + NR - 1) / NR) * ((mc + MR - 1) / MR) * ((kc + 15) / 16);
        if (ic + mc < m1) {
          pf_init_A(&pf, g, ic + mc, m1 - (ic + mc) < mcb ? m1 - (ic + mc) : mcb, pc, kc,
                    calls);
        } else {
          const int kn = K - (pc + kc) < kcb ? K - (pc + kc) : kcb;
          pf_init_A(&pf, g, m0, m1 - m0 < mcb ? m1 - m0 : mcb, pc + kc, kn, calls);
        }
        macro_kernel(mc, nc, kc, pa, pb, g->C + (long)ic * g->ldc + jc, g->ldc, g->alpha, beta,
                     &pf);
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

/* ------------------------------------------------------------------ */
/* Small N (17..320) with A not transposed                              */

/* Here (e.g. M = 512, N = 49, K = 4608: late layers at batch 1) each
 * element of A is used for only 2N flops, so packing A (a transposition)
 * would cost about a fifth of the time. Instead the microkernel broadcasts
 * A where it lies (mr row streams, contiguous in k) against op(B) packed
 * whole for the K block (kc x np, in L2): the np columns are cut into
 * tiles of 2-4 zmm vectors (32-64 columns), and a tile of mr = 24 / (most
 * vectors in a tile) = 12, 8 or 6 rows of A runs the microkernel over each
 * column tile in turn, its A rows staying in L1. When N leaves 1-4
 * columns past a multiple of 16 (N = 49 = 48 + 1, 196 = 192 + 4), those
 * columns are dot products of the A rows (still in L1) with the packed
 * leftover columns, instead of a mostly empty vector. Measured faster than
 * the packed path up to N of about 300. */

#ifndef NSMALL_MAX
#define NSMALL_MAX 320 /* largest N for this path */
#endif
/* K block: at most 512, and the B block (kc x np) at most 512 KiB (L2). */
#define KCS_MAX 512
#define KCS_FLOATS (128 * 1024)

/* Small-N microkernel body, compile-time mr rows and nv vectors:
 * C[mr][16 nv (last vector masked by mlast)] (+)= alpha * A[mr][kc] x
 * b [kc][16 nv] + beta * C, A row i at a + i * lda. */
INLINE_AVX512 void kdir_body(const int mr, const int nv, int kc, const float *restrict a,
                             long lda, const float *restrict b, float *restrict c, long ldc,
                             float alpha, float beta, __mmask16 mlast) {
#define DROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DDECL(i)                                                                               \
  __m512 d##i##_0 = _mm512_setzero_ps(), d##i##_1 = d##i##_0, d##i##_2 = d##i##_0,             \
         d##i##_3 = d##i##_0;                                                                  \
  const float *a##i = a + (mr > i ? i : 0) * lda;
  DROWS(DDECL)
#undef DDECL
  for (int k = 0; k < kc; k++) {
    if ((k & 15) == 0) {
      /* A rows come from memory once: prefetch 4 lines ahead */
#define DPF(i)                                                                                 \
  if (mr > i)                                                                                  \
    _mm_prefetch((const char *)(a##i + k + 64), _MM_HINT_T0);
      DROWS(DPF)
#undef DPF
    }
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
    const __m512 b2 = nv > 2 ? _mm512_load_ps(b + 32) : b0;
    const __m512 b3 = nv > 3 ? _mm512_load_ps(b + 48) : b0;
#define DSTEP(i)                                                                               \
  if (mr > i) {                                                                                \
    const __m512 ai = _mm512_set1_ps(a##i[k]);                                                 \
    d##i##_0 = _mm512_fmadd_ps(ai, b0, d##i##_0);                                              \
    d##i##_1 = _mm512_fmadd_ps(ai, b1, d##i##_1);                                              \
    if (nv > 2)                                                                                \
      d##i##_2 = _mm512_fmadd_ps(ai, b2, d##i##_2);                                            \
    if (nv > 3)                                                                                \
      d##i##_3 = _mm512_fmadd_ps(ai, b3, d##i##_3);                                            \
  }
    DROWS(DSTEP)
#undef DSTEP
    b += 16 * nv;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  /* row i, vector v: full store except the last vector (mlast) */
#define DSTV(i, v)                                                                             \
  if (nv > v) {                                                                                \
    const __mmask16 m = nv - 1 == v ? mlast : (__mmask16)0xffffu;                              \
    float *cp = c + i * ldc + 16 * v;                                                          \
    __m512 r = _mm512_mul_ps(va, d##i##_##v);                                                  \
    if (beta != 0.0f)                                                                          \
      r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cp), r);                                \
    _mm512_mask_storeu_ps(cp, m, r);                                                           \
  }
#define DST(i)                                                                                 \
  if (mr > i) {                                                                                \
    DSTV(i, 0) DSTV(i, 1) DSTV(i, 2) DSTV(i, 3)                                                \
  }
  DROWS(DST)
#undef DST
#undef DSTV
#undef DROWS
}

/* Small-N microkernel entry points, kdir_<nv>_<mr>. */
typedef void (*kdir_fn)(int kc, const float *a, long lda, const float *b, float *c, long ldc,
                        float alpha, float beta, __mmask16 mlast);
#define KDIR(nv, mr)                                                                           \
  static AVX512 void kdir_##nv##_##mr(int kc, const float *a, long lda, const float *b,        \
                                      float *c, long ldc, float alpha, float beta,             \
                                      __mmask16 m) {                                           \
    kdir_body(mr, nv, kc, a, lda, b, c, ldc, alpha, beta, m);                                  \
  }
KDIR(2, 1)
KDIR(2, 2)
KDIR(2, 3) KDIR(2, 4) KDIR(2, 5) KDIR(2, 6) KDIR(2, 7) KDIR(2, 8) KDIR(2, 9) KDIR(2, 10)
    KDIR(2, 11) KDIR(2, 12) KDIR(3, 1) KDIR(3, 2) KDIR(3, 3) KDIR(3, 4) KDIR(3, 5) KDIR(3, 6)
        KDIR(3, 7) KDIR(3, 8) KDIR(4, 1) KDIR(4, 2) KDIR(4, 3) KDIR(4, 4) KDIR(4, 5) KDIR(4, 6)
#undef KDIR

    /* kdir_table[nv - 2][mr - 1], mr <= 24 / nv */
    static const kdir_fn kdir_table[3][12] = {
        {kdir_2_1, kdir_2_2, kdir_2_3, kdir_2_4, kdir_2_5, kdir_2_6, kdir_2_7, kdir_2_8,
         kdir_2_9, kdir_2_10, kdir_2_11, kdir_2_12},
        {kdir_3_1, kdir_3_2, kdir_3_3, kdir_3_4, kdir_3_5, kdir_3_6, kdir_3_7, kdir_3_8},
        {kdir_4_1, kdir_4_2, kdir_4_3, kdir_4_4, kdir_4_5, kdir_4_6},
};

/* Column tile t of the small-N path: packed columns [*j0, *j0 + 16 *nv). The
 * np packed columns are cut into ceil(np / 64) tiles of 2-4 vectors, as
 * even as possible. */
static void small_tile(const gemm_job *g, int t, int *j0, int *nv) {
  const int v = g->np / 16, v0 = v * t / g->ntiles, v1 = v * (t + 1) / g->ntiles;
  *j0 = 16 * v0;
  *nv = v1 - v0;
}

/* Packs op(B) for the small-N path: bp holds the column tiles one after
 * the other, tile t as [K][16 nv_t] (columns >= N zero); when nl > 0,
 * bl [nl][K] = columns np..np+nl-1 of op(B). */
static AVX512 void pack_small_B(const gemm_job *g, float *bp, float *bl) {
  const int K = g->K, N = g->N;
  for (int t = 0; t < g->ntiles; t++) {
    int j0, nv;
    small_tile(g, t, &j0, &nv);
    float *d = bp + (long)K * j0;
    const int w = 16 * nv;
    if (!g->transB) {
      /* B [K][ldb] */
      for (int k = 0; k < K; k++) {
        const float *sr = g->B + (long)k * g->ldb + j0;
        for (int j = 0; j < w; j += 16) {
          const int cols = N - (j0 + j);
          const __mmask16 m = (__mmask16)(cols >= 16  ? 0xffffu
                                          : cols <= 0 ? 0u
                                                      : (1u << cols) - 1u);
          _mm512_store_ps(d + (long)k * w + j, _mm512_maskz_loadu_ps(m, sr + j));
        }
      }
    } else {
      /* B [N][ldb]: column j of op(B) is row j of B */
      for (int j = 0; j < w; j += 16) {
        int rows = N - (j0 + j);
        rows = rows < 0 ? 0 : rows > 16 ? 16 : rows;
        pack_t16(rows ? g->B + (long)(j0 + j) * g->ldb : g->B, g->ldb, rows, K, d + j, w,
                 (__mmask16)0xffffu, NULL, 0);
      }
    }
  }
  for (int c = 0; c < g->nl; c++) {
    if (!g->transB)
      for (int k = 0; k < K; k++)
        bl[(long)c * K + k] = g->B[(long)k * g->ldb + g->np + c];
    else
      memcpy(bl + (long)c * K, g->B + (long)(g->np + c) * g->ldb, sizeof(float) * (size_t)K);
  }
}

/* Rows [m0, m1) of the small-N product, K block by K block; per tile of
 * mrd rows: the microkernel on each column tile (the A rows stay in L1
 * between them), then the leftover columns as dot products over the same
 * K block. */
static AVX512 void small_n_rows(const gemm_job *g, int m0, int m1) {
  const int K = g->K, np = g->np, nl = g->nl;
  const int last = g->N - (np - 16) < 16 ? g->N - (np - 16) : 16; /* lanes in last vector */
  const __mmask16 mlast = (__mmask16)(last >= 16 ? 0xffffu : (1u << last) - 1u);
  const int kcs = KCS_FLOATS / np < KCS_MAX ? KCS_FLOATS / np : KCS_MAX;
  const int nkb = (K + kcs - 1) / kcs, kcb = (K + nkb - 1) / nkb;
  for (int pc = 0; pc < K; pc += kcb) {
    const int kc = K - pc < kcb ? K - pc : kcb;
    const float beta = pc == 0 ? g->beta : 1.0f;
    const __mmask16 km = (__mmask16)(kc % 16 ? (1u << (kc % 16)) - 1u : 0xffffu);
    for (int i = m0; i < m1; i += g->mrd) {
      const int mr = m1 - i < g->mrd ? m1 - i : g->mrd;
      const float *a = g->A + (long)i * g->lda + pc;
      for (int t = 0; t < g->ntiles; t++) {
        int j0, nv;
        small_tile(g, t, &j0, &nv);
        const float *b = g->Bp + (long)K * j0 + (long)pc * 16 * nv;
        kdir_table[nv - 2][mr - 1](kc, a, g->lda, b, g->C + (long)i * g->ldc + j0, g->ldc,
                                   g->alpha, beta,
                                   t == g->ntiles - 1 ? mlast : (__mmask16)0xffffu);
      }
      for (int c = 0; c < nl; c++) {
        const float *x = g->Bl + (long)c * K + pc;
        for (int r = 0; r < mr; r++) {
          const float *ar = a + (long)r * g->lda;
          __m512 s0 = _mm512_setzero_ps(), s1 = s0;
          int k = 0;
          for (; k + 32 <= kc; k += 32) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + k), _mm512_loadu_ps(x + k), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + k + 16), _mm512_loadu_ps(x + k + 16), s1);
          }
          for (; k < kc; k += 16) {
            const __mmask16 m = kc - k >= 16 ? (__mmask16)0xffffu : km;
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, ar + k),
                                 _mm512_maskz_loadu_ps(m, x + k), s0);
          }
          float *cp = g->C + (long)(i + r) * g->ldc + np + c;
          const float v = g->alpha * _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
          *cp = beta == 0.0f ? v : v + beta * *cp;
        }
      }
    }
  }
}

/* Pool callback for the small-N path: task t takes an even share of the
 * mrd-row tiles. */
static void small_n_tasks(void *ctx, int begin, int end) {
  const gemm_job *g = ctx;
  const long units = (g->M + g->mrd - 1) / g->mrd;
  for (int t = begin; t < end; t++) {
    int m0 = (int)(units * t / g->tasks) * g->mrd,
        m1 = (int)(units * (t + 1) / g->tasks) * g->mrd;
    if (m1 > g->M)
      m1 = g->M;
    if (m1 > m0)
      small_n_rows(g, m0, m1);
  }
}

/* Runs the small-N path when it applies (A not transposed, N in
 * 17..NSMALL_MAX); returns 0 when it does not apply or its buffers cannot
 * be allocated. */
static int gemm_small_n(gemm_job *g) {
  const int N = g->N, K = g->K;
  if (g->transA || N < 17 || N > NSMALL_MAX)
    return 0;
  const int q = N / 16, r = N % 16;
  if (q >= 2 && r <= 4) {
    g->np = 16 * q; /* N = 16q + r: r leftover dot-product columns */
    g->nl = r;
  } else {
    g->np = 16 * ((N + 15) / 16); /* masked last vector */
    g->nl = 0;
  }
  g->ntiles = (g->np + 63) / 64;
  int maxnv = 0;
  for (int t = 0; t < g->ntiles; t++) {
    int j0, nv;
    small_tile(g, t, &j0, &nv);
    maxnv = nv > maxnv ? nv : maxnv;
  }
  g->mrd = 24 / maxnv;
  float *bp = aligned_alloc(64, (size_t)round_up((long)K * g->np * 4, 64));
  float *bl = g->nl ? aligned_alloc(64, (size_t)round_up((long)K * g->nl * 4, 64)) : NULL;
  if (!bp || (g->nl && !bl)) {
    free(bp);
    free(bl);
    return 0;
  }
  pack_small_B(g, bp, bl);
  g->Bp = bp;
  g->Bl = bl;
  const long units = (g->M + g->mrd - 1) / g->mrd;
  int t = 2.0 * g->M * N * K < PAR_MIN_FLOPS ? 1 : dinet_get_threads();
  g->tasks = t > units ? (int)units : t < 1 ? 1 : t;
  if (g->tasks == 1)
    small_n_tasks(g, 0, 1);
  else
    dinet__parallel_for(g->tasks, small_n_tasks, g);
  free(bp);
  free(bl);
  return 1;
}

/* ------------------------------------------------------------------ */
/* N == 1: matrix-vector product                                        */

/* C[i][0] = alpha * sum_k op(A)[i][k] x[k] + beta * C[i][0] for i in
 * [m0, m1); x holds op(B)[.][0] contiguously. op(A) rows are dot products
 * (A not transposed, 4 rows at a time) or AXPYs over 64-row column pieces
 * (A transposed). */
static AVX512 void gemv_rows(const gemm_job *g, const float *x, int m0, int m1) {
  const int K = g->K;
  const long lda = g->lda;
  if (!g->transA) {
    for (int i = m0; i < m1; i += 4) {
      const int rows = m1 - i < 4 ? m1 - i : 4;
      /* rows past the end repeat the last row; their sums are dropped */
      const float *a0 = g->A + (long)i * lda;
      const float *a1 = rows > 1 ? a0 + lda : a0;
      const float *a2 = rows > 2 ? a0 + 2 * lda : a0;
      const float *a3 = rows > 3 ? a0 + 3 * lda : a0;
      __m512 s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00;
      __m512 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
      int k = 0;
      for (; k + 32 <= K; k += 32) {
        const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
        s00 = _mm512_fmadd_ps(_mm512_loadu_ps(a0 + k), x0, s00);
        s01 = _mm512_fmadd_ps(_mm512_loadu_ps(a0 + k + 16), x1, s01);
        s10 = _mm512_fmadd_ps(_mm512_loadu_ps(a1 + k), x0, s10);
        s11 = _mm512_fmadd_ps(_mm512_loadu_ps(a1 + k + 16), x1, s11);
        s20 = _mm512_fmadd_ps(_mm512_loadu_ps(a2 + k), x0, s20);
        s21 = _mm512_fmadd_ps(_mm512_loadu_ps(a2 + k + 16), x1, s21);
        s30 = _mm512_fmadd_ps(_mm512_loadu_ps(a3 + k), x0, s30);
        s31 = _mm512_fmadd_ps(_mm512_loadu_ps(a3 + k + 16), x1, s31);
      }
      for (; k < K; k += 16) {
        const __mmask16 m = (__mmask16)(K - k >= 16 ? 0xffffu : (1u << (K - k)) - 1u);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, x + k);
        s00 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a0 + k), x0, s00);
        s10 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a1 + k), x0, s10);
        s20 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a2 + k), x0, s20);
        s30 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a3 + k), x0, s30);
      }
      const float sum[4] = {_mm512_reduce_add_ps(_mm512_add_ps(s00, s01)),
                            _mm512_reduce_add_ps(_mm512_add_ps(s10, s11)),
                            _mm512_reduce_add_ps(_mm512_add_ps(s20, s21)),
                            _mm512_reduce_add_ps(_mm512_add_ps(s30, s31))};
      for (int r = 0; r < rows; r++) {
        float *c = g->C + (long)(i + r) * g->ldc;
        *c = g->beta == 0.0f ? g->alpha * sum[r] : g->alpha * sum[r] + g->beta * *c;
      }
    }
  } else {
    /* A [K][lda]: op(A)[i][k] = A[k][i]; 64 rows of C per pass. */
    for (int i = m0; i < m1; i += 64) {
      const int w = m1 - i < 64 ? m1 - i : 64;
      __mmask16 mk[4];
      for (int v = 0; v < 4; v++) {
        const int r = w - 16 * v;
        mk[v] = (__mmask16)(r >= 16 ? 0xffffu : r <= 0 ? 0u : (1u << r) - 1u);
      }
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      const float *a = g->A + i;
      for (int k = 0; k < K; k++, a += lda) {
        const __m512 xk = _mm512_set1_ps(x[k]);
        s0 = _mm512_fmadd_ps(xk, _mm512_maskz_loadu_ps(mk[0], a), s0);
        s1 = _mm512_fmadd_ps(xk, _mm512_maskz_loadu_ps(mk[1], a + 16), s1);
        s2 = _mm512_fmadd_ps(xk, _mm512_maskz_loadu_ps(mk[2], a + 32), s2);
        s3 = _mm512_fmadd_ps(xk, _mm512_maskz_loadu_ps(mk[3], a + 48), s3);
      }
      float sum[64];
      _mm512_storeu_ps(sum, s0);
      _mm512_storeu_ps(sum + 16, s1);
      _mm512_storeu_ps(sum + 32, s2);
      _mm512_storeu_ps(sum + 48, s3);
      for (int r = 0; r < w; r++) {
        float *c = g->C + (long)(i + r) * g->ldc;
        *c = g->beta == 0.0f ? g->alpha * sum[r] : g->alpha * sum[r] + g->beta * *c;
      }
    }
  }
}

/* Pool callback for N == 1: task t takes an even share of 64-row pieces;
 * ctx is the job, whose B field has been replaced by the contiguous x. */
static void gemv_tasks(void *ctx, int begin, int end) {
  const gemm_job *g = ctx;
  const long units = (g->M + 63) / 64;
  for (int t = begin; t < end; t++) {
    int m0 = (int)(units * t / g->tasks) * 64, m1 = (int)(units * (t + 1) / g->tasks) * 64;
    if (m1 > g->M)
      m1 = g->M;
    if (m1 > m0)
      gemv_rows(g, g->B, m0, m1);
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

/* See gemm.h. Picks the route: cblas without AVX-512, scaling only for
 * K == 0 or alpha == 0, gemv for N == 1, the small-N path, else the packed
 * blocked product, on dinet_get_threads() threads when worth it. */
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
      .transA = transA != 0,
      .transB = transB != 0,
      .M = M,
      .N = N,
      .K = K,
      .alpha = alpha,
      .beta = beta,
      .A = A,
      .B = B,
      .C = C,
      .lda = lda,
      .ldb = ldb,
      .ldc = ldc,
  };
  if (N == 1) {
    /* x = op(B)[.][0]: B itself when contiguous, else a gathered copy. */
    float *xbuf = NULL;
    if (!g.transB && ldb != 1) {
      xbuf = malloc(sizeof(float) * (size_t)K);
      if (!xbuf) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
      }
      for (int k = 0; k < K; k++)
        xbuf[k] = B[(long)k * ldb];
      g.B = xbuf;
    }
    const long units = (M + 63) / 64;
    int t = 2.0 * M * K < PAR_MIN_FLOPS ? 1 : dinet_get_threads();
    g.tasks = t > units ? (int)units : t < 1 ? 1 : t;
    if (g.tasks == 1)
      gemv_tasks(&g, 0, 1);
    else
      dinet__parallel_for(g.tasks, gemv_tasks, &g);
    free(xbuf);
    return;
  }
  if (gemm_small_n(&g))
    return;
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
