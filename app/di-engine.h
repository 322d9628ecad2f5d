/* di-engine.h — the bridge between the UI and libdinet.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_ENGINE_ERROR (di_engine_error_quark ())

typedef enum {
  DI_ENGINE_ERROR_FAILED,
  DI_ENGINE_ERROR_IO,
  DI_ENGINE_ERROR_FORMAT,
  DI_ENGINE_ERROR_NO_MEMORY,
  DI_ENGINE_ERROR_INVALID,
  DI_ENGINE_ERROR_LIMIT,
  DI_ENGINE_ERROR_NUMERIC,
  DI_ENGINE_ERROR_NO_MODEL,
  DI_ENGINE_ERROR_NOT_LOCAL,
} DiEngineError;

GQuark di_engine_error_quark (void);

#define DI_TYPE_ENGINE (di_engine_get_type ())

G_DECLARE_FINAL_TYPE (DiEngine, di_engine, DI, ENGINE, GObject)

/**
 * DiEngineBatchFunc:
 * @engine: the engine
 * @index: the position of @file in the batch
 * @file: the file
 * @thumbnail: (nullable): packed RGB rows of @thumb_width x @thumb_height
 * @prediction: (nullable): the classification, when asked for and possible
 * @error: (nullable): why this file failed
 *
 * Called on the main thread after each file of a batch.
 */
typedef void (*DiEngineBatchFunc) (DiEngine     *engine,
                                   guint         index,
                                   GFile        *file,
                                   GBytes       *thumbnail,
                                   int           thumb_width,
                                   int           thumb_height,
                                   DiPrediction *prediction,
                                   const GError *error,
                                   gpointer      user_data);

/**
 * DiEngineScanFunc:
 * @engine: the engine
 * @first: the index of the first tile of this batch
 * @n: the number of tiles in it
 * @predictions: (array length=n): their classifications
 *
 * Called on the main thread after each batch of a scan.
 */
typedef void (*DiEngineScanFunc) (DiEngine      *engine,
                                  guint          first,
                                  guint          n,
                                  DiPrediction **predictions,
                                  gpointer       user_data);

DiEngine     *di_engine_new                   (void);
DiModelInfo  *di_engine_get_model_info        (DiEngine             *self);
gboolean      di_engine_get_busy              (DiEngine             *self);
int           di_engine_get_threads           (DiEngine             *self);
void          di_engine_set_threads           (DiEngine             *self,
                                               int                   threads);
guint         di_engine_get_jobs_run          (DiEngine             *self);
guint         di_engine_get_n_classified      (DiEngine             *self);

void          di_engine_load_model_async      (DiEngine             *self,
                                               const char           *path,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
DiModelInfo  *di_engine_load_model_finish     (DiEngine             *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void          di_engine_load_image_async      (DiEngine             *self,
                                               GFile                *file,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
DiImage      *di_engine_load_image_finish     (DiEngine             *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void          di_engine_classify_async        (DiEngine             *self,
                                               DiImage              *image,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
DiPrediction *di_engine_classify_finish       (DiEngine             *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void          di_engine_explain_async         (DiEngine             *self,
                                               DiImage              *image,
                                               DiExplainMethod       method,
                                               int                   stage,
                                               int                   target,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
DiHeatmap    *di_engine_explain_finish        (DiEngine             *self,
                                               GAsyncResult         *result,
                                               DiPrediction        **prediction,
                                               GError              **error);

void          di_engine_faithfulness_async    (DiEngine             *self,
                                               DiImage              *image,
                                               DiHeatmap            *heatmap,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      di_engine_faithfulness_finish   (DiEngine             *self,
                                               GAsyncResult         *result,
                                               double               *deletion,
                                               double               *insertion,
                                               GError              **error);

void          di_engine_classify_files_async  (DiEngine             *self,
                                               GFile               **files,
                                               guint                 n_files,
                                               int                   thumb_size,
                                               gboolean              classify,
                                               DiEngineBatchFunc     func,
                                               gpointer              func_data,
                                               GDestroyNotify        func_data_destroy,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
void          di_engine_classify_files_masked_async (DiEngine       *self,
                                               GFile               **files,
                                               const gboolean       *classify_mask,
                                               guint                 n_files,
                                               int                   thumb_size,
                                               gboolean              classify,
                                               DiEngineBatchFunc     func,
                                               gpointer              func_data,
                                               GDestroyNotify        func_data_destroy,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      di_engine_classify_files_finish (DiEngine             *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void          di_engine_explain_region_async  (DiEngine             *self,
                                               DiImage              *image,
                                               int                   x,
                                               int                   y,
                                               int                   width,
                                               int                   height,
                                               DiExplainMethod       method,
                                               int                   stage,
                                               int                   target,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);

void          di_engine_scan_async            (DiEngine             *self,
                                               DiImage              *image,
                                               const int            *rects,
                                               guint                 n_rects,
                                               guint                 batch,
                                               DiEngineScanFunc      func,
                                               gpointer              func_data,
                                               GDestroyNotify        func_data_destroy,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      di_engine_scan_finish           (DiEngine             *self,
                                               GAsyncResult         *result,
                                               GError              **error);

G_END_DECLS
