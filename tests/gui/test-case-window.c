/* test-case-window.c — the viewer's review case, in-process, on an X
 * display (Xvfb in CI).
 *
 * A generated folder is opened: its case file appears, the predictions go
 * into it; a key press relabels and the case has the label at once; the
 * window is destroyed and a new one opens the same folder: labels, notes
 * and predictions come back from the case and nothing is classified
 * again. Undo and redo run through the window's actions; the report is
 * exported through the window's action and read back with pdftotext; a
 * changed and a deleted image are flagged; --case works in windowed mode.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "di-application.h"
#include "di-case.h"
#include "di-engine.h"
#include "di-fixtures.h"
#include "di-gallery.h"
#include "di-gui-test.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-side-panel.h"
#include "di-window.h"

#define INPUT_SIZE 64
#define N_CELLS 4

static struct
{
  char *dir;
  char *model;
  char *cells;
  char *case_path;
  char *other;          /* a second folder, for --case */
  char *other_case;
  DiApplication *app;
  DiWindow *window;
  char *model_sha256;
} fx;

/* ---- Helpers ------------------------------------------------------------- */

static gboolean
model_loaded (gpointer data)
{
  DiModelInfo *model = di_engine_get_model_info (di_window_get_engine (fx.window));

  return model != NULL && g_strcmp0 (di_model_info_get_path (model), fx.model) == 0;
}

static gboolean
window_idle (gpointer data)
{
  return !di_window_get_opening (fx.window) &&
         !di_window_get_batch_running (fx.window) &&
         !di_window_get_analysis_busy (fx.window) &&
         !di_engine_get_busy (di_window_get_engine (fx.window)) &&
         !di_window_get_case_busy (fx.window);
}

static void
wait_idle (void)
{
  g_assert_true (wait_for (window_idle, NULL, 180000));
}

static gboolean
items_loaded (gpointer data)
{
  return !di_window_get_opening (fx.window) &&
         g_list_model_get_n_items (di_window_get_items (fx.window)) == GPOINTER_TO_UINT (data) &&
         di_window_get_current_item (fx.window) != NULL;
}

static gboolean
has_message (gpointer data)
{
  return di_window_get_message (fx.window) != NULL &&
         strstr (di_window_get_message (fx.window), data) != NULL;
}

static void
open_path (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);

  di_window_open (fx.window, &file, 1);
}

static void
new_window (void)
{
  fx.window = di_window_new (fx.app);
  gtk_window_set_default_size (GTK_WINDOW (fx.window), 1200, 800);
  gtk_window_present (GTK_WINDOW (fx.window));
}

/* Runs the window's single-key shortcut for @keyval, as a key press would. */
static gboolean
press_key (guint keyval)
{
  GListModel *controllers = gtk_widget_observe_controllers (GTK_WIDGET (fx.window));
  guint n = g_list_model_get_n_items (controllers);
  gboolean handled = FALSE;

  for (guint i = 0; i < n && !handled; i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);
      GListModel *shortcuts;

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller) ||
          g_strcmp0 (gtk_event_controller_get_name (controller), "di-single-keys") != 0)
        continue;

      shortcuts = G_LIST_MODEL (controller);
      for (guint j = 0; j < g_list_model_get_n_items (shortcuts) && !handled; j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (shortcuts, j);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (shortcut);

          if (GTK_IS_KEYVAL_TRIGGER (trigger) &&
              gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == keyval &&
              gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)) == 0)
            handled = gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0,
                                                    GTK_WIDGET (fx.window),
                                                    gtk_shortcut_get_arguments (shortcut));
        }
    }

  g_object_unref (controllers);
  return handled;
}

static DiItem *
item_named (const char *name)
{
  GListModel *items = di_window_get_items (fx.window);

  for (guint i = 0; i < g_list_model_get_n_items (items); i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (items, i);

      if (g_str_equal (di_item_get_display_name (item), name))
        return item;   /* the list keeps it alive */
    }
  return NULL;
}

/* The case as another program sees it: a connection of its own. */
static DiCase *
open_case_again (void)
{
  g_autoptr(GError) error = NULL;
  DiCase *kase = di_case_open (fx.case_path, &error);

  g_assert_no_error (error);
  return kase;
}

