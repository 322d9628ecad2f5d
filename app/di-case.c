/* di-case.c — a review case: one SQLite database per case.
 *
 * The database (WAL, synchronous=FULL, foreign keys on) holds:
 *
 *   images       path relative to the case file's folder, the absolute path
 *                when added (a fallback), SHA-256, size, mtime, time added
 *   models       SHA-256, name, class names (JSON), and model_meta: every
 *                metadata key of the model file
 *   predictions  model name and SHA-256, probabilities and logits (JSON
 *                arrays in the model's class order), temperature, time,
 *                and the class each view put first (view_classes, names)
 *   explanations stored maps (float32 blobs) for reports
 *   reviews      APPEND-ONLY (triggers refuse UPDATE and DELETE): label,
 *                note, reviewer, time, the previous label and note, and a
 *                kind: "edit", "undo" or "redo" (with the row it targets)
 *   regions      rectangles with a label and its probability
 *
 * The current label and note of an image are those of its latest review
 * row. Undo and redo append rows too, so the undo and redo stacks are a
 * pure function of the reviews table: replaying it (edit: push on the undo
 * stack, clear the redo stack; undo of E: move E to the redo stack; redo of
 * E: move it back) gives the same stacks after reopening the case.
 *
 * The schema is built by migrations only: version 0 -> 1 creates the first
 * schema, 1 -> 2, 2 -> 3 and 3 -> 4 upgrade it, so a new case runs the same
 * upgrade code that an old case does. PRAGMA user_version is the schema
 * version; an older DeepInsight refuses a case of a newer schema (the copy
 * kept before each upgrade still opens there).
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-case"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "di-case.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

typedef struct
{
  DiCaseImageStatus status;
  char *filename;
} ImageState;

struct _DiCase
{
  GObject parent_instance;

  /* Owned References */
  sqlite3 *db;
  char *filename;          /* absolute */
  char *folder;            /* absolute, the case file's folder */
  GHashTable *states;      /* gint64* id -> ImageState* */

  int schema_version;
  gboolean snapshot;     /* an in-memory copy (di_case_open_snapshot) */
  guint can_undo : 1;
  guint can_redo : 1;

  /* Whose steps undo may take back: rows this connection wrote, and rows
   * older than its opening (from earlier sessions); not another window's
   * or process's written since. */
  gint64 opened_at_review;   /* the newest review row at opening */
  gint64 pending_review;     /* written, not committed yet */
  GHashTable *own_reviews;   /* gint64* review row ids, committed */
  gint64 data_version;       /* PRAGMA data_version last seen */
};

G_DEFINE_FINAL_TYPE (DiCase, di_case, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_FILENAME,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  N_PROPS
};

enum {
  IMAGE_ADDED,
  REVIEW_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_QUARK (di-case-error-quark, di_case_error)

/* ---- Boxed records ------------------------------------------------- */

static char **
strv_dup_n (char * const *v,
            int           n)
{
  char **out;

  if (v == NULL)
    return NULL;
  out = g_new0 (char *, n + 1);
  for (int i = 0; i < n; i++)
    out[i] = g_strdup (v[i]);
  return out;
}

DiCaseImage *
di_case_image_copy (const DiCaseImage *image)
{
  DiCaseImage *copy = g_new0 (DiCaseImage, 1);

  *copy = *image;
  copy->path = g_strdup (image->path);
  copy->filename = g_strdup (image->filename);
  copy->sha256 = g_strdup (image->sha256);
  copy->added = image->added ? g_date_time_ref (image->added) : NULL;
  copy->label = g_strdup (image->label);
  copy->note = g_strdup (image->note);
  copy->reviewer = g_strdup (image->reviewer);
  copy->reviewed = image->reviewed ? g_date_time_ref (image->reviewed) : NULL;
  copy->predicted = g_strdup (image->predicted);
  copy->model_sha256 = g_strdup (image->model_sha256);
  return copy;
}

void
di_case_image_free (DiCaseImage *image)
{
  if (image == NULL)
    return;
  g_free (image->path);
  g_free (image->filename);
  g_free (image->sha256);
  g_clear_pointer (&image->added, g_date_time_unref);
  g_free (image->label);
  g_free (image->note);
  g_free (image->reviewer);
  g_clear_pointer (&image->reviewed, g_date_time_unref);
  g_free (image->predicted);
  g_free (image->model_sha256);
  g_free (image);
}

G_DEFINE_BOXED_TYPE (DiCaseImage, di_case_image, di_case_image_copy, di_case_image_free)

DiCaseModel *
di_case_model_copy (const DiCaseModel *model)
{
  DiCaseModel *copy = g_new0 (DiCaseModel, 1);
  GHashTableIter iter;
  gpointer key, value;

  copy->sha256 = g_strdup (model->sha256);
  copy->name = g_strdup (model->name);
  copy->n_classes = model->n_classes;
  copy->classes = strv_dup_n (model->classes, model->n_classes);
  if (model->abnormal != NULL)
    copy->abnormal = g_memdup2 (model->abnormal, sizeof (int) * MAX (1, model->n_classes));
  copy->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (model->metadata != NULL)
    {
      g_hash_table_iter_init (&iter, model->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (copy->metadata, g_strdup (key), g_strdup (value));
    }
  return copy;
}

void
di_case_model_free (DiCaseModel *model)
{
  if (model == NULL)
    return;
  g_free (model->sha256);
  g_free (model->name);
  g_strfreev (model->classes);
  g_free (model->abnormal);
  g_clear_pointer (&model->metadata, g_hash_table_unref);
  g_free (model);
}

G_DEFINE_BOXED_TYPE (DiCaseModel, di_case_model, di_case_model_copy, di_case_model_free)

/**
 * di_case_model_find_class:
 *
 * Returns: the index of class @name, or -1
 */
int
di_case_model_find_class (const DiCaseModel *model,
                          const char        *name)
{
  g_return_val_if_fail (model != NULL, -1);

  if (name == NULL)
    return -1;
  for (int i = 0; i < model->n_classes; i++)
    if (g_strcmp0 (model->classes[i], name) == 0)
      return i;
  return -1;
}

DiCaseEvent *
di_case_event_copy (const DiCaseEvent *event)
{
  DiCaseEvent *copy = g_new0 (DiCaseEvent, 1);

  *copy = *event;
  copy->time = event->time ? g_date_time_ref (event->time) : NULL;
  copy->label = g_strdup (event->label);
  copy->note = g_strdup (event->note);
  copy->previous_label = g_strdup (event->previous_label);
  copy->previous_note = g_strdup (event->previous_note);
  copy->reviewer = g_strdup (event->reviewer);
  copy->model_name = g_strdup (event->model_name);
  copy->model_sha256 = g_strdup (event->model_sha256);
  copy->classes = strv_dup_n (event->classes, event->n_classes);
  if (event->probabilities != NULL)
    copy->probabilities = g_memdup2 (event->probabilities, sizeof (double) * MAX (1, event->n_classes));
  if (event->logits != NULL)
    copy->logits = g_memdup2 (event->logits, sizeof (double) * MAX (1, event->n_classes));
  if (event->view_top != NULL)
    copy->view_top = g_memdup2 (event->view_top, sizeof (int) * MAX (1, event->n_views));
  return copy;
}

void
di_case_event_free (DiCaseEvent *event)
{
  if (event == NULL)
    return;
  g_clear_pointer (&event->time, g_date_time_unref);
  g_free (event->label);
  g_free (event->note);
  g_free (event->previous_label);
  g_free (event->previous_note);
  g_free (event->reviewer);
  g_free (event->model_name);
  g_free (event->model_sha256);
  g_strfreev (event->classes);
  g_free (event->probabilities);
  g_free (event->logits);
  g_free (event->view_top);
  g_free (event);
}

G_DEFINE_BOXED_TYPE (DiCaseEvent, di_case_event, di_case_event_copy, di_case_event_free)

/**
 * di_case_event_get_views_split:
 *
 * Returns: for a prediction kept with several views, %TRUE when they do not
 *   all put its class first
 */
gboolean
di_case_event_get_views_split (const DiCaseEvent *event)
{
  int top = di_case_event_get_top (event), agree = 0;

  if (event->n_views < 2 || event->view_top == NULL)
    return FALSE;
  for (int d = 0; d < event->n_views; d++)
    agree += event->view_top[d] == top;
  return agree < event->n_views;
}

/**
 * di_case_event_get_top:
 *
 * Returns: for a prediction, the index of the most probable class; else -1
 */
int
di_case_event_get_top (const DiCaseEvent *event)
{
  int top = -1;

  g_return_val_if_fail (event != NULL, -1);

  if (event->probabilities == NULL)
    return -1;
  for (int i = 0; i < event->n_classes; i++)
    if (top < 0 || event->probabilities[i] > event->probabilities[top])
      top = i;
  return top;
}

/**
 * di_case_event_dup_order:
 *
 * Returns: (transfer full): for a prediction, the class indices from the
 *   most probable to the least (ties keep index order), n_classes of them;
 *   %NULL for other events
 */
int *
di_case_event_dup_order (const DiCaseEvent *event)
{
  int *order;

  g_return_val_if_fail (event != NULL, NULL);

  if (event->probabilities == NULL || event->n_classes <= 0)
    return NULL;
  order = g_new (int, event->n_classes);
  for (int i = 0; i < event->n_classes; i++)
    order[i] = i;
  for (int i = 1; i < event->n_classes; i++)
    for (int j = i; j > 0 && event->probabilities[order[j]] > event->probabilities[order[j - 1]]; j--)
      {
        int t = order[j];

        order[j] = order[j - 1];
        order[j - 1] = t;
      }
  return order;
}

/**
 * di_case_event_get_abnormal:
 * @model: (nullable): the model the prediction came from, for its grouping
 *
 * Returns: for a prediction, P(abnormal): the summed probability of the
 *   classes @model groups as abnormal (the screening flag's score, as in
 *   di_prediction_get_abnormal()); -1 when there is no grouping or no
 *   prediction
 */
double
di_case_event_get_abnormal (const DiCaseEvent *event,
                            const DiCaseModel *model)
{
  double p = 0;
  gboolean grouped = FALSE;

  g_return_val_if_fail (event != NULL, -1);

  if (event->probabilities == NULL || model == NULL || model->abnormal == NULL)
    return -1;
  for (int i = 0; i < event->n_classes; i++)
    {
      int j = di_case_model_find_class (model, event->classes[i]);

      if (j < 0 || model->abnormal[j] < 0)
        continue;
      grouped = TRUE;
      if (model->abnormal[j] == 1)
        p += event->probabilities[i];
    }
  return grouped ? p : -1;
}

DiCaseRegion *
di_case_region_copy (const DiCaseRegion *region)
{
  DiCaseRegion *copy = g_new0 (DiCaseRegion, 1);

  *copy = *region;
  copy->label = g_strdup (region->label);
  return copy;
}

void
di_case_region_free (DiCaseRegion *region)
{
  if (region == NULL)
    return;
  g_free (region->label);
  g_free (region);
}

G_DEFINE_BOXED_TYPE (DiCaseRegion, di_case_region, di_case_region_copy, di_case_region_free)

DiCaseExplanation *
di_case_explanation_copy (const DiCaseExplanation *explanation)
{
  DiCaseExplanation *copy = g_new0 (DiCaseExplanation, 1);

  *copy = *explanation;
  copy->model_sha256 = g_strdup (explanation->model_sha256);
  copy->method = g_strdup (explanation->method);
  copy->values = g_memdup2 (explanation->values,
                            sizeof (float) * MAX (1, explanation->width * explanation->height));
  return copy;
}

void
di_case_explanation_free (DiCaseExplanation *explanation)
{
  if (explanation == NULL)
    return;
  g_free (explanation->model_sha256);
  g_free (explanation->method);
  g_free (explanation->values);
  g_free (explanation);
}

G_DEFINE_BOXED_TYPE (DiCaseExplanation, di_case_explanation,
                     di_case_explanation_copy, di_case_explanation_free)

static void
image_state_free (gpointer data)
{
  ImageState *state = data;

  g_free (state->filename);
  g_free (state);
}

/* ---- SQL helpers ---------------------------------------------------- */

static gboolean
set_sql_error (DiCase      *self,
               GError     **error,
               int          rc,
               const char  *what)
{
  int code = DI_CASE_ERROR_FAILED;

  switch (rc & 0xff)
    {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      code = DI_CASE_ERROR_NOT_A_CASE;
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = DI_CASE_ERROR_IO;
      break;
    default:
      break;
    }

  g_set_error (error, DI_CASE_ERROR, code,
               /* TRANSLATORS: "%s: %s (%s)": case file, what failed, SQLite's message */
               _("%s: %s (%s)"),
               self->filename, what,
               self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
  return FALSE;
}

static sqlite3_stmt *
prepare (DiCase      *self,
         const char  *sql,
         GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      set_sql_error (self, error, rc, _("cannot read the case"));
      return NULL;
    }
  return stmt;
}

static gboolean
exec (DiCase      *self,
      const char  *sql,
      GError     **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, DI_CASE_ERROR,
                   (rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT
                     ? DI_CASE_ERROR_NOT_A_CASE : DI_CASE_ERROR_IO,
                   _("%s: %s (%s)"), self->filename, _("cannot write the case"),
                   message ? message : sqlite3_errstr (rc));
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

static void
rollback (DiCase *self)
{
  self->pending_review = 0;
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

static void
bind_text (sqlite3_stmt *stmt,
           int           i,
           const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}

static char *
column_dup (sqlite3_stmt *stmt,
            int           i)
{
  const unsigned char *text = sqlite3_column_text (stmt, i);

  return text ? g_strdup ((const char *)text) : NULL;
}

static GDateTime *
column_time (sqlite3_stmt *stmt,
             int           i)
{
  const char *text = (const char *)sqlite3_column_text (stmt, i);

  return text ? g_date_time_new_from_iso8601 (text, NULL) : NULL;
}

/* Single integer result of a query with no parameters, or fallback. */
static gint64
query_int (DiCase     *self,
           const char *sql,
           gint64      fallback,
           int        *rc_out)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  gint64 value = fallback;

  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          value = sqlite3_column_int64 (stmt, 0);
          rc = SQLITE_OK;
        }
      else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    }
  if (rc_out != NULL)
    *rc_out = rc;
  return value;
}

/**
 * di_case_format_time:
 *
 * Returns: (transfer full): @time in UTC as 2025-01-31T12:34:56.123456Z,
 *   the fixed-width form the case stores (it sorts as text)
 */
char *
di_case_format_time (GDateTime *time)
{
  g_autoptr(GDateTime) utc = NULL;

  g_return_val_if_fail (time != NULL, NULL);

  utc = g_date_time_to_utc (time);
  return g_date_time_format (utc, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static char *
now_string (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return di_case_format_time (now);
}

/* ---- JSON arrays ---------------------------------------------------- */

static void
append_json_string (GString    *s,
                    const char *str)
{
  g_string_append_c (s, '"');
  for (const char *p = str; *p; p++)
    {
      guchar c = (guchar)*p;

      switch (c)
        {
        case '"': g_string_append (s, "\\\""); break;
        case '\\': g_string_append (s, "\\\\"); break;
        case '\n': g_string_append (s, "\\n"); break;
        case '\r': g_string_append (s, "\\r"); break;
        case '\t': g_string_append (s, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (s, "\\u%04x", c);
          else
            g_string_append_c (s, (char)c);
        }
    }
  g_string_append_c (s, '"');
}

static char *
json_float_array (const float *v,
                  int          n)
{
  GString *s = g_string_new ("[");
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      if (isfinite (v[i]))
        g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.9g", v[i]));
      else
        g_string_append (s, "null");
    }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
json_string_array (const char * const *v)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      append_json_string (s, v[i]);
    }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Parses a JSON array with SQLite's json_each(). Returns the element count
 * (-1 when it is not an array) and fills either doubles or strings. */
static int
parse_json_array (DiCase      *self,
                  const char  *json,
                  double     **doubles,
                  char      ***strings)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GArray) d = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GPtrArray) s = g_ptr_array_new_with_free_func (g_free);

