/* test-case-crash.c — crash safety of the case file.
 *
 * A child process relabels (and now and then undoes or redoes) as fast as
 * it can through di_case_relabel()/di_case_undo()/di_case_redo(), and
 * writes "ACK ..." to a pipe after each call returns, i.e. after each row
 * is durable. The parent SIGKILLs it at random moments (seeded), reopens
 * the case, checks PRAGMA integrity_check and that every acknowledged row
 * is there, and starts the next child. CASE_CRASH_KILLS (default 30) and
 * CASE_CRASH_SEED (default 20250101) change the run.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "case-testutil.h"
#include "di-case.h"

#define N_IMAGES 4

static const char * const labels[] = { "a", "b", "c" };

static G_NORETURN void
child_main (const char *path,
            int         round,
            int         fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DiCase) kase = di_case_open (path, &error);
  g_autoptr(GPtrArray) images = NULL;

  if (kase == NULL)
    {
      fprintf (stderr, "child: %s\n", error->message);
      _exit (2);
    }
  images = di_case_dup_images (kase);
  if (images->len != N_IMAGES)
    _exit (3);

  for (int i = 0; ; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, (guint)(i + round) % N_IMAGES);
      g_autofree char *tag = g_strdup_printf ("k%d-%d", round, i);
      char line[64];
      int len;

      if (i % 7 == 6 || i % 11 == 10)
        {
          gboolean redo = i % 11 == 10;
          gboolean ok = redo ? di_case_redo (kase, tag, NULL, &error)
                             : di_case_undo (kase, tag, NULL, &error);

          if (!ok)
            {
              /* Nothing to undo or redo is fine; anything else is not. */
              if (!g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_REDO) &&
                  !g_error_matches (error, DI_CASE_ERROR, DI_CASE_ERROR_NOTHING_TO_UNDO))
                {
                  fprintf (stderr, "child: %s\n", error->message);
                  _exit (4);
                }
              g_clear_error (&error);
              continue;
            }
          len = g_snprintf (line, sizeof line, "ACK %c %s\n", redo ? 'R' : 'U', tag);
        }
      else
        {
          if (!di_case_relabel (kase, image->id, labels[(i * 7 + round) % 3], tag, "crash-test", &error))
            {
              fprintf (stderr, "child: %s\n", error->message);
              _exit (5);
            }
          len = g_snprintf (line, sizeof line, "ACK E %s\n", tag);
        }

      /* One short write is atomic on a pipe. */
      if (write (fd, line, len) != len)
        _exit (6);
    }
}

static char *
read_all (int fd)
{
  GString *s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      g_string_append_len (s, buf, n);
    }
  return g_string_free (s, FALSE);
}

static gboolean
row_present (sqlite3    *db,
             char        kind,
             const char *tag)
{
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;
  const char *sql = kind == 'E'
    ? "SELECT count(*) FROM reviews WHERE kind = 'edit' AND note = ?"
    : kind == 'U'
    ? "SELECT count(*) FROM reviews WHERE kind = 'undo' AND reviewer = ?"
    : "SELECT count(*) FROM reviews WHERE kind = 'redo' AND reviewer = ?";

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, tag, -1, SQLITE_STATIC);
      found = sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) == 1;
    }
  sqlite3_finalize (stmt);
  return found;
}

static char *
integrity (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = ct_make_tmpdir ("case-crash");
  g_autofree char *path = g_build_filename (dir, "crash.dicase", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = NULL;
  g_autoptr(GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);
  const char *env_kills = g_getenv ("CASE_CRASH_KILLS");
  const char *env_seed = g_getenv ("CASE_CRASH_SEED");
  int kills = env_kills ? atoi (env_kills) : 30;
  guint32 seed = env_seed ? (guint32)strtoul (env_seed, NULL, 10) : 20250101;
  guint total_rows_before = 0;
  DiCase *kase;

  printf ("seed %u, %d kills\n", seed, kills);
  rand = g_rand_new_with_seed (seed);

  kase = di_case_open (path, &error);
  CHECK_NO_ERROR (error);
  if (kase == NULL)
    return ct_finish ();
  for (int i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("crash-%d.png", i);
      g_autofree char *img = g_build_filename (dir, name, NULL);

      ct_make_cell (img, 24, 24, 100 + i);
      CHECK (di_case_add_image (kase, img, NULL) > 0, "image");
    }
  g_object_unref (kase);

  for (int round = 0; round < kills; round++)
    {
      int fds[2];
      pid_t pid;
      g_autofree char *text = NULL;
      g_autofree char *check = NULL;
      g_auto(GStrv) lines = NULL;
      sqlite3 *db = NULL;
      guint acks = 0, missing = 0, rows;
      int status = 0;

      fflush (stdout);
      fflush (stderr);
      if (pipe (fds) != 0)
        return 1;
      pid = fork ();
      if (pid == 0)
        {
          close (fds[0]);
          child_main (path, round, fds[1]);
        }
      close (fds[1]);

      /* Anywhere from inside di_case_open() to a few dozen writes. */
      g_usleep (g_rand_int_range (rand, 1000, 60000));
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
             "round %d: the child died of the kill (status %d)", round, status);

      text = read_all (fds[0]);
      close (fds[0]);

      check = integrity (path);
      CHECK (g_strcmp0 (check, "ok") == 0, "round %d: integrity_check says %s", round, check);

      /* Reopening works and replays the stacks. */
      kase = di_case_open (path, &error);
      CHECK (kase != NULL, "round %d: reopen: %s", round, error ? error->message : "");
      g_clear_error (&error);
      g_clear_object (&kase);

      sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL);
      lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          char kind;
          char tag[48];

          if (*lines[i] == '\0')
            continue;
          if (sscanf (lines[i], "ACK %c %47s", &kind, tag) != 2)
            {
              CHECK (FALSE, "round %d: bad line %s", round, lines[i]);
              continue;
            }
          acks++;
          g_ptr_array_add (acked, g_strdup_printf ("%c %s", kind, tag));
          if (!row_present (db, kind, tag))
            missing++;
        }
      {
        sqlite3_stmt *stmt = NULL;
        sqlite3_prepare_v2 (db, "SELECT count(*) FROM reviews", -1, &stmt, NULL);
        rows = sqlite3_step (stmt) == SQLITE_ROW ? (guint)sqlite3_column_int (stmt, 0) : 0;
        sqlite3_finalize (stmt);
      }
      sqlite3_close (db);

      CHECK (missing == 0, "round %d: %u of %u acknowledged rows missing", round, missing, acks);
      CHECK (rows >= total_rows_before + acks, "round %d: rows %u < %u + %u", round, rows,
             total_rows_before, acks);
      total_rows_before = rows;
    }

  /* Every acknowledged row of every round is still there at the end. */
  {
    sqlite3 *db = NULL;
    guint missing = 0;

    sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL);
    for (guint i = 0; i < acked->len; i++)
      {
        const char *a = g_ptr_array_index (acked, i);
        if (!row_present (db, a[0], a + 2))
          missing++;
      }
    sqlite3_close (db);
    CHECK (missing == 0, "%u acknowledged rows missing at the end", missing);
    CHECK (acked->len >= (guint)kills, "the children got work done: %u acknowledged writes", acked->len);
    printf ("%u acknowledged writes over %d kills, %u rows\n", acked->len, kills, total_rows_before);
  }

  return ct_finish ();
}
