/* test-case-crash.c — crash safety of the case file.
 *
 * A child process relabels (and now and then undoes or redoes) as fast as
 * it can through di_case_relabel()/di_case_undo()/di_case_redo(), and
 * writes "ACK ..." to a pipe after each call returns, i.e. after each row
 * is durable. The parent SIGKILLs it at random moments (seeded), reopens
 * the case, checks PRAGMA integrity_check and that every acknowledged row
 * is there, and starts the next child. Then it kills children in the
 * middle of upgrading a version-1 case. CASE_CRASH_KILLS (default 30) and
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

#include <glib/gstdio.h>
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

/* The first schema, as in test-case-db.c, with a few rows. */
static const char v1_case[] =
  "CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
  "  sha256 TEXT NOT NULL, added TEXT NOT NULL);"
  "CREATE TABLE predictions (id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id), model TEXT NOT NULL,"
  "  model_sha256 TEXT NOT NULL, classes TEXT NOT NULL, probabilities TEXT NOT NULL,"
  "  time TEXT NOT NULL);"
  "CREATE TABLE reviews (id INTEGER PRIMARY KEY,"
  "  image_id INTEGER NOT NULL REFERENCES images(id), label TEXT, note TEXT,"
  "  reviewer TEXT, time TEXT NOT NULL);"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)"
  "  INSERT INTO images SELECT i, 'img-' || i || '.png', 'ab', '2024-01-01T00:00:00.000000Z' FROM n;"
  "INSERT INTO predictions SELECT id, id, 'm', 'mm', '[\"a\",\"b\"]', '[0.3,0.7]',"
  "  '2024-01-01T00:00:01.000000Z' FROM images;"
  "INSERT INTO reviews SELECT NULL, id, 'a', 'first', 'R', '2024-01-01T00:00:02.000000Z' FROM images;"
  "INSERT INTO reviews SELECT NULL, id, 'b', 'second', 'R', '2024-01-01T00:00:03.000000Z' FROM images;"
  "PRAGMA user_version = 1;";

static void
remove_case_files (const char *path)
{
  const char * const suffixes[] = { "", "-wal", "-shm", "-journal", ".v1.bak", ".v1.bak.partial" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *f = g_strconcat (path, suffixes[i], NULL);
      g_unlink (f);
    }
}

static gint64
raw_int (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 v = -1;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

static char *integrity (const char *path);

/* Kills a child in the middle of upgrading a version-1 case; the next
 * open must finish the upgrade with every row, and any backup left must
 * be a complete version-1 database. */
static void
test_migration_kills (const char *dir,
                      GRand      *rand,
                      int         rounds)
{
  g_autofree char *path = g_build_filename (dir, "old.dicase", NULL);
  g_autofree char *backup = g_strconcat (path, ".v1.bak", NULL);
  guint killed_early = 0;

  for (int round = 0; round < rounds; round++)
    {
      sqlite3 *db = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(DiCase) kase = NULL;
      g_autofree char *check = NULL;
      pid_t pid;
      int status = 0;

      remove_case_files (path);
      sqlite3_open (path, &db);
      sqlite3_exec (db, v1_case, NULL, NULL, NULL);
      sqlite3_close (db);

      fflush (stdout);
      fflush (stderr);
      pid = fork ();
      if (pid == 0)
        {
          DiCase *child = di_case_open (path, NULL);
          _exit (child != NULL ? 0 : 3);
        }
      g_usleep (g_rand_int_range (rand, 0, 40000));
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      if (WIFSIGNALED (status))
        killed_early++;
      else
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0, "migration round %d: child status %d", round, status);

      check = integrity (path);
      CHECK (g_strcmp0 (check, "ok") == 0, "migration round %d: integrity %s", round, check);
      kase = di_case_open (path, &error);
      CHECK (kase != NULL, "migration round %d: reopen: %s", round, error ? error->message : "");
      g_clear_object (&kase);
      CHECK (raw_int (path, "PRAGMA user_version") == DI_CASE_SCHEMA_VERSION, "migration round %d: upgraded", round);
      CHECK (raw_int (path, "SELECT count(*) FROM reviews WHERE previous_label = 'a' AND label = 'b'") == 200,
             "migration round %d: every review row kept and completed", round);
      CHECK (raw_int (path, "SELECT count(*) FROM predictions WHERE predicted = 'b'") == 200,
             "migration round %d: predictions kept", round);
      if (g_file_test (backup, G_FILE_TEST_EXISTS))
        {
          g_autofree char *bcheck = integrity (backup);
          CHECK (g_strcmp0 (bcheck, "ok") == 0 && raw_int (backup, "PRAGMA user_version") == 1 &&
                 raw_int (backup, "SELECT count(*) FROM reviews") == 400,
                 "migration round %d: the backup is a complete version-1 case", round);
        }
    }
  printf ("%u of %d upgrades killed before they finished\n", killed_early, rounds);
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

  /* Read-write: after a crash the first connection may have to recover
   * the WAL, which a read-only one cannot. */
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  else
    result = g_strdup_printf ("error: %s", sqlite3_errmsg (db));
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

  test_migration_kills (dir, rand, MAX (4, kills / 3));

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