  if (json == NULL ||
      sqlite3_prepare_v2 (self->db,
                          "SELECT value, type FROM json_each(?) "
                          "WHERE json_type(?) = 'array' ORDER BY key",
                          -1, &stmt, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text (stmt, 1, json, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, json, -1, SQLITE_STATIC);

  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      double v = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 0);

      g_array_append_val (d, v);
      /* a JSON null as "", so the string vector stays whole */
      g_ptr_array_add (s, sqlite3_column_type (stmt, 0) == SQLITE_NULL ? g_strdup ("") : column_dup (stmt, 0));
    }

  if (doubles != NULL)
    *doubles = d->len ? g_memdup2 (d->data, sizeof (double) * d->len) : NULL;
  if (strings != NULL)
    {
      g_ptr_array_add (s, NULL);
      *strings = (char **)g_ptr_array_steal (s, NULL);
    }
  return (int)d->len;
}

/* ---- Paths ---------------------------------------------------------- */

/* path relative to dir (both absolute and canonical), '/'-separated. */
static char *
make_relative (const char *dir,
               const char *path)
{
  g_auto(GStrv) a = g_strsplit (dir, "/", -1);
  g_auto(GStrv) b = g_strsplit (path, "/", -1);
  guint na = 0, nb = 0, common = 0;
  GString *s = g_string_new (NULL);

  /* Drop empty components ("/" at the start, or a trailing slash). */
  for (guint i = 0; a[i]; i++)
    if (*a[i])
      a[na++] = a[i];
    else
      g_free (a[i]);
  a[na] = NULL;
  for (guint i = 0; b[i]; i++)
    if (*b[i])
      b[nb++] = b[i];
    else
      g_free (b[i]);
  b[nb] = NULL;

  while (common < na && common < nb && strcmp (a[common], b[common]) == 0)
    common++;

  for (guint i = common; i < na; i++)
    g_string_append (s, "../");
  for (guint i = common; i < nb; i++)
    {
      g_string_append (s, b[i]);
      if (i + 1 < nb)
        g_string_append_c (s, '/');
    }
  return g_string_free (s, FALSE);
}

static gboolean
stat_file (const char *filename,
           gint64     *size,
           gint64     *mtime_us)
{
  struct stat st;

  if (stat (filename, &st) != 0 || !S_ISREG (st.st_mode))
    return FALSE;
  if (size)
    *size = st.st_size;
  if (mtime_us)
    *mtime_us = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  return TRUE;
}

/**
 * di_case_compute_sha256:
 * @size: (out) (optional): the file's size in bytes
 *
 * Returns: (transfer full): the file's SHA-256 as lower-case hex, or %NULL
 */
char *
di_case_compute_sha256 (const char  *filename,
                        gint64      *size,
                        GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (1 << 16);
  gint64 total = 0;
  FILE *f;
  size_t n;

  g_return_val_if_fail (filename != NULL, NULL);

  f = g_fopen (filename, "rb");
  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", filename, g_strerror (saved));
      return NULL;
    }
  while ((n = fread (buf, 1, 1 << 16, f)) > 0)
    {
      g_checksum_update (checksum, buf, n);
      total += n;
    }
  if (ferror (f))
    {
      int saved = errno;
      fclose (f);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", filename, g_strerror (saved));
      return NULL;
    }
  fclose (f);

  if (size != NULL)
    *size = total;
  return g_strdup (g_checksum_get_string (checksum));
}

/* ---- Schema and migrations ------------------------------------------ */

/* Version 1, the first schema (kept verbatim: old cases start here). */
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
  "  time TEXT NOT NULL);";

/* 1 -> 2: sizes and mtimes, models and their metadata, logits and
 * temperature, previous label/note and undo/redo rows, append-only
 * triggers, regions, explanations, case metadata. */
static const char migrate_v1_v2[] =
  "ALTER TABLE images ADD COLUMN original_path TEXT;"
  "ALTER TABLE images ADD COLUMN size INTEGER NOT NULL DEFAULT -1;"
  "ALTER TABLE images ADD COLUMN mtime INTEGER;"
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
  "CREATE TABLE models ("
  "  sha256 TEXT PRIMARY KEY,"
  "  name TEXT NOT NULL,"
  "  classes TEXT NOT NULL,"
  "  added TEXT NOT NULL);"
  "CREATE TABLE model_meta ("
  "  model_sha256 TEXT NOT NULL REFERENCES models(sha256),"
  "  key TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (model_sha256, key));"
  "INSERT OR IGNORE INTO models (sha256, name, classes, added)"
  "  SELECT model_sha256, model, classes, MIN(time) FROM predictions GROUP BY model_sha256;"
  "ALTER TABLE predictions RENAME COLUMN model TO model_name;"
  "ALTER TABLE predictions ADD COLUMN predicted TEXT;"
  "ALTER TABLE predictions ADD COLUMN logits TEXT;"
  "ALTER TABLE predictions ADD COLUMN temperature REAL NOT NULL DEFAULT 1;"
  "UPDATE predictions SET predicted = ("
  "  SELECT json_extract(predictions.classes, '$[' || p.key || ']')"
  "  FROM json_each(predictions.probabilities) p ORDER BY p.value DESC, p.key LIMIT 1);"
  "ALTER TABLE predictions DROP COLUMN classes;"
  "CREATE INDEX predictions_image ON predictions (image_id, model_sha256);"
  "ALTER TABLE reviews ADD COLUMN kind TEXT NOT NULL DEFAULT 'edit';"
  "ALTER TABLE reviews ADD COLUMN previous_label TEXT;"
  "ALTER TABLE reviews ADD COLUMN previous_note TEXT;"
  "ALTER TABLE reviews ADD COLUMN target INTEGER REFERENCES reviews(id);"
  "UPDATE reviews SET"
  "  previous_label = (SELECT r.label FROM reviews r WHERE r.image_id = reviews.image_id"
  "                    AND r.id < reviews.id ORDER BY r.id DESC LIMIT 1),"
  "  previous_note = (SELECT r.note FROM reviews r WHERE r.image_id = reviews.image_id"
  "                   AND r.id < reviews.id ORDER BY r.id DESC LIMIT 1);"
  "CREATE INDEX reviews_image ON reviews (image_id, id);"
  "CREATE TRIGGER reviews_append_only_update BEFORE UPDATE ON reviews"
  "  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;"
  "CREATE TRIGGER reviews_append_only_delete BEFORE DELETE ON reviews"
  "  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;"
  "CREATE TABLE regions ("
  "  id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id),"
  "  x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,"
  "  label TEXT,"
  "  time TEXT NOT NULL);"
  "CREATE INDEX regions_image ON regions (image_id);"
  "CREATE TABLE explanations ("
  "  id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id),"
  "  model_sha256 TEXT NOT NULL,"
  "  method TEXT NOT NULL,"
  "  stage INTEGER NOT NULL,"
  "  target INTEGER NOT NULL,"
  "  width INTEGER NOT NULL,"
  "  height INTEGER NOT NULL,"
  "  map BLOB NOT NULL,"
  "  time TEXT NOT NULL);"
  "CREATE INDEX explanations_image ON explanations (image_id, model_sha256, method);";

