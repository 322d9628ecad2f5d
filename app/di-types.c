/* di-types.c — enumeration types.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-types"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include <dinet/dinet.h>

#include "di-types.h"

G_DEFINE_ENUM_TYPE (DiColormap, di_colormap,
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_VIRIDIS, "viridis"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_INFERNO, "inferno"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_TURBO, "turbo"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_JET, "jet"))

G_DEFINE_ENUM_TYPE (DiExplainMethod, di_explain_method,
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_GRADCAM, "gradcam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_CBAM, "cbam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_GRADCAMPP, "gradcam++"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_HIRESCAM, "hirescam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_LAYERCAM, "layercam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_LAYERCAM_FUSION, "layercam-fusion"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_SCORECAM, "scorecam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_COUNTERFACTUAL, "counterfactual"))

G_DEFINE_ENUM_TYPE (DiSortMode, di_sort_mode,
  G_DEFINE_ENUM_VALUE (DI_SORT_NAME, "name"),
  G_DEFINE_ENUM_VALUE (DI_SORT_SUSPICION, "suspicion"),
  G_DEFINE_ENUM_VALUE (DI_SORT_UNCERTAINTY, "uncertainty"))

G_DEFINE_ENUM_TYPE (DiFilterMode, di_filter_mode,
  G_DEFINE_ENUM_VALUE (DI_FILTER_ALL, "all"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_UNREVIEWED, "unreviewed"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_REVIEWED, "reviewed"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_SUSPICIOUS, "suspicious"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_VIEWS_SPLIT, "views-split"))

const char *
di_colormap_get_label (DiColormap colormap)
{
  switch (colormap)
    {
    case DI_COLORMAP_VIRIDIS: return _("Viridis");
    case DI_COLORMAP_INFERNO: return _("Inferno");
    case DI_COLORMAP_TURBO: return _("Turbo");
    case DI_COLORMAP_JET: return _("Jet");
    default: return "";
    }
}

const char *
di_explain_method_get_label (DiExplainMethod method)
{
  switch (method)
    {
    case DI_EXPLAIN_GRADCAM: return _("Grad-CAM");
    case DI_EXPLAIN_CBAM: return _("CBAM attention");
    case DI_EXPLAIN_GRADCAMPP: return _("Grad-CAM++");
    case DI_EXPLAIN_HIRESCAM: return _("HiResCAM");
    case DI_EXPLAIN_LAYERCAM: return _("LayerCAM");
    case DI_EXPLAIN_LAYERCAM_FUSION: return _("LayerCAM, layers 2–4 fused");
    case DI_EXPLAIN_SCORECAM: return _("Score-CAM");
    case DI_EXPLAIN_COUNTERFACTUAL: return _("Counterfactual (why not)");
    default: return "";
    }
}

/* What a map of @method shows, one or two sentences for the side panel.
 * The methods whose maps barely change when the model's top stages are
 * re-randomised (tests/test_explain_sanity.c; README, "Explanations") say
 * so: their maps follow the image's strong features more than the decision. */
const char *
di_explain_method_get_note (DiExplainMethod method)
{
  switch (method)
    {
    case DI_EXPLAIN_GRADCAM:
      return _("Where the features that raise the class score lie. Follows the model: passes the randomisation sanity check.");
    case DI_EXPLAIN_HIRESCAM:
      return _("Grad-CAM with the gradient kept at each position. Follows the model: passes the randomisation sanity check.");
    case DI_EXPLAIN_GRADCAMPP:
    case DI_EXPLAIN_LAYERCAM:
    case DI_EXPLAIN_LAYERCAM_FUSION:
    case DI_EXPLAIN_SCORECAM:
      return _("Caution: this map barely changes when the model’s top layers are randomised. It shows where the image has strong features more than why the model decided; compare with Grad-CAM.");
    case DI_EXPLAIN_COUNTERFACTUAL:
      return _("Regions whose removal would raise the chosen class’s score: the evidence against it.");
    case DI_EXPLAIN_CBAM:
      return _("The network’s own spatial attention, the same for every class: where it looked, not why it decided.");
    default:
      return "";
    }
}

