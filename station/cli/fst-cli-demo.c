/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation demo: the main job (see fst-demo.c) */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>

#include "fst-cli.h"
#include "fst-demo.h"
#include "fst-error.h"
#include "fst-station.h"

/* written in a workspace before `demo` makes its PKI there: the mark of a
 * workspace whose CA is a demo one */
#define FST_CLI_DEMO_MARKER "demo-workspace"

/* the demo's own workspace: never the production one ($FLEETSTATION_WORKSPACE
 * names that one) */
static gchar *
fst_cli_demo_default_workspace(void)
{
	const gchar *env = g_getenv("FLEETSTATION_DEMO_WORKSPACE");
	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	return g_build_filename(g_get_user_data_dir(), "fleetstation-demo", NULL);
}

/**
 * fst_cli_demo_mark_workspace:
 * @workspace: a workspace whose PKI is (about to be) a demo one
 * @error: (nullable): return location
 *
 * Marks @workspace as one `demo` may use: `demo` refuses a workspace with a
 * CA unless it carries this mark.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_cli_demo_mark_workspace(const gchar *workspace, GError **error)
{
	g_autofree gchar *marker = g_build_filename(workspace, FST_CLI_DEMO_MARKER, NULL);
	if (g_mkdir_with_parents(workspace, 0700) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create %s: %s",
		            workspace,
		            g_strerror(errno));
		return FALSE;
	}
	return g_file_set_contents_full(marker,
	                                "a workspace with a demo PKI made by fleetstation\n",
	                                -1,
	                                G_FILE_SET_CONTENTS_CONSISTENT,
	                                0600,
	                                error);
}

/* a workspace with a CA that `demo` did not make is refused, unless forced; a
 * workspace without a CA is marked as the demo's before its PKI is made */
static gboolean
fst_cli_demo_claim_workspace(const gchar *workspace, gboolean force, GError **error)
{
	g_autofree gchar *marker = g_build_filename(workspace, FST_CLI_DEMO_MARKER, NULL);
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	if (fst_station_has_ca(workspace)) {
		if (force || g_file_test(marker, G_FILE_TEST_IS_REGULAR))
			return TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s has a CA that fleetstation demo did not make: simulated devices "
		            "would get its certificates and enter its records; give another "
		            "--workspace (the demo's own is the default), or --force-workspace to "
		            "use this one anyway",
		            workspace);
		return FALSE;
	}
	/* a CA being set up there is the engine's to refuse, with nothing written */
	if (g_file_test(ca_dir, G_FILE_TEST_EXISTS))
		return TRUE;
	return fst_cli_demo_mark_workspace(workspace, error);
}

FstExit
fst_cli_demo(gint argc, gchar **argv)
{
	g_auto(FstCliJobOptions) opts = {0};
	gint devices = 4;
	gboolean force_workspace = FALSE;
	const GOptionEntry entries[] = {
	    {"devices",
	     'n',
	     0,
	     G_OPTION_ARG_INT,
	     &devices,
	     "How many simulated devices (default: 4)",
	     "N"},
	    {"force-workspace",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &force_workspace,
	     "Use a workspace whose CA the demo did not make (its records get the demo's devices)",
	     NULL},
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
	gboolean ok;
	const FstJobSummary *summary;

	g_option_context_set_summary(
	    context,
	    "Creates a workspace with a SQLite database and a demo PKI (root and issuing CA,\n"
	    "ECDSA P-256, the issuing key encrypted at rest), starts N fleetstation-devsim\n"
	    "processes on pseudo-terminals, and provisions them in parallel over the serial\n"
	    "transport: identify, key generation and CSR on the device, certificate issue,\n"
	    "burn of the certificate, CA chain and root CAs, read-back and compare.\n"
	    "Default workspace: $FLEETSTATION_DEMO_WORKSPACE, else\n"
	    "$XDG_DATA_HOME/fleetstation-demo (never $FLEETSTATION_WORKSPACE); a workspace\n"
	    "with a CA the demo did not make is refused without --force-workspace.\n"
	    "Default profile: aws-iot-ecc; default line rate: 115200.");
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
	opts.workspace_path =
	    opts.workspace != NULL ? g_strdup(opts.workspace) : fst_cli_demo_default_workspace();
	if (!fst_cli_demo_claim_workspace(opts.workspace_path, force_workspace, &error))
		return fst_cli_fail("demo", opts.json, error);
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
	ok = fst_cli_job_run(job, &progress, results, TRUE, &error);
	summary = fst_job_get_summary(job);
	/* a line that stopped itself has results to show before its error */
	if (ok || summary->halted) {
		rc = fst_cli_print_results(&progress, "demo", results, job, summary->stopped);
		if (!opts.json)
			g_print("records in %s/station.db\n", opts.workspace_path);
	}
	if (!ok)
		rc = fst_cli_fail("demo", opts.json, error);
	fst_cli_progress_clear(&progress);
	return rc;
}
