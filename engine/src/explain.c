/* explain.c — class activation maps, CBAM attention, dihedral TTA,
 * faithfulness metrics, pointing game (see dinet/explain.h).
 *
 * Tensors here are one image's: activations and gradients C x H x W (as
 * dinet_net_stage_activation returns them), inputs 3 x h x w, maps H x W. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "net_private.h"

static const char *const method_names[DINET_EXPLAIN_METHOD_COUNT] = {
    "gradcam", "gradcam++", "hirescam", "layercam", "layercam-fusion",
    "scorecam", "cbam", "counterfactual"};

const char *dinet_explain_method_name(dinet_explain_method m) {
  return (int)m >= 0 && (int)m < DINET_EXPLAIN_METHOD_COUNT ? method_names[m] : NULL;
}

int dinet_explain_method_from_name(const char *name, dinet_explain_method *out,
                                   dinet_error *err) {
  for (int i = 0; name && i < DINET_EXPLAIN_METHOD_COUNT; i++)
    if (strcmp(name, method_names[i]) == 0) {
      *out = (dinet_explain_method)i;
      return DINET_OK;
    }
  return dinet_error_set(err, DINET_ERR_INVALID,
                         "unknown method \"%s\" (gradcam, gradcam++, hirescam, layercam, "
                         "layercam-fusion, scorecam, cbam, counterfactual)",
                         name ? name : "");
}

void dinet_explain_opts_init(dinet_explain_opts *o) {
  memset(o, 0, sizeof *o);
  o->method = DINET_EXPLAIN_GRADCAM;
  o->stage = 4;
  o->target = -1;
  o->block = -1;
  o->fusion = DINET_FUSION_MAX;
  o->scorecam_channels = 64;
  o->batch = 16;
  o->smooth = 0;
}

void dinet_explanation_free(dinet_explanation *e) {
  if (!e)
    return;
  free(e->map);
  free(e->logits);
  e->map = NULL;
  e->logits = NULL;
}

/* Index of the largest of n values (the first on ties). */
static int argmax_f(const float *v, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[b])
      b = i;
  return b;
}

/* Sets and returns DINET_ERR_NOMEM. */
static int nomem(dinet_error *err) {
  return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
}

/* ---- maps from activations and gradients ------------------------------ */

/* A (C x HW), G = dS/dA (C x HW) -> m (HW), for the gradient methods. */
static void cam_from_grads(dinet_explain_method method, const float *A, const float *G, int C,
                           int HW, float *m) {
  double *acc = calloc((size_t)HW, sizeof(double));
  const int elementwise = method == DINET_EXPLAIN_HIRESCAM || method == DINET_EXPLAIN_LAYERCAM;
  for (int c = 0; c < C; c++) {
    const float *a = A + (size_t)c * HW, *g = G + (size_t)c * HW;   /* [HW] */
    if (elementwise) {
      for (int i = 0; i < HW; i++) {
        const double gi = method == DINET_EXPLAIN_LAYERCAM && g[i] < 0.0f ? 0.0 : g[i];
        if (acc)
          acc[i] += gi * a[i];
        else
          m[i] += (float)(gi * a[i]);
      }
      continue;
    }
    double wc = 0;
    if (method == DINET_EXPLAIN_GRADCAMPP) {
      double sa = 0;                                                  /* sum_ij A_c */
      for (int i = 0; i < HW; i++)
        sa += a[i];
      for (int i = 0; i < HW; i++) {
        const double g1 = g[i], g2 = g1 * g1, g3 = g2 * g1;
        if (g1 == 0.0)
          continue;                                                   /* alpha = 0 */
        const double alpha = g2 / (2.0 * g2 + sa * g3 + 1e-6);
        if (g1 > 0.0)
          wc += g1 * alpha;                                           /* relu(g) alpha */
      }
    } else { /* GRADCAM, COUNTERFACTUAL (G already holds -dS/dA) */
      for (int i = 0; i < HW; i++)
        wc += g[i];
      wc /= HW;
    }
    if (wc == 0.0)
      continue;
    for (int i = 0; i < HW; i++) {
      if (acc)
        acc[i] += wc * a[i];
      else
        m[i] += (float)(wc * a[i]);
    }
  }
  for (int i = 0; i < HW; i++) {
    const double v = acc ? acc[i] : m[i];
    m[i] = v > 0.0 ? (float)v : 0.0f;                                  /* ReLU */
  }
  free(acc);
}

/* The stage's activation and gradient for image 0 after forward_keep and
 * backward; both caller-freed. */
static int stage_ag(dinet_net *net, int stage, float **A, float **G, int *C, int *H, int *W,
                    dinet_error *err) {
  *A = *G = NULL;
  int rc = dinet_net_stage_activation(net, stage, 0, A, C, H, W, err);
  if (!rc)
    rc = dinet_net_stage_gradient(net, stage, 0, G, C, H, W, err);
  if (rc) {
    free(*A);
    *A = NULL;
  }
  return rc;
}

