/* di-window-private.h — what di-window.c and di-window-case.c share.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "di-case.h"
#include "di-case-writer.h"
#include "di-engine.h"
#include "di-gallery.h"
#include "di-image-canvas.h"
#include "di-item.h"
#include "di-model-info.h"
#include "di-prediction.h"
#include "di-report.h"
#include "di-side-panel.h"
#include "di-window.h"

G_BEGIN_DECLS

struct _DiWindow
{
  GtkApplicationWindow parent_instance;

  gboolean disposed;           /* dispose ran: no widget is left */

  /* Template Widgets */
  GtkLabel *title_label;
  GtkLabel *case_label;
  GtkToggleButton *overlay_button;
  GtkLabel *zoom_label;
  GtkRevealer *model_banner;
  GtkLabel *model_banner_label;
  GtkButton *model_banner_button;
  GtkRevealer *message_banner;
  GtkBox *message_box;
  GtkLabel *message_label;
  GtkButton *message_undo_button;
  DiGallery *gallery;
  DiImageCanvas *canvas;
  GtkWidget *placeholder;
  GtkLabel *placeholder_title;
  GtkLabel *placeholder_text;
  GtkLabel *caption_label;
  GtkLabel *evidence_label;
  GtkSpinner *spinner;
  DiSidePanel *side_panel;
  GtkRevealer *progress_revealer;
  GtkLabel *progress_label;
  GtkProgressBar *progress_bar;
  GtkToggleButton *select_button;
  GtkWidget *scan_legend_box;
  GtkLabel *scan_legend_label;
  GtkDrawingArea *scan_legend;

  /* Owned References */
  DiEngine *engine;
  GSettings *settings;
  GListStore *items;
  DiItem *current;
  DiImage *current_image;
  GCancellable *current_cancellable;  /* decoding + classifying the current image */
  GCancellable *explain_cancellable;  /* its explanation */
  GCancellable *batch_cancellable;
  gboolean batch_deferred;            /* opened: the batch waits for the first map */
  GCancellable *open_cancellable;
  GtkFileChooserNative *chooser;
  char *message;
  gboolean message_is_size_notice; /* the banner shows the size notice */
  gboolean message_is_scan_notice; /* ... or the field scan's tile-size notice */
  gboolean message_is_open_notice; /* ... or what opening found (kept over the size notice) */
  gboolean current_unreadable;     /* the image on screen failed to load */
  gboolean message_is_error;       /* the banner shows an error (red) */

  /* The review case */
  DiCase *kase;
  DiCaseWriter *writer;
  char *case_pin;            /* chosen by the user; NULL: a case per folder */
  gboolean case_chosen;      /* the case on screen is the user's choice */
  GHashTable *items_by_id;   /* case image id -> DiItem (held by items) */
  GHashTable *record_models; /* SHA-256 -> DiModelInfo of case-only models */
  guint edits;               /* reviews written through this window */
  gboolean syncing;          /* copying the case into an item */
  DiItem *note_item;         /* its note waits to be saved */
  guint note_source;
  gulong note_handler;       /* on the current item */
  GCancellable *export_cancellable;
  GtkFileChooserNative *export_chooser;
  DiReportPaper paper;
  guint exports_running;

  /* Batch progress */
  gint64 progress_shown;
  guint batch_serial;
  guint batch_total;
  guint batch_done;
  gint64 batch_start;
  gboolean batch_classifies;

  guint analysis_pending;
  guint zoom_label_source;

  /* Multi-cell fields (di-window-field.c) */
  DiRegion *region;                  /* shown instead of the whole image */
  GCancellable *region_cancellable;
  DiFieldScan *scan;                 /* shown, complete or running */
  DiFieldScan *scanning;             /* running (shown or not) */
  GCancellable *scan_cancellable;    /* the running scan's */
  gint64 scan_start;
  gint64 scan_progress_shown;
  DiCase *forgotten_case;            /* Forget Region's undo: the case ... */
  DiCaseRegion *forgotten_region;    /* ... and what was removed from it */
  gboolean told_region_saved;        /* the first saved region said so */
  gboolean told_unnamed;             /* the first unnamed review said so */
  gboolean told_region_label;        /* a key with a region on screen said whose class it is */
};

static inline DiModelInfo *
_di_window_current_model (DiWindow *self)
{
  return self->engine ? di_engine_get_model_info (self->engine) : NULL;
}

/* The loaded model made @prediction: the same object, or a prediction
 * read back from the case with the same model SHA-256. */
static inline gboolean
_di_window_prediction_is_current (DiWindow     *self,
                       DiPrediction *prediction)
{
  return prediction != NULL &&
         di_model_info_same_model (di_prediction_get_model (prediction), _di_window_current_model (self));
}

/* di-window.c */
void          _di_window_update_title          (DiWindow          *self);
void          _di_window_update_caption        (DiWindow          *self);
void          _di_window_update_progress       (DiWindow          *self);
void          _di_window_analysis_begin        (DiWindow          *self);
void          _di_window_analysis_end          (DiWindow          *self);
char         *_di_window_format_duration       (double             seconds);

/* di-window-field.c */
void          _di_window_field_init            (DiWindow          *self);
void          _di_window_field_dispose         (DiWindow          *self);
void          _di_window_field_reset           (DiWindow          *self);
void          _di_window_field_clear_forgotten (DiWindow          *self);
void          _di_window_field_show_saved_regions (DiWindow       *self);
void          _di_window_field_settings_changed (DiWindow         *self);
gboolean      _di_window_field_update_caption  (DiWindow          *self);
DiHeatmap    *_di_window_field_get_heatmap     (DiWindow          *self);
gboolean      _di_window_field_owns_progress   (DiWindow          *self);
gboolean      _di_window_field_cancel_scan     (DiWindow          *self);

/* di-window-case.c */
void          _di_window_case_init             (DiWindow          *self);
void          _di_window_case_dispose          (DiWindow          *self);
void          _di_window_set_case              (DiWindow          *self,
                                                DiCase            *kase);
gboolean      _di_window_item_in_case          (DiWindow          *self,
                                                DiItem            *item);
void          _di_window_warn_not_in_case      (DiWindow          *self);
void          _di_window_tell_other_model      (DiWindow          *self);
void          _di_window_sync_item             (DiWindow          *self,
                                                DiItem            *item,
                                                const DiCaseImage *image);
DiPrediction *_di_window_prediction_from_event (DiWindow          *self,
                                                const DiCaseEvent *event,
                                                GHashTable        *case_models);
void          _di_window_record_prediction     (DiWindow          *self,
                                                DiItem            *item,
                                                DiPrediction      *prediction);
void          _di_window_record_map            (DiWindow          *self,
                                                DiItem            *item,
                                                DiHeatmap         *heatmap,
                                                DiPrediction      *prediction);
void          _di_window_update_history        (DiWindow          *self);
gboolean      _di_window_flush_note            (DiWindow          *self);
void          _di_window_watch_note            (DiWindow          *self,
                                                DiItem            *item);
void          _di_window_unwatch_note          (DiWindow          *self);

G_END_DECLS
