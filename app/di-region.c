/* di-region.c — a rectangle of an image (image pixels, inside the image)
 * that the user drew or picked from a field scan, with the classification
 * and the explanation map of just that rectangle once the engine has them.
 * Multi-cell fields (LBC slides, 2048 x 1536) hold many cells: a region
 * asks the model about one of them.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-region"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "di-case.h"
#include "di-heatmap.h"
#include "di-prediction.h"
#include "di-region.h"

struct _DiRegion
{
  GObject parent_instance;

  /* Owned References */
  DiPrediction *prediction;
  DiHeatmap *heatmap;
  char *error;

  int x;
  int y;
  int width;
  int height;
  gint64 case_id;
};

G_DEFINE_FINAL_TYPE (DiRegion, di_region, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_X,
  PROP_Y,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_PREDICTION,
  PROP_HEATMAP,
  PROP_ERROR,
  PROP_CASE_ID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
di_region_dispose (GObject *object)
{
  DiRegion *self = (DiRegion *)object;

  g_clear_pointer (&self->prediction, di_prediction_unref);
  g_clear_object (&self->heatmap);

  G_OBJECT_CLASS (di_region_parent_class)->dispose (object);
}

static void
di_region_finalize (GObject *object)
{
  DiRegion *self = (DiRegion *)object;

  g_clear_pointer (&self->error, g_free);

  G_OBJECT_CLASS (di_region_parent_class)->finalize (object);
}

static void
di_region_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  DiRegion *self = DI_REGION (object);

  switch (prop_id)
    {
    case PROP_X:
      g_value_set_int (value, self->x);
      break;

    case PROP_Y:
      g_value_set_int (value, self->y);
      break;

    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;

    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;

    case PROP_PREDICTION:
      g_value_set_boxed (value, self->prediction);
      break;

    case PROP_HEATMAP:
      g_value_set_object (value, self->heatmap);
      break;

    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;

    case PROP_CASE_ID:
      g_value_set_int64 (value, self->case_id);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_region_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  DiRegion *self = DI_REGION (object);

  switch (prop_id)
    {
    case PROP_X:
      self->x = g_value_get_int (value);
      break;

    case PROP_Y:
      self->y = g_value_get_int (value);
      break;

    case PROP_WIDTH:
      self->width = g_value_get_int (value);
      break;

    case PROP_HEIGHT:
      self->height = g_value_get_int (value);
      break;

    case PROP_CASE_ID:
      di_region_set_case_id (self, g_value_get_int64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_region_class_init (DiRegionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = di_region_dispose;
  object_class->finalize = di_region_finalize;
  object_class->get_property = di_region_get_property;
  object_class->set_property = di_region_set_property;

  properties[PROP_X] =
    g_param_spec_int ("x", NULL, NULL, 0, G_MAXINT, 0,
                      (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_Y] =
    g_param_spec_int ("y", NULL, NULL, 0, G_MAXINT, 0,
                      (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_WIDTH] =
    g_param_spec_int ("width", NULL, NULL, 1, G_MAXINT, 1,
                      (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_HEIGHT] =
    g_param_spec_int ("height", NULL, NULL, 1, G_MAXINT, 1,
                      (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_PREDICTION] =
    g_param_spec_boxed ("prediction", NULL, NULL, DI_TYPE_PREDICTION,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_HEATMAP] =
    g_param_spec_object ("heatmap", NULL, NULL, DI_TYPE_HEATMAP,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_CASE_ID] =
    g_param_spec_int64 ("case-id", NULL, NULL, 0, G_MAXINT64, 0,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_region_init (DiRegion *self)
{
  self->width = self->height = 1;
}

/**
 * di_region_new:
 * @x: left edge, in image pixels
 * @y: top edge
 * @width: at least 1
 * @height: at least 1
 *
 * Returns: (transfer full): a region that has not been classified yet
 */
DiRegion *
di_region_new (int x,
               int y,
               int width,
               int height)
{
  g_return_val_if_fail (x >= 0 && y >= 0, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  return g_object_new (DI_TYPE_REGION,
                       "x", x,
                       "y", y,
                       "width", width,
                       "height", height,
                       NULL);
}

/**
 * di_region_normalize:
 * @x0: one corner, in image coordinates (may lie outside the image)
 * @x1: the opposite corner
 * @x: (out): left edge of the rectangle, clamped to the image
 * @width: (out): its width
 *
 * Turns two corners, in any order, into a rectangle of whole pixels inside
 * the image.
 *
 * Returns: whether the rectangle is at least %DI_REGION_MIN_SIZE pixels
 *   on each side (the image permitting: a smaller image gives at most its
 *   own size)
 */
gboolean
di_region_normalize (double  x0,
                     double  y0,
                     double  x1,
                     double  y1,
                     int     image_width,
                     int     image_height,
                     int    *x,
                     int    *y,
                     int    *width,
                     int    *height)
{
  int left, top, right, bottom;

  if (image_width <= 0 || image_height <= 0 ||
      !(isfinite (x0) && isfinite (y0) && isfinite (x1) && isfinite (y1)))
    return FALSE;

  left = (int)CLAMP (floor (MIN (x0, x1)), 0, image_width);
  top = (int)CLAMP (floor (MIN (y0, y1)), 0, image_height);
  right = (int)CLAMP (ceil (MAX (x0, x1)), 0, image_width);
  bottom = (int)CLAMP (ceil (MAX (y0, y1)), 0, image_height);

  *x = left;
  *y = top;
  *width = right - left;
  *height = bottom - top;

  return *width >= MIN (DI_REGION_MIN_SIZE, image_width) &&
         *height >= MIN (DI_REGION_MIN_SIZE, image_height) &&
         *width > 0 && *height > 0;
}

int
di_region_get_x (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), 0);
  return self->x;
}

int
di_region_get_y (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), 0);
  return self->y;
}

int
di_region_get_width (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), 0);
  return self->width;
}

int
di_region_get_height (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), 0);
  return self->height;
}

/**
 * di_region_contains:
 * @x: image x
 * @y: image y
 */
gboolean
di_region_contains (DiRegion *self,
                    double    x,
                    double    y)
{
  g_return_val_if_fail (DI_IS_REGION (self), FALSE);

  return x >= self->x && x < self->x + self->width &&
         y >= self->y && y < self->y + self->height;
}

/**
 * di_region_has_rect:
 * @x: left edge, in image pixels
 * @y: top edge
 * @width: width
 * @height: height
 *
 * Returns: whether the region is exactly that rectangle (as stored in the
 *   case: a region saved there is found again by its rectangle)
 */
gboolean
di_region_has_rect (DiRegion *self,
                    double    x,
                    double    y,
                    double    width,
                    double    height)
{
  g_return_val_if_fail (DI_IS_REGION (self), FALSE);

  return x == self->x && y == self->y && width == self->width && height == self->height;
}

/**
 * di_region_dup_label:
 *
 * Returns: (transfer full): where the region is, for people:
 *   "Region at 120, 80 · 200 × 160 px"
 */
char *
di_region_dup_label (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), NULL);

  /* TRANSLATORS: a rectangle of the image: its left and top edges, then
   * its width and height, in image pixels */
  return g_strdup_printf (_("Region at %d, %d · %d × %d px"),
                          self->x, self->y, self->width, self->height);
}

/**
 * di_region_get_prediction:
 *
 * Returns: (transfer none) (nullable): the region's classification
 */
DiPrediction *
di_region_get_prediction (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), NULL);
  return self->prediction;
}