/* A gradient method at one stage, after forward_keep and backward. */
static int grad_map(dinet_net *net, dinet_explain_method method, int stage, float **map,
                    int *mh, int *mw, dinet_error *err) {
  float *A, *G;
  int C, H, W;
  int rc = stage_ag(net, stage, &A, &G, &C, &H, &W, err);
  if (rc)
    return rc;
  float *m = calloc((size_t)H * W, sizeof(float));                  /* [H][W] */
  if (!m) {
    rc = nomem(err);
  } else {
    cam_from_grads(method, A, G, C, H * W, m);
    *map = m;
    *mh = H;
    *mw = W;
  }
  free(A);
  free(G);
  return rc;
}

/* LayerCAM fusion of layer2..layer4 (after a backward to stage 2). */
static int fusion_map(dinet_net *net, dinet_fusion fusion, float **map, int *mh, int *mw,
                      dinet_error *err) {
  float *out = NULL, *ms = NULL, *up = NULL;
  int H2 = 0, W2 = 0, rc = DINET_OK;
  for (int s = 2; s <= 4 && !rc; s++) {
    int h = 0, w = 0;
    if ((rc = grad_map(net, DINET_EXPLAIN_LAYERCAM, s, &ms, &h, &w, err)))
      break;
    dinet_map_normalize(ms, (size_t)h * w, ms);                      /* [h][w] in [0, 1] */
    if (s == 2) {
      H2 = h;
      W2 = w;
      out = ms;                                                      /* [H2][W2] */
      ms = NULL;
      continue;
    }
    if (!up && !(up = malloc(sizeof(float) * (size_t)H2 * W2))) {
      rc = nomem(err);
      break;
    }
    dinet_map_upsample(ms, h, w, up, H2, W2);
    for (int i = 0; i < H2 * W2; i++)
      out[i] = fusion == DINET_FUSION_MEAN ? out[i] + up[i] : (up[i] > out[i] ? up[i] : out[i]);
    free(ms);
    ms = NULL;
  }
  free(ms);
  free(up);
  if (rc) {
    free(out);
    return rc;
  }
  if (fusion == DINET_FUSION_MEAN)
    for (int i = 0; i < H2 * W2; i++)
      out[i] /= 3.0f;
  *map = out;
  *mh = H2;
  *mw = W2;
  return DINET_OK;
}

/* Index/value pair for sorting. */
typedef struct ranked {
  float v;
  int i;
} ranked;

/* Descending value, then ascending index. */
static int cmp_ranked_desc(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->v != b->v)
    return a->v > b->v ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

/* Score-CAM at a stage after forward_keep (x: 3 x h x w). */
static int scorecam_map(dinet_net *net, const float *x, int h, int w, int stage, int target,
                        int nch, int batch, float **map, int *mh, int *mw, dinet_error *err) {
  float *A = NULL, *wk = NULL, *up = NULL, *xb = NULL, *z = NULL, *p = NULL;
  ranked *r = NULL;
  int C, H, W, rc;
  if ((rc = dinet_net_stage_activation(net, stage, 0, &A, &C, &H, &W, err)))
    return rc;                                                       /* A [C][H][W] */
  const int K = dinet_net_num_classes(net), HW = H * W;
  const size_t hw = (size_t)h * w;
  if (nch > C)
    nch = C;
  if (batch > nch)
    batch = nch;
  r = malloc(sizeof(ranked) * C);
  wk = malloc(sizeof(float) * nch);
  up = malloc(sizeof(float) * hw);
  xb = malloc(sizeof(float) * 3 * hw * batch);                       /* [batch][3][h][w] */
  z = malloc(sizeof(float) * 2 * (size_t)batch * K);
  if (!r || !wk || !up || !xb || !z) {
    rc = nomem(err);
    goto out;
  }
  p = z + (size_t)batch * K;
  for (int c = 0; c < C; c++) {                                      /* mean activation */
    double s = 0;
    for (int i = 0; i < HW; i++)
      s += A[(size_t)c * HW + i];
    r[c].v = (float)(s / HW);
    r[c].i = c;
  }
  qsort(r, (size_t)C, sizeof(ranked), cmp_ranked_desc);
  for (int k0 = 0; k0 < nch; k0 += batch) {
    const int nb = nch - k0 < batch ? nch - k0 : batch;
    for (int j = 0; j < nb; j++) {
      dinet_map_upsample(A + (size_t)r[k0 + j].i * HW, H, W, up, h, w);   /* [h][w] */
      float mn = up[0], mx = up[0];
      for (size_t i = 1; i < hw; i++) {
        mn = up[i] < mn ? up[i] : mn;
        mx = up[i] > mx ? up[i] : mx;
      }
      const float s = 1.0f / (mx - mn + 1e-8f);
      float *xj = xb + (size_t)j * 3 * hw;                           /* [3][h][w] */
      for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < hw; i++)
          xj[c * hw + i] = x[c * hw + i] * ((up[i] - mn) * s);
    }
    if ((rc = dinet_net_forward(net, xb, nb, h, w, z, err)))
      goto out;
    dinet_softmax(z, nb, K, 1.0f, p);                                /* [nb][K] */
    for (int j = 0; j < nb; j++)
      wk[k0 + j] = p[(size_t)j * K + target];
  }
  float *m = calloc((size_t)HW, sizeof(float));                      /* [H][W] */
  if (!m) {
    rc = nomem(err);
    goto out;
  }
  for (int i = 0; i < HW; i++) {
    double s = 0;
    for (int k = 0; k < nch; k++)
      s += (double)wk[k] * A[(size_t)r[k].i * HW + i];
    m[i] = s > 0.0 ? (float)s : 0.0f;                                /* ReLU */
  }
  *map = m;
  *mh = H;
  *mw = W;