static guint
count_events (DiCase          *kase,
              gint64           image_id,
              DiCaseEventKind  kind)
{
  g_autoptr(GPtrArray) history = di_case_dup_history (kase, image_id);
  guint n = 0;

  for (guint i = 0; i < history->len; i++)
    n += ((DiCaseEvent *)g_ptr_array_index (history, i))->kind == kind;
  return n;
}

static gboolean
action_enabled (const char *name)
{
  return g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), name);
}

/* ---- Tests ------------------------------------------------------------------ */

static void
test_open_folder_makes_case (void)
{
  GListModel *items;
  g_autoptr(DiCase) kase = NULL;
  DiModelInfo *model;

  g_assert_true (wait_for (model_loaded, NULL, 120000));
  model = di_engine_get_model_info (di_window_get_engine (fx.window));
  g_assert_nonnull (di_model_info_get_sha256 (model));
  g_assert_cmpuint (strlen (di_model_info_get_sha256 (model)), ==, 64);
  fx.model_sha256 = g_strdup (di_model_info_get_sha256 (model));

  g_assert_false (g_file_test (fx.case_path, G_FILE_TEST_EXISTS));
  g_assert_false (action_enabled ("undo"));
  g_assert_false (action_enabled ("export-report"));

  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));
  wait_idle ();

  /* FOLDER/deepinsight-case.dicase, the window's case. */
  g_assert_true (g_file_test (fx.case_path, G_FILE_TEST_IS_REGULAR));
  g_assert_nonnull (di_window_get_case (fx.window));
  g_assert_cmpstr (di_case_get_filename (di_window_get_case (fx.window)), ==, fx.case_path);
  g_assert_true (action_enabled ("export-report"));
  g_assert_false (action_enabled ("undo"));

  /* Every image is in the case, with the model's prediction. */
  kase = open_case_again ();
  items = di_window_get_items (fx.window);
  for (guint i = 0; i < N_CELLS; i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (items, i);
      gint64 id = di_item_get_case_id (item);
      g_autoptr(DiCaseEvent) stored = NULL;
      DiPrediction *prediction = di_item_get_prediction (item);

      g_assert_cmpint (id, >, 0);
      g_assert_false (di_item_get_flagged (item));
      g_assert_nonnull (prediction);
      g_assert_true (di_case_has_prediction (kase, id, fx.model_sha256));
      stored = di_case_dup_prediction (kase, id, fx.model_sha256);
      g_assert_cmpstr (stored->model_name, ==, "cbam-random.safetensors");
      g_assert_cmpint (stored->n_classes, ==, 7);
      for (int k = 0; k < 7; k++)
        g_assert_cmpfloat_with_epsilon (stored->probabilities[k],
                                        di_prediction_get_probability (prediction, k), 1e-5);
    }

  /* The map of the image on screen went in too, for the report. */
  {
    DiItem *current = di_window_get_current_item (fx.window);
    g_autoptr(DiCaseExplanation) map =
      di_case_dup_explanation (kase, di_item_get_case_id (current), fx.model_sha256, "gradcam");

    g_assert_nonnull (map);
    g_assert_cmpint (map->stage, ==, 4);
  }
}

