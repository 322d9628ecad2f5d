/* di-window-case.c — the window's review case: what goes into it, what
 * comes back, undo and redo, New/Open Case and the exports.
 *
 * Everything the window shows is in a case (DiCase, one SQLite file):
 *
 *   - (di-window.c) Opening a folder opens, or creates, FOLDER/deepinsight-case.dicase
 *     (DI_CASE_FOLDER_NAME); opening image files uses the case of the
 *     first file's folder. A case is created only when there are images
 *     to put in it. "New Case…" / "Open Case…" (and --case) choose a case
 *     file anywhere instead; from then on the images this window opens go
 *     into that case. The gallery shows the case: the images just opened
 *     and every other image of the case, flagged when its file moved or
 *     changed (di_case_get_image_status()).
 *   - Opening runs in a worker thread: the worker opens its own DiCase,
 *     adds the images (hashing each new file) and reads back what the case
 *     knows, then hands the DiCase to the main thread, which uses it from
 *     then on. A review written meanwhile makes the open start again, so
 *     that the snapshot is never older than the case.
 *   - Each relabel (keys 1-9, 0, the popover) is di_case_set_label() at once
 *     (di_case_relabel() with the note, while one is being typed); a note
 *     is di_case_set_note() one second after the last keystroke,
 *     and before another image, an undo, an export or closing. Each is one
 *     durable transaction, and one undo step.
 *   - Predictions (and the layer-4 Grad-CAM of the predicted class, for the
 *     report) go to the case through DiCaseWriter, which writes them in a
 *     thread with a connection of its own, with the model's file name and
 *     SHA-256 (hashed by the engine's worker when the model loads). An image
 *     the case already has a prediction of the loaded model for is not
 *     classified again. Files that changed get a fresh prediction on screen
 *     but none in the case: the case is about the file it recorded.
 *   - Undo and redo (Ctrl+Z, Ctrl+Shift+Z) are the case's; they select the
 *     image that changed.
 *   - Exports (report, CSV, GeoJSON, retraining pack) run in a GTask thread
 *     on a DiCase of their own.
 *   - When no case can be opened or created (a read-only folder), the
 *     window says so and keeps the reviews in memory only.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-window"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "di-batch.h"
#include "di-export.h"
#include "di-heatmap.h"
#include "di-window-private.h"

/* A note is saved this long after the last keystroke. */
#define NOTE_DELAY_MS 3000  /* also saved on Enter, Escape, focus out, close */
/* The stage of the Grad-CAM maps stored for reports (as di-batch.c). */
#define REPORT_MAP_STAGE 4

static void update_case_actions (DiWindow *self);

/* ---- The case: what goes in ---------------------------------------------- */

/* The item of the gallery that stands for case image @id, if any. */
static DiItem *
item_for_id (DiWindow *self,
             gint64    id)
{
  return id > 0 ? g_hash_table_lookup (self->items_by_id, &id) : NULL;
}

/* @item is an image of the open case (not of an earlier one whose answers
 * still arrive), with the file the case recorded. */
gboolean
_di_window_item_in_case (DiWindow *self,
              DiItem   *item)
{
  return self->kase != NULL && item != NULL &&
         item_for_id (self, di_item_get_case_id (item)) == item;
}

/* A review of an image that did not go into the open case (opening said
 * so) is kept in memory only: say it again where a review was given. */
void
_di_window_warn_not_in_case (DiWindow *self)
{
  if (self->kase == NULL)
    return;
  di_window_show_message (self, TRUE,
                          _("This image could not be added to the case: reviews of it are not saved"));
}

/* The case's AI calls are another model's (none is the loaded model's):
 * its images are classified again, and its report will be this model's. */
void
_di_window_tell_other_model (DiWindow *self)
{
  DiModelInfo *model = _di_window_current_model (self);
  g_autoptr(GPtrArray) models = NULL;
  g_autoptr(DiCaseModel) same = NULL;
  const char *sha256 = model != NULL ? di_model_info_get_sha256 (model) : NULL;
  g_autofree char *text = NULL;

  if (self->kase == NULL || sha256 == NULL)
    return;
  models = di_case_dup_models (self->kase);
  same = di_case_dup_model (self->kase, sha256);
  if (models->len == 0 || same != NULL)
    return;

  {
    const char *file = ((DiCaseModel *)g_ptr_array_index (models, models->len - 1))->name;
    /* named as the loaded one is: without the extension */
    g_autofree char *earlier = g_str_has_suffix (file, ".safetensors")
                                 ? g_strndup (file, strlen (file) - strlen (".safetensors"))
                                 : g_strdup (file);

    /* TRANSLATORS: the first %s is the model the case was classified with,
     * the second the loaded model's name */
    text = g_strdup_printf (_("This case was classified with %s; the loaded model, %s, classifies its "
                              "images again. Both models’ calls stay in the case; reviews are kept."),
                            earlier, di_model_info_get_name (model));
  }
  di_window_show_message (self, FALSE, text);
  self->message_is_open_notice = TRUE;
}