const char *
di_explain_method_get_nick (DiExplainMethod method)
{
  GEnumClass *klass = g_type_class_ref (DI_TYPE_EXPLAIN_METHOD);
  GEnumValue *value = g_enum_get_value (klass, method);

  g_type_class_unref (klass);
  return value != NULL ? value->value_nick : "gradcam";
}

DiExplainMethod
di_explain_method_from_nick (const char *nick)
{
  GEnumClass *klass = g_type_class_ref (DI_TYPE_EXPLAIN_METHOD);
  GEnumValue *value = nick != NULL ? g_enum_get_value_by_nick (klass, nick) : NULL;
  DiExplainMethod method = value != NULL ? (DiExplainMethod) value->value : DI_EXPLAIN_GRADCAM;

  g_type_class_unref (klass);
  return method;
}

/* Readable names for the class names of the data sets we know (the folder
 * names a model was trained on). The raw name stays the identity everywhere
 * it is stored (case file, CSV); these are only shown. */
typedef struct {
  const char *name;         /* as in the model, compared without case */
  const char *title;        /* NC_("cell class", ...) */
  const char *short_title;  /* NC_("cell class, short", ...) for badges */
} DiClassTitle;

static const DiClassTitle class_titles[] = {
  /* Herlev */
  { "normal_superficiel", NC_("cell class", "Normal superficial"), NC_("cell class, short", "Superficial") },
  { "normal_intermediate", NC_("cell class", "Normal intermediate"), NC_("cell class, short", "Intermediate") },
  { "normal_columnar", NC_("cell class", "Normal columnar"), NC_("cell class, short", "Columnar") },
  { "light_dysplastic", NC_("cell class", "Mild dysplasia"), NC_("cell class, short", "Mild dysp.") },
  { "moderate_dysplastic", NC_("cell class", "Moderate dysplasia"), NC_("cell class, short", "Moderate dysp.") },
  { "severe_dysplastic", NC_("cell class", "Severe dysplasia"), NC_("cell class, short", "Severe dysp.") },
  { "carcinoma_in_situ", NC_("cell class", "Carcinoma in situ"), NC_("cell class, short", "CIS") },
  /* LBC (Mendeley) and CRIC */
  { "NL", NC_("cell class", "Negative (NILM)"), NC_("cell class, short", "NILM") },
  { "NILM", NC_("cell class", "Negative (NILM)"), NC_("cell class, short", "NILM") },
  { "SCC", NC_("cell class", "Squamous cell carcinoma"), NC_("cell class, short", "SCC") },
};

static const DiClassTitle *
find_class_title (const char *class_name)
{
  if (class_name == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (class_titles); i++)
    if (g_ascii_strcasecmp (class_titles[i].name, class_name) == 0)
      return &class_titles[i];
  return NULL;
}

/**
 * di_class_get_title:
 * @class_name: (nullable): a model's class name
 *
 * Returns: a translated, readable name for the class ("Mild dysplasia" for
 *   Herlev's "light_dysplastic"), or @class_name itself where none is known
 *   (LSIL, HSIL, a researcher's own folder names).
 */
const char *
di_class_get_title (const char *class_name)
{
  const DiClassTitle *t = find_class_title (class_name);

  return t != NULL ? g_dpgettext2 (GETTEXT_PACKAGE, "cell class", t->title) : class_name;
}

/**
 * di_views_dup_text:
 * @classes: (array length=n_classes): the model's class names
 * @top: the class of the views' mean
 * @n_views: how many views the prediction is the mean of
 * @view_top: (array length=n_views) (nullable): each view's top class (-1:
 *   not a class of the model)
 *
 * How the views voted, as the side panel and the report say it: "All 8
 * views agree", or "Views disagree: 5 of 8 put it first; the others:
 * Carcinoma in situ (2), Severe dysplastic (1)". A mean of views that
 * disagree can hide a split between confident views.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL for fewer than
 *   two views or views not known
 */
