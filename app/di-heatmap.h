/* di-heatmap.h — an explanation map and the one function that draws it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cairo.h>
#include <glib-object.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_HEATMAP (di_heatmap_get_type ())

G_DECLARE_FINAL_TYPE (DiHeatmap, di_heatmap, DI, HEATMAP, GObject)

/* Largest side of the cached coloured raster. */
#define DI_HEATMAP_MAX_RASTER 1024

DiHeatmap       *di_heatmap_new            (const float     *values,
                                            int              width,
                                            int              height,
                                            DiExplainMethod  method,
                                            int              stage,
                                            int              target);
int              di_heatmap_get_width      (DiHeatmap       *self);
int              di_heatmap_get_height     (DiHeatmap       *self);
const float     *di_heatmap_get_values     (DiHeatmap       *self);
DiExplainMethod  di_heatmap_get_method     (DiHeatmap       *self);
int              di_heatmap_get_stage      (DiHeatmap       *self);
int              di_heatmap_get_target     (DiHeatmap       *self);
float            di_heatmap_get_max        (DiHeatmap       *self);
gboolean         di_heatmap_has_evidence   (DiHeatmap       *self);
double           di_heatmap_sample         (DiHeatmap       *self,
                                            double           u,
                                            double           v);
void             di_heatmap_draw           (DiHeatmap       *self,
                                            cairo_t         *cr,
                                            double           x,
                                            double           y,
                                            double           width,
                                            double           height,
                                            int              raster_width,
                                            int              raster_height,
                                            DiColormap       colormap,
                                            double           opacity,
                                            gboolean         nearest);
guint            di_heatmap_get_raster_builds (DiHeatmap    *self);
void             di_heatmap_draw_cells     (cairo_t         *cr,
                                            const double    *x_edges,
                                            guint            n_columns,
                                            const double    *y_edges,
                                            guint            n_rows,
                                            const float     *values,
                                            DiColormap       colormap,
                                            double           opacity);

/* Helpers shared with the tests and the legend. */
const guint8    *di_colormap_lut           (DiColormap       colormap);
gboolean         di_heatmap_normalize      (const float     *values,
                                            gsize            n,
                                            float           *out);
cairo_surface_t *di_heatmap_render_raster  (const float     *normalized,
                                            int              map_width,
                                            int              map_height,
                                            int              width,
                                            int              height,
                                            DiColormap       colormap);
void             di_heatmap_draw_legend    (cairo_t         *cr,
                                            DiColormap       colormap,
                                            double           x,
                                            double           y,
                                            double           width,
                                            double           height);
void             di_heatmap_draw_legend_labelled (cairo_t   *cr,
                                            DiColormap       colormap,
                                            double           x,
                                            double           y,
                                            double           width,
                                            double           height,
                                            const char      *low,
                                            const char      *high);

G_END_DECLS