static void
test_relabel_goes_to_case (void)
{
  DiItem *item = di_window_get_current_item (fx.window);
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  gint64 id = di_item_get_case_id (item);
  g_autoptr(DiCase) kase = open_case_again ();
  g_autofree char *history = NULL;

  g_assert_cmpstr (di_item_get_display_name (item), ==, "cell-000.png");
  g_assert_false (di_item_get_reviewed (item));

  /* Key 2: in the case at once, no save. */
  g_settings_set_string (di_application_get_settings (fx.app), "reviewer-name", "AB");
  g_assert_true (press_key (GDK_KEY_2));
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 1);
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

    g_assert_cmpstr (image->label, ==, di_fixture_classes[1]);
    g_assert_cmpstr (image->reviewer, ==, "AB");
  }
  g_assert_true (action_enabled ("undo"));
  g_assert_false (action_enabled ("redo"));

  g_assert_true (press_key (GDK_KEY_4));
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 3);

  /* A note is saved at once when the reader is done with it (Enter,
   * Escape, focus out), not only when the typing pauses. */
  di_item_set_note (item, "enlarged nucleus");
  g_signal_emit_by_name (panel, "note-committed", TRUE);
  g_assert_false (di_window_get_case_busy (fx.window));
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

    g_assert_cmpstr (image->note, ==, "enlarged nucleus");
  }
  wait_idle ();
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

    g_assert_cmpstr (image->label, ==, di_fixture_classes[3]);
    g_assert_cmpstr (image->note, ==, "enlarged nucleus");
  }
  g_assert_cmpuint (count_events (kase, id, DI_CASE_EVENT_REVIEW), ==, 3);

  /* The panel's provenance: the AI's call and the reviews. */
  history = di_side_panel_dup_history_text (panel);
  g_assert_nonnull (history);
  g_test_message ("history:\n%s", history);
  g_assert_nonnull (strstr (history, "AI (cbam-random.safetensors)"));
  g_assert_nonnull (strstr (history, "AB: Normal columnar (before: Mild dysplasia)"));
  g_assert_nonnull (strstr (history, "AB: Mild dysplasia (before: no class)"));
  g_assert_nonnull (strstr (history, "Note: enlarged nucleus"));
  g_assert_nonnull (strstr (history, "Added to the case"));
}

static void
test_reopen_restores (void)
{
  DiEngine *engine = di_window_get_engine (fx.window);
  guint classified;
  DiItem *item;

  /* Destroy the window; a new one opens the same folder. */
  gtk_window_destroy (GTK_WINDOW (fx.window));
  spin (50);
  new_window ();

  classified = di_engine_get_n_classified (engine);
  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));

  /* Straight from the case, before any classification. */
  item = item_named ("cell-000.png");
  g_assert_nonnull (item);
  g_assert_true (di_item_get_reviewed (item));
  g_assert_cmpstr (di_item_get_reviewer_label (item), ==, di_fixture_classes[3]);
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 3);
  g_assert_cmpstr (di_item_get_reviewer_name (item), ==, "AB");
  g_assert_cmpstr (di_item_get_note (item), ==, "enlarged nucleus");
  for (guint i = 0; i < N_CELLS; i++)
    {
      g_autoptr(DiItem) it = g_list_model_get_item (di_window_get_items (fx.window), i);

      g_assert_nonnull (di_item_get_prediction (it));
      g_assert_true (di_model_info_same_model (di_prediction_get_model (di_item_get_prediction (it)),
                                               di_engine_get_model_info (engine)));
    }

  wait_idle ();
  /* Nothing classified again: the model's SHA-256 is the same. */
  g_assert_cmpuint (di_engine_get_n_classified (engine), ==, classified);
  {
    g_autoptr(DiCase) kase = open_case_again ();

    g_assert_cmpuint (count_events (kase, di_item_get_case_id (item), DI_CASE_EVENT_PREDICTION), ==, 1);
  }
  g_assert_true (action_enabled ("undo"));
}

