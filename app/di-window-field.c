/* di-window-field.c — multi-cell fields: regions and the field scan.
 *
 * A liquid-based cytology field (2048 x 1536) holds many cells. Two ways
 * to ask the model about parts of it:
 *
 *   - A region: Shift+drag on the image (or any drag in select mode, the
 *     header bar's toggle or R) draws a rectangle; on release it is
 *     classified and explained on its own, with the method, stage and
 *     class chosen in the side panel, in the engine's worker
 *     (di_engine_explain_region_async(): the worker crops it). The panel
 *     shows the region's classification, labelled with where it is; the
 *     canvas shows the region's outline and its map inside it. Clicking
 *     outside it, Escape or "Whole Image" go back to the whole image.
 *     Regions go into the review case (its regions table, with the top
 *     class as the label), so they are in the GeoJSON export. Whenever
 *     an image is shown (reopened, or the case opened again), the canvas
 *     outlines the regions the case holds for it, thinly, each tagged
 *     with its stored class; clicking inside one (without dragging) makes
 *     it the region again: classified and explained anew, its row found
 *     by its rectangle, not stored twice. Over a field scan a click picks
 *     a tile instead.
 *   - A field scan (Ctrl+Shift+F): the field is tiled by a sliding window
 *     (DiFieldScan: window min(W, H) / 4, at least 64 px, stride half the
 *     window) and every tile is classified in the worker, eight per forward
 *     pass (di_engine_scan_async()), with the batch progress bar (count,
 *     time left, Cancel). The canvas colours each tile's cell by its
 *     P(abnormal), or by its top-class probability when the model has no
 *     normal/abnormal grouping; a legend and a caption say which. Clicking
 *     a tile makes it the region. A finished scan is kept with its image
 *     (for the model that made it): scanning again shows it at once.
 *     Leaving the image, or loading another model, cancels a running scan.
 *
 * Escape steps back: the rectangle being drawn, then the region, then the
 * scan's overlay.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-window"

#include "config.h"

#include <glib/gi18n.h>

#include "di-field-scan.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-region.h"
#include "di-window-private.h"

/* Tiles per forward pass of a scan. */
#define SCAN_BATCH 8
/* Where a finished scan is kept, on its DiItem. */
#define SCAN_KEY "di-field-scan"

static void update_field_actions (DiWindow *self);

/* What an answer from the engine is about. */
typedef struct
{
  DiWindow *self;
  DiItem *item;
  GObject *subject;     /* the DiRegion or DiFieldScan */
} FieldRequest;

static FieldRequest *
field_request_new (DiWindow *self,
                   gpointer  subject)
{
  FieldRequest *request = g_new0 (FieldRequest, 1);

  request->self = g_object_ref (self);
  request->item = self->current ? g_object_ref (self->current) : NULL;
  request->subject = g_object_ref (subject);

  return request;
}

static void
field_request_free (FieldRequest *request)
{
  g_clear_object (&request->self);
  g_clear_object (&request->item);
  g_clear_object (&request->subject);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FieldRequest, field_request_free)

static void
refresh (DiWindow *self)
{
  _di_window_update_caption (self);
  update_field_actions (self);
}

/* ---- Regions -------------------------------------------------------------- */

/**
 * _di_window_field_show_saved_regions:
 *
 * The image on screen was opened: the canvas outlines the regions the
 * case holds for it (one query).
 */
void
_di_window_field_show_saved_regions (DiWindow *self)
{
  g_autoptr(GPtrArray) stored = NULL;

  if (self->current_image != NULL && _di_window_item_in_case (self, self->current))
    stored = di_case_dup_regions (self->kase, di_item_get_case_id (self->current));
  di_image_canvas_set_saved_regions (self->canvas, stored);
}

/* The region goes into the case, once per rectangle and image, and among
 * the canvas's saved regions (they are read for the check anyway). A saved
 * region classified again takes the new class (another model, say). */
