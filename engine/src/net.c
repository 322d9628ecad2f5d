/* net.c — building, running and differentiating (CBAM-)ResNet-50.
 *
 * Layers follow darknet's shape (make / forward / backward; the optimiser
 * does the update) with one im2col workspace shared by every convolution and
 * 1x1 stride-1 convolutions going straight to sgemm. Activations are
 * channel-major: [C][N][H][W]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_private.h"
#include "parallel.h"

#define MAX_PARAMS 640

static const int stage_blocks[5] = {0, 3, 4, 6, 3};
static const int stage_width[5] = {0, 64, 128, 256, 512};

int dinet_net_stage_blocks(int stage) {
  return (stage >= 1 && stage <= 4) ? stage_blocks[stage] : 0;
}

const char *dinet_arch_name(dinet_arch arch) {
  return arch == DINET_ARCH_CBAM_RESNET50 ? "cbam_resnet50" : "resnet50";
}

int dinet_arch_from_name(const char *name, dinet_arch *out) {
  if (name && strcmp(name, "resnet50") == 0) {
    *out = DINET_ARCH_RESNET50;
    return DINET_OK;
  }
  if (name && strcmp(name, "cbam_resnet50") == 0) {
    *out = DINET_ARCH_CBAM_RESNET50;
    return DINET_OK;
  }
  return DINET_ERR_FORMAT;
}

/* ------------------------------------------------------------------ */
/* construction                                                        */

/* Registers a parameter (or buffer, grad == 0) of the given shape. */
static dinet_param *add_param(dinet_net *net, const char *name, int ndim,
                              const int *shape, int decay, int grad) {
  if (net->n_params >= MAX_PARAMS)
    return NULL;
  dinet_param *p = &net->params[net->n_params];
  snprintf(p->name, sizeof p->name, "%s", name);
  p->ndim = ndim;
  p->n = 1;
  for (int i = 0; i < ndim; i++) {
    p->shape[i] = shape[i];
    p->n *= (size_t)shape[i];
  }
  p->decay = decay;
  p->data = calloc(p->n, sizeof(float));
  p->grad = grad ? calloc(p->n, sizeof(float)) : NULL;
  if (!p->data || (grad && !p->grad)) {
    free(p->data);
    free(p->grad);
    return NULL;
  }
  net->n_params++;
  if (grad)
    net->param_count += p->n;
  return p;
}

/* conv "<cname>.weight" and BN "<bname>.{weight,bias,running_mean,running_var}". */
static int make_convbn(dinet_net *net, convbn *cb, const char *cname,
                       const char *bname, int cin, int cout, int k, int stride,
                       int pad, float momentum) {
  char nm[192];
  cb->cin = cin;
  cb->cout = cout;
  cb->k = k;
  cb->stride = stride;
  cb->pad = pad;
  cb->momentum = momentum;
  int wshape[4] = {cout, cin, k, k}, cshape[1] = {cout};
  snprintf(nm, sizeof nm, "%s.weight", cname);
  cb->w = add_param(net, nm, 4, wshape, 1, 1);
  snprintf(nm, sizeof nm, "%s.weight", bname);
  cb->g = add_param(net, nm, 1, cshape, 0, 1);
  snprintf(nm, sizeof nm, "%s.bias", bname);
  cb->b = add_param(net, nm, 1, cshape, 0, 1);
  snprintf(nm, sizeof nm, "%s.running_mean", bname);
  cb->rm = add_param(net, nm, 1, cshape, 0, 0);
  snprintf(nm, sizeof nm, "%s.running_var", bname);
  cb->rv = add_param(net, nm, 1, cshape, 0, 0);
  cb->fw = calloc((size_t)cout * cin * k * k, sizeof(float));
  cb->fb = calloc((size_t)cout, sizeof(float));
  cb->mean = calloc((size_t)cout, sizeof(float));
  cb->invstd = calloc((size_t)cout, sizeof(float));
  if (!cb->w || !cb->g || !cb->b || !cb->rm || !cb->rv || !cb->fw || !cb->fb ||
      !cb->mean || !cb->invstd)
    return DINET_ERR_NOMEM;
  for (int i = 0; i < cout; i++) {
    cb->g->data[i] = 1.0f;
    cb->rv->data[i] = 1.0f;
  }
  return DINET_OK;
}

static void free_convbn(convbn *cb) {
  free(cb->fw);
  free(cb->fb);
  free(cb->mean);
  free(cb->invstd);
}

