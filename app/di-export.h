/* di-export.h — a case as CSV, as QuPath GeoJSON, and as a retraining pack.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "di-case.h"

G_BEGIN_DECLS

gboolean  di_export_csv               (DiCase      *kase,
                                       const char  *filename,
                                       GError     **error);
gboolean  di_export_geojson           (DiCase      *kase,
                                       gint64       image_id,
                                       const char  *filename,
                                       GError     **error);
gboolean  di_export_pack              (DiCase      *kase,
                                       const char  *folder,
                                       guint       *n_copied,
                                       guint       *n_skipped,
                                       GError     **error);

/* Helpers (also for tests). */
void      di_export_append_csv_field  (GString     *s,
                                       const char  *field);
GPtrArray *di_export_parse_csv        (const char  *text);
void      di_export_append_json_string (GString    *s,
                                       const char  *str);
void      di_export_class_color       (const char  *class_name,
                                       guint8       rgb[3]);
char     *di_export_class_folder_name (const char  *label);
char     *di_export_dup_unreadable_reason (const DiCaseImage *image);

G_END_DECLS