/**
 * di_region_get_heatmap:
 *
 * Returns: (transfer none) (nullable): the region's explanation map
 */
DiHeatmap *
di_region_get_heatmap (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), NULL);
  return self->heatmap;
}

/**
 * di_region_set_result:
 * @prediction: (nullable): the classification of the region
 * @heatmap: (nullable): its explanation map
 *
 * Also clears the error.
 */
void
di_region_set_result (DiRegion     *self,
                      DiPrediction *prediction,
                      DiHeatmap    *heatmap)
{
  g_return_if_fail (DI_IS_REGION (self));

  if (self->prediction != prediction)
    {
      g_clear_pointer (&self->prediction, di_prediction_unref);
      self->prediction = prediction ? di_prediction_ref (prediction) : NULL;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PREDICTION]);
    }
  if (g_set_object (&self->heatmap, heatmap))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEATMAP]);
  di_region_set_error (self, NULL);
}

/**
 * di_region_get_error:
 *
 * Returns: (nullable): why the region could not be classified
 */
const char *
di_region_get_error (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), NULL);
  return self->error;
}

void
di_region_set_error (DiRegion   *self,
                     const char *error)
{
  g_return_if_fail (DI_IS_REGION (self));

  if (g_strcmp0 (self->error, error) != 0)
    {
      g_free (self->error);
      self->error = g_strdup (error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
    }
}

/**
 * di_region_get_case_id:
 *
 * Returns: the region's row in the review case, or 0 when it is not in one
 */
gint64
di_region_get_case_id (DiRegion *self)
{
  g_return_val_if_fail (DI_IS_REGION (self), 0);
  return self->case_id;
}

void
di_region_set_case_id (DiRegion *self,
                       gint64    case_id)
{
  g_return_if_fail (DI_IS_REGION (self));

  if (self->case_id != case_id)
    {
      self->case_id = case_id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CASE_ID]);
    }
}

