/* di-image.c — decoded pixels plus, for display, the same pixels as a
 * CAIRO_FORMAT_RGB24 surface made once in the worker thread. Immutable
 * after creation, so the main thread and the engine thread may both read it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-image"

#include "config.h"

#include <dinet/dinet.h>

#include "di-image.h"

struct _DiImage
{
  GFile *file;
  dinet_image *pixels;
  cairo_surface_t *surface;
};

G_DEFINE_BOXED_TYPE (DiImage, di_image, di_image_ref, di_image_unref)

static void
di_image_free (DiImage *self)
{
  g_clear_object (&self->file);
  g_clear_pointer (&self->pixels, dinet_image_free);
  g_clear_pointer (&self->surface, cairo_surface_destroy);
}

/**
 * di_rgb_to_cairo_surface:
 * @rgb: (array): 8-bit RGB, 3 bytes per pixel, rows packed
 *
 * Returns: (transfer full): an RGB24 image surface with the same pixels
 */
cairo_surface_t *
di_rgb_to_cairo_surface (const guint8 *rgb,
                         int           width,
                         int           height)
{
  cairo_surface_t *surface;
  guint8 *data;
  int stride;

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    return surface;

  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < height; y++)
    {
      const guint8 *s = rgb + (gsize)y * width * 3;
      guint32 *d = (guint32 *)(gpointer)(data + (gsize)y * stride);

      for (int x = 0; x < width; x++, s += 3)
        d[x] = 0xff000000u | ((guint32)s[0] << 16) | ((guint32)s[1] << 8) | s[2];
    }
  cairo_surface_mark_dirty (surface);

  return surface;
}

/**
 * di_image_new_take:
 * @file: (nullable): where the pixels came from
 * @pixels: (transfer full): decoded pixels
 * @with_surface: also make the display surface
 *
 * Returns: (transfer full): a new image
 */
DiImage *
di_image_new_take (GFile              *file,
                   struct dinet_image *pixels,
                   gboolean            with_surface)
{
  DiImage *self;

  g_return_val_if_fail (pixels != NULL, NULL);

  self = g_atomic_rc_box_new0 (DiImage);
  self->file = file ? g_object_ref (file) : NULL;
  self->pixels = pixels;
  if (with_surface)
    self->surface = di_rgb_to_cairo_surface (pixels->rgb, pixels->width, pixels->height);

  return self;
}

DiImage *
di_image_ref (DiImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_atomic_rc_box_acquire (self);
}

void
di_image_unref (DiImage *self)
{
  g_return_if_fail (self != NULL);
  g_atomic_rc_box_release_full (self, (GDestroyNotify)di_image_free);
}

/**
 * di_image_get_file:
 *
 * Returns: (transfer none) (nullable): the file
 */
GFile *
di_image_get_file (DiImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->file;
}

int
di_image_get_width (DiImage *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->pixels->width;
}

int
di_image_get_height (DiImage *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->pixels->height;
}

/**
 * di_image_get_pixels:
 *
 * Returns: (transfer none): the decoded pixels; read only
 */
const struct dinet_image *
di_image_get_pixels (DiImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->pixels;
}

/**
 * di_image_get_surface:
 *
 * Returns: (transfer none) (nullable): the display surface; read only
 */
cairo_surface_t *
di_image_get_surface (DiImage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->surface;
}

/**
 * di_image_make_thumbnail:
 * @size: the longest side of the thumbnail
 * @width: (out): its width
 * @height: (out): its height
 *
 * Returns: (transfer full) (nullable): packed 8-bit RGB rows
 */
GBytes *
di_image_make_thumbnail (const struct dinet_image *pixels,
                         int                       size,
                         int                      *width,
                         int                      *height)
{
  dinet_image *small;
  double scale;
  int w, h;
  GBytes *bytes;

  g_return_val_if_fail (pixels != NULL, NULL);

  scale = MIN (1.0, (double)size / MAX (pixels->width, pixels->height));
  w = MAX (1, (int)(pixels->width * scale + 0.5));
  h = MAX (1, (int)(pixels->height * scale + 0.5));
  small = dinet_image_resize (pixels, w, h, NULL);
  if (small == NULL)
    return NULL;

  bytes = g_bytes_new (small->rgb, (gsize)w * h * 3);
  dinet_image_free (small);
  *width = w;
  *height = h;

  return bytes;
}
