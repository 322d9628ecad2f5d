/* di-image-canvas.c — draws one image, zoomed and panned, with the
 * explanation overlay on top.
 *
 * The image is kept as a CAIRO_FORMAT_RGB24 surface made once when it is
 * decoded; the coloured overlay is a second surface cached by DiHeatmap and
 * rebuilt only when the map or the colormap changes. A frame therefore only
 * scales two surfaces into the visible area. Above 100% the image is drawn
 * with nearest-neighbour filtering so that real pixels show; below it is
 * smoothed, from a half-size copy when zoomed out far.
 *
 * Input follows Loupe and Eye of GNOME: the wheel zooms around the pointer,
 * pinch zooms around the fingers, dragging pans. Shift+drag, or any drag
 * in select mode, draws a rectangle instead (Escape cancels it); on
 * release the canvas emits ::region-selected with the rectangle in image
 * pixels. A click that does not move emits ::clicked.
 *
 * On top of the image the canvas draws one of three overlays: a region's
 * own map inside its rectangle (with the region's outline, also when the
 * overlay is hidden), else a field scan's per-tile scores, else the map of
 * the whole image. Above the overlay, below the region, it outlines the
 * regions saved in the review case for the image, thinly, each with a
 * small tag (its stored class); the one that is the region on screen is
 * drawn as the region only. Hovering one says that a click selects it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-image-canvas"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "di-case.h"
#include "di-field-scan.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-image-canvas.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-region.h"

#define ZOOM_STEP 1.25
#define WHEEL_STEP 1.1

struct _DiImageCanvas
{
  GtkWidget parent_instance;

  /* Owned References */
  DiImage *image;
  DiHeatmap *heatmap;
  cairo_surface_t *half;     /* the image at half size, made on demand */
  DiRegion *region;
  DiFieldScan *scan;
  GPtrArray *saved_regions;  /* DiCaseRegion: the case's regions of the image */

  /* Overlay region in image pixels (the model's centre crop). */
  int crop_x, crop_y, crop_w, crop_h;

  DiColormap colormap;
  double opacity;
  gboolean overlay_visible;

  /* View: widget coordinates of the image origin and the scale. */
  double zoom;
  double tx;
  double ty;
  gboolean best_fit;

  /* Input state */
  double pointer_x;
  double pointer_y;
  gboolean pointer_inside;
  double drag_tx;
  double drag_ty;
  double gesture_zoom;
  double gesture_cx;
  double gesture_cy;

  /* Drawing a region: the rubber band, in widget coordinates */
  gboolean select_mode;
  gboolean banding;
  double band_x0;
  double band_y0;
  double band_x1;
  double band_y1;
};

G_DEFINE_FINAL_TYPE (DiImageCanvas, di_image_canvas, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_IMAGE,
  PROP_HEATMAP,
  PROP_OVERLAY_VISIBLE,
  PROP_OVERLAY_OPACITY,
  PROP_COLORMAP,
  PROP_ZOOM,
  PROP_BEST_FIT,
  PROP_REGION,
  PROP_FIELD_SCAN,
  PROP_SELECT_MODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  REGION_SELECTED,
  CLICKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* A drag shorter than this (widget pixels) is a click. */
#define CLICK_SLOP 4.0
/* A saved region's tag: padding around its text, and the smallest side (in
 * widget pixels) of a rectangle that gets one. */

static int
image_width (DiImageCanvas *self)
{
  return self->image ? di_image_get_width (self->image) : 0;
}

static int
image_height (DiImageCanvas *self)
{
  return self->image ? di_image_get_height (self->image) : 0;
}

static double
fit_zoom (DiImageCanvas *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));

  if (self->image == NULL || w <= 0 || h <= 0)
    return 1.0;

  return CLAMP (MIN ((double)w / image_width (self), (double)h / image_height (self)),
                DI_CANVAS_MIN_ZOOM, DI_CANVAS_MAX_ZOOM);
}

/* Centres an image smaller than the view, otherwise keeps it covering it. */
static void
clamp_offset (DiImageCanvas *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));
  double iw = image_width (self) * self->zoom;
  double ih = image_height (self) * self->zoom;

  if (iw <= w)
    self->tx = (w - iw) / 2;
  else
    self->tx = CLAMP (self->tx, w - iw, 0);

  if (ih <= h)
    self->ty = (h - ih) / 2;
  else
    self->ty = CLAMP (self->ty, h - ih, 0);
}

static void
set_best_fit (DiImageCanvas *self,
              gboolean       best_fit)
{
  if (self->best_fit != best_fit)
    {
      self->best_fit = best_fit;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BEST_FIT]);
    }
}

