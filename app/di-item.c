/* di-item.c — one image of the gallery: its file, thumbnail, prediction,
 * the reviewer's class and note, and where it is in the window's review
 * case (its image id and whether the file moved or changed). The case is
 * the record; the item is what the gallery and panel show of it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-item"

#include "config.h"

#include <glib/gi18n.h>

#include "di-case.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"

struct _DiItem
{
  GObject parent_instance;

  /* Owned References */
  GFile *file;
  char *display_name;
  GdkPaintable *thumbnail;
  DiPrediction *prediction;
  char *note;
  char *error;
  char *reviewer_label;
  char *reviewer_name;
  char **badge_classes;

  int reviewer_class;
  gboolean label_from_class;  /* reviewer_label follows reviewer_class */
  gint64 case_id;
  int case_status;            /* DiCaseImageStatus */
};

G_DEFINE_FINAL_TYPE (DiItem, di_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_FILE,
  PROP_DISPLAY_NAME,
  PROP_THUMBNAIL,
  PROP_PREDICTION,
  PROP_BADGE_LABEL,
  PROP_BADGE_CLASSES,
  PROP_SUSPICION,
  PROP_MARGIN,
  PROP_REVIEWER_CLASS,
  PROP_REVIEWER_LABEL,
  PROP_REVIEWER_NAME,
  PROP_REVIEWED,
  PROP_NOTE,
  PROP_ERROR,
  PROP_FAILED,
  PROP_TOOLTIP,
  PROP_FLAGGED,
  PROP_FLAG_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str() arrived in GLib 2.76. */
static gboolean
set_str (char       **ptr,
         const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;
  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

/* Number of badge colours in style.css (.badge-0 ... .badge-9). */
#define N_BADGE_COLORS 10       /* badge-N in style.css */
#define N_BADGE_GROUP_COLORS 4  /* badge-normal-N, badge-abnormal-N */

/* The badge shows the reviewer's class once there is one (the case's
 * finding), else the model's; "corrected" marks a reviewer's class that is
 * not the model's top class. */
static void
update_badge (DiItem *self)
{
  GStrvBuilder *builder = g_strv_builder_new ();

  g_strv_builder_add (builder, "badge");
  if (self->reviewer_label != NULL && self->reviewer_class < 0)
    {
      /* a label the model does not have: the neutral badge */
      g_strv_builder_add (builder, "reviewed");
      g_strv_builder_add (builder, "corrected");
    }
  else if (self->prediction != NULL)
    {
      DiModelInfo *model = di_prediction_get_model (self->prediction);
      int ai_top = di_prediction_get_top (self->prediction);
      gboolean reviewed = self->reviewer_label != NULL && self->reviewer_class < di_model_info_get_n_classes (model);
      int top = reviewed ? self->reviewer_class : ai_top;
      int group = di_model_info_get_class_abnormal (model, top);
      g_autofree char *color = NULL;

      if (group >= 0)
        {
          /* Grouped models: cool colours for normal classes, warm ones for
           * abnormal classes, by rank within the group, so that a red
           * badge never means a normal class. */
          int rank = 0;

          for (int i = 0; i < top; i++)
            rank += di_model_info_get_class_abnormal (model, i) == group;
          color = g_strdup_printf ("badge-%s-%d", group ? "abnormal" : "normal",
                                   rank % N_BADGE_GROUP_COLORS);
        }
      else
        color = g_strdup_printf ("badge-%d", top % N_BADGE_COLORS);

      g_strv_builder_add (builder, color);
      if (di_model_info_get_class_abnormal (model, top) == 1)
        g_strv_builder_add (builder, "abnormal");
      else if (!reviewed && di_prediction_get_suspicious (self->prediction))
        g_strv_builder_add (builder, "suspicious");
      if (reviewed)
        g_strv_builder_add (builder, "reviewed");
      if (reviewed && top != ai_top)
        g_strv_builder_add (builder, "corrected");
    }
  else if (self->reviewer_label != NULL)
    g_strv_builder_add (builder, "reviewed");
  else
    g_strv_builder_add (builder, "pending");

  g_strfreev (self->badge_classes);
  self->badge_classes = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
}

static void
di_item_finalize (GObject *object)
{
  DiItem *self = (DiItem *)object;

  g_clear_object (&self->file);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_object (&self->thumbnail);
  g_clear_pointer (&self->prediction, di_prediction_unref);
  g_clear_pointer (&self->note, g_free);
  g_clear_pointer (&self->error, g_free);
  g_clear_pointer (&self->reviewer_label, g_free);
  g_clear_pointer (&self->reviewer_name, g_free);
  g_clear_pointer (&self->badge_classes, g_strfreev);

  G_OBJECT_CLASS (di_item_parent_class)->finalize (object);
}

static char *
dup_tooltip (DiItem *self)
{
  GString *s = g_string_new (self->display_name);

  if (di_item_get_flagged (self))
    g_string_append_printf (s, "\n%s", di_item_get_flag_text (self));
  if (self->error != NULL)
    g_string_append_printf (s, "\n%s", self->error);
  if (self->prediction != NULL)
    {
      g_string_append_c (s, '\n');
      /* TRANSLATORS: the model's class and its probability in a tooltip */
      g_string_append_printf (s, _("Model: %s (%.0f%%)"),
                              di_class_get_title (di_prediction_get_top_name (self->prediction)),
                              100.0 * di_prediction_get_probability (self->prediction,
                                                                     di_prediction_get_top (self->prediction)));
      if (di_item_get_views_split (self))
        {
          g_autofree char *views = di_prediction_dup_views_text (self->prediction);

          g_string_append_printf (s, "\n%s", views);
        }
    }
  if (self->reviewer_label != NULL)
    {
      g_string_append_c (s, '\n');
      if (self->reviewer_name != NULL)
        /* TRANSLATORS: "Reviewer (initials): class" */
        g_string_append_printf (s, _("Reviewer (%s): %s"), self->reviewer_name,
                                di_class_get_title (self->reviewer_label));
      else
        g_string_append_printf (s, _("Reviewer: %s"), di_class_get_title (self->reviewer_label));
    }
  if (self->note != NULL && *self->note)
    g_string_append_printf (s, "\n%s", self->note);

  return g_string_free (s, FALSE);
}

static void
di_item_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  DiItem *self = DI_ITEM (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_object (value, self->file);
      break;

    case PROP_DISPLAY_NAME:
      g_value_set_string (value, self->display_name);
      break;

    case PROP_THUMBNAIL:
      g_value_set_object (value, self->thumbnail);
      break;

    case PROP_PREDICTION:
      g_value_set_boxed (value, self->prediction);
      break;

    case PROP_BADGE_LABEL:
      g_value_set_string (value, di_item_get_badge_label (self));
      break;

    case PROP_BADGE_CLASSES:
      g_value_set_boxed (value, self->badge_classes);
      break;

    case PROP_SUSPICION:
      g_value_set_double (value, di_item_get_suspicion (self));
      break;

    case PROP_MARGIN:
      g_value_set_double (value, di_item_get_margin (self));
      break;

    case PROP_REVIEWER_CLASS:
      g_value_set_int (value, self->reviewer_class);
      break;

    case PROP_REVIEWER_LABEL:
      g_value_set_string (value, self->reviewer_label);
      break;

    case PROP_REVIEWER_NAME:
      g_value_set_string (value, self->reviewer_name);
      break;

    case PROP_REVIEWED:
      g_value_set_boolean (value, di_item_get_reviewed (self));
      break;

    case PROP_NOTE:
      g_value_set_string (value, self->note);
      break;

    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;

    case PROP_FAILED:
      g_value_set_boolean (value, self->error != NULL);
      break;

    case PROP_TOOLTIP:
      g_value_take_string (value, dup_tooltip (self));
      break;

    case PROP_FLAGGED:
      g_value_set_boolean (value, di_item_get_flagged (self));
      break;

    case PROP_FLAG_TEXT:
      g_value_set_string (value, di_item_get_flag_text (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_item_set_property (GObject      *object,
                      guint         prop_id,
                      const GValue *value,
                      GParamSpec   *pspec)
{
  DiItem *self = DI_ITEM (object);

  switch (prop_id)
    {
    case PROP_FILE:
      self->file = g_value_dup_object (value);
      break;

    case PROP_THUMBNAIL:
      di_item_set_thumbnail (self, g_value_get_object (value));
      break;

    case PROP_PREDICTION:
      di_item_set_prediction (self, g_value_get_boxed (value));
      break;

    case PROP_REVIEWER_CLASS:
      di_item_set_reviewer_class (self, g_value_get_int (value));
      break;

    case PROP_NOTE:
      di_item_set_note (self, g_value_get_string (value));
      break;

    case PROP_REVIEWER_NAME:
      di_item_set_reviewer_name (self, g_value_get_string (value));
      break;

    case PROP_ERROR:
      di_item_set_error (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_item_constructed (GObject *object)
{
  DiItem *self = (DiItem *)object;

  G_OBJECT_CLASS (di_item_parent_class)->constructed (object);

  g_assert (G_IS_FILE (self->file));
  self->display_name = g_file_get_basename (self->file);
  update_badge (self);
}

static void
di_item_class_init (DiItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = di_item_constructed;
  object_class->finalize = di_item_finalize;
  object_class->get_property = di_item_get_property;
  object_class->set_property = di_item_set_property;

  properties[PROP_FILE] =
    g_param_spec_object ("file", NULL, NULL, G_TYPE_FILE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_DISPLAY_NAME] =
    g_param_spec_string ("display-name", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_THUMBNAIL] =
    g_param_spec_object ("thumbnail", NULL, NULL, GDK_TYPE_PAINTABLE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_PREDICTION] =
    g_param_spec_boxed ("prediction", NULL, NULL, DI_TYPE_PREDICTION,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_BADGE_LABEL] =
    g_param_spec_string ("badge-label", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_BADGE_CLASSES] =
    g_param_spec_boxed ("badge-classes", NULL, NULL, G_TYPE_STRV,
                        (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_SUSPICION] =
    g_param_spec_double ("suspicion", NULL, NULL, -1, 1, -1,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_MARGIN] =
    g_param_spec_double ("margin", NULL, NULL, -1, 1, -1,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_REVIEWER_CLASS] =
    g_param_spec_int ("reviewer-class", NULL, NULL, -1, G_MAXINT, -1,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_REVIEWER_LABEL] =
    g_param_spec_string ("reviewer-label", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_REVIEWER_NAME] =
    g_param_spec_string ("reviewer-name", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_REVIEWED] =
    g_param_spec_boolean ("reviewed", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_NOTE] =
    g_param_spec_string ("note", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  /* TRUE while the item has an error (the gallery's "broken" mark) */
  properties[PROP_FAILED] =
    g_param_spec_boolean ("failed", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_TOOLTIP] =
    g_param_spec_string ("tooltip", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_FLAGGED] =
    g_param_spec_boolean ("flagged", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_FLAG_TEXT] =
    g_param_spec_string ("flag-text", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_item_init (DiItem *self)
{
  self->reviewer_class = -1;
  self->case_status = DI_CASE_IMAGE_OK;
}

DiItem *
di_item_new (GFile *file)
{
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  return g_object_new (DI_TYPE_ITEM, "file", file, NULL);
}

/**
 * di_item_get_file:
 *
 * Returns: (transfer none): the file
 */
GFile *
di_item_get_file (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->file;
}

const char *
di_item_get_display_name (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->display_name;
}

/**
 * di_item_get_thumbnail:
 *
 * Returns: (transfer none) (nullable): the thumbnail
 */
GdkPaintable *
di_item_get_thumbnail (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->thumbnail;
}

void
di_item_set_thumbnail (DiItem       *self,
                       GdkPaintable *thumbnail)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (g_set_object (&self->thumbnail, thumbnail))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THUMBNAIL]);
}

/**
 * di_item_get_prediction:
 *
 * Returns: (transfer none) (nullable): the model's prediction
 */
DiPrediction *
di_item_get_prediction (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->prediction;
}

static int
find_class (DiModelInfo *model,
            const char  *label)
{
  for (int i = 0; model != NULL && label != NULL && i < di_model_info_get_n_classes (model); i++)
    if (g_strcmp0 (di_model_info_get_class_name (model, i), label) == 0)
      return i;
  return -1;
}

/* Either the label follows the class index (set by index, before the
 * model's names are known), or the index follows the label (set by name,
 * as a case records it). */
static void
update_reviewer_label (DiItem *self)
{
  DiModelInfo *model = self->prediction ? di_prediction_get_model (self->prediction) : NULL;

  if (!self->label_from_class)
    {
      self->reviewer_class = find_class (model, self->reviewer_label);
      return;
    }

  g_clear_pointer (&self->reviewer_label, g_free);
  if (self->reviewer_class >= 0)
    {
      if (model != NULL && self->reviewer_class < di_model_info_get_n_classes (model))
        self->reviewer_label = g_strdup (di_model_info_get_class_name (model, self->reviewer_class));
      else
        self->reviewer_label = g_strdup_printf (_("Class %d"), self->reviewer_class + 1);
    }
}

void
di_item_set_prediction (DiItem       *self,
                        DiPrediction *prediction)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (self->prediction == prediction)
    return;

  g_clear_pointer (&self->prediction, di_prediction_unref);
  self->prediction = prediction ? di_prediction_ref (prediction) : NULL;
  update_reviewer_label (self);
  update_badge (self);

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PREDICTION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_CLASSES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUSPICION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MARGIN]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_CLASS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * di_item_get_badge_label:
 *
 * Returns: (nullable): the class the thumbnail's badge shows: the
 *   reviewer's once there is one, else the model's top class; short,
 *   readable and translated (di_class_get_short_title())
 */
const char *
di_item_get_badge_label (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  if (self->reviewer_label != NULL)
    return di_class_get_short_title (self->reviewer_label);
  return self->prediction ? di_class_get_short_title (di_prediction_get_top_name (self->prediction)) : NULL;
}

/**
 * di_item_get_suspicion:
 *
 * Returns: P(abnormal), or -1 when unknown
 */
double
di_item_get_suspicion (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), -1);
  return self->prediction ? di_prediction_get_abnormal (self->prediction) : -1;
}

/**
 * di_item_get_suspicious:
 *
 * Returns: %TRUE when the item's prediction carries the screening flag
 *   (see di_prediction_get_suspicious())
 */
gboolean
di_item_get_suspicious (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), FALSE);
  return self->prediction != NULL && di_prediction_get_suspicious (self->prediction);
}

/**
 * di_item_get_views_split:
 *
 * Returns: %TRUE when the item's prediction is the mean of views that do
 *   not all put its class first (see di_prediction_get_views_split())
 */
gboolean
di_item_get_views_split (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), FALSE);
  return self->prediction != NULL && di_prediction_get_views_split (self->prediction);
}

/**
 * di_item_get_margin:
 *
 * Returns: p(top-1) - p(top-2), or -1 when unknown
 */
double
di_item_get_margin (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), -1);
  return self->prediction ? di_prediction_get_margin (self->prediction) : -1;
}

