/* di-case.h — a review case: one SQLite database per case.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* PRAGMA user_version of the databases this code writes. */
#define DI_CASE_SCHEMA_VERSION 4
/* PRAGMA application_id: "DIcs". */
#define DI_CASE_APPLICATION_ID 0x44496373
/* The suggested file name extension. */
#define DI_CASE_SUFFIX ".dicase"
/* The case the viewer keeps in a folder it opens: FOLDER/deepinsight-case.dicase. */
#define DI_CASE_FOLDER_NAME "deepinsight-case" DI_CASE_SUFFIX

#define DI_CASE_ERROR (di_case_error_quark ())

typedef enum {
  DI_CASE_ERROR_FAILED,
  DI_CASE_ERROR_NOT_A_CASE,       /* not SQLite, or another program's database */
  DI_CASE_ERROR_TOO_NEW,          /* written by a newer DeepInsight */
  DI_CASE_ERROR_IO,
  DI_CASE_ERROR_NOT_FOUND,        /* no such image or model in the case */
  DI_CASE_ERROR_NOTHING_TO_UNDO,
  DI_CASE_ERROR_NOTHING_TO_REDO,
  DI_CASE_ERROR_INVALID,
  DI_CASE_ERROR_OTHER_WRITER,     /* undo/redo of a step another connection made */
  DI_CASE_ERROR_READ_ONLY,        /* the case file or its folder may not be written */
} DiCaseError;

GQuark di_case_error_quark (void);

/**
 * DiCaseImageStatus:
 * @DI_CASE_IMAGE_OK: the file is where the case says, with the same content
 * @DI_CASE_IMAGE_MISSING: no file at the recorded place
 * @DI_CASE_IMAGE_CHANGED: the file's SHA-256 differs from the recorded one
 */
typedef enum {
  DI_CASE_IMAGE_OK,
  DI_CASE_IMAGE_MISSING,
  DI_CASE_IMAGE_CHANGED,
} DiCaseImageStatus;

/**
 * DiCaseImage:
 * @id: the row id, > 0
 * @path: as stored: relative to the case file's folder, '/'-separated
 * @filename: (nullable): where the file is now (absolute), %NULL if missing
 * @sha256: hex digest recorded when the image was added
 * @size: bytes recorded when the image was added
 * @added: when it was added
 * @status: checked when the case was opened (see di_case_verify_images())
 * @label: (nullable): the reviewer's current label (the latest review row)
 * @note: (nullable): the current note
 * @reviewer: (nullable): who wrote the latest review row
 * @reviewed: (nullable): when
 * @predicted: (nullable): the class of the latest prediction
 * @model_sha256: (nullable): the model of the latest prediction
 */
typedef struct {
  gint64 id;
  char *path;
  char *filename;
  char *sha256;
  gint64 size;
  GDateTime *added;
  DiCaseImageStatus status;
  char *label;
  char *note;
  char *reviewer;
  GDateTime *reviewed;
  char *predicted;
  char *model_sha256;
} DiCaseImage;

/**
 * DiCaseModel:
 * @sha256: the SHA-256 of the model file (its identity)
 * @name: a display name (usually the file name)
 * @classes: class names in output order
 * @abnormal: (nullable): per class 1 abnormal, 0 normal, -1 unknown; %NULL
 *   when the model has no grouping
 * @metadata: (element-type utf8 utf8): every metadata key of the model file
 */
typedef struct {
  char *sha256;
  char *name;
  char **classes;
  int n_classes;
  int *abnormal;
  GHashTable *metadata;
} DiCaseModel;

/**
 * DiCaseEventKind:
 * @DI_CASE_EVENT_ADDED: the image was added to the case
 * @DI_CASE_EVENT_PREDICTION: the classifier's call
 * @DI_CASE_EVENT_REVIEW: a reviewer's label and/or note
 * @DI_CASE_EVENT_UNDO: a review undone (the row restores the previous state)
 * @DI_CASE_EVENT_REDO: an undone review redone
 */
typedef enum {
  DI_CASE_EVENT_ADDED,
  DI_CASE_EVENT_PREDICTION,
  DI_CASE_EVENT_REVIEW,
  DI_CASE_EVENT_UNDO,
  DI_CASE_EVENT_REDO,
} DiCaseEventKind;

