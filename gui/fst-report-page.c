/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstReportPage: the supervisor's reports. Exports a signed CSV, JSON or PDF
 * report of a lot and/or a time range (the engine's report writers, as
 * `fleetstation report --lot --since --until`),
 * verifies a report file against the station's report certificate, and
 * verifies the database's audit chain through the workspace's anchors,
 * showing how old the last anchor is (as `fleetstation audit verify`). All
 * of it in GTask threads.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-report-page.h"

#include <errno.h>
#include <inttypes.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "fst-audit-anchors.h"
#include "fst-audit.h"
#include "fst-error.h"
#include "fst-gui-interaction.h"
#include "fst-gui-text.h"
#include "fst-report-export.h"

struct _FstReportPage {
	GtkWidget parent_instance;
	/* template widgets, borrowed */
	GtkEditable *lot_entry;
	GtkEditable *since_entry;
	GtkEditable *until_entry;
	GtkEditable *verify_entry;
	GtkBox *result_box;
	/* owned */
	gchar *workspace;               /* (owned) (nullable) */
	FstGuiInteraction *interaction; /* (owned) (nullable): asks for the report key's secret */
	GCancellable *cancellable;      /* (owned) */
	guint busy;
};

G_DEFINE_TYPE(FstReportPage, fst_report_page, GTK_TYPE_WIDGET)

/* what a page thread needs: all copied, the page itself is not touched */
typedef struct {
	gchar *workspace;            /* (owned) */
	FstInteraction *interaction; /* (owned) (nullable) */
	gchar *db_path;              /* (owned) */
	gchar *lot;                  /* (owned) (nullable) */
	gchar *since;                /* (owned) (nullable): as typed */
	gchar *until;                /* (owned) (nullable): as typed */
	gchar *format;               /* (owned) (nullable) */
	gchar *file;                 /* (owned) (nullable) */
} FstReportPageJob;

static void
fst_report_page_job_free(gpointer data)
{
	FstReportPageJob *job = data;
	g_free(job->workspace);
	g_clear_object(&job->interaction);
	g_free(job->db_path);
	g_free(job->lot);
	g_free(job->since);
	g_free(job->until);
	g_free(job->format);
	g_free(job->file);
	g_free(job);
}

static gchar *
fst_report_page_file_name(FstReportPageJob *job)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree gchar *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
	g_autofree gchar *safe = g_strdup_printf("%s%s%s%s%s",
	                                         job->lot != NULL ? job->lot : "all",
	                                         job->since != NULL ? "-from-" : "",
	                                         job->since != NULL ? job->since : "",
	                                         job->until != NULL ? "-until-" : "",
	                                         job->until != NULL ? job->until : "");

	for (gchar *p = safe; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			*p = '_';
	}
	return g_strdup_printf("report-%s-%s.%s", safe, stamp, job->format);
}

