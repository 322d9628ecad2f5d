/* test_ops.c — every primitive of engine/src/ops.h against a naive
 * double-precision reference written straight from its definition.
 *
 * Layout is channel-major: element (c, n, y, x) of a [C][N][H][W] tensor is
 * at ((c*N + n)*H + y)*W + x. The references below spell that index out
 * every time instead of sharing any code with the engine. Data come from
 * dinet_rng with fixed seeds; shapes include odd sizes, stride 2, padding,
 * k = 1/3/7, N > 1 and channel counts that are multiples of nothing.
 *
 * Tolerance: max |engine - reference| / max |reference| <= 1e-4 (float vs
 * double). The whole suite runs with 1 and with 3 engine threads so the
 * chunking of the parallel loops is exercised. The engine's sgemm (an
 * AVX-512 kernel where the CPU has one, cblas otherwise; DINET_SGEMM=blas
 * forces cblas) is tested on its own first. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "../engine/src/gemm.h"
#include "../engine/src/ops.h"
#include "testutil.h"

#define TOL 1e-4

static dinet_rng rng;

/* ---- helpers --------------------------------------------------------- */

static float *fbuf(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static double *dbuf(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static int32_t *ibuf(size_t n) {
  int32_t *p = malloc((n ? n : 1) * sizeof(int32_t));
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

/* Uniform in [lo, hi). */
static void fill(float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(lo + (hi - lo) * dinet_rng_uniform(&rng));
}

static float *rand_buf(size_t n, double lo, double hi) {
  float *x = fbuf(n);
  fill(x, n, lo, hi);
  return x;
}

/* max |got - ref| / max |ref|; NaN counts as infinitely wrong. */
static double rel_err(const float *got, const double *ref, size_t n) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= md))
      md = isnan(d) ? INFINITY : d;
    if (fabs(ref[i]) > mr)
      mr = fabs(ref[i]);
  }
  if (md == 0)
    return 0;
  return md / (mr > 0 ? mr : 1e-30);
}

/* max |got - ref|, NaN as infinity. */
static double abs_err(const float *got, const double *ref, size_t n) {
  double md = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= md))
      md = isnan(d) ? INFINITY : d;
  }
  return md;
}

static int same_int(const int32_t *a, const int32_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

#define CHECK_REL(got, ref, n, fmt, ...)                                     \
  do {                                                                       \
    double e_ = rel_err((got), (ref), (n));                                  \
    CHECK(e_ <= TOL, "rel err %.3g: " fmt, e_, __VA_ARGS__);                 \
  } while (0)

/* Index of (c, n, y, x) in [C][N][H][W]. */
static size_t at4(int c, int n, int y, int x, int N, int H, int W) {
  return (((size_t)c * N + n) * H + y) * W + x;
}

/* ---- references ------------------------------------------------------- */

/* col[(c*k+ky)*k+kx][n][oy][ox] = x[c][n][oy*s-p+ky][ox*s-p+kx] or 0. */
static void ref_im2col(const float *x, int C, int N, int H, int W, int k, int s,
                       int p, int Ho, int Wo, double *col) {
  const size_t M = (size_t)N * Ho * Wo;
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        const size_t r = ((size_t)c * k + ky) * k + kx;
        for (int n = 0; n < N; n++)
          for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
              const int iy = oy * s - p + ky, ix = ox * s - p + kx;
              double v = 0;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                v = x[at4(c, n, iy, ix, N, H, W)];
              col[r * M + ((size_t)n * Ho + oy) * Wo + ox] = v;
            }
      }
}

/* y[o][n][oy][ox] = b[o] + sum_{c,ky,kx} w[o][c][ky][kx] x[c][n][oy*s-p+ky][ox*s-p+kx] */
static void ref_conv(const float *x, int Cin, int N, int H, int W, const float *w,
                     const float *b, int Cout, int k, int s, int p, double *y) {
  const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  for (int o = 0; o < Cout; o++)
    for (int n = 0; n < N; n++)
      for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
          double acc = b ? b[o] : 0.0;
          for (int c = 0; c < Cin; c++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue;
                acc += (double)w[(((size_t)o * Cin + c) * k + ky) * k + kx] *
                       x[at4(c, n, iy, ix, N, H, W)];
              }
          y[at4(o, n, oy, ox, N, Ho, Wo)] = acc;
        }
}

/* Gradients of L = sum dy*conv(x, w): dw[o][c][ky][kx], dx[c][n][iy][ix]. */
static void ref_conv_backward(const float *x, int Cin, int N, int H, int W,
                              const float *w, int Cout, int k, int s, int p,
                              const float *dy, double *dw, double *dx) {
  const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  memset(dw, 0, sizeof(double) * (size_t)Cout * Cin * k * k);
  memset(dx, 0, sizeof(double) * (size_t)Cin * N * H * W);
  for (int o = 0; o < Cout; o++)
    for (int n = 0; n < N; n++)
      for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
          const double g = dy[at4(o, n, oy, ox, N, Ho, Wo)];
          for (int c = 0; c < Cin; c++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue;
                const size_t wi = (((size_t)o * Cin + c) * k + ky) * k + kx;
                const size_t xi = at4(c, n, iy, ix, N, H, W);
                dw[wi] += g * x[xi];
                dx[xi] += g * w[wi];
              }
        }
}

/* ---- sgemm (engine/src/gemm.h) ---------------------------------------------
 * C = alpha op(A) op(B) + beta C, row-major, any leading dimensions; beta 0
 * never reads C. Shapes cover the AVX-512 kernel's tails (MR 14, NR 32),
 * its N == 1 and small-N routes, several K/M/N blocks (KC 384, MC 336,
 * NC 3072) and the threaded split; buffers are exactly as large as the
 * leading dimensions require, so reads past them show under ASan. Error
 * per element against |alpha| sum |a||b| + |beta c|: <= 2e-5. */

