/* di-export.c — a case as CSV, as QuPath GeoJSON, and as a retraining pack.
 *
 * CSV (RFC 4180: CRLF, fields with a comma, quote, CR or LF quoted, quotes
 * doubled; UTF-8): one row per image, columns
 *   file, sha256, status, model, model_sha256, predicted, p_abnormal,
 *   suspicious, views_agree, views, p_CLASS..., reviewer_label, note,
 *   reviewer, review_time, error
 * with one p_CLASS column per class of every model in the case. status is
 * the file's: ok, missing, changed, or unreadable (there and unchanged, but
 * the loader refuses it: error says why); an image with an empty predicted
 * column and status ok was not classified yet. p_abnormal is the
 * screening flag's score (empty when the model has no normal/abnormal
 * grouping), suspicious "yes" when it is at least DINET_FLAG_THRESHOLD.
 * views is how many views (rotations and mirror images) the prediction is
 * the mean of and views_agree how many of them put its class first (5 and
 * 8: the views disagree); both empty for one view or views not kept. Two
 * numbers, not "5/8", which a spreadsheet would read as a date.
 *
 * GeoJSON, QuPath's convention: a FeatureCollection of Features with a
 * Polygon geometry (image pixels, closed ring), and properties objectType
 * "annotation", classification {"name", "color": [r, g, b]}, and metadata
 * {"image", "sha256"} naming the image the region belongs to.
 *
 * Retraining pack: reviewed images copied as FOLDER/CLASS/FILE (the
 * ImageFolder layout `dinet train --data FOLDER` reads) and FOLDER/labels.csv
 * with file,class,source_case,reviewer,sha256 (source_case: the case file's
 * path). Exporting several cases into one folder merges them.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-export"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include <dinet/dinet.h>

#include "di-export.h"

/* ---- Helpers -------------------------------------------------------- */

/**
 * di_export_append_csv_field:
 * @field: (nullable): a value; %NULL writes an empty field
 *
 * Appends one RFC 4180 field (no separator).
 */
void
di_export_append_csv_field (GString    *s,
                            const char *field)
{
  if (field == NULL)
    return;
  if (strpbrk (field, ",\"\r\n") == NULL && field[0] != ' ' &&
      (*field == '\0' || field[strlen (field) - 1] != ' '))
    {
      g_string_append (s, field);
      return;
    }
  g_string_append_c (s, '"');
  for (const char *p = field; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (s, '"');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

/**
 * di_export_parse_csv:
 * @text: RFC 4180 text
 *
 * Returns: (transfer full) (element-type GStrv): the records
 */
GPtrArray *
di_export_parse_csv (const char *text)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify)g_strfreev);
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) field = g_string_new (NULL);
  const char *p = text;
  gboolean row_started = FALSE;

  while (p != NULL && *p)
    {
      row_started = TRUE;
      if (*p == '"')
        {
          for (p++; *p; p++)
            {
              if (*p == '"' && p[1] == '"')
                {
                  g_string_append_c (field, '"');
                  p++;
                }
              else if (*p == '"')
                {
                  p++;
                  break;
                }
              else
                g_string_append_c (field, *p);
            }
        }
      while (*p && *p != ',' && *p != '\r' && *p != '\n')
        g_string_append_c (field, *p++);

      g_ptr_array_add (fields, g_strdup (field->str));
      g_string_truncate (field, 0);

      if (*p == ',')
        {
          p++;
          continue;
        }
      if (*p == '\r')
        p++;
      if (*p == '\n')
        p++;
      g_ptr_array_add (fields, NULL);
      g_ptr_array_add (rows, g_ptr_array_steal (fields, NULL));
      g_ptr_array_set_free_func (fields, g_free);
      row_started = FALSE;
    }
  if (row_started)
    {
      g_ptr_array_add (fields, NULL);
      g_ptr_array_add (rows, g_ptr_array_steal (fields, NULL));
    }
  return rows;
}