static void
record_region (DiWindow *self,
               DiRegion *region)
{
  DiPrediction *prediction = di_region_get_prediction (region);
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GError) error = NULL;
  DiCaseRegion *added;
  gint64 image_id, id;
  double probability;

  if (prediction == NULL || di_region_get_case_id (region) > 0 || self->current == NULL)
    return;
  if (!_di_window_item_in_case (self, self->current))
    {
      _di_window_warn_not_in_case (self);
      return;
    }
  probability = di_prediction_get_probability (prediction, di_prediction_get_top (prediction));

  image_id = di_item_get_case_id (self->current);
  stored = di_case_dup_regions (self->kase, image_id);
  for (guint i = 0; i < stored->len; i++)
    {
      DiCaseRegion *r = g_ptr_array_index (stored, i);

      if (di_region_has_rect (region, r->x, r->y, r->width, r->height))
        {
          const char *label = di_prediction_get_top_name (prediction);

          di_region_set_case_id (region, r->id);
          if (g_strcmp0 (r->label, label) != 0 || r->probability != probability)
            {
              if (di_case_set_region_label (self->kase, r->id, label, probability, &error))
                {
                  g_free (r->label);
                  r->label = g_strdup (label);
                  r->probability = probability;
                }
              else
                {
                  /* TRANSLATORS: %s says why */
                  g_autofree char *text = g_strdup_printf (_("Could not save the region in the case: %s"),
                                                           error->message);

                  di_window_show_message (self, TRUE, text);
                }
            }
          di_image_canvas_set_saved_regions (self->canvas, stored);
          return;
        }
    }

  id = di_case_add_region (self->kase, image_id,
                           di_region_get_x (region), di_region_get_y (region),
                           di_region_get_width (region), di_region_get_height (region),
                           di_prediction_get_top_name (prediction), probability, &error);
  if (id == 0)
    {
      /* TRANSLATORS: %s says why */
      g_autofree char *text = g_strdup_printf (_("Could not save the region in the case: %s"),
                                               error->message);

      di_window_show_message (self, TRUE, text);
      return;
    }
  di_region_set_case_id (region, id);

  added = g_new0 (DiCaseRegion, 1);
  added->id = id;
  added->image_id = image_id;
  added->x = di_region_get_x (region);
  added->y = di_region_get_y (region);
  added->width = di_region_get_width (region);
  added->height = di_region_get_height (region);
  added->label = g_strdup (di_prediction_get_top_name (prediction));
  added->probability = probability;
  g_ptr_array_add (stored, added);
  di_image_canvas_set_saved_regions (self->canvas, stored);

  /* Once per window, where no other message is up: a region (a scan tile
   * clicked, too) is kept in the case without being asked. */
  if (!self->told_region_saved && di_window_get_message (self) == NULL)
    {
      self->told_region_saved = TRUE;
      di_window_show_message (self, FALSE,
                              _("The region was saved in the case, and will be in its report. "
                                "Forget Region in the side panel removes it."));
    }
}

static void
region_explained_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(FieldRequest) request = user_data;
  DiWindow *self = request->self;
  DiRegion *region = DI_REGION (request->subject);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiHeatmap) heatmap = NULL;
  g_autoptr(DiPrediction) prediction = NULL;

  _di_window_analysis_end (self);
  heatmap = di_engine_explain_finish (DI_ENGINE (object), result, &prediction, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  /* Another region, or none, is on screen now. */
  if (region != self->region)
    return;

  if (heatmap == NULL)
    {
      /* A newer request for this region replaced this one. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      di_region_set_error (region, error->message);
      if (!g_error_matches (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL))
        {
          /* TRANSLATORS: %s is the engine's (English) error message */
          g_autofree char *text = g_strdup_printf (_("Could not classify the region: %s"),
                                                   error->message);

          di_window_show_message (self, TRUE, text);
        }
      refresh (self);
      return;
    }

  di_region_set_result (region, prediction, heatmap);
  record_region (self, region);
  refresh (self);
}

static void
request_region (DiWindow *self)
{
  DiRegion *region = self->region;

  if (self->region_cancellable != NULL)
    g_cancellable_cancel (self->region_cancellable);
  g_clear_object (&self->region_cancellable);

  if (region == NULL || self->current_image == NULL)
    return;

  if (_di_window_current_model (self) == NULL)
    {
      di_region_set_error (region, _("No model loaded — choose a model in Preferences"));
      return;
    }

  self->region_cancellable = g_cancellable_new ();
  _di_window_analysis_begin (self);
  di_engine_explain_region_async (self->engine, self->current_image,
                                  di_region_get_x (region), di_region_get_y (region),
                                  di_region_get_width (region), di_region_get_height (region),
                                  di_side_panel_get_method (self->side_panel),
                                  di_side_panel_get_stage (self->side_panel),
                                  di_side_panel_get_target (self->side_panel),
                                  self->region_cancellable,
                                  region_explained_cb, field_request_new (self, region));
}