typedef struct gemm_case {
  int M, N, K;
  int all_scalars; /* also alpha 0.7/0, beta 1/-0.5 */
} gemm_case;

static void test_sgemm(void) {
  static const gemm_case cases[] = {
      {1, 1, 1, 1},     {14, 32, 16, 1},  {15, 33, 17, 1},  {13, 31, 5, 1},   {7, 1, 300, 1},
      {1, 500, 20, 1},  {29, 17, 40, 1},  {50, 320, 100, 0}, {50, 321, 100, 0}, {3, 5, 0, 1},
      {64, 2048, 3, 0}, {100, 700, 500, 0}, {400, 60, 800, 0}, {20, 3100, 50, 0}, {33, 2, 9, 1},
  };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const gemm_case S = cases[t];
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        /* op(A) is M x K: A is [M][lda] or [K][lda]; likewise B */
        const int arows = ta ? S.K : S.M, acols = ta ? S.M : S.K;
        const int brows = tb ? S.N : S.K, bcols = tb ? S.K : S.N;
        const int lda = acols + (t % 3), ldb = bcols + (t % 2) * 5, ldc = S.N + (t % 4);
        const size_t na = arows ? (size_t)(arows - 1) * lda + acols : 0;
        const size_t nb = brows ? (size_t)(brows - 1) * ldb + bcols : 0;
        const size_t nc = (size_t)(S.M - 1) * ldc + S.N;
        float *A = rand_buf(na, -1, 1), *B = rand_buf(nb, -1, 1);
        float *C0 = rand_buf(nc, -1, 1), *C = fbuf(nc);
        double *ref = dbuf(nc), *mag = dbuf(nc);
        static const float scalars[][2] = {{1.0f, 0.0f}, {0.7f, 1.0f}, {-1.3f, -0.5f}, {0.0f, 0.5f}};
        const int nsc = S.all_scalars ? 4 : 1;
        for (int sc = 0; sc < nsc; sc++) {
          const float alpha = scalars[sc][0], beta = scalars[sc][1];
          memcpy(C, C0, nc * sizeof(float));
          if (beta == 0.0f) /* must not be read */
            for (int i = 0; i < S.M; i++)
              for (int j = 0; j < S.N; j++)
                C[(size_t)i * ldc + j] = NAN;
          dinet__sgemm(ta, tb, S.M, S.N, S.K, alpha, A, lda, B, ldb, beta, C, ldc);
          double worst = 0;
          int pad_ok = 1;
          for (int i = 0; i < S.M; i++) {
            for (int j = 0; j < S.N; j++) {
              double acc = 0, m = 0;
              for (int k = 0; k < S.K; k++) {
                const double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                const double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
                m += fabs(a * b);
              }
              const size_t o = (size_t)i * ldc + j;
              ref[o] = alpha * acc + (beta != 0.0f ? beta * (double)C0[o] : 0.0);
              mag[o] = fabs(alpha) * m + fabs(beta * (double)C0[o]) + 1e-30;
              double d = fabs(C[o] - ref[o]) / mag[o];
              if (!(d <= worst))
                worst = isnan(d) ? INFINITY : d;
            }
            for (int j = S.N; j < ldc && i < S.M - 1; j++) /* padding untouched */
              pad_ok &= C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
          }
          CHECK(worst <= 2e-5 && pad_ok,
                "sgemm M%d N%d K%d ta%d tb%d alpha %g beta %g: err %.3g, padding %s", S.M, S.N,
                S.K, ta, tb, alpha, beta, worst, pad_ok ? "kept" : "written");
        }
        free(A), free(B), free(C0), free(C), free(ref), free(mag);
      }
  }
}

/* ---- im2col / col2im ------------------------------------------------------ */

typedef struct conv_shape {
  int C, N, H, W, k, s, p;
} conv_shape;

static const conv_shape im2col_shapes[] = {
    {3, 2, 7, 5, 3, 1, 1},  {5, 3, 9, 8, 3, 2, 1}, {2, 1, 11, 13, 7, 2, 3},
    {4, 2, 6, 6, 1, 2, 0},  {3, 2, 5, 7, 1, 1, 0}, {1, 1, 4, 4, 3, 1, 0},
    {6, 2, 8, 9, 3, 2, 0},  {2, 3, 5, 5, 7, 1, 3}, {7, 1, 3, 3, 3, 2, 1},
    {1, 2, 32, 33, 7, 2, 3},
};

