/* test-field.c — multi-cell fields in the viewer, in-process, on an X
 * display (Xvfb in CI): a region drawn on the canvas is classified and
 * explained on its own, a field scan tiles the image and colours every
 * tile, and a scan can be cancelled. Regions saved in the case are
 * outlined when their image is shown again, and a click selects one.
 *
 * Everything it opens is made here (di-fixtures.c): a 512 x 384 field with
 * one synthetic cell, a 2048 x 1536 one, and a small random-weight model.
 * The results are compared with the engine called directly on the same
 * pixels, and the canvas is rendered to pixels to see the overlays.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "di-application.h"
#include "di-case.h"
#include "di-engine.h"
#include "di-field-scan.h"
#include "di-fixtures.h"
#include "di-gui-test.h"
#include "di-heatmap.h"
#include "di-image-canvas.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-region.h"
#include "di-side-panel.h"
#include "di-window.h"

#define INPUT_SIZE 64
#define FIELD_W 512
#define FIELD_H 384

static struct
{
  char *dir;
  char *model;
  char *field_dir;      /* field.png, 512 x 384 */
  char *field;
  char *big_dir;        /* big.png, 2048 x 1536 */
  DiApplication *app;
  DiWindow *window;
} fx;

/* ---- Helpers ---------------------------------------------------------------- */

static gboolean
model_loaded (gpointer data)
{
  return di_engine_get_model_info (di_window_get_engine (fx.window)) != NULL;
}

static gboolean
window_idle (gpointer data)
{
  return !di_window_get_batch_running (fx.window) &&
         !di_window_get_scan_running (fx.window) &&
         !di_window_get_analysis_busy (fx.window) &&
         !di_engine_get_busy (di_window_get_engine (fx.window)) &&
         gtk_widget_get_width (GTK_WIDGET (di_window_get_canvas (fx.window))) > 0;
}

static void
wait_idle (void)
{
  g_assert_true (wait_for (window_idle, NULL, 120000));
}

static gboolean
item_named (gpointer data)
{
  DiItem *item = di_window_get_current_item (fx.window);

  return item != NULL && g_str_equal (di_item_get_display_name (item), data);
}

static void
open_folder (const char *path,
             const char *name)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);

  di_window_open (fx.window, &file, 1);
  g_assert_true (wait_for (item_named, (gpointer)name, 20000));
  wait_idle ();
}

static gboolean
region_classified (gpointer data)
{
  DiRegion *region = di_window_get_region (fx.window);

  return region != NULL && di_region_get_prediction (region) != NULL &&
         di_region_get_heatmap (region) != NULL && window_idle (NULL);
}

static gboolean
has_message (gpointer data)
{
  return di_window_get_message (fx.window) != NULL &&
         strstr (di_window_get_message (fx.window), data) != NULL;
}

/* The canvas as GTK draws it: its snapshot, rendered with cairo. */
static cairo_surface_t *
render_canvas (void)
{
  return di_test_render_widget (GTK_WIDGET (di_window_get_canvas (fx.window)));
}

/* Fraction of the pixels of an image rectangle (inset by @inset widget
 * pixels; a negative inset means everything outside the rectangle grown
 * by -inset) that differ by more than a few levels between @a and @b. */
static double
difference_in (cairo_surface_t *a,
               cairo_surface_t *b,
               double           ix,
               double           iy,
               double           iw,
               double           ih,
               int              inset)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  int w = cairo_image_surface_get_width (a), h = cairo_image_surface_get_height (a);
  int stride = cairo_image_surface_get_stride (a);
  const guint8 *pa = cairo_image_surface_get_data (a), *pb = cairo_image_surface_get_data (b);
  double x0, y0, x1, y1;
  guint64 differ = 0, total = 0;

  di_image_canvas_image_to_widget (canvas, ix, iy, &x0, &y0);
  di_image_canvas_image_to_widget (canvas, ix + iw, iy + ih, &x1, &y1);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        gboolean inside = x >= x0 + abs (inset) && x < x1 - abs (inset) &&
                          y >= y0 + abs (inset) && y < y1 - abs (inset);
        const guint8 *qa = pa + (gsize)y * stride + 4 * x;
        const guint8 *qb = pb + (gsize)y * stride + 4 * x;

        if (inset < 0)
          inside = !(x >= x0 + inset && x < x1 - inset && y >= y0 + inset && y < y1 - inset);
        if (!inside)
          continue;
        total++;
        differ += abs (qa[0] - qb[0]) + abs (qa[1] - qb[1]) + abs (qa[2] - qb[2]) > 6;
      }

  g_assert_cmpuint (total, >, 100);
  return (double)differ / total;
}