static void
set_region (DiWindow *self,
            DiRegion *region)
{
  if (self->region == region)
    return;

  g_set_object (&self->region, region);
  di_image_canvas_set_region (self->canvas, region);
  di_side_panel_set_region (self->side_panel, region);
  request_region (self);
  refresh (self);
}

/**
 * di_window_select_region:
 * @x: left edge, in pixels of the image on screen
 * @y: top edge
 * @width: width; the rectangle is clamped to the image
 * @height: height
 *
 * Classifies and explains a rectangle of the image on screen on its own,
 * and shows the result (what drawing a rectangle on the canvas does).
 * Rectangles smaller than %DI_REGION_MIN_SIZE pixels are ignored.
 *
 * Returns: whether the region was taken
 */
gboolean
di_window_select_region (DiWindow *self,
                         int       x,
                         int       y,
                         int       width,
                         int       height)
{
  g_autoptr(DiRegion) region = NULL;
  int rx, ry, rw, rh;

  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);

  if (self->current_image == NULL ||
      !di_region_normalize (x, y, (double)x + width, (double)y + height,
                            di_image_get_width (self->current_image),
                            di_image_get_height (self->current_image),
                            &rx, &ry, &rw, &rh))
    return FALSE;

  region = di_region_new (rx, ry, rw, rh);
  set_region (self, region);
  return TRUE;
}

/**
 * di_window_get_region:
 *
 * Returns: (transfer none) (nullable): the region on screen
 */
DiRegion *
di_window_get_region (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->region;
}

static void
region_selected_cb (DiImageCanvas *canvas,
                    int            x,
                    int            y,
                    int            width,
                    int            height,
                    DiWindow      *self)
{
  di_window_select_region (self, x, y, width, height);
}

/* ---- The field scan ------------------------------------------------------- */

gboolean
_di_window_field_owns_progress (DiWindow *self)
{
  return self->scan_cancellable != NULL;
}

static void
update_scan_progress (DiWindow *self)
{
  g_autofree char *text = NULL;
  guint total = di_field_scan_get_n_tiles (self->scanning);
  guint done = di_field_scan_get_n_done (self->scanning);
  gint64 now = g_get_monotonic_time ();

  /* At most ten updates a second, but always the first and the last. */
  if (done > 0 && done < total && now - self->scan_progress_shown < G_USEC_PER_SEC / 10)
    return;
  self->scan_progress_shown = now;

  gtk_progress_bar_set_fraction (self->progress_bar, (double)done / total);
  if (done == 0)
    /* TRANSLATORS: field scan progress before the first tile is done */
    text = g_strdup_printf (_("Scanning 0 of %u tiles…"), total);
  else
    {
      double elapsed = (now - self->scan_start) / (double)G_USEC_PER_SEC;
      g_autofree char *eta = _di_window_format_duration (elapsed / done * (total - done));

      /* TRANSLATORS: "Scanned 12 of 70 tiles · about 30 seconds left" */
      text = g_strdup_printf (_("Scanned %u of %u tiles · about %s left"), done, total, eta);
    }
  gtk_label_set_text (self->progress_label, text);
}

/* The progress bar goes back to the folder's batch, if one runs. */
static void
release_progress (DiWindow *self)
{
  g_clear_object (&self->scan_cancellable);
  g_clear_object (&self->scanning);
  if (di_window_get_batch_running (self))
    _di_window_update_progress (self);
  gtk_revealer_set_reveal_child (self->progress_revealer, di_window_get_batch_running (self));
}

static void
show_scan (DiWindow    *self,
           DiFieldScan *scan)
{
  if (self->scan != NULL)
    g_signal_handlers_disconnect_by_data (self->scan, self);
  g_set_object (&self->scan, scan);
  di_image_canvas_set_field_scan (self->canvas, scan);
  /* the tile-size notice was about the scan: it goes with it */
  if (scan == NULL && self->message_is_scan_notice)
    di_window_show_message (self, FALSE, NULL);
  if (scan != NULL)
    g_signal_connect_swapped (scan, "notify::n-done", G_CALLBACK (refresh), self);
  refresh (self);
}

