/* SPDX-License-Identifier: Apache-2.0 */
/* the CLI's shared parts: error mapping and the progress display */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
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
	case FST_ERROR_DISCONNECTED:
	case FST_ERROR_TIMED_OUT:
		return FST_EXIT_UNREACHABLE;
	default:
		return FST_EXIT_INTERNAL;
	}
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
 * fst_cli_print_builder:
 * @b: a builder holding one finished document
 *
 * Prints what @b built with fst_cli_print_json().
 */
void
fst_cli_print_builder(JsonBuilder *b)
{
	g_autoptr(JsonNode) node = json_builder_get_root(b);
	fst_cli_print_json(node);
}

/**
 * fst_cli_json_list_begin:
 * @name: the member that holds the list (a plain lower-case name)
 *
 * Starts printing the document `{"NAME":[...]}` of a listing one element at
 * a time (fst_cli_json_list_item()), so that a million rows are never held
 * in memory together; fst_cli_json_list_end() closes it. The bytes are those
 * fst_cli_print_json() prints for the same document.
 */
void
fst_cli_json_list_begin(const gchar *name)
{
	g_print("{\"%s\":[", name);
}

/**
 * fst_cli_json_list_item:
 * @b: a builder holding one finished element
 * @n: (inout): elements printed so far
 */
void
fst_cli_json_list_item(JsonBuilder *b, guint *n)
{
	g_autoptr(JsonNode) node = json_builder_get_root(b);
	g_autofree gchar *text = json_to_string(node, FALSE);
	g_print("%s%s", (*n)++ > 0 ? "," : "", text);
}

/**
 * fst_cli_json_list_end:
 * @ok: whether the list is whole; if not, the line is ended for the error
 *   document that follows it, and the exit status says the listing failed
 */
