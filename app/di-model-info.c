/* di-model-info.c — what the UI may know about the loaded model, copied
 * out of the dinet_net once so that the main thread never touches the net.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-model-info"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <dinet/dinet.h>

#include <glib/gstdio.h>

#include "di-export.h"
#include "di-model-info.h"

struct _DiModelInfo
{
  char *path;
  char *name;
  char *arch_name;
  char **class_names;
  int *abnormal;        /* 1, 0 or -1 per class */
  int n_classes;
  int input_size;
  double center_crop;
  double temperature;
  int views;            /* 1, or 8: predictions average the dihedral views */
  int image_side;       /* typical shorter side of its training images; 0 unknown */
  gboolean cbam;
  gboolean grouping;

  char *sha256;         /* of the model file; NULL when it could not be read */
  char *file_name;      /* the file's base name: the model's name in cases */
  GHashTable *metadata; /* every metadata key, plus "abnormal" as in cases */
};

G_DEFINE_BOXED_TYPE (DiModelInfo, di_model_info, di_model_info_ref, di_model_info_unref)

static void
di_model_info_free (DiModelInfo *self)
{
  g_free (self->path);
  g_free (self->name);
  g_free (self->arch_name);
  g_strfreev (self->class_names);
  g_free (self->abnormal);
  g_free (self->sha256);
  g_free (self->file_name);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
}

/* The grouping as a case records it (di-batch.c does the same): a JSON
 * list of the abnormal classes, or nothing when no class is grouped. */
static char *
abnormal_json (DiModelInfo *self)
{
  g_autoptr(GString) s = g_string_new ("[");
  gboolean any = FALSE;

  for (int i = 0; i < self->n_classes; i++)
    {
      any |= self->abnormal[i] >= 0;
      if (self->abnormal[i] == 1)
        {
          if (s->len > 1)
            g_string_append_c (s, ',');
          di_export_append_json_string (s, self->class_names[i]);
        }
    }
  g_string_append_c (s, ']');
  return any ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

/**
 * _di_model_info_new_from_net:
 * @path: the model file
 * @net: the model, loaded from @path
 * @sha256: (nullable): the SHA-256 of @path, computed by the caller in
 *   the worker thread
 *
 * Returns: (transfer full): a snapshot of @net
 */
DiModelInfo *
_di_model_info_new_from_net (const char             *path,
                             const struct dinet_net *net,
                             const char             *sha256)
{
  DiModelInfo *self;
  const char *meta_name;
  gboolean any_abnormal = FALSE, any_normal = FALSE;

  g_return_val_if_fail (net != NULL, NULL);

  self = g_atomic_rc_box_new0 (DiModelInfo);
  self->path = g_strdup (path);
  meta_name = dinet_net_meta (net, "name");
  if (meta_name != NULL && *meta_name)
    self->name = g_strdup (meta_name);
  else if (path != NULL)
    {
      g_autofree char *base = g_path_get_basename (path);
      char *dot = strrchr (base, '.');

      if (dot != NULL && dot != base)
        *dot = 0;
      self->name = g_steal_pointer (&base);
    }
  else
    self->name = g_strdup ("model");

  self->arch_name = g_strdup (dinet_arch_name (dinet_net_arch (net)));
  self->cbam = dinet_net_arch (net) == DINET_ARCH_CBAM_RESNET50;
  self->n_classes = dinet_net_num_classes (net);
  self->class_names = g_new0 (char *, self->n_classes + 1);
  self->abnormal = g_new0 (int, self->n_classes);
  for (int i = 0; i < self->n_classes; i++)
    {
      const char *cn = dinet_net_class_name (net, i);

      self->class_names[i] = cn ? g_strdup (cn) : g_strdup_printf ("%d", i);
      self->abnormal[i] = dinet_net_class_is_abnormal (net, i);
      any_abnormal |= self->abnormal[i] == 1;
      any_normal |= self->abnormal[i] == 0;
    }
  /* A grouping is only useful when it names both sides. */
  self->grouping = any_abnormal && any_normal;
  self->input_size = dinet_net_input_size (net);
  self->center_crop = dinet_net_center_crop (net);
  self->temperature = dinet_net_temperature (net);
  self->views = dinet_net_tta_views (net);
  self->image_side = dinet_net_image_side (net);

  self->sha256 = g_strdup (sha256);
  self->file_name = path ? g_path_get_basename (path) : g_strdup (self->name);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 0; i < dinet_net_meta_count (net); i++)
    g_hash_table_insert (self->metadata, g_strdup (dinet_net_meta_key (net, i)),
                         g_strdup (dinet_net_meta_value (net, i)));
  {
    char *abnormal = abnormal_json (self);

    if (abnormal != NULL)
      g_hash_table_replace (self->metadata, g_strdup ("abnormal"), abnormal);
  }

  return self;
}

