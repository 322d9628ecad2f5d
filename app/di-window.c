/* di-window.c — the main window: gallery, image canvas, side panel,
 * banners and the batch progress bar.
 *
 * The window never blocks: decoding, classification and explanation run
 * through DiEngine; every result is checked against what is on screen now
 * (an image the user has already left is ignored), and every failure ends
 * as a message in the window's banner.
 *
 * The review case (what goes into it, undo, exports) is in
 * di-window-case.c; opening images and cases is here.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-window"

#include "config.h"

#include <errno.h>
#include <math.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "di-application.h"
#include "di-engine.h"
#include "di-files.h"
#include "di-gallery.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-image-canvas.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-side-panel.h"
#include "di-window-private.h"

#define OPACITY_STEP 0.1


G_DEFINE_FINAL_TYPE (DiWindow, di_window, GTK_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_ENGINE,
  PROP_SETTINGS,
  PROP_CURRENT_ITEM,
  PROP_BATCH_RUNNING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void request_explanation (DiWindow *self);
static void start_batch (DiWindow *self, gboolean only_missing);

static void
analysis_begin (DiWindow *self)
{
  if (self->analysis_pending++ == 0)
    gtk_spinner_start (self->spinner);
}

static void
analysis_end (DiWindow *self)
{
  g_return_if_fail (self->analysis_pending > 0);

  if (--self->analysis_pending == 0 && !self->disposed)
    gtk_spinner_stop (self->spinner);
}

/**
 * di_window_show_message:
 * @is_error: an error (red) rather than a notice
 * @message: (nullable): the text, or %NULL to hide the banner
 *
 * Shows a message in the banner at the top of the window.
 */
void
di_window_show_message (DiWindow   *self,
                        gboolean    is_error,
                        const char *message)
{
  g_return_if_fail (DI_IS_WINDOW (self));

  /* Closing: an error still reaches the log (a note that failed to save) */
  if (self->disposed)
    {
      if (is_error && message != NULL)
        g_warning ("%s", message);
      return;
    }
  g_free (self->message);
  self->message = g_strdup (message);
  self->message_is_size_notice = FALSE;
  self->message_is_error = is_error;
  self->message_is_scan_notice = FALSE;
  self->message_is_open_notice = FALSE;
  /* Any other message ends Forget Region's offer to undo. */
  _di_window_field_clear_forgotten (self);

  if (message != NULL)
    {
      gtk_label_set_text (self->message_label, message);
      if (is_error)
        {
          gtk_widget_add_css_class (GTK_WIDGET (self->message_box), "error");
          gtk_widget_remove_css_class (GTK_WIDGET (self->message_box), "info");
        }
      else
        {
          gtk_widget_add_css_class (GTK_WIDGET (self->message_box), "info");
          gtk_widget_remove_css_class (GTK_WIDGET (self->message_box), "error");
        }
    }
  gtk_revealer_set_reveal_child (self->message_banner, message != NULL);
}

static void
update_model_banner (DiWindow *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  gboolean loading = DI_IS_APPLICATION (app) && di_application_get_model_loading (DI_APPLICATION (app));

  if (_di_window_current_model (self) != NULL)
    {
      gtk_revealer_set_reveal_child (self->model_banner, FALSE);
      return;
    }

  if (loading)
    gtk_label_set_text (self->model_banner_label, _("Loading the model…"));
  else
    gtk_label_set_text (self->model_banner_label,
                        _("No model loaded — choose a model in Preferences"));
  gtk_widget_set_visible (GTK_WIDGET (self->model_banner_button), !loading);
  gtk_revealer_set_reveal_child (self->model_banner, TRUE);
}

static void
update_caption (DiWindow *self)
{
  DiHeatmap *heatmap = _di_window_field_get_heatmap (self);
  DiModelInfo *model = _di_window_current_model (self);
  gboolean visible = di_image_canvas_get_overlay_visible (self->canvas);
  g_autofree char *caption = NULL;
  const char *class_name = NULL;

  if (_di_window_field_update_caption (self))
    return;

  if (heatmap == NULL || model == NULL || self->current_image == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->caption_label), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->evidence_label), FALSE);
      return;
    }

  if (di_heatmap_get_target (heatmap) >= 0 &&
      di_heatmap_get_target (heatmap) < di_model_info_get_n_classes (model))
    class_name = di_class_get_title (di_model_info_get_class_name (model, di_heatmap_get_target (heatmap)));
  else
    class_name = "?";

  if (di_heatmap_get_method (heatmap) == DI_EXPLAIN_CBAM)
    /* TRANSLATORS: caption over the image, e.g. "CBAM attention at layer4" */
    caption = g_strdup_printf (_("CBAM attention at layer%d"), di_heatmap_get_stage (heatmap));
  else if (di_heatmap_get_method (heatmap) == DI_EXPLAIN_LAYERCAM_FUSION)
    /* TRANSLATORS: caption over the image, e.g. "LayerCAM of HSIL, layers 2–4 fused" */
    caption = g_strdup_printf (_("LayerCAM of %s, layers 2–4 fused"), class_name);
  else if (di_heatmap_get_method (heatmap) == DI_EXPLAIN_COUNTERFACTUAL)
    /* TRANSLATORS: caption over the image: regions whose removal would make
     * the class more likely, e.g. "Why not HSIL: counterfactual at layer4" */
    caption = g_strdup_printf (_("Why not %s: counterfactual at layer%d"), class_name,
                               di_heatmap_get_stage (heatmap));
  else
    /* TRANSLATORS: caption over the image, e.g. "Grad-CAM of severe_dysplastic at layer4";
     * the first %s is the method */
    caption = g_strdup_printf (_("%s of %s at layer%d"),
                               di_explain_method_get_label (di_heatmap_get_method (heatmap)),
                               class_name, di_heatmap_get_stage (heatmap));

  if (di_model_info_get_center_crop (model) < 1.0)
    {
      /* The model sees only the centre of the image: say so, since the
       * map (and the prediction) ignore the margins. */
      g_autofree char *with_crop =
        /* TRANSLATORS: appended to the overlay caption; %.0f%% is the kept share of each side */
        g_strdup_printf (_("%s · central %.0f%% of each side analysed"), caption,
                         100.0 * di_model_info_get_center_crop (model));

      g_free (caption);
      caption = g_steal_pointer (&with_crop);
    }

  gtk_label_set_text (self->caption_label, caption);
  gtk_widget_set_visible (GTK_WIDGET (self->caption_label), visible);

  if (!di_heatmap_has_evidence (heatmap))
    {
      g_autofree char *text = NULL;

      if (di_heatmap_get_method (heatmap) == DI_EXPLAIN_CBAM)
        text = g_strdup (_("No attention contrast at this stage"));
      else
        /* TRANSLATORS: shown instead of a heat map that is all zero */
        text = g_strdup_printf (_("No positive evidence for %s"), class_name);
      gtk_label_set_text (self->evidence_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->evidence_label), visible);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->evidence_label), FALSE);
}

void
_di_window_update_title (DiWindow *self)
{
  if (self->current != NULL)
    {
      /* TRANSLATORS: window title, "image name — DeepInsight" */
      g_autofree char *title = g_strdup_printf (_("%s — DeepInsight"),
                                                di_item_get_display_name (self->current));
      gtk_window_set_title (GTK_WINDOW (self), title);
      gtk_label_set_text (self->title_label, di_item_get_display_name (self->current));
    }
  else
    {
      gtk_window_set_title (GTK_WINDOW (self), _("DeepInsight"));
      gtk_label_set_text (self->title_label, _("DeepInsight"));
    }

  if (self->kase != NULL)
    {
      g_autofree char *title = di_case_dup_title (self->kase);
      /* TRANSLATORS: under the window title: "Case: cells" */
      g_autofree char *text = g_strdup_printf (_("Case: %s"), title);

      gtk_label_set_text (self->case_label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->case_label), di_case_get_filename (self->kase));
    }
  gtk_widget_set_visible (GTK_WIDGET (self->case_label), self->kase != NULL);
}

/* ---- Analysing the image on screen ------------------------------------ */

/* What an answer from the engine is about. */
typedef struct
{
  DiWindow *self;
  DiItem *item;
  DiImage *image;
} Request;

