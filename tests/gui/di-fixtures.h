/* di-fixtures.h — test data made by the tests: synthetic cell images and a
 * small random-weight model.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <dinet/dinet.h>

G_BEGIN_DECLS

extern const char * const di_fixture_classes[7];

char     *di_fixture_make_model  (const char  *dir,
                                  dinet_arch   arch,
                                  int          input_size,
                                  guint64      seed,
                                  GError     **error);
char     *di_fixture_make_image  (const char  *path,
                                  int          width,
                                  int          height,
                                  guint64      seed,
                                  GError     **error);
GPtrArray *di_fixture_make_images (const char  *dir,
                                   guint        n,
                                   int          width,
                                   int          height,
                                   guint64      seed,
                                   GError     **error);

void       di_fixture_remove_tree (const char  *path);

G_END_DECLS
