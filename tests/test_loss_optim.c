/* test_loss_optim.c — focal loss, softmax and the optimisers.
 *
 * Focal loss: against a double-precision hand computation (gamma 0 and
 * alpha 1 is cross-entropy, whose gradient is (softmax - onehot)/n), its
 * gradient by central differences for several gamma (0, 0.5, 1, 2, 5) with
 * per-class alpha, extreme logits (+-80, +-1e4) stay finite, non-finite
 * logits give DINET_ERR_NUMERIC, bad labels DINET_ERR_INVALID.
 * Softmax: rows sum to 1, match a reference, temperature flattens.
 * Optimisers: SGD with momentum and AdamW against hand-computed updates on
 * parameters of a real network (data and grad set by hand), weight decay
 * only where dinet_param.decay is 1, buffers untouched, resume from state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "testutil.h"

static dinet_rng rng;

static double unif(double lo, double hi) { return lo + (hi - lo) * dinet_rng_uniform(&rng); }

/* ---- references --------------------------------------------------------- */

/* log softmax(z)[j] in double. */
static double ref_logp(const float *z, int k, int j) {
  double m = z[0];
  for (int i = 1; i < k; i++)
    m = fmax(m, z[i]);
  double s = 0;
  for (int i = 0; i < k; i++)
    s += exp((double)z[i] - m);
  return (double)z[j] - m - log(s);
}

/* mean_i -alpha_y (1 - p_y)^gamma log p_y */
static double ref_focal(const float *z, const int *y, int n, int k, double gamma,
                        const float *alpha) {
  double t = 0;
  for (int i = 0; i < n; i++) {
    const double lp = ref_logp(z + (size_t)i * k, k, y[i]);
    const double p = exp(lp);
    t += -(alpha ? alpha[y[i]] : 1.0) * pow(1.0 - p, gamma) * lp;
  }
  return t / n;
}

/* ---- focal loss ------------------------------------------------------------ */

static void test_focal_values(void) {
  enum { N = 5, K = 4 };
  float z[N * K];
  int y[N];
  for (int i = 0; i < N * K; i++)
    z[i] = (float)unif(-3, 3);
  for (int i = 0; i < N; i++)
    y[i] = (int)dinet_rng_below(&rng, K);
  const float ones[K] = {1, 1, 1, 1}, alpha[K] = {0.25f, 0.5f, 1.5f, 0.75f};
  dinet_error err = {0};
  float loss = NAN, d[N * K];

  /* gamma 0, alpha NULL: cross-entropy; gradient (p - onehot) / n */
  int rc = dinet_focal_loss(z, y, N, K, 0.0f, NULL, &loss, d, &err);
  double ce = 0;
  for (int i = 0; i < N; i++)
    ce -= ref_logp(z + i * K, K, y[i]);
  ce /= N;
  CHECK(rc == 0, "focal loss: %s", err.message);
  CHECK(fabs(loss - ce) <= 1e-6 * fabs(ce), "gamma 0 is not cross-entropy: %.9g vs %.9g", loss, ce);
  double md = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++) {
      const double g = (exp(ref_logp(z + i * K, K, j)) - (j == y[i])) / N;
      md = fmax(md, fabs(d[i * K + j] - g));
    }
  CHECK(md <= 1e-6, "cross-entropy gradient off by %.3g", md);
  /* alpha all 1 is the same as NULL */
  float loss1 = NAN, d1[N * K];
  rc = dinet_focal_loss(z, y, N, K, 0.0f, ones, &loss1, d1, &err);
  CHECK(rc == 0 && loss1 == loss && memcmp(d, d1, sizeof d) == 0, "alpha of ones differs from NULL");
  /* loss only, no gradient */
  rc = dinet_focal_loss(z, y, N, K, 0.0f, NULL, &loss1, NULL, &err);
  CHECK(rc == 0 && loss1 == loss, "loss without dlogits differs");

  /* gamma 2 with per-class alpha, by hand */
  rc = dinet_focal_loss(z, y, N, K, 2.0f, alpha, &loss, d, &err);
  const double ref = ref_focal(z, y, N, K, 2.0, alpha);
  CHECK(rc == 0 && fabs(loss - ref) <= 1e-6 * fabs(ref), "focal gamma 2: %.9g vs %.9g", loss, ref);
  /* one sample written out: z = (0, ln 3), label 0 -> p = 1/4 */
  {
    const float z2[2] = {0.0f, (float)log(3.0)}, a2[2] = {0.5f, 1.0f};
    const int y2[1] = {0};
    const double p = 1.0 / (1.0 + exp((double)z2[1]));
    const double want = -0.5 * (1 - p) * (1 - p) * log(p); /* 0.5 * 9/16 * ln 4 */
    rc = dinet_focal_loss(z2, y2, 1, 2, 2.0f, a2, &loss, NULL, &err);
    CHECK(rc == 0 && fabs(loss - want) <= 1e-6 * want, "focal(0, ln3 | 0): %.9g vs %.9g", loss, want);
    CHECK(fabs(want - 0.5 * 9.0 / 16.0 * log(4.0)) < 1e-6, "reference arithmetic");
  }
  /* focusing: gamma > 0 shrinks the loss of well-classified samples most */
  {
    const float zz[3] = {4.0f, 0.0f, 0.0f};
    const int yy[1] = {0};
    float l0, l2;
    dinet_focal_loss(zz, yy, 1, 3, 0.0f, NULL, &l0, NULL, &err);
    dinet_focal_loss(zz, yy, 1, 3, 2.0f, NULL, &l2, NULL, &err);
    CHECK(l2 < 0.01f * l0 && l2 > 0.0f, "focal term does not down-weight an easy sample: %g vs %g",
          l2, l0);
  }
}