/* What the engine, called directly, says of a rectangle of @path. */
static void
direct_probabilities (const char *path,
                      int         x,
                      int         y,
                      int         width,
                      int         height,
                      float       probs[7])
{
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (fx.model, &err);
  dinet_image *img, *crop;
  float *in, logits[7];
  int S;

  g_assert_nonnull (net);
  img = dinet_image_load (path, NULL, &err);
  g_assert_nonnull (img);
  crop = dinet_image_crop (img, x, y, width, height, &err);
  g_assert_nonnull (crop);
  S = dinet_net_input_size (net);
  in = g_new (float, 3 * S * S);
  g_assert_cmpint (dinet_net_preprocess (net, crop, in, &err), ==, 0);
  g_assert_cmpint (dinet_net_forward (net, in, 1, S, S, logits, &err), ==, 0);
  dinet_softmax (logits, 1, 7, dinet_net_temperature (net), probs);

  g_free (in);
  dinet_image_free (crop);
  dinet_image_free (img);
  dinet_net_free (net);
}

static void
press_overlay_key (void)
{
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.toggle-overlay", NULL);
}

/* ---- Tests -------------------------------------------------------------------- */

static void
test_region (void)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiRegion *region;
  DiPrediction *prediction;
  cairo_surface_t *with, *without;
  double wx0, wy0, wx1, wy1, inside, outside;
  float probs[7];
  g_autoptr(GPtrArray) stored = NULL;
  g_autofree char *label = NULL;
  /* Around the synthetic cell (centred in the middle fifth of the field). */
  const int rx = 176, ry = 112, rw = 160, rh = 160;

  g_assert_true (wait_for (model_loaded, NULL, 60000));
  open_folder (fx.field_dir, "field.png");

  /* The abnormal classes of the fixture model have positive evidence. */
  di_side_panel_set_target (panel, 0);
  di_side_panel_set_overlay_opacity (panel, 0.6);
  di_side_panel_set_overlay_visible (panel, TRUE);
  wait_idle ();

  /* Too small a rectangle is no region. */
  di_image_canvas_image_to_widget (canvas, rx, ry, &wx0, &wy0);
  g_assert_false (di_image_canvas_select_rect (canvas, wx0, wy0, wx0 + 3, wy0 + 2));
  g_assert_null (di_window_get_region (fx.window));

  /* What releasing a drawn rectangle does, corners in widget coordinates
   * (here bottom-right to top-left). */
  di_image_canvas_image_to_widget (canvas, rx + rw, ry + rh, &wx1, &wy1);
  g_assert_true (di_image_canvas_select_rect (canvas, wx1, wy1, wx0, wy0));
  region = di_window_get_region (fx.window);
  g_assert_nonnull (region);
  g_assert_true (di_image_canvas_get_region (canvas) == region);
  g_assert_cmpint (abs (di_region_get_x (region) - rx), <=, 1);
  g_assert_cmpint (abs (di_region_get_y (region) - ry), <=, 1);
  g_assert_cmpint (abs (di_region_get_width (region) - rw), <=, 2);
  g_assert_cmpint (abs (di_region_get_height (region) - rh), <=, 2);

  g_assert_true (wait_for (region_classified, NULL, 60000));
  g_assert_true (region == di_window_get_region (fx.window));

  /* The panel shows the region's classification, labelled as a region. */
  prediction = di_region_get_prediction (region);
  label = di_region_dup_label (region);
  g_assert_cmpstr (di_side_panel_get_region_text (panel), ==, label);
  g_assert_true (g_str_has_prefix (label, "Region at "));
  /* the whole image's faithfulness line is not the region's */
  g_assert_null (di_side_panel_get_faithfulness_text (panel));
  g_assert_cmpstr (di_side_panel_get_top_class_text (panel), ==,
                   di_class_get_title (di_prediction_get_top_name (prediction)));
  direct_probabilities (fx.field, di_region_get_x (region), di_region_get_y (region),
                        di_region_get_width (region), di_region_get_height (region), probs);
  for (int k = 0; k < 7; k++)
    g_assert_cmpfloat_with_epsilon (di_prediction_get_probability (prediction, k), probs[k], 1e-4);
  g_assert_cmpfloat (di_prediction_get_abnormal (prediction), >=, 0);
  g_assert_true (di_heatmap_has_evidence (di_region_get_heatmap (region)));
  g_assert_nonnull (di_window_get_caption (fx.window));

  /* The region's map is drawn inside it, and only there. */
  with = render_canvas ();
  press_overlay_key ();
  g_assert_false (di_image_canvas_get_overlay_visible (canvas));
  without = render_canvas ();
  inside = difference_in (with, without, di_region_get_x (region), di_region_get_y (region),
                          di_region_get_width (region), di_region_get_height (region), 4);
  outside = difference_in (with, without, di_region_get_x (region), di_region_get_y (region),
                           di_region_get_width (region), di_region_get_height (region), -4);
  g_test_message ("region overlay changes %.1f%% inside, %.1f%% outside", 100 * inside, 100 * outside);
  g_assert_cmpfloat (inside, >, 0.3);
  g_assert_cmpfloat (outside, <, 0.001);
  press_overlay_key ();
  cairo_surface_destroy (with);
  cairo_surface_destroy (without);

  /* It is in the review case, labelled with its top class. */
  stored = di_case_dup_regions (di_window_get_case (fx.window),
                                di_item_get_case_id (di_window_get_current_item (fx.window)));
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_cmpstr (((DiCaseRegion *)g_ptr_array_index (stored, 0))->label, ==,
                   di_prediction_get_top_name (prediction));
  g_assert_cmpint (di_region_get_case_id (region), ==, ((DiCaseRegion *)g_ptr_array_index (stored, 0))->id);
  /* and the user is told so, once */
  g_assert_nonnull (di_window_get_message (fx.window));
  g_assert_nonnull (strstr (di_window_get_message (fx.window), "saved in the case"));
  di_window_show_message (fx.window, FALSE, NULL);

  /* Another method explains the region again. */
  di_side_panel_set_method (panel, DI_EXPLAIN_CBAM);
  g_assert_true (wait_for (region_classified, NULL, 60000));
  g_assert_cmpint (di_heatmap_get_method (di_region_get_heatmap (region)), ==, DI_EXPLAIN_CBAM);
  di_side_panel_set_method (panel, DI_EXPLAIN_GRADCAM);
  g_assert_true (wait_for (region_classified, NULL, 60000));

  /* A class key with the region on screen labels the image, and says so. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.relabel", "i", 2));
  g_assert_cmpstr (di_item_get_reviewer_label (di_window_get_current_item (fx.window)), ==, di_fixture_classes[2]);
  g_assert_nonnull (di_window_get_message (fx.window));
  g_assert_nonnull (strstr (di_window_get_message (fx.window), "whole image"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.relabel", "i", -1));
  di_window_show_message (fx.window, FALSE, NULL);

  /* Back to the whole image. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.whole-image", NULL);
  g_assert_null (di_window_get_region (fx.window));
  g_assert_null (di_image_canvas_get_region (canvas));
  g_assert_null (di_side_panel_get_region_text (panel));
  wait_idle ();
  g_assert_nonnull (di_side_panel_get_faithfulness_text (panel));
}

static gboolean
shows_saved_regions (gpointer data)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);

  return di_image_canvas_get_image (canvas) != NULL &&
         di_image_canvas_get_n_saved_regions (canvas) == GPOINTER_TO_UINT (data);
}

static GPtrArray *
dup_stored_regions (void)
{
  return di_case_dup_regions (di_window_get_case (fx.window),
                              di_item_get_case_id (di_window_get_current_item (fx.window)));
}

/* The canvas outlines exactly the regions stored for the image on screen. */
static void
assert_saved_regions_shown (GPtrArray *stored)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);

  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, stored->len);
  for (guint i = 0; i < stored->len; i++)
    {
      const DiCaseRegion *expected = g_ptr_array_index (stored, i);
      const DiCaseRegion *shown = di_image_canvas_get_saved_region (canvas, i);

      g_assert_cmpint (shown->id, ==, expected->id);
      g_assert_cmpfloat (shown->x, ==, expected->x);
      g_assert_cmpfloat (shown->y, ==, expected->y);
      g_assert_cmpfloat (shown->width, ==, expected->width);
      g_assert_cmpfloat (shown->height, ==, expected->height);
      g_assert_cmpstr (shown->label, ==, expected->label);
    }
}