dinet_net *dinet_net_new(dinet_arch arch, int num_classes, dinet_error *err) {
  if (arch != DINET_ARCH_RESNET50 && arch != DINET_ARCH_CBAM_RESNET50) {
    dinet_error_set(err, DINET_ERR_INVALID, "unknown architecture %d", (int)arch);
    return NULL;
  }
  if (num_classes < 1 || num_classes > 100000) {
    dinet_error_set(err, DINET_ERR_INVALID, "number of classes %d out of range 1..100000",
                    num_classes);
    return NULL;
  }
  dinet_net *net = calloc(1, sizeof *net);
  if (!net)
    goto nomem;
  net->arch = arch;
  net->num_classes = num_classes;
  net->input_size = 224;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  memcpy(net->mean, mean, sizeof mean);
  memcpy(net->std, std, sizeof std);
  net->params = calloc(MAX_PARAMS, sizeof(dinet_param));
  net->class_names = calloc((size_t)num_classes, sizeof(char *));
  if (!net->params || !net->class_names)
    goto nomem;
  for (int i = 0; i < num_classes; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "class_%d", i);
    if (!(net->class_names[i] = strdup(nm)))
      goto nomem;
  }
  if (make_convbn(net, &net->stem, "conv1", "bn1", 3, 64, 7, 2, 3, 0.1f))
    goto nomem;
  int cin = 64, bi = 0;
  for (int s = 1; s <= 4; s++) {
    net->stage_first[s] = bi;
    for (int j = 0; j < stage_blocks[s]; j++, bi++) {
      block *bl = &net->blocks[bi];
      char p[64], cn[128], bn[128];
      snprintf(p, sizeof p, "layer%d.%d", s, j);
      bl->cin = cin;
      bl->width = stage_width[s];
      bl->cout = stage_width[s] * 4;
      bl->stride = (j == 0 && s > 1) ? 2 : 1;
      int rc = 0;
      snprintf(cn, sizeof cn, "%s.conv1", p);
      snprintf(bn, sizeof bn, "%s.bn1", p);
      rc |= make_convbn(net, &bl->c1, cn, bn, cin, bl->width, 1, 1, 0, 0.1f);
      snprintf(cn, sizeof cn, "%s.conv2", p);
      snprintf(bn, sizeof bn, "%s.bn2", p);
      rc |= make_convbn(net, &bl->c2, cn, bn, bl->width, bl->width, 3, bl->stride, 1, 0.1f);
      snprintf(cn, sizeof cn, "%s.conv3", p);
      snprintf(bn, sizeof bn, "%s.bn3", p);
      rc |= make_convbn(net, &bl->c3, cn, bn, bl->width, bl->cout, 1, 1, 0, 0.1f);
      if (j == 0) {
        bl->has_ds = 1;
        snprintf(cn, sizeof cn, "%s.downsample.0", p);
        snprintf(bn, sizeof bn, "%s.downsample.1", p);
        rc |= make_convbn(net, &bl->ds, cn, bn, cin, bl->cout, 1, bl->stride, 0, 0.1f);
      }
      if (arch == DINET_ARCH_CBAM_RESNET50) {
        cbam *cb = &bl->cb;
        bl->has_cbam = 1;
        cb->C = bl->cout;
        cb->R = bl->cout / 16;
        int s1[2] = {cb->R, cb->C}, s1b[1] = {cb->R}, s3[2] = {cb->C, cb->R}, s3b[1] = {cb->C};
        snprintf(cn, sizeof cn, "%s.cbam.ChannelGate.mlp.1.weight", p);
        cb->w1 = add_param(net, cn, 2, s1, 1, 1);
        snprintf(cn, sizeof cn, "%s.cbam.ChannelGate.mlp.1.bias", p);
        cb->b1 = add_param(net, cn, 1, s1b, 0, 1);
        snprintf(cn, sizeof cn, "%s.cbam.ChannelGate.mlp.3.weight", p);
        cb->w2 = add_param(net, cn, 2, s3, 1, 1);
        snprintf(cn, sizeof cn, "%s.cbam.ChannelGate.mlp.3.bias", p);
        cb->b2 = add_param(net, cn, 1, s3b, 0, 1);
        if (!cb->w1 || !cb->b1 || !cb->w2 || !cb->b2)
          rc |= 1;
        snprintf(cn, sizeof cn, "%s.cbam.SpatialGate.spatial.conv", p);
        snprintf(bn, sizeof bn, "%s.cbam.SpatialGate.spatial.bn", p);
        rc |= make_convbn(net, &cb->sp, cn, bn, 2, 1, 7, 1, 3, 0.01f);
      }
      if (rc)
        goto nomem;
      cin = bl->cout;
    }
  }
  int fcs[2] = {num_classes, 2048}, fbs[1] = {num_classes};
  net->fc_w = add_param(net, "fc.weight", 2, fcs, 1, 1);
  net->fc_b = add_param(net, "fc.bias", 1, fbs, 0, 1);
  if (!net->fc_w || !net->fc_b)
    goto nomem;
  return net;
nomem:
  dinet_net_free(net);
  dinet_error_set(err, DINET_ERR_NOMEM, "out of memory building %s", dinet_arch_name(arch));
  return NULL;
}

void dinet_net_free(dinet_net *net) {
  if (!net)
    return;
  free_convbn(&net->stem);
  for (int b = 0; b < DINET_NBLOCKS; b++) {
    block *bl = &net->blocks[b];
    free_convbn(&bl->c1);
    free_convbn(&bl->c2);
    free_convbn(&bl->c3);
    free_convbn(&bl->ds);
    free_convbn(&bl->cb.sp);
  }
  if (net->params)
    for (int i = 0; i < net->n_params; i++) {
      free(net->params[i].data);
      free(net->params[i].grad);
    }
  free(net->params);
  if (net->class_names)
    for (int i = 0; i < net->num_classes; i++)
      free(net->class_names[i]);
  free(net->class_names);
  for (int i = 0; i < net->n_meta; i++) {
    free(net->meta_keys[i]);
    free(net->meta_values[i]);
  }
  free(net->meta_keys);
  free(net->meta_values);
  free(net->arena);
  free(net);
}

/* ------------------------------------------------------------------ */
/* initialisation                                                      */

static void init_normal(dinet_rng *rng, float *x, size_t n, double std) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(dinet_rng_normal(rng) * std);
}

static void init_conv_fan_out(dinet_rng *rng, convbn *cb) {
  init_normal(rng, cb->w->data, cb->w->n, sqrt(2.0 / (cb->cout * cb->k * cb->k)));
  for (int i = 0; i < cb->cout; i++) {
    cb->g->data[i] = 1.0f;
    cb->b->data[i] = 0.0f;
    cb->rm->data[i] = 0.0f;
    cb->rv->data[i] = 1.0f;
  }
}

