/* ops.c — tensor primitives (see ops.h for the layout and contracts). */
#include "ops.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "parallel.h"

/* ------------------------------------------------------------------ */
/* im2col / col2im                                                     */

typedef struct im2col_ctx {
  const float *x;
  float *col;
  int C, N, H, W, k, stride, pad, Ho, Wo;
} im2col_ctx;

/* Rows [b, e) of col: one (c, ky, kx) each. */
static void im2col_rows(void *p, int b, int e) {
  const im2col_ctx *a = p;
  const int k = a->k, s = a->stride, pad = a->pad;
  const size_t plane = (size_t)a->H * a->W, oplane = (size_t)a->Ho * a->Wo;
  for (int r = b; r < e; r++) {
    int c = r / (k * k), ky = (r / k) % k, kx = r % k;
    float *dst = a->col + (size_t)r * a->N * oplane;            /* [N][Ho][Wo] */
    /* valid ox range: 0 <= ox*s - pad + kx < W */
    int ox0 = 0, ox1 = a->Wo;
    while (ox0 < a->Wo && ox0 * s - pad + kx < 0)
      ox0++;
    while (ox1 > ox0 && (ox1 - 1) * s - pad + kx >= a->W)
      ox1--;
    for (int n = 0; n < a->N; n++) {
      const float *src = a->x + ((size_t)c * a->N + n) * plane;   /* [H][W] */
      for (int oy = 0; oy < a->Ho; oy++, dst += a->Wo) {
        int iy = oy * s - pad + ky;
        if (iy < 0 || iy >= a->H) {
          memset(dst, 0, sizeof(float) * a->Wo);
          continue;
        }
        const float *row = src + (size_t)iy * a->W - pad + kx;
        for (int ox = 0; ox < ox0; ox++)
          dst[ox] = 0.0f;
        if (s == 1) {
          memcpy(dst + ox0, row + ox0, sizeof(float) * (ox1 - ox0));
        } else {
          for (int ox = ox0; ox < ox1; ox++)
            dst[ox] = row[ox * s];
        }
        for (int ox = ox1; ox < a->Wo; ox++)
          dst[ox] = 0.0f;
      }
    }
  }
}

void dinet__im2col(const float *x, int C, int N, int H, int W, int k, int stride,
                   int pad, int Ho, int Wo, float *col) {
  im2col_ctx a = {x, col, C, N, H, W, k, stride, pad, Ho, Wo};
  dinet__parallel_for(C * k * k, im2col_rows, &a);
}

/* Channels [b, e): every (ky, kx) row of that channel adds into its plane. */
static void col2im_chans(void *p, int b, int e) {
  const im2col_ctx *a = p;
  const int k = a->k, s = a->stride, pad = a->pad;
  const size_t plane = (size_t)a->H * a->W, oplane = (size_t)a->Ho * a->Wo;
  for (int c = b; c < e; c++) {
    for (int ky = 0; ky < k; ky++) {
      for (int kx = 0; kx < k; kx++) {
        int r = (c * k + ky) * k + kx;
        const float *src = a->col + (size_t)r * a->N * oplane;  /* [N][Ho][Wo] */
        int ox0 = 0, ox1 = a->Wo;
        while (ox0 < a->Wo && ox0 * s - pad + kx < 0)
          ox0++;
        while (ox1 > ox0 && (ox1 - 1) * s - pad + kx >= a->W)
          ox1--;
        for (int n = 0; n < a->N; n++) {
          float *dst = (float *)a->x + ((size_t)c * a->N + n) * plane;   /* [H][W] */
          for (int oy = 0; oy < a->Ho; oy++, src += a->Wo) {
            int iy = oy * s - pad + ky;
            if (iy < 0 || iy >= a->H)
              continue;
            float *row = dst + (size_t)iy * a->W - pad + kx;
            if (s == 1) {
              for (int ox = ox0; ox < ox1; ox++)
                row[ox] += src[ox];
            } else {
              for (int ox = ox0; ox < ox1; ox++)
                row[ox * s] += src[ox];
            }
          }
        }
      }
    }
  }
}

