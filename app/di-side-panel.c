/* di-side-panel.c — the panel beside the image: the model, the prediction
 * (top class, every class as a bar, most probable first, and the
 * normal/abnormal score when the model groups its classes), the overlay
 * controls with the legend, the reviewer's class and note, a warning when
 * the file moved or changed since its case recorded it, and the image's
 * history in the case: every call of the AI (with its probabilities at
 * the time) and every review, newest first.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-side-panel"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "di-case.h"
#include "di-heatmap.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-region.h"
#include "di-side-panel.h"

struct _DiSidePanel
{
  GtkWidget parent_instance;

  /* Template Widgets */
  GtkScrolledWindow *scroller;
  GtkScale *opacity_scale;
  GtkLabel *model_label;
  GtkLabel *faithfulness_label;
  GtkLabel *method_note;
  gboolean faithfulness_shown;
  GtkLabel *top_class_label;
  GtkLabel *top_prob_label;
  GtkLabel *views_label;
  GtkBox *abnormal_box;
  GtkLabel *abnormal_label;
  GtkLevelBar *abnormal_bar;
  GtkBox *classes_box;
  GtkWidget *explain_grid;
  GtkSizeGroup *class_names; /* one width for every class name, bold or not */
  GtkSizeGroup *class_pcts;  /* and for every percentage */
  GtkDropDown *method_dropdown;
  GtkDropDown *stage_dropdown;
  GtkDropDown *target_dropdown;
  GtkDropDown *colormap_dropdown;
  GtkAdjustment *opacity_adjustment;
  GtkSwitch *overlay_switch;
  GtkDrawingArea *legend;
  GtkLabel *review_label;
  GtkMenuButton *relabel_button;
  GtkPopover *relabel_popover;
  GtkBox *relabel_box;
  GtkEntry *note_entry;
  GtkBox *flag_box;
  GtkLabel *flag_label;
  GtkLabel *history_heading;
  GtkBox *history_box;
  GtkBox *region_box;
  GtkLabel *region_label;

  /* Owned References */
  GPtrArray *history;       /* DiCaseEvent, or NULL without a case */
  DiModelInfo *model;
  DiItem *item;
  gulong item_handler;
  DiRegion *region;         /* shown instead of the item's prediction */

  DiExplainMethod method;
  int stage;
  int target;
  DiColormap colormap;
  double opacity;
  gboolean overlay_visible;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (DiSidePanel, di_side_panel, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_MODEL_INFO,
  PROP_ITEM,
  PROP_METHOD,
  PROP_STAGE,
  PROP_TARGET,
  PROP_COLORMAP,
  PROP_OVERLAY_OPACITY,
  PROP_OVERLAY_VISIBLE,
  PROP_REGION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  NOTE_COMMITTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
remove_children (GtkBox *box)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (box))))
    gtk_box_remove (box, child);
}

static GtkWidget *
new_level_bar (double value)
{
  GtkWidget *bar = gtk_level_bar_new_for_interval (0, 1);

  /* Plain bars: the default low/high/full offsets colour by value. */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), CLAMP (value, 0, 1));

  return bar;
}

/* "64.9%": the report's format without its space */
static char *
format_probability (double p)
{
  return di_format_probability (p, "");
}