static char *
dup_reviewer (DiWindow *self)
{
  g_autofree char *name = self->settings ? g_settings_get_string (self->settings, "reviewer-name") : NULL;

  if (name == NULL)
    return NULL;
  g_strstrip (name);
  return *name ? g_steal_pointer (&name) : NULL;
}

void
_di_window_record_prediction (DiWindow     *self,
                   DiItem       *item,
                   DiPrediction *prediction)
{
  if (self->writer == NULL || !_di_window_item_in_case (self, item) ||
      di_item_get_case_status (item) != DI_CASE_IMAGE_OK ||
      di_model_info_get_sha256 (di_prediction_get_model (prediction)) == NULL)
    return;

  di_case_writer_add_prediction (self->writer, di_item_get_case_id (item), prediction);
}

/* The layer-4 Grad-CAM of the predicted class: the map a report shows. */
void
_di_window_record_map (DiWindow     *self,
            DiItem       *item,
            DiHeatmap    *heatmap,
            DiPrediction *prediction)
{
  DiModelInfo *model = prediction ? di_prediction_get_model (prediction) : NULL;
  const char *sha256 = model ? di_model_info_get_sha256 (model) : NULL;

  if (self->writer == NULL || sha256 == NULL || !_di_window_prediction_is_current (self, prediction) ||
      !_di_window_item_in_case (self, item) || di_item_get_case_status (item) != DI_CASE_IMAGE_OK ||
      di_heatmap_get_method (heatmap) != DI_EXPLAIN_GRADCAM ||
      di_heatmap_get_stage (heatmap) != REPORT_MAP_STAGE ||
      di_heatmap_get_target (heatmap) != di_prediction_get_top (prediction) ||
      g_strcmp0 (g_object_get_data (G_OBJECT (item), "di-map-model"), sha256) == 0)
    return;

  g_object_set_data_full (G_OBJECT (item), "di-map-model", g_strdup (sha256), g_free);
  di_case_writer_add_explanation (self->writer, di_item_get_case_id (item), model, heatmap);
}


/* ---- Reviews ---------------------------------------------------------------- */

/* Shows the current item's provenance: its events in the case. */
void
_di_window_update_history (DiWindow *self)
{
  g_autoptr(GPtrArray) history = NULL;

  if (self->kase != NULL && self->current != NULL)
    history = _di_window_item_in_case (self, self->current)
                ? di_case_dup_history (self->kase, di_item_get_case_id (self->current))
                : g_ptr_array_new ();
  di_side_panel_set_history (self->side_panel, history);
}

/* Copies the case's current review of an image into its item. */
void
_di_window_sync_item (DiWindow          *self,
           DiItem            *item,
           const DiCaseImage *image)
{
  self->syncing = TRUE;
  di_item_set_reviewer_label (item, image->label);
  di_item_set_reviewer_name (item, image->label != NULL ? image->reviewer : NULL);
  di_item_set_note (item, image->note);
  self->syncing = FALSE;
}

/* Returns: FALSE when a note was typed and could not be saved (the
 * banner says why) */
