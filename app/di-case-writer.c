/* di-case-writer.c — writes a case's predictions and explanation maps off
 * the main thread.
 *
 * Every commit of a case is durable (synchronous=FULL: an fsync), which
 * can take tens of milliseconds on a busy disk; a folder classified in the
 * background makes one prediction after another. So the window does not
 * write them itself: it hands copies to this writer, whose single pool
 * thread holds its own connection to the case file (SQLite in WAL mode
 * lets the window's connection read and write reviews meanwhile) and
 * writes them in order. The model is recorded once per connection, and a
 * prediction the case already has (same image, same model SHA-256) is not
 * written again. Results come back on the main thread as signals.
 *
 * Disposing the writer waits for the queued writes: a closed window has
 * written every prediction it showed.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-case-writer"

#include "config.h"

#include <glib/gi18n.h>

#include "di-case.h"
#include "di-case-writer.h"
#include "di-heatmap.h"
#include "di-model-info.h"
#include "di-prediction.h"

typedef struct
{
  char *filename;
  DiCase *kase;           /* opened by the pool thread, on first use */
  GHashTable *models;     /* model SHA-256s recorded through @kase */
} WriterState;

typedef enum {
  WRITE_PREDICTION,
  WRITE_EXPLANATION,
} WriteKind;

typedef struct
{
  WriteKind kind;
  GWeakRef writer;        /* read on the main thread only */
  GMainContext *context;
  gint64 image_id;
  DiModelInfo *model;

  /* WRITE_PREDICTION */
  float *probabilities;
  float *logits;
  int n_classes;
  double temperature;
  int n_views;
  int *view_top;

  /* WRITE_EXPLANATION */
  float *values;
  int width;
  int height;
  const char *method;
  int stage;
  int target;

  /* Written by the pool thread */
  gboolean written;
  GError *error;
} WriteJob;

struct _DiCaseWriter
{
  GObject parent_instance;

  /* Owned References */
  char *filename;
  GThreadPool *pool;
  WriterState *state;     /* the pool thread's while the pool runs */
  GMainContext *context;

  guint pending;
};

G_DEFINE_FINAL_TYPE (DiCaseWriter, di_case_writer, G_TYPE_OBJECT)

enum {
  WRITTEN,
  FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
writer_state_free (WriterState *state)
{
  g_free (state->filename);
  g_clear_object (&state->kase);
  g_clear_pointer (&state->models, g_hash_table_unref);
  g_free (state);
}

static void
write_job_free (gpointer data)
{
  WriteJob *job = data;

  g_weak_ref_clear (&job->writer);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_pointer (&job->model, di_model_info_unref);
  g_free (job->probabilities);
  g_free (job->logits);
  g_free (job->view_top);
  g_free (job->values);
  g_clear_error (&job->error);
  g_free (job);
}

/* Main thread. */
static gboolean
job_done_cb (gpointer data)
{
  WriteJob *job = data;
  g_autoptr(DiCaseWriter) self = g_weak_ref_get (&job->writer);

  if (self == NULL)
    return G_SOURCE_REMOVE;

  self->pending--;
  if (job->error != NULL)
    {
      g_message ("%s: %s", self->filename, job->error->message);
      g_signal_emit (self, signals[FAILED], 0, job->error->message);
    }
  else if (job->written)
    g_signal_emit (self, signals[WRITTEN], 0, job->image_id);

  return G_SOURCE_REMOVE;
}

static gboolean
ensure_model (WriterState  *state,
              DiModelInfo  *model,
              GError      **error)
{
  const char *sha256 = di_model_info_get_sha256 (model);

  if (g_hash_table_contains (state->models, sha256))
    return TRUE;
  if (!di_case_add_model (state->kase, sha256, di_model_info_get_file_name (model),
                          di_model_info_get_class_names (model),
                          di_model_info_get_metadata (model), error))
    return FALSE;
  g_hash_table_add (state->models, g_strdup (sha256));
  return TRUE;
}

/* Pool thread: one job, in order. */
static void
write_func (gpointer data,
            gpointer user_data)
{
  WriteJob *job = data;
  WriterState *state = user_data;
  const char *sha256 = di_model_info_get_sha256 (job->model);

  if (state->kase == NULL)
    state->kase = di_case_open (state->filename, &job->error);

  if (state->kase != NULL && ensure_model (state, job->model, &job->error))
    {
      switch (job->kind)
        {
        case WRITE_PREDICTION:
          if (!di_case_has_prediction (state->kase, job->image_id, sha256))
            job->written = di_case_add_prediction (state->kase, job->image_id, sha256,
                                                   job->probabilities, job->logits, job->n_classes,
                                                   job->temperature, job->n_views, job->view_top,
                                                   &job->error) > 0;
          break;

        case WRITE_EXPLANATION:
          {
            g_autoptr(DiCaseExplanation) stored =
              di_case_dup_explanation (state->kase, job->image_id, sha256, job->method);

            if (stored == NULL)
              job->written = di_case_add_explanation (state->kase, job->image_id, sha256,
                                                      job->method, job->stage, job->target,
                                                      job->values, job->width, job->height,
                                                      &job->error) > 0;
          }
          break;

        default:
          g_assert_not_reached ();
        }
    }

  /* Never a reference to the writer here: the last one must not be
   * dropped on this thread, whose pool the writer's dispose waits for. And
   * not g_main_context_invoke(), which may run the callback right here when
   * the main thread is not iterating. */
  {
    GSource *source = g_idle_source_new ();

    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, job_done_cb, job, write_job_free);
    g_source_set_static_name (source, "[di-case-writer] done");
    g_source_attach (source, job->context);
    g_source_unref (source);
  }
}