void dinet__col2im(const float *dcol, int C, int N, int H, int W, int k,
                   int stride, int pad, int Ho, int Wo, float *dx) {
  /* ctx.x carries the destination here */
  im2col_ctx a = {dx, (float *)dcol, C, N, H, W, k, stride, pad, Ho, Wo};
  dinet__parallel_for(C, col2im_chans, &a);
}

/* ------------------------------------------------------------------ */
/* convolution                                                         */

typedef struct bias_ctx {
  float *y;
  const float *bias;
  size_t M;
} bias_ctx;

static void add_bias_rows(void *p, int b, int e) {
  const bias_ctx *a = p;
  for (int c = b; c < e; c++) {
    float *row = a->y + (size_t)c * a->M;
    const float v = a->bias[c];
    for (size_t i = 0; i < a->M; i++)
      row[i] += v;
  }
}

void dinet__conv_forward(const float *x, int Cin, int N, int H, int W,
                         const float *w, const float *bias, int Cout, int k,
                         int stride, int pad, float *y, float *ws) {
  const int Ho = dinet__conv_out(H, k, stride, pad), Wo = dinet__conv_out(W, k, stride, pad);
  const int K = Cin * k * k;
  const int M = N * Ho * Wo;
  const float *col = x;                                   /* [K][M] */
  if (!(k == 1 && stride == 1 && pad == 0)) {
    dinet__im2col(x, Cin, N, H, W, k, stride, pad, Ho, Wo, ws);
    col = ws;
  }
  /* y [Cout][M] = w [Cout][K] x col [K][M] */
  dinet__sgemm(0, 0, Cout, M, K, 1.0f, w, K,
              col, M, 0.0f, y, M);
  if (bias) {
    bias_ctx a = {y, bias, (size_t)M};
    dinet__parallel_for(Cout, add_bias_rows, &a);
  }
}

void dinet__conv_backward(const float *x, int Cin, int N, int H, int W,
                          const float *w, int Cout, int k, int stride, int pad,
                          const float *dy, float *dw, float *dx, int dx_accumulate,
                          float *ws) {
  const int Ho = dinet__conv_out(H, k, stride, pad), Wo = dinet__conv_out(W, k, stride, pad);
  const int K = Cin * k * k;
  const int M = N * Ho * Wo;
  const int direct = (k == 1 && stride == 1 && pad == 0);
  if (dw) {
    const float *col = x;                                 /* [K][M] */
    if (!direct) {
      dinet__im2col(x, Cin, N, H, W, k, stride, pad, Ho, Wo, ws);
      col = ws;
    }
    /* dw [Cout][K] += dy [Cout][M] x col^T [M][K] */
    dinet__sgemm(0, 1, Cout, K, M, 1.0f, dy, M,
                col, M, 1.0f, dw, K);
  }
  if (dx) {
    if (direct) {
      /* dx [Cin][M] = w^T [Cin][Cout] x dy [Cout][M] */
      dinet__sgemm(1, 0, Cin, M, Cout, 1.0f, w,
                  K, dy, M, dx_accumulate ? 1.0f : 0.0f, dx, M);
    } else {
      /* dcol [K][M] = w^T [K][Cout] x dy [Cout][M] */
      dinet__sgemm(1, 0, K, M, Cout, 1.0f, w, K,
                  dy, M, 0.0f, ws, M);
      if (!dx_accumulate)
        memset(dx, 0, sizeof(float) * (size_t)Cin * N * H * W);
      dinet__col2im(ws, Cin, N, H, W, k, stride, pad, Ho, Wo, dx);
    }
  }
}

/* ------------------------------------------------------------------ */
/* batch norm                                                          */