void dinet_net_init_weights(dinet_net *net, uint64_t seed) {
  dinet_rng rng;
  dinet_rng_seed(&rng, seed);
  init_conv_fan_out(&rng, &net->stem);
  for (int b = 0; b < DINET_NBLOCKS; b++) {
    block *bl = &net->blocks[b];
    init_conv_fan_out(&rng, &bl->c1);
    init_conv_fan_out(&rng, &bl->c2);
    init_conv_fan_out(&rng, &bl->c3);
    if (bl->has_ds)
      init_conv_fan_out(&rng, &bl->ds);
    if (bl->has_cbam) {
      cbam *cb = &bl->cb;
      double a1 = 1.0 / sqrt(cb->C), a2 = 1.0 / sqrt(cb->R);
      for (size_t i = 0; i < cb->w1->n; i++)
        cb->w1->data[i] = (float)((2.0 * dinet_rng_uniform(&rng) - 1.0) * a1);
      for (size_t i = 0; i < cb->w2->n; i++)
        cb->w2->data[i] = (float)((2.0 * dinet_rng_uniform(&rng) - 1.0) * a2);
      memset(cb->b1->data, 0, cb->b1->n * sizeof(float));
      memset(cb->b2->data, 0, cb->b2->n * sizeof(float));
      init_conv_fan_out(&rng, &cb->sp);
      cb->sp.g->data[0] = 0.0f; /* the authors zero the SpatialGate BN weight */
    }
  }
  init_normal(&rng, net->fc_w->data, net->fc_w->n, sqrt(2.0 / 2048.0));
  memset(net->fc_b->data, 0, net->fc_b->n * sizeof(float));
  net->folded_valid = 0;
}

/* ------------------------------------------------------------------ */
/* accessors                                                           */

dinet_arch dinet_net_arch(const dinet_net *net) { return net->arch; }
int dinet_net_num_classes(const dinet_net *net) { return net->num_classes; }
const char *dinet_net_class_name(const dinet_net *net, int i) {
  return (i >= 0 && i < net->num_classes) ? net->class_names[i] : NULL;
}
int dinet_net_input_size(const dinet_net *net) { return net->input_size; }
void dinet_net_set_input_size(dinet_net *net, int size) { net->input_size = size; }
void dinet_net_get_norm(const dinet_net *net, float mean[3], float std[3]) {
  memcpy(mean, net->mean, sizeof net->mean);
  memcpy(std, net->std, sizeof net->std);
}
void dinet_net_set_norm(dinet_net *net, const float mean[3], const float std[3]) {
  memcpy(net->mean, mean, sizeof net->mean);
  memcpy(net->std, std, sizeof net->std);
}
size_t dinet_net_param_count(const dinet_net *net) { return net->param_count; }
void dinet_net_set_cancel(dinet_net *net, dinet_cancel_fn fn, void *user) {
  net->cancel = fn;
  net->cancel_user = user;
}
int dinet_net_param_tensors(const dinet_net *net) { return net->n_params; }
dinet_param *dinet_net_param(dinet_net *net, int i) {
  return (i >= 0 && i < net->n_params) ? &net->params[i] : NULL;
}
void dinet_net_zero_grad(dinet_net *net) {
  for (int i = 0; i < net->n_params; i++)
    if (net->params[i].grad)
      memset(net->params[i].grad, 0, net->params[i].n * sizeof(float));
}
void dinet_net_params_changed(dinet_net *net) { net->folded_valid = 0; }

int dinet_net_find_class(const dinet_net *net, const char *s) {
  if (!s || !*s)
    return -1;
  for (int i = 0; i < net->num_classes; i++)
    if (strcmp(net->class_names[i], s) == 0)
      return i;
  char *end;
  long v = strtol(s, &end, 10);
  if (*end == '\0' && v >= 0 && v < net->num_classes)
    return (int)v;
  return -1;
}

int dinet_net_set_class_names(dinet_net *net, const char *const *names, int n,
                              dinet_error *err) {
  if (n != net->num_classes)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "%d class names given for a network with %d classes", n,
                           net->num_classes);
  for (int i = 0; i < n; i++) {
    char *c = strdup(names[i] ? names[i] : "");
    if (!c)
      return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
    free(net->class_names[i]);
    net->class_names[i] = c;
  }
  return DINET_OK;
}

int dinet__check_cancel(dinet_net *net, dinet_error *err) {
  if (net->cancel && net->cancel(net->cancel_user))
    return dinet_error_set(err, DINET_ERR_CANCELLED, "cancelled");
  return DINET_OK;
}

/* ------------------------------------------------------------------ */
/* BN folding (eval)                                                   */

static void fold_convbn(convbn *cb) {
  const size_t per = (size_t)cb->cin * cb->k * cb->k;
  for (int o = 0; o < cb->cout; o++) {
    float s = cb->g->data[o] / sqrtf(cb->rv->data[o] + DINET_BN_EPS);
    for (size_t i = 0; i < per; i++)
      cb->fw[o * per + i] = cb->w->data[o * per + i] * s;     /* [cout][cin*k*k] */
    cb->fb[o] = cb->b->data[o] - cb->rm->data[o] * s;
  }
}

int dinet__net_ensure_folded(dinet_net *net, dinet_error *err) {
  (void)err;
  if (net->folded_valid)
    return DINET_OK;
  fold_convbn(&net->stem);
  for (int b = 0; b < DINET_NBLOCKS; b++) {
    block *bl = &net->blocks[b];
    fold_convbn(&bl->c1);
    fold_convbn(&bl->c2);
    fold_convbn(&bl->c3);
    if (bl->has_ds)
      fold_convbn(&bl->ds);
    if (bl->has_cbam)
      fold_convbn(&bl->cb.sp);
  }
  net->folded_valid = 1;
  return DINET_OK;
}

/* ------------------------------------------------------------------ */
/* workspace                                                           */

