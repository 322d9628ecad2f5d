/* di-image.h — a decoded image, shared read-only between threads.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cairo.h>
#include <gio/gio.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_IMAGE (di_image_get_type ())

struct dinet_image;

GType                     di_image_get_type        (void) G_GNUC_CONST;
DiImage                  *di_image_new_take        (GFile              *file,
                                                    struct dinet_image *pixels,
                                                    gboolean            with_surface);
DiImage                  *di_image_ref             (DiImage            *self);
void                      di_image_unref           (DiImage            *self);
GFile                    *di_image_get_file        (DiImage            *self);
int                       di_image_get_width       (DiImage            *self);
int                       di_image_get_height      (DiImage            *self);
const struct dinet_image *di_image_get_pixels      (DiImage            *self);
cairo_surface_t          *di_image_get_surface     (DiImage            *self);

cairo_surface_t          *di_rgb_to_cairo_surface  (const guint8       *rgb,
                                                    int                 width,
                                                    int                 height);
GBytes                   *di_image_make_thumbnail  (const struct dinet_image *pixels,
                                                    int                 size,
                                                    int                *width,
                                                    int                *height);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiImage, di_image_unref)

G_END_DECLS