/* Cancel (the progress bar's button, Ctrl+.): the scan stops within a
 * layer and says so. */
gboolean
_di_window_field_cancel_scan (DiWindow *self)
{
  if (self->scan_cancellable == NULL)
    return FALSE;

  g_cancellable_cancel (self->scan_cancellable);
  return TRUE;
}

/* Silently: the scan is no longer wanted. */
static void
cancel_scan (DiWindow *self)
{
  if (self->scan_cancellable == NULL)
    return;

  g_cancellable_cancel (self->scan_cancellable);
  release_progress (self);
}

static void
scan_batch_cb (DiEngine      *engine,
               guint          first,
               guint          n,
               DiPrediction **predictions,
               gpointer       user_data)
{
  FieldRequest *request = user_data;
  DiWindow *self = request->self;
  DiFieldScan *scan = DI_FIELD_SCAN (request->subject);

  for (guint i = 0; i < n; i++)
    di_field_scan_set_prediction (scan, first + i, predictions[i]);

  /* Shown or not, the running scan has the progress bar. */
  if (scan == self->scanning)
    update_scan_progress (self);
}

static void
scan_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(FieldRequest) request = user_data;
  DiWindow *self = request->self;
  DiFieldScan *scan = DI_FIELD_SCAN (request->subject);
  GCancellable *cancellable = g_task_get_cancellable (G_TASK (result));
  g_autoptr(GError) error = NULL;

  di_engine_scan_finish (DI_ENGINE (object), result, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  /* Left behind: the user moved to another image or model, and said so. */
  if (cancellable == NULL || cancellable != self->scan_cancellable)
    {
      if (error == NULL && request->item != NULL)
        g_object_set_data_full (G_OBJECT (request->item), SCAN_KEY, g_object_ref (scan), g_object_unref);
      return;
    }

  release_progress (self);

  if (error == NULL)
    {
      if (request->item != NULL)
        g_object_set_data_full (G_OBJECT (request->item), SCAN_KEY, g_object_ref (scan), g_object_unref);
    }
  else
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        /* TRANSLATORS: after the user cancelled a field scan */
        text = g_strdup_printf (_("Field scan cancelled after %u of %u tiles"),
                                di_field_scan_get_n_done (scan), di_field_scan_get_n_tiles (scan));
      else
        /* TRANSLATORS: %s is the engine's (English) error message */
        text = g_strdup_printf (_("Could not scan the field: %s"), error->message);
      di_window_show_message (self, !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED), text);

      /* A partial scan is not shown as if it were the field's. */
      if (scan == self->scan)
        show_scan (self, NULL);
    }

  refresh (self);
}

/**
 * di_window_scan_field:
 *
 * Scans the image on screen with a sliding window and shows the per-tile
 * overlay as the tiles are classified; a finished scan of this image by
 * the loaded model is shown at once.
 *
 * Returns: whether a scan runs or is shown
 */
