/* test-engine.c — the engine bridge without a display: one job at a time,
 * interactive jobs ahead of batch slices, cancellation between layers,
 * errors as GErrors.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <dinet/dinet.h>

#include "di-engine.h"
#include "di-fixtures.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-model-info.h"
#include "di-prediction.h"

static struct
{
  char *dir;
  char *small_model;   /* CBAM, 64 px */
  char *plain_model;   /* ResNet-50, 64 px */
  char *big_model;     /* CBAM, 224 px: slow enough to cancel */
  char *images[3];
} fx;

typedef struct
{
  GAsyncResult *result;
} Wait;

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Wait *w = user_data;

  w->result = g_object_ref (result);
}

static GAsyncResult *
wait_result (Wait *w)
{
  while (w->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return w->result;
}

static DiEngine *
engine_with_model (const char *path)
{
  DiEngine *engine = di_engine_new ();
  Wait w = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(DiModelInfo) model = NULL;

  di_engine_set_threads (engine, 1);
  if (path != NULL)
    {
      di_engine_load_model_async (engine, path, NULL, store_result_cb, &w);
      model = di_engine_load_model_finish (engine, wait_result (&w), &error);
      g_assert_no_error (error);
      g_assert_nonnull (model);
      g_assert_true (di_engine_get_model_info (engine) == model);
      g_clear_object (&w.result);
    }
  return engine;
}

static DiImage *
load_image (DiEngine   *engine,
            const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  Wait w = { 0 };
  DiImage *image;

  di_engine_load_image_async (engine, file, NULL, store_result_cb, &w);
  image = di_engine_load_image_finish (engine, wait_result (&w), &error);
  g_assert_no_error (error);
  g_assert_nonnull (di_image_get_surface (image));
  g_clear_object (&w.result);
  return image;
}

static void
test_errors (void)
{
  g_autoptr(DiEngine) engine = engine_with_model (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiImage) image = load_image (engine, fx.images[0]);
  g_autofree char *bad = g_build_filename (fx.dir, "missing.safetensors", NULL);
  Wait w = { 0 };

  /* No model yet. */
  di_engine_classify_async (engine, image, NULL, store_result_cb, &w);
  g_assert_null (di_engine_classify_finish (engine, wait_result (&w), &error));
  g_assert_error (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL);
  g_clear_error (&error);
  g_clear_object (&w.result);

  /* A model that is not there. */
  di_engine_load_model_async (engine, bad, NULL, store_result_cb, &w);
  g_assert_null (di_engine_load_model_finish (engine, wait_result (&w), &error));
  g_assert_error (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_IO);
  g_assert_null (di_engine_get_model_info (engine));
  g_clear_error (&error);
  g_clear_object (&w.result);

  /* An image that is not there. */
  {
    g_autoptr(GFile) file = g_file_new_for_path (bad);

    di_engine_load_image_async (engine, file, NULL, store_result_cb, &w);
    g_assert_null (di_engine_load_image_finish (engine, wait_result (&w), &error));
    g_assert_error (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_IO);
    g_clear_error (&error);
    g_clear_object (&w.result);
  }

  /* CBAM attention of a model without CBAM. */
  {
    g_autoptr(DiEngine) plain = engine_with_model (fx.plain_model);

    g_assert_false (di_model_info_has_cbam (di_engine_get_model_info (plain)));
    di_engine_explain_async (plain, image, DI_EXPLAIN_CBAM, 4, -1, NULL, store_result_cb, &w);
    g_assert_null (di_engine_explain_finish (plain, wait_result (&w), NULL, &error));
    g_assert_error (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_INVALID);
    g_clear_object (&w.result);
  }
}

static void
test_explain (void)
{
  g_autoptr(DiEngine) engine = engine_with_model (fx.small_model);
  g_autoptr(DiImage) image = load_image (engine, fx.images[0]);
  g_autoptr(GError) error = NULL;
  g_autoptr(DiHeatmap) heatmap = NULL;
  g_autoptr(DiPrediction) prediction = NULL;
  Wait w = { 0 };

  di_engine_explain_async (engine, image, DI_EXPLAIN_GRADCAM, 3, 2, NULL, store_result_cb, &w);
  heatmap = di_engine_explain_finish (engine, wait_result (&w), &prediction, &error);
  g_assert_no_error (error);
  g_assert_nonnull (prediction);
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, 2);
  g_assert_cmpint (di_heatmap_get_stage (heatmap), ==, 3);
  /* layer3 of a 64 px input is 4 x 4. */
  g_assert_cmpint (di_heatmap_get_width (heatmap), ==, 4);
  g_assert_cmpint (di_heatmap_get_height (heatmap), ==, 4);
  g_clear_object (&w.result);
  g_clear_object (&heatmap);

  di_engine_explain_async (engine, image, DI_EXPLAIN_CBAM, 2, -1, NULL, store_result_cb, &w);
  heatmap = di_engine_explain_finish (engine, wait_result (&w), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (di_heatmap_get_method (heatmap), ==, DI_EXPLAIN_CBAM);
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, di_prediction_get_top (prediction));
  g_assert_cmpint (di_heatmap_get_width (heatmap), ==, 8);
  g_clear_object (&w.result);
}

