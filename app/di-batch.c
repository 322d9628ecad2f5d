/* di-batch.c — the headless mode:
 *
 *   deepinsight --no-window --case CASE [--model M] [--reviewer NAME]
 *       [--export-report PDF] [--export-csv CSV] [--export-geojson F]
 *       [--export-pack DIR] [--paper a4|letter] [--threads N] [--quiet]
 *       [IMAGE|DIR ...]
 *
 * Opens (or creates) CASE, adds the images (the image files in each DIR
 * and its subfolders, as the window opens them), classifies those that the model has not classified yet
 * (same model = same SHA-256), stores Grad-CAM maps when a report is asked
 * for, and writes the exports. It uses GLib, cairo and Pango only: no
 * display, gtk_init() is never called. Errors: a one-line message on
 * stderr and a non-zero exit status; one unreadable image among many is
 * reported and the others are still classified (exit status 1 at the end).
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-batch"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include <dinet/dinet.h>

#include "di-batch.h"
#include "di-case.h"
#include "di-export.h"
#include "di-files.h"
#include "di-report.h"
#include "di-model-info.h"

/* Keep in step with di-application.c. */
#define DEFAULT_MODEL_NAME "herlev7.safetensors"
#define GRADCAM_STAGE 4

typedef struct
{
  char *case_path;
  char *model_path;
  char *reviewer;
  char *report;
  char *csv;
  char *geojson;
  char *pack;
  char *paper;
  int threads;
  gboolean quiet;
  gboolean no_window;
  char **inputs;

  DiCase *kase;
  dinet_net *net;
  char *model_sha256;
  char *model_name;
  gboolean model_loaded;
  guint n_added, n_classified, n_skipped, n_failed;
} Batch;

static void
batch_clear (Batch *b)
{
  g_free (b->case_path);
  g_free (b->model_path);
  g_free (b->reviewer);
  g_free (b->report);
  g_free (b->csv);
  g_free (b->geojson);
  g_free (b->pack);
  g_free (b->paper);
  g_strfreev (b->inputs);
  g_clear_object (&b->kase);
  g_clear_pointer (&b->net, dinet_net_free);
  g_free (b->model_sha256);
  g_free (b->model_name);
}

static int
fail (const char *format,
      ...) G_GNUC_PRINTF (1, 2);

static int
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* One line. */
  g_strdelimit (message, "\r\n", ' ');
  g_printerr ("deepinsight: %s\n", message);
  return 1;
}

/**
 * di_batch_wanted:
 *
 * Returns: %TRUE when argv holds --no-window (before any "--")
 */
gboolean
di_batch_wanted (int    argc,
                 char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_strcmp0 (argv[i], "--") == 0)
        return FALSE;
      if (g_strcmp0 (argv[i], "--no-window") == 0)
        return TRUE;
    }
  return FALSE;
}

static char *
settings_string (const char *key)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettings) settings = NULL;

  /* Headless machines may not have the schema installed: no settings then. */
  if (source == NULL)
    return NULL;
  schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema == NULL || !g_settings_schema_has_key (schema, key))
    return NULL;
  settings = g_settings_new_full (schema, NULL, NULL);
  return g_settings_get_string (settings, key);
}

/* --model, else the "default-model" setting, else the installed models
 * folder, else the source tree's: as di_application_dup_default_model(). */
static char *
default_model (void)
{
  const char * const dirs[] = { MODELSDIR, SOURCE_MODELSDIR };
  g_autofree char *setting = settings_string ("default-model");

  if (setting != NULL && *setting)
    return g_steal_pointer (&setting);
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], DEFAULT_MODEL_NAME, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

