/* di-report.c — the PDF report of a case (cairo PDF + PangoCairo).
 *
 * Page 1: the case, reviewer, date, the model (name, SHA-256, validation
 * figures from its "metrics.*" / "val.*" metadata) and the intended use.
 * Page 2: counts by predicted and by reviewed class, agreement, normal and
 * abnormal totals, and a Bethesda-style case category.
 * Then the cells, disagreements first, each with its thumbnail, the
 * explanation overlay drawn by di_heatmap_draw() (the viewer's own
 * function) with its legend, the probabilities, the reviewer's label and
 * note. Every page has a page number; cairo embeds (subsets) the fonts.
 *
 * Bethesda mapping of class names (case-insensitive substrings, first
 * match wins):
 *   HSIL+  hsil, scc, carcinoma, severe, moderate, cin2, cin3, cin 2, cin 3
 *   LSIL   lsil, light, mild, koilocyt, cin1, cin 1
 *   (the model groups it abnormal, or the name contains "abnormal")
 *          -> "Abnormal, not mapped"
 *   NILM   nilm, normal, negative, superficial, superficiel, intermediate,
 *          parabasal, columnar, metaplastic; or the model groups it normal
 *   else   not determined
 * The case category is the most severe category among the cells: the
 * reviewer's label where there is one, else the AI's call. A case whose
 * worst category is NILM but which has cells of unknown category is "not
 * determined".
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-report"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <pango/pangocairo.h>

#include <dinet/dinet.h>

#include "di-export.h"
#include "di-heatmap.h"
#include "di-region.h"
#include "di-report.h"

struct _DiReport
{
  GObject parent_instance;

  /* Owned References */
  DiCase *kase;
  char *reviewer;
  char *model_sha256;

  DiReportPaper paper;
  DiColormap colormap;
  double opacity;
  int n_pages;
};

G_DEFINE_FINAL_TYPE (DiReport, di_report, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (DiReportPaper, di_report_paper,
  G_DEFINE_ENUM_VALUE (DI_REPORT_PAPER_A4, "a4"),
  G_DEFINE_ENUM_VALUE (DI_REPORT_PAPER_LETTER, "letter"))

enum {
  PROP_0,
  PROP_CASE,
  PROP_REVIEWER,
  PROP_PAPER,
  PROP_COLORMAP,
  PROP_OPACITY,
  PROP_MODEL_SHA256,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- Bethesda ------------------------------------------------------- */

static gboolean
contains_any (const char         *haystack,
              const char * const *needles)
{
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (haystack, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

/**
 * di_bethesda_from_class:
 * @class_name: a class name
 * @abnormal: the model's grouping of the class: 1 abnormal, 0 normal,
 *   -1 unknown
 *
 * Maps a class to a Bethesda-style category (see the top of di-report.c).
 */
DiBethesda
di_bethesda_from_class (const char *class_name,
                        int         abnormal)
{
  static const char * const hsil[] = {
    "hsil", "scc", "carcinoma", "severe", "moderate", "cin2", "cin3", "cin 2", "cin 3", NULL
  };
  static const char * const lsil[] = {
    "lsil", "light", "mild", "koilocyt", "cin1", "cin 1", NULL
  };
  static const char * const nilm[] = {
    "nilm", "normal", "negative", "superficial", "superficiel", "intermediate",
    "parabasal", "columnar", "metaplastic", NULL
  };
  g_autofree char *name = NULL;

  if (class_name == NULL)
    return DI_BETHESDA_UNKNOWN;

  name = g_utf8_strdown (class_name, -1);
  if (contains_any (name, hsil))
    return DI_BETHESDA_HSIL_PLUS;
  if (contains_any (name, lsil))
    return DI_BETHESDA_LSIL;
  if (abnormal == 1 || strstr (name, "abnormal") != NULL)
    return DI_BETHESDA_ABNORMAL;
  if (abnormal == 0 || contains_any (name, nilm))
    return DI_BETHESDA_NILM;
  return DI_BETHESDA_UNKNOWN;
}

const char *
di_bethesda_get_label (DiBethesda category)
{
  switch (category)
    {
    /* TRANSLATORS: Bethesda system abbreviations; usually kept as they are */
    case DI_BETHESDA_NILM: return C_("bethesda", "NILM");
    case DI_BETHESDA_LSIL: return C_("bethesda", "LSIL");
    case DI_BETHESDA_HSIL_PLUS: return C_("bethesda", "HSIL+");
    case DI_BETHESDA_ABNORMAL: return _("Abnormal, not mapped");
    case DI_BETHESDA_UNKNOWN:
    default: return _("Not determined");
    }
}

/* ---- GObject -------------------------------------------------------- */

static void
di_report_dispose (GObject *object)
{
  DiReport *self = (DiReport *)object;

  g_clear_object (&self->kase);

  G_OBJECT_CLASS (di_report_parent_class)->dispose (object);
}

static void
di_report_finalize (GObject *object)
{
  DiReport *self = (DiReport *)object;

  g_clear_pointer (&self->reviewer, g_free);
  g_clear_pointer (&self->model_sha256, g_free);

  G_OBJECT_CLASS (di_report_parent_class)->finalize (object);
}

static void
di_report_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  DiReport *self = DI_REPORT (object);

  switch (prop_id)
    {
    case PROP_CASE:
      g_value_set_object (value, self->kase);
      break;

    case PROP_REVIEWER:
      g_value_set_string (value, self->reviewer);
      break;

    case PROP_PAPER:
      g_value_set_enum (value, self->paper);
      break;

    case PROP_COLORMAP:
      g_value_set_enum (value, self->colormap);
      break;

    case PROP_OPACITY:
      g_value_set_double (value, self->opacity);
      break;

    case PROP_MODEL_SHA256:
      g_value_set_string (value, self->model_sha256);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_report_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  DiReport *self = DI_REPORT (object);

  switch (prop_id)
    {
    case PROP_CASE:
      self->kase = g_value_dup_object (value);
      break;

    case PROP_REVIEWER:
      di_report_set_reviewer (self, g_value_get_string (value));
      break;

    case PROP_PAPER:
      di_report_set_paper (self, g_value_get_enum (value));
      break;

    case PROP_COLORMAP:
      di_report_set_colormap (self, g_value_get_enum (value));
      break;

    case PROP_OPACITY:
      di_report_set_opacity (self, g_value_get_double (value));
      break;

    case PROP_MODEL_SHA256:
      di_report_set_model_sha256 (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_report_class_init (DiReportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = di_report_dispose;
  object_class->finalize = di_report_finalize;
  object_class->get_property = di_report_get_property;
  object_class->set_property = di_report_set_property;

  properties[PROP_CASE] =
    g_param_spec_object ("case", NULL, NULL,
                         DI_TYPE_CASE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_REVIEWER] =
    g_param_spec_string ("reviewer", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PAPER] =
    g_param_spec_enum ("paper", NULL, NULL,
                       DI_TYPE_REPORT_PAPER,
                       DI_REPORT_PAPER_A4,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_COLORMAP] =
    g_param_spec_enum ("colormap", NULL, NULL,
                       DI_TYPE_COLORMAP,
                       DI_COLORMAP_JET,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_OPACITY] =
    g_param_spec_double ("opacity", NULL, NULL,
                         0.0, 1.0, 0.45,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_MODEL_SHA256] =
    g_param_spec_string ("model-sha256", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_report_init (DiReport *self)
{
  self->paper = DI_REPORT_PAPER_A4;
  self->colormap = DI_COLORMAP_JET;
  self->opacity = 0.45;
}

/**
 * di_report_new:
 *
 * Returns: (transfer full): a report of @kase with the defaults: A4, the
 *   jet colormap at opacity 0.45 (the viewer's defaults), the case's most
 *   used model
 */
DiReport *
di_report_new (DiCase *kase)
{
  g_return_val_if_fail (DI_IS_CASE (kase), NULL);

  return g_object_new (DI_TYPE_REPORT, "case", kase, NULL);
}

DiCase *
di_report_get_case (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), NULL);
  return self->kase;
}

const char *
di_report_get_reviewer (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), NULL);
  return self->reviewer;
}

/**
 * di_report_set_reviewer:
 * @reviewer: (nullable): who writes the report ("Report by" on the title
 *   page; %NULL: "—"). Who made the labels, and how many each, is listed
 *   apart ("Labels by"), unnamed reviewers included.
 */
void
di_report_set_reviewer (DiReport   *self,
                        const char *reviewer)
{
  g_return_if_fail (DI_IS_REPORT (self));

  if (g_strcmp0 (self->reviewer, reviewer) == 0)
    return;
  g_free (self->reviewer);
  self->reviewer = g_strdup (reviewer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER]);
}

DiReportPaper
di_report_get_paper (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), DI_REPORT_PAPER_A4);
  return self->paper;
}

void
di_report_set_paper (DiReport      *self,
                     DiReportPaper  paper)
{
  g_return_if_fail (DI_IS_REPORT (self));

  if (self->paper == paper)
    return;
  self->paper = paper;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAPER]);
}

DiColormap
di_report_get_colormap (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), DI_COLORMAP_JET);
  return self->colormap;
}

void
di_report_set_colormap (DiReport   *self,
                        DiColormap  colormap)
{
  g_return_if_fail (DI_IS_REPORT (self));

  if (self->colormap == colormap)
    return;
  self->colormap = colormap;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLORMAP]);
}

double
di_report_get_opacity (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), 0.45);
  return self->opacity;
}

void
di_report_set_opacity (DiReport *self,
                       double    opacity)
{
  g_return_if_fail (DI_IS_REPORT (self));

  opacity = CLAMP (opacity, 0.0, 1.0);
  if (self->opacity == opacity)
    return;
  self->opacity = opacity;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPACITY]);
}

const char *
di_report_get_model_sha256 (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), NULL);
  return self->model_sha256;
}

