/* di-field-scan.h — a multi-cell field tiled by a sliding window, and the
 * score of every tile.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cairo.h>
#include <glib-object.h>

#include "di-types.h"

G_BEGIN_DECLS

/* The smallest default window side, in image pixels. */
#define DI_FIELD_SCAN_MIN_WINDOW 64

#define DI_TYPE_FIELD_SCAN (di_field_scan_get_type ())

G_DECLARE_FINAL_TYPE (DiFieldScan, di_field_scan, DI, FIELD_SCAN, GObject)

int           di_field_scan_default_window (int           image_width,
                                            int           image_height);
DiFieldScan  *di_field_scan_new            (int           image_width,
                                            int           image_height,
                                            int           window,
                                            int           stride,
                                            DiModelInfo  *model);
int           di_field_scan_get_window     (DiFieldScan  *self);
int           di_field_scan_get_stride     (DiFieldScan  *self);
guint         di_field_scan_get_n_columns  (DiFieldScan  *self);
guint         di_field_scan_get_n_rows     (DiFieldScan  *self);
guint         di_field_scan_get_n_tiles    (DiFieldScan  *self);
void          di_field_scan_get_tile       (DiFieldScan  *self,
                                            guint         index,
                                            int          *x,
                                            int          *y,
                                            int          *width,
                                            int          *height);
int          *di_field_scan_dup_rects      (DiFieldScan  *self);
int           di_field_scan_tile_at        (DiFieldScan  *self,
                                            double        x,
                                            double        y);
DiModelInfo  *di_field_scan_get_model      (DiFieldScan  *self);
gboolean      di_field_scan_get_grouped    (DiFieldScan  *self);
const char   *di_field_scan_get_score_name (DiFieldScan  *self);
const char   *di_field_scan_get_legend_title (DiFieldScan *self);
void          di_field_scan_set_prediction (DiFieldScan  *self,
                                            guint         index,
                                            DiPrediction *prediction);
double        di_field_scan_get_score      (DiFieldScan  *self,
                                            guint         index);
guint         di_field_scan_get_n_done     (DiFieldScan  *self);
gboolean      di_field_scan_get_complete   (DiFieldScan  *self);
double        di_field_scan_get_max_score  (DiFieldScan  *self);
int           di_field_scan_get_max_tile   (DiFieldScan  *self);
char         *di_field_scan_dup_caption    (DiFieldScan  *self);
void          di_field_scan_draw           (DiFieldScan  *self,
                                            cairo_t      *cr,
                                            DiColormap    colormap,
                                            double        opacity);

G_END_DECLS
