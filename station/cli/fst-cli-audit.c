/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation audit: verifies the tamper-evident chain of the database, and
 * makes signed checkpoints of its head (anchors) to keep outside it */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "fst-audit-anchors.h"
#include "fst-audit.h"
#include "fst-cli.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-report-export.h"
#include "fst-station.h"
#include "fst-time.h"

/* the database path from --database, else WORKSPACE/station.db */
static gchar *
fst_cli_audit_db_path(const gchar *workspace, const gchar *database)
{
	if (database != NULL)
		return g_strdup(database);
	return g_build_filename(workspace, "station.db", NULL);
}

/* "3 days", "5 hours", "12 minutes" */
static gchar *
fst_cli_audit_age(gint64 then_us)
{
	gint64 secs = MAX(g_get_real_time() - then_us, 0) / G_USEC_PER_SEC;

	if (secs >= 2 * 86400)
		return fst_time_count(secs / 86400, "day");
	if (secs >= 2 * 3600)
		return fst_time_count(secs / 3600, "hour");
	return fst_time_count(secs / 60, "minute");
}

/**
 * fst_cli_audit_report_anchored:
 * @db_path: the database
 * @anchors: (nullable) (element-type FstAuditAnchor): anchors to check
 * @command: the command for messages, e.g. `audit verify`
 * @json: print one JSON document
 *
 * Verifies the audit chain of @db_path, and that it still passes through
 * each anchor, and prints the outcome with the age of the newest anchor.
 *
 * Returns: %FST_EXIT_OK when the chain is intact, %FST_EXIT_DATABASE when
 * a row was changed, inserted or deleted or an anchor is not reached, or the
 * exit code of the error
 */
static FstExit
fst_cli_audit_report_anchored(const gchar *db_path,
                              GPtrArray *anchors,
                              const gchar *command,
                              gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAuditResult) result = fst_audit_verify_anchored(db_path, anchors, &error);
	FstAuditAnchor *last = NULL;

	if (result == NULL)
		return fst_cli_fail(command, json, error);
	if (!result->ok) {
		g_autoptr(GString) msg = g_string_new(NULL);
		g_string_append_printf(msg, "AUDIT FAILED for %s: %s", db_path, result->problem);
		if (result->first_bad_id > 0)
			g_string_append_printf(msg,
			                       "; the first bad row is event %" G_GINT64_FORMAT
			                       "; rows before it are intact. Keep this file as "
			                       "evidence and compare it with a backup.",
			                       result->first_bad_id);
		return fst_cli_json_fail(
		    command, json, "audit-failed", msg->str, FST_EXIT_DATABASE);
	}
	last = anchors != NULL ? fst_audit_anchors_newest(anchors) : NULL;
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "database", db_path);
		json_builder_set_member_name(b, "ok");
		json_builder_add_boolean_value(b, TRUE);
		json_builder_set_member_name(b, "events");
		json_builder_add_int_value(b, result->events);
		json_builder_set_member_name(b, "certificates");
		json_builder_add_int_value(b, result->certificates);
		json_builder_set_member_name(b, "rows");
		json_builder_add_int_value(b, result->rows);
		json_builder_set_member_name(b, "head_id");
		if (result->head_hash != NULL)
			json_builder_add_int_value(b, result->head_id);
		else
			json_builder_add_null_value(b);
		fst_cli_json_add_string(b, "head_hash", result->head_hash);
		json_builder_set_member_name(b, "anchors_checked");
		json_builder_add_int_value(b, anchors != NULL ? anchors->len : 0);
		json_builder_set_member_name(b, "last_anchor");
		if (last != NULL) {
			g_autofree gchar *when = fst_time_iso(last->created_at);
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "head_id");
			json_builder_add_int_value(b, last->head_id);
			fst_cli_json_add_string(b, "created_at", when);
			fst_cli_json_add_string(b, "source", last->source);
			json_builder_end_object(b);
		} else {
			json_builder_add_null_value(b);
		}
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("audit chain intact: %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
	        " certificates, %" G_GINT64_FORMAT " bound rows checked\n",
	        result->events,
	        result->certificates,
	        result->rows);
	if (result->head_hash != NULL)
		g_print("chain head: event %" G_GINT64_FORMAT " %s\n",
		        result->head_id,
		        result->head_hash);
	if (last != NULL) {
		g_autofree gchar *age = fst_cli_audit_age(last->created_at);
		g_autofree gchar *when = fst_time_iso(last->created_at);
		g_print("anchors: %u checked, the chain extends each; last anchor: event "
		        "%" G_GINT64_FORMAT " made %s (%s ago), %s\n",
		        anchors->len,
		        last->head_id,
		        when,
		        age,
		        last->source != NULL ? last->source : "");
		g_print("rows written after event %" G_GINT64_FORMAT " are protected by the chain "
		        "alone until the next anchor\n",
		        last->head_id);
	} else {
		g_print("anchors: none checked: a chain rebuilt from scratch by someone with "
		        "write access and this source would pass; make one with `fleetstation "
		        "audit checkpoint` and keep a copy off this machine\n");
	}
	return FST_EXIT_OK;
}

