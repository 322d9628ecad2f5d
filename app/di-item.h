/* di-item.h — one image of the gallery.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gdk/gdk.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_ITEM (di_item_get_type ())

G_DECLARE_FINAL_TYPE (DiItem, di_item, DI, ITEM, GObject)

DiItem       *di_item_new                 (GFile        *file);
GFile        *di_item_get_file            (DiItem       *self);
const char   *di_item_get_display_name    (DiItem       *self);
GdkPaintable *di_item_get_thumbnail       (DiItem       *self);
void          di_item_set_thumbnail       (DiItem       *self,
                                           GdkPaintable *thumbnail);
DiPrediction *di_item_get_prediction      (DiItem       *self);
void          di_item_set_prediction      (DiItem       *self,
                                           DiPrediction *prediction);
const char   *di_item_get_badge_label     (DiItem       *self);
double        di_item_get_suspicion       (DiItem       *self);
gboolean      di_item_get_suspicious      (DiItem       *self);
gboolean      di_item_get_views_split     (DiItem       *self);
double        di_item_get_margin          (DiItem       *self);
int           di_item_get_reviewer_class  (DiItem       *self);
void          di_item_set_reviewer_class  (DiItem       *self,
                                           int           reviewer_class);
const char   *di_item_get_reviewer_label  (DiItem       *self);
const char   *di_item_get_reviewer_name   (DiItem       *self);
void          di_item_set_reviewer_name   (DiItem       *self,
                                           const char   *name);
void          di_item_set_reviewer_label  (DiItem       *self,
                                           const char   *label);
gboolean      di_item_get_reviewed        (DiItem       *self);
const char   *di_item_get_note            (DiItem       *self);
void          di_item_set_note            (DiItem       *self,
                                           const char   *note);
const char   *di_item_get_error           (DiItem       *self);
void          di_item_set_error           (DiItem       *self,
                                           const char   *error);
gint64        di_item_get_case_id         (DiItem       *self);
void          di_item_set_case_id         (DiItem       *self,
                                           gint64        case_id);
int           di_item_get_case_status     (DiItem       *self);
void          di_item_set_case_status     (DiItem       *self,
                                           int           status);
gboolean      di_item_get_flagged         (DiItem       *self);
const char   *di_item_get_flag_text       (DiItem       *self);

G_END_DECLS