/**
 * di_report_set_model_sha256:
 * @model_sha256: (nullable): the model whose predictions the report shows;
 *   %NULL: the model with the most predictions in the case
 */
void
di_report_set_model_sha256 (DiReport   *self,
                            const char *model_sha256)
{
  g_return_if_fail (DI_IS_REPORT (self));

  if (g_strcmp0 (self->model_sha256, model_sha256) == 0)
    return;
  g_free (self->model_sha256);
  self->model_sha256 = g_strdup (model_sha256);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_SHA256]);
}

/**
 * di_report_get_n_pages:
 *
 * Returns: the page count of the last report written, 0 before
 */
int
di_report_get_n_pages (DiReport *self)
{
  g_return_val_if_fail (DI_IS_REPORT (self), 0);
  return self->n_pages;
}

/* ---- Gathering ------------------------------------------------------ */

typedef enum {
  GROUP_DISAGREE,
  GROUP_UNREVIEWED,
  GROUP_AGREE,
  GROUP_UNCLASSIFIED,
} CellGroup;

typedef struct
{
  DiCaseImage *image;
  DiCaseEvent *prediction;
  DiCaseExplanation *explanation;
  CellGroup group;
  double suspicion;          /* P(abnormal); -1 unknown */
  GPtrArray *regions;        /* DiCaseRegion of the image; NULL: none */
  DiSizeFit fit;             /* the image against the model's training images */
} Cell;

static void
cell_free (gpointer data)
{
  Cell *cell = data;

  di_case_image_free (cell->image);
  g_clear_pointer (&cell->prediction, di_case_event_free);
  g_clear_pointer (&cell->explanation, di_case_explanation_free);
  g_clear_pointer (&cell->regions, g_ptr_array_unref);
  g_free (cell);
}

static int
compare_cells (gconstpointer a,
               gconstpointer b)
{
  const Cell *ca = *(const Cell * const *)a;
  const Cell *cb = *(const Cell * const *)b;

  if (ca->group != cb->group)
    return (int)ca->group - (int)cb->group;
  if (ca->suspicion != cb->suspicion)
    return ca->suspicion > cb->suspicion ? -1 : 1;
  return g_strcmp0 (ca->image->path, cb->image->path);
}

static int
class_abnormal (const DiCaseModel *model,
                const char        *name)
{
  int i;

  if (model == NULL || model->abnormal == NULL)
    return -1;
  i = di_case_model_find_class (model, name);
  return i >= 0 ? model->abnormal[i] : -1;
}

typedef struct
{
  DiCase *kase;
  DiCaseModel *model;       /* nullable */
  GPtrArray *cells;         /* Cell */
  GPtrArray *class_names;   /* the model's classes, then other labels */
  GArray *predicted_counts; /* int per class_names entry */
  GArray *out_of_scope_counts; /* of those, calls on images far from the model's size */
  GArray *reviewed_counts;
  guint n_reviewed;
  guint n_classified;
  guint n_compared;         /* reviewed and classified */
  guint n_agree;
  double kappa;             /* NAN when undefined */
  guint ai_normal, ai_abnormal, ai_unknown;
  guint ai_suspicious;      /* P(abnormal) >= DINET_FLAG_THRESHOLD */
  guint ai_with_views;      /* calls whose views are known (several) */
  guint ai_views_split;     /* of those, calls whose views do not all agree */
  guint rv_normal, rv_abnormal, rv_unknown;
  DiBethesda ai_category;
  DiBethesda case_category;
  gboolean ai_lower_bound;    /* "or worse": another image's category is unknown */
  gboolean case_lower_bound;
  guint n_missing, n_changed;
  guint n_undetermined;     /* neither classified nor reviewed */
  guint n_out_of_scope;     /* classified, but far from the model's image size */
  int image_side;           /* the model's, 0 unknown */
  char *reviewers;
} Summary;

static const char *
meta (const DiCaseModel *model,
      const char        *key)
{
  return model && model->metadata ? g_hash_table_lookup (model->metadata, key) : NULL;
}

#define KAPPA_MIN_IMAGES 10

static void
summary_clear (Summary *s)
{
  g_clear_pointer (&s->model, di_case_model_free);
  g_clear_pointer (&s->cells, g_ptr_array_unref);
  g_clear_pointer (&s->class_names, g_ptr_array_unref);
  g_clear_pointer (&s->predicted_counts, g_array_unref);
  g_clear_pointer (&s->out_of_scope_counts, g_array_unref);
  g_clear_pointer (&s->reviewed_counts, g_array_unref);
  g_clear_pointer (&s->reviewers, g_free);
}

static guint
class_slot (Summary    *s,
            const char *name)
{
  for (guint i = 0; i < s->class_names->len; i++)
    if (g_strcmp0 (g_ptr_array_index (s->class_names, i), name) == 0)
      return i;
  g_ptr_array_add (s->class_names, g_strdup (name));
  g_array_set_size (s->predicted_counts, s->class_names->len);
  g_array_set_size (s->out_of_scope_counts, s->class_names->len);
  g_array_set_size (s->reviewed_counts, s->class_names->len);
  return s->class_names->len - 1;
}

/* A cell's category from its class, where a screening flag (suspicion,
 * P(abnormal), at or above DINET_FLAG_THRESHOLD) outranks a normal class;
 * suspicion -1 when there is none to apply. */
static DiBethesda
cell_category (const Summary *s,
               const char    *class_name,
               double         suspicion)
{
  DiBethesda c = di_bethesda_from_class (class_name, class_abnormal (s->model, class_name));

  if (c == DI_BETHESDA_NILM && suspicion >= DINET_FLAG_THRESHOLD)
    return DI_BETHESDA_ABNORMAL;
  return c;
}

/* The category of the AI's call on a cell. A call on an image far from
 * the size of the model's training images (a field given to a model of
 * single cells) cannot vouch for NILM: it counts as not determined. */
static DiBethesda
ai_category (const Summary *s,
             const Cell    *cell,
             const char    *predicted)
{
  DiBethesda c = cell_category (s, predicted, cell->suspicion);

  if (c == DI_BETHESDA_NILM && cell->fit != DI_SIZE_FITS)
    return DI_BETHESDA_UNKNOWN;
  return c;
}

/* The most severe category, with the "NILM but some unknown" rule;
 * *lower_bound: another image's category is unknown (unreadable, not
 * classified, or an AI call that may not apply), so it could be worse. */
static DiBethesda
combine_categories (const GArray *categories,
                    gboolean     *lower_bound)
{
  DiBethesda worst = DI_BETHESDA_UNKNOWN;
  gboolean any_unknown = FALSE;

  for (guint i = 0; i < categories->len; i++)
    {
      DiBethesda c = g_array_index (categories, DiBethesda, i);

      if (c == DI_BETHESDA_UNKNOWN)
        any_unknown = TRUE;
      worst = MAX (worst, c);
    }
  *lower_bound = any_unknown && worst != DI_BETHESDA_UNKNOWN && worst != DI_BETHESDA_NILM &&
                 worst != DI_BETHESDA_HSIL_PLUS;
  if (worst == DI_BETHESDA_NILM && any_unknown)
    return DI_BETHESDA_UNKNOWN;
  return worst;
}