typedef struct bn_ctx {
  const float *x, *dy, *gamma, *beta;
  float *y, *mean, *invstd, *rmean, *rvar, *dgamma, *dbeta, *dx;
  const float *scale, *shift;
  const float *cmean, *cinvstd;
  int M;
  float eps, momentum;
} bn_ctx;

static void bn_fwd_chans(void *p, int b, int e) {
  const bn_ctx *a = p;
  const int M = a->M;
  for (int c = b; c < e; c++) {
    const float *xc = a->x + (size_t)c * M;                 /* [M] */
    /* one pass: sums in double, shifted by the first value for accuracy */
    const double k0 = xc[0];
    double s = 0, sq = 0;
    for (int i = 0; i < M; i++) {
      double d = xc[i] - k0;
      s += d;
      sq += d * d;
    }
    double mu = k0 + s / M;
    double ss = sq - s * s / M;                 /* sum of squared deviations */
    if (ss < 0)
      ss = 0;
    double var = ss / M;
    float is = (float)(1.0 / sqrt(var + a->eps));
    a->mean[c] = (float)mu;
    a->invstd[c] = is;
    if (a->rmean) {
      double unb = M > 1 ? ss / (M - 1) : var;
      a->rmean[c] = (1.0f - a->momentum) * a->rmean[c] + a->momentum * (float)mu;
      a->rvar[c] = (1.0f - a->momentum) * a->rvar[c] + a->momentum * (float)unb;
    }
    const float g = a->gamma[c] * is, sh = a->beta[c] - (float)mu * g;
    float *yc = a->y + (size_t)c * M;
    for (int i = 0; i < M; i++)
      yc[i] = xc[i] * g + sh;
  }
}

void dinet__bn_train_forward(const float *x, int C, int M, const float *gamma,
                             const float *beta, float eps, float momentum,
                             float *running_mean, float *running_var,
                             float *mean, float *invstd, float *y) {
  bn_ctx a = {.x = x, .gamma = gamma, .beta = beta, .y = y, .mean = mean,
              .invstd = invstd, .rmean = running_mean, .rvar = running_var,
              .M = M, .eps = eps, .momentum = momentum};
  dinet__parallel_for(C, bn_fwd_chans, &a);
}

static void bn_bwd_chans(void *p, int b, int e) {
  const bn_ctx *a = p;
  const int M = a->M;
  for (int c = b; c < e; c++) {
    const float *xc = a->x + (size_t)c * M, *dyc = a->dy + (size_t)c * M;
    const float mu = a->cmean[c], is = a->cinvstd[c];
    double sdy = 0, sdyx = 0;
    for (int i = 0; i < M; i++) {
      sdy += dyc[i];
      sdyx += dyc[i] * ((xc[i] - mu) * is);
    }
    if (a->dgamma)
      a->dgamma[c] += (float)sdyx;
    if (a->dbeta)
      a->dbeta[c] += (float)sdy;
    if (a->dx) {
      /* dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)) */
      const float g = a->gamma[c] * is;
      const float mdy = (float)(sdy / M), mdyx = (float)(sdyx / M);
      float *dxc = a->dx + (size_t)c * M;
      for (int i = 0; i < M; i++) {
        float xh = (xc[i] - mu) * is;
        dxc[i] = g * (dyc[i] - mdy - xh * mdyx);
      }
    }
  }
}

void dinet__bn_train_backward(const float *x, const float *dy, int C, int M,
                              const float *gamma, const float *mean,
                              const float *invstd, float *dx, float *dgamma,
                              float *dbeta) {
  bn_ctx a = {.x = x, .dy = dy, .gamma = gamma, .cmean = mean, .cinvstd = invstd,
              .dx = dx, .dgamma = dgamma, .dbeta = dbeta, .M = M};
  dinet__parallel_for(C, bn_bwd_chans, &a);
}

static void affine_chans(void *p, int b, int e) {
  const bn_ctx *a = p;
  for (int c = b; c < e; c++) {
    const float *xc = a->x + (size_t)c * a->M;
    float *yc = a->y + (size_t)c * a->M;
    const float s = a->scale[c], t = a->shift[c];
    for (int i = 0; i < a->M; i++)
      yc[i] = xc[i] * s + t;
  }
}

