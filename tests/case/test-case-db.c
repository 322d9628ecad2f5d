/* test-case-db.c — the case database: images, predictions, append-only
 * reviews, history, undo/redo (also across reopening), migration from the
 * first schema version, moved case folders, changed and missing images,
 * files that are not cases.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "case-testutil.h"
#include "di-case.h"

static gint64
raw_int (const char *db_path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 v = -12345;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

static char *
raw_text (const char *db_path,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *v = NULL;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
    v = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

static int
raw_exec (const char *db_path,
          const char *sql)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open (db_path, &db);

  if (rc == SQLITE_OK)
    rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
  sqlite3_close (db);
  return rc;
}

static char *
label_of (DiCase *kase,
          gint64  id)
{
  g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

  return image ? g_strdup (image->label) : g_strdup ("<no image>");
}

static char *
note_of (DiCase *kase,
         gint64  id)
{
  g_autoptr(DiCaseImage) image = di_case_dup_image (kase, id);

  return image ? g_strdup (image->note) : g_strdup ("<no image>");
}

#define CHECK_LABEL(kase, id, expected)                                       \
  do {                                                                        \
    g_autofree char *l_ = label_of ((kase), (id));                            \
    CHECK (g_strcmp0 (l_, (expected)) == 0, "label %s, expected %s",          \
           l_ ? l_ : "(null)", (expected) ? (const char *)(expected) : "(null)"); \
  } while (0)

static const char * const classes[] = { "a", "b", "c", NULL };

static void
image_added_cb (DiCase *kase,
                gint64  id,
                int    *count)
{
  (*count)++;
}

static void
notify_cb (DiCase     *kase,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
review_changed_cb (DiCase *kase,
                   gint64  id,
                   guint  *count)
{
  (*count)++;
}

static void
test_basics (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "basics.dicase", NULL);
  g_autofree char *imgdir = g_build_filename (dir, "images", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(DiCaseEvent) prediction = NULL;
  g_autoptr(GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(DiCaseModel) model = NULL;
  g_autofree char *journal = NULL;
  gint64 ids[3];
  const float probs[3] = { 0.1f, 0.7f, 0.2f };
  const float logits[3] = { -1.0f, 1.0f, 0.0f };
  int added = 0;

  g_mkdir_with_parents (imgdir, 0755);
  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  CHECK (di_case_get_schema_version (kase) == DI_CASE_SCHEMA_VERSION, "schema");
  CHECK (!di_case_get_can_undo (kase) && !di_case_get_can_redo (kase), "fresh case has no undo");
  g_signal_connect (kase, "image-added", G_CALLBACK (image_added_cb), &added);

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("cell-%d.png", i);
      g_autofree char *img = g_build_filename (imgdir, name, NULL);

      ct_make_cell (img, 48, 40, i + 1);
      ids[i] = di_case_add_image (kase, img, &error);
      CHECK_NO_ERROR (error);
      g_clear_error (&error);
      CHECK (ids[i] > 0, "image id");
      CHECK (di_case_add_image (kase, img, NULL) == ids[i], "adding twice keeps the row");
      CHECK (di_case_find_image (kase, img) == ids[i], "find");
    }
  CHECK (added == 3, "image-added emitted %d times", added);

  images = di_case_dup_images (kase);
  CHECK (images->len == 3, "%u images", images->len);
  if (images->len == 3)
    {
      DiCaseImage *im = g_ptr_array_index (images, 1);

      CHECK (g_strcmp0 (im->path, "images/cell-1.png") == 0, "relative path %s", im->path);
      CHECK (im->status == DI_CASE_IMAGE_OK, "status");
      CHECK (im->sha256 != NULL && strlen (im->sha256) == 64, "sha256");
      CHECK (im->size > 0, "size");
      CHECK (im->added != NULL, "added time");
      CHECK (im->label == NULL && im->predicted == NULL, "nothing yet");
    }

  journal = raw_text (path, "PRAGMA journal_mode");
  CHECK (g_strcmp0 (journal, "wal") == 0, "journal mode %s", journal);
  CHECK (raw_int (path, "PRAGMA user_version") == DI_CASE_SCHEMA_VERSION, "user_version");
  CHECK (raw_int (path, "PRAGMA application_id") == DI_CASE_APPLICATION_ID, "application_id");

  /* Models and predictions. */
  g_hash_table_insert (meta, "abnormal", "[\"b\",\"c\"]");
  g_hash_table_insert (meta, "metrics.accuracy", "0.9");
  CHECK (di_case_add_model (kase, "0123abcd", "test.safetensors", classes, meta, &error), "add model");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK (di_case_add_prediction (kase, ids[0], "0123abcd", probs, logits, 3, 1.5, 0, NULL, &error) > 0, "prediction");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK (di_case_add_prediction (kase, ids[0], "unknown", probs, NULL, 3, 1, 0, NULL, &error) == 0 &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_FOUND), "unknown model refused");
  g_clear_error (&error);
  CHECK (di_case_add_prediction (kase, ids[0], "0123abcd", probs, NULL, 2, 1, 0, NULL, &error) == 0 &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID), "class count checked");
  g_clear_error (&error);
  CHECK (di_case_has_prediction (kase, ids[0], "0123abcd"), "has prediction");
  CHECK (!di_case_has_prediction (kase, ids[1], "0123abcd"), "no prediction");

  prediction = di_case_dup_prediction (kase, ids[0], NULL);
  CHECK (prediction != NULL, "dup prediction");
  if (prediction != NULL)
    {
      CHECK (g_strcmp0 (prediction->label, "b") == 0, "predicted %s", prediction->label);
      CHECK (prediction->n_classes == 3, "n classes");
      CHECK (g_strcmp0 (prediction->classes[2], "c") == 0, "classes");
      CHECK (prediction->probabilities[1] > 0.69 && prediction->probabilities[1] < 0.71, "probabilities");
      CHECK (prediction->logits != NULL && prediction->logits[0] == -1.0, "logits");
      CHECK (prediction->temperature == 1.5, "temperature");
      CHECK (g_strcmp0 (prediction->model_name, "test.safetensors") == 0, "model name");
      CHECK (di_case_event_get_top (prediction) == 1, "top");
      CHECK (prediction->n_views == 0 && prediction->view_top == NULL, "no views given: none kept");
    }

  /* the classes of a prediction's views, kept by name */
  {
    const int tops[8] = { 1, 1, 2, 1, 0, 1, 1, 2 };
    const int bad[8] = { 1, 1, 1, 3, 1, 1, 1, 1 };
    g_autoptr(DiCaseEvent) viewed = NULL;

    CHECK (di_case_add_prediction (kase, ids[1], "0123abcd", probs, logits, 3, 1.5, 8, tops, &error) > 0,
           "prediction with 8 views");
    CHECK_NO_ERROR (error);
    g_clear_error (&error);
    viewed = di_case_dup_prediction (kase, ids[1], "0123abcd");
    CHECK (viewed != NULL && viewed->n_views == 8 && viewed->view_top != NULL &&
           memcmp (viewed->view_top, tops, sizeof tops) == 0, "the views' classes round-trip");
    CHECK (viewed != NULL && raw_int (path, "SELECT count(*) FROM predictions WHERE view_classes = "
                                            "'[\"b\",\"b\",\"c\",\"b\",\"a\",\"b\",\"b\",\"c\"]'") == 1,
           "stored as the classes' names");
    if (viewed != NULL)
      {
        g_autoptr(DiCaseEvent) copy = di_case_event_copy (viewed);

        CHECK (copy->n_views == 8 && copy->view_top != viewed->view_top &&
               memcmp (copy->view_top, tops, sizeof tops) == 0, "an event copy has its own views");
      }
    /* a view's class out of range: the call is kept, its views are not */
    g_test_expect_message ("di-case", G_LOG_LEVEL_WARNING, "*not one of the model's*");
    CHECK (di_case_add_prediction (kase, ids[1], "0123abcd", probs, logits, 3, 1.5, 8, bad, &error) > 0,
           "a prediction with a bad view class is kept");
    g_test_assert_expected_messages ();
    g_clear_error (&error);
    {
      g_autoptr(DiCaseEvent) kept = di_case_dup_prediction (kase, ids[1], "0123abcd");

      CHECK (kept != NULL && kept->n_views == 0 && kept->view_top == NULL, "... without views");
    }
    /* damaged rows (another program wrote them): no views rather than
     * views that disagree; never a crash */
    {
      const char *damaged[] = {
        "'not json'", "'{\"a\": 1}'", "'[\"b\",\"b\",\"x\",\"b\",\"b\",\"b\",\"b\",\"b\"]'",
        "'[\"b\",null,\"b\",\"b\",\"b\",\"b\",\"b\",\"b\"]'", "'[1,2,3,4,5,6,7,8]'",
        "'[\"b\",\"b\",\"b\"]'", "(SELECT json_group_array('b') FROM (WITH RECURSIVE n(i) AS (SELECT 1 "
        "UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n))",
      };

      for (guint i = 0; i < G_N_ELEMENTS (damaged); i++)
        {
          g_autofree char *sql = g_strdup_printf ("UPDATE predictions SET view_classes = %s WHERE id = "
                                                  "(SELECT max(id) FROM predictions)", damaged[i]);
          g_autoptr(DiCaseEvent) read = NULL;

          CHECK (raw_exec (path, sql) == SQLITE_OK, "damage the row: %s", damaged[i]);
          read = di_case_dup_prediction (kase, ids[1], "0123abcd");
          CHECK (read != NULL && read->n_views == 0 && read->view_top == NULL, "damaged views %u ignored", i);
        }
    }
  }

  model = di_case_dup_model (kase, "0123abcd");
  CHECK (model != NULL && model->n_classes == 3 && model->abnormal != NULL &&
         model->abnormal[0] == 0 && model->abnormal[1] == 1 && model->abnormal[2] == 1,
         "model grouping");
  CHECK (model != NULL && g_strcmp0 (g_hash_table_lookup (model->metadata, "metrics.accuracy"), "0.9") == 0,
         "model metadata");

  {
    const float map[6] = { 0, 1, 2, 3, 4, 5 };
    g_autoptr(DiCaseExplanation) ex = NULL;

    CHECK (di_case_add_explanation (kase, ids[0], "0123abcd", "gradcam", 4, 1, map, 3, 2, &error) > 0,
           "explanation");
    CHECK_NO_ERROR (error);
    g_clear_error (&error);
    ex = di_case_dup_explanation (kase, ids[0], "0123abcd", "gradcam");
    CHECK (ex != NULL && ex->width == 3 && ex->height == 2 && ex->values[5] == 5.0f &&
           ex->stage == 4 && ex->target == 1, "explanation round trip");
  }

  /* Reviews. */
  CHECK (di_case_relabel (kase, ids[0], "b", "first look", "Dr A", &error), "relabel");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK (di_case_relabel (kase, ids[0], "c", "nucleus enlarged", "Dr B", &error), "relabel again");
  CHECK (di_case_relabel (kase, ids[0], "c", "nucleus enlarged", "Dr B", &error), "same state: no row");
  CHECK (raw_int (path, "SELECT count(*) FROM reviews") == 2, "no-op writes no row");
  CHECK (di_case_set_note (kase, ids[0], "see also cell 2", "Dr B", &error), "note");
  CHECK_LABEL (kase, ids[0], "c");
  {
    g_autofree char *note = note_of (kase, ids[0]);
    CHECK (g_strcmp0 (note, "see also cell 2") == 0, "note %s", note);
  }
  CHECK (!di_case_relabel (kase, 999, "a", NULL, NULL, &error) &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_FOUND), "unknown image");
  g_clear_error (&error);
  CHECK (!di_case_relabel (kase, ids[1], "\xff\xfe", NULL, NULL, &error) &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID), "invalid UTF-8");
  g_clear_error (&error);

  history = di_case_dup_history (kase, ids[0]);
  CHECK (history->len == 5, "history has %u events", history->len);
  if (history->len == 5)
    {
      DiCaseEvent *e0 = g_ptr_array_index (history, 0);
      DiCaseEvent *e1 = g_ptr_array_index (history, 1);
      DiCaseEvent *e2 = g_ptr_array_index (history, 2);
      DiCaseEvent *e3 = g_ptr_array_index (history, 3);
      DiCaseEvent *e4 = g_ptr_array_index (history, 4);

      CHECK (e0->kind == DI_CASE_EVENT_ADDED, "added first");
      CHECK (e1->kind == DI_CASE_EVENT_PREDICTION && e1->probabilities != NULL, "AI call second");
      CHECK (e2->kind == DI_CASE_EVENT_REVIEW && g_strcmp0 (e2->label, "b") == 0 &&
             e2->previous_label == NULL && g_strcmp0 (e2->reviewer, "Dr A") == 0, "first review");
      CHECK (e3->kind == DI_CASE_EVENT_REVIEW && g_strcmp0 (e3->label, "c") == 0 &&
             g_strcmp0 (e3->previous_label, "b") == 0 &&
             g_strcmp0 (e3->previous_note, "first look") == 0, "second review");
      CHECK (e4->kind == DI_CASE_EVENT_REVIEW && g_strcmp0 (e4->label, "c") == 0 &&
             g_strcmp0 (e4->note, "see also cell 2") == 0, "note row");
      for (guint i = 1; i < history->len; i++)
        {
          DiCaseEvent *a = g_ptr_array_index (history, i - 1);
          DiCaseEvent *b = g_ptr_array_index (history, i);
          CHECK (g_date_time_compare (a->time, b->time) <= 0, "history in time order");
        }
    }

  /* Regions. */
  {
    g_autoptr(GPtrArray) regions = NULL;
    gint64 r1 = di_case_add_region (kase, ids[0], 4, 5, 10, 12, "c", 0.75, &error);
    gint64 r2 = di_case_add_region (kase, ids[1], 1, 2, 3, 4, NULL, NAN, &error);

    CHECK (r1 > 0 && r2 > 0, "regions added");
    CHECK (di_case_add_region (kase, ids[1], 1, 2, 0, 4, "a", NAN, NULL) == 0, "empty region refused");
    CHECK (di_case_add_region (kase, ids[1], 1, 2, 3, 4, "a", 1.5, NULL) == 0, "probability > 1 refused");
    CHECK (di_case_add_region (kase, ids[1], 1, 2, 3, 4, "a", -0.1, NULL) == 0, "probability < 0 refused");
    CHECK (di_case_add_region (kase, ids[1], 1, 2, 3, 4, NULL, 0.5, NULL) == 0,
           "probability without a class refused");
    regions = di_case_dup_regions (kase, 0);
    CHECK (regions->len == 2, "two regions");
    CHECK (((DiCaseRegion *)regions->pdata[0])->probability == 0.75, "region probability kept");
    CHECK (isnan (((DiCaseRegion *)regions->pdata[1])->probability), "region without class has no probability");
    g_clear_pointer (&regions, g_ptr_array_unref);
    regions = di_case_dup_regions (kase, ids[0]);
    CHECK (regions->len == 1 && ((DiCaseRegion *)regions->pdata[0])->width == 10, "region of image");
    CHECK (di_case_remove_region (kase, r2, &error), "remove region");
    CHECK (!di_case_remove_region (kase, r2, NULL), "remove twice");
    CHECK (di_case_set_region_label (kase, r1, "b", 0.5, &error), "relabel region");
    CHECK (!di_case_set_region_label (kase, r2, "b", 0.5, NULL), "relabel a removed region");
    CHECK (!di_case_set_region_label (kase, r1, "b", 2.0, NULL), "relabel with probability > 1 refused");
    g_clear_pointer (&regions, g_ptr_array_unref);
    regions = di_case_dup_regions (kase, ids[0]);
    CHECK (regions->len == 1 && g_strcmp0 (((DiCaseRegion *)regions->pdata[0])->label, "b") == 0,
           "region has its new label");
    CHECK (((DiCaseRegion *)regions->pdata[0])->probability == 0.5, "region has its new probability");
  }

  g_clear_object (&kase);

  /* Append-only, enforced by the database itself. */
  CHECK (raw_exec (path, "UPDATE reviews SET label = 'x'") != SQLITE_OK, "UPDATE refused");
  CHECK (raw_exec (path, "DELETE FROM reviews") != SQLITE_OK, "DELETE refused");
  CHECK (raw_int (path, "SELECT count(*) FROM reviews") == 3, "rows intact");
}

