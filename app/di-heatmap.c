/* di-heatmap.c — explanation maps: normalisation, bilinear upsampling,
 * colormaps and the legend. Everything that puts a map on a cairo_t goes
 * through di_heatmap_draw() / di_heatmap_draw_legend(), on screen and in
 * printed reports alike.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-heatmap"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "di-heatmap.h"

#include "dinet/render.h"

struct _DiHeatmap
{
  GObject parent_instance;

  /* Owned References */
  float *values;         /* [height][width], as the engine returned it */
  float *normalized;     /* [height][width] in [0, 1]; NULL without evidence */
  cairo_surface_t *raster;

  int width;
  int height;
  DiExplainMethod method;
  int stage;
  int target;
  float max;
  gboolean evidence;

  /* What the cached raster was built for. */
  int raster_width;
  int raster_height;
  DiColormap raster_colormap;
  guint raster_builds;
};

G_DEFINE_FINAL_TYPE (DiHeatmap, di_heatmap, G_TYPE_OBJECT)

static void
di_heatmap_finalize (GObject *object)
{
  DiHeatmap *self = (DiHeatmap *)object;

  g_clear_pointer (&self->values, g_free);
  g_clear_pointer (&self->normalized, g_free);
  g_clear_pointer (&self->raster, cairo_surface_destroy);

  G_OBJECT_CLASS (di_heatmap_parent_class)->finalize (object);
}

static void
di_heatmap_class_init (DiHeatmapClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = di_heatmap_finalize;
}

static void
di_heatmap_init (DiHeatmap *self)
{
}

G_STATIC_ASSERT ((int) DI_COLORMAP_VIRIDIS == (int) DINET_COLORMAP_VIRIDIS);
G_STATIC_ASSERT ((int) DI_COLORMAP_INFERNO == (int) DINET_COLORMAP_INFERNO);
G_STATIC_ASSERT ((int) DI_COLORMAP_TURBO == (int) DINET_COLORMAP_TURBO);
G_STATIC_ASSERT ((int) DI_COLORMAP_JET == (int) DINET_COLORMAP_JET);
G_STATIC_ASSERT (DI_N_COLORMAPS == DINET_COLORMAP_COUNT);

/**
 * di_colormap_lut:
 * @colormap: a colormap
 *
 * The engine's 8-bit table (RGB order), so that the viewer, the PDF
 * report and `dinet explain --png` paint the same colours. Built once.
 *
 * Returns: (array fixed-size=768): 256 RGB triples
 */
const guint8 *
di_colormap_lut (DiColormap colormap)
{
  static guint8 luts[DI_N_COLORMAPS][256][3];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      for (int i = 0; i < DI_N_COLORMAPS; i++)
        dinet_colormap_lut ((dinet_colormap) i, luts[i]);
      g_once_init_leave (&initialized, 1);
    }

  if ((guint) colormap >= DI_N_COLORMAPS)
    colormap = DI_COLORMAP_VIRIDIS;

  return &luts[colormap][0][0];
}

/**
 * di_heatmap_normalize:
 * @values: (array length=n): a map
 * @n: number of values
 * @out: (out caller-allocates) (array length=n): values scaled to [0, 1]
 *
 * The engine's normalisation (dinet_map_normalize(), as `dinet explain
 * --png` uses it): negative values are clipped to zero, then min-max. A map
 * with no positive value, a non-finite value or (almost) no spread carries
 * no evidence: then @out is all zero and the function returns %FALSE so
 * that the caller says so instead of stretching noise over the whole
 * colormap.
 */
gboolean
di_heatmap_normalize (const float *values,
                      gsize        n,
                      float       *out)
{
  return dinet_map_normalize (values, n, out) == 0;
}

/**
 * di_heatmap_new:
 * @values: (array): @width x @height values, row-major; copied
 *
 * Returns: (transfer full): a new map
 */
DiHeatmap *
di_heatmap_new (const float     *values,
                int              width,
                int              height,
                DiExplainMethod  method,
                int              stage,
                int              target)
{
  DiHeatmap *self;
  gsize n;

  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  n = (gsize)width * height;
  self = g_object_new (DI_TYPE_HEATMAP, NULL);
  self->values = g_memdup2 (values, n * sizeof (float));
  self->width = width;
  self->height = height;
  self->method = method;
  self->stage = stage;
  self->target = target;
  self->max = -INFINITY;
  for (gsize i = 0; i < n; i++)
    self->max = MAX (self->max, values[i]);

  self->normalized = g_new (float, n);
  self->evidence = di_heatmap_normalize (values, n, self->normalized);
  if (!self->evidence)
    g_clear_pointer (&self->normalized, g_free);

  return self;
}