static void
apply_zoom (DiImageCanvas *self,
            double         zoom,
            double         x,
            double         y)
{
  double ix, iy;

  zoom = CLAMP (zoom, DI_CANVAS_MIN_ZOOM, DI_CANVAS_MAX_ZOOM);

  /* Keep the image point under (x, y) where it is. */
  ix = (x - self->tx) / self->zoom;
  iy = (y - self->ty) / self->zoom;
  self->tx = x - ix * zoom;
  self->ty = y - iy * zoom;

  if (self->zoom != zoom)
    {
      self->zoom = zoom;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
    }

  clamp_offset (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
update_best_fit (DiImageCanvas *self)
{
  double zoom = fit_zoom (self);

  if (self->zoom != zoom)
    {
      self->zoom = zoom;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
    }
  clamp_offset (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The image at half size, for drawing below 50%: GOOD filtering of the
 * full image costs more with every halving, the copy keeps it flat. */
static cairo_surface_t *
get_half (DiImageCanvas *self)
{
  if (self->half == NULL && self->image != NULL)
    {
      cairo_surface_t *src = di_image_get_surface (self->image);
      int w = MAX (1, image_width (self) / 2), h = MAX (1, image_height (self) / 2);
      cairo_t *cr;

      self->half = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
      cr = cairo_create (self->half);
      cairo_scale (cr, (double)w / image_width (self), (double)h / image_height (self));
      cairo_set_source_surface (cr, src, 0, 0);
      cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
      cairo_paint (cr);
      cairo_destroy (cr);
    }
  return self->half;
}

/* The region's map over the part of it the model saw (its centre crop,
 * same rounding as dinet_net_preprocess()), then its outline. In image
 * coordinates. */
static void
draw_region (DiImageCanvas *self,
             cairo_t       *cr)
{
  DiRegion *region = self->region;
  DiHeatmap *heatmap = di_region_get_heatmap (region);
  DiPrediction *prediction = di_region_get_prediction (region);
  double rx = di_region_get_x (region), ry = di_region_get_y (region);
  double rw = di_region_get_width (region), rh = di_region_get_height (region);
  double line = 2.0 / self->zoom;

  if (self->overlay_visible && heatmap != NULL && prediction != NULL)
    {
      double crop = di_model_info_get_center_crop (di_prediction_get_model (prediction));
      int cw = (int)rw, ch = (int)rh;

      if (crop > 0.0 && crop < 1.0)
        {
          cw = MAX (1, (int)lrintf ((float)(rw * crop)));
          ch = MAX (1, (int)lrintf ((float)(rh * crop)));
        }
      di_heatmap_draw (heatmap, cr, rx + (int)(rw - cw) / 2, ry + (int)(rh - ch) / 2, cw, ch,
                       cw, ch, self->colormap, self->opacity, FALSE);
    }

  /* Dark under light: visible on pale slides and on any colormap. A
   * region still being classified is dashed. */
  cairo_save (cr);
  cairo_rectangle (cr, rx, ry, rw, rh);
  cairo_set_line_width (cr, 2 * line);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
  cairo_stroke_preserve (cr);
  cairo_set_line_width (cr, line);
  if (prediction == NULL)
    {
      double dash = 6.0 / self->zoom;

      cairo_set_dash (cr, &dash, 1, 0);
    }
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_stroke (cr);
  cairo_restore (cr);
}

/* The region on screen is drawn by draw_region(), not twice. */
static gboolean
is_current_region (DiImageCanvas      *self,
                   const DiCaseRegion *saved)
{
  return self->region != NULL &&
         di_region_has_rect (self->region, saved->x, saved->y, saved->width, saved->height);
}

/* The case's regions of the image: a thin outline each, quieter than the
 * region's, with its label in a small tag above its top left corner
 * (inside it at the top of the view). In widget pixels, from the image
 * origin, so that lines and text keep their size at any zoom. */
static void
draw_saved_regions (DiImageCanvas *self,
                    cairo_t       *cr)
{
  g_autoptr(PangoLayout) layout = NULL;
  PangoAttrList *attrs;

  if (self->saved_regions == NULL)
    return;

  layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
  attrs = pango_attr_list_new ();
  pango_attr_list_insert (attrs, pango_attr_scale_new (PANGO_SCALE_SMALL));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);

  cairo_save (cr);
  cairo_scale (cr, 1.0 / self->zoom, 1.0 / self->zoom);
  for (guint i = 0; i < self->saved_regions->len; i++)
    {
      const DiCaseRegion *saved = g_ptr_array_index (self->saved_regions, i);

      if (!is_current_region (self, saved))
        di_region_draw_saved (cr, layout, saved, self->zoom, -self->ty);
    }
  cairo_restore (cr);
}

/* The rubber band, in widget coordinates. */
static void
draw_band (DiImageCanvas *self,
           cairo_t       *cr)
{
  double x = MIN (self->band_x0, self->band_x1), y = MIN (self->band_y0, self->band_y1);
  double w = fabs (self->band_x1 - self->band_x0), h = fabs (self->band_y1 - self->band_y0);

  cairo_save (cr);
  cairo_rectangle (cr, floor (x) + 0.5, floor (y) + 0.5, floor (w), floor (h));
  cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.2);   /* GNOME accent blue */
  cairo_fill_preserve (cr);
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgb (cr, 0.21, 0.52, 0.89);
  cairo_stroke (cr);
  cairo_restore (cr);
}

/**
 * di_image_canvas_draw:
 * @cr: a cairo context whose origin is the widget's top-left corner
 *
 * Draws the image and, when visible, the overlay: what the widget shows.
 */
void
di_image_canvas_draw (DiImageCanvas *self,
                      cairo_t       *cr,
                      int            width,
                      int            height)
{
  cairo_surface_t *surface;
  cairo_pattern_t *pattern;
  cairo_matrix_t matrix;
  double scale = 1.0;
  gboolean nearest;

  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  if (self->image == NULL || (surface = di_image_get_surface (self->image)) == NULL)
    return;

  cairo_save (cr);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_clip (cr);
  cairo_translate (cr, self->tx, self->ty);
  cairo_scale (cr, self->zoom, self->zoom);

  nearest = self->zoom >= 1.0;
  if (self->zoom < 0.5 && get_half (self) != NULL)
    {
      surface = self->half;
      scale = (double)cairo_image_surface_get_width (surface) / image_width (self);
    }

  pattern = cairo_pattern_create_for_surface (surface);
  cairo_matrix_init_scale (&matrix, scale, scale);
  cairo_pattern_set_matrix (pattern, &matrix);
  cairo_pattern_set_filter (pattern, nearest ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_set_source (cr, pattern);
  cairo_rectangle (cr, 0, 0, image_width (self), image_height (self));
  cairo_fill (cr);
  cairo_pattern_destroy (pattern);

  if (self->region == NULL && self->overlay_visible && self->scan != NULL)
    di_field_scan_draw (self->scan, cr, self->colormap, self->opacity);
  else if (self->region == NULL && self->overlay_visible && self->heatmap != NULL)
    di_heatmap_draw (self->heatmap, cr,
                     self->crop_x, self->crop_y, self->crop_w, self->crop_h,
                     self->crop_w, self->crop_h,
                     self->colormap, self->opacity, FALSE);
  draw_saved_regions (self, cr);
  if (self->region != NULL)
    draw_region (self, cr);

  cairo_restore (cr);

  if (self->banding)
    draw_band (self, cr);
}

static void
di_image_canvas_snapshot (GtkWidget   *widget,
                          GtkSnapshot *snapshot)
{
  DiImageCanvas *self = DI_IMAGE_CANVAS (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (self->image == NULL || width <= 0 || height <= 0)
    return;

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  di_image_canvas_draw (self, cr, width, height);
  cairo_destroy (cr);
}

/* Over a saved region (not the one on screen): which, and that a click
 * selects it. Not over a field scan: there a click picks a tile
 * (di-window-field.c). */
static gboolean
di_image_canvas_query_tooltip (GtkWidget  *widget,
                               int         x,
                               int         y,
                               gboolean    keyboard,
                               GtkTooltip *tooltip)
{
  DiImageCanvas *self = DI_IMAGE_CANVAS (widget);
  const DiCaseRegion *saved;
  g_autofree char *text = NULL;
  double ix, iy;

  if (keyboard || self->banding)
    return FALSE;

  di_image_canvas_widget_to_image (self, x, y, &ix, &iy);
  saved = di_image_canvas_get_saved_region_at (self, ix, iy);
  if (saved == NULL || self->scan != NULL || is_current_region (self, saved) ||
      (self->region != NULL && di_region_contains (self->region, ix, iy)))
    return FALSE;

  if (isfinite (saved->probability))
    {
      g_autofree char *p = di_format_probability (saved->probability, "");

      /* TRANSLATORS: tooltip over a region saved in the case; its class and that class's probability */
      text = g_strdup_printf (_("Saved region: %s, %s — click to select it again"),
                              di_region_get_saved_label (saved), p);
    }
  else
    /* TRANSLATORS: tooltip over a region saved in the case; %s is its class */
    text = g_strdup_printf (_("Saved region: %s — click to select it again"), di_region_get_saved_label (saved));
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static void
di_image_canvas_size_allocate (GtkWidget *widget,
                               int        width,
                               int        height,
                               int        baseline)
{
  DiImageCanvas *self = DI_IMAGE_CANVAS (widget);

  if (self->best_fit)
    update_best_fit (self);
  else
    clamp_offset (self);
}

static void
di_image_canvas_measure (GtkWidget      *widget,
                         GtkOrientation  orientation,
                         int             for_size,
                         int            *minimum,
                         int            *natural,
                         int            *minimum_baseline,
                         int            *natural_baseline)
{
  *minimum = 64;
  *natural = 480;
}

/* ---- Input ------------------------------------------------------------ */

static void
motion_cb (GtkEventControllerMotion *motion,
           double                    x,
           double                    y,
           DiImageCanvas            *self)
{
  self->pointer_x = x;
  self->pointer_y = y;
  self->pointer_inside = TRUE;
}

static void
leave_cb (GtkEventControllerMotion *motion,
          DiImageCanvas            *self)
{
  self->pointer_inside = FALSE;
}

static void
anchor (DiImageCanvas *self,
        double        *x,
        double        *y)
{
  if (self->pointer_inside)
    {
      *x = self->pointer_x;
      *y = self->pointer_y;
    }
  else
    {
      *x = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
      *y = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
    }
}

static gboolean
scroll_cb (GtkEventControllerScroll *scroll,
           double                    dx,
           double                    dy,
           DiImageCanvas            *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (scroll));
  double x, y;

  if (self->image == NULL)
    return FALSE;

  /* Shift scrolls sideways, the wheel zooms (Ctrl or not). */
  if (state & GDK_SHIFT_MASK)
    {
      di_image_canvas_pan (self, -(dy + dx) * 40, 0);
      return TRUE;
    }

  anchor (self, &x, &y);
  set_best_fit (self, FALSE);
  /* Exponential: two half steps equal one step. */
  apply_zoom (self, self->zoom * pow (WHEEL_STEP, -dy), x, y);

  return TRUE;
}

static void
update_cursor (DiImageCanvas *self)
{
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self),
                                   self->select_mode && self->image != NULL ? "crosshair" : NULL);
}

static void
drag_begin_cb (GtkGestureDrag *drag,
               double          x,
               double          y,
               DiImageCanvas  *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (drag));

  self->drag_tx = self->tx;
  self->drag_ty = self->ty;
  gtk_widget_grab_focus (GTK_WIDGET (self));
  if (self->image == NULL)
    return;

  if (self->select_mode || (state & GDK_SHIFT_MASK))
    {
      self->banding = TRUE;
      self->band_x0 = self->band_x1 = x;
      self->band_y0 = self->band_y1 = y;
      gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "crosshair");
    }
  else
    gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "grabbing");
}

