/* di-prediction.h — class probabilities of one image.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_PREDICTION (di_prediction_get_type ())

GType         di_prediction_get_type        (void) G_GNUC_CONST;
DiPrediction *di_prediction_new             (DiModelInfo  *model,
                                             const float  *logits);
DiPrediction *di_prediction_new_with_views  (DiModelInfo  *model,
                                             const float  *logits,
                                             int           n_views,
                                             const int    *view_top);
DiPrediction *di_prediction_ref             (DiPrediction *self);
void          di_prediction_unref           (DiPrediction *self);
DiModelInfo  *di_prediction_get_model       (DiPrediction *self);
int           di_prediction_get_n_classes   (DiPrediction *self);
int           di_prediction_get_top         (DiPrediction *self);
const char   *di_prediction_get_top_name    (DiPrediction *self);
int           di_prediction_get_n_views     (DiPrediction *self);
int           di_prediction_get_view_top    (DiPrediction *self,
                                             int           index);
int           di_prediction_get_views_agreeing (DiPrediction *self);
gboolean      di_prediction_get_views_split (DiPrediction *self);
char         *di_prediction_dup_views_text  (DiPrediction *self);
double        di_prediction_get_probability (DiPrediction *self,
                                             int           index);
double        di_prediction_get_logit       (DiPrediction *self,
                                             int           index);
double        di_prediction_get_abnormal    (DiPrediction *self);
gboolean      di_prediction_get_suspicious  (DiPrediction *self);
double        di_prediction_get_margin      (DiPrediction *self);
int          *di_prediction_dup_order       (DiPrediction *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiPrediction, di_prediction_unref)

G_END_DECLS
