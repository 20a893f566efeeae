/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation revoke: mark a device certificate revoked, with its reason */

#define G_LOG_DOMAIN "FstCli"

#include <string.h>

#include "fst-ca-crl.h"
#include "fst-ca-ops.h"
#include "fst-cli.h"
#include "fst-error.h"

/* the revocations the queue now holds for @serial (where it is registered) */
static guint
fst_cli_revoke_queued(const gchar *workspace, const gchar *serial)
{
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(db_path, &error);
	g_autoptr(GPtrArray) rows = NULL;
	guint n = 0;

	if (db != NULL)
		rows = fst_db_list_registrations(db, "revoke", "pending", &error);
	if (rows == NULL) {
		g_printerr("fleetstation revoke: cannot read the registration queue: %s\n",
		           error->message);
		return 0;
	}
	for (guint i = 0; i < rows->len; i++) {
		FstDbRegistration *row = g_ptr_array_index(rows, i);
		if (g_ascii_strcasecmp(row->serial_hex, serial) == 0)
			n++;
	}
	return n;
}

/**
 * fst_cli_revoke:
 * @argc: arguments, argv[0] = "revoke"
 * @argv: (array length=argc): the arguments
 *
 * `fleetstation revoke SERIAL --reason REASON`: the certificate's state
 * becomes revoked in the database, with the time and the RFC 5280 reason;
 * `fleetstation ca crl` then lists it, and where it is registered (AWS IoT)
 * it is queued to be revoked (UpdateCertificate REVOKED) by the
 * registration worker.
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
	gboolean json = FALSE;
	guint queued = 0;
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
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
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
	if (!fst_cli_parse_context(context, "revoke", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2)
		return fst_cli_usage_error("revoke", json, "give one SERIAL (see --help)");
	serial = fst_cli_serial_from_arg(argv[1]);
	if (serial == NULL) {
		g_autofree gchar *msg = g_strdup_printf("%s is not a hex serial number", argv[1]);
		return fst_cli_usage_error("revoke", json, msg);
	}
	if (reason == NULL) {
		g_autofree gchar *msg =
		    g_strdup_printf("--reason is required (one of: %s)", reasons);
		return fst_cli_usage_error("revoke", json, msg);
	}
	code = fst_ca_crl_reason_from_string(reason);
	if (code < 0) {
		g_autofree gchar *msg =
		    g_strdup_printf("unknown reason %s (one of: %s)", reason, reasons);
		return fst_cli_usage_error("revoke", json, msg);
	}
	{
		g_autofree gchar *option = g_steal_pointer(&workspace);
		workspace = fst_cli_workspace(option);
	}
	/* the revocation's event names the operator, as every record does */
	if (!fst_ca_ops_revoke(workspace, serial, reason, NULL, &error))
		return fst_cli_fail("revoke", json, error);
	queued = fst_cli_revoke_queued(workspace, serial);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "serial", serial);
		fst_cli_json_add_string(b, "reason", fst_ca_crl_reason_to_string(code));
		json_builder_set_member_name(b, "queued_revocations");
		json_builder_add_int_value(b, queued);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("revoked %s (%s); run `fleetstation ca crl` to publish it\n",
	        serial,
	        fst_ca_crl_reason_to_string(code));
	if (queued > 0)
		g_print("queued to be revoked where it is registered (%u); `fleetstation register "
		        "push` does it now\n",
		        queued);
	return FST_EXIT_OK;
}