out:
  free(A);
  free(r);
  free(wk);
  free(up);
  free(xb);
  free(z);
  return rc;
}

/* One map of x (3 x h x w) for class target (-1: predicted). logits (K)
 * and *target_out receive the forward's logits and the class used. */
/* An eval forward of one image that keeps the CBAM attention of stage's
 * blocks (and what follows them): kept from the end of stage - 1. */
static int forward_keep_cbam(dinet_net *net, const float *x, int h, int w, int stage,
                             float *logits, dinet_error *err) {
  return stage <= 1 ? dinet_net_forward_keep(net, DINET_MODE_EVAL, x, 1, h, w, logits, err)
                    : dinet__net_forward_keep_from(net, x, 1, h, w, logits, stage - 1, err);
}

static int one_map(dinet_net *net, const float *x, int h, int w, const dinet_explain_opts *o,
                   int target, float **map, int *mh, int *mw, float *logits, int *target_out,
                   dinet_error *err) {
  const int K = dinet_net_num_classes(net);
  *map = NULL;
  float *z = malloc(sizeof(float) * 2 * K);                          /* logits, dlogits [K] */
  if (!z)
    return nomem(err);
  float *dz = z + K;
  int rc;
  if (o->method == DINET_EXPLAIN_GRADCAM) { /* the engine's own Grad-CAM, as the viewer's */
    rc = dinet_gradcam(net, x, h, w, o->stage, target, z, &target, map, mh, mw, err);
    goto done;
  }
  /* Keep only the activations the map needs, as dinet_gradcam does: those
   * from the map's stage on (from layer2 on for the fusion). */
  rc = o->method == DINET_EXPLAIN_CBAM_SPATIAL
           ? forward_keep_cbam(net, x, h, w, o->stage, z, err)
           : dinet__net_forward_keep_from(
                 net, x, 1, h, w, z, o->method == DINET_EXPLAIN_LAYERCAM_FUSION ? 2 : o->stage,
                 err);
  if (rc)
    goto out;
  if (target < 0)
    target = argmax_f(z, K);
  switch (o->method) {
  case DINET_EXPLAIN_CBAM_SPATIAL:
    rc = dinet_net_cbam_spatial(net, o->stage, o->block, 0, map, mh, mw, err);
    break;
  case DINET_EXPLAIN_SCORECAM:
    rc = scorecam_map(net, x, h, w, o->stage, target, o->scorecam_channels, o->batch, map, mh,
                      mw, err);
    break;
  default: {
    memset(dz, 0, sizeof(float) * K);
    dz[target] = o->method == DINET_EXPLAIN_COUNTERFACTUAL ? -1.0f : 1.0f;
    const int fusion = o->method == DINET_EXPLAIN_LAYERCAM_FUSION;
    if ((rc = dinet_net_backward(net, dz, fusion ? 2 : o->stage, err)))
      break;
    rc = fusion ? fusion_map(net, o->fusion, map, mh, mw, err)
                : grad_map(net, o->method, o->stage, map, mh, mw, err);
  }
  }
done:
  if (!rc) {
    if (logits)
      memcpy(logits, z, sizeof(float) * K);
    if (target_out)
      *target_out = target;
  }
out:
  free(z);
  return rc;
}

/* ---- dihedral TTA ------------------------------------------------------ */

/* View d of an h x w grid: view coordinates (vy, vx) -> original (y, x). */
static void dihedral_src(int d, int h, int w, int vy, int vx, int *y, int *x) {
  const int vh = d & 4 ? w : h, vw = d & 4 ? h : w;
  const int yy = d & 2 ? vh - 1 - vy : vy, xx = d & 1 ? vw - 1 - vx : vx;
  if (d & 4) {
    *y = xx;
    *x = yy;
  } else {
    *y = yy;
    *x = xx;
  }
}