static void test_im2col(void) {
  for (size_t t = 0; t < sizeof im2col_shapes / sizeof *im2col_shapes; t++) {
    const conv_shape S = im2col_shapes[t];
    const int Ho = dinet__conv_out(S.H, S.k, S.s, S.p), Wo = dinet__conv_out(S.W, S.k, S.s, S.p);
    const size_t nx = (size_t)S.C * S.N * S.H * S.W;
    const size_t ncol = (size_t)S.C * S.k * S.k * S.N * Ho * Wo;
    float *x = rand_buf(nx, -1, 1);
    float *col = fbuf(ncol);
    fill(col, ncol, 1e6, 2e6); /* garbage: every element must be written */
    double *ref = dbuf(ncol);
    dinet__im2col(x, S.C, S.N, S.H, S.W, S.k, S.s, S.p, Ho, Wo, col);
    ref_im2col(x, S.C, S.N, S.H, S.W, S.k, S.s, S.p, Ho, Wo, ref);
    /* im2col is a copy: it must be exact */
    int exact = 1;
    for (size_t i = 0; i < ncol; i++)
      if ((double)col[i] != ref[i])
        exact = 0;
    CHECK(exact, "im2col C%d N%d %dx%d k%d s%d p%d differs from reference", S.C, S.N,
          S.H, S.W, S.k, S.s, S.p);

    /* col2im is the adjoint: <im2col(x), y> == <x, col2im(y)> */
    float *y = rand_buf(ncol, -1, 1);
    float *dx = fbuf(nx);
    float *pre = rand_buf(nx, -1, 1);
    memcpy(dx, pre, nx * sizeof(float));
    dinet__col2im(y, S.C, S.N, S.H, S.W, S.k, S.s, S.p, Ho, Wo, dx); /* dx += */
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < ncol; i++) {
      lhs += (double)col[i] * y[i];
      scale += fabs((double)col[i] * y[i]);
    }
    for (size_t i = 0; i < nx; i++)
      rhs += (double)x[i] * ((double)dx[i] - pre[i]);
    CHECK(fabs(lhs - rhs) <= TOL * (scale + 1e-30),
          "col2im adjoint C%d N%d %dx%d k%d s%d p%d: %.9g vs %.9g", S.C, S.N, S.H, S.W,
          S.k, S.s, S.p, lhs, rhs);
    /* and element-wise against a reference scatter */
    double *rdx = dbuf(nx);
    for (int c = 0; c < S.C; c++)
      for (int ky = 0; ky < S.k; ky++)
        for (int kx = 0; kx < S.k; kx++)
          for (int n = 0; n < S.N; n++)
            for (int oy = 0; oy < Ho; oy++)
              for (int ox = 0; ox < Wo; ox++) {
                const int iy = oy * S.s - S.p + ky, ix = ox * S.s - S.p + kx;
                if (iy < 0 || iy >= S.H || ix < 0 || ix >= S.W)
                  continue;
                const size_t r = ((size_t)c * S.k + ky) * S.k + kx;
                rdx[at4(c, n, iy, ix, S.N, S.H, S.W)] +=
                    y[r * S.N * Ho * Wo + ((size_t)n * Ho + oy) * Wo + ox];
              }
    for (size_t i = 0; i < nx; i++)
      rdx[i] += pre[i];
    CHECK_REL(dx, rdx, nx, "col2im C%d N%d %dx%d k%d s%d p%d", S.C, S.N, S.H, S.W, S.k,
              S.s, S.p);
    free(x), free(col), free(ref), free(y), free(dx), free(pre), free(rdx);
  }
}

/* ---- convolution ---------------------------------------------------------- */

typedef struct conv_case {
  int Cin, N, H, W, Cout, k, s, p;
} conv_case;

/* 1x1 s1 p0 (direct sgemm), 1x1 s2, 3x3 s1/s2 p1, 7x7 s2 p3, the 2->1 7x7
 * spatial-gate convolution, and odd/small shapes. */
static const conv_case conv_cases[] = {
    {5, 2, 7, 6, 9, 1, 1, 0},   {13, 3, 5, 5, 4, 1, 1, 0},  {6, 2, 7, 9, 11, 1, 2, 0},
    {7, 1, 8, 8, 5, 1, 2, 0},   {5, 2, 9, 7, 6, 3, 1, 1},   {3, 3, 6, 5, 7, 3, 2, 1},
    {4, 2, 9, 9, 5, 3, 2, 1},   {3, 2, 17, 15, 8, 7, 2, 3}, {3, 1, 32, 32, 4, 7, 2, 3},
    {2, 2, 6, 7, 1, 7, 1, 3},   {1, 1, 1, 1, 3, 3, 1, 1},   {2, 2, 2, 2, 3, 3, 2, 1},
};

static void test_conv(void) {
  for (size_t t = 0; t < sizeof conv_cases / sizeof *conv_cases; t++) {
    const conv_case S = conv_cases[t];
    const int Ho = dinet__conv_out(S.H, S.k, S.s, S.p), Wo = dinet__conv_out(S.W, S.k, S.s, S.p);
    const int direct = S.k == 1 && S.s == 1 && S.p == 0;
    const size_t nx = (size_t)S.Cin * S.N * S.H * S.W;
    const size_t nw = (size_t)S.Cout * S.Cin * S.k * S.k;
    const size_t ny = (size_t)S.Cout * S.N * Ho * Wo;
    const size_t nws = (size_t)S.Cin * S.k * S.k * S.N * Ho * Wo;
    float *x = rand_buf(nx, -1, 1), *w = rand_buf(nw, -1, 1), *b = rand_buf(S.Cout, -1, 1);
    float *y = fbuf(ny);
    /* exactly the documented workspace, none at all for the direct path */
    float *ws = direct ? NULL : fbuf(nws);
    double *ref = dbuf(ny);
    for (int wb = 0; wb < 2; wb++) {
      fill(y, ny, 1e6, 2e6);
      dinet__conv_forward(x, S.Cin, S.N, S.H, S.W, w, wb ? b : NULL, S.Cout, S.k, S.s,
                          S.p, y, ws);
      ref_conv(x, S.Cin, S.N, S.H, S.W, w, wb ? b : NULL, S.Cout, S.k, S.s, S.p, ref);
      CHECK_REL(y, ref, ny, "conv_forward Cin%d N%d %dx%d Cout%d k%d s%d p%d bias%d",
                S.Cin, S.N, S.H, S.W, S.Cout, S.k, S.s, S.p, wb);
    }

    /* Backward contracts: dw +=, dx overwritten or accumulated. */
    float *dy = rand_buf(ny, -1, 1);
    float *dw = fbuf(nw), *dx = fbuf(nx);
    float *dw0 = rand_buf(nw, -1, 1), *dx0 = rand_buf(nx, -1, 1);
    double *rdw = dbuf(nw), *rdx = dbuf(nx), *t1 = dbuf(nw), *t2 = dbuf(nx);
    ref_conv_backward(x, S.Cin, S.N, S.H, S.W, w, S.Cout, S.k, S.s, S.p, dy, rdw, rdx);
    float *ws2 = fbuf(nws); /* backward always gets a workspace (net does) */
    /* dx overwrite: start from NaN, which must not leak */
    memcpy(dw, dw0, nw * sizeof(float));
    for (size_t i = 0; i < nx; i++)
      dx[i] = NAN;
    dinet__conv_backward(x, S.Cin, S.N, S.H, S.W, w, S.Cout, S.k, S.s, S.p, dy, dw, dx,
                         0, ws2);
    for (size_t i = 0; i < nw; i++)
      t1[i] = rdw[i] + dw0[i];
    CHECK_REL(dw, t1, nw, "conv_backward dw (+=) Cin%d k%d s%d p%d", S.Cin, S.k, S.s, S.p);
    CHECK_REL(dx, rdx, nx, "conv_backward dx Cin%d k%d s%d p%d", S.Cin, S.k, S.s, S.p);
    /* dx accumulate, dw NULL */
    memcpy(dx, dx0, nx * sizeof(float));
    dinet__conv_backward(NULL, S.Cin, S.N, S.H, S.W, w, S.Cout, S.k, S.s, S.p, dy, NULL,
                         dx, 1, ws2);
    for (size_t i = 0; i < nx; i++)
      t2[i] = rdx[i] + dx0[i];
    CHECK_REL(dx, t2, nx, "conv_backward dx (accumulate) Cin%d k%d s%d p%d", S.Cin, S.k,
              S.s, S.p);
    /* dw only, dx NULL */
    memset(dw, 0, nw * sizeof(float));
    dinet__conv_backward(x, S.Cin, S.N, S.H, S.W, w, S.Cout, S.k, S.s, S.p, dy, dw, NULL,
                         0, ws2);
    CHECK_REL(dw, rdw, nw, "conv_backward dw only Cin%d k%d s%d p%d", S.Cin, S.k, S.s, S.p);
    free(x), free(w), free(b), free(y), free(ws), free(ref), free(dy), free(dw), free(dx);
    free(dw0), free(dx0), free(rdw), free(rdx), free(t1), free(t2), free(ws2);
  }
}