static void
test_undo_redo (void)
{
  DiItem *relabelled = item_named ("cell-000.png");
  DiItem *other = item_named ("cell-003.png");
  g_autoptr(DiCase) kase = open_case_again ();
  gint64 id = di_item_get_case_id (relabelled);
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (fx.app), "win.undo");
  g_auto(GStrv) redo_accels = gtk_application_get_accels_for_action (GTK_APPLICATION (fx.app), "win.redo");

  g_assert_true (g_strv_contains ((const char * const *)accels, "<Control>z"));
  g_assert_true (g_strv_contains ((const char * const *)redo_accels, "<Shift><Control>z") ||
                 g_strv_contains ((const char * const *)redo_accels, "<Control><Shift>z"));

  /* Elsewhere in the gallery: undo shows the image that changed. */
  di_window_set_current_item (fx.window, other);
  wait_idle ();

  /* The note first (the latest change), then the label. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.undo", NULL);
  g_assert_true (di_window_get_current_item (fx.window) == relabelled);
  g_assert_null (di_item_get_note (relabelled));
  g_assert_cmpstr (di_item_get_reviewer_label (relabelled), ==, di_fixture_classes[3]);
  g_assert_true (action_enabled ("redo"));

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.undo", NULL);
  g_assert_cmpstr (di_item_get_reviewer_label (relabelled), ==, di_fixture_classes[1]);
  g_assert_cmpint (di_item_get_reviewer_class (relabelled), ==, 1);
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

    g_assert_cmpstr (image->label, ==, di_fixture_classes[1]);
    g_assert_null (image->note);
  }

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.redo", NULL);
  g_assert_cmpstr (di_item_get_reviewer_label (relabelled), ==, di_fixture_classes[3]);
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

    g_assert_cmpstr (image->label, ==, di_fixture_classes[3]);
  }
  wait_idle ();
}

static void
test_export_report (void)
{
  g_autofree char *pdf = g_build_filename (fx.dir, "report.pdf", NULL);
  g_autofree char *csv = g_build_filename (fx.dir, "table.csv", NULL);
  g_autofree char *program = g_find_program_in_path ("pdftotext");
  g_autofree char *text = NULL;

  di_window_set_paper (fx.window, DI_REPORT_PAPER_LETTER);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.export-to", "(ss)", "report", pdf);
  g_assert_true (di_window_get_case_busy (fx.window));
  g_assert_true (wait_for (has_message, "Report saved", 120000));
  wait_idle ();
  g_assert_true (g_file_test (pdf, G_FILE_TEST_IS_REGULAR));

  /* Every classified image has its Grad-CAM in the case now, also those
   * never shown (the viewer makes maps only for the image on screen). */
  {
    DiCase *kase = di_window_get_case (fx.window);
    g_autoptr(GPtrArray) images = di_case_dup_images (kase);
    guint n_classified = 0;

    for (guint i = 0; i < images->len; i++)
      {
        DiCaseImage *image = g_ptr_array_index (images, i);
        g_autoptr(DiCaseEvent) pred = di_case_dup_prediction (kase, image->id, NULL);
        g_autoptr(DiCaseExplanation) ex = NULL;

        if (pred == NULL || image->status != DI_CASE_IMAGE_OK)
          continue;
        n_classified++;
        ex = di_case_dup_explanation (kase, image->id, pred->model_sha256, "gradcam");
        g_assert_nonnull (ex);
      }
    g_assert_cmpuint (n_classified, >, 1);
  }

  if (program != NULL)
    {
      const char *argv[] = { program, "-layout", pdf, "-", NULL };
      g_autoptr(GError) error = NULL;
      int status = 0;

      g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                    &text, NULL, &status, &error);
      g_assert_no_error (error);
      g_assert_cmpint (status, ==, 0);
      for (guint i = 0; i < N_CELLS; i++)
        {
          g_autofree char *name = g_strdup_printf ("cell-%03u.png", i);

          g_assert_nonnull (strstr (text, name));
        }
      g_assert_nonnull (strstr (text, "cbam-random.safetensors"));
      g_assert_nonnull (strstr (text, "AB"));
    }
  else
    g_test_message ("pdftotext not found: the report's text is not checked");

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.export-to", "(ss)", "csv", csv);
  g_assert_true (wait_for (has_message, "Table saved", 60000));
  wait_idle ();
  {
    g_autofree char *contents = NULL;

    g_assert_true (g_file_get_contents (csv, &contents, NULL, NULL));
    g_assert_nonnull (strstr (contents, "cell-000.png"));
    g_assert_nonnull (strstr (contents, di_fixture_classes[3]));
  }

  /* A failure ends as a message. */
  {
    g_autofree char *bad = g_build_filename (fx.dir, "no-such-folder", "report.pdf", NULL);

    gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.export-to", "(ss)", "report", bad);
    g_assert_true (wait_for (has_message, "The export failed", 60000));
    wait_idle ();
  }
}