int
di_heatmap_get_width (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), 0);
  return self->width;
}

int
di_heatmap_get_height (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), 0);
  return self->height;
}

/**
 * di_heatmap_get_values:
 *
 * Returns: (transfer none): the raw map, width x height
 */
const float *
di_heatmap_get_values (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), NULL);
  return self->values;
}

DiExplainMethod
di_heatmap_get_method (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), DI_EXPLAIN_GRADCAM);
  return self->method;
}

int
di_heatmap_get_stage (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), 0);
  return self->stage;
}

int
di_heatmap_get_target (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), -1);
  return self->target;
}

float
di_heatmap_get_max (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), 0.0f);
  return self->max;
}

/**
 * di_heatmap_has_evidence:
 *
 * Returns: %FALSE when the map's maximum is <= 0, when it is flat or not
 *   finite: there is nothing to show for the target class.
 */
gboolean
di_heatmap_has_evidence (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), FALSE);
  return self->evidence;
}

/* Bilinear sample of a w x h map at continuous map coordinates whose pixel
 * centres are at i + 0.5 (align_corners = false, as OpenCV and PyTorch). */
static inline float
sample_bilinear (const float *map,
                 int          w,
                 int          h,
                 double       mx,
                 double       my)
{
  double fx = CLAMP (mx - 0.5, 0.0, (double)(w - 1));
  double fy = CLAMP (my - 0.5, 0.0, (double)(h - 1));
  int x0 = (int)fx, y0 = (int)fy;
  int x1 = MIN (x0 + 1, w - 1), y1 = MIN (y0 + 1, h - 1);
  float ax = (float)(fx - x0), ay = (float)(fy - y0);
  float top = map[y0 * w + x0] * (1 - ax) + map[y0 * w + x1] * ax;
  float bot = map[y1 * w + x0] * (1 - ax) + map[y1 * w + x1] * ax;

  return top * (1 - ay) + bot * ay;
}

/**
 * di_heatmap_sample:
 * @u: horizontal position over the map, 0 (left edge) .. 1 (right edge)
 * @v: vertical position, 0 (top) .. 1 (bottom)
 *
 * Returns: the normalised, bilinearly interpolated value there, or -1 when
 *   the map has no evidence.
 */
double
di_heatmap_sample (DiHeatmap *self,
                   double     u,
                   double     v)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), -1);

  if (!self->evidence)
    return -1;

  return sample_bilinear (self->normalized, self->width, self->height,
                          u * self->width, v * self->height);
}

/**
 * di_heatmap_render_raster:
 * @normalized: a map in [0, 1]
 *
 * Upsamples the map bilinearly to @width x @height and colours it.
 *
 * Returns: (transfer full): an opaque CAIRO_FORMAT_RGB24 surface
 */
cairo_surface_t *
di_heatmap_render_raster (const float *normalized,
                          int          map_width,
                          int          map_height,
                          int          width,
                          int          height,
                          DiColormap   colormap)
{
  const guint8 *lut = di_colormap_lut (colormap);
  cairo_surface_t *surface;
  guint8 *data;
  int stride;
  float *col_x;

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    return surface;

  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);

  /* Horizontal positions are the same for every row. */
  col_x = g_new (float, width);
  for (int x = 0; x < width; x++)
    col_x[x] = (float)((x + 0.5) * map_width / width);

  for (int y = 0; y < height; y++)
    {
      guint32 *row = (guint32 *)(gpointer)(data + (gsize)y * stride);
      double my = (y + 0.5) * map_height / height;

      for (int x = 0; x < width; x++)
        {
          float v = sample_bilinear (normalized, map_width, map_height, col_x[x], my);
          int i = CLAMP ((int)lrintf (v * 255.0f), 0, 255);
          const guint8 *c = lut + 3 * i;

          row[x] = 0xff000000u | ((guint32)c[0] << 16) | ((guint32)c[1] << 8) | c[2];
        }
    }

  g_free (col_x);
  cairo_surface_mark_dirty (surface);

  return surface;
}

