/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstHistoryPage: a supervisor page that finds a device by its id, a
 * certificate serial or an AWS certificate id, and shows its full history:
 * the device row, every certificate with its state and slot, and every event
 * with the operator and station. The query runs in a GTask thread, on a
 * read-only connection of its own to the workspace's database.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-history-page.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "fst-db.h"
#include "fst-error.h"
#include "fst-gui-text.h"

struct _FstHistoryPage {
	GtkWidget parent_instance;
	/* template widgets, borrowed */
	GtkEditable *search_entry;
	GtkBox *result_box;
	/* owned */
	gchar *workspace;          /* (owned) (nullable) */
	GCancellable *cancellable; /* (owned) */
};

G_DEFINE_TYPE(FstHistoryPage, fst_history_page, GTK_TYPE_WIDGET)

static gchar *
fst_history_page_time(gint64 unix_us)
{
	g_autoptr(GDateTime) dt = NULL;
	if (unix_us <= 0)
		return g_strdup("–");
	dt = g_date_time_new_from_unix_utc(unix_us / G_USEC_PER_SEC);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC");
}

/**
 * fst_history_page_describe:
 * @db: the station database
 * @query: a device id, a certificate serial or an AWS certificate id
 * @error: (nullable): return location; %FST_ERROR_NOT_FOUND when nothing matches
 *
 * Blocks on the database: call it from a worker thread.
 *
 * Returns: (transfer full): the device's history as text, or %NULL
 */
gchar *
fst_history_page_describe(FstDb *db, const gchar *query, GError **error)
{
	g_autoptr(FstDbDevice) device = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree gchar *created = NULL;
	g_autofree gchar *updated = NULL;
	FstDbCertFilter filter = {0};

	device = fst_db_search_device(db, query, &error_local);
	if (device == NULL) {
		if (g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND))
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_NOT_FOUND,
			    _("No device, certificate serial or AWS certificate id %s in this "
			      "station's records"),
			    query);
		else
			g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}

	created = fst_history_page_time(device->created_at);
	updated = fst_history_page_time(device->updated_at);
	g_string_append_printf(out, _("Device %s\n"), device->uid);
	g_string_append_printf(out,
	                       _("  model %s, firmware %s, state %s\n"),
	                       device->model != NULL ? device->model : "–",
	                       device->firmware != NULL ? device->firmware : "–",
	                       fst_db_device_state_to_string(device->state));
	g_string_append_printf(out,
	                       _("  operator %s, lot %s, station %" PRId64 ", port %s\n"),
	                       device->operator_name != NULL ? device->operator_name : "–",
	                       device->lot != NULL ? device->lot : "–",
	                       device->station_id,
	                       device->port != NULL ? device->port : "–");
	g_string_append_printf(out, _("  first seen %s, last worked on %s\n"), created, updated);
	if (device->last_error != NULL && device->last_error[0] != '\0')
		g_string_append_printf(out, _("  last error: %s\n"), device->last_error);

	filter.device_uid = device->uid;
	certs = fst_db_list_certificates(db, &filter, error);
	if (certs == NULL)
		return NULL;
	g_string_append_printf(out, _("\nCertificates (%u)\n"), certs->len);
	for (guint i = 0; i < certs->len; i++) {
		FstDbCert *cert = g_ptr_array_index(certs, i);
		g_autofree gchar *issued = fst_history_page_time(cert->created_at);
		g_autofree gchar *not_after =
		    fst_history_page_time(cert->not_after * G_USEC_PER_SEC);
		g_string_append_printf(out,
		                       _("  serial %s  %s  slot %c  issued %s  expires %s\n"),
		                       cert->serial_hex,
		                       fst_cert_state_to_string(cert->state),
		                       cert->slot == 1 ? 'B' : 'A',
		                       issued,
		                       not_after);
		g_string_append_printf(out,
		                       _("    AWS id %s, profile %s, operator %s, lot %s\n"),
		                       cert->aws_cert_id != NULL ? cert->aws_cert_id : "–",
		                       cert->profile != NULL ? cert->profile : "–",
		                       cert->operator_name != NULL ? cert->operator_name : "–",
		                       cert->lot != NULL ? cert->lot : "–");
		if (cert->revoked_at > 0)
			g_string_append_printf(
			    out,
			    _("    revoked: %s\n"),
			    cert->revocation_reason != NULL ? cert->revocation_reason : "–");
	}

	events = fst_db_list_events(db, device->id, error);
	if (events == NULL)
		return NULL;
	g_string_append_printf(out, _("\nEvents (%u)\n"), events->len);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *event = g_ptr_array_index(events, i);
		g_autofree gchar *when = fst_history_page_time(event->started_us);
		g_string_append_printf(out,
		                       "  %s  %-8s %-9s %s\n",
		                       when,
		                       event->step,
		                       event->outcome != NULL ? event->outcome : "",
		                       event->detail != NULL ? event->detail : "");
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
fst_history_page_search_thread(GTask *task,
                               gpointer source_object,
                               gpointer task_data,
                               GCancellable *cancellable)
{
	const gchar *query = task_data;
	const gchar *workspace = g_object_get_data(G_OBJECT(task), "workspace");
	g_autofree gchar *path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(FstDb) db = NULL;
	GError *error = NULL;
	gchar *text;

	/* a connection of its own, read-only: a search never waits for the
	 * line's commits nor holds the station's connection, which every port
	 * worker shares, while it reads */
	db = fst_db_open_read_only(path, &error);
	if (db == NULL) {
		g_task_return_error(task, error);
		return;
	}
	text = fst_history_page_describe(db, query, &error);
	if (text == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, text, g_free);
}