enum {
  F_Y1, F_Z1, F_Y2, F_Z2, F_Y3, F_Z3, F_YD, F_ZD, F_AVG, F_MX, F_S, F_AMAX,
  F_HA, F_HM, F_X1, F_POOL, F_PAMAX, F_SPY, F_SPZ, F_SP, F_OUT, NF
};

/* Bytes each activation of block bl needs for batch N (0: not needed). */
static void act_sizes(const block *bl, int N, int train, size_t sz[NF]) {
  const size_t Min = (size_t)N * bl->H * bl->W, Mout = (size_t)N * bl->Ho * bl->Wo;
  const size_t f = sizeof(float);
  memset(sz, 0, NF * sizeof(size_t));
  sz[F_Y1] = train ? bl->width * Min * f : 0;
  sz[F_Z1] = bl->width * Min * f;
  sz[F_Y2] = train ? bl->width * Mout * f : 0;
  sz[F_Z2] = bl->width * Mout * f;
  sz[F_Y3] = train ? bl->cout * Mout * f : 0;
  sz[F_Z3] = bl->cout * Mout * f;
  if (bl->has_ds) {
    sz[F_YD] = train ? bl->cout * Mout * f : 0;
    sz[F_ZD] = bl->cout * Mout * f;
  }
  if (bl->has_cbam) {
    const size_t CN = (size_t)bl->cout * N, RN = (size_t)bl->cb.R * N;
    sz[F_AVG] = sz[F_MX] = sz[F_S] = sz[F_AMAX] = CN * 4;
    sz[F_HA] = sz[F_HM] = RN * f;
    sz[F_X1] = bl->cout * Mout * f;
    sz[F_POOL] = 2 * Mout * f;
    sz[F_PAMAX] = Mout * 4;
    sz[F_SPY] = train ? Mout * f : 0;
    sz[F_SPZ] = Mout * f;
    sz[F_SP] = Mout * f;
  }
  sz[F_OUT] = bl->cout * Mout * f;
}

typedef struct arena {
  char *base;
  size_t off;
} arena;

static void *take(arena *a, size_t bytes) {
  if (bytes == 0)
    return NULL;
  size_t o = (a->off + 63) & ~(size_t)63;
  a->off = o + bytes;
  return a->base ? a->base + o : NULL;
}