/* 2 -> 3: a region keeps the probability of its class (NULL: unknown,
 * which is what every region saved before has). */
static const char migrate_v2_v3[] =
  "ALTER TABLE regions ADD COLUMN probability REAL;";

/* 3 -> 4: a prediction keeps the class each of its views (rotations and
 * mirror images) put first, a JSON array of class names (NULL: not kept,
 * which is what every prediction saved before has). */
static const char migrate_v3_v4[] =
  "ALTER TABLE predictions ADD COLUMN view_classes TEXT;";

static const char * const migrations[DI_CASE_SCHEMA_VERSION] = {
  schema_v1,      /* 0 -> 1 */
  migrate_v1_v2,  /* 1 -> 2 */
  migrate_v2_v3,  /* 2 -> 3 */
  migrate_v3_v4,  /* 3 -> 4 */
};

static gboolean
migrate (DiCase  *self,
         int      from,
         GError **error)
{
  g_autofree char *sql = NULL;
  g_autofree char *now = now_string ();
  g_autoptr(sqlite3_stmt) stmt = NULL;

  /* A copy of an existing case before it is upgraded, once per version
   * (a snapshot is upgraded in memory only: the file stays as it was). */
  if (from > 0 && !self->snapshot)
    {
      g_autofree char *backup = g_strdup_printf ("%s.v%d.bak", self->filename, from);
      g_autofree char *partial = g_strconcat (backup, ".partial", NULL);

      /* Written under another name and renamed: a crash never leaves a
       * half-written backup under the real name. */
      if (!g_file_test (backup, G_FILE_TEST_EXISTS))
        {
          g_autoptr(sqlite3_stmt) vacuum = prepare (self, "VACUUM INTO ?", error);

          if (vacuum == NULL)
            return FALSE;
          g_unlink (partial);
          sqlite3_bind_text (vacuum, 1, partial, -1, SQLITE_STATIC);
          /* No backup, no upgrade: an upgraded case no longer opens in the
           * older DeepInsight, and the user was promised a copy. */
          if (sqlite3_step (vacuum) != SQLITE_DONE)
            {
              g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_IO,
                           _("%s: could not write a backup copy before upgrading the case (%s); "
                             "the case was left as it was"),
                           self->filename, sqlite3_errmsg (self->db));
              g_unlink (partial);
              return FALSE;
            }
          if (g_rename (partial, backup) != 0)
            {
              int saved = errno;

              g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_IO,
                           _("%s: could not write a backup copy before upgrading the case (%s); "
                             "the case was left as it was"),
                           self->filename, g_strerror (saved));
              g_unlink (partial);
              return FALSE;
            }
        }
    }

  if (!exec (self, "BEGIN EXCLUSIVE", error))
    return FALSE;

  /* Someone else may have migrated it meanwhile. */
  from = (int)query_int (self, "PRAGMA user_version", 0, NULL);

  for (int v = from; v < DI_CASE_SCHEMA_VERSION; v++)
    {
      g_debug ("Migrating %s from schema %d to %d", self->filename, v, v + 1);
      if (!exec (self, migrations[v], error))
        {
          rollback (self);
          return FALSE;
        }
    }

  if (from < DI_CASE_SCHEMA_VERSION)
    {
      sql = g_strdup_printf ("PRAGMA application_id = %d; PRAGMA user_version = %d;",
                             DI_CASE_APPLICATION_ID, DI_CASE_SCHEMA_VERSION);
      if (!exec (self, sql, error))
        {
          rollback (self);
          return FALSE;
        }
      stmt = prepare (self, "INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)", error);
      if (stmt == NULL)
        {
          rollback (self);
          return FALSE;
        }
      sqlite3_bind_text (stmt, 1, now, -1, SQLITE_STATIC);
      sqlite3_step (stmt);
    }

  if (!exec (self, "COMMIT", error))
    {
      rollback (self);
      return FALSE;
    }
  return TRUE;
}

/* ---- Undo and redo stacks, replayed from the reviews table ---------- */

/* A step of the undo or redo stack: the edit row it is about, and the row
 * that put it there (the edit itself, or the undo / redo row). */
typedef struct
{
  gint64 target;
  gint64 by;
} StackStep;

static void
stack_remove (GArray *stack,
              gint64  id)
{
  for (guint i = stack->len; i > 0; i--)
    if (g_array_index (stack, StackStep, i - 1).target == id)
      {
        g_array_remove_index (stack, i - 1);
        return;
      }
}

static void
stack_push (GArray *stack,
            gint64  target,
            gint64  by)
{
  StackStep step = { target, by };

  g_array_append_val (stack, step);
}

static gboolean
replay_stacks (DiCase  *self,
               GArray  *undo,
               GArray  *redo,
               GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "SELECT id, kind, target FROM reviews ORDER BY id", error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  g_array_set_size (undo, 0);
  g_array_set_size (redo, 0);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      const char *kind = (const char *)sqlite3_column_text (stmt, 1);
      gint64 target = sqlite3_column_int64 (stmt, 2);

      if (g_strcmp0 (kind, "undo") == 0)
        {
          stack_remove (undo, target);
          stack_push (redo, target, id);
        }
      else if (g_strcmp0 (kind, "redo") == 0)
        {
          stack_remove (redo, target);
          stack_push (undo, target, id);
        }
      else
        {
          stack_push (undo, id, id);
          g_array_set_size (redo, 0);
        }
    }

  if (rc != SQLITE_DONE)
    return set_sql_error (self, error, rc, _("cannot read the reviews"));
  return TRUE;
}

static void
update_undo_state (DiCase *self)
{
  g_autoptr(GArray) undo = g_array_new (FALSE, FALSE, sizeof (StackStep));
  g_autoptr(GArray) redo = g_array_new (FALSE, FALSE, sizeof (StackStep));
  g_autoptr(GError) error = NULL;
  gboolean can_undo = FALSE, can_redo = FALSE;

  if (replay_stacks (self, undo, redo, &error))
    {
      can_undo = undo->len > 0;
      can_redo = redo->len > 0;
    }
  else
    g_warning ("%s", error->message);

  if (can_undo != self->can_undo)
    {
      self->can_undo = can_undo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
    }
  if (can_redo != self->can_redo)
    {
      self->can_redo = can_redo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
    }
}

/* ---- GObject -------------------------------------------------------- */

static void
di_case_dispose (GObject *object)
{
  DiCase *self = (DiCase *)object;

  if (self->db != NULL)
    {
      sqlite3_close_v2 (self->db);
      self->db = NULL;
    }
  g_clear_pointer (&self->states, g_hash_table_unref);

  G_OBJECT_CLASS (di_case_parent_class)->dispose (object);
}

static void
di_case_finalize (GObject *object)
{
  DiCase *self = (DiCase *)object;

  g_clear_pointer (&self->filename, g_free);
  g_clear_pointer (&self->folder, g_free);
  g_clear_pointer (&self->own_reviews, g_hash_table_unref);

  G_OBJECT_CLASS (di_case_parent_class)->finalize (object);
}

