/* metrics.c — confusion-matrix metrics, calibration error, temperature. */
#include <math.h>
#include <stdlib.h>

#include "dinet/dinet.h"

void dinet_metrics_free(dinet_metrics *m) {
  if (!m)
    return;
  free(m->confusion);
  free(m->precision);
  free(m->recall);
  free(m->f1);
  free(m->support);
  free(m);
}

double dinet_abnormal_probability(const float *p, const int *abnormal, int k) {
  double s = 0;
  for (int j = 0; j < k; j++)
    if (abnormal[j] == 1)
      s += p[j];
  return s;
}

/* Binary rates from counts; -1 where the denominator is empty. */
static void binary_rates(int tp, int fn, int tn, int fp, int n, double *sens, double *spec,
                         double *acc) {
  *sens = tp + fn ? (double)tp / (tp + fn) : -1;
  *spec = tn + fp ? (double)tn / (tn + fp) : -1;
  *acc = n ? (double)(tp + tn) / n : -1;
}

dinet_metrics *dinet_metrics_compute(const float *probs, const int *labels, int n, int k,
                                     const int *abnormal) {
  if (n < 0 || k < 1)
    return NULL;
  dinet_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->k = k;
  m->n = n;
  m->confusion = calloc((size_t)k * k, sizeof(int));
  m->precision = calloc((size_t)k, sizeof(double));
  m->recall = calloc((size_t)k, sizeof(double));
  m->f1 = calloc((size_t)k, sizeof(double));
  m->support = calloc((size_t)k, sizeof(int));
  if (!m->confusion || !m->precision || !m->recall || !m->f1 || !m->support) {
    dinet_metrics_free(m);
    return NULL;
  }
  double bin_conf[DINET_ECE_BINS] = {0}, bin_acc[DINET_ECE_BINS] = {0};
  int bin_n[DINET_ECE_BINS] = {0};
  double nll = 0;
  int correct = 0, tp = 0, fn = 0, tn = 0, fp = 0;
  int ftp = 0, ffn = 0, ftn = 0, ffp = 0; /* screening flag */
  for (int i = 0; i < n; i++) {
    const float *p = probs + (size_t)i * k;
    int y = labels[i], top = 0;
    if (y < 0 || y >= k) {
      dinet_metrics_free(m);
      return NULL;
    }
    for (int j = 1; j < k; j++)
      if (p[j] > p[top])
        top = j;
    m->confusion[y * k + top]++;
    m->support[y]++;
    correct += top == y;
    nll -= log(fmax(p[y], 1e-12));
    int b = (int)(p[top] * DINET_ECE_BINS);
    b = b < 0 ? 0 : b >= DINET_ECE_BINS ? DINET_ECE_BINS - 1 : b;
    bin_conf[b] += p[top];
    bin_acc[b] += top == y;
    bin_n[b]++;
    if (abnormal) {
      int ya = abnormal[y], pa = abnormal[top];
      tp += ya && pa;
      fn += ya && !pa;
      tn += !ya && !pa;
      fp += !ya && pa;
      int fa = dinet_abnormal_probability(p, abnormal, k) >= DINET_FLAG_THRESHOLD;
      ftp += ya && fa;
      ffn += ya && !fa;
      ftn += !ya && !fa;
      ffp += !ya && fa;
    }
  }
  m->accuracy = n ? (double)correct / n : 0;
  m->nll = n ? nll / n : 0;
  double ece = 0;
  for (int b = 0; b < DINET_ECE_BINS; b++)
    if (bin_n[b])
      ece += fabs(bin_acc[b] / bin_n[b] - bin_conf[b] / bin_n[b]) * bin_n[b];
  m->ece = n ? ece / n : 0;
  double sum_f1 = 0, sum_rec = 0;
  int present = 0;
  for (int c = 0; c < k; c++) {
    int tpc = m->confusion[c * k + c], col = 0;
    for (int r = 0; r < k; r++)
      col += m->confusion[r * k + c];
    m->precision[c] = col ? (double)tpc / col : 0;
    m->recall[c] = m->support[c] ? (double)tpc / m->support[c] : 0;
    double pr = m->precision[c] + m->recall[c];
    m->f1[c] = pr > 0 ? 2 * m->precision[c] * m->recall[c] / pr : 0;
    if (m->support[c]) { /* macro averages over classes present in the data */
      sum_f1 += m->f1[c];
      sum_rec += m->recall[c];
      present++;
    }
  }
  m->macro_f1 = present ? sum_f1 / present : 0;
  m->balanced_accuracy = present ? sum_rec / present : 0;
  m->sensitivity = m->specificity = m->binary_accuracy = -1;
  m->flag_sensitivity = m->flag_specificity = m->flag_accuracy = -1;
  if (abnormal) {
    binary_rates(tp, fn, tn, fp, n, &m->sensitivity, &m->specificity, &m->binary_accuracy);
    binary_rates(ftp, ffn, ftn, ffp, n, &m->flag_sensitivity, &m->flag_specificity,
                 &m->flag_accuracy);
  }
  return m;
}

double dinet_nll(const float *logits, const int *labels, int n, int k, float t) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    double mx = z[0] / t;
    for (int j = 1; j < k; j++)
      mx = fmax(mx, z[j] / t);
    double e = 0;
    for (int j = 0; j < k; j++)
      e += exp(z[j] / t - mx);
    s += -(z[labels[i]] / t - mx - log(e));
  }
  return n ? s / n : 0;
}

float dinet_fit_temperature(const float *logits, const int *labels, int n, int k) {
  double a = log(0.05), b = log(20.0);
  const double g = (sqrt(5.0) - 1) / 2;
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = dinet_nll(logits, labels, n, k, (float)exp(c));
  double fd = dinet_nll(logits, labels, n, k, (float)exp(d));
  for (int it = 0; it < 60; it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = dinet_nll(logits, labels, n, k, (float)exp(c));
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = dinet_nll(logits, labels, n, k, (float)exp(d));
    }
  }
  return (float)exp((a + b) / 2);
}