static void act_assign(block_act *a, const size_t sz[NF], arena *ar, int with_out) {
  a->y1 = take(ar, sz[F_Y1]);
  a->z1 = take(ar, sz[F_Z1]);
  a->y2 = take(ar, sz[F_Y2]);
  a->z2 = take(ar, sz[F_Z2]);
  a->y3 = take(ar, sz[F_Y3]);
  a->z3 = take(ar, sz[F_Z3]);
  a->yd = take(ar, sz[F_YD]);
  a->zd = take(ar, sz[F_ZD]);
  a->cg.avg = take(ar, sz[F_AVG]);
  a->cg.mx = take(ar, sz[F_MX]);
  a->cg.s = take(ar, sz[F_S]);
  a->cg.amax = take(ar, sz[F_AMAX]);
  a->cg.ha = take(ar, sz[F_HA]);
  a->cg.hm = take(ar, sz[F_HM]);
  a->x1 = take(ar, sz[F_X1]);
  a->pool = take(ar, sz[F_POOL]);
  a->pamax = take(ar, sz[F_PAMAX]);
  a->spy = take(ar, sz[F_SPY]);
  a->spz = take(ar, sz[F_SPZ]);
  a->sp = take(ar, sz[F_SP]);
  a->out = with_out ? take(ar, sz[F_OUT]) : NULL;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* "Keep from" values: blocks >= kf keep their activations (block kf-1 keeps
 * its output); KEEP_NONE keeps nothing (inference), 0 keeps everything. */
#define KEEP_NONE (DINET_NBLOCKS + 1)

/* Lays out (or, with ar->base NULL, measures) the workspace. */
static void layout(dinet_net *net, int N, int H, int W, int train, int kf, arena *ar) {
  const size_t f = sizeof(float);
  const int keep = kf < KEEP_NONE;
  net->H1 = dinet__conv_out(H, 7, 2, 3);
  net->W1 = dinet__conv_out(W, 7, 2, 3);
  net->H2 = dinet__conv_out(net->H1, 3, 2, 1);
  net->W2 = dinet__conv_out(net->W1, 3, 2, 1);
  const size_t M0 = (size_t)N * H * W, M1 = (size_t)N * net->H1 * net->W1,
               M2 = (size_t)N * net->H2 * net->W2;
  net->xin = take(ar, 3 * M0 * f);
  net->y0 = take(ar, train ? 64 * M1 * f : 0);
  net->z0 = take(ar, 64 * M1 * f);
  net->p0 = take(ar, 64 * M2 * f);
  net->p0idx = take(ar, kf == 0 ? 64 * M2 * 4 : 0);
  size_t col = 147 * M1;            /* stem im2col */
  size_t big = max_sz(64 * M1, 3 * M0);
  size_t smax[NF] = {0};
  size_t out_max = 0, e_max = 0, small = 0;
  int h = net->H2, w = net->W2;
  for (int b = 0; b < DINET_NBLOCKS; b++) {
    block *bl = &net->blocks[b];
    bl->H = h;
    bl->W = w;
    bl->Ho = dinet__conv_out(h, 3, bl->stride, 1);
    bl->Wo = dinet__conv_out(w, 3, bl->stride, 1);
    const size_t Min = (size_t)N * h * w, Mout = (size_t)N * bl->Ho * bl->Wo;
    size_t sz[NF];
    act_sizes(bl, N, train, sz);
    if (b >= kf) {
      act_assign(&net->acts[b], sz, ar, 1);
    } else {
      for (int i = 0; i < NF; i++)
        smax[i] = max_sz(smax[i], sz[i]);
      memset(&net->acts[b], 0, sizeof net->acts[b]);
      if (b == kf - 1) /* the output a stage-level explanation starts from */
        net->acts[b].out = take(ar, sz[F_OUT]);
    }
    out_max = max_sz(out_max, sz[F_OUT]);
    col = max_sz(col, (size_t)bl->width * 9 * Mout);       /* conv2 */
    if (bl->stride != 1)
      col = max_sz(col, (size_t)bl->cin * Mout);            /* strided 1x1 */
    if (bl->has_cbam)
      col = max_sz(col, (size_t)2 * 49 * Mout);             /* spatial 7x7 */
    big = max_sz(big, max_sz((size_t)bl->cout * Mout, max_sz((size_t)bl->cin * Min,
                                                              (size_t)bl->width * Min)));
    e_max = max_sz(e_max, 3 * Mout);
    small = max_sz(small, (size_t)5 * bl->cout * N);
    h = bl->Ho;
    w = bl->Wo;
  }
  if (kf > 0) {
    act_assign(&net->shared_act, smax, ar, 0);
    net->ping = take(ar, out_max);
    net->pong = take(ar, out_max);
  }
  net->feat = take(ar, (size_t)2048 * N * f);
  net->col = take(ar, col * f);
  if (keep) {
    net->g_a = take(ar, big * f);
    net->g_b = take(ar, big * f);
    net->g_c = take(ar, big * f);
    net->g_d = take(ar, big * f);
    net->g_e = take(ar, e_max * f);
    net->g_small = take(ar, small * f);
    net->g_in = take(ar, 3 * M0 * f);
    for (int s = 1; s <= 4; s++) {
      const block *last = &net->blocks[net->stage_first[s] + stage_blocks[s] - 1];
      net->stage_grad[s] = take(ar, (size_t)last->cout * N * last->Ho * last->Wo * f);
    }
  } else {
    net->g_a = net->g_b = net->g_c = net->g_d = net->g_e = net->g_small = net->g_in = NULL;
    for (int s = 1; s <= 4; s++)
      net->stage_grad[s] = NULL;
  }
}

static int ensure_workspace(dinet_net *net, int N, int H, int W, int train, int kf,
                            dinet_error *err) {
  const int keep = kf;
  if (net->arena && net->ws_n == N && net->ws_h == H && net->ws_w == W &&
      net->ws_mode == train && net->ws_keep == keep)
    return DINET_OK;
  arena ar = {NULL, 0};
  layout(net, N, H, W, train, keep, &ar);
  size_t need = ar.off + 64;
  if (need > net->arena_size || need < net->arena_size / 2) {
    free(net->arena);
    net->arena = NULL;
    net->arena_size = 0;
    net->arena = malloc(need);
    if (!net->arena) {
      net->ws_n = 0;
      return dinet_error_set(err, DINET_ERR_NOMEM,
                             "out of memory: %zu MB of activations for batch %d at %dx%d",
                             need >> 20, N, W, H);
    }
    net->arena_size = need;
  }
  ar.base = (char *)(((uintptr_t)net->arena + 63) & ~(uintptr_t)63);
  ar.off = 0;
  layout(net, N, H, W, train, keep, &ar);
  net->ws_n = N;
  net->ws_h = H;
  net->ws_w = W;
  net->ws_mode = train;
  net->ws_keep = keep;
  net->have_forward = net->have_backward = 0;
  return DINET_OK;
}

/* ------------------------------------------------------------------ */
/* forward                                                             */

/* z = relu?(BN(conv(x))); train keeps y (raw conv) and batch statistics. */
static void convbn_forward(dinet_net *net, convbn *cb, const float *x, int N, int H,
                           int W, float *y, float *z, int relu, int train) {
  const int Ho = dinet__conv_out(H, cb->k, cb->stride, cb->pad);
  const int Wo = dinet__conv_out(W, cb->k, cb->stride, cb->pad);
  const int M = N * Ho * Wo;
  if (train) {
    dinet__conv_forward(x, cb->cin, N, H, W, cb->w->data, NULL, cb->cout, cb->k,
                        cb->stride, cb->pad, y, net->col);         /* y [cout][M] */
    dinet__bn_train_forward(y, cb->cout, M, cb->g->data, cb->b->data, DINET_BN_EPS,
                            cb->momentum, cb->rm->data, cb->rv->data, cb->mean,
                            cb->invstd, z);                       /* z [cout][M] */
  } else {
    dinet__conv_forward(x, cb->cin, N, H, W, cb->fw, cb->fb, cb->cout, cb->k,
                        cb->stride, cb->pad, z, net->col);         /* z [cout][M] */
  }
  if (relu)
    dinet__relu(z, (size_t)cb->cout * M);
}

/* out = relu(cbam(bn3(...)) + residual). */
static void block_forward(dinet_net *net, block *bl, block_act *a, const float *x,
                          int N, float *out, int train) {
  const int H = bl->H, W = bl->W, Ho = bl->Ho, Wo = bl->Wo;
  const int Mout = N * Ho * Wo;
  a->x = x;                                                         /* [cin][N][H][W] */
  convbn_forward(net, &bl->c1, x, N, H, W, a->y1, a->z1, 1, train); /* [width][N][H][W] */
  convbn_forward(net, &bl->c2, a->z1, N, H, W, a->y2, a->z2, 1, train); /* [width][N][Ho][Wo] */
  convbn_forward(net, &bl->c3, a->z2, N, Ho, Wo, a->y3, a->z3, 0, train); /* [cout][N][Ho][Wo] */
  const float *res = x;
  if (bl->has_ds) {
    convbn_forward(net, &bl->ds, x, N, H, W, a->yd, a->zd, 0, train); /* [cout][N][Ho][Wo] */
    res = a->zd;
  }
  if (bl->has_cbam) {
    cbam *cb = &bl->cb;
    dinet__cgate_forward(a->z3, cb->C, N, Ho * Wo, cb->R, cb->w1->data, cb->b1->data,
                         cb->w2->data, cb->b2->data, &a->cg, a->x1); /* x1 [C][NHW] */
    dinet__chanpool_forward(a->x1, cb->C, Mout, a->pool, a->pamax); /* pool [2][NHW] */
    convbn_forward(net, &cb->sp, a->pool, N, Ho, Wo, a->spy, a->spz, 0, train); /* [1][NHW] */
    dinet__sigmoid(a->spz, a->sp, (size_t)Mout);                    /* sp [NHW] */
    dinet__mul_plane(a->x1, a->sp, cb->C, Mout, out);               /* out [C][NHW] */
  } else {
    memcpy(out, a->z3, sizeof(float) * (size_t)bl->cout * Mout);
  }
  dinet__add_relu(res, out, (size_t)bl->cout * Mout);               /* out = relu(out + res) */
}

static int check_input(dinet_net *net, int n, int h, int w, dinet_error *err) {
  (void)net;
  if (n < 1 || n > 4096)
    return dinet_error_set(err, DINET_ERR_INVALID, "batch size %d out of range 1..4096", n);
  if (h < 32 || w < 32 || h > 4096 || w > 4096)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "input %dx%d out of range: sides must be 32..4096", w, h);
  return DINET_OK;
}

