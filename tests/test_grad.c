/* test_grad.c — finite-difference checks of every backward in libdinet.
 *
 * Part 1, primitives (engine/src/ops.h): for L = sum r*y with a seeded
 * random projection r, the analytic backward of each primitive is compared
 * with central differences (L accumulated in double from the float forward;
 * the step is the exact float difference (x+h) - (x-h), h = 1e-2 for
 * (bi)linear ops, 1e-3 otherwise). Every coordinate of every input and
 * parameter tensor is checked. Inputs of max/ReLU ops are built with
 * well-separated values so that no step crosses a kink.
 * Error: max |fd - analytic| / max(|fd|, |analytic|) over the tensor <= 1e-2.
 *
 * Part 2, the whole network, CBAM-ResNet50 and ResNet50 with every BN
 * parameter, running statistic, MLP/fc bias and the SpatialGate BN weight
 * moved off its initial value:
 *  - train mode, focal loss (gamma 2, per-class alpha), full backward: the
 *    gradient of 4 sampled coordinates (3 of the largest, 1 random) of each
 *    kind of parameter against central differences of the loss;
 *  - the input gradient in eval mode against a logit (2 x 3 x 32 x 32, the
 *    minimum size) and in train mode against the loss;
 *  - stop_stage 1..4 give the stage gradients of a full backward, in both
 *    modes, and no parameter or input gradient; stage 4's is fc.weight/HW;
 *  - dinet_gradcam against Grad-CAM made by hand (stages 4 and 2).
 * Float32 differences of a 50-layer ReLU network need care; see
 * check_param_grads, perturb_net, fd_coord_err and fd_err_sampled for the
 * measured reasons behind: train input 64 x 64, residual BN gains < 1, a
 * step sized to the gradient, one-sided slopes at kinks, and a tolerance of
 * 5e-2 relative (+2e-5 absolute) with one of 4 coordinates allowed 0.25
 * (SpatialGate BN scalars: relative to their gate's conv weight gradient).
 * A sign error, a missing factor of 2 or a lost path still fails.
 *
 * DINET_TEST_SEED=n changes all the random data (robustness sweeps),
 * DINET_TEST_VERBOSE=1 prints each tensor's error and step, and
 * DINET_TEST_DEBUG=1 (2) each coordinate's error (and slopes at 14 steps). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "../engine/src/ops.h"
#include "testutil.h"

static dinet_rng rng;

/* ---- helpers ------------------------------------------------------------ */

static void *xalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static float *fbuf(size_t n) { return xalloc(n * sizeof(float)); }

static void fill(float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(lo + (hi - lo) * dinet_rng_uniform(&rng));
}

static float *rand_buf(size_t n, double lo, double hi) {
  float *x = fbuf(n);
  fill(x, n, lo, hi);
  return x;
}

/* n distinct values spaced `gap` apart, in random order, centred on 0. */
static float *distinct_buf(size_t n, double gap) {
  float *x = fbuf(n);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(((double)i - 0.5 * (double)n) * gap);
  for (size_t i = n; i > 1; i--) {
    size_t j = dinet_rng_below(&rng, (uint32_t)i);
    float t = x[i - 1];
    x[i - 1] = x[j];
    x[j] = t;
  }
  return x;
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

typedef double (*eval_fn)(void *ctx);

/* Central difference of f with respect to v[i]; restores v[i]. */
static double central(float *v, size_t i, double h, eval_fn f, void *ctx) {
  const float v0 = v[i];
  const float vp = (float)(v0 + h), vm = (float)(v0 - h);
  v[i] = vp;
  const double lp = f(ctx);
  v[i] = vm;
  const double lm = f(ctx);
  v[i] = v0;
  return (lp - lm) / ((double)vp - (double)vm);
}

/* Every coordinate of v: max |fd - ana| / max(|fd|, |ana|). */
static double fd_err_all(float *v, size_t n, const float *ana, double h, eval_fn f,
                         void *ctx) {
  double md = 0, ms = 0;
  for (size_t i = 0; i < n; i++) {
    const double num = central(v, i, h, f, ctx);
    const double d = fabs(num - ana[i]);
    if (!(d <= md))
      md = isnan(d) ? INFINITY : d;
    ms = fmax(ms, fmax(fabs(num), fabs((double)ana[i])));
  }
  return md == 0 ? 0 : md / (ms > 0 ? ms : 1e-30);
}

#define PRIM_TOL 1e-2
#define CHECK_FD(err, fmt, ...)                                               \
  do {                                                                        \
    double e_ = (err);                                                        \
    CHECK(e_ <= PRIM_TOL, "fd err %.3g: " fmt, e_, __VA_ARGS__);              \
  } while (0)

/* ---- convolution ------------------------------------------------------------ */

typedef struct conv_ctx {
  float *x, *w, *r, *y, *ws;
  int Cin, N, H, W, Cout, k, s, p;
  size_t ny;
} conv_ctx;

static double conv_eval(void *p) {
  conv_ctx *c = p;
  dinet__conv_forward(c->x, c->Cin, c->N, c->H, c->W, c->w, NULL, c->Cout, c->k, c->s,
                      c->p, c->y, c->ws);
  return dot(c->r, c->y, c->ny);
}

static void test_conv_grad(void) {
  /* Cin, N, H, W, Cout, k, s, p: 1x1 s1 p0 (direct), 1x1 s2, 3x3 s1/s2 p1,
   * 7x7 s2 p3 (stem), 7x7 s1 p3 2->1 (spatial gate) */
  static const int cases[][8] = {
      {5, 2, 5, 7, 4, 1, 1, 0}, {4, 2, 7, 6, 5, 1, 2, 0}, {3, 2, 6, 7, 4, 3, 1, 1},
      {3, 2, 7, 8, 4, 3, 2, 1}, {3, 2, 9, 8, 3, 7, 2, 3}, {2, 2, 5, 6, 1, 7, 1, 3},
  };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    conv_ctx c = {0};
    c.Cin = cases[t][0], c.N = cases[t][1], c.H = cases[t][2], c.W = cases[t][3];
    c.Cout = cases[t][4], c.k = cases[t][5], c.s = cases[t][6], c.p = cases[t][7];
    const int Ho = dinet__conv_out(c.H, c.k, c.s, c.p), Wo = dinet__conv_out(c.W, c.k, c.s, c.p);
    const size_t nx = (size_t)c.Cin * c.N * c.H * c.W, nw = (size_t)c.Cout * c.Cin * c.k * c.k;
    c.ny = (size_t)c.Cout * c.N * Ho * Wo;
    c.x = rand_buf(nx, -1, 1);
    c.w = rand_buf(nw, -1, 1);
    c.r = rand_buf(c.ny, -1, 1);
    c.y = fbuf(c.ny);
    c.ws = fbuf((size_t)c.Cin * c.k * c.k * c.N * Ho * Wo);
    float *dx = fbuf(nx), *dw = fbuf(nw);
    for (int acc = 0; acc < 2; acc++) {
      memset(dw, 0, nw * sizeof(float));
      for (size_t i = 0; i < nx; i++)
        dx[i] = acc ? 0.0f : NAN; /* overwrite mode must not read dx */
      dinet__conv_backward(c.x, c.Cin, c.N, c.H, c.W, c.w, c.Cout, c.k, c.s, c.p, c.r, dw,
                           dx, acc, c.ws);
      CHECK_FD(fd_err_all(c.x, nx, dx, 1e-2, conv_eval, &c), "conv dx k%d s%d p%d acc%d",
               c.k, c.s, c.p, acc);
      CHECK_FD(fd_err_all(c.w, nw, dw, 1e-2, conv_eval, &c), "conv dw k%d s%d p%d acc%d",
               c.k, c.s, c.p, acc);
    }
    free(c.x), free(c.w), free(c.r), free(c.y), free(c.ws), free(dx), free(dw);
  }
}

