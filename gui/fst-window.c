/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstWindow: the technician's station window. The start-of-shift choices
 * (operator, lot, profile), the line view with one lane per port, the shift's
 * counters, and the supervisor pages in a stack.
 *
 * Everything slow happens off the GUI thread: the station is opened (the CA
 * unlocked, the database migrated) in a GTask thread, provisioning runs in
 * FstJob threads whose progress and results arrive here as signals on this
 * thread's main context, and the supervisor pages query in GTask threads.
 * This file holds no provisioning logic: Start, Stop, Abort and Retry are
 * FstJob calls, the same the CLI makes.
 */

#define G_LOG_DOMAIN "FstGui"
#include "fst-window.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <openssl/x509.h>

#include "fst-db-queue.h"
#include "fst-error.h"
#include "fst-gui-failure.h"
#include "fst-gui-interaction.h"
#include "fst-gui-text.h"
#include "fst-history-page.h"
#include "fst-job.h"
#include "fst-port-row.h"
#include "fst-ports.h"
#include "fst-report.h"
#include "fst-report-page.h"
#include "fst-settings.h"
#include "fst-setup-page.h"

/* how often the counters show the registration queue again */
#define FST_WINDOW_QUEUE_REFRESH_S 3
/* how often a watch job scans the ports */
#define FST_WINDOW_WATCH_POLL_MS 100
/* the group of station.conf where the GUI keeps its own choices */
#define FST_WINDOW_CONF_GROUP "gui"

struct _FstWindow {
	GtkApplicationWindow parent_instance;
	/* template widgets, borrowed */
	GtkEditable *operator_entry;
	GtkEditable *lot_entry;
	GtkEditable *profile_entry;
	GtkToggleButton *watch_check;
	GtkStack *stack;
	GtkFlowBox *lanes;
	GtkLabel *passed_label;
	GtkLabel *failed_label;
	GtkLabel *skipped_label;
	GtkLabel *yield_label;
	GtkLabel *rate_label;
	GtkLabel *lot_label;
	GtkLabel *ca_label;
	GtkLabel *queue_label;
	GtkLabel *warning_label;
	GtkLabel *causes_label;
	GtkLabel *status_label;
	GtkWidget *unlock_button;
	FstHistoryPage *history_page;
	FstReportPage *report_page;
	FstSetupPage *setup_page;
	/* owned */
	gchar *workspace;               /* (owned) */
	FstStation *station;            /* (owned) (nullable): open for the shift once unlocked */
	FstGuiInteraction *interaction; /* (owned): asks for the CA secret with a dialog */
	gboolean unlocking;             /* the station is being opened */
	FstGuiInteraction *supervisor;  /* (owned): asks for the supervisor pages */
	FstGuiInteraction *ca_setup;    /* (owned): asks for the secrets of a new CA */
	gboolean supervisor_asking;
	gboolean supervisor_unlocked; /* for the session */
	guint queue_id;               /* the registration queue's refresh */
	gboolean ca_renewed;          /* the CA was renewed while a line ran with the one before */
	gboolean queue_busy;
	GCancellable *cancellable; /* (owned): for the window's own async work */
	FstJob *line_job;          /* (owned) (nullable): the line's job while it runs */
	GPtrArray *retry_jobs;     /* (element-type FstJob): per-lane retries running */
	GHashTable *lanes_by_port; /* (element-type utf8 FstPortRow): borrowed lanes */
	GHashTable *causes;        /* (element-type utf8 guint): failures by reason */
	GHashTable *warnings;      /* (element-type utf8 utf8): the station's, by kind */
	GHashTable *jigs;          /* (element-type utf8 utf8) (nullable): port to jig lane */
	gboolean starting;         /* Start is reading and keeping the choices */
	guint passed;
	guint failed;
	guint skipped;           /* provisioned before and left alone: in no yield or rate */
	gint64 shift_started_us; /* 0 before the first Start */
	/* the responsiveness probe (FST_GUI_STALL_PROBE) */
	guint probe_id;
	gint64 probe_last_us;
	gint64 probe_last_delay_us;
	gint probe_schedstat_fd;
	gint64 probe_max_us;
	gint64 probe_max_own_us;
	gboolean shown_ready;
};

G_DEFINE_TYPE(FstWindow, fst_window, GTK_TYPE_APPLICATION_WINDOW)

/* the probe's period: a stall is how much later than this a tick comes */
#define FST_WINDOW_PROBE_MS 5

static void
fst_window_status(FstWindow *self, const gchar *text)
{
	gtk_label_set_text(self->status_label, text);
}

/* a task for a worker thread: the callback, on this thread, gets the window
 * as its user data and drops that reference, so that a worker thread never
 * drops the window's last one (a task's source object is unreffed by
 * whichever thread lets the task go last) */
static GTask *
fst_window_task_new(FstWindow *self, GAsyncReadyCallback callback)
{
	GTask *task = g_task_new(NULL, self->cancellable, callback, g_object_ref(self));
	g_object_set_data_full(G_OBJECT(task), "workspace", g_strdup(self->workspace), g_free);
	return task;
}

static gboolean
fst_window_is_running(FstWindow *self)
{
	return self->line_job != NULL || self->retry_jobs->len > 0;
}

static void
fst_window_update_actions(FstWindow *self)
{
	gboolean unlocked = self->station != NULL;
	gboolean line = self->line_job != NULL;
	GHashTableIter iter;
	gpointer lane;

	gtk_widget_action_set_enabled(
	    GTK_WIDGET(self), "line.start", unlocked && !line && !self->starting);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "line.stop", fst_window_is_running(self));
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "line.abort", fst_window_is_running(self));
	gtk_widget_action_set_enabled(
	    GTK_WIDGET(self), "line.unlock", !unlocked && !self->unlocking);
	gtk_widget_set_visible(self->unlock_button, !unlocked);
	gtk_widget_set_sensitive(GTK_WIDGET(self->operator_entry), !line);
	gtk_widget_set_sensitive(GTK_WIDGET(self->lot_entry), !line);
	gtk_widget_set_sensitive(GTK_WIDGET(self->profile_entry), !line);
	gtk_widget_set_sensitive(GTK_WIDGET(self->watch_check), !line);
	g_hash_table_iter_init(&iter, self->lanes_by_port);
	while (g_hash_table_iter_next(&iter, NULL, &lane))
		fst_port_row_set_retry_enabled(FST_PORT_ROW(lane), unlocked);
}