static void test_focal_grad(void) {
  enum { N = 4, K = 5 };
  static const float gammas[] = {0.0f, 0.5f, 1.0f, 2.0f, 5.0f};
  const float alpha[K] = {0.25f, 1.0f, 0.5f, 2.0f, 0.75f};
  dinet_error err = {0};
  for (size_t g = 0; g < sizeof gammas / sizeof *gammas; g++) {
    for (int use_alpha = 0; use_alpha < 2; use_alpha++) {
      float z[N * K], d[N * K], loss;
      int y[N];
      for (int i = 0; i < N * K; i++)
        z[i] = (float)unif(-2.5, 2.5);
      for (int i = 0; i < N; i++)
        y[i] = (int)dinet_rng_below(&rng, K);
      const float *a = use_alpha ? alpha : NULL;
      int rc = dinet_focal_loss(z, y, N, K, gammas[g], a, &loss, d, &err);
      CHECK(rc == 0, "focal gamma %g: %s", gammas[g], err.message);
      const double ref = ref_focal(z, y, N, K, gammas[g], a);
      CHECK(fabs(loss - ref) <= 1e-6 * fabs(ref), "focal gamma %g alpha %d: %.9g vs %.9g",
            gammas[g], use_alpha, loss, ref);
      /* central differences of the engine's own (float) loss */
      double md = 0, ms = 0;
      for (int i = 0; i < N * K; i++) {
        const float z0 = z[i], zp = z0 + 3e-3f, zm = z0 - 3e-3f;
        float lp, lm;
        z[i] = zp;
        dinet_focal_loss(z, y, N, K, gammas[g], a, &lp, NULL, &err);
        z[i] = zm;
        dinet_focal_loss(z, y, N, K, gammas[g], a, &lm, NULL, &err);
        z[i] = z0;
        const double fd = ((double)lp - lm) / ((double)zp - zm);
        md = fmax(md, fabs(fd - d[i]));
        ms = fmax(ms, fabs(d[i]));
      }
      CHECK(md <= 1e-2 * ms, "focal gradient gamma %g alpha %d: fd err %.3g of %.3g", gammas[g],
            use_alpha, md, ms);
      /* each row of the gradient sums to 0 (softmax shift invariance) */
      double rowsum = 0;
      for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < K; j++)
          s += d[i * K + j];
        rowsum = fmax(rowsum, fabs(s));
      }
      CHECK(rowsum <= 1e-6, "focal gradient rows do not sum to 0 (%.3g)", rowsum);
    }
  }
}

static int all_finite(const float *x, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return 0;
  return 1;
}

