/* the CLI's shared parts: error mapping and the progress display */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-ports.h"
#include "fst-station.h"

/* --passphrase-file and --pin-file of the commands that open the station */
static gchar *fst_cli_passphrase_file = NULL;
static gchar *fst_cli_pin_file = NULL;
static gboolean fst_cli_secrets_used = FALSE;

FstExit
fst_cli_exit_for_error(const GError *error)
{
	if (error->domain != FST_ERROR)
		return FST_EXIT_INTERNAL;
	switch (error->code) {
	case FST_ERROR_CONFIG:
	case FST_ERROR_NOT_FOUND:
	case FST_ERROR_PERMISSION_DENIED:
	case FST_ERROR_INVALID_DATA:
		return FST_EXIT_CONFIG;
	case FST_ERROR_CA_UNAVAILABLE:
		return FST_EXIT_CA_UNAVAILABLE;
	case FST_ERROR_DATABASE:
		return FST_EXIT_DATABASE;
	case FST_ERROR_CANCELLED:
		return FST_EXIT_CANCELLED;
	default:
		return FST_EXIT_INTERNAL;
	}
}

static const gchar *
fst_cli_color(FstCliProgress *self, FstStep step)
{
	if (!self->color)
		return "";
	if (step == FST_STEP_DONE)
		return "\033[32m";
	if (step == FST_STEP_FAILED)
		return "\033[31m";
	return "\033[33m";
}

static gchar *
fst_cli_bar(gdouble fraction)
{
	const guint width = 20;
	guint filled = (guint)(CLAMP(fraction, 0.0, 1.0) * width + 0.5);
	GString *bar = g_string_new("[");
	for (guint i = 0; i < width; i++)
		g_string_append_c(bar, i < filled ? '#' : '.');
	g_string_append_c(bar, ']');
	return g_string_free(bar, FALSE);
}

/* redraws the block of per-port lines in place */
static void
fst_cli_progress_redraw(FstCliProgress *self)
{
	if (self->drawn > 0)
		g_print("\033[%uA", self->drawn);
	for (guint i = 0; i < self->lines->len; i++)
		g_print("\r\033[K%s\n", (const gchar *)g_ptr_array_index(self->lines, i));
	self->drawn = self->lines->len;
	fflush(stdout);
}

void
fst_cli_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstCliProgress *self = user_data;
	g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new(&self->lock);
	const gchar *uid = progress->uid != NULL ? progress->uid : "-";
	const gchar *detail = progress->detail != NULL ? progress->detail : "";

	if (self->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonNode) node = NULL;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "event");
		json_builder_add_string_value(b, "progress");
		json_builder_set_member_name(b, "port");
		json_builder_add_string_value(b, progress->port);
		json_builder_set_member_name(b, "device");
		if (progress->uid != NULL)
			json_builder_add_string_value(b, progress->uid);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "step");
		json_builder_add_string_value(b, fst_step_to_string(progress->step));
		json_builder_set_member_name(b, "fraction");
		json_builder_add_double_value(b, progress->fraction);
		json_builder_set_member_name(b, "detail");
		json_builder_add_string_value(b, detail);
		json_builder_end_object(b);
		node = json_builder_get_root(b);
		fst_cli_print_json(node);
		return;
	}
	if (self->quiet)
		return;
	if (!self->tty) {
		/* plain and parseable: port, device, step, detail */
		g_print("%s %s %s%s%s\n",
			progress->port,
			uid,
			fst_step_to_string(progress->step),
			detail[0] != '\0' ? " " : "",
			detail);
		return;
	}
	{
		g_autofree gchar *bar = fst_cli_bar(progress->fraction);
		g_autofree gchar *line = NULL;
		guint idx = G_MAXUINT;
		for (guint i = 0; i < self->ports->len; i++) {
			if (g_strcmp0(g_ptr_array_index(self->ports, i), progress->port) == 0)
				idx = i;
		}
		line = g_strdup_printf("%-14s %-22s %s %s%-8s%s %.60s",
				       progress->port,
				       uid,
				       bar,
				       fst_cli_color(self, progress->step),
				       fst_step_to_string(progress->step),
				       self->color ? "\033[0m" : "",
				       detail);
		if (idx == G_MAXUINT) {
			g_ptr_array_add(self->ports, g_strdup(progress->port));
			g_ptr_array_add(self->lines, g_steal_pointer(&line));
		} else {
			g_free(g_ptr_array_index(self->lines, idx));
			g_ptr_array_index(self->lines, idx) = g_steal_pointer(&line);
		}
		fst_cli_progress_redraw(self);
	}
}

