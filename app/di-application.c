/* di-application.c — single-instance GtkApplication that opens images and
 * folders, owns the engine and the settings, and loads the model (in the
 * engine's worker thread, so the first frame is not delayed).
 *
 *   deepinsight [--model PATH] [--case CASE] [IMAGE|FOLDER…]
 *
 * --case makes CASE (created when missing) the window's review case, with
 * the images given added to it; without it, a folder gets its own case
 * (see di-window.c). A running instance gets the case through the
 * "app.open-case" action, then the images through "open".
 * (--no-window, the headless mode, is handled by main.c.)
 *
 * Copyright 2025 The DeepInsight authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "di-application"

#include "config.h"

#include <glib/gi18n.h>

#include "di-application.h"
#include "di-engine.h"
#include "di-model-info.h"
#include "di-preferences.h"
#include "di-window.h"

#define DEFAULT_MODEL_NAME "herlev7.safetensors"

struct _DiApplication
{
  GtkApplication parent_instance;

  /* Owned References */
  DiEngine *engine;
  GSettings *settings;
  char *model_override;     /* --model */
  char *case_path;          /* --case, until the window takes it */
  char *model_error;
  GtkWindow *preferences;

  guint model_loads;        /* loads in flight */
};

G_DEFINE_FINAL_TYPE (DiApplication, di_application, GTK_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_MODEL_LOADING,
  PROP_MODEL_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/**
 * di_settings_new:
 *
 * Returns: (transfer full): the app's settings; from the build tree's
 *   compiled schema when the app is not installed
 */
GSettings *
di_settings_new (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);

  if (schema == NULL)
    {
      g_autoptr(GSettingsSchemaSource) local = NULL;

      local = g_settings_schema_source_new_from_directory (BUILD_SCHEMADIR, source, FALSE, NULL);
      if (local != NULL)
        schema = g_settings_schema_source_lookup (local, APP_ID, FALSE);
    }

  if (schema == NULL)
    g_error ("The settings schema %s is not installed", APP_ID);

  return g_settings_new_full (schema, NULL, NULL);
}

static void
set_model_error (DiApplication *self,
                 const char    *error)
{
  if (g_strcmp0 (self->model_error, error) != 0)
    {
      g_free (self->model_error);
      self->model_error = g_strdup (error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_ERROR]);
    }
}

static void
load_model_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(DiApplication) self = user_data;
  g_autoptr(DiModelInfo) model = NULL;
  g_autoptr(GError) error = NULL;

  model = di_engine_load_model_finish (DI_ENGINE (object), result, &error);

  self->model_loads--;
  g_debug ("Model loaded: %s", model ? di_model_info_get_name (model) : error->message);
  if (model == NULL)
    {
      /* TRANSLATORS: %s is the engine's (English) reason */
      g_autofree char *text = g_strdup_printf (_("Could not load the model: %s"), error->message);

      set_model_error (self, text);
    }
  else
    set_model_error (self, NULL);

  if (self->model_loads == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_LOADING]);
}

/**
 * di_application_load_model:
 * @path: (nullable): a model file; %NULL for the default
 *
 * Loads a model in the engine's worker thread; the current model stays in
 * use until the new one is ready, and stays if the new one fails.
 */
void
di_application_load_model (DiApplication *self,
                           const char    *path)
{
  g_autofree char *default_path = NULL;

  g_return_if_fail (DI_IS_APPLICATION (self));

  if (path == NULL)
    path = default_path = di_application_dup_default_model (self);

  if (path == NULL)
    {
      g_debug ("No model to load");
      set_model_error (self, NULL);
      return;
    }

  g_debug ("Loading model %s", path);
  if (self->model_loads++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_LOADING]);
  di_engine_load_model_async (self->engine, path, NULL, load_model_cb, g_object_ref (self));
}

/**
 * di_application_dup_default_model:
 *
 * The model to load: --model, else the "default-model" setting, else the
 * installed models folder, else the source tree's models folder.
 *
 * Returns: (transfer full) (nullable): a path, or %NULL when there is none
 */
char *
di_application_dup_default_model (DiApplication *self)
{
  g_autofree char *setting = NULL;
  const char * const dirs[] = { MODELSDIR, SOURCE_MODELSDIR };

  g_return_val_if_fail (DI_IS_APPLICATION (self), NULL);

  if (self->model_override != NULL)
    return g_strdup (self->model_override);

  setting = g_settings_get_string (self->settings, "default-model");
  if (setting != NULL && *setting)
    return g_steal_pointer (&setting);

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], DEFAULT_MODEL_NAME, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }

  return NULL;
}

static void
default_model_changed_cb (DiApplication *self)
{
  g_autofree char *setting = g_settings_get_string (self->settings, "default-model");

  /* Choosing a model in Preferences wins over --model. */
  g_clear_pointer (&self->model_override, g_free);
  di_application_load_model (self, *setting ? setting : NULL);
}

