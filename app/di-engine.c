/* di-engine.c — owns the loaded dinet_net and runs every call that uses it
 * in a GTask thread, one job at a time.
 *
 * Jobs wait in two queues: interactive ones (load a model, classify or
 * explain the image on screen or a region of it, and the slices of a
 * field scan: a few tiles in one forward pass each, queued again behind
 * whatever came meanwhile) and batch slices (one file of a folder each).
 * Interactive jobs always go first, so opening an image while a folder is
 * being classified waits for at most one file. A job's
 * GCancellable is wired to dinet_net_set_cancel(), so cancelling stops the
 * network between layers. Workers get a copy (or an immutable reference)
 * of everything they need and never touch widgets; results come back to
 * the main thread through the GTask callbacks.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-engine"

#include "config.h"

#include <math.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <dinet/dinet.h>

#include "di-case.h"
#include "di-engine.h"
#include "di-heatmap.h"
#include "di-image.h"
#include "di-model-info.h"
#include "di-prediction.h"

G_DEFINE_QUARK (di-engine-error-quark, di_engine_error)

typedef enum {
  JOB_LOAD_MODEL,
  JOB_CLASSIFY,
  JOB_EXPLAIN,
  JOB_FAITHFULNESS,
  JOB_BATCH,
  JOB_SCAN,
} JobKind;

typedef struct
{
  JobKind kind;
  GTask *task;                /* the caller's task */
  GCancellable *cancellable;  /* the caller's, may be NULL */

  /* Inputs: copies or immutable references */
  char *path;
  DiImage *image;
  DiExplainMethod method;
  int stage;
  int target;
  GPtrArray *files;           /* GFile, batch */
  guint next;                 /* batch: the file the next slice handles */
  int thumb_size;
  gboolean classify;
  GArray *classify_mask;      /* gboolean per file, or NULL: every file */
  DiEngineBatchFunc func;
  gpointer func_data;
  GDestroyNotify func_data_destroy;
  int region[4];              /* x, y, width, height of @image; width 0: all of it */
  int *rects;                 /* scan: x, y, width, height of every tile */
  guint n_rects;
  guint scan_batch;           /* scan: tiles per slice (one forward pass) */
  DiEngineScanFunc scan_func;

  /* Lent to the worker for one run */
  dinet_net *net;
  DiModelInfo *model;
  int threads;

  /* Written by the worker, read on the main thread when it is done */
  dinet_net *new_net;
  DiModelInfo *new_model;
  DiPrediction *prediction;
  DiHeatmap *heatmap;
  float *map;                 /* JOB_FAITHFULNESS: a copy of the map */
  int map_width;
  int map_height;
  double faith_deletion;
  double faith_insertion;
  GPtrArray *scan_predictions; /* DiPrediction, one per tile of the slice */
  GBytes *thumbnail;
  int thumb_width;
  int thumb_height;
  GError *error;
} Job;

struct _DiEngine
{
  GObject parent_instance;

  /* Owned References */
  dinet_net *net;             /* used only by the running job's thread */
  DiModelInfo *model;
  GQueue interactive;         /* Job */
  GQueue batch;               /* Job */
  GQueue background;          /* Job: only when nothing else waits */
  Job *running;

  int threads;
  guint jobs_run;
  guint classified;
  gboolean busy;
};

G_DEFINE_FINAL_TYPE (DiEngine, di_engine, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEL_INFO,
  PROP_BUSY,
  PROP_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void run_next (DiEngine *self);

static void
job_clear_outputs (Job *job)
{
  g_clear_pointer (&job->prediction, di_prediction_unref);
  g_clear_object (&job->heatmap);
  g_clear_pointer (&job->thumbnail, g_bytes_unref);
  g_clear_pointer (&job->scan_predictions, g_ptr_array_unref);
  g_clear_error (&job->error);
}

static void
job_free (Job *job)
{
  job_clear_outputs (job);
  g_clear_object (&job->task);
  g_clear_object (&job->cancellable);
  g_free (job->path);
  g_free (job->map);
  g_clear_pointer (&job->image, di_image_unref);
  g_clear_pointer (&job->files, g_ptr_array_unref);
  g_clear_pointer (&job->classify_mask, g_array_unref);
  g_free (job->rects);
  if (job->func_data_destroy != NULL)
    job->func_data_destroy (job->func_data);
  g_clear_pointer (&job->new_net, dinet_net_free);
  g_clear_pointer (&job->new_model, di_model_info_unref);
  g_clear_pointer (&job->model, di_model_info_unref);
  g_free (job);
}

static Job *
job_new (DiEngine            *self,
         JobKind              kind,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data,
         gpointer             source_tag)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, source_tag);

  return job;
}