void
fst_cli_progress_init(FstCliProgress *self, gboolean quiet)
{
	const gchar *term = g_getenv("TERM");
	g_mutex_init(&self->lock);
	self->tty = isatty(STDOUT_FILENO) && g_strcmp0(term, "dumb") != 0;
	self->color = self->tty && g_getenv("NO_COLOR") == NULL;
	self->quiet = quiet;
	self->ports = g_ptr_array_new_with_free_func(g_free);
	self->lines = g_ptr_array_new_with_free_func(g_free);
}

void
fst_cli_progress_clear(FstCliProgress *self)
{
	g_mutex_clear(&self->lock);
	g_ptr_array_unref(self->ports);
	g_ptr_array_unref(self->lines);
}


/**
 * fst_cli_print_json:
 * @node: a JSON value
 *
 * Prints @node on one line of stdout: one event, or one command's document.
 */
void
fst_cli_print_json(JsonNode *node)
{
	g_autofree gchar *text = json_to_string(node, FALSE);
	g_print("%s\n", text);
	fflush(stdout);
}

/**
 * fst_cli_json_add_string:
 * @b: a builder inside an object
 * @name: the member name
 * @value: (nullable): the value; %NULL gives JSON null
 */
void
fst_cli_json_add_string(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

/**
 * fst_cli_result_to_json:
 * @result: one device's result
 *
 * Returns: (transfer full): `{port, device, model, result, serial, aws_cert_id,
 * roots, error_code, error, elapsed_s}`
 */
JsonNode *
fst_cli_result_to_json(const FstProvisionResult *result)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "port", result->port);
	fst_cli_json_add_string(b, "device", result->uid);
	fst_cli_json_add_string(b, "model", result->model);
	fst_cli_json_add_string(b, "result", result->error == NULL ? "ok" : "failed");
	fst_cli_json_add_string(b, "serial", result->serial_hex);
	fst_cli_json_add_string(b, "aws_cert_id", result->aws_cert_id);
	fst_cli_json_add_string(b, "roots", result->roots);
	fst_cli_json_add_string(b,
				"error_code",
				result->error != NULL && result->error->domain == FST_ERROR
				    ? fst_error_code_to_string(result->error->code)
				    : NULL);
	fst_cli_json_add_string(b, "error", result->error != NULL ? result->error->message : NULL);
	json_builder_set_member_name(b, "elapsed_s");
	json_builder_add_double_value(b, (gdouble)result->elapsed_us / G_USEC_PER_SEC);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/**
 * fst_cli_print_results:
 * @self: the progress display (its mode: terminal, plain, JSON, quiet)
 * @command: the command name, for the JSON summary
 * @results: (element-type FstProvisionResult): what the run produced
 * @elapsed_us: how long it took
 * @cancelled: the run was stopped by a signal
 *
 * Prints the summary: a table and a count line, or one JSON `summary` event.
 *
 * Returns: %FST_EXIT_OK when every device passed, %FST_EXIT_CANCELLED when
 * the run was stopped, else %FST_EXIT_DEVICES_FAILED
 */
