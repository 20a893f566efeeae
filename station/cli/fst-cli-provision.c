/* fleetstation provision: a gang of ports (fst-gang.c), with the workspace
 * defaults (fst-settings.c) under the options */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-gang.h"
#include "fst-settings.h"
#include "fst-station.h"

typedef struct {
	const gchar *workspace;
	const gchar *profile;
	const gchar *lot;
	const gchar *operator_name;
	gchar **ports; /* (unowned) */
	FstGangOptions options;
	FstCliProgress *progress;
	GError *error;
} FstCliProvisionRun;

/* opens the station and runs the gang; a failure of the run itself (CA, database,
 * profile) is run->error, a device's failure is in its result */
static gpointer
fst_cli_provision_job(gpointer data)
{
	FstCliProvisionRun *run = data;
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
	return fst_gang_run(station,
			    profile,
			    (const gchar *const *)run->ports,
			    &run->options,
			    fst_cli_progress_cb,
			    run->progress);
}

FstExit
fst_cli_provision(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *profile = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *operator_name = NULL;
	g_auto(GStrv) ports = NULL;
	gboolean all_ports = FALSE;
	gboolean trust_only = FALSE;
	gint count = 0;
	gint baud = 0;
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
	     "A port of the gang; repeat it (default: the workspace's)", "PORT"},
	    {"all-ports", 'a', 0, G_OPTION_ARG_NONE, &all_ports,
	     "Every serial port of a known USB id (see fleetstation ports)", NULL},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot,
	     "Production lot recorded with each device (default: the workspace's)", "LOT"},
	    {"operator", 0, 0, G_OPTION_ARG_STRING, &operator_name,
	     "Who runs the station, recorded with every device (default: "
	     "$FLEETSTATION_OPERATOR, else the login name)", "NAME"},
	    {"count", 'n', 0, G_OPTION_ARG_INT, &count,
	     "Provision N devices in all: each port takes the next board put on it "
	     "(default: one per port)", "N"},
	    {"trust-only", 0, 0, G_OPTION_ARG_NONE, &trust_only,
	     "Rewrite only the root CAs (the profile's trust selection) of devices that are "
	     "provisioned already; nothing else on them changes", NULL},
	    {"baud", 'b', 0, G_OPTION_ARG_INT, &baud,
	     "Line rate in bit/s (default: the workspace's, else 115200)", "RATE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     "One JSON object per event line, then a summary object", NULL},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
	     "Print only failures and the count line", NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print informational messages", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision the devices on a gang of ports");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSettings) settings = NULL;
	g_autoptr(GPtrArray) results = NULL;
	g_autofree gchar *workspace = NULL;
	FstCliProgress progress = {0};
	FstCliSignals signals = {0};
	FstCliProvisionRun run = {0};
	gint64 started;
	FstExit rc;

	g_option_context_set_summary(
	    context,
	    "Provisions the device on each port, all ports at once (one worker per port):\n"
	    "identify, key and CSR on the device, certificate from the profile, committed to\n"
	    "the database, burned with the CA chain and root CAs, read back and compared.\n"
	    "Ctrl-C or SIGTERM starts no new device and lets the devices in flight finish;\n"
	    "a second Ctrl-C aborts them (recorded as failed, never as done).\n"
	    "A device that comes back provisioned is refused with its history, or given a\n"
	    "new certificate, as the profile's on-return says; --trust-only (or a profile\n"
	    "with job=trust-only) rewrites just the root CAs of provisioned devices.\n"
	    "Output: progress bars on a terminal, `PORT DEVICE STEP DETAIL` lines when piped,\n"
	    "JSON lines with --json; colour only on a terminal without NO_COLOR.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (!fst_cli_parse(context, "provision", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation provision: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (count < 0 || baud < 0 || (baud > 0 && (baud < 1200 || baud > 4000000))) {
		g_printerr("fleetstation provision: --count must be positive and --baud 1200 to "
			   "4000000\n");
		return FST_EXIT_USAGE;
	}
	if (all_ports && ports != NULL) {
		g_printerr("fleetstation provision: give --port or --all-ports, not both\n");
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(verbose);
	workspace = fst_cli_workspace(workspace_opt);
	fst_cli_secret_setup(workspace);

	/* options win over the workspace defaults */
	settings = fst_settings_load(workspace, &error);
	if (settings == NULL)
		return fst_cli_fail("provision", json, error);
	fst_settings_fill(settings, &profile, &lot, &baud, all_ports ? NULL : &ports);
	if (all_ports) {
		ports = fst_cli_all_ports(&error);
		if (ports == NULL)
			return fst_cli_fail("provision", json, error);
	}
	if (profile == NULL) {
		g_printerr("fleetstation provision: no profile: give --profile NAME, or set one with "
			   "fleetstation init --profile NAME\n");
		return FST_EXIT_USAGE;
	}
	if (ports == NULL || ports[0] == NULL) {
		g_printerr("fleetstation provision: no port: give --port PORT (repeat it for a "
			   "gang) or --all-ports%s\n",
			   all_ports ? " (no serial port of a known USB id is plugged in; see "
				       "fleetstation ports)"
				     : "");
		return all_ports ? FST_EXIT_CONFIG : FST_EXIT_USAGE;
	}

	fst_cli_progress_init(&progress, quiet);
	progress.json = json;
	fst_cli_signals_install(&signals, quiet || json);
	run.workspace = workspace;
	run.profile = profile;
	run.lot = lot;
	run.operator_name = operator_name;
	run.ports = ports;
	run.progress = &progress;
	run.options = (FstGangOptions){
	    .baud_rate = (guint)baud,
	    .count = (guint)count,
	    .stop = signals.stop,
	    .abort = signals.abort,
	    .trust_only = trust_only,
	};
	started = g_get_monotonic_time();
	results = fst_cli_run(fst_cli_provision_job, &run);
	if (results == NULL) {
		rc = fst_cli_fail("provision", json, run.error);
		g_clear_error(&run.error);
	} else {
		rc = fst_cli_print_results(&progress,
					   "provision",
					   results,
					   g_get_monotonic_time() - started,
					   g_cancellable_is_cancelled(signals.stop));
	}
	fst_cli_signals_remove(&signals);
	fst_cli_progress_clear(&progress);
	return rc;
}