static void
test_saved_regions (void)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(DiItem) item = NULL;
  const DiCaseRegion *saved;
  DiRegion *region;
  cairo_surface_t *with, *without;
  double inside, outside, whole;
  double sx, sy, sw, sh;
  DiCaseRegion forgotten;
  g_autofree char *forgotten_label = NULL;

  /* /field/region left its region in the case and went back to the whole
   * image: the region's rectangle is outlined as saved. */
  g_assert_true (item_named ("field.png"));
  g_assert_null (di_window_get_region (fx.window));
  stored = dup_stored_regions ();
  g_assert_cmpuint (stored->len, ==, 1);
  assert_saved_regions_shown (stored);
  saved = g_ptr_array_index (stored, 0);
  sx = saved->x, sy = saved->y, sw = saved->width, sh = saved->height;

  /* Drawn: along its edges and in its tag, not over the cell inside. */
  with = render_canvas ();
  di_image_canvas_set_saved_regions (canvas, NULL);
  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 0);
  without = render_canvas ();
  di_image_canvas_set_saved_regions (canvas, stored);
  inside = difference_in (with, without, sx, sy, sw, sh, 4);
  outside = difference_in (with, without, sx, sy, sw, sh, -4);
  whole = difference_in (with, without, 0, 0, FIELD_W, FIELD_H, 0);
  g_test_message ("saved outline changes %.2f%% inside, %.2f%% outside, %.2f%% of the field",
                  100 * inside, 100 * outside, 100 * whole);
  g_assert_cmpfloat (inside, <, 0.001);
  g_assert_cmpfloat (whole, >, 0.002);
  g_assert_cmpfloat (outside, >, 0.0005);
  cairo_surface_destroy (with);
  cairo_surface_destroy (without);

  /* Another image (none), then this one again. */
  item = g_object_ref (di_window_get_current_item (fx.window));
  di_window_set_current_item (fx.window, NULL);
  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 0);
  di_window_set_current_item (fx.window, item);
  g_assert_true (wait_for (shows_saved_regions, GUINT_TO_POINTER (1), 20000));
  assert_saved_regions_shown (stored);
  wait_idle ();

  /* Another folder, without regions, then this one again: its case is
   * read anew from the file, as when the app starts again. */
  open_folder (fx.big_dir, "big.png");
  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 0);
  open_folder (fx.field_dir, "field.png");
  g_assert_true (shows_saved_regions (GUINT_TO_POINTER (1)));
  g_clear_pointer (&stored, g_ptr_array_unref);
  stored = dup_stored_regions ();
  g_assert_cmpuint (stored->len, ==, 1);
  assert_saved_regions_shown (stored);
  saved = di_image_canvas_get_saved_region (canvas, 0);
  g_assert_true (di_image_canvas_get_saved_region_at (canvas, sx + sw / 2, sy + sh / 2) == saved);
  g_assert_null (di_image_canvas_get_saved_region_at (canvas, sx - 1, sy));
  g_assert_null (di_image_canvas_get_saved_region_at (canvas, sx + sw, sy + sh / 2));

  /* A click outside it is what it was: nothing to leave, nothing taken. */
  g_signal_emit_by_name (canvas, "clicked", sx / 2, sy / 2);
  g_assert_null (di_window_get_region (fx.window));

  /* A click inside it makes it the region again, classified anew... */
  g_signal_emit_by_name (canvas, "clicked", sx + sw / 3, sy + sh / 3);
  region = di_window_get_region (fx.window);
  g_assert_nonnull (region);
  g_assert_true (di_image_canvas_get_region (canvas) == region);
  g_assert_true (di_region_has_rect (region, sx, sy, sw, sh));
  g_assert_true (wait_for (region_classified, NULL, 60000));
  g_assert_true (region == di_window_get_region (fx.window));

  /* ...found in the case by its rectangle, not stored twice. */
  g_assert_cmpint (di_region_get_case_id (region), ==, ((DiCaseRegion *)g_ptr_array_index (stored, 0))->id);
  after = dup_stored_regions ();
  g_assert_cmpuint (after->len, ==, 1);
  assert_saved_regions_shown (after);

  /* The region on screen is drawn as the region, not also as saved. */
  with = render_canvas ();
  di_image_canvas_set_saved_regions (canvas, NULL);
  without = render_canvas ();
  di_image_canvas_set_saved_regions (canvas, after);
  whole = difference_in (with, without, 0, 0, FIELD_W, FIELD_H, 0);
  g_test_message ("saved outline under the region changes %.3f%% of the field", 100 * whole);
  g_assert_cmpfloat (whole, ==, 0);
  cairo_surface_destroy (with);
  cairo_surface_destroy (without);

  /* A click inside the region keeps it; outside both, the whole image. */
  g_signal_emit_by_name (canvas, "clicked", sx + sw / 2, sy + sh / 2);
  g_assert_true (region == di_window_get_region (fx.window));
  g_signal_emit_by_name (canvas, "clicked", sx / 2, sy / 2);
  g_assert_null (di_window_get_region (fx.window));
  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 1);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "forget-region"));
  wait_idle ();

  /* Classified again with another result (as another model would give):
   * the one row takes the new class. */
  {
    g_autoptr(GPtrArray) relabelled = NULL;
    const char *top;

    g_assert_true (di_case_set_region_label (di_window_get_case (fx.window),
                                             ((DiCaseRegion *)g_ptr_array_index (stored, 0))->id,
                                             "an older model's class", 0.99, NULL));
    g_signal_emit_by_name (canvas, "clicked", sx + sw / 3, sy + sh / 3);
    g_assert_true (wait_for (region_classified, NULL, 60000));
    top = di_prediction_get_top_name (di_region_get_prediction (di_window_get_region (fx.window)));
    relabelled = dup_stored_regions ();
    g_assert_cmpuint (relabelled->len, ==, 1);
    g_assert_cmpstr (((DiCaseRegion *)g_ptr_array_index (relabelled, 0))->label, ==, top);
    g_assert_cmpfloat (((DiCaseRegion *)g_ptr_array_index (relabelled, 0))->probability, ==,
                       di_prediction_get_probability (di_region_get_prediction (di_window_get_region (fx.window)),
                                                      di_prediction_get_top (di_region_get_prediction (di_window_get_region (fx.window)))));
    g_assert_cmpstr (di_image_canvas_get_saved_region (canvas, 0)->label, ==, top);
  }

  /* Forget Region: out of the case and off the canvas, back to the whole
   * image; drawn again, the rectangle is stored (and shown) anew. */
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "forget-region"));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "restore-region"));
  forgotten = *di_image_canvas_get_saved_region (canvas, 0);
  forgotten_label = g_strdup (forgotten.label);
  forgotten.label = forgotten_label;
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.forget-region", NULL);
  g_assert_null (di_window_get_region (fx.window));
  g_clear_pointer (&after, g_ptr_array_unref);
  after = dup_stored_regions ();
  g_assert_cmpuint (after->len, ==, 0);
  g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 0);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "forget-region"));

  /* The banner offers Undo: the same rectangle and label come back. */
  {
    g_autoptr(GPtrArray) before = dup_stored_regions ();
    g_autoptr(GPtrArray) restored = NULL;
    const DiCaseRegion *r;

    g_assert_cmpuint (before->len, ==, 0);
    g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "restore-region"));
    gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.restore-region", NULL);
    restored = dup_stored_regions ();
    g_assert_cmpuint (restored->len, ==, 1);
    r = g_ptr_array_index (restored, 0);
    g_assert_cmpfloat (r->x, ==, forgotten.x);
    g_assert_cmpfloat (r->y, ==, forgotten.y);
    g_assert_cmpfloat (r->width, ==, forgotten.width);
    g_assert_cmpfloat (r->height, ==, forgotten.height);
    g_assert_cmpstr (r->label, ==, forgotten.label);
    g_assert_cmpuint (di_image_canvas_get_n_saved_regions (canvas), ==, 1);
    /* once only: the offer is gone with the banner */
    g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "restore-region"));
    g_assert_false (di_window_restore_region (fx.window));

    /* forget it again; another message ends the offer */
    g_assert_true (di_window_select_region (fx.window, (int)sx, (int)sy, (int)sw, (int)sh));
    g_assert_true (wait_for (region_classified, NULL, 60000));
    g_assert_true (di_window_forget_region (fx.window));
    g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "restore-region"));
    di_window_show_message (fx.window, FALSE, "something else");
    g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (fx.window), "restore-region"));
    g_assert_false (di_window_restore_region (fx.window));
    di_window_show_message (fx.window, FALSE, NULL);
    g_clear_pointer (&restored, g_ptr_array_unref);
    restored = dup_stored_regions ();
    g_assert_cmpuint (restored->len, ==, 0);
  }

  g_assert_true (di_window_select_region (fx.window, (int)sx, (int)sy, (int)sw, (int)sh));
  g_assert_true (wait_for (region_classified, NULL, 60000));
  g_clear_pointer (&after, g_ptr_array_unref);
  after = dup_stored_regions ();
  g_assert_cmpuint (after->len, ==, 1);
  assert_saved_regions_shown (after);
  di_window_show_whole_image (fx.window);
  wait_idle ();
}