void dinet__channel_affine(const float *x, int C, int M, const float *scale,
                           const float *shift, float *y) {
  bn_ctx a = {.x = x, .y = y, .scale = scale, .shift = shift, .M = M};
  dinet__parallel_for(C, affine_chans, &a);
}

/* ------------------------------------------------------------------ */
/* element-wise (chunked over the pool)                                */

#define EW_CHUNK 16384

typedef struct ew_ctx {
  const float *a;
  float *b;
  size_t n;
  int op;
} ew_ctx;

static void ew_chunks(void *p, int cb, int ce) {
  const ew_ctx *c = p;
  size_t b = (size_t)cb * EW_CHUNK, e = (size_t)ce * EW_CHUNK;
  if (e > c->n)
    e = c->n;
  float *y = c->b;
  const float *x = c->a;
  switch (c->op) {
  case 0: /* relu in place */
    for (size_t i = b; i < e; i++)
      y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    break;
  case 1: /* dy *= (y > 0) */
    for (size_t i = b; i < e; i++)
      y[i] = x[i] > 0.0f ? y[i] : 0.0f;
    break;
  case 2: /* b = relu(a + b) */
    for (size_t i = b; i < e; i++) {
      float v = x[i] + y[i];
      y[i] = v > 0.0f ? v : 0.0f;
    }
    break;
  case 3: /* sigmoid */
    for (size_t i = b; i < e; i++)
      y[i] = 1.0f / (1.0f + expf(-x[i]));
    break;
  }
}

static void ew_run(const float *a, float *b, size_t n, int op) {
  ew_ctx c = {a, b, n, op};
  dinet__parallel_for((int)((n + EW_CHUNK - 1) / EW_CHUNK), ew_chunks, &c);
}

void dinet__relu(float *x, size_t n) { ew_run(NULL, x, n, 0); }
void dinet__relu_backward(const float *y, float *dy, size_t n) { ew_run(y, dy, n, 1); }
void dinet__add_relu(const float *a, float *b, size_t n) { ew_run(a, b, n, 2); }
void dinet__sigmoid(const float *x, float *y, size_t n) { ew_run(x, y, n, 3); }

/* ------------------------------------------------------------------ */
/* pooling                                                             */

typedef struct pool_ctx {
  const float *x;
  float *y;
  int32_t *idx;
  const int32_t *cidx;
  int H, W, k, stride, pad, Ho, Wo;
} pool_ctx;

/* Planes [b, e) of C*N. */
static void maxpool_planes(void *p, int b, int e) {
  const pool_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    const float *xp = a->x + (size_t)pl * a->H * a->W;      /* [H][W] */
    float *yp = a->y + (size_t)pl * a->Ho * a->Wo;          /* [Ho][Wo] */
    int32_t *ip = a->idx ? a->idx + (size_t)pl * a->Ho * a->Wo : NULL;
    for (int oy = 0; oy < a->Ho; oy++) {
      int y0 = oy * a->stride - a->pad;
      for (int ox = 0; ox < a->Wo; ox++) {
        int x0 = ox * a->stride - a->pad;
        float best = -INFINITY;
        int32_t bi = -1;
        for (int ky = 0; ky < a->k; ky++) {
          int iy = y0 + ky;
          if (iy < 0 || iy >= a->H)
            continue;
          for (int kx = 0; kx < a->k; kx++) {
            int ix = x0 + kx;
            if (ix < 0 || ix >= a->W)
              continue;
            float v = xp[iy * a->W + ix];
            if (v > best || bi < 0 || isnan(v)) {
              best = v;
              bi = iy * a->W + ix;
              if (isnan(v))
                goto done;
            }
          }
        }
      done:
        yp[oy * a->Wo + ox] = best;
        if (ip)
          ip[oy * a->Wo + ox] = bi;
      }
    }
  }
}