static void
set_error_from_dinet (GError            **error,
                      const dinet_error  *err,
                      int                 rc)
{
  int code;

  switch (rc)
    {
    case DINET_ERR_CANCELLED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
      return;
    case DINET_ERR_IO: code = DI_ENGINE_ERROR_IO; break;
    case DINET_ERR_FORMAT: code = DI_ENGINE_ERROR_FORMAT; break;
    case DINET_ERR_NOMEM: code = DI_ENGINE_ERROR_NO_MEMORY; break;
    case DINET_ERR_INVALID: code = DI_ENGINE_ERROR_INVALID; break;
    case DINET_ERR_LIMIT: code = DI_ENGINE_ERROR_LIMIT; break;
    case DINET_ERR_NUMERIC: code = DI_ENGINE_ERROR_NUMERIC; break;
    default: code = DI_ENGINE_ERROR_FAILED; break;
    }

  g_set_error_literal (error, DI_ENGINE_ERROR, code,
                       err->message[0] ? err->message : dinet_status_name (rc));
}

static int
cancel_cb (void *user)
{
  return user != NULL && g_cancellable_is_cancelled (user);
}

static gboolean
job_cancelled (Job     *job,
               GError **error)
{
  if (job->cancellable != NULL && g_cancellable_is_cancelled (job->cancellable))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
      return TRUE;
    }
  return FALSE;
}

/* Loads a local file; the worker-side half of every image job. */
static dinet_image *
load_pixels (GFile   *file,
             GError **error)
{
  g_autofree char *path = g_file_get_path (file);
  dinet_error err = {0};
  dinet_image *img;

  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);

      g_set_error (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NOT_LOCAL,
                   _("%s is not a local file"), uri);
      return NULL;
    }

  img = dinet_image_load (path, NULL, &err);
  if (img == NULL)
    set_error_from_dinet (error, &err, err.code ? err.code : DINET_ERR_IO);

  return img;
}

/* Preprocesses @pixels for the job's network; returns 3 x S x S floats. */
static float *
preprocess (Job                *job,
            const dinet_image  *pixels,
            int                *size,
            GError            **error)
{
  dinet_error err = {0};
  int S = dinet_net_input_size (job->net);
  float *x = g_try_malloc (sizeof (float) * 3 * S * S);
  int rc;

  if (x == NULL)
    {
      g_set_error_literal (error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MEMORY, _("Out of memory"));
      return NULL;
    }
  if ((rc = dinet_net_preprocess (job->net, pixels, x, &err)))
    {
      set_error_from_dinet (error, &err, rc);
      g_free (x);
      return NULL;
    }
  *size = S;
  return x;
}

static DiPrediction *
classify_pixels (Job                *job,
                 const dinet_image  *pixels,
                 GError            **error)
{
  g_autofree float *x = NULL;
  g_autofree float *logits = NULL;
  int view_top[DINET_MAX_VIEWS]; /* each view's top class */
  dinet_error err = {0};
  int S, rc;

  if (!(x = preprocess (job, pixels, &S, error)))
    return NULL;

  /* The model's own views: one, or the mean of the 8 dihedral views when
   * its metadata asks for TTA (logits are then log mean probabilities). */
  logits = g_new0 (float, di_model_info_get_n_classes (job->model));
  if ((rc = dinet_net_predict (job->net, x, 1, S, S, 0, logits, view_top, &err)))
    {
      set_error_from_dinet (error, &err, rc);
      return NULL;
    }

  return di_prediction_new_with_views (job->model, logits, dinet_net_tta_views (job->net), view_top);
}

static dinet_explain_method
engine_method (DiExplainMethod method)
{
  switch (method)
    {
    case DI_EXPLAIN_CBAM: return DINET_EXPLAIN_CBAM_SPATIAL;
    case DI_EXPLAIN_GRADCAMPP: return DINET_EXPLAIN_GRADCAMPP;
    case DI_EXPLAIN_HIRESCAM: return DINET_EXPLAIN_HIRESCAM;
    case DI_EXPLAIN_LAYERCAM: return DINET_EXPLAIN_LAYERCAM;
    case DI_EXPLAIN_LAYERCAM_FUSION: return DINET_EXPLAIN_LAYERCAM_FUSION;
    case DI_EXPLAIN_SCORECAM: return DINET_EXPLAIN_SCORECAM;
    case DI_EXPLAIN_COUNTERFACTUAL: return DINET_EXPLAIN_COUNTERFACTUAL;
    case DI_EXPLAIN_GRADCAM:
    default: return DINET_EXPLAIN_GRADCAM;
    }
}

/* One map of the job's image with dinet_explain(); the classification of
 * the same forward pass comes with it, so an explained image needs no
 * separate classify job. */