/**
 * _di_model_info_new_from_record:
 * @classes: class names in output order, %NULL-terminated
 * @abnormal: (nullable): per class 1 abnormal, 0 normal, -1 unknown
 *
 * A description of a model known only from a case: enough to show its
 * predictions (names, grouping), but it cannot classify.
 *
 * Returns: (transfer full): the description
 */
DiModelInfo *
_di_model_info_new_from_record (const char         *sha256,
                                const char         *name,
                                const char * const *classes,
                                const int          *abnormal,
                                double              temperature)
{
  DiModelInfo *self;
  gboolean any_abnormal = FALSE, any_normal = FALSE;

  g_return_val_if_fail (classes != NULL, NULL);

  self = g_atomic_rc_box_new0 (DiModelInfo);
  self->name = g_strdup (name ? name : "model");
  self->file_name = g_strdup (self->name);
  self->arch_name = g_strdup ("");
  self->sha256 = g_strdup (sha256);
  self->n_classes = (int)g_strv_length ((char **)classes);
  self->class_names = g_strdupv ((char **)classes);
  self->abnormal = g_new0 (int, MAX (self->n_classes, 1));
  for (int i = 0; i < self->n_classes; i++)
    {
      self->abnormal[i] = abnormal ? abnormal[i] : -1;
      any_abnormal |= self->abnormal[i] == 1;
      any_normal |= self->abnormal[i] == 0;
    }
  self->grouping = any_abnormal && any_normal;
  self->center_crop = 1.0;
  self->temperature = temperature > 0 ? temperature : 1.0;
  self->views = 1;
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  return self;
}

DiModelInfo *
di_model_info_ref (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_atomic_rc_box_acquire (self);
}

void
di_model_info_unref (DiModelInfo *self)
{
  g_return_if_fail (self != NULL);
  g_atomic_rc_box_release_full (self, (GDestroyNotify)di_model_info_free);
}

const char *
di_model_info_get_path (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

const char *
di_model_info_get_name (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->name;
}

const char *
di_model_info_get_arch_name (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->arch_name;
}

gboolean
di_model_info_has_cbam (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->cbam;
}

int
di_model_info_get_n_classes (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_classes;
}

const char *
di_model_info_get_class_name (DiModelInfo *self,
                              int          index)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index >= 0 && index < self->n_classes, NULL);
  return self->class_names[index];
}

/**
 * di_model_info_get_class_names:
 *
 * Returns: (transfer none): the class names, %NULL-terminated
 */
const char * const *
di_model_info_get_class_names (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *)self->class_names;
}

int
di_model_info_get_class_abnormal (DiModelInfo *self,
                                  int          index)
{
  g_return_val_if_fail (self != NULL, -1);
  g_return_val_if_fail (index >= 0 && index < self->n_classes, -1);
  return self->abnormal[index];
}

gboolean
di_model_info_has_grouping (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->grouping;
}

int
di_model_info_get_input_size (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->input_size;
}

double
di_model_info_get_center_crop (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 1.0);
  return self->center_crop;
}

double
di_model_info_get_temperature (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 1.0);
  return self->temperature;
}

const int *
_di_model_info_get_class_groups (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->abnormal;
}

/**
 * di_model_info_get_image_side:
 *
 * Returns: the median shorter side, in pixels, of the images the model was
 *   trained or calibrated on (metadata "data.image_side"), or 0 when unknown
 */
int
di_model_info_get_image_side (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->image_side;
}

/**
 * di_model_info_dup_size_notice:
 * @display_name: the image's name, for the text
 *
 * A field of many cells given to a single-cell model (or a small crop to a
 * field model) gets predictions that mean little; this says so when
 * di_size_fit() says the image does not fit the model.
 *
 * Returns: (transfer full) (nullable): the notice, or %NULL when the size
 *   is in range or the model does not record its image side
 */