static int run_forward(dinet_net *net, const float *x, int N, int H, int W,
                       float *logits, int train, int kf, dinet_error *err) {
  int rc = check_input(net, N, H, W, err);
  if (rc)
    return rc;
  if (!train && (rc = dinet__net_ensure_folded(net, err)))
    return rc;
  if ((rc = ensure_workspace(net, N, H, W, train, kf, err)))
    return rc;
  net->have_forward = net->have_backward = 0;
  const size_t HW = (size_t)H * W;
  for (int c = 0; c < 3; c++)                                       /* NCHW -> CNHW */
    for (int n = 0; n < N; n++)
      memcpy(net->xin + ((size_t)c * N + n) * HW, x + ((size_t)n * 3 + c) * HW,
             HW * sizeof(float));
  convbn_forward(net, &net->stem, net->xin, N, H, W, net->y0, net->z0, 1, train); /* [64][N][H1][W1] */
  dinet__maxpool_forward(net->z0, 64, N, net->H1, net->W1, 3, 2, 1, net->H2, net->W2,
                         net->p0, kf == 0 ? net->p0idx : NULL);        /* [64][N][H2][W2] */
  const float *cur = net->p0;
  for (int b = 0; b < DINET_NBLOCKS; b++) {
    if ((rc = dinet__check_cancel(net, err)))
      return rc;
    block *bl = &net->blocks[b];
    block_act *a = b >= kf ? &net->acts[b] : &net->shared_act;
    float *out = b >= kf - 1 ? net->acts[b].out : ((b & 1) ? net->pong : net->ping);
    block_forward(net, bl, a, cur, N, out, train);                  /* [cout][N][Ho][Wo] */
    cur = out;
  }
  const block *last = &net->blocks[DINET_NBLOCKS - 1];
  dinet__gap_forward(cur, 2048, N, last->Ho * last->Wo, net->feat); /* [2048][N] */
  if (logits)
    dinet__linear_forward(net->feat, 2048, N, net->fc_w->data, net->fc_b->data,
                          net->num_classes, logits);                /* [N][K] */
  if (train)
    net->folded_valid = 0; /* running statistics moved */
  net->have_forward = kf < KEEP_NONE;
  net->last_mode = train;
  return DINET_OK;
}

int dinet_net_forward(dinet_net *net, const float *x, int n, int h, int w,
                      float *logits, dinet_error *err) {
  return run_forward(net, x, n, h, w, logits, 0, KEEP_NONE, err);
}

int dinet_net_forward_keep(dinet_net *net, dinet_mode mode, const float *x, int n,
                           int h, int w, float *logits, dinet_error *err) {
  return run_forward(net, x, n, h, w, logits, mode == DINET_MODE_TRAIN, 0, err);
}