static Request *
request_new (DiWindow *self,
             DiItem   *item,
             DiImage  *image)
{
  Request *request = g_new0 (Request, 1);

  request->self = g_object_ref (self);
  request->item = item ? g_object_ref (item) : NULL;
  request->image = image ? di_image_ref (image) : NULL;

  return request;
}

static void
request_free (Request *request)
{
  g_clear_object (&request->self);
  g_clear_object (&request->item);
  g_clear_pointer (&request->image, di_image_unref);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void request_classification (DiWindow *self);
static void start_deferred_batch (DiWindow *self);

static void
faithfulness_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Request) request = user_data;
  DiWindow *self = request->self;
  g_autoptr(GError) error = NULL;
  double deletion = NAN, insertion = NAN;
  gboolean ok;

  analysis_end (self);
  ok = di_engine_faithfulness_finish (DI_ENGINE (object), result, &deletion, &insertion, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  if (request->image != self->current_image || self->current == NULL)
    return;

  if (ok)
    di_side_panel_set_faithfulness (self->side_panel, DI_FAITHFULNESS_KNOWN, deletion, insertion);
  else
    {
      di_side_panel_set_faithfulness (self->side_panel, DI_FAITHFULNESS_NONE, NAN, NAN);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL))
        g_message ("faithfulness: %s", error->message);
    }
}

static void
explain_shown (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(Request) request = user_data;
  DiWindow *self = request->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiHeatmap) heatmap = NULL;
  g_autoptr(DiPrediction) prediction = NULL;

  analysis_end (self);
  heatmap = di_engine_explain_finish (DI_ENGINE (object), result, &prediction, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  /* The user has moved on. */
  if (request->image != self->current_image || self->current == NULL)
    return;

  if (heatmap == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL))
        {
          /* TRANSLATORS: %s is the engine's (English) error message */
          g_autofree char *text = g_strdup_printf (_("Could not explain the prediction: %s"),
                                                   error->message);
          di_window_show_message (self, TRUE, text);
          /* the classification still counts */
          request_classification (self);
        }
      return;
    }

  if (_di_window_prediction_is_current (self, prediction) &&
      !_di_window_prediction_is_current (self, di_item_get_prediction (self->current)))
    {
      di_item_set_prediction (self->current, prediction);
      _di_window_record_prediction (self, self->current, prediction);
    }
  else if (_di_window_prediction_is_current (self, prediction) &&
           di_prediction_get_n_views (prediction) > 1 &&
           di_prediction_get_n_views (di_item_get_prediction (self->current)) == 0)
    /* the same model's call, read from a case saved before views were
     * kept: the fresh one says whether its views agree */
    di_item_set_prediction (self->current, prediction);
  _di_window_record_map (self, self->current, heatmap, prediction);

  di_image_canvas_set_heatmap (self->canvas, heatmap,
                               di_model_info_get_center_crop (di_prediction_get_model (prediction)));
  update_caption (self);

  /* How faithful the map is, measured after it is on screen (41 forward
   * passes), cancelled with the explanation. */
  if (di_heatmap_has_evidence (heatmap))
    {
      di_side_panel_set_faithfulness (self->side_panel, DI_FAITHFULNESS_MEASURING, NAN, NAN);
      analysis_begin (self);
      di_engine_faithfulness_async (self->engine, self->current_image, heatmap,
                                    self->explain_cancellable, faithfulness_cb,
                                    request_new (self, self->current, self->current_image));
    }
  else
    di_side_panel_set_faithfulness (self->side_panel, DI_FAITHFULNESS_KNOWN, NAN, NAN);
}

static void
explain_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(DiWindow) self = g_object_ref (((Request *)user_data)->self);

  explain_shown (object, result, user_data);
  if (!self->disposed)
    start_deferred_batch (self);
}

static void
request_explanation (DiWindow *self)
{
  if (self->explain_cancellable != NULL)
    g_cancellable_cancel (self->explain_cancellable);
  g_clear_object (&self->explain_cancellable);

  if (self->current_image == NULL || _di_window_current_model (self) == NULL)
    return;

  self->explain_cancellable = g_cancellable_new ();
  di_side_panel_set_faithfulness (self->side_panel, DI_FAITHFULNESS_NONE, NAN, NAN);
  analysis_begin (self);
  di_engine_explain_async (self->engine, self->current_image,
                           di_side_panel_get_method (self->side_panel),
                           di_side_panel_get_stage (self->side_panel),
                           di_side_panel_get_target (self->side_panel),
                           self->explain_cancellable,
                           explain_cb, request_new (self, self->current, self->current_image));
}

static void
classify_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Request) request = user_data;
  DiWindow *self = request->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiPrediction) prediction = NULL;

  analysis_end (self);
  prediction = di_engine_classify_finish (DI_ENGINE (object), result, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  if (prediction != NULL)
    {
      if (_di_window_prediction_is_current (self, prediction))
        {
          di_item_set_prediction (request->item, prediction);
          _di_window_record_prediction (self, request->item, prediction);
        }
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           !g_error_matches (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL))
    {
      di_item_set_error (request->item, error->message);
      if (self->current == request->item)
        {
          g_autofree char *text = g_strdup_printf (_("Could not classify “%s”: %s"),
                                                   di_item_get_display_name (request->item),
                                                   error->message);
          di_window_show_message (self, TRUE, text);
        }
    }

  di_gallery_invalidate (self->gallery);
}

static void
request_analysis (DiWindow *self)
{
  if (self->current == NULL || self->current_image == NULL || _di_window_current_model (self) == NULL)
    return;

  /* The explanation's forward pass also classifies the image: the first
   * heatmap costs one network pass, not two. */
  request_explanation (self);
}

/* Classifies the current image on its own (when no explanation came). */
static void
request_classification (DiWindow *self)
{
  if (self->current == NULL || self->current_image == NULL || _di_window_current_model (self) == NULL ||
      _di_window_prediction_is_current (self, di_item_get_prediction (self->current)))
    return;

  analysis_begin (self);
  di_engine_classify_async (self->engine, self->current_image, self->current_cancellable,
                            classify_cb, request_new (self, self->current, self->current_image));
}

/* A notice when the image on screen is far from the size of the model's
 * training images (a field given to a single-cell model); it goes when the
 * next image is in range. */
static void
update_size_notice (DiWindow *self)
{
  DiModelInfo *model = _di_window_current_model (self);
  g_autofree char *notice = NULL;

  if (model != NULL && self->current != NULL && self->current_image != NULL)
    notice = di_model_info_dup_size_notice (model, di_item_get_display_name (self->current),
                                            di_image_get_width (self->current_image),
                                            di_image_get_height (self->current_image));
  /* What opening found stays; the first image's size notice joins it. */
  if (self->message_is_open_notice)
    {
      if (notice != NULL && self->message != NULL && strstr (self->message, notice) == NULL)
        {
          g_autofree char *both = g_strconcat (self->message, "\n", notice, NULL);

          di_window_show_message (self, self->message_is_error, both);
          self->message_is_open_notice = TRUE;
        }
      return;
    }
  if (notice != NULL)
    {
      di_window_show_message (self, FALSE, notice);
      self->message_is_size_notice = TRUE;
    }
  else if (self->message_is_size_notice)
    di_window_show_message (self, FALSE, NULL);
}

/* The canvas's empty state: no image, or one that cannot be shown. */
static void
set_placeholder (DiWindow   *self,
                 const char *title,
                 const char *text)
{
  gtk_label_set_text (self->placeholder_title, title);
  gtk_label_set_text (self->placeholder_text, text);
  gtk_widget_set_visible (self->placeholder, TRUE);
}

static void
image_loaded_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Request) request = user_data;
  DiWindow *self = request->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiImage) image = NULL;

  analysis_end (self);
  image = di_engine_load_image_finish (DI_ENGINE (object), result, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      self->current == NULL || request->item != self->current)
    return;

  if (image == NULL)
    {
      g_autofree char *text = NULL;

      di_item_set_error (self->current, error->message);
      self->current_unreadable = TRUE;
      /* TRANSLATORS: first %s is a file name, second the reason */
      text = g_strdup_printf (_("Could not open “%s”: %s"),
                              di_item_get_display_name (self->current), error->message);
      di_window_show_message (self, TRUE, text);
      di_image_canvas_set_image (self->canvas, NULL);
      set_placeholder (self, _("Cannot Show This Image"), error->message);
      g_clear_pointer (&self->current_image, di_image_unref);
      update_caption (self);
      start_deferred_batch (self);
      return;
    }

  g_clear_pointer (&self->current_image, di_image_unref);
  self->current_image = di_image_ref (image);
  di_image_canvas_set_image (self->canvas, image);
  _di_window_field_show_saved_regions (self);
  gtk_widget_set_visible (self->placeholder, FALSE);
  update_size_notice (self);
  update_caption (self);
  request_analysis (self);
}