void dinet__maxpool_forward(const float *x, int C, int N, int H, int W, int k,
                            int stride, int pad, int Ho, int Wo, float *y,
                            int32_t *idx) {
  pool_ctx a = {.x = x, .y = y, .idx = idx, .H = H, .W = W, .k = k,
                .stride = stride, .pad = pad, .Ho = Ho, .Wo = Wo};
  dinet__parallel_for(C * N, maxpool_planes, &a);
}

static void maxpool_bwd_planes(void *p, int b, int e) {
  const pool_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    const float *dyp = a->x + (size_t)pl * a->Ho * a->Wo;
    const int32_t *ip = a->cidx + (size_t)pl * a->Ho * a->Wo;
    float *dxp = a->y + (size_t)pl * a->H * a->W;
    memset(dxp, 0, sizeof(float) * a->H * a->W);
    for (int i = 0; i < a->Ho * a->Wo; i++)
      if (ip[i] >= 0)
        dxp[ip[i]] += dyp[i];
  }
}

void dinet__maxpool_backward(const float *dy, const int32_t *idx, int C, int N,
                             int H, int W, int Ho, int Wo, float *dx) {
  pool_ctx a = {.x = dy, .y = dx, .cidx = idx, .H = H, .W = W, .Ho = Ho, .Wo = Wo};
  dinet__parallel_for(C * N, maxpool_bwd_planes, &a);
}

void dinet__gap_forward(const float *x, int C, int N, int HW, float *y) {
  for (int p = 0; p < C * N; p++) {                          /* y [C][N] */
    const float *xp = x + (size_t)p * HW;
    double s = 0;
    for (int i = 0; i < HW; i++)
      s += xp[i];
    y[p] = (float)(s / HW);
  }
}

void dinet__gap_backward(const float *dy, int C, int N, int HW, float *dx) {
  for (int p = 0; p < C * N; p++) {                          /* dx [C][N][HW] */
    const float v = dy[p] / HW;
    float *dp = dx + (size_t)p * HW;
    for (int i = 0; i < HW; i++)
      dp[i] = v;
  }
}

/* ------------------------------------------------------------------ */
/* linear                                                              */

void dinet__linear_forward(const float *x, int C, int N, const float *w,
                           const float *b, int K, float *y) {
  for (int n = 0; n < N; n++)
    for (int j = 0; j < K; j++)
      y[n * K + j] = b ? b[j] : 0.0f;
  /* y [N][K] += x^T [N][C] x w^T [C][K] */
  dinet__sgemm(1, 1, N, K, C, 1.0f, x, N, w, C,
              1.0f, y, K);
}

void dinet__linear_backward(const float *x, int C, int N, const float *w, int K,
                            const float *dy, float *dw, float *db, float *dx) {
  if (dw) /* dw [K][C] += dy^T [K][N] x x^T [N][C] */
    dinet__sgemm(1, 1, K, C, N, 1.0f, dy, K, x,
                N, 1.0f, dw, C);
  if (db)
    for (int n = 0; n < N; n++)
      for (int j = 0; j < K; j++)
        db[j] += dy[n * K + j];
  if (dx) /* dx [C][N] = w^T [C][K] x dy^T [K][N] */
    dinet__sgemm(1, 1, C, N, K, 1.0f, w, C, dy,
                K, 0.0f, dx, N);
}

/* ------------------------------------------------------------------ */
/* CBAM channel gate                                                   */

typedef struct cg_ctx {
  const float *x, *dy, *s;
  float *y, *avg, *mx, *ds, *dx;
  const float *davg, *dmx;
  int32_t *amax;
  const int32_t *camax;
  int HW;
} cg_ctx;

