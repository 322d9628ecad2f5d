/* di-demo.c — shows the viewer in one of its main states, for screenshots
 * (tools/screenshots.sh) and for trying things by hand:
 *
 *   di-demo STATE MODEL PATH...
 *
 * STATE: overlay, cbam, zoom, gallery, relabel, preferences, shortcuts,
 * no-model, error. MODEL may be "none". It drives the window through its
 * public API and actions, exactly as the tests do, and never exits by
 * itself.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "di-application.h"
#include "di-engine.h"
#include "di-gallery.h"
#include "di-heatmap.h"
#include "di-image-canvas.h"
#include "di-image.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-side-panel.h"
#include "di-window.h"

static DiApplication *app;
static DiWindow *window;
static const char *state;
static guint step;

static gboolean
idle (void)
{
  return !di_window_get_analysis_busy (window) &&
         !di_engine_get_busy (di_window_get_engine (window));
}

static gboolean
has_model (void)
{
  return di_engine_get_model_info (di_window_get_engine (window)) != NULL;
}

static DiItem *
nth_item (guint n)
{
  GListModel *visible = di_gallery_get_visible (di_window_get_gallery (window));
  g_autoptr(DiItem) item = NULL;

  if (n >= g_list_model_get_n_items (visible))
    return NULL;
  item = g_list_model_get_item (visible, n);
  return item;   /* the list keeps it */
}

/* One step of the state machine every 200 ms; returns when done. */
static gboolean
drive (gpointer data)
{
  DiSidePanel *panel = di_window_get_side_panel (window);
  DiGallery *gallery = di_window_get_gallery (window);

  if (g_str_equal (state, "no-model") || g_str_equal (state, "error"))
    return G_SOURCE_REMOVE;

  if (g_str_equal (state, "shortcuts"))
    {
      gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
      return G_SOURCE_REMOVE;
    }

  if (!has_model () || di_window_get_current_item (window) == NULL)
    return G_SOURCE_CONTINUE;

  if (g_str_equal (state, "gallery"))
    {
      /* Sorted by suspicion while the folder is still being classified. */
      di_gallery_set_sort_mode (gallery, DI_SORT_SUSPICION);
      if (step++ == 0)
        return G_SOURCE_CONTINUE;
      di_window_set_current_item (window, nth_item (0));
      return G_SOURCE_REMOVE;
    }

  if (di_window_get_batch_running (window) || !idle ())
    return G_SOURCE_CONTINUE;

  switch (step++)
    {
    case 0:
      /* Show the most suspicious image. */
      di_gallery_set_sort_mode (gallery, DI_SORT_SUSPICION);
      di_window_set_current_item (window, nth_item (0));
      return G_SOURCE_CONTINUE;

    case 1:
      if (g_str_equal (state, "cbam"))
        {
          di_side_panel_set_method (panel, DI_EXPLAIN_CBAM);
          di_side_panel_set_stage (panel, 3);
          di_side_panel_set_colormap (panel, DI_COLORMAP_VIRIDIS);
        }
      else if (g_str_equal (state, "zoom"))
        {
          di_side_panel_set_colormap (panel, DI_COLORMAP_INFERNO);
          di_image_canvas_set_zoom (di_window_get_canvas (window), 4.0);
        }
      else if (g_str_equal (state, "relabel"))
        {
          DiItem *item = di_window_get_current_item (window);

          gtk_widget_activate_action (GTK_WIDGET (window), "win.relabel", "i", 6);
          di_item_set_note (item, "Enlarged, hyperchromatic nucleus");
          di_gallery_set_selected_item (gallery, item);
        }
      else if (g_str_equal (state, "preferences"))
        g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
      else if (g_str_equal (state, "fusion"))
        {
          /* fine maps, and the faithfulness line under the legend */
          di_side_panel_set_method (panel, DI_EXPLAIN_LAYERCAM_FUSION);
          di_side_panel_set_colormap (panel, DI_COLORMAP_TURBO);
        }
      else if (g_str_equal (state, "scan"))
        di_window_scan_field (window);
      else if (g_str_equal (state, "region"))
        {
          DiImage *image = di_image_canvas_get_image (di_window_get_canvas (window));
          int w = di_image_get_width (image), h = di_image_get_height (image);

          di_window_select_region (window, w / 3, h / 3, w / 3, h / 3);
        }
      return G_SOURCE_CONTINUE;

    case 2:
      if (g_str_equal (state, "relabel"))
        {
          /* Open the class popover, as a click on "Set Class…" does. */
          GtkWidget *w = GTK_WIDGET (panel);
          GtkWidget *button = NULL;

          for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;)
            {
              if (GTK_IS_MENU_BUTTON (c))
                {
                  button = c;
                  break;
                }
              if (gtk_widget_get_first_child (c) != NULL)
                c = gtk_widget_get_first_child (c);
              else
                {
                  while (c != NULL && gtk_widget_get_next_sibling (c) == NULL && c != w)
                    c = gtk_widget_get_parent (c);
                  c = (c == NULL || c == w) ? NULL : gtk_widget_get_next_sibling (c);
                }
            }
          if (button != NULL)
            gtk_menu_button_popup (GTK_MENU_BUTTON (button));
        }
      return G_SOURCE_REMOVE;

    default:
      return G_SOURCE_REMOVE;
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  GMainLoop *loop;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 3)
    {
      g_printerr ("usage: %s STATE MODEL|none PATH...\n", argv[0]);
      return 2;
    }
  state = argv[1];

  gtk_init ();
  app = di_application_new (G_APPLICATION_NON_UNIQUE);
  if (g_str_equal (state, "no-model"))
    g_settings_set_string (di_application_get_settings (app), "default-model", "/nonexistent/model.safetensors");
  else if (!g_str_equal (argv[2], "none"))
    g_settings_set_string (di_application_get_settings (app), "default-model", argv[2]);
  g_settings_set_string (di_application_get_settings (app), "reviewer-name", "AB");
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  window = di_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 1360, 860);
  gtk_window_present (GTK_WINDOW (window));

  for (int i = 3; i < argc; i++)
    g_ptr_array_add (files, g_file_new_for_commandline_arg (argv[i]));
  if (files->len > 0)
    di_window_open (window, (GFile **)files->pdata, files->len);

  g_timeout_add (200, drive, NULL);

  loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);

  return 0;
}