static void
di_case_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  DiCase *self = DI_CASE (object);

  switch (prop_id)
    {
    case PROP_FILENAME:
      g_value_set_string (value, self->filename);
      break;

    case PROP_CAN_UNDO:
      g_value_set_boolean (value, self->can_undo);
      break;

    case PROP_CAN_REDO:
      g_value_set_boolean (value, self->can_redo);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_case_class_init (DiCaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = di_case_dispose;
  object_class->finalize = di_case_finalize;
  object_class->get_property = di_case_get_property;

  properties[PROP_FILENAME] =
    g_param_spec_string ("filename", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  properties[PROP_CAN_UNDO] =
    g_param_spec_boolean ("can-undo", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CAN_REDO] =
    g_param_spec_boolean ("can-redo", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DiCase::image-added:
   * @image_id: the new image
   */
  signals[IMAGE_ADDED] =
    g_signal_new ("image-added",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * DiCase::review-changed:
   * @image_id: the image whose label or note changed (relabel, note,
   *   undo or redo), emitted after the row is durable
   */
  signals[REVIEW_CHANGED] =
    g_signal_new ("review-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
di_case_init (DiCase *self)
{
  self->states = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, image_state_free);
  self->own_reviews = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

/* ---- Opening -------------------------------------------------------- */

static void
set_state (DiCase            *self,
           gint64             id,
           DiCaseImageStatus  status,
           const char        *filename)
{
  ImageState *state = g_new0 (ImageState, 1);

  state->status = status;
  state->filename = g_strdup (filename);
  g_hash_table_replace (self->states, g_memdup2 (&id, sizeof id), state);
}

/* Where an image is now: relative to the case folder, else where it was
 * when added. NULL when neither exists. */
static char *
resolve_image (DiCase     *self,
               const char *path,
               const char *original)
{
  g_autofree char *filename = g_canonicalize_filename (path, self->folder);

  if (stat_file (filename, NULL, NULL))
    return g_steal_pointer (&filename);
  if (original != NULL && stat_file (original, NULL, NULL))
    return g_strdup (original);
  return NULL;
}

/**
 * di_case_verify_images:
 * @full: recompute every SHA-256; otherwise only files whose size or
 *   modification time differ from the recorded ones are hashed
 *
 * Checks that every image is where the case says and unchanged, and
 * records the result (di_case_get_image_status()). Called when the case is
 * opened, with @full %FALSE.
 *
 * Returns: the number of images that are missing or changed
 */
guint
di_case_verify_images (DiCase       *self,
                       gboolean      full,
                       GCancellable *cancellable)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GArray) refresh = g_array_new (FALSE, FALSE, sizeof (gint64) * 3);
  guint bad = 0;

  g_return_val_if_fail (DI_IS_CASE (self), 0);

  stmt = prepare (self, "SELECT id, path, original_path, sha256, size, mtime FROM images", NULL);
  if (stmt == NULL)
    return 0;

  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      const char *path = (const char *)sqlite3_column_text (stmt, 1);
      const char *original = (const char *)sqlite3_column_text (stmt, 2);
      const char *sha256 = (const char *)sqlite3_column_text (stmt, 3);
      gint64 size = sqlite3_column_int64 (stmt, 4);
      gboolean has_mtime = sqlite3_column_type (stmt, 5) != SQLITE_NULL;
      gint64 mtime = sqlite3_column_int64 (stmt, 5);
      g_autofree char *filename = NULL;
      gint64 now_size = 0, now_mtime = 0;
      DiCaseImageStatus status = DI_CASE_IMAGE_OK;

      if (g_cancellable_is_cancelled (cancellable))
        break;

      filename = resolve_image (self, path ? path : "", original);
      if (filename == NULL || !stat_file (filename, &now_size, &now_mtime))
        status = DI_CASE_IMAGE_MISSING;
      else if (size >= 0 && now_size != size)
        status = DI_CASE_IMAGE_CHANGED;
      else if (full || !has_mtime || now_mtime != mtime)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *digest = di_case_compute_sha256 (filename, &now_size, &error);

          if (digest == NULL)
            status = DI_CASE_IMAGE_MISSING;
          else if (g_strcmp0 (digest, sha256) != 0)
            status = DI_CASE_IMAGE_CHANGED;
          else
            {
              /* Same content: remember size and time to skip hashing next time. */
              gint64 row[3] = { id, now_size, now_mtime };
              g_array_append_val (refresh, row);
            }
        }

      if (status != DI_CASE_IMAGE_OK)
        {
          g_debug ("%s: image %s is %s", self->filename, path,
                   status == DI_CASE_IMAGE_MISSING ? "missing" : "changed");
          bad++;
        }
      set_state (self, id, status, filename);
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  if (refresh->len > 0 && exec (self, "BEGIN IMMEDIATE", NULL))
    {
      g_autoptr(sqlite3_stmt) update = prepare (self, "UPDATE images SET size = ?, mtime = ? WHERE id = ?", NULL);

      for (guint i = 0; update != NULL && i < refresh->len; i++)
        {
          const gint64 *row = (const gint64 *)(refresh->data + i * sizeof (gint64) * 3);

          sqlite3_reset (update);
          sqlite3_bind_int64 (update, 1, row[1]);
          sqlite3_bind_int64 (update, 2, row[2]);
          sqlite3_bind_int64 (update, 3, row[0]);
          sqlite3_step (update);
        }
      if (!exec (self, "COMMIT", NULL))
        rollback (self);
    }

  return bad;
}

static gboolean finish_open (DiCase  *self,
                             gint64   version,
                             GError **error);

/* Whether the database's application id, schema version and table count
 * make it a case this DeepInsight reads (an empty one, a new case, when
 * empty_ok). */
static gboolean
check_is_case (DiCase   *self,
               gint64    app_id,
               gint64    version,
               gint64    tables,
               gboolean  empty_ok,
               GError  **error)
{
  if ((app_id != 0 && app_id != DI_CASE_APPLICATION_ID) || (version == 0 && tables > 0) ||
      (tables == 0 && !empty_ok))
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE,
                   _("%s: not a DeepInsight case (another program's database)"), self->filename);
      return FALSE;
    }
  if (version > DI_CASE_SCHEMA_VERSION)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_TOO_NEW,
                   _("%s: written by a newer DeepInsight (case version %d, this one reads up to %d)"),
                   self->filename, (int)version, DI_CASE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

static DiCase *
set_read_only_error (DiCase  *self,
                     GError **error)
{
  g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_READ_ONLY,
               _("%s: the case file (or its folder) is read-only: reviews could not be saved in it"),
               self->filename);
  return NULL;
}

/**
 * di_case_open:
 * @filename: the case file; created (with its schema) when it does not exist
 *
 * Opens a case, upgrading an older schema (after copying the file to
 * FILENAME.vN.bak), and checks its images.
 *
 * Returns: (transfer full): the case, or %NULL with @error set
 */
DiCase *
di_case_open (const char  *filename,
              GError     **error)
{
  g_autoptr(DiCase) self = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 app_id, version, tables;
  int rc;

  g_return_val_if_fail (filename != NULL, NULL);

  self = g_object_new (DI_TYPE_CASE, NULL);
  self->filename = g_canonicalize_filename (filename, NULL);
  self->folder = g_path_get_dirname (self->filename);

  if (g_file_test (self->filename, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE,
                   _("%s: is a folder, not a case file"), self->filename);
      return NULL;
    }

  rc = sqlite3_open_v2 (self->filename, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      set_sql_error (self, error, rc, _("cannot open the case"));
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, 5000);

  /* The first read tells a case from any other file. */
  app_id = query_int (self, "PRAGMA application_id", 0, &rc);
  /* (a case in WAL mode cannot even be read without writing beside it:
   * in a read-only folder its -wal and -shm files cannot be made) */
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_NOTADB &&
      (sqlite3_db_readonly (self->db, "main") == 1 || g_access (self->folder, W_OK) != 0))
    return set_read_only_error (self, error);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE,
                   _("%s: not a case file (%s)"), self->filename, sqlite3_errmsg (self->db));
      return NULL;
    }
  version = query_int (self, "PRAGMA user_version", 0, NULL);
  tables = query_int (self, "SELECT count(*) FROM sqlite_master", 0, NULL);

  if (!check_is_case (self, app_id, version, tables, TRUE, error))
    return NULL;

  /* SQLite opens a file it may not write read-only, and says so only at
   * the first write: every review would fail, or (images not added) be
   * kept in memory only. */
  if (sqlite3_db_readonly (self->db, "main") == 1)
    return set_read_only_error (self, error);

  stmt = prepare (self, "PRAGMA journal_mode = WAL", error);
  if (stmt == NULL)
    return NULL;
  if (sqlite3_step (stmt) != SQLITE_ROW ||
      g_ascii_strcasecmp ((const char *)sqlite3_column_text (stmt, 0), "wal") != 0)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot switch to write-ahead logging"));
      return NULL;
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  if (!exec (self, "PRAGMA synchronous = FULL;", error) || !finish_open (self, version, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* The end of an open, on a file or a snapshot: foreign keys, the schema
 * upgraded, the undo state and the images checked. */
static gboolean
finish_open (DiCase  *self,
             gint64   version,
             GError **error)
{
  if (!exec (self, "PRAGMA foreign_keys = ON;", error))
    return FALSE;
  if (version < DI_CASE_SCHEMA_VERSION && !migrate (self, (int)version, error))
    return FALSE;
  self->schema_version = DI_CASE_SCHEMA_VERSION;

  self->opened_at_review = query_int (self, "SELECT coalesce(max(id), 0) FROM reviews", 0, NULL);
  self->data_version = query_int (self, "PRAGMA data_version", 0, NULL);
  di_case_verify_images (self, FALSE, NULL);
  update_undo_state (self);
  return TRUE;
}

/* Opens filename read-only as a URI with the given query ("mode=ro",
 * "immutable=1") and reads its application_id: SQLITE_OK, or the error. */
static int
open_read_only (const char  *filename,
                const char  *query,
                sqlite3    **db)
{
  g_autofree char *uri = g_filename_to_uri (filename, NULL, NULL);
  g_autofree char *with_query = uri ? g_strconcat (uri, "?", query, NULL) : NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  *db = NULL;
  if (with_query == NULL)
    return SQLITE_CANTOPEN;
  rc = sqlite3_open_v2 (with_query, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (*db, "PRAGMA application_id", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (stmt);
      rc = rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode (*db);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_OK)
    g_clear_pointer (db, sqlite3_close);
  return rc;
}

/**
 * di_case_open_snapshot:
 * @filename: an existing case file
 *
 * Opens a copy of the case in memory, for reading where the file may not
 * be written (an archived case, a read-only share): exports work as on the
 * file, an older schema is upgraded in the copy only, and whatever is
 * written goes nowhere. The file is never written, and no -wal or -shm
 * file is made beside it. A case whose last changes still sit in its -wal
 * file (not closed cleanly) is read with them where SQLite can, and
 * refused otherwise.
 *
 * Returns: (transfer full): the snapshot, or %NULL with @error set
 */
DiCase *
di_case_open_snapshot (const char  *filename,
                       GError     **error)
{
  g_autoptr(DiCase) self = NULL;
  g_autofree char *wal = NULL;
  sqlite3 *src = NULL;
  sqlite3_backup *backup;
  gint64 app_id, version, tables;
  GStatBuf st;
  int rc;

  g_return_val_if_fail (filename != NULL, NULL);

  self = g_object_new (DI_TYPE_CASE, NULL);
  self->filename = g_canonicalize_filename (filename, NULL);
  self->folder = g_path_get_dirname (self->filename);
  self->snapshot = TRUE;

  if (!g_file_test (self->filename, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE,
                   _("%s: no such case file"), self->filename);
      return NULL;
    }

  /* A plain read-only open reads the -wal too, but needs its -shm (made
   * beside the file, or there already). Where it cannot, a case without
   * pending changes is read as immutable; one with them is refused rather
   * than read without its latest reviews. */
  wal = g_strconcat (self->filename, "-wal", NULL);
  rc = open_read_only (self->filename, "mode=ro", &src);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_NOTADB)
    {
      if (g_stat (wal, &st) == 0 && st.st_size > 0)
        {
          g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_READ_ONLY,
                       _("%s: the case was not closed cleanly and its last changes are in %s, which "
                         "cannot be read here; open the case once where it can be written"),
                       self->filename, wal);
          return NULL;
        }
      rc = open_read_only (self->filename, "immutable=1", &src);
    }
  if (rc != SQLITE_OK)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_A_CASE,
                   _("%s: not a case file (%s)"), self->filename, sqlite3_errstr (rc));
      return NULL;
    }

  rc = sqlite3_open_v2 (":memory:", &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc == SQLITE_OK)
    {
      backup = sqlite3_backup_init (self->db, "main", src, "main");
      rc = backup != NULL ? sqlite3_backup_step (backup, -1) : sqlite3_errcode (self->db);
      if (backup != NULL)
        sqlite3_backup_finish (backup);
      rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
  sqlite3_close (src);
  if (rc != SQLITE_OK)
    {
      set_sql_error (self, error, rc, _("cannot read the case"));
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 1);

  app_id = query_int (self, "PRAGMA application_id", 0, NULL);
  version = query_int (self, "PRAGMA user_version", 0, NULL);
  tables = query_int (self, "SELECT count(*) FROM sqlite_master", 0, NULL);
  /* (an empty database is no case to read) */
  if (!check_is_case (self, app_id, version, tables, FALSE, error))
    return NULL;
  if (!finish_open (self, version, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * di_case_get_snapshot:
 *
 * Returns: %TRUE for a case opened with di_case_open_snapshot(): nothing
 *   written to it is saved
 */
gboolean
di_case_get_snapshot (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  return self->snapshot;
}

const char *
di_case_get_filename (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), NULL);
  return self->filename;
}

/**
 * di_case_dup_folder:
 *
 * Returns: (transfer full): the folder the case file is in; image paths
 *   are relative to it
 */
char *
di_case_dup_folder (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), NULL);
  return g_strdup (self->folder);
}

