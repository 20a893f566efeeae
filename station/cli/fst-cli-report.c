/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation report: CSV, JSON and PDF exports, signed; and their verification */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-report-export.h"
#include "fst-station.h"

/* "2026-11-23", "2026-11-23T08:00:00Z" or with an offset: unix microseconds */
static gboolean
fst_cli_report_parse_time(const gchar *option, const gchar *text, gint64 *out, GError **error)
{
	if (!fst_report_parse_time(text, out, error)) {
		g_prefix_error(error, "%s ", option);
		return FALSE;
	}
	return TRUE;
}

static FstExit
fst_cli_report_verify(
    const gchar *workspace, const gchar *cert, gboolean json, gint argc, gchar **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cert_path = NULL;

	if (argc != 4)
		return fst_cli_usage_error("report verify", json, "expected FILE SIG");
	cert_path =
	    cert != NULL ? g_strdup(cert) : g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);
	if (!fst_report_verify(cert_path, argv[2], argv[3], &error)) {
		/* a signature that does not match is the answer, not a fault */
		if (g_error_matches(error, FST_ERROR, FST_ERROR_VERIFY_FAILED))
			return fst_cli_json_fail("report verify",
			                         json,
			                         fst_error_code_to_string(error->code),
			                         error->message,
			                         FST_EXIT_DEVICES_FAILED);
		return fst_cli_fail("report verify", json, error);
	}
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "file", argv[2]);
		fst_cli_json_add_string(b, "signature", argv[3]);
		fst_cli_json_add_string(b, "certificate", cert_path);
		json_builder_set_member_name(b, "verified");
		json_builder_add_boolean_value(b, TRUE);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("%s: signature good (report key %s)\n", argv[2], cert_path);
	return FST_EXIT_OK;
}