char *
di_model_info_dup_size_notice (DiModelInfo *self,
                               const char  *display_name,
                               int          width,
                               int          height)
{
  g_return_val_if_fail (self != NULL, NULL);

  switch (di_size_fit (self->image_side, width, height))
    {
    case DI_SIZE_LARGER:
      /* TRANSLATORS: "“field.jpg” is 2048 × 1536 pixels, much larger than the images herlev7 was
       * trained on (about 224 pixels a side): …" */
      return g_strdup_printf (_("“%s” is %d × %d pixels, much larger than the images %s was trained on "
                                "(about %d pixels a side): if it shows many cells, draw a region around "
                                "one cell to classify it, or use a model trained on fields."),
                              display_name, width, height, self->name, self->image_side);
    case DI_SIZE_SMALLER:
      return g_strdup_printf (_("“%s” is %d × %d pixels, much smaller than the images %s was trained on "
                                "(about %d pixels a side): its predictions may not mean much."),
                              display_name, width, height, self->name, self->image_side);
    case DI_SIZE_FITS:
    default:
      return NULL;
    }
}

/**
 * di_model_info_get_views:
 *
 * Returns: how many views of an image a prediction averages: 1, or 8 when
 * the model asks for test-time augmentation (the dihedral views)
 */
int
di_model_info_get_views (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, 1);
  return self->views;
}

/**
 * di_model_info_get_sha256:
 *
 * Returns: (nullable): the SHA-256 of the model file, the model's identity
 *   in a case; %NULL when the file could not be hashed
 */
const char *
di_model_info_get_sha256 (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->sha256;
}

/**
 * di_model_info_get_file_name:
 *
 * Returns: the model file's base name (the model's name in a case)
 */
const char *
di_model_info_get_file_name (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->file_name;
}

/**
 * di_model_info_get_metadata:
 *
 * Returns: (transfer none) (element-type utf8 utf8): the model file's
 *   metadata, with "abnormal" as a case records it
 */
GHashTable *
di_model_info_get_metadata (DiModelInfo *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->metadata;
}

/**
 * di_model_info_same_model:
 * @a: (nullable): a model
 * @b: (nullable): another
 *
 * Returns: whether @a and @b describe the same model: the same object, or
 *   the same file content (SHA-256)
 */
gboolean
di_model_info_same_model (DiModelInfo *a,
                          DiModelInfo *b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  if (a == b)
    return TRUE;
  return a->sha256 != NULL && g_strcmp0 (a->sha256, b->sha256) == 0;
}

/* The largest model file read (the engine's own limit is 4 GiB; a
 * CBAM-ResNet-50 in F32 is about 105 MB). */
#define MODEL_MAX_BYTES ((gint64)2 << 30)

/**
 * di_model_load_file:
 * @path: a model file (.safetensors)
 * @sha256: (out): the SHA-256 of the bytes the model was made from
 * @io_error: set when the file cannot be read
 * @err: set when it is read but is no model the engine takes
 *
 * Reads the model file once and both hashes and loads those bytes: the
 * SHA-256 that names the model in a case is that of the weights loaded,
 * even when the file is replaced meanwhile (a training run writing its
 * best.safetensors).
 *
 * Returns: (transfer full) (nullable): the network, or %NULL with
 *   @io_error or @err set
 */
struct dinet_net *
di_model_load_file (const char          *path,
                    char               **sha256,
                    GError             **io_error,
                    struct dinet_error  *err)
{
  g_autofree char *bytes = NULL;
  g_autofree char *base = NULL;
  gsize len = 0;
  GStatBuf st;
  dinet_st *file;
  dinet_net *net;

  g_return_val_if_fail (path != NULL && sha256 != NULL, NULL);

  *sha256 = NULL;
  if (g_stat (path, &st) == 0 && st.st_size > MODEL_MAX_BYTES)
    {
      g_autofree char *size = g_format_size ((guint64)st.st_size);

      /* TRANSLATORS: "model.safetensors: 3.1 GB, larger than any model this viewer reads" */
      g_set_error (io_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s: %s, larger than any model this viewer reads"), path, size);
      return NULL;
    }
  if (!g_file_get_contents (path, &bytes, &len, io_error))
    return NULL;
  base = g_path_get_basename (path);
  file = dinet_st_open_memory (bytes, len, base, err);
  if (file == NULL)
    return NULL;
  net = dinet_net_load_st (file, base, err);
  dinet_st_close (file);
  if (net != NULL)
    *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)bytes, len);
  return net;
}