/**
 * di_window_set_current_item:
 * @item: (nullable): the image to show
 */
void
di_window_set_current_item (DiWindow *self,
                            DiItem   *item)
{
  g_return_if_fail (DI_IS_WINDOW (self));
  g_return_if_fail (!item || DI_IS_ITEM (item));

  if (self->current == item)
    return;

  /* What opening found stays over the first image's size notice only;
   * a load failure was the image's */
  if (self->current != NULL)
    self->message_is_open_notice = FALSE;
  self->current_unreadable = FALSE;

  /* The note typed for the image being left is saved now. */
  _di_window_flush_note (self);
  _di_window_unwatch_note (self);

  if (self->current_cancellable != NULL)
    g_cancellable_cancel (self->current_cancellable);
  g_clear_object (&self->current_cancellable);
  if (self->explain_cancellable != NULL)
    g_cancellable_cancel (self->explain_cancellable);
  g_clear_object (&self->explain_cancellable);
  _di_window_field_reset (self);

  g_set_object (&self->current, item);
  g_clear_pointer (&self->current_image, di_image_unref);
  di_image_canvas_set_heatmap (self->canvas, NULL, 1.0);
  di_side_panel_set_item (self->side_panel, item);
  _di_window_update_history (self);
  di_gallery_set_selected_item (self->gallery, item);
  update_caption (self);
  _di_window_update_title (self);
  if (item != NULL)
    _di_window_watch_note (self, item);

  if (item != NULL)
    {
      self->current_cancellable = g_cancellable_new ();
      analysis_begin (self);
      di_engine_load_image_async (self->engine, di_item_get_file (item), self->current_cancellable,
                                  image_loaded_cb, request_new (self, item, NULL));
    }
  else
    {
      di_image_canvas_set_image (self->canvas, NULL);
      set_placeholder (self, _("Open Images or a Folder"), _("Press Ctrl+O, or drop files here"));
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURRENT_ITEM]);
}

static void
gallery_selection_cb (DiWindow *self)
{
  DiItem *item = di_gallery_get_selected_item (self->gallery);

  if (item != NULL && item != self->current)
    di_window_set_current_item (self, item);
}

static void
explain_settings_changed_cb (DiWindow *self)
{
  request_explanation (self);
  _di_window_field_settings_changed (self);
}

static void
overlay_visible_cb (DiWindow *self)
{
  update_caption (self);
}

/* ---- Batches ------------------------------------------------------------ */

typedef struct
{
  DiWindow *self;      /* strong */
  GPtrArray *items;    /* DiItem, parallel to the batch's files */
  guint serial;
} Batch;

static void
batch_free (Batch *batch)
{
  g_clear_object (&batch->self);
  g_clear_pointer (&batch->items, g_ptr_array_unref);
  g_free (batch);
}

static char *
format_duration (double seconds)
{
  if (seconds < 60)
    return g_strdup_printf (ngettext ("%d second", "%d seconds", (int)seconds + 1), (int)seconds + 1);
  if (seconds < 3600)
    return g_strdup_printf (ngettext ("%d minute", "%d minutes", (int)(seconds / 60) + 1),
                            (int)(seconds / 60) + 1);
  return g_strdup_printf (ngettext ("%d hour", "%d hours", (int)(seconds / 3600) + 1),
                          (int)(seconds / 3600) + 1);
}

static void
update_progress (DiWindow *self)
{
  g_autofree char *text = NULL;
  gint64 now = g_get_monotonic_time ();

  /* A field scan has the progress bar while it runs. */
  if (self->batch_total == 0 || _di_window_field_owns_progress (self))
    return;

  /* At most ten updates a second, but always the first and the last. */
  if (self->batch_done > 0 && self->batch_done < self->batch_total &&
      now - self->progress_shown < G_USEC_PER_SEC / 10)
    return;
  self->progress_shown = now;

  gtk_progress_bar_set_fraction (self->progress_bar, (double)self->batch_done / self->batch_total);

  if (self->batch_done == 0)
    /* TRANSLATORS: batch progress before the first image is done */
    text = g_strdup_printf (self->batch_classifies ? _("Classifying 0 of %u…") : _("Loading 0 of %u…"),
                            self->batch_total);
  else
    {
      double elapsed = (g_get_monotonic_time () - self->batch_start) / (double)G_USEC_PER_SEC;
      double left = elapsed / self->batch_done * (self->batch_total - self->batch_done);
      g_autofree char *eta = format_duration (left);

      /* TRANSLATORS: "Classified 12 of 50 · about 30 seconds left" */
      text = g_strdup_printf (self->batch_classifies ? _("Classified %u of %u · about %s left")
                                                     : _("Loaded %u of %u · about %s left"),
                              self->batch_done, self->batch_total, eta);
    }

  gtk_label_set_text (self->progress_label, text);
}

static void
batch_item_cb (DiEngine     *engine,
               guint         index,
               GFile        *file,
               GBytes       *thumbnail,
               int           thumb_width,
               int           thumb_height,
               DiPrediction *prediction,
               const GError *error,
               gpointer      user_data)
{
  Batch *batch = user_data;
  DiWindow *self = batch->self;
  DiItem *item = g_ptr_array_index (batch->items, index);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  if (thumbnail != NULL)
    {
      g_autoptr(GdkTexture) texture =
        gdk_memory_texture_new (thumb_width, thumb_height, GDK_MEMORY_R8G8B8,
                                thumbnail, (gsize)thumb_width * 3);

      di_item_set_thumbnail (item, GDK_PAINTABLE (texture));
    }

  if (prediction != NULL && _di_window_prediction_is_current (self, prediction))
    {
      di_item_set_prediction (item, prediction);
      _di_window_record_prediction (self, item, prediction);
    }
  if (error != NULL)
    di_item_set_error (item, error->message);

  if (batch->serial == self->batch_serial)
    {
      self->batch_done++;
      update_progress (self);
    }
  di_gallery_invalidate (self->gallery);
}

static void
batch_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(DiWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable = g_task_get_cancellable (G_TASK (result));

  di_engine_classify_files_finish (DI_ENGINE (object), result, &error);

  /* The window closed meanwhile: its widgets are gone. */
  if (self->disposed)
    return;

  /* A newer batch replaced this one: it owns the progress bar now. */
  if (cancellable != self->batch_cancellable)
    return;

  g_clear_object (&self->batch_cancellable);
  gtk_revealer_set_reveal_child (self->progress_revealer, _di_window_field_owns_progress (self));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* TRANSLATORS: after the user cancelled a batch */
      g_autofree char *text = g_strdup_printf (_("Classification cancelled after %u of %u images"),
                                               self->batch_done, self->batch_total);
      di_window_show_message (self, FALSE, text);
    }
  else if (error != NULL)
    di_window_show_message (self, TRUE, error->message);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH_RUNNING]);
  di_gallery_invalidate (self->gallery);
}

static void
cancel_batch (DiWindow *self)
{
  if (self->batch_deferred)
    {
      self->batch_deferred = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH_RUNNING]);
      g_autofree char *text = g_strdup_printf (_("Classification cancelled after %u of %u images"), 0,
                                               g_list_model_get_n_items (G_LIST_MODEL (self->items)));

      di_window_show_message (self, FALSE, text);
    }
  if (self->batch_cancellable != NULL)
    g_cancellable_cancel (self->batch_cancellable);
}

/* Starts the batch that opening deferred until the first explanation. */
static void
start_deferred_batch (DiWindow *self)
{
  if (self->batch_deferred)
    start_batch (self, FALSE);
}

/* Thumbnails the items (all of them, or those without a thumbnail) and,
 * with a model, classifies those the model has not classified yet. Files
 * missing from their case are left out. */
