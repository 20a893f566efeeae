/* fleetstation audit verify: walks the tamper-evident chain of the database */

#define G_LOG_DOMAIN "FstCli"

#include "fst-audit.h"
#include "fst-cli.h"
#include "fst-error.h"
#include "fst-station.h"

/* the database path from --database, else WORKSPACE/station.db */
static gchar *
fst_cli_audit_db_path(const gchar *workspace, const gchar *database)
{
	g_autofree gchar *ws = NULL;

	if (database != NULL)
		return g_strdup(database);
	ws = workspace != NULL ? g_strdup(workspace) : fst_station_default_workspace();
	return g_build_filename(ws, "station.db", NULL);
}

/**
 * fst_cli_audit_report:
 * @db_path: the database
 * @prefix: the command name for messages
 *
 * Verifies the audit chain of @db_path and prints the outcome; shared by
 * `audit verify` and `db check`.
 *
 * Returns: %FST_EXIT_OK when the chain is intact, %FST_EXIT_DATABASE when
 * a row was changed, inserted or deleted, or the exit code of the error
 */
FstExit
fst_cli_audit_report(const gchar *db_path, const gchar *prefix)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAuditResult) result = fst_audit_verify(db_path, &error);

	if (result == NULL) {
		g_printerr("%s: %s\n", prefix, error->message);
		return fst_cli_exit_for_error(error);
	}
	if (!result->ok) {
		g_printerr("%s: AUDIT FAILED for %s: %s\n", prefix, db_path, result->problem);
		if (result->first_bad_id > 0)
			g_printerr("%s: the first bad row is event %" G_GINT64_FORMAT
				   "; rows before it are intact. Keep this file as evidence and "
				   "compare it with a backup.\n",
				   prefix,
				   result->first_bad_id);
		return FST_EXIT_DATABASE;
	}
	g_print("audit chain intact: %" G_GINT64_FORMAT " events, %" G_GINT64_FORMAT
		" certificates checked\n",
		result->events,
		result->certificates);
	if (result->head_hash != NULL)
		g_print("chain head: event %" G_GINT64_FORMAT " %s\n",
			result->head_id,
			result->head_hash);
	return FST_EXIT_OK;
}

FstExit
fst_cli_audit(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *database = NULL;
	g_autofree gchar *db_path = NULL;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace,
	     "Workspace directory (default: $XDG_DATA_HOME/fleetstation)", "DIR"},
	    {"database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
	     "A database file instead of the workspace's (e.g. a backup)", "FILE"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("verify - check the audit chain");
	g_autoptr(GError) error = NULL;

	g_set_prgname("fleetstation audit");
	g_option_context_set_summary(
	    context,
	    "verify: walks the hash chain over every event and checks every certificate row\n"
	    "against the events that recorded it; reports the first row that was changed,\n"
	    "inserted or deleted (exit 5). The database is opened read-only.");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fleetstation audit: %s\n", error->message);
		return FST_EXIT_USAGE;
	}
	if (argc != 2 || g_strcmp0(argv[1], "verify") != 0) {
		g_printerr("fleetstation audit: expected `verify` (see fleetstation audit --help)\n");
		return FST_EXIT_USAGE;
	}
	db_path = fst_cli_audit_db_path(workspace, database);
	return fst_cli_audit_report(db_path, "fleetstation audit verify");
}