void
di_export_append_json_string (GString    *s,
                              const char *str)
{
  g_string_append_c (s, '"');
  for (const char *p = str ? str : ""; *p; p++)
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

/**
 * di_export_class_color:
 *
 * A stable colour per class name (Tableau 10 palette, chosen by a hash of
 * the name), as QuPath shows classes.
 */
void
di_export_class_color (const char *class_name,
                       guint8      rgb[3])
{
  static const guint8 palette[10][3] = {
    { 31, 119, 180 }, { 255, 127, 14 }, { 44, 160, 44 }, { 214, 39, 40 }, { 148, 103, 189 },
    { 140, 86, 75 }, { 227, 119, 194 }, { 127, 127, 127 }, { 188, 189, 34 }, { 23, 190, 207 },
  };
  guint h = g_str_hash (class_name ? class_name : "");

  memcpy (rgb, palette[h % 10], 3);
}

/**
 * di_export_class_folder_name:
 *
 * Returns: (transfer full): @label made safe as one folder name
 */
char *
di_export_class_folder_name (const char *label)
{
  char *name = g_strdup (label && *label ? label : "_");

  g_strdelimit (name, "/\\:*?\"<>|", '_');
  for (char *p = name; *p; p++)
    if ((guchar)*p < 0x20)
      *p = '_';
  if (name[0] == '.')
    name[0] = '_';
  return name;
}

static gboolean
write_file (const char  *filename,
            GString     *contents,
            GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *dir = NULL;

  if (g_file_set_contents_full (filename, contents->str, contents->len,
                                G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    return TRUE;

  /* GLib names its temporary file ("x.csv.9IYZZ3"); name the file asked for. */
  dir = g_path_get_dirname (filename);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 /* TRANSLATORS: a file, then its folder */
                 _("Cannot write “%s”: there is no folder “%s”"), filename, dir);
  else
    g_set_error (error, local->domain, local->code,
                 /* TRANSLATORS: a file, then why (GLib's message) */
                 _("Cannot write “%s”: %s"), filename, local->message);
  return FALSE;
}

static const char *
status_name (DiCaseImageStatus status)
{
  switch (status)
    {
    case DI_CASE_IMAGE_MISSING: return "missing";
    case DI_CASE_IMAGE_CHANGED: return "changed";
    case DI_CASE_IMAGE_OK:
    default: return "ok";
    }
}

/* ---- CSV ------------------------------------------------------------ */

/* The model with this SHA-256 in a list from di_case_dup_models(), or NULL. */
static const DiCaseModel *
find_model (GPtrArray  *models,
            const char *sha256)
{
  for (guint m = 0; m < models->len; m++)
    {
      const DiCaseModel *model = g_ptr_array_index (models, m);

      if (g_strcmp0 (model->sha256, sha256) == 0)
        return model;
    }
  return NULL;
}

/**
 * di_export_csv:
 *
 * Writes one row per image (see the top of this file).
 */
gboolean
di_export_csv (DiCase      *kase,
               const char  *filename,
               GError     **error)
{
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) models = NULL;
  g_autoptr(GPtrArray) columns = g_ptr_array_new ();
  g_autoptr(GString) s = g_string_new (NULL);
  static const char * const head[] = {
    "file", "sha256", "status", "model", "model_sha256", "predicted", "p_abnormal", "suspicious",
    "views_agree", "views"
  };
  static const char * const tail[] = { "reviewer_label", "note", "reviewer", "review_time", "error" };

  g_return_val_if_fail (DI_IS_CASE (kase), FALSE);
  g_return_val_if_fail (filename != NULL, FALSE);

  images = di_case_dup_images (kase);
  models = di_case_dup_models (kase);

  /* Probability columns: every class of every model, first seen first. */
  for (guint m = 0; m < models->len; m++)
    {
      DiCaseModel *model = g_ptr_array_index (models, m);

      for (int k = 0; k < model->n_classes; k++)
        {
          gboolean seen = FALSE;

          for (guint c = 0; c < columns->len && !seen; c++)
            seen = g_strcmp0 (g_ptr_array_index (columns, c), model->classes[k]) == 0;
          if (!seen)
            g_ptr_array_add (columns, model->classes[k]);
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    {
      g_string_append (s, head[i]);
      g_string_append_c (s, ',');
    }
  for (guint c = 0; c < columns->len; c++)
    {
      g_autofree char *name = g_strconcat ("p_", (char *)g_ptr_array_index (columns, c), NULL);

      di_export_append_csv_field (s, name);
      g_string_append_c (s, ',');
    }
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    {
      g_string_append (s, tail[i]);
      g_string_append (s, i + 1 < G_N_ELEMENTS (tail) ? "," : "\r\n");
    }

  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      g_autoptr(DiCaseEvent) pred = di_case_dup_prediction (kase, image->id, NULL);
      g_autofree char *time = image->reviewed ? di_case_format_time (image->reviewed) : NULL;
      double abnormal = pred ? di_case_event_get_abnormal (pred, find_model (models, pred->model_sha256)) : -1;
      /* only an image without a prediction is read again, to say why */
      g_autofree char *unreadable = pred == NULL ? di_export_dup_unreadable_reason (image) : NULL;

      di_export_append_csv_field (s, image->path);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, image->sha256);
      g_string_append_c (s, ',');
      g_string_append (s, unreadable ? "unreadable" : status_name (image->status));
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, pred ? pred->model_name : NULL);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, pred ? pred->model_sha256 : NULL);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, pred ? pred->classes[di_case_event_get_top (pred)] : NULL);
      g_string_append_c (s, ',');
      if (abnormal >= 0)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.6f", abnormal));
          g_string_append (s, abnormal >= DINET_FLAG_THRESHOLD ? ",yes," : ",no,");
        }
      else
        g_string_append (s, ",,");
      if (pred != NULL && pred->n_views > 1)
        g_string_append_printf (s, "%d,%d,",
                                dinet_views_agreeing (pred->view_top, pred->n_views, di_case_event_get_top (pred)),
                                pred->n_views);
      else
        g_string_append (s, ",,");

      for (guint c = 0; c < columns->len; c++)
        {
          const char *name = g_ptr_array_index (columns, c);

          for (int k = 0; pred != NULL && k < pred->n_classes; k++)
            if (g_strcmp0 (pred->classes[k], name) == 0 && isfinite (pred->probabilities[k]))
              {
                char buf[G_ASCII_DTOSTR_BUF_SIZE];

                g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.6f", pred->probabilities[k]));
                break;
              }
          g_string_append_c (s, ',');
        }

      di_export_append_csv_field (s, image->label);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, image->note);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, image->reviewer);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, time);
      g_string_append_c (s, ',');
      di_export_append_csv_field (s, unreadable);
      g_string_append (s, "\r\n");
    }

  return write_file (filename, s, error);
}