static void
drag_update_cb (GtkGestureDrag *drag,
                double          ox,
                double          oy,
                DiImageCanvas  *self)
{
  if (self->image == NULL)
    return;

  if (self->banding)
    {
      self->band_x1 = self->band_x0 + ox;
      self->band_y1 = self->band_y0 + oy;
    }
  else
    {
      self->tx = self->drag_tx + ox;
      self->ty = self->drag_ty + oy;
      clamp_offset (self);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
drag_end_cb (GtkGestureDrag *drag,
             double          ox,
             double          oy,
             DiImageCanvas  *self)
{
  gboolean was_banding = self->banding;
  double x, y;

  update_cursor (self);
  if (self->image == NULL || !gtk_gesture_drag_get_start_point (drag, &x, &y))
    {
      self->banding = FALSE;
      return;
    }

  if (was_banding)
    {
      self->banding = FALSE;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }

  if (hypot (ox, oy) < CLICK_SLOP)
    {
      double ix, iy;

      di_image_canvas_widget_to_image (self, x, y, &ix, &iy);
      if (ix >= 0 && iy >= 0 && ix < image_width (self) && iy < image_height (self))
        g_signal_emit (self, signals[CLICKED], 0, ix, iy);
    }
  else if (was_banding)
    di_image_canvas_select_rect (self, x, y, x + ox, y + oy);
}

static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                DiImageCanvas         *self)
{
  if (keyval == GDK_KEY_Escape && self->banding)
    {
      di_image_canvas_cancel_selection (self);
      return TRUE;
    }
  return FALSE;
}

static void
zoom_begin_cb (GtkGesture       *gesture,
               GdkEventSequence *sequence,
               DiImageCanvas    *self)
{
  self->gesture_zoom = self->zoom;
  if (!gtk_gesture_is_active (gesture) ||
      !gtk_gesture_get_bounding_box_center (gesture, &self->gesture_cx, &self->gesture_cy))
    anchor (self, &self->gesture_cx, &self->gesture_cy);
}

static void
zoom_scale_changed_cb (GtkGestureZoom *gesture,
                       double          scale,
                       DiImageCanvas  *self)
{
  if (self->image == NULL)
    return;

  set_best_fit (self, FALSE);
  apply_zoom (self, self->gesture_zoom * scale, self->gesture_cx, self->gesture_cy);
}

/* ---- GObject -------------------------------------------------------- */

static void
di_image_canvas_dispose (GObject *object)
{
  DiImageCanvas *self = (DiImageCanvas *)object;

  g_clear_pointer (&self->image, di_image_unref);
  g_clear_object (&self->heatmap);
  g_clear_pointer (&self->half, cairo_surface_destroy);
  di_image_canvas_set_region (self, NULL);
  di_image_canvas_set_field_scan (self, NULL);
  g_clear_pointer (&self->saved_regions, g_ptr_array_unref);

  G_OBJECT_CLASS (di_image_canvas_parent_class)->dispose (object);
}

static void
di_image_canvas_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  DiImageCanvas *self = DI_IMAGE_CANVAS (object);

  switch (prop_id)
    {
    case PROP_IMAGE:
      g_value_set_boxed (value, self->image);
      break;

    case PROP_HEATMAP:
      g_value_set_object (value, self->heatmap);
      break;

    case PROP_OVERLAY_VISIBLE:
      g_value_set_boolean (value, self->overlay_visible);
      break;

    case PROP_OVERLAY_OPACITY:
      g_value_set_double (value, self->opacity);
      break;

    case PROP_COLORMAP:
      g_value_set_enum (value, self->colormap);
      break;

    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;

    case PROP_BEST_FIT:
      g_value_set_boolean (value, self->best_fit);
      break;

    case PROP_REGION:
      g_value_set_object (value, self->region);
      break;

    case PROP_FIELD_SCAN:
      g_value_set_object (value, self->scan);
      break;

    case PROP_SELECT_MODE:
      g_value_set_boolean (value, self->select_mode);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_image_canvas_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  DiImageCanvas *self = DI_IMAGE_CANVAS (object);

  switch (prop_id)
    {
    case PROP_IMAGE:
      di_image_canvas_set_image (self, g_value_get_boxed (value));
      break;

    case PROP_OVERLAY_VISIBLE:
      di_image_canvas_set_overlay_visible (self, g_value_get_boolean (value));
      break;

    case PROP_OVERLAY_OPACITY:
      di_image_canvas_set_overlay_opacity (self, g_value_get_double (value));
      break;

    case PROP_COLORMAP:
      di_image_canvas_set_colormap (self, g_value_get_enum (value));
      break;

    case PROP_ZOOM:
      di_image_canvas_set_zoom (self, g_value_get_double (value));
      break;

    case PROP_REGION:
      di_image_canvas_set_region (self, g_value_get_object (value));
      break;

    case PROP_FIELD_SCAN:
      di_image_canvas_set_field_scan (self, g_value_get_object (value));
      break;

    case PROP_SELECT_MODE:
      di_image_canvas_set_select_mode (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_image_canvas_class_init (DiImageCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = di_image_canvas_dispose;
  object_class->get_property = di_image_canvas_get_property;
  object_class->set_property = di_image_canvas_set_property;

  widget_class->snapshot = di_image_canvas_snapshot;
  widget_class->size_allocate = di_image_canvas_size_allocate;
  widget_class->measure = di_image_canvas_measure;
  widget_class->query_tooltip = di_image_canvas_query_tooltip;

  properties[PROP_IMAGE] =
    g_param_spec_boxed ("image", NULL, NULL, DI_TYPE_IMAGE,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_HEATMAP] =
    g_param_spec_object ("heatmap", NULL, NULL, DI_TYPE_HEATMAP,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_OVERLAY_VISIBLE] =
    g_param_spec_boolean ("overlay-visible", NULL, NULL, TRUE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_OVERLAY_OPACITY] =
    g_param_spec_double ("overlay-opacity", NULL, NULL, 0.0, 1.0, 0.5,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_COLORMAP] =
    g_param_spec_enum ("colormap", NULL, NULL, DI_TYPE_COLORMAP, DI_COLORMAP_JET,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_ZOOM] =
    g_param_spec_double ("zoom", NULL, NULL, DI_CANVAS_MIN_ZOOM, DI_CANVAS_MAX_ZOOM, 1.0,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_BEST_FIT] =
    g_param_spec_boolean ("best-fit", NULL, NULL, TRUE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_REGION] =
    g_param_spec_object ("region", NULL, NULL, DI_TYPE_REGION,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_FIELD_SCAN] =
    g_param_spec_object ("field-scan", NULL, NULL, DI_TYPE_FIELD_SCAN,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SELECT_MODE] =
    g_param_spec_boolean ("select-mode", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DiImageCanvas::region-selected:
   * @x: left edge of the rectangle, in image pixels
   * @y: top edge
   * @width: at least %DI_REGION_MIN_SIZE (or the image's size)
   * @height: likewise
   *
   * The user drew a rectangle on the image.
   */
  signals[REGION_SELECTED] =
    g_signal_new ("region-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT);

  /**
   * DiImageCanvas::clicked:
   * @x: image x of the click
   * @y: image y
   *
   * The user clicked the image without dragging.
   */
  signals[CLICKED] =
    g_signal_new ("clicked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_DOUBLE, G_TYPE_DOUBLE);

  gtk_widget_class_set_css_name (widget_class, "di-image-canvas");
}

static void
di_image_canvas_init (DiImageCanvas *self)
{
  GtkEventController *controller;
  GtkGesture *gesture;

  self->zoom = 1.0;
  self->best_fit = TRUE;
  self->overlay_visible = TRUE;
  self->opacity = 0.5;
  self->colormap = DI_COLORMAP_JET;

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "enter", G_CALLBACK (motion_cb), self);
  g_signal_connect (controller, "motion", G_CALLBACK (motion_cb), self);
  g_signal_connect (controller, "leave", G_CALLBACK (leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL |
                                                GTK_EVENT_CONTROLLER_SCROLL_HORIZONTAL);
  g_signal_connect (controller, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  gesture = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (gesture), 0);
  g_signal_connect (gesture, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect (gesture, "drag-update", G_CALLBACK (drag_update_cb), self);
  g_signal_connect (gesture, "drag-end", G_CALLBACK (drag_end_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (gesture));

  controller = gtk_event_controller_key_new ();
  g_signal_connect (controller, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  gesture = gtk_gesture_zoom_new ();
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (gesture), GTK_PHASE_CAPTURE);
  g_signal_connect (gesture, "begin", G_CALLBACK (zoom_begin_cb), self);
  g_signal_connect (gesture, "scale-changed", G_CALLBACK (zoom_scale_changed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (gesture));
}

GtkWidget *
di_image_canvas_new (void)
{
  return g_object_new (DI_TYPE_IMAGE_CANVAS, NULL);
}

/**
 * di_image_canvas_get_image:
 *
 * Returns: (transfer none) (nullable): the image
 */
DiImage *
di_image_canvas_get_image (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);
  return self->image;
}

/**
 * di_image_canvas_set_image:
 * @image: (nullable): the image; its display surface is used
 *
 * Shows @image at best fit and drops the overlay.
 */
void
di_image_canvas_set_image (DiImageCanvas *self,
                           DiImage       *image)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  if (self->image == image)
    return;

  g_clear_pointer (&self->image, di_image_unref);
  g_clear_pointer (&self->half, cairo_surface_destroy);
  self->image = image ? di_image_ref (image) : NULL;
  di_image_canvas_set_heatmap (self, NULL, 1.0);
  di_image_canvas_set_region (self, NULL);
  di_image_canvas_set_field_scan (self, NULL);
  di_image_canvas_set_saved_regions (self, NULL);
  di_image_canvas_cancel_selection (self);
  set_best_fit (self, TRUE);
  update_best_fit (self);
  update_cursor (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);
}

/**
 * di_image_canvas_get_heatmap:
 *
 * Returns: (transfer none) (nullable): the overlay's map
 */
DiHeatmap *
di_image_canvas_get_heatmap (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);
  return self->heatmap;
}

/**
 * di_image_canvas_set_heatmap:
 * @heatmap: (nullable): a map of the model's input
 * @center_crop: the fraction of each side the model saw (its centre crop)
 *
 * The map is stretched over the centre crop of the image, as the model's
 * preprocessing stretched that crop to its square input.
 */
void
di_image_canvas_set_heatmap (DiImageCanvas *self,
                             DiHeatmap     *heatmap,
                             double         center_crop)
{
  int w, h;

  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  if (!g_set_object (&self->heatmap, heatmap))
    return;

  /* Same rounding as dinet_net_preprocess(). */
  w = image_width (self);
  h = image_height (self);
  if (center_crop < 1.0 && center_crop > 0.0)
    {
      int cw = MAX (1, (int)lrintf ((float)(w * center_crop)));
      int ch = MAX (1, (int)lrintf ((float)(h * center_crop)));

      self->crop_x = (w - cw) / 2;
      self->crop_y = (h - ch) / 2;
      self->crop_w = cw;
      self->crop_h = ch;
    }
  else
    {
      self->crop_x = self->crop_y = 0;
      self->crop_w = w;
      self->crop_h = h;
    }

  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEATMAP]);
}

/**
 * di_image_canvas_get_overlay_rect:
 *
 * Gets the region of the image, in image pixels, that the overlay covers.
 */
void
di_image_canvas_get_overlay_rect (DiImageCanvas *self,
                                  int           *x,
                                  int           *y,
                                  int           *width,
                                  int           *height)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  *x = self->crop_x;
  *y = self->crop_y;
  *width = self->crop_w;
  *height = self->crop_h;
}

gboolean
di_image_canvas_get_overlay_visible (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);
  return self->overlay_visible;
}

void
di_image_canvas_set_overlay_visible (DiImageCanvas *self,
                                     gboolean       visible)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  visible = !!visible;
  if (self->overlay_visible != visible)
    {
      self->overlay_visible = visible;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_VISIBLE]);
    }
}

double
di_image_canvas_get_overlay_opacity (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), 0);
  return self->opacity;
}