/* ---- batch norm ----------------------------------------------------------------- */

typedef struct bn_ctx {
  float *x, *g, *b, *r, *y, *rm, *rv, *mean, *invstd;
  int C, M;
} bn_ctx;

static double bn_eval(void *p) {
  bn_ctx *c = p;
  dinet__bn_train_forward(c->x, c->C, c->M, c->g, c->b, 1e-5f, 0.1f, c->rm, c->rv, c->mean,
                          c->invstd, c->y);
  return dot(c->r, c->y, (size_t)c->C * c->M);
}

static void test_bn_grad(void) {
  static const int shapes[][2] = {{3, 10}, {2, 5}, {4, 24}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    bn_ctx c = {0};
    c.C = shapes[t][0], c.M = shapes[t][1];
    const size_t n = (size_t)c.C * c.M;
    c.x = rand_buf(n, -1, 2);
    c.g = rand_buf(c.C, 0.5, 1.5);
    c.b = rand_buf(c.C, -0.5, 0.5);
    c.r = rand_buf(n, -1, 1);
    c.y = fbuf(n), c.rm = fbuf(c.C), c.rv = fbuf(c.C), c.mean = fbuf(c.C), c.invstd = fbuf(c.C);
    float *dx = fbuf(n), *dg = fbuf(c.C), *db = fbuf(c.C);
    bn_eval(&c);
    dinet__bn_train_backward(c.x, c.r, c.C, c.M, c.g, c.mean, c.invstd, dx, dg, db);
    CHECK_FD(fd_err_all(c.x, n, dx, 1e-3, bn_eval, &c), "bn dx C%d M%d", c.C, c.M);
    CHECK_FD(fd_err_all(c.g, c.C, dg, 1e-3, bn_eval, &c), "bn dgamma C%d M%d", c.C, c.M);
    CHECK_FD(fd_err_all(c.b, c.C, db, 1e-3, bn_eval, &c), "bn dbeta C%d M%d", c.C, c.M);
    free(c.x), free(c.g), free(c.b), free(c.r), free(c.y), free(c.rm), free(c.rv);
    free(c.mean), free(c.invstd), free(dx), free(dg), free(db);
  }
}

/* ---- relu, pooling, gap, linear -------------------------------------------------- */

typedef struct simple_ctx {
  float *x, *r, *y, *w, *b;
  int32_t *idx;
  int C, N, H, W, k, s, p, Ho, Wo, K;
  size_t nx, ny;
} simple_ctx;

static double relu_eval(void *p) {
  simple_ctx *c = p;
  memcpy(c->y, c->x, c->nx * sizeof(float));
  dinet__relu(c->y, c->nx);
  return dot(c->r, c->y, c->nx);
}

static void test_relu_grad(void) {
  simple_ctx c = {0};
  c.nx = 301;
  c.x = fbuf(c.nx);
  for (size_t i = 0; i < c.nx; i++) /* |x| >= 0.05: no step crosses 0 */
    c.x[i] = (float)((dinet_rng_uniform(&rng) < 0.5 ? -1 : 1) * (0.05 + dinet_rng_uniform(&rng)));
  c.r = rand_buf(c.nx, -1, 1);
  c.y = fbuf(c.nx);
  float *dy = fbuf(c.nx);
  relu_eval(&c);
  memcpy(dy, c.r, c.nx * sizeof(float));
  dinet__relu_backward(c.y, dy, c.nx);
  CHECK_FD(fd_err_all(c.x, c.nx, dy, 1e-2, relu_eval, &c), "relu_backward n%zu", c.nx);
  free(c.x), free(c.r), free(c.y), free(dy);
}

static double maxpool_eval(void *p) {
  simple_ctx *c = p;
  dinet__maxpool_forward(c->x, c->C, c->N, c->H, c->W, c->k, c->s, c->p, c->Ho, c->Wo, c->y,
                         c->idx);
  return dot(c->r, c->y, c->ny);
}

static void test_maxpool_grad(void) {
  static const int cases[][7] = {{2, 2, 7, 9, 3, 2, 1}, {3, 1, 8, 8, 3, 2, 1}, {2, 2, 6, 5, 2, 2, 0}};
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    simple_ctx c = {0};
    c.C = cases[t][0], c.N = cases[t][1], c.H = cases[t][2], c.W = cases[t][3];
    c.k = cases[t][4], c.s = cases[t][5], c.p = cases[t][6];
    c.Ho = dinet__conv_out(c.H, c.k, c.s, c.p), c.Wo = dinet__conv_out(c.W, c.k, c.s, c.p);
    c.nx = (size_t)c.C * c.N * c.H * c.W, c.ny = (size_t)c.C * c.N * c.Ho * c.Wo;
    c.x = distinct_buf(c.nx, 0.01); /* steps of 1e-3 never reorder them */
    c.r = rand_buf(c.ny, -1, 1);
    c.y = fbuf(c.ny);
    c.idx = xalloc(c.ny * sizeof(int32_t));
    float *dx = fbuf(c.nx);
    maxpool_eval(&c);
    dinet__maxpool_backward(c.r, c.idx, c.C, c.N, c.H, c.W, c.Ho, c.Wo, dx);
    CHECK_FD(fd_err_all(c.x, c.nx, dx, 1e-3, maxpool_eval, &c), "maxpool_backward %dx%d k%d s%d p%d",
             c.H, c.W, c.k, c.s, c.p);
    free(c.x), free(c.r), free(c.y), free(c.idx), free(dx);
  }
}

static double gap_eval(void *p) {
  simple_ctx *c = p;
  dinet__gap_forward(c->x, c->C, c->N, c->H, c->y);
  return dot(c->r, c->y, c->ny);
}

static void test_gap_grad(void) {
  simple_ctx c = {0};
  c.C = 5, c.N = 3, c.H = 7; /* H holds HW */
  c.nx = (size_t)c.C * c.N * c.H, c.ny = (size_t)c.C * c.N;
  c.x = rand_buf(c.nx, -1, 1), c.r = rand_buf(c.ny, -1, 1), c.y = fbuf(c.ny);
  float *dx = fbuf(c.nx);
  dinet__gap_backward(c.r, c.C, c.N, c.H, dx);
  CHECK_FD(fd_err_all(c.x, c.nx, dx, 1e-2, gap_eval, &c), "gap_backward C%d N%d HW%d", c.C, c.N, c.H);
  free(c.x), free(c.r), free(c.y), free(dx);
}