/* A model that asks for 8-view TTA: classify and explain both give the
 * mean over the dihedral views, as dinet_predict_tta computes it. */
static void
test_tta (void)
{
  g_autofree char *sub = g_build_filename (fx.dir, "tta", NULL);
  g_autofree char *path = g_build_filename (sub, "tta.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (fx.small_model, &err);
  g_autoptr(DiEngine) engine = NULL;
  g_autoptr(DiImage) image = NULL;
  g_autoptr(DiPrediction) prediction = NULL;
  g_autoptr(DiPrediction) explained = NULL;
  g_autoptr(DiHeatmap) heatmap = NULL;
  g_autofree float *x = NULL;
  g_autofree float *logp = NULL;
  g_autofree float *logits = NULL;
  double single_diff = 0;
  int view_top[8];
  int S, K;
  Wait w = { 0 };

  g_assert_nonnull (net);
  g_mkdir (sub, 0755);
  g_assert_cmpint (dinet_net_set_meta (net, DINET_META_TTA, DINET_TTA_DIHEDRAL8, &err), ==, 0);
  g_assert_cmpint (dinet_net_save (net, path, DINET_DTYPE_F32, &err), ==, 0);

  engine = engine_with_model (path);
  g_assert_cmpint (di_model_info_get_views (di_engine_get_model_info (engine)), ==, 8);
  image = load_image (engine, fx.images[2]);
  di_engine_classify_async (engine, image, NULL, store_result_cb, &w);
  prediction = di_engine_classify_finish (engine, wait_result (&w), &error);
  g_assert_no_error (error);
  g_clear_object (&w.result);

  /* The reference, computed here from the same pixels. */
  S = dinet_net_input_size (net);
  K = dinet_net_num_classes (net);
  x = g_new (float, 3 * S * S);
  logp = g_new (float, K);
  logits = g_new (float, K);
  g_assert_cmpint (dinet_net_preprocess (net, di_image_get_pixels (image), x, &err), ==, 0);
  g_assert_cmpint (dinet_predict_tta (net, x, 1, S, S, logp, view_top, &err), ==, 0);
  /* the prediction keeps each view's top class, as the engine computed them */
  g_assert_cmpint (di_prediction_get_n_views (prediction), ==, 8);
  for (int d = 0; d < 8; d++)
    g_assert_cmpint (di_prediction_get_view_top (prediction, d), ==, view_top[d]);
  g_assert_cmpint (di_prediction_get_views_agreeing (prediction), ==,
                   dinet_views_agreeing (view_top, 8, di_prediction_get_top (prediction)));
  g_assert_cmpint (dinet_net_forward (net, x, 1, S, S, logits, &err), ==, 0);
  {
    g_autoptr(DiPrediction) want = di_prediction_new (di_engine_get_model_info (engine), logp);
    g_autoptr(DiPrediction) single = di_prediction_new (di_engine_get_model_info (engine), logits);

    for (int k = 0; k < K; k++)
      {
        g_assert_cmpfloat_with_epsilon (di_prediction_get_probability (prediction, k),
                                        di_prediction_get_probability (want, k), 1e-5);
        single_diff = MAX (single_diff, fabs (di_prediction_get_probability (single, k) -
                                              di_prediction_get_probability (want, k)));
      }
  }
  /* ...which is not what one view gives (else this test proves nothing). */
  g_assert_cmpfloat (single_diff, >, 1e-4);

  /* Explaining gives the same prediction, and maps its class. */
  di_engine_explain_async (engine, image, DI_EXPLAIN_GRADCAM, 4, -1, NULL, store_result_cb, &w);
  heatmap = di_engine_explain_finish (engine, wait_result (&w), &explained, &error);
  g_assert_no_error (error);
  g_clear_object (&w.result);
  for (int k = 0; k < K; k++)
    g_assert_cmpfloat_with_epsilon (di_prediction_get_probability (explained, k),
                                    di_prediction_get_probability (prediction, k), 1e-6);
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, di_prediction_get_top (prediction));
  g_clear_object (&heatmap);

  /* CBAM attention is labelled with that prediction too. */
  di_engine_explain_async (engine, image, DI_EXPLAIN_CBAM, 4, -1, NULL, store_result_cb, &w);
  heatmap = di_engine_explain_finish (engine, wait_result (&w), NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&w.result);
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, di_prediction_get_top (prediction));

  dinet_net_free (net);
}

