/* di-gallery.c — a GtkGridView of DiItem thumbnails with the predicted
 * class as a coloured badge and a mark on reviewed images; sorted by name,
 * suspicion (P(abnormal)) or uncertainty (top-1/top-2 margin), filtered by
 * review state. Selecting a thumbnail opens it.
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-gallery"

#include "config.h"

#include <glib/gi18n.h>

#include "di-gallery.h"
#include "di-item.h"

struct _DiGallery
{
  GtkWidget parent_instance;

  /* Template Widgets */
  GtkDropDown *sort_dropdown;
  GtkDropDown *filter_dropdown;
  GtkLabel *count_label;
  GtkGridView *grid_view;

  /* Owned References */
  GListModel *items;
  GtkCustomFilter *filter;
  GtkCustomSorter *sorter;
  GtkFilterListModel *filter_model;
  GtkSortListModel *sort_model;
  GtkSingleSelection *selection;

  guint invalidate_source;
  DiSortMode sort_mode;
  DiFilterMode filter_mode;
};

G_DEFINE_FINAL_TYPE (DiGallery, di_gallery, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_ITEMS,
  PROP_SORT_MODE,
  PROP_FILTER_MODE,
  PROP_SELECTED_ITEM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
filter_func (gpointer item,
             gpointer user_data)
{
  DiGallery *self = user_data;

  switch (self->filter_mode)
    {
    case DI_FILTER_REVIEWED: return di_item_get_reviewed (item);
    case DI_FILTER_UNREVIEWED: return !di_item_get_reviewed (item);
    case DI_FILTER_SUSPICIOUS: return di_item_get_suspicious (item);
    case DI_FILTER_VIEWS_SPLIT: return di_item_get_views_split (item);
    case DI_FILTER_ALL:
    default: return TRUE;
    }
}

static int
compare_names (DiItem *a,
               DiItem *b)
{
  int r = g_utf8_collate (di_item_get_display_name (a), di_item_get_display_name (b));

  return r < 0 ? -1 : r > 0 ? 1 : 0;
}

/* Unknown values (-1) go last in either direction. */
static int
compare_values (double a,
                double b,
                gboolean descending)
{
  if (a < 0 || b < 0)
    return a < 0 && b < 0 ? 0 : a < 0 ? 1 : -1;
  if (a == b)
    return 0;
  return (a < b) == descending ? 1 : -1;
}

static int
sort_func (gconstpointer a,
           gconstpointer b,
           gpointer      user_data)
{
  DiGallery *self = user_data;
  DiItem *ia = (DiItem *)a, *ib = (DiItem *)b;
  int r = 0;

  switch (self->sort_mode)
    {
    case DI_SORT_SUSPICION:
      r = compare_values (di_item_get_suspicion (ia), di_item_get_suspicion (ib), TRUE);
      break;

    case DI_SORT_UNCERTAINTY:
      r = compare_values (di_item_get_margin (ia), di_item_get_margin (ib), FALSE);
      break;

    case DI_SORT_NAME:
    default:
      break;
    }

  return r != 0 ? r : compare_names (ia, ib);
}

static void
update_count (DiGallery *self)
{
  guint n = self->items ? g_list_model_get_n_items (self->items) : 0;
  guint reviewed = 0, shown = 0;
  g_autofree char *images = NULL;
  g_autofree char *text = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DiItem) item = g_list_model_get_item (self->items, i);

      reviewed += di_item_get_reviewed (item);
      shown += filter_func (item, self);
    }

  if (n == 0)
    {
      gtk_label_set_text (self->count_label, _("No images"));
      return;
    }

  if (self->filter_mode != DI_FILTER_ALL)
    /* TRANSLATORS: a filter is on: "2 of 12 images shown · 1 reviewed" */
    images = g_strdup_printf (ngettext ("%u of %u image shown", "%u of %u images shown", n), shown, n);
  else
    images = g_strdup_printf (ngettext ("%u image", "%u images", n), n);
  /* TRANSLATORS: "12 images · 3 reviewed" */
  text = g_strdup_printf (_("%s · %u reviewed"), images, reviewed);
  gtk_label_set_text (self->count_label, text);
}

