/* test-case-export.c — the headless batch mode, the PDF report, the CSV
 * and GeoJSON exports and the retraining pack.
 *
 * The batch runs both in-process (di_batch_run()) and as a separate
 * process without a display: this program runs di_batch_run() itself when
 * its first argument is --no-window, or $DEEPINSIGHT (the real
 * executable) is used when set. The report is checked with poppler's
 * pdftotext, pdfinfo, pdfimages and pdffonts; the CSV and GeoJSON are
 * parsed by Python's csv and json modules; the pack is trained on by
 * `$DINET train` for one step. Missing tools skip their checks.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <dinet/dinet.h>

#include "case-testutil.h"
#include "di-batch.h"
#include "di-case.h"
#include "di-export.h"
#include "di-report.h"

static char *self_exe;

static const char * const classes[] = { "a", "b", "c" };

static gint64
raw_int (const char *db_path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 v = -1;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

/* Runs the batch mode as its own process without a display. */
/* TRUE: run_batch() runs the batch as "nobody" when the test runs as root
 * (root writes any file, so a read-only case needs another user) */
static gboolean run_as_nobody;

static void
become_nobody (gpointer data)
{
  (void)data;
  if (run_as_nobody && getuid () == 0 && (setgid (65534) != 0 || setuid (65534) != 0))
    _exit (97);
}

static int
run_batch (const char * const *args,
           char              **out,
           char              **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *exe = g_getenv ("DEEPINSIGHT");
  int status = 0;

  g_ptr_array_add (argv, (gpointer)(exe && *exe ? exe : self_exe));
  g_ptr_array_add (argv, (gpointer)"--no-window");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);

  envp = g_environ_unsetenv (envp, "DISPLAY");
  envp = g_environ_unsetenv (envp, "WAYLAND_DISPLAY");
  envp = g_environ_setenv (envp, "GSETTINGS_BACKEND", "memory", TRUE);

  if (!g_spawn_sync (NULL, (char **)argv->pdata, envp, 0, become_nobody, NULL, out, err, &status, &error))
    {
      fprintf (stderr, "cannot run the batch mode: %s\n", error->message);
      return -1;
    }
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static gboolean
have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  return path != NULL;
}

static gboolean
contains_word (const char *text,
               const char *word)
{
  g_autofree char *escaped = g_regex_escape_string (word, -1);
  g_autofree char *pattern = g_strdup_printf ("(^|\\W)%s(\\W|$)", escaped);

  return g_regex_match_simple (pattern, text, G_REGEX_MULTILINE, 0);
}

/* Python's csv module reads the file; fields come back separated by US
 * (0x1f), records by RS (0x1e). */
static char *
python_csv (const char *path)
{
  const char *argv[] = {
    "python3", "-c",
    "import csv,sys\n"
    "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
    "    rows = list(csv.reader(f, strict=True))\n"
    "sys.stdout.write('\\x1e'.join('\\x1f'.join(r) for r in rows))\n",
    path, NULL
  };
  char *out = NULL;

  if (ct_run (argv, &out) != 0)
    g_clear_pointer (&out, g_free);
  return out;
}

static void
check_csv (DiCase     *kase,
           const char *path)
{
  g_autofree char *out = python_csv (path);
  g_auto(GStrv) records = NULL;
  g_auto(GStrv) header = NULL;
  g_autoptr(GPtrArray) images = di_case_dup_images (kase);
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) ours = NULL;
  int col_file = -1, col_label = -1, col_note = -1, col_pred = -1, col_reviewer = -1, col_p[3] = { -1, -1, -1 };
  int col_abn = -1, col_susp = -1, col_views = -1, col_n_views = -1;

  CHECK (out != NULL, "python's csv module reads the CSV");
  if (out == NULL)
    return;

  records = g_strsplit (out, "\x1e", -1);
  CHECK (g_strv_length (records) == images->len + 1, "%u records for %u images",
         g_strv_length (records), images->len);
  header = g_strsplit (records[0], "\x1f", -1);
  for (int i = 0; header[i]; i++)
    {
      if (g_str_equal (header[i], "file")) col_file = i;
      if (g_str_equal (header[i], "reviewer_label")) col_label = i;
      if (g_str_equal (header[i], "note")) col_note = i;
      if (g_str_equal (header[i], "predicted")) col_pred = i;
      if (g_str_equal (header[i], "reviewer")) col_reviewer = i;
      if (g_str_equal (header[i], "p_abnormal")) col_abn = i;
      if (g_str_equal (header[i], "suspicious")) col_susp = i;
      if (g_str_equal (header[i], "views_agree")) col_views = i;
      if (g_str_equal (header[i], "views")) col_n_views = i;
      for (int k = 0; k < 3; k++)
        {
          g_autofree char *name = g_strconcat ("p_", classes[k], NULL);
          if (g_str_equal (header[i], name))
            col_p[k] = i;
        }
    }
  CHECK (col_file == 0 && col_label > 0 && col_note > 0 && col_pred > 0 && col_reviewer > 0 &&
         col_p[0] > 0 && col_p[1] > 0 && col_p[2] > 0 && col_abn > 0 && col_susp > 0 && col_views > 0 && col_n_views > 0,
         "header has every column");
  if (col_file != 0 || col_label < 0 || col_note < 0 || col_pred < 0 || col_p[2] < 0 || col_reviewer < 0 ||
      col_abn < 0 || col_susp < 0 || col_views < 0 || col_n_views < 0)
    return;

  for (guint i = 0; i < images->len && records[i + 1] != NULL; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      g_auto(GStrv) f = g_strsplit (records[i + 1], "\x1f", -1);
      double sum = 0;

      CHECK (g_strv_length (f) == g_strv_length (header), "row %u has %u fields", i, g_strv_length (f));
      if (g_strv_length (f) != g_strv_length (header))
        continue;
      CHECK (g_strcmp0 (f[col_file], image->path) == 0, "file %s round-trips as %s", image->path, f[col_file]);
      CHECK (g_strcmp0 (f[col_label], image->label ? image->label : "") == 0, "label round-trips");
      CHECK (g_strcmp0 (f[col_note], image->note ? image->note : "") == 0, "note %s round-trips as %s",
             image->note, f[col_note]);
      CHECK (g_strcmp0 (f[col_reviewer], image->reviewer ? image->reviewer : "") == 0, "reviewer round-trips");
      CHECK (g_strcmp0 (f[col_pred], image->predicted ? image->predicted : "") == 0, "predicted");
      for (int k = 0; k < 3; k++)
        sum += g_ascii_strtod (f[col_p[k]], NULL);
      CHECK (fabs (sum - 1.0) < 1e-4, "probabilities sum to %f", sum);
      /* the model groups b and c as abnormal: p_abnormal = p_b + p_c, and
       * suspicious at 0.5 or more */
      {
        double pab = g_ascii_strtod (f[col_p[1]], NULL) + g_ascii_strtod (f[col_p[2]], NULL);
        double got = g_ascii_strtod (f[col_abn], NULL);

        CHECK (fabs (got - pab) < 2e-6, "p_abnormal %s, want %f", f[col_abn], pab);
        CHECK (g_strcmp0 (f[col_susp], got >= 0.5 ? "yes" : "no") == 0, "suspicious %s at %f",
               f[col_susp], got);
      }
      /* a one-view model: no views to count */
      CHECK (f[col_views][0] == '\0' && f[col_n_views][0] == '\0', "views_agree %s, views %s for one view",
             f[col_views], f[col_n_views]);
    }

  /* Our own parser agrees with Python's. */
  g_file_get_contents (path, &text, NULL, NULL);
  ours = di_export_parse_csv (text);
  CHECK (ours->len == g_strv_length (records), "own parser: %u records", ours->len);
  for (guint i = 0; i < ours->len && records[i] != NULL; i++)
    {
      g_autofree char *joined = g_strjoinv ("\x1f", g_ptr_array_index (ours, i));
      CHECK (g_strcmp0 (joined, records[i]) == 0, "record %u the same", i);
    }
}