static void
update_prediction (DiSidePanel *self)
{
  DiPrediction *prediction;
  g_autofree int *order = NULL;
  int n;

  remove_children (self->classes_box);

  /* A region of the image: its own classification. */
  if (self->region != NULL)
    {
      g_autofree char *label = di_region_dup_label (self->region);

      gtk_label_set_text (self->region_label, label);
      prediction = di_region_get_prediction (self->region);
    }
  else
    prediction = self->item ? di_item_get_prediction (self->item) : NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->region_box), self->region != NULL);
  /* Nothing to explain in an image that could not be read. */
  gtk_widget_set_sensitive (self->explain_grid,
                            !(self->region == NULL && self->item != NULL &&
                              di_item_get_error (self->item) != NULL));

  if (prediction == NULL)
    {
      const char *error = self->region ? di_region_get_error (self->region)
                        : self->item ? di_item_get_error (self->item) : NULL;

      gtk_label_set_text (self->top_class_label, "—");
      if (error != NULL)
        gtk_label_set_text (self->top_prob_label, error);
      else if (self->region != NULL)
        gtk_label_set_text (self->top_prob_label, _("Classifying the region…"));
      else if (self->item != NULL && self->model != NULL)
        gtk_label_set_text (self->top_prob_label, _("Classifying…"));
      else
        gtk_label_set_text (self->top_prob_label, "");
      gtk_widget_set_visible (GTK_WIDGET (self->abnormal_box), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->views_label), FALSE);
      return;
    }

  n = di_prediction_get_n_classes (prediction);
  order = di_prediction_dup_order (prediction);

  gtk_label_set_text (self->top_class_label, di_class_get_title (di_prediction_get_top_name (prediction)));
  {
    g_autofree char *p = format_probability (di_prediction_get_probability (prediction, order[0]));
    /* TRANSLATORS: %s is a percentage with its sign: "94.9% probability" */
    g_autofree char *s = g_strdup_printf (_("%s probability"), p);
    DiModelInfo *by = di_prediction_get_model (prediction);

    /* A prediction read back from the case may come from another model
     * than the one loaded (or none): say whose it is. */
    if (self->model == NULL || !di_model_info_same_model (by, self->model))
      {
        /* TRANSLATORS: "59.4% probability · by lbc4, from the case" */
        g_autofree char *with_model = g_strdup_printf (_("%s · by %s, from the case"), s,
                                                       di_model_info_get_name (by));

        g_free (s);
        s = g_steal_pointer (&with_model);
      }
    gtk_label_set_text (self->top_prob_label, s);
  }

  {
    g_autofree char *views = di_prediction_dup_views_text (prediction);
    gboolean split = di_prediction_get_views_split (prediction);

    gtk_label_set_text (self->views_label, views ? views : "");
    gtk_widget_set_visible (GTK_WIDGET (self->views_label), views != NULL);
    if (split)
      {
        gtk_widget_remove_css_class (GTK_WIDGET (self->views_label), "dim-label");
        gtk_widget_add_css_class (GTK_WIDGET (self->views_label), "views-split");
      }
    else
      {
        gtk_widget_remove_css_class (GTK_WIDGET (self->views_label), "views-split");
        gtk_widget_add_css_class (GTK_WIDGET (self->views_label), "dim-label");
      }
  }

  if (di_prediction_get_abnormal (prediction) >= 0)
    {
      double a = di_prediction_get_abnormal (prediction);
      g_autofree char *s = NULL;

      s = format_probability (a);
      if (di_prediction_get_suspicious (prediction))
        {
          /* TRANSLATORS: P(abnormal) at or above 50 %, %s with its sign: "62.0% · suspicious" */
          g_autofree char *flagged = g_strdup_printf (_("%s · suspicious"), s);

          g_free (s);
          s = g_steal_pointer (&flagged);
        }
      gtk_label_set_text (self->abnormal_label, s);
      gtk_level_bar_set_value (self->abnormal_bar, CLAMP (a, 0, 1));
      gtk_widget_set_visible (GTK_WIDGET (self->abnormal_box), TRUE);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->abnormal_box), FALSE);

  for (int r = 0; r < n; r++)
    {
      int i = order[r];
      double p = di_prediction_get_probability (prediction, i);
      DiModelInfo *model = di_prediction_get_model (prediction);
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      const char *class_name = di_model_info_get_class_name (model, i);
      GtkWidget *name = gtk_label_new (di_class_get_title (class_name));
      GtkWidget *bar = new_level_bar (p);
      g_autofree char *pct_text = format_probability (p);
      GtkWidget *pct = gtk_label_new (pct_text);

      gtk_size_group_add_widget (self->class_names, name);
      gtk_size_group_add_widget (self->class_pcts, pct);
      gtk_label_set_xalign (GTK_LABEL (name), 0);
      gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
      /* "Normal intermediate", bold in the top row, fits; longer names
       * ("Squamous cell carcinoma") end in … with the whole in the tooltip */
      gtk_label_set_width_chars (GTK_LABEL (name), 20);
      gtk_label_set_max_width_chars (GTK_LABEL (name), 20);
      if (g_strcmp0 (di_class_get_title (class_name), class_name) != 0)
        {
          /* TRANSLATORS: a class's readable name, then its name in the model file */
          g_autofree char *tip = g_strdup_printf (_("%s (model class “%s”)"),
                                                  di_class_get_title (class_name), class_name);

          gtk_widget_set_tooltip_text (name, tip);
        }
      else
        gtk_widget_set_tooltip_text (name, class_name);
      gtk_widget_set_hexpand (bar, TRUE);
      gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
      gtk_label_set_xalign (GTK_LABEL (pct), 1);
      gtk_label_set_width_chars (GTK_LABEL (pct), 6);
      gtk_widget_add_css_class (pct, "numeric");
      if (di_model_info_get_class_abnormal (model, i) == 1)
        gtk_widget_add_css_class (bar, "abnormal");
      if (r == 0)
        gtk_widget_add_css_class (row, "top");

      gtk_box_append (GTK_BOX (row), name);
      gtk_box_append (GTK_BOX (row), bar);
      gtk_box_append (GTK_BOX (row), pct);
      gtk_widget_add_css_class (row, "class-row");
      gtk_box_append (self->classes_box, row);
    }
}

static void
update_review (DiSidePanel *self)
{
  const char *label = self->item ? di_item_get_reviewer_label (self->item) : NULL;
  const char *note = self->item ? di_item_get_note (self->item) : NULL;
  int current = self->item && label ? di_item_get_reviewer_class (self->item) : -1;

  /* Set Class… ticks the reviewer's class */
  for (GtkWidget *b = gtk_widget_get_first_child (GTK_WIDGET (self->relabel_box)); b != NULL;
       b = gtk_widget_get_next_sibling (b))
    {
      GtkWidget *check = g_object_get_data (G_OBJECT (b), "di-check");

      if (check != NULL)
        gtk_widget_set_visible (check, GPOINTER_TO_INT (g_object_get_data (G_OBJECT (b), "di-class")) == current);
    }

  if (self->item == NULL)
    gtk_label_set_text (self->review_label, "");
  else if (label != NULL)
    {
      const char *name = di_item_get_reviewer_name (self->item);
      g_autofree char *s = name != NULL
                             ? g_strdup_printf (_("Reviewer (%s): %s"), name, di_class_get_title (label))
                             : g_strdup_printf (_("Reviewer: %s"), di_class_get_title (label));

      gtk_label_set_text (self->review_label, s);
    }
  else
    gtk_label_set_text (self->review_label, _("Not reviewed"));

  gtk_widget_set_sensitive (GTK_WIDGET (self->note_entry), self->item != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->relabel_button),
                            self->item != NULL && self->model != NULL);

  self->updating = TRUE;
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->note_entry)), note ? note : "") != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->note_entry), note ? note : "");
  self->updating = FALSE;
}

static void
update_flag (DiSidePanel *self)
{
  const char *text = self->item ? di_item_get_flag_text (self->item) : NULL;

  gtk_label_set_text (self->flag_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->flag_box), text != NULL);
}

/* ---- History ------------------------------------------------------------ */

static char *
format_time (GDateTime *time)
{
  g_autoptr(GDateTime) local = NULL;

  if (time == NULL)
    return g_strdup ("—");
  local = g_date_time_to_local (time);
  return g_date_time_format (local, "%Y-%m-%d %H:%M");
}

static const char *
or_none (const char *label)
{
  /* TRANSLATORS: a review without a class, in the history */
  return label != NULL ? di_class_get_title (label) : _("no class");
}