gboolean
di_window_scan_field (DiWindow *self)
{
  DiModelInfo *model = _di_window_current_model (self);
  DiFieldScan *cached;
  g_autoptr(DiFieldScan) scan = NULL;
  g_autofree int *rects = NULL;

  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);

  if (model == NULL)
    {
      di_window_show_message (self, TRUE, _("No model loaded — choose a model in Preferences"));
      return FALSE;
    }
  if (self->current == NULL || self->current_image == NULL)
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return FALSE;
    }

  /* The region gives way to the field. */
  set_region (self, NULL);

  /* Running: show it. */
  if (self->scanning != NULL)
    {
      show_scan (self, self->scanning);
      return TRUE;
    }

  cached = g_object_get_data (G_OBJECT (self->current), SCAN_KEY);
  if (cached != NULL && di_model_info_same_model (di_field_scan_get_model (cached), model) &&
      di_field_scan_get_complete (cached))
    {
      show_scan (self, cached);
      return TRUE;
    }

  scan = di_field_scan_new (di_image_get_width (self->current_image),
                            di_image_get_height (self->current_image), 0, 0, model);
  g_debug ("Scanning %dx%d: window %d, stride %d, %u tiles",
           di_image_get_width (self->current_image), di_image_get_height (self->current_image),
           di_field_scan_get_window (scan), di_field_scan_get_stride (scan),
           di_field_scan_get_n_tiles (scan));

  /* A model of whole fields (lbc4) never saw tiles this small: say so
   * before its tile scores are read as findings. */
  if (di_model_info_get_image_side (model) > 0 &&
      2 * di_field_scan_get_window (scan) < di_model_info_get_image_side (model))
    {
      /* TRANSLATORS: "The scan's tiles are 128 × 128 pixels, much smaller than the images lbc4
       * was trained on (about 512 pixels a side): …" */
      g_autofree char *text = g_strdup_printf (_("The scan’s tiles are %d × %d pixels, much smaller than the "
                                                 "images %s was trained on (about %d pixels a side): its tile "
                                                 "scores may not mean much. Use a model of single cells to scan "
                                                 "a field."),
                                               di_field_scan_get_window (scan), di_field_scan_get_window (scan),
                                               di_model_info_get_name (model),
                                               di_model_info_get_image_side (model));

      di_window_show_message (self, FALSE, text);
      self->message_is_scan_notice = TRUE;
    }

  self->scan_cancellable = g_cancellable_new ();
  self->scanning = g_object_ref (scan);
  self->scan_start = g_get_monotonic_time ();
  show_scan (self, scan);
  update_scan_progress (self);
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);

  rects = di_field_scan_dup_rects (scan);
  di_engine_scan_async (self->engine, self->current_image, rects, di_field_scan_get_n_tiles (scan),
                        SCAN_BATCH, scan_batch_cb, field_request_new (self, scan),
                        (GDestroyNotify)field_request_free, self->scan_cancellable,
                        scan_done_cb, field_request_new (self, scan));
  refresh (self);
  return TRUE;
}

/**
 * di_window_get_field_scan:
 *
 * Returns: (transfer none) (nullable): the field scan on screen, complete
 *   or running
 */
DiFieldScan *
di_window_get_field_scan (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->scan;
}

gboolean
di_window_get_scan_running (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return self->scan_cancellable != NULL;
}

/**
 * di_window_show_whole_image:
 *
 * One step back to the whole image: from the region to the field scan's
 * overlay (when there is one), from that to the whole image's map.
 *
 * Returns: whether anything changed
 */
gboolean
di_window_show_whole_image (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);

  if (self->region != NULL)
    {
      set_region (self, NULL);
      return TRUE;
    }
  if (self->scan != NULL)
    {
      show_scan (self, NULL);
      return TRUE;
    }
  return FALSE;
}

/* A click on the image: a tile of the scan becomes the region, else a
 * region saved in the case does again; elsewhere the region gives way to
 * the whole image. */
static void
canvas_clicked_cb (DiImageCanvas *canvas,
                   double         x,
                   double         y,
                   DiWindow      *self)
{
  const DiCaseRegion *saved;
  int tile;

  if (self->region != NULL && di_region_contains (self->region, x, y))
    return;

  if (self->scan != NULL &&
      (tile = di_field_scan_tile_at (self->scan, x, y)) >= 0 &&
      di_field_scan_get_score (self->scan, tile) >= 0)
    {
      int tx, ty, tw, th;

      di_field_scan_get_tile (self->scan, tile, &tx, &ty, &tw, &th);
      di_window_select_region (self, tx, ty, tw, th);
      return;
    }

  /* Classified again; record_region() finds its row by the rectangle. */
  if ((saved = di_image_canvas_get_saved_region_at (self->canvas, x, y)) != NULL)
    {
      di_window_select_region (self, (int)saved->x, (int)saved->y,
                               (int)saved->width, (int)saved->height);
      return;
    }

  if (self->region != NULL)
    set_region (self, NULL);
}

/* ---- The window's part ------------------------------------------------------ */

/**
 * _di_window_field_update_caption:
 *
 * Shows the field scan's caption and legend when its overlay is on screen.
 *
 * Returns: whether the caption is the scan's
 */