static void
job_explain (Job *job)
{
  const dinet_image *pixels = di_image_get_pixels (job->image);
  g_autofree float *x = NULL;
  dinet_explain_opts opts;
  dinet_explanation ex;
  dinet_error err = {0};
  int S, rc;

  if (job->method == DI_EXPLAIN_CBAM && !di_model_info_has_cbam (job->model))
    {
      g_set_error_literal (&job->error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_INVALID,
                           _("This model has no CBAM attention"));
      return;
    }

  if (!(x = preprocess (job, pixels, &S, &job->error)))
    return;

  /* A model that predicts from 8 views is classified that way first, and
   * the map explains that prediction's class unless another was asked for. */
  if (dinet_net_tta_views (job->net) > 1)
    {
      g_autofree float *logits = g_new0 (float, di_model_info_get_n_classes (job->model));
      int view_top[DINET_MAX_VIEWS];

      if ((rc = dinet_net_predict (job->net, x, 1, S, S, 0, logits, view_top, &err)))
        {
          set_error_from_dinet (&job->error, &err, rc);
          return;
        }
      job->prediction = di_prediction_new_with_views (job->model, logits, dinet_net_tta_views (job->net),
                                                      view_top);
    }

  dinet_explain_opts_init (&opts);
  opts.method = engine_method (job->method);
  opts.stage = job->stage;
  opts.target = job->target;
  if (opts.target < 0 && job->prediction != NULL && job->method != DI_EXPLAIN_CBAM)
    opts.target = di_prediction_get_top (job->prediction);
  opts.block = -1;
  if ((rc = dinet_explain (job->net, x, S, S, &opts, &ex, &err)))
    {
      set_error_from_dinet (&job->error, &err, rc);
      return;
    }

  /* CBAM attention has no class: it is labelled with the prediction's. */
  job->heatmap = di_heatmap_new (ex.map, ex.w, ex.h, job->method, ex.stage,
                                 job->method == DI_EXPLAIN_CBAM && job->target < 0
                                   ? (job->prediction != NULL ? di_prediction_get_top (job->prediction)
                                                              : ex.predicted)
                                   : ex.target);
  if (job->prediction == NULL)
    {
      int top = ex.predicted; /* one view: its own top class */

      job->prediction = di_prediction_new_with_views (job->model, ex.logits, 1, &top);
    }
  dinet_explanation_free (&ex);
}

/* Deletion and insertion AUC of the job's map (dinet_faithfulness: 20
 * steps against a blurred baseline, batched forwards). */
static void
job_faithfulness (Job *job)
{
  const dinet_image *pixels = di_image_get_pixels (job->image);
  g_autofree float *x = NULL;
  dinet_faith_opts opts;
  dinet_faith_result res;
  dinet_error err = {0};
  int S, rc;

  if (!(x = preprocess (job, pixels, &S, &job->error)))
    return;

  dinet_faith_opts_init (&opts);
  rc = dinet_faithfulness (job->net, x, S, S, job->map, job->map_height, job->map_width,
                           job->target, &opts, &res, &err);
  if (rc)
    {
      set_error_from_dinet (&job->error, &err, rc);
      return;
    }
  job->faith_deletion = res.no_positive_evidence ? NAN : res.deletion_auc;
  job->faith_insertion = res.no_positive_evidence ? NAN : res.insertion_auc;
}

static void
job_batch_slice (Job *job)
{
  GFile *file = g_ptr_array_index (job->files, job->next);
  dinet_image *pixels;

  if (!(pixels = load_pixels (file, &job->error)))
    return;

  job->thumbnail = di_image_make_thumbnail (pixels, job->thumb_size,
                                            &job->thumb_width, &job->thumb_height);
  if (job->classify && job->net != NULL &&
      (job->classify_mask == NULL || g_array_index (job->classify_mask, gboolean, job->next)))
    job->prediction = classify_pixels (job, pixels, &job->error);

  dinet_image_free (pixels);
}

/* A job about a region of its image works on a copy of that region. */
static gboolean
crop_region (Job     *job,
             GError **error)
{
  dinet_error err = {0};
  dinet_image *crop;

  if (job->region[2] <= 0)
    return TRUE;

  crop = dinet_image_crop (di_image_get_pixels (job->image), job->region[0], job->region[1],
                           job->region[2], job->region[3], &err);
  if (crop == NULL)
    {
      set_error_from_dinet (error, &err, err.code ? err.code : DINET_ERR_INVALID);
      return FALSE;
    }
  g_clear_pointer (&job->image, di_image_unref);
  job->image = di_image_new_take (NULL, crop, FALSE);
  job->region[2] = 0;
  return TRUE;
}

/* One slice of a scan: the next tiles of the image, cropped, preprocessed
 * and classified in one batched forward pass. */