void
di_image_canvas_set_overlay_opacity (DiImageCanvas *self,
                                     double         opacity)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  opacity = CLAMP (opacity, 0.0, 1.0);
  if (self->opacity != opacity)
    {
      self->opacity = opacity;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_OPACITY]);
    }
}

DiColormap
di_image_canvas_get_colormap (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), DI_COLORMAP_JET);
  return self->colormap;
}

void
di_image_canvas_set_colormap (DiImageCanvas *self,
                              DiColormap     colormap)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  if (self->colormap != colormap)
    {
      self->colormap = colormap;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLORMAP]);
    }
}

double
di_image_canvas_get_zoom (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), 1.0);
  return self->zoom;
}

/**
 * di_image_canvas_set_zoom:
 *
 * Zooms around the centre of the view.
 */
void
di_image_canvas_set_zoom (DiImageCanvas *self,
                          double         zoom)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  set_best_fit (self, FALSE);
  apply_zoom (self, zoom,
              gtk_widget_get_width (GTK_WIDGET (self)) / 2.0,
              gtk_widget_get_height (GTK_WIDGET (self)) / 2.0);
}

/**
 * di_image_canvas_zoom_at:
 * @x: widget x of the point that stays still
 * @y: widget y of that point
 */
void
di_image_canvas_zoom_at (DiImageCanvas *self,
                         double         zoom,
                         double         x,
                         double         y)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  set_best_fit (self, FALSE);
  apply_zoom (self, zoom, x, y);
}

