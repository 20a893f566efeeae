/* fleetstation watch: provision each device as it is plugged in (fst-watch.c) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-settings.h"
#include "fst-station.h"
#include "fst-watch.h"

typedef struct {
	const gchar *workspace;
	const gchar *profile;
	const gchar *lot;
	const gchar *operator_name;
	FstWatchOptions options;
	FstCliProgress *progress;
	GPtrArray *results; /* (element-type FstProvisionResult) */
	GError *error;
} FstCliWatchRun;

static void
fst_cli_watch_result_cb(const FstProvisionResult *result, gpointer user_data)
{
	FstCliWatchRun *run = user_data;
	FstProvisionResult *copy = g_new0(FstProvisionResult, 1);

	copy->port = g_strdup(result->port);
	copy->uid = g_strdup(result->uid);
	copy->model = g_strdup(result->model);
	copy->serial_hex = g_strdup(result->serial_hex);
	copy->aws_cert_id = g_strdup(result->aws_cert_id);
	copy->roots = g_strdup(result->roots);
	copy->error = result->error != NULL ? g_error_copy(result->error) : NULL;
	copy->elapsed_us = result->elapsed_us;
	g_ptr_array_add(run->results, copy);
	if (run->progress->json) {
		g_autoptr(JsonNode) node = fst_cli_result_to_json(result);
		json_object_set_string_member(json_node_get_object(node), "event", "result");
		fst_cli_print_json(node);
	}
}

/* the engine gives one user_data to both callbacks: the run */
static void
fst_cli_watch_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstCliWatchRun *run = user_data;
	fst_cli_progress_cb(progress, run->progress);
}

static gpointer
fst_cli_watch_job(gpointer data)
{
	FstCliWatchRun *run = data;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(FstStation) station =
	    fst_station_open_run(run->workspace,
				 run->profile,
				 run->lot,
				 run->operator_name,
				 &profile,
				 &run->error);

	if (station == NULL)
		return NULL;
	if (!fst_watch_run(station,
			   profile,
			   &run->options,
			   fst_cli_watch_progress_cb,
			   fst_cli_watch_result_cb,
			   run,
			   &run->error))
		return NULL;
	return GINT_TO_POINTER(1);
}

FstExit
fst_cli_watch(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *profile = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *operator_name = NULL;
	g_auto(GStrv) ports = NULL;
	gint baud = 0;
	gint poll_ms = FST_WATCH_DEFAULT_POLL_MS;
	gboolean json = FALSE;
	gboolean quiet = FALSE;
	gboolean verbose = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)", "DIR"},
	    {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile,
	     "Profile name or file (default: the workspace's)", "NAME"},
	    {"port", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &ports,
	     "A port path or pattern to watch, * and ? in the last part (e.g. /dev/ttyUSB*); "
	     "repeat it (default: the workspace's ports, else every serial port of a known "
	     "USB id)", "PATTERN"},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot,
	     "Production lot (default: the workspace's)", "LOT"},
	    {"operator", 0, 0, G_OPTION_ARG_STRING, &operator_name,
	     "Who runs the station, recorded with every device (default: "
	     "$FLEETSTATION_OPERATOR, else the login name)", "NAME"},
	    {"baud", 'b', 0, G_OPTION_ARG_INT, &baud,
	     "Line rate in bit/s (default: the workspace's, else 115200)", "RATE"},
	    {"poll", 0, 0, G_OPTION_ARG_INT, &poll_ms,
	     "Scan the ports every MS milliseconds (default 250)", "MS"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     "One JSON object per event line: progress, result, then a summary", NULL},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
	     "Print only failures and the count line", NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print informational messages", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision each device as it is plugged in");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSettings) settings = NULL;
	g_autoptr(GPtrArray) results =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);
	g_autofree gchar *workspace = NULL;
	FstCliProgress progress = {0};
	FstCliSignals signals = {0};
	FstCliWatchRun run = {0};
	gint64 started;
	FstExit rc;

	g_option_context_set_summary(
	    context,
	    "Waits for devices: a port path appearing (or pointing at a new device node) that\n"
	    "matches a --port pattern, or a serial port of a known USB id; USB hotplug wakes\n"
	    "the scan. Each arrival is provisioned at once, several at a time; devices already\n"
	    "provisioned are skipped. Runs until Ctrl-C or SIGTERM, which lets the devices in\n"
	    "flight finish (a second one aborts them). Exit 0 when no device failed.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (!fst_cli_parse(context, "watch", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation watch: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (baud < 0 || (baud > 0 && (baud < 1200 || baud > 4000000)) || poll_ms < 10 ||
	    poll_ms > 60000) {
		g_printerr("fleetstation watch: --baud must be 1200 to 4000000 and --poll 10 to "
			   "60000\n");
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(verbose);
	workspace = fst_cli_workspace(workspace_opt);
	fst_cli_secret_setup(workspace);
	settings = fst_settings_load(workspace, &error);
	if (settings == NULL)
		return fst_cli_fail("watch", json, error);
	fst_settings_fill(settings, &profile, &lot, &baud, &ports);
	if (profile == NULL) {
		g_printerr("fleetstation watch: no profile: give --profile NAME, or set one with "
			   "fleetstation init --profile NAME\n");
		return FST_EXIT_USAGE;
	}

	fst_cli_progress_init(&progress, quiet);
	progress.json = json;
	fst_cli_signals_install(&signals, quiet || json);
	if (!quiet && !json)
		g_printerr("watching for devices; Ctrl-C to stop\n");
	run.workspace = workspace;
	run.profile = profile;
	run.lot = lot;
	run.operator_name = operator_name;
	run.progress = &progress;
	run.results = results;
	run.options = (FstWatchOptions){
	    .patterns = (const gchar *const *)ports,
	    .baud_rate = (guint)baud,
	    .poll_ms = (guint)poll_ms,
	    .stop = signals.stop,
	    .abort = signals.abort,
	};
	started = g_get_monotonic_time();
	if (fst_cli_run(fst_cli_watch_job, &run) == NULL) {
		rc = fst_cli_fail("watch", json, run.error);
		g_clear_error(&run.error);
	} else {
		/* a signal is how a watch ends: only an abort counts as cancelled */
		rc = fst_cli_print_results(&progress,
					   "watch",
					   results,
					   g_get_monotonic_time() - started,
					   g_cancellable_is_cancelled(signals.abort));
	}
	fst_cli_signals_remove(&signals);
	fst_cli_progress_clear(&progress);
	return rc;
}