static void
job_scan_slice (Job *job)
{
  const dinet_image *pixels = di_image_get_pixels (job->image);
  guint n = MIN (job->scan_batch, job->n_rects - job->next);
  int n_classes, S, rc;
  gsize plane;
  g_autofree float *x = NULL;
  g_autofree float *logits = NULL;
  dinet_error err = {0};

  if (job->net == NULL)
    {
      g_set_error_literal (&job->error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL,
                           _("No model is loaded"));
      return;
    }

  S = dinet_net_input_size (job->net);
  n_classes = di_model_info_get_n_classes (job->model);
  plane = (gsize)3 * S * S;
  x = g_try_malloc (sizeof (float) * plane * n);
  if (x == NULL)
    {
      g_set_error_literal (&job->error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MEMORY, _("Out of memory"));
      return;
    }

  for (guint k = 0; k < n; k++)
    {
      const int *r = job->rects + 4 * (gsize)(job->next + k);
      dinet_image *tile = dinet_image_crop (pixels, r[0], r[1], r[2], r[3], &err);

      if (tile == NULL)
        {
          set_error_from_dinet (&job->error, &err, err.code ? err.code : DINET_ERR_INVALID);
          return;
        }
      rc = dinet_net_preprocess (job->net, tile, x + plane * k, &err);
      dinet_image_free (tile);
      if (rc)
        {
          set_error_from_dinet (&job->error, &err, rc);
          return;
        }
      if (job_cancelled (job, &job->error))
        return;
    }

  /* One view per tile even for a model that asks for 8: a scan is a coarse
   * map of many tiles, and 8 views would make it 8 times slower. */
  logits = g_new0 (float, (gsize)n_classes * n);
  if ((rc = dinet_net_forward (job->net, x, (int)n, S, S, logits, &err)))
    {
      set_error_from_dinet (&job->error, &err, rc);
      return;
    }

  job->scan_predictions = g_ptr_array_new_full (n, (GDestroyNotify)di_prediction_unref);
  for (guint k = 0; k < n; k++)
    g_ptr_array_add (job->scan_predictions,
                     di_prediction_new (job->model, logits + (gsize)n_classes * k));
}

/* Worker threads run a little below the UI so that a busy engine never
 * starves the main loop; threads they start (the engine's pool) inherit
 * it. Best effort: per-thread nice values are a Linux feature. */
static void
lower_thread_priority (void)
{
#ifdef SYS_gettid
  static GPrivate lowered;

  if (g_private_get (&lowered) == NULL)
    {
      pid_t tid = (pid_t)syscall (SYS_gettid);
      int nice_now = getpriority (PRIO_PROCESS, (id_t)tid);

      if (setpriority (PRIO_PROCESS, (id_t)tid, MIN (nice_now + 5, 19)) != 0)
        g_debug ("Could not lower the worker's priority");
      g_private_set (&lowered, GINT_TO_POINTER (1));
    }
#endif
}

/* Threads for the network: 0 means every core but one, which stays free
 * for the user interface. */
static int
effective_threads (int threads)
{
  if (threads > 0)
    return threads;
  return MAX (1, (int)g_get_num_processors () - 1);
}

static void
job_thread (GTask        *worker,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *unused)
{
  Job *job = task_data;

  lower_thread_priority ();
  dinet_set_threads (effective_threads (job->threads));
  if (job->net != NULL)
    dinet_net_set_cancel (job->net, cancel_cb, job->cancellable);

  if (!job_cancelled (job, &job->error) && crop_region (job, &job->error))
    {
      switch (job->kind)
        {
        case JOB_LOAD_MODEL:
          {
            dinet_error err = {0};
            /* The model's identity in review cases: hashed here, once per
             * load, never on the main thread. A file that cannot be read
             * cannot be loaded either. */
            g_autoptr(GError) io_error = NULL;
            g_autofree char *sha256 = NULL;

            job->new_net = di_model_load_file (job->path, &sha256, &io_error, &err);
            if (io_error != NULL)
              g_set_error_literal (&job->error, DI_ENGINE_ERROR, DI_ENGINE_ERROR_IO, io_error->message);
            else if (job->new_net == NULL)
              set_error_from_dinet (&job->error, &err, err.code ? err.code : DINET_ERR_IO);
            else
              job->new_model = _di_model_info_new_from_net (job->path, job->new_net, sha256);
          }
          break;

        case JOB_CLASSIFY:
          job->prediction = classify_pixels (job, di_image_get_pixels (job->image), &job->error);
          break;

        case JOB_EXPLAIN:
          job_explain (job);
          break;

        case JOB_FAITHFULNESS:
          job_faithfulness (job);
          break;

        case JOB_BATCH:
          job_batch_slice (job);
          break;

        case JOB_SCAN:
          job_scan_slice (job);
          break;

        default:
          g_assert_not_reached ();
        }
    }

  if (job->net != NULL)
    dinet_net_set_cancel (job->net, NULL, NULL);

  g_task_return_boolean (worker, TRUE);
}

