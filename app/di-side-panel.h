/* di-side-panel.h — prediction, explanation controls and review.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_SIDE_PANEL (di_side_panel_get_type ())

G_DECLARE_FINAL_TYPE (DiSidePanel, di_side_panel, DI, SIDE_PANEL, GtkWidget)

GtkWidget       *di_side_panel_new                 (void);
DiModelInfo     *di_side_panel_get_model_info      (DiSidePanel     *self);
void             di_side_panel_set_model_info      (DiSidePanel     *self,
                                                    DiModelInfo     *model);
DiItem          *di_side_panel_get_item            (DiSidePanel     *self);
void             di_side_panel_set_item            (DiSidePanel     *self,
                                                    DiItem          *item);
DiExplainMethod  di_side_panel_get_method          (DiSidePanel     *self);
void             di_side_panel_set_method          (DiSidePanel     *self,
                                                    DiExplainMethod  method);
int              di_side_panel_get_stage           (DiSidePanel     *self);
void             di_side_panel_set_stage           (DiSidePanel     *self,
                                                    int              stage);
int              di_side_panel_get_target          (DiSidePanel     *self);
void             di_side_panel_set_target          (DiSidePanel     *self,
                                                    int              target);
DiColormap       di_side_panel_get_colormap        (DiSidePanel     *self);
void             di_side_panel_set_colormap        (DiSidePanel     *self,
                                                    DiColormap       colormap);
double           di_side_panel_get_overlay_opacity (DiSidePanel     *self);
void             di_side_panel_set_overlay_opacity (DiSidePanel     *self,
                                                    double           opacity);
gboolean         di_side_panel_get_overlay_visible (DiSidePanel     *self);
void             di_side_panel_set_overlay_visible (DiSidePanel     *self,
                                                    gboolean         visible);
const char      *di_side_panel_get_top_class_text  (DiSidePanel     *self);
const char      *di_side_panel_get_probability_text (DiSidePanel    *self);
const char      *di_side_panel_get_views_text       (DiSidePanel    *self);
gboolean         di_side_panel_get_explanation_sensitive (DiSidePanel *self);
const char      *di_side_panel_get_review_text     (DiSidePanel     *self);
int              di_side_panel_get_ticked_class    (DiSidePanel     *self);
gboolean         di_side_panel_get_cbam_available  (DiSidePanel     *self);
void             di_side_panel_set_history         (DiSidePanel     *self,
                                                    GPtrArray       *history);
char            *di_side_panel_dup_history_text    (DiSidePanel     *self);
const char      *di_side_panel_get_flag_text       (DiSidePanel     *self);
const char      *di_side_panel_get_abnormal_text   (DiSidePanel     *self);
DiRegion        *di_side_panel_get_region          (DiSidePanel     *self);
void             di_side_panel_set_region          (DiSidePanel     *self,
                                                    DiRegion        *region);
const char      *di_side_panel_get_region_text     (DiSidePanel     *self);

typedef enum {
  DI_FAITHFULNESS_NONE,
  DI_FAITHFULNESS_MEASURING,
  DI_FAITHFULNESS_KNOWN,
} DiFaithfulnessState;

void             di_side_panel_set_faithfulness      (DiSidePanel        *self,
                                                      DiFaithfulnessState state,
                                                      double              deletion,
                                                      double              insertion);
const char      *di_side_panel_get_faithfulness_text (DiSidePanel        *self);
const char      *di_side_panel_get_method_note       (DiSidePanel        *self);

G_END_DECLS
