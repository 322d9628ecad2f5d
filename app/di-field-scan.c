/* di-field-scan.c — a sliding-window scan of a multi-cell field.
 *
 * A liquid-based cytology field (2048 x 1536) holds dozens of cells; a
 * model trained on single cells or small crops sees one of them at a time.
 * The scan tiles the field with square windows, classifies each tile and
 * keeps one score per tile: P(abnormal) when the model groups its classes
 * into normal and abnormal, else the probability of the tile's top class.
 *
 * Layout, the same along each axis: the window is min(width, height) / 4,
 * at least DI_FIELD_SCAN_MIN_WINDOW pixels (never more than the image);
 * the stride is half the window, so every point of the field lies in up to
 * four tiles. Tiles start at 0, stride, 2 stride, ... while they fit; when
 * the last one stops short of the edge, one more tile is placed flush with
 * the edge, so the whole field is covered. 512 x 384: window 96, stride
 * 48, 10 x 7 = 70 tiles.
 *
 * Drawing: the overlapping tiles are shown as the cells of a partition of
 * the field, one cell per tile, around the tile's centre (the boundaries
 * lie halfway between neighbouring centres), each filled with the colour
 * of its score. A point of the image therefore belongs to exactly one
 * cell: the tile whose centre is nearest, which is also the tile a click
 * there picks.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-field-scan"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "di-field-scan.h"
#include "di-heatmap.h"
#include "di-model-info.h"
#include "di-prediction.h"

struct _DiFieldScan
{
  GObject parent_instance;

  /* Owned References */
  DiModelInfo *model;
  GArray *xs;            /* int: left edges of the tile columns */
  GArray *ys;            /* int: top edges of the tile rows */
  double *x_edges;       /* n_columns + 1 cell boundaries */
  double *y_edges;       /* n_rows + 1 */
  float *scores;         /* per tile, row by row; -1 until classified */

  int image_width;
  int image_height;
  int window;
  int stride;
  int tile_width;
  int tile_height;
  guint n_done;
  gboolean grouped;
};

