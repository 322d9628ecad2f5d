/* test-viewer.c — the viewer, in-process, on an X display (Xvfb in CI).
 *
 * Everything it opens is made here: synthetic cell PNGs written with
 * dinet_image_save_png() and small random-weight models written with
 * dinet_net_save(). The window is driven through its actions and its
 * shortcut controller, the results are compared with the engine called
 * directly, and the canvas is rendered to pixels through GtkWidgetPaintable
 * to see the overlay.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <time.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "di-application.h"
#include "di-engine.h"
#include "di-fixtures.h"
#include "di-gui-test.h"
#include "di-gallery.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-image-canvas.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-preferences.h"
#include "di-side-panel.h"
#include "di-window.h"

#define INPUT_SIZE 64
#define N_CELLS 6
#define N_MANY 50

static struct
{
  char *dir;
  char *model;          /* CBAM-ResNet50, 64 px input */
  char *plain_model;    /* ResNet-50 */
  char *bad_model;
  char *cells;          /* N_CELLS images, 96 x 80 */
  char *many;           /* N_MANY images, 64 x 64 */
  char *broken;         /* not an image */
  char *big;            /* 2048 x 1536 */
  DiApplication *app;
  DiWindow *window;
} fx;

/* ---- Helpers ---------------------------------------------------------------- */

/* The ASan+UBSan run of tools/test.sh: timings are not checked there. */
static gboolean
sanitized (void)
{
  return g_strcmp0 (g_getenv ("DINET_SANITIZED"), "1") == 0;
}

static gboolean
model_is (gpointer data)
{
  DiModelInfo *model = di_engine_get_model_info (di_window_get_engine (fx.window));

  return model != NULL && g_strcmp0 (di_model_info_get_path (model), data) == 0;
}

static gboolean
window_idle (gpointer data)
{
  return !di_window_get_batch_running (fx.window) &&
         !di_window_get_analysis_busy (fx.window) &&
         !di_engine_get_busy (di_window_get_engine (fx.window));
}

static gboolean
batch_done_at_least (gpointer data)
{
  return di_window_get_batch_done (fx.window) >= GPOINTER_TO_UINT (data) ||
         !di_window_get_batch_running (fx.window);
}

static gboolean
canvas_allocated (gpointer data)
{
  return gtk_widget_get_width (GTK_WIDGET (di_window_get_canvas (fx.window))) > 0;
}

static gboolean
items_loaded (gpointer data)
{
  return g_list_model_get_n_items (di_window_get_items (fx.window)) == GPOINTER_TO_UINT (data) &&
         di_window_get_current_item (fx.window) != NULL;
}

static gboolean
has_message (gpointer data)
{
  return di_window_get_message (fx.window) != NULL &&
         strstr (di_window_get_message (fx.window), data) != NULL;
}

static void
open_path (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);

  di_window_open (fx.window, &file, 1);
}

static void
wait_idle (void)
{
  g_assert_true (wait_for (window_idle, NULL, 120000));
}

/* Renders the canvas as GTK does: its snapshot, drawn by the renderer's
 * fallback (cairo). */
static cairo_surface_t *
render_canvas (void)
{
  return di_test_render_widget (GTK_WIDGET (di_window_get_canvas (fx.window)));
}

/* Fraction of pixels that differ by more than a few levels. */
static double
pixel_difference (cairo_surface_t *a,
                  cairo_surface_t *b)
{
  int w = cairo_image_surface_get_width (a);
  int h = cairo_image_surface_get_height (a);
  int stride = cairo_image_surface_get_stride (a);
  const guint8 *pa = cairo_image_surface_get_data (a);
  const guint8 *pb = cairo_image_surface_get_data (b);
  guint64 differ = 0;

  g_assert_cmpint (w, ==, cairo_image_surface_get_width (b));
  g_assert_cmpint (h, ==, cairo_image_surface_get_height (b));

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *qa = pa + (gsize)y * stride + 4 * x;
        const guint8 *qb = pb + (gsize)y * stride + 4 * x;

        if (abs (qa[0] - qb[0]) + abs (qa[1] - qb[1]) + abs (qa[2] - qb[2]) > 6)
          differ++;
      }

  return (double)differ / ((double)w * h);
}

/* The same classification, computed straight through the engine. */
static int
direct_top_class (const char *image_path,
                  float      *probs_out)
{
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (fx.model, &err);
  dinet_image *img;
  float *x, logits[7];
  int S, top = 0;

  g_assert_nonnull (net);
  img = dinet_image_load (image_path, NULL, &err);
  g_assert_nonnull (img);
  S = dinet_net_input_size (net);
  g_assert_cmpint (S, ==, INPUT_SIZE);
  x = g_new (float, 3 * S * S);
  g_assert_cmpint (dinet_net_preprocess (net, img, x, &err), ==, 0);
  g_assert_cmpint (dinet_net_forward (net, x, 1, S, S, logits, &err), ==, 0);
  for (int i = 1; i < 7; i++)
    if (logits[i] > logits[top])
      top = i;
  if (probs_out != NULL)
    dinet_softmax (logits, 1, 7, dinet_net_temperature (net), probs_out);

  g_free (x);
  dinet_image_free (img);
  dinet_net_free (net);

  return top;
}

/* Runs the window's single-key shortcut for @keyval, as a key press would. */
static gboolean
press_key (guint keyval)
{
  GListModel *controllers = gtk_widget_observe_controllers (GTK_WIDGET (fx.window));
  guint n = g_list_model_get_n_items (controllers);
  gboolean handled = FALSE;

  for (guint i = 0; i < n && !handled; i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);
      GListModel *shortcuts;
      guint m;

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller) ||
          g_strcmp0 (gtk_event_controller_get_name (controller), "di-single-keys") != 0)
        continue;

      g_assert_cmpint (gtk_event_controller_get_propagation_phase (controller), ==, GTK_PHASE_CAPTURE);
      shortcuts = G_LIST_MODEL (controller);
      m = g_list_model_get_n_items (shortcuts);
      for (guint j = 0; j < m && !handled; j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (shortcuts, j);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (shortcut);

          if (GTK_IS_KEYVAL_TRIGGER (trigger) &&
              gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == keyval &&
              gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)) == 0)
            handled = gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0,
                                                    GTK_WIDGET (fx.window),
                                                    gtk_shortcut_get_arguments (shortcut));
        }
    }

  g_object_unref (controllers);
  return handled;
}

static DiItem *
item_named (const char *name)
{
  GListModel *items = di_window_get_items (fx.window);

  for (guint i = 0; i < g_list_model_get_n_items (items); i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (items, i);

      if (g_str_equal (di_item_get_display_name (item), name))
        return item;   /* the list keeps it alive */
    }
  return NULL;
}

