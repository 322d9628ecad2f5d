/* di-gallery.h — thumbnails of the opened images.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_GALLERY (di_gallery_get_type ())

G_DECLARE_FINAL_TYPE (DiGallery, di_gallery, DI, GALLERY, GtkWidget)

GtkWidget    *di_gallery_new               (void);
GListModel   *di_gallery_get_items         (DiGallery    *self);
void          di_gallery_set_items         (DiGallery    *self,
                                            GListModel   *items);
GListModel   *di_gallery_get_visible       (DiGallery    *self);
DiSortMode    di_gallery_get_sort_mode     (DiGallery    *self);
void          di_gallery_set_sort_mode     (DiGallery    *self,
                                            DiSortMode    mode);
DiFilterMode  di_gallery_get_filter_mode   (DiGallery    *self);
void          di_gallery_set_filter_mode   (DiGallery    *self,
                                            DiFilterMode  mode);
DiItem       *di_gallery_get_selected_item (DiGallery    *self);
void          di_gallery_set_selected_item (DiGallery    *self,
                                            DiItem       *item);
DiItem       *di_gallery_get_first_of      (DiGallery    *self,
                                            GPtrArray    *items);
DiItem       *di_gallery_get_adjacent      (DiGallery    *self,
                                            DiItem       *item,
                                            int           delta);
void          di_gallery_invalidate        (DiGallery    *self);
const char   *di_gallery_get_count_text    (DiGallery    *self);

G_END_DECLS