/* counters */

static void
fst_window_update_counters(FstWindow *self)
{
	g_autofree gchar *causes = NULL;
	g_autofree gchar *passed = g_strdup_printf(_("Passed: %u"), self->passed);
	g_autofree gchar *failed = g_strdup_printf(_("Failed: %u"), self->failed);
	g_autofree gchar *skipped = g_strdup_printf(_("Skipped: %u"), self->skipped);
	g_autofree gchar *yield = NULL;
	g_autofree gchar *rate = NULL;
	guint total = self->passed + self->failed;

	gtk_label_set_text(self->passed_label, passed);
	gtk_label_set_text(self->failed_label, failed);
	gtk_label_set_text(self->skipped_label, skipped);
	if (total > 0)
		yield = g_strdup_printf(_("Yield: %.1f %%"), 100.0 * self->passed / total);
	else
		yield = g_strdup(_("Yield: –"));
	gtk_label_set_text(self->yield_label, yield);
	if (self->shift_started_us > 0 && total > 0) {
		gdouble hours = (g_get_monotonic_time() - self->shift_started_us) / 3600e6;
		rate = g_strdup_printf(_("Devices/hour: %.0f"), total / MAX(hours, 1.0 / 60));
	} else {
		rate = g_strdup(_("Devices/hour: –"));
	}
	gtk_label_set_text(self->rate_label, rate);

	causes = fst_gui_failure_causes_text(self->causes);
	if (causes != NULL)
		gtk_label_set_text(self->causes_label, causes);
	gtk_widget_set_visible(GTK_WIDGET(self->causes_label), causes != NULL);
}

/* the registration queue: counted in a thread every few seconds while the
 * station is open */

static void
fst_window_queue_thread(GTask *task,
                        gpointer source_object,
                        gpointer task_data,
                        GCancellable *cancellable)
{
	const gchar *db_path = task_data;
	g_autoptr(FstDbQueue) queue = NULL;
	gint64 *counts = g_new0(gint64, 4);
	GError *error = NULL;

	queue = fst_db_queue_open(db_path, &error);
	if (queue == NULL || !fst_db_queue_count(queue, NULL, counts, &error)) {
		g_free(counts);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, counts, g_free);
}

static void
fst_window_queue_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gint64 *counts = g_task_propagate_pointer(G_TASK(result), &error);
	g_autofree gchar *text = NULL;
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);

	if (g_cancellable_is_cancelled(self->cancellable))
		return;
	self->queue_busy = FALSE;
	if (counts == NULL) {
		text = g_strdup_printf(_("Registration queue: unknown (%s)"), error->message);
	} else if (counts[0] + counts[1] + counts[3] == 0) {
		gtk_widget_set_visible(GTK_WIDGET(self->queue_label), FALSE);
		return;
	} else {
		/* TRANSLATORS: rows waiting for, or failed at, cloud registration */
		text = g_strdup_printf(
		    _("Registration queue: %" PRId64 " waiting, %" PRId64 " failed"),
		    counts[0] + counts[1],
		    counts[3]);
	}
	gtk_label_set_text(self->queue_label, text);
	gtk_widget_set_visible(GTK_WIDGET(self->queue_label), TRUE);
}

/* the station's warnings below the counters, one line for each kind */
static void
fst_window_show_warnings(FstWindow *self)
{
	g_autoptr(GList) kinds =
	    g_list_sort(g_hash_table_get_keys(self->warnings), (GCompareFunc)g_strcmp0);
	g_autoptr(GString) all = g_string_new(NULL);

	for (GList *l = kinds; l != NULL; l = l->next)
		g_string_append_printf(all,
		                       "%s%s",
		                       all->len > 0 ? "\n" : "",
		                       (const gchar *)g_hash_table_lookup(self->warnings, l->data));
	gtk_label_set_text(self->warning_label, all->str);
	gtk_widget_set_visible(GTK_WIDGET(self->warning_label), all->len > 0);
}

/* a warning of the station's (FstJob::warning, the CA's end), the newest
 * of a kind replacing the one before */
static void
fst_window_set_warning(FstWindow *self, const gchar *kind, const gchar *text)
{
	if (g_strcmp0(g_hash_table_lookup(self->warnings, kind), text) == 0)
		return;
	g_hash_table_insert(self->warnings, g_strdup(kind), g_strdup(text));
	fst_window_show_warnings(self);
}

/* a new line: the warnings of the last run's start (registration, central
 * sync) are said again by this one if they still hold */
static void
fst_window_clear_run_warnings(FstWindow *self)
{
	g_autofree gchar *ca_end = g_strdup(g_hash_table_lookup(self->warnings, "ca-end"));

	g_hash_table_remove_all(self->warnings);
	if (ca_end != NULL)
		g_hash_table_insert(self->warnings, g_strdup("ca-end"), g_steal_pointer(&ca_end));
	fst_window_show_warnings(self);
}

static void
fst_window_warning_cb(FstJob *job, const gchar *kind, const gchar *text, gpointer user_data)
{
	fst_window_set_warning(FST_WINDOW(user_data), kind, text);
}

/* the issuing CA and its days left, red (with the engine's warning below
 * the counters) from when the station warns of its end; shown again as
 * the days pass */
static void
fst_window_show_ca(FstWindow *self)
{
	FstCa *ca = fst_station_get_ca(self->station);
	X509 *cert = fst_ca_get_cert(ca);
	gchar cn[256] = "";
	gint64 left = fst_ca_get_not_after(ca) - g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *text = NULL;
	g_autofree gchar *warning = fst_station_get_ca_warning(self->station, NULL);

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) <
	    0)
		g_strlcpy(cn, "?", sizeof(cn));
	text = fst_gui_text_ca_end(cn, left);
	gtk_label_set_text(self->ca_label, text);
	if (warning != NULL) {
		gtk_widget_add_css_class(GTK_WIDGET(self->ca_label), "error");
		fst_window_set_warning(self, "ca-end", warning);
	} else {
		gtk_widget_remove_css_class(GTK_WIDGET(self->ca_label), "error");
	}
}