static gboolean
scan_done (gpointer data)
{
  return !di_window_get_scan_running (fx.window) && window_idle (NULL);
}

static void
test_scan (void)
{
  DiImageCanvas *canvas = di_window_get_canvas (fx.window);
  DiSidePanel *panel = di_window_get_side_panel (fx.window);
  DiFieldScan *scan;
  cairo_surface_t *with, *without;
  g_autofree char *expected = NULL;
  int tx, ty, tw, th, tile;
  float probs[7];
  double diff;

  g_assert_true (item_named ("field.png"));
  g_assert_null (di_window_get_message (fx.window));

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.scan-field", NULL);
  g_assert_true (di_window_get_scan_running (fx.window));
  g_assert_nonnull (strstr (di_window_get_progress_text (fx.window), "of 70 tiles"));
  scan = di_window_get_field_scan (fx.window);
  g_assert_nonnull (scan);
  g_assert_true (di_image_canvas_get_field_scan (canvas) == scan);

  /* 512 x 384: window min(512, 384) / 4 = 96, stride 48; columns at 0, 48,
   * ..., 384 and one flush with the right edge (416): 10; rows at 0, 48,
   * ..., 288 (the last one ends at the edge): 7. */
  g_assert_cmpint (di_field_scan_get_window (scan), ==, 96);
  g_assert_cmpint (di_field_scan_get_stride (scan), ==, 48);
  g_assert_cmpuint (di_field_scan_get_n_columns (scan), ==, (FIELD_W - 96) / 48 + 1 + 1);
  g_assert_cmpuint (di_field_scan_get_n_rows (scan), ==, (FIELD_H - 96) / 48 + 1);
  g_assert_cmpuint (di_field_scan_get_n_tiles (scan), ==, 70);
  di_field_scan_get_tile (scan, 9, &tx, &ty, &tw, &th);
  g_assert_cmpint (tx, ==, FIELD_W - 96);
  g_assert_cmpint (tw, ==, 96);

  g_assert_true (wait_for (scan_done, NULL, 120000));
  g_assert_true (di_window_get_field_scan (fx.window) == scan);
  g_assert_true (di_field_scan_get_complete (scan));
  g_assert_true (di_field_scan_get_grouped (scan));
  g_assert_null (di_window_get_message (fx.window));

  /* Every tile's score is the P(abnormal) the engine gives its pixels. */
  for (guint i = 0; i < 70; i += 23)
    {
      double abnormal = 0;

      di_field_scan_get_tile (scan, i, &tx, &ty, &tw, &th);
      direct_probabilities (fx.field, tx, ty, tw, th, probs);
      for (int k = 0; k < 7; k++)
        if (k == 0 || k == 1 || k == 2 || k == 6)
          abnormal += probs[k];
      g_assert_cmpfloat_with_epsilon (di_field_scan_get_score (scan, i), abnormal, 1e-4);
    }

  /* 0 .. 1 → the "%.0f%%" of the caption. */
  expected = g_strdup_printf ("Field scan: 70 tiles, max P(abnormal) %.0f%%",
                              100 * di_field_scan_get_max_score (scan));
  g_assert_cmpstr (di_window_get_caption (fx.window), ==, expected);

  /* The per-tile overlay covers the whole field. */
  with = render_canvas ();
  press_overlay_key ();
  without = render_canvas ();
  diff = difference_in (with, without, 0, 0, FIELD_W, FIELD_H, 2);
  g_test_message ("field scan overlay changes %.1f%% of the field", 100 * diff);
  g_assert_cmpfloat (diff, >, 0.5);
  g_assert_null (di_window_get_caption (fx.window));
  press_overlay_key ();
  cairo_surface_destroy (with);
  cairo_surface_destroy (without);

  /* A click on a tile makes it the region. */
  tile = di_field_scan_tile_at (scan, 300, 200);
  g_assert_cmpint (tile, >=, 0);
  di_field_scan_get_tile (scan, tile, &tx, &ty, &tw, &th);
  g_assert_true (tx <= 300 && 300 < tx + tw && ty <= 200 && 200 < ty + th);
  g_signal_emit_by_name (canvas, "clicked", 300.0, 200.0);
  g_assert_nonnull (di_window_get_region (fx.window));
  g_assert_cmpint (di_region_get_x (di_window_get_region (fx.window)), ==, tx);
  g_assert_cmpint (di_region_get_y (di_window_get_region (fx.window)), ==, ty);
  g_assert_cmpint (di_region_get_width (di_window_get_region (fx.window)), ==, tw);
  g_assert_true (wait_for (region_classified, NULL, 60000));
  g_assert_nonnull (di_side_panel_get_region_text (panel));

  /* Escape steps back: the region, then the scan's overlay. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.whole-image", NULL);
  g_assert_null (di_window_get_region (fx.window));
  g_assert_true (di_window_get_field_scan (fx.window) == scan);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.whole-image", NULL);
  g_assert_null (di_window_get_field_scan (fx.window));
  g_assert_null (di_image_canvas_get_field_scan (canvas));

  /* The scan is kept with its image: scanning again shows it at once. */
  g_assert_true (di_window_scan_field (fx.window));
  g_assert_false (di_window_get_scan_running (fx.window));
  g_assert_true (di_window_get_field_scan (fx.window) == scan);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.whole-image", NULL);
  wait_idle ();
}