/* ---- batch norm ------------------------------------------------------------ */

static void test_bn(void) {
  static const int shapes[][2] = {{7, 50}, {3, 2}, {1, 123}, {13, 9}, {2, 1000}};
  const float eps = 1e-5f, mom = 0.1f;
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    const int C = shapes[t][0], M = shapes[t][1];
    const size_t n = (size_t)C * M;
    float *x = fbuf(n);
    /* per-channel offset and scale so the statistics are not trivial */
    for (int c = 0; c < C; c++) {
      double off = 4.0 * dinet_rng_uniform(&rng) - 2.0, sc = 0.1 + 3 * dinet_rng_uniform(&rng);
      for (int i = 0; i < M; i++)
        x[(size_t)c * M + i] = (float)(off + sc * (2 * dinet_rng_uniform(&rng) - 1));
    }
    float *g = rand_buf(C, 0.5, 1.5), *b = rand_buf(C, -1, 1);
    float *rm = rand_buf(C, -1, 1), *rv = rand_buf(C, 0.5, 2);
    float *rm0 = fbuf(C), *rv0 = fbuf(C);
    memcpy(rm0, rm, C * sizeof(float));
    memcpy(rv0, rv, C * sizeof(float));
    float *mean = fbuf(C), *invstd = fbuf(C), *y = fbuf(n);
    dinet__bn_train_forward(x, C, M, g, b, eps, mom, rm, rv, mean, invstd, y);
    double *rmean = dbuf(C), *rinv = dbuf(C), *ry = dbuf(n), *rrm = dbuf(C), *rrv = dbuf(C);
    for (int c = 0; c < C; c++) {
      double s = 0, ss = 0;
      for (int i = 0; i < M; i++)
        s += x[(size_t)c * M + i];
      const double mu = s / M;
      for (int i = 0; i < M; i++)
        ss += (x[(size_t)c * M + i] - mu) * (x[(size_t)c * M + i] - mu);
      const double var = ss / M;                   /* biased, for normalising */
      const double unbiased = ss / (M - 1);        /* for the running estimate */
      rmean[c] = mu;
      rinv[c] = 1.0 / sqrt(var + eps);
      for (int i = 0; i < M; i++)
        ry[(size_t)c * M + i] = g[c] * (x[(size_t)c * M + i] - mu) * rinv[c] + b[c];
      rrm[c] = (1 - mom) * (double)rm0[c] + mom * mu;
      rrv[c] = (1 - mom) * (double)rv0[c] + mom * unbiased;
    }
    CHECK_REL(mean, rmean, C, "bn mean C%d M%d", C, M);
    CHECK_REL(invstd, rinv, C, "bn invstd C%d M%d", C, M);
    CHECK_REL(y, ry, n, "bn y C%d M%d", C, M);
    CHECK_REL(rm, rrm, C, "bn running_mean C%d M%d", C, M);
    CHECK_REL(rv, rrv, C, "bn running_var (unbiased) C%d M%d", C, M);

    /* Backward contracts (values are checked by finite differences in
     * test_grad): dgamma/dbeta accumulate; dx may alias dy (net.c does). */
    float *dy = rand_buf(n, -1, 1), *dx = fbuf(n), *dg = rand_buf(C, -1, 1),
          *db = rand_buf(C, -1, 1);
    float *dg0 = fbuf(C), *db0 = fbuf(C);
    memcpy(dg0, dg, C * sizeof(float));
    memcpy(db0, db, C * sizeof(float));
    double *rdx = dbuf(n), *rdg = dbuf(C), *rdb = dbuf(C);
    for (int c = 0; c < C; c++) {
      double sdy = 0, sdyx = 0;
      for (int i = 0; i < M; i++) {
        const double xh = (x[(size_t)c * M + i] - rmean[c]) * rinv[c];
        sdy += dy[(size_t)c * M + i];
        sdyx += dy[(size_t)c * M + i] * xh;
      }
      rdg[c] = dg0[c] + sdyx;
      rdb[c] = db0[c] + sdy;
      for (int i = 0; i < M; i++) {
        const double xh = (x[(size_t)c * M + i] - rmean[c]) * rinv[c];
        rdx[(size_t)c * M + i] = g[c] * rinv[c] * (dy[(size_t)c * M + i] - sdy / M - xh * sdyx / M);
      }
    }
    dinet__bn_train_backward(x, dy, C, M, g, mean, invstd, dx, dg, db);
    /* dx is a difference of nearly equal terms (for M = 2 it is ~eps/var of
     * them), so its error is measured against the terms' scale
     * gamma*invstd*|dy|, not against dx itself. */
    double term = 0;
    for (int c = 0; c < C; c++)
      for (int i = 0; i < M; i++)
        term = fmax(term, fabs(g[c] * rinv[c] * dy[(size_t)c * M + i]));
    CHECK(abs_err(dx, rdx, n) <= TOL * term, "bn backward dx C%d M%d: %.3g vs scale %.3g",
          C, M, abs_err(dx, rdx, n), term);
    CHECK_REL(dg, rdg, C, "bn backward dgamma (+=) C%d M%d", C, M);
    CHECK_REL(db, rdb, C, "bn backward dbeta (+=) C%d M%d", C, M);
    memcpy(dx, dy, n * sizeof(float));
    dinet__bn_train_backward(x, dx, C, M, g, mean, invstd, dx, NULL, NULL); /* in place */
    CHECK(abs_err(dx, rdx, n) <= TOL * term, "bn backward dx in place C%d M%d: %.3g", C, M,
          abs_err(dx, rdx, n));

    /* channel_affine: y = x*scale + shift, also in place */
    float *sc = rand_buf(C, -2, 2), *sh = rand_buf(C, -1, 1);
    for (int c = 0; c < C; c++)
      for (int i = 0; i < M; i++)
        ry[(size_t)c * M + i] = (double)x[(size_t)c * M + i] * sc[c] + sh[c];
    dinet__channel_affine(x, C, M, sc, sh, y);
    CHECK_REL(y, ry, n, "channel_affine C%d M%d", C, M);
    dinet__channel_affine(x, C, M, sc, sh, x);
    CHECK_REL(x, ry, n, "channel_affine in place C%d M%d", C, M);
    free(x), free(g), free(b), free(rm), free(rv), free(rm0), free(rv0), free(mean);
    free(invstd), free(y), free(rmean), free(rinv), free(ry), free(rrm), free(rrv);
    free(dy), free(dx), free(dg), free(db), free(dg0), free(db0), free(rdx), free(rdg);
    free(rdb), free(sc), free(sh);
  }
}

