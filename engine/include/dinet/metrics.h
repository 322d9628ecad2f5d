/* metrics.h — classification metrics from predictions. */
#ifndef DINET_METRICS_H
#define DINET_METRICS_H

#ifdef __cplusplus
extern "C" {
#endif

#define DINET_ECE_BINS 15

typedef struct dinet_metrics {
  int k;              /* classes */
  int n;              /* samples */
  int *confusion;     /* k x k, row = true class, column = predicted */
  double accuracy;
  double balanced_accuracy; /* mean recall */
  double macro_f1;
  double *precision, *recall, *f1; /* [k] */
  int *support;       /* [k] */
  double nll;         /* mean negative log-likelihood */
  double ece;         /* expected calibration error, 15 equal-width bins */
  /* binary normal/abnormal, when a grouping is given (else -1) */
  double sensitivity; /* abnormal recall */
  double specificity; /* normal recall */
  double binary_accuracy;
  /* the same for the screening flag: abnormal when P(abnormal) (the sum of the
   * abnormal classes' probabilities) >= DINET_FLAG_THRESHOLD, whatever the top
   * class is (else -1) */
  double flag_sensitivity, flag_specificity, flag_accuracy;
} dinet_metrics;

/* The screening flag's threshold on P(abnormal): the Bayes decision for the
 * binary question when the probabilities are calibrated. */
#define DINET_FLAG_THRESHOLD 0.5

/* P(abnormal) of one probability row p[k]: the sum over the classes with
 * abnormal[j] == 1. */
double dinet_abnormal_probability(const float *p, const int *abnormal, int k);

/* probs: n x k rows (softmax output), labels: n true classes,
 * abnormal: k flags (1 abnormal, 0 normal) or NULL. Returns NULL on
 * allocation failure or bad arguments. */
dinet_metrics *dinet_metrics_compute(const float *probs, const int *labels, int n, int k,
                                     const int *abnormal);
void dinet_metrics_free(dinet_metrics *m);

/* Temperature T > 0 minimising the NLL of softmax(logits / T) (golden-section
 * search on log T in [0.05, 20]). */
float dinet_fit_temperature(const float *logits, const int *labels, int n, int k);
/* Mean NLL of softmax(logits / T). */
double dinet_nll(const float *logits, const int *labels, int n, int k, float t);

#ifdef __cplusplus
}
#endif
#endif
