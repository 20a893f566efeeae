/*
 * FstSetupPage: the supervisor's view of what the station issues with: the
 * workspace's CAs with their expiry, and every profile checked with each of
 * its errors listed (as `fleetstation ca list` and `profile check` do). The
 * files are read in GTask threads.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-setup-page.h"

#include <glib/gi18n.h>

#include "fst-ca-store.h"
#include "fst-gui-text.h"
#include "fst-profile.h"
#include "fst-station.h"

struct _FstSetupPage {
	GtkWidget parent_instance;
	/* template widgets, borrowed */
	GtkBox *result_box;
	/* owned */
	gchar *workspace;          /* (owned) (nullable) */
	GCancellable *cancellable; /* (owned) */
};

G_DEFINE_TYPE(FstSetupPage, fst_setup_page, GTK_TYPE_WIDGET)

static void
fst_setup_page_list_cas_thread(GTask *task,
                               gpointer source_object,
                               gpointer task_data,
                               GCancellable *cancellable)
{
	g_autofree gchar *ca_dir = g_build_filename(task_data, "ca", NULL);
	g_autoptr(GString) text = g_string_new(NULL);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	GError *error = NULL;
	g_autoptr(GPtrArray) infos = fst_ca_store_list(ca_dir, &error);

	if (infos == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_string_append_printf(text, _("CAs in %s: %u\n"), ca_dir, infos->len);
	for (guint i = 0; i < infos->len; i++) {
		FstCaInfo *info = g_ptr_array_index(infos, i);
		gint64 days = (info->not_after - now) / 86400;
		g_autoptr(GDateTime) until = g_date_time_new_from_unix_utc(info->not_after);
		g_autofree gchar *until_str = g_date_time_format(until, "%Y-%m-%d");
		g_string_append_printf(text, "%s: %s\n", info->name, info->subject);
		g_string_append_printf(text,
		                       _("  key %s (%s), valid until %s, %s\n"),
		                       info->key,
		                       info->key_store,
		                       until_str,
		                       days < 0                        ? _("EXPIRED")
		                       : days < FST_CA_STORE_WARN_DAYS ? _("EXPIRES SOON")
		                                                       : _("ok"));
	}
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

static gint
fst_setup_page_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

static void
fst_setup_page_check_dir(GString *text, const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(name, ".profile"))
			g_ptr_array_add(names, g_strdup(name));
	}
	g_ptr_array_sort(names, fst_setup_page_compare_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autoptr(GPtrArray) errors = NULL;
		g_autoptr(FstProfile) profile = fst_profile_check_file(path, &errors);
		if (profile != NULL) {
			g_autofree gchar *summary = fst_profile_describe(profile);
			g_string_append_printf(text, _("%s: ok: %s\n"), path, summary);
			continue;
		}
		g_string_append_printf(text, _("%s: %u error(s)\n"), path, errors->len);
		for (guint j = 0; j < errors->len; j++) {
			const GError *error = g_ptr_array_index(errors, j);
			g_string_append_printf(text, "  %s\n", error->message);
		}
	}
}

static void
fst_setup_page_check_profiles_thread(GTask *task,
                                     gpointer source_object,
                                     gpointer task_data,
                                     GCancellable *cancellable)
{
	g_autofree gchar *templates =
	    g_build_filename(fst_station_templates_dir(), "profiles", NULL);
	g_autofree gchar *own = g_build_filename(task_data, "profiles", NULL);
	g_autoptr(GString) text = g_string_new(NULL);

	fst_setup_page_check_dir(text, templates);
	fst_setup_page_check_dir(text, own);
	if (text->len == 0)
		g_string_append_printf(text, _("No profile in %s or %s"), templates, own);
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

static void
fst_setup_page_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_task_propagate_pointer(G_TASK(result), &error);
	FstSetupPage *self;

	if (text == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self = FST_SETUP_PAGE(source);
	fst_gui_text_set_lines(
	    self->result_box, text != NULL ? text : error->message, text == NULL);
}

static void
fst_setup_page_run(FstSetupPage *self, GTaskThreadFunc func)
{
	g_autoptr(GTask) task = NULL;
	if (self->workspace == NULL)
		return;
	task = g_task_new(self, self->cancellable, fst_setup_page_done_cb, NULL);
	g_task_set_task_data(task, g_strdup(self->workspace), g_free);
	fst_gui_text_set_lines(self->result_box, _("Working…"), FALSE);
	g_task_run_in_thread(task, func);
}

static void
fst_setup_page_list_cas_cb(FstSetupPage *self)
{
	fst_setup_page_run(self, fst_setup_page_list_cas_thread);
}

static void
fst_setup_page_check_profiles_cb(FstSetupPage *self)
{
	fst_setup_page_run(self, fst_setup_page_check_profiles_thread);
}

/**
 * fst_setup_page_set_workspace:
 * @self: the page
 * @workspace: the station's workspace
 */
void
fst_setup_page_set_workspace(FstSetupPage *self, const gchar *workspace)
{
	g_return_if_fail(FST_IS_SETUP_PAGE(self));
	g_free(self->workspace);
	self->workspace = g_strdup(workspace);
}

static void
fst_setup_page_dispose(GObject *object)
{
	FstSetupPage *self = FST_SETUP_PAGE(object);
	g_cancellable_cancel(self->cancellable);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_SETUP_PAGE);
	G_OBJECT_CLASS(fst_setup_page_parent_class)->dispose(object);
}

static void
fst_setup_page_finalize(GObject *object)
{
	FstSetupPage *self = FST_SETUP_PAGE(object);
	g_object_unref(self->cancellable);
	g_free(self->workspace);
	G_OBJECT_CLASS(fst_setup_page_parent_class)->finalize(object);
}

static void
fst_setup_page_init(FstSetupPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
}

static void
fst_setup_page_class_init(FstSetupPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_setup_page_dispose;
	object_class->finalize = fst_setup_page_finalize;
	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-setup-page.ui");
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, result_box);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_list_cas_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_check_profiles_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}