FstExit
fst_cli_print_results(FstCliProgress *self,
		      const gchar *command,
		      GPtrArray *results,
		      gint64 elapsed_us,
		      gboolean cancelled)
{
	guint n_ok = 0;
	guint n_failed = 0;
	FstExit rc;

	for (guint i = 0; i < results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(results, i);
		if (r->error == NULL)
			n_ok++;
		else
			n_failed++;
	}
	if (cancelled)
		rc = FST_EXIT_CANCELLED;
	else
		rc = n_failed == 0 ? FST_EXIT_OK : FST_EXIT_DEVICES_FAILED;

	if (self->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonNode) node = NULL;
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "summary");
		fst_cli_json_add_string(b, "command", command);
		json_builder_set_member_name(b, "provisioned");
		json_builder_add_int_value(b, n_ok);
		json_builder_set_member_name(b, "failed");
		json_builder_add_int_value(b, n_failed);
		json_builder_set_member_name(b, "cancelled");
		json_builder_add_boolean_value(b, cancelled);
		json_builder_set_member_name(b, "elapsed_s");
		json_builder_add_double_value(b, (gdouble)elapsed_us / G_USEC_PER_SEC);
		json_builder_set_member_name(b, "exit_code");
		json_builder_add_int_value(b, rc);
		json_builder_set_member_name(b, "devices");
		json_builder_begin_array(b);
		for (guint i = 0; i < results->len; i++)
			json_builder_add_value(b, fst_cli_result_to_json(g_ptr_array_index(results, i)));
		json_builder_end_array(b);
		json_builder_end_object(b);
		node = json_builder_get_root(b);
		fst_cli_print_json(node);
		return rc;
	}
	if (!self->quiet || n_failed > 0) {
		g_print("\n%-16s %-22s %-6s %s\n", "PORT", "DEVICE", "RESULT", "SERIAL / ERROR");
		for (guint i = 0; i < results->len; i++) {
			FstProvisionResult *r = g_ptr_array_index(results, i);
			if (self->quiet && r->error == NULL)
				continue;
			g_print("%-16s %-22s %-6s %s\n",
				r->port,
				r->uid != NULL ? r->uid : "-",
				r->error == NULL ? "ok" : "FAILED",
				r->error == NULL ? r->serial_hex : r->error->message);
		}
	}
	g_print("%u provisioned, %u failed, in %.2f s%s\n",
		n_ok,
		n_failed,
		(gdouble)elapsed_us / G_USEC_PER_SEC,
		cancelled ? " (stopped by a signal)" : "");
	return rc;
}

static gboolean
fst_cli_signals_cb(gpointer user_data)
{
	FstCliSignals *self = user_data;
	if (!g_cancellable_is_cancelled(self->stop)) {
		if (!self->quiet)
			g_printerr("stopping: finishing the devices in flight "
				   "(press Ctrl-C again to abort them)...\n");
		g_cancellable_cancel(self->stop);
	} else if (!g_cancellable_is_cancelled(self->abort)) {
		g_printerr("aborting the devices in flight: they are recorded as failed\n");
		g_cancellable_cancel(self->abort);
	}
	return G_SOURCE_CONTINUE;
}

/**
 * fst_cli_signals_install:
 * @self: zeroed storage
 * @quiet: print nothing on the first signal
 *
 * Routes SIGINT and SIGTERM to @self->stop, then @self->abort. The handlers
 * run from the main context: use fst_cli_run() for the work.
 */
void
fst_cli_signals_install(FstCliSignals *self, gboolean quiet)
{
	self->stop = g_cancellable_new();
	self->abort = g_cancellable_new();
	self->quiet = quiet;
	self->sigint_id = g_unix_signal_add(SIGINT, fst_cli_signals_cb, self);
	self->sigterm_id = g_unix_signal_add(SIGTERM, fst_cli_signals_cb, self);
}

void
fst_cli_signals_remove(FstCliSignals *self)
{
	if (self->sigint_id != 0)
		g_source_remove(self->sigint_id);
	if (self->sigterm_id != 0)
		g_source_remove(self->sigterm_id);
	g_clear_object(&self->stop);
	g_clear_object(&self->abort);
}

typedef struct {
	FstCliJob job;
	gpointer data;
	gpointer result;
	gint done;
} FstCliRun;