static void
test_undo_redo (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "undo.dicase", NULL);
  g_autofree char *img_a = g_build_filename (dir, "undo-a.png", NULL);
  g_autofree char *img_b = g_build_filename (dir, "undo-b.png", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  gint64 a, b, changed = 0;
  guint notifies = 0, changes = 0;

  ct_make_cell (img_a, 32, 32, 11);
  ct_make_cell (img_b, 32, 32, 12);
  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  a = di_case_add_image (kase, img_a, NULL);
  b = di_case_add_image (kase, img_b, NULL);
  g_signal_connect (kase, "notify::can-undo", G_CALLBACK (notify_cb), &notifies);
  g_signal_connect (kase, "review-changed", G_CALLBACK (review_changed_cb), &changes);

  CHECK (!di_case_undo (kase, NULL, NULL, &error) &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_UNDO), "nothing to undo");
  g_clear_error (&error);

  di_case_relabel (kase, a, "x", NULL, "R", NULL);
  di_case_relabel (kase, b, "y", NULL, "R", NULL);
  di_case_relabel (kase, a, "z", "zz", "R", NULL);
  CHECK (di_case_get_can_undo (kase) && !di_case_get_can_redo (kase), "can undo");
  CHECK (notifies == 1, "notify::can-undo once: %u", notifies);
  CHECK (changes == 3, "review-changed per write: %u", changes);

  CHECK (di_case_undo (kase, "U", &changed, &error) && changed == a, "undo 1");
  CHECK_LABEL (kase, a, "x");
  {
    g_autofree char *note = note_of (kase, a);
    CHECK (note == NULL, "undo restores the note too: %s", note);
  }
  CHECK (di_case_undo (kase, "U", &changed, &error) && changed == b, "undo 2");
  CHECK_LABEL (kase, b, NULL);
  CHECK (di_case_get_can_redo (kase), "can redo");
  CHECK (di_case_redo (kase, "U", &changed, &error) && changed == b, "redo 1");
  CHECK_LABEL (kase, b, "y");
  CHECK_NO_ERROR (error);

  /* Reopen: one step left to redo, two to undo. */
  g_clear_object (&kase);
  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  CHECK (di_case_get_can_undo (kase) && di_case_get_can_redo (kase), "stacks survive reopening");
  CHECK (di_case_redo (kase, NULL, &changed, &error) && changed == a, "redo after reopen");
  CHECK_LABEL (kase, a, "z");
  {
    g_autofree char *note = note_of (kase, a);
    CHECK (g_strcmp0 (note, "zz") == 0, "redo restores the note");
  }
  CHECK (!di_case_redo (kase, NULL, NULL, &error) &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_REDO), "nothing to redo");
  g_clear_error (&error);

  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo a");
  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo b");
  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo first a");
  CHECK_LABEL (kase, a, NULL);
  CHECK_LABEL (kase, b, NULL);
  CHECK (!di_case_get_can_undo (kase), "all undone");
  CHECK (!di_case_undo (kase, NULL, NULL, NULL), "nothing more to undo");

  g_clear_object (&kase);
  kase = di_case_open (path, &error);
  if (kase == NULL)
    return;
  CHECK (!di_case_get_can_undo (kase) && di_case_get_can_redo (kase), "after reopen");
  CHECK (di_case_redo (kase, NULL, &changed, NULL) && changed == a, "redo first a");
  CHECK_LABEL (kase, a, "x");

  /* A new edit clears the redo stack, also after reopening. */
  di_case_relabel (kase, b, "w", NULL, "R", NULL);
  CHECK (!di_case_get_can_redo (kase), "new edit clears redo");
  g_clear_object (&kase);
  kase = di_case_open (path, &error);
  if (kase == NULL)
    return;
  CHECK (!di_case_get_can_redo (kase) && di_case_get_can_undo (kase), "cleared redo survives reopening");
  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo w");
  CHECK_LABEL (kase, b, NULL);
  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo redone x");
  CHECK_LABEL (kase, a, NULL);

  /* Notes are undoable steps of their own. */
  di_case_relabel (kase, a, "x", NULL, "R", NULL);
  di_case_set_note (kase, a, "hello", "R", NULL);
  CHECK (di_case_undo (kase, NULL, NULL, NULL), "undo note");
  CHECK_LABEL (kase, a, "x");
  {
    g_autofree char *note = note_of (kase, a);
    CHECK (note == NULL, "note undone");
  }

  /* Every undo/redo was a new row: nothing was rewritten. */
  CHECK (raw_int (path, "SELECT count(*) FROM reviews WHERE kind = 'undo'") == 8, "undo rows %" G_GINT64_FORMAT,
         raw_int (path, "SELECT count(*) FROM reviews WHERE kind = 'undo'"));
  CHECK (raw_int (path, "SELECT count(*) FROM reviews WHERE kind = 'redo'") == 3, "redo rows");

  {
    g_autoptr(GPtrArray) history = di_case_dup_history (kase, a);
    guint undos = 0;

    for (guint i = 0; i < history->len; i++)
      {
        DiCaseEvent *e = g_ptr_array_index (history, i);
        if (e->kind == DI_CASE_EVENT_UNDO)
          {
            undos++;
            CHECK (e->target > 0, "undo rows name their target");
          }
      }
    CHECK (undos == 5, "history shows %u undos of a", undos);
  }
}