int dinet__net_forward_keep_from(dinet_net *net, const float *x, int n, int h, int w,
                                 float *logits, int stage, dinet_error *err) {
  if (stage < 1 || stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stage %d out of range 1..4", stage);
  const int kf = stage < 4 ? net->stage_first[stage + 1] : DINET_NBLOCKS;
  return run_forward(net, x, n, h, w, logits, 0, kf, err);
}

/* ------------------------------------------------------------------ */
/* backward                                                            */

/* dz holds d(BN output) with any ReLU mask applied; it is overwritten.
 * dx = (accumulate ? dx : 0) + d conv input (when dx is not NULL). */
static void convbn_backward(dinet_net *net, convbn *cb, const float *x, int N, int H,
                            int W, const float *y, float *dz, float *dx, int accumulate,
                            int train, int want_params) {
  const int Ho = dinet__conv_out(H, cb->k, cb->stride, cb->pad);
  const int Wo = dinet__conv_out(W, cb->k, cb->stride, cb->pad);
  const int M = N * Ho * Wo;
  if (train) {
    dinet__bn_train_backward(y, dz, cb->cout, M, cb->g->data, cb->mean, cb->invstd, dz,
                             want_params ? cb->g->grad : NULL,
                             want_params ? cb->b->grad : NULL);       /* dz <- d conv out */
    dinet__conv_backward(x, cb->cin, N, H, W, cb->w->data, cb->cout, cb->k, cb->stride,
                         cb->pad, dz, want_params ? cb->w->grad : NULL, dx, accumulate,
                         net->col);
  } else {
    dinet__conv_backward(x, cb->cin, N, H, W, cb->fw, cb->cout, cb->k, cb->stride,
                         cb->pad, dz, NULL, dx, accumulate, net->col);
  }
}

/* dout [cout][Mout] (g0, clobbered) -> dx [cin][Min] (g1). */
static void block_backward(dinet_net *net, block *bl, block_act *a, int N, float *g0,
                           float *g1, int train, int wp) {
  const int H = bl->H, W = bl->W, Ho = bl->Ho, Wo = bl->Wo;
  const int Mout = N * Ho * Wo;
  const size_t nout = (size_t)bl->cout * Mout;
  float *g2 = net->g_c, *g3 = net->g_d, *e = net->g_e;
  dinet__relu_backward(a->out, g0, nout);                           /* dsum [cout][Mout] */
  /* residual branch -> g1 */
  if (bl->has_ds) {
    memcpy(g2, g0, nout * sizeof(float));
    convbn_backward(net, &bl->ds, a->x, N, H, W, a->yd, g2, g1, 0, train, wp);
  } else {
    memcpy(g1, g0, nout * sizeof(float));
  }
  /* main branch */
  float *dz3 = g0;
  if (bl->has_cbam) {
    cbam *cb = &bl->cb;
    float *dsp = e, *dpool = e + Mout;                              /* [Mout], [2][Mout] */
    dinet__mul_plane_backward(a->x1, a->sp, g0, cb->C, Mout, g2, dsp); /* dx1 in g2 */
    for (int i = 0; i < Mout; i++)
      dsp[i] *= a->sp[i] * (1.0f - a->sp[i]);                       /* d spz */
    convbn_backward(net, &cb->sp, a->pool, N, Ho, Wo, a->spy, dsp, dpool, 0, train, wp);
    dinet__chanpool_backward(dpool, a->pamax, cb->C, Mout, g2);     /* dx1 += */
    dinet__cgate_backward(a->z3, g2, cb->C, N, Ho * Wo, cb->R, cb->w1->data, cb->w2->data,
                          &a->cg, g3, wp ? cb->w1->grad : NULL, wp ? cb->b1->grad : NULL,
                          wp ? cb->w2->grad : NULL, wp ? cb->b2->grad : NULL,
                          net->g_small);                            /* dz3 in g3 */
    dz3 = g3;
  }
  /* conv3: dz3 -> dz2 (g2) */
  convbn_backward(net, &bl->c3, a->z2, N, Ho, Wo, a->y3, dz3, g2, 0, train, wp);
  dinet__relu_backward(a->z2, g2, (size_t)bl->width * Mout);
  float *dz1 = (dz3 == g3) ? g0 : g3;                               /* a free big buffer */
  convbn_backward(net, &bl->c2, a->z1, N, H, W, a->y2, g2, dz1, 0, train, wp);
  dinet__relu_backward(a->z1, dz1, (size_t)bl->width * N * H * W);
  convbn_backward(net, &bl->c1, a->x, N, H, W, a->y1, dz1, g1, 1, train, wp);
}

int dinet_net_backward(dinet_net *net, const float *dlogits, int stop_stage,
                       dinet_error *err) {
  if (!net->have_forward)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "backward needs a preceding forward that keeps activations");
  if (stop_stage < 0 || stop_stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stop stage %d out of range 0..4",
                           stop_stage);
  const int N = net->ws_n, train = net->last_mode;
  const int wp = train && stop_stage == 0;
  const block *last = &net->blocks[DINET_NBLOCKS - 1];
  const int HW4 = last->Ho * last->Wo;
  float *g0 = net->g_a, *g1 = net->g_b;
  /* head: logits [N][K] -> feat [2048][N] -> layer4 out [2048][N][HW4] */
  float *dfeat = net->g_small;
  dinet__linear_backward(net->feat, 2048, N, net->fc_w->data, net->num_classes, dlogits,
                         wp ? net->fc_w->grad : NULL, wp ? net->fc_b->grad : NULL, dfeat);
  dinet__gap_backward(dfeat, 2048, N, HW4, g0);
  for (int b = DINET_NBLOCKS - 1; b >= 0; b--) {
    block *bl = &net->blocks[b];
    for (int s = 1; s <= 4; s++)                     /* gradient at a stage output */
      if (b == net->stage_first[s] + stage_blocks[s] - 1)
        memcpy(net->stage_grad[s], g0,
               sizeof(float) * (size_t)bl->cout * N * bl->Ho * bl->Wo);
    int stage = b >= net->stage_first[4] ? 4 : b >= net->stage_first[3] ? 3
              : b >= net->stage_first[2] ? 2 : 1;
    if (stop_stage && stage <= stop_stage) {
      net->have_backward = 1;
      return DINET_OK;
    }
    int rc = dinet__check_cancel(net, err);
    if (rc)
      return rc;
    if (b < net->ws_keep)
      return dinet_error_set(err, DINET_ERR_INVALID,
                             "the forward pass kept activations only from layer%d on", stage + 1);
    block_backward(net, bl, &net->acts[b], N, g0, g1, train, wp);
    float *t = g0;
    g0 = g1;
    g1 = t;
  }
  /* stem: d p0 (g0) -> d z0 (g1) -> d x */
  dinet__maxpool_backward(g0, net->p0idx, 64, N, net->H1, net->W1, net->H2, net->W2, g1);
  dinet__relu_backward(net->z0, g1, (size_t)64 * N * net->H1 * net->W1);
  convbn_backward(net, &net->stem, net->xin, N, net->ws_h, net->ws_w, net->y0, g1,
                  net->g_c, 0, train, wp);
  const size_t HW = (size_t)net->ws_h * net->ws_w;
  for (int c = 0; c < 3; c++)                                       /* CNHW -> NCHW */
    for (int n = 0; n < N; n++)
      memcpy(net->g_in + ((size_t)n * 3 + c) * HW, net->g_c + ((size_t)c * N + n) * HW,
             HW * sizeof(float));
  net->have_backward = 2;
  return DINET_OK;
}

