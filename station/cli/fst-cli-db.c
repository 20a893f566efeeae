/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation db: backup, check and stats of the station database */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-station.h"

static FstExit
fst_cli_db_backup(FstDb *db, const gchar *dest, gboolean json)
{
	g_autoptr(GError) error = NULL;

	if (!fst_db_backup(db, dest, &error))
		return fst_cli_fail("db backup", json, error);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "database", fst_db_get_path(db));
		fst_cli_json_add_string(b, "backup", dest);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("backed up %s to %s\n", fst_db_get_path(db), dest);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_db_check(FstDb *db, const gchar *workspace, gboolean json)
{
	g_autoptr(GError) error = NULL;

	if (!fst_db_integrity_check(db, &error))
		return fst_cli_fail("db check", json, error);
	if (!json)
		g_print("sqlite integrity and references: ok\n");
	return fst_cli_audit_report(workspace, fst_db_get_path(db), "db check", json);
}

static void
fst_cli_db_json_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static FstExit
fst_cli_db_stats(FstDb *db, gboolean json)
{
	g_autoptr(GError) error = NULL;
	FstDbStats st = {0};

	if (!fst_db_get_stats(db, &st, &error))
		return fst_cli_fail("db stats", json, error);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "database", fst_db_get_path(db));
		fst_cli_json_add_string(b, "database_id", st.database_id);
		fst_cli_db_json_int(b, "schema_version", st.schema_version);
		fst_cli_db_json_int(b, "file_bytes", st.file_bytes);
		fst_cli_db_json_int(b, "stations", st.stations);
		fst_cli_db_json_int(b, "operators", st.operators);
		fst_cli_db_json_int(b, "lots", st.lots);
		fst_cli_db_json_int(b, "devices", st.devices);
		json_builder_set_member_name(b, "devices_by_state");
		json_builder_begin_object(b);
		for (guint i = 0; i < G_N_ELEMENTS(fst_db_device_states); i++)
			fst_cli_db_json_int(b, fst_db_device_states[i], st.devices_by_state[i]);
		json_builder_end_object(b);
		fst_cli_db_json_int(b, "certificates", st.certificates);
		json_builder_set_member_name(b, "certificates_by_state");
		json_builder_begin_object(b);
		for (guint i = 0; i < FST_CERT_STATE_LAST; i++)
			fst_cli_db_json_int(b,
			                    fst_cert_state_to_string((FstCertState)i),
			                    st.certificates_by_state[i]);
		json_builder_end_object(b);
		fst_cli_db_json_int(b, "events", st.events);
		fst_cli_db_json_int(b, "registrations_pending", st.registrations_pending);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		fst_db_stats_clear(&st);
		return FST_EXIT_OK;
	}
	g_print("database       %s\n", fst_db_get_path(db));
	g_print("database id    %s\n", st.database_id != NULL ? st.database_id : "-");
	g_print("schema version %u\n", st.schema_version);
	g_print("file size      %" G_GINT64_FORMAT " bytes", st.file_bytes);
	if (st.devices > 0)
		g_print(" (%.0f bytes per device)", (gdouble)st.file_bytes / (gdouble)st.devices);
	g_print("\nstations       %" G_GINT64_FORMAT "\n", st.stations);
	g_print("operators      %" G_GINT64_FORMAT "\n", st.operators);
	g_print("lots           %" G_GINT64_FORMAT "\n", st.lots);
	g_print("devices        %" G_GINT64_FORMAT, st.devices);
	for (guint i = 0; i < G_N_ELEMENTS(fst_db_device_states); i++)
		g_print("%s %s %" G_GINT64_FORMAT,
		        i == 0 ? ":" : ",",
		        fst_db_device_states[i],
		        st.devices_by_state[i]);
	g_print("\ncertificates   %" G_GINT64_FORMAT, st.certificates);
	for (guint i = 0; i < FST_CERT_STATE_LAST; i++)
		g_print("%s %s %" G_GINT64_FORMAT,
		        i == 0 ? ":" : ",",
		        fst_cert_state_to_string((FstCertState)i),
		        st.certificates_by_state[i]);
	g_print("\nevents         %" G_GINT64_FORMAT "\n", st.events);
	g_print("registrations  %" G_GINT64_FORMAT " pending\n", st.registrations_pending);
	fst_db_stats_clear(&st);
	return FST_EXIT_OK;
}

FstExit
fst_cli_db(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *db_path = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("backup DEST | check | stats - look after the station database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	const gchar *sub;

	g_set_prgname("fleetstation db");
	g_option_context_set_summary(
	    context,
	    "backup DEST  copy the database to DEST (a new file, mode 0600) with SQLite's online\n"
	    "             backup: safe while stations provision into it\n"
	    "check        SQLite integrity and references, then the audit chain (exit 5 if bad)\n"
	    "stats        counts of devices, certificates and events, and the size per device");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse_context(context, "db", &argc, &argv))
		return FST_EXIT_USAGE;
	sub = argc >= 2 ? argv[1] : NULL;
	if (!((g_strcmp0(sub, "backup") == 0 && argc == 3) ||
	      (g_strcmp0(sub, "check") == 0 && argc == 2) ||
	      (g_strcmp0(sub, "stats") == 0 && argc == 2)))
		return fst_cli_usage_error("db",
		                           json,
		                           "expected `backup DEST`, `check` or `stats` (see "
		                           "fleetstation db --help)");
	if (workspace == NULL)
		workspace = fst_cli_workspace(NULL);
	if (!fst_station_check_records(workspace, &error))
		return fst_cli_fail("db", json, error);
	db_path = g_build_filename(workspace, "station.db", NULL);
	/* check and stats only read: they work on read-only media too */
	db = g_strcmp0(sub, "backup") == 0 ? fst_db_open(db_path, &error)
	                                   : fst_cli_open_db(workspace, &error);
	if (db == NULL) {
		g_autofree gchar *command = g_strdup_printf("db %s", sub);
		return fst_cli_fail(command, json, error);
	}
	if (g_strcmp0(sub, "backup") == 0)
		return fst_cli_db_backup(db, argv[2], json);
	if (g_strcmp0(sub, "check") == 0)
		return fst_cli_db_check(db, workspace, json);
	return fst_cli_db_stats(db, json);
}
