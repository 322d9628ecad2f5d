/* di-files.c — which files of a folder are images.
 *
 * The window and the headless mode open the same files for the same
 * folder: those with an image extension (case-insensitive), hidden files
 * and folders skipped, each folder's files sorted as a file manager sorts
 * them, then its subfolders', down to DI_FILES_MAX_DEPTH levels.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-files"

#include "config.h"

#include <string.h>

#include "di-files.h"

/**
 * di_files_is_image_name:
 *
 * Returns: whether a file of this name is opened as an image: a PNG,
 *   JPEG, TIFF or BMP extension, and not hidden ("._x.jpg" is macOS's
 *   resource fork, not an image)
 */
gboolean
di_files_is_image_name (const char *name)
{
  static const char * const exts[] = { ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp" };
  g_autofree char *lower = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  if (name[0] == '.')
    return FALSE;
  lower = g_ascii_strdown (name, -1);
  for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
    if (g_str_has_suffix (lower, exts[i]))
      return TRUE;
  return FALSE;
}

static int
compare_files (gconstpointer a,
               gconstpointer b)
{
  g_autofree char *na = g_file_get_basename (*(GFile **)a);
  g_autofree char *nb = g_file_get_basename (*(GFile **)b);
  g_autofree char *ka = g_utf8_collate_key_for_filename (na, -1);
  g_autofree char *kb = g_utf8_collate_key_for_filename (nb, -1);

  return strcmp (ka, kb);
}

/* Adds the image files of @dir, sorted, then those of its subfolders. */
static void
collect_folder (GFile         *dir,
                int            depth,
                GPtrArray     *files,
                GCancellable  *cancellable,
                GError       **first_error)
{
  g_autoptr(GFileEnumerator) enumerator = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) subdirs = g_ptr_array_new_with_free_func (g_object_unref);
  GError *error = NULL;
  GFileInfo *info;

  enumerator = g_file_enumerate_children (dir,
                                          G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                          G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                          G_FILE_QUERY_INFO_NONE, cancellable, &error);
  if (enumerator == NULL)
    {
      if (*first_error == NULL)
        *first_error = error;
      else
        g_error_free (error);
      return;
    }

  while ((info = g_file_enumerator_next_file (enumerator, cancellable, NULL)))
    {
      const char *name = g_file_info_get_name (info);
      GFileType type = g_file_info_get_file_type (info);

      if (type == G_FILE_TYPE_REGULAR && di_files_is_image_name (name))
        g_ptr_array_add (found, g_file_get_child (dir, name));
      else if (type == G_FILE_TYPE_DIRECTORY && name[0] != '.' && depth < DI_FILES_MAX_DEPTH)
        g_ptr_array_add (subdirs, g_file_get_child (dir, name));
      g_object_unref (info);
    }
  g_ptr_array_sort (found, compare_files);
  for (guint j = 0; j < found->len; j++)
    g_ptr_array_add (files, g_object_ref (g_ptr_array_index (found, j)));

  g_ptr_array_sort (subdirs, compare_files);
  for (guint j = 0; j < subdirs->len && !g_cancellable_is_cancelled (cancellable); j++)
    collect_folder (g_ptr_array_index (subdirs, j), depth + 1, files, cancellable, first_error);
}

/**
 * di_files_collect:
 * @inputs: (element-type GFile): files and folders, as the user gave them
 * @first_error: (inout): set to the first folder that could not be read,
 *   when it is still NULL; the other folders are read all the same
 *
 * Expands the folders of @inputs into their image files; a file given
 * itself is kept whatever its name (opening it says what is wrong).
 *
 * Returns: (transfer full) (element-type GFile): the files, in order
 */
GPtrArray *
di_files_collect (GPtrArray     *inputs,
                  GCancellable  *cancellable,
                  GError       **first_error)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_val_if_fail (inputs != NULL, files);
  g_return_val_if_fail (first_error != NULL, files);

  for (guint i = 0; i < inputs->len; i++)
    {
      GFile *input = g_ptr_array_index (inputs, i);
      GFileType type = g_file_query_file_type (input, G_FILE_QUERY_INFO_NONE, cancellable);

      if (type == G_FILE_TYPE_DIRECTORY)
        collect_folder (input, 1, files, cancellable, first_error);
      else
        g_ptr_array_add (files, g_object_ref (input));
    }

  return files;
}