G_DEFINE_FINAL_TYPE (DiFieldScan, di_field_scan, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_N_DONE,
  PROP_COMPLETE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
di_field_scan_finalize (GObject *object)
{
  DiFieldScan *self = (DiFieldScan *)object;

  g_clear_pointer (&self->model, di_model_info_unref);
  g_clear_pointer (&self->xs, g_array_unref);
  g_clear_pointer (&self->ys, g_array_unref);
  g_clear_pointer (&self->x_edges, g_free);
  g_clear_pointer (&self->y_edges, g_free);
  g_clear_pointer (&self->scores, g_free);

  G_OBJECT_CLASS (di_field_scan_parent_class)->finalize (object);
}

static void
di_field_scan_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  DiFieldScan *self = DI_FIELD_SCAN (object);

  switch (prop_id)
    {
    case PROP_N_DONE:
      g_value_set_uint (value, self->n_done);
      break;

    case PROP_COMPLETE:
      g_value_set_boolean (value, di_field_scan_get_complete (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_field_scan_class_init (DiFieldScanClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = di_field_scan_finalize;
  object_class->get_property = di_field_scan_get_property;

  properties[PROP_N_DONE] =
    g_param_spec_uint ("n-done", NULL, NULL, 0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_COMPLETE] =
    g_param_spec_boolean ("complete", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_field_scan_init (DiFieldScan *self)
{
}

/**
 * di_field_scan_default_window:
 *
 * Returns: the side of the scan window for an image of this size:
 *   min(width, height) / 4, at least %DI_FIELD_SCAN_MIN_WINDOW, at most
 *   min(width, height)
 */
int
di_field_scan_default_window (int image_width,
                              int image_height)
{
  int side = MIN (image_width, image_height);

  g_return_val_if_fail (image_width > 0 && image_height > 0, 1);

  return MIN (MAX (side / 4, DI_FIELD_SCAN_MIN_WINDOW), side);
}

/* Where the tiles of one axis start, and the cell boundaries around them. */
static GArray *
axis_layout (int       length,
             int       size,
             int       stride,
             double  **edges)
{
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (int));
  double *b;
  guint n;

  for (int p = 0; p + size <= length; p += stride)
    g_array_append_val (starts, p);
  if (g_array_index (starts, int, starts->len - 1) + size < length)
    {
      int last = length - size;

      g_array_append_val (starts, last);
    }

  n = starts->len;
  b = g_new (double, n + 1);
  b[0] = 0;
  for (guint i = 1; i < n; i++)
    b[i] = (g_array_index (starts, int, i - 1) + g_array_index (starts, int, i) + size) / 2.0;
  b[n] = length;
  *edges = b;

  return starts;
}

/**
 * di_field_scan_new:
 * @window: side of the tiles, 0 for di_field_scan_default_window()
 * @stride: step between tiles, 0 for half the window
 * @model: the model whose scores the scan keeps
 *
 * Returns: (transfer full): a scan with no tile classified yet
 */
DiFieldScan *
di_field_scan_new (int          image_width,
                   int          image_height,
                   int          window,
                   int          stride,
                   DiModelInfo *model)
{
  DiFieldScan *self;

  g_return_val_if_fail (image_width > 0 && image_height > 0, NULL);
  g_return_val_if_fail (window >= 0 && stride >= 0, NULL);
  g_return_val_if_fail (model != NULL, NULL);

  if (window == 0)
    window = di_field_scan_default_window (image_width, image_height);
  if (stride == 0)
    stride = MAX (1, window / 2);

  self = g_object_new (DI_TYPE_FIELD_SCAN, NULL);
  self->model = di_model_info_ref (model);
  self->grouped = di_model_info_has_grouping (model);
  self->image_width = image_width;
  self->image_height = image_height;
  self->window = window;
  self->stride = stride;
  self->tile_width = MIN (window, image_width);
  self->tile_height = MIN (window, image_height);
  self->xs = axis_layout (image_width, self->tile_width, stride, &self->x_edges);
  self->ys = axis_layout (image_height, self->tile_height, stride, &self->y_edges);
  self->scores = g_new (float, (gsize)self->xs->len * self->ys->len);
  for (guint i = 0; i < self->xs->len * self->ys->len; i++)
    self->scores[i] = -1;

  return self;
}

int
di_field_scan_get_window (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->window;
}

int
di_field_scan_get_stride (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->stride;
}

guint
di_field_scan_get_n_columns (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->xs->len;
}

guint
di_field_scan_get_n_rows (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->ys->len;
}

guint
di_field_scan_get_n_tiles (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->xs->len * self->ys->len;
}

/**
 * di_field_scan_get_tile:
 * @index: row * n_columns + column
 * @x: (out): the tile's left edge, in image pixels
 *
 * Gets the rectangle the model classifies for one tile.
 */
void
di_field_scan_get_tile (DiFieldScan *self,
                        guint        index,
                        int         *x,
                        int         *y,
                        int         *width,
                        int         *height)
{
  g_return_if_fail (DI_IS_FIELD_SCAN (self));
  g_return_if_fail (index < di_field_scan_get_n_tiles (self));

  *x = g_array_index (self->xs, int, index % self->xs->len);
  *y = g_array_index (self->ys, int, index / self->xs->len);
  *width = self->tile_width;
  *height = self->tile_height;
}

/**
 * di_field_scan_dup_rects:
 *
 * Returns: (transfer full): x, y, width, height of every tile, in order
 */
int *
di_field_scan_dup_rects (DiFieldScan *self)
{
  guint n;
  int *rects;

  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), NULL);

  n = di_field_scan_get_n_tiles (self);
  rects = g_new (int, 4 * (gsize)n);
  for (guint i = 0; i < n; i++)
    di_field_scan_get_tile (self, i, &rects[4 * i], &rects[4 * i + 1],
                            &rects[4 * i + 2], &rects[4 * i + 3]);
  return rects;
}

static int
find_cell (const double *edges,
           guint         n,
           double        v)
{
  if (!(v >= edges[0] && v < edges[n]))
    return -1;
  for (guint i = 0; i < n; i++)
    if (v < edges[i + 1])
      return (int)i;
  return -1;
}

/**
 * di_field_scan_tile_at:
 * @x: image x
 * @y: image y
 *
 * Returns: the tile whose cell holds the point (the tile whose centre is
 *   nearest), or -1 outside the image
 */
int
di_field_scan_tile_at (DiFieldScan *self,
                       double       x,
                       double       y)
{
  int column, row;

  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), -1);

  column = find_cell (self->x_edges, self->xs->len, x);
  row = find_cell (self->y_edges, self->ys->len, y);
  if (column < 0 || row < 0)
    return -1;
  return row * (int)self->xs->len + column;
}

/**
 * di_field_scan_get_model:
 *
 * Returns: (transfer none): the model the scan is for
 */
DiModelInfo *
di_field_scan_get_model (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), NULL);
  return self->model;
}

/**
 * di_field_scan_get_grouped:
 *
 * Returns: %TRUE when the scores are P(abnormal), %FALSE when they are
 *   top-class probabilities (the model has no normal/abnormal grouping)
 */
gboolean
di_field_scan_get_grouped (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), FALSE);
  return self->grouped;
}

/**
 * di_field_scan_get_score_name:
 *
 * Returns: what the scores are, within a sentence
 */
