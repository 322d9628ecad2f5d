/* test_gemm.c — dinet__sgemm against a double-precision reference and
 * against cblas_sgemm: all four transpose combinations, seeded random
 * shapes 1..300 (plus edge sizes around the 14 x 32 tile and a few large
 * ResNet shapes), alpha/beta in {1,0}, {1,1}, {0.5,-2}, leading dimensions
 * larger than the minimum (the padding must stay untouched), N == 1 and
 * M == 1 (the matrix-vector path), beta == 0 over
 * NaN-filled C, K == 0 and alpha == 0, NaN propagation, 1..3 threads and
 * run-to-run determinism.
 *
 * With an argument, `test_gemm bench [reps]` instead prints GFLOP/s of
 * dinet__sgemm and cblas_sgemm on the CBAM-ResNet50 shapes (median and
 * best of reps runs, default 15) at the engine's thread count
 * (DINET_THREADS, else all cores). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/src/gemm.h"
#include "dinet/dinet.h"
#include "testutil.h"

/* Fills n floats with N(0, 1) values. */
static void fill_normal(dinet_rng *rng, float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)dinet_rng_normal(rng);
}

/* Element (i, k) of op(A) for row-major A with leading dimension lda. */
static inline float opel(const float *A, int trans, int lda, int i, int k) {
  return trans ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

/* Reference in double: ref[i][j] = alpha * sum op(A) op(B) + beta * C0
 * (beta == 0 ignores C0), and bound[i][j] = |alpha| sum |a||b| + |beta C0|
 * for the error tolerance. */
static void ref_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, const float *C0, int ldc, double *ref,
                     double *bound) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0, sa = 0;
      for (int k = 0; k < K; k++) {
        double p = (double)opel(A, ta, lda, i, k) * (double)opel(B, tb, ldb, k, j);
        s += p;
        sa += fabs(p);
      }
      double r = (double)alpha * s, b = fabs((double)alpha) * sa;
      if (beta != 0.0f) {
        r += (double)beta * C0[(size_t)i * ldc + j];
        b += fabs((double)beta * C0[(size_t)i * ldc + j]);
      }
      ref[(size_t)i * N + j] = r;
      bound[(size_t)i * N + j] = b;
    }
}

/* Runs one case and checks it; returns 1 when it passed. big: skip the
 * element-wise message flood and use the same checks. */
static int run_case(dinet_rng *rng, int ta, int tb, int M, int N, int K, float alpha,
                    float beta, int pad) {
  const int lda = (ta ? M : K) + (pad ? (int)dinet_rng_below(rng, 7) : 0);
  const int ldb = (tb ? K : N) + (pad ? (int)dinet_rng_below(rng, 7) : 0);
  const int ldc = N + (pad ? (int)dinet_rng_below(rng, 7) : 0);
  const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
  const size_t nc = (size_t)M * ldc;
  float *A = malloc(sizeof(float) * (na ? na : 1));
  float *B = malloc(sizeof(float) * (nb ? nb : 1));
  float *C0 = malloc(sizeof(float) * nc), *C = malloc(sizeof(float) * nc);
  float *Cb = malloc(sizeof(float) * nc);
  double *ref = malloc(sizeof(double) * (size_t)M * N);
  double *bound = malloc(sizeof(double) * (size_t)M * N);
  fill_normal(rng, A, na);
  fill_normal(rng, B, nb);
  fill_normal(rng, C0, nc);
  /* Padding columns of C hold a sentinel that must survive. */
  for (int i = 0; i < M; i++)
    for (int j = N; j < ldc; j++)
      C0[(size_t)i * ldc + j] = 12345.0f;
  memcpy(C, C0, sizeof(float) * nc);
  if (beta == 0.0f)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        C[(size_t)i * ldc + j] = NAN;
  memcpy(Cb, C, sizeof(float) * nc);
  ref_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, ref, bound);
  dinet__sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, Cb, ldc);
  const double tol = 2e-7 * (K + 4);
  double worst = 0, worst_blas = 0; /* error / bound */
  int bad = 0, pad_bad = 0;
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      double c = C[(size_t)i * ldc + j], cb = Cb[(size_t)i * ldc + j];
      double r = ref[(size_t)i * N + j], b = bound[(size_t)i * N + j] + 1e-30;
      double e = fabs(c - r) / b, eb = fabs(c - cb) / b;
      if (!(e <= tol))
        bad++;
      if (!(e <= worst))
        worst = isnan(e) ? INFINITY : e;
      if (!(eb <= worst_blas))
        worst_blas = isnan(eb) ? INFINITY : eb;
    }
    for (int j = N; j < ldc; j++)
      if (C[(size_t)i * ldc + j] != 12345.0f)
        pad_bad++;
  }
  CHECK(bad == 0 && worst_blas <= 2 * tol && pad_bad == 0,
        "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d: %d bad, "
        "err/bound %.3g (vs cblas %.3g, tol %.3g), %d padding changed",
        ta, tb, M, N, K, alpha, beta, lda, ldb, ldc, bad, worst, worst_blas, tol, pad_bad);
  int ok = bad == 0 && worst_blas <= 2 * tol && pad_bad == 0;
  free(A);
  free(B);
  free(C0);
  free(C);
  free(Cb);
  free(ref);
  free(bound);
  return ok;
}

