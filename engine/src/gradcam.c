/* gradcam.c — Grad-CAM of one image at a stage. */
#include <stdlib.h>
#include <string.h>

#include "net_private.h"

int dinet_gradcam(dinet_net *net, const float *x, int h, int w, int stage, int target,
                  float *logits, int *target_out, float **map, int *mh, int *mw,
                  dinet_error *err) {
  *map = NULL;
  if (stage < 1 || stage > 4)
    return dinet_error_set(err, DINET_ERR_INVALID, "stage %d out of range 1..4", stage);
  const int K = net->num_classes;
  if (target < -1 || target >= K)
    return dinet_error_set(err, DINET_ERR_INVALID, "class %d out of range 0..%d", target, K - 1);
  float *z = malloc(sizeof(float) * 2 * K);                       /* logits, dlogits [K] */
  if (!z)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  float *dz = z + K;
  int rc = dinet__net_forward_keep_from(net, x, 1, h, w, z, stage, err);
  if (rc)
    goto out;
  if (target < 0) {
    target = 0;
    for (int j = 1; j < K; j++)
      if (z[j] > z[target])
        target = j;
  }
  memset(dz, 0, sizeof(float) * K);
  dz[target] = 1.0f;                                              /* d score_target */
  if ((rc = dinet_net_backward(net, dz, stage, err)))
    goto out;
  float *A = NULL, *G = NULL;
  int C, H, W;
  if ((rc = dinet_net_stage_activation(net, stage, 0, &A, &C, &H, &W, err)))
    goto out;
  if ((rc = dinet_net_stage_gradient(net, stage, 0, &G, &C, &H, &W, err))) {
    free(A);
    goto out;
  }
  const int HW = H * W;
  float *m = calloc((size_t)HW, sizeof(float));                   /* [H][W] */
  if (!m) {
    free(A);
    free(G);
    rc = dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int i = 0; i < HW; i++)
      s += G[(size_t)c * HW + i];
    const float wc = (float)(s / HW);                               /* w_c = mean dS/dA_c */
    if (wc == 0.0f)
      continue;
    for (int i = 0; i < HW; i++)
      m[i] += wc * A[(size_t)c * HW + i];
  }
  for (int i = 0; i < HW; i++)
    m[i] = m[i] > 0.0f ? m[i] : 0.0f;                               /* ReLU */
  free(A);
  free(G);
  *map = m;
  *mh = H;
  *mw = W;
  if (target_out)
    *target_out = target;
  if (logits)
    memcpy(logits, z, sizeof(float) * K);
out:
  free(z);
  return rc;
}
