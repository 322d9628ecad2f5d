/* di-window.h — the main window.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-case.h"
#include "di-report.h"
#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_WINDOW (di_window_get_type ())

G_DECLARE_FINAL_TYPE (DiWindow, di_window, DI, WINDOW, GtkApplicationWindow)

/* Longest side of gallery thumbnails, in pixels. */
#define DI_THUMBNAIL_SIZE 128

DiWindow      *di_window_new                (DiApplication *application);
void           di_window_open               (DiWindow      *self,
                                             GFile        **files,
                                             guint          n_files);
void           di_window_open_case          (DiWindow      *self,
                                             GFile         *case_file,
                                             GFile        **files,
                                             guint          n_files);
DiCase        *di_window_get_case           (DiWindow      *self);
gboolean       di_window_get_opening        (DiWindow      *self);
gboolean       di_window_get_case_busy      (DiWindow      *self);
void           di_window_export             (DiWindow      *self,
                                             const char    *kind,
                                             const char    *path);
DiReportPaper  di_window_get_paper          (DiWindow      *self);
void           di_window_set_paper          (DiWindow      *self,
                                             DiReportPaper  paper);
DiEngine      *di_window_get_engine         (DiWindow      *self);
DiItem        *di_window_get_current_item   (DiWindow      *self);
void           di_window_set_current_item   (DiWindow      *self,
                                             DiItem        *item);
GListModel    *di_window_get_items          (DiWindow      *self);
DiImageCanvas *di_window_get_canvas         (DiWindow      *self);
DiSidePanel   *di_window_get_side_panel     (DiWindow      *self);
DiGallery     *di_window_get_gallery        (DiWindow      *self);
gboolean       di_window_get_batch_running  (DiWindow      *self);
guint          di_window_get_batch_done     (DiWindow      *self);
gboolean       di_window_get_analysis_busy  (DiWindow      *self);
const char    *di_window_get_message        (DiWindow      *self);
const char    *di_window_get_caption        (DiWindow      *self);
const char    *di_window_get_evidence_text  (DiWindow      *self);
gboolean       di_window_get_model_banner_visible (DiWindow *self);
const char    *di_window_get_progress_text  (DiWindow      *self);
void           di_window_show_message       (DiWindow      *self,
                                             gboolean       is_error,
                                             const char    *message);
gboolean       di_window_select_region      (DiWindow      *self,
                                             int            x,
                                             int            y,
                                             int            width,
                                             int            height);
DiRegion      *di_window_get_region         (DiWindow      *self);
gboolean       di_window_scan_field         (DiWindow      *self);
DiFieldScan   *di_window_get_field_scan     (DiWindow      *self);
gboolean       di_window_get_scan_running   (DiWindow      *self);
gboolean       di_window_show_whole_image   (DiWindow      *self);
gboolean       di_window_forget_region      (DiWindow      *self);
gboolean       di_window_restore_region     (DiWindow      *self);
const char    *di_window_get_zoom_text      (DiWindow      *self);

G_END_DECLS
