/* optim.c — SGD with momentum (PyTorch semantics, L2 decay added to the
 * gradient) and AdamW (decoupled decay). Decay applies to conv and linear
 * weights only (dinet_param.decay). State is one flat buffer so that a
 * checkpoint can store it as a tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"

struct dinet_optim {
  dinet_net *net;
  dinet_optim_kind kind;
  float momentum, beta1, beta2, eps;
  int64_t steps;
  size_t size;   /* floats of state */
  float *state;  /* SGD: velocity; AdamW: m then v, per parameter in order */
};

dinet_optim *dinet_optim_new(dinet_net *net, dinet_optim_kind kind, float momentum,
                             float beta1, float beta2, float eps, dinet_error *err) {
  if (kind != DINET_OPTIM_SGD && kind != DINET_OPTIM_ADAMW) {
    dinet_error_set(err, DINET_ERR_INVALID, "unknown optimiser %d", (int)kind);
    return NULL;
  }
  dinet_optim *o = calloc(1, sizeof *o);
  if (!o) {
    dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
    return NULL;
  }
  o->net = net;
  o->kind = kind;
  o->momentum = momentum;
  o->beta1 = beta1;
  o->beta2 = beta2;
  o->eps = eps;
  size_t n = dinet_net_param_count(net);
  o->size = kind == DINET_OPTIM_ADAMW ? 2 * n : n;
  o->state = calloc(o->size ? o->size : 1, sizeof(float));
  if (!o->state) {
    free(o);
    dinet_error_set(err, DINET_ERR_NOMEM, "out of memory for optimiser state");
    return NULL;
  }
  return o;
}

void dinet_optim_free(dinet_optim *o) {
  if (!o)
    return;
  free(o->state);
  free(o);
}

void dinet_optim_step(dinet_optim *o, float lr, float wd) {
  const int np = dinet_net_param_tensors(o->net);
  const size_t total = dinet_net_param_count(o->net);
  o->steps++;
  const double bc1 = 1.0 - pow(o->beta1, (double)o->steps);
  const double bc2 = 1.0 - pow(o->beta2, (double)o->steps);
  size_t off = 0;
  for (int i = 0; i < np; i++) {
    dinet_param *p = dinet_net_param(o->net, i);
    if (!p->grad)
      continue;
    const float d = p->decay ? wd : 0.0f;
    float *w = p->data, *g = p->grad;
    if (o->kind == DINET_OPTIM_SGD) {
      float *v = o->state + off;
      for (size_t j = 0; j < p->n; j++) {
        float gj = g[j] + d * w[j];
        v[j] = o->momentum * v[j] + gj;
        w[j] -= lr * v[j];
      }
    } else {
      float *m = o->state + off, *v = o->state + total + off;
      const float b1 = o->beta1, b2 = o->beta2;
      for (size_t j = 0; j < p->n; j++) {
        m[j] = b1 * m[j] + (1.0f - b1) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        w[j] -= lr * d * w[j];
        w[j] -= lr * (float)((m[j] / bc1) / (sqrt(v[j] / bc2) + o->eps));
      }
    }
    off += p->n;
  }
  dinet_net_params_changed(o->net);
}

size_t dinet_optim_state_size(const dinet_optim *o) { return o->size; }
float *dinet_optim_state(dinet_optim *o) { return o->state; }
int64_t dinet_optim_steps(const dinet_optim *o) { return o->steps; }
void dinet_optim_set_steps(dinet_optim *o, int64_t steps) { o->steps = steps; }