static void cg_pool_planes(void *p, int b, int e) {
  const cg_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    const float *xp = a->x + (size_t)pl * a->HW;              /* [HW] */
    double s = 0;
    float m = xp[0];
    int32_t mi = 0;
    for (int i = 0; i < a->HW; i++) {
      s += xp[i];
      if (xp[i] > m) {
        m = xp[i];
        mi = i;
      }
    }
    a->avg[pl] = (float)(s / a->HW);
    a->mx[pl] = m;
    a->amax[pl] = mi;
  }
}

static void cg_scale_planes(void *p, int b, int e) {
  const cg_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    const float *xp = a->x + (size_t)pl * a->HW;
    float *yp = a->y + (size_t)pl * a->HW;
    const float s = a->s[pl];
    for (int i = 0; i < a->HW; i++)
      yp[i] = xp[i] * s;
  }
}

void dinet__cgate_forward(const float *x, int C, int N, int HW, int R,
                          const float *w1, const float *b1, const float *w2,
                          const float *b2, dinet__cgate_cache *c, float *y) {
  cg_ctx a = {.x = x, .y = y, .avg = c->avg, .mx = c->mx, .amax = c->amax,
              .s = c->s, .HW = HW};
  dinet__parallel_for(C * N, cg_pool_planes, &a);        /* avg, mx [C][N] */
  for (int r = 0; r < R; r++)
    for (int n = 0; n < N; n++)
      c->ha[r * N + n] = c->hm[r * N + n] = b1[r];
  /* ha [R][N] = w1 [R][C] x avg [C][N] + b1;  hm likewise with mx */
  dinet__sgemm(0, 0, R, N, C, 1.0f, w1, C,
              c->avg, N, 1.0f, c->ha, N);
  dinet__sgemm(0, 0, R, N, C, 1.0f, w1, C,
              c->mx, N, 1.0f, c->hm, N);
  for (int i = 0; i < R * N; i++) {
    if (!(c->ha[i] > 0.0f)) c->ha[i] = 0.0f;
    if (!(c->hm[i] > 0.0f)) c->hm[i] = 0.0f;
  }
  /* att [C][N] = (w2 ha + b2) + (w2 hm + b2) */
  for (int ch = 0; ch < C; ch++)
    for (int n = 0; n < N; n++)
      c->s[ch * N + n] = 2.0f * b2[ch];
  dinet__sgemm(0, 0, C, N, R, 1.0f, w2, R,
              c->ha, N, 1.0f, c->s, N);
  dinet__sgemm(0, 0, C, N, R, 1.0f, w2, R,
              c->hm, N, 1.0f, c->s, N);
  for (int i = 0; i < C * N; i++)
    c->s[i] = 1.0f / (1.0f + expf(-c->s[i]));                /* s [C][N] */
  dinet__parallel_for(C * N, cg_scale_planes, &a);       /* y = x * s */
}

/* ds [C][N] = sum_hw dy*x, dx = dy*s. */
static void cg_bwd_planes(void *p, int b, int e) {
  const cg_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    const float *xp = a->x + (size_t)pl * a->HW, *dyp = a->dy + (size_t)pl * a->HW;
    float *dxp = a->dx + (size_t)pl * a->HW;
    const float s = a->s[pl];
    double acc = 0;
    for (int i = 0; i < a->HW; i++) {
      acc += dyp[i] * xp[i];
      dxp[i] = dyp[i] * s;
    }
    a->ds[pl] = (float)acc;
  }
}

/* dx += davg/HW everywhere + dmx at the argmax. */
static void cg_bwd_pool_planes(void *p, int b, int e) {
  const cg_ctx *a = p;
  for (int pl = b; pl < e; pl++) {
    float *dxp = a->dx + (size_t)pl * a->HW;
    const float v = a->davg[pl] / a->HW;
    for (int i = 0; i < a->HW; i++)
      dxp[i] += v;
    dxp[a->camax[pl]] += a->dmx[pl];
  }
}