const char *
di_field_scan_get_score_name (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), NULL);

  /* TRANSLATORS: the probability that a tile is abnormal, within a sentence */
  return self->grouped ? _("P(abnormal)")
                       /* TRANSLATORS: the probability of the most probable class, within a sentence */
                       : _("top-class probability");
}

/**
 * di_field_scan_get_legend_title:
 *
 * Returns: what the colours of the overlay mean
 */
const char *
di_field_scan_get_legend_title (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), NULL);

  return self->grouped ? _("P(abnormal) per tile") : _("Top-class probability per tile");
}

/**
 * di_field_scan_set_prediction:
 * @prediction: the classification of tile @index
 */
void
di_field_scan_set_prediction (DiFieldScan  *self,
                              guint         index,
                              DiPrediction *prediction)
{
  double score;
  gboolean was_complete;

  g_return_if_fail (DI_IS_FIELD_SCAN (self));
  g_return_if_fail (index < di_field_scan_get_n_tiles (self));
  g_return_if_fail (prediction != NULL);

  if (self->grouped)
    score = di_prediction_get_abnormal (prediction);
  else
    score = di_prediction_get_probability (prediction, di_prediction_get_top (prediction));

  was_complete = di_field_scan_get_complete (self);
  if (self->scores[index] < 0)
    self->n_done++;
  self->scores[index] = (float)CLAMP (score, 0.0, 1.0);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DONE]);
  if (!was_complete && di_field_scan_get_complete (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMPLETE]);
}

/**
 * di_field_scan_get_score:
 *
 * Returns: the score of tile @index in [0, 1], or -1 before it is
 *   classified
 */
double
di_field_scan_get_score (DiFieldScan *self,
                         guint        index)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), -1);
  g_return_val_if_fail (index < di_field_scan_get_n_tiles (self), -1);

  return self->scores[index];
}

guint
di_field_scan_get_n_done (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), 0);
  return self->n_done;
}

gboolean
di_field_scan_get_complete (DiFieldScan *self)
{
  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), FALSE);
  return self->n_done == di_field_scan_get_n_tiles (self);
}

/**
 * di_field_scan_get_max_tile:
 *
 * Returns: the classified tile with the highest score, or -1
 */
int
di_field_scan_get_max_tile (DiFieldScan *self)
{
  int best = -1;

  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), -1);

  for (guint i = 0; i < di_field_scan_get_n_tiles (self); i++)
    if (self->scores[i] >= 0 && (best < 0 || self->scores[i] > self->scores[best]))
      best = (int)i;
  return best;
}

/**
 * di_field_scan_get_max_score:
 *
 * Returns: the highest score of the classified tiles, or -1
 */
double
di_field_scan_get_max_score (DiFieldScan *self)
{
  int best;

  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), -1);

  best = di_field_scan_get_max_tile (self);
  return best >= 0 ? self->scores[best] : -1;
}

/**
 * di_field_scan_dup_caption:
 *
 * Returns: (transfer full): "Field scan: 70 tiles, max P(abnormal) 83%"
 */
char *
di_field_scan_dup_caption (DiFieldScan *self)
{
  guint n;

  g_return_val_if_fail (DI_IS_FIELD_SCAN (self), NULL);

  n = di_field_scan_get_n_tiles (self);
  if (self->n_done == 0)
    /* TRANSLATORS: caption over the image while no tile is classified yet */
    return g_strdup_printf (_("Field scan: 0 of %u tiles…"), n);
  if (self->n_done < n)
    /* TRANSLATORS: caption over the image during a field scan, e.g.
     * "Field scan: 12 of 70 tiles, max P(abnormal) 83%" */
    return g_strdup_printf (_("Field scan: %u of %u tiles, max %s %.0f%%"),
                            self->n_done, n, di_field_scan_get_score_name (self),
                            100.0 * di_field_scan_get_max_score (self));
  /* TRANSLATORS: caption over the image after a field scan, e.g.
   * "Field scan: 70 tiles, max P(abnormal) 83%" */
  return g_strdup_printf (ngettext ("Field scan: %u tile, max %s %.0f%%",
                                    "Field scan: %u tiles, max %s %.0f%%", n),
                          n, di_field_scan_get_score_name (self),
                          100.0 * di_field_scan_get_max_score (self));
}

/**
 * di_field_scan_draw:
 * @cr: a cairo context in image coordinates (one unit per image pixel)
 *
 * Fills the cell of every classified tile with the colour of its score
 * (0 to 1 on @colormap, not stretched), at @opacity.
 */
void
di_field_scan_draw (DiFieldScan *self,
                    cairo_t     *cr,
                    DiColormap   colormap,
                    double       opacity)
{
  g_return_if_fail (DI_IS_FIELD_SCAN (self));

  di_heatmap_draw_cells (cr, self->x_edges, self->xs->len, self->y_edges, self->ys->len,
                         self->scores, colormap, opacity);
}