/* Loads the model, hashes its file and records it in the case. */
static gboolean
prepare_model (Batch   *b,
               GError **error)
{
  g_autofree char *sha = NULL;
  dinet_error err = {0};
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(GPtrArray) classes = NULL;
  int k;

  /* one read: the hash names the weights that were loaded */
  b->net = di_model_load_file (b->model_path, &sha, error, &err);
  if (b->net == NULL)
    {
      if (error == NULL || *error == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, err.message);
      return FALSE;
    }

  k = dinet_net_num_classes (b->net);
  classes = g_ptr_array_new ();
  for (int i = 0; i < k; i++)
    g_ptr_array_add (classes, (gpointer)dinet_net_class_name (b->net, i));
  g_ptr_array_add (classes, NULL);

  metadata = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < dinet_net_meta_count (b->net); i++)
    g_hash_table_insert (metadata, (gpointer)dinet_net_meta_key (b->net, i),
                         (gpointer)dinet_net_meta_value (b->net, i));
  /* The grouping as the engine reads it, so that the case agrees with it. */
  {
    g_autoptr(GString) abnormal = g_string_new ("[");
    gboolean any = FALSE;

    for (int i = 0; i < k; i++)
      {
        int ab = dinet_net_class_is_abnormal (b->net, i);

        any |= ab >= 0;
        if (ab == 1)
          {
            if (abnormal->len > 1)
              g_string_append_c (abnormal, ',');
            di_export_append_json_string (abnormal, dinet_net_class_name (b->net, i));
          }
      }
    g_string_append_c (abnormal, ']');
    if (any)
      g_hash_table_replace (metadata, (gpointer)"abnormal", abnormal->str);

    b->model_name = g_path_get_basename (b->model_path);
    /* A case classified with other models only: this one classifies its
     * images again, and its report is this model's (the window says so too). */
    {
      g_autoptr(GPtrArray) models = di_case_dup_models (b->kase);
      g_autoptr(DiCaseModel) same = di_case_dup_model (b->kase, sha);

      if (models->len > 0 && same == NULL && !b->quiet)
        /* TRANSLATORS: both %s are model files: the case's, then the one given */
        g_printerr (_("deepinsight: this case’s AI calls are from %s, not %s: the exports show only "
                      "the calls of the latter (the images given are classified with it)\n"),
                    ((DiCaseModel *)g_ptr_array_index (models, models->len - 1))->name, b->model_name);
    }
    if (!di_case_add_model (b->kase, sha, b->model_name, (const char * const *)classes->pdata,
                            metadata, error))
      return FALSE;
  }

  b->model_sha256 = g_steal_pointer (&sha);
  b->model_loaded = TRUE;
  return TRUE;
}

/* The image files of the inputs, as paths: a folder's images down to
 * its CLASS/ subfolders, as the window opens them (di_files_collect()). A
 * folder that cannot be read is reported and counted as a failure. */
static GPtrArray *
collect_inputs (Batch *b)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; b->inputs != NULL && b->inputs[i] != NULL; i++)
    g_ptr_array_add (inputs, g_file_new_for_commandline_arg (b->inputs[i]));
  found = di_files_collect (inputs, NULL, &error);
  if (error != NULL)
    {
      fail ("%s", error->message);
      b->n_failed++;
    }
  for (guint i = 0; i < found->len; i++)
    {
      GFile *file = g_ptr_array_index (found, i);
      char *path = g_file_get_path (file);

      if (path != NULL)
        g_ptr_array_add (files, path);
      else
        {
          g_autofree char *name = g_file_get_parse_name (file);

          /* TRANSLATORS: %s is what was given on the command line (a URI) */
          fail (_("%s: not a local file"), name);
          b->n_failed++;
        }
    }
  return files;
}

static float *
preprocess (dinet_net   *net,
            const char  *filename,
            DiSizeFit   *fit,
            GError     **error)
{
  dinet_error err = {0};
  dinet_image *img = dinet_image_load (filename, NULL, &err);
  int size = dinet_net_input_size (net);
  float *x;

  if (img == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, err.message);
      return NULL;
    }
  /* the decoded image's size against the model's training images */
  if (fit != NULL)
    *fit = di_size_fit (dinet_net_image_side (net), img->width, img->height);
  x = g_new (float, 3 * (gsize)size * size);
  if (dinet_net_preprocess (net, img, x, &err) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", filename, err.message);
      g_free (x);
      x = NULL;
    }
  dinet_image_free (img);
  return x;
}