gboolean
_di_window_field_update_caption (DiWindow *self)
{
  gboolean visible = di_image_canvas_get_overlay_visible (self->canvas);
  gboolean shown = self->scan != NULL && self->region == NULL;

  gtk_widget_set_visible (self->scan_legend_box, shown && visible);
  if (!shown)
    return FALSE;

  {
    g_autofree char *caption = di_field_scan_dup_caption (self->scan);

    gtk_label_set_text (self->caption_label, caption);
    gtk_widget_set_visible (GTK_WIDGET (self->caption_label), visible);
    gtk_widget_set_visible (GTK_WIDGET (self->evidence_label), FALSE);
    gtk_label_set_text (self->scan_legend_label, di_field_scan_get_legend_title (self->scan));
    gtk_widget_queue_draw (GTK_WIDGET (self->scan_legend));
  }
  return TRUE;
}

/**
 * _di_window_field_get_heatmap:
 *
 * Returns: (transfer none) (nullable): the map the caption is about: the
 *   region's, else the whole image's
 */
DiHeatmap *
_di_window_field_get_heatmap (DiWindow *self)
{
  if (self->region != NULL)
    return di_region_get_heatmap (self->region);
  return di_image_canvas_get_heatmap (self->canvas);
}

/**
 * _di_window_field_reset:
 *
 * The image or the model changes: the region goes, a running scan is
 * cancelled (silently) and the scan's overlay goes.
 */
void
_di_window_field_reset (DiWindow *self)
{
  di_image_canvas_cancel_selection (self->canvas);
  set_region (self, NULL);
  cancel_scan (self);
  show_scan (self, NULL);
}

/* The method, stage or class changed: the region is explained again. */
void
_di_window_field_settings_changed (DiWindow *self)
{
  request_region (self);
}

static void
draw_scan_legend (GtkDrawingArea *area,
                  cairo_t        *cr,
                  int             width,
                  int             height,
                  gpointer        user_data)
{
  DiWindow *self = user_data;
  GdkRGBA color;

  /* gtk_widget_get_color() is GTK 4.10; the style context is 4.8's way. */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &color);
  gdk_cairo_set_source_rgba (cr, &color);
  /* Scores are probabilities, drawn as they are: the ends are 0 and 1. */
  di_heatmap_draw_legend_labelled (cr, di_image_canvas_get_colormap (self->canvas),
                                   0.5, 0.5, width - 1, height - 1, "0%", "100%");
}

static void
update_field_actions (DiWindow *self)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "whole-image");
  GAction *forget = g_action_map_lookup_action (G_ACTION_MAP (self), "forget-region");

  if (action != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action), self->region != NULL || self->scan != NULL);
  GAction *restore = g_action_map_lookup_action (G_ACTION_MAP (self), "restore-region");

  if (forget != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (forget),
                                 self->region != NULL && di_region_get_case_id (self->region) > 0);
  if (restore != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (restore), self->forgotten_region != NULL);
}

/* Forget Region's undo is offered until another message replaces it. */
void
_di_window_field_clear_forgotten (DiWindow *self)
{
  g_clear_object (&self->forgotten_case);
  g_clear_pointer (&self->forgotten_region, di_case_region_free);
  if (self->message_undo_button != NULL)
    gtk_widget_set_visible (GTK_WIDGET (self->message_undo_button), FALSE);
  update_field_actions (self);
}

/**
 * di_window_forget_region:
 *
 * Removes the region on screen from the case (a region drawn by mistake)
 * and goes back to the whole image. Reviews are not touched. The banner
 * offers to undo it (di_window_restore_region()).
 *
 * Returns: whether a region was removed
 */
gboolean
di_window_forget_region (DiWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  DiCaseRegion *removed = NULL;
  gint64 id;

  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);

  id = self->region != NULL ? di_region_get_case_id (self->region) : 0;
  if (id <= 0 || self->kase == NULL || self->current == NULL)
    return FALSE;

  /* What is removed, to put it back on Undo. */
  stored = di_case_dup_regions (self->kase, di_item_get_case_id (self->current));
  for (guint i = 0; i < stored->len && removed == NULL; i++)
    if (((DiCaseRegion *)g_ptr_array_index (stored, i))->id == id)
      removed = g_ptr_array_steal_index (stored, i);

  if (!di_case_remove_region (self->kase, id, &error))
    {
      /* TRANSLATORS: %s says why */
      g_autofree char *text = g_strdup_printf (_("Could not remove the region from the case: %s"),
                                               error->message);

      di_window_show_message (self, TRUE, text);
      g_clear_pointer (&removed, di_case_region_free);
      return FALSE;
    }
  set_region (self, NULL);
  _di_window_field_show_saved_regions (self);

  di_window_show_message (self, FALSE, _("The region was removed from the case."));
  if (removed != NULL)
    {
      self->forgotten_case = g_object_ref (self->kase);
      self->forgotten_region = removed;
      gtk_widget_set_visible (GTK_WIDGET (self->message_undo_button), TRUE);
      update_field_actions (self);
    }
  return TRUE;
}