/**
 * di_export_dup_unreadable_reason:
 *
 * Reads @image's file (it must be there and unchanged) to say why it
 * cannot be shown or classified.
 *
 * Returns: (transfer full) (nullable): the loader's message ("file is
 *   empty"), or %NULL when the file is missing or changed (its status says
 *   so) or reads fine
 */
char *
di_export_dup_unreadable_reason (const DiCaseImage *image)
{
  dinet_error err = { 0 };
  dinet_image *img;

  g_return_val_if_fail (image != NULL, NULL);

  if (image->status != DI_CASE_IMAGE_OK || image->filename == NULL)
    return NULL;
  img = dinet_image_load (image->filename, NULL, &err);
  if (img != NULL)
    {
      dinet_image_free (img);
      return NULL;
    }
  /* the engine's message starts with the file's path, which the report's
   * entry and the CSV row name already: the reason alone */
  if (g_str_has_prefix (err.message, image->filename) &&
      g_str_has_prefix (err.message + strlen (image->filename), ": "))
    return g_strdup (err.message + strlen (image->filename) + 2);
  return g_strdup (err.message);
}

/* ---- GeoJSON -------------------------------------------------------- */

static void
append_number (GString *s,
               double   v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.3f", v));
}

/**
 * di_export_geojson:
 * @image_id: one image, or 0 for the regions of every image
 *
 * Writes the regions of interest as QuPath annotations.
 */
gboolean
di_export_geojson (DiCase      *kase,
                   gint64       image_id,
                   const char  *filename,
                   GError     **error)
{
  g_autoptr(GPtrArray) regions = NULL;
  g_autoptr(GHashTable) images = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                                        (GDestroyNotify)di_case_image_free);
  g_autoptr(GString) s = g_string_new ("{\"type\": \"FeatureCollection\", \"features\": [");

  g_return_val_if_fail (DI_IS_CASE (kase), FALSE);
  g_return_val_if_fail (filename != NULL, FALSE);

  regions = di_case_dup_regions (kase, image_id);
  for (guint i = 0; i < regions->len; i++)
    {
      DiCaseRegion *r = g_ptr_array_index (regions, i);
      DiCaseImage *image = g_hash_table_lookup (images, &r->image_id);
      g_autofree char *uuid = g_uuid_string_random ();
      const double xs[5] = { r->x, r->x + r->width, r->x + r->width, r->x, r->x };
      const double ys[5] = { r->y, r->y, r->y + r->height, r->y + r->height, r->y };

      if (image == NULL)
        {
          image = di_case_dup_image (kase, r->image_id);
          if (image == NULL)
            continue;
          g_hash_table_insert (images, &image->id, image);
        }

      g_string_append (s, i ? ",\n  " : "\n  ");
      g_string_append (s, "{\"type\": \"Feature\", \"id\": ");
      di_export_append_json_string (s, uuid);
      g_string_append (s, ", \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[");
      for (int k = 0; k < 5; k++)
        {
          g_string_append (s, k ? ", [" : "[");
          append_number (s, xs[k]);
          g_string_append (s, ", ");
          append_number (s, ys[k]);
          g_string_append_c (s, ']');
        }
      g_string_append (s, "]]}, \"properties\": {\"objectType\": \"annotation\"");
      if (r->label != NULL)
        {
          guint8 rgb[3];

          di_export_class_color (r->label, rgb);
          g_string_append (s, ", \"classification\": {\"name\": ");
          di_export_append_json_string (s, r->label);
          g_string_append_printf (s, ", \"color\": [%u, %u, %u]}", rgb[0], rgb[1], rgb[2]);
          if (isfinite (r->probability))
            {
              /* QuPath reads "measurements" as name → number */
              g_string_append (s, ", \"measurements\": {\"probability\": ");
              append_number (s, r->probability);
              g_string_append_c (s, '}');
            }
        }
      g_string_append (s, ", \"isLocked\": false, \"metadata\": {\"image\": ");
      di_export_append_json_string (s, image->path);
      g_string_append (s, ", \"sha256\": ");
      di_export_append_json_string (s, image->sha256);
      g_string_append (s, "}}}");
    }
  g_string_append (s, regions->len ? "\n]}\n" : "]}\n");

  return write_file (filename, s, error);
}