static void
gather (DiReport *self,
        Summary  *s)
{
  g_autoptr(GPtrArray) images = di_case_dup_images (self->kase);
  g_autoptr(GPtrArray) models = di_case_dup_models (self->kase);
  g_autoptr(GArray) ai_categories = g_array_new (FALSE, FALSE, sizeof (DiBethesda));
  g_autoptr(GArray) case_categories = g_array_new (FALSE, FALSE, sizeof (DiBethesda));
  g_autoptr(GHashTable) reviewers = g_hash_table_new (g_str_hash, g_str_equal);  /* name -> labels */
  g_autoptr(GPtrArray) reviewer_order = g_ptr_array_new ();
  g_autoptr(GString) reviewer_list = g_string_new (NULL);
  const char *sha = self->model_sha256;
  double po, pe = 0.0;

  s->kase = self->kase;
  if (sha != NULL)
    s->model = di_case_dup_model (self->kase, sha);
  else if (models->len > 0)
    s->model = di_case_model_copy (g_ptr_array_index (models, 0));
  if (s->model != NULL)
    sha = s->model->sha256;

  s->cells = g_ptr_array_new_with_free_func (cell_free);
  s->class_names = g_ptr_array_new_with_free_func (g_free);
  s->predicted_counts = g_array_new (FALSE, TRUE, sizeof (int));
  s->out_of_scope_counts = g_array_new (FALSE, TRUE, sizeof (int));
  s->reviewed_counts = g_array_new (FALSE, TRUE, sizeof (int));
  for (int i = 0; s->model != NULL && i < s->model->n_classes; i++)
    class_slot (s, s->model->classes[i]);
  if (meta (s->model, "data.image_side") != NULL)
    {
      /* as the engine reads it: a side in 1 .. 1e6 pixels, else unknown */
      gint64 side = g_ascii_strtoll (meta (s->model, "data.image_side"), NULL, 10);

      s->image_side = side >= 1 && side <= 1000000 ? (int)side : 0;
    }

  for (guint i = 0; i < images->len; i++)
    {
      DiCaseImage *image = g_ptr_array_index (images, i);
      Cell *cell = g_new0 (Cell, 1);
      const char *predicted = NULL;
      guint slot;
      int ab;

      cell->suspicion = -1;
      cell->image = di_case_image_copy (image);
      cell->regions = di_case_dup_regions (self->kase, image->id);
      if (cell->regions->len == 0)
        g_clear_pointer (&cell->regions, g_ptr_array_unref);
      cell->prediction = di_case_dup_prediction (self->kase, image->id, sha);
      if (cell->prediction != NULL)
        {
          int top = di_case_event_get_top (cell->prediction);

          predicted = top >= 0 ? cell->prediction->classes[top] : NULL;
          cell->explanation = di_case_dup_explanation (self->kase, image->id,
                                                       cell->prediction->model_sha256, "gradcam");
          if (cell->explanation == NULL)
            cell->explanation = di_case_dup_explanation (self->kase, image->id,
                                                         cell->prediction->model_sha256, NULL);
          cell->suspicion = di_case_event_get_abnormal (cell->prediction, s->model);
          /* a field given to a model of single cells: the call may not apply */
          if (s->image_side > 0 && image->status == DI_CASE_IMAGE_OK && image->filename != NULL)
            {
              dinet_error err = {0};
              int w = 0, h = 0;

              if (dinet_image_probe (image->filename, NULL, &w, &h, &err) == 0)
                cell->fit = di_size_fit (s->image_side, w, h);
              if (cell->fit != DI_SIZE_FITS)
                s->n_out_of_scope++;
            }
        }

      if (predicted == NULL)
        cell->group = GROUP_UNCLASSIFIED;
      else if (image->label == NULL)
        cell->group = GROUP_UNREVIEWED;
      else if (g_strcmp0 (image->label, predicted) == 0)
        cell->group = GROUP_AGREE;
      else
        cell->group = GROUP_DISAGREE;

      if (image->status == DI_CASE_IMAGE_MISSING)
        s->n_missing++;
      else if (image->status == DI_CASE_IMAGE_CHANGED)
        s->n_changed++;

      if (predicted != NULL)
        {
          DiBethesda c;

          s->n_classified++;
          /* the slot first: a new slot reallocates the counts */
          slot = class_slot (s, predicted);
          g_array_index (s->predicted_counts, int, slot)++;
          if (cell->prediction->n_views > 1)
            {
              s->ai_with_views++;
              s->ai_views_split += di_case_event_get_views_split (cell->prediction);
            }
          if (cell->fit != DI_SIZE_FITS)
            g_array_index (s->out_of_scope_counts, int, slot)++;
          ab = class_abnormal (s->model, predicted);
          if (cell->suspicion >= DINET_FLAG_THRESHOLD)
            s->ai_suspicious++;
          if (ab == 1)
            s->ai_abnormal++;
          else if (ab == 0)
            s->ai_normal++;
          else
            s->ai_unknown++;
          c = ai_category (s, cell, predicted);
          g_array_append_val (ai_categories, c);
        }
      if (image->label != NULL)
        {
          s->n_reviewed++;
          slot = class_slot (s, image->label);
          g_array_index (s->reviewed_counts, int, slot)++;
          ab = class_abnormal (s->model, image->label);
          if (ab == 1)
            s->rv_abnormal++;
          else if (ab == 0)
            s->rv_normal++;
          else
            s->rv_unknown++;
          if (predicted != NULL)
            {
              s->n_compared++;
              if (g_strcmp0 (predicted, image->label) == 0)
                s->n_agree++;
            }
        }
      if (image->label != NULL || predicted != NULL)
        {
          /* the reviewer's label wins; else the AI's call, flag included */
          DiBethesda c = image->label ? cell_category (s, image->label, -1)
                                      : ai_category (s, cell, predicted);

          g_array_append_val (case_categories, c);
        }
      else
        {
          /* An image nobody has classified or reviewed (unreadable, or not
           * classified yet) leaves the case undetermined: it cannot be NILM. */
          DiBethesda c = DI_BETHESDA_UNKNOWN;

          g_array_append_val (case_categories, c);
          s->n_undetermined++;
        }
      if (predicted == NULL)
        {
          /* nor can the AI's category be NILM with an image it did not see */
          DiBethesda c = DI_BETHESDA_UNKNOWN;

          g_array_append_val (ai_categories, c);
        }
      /* who labelled how many images, unnamed reviewers counted too */
      if (image->label != NULL)
        {
          const char *who = image->reviewer != NULL && *image->reviewer ? image->reviewer : "";

          if (!g_hash_table_contains (reviewers, who))
            g_ptr_array_add (reviewer_order, (gpointer)who);
          g_hash_table_insert (reviewers, (gpointer)who,
                               GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (reviewers, who)) + 1));
        }

      g_ptr_array_add (s->cells, cell);
    }

  g_ptr_array_sort (s->cells, compare_cells);
  s->ai_category = combine_categories (ai_categories, &s->ai_lower_bound);
  s->case_category = combine_categories (case_categories, &s->case_lower_bound);
  for (guint i = 0; i < reviewer_order->len; i++)
    {
      const char *who = g_ptr_array_index (reviewer_order, i);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (reviewers, who));

      if (reviewer_list->len > 0)
        g_string_append (reviewer_list, ", ");
      /* TRANSLATORS: who labelled how many images on the title page: "jd (1), unnamed reviewer (6)" */
      g_string_append_printf (reviewer_list, _("%s (%u)"), *who ? who : _("unnamed reviewer"), n);
    }
  s->reviewers = g_string_free (g_steal_pointer (&reviewer_list), FALSE);

  /* Cohen's kappa between the AI and the reviewer over compared cells;
   * over fewer than KAPPA_MIN_IMAGES it is noise (a trial saw −0.12 over
   * three), so the report leaves it out. */
  s->kappa = NAN;
  if (s->n_compared >= KAPPA_MIN_IMAGES)
    {
      g_autoptr(GArray) ai = g_array_new (FALSE, TRUE, sizeof (int));
      g_autoptr(GArray) rv = g_array_new (FALSE, TRUE, sizeof (int));

      for (guint i = 0; i < s->cells->len; i++)
        {
          Cell *cell = g_ptr_array_index (s->cells, i);
          guint a, r;

          if (cell->prediction == NULL || cell->image->label == NULL)
            continue;
          a = class_slot (s, cell->prediction->classes[di_case_event_get_top (cell->prediction)]);
          r = class_slot (s, cell->image->label);
          g_array_set_size (ai, s->class_names->len);
          g_array_set_size (rv, s->class_names->len);
          g_array_index (ai, int, a)++;
          g_array_index (rv, int, r)++;
        }
      g_array_set_size (ai, s->class_names->len);
      g_array_set_size (rv, s->class_names->len);
      po = (double)s->n_agree / s->n_compared;
      for (guint k = 0; k < s->class_names->len; k++)
        pe += (double)g_array_index (ai, int, k) * g_array_index (rv, int, k) /
              ((double)s->n_compared * s->n_compared);
      if (pe < 1.0)
        s->kappa = (po - pe) / (1.0 - pe);
    }
}

/* ---- Drawing -------------------------------------------------------- */

#define MARGIN 50.0
#define HEADER_H 24.0
#define FOOTER_H 24.0
#define THUMB 140.0
#define GAP 12.0
#define CELL_H 212.0
#define THUMB_PIXELS 360

typedef struct
{
  cairo_t *cr;
  cairo_surface_t *surface;
  PangoContext *pango;
  double width;
  double height;
  int page;
  int n_pages;
  char *title;
  char *date;
} Ctx;

static PangoLayout *
make_layout (Ctx        *ctx,
             const char *font,
             double      width)
{
  PangoLayout *layout = pango_layout_new (ctx->pango);
  PangoFontDescription *desc = pango_font_description_from_string (font);

  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  if (width > 0)
    {
      pango_layout_set_width (layout, (int)(width * PANGO_SCALE));
      pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
    }
  return layout;
}

/* Draws text (markup when @markup) at x, y; returns its height. */
static double
draw_text_full (Ctx            *ctx,
                double          x,
                double          y,
                double          width,
                const char     *font,
                const char     *text,
                gboolean        markup,
                PangoAlignment  align,
                int             max_lines)
{
  g_autoptr(PangoLayout) layout = make_layout (ctx, font, width);
  int w, h;

  if (max_lines > 0)
    {
      pango_layout_set_height (layout, -max_lines);
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
    }
  pango_layout_set_alignment (layout, align);
  if (markup)
    pango_layout_set_markup (layout, text, -1);
  else
    pango_layout_set_text (layout, text, -1);
  pango_layout_get_size (layout, &w, &h);
  cairo_move_to (ctx->cr, x, y);
  pango_cairo_show_layout (ctx->cr, layout);
  return (double)h / PANGO_SCALE;
}

static double
draw_text (Ctx        *ctx,
           double      x,
           double      y,
           double      width,
           const char *font,
           const char *text)
{
  return draw_text_full (ctx, x, y, width, font, text, FALSE, PANGO_ALIGN_LEFT, 0);
}

static double
draw_markup (Ctx        *ctx,
             double      x,
             double      y,
             double      width,
             const char *font,
             const char *markup)
{
  return draw_text_full (ctx, x, y, width, font, markup, TRUE, PANGO_ALIGN_LEFT, 0);
}

static void
set_gray (Ctx    *ctx,
          double  v)
{
  cairo_set_source_rgb (ctx->cr, v, v, v);
}

static void
rule (Ctx    *ctx,
      double  y)
{
  cairo_save (ctx->cr);
  set_gray (ctx, 0.75);
  cairo_set_line_width (ctx->cr, 0.5);
  cairo_move_to (ctx->cr, MARGIN, y);
  cairo_line_to (ctx->cr, ctx->width - MARGIN, y);
  cairo_stroke (ctx->cr);
  cairo_restore (ctx->cr);
}

static void
begin_page (Ctx *ctx)
{
  g_autofree char *page = NULL;

  ctx->page++;
  set_gray (ctx, 0.35);
  draw_text (ctx, MARGIN, MARGIN - HEADER_H, ctx->width / 2, "Sans 8", ctx->title);
  draw_text_full (ctx, ctx->width / 2, MARGIN - HEADER_H, ctx->width / 2 - MARGIN, "Sans 8",
                  ctx->date, FALSE, PANGO_ALIGN_RIGHT, 1);
  rule (ctx, MARGIN - 8);

  rule (ctx, ctx->height - MARGIN + 6);
  draw_text (ctx, MARGIN, ctx->height - MARGIN + 10, ctx->width / 2, "Sans 8",
             _("DeepInsight — decision support, not a diagnosis"));
  /* TRANSLATORS: page number in a report footer: "Page 3 of 7" */
  page = g_strdup_printf (_("Page %d of %d"), ctx->page, ctx->n_pages);
  draw_text_full (ctx, ctx->width / 2, ctx->height - MARGIN + 10, ctx->width / 2 - MARGIN,
                  "Sans 8", page, FALSE, PANGO_ALIGN_RIGHT, 1);
  set_gray (ctx, 0.0);
}

