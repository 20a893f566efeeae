/* SPDX-License-Identifier: Apache-2.0 */
/* what the long commands (provision, batch, watch, demo) share: their common
 * options with the workspace defaults under them, and running an FstJob with
 * the progress display, the two-level Ctrl-C and the summary */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <glib-unix.h>
#include <signal.h>

#include "fst-error.h"
#include "fst-settings.h"
#include "fst-station.h"

/**
 * fst_cli_job_options_add:
 * @self: zeroed storage, filled by parsing
 * @context: the command's option context
 * @flags: which of the shared options the command takes
 * @port_help: (nullable): the --port description, for %FST_CLI_JOB_OPTION_PORTS
 *
 * Adds the options every long command spells the same way: --workspace,
 * --profile, --lot, --operator, --port, --all-ports, --baud, --json, --quiet,
 * --verbose.
 */
void
fst_cli_job_options_add(FstCliJobOptions *self,
                        GOptionContext *context,
                        FstCliJobOptionFlags flags,
                        const gchar *port_help)
{
	const GOptionEntry common[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &self->workspace,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"profile",
	     'p',
	     0,
	     G_OPTION_ARG_STRING,
	     &self->profile,
	     "Profile name or file (default: the workspace's)",
	     "NAME"},
	    {"lot",
	     'l',
	     0,
	     G_OPTION_ARG_STRING,
	     &self->lot,
	     "Production lot recorded with each device (default: the workspace's)",
	     "LOT"},
	    {"operator",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &self->operator_name,
	     "Who runs the station, recorded with every device (default: "
	     "$FLEETSTATION_OPERATOR, else the login name)",
	     "NAME"},
	    {"baud",
	     'b',
	     0,
	     G_OPTION_ARG_INT,
	     &self->baud,
	     "Line rate in bit/s (default: the workspace's, else 115200)",
	     "RATE"},
	    {"json",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &self->json,
	     "One JSON object per event line (progress, result), then a summary object",
	     NULL},
	    {"quiet",
	     'q',
	     0,
	     G_OPTION_ARG_NONE,
	     &self->quiet,
	     "Print only failures and the count line",
	     NULL},
	    {"verbose",
	     'v',
	     0,
	     G_OPTION_ARG_NONE,
	     &self->verbose,
	     "Print informational messages",
	     NULL},
	    {NULL}};
	const GOptionEntry ports[] = {
	    {"port", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &self->ports, port_help, "PORT"}, {NULL}};
	const GOptionEntry all_ports[] = {
	    {"all-ports",
	     'a',
	     0,
	     G_OPTION_ARG_NONE,
	     &self->all_ports,
	     "Every serial port of a known USB id (see fleetstation ports)",
	     NULL},
	    {NULL}};

	self->flags = flags;
	g_option_context_add_main_entries(context, common, NULL);
	/* --passphrase-file, --pin-file: the CA secret (fst_cli_secret_setup()) */
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (flags & FST_CLI_JOB_OPTION_PORTS)
		g_option_context_add_main_entries(context, ports, NULL);
	if (flags & FST_CLI_JOB_OPTION_ALL_PORTS)
		g_option_context_add_main_entries(context, all_ports, NULL);
}

/* --port X --port X is one port: the gang would find the second busy */
static void
fst_cli_job_ports_dedup(FstCliJobOptions *self)
{
	g_autoptr(GStrvBuilder) builder = NULL;
	g_autoptr(GHashTable) seen = NULL;

	if (self->ports == NULL)
		return;
	builder = g_strv_builder_new();
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; self->ports[i] != NULL; i++) {
		if (g_hash_table_add(seen, self->ports[i]))
			g_strv_builder_add(builder, self->ports[i]);
	}
	g_strfreev(g_steal_pointer(&self->ports));
	self->ports = g_strv_builder_end(builder);
}