gboolean
_di_window_flush_note (DiWindow *self)
{
  g_autoptr(DiItem) item = g_steal_pointer (&self->note_item);
  g_autoptr(GError) error = NULL;
  g_autofree char *reviewer = NULL;

  g_clear_handle_id (&self->note_source, g_source_remove);
  if (item == NULL || !_di_window_item_in_case (self, item))
    return TRUE;

  reviewer = dup_reviewer (self);
  if (!di_case_set_note (self->kase, di_item_get_case_id (item), di_item_get_note (item),
                         reviewer, &error))
    {
      /* TRANSLATORS: %s says why (from the case database) */
      g_autofree char *text = g_strdup_printf (_("The note was not saved: %s"), error->message);

      di_window_show_message (self, TRUE, text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
note_timeout_cb (gpointer user_data)
{
  DiWindow *self = user_data;

  self->note_source = 0;
  _di_window_flush_note (self);
  return G_SOURCE_REMOVE;
}

/* The current item's note changed: typed in the panel (or set by code).
 * Saved when the typing pauses. */
static void
note_changed_cb (DiWindow *self,
                 GParamSpec *pspec,
                 DiItem   *item)
{
  if (self->syncing)
    return;
  if (!_di_window_item_in_case (self, item))
    {
      if (item == self->current)
        _di_window_warn_not_in_case (self);
      return;
    }

  if (self->note_item != item)
    {
      _di_window_flush_note (self);
      self->note_item = g_object_ref (item);
    }
  g_clear_handle_id (&self->note_source, g_source_remove);
  self->note_source = g_timeout_add (NOTE_DELAY_MS, note_timeout_cb, self);
}

/* Saves the notes typed for @item (the image on screen). */
void
_di_window_watch_note (DiWindow *self,
                       DiItem   *item)
{
  g_return_if_fail (self->note_handler == 0);

  self->note_handler = g_signal_connect_object (item, "notify::note", G_CALLBACK (note_changed_cb),
                                                self, G_CONNECT_SWAPPED);
}

void
_di_window_unwatch_note (DiWindow *self)
{
  if (self->current != NULL)
    g_clear_signal_handler (&self->note_handler, self->current);
  self->note_handler = 0;
}

/* DiCase::review-changed: a relabel, note, undo or redo is in the case. */
static void
review_changed_cb (DiWindow *self,
                   gint64    image_id,
                   DiCase   *kase)
{
  DiItem *item = item_for_id (self, image_id);
  g_autoptr(DiCaseImage) image = NULL;

  self->edits++;
  if (item == NULL || kase != self->kase)
    return;

  image = di_case_dup_image (kase, image_id);
  if (image != NULL)
    _di_window_sync_item (self, item, image);
  if (item == self->current)
    _di_window_update_history (self);
  di_gallery_invalidate (self->gallery);
}

/* DiCaseWriter::written: a prediction or a map is in the case. */
static void
written_cb (DiWindow     *self,
            gint64        image_id,
            DiCaseWriter *writer)
{
  if (self->current != NULL && di_item_get_case_id (self->current) == image_id &&
      item_for_id (self, image_id) == self->current)
    _di_window_update_history (self);
}

static void
write_failed_cb (DiWindow     *self,
                 const char   *message,
                 DiCaseWriter *writer)
{
  /* TRANSLATORS: %s says why (from the case database) */
  g_autofree char *text = g_strdup_printf (_("A prediction was not saved in the case: %s"), message);

  di_window_show_message (self, TRUE, text);
}

static void
can_undo_changed_cb (DiWindow *self)
{
  update_case_actions (self);
}

/* Makes @kase (nullable) the window's case; the items are set apart. */
void
_di_window_set_case (DiWindow *self,
          DiCase   *kase)
{
  if (self->kase == kase)
    return;

  _di_window_flush_note (self);
  if (self->kase != NULL)
    g_signal_handlers_disconnect_by_data (self->kase, self);
  if (self->writer != NULL)
    g_signal_handlers_disconnect_by_data (self->writer, self);
  /* Waits for the old case's queued predictions. */
  g_clear_object (&self->writer);
  g_set_object (&self->kase, kase);
  g_hash_table_remove_all (self->record_models);

  if (kase != NULL)
    {
      g_signal_connect_object (kase, "review-changed", G_CALLBACK (review_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (kase, "notify::can-undo", G_CALLBACK (can_undo_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (kase, "notify::can-redo", G_CALLBACK (can_undo_changed_cb), self,
                               G_CONNECT_SWAPPED);
      self->writer = di_case_writer_new (di_case_get_filename (kase));
      g_signal_connect_object (self->writer, "written", G_CALLBACK (written_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->writer, "failed", G_CALLBACK (write_failed_cb), self,
                               G_CONNECT_SWAPPED);
    }

  update_case_actions (self);
  _di_window_update_title (self);
}

/* A prediction read back from the case, for the model that made it. */
DiPrediction *
_di_window_prediction_from_event (DiWindow          *self,
                       const DiCaseEvent *event,
                       GHashTable        *case_models)
{
  DiModelInfo *model = _di_window_current_model (self);
  g_autofree float *logits = NULL;
  double temperature;
  int n = event->n_classes;

  if (event->model_sha256 == NULL || n <= 0 || event->probabilities == NULL)
    return NULL;

  if (model == NULL || g_strcmp0 (di_model_info_get_sha256 (model), event->model_sha256) != 0)
    {
      model = g_hash_table_lookup (self->record_models, event->model_sha256);
      if (model == NULL)
        {
          DiCaseModel *record = case_models ? g_hash_table_lookup (case_models, event->model_sha256) : NULL;

          model = _di_model_info_new_from_record (event->model_sha256,
                                                  record ? record->name : event->model_name,
                                                  (const char * const *)event->classes,
                                                  record && record->n_classes == n ? record->abnormal : NULL,
                                                  event->temperature);
          g_hash_table_insert (self->record_models, g_strdup (event->model_sha256), model);
        }
    }
  if (di_model_info_get_n_classes (model) != n)
    return NULL;

  /* Logits as stored; else ones whose softmax gives the probabilities. */
  temperature = di_model_info_get_temperature (model);
  logits = g_new (float, n);
  for (int i = 0; i < n; i++)
    logits[i] = event->logits != NULL ? (float)event->logits[i]
                                      : (float)(temperature * log (MAX (event->probabilities[i], 1e-30)));
  return di_prediction_new_with_views (model, logits, event->n_views, event->view_top);
}


/* ---- New Case…, Open Case… ------------------------------------------------ */

static void
case_chooser_response_cb (DiWindow             *self,
                          int                   response,
                          GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      /* A new case gets the suffix; an existing file is opened, never
       * replaced: a case is a record. */
      if (path != NULL &&
          gtk_file_chooser_get_action (GTK_FILE_CHOOSER (chooser)) == GTK_FILE_CHOOSER_ACTION_SAVE &&
          !g_str_has_suffix (path, DI_CASE_SUFFIX))
        {
          g_autofree char *with_suffix = g_strconcat (path, DI_CASE_SUFFIX, NULL);

          g_clear_object (&file);
          file = g_file_new_for_path (with_suffix);
        }
      if (file != NULL)
        di_window_open_case (self, file, NULL, 0);
    }

  g_clear_object (&self->chooser);
}

static void
add_case_filter (GtkFileChooser *chooser)
{
  GtkFileFilter *cases = gtk_file_filter_new ();
  GtkFileFilter *all = gtk_file_filter_new ();

  gtk_file_filter_set_name (cases, _("Review Cases"));
  gtk_file_filter_add_suffix (cases, DI_CASE_SUFFIX + 1);
  gtk_file_chooser_add_filter (chooser, cases);
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (chooser, all);
  g_object_unref (cases);
  g_object_unref (all);
}

static void
show_case_chooser (DiWindow *self,
                   gboolean  create)
{
  GtkFileChooserNative *chooser;

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);

  chooser = gtk_file_chooser_native_new (create ? _("New Case") : _("Open Case"),
                                         GTK_WINDOW (self),
                                         create ? GTK_FILE_CHOOSER_ACTION_SAVE
                                                : GTK_FILE_CHOOSER_ACTION_OPEN,
                                         create ? _("_Create") : _("_Open"), _("_Cancel"));
  add_case_filter (GTK_FILE_CHOOSER (chooser));
  if (create)
    {
      /* TRANSLATORS: the suggested file name of a new case, without the suffix */
      g_autofree char *name = g_strconcat (_("case"), DI_CASE_SUFFIX, NULL);

      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
    }

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_swapped (chooser, "response", G_CALLBACK (case_chooser_response_cb), self);
  self->chooser = chooser;
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- Exports ---------------------------------------------------------------- */

typedef struct
{
  char *kind;              /* "report", "csv", "geojson" or "pack" */
  char *case_path;
  char *path;
  char *reviewer;
  char *model_sha256;
  char *model_path;        /* the loaded model's file, for the missing maps */
  DiReportPaper paper;
  DiColormap colormap;
  double opacity;
} ExportData;

static void
export_data_free (ExportData *data)
{
  g_free (data->kind);
  g_free (data->case_path);
  g_free (data->path);
  g_free (data->reviewer);
  g_free (data->model_sha256);
  g_free (data->model_path);
  g_free (data);
}

/* Worker: Grad-CAM maps for the images the loaded model classified but
 * nobody looked at (the viewer makes maps only for the images shown), so
 * that every cell of the report has its overlay, as in the headless mode.
 * The model is loaded again here (the engine's worker keeps its own), and
 * only if its file is still the one the predictions came from. */
static void
fill_maps (DiCase       *kase,
           const char   *model_path,
           const char   *model_sha256,
           GCancellable *cancellable)
{
  g_autofree char *sha = di_case_compute_sha256 (model_path, NULL, NULL);
  g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func (g_free);
  dinet_error err = { 0 };
  dinet_net *net;
  int added;

  if (g_strcmp0 (sha, model_sha256) != 0)
    return;
  net = dinet_net_load (model_path, &err);
  if (net == NULL)
    {
      g_warning ("Cannot load %s for the report's maps: %s", model_path, err.message);
      return;
    }
  added = di_batch_fill_maps (kase, net, model_sha256, cancellable, failed);
  g_debug ("Report: %d Grad-CAM maps added, %u images without one", added, failed->len);
  dinet_net_free (net);
}

/* Worker: the export reads the case through a connection of its own. */
static void
export_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ExportData *data = task_data;
  g_autoptr(DiCase) kase = NULL;
  GError *error = NULL;
  char *message = NULL;

  kase = di_case_open (data->case_path, &error);
  if (kase == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (g_str_equal (data->kind, "report"))
    {
      g_autoptr(DiReport) report = di_report_new (kase);
      g_autoptr(DiCaseModel) model = data->model_sha256 ? di_case_dup_model (kase, data->model_sha256) : NULL;
      int pages;

      if (model != NULL && data->model_path != NULL)
        fill_maps (kase, data->model_path, data->model_sha256, cancellable);
      if (g_cancellable_set_error_if_cancelled (cancellable, &error))
        {
          g_task_return_error (task, error);
          return;
        }

      di_report_set_reviewer (report, data->reviewer);
      di_report_set_paper (report, data->paper);
      di_report_set_colormap (report, data->colormap);
      di_report_set_opacity (report, data->opacity);
      /* The loaded model's predictions, when it made any. */
      if (model != NULL)
        di_report_set_model_sha256 (report, data->model_sha256);
      if (di_report_write (report, data->path, cancellable, &error))
        {
          pages = di_report_get_n_pages (report);
          /* TRANSLATORS: %s is a file, %d its number of pages */
          message = g_strdup_printf (ngettext ("Report saved: %s (%d page)",
                                               "Report saved: %s (%d pages)", pages),
                                     data->path, pages);
        }
    }
  else if (g_str_equal (data->kind, "csv"))
    {
      if (di_export_csv (kase, data->path, &error))
        /* TRANSLATORS: %s is a file */
        message = g_strdup_printf (_("Table saved: %s"), data->path);
    }
  else if (g_str_equal (data->kind, "geojson"))
    {
      if (di_export_geojson (kase, 0, data->path, &error))
        /* TRANSLATORS: %s is a file */
        message = g_strdup_printf (_("Regions saved: %s"), data->path);
    }
  else if (g_str_equal (data->kind, "pack"))
    {
      guint copied = 0, skipped = 0;

      if (di_export_pack (kase, data->path, &copied, &skipped, &error))
        /* TRANSLATORS: a folder, the number of images copied into it, and
         * the number of reviewed images left out (missing or changed) */
        message = g_strdup_printf (ngettext ("Retraining pack saved: %s (%u image, %u left out)",
                                             "Retraining pack saved: %s (%u images, %u left out)",
                                             copied),
                                   data->path, copied, skipped);
    }
  else
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown export “%s”", data->kind);

  if (message != NULL)
    g_task_return_pointer (task, message, g_free);
  else
    g_task_return_error (task, error);
}

static void
export_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  DiWindow *self = DI_WINDOW (object);
  g_autoptr(GError) error = NULL;
  g_autofree char *message = g_task_propagate_pointer (G_TASK (result), &error);

  self->exports_running--;
  if (self->exports_running == 0)
    g_clear_object (&self->export_cancellable);

  /* The window closed meanwhile: its widgets are gone (a failure still
   * goes to the log). */
  if (self->disposed)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("The export failed: %s", error->message);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (message != NULL)
    di_window_show_message (self, FALSE, message);
  else
    {
      /* TRANSLATORS: %s says why */
      g_autofree char *text = g_strdup_printf (_("The export failed: %s"), error->message);

      di_window_show_message (self, TRUE, text);
    }
}

/**
 * di_window_export:
 * @kind: "report" (PDF), "csv", "geojson" or "pack" (a folder)
 * @path: the file (or the pack's folder) to write
 *
 * Writes the case in a worker thread, after saving a pending note and the
 * queued predictions; the banner says when it is done, or why it failed.
 * The report uses the window's paper size (di_window_set_paper()).
 */
void
di_window_export (DiWindow   *self,
                  const char *kind,
                  const char *path)
{
  g_autoptr(GTask) task = NULL;
  ExportData *data;
  DiModelInfo *model = _di_window_current_model (self);

  g_return_if_fail (DI_IS_WINDOW (self));
  g_return_if_fail (kind != NULL);
  g_return_if_fail (path != NULL);

  if (self->kase == NULL)
    {
      di_window_show_message (self, TRUE, _("There is no case to export: open a folder or a case first"));
      return;
    }

  _di_window_flush_note (self);
  if (self->writer != NULL)
    di_case_writer_flush (self->writer);

  data = g_new0 (ExportData, 1);
  data->kind = g_strdup (kind);
  data->case_path = g_strdup (di_case_get_filename (self->kase));
  data->path = g_strdup (path);
  data->reviewer = dup_reviewer (self);
  data->model_sha256 = model ? g_strdup (di_model_info_get_sha256 (model)) : NULL;
  data->model_path = model ? g_strdup (di_model_info_get_path (model)) : NULL;
  data->paper = self->paper;
  data->colormap = di_side_panel_get_colormap (self->side_panel);
  data->opacity = di_side_panel_get_overlay_opacity (self->side_panel);

  if (self->export_cancellable == NULL)
    self->export_cancellable = g_cancellable_new ();
  self->exports_running++;

  task = g_task_new (self, self->export_cancellable, export_cb, NULL);
  g_task_set_source_tag (task, di_window_export);
  g_task_set_task_data (task, data, (GDestroyNotify)export_data_free);
  g_task_run_in_thread (task, export_thread);
}

static void
export_chooser_response_cb (DiWindow             *self,
                            int                   response,
                            GtkFileChooserNative *chooser)
{
  const char *kind = g_object_get_data (G_OBJECT (chooser), "di-export");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      if (g_str_equal (kind, "report"))
        {
          const char *paper = gtk_file_chooser_get_choice (GTK_FILE_CHOOSER (chooser), "paper");

          if (paper != NULL)
            self->paper = g_str_equal (paper, "letter") ? DI_REPORT_PAPER_LETTER : DI_REPORT_PAPER_A4;
        }
      if (path != NULL)
        di_window_export (self, kind, path);
      else
        di_window_show_message (self, TRUE, _("Exports must go to a local file"));
    }

  g_clear_object (&self->export_chooser);
}

static void
show_export_chooser (DiWindow   *self,
                     const char *kind)
{
  GtkFileChooserNative *chooser;
  g_autofree char *title = NULL;
  g_autofree char *name = NULL;
  g_autofree char *folder = NULL;
  const char *heading;

  if (self->kase == NULL)
    return;

  if (self->export_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->export_chooser));
  g_clear_object (&self->export_chooser);

  _di_window_flush_note (self);
  title = di_case_dup_title (self->kase);
  if (g_str_equal (kind, "report"))
    {
      heading = _("Export Report");
      /* TRANSLATORS: suggested file name: "CASE-report.pdf" */
      name = g_strdup_printf (_("%s-report.pdf"), title);
    }
  else if (g_str_equal (kind, "csv"))
    {
      heading = _("Export Table");
      name = g_strdup_printf ("%s.csv", title);
    }
  else if (g_str_equal (kind, "geojson"))
    {
      heading = _("Export Regions");
      name = g_strdup_printf ("%s.geojson", title);
    }
  else
    {
      heading = _("Export Retraining Pack");
      /* TRANSLATORS: suggested folder name: "CASE-retraining" */
      name = g_strdup_printf (_("%s-retraining"), title);
    }

  chooser = gtk_file_chooser_native_new (heading, GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                         _("_Export"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  folder = di_case_dup_folder (self->kase);
  {
    g_autoptr(GFile) where = g_file_new_for_path (folder);

    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), where, NULL);
  }
  if (g_str_equal (kind, "report"))
    {
      const char *ids[] = { "a4", "letter", NULL };
      const char *labels[] = { _("A4"), _("Letter"), NULL };

      gtk_file_chooser_add_choice (GTK_FILE_CHOOSER (chooser), "paper", _("Paper size"), ids, labels);
      gtk_file_chooser_set_choice (GTK_FILE_CHOOSER (chooser), "paper",
                                   self->paper == DI_REPORT_PAPER_LETTER ? "letter" : "a4");
    }
  /* A pack is a folder, created if needed: the save dialog names it. */
  g_object_set_data_full (G_OBJECT (chooser), "di-export", g_strdup (kind), g_free);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_swapped (chooser, "response", G_CALLBACK (export_chooser_response_cb), self);
  self->export_chooser = chooser;
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}


/* ---- Actions ---------------------------------------------------------------- */

/* Sets the reviewer's class of the image on screen: in the case at once
 * (one durable row, one undo step), which then updates the item. */
static void
relabel_action (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  DiWindow *self = user_data;
  DiModelInfo *model = _di_window_current_model (self);
  int index = g_variant_get_int32 (param);
  g_autofree char *reviewer = NULL;
  const char *label;

  if (self->current == NULL)
    return;

  if (model == NULL || index >= di_model_info_get_n_classes (model))
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }

  label = index >= 0 ? di_model_info_get_class_name (model, index) : NULL;

  /* A class for an image that could not be read would count as reviewed
   * (and complete the case) though nobody saw it; clearing one is fine. */
  if (label != NULL && self->current_unreadable)
    {
      /* TRANSLATORS: %s is the image's file name */
      g_autofree char *text = g_strdup_printf (_("“%s” could not be read: it cannot be given a class"),
                                               di_item_get_display_name (self->current));

      gtk_widget_error_bell (GTK_WIDGET (self));
      di_window_show_message (self, TRUE, text);
      return;
    }

  reviewer = dup_reviewer (self);

  if (_di_window_item_in_case (self, self->current))
    {
      g_autoptr(GError) error = NULL;
      gboolean ok;

      /* A note being typed goes into the same row; otherwise the case's
       * note stays (the item's copy may be older than it). */
      if (self->note_item == self->current)
        {
          g_clear_handle_id (&self->note_source, g_source_remove);
          g_clear_object (&self->note_item);
          ok = di_case_relabel (self->kase, di_item_get_case_id (self->current), label,
                                di_item_get_note (self->current), reviewer, &error);
        }
      else
        ok = di_case_set_label (self->kase, di_item_get_case_id (self->current), label,
                                reviewer, &error);
      if (!ok)
        {
          /* TRANSLATORS: %s says why (from the case database) */
          g_autofree char *text = g_strdup_printf (_("The review was not saved: %s"), error->message);

          di_window_show_message (self, TRUE, text);
        }
      /* Saved: with a region on screen the key still labelled the image,
       * which is said once; so is how to name the reviewer. */
      else if (label != NULL && self->region != NULL && !self->told_region_label)
        {
          self->told_region_label = TRUE;
          di_window_show_message (self, FALSE,
                                  _("The class is the whole image’s. A region keeps the AI’s class; "
                                    "the report lists it beside the image."));
        }
      else if (reviewer == NULL && !self->told_unnamed)
        {
          self->told_unnamed = TRUE;
          di_window_show_message (self, FALSE,
                                  _("Reviews are saved without a name. Set yours in Preferences, "
                                    "so that the case and its reports say who reviewed."));
        }
    }
  else
    {
      /* No case (or the image is not in it): kept in memory only. */
      _di_window_warn_not_in_case (self);
      di_item_set_reviewer_label (self->current, label);
      di_item_set_reviewer_name (self->current, label ? reviewer : NULL);
    }
  di_gallery_invalidate (self->gallery);
}

static void
undo_redo (DiWindow *self,
           gboolean  redo)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  g_autoptr(GError) error = NULL;
  g_autofree char *reviewer = NULL;
  gint64 image_id = 0;
  gboolean ok;
  DiItem *item;

  /* While typing, Ctrl+Z is the text's. */
  if (focus != NULL && GTK_IS_EDITABLE (focus) &&
      gtk_widget_activate_action (focus, redo ? "text.redo" : "text.undo", NULL))
    return;

  _di_window_flush_note (self);
  if (self->kase == NULL)
    return;

  reviewer = dup_reviewer (self);
  ok = redo ? di_case_redo (self->kase, reviewer, &image_id, &error)
            : di_case_undo (self->kase, reviewer, &image_id, &error);
  if (!ok)
    {
      if (g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_UNDO) ||
          g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_REDO))
        gtk_widget_error_bell (GTK_WIDGET (self));
      else
        di_window_show_message (self, TRUE, error->message);
      return;
    }

  /* Show the image that changed (the case has updated its item). */
  item = item_for_id (self, image_id);
  if (item != NULL)
    di_window_set_current_item (self, item);
}