static gboolean
fst_window_queue_refresh_cb(gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	g_autoptr(GTask) task = NULL;

	if (self->station == NULL)
		return G_SOURCE_CONTINUE;
	/* the CA's days left, for a window left open for days */
	fst_window_show_ca(self);
	if (self->queue_busy)
		return G_SOURCE_CONTINUE;
	self->queue_busy = TRUE;
	task = fst_window_task_new(self, fst_window_queue_cb);
	g_task_set_task_data(
	    task, g_strdup(fst_db_get_path(fst_station_get_db(self->station))), g_free);
	g_task_run_in_thread(task, fst_window_queue_thread);
	return G_SOURCE_CONTINUE;
}

/* the lot's totals from the database, off the GUI thread */
static void
fst_window_lot_summary_thread(GTask *task,
                              gpointer source_object,
                              gpointer task_data,
                              GCancellable *cancellable)
{
	FstStation *station = task_data;
	const gchar *lot = g_object_get_data(G_OBJECT(task), "lot");
	FstReportScope scope = {.lot = lot};
	GError *error = NULL;
	FstReportSummary *summary =
	    fst_report_summary(fst_db_get_path(fst_station_get_db(station)), &scope, &error);
	if (summary == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, summary, (GDestroyNotify)fst_report_summary_free);
}

static void
fst_window_lot_summary_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FstReportSummary) summary = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);
	const gchar *lot = g_object_get_data(G_OBJECT(result), "lot");

	summary = g_task_propagate_pointer(G_TASK(result), &error);
	if (summary == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot count the lot: %s", error->message);
		return;
	}
	text = g_strdup_printf(_("Lot %s: %" PRId64 " provisioned, %" PRId64 " failed"),
	                       lot,
	                       summary->provisioned,
	                       summary->failed);
	gtk_label_set_text(self->lot_label, text);
}

static void
fst_window_refresh_lot(FstWindow *self)
{
	g_autoptr(GTask) task = NULL;
	const gchar *lot = gtk_editable_get_text(self->lot_entry);

	if (self->station == NULL || lot[0] == '\0') {
		gtk_label_set_text(self->lot_label, "");
		return;
	}
	task = fst_window_task_new(self, fst_window_lot_summary_cb);
	g_object_set_data_full(G_OBJECT(task), "lot", g_strdup(lot), g_free);
	g_task_set_task_data(
	    task, fst_station_ref(self->station), (GDestroyNotify)fst_station_unref);
	g_task_run_in_thread(task, fst_window_lot_summary_thread);
}

/* lanes */

static void fst_window_retry_cb(FstPortRow *lane, gpointer user_data);

static FstPortRow *
fst_window_ensure_lane(FstWindow *self, const gchar *port)
{
	FstPortRow *lane = g_hash_table_lookup(self->lanes_by_port, port);
	if (lane != NULL)
		return lane;
	lane = fst_port_row_new(port,
	                        self->jigs != NULL ? g_hash_table_lookup(self->jigs, port) : NULL);
	g_signal_connect(lane, "retry", G_CALLBACK(fst_window_retry_cb), self);
	gtk_flow_box_append(self->lanes, GTK_WIDGET(lane));
	g_hash_table_insert(self->lanes_by_port, g_strdup(port), lane);
	fst_port_row_set_retry_enabled(lane, self->station != NULL);
	return lane;
}

static void
fst_window_progress_cb(FstJob *job, FstProgress *progress, gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	fst_port_row_update(fst_window_ensure_lane(self, progress->port), progress);
}

static void
fst_window_device_finished_cb(FstJob *job, FstProvisionResult *result, gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	FstPortRow *lane = fst_window_ensure_lane(self, result->port);

	/* the engine names the jig lane of the port the board was in */
	if (result->lane != NULL)
		fst_port_row_set_jig_label(lane, result->lane);
	fst_port_row_finish(lane, result);
	/* a device provisioned before and left alone is neither passed nor failed */
	if (fst_provision_result_get_status(result) == FST_RESULT_SKIPPED) {
		self->skipped++;
	} else if (result->error == NULL) {
		self->passed++;
	} else {
		const gchar *cause = fst_gui_failure_cause(result->error, result->step);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(self->causes, cause));
		self->failed++;
		g_hash_table_insert(self->causes, g_strdup(cause), GUINT_TO_POINTER(n + 1));
	}
	fst_window_update_counters(self);
}

/*
 * The responsiveness probe (FST_GUI_STALL_PROBE): the longest gap between the
 * ticks of a short timer on the GUI main loop. On a loaded machine part of a
 * gap is the kernel keeping the runnable GUI thread off the CPU; Linux counts
 * that time per thread (the run delay in /proc/thread-self/schedstat), and
 * what is left is the GUI thread's own: running or blocked.
 */
static gint64
fst_window_probe_run_delay_us(FstWindow *self)
{
	gchar buf[128] = "";
	guint64 on_cpu_ns = 0;
	guint64 delay_ns = 0;
	gssize n;

	if (self->probe_schedstat_fd < 0)
		return 0;
	n = pread(self->probe_schedstat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0 ||
	    sscanf(buf, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &on_cpu_ns, &delay_ns) != 2)
		return 0;
	return (gint64)(delay_ns / 1000);
}

static gboolean
fst_window_probe_cb(gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	gint64 now = g_get_monotonic_time();
	gint64 late = now - self->probe_last_us - FST_WINDOW_PROBE_MS * 1000;
	gint64 delay = fst_window_probe_run_delay_us(self);

	self->probe_max_us = MAX(self->probe_max_us, late);
	self->probe_max_own_us =
	    MAX(self->probe_max_own_us, late - (delay - self->probe_last_delay_us));
	self->probe_last_us = now;
	self->probe_last_delay_us = delay;
	return G_SOURCE_CONTINUE;
}

static void
fst_window_probe_start(FstWindow *self)
{
	if (g_getenv("FST_GUI_STALL_PROBE") == NULL || self->probe_id != 0)
		return;
	if (self->probe_schedstat_fd < 0)
		self->probe_schedstat_fd =
		    open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	self->probe_max_us = 0;
	self->probe_max_own_us = 0;
	self->probe_last_us = g_get_monotonic_time();
	self->probe_last_delay_us = fst_window_probe_run_delay_us(self);
	self->probe_id = g_timeout_add(FST_WINDOW_PROBE_MS, fst_window_probe_cb, self);
}

