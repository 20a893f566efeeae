/*
 * fleetstation: the headless station. Thin on purpose: every command is a call
 * into the engine (libfststation); this file parses options, shows progress and
 * maps errors to the exit codes below.
 */

#define G_LOG_DOMAIN "FstCli"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fst-config.h"
#include "fst-demo.h"
#include "fst-error.h"
#include "fst-station.h"

/* stable exit codes: documented in --help and README.md; append only */
typedef enum {
	FST_EXIT_OK = 0,
	FST_EXIT_DEVICES_FAILED = 1,
	FST_EXIT_USAGE = 2,
	FST_EXIT_CONFIG = 3,
	FST_EXIT_CA_UNAVAILABLE = 4,
	FST_EXIT_DATABASE = 5,
	FST_EXIT_INTERNAL = 6,
	FST_EXIT_CANCELLED = 7,
} FstExit;

#define FST_CLI_EXIT_CODES                                                                          \
	"Exit status:\n"                                                                            \
	"  0  success: every device passed\n"                                                       \
	"  1  some devices failed (each is recorded in the database with its error)\n"              \
	"  2  usage error\n"                                                                        \
	"  3  configuration error (workspace, profile, templates)\n"                                \
	"  4  the issuing CA is unavailable (missing, locked, expired)\n"                           \
	"  5  database error\n"                                                                     \
	"  6  internal error\n"                                                                     \
	"  7  cancelled (Ctrl-C or SIGTERM)\n"

typedef struct {
	GMutex lock;
	gboolean tty;
	gboolean color;
	gboolean quiet;
	GPtrArray *ports; /* (element-type utf8): one display line each, in order */
	GPtrArray *lines; /* (element-type utf8): what each line shows */
	guint drawn;	  /* lines drawn so far on the terminal */
} FstCliProgress;

static FstExit
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

static void
fst_cli_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstCliProgress *self = user_data;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	const gchar *uid = progress->uid != NULL ? progress->uid : "-";
	const gchar *detail = progress->detail != NULL ? progress->detail : "";

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

static void
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

static void
fst_cli_progress_clear(FstCliProgress *self)
{
	g_mutex_clear(&self->lock);
	g_ptr_array_unref(self->ports);
	g_ptr_array_unref(self->lines);
}

/* the run happens in a worker thread while the main thread waits for signals */
typedef struct {
	FstDemoOptions options;
	FstCliProgress *progress;
	GCancellable *cancellable;
	GMainLoop *loop;
	GPtrArray *results;
	GError *error;
} FstCliDemoRun;

static gpointer
fst_cli_demo_thread(gpointer data)
{
	FstCliDemoRun *run = data;
	run->results = fst_demo_run(&run->options,
				    fst_cli_progress_cb,
				    run->progress,
				    run->cancellable,
				    &run->error);
	g_main_loop_quit(run->loop);
	return NULL;
}

static gboolean
fst_cli_signal_cb(gpointer user_data)
{
	GCancellable *cancellable = user_data;
	g_printerr("stopping: finishing the devices in flight...\n");
	g_cancellable_cancel(cancellable);
	return G_SOURCE_CONTINUE;
}

static FstExit
fst_cli_print_summary(GPtrArray *results, gint64 elapsed_us, const gchar *workspace)
{
	guint n_ok = 0;
	guint n_failed = 0;

	g_print("\n%-22s %-6s %-40s %s\n", "DEVICE", "RESULT", "SERIAL / ERROR", "ROOTS");
	for (guint i = 0; i < results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(results, i);
		const gchar *uid = r->uid != NULL ? r->uid : r->port;
		if (r->error == NULL) {
			n_ok++;
			g_print("%-22s %-6s %-40s %s\n", uid, "ok", r->serial_hex, r->roots);
		} else {
			n_failed++;
			g_print("%-22s %-6s %s\n", uid, "FAILED", r->error->message);
		}
	}
	g_print("\n%u provisioned, %u failed, in %.2f s; records in %s/station.db\n",
		n_ok,
		n_failed,
		(gdouble)elapsed_us / G_USEC_PER_SEC,
		workspace);
	return n_failed == 0 ? FST_EXIT_OK : FST_EXIT_DEVICES_FAILED;
}