typedef struct
{
  GString *order;
  gboolean done;
} Order;

static void
batch_item_cb (DiEngine     *engine,
               guint         index,
               GFile        *file,
               GBytes       *thumbnail,
               int           thumb_width,
               int           thumb_height,
               DiPrediction *prediction,
               const GError *error,
               gpointer      user_data)
{
  Order *o = user_data;

  g_assert_no_error (error);
  g_assert_nonnull (thumbnail);
  g_assert_cmpint (MAX (thumb_width, thumb_height), ==, 32);
  g_assert_nonnull (prediction);
  g_string_append_printf (o->order, "b%u ", index);
}

static void
batch_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Order *o = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (di_engine_classify_files_finish (DI_ENGINE (object), result, &error));
  g_assert_no_error (error);
  g_string_append (o->order, "B ");
  o->done = TRUE;
}

static void
classify_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Order *o = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(DiPrediction) prediction = di_engine_classify_finish (DI_ENGINE (object), result, &error);

  g_assert_no_error (error);
  g_string_append (o->order, "c ");
}

static void
test_interactive_first (void)
{
  g_autoptr(DiEngine) engine = engine_with_model (fx.small_model);
  g_autoptr(DiImage) image = load_image (engine, fx.images[1]);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  Order o = { g_string_new (NULL), FALSE };

  for (guint i = 0; i < G_N_ELEMENTS (fx.images); i++)
    g_ptr_array_add (files, g_file_new_for_path (fx.images[i]));

  /* The batch starts first; the click on an image comes just after. */
  di_engine_classify_files_async (engine, (GFile **)files->pdata, files->len, 32, TRUE,
                                  batch_item_cb, &o, NULL, NULL, batch_done_cb, &o);
  g_assert_true (di_engine_get_busy (engine));
  di_engine_classify_async (engine, image, NULL, classify_done_cb, &o);

  while (!o.done)
    g_main_context_iteration (NULL, TRUE);
  while (di_engine_get_busy (engine))
    g_main_context_iteration (NULL, TRUE);

  /* The single image waited for one slice at most. */
  g_assert_cmpstr (o.order->str, ==, "b0 c b1 b2 B ");
  g_string_free (o.order, TRUE);
}

