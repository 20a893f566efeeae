/* fleetstation demo: the main job (see fst-demo.c) */

#define G_LOG_DOMAIN "FstCli"

#include <glib-unix.h>
#include <signal.h>

#include "fst-cli.h"
#include "fst-demo.h"
#include "fst-error.h"
#include "fst-station.h"

/* the run happens in a worker thread while the main thread waits for signals */
typedef struct {
	FstDemoOptions options;
	FstCliProgress *progress;
	GCancellable *cancellable;
	GMainLoop *loop;
	GPtrArray *results;
	GError *error;
} FstCliDemoRun;

/* quits on the main thread: a quit before g_main_loop_run() would be lost */
static gboolean
fst_cli_demo_quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

static gpointer
fst_cli_demo_thread(gpointer data)
{
	FstCliDemoRun *run = data;
	run->results = fst_demo_run(&run->options,
				    fst_cli_progress_cb,
				    run->progress,
				    run->cancellable,
				    &run->error);
	g_idle_add(fst_cli_demo_quit_cb, run->loop);
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

FstExit
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
	g_option_context_set_description(context, FST_CLI_SECRETS_HELP FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
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
	fst_cli_secret_setup(workspace);

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