static gboolean
scan_started (gpointer data)
{
  DiFieldScan *scan = di_window_get_field_scan (fx.window);

  return scan != NULL && di_field_scan_get_n_done (scan) > 0;
}

static void
test_scan_cancel (void)
{
  DiFieldScan *scan;
  guint n;

  open_folder (fx.big_dir, "big.png");

  /* 2048 x 1536: window 384, stride 192: 10 x 7 tiles. */
  g_assert_true (di_window_scan_field (fx.window));
  scan = di_window_get_field_scan (fx.window);
  g_assert_cmpint (di_field_scan_get_window (scan), ==, 384);
  n = di_field_scan_get_n_tiles (scan);
  g_assert_cmpuint (n, ==, 70);
  g_assert_true (wait_for (scan_started, NULL, 60000));

  /* Cancel (the progress bar's button) stops it within a batch. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.cancel-batch", NULL);
  g_assert_true (wait_for (has_message, "cancelled", 30000));
  g_assert_false (di_window_get_scan_running (fx.window));
  g_assert_null (di_window_get_field_scan (fx.window));
  g_test_message ("%s", di_window_get_message (fx.window));
  wait_idle ();
  g_assert_false (di_window_get_scan_running (fx.window));

  /* The window still works: a region is classified... */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.dismiss-message", NULL);
  g_assert_true (di_window_select_region (fx.window, 800, 600, 400, 300));
  g_assert_true (wait_for (region_classified, NULL, 60000));

  /* ...and a new scan runs. Hidden, it goes on; shown again, it is the
   * same scan. Leaving the image cancels it, silently. */
  g_assert_true (di_window_scan_field (fx.window));
  g_assert_true (di_window_get_scan_running (fx.window));
  g_assert_null (di_window_get_region (fx.window));
  scan = di_window_get_field_scan (fx.window);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.whole-image", NULL);
  g_assert_null (di_window_get_field_scan (fx.window));
  g_assert_true (di_window_get_scan_running (fx.window));
  g_assert_true (di_window_scan_field (fx.window));
  g_assert_true (di_window_get_field_scan (fx.window) == scan);
  open_folder (fx.field_dir, "field.png");
  g_assert_false (di_window_get_scan_running (fx.window));
  g_assert_null (di_window_get_field_scan (fx.window));
  g_assert_null (di_window_get_message (fx.window));
}