static void
undo_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  undo_redo (DI_WINDOW (user_data), FALSE);
}

static void
redo_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  undo_redo (DI_WINDOW (user_data), TRUE);
}

static void
new_case_action (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  show_case_chooser (DI_WINDOW (user_data), TRUE);
}

static void
open_case_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  show_case_chooser (DI_WINDOW (user_data), FALSE);
}

static void
export_action (GSimpleAction *action,
               GVariant      *param,
               gpointer       user_data)
{
  /* "export-report" -> "report" */
  show_export_chooser (DI_WINDOW (user_data), g_action_get_name (G_ACTION (action)) + strlen ("export-"));
}

/* win.export-to ("report", "/path/file.pdf"): no dialog. */
static void
export_to_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  const char *kind, *path;

  g_variant_get (param, "(&s&s)", &kind, &path);
  di_window_export (DI_WINDOW (user_data), kind, path);
}

static void
set_action_enabled (DiWindow   *self,
                    const char *name,
                    gboolean    enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_case_actions (DiWindow *self)
{
  static const char * const exports[] = {
    "export-report", "export-csv", "export-geojson", "export-pack", "export-to"
  };

  set_action_enabled (self, "undo", self->kase != NULL && di_case_get_can_undo (self->kase));
  set_action_enabled (self, "redo", self->kase != NULL && di_case_get_can_redo (self->kase));
  for (guint i = 0; i < G_N_ELEMENTS (exports); i++)
    set_action_enabled (self, exports[i], self->kase != NULL);
}


/* ---- Public ------------------------------------------------------------------ */

/**
 * di_window_get_case:
 *
 * Returns: (transfer none) (nullable): the review case of the images shown
 */
DiCase *
di_window_get_case (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), NULL);
  return self->kase;
}


