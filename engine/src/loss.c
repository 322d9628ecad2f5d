/* loss.c — softmax and multi-class focal loss. */
#include <math.h>

#include "dinet/dinet.h"

void dinet_softmax(const float *logits, int n, int k, float t, float *probs) {
  if (!(t > 0.0f))
    t = 1.0f;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;                        /* [K] */
    float *p = probs + (size_t)i * k;
    float m = z[0];
    for (int j = 1; j < k; j++)
      if (z[j] > m)
        m = z[j];
    double s = 0;
    for (int j = 0; j < k; j++) {
      p[j] = expf((z[j] - m) / t);
      s += p[j];
    }
    for (int j = 0; j < k; j++)
      p[j] = (float)(p[j] / s);
  }
}

int dinet_focal_loss(const float *logits, const int *labels, int n, int k,
                     float gamma, const float *alpha, float *loss, float *dlogits,
                     dinet_error *err) {
  if (n < 1 || k < 1)
    return dinet_error_set(err, DINET_ERR_INVALID, "empty batch");
  double total = 0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;                        /* [K] */
    const int y = labels[i];
    if (y < 0 || y >= k)
      return dinet_error_set(err, DINET_ERR_INVALID, "label %d out of range 0..%d", y, k - 1);
    double m = z[0];
    for (int j = 1; j < k; j++)
      if (z[j] > m)
        m = z[j];
    double s = 0;
    for (int j = 0; j < k; j++)
      s += exp((double)z[j] - m);
    const double logp = (double)z[y] - m - log(s);                  /* log p_y */
    const double pt = exp(logp), q = 1.0 - pt;
    const double a = alpha ? alpha[y] : 1.0;
    const double qg = gamma == 0.0f ? 1.0 : pow(q, gamma);
    total += -a * qg * logp;
    if (dlogits) {
      /* dL/dz_j = g (p_j - [j == y]),  g = a ((1-p)^gamma - gamma (1-p)^(gamma-1) p log p) */
      double g = qg;
      if (gamma != 0.0f && q > 0.0)
        g -= gamma * pow(q, gamma - 1.0) * pt * logp;
      g *= a / n;
      float *d = dlogits + (size_t)i * k;
      for (int j = 0; j < k; j++) {
        double pj = exp((double)z[j] - m) / s;
        d[j] = (float)(g * (pj - (j == y ? 1.0 : 0.0)));
      }
    }
  }
  total /= n;
  if (!isfinite(total))
    return dinet_error_set(err, DINET_ERR_NUMERIC, "loss is not finite (%g)", total);
  if (loss)
    *loss = (float)total;
  return DINET_OK;
}