/**
 * fst_cli_audit_report:
 * @workspace: the workspace, for its anchors
 * @db_path: the database
 * @command: the command for messages, e.g. `db check`
 * @json: print one JSON document
 *
 * Verifies the audit chain of @db_path against the anchors kept in the
 * workspace and prints the outcome; shared by `audit verify` and `db check`.
 *
 * Returns: an exit code, as fst_cli_audit_report_anchored()
 */
FstExit
fst_cli_audit_report(const gchar *workspace,
                     const gchar *db_path,
                     const gchar *command,
                     gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) anchors = fst_audit_anchors_load(workspace, NULL, NULL, &error);

	if (anchors == NULL)
		return fst_cli_json_fail(command,
		                         json,
		                         fst_error_code_to_string(error->code),
		                         error->message,
		                         FST_EXIT_DATABASE);
	return fst_cli_audit_report_anchored(db_path, anchors, command, json);
}

static FstExit
fst_cli_audit_checkpoint(const gchar *workspace,
                         const gchar *db_path,
                         const gchar *out,
                         gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAuditAnchor) anchor = fst_audit_read_anchor(db_path, NULL, &error);
	g_autofree gchar *data = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *sig = NULL;
	g_autofree gchar *when = NULL;

	if (anchor == NULL)
		return fst_cli_json_fail(
		    "audit checkpoint",
		    json,
		    error->domain == FST_ERROR ? fst_error_code_to_string(error->code) : "internal",
		    error->message,
		    g_error_matches(error, FST_ERROR, FST_ERROR_VERIFY_FAILED)
		        ? FST_EXIT_DATABASE
		        : fst_cli_exit_for_error(error));
	when = fst_time_iso(anchor->created_at);
	if (out != NULL) {
		path = g_strdup(out);
	} else {
		g_autofree gchar *dir = g_build_filename(workspace, FST_AUDIT_ANCHORS_DIR, NULL);
		g_autoptr(GDateTime) now = g_date_time_new_now_utc();
		g_autofree gchar *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
		g_autofree gchar *name = g_strdup_printf(
		    "checkpoint-%s-event-%" G_GINT64_FORMAT ".anchor", stamp, anchor->head_id);
		if (g_mkdir_with_parents(dir, 0700) != 0) {
			g_autofree gchar *msg =
			    g_strdup_printf("cannot create %s: %s", dir, g_strerror(errno));
			return fst_cli_json_fail(
			    "audit checkpoint", json, "permission-denied", msg, FST_EXIT_CONFIG);
		}
		path = g_build_filename(dir, name, NULL);
	}
	data = fst_audit_anchor_to_data(anchor);
	sig = g_strdup_printf("%s.sig", path);
	if (!fst_file_write_new(path, data, strlen(data), 0600, &error))
		return fst_cli_fail("audit checkpoint", json, error);
	/* signed with the workspace's report key, as reports are */
	if (!fst_report_sign(workspace, path, sig, &error)) {
		g_unlink(path);
		g_prefix_error(&error, "cannot sign the checkpoint (nothing was kept): ");
		return fst_cli_fail("audit checkpoint", json, error);
	}
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "head_id");
		json_builder_add_int_value(b, anchor->head_id);
		fst_cli_json_add_string(b, "head_hash", anchor->head_hash);
		fst_cli_json_add_string(b, "database_id", anchor->database_id);
		fst_cli_json_add_string(b, "created_at", when);
		fst_cli_json_add_string(b, "station", anchor->station);
		fst_cli_json_add_string(b, "anchor", path);
		fst_cli_json_add_string(b, "signature", sig);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("checkpoint: event %" G_GINT64_FORMAT " %s of database %s, %s, station %s\n",
	        anchor->head_id,
	        anchor->head_hash,
	        anchor->database_id != NULL ? anchor->database_id : "-",
	        when,
	        anchor->station != NULL ? anchor->station : "-");
	g_print("written to %s, signed in %s: keep a copy off this machine; `fleetstation audit "
	        "verify --anchor %s` checks the chain still extends it\n",
	        path,
	        sig,
	        path);
	return FST_EXIT_OK;
}