void
fst_cli_json_list_end(gboolean ok)
{
	g_print(ok ? "]}\n" : "\n");
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
 * fst_cli_json_add_time:
 * @b: a builder inside an object
 * @name: the member name
 * @unix_us: a time in microseconds since 1970 (UTC), or 0 for none
 *
 * Adds @name as an RFC 3339 UTC string (`2026-12-06T07:58:03Z`, or
 * `2026-12-06T07:58:03.123456Z` when it has a fraction) and `@name_unix`,
 * the same time in seconds, as a number; both null for no time.
 */
void
fst_cli_json_add_time(JsonBuilder *b, const gchar *name, gint64 unix_us)
{
	g_autofree gchar *unix_name = g_strdup_printf("%s_unix", name);
	g_autoptr(GDateTime) dt =
	    unix_us != 0 ? g_date_time_new_from_unix_utc(unix_us / G_USEC_PER_SEC) : NULL;
	g_autofree gchar *text = NULL;

	if (dt != NULL) {
		g_autofree gchar *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
		gint64 frac = unix_us % G_USEC_PER_SEC;
		text = frac != 0 ? g_strdup_printf("%s.%06" G_GINT64_FORMAT "Z", base, ABS(frac))
		                 : g_strdup_printf("%sZ", base);
	}
	fst_cli_json_add_string(b, name, text);
	json_builder_set_member_name(b, unix_name);
	if (dt != NULL)
		json_builder_add_int_value(b, unix_us / G_USEC_PER_SEC);
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
	fst_cli_json_add_string(
	    b, "result", fst_result_status_to_string(fst_provision_result_get_status(result)));
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
 * @job: blocking work, run in a thread
 * @data: its data
 *
 * Runs @job in a worker thread while this thread serves the main context (the
 * signal handlers a command installed), for the short commands whose engine
 * call blocks; the long ones run an #FstJob (fst_cli_job_run()).
 *
 * Returns: what @job returned
 */
gpointer
fst_cli_run(FstCliJob job, gpointer data)
{
	FstCliRun run = {.job = job, .data = data};
	GThread *thread = g_thread_new("fst-cli-run", fst_cli_run_thread, &run);
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
	g_autofree gchar *prgname = g_strdup_printf("fleetstation %s", command);
	const gchar *own = g_option_context_get_description(context);
	const gchar *tail =
	    fst_cli_secrets_used ? FST_CLI_SECRETS_HELP FST_CLI_EXIT_CODES : FST_CLI_EXIT_CODES;

	g_set_prgname(prgname);
	/* the command's own description stays, the exit codes after it */
	if (own == NULL) {
		g_option_context_set_description(context, tail);
	} else if (!g_str_has_suffix(own, FST_CLI_EXIT_CODES)) {
		g_autofree gchar *both = g_strconcat(own, "\n", tail, NULL);
		g_option_context_set_description(context, both);
	}
	return fst_cli_parse_context(context, command, argc, argv);
}

/**
 * fst_cli_argv_wants_json:
 * @argc: the argument count
 * @argv: the arguments
 *
 * Whether the arguments ask for JSON (`--json`, `--output json`,
 * `--output=json`), before `--`: what a usage error found while parsing
 * them must answer in.
 *
 * Returns: %TRUE for JSON
 */
gboolean
fst_cli_argv_wants_json(gint argc, gchar **argv)
{
	for (gint i = 1; i < argc && argv[i] != NULL; i++) {
		if (g_strcmp0(argv[i], "--") == 0)
			break;
		if (g_strcmp0(argv[i], "--json") == 0 || g_strcmp0(argv[i], "--output=json") == 0)
			return TRUE;
		if (g_strcmp0(argv[i], "--output") == 0 && i + 1 < argc &&
		    g_strcmp0(argv[i + 1], "json") == 0)
			return TRUE;
	}
	return FALSE;
}

/**
 * fst_cli_parse_context:
 * @context: the command's options, with its help text set
 * @command: the command name, e.g. `ca create`
 * @argc: (inout): the argument count
 * @argv: (inout): the arguments
 *
 * Parses; an unknown option or a bad value is a usage error, printed on
 * stderr and, when the arguments ask for JSON, as a JSON error object.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_cli_parse_context(GOptionContext *context, const gchar *command, gint *argc, gchar ***argv)
{
	g_autoptr(GError) error = NULL;
	gboolean json = fst_cli_argv_wants_json(*argc, *argv);

	if (!g_option_context_parse(context, argc, argv, &error)) {
		g_autofree gchar *msg =
		    g_strdup_printf("%s (see fleetstation %s --help)", error->message, command);
		fst_cli_usage_error(command, json, msg);
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

/* how much of the engine's log the operator sees (fst_cli_log_writer()) */
static gint fst_cli_log_verbosity = 1; /* 0 quiet, 1 normal, 2 verbose */

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
		g_atomic_int_set(&fst_cli_log_verbosity, 2);
}

/**
 * fst_cli_set_quiet:
 * @quiet: --quiet was given
 *
 * Keeps only warnings and errors of the engine's log on stderr.
 */
void
fst_cli_set_quiet(gboolean quiet)
{
	if (quiet)
		g_atomic_int_set(&fst_cli_log_verbosity, 0);
}

static const gchar *
fst_cli_log_level_name(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "error";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "critical";
	if (level & G_LOG_LEVEL_WARNING)
		return "warning";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "note";
	if (level & G_LOG_LEVEL_INFO)
		return "info";
	return "debug";
}

/**
 * fst_cli_log_writer:
 * @level: the message's level
 * @fields: its structured fields
 * @n_fields: how many
 * @user_data: unused
 *
 * The CLI's one log format on stderr: `fleetstation: LEVEL: message`, or
 * journald fields when stderr is the journal (run under systemd). Warnings
 * and errors always show; notes unless --quiet; informational messages with
 * --verbose; debug messages for the domains in `G_MESSAGES_DEBUG`.
 *
 * Returns: %G_LOG_WRITER_HANDLED
 */
GLogWriterOutput
fst_cli_log_writer(GLogLevelFlags level,
                   const GLogField *fields,
                   gsize n_fields,
                   gpointer user_data)
{
	const gchar *message = NULL;
	const gchar *domain = NULL;
	gint verbosity = g_atomic_int_get(&fst_cli_log_verbosity);

	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
		else if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
	}
	if (level & G_LOG_LEVEL_DEBUG) {
		const gchar *debug = g_getenv("G_MESSAGES_DEBUG");
		if (debug == NULL || (strstr(debug, "all") == NULL &&
		                      (domain == NULL || strstr(debug, domain) == NULL)))
			return G_LOG_WRITER_HANDLED;
	} else if ((level & G_LOG_LEVEL_INFO) && verbosity < 2) {
		return G_LOG_WRITER_HANDLED;
	} else if ((level & G_LOG_LEVEL_MESSAGE) && verbosity < 1) {
		return G_LOG_WRITER_HANDLED;
	}
	if (g_log_writer_is_journald(fileno(stderr)) &&
	    g_log_writer_journald(level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	g_printerr("fleetstation: %s: %s\n",
	           fst_cli_log_level_name(level),
	           message != NULL ? message : "(no message)");
	return G_LOG_WRITER_HANDLED;
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
		fst_cli_print_builder(b);
	}
	return rc;
}

/**
 * fst_cli_json_fail:
 * @command: the command, e.g. `audit verify`
 * @json: --json was given: the error is also a JSON error object on stdout
 * @error_code: the error class, e.g. `usage` or an #FstError nick
 * @message: what went wrong and what to do
 * @rc: the exit code
 *
 * Reports an error that is not a #GError as fst_cli_fail() reports those.
 *
 * Returns: @rc
 */
FstExit
fst_cli_json_fail(
    const gchar *command, gboolean json, const gchar *error_code, const gchar *message, FstExit rc)
{
	g_printerr("fleetstation %s: %s\n", command, message);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "error");
		fst_cli_json_add_string(b, "command", command);
		fst_cli_json_add_string(b, "error_code", error_code);
		fst_cli_json_add_string(b, "error", message);
		json_builder_set_member_name(b, "exit_code");
		json_builder_add_int_value(b, rc);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	}
	return rc;
}