/* The first widget of @type under @widget, depth first. */
static GtkWidget *
find_descendant (GtkWidget *widget,
                 GType      type)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = G_TYPE_CHECK_INSTANCE_TYPE (c, type) ? c : find_descendant (c, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* ---- Tests -------------------------------------------------------------------- */

static void
test_class_titles (void)
{
  static const char *herlev[][3] = {
    { "normal_superficiel", "Normal superficial", "Superficial" },
    { "normal_intermediate", "Normal intermediate", "Intermediate" },
    { "normal_columnar", "Normal columnar", "Columnar" },
    { "light_dysplastic", "Mild dysplasia", "Mild dysp." },
    { "moderate_dysplastic", "Moderate dysplasia", "Moderate dysp." },
    { "severe_dysplastic", "Severe dysplasia", "Severe dysp." },
    { "carcinoma_in_situ", "Carcinoma in situ", "CIS" },
  };
  const char *own = "my_own_class";

  for (guint i = 0; i < G_N_ELEMENTS (herlev); i++)
    {
      g_assert_cmpstr (di_class_get_title (herlev[i][0]), ==, herlev[i][1]);
      g_assert_cmpstr (di_class_get_short_title (herlev[i][0]), ==, herlev[i][2]);
    }
  /* LBC: NL is the negative class; case does not matter */
  g_assert_cmpstr (di_class_get_title ("NL"), ==, "Negative (NILM)");
  g_assert_cmpstr (di_class_get_short_title ("nl"), ==, "NILM");
  g_assert_cmpstr (di_class_get_title ("LIGHT_DYSPLASTIC"), ==, "Mild dysplasia");
  /* names we do not know are shown as they are, the very string */
  g_assert_true (di_class_get_title (own) == own);
  g_assert_true (di_class_get_short_title (own) == own);
  g_assert_cmpstr (di_class_get_title ("HSIL"), ==, "HSIL");
  g_assert_null (di_class_get_title (NULL));
}

static void
test_model_loads (void)
{
  g_assert_true (wait_for (model_is, fx.model, 60000));
  g_assert_false (di_window_get_model_banner_visible (fx.window));
  g_assert_true (di_side_panel_get_cbam_available (di_window_get_side_panel (fx.window)));
}

static void
test_open_folder_classifies (void)
{
  GListModel *items;
  DiItem *current;
  float probs[7];
  int top;

  open_path (fx.cells);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 20000));
  wait_idle ();

  items = di_window_get_items (fx.window);
  g_assert_cmpuint (g_list_model_get_n_items (items), ==, N_CELLS);

  /* The first image is on screen and the panel shows what the engine says. */
  current = di_window_get_current_item (fx.window);
  g_assert_cmpstr (di_item_get_display_name (current), ==, "cell-000.png");
  {
    g_autofree char *path = g_file_get_path (di_item_get_file (current));

    top = direct_top_class (path, probs);
  }
  g_assert_cmpstr (di_side_panel_get_top_class_text (di_window_get_side_panel (fx.window)), ==,
                   di_class_get_title (di_fixture_classes[top]));
  g_assert_nonnull (di_image_canvas_get_image (di_window_get_canvas (fx.window)));

  /* Every image was classified by the batch, and agrees with the engine. */
  for (guint i = 0; i < N_CELLS; i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (items, i);
      g_autofree char *path = g_file_get_path (di_item_get_file (item));
      DiPrediction *prediction = di_item_get_prediction (item);
      double sum = 0, abnormal = 0;

      g_assert_nonnull (prediction);
      g_assert_nonnull (di_item_get_thumbnail (item));
      top = direct_top_class (path, probs);
      g_assert_cmpint (di_prediction_get_top (prediction), ==, top);
      /* the badge shows the short readable name, the prediction keeps the model's */
      g_assert_cmpstr (di_prediction_get_top_name (prediction), ==, di_fixture_classes[top]);
      g_assert_cmpstr (di_item_get_badge_label (item), ==, di_class_get_short_title (di_fixture_classes[top]));
      for (int k = 0; k < 7; k++)
        {
          g_assert_cmpfloat_with_epsilon (di_prediction_get_probability (prediction, k), probs[k], 1e-4);
          sum += di_prediction_get_probability (prediction, k);
          if (k == 0 || k == 1 || k == 2 || k == 6)
            abnormal += di_prediction_get_probability (prediction, k);
        }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-4);
      g_assert_cmpfloat_with_epsilon (di_prediction_get_abnormal (prediction), abnormal, 1e-5);
      g_assert_cmpfloat_with_epsilon (di_item_get_suspicion (item), abnormal, 1e-5);
      /* The screening flag adds the abnormal classes up, as dinet eval does. */
      g_assert_true (di_item_get_suspicious (item) == (di_prediction_get_abnormal (prediction) >= 0.5));
      /* Badge colours by group: warm for the abnormal classes (0, 1, 2, 6) */
      {
        g_auto(GStrv) badge = NULL;
        gboolean warm = FALSE, cool = FALSE;

        g_object_get (item, "badge-classes", &badge, NULL);
        for (guint j = 0; badge != NULL && badge[j] != NULL; j++)
          {
            warm |= g_str_has_prefix (badge[j], "badge-abnormal-");
            cool |= g_str_has_prefix (badge[j], "badge-normal-");
          }
        g_assert_true (warm == (top == 0 || top == 1 || top == 2 || top == 6));
        g_assert_true (cool == !warm);
      }
    }

  g_assert_null (di_window_get_message (fx.window));
}

static gboolean
has_evidence (gpointer data)
{
  DiHeatmap *heatmap = di_image_canvas_get_heatmap (di_window_get_canvas (fx.window));

  return heatmap != NULL && window_idle (NULL);
}

static void
test_overlay_changes_pixels (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  cairo_surface_t *with, *without;
  DiHeatmap *heatmap;
  const char *caption;
  double diff;

  g_assert_true (wait_for (canvas_allocated, NULL, 10000));
  g_assert_true (wait_for (has_evidence, NULL, 60000));

  /* Abnormal classes of the fixture model have positive evidence. */
  heatmap = di_image_canvas_get_heatmap (canvas);
  if (!di_heatmap_has_evidence (heatmap))
    {
      di_side_panel_set_target (panel, 0);
      wait_idle ();
      heatmap = di_image_canvas_get_heatmap (canvas);
    }
  g_assert_true (di_heatmap_has_evidence (heatmap));
  g_assert_null (di_window_get_evidence_text (fx.window));

  caption = di_window_get_caption (fx.window);
  g_assert_nonnull (caption);
  g_assert_true (g_str_has_prefix (caption, "Grad-CAM of "));
  g_assert_true (g_str_has_suffix (caption, " at layer4"));

  di_side_panel_set_overlay_opacity (panel, 0.6);
  g_assert_cmpfloat (di_image_canvas_get_overlay_opacity (canvas), ==, 0.6);
  g_assert_true (di_image_canvas_get_overlay_visible (canvas));
  with = render_canvas ();

  /* Space hides the overlay. */
  g_assert_true (press_key (GDK_KEY_space));
  g_assert_false (di_image_canvas_get_overlay_visible (canvas));
  g_assert_null (di_window_get_caption (fx.window));
  without = render_canvas ();

  {
    const guint8 *d = cairo_image_surface_get_data (with);
    guint64 nonzero = 0;
    for (int i = 0; i < cairo_image_surface_get_stride (with) * cairo_image_surface_get_height (with); i++)
      nonzero += d[i] != 0;
    g_test_message ("rendered %dx%d, %lu nonzero bytes", cairo_image_surface_get_width (with),
                    cairo_image_surface_get_height (with), (unsigned long)nonzero);
  }
  diff = pixel_difference (with, without);
  g_test_message ("overlay changes %.1f%% of the canvas", 100 * diff);
  g_assert_cmpfloat (diff, >, 0.2);

  g_assert_true (press_key (GDK_KEY_space));
  g_assert_true (di_image_canvas_get_overlay_visible (canvas));

  /* A focused button keeps Space for itself. */
  {
    GtkWidget *button = find_descendant (GTK_WIDGET (fx.window), GTK_TYPE_BUTTON);

    g_assert_nonnull (button);
    g_assert_true (gtk_widget_grab_focus (button));
    g_assert_false (press_key (GDK_KEY_space));
    g_assert_true (di_image_canvas_get_overlay_visible (canvas));
    g_assert_true (gtk_widget_grab_focus (GTK_WIDGET (canvas)));
  }

  cairo_surface_destroy (with);
  cairo_surface_destroy (without);
}