/**
 * di_case_dup_title:
 *
 * Returns: (transfer full): the case file's name without ".dicase"; for
 *   a folder's own case (%DI_CASE_FOLDER_NAME), the folder's name
 */
char *
di_case_dup_title (DiCase *self)
{
  g_autofree char *base = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  base = g_path_get_basename (self->filename);
  if (g_str_equal (base, DI_CASE_FOLDER_NAME) && strcmp (self->folder, "/") != 0)
    return g_path_get_basename (self->folder);
  if (g_str_has_suffix (base, DI_CASE_SUFFIX) && strlen (base) > strlen (DI_CASE_SUFFIX))
    base[strlen (base) - strlen (DI_CASE_SUFFIX)] = '\0';
  return g_steal_pointer (&base);
}

int
di_case_get_schema_version (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), 0);
  return self->schema_version;
}

gboolean
di_case_get_can_undo (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  return self->can_undo;
}

gboolean
di_case_get_can_redo (DiCase *self)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  return self->can_redo;
}

/* ---- Images --------------------------------------------------------- */

static gint64
find_image_by_path (DiCase     *self,
                    const char *path)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "SELECT id FROM images WHERE path = ?", NULL);

  if (stmt == NULL)
    return 0;
  sqlite3_bind_text (stmt, 1, path, -1, SQLITE_STATIC);
  return sqlite3_step (stmt) == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
}

static gboolean
image_exists (DiCase  *self,
              gint64   image_id,
              GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, "SELECT 1 FROM images WHERE id = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, image_id);

      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_FOUND,
                   _("%s: no image %s in the case"), self->filename, id);
      return FALSE;
    }
  return TRUE;
}

/**
 * di_case_find_image:
 * @filename: an image file, absolute or relative to the working directory
 *
 * Returns: the id of the image stored for that place, or 0
 */
gint64
di_case_find_image (DiCase     *self,
                    const char *filename)
{
  g_autofree char *absolute = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), 0);
  g_return_val_if_fail (filename != NULL, 0);

  absolute = g_canonicalize_filename (filename, NULL);
  path = make_relative (self->folder, absolute);
  return find_image_by_path (self, path);
}

/**
 * di_case_add_image:
 * @filename: an image file, absolute or relative to the working directory
 *
 * Adds an image (its path relative to the case file, SHA-256 and size).
 * An image already in the case at that place keeps its row.
 *
 * Returns: the image's id (> 0), or 0 with @error set
 */
gint64
di_case_add_image (DiCase      *self,
                   const char  *filename,
                   GError     **error)
{
  g_autofree char *absolute = NULL;
  g_autofree char *path = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *now = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 size = 0, mtime = 0, id;

  g_return_val_if_fail (DI_IS_CASE (self), 0);
  g_return_val_if_fail (filename != NULL, 0);

  absolute = g_canonicalize_filename (filename, NULL);
  path = make_relative (self->folder, absolute);

  if ((id = find_image_by_path (self, path)) > 0)
    return id;

  if (!stat_file (absolute, NULL, &mtime))
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_IO,
                   _("%s: not a readable file"), absolute);
      return 0;
    }
  digest = di_case_compute_sha256 (absolute, &size, error);
  if (digest == NULL)
    return 0;

  now = now_string ();
  stmt = prepare (self,
                  "INSERT INTO images (path, original_path, sha256, size, mtime, added) "
                  "VALUES (?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  sqlite3_bind_text (stmt, 1, path, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, absolute, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, digest, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, size);
  sqlite3_bind_int64 (stmt, 5, mtime);
  sqlite3_bind_text (stmt, 6, now, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      int rc = sqlite3_extended_errcode (self->db);

      /* Another window or process added it while this one hashed. */
      if (rc == SQLITE_CONSTRAINT_UNIQUE && (id = find_image_by_path (self, path)) > 0)
        return id;
      set_sql_error (self, error, rc, _("cannot add the image"));
      return 0;
    }

  id = sqlite3_last_insert_rowid (self->db);
  set_state (self, id, DI_CASE_IMAGE_OK, absolute);
  g_signal_emit (self, signals[IMAGE_ADDED], 0, id);

  return id;
}

/**
 * di_case_relocate_image:
 * @filename: where the image is now
 *
 * Points a missing (or moved) image at its new place. The file must have
 * the SHA-256 recorded when the image was added: a different file is
 * refused with %DI_CASE_ERROR_INVALID.
 */
gboolean
di_case_relocate_image (DiCase      *self,
                        gint64       image_id,
                        const char  *filename,
                        GError     **error)
{
  g_autoptr(DiCaseImage) image = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *path = NULL;
  g_autofree char *digest = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 size = 0, mtime = 0, other;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  g_return_val_if_fail (filename != NULL, FALSE);

  image = di_case_dup_image (self, image_id);
  if (image == NULL)
    return image_exists (self, image_id, error);

  absolute = g_canonicalize_filename (filename, NULL);
  path = make_relative (self->folder, absolute);
  if (!stat_file (absolute, NULL, &mtime))
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_IO, _("%s: not a readable file"), absolute);
      return FALSE;
    }
  digest = di_case_compute_sha256 (absolute, &size, error);
  if (digest == NULL)
    return FALSE;
  if (g_strcmp0 (digest, image->sha256) != 0)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
                   _("%s is not the image %s of the case (its SHA-256 differs)"), absolute, image->path);
      return FALSE;
    }
  other = find_image_by_path (self, path);
  if (other != 0 && other != image_id)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
                   _("%s is already another image of the case"), absolute);
      return FALSE;
    }

  stmt = prepare (self, "UPDATE images SET path = ?, original_path = ?, size = ?, mtime = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, path, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, absolute, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, size);
  sqlite3_bind_int64 (stmt, 4, mtime);
  sqlite3_bind_int64 (stmt, 5, image_id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot update the image"));

  set_state (self, image_id, DI_CASE_IMAGE_OK, absolute);
  return TRUE;
}

static const char image_select[] =
  "SELECT i.id, i.path, i.sha256, i.size, i.added,"
  "       r.label, r.note, r.reviewer, r.time, p.predicted, p.model_sha256 "
  "FROM images i "
  "LEFT JOIN reviews r ON r.id = (SELECT MAX(id) FROM reviews WHERE image_id = i.id) "
  "LEFT JOIN predictions p ON p.id = (SELECT MAX(id) FROM predictions WHERE image_id = i.id) ";

static DiCaseImage *
image_from_row (DiCase       *self,
                sqlite3_stmt *stmt)
{
  DiCaseImage *image = g_new0 (DiCaseImage, 1);
  ImageState *state;

  image->id = sqlite3_column_int64 (stmt, 0);
  image->path = column_dup (stmt, 1);
  image->sha256 = column_dup (stmt, 2);
  image->size = sqlite3_column_int64 (stmt, 3);
  image->added = column_time (stmt, 4);
  image->label = column_dup (stmt, 5);
  image->note = column_dup (stmt, 6);
  image->reviewer = column_dup (stmt, 7);
  image->reviewed = column_time (stmt, 8);
  image->predicted = column_dup (stmt, 9);
  image->model_sha256 = column_dup (stmt, 10);

  state = g_hash_table_lookup (self->states, &image->id);
  if (state != NULL)
    {
      image->status = state->status;
      image->filename = g_strdup (state->filename);
    }
  else
    {
      image->filename = resolve_image (self, image->path, NULL);
      image->status = image->filename ? DI_CASE_IMAGE_OK : DI_CASE_IMAGE_MISSING;
    }
  return image;
}

/**
 * di_case_dup_images:
 *
 * Returns: (transfer full) (element-type DiCaseImage): every image, in the
 *   order they were added
 */
GPtrArray *
di_case_dup_images (DiCase *self)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GPtrArray *images;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  images = g_ptr_array_new_with_free_func ((GDestroyNotify)di_case_image_free);
  sql = g_strconcat (image_select, "ORDER BY i.id", NULL);
  stmt = prepare (self, sql, NULL);
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (images, image_from_row (self, stmt));

  return images;
}

/**
 * di_case_dup_image:
 *
 * Returns: (transfer full) (nullable): the image, or %NULL
 */
DiCaseImage *
di_case_dup_image (DiCase *self,
                   gint64  image_id)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  sql = g_strconcat (image_select, "WHERE i.id = ?", NULL);
  stmt = prepare (self, sql, NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, image_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return image_from_row (self, stmt);
}

DiCaseImageStatus
di_case_get_image_status (DiCase *self,
                          gint64  image_id)
{
  ImageState *state;

  g_return_val_if_fail (DI_IS_CASE (self), DI_CASE_IMAGE_MISSING);

  state = g_hash_table_lookup (self->states, &image_id);
  return state ? state->status : DI_CASE_IMAGE_MISSING;
}

/* ---- Models and predictions ----------------------------------------- */

/**
 * di_case_add_model:
 * @sha256: the model file's SHA-256 (hex)
 * @name: a display name
 * @classes: class names in output order
 * @metadata: (nullable) (element-type utf8 utf8): the model's metadata
 *
 * Records a model (once per SHA-256; later calls keep the first record).
 */
gboolean
di_case_add_model (DiCase              *self,
                   const char          *sha256,
                   const char          *name,
                   const char * const  *classes,
                   GHashTable          *metadata,
                   GError             **error)
{
  g_autofree char *classes_json = NULL;
  g_autofree char *now = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(sqlite3_stmt) meta = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  g_return_val_if_fail (sha256 != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (classes != NULL, FALSE);

  classes_json = json_string_array (classes);
  now = now_string ();

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;

  stmt = prepare (self, "INSERT OR IGNORE INTO models (sha256, name, classes, added) VALUES (?, ?, ?, ?)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, classes_json, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, now, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot add the model"));
      goto fail;
    }

  if (metadata != NULL && sqlite3_changes (self->db) > 0)
    {
      GHashTableIter iter;
      gpointer key, value;

      meta = prepare (self, "INSERT OR REPLACE INTO model_meta (model_sha256, key, value) VALUES (?, ?, ?)", error);
      if (meta == NULL)
        goto fail;
      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          sqlite3_reset (meta);
          sqlite3_bind_text (meta, 1, sha256, -1, SQLITE_STATIC);
          sqlite3_bind_text (meta, 2, key, -1, SQLITE_STATIC);
          sqlite3_bind_text (meta, 3, value ? value : "", -1, SQLITE_STATIC);
          if (sqlite3_step (meta) != SQLITE_DONE)
            {
              set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot add the model"));
              goto fail;
            }
        }
    }

  if (!exec (self, "COMMIT", error))
    goto fail;
  return TRUE;