static void
test_changed_image_flagged (void)
{
  g_autofree char *changed = g_build_filename (fx.cells, "cell-001.png", NULL);
  g_autofree char *deleted = g_build_filename (fx.cells, "cell-002.png", NULL);
  g_autofree char *made = NULL;
  g_autoptr(GError) error = NULL;
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiItem *item;
  gint64 id;

  made = di_fixture_make_image (changed, 90, 70, 4242, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (deleted), ==, 0);

  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));
  wait_idle ();

  /* Changed: flagged in the gallery and the panel; a fresh prediction on
   * screen, but none in the case. */
  item = item_named ("cell-001.png");
  g_assert_nonnull (item);
  g_assert_true (di_item_get_flagged (item));
  g_assert_cmpint (di_item_get_case_status (item), ==, DI_CASE_IMAGE_CHANGED);
  id = di_item_get_case_id (item);
  di_window_set_current_item (fx.window, item);
  wait_idle ();
  g_assert_nonnull (di_side_panel_get_flag_text (panel));
  g_assert_nonnull (strstr (di_side_panel_get_flag_text (panel), "changed"));
  g_assert_nonnull (di_item_get_prediction (item));
  {
    g_autoptr(DiCase) kase = open_case_again ();

    g_assert_cmpuint (count_events (kase, id, DI_CASE_EVENT_PREDICTION), ==, 1);
  }

  /* Deleted: still in the gallery, flagged missing; opening it is an
   * error message, not a crash. */
  item = item_named ("cell-002.png");
  g_assert_nonnull (item);
  g_assert_true (di_item_get_flagged (item));
  g_assert_cmpint (di_item_get_case_status (item), ==, DI_CASE_IMAGE_MISSING);
  di_window_set_current_item (fx.window, item);
  g_assert_true (wait_for (has_message, "Could not open", 20000));
  wait_idle ();
  g_assert_nonnull (strstr (di_side_panel_get_flag_text (panel), "missing"));

  /* The others are not flagged. */
  g_assert_false (di_item_get_flagged (item_named ("cell-000.png")));
  di_window_set_current_item (fx.window, item_named ("cell-000.png"));
  g_assert_null (di_side_panel_get_flag_text (panel));
  wait_idle ();
}

static gboolean
case_is (gpointer data)
{
  DiCase *kase = di_window_get_case (fx.window);

  return !di_window_get_opening (fx.window) && kase != NULL &&
         g_strcmp0 (di_case_get_filename (kase), data) == 0;
}

/* A case that cannot be created: reviews stay in memory, and say so. */
static void
test_no_case_fallback (void)
{
  g_autofree char *folder = g_build_filename (fx.dir, "nocase", NULL);
  g_autofree char *blocker = g_build_filename (folder, DI_CASE_FOLDER_NAME, NULL);
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  DiItem *item;

  g_mkdir (folder, 0755);
  images = di_fixture_make_images (folder, 2, 64, 64, 700, &error);
  g_assert_no_error (error);
  /* A folder where the case file would be. */
  g_mkdir (blocker, 0755);

  open_path (folder);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (2), 60000));
  g_assert_true (has_message ("Reviews are not saved"));
  g_assert_null (di_window_get_case (fx.window));
  g_assert_false (action_enabled ("export-report"));
  g_assert_false (action_enabled ("undo"));
  wait_idle ();

  item = di_window_get_current_item (fx.window);
  g_assert_true (press_key (GDK_KEY_3));
  g_assert_cmpstr (di_item_get_reviewer_label (item), ==, di_fixture_classes[2]);
  g_assert_null (di_side_panel_dup_history_text (di_window_get_side_panel (fx.window)));
  wait_idle ();
}

/* New Case…: an empty case; the images opened next go into it, not into
 * their folder's case. A file that is no case is refused. */
/* A training set's layout: the images are collected class folder by
 * class folder, the gallery shows them by name across the folders; the
 * image on screen is the gallery's first, selected. */
static void
test_class_folders_start_at_gallery_top (void)
{
  g_autofree char *set = g_build_filename (fx.dir, "set", NULL);
  g_autofree char *a_dir = g_build_filename (set, "a_class", NULL);
  g_autofree char *b_dir = g_build_filename (set, "b_class", NULL);
  g_autofree char *late = g_build_filename (a_dir, "z-last.png", NULL);
  g_autofree char *early = g_build_filename (b_dir, "x-first.png", NULL);
  g_autofree char *made1 = NULL;
  g_autofree char *made2 = NULL;
  g_autoptr(GError) error = NULL;
  DiItem *current;

  g_assert_cmpint (g_mkdir_with_parents (a_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (b_dir, 0755), ==, 0);
  made1 = di_fixture_make_image (late, 96, 80, 31, &error);
  g_assert_no_error (error);
  made2 = di_fixture_make_image (early, 96, 80, 32, &error);
  g_assert_no_error (error);

  /* (the chosen case of /case-window/chosen-case is open: its two
   * images, "cell-…", are shown too, and the folder's first is shown
   * even where theirs sort before it) */
  open_path (set);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (4), 60000));
  current = di_window_get_current_item (fx.window);
  g_assert_cmpstr (di_item_get_display_name (current), ==, "x-first.png");
  g_assert_true (di_gallery_get_selected_item (di_window_get_gallery (fx.window)) == current);
  wait_idle ();
}