static DiWindow *
get_window (DiApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (!DI_IS_WINDOW (window))
    window = GTK_WINDOW (di_window_new (self));

  return DI_WINDOW (window);
}

static void
di_application_activate (GApplication *app)
{
  DiApplication *self = DI_APPLICATION (app);
  DiWindow *window = get_window (self);

  if (self->case_path != NULL)
    {
      g_autofree char *path = g_steal_pointer (&self->case_path);
      g_autoptr(GFile) file = g_file_new_for_path (path);

      di_window_open_case (window, file, NULL, 0);
    }
  gtk_window_present (GTK_WINDOW (window));
}

static void
di_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  DiApplication *self = DI_APPLICATION (app);
  DiWindow *window = get_window (self);

  if (self->case_path != NULL)
    {
      g_autofree char *path = g_steal_pointer (&self->case_path);
      g_autoptr(GFile) file = g_file_new_for_path (path);

      di_window_open_case (window, file, files, n_files);
    }
  else
    di_window_open (window, files, n_files);
  gtk_window_present (GTK_WINDOW (window));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  DiApplication *self = user_data;

  if (self->preferences == NULL)
    {
      self->preferences = GTK_WINDOW (di_preferences_new (self->settings));
      g_object_add_weak_pointer (G_OBJECT (self->preferences), (gpointer *)&self->preferences);
    }
  gtk_window_set_transient_for (self->preferences,
                                gtk_application_get_active_window (GTK_APPLICATION (self)));
  gtk_window_present (self->preferences);
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  DiApplication *self = user_data;
  const char *authors[] = { _("The DeepInsight authors"), NULL };

  gtk_show_about_dialog (gtk_application_get_active_window (GTK_APPLICATION (self)),
                         "program-name", _("DeepInsight"),
                         "logo-icon-name", APP_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("Review Pap-smear images with an explainable classifier"),
                         "website", "https://github.com/deepinsight/DeepInsight",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "authors", authors,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  g_autoptr(GList) windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (user_data)));

  /* Destroyed, each window saves what waits (a note being typed, queued
   * predictions) before the main loop stops: Ctrl+Q loses no review. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_destroy (GTK_WINDOW (l->data));
  g_application_quit (G_APPLICATION (user_data));
}

static void
load_model_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  DiApplication *self = user_data;
  const char *path = g_variant_get_string (param, NULL);

  g_free (self->model_override);
  self->model_override = *path ? g_strdup (path) : NULL;
  di_application_load_model (self, self->model_override);
}

/* app.open-case ("/path/case.dicase"): how --case reaches a running
 * instance. The images, if any, follow through "open". */
static void
open_case_action (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  DiApplication *self = user_data;

  g_free (self->case_path);
  self->case_path = g_strdup (g_variant_get_string (param, NULL));
  /* Without images, nothing else comes: open the case now. */
  g_application_activate (G_APPLICATION (self));
}

static const GActionEntry app_actions[] = {
  { "open-case", open_case_action, "s" },
  { "preferences", preferences_action },
  { "about", about_action },
  { "quit", quit_action },
  { "load-model", load_model_action, "s" },
};