static void
fst_window_probe_stop(FstWindow *self, const FstJobSummary *summary)
{
	if (self->probe_id == 0)
		return;
	g_source_remove(self->probe_id);
	self->probe_id = 0;
	g_print("stall-probe: %u devices, longest main-loop stall %.1f ms, "
	        "of it the GUI thread's own %.1f ms\n",
	        summary->provisioned + summary->failed,
	        self->probe_max_us / 1000.0,
	        self->probe_max_own_us / 1000.0);
}

static gboolean fst_window_close_renewed(FstWindow *self);

static void
fst_window_job_done(FstWindow *self, FstJob *job, GAsyncResult *result)
{
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary = fst_job_get_summary(job);

	if (!fst_job_run_finish(job, result, &error) && summary->halted) {
		/* a device failed for a reason of the station's: the line stopped
		 * itself, which the status says in its own words */
		const gchar *why = error->message;
		g_autofree gchar *text = NULL;
		if (g_str_has_prefix(why, FST_JOB_HALT_PREFIX))
			why += strlen(FST_JOB_HALT_PREFIX);
		text = g_strdup_printf(_("Line stopped (%u passed, %u failed): %s"),
		                       summary->provisioned,
		                       summary->failed,
		                       why);
		fst_window_status(self, text);
	} else if (error != NULL) {
		g_autofree gchar *text =
		    g_strdup_printf(_("The line could not run: %s"), error->message);
		fst_window_status(self, text);
	} else if (job == self->line_job) {
		g_autofree gchar *text = NULL;
		if (summary->aborted)
			text = g_strdup_printf(_("Line aborted: %u passed, %u failed"),
			                       summary->provisioned,
			                       summary->failed);
		else
			text = g_strdup_printf(_("Line finished: %u passed, %u failed"),
			                       summary->provisioned,
			                       summary->failed);
		fst_window_status(self, text);
	}
	g_signal_handlers_disconnect_by_data(job, self);
	if (job == self->line_job) {
		fst_window_probe_stop(self, summary);
		g_clear_object(&self->line_job);
	} else {
		g_ptr_array_remove(self->retry_jobs, job);
	}
	fst_window_update_actions(self);
	fst_window_refresh_lot(self);
	if (self->ca_renewed)
		fst_window_close_renewed(self);
}

static void
fst_window_job_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);
	g_application_release(g_application_get_default());
	if (g_cancellable_is_cancelled(self->cancellable)) {
		(void)fst_job_run_finish(FST_JOB(source), result, NULL);
		return;
	}
	fst_window_job_done(self, FST_JOB(source), result);
}

static void
fst_window_run_job(FstWindow *self, FstJob *job)
{
	fst_job_set_station(job, self->station);
	fst_job_set_interaction(job, FST_INTERACTION(self->interaction));
	g_signal_connect(job, "progress", G_CALLBACK(fst_window_progress_cb), self);
	g_signal_connect(job, "device-finished", G_CALLBACK(fst_window_device_finished_cb), self);
	g_signal_connect(job, "warning", G_CALLBACK(fst_window_warning_cb), self);
	if (self->shift_started_us == 0)
		self->shift_started_us = g_get_monotonic_time();
	/* the application outlives a window closed mid-run until the job ends */
	g_application_hold(g_application_get_default());
	fst_job_run_async(job, NULL, fst_window_job_ready_cb, g_object_ref(self));
}

/* what the window, Start and Retry read and write in station.conf, and the
 * jig lanes of the ports: in a thread, never on the GUI thread */
typedef struct {
	gchar *workspace;     /* (owned) */
	gboolean keep;        /* Start: keep the choices in station.conf */
	gboolean recall;      /* a new window: read the [gui] choices into the next two */
	gchar *profile;       /* (owned) */
	gchar *lot;           /* (owned) (nullable) */
	gchar *operator_name; /* (owned) (nullable) */
	gboolean watch;
	gchar *port;           /* (owned) (nullable): Retry's lane */
	FstSettings *settings; /* (owned) (nullable): read, and kept when @keep */
	GHashTable *jigs;      /* (owned) (nullable): port to jig lane */
} FstWindowPrep;

static void
fst_window_prep_free(FstWindowPrep *prep)
{
	g_free(prep->workspace);
	g_free(prep->profile);
	g_free(prep->lot);
	g_free(prep->operator_name);
	g_free(prep->port);
	g_clear_pointer(&prep->settings, fst_settings_free);
	g_clear_pointer(&prep->jigs, g_hash_table_unref);
	g_free(prep);
}

static gboolean
fst_window_keep_choices(FstWindowPrep *prep, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *conf = g_build_filename(prep->workspace, "station.conf", NULL);

	g_free(prep->settings->profile);
	prep->settings->profile = g_strdup(prep->profile);
	g_free(prep->settings->lot);
	prep->settings->lot = g_strdup(prep->lot);
	if (!fst_settings_save(prep->settings, prep->workspace, error))
		return FALSE;
	if (!g_key_file_load_from_file(kf, conf, G_KEY_FILE_KEEP_COMMENTS, error))
		return FALSE;
	g_key_file_set_string(kf,
	                      FST_WINDOW_CONF_GROUP,
	                      "operator",
	                      prep->operator_name != NULL ? prep->operator_name : "");
	g_key_file_set_boolean(kf, FST_WINDOW_CONF_GROUP, "watch", prep->watch);
	return g_key_file_save_to_file(kf, conf, error);
}

/* the operator and the watch choice the last Start kept ([gui]), or the
 * account's name */
static void
fst_window_recall_choices(FstWindowPrep *prep)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *conf = g_build_filename(prep->workspace, "station.conf", NULL);

	if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL)) {
		prep->operator_name =
		    g_key_file_get_string(kf, FST_WINDOW_CONF_GROUP, "operator", NULL);
		prep->watch = g_key_file_get_boolean(kf, FST_WINDOW_CONF_GROUP, "watch", NULL);
	}
	if (prep->operator_name == NULL)
		prep->operator_name = g_strdup(fst_station_default_operator());
}

