/* fleetstation revoke: mark a device certificate revoked, with its reason */

#define G_LOG_DOMAIN "FstCli"

#include <string.h>

#include "fst-ca-crl.h"
#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-station.h"

/**
 * fst_cli_revoke:
 * @argc: arguments, argv[0] = "revoke"
 * @argv: (array length=argc): the arguments
 *
 * `fleetstation revoke SERIAL --reason REASON`: the certificate's state
 * becomes revoked in the database, with the time and the RFC 5280 reason;
 * `fleetstation ca crl` then lists it.
 *
 * Returns: an exit code
 */
FstExit
fst_cli_revoke(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *reason = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *db_path = NULL;
	g_autofree gchar *reasons = fst_ca_crl_reasons_list();
	g_autofree gchar *description = NULL;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace,
	     "Workspace (default: $FLEETSTATION_WORKSPACE, else $XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"reason",
	     'r',
	     0,
	     G_OPTION_ARG_STRING,
	     &reason,
	     "Why (RFC 5280 CRLReason, e.g. keyCompromise or key-compromise)",
	     "REASON"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("SERIAL - revoke a device certificate");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	gint code;

	g_set_prgname("fleetstation revoke");
	description = g_strdup_printf("SERIAL is the certificate serial in hex (as `devices` "
	                              "shows it; colons allowed).\nReasons: %s.\nRevocation is "
	                              "final. Publish it with `fleetstation ca crl`.\n\n%s",
	                              reasons,
	                              FST_CLI_EXIT_CODES);
	g_option_context_set_description(context, description);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fleetstation revoke: %s\n", error->message);
		return FST_EXIT_USAGE;
	}
	if (argc != 2) {
		g_printerr("fleetstation revoke: give one SERIAL (see --help)\n");
		return FST_EXIT_USAGE;
	}
	serial = fst_cli_serial_from_arg(argv[1]);
	if (serial == NULL) {
		g_printerr("fleetstation revoke: %s is not a hex serial number\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (reason == NULL) {
		g_printerr("fleetstation revoke: --reason is required (one of: %s)\n", reasons);
		return FST_EXIT_USAGE;
	}
	code = fst_ca_crl_reason_from_string(reason);
	if (code < 0) {
		g_printerr(
		    "fleetstation revoke: unknown reason %s (one of: %s)\n", reason, reasons);
		return FST_EXIT_USAGE;
	}
	db_path = fst_cli_workspace(workspace);
	g_free(workspace);
	workspace = g_steal_pointer(&db_path);
	db_path = g_build_filename(workspace, "station.db", NULL);
	if (!g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		g_printerr("fleetstation revoke: no database at %s: give --workspace\n", db_path);
		return FST_EXIT_CONFIG;
	}
	db = fst_db_open(db_path, &error);
	/* the revocation's event names the operator, as every record does */
	if (db == NULL || !fst_db_set_context(db, fst_station_default_operator(), NULL, &error) ||
	    !fst_db_revoke_certificate(db, serial, fst_ca_crl_reason_to_string(code), &error)) {
		g_printerr("fleetstation revoke: %s\n", error->message);
		return fst_cli_exit_for_error(error);
	}
	g_print("revoked %s (%s); run `fleetstation ca crl` to publish it\n",
	        serial,
	        fst_ca_crl_reason_to_string(code));
	return FST_EXIT_OK;
}