static void
test_opacity_keys (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  GSettings *settings = di_application_get_settings (fx.app);

  di_side_panel_set_overlay_opacity (panel, 0.5);
  g_assert_true (press_key (GDK_KEY_bracketright));
  g_assert_cmpfloat_with_epsilon (di_image_canvas_get_overlay_opacity (canvas), 0.6, 1e-9);
  g_assert_true (press_key (GDK_KEY_bracketleft));
  g_assert_true (press_key (GDK_KEY_bracketleft));
  g_assert_cmpfloat_with_epsilon (di_image_canvas_get_overlay_opacity (canvas), 0.4, 1e-9);
  /* Bound to the setting. */
  g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "overlay-opacity"), 0.4, 1e-9);

  for (int i = 0; i < 12; i++)
    press_key (GDK_KEY_bracketright);
  g_assert_cmpfloat (di_image_canvas_get_overlay_opacity (canvas), ==, 1.0);
  di_side_panel_set_overlay_opacity (panel, 0.5);

  /* The wheel over the slider scrolls the panel and leaves the opacity. */
  {
    GtkWidget *scale = find_descendant (GTK_WIDGET (panel), GTK_TYPE_SCALE);
    GtkWidget *scroller = find_descendant (GTK_WIDGET (panel), GTK_TYPE_SCROLLED_WINDOW);
    g_autoptr(GListModel) controllers = NULL;
    GtkEventController *wheel = NULL;
    GtkAdjustment *adj;
    gboolean handled = FALSE;
    double before;

    g_assert_nonnull (scale);
    g_assert_nonnull (scroller);
    controllers = gtk_widget_observe_controllers (scale);
    for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
      {
        g_autoptr(GtkEventController) c = g_list_model_get_item (controllers, i);

        if (GTK_IS_EVENT_CONTROLLER_SCROLL (c) &&
            gtk_event_controller_get_propagation_phase (c) == GTK_PHASE_CAPTURE)
          wheel = c;
      }
    g_assert_nonnull (wheel);
    adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
    gtk_adjustment_set_value (adj, 0);
    before = gtk_adjustment_get_value (adj);
    g_signal_emit_by_name (wheel, "scroll", 0.0, 40.0, &handled);
    g_assert_true (handled);
    g_assert_cmpfloat_with_epsilon (di_image_canvas_get_overlay_opacity (canvas), 0.5, 1e-9);
    if (gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj) > 1)
      g_assert_cmpfloat (gtk_adjustment_get_value (adj), >, before);
    gtk_adjustment_set_value (adj, 0);
  }
}

static void
test_colormap_and_method (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  GSettings *settings = di_application_get_settings (fx.app);
  cairo_surface_t *jet, *viridis;
  DiHeatmap *heatmap;
  guint builds;

  di_side_panel_set_colormap (panel, DI_COLORMAP_JET);
  jet = render_canvas ();
  heatmap = di_image_canvas_get_heatmap (canvas);
  builds = di_heatmap_get_raster_builds (heatmap);

  /* The colormap is a setting: changing the key changes the overlay. */
  g_settings_set_string (settings, "colormap", "viridis");
  g_assert_cmpint (di_side_panel_get_colormap (panel), ==, DI_COLORMAP_VIRIDIS);
  g_assert_cmpint (di_image_canvas_get_colormap (canvas), ==, DI_COLORMAP_VIRIDIS);
  viridis = render_canvas ();
  g_assert_cmpfloat (pixel_difference (jet, viridis), >, 0.2);
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, builds + 1);

  /* Zooming and panning redraw without rebuilding the overlay. */
  di_image_canvas_set_zoom (canvas, 4.0);
  cairo_surface_destroy (render_canvas ());
  di_image_canvas_pan (canvas, -30, -20);
  cairo_surface_destroy (render_canvas ());
  di_image_canvas_zoom_best_fit (canvas);
  cairo_surface_destroy (render_canvas ());
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, builds + 1);

  /* CBAM attention at layer2. */
  di_side_panel_set_method (panel, DI_EXPLAIN_CBAM);
  di_side_panel_set_stage (panel, 2);
  wait_idle ();
  heatmap = di_image_canvas_get_heatmap (canvas);
  g_assert_nonnull (heatmap);
  g_assert_cmpint (di_heatmap_get_method (heatmap), ==, DI_EXPLAIN_CBAM);
  g_assert_cmpint (di_heatmap_get_stage (heatmap), ==, 2);
  g_assert_cmpstr (di_window_get_caption (fx.window), ==, "CBAM attention at layer2");

  /* Back to Grad-CAM of a chosen class at layer3. */
  di_side_panel_set_method (panel, DI_EXPLAIN_GRADCAM);
  di_side_panel_set_stage (panel, 3);
  di_side_panel_set_target (panel, 6);
  wait_idle ();
  heatmap = di_image_canvas_get_heatmap (canvas);
  g_assert_cmpint (di_heatmap_get_method (heatmap), ==, DI_EXPLAIN_GRADCAM);
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, 6);
  g_assert_cmpstr (di_window_get_caption (fx.window), ==, "Grad-CAM of Severe dysplasia at layer3");

  di_side_panel_set_target (panel, -1);
  di_side_panel_set_stage (panel, 4);
  g_settings_set_string (settings, "colormap", "jet");
  wait_idle ();

  cairo_surface_destroy (jet);
  cairo_surface_destroy (viridis);
}

/* Every method of the engine, from the panel: the map says which method
 * and class it explains, and its faithfulness follows. */
static void
test_every_method (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  const DiExplainMethod methods[] = {
    DI_EXPLAIN_GRADCAMPP, DI_EXPLAIN_HIRESCAM, DI_EXPLAIN_LAYERCAM,
    DI_EXPLAIN_LAYERCAM_FUSION, DI_EXPLAIN_SCORECAM, DI_EXPLAIN_COUNTERFACTUAL,
  };

  di_side_panel_set_stage (panel, 4);
  di_side_panel_set_target (panel, 0);
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      DiHeatmap *heatmap;
      const char *caption, *faith;

      di_side_panel_set_method (panel, methods[i]);
      g_assert_cmpint (di_side_panel_get_method (panel), ==, methods[i]);
      wait_idle ();
      heatmap = di_image_canvas_get_heatmap (canvas);
      g_assert_nonnull (heatmap);
      g_assert_cmpint (di_heatmap_get_method (heatmap), ==, methods[i]);
      g_assert_cmpint (di_heatmap_get_target (heatmap), ==, 0);
      g_assert_cmpint (di_heatmap_get_stage (heatmap), ==,
                       methods[i] == DI_EXPLAIN_LAYERCAM_FUSION ? 2 : 4);

      /* the note says what the map shows; the methods that fail the
       * randomisation sanity check carry the caution */
      g_assert_cmpstr (di_side_panel_get_method_note (panel), ==,
                       di_explain_method_get_note (methods[i]));
      g_assert_true (g_str_has_prefix (di_side_panel_get_method_note (panel), "Caution:") ==
                     (methods[i] != DI_EXPLAIN_HIRESCAM &&
                      methods[i] != DI_EXPLAIN_COUNTERFACTUAL));

      caption = di_window_get_caption (fx.window);
      faith = di_side_panel_get_faithfulness_text (panel);
      g_test_message ("%s: caption “%s”; %s", di_explain_method_get_label (methods[i]), caption,
                      faith ? faith : "(no faithfulness line)");
      if (methods[i] == DI_EXPLAIN_LAYERCAM_FUSION)
        g_assert_cmpstr (caption, ==, "LayerCAM of Carcinoma in situ, layers 2–4 fused");
      else if (methods[i] == DI_EXPLAIN_COUNTERFACTUAL)
        g_assert_cmpstr (caption, ==, "Why not Carcinoma in situ: counterfactual at layer4");
      else
        {
          g_autofree char *expect = g_strdup_printf ("%s of Carcinoma in situ at layer4",
                                                     di_explain_method_get_label (methods[i]));
          g_assert_cmpstr (caption, ==, expect);
        }

      /* Measured once the map is shown; a map without evidence says so. */
      g_assert_nonnull (faith);
      if (di_heatmap_has_evidence (heatmap))
        g_assert_true (g_str_has_prefix (faith, "Faithfulness: deletion AUC "));
      else
        g_assert_nonnull (strstr (faith, "no positive evidence"));
    }

  /* Two close figures are read for the user: the map does not single out
   * the evidence (a user trial saw 0.68 and 0.68 without a word). */
  {
    g_autoptr(GtkWidget) lone = g_object_ref_sink (di_side_panel_new ());

    di_side_panel_set_faithfulness (DI_SIDE_PANEL (lone), DI_FAITHFULNESS_KNOWN, 0.676, 0.679);
    g_assert_nonnull (strstr (di_side_panel_get_faithfulness_text (DI_SIDE_PANEL (lone)), "about equal"));
    di_side_panel_set_faithfulness (DI_SIDE_PANEL (lone), DI_FAITHFULNESS_KNOWN, 0.2, 0.8);
    g_assert_nonnull (strstr (di_side_panel_get_faithfulness_text (DI_SIDE_PANEL (lone)), "lower is better"));
    /* a map worse than none is not "about equal" */
    di_side_panel_set_faithfulness (DI_SIDE_PANEL (lone), DI_FAITHFULNESS_KNOWN, 0.9, 0.2);
    g_assert_nonnull (strstr (di_side_panel_get_faithfulness_text (DI_SIDE_PANEL (lone)), "lower is better"));
  }

  di_side_panel_set_method (panel, DI_EXPLAIN_GRADCAM);
  g_assert_false (g_str_has_prefix (di_side_panel_get_method_note (panel), "Caution:"));
  di_side_panel_set_target (panel, -1);
  wait_idle ();
}