static double linear_eval(void *p) {
  simple_ctx *c = p;
  dinet__linear_forward(c->x, c->C, c->N, c->w, c->b, c->K, c->y);
  return dot(c->r, c->y, c->ny);
}

static void test_linear_grad(void) {
  static const int shapes[][3] = {{9, 3, 4}, {17, 2, 3}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    simple_ctx c = {0};
    c.C = shapes[t][0], c.N = shapes[t][1], c.K = shapes[t][2];
    c.nx = (size_t)c.C * c.N, c.ny = (size_t)c.N * c.K;
    c.x = rand_buf(c.nx, -1, 1), c.w = rand_buf((size_t)c.K * c.C, -1, 1);
    c.b = rand_buf(c.K, -1, 1), c.r = rand_buf(c.ny, -1, 1), c.y = fbuf(c.ny);
    float *dx = fbuf(c.nx), *dw = fbuf((size_t)c.K * c.C), *db = fbuf(c.K);
    dinet__linear_backward(c.x, c.C, c.N, c.w, c.K, c.r, dw, db, dx);
    CHECK_FD(fd_err_all(c.x, c.nx, dx, 1e-2, linear_eval, &c), "linear dx C%d N%d K%d", c.C, c.N, c.K);
    CHECK_FD(fd_err_all(c.w, (size_t)c.K * c.C, dw, 1e-2, linear_eval, &c), "linear dw C%d N%d K%d",
             c.C, c.N, c.K);
    CHECK_FD(fd_err_all(c.b, c.K, db, 1e-2, linear_eval, &c), "linear db C%d N%d K%d", c.C, c.N, c.K);
    free(c.x), free(c.w), free(c.b), free(c.r), free(c.y), free(dx), free(dw), free(db);
  }
}

/* ---- CBAM channel gate ---------------------------------------------------------- */

typedef struct cg_ctx {
  float *x, *w1, *b1, *w2, *b2, *r, *y;
  dinet__cgate_cache cc;
  int C, N, HW, R;
} cg_ctx;

static double cgate_eval(void *p) {
  cg_ctx *c = p;
  dinet__cgate_forward(c->x, c->C, c->N, c->HW, c->R, c->w1, c->b1, c->w2, c->b2, &c->cc, c->y);
  return dot(c->r, c->y, (size_t)c->C * c->N * c->HW);
}

/* Smallest |pre-activation| of the hidden layer, and whether both signs occur. */
static double cgate_margin(const cg_ctx *c, int *both) {
  double m = INFINITY;
  int pos = 0, neg = 0;
  for (int r = 0; r < c->R; r++)
    for (int n = 0; n < c->N; n++)
      for (int which = 0; which < 2; which++) {
        double h = c->b1[r];
        for (int ch = 0; ch < c->C; ch++)
          h += (double)c->w1[(size_t)r * c->C + ch] *
               (which ? c->cc.mx : c->cc.avg)[(size_t)ch * c->N + n];
        m = fmin(m, fabs(h));
        pos |= h > 0;
        neg |= h < 0;
      }
  *both = pos && neg;
  return m;
}

static void test_cgate_grad(void) {
  /* C, N, HW, R (R = C/4 is the largest the documented 4*C*N scratch allows) */
  static const int shapes[][4] = {{24, 2, 5, 3}, {16, 3, 1, 4}, {19, 2, 9, 2}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    cg_ctx c = {0};
    c.C = shapes[t][0], c.N = shapes[t][1], c.HW = shapes[t][2], c.R = shapes[t][3];
    const size_t nx = (size_t)c.C * c.N * c.HW, CN = (size_t)c.C * c.N, RN = (size_t)c.R * c.N;
    c.cc.avg = fbuf(CN), c.cc.mx = fbuf(CN), c.cc.s = fbuf(CN), c.cc.ha = fbuf(RN);
    c.cc.hm = fbuf(RN), c.cc.amax = xalloc(CN * sizeof(int32_t));
    c.y = fbuf(nx);
    c.r = rand_buf(nx, -1, 1);
    /* distinct inputs (the max is stable under steps of 1e-3) and an MLP
     * whose hidden pre-activations stay >= 0.05 away from the ReLU kink,
     * with some units on each side; redraw until so (deterministic). */
    int tries = 0, both = 0;
    double margin = 0;
    do {
      free(c.x), free(c.w1), free(c.b1), free(c.w2), free(c.b2);
      c.x = distinct_buf(nx, 2.0 / (double)nx + 0.004);
      c.w1 = rand_buf((size_t)c.R * c.C, -1.5, 1.5);
      c.b1 = rand_buf(c.R, -0.3, 0.3);
      c.w2 = rand_buf((size_t)c.C * c.R, -1, 1);
      c.b2 = rand_buf(c.C, -0.5, 0.5);
      cgate_eval(&c);
      margin = cgate_margin(&c, &both);
    } while ((margin < 0.05 || !both) && ++tries < 1000);
    CHECK(margin >= 0.05 && both, "cgate test data: margin %.3g", margin);
    float *dx = fbuf(nx), *dw1 = fbuf((size_t)c.R * c.C), *db1 = fbuf(c.R);
    float *dw2 = fbuf((size_t)c.C * c.R), *db2 = fbuf(c.C);
    float *tmp = fbuf(4 * CN); /* exactly the documented scratch */
    cgate_eval(&c);
    dinet__cgate_backward(c.x, c.r, c.C, c.N, c.HW, c.R, c.w1, c.w2, &c.cc, dx, dw1, db1, dw2,
                          db2, tmp);
    /* steps: 1e-3 for x (keeps the argmax), 1e-2 for the MLP (moves a hidden
     * pre-activation by <= 0.015 < the 0.05 margin; 1e-3 left the noise at
     * ~1% of db1 in one of ~100 seeds) */
    CHECK_FD(fd_err_all(c.x, nx, dx, 1e-3, cgate_eval, &c), "cgate dx C%d N%d HW%d R%d", c.C,
             c.N, c.HW, c.R);
    CHECK_FD(fd_err_all(c.w1, (size_t)c.R * c.C, dw1, 1e-2, cgate_eval, &c), "cgate dw1 C%d", c.C);
    CHECK_FD(fd_err_all(c.b1, c.R, db1, 1e-2, cgate_eval, &c), "cgate db1 C%d", c.C);
    CHECK_FD(fd_err_all(c.w2, (size_t)c.C * c.R, dw2, 1e-2, cgate_eval, &c), "cgate dw2 C%d", c.C);
    CHECK_FD(fd_err_all(c.b2, c.C, db2, 1e-2, cgate_eval, &c), "cgate db2 C%d", c.C);
    /* parameter gradients accumulate, and NULL ones are skipped */
    float *dw1b = fbuf((size_t)c.R * c.C);
    memcpy(dw1b, dw1, (size_t)c.R * c.C * sizeof(float));
    cgate_eval(&c);
    dinet__cgate_backward(c.x, c.r, c.C, c.N, c.HW, c.R, c.w1, c.w2, &c.cc, dx, dw1, NULL, NULL,
                          NULL, tmp);
    double worst = 0;
    for (size_t i = 0; i < (size_t)c.R * c.C; i++)
      worst = fmax(worst, fabs(dw1[i] - 2.0 * dw1b[i]) / (fabs(dw1b[i]) + 1e-6));
    CHECK(worst < 1e-4, "cgate dw1 does not accumulate: %.3g", worst);
    free(c.x), free(c.w1), free(c.b1), free(c.w2), free(c.b2), free(c.r), free(c.y);
    free(c.cc.avg), free(c.cc.mx), free(c.cc.s), free(c.cc.ha), free(c.cc.hm), free(c.cc.amax);
    free(dx), free(dw1), free(db1), free(dw2), free(db2), free(tmp), free(dw1b);
  }
}

