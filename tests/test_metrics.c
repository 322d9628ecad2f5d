/* test_metrics.c — metrics against hand-computed confusion matrices, ECE,
 * and temperature calibration on an over-confident case. */
#include <math.h>
#include <stdlib.h>

#include "dinet/dinet.h"
#include "testutil.h"

/* One-hot-ish probabilities: the predicted class gets p, the rest share 1-p. */
static void make_probs(float *probs, const int *pred, int n, int k, float p) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < k; j++)
      probs[i * k + j] = j == pred[i] ? p : (1 - p) / (k - 1);
}

static void test_confusion(void) {
  /* 3 classes; truth and predictions chosen by hand:
   *           pred 0  1  2
   *   true 0:      2  1  0
   *   true 1:      0  3  1
   *   true 2:      1  0  2        */
  const int y[10] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 2};
  const int p[10] = {0, 0, 1, 1, 1, 1, 2, 0, 2, 2};
  float probs[30];
  make_probs(probs, p, 10, 3, 0.8f);
  const int ab[3] = {0, 1, 1};
  dinet_metrics *m = dinet_metrics_compute(probs, y, 10, 3, ab);
  CHECK(m != NULL, "metrics");
  if (!m)
    return;
  const int want[9] = {2, 1, 0, 0, 3, 1, 1, 0, 2};
  for (int i = 0; i < 9; i++)
    CHECK(m->confusion[i] == want[i], "confusion[%d] = %d, want %d", i, m->confusion[i], want[i]);
  CHECK(fabs(m->accuracy - 0.7) < 1e-12, "accuracy %g", m->accuracy);
  /* precision: 2/3, 3/4, 2/3; recall: 2/3, 3/4, 2/3 */
  CHECK(fabs(m->precision[0] - 2.0 / 3) < 1e-12, "precision0 %g", m->precision[0]);
  CHECK(fabs(m->precision[1] - 0.75) < 1e-12, "precision1 %g", m->precision[1]);
  CHECK(fabs(m->recall[2] - 2.0 / 3) < 1e-12, "recall2 %g", m->recall[2]);
  double f1 = (2.0 / 3 + 0.75 + 2.0 / 3) / 3;
  CHECK(fabs(m->macro_f1 - f1) < 1e-12, "macro-F1 %g want %g", m->macro_f1, f1);
  CHECK(fabs(m->balanced_accuracy - f1) < 1e-12, "balanced %g", m->balanced_accuracy);
  CHECK(m->support[1] == 4, "support");
  /* binary: abnormal = classes 1, 2. truth abnormal: 7, of which predicted
   * abnormal: 3+1 (class 1) + 0+2 (class 2) = 6 -> sensitivity 6/7;
   * normal truth 3, predicted normal 2 -> specificity 2/3. */
  CHECK(fabs(m->sensitivity - 6.0 / 7) < 1e-12, "sensitivity %g", m->sensitivity);
  CHECK(fabs(m->specificity - 2.0 / 3) < 1e-12, "specificity %g", m->specificity);
  CHECK(fabs(m->binary_accuracy - 0.8) < 1e-12, "binary accuracy %g", m->binary_accuracy);
  /* make_probs gives the top class 0.8 and the others 0.1 each: P(abnormal)
   * is 0.9 when the top class is abnormal and 0.2 when it is class 0, so the
   * flag agrees with the top class's group here. */
  CHECK(fabs(m->flag_sensitivity - 6.0 / 7) < 1e-12, "flag sensitivity %g", m->flag_sensitivity);
  CHECK(fabs(m->flag_specificity - 2.0 / 3) < 1e-12, "flag specificity %g", m->flag_specificity);
  /* ECE: all confidences 0.8 in one bin, accuracy 0.7 -> 0.1 */
  CHECK(fabs(m->ece - 0.1) < 1e-6, "ece %g", m->ece);
  CHECK(fabs(m->nll - (-(7 * log(0.8) + 3 * log(0.1)) / 10)) < 1e-6, "nll %g", m->nll);
  dinet_metrics_free(m);
  /* no grouping -> binary figures absent */
  m = dinet_metrics_compute(probs, y, 10, 3, NULL);
  CHECK(m && m->sensitivity == -1 && m->specificity == -1 && m->flag_sensitivity == -1,
        "no grouping");
  dinet_metrics_free(m);
  /* bad label -> NULL, no crash */
  const int bad[1] = {7};
  CHECK(dinet_metrics_compute(probs, bad, 1, 3, NULL) == NULL, "bad label refused");
}