static void
test_chosen_case (void)
{
  g_autofree char *chosen = g_build_filename (fx.dir, "new" DI_CASE_SUFFIX, NULL);
  g_autofree char *bogus = g_build_filename (fx.dir, "bogus" DI_CASE_SUFFIX, NULL);
  g_autofree char *folder_case = g_build_filename (fx.other, DI_CASE_FOLDER_NAME, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (chosen);
  g_autoptr(GFile) bad = g_file_new_for_path (bogus);

  di_window_open_case (fx.window, file, NULL, 0);
  g_assert_true (wait_for (case_is, chosen, 60000));
  g_assert_cmpuint (g_list_model_get_n_items (di_window_get_items (fx.window)), ==, 0);
  g_assert_true (g_file_test (chosen, G_FILE_TEST_IS_REGULAR));

  open_path (fx.other);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (2), 60000));
  g_assert_true (case_is (chosen));
  g_assert_false (g_file_test (folder_case, G_FILE_TEST_EXISTS));
  wait_idle ();

  g_assert_true (g_file_set_contents (bogus, "not a database, not a case", -1, NULL));
  di_window_open_case (fx.window, bad, NULL, 0);
  g_assert_true (wait_for (has_message, "Could not open the case", 60000));
  /* Nothing changed: the chosen case stays the window's. */
  g_assert_true (case_is (chosen));
  g_assert_cmpuint (g_list_model_get_n_items (di_window_get_items (fx.window)), ==, 2);
  wait_idle ();
  open_path (fx.other);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (2), 60000));
  g_assert_true (case_is (chosen));
  g_assert_false (g_file_test (folder_case, G_FILE_TEST_EXISTS));
  wait_idle ();
}

/* deepinsight --case CASE FOLDER, windowed. */
typedef struct
{
  DiApplication *app;
  gboolean seen;
  char *case_filename;
  guint n_items;
  gint64 deadline;
} CommandLine;

static gboolean
command_line_check_cb (gpointer data)
{
  CommandLine *cl = data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (cl->app));

  /* Its model loaded too: nothing of it runs once the test is over. */
  if (DI_IS_WINDOW (window) && di_window_get_case (DI_WINDOW (window)) != NULL &&
      !di_window_get_opening (DI_WINDOW (window)) &&
      !di_application_get_model_loading (cl->app) &&
      !di_engine_get_busy (di_application_get_engine (cl->app)) &&
      g_list_model_get_n_items (di_window_get_items (DI_WINDOW (window))) > 0)
    {
      cl->seen = TRUE;
      cl->case_filename = g_strdup (di_case_get_filename (di_window_get_case (DI_WINDOW (window))));
      cl->n_items = g_list_model_get_n_items (di_window_get_items (DI_WINDOW (window)));
    }
  else if (g_get_monotonic_time () < cl->deadline)
    return G_SOURCE_CONTINUE;

  if (window != NULL)
    gtk_window_destroy (window);
  g_application_quit (G_APPLICATION (cl->app));
  return G_SOURCE_REMOVE;
}

static void
test_command_line_case (void)
{
  CommandLine cl = { 0 };
  char *argv[] = { (char *)"deepinsight", (char *)"--case", fx.other_case, fx.other, NULL };
  g_autofree char *folder_case = g_build_filename (fx.other, DI_CASE_FOLDER_NAME, NULL);
  int status;

  cl.app = di_application_new (G_APPLICATION_NON_UNIQUE);
  cl.deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  g_timeout_add (20, command_line_check_cb, &cl);
  status = g_application_run (G_APPLICATION (cl.app), G_N_ELEMENTS (argv) - 1, argv);
  g_clear_object (&cl.app);
  spin (50);

  g_assert_cmpint (status, ==, 0);
  g_assert_true (cl.seen);
  g_assert_cmpstr (cl.case_filename, ==, fx.other_case);
  g_assert_cmpuint (cl.n_items, ==, 2);
  g_assert_true (g_file_test (fx.other_case, G_FILE_TEST_IS_REGULAR));
  /* The chosen case, not the folder's own. */
  g_assert_false (g_file_test (folder_case, G_FILE_TEST_EXISTS));
  g_free (cl.case_filename);
}

