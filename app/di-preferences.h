/* di-preferences.h — the preferences window.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-types.h"

G_BEGIN_DECLS

#define DI_TYPE_PREFERENCES (di_preferences_get_type ())

G_DECLARE_FINAL_TYPE (DiPreferences, di_preferences, DI, PREFERENCES, GtkWindow)

GtkWidget *di_preferences_new          (GSettings     *settings);
GSettings *di_preferences_get_settings (DiPreferences *self);

G_END_DECLS
