/* test-heatmap.c — the overlay drawing function: colormap tables,
 * normalisation, "no evidence" detection, bilinear upsampling, the cached
 * raster, opacity and the legend. Needs no display.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "di-heatmap.h"

static void
get_pixel (cairo_surface_t *surface,
           int              x,
           int              y,
           guint8          *r,
           guint8          *g,
           guint8          *b)
{
  guint32 p;

  cairo_surface_flush (surface);
  p = *(guint32 *)(gpointer)(cairo_image_surface_get_data (surface) +
                             y * cairo_image_surface_get_stride (surface) + 4 * x);
  *r = (p >> 16) & 0xff;
  *g = (p >> 8) & 0xff;
  *b = p & 0xff;
}

static void
test_lut_endpoints (void)
{
  /* Published end colours: viridis #440154 .. #fde725, inferno #000004 ..
   * #fcffa4, turbo (48,18,59) .. (122,4,3), MATLAB jet(256) (0,0,0.5156)
   * .. (0.5,0,0). The viewer uses the engine's tables. */
  static const struct { DiColormap map; guint8 first[3]; guint8 last[3]; } expect[] = {
    { DI_COLORMAP_VIRIDIS, { 68, 1, 84 }, { 253, 231, 37 } },
    { DI_COLORMAP_INFERNO, { 0, 0, 4 }, { 252, 255, 164 } },
    { DI_COLORMAP_TURBO, { 48, 18, 59 }, { 122, 4, 3 } },
    { DI_COLORMAP_JET, { 0, 0, 131 }, { 128, 0, 0 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      const guint8 *lut = di_colormap_lut (expect[i].map);

      g_assert_cmpmem (lut, 3, expect[i].first, 3);
      g_assert_cmpmem (lut + 255 * 3, 3, expect[i].last, 3);
    }

  /* Spot checks in the middle: viridis #21918c at 128, jet's green peak. */
  {
    const guint8 *v = di_colormap_lut (DI_COLORMAP_VIRIDIS) + 128 * 3;
    const guint8 *j = di_colormap_lut (DI_COLORMAP_JET) + 128 * 3;

    g_assert_cmpint (v[0], ==, 0x21);
    g_assert_cmpint (v[1], ==, 0x91);
    g_assert_cmpint (v[2], ==, 0x8c);
    g_assert_cmpint (j[1], ==, 255);
  }

  /* Viridis and inferno are monotonic in lightness: check the sum rises
   * overall from one end to the other. */
  for (guint m = 0; m < 2; m++)
    {
      const guint8 *lut = di_colormap_lut (m == 0 ? DI_COLORMAP_VIRIDIS : DI_COLORMAP_INFERNO);

      g_assert_cmpint (lut[0] + lut[1] + lut[2], <, lut[765] + lut[766] + lut[767]);
    }
}

static void
test_normalize (void)
{
  const float values[4] = { 0, 1, 2, 4 };
  const float zeros[4] = { 0, 0, 0, 0 };
  const float negative[4] = { -3, -2, -1, -0.5f };
  const float flat[4] = { 2, 2, 2, 2 };
  const float nan_map[4] = { 1, NAN, 2, 3 };
  float out[4];

  g_assert_true (di_heatmap_normalize (values, 4, out));
  g_assert_cmpfloat (out[0], ==, 0);
  g_assert_cmpfloat (out[3], ==, 1);
  g_assert_cmpfloat_with_epsilon (out[2], 0.5, 1e-6);

  g_assert_false (di_heatmap_normalize (zeros, 4, out));
  g_assert_false (di_heatmap_normalize (negative, 4, out));
  g_assert_false (di_heatmap_normalize (flat, 4, out));
  g_assert_false (di_heatmap_normalize (nan_map, 4, out));
  g_assert_cmpfloat (out[1], ==, 0);
}

static void
test_no_evidence (void)
{
  const float zeros[9] = { 0 };
  g_autoptr(DiHeatmap) heatmap = di_heatmap_new (zeros, 3, 3, DI_EXPLAIN_GRADCAM, 4, 2);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 30, 30);
  cairo_t *cr = cairo_create (surface);
  guint8 r, g, b;

  g_assert_false (di_heatmap_has_evidence (heatmap));
  g_assert_cmpint (di_heatmap_get_target (heatmap), ==, 2);
  g_assert_cmpfloat (di_heatmap_sample (heatmap, 0.5, 0.5), ==, -1);

  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_paint (cr);
  di_heatmap_draw (heatmap, cr, 0, 0, 30, 30, 0, 0, DI_COLORMAP_JET, 1.0, FALSE);
  get_pixel (surface, 15, 15, &r, &g, &b);
  g_assert_cmpint (r + g + b, ==, 0);
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, 0);

  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

