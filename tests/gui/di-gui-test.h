/* di-gui-test.h — what the GUI tests share: running the main loop until a
 * condition holds, and rendering a widget as GTK draws it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef gboolean (*Condition) (gpointer data);

/* Runs the main loop until @cond holds or @timeout_ms passes; returns
 * whether it holds. */
gboolean         wait_for          (Condition  cond,
                                    gpointer   data,
                                    guint      timeout_ms);
/* Runs the main loop for @ms milliseconds. */
void             spin              (guint      ms);
/* The widget's snapshot rendered with cairo (the renderer's fallback), at
 * the widget's size; the widget must be mapped. */
cairo_surface_t *di_test_render_widget (GtkWidget *widget);

G_END_DECLS