/**
 * DiCaseEvent:
 *
 * One line of an image's provenance. Review rows (REVIEW, UNDO, REDO) fill
 * @label, @note, @previous_label, @previous_note and @reviewer, the state
 * after and before the row. Predictions fill @label (the predicted class),
 * @model_name, @model_sha256, @classes, @probabilities, @logits (may be
 * %NULL) and @temperature.
 */
typedef struct {
  DiCaseEventKind kind;
  gint64 id;
  gint64 image_id;
  GDateTime *time;
  char *label;
  char *note;
  char *previous_label;
  char *previous_note;
  char *reviewer;
  gint64 target;          /* UNDO/REDO: the review row undone or redone */
  char *model_name;
  char *model_sha256;
  char **classes;
  int n_classes;
  double *probabilities;
  double *logits;
  double temperature;
  int n_views;            /* views the prediction is the mean of (0: not kept) */
  int *view_top;          /* each view's top class, an index into @classes (-1: none) */
} DiCaseEvent;

/**
 * DiCaseRegion:
 *
 * A rectangle in image pixels (origin top left) with a class label and
 * the model's calibrated probability of that class (NAN when unknown: a
 * region without a class, or one saved before schema version 3).
 */
typedef struct {
  gint64 id;
  gint64 image_id;
  double x, y, width, height;
  char *label;
  double probability;
} DiCaseRegion;

/**
 * DiCaseExplanation:
 *
 * A stored explanation map (row-major, @width x @height) of an image for a
 * model: method "gradcam" or "cbam", the stage and target class.
 */
typedef struct {
  gint64 id;
  gint64 image_id;
  char *model_sha256;
  char *method;
  int stage;
  int target;
  int width;
  int height;
  float *values;
} DiCaseExplanation;

#define DI_TYPE_CASE_IMAGE (di_case_image_get_type ())
#define DI_TYPE_CASE_MODEL (di_case_model_get_type ())
#define DI_TYPE_CASE_EVENT (di_case_event_get_type ())
#define DI_TYPE_CASE_REGION (di_case_region_get_type ())
#define DI_TYPE_CASE_EXPLANATION (di_case_explanation_get_type ())

GType              di_case_image_get_type       (void) G_GNUC_CONST;
DiCaseImage       *di_case_image_copy           (const DiCaseImage       *image);
void               di_case_image_free           (DiCaseImage             *image);
GType              di_case_model_get_type       (void) G_GNUC_CONST;
DiCaseModel       *di_case_model_copy           (const DiCaseModel       *model);
void               di_case_model_free           (DiCaseModel             *model);
int                di_case_model_find_class     (const DiCaseModel       *model,
                                                 const char              *name);
GType              di_case_event_get_type       (void) G_GNUC_CONST;
DiCaseEvent       *di_case_event_copy           (const DiCaseEvent       *event);
void               di_case_event_free           (DiCaseEvent             *event);
int                di_case_event_get_top        (const DiCaseEvent       *event);
gboolean           di_case_event_get_views_split (const DiCaseEvent      *event);
int               *di_case_event_dup_order      (const DiCaseEvent       *event);
double             di_case_event_get_abnormal   (const DiCaseEvent       *event,
                                                 const DiCaseModel       *model);
GType              di_case_region_get_type      (void) G_GNUC_CONST;
DiCaseRegion      *di_case_region_copy          (const DiCaseRegion      *region);
void               di_case_region_free          (DiCaseRegion            *region);
GType              di_case_explanation_get_type (void) G_GNUC_CONST;
DiCaseExplanation *di_case_explanation_copy     (const DiCaseExplanation *explanation);
void               di_case_explanation_free     (DiCaseExplanation       *explanation);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiCaseImage, di_case_image_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiCaseModel, di_case_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiCaseEvent, di_case_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiCaseRegion, di_case_region_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiCaseExplanation, di_case_explanation_free)

#define DI_TYPE_CASE (di_case_get_type ())

G_DECLARE_FINAL_TYPE (DiCase, di_case, DI, CASE, GObject)

DiCase            *di_case_open_snapshot        (const char              *filename,
                                                 GError                 **error);
gboolean           di_case_get_snapshot         (DiCase                  *self);
DiCase            *di_case_open                 (const char              *filename,
                                                 GError                 **error);