gboolean
di_image_canvas_get_best_fit (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);
  return self->best_fit;
}

void
di_image_canvas_zoom_best_fit (DiImageCanvas *self)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  set_best_fit (self, TRUE);
  update_best_fit (self);
}

void
di_image_canvas_zoom_in (DiImageCanvas *self)
{
  double x, y;

  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  anchor (self, &x, &y);
  di_image_canvas_zoom_at (self, self->zoom * ZOOM_STEP, x, y);
}

void
di_image_canvas_zoom_out (DiImageCanvas *self)
{
  double x, y;

  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  anchor (self, &x, &y);
  di_image_canvas_zoom_at (self, self->zoom / ZOOM_STEP, x, y);
}

/**
 * di_image_canvas_get_offset:
 * @x: (out): widget x of the image's left edge
 * @y: (out): widget y of the image's top edge
 */
void
di_image_canvas_get_offset (DiImageCanvas *self,
                            double        *x,
                            double        *y)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  *x = self->tx;
  *y = self->ty;
}

void
di_image_canvas_pan (DiImageCanvas *self,
                     double         dx,
                     double         dy)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  self->tx += dx;
  self->ty += dy;
  clamp_offset (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
queue_draw_cb (DiImageCanvas *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/**
 * di_image_canvas_get_region:
 *
 * Returns: (transfer none) (nullable): the region shown
 */
DiRegion *
di_image_canvas_get_region (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);
  return self->region;
}

/**
 * di_image_canvas_set_region:
 * @region: (nullable): a region of the image
 *
 * Shows @region's outline and, with the overlay, its map inside it instead
 * of the whole image's overlay. The canvas follows the region's result.
 */
void
di_image_canvas_set_region (DiImageCanvas *self,
                            DiRegion      *region)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));
  g_return_if_fail (!region || DI_IS_REGION (region));

  if (self->region == region)
    return;

  if (self->region != NULL)
    g_signal_handlers_disconnect_by_func (self->region, queue_draw_cb, self);
  g_set_object (&self->region, region);
  if (region != NULL)
    {
      g_signal_connect_swapped (region, "notify::heatmap", G_CALLBACK (queue_draw_cb), self);
      g_signal_connect_swapped (region, "notify::prediction", G_CALLBACK (queue_draw_cb), self);
    }

  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGION]);
}