static void
set_busy (DiEngine *self,
          gboolean  busy)
{
  if (self->busy != busy)
    {
      self->busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
}

/* Main thread: the worker is done with @job. Returns TRUE when @job was
 * queued again (a batch with files left). */
static gboolean
job_complete (DiEngine *self,
              Job      *job)
{
  switch (job->kind)
    {
    case JOB_LOAD_MODEL:
      if (job->error != NULL)
        g_task_return_error (job->task, g_steal_pointer (&job->error));
      else
        {
          g_clear_pointer (&self->net, dinet_net_free);
          self->net = g_steal_pointer (&job->new_net);
          g_clear_pointer (&self->model, di_model_info_unref);
          self->model = di_model_info_ref (job->new_model);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_INFO]);
          g_task_return_pointer (job->task, g_steal_pointer (&job->new_model),
                                 (GDestroyNotify)di_model_info_unref);
        }
      return FALSE;

    case JOB_CLASSIFY:
      if (job->error != NULL)
        g_task_return_error (job->task, g_steal_pointer (&job->error));
      else
        g_task_return_pointer (job->task, g_steal_pointer (&job->prediction),
                               (GDestroyNotify)di_prediction_unref);
      return FALSE;

    case JOB_EXPLAIN:
      if (job->error != NULL)
        g_task_return_error (job->task, g_steal_pointer (&job->error));
      else
        {
          g_object_set_data_full (G_OBJECT (job->heatmap), "di-prediction",
                                  g_steal_pointer (&job->prediction),
                                  (GDestroyNotify)di_prediction_unref);
          g_task_return_pointer (job->task, g_steal_pointer (&job->heatmap), g_object_unref);
        }
      return FALSE;

    case JOB_FAITHFULNESS:
      if (job->error != NULL)
        g_task_return_error (job->task, g_steal_pointer (&job->error));
      else
        {
          double *auc = g_new (double, 2);

          auc[0] = job->faith_deletion;
          auc[1] = job->faith_insertion;
          g_task_return_pointer (job->task, auc, g_free);
        }
      return FALSE;

    case JOB_BATCH:
      if (job->error != NULL && g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (job->task, g_steal_pointer (&job->error));
          return FALSE;
        }

      if (job->func != NULL)
        job->func (self, job->next, g_ptr_array_index (job->files, job->next),
                   job->thumbnail, job->thumb_width, job->thumb_height,
                   job->prediction, job->error, job->func_data);
      job_clear_outputs (job);
      job->next++;

      if (job->next < job->files->len)
        {
          g_queue_push_head (&self->batch, job);
          return TRUE;
        }
      g_task_return_boolean (job->task, TRUE);
      return FALSE;

    case JOB_SCAN:
      if (job->error != NULL)
        {
          g_task_return_error (job->task, g_steal_pointer (&job->error));
          return FALSE;
        }

      if (job->scan_func != NULL)
        job->scan_func (self, job->next, job->scan_predictions->len,
                        (DiPrediction **)job->scan_predictions->pdata, job->func_data);
      job->next += job->scan_predictions->len;
      job_clear_outputs (job);

      /* Behind the interactive jobs queued meanwhile: a region asked for
       * during a scan does not wait for the whole field. */
      if (job->next < job->n_rects)
        {
          g_queue_push_tail (&self->interactive, job);
          return TRUE;
        }
      g_task_return_boolean (job->task, TRUE);
      return FALSE;

    default:
      g_assert_not_reached ();
    }
}

static void
worker_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  DiEngine *self = DI_ENGINE (object);
  Job *job = g_task_get_task_data (G_TASK (result));

  g_assert (self->running == job);

  self->running = NULL;
  self->jobs_run++;
  if ((job->kind == JOB_CLASSIFY || job->kind == JOB_BATCH) && job->prediction != NULL)
    self->classified++;
  g_clear_pointer (&job->model, di_model_info_unref);
  job->net = NULL;

  if (!job_complete (self, job))
    job_free (job);

  run_next (self);
}

static void
run_next (DiEngine *self)
{
  g_autoptr(GTask) worker = NULL;
  Job *job;

  if (self->running != NULL)
    return;

  for (;;)
    {
      job = g_queue_pop_head (&self->interactive);
      if (job == NULL)
        job = g_queue_pop_head (&self->batch);
      if (job == NULL)
        job = g_queue_pop_head (&self->background);
      if (job == NULL)
        {
          set_busy (self, FALSE);
          return;
        }

      /* Finish what needs no thread right here. */
      if (job_cancelled (job, &job->error))
        {
          g_task_return_error (job->task, g_steal_pointer (&job->error));
          job_free (job);
          continue;
        }
      if ((job->kind == JOB_CLASSIFY || job->kind == JOB_EXPLAIN ||
           job->kind == JOB_FAITHFULNESS) && self->net == NULL)
        {
          g_task_return_new_error (job->task, DI_ENGINE_ERROR, DI_ENGINE_ERROR_NO_MODEL,
                                   _("No model is loaded"));
          job_free (job);
          continue;
        }
      break;
    }

  job->net = self->net;
  job->model = self->model ? di_model_info_ref (self->model) : NULL;
  job->threads = self->threads;
  self->running = job;
  set_busy (self, TRUE);

  worker = g_task_new (self, NULL, worker_done_cb, NULL);
  g_task_set_source_tag (worker, run_next);
  g_task_set_task_data (worker, job, NULL);
  g_task_run_in_thread (worker, job_thread);
}

static void
enqueue (DiEngine *self,
         Job      *job,
         gboolean  interactive)
{
  g_queue_push_tail (interactive ? &self->interactive : &self->batch, job);
  run_next (self);
}

/* Queues a job made of @n slices (a batch of files, a scan of tiles) with
 * the data of its per-slice callback; one with nothing to do is done at
 * once. */
static void
enqueue_slices (DiEngine       *self,
                Job            *job,
                guint           n,
                gpointer        func_data,
                GDestroyNotify  func_data_destroy,
                gboolean        interactive)
{
  job->func_data = func_data;
  job->func_data_destroy = func_data_destroy;

  if (n == 0)
    {
      g_task_return_boolean (job->task, TRUE);
      job_free (job);
      return;
    }

  enqueue (self, job, interactive);
}

