/* main.c — deepinsight [--model PATH] [--case CASE] [IMAGE|FOLDER…]
 *          deepinsight --no-window --case CASE … (di-batch.c)
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "deepinsight"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "di-application.h"
#include "di-batch.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(DiApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Headless: no GtkApplication, no display. */
  if (di_batch_wanted (argc, argv))
    return di_batch_run (argc, argv);

  app = di_application_new (G_APPLICATION_DEFAULT_FLAGS);

  return g_application_run (G_APPLICATION (app), argc, argv);
}