static void
check_geojson (DiCase     *kase,
               const char *path)
{
  const char *argv[] = {
    "python3", "-c",
    "import json,sys\n"
    "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
    "assert d['type'] == 'FeatureCollection'\n"
    "out = []\n"
    "for f in d['features']:\n"
    "    assert f['type'] == 'Feature'\n"
    "    g = f['geometry']\n"
    "    assert g['type'] == 'Polygon'\n"
    "    ring = g['coordinates'][0]\n"
    "    assert ring[0] == ring[-1] and len(ring) == 5\n"
    "    p = f['properties']\n"
    "    assert p['objectType'] == 'annotation'\n"
    "    c = p.get('classification')\n"
    "    if c is not None:\n"
    "        assert len(c['color']) == 3 and all(0 <= v <= 255 for v in c['color'])\n"
    "    xs = [q[0] for q in ring]; ys = [q[1] for q in ring]\n"
    "    m = p.get('measurements', {})\n"
    "    assert c is not None or not m\n"
    "    prob = '%g' % m['probability'] if 'probability' in m else ''\n"
    "    out.append('%s|%s|%g|%g|%g|%g|%s' % (p['metadata']['image'], c['name'] if c else '',\n"
    "               min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), prob))\n"
    "print('\\n'.join(out))\n",
    path, NULL
  };
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) regions = di_case_dup_regions (kase, 0);
  g_auto(GStrv) lines = NULL;

  CHECK (ct_run (argv, &out) == 0, "python's json module reads the GeoJSON");
  if (out == NULL)
    return;
  g_strchomp (out);
  lines = g_strsplit (out, "\n", -1);
  CHECK (g_strv_length (lines) == regions->len, "%u features for %u regions", g_strv_length (lines), regions->len);
  for (guint i = 0; i < regions->len && lines[i] != NULL; i++)
    {
      DiCaseRegion *r = g_ptr_array_index (regions, i);
      g_autoptr(DiCaseImage) image = di_case_dup_image (kase, r->image_id);
      g_autofree char *prob = isfinite (r->probability) ? g_strdup_printf ("%g", r->probability) : g_strdup ("");
      g_autofree char *expected = g_strdup_printf ("%s|%s|%g|%g|%g|%g|%s", image->path, r->label ? r->label : "",
                                                   r->x, r->y, r->width, r->height, prob);
      CHECK (g_strcmp0 (lines[i], expected) == 0, "feature %s, expected %s", lines[i], expected);
    }
}

