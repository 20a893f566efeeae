/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation certs: the certificates in the database, filtered; and
 * `certs export SERIAL`, one certificate (and its chain) out of it */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>

#include "fst-ca-ops.h"
#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-file.h"

/**
 * fst_cli_cert_to_json:
 * @b: a builder where a value goes
 * @c: a certificate row
 *
 * Adds `{serial, device, state, subject, key_type, not_before, not_after,
 * profile, lot, aws_cert_id, issuer_sha256, created_at, revoked_at,
 * revocation_reason}`; times as RFC 3339 UTC strings, each with a `_unix`
 * twin in seconds.
 */
void
fst_cli_cert_to_json(JsonBuilder *b, const FstDbCert *c)
{
	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "serial", c->serial_hex);
	fst_cli_json_add_string(b, "device", c->device_uid);
	fst_cli_json_add_string(b, "state", fst_cert_state_to_string(c->state));
	fst_cli_json_add_string(b, "subject", c->subject);
	fst_cli_json_add_string(b, "key_type", c->key_type);
	json_builder_set_member_name(b, "slot");
	json_builder_add_int_value(b, c->slot);
	fst_cli_json_add_time(b, "not_before", c->not_before * G_USEC_PER_SEC);
	fst_cli_json_add_time(b, "not_after", c->not_after * G_USEC_PER_SEC);
	fst_cli_json_add_string(b, "profile", c->profile);
	fst_cli_json_add_string(b, "lot", c->lot);
	fst_cli_json_add_string(b, "aws_cert_id", c->aws_cert_id);
	fst_cli_json_add_string(b, "issuer_sha256", c->issuer_sha256);
	fst_cli_json_add_time(b, "created_at", c->created_at);
	fst_cli_json_add_time(b, "revoked_at", c->revoked_at);
	fst_cli_json_add_string(b, "revocation_reason", c->revocation_reason);
	json_builder_end_object(b);
}

/* the --json document of an export: the PEM itself when no file was written */
static FstExit
fst_cli_certs_export_json(
    const gchar *serial, const gchar *out, gboolean der, gboolean chain, GBytes *bytes)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree gchar *pem = NULL;

	if (out == NULL)
		pem = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "serial", serial);
	fst_cli_json_add_string(b, "format", der ? "der" : "pem");
	json_builder_set_member_name(b, "chain");
	json_builder_add_boolean_value(b, chain);
	fst_cli_json_add_string(b, "file", out);
	json_builder_set_member_name(b, "bytes");
	json_builder_add_int_value(b, (gint64)g_bytes_get_size(bytes));
	fst_cli_json_add_string(b, "pem", pem);
	json_builder_end_object(b);
	fst_cli_print_builder(b);
	return FST_EXIT_OK;
}

/* `fleetstation certs export SERIAL [--der] [--chain] [--out FILE] [--json]` */
static FstExit
fst_cli_certs_export(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *serial = NULL;
	gboolean der = FALSE;
	gboolean chain = FALSE;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace (default: $FLEETSTATION_WORKSPACE, else $XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"der",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &der,
	     "DER instead of PEM (the certificate only)",
	     NULL},
	    {"chain",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &chain,
	     "Follow the certificate with the issuing CA and any intermediate CA (PEM)",
	     NULL},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &out,
	     "Write to FILE, which must not exist (default: standard output)",
	     "FILE"},
	    {"json",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &json,
	     "One JSON document: the serial, the file written, or the PEM itself without --out",
	     NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("SERIAL - export a device certificate (and its chain)");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = NULL;
	FstCaOpsExportFlags flags = FST_CA_OPS_EXPORT_NONE;
	const guint8 *data;
	gsize len = 0;
	g_autoptr(FstFileOut) file = NULL;

	g_option_context_set_summary(
	    context,
	    "Writes the certificate SERIAL (hex, as `certs` shows it) from the database, PEM\n"
	    "by default; with --chain the CA certificates a verifier needs between it and the\n"
	    "root follow it. The export is recorded in the audit chain (certificate-export).\n"
	    "Check one with: openssl verify -CAfile WORKSPACE/ca/root-ca.pem -untrusted FILE FILE");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "certs export", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2)
		return fst_cli_usage_error("certs export", json, "give one SERIAL (see --help)");
	if (der && chain)
		return fst_cli_usage_error(
		    "certs export", json, "--der holds one certificate; export a chain as PEM");
	if (json && der && out == NULL)
		return fst_cli_usage_error(
		    "certs export", json, "--json with --der needs --out FILE");
	serial = fst_cli_serial_from_arg(argv[1]);
	if (serial == NULL) {
		g_autofree gchar *msg = g_strdup_printf("%s is not a hex serial number", argv[1]);
		return fst_cli_usage_error("certs export", json, msg);
	}
	workspace = fst_cli_workspace(workspace_opt);
	/* the file is made first (an export never replaces a file), and it is
	 * whole or absent */
	if (out != NULL) {
		file = fst_file_out_new(out, 0644, &error);
		if (file == NULL)
			return fst_cli_fail("certs export", json, error);
	}
	if (der)
		flags |= FST_CA_OPS_EXPORT_DER;
	if (chain)
		flags |= FST_CA_OPS_EXPORT_CHAIN;
	bytes = fst_ca_ops_export_certificate(
	    workspace, serial, flags, out != NULL ? out : "standard output", NULL, &error);
	if (bytes == NULL)
		return fst_cli_fail("certs export", json, error);
	data = g_bytes_get_data(bytes, &len);
	if (json && out == NULL)
		return fst_cli_certs_export_json(serial, NULL, der, chain, bytes);
	if (file != NULL) {
		if (fwrite(data, 1, len, fst_file_out_get_stream(file)) != len ||
		    !fst_file_out_commit(file, &error)) {
			if (error == NULL)
				g_set_error(&error,
				            FST_ERROR,
				            FST_ERROR_INTERNAL,
				            "writing %s failed: %s: check the free space",
				            out,
				            g_strerror(errno));
			return fst_cli_fail("certs export", json, error);
		}
	} else if (fwrite(data, 1, len, stdout) != len) {
		/* main() reports a standard output cut short */
		return FST_EXIT_INTERNAL;
	}
	if (json)
		return fst_cli_certs_export_json(serial, out, der, chain, bytes);
	return FST_EXIT_OK;
}