/* Grad-CAM of @target (the prediction's class; -1: the class of the
 * model's prediction stored in the case, as the viewer explains it), into
 * the case. */
static gboolean
explain (DiCase       *kase,
         dinet_net    *net,
         const char   *model_sha256,
         gint64        image_id,
         const float  *x,
         int           target,
         GError      **error)
{
  dinet_error err = {0};
  int size = dinet_net_input_size (net);
  float *map = NULL;
  int mh = 0, mw = 0;
  gint64 id;

  if (target < 0)
    {
      g_autoptr(DiCaseEvent) stored = di_case_dup_prediction (kase, image_id, model_sha256);
      int t = stored != NULL ? di_case_event_get_top (stored) : -1;

      for (int i = 0; t >= 0 && i < dinet_net_num_classes (net) && target < 0; i++)
        if (g_strcmp0 (dinet_net_class_name (net, i), stored->classes[t]) == 0)
          target = i;
    }
  if (dinet_gradcam (net, x, size, size, GRADCAM_STAGE, target, NULL, &target, &map, &mh, &mw, &err) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, err.message);
      return FALSE;
    }
  id = di_case_add_explanation (kase, image_id, model_sha256, "gradcam", GRADCAM_STAGE,
                                target, map, mw, mh, error);
  free (map);
  return id > 0;
}

static gboolean
classify (Batch       *b,
          gint64       image_id,
          const char  *filename,
          gboolean     need_prediction,
          gboolean     need_explanation,
          GError     **error)
{
  g_autofree float *x = NULL;
  g_autofree float *logits = NULL;
  int view_top[DINET_MAX_VIEWS]; /* each view's top class */
  g_autofree float *probs = NULL;
  dinet_error err = {0};
  int size = dinet_net_input_size (b->net);
  int k = dinet_net_num_classes (b->net);
  int top = -1;
  DiSizeFit fit = DI_SIZE_FITS;

  x = preprocess (b->net, filename, &fit, error);
  if (x == NULL)
    return FALSE;

  if (need_prediction)
    {
      logits = g_new (float, k);
      probs = g_new (float, k);
      /* As the viewer and `dinet classify` do: the model's own views (the
       * mean of 8 for a TTA model), its temperature fitted to those. */
      if (dinet_net_predict (b->net, x, 1, size, size, 0, logits, view_top, &err) != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", filename, err.message);
          return FALSE;
        }
      dinet_softmax (logits, 1, k, dinet_net_temperature (b->net), probs);
      if (di_case_add_prediction (b->kase, image_id, b->model_sha256, probs, logits, k,
                                  dinet_net_temperature (b->net), dinet_net_tta_views (b->net), view_top,
                                  error) == 0)
        return FALSE;
      top = 0;
      for (int i = 1; i < k; i++)
        if (probs[i] > probs[top])
          top = i;
      if (!b->quiet)
        {
          g_autofree char *base = g_path_get_basename (filename);

          const int n_views = dinet_net_tta_views (b->net);
          const int agree = dinet_views_agreeing (view_top, n_views, top);
          /* TRANSLATORS: after the printed call when the views are split: " · views disagree: 5 of 8 put it first" */
          g_autofree char *split = agree < n_views
                                     ? g_strdup_printf (_(" · views disagree: %d of %d put it first"), agree, n_views)
                                     : g_strdup ("");

          g_print ("%s: %s (%.1f %%)%s%s\n", base, dinet_net_class_name (b->net, top), 100.0 * probs[top], split,
                   fit == DI_SIZE_LARGER ? _(" · much larger than the model’s training images: the call may not apply")
                   : fit == DI_SIZE_SMALLER ? _(" · much smaller than the model’s training images: the call may not apply")
                   : "");
        }
      b->n_classified++;
    }

  if (need_explanation && !explain (b->kase, b->net, b->model_sha256, image_id, x, top, error))
    return FALSE;

  return TRUE;
}

