/* di-batch.h — deepinsight --no-window: classify into a case and export,
 * without a display.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <dinet/dinet.h>

#include "di-case.h"

G_BEGIN_DECLS

/* TRUE when argv asks for the headless mode (--no-window). */
gboolean di_batch_wanted (int    argc,
                          char **argv);
int      di_batch_run    (int    argc,
                          char **argv);

/* Grad-CAM maps for the case's classified images that lack one. */
int      di_batch_fill_maps (DiCase       *kase,
                             dinet_net    *net,
                             const char   *model_sha256,
                             GCancellable *cancellable,
                             GPtrArray    *failed);

G_END_DECLS