void dinet_dihedral(const float *in, int c, int h, int w, int d, float *out) {
  const int vh = d & 4 ? w : h, vw = d & 4 ? h : w;
  const size_t n = (size_t)h * w;
  for (int vy = 0; vy < vh; vy++)
    for (int vx = 0; vx < vw; vx++) {
      int y, x;
      dihedral_src(d, h, w, vy, vx, &y, &x);
      for (int k = 0; k < c; k++)
        out[k * n + (size_t)vy * vw + vx] = in[k * n + (size_t)y * w + x];
    }
}

void dinet_dihedral_inverse(const float *v, int c, int h, int w, int d, float *out) {
  const int vh = d & 4 ? w : h, vw = d & 4 ? h : w;
  const size_t n = (size_t)h * w;
  for (int vy = 0; vy < vh; vy++)
    for (int vx = 0; vx < vw; vx++) {
      int y, x;
      dihedral_src(d, h, w, vy, vx, &y, &x);
      for (int k = 0; k < c; k++)
        out[k * n + (size_t)y * w + x] = v[k * n + (size_t)vy * vw + vx];
    }
}

int dinet_tta_dihedral(dinet_map_fn fn, void *user, const float *x, int c, int h, int w,
                       float **map, int *mh, int *mw, dinet_error *err) {
  *map = NULL;
  if (!fn || !x || c < 1 || h < 1 || w < 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "tta: bad arguments");
  const size_t n = (size_t)c * h * w;
  float *view = malloc(sizeof(float) * n), *acc = NULL, *back = NULL;
  int H = 0, W = 0, rc = DINET_OK;
  if (!view)
    return nomem(err);
  for (int d = 0; d < 8 && !rc; d++) {
    dinet_dihedral(x, c, h, w, d, view);                             /* [c][h'][w'] */
    float *vm = NULL;
    int vh, vw;
    if ((rc = fn(user, view, c, d & 4 ? w : h, d & 4 ? h : w, &vm, &vh, &vw, err)))
      break;
    if (d == 0) {
      H = vh;
      W = vw;
      acc = calloc((size_t)H * W, sizeof(float));
      back = malloc(sizeof(float) * (size_t)H * W);
      if (!acc || !back) {
        free(vm);
        rc = nomem(err);
        break;
      }
    } else if (vh != (d & 4 ? W : H) || vw != (d & 4 ? H : W)) {
      free(vm);
      rc = dinet_error_set(err, DINET_ERR_INVALID,
                           "tta: view %d gave a %dx%d map, not the view of %dx%d", d, vw, vh, W,
                           H);
      break;
    }
    dinet_dihedral_inverse(vm, 1, H, W, d, back);                    /* [H][W] */
    for (int i = 0; i < H * W; i++)
      acc[i] += back[i];
    free(vm);
  }
  free(view);
  free(back);
  if (rc) {
    free(acc);
    return rc;
  }
  for (int i = 0; i < H * W; i++)
    acc[i] /= 8.0f;
  *map = acc;
  *mh = H;
  *mw = W;
  return DINET_OK;
}

/* Each image's 8 views go through the network as one batch of 8; the
 * softmax probabilities (temperature 1) are averaged and logged, so the
 * result can stand in for logits (dinet_softmax of it at t = 1 gives the
 * mean back). */
int dinet_predict_tta(dinet_net *net, const float *x, int n, int h, int w, float *logp,
                      int *view_top, dinet_error *err) {
  if (!net || !x || !logp || n < 1 || h < 1 || h != w)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "tta: needs a network and square inputs (got %dx%d)", w, h);
  const int K = dinet_net_num_classes(net), V = 8;
  const size_t per = (size_t)3 * h * w;
  float *views = malloc(sizeof(float) * per * V), *z = malloc(sizeof(float) * K * V),
        *p = malloc(sizeof(float) * K * V);
  int rc = DINET_OK;
  if (!views || !z || !p)
    rc = nomem(err);
  for (int i = 0; i < n && !rc; i++) {
    for (int d = 0; d < V; d++)
      dinet_dihedral(x + per * i, 3, h, w, d, views + per * d);        /* [8][3][h][w] */
    if ((rc = dinet_net_forward(net, views, V, h, w, z, err)))         /* [8][K] */
      break;
    dinet_softmax(z, V, K, 1.0f, p);                                   /* [8][K] */
    for (int d = 0; view_top && d < V; d++)
      view_top[(size_t)i * V + d] = argmax_f(z + d * K, K);             /* [n][8] */
    for (int k = 0; k < K; k++) {
      double m = 0;
      for (int d = 0; d < V; d++)
        m += p[d * K + k];
      logp[(size_t)i * K + k] = (float)log(fmax(m / V, 1e-12));       /* [n][K] */
    }
  }
  free(views);
  free(z);
  free(p);
  return rc;
}

