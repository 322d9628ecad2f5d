/* di-case-sample.c — makes a sample case with a random-weight model
 * (classes NILM, LSIL, HSIL, SCC), a few reviews, and its PDF report:
 *
 *   di-case-sample DIR
 *
 * writes DIR/sample.dicase, DIR/sample-report.pdf and friends. For the
 * README's screenshot (pdftoppm -f 3 -l 3 -r 110 -png ...); not a test.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <locale.h>

#include <glib/gstdio.h>

#include "case-testutil.h"
#include "di-batch.h"
#include "di-case.h"

int
main (int   argc,
      char *argv[])
{
  const char * const classes[] = { "NILM", "LSIL", "HSIL", "SCC" };
  g_autofree char *imgdir = NULL;
  g_autofree char *model = NULL;
  g_autofree char *case_path = NULL;
  g_autofree char *pdf = NULL;
  g_autoptr(DiCase) kase = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  int rc;

  setlocale (LC_ALL, "");
  if (argc != 2)
    {
      g_printerr ("usage: di-case-sample DIR\n");
      return 2;
    }
  imgdir = g_build_filename (argv[1], "slide-07", NULL);
  case_path = g_build_filename (argv[1], "sample.dicase", NULL);
  pdf = g_build_filename (argv[1], "sample-report.pdf", NULL);
  g_mkdir_with_parents (imgdir, 0755);

  model = ct_make_model (argv[1], "lbc-demo.safetensors", classes, 4, "[\"LSIL\",\"HSIL\",\"SCC\"]", 3);
  for (int i = 0; i < 7; i++)
    {
      g_autofree char *name = g_strdup_printf ("cell-%03d.png", 17 * i + 4);
      g_autofree char *path = g_build_filename (imgdir, name, NULL);

      ct_make_cell (path, 160 + 12 * i, 140, 500 + i);
    }

  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", model, "--quiet", imgdir, NULL };
    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
    if (rc != 0)
      return rc;
  }

  kase = di_case_open (case_path, &error);
  if (kase == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  images = di_case_dup_images (kase);
  di_case_relabel (kase, ((DiCaseImage *)images->pdata[0])->id, "LSIL",
                   "Koilocytes at the edge; nucleus mildly enlarged.", "M. Rossi, CT(ASCP)", NULL);
  di_case_relabel (kase, ((DiCaseImage *)images->pdata[1])->id, "NILM", NULL, "M. Rossi, CT(ASCP)", NULL);
  di_case_relabel (kase, ((DiCaseImage *)images->pdata[2])->id, ((DiCaseImage *)images->pdata[2])->predicted,
                   "Agree.", "M. Rossi, CT(ASCP)", NULL);
  di_case_relabel (kase, ((DiCaseImage *)images->pdata[3])->id, "HSIL",
                   "High N/C ratio, coarse chromatin. Refer for colposcopy per protocol.", "M. Rossi, CT(ASCP)", NULL);
  g_clear_object (&kase);

  {
    const char *args[] = { "deepinsight", "--no-window", "--case", case_path, "--model", model, "--quiet",
                           "--reviewer", "M. Rossi, CT(ASCP)", "--export-report", pdf, NULL };
    rc = di_batch_run (G_N_ELEMENTS (args) - 1, (char **)args);
  }
  return rc;
}