/* ---- element-wise ------------------------------------------------------------ */

static void test_elementwise(void) {
  /* sizes around and across the engine's 16384-element chunks */
  static const size_t sizes[] = {1, 7, 16384, 16385, 40007};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    const size_t n = sizes[t];
    float *a = rand_buf(n, -3, 3), *b = rand_buf(n, -3, 3), *y = fbuf(n);
    double *r = dbuf(n);
    /* relu in place */
    memcpy(y, a, n * sizeof(float));
    dinet__relu(y, n);
    for (size_t i = 0; i < n; i++)
      r[i] = a[i] > 0 ? a[i] : 0;
    CHECK_REL(y, r, n, "relu n=%zu", n);
    /* relu_backward: dy *= (y > 0) with y the ReLU output */
    float *relu_out = fbuf(n);
    memcpy(relu_out, y, n * sizeof(float));
    memcpy(y, b, n * sizeof(float));
    dinet__relu_backward(relu_out, y, n);
    for (size_t i = 0; i < n; i++)
      r[i] = a[i] > 0 ? b[i] : 0;
    CHECK_REL(y, r, n, "relu_backward n=%zu", n);
    /* add_relu: b = relu(a + b) */
    memcpy(y, b, n * sizeof(float));
    dinet__add_relu(a, y, n);
    for (size_t i = 0; i < n; i++)
      r[i] = (double)a[i] + b[i] > 0 ? (double)a[i] + b[i] : 0;
    CHECK_REL(y, r, n, "add_relu n=%zu", n);
    /* sigmoid, with extreme inputs mixed in */
    if (n > 4) {
      a[0] = -100.0f;
      a[1] = 100.0f;
      a[2] = -30.0f;
      a[3] = 0.0f;
    }
    dinet__sigmoid(a, y, n);
    for (size_t i = 0; i < n; i++)
      r[i] = 1.0 / (1.0 + exp(-(double)a[i]));
    CHECK_REL(y, r, n, "sigmoid n=%zu", n);
    int finite = 1;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(y[i]) || y[i] < 0 || y[i] > 1)
        finite = 0;
    CHECK(finite, "sigmoid n=%zu left [0, 1]", n);
    /* sigmoid in place */
    memcpy(y, a, n * sizeof(float));
    dinet__sigmoid(y, y, n);
    CHECK_REL(y, r, n, "sigmoid in place n=%zu", n);
    free(a), free(b), free(y), free(r), free(relu_out);
  }
}

/* ---- pooling -------------------------------------------------------------------- */

typedef struct pool_case {
  int C, N, H, W, k, s, p;
  double lo, hi; /* value range; all-negative catches padding counted as 0 */
} pool_case;