static gboolean
fst_cli_certs_one(FstDbCert *c, gpointer user_data)
{
	g_autoptr(FstDbCert) cert = c;
	FstCliListOut *out = user_data;
	g_autofree gchar *issued = NULL;

	if (out->table == NULL) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		fst_cli_cert_to_json(b, cert);
		fst_cli_json_list_item(b, &out->n);
		return TRUE;
	}
	issued = cert->created_at != 0 ? fst_time_iso(cert->created_at) : NULL;
	fst_cli_table_add_row(out->table,
	                      cert->serial_hex,
	                      cert->device_uid,
	                      fst_cert_state_to_string(cert->state),
	                      issued,
	                      cert->lot,
	                      cert->subject);
	return TRUE;
}

FstExit
fst_cli_certs(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *device = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *output = NULL;
	gboolean json = FALSE;
	FstCliOutput mode;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"device", 'd', 0, G_OPTION_ARG_STRING, &device, "Only this device's", "ID"},
	    {"state",
	     's',
	     0,
	     G_OPTION_ARG_STRING,
	     &state,
	     "Only this state: issued, burned, verified, registered, superseded, revoked or "
	     "interrupted",
	     "STATE"},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot, "Only this lot's", "LOT"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    FST_CLI_OUTPUT_ENTRY(output),
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- list the certificates in the database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *workspace = NULL;
	FstDbCertFilter filter = {0};
	g_autoptr(FstCliTable) table = NULL;
	FstCliListOut out = {0};
	gboolean ok;

	if (argc >= 2 && g_strcmp0(argv[1], "export") == 0)
		return fst_cli_certs_export(argc - 1, argv + 1);
	g_option_context_set_summary(context,
	                             "`fleetstation certs export SERIAL` writes one certificate "
	                             "(see certs export --help).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "certs", &argc, &argv))
		return FST_EXIT_USAGE;
	if (!fst_cli_output_resolve("certs", output, &json, &mode))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument %s", argv[1]);
		return fst_cli_usage_error("certs", json, msg);
	}
	if (state != NULL) {
		const gchar *states[FST_CERT_STATE_LAST];
		for (guint i = 0; i < FST_CERT_STATE_LAST; i++)
			states[i] = fst_cert_state_to_string((FstCertState)i);
		if (!fst_cli_check_choice(
		        "certs", json, "--state", state, states, FST_CERT_STATE_LAST))
			return FST_EXIT_USAGE;
	}
	workspace = fst_cli_workspace(workspace_opt);
	db = fst_cli_open_db(workspace, &error);
	if (db == NULL)
		return fst_cli_fail("certs", json, error);
	filter.device_uid = device;
	filter.state = state;
	filter.lot = lot;
	if (json) {
		fst_cli_json_list_begin("certificates");
	} else {
		table = fst_cli_table_new(mode);
		fst_cli_table_add_column(table, "SERIAL", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "DEVICE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "STATE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "ISSUED", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "LOT", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "SUBJECT", FST_CLI_COLUMN_TRUNC);
	}
	out.table = table;
	ok = fst_db_foreach_certificate(db, &filter, fst_cli_certs_one, &out, &error);
	if (json)
		fst_cli_json_list_end(ok);
	if (!ok)
		return fst_cli_fail("certs", json, error);
	if (table != NULL)
		fst_cli_table_print(table);
	return FST_EXIT_OK;
}