/* ---- Retraining pack ------------------------------------------------ */

static gboolean
copy_file (const char  *from,
           const char  *to,
           GError     **error)
{
  g_autoptr(GFile) src = g_file_new_for_path (from);
  g_autoptr(GFile) dst = g_file_new_for_path (to);

  return g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, error);
}

/* A file name in dir for an image: its own name, or NAME-SHA8.EXT when
 * another image already took that name. *same: the file there is this
 * very image. */
static char *
pack_name (const char  *dir,
           const char  *path,
           const char  *sha256,
           gboolean    *same)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *candidate = g_build_filename (dir, base, NULL);
  g_autofree char *digest = NULL;
  const char *dot;
  g_autofree char *stem = NULL;

  *same = FALSE;
  if (!g_file_test (candidate, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&base);
  digest = di_case_compute_sha256 (candidate, NULL, NULL);
  if (g_strcmp0 (digest, sha256) == 0)
    {
      *same = TRUE;
      return g_steal_pointer (&base);
    }

  dot = strrchr (base, '.');
  stem = dot ? g_strndup (base, dot - base) : g_strdup (base);
  return g_strdup_printf ("%s-%.8s%s", stem, sha256, dot ? dot : "");
}

/* Removes a pack's copy named by an earlier labels.csv row, if it is
 * inside the pack and still the file of that SHA-256. */
static void
remove_pack_copy (const char *folder,
                  const char *rel,
                  const char *sha256)
{
  g_autofree char *path = NULL;
  g_autofree char *digest = NULL;

  if (g_path_is_absolute (rel) || strstr (rel, "..") != NULL)
    return;
  path = g_build_filename (folder, rel, NULL);
  digest = di_case_compute_sha256 (path, NULL, NULL);
  if (digest != NULL && g_strcmp0 (digest, sha256) == 0)
    g_unlink (path);
}

/* A labels.csv row, as the pack writes it. */
static void
append_pack_row (GString    *s,
                 const char *rel,
                 const char *label,
                 const char *source,
                 const char *reviewer,
                 const char *sha256)
{
  const char *fields[] = { rel, label, source, reviewer, sha256 };

  for (guint k = 0; k < G_N_ELEMENTS (fields); k++)
    {
      di_export_append_csv_field (s, fields[k]);
      g_string_append (s, k + 1 < G_N_ELEMENTS (fields) ? "," : "\r\n");
    }
}

/**
 * di_export_pack:
 * @folder: the pack; created if needed; an existing pack is added to (this
 *   case's earlier rows, and copies no other row names, are replaced by its
 *   current labels)
 * @n_copied: (out) (optional): images written
 * @n_skipped: (out) (optional): reviewed images left out because they are
 *   missing or changed since they were labelled
 *
 * Copies the reviewed images as FOLDER/LABEL/FILE and writes
 * FOLDER/labels.csv (file,class,source_case,reviewer,sha256); source_case
 * is the case file's path.
 */
