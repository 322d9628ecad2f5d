/* di-prediction.c — class probabilities (temperature-scaled softmax of the
 * logits), the normal/abnormal score and the top-1/top-2 margin.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-prediction"

#include "config.h"

#include <dinet/dinet.h>

#include "di-model-info.h"
#include "di-prediction.h"
#include "di-types.h"

struct _DiPrediction
{
  DiModelInfo *model;
  float *logits;
  float *probs;
  int n_classes;
  int top;
  double abnormal;   /* P(abnormal), or -1 when the model has no grouping */
  double margin;     /* p(top1) - p(top2) */
  int n_views;       /* views the probabilities are the mean of; 0: not known */
  int *view_top;     /* each view's top class (n_views) */
};

G_DEFINE_BOXED_TYPE (DiPrediction, di_prediction, di_prediction_ref, di_prediction_unref)

static void
di_prediction_free (DiPrediction *self)
{
  g_clear_pointer (&self->model, di_model_info_unref);
  g_free (self->logits);
  g_free (self->probs);
  g_free (self->view_top);
}

/**
 * di_prediction_new:
 * @model: the model that produced @logits
 * @logits: (array): one logit per class of @model
 *
 * Returns: (transfer full): the prediction
 */
DiPrediction *
di_prediction_new (DiModelInfo *model,
                   const float *logits)
{
  return di_prediction_new_with_views (model, logits, 0, NULL);
}

/**
 * di_prediction_new_with_views:
 * @model: the model that produced @logits
 * @logits: (array): one logit per class of @model (with several views, the
 *   log of their mean probability)
 * @n_views: how many views @logits stand for (0: not known)
 * @view_top: (array length=n_views) (nullable): each view's top class
 *
 * Returns: (transfer full): the prediction
 */
DiPrediction *
di_prediction_new_with_views (DiModelInfo *model,
                              const float *logits,
                              int          n_views,
                              const int   *view_top)
{
  DiPrediction *self;
  int k;
  double second = 0;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (logits != NULL, NULL);

  k = di_model_info_get_n_classes (model);
  self = g_atomic_rc_box_new0 (DiPrediction);
  self->model = di_model_info_ref (model);
  self->n_classes = k;
  self->logits = g_memdup2 (logits, sizeof (float) * k);
  self->probs = g_new0 (float, k);
  dinet_softmax (logits, 1, k, (float)di_model_info_get_temperature (model), self->probs);

  self->top = 0;
  for (int i = 1; i < k; i++)
    if (self->probs[i] > self->probs[self->top])
      self->top = i;
  for (int i = 0; i < k; i++)
    if (i != self->top && self->probs[i] > second)
      second = self->probs[i];
  self->margin = self->probs[self->top] - second;
  if (n_views > 0 && view_top != NULL)
    {
      self->n_views = n_views;
      self->view_top = g_new (int, n_views);
      for (int d = 0; d < n_views; d++)
        self->view_top[d] = view_top[d] >= 0 && view_top[d] < k ? view_top[d] : -1;
    }

  /* the engine's sum, as `dinet eval` counts the screening flag */
  self->abnormal = di_model_info_has_grouping (model)
                     ? dinet_abnormal_probability (self->probs, _di_model_info_get_class_groups (model), k)
                     : -1;

  return self;
}

DiPrediction *
di_prediction_ref (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_atomic_rc_box_acquire (self);
}

void
di_prediction_unref (DiPrediction *self)
{
  g_return_if_fail (self != NULL);
  g_atomic_rc_box_release_full (self, (GDestroyNotify)di_prediction_free);
}

/**
 * di_prediction_get_model:
 *
 * Returns: (transfer none): the model
 */
DiModelInfo *
di_prediction_get_model (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->model;
}

int
di_prediction_get_n_classes (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_classes;
}

int
di_prediction_get_top (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->top;
}

const char *
di_prediction_get_top_name (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return di_model_info_get_class_name (self->model, self->top);
}

/**
 * di_prediction_get_n_views:
 *
 * Returns: how many views (rotations and mirror images of the image) the
 *   prediction is the mean of, with their top classes known; 0 when not known
 *   (a prediction read from a case written before views were kept)
 */
int
di_prediction_get_n_views (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_views;
}

/**
 * di_prediction_get_view_top:
 * @index: a view, below di_prediction_get_n_views()
 *
 * Returns: the class that view alone puts first (-1: not a class of the model)
 */
int
di_prediction_get_view_top (DiPrediction *self,
                            int           index)
{
  g_return_val_if_fail (self != NULL, -1);
  g_return_val_if_fail (index >= 0 && index < self->n_views, -1);
  return self->view_top[index];
}

/**
 * di_prediction_get_views_agreeing:
 *
 * Returns: how many of the views put the prediction's top class first (all of
 *   them: the views agree); 0 when the views are not known
 */
int
di_prediction_get_views_agreeing (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return dinet_views_agreeing (self->view_top, self->n_views, self->top);
}

/**
 * di_prediction_get_views_split:
 *
 * Returns: %TRUE when the prediction is the mean of several views that do
 *   not all put its class first
 */
gboolean
di_prediction_get_views_split (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->n_views > 1 && di_prediction_get_views_agreeing (self) < self->n_views;
}

/**
 * di_prediction_dup_views_text:
 *
 * Returns: (transfer full) (nullable): how the views voted
 *   (di_views_dup_text()), or %NULL for a prediction from one view or from
 *   views not kept
 */
char *
di_prediction_dup_views_text (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return di_views_dup_text ((const char * const *)di_model_info_get_class_names (self->model),
                            self->n_classes, self->top, self->n_views, self->view_top);
}

double
di_prediction_get_probability (DiPrediction *self,
                               int           index)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (index >= 0 && index < self->n_classes, 0);
  return self->probs[index];
}

double
di_prediction_get_logit (DiPrediction *self,
                         int           index)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (index >= 0 && index < self->n_classes, 0);
  return self->logits[index];
}

/**
 * di_prediction_get_abnormal:
 *
 * Returns: the summed probability of the classes the model calls abnormal,
 *   or -1 when the model does not group its classes
 */
double
di_prediction_get_abnormal (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->abnormal;
}

/**
 * di_prediction_get_suspicious:
 *
 * The screening flag, as `dinet eval` counts it (not the case's flag on a
 * missing or changed file): P(abnormal) is at least
 * %DINET_FLAG_THRESHOLD, whatever the top class is. A cell whose top class
 * is normal can be flagged when the abnormal probability is split over
 * several abnormal classes.
 *
 * Returns: %TRUE when suspicious; %FALSE when not, or when the model does not
 *   group its classes
 */
gboolean
di_prediction_get_suspicious (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->abnormal >= DINET_FLAG_THRESHOLD;
}

double
di_prediction_get_margin (DiPrediction *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->margin;
}

static int
compare_desc (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  const float *p = user_data;
  float pa = p[*(const int *)a], pb = p[*(const int *)b];

  if (pa != pb)
    return pa > pb ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

/**
 * di_prediction_dup_order:
 *
 * Returns: (transfer full): class indices, most probable first
 */
int *
di_prediction_dup_order (DiPrediction *self)
{
  int *order;

  g_return_val_if_fail (self != NULL, NULL);

  order = g_new (int, self->n_classes);
  for (int i = 0; i < self->n_classes; i++)
    order[i] = i;
  g_qsort_with_data (order, self->n_classes, sizeof (int), compare_desc, self->probs);

  return order;
}
