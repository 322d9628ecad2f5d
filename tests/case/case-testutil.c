/* case-testutil.c — see case-testutil.h.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <dinet/dinet.h>

#include "case-testutil.h"

int ct_passed, ct_failed;
static GPtrArray *tmpdirs;

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

int
ct_finish (void)
{
  if (tmpdirs != NULL)
    {
      for (guint i = 0; i < tmpdirs->len; i++)
        if (g_getenv ("KEEP_TMP") == NULL && ct_failed == 0)
          remove_tree (g_ptr_array_index (tmpdirs, i));
        else
          fprintf (stderr, "kept %s\n", (char *)g_ptr_array_index (tmpdirs, i));
      g_clear_pointer (&tmpdirs, g_ptr_array_unref);
    }
  printf ("%d passed, %d failed\n", ct_passed, ct_failed);
  fflush (stdout);
  return ct_failed == 0 ? 0 : 1;
}

char *
ct_make_tmpdir (const char *name)
{
  g_autofree char *tmpl = g_strdup_printf ("di-%s-XXXXXX", name);
  char *dir = g_dir_make_tmp (tmpl, NULL);

  g_assert (dir != NULL);
  if (tmpdirs == NULL)
    tmpdirs = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (tmpdirs, g_strdup (dir));
  return dir;
}

char *
ct_make_model (const char         *dir,
               const char         *file_name,
               const char * const *classes,
               int                 n_classes,
               const char         *abnormal_json,
               guint64             seed)
{
  dinet_error err = {0};
  g_autofree char *path = g_build_filename (dir, file_name, NULL);
  dinet_net *net = dinet_net_new (DINET_ARCH_CBAM_RESNET50, n_classes, &err);
  dinet_rng rng;

  g_assert (net != NULL);
  dinet_net_init_weights (net, seed);
  dinet_net_set_input_size (net, 64);
  g_assert (dinet_net_set_class_names (net, (const char **)classes, n_classes, &err) == 0);
  if (abnormal_json != NULL)
    g_assert (dinet_net_set_meta (net, "abnormal", abnormal_json, &err) == 0);
  /* The figures `dinet calibrate` stores (made up here). */
  dinet_net_set_meta (net, "metrics.val_accuracy", "0.9120", NULL);
  dinet_net_set_meta (net, "metrics.val_abnormal_sensitivity", "0.9530", NULL);
  dinet_net_set_meta (net, "metrics.val_specificity", "0.8710", NULL);
  dinet_net_set_meta (net, "metrics.val_images", "412", NULL);

  /* The spatial gates' BN weight 0 makes attention flat; a positive
   * classifier makes Grad-CAM show evidence for every class. */
  dinet_rng_seed (&rng, seed ^ 0x9e3779b97f4a7c15ull);
  for (int i = 0; i < dinet_net_param_tensors (net); i++)
    {
      dinet_param *p = dinet_net_param (net, i);

      if (g_str_has_suffix (p->name, "SpatialGate.spatial.bn.weight"))
        for (size_t j = 0; j < p->n; j++)
          p->data[j] = 1.0f;
      else if (g_str_equal (p->name, "fc.bias"))
        for (size_t j = 0; j < p->n; j++)
          p->data[j] = (float)(dinet_rng_normal (&rng) * 0.5);
      else if (g_str_equal (p->name, "fc.weight"))
        for (size_t j = 0; j < p->n; j++)
          p->data[j] = fabsf (p->data[j]) * (float)(0.5 + dinet_rng_uniform (&rng));
    }
  dinet_net_params_changed (net);

  g_assert (dinet_net_save (net, path, DINET_DTYPE_F16, &err) == 0);
  dinet_net_free (net);
  return g_steal_pointer (&path);
}

static double
smoothstep (double e0,
            double e1,
            double x)
{
  double t = CLAMP ((x - e0) / (e1 - e0), 0.0, 1.0);

  return t * t * (3 - 2 * t);
}

gboolean
ct_make_cell (const char *path,
              int         width,
              int         height,
              guint64     seed)
{
  dinet_error err = {0};
  dinet_image *img = dinet_image_new (width, height, &err);
  dinet_rng rng;
  double cx, cy, rx, ry, angle, nx, ny, nr, dark;
  int rc;

  g_assert (img != NULL);
  dinet_rng_seed (&rng, seed);
  cx = width * (0.4 + 0.2 * dinet_rng_uniform (&rng));
  cy = height * (0.4 + 0.2 * dinet_rng_uniform (&rng));
  rx = MIN (width, height) * (0.22 + 0.12 * dinet_rng_uniform (&rng));
  ry = rx * (0.65 + 0.3 * dinet_rng_uniform (&rng));
  angle = G_PI * dinet_rng_uniform (&rng);
  nr = rx * (0.18 + 0.35 * dinet_rng_uniform (&rng));
  nx = cx + rx * 0.2 * (dinet_rng_uniform (&rng) - 0.5);
  ny = cy + ry * 0.2 * (dinet_rng_uniform (&rng) - 0.5);
  dark = 0.6 + 0.3 * dinet_rng_uniform (&rng);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        double dx = x - cx, dy = y - cy;
        double u = (dx * cos (angle) + dy * sin (angle)) / rx;
        double v = (-dx * sin (angle) + dy * cos (angle)) / ry;
        double cell = 1 - smoothstep (0.9, 1.05, sqrt (u * u + v * v));
        double nucleus = 1 - smoothstep (0.85, 1.1, hypot (x - nx, y - ny) / nr);
        double noise = (dinet_rng_uniform (&rng) - 0.5) * 14;
        double r = 226, g = 214, b = 222;

        r = r * (1 - cell) + 214 * cell;
        g = g * (1 - cell) + 150 * cell;
        b = b * (1 - cell) + 190 * cell;
        r = r * (1 - nucleus) + 95 * (1 - dark * 0.4) * nucleus;
        g = g * (1 - nucleus) + 55 * (1 - dark * 0.4) * nucleus;
        b = b * (1 - nucleus) + 140 * (1 - dark * 0.2) * nucleus;

        img->rgb[3 * ((size_t)y * width + x) + 0] = (guint8)CLAMP (r + noise, 0, 255);
        img->rgb[3 * ((size_t)y * width + x) + 1] = (guint8)CLAMP (g + noise, 0, 255);
        img->rgb[3 * ((size_t)y * width + x) + 2] = (guint8)CLAMP (b + noise, 0, 255);
      }

  rc = dinet_image_save_png (img, path, &err);
  dinet_image_free (img);
  return rc == 0;
}

int
ct_run (const char * const *argv,
        char              **out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err_text = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     out, &err_text, &status, &error))
    {
      fprintf (stderr, "cannot run %s: %s\n", argv[0], error->message);
      return -1;
    }
  if (err_text != NULL && *err_text)
    fprintf (stderr, "[%s] %s", argv[0], err_text);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return -1;
}