/* Two windows (or processes) on one case: each writes what it changes and
 * keeps what the other wrote. */
static void
test_two_writers (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "two.dicase", NULL);
  g_autofree char *img = g_build_filename (dir, "two-a.png", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) a = NULL;
  g_autoptr(DiCase) b = NULL;
  gint64 id;

  ct_make_cell (img, 32, 32, 31);
  a = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  b = a ? di_case_open (path, &error) : NULL;
  CHECK_NO_ERROR (error);
  if (a == NULL || b == NULL)
    return;
  id = di_case_add_image (a, img, NULL);
  CHECK (id > 0 && di_case_add_image (b, img, NULL) == id, "the same image is one image for both");

  /* B notes the image; A, which has not seen the note, labels it. */
  CHECK (di_case_set_note (b, id, "mitotic figure", "Dr B", &error), "B's note");
  CHECK (di_case_set_label (a, id, "HSIL", "Dr A", &error), "A's label");
  CHECK_NO_ERROR (error);
  CHECK_LABEL (b, id, "HSIL");
  {
    g_autofree char *note = note_of (b, id);
    CHECK (g_strcmp0 (note, "mitotic figure") == 0, "a label keeps the other's note: %s", note);
  }
  CHECK (di_case_set_label (a, id, "", "Dr A", &error), "label cleared");
  CHECK_LABEL (b, id, NULL);
  {
    g_autofree char *note = note_of (a, id);
    CHECK (g_strcmp0 (note, "mitotic figure") == 0, "... the note stays: %s", note);
  }

  /* Each takes back only its own steps (and those from before it opened). */
  di_case_refresh (a);   /* A catches up with B's note */
  CHECK (!di_case_refresh (a), "nothing new for A");
  CHECK (di_case_set_label (a, id, "LSIL", "Dr A", NULL), "A labels");
  CHECK (di_case_set_label (b, id, "HSIL", "Dr B", NULL), "B labels");
  CHECK (di_case_refresh (a), "A sees that B wrote");
  CHECK (!di_case_refresh (a), "... once");
  CHECK (!di_case_undo (a, "Dr A", NULL, &error) &&
         g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_OTHER_WRITER) &&
         strstr (error->message, "Dr B") != NULL, "A cannot undo B's label: %s",
         error ? error->message : "(undone)");
  g_clear_error (&error);
  CHECK_LABEL (b, id, "HSIL");
  CHECK (di_case_undo (b, "Dr B", NULL, &error), "B undoes its own");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK_LABEL (a, id, "LSIL");
  CHECK (di_case_undo (a, "Dr A", NULL, &error), "then A undoes its own");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK_LABEL (b, id, NULL);
  CHECK (di_case_redo (a, "Dr A", NULL, &error), "A redoes its own");
  CHECK_NO_ERROR (error);
  g_clear_error (&error);
  CHECK_LABEL (b, id, "LSIL");

  /* Opened again, the history is the opener's: all of it can be undone. */
  {
    g_autoptr(DiCase) c = di_case_open (path, &error);

    CHECK_NO_ERROR (error);
    CHECK (c != NULL && di_case_undo (c, "Dr C", NULL, &error), "a new opening undoes the latest step");
    CHECK_NO_ERROR (error);
    g_clear_error (&error);
  }
}