static void
end_page (Ctx *ctx)
{
  cairo_show_page (ctx->cr);
}

static double
heading (Ctx        *ctx,
         double      y,
         const char *text)
{
  double h;

  set_gray (ctx, 0.1);
  h = draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Bold 13", text);
  set_gray (ctx, 0.0);
  return h + 6;
}

/* A two-column table of label/value rows; returns the height used. */
static double
key_values (Ctx                *ctx,
            double              y,
            double              key_width,
            const char * const *rows,
            const char         *value_font)
{
  double y0 = y;

  for (guint i = 0; rows[i] != NULL && rows[i + 1] != NULL; i += 2)
    {
      double h1, h2;

      set_gray (ctx, 0.35);
      h1 = draw_text (ctx, MARGIN, y, key_width - 8, "Sans 9.5", rows[i]);
      set_gray (ctx, 0.0);
      h2 = draw_text (ctx, MARGIN + key_width, y, ctx->width - 2 * MARGIN - key_width,
                      value_font ? value_font : "Sans 9.5", rows[i + 1]);
      y += MAX (h1, h2) + 4;
    }
  return y - y0;
}

static char *
format_percent (double p)
{
  /* a no-break space: "33.2 %" never wraps between number and sign */
  return di_format_probability (p, "\u00a0");
}

/* Readable names of the figures `dinet calibrate` stores; other keys are
 * shown as they are, without the "metrics." prefix. */
static const struct { const char *key; const char *label; } figure_labels[] = {
  { "metrics.val_accuracy", N_("Accuracy") },
  { "metrics.val_balanced_accuracy", N_("Balanced accuracy") },
  { "metrics.val_macro_f1", N_("Macro F1") },
  { "metrics.val_ece", N_("Calibration error (ECE)") },
  { "metrics.val_abnormal_sensitivity", N_("Sensitivity, abnormal") },
  { "metrics.val_specificity", N_("Specificity") },
  { "metrics.val_binary_accuracy", N_("Normal/abnormal accuracy") },
  { "metrics.val_flag_sensitivity", N_("Sensitivity, P(abnormal) ≥ 0.5") },
  { "metrics.val_flag_specificity", N_("Specificity, P(abnormal) ≥ 0.5") },
  { "metrics.val_images", N_("Validation images") },
};

static char *
figure_label (const char *key)
{
  const char *dot = strchr (key, '.');
  char *name;

  for (guint i = 0; i < G_N_ELEMENTS (figure_labels); i++)
    if (g_str_equal (key, figure_labels[i].key))
      return g_strdup (_(figure_labels[i].label));

  name = g_strdup (dot ? dot + 1 : key);
  g_strdelimit (name, "_", ' ');
  return name;
}

/* Known figures in the table's order, then the others by name. */
static int
compare_figures (gconstpointer a,
                 gconstpointer b)
{
  const char *ka = *(const char * const *)a;
  const char *kb = *(const char * const *)b;
  guint ia = G_N_ELEMENTS (figure_labels), ib = G_N_ELEMENTS (figure_labels);

  for (guint i = 0; i < G_N_ELEMENTS (figure_labels); i++)
    {
      if (g_str_equal (ka, figure_labels[i].key))
        ia = i;
      if (g_str_equal (kb, figure_labels[i].key))
        ib = i;
    }
  if (ia != ib)
    return ia < ib ? -1 : 1;
  return g_strcmp0 (ka, kb);
}

static void
draw_title_page (DiReport *self,
                 Ctx      *ctx,
                 Summary  *s)
{
  g_autofree char *title = di_case_dup_title (self->kase);
  g_autofree char *n_images = g_strdup_printf ("%u", s->cells->len);
  g_autofree char *n_reviewed = g_strdup_printf ("%u", s->n_reviewed);
  const char *reviewer = self->reviewer && *self->reviewer ? self->reviewer : "—";
  double y = MARGIN + 10;
  double box_h;

  begin_page (ctx);

  set_gray (ctx, 0.1);
  y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Bold 22", _("Case report"));
  set_gray (ctx, 0.3);
  y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans 15", title) + 18;
  set_gray (ctx, 0.0);

  {
    const char *rows[] = {
      _("Case file"), di_case_get_filename (self->kase),
      _("Report by"), reviewer,
      _("Date"), ctx->date,
      _("Images"), n_images,
      _("Reviewed"), n_reviewed,
      _("Labels by"), s->reviewers && *s->reviewers ? s->reviewers : "—",
      NULL, NULL,
    };
    y += key_values (ctx, y, 110, rows, NULL) + 16;
  }

  y += heading (ctx, y, _("Model"));
  if (s->model == NULL)
    {
      y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans 9.5",
                      _("No image of this case has been classified.")) + 16;
    }
  else
    {
      g_autoptr(GString) classes = g_string_new (NULL);
      g_autoptr(GString) abnormal = g_string_new (NULL);
      g_autofree char *size_text = NULL;
      g_autofree char *crop_text = NULL;
      const char *arch = meta (s->model, "arch");
      const char *size = meta (s->model, "input_size");
      const char *temperature = meta (s->model, "temperature");
      const char *crop = meta (s->model, "center_crop");
      const char *tta = meta (s->model, DINET_META_TTA);

      /* Readable names, with the model's own where they differ: the CSV
       * and the retraining pack use those. */
      for (int i = 0; i < s->model->n_classes; i++)
        {
          const char *name = s->model->classes[i];

          if (classes->len > 0)
            g_string_append (classes, ", ");
          if (g_strcmp0 (di_class_get_title (name), name) != 0)
            g_string_append_printf (classes, "%s (%s)", di_class_get_title (name), name);
          else
            g_string_append (classes, name);
        }
      if (size != NULL)
        /* TRANSLATORS: the network's input, e.g. "128 × 128 px" */
        size_text = g_strdup_printf (_("%s × %s px"), size, size);
      if (crop != NULL && g_ascii_strtod (crop, NULL) > 0 && g_ascii_strtod (crop, NULL) < 1)
        {
          g_autofree char *pct = g_strdup_printf ("%.0f", 100 * g_ascii_strtod (crop, NULL));

          /* TRANSLATORS: %s is a percentage without its sign */
          crop_text = g_strdup_printf (_("the central %s %% of each side is analysed"), pct);
        }
      for (int i = 0; s->model->abnormal && i < s->model->n_classes; i++)
        if (s->model->abnormal[i] == 1)
          g_string_append_printf (abnormal, "%s%s", abnormal->len ? ", " : "",
                                  di_class_get_title (s->model->classes[i]));

      {
        const char *rows[] = {
          _("Name"), s->model->name,
          _("Architecture"), arch ? arch : "—",
          _("Classes"), classes->str,
          _("Abnormal group"), abnormal->len ? abnormal->str : _("not defined by the model"),
          _("Input size"), size_text ? size_text : "—",
          _("Centre crop"), crop_text ? crop_text : _("none: the whole image is analysed"),
          _("Temperature"), temperature ? temperature : _("1 (not calibrated)"),
          _("Views"), g_strcmp0 (tta, DINET_TTA_DIHEDRAL8) == 0
                        ? _("mean of 8 orientations (rotations and mirror images)")
                        : _("one"),
          NULL, NULL,
        };
        y += key_values (ctx, y, 110, rows, NULL);
      }
      {
        const char *rows[] = { _("SHA-256"), s->model->sha256, NULL, NULL };
        y += key_values (ctx, y, 110, rows, "Monospace 8.5") + 14;
      }

      y += heading (ctx, y, _("Validation figures"));
      {
        g_autoptr(GPtrArray) keys = g_ptr_array_new ();
        g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init (&iter, s->model->metadata);
        while (g_hash_table_iter_next (&iter, &key, NULL))
          if (g_str_has_prefix (key, "metrics.") || g_str_has_prefix (key, "val.") ||
              g_str_has_prefix (key, "validation."))
            g_ptr_array_add (keys, key);
        g_ptr_array_sort (keys, compare_figures);

        for (guint i = 0; i < keys->len; i++)
          {
            const char *k = g_ptr_array_index (keys, i);

            const char *v = g_hash_table_lookup (s->model->metadata, k);
            char *end = NULL;
            double f = v ? g_ascii_strtod (v, &end) : NAN;

            g_ptr_array_add (rows, figure_label (k));
            /* rates as percentages, like the rest of the report; counts as they are */
            if (end != NULL && *end == '\0' && end != v && strchr (v, '.') != NULL && f >= 0 && f <= 1)
              g_ptr_array_add (rows, format_percent (f));
            else
              g_ptr_array_add (rows, g_strdup (v));
          }
        g_ptr_array_add (rows, NULL);
        g_ptr_array_add (rows, NULL);

        if (keys->len == 0)
          y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans 9.5",
                          _("The model file carries no validation figures (metadata \"metrics.*\").")) + 14;
        else
          {
            y += key_values (ctx, y, 160, (const char * const *)rows->pdata, NULL);
            set_gray (ctx, 0.4);
            y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Italic 8",
                            _("As recorded in the model file by whoever validated it; not measured on this case.")) + 14;
            set_gray (ctx, 0.0);
          }
      }
    }

  /* Intended use, in a box at the bottom of the page. */
  {
    g_autoptr(PangoLayout) layout = make_layout (ctx, "Sans 9.5", ctx->width - 2 * MARGIN - 24);
    g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b>\n%s",
                                                       _("Intended use: decision support, not a diagnosis."),
                                                       _("DeepInsight ranks and explains cell images to help a qualified "
                                                         "cytologist screen a Pap smear. Its classes, probabilities and "
                                                         "heat maps are not a diagnosis; every result must be confirmed by "
                                                         "the reviewer, and the reviewer's labels are what this report "
                                                         "records as the case's findings."));
    int w, h;
    double top;

    pango_layout_set_markup (layout, markup, -1);
    pango_layout_get_size (layout, &w, &h);
    box_h = (double)h / PANGO_SCALE + 24;
    top = MAX (y + 10, ctx->height - MARGIN - 20 - box_h);

    cairo_rectangle (ctx->cr, MARGIN, top, ctx->width - 2 * MARGIN, box_h);
    cairo_set_source_rgb (ctx->cr, 1.0, 0.97, 0.88);
    cairo_fill_preserve (ctx->cr);
    cairo_set_source_rgb (ctx->cr, 0.85, 0.6, 0.1);
    cairo_set_line_width (ctx->cr, 1.0);
    cairo_stroke (ctx->cr);
    set_gray (ctx, 0.1);
    cairo_move_to (ctx->cr, MARGIN + 12, top + 12);
    pango_cairo_show_layout (ctx->cr, layout);
    set_gray (ctx, 0.0);
  }

  end_page (ctx);
}