/**
 * di_window_get_case_busy:
 *
 * Returns: whether an export runs, a note waits, or predictions are still
 *   being written to the case
 */
gboolean
di_window_get_case_busy (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), FALSE);
  return self->exports_running > 0 || self->note_source != 0 ||
         (self->writer != NULL && di_case_writer_get_pending (self->writer) > 0);
}


DiReportPaper
di_window_get_paper (DiWindow *self)
{
  g_return_val_if_fail (DI_IS_WINDOW (self), DI_REPORT_PAPER_A4);
  return self->paper;
}

/**
 * di_window_set_paper:
 *
 * The report's paper size; the export dialog offers it first, and sets it.
 */
void
di_window_set_paper (DiWindow      *self,
                     DiReportPaper  paper)
{
  g_return_if_fail (DI_IS_WINDOW (self));
  self->paper = paper;
}

/* ---- Setup -------------------------------------------------------------------- */

static const GActionEntry case_actions[] = {
  { "relabel", relabel_action, "i" },
  { "undo", undo_action },
  { "redo", redo_action },
  { "new-case", new_case_action },
  { "open-case", open_case_action },
  { "export-report", export_action },
  { "export-csv", export_action },
  { "export-geojson", export_action },
  { "export-pack", export_action },
  { "export-to", export_to_action, "(ss)" },
};