int
di_item_get_reviewer_class (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), -1);
  return self->reviewer_class;
}

/**
 * di_item_set_reviewer_class:
 * @reviewer_class: a class index, or -1 for none
 */
void
di_item_set_reviewer_class (DiItem *self,
                            int     reviewer_class)
{
  g_return_if_fail (DI_IS_ITEM (self));

  reviewer_class = MAX (reviewer_class, -1);
  if (self->reviewer_class == reviewer_class && self->label_from_class)
    return;

  self->reviewer_class = reviewer_class;
  self->label_from_class = TRUE;
  update_reviewer_label (self);
  update_badge (self);

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_CLASSES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_CLASS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * di_item_get_reviewer_label:
 *
 * Returns: (nullable): the reviewer's class name
 */
const char *
di_item_get_reviewer_label (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->reviewer_label;
}

/**
 * di_item_get_reviewer_name:
 *
 * Returns: (nullable): who set the reviewer's class
 */
const char *
di_item_get_reviewer_name (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->reviewer_name;
}

void
di_item_set_reviewer_name (DiItem     *self,
                           const char *name)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (name != NULL && *name == 0)
    name = NULL;
  if (set_str (&self->reviewer_name, name))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
    }
}

/**
 * di_item_set_reviewer_label:
 * @label: (nullable): the reviewer's class by name, %NULL for none
 *
 * Sets the reviewer's class as a case records it: by name. The class index
 * is the name's position in the prediction's model, -1 until it is known.
 */