fail:
  rollback (self);
  return FALSE;
}

static DiCaseModel *
model_from_row (DiCase       *self,
                sqlite3_stmt *stmt)
{
  DiCaseModel *model = g_new0 (DiCaseModel, 1);
  g_autoptr(sqlite3_stmt) meta = NULL;
  g_auto(GStrv) abnormal = NULL;
  const char *abnormal_json;
  int n;

  model->sha256 = column_dup (stmt, 0);
  model->name = column_dup (stmt, 1);
  n = parse_json_array (self, (const char *)sqlite3_column_text (stmt, 2), NULL, &model->classes);
  model->n_classes = MAX (n, 0);
  if (model->classes == NULL)
    model->classes = g_new0 (char *, 1);
  model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  meta = prepare (self, "SELECT key, value FROM model_meta WHERE model_sha256 = ?", NULL);
  if (meta != NULL)
    {
      sqlite3_bind_text (meta, 1, model->sha256, -1, SQLITE_STATIC);
      while (sqlite3_step (meta) == SQLITE_ROW)
        g_hash_table_insert (model->metadata, column_dup (meta, 0), column_dup (meta, 1));
    }

  /* The same grouping rule as dinet_net_class_is_abnormal(). */
  abnormal_json = g_hash_table_lookup (model->metadata, "abnormal");
  if (abnormal_json != NULL && parse_json_array (self, abnormal_json, NULL, &abnormal) >= 0)
    {
      model->abnormal = g_new0 (int, MAX (1, model->n_classes));
      for (int i = 0; i < model->n_classes; i++)
        model->abnormal[i] = g_strv_contains ((const char * const *)abnormal, model->classes[i]) ? 1 : 0;
    }

  return model;
}

/**
 * di_case_dup_model:
 *
 * Returns: (transfer full) (nullable): the model recorded with @sha256
 */
DiCaseModel *
di_case_dup_model (DiCase     *self,
                   const char *sha256)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  if (sha256 == NULL)
    return NULL;
  stmt = prepare (self, "SELECT sha256, name, classes FROM models WHERE sha256 = ?", NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return model_from_row (self, stmt);
}

/**
 * di_case_dup_models:
 *
 * Returns: (transfer full) (element-type DiCaseModel): every model the case
 *   knows, most used (by predictions) first
 */
GPtrArray *
di_case_dup_models (DiCase *self)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GPtrArray *models;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  models = g_ptr_array_new_with_free_func ((GDestroyNotify)di_case_model_free);
  stmt = prepare (self,
                  "SELECT m.sha256, m.name, m.classes FROM models m "
                  "ORDER BY (SELECT count(*) FROM predictions p WHERE p.model_sha256 = m.sha256) DESC, "
                  "m.added", NULL);
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (models, model_from_row (self, stmt));
  return models;
}

/**
 * di_case_add_prediction:
 * @model_sha256: a model added with di_case_add_model()
 * @probabilities: (array length=n_classes): calibrated probabilities
 * @logits: (nullable) (array length=n_classes): the raw logits
 * @temperature: the temperature that made @probabilities from @logits
 * @n_views: how many views @probabilities are the mean of (0: not known)
 * @view_top: (nullable) (array length=n_views): each view's top class
 *
 * Returns: the prediction's id (> 0), or 0 with @error set
 */
gint64
di_case_add_prediction (DiCase       *self,
                        gint64        image_id,
                        const char   *model_sha256,
                        const float  *probabilities,
                        const float  *logits,
                        int           n_classes,
                        double        temperature,
                        int           n_views,
                        const int    *view_top,
                        GError      **error)
{
  g_autoptr(DiCaseModel) model = NULL;
  g_autofree char *probs_json = NULL;
  g_autofree char *logits_json = NULL;
  g_autofree char *views_json = NULL;
  g_autofree char *now = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int top = 0;

  g_return_val_if_fail (DI_IS_CASE (self), 0);
  g_return_val_if_fail (model_sha256 != NULL, 0);
  g_return_val_if_fail (probabilities != NULL, 0);

  if (!image_exists (self, image_id, error))
    return 0;
  model = di_case_dup_model (self, model_sha256);
  if (model == NULL)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_FOUND,
                   _("%s: model %s is not in the case"), self->filename, model_sha256);
      return 0;
    }
  if (n_classes != model->n_classes || n_classes <= 0)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
                   _("%s: %d probabilities for a model of %d classes"),
                   self->filename, n_classes, model->n_classes);
      return 0;
    }

  for (int i = 1; i < n_classes; i++)
    if (probabilities[i] > probabilities[top])
      top = i;

  probs_json = json_float_array (probabilities, n_classes);
  logits_json = logits ? json_float_array (logits, n_classes) : NULL;
  /* the views' classes by name; views that are not 1 or 8 (the engine's DINET_MAX_VIEWS)
   * or name no class are not kept (NULL), the call still is */
  if ((n_views == 1 || n_views == 8) && view_top != NULL)
    {
      g_autofree const char **names = g_new0 (const char *, n_views + 1);
      gboolean valid = TRUE;

      for (int d = 0; d < n_views && valid; d++)
        {
          valid = view_top[d] >= 0 && view_top[d] < n_classes;
          names[d] = valid ? model->classes[view_top[d]] : NULL;
        }
      if (valid)
        views_json = json_string_array (names);
      else
        g_warning ("%s: a view's class is not one of the model's; the views are not kept", self->filename);
    }
  now = now_string ();

  stmt = prepare (self,
                  "INSERT INTO predictions (image_id, model_name, model_sha256, predicted, "
                  "probabilities, logits, temperature, time, view_classes) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_text (stmt, 2, model->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, model_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, model->classes[top], -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, probs_json, -1, SQLITE_STATIC);
  bind_text (stmt, 6, logits_json);
  sqlite3_bind_double (stmt, 7, temperature);
  sqlite3_bind_text (stmt, 8, now, -1, SQLITE_STATIC);
  bind_text (stmt, 9, views_json);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot add the prediction"));
      return 0;
    }
  return sqlite3_last_insert_rowid (self->db);
}

static const char prediction_select[] =
  "SELECT p.id, p.image_id, p.time, p.predicted, p.model_name, p.model_sha256, "
  "       m.classes, p.probabilities, p.logits, p.temperature, "
  /* only a JSON array of 1 or 8 (DINET_MAX_VIEWS) names is read back;
   * json_type() would fail on text that is not JSON, so check that first */
  "       CASE WHEN json_valid(p.view_classes) THEN "
  "         CASE WHEN json_type(p.view_classes) = 'array' AND "
  "                   json_array_length(p.view_classes) IN (1, 8) THEN p.view_classes END END "
  "FROM predictions p LEFT JOIN models m ON m.sha256 = p.model_sha256 ";

static DiCaseEvent *
prediction_from_row (DiCase       *self,
                     sqlite3_stmt *stmt)
{
  DiCaseEvent *event = g_new0 (DiCaseEvent, 1);
  int n;

  event->kind = DI_CASE_EVENT_PREDICTION;
  event->id = sqlite3_column_int64 (stmt, 0);
  event->image_id = sqlite3_column_int64 (stmt, 1);
  event->time = column_time (stmt, 2);
  event->label = column_dup (stmt, 3);
  event->model_name = column_dup (stmt, 4);
  event->model_sha256 = column_dup (stmt, 5);
  parse_json_array (self, (const char *)sqlite3_column_text (stmt, 6), NULL, &event->classes);
  n = parse_json_array (self, (const char *)sqlite3_column_text (stmt, 7), &event->probabilities, NULL);
  event->n_classes = MAX (n, 0);
  if (event->classes == NULL || g_strv_length (event->classes) != (guint)event->n_classes)
    {
      /* Keep the arrays consistent even for a damaged row. */
      g_strfreev (event->classes);
      event->classes = g_new0 (char *, event->n_classes + 1);
      for (int i = 0; i < event->n_classes; i++)
        event->classes[i] = g_strdup_printf ("%d", i);
    }
  if (sqlite3_column_type (stmt, 8) != SQLITE_NULL)
    {
      double *logits = NULL;

      if (parse_json_array (self, (const char *)sqlite3_column_text (stmt, 8), &logits, NULL) == event->n_classes)
        event->logits = logits;
      else
        g_free (logits);
    }
  event->temperature = sqlite3_column_double (stmt, 9);
  if (sqlite3_column_type (stmt, 10) != SQLITE_NULL)
    {
      g_auto(GStrv) names = NULL;
      int v = parse_json_array (self, (const char *)sqlite3_column_text (stmt, 10), NULL, &names);

      g_autofree int *tops = v > 0 && names != NULL ? g_new (int, v) : NULL;
      gboolean valid = tops != NULL;

      /* every name must be a class (the first of equal names, as
       * find_class() reads them); a damaged row keeps no views rather
       * than counting as views that disagree */
      for (int d = 0; valid && d < v; d++)
        {
          tops[d] = -1;
          for (int k = 0; k < event->n_classes && tops[d] < 0; k++)
            if (g_strcmp0 (names[d], event->classes[k]) == 0)
              tops[d] = k;
          valid = tops[d] >= 0;
        }
      if (valid)
        {
          event->n_views = v;
          event->view_top = g_steal_pointer (&tops);
        }
    }
  return event;
}

/**
 * di_case_dup_prediction:
 * @model_sha256: (nullable): a model, or %NULL for any
 *
 * Returns: (transfer full) (nullable): the latest prediction of the image
 */
DiCaseEvent *
di_case_dup_prediction (DiCase     *self,
                        gint64      image_id,
                        const char *model_sha256)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  sql = g_strconcat (prediction_select,
                     "WHERE p.image_id = ?1 AND (?2 IS NULL OR p.model_sha256 = ?2) "
                     "ORDER BY p.id DESC LIMIT 1", NULL);
  stmt = prepare (self, sql, NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, image_id);
  bind_text (stmt, 2, model_sha256);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return prediction_from_row (self, stmt);
}

gboolean
di_case_has_prediction (DiCase     *self,
                        gint64      image_id,
                        const char *model_sha256)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  stmt = prepare (self,
                  "SELECT 1 FROM predictions WHERE image_id = ?1 "
                  "AND (?2 IS NULL OR model_sha256 = ?2) LIMIT 1", NULL);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  bind_text (stmt, 2, model_sha256);
  return sqlite3_step (stmt) == SQLITE_ROW;
}

/**
 * di_case_add_explanation:
 * @method: "gradcam" or "cbam"
 * @values: (array): @width x @height values, row-major
 *
 * Returns: the row id (> 0), or 0 with @error set
 */
