/* di-model-info.h — an immutable description of a loaded model.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "di-types.h"

struct dinet_net;
struct dinet_error;

G_BEGIN_DECLS

#define DI_TYPE_MODEL_INFO (di_model_info_get_type ())

GType        di_model_info_get_type          (void) G_GNUC_CONST;
DiModelInfo *di_model_info_ref               (DiModelInfo *self);
void         di_model_info_unref             (DiModelInfo *self);
const char  *di_model_info_get_path          (DiModelInfo *self);
const char  *di_model_info_get_name          (DiModelInfo *self);
const char  *di_model_info_get_arch_name     (DiModelInfo *self);
gboolean     di_model_info_has_cbam          (DiModelInfo *self);
int          di_model_info_get_n_classes     (DiModelInfo *self);
const char  *di_model_info_get_class_name    (DiModelInfo *self,
                                              int          index);
const char * const *di_model_info_get_class_names (DiModelInfo *self);
int          di_model_info_get_class_abnormal (DiModelInfo *self,
                                              int          index);
gboolean     di_model_info_has_grouping      (DiModelInfo *self);
int          di_model_info_get_input_size    (DiModelInfo *self);
double       di_model_info_get_center_crop   (DiModelInfo *self);
double       di_model_info_get_temperature   (DiModelInfo *self);
int          di_model_info_get_views         (DiModelInfo *self);
int          di_model_info_get_image_side    (DiModelInfo *self);
char        *di_model_info_dup_size_notice   (DiModelInfo *self,
                                              const char  *display_name,
                                              int          width,
                                              int          height);
const char  *di_model_info_get_sha256        (DiModelInfo *self);
struct dinet_net *di_model_load_file         (const char  *path,
                                              char       **sha256,
                                              GError     **io_error,
                                              struct dinet_error *err);
const char  *di_model_info_get_file_name     (DiModelInfo *self);
GHashTable  *di_model_info_get_metadata      (DiModelInfo *self);
gboolean     di_model_info_same_model        (DiModelInfo *a,
                                              DiModelInfo *b);

/* Per class 1 abnormal, 0 normal, -1 unknown (n_classes entries). */
const int   *_di_model_info_get_class_groups (DiModelInfo *self);

/* For the engine bridge: snapshot of a dinet_net (in the worker). */
struct dinet_net;
DiModelInfo *_di_model_info_new_from_net     (const char             *path,
                                              const struct dinet_net *net,
                                              const char             *sha256);
/* For predictions read back from a case (DiCaseModel), when the model that
 * made them is not the one loaded. */
DiModelInfo *_di_model_info_new_from_record  (const char             *sha256,
                                              const char             *name,
                                              const char * const     *classes,
                                              const int              *abnormal,
                                              double                  temperature);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiModelInfo, di_model_info_unref)

G_END_DECLS