/**
 * fst_cli_job_options_resolve:
 * @self: parsed options
 * @command: the command name, for messages
 * @error: (nullable): return location
 *
 * Checks the shared options, finds the workspace, and fills what the options
 * leave unset from the workspace defaults (fst_settings_fill()) and, with
 * --all-ports, from the plugged-in ports.
 *
 * Returns: %FST_EXIT_OK, or the exit code of a usage (message printed) or
 * workspace error (in @error)
 */
FstExit
fst_cli_job_options_resolve(FstCliJobOptions *self, const gchar *command, GError **error)
{
	g_autoptr(FstSettings) settings = NULL;
	gboolean fill_ports = (self->flags & FST_CLI_JOB_OPTION_PORTS) && !self->all_ports;

	if (self->baud < 0 || (self->baud > 0 && (self->baud < 1200 || self->baud > 4000000))) {
		g_printerr("fleetstation %s: --baud must be 1200 to 4000000\n", command);
		return FST_EXIT_USAGE;
	}
	if (self->all_ports && self->ports != NULL) {
		g_printerr("fleetstation %s: give --port or --all-ports, not both\n", command);
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(self->verbose);
	fst_cli_set_quiet(self->quiet);
	fst_cli_job_ports_dedup(self);
	self->workspace_path = fst_cli_workspace(self->workspace);
	fst_cli_secret_setup(self->workspace_path);
	settings = fst_settings_load(self->workspace_path, error);
	if (settings == NULL)
		return fst_cli_exit_for_error(*error);
	fst_settings_fill(
	    settings, &self->profile, &self->lot, &self->baud, fill_ports ? &self->ports : NULL);
	if (self->all_ports) {
		self->ports = fst_cli_all_ports(error);
		if (self->ports == NULL)
			return fst_cli_exit_for_error(*error);
	}
	return FST_EXIT_OK;
}

/**
 * fst_cli_job_options_to_job:
 * @self: resolved options
 * @out: (out caller-allocates): the engine's options, borrowing from @self
 */
void
fst_cli_job_options_to_job(const FstCliJobOptions *self, FstJobOptions *out)
{
	*out = (FstJobOptions){
	    .workspace = self->workspace_path,
	    .profile = self->profile,
	    .lot = self->lot,
	    .operator_name = self->operator_name,
	    .ports = (const gchar *const *)self->ports,
	    .baud_rate = (guint)self->baud,
	};
}

void
fst_cli_job_options_clear(FstCliJobOptions *self)
{
	g_clear_pointer(&self->workspace, g_free);
	g_clear_pointer(&self->workspace_path, g_free);
	g_clear_pointer(&self->profile, g_free);
	g_clear_pointer(&self->lot, g_free);
	g_clear_pointer(&self->operator_name, g_free);
	g_clear_pointer(&self->ports, g_strfreev);
}

typedef struct {
	FstJob *job;                /* (unowned) */
	FstCliProgress *progress;   /* (unowned) */
	GPtrArray *results;         /* (unowned) (nullable) */
	gboolean keep_passed;       /* keep the results of passed devices too */
	gboolean quiet;             /* say nothing on the first signal */
	GAsyncResult *async_result; /* (owned) (nullable): set when the job ended */
} FstCliJobRun;

static gboolean
fst_cli_job_signal_cb(gpointer user_data)
{
	FstCliJobRun *run = user_data;
	GCancellable *stop = fst_job_get_stop(run->job);

	if (!g_cancellable_is_cancelled(stop)) {
		if (!run->quiet)
			g_printerr("stopping: finishing the devices in flight "
			           "(press Ctrl-C again to abort them)...\n");
		fst_job_stop(run->job);
	} else if (!g_cancellable_is_cancelled(fst_job_get_abort(run->job))) {
		g_printerr("aborting the devices in flight: they are recorded as failed\n");
		fst_job_abort(run->job);
	}
	return G_SOURCE_CONTINUE;
}

static void
fst_cli_job_progress_cb(FstJob *job, FstProgress *progress, gpointer user_data)
{
	FstCliJobRun *run = user_data;
	fst_cli_progress_cb(progress, run->progress);
}

static void
fst_cli_job_device_finished_cb(FstJob *job, FstProvisionResult *result, gpointer user_data)
{
	FstCliJobRun *run = user_data;

	if (run->progress->json) {
		g_autoptr(JsonNode) node = fst_cli_result_to_json(result);
		json_object_set_string_member(json_node_get_object(node), "event", "result");
		fst_cli_print_json(node);
	}
	/* failed and skipped devices are the ones to show in a long run's table */
	if (run->results != NULL &&
	    (run->keep_passed || fst_provision_result_get_status(result) != FST_RESULT_PASSED))
		g_ptr_array_add(run->results, fst_provision_result_copy(result));
}

static void
fst_cli_job_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FstCliJobRun *run = user_data;
	run->async_result = g_object_ref(result);
}

