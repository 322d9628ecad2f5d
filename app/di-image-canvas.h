/* di-image-canvas.h — the zoomable image view with its overlay.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-case.h"
#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_IMAGE_CANVAS (di_image_canvas_get_type ())

G_DECLARE_FINAL_TYPE (DiImageCanvas, di_image_canvas, DI, IMAGE_CANVAS, GtkWidget)

#define DI_CANVAS_MIN_ZOOM 0.02
#define DI_CANVAS_MAX_ZOOM 32.0

GtkWidget  *di_image_canvas_new                 (void);
DiImage    *di_image_canvas_get_image           (DiImageCanvas *self);
void        di_image_canvas_set_image           (DiImageCanvas *self,
                                                 DiImage       *image);
DiHeatmap  *di_image_canvas_get_heatmap         (DiImageCanvas *self);
void        di_image_canvas_set_heatmap         (DiImageCanvas *self,
                                                 DiHeatmap     *heatmap,
                                                 double         center_crop);
gboolean    di_image_canvas_get_overlay_visible (DiImageCanvas *self);
void        di_image_canvas_set_overlay_visible (DiImageCanvas *self,
                                                 gboolean       visible);
double      di_image_canvas_get_overlay_opacity (DiImageCanvas *self);
void        di_image_canvas_set_overlay_opacity (DiImageCanvas *self,
                                                 double         opacity);
DiColormap  di_image_canvas_get_colormap        (DiImageCanvas *self);
void        di_image_canvas_set_colormap        (DiImageCanvas *self,
                                                 DiColormap     colormap);
double      di_image_canvas_get_zoom            (DiImageCanvas *self);
void        di_image_canvas_set_zoom            (DiImageCanvas *self,
                                                 double         zoom);
void        di_image_canvas_zoom_at             (DiImageCanvas *self,
                                                 double         zoom,
                                                 double         x,
                                                 double         y);
gboolean    di_image_canvas_get_best_fit        (DiImageCanvas *self);
void        di_image_canvas_zoom_best_fit       (DiImageCanvas *self);
void        di_image_canvas_zoom_in             (DiImageCanvas *self);
void        di_image_canvas_zoom_out            (DiImageCanvas *self);
void        di_image_canvas_get_offset          (DiImageCanvas *self,
                                                 double        *x,
                                                 double        *y);
void        di_image_canvas_pan                 (DiImageCanvas *self,
                                                 double         dx,
                                                 double         dy);
void        di_image_canvas_get_overlay_rect    (DiImageCanvas *self,
                                                 int           *x,
                                                 int           *y,
                                                 int           *width,
                                                 int           *height);
DiRegion   *di_image_canvas_get_region          (DiImageCanvas *self);
void        di_image_canvas_set_region          (DiImageCanvas *self,
                                                 DiRegion      *region);
DiFieldScan *di_image_canvas_get_field_scan     (DiImageCanvas *self);
void        di_image_canvas_set_field_scan      (DiImageCanvas *self,
                                                 DiFieldScan   *scan);
void        di_image_canvas_set_saved_regions   (DiImageCanvas *self,
                                                 GPtrArray     *regions);
guint       di_image_canvas_get_n_saved_regions (DiImageCanvas *self);
const DiCaseRegion *di_image_canvas_get_saved_region    (DiImageCanvas *self,
                                                         guint          index);
const DiCaseRegion *di_image_canvas_get_saved_region_at (DiImageCanvas *self,
                                                         double         x,
                                                         double         y);
gboolean    di_image_canvas_get_select_mode     (DiImageCanvas *self);
void        di_image_canvas_set_select_mode     (DiImageCanvas *self,
                                                 gboolean       select_mode);
gboolean    di_image_canvas_get_selecting       (DiImageCanvas *self);
gboolean    di_image_canvas_cancel_selection    (DiImageCanvas *self);
gboolean    di_image_canvas_select_rect         (DiImageCanvas *self,
                                                 double         x0,
                                                 double         y0,
                                                 double         x1,
                                                 double         y1);
void        di_image_canvas_widget_to_image     (DiImageCanvas *self,
                                                 double         x,
                                                 double         y,
                                                 double        *image_x,
                                                 double        *image_y);
void        di_image_canvas_image_to_widget     (DiImageCanvas *self,
                                                 double         image_x,
                                                 double         image_y,
                                                 double        *x,
                                                 double        *y);
void        di_image_canvas_draw                (DiImageCanvas *self,
                                                 cairo_t       *cr,
                                                 int            width,
                                                 int            height);

G_END_DECLS