static void test_maxpool(void) {
  static const pool_case cases[] = {
      {3, 2, 9, 7, 3, 2, 1, -1, 1},     {2, 1, 8, 8, 3, 2, 1, -3, -1},
      {5, 3, 1, 1, 3, 2, 1, -1, 1},     {4, 2, 6, 11, 2, 2, 0, -1, 1},
      {3, 2, 5, 6, 3, 1, 1, -2, -1},    {7, 2, 16, 16, 3, 2, 1, -1, 1},
      {1, 1, 2, 3, 3, 2, 1, -5, -4},
  };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const pool_case S = cases[t];
    const int Ho = dinet__conv_out(S.H, S.k, S.s, S.p), Wo = dinet__conv_out(S.W, S.k, S.s, S.p);
    const size_t nx = (size_t)S.C * S.N * S.H * S.W, ny = (size_t)S.C * S.N * Ho * Wo;
    float *x = rand_buf(nx, S.lo, S.hi), *y = fbuf(ny), *y2 = fbuf(ny);
    int32_t *idx = ibuf(ny), *ridx = ibuf(ny);
    double *ry = dbuf(ny);
    dinet__maxpool_forward(x, S.C, S.N, S.H, S.W, S.k, S.s, S.p, Ho, Wo, y, idx);
    dinet__maxpool_forward(x, S.C, S.N, S.H, S.W, S.k, S.s, S.p, Ho, Wo, y2, NULL);
    for (int c = 0; c < S.C; c++)
      for (int n = 0; n < S.N; n++)
        for (int oy = 0; oy < Ho; oy++)
          for (int ox = 0; ox < Wo; ox++) {
            double best = -INFINITY;
            int bi = -1;
            for (int ky = 0; ky < S.k; ky++)
              for (int kx = 0; kx < S.k; kx++) {
                const int iy = oy * S.s - S.p + ky, ix = ox * S.s - S.p + kx;
                if (iy < 0 || iy >= S.H || ix < 0 || ix >= S.W)
                  continue;
                const double v = x[at4(c, n, iy, ix, S.N, S.H, S.W)];
                if (v > best) {
                  best = v;
                  bi = iy * S.W + ix;
                }
              }
            ry[at4(c, n, oy, ox, S.N, Ho, Wo)] = best;
            ridx[at4(c, n, oy, ox, S.N, Ho, Wo)] = bi;
          }
    CHECK_REL(y, ry, ny, "maxpool C%d N%d %dx%d k%d s%d p%d", S.C, S.N, S.H, S.W, S.k, S.s, S.p);
    CHECK_REL(y2, ry, ny, "maxpool (no indices) C%d N%d %dx%d", S.C, S.N, S.H, S.W);
    CHECK(same_int(idx, ridx, ny), "maxpool indices C%d N%d %dx%d k%d s%d p%d", S.C, S.N,
          S.H, S.W, S.k, S.s, S.p);
    /* backward: dx[argmax] += dy, zero elsewhere (dx is overwritten) */
    float *dy = rand_buf(ny, -1, 1), *dx = fbuf(nx);
    double *rdx = dbuf(nx);
    fill(dx, nx, 1e6, 2e6);
    for (int c = 0; c < S.C; c++)
      for (int n = 0; n < S.N; n++)
        for (int i = 0; i < Ho * Wo; i++) {
          const size_t o = ((size_t)c * S.N + n) * Ho * Wo + i;
          rdx[((size_t)c * S.N + n) * S.H * S.W + ridx[o]] += dy[o];
        }
    dinet__maxpool_backward(dy, idx, S.C, S.N, S.H, S.W, Ho, Wo, dx);
    CHECK_REL(dx, rdx, nx, "maxpool_backward C%d N%d %dx%d", S.C, S.N, S.H, S.W);
    free(x), free(y), free(y2), free(idx), free(ridx), free(ry), free(dy), free(dx), free(rdx);
  }
}

static void test_gap(void) {
  static const int shapes[][3] = {{5, 3, 7}, {1, 1, 1}, {2048, 2, 1}, {9, 2, 49}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    const int C = shapes[t][0], N = shapes[t][1], HW = shapes[t][2];
    const size_t nx = (size_t)C * N * HW, ny = (size_t)C * N;
    float *x = rand_buf(nx, -1, 3), *y = fbuf(ny), *dy = rand_buf(ny, -1, 1), *dx = fbuf(nx);
    double *ry = dbuf(ny), *rdx = dbuf(nx);
    for (int c = 0; c < C; c++)
      for (int n = 0; n < N; n++) {
        double s = 0;
        for (int i = 0; i < HW; i++)
          s += x[((size_t)c * N + n) * HW + i];
        ry[(size_t)c * N + n] = s / HW;
        for (int i = 0; i < HW; i++)
          rdx[((size_t)c * N + n) * HW + i] = dy[(size_t)c * N + n] / (double)HW;
      }
    dinet__gap_forward(x, C, N, HW, y);
    CHECK_REL(y, ry, ny, "gap C%d N%d HW%d", C, N, HW);
    fill(dx, nx, 1e6, 2e6);
    dinet__gap_backward(dy, C, N, HW, dx);
    CHECK_REL(dx, rdx, nx, "gap_backward C%d N%d HW%d", C, N, HW);
    free(x), free(y), free(dy), free(dx), free(ry), free(rdx);
  }
}

/* ---- linear ----------------------------------------------------------------------- */

