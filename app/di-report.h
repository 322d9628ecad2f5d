/* di-report.h — the PDF report of a case.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "di-case.h"
#include "di-types.h"

G_BEGIN_DECLS

typedef enum {
  DI_REPORT_PAPER_A4,
  DI_REPORT_PAPER_LETTER,
} DiReportPaper;

#define DI_TYPE_REPORT_PAPER (di_report_paper_get_type ())
GType di_report_paper_get_type (void);

/**
 * DiBethesda:
 * @DI_BETHESDA_UNKNOWN: a class that maps to no category and whose
 *   normal/abnormal grouping is unknown
 * @DI_BETHESDA_NILM: negative for intraepithelial lesion or malignancy
 * @DI_BETHESDA_ABNORMAL: grouped abnormal by the model, but its name maps
 *   to no Bethesda category
 * @DI_BETHESDA_LSIL: low-grade squamous intraepithelial lesion
 * @DI_BETHESDA_HSIL_PLUS: high-grade lesion or worse (HSIL, SCC)
 *
 * In increasing order of severity.
 */
typedef enum {
  DI_BETHESDA_UNKNOWN,
  DI_BETHESDA_NILM,
  DI_BETHESDA_ABNORMAL,
  DI_BETHESDA_LSIL,
  DI_BETHESDA_HSIL_PLUS,
} DiBethesda;

DiBethesda  di_bethesda_from_class (const char *class_name,
                                    int         abnormal);
const char *di_bethesda_get_label  (DiBethesda  category);

#define DI_TYPE_REPORT (di_report_get_type ())

G_DECLARE_FINAL_TYPE (DiReport, di_report, DI, REPORT, GObject)

DiReport      *di_report_new            (DiCase         *kase);
DiCase        *di_report_get_case       (DiReport       *self);
const char    *di_report_get_reviewer   (DiReport       *self);
void           di_report_set_reviewer   (DiReport       *self,
                                         const char     *reviewer);
DiReportPaper  di_report_get_paper      (DiReport       *self);
void           di_report_set_paper      (DiReport       *self,
                                         DiReportPaper   paper);
DiColormap     di_report_get_colormap   (DiReport       *self);
void           di_report_set_colormap   (DiReport       *self,
                                         DiColormap      colormap);
double         di_report_get_opacity    (DiReport       *self);
void           di_report_set_opacity    (DiReport       *self,
                                         double          opacity);
const char    *di_report_get_model_sha256 (DiReport     *self);
void           di_report_set_model_sha256 (DiReport     *self,
                                           const char   *model_sha256);
gboolean       di_report_write          (DiReport       *self,
                                         const char     *filename,
                                         GCancellable   *cancellable,
                                         GError        **error);
int            di_report_get_n_pages    (DiReport       *self);

G_END_DECLS