/* The AI's probabilities at the time, most probable first. */
static char *
format_probabilities (const DiCaseEvent *event)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree int *order = di_case_event_dup_order (event);

  for (int r = 0; order != NULL && r < event->n_classes; r++)
    {
      int i = order[r];
      g_autofree char *pct = format_probability (event->probabilities[i]);

      if (s->len > 0)
        g_string_append (s, " · ");
      g_string_append_printf (s, "%s %s", di_class_get_title (event->classes[i]), pct);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
add_history_row (DiSidePanel *self,
                 const char  *line,
                 const char  *detail,
                 const char  *tooltip)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 1);
  GtkWidget *label = gtk_label_new (line);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (label, "history-line");
  gtk_box_append (GTK_BOX (box), label);
  if (detail != NULL)
    {
      GtkWidget *more = gtk_label_new (detail);

      gtk_label_set_xalign (GTK_LABEL (more), 0);
      gtk_label_set_wrap (GTK_LABEL (more), TRUE);
      gtk_label_set_wrap_mode (GTK_LABEL (more), PANGO_WRAP_WORD_CHAR);
      gtk_widget_add_css_class (more, "history-detail");
      gtk_widget_add_css_class (more, "dim-label");
      gtk_box_append (GTK_BOX (box), more);
    }
  if (tooltip != NULL)
    gtk_widget_set_tooltip_text (box, tooltip);
  gtk_box_append (self->history_box, box);
}

static void
add_history_event (DiSidePanel       *self,
                   const DiCaseEvent *event)
{
  g_autofree char *when = format_time (event->time);
  g_autofree char *line = NULL;
  g_autofree char *detail = NULL;
  /* TRANSLATORS: a review by nobody named, in the history */
  const char *who = event->reviewer != NULL && *event->reviewer ? event->reviewer : _("unnamed reviewer");

  switch (event->kind)
    {
    case DI_CASE_EVENT_ADDED:
      /* TRANSLATORS: history line: "2025-03-01 14:02 · Added to the case" */
      line = g_strdup_printf (_("%s · Added to the case"), when);
      break;

    case DI_CASE_EVENT_PREDICTION:
      {
        int top = di_case_event_get_top (event);

        if (top < 0)
          return;
        g_autofree char *pct = format_probability (event->probabilities[top]);

        /* TRANSLATORS: history line: time · AI (model file): class and its probability ("64.9%") */
        line = g_strdup_printf (_("%s · AI (%s): %s, %s"), when,
                                event->model_name ? event->model_name : "?",
                                di_class_get_title (event->classes[top]), pct);
        detail = format_probabilities (event);
        add_history_row (self, line, detail, event->model_sha256);
      }
      return;

    case DI_CASE_EVENT_REVIEW:
      if (g_strcmp0 (event->label, event->previous_label) != 0)
        /* TRANSLATORS: history line: time · reviewer: new class (before: old class) */
        line = g_strdup_printf (_("%s · %s: %s (before: %s)"), when, who,
                                or_none (event->label), or_none (event->previous_label));
      else
        /* TRANSLATORS: history line when only the note changed: time · reviewer */
        line = g_strdup_printf (_("%s · %s changed the note"), when, who);
      break;

    case DI_CASE_EVENT_UNDO:
      /* TRANSLATORS: history line: time · reviewer: class restored (before: class undone) */
      line = g_strdup_printf (_("%s · %s undid a change: %s (before: %s)"), when, who,
                              or_none (event->label), or_none (event->previous_label));
      break;

    case DI_CASE_EVENT_REDO:
      /* TRANSLATORS: history line: time · reviewer: class again (before: class) */
      line = g_strdup_printf (_("%s · %s redid a change: %s (before: %s)"), when, who,
                              or_none (event->label), or_none (event->previous_label));
      break;

    default:
      return;
    }

  if (event->kind != DI_CASE_EVENT_ADDED && g_strcmp0 (event->note, event->previous_note) != 0)
    /* TRANSLATORS: the note of a review in the history */
    detail = event->note != NULL ? g_strdup_printf (_("Note: %s"), event->note)
                                 : g_strdup (_("Note removed"));

  add_history_row (self, line, detail, NULL);
}

static void
update_history (DiSidePanel *self)
{
  gboolean shown = self->history != NULL && self->item != NULL;

  remove_children (self->history_box);
  gtk_widget_set_visible (GTK_WIDGET (self->history_heading), shown);
  gtk_widget_set_visible (GTK_WIDGET (self->history_box), shown);
  if (!shown)
    return;

  if (self->history->len == 0)
    add_history_row (self, _("Not in the case"), NULL, NULL);
  for (guint i = self->history->len; i > 0; i--)
    add_history_event (self, g_ptr_array_index (self->history, i - 1));
}

static void
note_changed_cb (DiSidePanel *self,
                 GtkEntry    *entry)
{
  if (!self->updating && self->item != NULL)
    di_item_set_note (self->item, gtk_editable_get_text (GTK_EDITABLE (entry)));
}

static void
note_activate_cb (DiSidePanel *self)
{
  g_signal_emit (self, signals[NOTE_COMMITTED], 0, TRUE);
}

static void
note_leave_cb (DiSidePanel *self)
{
  g_signal_emit (self, signals[NOTE_COMMITTED], 0, FALSE);
}

/* Escape in the note leaves it (the number keys then relabel again). */
static gboolean
note_key_cb (DiSidePanel     *self,
             guint            keyval,
             guint            keycode,
             GdkModifierType  state)
{
  if (keyval != GDK_KEY_Escape)
    return GDK_EVENT_PROPAGATE;
  g_signal_emit (self, signals[NOTE_COMMITTED], 0, TRUE);
  return GDK_EVENT_STOP;
}

static void
item_notify_cb (DiSidePanel *self,
                GParamSpec  *pspec,
                DiItem      *item)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "prediction") || g_str_equal (name, "error"))
    update_prediction (self);
  else if (g_str_equal (name, "flagged"))
    update_flag (self);
  else if (g_str_equal (name, "reviewer-label") || g_str_equal (name, "reviewer-name") ||
           g_str_equal (name, "note"))
    update_review (self);
}