/* The screening flag sums the abnormal classes: a cell whose top class is
 * normal can still be flagged, which the top-class grouping misses. */
static void test_flag(void) {
  /* classes: 0 normal, 1 and 2 abnormal (two grades) */
  const float probs[5 * 3] = {
      0.40f, 0.35f, 0.25f, /* truth 1: top normal, P(abnormal) 0.60 -> flagged     */
      0.45f, 0.30f, 0.25f, /* truth 2: top normal, P(abnormal) 0.55 -> flagged     */
      0.70f, 0.20f, 0.10f, /* truth 1: top normal, P(abnormal) 0.30 -> not flagged */
      0.50f, 0.25f, 0.25f, /* truth 0: top normal, P(abnormal) 0.50 -> flagged (>=) */
      0.90f, 0.05f, 0.05f, /* truth 0: top normal, P(abnormal) 0.10 -> not flagged */
  };
  const int y[5] = {1, 2, 1, 0, 0};
  const int ab[3] = {0, 1, 1};
  CHECK(fabs(dinet_abnormal_probability(probs, ab, 3) - 0.60) < 1e-6, "P(abnormal) %g",
        dinet_abnormal_probability(probs, ab, 3));
  dinet_metrics *m = dinet_metrics_compute(probs, y, 5, 3, ab);
  CHECK(m != NULL, "metrics");
  if (!m)
    return;
  /* top class: all normal -> sensitivity 0/3, specificity 2/2, accuracy 2/5 */
  CHECK(m->sensitivity == 0 && m->specificity == 1, "top-class rule %g %g", m->sensitivity,
        m->specificity);
  CHECK(fabs(m->binary_accuracy - 0.4) < 1e-12, "top-class accuracy %g", m->binary_accuracy);
  /* flag: abnormal truths flagged 2 of 3, normal truths unflagged 1 of 2 */
  CHECK(fabs(m->flag_sensitivity - 2.0 / 3) < 1e-12, "flag sensitivity %g", m->flag_sensitivity);
  CHECK(fabs(m->flag_specificity - 0.5) < 1e-12, "flag specificity %g", m->flag_specificity);
  CHECK(fabs(m->flag_accuracy - 0.6) < 1e-12, "flag accuracy %g", m->flag_accuracy);
  dinet_metrics_free(m);
}

static void test_calibration(void) {
  /* Over-confident logits: right 70% of the time but with huge margins. */
  enum { N = 400, K = 4 };
  float *z = malloc(sizeof(float) * N * K);
  int *y = malloc(sizeof(int) * N);
  dinet_rng r;
  dinet_rng_seed(&r, 11);
  for (int i = 0; i < N; i++) {
    y[i] = (int)dinet_rng_below(&r, K);
    int pred = dinet_rng_uniform(&r) < 0.7 ? y[i] : (y[i] + 1 + (int)dinet_rng_below(&r, K - 1)) % K;
    for (int j = 0; j < K; j++)
      z[i * K + j] = (float)dinet_rng_normal(&r) * 0.5f + (j == pred ? 8.0f : 0.0f);
  }
  float t = dinet_fit_temperature(z, y, N, K);
  double before = dinet_nll(z, y, N, K, 1.0f), after = dinet_nll(z, y, N, K, t);
  CHECK(t > 1.5f, "temperature %g should soften over-confident logits", t);
  CHECK(after < before * 0.7, "NLL %g -> %g", before, after);
  /* the fitted T is a minimum */
  CHECK(after <= dinet_nll(z, y, N, K, t * 1.1f) + 1e-9 && after <= dinet_nll(z, y, N, K, t / 1.1f) + 1e-9,
        "not a minimum");
  /* calibrated probabilities have lower ECE */
  float *p1 = malloc(sizeof(float) * N * K), *p2 = malloc(sizeof(float) * N * K);
  dinet_softmax(z, N, K, 1.0f, p1);
  dinet_softmax(z, N, K, t, p2);
  dinet_metrics *m1 = dinet_metrics_compute(p1, y, N, K, NULL), *m2 = dinet_metrics_compute(p2, y, N, K, NULL);
  CHECK(m1 && m2 && m2->ece < m1->ece * 0.5, "ECE %g -> %g", m1 ? m1->ece : -1, m2 ? m2->ece : -1);
  CHECK(m1 && m2 && m1->accuracy == m2->accuracy, "temperature keeps the ranking");
  dinet_metrics_free(m1);
  dinet_metrics_free(m2);
  free(p1);
  free(p2);
  free(z);
  free(y);
}

int main(void) {
  test_confusion();
  test_flag();
  test_calibration();
  return tu_finish();
}
