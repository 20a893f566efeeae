/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation provision: a provisioning job over a gang of ports, with the
 * workspace defaults (fst-settings.c) under the options */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"

FstExit
fst_cli_provision(gint argc, gchar **argv)
{
	g_auto(FstCliJobOptions) opts = {0};
	gboolean trust_only = FALSE;
	g_autofree gchar *dialect = NULL;
	gint count = 0;
	const GOptionEntry entries[] = {
	    {"count",
	     'n',
	     0,
	     G_OPTION_ARG_INT,
	     &count,
	     "Provision N devices in all: each port takes the next board put on it "
	     "(default: one per port)",
	     "N"},
	    {"trust-only",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &trust_only,
	     "Rewrite only the root CAs (the profile's trust selection) of devices that are "
	     "provisioned already; nothing else on them changes",
	     NULL},
	    {"dialect",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &dialect,
	     "The dialect every port speaks (default: as known-devices.conf says for the "
	     "port's USB id, else fsp)",
	     "NAME"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision the devices on a gang of ports");
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
	fst_cli_job_options_add(
	    &opts,
	    context,
	    FST_CLI_JOB_OPTION_PORTS | FST_CLI_JOB_OPTION_ALL_PORTS,
	    "A port of the gang, or lane:NAME for the port at its jig lane now; repeat it "
	    "(default: the workspace's)");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "provision", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation provision: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (count < 0) {
		g_printerr("fleetstation provision: --count must be positive\n");
		return FST_EXIT_USAGE;
	}
	rc = fst_cli_job_options_resolve(&opts, "provision", &error);
	if (rc != FST_EXIT_OK)
		return error != NULL ? fst_cli_fail("provision", opts.json, error) : rc;
	if (opts.profile == NULL) {
		g_printerr(
		    "fleetstation provision: no profile: give --profile NAME, or set one with "
		    "fleetstation init --profile NAME\n");
		return FST_EXIT_USAGE;
	}
	if (opts.ports == NULL || opts.ports[0] == NULL) {
		g_printerr("fleetstation provision: no port: give --port PORT (repeat it for a "
		           "gang) or --all-ports%s\n",
		           opts.all_ports ? " (no serial port of a known USB id is plugged in; see "
		                            "fleetstation ports)"
		                          : "");
		return opts.all_ports ? FST_EXIT_CONFIG : FST_EXIT_USAGE;
	}

	fst_cli_progress_init(&progress, opts.quiet);
	progress.json = opts.json;
	fst_cli_job_options_to_job(&opts, &job_options);
	job_options.count = (guint)count;
	job_options.dialect = dialect;
	job = fst_job_new(trust_only ? FST_JOB_KIND_TRUST_ONLY : FST_JOB_KIND_PROVISION,
	                  &job_options);
	/* a long run keeps only its failures for the table; the counts are the job's */
	ok = fst_cli_job_run(job, &progress, results, count == 0, &error);
	summary = fst_job_get_summary(job);
	/* a line that stopped itself has results to show before its error */
	if (ok || summary->halted) {
		fst_cli_results_sort(results, (const gchar *const *)opts.ports);
		rc = fst_cli_print_results(&progress, "provision", results, job, summary->stopped);
	}
	if (!ok)
		rc = fst_cli_fail("provision", opts.json, error);
	fst_cli_progress_clear(&progress);
	return rc;
}