/**
 * di_window_restore_region:
 *
 * Undoes the latest Forget Region while the banner still offers it: the
 * rectangle and its label go back into the case it was removed from.
 *
 * Returns: whether a region was put back
 */
gboolean
di_window_restore_region (DiWindow *self)
{
  g_autoptr(GError) error = NULL;
  const DiCaseRegion *r;

  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);

  r = self->forgotten_region;
  if (r == NULL)
    return FALSE;
  if (self->forgotten_case != self->kase)
    {
      /* another case is open now; the region belongs to the old one */
      _di_window_field_clear_forgotten (self);
      return FALSE;
    }
  if (di_case_add_region (self->kase, r->image_id, r->x, r->y, r->width, r->height,
                          r->label, r->probability, &error) <= 0)
    {
      /* TRANSLATORS: %s says why */
      g_autofree char *text = g_strdup_printf (_("Could not put the region back into the case: %s"),
                                               error->message);

      di_window_show_message (self, TRUE, text);
      return FALSE;
    }
  di_window_show_message (self, FALSE, NULL);
  _di_window_field_show_saved_regions (self);
  return TRUE;
}

static void
restore_region_action (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  di_window_restore_region (DI_WINDOW (user_data));
}

static void
forget_region_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  di_window_forget_region (DI_WINDOW (user_data));
}

static void
scan_field_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  di_window_scan_field (DI_WINDOW (user_data));
}

static void
whole_image_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  di_window_show_whole_image (DI_WINDOW (user_data));
}

static const GActionEntry field_actions[] = {
  { "scan-field", scan_field_action },
  { "whole-image", whole_image_action },
  { "forget-region", forget_region_action },
  { "restore-region", restore_region_action },
};

/* Escape, after the focused widget (a popover closes first): the
 * rectangle being drawn, else one step back to the whole image. */
static gboolean
escape_cb (GtkWidget *widget,
           GVariant  *args,
           gpointer   user_data)
{
  DiWindow *self = DI_WINDOW (widget);

  return di_image_canvas_cancel_selection (self->canvas) || di_window_show_whole_image (self);
}

void
_di_window_field_init (DiWindow *self)
{
  g_autoptr(GPropertyAction) select = NULL;
  GtkEventController *controller;

  g_action_map_add_action_entries (G_ACTION_MAP (self), field_actions, G_N_ELEMENTS (field_actions), self);
  select = g_property_action_new ("select-region", self->canvas, "select-mode");
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (select));
  update_field_actions (self);

  g_signal_connect (self->canvas, "region-selected", G_CALLBACK (region_selected_cb), self);
  g_signal_connect (self->canvas, "clicked", G_CALLBACK (canvas_clicked_cb), self);
  g_signal_connect_swapped (self->canvas, "notify::colormap",
                            G_CALLBACK (gtk_widget_queue_draw), self->scan_legend);
  gtk_drawing_area_set_draw_func (self->scan_legend, draw_scan_legend, self, NULL);

  controller = gtk_shortcut_controller_new ();
  gtk_event_controller_set_name (controller, "di-escape");
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (controller),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Escape, 0),
                                                          gtk_callback_action_new (escape_cb, NULL, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
}

void
_di_window_field_dispose (DiWindow *self)
{
  if (self->region_cancellable != NULL)
    g_cancellable_cancel (self->region_cancellable);
  if (self->scan_cancellable != NULL)
    g_cancellable_cancel (self->scan_cancellable);
  if (self->scan != NULL)
    g_signal_handlers_disconnect_by_data (self->scan, self);
  g_clear_object (&self->region_cancellable);
  g_clear_object (&self->scan_cancellable);
  g_clear_object (&self->scanning);
  g_clear_object (&self->region);
  g_clear_object (&self->scan);
  g_clear_object (&self->forgotten_case);
  g_clear_pointer (&self->forgotten_region, di_case_region_free);
}
