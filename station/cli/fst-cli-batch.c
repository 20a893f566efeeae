/* fleetstation batch MANIFEST: a manifest run as gangs, reported per row
 * (fst-batch.c has the format) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-batch.h"
#include "fst-cli.h"
#include "fst-error.h"
#include "fst-settings.h"
#include "fst-station.h"

typedef struct {
	const gchar *workspace;
	const gchar *operator_name;
	FstBatch *batch;
	FstBatchOptions options;
	FstCliProgress *progress;
	GError *error;
} FstCliBatchRun;

static gpointer
fst_cli_batch_job(gpointer data)
{
	FstCliBatchRun *run = data;
	g_autoptr(FstStation) station = fst_station_open(run->workspace, &run->error);
	if (station == NULL)
		return NULL;
	if (run->operator_name != NULL &&
	    !fst_station_set_operator(station, run->operator_name, &run->error))
		return NULL;
	if (!fst_batch_run(run->batch,
			   station,
			   &run->options,
			   fst_cli_progress_cb,
			   run->progress,
			   &run->error))
		return NULL;
	return GINT_TO_POINTER(1);
}

static FstExit
fst_cli_batch_report(FstCliProgress *progress, FstBatch *batch, gboolean cancelled)
{
	guint counts[FST_BATCH_MISSING + 1] = {0};
	FstExit rc;

	for (guint i = 0; i < batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(batch->rows, i);
		counts[row->status]++;
	}
	if (cancelled)
		rc = FST_EXIT_CANCELLED;
	else if (counts[FST_BATCH_FAILED] + counts[FST_BATCH_MISSING] + counts[FST_BATCH_PENDING] > 0)
		rc = FST_EXIT_DEVICES_FAILED;
	else
		rc = FST_EXIT_OK;

	if (progress->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonNode) node = NULL;
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "summary");
		fst_cli_json_add_string(b, "command", "batch");
		fst_cli_json_add_string(b, "manifest", batch->path);
		for (guint s = FST_BATCH_PENDING; s <= FST_BATCH_MISSING; s++) {
			json_builder_set_member_name(b, fst_batch_status_to_string(s));
			json_builder_add_int_value(b, counts[s]);
		}
		json_builder_set_member_name(b, "cancelled");
		json_builder_add_boolean_value(b, cancelled);
		json_builder_set_member_name(b, "exit_code");
		json_builder_add_int_value(b, rc);
		json_builder_set_member_name(b, "rows");
		json_builder_begin_array(b);
		for (guint i = 0; i < batch->rows->len; i++) {
			FstBatchRow *row = g_ptr_array_index(batch->rows, i);
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "line");
			json_builder_add_int_value(b, row->line);
			fst_cli_json_add_string(b, "device", row->device != NULL ? row->device : row->uid);
			fst_cli_json_add_string(b, "port", row->port);
			fst_cli_json_add_string(b, "profile", row->profile);
			fst_cli_json_add_string(b, "lot", row->lot);
			fst_cli_json_add_string(b, "status", fst_batch_status_to_string(row->status));
			fst_cli_json_add_string(b, "serial", row->serial_hex);
			fst_cli_json_add_string(b,
						"error_code",
						row->error != NULL && row->error->domain == FST_ERROR
						    ? fst_error_code_to_string(row->error->code)
						    : NULL);
			fst_cli_json_add_string(b, "error", row->error != NULL ? row->error->message : NULL);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		node = json_builder_get_root(b);
		fst_cli_print_json(node);
		return rc;
	}
	g_print("\n%-5s %-22s %-20s %-12s %s\n", "LINE", "DEVICE", "PORT", "STATUS", "SERIAL / ERROR");
	for (guint i = 0; i < batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(batch->rows, i);
		const gchar *device = row->device != NULL ? row->device : row->uid;
		if (progress->quiet &&
		    (row->status == FST_BATCH_DONE || row->status == FST_BATCH_PROVISIONED))
			continue;
		g_print("%-5u %-22s %-20s %-12s %s\n",
			row->line,
			device != NULL ? device : "-",
			row->port != NULL ? row->port : "-",
			fst_batch_status_to_string(row->status),
			row->error != NULL ? row->error->message
					   : (row->serial_hex != NULL ? row->serial_hex : ""));
	}
	g_print("%u provisioned, %u done before, %u failed, %u missing, %u not run%s\n",
		counts[FST_BATCH_PROVISIONED],
		counts[FST_BATCH_DONE],
		counts[FST_BATCH_FAILED],
		counts[FST_BATCH_MISSING],
		counts[FST_BATCH_PENDING],
		cancelled ? " (stopped by a signal)" : "");
	return rc;
}

FstExit
fst_cli_batch(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *profile = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *operator_name = NULL;
	g_auto(GStrv) ports = NULL;
	gboolean all_ports = FALSE;
	gint baud = 0;
	gboolean json = FALSE;
	gboolean quiet = FALSE;
	gboolean verbose = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)", "DIR"},
	    {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile,
	     "Profile for rows that name none (default: the workspace's)", "NAME"},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot,
	     "Lot for rows that name none (default: the workspace's)", "LOT"},
	    {"operator", 0, 0, G_OPTION_ARG_STRING, &operator_name,
	     "Who runs the station, recorded with every device (default: "
	     "$FLEETSTATION_OPERATOR, else the login name)", "NAME"},
	    {"port", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &ports,
	     "Where to look for rows that give a device and no port; repeat it", "PORT"},
	    {"all-ports", 'a', 0, G_OPTION_ARG_NONE, &all_ports,
	     "Look on every serial port of a known USB id", NULL},
	    {"baud", 'b', 0, G_OPTION_ARG_INT, &baud,
	     "Line rate in bit/s (default: the workspace's, else 115200)", "RATE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     "One JSON object per event line, then a summary with every row", NULL},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
	     "Print only the rows not done and the count line", NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print informational messages", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("MANIFEST - provision the devices of a manifest");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSettings) settings = NULL;
	g_autoptr(FstBatch) batch = NULL;
	g_autofree gchar *workspace = NULL;
	FstCliProgress progress = {0};
	FstCliSignals signals = {0};
	FstCliBatchRun run = {0};
	FstExit rc;

	g_option_context_set_summary(
	    context,
	    "MANIFEST is CSV (a header naming device,port,profile,lot columns, then one row\n"
	    "per line) or JSON ({\"profile\":..., \"lot\":..., \"devices\": [{\"device\":...,\n"
	    "\"port\":...}, ...]}). Rows whose device is provisioned already are skipped, so\n"
	    "running a manifest again resumes it. A device on a row's port that is not the\n"
	    "row's device, or a device that is in no row, is refused. See README.md.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (!fst_cli_parse(context, "batch", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2) {
		g_printerr("fleetstation batch: give one manifest file\n");
		return FST_EXIT_USAGE;
	}
	if (baud < 0 || (baud > 0 && (baud < 1200 || baud > 4000000))) {
		g_printerr("fleetstation batch: --baud must be 1200 to 4000000\n");
		return FST_EXIT_USAGE;
	}
	if (all_ports && ports != NULL) {
		g_printerr("fleetstation batch: give --port or --all-ports, not both\n");
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(verbose);
	workspace = fst_cli_workspace(workspace_opt);
	fst_cli_secret_setup(workspace);
	batch = fst_batch_load(argv[1], &error);
	if (batch == NULL)
		return fst_cli_fail("batch", json, error);
	settings = fst_settings_load(workspace, &error);
	if (settings == NULL)
		return fst_cli_fail("batch", json, error);
	fst_settings_fill(settings, &profile, &lot, &baud, all_ports ? NULL : &ports);
	if (all_ports) {
		ports = fst_cli_all_ports(&error);
		if (ports == NULL)
			return fst_cli_fail("batch", json, error);
	}

	fst_cli_progress_init(&progress, quiet);
	progress.json = json;
	fst_cli_signals_install(&signals, quiet || json);
	run.workspace = workspace;
	run.operator_name = operator_name;
	run.batch = batch;
	run.progress = &progress;
	run.options = (FstBatchOptions){
	    .profile = profile,
	    .lot = lot,
	    .ports = (const gchar *const *)ports,
	    .baud_rate = (guint)baud,
	    .stop = signals.stop,
	    .abort = signals.abort,
	};
	if (fst_cli_run(fst_cli_batch_job, &run) == NULL) {
		rc = fst_cli_fail("batch", json, run.error);
		g_clear_error(&run.error);
	} else {
		rc = fst_cli_batch_report(&progress, batch, g_cancellable_is_cancelled(signals.stop));
	}
	fst_cli_signals_remove(&signals);
	fst_cli_progress_clear(&progress);
	return rc;
}