static void
start_batch (DiWindow *self,
             gboolean  only_missing)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new ();
  g_autoptr(GArray) classify = g_array_new (FALSE, FALSE, sizeof (gboolean));
  Batch *batch;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->items));
  gboolean was_running = self->batch_cancellable != NULL || self->batch_deferred;
  gboolean any_classify = FALSE;

  self->batch_deferred = FALSE;
  if (self->batch_cancellable != NULL)
    g_cancellable_cancel (self->batch_cancellable);
  g_clear_object (&self->batch_cancellable);

  batch = g_new0 (Batch, 1);
  batch->self = g_object_ref (self);
  batch->items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (G_LIST_MODEL (self->items), i);
      gboolean needs_class = _di_window_current_model (self) != NULL &&
                             !_di_window_prediction_is_current (self, di_item_get_prediction (item));

      if (di_item_get_case_status (item) == DI_CASE_IMAGE_MISSING)
        continue;
      if (only_missing && di_item_get_thumbnail (item) != NULL && !needs_class)
        continue;

      g_ptr_array_add (batch->items, g_object_ref (item));
      g_ptr_array_add (files, di_item_get_file (item));
      g_array_append_val (classify, needs_class);
      any_classify |= needs_class;
    }

  if (files->len == 0)
    {
      batch_free (batch);
      if (was_running)
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH_RUNNING]);
      gtk_revealer_set_reveal_child (self->progress_revealer, _di_window_field_owns_progress (self));
      return;
    }

  batch->serial = ++self->batch_serial;
  self->batch_cancellable = g_cancellable_new ();
  self->batch_total = files->len;
  self->batch_done = 0;
  self->batch_start = g_get_monotonic_time ();
  self->batch_classifies = any_classify;
  update_progress (self);
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);

  di_engine_classify_files_masked_async (self->engine, (GFile **)files->pdata,
                                         (const gboolean *)(gpointer)classify->data, files->len,
                                         DI_THUMBNAIL_SIZE, TRUE,
                                         batch_item_cb, batch, (GDestroyNotify)batch_free,
                                         self->batch_cancellable,
                                         batch_done_cb, g_object_ref (self));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH_RUNNING]);
}

/* ---- Opening files -------------------------------------------------------- */

/* What opening reads from a case, for the main thread. */
typedef struct
{
  GFile *file;
  DiCaseImage *image;          /* nullable: not in the case */
  DiCaseEvent *prediction;     /* nullable */
} OpenEntry;

typedef struct
{
  GPtrArray *inputs;           /* GFile */
  char *case_path;             /* the user's case, or NULL: the folder's */
  char *model_sha256;          /* the loaded model's */
  guint edits;                 /* the window's count of reviews, at the start */
} OpenData;

typedef struct
{
  DiCase *kase;                /* nullable */
  char *case_path;             /* nullable: no case wanted */
  GError *case_error;          /* why @case_path did not open */
  GError *error;               /* why no image was found */
  GPtrArray *entries;          /* OpenEntry */
  GHashTable *models;          /* SHA-256 -> DiCaseModel */
  gboolean first_is_folder;    /* the first input is a folder */
  guint n_opened;              /* the first entries: the inputs' files */
  guint n_not_added;           /* files the case did not take */
  GError *add_error;           /* why the first of them was not */
} OpenResult;

static void
open_entry_free (OpenEntry *entry)
{
  g_clear_object (&entry->file);
  g_clear_pointer (&entry->image, di_case_image_free);
  g_clear_pointer (&entry->prediction, di_case_event_free);
  g_free (entry);
}

static void
open_data_free (OpenData *data)
{
  g_clear_pointer (&data->inputs, g_ptr_array_unref);
  g_free (data->case_path);
  g_free (data->model_sha256);
  g_free (data);
}

static void
open_result_free (OpenResult *result)
{
  g_clear_object (&result->kase);
  g_free (result->case_path);
  g_clear_error (&result->case_error);
  g_clear_error (&result->error);
  g_clear_error (&result->add_error);
  g_clear_pointer (&result->entries, g_ptr_array_unref);
  g_clear_pointer (&result->models, g_hash_table_unref);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OpenResult, open_result_free)

/* The case of the first input: a folder's own, or its file's folder's. */
static char *
folder_case_path (GFile        *input,
                  GCancellable *cancellable,
                  GError      **error)
{
  g_autoptr(GFile) folder = NULL;
  g_autofree char *path = NULL;

  if (g_file_query_file_type (input, G_FILE_QUERY_INFO_NONE, cancellable) == G_FILE_TYPE_DIRECTORY)
    folder = g_object_ref (input);
  else
    folder = g_file_get_parent (input);

  path = folder ? g_file_get_path (folder) : NULL;
  if (path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("the images are not in a local folder"));
      return NULL;
    }

  /* A folder the user cannot write to (a slide archive, a read-only
   * share) keeps its case in the user's data folder, one per folder. */
  if (g_access (path, W_OK) != 0)
    {
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, path, -1);
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "deepinsight", "cases", NULL);
      g_autofree char *name = g_strdup_printf ("%s-%.12s%s", base, hash, DI_CASE_SUFFIX);

      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved = errno;

          /* TRANSLATORS: the first %s is a folder, the second says why */
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       _("the folder is read-only, and %s (for its case) cannot be created: %s"),
                       dir, g_strerror (saved));
          return NULL;
        }
      return g_build_filename (dir, name, NULL);
    }

  return g_build_filename (path, DI_CASE_FOLDER_NAME, NULL);
}

/* Worker: finds the images, opens (or creates) the case, adds the images
 * to it (hashing the new ones) and reads back what the case knows of each.
 * The DiCase it opens is used by this thread only, until the main thread
 * takes it over. */
static void
collect_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  OpenData *data = task_data;
  g_autoptr(OpenResult) result = g_new0 (OpenResult, 1);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GHashTable) by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  GError *first_error = NULL;

  files = di_files_collect (data->inputs, cancellable, &first_error);
  result->entries = g_ptr_array_new_with_free_func ((GDestroyNotify)open_entry_free);
  result->first_is_folder = data->inputs->len > 0 &&
    g_file_query_file_type (g_ptr_array_index (data->inputs, 0), G_FILE_QUERY_INFO_NONE,
                            cancellable) == G_FILE_TYPE_DIRECTORY;

  if (data->case_path != NULL)
    result->case_path = g_strdup (data->case_path);
  else if (data->inputs->len > 0)
    {
      result->case_path = folder_case_path (g_ptr_array_index (data->inputs, 0), cancellable,
                                            &result->case_error);
      /* No images, no new case. */
      if (files->len == 0 && result->case_path != NULL &&
          !g_file_test (result->case_path, G_FILE_TEST_EXISTS))
        g_clear_pointer (&result->case_path, g_free);
    }

  if (result->case_path != NULL)
    result->kase = di_case_open (result->case_path, &result->case_error);

  for (guint i = 0; i < files->len; i++)
    {
      GFile *file = g_ptr_array_index (files, i);
      OpenEntry *entry;
      gint64 id = 0;

      if (g_task_return_error_if_cancelled (task))
        {
          g_clear_error (&first_error);
          return;
        }

      if (result->kase != NULL && g_file_peek_path (file) != NULL)
        {
          g_autoptr(GError) error = NULL;

          id = di_case_add_image (result->kase, g_file_peek_path (file), &error);
          if (id == 0)
            {
              g_debug ("Not in the case: %s", error->message);
              if (result->n_not_added++ == 0)
                result->add_error = g_steal_pointer (&error);
            }
        }
      /* The same image twice is one image. */
      if (id > 0 && g_hash_table_contains (by_id, &id))
        continue;

      entry = g_new0 (OpenEntry, 1);
      entry->file = g_object_ref (file);
      g_ptr_array_add (result->entries, entry);
      if (id > 0)
        {
          entry->image = g_new0 (DiCaseImage, 1);
          entry->image->id = id;
          g_hash_table_insert (by_id, g_memdup2 (&id, sizeof id), entry);
        }
    }

  result->n_opened = result->entries->len;

  /* What the case knows: every image, its review and the prediction of
   * the loaded model (else the latest of any). */
  if (result->kase != NULL)
    {
      g_autoptr(GPtrArray) images = di_case_dup_images (result->kase);
      g_autoptr(GPtrArray) models = di_case_dup_models (result->kase);
      g_autofree char *folder = di_case_dup_folder (result->kase);

      result->models = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify)di_case_model_free);
      for (guint i = 0; i < models->len; i++)
        {
          DiCaseModel *model = g_steal_pointer (&g_ptr_array_index (models, i));

          g_hash_table_replace (result->models, model->sha256, model);
        }

      for (guint i = 0; i < images->len; i++)
        {
          DiCaseImage *image = g_ptr_array_index (images, i);
          OpenEntry *entry = g_hash_table_lookup (by_id, &image->id);

          if (entry == NULL)
            {
              g_autofree char *where = image->filename ? g_strdup (image->filename)
                                                       : g_canonicalize_filename (image->path, folder);

              entry = g_new0 (OpenEntry, 1);
              entry->file = g_file_new_for_path (where);
              g_ptr_array_add (result->entries, entry);
            }
          g_clear_pointer (&entry->image, di_case_image_free);
          entry->image = di_case_image_copy (image);

          if (data->model_sha256 != NULL)
            entry->prediction = di_case_dup_prediction (result->kase, image->id, data->model_sha256);
          if (entry->prediction == NULL)
            entry->prediction = di_case_dup_prediction (result->kase, image->id, NULL);
        }
    }

  /* Files that did not go into the case: no review to restore. */
  for (guint i = 0; i < result->entries->len; i++)
    {
      OpenEntry *entry = g_ptr_array_index (result->entries, i);

      if (entry->image != NULL && entry->image->path == NULL)
        g_clear_pointer (&entry->image, di_case_image_free);
    }

  if (result->entries->len == 0)
    result->error = first_error ? first_error
                                : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                                       _("No images found (PNG, JPEG, TIFF or BMP)"));
  else
    g_clear_error (&first_error);

  g_task_return_pointer (task, g_steal_pointer (&result), (GDestroyNotify)open_result_free);
}