void
di_item_set_reviewer_label (DiItem     *self,
                            const char *label)
{
  int before;

  g_return_if_fail (DI_IS_ITEM (self));

  if (label != NULL && *label == 0)
    label = NULL;
  if (!self->label_from_class && g_strcmp0 (label, self->reviewer_label) == 0)
    return;

  before = self->reviewer_class;
  self->label_from_class = FALSE;
  g_free (self->reviewer_label);
  self->reviewer_label = g_strdup (label);
  update_reviewer_label (self);
  update_badge (self);

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BADGE_CLASSES]);
  if (before != self->reviewer_class)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_CLASS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWER_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVIEWED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
  g_object_thaw_notify (G_OBJECT (self));
}

gboolean
di_item_get_reviewed (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), FALSE);
  return self->reviewer_label != NULL;
}

const char *
di_item_get_note (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->note;
}

void
di_item_set_note (DiItem     *self,
                  const char *note)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (note != NULL && *note == 0)
    note = NULL;
  if (set_str (&self->note, note))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOTE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
    }
}

const char *
di_item_get_error (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);
  return self->error;
}

void
di_item_set_error (DiItem     *self,
                   const char *error)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (set_str (&self->error, error))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILED]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
    }
}

/**
 * di_item_get_case_id:
 *
 * Returns: the image's id in the window's case, or 0 when it is not in one
 */