static gboolean
process_inputs (Batch   *b,
                GError **error)
{
  g_autoptr(GPtrArray) files = collect_inputs (b);
  gboolean want_maps = b->report != NULL;

  if (files->len > 0 && !b->model_loaded)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("No model to classify with: pass --model MODEL"));
      return FALSE;
    }

  for (guint i = 0; i < files->len; i++)
    {
      const char *file = g_ptr_array_index (files, i);
      g_autoptr(GError) local = NULL;
      gboolean known = di_case_find_image (b->kase, file) > 0;
      gint64 id = di_case_add_image (b->kase, file, &local);
      gboolean need_prediction, need_map;

      if (id == 0)
        {
          fail ("%s", local->message);
          b->n_failed++;
          continue;
        }
      if (!known)
        b->n_added++;

      if (di_case_get_image_status (b->kase, id) != DI_CASE_IMAGE_OK)
        {
          fail (_("%s: changed since it was added to the case; not classified again"), file);
          b->n_failed++;
          continue;
        }

      need_prediction = !di_case_has_prediction (b->kase, id, b->model_sha256);
      if (!need_prediction)
        b->n_skipped++;
      need_map = FALSE;
      if (want_maps)
        {
          g_autoptr(DiCaseExplanation) ex = di_case_dup_explanation (b->kase, id, b->model_sha256, "gradcam");
          need_map = ex == NULL;
        }
      if (!need_prediction && !need_map)
        continue;

      if (!classify (b, id, file, need_prediction, need_map, &local))
        {
          fail ("%s", local->message);
          b->n_failed++;
        }
    }
  return TRUE;
}

/**
 * di_batch_fill_maps:
 * @kase: the case, opened in this thread
 * @net: the model that made @model_sha256's predictions
 * @cancellable: (nullable): checked between images
 * @failed: (out) (optional): the images whose map could not be made
 *
 * Grad-CAM maps (layer4, of the predicted class) for the images @net
 * classified earlier that have none yet, so that the report shows an
 * overlay for each: the viewer makes maps only for the images looked at.
 * Runs anywhere (a worker thread); the headless mode and the window's
 * report export both use it.
 *
 * Returns: the number of maps added, or -1 when cancelled
 */
int
di_batch_fill_maps (DiCase       *kase,
                    dinet_net    *net,
                    const char   *model_sha256,
                    GCancellable *cancellable,
                    GPtrArray    *failed)
{
  g_autoptr(GPtrArray) images = di_case_dup_images (kase);
  int added = 0;

  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      g_autoptr(DiCaseExplanation) ex = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree float *x = NULL;

      if (g_cancellable_is_cancelled (cancellable))
        return -1;
      if (image->status != DI_CASE_IMAGE_OK || image->filename == NULL ||
          !di_case_has_prediction (kase, image->id, model_sha256))
        continue;
      ex = di_case_dup_explanation (kase, image->id, model_sha256, "gradcam");
      if (ex != NULL)
        continue;
      x = preprocess (net, image->filename, NULL, &error);
      if (x != NULL && explain (kase, net, model_sha256, image->id, x, -1, &error))
        added++;
      else if (failed != NULL)
        g_ptr_array_add (failed, g_strdup (error->message));
    }
  return added;
}

static void
fill_missing_maps (Batch *b)
{
  g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func (g_free);

  di_batch_fill_maps (b->kase, b->net, b->model_sha256, NULL, failed);
  for (guint i = 0; i < failed->len; i++)
    fail ("%s", (char *)g_ptr_array_index (failed, i));
}

/* Every export is tried; each one that fails is named on stderr.
 * Returns: the number that failed */