static void
relabel_clicked_cb (GtkButton   *button,
                    DiSidePanel *self)
{
  gtk_popover_popdown (self->relabel_popover);
}

static GtkWidget *
new_relabel_button (DiSidePanel *self,
                    int          index,
                    const char  *text)
{
  GtkWidget *button = gtk_button_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *name = gtk_label_new (text);

  if (index >= 0 && index < 9)
    {
      char key[2] = { (char)('1' + index), 0 };
      GtkWidget *hint = gtk_label_new (key);

      gtk_widget_add_css_class (hint, "dim-label");
      gtk_widget_add_css_class (hint, "numeric");
      gtk_box_append (GTK_BOX (box), hint);
    }
  else
    {
      GtkWidget *hint = gtk_label_new (index < 0 ? "0" : " ");

      gtk_widget_add_css_class (hint, "dim-label");
      gtk_box_append (GTK_BOX (box), hint);
    }

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_box_append (GTK_BOX (box), name);
  if (index >= 0)
    {
      /* ticked on the reviewer's current class (update_review()) */
      GtkWidget *check = gtk_image_new_from_icon_name ("object-select-symbolic");

      gtk_widget_set_visible (check, FALSE);
      gtk_box_append (GTK_BOX (box), check);
      g_object_set_data (G_OBJECT (button), "di-check", check);
      g_object_set_data (G_OBJECT (button), "di-class", GINT_TO_POINTER (index));
    }
  gtk_button_set_child (GTK_BUTTON (button), box);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "win.relabel");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "i", index);
  g_signal_connect (button, "clicked", G_CALLBACK (relabel_clicked_cb), self);

  return button;
}

/* The method dropdown, in this order; CBAM attention (last) only for
 * models that have it, so positions never shift. */
static const DiExplainMethod method_order[] = {
  DI_EXPLAIN_GRADCAM,
  DI_EXPLAIN_GRADCAMPP,
  DI_EXPLAIN_HIRESCAM,
  DI_EXPLAIN_LAYERCAM,
  DI_EXPLAIN_LAYERCAM_FUSION,
  DI_EXPLAIN_SCORECAM,
  DI_EXPLAIN_COUNTERFACTUAL,
  DI_EXPLAIN_CBAM,
};

G_STATIC_ASSERT (G_N_ELEMENTS (method_order) == DI_N_EXPLAIN_METHODS);

static guint
method_position (DiExplainMethod method)
{
  for (guint i = 0; i < G_N_ELEMENTS (method_order); i++)
    if (method_order[i] == method)
      return i;
  return 0;
}

static void
update_model (DiSidePanel *self)
{
  g_autoptr(GtkStringList) methods = gtk_string_list_new (NULL);
  g_autoptr(GtkStringList) targets = gtk_string_list_new (NULL);
  int n = self->model ? di_model_info_get_n_classes (self->model) : 0;

  if (self->model != NULL)
    {
      /* TRANSLATORS: model name · architecture · number of classes */
      g_autofree char *s = g_strdup_printf (ngettext ("%s · %s · %d class",
                                                      "%s · %s · %d classes", n),
                                            di_model_info_get_name (self->model),
                                            di_model_info_get_arch_name (self->model), n);

      if (di_model_info_get_views (self->model) > 1)
        {
          /* TRANSLATORS: appended to the model line; tooltip below */
          g_autofree char *views = g_strdup_printf ("%s · %s", s, _("8 views"));
          g_autofree char *tip = g_strdup_printf ("%s\n%s", di_model_info_get_path (self->model),
                                                  _("Each prediction is the mean over the 8 orientations "
                                                    "of the image (rotations and mirror images), as the "
                                                    "model was validated."));

          gtk_label_set_text (self->model_label, views);
          gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_label), tip);
        }
      else
        {
          gtk_label_set_text (self->model_label, s);
          gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_label),
                                       di_model_info_get_path (self->model));
        }
    }
  else
    {
      gtk_label_set_text (self->model_label, _("No model loaded"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_label), NULL);
    }

  self->updating = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (method_order); i++)
    if (method_order[i] != DI_EXPLAIN_CBAM || di_side_panel_get_cbam_available (self))
      gtk_string_list_append (methods, di_explain_method_get_label (method_order[i]));
  gtk_drop_down_set_model (self->method_dropdown, G_LIST_MODEL (methods));

  gtk_string_list_append (targets, _("Predicted class"));
  for (int i = 0; i < n; i++)
    gtk_string_list_append (targets, di_class_get_title (di_model_info_get_class_name (self->model, i)));
  gtk_drop_down_set_model (self->target_dropdown, G_LIST_MODEL (targets));

  self->updating = FALSE;

  /* A model without CBAM can only explain with Grad-CAM; a new model may
   * have fewer classes. */
  if (!di_side_panel_get_cbam_available (self))
    di_side_panel_set_method (self, DI_EXPLAIN_GRADCAM);
  else
    gtk_drop_down_set_selected (self->method_dropdown, method_position (self->method));
  if (self->target >= n)
    di_side_panel_set_target (self, -1);
  else
    gtk_drop_down_set_selected (self->target_dropdown, self->target + 1);

  remove_children (self->relabel_box);
  for (int i = 0; i < n; i++)
    gtk_box_append (self->relabel_box,
                    new_relabel_button (self, i,
                                        di_class_get_title (di_model_info_get_class_name (self->model, i))));
  if (n > 0)
    gtk_box_append (self->relabel_box, new_relabel_button (self, -1, _("Clear")));

  update_prediction (self);
  update_review (self);
}

static void
method_selected_cb (DiSidePanel *self)
{
  if (!self->updating)
    {
      guint selected = gtk_drop_down_get_selected (self->method_dropdown);

      if (selected < G_N_ELEMENTS (method_order))
        di_side_panel_set_method (self, method_order[selected]);
    }
}