static void
start_pool (DiCaseWriter *self)
{
  g_autoptr(GError) error = NULL;

  self->state = g_new0 (WriterState, 1);
  self->state->filename = g_strdup (self->filename);
  self->state->models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* One thread: the writes keep their order. */
  self->pool = g_thread_pool_new (write_func, self->state, 1, FALSE, &error);
  if (self->pool == NULL)
    g_error ("Cannot start the case writer: %s", error->message);
}

static void
stop_pool (DiCaseWriter *self)
{
  if (self->pool != NULL)
    {
      /* Waits for every queued job. */
      g_thread_pool_free (g_steal_pointer (&self->pool), FALSE, TRUE);
      g_clear_pointer (&self->state, writer_state_free);
    }
}

static void
di_case_writer_dispose (GObject *object)
{
  DiCaseWriter *self = (DiCaseWriter *)object;

  stop_pool (self);

  G_OBJECT_CLASS (di_case_writer_parent_class)->dispose (object);
}

static void
di_case_writer_finalize (GObject *object)
{
  DiCaseWriter *self = (DiCaseWriter *)object;

  g_clear_pointer (&self->filename, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (di_case_writer_parent_class)->finalize (object);
}

static void
di_case_writer_class_init (DiCaseWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = di_case_writer_dispose;
  object_class->finalize = di_case_writer_finalize;

  /**
   * DiCaseWriter::written:
   * @image_id: the image whose prediction or map is now in the case
   */
  signals[WRITTEN] =
    g_signal_new ("written", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * DiCaseWriter::failed:
   * @message: why a write failed
   */
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
di_case_writer_init (DiCaseWriter *self)
{
  self->context = g_main_context_ref_thread_default ();
}

/**
 * di_case_writer_new:
 * @case_filename: the case file (it is opened again, by the writer's thread)
 *
 * Returns: (transfer full): a writer
 */
DiCaseWriter *
di_case_writer_new (const char *case_filename)
{
  DiCaseWriter *self;

  g_return_val_if_fail (case_filename != NULL, NULL);

  self = g_object_new (DI_TYPE_CASE_WRITER, NULL);
  self->filename = g_strdup (case_filename);
  start_pool (self);

  return self;
}

const char *
di_case_writer_get_filename (DiCaseWriter *self)
{
  g_return_val_if_fail (DI_IS_CASE_WRITER (self), NULL);
  return self->filename;
}

static WriteJob *
job_new (DiCaseWriter *self,
         WriteKind     kind,
         gint64        image_id,
         DiModelInfo  *model)
{
  WriteJob *job = g_new0 (WriteJob, 1);

  job->kind = kind;
  g_weak_ref_init (&job->writer, self);
  job->context = g_main_context_ref (self->context);
  job->image_id = image_id;
  job->model = di_model_info_ref (model);
  return job;
}

static void
push (DiCaseWriter *self,
      WriteJob     *job)
{
  self->pending++;
  g_thread_pool_push (self->pool, job, NULL);
}

/**
 * di_case_writer_add_prediction:
 * @image_id: the image in the case
 * @prediction: what the model said; its model must have a SHA-256
 *
 * Queues the prediction (with the model's record) for the case, unless
 * the case already has one of this model for this image.
 */
void
di_case_writer_add_prediction (DiCaseWriter *self,
                               gint64        image_id,
                               DiPrediction *prediction)
{
  DiModelInfo *model;
  WriteJob *job;
  int n;

  g_return_if_fail (DI_IS_CASE_WRITER (self));
  g_return_if_fail (image_id > 0);
  g_return_if_fail (prediction != NULL);

  model = di_prediction_get_model (prediction);
  g_return_if_fail (di_model_info_get_sha256 (model) != NULL);

  n = di_prediction_get_n_classes (prediction);
  job = job_new (self, WRITE_PREDICTION, image_id, model);
  job->n_classes = n;
  job->temperature = di_model_info_get_temperature (model);
  job->probabilities = g_new (float, n);
  job->logits = g_new (float, n);
  for (int i = 0; i < n; i++)
    {
      job->probabilities[i] = (float)di_prediction_get_probability (prediction, i);
      job->logits[i] = (float)di_prediction_get_logit (prediction, i);
    }
  job->n_views = di_prediction_get_n_views (prediction);
  if (job->n_views > 0)
    {
      job->view_top = g_new (int, job->n_views);
      for (int d = 0; d < job->n_views; d++)
        job->view_top[d] = di_prediction_get_view_top (prediction, d);
    }
  push (self, job);
}

/**
 * di_case_writer_add_explanation:
 * @model: the model that made @heatmap; it must have a SHA-256
 *
 * Queues a Grad-CAM or CBAM map for the case's report, unless the case
 * already has one of this method for this image and model.
 */
void
di_case_writer_add_explanation (DiCaseWriter *self,
                                gint64        image_id,
                                DiModelInfo  *model,
                                DiHeatmap    *heatmap)
{
  WriteJob *job;
  gsize n;

  g_return_if_fail (DI_IS_CASE_WRITER (self));
  g_return_if_fail (image_id > 0);
  g_return_if_fail (model != NULL && di_model_info_get_sha256 (model) != NULL);
  g_return_if_fail (DI_IS_HEATMAP (heatmap));

  job = job_new (self, WRITE_EXPLANATION, image_id, model);
  job->width = di_heatmap_get_width (heatmap);
  job->height = di_heatmap_get_height (heatmap);
  n = (gsize)job->width * job->height;
  job->values = g_memdup2 (di_heatmap_get_values (heatmap), n * sizeof (float));
  job->method = di_explain_method_get_nick (di_heatmap_get_method (heatmap));
  job->stage = di_heatmap_get_stage (heatmap);
  job->target = di_heatmap_get_target (heatmap);
  push (self, job);
}

/**
 * di_case_writer_get_pending:
 *
 * Returns: writes queued or running, whose signal has not come yet
 */
guint
di_case_writer_get_pending (DiCaseWriter *self)
{
  g_return_val_if_fail (DI_IS_CASE_WRITER (self), 0);
  return self->pending;
}

/**
 * di_case_writer_flush:
 *
 * Waits until every queued write is in the case file (their signals come
 * later, from the main loop). For exports, which read the case through a
 * connection of their own.
 */
void
di_case_writer_flush (DiCaseWriter *self)
{
  g_return_if_fail (DI_IS_CASE_WRITER (self));

  stop_pool (self);
  start_pool (self);
}