gint64
di_case_add_explanation (DiCase       *self,
                         gint64        image_id,
                         const char   *model_sha256,
                         const char   *method,
                         int           stage,
                         int           target,
                         const float  *values,
                         int           width,
                         int           height,
                         GError      **error)
{
  g_autofree char *now = now_string ();
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), 0);
  g_return_val_if_fail (model_sha256 != NULL && method != NULL, 0);
  g_return_val_if_fail (values != NULL && width > 0 && height > 0, 0);

  if (!image_exists (self, image_id, error))
    return 0;

  stmt = prepare (self,
                  "INSERT INTO explanations (image_id, model_sha256, method, stage, target, "
                  "width, height, map, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_text (stmt, 2, model_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, method, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 4, stage);
  sqlite3_bind_int (stmt, 5, target);
  sqlite3_bind_int (stmt, 6, width);
  sqlite3_bind_int (stmt, 7, height);
  sqlite3_bind_blob64 (stmt, 8, values, sizeof (float) * (guint64)width * height, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 9, now, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot add the explanation"));
      return 0;
    }
  return sqlite3_last_insert_rowid (self->db);
}

/**
 * di_case_dup_explanation:
 * @model_sha256: (nullable): a model, or %NULL for any
 * @method: (nullable): "gradcam", "cbam", or %NULL for any
 *
 * Returns: (transfer full) (nullable): the latest stored map
 */
DiCaseExplanation *
di_case_dup_explanation (DiCase     *self,
                         gint64      image_id,
                         const char *model_sha256,
                         const char *method)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  DiCaseExplanation *explanation;
  const void *blob;
  gsize bytes;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  stmt = prepare (self,
                  "SELECT id, model_sha256, method, stage, target, width, height, map "
                  "FROM explanations WHERE image_id = ?1 "
                  "AND (?2 IS NULL OR model_sha256 = ?2) AND (?3 IS NULL OR method = ?3) "
                  "ORDER BY id DESC LIMIT 1", NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, image_id);
  bind_text (stmt, 2, model_sha256);
  bind_text (stmt, 3, method);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;

  explanation = g_new0 (DiCaseExplanation, 1);
  explanation->id = sqlite3_column_int64 (stmt, 0);
  explanation->image_id = image_id;
  explanation->model_sha256 = column_dup (stmt, 1);
  explanation->method = column_dup (stmt, 2);
  explanation->stage = sqlite3_column_int (stmt, 3);
  explanation->target = sqlite3_column_int (stmt, 4);
  explanation->width = sqlite3_column_int (stmt, 5);
  explanation->height = sqlite3_column_int (stmt, 6);
  blob = sqlite3_column_blob (stmt, 7);
  bytes = sqlite3_column_bytes (stmt, 7);
  if (explanation->width <= 0 || explanation->height <= 0 || blob == NULL ||
      bytes != sizeof (float) * (gsize)explanation->width * explanation->height)
    {
      di_case_explanation_free (explanation);
      return NULL;
    }
  explanation->values = g_memdup2 (blob, bytes);
  return explanation;
}

/* ---- Reviews -------------------------------------------------------- */

typedef struct
{
  char *label;
  char *note;
} ReviewState;

static void
review_state_clear (ReviewState *state)
{
  g_clear_pointer (&state->label, g_free);
  g_clear_pointer (&state->note, g_free);
}

static gboolean
current_review (DiCase       *self,
                gint64        image_id,
                ReviewState  *state,
                GError      **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self,
                                          "SELECT label, note FROM reviews WHERE image_id = ? "
                                          "ORDER BY id DESC LIMIT 1", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      state->label = column_dup (stmt, 0);
      state->note = column_dup (stmt, 1);
    }
  else if (rc != SQLITE_DONE)
    return set_sql_error (self, error, rc, _("cannot read the reviews"));
  return TRUE;
}

/* Appends one review row inside the caller's transaction. */
static gboolean
insert_review (DiCase             *self,
               gint64              image_id,
               const char         *kind,
               const char         *label,
               const char         *note,
               const ReviewState  *previous,
               const char         *reviewer,
               gint64              target,
               GError            **error)
{
  g_autofree char *now = now_string ();
  g_autoptr(sqlite3_stmt) stmt = NULL;

  stmt = prepare (self,
                  "INSERT INTO reviews (image_id, kind, label, note, reviewer, time, "
                  "previous_label, previous_note, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_STATIC);
  bind_text (stmt, 3, label);
  bind_text (stmt, 4, note);
  bind_text (stmt, 5, reviewer);
  sqlite3_bind_text (stmt, 6, now, -1, SQLITE_STATIC);
  bind_text (stmt, 7, previous->label);
  bind_text (stmt, 8, previous->note);
  if (target > 0)
    sqlite3_bind_int64 (stmt, 9, target);
  else
    sqlite3_bind_null (stmt, 9);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot save the review"));
  self->pending_review = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

/* The durable end of every review write: COMMIT with synchronous=FULL
 * returns once the WAL is on disk. */
static gboolean
commit_review (DiCase  *self,
               gint64   image_id,
               GError **error)
{
  if (!exec (self, "COMMIT", error))
    {
      rollback (self);
      return FALSE;
    }
  if (self->pending_review > 0)
    g_hash_table_add (self->own_reviews, g_memdup2 (&self->pending_review, sizeof (gint64)));
  self->pending_review = 0;
  update_undo_state (self);
  g_signal_emit (self, signals[REVIEW_CHANGED], 0, image_id);
  return TRUE;
}

static gboolean
write_edit (DiCase      *self,
            gint64       image_id,
            gboolean     set_label,
            const char  *label,
            gboolean     set_note,
            const char  *note,
            const char  *reviewer,
            GError     **error)
{
  ReviewState previous = { NULL, NULL };
  gboolean ok;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;

  if (!image_exists (self, image_id, error) ||
      !current_review (self, image_id, &previous, error))
    {
      rollback (self);
      review_state_clear (&previous);
      return FALSE;
    }

  /* What the call does not set stays as the case has it now (another
   * window or process may have written it since the caller looked). */
  if (!set_label)
    label = previous.label;
  if (!set_note)
    note = previous.note;

  /* Nothing changes: no row, no undo step. */
  if (g_strcmp0 (label, previous.label) == 0 && g_strcmp0 (note, previous.note) == 0)
    {
      rollback (self);
      review_state_clear (&previous);
      return TRUE;
    }

  ok = insert_review (self, image_id, "edit", label, note, &previous, reviewer, 0, error);
  review_state_clear (&previous);
  if (!ok)
    {
      rollback (self);
      return FALSE;
    }
  return commit_review (self, image_id, error);
}

static gboolean
check_text (const char  *text,
            GError     **error)
{
  if (text != NULL && !g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
                           _("A label, note or reviewer name is not valid UTF-8"));
      return FALSE;
    }
  return TRUE;
}

/**
 * di_case_relabel:
 * @label: (nullable): the reviewer's class; %NULL clears the label
 * @note: (nullable): the note that goes with it
 * @reviewer: (nullable): who
 *
 * Appends a review row in its own transaction and returns once it is
 * durable. A call that changes neither label nor note writes nothing.
 */
gboolean
di_case_relabel (DiCase      *self,
                 gint64       image_id,
                 const char  *label,
                 const char  *note,
                 const char  *reviewer,
                 GError     **error)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  if (!check_text (label, error) || !check_text (note, error) ||
      !check_text (reviewer, error))
    return FALSE;
  if (label != NULL && *label == '\0')
    label = NULL;
  return write_edit (self, image_id, TRUE, label, TRUE, note, reviewer, error);
}

/**
 * di_case_set_label:
 *
 * Like di_case_relabel() but keeps the note the case has now.
 */
gboolean
di_case_set_label (DiCase      *self,
                   gint64       image_id,
                   const char  *label,
                   const char  *reviewer,
                   GError     **error)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  if (!check_text (label, error) || !check_text (reviewer, error))
    return FALSE;
  if (label != NULL && *label == '\0')
    label = NULL;
  return write_edit (self, image_id, TRUE, label, FALSE, NULL, reviewer, error);
}

/**
 * di_case_set_note:
 *
 * Like di_case_relabel() but keeps the current label.
 */
gboolean
di_case_set_note (DiCase      *self,
                  gint64       image_id,
                  const char  *note,
                  const char  *reviewer,
                  GError     **error)
{
  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  if (!check_text (note, error) || !check_text (reviewer, error))
    return FALSE;
  return write_edit (self, image_id, FALSE, NULL, TRUE, note, reviewer, error);
}

static gboolean
undo_redo (DiCase      *self,
           gboolean     redo,
           const char  *reviewer,
           gint64      *image_id_out,
           GError     **error)
{
  g_autoptr(GArray) undo_stack = g_array_new (FALSE, FALSE, sizeof (StackStep));
  g_autoptr(GArray) redo_stack = g_array_new (FALSE, FALSE, sizeof (StackStep));
  g_autoptr(sqlite3_stmt) stmt = NULL;
  ReviewState current = { NULL, NULL };
  g_autofree char *label = NULL;
  g_autofree char *note = NULL;
  GArray *stack;
  gint64 target, by, image_id;
  gboolean ok;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  if (!check_text (reviewer, error))
    return FALSE;

  /* Inside the write lock, so that another process's rows count too. */
  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;

  if (!replay_stacks (self, undo_stack, redo_stack, error))
    goto fail;

  stack = redo ? redo_stack : undo_stack;
  if (stack->len == 0)
    {
      if (redo)
        g_set_error_literal (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_REDO, _("Nothing to redo"));
      else
        g_set_error_literal (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_UNDO, _("Nothing to undo"));
      goto fail;
    }
  target = g_array_index (stack, StackStep, stack->len - 1).target;
  by = g_array_index (stack, StackStep, stack->len - 1).by;

  /* Undo takes back this window's steps (and those from before it
   * opened), never one another window or process made meanwhile. */
  if (by > self->opened_at_review && !g_hash_table_contains (self->own_reviews, &by))
    {
      g_autofree char *who = NULL;
      g_autoptr(sqlite3_stmt) q = prepare (self, "SELECT reviewer FROM reviews WHERE id = ?", error);

      if (q == NULL)
        goto fail;
      sqlite3_bind_int64 (q, 1, by);
      if (sqlite3_step (q) == SQLITE_ROW)
        who = column_dup (q, 0);
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_OTHER_WRITER,
                   /* TRANSLATORS: %s names who made the change, or says "unnamed" */
                   redo ? _("The latest undone change was undone in another window or program (%s): redo it "
                            "there, or open the case again to redo it here")
                        : _("The latest change was made in another window or program (%s): undo it there, "
                            "or open the case again to undo it here"),
                   who != NULL && *who ? who : _("unnamed reviewer"));
      goto fail;
    }

  stmt = prepare (self,
                  "SELECT image_id, label, note, previous_label, previous_note, reviewer "
                  "FROM reviews WHERE id = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, target);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot read the reviews"));
      goto fail;
    }
  image_id = sqlite3_column_int64 (stmt, 0);
  /* Undo restores the state before the edit, redo the state after it. */
  label = column_dup (stmt, redo ? 1 : 3);
  note = column_dup (stmt, redo ? 2 : 4);
  if (reviewer == NULL)
    reviewer = (const char *)sqlite3_column_text (stmt, 5);

  if (!current_review (self, image_id, &current, error))
    goto fail;

  ok = insert_review (self, image_id, redo ? "redo" : "undo", label, note, &current, reviewer, target, error);
  review_state_clear (&current);
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (!ok)
    goto fail;

  if (!commit_review (self, image_id, error))
    return FALSE;
  if (image_id_out != NULL)
    *image_id_out = image_id;
  return TRUE;

