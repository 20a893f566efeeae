/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation central: the central registry (db/central.md): init, status,
 * sync, audit, report */

#define G_LOG_DOMAIN "FstCli"

#include "fst-central-station.h"
#include "fst-cli.h"
#include "fst-error.h"

#define FST_CLI_CENTRAL_USAGE                                                                      \
	"Usage: fleetstation central init|status|sync|audit|report [OPTION...]\n"                  \
	"  init     create or migrate the central schema, file the keys of older certificates\n"   \
	"  status   the link, this station's backlog and last sync, every station, conflicts\n"    \
	"  sync     ship this station's records now, until nothing is left\n"                      \
	"  audit    check every station's central copy (and this station's journal against it)\n"  \
	"  report   every station's certificates, by lot (--lot), with conflicts flagged\n"

static FstExit
fst_cli_central_init(const gchar *workspace, gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCentral) central = fst_central_station_connect(workspace, &error);
	guint from = 0, to = 0;
	guint filled = 0, flagged = 0;

	if (central == NULL || !fst_central_migrate(central, &from, &to, &error) ||
	    !fst_central_fill_keys(central, &filled, &flagged, &error))
		return fst_cli_fail("central init", json, error);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "server", fst_central_get_server(central));
		json_builder_set_member_name(b, "schema_from");
		json_builder_add_int_value(b, from);
		json_builder_set_member_name(b, "schema_version");
		json_builder_add_int_value(b, to);
		json_builder_set_member_name(b, "keys_filled");
		json_builder_add_int_value(b, filled);
		json_builder_set_member_name(b, "keys_flagged");
		json_builder_add_int_value(b, flagged);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	if (from == to) {
		g_print("central registry %s: schema version %u, %s\n",
		        fst_central_get_server(central),
		        to,
		        filled > 0 ? "up to date" : "nothing to do");
	} else {
		g_print("central registry %s: schema version %u -> %u\n",
		        fst_central_get_server(central),
		        from,
		        to);
	}
	if (filled > 0)
		g_print("filed the public key of %u certificate(s) shipped without it; %u of them "
		        "flagged: another device's certificate holds the key "
		        "(fleetstation central status lists them)\n",
		        filled,
		        flagged);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_central_status(const gchar *workspace, gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) link_error = NULL;
	g_autoptr(FstDb) db = fst_cli_open_db(workspace, &error);
	g_autoptr(FstCentral) central = NULL;
	g_autoptr(GPtrArray) stations = NULL;
	g_autoptr(GPtrArray) conflicts = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *last = NULL;
	gint64 backlog_ev = 0, backlog_reg = 0, last_sync = 0;
	gint64 queue[4] = {0};
	const gchar *const queue_states[] = {"pending", "in_progress", "done", "failed"};

	if (db == NULL ||
	    !fst_central_get_backlog(db, &backlog_ev, &backlog_reg, &last_sync, &error))
		return fst_cli_fail("central status", json, error);
	name = fst_central_station_read_name(workspace, NULL);
	central = fst_central_station_connect(workspace, &link_error);
	if (central != NULL && !fst_central_check_schema(central, &link_error))
		g_clear_pointer(&central, fst_central_free);
	if (central != NULL) {
		stations = fst_central_list_stations(central, &link_error);
		conflicts =
		    stations != NULL ? fst_central_list_conflicts(central, &link_error) : NULL;
		if (conflicts == NULL ||
		    !fst_central_count_registrations(central, queue, &link_error))
			g_clear_pointer(&central, fst_central_free);
	}
	last = last_sync > 0 ? fst_time_iso(last_sync) : g_strdup("never");
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "station", name);
		fst_cli_json_add_string(b, "link", central != NULL ? "up" : "down");
		fst_cli_json_add_string(
		    b, "server", central != NULL ? fst_central_get_server(central) : NULL);
		fst_cli_json_add_string(
		    b, "link_error", link_error != NULL ? link_error->message : NULL);
		json_builder_set_member_name(b, "backlog_events");
		json_builder_add_int_value(b, backlog_ev);
		json_builder_set_member_name(b, "backlog_registrations");
		json_builder_add_int_value(b, backlog_reg);
		fst_cli_json_add_string(b, "last_sync", last_sync > 0 ? last : NULL);
		json_builder_set_member_name(b, "registration_queue");
		json_builder_begin_object(b);
		for (guint i = 0; i < G_N_ELEMENTS(queue_states); i++) {
			json_builder_set_member_name(b, queue_states[i]);
			json_builder_add_int_value(b, queue[i]);
		}
		json_builder_end_object(b);
		json_builder_set_member_name(b, "stations");
		json_builder_begin_array(b);
		for (guint i = 0; stations != NULL && central != NULL && i < stations->len; i++) {
			FstCentralStation *st = g_ptr_array_index(stations, i);
			g_autofree gchar *when =
			    st->last_sync_at > 0 ? fst_time_iso(st->last_sync_at) : NULL;
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "name", st->name);
			fst_cli_json_add_string(b, "host", st->host);
			fst_cli_json_add_string(b, "last_sync", when);
			json_builder_set_member_name(b, "head_event");
			json_builder_add_int_value(b, st->head_id);
			json_builder_set_member_name(b, "devices");
			json_builder_add_int_value(b, st->devices);
			json_builder_set_member_name(b, "certificates");
			json_builder_add_int_value(b, st->certificates);
			json_builder_set_member_name(b, "conflicts");
			json_builder_add_int_value(b, st->conflicts);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "conflicts");
		json_builder_begin_array(b);
		for (guint i = 0; conflicts != NULL && central != NULL && i < conflicts->len; i++) {
			FstCentralConflict *c = g_ptr_array_index(conflicts, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "kind", c->kind);
			fst_cli_json_add_string(b, "device", c->device_uid);
			fst_cli_json_add_string(b, "serial", c->serial_hex);
			fst_cli_json_add_string(b, "station", c->station);
			fst_cli_json_add_string(b, "other_station", c->other_station);
			fst_cli_json_add_string(b, "detail", c->detail);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("station %s\n", name != NULL ? name : "?");
	if (central != NULL)
		g_print("link: up, %s\n", fst_central_get_server(central));
	else
		g_print("link: down: %s\n", link_error != NULL ? link_error->message : "?");
	g_print("backlog: %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
	        " registrations not yet shipped\n",
	        backlog_ev,
	        backlog_reg);
	g_print("last sync: %s\n", last);
	if (central == NULL)
		return FST_EXIT_OK;
	g_print("central registration queue: %" G_GINT64_FORMAT " pending, %" G_GINT64_FORMAT
	        " in progress, %" G_GINT64_FORMAT " done, %" G_GINT64_FORMAT
	        " failed (fleetstation register push --central)\n",
	        queue[0],
	        queue[1],
	        queue[2],
	        queue[3]);
	g_print("\n%-20s %-22s %10s %10s %12s %9s\n",
	        "STATION",
	        "LAST SYNC",
	        "DEVICES",
	        "CERTS",
	        "HEAD EVENT",
	        "CONFLICTS");
	for (guint i = 0; i < stations->len; i++) {
		FstCentralStation *st = g_ptr_array_index(stations, i);
		g_autofree gchar *when =
		    st->last_sync_at > 0 ? fst_time_iso(st->last_sync_at) : g_strdup("-");
		g_print("%-20s %-22s %10" G_GINT64_FORMAT " %10" G_GINT64_FORMAT
		        " %12" G_GINT64_FORMAT " %9" G_GINT64_FORMAT "\n",
		        st->name,
		        when,
		        st->devices,
		        st->certificates,
		        st->head_id,
		        st->conflicts);
	}
	g_print("\nconflicts: %u\n", conflicts->len);
	for (guint i = 0; i < conflicts->len; i++) {
		FstCentralConflict *c = g_ptr_array_index(conflicts, i);
		g_print("  %s: certificate %s of device %s from station %s: %s\n",
		        c->kind,
		        c->serial_hex,
		        c->device_uid,
		        c->station,
		        c->detail);
	}
	return FST_EXIT_OK;
}