static gboolean image_is (gpointer data);

static gboolean
field_heatmap_shown (gpointer data)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  DiImage *image = di_image_canvas_get_image (canvas);

  return image != NULL && di_image_get_width (image) == 2048 &&
         di_image_canvas_get_heatmap (canvas) != NULL;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* The pipeline the app runs for a first heatmap, straight through the
 * engine on this thread: decode, preprocess, Grad-CAM (its forward pass
 * included). Returns its milliseconds; *forward_ms the forward alone. */
static double
direct_first_heatmap_ms (const char *path,
                         double     *forward_ms)
{
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (fx.model, &err);
  dinet_explanation ex;
  dinet_image *img;
  float *x, logits[7];
  gint64 start, mid;
  int S;

  g_assert_nonnull (net);
  S = dinet_net_input_size (net);
  x = g_new0 (float, 3 * S * S);
  dinet_set_threads (MAX (1, (int)g_get_num_processors () - 1));
  g_assert_cmpint (dinet_net_forward (net, x, 1, S, S, logits, &err), ==, 0); /* warm */

  start = g_get_monotonic_time ();
  img = dinet_image_load (path, NULL, &err);
  g_assert_nonnull (img);
  g_assert_cmpint (dinet_net_preprocess (net, img, x, &err), ==, 0);
  g_assert_cmpint (dinet_explain (net, x, S, S, NULL, &ex, &err), ==, 0);
  mid = g_get_monotonic_time ();
  g_assert_cmpint (dinet_net_forward (net, x, 1, S, S, logits, &err), ==, 0);
  *forward_ms = (g_get_monotonic_time () - mid) / 1000.0;

  dinet_explanation_free (&ex);
  dinet_image_free (img);
  g_free (x);
  dinet_net_free (net);
  return (mid - start) / 1000.0;
}

/* Issue target: after opening an image, the first heatmap is on screen
 * within 250 ms plus one forward pass. Measured on fresh 2048 x 1536
 * fields, medians of three. Decoding a 3-megapixel file is part of those
 * 250 ms and costs 100-350 ms on a busy 2-core machine, so the assertion
 * is relative and holds on any machine: the app adds at most 250 ms to
 * the engine's own work for the same file (decode, preprocess, Grad-CAM)
 * timed on this thread; the absolute figure is reported beside it. */
static void
test_first_heatmap_time (void)
{
  double app_ms[3], direct_ms[3], forward_ms[3];
  g_autoptr(GError) small_error = NULL;
  /* a folder (and so a case) of their own: later tests count fx.dir's */
  g_autofree char *dir = g_build_filename (fx.dir, "fields", NULL);
  g_autofree char *small = g_build_filename (dir, "small.png", NULL);
  g_autofree char *small_made = NULL;

  g_mkdir (dir, 0755);
  small_made = di_fixture_make_image (small, 96, 80, 39, &small_error);
  g_assert_no_error (small_error);
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("field-%d.png", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *made = di_fixture_make_image (path, 2048, 1536, 40 + i, &error);
      gint64 start;

      g_assert_no_error (error);
      direct_ms[i] = direct_first_heatmap_ms (path, &forward_ms[i]);

      /* start from a small image, the window idle */
      open_path (small);
      g_assert_true (wait_for (image_is, GINT_TO_POINTER (96), 60000));
      wait_idle ();

      start = g_get_monotonic_time ();
      open_path (path);
      g_assert_true (wait_for (field_heatmap_shown, NULL, 60000));
      app_ms[i] = (g_get_monotonic_time () - start) / 1000.0;
      wait_idle ();
    }

  qsort (app_ms, 3, sizeof (double), compare_doubles);
  qsort (direct_ms, 3, sizeof (double), compare_doubles);
  qsort (forward_ms, 3, sizeof (double), compare_doubles);
  g_test_message ("first heatmap of a fresh 2048x1536 field: app median %.0f ms (%.0f..%.0f); "
                  "the engine's own decode+preprocess+Grad-CAM %.0f ms; one forward pass %.1f ms; "
                  "issue target 250 ms + one forward = %.0f ms: %s",
                  app_ms[1], app_ms[0], app_ms[2], direct_ms[1], forward_ms[1],
                  250 + forward_ms[1], app_ms[1] <= 250 + forward_ms[1] ? "met" : "NOT met here");
  /* Under the sanitizers the app's code runs instrumented and the engine's
   * libraries do not: the figures are logged, not compared. */
  if (!sanitized ())
    g_assert_cmpfloat (app_ms[1], <=, direct_ms[1] + 250);
}

/* A training set's layout (FOLDER/CLASS/IMAGE) opens with every image;
 * hidden folders are skipped. */
static void
test_open_class_folders (void)
{
  g_autofree char *root = g_build_filename (fx.dir, "nested", NULL);
  const char *parts[] = { "a", "b", ".hidden" };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *dir = g_build_filename (root, parts[i], NULL);
      g_autofree char *path = g_build_filename (dir, "cell.png", NULL);
      g_autofree char *made = NULL;

      g_mkdir_with_parents (dir, 0755);
      made = di_fixture_make_image (path, 64, 64, 70 + i, &error);
      g_assert_no_error (error);
    }

  open_path (root);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (2), 20000));
  wait_idle ();
  g_assert_cmpuint (g_list_model_get_n_items (di_window_get_items (fx.window)), ==, 2);
}

static void
test_no_evidence_notice (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  gboolean seen = FALSE;

  /* The normal classes of the fixture model have random-sign weights:
   * find one whose Grad-CAM has no positive evidence. */
  for (int stage = 4; stage >= 1 && !seen; stage--)
    for (int k = 3; k <= 5 && !seen; k++)
      {
        DiHeatmap *heatmap;

        di_side_panel_set_stage (panel, stage);
        di_side_panel_set_target (panel, k);
        wait_idle ();
        heatmap = di_image_canvas_get_heatmap (canvas);
        g_assert_nonnull (heatmap);
        if (!di_heatmap_has_evidence (heatmap))
          {
            g_autofree char *expect = g_strdup_printf ("No positive evidence for %s",
                                                       di_class_get_title (di_fixture_classes[k]));

            g_assert_cmpstr (di_window_get_evidence_text (fx.window), ==, expect);
            seen = TRUE;
          }
        else
          g_assert_null (di_window_get_evidence_text (fx.window));
      }

  if (!seen)
    g_test_message ("every map had evidence: the notice itself is covered by test-heatmap");

  di_side_panel_set_stage (panel, 4);
  di_side_panel_set_target (panel, -1);
  wait_idle ();
}