/**
 * fst_cli_usage_error:
 * @command: the command, e.g. `certs`
 * @json: --json was given: the error is also a JSON object on stdout
 * @message: what is wrong with the command line and what to give instead
 *
 * Reports a usage error as fst_cli_fail() reports other errors.
 *
 * Returns: %FST_EXIT_USAGE
 */
FstExit
fst_cli_usage_error(const gchar *command, gboolean json, const gchar *message)
{
	return fst_cli_json_fail(command, json, "usage", message, FST_EXIT_USAGE);
}

/**
 * fst_cli_check_choice:
 * @command: the command, e.g. `devices`
 * @json: --json was given
 * @option: the option, e.g. `--state`
 * @value: (nullable): its value
 * @choices: the values it takes
 * @n_choices: how many
 *
 * Returns: %TRUE when @value is %NULL or one of @choices; else prints a usage
 * error naming the choices
 */
gboolean
fst_cli_check_choice(const gchar *command,
                     gboolean json,
                     const gchar *option,
                     const gchar *value,
                     const gchar *const *choices,
                     guint n_choices)
{
	g_autoptr(GString) msg = NULL;
	if (value == NULL)
		return TRUE;
	for (guint i = 0; i < n_choices; i++) {
		if (g_strcmp0(value, choices[i]) == 0)
			return TRUE;
	}
	msg = g_string_new(NULL);
	g_string_append_printf(msg, "unknown %s %s: expected ", option, value);
	for (guint i = 0; i < n_choices; i++)
		g_string_append_printf(msg, "%s%s", i > 0 ? ", " : "", choices[i]);
	fst_cli_usage_error(command, json, msg->str);
	return FALSE;
}

/* FALSE when the database or its folder cannot be written, as on read-only
 * media (where even root gets EROFS) */
static gboolean
fst_cli_db_writable(const gchar *path)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	return access(dir, W_OK) == 0 && access(path, W_OK) == 0;
}

/**
 * fst_cli_open_db:
 * @workspace: the workspace
 * @error: (nullable): return location
 *
 * Opens the workspace database for the query commands, without creating one
 * (fst_station_check_records()).
 *
 * Returns: (transfer full): the database, or %NULL with %FST_ERROR_CONFIG when
 * the workspace has none
 */
FstDb *
fst_cli_open_db(const gchar *workspace, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.db", NULL);
	if (!fst_station_check_records(workspace, error))
		return NULL;
	/* a workspace on read-only media (a DVD, a read-only mount) is queried
	 * without migrating or writing anything */
	if (!fst_cli_db_writable(path))
		return fst_db_open_read_only(path, error);
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
	    {"passphrase-file",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &fst_cli_passphrase_file,
	     "File (mode 0600) with the passphrase of the CA keys",
	     "FILE"},
	    {"pin-file",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &fst_cli_pin_file,
	     "File (mode 0600) with the PIN of a PKCS#11 CA key",
	     "FILE"},
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