/* A case file the user may not write is refused at opening, with a reason:
 * SQLite would open it read-only and fail only at the first review. */
static void
test_read_only (const char *dir)
{
  g_autofree char *sub = g_build_filename (dir, "ro", NULL);
  g_autofree char *path = g_build_filename (sub, "ro.dicase", NULL);
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GError) error = NULL;
  pid_t pid;
  int status = 0;

  g_autofree char *sub2 = g_build_filename (dir, "ro-folder", NULL);
  g_autofree char *path2 = g_build_filename (sub2, "writable.dicase", NULL);

  g_autofree char *sub3 = g_build_filename (dir, "ro-unclean", NULL);
  g_autofree char *path3 = g_build_filename (sub3, "unclean.dicase", NULL);
  g_autofree char *sub4 = g_build_filename (dir, "ro-unclean-shm", NULL);
  g_autofree char *path4 = g_build_filename (sub4, "unclean.dicase", NULL);
  const char *model_classes[] = { "a", "b", NULL };

  g_mkdir_with_parents (sub, 0755);
  g_mkdir_with_parents (sub2, 0755);
  g_mkdir_with_parents (sub3, 0755);
  g_mkdir_with_parents (sub4, 0755);
  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  CHECK (kase && di_case_add_model (kase, "m1", "m1.safetensors", model_classes, NULL, &error), "a model in the case");
  g_clear_object (&kase);
  /* a case not closed cleanly: its last change only in the -wal file
   * (copied while the connection is open, so never checkpointed) */
  kase = di_case_open (path3, &error);
  CHECK_NO_ERROR (error);
  CHECK (kase && di_case_add_model (kase, "m3", "m3.safetensors", model_classes, NULL, &error), "a model in the WAL");
  {
    g_autofree char *cmd = g_strdup_printf ("cp '%s' '%s-wal' '%s-shm' '%s/'", path3, path3, path3, sub4);

    CHECK (system (cmd) == 0, "copy of the unclean case, with its -shm");
    g_free (cmd);
    cmd = g_strdup_printf ("test -s '%s-wal'", path4);
    CHECK (system (cmd) == 0, "the copy has a WAL to read");
  }
  g_clear_object (&kase);
  {
    /* the original closed cleanly by now: make it unclean again from the copy */
    g_autofree char *cmd = g_strdup_printf ("cp '%s' '%s-wal' '%s/' && rm -f '%s-shm'", path4, path4, sub3, path3);

    CHECK (system (cmd) == 0, "an unclean case without its -shm");
  }
  g_clear_error (&error);
  kase = di_case_open (path2, &error);
  CHECK_NO_ERROR (error);
  g_clear_object (&kase);
  g_clear_error (&error);
  CHECK (g_chmod (path, 0444) == 0 && g_chmod (sub, 0555) == 0 && g_chmod (dir, 0755) == 0,
         "case made read-only");
  /* a writable case in a read-only folder: its -wal and -shm cannot be made */
  CHECK (g_chmod (path2, 0666) == 0 && g_chmod (sub2, 0555) == 0, "folder made read-only");
  CHECK (g_chmod (sub3, 0555) == 0 && g_chmod (sub4, 0555) == 0, "unclean cases' folders made read-only");

  /* Root writes any file: the check runs as "nobody" then. */
  pid = fork ();
  if (pid == 0)
    {
      g_autoptr(DiCase) k = NULL;
      g_autoptr(GError) e = NULL;

      if (getuid () == 0 && (setgid (65534) != 0 || setuid (65534) != 0))
        _exit (9);
      for (int f = 0; f < 2; f++)
        {
          k = di_case_open (f == 0 ? path : path2, &e);
          if (k != NULL)
            _exit (1);
          if (!g_error_matches (e, DI_CASE_ERROR, DI_CASE_ERROR_READ_ONLY) || strstr (e->message, "read-only") == NULL)
            {
              fprintf (stderr, "read-only case %d: %s\n", f, e ? e->message : "(no error)");
              _exit (2 + f);
            }
          g_clear_error (&e);
        }
      /* ...but a snapshot reads them (an archived case's report), writes
       * nothing beside them, and keeps what is written to it in memory */
      for (int f = 0; f < 2; f++)
        {
          g_autoptr(GPtrArray) models = NULL;
          g_autofree char *shm = g_strconcat (f == 0 ? path : path2, "-shm", NULL);

          k = di_case_open_snapshot (f == 0 ? path : path2, &e);
          if (k == NULL || !di_case_get_snapshot (k))
            {
              fprintf (stderr, "snapshot %d: %s\n", f, e ? e->message : "(not a snapshot)");
              _exit (4 + f);
            }
          models = di_case_dup_models (k);
          if (models->len != (f == 0 ? 1u : 0u) ||
              !di_case_add_model (k, "m2", "m2.safetensors", model_classes, NULL, &e))
            _exit (6);
          g_clear_pointer (&models, g_ptr_array_unref);
          g_clear_object (&k);
          k = di_case_open_snapshot (f == 0 ? path : path2, &e);
          models = k ? di_case_dup_models (k) : NULL;
          if (models == NULL || models->len != (f == 0 ? 1u : 0u))
            _exit (7);  /* the write went to the file */
          if (g_file_test (shm, G_FILE_TEST_EXISTS))
            _exit (8);
          g_clear_object (&k);
        }
      /* an unclean case: read with its WAL where its -shm is there,
       * refused (not read without its last changes) where it is not */
      k = di_case_open_snapshot (path4, &e);
      {
        g_autoptr(GPtrArray) models = k ? di_case_dup_models (k) : NULL;

        if (models == NULL || models->len != 1)
          {
            fprintf (stderr, "unclean snapshot with -shm: %s\n", e ? e->message : "model missing");
            _exit (10);
          }
      }
      g_clear_object (&k);
      k = di_case_open_snapshot (path3, &e);
      if (k != NULL || !g_error_matches (e, DI_CASE_ERROR, DI_CASE_ERROR_READ_ONLY) ||
          strstr (e->message, "not closed cleanly") == NULL)
        {
          fprintf (stderr, "unclean snapshot without -shm: %s\n", e ? e->message : "(opened)");
          _exit (11);
        }
      _exit (0);
    }
  CHECK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status), "the check ran");
  CHECK (WEXITSTATUS (status) == 0, "a read-only case is refused with a reason (child status %d)",
         WEXITSTATUS (status));
  g_chmod (sub, 0755);
  g_chmod (path, 0644);
  g_chmod (sub2, 0755);
  g_chmod (sub3, 0755);
  g_chmod (sub4, 0755);
}