static void test_linear(void) {
  static const int shapes[][3] = {{9, 3, 4}, {1, 1, 1}, {2048, 2, 3}, {17, 5, 11}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    const int C = shapes[t][0], N = shapes[t][1], K = shapes[t][2];
    float *x = rand_buf((size_t)C * N, -1, 1), *w = rand_buf((size_t)K * C, -1, 1);
    float *b = rand_buf(K, -1, 1), *y = fbuf((size_t)N * K);
    double *ry = dbuf((size_t)N * K);
    for (int wb = 0; wb < 2; wb++) {
      /* y[n][j] = b[j] + sum_c w[j][c] x[c][n] */
      for (int n = 0; n < N; n++)
        for (int j = 0; j < K; j++) {
          double s = wb ? b[j] : 0.0;
          for (int c = 0; c < C; c++)
            s += (double)w[(size_t)j * C + c] * x[(size_t)c * N + n];
          ry[(size_t)n * K + j] = s;
        }
      fill(y, (size_t)N * K, 1e6, 2e6);
      dinet__linear_forward(x, C, N, w, wb ? b : NULL, K, y);
      CHECK_REL(y, ry, (size_t)N * K, "linear C%d N%d K%d bias%d", C, N, K, wb);
    }
    /* backward: dw +=, db +=, dx overwritten */
    float *dy = rand_buf((size_t)N * K, -1, 1);
    float *dw = rand_buf((size_t)K * C, -1, 1), *db = rand_buf(K, -1, 1);
    float *dx = fbuf((size_t)C * N);
    double *rdw = dbuf((size_t)K * C), *rdb = dbuf(K), *rdx = dbuf((size_t)C * N);
    for (int j = 0; j < K; j++) {
      rdb[j] = db[j];
      for (int n = 0; n < N; n++)
        rdb[j] += dy[(size_t)n * K + j];
      for (int c = 0; c < C; c++) {
        double s = dw[(size_t)j * C + c];
        for (int n = 0; n < N; n++)
          s += (double)dy[(size_t)n * K + j] * x[(size_t)c * N + n];
        rdw[(size_t)j * C + c] = s;
      }
    }
    for (int c = 0; c < C; c++)
      for (int n = 0; n < N; n++) {
        double s = 0;
        for (int j = 0; j < K; j++)
          s += (double)w[(size_t)j * C + c] * dy[(size_t)n * K + j];
        rdx[(size_t)c * N + n] = s;
      }
    for (size_t i = 0; i < (size_t)C * N; i++)
      dx[i] = NAN;
    dinet__linear_backward(x, C, N, w, K, dy, dw, db, dx);
    CHECK_REL(dw, rdw, (size_t)K * C, "linear_backward dw (+=) C%d N%d K%d", C, N, K);
    CHECK_REL(db, rdb, K, "linear_backward db (+=) C%d N%d K%d", C, N, K);
    CHECK_REL(dx, rdx, (size_t)C * N, "linear_backward dx C%d N%d K%d", C, N, K);
    dinet__linear_backward(x, C, N, w, K, dy, NULL, NULL, dx);
    CHECK_REL(dx, rdx, (size_t)C * N, "linear_backward dx only C%d N%d K%d", C, N, K);
    free(x), free(w), free(b), free(y), free(ry), free(dy), free(dw), free(db), free(dx);
    free(rdw), free(rdb), free(rdx);
  }
}

/* ---- CBAM channel gate ---------------------------------------------------------------- */

static void test_cgate(void) {
  /* C, N, HW, R */
  static const int shapes[][4] = {{32, 2, 9, 2}, {48, 3, 1, 3}, {37, 1, 15, 3},
                                  {20, 2, 49, 5}, {256, 2, 4, 16}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    const int C = shapes[t][0], N = shapes[t][1], HW = shapes[t][2], R = shapes[t][3];
    const size_t nx = (size_t)C * N * HW, CN = (size_t)C * N, RN = (size_t)R * N;
    float *x = rand_buf(nx, -2, 2);
    const double a1 = 1 / sqrt(C), a2 = 1 / sqrt(R);
    float *w1 = rand_buf((size_t)R * C, -3 * a1, 3 * a1), *b1 = rand_buf(R, -0.3, 0.3);
    float *w2 = rand_buf((size_t)C * R, -a2, a2), *b2 = rand_buf(C, -0.5, 0.5);
    dinet__cgate_cache cc = {fbuf(CN), fbuf(CN), fbuf(RN), fbuf(RN), fbuf(CN), ibuf(CN)};
    float *y = fbuf(nx);
    dinet__cgate_forward(x, C, N, HW, R, w1, b1, w2, b2, &cc, y);

    double *ravg = dbuf(CN), *rmx = dbuf(CN), *rha = dbuf(RN), *rhm = dbuf(RN);
    double *rs = dbuf(CN), *ry = dbuf(nx);
    int32_t *ramax = ibuf(CN);
    for (int c = 0; c < C; c++)
      for (int n = 0; n < N; n++) {
        const float *xp = x + ((size_t)c * N + n) * HW;
        double s = 0, m = -INFINITY;
        int mi = -1;
        for (int i = 0; i < HW; i++) {
          s += xp[i];
          if (xp[i] > m) {
            m = xp[i];
            mi = i;
          }
        }
        ravg[(size_t)c * N + n] = s / HW;
        rmx[(size_t)c * N + n] = m;
        ramax[(size_t)c * N + n] = mi;
      }
    for (int r = 0; r < R; r++)
      for (int n = 0; n < N; n++) {
        double ha = b1[r], hm = b1[r];
        for (int c = 0; c < C; c++) {
          ha += (double)w1[(size_t)r * C + c] * ravg[(size_t)c * N + n];
          hm += (double)w1[(size_t)r * C + c] * rmx[(size_t)c * N + n];
        }
        rha[(size_t)r * N + n] = ha > 0 ? ha : 0;
        rhm[(size_t)r * N + n] = hm > 0 ? hm : 0;
      }
    for (int c = 0; c < C; c++)
      for (int n = 0; n < N; n++) {
        /* mlp(avg) + mlp(max): the output bias counts twice */
        double att = 2.0 * b2[c];
        for (int r = 0; r < R; r++)
          att += (double)w2[(size_t)c * R + r] * (rha[(size_t)r * N + n] + rhm[(size_t)r * N + n]);
        const double s = 1 / (1 + exp(-att));
        rs[(size_t)c * N + n] = s;
        for (int i = 0; i < HW; i++)
          ry[((size_t)c * N + n) * HW + i] = x[((size_t)c * N + n) * HW + i] * s;
      }
    CHECK_REL(cc.avg, ravg, CN, "cgate avg C%d N%d HW%d R%d", C, N, HW, R);
    CHECK_REL(cc.mx, rmx, CN, "cgate max C%d N%d HW%d R%d", C, N, HW, R);
    CHECK(same_int(cc.amax, ramax, CN), "cgate argmax C%d N%d HW%d R%d", C, N, HW, R);
    CHECK_REL(cc.ha, rha, RN, "cgate hidden(avg) C%d N%d HW%d R%d", C, N, HW, R);
    CHECK_REL(cc.hm, rhm, RN, "cgate hidden(max) C%d N%d HW%d R%d", C, N, HW, R);
    CHECK_REL(cc.s, rs, CN, "cgate scale C%d N%d HW%d R%d", C, N, HW, R);
    CHECK_REL(y, ry, nx, "cgate y C%d N%d HW%d R%d", C, N, HW, R);
    int some_dead = 0, some_live = 0;
    for (size_t i = 0; i < RN; i++) {
      some_dead |= rha[i] == 0 || rhm[i] == 0;
      some_live |= rha[i] > 0 || rhm[i] > 0;
    }
    if (t == 0)
      CHECK(some_dead && some_live, "cgate test data should exercise both ReLU sides");
    free(x), free(w1), free(b1), free(w2), free(b2), free(y);
    free(cc.avg), free(cc.mx), free(cc.ha), free(cc.hm), free(cc.s), free(cc.amax);
    free(ravg), free(rmx), free(rha), free(rhm), free(rs), free(ry), free(ramax);
  }
}