static gpointer
fst_cli_run_thread(gpointer data)
{
	FstCliRun *run = data;
	run->result = run->job(run->data);
	g_atomic_int_set(&run->done, 1);
	g_main_context_wakeup(NULL);
	return NULL;
}

/**
 * fst_cli_run:
 * @job: the work, run in a thread
 * @data: its data
 *
 * Runs @job in a worker thread while the main thread serves the signal
 * handlers of fst_cli_signals_install().
 *
 * Returns: what @job returned
 */
gpointer
fst_cli_run(FstCliJob job, gpointer data)
{
	FstCliRun run = {.job = job, .data = data};
	GThread *thread = g_thread_new("fst-cli-job", fst_cli_run_thread, &run);
	while (!g_atomic_int_get(&run.done))
		g_main_context_iteration(NULL, TRUE);
	g_thread_join(thread);
	return run.result;
}

/**
 * fst_cli_parse:
 * @context: the command's options
 * @command: its name, for messages
 * @argc: (inout): arguments
 * @argv: (inout): arguments
 *
 * Parses, printing a usage error that names the command.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_cli_parse(GOptionContext *context, const gchar *command, gint *argc, gchar ***argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *prgname = g_strdup_printf("fleetstation %s", command);
	g_set_prgname(prgname);
	g_option_context_set_description(context,
					 fst_cli_secrets_used ? FST_CLI_SECRETS_HELP FST_CLI_EXIT_CODES
							      : FST_CLI_EXIT_CODES);
	if (!g_option_context_parse(context, argc, argv, &error)) {
		g_printerr("fleetstation %s: %s (see fleetstation %s --help)\n",
			   command,
			   error->message,
			   command);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_cli_workspace:
 * @option: (nullable): the --workspace option
 *
 * Returns: (transfer full): @option, else `$FLEETSTATION_WORKSPACE`, else the
 * default workspace
 */
gchar *
fst_cli_workspace(const gchar *option)
{
	const gchar *env = g_getenv("FLEETSTATION_WORKSPACE");
	if (option != NULL)
		return g_strdup(option);
	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	return fst_station_default_workspace();
}

/**
 * fst_cli_set_verbose:
 * @verbose: --verbose was given
 *
 * Shows the engine's informational messages on stderr.
 */
void
fst_cli_set_verbose(gboolean verbose)
{
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG",
			 "FstPipeline FstGang FstStation FstPorts FstWatch FstBatch FstSettings",
			 FALSE);
}

/**
 * fst_cli_fail:
 * @command: the command name
 * @json: also print a JSON `error` document on stdout
 * @error: what failed
 *
 * Returns: the exit code for @error
 */
FstExit
fst_cli_fail(const gchar *command, gboolean json, const GError *error)
{
	FstExit rc = fst_cli_exit_for_error(error);
	g_printerr("fleetstation %s: %s\n", command, error->message);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonNode) node = NULL;
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "error");
		fst_cli_json_add_string(b, "command", command);
		fst_cli_json_add_string(b,
					"error_code",
					error->domain == FST_ERROR
					    ? fst_error_code_to_string(error->code)
					    : "internal");
		fst_cli_json_add_string(b, "error", error->message);
		json_builder_set_member_name(b, "exit_code");
		json_builder_add_int_value(b, rc);
		json_builder_end_object(b);
		node = json_builder_get_root(b);
		fst_cli_print_json(node);
	}
	return rc;
}

/**
 * fst_cli_open_db:
 * @workspace: the workspace
 * @error: (nullable): return location
 *
 * Opens the workspace database for the query commands, without creating one.
 *
 * Returns: (transfer full): the database, or %NULL with %FST_ERROR_CONFIG when
 * the workspace has none
 */
FstDb *
fst_cli_open_db(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.db", NULL);
	if (!fst_station_check_database(workspace, error))
		return NULL;
	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
			    FST_ERROR,
			    FST_ERROR_CONFIG,
			    "no database at %s: run fleetstation init --workspace %s first",
			    path,
			    workspace);
		return NULL;
	}
	return fst_db_open(path, error);
}