static void
fst_history_page_search_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_task_propagate_pointer(G_TASK(result), &error);
	g_autoptr(FstHistoryPage) self = FST_HISTORY_PAGE(user_data);

	if (text == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	fst_gui_text_set_lines(
	    self->result_box, text != NULL ? text : error->message, text == NULL);
}

static void
fst_history_page_search(FstHistoryPage *self)
{
	g_autoptr(GTask) task = NULL;
	g_autofree gchar *query = g_strstrip(g_strdup(gtk_editable_get_text(self->search_entry)));

	if (query[0] == '\0' || self->workspace == NULL)
		return;
	fst_gui_text_set_lines(self->result_box, _("Searching…"), FALSE);
	task = g_task_new(NULL, self->cancellable, fst_history_page_search_cb, g_object_ref(self));
	g_task_set_task_data(task, g_steal_pointer(&query), g_free);
	g_object_set_data_full(G_OBJECT(task), "workspace", g_strdup(self->workspace), g_free);
	g_task_run_in_thread(task, fst_history_page_search_thread);
}

static void
fst_history_page_activate_cb(FstHistoryPage *self)
{
	fst_history_page_search(self);
}

/**
 * fst_history_page_set_workspace:
 * @self: the page
 * @workspace: the station's workspace
 */
void
fst_history_page_set_workspace(FstHistoryPage *self, const gchar *workspace)
{
	g_return_if_fail(FST_IS_HISTORY_PAGE(self));
	g_free(self->workspace);
	self->workspace = g_strdup(workspace);
}

static void
fst_history_page_dispose(GObject *object)
{
	FstHistoryPage *self = FST_HISTORY_PAGE(object);
	g_cancellable_cancel(self->cancellable);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_HISTORY_PAGE);
	G_OBJECT_CLASS(fst_history_page_parent_class)->dispose(object);
}

static void
fst_history_page_finalize(GObject *object)
{
	FstHistoryPage *self = FST_HISTORY_PAGE(object);
	g_object_unref(self->cancellable);
	g_free(self->workspace);
	G_OBJECT_CLASS(fst_history_page_parent_class)->finalize(object);
}

static void
fst_history_page_init(FstHistoryPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
}

static void
fst_history_page_class_init(FstHistoryPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_history_page_dispose;
	object_class->finalize = fst_history_page_finalize;
	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-history-page.ui");
	gtk_widget_class_bind_template_child(widget_class, FstHistoryPage, search_entry);
	gtk_widget_class_bind_template_child(widget_class, FstHistoryPage, result_box);
	gtk_widget_class_bind_template_callback(widget_class, fst_history_page_activate_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}