static void
di_engine_dispose (GObject *object)
{
  DiEngine *self = (DiEngine *)object;
  Job *job;

  /* Nothing can be running: every job holds a reference through its task. */
  while ((job = g_queue_pop_head (&self->interactive)))
    job_free (job);
  while ((job = g_queue_pop_head (&self->batch)))
    job_free (job);
  while ((job = g_queue_pop_head (&self->background)))
    job_free (job);

  G_OBJECT_CLASS (di_engine_parent_class)->dispose (object);
}

static void
di_engine_finalize (GObject *object)
{
  DiEngine *self = (DiEngine *)object;

  g_clear_pointer (&self->net, dinet_net_free);
  g_clear_pointer (&self->model, di_model_info_unref);

  G_OBJECT_CLASS (di_engine_parent_class)->finalize (object);
}

static void
di_engine_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  DiEngine *self = DI_ENGINE (object);

  switch (prop_id)
    {
    case PROP_MODEL_INFO:
      g_value_set_boxed (value, self->model);
      break;

    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;

    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_engine_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  DiEngine *self = DI_ENGINE (object);

  switch (prop_id)
    {
    case PROP_THREADS:
      di_engine_set_threads (self, g_value_get_int (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_engine_class_init (DiEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = di_engine_dispose;
  object_class->finalize = di_engine_finalize;
  object_class->get_property = di_engine_get_property;
  object_class->set_property = di_engine_set_property;

  properties[PROP_MODEL_INFO] =
    g_param_spec_boxed ("model-info", NULL, NULL,
                        DI_TYPE_MODEL_INFO,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_THREADS] =
    g_param_spec_int ("threads", NULL, NULL,
                      0, 64, 0,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_engine_init (DiEngine *self)
{
  g_queue_init (&self->interactive);
  g_queue_init (&self->batch);
  g_queue_init (&self->background);
}

DiEngine *
di_engine_new (void)
{
  return g_object_new (DI_TYPE_ENGINE, NULL);
}

/**
 * di_engine_get_model_info:
 *
 * Returns: (transfer none) (nullable): the loaded model
 */
DiModelInfo *
di_engine_get_model_info (DiEngine *self)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), NULL);
  return self->model;
}

gboolean
di_engine_get_busy (DiEngine *self)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), FALSE);
  return self->busy;
}

int
di_engine_get_threads (DiEngine *self)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), 0);
  return self->threads;
}

/**
 * di_engine_set_threads:
 * @threads: threads for the network, 0 for every core but one
 *
 * Takes effect from the next job on.
 */
void
di_engine_set_threads (DiEngine *self,
                       int       threads)
{
  g_return_if_fail (DI_IS_ENGINE (self));

  threads = MAX (threads, 0);
  if (self->threads != threads)
    {
      self->threads = threads;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THREADS]);
    }
}

guint
di_engine_get_jobs_run (DiEngine *self)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), 0);
  return self->jobs_run;
}

/**
 * di_engine_get_n_classified:
 *
 * Returns: how many images the network has classified (classify jobs and
 *   batch files), not counting explanations
 */
guint
di_engine_get_n_classified (DiEngine *self)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), 0);
  return self->classified;
}

/**
 * di_engine_load_model_async:
 * @path: a model file (safetensors)
 *
 * Loads a model in the worker thread. On success it replaces the current
 * model; on failure the current model stays.
 */
void
di_engine_load_model_async (DiEngine            *self,
                            const char          *path,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (path != NULL);

  job = job_new (self, JOB_LOAD_MODEL, cancellable, callback, user_data,
                 di_engine_load_model_async);
  job->path = g_strdup (path);
  enqueue (self, job, TRUE);
}

/**
 * di_engine_load_model_finish:
 *
 * Returns: (transfer full): the new model's description, or %NULL
 */
DiModelInfo *
di_engine_load_model_finish (DiEngine      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
load_image_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  GFile *file = task_data;
  GError *error = NULL;
  dinet_image *pixels;

  if (g_task_return_error_if_cancelled (task))
    return;

  lower_thread_priority ();
  if (!(pixels = load_pixels (file, &error)))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, di_image_new_take (file, pixels, TRUE),
                           (GDestroyNotify)di_image_unref);
}

/**
 * di_engine_load_image_async:
 *
 * Decodes an image for display in a thread of its own: it does not use the
 * network, so it does not wait behind queued jobs.
 */
void
di_engine_load_image_async (DiEngine            *self,
                            GFile               *file,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, di_engine_load_image_async);
  g_task_set_task_data (task, g_file_dup (file), g_object_unref);
  g_task_run_in_thread (task, load_image_thread);
}

/**
 * di_engine_load_image_finish:
 *
 * Returns: (transfer full): the image, or %NULL
 */
