/* di-region.h — a rectangle of an image, classified on its own.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include <cairo.h>
#include <pango/pango.h>

#include "di-case.h"
#include "di-types.h"

G_BEGIN_DECLS

/* The smallest side of a region, in image pixels. */
#define DI_REGION_MIN_SIZE 16

#define DI_TYPE_REGION (di_region_get_type ())

G_DECLARE_FINAL_TYPE (DiRegion, di_region, DI, REGION, GObject)

DiRegion     *di_region_new            (int           x,
                                        int           y,
                                        int           width,
                                        int           height);
gboolean      di_region_normalize      (double        x0,
                                        double        y0,
                                        double        x1,
                                        double        y1,
                                        int           image_width,
                                        int           image_height,
                                        int          *x,
                                        int          *y,
                                        int          *width,
                                        int          *height);
int           di_region_get_x          (DiRegion     *self);
int           di_region_get_y          (DiRegion     *self);
int           di_region_get_width      (DiRegion     *self);
int           di_region_get_height     (DiRegion     *self);
gboolean      di_region_contains       (DiRegion     *self,
                                        double        x,
                                        double        y);
gboolean      di_region_has_rect       (DiRegion     *self,
                                        double        x,
                                        double        y,
                                        double        width,
                                        double        height);
char         *di_region_dup_label      (DiRegion     *self);
DiPrediction *di_region_get_prediction (DiRegion     *self);
DiHeatmap    *di_region_get_heatmap    (DiRegion     *self);
void          di_region_set_result     (DiRegion     *self,
                                        DiPrediction *prediction,
                                        DiHeatmap    *heatmap);
const char   *di_region_get_error      (DiRegion     *self);
void          di_region_set_error      (DiRegion     *self,
                                        const char   *error);
gint64        di_region_get_case_id    (DiRegion     *self);
void          di_region_set_case_id    (DiRegion     *self,
                                        gint64        case_id);

/* A region saved in the case, as the canvas and the report draw it. */
const char   *di_region_get_saved_label (const DiCaseRegion *saved);
void          di_region_draw_saved     (cairo_t            *cr,
                                        PangoLayout        *layout,
                                        const DiCaseRegion *saved,
                                        double              zoom,
                                        double              top);

G_END_DECLS