static void
check_report (DiCase     *kase,
              const char *pdf,
              int         expected_pages)
{
  g_autoptr(GPtrArray) images = di_case_dup_images (kase);
  g_autofree char *text = NULL;
  g_autofree char *info = NULL;
  g_autofree char *list = NULL;
  g_autofree char *fonts = NULL;

  CHECK (g_file_test (pdf, G_FILE_TEST_IS_REGULAR), "report written");
  if (!have_program ("pdftotext"))
    {
      printf ("poppler-utils not found: report checks skipped\n");
      return;
    }

  {
    const char *argv[] = { "pdftotext", "-layout", pdf, "-", NULL };
    CHECK (ct_run (argv, &text) == 0 && text != NULL, "pdftotext");
  }
  if (text != NULL)
    {
      g_autofree char *lower = g_utf8_strdown (text, -1);

      for (guint i = 0; i < images->len; i++)
        {
          DiCaseImage *image = g_ptr_array_index (images, i);
          g_autofree char *base = g_path_get_basename (image->path);
          CHECK (strstr (text, base) != NULL, "report names %s", base);
        }
      for (int k = 0; k < 3; k++)
        CHECK (contains_word (text, classes[k]), "report names class %s", classes[k]);
      CHECK (strstr (text, "model.safetensors") != NULL, "report names the model");
      CHECK (strstr (text, "Grad-CAM") != NULL, "report says Grad-CAM");
      CHECK (strstr (lower, "decision support, not a diagnosis") != NULL, "intended use");
      CHECK (strstr (text, "Dr Test") != NULL, "reviewer on the title page");
      /* three reviewed images: too few for Cohen's kappa to mean anything */
      CHECK (strstr (text, "Cohen") == NULL && strstr (text, "reviewed images") != NULL,
             "agreement without a kappa over a few images");
      /* who made how many labels: Dr Test two, Dr Other one */
      CHECK (strstr (text, "Dr Test (2)") != NULL && strstr (text, "Dr Other (1)") != NULL,
             "labels counted by reviewer");
      CHECK (strstr (text, "Accuracy") != NULL && strstr (text, "91.2") != NULL &&
             strstr (text, "Sensitivity, abnormal") != NULL && strstr (text, "412") != NULL,
             "validation figures");
      CHECK (strstr (text, "Disagreement") != NULL && strstr (text, "Agreement") != NULL, "cell tags");
      CHECK (strstr (text, "Case category") != NULL, "case category");
      CHECK (strstr (text, "AI suspicious") != NULL, "screening flag count");
      CHECK (strstr (text, "P(abnormal) ") != NULL, "P(abnormal) of each cell");
      /* the case's regions, listed with their cell (pdftotext may break lines) */
      CHECK (strstr (text, "Regions (1)") != NULL && strstr (text, "b (62.5") != NULL &&
             strstr (text, "%) at 10, 12") != NULL && strstr (text, "c at 1, 2") != NULL &&
             strstr (text, "no class at 5, 5") != NULL, "regions in the report, with a probability where known");
      {
        g_autofree char *last = g_strdup_printf ("Page %d of %d", expected_pages, expected_pages);
        CHECK (strstr (text, last) != NULL, "page numbers");
      }
      /* Disagreements first. */
      {
        const char *dis = strstr (text, "Disagreement");
        const char *agr = strstr (text, "Agreement\n") ? strstr (text, "Agreement\n") : strstr (text, "Agreement ");
        CHECK (dis != NULL && agr != NULL && dis < agr, "disagreements before agreements");
      }
    }

  {
    const char *argv[] = { "pdfinfo", pdf, NULL };
    CHECK (ct_run (argv, &info) == 0 && info != NULL, "pdfinfo");
    if (info != NULL)
      {
        g_autoptr(GRegex) re = g_regex_new ("^Pages:\\s+(\\d+)$", G_REGEX_MULTILINE, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        int pages = -1;

        if (g_regex_match (re, info, 0, &m))
          {
            g_autofree char *n = g_match_info_fetch (m, 1);
            pages = atoi (n);
          }
        CHECK (pages == expected_pages, "%d pages, expected %d", pages, expected_pages);
        CHECK (strstr (info, "A4") != NULL || strstr (info, "595.276 x 841.89") != NULL, "A4");
      }
  }

  {
    const char *argv[] = { "pdfimages", "-list", pdf, NULL };
    CHECK (ct_run (argv, &list) == 0 && list != NULL, "pdfimages");
    if (list != NULL)
      {
        g_auto(GStrv) lines = g_strsplit (list, "\n", -1);
        guint n_images = 0, n_rgb = 0, on_cell_pages = 0;

        for (guint i = 2; lines[i] != NULL; i++)
          {
            int page = 0;
            char type[16] = "";

            if (sscanf (lines[i], "%d %*d %15s", &page, type) != 2)
              continue;
            n_images++;
            if (strstr (lines[i], " rgb ") != NULL)
              n_rgb++;
            if (page >= 3)
              on_cell_pages++;
          }
        /* Per cell at least the thumbnail and the coloured map. */
        CHECK (on_cell_pages >= 2 * images->len, "%u images on the cell pages for %u cells",
               on_cell_pages, images->len);
        CHECK (n_rgb >= 2 * images->len, "%u RGB images", n_rgb);
      }
  }

  if (have_program ("pdffonts"))
    {
      const char *argv[] = { "pdffonts", pdf, NULL };
      CHECK (ct_run (argv, &fonts) == 0 && fonts != NULL, "pdffonts");
      if (fonts != NULL)
        {
          g_auto(GStrv) lines = g_strsplit (fonts, "\n", -1);
          guint n = 0, embedded = 0;

          for (guint i = 2; lines[i] != NULL; i++)
            {
              g_auto(GStrv) f = NULL;
              if (*lines[i] == '\0')
                continue;
              n++;
              /* name type encoding emb sub uni object ID */
              f = g_regex_split_simple ("\\s+", g_strstrip (lines[i]), 0, 0);
              if (g_strv_length (f) >= 7 && g_str_equal (f[g_strv_length (f) - 5], "yes"))
                embedded++;
            }
          CHECK (n > 0 && embedded == n, "%u of %u fonts embedded", embedded, n);
        }
    }
}

static void
check_pack (DiCase     *kase,
            const char *pack,
            const char *dir)
{
  g_autoptr(GPtrArray) images = di_case_dup_images (kase);
  g_autofree char *labels = g_build_filename (pack, "labels.csv", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  const char *dinet = g_getenv ("DINET");
  guint reviewed = 0;

  CHECK (g_file_get_contents (labels, &text, NULL, NULL), "labels.csv written");
  if (text == NULL)
    return;
  rows = di_export_parse_csv (text);
  CHECK (rows->len > 0 && g_strv_length (g_ptr_array_index (rows, 0)) >= 4 &&
         g_str_equal (((char **)g_ptr_array_index (rows, 0))[0], "file") &&
         g_str_equal (((char **)g_ptr_array_index (rows, 0))[1], "class") &&
         g_str_equal (((char **)g_ptr_array_index (rows, 0))[2], "source_case") &&
         g_str_equal (((char **)g_ptr_array_index (rows, 0))[3], "reviewer"), "labels.csv header");

  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      gboolean found = FALSE;

      if (image->label == NULL)
        continue;
      reviewed++;
      for (guint r = 1; r < rows->len && !found; r++)
        {
          char **row = g_ptr_array_index (rows, r);
          g_autofree char *copy = g_build_filename (pack, row[0], NULL);
          g_autofree char *sha = di_case_compute_sha256 (copy, NULL, NULL);

          if (g_strcmp0 (sha, image->sha256) == 0)
            {
              found = TRUE;
              CHECK (g_strcmp0 (row[1], image->label) == 0, "class column");
              CHECK (g_str_has_prefix (row[0], image->label), "CLASS/file layout: %s", row[0]);
              CHECK (g_strcmp0 (row[2], di_case_get_filename (kase)) == 0, "source case %s", row[2]);
              CHECK (g_strcmp0 (row[3], image->reviewer) == 0, "reviewer column");
            }
        }
      CHECK (found, "%s copied into the pack", image->path);
    }
  CHECK (rows->len == reviewed + 1, "%u rows for %u reviewed images", rows->len - 1, reviewed);

  if (dinet == NULL || !g_file_test (dinet, G_FILE_TEST_IS_EXECUTABLE))
    printf ("DINET not set: training on the pack skipped\n");
  else
    {
      g_autofree char *out_model = g_build_filename (dir, "retrained.safetensors", NULL);
      const char *argv[] = { dinet, "train", "--data", pack, "--out", out_model, "--epochs", "1",
                             "--max-steps", "1", "--size", "32", "--batch", "2", "--quiet",
                             "--threads", "2", NULL };
      int rc = ct_run (argv, NULL);

      CHECK (rc == 0, "dinet train reads the pack (exit %d)", rc);
      CHECK (g_file_test (out_model, G_FILE_TEST_EXISTS), "and writes a model");
    }
}

static char *report_words (const char *pdf);

/* A model that asks for 8 views (metadata "tta") is classified with 8 views
 * by the batch too, with its temperature: the stored probabilities are
 * those of dinet_net_predict(), as in the viewer and `dinet classify`. */
static void
check_batch_views (const char *dir,
                   const char *model,
                   const char *imgdir,
                   const char * const *names,
                   guint        n_names)
{
  dinet_error derr = {0};
  g_autofree char *tta_model = g_build_filename (dir, "model-tta.safetensors", NULL);
  g_autofree char *case_path = g_build_filename (dir, "tta.dicase", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  dinet_net *net = dinet_net_load (model, &derr);
  g_autoptr(GPtrArray) agreeing = g_ptr_array_new_with_free_func (g_free); /* "5,8" per image */
  int k, size, rc;
  guint differs = 0;

  CHECK (net != NULL, "load %s: %s", model, derr.message);
  if (net == NULL)
    return;
  dinet_net_set_meta (net, DINET_META_TTA, DINET_TTA_DIHEDRAL8, NULL);
  dinet_net_set_meta (net, "temperature", "1.7", NULL);
  CHECK (dinet_net_save (net, tta_model, DINET_DTYPE_F32, &derr) == 0, "save: %s", derr.message);
  CHECK (dinet_net_tta_views (net) == 8, "8 views");
  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", tta_model,
                           "--threads", "2", "--quiet", imgdir, NULL };
    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
    CHECK (rc == 0, "batch run exit %d", rc);
  }
  kase = di_case_open (case_path, &error);
  CHECK_NO_ERROR (error);
  k = dinet_net_num_classes (net);
  size = dinet_net_input_size (net);
  images = kase ? di_case_dup_images (kase) : g_ptr_array_new ();
  CHECK (images->len == n_names, "%u images", images->len);
  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      g_autoptr(DiCaseEvent) pred = di_case_dup_prediction (kase, image->id, NULL);
      dinet_image *img = image->filename ? dinet_image_load (image->filename, NULL, &derr) : NULL;
      g_autofree float *x = g_new (float, 3 * (gsize)size * size);
      g_autofree float *z = g_new (float, k);
      g_autofree float *p = g_new (float, k);
      g_autofree float *p1 = g_new (float, k);

      CHECK (pred != NULL && img != NULL, "prediction and image %s", image->path);
      if (pred == NULL || img == NULL)
        {
          dinet_image_free (img);
          continue;
        }
      CHECK (dinet_net_preprocess (net, img, x, &derr) == 0, "preprocess");
      dinet_image_free (img);
      int view_top[8];

      CHECK (dinet_net_predict (net, x, 1, size, size, 0, z, view_top, &derr) == 0, "predict");
      CHECK (pred->n_views == 8 && pred->view_top != NULL &&
             memcmp (pred->view_top, view_top, sizeof view_top) == 0,
             "%s: the case keeps each view's top class", image->path);
      {
        g_autofree char *want = g_strdup_printf ("%d,8", dinet_views_agreeing (view_top, 8, di_case_event_get_top (pred)));

        g_ptr_array_add (agreeing, g_steal_pointer (&want));
      }
      dinet_softmax (z, 1, k, dinet_net_temperature (net), p);
      CHECK (dinet_net_predict (net, x, 1, size, size, 1, z, NULL, &derr) == 0, "one view");
      dinet_softmax (z, 1, k, dinet_net_temperature (net), p1);
      for (int j = 0; j < k; j++)
        {
          CHECK (fabs (pred->probabilities[j] - p[j]) < 1e-5, "%s class %d: stored %g, 8 views %g",
                 image->path, j, pred->probabilities[j], p[j]);
          differs += fabs (p1[j] - p[j]) > 1e-4;
        }
    }
  /* the check can tell: one view gives other probabilities */
  CHECK (differs > 0, "8 views differ from one");

  /* the CSV's views_agree and views columns: 5 and 8 */
  if (kase != NULL)
    {
      g_autofree char *csv = g_build_filename (dir, "tta.csv", NULL);
      g_autofree char *out = NULL;
      g_auto(GStrv) records = NULL;
      g_auto(GStrv) header = NULL;
      int col = -1, col_n = -1;

      CHECK (di_export_csv (kase, csv, &error), "CSV of the 8-view case");
      CHECK_NO_ERROR (error);
      g_clear_error (&error);
      out = python_csv (csv);
      records = out ? g_strsplit (out, "\x1e", -1) : NULL;
      header = records ? g_strsplit (records[0], "\x1f", -1) : NULL;
      for (int i = 0; header && header[i]; i++)
        {
          if (g_str_equal (header[i], "views_agree"))
            col = i;
          if (g_str_equal (header[i], "views"))
            col_n = i;
        }
      CHECK (col > 0 && col_n > 0 && g_strv_length (records) == agreeing->len + 1,
             "views_agree and views columns, one row an image");
      for (guint i = 0; col > 0 && col_n > 0 && i < agreeing->len && records[i + 1] != NULL; i++)
        {
          g_auto(GStrv) f = g_strsplit (records[i + 1], "\x1f", -1);
          g_autofree char *got = (int)g_strv_length (f) > MAX (col, col_n)
                                   ? g_strdup_printf ("%s,%s", f[col], f[col_n]) : g_strdup ("?");

          CHECK (g_strcmp0 (got, g_ptr_array_index (agreeing, i)) == 0, "row %u: views_agree,views %s, want %s",
                 i, got, (char *)g_ptr_array_index (agreeing, i));
        }
    }
  dinet_net_free (net);
  /* the report counts the calls whose views disagree, and each entry says
   * how its views voted; one call's views are made to split (the random
   * fixture model's views all agree), with the top class kept first */
  {
    g_autofree char *pdf = g_build_filename (dir, "tta.pdf", NULL);
    g_autofree char *text = NULL;
    const char *args[] = { "--case", case_path, "--model", tta_model, "--threads", "2", "--quiet",
                           "--export-report", pdf, NULL };
    guint n_split = 0, n_entries = 0;
    sqlite3 *db = NULL;

    for (guint i = 0; i < agreeing->len; i++)
      n_split += !g_str_equal (g_ptr_array_index (agreeing, i), "8,8");
    CHECK (sqlite3_open (case_path, &db) == SQLITE_OK &&
           sqlite3_exec (db, "UPDATE predictions SET view_classes = "
                             "(SELECT json_array(m.c0, predicted, predicted, predicted, predicted, predicted, m.c2, predicted) "
                             " FROM (SELECT json_extract(classes, '$[0]') c0, json_extract(classes, '$[2]') c2 FROM models) m) "
                             "WHERE id = (SELECT min(id) FROM predictions) AND predicted = 'b'",
                         NULL, NULL, NULL) == SQLITE_OK && sqlite3_changes (db) == 1,
           "one call's views made to split");
    sqlite3_close (db);
    n_split++;
    CHECK (run_batch (args, NULL, NULL) == 0, "report of the 8-view case");
    text = report_words (pdf);
    if (text != NULL)
      {
        g_autofree char *want = g_strdup_printf ("%u of %u calls (read them as uncertain)", n_split, agreeing->len);

        CHECK (strstr (text, "AI views disagree") != NULL && strstr (text, want) != NULL,
               "the summary says 'AI views disagree %s': %s", want, text);
        for (const char *p = text; (p = strstr (p, "Views disagree")) != NULL; p++)
          n_entries++;
        CHECK (n_entries == n_split, "only split entries say how their views voted: %u", n_entries);
        CHECK (strstr (text, "All 8 views agree") == NULL, "agreeing views go unsaid in the entries");
        CHECK (strstr (text, "Views disagree: 6 of 8 put it first; the others: a (1), c (1)") != NULL,
               "the split entry says how its views voted");
      }
  }
  (void)names;
}