/**
 * di_image_canvas_get_field_scan:
 *
 * Returns: (transfer none) (nullable): the field scan shown
 */
DiFieldScan *
di_image_canvas_get_field_scan (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);
  return self->scan;
}

/**
 * di_image_canvas_set_field_scan:
 * @scan: (nullable): a scan of the image, complete or in progress
 *
 * Shows the per-tile scores as the overlay (when no region is shown),
 * redrawing as tiles are classified.
 */
void
di_image_canvas_set_field_scan (DiImageCanvas *self,
                                DiFieldScan   *scan)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));
  g_return_if_fail (!scan || DI_IS_FIELD_SCAN (scan));

  if (self->scan == scan)
    return;

  if (self->scan != NULL)
    g_signal_handlers_disconnect_by_func (self->scan, queue_draw_cb, self);
  g_set_object (&self->scan, scan);
  if (scan != NULL)
    g_signal_connect_swapped (scan, "notify::n-done", G_CALLBACK (queue_draw_cb), self);

  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FIELD_SCAN]);
}

/**
 * di_image_canvas_set_saved_regions:
 * @regions: (nullable) (element-type DiCaseRegion): the regions saved in the
 *   case for the image on screen; copied
 *
 * Outlines @regions, each with a tag, under the region on screen. Setting
 * another image drops them.
 */
