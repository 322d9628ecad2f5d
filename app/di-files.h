/* di-files.h — which files of a folder are images: one rule for the
 * window and the headless mode.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Folders nest this deep at most: FOLDER/CLASS/IMAGE (the ImageFolder
 * layout of training sets) and one level more. */
#define DI_FILES_MAX_DEPTH 3

gboolean   di_files_is_image_name (const char    *name);
GPtrArray *di_files_collect       (GPtrArray     *inputs,
                                   GCancellable  *cancellable,
                                   GError       **first_error);

G_END_DECLS