/* ---- Setup ------------------------------------------------------------------ */

/* A note still being typed when an open finishes is saved, and the items
 * rebuilt from the open carry it; a label keeps a note that another
 * window wrote meanwhile (this window's copy of it is older). */
static void
test_note_while_opening (void)
{
  g_autoptr(DiCase) other = NULL;
  g_autoptr(DiCaseImage) image = NULL;
  DiItem *item;
  gint64 id, id2;

  gtk_window_destroy (GTK_WINDOW (fx.window));
  spin (50);
  new_window ();
  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));
  wait_idle ();

  item = item_named ("cell-001.png");
  g_assert_nonnull (item);
  id = di_item_get_case_id (item);
  di_window_set_current_item (fx.window, item);
  di_item_set_note (item, "typed while opening");   /* saved 3 s after the last key */
  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));
  wait_idle ();

  other = open_case_again ();
  image = di_case_dup_image (other, id);
  g_assert_cmpstr (image->note, ==, "typed while opening");
  item = item_named ("cell-001.png");
  g_assert_cmpstr (di_item_get_note (item), ==, "typed while opening");

  /* Another window notes cell-002; this one, not knowing, labels it. */
  item = item_named ("cell-002.png");
  id2 = di_item_get_case_id (item);
  g_assert_true (di_case_set_note (other, id2, "from the other window", "CD", NULL));
  di_window_set_current_item (fx.window, item);
  g_assert_true (press_key (GDK_KEY_2));
  g_clear_pointer (&image, di_case_image_free);
  image = di_case_dup_image (other, id2);
  g_assert_cmpstr (image->label, ==, di_fixture_classes[1]);
  g_assert_cmpstr (image->note, ==, "from the other window");
  wait_idle ();

  /* The other window labels cell-003: coming to the front, this one shows
   * it, and its undo does not take the other's step back. */
  item = item_named ("cell-003.png");
  g_assert_true (di_case_set_label (other, di_item_get_case_id (item), di_fixture_classes[4], "CD", NULL));
  g_object_notify (G_OBJECT (fx.window), "is-active");
  if (gtk_window_is_active (GTK_WINDOW (fx.window)))
    {
      g_assert_cmpstr (di_item_get_reviewer_label (item), ==, di_fixture_classes[4]);
      g_assert_cmpstr (di_item_get_reviewer_name (item), ==, "CD");
    }
  else
    g_test_message ("the window is not active here: the refresh on activation is not checked");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.undo", NULL));
  g_assert_true (has_message ("another window or program (CD)"));
  g_clear_pointer (&image, di_case_image_free);
  image = di_case_dup_image (other, di_item_get_case_id (item));
  g_assert_cmpstr (image->label, ==, di_fixture_classes[4]);
  wait_idle ();
}

static gboolean
item_failed (gpointer data)
{
  return di_item_get_error (data) != NULL && window_idle (NULL);
}

/* An image that could not be read takes no class (it would count as
 * reviewed, and complete the case, though nobody saw it). */
static void
test_unreadable_takes_no_class (void)
{
  g_autofree char *folder = g_build_filename (fx.dir, "unreadable", NULL);
  g_autofree char *broken = g_build_filename (folder, "broken.png", NULL);
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  DiItem *item;

  g_mkdir (folder, 0755);
  images = di_fixture_make_images (folder, 1, 64, 64, 900, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (broken, "", 0, NULL));
  open_path (folder);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (2), 60000));
  item = item_named ("broken.png");
  g_assert_nonnull (item);
  di_window_set_current_item (fx.window, item);
  g_assert_true (wait_for (item_failed, item, 60000));

  g_assert_true (press_key (GDK_KEY_2));
  g_assert_null (di_item_get_reviewer_label (item));
  g_assert_true (has_message ("could not be read"));
  {
    g_autoptr(DiCaseImage) image = di_case_dup_image (di_window_get_case (fx.window), di_item_get_case_id (item));

    g_assert_null (image->label);
  }
  wait_idle ();
}