/**
 * fst_cli_all_ports:
 * @error: (nullable): return location
 *
 * --all-ports: every serial port whose USB id the known-devices table knows.
 *
 * Returns: (transfer full): the port paths, possibly none
 */
gchar **
fst_cli_all_ports(GError **error)
{
	g_autoptr(FstKnownDevices) known = fst_known_devices_load_default(error);
	g_autoptr(GPtrArray) ports = NULL;
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	if (known == NULL)
		return NULL;
	ports = fst_ports_list_serial(known, error);
	if (ports == NULL)
		return NULL;
	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *p = g_ptr_array_index(ports, i);
		if (p->dialect != NULL)
			g_strv_builder_add(builder, p->name);
	}
	return g_strv_builder_end(builder);
}

/**
 * fst_cli_serial_from_arg:
 * @serial: a certificate serial as typed: hex, colons allowed ("0a:1b..." or "0A1B...")
 *
 * Returns: (transfer full) (nullable): the serial in the database's form
 *   (upper-case hex, no colons), or %NULL if @serial is not that
 */
gchar *
fst_cli_serial_from_arg(const gchar *serial)
{
	g_autoptr(GString) out = g_string_new(NULL);

	for (const gchar *p = serial; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!g_ascii_isxdigit(*p))
			return NULL;
		g_string_append_c(out, g_ascii_toupper(*p));
	}
	if (out->len == 0 || out->len > 64)
		return NULL;
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * fst_cli_create_output:
 * @path: a file an export goes to
 * @mode: its mode, e.g. 0644
 * @error: (nullable): return location
 *
 * Creates @path for writing, never overwriting a file and never following a
 * symbolic link (O_CREAT | O_EXCL | O_NOFOLLOW).
 *
 * Returns: a file descriptor, or -1 with %FST_ERROR_CONFIG when @path exists
 */
gint
fst_cli_create_output(const gchar *path, gint mode, GError **error)
{
	gint fd = g_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		gint saved = errno;
		if (saved == EEXIST || saved == ELOOP)
			g_set_error(error,
				    FST_ERROR,
				    FST_ERROR_CONFIG,
				    "%s exists: an export never replaces a file nor follows a "
				    "link, choose another name",
				    path);
		else
			g_set_error(error,
				    FST_ERROR,
				    FST_ERROR_PERMISSION_DENIED,
				    "cannot create %s: %s",
				    path,
				    g_strerror(saved));
		return -1;
	}
	return fd;
}


/**
 * fst_cli_secret_entries:
 *
 * The options every command that unlocks the CA takes; add them with
 * g_option_context_add_main_entries(), then call fst_cli_secret_setup().
 *
 * Returns: (transfer none): the option entries
 */
const GOptionEntry *
fst_cli_secret_entries(void)
{
	static const GOptionEntry entries[] = {
	    {"passphrase-file", 0, 0, G_OPTION_ARG_FILENAME, &fst_cli_passphrase_file,
	     "File (mode 0600) with the passphrase of the CA keys", "FILE"},
	    {"pin-file", 0, 0, G_OPTION_ARG_FILENAME, &fst_cli_pin_file,
	     "File (mode 0600) with the PIN of a PKCS#11 CA key", "FILE"},
	    {NULL}};
	fst_cli_secrets_used = TRUE;
	return entries;
}

/**
 * fst_cli_secret_setup:
 * @workspace: the workspace of the command
 *
 * Makes the CLI's #FstInteraction (option file, environment, workspace file,
 * terminal prompt) what the station asks for the CA secret.
 */
void
fst_cli_secret_setup(const gchar *workspace)
{
	g_autoptr(FstInteraction) interaction =
	    fst_cli_interaction_new(workspace, fst_cli_passphrase_file, fst_cli_pin_file);
	fst_station_set_default_interaction(interaction);
}