static void start_open (DiWindow *self, GPtrArray *inputs, const char *case_path);

static DiItem *
item_from_entry (DiWindow   *self,
                 OpenEntry  *entry,
                 OpenResult *result)
{
  DiItem *item = di_item_new (entry->file);
  DiCaseImage *image = entry->image;

  if (image == NULL)
    return item;

  di_item_set_case_id (item, image->id);
  di_item_set_case_status (item, image->status);
  _di_window_sync_item (self, item, image);

  /* A changed file gets a fresh prediction: the stored one is about the
   * file the case recorded (which a missing file still is). */
  if (entry->prediction != NULL && image->status != DI_CASE_IMAGE_CHANGED)
    {
      g_autoptr(DiPrediction) prediction = _di_window_prediction_from_event (self, entry->prediction, result->models);

      di_item_set_prediction (item, prediction);
    }
  return item;
}

static void
collect_cb (GObject      *object,
            GAsyncResult *res,
            gpointer      user_data)
{
  DiWindow *self = DI_WINDOW (object);
  OpenData *data = g_task_get_task_data (G_TASK (res));
  g_autoptr(OpenResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = NULL;
  DiItem *first = NULL;

  result = g_task_propagate_pointer (G_TASK (res), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->open_cancellable);
  if (result == NULL)
    {
      di_window_show_message (self, TRUE, error->message);
      return;
    }

  /* A review was written meanwhile: the snapshot may be older than it.
   * A note still being typed counts: it is saved now, so that the items
   * built from the snapshot below cannot carry the note from before. */
  if (!_di_window_flush_note (self))
    return;   /* its error is on screen; the typed note stays in its item */
  if (data->edits != self->edits)
    {
      g_debug ("Reviews were written while opening; opening again");
      start_open (self, data->inputs, data->case_path);
      return;
    }

  /* A case the user chose that does not open: nothing changes. */
  if (data->case_path != NULL && result->case_error != NULL)
    {
      /* TRANSLATORS: %s says why (it names the file) */
      g_autofree char *text = g_strdup_printf (_("Could not open the case: %s"),
                                               result->case_error->message);

      /* Back to the case on screen, if the user had chosen it. */
      if (g_strcmp0 (self->case_pin, data->case_path) == 0)
        {
          g_free (self->case_pin);
          self->case_pin = self->kase != NULL && self->case_chosen
                             ? g_strdup (di_case_get_filename (self->kase)) : NULL;
        }
      di_window_show_message (self, TRUE, text);
      return;
    }

  /* Nothing to show, unless it is the (empty) case the user chose. */
  if (result->entries->len == 0 && (result->kase == NULL || data->case_path == NULL))
    {
      if (g_error_matches (result->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        di_window_show_message (self, TRUE, result->error->message);
      else
        {
          g_autofree char *text = g_strdup_printf (_("Could not open the folder: %s"),
                                                   result->error->message);

          di_window_show_message (self, TRUE, text);
        }
      return;
    }

  /* Earlier notices are about what was open before; a model that failed
   * to load still has not loaded. */
  {
    GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
    const char *model_error = DI_IS_APPLICATION (app)
                                ? di_application_get_model_error (DI_APPLICATION (app)) : NULL;

    if (model_error == NULL || g_strcmp0 (model_error, self->message) != 0)
      di_window_show_message (self, FALSE, NULL);
  }
  cancel_batch (self);
  di_window_set_current_item (self, NULL);

  _di_window_set_case (self, result->kase);
  self->case_chosen = data->case_path != NULL && result->kase != NULL;
  if (result->case_error != NULL)
    {
      /* TRANSLATORS: %s says why the folder's case could not be opened or
       * created (it names the file) */
      g_autofree char *text = g_strdup_printf (_("Reviews are not saved: %s"),
                                               result->case_error->message);

      di_window_show_message (self, TRUE, text);
    }
  else if (result->n_not_added > 0)
    {
      /* TRANSLATORS: %u counts images, %s says why the first was not added */
      g_autofree char *text = g_strdup_printf (ngettext ("%u image could not be added to the case, and reviews of it are not saved: %s",
                                                         "%u images could not be added to the case, and reviews of them are not saved: %s",
                                                         result->n_not_added),
                                               result->n_not_added, result->add_error->message);

      di_window_show_message (self, TRUE, text);
    }
  else
    _di_window_tell_other_model (self);
  /* what opening found stays over the size notice of the image shown */
  self->message_is_open_notice = self->message != NULL;

  g_hash_table_remove_all (self->items_by_id);
  items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < result->entries->len; i++)
    {
      DiItem *item = item_from_entry (self, g_ptr_array_index (result->entries, i), result);
      gint64 id = di_item_get_case_id (item);

      g_ptr_array_add (items, item);
      if (id > 0)
        g_hash_table_insert (self->items_by_id, g_memdup2 (&id, sizeof id), item);
    }
  g_list_store_splice (self->items, 0, g_list_model_get_n_items (G_LIST_MODEL (self->items)),
                       items->pdata, items->len);
  g_debug ("Opened %u image(s), case %s", items->len,
           self->kase ? di_case_get_filename (self->kase) : "(none)");

  /* The first image opened, else the first of the case; of a folder, the
   * gallery's first (its files are collected folder by folder, the
   * gallery sorts them by name across the subfolders). */
  if (items->len > 0)
    first = g_ptr_array_index (items, 0);
  if (first != NULL && result->first_is_folder)
    {
      g_autoptr(GPtrArray) opened = g_ptr_array_new ();
      DiItem *top;

      for (guint i = 0; i < MIN (result->n_opened, items->len); i++)
        g_ptr_array_add (opened, g_ptr_array_index (items, i));
      top = di_gallery_get_first_of (self->gallery, opened);
      if (top != NULL)
        first = top;
    }
  di_window_set_current_item (self, first);
  /* The first heatmap comes first: the batch (thumbnails, the other
   * classifications) starts when the shown image's explanation is done,
   * so that the worker is not busy decoding and classifying another file
   * when it is asked for. */
  if (first != NULL && _di_window_current_model (self) != NULL)
    {
      self->batch_deferred = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH_RUNNING]);
    }
  else
    start_batch (self, FALSE);
  di_gallery_invalidate (self->gallery);
}