/* The report's words on one line, whatever the layout wrapped; NULL
 * without pdftotext. */
static char *
report_words (const char *pdf)
{
  g_autofree char *text = NULL;

  if (!have_program ("pdftotext"))
    return NULL;
  {
    const char *argv[] = { "pdftotext", pdf, "-", NULL };
    CHECK (ct_run (argv, &text) == 0 && text != NULL, "pdftotext");
  }
  for (char *c = text; c != NULL && *c; c++)
    if (*c == '\n')
      *c = ' ';
  return g_steal_pointer (&text);
}

/* An image nobody could classify or review leaves the case "Not
 * determined", never NILM, and the title page says the case is incomplete. */
/* Reviews the readable cell as @label, exports the report (and the CSV),
 * and returns the report's words on one line; NULL without pdftotext. */
static char *
review_and_report (const char *case_path,
                   const char *model,
                   const char *good,
                   const char *label,
                   const char *pdf,
                   const char *csv)
{
  g_autofree char *text = NULL;
  int rc;

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(DiCase) kase = di_case_open (case_path, &error);
    gint64 id = kase ? di_case_find_image (kase, good) : 0;

    CHECK_NO_ERROR (error);
    CHECK (id > 0 && di_case_relabel (kase, id, label, NULL, "Dr Test", NULL), "review the readable cell");
  }
  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", model,
                           "--threads", "2", "--quiet", "--export-report", pdf, "--export-csv", csv, NULL };

    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
    CHECK (rc == 0, "report run exit %d", rc);
  }
  return report_words (pdf);
}

