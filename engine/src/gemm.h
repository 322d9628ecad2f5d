/* gemm.h — the engine's single-precision matrix product.
 *
 * dinet__sgemm computes, row-major,
 *   C [M][N] = alpha * op(A) [M][K] x op(B) [K][N] + beta * C
 * where op(A) = A (A is [M][lda], lda >= K) or, when transA, A^T (A is
 * [K][lda], lda >= M); likewise op(B) = B ([K][ldb], ldb >= N) or, when
 * transB, B^T ([N][ldb], ldb >= K); C is [M][ldc], ldc >= N.
 * It means exactly cblas_sgemm(CblasRowMajor, transA ? CblasTrans :
 * CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
 * B, ldb, beta, C, ldc): beta == 0 never reads C (it may hold NaN), K == 0 or
 * alpha == 0 scales C by beta.
 *
 * On CPUs with AVX-512 it runs the engine's own packed kernel on the
 * engine's thread pool (dinet_get_threads() threads); elsewhere it calls
 * cblas_sgemm. Setting DINET_SGEMM=blas in the environment (read once)
 * forces the cblas path, for comparisons. */
#ifndef DINET_GEMM_H
#define DINET_GEMM_H

void dinet__sgemm(int transA, int transB, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);

/* 1 when dinet__sgemm uses its AVX-512 kernel, 0 when it calls cblas. */
int dinet__sgemm_native(void);

#endif