static void
start_open (DiWindow   *self,
            GPtrArray  *inputs,
            const char *case_path)
{
  g_autoptr(GTask) task = NULL;
  OpenData *data;
  DiModelInfo *model = _di_window_current_model (self);

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();

  data = g_new0 (OpenData, 1);
  data->inputs = g_ptr_array_ref (inputs);
  data->case_path = g_strdup (case_path);
  data->model_sha256 = model ? g_strdup (di_model_info_get_sha256 (model)) : NULL;
  data->edits = self->edits;

  task = g_task_new (self, self->open_cancellable, collect_cb, NULL);
  g_task_set_source_tag (task, di_window_open);
  g_task_set_task_data (task, data, (GDestroyNotify)open_data_free);
  g_task_run_in_thread (task, collect_thread);
}

/**
 * di_window_open:
 * @files: (array length=n_files): images and folders
 *
 * Opens these images and the images in these folders in the window's case
 * (the one the user chose, else the case of the first folder), shows the
 * first one and starts classifying, in the background, those the case has
 * no prediction of the loaded model for. A single case file (.dicase)
 * opens as with di_window_open_case().
 */
void
di_window_open (DiWindow  *self,
                GFile    **files,
                guint      n_files)
{
  g_autoptr(GPtrArray) inputs = NULL;

  g_return_if_fail (DI_IS_WINDOW (self));

  if (n_files == 0)
    return;

  g_debug ("Opening %u path(s), the first %s", n_files, g_file_peek_path (files[0]));

  /* A case file opens as the window's case. */
  if (n_files == 1 && g_file_peek_path (files[0]) != NULL &&
      g_str_has_suffix (g_file_peek_path (files[0]), DI_CASE_SUFFIX) &&
      g_file_query_file_type (files[0], G_FILE_QUERY_INFO_NONE, NULL) == G_FILE_TYPE_REGULAR)
    {
      di_window_open_case (self, files[0], NULL, 0);
      return;
    }

  inputs = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (inputs, g_file_dup (files[i]));
  start_open (self, inputs, self->case_pin);
}

/**
 * di_window_open_case:
 * @case_file: a case file, created when it does not exist
 * @files: (array length=n_files) (nullable): images and folders to add
 *
 * Makes @case_file the window's case, for these images and those opened
 * later, and shows its images.
 */
void
di_window_open_case (DiWindow  *self,
                     GFile     *case_file,
                     GFile    **files,
                     guint      n_files)
{
  g_autoptr(GPtrArray) inputs = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (DI_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (case_file));

  path = g_file_get_path (case_file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (case_file);
      /* TRANSLATORS: %s is a URI */
      g_autofree char *text = g_strdup_printf (_("A case must be a local file: %s"), uri);

      di_window_show_message (self, TRUE, text);
      return;
    }

  g_free (self->case_pin);
  self->case_pin = g_steal_pointer (&path);
  inputs = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (inputs, g_file_dup (files[i]));
  start_open (self, inputs, self->case_pin);
}

static void
chooser_response_cb (DiWindow             *self,
                     int                   response,
                     GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
      guint n = g_list_model_get_n_items (files);
      g_autoptr(GPtrArray) array = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (array, g_list_model_get_item (files, i));
      di_window_open (self, (GFile **)array->pdata, array->len);
    }

  g_clear_object (&self->chooser);
}

static void
show_chooser (DiWindow *self,
              gboolean  folder)
{
  GtkFileChooserNative *chooser;

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);

  chooser = gtk_file_chooser_native_new (folder ? _("Open Folder") : _("Open Images"),
                                         GTK_WINDOW (self),
                                         folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                                : GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Open"), _("_Cancel"));
  if (!folder)
    {
      GtkFileFilter *images = gtk_file_filter_new ();
      GtkFileFilter *all = gtk_file_filter_new ();

      gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
      gtk_file_filter_set_name (images, _("Images"));
      gtk_file_filter_add_mime_type (images, "image/png");
      gtk_file_filter_add_mime_type (images, "image/jpeg");
      gtk_file_filter_add_mime_type (images, "image/tiff");
      gtk_file_filter_add_mime_type (images, "image/bmp");
      gtk_file_filter_add_suffix (images, "png");
      gtk_file_filter_add_suffix (images, "jpg");
      gtk_file_filter_add_suffix (images, "jpeg");
      gtk_file_filter_add_suffix (images, "tif");
      gtk_file_filter_add_suffix (images, "tiff");
      gtk_file_filter_add_suffix (images, "bmp");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
      gtk_file_filter_set_name (all, _("All Files"));
      gtk_file_filter_add_pattern (all, "*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all);
      g_object_unref (images);
      g_object_unref (all);
    }

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_swapped (chooser, "response", G_CALLBACK (chooser_response_cb), self);
  self->chooser = chooser;
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         DiWindow      *self)
{
  GSList *list;
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;

  list = gdk_file_list_get_files (g_value_get_boxed (value));
  for (GSList *l = list; l; l = l->next)
    g_ptr_array_add (files, l->data);
  di_window_open (self, (GFile **)files->pdata, files->len);
  g_slist_free (list);

  return files->len > 0;
}

/* ---- Model ---------------------------------------------------------------- */

static void
model_changed_cb (DiWindow *self)
{
  DiModelInfo *model = _di_window_current_model (self);

  di_side_panel_set_model_info (self->side_panel, model);
  update_model_banner (self);
  /* a case opened before its model loaded (at start-up), or a model chosen
   * since: say when the case's calls are another model's (over a size
   * notice, not over an error) */
  if (model != NULL && (self->message == NULL || self->message_is_size_notice))
    _di_window_tell_other_model (self);
  update_size_notice (self);

  if (model != NULL)
    {
      /* Forget what the old model said. */
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->items));

      const char *sha256 = di_model_info_get_sha256 (model);

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(DiItem) item = g_list_model_get_item (G_LIST_MODEL (self->items), i);
          g_autoptr(DiPrediction) stored = NULL;

          if (_di_window_prediction_is_current (self, di_item_get_prediction (item)))
            continue;

          /* What this model said of the image in the case, if it did. */
          if (sha256 != NULL && _di_window_item_in_case (self, item) &&
              di_item_get_case_status (item) == DI_CASE_IMAGE_OK)
            {
              g_autoptr(DiCaseEvent) event = di_case_dup_prediction (self->kase, di_item_get_case_id (item),
                                                                     sha256);

              if (event != NULL)
                stored = _di_window_prediction_from_event (self, event, NULL);
            }
          di_item_set_prediction (item, stored);
        }

      if (n > 0)
        start_batch (self, TRUE);
      _di_window_field_reset (self);
      di_image_canvas_set_heatmap (self->canvas, NULL, 1.0);
      update_caption (self);
      request_analysis (self);
    }
}

static void
app_notify_cb (DiWindow   *self,
               GParamSpec *pspec)
{
  DiApplication *app = DI_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

  update_model_banner (self);
  if (g_str_equal (g_param_spec_get_name (pspec), "model-error") &&
      di_application_get_model_error (app) != NULL)
    di_window_show_message (self, TRUE, di_application_get_model_error (app));
}

/* ---- Actions -------------------------------------------------------------- */

static void
open_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  show_chooser (DI_WINDOW (user_data), FALSE);
}

static void
open_folder_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  show_chooser (DI_WINDOW (user_data), TRUE);
}

static void
classify_all_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  DiWindow *self = user_data;

  if (_di_window_current_model (self) == NULL)
    {
      di_window_show_message (self, TRUE, _("No model loaded — choose a model in Preferences"));
      return;
    }
  start_batch (self, TRUE);
}

/* Cancels what the progress bar shows: a field scan, else the batch. */
static void
cancel_batch_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  if (!_di_window_field_cancel_scan (DI_WINDOW (user_data)))
    cancel_batch (DI_WINDOW (user_data));
}

/* The note is done for now: save it at once; after Enter or Escape the
 * keys go back to the image (number keys relabel, arrows move). */
static void
note_committed_cb (DiWindow *self,
                   gboolean  move_focus)
{
  _di_window_flush_note (self);
  if (move_focus)
    gtk_widget_grab_focus (GTK_WIDGET (self->canvas));
}

static void
dismiss_message_action (GSimpleAction *action,
                        GVariant      *param,
                        gpointer       user_data)
{
  di_window_show_message (DI_WINDOW (user_data), FALSE, NULL);
}

static void
zoom_in_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  di_image_canvas_zoom_in (DI_WINDOW (user_data)->canvas);
}

