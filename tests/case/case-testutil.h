/* case-testutil.h — the case tests' harness: CHECK macros, a closing line
 * "N passed, N failed", and test data (a random-weight model, synthetic
 * cell images) made by the tests themselves.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

extern int ct_passed, ct_failed;

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (cond) {                                                               \
      ct_passed++;                                                            \
    } else {                                                                  \
      ct_failed++;                                                            \
      fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
      fprintf (stderr, __VA_ARGS__);                                          \
      fputc ('\n', stderr);                                                   \
    }                                                                         \
  } while (0)

#define CHECK_NO_ERROR(error)                                                 \
  CHECK ((error) == NULL, "%s", (error) ? (error)->message : "")

/* Prints "N passed, N failed"; returns the exit status for main(). */
int        ct_finish          (void);
/* A fresh temporary folder, removed by ct_finish() unless KEEP_TMP is set. */
char      *ct_make_tmpdir     (const char  *name);
/* A random-weight CBAM-ResNet50 with the given classes and input size 64,
 * "abnormal" metadata from abnormal_json (nullable), non-flat Grad-CAM. */
char      *ct_make_model      (const char  *dir,
                               const char  *file_name,
                               const char * const *classes,
                               int          n_classes,
                               const char  *abnormal_json,
                               guint64      seed);
/* A synthetic stained cell as an RGB PNG. */
gboolean   ct_make_cell       (const char  *path,
                               int          width,
                               int          height,
                               guint64      seed);
/* Runs argv, returns its exit status (-1 if it did not run); stdout in
 * *out when not NULL. */
int        ct_run             (const char * const *argv,
                               char       **out);

G_END_DECLS
