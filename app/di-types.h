/* di-types.h — forward declarations and the app's enumerations.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _DiApplication DiApplication;
typedef struct _DiEngine DiEngine;
typedef struct _DiFieldScan DiFieldScan;
typedef struct _DiGallery DiGallery;
typedef struct _DiHeatmap DiHeatmap;
typedef struct _DiImage DiImage;
typedef struct _DiImageCanvas DiImageCanvas;
typedef struct _DiItem DiItem;
typedef struct _DiModelInfo DiModelInfo;
typedef struct _DiPrediction DiPrediction;
typedef struct _DiPreferences DiPreferences;
typedef struct _DiRegion DiRegion;
typedef struct _DiSidePanel DiSidePanel;
typedef struct _DiWindow DiWindow;

/**
 * DiColormap:
 *
 * The colormaps an overlay can use; every one is an exact 256-entry table.
 * The nicks are the values of the "colormap" settings key.
 */
typedef enum {
  DI_COLORMAP_VIRIDIS,
  DI_COLORMAP_INFERNO,
  DI_COLORMAP_TURBO,
  DI_COLORMAP_JET,
} DiColormap;

#define DI_N_COLORMAPS (DI_COLORMAP_JET + 1)
#define DI_TYPE_COLORMAP (di_colormap_get_type ())
GType di_colormap_get_type (void);

/**
 * DiExplainMethod:
 * @DI_EXPLAIN_GRADCAM: Grad-CAM at a stage
 * @DI_EXPLAIN_CBAM: CBAM spatial attention of a stage's last block
 * @DI_EXPLAIN_GRADCAMPP: Grad-CAM++
 * @DI_EXPLAIN_HIRESCAM: HiResCAM
 * @DI_EXPLAIN_LAYERCAM: LayerCAM at a stage
 * @DI_EXPLAIN_LAYERCAM_FUSION: LayerCAM of layer2–layer4 fused (fine maps)
 * @DI_EXPLAIN_SCORECAM: Score-CAM (many batched forward passes)
 * @DI_EXPLAIN_COUNTERFACTUAL: "why not this class" (negated gradients)
 *
 * The methods of the engine's dinet_explain(); the nicks are its names
 * (`dinet explain --method`), also stored in case files.
 */
typedef enum {
  DI_EXPLAIN_GRADCAM,
  DI_EXPLAIN_CBAM,
  DI_EXPLAIN_GRADCAMPP,
  DI_EXPLAIN_HIRESCAM,
  DI_EXPLAIN_LAYERCAM,
  DI_EXPLAIN_LAYERCAM_FUSION,
  DI_EXPLAIN_SCORECAM,
  DI_EXPLAIN_COUNTERFACTUAL,
} DiExplainMethod;

#define DI_N_EXPLAIN_METHODS (DI_EXPLAIN_COUNTERFACTUAL + 1)

#define DI_TYPE_EXPLAIN_METHOD (di_explain_method_get_type ())
GType di_explain_method_get_type (void);

/**
 * DiSortMode:
 * @DI_SORT_NAME: by file name
 * @DI_SORT_SUSPICION: most suspicious (highest P(abnormal)) first
 * @DI_SORT_UNCERTAINTY: smallest top-1 / top-2 margin first
 */
typedef enum {
  DI_SORT_NAME,
  DI_SORT_SUSPICION,
  DI_SORT_UNCERTAINTY,
} DiSortMode;

#define DI_TYPE_SORT_MODE (di_sort_mode_get_type ())
GType di_sort_mode_get_type (void);

typedef enum {
  DI_FILTER_ALL,
  DI_FILTER_UNREVIEWED,
  DI_FILTER_REVIEWED,
  DI_FILTER_SUSPICIOUS,
  DI_FILTER_VIEWS_SPLIT,
} DiFilterMode;

#define DI_TYPE_FILTER_MODE (di_filter_mode_get_type ())
GType di_filter_mode_get_type (void);

/* Translated, user-visible names. */
const char *di_colormap_get_label (DiColormap colormap);
const char *di_explain_method_get_label (DiExplainMethod method);
/* What the method's map shows, with a caution for the methods that fail the
 * model-randomisation sanity check; translated. */
const char *di_explain_method_get_note (DiExplainMethod method);
/* The engine's name ("gradcam", "gradcam++", ...) and back; unknown names
 * give Grad-CAM. */
const char *di_explain_method_get_nick (DiExplainMethod method);
DiExplainMethod di_explain_method_from_nick (const char *nick);
/* A class name as shown: readable and translated for the data sets we know,
 * else the name itself. Stored names never change. */
const char *di_class_get_title (const char *class_name);
char       *di_views_dup_text  (const char * const *classes,
                                int                 n_classes,
                                int                 top,
                                int                 n_views,
                                const int          *view_top);
const char *di_class_get_short_title (const char *class_name);
/* A probability as a percentage ("64.9%"), never rounded to 0 or 100. */
char       *di_format_probability (double p, const char *space);

/**
 * DiSizeFit:
 * @DI_SIZE_FITS: the image is in the range of the model's training images
 *   (or the model does not record their size)
 * @DI_SIZE_LARGER: much larger (a field given to a model of single cells)
 * @DI_SIZE_SMALLER: much smaller
 *
 * How an image's size compares with the images a model was trained on
 * (metadata "data.image_side"): its AI call may not apply when it does not fit.
 */
typedef enum
{
  DI_SIZE_FITS,
  DI_SIZE_LARGER,
  DI_SIZE_SMALLER,
} DiSizeFit;

DiSizeFit   di_size_fit           (int image_side, int width, int height);

G_END_DECLS
