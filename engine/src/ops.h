/* ops.h — tensor primitives of libdinet (internal).
 *
 * Layout: activations are channel-major, C x N x H x W ("CNHW"), so one
 * convolution over a batch is one sgemm. Shapes are written as comments on
 * each line of tensor code, ggml-style. All functions are plain loops or
 * sgemm calls; the element-wise ones run on the engine's pool. */
#ifndef DINET_OPS_H
#define DINET_OPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- im2col / col2im (CNHW) ----
 * x:   [C][N][H][W]
 * col: [C*k*k][N*Ho*Wo]  row r = (c*k + ky)*k + kx */
void dinet__im2col(const float *x, int C, int N, int H, int W, int k, int stride,
                   int pad, int Ho, int Wo, float *col);
/* dx[C][N][H][W] += col2im(dcol) */
void dinet__col2im(const float *dcol, int C, int N, int H, int W, int k,
                   int stride, int pad, int Ho, int Wo, float *dx);

static inline int dinet__conv_out(int in, int k, int stride, int pad) {
  return (in + 2 * pad - k) / stride + 1;
}

/* Convolution, weights w [Cout][Cin*k*k], optional bias [Cout].
 * y [Cout][N][Ho][Wo] = w x im2col(x) (+ bias). ws: workspace of at least
 * Cin*k*k*N*Ho*Wo floats (unused for 1x1 stride-1 pad-0 convolutions). */
void dinet__conv_forward(const float *x, int Cin, int N, int H, int W,
                         const float *w, const float *bias, int Cout, int k,
                         int stride, int pad, float *y, float *ws);
/* Backward. dy [Cout][N*Ho*Wo].
 * dw (may be NULL) [Cout][Cin*k*k] += dy x im2col(x)^T (x needed then),
 * dx (may be NULL) = (beta ? dx : 0) + col2im(w^T x dy). */
void dinet__conv_backward(const float *x, int Cin, int N, int H, int W,
                          const float *w, int Cout, int k, int stride, int pad,
                          const float *dy, float *dw, float *dx, int dx_accumulate,
                          float *ws);

/* ---- batch norm over [C][M] (M = N*H*W) ---- */
/* Train: batch mean and biased variance; y = gamma*(x-mean)*invstd + beta;
 * saves mean/invstd [C]; updates running stats (unbiased var) with momentum. */
void dinet__bn_train_forward(const float *x, int C, int M, const float *gamma,
                             const float *beta, float eps, float momentum,
                             float *running_mean, float *running_var,
                             float *mean, float *invstd, float *y);
/* dx = BN backward, dgamma/dbeta += (may be NULL). */
void dinet__bn_train_backward(const float *x, const float *dy, int C, int M,
                              const float *gamma, const float *mean,
                              const float *invstd, float *dx, float *dgamma,
                              float *dbeta);
/* Eval-mode affine per channel: y = x*scale[c] + shift[c] (in place ok). */
void dinet__channel_affine(const float *x, int C, int M, const float *scale,
                           const float *shift, float *y);

/* ---- element-wise ---- */
void dinet__relu(float *x, size_t n);                                /* in place */
void dinet__relu_backward(const float *y, float *dy, size_t n);      /* dy *= (y>0) */
void dinet__add_relu(const float *a, float *b, size_t n);            /* b = relu(a+b) */
void dinet__sigmoid(const float *x, float *y, size_t n);

/* ---- pooling ---- */
/* 3x3 / 2 / pad 1 max pool (general k, s, p). idx [C][N][Ho][Wo] = argmax
 * position within the H*W plane (may be NULL for inference). */
void dinet__maxpool_forward(const float *x, int C, int N, int H, int W, int k,
                            int stride, int pad, int Ho, int Wo, float *y,
                            int32_t *idx);
void dinet__maxpool_backward(const float *dy, const int32_t *idx, int C, int N,
                             int H, int W, int Ho, int Wo, float *dx);
/* Global average pool: x [C][N][HW] -> y [C][N]. */
void dinet__gap_forward(const float *x, int C, int N, int HW, float *y);
/* dx [C][N][HW] = dy[C][N] / HW. */
void dinet__gap_backward(const float *dy, int C, int N, int HW, float *dx);

/* ---- linear ---- */
/* y [N][K] = x^T w^T + b with x [C][N] (channel-major features), w [K][C]. */
void dinet__linear_forward(const float *x, int C, int N, const float *w,
                           const float *b, int K, float *y);
/* dw [K][C] += dy^T x^T, db [K] += sum dy, dx [C][N] = w^T dy^T (each may be NULL). */
void dinet__linear_backward(const float *x, int C, int N, const float *w, int K,
                            const float *dy, float *dw, float *db, float *dx);

/* ---- CBAM channel gate ----
 * x [C][N][HW]; MLP w1 [R][C], b1 [R], w2 [C][R], b2 [C].
 * Saves avg, mx [C][N], amax [C][N] (argmax in plane), ha, hm [R][N]
 * (post-ReLU hidden), s [C][N] (sigmoid scale); y = x * s. */
typedef struct dinet__cgate_cache {
  float *avg, *mx, *ha, *hm, *s;
  int32_t *amax;
} dinet__cgate_cache;
void dinet__cgate_forward(const float *x, int C, int N, int HW, int R,
                          const float *w1, const float *b1, const float *w2,
                          const float *b2, dinet__cgate_cache *c, float *y);
/* dx = backward; parameter grads accumulated when not NULL. tmp: 4*C*N floats. */
void dinet__cgate_backward(const float *x, const float *dy, int C, int N, int HW,
                           int R, const float *w1, const float *w2,
                           const dinet__cgate_cache *c, float *dx, float *dw1,
                           float *db1, float *dw2, float *db2, float *tmp);

/* ---- CBAM spatial pool: [max over C, mean over C] ----
 * x [C][N][HW] -> p [2][N][HW]; amax [N][HW] the argmax channel. */
void dinet__chanpool_forward(const float *x, int C, int NHW, float *p,
                             int32_t *amax);
/* dx [C][NHW] += backward of dp [2][NHW]. */
void dinet__chanpool_backward(const float *dp, const int32_t *amax, int C,
                              int NHW, float *dx);
/* y [C][NHW] = x [C][NHW] * s [NHW] (broadcast over channels). */
void dinet__mul_plane(const float *x, const float *s, int C, int NHW, float *y);
/* Backward of y = x * s: dx = dy*s; ds [NHW] = sum_c dy*x. */
void dinet__mul_plane_backward(const float *x, const float *s, const float *dy,
                               int C, int NHW, float *dx, float *ds);

#endif