static void test_focal_extremes(void) {
  dinet_error err = {0};
  static const float gammas[] = {0.0f, 0.5f, 2.0f};
  static const float bigs[] = {80.0f, 1e4f};
  for (size_t b = 0; b < 2; b++)
    for (size_t g = 0; g < 3; g++) {
      const float B = bigs[b];
      /* label on the huge logit (p -> 1), on the tiny one (p -> 0), and in between */
      const float z[3 * 4] = {B, -B, 0, 10, B, -B, 0, 10, B, -B, 0, 10};
      const int y[3] = {0, 1, 2};
      const float alpha[4] = {0.5f, 1.0f, 2.0f, 1.0f};
      float loss = NAN, d[12];
      int rc = dinet_focal_loss(z, y, 3, 4, gammas[g], alpha, &loss, d, &err);
      CHECK(rc == 0, "logits +-%g gamma %g: %s", B, gammas[g], err.message);
      CHECK(isfinite(loss) && all_finite(d, 12), "logits +-%g gamma %g: loss %g not finite", B,
            gammas[g], loss);
      const double ref = ref_focal(z, y, 3, 4, gammas[g], alpha);
      CHECK(fabs(loss - ref) <= 1e-5 * fabs(ref), "logits +-%g gamma %g: %.9g vs %.9g", B,
            gammas[g], loss, ref);
      /* the confident correct sample has (almost) no gradient, the wrong one
       * pushes its label up at full strength */
      CHECK(fabs(d[0]) < 1e-6f && d[5] < -0.1f, "logits +-%g gamma %g: gradient %g %g", B,
            gammas[g], d[0], d[5]);
    }

  /* non-finite logits */
  const int y1[2] = {0, 1};
  const float bad[][6] = {
      {NAN, 0, 0, 0, 0, 0},      /* NaN at the label */
      {0, 0, 0, 0, 0, NAN},      /* NaN elsewhere */
      {0, 0, INFINITY, 0, 0, 0}, /* +inf elsewhere */
      {INFINITY, 0, 0, 0, 0, 0}, /* +inf at the label */
      {-INFINITY, 0, 0, 0, 0, 0} /* -inf at the label: p_y = 0 */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    float loss = 0, d[6];
    dinet_error e2 = {0};
    int rc = dinet_focal_loss(bad[i], y1, 2, 3, 2.0f, NULL, &loss, d, &e2);
    CHECK(rc == DINET_ERR_NUMERIC && e2.code == DINET_ERR_NUMERIC,
          "non-finite logits case %zu: rc %d (%s)", i, rc, e2.message);
  }
  /* bad arguments */
  {
    const float z[3] = {0, 1, 2};
    int y = 3;
    float loss;
    dinet_error e2 = {0};
    CHECK(dinet_focal_loss(z, &y, 1, 3, 2.0f, NULL, &loss, NULL, &e2) == DINET_ERR_INVALID,
          "label out of range accepted");
    y = -1;
    CHECK(dinet_focal_loss(z, &y, 1, 3, 2.0f, NULL, &loss, NULL, &e2) == DINET_ERR_INVALID,
          "negative label accepted");
    y = 0;
    CHECK(dinet_focal_loss(z, &y, 0, 3, 2.0f, NULL, &loss, NULL, &e2) == DINET_ERR_INVALID,
          "empty batch accepted");
  }
}

/* ---- softmax -------------------------------------------------------------------- */

static double entropy(const float *p, int k) {
  double h = 0;
  for (int j = 0; j < k; j++)
    if (p[j] > 0)
      h -= p[j] * log(p[j]);
  return h;
}

static void test_softmax(void) {
  enum { N = 6, K = 7 };
  float z[N * K], p[N * K], p2[N * K];
  for (int i = 0; i < N * K; i++)
    z[i] = (float)unif(-4, 4);
  /* extreme rows */
  for (int j = 0; j < K; j++) {
    z[4 * K + j] = (j & 1) ? 80.0f : -80.0f;
    z[5 * K + j] = j == 3 ? 1e4f : -1e4f;
  }
  static const float temps[] = {1.0f, 2.0f, 0.5f, 10.0f};
  for (size_t t = 0; t < sizeof temps / sizeof *temps; t++) {
    dinet_softmax(z, N, K, temps[t], p);
    double md = 0, sum_err = 0;
    for (int i = 0; i < N; i++) {
      double m = -INFINITY, s = 0, rs = 0;
      for (int j = 0; j < K; j++)
        m = fmax(m, z[i * K + j] / (double)temps[t]);
      for (int j = 0; j < K; j++)
        s += exp(z[i * K + j] / (double)temps[t] - m);
      for (int j = 0; j < K; j++) {
        const double r = exp(z[i * K + j] / (double)temps[t] - m) / s;
        md = fmax(md, fabs(p[i * K + j] - r));
        rs += p[i * K + j];
      }
      sum_err = fmax(sum_err, fabs(rs - 1.0));
    }
    CHECK(all_finite(p, N * K), "softmax t=%g not finite", temps[t]);
    CHECK(md <= 1e-6, "softmax t=%g differs from reference by %.3g", temps[t], md);
    CHECK(sum_err <= 1e-6, "softmax t=%g rows sum to 1 +- %.3g", temps[t], sum_err);
  }
  /* temperature > 1 flattens: lower max, higher entropy (ordinary rows) */
  dinet_softmax(z, N, K, 1.0f, p);
  dinet_softmax(z, N, K, 3.0f, p2);
  for (int i = 0; i < 4; i++) {
    float m1 = 0, m2 = 0;
    for (int j = 0; j < K; j++) {
      m1 = fmaxf(m1, p[i * K + j]);
      m2 = fmaxf(m2, p2[i * K + j]);
    }
    CHECK(m2 < m1 && entropy(p2 + i * K, K) > entropy(p + i * K, K),
          "temperature 3 does not flatten row %d", i);
  }
  /* t <= 0 means 1 */
  dinet_softmax(z, N, K, 0.0f, p2);
  CHECK(memcmp(p, p2, sizeof p) == 0, "softmax t=0 is not t=1");
  dinet_softmax(z, N, K, -2.0f, p2);
  CHECK(memcmp(p, p2, sizeof p) == 0, "softmax t<0 is not t=1");
}