/* The first schema, exactly as version 1 of DeepInsight wrote it. */
static const char schema_v1[] =
  "CREATE TABLE images ("
  "  id INTEGER PRIMARY KEY,"
  "  path TEXT NOT NULL UNIQUE,"
  "  sha256 TEXT NOT NULL,"
  "  added TEXT NOT NULL);"
  "CREATE TABLE predictions ("
  "  id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id),"
  "  model TEXT NOT NULL,"
  "  model_sha256 TEXT NOT NULL,"
  "  classes TEXT NOT NULL,"
  "  probabilities TEXT NOT NULL,"
  "  time TEXT NOT NULL);"
  "CREATE TABLE reviews ("
  "  id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id),"
  "  label TEXT,"
  "  note TEXT,"
  "  reviewer TEXT,"
  "  time TEXT NOT NULL);"
  "PRAGMA user_version = 1;";

static void
test_migration (const char *dir)
{
  g_autofree char *sub = g_build_filename (dir, "v1", NULL);
  g_autofree char *path = g_build_filename (sub, "old.dicase", NULL);
  g_autofree char *img = g_build_filename (sub, "old-cell.png", NULL);
  g_autofree char *backup = g_strconcat (path, ".v1.bak", NULL);
  g_autofree char *sha = NULL;
  g_autofree char *sql = NULL;
  g_autofree char *integrity = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(DiCaseEvent) prediction = NULL;
  g_autoptr(DiCaseModel) model = NULL;

  g_mkdir_with_parents (sub, 0755);
  ct_make_cell (img, 40, 40, 21);
  sha = di_case_compute_sha256 (img, NULL, NULL);
  sql = g_strdup_printf ("%s"
                         "INSERT INTO images VALUES (1, 'old-cell.png', '%s', '2024-05-01T10:00:00.000000Z');"
                         "INSERT INTO predictions VALUES (1, 1, 'old.safetensors', 'feedbeef',"
                         "  '[\"NILM\",\"LSIL\",\"HSIL\"]', '[0.2,0.1,0.7]', '2024-05-01T10:00:01.000000Z');"
                         "INSERT INTO reviews VALUES (1, 1, 'LSIL', 'looks low grade', 'Dr Old', '2024-05-01T10:05:00.000000Z');"
                         "INSERT INTO reviews VALUES (2, 1, 'HSIL', 'on second look', 'Dr Old', '2024-05-01T10:06:00.000000Z');",
                         schema_v1, sha);
  CHECK (raw_exec (path, sql) == SQLITE_OK, "v1 database created");
  CHECK (raw_int (path, "PRAGMA user_version") == 1, "it is version 1");

  /* No backup copy can be written (its temporary name is taken by a
   * folder): the case is not upgraded, and the error says why. */
  {
    g_autofree char *partial = g_strconcat (backup, ".partial", NULL);
    g_autoptr(DiCase) refused = NULL;

    CHECK (g_mkdir (partial, 0755) == 0, "backup blocked");
    refused = di_case_open (path, &error);
    CHECK (refused == NULL && g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_IO) &&
           strstr (error->message, "backup") != NULL, "no backup, no upgrade: %s",
           error ? error->message : "(opened)");
    g_clear_error (&error);
    CHECK (raw_int (path, "PRAGMA user_version") == 1, "still version 1");
    g_rmdir (partial);
  }

  /* A snapshot upgrades its copy only: the file stays at version 1 and no
   * backup is written (nothing needs one); its reviews read as upgraded. */
  {
    g_autoptr(DiCase) snap = di_case_open_snapshot (path, &error);
    g_autoptr(GPtrArray) snap_images = NULL;

    CHECK_NO_ERROR (error);
    g_clear_error (&error);
    CHECK (snap != NULL && di_case_get_schema_version (snap) == DI_CASE_SCHEMA_VERSION, "snapshot upgraded");
    snap_images = snap ? di_case_dup_images (snap) : NULL;
    CHECK (snap_images != NULL && snap_images->len == 1 &&
           g_strcmp0 (((DiCaseImage *)g_ptr_array_index (snap_images, 0))->label, "HSIL") == 0,
           "the snapshot reads the old reviews");
    CHECK (raw_int (path, "PRAGMA user_version") == 1, "the file is still version 1");
    CHECK (!g_file_test (backup, G_FILE_TEST_EXISTS), "no backup for a snapshot");
  }

  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  CHECK (raw_int (path, "PRAGMA user_version") == DI_CASE_SCHEMA_VERSION, "migrated to %d", DI_CASE_SCHEMA_VERSION);
  CHECK (raw_int (path, "SELECT count(*) FROM pragma_table_info('regions') WHERE name = 'probability'") == 1,
         "regions have a probability column");
  CHECK (raw_int (path, "PRAGMA application_id") == DI_CASE_APPLICATION_ID, "application id set");
  CHECK (g_file_test (backup, G_FILE_TEST_IS_REGULAR), "backup of the v1 file");
  CHECK (raw_int (backup, "PRAGMA user_version") == 1, "backup is still version 1");
  integrity = raw_text (path, "PRAGMA integrity_check");
  CHECK (g_strcmp0 (integrity, "ok") == 0, "integrity %s", integrity);

  images = di_case_dup_images (kase);
  CHECK (images->len == 1, "image kept");
  if (images->len == 1)
    {
      DiCaseImage *im = g_ptr_array_index (images, 0);
      CHECK (g_strcmp0 (im->label, "HSIL") == 0, "current label kept");
      CHECK (g_strcmp0 (im->predicted, "HSIL") == 0, "predicted class derived: %s", im->predicted);
      CHECK (im->status == DI_CASE_IMAGE_OK, "image verified");
    }
  CHECK (raw_int (path, "SELECT size FROM images WHERE id = 1") > 0, "size filled in after verification");

  prediction = di_case_dup_prediction (kase, 1, "feedbeef");
  CHECK (prediction != NULL && prediction->n_classes == 3 &&
         g_strcmp0 (prediction->classes[1], "LSIL") == 0 && prediction->logits == NULL &&
         prediction->temperature == 1.0, "old prediction readable");
  model = di_case_dup_model (kase, "feedbeef");
  CHECK (model != NULL && g_strcmp0 (model->name, "old.safetensors") == 0 && model->n_classes == 3,
         "model record made from the old predictions");

  history = di_case_dup_history (kase, 1);
  CHECK (history->len == 4, "history %u", history->len);
  if (history->len == 4)
    {
      DiCaseEvent *e = g_ptr_array_index (history, 3);
      CHECK (g_strcmp0 (e->previous_label, "LSIL") == 0 &&
             g_strcmp0 (e->previous_note, "looks low grade") == 0, "previous label derived");
    }

  /* Old edits are undoable. */
  CHECK (di_case_get_can_undo (kase), "can undo migrated edits");
  CHECK (di_case_undo (kase, "Dr New", NULL, &error), "undo");
  CHECK_LABEL (kase, 1, "LSIL");
  CHECK (raw_exec (path, "DELETE FROM reviews") != SQLITE_OK, "migrated table append-only");

  /* Opening again does not migrate again. */
  g_clear_object (&kase);
  g_unlink (backup);
  kase = di_case_open (path, &error);
  CHECK (kase != NULL && !g_file_test (backup, G_FILE_TEST_EXISTS), "no second migration");
}