static void
test_cancel_between_layers (void)
{
  g_autoptr(DiEngine) engine = engine_with_model (fx.big_model);
  g_autoptr(DiImage) image = load_image (engine, fx.images[0]);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(DiHeatmap) heatmap = NULL;
  Wait w = { 0 };
  gint64 start, full, cancelled;

  /* A whole Grad-CAM at 224 px... */
  start = g_get_monotonic_time ();
  di_engine_explain_async (engine, image, DI_EXPLAIN_GRADCAM, 4, -1, NULL, store_result_cb, &w);
  heatmap = di_engine_explain_finish (engine, wait_result (&w), NULL, &error);
  full = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_clear_object (&w.result);

  /* ...and one cancelled shortly after it started. */
  start = g_get_monotonic_time ();
  di_engine_explain_async (engine, image, DI_EXPLAIN_GRADCAM, 4, -1, cancellable, store_result_cb, &w);
  g_usleep (MIN (full / 10, 50000));
  g_cancellable_cancel (cancellable);
  g_assert_null (di_engine_explain_finish (engine, wait_result (&w), NULL, &error));
  cancelled = g_get_monotonic_time () - start;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&w.result);

  g_test_message ("Grad-CAM at 224 px: %.0f ms; cancelled: %.0f ms", full / 1000.0, cancelled / 1000.0);
  g_assert_cmpint (cancelled, <, full / 2 + 20000);

  /* The engine is fine afterwards. */
  g_clear_error (&error);
  di_engine_classify_async (engine, image, NULL, store_result_cb, &w);
  {
    g_autoptr(DiPrediction) prediction = di_engine_classify_finish (engine, wait_result (&w), &error);

    g_assert_no_error (error);
    g_assert_nonnull (prediction);
  }
  g_clear_object (&w.result);
}

/* A model that records its training images' side warns about images far
 * from it; one that does not, never. */
static void
test_size_notice (void)
{
  dinet_error err = {0};
  dinet_net *net = dinet_net_load (fx.small_model, &err);
  g_autoptr(DiModelInfo) plain = NULL;
  g_autoptr(DiModelInfo) cells = NULL;
  g_autofree char *big = NULL;
  g_autofree char *small = NULL;
  g_autofree char *none = NULL;
  g_autofree char *ok = NULL;

  g_assert_nonnull (net);
  plain = _di_model_info_new_from_net (fx.small_model, net, NULL);
  g_assert_cmpint (di_model_info_get_image_side (plain), ==, 0);
  none = di_model_info_dup_size_notice (plain, "x.png", 4000, 3000);
  g_assert_null (none);

  dinet_net_set_meta (net, DINET_META_IMAGE_SIDE, "224", NULL);
  cells = _di_model_info_new_from_net (fx.small_model, net, NULL);
  dinet_net_free (net);
  g_assert_cmpint (di_model_info_get_image_side (cells), ==, 224);
  big = di_model_info_dup_size_notice (cells, "field.jpg", 2048, 1536);
  small = di_model_info_dup_size_notice (cells, "crop.png", 100, 90);
  ok = di_model_info_dup_size_notice (cells, "cell.jpg", 200, 448);  /* shorter side 200 */
  g_assert_nonnull (big);
  g_assert_nonnull (strstr (big, "2048 × 1536"));
  g_assert_nonnull (strstr (big, "larger"));
  g_assert_nonnull (small);
  g_assert_nonnull (strstr (small, "smaller"));
  g_assert_null (ok);

  /* a field model (512 px fields): a full-size field is fine, a cell is not */
  {
    dinet_net *fnet = dinet_net_load (fx.small_model, &err);
    g_autoptr(DiModelInfo) fields = NULL;
    g_autofree char *full = NULL;
    g_autofree char *cell = NULL;

    g_assert_nonnull (fnet);
    dinet_net_set_meta (fnet, DINET_META_IMAGE_SIDE, "512", NULL);
    fields = _di_model_info_new_from_net (fx.small_model, fnet, NULL);
    dinet_net_free (fnet);
    full = di_model_info_dup_size_notice (fields, "field.jpg", 2048, 1536);
    cell = di_model_info_dup_size_notice (fields, "cell.jpg", 224, 224);
    g_assert_null (full);
    g_assert_nonnull (cell);
  }
}