/* ---- optimisers ------------------------------------------------------------------- */

static dinet_param *find_param(dinet_net *net, const char *name) {
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    if (strcmp(p->name, name) == 0)
      return p;
  }
  return NULL;
}

#define NP 4      /* parameters followed */
#define NS 6      /* elements with a gradient per parameter */
#define NZ 2      /* elements without one (last elements) */

typedef struct track {
  dinet_param *p;
  size_t idx[NS + NZ];
  double w[NS + NZ], m[NS + NZ], v[NS + NZ]; /* hand-computed state */
} track;

static const char *const tracked[NP] = {"conv1.weight", "bn1.weight", "fc.weight",
                                        "layer1.0.bn1.bias"};
static const int tracked_decay[NP] = {1, 0, 1, 0};

static int setup_tracks(dinet_net *net, track *t) {
  for (int i = 0; i < NP; i++) {
    t[i].p = find_param(net, tracked[i]);
    if (!t[i].p || !t[i].p->grad)
      return -1;
    for (int j = 0; j < NS; j++)
      t[i].idx[j] = (size_t)j * 3 % t[i].p->n;
    for (int j = 0; j < NZ; j++)
      t[i].idx[NS + j] = t[i].p->n - 1 - (size_t)j;
    for (int j = 0; j < NS + NZ; j++) {
      t[i].p->data[t[i].idx[j]] = (float)unif(-1, 1); /* bn1.weight too, by hand */
      t[i].w[j] = t[i].p->data[t[i].idx[j]];
      t[i].m[j] = t[i].v[j] = 0;
    }
  }
  return 0;
}

/* Fresh gradients on the first NS elements of each tracked parameter. */
static void set_grads(dinet_net *net, track *t) {
  dinet_net_zero_grad(net);
  for (int i = 0; i < NP; i++)
    for (int j = 0; j < NS; j++)
      t[i].p->grad[t[i].idx[j]] = (float)unif(-2, 2);
}

