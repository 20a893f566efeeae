/* fleetstation demo: the main job (see fst-demo.c) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-demo.h"
#include "fst-error.h"
#include "fst-station.h"

FstExit
fst_cli_demo(gint argc, gchar **argv)
{
	g_auto(FstCliJobOptions) opts = {0};
	gint devices = 4;
	const GOptionEntry entries[] = {
	    {"devices", 'n', 0, G_OPTION_ARG_INT, &devices,
	     "How many simulated devices (default: 4)", "N"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision simulated devices end to end");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) results =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);
	g_autoptr(FstJob) job = NULL;
	FstJobOptions job_options;
	FstCliProgress progress = {0};
	FstExit rc;

	g_option_context_set_summary(
	    context,
	    "Creates a workspace with a SQLite database and a demo PKI (root and issuing CA,\n"
	    "ECDSA P-256, the issuing key encrypted at rest), starts N fleetstation-devsim\n"
	    "processes on pseudo-terminals, and provisions them in parallel over the serial\n"
	    "transport: identify, key generation and CSR on the device, certificate issue,\n"
	    "burn of the certificate, CA chain and root CAs, read-back and compare.\n"
	    "Default workspace: $XDG_DATA_HOME/fleetstation; default profile: aws-iot-ecc;\n"
	    "default line rate: 115200.");
	fst_cli_job_options_add(&opts, context, FST_CLI_JOB_OPTION_NONE, NULL);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "demo", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation demo: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (devices < 1 || devices > FST_DEMO_MAX_DEVICES || opts.baud < 0) {
		g_printerr("fleetstation demo: --devices must be 1 to %d and --baud positive\n",
			   FST_DEMO_MAX_DEVICES);
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(opts.verbose);
	opts.workspace_path = opts.workspace != NULL ? g_strdup(opts.workspace)
						     : fst_station_default_workspace();
	if (opts.profile == NULL)
		opts.profile = g_strdup("aws-iot-ecc");
	if (opts.baud == 0)
		opts.baud = 115200;
	fst_cli_secret_setup(opts.workspace_path);

	fst_cli_progress_init(&progress, opts.quiet);
	progress.json = opts.json;
	fst_cli_job_options_to_job(&opts, &job_options);
	job_options.n_devices = (guint)devices;
	job = fst_job_new(FST_JOB_KIND_DEMO, &job_options);
	if (!fst_cli_job_run(job, &progress, results, TRUE, &error)) {
		rc = fst_cli_fail("demo", opts.json, error);
	} else {
		const FstJobSummary *summary = fst_job_get_summary(job);
		rc = fst_cli_print_results(&progress, "demo", results, summary, summary->stopped);
		if (!opts.json)
			g_print("records in %s/station.db\n", opts.workspace_path);
	}
	fst_cli_progress_clear(&progress);
	return rc;
}
