/* di-types.c — enumeration types.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-types"

#include "config.h"

#include <glib/gi18n.h>

#include "di-types.h"

G_DEFINE_ENUM_TYPE (DiColormap, di_colormap,
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_VIRIDIS, "viridis"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_INFERNO, "inferno"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_TURBO, "turbo"),
  G_DEFINE_ENUM_VALUE (DI_COLORMAP_JET, "jet"))

G_DEFINE_ENUM_TYPE (DiExplainMethod, di_explain_method,
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_GRADCAM, "gradcam"),
  G_DEFINE_ENUM_VALUE (DI_EXPLAIN_CBAM, "cbam"))

G_DEFINE_ENUM_TYPE (DiSortMode, di_sort_mode,
  G_DEFINE_ENUM_VALUE (DI_SORT_NAME, "name"),
  G_DEFINE_ENUM_VALUE (DI_SORT_SUSPICION, "suspicion"),
  G_DEFINE_ENUM_VALUE (DI_SORT_UNCERTAINTY, "uncertainty"))

G_DEFINE_ENUM_TYPE (DiFilterMode, di_filter_mode,
  G_DEFINE_ENUM_VALUE (DI_FILTER_ALL, "all"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_UNREVIEWED, "unreviewed"),
  G_DEFINE_ENUM_VALUE (DI_FILTER_REVIEWED, "reviewed"))

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
    default: return "";
    }
}