/* ---- CBAM spatial pool and plane product ------------------------------------------ */

typedef struct sp_ctx {
  float *x, *s, *r, *y;
  int32_t *amax;
  int C, NHW;
} sp_ctx;

static double chanpool_eval(void *p) {
  sp_ctx *c = p;
  dinet__chanpool_forward(c->x, c->C, c->NHW, c->y, c->amax);
  return dot(c->r, c->y, 2 * (size_t)c->NHW);
}

static double mulplane_eval(void *p) {
  sp_ctx *c = p;
  dinet__mul_plane(c->x, c->s, c->C, c->NHW, c->y);
  return dot(c->r, c->y, (size_t)c->C * c->NHW);
}

static void test_spatial_grad(void) {
  static const int shapes[][2] = {{5, 37}, {3, 300}, {1, 4}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    sp_ctx c = {0};
    c.C = shapes[t][0], c.NHW = shapes[t][1];
    const size_t nx = (size_t)c.C * c.NHW;
    c.x = distinct_buf(nx, 0.01);
    c.r = rand_buf(2 * (size_t)c.NHW, -1, 1);
    c.y = fbuf(nx > 2 * (size_t)c.NHW ? nx : 2 * (size_t)c.NHW);
    c.amax = xalloc((size_t)c.NHW * sizeof(int32_t));
    float *dx = fbuf(nx);
    chanpool_eval(&c);
    dinet__chanpool_backward(c.r, c.amax, c.C, c.NHW, dx); /* dx += (from 0) */
    CHECK_FD(fd_err_all(c.x, nx, dx, 1e-3, chanpool_eval, &c), "chanpool_backward C%d NHW%d",
             c.C, c.NHW);

    free(c.r);
    c.r = rand_buf(nx, -1, 1);
    c.s = rand_buf(c.NHW, -1, 1);
    float *ds = fbuf(c.NHW);
    dinet__mul_plane_backward(c.x, c.s, c.r, c.C, c.NHW, dx, ds);
    CHECK_FD(fd_err_all(c.x, nx, dx, 1e-2, mulplane_eval, &c), "mul_plane_backward dx C%d NHW%d",
             c.C, c.NHW);
    CHECK_FD(fd_err_all(c.s, c.NHW, ds, 1e-2, mulplane_eval, &c), "mul_plane_backward ds C%d NHW%d",
             c.C, c.NHW);
    free(c.x), free(c.s), free(c.r), free(c.y), free(c.amax), free(dx), free(ds);
  }
}

/* ======================================================================== */
/* The whole network                                                         */

#define NET_N 2      /* batch of every network check */
#define NET_K 3
#define EVAL_HW 32   /* eval-mode checks: the minimum input size */
#define TRAIN_HW 64  /* train-mode finite differences, see check_param_grads */
#define NET_DL 3e-5  /* step size: the loss should move by about this much */
#define NET_DZ 1e-3  /* likewise for a logit */
#define NET_TOL 5e-2 /* relative to the largest sampled analytic value, */
#define NET_ABS 2e-5 /* plus this: what float32 differences resolve (measured) */
#define NET_WORST 0.25 /* the one coordinate allowed to miss NET_TOL, by at most this */
#define NET_COORDS 4 /* sampled coordinates per tensor */

static dinet_param *find_param(dinet_net *net, const char *name) {
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    if (strcmp(p->name, name) == 0)
      return p;
  }
  return NULL;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Moves every BN affine parameter, the MLP and fc biases off their initial
 * values, so that every path carries gradient (the SpatialGate BN weight is
 * initialised to 0, which would cut the spatial branch off).
 *
 * The SpatialGate BN weight gets ~1.5, not 0.5: at 0.5 the spatial
 * attention hardly varies, the path back through its channel pool carries
 * a few % of the gradient, and deleting that path from net.c (a mutation
 * run) failed only 2 checks at one seed, and not the input gradient; at
 * 1.5 it fails 3 to 13 checks at every seed tried.
 *
 * The last BN of each residual branch (bn3) gets a gain in [0.15, 0.45]
 * rather than ~1: at gain 1 a randomly initialised train-mode ResNet-50's
 * loss is so rough along the stem and layer1 weights (gradients ~10-200,
 * growing ~4x per stage towards the input) that float32 rounding noise in
 * the loss (~1e-5 there) and curvature leave no step at which a central
 * difference agrees to 5%. Small residual gains (as zero_init_residual
 * does, but not zero) keep every path alive and the loss smooth. */
static void perturb_net(dinet_net *net) {
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    const int is_mlp = strstr(p->name, ".mlp.") != NULL, is_fc = strncmp(p->name, "fc.", 3) == 0;
    if (!p->grad)
      continue; /* running statistics: see calibrate() */
    for (size_t j = 0; j < p->n; j++) {
      const double u = dinet_rng_uniform(&rng), g = dinet_rng_normal(&rng);
      if (strstr(p->name, "SpatialGate.spatial.bn.weight"))
        p->data[j] = (float)(1.5 * (1 + 0.1 * g)); /* see above */
      else if (ends_with(p->name, ".bn3.weight"))
        p->data[j] = (float)(0.15 + 0.3 * u); /* residual branch gain, see above */
      else if (p->ndim == 1 && ends_with(p->name, ".weight") && !is_mlp)
        p->data[j] = (float)(0.7 + 0.6 * u); /* BN gamma */
      else if (p->ndim == 1 && ends_with(p->name, ".bias") && !is_mlp && !is_fc)
        p->data[j] = (float)(0.1 * g); /* BN beta */
      else if (ends_with(p->name, ".bias"))
        p->data[j] = (float)(0.05 * g); /* MLP and fc biases */
    }
  }
  dinet_net_params_changed(net);
}

/* Running statistics that fit the data, as a trained network has them:
 * zero them, run one train forward over a random 8 x 3 x 32 x 32 batch and
 * divide by the BN momentum (0.1, SpatialGate 0.01) to get that batch's
 * mean and unbiased variance; then move them a little. Without this, eval
 * mode would scale activations up block after block. */