static FstExit
fst_cli_central_sync(const gchar *workspace, gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_cli_open_db(workspace, &error);
	g_autoptr(FstCentralSettings) settings = NULL;
	g_autoptr(FstCentral) central = NULL;
	g_autofree gchar *name = NULL;
	FstCentralSyncStats total = {0};
	guint busy = 0;

	if (db == NULL || (name = fst_central_station_read_name(workspace, &error)) == NULL ||
	    (settings = fst_central_settings_load(workspace, &error)) == NULL ||
	    (central = fst_central_station_connect(workspace, &error)) == NULL ||
	    !fst_central_check_schema(central, &error))
		return fst_cli_fail("central sync", json, error);
	for (;;) {
		FstCentralSyncStats stats = {0};
		if (!fst_central_sync(
		        central, db, name, settings->batch_events, 20, &stats, &error))
			return fst_cli_fail("central sync", json, error);
		if (stats.busy) {
			/* the station's running job ships: give it some time */
			if (++busy > 300) {
				g_print("station %s: its running job is shipping the records\n",
				        name);
				return FST_EXIT_OK;
			}
			g_usleep(100000);
			continue;
		}
		total.batches += stats.batches;
		total.events += stats.events;
		total.rows += stats.rows;
		total.registrations += stats.registrations;
		total.retried += stats.retried;
		if (stats.batches > 0)
			total.conflicts = stats.conflicts;
		if (stats.batches > 0)
			total.head_id = stats.head_id;
		if (stats.batches == 0)
			break;
	}
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "station", name);
		json_builder_set_member_name(b, "batches");
		json_builder_add_int_value(b, total.batches);
		json_builder_set_member_name(b, "events");
		json_builder_add_int_value(b, total.events);
		json_builder_set_member_name(b, "rows");
		json_builder_add_int_value(b, total.rows);
		json_builder_set_member_name(b, "registrations");
		json_builder_add_int_value(b, total.registrations);
		json_builder_set_member_name(b, "conflicts");
		json_builder_add_int_value(b, total.conflicts);
		json_builder_set_member_name(b, "retried");
		json_builder_add_int_value(b, total.retried);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_print("station %s: shipped %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
		        " rows, %" G_GINT64_FORMAT " registrations in %u batches; %" G_GINT64_FORMAT
		        " conflicts flagged\n",
		        name,
		        total.events,
		        total.rows,
		        total.registrations,
		        total.batches,
		        total.conflicts);
		if (total.retried > 0)
			g_print("%u batch%s rolled back by the registry (a deadlock with another "
			        "station's) and sent again\n",
			        total.retried,
			        total.retried == 1 ? " was" : "es were");
	}
	return FST_EXIT_OK;
}