static void
draw_summary_page (DiReport *self,
                   Ctx      *ctx,
                   Summary  *s)
{
  const double col[] = { MARGIN, MARGIN + 150, MARGIN + 215, MARGIN + 320, MARGIN + 425 };
  double y = MARGIN + 10;
  g_autofree char *agreement = NULL;
  g_autofree char *ai_totals = NULL;
  g_autofree char *ai_suspicious = NULL;
  g_autofree char *ai_split = NULL;
  g_autofree char *rv_totals = NULL;

  begin_page (ctx);
  y += heading (ctx, y, _("Summary")) + 4;

  /* Counts by class. */
  set_gray (ctx, 0.35);
  draw_text (ctx, col[0], y, 145, "Sans Bold 9", _("Class"));
  draw_text (ctx, col[1], y, 60, "Sans Bold 9", _("Group"));
  draw_text (ctx, col[2], y, 105, "Sans Bold 9", _("Bethesda"));
  draw_text_full (ctx, col[3], y, 70, "Sans Bold 9", _("AI calls"), FALSE, PANGO_ALIGN_RIGHT, 1);
  /* right-aligned with the counts, free to reach left over the empty space */
  draw_text_full (ctx, col[4] - 40, y, 110, "Sans Bold 9", _("Reviewer labels"), FALSE, PANGO_ALIGN_RIGHT, 1);
  set_gray (ctx, 0.0);
  y += 16;
  rule (ctx, y - 3);

  for (guint i = 0; i < s->class_names->len; i++)
    {
      const char *name = g_ptr_array_index (s->class_names, i);
      int ab = class_abnormal (s->model, name);
      /* "3*": the count holds calls that may not apply (the note under the table) */
      g_autofree char *p = g_strdup_printf ("%d%s", g_array_index (s->predicted_counts, int, i),
                                            g_array_index (s->out_of_scope_counts, int, i) > 0 ? "*" : "");
      g_autofree char *r = g_strdup_printf ("%d", g_array_index (s->reviewed_counts, int, i));

      draw_text_full (ctx, col[0], y, 145, "Sans 9", di_class_get_title (name), FALSE, PANGO_ALIGN_LEFT, 1);
      draw_text_full (ctx, col[1], y, 60, "Sans 9",
                      ab == 1 ? _("abnormal") : ab == 0 ? _("normal") : "—", FALSE, PANGO_ALIGN_LEFT, 1);
      draw_text_full (ctx, col[2], y, 105, "Sans 9",
                      di_bethesda_get_label (di_bethesda_from_class (name, ab)), FALSE, PANGO_ALIGN_LEFT, 1);
      draw_text_full (ctx, col[3], y, 70, "Sans 9", p, FALSE, PANGO_ALIGN_RIGHT, 1);
      draw_text_full (ctx, col[4], y, 70, "Sans 9", r, FALSE, PANGO_ALIGN_RIGHT, 1);
      y += 14;
    }
  rule (ctx, y + 1);
  {
    g_autofree char *p = g_strdup_printf ("%u", s->n_classified);
    g_autofree char *r = g_strdup_printf ("%u", s->n_reviewed);

    y += 4;
    draw_text (ctx, col[0], y, 145, "Sans Bold 9", _("Total"));
    draw_text_full (ctx, col[3], y, 70, "Sans Bold 9", p, FALSE, PANGO_ALIGN_RIGHT, 1);
    draw_text_full (ctx, col[4], y, 70, "Sans Bold 9", r, FALSE, PANGO_ALIGN_RIGHT, 1);
    y += 18;
  }
  if (s->n_out_of_scope > 0)
    {
      g_autofree char *note =
        g_strdup_printf (ngettext ("* includes %u call on an image far from the size of the model’s training "
                                   "images: it may not apply (see below)",
                                   "* includes %u calls on images far from the size of the model’s training "
                                   "images: they may not apply (see below)",
                                   s->n_out_of_scope),
                         s->n_out_of_scope);

      set_gray (ctx, 0.35);
      y += draw_text (ctx, col[0], y, ctx->width - 2 * MARGIN, "Sans 8", note);
      set_gray (ctx, 0.0);
    }
  y += 10;

  /* Agreement and totals. */
  if (s->n_compared > 0)
    {
      g_autofree char *pct = format_percent ((double)s->n_agree / s->n_compared);

      if (isfinite (s->kappa))
        /* TRANSLATORS: "12 of 14 reviewed images (85.7 %), Cohen's κ 0.80" */
        agreement = g_strdup_printf (_("%u of %u reviewed images (%s), Cohen’s κ %.2f"),
                                     s->n_agree, s->n_compared, pct, s->kappa);
      else
        agreement = g_strdup_printf (_("%u of %u reviewed images (%s)"), s->n_agree, s->n_compared, pct);
    }
  else
    agreement = g_strdup (_("No classified image has been reviewed yet"));

  ai_totals = g_strdup_printf (_("%u normal, %u abnormal, %u not grouped"),
                               s->ai_normal, s->ai_abnormal, s->ai_unknown);
  rv_totals = g_strdup_printf (_("%u normal, %u abnormal, %u not grouped"),
                               s->rv_normal, s->rv_abnormal, s->rv_unknown);
  if (s->ai_normal + s->ai_abnormal > 0)
    /* TRANSLATORS: "5 of 40 classified images (P(abnormal) ≥ 50 %)" */
    ai_suspicious = g_strdup_printf (_("%u of %u classified images (P(abnormal) ≥ 50 %%)"),
                                     s->ai_suspicious, s->n_classified);
  else
    ai_suspicious = g_strdup ("—");

  {
    const char *rows[] = {
      _("AI–reviewer agreement"), agreement,
      _("AI calls"), ai_totals,
      _("AI suspicious"), ai_suspicious,
      _("Reviewer labels"), rv_totals,
      NULL, NULL,
      NULL, NULL,
    };

    /* how many calls are split between views: uncertain ones (the row
     * only when the model's calls keep their views) */
    if (s->ai_with_views > 0)
      {
        /* TRANSLATORS: "3 of 40 calls (read them as uncertain)" */
        ai_split = g_strdup_printf (_("%u of %u calls (read them as uncertain)"),
                                    s->ai_views_split, s->ai_with_views);
        rows[8] = rows[6];
        rows[9] = rows[7];
        rows[6] = _("AI views disagree");
        rows[7] = ai_split;
      }
    y += key_values (ctx, y, 170, rows, NULL) + 18;
  }

  y += heading (ctx, y, _("Case category (Bethesda-style)"));
  {
    g_autofree char *label = NULL;
    g_autofree char *ai_label = NULL;
    g_autoptr(PangoLayout) layout = make_layout (ctx, "Sans Bold 13", -1);
    const char *rows[] = {
      _("From the AI calls only"), NULL,
      NULL, NULL,
    };
    double r = 0.45, g = 0.45, b = 0.45;
    int w, h;

    switch (s->case_category)
      {
      case DI_BETHESDA_HSIL_PLUS: r = 0.75; g = 0.12; b = 0.1; break;
      case DI_BETHESDA_LSIL: r = 0.85; g = 0.45; b = 0.05; break;
      case DI_BETHESDA_ABNORMAL: r = 0.6; g = 0.2; b = 0.55; break;
      case DI_BETHESDA_NILM: r = 0.1; g = 0.5; b = 0.2; break;
      case DI_BETHESDA_UNKNOWN:
      default: break;
      }

    /* Images nobody could classify or review may hold worse: a category
     * found in an incomplete case is a lower bound. */
    if (s->case_lower_bound)
      /* TRANSLATORS: "LSIL or worse: case incomplete" */
      label = g_strdup_printf (_("%s or worse: case incomplete"), di_bethesda_get_label (s->case_category));
    else
      label = g_strdup (di_bethesda_get_label (s->case_category));
    /* the same for the AI's category, over the images it did not classify */
    if (s->ai_lower_bound)
      ai_label = g_strdup_printf (_("%s or worse: case incomplete"), di_bethesda_get_label (s->ai_category));
    else
      ai_label = g_strdup (di_bethesda_get_label (s->ai_category));
    rows[1] = ai_label;

    set_gray (ctx, 0.35);
    draw_text (ctx, MARGIN, y + 4, 165, "Sans 9.5", _("Reviewer’s labels, else AI"));
    pango_layout_set_text (layout, label, -1);
    pango_layout_get_size (layout, &w, &h);
    cairo_rectangle (ctx->cr, MARGIN + 170, y, (double)w / PANGO_SCALE + 16, (double)h / PANGO_SCALE + 6);
    cairo_set_source_rgb (ctx->cr, r, g, b);
    cairo_fill (ctx->cr);
    cairo_set_source_rgb (ctx->cr, 1, 1, 1);
    cairo_move_to (ctx->cr, MARGIN + 178, y + 3);
    pango_cairo_show_layout (ctx->cr, layout);
    set_gray (ctx, 0.0);
    y += (double)h / PANGO_SCALE + 12;
    y += key_values (ctx, y, 170, rows, NULL) + 8;
  }

  set_gray (ctx, 0.3);
  y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans 8.5",
                  _("The category is the most severe one among the images. Classes map by name: "
                    "HSIL, SCC, carcinoma, severe or moderate dysplasia, CIN 2–3 → HSIL+; "
                    "LSIL, light or mild dysplasia, koilocytes, CIN 1 → LSIL; "
                    "other classes the model groups as abnormal, and unreviewed cells of a normal class "
                    "with P(abnormal) ≥ 50 % (suspicious) → “abnormal, not mapped”; "
                    "NILM, normal, superficial, intermediate, parabasal, columnar and metaplastic "
                    "cells, or classes the model groups as normal → NILM. "
                    "A case is NILM only when every cell maps to NILM; an image that was neither "
                    "classified nor reviewed leaves it not determined, and makes any other category "
                    "a lower bound (“or worse”). "
                    "A category from cell images is a screening aid, not a Bethesda report.")) + 14;
  set_gray (ctx, 0.0);

  if (s->n_missing > 0 || s->n_changed > 0)
    {
      g_autofree char *warning = g_strdup_printf (_("%u image(s) missing and %u changed since they were added "
                                                    "to the case; their rows are marked below."),
                                                  s->n_missing, s->n_changed);
      cairo_set_source_rgb (ctx->cr, 0.7, 0.1, 0.1);
      y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Bold 9", warning) + 6;
      set_gray (ctx, 0.0);
    }
  if (s->n_out_of_scope > 0)
    {
      g_autofree char *warning =
        g_strdup_printf (ngettext ("%u image is far from the size of the images the model was trained on "
                                   "(about %d pixels a side) — a whole field given to a model of single "
                                   "cells, or a small crop given to a field model: its AI call may not "
                                   "apply, and cannot make the case NILM (it still counts when abnormal). "
                                   "Review it, classify one cell at a time (a region in the viewer), or use "
                                   "a model trained on such images.",
                                   "%u images are far from the size of the images the model was trained on "
                                   "(about %d pixels a side) — a whole field given to a model of single "
                                   "cells, or a small crop given to a field model: their AI calls may not "
                                   "apply, and cannot make the case NILM (they still count when abnormal). "
                                   "Review them, classify one cell at a time (a region in the viewer), or use "
                                   "a model trained on such images.",
                                   s->n_out_of_scope),
                         s->n_out_of_scope, s->image_side);

      cairo_set_source_rgb (ctx->cr, 0.7, 0.1, 0.1);
      y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Bold 9", warning) + 6;
      set_gray (ctx, 0.0);
    }
  if (s->n_undetermined > 0)
    {
      g_autofree char *warning = g_strdup_printf (ngettext ("%u image was neither classified nor reviewed "
                                                            "(unreadable, or not classified yet): the case "
                                                            "is incomplete.",
                                                            "%u images were neither classified nor reviewed "
                                                            "(unreadable, or not classified yet): the case "
                                                            "is incomplete.",
                                                            s->n_undetermined),
                                                  s->n_undetermined);
      cairo_set_source_rgb (ctx->cr, 0.7, 0.1, 0.1);
      y += draw_text (ctx, MARGIN, y, ctx->width - 2 * MARGIN, "Sans Bold 9", warning);
      set_gray (ctx, 0.0);
    }

  end_page (ctx);
}