/* ---- CBAM spatial pooling and plane products -------------------------------------------- */

static void test_chanpool_mulplane(void) {
  static const int shapes[][2] = {{5, 646}, {1, 3}, {64, 257}, {2, 256}, {3, 1}, {13, 513}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    const int C = shapes[t][0], NHW = shapes[t][1];
    const size_t nx = (size_t)C * NHW;
    float *x = rand_buf(nx, -2, 1), *p = fbuf(2 * (size_t)NHW);
    int32_t *amax = ibuf(NHW), *ramax = ibuf(NHW);
    double *rp = dbuf(2 * (size_t)NHW);
    for (int i = 0; i < NHW; i++) {
      double m = -INFINITY, s = 0;
      int mi = -1;
      for (int c = 0; c < C; c++) {
        const double v = x[(size_t)c * NHW + i];
        s += v;
        if (v > m) {
          m = v;
          mi = c;
        }
      }
      rp[i] = m;               /* channel 0 of the pooled map: max */
      rp[NHW + i] = s / C;     /* channel 1: mean */
      ramax[i] = mi;
    }
    dinet__chanpool_forward(x, C, NHW, p, amax);
    CHECK_REL(p, rp, 2 * (size_t)NHW, "chanpool C%d NHW%d", C, NHW);
    CHECK(same_int(amax, ramax, NHW), "chanpool argmax C%d NHW%d", C, NHW);

    /* chanpool backward: dx += dmean/C + dmax at the argmax channel */
    float *dp = rand_buf(2 * (size_t)NHW, -1, 1), *dx = rand_buf(nx, -1, 1);
    double *rdx = dbuf(nx);
    for (int c = 0; c < C; c++)
      for (int i = 0; i < NHW; i++)
        rdx[(size_t)c * NHW + i] = (double)dx[(size_t)c * NHW + i] + dp[NHW + i] / C +
                                   (ramax[i] == c ? dp[i] : 0.0);
    dinet__chanpool_backward(dp, amax, C, NHW, dx);
    CHECK_REL(dx, rdx, nx, "chanpool_backward (+=) C%d NHW%d", C, NHW);

    /* mul_plane: y[c][i] = x[c][i] * s[i] */
    float *s = rand_buf(NHW, -1, 1), *y = fbuf(nx);
    double *ry = dbuf(nx);
    for (int c = 0; c < C; c++)
      for (int i = 0; i < NHW; i++)
        ry[(size_t)c * NHW + i] = (double)x[(size_t)c * NHW + i] * s[i];
    dinet__mul_plane(x, s, C, NHW, y);
    CHECK_REL(y, ry, nx, "mul_plane C%d NHW%d", C, NHW);
    /* backward: dx = dy*s, ds = sum_c dy*x */
    float *dy = rand_buf(nx, -1, 1), *ds = fbuf(NHW);
    double *rds = dbuf(NHW);
    fill(dx, nx, 1e6, 2e6);
    fill(ds, NHW, 1e6, 2e6);
    for (int i = 0; i < NHW; i++) {
      double acc = 0;
      for (int c = 0; c < C; c++) {
        acc += (double)dy[(size_t)c * NHW + i] * x[(size_t)c * NHW + i];
        rdx[(size_t)c * NHW + i] = (double)dy[(size_t)c * NHW + i] * s[i];
      }
      rds[i] = acc;
    }
    dinet__mul_plane_backward(x, s, dy, C, NHW, dx, ds);
    CHECK_REL(dx, rdx, nx, "mul_plane_backward dx C%d NHW%d", C, NHW);
    CHECK_REL(ds, rds, NHW, "mul_plane_backward ds C%d NHW%d", C, NHW);
    free(x), free(p), free(amax), free(ramax), free(rp), free(dp), free(dx), free(rdx);
    free(s), free(y), free(ry), free(dy), free(ds), free(rds);
  }
}

int main(void) {
  static const int threads[] = {1, 3};
  for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
    dinet_set_threads(threads[i]);
    dinet_rng_seed(&rng, 0x0b5e55edULL + i);
    test_sgemm();
    test_im2col();
    test_conv();
    test_bn();
    test_elementwise();
    test_maxpool();
    test_gap();
    test_linear();
    test_cgate();
    test_chanpool_mulplane();
  }
  return tu_finish();
}