/**
 * fst_cli_job_run:
 * @job: a job that has not run
 * @progress: the progress display
 * @results: (nullable) (element-type FstProvisionResult): gets the devices'
 *   results, for the summary table
 * @keep_passed: keep passed devices' results in @results too, not only the
 *   failed and skipped ones (a long run keeps those only)
 * @error: (nullable): return location
 *
 * Runs @job while this thread shows its progress and serves Ctrl-C and
 * SIGTERM: the first stops the job (the devices in flight finish), the
 * second aborts it. With --json, each device's result is a `result` event.
 *
 * Returns: %TRUE when the run happened (fst_job_run_finish())
 */
gboolean
fst_cli_job_run(
    FstJob *job, FstCliProgress *progress, GPtrArray *results, gboolean keep_passed, GError **error)
{
	FstCliJobRun run = {
	    .job = job,
	    .progress = progress,
	    .results = results,
	    .keep_passed = keep_passed,
	    .quiet = progress->quiet || progress->json,
	};
	guint sigint_id = g_unix_signal_add(SIGINT, fst_cli_job_signal_cb, &run);
	guint sigterm_id = g_unix_signal_add(SIGTERM, fst_cli_job_signal_cb, &run);
	gulong progress_id =
	    g_signal_connect(job, "progress", G_CALLBACK(fst_cli_job_progress_cb), &run);
	gulong finished_id = g_signal_connect(
	    job, "device-finished", G_CALLBACK(fst_cli_job_device_finished_cb), &run);
	gboolean ok;

	fst_job_run_async(job, NULL, fst_cli_job_done_cb, &run);
	while (run.async_result == NULL)
		g_main_context_iteration(NULL, TRUE);
	ok = fst_job_run_finish(job, run.async_result, error);
	g_object_unref(run.async_result);
	g_signal_handler_disconnect(job, progress_id);
	g_signal_handler_disconnect(job, finished_id);
	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);
	return ok;
}

/**
 * fst_cli_json_add_failure_groups:
 * @b: a builder inside an object
 * @groups: (element-type FstFailureGroup): fst_job_list_failure_groups()
 *
 * Adds `failures`: `[{error_code, step, devices, example, example_devices}]`,
 * most devices first.
 */