static void
test_relabel (void)
{
  DiItem *item = di_window_get_current_item (fx.window);
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiGallery *gallery = di_window_get_gallery (fx.window);
  g_autofree char *expect = NULL;

  g_assert_false (di_item_get_reviewed (item));
  g_assert_cmpstr (di_side_panel_get_review_text (panel), ==, "Not reviewed");

  /* Key 3: the third class. */
  g_assert_true (press_key (GDK_KEY_3));
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 2);
  g_assert_true (di_item_get_reviewed (item));
  expect = g_strdup_printf ("Reviewer: %s", di_class_get_title (di_fixture_classes[2]));
  g_assert_cmpstr (di_side_panel_get_review_text (panel), ==, expect);
  /* the gallery's count follows at once, not when the main loop idles */
  g_assert_true (g_str_has_suffix (di_gallery_get_count_text (gallery), " · 1 reviewed"));
  g_assert_cmpint (di_side_panel_get_ticked_class (panel), ==, 2);
  /* the badge shows the reviewer's class, marked when it is not the model's */
  {
    g_auto(GStrv) badge = NULL;
    gboolean corrected = di_prediction_get_top (di_item_get_prediction (item)) != 2;

    g_object_get (item, "badge-classes", &badge, NULL);
    g_assert_cmpstr (di_item_get_badge_label (item), ==, di_class_get_short_title (di_fixture_classes[2]));
    g_assert_true (g_strv_contains ((const char * const *)badge, "reviewed"));
    g_assert_true (g_strv_contains ((const char * const *)badge, "corrected") == corrected);
  }

  /* The popover's buttons run the same action. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.relabel", "i", 4);
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 4);

  /* A class the model does not have is refused. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.relabel", "i", 8);
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 4);

  di_item_set_note (item, "nucleus looks enlarged");
  g_assert_cmpstr (di_item_get_note (item), ==, "nucleus looks enlarged");

  /* The gallery filters on review state. */
  di_gallery_set_filter_mode (gallery, DI_FILTER_REVIEWED);
  spin (50);
  g_assert_cmpuint (g_list_model_get_n_items (di_gallery_get_visible (gallery)), ==, 1);
  di_gallery_set_filter_mode (gallery, DI_FILTER_UNREVIEWED);
  spin (50);
  g_assert_cmpuint (g_list_model_get_n_items (di_gallery_get_visible (gallery)), ==, N_CELLS - 1);
  di_gallery_set_filter_mode (gallery, DI_FILTER_ALL);
  spin (50);

  /* Key 0 clears. */
  g_assert_true (press_key (GDK_KEY_0));
  g_assert_false (di_item_get_reviewed (item));
  g_assert_true (press_key (GDK_KEY_2));
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, 1);
}

static void
test_keys_ignored_while_typing (void)
{
  DiItem *item = di_window_get_current_item (fx.window);
  GtkWidget *entry = gtk_entry_new ();
  GtkWidget *box = gtk_window_get_child (GTK_WINDOW (fx.window));
  int before = di_item_get_reviewer_class (item);

  /* A focused text field keeps its keys. */
  gtk_box_append (GTK_BOX (box), entry);
  gtk_widget_grab_focus (entry);
  spin (20);
  g_assert_false (press_key (GDK_KEY_5));
  g_assert_cmpint (di_item_get_reviewer_class (item), ==, before);
  gtk_box_remove (GTK_BOX (box), entry);
  gtk_widget_grab_focus (GTK_WIDGET (di_window_get_canvas (fx.window)));
}

static void
test_navigation_and_sorting (void)
{
  DiGallery *gallery = di_window_get_gallery (fx.window);
  GListModel *visible = di_gallery_get_visible (gallery);
  double last;

  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-000.png");
  g_assert_true (press_key (GDK_KEY_Page_Down));
  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-001.png");
  g_assert_true (di_gallery_get_selected_item (gallery) == di_window_get_current_item (fx.window));
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.next", NULL);
  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-002.png");
  g_assert_true (press_key (GDK_KEY_Page_Up));
  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-001.png");
  wait_idle ();

  /* Clicking a thumbnail (selecting it) opens it. */
  di_gallery_set_selected_item (gallery, item_named ("cell-004.png"));
  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-004.png");
  wait_idle ();

  di_gallery_set_sort_mode (gallery, DI_SORT_SUSPICION);
  last = 2;
  for (guint i = 0; i < g_list_model_get_n_items (visible); i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (visible, i);

      g_assert_cmpfloat (di_item_get_suspicion (item), <=, last);
      last = di_item_get_suspicion (item);
    }

  /* The Suspicious filter shows exactly the items at P(abnormal) >= 50 %,
   * and the side panel says so for the image on screen. */
  {
    GListModel *items = di_window_get_items (fx.window);
    guint n_suspicious = 0;
    DiItem *current = di_window_get_current_item (fx.window);
    const char *text = di_side_panel_get_abnormal_text (di_window_get_side_panel (fx.window));

    for (guint i = 0; i < g_list_model_get_n_items (items); i++)
      {
        g_autoptr(DiItem) item = g_list_model_get_item (items, i);

        n_suspicious += di_item_get_suspicion (item) >= 0.5;
      }
    di_gallery_set_filter_mode (gallery, DI_FILTER_SUSPICIOUS);
    spin (50);
    g_assert_cmpuint (g_list_model_get_n_items (visible), ==, n_suspicious);
    for (guint i = 0; i < n_suspicious; i++)
      {
        g_autoptr(DiItem) item = g_list_model_get_item (visible, i);

        g_assert_true (di_item_get_suspicious (item));
      }
    di_gallery_set_filter_mode (gallery, DI_FILTER_ALL);
    spin (50);
    g_test_message ("%u of %u fixture cells suspicious", n_suspicious, g_list_model_get_n_items (items));

    g_assert_nonnull (text);
    g_assert_true ((strstr (text, "suspicious") != NULL) == di_item_get_suspicious (current));
  }

  di_gallery_set_sort_mode (gallery, DI_SORT_UNCERTAINTY);
  last = -1;
  for (guint i = 0; i < g_list_model_get_n_items (visible); i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (visible, i);

      g_assert_cmpfloat (di_item_get_margin (item), >=, last);
      last = di_item_get_margin (item);
    }

  /* Page Down follows the order on screen. */
  {
    g_autoptr(DiItem) first = g_list_model_get_item (visible, 0);
    g_autoptr(DiItem) second = g_list_model_get_item (visible, 1);

    di_window_set_current_item (fx.window, first);
    g_assert_true (press_key (GDK_KEY_Page_Down));
    g_assert_true (di_window_get_current_item (fx.window) == second);
  }

  di_gallery_set_sort_mode (gallery, DI_SORT_NAME);
  di_window_set_current_item (fx.window, item_named ("cell-000.png"));
  wait_idle ();
}