static const float alphas[3] = {1.0f, 1.0f, 0.5f};
static const float betas[3] = {0.0f, 1.0f, -2.0f};

/* A dimension for the random cases: mostly uniform in 1..300, sometimes an
 * edge value around the microkernel's 14 x 32 tile and 16-lane vectors. */
static int rand_dim(dinet_rng *rng) {
  static const int edge[] = {1, 2, 13, 14, 15, 16, 17, 28, 29, 31, 32, 33, 47, 48, 49, 64, 65};
  if (dinet_rng_below(rng, 4) == 0)
    return edge[dinet_rng_below(rng, (uint32_t)(sizeof edge / sizeof edge[0]))];
  return 1 + (int)dinet_rng_below(rng, 300);
}

/* Seeded random shapes over every transpose and alpha/beta combination. */
static void test_random(void) {
  dinet_rng rng;
  dinet_rng_seed(&rng, 20240611);
  int fails = 0;
  for (int it = 0; it < 240 && fails < 10; it++) {
    const int ta = it & 1, tb = (it >> 1) & 1, ab = (it >> 2) % 3;
    const int M = rand_dim(&rng), N = rand_dim(&rng), K = rand_dim(&rng);
    fails += !run_case(&rng, ta, tb, M, N, K, alphas[ab], betas[ab], it % 5 != 0);
  }
}

/* Exhaustive small sizes: M, N in 1..40 step, K in {1, 2, 17} for each
 * transpose pair. */
static void test_small(void) {
  dinet_rng rng;
  dinet_rng_seed(&rng, 7);
  int fails = 0;
  for (int t = 0; t < 4; t++)
    for (int M = 1; M <= 33 && fails < 10; M += 4)
      for (int N = 1; N <= 40 && fails < 10; N += 3)
        for (int kk = 0; kk < 3; kk++) {
          static const int Ks[3] = {1, 2, 17};
          const int ab = (M + N + kk) % 3;
          fails +=
              !run_case(&rng, t & 1, t >> 1, M, N, Ks[kk], alphas[ab], betas[ab], (M + N) & 1);
        }
}

/* N == 1 (matrix-vector, its own code path) and M == 1, with strided
 * vectors: every transpose pair and alpha/beta combination. */
static void test_vector(void) {
  dinet_rng rng;
  dinet_rng_seed(&rng, 11);
  static const int Ms[] = {1, 3, 4, 5, 63, 64, 65, 130, 1000};
  static const int Ks[] = {1, 15, 16, 33, 2048};
  int i = 0;
  for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
    for (size_t b = 0; b < sizeof Ks / sizeof Ks[0]; b++, i++) {
      const int ab = i % 3, t = i % 4;
      run_case(&rng, t & 1, t >> 1, Ms[a], 1, Ks[b], alphas[ab], betas[ab], i & 1);
      run_case(&rng, t >> 1, t & 1, 1, Ms[a], Ks[b], alphas[ab], betas[ab], !(i & 1));
    }
}

/* A few large ResNet-like shapes, every transpose pair, K > one block. */
static void test_large(void) {
  dinet_rng rng;
  dinet_rng_seed(&rng, 99);
  static const int shapes[][3] = {
      {64, 3136, 147}, {256, 784, 576}, {1100, 49, 600}, {130, 2000, 300}, {700, 200, 1030},
  };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int t = 0; t < 4; t++) {
      const int ab = (int)(s + t) % 3;
      run_case(&rng, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], alphas[ab],
               betas[ab], t == 1);
    }
}

/* K == 0 and alpha == 0 scale C by beta (beta == 0 writes zeros over NaN
 * without reading A, B or C); NaN in C with beta != 0 propagates only to
 * its own element; NaN in A reaches exactly its row. */