static void
zoom_out_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  di_image_canvas_zoom_out (DI_WINDOW (user_data)->canvas);
}

static void
zoom_best_fit_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  di_image_canvas_zoom_best_fit (DI_WINDOW (user_data)->canvas);
}

static void
zoom_100_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  di_image_canvas_set_zoom (DI_WINDOW (user_data)->canvas, 1.0);
}

static void
toggle_overlay_action (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  DiWindow *self = user_data;

  di_side_panel_set_overlay_visible (self->side_panel,
                                     !di_side_panel_get_overlay_visible (self->side_panel));
}

static void
change_opacity (DiWindow *self,
                double    delta)
{
  double opacity = di_side_panel_get_overlay_opacity (self->side_panel) + delta;

  /* Steps land on tenths. */
  di_side_panel_set_overlay_opacity (self->side_panel, CLAMP (round (opacity * 10) / 10, 0, 1));
  di_side_panel_set_overlay_visible (self->side_panel, TRUE);
}

static void
opacity_up_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  change_opacity (DI_WINDOW (user_data), OPACITY_STEP);
}

static void
opacity_down_action (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  change_opacity (DI_WINDOW (user_data), -OPACITY_STEP);
}

static void
go (DiWindow *self,
    int       delta)
{
  DiItem *item = di_gallery_get_adjacent (self->gallery, self->current, delta);

  if (item != NULL)
    di_window_set_current_item (self, item);
  else
    gtk_widget_error_bell (GTK_WIDGET (self));
}

static void
next_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  go (DI_WINDOW (user_data), 1);
}

static void
previous_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  go (DI_WINDOW (user_data), -1);
}

static const GActionEntry win_actions[] = {
  { "open", open_action },
  { "open-folder", open_folder_action },
  { "classify-all", classify_all_action },
  { "cancel-batch", cancel_batch_action },
  { "dismiss-message", dismiss_message_action },
  { "zoom-in", zoom_in_action },
  { "zoom-out", zoom_out_action },
  { "zoom-best-fit", zoom_best_fit_action },
  { "zoom-100", zoom_100_action },
  { "toggle-overlay", toggle_overlay_action },
  { "opacity-up", opacity_up_action },
  { "opacity-down", opacity_down_action },
  { "next", next_action },
  { "previous", previous_action },
};

/* Single-key shortcuts run in the capture phase so that a focused
 * thumbnail or button does not eat them, but never while typing, and
 * Space leaves a focused button, switch, check box or drop-down to
 * activate itself, as everywhere in GTK. */
static gboolean
single_key_cb (GtkWidget *widget,
               GVariant  *args,
               gpointer   user_data)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (widget));
  const char *action;
  GVariant *target = NULL;

  if (focus != NULL && GTK_IS_EDITABLE (focus))
    return FALSE;

  g_variant_get (args, "(&sm@v)", &action, &target);
  if (g_str_equal (action, "win.toggle-overlay") && focus != NULL &&
      (GTK_IS_BUTTON (focus) || GTK_IS_SWITCH (focus) || GTK_IS_CHECK_BUTTON (focus)))
    {
      g_clear_pointer (&target, g_variant_unref);
      return FALSE;
    }
  if (target != NULL)
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (target);

      g_variant_unref (target);
      return gtk_widget_activate_action_variant (widget, action, inner);
    }

  return gtk_widget_activate_action_variant (widget, action, NULL);
}

static void
add_single_key (GtkShortcutController *controller,
                guint                  keyval,
                const char            *action,
                GVariant              *target)
{
  GtkShortcut *shortcut;

  shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keyval, 0),
                               gtk_callback_action_new (single_key_cb, NULL, NULL));
  gtk_shortcut_set_arguments (shortcut,
                              g_variant_new ("(sm@v)", action,
                                             target ? g_variant_new_variant (target) : NULL));
  gtk_shortcut_controller_add_shortcut (controller, shortcut);
}

static void
setup_single_keys (DiWindow *self)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();
  GtkShortcutController *sc = GTK_SHORTCUT_CONTROLLER (controller);

  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  gtk_event_controller_set_name (controller, "di-single-keys");

  add_single_key (sc, GDK_KEY_space, "win.toggle-overlay", NULL);
  add_single_key (sc, GDK_KEY_bracketleft, "win.opacity-down", NULL);
  add_single_key (sc, GDK_KEY_bracketright, "win.opacity-up", NULL);
  add_single_key (sc, GDK_KEY_Page_Down, "win.next", NULL);
  add_single_key (sc, GDK_KEY_Page_Up, "win.previous", NULL);
  add_single_key (sc, GDK_KEY_plus, "win.zoom-in", NULL);
  add_single_key (sc, GDK_KEY_minus, "win.zoom-out", NULL);
  add_single_key (sc, GDK_KEY_r, "win.select-region", NULL);
  for (int i = 0; i < 9; i++)
    {
      add_single_key (sc, GDK_KEY_1 + i, "win.relabel", g_variant_new_int32 (i));
      add_single_key (sc, GDK_KEY_KP_1 + i, "win.relabel", g_variant_new_int32 (i));
    }
  add_single_key (sc, GDK_KEY_0, "win.relabel", g_variant_new_int32 (-1));
  add_single_key (sc, GDK_KEY_KP_0, "win.relabel", g_variant_new_int32 (-1));

  gtk_widget_add_controller (GTK_WIDGET (self), controller);
}

/* The canvas changes its zoom while it is allocated (best fit); the label
 * lives in the already-allocated header bar, so it follows just after the
 * frame, at default priority: a default-idle source waited behind a busy
 * main loop, and the label kept an old zoom after a resize or Ctrl+0. */
static gboolean
update_zoom_label_cb (gpointer user_data)
{
  DiWindow *self = user_data;
  g_autofree char *text = g_strdup_printf ("%.0f%%", 100.0 * di_image_canvas_get_zoom (self->canvas));

  self->zoom_label_source = 0;
  gtk_label_set_text (self->zoom_label, text);
  return G_SOURCE_REMOVE;
}

/**
 * di_window_get_zoom_text:
 *
 * Returns: the header bar's zoom label ("280%")
 */
const char *
di_window_get_zoom_text (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return gtk_label_get_text (self->zoom_label);
}

static void
zoom_changed_cb (DiWindow *self)
{
  if (self->zoom_label_source == 0)
    self->zoom_label_source = g_idle_add_full (G_PRIORITY_DEFAULT, update_zoom_label_cb, self, NULL);
}

/* ---- GObject ---------------------------------------------------------------- */