static void
test_zoom (void)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  double tx, ty, ix, iy, tx2, ty2;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.zoom-100", NULL);
  g_assert_cmpfloat (di_image_canvas_get_zoom (canvas), ==, 1.0);
  g_assert_false (di_image_canvas_get_best_fit (canvas));

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.zoom-in", NULL);
  g_assert_cmpfloat (di_image_canvas_get_zoom (canvas), >, 1.0);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.zoom-out", NULL);
  g_assert_cmpfloat_with_epsilon (di_image_canvas_get_zoom (canvas), 1.0, 1e-9);

  /* Zooming around a point keeps the image point under it in place (once
   * the image is larger than the view; a smaller one stays centred). */
  di_image_canvas_set_zoom (canvas, 12.0);
  di_image_canvas_get_offset (canvas, &tx, &ty);
  ix = (100 - tx) / 12.0;
  iy = (80 - ty) / 12.0;
  di_image_canvas_zoom_at (canvas, 16.0, 100, 80);
  g_assert_cmpfloat (di_image_canvas_get_zoom (canvas), ==, 16.0);
  di_image_canvas_get_offset (canvas, &tx2, &ty2);
  g_assert_cmpfloat_with_epsilon (tx2 + ix * 16.0, 100, 1e-6);
  g_assert_cmpfloat_with_epsilon (ty2 + iy * 16.0, 80, 1e-6);

  /* Dragging pans, but never past the image's edge. */
  di_image_canvas_pan (canvas, 1e6, 1e6);
  di_image_canvas_get_offset (canvas, &tx2, &ty2);
  g_assert_cmpfloat (tx2, ==, 0);
  g_assert_cmpfloat (ty2, ==, 0);

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.zoom-best-fit", NULL);
  g_assert_true (di_image_canvas_get_best_fit (canvas));

  /* The header's zoom label follows best fit through a resize. */
  {
    g_autofree char *expect = NULL;

    gtk_window_set_default_size (GTK_WINDOW (fx.window), 900, 600);
    spin (300);
    expect = g_strdup_printf ("%.0f%%", 100.0 * di_image_canvas_get_zoom (canvas));
    g_assert_cmpstr (di_window_get_zoom_text (fx.window), ==, expect);
    gtk_window_set_default_size (GTK_WINDOW (fx.window), 1200, 800);
    spin (300);
    g_free (expect);
    expect = g_strdup_printf ("%.0f%%", 100.0 * di_image_canvas_get_zoom (canvas));
    g_assert_cmpstr (di_window_get_zoom_text (fx.window), ==, expect);
  }

  /* The input controllers, driven through their signals. */
  {
    GListModel *controllers = gtk_widget_observe_controllers (GTK_WIDGET (canvas));
    GtkEventController *scroll = NULL, *drag = NULL, *pinch = NULL;
    double fit = di_image_canvas_get_zoom (canvas), zoom;
    gboolean handled = FALSE;

    for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
      {
        g_autoptr(GtkEventController) c = g_list_model_get_item (controllers, i);

        if (GTK_IS_EVENT_CONTROLLER_SCROLL (c))
          scroll = c;
        else if (GTK_IS_GESTURE_DRAG (c))
          drag = c;
        else if (GTK_IS_GESTURE_ZOOM (c))
          pinch = c;
      }
    g_object_unref (controllers);
    g_assert_nonnull (scroll);
    g_assert_nonnull (drag);
    g_assert_nonnull (pinch);

    /* One wheel step up zooms in by 10%, one down back out. */
    g_signal_emit_by_name (scroll, "scroll", 0.0, -1.0, &handled);
    g_assert_true (handled);
    g_assert_cmpfloat_with_epsilon (di_image_canvas_get_zoom (canvas), fit * 1.1, 1e-9);
    g_assert_false (di_image_canvas_get_best_fit (canvas));
    g_signal_emit_by_name (scroll, "scroll", 0.0, 1.0, &handled);
    g_assert_cmpfloat_with_epsilon (di_image_canvas_get_zoom (canvas), fit, 1e-9);

    /* Pinching to four times the distance quadruples the zoom (and leaves
     * room to pan in both directions whatever the screen size). */
    g_signal_emit_by_name (pinch, "begin", NULL);
    g_signal_emit_by_name (pinch, "scale-changed", 4.0);
    g_assert_cmpfloat_with_epsilon (di_image_canvas_get_zoom (canvas), fit * 4, 1e-9);
    zoom = di_image_canvas_get_zoom (canvas);

    /* Dragging pans by the pointer's offset. */
    di_image_canvas_get_offset (canvas, &tx, &ty);
    g_signal_emit_by_name (drag, "drag-begin", 50.0, 50.0);
    g_signal_emit_by_name (drag, "drag-update", -20.0, -10.0);
    g_signal_emit_by_name (drag, "drag-end", -20.0, -10.0);
    di_image_canvas_get_offset (canvas, &tx2, &ty2);
    g_assert_cmpfloat_with_epsilon (tx2, tx - 20, 1e-9);
    g_assert_cmpfloat_with_epsilon (ty2, ty - 10, 1e-9);
    g_assert_cmpfloat (di_image_canvas_get_zoom (canvas), ==, zoom);
  }

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.zoom-best-fit", NULL);
}

static gboolean
image_is (gpointer data)
{
  DiImage *image = di_image_canvas_get_image (di_window_get_canvas (fx.window));

  return image != NULL && di_image_get_width (image) == GPOINTER_TO_INT (data) && window_idle (NULL);
}

static void
test_big_image_is_fluid (void)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  DiHeatmap *heatmap;
  const double zooms[] = { 0, 0.25, 1.0, 4.0 };
  guint builds;

  open_path (fx.big);
  g_assert_true (wait_for (image_is, GINT_TO_POINTER (2048), 60000));
  g_assert_true (wait_for (has_evidence, NULL, 60000));
  heatmap = di_image_canvas_get_heatmap (canvas);

  cairo_surface_destroy (render_canvas ());  /* builds the overlay once */
  builds = di_heatmap_get_raster_builds (heatmap);

  for (guint i = 0; i < G_N_ELEMENTS (zooms); i++)
    {
      gint64 start;
      double ms;

      if (zooms[i] == 0)
        di_image_canvas_zoom_best_fit (canvas);
      else
        di_image_canvas_set_zoom (canvas, zooms[i]);

      start = g_get_monotonic_time ();
      for (int k = 0; k < 5; k++)
        {
          di_image_canvas_pan (canvas, 7, 5);
          cairo_surface_destroy (render_canvas ());
        }
      ms = (g_get_monotonic_time () - start) / 5000.0;
      g_test_message ("2048x1536 with overlay at %s: %.1f ms a frame",
                      zooms[i] == 0 ? "best fit" : zooms[i] == 0.25 ? "25%" : zooms[i] == 1 ? "100%" : "400%",
                      ms);
      /* Generous: the CI machine is shared; fluid is well under this. */
      g_assert_cmpfloat (ms, <, 250);
    }

  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, builds);
  di_image_canvas_zoom_best_fit (canvas);
}

static void
test_errors_in_window (void)
{
  DiModelInfo *before;

  /* An unreadable image. */
  open_path (fx.broken);
  g_assert_true (wait_for (has_message, "Could not open", 20000));
  g_assert_null (di_image_canvas_get_image (di_window_get_canvas (fx.window)));
  wait_idle ();
  /* nothing to explain in it; its thumbnail carries the broken mark */
  g_assert_false (di_side_panel_get_explanation_sensitive (di_window_get_side_panel (fx.window)));
  {
    gboolean failed = FALSE;

    g_object_get (di_window_get_current_item (fx.window), "failed", &failed, NULL);
    g_assert_true (failed);
  }

  /* A bad model: reported, and the old model stays. */
  before = di_engine_get_model_info (di_window_get_engine (fx.window));
  di_application_load_model (fx.app, fx.bad_model);
  g_assert_true (wait_for (has_message, "Could not load the model", 20000));
  g_assert_true (di_engine_get_model_info (di_window_get_engine (fx.window)) == before);

  /* A folder without images. */
  {
    g_autofree char *empty = g_build_filename (fx.dir, "empty", NULL);

    g_mkdir (empty, 0755);
    open_path (empty);
    g_assert_true (wait_for (has_message, "No images found", 20000));
  }

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.dismiss-message", NULL);
  g_assert_null (di_window_get_message (fx.window));
}

static void
test_drop_files (void)
{
  GListModel *controllers = gtk_widget_observe_controllers (GTK_WIDGET (fx.window));
  GtkDropTarget *drop = NULL;
  g_autoptr(GFile) folder = g_file_new_for_path (fx.cells);
  GdkFileList *list = gdk_file_list_new_from_array (&folder, 1);
  GValue value = G_VALUE_INIT;
  gboolean accepted = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && drop == NULL; i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        drop = GTK_DROP_TARGET (controller);
    }
  g_object_unref (controllers);
  g_assert_nonnull (drop);

  /* Dropping a folder opens it, as the file chooser does. */
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, list);
  g_signal_emit_by_name (drop, "drop", &value, 10.0, 10.0, &accepted);
  g_value_unset (&value);
  g_assert_true (accepted);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_CELLS), 20000));
  wait_idle ();
  g_assert_cmpstr (di_item_get_display_name (di_window_get_current_item (fx.window)), ==, "cell-000.png");
}

/* A prediction another model made (read back from a case) says whose it
 * is; the loaded model's own does not. */
