/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation escrow: hands out the escrowed private key of a device
 * certificate, as it is stored: CMS EnvelopedData encrypted to the profile's
 * escrow certificate. The station cannot decrypt it (it never holds the escrow
 * key); whoever holds that key does, e.g. with `openssl cms -decrypt`.
 */

#define G_LOG_DOMAIN "FstCli"

#include "fst-ca-ops.h"
#include "fst-cli.h"
#include "fst-error.h"

/**
 * fst_cli_escrow:
 * @argc: arguments, argv[0] = "escrow"
 * @argv: (array length=argc): the arguments
 *
 * `fleetstation escrow SERIAL --out FILE`: writes the escrowed key of the
 * certificate SERIAL (DER CMS, mode 0600, never over an existing file) and
 * records the export as an audit event.
 *
 * Returns: an exit code
 */
FstExit
fst_cli_escrow(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *recipient = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace,
	     "Workspace (default: $FLEETSTATION_WORKSPACE, else $XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &out,
	     "Write the CMS (DER) here (required)",
	     "FILE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the result as one JSON object", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("SERIAL - export the escrowed key of a device certificate");
	g_autoptr(GError) error = NULL;
	gsize size = 0;

	g_option_context_set_description(
	    context,
	    "Only certificates of a station-generated key whose profile names an\n"
	    "escrow-certificate have an escrowed key. The file is the CMS EnvelopedData\n"
	    "as stored, encrypted to that certificate only; its key holder decrypts it:\n"
	    "  openssl cms -decrypt -inform DER -in FILE -recip ESCROW.pem -inkey ESCROW.key\n"
	    "The export is recorded in the audit chain (event escrow-export), with the\n"
	    "operator ($FLEETSTATION_OPERATOR, else the login name).\n\n" FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "escrow", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2 || out == NULL) {
		g_printerr("fleetstation escrow: give one SERIAL and --out FILE (see --help)\n");
		return FST_EXIT_USAGE;
	}
	serial = fst_cli_serial_from_arg(argv[1]);
	if (serial == NULL) {
		g_printerr("fleetstation escrow: %s is not a hex serial number\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (g_file_test(out, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK)) {
		g_printerr("fleetstation escrow: %s exists: it is never overwritten, choose "
		           "another name\n",
		           out);
		return FST_EXIT_USAGE;
	}
	{
		g_autofree gchar *option = g_steal_pointer(&workspace);
		workspace = fst_cli_workspace(option);
	}
	if (!fst_ca_ops_export_escrow(workspace, serial, out, NULL, &recipient, &size, &error))
		return fst_cli_fail("escrow", json, error);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "serial", serial);
		fst_cli_json_add_string(b, "file", out);
		fst_cli_json_add_string(b, "recipient_sha256", recipient);
		json_builder_set_member_name(b, "bytes");
		json_builder_add_int_value(b, (gint64)size);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_print("wrote the escrowed key of %s to %s (%" G_GSIZE_FORMAT
		        " bytes, CMS encrypted to the escrow certificate with SHA-256 %s)\n",
		        serial,
		        out,
		        size,
		        recipient);
	}
	return FST_EXIT_OK;
}