static void
di_application_startup (GApplication *app)
{
  DiApplication *self = DI_APPLICATION (app);
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
  static const struct {
    const char *action;
    const char *accels[4];
  } accels[] = {
    { "app.preferences", { "<Control>comma", NULL } },
    { "app.quit", { "<Control>q", NULL } },
    { "win.open", { "<Control>o", NULL } },
    { "win.open-folder", { "<Control><Shift>o", NULL } },
    { "win.zoom-in", { "<Control>plus", "<Control>equal", "<Control>KP_Add", NULL } },
    { "win.zoom-out", { "<Control>minus", "<Control>KP_Subtract", NULL } },
    { "win.zoom-best-fit", { "<Control>0", "<Control>KP_0", NULL } },
    { "win.zoom-100", { "<Control>1", "<Control>KP_1", NULL } },
    { "win.show-help-overlay", { "<Control>question", NULL } },
    { "win.cancel-batch", { "<Control>period", NULL } },
    { "win.scan-field", { "<Control><Shift>f", NULL } },
    { "win.undo", { "<Control>z", NULL } },
    { "win.redo", { "<Control><Shift>z", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };

  G_APPLICATION_CLASS (di_application_parent_class)->startup (app);

  gtk_css_provider_load_from_resource (css, "/io/github/deepinsight/DeepInsight/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action, accels[i].accels);

  g_settings_bind (self->settings, "threads", self->engine, "threads", G_SETTINGS_BIND_GET);
  g_signal_connect_object (self->settings, "changed::default-model",
                           G_CALLBACK (default_model_changed_cb), self, G_CONNECT_SWAPPED);

  di_application_load_model (self, NULL);
}

static int
di_application_handle_local_options (GApplication *app,
                                     GVariantDict *options)
{
  DiApplication *self = DI_APPLICATION (app);
  const char *model = NULL;
  const char *kase = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return 0;
    }

  if (g_variant_dict_lookup (options, "model", "^&ay", &model))
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (model);
      g_autoptr(GError) error = NULL;

      g_free (self->model_override);
      self->model_override = g_file_get_path (file);

      /* A running instance gets the model through its action. */
      if (!g_application_register (app, NULL, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      if (g_application_get_is_remote (app))
        g_action_group_activate_action (G_ACTION_GROUP (app), "load-model",
                                        g_variant_new_string (self->model_override));
    }

  if (g_variant_dict_lookup (options, "case", "^&ay", &kase))
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (kase);
      g_autoptr(GError) error = NULL;

      g_free (self->case_path);
      self->case_path = g_file_get_path (file);
      if (self->case_path == NULL)
        {
          g_printerr (_("%s: a case must be a local file\n"), kase);
          return 1;
        }

      if (!g_application_register (app, NULL, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      /* A running instance: the case first, then (with images) "open". */
      if (g_application_get_is_remote (app))
        {
          g_action_group_activate_action (G_ACTION_GROUP (app), "open-case",
                                          g_variant_new_string (self->case_path));
          g_clear_pointer (&self->case_path, g_free);
        }
    }

  return G_APPLICATION_CLASS (di_application_parent_class)->handle_local_options (app, options);
}

static void
di_application_dispose (GObject *object)
{
  DiApplication *self = (DiApplication *)object;

  if (self->preferences != NULL)
    gtk_window_destroy (self->preferences);

  G_OBJECT_CLASS (di_application_parent_class)->dispose (object);
}

static void
di_application_finalize (GObject *object)
{
  DiApplication *self = (DiApplication *)object;

  g_clear_object (&self->engine);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->model_override, g_free);
  g_clear_pointer (&self->case_path, g_free);
  g_clear_pointer (&self->model_error, g_free);

  G_OBJECT_CLASS (di_application_parent_class)->finalize (object);
}

static void
di_application_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  DiApplication *self = DI_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_MODEL_LOADING:
      g_value_set_boolean (value, di_application_get_model_loading (self));
      break;

    case PROP_MODEL_ERROR:
      g_value_set_string (value, self->model_error);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
di_application_class_init (DiApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = di_application_dispose;
  object_class->finalize = di_application_finalize;
  object_class->get_property = di_application_get_property;

  app_class->activate = di_application_activate;
  app_class->open = di_application_open;
  app_class->startup = di_application_startup;
  app_class->handle_local_options = di_application_handle_local_options;

  properties[PROP_MODEL_LOADING] =
    g_param_spec_boolean ("model-loading", NULL, NULL, FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_MODEL_ERROR] =
    g_param_spec_string ("model-error", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
di_application_init (DiApplication *self)
{
  static const GOptionEntry options[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Use this model file (safetensors) instead of the default"), N_("PATH") },
    { "case", 'c', 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Review in this case file (created when missing) instead of the folder’s own"), N_("CASE") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the version and exit"), NULL },
    { NULL }
  };

  self->engine = di_engine_new ();
  self->settings = di_settings_new ();

  g_application_add_main_option_entries (G_APPLICATION (self), options);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[IMAGE|FOLDER…]"));
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Review Pap-smear images with an explainable classifier."));
  g_application_set_option_context_description (G_APPLICATION (self),
                                                _("Without a window (classify into a case and export it):\n"
                                                  "  deepinsight --no-window --case CASE [--export-report PDF] [--export-csv CSV]\n"
                                                  "              [--export-geojson FILE] [--export-pack DIR] [IMAGE|FOLDER…]\n"
                                                  "All its options: deepinsight --no-window --help"));
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
}

/**
 * di_application_new:
 * @extra_flags: flags added to %G_APPLICATION_HANDLES_OPEN (tests use
 *   %G_APPLICATION_NON_UNIQUE)
 *
 * Returns: (transfer full): the application
 */
DiApplication *
di_application_new (GApplicationFlags extra_flags)
{
  return g_object_new (DI_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | extra_flags,
                       "resource-base-path", "/io/github/deepinsight/DeepInsight",
                       NULL);
}

/**
 * di_application_get_engine:
 *
 * Returns: (transfer none): the engine
 */
DiEngine *
di_application_get_engine (DiApplication *self)
{
  g_return_val_if_fail (DI_IS_APPLICATION (self), NULL);
  return self->engine;
}

/**
 * di_application_get_settings:
 *
 * Returns: (transfer none): the settings
 */
GSettings *
di_application_get_settings (DiApplication *self)
{
  g_return_val_if_fail (DI_IS_APPLICATION (self), NULL);
  return self->settings;
}

gboolean
di_application_get_model_loading (DiApplication *self)
{
  g_return_val_if_fail (DI_IS_APPLICATION (self), FALSE);
  return self->model_loads > 0;
}

/**
 * di_application_get_model_error:
 *
 * Returns: (nullable): why the last model failed to load
 */
const char *
di_application_get_model_error (DiApplication *self)
{
  g_return_val_if_fail (DI_IS_APPLICATION (self), NULL);
  return self->model_error;
}
