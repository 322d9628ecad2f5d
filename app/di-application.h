/* di-application.h — the application object.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_APPLICATION (di_application_get_type ())

G_DECLARE_FINAL_TYPE (DiApplication, di_application, DI, APPLICATION, GtkApplication)

DiApplication *di_application_new                   (GApplicationFlags  extra_flags);
DiEngine      *di_application_get_engine            (DiApplication     *self);
GSettings     *di_application_get_settings          (DiApplication     *self);
gboolean       di_application_get_model_loading     (DiApplication     *self);
const char    *di_application_get_model_error       (DiApplication     *self);
char          *di_application_dup_default_model     (DiApplication     *self);
void           di_application_load_model            (DiApplication     *self,
                                                     const char        *path);
GSettings     *di_settings_new                      (void);

G_END_DECLS