static void calibrate(dinet_net *net) {
  const int n = 8, hw = 32;
  dinet_error err = {0};
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    if (ends_with(p->name, ".running_mean") || ends_with(p->name, ".running_var"))
      memset(p->data, 0, p->n * sizeof(float));
  }
  float *x = fbuf((size_t)n * 3 * hw * hw), logits[8 * NET_K];
  for (size_t i = 0; i < (size_t)n * 3 * hw * hw; i++)
    x[i] = (float)dinet_rng_normal(&rng);
  int rc = dinet_net_forward_keep(net, DINET_MODE_TRAIN, x, n, hw, hw, logits, &err);
  CHECK(rc == 0, "calibration forward: %s", err.message);
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    const double m = strstr(p->name, "SpatialGate") ? 0.01 : 0.1;
    const int mean = ends_with(p->name, ".running_mean"), var = ends_with(p->name, ".running_var");
    for (size_t j = 0; mean && j < p->n; j++)
      p->data[j] = (float)(p->data[j] / m + 0.05 * dinet_rng_normal(&rng));
    for (size_t j = 0; var && j < p->n; j++)
      p->data[j] = (float)(p->data[j] / m * (0.8 + 0.4 * dinet_rng_uniform(&rng)) + 1e-3);
  }
  dinet_net_params_changed(net);
  free(x);
}

typedef struct net_ctx {
  dinet_net *net;
  float *x; /* NET_N x 3 x hw x hw */
  int hw;
  float logits[NET_N * NET_K];
  int labels[NET_N];
  float alpha[NET_K];
  int failed;
} net_ctx;

/* Train-mode focal loss (gamma 2, per-class alpha). */
static double net_loss(void *p) {
  net_ctx *c = p;
  dinet_error err = {0};
  float loss = NAN;
  if (dinet_net_forward_keep(c->net, DINET_MODE_TRAIN, c->x, NET_N, c->hw, c->hw, c->logits,
                             &err) ||
      dinet_focal_loss(c->logits, c->labels, NET_N, NET_K, 2.0f, c->alpha, &loss, NULL, &err)) {
    c->failed = 1;
    fprintf(stderr, "net_loss: %s\n", err.message);
  }
  return loss;
}

/* Eval-mode logit 1 of image 0, through the inference path. */
static double net_logit(void *p) {
  net_ctx *c = p;
  dinet_error err = {0};
  if (dinet_net_forward(c->net, c->x, NET_N, c->hw, c->hw, c->logits, &err)) {
    c->failed = 1;
    fprintf(stderr, "net_logit: %s\n", err.message);
  }
  return c->logits[0 * NET_K + 1];
}

/* Picks k coordinates of a tensor of n: the k-1 largest |ana| among up to
 * 256 random candidates, and one more candidate at random (its gradient may
 * be small: it is held to the same absolute error). */
static int pick_coords(const float *ana, size_t n, int k, size_t *out) {
  size_t cand[256];
  int nc = 0;
  if (n <= 256) {
    for (size_t i = 0; i < n; i++)
      cand[nc++] = i;
  } else {
    while (nc < 256) {
      size_t c = (size_t)(dinet_rng_uniform(&rng) * (double)n);
      int dup = 0;
      for (int j = 0; j < nc; j++)
        dup |= cand[j] == c;
      if (!dup)
        cand[nc++] = c;
    }
  }
  if (k > nc)
    k = nc;
  int top = k > 1 ? k - 1 : k, m = 0;
  for (; m < top; m++) { /* selection of the largest */
    int best = m;
    for (int j = m + 1; j < nc; j++)
      if (fabs(ana[cand[j]]) > fabs(ana[cand[best]]))
        best = j;
    size_t t = cand[m];
    cand[m] = cand[best];
    cand[best] = t;
    out[m] = cand[m];
  }
  for (; m < k; m++) { /* random among the rest */
    int j = m + (int)dinet_rng_below(&rng, (uint32_t)(nc - m));
    size_t t = cand[m];
    cand[m] = cand[j];
    cand[j] = t;
    out[m] = cand[m];
  }
  return k;
}

/* Error of one analytic derivative `a` of f along v[i] (f0 = f at v).
 *
 * A float32 ResNet-50 has millions of ReLU and max kinks; now and then one
 * sits within ~1e-4 of the evaluation point along the probed coordinate
 * (measured: left and right slopes 0.00023 and 0.00088 at every step from
 * 1e-2 down to 1e-3, analytic 0.00088). There the central difference is the
 * mean of the two one-sided derivatives at every step and the analytic
 * gradient, a valid one-sided derivative, is one of them. So: the central
 * difference, and, where left and right slopes disagree by more than the
 * tolerance (a kink), either one-sided slope; at steps h, h/2, ..., h/64
 * (a kink a little further away leaves the smaller steps). Returns the
 * smallest |difference - a| seen. Along most coordinates the first step
 * agrees to ~1e-2. The ladder is for the rough ones: a scalar such as a
 * layer1 SpatialGate BN weight moves every later activation, and its
 * difference quotients scatter by +-15% between steps of 1e-2 and 1e-3
 * (measured) around a gradient of ~1e-3. A sign error, a missing factor
 * of 2 or a zero gradient is still matched by none of them. */
static double fd_coord_err(float *v, size_t i, double a, double h, double f0, eval_fn f,
                           void *ctx, double tol) {
  double best = INFINITY;
  for (int t = 0; t < 7 && best > tol && h >= 1e-5; t++, h *= 0.5) {
    const float v0 = v[i], vp = (float)(v0 + h), vm = (float)(v0 - h);
    v[i] = vp;
    const double lp = f(ctx);
    v[i] = vm;
    const double lm = f(ctx);
    v[i] = v0;
    const double c = (lp - lm) / ((double)vp - vm);
    const double r = (lp - f0) / ((double)vp - v0), l = (f0 - lm) / ((double)v0 - vm);
    double e = fabs(c - a);
    if (fabs(r - l) > tol)
      e = fmin(e, fmin(fabs(r - a), fabs(l - a)));
    if (!(e >= best)) /* NaN never improves */
      best = isnan(e) ? best : e;
  }
  return best;
}

/* Sampled coordinates of v: max over them of fd_coord_err / max |ana|.
 *
 * The step: a float32 ResNet-50 is far from linear at a fixed step of 1e-2
 * along its early weights (measured: the stem weights' difference quotient
 * is off by 4x at 1e-2 and right at 1e-4, while the fc ones are right at
 * either), and the loss carries ~1e-7 of float rounding noise. So the step
 * is chosen for the function to move by `target` along the largest sampled
 * gradient: h = target / max|ana|, within [1e-5, 5e-2]. Errors are divided
 * by max|ana| + NET_ABS/NET_TOL, so that a returned error <= NET_TOL means
 * |fd - ana| <= NET_TOL max|ana| + NET_ABS. */