gint64
di_item_get_case_id (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), 0);
  return self->case_id;
}

void
di_item_set_case_id (DiItem *self,
                     gint64  case_id)
{
  g_return_if_fail (DI_IS_ITEM (self));
  self->case_id = MAX (case_id, 0);
}

/**
 * di_item_get_case_status:
 *
 * Returns: a #DiCaseImageStatus: whether the file is still the one the
 *   case recorded
 */
int
di_item_get_case_status (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), DI_CASE_IMAGE_OK);
  return self->case_status;
}

void
di_item_set_case_status (DiItem *self,
                         int     status)
{
  g_return_if_fail (DI_IS_ITEM (self));

  if (self->case_status == status)
    return;
  self->case_status = status;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAGGED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAG_TEXT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP]);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * di_item_get_flagged:
 *
 * Returns: whether the file moved away or changed since the case recorded it
 */
gboolean
di_item_get_flagged (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), FALSE);
  return self->case_status != DI_CASE_IMAGE_OK;
}

/**
 * di_item_get_flag_text:
 *
 * Returns: (nullable): why the item is flagged, or %NULL
 */
const char *
di_item_get_flag_text (DiItem *self)
{
  g_return_val_if_fail (DI_IS_ITEM (self), NULL);

  switch (self->case_status)
    {
    case DI_CASE_IMAGE_MISSING:
      return _("The file is missing: it moved or was deleted after it was added to the case");
    case DI_CASE_IMAGE_CHANGED:
      return _("The file changed after it was added to the case: the case’s predictions and reviews are about the earlier file");
    case DI_CASE_IMAGE_OK:
    default:
      return NULL;
    }
}