void
fst_cli_json_add_failure_groups(JsonBuilder *b, GPtrArray *groups)
{
	json_builder_set_member_name(b, "failures");
	json_builder_begin_array(b);
	for (guint i = 0; i < groups->len; i++) {
		FstFailureGroup *g = g_ptr_array_index(groups, i);
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "error_code", g->error_code);
		fst_cli_json_add_string(b, "step", g->step);
		json_builder_set_member_name(b, "devices");
		json_builder_add_int_value(b, (gint64)g->devices);
		fst_cli_json_add_string(b, "example", g->example);
		json_builder_set_member_name(b, "example_devices");
		json_builder_begin_array(b);
		for (guint j = 0; j < g->example_devices->len; j++)
			json_builder_add_string_value(b, g_ptr_array_index(g->example_devices, j));
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/**
 * fst_cli_print_failure_groups:
 * @groups: (element-type FstFailureGroup): fst_job_list_failure_groups()
 *
 * Prints the failures by class, one line each: how many, the error code and
 * step, a few device ids and one message; nothing without failures.
 */
void
fst_cli_print_failure_groups(GPtrArray *groups)
{
	if (groups->len == 0)
		return;
	g_print("\nFAILURES BY CLASS\n");
	for (guint i = 0; i < groups->len; i++) {
		FstFailureGroup *g = g_ptr_array_index(groups, i);
		g_autoptr(GString) line = g_string_new(NULL);
		g_string_append_printf(
		    line, "%5" G_GUINT64_FORMAT " %s at %s", g->devices, g->error_code, g->step);
		for (guint j = 0; j < g->example_devices->len; j++)
			g_string_append_printf(
			    line,
			    "%s%s",
			    j == 0 ? " (e.g. " : ", ",
			    (const gchar *)g_ptr_array_index(g->example_devices, j));
		if (g->example_devices->len > 0)
			g_string_append(line,
			                g->devices > g->example_devices->len ? ", ...)" : ")");
		if (g->example != NULL)
			g_string_append_printf(line, ": %s", g->example);
		g_print("%s\n", line->str);
	}
}

/**
 * fst_cli_print_results:
 * @self: the progress display (its mode: terminal, plain, JSON, quiet)
 * @command: the command name, for the JSON summary
 * @results: (element-type FstProvisionResult): the results kept for the table
 * @job: the job that ran: its counts and failures by class
 * @cancelled: the run counts as stopped by a signal
 *
 * Prints the summary: a table and a count line, or one JSON `summary` event.
 *
 * Returns: %FST_EXIT_OK when every device passed, the exit of the halt error
 * when the line stopped itself (%FST_EXIT_DATABASE: the database could not
 * record; %FST_EXIT_CA_UNAVAILABLE: no certificate could be issued),
 * %FST_EXIT_CANCELLED when the run was stopped, else %FST_EXIT_DEVICES_FAILED
 */
FstExit
fst_cli_print_results(
    FstCliProgress *self, const gchar *command, GPtrArray *results, FstJob *job, gboolean cancelled)
{
	const FstJobSummary *summary = fst_job_get_summary(job);
	g_autoptr(GPtrArray) groups = fst_job_list_failure_groups(job);
	FstExit rc;

	if (summary->halted)
		rc = fst_cli_exit_for_error(fst_job_get_halt_error(job));
	else if (cancelled)
		rc = FST_EXIT_CANCELLED;
	else
		rc = summary->failed == 0 ? FST_EXIT_OK : FST_EXIT_DEVICES_FAILED;

	if (self->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "summary");
		fst_cli_json_add_string(b, "command", command);
		json_builder_set_member_name(b, "provisioned");
		json_builder_add_int_value(b, summary->provisioned);
		json_builder_set_member_name(b, "failed");
		json_builder_add_int_value(b, summary->failed);
		json_builder_set_member_name(b, "skipped");
		json_builder_add_int_value(b, summary->skipped);
		json_builder_set_member_name(b, "cancelled");
		json_builder_add_boolean_value(b, cancelled);
		json_builder_set_member_name(b, "elapsed_s");
		json_builder_add_double_value(b, (gdouble)summary->elapsed_us / G_USEC_PER_SEC);
		json_builder_set_member_name(b, "exit_code");
		json_builder_add_int_value(b, rc);
		json_builder_set_member_name(b, "devices");
		json_builder_begin_array(b);
		for (guint i = 0; i < results->len; i++)
			json_builder_add_value(
			    b, fst_cli_result_to_json(g_ptr_array_index(results, i)));
		json_builder_end_array(b);
		fst_cli_json_add_failure_groups(b, groups);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return rc;
	}
	if (results->len > 0 && (!self->quiet || summary->failed > 0)) {
		/* ports and ids as long as the longest; on a terminal, both cut so
		 * that a row with a serial (40 digits, never cut) fits the width */
		guint port_w = 4;
		guint uid_w = 6;
		g_autoptr(GString) head = g_string_new("\n");
		for (guint i = 0; i < results->len; i++) {
			FstProvisionResult *r = g_ptr_array_index(results, i);
			port_w = MAX(port_w, (guint)g_utf8_strlen(r->port, -1));
			if (r->uid != NULL)
				uid_w = MAX(uid_w, (guint)g_utf8_strlen(r->uid, -1));
		}
		if (self->tty) {
			/* RESULT and a serial: 1 + 7 + 1 + 40, and the last column free */
			guint avail;
			if (self->width == 0)
				fst_cli_progress_read_size(self);
			avail = self->width > 61 ? self->width - 1 - 49 : 12;
			while (port_w + 1 + uid_w > avail && port_w > 10)
				port_w--;
			while (port_w + 1 + uid_w > avail && uid_w > 10)
				uid_w--;
		}
		fst_cli_fit(head, "PORT", port_w, FALSE);
		g_string_append_c(head, ' ');
		fst_cli_fit(head, "DEVICE", uid_w, FALSE);
		g_print("%s %-7s %s\n", head->str, "RESULT", "SERIAL / ERROR");
		for (guint i = 0; i < results->len; i++) {
			FstProvisionResult *r = g_ptr_array_index(results, i);
			g_autoptr(GString) row = g_string_new(NULL);
			FstResultStatus status;
			if (self->quiet && r->error == NULL)
				continue;
			fst_cli_fit(row, r->port, port_w, TRUE);
			g_string_append_c(row, ' ');
			fst_cli_fit(row, r->uid != NULL ? r->uid : "-", uid_w, FALSE);
			status = fst_provision_result_get_status(r);
			g_print("%s %-7s %s\n",
			        row->str,
			        status == FST_RESULT_FAILED ? "FAILED"
			                                    : fst_result_status_to_string(status),
			        r->error != NULL        ? r->error->message
			        : r->serial_hex != NULL ? r->serial_hex
			                                : "- (no certificate issued)");
		}
	}
	fst_cli_print_failure_groups(groups);
	g_print("%u provisioned, %u failed, %u skipped, in %.2f s%s\n",
	        summary->provisioned,
	        summary->failed,
	        summary->skipped,
	        (gdouble)summary->elapsed_us / G_USEC_PER_SEC,
	        cancelled ? " (stopped by a signal)" : "");
	return rc;
}