/* The screening flag: P(abnormal), the abnormal classes added up, at least
 * 50 %, whatever the top class is. */
static void
test_suspicious (void)
{
  const char *classes[] = { "normal", "grade_a", "grade_b", NULL };
  const int grouped[] = { 0, 1, 1 };
  /* log-probabilities, so softmax at temperature 1 gives them back */
  const float split[] = { logf (0.40f), logf (0.35f), logf (0.25f) };
  const float normal[] = { logf (0.70f), logf (0.20f), logf (0.10f) };
  g_autoptr(DiModelInfo) model = _di_model_info_new_from_record ("0", "m", classes, grouped, 1.0);
  g_autoptr(DiModelInfo) plain = _di_model_info_new_from_record ("1", "p", classes, NULL, 1.0);
  g_autoptr(DiPrediction) a = di_prediction_new (model, split);
  g_autoptr(DiPrediction) b = di_prediction_new (model, normal);
  g_autoptr(DiPrediction) c = di_prediction_new (plain, split);

  /* top class normal, but 60 % abnormal over two grades */
  g_assert_cmpint (di_prediction_get_top (a), ==, 0);
  g_assert_cmpfloat_with_epsilon (di_prediction_get_abnormal (a), 0.60, 1e-5);
  g_assert_true (di_prediction_get_suspicious (a));
  g_assert_cmpfloat_with_epsilon (di_prediction_get_abnormal (b), 0.30, 1e-5);
  g_assert_false (di_prediction_get_suspicious (b));
  /* no grouping: never suspicious */
  g_assert_cmpfloat (di_prediction_get_abnormal (c), <, 0);
  g_assert_false (di_prediction_get_suspicious (c));
}

/* A model is read once: its SHA-256 is that of the bytes loaded; a file
 * that is not there is an I/O error, one that is no model the engine's. */
static void
test_model_load_file (void)
{
  g_autofree char *sha = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *want = NULL;
  g_autofree char *cut = g_build_filename (fx.dir, "cut.safetensors", NULL);
  g_autofree char *missing = g_build_filename (fx.dir, "missing.safetensors", NULL);
  g_autoptr(GError) io_error = NULL;
  dinet_error err = {0};
  gsize len = 0;
  dinet_net *net;

  g_assert_true (g_file_get_contents (fx.small_model, &bytes, &len, NULL));
  want = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)bytes, len);
  net = di_model_load_file (fx.small_model, &sha, &io_error, &err);
  g_assert_no_error (io_error);
  g_assert_nonnull (net);
  g_assert_cmpstr (sha, ==, want);
  g_assert_cmpint (dinet_net_num_classes (net), >, 1);
  dinet_net_free (net);
  g_clear_pointer (&sha, g_free);

  g_assert_true (g_file_set_contents (cut, bytes, (gssize)(len / 2), NULL));
  net = di_model_load_file (cut, &sha, &io_error, &err);
  g_assert_null (net);
  g_assert_no_error (io_error);
  g_assert_cmpint (err.code, !=, 0);
  g_assert_null (sha);

  net = di_model_load_file (missing, &sha, &io_error, &err);
  g_assert_null (net);
  g_assert_nonnull (io_error);
  g_assert_null (sha);
}

/* How the views voted, in words: all agree, a split with the others
 * counted, none for one view or views not known. */