/* ---- A region saved in the case, drawn ---------------------------------- */

#define TAG_PAD 2.0
#define TAG_MIN_SIDE 12.0

/**
 * di_region_get_saved_label:
 *
 * Returns: the tag of a region saved in the case: its class, short and
 *   readable, or "Region"
 */
const char *
di_region_get_saved_label (const DiCaseRegion *saved)
{
  g_return_val_if_fail (saved != NULL, NULL);
  /* TRANSLATORS: the tag of a region saved in the case without a class */
  return saved->label != NULL && *saved->label ? di_class_get_short_title (saved->label) : _("Region");
}

/**
 * di_region_draw_saved:
 * @cr: in device units, the image origin at (0, 0)
 * @layout: for the tag, in the font and size wanted
 * @zoom: device units per image pixel
 * @top: where the view begins, in @cr's units: a tag that would start
 *   above it goes inside the outline instead
 *
 * A region of the case: a thin outline, quieter than the one of the region
 * on screen, with its label in a small tag above its top left corner. The
 * viewer's canvas and the PDF report both draw regions with this, so they
 * look alike; lines and text keep their size at any zoom.
 */
void
di_region_draw_saved (cairo_t            *cr,
                      PangoLayout        *layout,
                      const DiCaseRegion *saved,
                      double              zoom,
                      double              top)
{
  double x = floor (saved->x * zoom) + 0.5, y = floor (saved->y * zoom) + 0.5;
  double w = floor (saved->width * zoom), h = floor (saved->height * zoom);
  double tag_x, tag_y;
  int tw, th;

  cairo_save (cr);
  cairo_rectangle (cr, x, y, w, h);
  cairo_set_line_width (cr, 3.0);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.35);
  cairo_stroke_preserve (cr);
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgba (cr, 1, 1, 1, 0.7);
  cairo_stroke (cr);

  if (w >= TAG_MIN_SIDE && h >= TAG_MIN_SIDE)
    {
      pango_layout_set_text (layout, di_region_get_saved_label (saved), -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      tag_x = x - 0.5;
      tag_y = y - 1.5 - th - 2 * TAG_PAD;
      if (tag_y < top)
        tag_y = y + 1.5;
      cairo_rectangle (cr, tag_x, tag_y, tw + 2 * TAG_PAD, th + 2 * TAG_PAD);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.5);
      cairo_fill (cr);
      cairo_move_to (cr, tag_x + TAG_PAD, tag_y + TAG_PAD);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.85);
      pango_cairo_show_layout (cr, layout);
    }
  cairo_restore (cr);
}