static void
fst_window_prep_thread(GTask *task,
                       gpointer source_object,
                       gpointer task_data,
                       GCancellable *cancellable)
{
	FstWindowPrep *prep = task_data;
	g_autoptr(GError) error_jigs = NULL;
	GError *error = NULL;

	prep->settings = fst_settings_load(prep->workspace, &error);
	if (prep->settings == NULL || (prep->keep && !fst_window_keep_choices(prep, &error))) {
		g_task_return_error(task, error);
		return;
	}
	if (prep->recall)
		fst_window_recall_choices(prep);
	/* a lane without its jig name still works */
	prep->jigs = fst_lanes_by_port(prep->workspace, &error_jigs);
	if (prep->jigs == NULL)
		g_warning("the lanes show no jig names: %s", error_jigs->message);
	g_task_return_boolean(task, TRUE);
}

static void
fst_window_prep(FstWindow *self, FstWindowPrep *prep, GAsyncReadyCallback callback)
{
	g_autoptr(GTask) task = fst_window_task_new(self, callback);
	prep->workspace = g_strdup(self->workspace);
	g_task_set_task_data(task, prep, (GDestroyNotify)fst_window_prep_free);
	g_task_run_in_thread(task, fst_window_prep_thread);
}

/* the jig names of the ports, shown on their lanes */
static void
fst_window_show_jigs(FstWindow *self, GHashTable *jigs)
{
	GHashTableIter iter;
	gpointer port;
	gpointer lane;

	if (jigs == NULL)
		return;
	g_clear_pointer(&self->jigs, g_hash_table_unref);
	self->jigs = g_hash_table_ref(jigs);
	g_hash_table_iter_init(&iter, self->lanes_by_port);
	while (g_hash_table_iter_next(&iter, &port, &lane))
		fst_port_row_set_jig_label(FST_PORT_ROW(lane), g_hash_table_lookup(jigs, port));
}

/* a new window's start-of-shift choices ([defaults] profile and lot, [gui]
 * operator and watch), its lanes and their jig names, read in a thread */
static void
fst_window_choices_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);
	FstWindowPrep *prep = g_task_get_task_data(G_TASK(result));
	g_autoptr(GError) error = NULL;
	const FstSettings *settings = prep->settings;

	if (!g_task_propagate_boolean(G_TASK(result), &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			fst_window_status(self, error->message);
		return;
	}
	if (g_cancellable_is_cancelled(self->cancellable))
		return;
	if (settings->profile != NULL)
		gtk_editable_set_text(self->profile_entry, settings->profile);
	if (settings->lot != NULL)
		gtk_editable_set_text(self->lot_entry, settings->lot);
	gtk_editable_set_text(self->operator_entry, prep->operator_name);
	gtk_toggle_button_set_active(self->watch_check, prep->watch);
	/* a lane per named port; a pattern's ports get theirs as boards appear */
	for (guint i = 0; settings->ports != NULL && settings->ports[i] != NULL; i++) {
		if (strpbrk(settings->ports[i], "*?[") == NULL)
			fst_window_ensure_lane(self, settings->ports[i]);
	}
	fst_window_show_jigs(self, prep->jigs);
}

/* a barcode scanner types into the focused field and ends with Enter: the
 * fields are scanned in order, and Enter on the last starts the line */
static void
fst_window_operator_activate_cb(FstWindow *self)
{
	gtk_widget_grab_focus(GTK_WIDGET(self->lot_entry));
}

static void
fst_window_lot_activate_cb(FstWindow *self)
{
	gtk_widget_grab_focus(GTK_WIDGET(self->profile_entry));
}

static void
fst_window_profile_activate_cb(FstWindow *self)
{
	gtk_widget_activate_action(GTK_WIDGET(self), "line.start", NULL);
}

/* actions */

static void
fst_window_started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);
	FstWindowPrep *prep = g_task_get_task_data(G_TASK(result));
	g_autoptr(GError) error = NULL;
	FstJobOptions options = {
	    .workspace = self->workspace,
	    .profile = prep->profile,
	    .lot = prep->lot,
	    .operator_name = prep->operator_name,
	    .poll_ms = FST_WINDOW_WATCH_POLL_MS,
	};
	GHashTableIter iter;
	gpointer lane;

	if (!g_task_propagate_boolean(G_TASK(result), &error) &&
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self->starting = FALSE;
	fst_window_update_actions(self);
	if (error != NULL) {
		g_autofree gchar *text =
		    g_strdup_printf(_("Cannot keep the choices: %s"), error->message);
		fst_window_status(self, text);
		return;
	}
	if (self->station == NULL || self->line_job != NULL)
		return;
	fst_window_show_jigs(self, prep->jigs);
	options.ports = (const gchar *const *)prep->settings->ports;
	options.baud_rate = prep->settings->baud_rate;
	if (!prep->watch && (options.ports == NULL || options.ports[0] == NULL)) {
		fst_window_status(
		    self, _("The workspace names no port: set its ports, or tick Watch ports"));
		return;
	}
	g_hash_table_iter_init(&iter, self->lanes_by_port);
	while (g_hash_table_iter_next(&iter, NULL, &lane)) {
		if (!fst_port_row_is_busy(FST_PORT_ROW(lane)))
			fst_port_row_reset(FST_PORT_ROW(lane));
	}
	fst_window_clear_run_warnings(self);
	self->line_job =
	    fst_job_new(prep->watch ? FST_JOB_KIND_WATCH : FST_JOB_KIND_PROVISION, &options);
	fst_window_probe_start(self);
	fst_window_run_job(self, self->line_job);
	fst_report_page_set_lot(self->report_page, prep->lot != NULL ? prep->lot : "");
	fst_window_status(self,
	                  prep->watch ? _("Line running: boards start as they are plugged in")
	                              : _("Line running"));
	fst_window_update_actions(self);
	fst_window_refresh_lot(self);
}

static void
fst_window_start_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstWindow *self = FST_WINDOW(widget);
	const gchar *operator_name = gtk_editable_get_text(self->operator_entry);
	const gchar *lot = gtk_editable_get_text(self->lot_entry);
	const gchar *profile = gtk_editable_get_text(self->profile_entry);
	FstWindowPrep *prep;

	if (self->station == NULL || self->line_job != NULL || self->starting)
		return;
	if (profile[0] == '\0') {
		fst_window_status(self, _("Choose a profile first"));
		gtk_widget_grab_focus(GTK_WIDGET(self->profile_entry));
		return;
	}
	/* the choices are kept in station.conf in a thread; the line starts then */
	prep = g_new0(FstWindowPrep, 1);
	prep->keep = TRUE;
	prep->profile = g_strdup(profile);
	prep->lot = lot[0] != '\0' ? g_strdup(lot) : NULL;
	prep->operator_name = operator_name[0] != '\0' ? g_strdup(operator_name) : NULL;
	prep->watch = gtk_toggle_button_get_active(self->watch_check);
	self->starting = TRUE;
	fst_window_update_actions(self);
	fst_window_prep(self, prep, fst_window_started_cb);
}