gboolean
di_export_pack (DiCase      *kase,
                const char  *folder,
                guint       *n_copied,
                guint       *n_skipped,
                GError     **error)
{
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) dropped = g_ptr_array_new ();                            /* char **row */
  g_autofree char *labels_path = NULL;
  g_autofree char *existing = NULL;
  const char *source;
  g_autoptr(GHashTable) decided = g_hash_table_new (g_str_hash, g_str_equal);   /* SHA-256 */
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL); /* rel */
  g_autoptr(GHashTable) rows_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL); /* rel\nsource */
  g_autoptr(GString) s = g_string_new ("file,class,source_case,reviewer,sha256\r\n");
  guint copied = 0, skipped = 0;

  g_return_val_if_fail (DI_IS_CASE (kase), FALSE);
  g_return_val_if_fail (folder != NULL, FALSE);

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", folder, g_strerror (saved));
      return FALSE;
    }

  /* The case's path: folder cases all have the same file name. */
  source = di_case_get_filename (kase);
  labels_path = g_build_filename (folder, "labels.csv", NULL);

  /* The images whose place in the pack this export decides: those there
   * now, labelled or not. A missing or changed one keeps its earlier row
   * and copy (the pack may hold its only good copy). */
  images = di_case_dup_images (kase);
  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);

      if (image->sha256 != NULL && image->status == DI_CASE_IMAGE_OK && image->filename != NULL)
        g_hash_table_add (decided, image->sha256);
    }

  /* Earlier rows stay, but this case's rows of the images decided now:
   * a relabelled image is written again under its new class, one whose
   * label was cleared not at all (it must not train as its old class). */
  if (g_file_get_contents (labels_path, &existing, NULL, NULL))
    {
      rows = di_export_parse_csv (existing);
      for (guint i = 1; i < rows->len; i++)
        {
          char **row = g_ptr_array_index (rows, i);
          guint n = g_strv_length (row);

          if (n == 0 || *row[0] == '\0')
            continue;
          if (n >= 5 && g_strcmp0 (row[2], source) == 0 && g_hash_table_contains (decided, row[4]))
            {
              g_ptr_array_add (dropped, row);
              continue;
            }
          append_pack_row (s, row[0], n > 1 ? row[1] : NULL, n > 2 ? row[2] : NULL,
                           n > 3 ? row[3] : NULL, n > 4 ? row[4] : NULL);
          g_hash_table_add (listed, g_strdup (row[0]));
          g_hash_table_add (rows_of, g_strconcat (row[0], "\n", n > 2 ? row[2] : "", NULL));
        }
    }

  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      g_autofree char *class_dir_name = NULL;
      g_autofree char *class_dir = NULL;
      g_autofree char *name = NULL;
      g_autofree char *target = NULL;
      g_autofree char *rel = NULL;
      g_autofree char *key = NULL;
      gboolean same = FALSE;

      if (image->label == NULL)
        continue;
      if (image->status != DI_CASE_IMAGE_OK || image->filename == NULL)
        {
          g_message ("%s: not in the pack: %s", image->path,
                     image->status == DI_CASE_IMAGE_CHANGED ? "changed since it was labelled" : "missing");
          skipped++;
          continue;
        }

      class_dir_name = di_export_class_folder_name (image->label);
      class_dir = g_build_filename (folder, class_dir_name, NULL);
      if (g_mkdir_with_parents (class_dir, 0755) != 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "%s: %s", class_dir, g_strerror (saved));
          return FALSE;
        }
      name = pack_name (class_dir, image->path, image->sha256, &same);
      target = g_build_filename (class_dir, name, NULL);
      rel = g_strconcat (class_dir_name, "/", name, NULL);

      if (!same && !copy_file (image->filename, target, error))
        return FALSE;
      copied++;

      /* one row per case and file: a copy two cases share keeps both */
      key = g_strconcat (rel, "\n", source, NULL);
      if (g_hash_table_contains (rows_of, key))
        continue;
      append_pack_row (s, rel, image->label, source, image->reviewer, image->sha256);
      g_hash_table_add (rows_of, g_steal_pointer (&key));
      g_hash_table_add (listed, g_steal_pointer (&rel));
    }

  if (n_copied != NULL)
    *n_copied = copied;
  if (n_skipped != NULL)
    *n_skipped = skipped;

  if (!write_file (labels_path, s, error))
    return FALSE;

  /* Only now, with the new list written: the copies no row names any more. */
  for (guint i = 0; i < dropped->len; i++)
    {
      char **row = g_ptr_array_index (dropped, i);

      if (!g_hash_table_contains (listed, row[0]))
        {
          g_autofree char *class_dir = NULL;

          remove_pack_copy (folder, row[0], row[4]);
          /* a class folder left empty would be an empty class to dinet
           * train (g_rmdir leaves a folder that still holds files) */
          if (strchr (row[0], '/') != NULL && !g_path_is_absolute (row[0]) && strstr (row[0], "..") == NULL)
            {
              g_autofree char *class_name = g_strndup (row[0], strchr (row[0], '/') - row[0]);

              class_dir = g_build_filename (folder, class_name, NULL);
              g_rmdir (class_dir);
            }
        }
    }
  return TRUE;
}