static gboolean
invalidate_cb (gpointer user_data)
{
  DiGallery *self = user_data;
  g_autoptr(DiItem) selected = NULL;

  self->invalidate_source = 0;

  selected = di_gallery_get_selected_item (self);
  if (selected != NULL)
    g_object_ref (selected);

  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
  update_count (self);

  if (selected != NULL && di_gallery_get_selected_item (self) != selected)
    di_gallery_set_selected_item (self, selected);

  return G_SOURCE_REMOVE;
}

/* The order as it is now, not as it was before a pending refresh. */
static void
flush_invalidate (DiGallery *self)
{
  if (self->invalidate_source != 0)
    {
      g_clear_handle_id (&self->invalidate_source, g_source_remove);
      invalidate_cb (self);
    }
}

/**
 * di_gallery_get_first_of:
 * @items: (element-type DiItem): some of the gallery's items
 *
 * Returns: (transfer none) (nullable): the one of @items shown first, or
 *   %NULL when none is shown (filtered out)
 */
DiItem *
di_gallery_get_first_of (DiGallery *self,
                         GPtrArray *items)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (NULL, NULL);
  GListModel *model;
  guint n;

  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);
  g_return_val_if_fail (items != NULL, NULL);

  for (guint i = 0; i < items->len; i++)
    g_hash_table_add (wanted, g_ptr_array_index (items, i));
  flush_invalidate (self);
  model = G_LIST_MODEL (self->sort_model);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DiItem) it = g_list_model_get_item (model, i);

      if (g_hash_table_contains (wanted, it))
        return it;  /* the model keeps it alive */
    }
  return NULL;
}

/**
 * di_gallery_get_count_text:
 *
 * Returns: the line above the thumbnails ("12 images · 3 reviewed")
 */
const char *
di_gallery_get_count_text (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);
  return gtk_label_get_text (self->count_label);
}

/**
 * di_gallery_invalidate:
 *
 * Sorts and filters again, soon: call after items changed.
 */
void
di_gallery_invalidate (DiGallery *self)
{
  g_return_if_fail (DI_IS_GALLERY (self));

  /* The count at once, the sorting and filtering just after: while a
   * spinner animates, redraws came first and default-idle sources waited
   * many seconds, so "3 reviewed" lagged behind the ticks. */
  update_count (self);
  if (self->invalidate_source == 0)
    self->invalidate_source = g_idle_add_full (G_PRIORITY_DEFAULT, invalidate_cb, self, NULL);
}

static void
selection_changed_cb (DiGallery *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED_ITEM]);
}

static void
sort_selected_cb (DiGallery *self)
{
  guint selected = gtk_drop_down_get_selected (self->sort_dropdown);

  if (selected != GTK_INVALID_LIST_POSITION)
    di_gallery_set_sort_mode (self, (DiSortMode)selected);
}

static void
filter_selected_cb (DiGallery *self)
{
  guint selected = gtk_drop_down_get_selected (self->filter_dropdown);

  if (selected != GTK_INVALID_LIST_POSITION)
    di_gallery_set_filter_mode (self, (DiFilterMode)selected);
}

static void
items_changed_cb (DiGallery *self)
{
  update_count (self);
}

static void
di_gallery_dispose (GObject *object)
{
  DiGallery *self = (DiGallery *)object;

  g_clear_handle_id (&self->invalidate_source, g_source_remove);
  if (self->items != NULL)
    g_signal_handlers_disconnect_by_func (self->items, items_changed_cb, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), DI_TYPE_GALLERY);
  /* The template's unbound top-level box is our child too. */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self)));)
    gtk_widget_unparent (child);
  g_clear_object (&self->selection);
  g_clear_object (&self->items);

  G_OBJECT_CLASS (di_gallery_parent_class)->dispose (object);
}