void dinet__cgate_backward(const float *x, const float *dy, int C, int N, int HW,
                           int R, const float *w1, const float *w2,
                           const dinet__cgate_cache *c, float *dx, float *dw1,
                           float *db1, float *dw2, float *db2, float *tmp) {
  float *datt = tmp;                                      /* [C][N] */
  float *davg = datt + (size_t)C * N;                     /* [C][N] */
  float *dmx = davg + (size_t)C * N;                      /* [C][N] */
  float *hsum = dmx + (size_t)C * N;                      /* [R][N] */
  float *dh = hsum + (size_t)R * N;                       /* [R][N] */
  float *dha = dh + (size_t)R * N;                        /* [R][N] */
  float *dhm = dha + (size_t)R * N;                       /* [R][N] */
  cg_ctx a = {.x = x, .dy = dy, .s = c->s, .dx = dx, .ds = datt, .HW = HW};
  dinet__parallel_for(C * N, cg_bwd_planes, &a);         /* datt <- ds */
  for (int i = 0; i < C * N; i++)
    datt[i] *= c->s[i] * (1.0f - c->s[i]);                /* d att */
  for (int i = 0; i < R * N; i++)
    hsum[i] = c->ha[i] + c->hm[i];
  if (dw2) /* dw2 [C][R] += datt [C][N] x hsum^T [N][R] */
    dinet__sgemm(0, 1, C, R, N, 1.0f, datt, N,
                hsum, N, 1.0f, dw2, R);
  if (db2)
    for (int ch = 0; ch < C; ch++)
      for (int n = 0; n < N; n++)
        db2[ch] += 2.0f * datt[ch * N + n];
  /* dh [R][N] = w2^T [R][C] x datt [C][N] */
  dinet__sgemm(1, 0, R, N, C, 1.0f, w2, R, datt,
              N, 0.0f, dh, N);
  for (int i = 0; i < R * N; i++) {
    dha[i] = c->ha[i] > 0.0f ? dh[i] : 0.0f;
    dhm[i] = c->hm[i] > 0.0f ? dh[i] : 0.0f;
  }
  if (dw1) { /* dw1 [R][C] += dha x avg^T + dhm x mx^T */
    dinet__sgemm(0, 1, R, C, N, 1.0f, dha, N,
                c->avg, N, 1.0f, dw1, C);
    dinet__sgemm(0, 1, R, C, N, 1.0f, dhm, N,
                c->mx, N, 1.0f, dw1, C);
  }
  if (db1)
    for (int r = 0; r < R; r++)
      for (int n = 0; n < N; n++)
        db1[r] += dha[r * N + n] + dhm[r * N + n];
  /* davg [C][N] = w1^T [C][R] x dha [R][N];  dmx likewise */
  dinet__sgemm(1, 0, C, N, R, 1.0f, w1, C, dha,
              N, 0.0f, davg, N);
  dinet__sgemm(1, 0, C, N, R, 1.0f, w1, C, dhm,
              N, 0.0f, dmx, N);
  a.davg = davg;
  a.dmx = dmx;
  a.camax = c->amax;
  dinet__parallel_for(C * N, cg_bwd_pool_planes, &a);
}

/* ------------------------------------------------------------------ */
/* CBAM spatial pooling and plane products                             */

typedef struct sp_ctx {
  const float *x, *s, *dy, *dp;
  float *p, *y, *dx, *ds;
  int32_t *amax;
  const int32_t *camax;
  int C, NHW;
} sp_ctx;

/* Column blocks keep the channel loop cache-friendly: channels outer,
 * a block of COLBLK columns inner, with the running max/sum in registers. */
#define COLBLK 256