void
di_image_canvas_set_saved_regions (DiImageCanvas *self,
                                   GPtrArray     *regions)
{
  GPtrArray *copy = NULL;

  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  if (regions == NULL && self->saved_regions == NULL)
    return;

  if (regions != NULL && regions->len > 0)
    {
      copy = g_ptr_array_new_full (regions->len, (GDestroyNotify)di_case_region_free);
      for (guint i = 0; i < regions->len; i++)
        g_ptr_array_add (copy, di_case_region_copy (g_ptr_array_index (regions, i)));
    }
  g_clear_pointer (&self->saved_regions, g_ptr_array_unref);
  self->saved_regions = copy;

  gtk_widget_set_has_tooltip (GTK_WIDGET (self), copy != NULL);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
di_image_canvas_get_n_saved_regions (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), 0);
  return self->saved_regions ? self->saved_regions->len : 0;
}

/**
 * di_image_canvas_get_saved_region:
 * @index: less than di_image_canvas_get_n_saved_regions()
 *
 * Returns: (transfer none): a saved region, in the order they were set
 */
const DiCaseRegion *
di_image_canvas_get_saved_region (DiImageCanvas *self,
                                  guint          index)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);
  g_return_val_if_fail (index < di_image_canvas_get_n_saved_regions (self), NULL);

  return g_ptr_array_index (self->saved_regions, index);
}