int dinet_net_tta_views(const dinet_net *net) {
  const char *t = net ? dinet_net_meta(net, DINET_META_TTA) : NULL;
  return t && !strcmp(t, DINET_TTA_DIHEDRAL8) ? 8 : 1;
}

int dinet_net_predict(dinet_net *net, const float *x, int n, int h, int w, int views,
                      float *scores, int *view_top, dinet_error *err) {
  if (views == 0)
    views = dinet_net_tta_views(net);
  if (views == 8)
    return dinet_predict_tta(net, x, n, h, w, scores, view_top, err);
  if (views != 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "predict: %d views (1 or 8)", views);
  int rc = dinet_net_forward(net, x, n, h, w, scores, err);
  const int K = dinet_net_num_classes(net);
  for (int i = 0; !rc && view_top && i < n; i++)
    view_top[i] = argmax_f(scores + (size_t)i * K, K);                 /* [n][1] */
  return rc;
}

int dinet_views_agreeing(const int *view_top, int views, int top) {
  int agree = 0;
  for (int d = 0; view_top && d < views; d++)
    agree += view_top[d] == top;
  return agree;
}

/* dinet_map_fn adapter: one_map with a fixed target. */
typedef struct view_ctx {
  dinet_net *net;
  const dinet_explain_opts *o;
  int target;
} view_ctx;

static int view_map(void *user, const float *x, int c, int h, int w, float **map, int *mh,
                    int *mw, dinet_error *err) {
  const view_ctx *v = user;
  (void)c;
  return one_map(v->net, x, h, w, v->o, v->target, map, mh, mw, NULL, NULL, err);
}

/* ---- dinet_explain ------------------------------------------------------ */

int dinet_explain(dinet_net *net, const float *x, int h, int w, const dinet_explain_opts *opts,
                  dinet_explanation *out, dinet_error *err) {
  dinet_explain_opts o;
  if (opts)
    o = *opts;
  else
    dinet_explain_opts_init(&o);
  memset(out, 0, sizeof *out);
  if (!net || !x || h < 1 || w < 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "explain: no net, no input or empty input");
  if (!dinet_explain_method_name(o.method))
    return dinet_error_set(err, DINET_ERR_INVALID, "explain: unknown method %d", (int)o.method);
  if (o.method == DINET_EXPLAIN_LAYERCAM_FUSION)
    o.stage = 2;
  if (o.stage < 1 || o.stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stage %d out of range 1..4", o.stage);
  const int K = dinet_net_num_classes(net);
  if (o.target < -1 || o.target >= K)
    return dinet_error_set(err, DINET_ERR_INVALID, "class %d out of range 0..%d", o.target,
                           K - 1);
  if (o.scorecam_channels < 1 || o.batch < 1)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "explain: Score-CAM channels and batch must be at least 1");
  if (o.fusion != DINET_FUSION_MAX && o.fusion != DINET_FUSION_MEAN)
    return dinet_error_set(err, DINET_ERR_INVALID, "explain: unknown fusion %d", (int)o.fusion);
  float *logits = malloc(sizeof(float) * K);
  if (!logits)
    return nomem(err);
  int rc, target = o.target;
  float *map = NULL;
  int mh = 0, mw = 0;
  if (!o.smooth) {
    rc = one_map(net, x, h, w, &o, o.target, &map, &mh, &mw, logits, &target, err);
  } else {
    /* the class comes from the unaugmented image, and stays fixed over views */
    rc = dinet_net_forward(net, x, 1, h, w, logits, err);
    if (!rc) {
      if (target < 0)
        target = argmax_f(logits, K);
      view_ctx v = {net, &o, target};
      rc = dinet_tta_dihedral(view_map, &v, x, 3, h, w, &map, &mh, &mw, err);
    }
  }
  if (rc) {
    free(logits);
    free(map);
    return rc;
  }
  out->map = map;
  out->h = mh;
  out->w = mw;
  out->target = target;
  out->predicted = argmax_f(logits, K);
  out->method = o.method;
  out->stage = o.stage;
  out->block = o.block;
  out->smoothed = o.smooth != 0;
  out->num_classes = K;
  out->logits = logits;
  /* evidence: the same test as the renderer's (ReLU, max > 0, not flat) */
  float *tmp = malloc(sizeof(float) * (size_t)mh * mw);
  if (!tmp) {
    dinet_explanation_free(out);
    return nomem(err);
  }
  out->no_positive_evidence = dinet_map_normalize(map, (size_t)mh * mw, tmp);
  free(tmp);
  return DINET_OK;
}

/* ---- CBAM channel attention --------------------------------------------- */