static double fd_err_sampled(float *v, size_t n, const float *ana, int k, double target,
                             eval_fn f, void *ctx, double f0, double min_scale,
                             double *scale_out, double *h_out) {
  size_t idx[16];
  k = pick_coords(ana, n, k, idx);
  double ms = min_scale; /* the error scale: at least this */
  for (int j = 0; j < k; j++)
    ms = fmax(ms, fabs((double)ana[idx[j]]));
  const double h = fmin(5e-2, fmax(1e-5, target / (ms > 0 ? ms : 1e-30)));
  double md = 0, md2 = 0; /* largest and second largest error */
  for (int j = 0; j < k; j++) {
    const double d = fd_coord_err(v, idx[j], ana[idx[j]], h, f0, f, ctx, NET_TOL * ms + NET_ABS);
    if (getenv("DINET_TEST_DEBUG")) {
      printf("    [%zu] ana %.5g err %.3g\n", idx[j], ana[idx[j]], d / ms);
      for (double hh = 5e-2; hh > 5e-6 && getenv("DINET_TEST_DEBUG")[0] == '2'; hh /= 2) {
        const float v0 = v[idx[j]];
        v[idx[j]] = (float)(v0 + hh);
        const double lp = f(ctx);
        const double rr = (lp - f0) / ((double)v[idx[j]] - v0);
        v[idx[j]] = (float)(v0 - hh);
        const double lm = f(ctx);
        const double ll = (f0 - lm) / (v0 - (double)v[idx[j]]);
        v[idx[j]] = v0;
        printf("      h %.2e  L %.5g  C %.5g  R %.5g\n", hh, ll, (ll + rr) / 2, rr);
      }
    }
    if (!(d <= md)) {
      md2 = md;
      md = isnan(d) ? INFINITY : d;
    } else if (d > md2) {
      md2 = d;
    }
  }
  *scale_out = ms;
  *h_out = h;
  /* One coordinate of k >= 4 may miss by up to NET_WORST instead (a kink
   * at an unlucky distance; measured ~1 in 20 runs over 45 tensors). */
  const double den = ms + NET_ABS / NET_TOL;
  if (k >= 4 && md / den <= NET_WORST)
    return md2 / den;
  return md / den;
}

static int verbose(void) {
  const char *v = getenv("DINET_TEST_VERBOSE");
  return v && *v && *v != '0';
}

/* The error scale of a SpatialGate BN scalar: a quarter of the largest
 * gradient of the same gate's conv weight (0 for anything else). Such a
 * scalar's gradient is a sum over every position of the gate's map and
 * often cancels to ~1e-4, while float32 differences along a direction that
 * moves every later activation resolve ~5e-5 (measured: 2 of 16 seeds
 * missed by that much at own-gradient scales of 7e-4 and 1e-4). The conv
 * weight gradients of the same gate were >= 6e-3 in 40 seeds. */
static double gate_scale(dinet_net *net, const char *name) {
  const char *bn = strstr(name, "SpatialGate.spatial.bn.");
  if (!bn)
    return 0;
  char conv[96];
  snprintf(conv, sizeof conv, "%.*sSpatialGate.spatial.conv.weight", (int)(bn - name), name);
  const dinet_param *p = find_param(net, conv);
  double m = 0;
  for (size_t j = 0; p && p->grad && j < p->n; j++)
    m = fmax(m, fabs((double)p->grad[j]));
  return 0.25 * m;
}

/* Parameter gradients of the train-mode loss.
 *
 * Input 2 x 3 x 64 x 64, not the minimum 32 x 32: at 32 x 32 layer4 is 1x1,
 * so its batch norms normalise over N*H*W = 2 values, whose normalised
 * output is +-1 up to eps/var. The loss is then a near-step function of
 * every earlier parameter (analytic gradients ~1e6 that a float32 central
 * difference cannot follow at any step). At 64 x 64 layer4 BN sees 8
 * values and the loss is smooth enough. */
static void check_param_grads(net_ctx *c, const char *const *names, int nnames) {
  dinet_error err = {0};
  /* analytic: one train forward, focal loss gradient, full backward */
  float dlogits[NET_N * NET_K], loss;
  int rc = dinet_net_forward_keep(c->net, DINET_MODE_TRAIN, c->x, NET_N, c->hw, c->hw,
                                  c->logits, &err);
  rc = rc ? rc : dinet_focal_loss(c->logits, c->labels, NET_N, NET_K, 2.0f, c->alpha, &loss,
                                  dlogits, &err);
  dinet_net_zero_grad(c->net);
  rc = rc ? rc : dinet_net_backward(c->net, dlogits, 0, &err);
  CHECK(rc == 0, "train forward/backward: %s", err.message);
  if (rc)
    return;
  /* the loss at the unperturbed point, shared by every difference below */
  const double f0 = net_loss(c);
  CHECK(f0 == (double)loss, "the train forward pass is not deterministic (%.9g vs %.9g)", f0,
        (double)loss);
  /* keep the analytic gradients: the finite differences run more forwards */
  float **grads = xalloc(sizeof(float *) * (size_t)nnames);
  for (int i = 0; i < nnames; i++) {
    dinet_param *p = find_param(c->net, names[i]);
    CHECK(p != NULL && p->grad != NULL, "no parameter %s", names[i]);
    if (!p || !p->grad)
      continue;
    grads[i] = fbuf(p->n);
    memcpy(grads[i], p->grad, p->n * sizeof(float));
  }
  for (int i = 0; i < nnames; i++) {
    dinet_param *p = find_param(c->net, names[i]);
    if (!p || !p->grad)
      continue;
    double scale = 0, h = 0;
    const double e = fd_err_sampled(p->data, p->n, grads[i], NET_COORDS, NET_DL, net_loss, c, f0,
                                    gate_scale(c->net, names[i]), &scale, &h);
    CHECK(e <= NET_TOL && scale > 0, "%s %s: fd err %.3g (scale %.3g, h %.2g)",
          dinet_arch_name(dinet_net_arch(c->net)), names[i], e, scale, h);
    if (verbose())
      printf("  %-48s err %.2e  |g| %.2e  h %.1e\n", names[i], e, scale, h);
    free(grads[i]);
  }
  free(grads);
  CHECK(!c->failed, "a forward pass failed during finite differences");
}

/* Input gradient: eval mode against a logit (2 x 3 x 32 x 32), train mode
 * against the loss (c_train's shape). */