static void
test_prediction_of_other_model (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiItem *item = di_window_get_current_item (fx.window);
  g_autoptr(DiPrediction) own = NULL;
  g_autoptr(DiModelInfo) other = _di_model_info_new_from_record ("0123", "other-model", di_fixture_classes,
                                                                 NULL, 1.0);
  const float logits[7] = { 2, 0, 0, 0, 0, 0, 0 };
  g_autoptr(DiPrediction) theirs = di_prediction_new (other, logits);

  g_assert_nonnull (item);
  g_assert_nonnull (di_item_get_prediction (item));
  own = di_prediction_ref (di_item_get_prediction (item));
  g_assert_null (strstr (di_side_panel_get_probability_text (panel), "from the case"));

  di_item_set_prediction (item, theirs);
  g_assert_nonnull (strstr (di_side_panel_get_probability_text (panel), "by other-model, from the case"));

  di_item_set_prediction (item, own);
  g_assert_null (strstr (di_side_panel_get_probability_text (panel), "from the case"));
  wait_idle ();
}

/* A prediction whose views split: the side panel says so (in amber), the
 * gallery's "Split views" filter shows it; views that agree, or a one-view
 * prediction, do not pass the filter. */
static void
test_views_split (void)
{
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiGallery *gallery = di_window_get_gallery (fx.window);
  GListModel *visible = di_gallery_get_visible (gallery);
  DiItem *item = di_window_get_current_item (fx.window);
  DiModelInfo *model;
  g_autoptr(DiPrediction) own = NULL;
  g_autoptr(DiPrediction) split = NULL;
  g_autoptr(DiPrediction) agree = NULL;
  const float logits[7] = { 2, 1, 0, 0, 0, 0, 0 };
  const int split_tops[8] = { 0, 0, 1, 0, 0, 1, 0, 0 };
  const int agree_tops[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };

  g_assert_nonnull (item);
  g_assert_nonnull (di_item_get_prediction (item));
  own = di_prediction_ref (di_item_get_prediction (item));
  model = di_prediction_get_model (own);
  split = di_prediction_new_with_views (model, logits, 8, split_tops);
  agree = di_prediction_new_with_views (model, logits, 8, agree_tops);

  /* the fixture model predicts from one view: no line, nothing split */
  g_assert_null (di_side_panel_get_views_text (panel));
  di_gallery_set_filter_mode (gallery, DI_FILTER_VIEWS_SPLIT);
  spin (50);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);

  /* as the window does when a prediction arrives */
  di_item_set_prediction (item, split);
  di_gallery_invalidate (gallery);
  spin (50);
  g_assert_nonnull (di_side_panel_get_views_text (panel));
  g_assert_true (g_str_has_prefix (di_side_panel_get_views_text (panel), "Views disagree: 6 of 8"));
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  /* the count says a filter is on; the thumbnail's tooltip names the split */
  g_assert_true (g_str_has_prefix (di_gallery_get_count_text (gallery), "1 of "));
  g_assert_nonnull (strstr (di_gallery_get_count_text (gallery), " images shown · "));
  {
    g_autofree char *tip = NULL;

    g_object_get (item, "tooltip", &tip, NULL);
    g_assert_nonnull (strstr (tip, "Views disagree: 6 of 8"));
  }
  {
    g_autoptr(DiItem) shown = g_list_model_get_item (visible, 0);

    g_assert_true (shown == item);
  }

  di_item_set_prediction (item, agree);
  di_gallery_invalidate (gallery);
  spin (50);
  g_assert_cmpstr (di_side_panel_get_views_text (panel), ==, "All 8 views agree");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);

  di_gallery_set_filter_mode (gallery, DI_FILTER_ALL);
  di_item_set_prediction (item, own);
  spin (50);
  g_assert_null (di_side_panel_get_views_text (panel));
  wait_idle ();
}

static void
test_switch_model_hides_cbam (void)
{
  GSettings *settings = di_application_get_settings (fx.app);
  DiSidePanel *panel = di_window_get_side_panel (fx.window);

  g_assert_cmpuint (g_list_model_get_n_items (di_window_get_items (fx.window)), ==, N_CELLS);
  di_side_panel_set_method (panel, DI_EXPLAIN_CBAM);

  /* Choosing a model in Preferences switches at run time. */
  g_settings_set_string (settings, "default-model", fx.plain_model);
  g_assert_true (wait_for (model_is, fx.plain_model, 60000));
  wait_idle ();
  g_assert_false (di_side_panel_get_cbam_available (panel));
  g_assert_cmpint (di_side_panel_get_method (panel), ==, DI_EXPLAIN_GRADCAM);
  g_assert_nonnull (di_window_get_current_item (fx.window));
  g_assert_true (di_model_info_get_path (di_prediction_get_model (
                   di_item_get_prediction (di_window_get_current_item (fx.window)))) != NULL);
  g_assert_true (model_is (fx.plain_model));

  g_settings_set_string (settings, "default-model", fx.model);
  g_assert_true (wait_for (model_is, fx.model, 60000));
  wait_idle ();
  g_assert_true (di_side_panel_get_cbam_available (panel));
}

static void
test_preferences_bound (void)
{
  GSettings *settings = di_application_get_settings (fx.app);
  g_autoptr(GtkWidget) prefs = g_object_ref_sink (di_preferences_new (settings));

  g_assert_true (di_preferences_get_settings (DI_PREFERENCES (prefs)) == settings);
  g_settings_set_int (settings, "threads", 1);
  g_assert_cmpint (di_engine_get_threads (di_window_get_engine (fx.window)), ==, 1);
  g_settings_set_string (settings, "reviewer-name", "AB");
  gtk_window_destroy (GTK_WINDOW (prefs));
}

static void
test_shortcuts_window (void)
{
  g_autoptr(GtkBuilder) builder =
    gtk_builder_new_from_resource ("/io/github/deepinsight/DeepInsight/gtk/help-overlay.ui");
  GObject *overlay = gtk_builder_get_object (builder, "help_overlay");

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (overlay));
  gtk_window_destroy (GTK_WINDOW (overlay));
}

typedef struct
{
  gint64 last;
  gint64 max_gap;
  gint64 last_run;
  gint64 last_wait;
  gint64 max_busy;
  gint64 max_sleep;
  gboolean schedstat;
  guint ticks;
} GapMeter;

/* This thread's time on a CPU and waiting for one (runqueue), in
 * microseconds, from /proc/thread-self/schedstat; FALSE without it. */