static void
test_views_text (void)
{
  const char *classes[] = { "normal", "grade_a", "grade_b", NULL };
  const float split[] = { logf (0.40f), logf (0.35f), logf (0.25f) };
  const int all[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
  const int some[8] = { 0, 2, 0, 1, 0, 2, 0, -1 };
  g_autoptr(DiModelInfo) model = _di_model_info_new_from_record ("0", "m", classes, NULL, 1.0);
  g_autoptr(DiPrediction) agree = di_prediction_new_with_views (model, split, 8, all);
  g_autoptr(DiPrediction) disagree = di_prediction_new_with_views (model, split, 8, some);
  g_autoptr(DiPrediction) one = di_prediction_new_with_views (model, split, 1, all);
  g_autoptr(DiPrediction) unknown = di_prediction_new (model, split);
  g_autofree char *a = di_prediction_dup_views_text (agree);
  g_autofree char *d = di_prediction_dup_views_text (disagree);

  g_assert_cmpstr (a, ==, "All 8 views agree");
  g_assert_cmpstr (d, ==, "Views disagree: 4 of 8 put it first; the others: grade_a (1), grade_b (2), unknown (1)");
  g_assert_cmpint (di_prediction_get_views_agreeing (disagree), ==, 4);
  g_assert_cmpint (di_prediction_get_view_top (disagree, 1), ==, 2);
  /* the mean's class is no single view's first */
  {
    const int none[8] = { 1, 1, 2, 2, 1, 2, 1, 1 };
    g_autoptr(DiPrediction) nobody = di_prediction_new_with_views (model, split, 8, none);
    g_autofree char *n = di_prediction_dup_views_text (nobody);

    g_assert_cmpstr (n, ==, "Views disagree: none puts it first; the views: grade_a (5), grade_b (3)");
  }
  /* a tie: no majority for the mean's class */
  {
    const int tie[8] = { 0, 1, 0, 1, 0, 1, 0, 1 };
    g_autoptr(DiPrediction) tied = di_prediction_new_with_views (model, split, 8, tie);
    g_autofree char *t = di_prediction_dup_views_text (tied);

    g_assert_cmpstr (t, ==, "Views disagree, no majority: 4 of 8 put it first; the others: grade_a (4)");
  }
  g_assert_null (di_prediction_dup_views_text (one));
  g_assert_null (di_prediction_dup_views_text (unknown));
  g_assert_cmpint (di_prediction_get_n_views (unknown), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  fx.dir = g_dir_make_tmp ("deepinsight-engine-XXXXXX", &error);
  g_assert_no_error (error);
  fx.small_model = di_fixture_make_model (fx.dir, DINET_ARCH_CBAM_RESNET50, 64, 3, &error);
  g_assert_no_error (error);
  fx.plain_model = di_fixture_make_model (fx.dir, DINET_ARCH_RESNET50, 64, 4, &error);
  g_assert_no_error (error);
  {
    g_autofree char *sub = g_build_filename (fx.dir, "big", NULL);

    g_mkdir (sub, 0755);
    fx.big_model = di_fixture_make_model (sub, DINET_ARCH_CBAM_RESNET50, 224, 5, &error);
    g_assert_no_error (error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (fx.images); i++)
    {
      g_autofree char *name = g_strdup_printf ("img-%u.png", i);
      g_autofree char *path = g_build_filename (fx.dir, name, NULL);

      fx.images[i] = di_fixture_make_image (path, 120, 100, 40 + i, &error);
      g_assert_no_error (error);
    }

  g_test_add_func ("/engine/suspicious", test_suspicious);
  g_test_add_func ("/engine/views-text", test_views_text);
  g_test_add_func ("/engine/model-load-file", test_model_load_file);
  g_test_add_func ("/engine/size-notice", test_size_notice);
  g_test_add_func ("/engine/errors", test_errors);
  g_test_add_func ("/engine/explain", test_explain);
  g_test_add_func ("/engine/tta", test_tta);
  g_test_add_func ("/engine/interactive-first", test_interactive_first);
  g_test_add_func ("/engine/cancel-between-layers", test_cancel_between_layers);

  ret = g_test_run ();

  di_fixture_remove_tree (fx.dir);

  return ret;
}
