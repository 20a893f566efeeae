/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation watch: a watch job, provisioning each device as it is plugged
 * in (fst-watch.c) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-watch.h"

FstExit
fst_cli_watch(gint argc, gchar **argv)
{
	g_auto(FstCliJobOptions) opts = {0};
	gint poll_ms = FST_WATCH_DEFAULT_POLL_MS;
	const GOptionEntry entries[] = {{"poll",
	                                 0,
	                                 0,
	                                 G_OPTION_ARG_INT,
	                                 &poll_ms,
	                                 "Scan the ports every MS milliseconds (default 250)",
	                                 "MS"},
	                                {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- provision each device as it is plugged in");
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
	    "Waits for devices: a port path appearing (or pointing at a new device node) that\n"
	    "matches a --port pattern, or a serial port of a known USB id; USB hotplug wakes\n"
	    "the scan. Each arrival is provisioned at once, several at a time; devices already\n"
	    "provisioned are skipped. Runs until Ctrl-C or SIGTERM, which lets the devices in\n"
	    "flight finish (a second one aborts them). Exit 0 when no device failed.");
	fst_cli_job_options_add(
	    &opts,
	    context,
	    FST_CLI_JOB_OPTION_PORTS,
	    "A port path or pattern to watch, * and ? in the last part (e.g. "
	    "/dev/ttyUSB*); repeat it (default: the workspace's ports, else every "
	    "serial port of a known USB id)");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "watch", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation watch: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (poll_ms < 10 || poll_ms > 60000) {
		g_printerr("fleetstation watch: --poll must be 10 to 60000\n");
		return FST_EXIT_USAGE;
	}
	rc = fst_cli_job_options_resolve(&opts, "watch", &error);
	if (rc != FST_EXIT_OK)
		return error != NULL ? fst_cli_fail("watch", opts.json, error) : rc;
	if (opts.profile == NULL) {
		g_printerr("fleetstation watch: no profile: give --profile NAME, or set one with "
		           "fleetstation init --profile NAME\n");
		return FST_EXIT_USAGE;
	}

	fst_cli_progress_init(&progress, opts.quiet);
	progress.json = opts.json;
	if (!opts.quiet && !opts.json)
		g_printerr("watching for devices; Ctrl-C to stop\n");
	fst_cli_job_options_to_job(&opts, &job_options);
	job_options.poll_ms = (guint)poll_ms;
	job = fst_job_new(FST_JOB_KIND_WATCH, &job_options);
	/* a watch runs for a shift: its table keeps the failures only */
	ok = fst_cli_job_run(job, &progress, results, FALSE, &error);
	summary = fst_job_get_summary(job);
	/* a signal is how a watch ends: only an abort counts as cancelled; a
	 * watch that stopped itself has results to show before its error */
	if (ok || summary->halted)
		rc = fst_cli_print_results(&progress, "watch", results, job, summary->aborted);
	if (!ok)
		rc = fst_cli_fail("watch", opts.json, error);
	fst_cli_progress_clear(&progress);
	return rc;
}