static void check_input_grad(net_ctx *ce, net_ctx *ct) {
  dinet_error err = {0};
  size_t nx = (size_t)NET_N * 3 * ce->hw * ce->hw, per = nx / NET_N;
  float *g = fbuf(nx);
  float dlogits[NET_N * NET_K] = {0};
  dlogits[0 * NET_K + 1] = 1.0f; /* d logit(image 0, class 1) */
  int rc = dinet_net_forward_keep(ce->net, DINET_MODE_EVAL, ce->x, NET_N, ce->hw, ce->hw,
                                  ce->logits, &err);
  rc = rc ? rc : dinet_net_backward(ce->net, dlogits, 0, &err);
  const float *gin = rc ? NULL : dinet_net_input_gradient(ce->net);
  CHECK(gin != NULL, "eval backward / input gradient: %s", err.message);
  if (gin) {
    memcpy(g, gin, nx * sizeof(float));
    /* eval mode has no batch coupling: image 1 gets exactly nothing */
    int zero = 1;
    for (size_t i = per; i < nx; i++)
      zero &= g[i] == 0.0f;
    CHECK(zero, "eval input gradient of image 1 should be 0 for a logit of image 0");
    double scale = 0, h = 0;
    const double f0 = net_logit(ce);
    CHECK(net_logit(ce) == f0, "the inference forward pass is not deterministic");
    double e = fd_err_sampled(ce->x, per, g, 8, NET_DZ, net_logit, ce, f0, 0, &scale, &h);
    CHECK(e <= NET_TOL && scale > 0, "%s eval input gradient: fd err %.3g (scale %.3g, h %.2g)",
          dinet_arch_name(dinet_net_arch(ce->net)), e, scale, h);
    if (verbose())
      printf("  %-48s err %.2e  |g| %.2e  h %.1e\n", "input (eval, logit)", e, scale, h);
  }
  free(g);

  /* train mode: the loss over the batch (BN couples the images) */
  nx = (size_t)NET_N * 3 * ct->hw * ct->hw;
  g = fbuf(nx);
  float dl[NET_N * NET_K], loss;
  rc = dinet_net_forward_keep(ct->net, DINET_MODE_TRAIN, ct->x, NET_N, ct->hw, ct->hw,
                              ct->logits, &err);
  rc = rc ? rc : dinet_focal_loss(ct->logits, ct->labels, NET_N, NET_K, 2.0f, ct->alpha, &loss,
                                  dl, &err);
  rc = rc ? rc : dinet_net_backward(ct->net, dl, 0, &err);
  gin = rc ? NULL : dinet_net_input_gradient(ct->net);
  CHECK(gin != NULL, "train backward / input gradient: %s", err.message);
  if (gin) {
    memcpy(g, gin, nx * sizeof(float));
    double scale = 0, h = 0;
    double e = fd_err_sampled(ct->x, nx, g, 6, NET_DL, net_loss, ct, net_loss(ct), 0, &scale, &h);
    CHECK(e <= NET_TOL && scale > 0, "%s train input gradient: fd err %.3g (scale %.3g, h %.2g)",
          dinet_arch_name(dinet_net_arch(ct->net)), e, scale, h);
    if (verbose())
      printf("  %-48s err %.2e  |g| %.2e  h %.1e\n", "input (train, loss)", e, scale, h);
  }
  free(g);
  CHECK(!ce->failed && !ct->failed, "a forward pass failed during finite differences");
}

static double max_rel(const float *a, const float *b, size_t n) {
  return tu_max_rel_diff(a, b, n, NULL);
}

/* stop_stage: the same stage gradients as a full backward, no parameter
 * gradients, no input gradient. Stage 4's gradient of a logit is fc.weight
 * row / HW exactly (GAP then linear). */
static void check_stop_stage(net_ctx *c) {
  dinet_error err = {0};
  float dl[NET_N * NET_K];
  for (int i = 0; i < NET_N * NET_K; i++)
    dl[i] = (float)(2 * dinet_rng_uniform(&rng) - 1);
  for (int mode = 0; mode < 2; mode++) {
    const dinet_mode mdl = mode ? DINET_MODE_TRAIN : DINET_MODE_EVAL;
    float *full[NET_N][5] = {{0}};
    int rc = dinet_net_forward_keep(c->net, mdl, c->x, NET_N, c->hw, c->hw, c->logits, &err);
    rc = rc ? rc : dinet_net_backward(c->net, dl, 0, &err);
    CHECK(rc == 0, "full backward: %s", err.message);
    int C = 0, H = 0, W = 0, C4 = 0, H4 = 0, W4 = 0;
    for (int b = 0; b < NET_N; b++)
      for (int s = 1; s <= 4; s++) {
        if (!rc && dinet_net_stage_gradient(c->net, s, b, &full[b][s], &C, &H, &W, &err))
          CHECK(0, "stage_gradient %d: %s", s, err.message);
        if (s == 4)
          C4 = C, H4 = H, W4 = W;
      }
    for (int stop = 1; stop <= 4; stop++) {
      if (mode)
        dinet_net_zero_grad(c->net);
      rc = dinet_net_forward_keep(c->net, mdl, c->x, NET_N, c->hw, c->hw, c->logits, &err);
      rc = rc ? rc : dinet_net_backward(c->net, dl, stop, &err);
      CHECK(rc == 0, "backward stop_stage %d: %s", stop, err.message);
      if (rc)
        continue;
      CHECK(dinet_net_input_gradient(c->net) == NULL,
            "input gradient should be unavailable after stop_stage %d", stop);
      for (int b = 0; b < NET_N; b++)
        for (int s = stop; s <= 4; s++) {
          float *g = NULL;
          if (dinet_net_stage_gradient(c->net, s, b, &g, &C, &H, &W, &err) || !full[b][s]) {
            CHECK(0, "stage_gradient %d after stop %d: %s", s, stop, err.message);
            continue;
          }
          const double e = max_rel(g, full[b][s], (size_t)C * H * W);
          CHECK(e <= 1e-6, "%s mode %d stop_stage %d: stage %d gradient (image %d) differs "
                "from a full backward by %.3g", dinet_arch_name(dinet_net_arch(c->net)),
                mode, stop, s, b, e);
          free(g);
        }
      if (mode) { /* train: a partial backward leaves parameter gradients alone */
        int clean = 1;
        for (int i = 0; i < dinet_net_param_tensors(c->net); i++) {
          const dinet_param *p = dinet_net_param(c->net, i);
          for (size_t j = 0; p->grad && j < p->n; j++)
            clean &= p->grad[j] == 0.0f;
        }
        CHECK(clean, "train backward with stop_stage %d accumulated parameter gradients", stop);
      }
    }
    /* stage 4: d(sum dl*logits)/dA4[c][b][hw] = sum_k dl[b][k] fc.w[k][c] / HW */
    dinet_param *fcw = find_param(c->net, "fc.weight");
    CHECK(C4 == 2048, "layer4 has %d channels", C4);
    for (int b = 0; b < NET_N && fcw && full[b][4] && C4 == 2048; b++) {
      double md = 0, ms = 0;
      for (int ch = 0; ch < C4; ch++)
        for (int i = 0; i < H4 * W4; i++) {
          double ref = 0;
          for (int k = 0; k < NET_K; k++)
            ref += (double)dl[b * NET_K + k] * fcw->data[(size_t)k * C4 + ch];
          ref /= H4 * W4;
          md = fmax(md, fabs(full[b][4][(size_t)ch * H4 * W4 + i] - ref));
          ms = fmax(ms, fabs(ref));
        }
      CHECK(md <= 1e-5 * ms, "stage 4 gradient is not fc.weight^T dlogits / HW (%.3g)", md / ms);
    }
    for (int b = 0; b < NET_N; b++)
      for (int s = 0; s <= 4; s++)
        free(full[b][s]);
  }
}

/* One image: dinet_gradcam against Grad-CAM made by hand from a full eval
 * backward. Returns 1 when the hand-made map has a positive value (a
 * ReLU'd map can be all zero for some images), 0 otherwise. */