const float *dinet_net_input_gradient(const dinet_net *net) {
  return net->have_backward == 2 ? net->g_in : NULL;
}

/* ------------------------------------------------------------------ */
/* reading activations back                                            */

/* Copies image b's [C][h][w] out of a [C][N][h][w] tensor. */
static float *extract(const float *t, int C, int N, int hw, int b) {
  float *o = malloc(sizeof(float) * (size_t)C * hw);
  if (!o)
    return NULL;
  for (int c = 0; c < C; c++)
    memcpy(o + (size_t)c * hw, t + ((size_t)c * N + b) * hw, sizeof(float) * hw);
  return o;
}

static const block *stage_last(const dinet_net *net, int stage) {
  return &net->blocks[net->stage_first[stage] + stage_blocks[stage] - 1];
}

static int check_stage(const dinet_net *net, int stage, int b, dinet_error *err) {
  if (stage < 1 || stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stage %d out of range 1..4", stage);
  if (!net->have_forward)
    return dinet_error_set(err, DINET_ERR_INVALID, "no kept forward pass");
  if (b < 0 || b >= net->ws_n)
    return dinet_error_set(err, DINET_ERR_INVALID, "image %d out of range", b);
  return DINET_OK;
}

int dinet_net_stage_activation(const dinet_net *net, int stage, int b, float **out,
                               int *c, int *h, int *w, dinet_error *err) {
  int rc = check_stage(net, stage, b, err);
  if (rc)
    return rc;
  const block *bl = stage_last(net, stage);
  const int bi = (int)(bl - net->blocks);
  if (bi < net->ws_keep - 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "layer%d's activations were not kept", stage);
  *out = extract(net->acts[bi].out, bl->cout, net->ws_n, bl->Ho * bl->Wo, b);
  if (!*out)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  *c = bl->cout;
  *h = bl->Ho;
  *w = bl->Wo;
  return DINET_OK;
}

int dinet_net_stage_gradient(const dinet_net *net, int stage, int b, float **out,
                             int *c, int *h, int *w, dinet_error *err) {
  int rc = check_stage(net, stage, b, err);
  if (rc)
    return rc;
  if (!net->have_backward)
    return dinet_error_set(err, DINET_ERR_INVALID, "no backward pass");
  const block *bl = stage_last(net, stage);
  *out = extract(net->stage_grad[stage], bl->cout, net->ws_n, bl->Ho * bl->Wo, b);
  if (!*out)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  *c = bl->cout;
  *h = bl->Ho;
  *w = bl->Wo;
  return DINET_OK;
}

int dinet_net_cbam_spatial(const dinet_net *net, int stage, int block_i, int b,
                           float **out, int *h, int *w, dinet_error *err) {
  int rc = check_stage(net, stage, b, err);
  if (rc)
    return rc;
  if (net->arch != DINET_ARCH_CBAM_RESNET50)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s has no CBAM attention",
                           dinet_arch_name(net->arch));
  const int nb = stage_blocks[stage];
  if (block_i < -2 || block_i >= nb)
    return dinet_error_set(err, DINET_ERR_INVALID, "block %d out of range for layer%d (%d blocks)",
                           block_i, stage, nb);
  int first = block_i == -1 ? nb - 1 : block_i == -2 ? 0 : block_i;
  int lastb = block_i == -2 ? nb - 1 : first;
  if (net->stage_first[stage] + first < net->ws_keep)
    return dinet_error_set(err, DINET_ERR_INVALID, "layer%d's attention was not kept", stage);
  const block *bl = &net->blocks[net->stage_first[stage] + first];
  const int hw = bl->Ho * bl->Wo;
  float *m = calloc((size_t)hw, sizeof(float));
  if (!m)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  for (int j = first; j <= lastb; j++) {
    const block_act *a = &net->acts[net->stage_first[stage] + j];
    for (int i = 0; i < hw; i++)
      m[i] += a->sp[(size_t)b * hw + i];                          /* sp [N][HW] */
  }
  for (int i = 0; i < hw; i++)
    m[i] /= (float)(lastb - first + 1);
  *out = m;
  *h = bl->Ho;
  *w = bl->Wo;
  return DINET_OK;
}

int dinet_net_cbam_channel(const dinet_net *net, int stage, int block_i, int b,
                           float **out, int *c, dinet_error *err) {
  int rc = check_stage(net, stage, b, err);
  if (rc)
    return rc;
  if (net->arch != DINET_ARCH_CBAM_RESNET50)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s has no CBAM attention",
                           dinet_arch_name(net->arch));
  const int nb = stage_blocks[stage];
  if (block_i < -1 || block_i >= nb)
    return dinet_error_set(err, DINET_ERR_INVALID, "block %d out of range for layer%d", block_i,
                           stage);
  int j = block_i < 0 ? nb - 1 : block_i;
  if (net->stage_first[stage] + j < net->ws_keep)
    return dinet_error_set(err, DINET_ERR_INVALID, "layer%d's attention was not kept", stage);
  const block *bl = &net->blocks[net->stage_first[stage] + j];
  const block_act *a = &net->acts[net->stage_first[stage] + j];
  float *m = malloc(sizeof(float) * bl->cout);
  if (!m)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  for (int ch = 0; ch < bl->cout; ch++)
    m[ch] = a->cg.s[(size_t)ch * net->ws_n + b];                    /* s [C][N] */
  *out = m;
  *c = bl->cout;
  return DINET_OK;
}