FstExit
fst_cli_audit(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *database = NULL;
	g_autofree gchar *db_path = NULL;
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *cert = NULL;
	g_auto(GStrv) anchor_files = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"database",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &database,
	     "A database file instead of the workspace's (e.g. a backup)",
	     "FILE"},
	    {"anchor",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME_ARRAY,
	     &anchor_files,
	     "verify: an anchor (a checkpoint, or a signed JSON report) the chain must still "
	     "extend; repeatable (default: the workspace's anchors/*.anchor)",
	     "FILE"},
	    {"cert",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &cert,
	     "verify: the certificate the anchors' signatures must come from (default: the "
	     "workspace's report-cert.pem)",
	     "CERT"},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &out,
	     "checkpoint: write the anchor to FILE (never overwritten; default: "
	     "WORKSPACE/anchors/checkpoint-TIME-event-N.anchor) and its signature to FILE.sig",
	     "FILE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("verify|checkpoint - check or anchor the audit chain");
	g_autoptr(GError) error = NULL;

	if (fst_cli_central_requested(argc, argv))
		return fst_cli_central_delegate("audit", argc, argv);

	g_set_prgname("fleetstation audit");
	g_option_context_set_summary(
	    context,
	    "verify: walks the hash chain over every event and checks every certificate and\n"
	    "every bound row (devices, objects, operators, lots, stations...) against the\n"
	    "events that recorded it, and that the chain still passes through each anchor;\n"
	    "reports the first row that was changed, inserted or deleted (exit 5). The\n"
	    "database is opened read-only, also on read-only media.\n"
	    "checkpoint: writes the chain head (event, hash, time, station) as an anchor\n"
	    "signed with the report key; keep copies off the station (db/schema.md, \"Audit\n"
	    "chain\": what is detected with and without an anchor).");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse_context(context, "audit", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2 ||
	    (g_strcmp0(argv[1], "verify") != 0 && g_strcmp0(argv[1], "checkpoint") != 0))
		return fst_cli_usage_error("audit",
		                           json,
		                           "expected `verify` or `checkpoint` (see fleetstation "
		                           "audit --help)");
	workspace = workspace_opt != NULL ? g_strdup(workspace_opt) : fst_cli_workspace(NULL);
	if (database == NULL && !fst_station_check_records(workspace, &error)) {
		g_autofree gchar *command = g_strdup_printf("audit %s", argv[1]);
		return fst_cli_fail(command, json, error);
	}
	db_path = fst_cli_audit_db_path(workspace, database);
	if (g_strcmp0(argv[1], "checkpoint") == 0) {
		if (anchor_files != NULL)
			return fst_cli_usage_error(
			    "audit checkpoint", json, "--anchor is for verify");
		return fst_cli_audit_checkpoint(workspace, db_path, out, json);
	}
	if (out != NULL)
		return fst_cli_usage_error("audit verify", json, "--out is for checkpoint");
	{
		g_autoptr(GPtrArray) anchors =
		    fst_audit_anchors_load(workspace, anchor_files, cert, &error);
		if (anchors == NULL)
			return fst_cli_json_fail("audit verify",
			                         json,
			                         error->domain == FST_ERROR
			                             ? fst_error_code_to_string(error->code)
			                             : "internal",
			                         error->message,
			                         FST_EXIT_DATABASE);
		return fst_cli_audit_report_anchored(db_path, anchors, "audit verify", json);
	}
}