static void
fst_window_stop_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstWindow *self = FST_WINDOW(widget);
	if (self->line_job != NULL)
		fst_job_stop(self->line_job);
	for (guint i = 0; i < self->retry_jobs->len; i++)
		fst_job_stop(g_ptr_array_index(self->retry_jobs, i));
	fst_window_status(self, _("Stopping: the boards in flight finish"));
}

static void
fst_window_abort_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstWindow *self = FST_WINDOW(widget);
	if (self->line_job != NULL)
		fst_job_abort(self->line_job);
	for (guint i = 0; i < self->retry_jobs->len; i++)
		fst_job_abort(g_ptr_array_index(self->retry_jobs, i));
	fst_window_status(self,
	                  _("Aborting: the boards in flight are stopped and recorded failed"));
}

static void
fst_window_retry_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);
	FstWindowPrep *prep = g_task_get_task_data(G_TASK(result));
	const gchar *ports[] = {prep->port, NULL};
	g_autoptr(GError) error = NULL;
	FstJobOptions options = {
	    .workspace = self->workspace,
	    .profile = prep->profile,
	    .lot = prep->lot,
	    .operator_name = prep->operator_name,
	    .ports = ports,
	    .count = 1,
	};
	FstPortRow *lane;
	FstJob *job;

	if (!g_task_propagate_boolean(G_TASK(result), &error) &&
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	lane = g_hash_table_lookup(self->lanes_by_port, prep->port);
	if (self->station == NULL || lane == NULL || fst_port_row_is_busy(lane))
		return;
	/* a station.conf that cannot be read leaves the port's speed to the dialect */
	options.baud_rate = prep->settings != NULL ? prep->settings->baud_rate : 0;
	fst_window_show_jigs(self, prep->jigs);
	fst_port_row_reset(lane);
	job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_ptr_array_add(self->retry_jobs, job);
	fst_window_run_job(self, job);
	fst_window_update_actions(self);
}

static void
fst_window_retry_cb(FstPortRow *lane, gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	const gchar *operator_name = gtk_editable_get_text(self->operator_entry);
	const gchar *lot = gtk_editable_get_text(self->lot_entry);
	const gchar *profile = gtk_editable_get_text(self->profile_entry);
	FstWindowPrep *prep;

	if (self->station == NULL || profile[0] == '\0')
		return;
	prep = g_new0(FstWindowPrep, 1);
	prep->profile = g_strdup(profile);
	prep->lot = lot[0] != '\0' ? g_strdup(lot) : NULL;
	prep->operator_name = operator_name[0] != '\0' ? g_strdup(operator_name) : NULL;
	prep->port = g_strdup(fst_port_row_get_port(lane));
	fst_window_prep(self, prep, fst_window_retry_ready_cb);
}

/* unlocking the CA: a thread opens the station, and the engine asks for the
 * passphrase or PIN through the window's interaction, shown as a dialog */

static void
fst_window_open_thread(GTask *task,
                       gpointer source_object,
                       gpointer task_data,
                       GCancellable *cancellable)
{
	const gchar *workspace = g_object_get_data(G_OBJECT(task), "workspace");
	FstInteraction *interaction = FST_INTERACTION(task_data);
	GError *error = NULL;
	FstStation *station = fst_station_open_full(workspace, interaction, &error);
	if (station == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, station, (GDestroyNotify)fst_station_unref);
}

static void fst_window_open(FstWindow *self);

static void
fst_window_opened_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	FstStation *station = g_task_propagate_pointer(G_TASK(result), &error);
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);

	if (g_cancellable_is_cancelled(self->cancellable)) {
		g_clear_pointer(&station, fst_station_unref);
		return;
	}
	self->unlocking = FALSE;
	if (station == NULL) {
		g_autofree gchar *text = NULL;
		if (g_error_matches(error, FST_ERROR, FST_ERROR_CANCELLED)) {
			/* cancelled: the window stays locked, Unlock CA asks again */
			fst_gui_interaction_close(self->interaction);
			fst_window_status(self,
			                  _("The CA is locked: press Unlock CA to start the line"));
			fst_window_update_actions(self);
			return;
		}
		if (g_error_matches(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE)) {
			/* the secret did not open the key: the dialog asks again */
			text =
			    g_strdup_printf(_("This does not unlock the CA: %s"), error->message);
			fst_gui_interaction_set_retry(self->interaction, text);
			fst_window_status(self, text);
			fst_window_open(self);
			return;
		}
		text = g_strdup_printf(_("The station cannot open: %s"), error->message);
		fst_gui_interaction_close(self->interaction);
		fst_window_status(self, text);
		fst_window_update_actions(self);
		return;
	}
	self->station = station;
	fst_gui_interaction_close(self->interaction);
	fst_window_show_ca(self);
	fst_window_update_actions(self);
	fst_window_refresh_lot(self);
	fst_window_queue_refresh_cb(self);
	self->queue_id =
	    g_timeout_add_seconds(FST_WINDOW_QUEUE_REFRESH_S, fst_window_queue_refresh_cb, self);
	fst_window_status(self, _("CA unlocked: check the operator, lot and profile, then Start"));
}

static void
fst_window_open(FstWindow *self)
{
	g_autoptr(GTask) task = fst_window_task_new(self, fst_window_opened_cb);
	self->unlocking = TRUE;
	g_task_set_task_data(task, g_object_ref(self->interaction), g_object_unref);
	g_task_run_in_thread(task, fst_window_open_thread);
	fst_window_status(self, _("Unlocking the CA…"));
	fst_window_update_actions(self);
}

static void
fst_window_unlock_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstWindow *self = FST_WINDOW(widget);
	if (self->station != NULL || self->unlocking)
		return;
	if (!fst_station_has_ca(self->workspace)) {
		fst_window_status(self,
		                  _("This workspace has no issuing CA: a supervisor creates or "
		                    "imports one on the CAs and profiles page"));
		return;
	}
	fst_window_open(self);
}

