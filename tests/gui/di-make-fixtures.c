/* di-make-fixtures.c — writes demo data for screenshots and manual tests:
 *   di-make-fixtures DIR [N [WIDTH HEIGHT [INPUT_SIZE]]]
 * makes DIR/cbam-random.safetensors, DIR/resnet50-random.safetensors and
 * DIR/cells/cell-000.png ... (synthetic cells; no real patient data).
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include <glib/gstdio.h>

#include "di-fixtures.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cells = NULL;
  g_autofree char *model = NULL;
  g_autofree char *plain = NULL;
  g_autoptr(GPtrArray) images = NULL;
  guint n = argc > 2 ? (guint)atoi (argv[2]) : 24;
  int w = argc > 4 ? atoi (argv[3]) : 224;
  int h = argc > 4 ? atoi (argv[4]) : 224;
  int input_size = argc > 5 ? atoi (argv[5]) : 224;

  if (argc < 2)
    {
      g_printerr ("usage: %s DIR [N [WIDTH HEIGHT [INPUT_SIZE]]]\n", argv[0]);
      return 2;
    }

  cells = g_build_filename (argv[1], "cells", NULL);
  g_mkdir_with_parents (cells, 0755);

  if (!(model = di_fixture_make_model (argv[1], DINET_ARCH_CBAM_RESNET50, input_size, 7, &error)) ||
      !(plain = di_fixture_make_model (argv[1], DINET_ARCH_RESNET50, input_size, 8, &error)) ||
      !(images = di_fixture_make_images (cells, n, w, h, 1000, &error)))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  g_print ("%s\n%s\n%s (%u images)\n", model, plain, cells, images->len);
  return 0;
}