static void
stage_selected_cb (DiSidePanel *self)
{
  guint selected = gtk_drop_down_get_selected (self->stage_dropdown);

  if (!self->updating && selected != GTK_INVALID_LIST_POSITION)
    di_side_panel_set_stage (self, (int)selected + 1);
}

static void
target_selected_cb (DiSidePanel *self)
{
  guint selected = gtk_drop_down_get_selected (self->target_dropdown);

  if (!self->updating && selected != GTK_INVALID_LIST_POSITION)
    di_side_panel_set_target (self, (int)selected - 1);
}

static void
colormap_selected_cb (DiSidePanel *self)
{
  guint selected = gtk_drop_down_get_selected (self->colormap_dropdown);

  if (!self->updating && selected < DI_N_COLORMAPS)
    di_side_panel_set_colormap (self, (DiColormap)selected);
}

static void
opacity_changed_cb (DiSidePanel *self)
{
  if (!self->updating)
    di_side_panel_set_overlay_opacity (self, gtk_adjustment_get_value (self->opacity_adjustment) / 100.0);
}

static void
overlay_active_cb (DiSidePanel *self)
{
  if (!self->updating)
    di_side_panel_set_overlay_visible (self, gtk_switch_get_active (self->overlay_switch));
}

static void
draw_legend (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  DiSidePanel *self = user_data;
  GdkRGBA color;

  /* gtk_widget_get_color() is GTK 4.10; the style context is 4.8's way. */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &color);
  gdk_cairo_set_source_rgba (cr, &color);
  di_heatmap_draw_legend (cr, self->colormap, 0.5, 0.5, width - 1, height - 1);
}

static void
di_side_panel_dispose (GObject *object)
{
  DiSidePanel *self = (DiSidePanel *)object;

  di_side_panel_set_item (self, NULL);
  di_side_panel_set_region (self, NULL);
  g_clear_pointer (&self->model, di_model_info_unref);
  g_clear_pointer (&self->history, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), DI_TYPE_SIDE_PANEL);
  g_clear_object (&self->class_names);
  g_clear_object (&self->class_pcts);
  /* The template's unbound top-level box is our child too. */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self)));)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (di_side_panel_parent_class)->dispose (object);
}

static void
di_side_panel_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  DiSidePanel *self = DI_SIDE_PANEL (object);

  switch (prop_id)
    {
    case PROP_MODEL_INFO:
      g_value_set_boxed (value, self->model);
      break;

    case PROP_ITEM:
      g_value_set_object (value, self->item);
      break;

    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;

    case PROP_STAGE:
      g_value_set_int (value, self->stage);
      break;

    case PROP_TARGET:
      g_value_set_int (value, self->target);
      break;

    case PROP_COLORMAP:
      g_value_set_enum (value, self->colormap);
      break;

    case PROP_OVERLAY_OPACITY:
      g_value_set_double (value, self->opacity);
      break;

    case PROP_OVERLAY_VISIBLE:
      g_value_set_boolean (value, self->overlay_visible);
      break;

    case PROP_REGION:
      g_value_set_object (value, self->region);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_side_panel_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  DiSidePanel *self = DI_SIDE_PANEL (object);

  switch (prop_id)
    {
    case PROP_MODEL_INFO:
      di_side_panel_set_model_info (self, g_value_get_boxed (value));
      break;

    case PROP_ITEM:
      di_side_panel_set_item (self, g_value_get_object (value));
      break;

    case PROP_REGION:
      di_side_panel_set_region (self, g_value_get_object (value));
      break;

    case PROP_METHOD:
      di_side_panel_set_method (self, g_value_get_enum (value));
      break;

    case PROP_STAGE:
      di_side_panel_set_stage (self, g_value_get_int (value));
      break;

    case PROP_TARGET:
      di_side_panel_set_target (self, g_value_get_int (value));
      break;

    case PROP_COLORMAP:
      di_side_panel_set_colormap (self, g_value_get_enum (value));
      break;

    case PROP_OVERLAY_OPACITY:
      di_side_panel_set_overlay_opacity (self, g_value_get_double (value));
      break;

    case PROP_OVERLAY_VISIBLE:
      di_side_panel_set_overlay_visible (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_side_panel_class_init (DiSidePanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = di_side_panel_dispose;
  object_class->get_property = di_side_panel_get_property;
  object_class->set_property = di_side_panel_set_property;

  properties[PROP_MODEL_INFO] =
    g_param_spec_boxed ("model-info", NULL, NULL, DI_TYPE_MODEL_INFO,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_ITEM] =
    g_param_spec_object ("item", NULL, NULL, DI_TYPE_ITEM,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_METHOD] =
    g_param_spec_enum ("method", NULL, NULL, DI_TYPE_EXPLAIN_METHOD, DI_EXPLAIN_GRADCAM,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_STAGE] =
    g_param_spec_int ("stage", NULL, NULL, 1, 4, 4,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_TARGET] =
    g_param_spec_int ("target", NULL, NULL, -1, G_MAXINT, -1,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_COLORMAP] =
    g_param_spec_enum ("colormap", NULL, NULL, DI_TYPE_COLORMAP, DI_COLORMAP_JET,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_OVERLAY_OPACITY] =
    g_param_spec_double ("overlay-opacity", NULL, NULL, 0, 1, 0.5,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_OVERLAY_VISIBLE] =
    g_param_spec_boolean ("overlay-visible", NULL, NULL, TRUE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_REGION] =
    g_param_spec_object ("region", NULL, NULL, DI_TYPE_REGION,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DiSidePanel::note-committed:
   * @move_focus: Enter or Escape in the note: the reader is done with it
   *   and wants the keys back for the images
   *
   * The note is complete for now: Enter, Escape, or focus leaving the
   * field. The window saves it at once rather than when typing pauses.
   */
  signals[NOTE_COMMITTED] =
    g_signal_new ("note-committed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "di-side-panel");
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/deepinsight/DeepInsight/ui/di-side-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, scroller);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, opacity_scale);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, model_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, faithfulness_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, method_note);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, top_class_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, top_prob_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, views_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, abnormal_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, abnormal_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, abnormal_bar);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, classes_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, explain_grid);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, method_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, stage_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, target_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, colormap_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, opacity_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, overlay_switch);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, legend);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, review_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, relabel_button);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, relabel_popover);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, relabel_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, note_entry);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, flag_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, flag_label);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, history_heading);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, history_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, region_box);
  gtk_widget_class_bind_template_child (widget_class, DiSidePanel, region_label);
  gtk_widget_class_bind_template_callback (widget_class, note_changed_cb);
}