/* the supervisor pages (reports, audit, CAs, profiles): opening one asks for
 * the CA passphrase or PIN, checked in a thread; once it opened the issuing CA
 * key, the pages stay open for the session and the report signing key is
 * opened with the same secret */

static gboolean
fst_window_page_is_gated(const gchar *name)
{
	return g_strcmp0(name, "reports") == 0 || g_strcmp0(name, "setup") == 0;
}

static void
fst_window_supervisor_thread(GTask *task,
                             gpointer source_object,
                             gpointer task_data,
                             GCancellable *cancellable)
{
	const gchar *workspace = g_object_get_data(G_OBJECT(task), "workspace");
	FstInteraction *interaction = FST_INTERACTION(task_data);
	g_autofree gchar *cert = g_build_filename(workspace, "ca", "issuing-ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(workspace, "ca", "issuing-ca.key", NULL);
	g_autoptr(FstSecret) secret = NULL;
	g_autoptr(FstCa) ca = NULL;
	GError *error = NULL;

	if (!fst_station_ask_ca_secret(
	        workspace, interaction, key, "issuing CA", &secret, &error)) {
		g_task_return_error(task, error);
		return;
	}
	/* a token key whose URI names its own PIN source needs nobody's secret */
	if (secret == NULL) {
		ca = fst_station_unlock_ca(workspace, interaction, &error);
	} else {
		g_autofree gchar *chain = g_build_filename(workspace, "ca", "root-ca.pem", NULL);
		ca = fst_ca_load(cert,
		                 key,
		                 g_file_test(chain, G_FILE_TEST_EXISTS) ? chain : NULL,
		                 secret,
		                 &error);
	}
	if (ca == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task,
	                      secret != NULL ? g_steal_pointer(&secret)
	                                     : fst_secret_new((const guint8 *)"", 0),
	                      (GDestroyNotify)fst_secret_free);
}

static void fst_window_supervisor_unlock(FstWindow *self);

static void
fst_window_supervisor_set_sensitive(FstWindow *self, gboolean sensitive)
{
	gtk_widget_set_sensitive(GTK_WIDGET(self->report_page), sensitive);
	gtk_widget_set_sensitive(GTK_WIDGET(self->setup_page), sensitive);
}

static void
fst_window_supervisor_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSecret) secret = g_task_propagate_pointer(G_TASK(result), &error);
	g_autoptr(FstWindow) self = FST_WINDOW(user_data);

	if (g_cancellable_is_cancelled(self->cancellable))
		return;
	self->supervisor_asking = FALSE;
	if (secret == NULL) {
		g_autofree gchar *text = NULL;
		if (g_error_matches(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE)) {
			text =
			    g_strdup_printf(_("This does not unlock the CA: %s"), error->message);
			fst_gui_interaction_set_retry(self->supervisor, text);
			fst_window_supervisor_unlock(self);
			return;
		}
		fst_gui_interaction_close(self->supervisor);
		if (g_error_matches(error, FST_ERROR, FST_ERROR_CANCELLED))
			text = g_strdup(_("The supervisor pages need the CA passphrase or PIN"));
		else
			text = g_strdup_printf(_("The supervisor pages cannot open: %s"),
			                       error->message);
		gtk_stack_set_visible_child_name(self->stack, "line");
		fst_window_status(self, text);
		return;
	}
	if (fst_secret_get_len(secret) > 0)
		fst_gui_interaction_set_session_secret(self->supervisor, secret);
	fst_gui_interaction_close(self->supervisor);
	self->supervisor_unlocked = TRUE;
	fst_window_supervisor_set_sensitive(self, TRUE);
	fst_window_status(self, _("Supervisor pages unlocked for this session"));
}

static void
fst_window_supervisor_unlock(FstWindow *self)
{
	g_autoptr(GTask) task = fst_window_task_new(self, fst_window_supervisor_cb);
	self->supervisor_asking = TRUE;
	g_task_set_task_data(task, g_object_ref(self->supervisor), g_object_unref);
	g_task_run_in_thread(task, fst_window_supervisor_thread);
}

static void
fst_window_page_changed_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);
	const gchar *page = gtk_stack_get_visible_child_name(self->stack);

	if (self->supervisor_unlocked || self->supervisor_asking)
		return;
	if (!fst_window_page_is_gated(page))
		return;
	/* a workspace without a CA has no secret to ask for: its first CA is
	 * made or imported on the setup page */
	if (g_strcmp0(page, "setup") == 0 && !fst_station_has_ca(self->workspace)) {
		gtk_widget_set_sensitive(GTK_WIDGET(self->setup_page), TRUE);
		return;
	}
	fst_window_supervisor_unlock(self);
}

/* puts away the station of a CA renewed since it was unlocked, so that
 * Unlock CA opens the new one; not while devices are worked on */
static gboolean
fst_window_close_renewed(FstWindow *self)
{
	if (self->station == NULL || fst_window_is_running(self))
		return FALSE;
	self->ca_renewed = FALSE;
	if (self->queue_id != 0) {
		g_source_remove(self->queue_id);
		self->queue_id = 0;
	}
	g_clear_pointer(&self->station, fst_station_unref);
	fst_window_update_actions(self);
	fst_window_status(self,
	                  _("The issuing CA was renewed: press Unlock CA to open the new one"));
	return TRUE;
}

static void
fst_window_ca_changed_cb(FstSetupPage *page, gpointer user_data)
{
	FstWindow *self = FST_WINDOW(user_data);

	if (self->station != NULL) {
		/* renewed: the open station still holds the CA before */
		self->ca_renewed = TRUE;
		if (!fst_window_close_renewed(self))
			fst_window_status(
			    self,
			    _("The issuing CA was renewed: the line goes on with the one "
			      "it unlocked until it stops"));
		return;
	}
	fst_window_status(self, _("The workspace has an issuing CA: press Unlock CA to open it"));
	fst_window_update_actions(self);
}

static void
fst_window_map(GtkWidget *widget)
{
	FstWindow *self = FST_WINDOW(widget);
	GTK_WIDGET_CLASS(fst_window_parent_class)->map(widget);
	if (!self->shown_ready) {
		self->shown_ready = TRUE;
		if (self->station == NULL)
			gtk_widget_activate_action(widget, "line.unlock", NULL);
	}
}

