/* di-preferences.c — every control is bound to a GSettings key; choosing
 * a default model loads it at once (DiApplication watches the key).
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "di-preferences.h"

struct _DiPreferences
{
  GtkWindow parent_instance;

  /* Template Widgets */
  GtkLabel *model_label;
  GtkButton *choose_model_button;
  GtkButton *reset_model_button;
  GtkDropDown *colormap_dropdown;
  GtkAdjustment *opacity_adjustment;
  GtkSpinButton *threads_spin;
  GtkEntry *reviewer_entry;

  /* Owned References */
  GSettings *settings;
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (DiPreferences, di_preferences, GTK_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update_model_label (DiPreferences *self)
{
  g_autofree char *path = g_settings_get_string (self->settings, "default-model");

  if (*path)
    {
      g_autofree char *base = g_path_get_basename (path);

      gtk_label_set_text (self->model_label, base);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_label), path);
    }
  else
    {
      gtk_label_set_text (self->model_label, _("Installed model"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_label), NULL);
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->reset_model_button), *path != 0);
}

static void
chooser_response_cb (DiPreferences        *self,
                     int                   response,
                     GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      if (path != NULL)
        g_settings_set_string (self->settings, "default-model", path);
    }
  g_clear_object (&self->chooser);
}

static void
choose_model_cb (DiPreferences *self)
{
  GtkFileFilter *filter;

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);

  self->chooser = gtk_file_chooser_native_new (_("Choose a Model"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN,
                                               _("_Choose"), _("_Cancel"));
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("Models (safetensors)"));
  gtk_file_filter_add_suffix (filter, "safetensors");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  g_object_unref (filter);

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect_swapped (self->chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
reset_model_cb (DiPreferences *self)
{
  g_settings_reset (self->settings, "default-model");
}

static gboolean
opacity_get_mapping (GValue   *value,
                     GVariant *variant,
                     gpointer  user_data)
{
  g_value_set_double (value, 100.0 * g_variant_get_double (variant));
  return TRUE;
}

static GVariant *
opacity_set_mapping (const GValue       *value,
                     const GVariantType *type,
                     gpointer            user_data)
{
  return g_variant_new_double (g_value_get_double (value) / 100.0);
}

static gboolean
colormap_get_mapping (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (DI_TYPE_COLORMAP);
  GEnumValue *ev = g_enum_get_value_by_nick (klass, g_variant_get_string (variant, NULL));

  g_value_set_uint (value, ev ? (guint)ev->value : 0);
  return TRUE;
}

static GVariant *
colormap_set_mapping (const GValue       *value,
                      const GVariantType *type,
                      gpointer            user_data)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (DI_TYPE_COLORMAP);
  GEnumValue *ev = g_enum_get_value (klass, (int)g_value_get_uint (value));

  return ev ? g_variant_new_string (ev->value_nick) : NULL;
}

static void
di_preferences_constructed (GObject *object)
{
  DiPreferences *self = (DiPreferences *)object;

  G_OBJECT_CLASS (di_preferences_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));

  g_settings_bind_with_mapping (self->settings, "colormap",
                                self->colormap_dropdown, "selected", G_SETTINGS_BIND_DEFAULT,
                                colormap_get_mapping, colormap_set_mapping, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "overlay-opacity",
                                self->opacity_adjustment, "value", G_SETTINGS_BIND_DEFAULT,
                                opacity_get_mapping, opacity_set_mapping, NULL, NULL);
  g_settings_bind (self->settings, "threads", self->threads_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "reviewer-name", self->reviewer_entry, "text", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed::default-model",
                           G_CALLBACK (update_model_label), self, G_CONNECT_SWAPPED);
  update_model_label (self);
}

static void
di_preferences_dispose (GObject *object)
{
  DiPreferences *self = (DiPreferences *)object;

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), DI_TYPE_PREFERENCES);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (di_preferences_parent_class)->dispose (object);
}

static void
di_preferences_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  DiPreferences *self = DI_PREFERENCES (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_preferences_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  DiPreferences *self = DI_PREFERENCES (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_preferences_class_init (DiPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = di_preferences_constructed;
  object_class->dispose = di_preferences_dispose;
  object_class->get_property = di_preferences_get_property;
  object_class->set_property = di_preferences_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/deepinsight/DeepInsight/ui/di-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, model_label);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, choose_model_button);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, reset_model_button);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, colormap_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, opacity_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, DiPreferences, reviewer_entry);
  gtk_widget_class_bind_template_callback (widget_class, choose_model_cb);
  gtk_widget_class_bind_template_callback (widget_class, reset_model_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
di_preferences_init (DiPreferences *self)
{
  g_autoptr(GtkStringList) colormaps = gtk_string_list_new (NULL);

  gtk_widget_init_template (GTK_WIDGET (self));

  for (int i = 0; i < DI_N_COLORMAPS; i++)
    gtk_string_list_append (colormaps, di_colormap_get_label (i));
  gtk_drop_down_set_model (self->colormap_dropdown, G_LIST_MODEL (colormaps));
}

GtkWidget *
di_preferences_new (GSettings *settings)
{
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (DI_TYPE_PREFERENCES, "settings", settings, NULL);
}

/**
 * di_preferences_get_settings:
 *
 * Returns: (transfer none): the settings
 */
GSettings *
di_preferences_get_settings (DiPreferences *self)
{
  g_return_val_if_fail (DI_IS_PREFERENCES (self), NULL);
  return self->settings;
}
