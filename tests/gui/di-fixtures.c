/* di-fixtures.c — synthetic Pap-smear-like cells (a cytoplasm and a
 * nucleus of random size on a stained background) and random-weight
 * models, written with the engine's own writers.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "di-fixtures.h"

const char * const di_fixture_classes[7] = {
  "carcinoma_in_situ", "light_dysplastic", "moderate_dysplastic", "normal_columnar",
  "normal_intermediate", "normal_superficiel", "severe_dysplastic",
};

static gboolean
set_error (GError           **error,
           const dinet_error *err)
{
  g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, err->message);
  return FALSE;
}

/**
 * di_fixture_make_model:
 *
 * A random-weight model with the Herlev classes, grouped normal/abnormal,
 * a small input size and non-flat CBAM attention.
 *
 * Returns: (transfer full): the model's path
 */
char *
di_fixture_make_model (const char  *dir,
                       dinet_arch   arch,
                       int          input_size,
                       guint64      seed,
                       GError     **error)
{
  dinet_error err = {0};
  dinet_net *net;
  g_autofree char *path = g_build_filename (dir, arch == DINET_ARCH_RESNET50
                                                   ? "resnet50-random.safetensors"
                                                   : "cbam-random.safetensors", NULL);
  dinet_rng rng;

  net = dinet_net_new (arch, 7, &err);
  if (net == NULL)
    {
      set_error (error, &err);
      return NULL;
    }

  dinet_net_init_weights (net, seed);
  dinet_net_set_input_size (net, input_size);
  if (dinet_net_set_class_names (net, di_fixture_classes, 7, &err) ||
      dinet_net_set_meta (net, "abnormal",
                          "[\"carcinoma_in_situ\", \"light_dysplastic\", "
                          "\"moderate_dysplastic\", \"severe_dysplastic\"]", &err) ||
      dinet_net_set_meta (net, "name", "random-test-model", &err))
    {
      dinet_net_free (net);
      set_error (error, &err);
      return NULL;
    }

  /* The CBAM authors initialise the spatial gate's BN weight to 0, which
   * makes every attention map flat; give it some contrast, and spread the
   * classifier so that the classes differ. */
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
        {
          /* Abnormal classes get positive weights, so their Grad-CAM has
           * positive evidence wherever the features respond; the normal
           * classes keep random signs (and may show none). */
          int in = p->shape[1];

          for (int k = 0; k < p->shape[0]; k++)
            if (k == 0 || k == 1 || k == 2 || k == 6)
              for (int j = 0; j < in; j++)
                p->data[(size_t)k * in + j] = fabsf (p->data[(size_t)k * in + j]);
        }
    }
  dinet_net_params_changed (net);

  if (dinet_net_save (net, path, DINET_DTYPE_F32, &err))
    {
      dinet_net_free (net);
      set_error (error, &err);
      return NULL;
    }

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

/**
 * di_fixture_make_image:
 *
 * Writes one synthetic cell as an RGB PNG.
 *
 * Returns: (transfer full): @path again, or %NULL
 */
char *
di_fixture_make_image (const char  *path,
                       int          width,
                       int          height,
                       guint64      seed,
                       GError     **error)
{
  dinet_error err = {0};
  dinet_image *img = dinet_image_new (width, height, &err);
  dinet_rng rng;
  double cx, cy, rx, ry, angle, nx, ny, nr, dark;

  if (img == NULL)
    {
      set_error (error, &err);
      return NULL;
    }

  dinet_rng_seed (&rng, seed);
  cx = width * (0.4 + 0.2 * dinet_rng_uniform (&rng));
  cy = height * (0.4 + 0.2 * dinet_rng_uniform (&rng));
  rx = MIN (width, height) * (0.22 + 0.12 * dinet_rng_uniform (&rng));
  ry = rx * (0.65 + 0.3 * dinet_rng_uniform (&rng));
  angle = G_PI * dinet_rng_uniform (&rng);
  nr = rx * (0.18 + 0.35 * dinet_rng_uniform (&rng));   /* big nucleus: "abnormal" */
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
        double nd = hypot (x - nx, y - ny) / nr;
        double nucleus = 1 - smoothstep (0.85, 1.1, nd);
        double noise = (dinet_rng_uniform (&rng) - 0.5) * 14;
        /* Background: pale stained slide; cytoplasm: pink; nucleus: purple. */
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

  if (dinet_image_save_png (img, path, &err))
    {
      dinet_image_free (img);
      set_error (error, &err);
      return NULL;
    }

  dinet_image_free (img);
  return g_strdup (path);
}

/**
 * di_fixture_make_images:
 *
 * Writes cell-000.png, cell-001.png... into @dir.
 *
 * Returns: (transfer full) (element-type utf8): the paths
 */
GPtrArray *
di_fixture_make_images (const char  *dir,
                        guint        n,
                        int          width,
                        int          height,
                        guint64      seed,
                        GError     **error)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("cell-%03u.png", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      char *written = di_fixture_make_image (path, width, height, seed + i, error);

      if (written == NULL)
        return NULL;
      g_ptr_array_add (paths, written);
    }

  return g_steal_pointer (&paths);
}

/**
 * di_fixture_remove_tree:
 *
 * Deletes a folder the fixtures made, with everything in it.
 */
void
di_fixture_remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            di_fixture_remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}