static guint
export_all (Batch *b)
{
  guint failed = 0;
  g_autoptr(GError) error = NULL;

  /* images the exports cannot show: said once, before them */
  if (!b->quiet && (b->csv != NULL || b->report != NULL || b->pack != NULL))
    {
      g_autoptr(GPtrArray) images = di_case_dup_images (b->kase);
      guint missing = 0, changed = 0;

      for (guint i = 0; i < images->len; i++)
        {
          DiCaseImage *image = g_ptr_array_index (images, i);

          missing += image->status == DI_CASE_IMAGE_MISSING;
          changed += image->status == DI_CASE_IMAGE_CHANGED;
        }
      if (missing + changed > 0)
        {
          g_autofree char *folder = di_case_dup_folder (b->kase);

          /* TRANSLATORS: "deepinsight: 12 of 12 images in the case are missing and 0 changed …" */
          g_printerr (_("deepinsight: %u of %u images in the case are missing and %u changed since they were "
                        "added (their paths are relative to %s); the exports mark them\n"),
                      missing, images->len, changed, folder);
        }
    }

  if (b->csv != NULL && !di_export_csv (b->kase, b->csv, &error))
    {
      failed++;
      fail (_("CSV not written: %s"), error->message);
      g_clear_error (&error);
    }
  else if (b->csv != NULL && !b->quiet)
    g_print (_("CSV: %s\n"), b->csv);
  if (b->geojson != NULL && !di_export_geojson (b->kase, 0, b->geojson, &error))
    {
      failed++;
      fail (_("GeoJSON not written: %s"), error->message);
      g_clear_error (&error);
    }
  else if (b->geojson != NULL && !b->quiet)
    g_print (_("GeoJSON: %s\n"), b->geojson);
  if (b->pack != NULL)
    {
      guint copied = 0, skipped = 0;

      if (!di_export_pack (b->kase, b->pack, &copied, &skipped, &error))
        {
          failed++;
          fail (_("Retraining pack not written: %s"), error->message);
          g_clear_error (&error);
        }
      else if (!b->quiet)
        {
          g_print (_("Retraining pack: %u image(s) in %s, %u left out\n"), copied, b->pack, skipped);
          if (copied == 0 && skipped == 0)
            g_print ("%s\n", _("A pack holds the images a reviewer labelled; this case has none yet."));
        }
    }
  if (b->report != NULL)
    {
      g_autoptr(DiReport) report = di_report_new (b->kase);
      g_autofree char *reviewer = b->reviewer ? g_strdup (b->reviewer) : settings_string ("reviewer-name");

      if (b->model_loaded)
        fill_missing_maps (b);
      di_report_set_reviewer (report, reviewer && *reviewer ? reviewer : NULL);
      if (b->model_sha256 != NULL)
        di_report_set_model_sha256 (report, b->model_sha256);
      if (g_strcmp0 (b->paper, "letter") == 0)
        di_report_set_paper (report, DI_REPORT_PAPER_LETTER);
      if (!di_report_write (report, b->report, NULL, &error))
        {
          failed++;
          fail (_("Report not written: %s"), error->message);
          g_clear_error (&error);
        }
      else if (!b->quiet)
        g_print (_("Report: %s (%d pages)\n"), b->report, di_report_get_n_pages (report));
    }
  return failed;
}

/**
 * di_batch_run:
 *
 * The whole headless mode; call it from main() instead of running the
 * GtkApplication when di_batch_wanted().
 *
 * Returns: the exit status
 */