/* The mouse wheel over the opacity slider scrolls the panel, as it does
 * everywhere else in it: a reader scrolling down must not fade the
 * overlay away on the way. The keys and a drag still set the opacity. */
static gboolean
opacity_scale_scroll_cb (GtkEventControllerScroll *controller,
                         double                    dx,
                         double                    dy,
                         DiSidePanel              *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);
  double step = 1.0;

  if (gtk_event_controller_scroll_get_unit (controller) == GDK_SCROLL_UNIT_WHEEL)
    step = pow (gtk_adjustment_get_page_size (adj), 2.0 / 3.0);  /* GtkScrolledWindow's wheel step */
  gtk_adjustment_set_value (adj, gtk_adjustment_get_value (adj) + dy * step);
  return GDK_EVENT_STOP;
}

static void
di_side_panel_init (DiSidePanel *self)
{
  g_autoptr(GtkStringList) colormaps = gtk_string_list_new (NULL);

  self->method = DI_EXPLAIN_GRADCAM;
  self->stage = 4;
  self->target = -1;
  self->colormap = DI_COLORMAP_JET;
  self->opacity = 0.5;
  self->overlay_visible = TRUE;
  self->class_names = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);
  self->class_pcts = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);

  gtk_widget_init_template (GTK_WIDGET (self));

  for (int i = 0; i < DI_N_COLORMAPS; i++)
    gtk_string_list_append (colormaps, di_colormap_get_label (i));
  self->updating = TRUE;
  gtk_drop_down_set_model (self->colormap_dropdown, G_LIST_MODEL (colormaps));
  gtk_drop_down_set_selected (self->colormap_dropdown, self->colormap);
  self->updating = FALSE;

  gtk_drawing_area_set_draw_func (self->legend, draw_legend, self, NULL);
  gtk_label_set_text (self->method_note, di_explain_method_get_note (self->method));

  {
    GtkEventController *focus = gtk_event_controller_focus_new ();
    GtkEventController *keys = gtk_event_controller_key_new ();

    g_signal_connect_swapped (focus, "leave", G_CALLBACK (note_leave_cb), self);
    gtk_widget_add_controller (GTK_WIDGET (self->note_entry), focus);
    gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
    g_signal_connect_swapped (keys, "key-pressed", G_CALLBACK (note_key_cb), self);
    gtk_widget_add_controller (GTK_WIDGET (self->note_entry), keys);
    g_signal_connect_swapped (self->note_entry, "activate", G_CALLBACK (note_activate_cb), self);
  }

  {
    GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);

    gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
    gtk_event_controller_set_name (scroll, "di-opacity-scroll");
    g_signal_connect (scroll, "scroll", G_CALLBACK (opacity_scale_scroll_cb), self);
    gtk_widget_add_controller (GTK_WIDGET (self->opacity_scale), scroll);
  }

  g_signal_connect_swapped (self->method_dropdown, "notify::selected",
                            G_CALLBACK (method_selected_cb), self);
  g_signal_connect_swapped (self->stage_dropdown, "notify::selected",
                            G_CALLBACK (stage_selected_cb), self);
  g_signal_connect_swapped (self->target_dropdown, "notify::selected",
                            G_CALLBACK (target_selected_cb), self);
  g_signal_connect_swapped (self->colormap_dropdown, "notify::selected",
                            G_CALLBACK (colormap_selected_cb), self);
  g_signal_connect_swapped (self->opacity_adjustment, "value-changed",
                            G_CALLBACK (opacity_changed_cb), self);
  g_signal_connect_swapped (self->overlay_switch, "notify::active",
                            G_CALLBACK (overlay_active_cb), self);

  update_model (self);
}

GtkWidget *
di_side_panel_new (void)
{
  return g_object_new (DI_TYPE_SIDE_PANEL, NULL);
}

/**
 * di_side_panel_get_model_info:
 *
 * Returns: (transfer none) (nullable): the model
 */
DiModelInfo *
di_side_panel_get_model_info (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return self->model;
}

void
di_side_panel_set_model_info (DiSidePanel *self,
                              DiModelInfo *model)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if (self->model == model)
    return;

  g_clear_pointer (&self->model, di_model_info_unref);
  self->model = model ? di_model_info_ref (model) : NULL;
  update_model (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_INFO]);
}

/**
 * di_side_panel_get_item:
 *
 * Returns: (transfer none) (nullable): the image shown
 */
DiItem *
di_side_panel_get_item (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return self->item;
}

void
di_side_panel_set_item (DiSidePanel *self,
                        DiItem      *item)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if (self->item == item)
    return;

  if (self->item != NULL)
    g_clear_signal_handler (&self->item_handler, self->item);
  g_set_object (&self->item, item);
  if (item != NULL)
    self->item_handler = g_signal_connect_object (item, "notify",
                                                  G_CALLBACK (item_notify_cb), self,
                                                  G_CONNECT_SWAPPED);

  /* The history was the old image's; the window sets the new one's. */
  g_clear_pointer (&self->history, g_ptr_array_unref);

  /* Each image opens at its prediction, wherever the last one was left. */
  gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (self->scroller), 0);

  update_prediction (self);
  update_review (self);
  update_flag (self);
  update_history (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ITEM]);
}

/**
 * di_side_panel_set_history:
 * @history: (nullable) (element-type DiCaseEvent): the item's events in
 *   its case, oldest first (di_case_dup_history()); %NULL hides the
 *   history (no case)
 *
 * Shows the provenance of the current item.
 */