DiImage *
di_engine_load_image_finish (DiEngine      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
di_engine_classify_async (DiEngine            *self,
                          DiImage             *image,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (image != NULL);

  job = job_new (self, JOB_CLASSIFY, cancellable, callback, user_data,
                 di_engine_classify_async);
  job->image = di_image_ref (image);
  enqueue (self, job, TRUE);
}

/**
 * di_engine_classify_finish:
 *
 * Returns: (transfer full): the prediction, or %NULL
 */
DiPrediction *
di_engine_classify_finish (DiEngine      *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static Job *
explain_job_new (DiEngine            *self,
                 DiImage             *image,
                 DiExplainMethod      method,
                 int                  stage,
                 int                  target,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  Job *job = job_new (self, JOB_EXPLAIN, cancellable, callback, user_data,
                      di_engine_explain_async);

  job->image = di_image_ref (image);
  job->method = method;
  job->stage = stage;
  job->target = target;
  return job;
}

/**
 * di_engine_explain_async:
 * @stage: 1..4 (layer1..layer4)
 * @target: a class index, or -1 for the predicted class
 *
 * Computes a map of @image with @method (dinet_explain()); the
 * classification of the same forward pass comes with it.
 */
void
di_engine_explain_async (DiEngine            *self,
                         DiImage             *image,
                         DiExplainMethod      method,
                         int                  stage,
                         int                  target,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (image != NULL);
  g_return_if_fail (stage >= 1 && stage <= 4);

  job = explain_job_new (self, image, method, stage, target, cancellable, callback, user_data);
  enqueue (self, job, TRUE);
}

/**
 * di_engine_explain_finish:
 * @prediction: (out) (optional) (transfer full): the classification that
 *   came with the map
 *
 * Returns: (transfer full): the map, or %NULL
 */
DiHeatmap *
di_engine_explain_finish (DiEngine      *self,
                          GAsyncResult  *result,
                          DiPrediction **prediction,
                          GError       **error)
{
  DiHeatmap *heatmap;

  g_return_val_if_fail (DI_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  heatmap = g_task_propagate_pointer (G_TASK (result), error);
  if (prediction != NULL)
    {
      DiPrediction *p = heatmap ? g_object_get_data (G_OBJECT (heatmap), "di-prediction") : NULL;

      *prediction = p ? di_prediction_ref (p) : NULL;
    }

  return heatmap;
}

/**
 * di_engine_faithfulness_async:
 * @heatmap: a map of @image from di_engine_explain_async()
 *
 * Measures how faithful @heatmap is to the loaded model: deletion and
 * insertion AUC (20 steps against a blurred copy; 41 forward passes in
 * batches). It waits until no interactive or batch job is queued: a folder
 * being classified comes first.
 */
void
di_engine_faithfulness_async (DiEngine            *self,
                              DiImage             *image,
                              DiHeatmap           *heatmap,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (image != NULL);
  g_return_if_fail (DI_IS_HEATMAP (heatmap));

  job = job_new (self, JOB_FAITHFULNESS, cancellable, callback, user_data,
                 di_engine_faithfulness_async);
  job->image = di_image_ref (image);
  job->map_width = di_heatmap_get_width (heatmap);
  job->map_height = di_heatmap_get_height (heatmap);
  job->map = g_memdup2 (di_heatmap_get_values (heatmap),
                        sizeof (float) * job->map_width * job->map_height);
  job->target = di_heatmap_get_target (heatmap);
  /* Behind a folder being classified: thumbnails and classes first. */
  g_queue_push_tail (&self->background, job);
  run_next (self);
}

/**
 * di_engine_faithfulness_finish:
 * @deletion: (out): deletion AUC, lower is better; NaN for a map without
 *   positive evidence
 * @insertion: (out): insertion AUC, higher is better; NaN likewise
 *
 * Returns: %FALSE on error
 */
gboolean
di_engine_faithfulness_finish (DiEngine      *self,
                               GAsyncResult  *result,
                               double        *deletion,
                               double        *insertion,
                               GError       **error)
{
  g_autofree double *auc = NULL;

  g_return_val_if_fail (DI_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  auc = g_task_propagate_pointer (G_TASK (result), error);
  if (auc == NULL)
    return FALSE;
  *deletion = auc[0];
  *insertion = auc[1];
  return TRUE;
}

/**
 * di_engine_classify_files_async:
 * @files: (array length=n_files): local image files
 * @thumb_size: longest side of the thumbnails
 * @classify: also classify (when a model is loaded)
 * @func: (scope notified): called after each file, on the main thread
 *
 * Decodes, thumbnails and classifies files one job each, behind any
 * interactive job. Cancelling stops within one network layer.
 */
void
di_engine_classify_files_async (DiEngine            *self,
                                GFile              **files,
                                guint                n_files,
                                int                  thumb_size,
                                gboolean             classify,
                                DiEngineBatchFunc    func,
                                gpointer             func_data,
                                GDestroyNotify       func_data_destroy,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (DI_IS_ENGINE (self));

  di_engine_classify_files_masked_async (self, files, NULL, n_files, thumb_size, classify,
                                         func, func_data, func_data_destroy,
                                         cancellable, callback, user_data);
}

/**
 * di_engine_classify_files_masked_async:
 * @files: (array length=n_files): local image files
 * @classify_mask: (array length=n_files) (nullable): which files to
 *   classify; %NULL for all of them (the others are only thumbnailed)
 * @classify: whether to classify at all (when a model is loaded)
 *
 * As di_engine_classify_files_async(), classifying only the files whose
 * @classify_mask entry is %TRUE: images the model has already classified
 * (in a review case) only need their thumbnails.
 */
void
di_engine_classify_files_masked_async (DiEngine            *self,
                                       GFile              **files,
                                       const gboolean      *classify_mask,
                                       guint                n_files,
                                       int                  thumb_size,
                                       gboolean             classify,
                                       DiEngineBatchFunc    func,
                                       gpointer             func_data,
                                       GDestroyNotify       func_data_destroy,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (files != NULL || n_files == 0);

  job = job_new (self, JOB_BATCH, cancellable, callback, user_data,
                 di_engine_classify_files_async);
  job->files = g_ptr_array_new_full (n_files, g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (job->files, g_file_dup (files[i]));
  job->thumb_size = MAX (thumb_size, 16);
  job->classify = classify;
  if (classify && classify_mask != NULL)
    {
      job->classify_mask = g_array_sized_new (FALSE, FALSE, sizeof (gboolean), n_files);
      g_array_append_vals (job->classify_mask, classify_mask, n_files);
    }
  job->func = func;
  enqueue_slices (self, job, n_files, func_data, func_data_destroy, FALSE);
}

gboolean
di_engine_classify_files_finish (DiEngine      *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (DI_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * di_engine_explain_region_async:
 * @x: left edge of the region, in pixels of @image
 * @y: top edge
 * @width: width of the region (> 0)
 * @height: height of the region (> 0)
 *
 * As di_engine_explain_async(), for a rectangle of @image: the worker
 * crops it and the model sees it as a whole image (preprocessing, centre
 * crop included). di_engine_explain_finish() gives the map and the
 * classification of the region.
 */
void
di_engine_explain_region_async (DiEngine            *self,
                                DiImage             *image,
                                int                  x,
                                int                  y,
                                int                  width,
                                int                  height,
                                DiExplainMethod      method,
                                int                  stage,
                                int                  target,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (image != NULL);
  g_return_if_fail (stage >= 1 && stage <= 4);
  g_return_if_fail (x >= 0 && y >= 0 && width > 0 && height > 0);
  g_return_if_fail (x + width <= di_image_get_width (image) &&
                    y + height <= di_image_get_height (image));

  job = explain_job_new (self, image, method, stage, target, cancellable, callback, user_data);
  job->region[0] = x;
  job->region[1] = y;
  job->region[2] = width;
  job->region[3] = height;
  enqueue (self, job, TRUE);
}

/**
 * di_engine_scan_async:
 * @rects: (array): x, y, width, height of each tile, inside @image; copied
 * @n_rects: the number of tiles
 * @batch: tiles per forward pass (and per call of @func), 0 for 8
 * @func: (scope notified): called on the main thread after each batch
 *
 * Classifies tiles of @image, @batch at a time, in the interactive queue:
 * between two batches every interactive job queued meanwhile runs, so the
 * image on screen and its regions are never kept waiting long. A scan
 * goes before folder batches. Cancelling stops within one network layer.
 */
void
di_engine_scan_async (DiEngine            *self,
                      DiImage             *image,
                      const int           *rects,
                      guint                n_rects,
                      guint                batch,
                      DiEngineScanFunc     func,
                      gpointer             func_data,
                      GDestroyNotify       func_data_destroy,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  Job *job;

  g_return_if_fail (DI_IS_ENGINE (self));
  g_return_if_fail (image != NULL);
  g_return_if_fail (rects != NULL || n_rects == 0);

  for (guint i = 0; i < n_rects; i++)
    g_return_if_fail (rects[4 * i] >= 0 && rects[4 * i + 1] >= 0 &&
                      rects[4 * i + 2] > 0 && rects[4 * i + 3] > 0 &&
                      rects[4 * i] + rects[4 * i + 2] <= di_image_get_width (image) &&
                      rects[4 * i + 1] + rects[4 * i + 3] <= di_image_get_height (image));

  job = job_new (self, JOB_SCAN, cancellable, callback, user_data, di_engine_scan_async);
  job->image = di_image_ref (image);
  job->rects = g_memdup2 (rects, sizeof (int) * 4 * (gsize)n_rects);
  job->n_rects = n_rects;
  job->scan_batch = batch > 0 ? batch : 8;
  job->scan_func = func;
  enqueue_slices (self, job, n_rects, func_data, func_data_destroy, TRUE);
}

/**
 * di_engine_scan_finish:
 *
 * Returns: %TRUE when every tile was classified
 */
gboolean
di_engine_scan_finish (DiEngine      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  /* Both are a job of slices that returns a boolean. */
  return di_engine_classify_files_finish (self, result, error);
}