static void chanpool_blocks(void *pp, int b, int e) {
  const sp_ctx *a = pp;
  const size_t stride = (size_t)a->NHW;
  for (int blk = b; blk < e; blk++) {
    const int i0 = blk * COLBLK, i1 = i0 + COLBLK < a->NHW ? i0 + COLBLK : a->NHW;
    const int w = i1 - i0;
    float mx[COLBLK], sum[COLBLK];
    int32_t am[COLBLK];
    memcpy(mx, a->x + i0, sizeof(float) * w);                   /* channel 0 */
    memcpy(sum, a->x + i0, sizeof(float) * w);
    for (int i = 0; i < w; i++)
      am[i] = 0;
    for (int c = 1; c < a->C; c++) {
      const float *xc = a->x + c * stride + i0;                 /* [w] */
      for (int i = 0; i < w; i++) {
        float v = xc[i];
        sum[i] += v;
        if (v > mx[i]) {
          mx[i] = v;
          am[i] = c;
        }
      }
    }
    for (int i = 0; i < w; i++) {
      a->p[i0 + i] = mx[i];                                     /* p[0] = max */
      a->p[stride + i0 + i] = sum[i] / a->C;                    /* p[1] = mean */
      a->amax[i0 + i] = am[i];
    }
  }
}

void dinet__chanpool_forward(const float *x, int C, int NHW, float *p,
                             int32_t *amax) {
  sp_ctx a = {.x = x, .p = p, .amax = amax, .C = C, .NHW = NHW};
  dinet__parallel_for((NHW + COLBLK - 1) / COLBLK, chanpool_blocks, &a);
}

static void chanpool_bwd_chans(void *pp, int b, int e) {
  const sp_ctx *a = pp;
  const float *dmax = a->dp, *dmean = a->dp + a->NHW;
  for (int c = b; c < e; c++) {
    float *dxc = a->dx + (size_t)c * a->NHW;
    for (int i = 0; i < a->NHW; i++) {
      float v = dmean[i] / a->C;
      if (a->camax[i] == c)
        v += dmax[i];
      dxc[i] += v;
    }
  }
}

void dinet__chanpool_backward(const float *dp, const int32_t *amax, int C,
                              int NHW, float *dx) {
  sp_ctx a = {.dp = dp, .camax = amax, .dx = dx, .C = C, .NHW = NHW};
  dinet__parallel_for(C, chanpool_bwd_chans, &a);
}

static void mulplane_chans(void *pp, int b, int e) {
  const sp_ctx *a = pp;
  for (int c = b; c < e; c++) {
    const float *xc = a->x + (size_t)c * a->NHW;
    float *yc = a->y + (size_t)c * a->NHW;
    for (int i = 0; i < a->NHW; i++)
      yc[i] = xc[i] * a->s[i];
  }
}

void dinet__mul_plane(const float *x, const float *s, int C, int NHW, float *y) {
  sp_ctx a = {.x = x, .s = s, .y = y, .C = C, .NHW = NHW};
  dinet__parallel_for(C, mulplane_chans, &a);
}

/* Column blocks: ds[i] = sum_c dy*x, dx = dy*s. */
static void mulplane_bwd_blocks(void *pp, int b, int e) {
  const sp_ctx *a = pp;
  const size_t stride = (size_t)a->NHW;
  for (int blk = b; blk < e; blk++) {
    int i0 = blk * COLBLK, i1 = i0 + COLBLK;
    if (i1 > a->NHW)
      i1 = a->NHW;
    float acc[COLBLK];
    for (int i = i0; i < i1; i++)
      acc[i - i0] = 0.0f;
    for (int c = 0; c < a->C; c++) {
      const float *xc = a->x + c * stride, *dyc = a->dy + c * stride;
      float *dxc = a->dx + c * stride;
      for (int i = i0; i < i1; i++) {
        acc[i - i0] += dyc[i] * xc[i];
        dxc[i] = dyc[i] * a->s[i];
      }
    }
    for (int i = i0; i < i1; i++)
      a->ds[i] = acc[i - i0];
  }
}

void dinet__mul_plane_backward(const float *x, const float *s, const float *dy,
                               int C, int NHW, float *dx, float *ds) {
  sp_ctx a = {.x = x, .s = s, .dy = dy, .dx = dx, .ds = ds, .C = C, .NHW = NHW};
  dinet__parallel_for((NHW + COLBLK - 1) / COLBLK, mulplane_bwd_blocks, &a);
}