fail:
  review_state_clear (&current);
  g_clear_pointer (&stmt, sqlite3_finalize);
  rollback (self);
  return FALSE;
}

/**
 * di_case_refresh:
 *
 * Looks whether another connection (another window, a headless run, another
 * process) has written to the case since this one last looked, and if so
 * brings can-undo and can-redo up to date.
 *
 * Returns: %TRUE when the case changed under this connection: the caller
 *   should read back what it shows
 */
gboolean
di_case_refresh (DiCase *self)
{
  gint64 version;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  version = query_int (self, "PRAGMA data_version", self->data_version, NULL);
  if (version == self->data_version)
    return FALSE;
  self->data_version = version;
  update_undo_state (self);
  return TRUE;
}

/**
 * di_case_undo:
 * @reviewer: (nullable): who undoes; %NULL: the reviewer of the undone row
 * @image_id: (out) (optional): the image whose label or note changed
 *
 * Undoes the latest relabel or note of the case that is not undone yet, by
 * appending a row that restores the previous label and note. Works across
 * reopening: the stacks are derived from the reviews table.
 *
 * Returns: %TRUE once the row is durable; %FALSE with
 *   %DI_CASE_ERROR_NOTHING_TO_UNDO when there is nothing to undo
 */
gboolean
di_case_undo (DiCase      *self,
              const char  *reviewer,
              gint64      *image_id,
              GError     **error)
{
  return undo_redo (self, FALSE, reviewer, image_id, error);
}

/**
 * di_case_redo:
 *
 * Redoes the latest undone step (until a new relabel or note clears the
 * redo stack). See di_case_undo().
 */
gboolean
di_case_redo (DiCase      *self,
              const char  *reviewer,
              gint64      *image_id,
              GError     **error)
{
  return undo_redo (self, TRUE, reviewer, image_id, error);
}

static int
compare_events (gconstpointer a,
                gconstpointer b)
{
  const DiCaseEvent *ea = *(const DiCaseEvent * const *)a;
  const DiCaseEvent *eb = *(const DiCaseEvent * const *)b;
  int order_a = ea->kind == DI_CASE_EVENT_ADDED ? 0 : ea->kind == DI_CASE_EVENT_PREDICTION ? 1 : 2;
  int order_b = eb->kind == DI_CASE_EVENT_ADDED ? 0 : eb->kind == DI_CASE_EVENT_PREDICTION ? 1 : 2;
  int c;

  if (ea->time != NULL && eb->time != NULL && (c = g_date_time_compare (ea->time, eb->time)) != 0)
    return c;
  if (order_a != order_b)
    return order_a - order_b;
  return ea->id < eb->id ? -1 : ea->id > eb->id;
}

/**
 * di_case_dup_history:
 *
 * The provenance of an image: when it was added, every classifier call
 * (model, probabilities) and every review row, oldest first.
 *
 * Returns: (transfer full) (element-type DiCaseEvent): the events
 */
GPtrArray *
di_case_dup_history (DiCase *self,
                     gint64  image_id)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GPtrArray *events;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  events = g_ptr_array_new_with_free_func ((GDestroyNotify)di_case_event_free);

  stmt = prepare (self, "SELECT added FROM images WHERE id = ?", NULL);
  if (stmt == NULL)
    return events;
  sqlite3_bind_int64 (stmt, 1, image_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      DiCaseEvent *event = g_new0 (DiCaseEvent, 1);

      event->kind = DI_CASE_EVENT_ADDED;
      event->image_id = image_id;
      event->time = column_time (stmt, 0);
      g_ptr_array_add (events, event);
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  sql = g_strconcat (prediction_select, "WHERE p.image_id = ? ORDER BY p.id", NULL);
  stmt = prepare (self, sql, NULL);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, image_id);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        g_ptr_array_add (events, prediction_from_row (self, stmt));
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  stmt = prepare (self,
                  "SELECT id, kind, time, label, note, previous_label, previous_note, reviewer, target "
                  "FROM reviews WHERE image_id = ? ORDER BY id", NULL);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, image_id);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          DiCaseEvent *event = g_new0 (DiCaseEvent, 1);
          const char *kind = (const char *)sqlite3_column_text (stmt, 1);

          event->kind = g_strcmp0 (kind, "undo") == 0 ? DI_CASE_EVENT_UNDO
                      : g_strcmp0 (kind, "redo") == 0 ? DI_CASE_EVENT_REDO
                      : DI_CASE_EVENT_REVIEW;
          event->id = sqlite3_column_int64 (stmt, 0);
          event->image_id = image_id;
          event->time = column_time (stmt, 2);
          event->label = column_dup (stmt, 3);
          event->note = column_dup (stmt, 4);
          event->previous_label = column_dup (stmt, 5);
          event->previous_note = column_dup (stmt, 6);
          event->reviewer = column_dup (stmt, 7);
          event->target = sqlite3_column_int64 (stmt, 8);
          g_ptr_array_add (events, event);
        }
    }

  g_ptr_array_sort (events, compare_events);
  return events;
}

/* ---- Regions -------------------------------------------------------- */

/* A region's probability is NAN (unknown) or in [0, 1], and only a region
 * with a class has one. */
static gboolean
check_region_probability (const char  *label,
                          double       probability,
                          GError     **error)
{
  if (isnan (probability) || (label != NULL && probability >= 0 && probability <= 1))
    return TRUE;
  g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
               _("A region’s probability must be between 0 and 1, and belong to a class"));
  return FALSE;
}

static void
bind_probability (sqlite3_stmt *stmt,
                  int           column,
                  double        probability)
{
  if (isnan (probability))
    sqlite3_bind_null (stmt, column);
  else
    sqlite3_bind_double (stmt, column, probability);
}

/**
 * di_case_add_region:
 * @label: (nullable): the region's class
 * @probability: that class's probability, or NAN when unknown (always NAN
 *   without a class)
 *
 * Adds a rectangle in image pixels.
 *
 * Returns: the region's id (> 0), or 0 with @error set
 */
gint64
di_case_add_region (DiCase      *self,
                    gint64       image_id,
                    double       x,
                    double       y,
                    double       width,
                    double       height,
                    const char  *label,
                    double       probability,
                    GError     **error)
{
  g_autofree char *now = now_string ();
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), 0);

  if (!(isfinite (x) && isfinite (y) && isfinite (width) && isfinite (height)) ||
      width <= 0 || height <= 0)
    {
      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_INVALID,
                   _("A region needs a positive width and height"));
      return 0;
    }
  if (!check_text (label, error) || !image_exists (self, image_id, error))
    return 0;

  if (!check_region_probability (label, probability, error))
    return 0;

  stmt = prepare (self, "INSERT INTO regions (image_id, x, y, w, h, label, time, probability) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, image_id);
  sqlite3_bind_double (stmt, 2, x);
  sqlite3_bind_double (stmt, 3, y);
  sqlite3_bind_double (stmt, 4, width);
  sqlite3_bind_double (stmt, 5, height);
  bind_text (stmt, 6, label);
  sqlite3_bind_text (stmt, 7, now, -1, SQLITE_STATIC);
  bind_probability (stmt, 8, probability);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_sql_error (self, error, sqlite3_errcode (self->db), _("cannot add the region"));
      return 0;
    }
  return sqlite3_last_insert_rowid (self->db);
}

/* Runs @stmt, which changes the region @region_id: an error when the
 * statement fails (@what says what could not be done) or no such region. */
static gboolean
change_region (DiCase        *self,
               sqlite3_stmt  *stmt,
               gint64         region_id,
               const char    *what,
               GError       **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return set_sql_error (self, error, sqlite3_errcode (self->db), what);
  if (sqlite3_changes (self->db) == 0)
    {
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, region_id);

      g_set_error (error, DI_CASE_ERROR, DI_CASE_ERROR_NOT_FOUND,
                   _("%s: no region %s in the case"), self->filename, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
di_case_remove_region (DiCase      *self,
                       gint64       region_id,
                       GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);

  stmt = prepare (self, "DELETE FROM regions WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, region_id);
  return change_region (self, stmt, region_id, _("cannot remove the region"), error);
}

/**
 * di_case_set_region_label:
 * @label: the class the region was classified as now
 * @probability: that class's probability, or NAN when unknown
 *
 * A region classified again (by another model, say) keeps one row: its
 * label, probability and time become the new classification's.
 */
gboolean
di_case_set_region_label (DiCase      *self,
                          gint64       region_id,
                          const char  *label,
                          double       probability,
                          GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *now = NULL;

  g_return_val_if_fail (DI_IS_CASE (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);

  if (!check_region_probability (label, probability, error))
    return FALSE;

  now = now_string ();
  stmt = prepare (self, "UPDATE regions SET label = ?, time = ?, probability = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, label, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_STATIC);
  bind_probability (stmt, 3, probability);
  sqlite3_bind_int64 (stmt, 4, region_id);
  return change_region (self, stmt, region_id, _("cannot change the region"), error);
}

/**
 * di_case_dup_regions:
 * @image_id: an image, or 0 for the regions of every image
 *
 * Returns: (transfer full) (element-type DiCaseRegion): the regions
 */
GPtrArray *
di_case_dup_regions (DiCase *self,
                     gint64  image_id)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GPtrArray *regions;

  g_return_val_if_fail (DI_IS_CASE (self), NULL);

  regions = g_ptr_array_new_with_free_func ((GDestroyNotify)di_case_region_free);
  stmt = prepare (self,
                  "SELECT id, image_id, x, y, w, h, label, probability FROM regions "
                  "WHERE ?1 = 0 OR image_id = ?1 ORDER BY image_id, id", NULL);
  if (stmt == NULL)
    return regions;
  sqlite3_bind_int64 (stmt, 1, image_id);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      DiCaseRegion *region = g_new0 (DiCaseRegion, 1);

      region->id = sqlite3_column_int64 (stmt, 0);
      region->image_id = sqlite3_column_int64 (stmt, 1);
      region->x = sqlite3_column_double (stmt, 2);
      region->y = sqlite3_column_double (stmt, 3);
      region->width = sqlite3_column_double (stmt, 4);
      region->height = sqlite3_column_double (stmt, 5);
      region->label = column_dup (stmt, 6);
      region->probability = sqlite3_column_type (stmt, 7) == SQLITE_NULL
                            ? NAN : sqlite3_column_double (stmt, 7);
      g_ptr_array_add (regions, region);
    }
  return regions;
}
