/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstPortRow: one lane of the line view, one port of the station. It shows
 * what the engine reports for the port's device (its id, the step, progress
 * and elapsed time) and, once it ended, a pass or fail readable from a metre
 * away with the failure's reason and action in plain words, and Retry.
 *
 * The lane holds no provisioning logic: Retry only emits "retry".
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-port-row.h"

#include <glib/gi18n.h>

#include "fst-gui-failure.h"

struct _FstPortRow {
	GtkWidget parent_instance;
	/* template widgets, borrowed */
	GtkWidget *box;
	GtkLabel *port_label;
	GtkLabel *elapsed_label;
	GtkLabel *state_label;
	GtkLabel *device_label;
	GtkLabel *step_label;
	GtkProgressBar *progress;
	GtkLabel *reason_label;
	GtkLabel *action_label;
	GtkLabel *detail_label;
	GtkWidget *retry_button;
	/* owned */
	gchar *port;       /* (owned) */
	gchar *jig_label;  /* (owned) (nullable) */
	gint64 started_us; /* 0 when no device is in flight */
	guint elapsed_id;
	gboolean busy;
	gboolean retry_enabled;
};

G_DEFINE_TYPE(FstPortRow, fst_port_row, GTK_TYPE_WIDGET)

enum { SIGNAL_RETRY, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

static const gchar *
fst_port_row_step_text(FstStep step)
{
	switch (step) {
	case FST_STEP_CONNECT:
		return _("Connecting");
	case FST_STEP_IDENTIFY:
		return _("Identifying the board");
	case FST_STEP_PLAN:
		return _("Planning");
	case FST_STEP_KEYGEN:
		return _("Making the key");
	case FST_STEP_ISSUE:
		return _("Issuing the certificate");
	case FST_STEP_BURN:
		return _("Writing to the board");
	case FST_STEP_VERIFY:
		return _("Verifying");
	case FST_STEP_DONE:
		return _("Done");
	case FST_STEP_FAILED:
		return _("Failed");
	case FST_STEP_SKIPPED:
		return _("Skipped");
	case FST_STEP_LAST:
	default:
		return "";
	}
}

static void
fst_port_row_show_elapsed(FstPortRow *self)
{
	g_autofree gchar *text = NULL;
	gint64 secs;

	if (self->started_us == 0)
		return;
	secs = (g_get_monotonic_time() - self->started_us) / G_USEC_PER_SEC;
	text = g_strdup_printf("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, secs / 60, secs % 60);
	gtk_label_set_text(self->elapsed_label, text);
}

static gboolean
fst_port_row_elapsed_cb(gpointer user_data)
{
	FstPortRow *self = FST_PORT_ROW(user_data);
	fst_port_row_show_elapsed(self);
	return G_SOURCE_CONTINUE;
}

static void
fst_port_row_set_state(FstPortRow *self, const gchar *state, const gchar *css_class)
{
	const gchar *classes[] = {"lane-working", "lane-pass", "lane-fail", NULL};

	for (guint i = 0; classes[i] != NULL; i++)
		gtk_widget_remove_css_class(GTK_WIDGET(self), classes[i]);
	if (css_class != NULL)
		gtk_widget_add_css_class(GTK_WIDGET(self), css_class);
	gtk_label_set_text(self->state_label, state);
}

static void
fst_port_row_update_retry(FstPortRow *self)
{
	gtk_widget_action_set_enabled(
	    GTK_WIDGET(self), "lane.retry", self->retry_enabled && !self->busy);
}

static void
fst_port_row_stop_clock(FstPortRow *self)
{
	if (self->elapsed_id != 0) {
		g_source_remove(self->elapsed_id);
		self->elapsed_id = 0;
	}
}

/**
 * fst_port_row_reset:
 * @self: a lane
 *
 * Shows the lane as waiting for a board.
 */
void
fst_port_row_reset(FstPortRow *self)
{
	g_return_if_fail(FST_IS_PORT_ROW(self));
	fst_port_row_stop_clock(self);
	self->busy = FALSE;
	self->started_us = 0;
	fst_port_row_set_state(self, _("WAITING"), NULL);
	gtk_label_set_text(self->device_label, _("No board"));
	gtk_label_set_text(self->step_label, _("Waiting for a board"));
	gtk_label_set_text(self->elapsed_label, "");
	gtk_progress_bar_set_fraction(self->progress, 0.0);
	gtk_widget_set_visible(GTK_WIDGET(self->reason_label), FALSE);
	gtk_widget_set_visible(GTK_WIDGET(self->action_label), FALSE);
	gtk_widget_set_visible(GTK_WIDGET(self->detail_label), FALSE);
	gtk_widget_set_visible(self->retry_button, FALSE);
	fst_port_row_update_retry(self);
}

/**
 * fst_port_row_update:
 * @self: a lane
 * @progress: what the engine reported for the lane's port
 *
 * Shows a step of the port's device; the first step of a device starts its
 * clock and clears what the lane showed of the previous one.
 */
void
fst_port_row_update(FstPortRow *self, const FstProgress *progress)
{
	g_autofree gchar *device = NULL;

	g_return_if_fail(FST_IS_PORT_ROW(self));
	if (fst_step_is_final(progress->step)) {
		/* the result follows with the details; the step alone is enough here */
		gtk_label_set_text(self->step_label, fst_port_row_step_text(progress->step));
		return;
	}
	if (!self->busy) {
		fst_port_row_reset(self);
		self->busy = TRUE;
		self->started_us = g_get_monotonic_time();
		self->elapsed_id = g_timeout_add_seconds(1, fst_port_row_elapsed_cb, self);
		fst_port_row_set_state(self, _("WORKING"), "lane-working");
		fst_port_row_show_elapsed(self);
		fst_port_row_update_retry(self);
	}
	if (progress->uid != NULL) {
		device = g_strdup_printf(_("Device %s"), progress->uid);
		gtk_label_set_text(self->device_label, device);
	}
	gtk_label_set_text(self->step_label, fst_port_row_step_text(progress->step));
	gtk_progress_bar_set_fraction(self->progress, CLAMP(progress->fraction, 0.0, 1.0));
}

/**
 * fst_port_row_finish:
 * @self: a lane
 * @result: how the port's device ended
 *
 * Shows PASS, or FAIL with the reason, the action and Retry; a failure also
 * rings the bell and flashes the lane.
 */
void
fst_port_row_finish(FstPortRow *self, const FstProvisionResult *result)
{
	g_return_if_fail(FST_IS_PORT_ROW(self));

	if (self->started_us == 0)
		self->started_us = g_get_monotonic_time() - result->elapsed_us;
	fst_port_row_show_elapsed(self);
	fst_port_row_stop_clock(self);
	self->started_us = 0;
	self->busy = FALSE;
	if (result->uid != NULL) {
		g_autofree gchar *device = g_strdup_printf(_("Device %s"), result->uid);
		gtk_label_set_text(self->device_label, device);
	}
	if (fst_provision_result_get_status(result) == FST_RESULT_SKIPPED) {
		/* provisioned before: nothing was done, and it is not a pass */
		fst_port_row_set_state(self, _("SKIPPED"), "lane-pass");
		gtk_label_set_text(self->step_label,
		                   _("Provisioned already: nothing done, take the board out"));
		gtk_progress_bar_set_fraction(self->progress, 1.0);
		gtk_widget_set_visible(GTK_WIDGET(self->reason_label), FALSE);
		gtk_widget_set_visible(GTK_WIDGET(self->action_label), FALSE);
		gtk_widget_set_visible(GTK_WIDGET(self->detail_label), FALSE);
		gtk_widget_set_visible(self->retry_button, FALSE);
	} else if (result->error == NULL) {
		fst_port_row_set_state(self, _("PASS"), "lane-pass");
		gtk_label_set_text(self->step_label, _("Done: take the board out"));
		gtk_progress_bar_set_fraction(self->progress, 1.0);
		gtk_widget_set_visible(GTK_WIDGET(self->reason_label), FALSE);
		gtk_widget_set_visible(GTK_WIDGET(self->action_label), FALSE);
		gtk_widget_set_visible(GTK_WIDGET(self->detail_label), FALSE);
		gtk_widget_set_visible(self->retry_button, FALSE);
	} else {
		FstGuiFailure failure;
		fst_gui_failure_describe(result->error, result->step, &failure);
		fst_port_row_set_state(self, _("FAIL"), "lane-fail");
		gtk_label_set_text(self->step_label, _("Failed"));
		gtk_label_set_text(self->reason_label, failure.reason);
		gtk_label_set_text(self->action_label, failure.action);
		gtk_label_set_text(self->detail_label, result->error->message);
		gtk_widget_set_visible(GTK_WIDGET(self->reason_label), TRUE);
		gtk_widget_set_visible(GTK_WIDGET(self->action_label), TRUE);
		gtk_widget_set_visible(GTK_WIDGET(self->detail_label), TRUE);
		gtk_widget_set_visible(self->retry_button, TRUE);
		gtk_widget_error_bell(GTK_WIDGET(self));
	}
	fst_port_row_update_retry(self);
}

/**
 * fst_port_row_is_busy:
 * @self: a lane
 *
 * Returns: %TRUE while a device is in flight on the lane
 */
gboolean
fst_port_row_is_busy(FstPortRow *self)
{
	g_return_val_if_fail(FST_IS_PORT_ROW(self), FALSE);
	return self->busy;
}

/**
 * fst_port_row_set_retry_enabled:
 * @self: a lane
 * @enabled: whether the station can run a retry now (the CA is unlocked)
 */
void
fst_port_row_set_retry_enabled(FstPortRow *self, gboolean enabled)
{
	g_return_if_fail(FST_IS_PORT_ROW(self));
	self->retry_enabled = enabled;
	fst_port_row_update_retry(self);
}

/**
 * fst_port_row_get_port:
 * @self: a lane
 *
 * Returns: (transfer none): the lane's port
 */
const gchar *
fst_port_row_get_port(FstPortRow *self)
{
	g_return_val_if_fail(FST_IS_PORT_ROW(self), NULL);
	return self->port;
}

static void
fst_port_row_retry_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstPortRow *self = FST_PORT_ROW(widget);
	if (self->busy)
		return;
	g_signal_emit(self, signals[SIGNAL_RETRY], 0);
}

/**
 * fst_port_row_new:
 * @port: the port
 * @jig_label: (nullable): what the socket is called on the jig
 *
 * Returns: (transfer full): a lane, waiting
 */
FstPortRow *
fst_port_row_new(const gchar *port, const gchar *jig_label)
{
	FstPortRow *self = g_object_new(FST_TYPE_PORT_ROW, NULL);
	g_autofree gchar *basename = g_path_get_basename(port);
	g_autofree gchar *a11y = NULL;
	g_autofree gchar *retry_name = NULL;

	self->port = g_strdup(port);
	fst_port_row_set_jig_label(self, jig_label);
	gtk_widget_set_tooltip_text(GTK_WIDGET(self->port_label), port);
	/* the lane's name is how AT-SPI (a screen reader, the tests) finds it */
	a11y = g_strdup_printf(_("Lane %s"), basename);
	gtk_accessible_update_property(
	    GTK_ACCESSIBLE(self), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y, -1);
	retry_name = g_strdup_printf(_("Retry %s"), basename);
	gtk_accessible_update_property(
	    GTK_ACCESSIBLE(self->retry_button), GTK_ACCESSIBLE_PROPERTY_LABEL, retry_name, -1);
	fst_port_row_reset(self);
	return self;
}

/**
 * fst_port_row_set_jig_label:
 * @self: a lane
 * @jig_label: (nullable): what the socket is called on the jig (the
 *   workspace's `[lanes]`), shown before the port
 */
void
fst_port_row_set_jig_label(FstPortRow *self, const gchar *jig_label)
{
	g_autofree gchar *basename = NULL;
	g_autofree gchar *title = NULL;

	g_return_if_fail(FST_IS_PORT_ROW(self));
	if (self->jig_label != NULL && g_strcmp0(self->jig_label, jig_label) == 0)
		return;
	g_free(self->jig_label);
	self->jig_label = g_strdup(jig_label);
	basename = g_path_get_basename(self->port);
	/* TRANSLATORS: a lane's title: the socket's name on the jig, then the port */
	title = jig_label != NULL ? g_strdup_printf(_("Jig %s · %s"), jig_label, basename)
	                          : g_strdup(basename);
	gtk_label_set_text(self->port_label, title);
}

static void
fst_port_row_dispose(GObject *object)
{
	FstPortRow *self = FST_PORT_ROW(object);
	fst_port_row_stop_clock(self);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_PORT_ROW);
	G_OBJECT_CLASS(fst_port_row_parent_class)->dispose(object);
}