static gint
fst_cli_port_index(const gchar *const *ports, const gchar *port)
{
	for (guint i = 0; ports != NULL && ports[i] != NULL; i++) {
		if (g_strcmp0(ports[i], port) == 0)
			return (gint)i;
	}
	return G_MAXINT;
}

typedef struct {
	const gchar *const *ports;
} FstCliSortData;

static gint
fst_cli_compare_results(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const gchar *const *ports = ((const FstCliSortData *)user_data)->ports;
	const FstProvisionResult *ra = *(const FstProvisionResult *const *)a;
	const FstProvisionResult *rb = *(const FstProvisionResult *const *)b;
	gint ia = fst_cli_port_index(ports, ra->port);
	gint ib = fst_cli_port_index(ports, rb->port);
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/**
 * fst_cli_results_sort:
 * @results: (element-type FstProvisionResult): results in the order devices
 *   finished
 * @ports: (nullable) (array zero-terminated=1): the gang's ports
 *
 * Orders @results as the ports were given (stable: a port's devices stay in
 * the order they finished), so that the table reads like the jig.
 */
void
fst_cli_results_sort(GPtrArray *results, const gchar *const *ports)
{
	FstCliSortData data = {.ports = ports};
	/* g_ptr_array_sort_with_data() is a stable merge sort */
	g_ptr_array_sort_with_data(results, fst_cli_compare_results, &data);
}