static void
check_incomplete_case (const char *dir,
                       const char *model)
{
  g_autofree char *folder = g_build_filename (dir, "incomplete", NULL);
  g_autofree char *good = g_build_filename (folder, "good.png", NULL);
  g_autofree char *broken = g_build_filename (folder, "broken.png", NULL);
  g_autofree char *case_path = g_build_filename (dir, "incomplete.dicase", NULL);
  g_autofree char *pdf = g_build_filename (dir, "incomplete.pdf", NULL);
  g_autofree char *csv = g_build_filename (dir, "incomplete.csv", NULL);
  g_autofree char *text = NULL;
  g_autofree char *csv_text = NULL;
  int rc;

  g_mkdir_with_parents (folder, 0755);
  ct_make_cell (good, 96, 80, 3);
  g_file_set_contents (broken, "", 0, NULL);
  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", model,
                           "--threads", "2", "--quiet", folder, NULL };
    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
    CHECK (rc != 0, "a failed image makes the run fail (exit %d)", rc);
  }

  /* The readable cell reviewed as "a", a normal class: NILM on its own. */
  text = review_and_report (case_path, model, good, "a", pdf, csv);
  if (text != NULL)
    {
      CHECK (strstr (text, "Not determined") != NULL, "category not determined");
      CHECK (strstr (text, "1 image was neither classified nor reviewed") != NULL, "incomplete case said: %s",
             text);
      CHECK (strstr (text, "file is empty") != NULL, "the report says why the image is unreadable");
    }

  /* The CSV tells the unreadable file from one not classified yet. */
  CHECK (g_file_get_contents (csv, &csv_text, NULL, NULL), "CSV written");
  if (csv_text != NULL)
    {
      g_autoptr(GPtrArray) rows = di_export_parse_csv (csv_text);
      char **head = rows->len > 0 ? g_ptr_array_index (rows, 0) : NULL;
      int col_status = -1, col_error = -1, col_file = -1;
      gboolean seen_broken = FALSE, seen_good = FALSE;

      for (int i = 0; head != NULL && head[i] != NULL; i++)
        {
          if (g_str_equal (head[i], "status")) col_status = i;
          if (g_str_equal (head[i], "error")) col_error = i;
          if (g_str_equal (head[i], "file")) col_file = i;
        }
      CHECK (col_status >= 0 && col_error >= 0 && col_file >= 0, "status, error and file columns");
      for (guint r = 1; r < rows->len && col_error >= 0 && col_status >= 0 && col_file >= 0; r++)
        {
          char **row = g_ptr_array_index (rows, r);

          if (g_str_has_suffix (row[col_file], "broken.png"))
            {
              seen_broken = TRUE;
              CHECK (g_str_equal (row[col_status], "unreadable"), "status %s", row[col_status]);
              CHECK (strstr (row[col_error], "empty") != NULL, "error %s", row[col_error]);
            }
          else
            {
              seen_good = TRUE;
              CHECK (g_str_equal (row[col_status], "ok") && row[col_error][0] == 0,
                     "the readable image: %s, “%s”", row[col_status], row[col_error]);
            }
        }
      CHECK (seen_broken && seen_good, "both rows");
    }
  g_clear_pointer (&text, g_free);

  /* Reviewed as "b" (abnormal) instead: the category is found, but the
   * unreadable image may hold worse, so it is a lower bound. */
  text = review_and_report (case_path, model, good, "b", pdf, csv);
  if (text != NULL)
    {
      const char *ai = strstr (text, "From the AI calls only");

      CHECK (strstr (text, "or worse: case incomplete") != NULL, "a lower bound in an incomplete case: %s", text);
      /* the AI did not see the unreadable image either: its category is
       * not determined, a lower bound or the worst there is */
      CHECK (ai != NULL && (g_str_has_prefix (ai + 23, "Not determined") || g_str_has_prefix (ai + 23, "HSIL+") ||
                            g_strstr_len (ai, 80, "or worse: case incomplete") != NULL),
             "the AI's category in an incomplete case: %.80s", ai ? ai : "(none)");
    }
  g_clear_pointer (&text, g_free);

  /* Labels that are none of the model's classes (another model's, say)
   * get rows of their own in the summary, counted (two, so that the
   * counts outgrow their first allocation). */
  {
    g_autoptr(DiCase) kase = di_case_open (case_path, NULL);
    gint64 id = kase ? di_case_find_image (kase, broken) : 0;

    CHECK (id > 0 && di_case_relabel (kase, id, "zz_other", NULL, "Dr Test", NULL), "label the other image");
  }
  text = review_and_report (case_path, model, good, "zz_more", pdf, csv);
  if (text != NULL)
    {
      g_autofree char *layout = NULL;
      const char *argv[] = { "pdftotext", "-layout", pdf, "-", NULL };
      g_auto(GStrv) lines = NULL;
      guint seen = 0;

      CHECK (ct_run (argv, &layout) == 0 && layout != NULL, "pdftotext -layout");
      lines = g_strsplit (layout ? layout : "", "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (g_strchug (lines[i]), "zz_"))
          {
            g_auto(GStrv) all = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
            const char *words[64];
            guint n = 0;

            for (guint w = 0; all[w] != NULL && n < G_N_ELEMENTS (words); w++)
              if (*all[w])
                words[n++] = all[w];
            seen++;
            CHECK (n >= 2 && g_str_equal (words[n - 1], "1") && g_str_equal (words[n - 2], "0"),
                   "the other label's row counts 0 AI calls and 1 reviewer label: %s", lines[i]);
          }
      CHECK (seen == 2, "the summary has a row for each other label (%u)", seen);
    }
}

/* A field given to a model of single cells: the report says its AI call
 * may not apply, on the image's entry and in the summary, and that call
 * cannot make the case NILM. */
static void
check_out_of_scope (const char *dir,
                    const char *model)
{
  g_autofree char *folder = g_build_filename (dir, "scope", NULL);
  g_autofree char *cell = g_build_filename (folder, "cell.png", NULL);
  g_autofree char *field = g_build_filename (folder, "field.png", NULL);
  g_autofree char *scoped = g_build_filename (dir, "scoped.safetensors", NULL);
  g_autofree char *case_path = g_build_filename (dir, "scope.dicase", NULL);
  g_autofree char *pdf = g_build_filename (dir, "scope.pdf", NULL);
  g_autofree char *text = NULL;
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (model, &err);
  int rc;

  /* the model says its training images were about 40 pixels a side */
  CHECK (net != NULL && dinet_net_set_meta (net, "data.image_side", "40", &err) == 0 &&
         dinet_net_save (net, scoped, DINET_DTYPE_F32, &err) == 0, "scoped model: %s", err.message);
  dinet_net_free (net);
  g_mkdir_with_parents (folder, 0755);
  ct_make_cell (cell, 48, 40, 5);
  ct_make_cell (field, 400, 300, 6);
  {
    const char *args[] = { "--case", case_path, "--model", scoped, "--threads", "2",
                           "--export-report", pdf, folder, NULL };
    g_autofree char *out = NULL;
    g_autofree char *errs = NULL;

    rc = run_batch (args, &out, &errs);
    CHECK (rc == 0, "scope run exit %d: %s", rc, errs);
    /* each line names its image; only the field's says it may not apply */
    {
      g_auto(GStrv) lines = g_strsplit (out ? out : "", "\n", -1);
      guint seen = 0;

      for (guint i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (lines[i], "field.png: ") || g_str_has_prefix (lines[i], "cell.png: "))
          {
            gboolean field_line = g_str_has_prefix (lines[i], "field.png: ");

            seen++;
            CHECK ((strstr (lines[i], "much larger than the model’s training images") != NULL) == field_line,
                   "only the field's call is said not to apply: %s", lines[i]);
          }
      CHECK (seen == 2, "both calls printed: %s", out);
    }
  }
  text = report_words (pdf);
  if (text == NULL)
    return;
  CHECK (strstr (text, "1 image is far from the size of the images the model was trained on (about 40 pixels") != NULL,
         "the summary counts the field: %s", text);
  CHECK (strstr (text, "Much larger than the model’s training images") != NULL, "the field's entry says so");
  CHECK (strstr (text, "Much smaller") == NULL, "the cell fits");
  CHECK (strstr (text, "From the AI calls only NILM") == NULL, "no NILM from a call that may not apply");
  /* the summary table marks the class count that holds the field's call */
  CHECK (strstr (text, "* includes 1 call on an image far from the size of the model’s training images") != NULL,
         "the table's note counts the field: %s", text);
  {
    guint stars = 0;

    for (const char *p = text; (p = strchr (p, '*')) != NULL; p++)
      stars++;
    CHECK (stars == 2, "one class count marked, and its note: %u '*'", stars);
  }
}

/* An archived case (read-only file in a read-only folder) still gives its
 * exports: the headless mode reads a copy in memory, says so, and leaves
 * the file as it was, with nothing made beside it. */