static void
fst_port_row_finalize(GObject *object)
{
	FstPortRow *self = FST_PORT_ROW(object);
	g_free(self->port);
	g_free(self->jig_label);
	G_OBJECT_CLASS(fst_port_row_parent_class)->finalize(object);
}

static void
fst_port_row_init(FstPortRow *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
}

static void
fst_port_row_class_init(FstPortRowClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_port_row_dispose;
	object_class->finalize = fst_port_row_finalize;

	/**
	 * FstPortRow::retry:
	 * @self: the lane
	 *
	 * The technician asked to provision the lane's board again.
	 */
	signals[SIGNAL_RETRY] = g_signal_new("retry",
	                                     G_TYPE_FROM_CLASS(klass),
	                                     G_SIGNAL_RUN_LAST,
	                                     0,
	                                     NULL,
	                                     NULL,
	                                     NULL,
	                                     G_TYPE_NONE,
	                                     0);

	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-port-row.ui");
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, box);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, port_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, elapsed_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, state_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, device_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, step_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, progress);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, reason_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, action_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, detail_label);
	gtk_widget_class_bind_template_child(widget_class, FstPortRow, retry_button);
	gtk_widget_class_install_action(widget_class, "lane.retry", NULL, fst_port_row_retry_cb);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
	gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
	gtk_widget_class_set_css_name(widget_class, "fstlane");
}