static gboolean
thread_times (gint64 *run,
              gint64 *wait)
{
  g_autofree char *text = NULL;
  guint64 run_ns = 0, wait_ns = 0;

  if (!g_file_get_contents ("/proc/thread-self/schedstat", &text, NULL, NULL) ||
      sscanf (text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &run_ns, &wait_ns) != 2)
    {
      struct timespec ts;

      clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
      *run = (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
      *wait = 0;
      return FALSE;
    }

  *run = (gint64)(run_ns / 1000);
  *wait = (gint64)(wait_ns / 1000);
  return TRUE;
}

/* Between two ticks of a 10 ms timer the main thread either ran (busy:
 * the app's own work), waited for a CPU (the machine is loaded: other
 * processes), or slept (idle in poll(), or blocked). The app is
 * responsive when it is never busy, nor blocked, for long; waiting for a
 * CPU is the machine's doing and only shows in the wall-clock gap. */
static gboolean
gap_cb (gpointer data)
{
  GapMeter *m = data;
  gint64 now = g_get_monotonic_time ();
  gint64 run, wait;

  m->schedstat = thread_times (&run, &wait);
  if (m->last != 0)
    {
      gint64 busy = run - m->last_run;
      gint64 sleep = (now - m->last) - busy - (wait - m->last_wait);

      m->max_gap = MAX (m->max_gap, now - m->last);
      m->max_busy = MAX (m->max_busy, busy);
      if (m->schedstat)
        m->max_sleep = MAX (m->max_sleep, sleep);
    }
  m->last = now;
  m->last_run = run;
  m->last_wait = wait;
  m->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
frame_cb (GtkWidget     *widget,
          GdkFrameClock *clock,
          gpointer       data)
{
  GapMeter *m = data;
  gint64 now = gdk_frame_clock_get_frame_time (clock);

  if (m->last != 0)
    m->max_gap = MAX (m->max_gap, now - m->last);
  m->last = now;
  m->ticks++;
  return G_SOURCE_CONTINUE;
}

static void
test_batch_responsive_then_cancel (void)
{
  GapMeter loop = { 0 }, frames = { 0 };
  guint timer, tick;
  const char *limit_env = g_getenv ("DI_TEST_MAX_GAP_MS");
  double limit = limit_env ? g_ascii_strtod (limit_env, NULL) : 50;
  GtkWidget *canvas = GTK_WIDGET (di_window_get_canvas (fx.window));
  guint done;

  open_path (fx.many);
  g_assert_true (wait_for (items_loaded, GUINT_TO_POINTER (N_MANY), 20000));
  g_assert_true (di_window_get_batch_running (fx.window));

  /* While images are classified in the worker, the main loop keeps
   * running: a 10 ms timer and the frame clock must never stall. */
  timer = g_timeout_add (10, gap_cb, &loop);
  tick = gtk_widget_add_tick_callback (canvas, frame_cb, &frames, NULL);
  g_assert_true (wait_for (batch_done_at_least, GUINT_TO_POINTER (25), 120000));
  g_source_remove (timer);
  gtk_widget_remove_tick_callback (canvas, tick);

  g_test_message ("during the batch, between 10 ms timer ticks (%u): main thread busy at most "
                  "%.1f ms, asleep at most %.1f ms%s; wall-clock gap at most %.1f ms; "
                  "frame gap at most %.1f ms over %u frames",
                  loop.ticks, loop.max_busy / 1000.0, loop.max_sleep / 1000.0,
                  loop.schedstat ? "" : " (no schedstat)", loop.max_gap / 1000.0,
                  frames.max_gap / 1000.0, frames.ticks);
  g_assert_cmpuint (loop.ticks, >, 10);
  /* The app never keeps the main loop busy, nor blocked, past the limit
   * (not timed under the sanitizers). */
  if (!sanitized ())
    {
      g_assert_cmpfloat (loop.max_busy / 1000.0, <, limit);
      g_assert_cmpfloat (loop.max_sleep / 1000.0, <, limit);
      /* Wall clock: a loaded machine preempts any process; only a gross
       * stall fails here. */
      g_assert_cmpfloat (loop.max_gap / 1000.0, <, 20 * limit);
    }
  g_assert_nonnull (strstr (di_window_get_progress_text (fx.window), "of 50"));

  /* Cancel stops the batch within an image. */
  g_assert_true (di_window_get_batch_running (fx.window));
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.cancel-batch", NULL);
  g_assert_true (wait_for (has_message, "cancelled", 20000));
  g_assert_false (di_window_get_batch_running (fx.window));
  done = di_window_get_batch_done (fx.window);
  g_assert_cmpuint (done, <, N_MANY);
  wait_idle ();

  {
    GListModel *items = di_window_get_items (fx.window);
    guint classified = 0;

    for (guint i = 0; i < N_MANY; i++)
      {
        g_autoptr(DiItem) item = g_list_model_get_item (items, i);

        classified += di_item_get_prediction (item) != NULL;
      }
    g_test_message ("cancelled after %u of %u; %u items have a prediction", done, N_MANY, classified);
    g_assert_cmpuint (classified, <, N_MANY);
  }

  /* The window still works: classify the rest. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.classify-all", NULL);
  g_assert_true (di_window_get_batch_running (fx.window));
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.cancel-batch", NULL);
  wait_idle ();
}

/* ---- Setup ------------------------------------------------------------------------- */

static void
make_fixtures (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cells = NULL;
  g_autoptr(GPtrArray) many = NULL;
  g_autofree char *big = NULL;

  fx.dir = g_dir_make_tmp ("deepinsight-gui-XXXXXX", &error);
  g_assert_no_error (error);

  fx.model = di_fixture_make_model (fx.dir, DINET_ARCH_CBAM_RESNET50, INPUT_SIZE, 11, &error);
  g_assert_no_error (error);
  fx.plain_model = di_fixture_make_model (fx.dir, DINET_ARCH_RESNET50, INPUT_SIZE, 12, &error);
  g_assert_no_error (error);

  fx.bad_model = g_build_filename (fx.dir, "bad.safetensors", NULL);
  g_file_set_contents (fx.bad_model, "\x10\x00\x00\x00\x00\x00\x00\x00{not json", 17, &error);
  g_assert_no_error (error);

  fx.broken = g_build_filename (fx.dir, "broken.png", NULL);
  g_file_set_contents (fx.broken, "\x89PNG\r\n\x1a\n but not really", -1, &error);
  g_assert_no_error (error);

  fx.cells = g_build_filename (fx.dir, "cells", NULL);
  g_mkdir (fx.cells, 0755);
  cells = di_fixture_make_images (fx.cells, N_CELLS, 96, 80, 100, &error);
  g_assert_no_error (error);

  fx.many = g_build_filename (fx.dir, "many", NULL);
  g_mkdir (fx.many, 0755);
  many = di_fixture_make_images (fx.many, N_MANY, 64, 64, 500, &error);
  g_assert_no_error (error);

  fx.big = g_build_filename (fx.dir, "big.png", NULL);
  big = di_fixture_make_image (fx.big, 2048, 1536, 9, &error);
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_test_skip ("no display");
      g_print ("1..0 # SKIP cannot open a display\n");
      return 77;
    }

  make_fixtures ();

  fx.app = di_application_new (G_APPLICATION_NON_UNIQUE);
  g_settings_set_string (di_application_get_settings (fx.app), "default-model", fx.model);
  g_application_register (G_APPLICATION (fx.app), NULL, &error);
  g_assert_no_error (error);

  fx.window = di_window_new (fx.app);
  gtk_window_set_default_size (GTK_WINDOW (fx.window), 1200, 800);
  gtk_window_present (GTK_WINDOW (fx.window));

  g_test_add_func ("/viewer/class-titles", test_class_titles);
  g_test_add_func ("/viewer/model-loads", test_model_loads);
  g_test_add_func ("/viewer/open-folder-classifies", test_open_folder_classifies);
  g_test_add_func ("/viewer/overlay-changes-pixels", test_overlay_changes_pixels);
  g_test_add_func ("/viewer/opacity-keys", test_opacity_keys);
  g_test_add_func ("/viewer/colormap-and-method", test_colormap_and_method);
  g_test_add_func ("/viewer/every-method", test_every_method);
  g_test_add_func ("/viewer/no-evidence-notice", test_no_evidence_notice);
  g_test_add_func ("/viewer/relabel", test_relabel);
  g_test_add_func ("/viewer/keys-ignored-while-typing", test_keys_ignored_while_typing);
  g_test_add_func ("/viewer/navigation-and-sorting", test_navigation_and_sorting);
  g_test_add_func ("/viewer/zoom", test_zoom);
  g_test_add_func ("/viewer/big-image-is-fluid", test_big_image_is_fluid);
  g_test_add_func ("/viewer/first-heatmap-time", test_first_heatmap_time);
  g_test_add_func ("/viewer/errors-in-window", test_errors_in_window);
  g_test_add_func ("/viewer/open-class-folders", test_open_class_folders);
  g_test_add_func ("/viewer/drop-files", test_drop_files);
  g_test_add_func ("/viewer/prediction-of-other-model", test_prediction_of_other_model);
  g_test_add_func ("/viewer/views-split", test_views_split);
  g_test_add_func ("/viewer/switch-model-hides-cbam", test_switch_model_hides_cbam);
  g_test_add_func ("/viewer/preferences-bound", test_preferences_bound);
  g_test_add_func ("/viewer/shortcuts-window", test_shortcuts_window);
  g_test_add_func ("/viewer/batch-responsive-then-cancel", test_batch_responsive_then_cancel);

  ret = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fx.window));
  spin (50);
  g_clear_object (&fx.app);
  di_fixture_remove_tree (fx.dir);

  return ret;
}