static FstExit
fst_cli_central_audit(const gchar *workspace, gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCentral) central = fst_central_station_connect(workspace, &error);
	g_autoptr(GPtrArray) results = NULL;
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autofree gchar *name = fst_central_station_read_name(workspace, NULL);
	g_autofree gchar *journal_problem = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	gboolean ok = TRUE;

	if (central == NULL || !fst_central_check_schema(central, &error) ||
	    (results = fst_central_audit(central, &error)) == NULL)
		return fst_cli_fail("audit verify --central", json, error);
	/* this station's journal against its central copy */
	if (name != NULL && g_file_test(db_path, G_FILE_TEST_EXISTS) &&
	    !fst_central_compare_journal(central, db_path, name, &journal_problem, &error))
		return fst_cli_fail("audit verify --central", json, error);
	if (json) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "stations");
		json_builder_begin_array(b);
	}
	for (guint i = 0; i < results->len; i++) {
		FstCentralAuditStation *st = g_ptr_array_index(results, i);
		if (!st->ok)
			ok = FALSE;
		if (json) {
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "station", st->station);
			json_builder_set_member_name(b, "ok");
			json_builder_add_boolean_value(b, st->ok);
			json_builder_set_member_name(b, "events");
			json_builder_add_int_value(b, st->events);
			json_builder_set_member_name(b, "certificates");
			json_builder_add_int_value(b, st->certificates);
			fst_cli_json_add_string(b, "head_hash", st->head_hash);
			fst_cli_json_add_string(b, "problem", st->problem);
			json_builder_end_object(b);
		} else {
			g_print("station %-20s %s: %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
			        " certificates%s%s\n",
			        st->station,
			        st->ok ? "ok" : "FAILED",
			        st->events,
			        st->certificates,
			        st->problem != NULL ? ": " : "",
			        st->problem != NULL ? st->problem : "");
		}
	}
	if (journal_problem != NULL)
		ok = FALSE;
	if (json) {
		json_builder_end_array(b);
		fst_cli_json_add_string(b, "journal_problem", journal_problem);
		json_builder_set_member_name(b, "ok");
		json_builder_add_boolean_value(b, ok);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else if (name != NULL) {
		g_print("journal of station %s against its central copy: %s\n",
		        name,
		        journal_problem != NULL ? journal_problem : "the same");
	}
	if (!ok && !json)
		g_printerr("fleetstation audit verify --central: the central copy does not match "
		           "what the stations signed\n");
	return ok ? FST_EXIT_OK : FST_EXIT_DATABASE;
}