/**
 * fst_window_get_station:
 * @self: the window
 *
 * Returns: (transfer none) (nullable): the station, once the CA was unlocked
 */
FstStation *
fst_window_get_station(FstWindow *self)
{
	g_return_val_if_fail(FST_IS_WINDOW(self), NULL);
	return self->station;
}

/**
 * fst_window_new:
 * @application: the application
 * @workspace: the station's workspace
 *
 * Returns: (transfer full): a station window for @workspace, locked
 */
FstWindow *
fst_window_new(GtkApplication *application, const gchar *workspace)
{
	FstWindow *self = g_object_new(FST_TYPE_WINDOW, "application", application, NULL);
	FstWindowPrep *prep;

	self->workspace = g_strdup(workspace);
	self->interaction = fst_gui_interaction_new(GTK_WINDOW(self), workspace);
	self->supervisor = fst_gui_interaction_new(GTK_WINDOW(self), workspace);
	self->ca_setup = fst_gui_interaction_new(GTK_WINDOW(self), workspace);
	fst_report_page_set_interaction(self->report_page, self->supervisor);
	fst_setup_page_set_interaction(self->setup_page, self->ca_setup);
	g_signal_connect(
	    self->setup_page, "ca-changed", G_CALLBACK(fst_window_ca_changed_cb), self);
	fst_window_supervisor_set_sensitive(self, FALSE);
	g_signal_connect(self->stack,
	                 "notify::visible-child-name",
	                 G_CALLBACK(fst_window_page_changed_cb),
	                 self);
	fst_history_page_set_workspace(self->history_page, workspace);
	fst_report_page_set_workspace(self->report_page, workspace);
	fst_setup_page_set_workspace(self->setup_page, workspace);
	prep = g_new0(FstWindowPrep, 1);
	prep->recall = TRUE;
	fst_window_prep(self, prep, fst_window_choices_cb);
	fst_window_update_counters(self);
	fst_window_update_actions(self);
	fst_window_status(self, _("The CA is locked"));
	return self;
}

static void
fst_window_dispose(GObject *object)
{
	FstWindow *self = FST_WINDOW(object);

	g_cancellable_cancel(self->cancellable);
	/* a window closed mid-run lets the devices in flight finish */
	if (self->line_job != NULL) {
		fst_job_stop(self->line_job);
		g_signal_handlers_disconnect_by_data(self->line_job, self);
	}
	for (guint i = 0; i < self->retry_jobs->len; i++)
		g_signal_handlers_disconnect_by_data(g_ptr_array_index(self->retry_jobs, i), self);
	if (self->probe_id != 0) {
		g_source_remove(self->probe_id);
		self->probe_id = 0;
	}
	if (self->queue_id != 0) {
		g_source_remove(self->queue_id);
		self->queue_id = 0;
	}
	if (self->interaction != NULL)
		fst_gui_interaction_close(self->interaction);
	if (self->supervisor != NULL)
		fst_gui_interaction_close(self->supervisor);
	if (self->ca_setup != NULL)
		fst_gui_interaction_close(self->ca_setup);
	if (self->stack != NULL)
		g_signal_handlers_disconnect_by_data(self->stack, self);
	if (self->setup_page != NULL)
		g_signal_handlers_disconnect_by_data(self->setup_page, self);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_WINDOW);
	G_OBJECT_CLASS(fst_window_parent_class)->dispose(object);
}

static void
fst_window_finalize(GObject *object)
{
	FstWindow *self = FST_WINDOW(object);
	g_clear_object(&self->line_job);
	g_ptr_array_unref(self->retry_jobs);
	g_hash_table_unref(self->lanes_by_port);
	g_hash_table_unref(self->causes);
	g_hash_table_unref(self->warnings);
	g_clear_pointer(&self->jigs, g_hash_table_unref);
	g_clear_pointer(&self->station, fst_station_unref);
	g_clear_object(&self->interaction);
	g_clear_object(&self->supervisor);
	g_clear_object(&self->ca_setup);
	g_object_unref(self->cancellable);
	g_free(self->workspace);
	if (self->probe_schedstat_fd >= 0)
		close(self->probe_schedstat_fd);
	G_OBJECT_CLASS(fst_window_parent_class)->finalize(object);
}

static void
fst_window_init(FstWindow *self)
{
	g_type_ensure(FST_TYPE_HISTORY_PAGE);
	g_type_ensure(FST_TYPE_REPORT_PAGE);
	g_type_ensure(FST_TYPE_SETUP_PAGE);
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
	self->retry_jobs = g_ptr_array_new_with_free_func(g_object_unref);
	self->lanes_by_port = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->causes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->warnings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->probe_schedstat_fd = -1;
}

static void
fst_window_class_init(FstWindowClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_window_dispose;
	object_class->finalize = fst_window_finalize;
	widget_class->map = fst_window_map;

	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-window.ui");
	gtk_widget_class_bind_template_child(widget_class, FstWindow, operator_entry);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, lot_entry);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, profile_entry);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, watch_check);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, stack);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, lanes);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, passed_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, failed_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, skipped_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, yield_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, rate_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, lot_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, ca_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, queue_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, warning_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, causes_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, status_label);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, unlock_button);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, history_page);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, report_page);
	gtk_widget_class_bind_template_child(widget_class, FstWindow, setup_page);

	gtk_widget_class_bind_template_callback(widget_class, fst_window_operator_activate_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_window_lot_activate_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_window_profile_activate_cb);
	gtk_widget_class_install_action(widget_class, "line.start", NULL, fst_window_start_cb);
	gtk_widget_class_install_action(widget_class, "line.stop", NULL, fst_window_stop_cb);
	gtk_widget_class_install_action(widget_class, "line.abort", NULL, fst_window_abort_cb);
	gtk_widget_class_install_action(widget_class, "line.unlock", NULL, fst_window_unlock_cb);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_F5, 0, "line.start", NULL);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_F6, 0, "line.stop", NULL);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_F8, 0, "line.abort", NULL);
	gtk_widget_class_add_binding_action(
	    widget_class, GDK_KEY_u, GDK_CONTROL_MASK, "line.unlock", NULL);
}