int
di_batch_run (int    argc,
              char **argv)
{
  Batch b = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  int status = 0;
  guint n_exports_failed = 0;
  const GOptionEntry entries[] = {
    { "no-window", 0, 0, G_OPTION_ARG_NONE, &b.no_window, N_("Run without a window (this mode)"), NULL },
    { "case", 'c', 0, G_OPTION_ARG_FILENAME, &b.case_path, N_("The case file, created if missing"), N_("CASE") },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &b.model_path, N_("The model file"), N_("MODEL") },
    { "reviewer", 0, 0, G_OPTION_ARG_STRING, &b.reviewer, N_("The reviewer named in the report"), N_("NAME") },
    { "export-report", 0, 0, G_OPTION_ARG_FILENAME, &b.report, N_("Write the PDF report"), N_("PDF") },
    { "export-csv", 0, 0, G_OPTION_ARG_FILENAME, &b.csv, N_("Write one CSV row per image"), N_("CSV") },
    { "export-geojson", 0, 0, G_OPTION_ARG_FILENAME, &b.geojson, N_("Write the regions as QuPath GeoJSON"), N_("FILE") },
    { "export-pack", 0, 0, G_OPTION_ARG_FILENAME, &b.pack, N_("Copy reviewed images into a retraining pack"), N_("DIR") },
    { "paper", 0, 0, G_OPTION_ARG_STRING, &b.paper, N_("Report paper size: a4 or letter"), N_("SIZE") },
    { "threads", 0, 0, G_OPTION_ARG_INT, &b.threads, N_("Threads for the classifier (0: all cores)"), N_("N") },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &b.quiet, N_("Print errors only"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &b.inputs, NULL, N_("[IMAGE|FOLDER…]") },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Classify images into a review case and export it, without a window."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    {
      status = fail ("%s", error->message);
      goto out;
    }

  if (b.case_path == NULL)
    {
      status = fail ("%s", _("--no-window needs --case CASE"));
      goto out;
    }
  if (b.paper != NULL && g_strcmp0 (b.paper, "a4") != 0 && g_strcmp0 (b.paper, "letter") != 0)
    {
      status = fail ("%s", _("--paper must be a4 or letter"));
      goto out;
    }
  if (b.threads < 0)
    {
      status = fail ("%s", _("--threads must be 0 or more"));
      goto out;
    }
  dinet_set_threads (b.threads);

  /* Check the model before the case is created: a typo makes no case. */
  if (b.model_path == NULL)
    b.model_path = default_model ();
  else if (!g_file_test (b.model_path, G_FILE_TEST_IS_REGULAR))
    {
      status = fail (_("%s: no such model file"), b.model_path);
      goto out;
    }

  b.kase = di_case_open (b.case_path, &error);
  /* exports only, from a case that may not be written (an archived case):
   * read a copy in memory */
  if (b.kase == NULL && g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_READ_ONLY))
    {
      gboolean exports = b.report != NULL || b.csv != NULL || b.geojson != NULL || b.pack != NULL;

      if (b.inputs != NULL && b.inputs[0] != NULL)
        {
          status = fail (_("%s: the case is read-only, so no images can be added to it; to export "
                           "what it holds, leave out the images"), b.case_path);
          goto out;
        }
      if (exports)
        {
          g_clear_error (&error);
          b.kase = di_case_open_snapshot (b.case_path, &error);
          if (b.kase != NULL && !b.quiet)
            g_printerr (_("deepinsight: %s is read-only: exporting from a copy read into memory; "
                          "nothing is written to the case\n"), b.case_path);
        }
    }
  if (b.kase == NULL)
    {
      status = fail ("%s", error->message);
      goto out;
    }

  if (b.model_path != NULL && !prepare_model (&b, &error))
    {
      status = fail ("%s", error->message);
      goto out;
    }

  if (!process_inputs (&b, &error))
    {
      status = fail ("%s", error->message);
      goto out;
    }
  n_exports_failed = export_all (&b);

  /* an export-only run (no images given) has nothing to count */
  if (!b.quiet && b.inputs != NULL && b.inputs[0] != NULL)
    g_print (_("%u image(s) added, %u classified, %u already classified, %u failed\n"),
             b.n_added, b.n_classified, b.n_skipped, b.n_failed);
  if (b.n_failed > 0)
    status = fail (g_dngettext (GETTEXT_PACKAGE, "%u image failed", "%u images failed", b.n_failed),
                   b.n_failed);
  if (n_exports_failed > 0)
    status = fail (g_dngettext (GETTEXT_PACKAGE, "%u export failed", "%u exports failed", n_exports_failed),
                   n_exports_failed);

out:
  batch_clear (&b);
  return status;
}