FstExit
fst_cli_report(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *format = NULL;
	g_autofree gchar *output = NULL;
	g_autofree gchar *output_alias = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *station = NULL;
	g_autofree gchar *since = NULL;
	g_autofree gchar *until = NULL;
	g_autofree gchar *cert = NULL;
	g_autofree gchar *db_path = NULL;
	gboolean sign = FALSE;
	gboolean json = FALSE;
	g_autofree gchar *paper_name = NULL;
	FstReportPaper paper = FST_REPORT_PAPER_A4;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"format",
	     'f',
	     0,
	     G_OPTION_ARG_STRING,
	     &format,
	     "csv (default), json or pdf",
	     "FORMAT"},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &output,
	     "Write to FILE, which must not exist (default: standard output; required for pdf "
	     "and --sign)",
	     "FILE"},
	    /* the older name of --out, which the listing commands use for their
	     * format (--output json) */
	    {"output",
	     0,
	     G_OPTION_FLAG_HIDDEN,
	     G_OPTION_ARG_FILENAME,
	     &output_alias,
	     "The older name of --out",
	     "FILE"},
	    {"lot", 0, 0, G_OPTION_ARG_STRING, &lot, "Only devices of this lot", "LOT"},
	    {"station",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &station,
	     "Only devices of this station",
	     "NAME"},
	    {"since",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &since,
	     "Only devices last worked on at or after TIME (UTC)",
	     "TIME"},
	    {"until",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &until,
	     "Only devices last worked on before TIME (UTC)",
	     "TIME"},
	    {"sign",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sign,
	     "Also write FILE.sig, a detached CMS signature with the station's report key",
	     NULL},
	    {"paper",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &paper_name,
	     "pdf: the paper, a4 (default) or letter",
	     "PAPER"},
	    {"json",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &json,
	     "Errors as a JSON error object; the report itself as --format says (default: json); "
	     "verify: a JSON document",
	     NULL},
	    {"cert",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &cert,
	     "verify: the report certificate (default: the workspace's report-cert.pem)",
	     "CERT"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("[verify FILE SIG] - export or verify a provisioning report");
	g_autoptr(GError) error = NULL;
	FstReportScope scope = {0};
	gboolean ok;

	if (fst_cli_central_requested(argc, argv))
		return fst_cli_central_delegate("report", argc, argv);

	g_set_prgname("fleetstation report");
	g_option_context_set_summary(
	    context,
	    "Exports the devices of a lot, a time range and/or a station, each with its newest\n"
	    "certificate: CSV and JSON (one row per device; columns in db/fst-report.h) or a PDF\n"
	    "for people (totals, yield, failures by class, a per-device table). With --sign,\n"
	    "FILE.sig is a detached CMS signature; `report verify FILE SIG` checks one\n"
	    "(exit 1 when a byte changed or another key signed).");
	g_option_context_set_description(context, FST_CLI_SECRETS_HELP FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (!fst_cli_parse_context(context, "report", &argc, &argv))
		return FST_EXIT_USAGE;
	if (workspace == NULL)
		workspace = fst_cli_workspace(NULL);
	fst_cli_secret_setup(workspace);
	if (argc >= 2 && g_strcmp0(argv[1], "verify") == 0)
		return fst_cli_report_verify(workspace, cert, json, argc, argv);
	if (argc != 1) {
		g_autofree gchar *msg =
		    g_strdup_printf("unexpected argument %s (see --help)", argv[1]);
		return fst_cli_usage_error("report", json, msg);
	}
	if (output_alias != NULL) {
		static const gchar *const words[] = {"csv", "json", "pdf", "table", "plain", NULL};
		if (output != NULL)
			return fst_cli_usage_error(
			    "report",
			    json,
			    "--output is the older name of -o/--out: give one of them");
		/* a format asked the way the listing commands ask it, which would
		 * write a file named after it */
		if (g_strv_contains(words, output_alias)) {
			g_autofree gchar *msg = g_strdup_printf(
			    "--output %s would write a file named %s: the report's format is "
			    "--format (csv, json or pdf), its file -o/--out FILE",
			    output_alias,
			    output_alias);
			return fst_cli_usage_error("report", json, msg);
		}
		g_message("--output FILE is -o/--out FILE");
		output = g_steal_pointer(&output_alias);
	}
	if (format == NULL)
		format = g_strdup(json ? "json" : "csv");
	if (g_strcmp0(format, "csv") != 0 && g_strcmp0(format, "json") != 0 &&
	    g_strcmp0(format, "pdf") != 0)
		return fst_cli_usage_error("report", json, "--format must be csv, json or pdf");
	if (paper_name != NULL && !fst_report_paper_from_string(paper_name, &paper))
		return fst_cli_usage_error("report", json, "--paper must be a4 or letter");
	if (output == NULL && (sign || g_strcmp0(format, "pdf") == 0))
		return fst_cli_usage_error(
		    "report", json, "-o/--out FILE is needed for pdf and --sign");
	scope.lot = lot;
	scope.station = station;
	if (!fst_cli_report_parse_time("--since", since, &scope.since_us, &error) ||
	    !fst_cli_report_parse_time("--until", until, &scope.until_us, &error))
		return fst_cli_usage_error("report", json, error->message);
	if (!fst_station_check_records(workspace, &error))
		return fst_cli_fail("report", json, error);
	db_path = g_build_filename(workspace, "station.db", NULL);

	/* a file is written whole or not at all, never over another file; a
	 * signed one with its signature, or neither */
	if (sign)
		ok = fst_report_export_signed(
		    workspace, NULL, db_path, &scope, format, paper, output, &error);
	else if (output != NULL)
		ok = fst_report_export_file(db_path, &scope, format, paper, output, &error);
	else if (g_strcmp0(format, "csv") == 0)
		ok = fst_report_write_csv(db_path, &scope, stdout, &error);
	else
		ok = fst_report_write_json(db_path, &scope, stdout, &error);
	if (!ok)
		return fst_cli_fail("report", json, error);
	if (sign)
		g_printerr("signed: %s.sig\n", output);
	return FST_EXIT_OK;
}