static void test_optim(dinet_optim_kind kind) {
  const char *kname = kind == DINET_OPTIM_SGD ? "sgd" : "adamw";
  dinet_error err = {0};
  dinet_net *net = dinet_net_new(DINET_ARCH_RESNET50, 3, &err);
  CHECK(net != NULL, "net: %s", err.message);
  if (!net)
    return;
  dinet_net_init_weights(net, 7);
  track t[NP];
  CHECK(setup_tracks(net, t) == 0, "tracked parameters missing");
  for (int i = 0; i < NP; i++)
    CHECK(t[i].p->decay == tracked_decay[i], "%s.decay = %d", tracked[i], t[i].p->decay);
  /* every conv/linear weight decays, nothing else */
  int flags_ok = 1;
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    const dinet_param *p = dinet_net_param(net, i);
    const int want = p->grad && p->ndim >= 2;
    if (p->decay != want) {
      flags_ok = 0;
      fprintf(stderr, "  %s: decay %d\n", p->name, p->decay);
    }
  }
  CHECK(flags_ok, "decay flags: conv and linear weights only");
  dinet_param *buf = find_param(net, "layer1.0.bn1.running_mean");
  CHECK(buf && !buf->grad, "running_mean should be a buffer without grad");
  for (size_t j = 0; buf && j < buf->n; j++)
    buf->data[j] = (float)j;

  const double mom = 0.9, b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.05, wd = 0.01;
  dinet_optim *opt = dinet_optim_new(net, kind, (float)mom, (float)b1, (float)b2, (float)eps, &err);
  CHECK(opt != NULL, "optim: %s", err.message);
  if (!opt) {
    dinet_net_free(net);
    return;
  }
  const size_t np = dinet_net_param_count(net);
  CHECK(dinet_optim_state_size(opt) == (kind == DINET_OPTIM_SGD ? np : 2 * np),
        "%s state size %zu for %zu parameters", kname, dinet_optim_state_size(opt), np);
  for (int step = 1; step <= 3; step++) {
    set_grads(net, t);
    dinet_optim_step(opt, (float)lr, (float)wd);
    double worst = 0;
    for (int i = 0; i < NP; i++) {
      const double d = t[i].p->decay ? wd : 0.0;
      for (int j = 0; j < NS + NZ; j++) {
        const double g = t[i].p->grad[t[i].idx[j]];
        double *w = &t[i].w[j], *m = &t[i].m[j], *v = &t[i].v[j];
        if (kind == DINET_OPTIM_SGD) {
          /* PyTorch SGD: v = mom*v + (g + wd*w); w -= lr*v */
          *m = mom * *m + (g + d * *w);
          *w -= lr * *m;
        } else {
          /* AdamW: w -= lr*wd*w; then the bias-corrected Adam step */
          *m = b1 * *m + (1 - b1) * g;
          *v = b2 * *v + (1 - b2) * g * g;
          *w -= lr * d * *w;
          const double mh = *m / (1 - pow(b1, step)), vh = *v / (1 - pow(b2, step));
          *w -= lr * mh / (sqrt(vh) + eps);
        }
        const double got = t[i].p->data[t[i].idx[j]];
        worst = fmax(worst, fabs(got - *w) / (fabs(*w) + 1e-3));
        if (!t[i].p->decay && j >= NS) /* no gradient, no decay: untouched */
          CHECK(got == *w, "%s %s[last]: changed without gradient or decay", kname, tracked[i]);
      }
    }
    CHECK(worst <= 1e-5, "%s step %d: differs from the hand-computed update by %.3g", kname, step,
          worst);
    CHECK(dinet_optim_steps(opt) == step, "%s steps %lld", kname, (long long)dinet_optim_steps(opt));
  }
  int buf_ok = 1;
  for (size_t j = 0; buf && j < buf->n; j++)
    buf_ok &= buf->data[j] == (float)j;
  CHECK(buf_ok, "%s: the optimiser changed a buffer", kname);

  /* resume: a new optimiser given the state and step count continues
   * exactly like the old one */
  float *state = malloc(dinet_optim_state_size(opt) * sizeof(float));
  float saved[NP][NS + NZ], next[NP][NS + NZ];
  set_grads(net, t);
  if (state) {
    memcpy(state, dinet_optim_state(opt), dinet_optim_state_size(opt) * sizeof(float));
    for (int i = 0; i < NP; i++)
      for (int j = 0; j < NS + NZ; j++)
        saved[i][j] = t[i].p->data[t[i].idx[j]];
    /* parameters of other tensors move too; only the tracked ones are compared */
    dinet_optim_step(opt, (float)lr, (float)wd);
    for (int i = 0; i < NP; i++)
      for (int j = 0; j < NS + NZ; j++) {
        next[i][j] = t[i].p->data[t[i].idx[j]];
        t[i].p->data[t[i].idx[j]] = saved[i][j];
      }
    dinet_optim *o2 = dinet_optim_new(net, kind, (float)mom, (float)b1, (float)b2, (float)eps, &err);
    CHECK(o2 != NULL, "optim: %s", err.message);
    if (o2) {
      memcpy(dinet_optim_state(o2), state, dinet_optim_state_size(o2) * sizeof(float));
      dinet_optim_set_steps(o2, 3);
      dinet_optim_step(o2, (float)lr, (float)wd);
      int same = 1;
      for (int i = 0; i < NP; i++)
        for (int j = 0; j < NS + NZ; j++)
          same &= t[i].p->data[t[i].idx[j]] == next[i][j];
      CHECK(same, "%s: resuming from the state does not continue the run", kname);
      CHECK(dinet_optim_steps(o2) == 4, "%s: steps after resume", kname);
      dinet_optim_free(o2);
    }
    free(state);
  }
  dinet_optim_free(opt);
  dinet_net_free(net);
}

int main(void) {
  dinet_set_threads(2);
  dinet_rng_seed(&rng, 0x10550971ULL);
  test_focal_values();
  test_focal_grad();
  test_focal_extremes();
  test_softmax();
  test_optim(DINET_OPTIM_SGD);
  test_optim(DINET_OPTIM_ADAMW);
  return tu_finish();
}