static void test_special(void) {
  enum { M = 20, N = 37, K = 19 };
  float A[M * K], B[K * N], C[M * N];
  dinet_rng rng;
  dinet_rng_seed(&rng, 3);
  fill_normal(&rng, A, M * K);
  fill_normal(&rng, B, K * N);
  for (int i = 0; i < M * N; i++)
    C[i] = NAN;
  dinet__sgemm(0, 0, M, N, 0, 1.0f, A, K, B, N, 0.0f, C, N);
  int nz = 0;
  for (int i = 0; i < M * N; i++)
    nz += C[i] != 0.0f;
  CHECK(nz == 0, "K=0 beta=0: %d non-zero", nz);
  for (int i = 0; i < M * N; i++)
    C[i] = NAN;
  dinet__sgemm(1, 1, M, N, K, 0.0f, A, M, B, K, 0.0f, C, N);
  nz = 0;
  for (int i = 0; i < M * N; i++)
    nz += C[i] != 0.0f;
  CHECK(nz == 0, "alpha=0 beta=0: %d non-zero", nz);
  for (int i = 0; i < M * N; i++)
    C[i] = (float)i;
  dinet__sgemm(0, 1, M, N, K, 0.0f, A, K, B, K, 2.0f, C, N);
  int wrong = 0;
  for (int i = 0; i < M * N; i++)
    wrong += C[i] != 2.0f * (float)i;
  CHECK(wrong == 0, "alpha=0 beta=2: %d wrong", wrong);
  /* NaN in C with beta = 1 */
  for (int i = 0; i < M * N; i++)
    C[i] = 0.0f;
  C[5 * N + 33] = NAN;
  dinet__sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 1.0f, C, N);
  int nans = 0;
  for (int i = 0; i < M * N; i++)
    nans += isnan(C[i]) != 0;
  CHECK(nans == 1 && isnan(C[5 * N + 33]), "NaN in C: %d NaNs", nans);
  /* NaN in A row 7 */
  A[7 * K + 3] = NAN;
  dinet__sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
  int rownan = 0, other = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      if (i == 7)
        rownan += isnan(C[i * N + j]) != 0;
      else
        other += isnan(C[i * N + j]) != 0;
    }
  CHECK(rownan == N && other == 0, "NaN in A: row %d/%d, elsewhere %d", rownan, N, other);
}

/* Different thread counts give correct results and the same bits run to
 * run; with the native kernel also the same bits at every thread count
 * (the split never changes any element's summation order). */
static void test_threads(void) {
  const int saved = dinet_get_threads();
  enum { M = 150, N = 1000, K = 520 };
  dinet_rng rng;
  dinet_rng_seed(&rng, 5);
  float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
  float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
  fill_normal(&rng, A, (size_t)M * K);
  fill_normal(&rng, B, (size_t)K * N);
  /* and a small-N product (its own path): the first 49 columns of B */
  float *S1 = malloc(sizeof(float) * M * 49), *S2 = malloc(sizeof(float) * M * 49);
  /* The native kernel gives the same bits at any thread count; the cblas
   * fallback only run to run at a fixed count. */
  const int native = dinet__sgemm_native();
  for (int t = 1; t <= 3; t++) {
    dinet_set_threads(t);
    if (t == 1 || !native) {
      dinet__sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
      dinet__sgemm(0, 0, M, 49, K, 1.0f, A, K, B, N, 0.0f, S1, 49);
    }
    for (int rep = 0; rep < 2; rep++) {
      dinet__sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
      CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0, "threads=%d rep %d differs", t, rep);
      dinet__sgemm(0, 0, M, 49, K, 1.0f, A, K, B, N, 0.0f, S2, 49);
      CHECK(memcmp(S1, S2, sizeof(float) * M * 49) == 0, "small N: threads=%d rep %d differs",
            t, rep);
    }
    run_case(&rng, 1, 0, 300, 90, 200, 0.5f, -2.0f, 1); /* splits M */
    run_case(&rng, 0, 1, 90, 400, 200, 1.0f, 1.0f, 1);  /* splits N */
    run_case(&rng, 0, 0, 700, 49, 600, 1.0f, 0.0f, 1);  /* small N, splits M */
    run_case(&rng, 0, 0, 5, 1000, 30, 1.0f, 0.0f, 0);   /* M < one tile */
  }
  dinet_set_threads(saved);
  free(A);
  free(B);
  free(C1);
  free(C2);
  free(S1);
  free(S2);
}

/* ------------------------------------------------------------------ */
/* Benchmark mode                                                       */

/* Monotonic seconds. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Ascending comparison for qsort. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median and best seconds of reps calls of one product (after one warm-up
 * call). */