static FstExit
fst_cli_central_report(const gchar *workspace, const gchar *lot, gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCentral) central = fst_central_station_connect(workspace, &error);
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) conflicts = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();

	if (central == NULL || !fst_central_check_schema(central, &error) ||
	    (certs = fst_central_list_certificates(central, NULL, lot, &error)) == NULL ||
	    (conflicts = fst_central_list_conflicts(central, &error)) == NULL)
		return fst_cli_fail("report --central", json, error);
	if (json) {
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "lot", lot);
		json_builder_set_member_name(b, "certificates");
		json_builder_begin_array(b);
		for (guint i = 0; i < certs->len; i++) {
			FstCentralCert *c = g_ptr_array_index(certs, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "station", c->station);
			fst_cli_json_add_string(b, "device", c->device_uid);
			fst_cli_json_add_string(b, "serial", c->serial_hex);
			fst_cli_json_add_string(b, "aws_cert_id", c->aws_cert_id);
			fst_cli_json_add_string(b, "state", c->state);
			json_builder_set_member_name(b, "slot");
			json_builder_add_int_value(b, c->slot);
			fst_cli_json_add_string(b, "lot", c->lot);
			fst_cli_json_add_string(b, "operator", c->operator_name);
			fst_cli_json_add_string(b, "profile", c->profile);
			fst_cli_json_add_string(b, "conflict", c->conflict);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "conflicts");
		json_builder_add_int_value(b, conflicts->len);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("%-16s %-24s %-42s %-11s %-4s %-14s %s\n",
	        "STATION",
	        "DEVICE",
	        "SERIAL",
	        "STATE",
	        "SLOT",
	        "LOT",
	        "CONFLICT");
	for (guint i = 0; i < certs->len; i++) {
		FstCentralCert *c = g_ptr_array_index(certs, i);
		g_print("%-16s %-24s %-42s %-11s %-4c %-14s %s\n",
		        c->station,
		        c->device_uid,
		        c->serial_hex,
		        c->state,
		        c->slot == 1 ? 'B' : 'A',
		        c->lot != NULL ? c->lot : "-",
		        c->conflict != NULL ? c->conflict : "-");
	}
	g_print("%u certificates, %u conflicts\n", certs->len, conflicts->len);
	return FST_EXIT_OK;
}

FstExit
fst_cli_central(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *workspace = NULL;
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
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot, "report: only this lot", "LOT"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("init|status|sync|audit|report - the central registry");
	const gchar *sub;

	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_set_description(context, FST_CLI_CENTRAL_USAGE);
	if (!fst_cli_parse(context, "central", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2) {
		g_printerr("%s", FST_CLI_CENTRAL_USAGE);
		return FST_EXIT_USAGE;
	}
	sub = argv[1];
	workspace = fst_cli_workspace(workspace_opt);
	if (g_strcmp0(sub, "init") == 0)
		return fst_cli_central_init(workspace, json);
	if (g_strcmp0(sub, "status") == 0)
		return fst_cli_central_status(workspace, json);
	if (g_strcmp0(sub, "sync") == 0)
		return fst_cli_central_sync(workspace, json);
	if (g_strcmp0(sub, "audit") == 0)
		return fst_cli_central_audit(workspace, json);
	if (g_strcmp0(sub, "report") == 0)
		return fst_cli_central_report(workspace, lot, json);
	g_printerr("fleetstation central: unknown subcommand %s\n%s", sub, FST_CLI_CENTRAL_USAGE);
	return FST_EXIT_USAGE;
}

/**
 * fst_cli_central_requested:
 * @argc: a command's argument count
 * @argv: its arguments
 *
 * Returns: %TRUE when the command was given `--central`: `report --central`
 *   and `audit verify --central` are `central report` and `central audit`
 */
gboolean
fst_cli_central_requested(gint argc, gchar **argv)
{
	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--central") == 0)
			return TRUE;
		if (g_strcmp0(argv[i], "--") == 0)
			break;
	}
	return FALSE;
}

/**
 * fst_cli_central_delegate:
 * @sub: the central subcommand (`report`, `audit`)
 * @argc: the original command's argument count
 * @argv: its arguments, with `--central` (and for audit, `verify`)
 *
 * Runs `fleetstation central SUB` with the other options.
 *
 * Returns: its exit code
 */
FstExit
fst_cli_central_delegate(const gchar *sub, gint argc, gchar **argv)
{
	g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar **args = g_new0(gchar *, argc + 2);
	gint n = 0;

	/* option parsing reorders the array it is given: the strings are
	 * freed through @owned, not through it */
	g_ptr_array_add(owned, g_strdup("central"));
	g_ptr_array_add(owned, g_strdup(sub));
	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--central") == 0 || g_strcmp0(argv[i], "verify") == 0)
			continue;
		g_ptr_array_add(owned, g_strdup(argv[i]));
	}
	for (guint i = 0; i < owned->len; i++)
		args[n++] = g_ptr_array_index(owned, i);
	return fst_cli_central(n, args);
}