static void
fst_report_page_export_thread(GTask *task,
                              gpointer source_object,
                              gpointer task_data,
                              GCancellable *cancellable)
{
	FstReportPageJob *job = task_data;
	FstReportScope scope = {.lot = job->lot};
	g_autofree gchar *dir = g_build_filename(job->workspace, "reports", NULL);
	g_autofree gchar *name = fst_report_page_file_name(job);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *sig = g_strdup_printf("%s.sig", path);
	g_autoptr(FstReportSummary) summary = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	GError *error = NULL;

	if (!fst_report_parse_time(job->since, &scope.since_us, &error) ||
	    !fst_report_parse_time(job->until, &scope.until_us, &error)) {
		g_task_return_error(task, error);
		return;
	}

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_task_return_new_error(task,
		                        FST_ERROR,
		                        FST_ERROR_PERMISSION_DENIED,
		                        _("Cannot make %s: %s"),
		                        dir,
		                        g_strerror(errno));
		return;
	}
	if (!fst_report_export_signed(job->workspace,
	                              job->interaction,
	                              job->db_path,
	                              &scope,
	                              job->format,
	                              FST_REPORT_PAPER_A4,
	                              path,
	                              &error)) {
		g_task_return_error(task, error);
		return;
	}
	summary = fst_report_summary(job->db_path, &scope, &error);
	if (summary == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_string_append_printf(text, _("Report written: %s\nSignature: %s\n\n"), path, sig);
	if (job->since != NULL || job->until != NULL) {
		/* TRANSLATORS: a report's time range, each end a UTC date or time or "…" */
		g_string_append_printf(text,
		                       _("From %s until %s (UTC, the end not included)\n"),
		                       job->since != NULL ? job->since : "…",
		                       job->until != NULL ? job->until : "…");
	}
	g_string_append_printf(text,
	                       _("Lot %s: %" PRId64 " devices, %" PRId64 " provisioned, %" PRId64
	                         " failed, %" PRId64 " to re-work\n"),
	                       job->lot != NULL ? job->lot : _("(all)"),
	                       summary->devices,
	                       summary->provisioned,
	                       summary->failed,
	                       summary->rework);
	for (guint i = 0; i < summary->failures->len; i++) {
		FstReportFailure *failure = g_ptr_array_index(summary->failures, i);
		g_string_append_printf(
		    text, "  %" G_GINT64_FORMAT " × %s\n", failure->devices, failure->reason);
	}
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

static void
fst_report_page_verify_thread(GTask *task,
                              gpointer source_object,
                              gpointer task_data,
                              GCancellable *cancellable)
{
	FstReportPageJob *job = task_data;
	g_autofree gchar *cert = g_build_filename(job->workspace, FST_REPORT_CERT_FILE, NULL);
	g_autofree gchar *sig = g_strdup_printf("%s.sig", job->file);
	GError *error = NULL;

	if (!fst_report_verify(cert, job->file, sig, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task,
	                      g_strdup_printf(_("%s: the signature is good; the report is as this "
	                                        "station wrote it"),
	                                      job->file),
	                      g_free);
}

/* "3 days", "5 hours", "12 minutes" */
static gchar *
fst_report_page_age(gint64 then_us)
{
	gint64 secs = MAX(g_get_real_time() - then_us, 0) / G_USEC_PER_SEC;
	gulong n;

	if (secs >= 2 * 86400) {
		n = (gulong)(secs / 86400);
		return g_strdup_printf(ngettext("%lu day", "%lu days", n), n);
	}
	if (secs >= 2 * 3600) {
		n = (gulong)(secs / 3600);
		return g_strdup_printf(ngettext("%lu hour", "%lu hours", n), n);
	}
	n = (gulong)(secs / 60);
	return g_strdup_printf(ngettext("%lu minute", "%lu minutes", n), n);
}

static void
fst_report_page_audit_thread(GTask *task,
                             gpointer source_object,
                             gpointer task_data,
                             GCancellable *cancellable)
{
	FstReportPageJob *job = task_data;
	g_autoptr(FstAuditResult) result = NULL;
	g_autoptr(GPtrArray) anchors = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	FstAuditAnchor *last;
	GError *error = NULL;

	anchors = fst_audit_anchors_load(job->workspace, NULL, NULL, &error);
	if (anchors != NULL)
		result = fst_audit_verify_anchored(job->db_path, anchors, &error);
	if (result == NULL) {
		g_task_return_error(task, error);
		return;
	}
	if (!result->ok) {
		g_task_return_pointer(
		    task,
		    g_strdup_printf(_("AUDIT CHAIN BROKEN at event %" PRId64
		                      ": %s. Keep the database as it is and call "
		                      "the quality manager."),
		                    result->first_bad_id,
		                    result->problem != NULL ? result->problem : "?"),
		    g_free);
		return;
	}
	g_string_append_printf(
	    text,
	    _("Audit chain intact: %" PRId64 " events, %" PRId64 " certificates\n"),
	    result->events,
	    result->certificates);
	last = fst_audit_anchors_newest(anchors);
	if (last != NULL) {
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_unix_utc(last->created_at / G_USEC_PER_SEC);
		g_autofree gchar *when = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
		g_autofree gchar *age = fst_report_page_age(last->created_at);
		/* TRANSLATORS: an anchor is a signed copy of the audit chain's head kept off the
		 * station */
		g_string_append_printf(text,
		                       _("Last anchor: event %" PRId64
		                         ", made %s (%s ago); %u anchor(s) checked. Rows "
		                         "written since are protected by the chain alone until "
		                         "the next checkpoint."),
		                       last->head_id,
		                       when,
		                       age,
		                       anchors->len);
	} else {
		g_string_append(text,
		                _("No anchor yet: run `fleetstation audit checkpoint` and keep a "
		                  "copy off this machine, so that a rebuilt chain is noticed."));
	}
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

static void
fst_report_page_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_task_propagate_pointer(G_TASK(result), &error);
	g_autoptr(FstReportPage) self = FST_REPORT_PAGE(user_data);

	if (text == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self->busy--;
	if (self->interaction != NULL && self->busy == 0)
		fst_gui_interaction_close(self->interaction);
	fst_gui_text_set_lines(
	    self->result_box, text != NULL ? text : error->message, text == NULL);
}

static void
fst_report_page_run(FstReportPage *self, FstReportPageJob *job, GTaskThreadFunc func)
{
	g_autoptr(GTask) task =
	    g_task_new(NULL, self->cancellable, fst_report_page_done_cb, g_object_ref(self));
	job->workspace = g_strdup(self->workspace);
	if (self->interaction != NULL)
		job->interaction = g_object_ref(FST_INTERACTION(self->interaction));
	job->db_path = g_build_filename(self->workspace, "station.db", NULL);
	g_task_set_task_data(task, job, fst_report_page_job_free);
	self->busy++;
	fst_gui_text_set_lines(self->result_box, _("Working…"), FALSE);
	g_task_run_in_thread(task, func);
}

/* an entry's text without surrounding blanks, or %NULL when empty */
static gchar *
fst_report_page_text(GtkEditable *entry)
{
	g_autofree gchar *text = g_strstrip(g_strdup(gtk_editable_get_text(entry)));
	return text[0] != '\0' ? g_steal_pointer(&text) : NULL;
}

static void
fst_report_page_export(FstReportPage *self, const gchar *format)
{
	FstReportPageJob *job;

	if (self->workspace == NULL)
		return;
	job = g_new0(FstReportPageJob, 1);
	job->format = g_strdup(format);
	job->lot = fst_report_page_text(self->lot_entry);
	job->since = fst_report_page_text(self->since_entry);
	job->until = fst_report_page_text(self->until_entry);
	fst_report_page_run(self, job, fst_report_page_export_thread);
}

static void
fst_report_page_export_csv_cb(FstReportPage *self)
{
	fst_report_page_export(self, "csv");
}

static void
fst_report_page_export_json_cb(FstReportPage *self)
{
	fst_report_page_export(self, "json");
}

static void
fst_report_page_export_pdf_cb(FstReportPage *self)
{
	fst_report_page_export(self, "pdf");
}

static void
fst_report_page_verify_cb(FstReportPage *self)
{
	g_autofree gchar *file = g_strstrip(g_strdup(gtk_editable_get_text(self->verify_entry)));
	FstReportPageJob *job;

	if (self->workspace == NULL)
		return;
	if (file[0] == '\0') {
		fst_gui_text_set_lines(
		    self->result_box, _("Type the path of the report file first"), TRUE);
		return;
	}
	job = g_new0(FstReportPageJob, 1);
	job->file = g_steal_pointer(&file);
	fst_report_page_run(self, job, fst_report_page_verify_thread);
}

static void
fst_report_page_audit_cb(FstReportPage *self)
{
	if (self->workspace == NULL)
		return;
	fst_report_page_run(self, g_new0(FstReportPageJob, 1), fst_report_page_audit_thread);
}

/**
 * fst_report_page_set_interaction:
 * @self: the page
 * @interaction: asks for the secret of the report signing key
 */
void
fst_report_page_set_interaction(FstReportPage *self, FstGuiInteraction *interaction)
{
	g_return_if_fail(FST_IS_REPORT_PAGE(self));
	g_set_object(&self->interaction, interaction);
}

/**
 * fst_report_page_set_workspace:
 * @self: the page
 * @workspace: the station's workspace
 */
void
fst_report_page_set_workspace(FstReportPage *self, const gchar *workspace)
{
	g_return_if_fail(FST_IS_REPORT_PAGE(self));
	g_free(self->workspace);
	self->workspace = g_strdup(workspace);
}

/**
 * fst_report_page_set_lot:
 * @self: the page
 * @lot: the lot the line runs, offered for the next report
 */
void
fst_report_page_set_lot(FstReportPage *self, const gchar *lot)
{
	g_return_if_fail(FST_IS_REPORT_PAGE(self));
	gtk_editable_set_text(self->lot_entry, lot);
}

static void
fst_report_page_dispose(GObject *object)
{
	FstReportPage *self = FST_REPORT_PAGE(object);
	g_cancellable_cancel(self->cancellable);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_REPORT_PAGE);
	G_OBJECT_CLASS(fst_report_page_parent_class)->dispose(object);
}

static void
fst_report_page_finalize(GObject *object)
{
	FstReportPage *self = FST_REPORT_PAGE(object);
	g_object_unref(self->cancellable);
	g_free(self->workspace);
	g_clear_object(&self->interaction);
	G_OBJECT_CLASS(fst_report_page_parent_class)->finalize(object);
}

static void
fst_report_page_init(FstReportPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
}

static void
fst_report_page_class_init(FstReportPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_report_page_dispose;
	object_class->finalize = fst_report_page_finalize;
	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-report-page.ui");
	gtk_widget_class_bind_template_child(widget_class, FstReportPage, lot_entry);
	gtk_widget_class_bind_template_child(widget_class, FstReportPage, since_entry);
	gtk_widget_class_bind_template_child(widget_class, FstReportPage, until_entry);
	gtk_widget_class_bind_template_child(widget_class, FstReportPage, verify_entry);
	gtk_widget_class_bind_template_child(widget_class, FstReportPage, result_box);
	gtk_widget_class_bind_template_callback(widget_class, fst_report_page_export_csv_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_report_page_export_json_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_report_page_export_pdf_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_report_page_verify_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_report_page_audit_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}