/**
 * di_image_canvas_get_saved_region_at:
 * @x: image x
 * @y: image y
 *
 * Returns: (transfer none) (nullable): the smallest saved region that
 *   contains the point
 */
const DiCaseRegion *
di_image_canvas_get_saved_region_at (DiImageCanvas *self,
                                     double         x,
                                     double         y)
{
  const DiCaseRegion *found = NULL;

  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), NULL);

  for (guint i = 0; i < di_image_canvas_get_n_saved_regions (self); i++)
    {
      const DiCaseRegion *saved = g_ptr_array_index (self->saved_regions, i);

      if (x >= saved->x && x < saved->x + saved->width &&
          y >= saved->y && y < saved->y + saved->height &&
          (found == NULL || saved->width * saved->height < found->width * found->height))
        found = saved;
    }
  return found;
}

gboolean
di_image_canvas_get_select_mode (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);
  return self->select_mode;
}

/**
 * di_image_canvas_set_select_mode:
 * @select_mode: whether dragging draws a region (else it pans, and
 *   Shift+drag draws a region)
 */
void
di_image_canvas_set_select_mode (DiImageCanvas *self,
                                 gboolean       select_mode)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  select_mode = !!select_mode;
  if (self->select_mode != select_mode)
    {
      self->select_mode = select_mode;
      update_cursor (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECT_MODE]);
    }
}

/**
 * di_image_canvas_get_selecting:
 *
 * Returns: whether a rectangle is being drawn
 */
gboolean
di_image_canvas_get_selecting (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);
  return self->banding;
}

/**
 * di_image_canvas_cancel_selection:
 *
 * Drops the rectangle being drawn: releasing the button then selects
 * nothing.
 *
 * Returns: whether there was one
 */
gboolean
di_image_canvas_cancel_selection (DiImageCanvas *self)
{
  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);

  if (!self->banding)
    return FALSE;

  self->banding = FALSE;
  update_cursor (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

/**
 * di_image_canvas_widget_to_image:
 * @x: widget x
 * @y: widget y
 * @image_x: (out): the image x under it (may lie outside the image)
 * @image_y: (out): the image y
 */
void
di_image_canvas_widget_to_image (DiImageCanvas *self,
                                 double         x,
                                 double         y,
                                 double        *image_x,
                                 double        *image_y)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  *image_x = (x - self->tx) / self->zoom;
  *image_y = (y - self->ty) / self->zoom;
}

/**
 * di_image_canvas_image_to_widget:
 * @image_x: image x
 * @image_y: image y
 * @x: (out): where it is drawn, in widget coordinates
 * @y: (out): likewise
 */
void
di_image_canvas_image_to_widget (DiImageCanvas *self,
                                 double         image_x,
                                 double         image_y,
                                 double        *x,
                                 double        *y)
{
  g_return_if_fail (DI_IS_IMAGE_CANVAS (self));

  *x = self->tx + image_x * self->zoom;
  *y = self->ty + image_y * self->zoom;
}

/**
 * di_image_canvas_select_rect:
 * @x0: one corner of the rectangle, in widget coordinates
 * @y0: likewise
 * @x1: the opposite corner
 * @y1: likewise
 *
 * What releasing a drawn rectangle does: the rectangle, clamped to the
 * image, becomes ::region-selected when it is at least
 * %DI_REGION_MIN_SIZE image pixels on each side.
 *
 * Returns: whether ::region-selected was emitted
 */
gboolean
di_image_canvas_select_rect (DiImageCanvas *self,
                             double         x0,
                             double         y0,
                             double         x1,
                             double         y1)
{
  double ix0, iy0, ix1, iy1;
  int x, y, width, height;

  g_return_val_if_fail (DI_IS_IMAGE_CANVAS (self), FALSE);

  if (self->image == NULL)
    return FALSE;

  di_image_canvas_widget_to_image (self, x0, y0, &ix0, &iy0);
  di_image_canvas_widget_to_image (self, x1, y1, &ix1, &iy1);
  if (!di_region_normalize (ix0, iy0, ix1, iy1, image_width (self), image_height (self),
                            &x, &y, &width, &height))
    return FALSE;

  g_signal_emit (self, signals[REGION_SELECTED], 0, x, y, width, height);
  return TRUE;
}