static void
application_changed_cb (DiWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (!DI_IS_APPLICATION (app) || g_object_get_data (G_OBJECT (self), "di-app-connected") == app)
    return;

  g_object_set_data (G_OBJECT (self), "di-app-connected", app);
  g_signal_connect_object (app, "notify::model-loading", G_CALLBACK (app_notify_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::model-error", G_CALLBACK (app_notify_cb), self,
                           G_CONNECT_SWAPPED);
  update_model_banner (self);
  if (di_application_get_model_error (DI_APPLICATION (app)) != NULL)
    di_window_show_message (self, TRUE, di_application_get_model_error (DI_APPLICATION (app)));
}

static void
di_window_constructed (GObject *object)
{
  DiWindow *self = (DiWindow *)object;

  G_OBJECT_CLASS (di_window_parent_class)->constructed (object);

  if (self->engine == NULL)
    self->engine = di_engine_new ();

  if (self->settings != NULL)
    {
      g_settings_bind (self->settings, "colormap", self->side_panel, "colormap", G_SETTINGS_BIND_DEFAULT);
      g_settings_bind (self->settings, "overlay-opacity", self->side_panel, "overlay-opacity",
                       G_SETTINGS_BIND_DEFAULT);
    }

  g_signal_connect_object (self->engine, "notify::model-info", G_CALLBACK (model_changed_cb), self,
                           G_CONNECT_SWAPPED);
  di_side_panel_set_model_info (self->side_panel, _di_window_current_model (self));
  update_model_banner (self);

  /* "application" is not a construct property: it is set after this. */
  g_signal_connect (self, "notify::application", G_CALLBACK (application_changed_cb), NULL);
  application_changed_cb (self);
}

static void
di_window_dispose (GObject *object)
{
  DiWindow *self = (DiWindow *)object;

  /* Engine answers still arrive (a request keeps the window alive): they
   * look at this and touch no widget. */
  self->disposed = TRUE;

  /* What the user typed is saved; queued predictions are written. */
  _di_window_case_dispose (self);
  _di_window_field_dispose (self);

  if (self->current_cancellable != NULL)
    g_cancellable_cancel (self->current_cancellable);
  if (self->explain_cancellable != NULL)
    g_cancellable_cancel (self->explain_cancellable);
  if (self->batch_cancellable != NULL)
    g_cancellable_cancel (self->batch_cancellable);
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_handle_id (&self->zoom_label_source, g_source_remove);

  gtk_widget_dispose_template (GTK_WIDGET (self), DI_TYPE_WINDOW);

  g_clear_object (&self->current_cancellable);
  g_clear_object (&self->explain_cancellable);
  g_clear_object (&self->batch_cancellable);
  g_clear_object (&self->open_cancellable);
  g_clear_object (&self->chooser);
  g_clear_object (&self->current);
  g_clear_pointer (&self->current_image, di_image_unref);
  g_clear_object (&self->items);
  g_clear_object (&self->settings);
  g_clear_object (&self->engine);
  g_clear_pointer (&self->message, g_free);

  G_OBJECT_CLASS (di_window_parent_class)->dispose (object);
}

static void
di_window_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  DiWindow *self = DI_WINDOW (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      g_value_set_object (value, self->engine);
      break;

    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    case PROP_CURRENT_ITEM:
      g_value_set_object (value, self->current);
      break;

    case PROP_BATCH_RUNNING:
      g_value_set_boolean (value, di_window_get_batch_running (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_window_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  DiWindow *self = DI_WINDOW (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      self->engine = g_value_dup_object (value);
      break;

    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    case PROP_CURRENT_ITEM:
      di_window_set_current_item (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_window_class_init (DiWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = di_window_constructed;
  object_class->dispose = di_window_dispose;
  object_class->get_property = di_window_get_property;
  object_class->set_property = di_window_set_property;

  properties[PROP_ENGINE] =
    g_param_spec_object ("engine", NULL, NULL, DI_TYPE_ENGINE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_CURRENT_ITEM] =
    g_param_spec_object ("current-item", NULL, NULL, DI_TYPE_ITEM,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_BATCH_RUNNING] =
    g_param_spec_boolean ("batch-running", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (DI_TYPE_GALLERY);
  g_type_ensure (DI_TYPE_IMAGE_CANVAS);
  g_type_ensure (DI_TYPE_SIDE_PANEL);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/deepinsight/DeepInsight/ui/di-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DiWindow, title_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, case_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, overlay_button);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, zoom_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, model_banner);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, model_banner_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, model_banner_button);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, message_banner);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, message_box);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, message_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, message_undo_button);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, gallery);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, canvas);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, placeholder);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, placeholder_title);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, placeholder_text);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, caption_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, evidence_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, spinner);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, side_panel);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, select_button);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, scan_legend_box);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, scan_legend_label);
  gtk_widget_class_bind_template_child (widget_class, DiWindow, scan_legend);
}

static void
di_window_init (DiWindow *self)
{
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->items = g_list_store_new (DI_TYPE_ITEM);
  di_gallery_set_items (self->gallery, G_LIST_MODEL (self->items));

  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);
  _di_window_case_init (self);
  _di_window_field_init (self);
  setup_single_keys (self);
  /* The keys start with the image (Space, arrows, number keys), not with
   * the first header button. */
  gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->canvas));

  g_object_bind_property (self->side_panel, "colormap", self->canvas, "colormap", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->side_panel, "overlay-opacity", self->canvas, "overlay-opacity",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->side_panel, "overlay-visible", self->canvas, "overlay-visible",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->side_panel, "overlay-visible", self->overlay_button, "active",
                          G_BINDING_SYNC_CREATE | G_BINDING_BIDIRECTIONAL);
  g_signal_connect_swapped (self->canvas, "notify::zoom", G_CALLBACK (zoom_changed_cb), self);

  g_signal_connect_swapped (self->gallery, "notify::selected-item",
                            G_CALLBACK (gallery_selection_cb), self);
  g_signal_connect_swapped (self->side_panel, "note-committed",
                            G_CALLBACK (note_committed_cb), self);
  g_signal_connect_swapped (self->side_panel, "notify::method",
                            G_CALLBACK (explain_settings_changed_cb), self);
  g_signal_connect_swapped (self->side_panel, "notify::stage",
                            G_CALLBACK (explain_settings_changed_cb), self);
  g_signal_connect_swapped (self->side_panel, "notify::target",
                            G_CALLBACK (explain_settings_changed_cb), self);
  g_signal_connect_swapped (self->canvas, "notify::overlay-visible",
                            G_CALLBACK (overlay_visible_cb), self);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

DiWindow *
di_window_new (DiApplication *application)
{
  g_return_val_if_fail (DI_IS_APPLICATION (application), NULL);

  return g_object_new (DI_TYPE_WINDOW,
                       "application", application,
                       "engine", di_application_get_engine (application),
                       "settings", di_application_get_settings (application),
                       NULL);
}

/**
 * di_window_get_engine:
 *
 * Returns: (transfer none): the engine
 */
DiEngine *
di_window_get_engine (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->engine;
}

/**
 * di_window_get_current_item:
 *
 * Returns: (transfer none) (nullable): the image on screen
 */
DiItem *
di_window_get_current_item (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->current;
}

/**
 * di_window_get_items:
 *
 * Returns: (transfer none): every opened image, in opening order
 */
GListModel *
di_window_get_items (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return G_LIST_MODEL (self->items);
}

/**
 * di_window_get_canvas:
 *
 * Returns: (transfer none): the canvas
 */
DiImageCanvas *
di_window_get_canvas (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->canvas;
}

/**
 * di_window_get_side_panel:
 *
 * Returns: (transfer none): the side panel
 */
DiSidePanel *
di_window_get_side_panel (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->side_panel;
}

/**
 * di_window_get_gallery:
 *
 * Returns: (transfer none): the gallery
 */
DiGallery *
di_window_get_gallery (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->gallery;
}

gboolean
di_window_get_batch_running (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return self->batch_cancellable != NULL || self->batch_deferred;
}

guint
di_window_get_batch_done (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), 0);
  return self->batch_done;
}

/**
 * di_window_get_analysis_busy:
 *
 * Returns: whether the image on screen is still being decoded, classified
 *   or explained
 */
gboolean
di_window_get_analysis_busy (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return self->analysis_pending > 0;
}

/**
 * di_window_get_message:
 *
 * Returns: (nullable): the banner's message
 */
const char *
di_window_get_message (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->message;
}

/**
 * di_window_get_caption:
 *
 * Returns: (nullable): the overlay caption, when shown
 */
const char *
di_window_get_caption (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return gtk_widget_get_visible (GTK_WIDGET (self->caption_label))
           ? gtk_label_get_text (self->caption_label) : NULL;
}

/**
 * di_window_get_evidence_text:
 *
 * Returns: (nullable): the "No positive evidence" notice, when shown
 */
const char *
di_window_get_evidence_text (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return gtk_widget_get_visible (GTK_WIDGET (self->evidence_label))
           ? gtk_label_get_text (self->evidence_label) : NULL;
}

gboolean
di_window_get_model_banner_visible (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return gtk_revealer_get_reveal_child (self->model_banner);
}

/**
 * di_window_get_progress_text:
 *
 * Returns: the batch progress line
 */
const char *
di_window_get_progress_text (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return gtk_label_get_text (self->progress_label);
}

/**
 * di_window_get_opening:
 *
 * Returns: whether images or a case are being opened
 */
gboolean
di_window_get_opening (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return self->open_cancellable != NULL;
}


/* ---- For di-window-field.c ------------------------------------------------ */

void
_di_window_update_caption (DiWindow *self)
{
  update_caption (self);
}

/* Shows the batch's progress now (the field scan gave the bar back). */
void
_di_window_update_progress (DiWindow *self)
{
  self->progress_shown = 0;
  update_progress (self);
}

void
_di_window_analysis_begin (DiWindow *self)
{
  analysis_begin (self);
}

void
_di_window_analysis_end (DiWindow *self)
{
  analysis_end (self);
}

char *
_di_window_format_duration (double seconds)
{
  return format_duration (seconds);
}