static FstExit
fst_cli_demo(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *profile = NULL;
	gint devices = 4;
	gint baud = 115200;
	gboolean quiet = FALSE;
	gboolean verbose = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace,
	     "Workspace directory (default: $XDG_DATA_HOME/fleetstation)", "DIR"},
	    {"devices", 'n', 0, G_OPTION_ARG_INT, &devices,
	     "How many simulated devices (default: 4)", "N"},
	    {"baud", 'b', 0, G_OPTION_ARG_INT, &baud,
	     "Simulated line rate in bit/s (default: 115200)", "RATE"},
	    {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile,
	     "Profile name or file (default: aws-iot-ecc)", "NAME"},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the summary", NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print informational messages", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision simulated devices end to end");
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	FstCliProgress progress = {0};
	FstCliDemoRun run = {0};
	GThread *thread;
	guint sigint_id;
	guint sigterm_id;
	gint64 started;
	FstExit rc;

	g_set_prgname("fleetstation demo");
	g_option_context_set_summary(
	    context,
	    "Creates a workspace with a SQLite database and a demo PKI (root and issuing CA,\n"
	    "ECDSA P-256, the issuing key encrypted at rest), starts N fleetstation-devsim\n"
	    "processes on pseudo-terminals, and provisions them in parallel over the serial\n"
	    "transport: identify, key generation and CSR on the device, certificate issue,\n"
	    "burn of the certificate, CA chain and root CAs, read-back and compare.");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fleetstation demo: %s (see fleetstation demo --help)\n", error->message);
		return FST_EXIT_USAGE;
	}
	if (argc > 1) {
		g_printerr("fleetstation demo: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (devices < 1 || devices > FST_DEMO_MAX_DEVICES || baud < 0) {
		g_printerr("fleetstation demo: --devices must be 1 to %d and --baud positive\n",
			   FST_DEMO_MAX_DEVICES);
		return FST_EXIT_USAGE;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "FstPipeline FstDemo FstStation", FALSE);
	if (workspace == NULL)
		workspace = fst_station_default_workspace();

	fst_cli_progress_init(&progress, quiet);
	run.options = (FstDemoOptions){
	    .workspace = workspace,
	    .n_devices = (guint)devices,
	    .baud_rate = (guint)baud,
	    .profile = profile != NULL ? profile : "aws-iot-ecc",
	};
	run.progress = &progress;
	run.cancellable = cancellable;
	run.loop = loop;

	sigint_id = g_unix_signal_add(SIGINT, fst_cli_signal_cb, cancellable);
	sigterm_id = g_unix_signal_add(SIGTERM, fst_cli_signal_cb, cancellable);
	started = g_get_monotonic_time();
	thread = g_thread_new("fst-demo", fst_cli_demo_thread, &run);
	g_main_loop_run(loop);
	g_thread_join(thread);
	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);

	if (run.results == NULL) {
		g_printerr("fleetstation demo: %s\n", run.error->message);
		rc = fst_cli_exit_for_error(run.error);
		g_clear_error(&run.error);
	} else {
		rc = fst_cli_print_summary(run.results, g_get_monotonic_time() - started, workspace);
		if (rc != FST_EXIT_OK && g_cancellable_is_cancelled(cancellable))
			rc = FST_EXIT_CANCELLED;
		g_ptr_array_unref(run.results);
	}
	fst_cli_progress_clear(&progress);
	return rc;
}

static FstExit
fst_cli_devices(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace,
	     "Workspace directory (default: $XDG_DATA_HOME/fleetstation)", "DIR"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- list the devices in the database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autofree gchar *db_path = NULL;

	g_set_prgname("fleetstation devices");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fleetstation devices: %s\n", error->message);
		return FST_EXIT_USAGE;
	}
	if (workspace == NULL)
		workspace = fst_station_default_workspace();
	db_path = g_build_filename(workspace, "station.db", NULL);
	if (!g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		g_printerr("fleetstation devices: no database at %s: run fleetstation demo first\n",
			   db_path);
		return FST_EXIT_CONFIG;
	}
	db = fst_db_open(db_path, &error);
	if (db == NULL || (devices = fst_db_list_devices(db, &error)) == NULL) {
		g_printerr("fleetstation devices: %s\n", error->message);
		return fst_cli_exit_for_error(error);
	}
	g_print("%-22s %-14s %-12s %-40s %s\n", "DEVICE", "MODEL", "STATE", "SERIAL", "CERT STATE");
	for (guint i = 0; i < devices->len; i++) {
		FstDbDevice *d = g_ptr_array_index(devices, i);
		g_print("%-22s %-14s %-12s %-40s %s\n",
			d->uid,
			d->model,
			d->state,
			d->cert != NULL ? d->cert->serial_hex : "-",
			d->cert != NULL ? fst_cert_state_to_string(d->cert->state) : "-");
	}
	return FST_EXIT_OK;
}

static void
fst_cli_usage(FILE *out)
{
	fprintf(out,
		"Usage: fleetstation COMMAND [OPTION...]\n"
		"\n"
		"Factory provisioning station for IoT device identities.\n"
		"\n"
		"Commands:\n"
		"  demo      provision simulated devices end to end (the main job)\n"
		"  devices   list the devices recorded in the workspace database\n"
		"  help      show this help\n"
		"\n"
		"Run `fleetstation COMMAND --help` for a command's options.\n"
		"Options: --version\n"
		"\n" FST_CLI_EXIT_CODES);
}

int
main(int argc, char **argv)
{
	const gchar *command;

	setlocale(LC_ALL, "");
	if (argc < 2) {
		fst_cli_usage(stderr);
		return FST_EXIT_USAGE;
	}
	command = argv[1];
	if (g_strcmp0(command, "--version") == 0 || g_strcmp0(command, "version") == 0) {
		g_print("fleetstation %s\n", FST_VERSION);
		return FST_EXIT_OK;
	}
	if (g_strcmp0(command, "help") == 0 || g_strcmp0(command, "--help") == 0 ||
	    g_strcmp0(command, "-h") == 0) {
		fst_cli_usage(stdout);
		return FST_EXIT_OK;
	}
	if (g_strcmp0(command, "demo") == 0)
		return fst_cli_demo(argc - 1, argv + 1);
	if (g_strcmp0(command, "devices") == 0)
		return fst_cli_devices(argc - 1, argv + 1);
	g_printerr("fleetstation: unknown command %s (see fleetstation help)\n", command);
	return FST_EXIT_USAGE;
}