/**
 * di_heatmap_draw:
 * @cr: where to draw, in any user space (widget, image or PDF points)
 * @x: left of the region the map covers, in @cr's user space
 * @y: top of that region
 * @width: its width
 * @height: its height
 * @raster_width: pixel width of the coloured raster (for instance the size
 *   of the region in image pixels); 0 for @width
 * @raster_height: pixel height of the coloured raster; 0 for @height
 * @colormap: the colormap
 * @opacity: 0 (invisible) .. 1 (opaque)
 * @nearest: paint the raster with nearest-neighbour filtering
 *
 * Draws the map over a region. The coloured raster is cached and rebuilt
 * only when the colormap or the raster size changes. A map without
 * evidence draws nothing: the caller should say "No positive evidence".
 */
void
di_heatmap_draw (DiHeatmap  *self,
                 cairo_t    *cr,
                 double      x,
                 double      y,
                 double      width,
                 double      height,
                 int         raster_width,
                 int         raster_height,
                 DiColormap  colormap,
                 double      opacity,
                 gboolean    nearest)
{
  cairo_pattern_t *pattern;
  cairo_matrix_t matrix;

  g_return_if_fail (DI_IS_HEATMAP (self));
  g_return_if_fail (cr != NULL);

  if (!self->evidence || opacity <= 0.0 || width <= 0 || height <= 0)
    return;

  if (raster_width <= 0)
    raster_width = (int)ceil (width);
  if (raster_height <= 0)
    raster_height = (int)ceil (height);
  raster_width = CLAMP (raster_width, 1, DI_HEATMAP_MAX_RASTER);
  raster_height = CLAMP (raster_height, 1, DI_HEATMAP_MAX_RASTER);

  if (self->raster == NULL ||
      self->raster_width != raster_width ||
      self->raster_height != raster_height ||
      self->raster_colormap != colormap)
    {
      g_clear_pointer (&self->raster, cairo_surface_destroy);
      self->raster = di_heatmap_render_raster (self->normalized, self->width, self->height,
                                               raster_width, raster_height, colormap);
      self->raster_width = raster_width;
      self->raster_height = raster_height;
      self->raster_colormap = colormap;
      self->raster_builds++;
    }

  cairo_save (cr);
  cairo_rectangle (cr, x, y, width, height);
  cairo_clip (cr);
  pattern = cairo_pattern_create_for_surface (self->raster);
  cairo_matrix_init_scale (&matrix, raster_width / width, raster_height / height);
  cairo_matrix_translate (&matrix, -x, -y);
  cairo_pattern_set_matrix (pattern, &matrix);
  cairo_pattern_set_filter (pattern, nearest ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_BILINEAR);
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_set_source (cr, pattern);
  cairo_paint_with_alpha (cr, CLAMP (opacity, 0.0, 1.0));
  cairo_pattern_destroy (pattern);
  cairo_restore (cr);
}

/**
 * di_heatmap_get_raster_builds:
 *
 * Returns: how many times the coloured raster was built (for tests)
 */
guint
di_heatmap_get_raster_builds (DiHeatmap *self)
{
  g_return_val_if_fail (DI_IS_HEATMAP (self), 0);
  return self->raster_builds;
}

/**
 * di_heatmap_draw_cells:
 * @cr: where to draw, in the user space of the edges (image pixels on the
 *   canvas)
 * @x_edges: (array length=n_columns+1): column boundaries, increasing
 * @y_edges: (array length=n_rows+1): row boundaries, increasing
 * @values: (array): one value per cell, row by row: in [0, 1] on the
 *   colormap as they are (not normalised); a negative value leaves its
 *   cell empty
 *
 * Draws a grid of cells, each filled with the colour of its value, at
 * @opacity: the per-tile overlay of a field scan. Neighbouring cells share
 * their edges exactly (no seams, no double blending).
 */