static void
test_moved_and_changed (const char *dir)
{
  g_autofree char *case_a = g_build_filename (dir, "study-a", NULL);
  g_autofree char *case_b = g_build_filename (dir, "study-b", NULL);
  g_autofree char *imgdir = g_build_filename (case_a, "slides", "s1", NULL);
  g_autofree char *path = g_build_filename (case_a, "case", "moved.dicase", NULL);
  g_autofree char *path_b = g_build_filename (case_b, "case", "moved.dicase", NULL);
  g_autofree char *casedir = g_build_filename (case_a, "case", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autofree char *changed_b = NULL;
  g_autofree char *missing_b = NULL;
  gint64 ids[3];

  g_mkdir_with_parents (imgdir, 0755);
  g_mkdir_with_parents (casedir, 0755);
  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("m%d.png", i);
      g_autofree char *img = g_build_filename (imgdir, name, NULL);

      ct_make_cell (img, 36, 36, 30 + i);
      ids[i] = di_case_add_image (kase, img, NULL);
      di_case_relabel (kase, ids[i], "b", NULL, "R", NULL);
    }
  images = di_case_dup_images (kase);
  CHECK (images->len == 3 &&
         g_strcmp0 (((DiCaseImage *)images->pdata[0])->path, "../slides/s1/m0.png") == 0,
         "path relative to the case file: %s",
         images->len ? ((DiCaseImage *)images->pdata[0])->path : "");
  g_clear_pointer (&images, g_ptr_array_unref);
  g_clear_object (&kase);

  /* Move the whole study folder. */
  CHECK (g_rename (case_a, case_b) == 0, "moved the folder");
  kase = di_case_open (path_b, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  images = di_case_dup_images (kase);
  CHECK (images->len == 3, "images after move");
  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *im = g_ptr_array_index (images, i);
      CHECK (im->status == DI_CASE_IMAGE_OK, "status after move: %d", im->status);
      CHECK (im->filename != NULL && g_str_has_prefix (im->filename, case_b), "resolved in the new place: %s",
             im->filename);
      CHECK (g_strcmp0 (im->label, "b") == 0, "labels after move");
    }
  g_clear_pointer (&images, g_ptr_array_unref);
  g_clear_object (&kase);

  /* Change one image (same size, different pixels), delete another. */
  changed_b = g_build_filename (case_b, "slides", "s1", "m1.png", NULL);
  missing_b = g_build_filename (case_b, "slides", "s1", "m2.png", NULL);
  ct_make_cell (changed_b, 36, 36, 99);
  g_unlink (missing_b);

  kase = di_case_open (path_b, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return;
  CHECK (di_case_get_image_status (kase, ids[0]) == DI_CASE_IMAGE_OK, "untouched image ok");
  CHECK (di_case_get_image_status (kase, ids[1]) == DI_CASE_IMAGE_CHANGED, "changed image flagged");
  CHECK (di_case_get_image_status (kase, ids[2]) == DI_CASE_IMAGE_MISSING, "missing image flagged");
  images = di_case_dup_images (kase);
  CHECK (images->len == 3 && ((DiCaseImage *)images->pdata[2])->filename == NULL, "missing has no file");
  CHECK (di_case_relabel (kase, ids[2], "c", "file gone", "R", &error), "a missing image can still be relabelled");
  CHECK_NO_ERROR (error);

  /* Relocating: the missing image found elsewhere; a different file refused. */
  {
    g_autofree char *elsewhere = g_build_filename (dir, "found-again.png", NULL);
    g_autofree char *wrong = g_build_filename (dir, "not-it.png", NULL);

    ct_make_cell (elsewhere, 36, 36, 32);   /* the same pixels as m2.png */
    ct_make_cell (wrong, 36, 36, 33);
    CHECK (!di_case_relocate_image (kase, ids[2], wrong, &error) &&
           g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID), "a different file refused");
    g_clear_error (&error);
    CHECK (di_case_relocate_image (kase, ids[2], elsewhere, &error), "relocated");
    CHECK_NO_ERROR (error);
    CHECK (di_case_get_image_status (kase, ids[2]) == DI_CASE_IMAGE_OK, "relocated image ok");
    g_clear_object (&kase);
    kase = di_case_open (path_b, &error);
    CHECK (kase != NULL && di_case_get_image_status (kase, ids[2]) == DI_CASE_IMAGE_OK, "ok after reopening");
    CHECK_LABEL (kase, ids[2], "c");
  }

  /* Touching a file without changing it is not a change (and is remembered). */
  {
    g_autofree char *ok_b = g_build_filename (case_b, "slides", "s1", "m0.png", NULL);
    g_autofree char *data = NULL;
    gsize len;

    g_file_get_contents (ok_b, &data, &len, NULL);
    g_file_set_contents (ok_b, data, len, NULL);
    CHECK (di_case_verify_images (kase, FALSE, NULL) == 1, "one bad image left");
    CHECK (di_case_get_image_status (kase, ids[0]) == DI_CASE_IMAGE_OK, "rewritten same bytes: ok");
    CHECK (di_case_verify_images (kase, TRUE, NULL) == 1, "full verification agrees");
  }
}