static cairo_surface_t *
load_thumbnail (const char *filename,
                int        *orig_w,
                int        *orig_h)
{
  dinet_error err = {0};
  dinet_image *img = dinet_image_load (filename, NULL, &err);
  dinet_image *small;
  cairo_surface_t *surface;
  double scale;
  int w, h, stride;
  guint8 *data;

  if (img == NULL)
    {
      g_debug ("%s", err.message);
      return NULL;
    }
  *orig_w = img->width;
  *orig_h = img->height;
  scale = MIN (1.0, (double)THUMB_PIXELS / MAX (img->width, img->height));
  w = MAX (1, (int)lrint (img->width * scale));
  h = MAX (1, (int)lrint (img->height * scale));
  small = (w == img->width && h == img->height) ? img : dinet_image_resize (img, w, h, &err);
  if (small == NULL)
    {
      dinet_image_free (img);
      return NULL;
    }

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < h; y++)
    {
      guint32 *row = (guint32 *)(gpointer)(data + (gsize)y * stride);
      const guint8 *src = small->rgb + (gsize)y * w * 3;

      for (int x = 0; x < w; x++)
        row[x] = 0xff000000u | ((guint32)src[3 * x] << 16) | ((guint32)src[3 * x + 1] << 8) | src[3 * x + 2];
    }
  cairo_surface_mark_dirty (surface);

  if (small != img)
    dinet_image_free (small);
  dinet_image_free (img);
  return surface;
}

/* The image fitted into a THUMB x THUMB box; returns its rectangle. */
static void
fit_box (int     w,
         int     h,
         double  x,
         double  y,
         double *ix,
         double *iy,
         double *iw,
         double *ih)
{
  double scale = MIN (THUMB / w, THUMB / h);

  *iw = w * scale;
  *ih = h * scale;
  *ix = x + (THUMB - *iw) / 2;
  *iy = y + (THUMB - *ih) / 2;
}

static void
paint_image (Ctx             *ctx,
             cairo_surface_t *surface,
             double           x,
             double           y,
             double           w,
             double           h)
{
  int sw = cairo_image_surface_get_width (surface);
  int sh = cairo_image_surface_get_height (surface);

  cairo_save (ctx->cr);
  cairo_rectangle (ctx->cr, x, y, w, h);
  cairo_clip (ctx->cr);
  cairo_translate (ctx->cr, x, y);
  cairo_scale (ctx->cr, w / sw, h / sh);
  cairo_set_source_surface (ctx->cr, surface, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (ctx->cr), CAIRO_FILTER_GOOD);
  cairo_paint (ctx->cr);
  cairo_restore (ctx->cr);
}

static void
placeholder (Ctx        *ctx,
             double      x,
             double      y,
             const char *text)
{
  cairo_rectangle (ctx->cr, x, y, THUMB, THUMB);
  cairo_set_source_rgb (ctx->cr, 0.93, 0.93, 0.93);
  cairo_fill (ctx->cr);
  set_gray (ctx, 0.45);
  /* up to six lines: a loader's reason ("image is 100000 x 100000 = …") whole */
  draw_text_full (ctx, x + 8, y + THUMB / 2 - 36, THUMB - 16, "Sans 8.5", text, FALSE, PANGO_ALIGN_CENTER, 6);
  set_gray (ctx, 0.0);
}

static double
model_center_crop (const DiCaseModel *model)
{
  const char *v = meta (model, "center_crop");
  double f;

  if (v == NULL)
    return 1.0;
  f = g_ascii_strtod (v, NULL);
  return (isfinite (f) && f >= 0.1 && f <= 1.0) ? f : 1.0;
}