static void
test_bilinear (void)
{
  /* 2 x 1 map: left 0, right 1. Upsampled to 8 x 1 with half-pixel
   * centres, values go 0, 0, 0.125 ... 0.875, 1, 1 (clamped at the ends). */
  const float map[2] = { 0, 1 };
  float norm[2];
  cairo_surface_t *raster;
  const guint8 *lut = di_colormap_lut (DI_COLORMAP_VIRIDIS);
  guint8 r, g, b;

  g_assert_true (di_heatmap_normalize (map, 2, norm));
  raster = di_heatmap_render_raster (norm, 2, 1, 8, 1, DI_COLORMAP_VIRIDIS);
  g_assert_cmpint (cairo_image_surface_get_width (raster), ==, 8);

  get_pixel (raster, 0, 0, &r, &g, &b);
  g_assert_cmpint (r, ==, lut[0]);
  g_assert_cmpint (g, ==, lut[1]);
  g_assert_cmpint (b, ==, lut[2]);

  get_pixel (raster, 7, 0, &r, &g, &b);
  g_assert_cmpint (r, ==, lut[765]);
  g_assert_cmpint (b, ==, lut[767]);

  /* x = 3: map x = (3.5 * 2 / 8) - 0.5 = 0.375 -> 0.375 * 255 = 95.6 -> 96 */
  get_pixel (raster, 3, 0, &r, &g, &b);
  g_assert_cmpint (r, ==, lut[96 * 3]);
  g_assert_cmpint (g, ==, lut[96 * 3 + 1]);
  g_assert_cmpint (b, ==, lut[96 * 3 + 2]);

  cairo_surface_destroy (raster);

  /* The object's sampler agrees at the centre. */
  {
    g_autoptr(DiHeatmap) heatmap = di_heatmap_new (map, 2, 1, DI_EXPLAIN_GRADCAM, 4, 0);

    g_assert_true (di_heatmap_has_evidence (heatmap));
    g_assert_cmpfloat_with_epsilon (di_heatmap_sample (heatmap, 0.5, 0.5), 0.5, 1e-6);
    g_assert_cmpfloat_with_epsilon (di_heatmap_sample (heatmap, 0.0, 0.5), 0.0, 1e-6);
  }
}

static void
test_draw_cache_and_opacity (void)
{
  const float map[4] = { 0, 1, 2, 3 };
  g_autoptr(DiHeatmap) heatmap = di_heatmap_new (map, 2, 2, DI_EXPLAIN_GRADCAM, 4, 0);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 64, 64);
  cairo_t *cr = cairo_create (surface);
  const guint8 *jet = di_colormap_lut (DI_COLORMAP_JET);
  guint8 r, g, b, r2, g2, b2;

  /* Opaque: the bottom-right corner is the top of the colormap. */
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_paint (cr);
  di_heatmap_draw (heatmap, cr, 0, 0, 64, 64, 32, 32, DI_COLORMAP_JET, 1.0, FALSE);
  get_pixel (surface, 63, 63, &r, &g, &b);
  g_assert_cmpint (abs (r - jet[765]), <=, 2);
  g_assert_cmpint (abs (g - jet[766]), <=, 2);
  g_assert_cmpint (abs (b - jet[767]), <=, 2);
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, 1);

  /* Drawn again, zoomed elsewhere: no rebuild. */
  di_heatmap_draw (heatmap, cr, 10, 10, 20, 20, 32, 32, DI_COLORMAP_JET, 1.0, TRUE);
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, 1);

  /* A new colormap rebuilds once. */
  di_heatmap_draw (heatmap, cr, 0, 0, 64, 64, 32, 32, DI_COLORMAP_VIRIDIS, 1.0, FALSE);
  di_heatmap_draw (heatmap, cr, 0, 0, 64, 64, 32, 32, DI_COLORMAP_VIRIDIS, 1.0, FALSE);
  g_assert_cmpuint (di_heatmap_get_raster_builds (heatmap), ==, 2);

  /* Half opacity over white is halfway between white and the colour. */
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  di_heatmap_draw (heatmap, cr, 0, 0, 64, 64, 32, 32, DI_COLORMAP_VIRIDIS, 0.5, FALSE);
  get_pixel (surface, 0, 0, &r2, &g2, &b2);
  {
    const guint8 *v = di_colormap_lut (DI_COLORMAP_VIRIDIS);

    g_assert_cmpint (abs (r2 - (255 + v[0]) / 2), <=, 2);
    g_assert_cmpint (abs (g2 - (255 + v[1]) / 2), <=, 2);
    g_assert_cmpint (abs (b2 - (255 + v[2]) / 2), <=, 2);
  }

  /* Opacity 0 draws nothing. */
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  di_heatmap_draw (heatmap, cr, 0, 0, 64, 64, 32, 32, DI_COLORMAP_VIRIDIS, 0.0, FALSE);
  get_pixel (surface, 0, 0, &r2, &g2, &b2);
  g_assert_cmpint (r2 + g2 + b2, ==, 3 * 255);

  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

static void
test_legend (void)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 256, 40);
  cairo_t *cr = cairo_create (surface);
  const guint8 *turbo = di_colormap_lut (DI_COLORMAP_TURBO);
  guint8 r, g, b;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0, 0, 0);
  di_heatmap_draw_legend (cr, DI_COLORMAP_TURBO, 0, 0, 256, 40);

  /* The bar's middle shows the middle of the table. */
  get_pixel (surface, 128, 4, &r, &g, &b);
  g_assert_cmpint (abs (r - turbo[128 * 3]), <=, 4);
  g_assert_cmpint (abs (g - turbo[128 * 3 + 1]), <=, 4);
  g_assert_cmpint (abs (b - turbo[128 * 3 + 2]), <=, 4);

  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/heatmap/lut-endpoints", test_lut_endpoints);
  g_test_add_func ("/heatmap/normalize", test_normalize);
  g_test_add_func ("/heatmap/no-evidence", test_no_evidence);
  g_test_add_func ("/heatmap/bilinear", test_bilinear);
  g_test_add_func ("/heatmap/draw-cache-opacity", test_draw_cache_and_opacity);
  g_test_add_func ("/heatmap/legend", test_legend);

  return g_test_run ();
}