void
di_side_panel_set_history (DiSidePanel *self,
                           GPtrArray   *history)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if (history != NULL)
    g_ptr_array_ref (history);
  g_clear_pointer (&self->history, g_ptr_array_unref);
  self->history = history;
  update_history (self);
}

/**
 * di_side_panel_dup_history_text:
 *
 * Returns: (transfer full) (nullable): the history as shown, one line per
 *   label, or %NULL when it is hidden
 */
char *
di_side_panel_dup_history_text (DiSidePanel *self)
{
  GString *s;

  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);

  if (!gtk_widget_get_visible (GTK_WIDGET (self->history_box)))
    return NULL;

  s = g_string_new (NULL);
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->history_box));
       row != NULL; row = gtk_widget_get_next_sibling (row))
    for (GtkWidget *label = gtk_widget_get_first_child (row);
         label != NULL; label = gtk_widget_get_next_sibling (label))
      if (GTK_IS_LABEL (label))
        g_string_append_printf (s, "%s\n", gtk_label_get_text (GTK_LABEL (label)));
  return g_string_free (s, FALSE);
}

/**
 * di_side_panel_get_flag_text:
 *
 * Returns: (nullable): the moved-or-changed warning, when shown
 */
const char *
di_side_panel_get_flag_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);

  return gtk_widget_get_visible (GTK_WIDGET (self->flag_box))
           ? gtk_label_get_text (self->flag_label) : NULL;
}

/**
 * di_side_panel_get_abnormal_text:
 *
 * Returns: (nullable): the P(abnormal) line ("62.0% · suspicious"), when
 *   shown
 */
const char *
di_side_panel_get_abnormal_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);

  return gtk_widget_get_visible (GTK_WIDGET (self->abnormal_box))
           ? gtk_label_get_text (self->abnormal_label) : NULL;
}

DiExplainMethod
di_side_panel_get_method (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), DI_EXPLAIN_GRADCAM);
  return self->method;
}

void
di_side_panel_set_method (DiSidePanel     *self,
                          DiExplainMethod  method)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if (method == DI_EXPLAIN_CBAM && !di_side_panel_get_cbam_available (self))
    method = DI_EXPLAIN_GRADCAM;

  self->updating = TRUE;
  gtk_drop_down_set_selected (self->method_dropdown, method_position (method));
  self->updating = FALSE;

  gtk_label_set_text (self->method_note, di_explain_method_get_note (method));

  if (self->method != method)
    {
      self->method = method;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_METHOD]);
    }
}

int
di_side_panel_get_stage (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), 4);
  return self->stage;
}

void
di_side_panel_set_stage (DiSidePanel *self,
                         int          stage)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  stage = CLAMP (stage, 1, 4);
  self->updating = TRUE;
  gtk_drop_down_set_selected (self->stage_dropdown, stage - 1);
  self->updating = FALSE;

  if (self->stage != stage)
    {
      self->stage = stage;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
    }
}

int
di_side_panel_get_target (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), -1);
  return self->target;
}

/**
 * di_side_panel_set_target:
 * @target: a class index, or -1 for the predicted class
 */
void
di_side_panel_set_target (DiSidePanel *self,
                          int          target)
{
  int n;

  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  n = self->model ? di_model_info_get_n_classes (self->model) : 0;
  if (target < -1 || target >= n)
    target = -1;

  self->updating = TRUE;
  gtk_drop_down_set_selected (self->target_dropdown, target + 1);
  self->updating = FALSE;

  if (self->target != target)
    {
      self->target = target;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TARGET]);
    }
}

DiColormap
di_side_panel_get_colormap (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), DI_COLORMAP_JET);
  return self->colormap;
}

void
di_side_panel_set_colormap (DiSidePanel *self,
                            DiColormap   colormap)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if ((guint)colormap >= DI_N_COLORMAPS)
    colormap = DI_COLORMAP_JET;

  self->updating = TRUE;
  gtk_drop_down_set_selected (self->colormap_dropdown, colormap);
  self->updating = FALSE;

  if (self->colormap != colormap)
    {
      self->colormap = colormap;
      gtk_widget_queue_draw (GTK_WIDGET (self->legend));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLORMAP]);
    }
}

double
di_side_panel_get_overlay_opacity (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), 0.5);
  return self->opacity;
}

void
di_side_panel_set_overlay_opacity (DiSidePanel *self,
                                   double       opacity)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  opacity = CLAMP (opacity, 0.0, 1.0);
  self->updating = TRUE;
  gtk_adjustment_set_value (self->opacity_adjustment, opacity * 100.0);
  self->updating = FALSE;

  if (self->opacity != opacity)
    {
      self->opacity = opacity;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_OPACITY]);
    }
}

gboolean
di_side_panel_get_overlay_visible (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), TRUE);
  return self->overlay_visible;
}

void
di_side_panel_set_overlay_visible (DiSidePanel *self,
                                   gboolean     visible)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  visible = !!visible;
  self->updating = TRUE;
  gtk_switch_set_active (self->overlay_switch, visible);
  self->updating = FALSE;

  if (self->overlay_visible != visible)
    {
      self->overlay_visible = visible;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_VISIBLE]);
    }
}

/**
 * di_side_panel_get_top_class_text:
 *
 * Returns: the top class as shown
 */
const char *
di_side_panel_get_top_class_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return gtk_label_get_text (self->top_class_label);
}

/**
 * di_side_panel_get_probability_text:
 *
 * Returns: the line under the top class ("59.4% probability", and whose
 *   prediction it is when not the loaded model's)
 */
const char *
di_side_panel_get_probability_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return gtk_label_get_text (self->top_prob_label);
}

/**
 * di_side_panel_get_views_text:
 *
 * Returns: (nullable): the views line ("All 8 views agree", "Views
 *   disagree: …"), or %NULL when it is hidden
 */