static void
di_gallery_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  DiGallery *self = DI_GALLERY (object);

  switch (prop_id)
    {
    case PROP_ITEMS:
      g_value_set_object (value, self->items);
      break;

    case PROP_SORT_MODE:
      g_value_set_enum (value, self->sort_mode);
      break;

    case PROP_FILTER_MODE:
      g_value_set_enum (value, self->filter_mode);
      break;

    case PROP_SELECTED_ITEM:
      g_value_set_object (value, di_gallery_get_selected_item (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_gallery_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  DiGallery *self = DI_GALLERY (object);

  switch (prop_id)
    {
    case PROP_ITEMS:
      di_gallery_set_items (self, g_value_get_object (value));
      break;

    case PROP_SORT_MODE:
      di_gallery_set_sort_mode (self, g_value_get_enum (value));
      break;

    case PROP_FILTER_MODE:
      di_gallery_set_filter_mode (self, g_value_get_enum (value));
      break;

    case PROP_SELECTED_ITEM:
      di_gallery_set_selected_item (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_gallery_class_init (DiGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = di_gallery_dispose;
  object_class->get_property = di_gallery_get_property;
  object_class->set_property = di_gallery_set_property;

  properties[PROP_ITEMS] =
    g_param_spec_object ("items", NULL, NULL, G_TYPE_LIST_MODEL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SORT_MODE] =
    g_param_spec_enum ("sort-mode", NULL, NULL, DI_TYPE_SORT_MODE, DI_SORT_NAME,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_FILTER_MODE] =
    g_param_spec_enum ("filter-mode", NULL, NULL, DI_TYPE_FILTER_MODE, DI_FILTER_ALL,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SELECTED_ITEM] =
    g_param_spec_object ("selected-item", NULL, NULL, DI_TYPE_ITEM,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (DI_TYPE_ITEM);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "di-gallery");
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/deepinsight/DeepInsight/ui/di-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, DiGallery, sort_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiGallery, filter_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiGallery, count_label);
  gtk_widget_class_bind_template_child (widget_class, DiGallery, grid_view);
}

static void
di_gallery_init (DiGallery *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->filter = gtk_custom_filter_new (filter_func, self, NULL);
  self->sorter = gtk_custom_sorter_new (sort_func, self, NULL);
  self->filter_model = gtk_filter_list_model_new (NULL, GTK_FILTER (self->filter));
  self->sort_model = gtk_sort_list_model_new (G_LIST_MODEL (self->filter_model),
                                              GTK_SORTER (self->sorter));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (self->sort_model));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed_cb), self);
  g_signal_connect_swapped (self->sort_dropdown, "notify::selected",
                            G_CALLBACK (sort_selected_cb), self);
  g_signal_connect_swapped (self->filter_dropdown, "notify::selected",
                            G_CALLBACK (filter_selected_cb), self);

  update_count (self);
}

GtkWidget *
di_gallery_new (void)
{
  return g_object_new (DI_TYPE_GALLERY, NULL);
}

/**
 * di_gallery_get_items:
 *
 * Returns: (transfer none) (nullable): all items, unsorted and unfiltered
 */
GListModel *
di_gallery_get_items (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);
  return self->items;
}

/**
 * di_gallery_set_items:
 * @items: (nullable): a list of #DiItem
 */
void
di_gallery_set_items (DiGallery  *self,
                      GListModel *items)
{
  g_return_if_fail (DI_IS_GALLERY (self));
  g_return_if_fail (!items || G_IS_LIST_MODEL (items));

  if (self->items == items)
    return;

  if (self->items != NULL)
    g_signal_handlers_disconnect_by_func (self->items, items_changed_cb, self);
  g_set_object (&self->items, items);
  if (items != NULL)
    g_signal_connect_swapped (items, "items-changed", G_CALLBACK (items_changed_cb), self);

  gtk_filter_list_model_set_model (self->filter_model, items);
  update_count (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ITEMS]);
}

/**
 * di_gallery_get_visible:
 *
 * Returns: (transfer none): the items as shown: filtered and sorted
 */