static gboolean
model_is (gpointer data)
{
  DiModelInfo *model = di_engine_get_model_info (di_window_get_engine (fx.window));

  return model != NULL && g_strcmp0 (di_model_info_get_path (model), data) == 0;
}

/* A case classified with one model, opened with another: the window says
 * so (its images are classified again), and the notice is not replaced
 * by the image's size notice. */
static void
test_other_model_said (void)
{
  g_autofree char *sub = g_build_filename (fx.dir, "model2", NULL);
  g_autofree char *model2 = NULL;
  g_autoptr(GError) error = NULL;
  GSettings *settings = di_application_get_settings (fx.app);

  g_mkdir (sub, 0755);
  model2 = di_fixture_make_model (sub, DINET_ARCH_CBAM_RESNET50, INPUT_SIZE, 23, &error);
  g_assert_no_error (error);
  g_settings_set_string (settings, "default-model", model2);
  g_assert_true (wait_for (model_is, model2, 60000));

  gtk_window_destroy (GTK_WINDOW (fx.window));
  spin (50);
  new_window ();
  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 60000));
  wait_idle ();
  g_assert_true (has_message ("This case was classified with"));

  g_settings_set_string (settings, "default-model", fx.model);
  g_assert_true (wait_for (model_is, fx.model, 60000));
  wait_idle ();
}

static void
make_fixtures (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cells = NULL;
  g_autoptr(GPtrArray) other = NULL;

  fx.dir = g_dir_make_tmp ("deepinsight-case-gui-XXXXXX", &error);
  g_assert_no_error (error);

  fx.model = di_fixture_make_model (fx.dir, DINET_ARCH_CBAM_RESNET50, INPUT_SIZE, 11, &error);
  g_assert_no_error (error);

  fx.cells = g_build_filename (fx.dir, "cells", NULL);
  g_mkdir (fx.cells, 0755);
  cells = di_fixture_make_images (fx.cells, N_CELLS, 96, 80, 100, &error);
  g_assert_no_error (error);
  fx.case_path = g_build_filename (fx.cells, DI_CASE_FOLDER_NAME, NULL);

  fx.other = g_build_filename (fx.dir, "other", NULL);
  g_mkdir (fx.other, 0755);
  other = di_fixture_make_images (fx.other, 2, 64, 64, 300, &error);
  g_assert_no_error (error);
  fx.other_case = g_build_filename (fx.dir, "chosen" DI_CASE_SUFFIX, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP cannot open a display\n");
      return 77;
    }

  make_fixtures ();

  fx.app = di_application_new (G_APPLICATION_NON_UNIQUE);
  g_settings_set_string (di_application_get_settings (fx.app), "default-model", fx.model);
  g_application_register (G_APPLICATION (fx.app), NULL, &error);
  g_assert_no_error (error);
  new_window ();

  g_test_add_func ("/case-window/open-folder-makes-case", test_open_folder_makes_case);
  g_test_add_func ("/case-window/relabel-goes-to-case", test_relabel_goes_to_case);
  g_test_add_func ("/case-window/reopen-restores", test_reopen_restores);
  g_test_add_func ("/case-window/undo-redo", test_undo_redo);
  g_test_add_func ("/case-window/export-report", test_export_report);
  g_test_add_func ("/case-window/changed-image-flagged", test_changed_image_flagged);
  g_test_add_func ("/case-window/no-case-fallback", test_no_case_fallback);
  g_test_add_func ("/case-window/command-line-case", test_command_line_case);
  g_test_add_func ("/case-window/chosen-case", test_chosen_case);
  g_test_add_func ("/case-window/class-folders-start-at-gallery-top", test_class_folders_start_at_gallery_top);
  g_test_add_func ("/case-window/note-while-opening", test_note_while_opening);
  g_test_add_func ("/case-window/unreadable-takes-no-class", test_unreadable_takes_no_class);
  g_test_add_func ("/case-window/other-model-said", test_other_model_said);

  ret = g_test_run ();

  wait_for (window_idle, NULL, 60000);
  gtk_window_destroy (GTK_WINDOW (fx.window));
  spin (50);
  g_clear_object (&fx.app);
  di_fixture_remove_tree (fx.dir);

  return ret;
}