const char        *di_case_get_filename         (DiCase                  *self);
char              *di_case_dup_folder           (DiCase                  *self);
char              *di_case_dup_title            (DiCase                  *self);
int                di_case_get_schema_version   (DiCase                  *self);
gboolean           di_case_get_can_undo         (DiCase                  *self);
gboolean           di_case_get_can_redo         (DiCase                  *self);

/* Images */
gint64             di_case_add_image            (DiCase                  *self,
                                                 const char              *filename,
                                                 GError                 **error);
gint64             di_case_find_image           (DiCase                  *self,
                                                 const char              *filename);
gboolean           di_case_relocate_image       (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *filename,
                                                 GError                 **error);
GPtrArray         *di_case_dup_images           (DiCase                  *self);
DiCaseImage       *di_case_dup_image            (DiCase                  *self,
                                                 gint64                   image_id);
DiCaseImageStatus  di_case_get_image_status     (DiCase                  *self,
                                                 gint64                   image_id);
guint              di_case_verify_images        (DiCase                  *self,
                                                 gboolean                 full,
                                                 GCancellable            *cancellable);

/* Models and predictions */
gboolean           di_case_add_model            (DiCase                  *self,
                                                 const char              *sha256,
                                                 const char              *name,
                                                 const char * const      *classes,
                                                 GHashTable              *metadata,
                                                 GError                 **error);
DiCaseModel       *di_case_dup_model            (DiCase                  *self,
                                                 const char              *sha256);
GPtrArray         *di_case_dup_models           (DiCase                  *self);
gint64             di_case_add_prediction       (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *model_sha256,
                                                 const float             *probabilities,
                                                 const float             *logits,
                                                 int                      n_classes,
                                                 double                   temperature,
                                                 int                      n_views,
                                                 const int               *view_top,
                                                 GError                 **error);
DiCaseEvent       *di_case_dup_prediction       (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *model_sha256);
gboolean           di_case_has_prediction       (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *model_sha256);
gint64             di_case_add_explanation      (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *model_sha256,
                                                 const char              *method,
                                                 int                      stage,
                                                 int                      target,
                                                 const float             *values,
                                                 int                      width,
                                                 int                      height,
                                                 GError                 **error);
DiCaseExplanation *di_case_dup_explanation      (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *model_sha256,
                                                 const char              *method);

/* Reviews: append-only; each call is one durable transaction. */
gboolean           di_case_relabel              (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *label,
                                                 const char              *note,
                                                 const char              *reviewer,
                                                 GError                 **error);
gboolean           di_case_set_label            (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *label,
                                                 const char              *reviewer,
                                                 GError                 **error);
gboolean           di_case_set_note             (DiCase                  *self,
                                                 gint64                   image_id,
                                                 const char              *note,
                                                 const char              *reviewer,
                                                 GError                 **error);
gboolean           di_case_refresh              (DiCase                  *self);
gboolean           di_case_undo                 (DiCase                  *self,
                                                 const char              *reviewer,
                                                 gint64                  *image_id,
                                                 GError                 **error);
gboolean           di_case_redo                 (DiCase                  *self,
                                                 const char              *reviewer,
                                                 gint64                  *image_id,
                                                 GError                 **error);
GPtrArray         *di_case_dup_history          (DiCase                  *self,
                                                 gint64                   image_id);

/* Regions of interest */
gint64             di_case_add_region           (DiCase                  *self,
                                                 gint64                   image_id,
                                                 double                   x,
                                                 double                   y,
                                                 double                   width,
                                                 double                   height,
                                                 const char              *label,
                                                 double                   probability,
                                                 GError                 **error);
gboolean           di_case_remove_region        (DiCase                  *self,
                                                 gint64                   region_id,
                                                 GError                 **error);
gboolean           di_case_set_region_label     (DiCase                  *self,
                                                 gint64                   region_id,
                                                 const char              *label,
                                                 double                   probability,
                                                 GError                 **error);
GPtrArray         *di_case_dup_regions          (DiCase                  *self,
                                                 gint64                   image_id);

/* Helpers shared with the exports and the batch mode. */
char              *di_case_compute_sha256       (const char              *filename,
                                                 gint64                  *size,
                                                 GError                 **error);
char              *di_case_format_time          (GDateTime               *time);

G_END_DECLS