static void
draw_cell (DiReport          *self,
           Ctx               *ctx,
           Summary           *s,
           const Cell        *cell,
           guint              index,
           double             top)
{
  const DiCaseImage *image = cell->image;
  const DiCaseEvent *pred = cell->prediction;
  g_autofree char *title = NULL;
  cairo_surface_t *thumb = NULL;
  const char *tag;
  double tag_r, tag_g, tag_b;
  double x_thumb = MARGIN, x_overlay = MARGIN + THUMB + GAP;
  double x_right = MARGIN + 2 * (THUMB + GAP) + 4;
  double right_w = ctx->width - MARGIN - x_right;
  double y = top, ry;
  int ow = 0, oh = 0;
  gboolean image_shown; /* the image was read: thumbnail and overlay drawn */

  switch (cell->group)
    {
    case GROUP_DISAGREE:
      tag = _("Disagreement"); tag_r = 0.75; tag_g = 0.12; tag_b = 0.1;
      break;
    case GROUP_UNREVIEWED:
      tag = _("Not reviewed"); tag_r = 0.45; tag_g = 0.45; tag_b = 0.45;
      break;
    case GROUP_AGREE:
      tag = _("Agreement"); tag_r = 0.1; tag_g = 0.5; tag_b = 0.2;
      break;
    case GROUP_UNCLASSIFIED:
    default:
      tag = _("Not classified"); tag_r = 0.45; tag_g = 0.45; tag_b = 0.45;
      break;
    }

  /* Title line: number, file name, tag. */
  title = g_markup_printf_escaped ("<b>%u.</b>  %s", index + 1, image->path);
  draw_text_full (ctx, MARGIN, y, ctx->width - 2 * MARGIN - 110, "Sans 10", title, TRUE, PANGO_ALIGN_LEFT, 1);
  cairo_set_source_rgb (ctx->cr, tag_r, tag_g, tag_b);
  draw_text_full (ctx, ctx->width - MARGIN - 110, y, 110, "Sans Bold 9", tag, FALSE, PANGO_ALIGN_RIGHT, 1);
  set_gray (ctx, 0.0);
  y += 18;

  /* Thumbnail and overlay. */
  if (image->filename != NULL)
    thumb = load_thumbnail (image->filename, &ow, &oh);
  image_shown = thumb != NULL;

  if (thumb == NULL)
    {
      g_autofree char *reason = di_export_dup_unreadable_reason (image);
      g_autofree char *why = NULL;

      if (image->status == DI_CASE_IMAGE_MISSING)
        why = g_strdup (_("Image missing"));
      else if (reason != NULL)
        /* TRANSLATORS: %s is the loader's (English) reason, e.g. "file is empty" */
        why = g_strdup_printf (_("Image unreadable: %s"), reason);
      else
        why = g_strdup (_("Image unreadable"));
      placeholder (ctx, x_thumb, y, why);
      placeholder (ctx, x_overlay, y, _("No overlay"));
    }
  else
    {
      double ix, iy, iw, ih;
      int tw = cairo_image_surface_get_width (thumb);
      int th = cairo_image_surface_get_height (thumb);

      fit_box (tw, th, x_thumb, y, &ix, &iy, &iw, &ih);
      paint_image (ctx, thumb, ix, iy, iw, ih);
      if (cell->regions != NULL)
        {
          /* the case's regions on the image, drawn as the viewer draws them */
          g_autoptr(PangoLayout) tags = make_layout (ctx, "Sans 6", -1);

          cairo_save (ctx->cr);
          cairo_rectangle (ctx->cr, ix, iy, iw, ih);
          cairo_clip (ctx->cr);
          cairo_translate (ctx->cr, ix, iy);
          for (guint r = 0; r < cell->regions->len; r++)
            di_region_draw_saved (ctx->cr, tags, g_ptr_array_index (cell->regions, r), iw / ow, 0);
          cairo_restore (ctx->cr);
        }
      fit_box (tw, th, x_overlay, y, &ix, &iy, &iw, &ih);
      paint_image (ctx, thumb, ix, iy, iw, ih);

      if (cell->explanation != NULL)
        {
          const DiCaseExplanation *ex = cell->explanation;
          g_autoptr(DiHeatmap) heatmap = di_heatmap_new (ex->values, ex->width, ex->height,
                                                         di_explain_method_from_nick (ex->method),
                                                         ex->stage, ex->target);
          double f = model_center_crop (s->model);
          int cw = MAX (1, (int)lrint (ow * f)), ch = MAX (1, (int)lrint (oh * f));
          double sx = iw / ow, sy = ih / oh;
          double rx = ix + ((ow - cw) / 2) * sx, ryy = iy + ((oh - ch) / 2) * sy;

          if (di_heatmap_has_evidence (heatmap))
            di_heatmap_draw (heatmap, ctx->cr, rx, ryy, cw * sx, ch * sy,
                             (int)lrint (cw * sx * 2), (int)lrint (ch * sy * 2),
                             self->colormap, self->opacity, FALSE);
          else
            {
              cairo_set_source_rgba (ctx->cr, 1, 1, 1, 0.8);
              cairo_rectangle (ctx->cr, x_overlay, y + THUMB / 2 - 14, THUMB, 26);
              cairo_fill (ctx->cr);
              set_gray (ctx, 0.2);
              draw_text_full (ctx, x_overlay, y + THUMB / 2 - 10, THUMB, "Sans 8",
                              _("No positive evidence"), FALSE, PANGO_ALIGN_CENTER, 1);
              set_gray (ctx, 0.0);
            }
        }
      else
        {
          cairo_set_source_rgba (ctx->cr, 1, 1, 1, 0.8);
          cairo_rectangle (ctx->cr, x_overlay, y + THUMB / 2 - 14, THUMB, 26);
          cairo_fill (ctx->cr);
          set_gray (ctx, 0.2);
          draw_text_full (ctx, x_overlay, y + THUMB / 2 - 10, THUMB, "Sans 8",
                          _("No explanation stored"), FALSE, PANGO_ALIGN_CENTER, 1);
          set_gray (ctx, 0.0);
        }
      cairo_surface_destroy (thumb);
    }

  /* Frames, captions and the legend under the overlay. */
  cairo_set_line_width (ctx->cr, 0.5);
  set_gray (ctx, 0.7);
  cairo_rectangle (ctx->cr, x_thumb, y, THUMB, THUMB);
  cairo_rectangle (ctx->cr, x_overlay, y, THUMB, THUMB);
  cairo_stroke (ctx->cr);

  set_gray (ctx, 0.35);
  if (ow > 0 && oh > 0)
    {
      /* TRANSLATORS: caption under a thumbnail: "Image · 640 × 480 px" */
      g_autofree char *caption = g_strdup_printf (_("Image · %d × %d px"), ow, oh);
      draw_text (ctx, x_thumb, y + THUMB + 3, THUMB, "Sans 7.5", caption);
    }
  else
    draw_text (ctx, x_thumb, y + THUMB + 3, THUMB, "Sans 7.5", _("Image"));
  /* a map's caption and legend only under a map drawn over its image */
  if (cell->explanation != NULL && image_shown)
    {
      const DiCaseExplanation *ex = cell->explanation;
      const char *target = pred && ex->target >= 0 && ex->target < pred->n_classes
                         ? di_class_get_short_title (pred->classes[ex->target]) : "?";
      g_autofree char *caption =
        /* TRANSLATORS: "Grad-CAM · layer4 · HSIL": method, network stage (as the viewer names it), explained class */
        g_strdup_printf (_("%s · layer%d · %s"),
                         di_explain_method_get_label (di_explain_method_from_nick (ex->method)),
                         ex->stage, target);

      draw_text_full (ctx, x_overlay, y + THUMB + 3, THUMB, "Sans 7.5", caption, FALSE, PANGO_ALIGN_LEFT, 1);
      /* The legend sizes its labels for the screen (96 dpi): draw it at
       * 3/4 scale so that they come out at their point size. */
      set_gray (ctx, 0.25);
      cairo_save (ctx->cr);
      cairo_translate (ctx->cr, x_overlay, y + THUMB + 15);
      cairo_scale (ctx->cr, 0.75, 0.75);
      di_heatmap_draw_legend (ctx->cr, self->colormap, 0, 0, THUMB / 0.75, 22 / 0.75);
      cairo_restore (ctx->cr);
    }
  else
    draw_text (ctx, x_overlay, y + THUMB + 3, THUMB, "Sans 7.5", _("Overlay"));
  set_gray (ctx, 0.0);

  /* Right column: AI call, probabilities, review. */
  ry = y;
  if (pred == NULL)
    {
      ry += draw_text (ctx, x_right, ry, right_w, "Sans Bold 9.5", _("Not classified")) + 6;
    }
  else
    {
      int top_class = di_case_event_get_top (pred);
      g_autofree char *pct = format_percent (pred->probabilities[top_class]);
      g_autofree char *call = g_markup_printf_escaped ("%s <b>%s</b> · %s", _("AI call:"),
                                                       di_class_get_title (pred->classes[top_class]), pct);
      const double name_w = 104, bar_w = right_w - name_w - 42;
      g_autofree int *order = di_case_event_dup_order (pred);

      ry += draw_markup (ctx, x_right, ry, right_w, "Sans 9.5", call) + 5;
      {
        /* the screening flag, as the viewer's side panel shows it */
        double a = cell->suspicion;

        if (a >= 0)
          {
            g_autofree char *pa = format_percent (a);
            g_autofree char *line = a >= DINET_FLAG_THRESHOLD
              /* TRANSLATORS: "P(abnormal) 57.1 % · suspicious" */
              ? g_strdup_printf (_("P(abnormal) %s · suspicious"), pa)
              : g_strdup_printf (_("P(abnormal) %s"), pa);

            ry += draw_text (ctx, x_right, ry, right_w, a >= DINET_FLAG_THRESHOLD ? "Sans Bold 8" : "Sans 8",
                             line) + 4;
          }
      }
      /* views that disagree, as the side panel says it (agreeing views go
       * unsaid here: the summary counts the split calls) */
      if (di_case_event_get_views_split (pred))
        {
          g_autofree char *views = di_views_dup_text ((const char * const *)pred->classes, pred->n_classes,
                                                      top_class, pred->n_views, pred->view_top);

          cairo_set_source_rgb (ctx->cr, 0.6, 0.35, 0.0);
          ry += draw_text (ctx, x_right, ry, right_w, "Sans Bold 8", views) + 4;
          set_gray (ctx, 0.0);
        }
      if (cell->fit != DI_SIZE_FITS)
        {
          cairo_set_source_rgb (ctx->cr, 0.7, 0.1, 0.1);
          ry += draw_text (ctx, x_right, ry, right_w, "Sans Bold 8",
                           cell->fit == DI_SIZE_LARGER
                             ? _("Much larger than the model’s training images: the call may not apply")
                             : _("Much smaller than the model’s training images: the call may not apply")) + 4;
          set_gray (ctx, 0.0);
        }

      /* most probable first, as the viewer's side panel lists them */
      for (int r = 0; order != NULL && r < pred->n_classes; r++)
        {
          int k = order[r];
          double p = CLAMP (pred->probabilities[k], 0.0, 1.0);
          g_autofree char *value = format_percent (pred->probabilities[k]);
          const char *font = k == top_class ? "Sans Bold 7.5" : "Sans 7.5";
          int ab = class_abnormal (s->model, pred->classes[k]);

          draw_text_full (ctx, x_right, ry, name_w - 4, font, di_class_get_title (pred->classes[k]), FALSE, PANGO_ALIGN_LEFT, 1);
          cairo_rectangle (ctx->cr, x_right + name_w, ry + 2, bar_w, 7);
          cairo_set_source_rgb (ctx->cr, 0.92, 0.92, 0.92);
          cairo_fill (ctx->cr);
          cairo_rectangle (ctx->cr, x_right + name_w, ry + 2, bar_w * p, 7);
          if (ab == 1)
            cairo_set_source_rgb (ctx->cr, 0.8, 0.3, 0.2);
          else
            cairo_set_source_rgb (ctx->cr, 0.25, 0.45, 0.7);
          cairo_fill (ctx->cr);
          set_gray (ctx, 0.0);
          draw_text_full (ctx, x_right + name_w + bar_w, ry, 42, font, value, FALSE, PANGO_ALIGN_RIGHT, 1);
          ry += 11;
        }
      ry += 5;
    }

  cairo_save (ctx->cr);
  set_gray (ctx, 0.8);
  cairo_set_line_width (ctx->cr, 0.5);
  cairo_move_to (ctx->cr, x_right, ry);
  cairo_line_to (ctx->cr, x_right + right_w, ry);
  cairo_stroke (ctx->cr);
  cairo_restore (ctx->cr);
  ry += 5;
  if (cell->regions != NULL)
    {
      g_autoptr(GString) list = g_string_new (NULL);
      const guint shown = MIN (cell->regions->len, 4);

      for (guint r = 0; r < shown; r++)
        {
          const DiCaseRegion *region = g_ptr_array_index (cell->regions, r);
          g_autofree char *what = NULL;

          if (r > 0)
            g_string_append (list, "; ");
          if (region->label != NULL && isfinite (region->probability))
            {
              g_autofree char *p = format_percent (region->probability);

              /* TRANSLATORS: a region's class and its probability: "HSIL (87.2 %)" */
              what = g_strdup_printf (_("%s (%s)"), di_class_get_title (region->label), p);
            }
          else
            what = g_strdup (region->label ? di_class_get_title (region->label) : _("no class"));
          /* TRANSLATORS: a region in the report: its class, left and top edges, width and height */
          g_string_append_printf (list, _("%s at %.0f, %.0f · %.0f × %.0f px"),
                                  what, region->x, region->y, region->width, region->height);
        }
      if (cell->regions->len > shown)
        /* TRANSLATORS: after the first regions listed: "; 3 more" */
        g_string_append_printf (list, _("; %u more"), cell->regions->len - shown);
      {
        /* TRANSLATORS: "Regions (2): HSIL at 120, 80 · 200 × 160 px; …" */
        g_autofree char *line = g_strdup_printf (_("Regions (%u): %s"), cell->regions->len, list->str);

        ry += draw_text (ctx, x_right, ry, right_w, "Sans 8", line) + 4;
      }
    }
  if (image->label != NULL)
    {
      g_autofree char *who = NULL;
      g_autofree char *label = g_markup_printf_escaped ("%s <b>%s</b>", _("Reviewer:"),
                                                        di_class_get_title (image->label));

      ry += draw_markup (ctx, x_right, ry, right_w, "Sans 9.5", label) + 1;
      if (image->reviewed != NULL)
        {
          g_autoptr(GDateTime) local = g_date_time_to_local (image->reviewed);
          g_autofree char *when = g_date_time_format (local, "%Y-%m-%d %H:%M");

          who = g_strdup_printf ("%s, %s", image->reviewer && *image->reviewer ? image->reviewer : _("unnamed reviewer"), when);
        }
      else
        who = g_strdup (image->reviewer ? image->reviewer : "");
      set_gray (ctx, 0.4);
      ry += draw_text_full (ctx, x_right, ry, right_w, "Sans 7.5", who, FALSE, PANGO_ALIGN_LEFT, 1) + 3;
      set_gray (ctx, 0.0);
    }
  else
    {
      set_gray (ctx, 0.45);
      ry += draw_text (ctx, x_right, ry, right_w, "Sans Italic 9", _("Not reviewed")) + 3;
      set_gray (ctx, 0.0);
    }
  if (image->note != NULL && *image->note)
    {
      g_autofree char *note = g_markup_printf_escaped ("<i>%s</i> %s", _("Note:"), image->note);
      double room = top + CELL_H - 14 - ry;
      int lines = MAX (1, (int)(room / 10.5));

      ry += draw_text_full (ctx, x_right, ry, right_w, "Sans 8", note, TRUE, PANGO_ALIGN_LEFT, lines);
    }
  if (image->status != DI_CASE_IMAGE_OK)
    {
      cairo_set_source_rgb (ctx->cr, 0.7, 0.1, 0.1);
      draw_text (ctx, x_right, top + CELL_H - 30, right_w, "Sans Bold 8",
                 image->status == DI_CASE_IMAGE_MISSING
                   ? _("The image file is missing.")
                   : _("The image changed after it was added (SHA-256 differs)."));
      set_gray (ctx, 0.0);
    }
}