static void time_gemm(int use_blas, int ta, int tb, int M, int N, int K, const float *A,
                      const float *B, float *C, int reps, double *med, double *best) {
  double t[64];
  if (reps > 64)
    reps = 64;
  if (reps < 1)
    reps = 1;
  const int lda = ta ? M : K, ldb = tb ? K : N;
  for (int r = -1; r < reps; r++) {
    double t0 = now_s();
    if (use_blas)
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                  M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
    else
      dinet__sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
    if (r >= 0)
      t[r] = now_s() - t0;
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp_double);
  *med = t[reps / 2];
  *best = t[0];
}

/* Prints a GFLOP/s table for the CBAM-ResNet50 GEMM shapes. */
static int bench(int reps) {
  /* {transA, transB, M, N, K}: forward convolutions at 224x224 batch 1
   * (W [Cout][K] x col [K][H*W]), the backward dW (NT) and dcol (TN)
   * products, a batch-8 layer, and the CBAM MLP. */
  static const int shapes[][5] = {
      {0, 0, 64, 12544, 147}, {0, 0, 64, 3136, 64},   {0, 0, 64, 3136, 576},
      {0, 0, 256, 3136, 64},  {0, 0, 64, 3136, 256},  {0, 0, 128, 3136, 256},
      {0, 0, 128, 784, 1152}, {0, 0, 512, 784, 128},  {0, 0, 128, 784, 512},
      {0, 0, 256, 784, 512},  {0, 0, 256, 196, 2304}, {0, 0, 1024, 196, 256},
      {0, 0, 256, 196, 1024}, {0, 0, 512, 196, 1024}, {0, 0, 512, 49, 4608},
      {0, 0, 2048, 49, 512},  {0, 0, 512, 49, 2048},  {0, 0, 64, 25088, 576},
      {0, 1, 64, 576, 3136},  {0, 1, 64, 147, 12544}, {0, 1, 128, 1152, 784},
      {0, 1, 256, 2304, 196}, {0, 1, 512, 4608, 49},  {1, 0, 576, 3136, 64},
      {1, 0, 1152, 784, 128}, {1, 0, 2304, 196, 256}, {1, 0, 4608, 49, 512},
      {1, 0, 256, 3136, 64},  {0, 0, 128, 8, 2048},   {0, 0, 2048, 8, 128},
      {0, 0, 128, 1, 2048},
  };
  const int ns = (int)(sizeof shapes / sizeof shapes[0]);
  printf("threads %d, native kernel %d\n", dinet_get_threads(), dinet__sgemm_native());
  printf("GFLOP/s, median (best) of %d\n", reps);
  printf("%-3s %5s %6s %5s  %15s %15s %6s\n", "op", "M", "N", "K", "dinet", "cblas", "ratio");
  dinet_rng rng;
  dinet_rng_seed(&rng, 1);
  double sum_d = 0, sum_b = 0, fl_all = 0;
  for (int s = 0; s < ns; s++) {
    const int ta = shapes[s][0], tb = shapes[s][1];
    const int M = shapes[s][2], N = shapes[s][3], K = shapes[s][4];
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N);
    fill_normal(&rng, A, (size_t)M * K);
    fill_normal(&rng, B, (size_t)K * N);
    const double fl = 2.0 * M * N * K;
    double td, tdb, tb_, tbb;
    time_gemm(0, ta, tb, M, N, K, A, B, C, reps, &td, &tdb);
    time_gemm(1, ta, tb, M, N, K, A, B, C, reps, &tb_, &tbb);
    sum_d += td;
    sum_b += tb_;
    fl_all += fl;
    printf("%c%c  %5d %6d %5d  %7.1f (%5.1f) %7.1f (%5.1f) %6.2f\n", ta ? 'T' : 'N',
           tb ? 'T' : 'N', M, N, K, fl / td * 1e-9, fl / tdb * 1e-9, fl / tb_ * 1e-9,
           fl / tbb * 1e-9, tb_ / td);
    free(A);
    free(B);
    free(C);
  }
  printf("all shapes (sum of medians): dinet %.1f GFLOP/s (%.2f ms), cblas %.1f GFLOP/s "
         "(%.2f ms)\n",
         fl_all / sum_d * 1e-9, sum_d * 1e3, fl_all / sum_b * 1e-9, sum_b * 1e3);
  return 0;
}

int main(int argc, char **argv) {
  const char *th = getenv("DINET_THREADS");
  if (th)
    dinet_set_threads(atoi(th));
  if (argc > 1 && strcmp(argv[1], "bench") == 0)
    return bench(argc > 2 ? atoi(argv[2]) : 15);
  printf("dinet__sgemm native kernel: %d\n", dinet__sgemm_native());
  test_special();
  test_small();
  test_random();
  test_vector();
  test_large();
  test_threads();
  return tu_finish();
}
