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
 * pinch zooms around the fingers, dragging pans.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-image-canvas"

#include "config.h"

#include <math.h>

#include "di-heatmap.h"
#include "di-image.h"
#include "di-image-canvas.h"

#define ZOOM_STEP 1.25
#define WHEEL_STEP 1.1

struct _DiImageCanvas
{
  GtkWidget parent_instance;

  /* Owned References */
  DiImage *image;
  DiHeatmap *heatmap;
  cairo_surface_t *half;     /* the image at half size, made on demand */

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
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

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

  if (self->overlay_visible && self->heatmap != NULL)
    di_heatmap_draw (self->heatmap, cr,
                     self->crop_x, self->crop_y, self->crop_w, self->crop_h,
                     self->crop_w, self->crop_h,
                     self->colormap, self->opacity, FALSE);

  cairo_restore (cr);
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
drag_begin_cb (GtkGestureDrag *drag,
               double          x,
               double          y,
               DiImageCanvas  *self)
{
  self->drag_tx = self->tx;
  self->drag_ty = self->ty;
  gtk_widget_grab_focus (GTK_WIDGET (self));
  if (self->image != NULL)
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

  self->tx = self->drag_tx + ox;
  self->ty = self->drag_ty + oy;
  clamp_offset (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
drag_end_cb (GtkGestureDrag *drag,
             double          ox,
             double          oy,
             DiImageCanvas  *self)
{
  gtk_widget_set_cursor (GTK_WIDGET (self), NULL);
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

  g_object_class_install_properties (object_class, N_PROPS, properties);

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
  set_best_fit (self, TRUE);
  update_best_fit (self);

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