static void
test_not_a_case (const char *dir)
{
  g_autofree char *garbage = g_build_filename (dir, "garbage.dicase", NULL);
  g_autofree char *other = g_build_filename (dir, "other.sqlite", NULL);
  g_autofree char *newer = g_build_filename (dir, "newer.dicase", NULL);
  g_autofree char *good = g_build_filename (dir, "basics.dicase", NULL);
  g_autofree char *truncated = g_build_filename (dir, "truncated.dicase", NULL);
  g_autofree char *sql = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;
  char junk[4096];

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (char)(i * 7 + 3);
  g_file_set_contents (garbage, junk, sizeof junk, NULL);
  kase = di_case_open (garbage, &error);
  CHECK (kase == NULL && g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE),
         "garbage refused: %s", error ? error->message : "opened");
  g_clear_error (&error);
  g_clear_object (&kase);

  raw_exec (other, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  kase = di_case_open (other, &error);
  CHECK (kase == NULL && g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE),
         "another program's database refused");
  CHECK (raw_int (other, "SELECT count(*) FROM sqlite_master") == 1, "and left alone");
  g_clear_error (&error);
  g_clear_object (&kase);

  sql = g_strdup_printf ("CREATE TABLE images (id); PRAGMA application_id = %d; PRAGMA user_version = 99;",
                         DI_CASE_APPLICATION_ID);
  raw_exec (newer, sql);
  kase = di_case_open (newer, &error);
  CHECK (kase == NULL && g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_TOO_NEW), "newer refused");
  g_clear_error (&error);
  g_clear_object (&kase);

  kase = di_case_open (dir, &error);
  CHECK (kase == NULL && error != NULL, "a folder refused");
  g_clear_error (&error);
  g_clear_object (&kase);

  /* A damaged copy: whatever happens, no crash, and no success with wrong data. */
  if (g_file_get_contents (good, &data, &len, NULL) && len > 4096)
    {
      g_file_set_contents (truncated, data, len / 2, NULL);
      kase = di_case_open (truncated, &error);
      if (kase != NULL)
        {
          g_autoptr(GPtrArray) images = di_case_dup_images (kase);
          CHECK (images != NULL, "truncated copy readable or refused");
        }
      else
        CHECK (error != NULL, "truncated copy refused with an error");
      g_clear_error (&error);
      g_clear_object (&kase);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = ct_make_tmpdir ("case-db");

  test_basics (dir);
  test_undo_redo (dir);
  test_two_writers (dir);
  test_read_only (dir);
  test_migration (dir);
  test_moved_and_changed (dir);
  test_not_a_case (dir);

  return ct_finish ();
}