GListModel *
di_gallery_get_visible (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);
  return G_LIST_MODEL (self->sort_model);
}

DiSortMode
di_gallery_get_sort_mode (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), DI_SORT_NAME);
  return self->sort_mode;
}

void
di_gallery_set_sort_mode (DiGallery  *self,
                          DiSortMode  mode)
{
  g_return_if_fail (DI_IS_GALLERY (self));

  if (gtk_drop_down_get_selected (self->sort_dropdown) != (guint)mode)
    gtk_drop_down_set_selected (self->sort_dropdown, mode);

  if (self->sort_mode != mode)
    {
      self->sort_mode = mode;
      g_clear_handle_id (&self->invalidate_source, g_source_remove);
      invalidate_cb (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SORT_MODE]);
    }
}

DiFilterMode
di_gallery_get_filter_mode (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), DI_FILTER_ALL);
  return self->filter_mode;
}

void
di_gallery_set_filter_mode (DiGallery    *self,
                            DiFilterMode  mode)
{
  g_return_if_fail (DI_IS_GALLERY (self));

  if (gtk_drop_down_get_selected (self->filter_dropdown) != (guint)mode)
    gtk_drop_down_set_selected (self->filter_dropdown, mode);

  if (self->filter_mode != mode)
    {
      self->filter_mode = mode;
      g_clear_handle_id (&self->invalidate_source, g_source_remove);
      invalidate_cb (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILTER_MODE]);
    }
}

/**
 * di_gallery_get_selected_item:
 *
 * Returns: (transfer none) (nullable): the selected item
 */
DiItem *
di_gallery_get_selected_item (DiGallery *self)
{
  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);
  return gtk_single_selection_get_selected_item (self->selection);
}

static guint
find_visible (DiGallery *self,
              DiItem    *item)
{
  GListModel *model = G_LIST_MODEL (self->sort_model);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DiItem) it = g_list_model_get_item (model, i);

      if (it == item)
        return i;
    }
  return GTK_INVALID_LIST_POSITION;
}

/**
 * di_gallery_set_selected_item:
 * @item: (nullable): an item, or %NULL to unselect
 *
 * Selects @item and scrolls to it when it is shown.
 */
void
di_gallery_set_selected_item (DiGallery *self,
                              DiItem    *item)
{
  guint pos;

  g_return_if_fail (DI_IS_GALLERY (self));

  pos = item ? find_visible (self, item) : GTK_INVALID_LIST_POSITION;
  if (gtk_single_selection_get_selected (self->selection) != pos)
    gtk_single_selection_set_selected (self->selection, pos);
  if (pos != GTK_INVALID_LIST_POSITION)
    gtk_widget_activate_action (GTK_WIDGET (self->grid_view), "list.scroll-to-item", "u", pos);
}

/**
 * di_gallery_get_adjacent:
 * @item: (nullable): where to start; %NULL for before the first
 * @delta: +1 for the next item as shown, -1 for the previous
 *
 * Returns: (transfer none) (nullable): the item, or %NULL at an end
 */
DiItem *
di_gallery_get_adjacent (DiGallery *self,
                         DiItem    *item,
                         int        delta)
{
  GListModel *model;
  guint n, pos;
  gint64 next;
  g_autoptr(DiItem) result = NULL;

  g_return_val_if_fail (DI_IS_GALLERY (self), NULL);

  flush_invalidate (self);
  model = G_LIST_MODEL (self->sort_model);
  n = g_list_model_get_n_items (model);
  if (n == 0)
    return NULL;

  pos = item ? find_visible (self, item) : GTK_INVALID_LIST_POSITION;
  if (pos == GTK_INVALID_LIST_POSITION)
    next = delta >= 0 ? 0 : (gint64)n - 1;
  else
    next = (gint64)pos + delta;

  if (next < 0 || next >= n)
    return NULL;

  result = g_list_model_get_item (model, (guint)next);
  return result;  /* the model keeps it alive */
}