static int
cells_per_page (Ctx *ctx)
{
  double room = ctx->height - 2 * MARGIN - 10 - 26;

  return MAX (1, (int)(room / CELL_H));
}

static void
draw_cell_pages (DiReport     *self,
                 Ctx          *ctx,
                 Summary      *s,
                 GCancellable *cancellable)
{
  int per_page = cells_per_page (ctx);

  for (guint i = 0; i < s->cells->len; i++)
    {
      guint slot = i % per_page;
      double top;

      if (g_cancellable_is_cancelled (cancellable))
        return;

      if (slot == 0)
        {
          g_autofree char *head = NULL;

          begin_page (ctx);
          head = i == 0 ? g_strdup_printf (_("Images (%u): disagreements first, then images not reviewed, then agreements"),
                                           s->cells->len)
                        : g_strdup (_("Images, continued"));
          set_gray (ctx, 0.1);
          draw_text_full (ctx, MARGIN, MARGIN + 6, ctx->width - 2 * MARGIN, "Sans Bold 11", head,
                          FALSE, PANGO_ALIGN_LEFT, 1);
          set_gray (ctx, 0.0);
        }

      top = MARGIN + 10 + 26 + slot * CELL_H;
      if (slot > 0)
        rule (ctx, top - 8);
      draw_cell (self, ctx, s, g_ptr_array_index (s->cells, i), i, top);

      if (slot == (guint)per_page - 1 || i + 1 == s->cells->len)
        end_page (ctx);
    }
}

/**
 * di_report_write:
 * @filename: the PDF to write; replaced only once the report is complete
 *
 * Writes the report. Images are read from the case's files; explanations
 * are the maps stored in the case (di_case_add_explanation()).
 *
 * Returns: %TRUE on success
 */
gboolean
di_report_write (DiReport      *self,
                 const char    *filename,
                 GCancellable  *cancellable,
                 GError       **error)
{
  Summary s = { 0 };
  Ctx ctx = { 0 };
  g_autofree char *tmp = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *case_title = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *iso = NULL;
  cairo_font_options_t *options;
  cairo_status_t status;
  int fd;

  g_return_val_if_fail (DI_IS_REPORT (self), FALSE);
  g_return_val_if_fail (filename != NULL, FALSE);

  gather (self, &s);

  /* A temporary file next to the target, renamed at the end. */
  dir = g_path_get_dirname (filename);
  tmp = g_build_filename (dir, ".di-report-XXXXXX.pdf", NULL);
  fd = g_mkstemp (tmp);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", filename, g_strerror (saved));
      summary_clear (&s);
      return FALSE;
    }
  close (fd);

  if (self->paper == DI_REPORT_PAPER_LETTER)
    {
      ctx.width = 612.0;
      ctx.height = 792.0;
    }
  else
    {
      ctx.width = 595.276;
      ctx.height = 841.89;
    }

  ctx.surface = cairo_pdf_surface_create (tmp, ctx.width, ctx.height);
  ctx.cr = cairo_create (ctx.surface);
  case_title = di_case_dup_title (self->kase);
  /* TRANSLATORS: page header: "DeepInsight · case report · CASE" */
  ctx.title = g_strdup_printf (_("DeepInsight · case report · %s"), case_title);
  ctx.date = g_date_time_format (now, "%Y-%m-%d %H:%M");
  ctx.n_pages = 2 + (s.cells->len + cells_per_page (&ctx) - 1) / cells_per_page (&ctx);

  /* Points as units; unhinted metrics so that text measures as printed. */
  ctx.pango = pango_cairo_create_context (ctx.cr);
  pango_cairo_context_set_resolution (ctx.pango, 72.0);
  options = cairo_font_options_create ();
  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style (options, CAIRO_HINT_STYLE_NONE);
  pango_cairo_context_set_font_options (ctx.pango, options);
  cairo_font_options_destroy (options);

  iso = g_date_time_format_iso8601 (now);
  cairo_pdf_surface_set_metadata (ctx.surface, CAIRO_PDF_METADATA_TITLE, ctx.title);
  cairo_pdf_surface_set_metadata (ctx.surface, CAIRO_PDF_METADATA_CREATOR, "DeepInsight " PACKAGE_VERSION);
  cairo_pdf_surface_set_metadata (ctx.surface, CAIRO_PDF_METADATA_CREATE_DATE, iso);
  if (self->reviewer != NULL && *self->reviewer)
    cairo_pdf_surface_set_metadata (ctx.surface, CAIRO_PDF_METADATA_AUTHOR, self->reviewer);

  cairo_pdf_surface_add_outline (ctx.surface, CAIRO_PDF_OUTLINE_ROOT, _("Case report"), "page=1", 0);
  cairo_pdf_surface_add_outline (ctx.surface, CAIRO_PDF_OUTLINE_ROOT, _("Summary"), "page=2", 0);
  if (s.cells->len > 0)
    cairo_pdf_surface_add_outline (ctx.surface, CAIRO_PDF_OUTLINE_ROOT, _("Cells"), "page=3", 0);

  draw_title_page (self, &ctx, &s);
  draw_summary_page (self, &ctx, &s);
  draw_cell_pages (self, &ctx, &s, cancellable);

  g_clear_object (&ctx.pango);
  cairo_destroy (ctx.cr);
  cairo_surface_finish (ctx.surface);
  status = cairo_surface_status (ctx.surface);
  cairo_surface_destroy (ctx.surface);
  g_free (ctx.title);
  g_free (ctx.date);
  summary_clear (&s);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      g_unlink (tmp);
      return FALSE;
    }
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("%s: cannot write the report (%s)"), filename, cairo_status_to_string (status));
      g_unlink (tmp);
      return FALSE;
    }
  if (g_rename (tmp, filename) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", filename, g_strerror (saved));
      g_unlink (tmp);
      return FALSE;
    }
  g_chmod (filename, 0644);

  self->n_pages = ctx.page;
  return TRUE;
}
