/* di-batch.h — deepinsight --no-window: classify into a case and export,
 * without a display.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when argv asks for the headless mode (--no-window). */
gboolean di_batch_wanted (int    argc,
                          char **argv);
int      di_batch_run    (int    argc,
                          char **argv);

G_END_DECLS