void
di_heatmap_draw_cells (cairo_t      *cr,
                       const double *x_edges,
                       guint         n_columns,
                       const double *y_edges,
                       guint         n_rows,
                       const float  *values,
                       DiColormap    colormap,
                       double        opacity)
{
  const guint8 *lut = di_colormap_lut (colormap);

  g_return_if_fail (cr != NULL);
  g_return_if_fail (x_edges != NULL && y_edges != NULL && values != NULL);

  if (opacity <= 0.0 || n_columns == 0 || n_rows == 0)
    return;

  /* Opaque cells in a group, blended once: overlapping antialiased edges
   * would otherwise show as lines. */
  cairo_save (cr);
  cairo_push_group (cr);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_columns; c++)
      {
        float v = values[r * n_columns + c];
        const guint8 *rgb;

        if (!(v >= 0.0f))
          continue;
        rgb = lut + 3 * CLAMP ((int)lrintf (v * 255.0f), 0, 255);
        cairo_set_source_rgb (cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
        cairo_rectangle (cr, x_edges[c], y_edges[r],
                         x_edges[c + 1] - x_edges[c], y_edges[r + 1] - y_edges[r]);
        cairo_fill (cr);
      }
  cairo_pop_group_to_source (cr);
  cairo_paint_with_alpha (cr, CLAMP (opacity, 0.0, 1.0));
  cairo_restore (cr);
}

/**
 * di_heatmap_draw_legend:
 * @cr: where to draw; its current source colours the labels
 *
 * Draws the colormap as a horizontal bar with "Low" and "High" beneath it,
 * filling the box (@x, @y, @width, @height).
 */
void
di_heatmap_draw_legend (cairo_t    *cr,
                        DiColormap  colormap,
                        double      x,
                        double      y,
                        double      width,
                        double      height)
{
  /* TRANSLATORS: the low end of a heat-map legend */
  di_heatmap_draw_legend_labelled (cr, colormap, x, y, width, height, C_("legend", "Low"),
                                   /* TRANSLATORS: the high end of a heat-map legend */
                                   C_("legend", "High"));
}

/**
 * di_heatmap_draw_legend_labelled:
 * @low: the label of the low end
 * @high: the label of the high end
 *
 * As di_heatmap_draw_legend(), with other labels (a field scan's legend
 * reads "0%" and "100%": its colours are probabilities, not stretched).
 */
void
di_heatmap_draw_legend_labelled (cairo_t    *cr,
                                 DiColormap  colormap,
                                 double      x,
                                 double      y,
                                 double      width,
                                 double      height,
                                 const char *low,
                                 const char *high)
{
  const guint8 *lut = di_colormap_lut (colormap);
  cairo_pattern_t *text_source;
  PangoLayout *layout;
  PangoFontDescription *font;
  cairo_pattern_t *gradient;
  double bar_height;
  int tw, th;

  g_return_if_fail (cr != NULL);

  if (width <= 2 || height <= 2)
    return;

  cairo_save (cr);
  text_source = cairo_pattern_reference (cairo_get_source (cr));

  layout = pango_cairo_create_layout (cr);
  font = pango_font_description_from_string ("Sans 8");
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  pango_layout_set_text (layout, "Hg", -1);
  pango_layout_get_pixel_size (layout, &tw, &th);

  bar_height = MAX (4.0, height - th - 2);
  if (bar_height + th + 2 > height)
    th = 0;

  /* 256 stops: the bar shows exactly the table. */
  gradient = cairo_pattern_create_linear (x, 0, x + width, 0);
  for (int i = 0; i < 256; i++)
    cairo_pattern_add_color_stop_rgb (gradient, i / 255.0,
                                      lut[3 * i] / 255.0,
                                      lut[3 * i + 1] / 255.0,
                                      lut[3 * i + 2] / 255.0);
  cairo_rectangle (cr, x, y, width, bar_height);
  cairo_set_source (cr, gradient);
  cairo_fill_preserve (cr);
  cairo_pattern_destroy (gradient);

  cairo_set_source (cr, text_source);
  cairo_set_line_width (cr, 1.0);
  cairo_save (cr);
  cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 0.8);
  cairo_stroke (cr);
  cairo_restore (cr);

  if (th > 0)
    {
      pango_layout_set_text (layout, low, -1);
      cairo_move_to (cr, x, y + bar_height + 2);
      pango_cairo_show_layout (cr, layout);

      pango_layout_set_text (layout, high, -1);
      pango_layout_get_pixel_size (layout, &tw, NULL);
      cairo_move_to (cr, x + width - tw, y + bar_height + 2);
      pango_cairo_show_layout (cr, layout);
    }

  g_object_unref (layout);
  cairo_pattern_destroy (text_source);
  cairo_restore (cr);
}
