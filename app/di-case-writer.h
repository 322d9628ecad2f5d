/* di-case-writer.h — writes a case's predictions and maps off the main
 * thread.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_CASE_WRITER (di_case_writer_get_type ())

G_DECLARE_FINAL_TYPE (DiCaseWriter, di_case_writer, DI, CASE_WRITER, GObject)

DiCaseWriter *di_case_writer_new              (const char   *case_filename);
const char   *di_case_writer_get_filename     (DiCaseWriter *self);
void          di_case_writer_add_prediction   (DiCaseWriter *self,
                                               gint64        image_id,
                                               DiPrediction *prediction);
void          di_case_writer_add_explanation  (DiCaseWriter *self,
                                               gint64        image_id,
                                               DiModelInfo  *model,
                                               DiHeatmap    *heatmap);
guint         di_case_writer_get_pending      (DiCaseWriter *self);
void          di_case_writer_flush            (DiCaseWriter *self);

G_END_DECLS
