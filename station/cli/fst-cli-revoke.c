/* fleetstation revoke: mark a device certificate revoked, with its reason */

#define G_LOG_DOMAIN "FstCli"

#include <string.h>

#include "fst-ca-crl.h"
#include "fst-ca-ops.h"
#include "fst-cli.h"
#include "fst-error.h"

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
	{
		g_autofree gchar *option = g_steal_pointer(&workspace);
		workspace = fst_cli_workspace(option);
	}
	/* the revocation's event names the operator, as every record does */
	if (!fst_ca_ops_revoke(workspace, serial, reason, NULL, &error)) {
		g_printerr("fleetstation revoke: %s\n", error->message);
		return fst_cli_exit_for_error(error);
	}
	g_print("revoked %s (%s); run `fleetstation ca crl` to publish it\n",
	        serial,
	        fst_ca_crl_reason_to_string(code));
	return FST_EXIT_OK;
}