const char *
di_side_panel_get_views_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return gtk_widget_get_visible (GTK_WIDGET (self->views_label)) ? gtk_label_get_text (self->views_label) : NULL;
}

/**
 * di_side_panel_get_explanation_sensitive:
 *
 * Returns: whether the explanation controls can be used (not for an image
 *   that could not be read)
 */
gboolean
di_side_panel_get_explanation_sensitive (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), FALSE);
  return gtk_widget_get_sensitive (self->explain_grid);
}

/**
 * di_side_panel_get_ticked_class:
 *
 * Returns: the class ticked in Set Class… (the reviewer's), or -1
 */
int
di_side_panel_get_ticked_class (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), -1);

  for (GtkWidget *b = gtk_widget_get_first_child (GTK_WIDGET (self->relabel_box)); b != NULL;
       b = gtk_widget_get_next_sibling (b))
    {
      GtkWidget *check = g_object_get_data (G_OBJECT (b), "di-check");

      if (check != NULL && gtk_widget_get_visible (check))
        return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (b), "di-class"));
    }
  return -1;
}

/**
 * di_side_panel_get_review_text:
 *
 * Returns: the review line as shown
 */
const char *
di_side_panel_get_review_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return gtk_label_get_text (self->review_label);
}

/**
 * di_side_panel_get_cbam_available:
 *
 * Returns: whether the CBAM method is offered (hidden for plain ResNet-50)
 */
gboolean
di_side_panel_get_cbam_available (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), FALSE);
  return self->model != NULL && di_model_info_has_cbam (self->model);
}

/* The faithfulness line is the whole image's map's: hidden while a
 * region's result is shown. */
static void
update_faithfulness_visible (DiSidePanel *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->faithfulness_label),
                          self->faithfulness_shown && self->region == NULL);
}

/**
 * di_side_panel_set_faithfulness:
 * @state: %DI_FAITHFULNESS_NONE hides the line; %DI_FAITHFULNESS_MEASURING
 *   says it is being measured; %DI_FAITHFULNESS_KNOWN shows the figures
 * @deletion: deletion AUC (lower is better), NaN for a map without evidence
 * @insertion: insertion AUC (higher is better)
 *
 * The faithfulness of the map on the canvas.
 */
void
di_side_panel_set_faithfulness (DiSidePanel        *self,
                                DiFaithfulnessState state,
                                double              deletion,
                                double              insertion)
{
  g_autofree char *text = NULL;

  g_return_if_fail (DI_IS_SIDE_PANEL (self));

  if (state == DI_FAITHFULNESS_MEASURING)
    text = g_strdup (_("Faithfulness: measuring…"));
  else if (state == DI_FAITHFULNESS_KNOWN && (isnan (deletion) || isnan (insertion)))
    text = g_strdup (_("Faithfulness: not measured, the map has no positive evidence"));
  else if (state == DI_FAITHFULNESS_KNOWN && fabs (insertion - deletion) < 0.05)
    /* TRANSLATORS: as below, for a map whose two figures are close: removing
     * and adding its pixels first changes the score as much */
    text = g_strdup_printf (_("Faithfulness: deletion AUC %.2f, insertion AUC %.2f — about equal: the map "
                              "does not single out what the network used"),
                            deletion, insertion);
  else if (state == DI_FAITHFULNESS_KNOWN)
    /* TRANSLATORS: deletion and insertion AUC of the heat map, numbers in 0..1 */
    text = g_strdup_printf (_("Faithfulness: deletion AUC %.2f (lower is better), insertion AUC %.2f (higher is better)"),
                            deletion, insertion);

  gtk_label_set_text (self->faithfulness_label, text != NULL ? text : "");
  self->faithfulness_shown = text != NULL;
  update_faithfulness_visible (self);
}

/**
 * di_side_panel_get_faithfulness_text:
 *
 * Returns: (nullable): the faithfulness line as shown, or %NULL when hidden
 */
const char *
di_side_panel_get_faithfulness_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);

  return self->faithfulness_shown && self->region == NULL
           ? gtk_label_get_text (self->faithfulness_label) : NULL;
}

static void
region_notify_cb (DiSidePanel *self)
{
  update_prediction (self);
}

/**
 * di_side_panel_get_region:
 *
 * Returns: (transfer none) (nullable): the region whose classification
 *   the panel shows
 */
DiRegion *
di_side_panel_get_region (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return self->region;
}

/**
 * di_side_panel_set_region:
 * @region: (nullable): a region of the image, or %NULL for the whole image
 *
 * Shows the classification of @region (labelled as a region, with where
 * it is) instead of the whole image's, following the region's result.
 */
void
di_side_panel_set_region (DiSidePanel *self,
                          DiRegion    *region)
{
  g_return_if_fail (DI_IS_SIDE_PANEL (self));
  g_return_if_fail (!region || DI_IS_REGION (region));

  if (self->region == region)
    return;

  if (self->region != NULL)
    g_signal_handlers_disconnect_by_func (self->region, region_notify_cb, self);
  g_set_object (&self->region, region);
  if (region != NULL)
    {
      g_signal_connect_swapped (region, "notify::prediction", G_CALLBACK (region_notify_cb), self);
      g_signal_connect_swapped (region, "notify::error", G_CALLBACK (region_notify_cb), self);
    }

  update_prediction (self);
  update_faithfulness_visible (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGION]);
}

/**
 * di_side_panel_get_region_text:
 *
 * Returns: (nullable): the line that says which region the prediction is
 *   of, or %NULL when it is the whole image's
 */
const char *
di_side_panel_get_region_text (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);
  return self->region != NULL ? gtk_label_get_text (self->region_label) : NULL;
}

/**
 * di_side_panel_get_method_note:
 *
 * Returns: the note under the explanation controls: what the chosen
 *   method's map shows, with the sanity-check caution where it applies
 */
const char *
di_side_panel_get_method_note (DiSidePanel *self)
{
  g_return_val_if_fail (DI_IS_SIDE_PANEL (self), NULL);

  return gtk_label_get_text (self->method_note);
}