char *
di_views_dup_text (const char * const *classes,
                   int                 n_classes,
                   int                 top,
                   int                 n_views,
                   const int          *view_top)
{
  g_autoptr(GString) others = NULL;
  g_autofree int *count = NULL;
  int agree = 0, most_other = 0;

  if (n_views < 2 || view_top == NULL || classes == NULL || n_classes < 1)
    return NULL;
  for (int d = 0; d < n_views; d++)
    agree += view_top[d] == top;
  if (agree == n_views)
    /* TRANSLATORS: the views are rotations and mirror images of the image */
    return g_strdup_printf (_("All %d views agree"), n_views);

  count = g_new0 (int, n_classes + 1);  /* the last: not a class */
  for (int d = 0; d < n_views; d++)
    if (view_top[d] != top)
      count[view_top[d] >= 0 && view_top[d] < n_classes ? view_top[d] : n_classes]++;
  others = g_string_new (NULL);
  for (int k = 0; k <= n_classes; k++)
    {
      if (count[k] == 0)
        continue;
      most_other = MAX (most_other, count[k]);
      if (others->len > 0)
        g_string_append (others, ", ");
      /* TRANSLATORS: a class and how many views put it first: "Severe dysplasia (2)" */
      g_string_append_printf (others, C_("view class", "%s (%d)"),
                              k < n_classes ? di_class_get_title (classes[k]) : C_("view class", "unknown"),
                              count[k]);
    }
  if (agree == 0)
    /* TRANSLATORS: the mean's class is no single view's first: "Views disagree: none puts it first; the views: Mild dysplasia (5), …" */
    return g_strdup_printf (_("Views disagree: none puts it first; the views: %s"), others->str);
  if (most_other >= agree)
    /* TRANSLATORS: a tie or a minority: "Views disagree, no majority: 4 of 8 put it first; the others: Moderate dysplasia (4)" */
    return g_strdup_printf (_("Views disagree, no majority: %d of %d put it first; the others: %s"),
                            agree, n_views, others->str);
  /* TRANSLATORS: "Views disagree: 5 of 8 put it first; the others: Carcinoma in situ (3)" */
  return g_strdup_printf (_("Views disagree: %d of %d put it first; the others: %s"),
                          agree, n_views, others->str);
}

/**
 * di_class_get_short_title:
 * @class_name: (nullable): a model's class name
 *
 * Returns: a translated name short enough for a thumbnail badge ("CIS"),
 *   or @class_name itself where none is known.
 */
const char *
di_class_get_short_title (const char *class_name)
{
  const DiClassTitle *t = find_class_title (class_name);

  return t != NULL ? g_dpgettext2 (GETTEXT_PACKAGE, "cell class, short", t->short_title) : class_name;
}

/**
 * di_format_probability:
 * @space: between the number and the sign ("" or a no-break space)
 *
 * Returns: (transfer full): @p as a percentage to 0.1, "—" when it is
 *   not a number; rounding never shows a probability that is not 0 or 1 as
 *   0.0 or 100.0 ("<0.1%", ">99.9%" instead)
 */
char *
di_format_probability (double      p,
                       const char *space)
{
  const char *gap = *space ? " " : "";

  if (!isfinite (p))
    return g_strdup ("—");
  if (p > 0.999 && p < 1.0)
    return g_strdup_printf (">%s99.9%s%%", gap, space);
  if (p > 0.0 && p < 0.0005)
    return g_strdup_printf ("<%s0.1%s%%", gap, space);
  return g_strdup_printf ("%.1f%s%%", 100.0 * p, space);
}

/**
 * di_size_fit:
 * @image_side: the typical shorter side of the model's training images in
 *   pixels, 0 when unknown
 *
 * The engine's rule (dinet_size_fit_of()), so that the viewer, the report,
 * the headless mode and `dinet classify` agree.
 */
DiSizeFit
di_size_fit (int image_side,
             int width,
             int height)
{
  switch (dinet_size_fit_of (image_side, width, height))
    {
    case DINET_SIZE_LARGER:
      return DI_SIZE_LARGER;
    case DINET_SIZE_SMALLER:
      return DI_SIZE_SMALLER;
    case DINET_SIZE_FITS:
    default:
      return DI_SIZE_FITS;
    }
}