static void
check_read_only_export (const char *dir,
                        const char *model,
                        const char *imgdir,
                        const char *name)
{
  g_autofree char *archive = g_build_filename (dir, "archive", NULL);
  g_autofree char *case_path = g_build_filename (archive, "archived.dicase", NULL);
  g_autofree char *outdir = g_build_filename (dir, "archive-out", NULL);
  g_autofree char *csv = g_build_filename (outdir, "archived.csv", NULL);
  g_autofree char *shm = g_strconcat (case_path, "-shm", NULL);
  g_autofree char *cmd = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  gsize n_before = 0, n_after = 0;
  char *out = NULL, *err = NULL;
  int rc;

  g_chmod (dir, 0755); /* the temporary folder is root's alone */
  g_mkdir_with_parents (archive, 0755);
  g_mkdir_with_parents (outdir, 0777);
  g_chmod (outdir, 0777);
  cmd = g_strdup_printf ("cp '%s/%s' '%s/'", imgdir, name, archive);
  CHECK (system (cmd) == 0, "an image for the archived case");
  {
    const char *args[] = { "--case", case_path, "--model", model, "--threads", "2", "--quiet", archive, NULL };

    CHECK (run_batch (args, NULL, NULL) == 0, "the case classified");
  }
  CHECK (g_chmod (case_path, 0444) == 0 && g_chmod (archive, 0555) == 0, "archived: read-only");
  g_file_get_contents (case_path, &before, &n_before, NULL);

  run_as_nobody = TRUE;
  {
    const char *args[] = { "--case", case_path, "--export-csv", csv, NULL };

    rc = run_batch (args, &out, &err);
  }
  run_as_nobody = FALSE;
  CHECK (rc == 0, "export from a read-only case exits %d: %s", rc, err);
  CHECK (err != NULL && strstr (err, "is read-only: exporting from a copy read into memory") != NULL,
         "the run says it read a copy: %s", err);
  CHECK (out != NULL && strstr (out, "CSV: ") != NULL, "and names the CSV it wrote: %s", out);
  g_file_get_contents (csv, &text, NULL, NULL);
  CHECK (text != NULL && strstr (text, name) != NULL && strstr (text, ",ok,") != NULL,
         "the CSV has the archived image, classified: %s", text);
  g_file_get_contents (case_path, &after, &n_after, NULL);
  CHECK (before != NULL && after != NULL && n_before > 0 && n_before == n_after &&
         memcmp (before, after, n_before) == 0, "the case file is unchanged");
  CHECK (!g_file_test (shm, G_FILE_TEST_EXISTS), "nothing made beside it");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* images given with a read-only case: refused, with what to do instead */
  run_as_nobody = TRUE;
  {
    const char *args[] = { "--case", case_path, "--model", model, "--export-csv", csv, archive, NULL };

    rc = run_batch (args, &out, &err);
  }
  run_as_nobody = FALSE;
  CHECK (rc != 0 && err != NULL && strstr (err, "leave out the images") != NULL,
         "images for a read-only case: refused with a hint (%d): %s", rc, err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* an export whose images are gone says so before the exports */
  g_chmod (archive, 0755);
  g_chmod (case_path, 0644);
  g_free (cmd);
  cmd = g_strdup_printf ("%s/%s", archive, name);
  CHECK (g_unlink (cmd) == 0, "the archived image removed");
  {
    const char *args[] = { "--case", case_path, "--export-csv", csv, NULL };

    rc = run_batch (args, &out, &err);
  }
  CHECK (rc == 0 && err != NULL && strstr (err, "1 of 1 images in the case are missing and 0 changed") != NULL,
         "missing images named on stderr (%d): %s", rc, err);
  g_free (out);
  g_free (err);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = NULL;
  g_autofree char *imgdir = NULL;
  g_autofree char *model = NULL;
  g_autofree char *case_path = NULL;
  g_autofree char *pdf = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *geojson = NULL;
  g_autofree char *pack = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *names[] = { "cell-00.png", "cell-01.png", "cell-02.png", "cell-03.png", "odd, \"name\".png", "cell-05.png" };
  gint64 n_pred;
  int rc;

  setlocale (LC_ALL, "");
  if (argc > 1 && g_str_equal (argv[1], "--no-window"))
    return di_batch_run (argc, argv);
  self_exe = g_canonicalize_filename (argv[0], NULL);

  dir = ct_make_tmpdir ("case-export");
  imgdir = g_build_filename (dir, "images", NULL);
  case_path = g_build_filename (dir, "export.dicase", NULL);
  pdf = g_build_filename (dir, "report.pdf", NULL);
  csv = g_build_filename (dir, "cells.csv", NULL);
  geojson = g_build_filename (dir, "regions.geojson", NULL);
  pack = g_build_filename (dir, "pack", NULL);
  g_mkdir_with_parents (imgdir, 0755);

  model = ct_make_model (dir, "model.safetensors", classes, 3, "[\"b\",\"c\"]", 7);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (imgdir, names[i], NULL);
      ct_make_cell (path, 96 + 8 * (int)i, 80, 40 + i);
    }

  /* 1. Classify in-process. */
  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", model,
                           "--threads", "2", "--quiet", imgdir, NULL };
    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
    CHECK (rc == 0, "batch run exit %d", rc);
  }
  n_pred = raw_int (case_path, "SELECT count(*) FROM predictions");
  CHECK (n_pred == G_N_ELEMENTS (names), "%" G_GINT64_FORMAT " predictions", n_pred);
  CHECK (raw_int (case_path, "SELECT count(DISTINCT model_sha256) FROM predictions") == 1, "one model");
  CHECK (raw_int (case_path, "SELECT count(*) FROM explanations") == 0, "no maps without a report");

  check_batch_views (dir, model, imgdir, names, G_N_ELEMENTS (names));
  check_incomplete_case (dir, model);
  check_out_of_scope (dir, model);
  check_read_only_export (dir, model, imgdir, names[0]);

  /* 2. Again, as a separate process without a display: nothing to do. */
  {
    const char *args[] = { "--case", case_path, "--model", model, "--threads", "2", imgdir, NULL };
    rc = run_batch (args, &out, &err);
    CHECK (rc == 0, "second run exit %d: %s", rc, err);
    CHECK (out != NULL && strstr (out, "0 image(s) added, 0 classified, 6 already classified, 0 failed") != NULL,
           "already classified images skipped: %s", out);
    CHECK (raw_int (case_path, "SELECT count(*) FROM predictions") == n_pred, "no new predictions");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  /* 3. Review: one agreement, one disagreement, notes that need quoting. */
  kase = di_case_open (case_path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return ct_finish ();
  images = di_case_dup_images (kase);
  CHECK (images->len == G_N_ELEMENTS (names), "%u images in the case", images->len);
  if (images->len == G_N_ELEMENTS (names))
    {
      DiCaseImage *i0 = g_ptr_array_index (images, 0);
      DiCaseImage *i1 = g_ptr_array_index (images, 1);
      DiCaseImage *i4 = g_ptr_array_index (images, 4);
      const char *other = g_strcmp0 (i1->predicted, "a") == 0 ? "c" : "a";

      CHECK (di_case_relabel (kase, i0->id, i0->predicted, "agree", "Dr Test", NULL), "agree");
      CHECK (di_case_relabel (kase, i1->id, other, "nucleus \"large\", irregular\nsecond line", "Dr Test", NULL),
             "disagree");
      CHECK (di_case_relabel (kase, i4->id, "b", " leading space, trailing ", "Dr Other", NULL), "odd name");
      CHECK (di_case_add_region (kase, i0->id, 10, 12, 30, 20.5, "b", 0.625, NULL) > 0, "region");
      CHECK (di_case_add_region (kase, i1->id, 1, 2, 3, 4, "c", NAN, NULL) > 0, "region");
      CHECK (di_case_add_region (kase, i4->id, 5, 5, 40, 40, NULL, NAN, NULL) > 0, "region without class");
    }
  g_clear_object (&kase);

  /* 4. Every export at once, in a separate process. */
  {
    const char *args[] = { "--case", case_path, "--model", model, "--threads", "2", "--reviewer", "Dr Test",
                           "--export-report", pdf, "--export-csv", csv, "--export-geojson", geojson,
                           "--export-pack", pack, NULL };
    rc = run_batch (args, &out, &err);
    CHECK (rc == 0, "export run exit %d: %s", rc, err);
    CHECK (out != NULL && strstr (out, "Report:") != NULL, "report announced: %s", out);
    CHECK (raw_int (case_path, "SELECT count(*) FROM explanations WHERE method = 'gradcam'") == n_pred,
           "Grad-CAM stored for every image");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  kase = di_case_open (case_path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return ct_finish ();
  check_report (kase, pdf, 2 + (G_N_ELEMENTS (names) + 2) / 3);
  if (have_program ("python3"))
    {
      check_csv (kase, csv);
      check_geojson (kase, geojson);
    }
  else
    printf ("python3 not found: CSV and GeoJSON checks skipped\n");
  check_pack (kase, pack, dir);

  /* Exporting the same case into the pack again adds nothing twice. */
  {
    guint copied = 0, skipped = 0;
    g_autofree char *labels = g_build_filename (pack, "labels.csv", NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    g_file_get_contents (labels, &before, NULL, NULL);
    CHECK (di_export_pack (kase, pack, &copied, &skipped, &error), "pack again");
    g_file_get_contents (labels, &after, NULL, NULL);
    CHECK (g_strcmp0 (before, after) == 0, "labels.csv unchanged");
    CHECK (copied == 3 && skipped == 0, "copied %u skipped %u", copied, skipped);
  }

  /* Relabelled since the last export: the image is in the pack once, under
   * its new class; its old copy and row are gone. Cleared: not at all. */
  {
    g_autoptr(GPtrArray) imgs = di_case_dup_images (kase);
    g_autofree char *labels = g_build_filename (pack, "labels.csv", NULL);
    DiCaseImage *first = NULL;
    g_autofree char *old_label = NULL;
    g_autofree char *old_note = NULL;
    const char *new_label;

    for (guint i = 0; i < imgs->len && first == NULL; i++)
      if (((DiCaseImage *)g_ptr_array_index (imgs, i))->label != NULL)
        first = g_ptr_array_index (imgs, i);
    CHECK (first != NULL, "a labelled image");
    if (first != NULL)
      {
        g_autofree char *text = NULL;
        g_autofree char *old_dir = NULL;
        g_autoptr(GPtrArray) rows = NULL;
        guint with_sha = 0;
        const char *new_class = NULL;

        old_label = g_strdup (first->label);
        old_note = g_strdup (first->note);
        new_label = g_strcmp0 (old_label, "c") == 0 ? "a" : "c";
        old_dir = g_build_filename (pack, old_label, NULL);
        CHECK (di_case_set_label (kase, first->id, new_label, "Dr Test", NULL), "relabel for the pack");
        CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "pack after a relabel");
        CHECK_NO_ERROR (error);
        g_file_get_contents (labels, &text, NULL, NULL);
        rows = di_export_parse_csv (text ? text : "");
        for (guint r = 1; r < rows->len; r++)
          {
            char **row = g_ptr_array_index (rows, r);

            if (g_strv_length (row) >= 5 && g_strcmp0 (row[4], first->sha256) == 0)
              {
                with_sha++;
                new_class = g_intern_string (row[1]);
              }
          }
        CHECK (with_sha == 1 && g_strcmp0 (new_class, new_label) == 0,
               "one row for the relabelled image (%u), class %s", with_sha, new_class);
        {
          g_autoptr(GDir) d = g_dir_open (old_dir, 0, NULL);
          const char *f;
          gboolean stale = FALSE;

          while (d != NULL && (f = g_dir_read_name (d)) != NULL)
            {
              g_autofree char *p = g_build_filename (old_dir, f, NULL);
              g_autofree char *sha = di_case_compute_sha256 (p, NULL, NULL);

              stale |= g_strcmp0 (sha, first->sha256) == 0;
            }
          CHECK (!stale, "the old class folder no longer holds the image");
          /* and no class folder is left empty (an empty class to dinet train) */
          if (g_file_test (old_dir, G_FILE_TEST_IS_DIR))
            {
              g_autoptr(GDir) d2 = g_dir_open (old_dir, 0, NULL);

              CHECK (d2 != NULL && g_dir_read_name (d2) != NULL, "the old class folder is not left empty");
            }
        }

        CHECK (di_case_set_label (kase, first->id, NULL, "Dr Test", NULL), "label cleared");
        CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "pack after clearing");
        g_clear_pointer (&text, g_free);
        g_file_get_contents (labels, &text, NULL, NULL);
        CHECK (text != NULL && strstr (text, first->sha256) == NULL, "a cleared label leaves the pack");

        /* back as it was, for what follows */
        CHECK (di_case_relabel (kase, first->id, old_label, old_note, "Dr Test", NULL), "label restored");
        CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "pack restored");

        /* A second case (a folder case elsewhere, say) with a copy of the
         * same image: both rows stay; the first case clearing its label
         * leaves the copy, which the second still names. */
        {
          g_autofree char *case2 = g_build_filename (dir, "second", "deepinsight-case.dicase", NULL);
          g_autofree char *dir2 = g_path_get_dirname (case2);
          g_autoptr(DiCase) k2 = NULL;
          gint64 id2;
          guint rows_for = 0;

          g_mkdir_with_parents (dir2, 0755);
          k2 = di_case_open (case2, &error);
          CHECK_NO_ERROR (error);
          id2 = k2 ? di_case_add_image (k2, first->filename, &error) : 0;
          CHECK (id2 > 0 && di_case_set_label (k2, id2, old_label, "Dr Two", NULL), "second case labels the image");
          CHECK (di_export_pack (k2, pack, NULL, NULL, &error), "second case into the pack");
          CHECK (di_case_set_label (kase, first->id, NULL, "Dr Test", NULL), "first case clears its label");
          CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "first case again");
          g_clear_pointer (&text, g_free);
          g_file_get_contents (labels, &text, NULL, NULL);
          g_clear_pointer (&rows, g_ptr_array_unref);
          rows = di_export_parse_csv (text ? text : "");
          for (guint r = 1; r < rows->len; r++)
            {
              char **row = g_ptr_array_index (rows, r);

              if (g_strv_length (row) >= 5 && g_strcmp0 (row[4], first->sha256) == 0)
                {
                  g_autofree char *copy = g_build_filename (pack, row[0], NULL);

                  rows_for++;
                  CHECK (g_strcmp0 (row[2], case2) == 0, "the second case's row stays: %s", row[2]);
                  CHECK (g_file_test (copy, G_FILE_TEST_IS_REGULAR), "... and its copy");
                }
            }
          CHECK (rows_for == 1, "one row left for the shared image (%u)", rows_for);
          CHECK (di_case_relabel (kase, first->id, old_label, old_note, "Dr Test", NULL), "label restored again");
          CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "pack restored again");
        }

        /* Missing now (a share not mounted): its earlier row and copy stay. */
        {
          g_autofree char *away = g_strconcat (first->filename, ".away", NULL);
          guint kept = 0;

          CHECK (g_rename (first->filename, away) == 0, "image moved away");
          di_case_verify_images (kase, TRUE, NULL);
          CHECK (di_export_pack (kase, pack, NULL, NULL, &error), "pack with the image missing");
          g_clear_pointer (&text, g_free);
          g_file_get_contents (labels, &text, NULL, NULL);
          g_clear_pointer (&rows, g_ptr_array_unref);
          rows = di_export_parse_csv (text ? text : "");
          for (guint r = 1; r < rows->len; r++)
            {
              char **row = g_ptr_array_index (rows, r);

              if (g_strv_length (row) >= 5 && g_strcmp0 (row[4], first->sha256) == 0 &&
                  g_strcmp0 (row[2], di_case_get_filename (kase)) == 0)
                {
                  g_autofree char *copy = g_build_filename (pack, row[0], NULL);

                  kept++;
                  CHECK (g_file_test (copy, G_FILE_TEST_IS_REGULAR), "the missing image's copy stays");
                }
            }
          CHECK (kept == 1, "the missing image's row stays (%u)", kept);
          CHECK (g_rename (away, first->filename) == 0, "image back");
          di_case_verify_images (kase, TRUE, NULL);
        }
      }
  }

  /* Letter paper, in-process, through the API. */
  {
    g_autoptr(DiReport) report = di_report_new (kase);
    g_autofree char *letter = g_build_filename (dir, "letter.pdf", NULL);
    g_autofree char *info = NULL;
    const char *argv_info[] = { "pdfinfo", letter, NULL };

    di_report_set_paper (report, DI_REPORT_PAPER_LETTER);
    di_report_set_colormap (report, DI_COLORMAP_VIRIDIS);
    CHECK (di_report_write (report, letter, NULL, &error), "letter report");
    CHECK_NO_ERROR (error);
    if (have_program ("pdfinfo") && ct_run (argv_info, &info) == 0)
      CHECK (strstr (info, "612 x 792") != NULL, "letter size");
  }

  /* 5. Errors: one line on stderr, non-zero status. */
  {
    const char *no_case[] = { "--model", model, NULL };
    g_autofree char *new_case = g_build_filename (dir, "never-created.dicase", NULL);
    const char *bad_model[] = { "--case", new_case, "--model", "/nonexistent/model.safetensors", NULL };
    const char *bad_option[] = { "--case", case_path, "--frobnicate", NULL };
    g_autofree char *bad_img = g_build_filename (dir, "bad", NULL);
    g_autofree char *bad_png = g_build_filename (bad_img, "broken.png", NULL);
    g_autofree char *good_png = g_build_filename (bad_img, "fine.png", NULL);
    const char *bad_images[] = { "--case", case_path, "--model", model, "--threads", "2", "--quiet", bad_img, NULL };
    g_autofree char *not_a_case = g_build_filename (dir, "garbage.dicase", NULL);
    const char *bad_case[] = { "--case", not_a_case, NULL };

    rc = run_batch (no_case, &out, &err);
    CHECK (rc != 0 && err != NULL && g_str_has_prefix (err, "deepinsight: ") &&
           strchr (err, '\n') == err + strlen (err) - 1, "no --case: exit %d, %s", rc, err);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    rc = run_batch (bad_model, &out, &err);
    CHECK (rc != 0 && err != NULL && strstr (err, "no such model") != NULL &&
           strchr (err, '\n') == err + strlen (err) - 1, "missing model: %s", err);
    CHECK (!g_file_test (new_case, G_FILE_TEST_EXISTS), "a bad --model creates no case");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    rc = run_batch (bad_option, &out, &err);
    CHECK (rc != 0 && err != NULL && strchr (err, '\n') == err + strlen (err) - 1, "bad option: %s", err);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    g_file_set_contents (not_a_case, "this is not a database, just some text that is long enough", -1, NULL);
    rc = run_batch (bad_case, &out, &err);
    CHECK (rc != 0 && err != NULL && strstr (err, "not a case") != NULL, "garbage case: %s", err);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    /* A failed export does not stop the others: each failure is named. */
    {
      g_autofree char *pdf2 = g_build_filename (dir, "after-bad-csv.pdf", NULL);
      g_autofree char *geo2 = g_build_filename (dir, "after-bad-csv.geojson", NULL);
      const char *bad_csv[] = { "--case", case_path, "--model", model, "--threads", "2",
                                "--export-csv", "/nonexistent-folder/x.csv", "--export-report", pdf2,
                                "--export-geojson", geo2, NULL };

      rc = run_batch (bad_csv, &out, &err);
      CHECK (rc != 0, "a failed export fails the run");
      CHECK (err != NULL && strstr (err, "CSV not written") != NULL &&
             strstr (err, "“/nonexistent-folder/x.csv”") != NULL && strstr (err, "1 export failed") != NULL,
             "the failed export is named with its own file name: %s", err);
      CHECK (g_file_test (pdf2, G_FILE_TEST_IS_REGULAR), "the report is still written");
      CHECK (g_file_test (geo2, G_FILE_TEST_IS_REGULAR), "the GeoJSON is still written");
      /* no images given: no "0 image(s) added, 0 classified…" line */
      CHECK (out == NULL || strstr (out, "image(s) added") == NULL, "an export-only run counts no images: %s", out);
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
    }

    g_mkdir_with_parents (bad_img, 0755);
    g_file_set_contents (bad_png, "\x89PNG\r\n\x1a\n garbage", -1, NULL);
    ct_make_cell (good_png, 64, 64, 77);
    rc = run_batch (bad_images, &out, &err);
    CHECK (rc == 1, "one bad image: exit %d", rc);
    CHECK (err != NULL && strstr (err, "broken.png") != NULL, "the bad image is named: %s", err);
    CHECK (raw_int (case_path, "SELECT count(*) FROM predictions") == n_pred + 1, "the good one is classified");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  /* 6. A training set's layout, FOLDER/CLASS/IMAGE: the images of its
   * class folders, as the window opens them; hidden files, other files
   * and folders deeper than three levels are left out. */
  {
    g_autofree char *set = g_build_filename (dir, "set", NULL);
    g_autofree char *set_case = g_build_filename (dir, "set.dicase", NULL);
    const char *set_args[] = { "--case", set_case, "--model", model, "--threads", "2", set, NULL };
    const char *made[] = { "a/one.png", "b/two.PNG", "b/deeper/three.png", "top.png" };
    const char *ignored[] = { "b/._two.png", "b/.hidden/four.png", "a/1/2/3/five.png" };

    for (guint i = 0; i < G_N_ELEMENTS (made) + G_N_ELEMENTS (ignored); i++)
      {
        const char *rel = i < G_N_ELEMENTS (made) ? made[i] : ignored[i - G_N_ELEMENTS (made)];
        g_autofree char *path = g_build_filename (set, rel, NULL);
        g_autofree char *parent = g_path_get_dirname (path);

        g_mkdir_with_parents (parent, 0755);
        ct_make_cell (path, 64, 64, 90 + i);
      }
    g_autofree char *notes = g_build_filename (set, "a", "notes.txt", NULL);

    g_file_set_contents (notes, "not an image", -1, NULL);
    rc = run_batch (set_args, &out, &err);
    CHECK (rc == 0, "class folders: exit %d: %s", rc, err);
    CHECK (out != NULL && strstr (out, "4 image(s) added, 4 classified") != NULL,
           "the class folders' images added: %s", out);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  g_free (self_exe);
  return ct_finish ();
}