static int gradcam_one(dinet_net *net, const float *x, int hw, int stage, int target) {
  dinet_error err = {0};
  float logits[NET_K], z[NET_K], dl[NET_K] = {0};
  float *map = NULL;
  int mh = 0, mw = 0, tgt = -5, nondegenerate = 0;
  int rc = dinet_gradcam(net, x, hw, hw, stage, target, logits, &tgt, &map, &mh, &mw, &err);
  CHECK(rc == 0 && map, "gradcam stage %d: %s", stage, err.message);
  if (rc || !map)
    return 1;
  rc = dinet_net_forward_keep(net, DINET_MODE_EVAL, x, 1, hw, hw, z, &err);
  int want = target;
  if (want < 0) { /* top-1 */
    want = 0;
    for (int k = 1; k < NET_K; k++)
      if (z[k] > z[want])
        want = k;
  }
  CHECK(tgt == want, "gradcam target %d, expected %d", tgt, want);
  CHECK(max_rel(logits, z, NET_K) <= 1e-6, "gradcam logits differ from a forward");
  dl[want] = 1.0f;
  rc = rc ? rc : dinet_net_backward(net, dl, 0, &err); /* full, unlike gradcam's */
  float *A = NULL, *G = NULL;
  int C = 0, H = 0, W = 0, C2 = 0, H2 = 0, W2 = 0;
  rc = rc ? rc : dinet_net_stage_activation(net, stage, 0, &A, &C, &H, &W, &err);
  rc = rc ? rc : dinet_net_stage_gradient(net, stage, 0, &G, &C2, &H2, &W2, &err);
  CHECK(rc == 0, "hand-made gradcam: %s", err.message);
  if (rc == 0) {
    CHECK(mh == H && mw == W && C2 == C && H2 == H && W2 == W,
          "gradcam map %dx%d, stage %d is %dx%d", mw, mh, stage, W, H);
    /* map = ReLU(sum_c w_c A_c), w_c = spatial mean of dS/dA_c */
    double *ref = xalloc(sizeof(double) * (size_t)H * W);
    for (int ch = 0; ch < C; ch++) {
      double wc = 0;
      for (int i = 0; i < H * W; i++)
        wc += G[(size_t)ch * H * W + i];
      wc /= H * W;
      for (int i = 0; i < H * W; i++)
        ref[i] += wc * A[(size_t)ch * H * W + i];
    }
    double dmax = 0, rmax = 0, scale = 0;
    for (int i = 0; i < H * W && mh == H && mw == W; i++) {
      const double r = ref[i] > 0 ? ref[i] : 0;
      dmax = fmax(dmax, fabs(map[i] - r));
      rmax = fmax(rmax, r);
      scale = fmax(scale, fabs(ref[i]));
    }
    CHECK(dmax <= 1e-4 * scale, "gradcam stage %d target %d: differs from hand-made by %.3g of %.3g",
          stage, want, dmax, scale);
    nondegenerate = rmax > 1e-3 * scale;
    free(ref);
  }
  free(A), free(G), free(map);
  return nondegenerate;
}

/* Stage 4 for the top-1 class and stage 2 for class 1, at 64 x 64 (layer4
 * 2x2, layer2 8x8); images are drawn until the map is not all zero. */
static void check_gradcam(dinet_net *net) {
  const int hw = 64;
  static const int stages[2] = {4, 2}, targets[2] = {-1, 1};
  for (int t = 0; t < 2; t++) {
    int ok = 0;
    for (int tries = 0; tries < 8 && !ok; tries++) {
      float *x = fbuf((size_t)3 * hw * hw);
      for (size_t i = 0; i < (size_t)3 * hw * hw; i++)
        x[i] = (float)dinet_rng_normal(&rng);
      ok = gradcam_one(net, x, hw, stages[t], targets[t]);
      free(x);
    }
    CHECK(ok, "gradcam stage %d: every map was all zero (degenerate test)", stages[t]);
  }
}

static float *random_images(int n, int hw) {
  float *x = fbuf((size_t)n * 3 * hw * hw);
  for (size_t i = 0; i < (size_t)n * 3 * hw * hw; i++)
    x[i] = (float)dinet_rng_normal(&rng);
  return x;
}

static void test_net(dinet_arch arch, uint64_t seed) {
  dinet_error err = {0};
  dinet_net *net = dinet_net_new(arch, NET_K, &err);
  CHECK(net != NULL, "dinet_net_new: %s", err.message);
  if (!net)
    return;
  dinet_net_init_weights(net, seed);
  perturb_net(net);
  calibrate(net);
  net_ctx ct = {.net = net, .hw = TRAIN_HW, .labels = {0, 2}, .alpha = {0.25f, 0.5f, 0.75f}};
  net_ctx ce = ct;
  ct.x = random_images(NET_N, TRAIN_HW);
  ce.hw = EVAL_HW;
  ce.x = random_images(NET_N, EVAL_HW);

  static const char *const names[] = {
      "conv1.weight", "bn1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
      "layer1.0.conv2.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight",
      "layer2.0.downsample.0.weight", "layer3.1.conv2.weight", "layer4.2.conv3.weight",
      "layer4.0.bn2.bias", "fc.weight", "fc.bias",
      /* CBAM only from here */
      "layer1.0.cbam.ChannelGate.mlp.1.weight", "layer1.0.cbam.ChannelGate.mlp.1.bias",
      "layer1.0.cbam.ChannelGate.mlp.3.weight", "layer1.0.cbam.ChannelGate.mlp.3.bias",
      "layer1.2.cbam.SpatialGate.spatial.conv.weight", "layer1.2.cbam.SpatialGate.spatial.bn.weight",
      "layer1.2.cbam.SpatialGate.spatial.bn.bias",
      "layer4.1.cbam.ChannelGate.mlp.1.weight", "layer4.1.cbam.ChannelGate.mlp.1.bias",
      "layer4.1.cbam.ChannelGate.mlp.3.weight", "layer4.1.cbam.ChannelGate.mlp.3.bias",
      "layer4.0.cbam.SpatialGate.spatial.conv.weight", "layer4.0.cbam.SpatialGate.spatial.bn.weight",
      "layer4.0.cbam.SpatialGate.spatial.bn.bias",
  };
  const int n_all = (int)(sizeof names / sizeof *names), n_common = 13;
  if (verbose())
    printf("%s\n", dinet_arch_name(arch));
  check_param_grads(&ct, names, arch == DINET_ARCH_CBAM_RESNET50 ? n_all : n_common);
  check_input_grad(&ce, &ct);
  check_stop_stage(&ce);
  check_gradcam(net);
  free(ct.x);
  free(ce.x);
  dinet_net_free(net);
}

int main(void) {
  /* DINET_TEST_SEED varies the data, to probe the tolerances' robustness */
  const char *s = getenv("DINET_TEST_SEED");
  const uint64_t seed = s && *s ? strtoull(s, NULL, 0) : 0x6a4d1e57ULL;
  dinet_set_threads(2);
  dinet_rng_seed(&rng, seed);
  test_conv_grad();
  test_bn_grad();
  test_relu_grad();
  test_maxpool_grad();
  test_gap_grad();
  test_linear_grad();
  test_cgate_grad();
  test_spatial_grad();
  test_net(DINET_ARCH_CBAM_RESNET50, seed + 1);
  test_net(DINET_ARCH_RESNET50, seed + 2);
  return tu_finish();
}
