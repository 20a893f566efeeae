/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation batch MANIFEST: a manifest run as gangs, reported per row
 * (fst-batch.c has the format) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-batch.h"
#include "fst-cli.h"
#include "fst-error.h"

static FstExit
fst_cli_batch_report(FstCliProgress *progress, FstJob *job, gboolean cancelled)
{
	FstBatch *batch = fst_job_get_batch(job);
	g_autoptr(GPtrArray) groups = fst_job_list_failure_groups(job);
	guint counts[FST_BATCH_MISSING + 1] = {0};
	FstExit rc;

	for (guint i = 0; i < batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(batch->rows, i);
		counts[row->status]++;
	}
	if (fst_job_get_summary(job)->halted)
		rc = fst_cli_exit_for_error(fst_job_get_halt_error(job));
	else if (cancelled)
		rc = FST_EXIT_CANCELLED;
	else if (counts[FST_BATCH_FAILED] + counts[FST_BATCH_MISSING] + counts[FST_BATCH_PENDING] >
	         0)
		rc = FST_EXIT_DEVICES_FAILED;
	else
		rc = FST_EXIT_OK;

	if (progress->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
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
			fst_cli_json_add_string(
			    b, "device", row->device != NULL ? row->device : row->uid);
			fst_cli_json_add_string(b, "port", row->port);
			fst_cli_json_add_string(b, "profile", row->profile);
			fst_cli_json_add_string(b, "lot", row->lot);
			fst_cli_json_add_string(
			    b, "status", fst_batch_status_to_string(row->status));
			fst_cli_json_add_string(b, "serial", row->serial_hex);
			fst_cli_json_add_string(b,
			                        "error_code",
			                        row->error != NULL &&
			                                row->error->domain == FST_ERROR
			                            ? fst_error_code_to_string(row->error->code)
			                            : NULL);
			fst_cli_json_add_string(
			    b, "error", row->error != NULL ? row->error->message : NULL);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		fst_cli_json_add_failure_groups(b, groups);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return rc;
	}
	g_print(
	    "\n%-5s %-22s %-20s %-12s %s\n", "LINE", "DEVICE", "PORT", "STATUS", "SERIAL / ERROR");
	for (guint i = 0; i < batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(batch->rows, i);
		const gchar *device = row->device != NULL ? row->device : row->uid;
		if (progress->quiet &&
		    (row->status == FST_BATCH_SKIPPED || row->status == FST_BATCH_PROVISIONED))
			continue;
		g_print("%-5u %-22s %-20s %-12s %s\n",
		        row->line,
		        device != NULL ? device : "-",
		        row->port != NULL ? row->port : "-",
		        fst_batch_status_to_string(row->status),
		        row->error != NULL ? row->error->message
		                           : (row->serial_hex != NULL ? row->serial_hex : ""));
	}
	fst_cli_print_failure_groups(groups);
	g_print("%u provisioned, %u failed, %u skipped, %u missing, %u not run%s\n",
	        counts[FST_BATCH_PROVISIONED],
	        counts[FST_BATCH_FAILED],
	        counts[FST_BATCH_SKIPPED],
	        counts[FST_BATCH_MISSING],
	        counts[FST_BATCH_PENDING],
	        cancelled ? " (stopped by a signal)" : "");
	return rc;
}

FstExit
fst_cli_batch(gint argc, gchar **argv)
{
	g_auto(FstCliJobOptions) opts = {0};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("MANIFEST - provision the devices of a manifest");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch = NULL;
	g_autoptr(FstJob) job = NULL;
	FstJobOptions job_options;
	FstCliProgress progress = {0};
	FstExit rc;
	gboolean ok;

	g_option_context_set_summary(
	    context,
	    "MANIFEST is CSV (a header naming device,port,profile,lot columns, then one row\n"
	    "per line) or JSON ({\"profile\":..., \"lot\":..., \"devices\": [{\"device\":...,\n"
	    "\"port\":...}, ...]}). Rows whose device is provisioned already are skipped, so\n"
	    "running a manifest again resumes it. A device on a row's port that is not the\n"
	    "row's device, or a device that is in no row, is refused. --profile and --lot\n"
	    "apply to the rows that name none. See README.md.");
	fst_cli_job_options_add(&opts,
	                        context,
	                        FST_CLI_JOB_OPTION_PORTS | FST_CLI_JOB_OPTION_ALL_PORTS,
	                        "Where to look for rows that give a device and no port; repeat it");
	if (!fst_cli_parse(context, "batch", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2) {
		g_printerr("fleetstation batch: give one manifest file\n");
		return FST_EXIT_USAGE;
	}
	batch = fst_batch_load(argv[1], &error);
	if (batch == NULL)
		return fst_cli_fail("batch", opts.json, error);
	rc = fst_cli_job_options_resolve(&opts, "batch", &error);
	if (rc != FST_EXIT_OK)
		return error != NULL ? fst_cli_fail("batch", opts.json, error) : rc;

	fst_cli_progress_init(&progress, opts.quiet);
	progress.json = opts.json;
	fst_cli_job_options_to_job(&opts, &job_options);
	job = fst_job_new(FST_JOB_KIND_BATCH, &job_options);
	fst_job_set_batch(job, g_steal_pointer(&batch));
	ok = fst_cli_job_run(job, &progress, NULL, FALSE, &error);
	/* a line that stopped itself has rows to show before its error */
	if (ok || fst_job_get_summary(job)->halted)
		rc = fst_cli_batch_report(&progress, job, fst_job_get_summary(job)->stopped);
	if (!ok)
		rc = fst_cli_fail("batch", opts.json, error);
	fst_cli_progress_clear(&progress);
	return rc;
}