int dinet_explain_cbam_channels(dinet_net *net, const float *x, int h, int w, int stage,
                                int block_i, int k, dinet_channel_weight *out, int *n_out,
                                float *logits, dinet_error *err) {
  *n_out = 0;
  if (!net || !x || !out || k < 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "cbam channels: bad arguments");
  if (stage < 1 || stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stage %d out of range 1..4", stage);
  const int K = dinet_net_num_classes(net), nb = dinet_net_stage_blocks(stage);
  if (block_i < -2 || block_i >= nb)
    return dinet_error_set(err, DINET_ERR_INVALID, "block %d out of range for layer%d (%d blocks)",
                           block_i, stage, nb);
  float *z = malloc(sizeof(float) * K), *acc = NULL, *s = NULL;
  ranked *r = NULL;
  if (!z)
    return nomem(err);
  int rc = forward_keep_cbam(net, x, h, w, stage, z, err), C = 0;
  const int b0 = block_i == -2 ? 0 : block_i, b1 = block_i == -2 ? nb - 1 : block_i;
  for (int b = b0; b <= b1 && !rc; b++) {
    if ((rc = dinet_net_cbam_channel(net, stage, b, 0, &s, &C, err)))
      break;                                                         /* s [C] */
    if (!acc && !(acc = calloc((size_t)C, sizeof(float)))) {
      free(s);
      rc = nomem(err);
      break;
    }
    for (int c = 0; c < C; c++)
      acc[c] += s[c];
    free(s);
  }
  if (!rc && !(r = malloc(sizeof(ranked) * C)))
    rc = nomem(err);
  if (!rc) {
    for (int c = 0; c < C; c++) {
      r[c].v = acc[c] / (float)(b1 - b0 + 1);
      r[c].i = c;
    }
    qsort(r, (size_t)C, sizeof(ranked), cmp_ranked_desc);
    const int n = k < C ? k : C;
    for (int i = 0; i < n; i++) {
      out[i].index = r[i].i;
      out[i].weight = r[i].v;
    }
    *n_out = n;
    if (logits)
      memcpy(logits, z, sizeof(float) * K);
  }
  free(r);
  free(acc);
  free(z);
  return rc;
}

/* ---- faithfulness -------------------------------------------------------- */

void dinet_faith_opts_init(dinet_faith_opts *o) {
  o->steps = 20;
  o->blur_sigma = 0.05f;
  o->batch = 21;
}

int dinet_gaussian_blur(const float *x, int c, int h, int w, float sigma, float *out,
                        dinet_error *err) {
  const size_t n = (size_t)h * w;
  if (!(sigma > 0.0f)) {
    memcpy(out, x, sizeof(float) * n * c);
    return DINET_OK;
  }
  const int r = (int)ceilf(3.0f * sigma);
  float *k = malloc(sizeof(float) * (2 * r + 1)), *tmp = malloc(sizeof(float) * n);
  if (!k || !tmp) {
    free(k);
    free(tmp);
    return nomem(err);
  }
  double s = 0;
  for (int i = -r; i <= r; i++)
    s += k[i + r] = expf(-(float)(i * i) / (2.0f * sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float)(k[i] / s);                                        /* sums to 1 */
  for (int ch = 0; ch < c; ch++) {
    const float *in = x + ch * n;                                    /* [h][w] */
    float *o = out + ch * n;
    for (int y = 0; y < h; y++)                                      /* rows -> tmp */
      for (int xx = 0; xx < w; xx++) {
        double a = 0;
        for (int i = -r; i <= r; i++) {
          int xi = xx + i;
          xi = xi < 0 ? 0 : xi >= w ? w - 1 : xi;
          a += k[i + r] * in[(size_t)y * w + xi];
        }
        tmp[(size_t)y * w + xx] = (float)a;
      }
    for (int y = 0; y < h; y++)                                      /* columns -> out */
      for (int xx = 0; xx < w; xx++) {
        double a = 0;
        for (int i = -r; i <= r; i++) {
          int yi = y + i;
          yi = yi < 0 ? 0 : yi >= h ? h - 1 : yi;
          a += k[i + r] * tmp[(size_t)yi * w + xx];
        }
        o[(size_t)y * w + xx] = (float)a;
      }
  }
  free(k);
  free(tmp);
  return DINET_OK;
}

/* Pixels ranked first for step k of steps: round(k * n / steps). */
static size_t step_count(int k, int steps, size_t n) {
  return (2 * (size_t)k * n + (size_t)steps) / (2 * (size_t)steps);
}

int dinet_faithfulness_fn(dinet_score_fn fn, void *user, const float *x, int c, int h, int w,
                          const float *map, int mh, int mw, int target,
                          const dinet_faith_opts *opts, dinet_faith_result *out,
                          dinet_error *err) {
  dinet_faith_opts o;
  if (opts)
    o = *opts;
  else
    dinet_faith_opts_init(&o);
  memset(out, 0, sizeof *out);
  out->deletion_auc = out->insertion_auc = out->average_drop = out->increase_in_confidence =
      NAN;
  out->p = out->p_masked = NAN;
  if (!fn || !x || !map || c < 1 || h < 1 || w < 1 || mh < 1 || mw < 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "faithfulness: bad arguments");
  if (o.steps < 1 || o.steps > DINET_FAITH_MAX_STEPS || o.batch < 1)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "faithfulness: steps must be 1..%d and batch at least 1",
                           DINET_FAITH_MAX_STEPS);
  const int S = o.steps;
  out->steps = S;
  const size_t hw = (size_t)h * w, img = (size_t)c * hw, nm = (size_t)mh * mw;
  float *norm = malloc(sizeof(float) * nm), *up = malloc(sizeof(float) * hw);
  float *base = malloc(sizeof(float) * img), *xb = NULL, *sc = NULL;
  ranked *r = malloc(sizeof(ranked) * hw);
  int rc = DINET_OK;
  if (!norm || !up || !base || !r) {
    rc = nomem(err);
    goto out;
  }
  if (dinet_map_normalize(map, nm, norm)) {
    out->no_positive_evidence = 1;
    goto out;
  }
  dinet_map_upsample(map, mh, mw, up, h, w);                         /* ranking [h][w] */
  for (size_t i = 0; i < hw; i++) {
    r[i].v = up[i];
    r[i].i = (int)i;
  }
  qsort(r, hw, sizeof(ranked), cmp_ranked_desc);
  if ((rc = dinet_gaussian_blur(x, c, h, w, o.blur_sigma * (float)(h > w ? h : w), base, err)))
    goto out;
  if (!(o.blur_sigma > 0.0f))
    memset(base, 0, sizeof(float) * img);                            /* zero baseline */
  dinet_map_upsample(norm, mh, mw, up, h, w);                        /* mask in [0, 1] */
  /* images: deletion k = 0..S, insertion k = 0..S-1 (k = S is x), masked */
  const int total = 2 * S + 2, B = o.batch < total ? o.batch : total;
  xb = malloc(sizeof(float) * img * B);                              /* [B][c][h][w] */
  sc = malloc(sizeof(float) * total);
  if (!xb || !sc) {
    rc = nomem(err);
    goto out;
  }
  for (int j0 = 0; j0 < total; j0 += B) {
    const int nb = total - j0 < B ? total - j0 : B;
    for (int j = 0; j < nb; j++) {
      const int id = j0 + j;
      float *t = xb + (size_t)j * img;                               /* [c][h][w] */
      if (id == total - 1) {                                         /* x * mask */
        for (int ch = 0; ch < c; ch++)
          for (size_t i = 0; i < hw; i++)
            t[ch * hw + i] = x[ch * hw + i] * up[i];
        continue;
      }
      const int del = id <= S, k = del ? id : id - (S + 1);
      memcpy(t, del ? x : base, sizeof(float) * img);
      const float *src = del ? base : x;
      const size_t cnt = step_count(k, S, hw);
      for (size_t q = 0; q < cnt; q++) {
        const size_t i = (size_t)r[q].i;
        for (int ch = 0; ch < c; ch++)
          t[ch * hw + i] = src[ch * hw + i];
      }
    }
    if ((rc = fn(user, xb, nb, c, h, w, target, sc + j0, err)))
      goto out;
  }
  for (int k = 0; k <= S; k++) {
    out->deletion[k] = sc[k];
    out->insertion[k] = k < S ? sc[S + 1 + k] : sc[0];
  }
  double da = 0, ia = 0;
  for (int k = 0; k < S; k++) {                                      /* trapezoids */
    da += 0.5 * ((double)out->deletion[k] + out->deletion[k + 1]) / S;
    ia += 0.5 * ((double)out->insertion[k] + out->insertion[k + 1]) / S;
  }
  out->deletion_auc = da;
  out->insertion_auc = ia;
  out->p = sc[0];
  out->p_masked = sc[total - 1];
  out->average_drop =
      out->p > 0.0f ? fmax(0.0, (double)out->p - out->p_masked) / out->p : 0.0;
  out->increase_in_confidence = out->p_masked > out->p ? 1.0 : 0.0;
out:
  free(norm);
  free(up);
  free(base);
  free(r);
  free(xb);
  free(sc);
  return rc;
}

/* dinet_score_fn of a network: softmax probability of target. */
static int net_score(void *user, const float *x, int n, int c, int h, int w, int target,
                     float *scores, dinet_error *err) {
  dinet_net *net = user;
  const int K = dinet_net_num_classes(net);
  if (c != 3)
    return dinet_error_set(err, DINET_ERR_INVALID, "the network takes 3 channels, not %d", c);
  float *z = malloc(sizeof(float) * 2 * (size_t)n * K);              /* logits, probs [n][K] */
  if (!z)
    return nomem(err);
  int rc = dinet_net_forward(net, x, n, h, w, z, err);
  if (!rc) {
    dinet_softmax(z, n, K, 1.0f, z + (size_t)n * K);
    for (int i = 0; i < n; i++)
      scores[i] = z[(size_t)n * K + (size_t)i * K + target];
  }
  free(z);
  return rc;
}

int dinet_faithfulness(dinet_net *net, const float *x, int h, int w, const float *map, int mh,
                       int mw, int target, const dinet_faith_opts *o, dinet_faith_result *out,
                       dinet_error *err) {
  if (!net)
    return dinet_error_set(err, DINET_ERR_INVALID, "faithfulness: no network");
  const int K = dinet_net_num_classes(net);
  if (target < 0 || target >= K)
    return dinet_error_set(err, DINET_ERR_INVALID, "class %d out of range 0..%d", target, K - 1);
  return dinet_faithfulness_fn(net_score, net, x, 3, h, w, map, mh, mw, target, o, out, err);
}

/* ---- pointing game, rank correlation ------------------------------------- */

int dinet_pointing_game(const float *map, int mh, int mw, const uint8_t *mask, int h, int w,
                        float tolerance, int *hit, int *no_evidence, dinet_error *err) {
  *hit = 0;
  if (no_evidence)
    *no_evidence = 0;
  if (!map || !mask || mh < 1 || mw < 1 || h < 1 || w < 1 || !(tolerance >= 0.0f))
    return dinet_error_set(err, DINET_ERR_INVALID, "pointing game: bad arguments");
  const size_t nm = (size_t)mh * mw, n = (size_t)h * w;
  float *tmp = malloc(sizeof(float) * (nm > n ? nm : n));
  if (!tmp)
    return nomem(err);
  if (dinet_map_normalize(map, nm, tmp)) {
    if (no_evidence)
      *no_evidence = 1;
    free(tmp);
    return DINET_OK;                                                 /* a miss */
  }
  dinet_map_upsample(map, mh, mw, tmp, h, w);                        /* [h][w] */
  float vmax = tmp[0];
  for (size_t i = 1; i < n; i++)
    vmax = tmp[i] > vmax ? tmp[i] : vmax;
  /* The maximal set (within rounding: bilinear upsampling of equal values
   * is not always bit-exact), and of it the pixel nearest the centre of the
   * map cell that holds the maximum, where the map was sampled: a flat
   * maximum (a border cell, clamped by the upsampling out to the image's
   * edge) counts at its cell, not at its first pixel in raster order. */
  size_t mc = 0;
  for (size_t i = 1; i < nm; i++)
    if (map[i] > map[mc])
      mc = i;
  const double cy = ((double)(mc / mw) + 0.5) * h / mh - 0.5,      /* cell centre, pixels */
               cx = ((double)(mc % mw) + 0.5) * w / mw - 0.5;
  const float floor_v = vmax - 1e-5f * fabsf(vmax);
  size_t best = 0;
  double bd = INFINITY;
  for (size_t i = 0; i < n; i++)
    if (tmp[i] >= floor_v) {
      const double dy = (double)(i / w) - cy, dx = (double)(i % w) - cx, d = dy * dy + dx * dx;
      if (d < bd) {
        bd = d;
        best = i;
      }
    }
  free(tmp);
  const int by = (int)(best / w), bx = (int)(best % w), t = (int)floorf(tolerance);
  const float t2 = tolerance * tolerance;
  for (int y = by - t; y <= by + t && !*hit; y++)
    for (int xx = bx - t; xx <= bx + t; xx++) {
      if (y < 0 || y >= h || xx < 0 || xx >= w)
        continue;
      const float dy = (float)(y - by), dx = (float)(xx - bx);
      if (dy * dy + dx * dx <= t2 && mask[(size_t)y * w + xx]) {
        *hit = 1;
        break;
      }
    }
  return DINET_OK;
}

/* Average ranks (1-based) of v into rk. */
static int ranks(const float *v, size_t n, double *rk) {
  ranked *r = malloc(sizeof(ranked) * n);
  if (!r)
    return -1;
  for (size_t i = 0; i < n; i++) {
    r[i].v = v[i];
    r[i].i = (int)i;
  }
  qsort(r, n, sizeof(ranked), cmp_ranked_desc);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && r[j + 1].v == r[i].v)
      j++;
    const double avg = 0.5 * ((double)i + (double)j) + 1.0;        /* tied block i..j */
    for (size_t q = i; q <= j; q++)
      rk[r[q].i] = avg;
    i = j + 1;
  }
  free(r);
  return 0;
}

double dinet_spearman(const float *a, const float *b, size_t n) {
  if (n < 2)
    return NAN;
  double *ra = malloc(sizeof(double) * 2 * n);
  if (!ra)
    return NAN;
  double *rb = ra + n;
  if (ranks(a, n, ra) || ranks(b, n, rb)) {
    free(ra);
    return NAN;
  }
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; i++) {
    ma += ra[i];
    mb += rb[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  free(ra);
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}