/* ---- Setup ------------------------------------------------------------------------- */

static void
make_fixtures (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *big = NULL;

  fx.dir = g_dir_make_tmp ("deepinsight-field-XXXXXX", &error);
  g_assert_no_error (error);

  fx.model = di_fixture_make_model (fx.dir, DINET_ARCH_CBAM_RESNET50, INPUT_SIZE, 11, &error);
  g_assert_no_error (error);

  fx.field_dir = g_build_filename (fx.dir, "field", NULL);
  g_mkdir (fx.field_dir, 0755);
  fx.field = g_build_filename (fx.field_dir, "field.png", NULL);
  g_free (di_fixture_make_image (fx.field, FIELD_W, FIELD_H, 3, &error));
  g_assert_no_error (error);

  fx.big_dir = g_build_filename (fx.dir, "big", NULL);
  g_mkdir (fx.big_dir, 0755);
  big = g_build_filename (fx.big_dir, "big.png", NULL);
  g_free (di_fixture_make_image (big, 2048, 1536, 9, &error));
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

  g_test_add_func ("/field/region", test_region);
  g_test_add_func ("/field/saved-regions", test_saved_regions);
  g_test_add_func ("/field/scan", test_scan);
  g_test_add_func ("/field/scan-cancel", test_scan_cancel);

  ret = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fx.window));
  {
    gint64 end = g_get_monotonic_time () + 50000;

    while (g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE);
  }
  g_clear_object (&fx.app);
  di_fixture_remove_tree (fx.dir);

  return ret;
}