/* The window comes to the front: another window or process may have
 * written to the case meanwhile; what it shows is read back. */
static void
is_active_cb (DiWindow   *self,
              GParamSpec *pspec,
              gpointer    user_data)
{
  g_autoptr(GPtrArray) images = NULL;

  if (self->disposed || self->kase == NULL || !gtk_window_is_active (GTK_WINDOW (self)) ||
      !di_case_refresh (self->kase))
    return;

  images = di_case_dup_images (self->kase);
  for (guint i = 0; i < images->len; i++)
    {
      const DiCaseImage *image = g_ptr_array_index (images, i);
      DiItem *item = item_for_id (self, image->id);

      if (item == NULL)
        continue;
      if (item == self->note_item)
        {
          /* a note being typed is this window's newest word on it */
          DiCaseImage label_only = *image;

          label_only.note = (char *)di_item_get_note (item);
          _di_window_sync_item (self, item, &label_only);
        }
      else
        _di_window_sync_item (self, item, image);
    }
  if (self->current != NULL)
    _di_window_update_history (self);
  di_gallery_invalidate (self->gallery);
}

void
_di_window_case_init (DiWindow *self)
{
  self->items_by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->record_models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify)di_model_info_unref);
  self->paper = g_str_equal (gtk_paper_size_get_default (), GTK_PAPER_NAME_LETTER)
                  ? DI_REPORT_PAPER_LETTER : DI_REPORT_PAPER_A4;

  g_action_map_add_action_entries (G_ACTION_MAP (self), case_actions, G_N_ELEMENTS (case_actions), self);
  update_case_actions (self);
  g_signal_connect (self, "notify::is-active", G_CALLBACK (is_active_cb), NULL);
}

/* Saves the pending note and waits for the queued predictions. */
void
_di_window_case_dispose (DiWindow *self)
{
  _di_window_flush_note (self);
  _di_window_unwatch_note (self);
  if (self->export_cancellable != NULL)
    g_cancellable_cancel (self->export_cancellable);
  if (self->export_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->export_chooser));
  g_clear_object (&self->export_chooser);
  if (self->kase != NULL)
    g_signal_handlers_disconnect_by_data (self->kase, self);
  if (self->writer != NULL)
    g_signal_handlers_disconnect_by_data (self->writer, self);
  g_clear_object (&self->writer);
  g_clear_object (&self->kase);
  g_clear_pointer (&self->case_pin, g_free);
  g_clear_pointer (&self->items_by_id, g_hash_table_unref);
  g_clear_pointer (&self->record_models, g_hash_table_unref);
}
