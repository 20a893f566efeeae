/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation roots list|report: the trust catalogue and root expiry planning */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-station.h"
#include "fst-trust-report.h"
#include "fst-trust.h"

#define FST_CLI_ROOTS_USAGE "fleetstation roots list|report [OPTION...]"

/* the shipped catalogue and, if there is a workspace, the roots its trust/
 * folder adds */
static FstTrustCatalogue *
fst_cli_roots_catalogue(const gchar *workspace, GError **error)
{
	g_autofree gchar *dir = g_build_filename(fst_station_templates_dir(), "trust", NULL);
	g_autofree gchar *user = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = fst_trust_catalogue_load(dir, error);

	if (catalogue == NULL)
		return NULL;
	if (workspace != NULL) {
		user = g_build_filename(workspace, "trust", NULL);
		if (!fst_trust_catalogue_add_user_roots(catalogue, user, error))
			return NULL;
	}
	return g_steal_pointer(&catalogue);
}

static gchar *
fst_cli_roots_date(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("-");
}

static const gchar *
fst_cli_roots_key(const FstTrustRoot *root, gchar *buf, gsize bufsz)
{
	if (root->validation == FST_VALIDATION_RSA_PKCS1)
		g_snprintf(buf, bufsz, "RSA %u", root->key_bits);
	else if (root->validation == FST_VALIDATION_ECDSA_P256)
		g_snprintf(buf, bufsz, "EC P-256");
	else
		g_snprintf(buf, bufsz, "EC P-384");
	return buf;
}

static FstExit
fst_cli_roots_list(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *output = NULL;
	gboolean json = FALSE;
	FstCliOutput mode;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace whose trust/ folder adds roots (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    FST_CLI_OUTPUT_ENTRY(output),
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- list the root CAs a device can get");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = NULL;
	g_autofree gchar *workspace = NULL;
	GPtrArray *roots;
	g_autoptr(FstCliTable) table = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "roots list", &argc, &argv))
		return FST_EXIT_USAGE;
	if (!fst_cli_output_resolve("roots list", output, &json, &mode))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument %s", argv[1]);
		return fst_cli_usage_error("roots list", json, msg);
	}
	workspace = fst_cli_workspace(workspace_opt);
	catalogue = fst_cli_roots_catalogue(workspace, &error);
	if (catalogue == NULL)
		return fst_cli_fail("roots list", json, error);
	roots = fst_trust_catalogue_get_roots(catalogue);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "roots");
		json_builder_begin_array(b);
		for (guint i = 0; i < roots->len; i++) {
			const FstTrustRoot *root = g_ptr_array_index(roots, i);
			g_autofree gchar *end = fst_cli_roots_date(root->not_after);
			g_autofree gchar *validation = fst_validation_to_string(root->validation);
			gchar key[32];
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "name", root->name);
			fst_cli_json_add_string(b, "role", fst_trust_role_to_string(root->role));
			fst_cli_json_add_string(b, "sha256", root->sha256);
			fst_cli_json_add_string(
			    b, "key", fst_cli_roots_key(root, key, sizeof(key)));
			fst_cli_json_add_string(b, "validation", validation);
			json_builder_set_member_name(b, "der_bytes");
			json_builder_add_int_value(
			    b, (gint64)fst_trust_root_encoded_size(root, FST_CRED_FORMAT_DER));
			json_builder_set_member_name(b, "pem_bytes");
			json_builder_add_int_value(
			    b, (gint64)fst_trust_root_encoded_size(root, FST_CRED_FORMAT_PEM));
			fst_cli_json_add_time(b, "not_after", root->not_after * G_USEC_PER_SEC);
			fst_cli_json_add_string(b, "not_after_date", end);
			fst_cli_json_add_string(b, "signed_by", root->signed_by);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	table = fst_cli_table_new(mode);
	fst_cli_table_add_column(table, "NAME", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "ROLE", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "KEY", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "ENDS", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "SHA-256 (DER)", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "SIGNED BY", FST_CLI_COLUMN_TRUNC);
	for (guint i = 0; i < roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(roots, i);
		g_autofree gchar *end = fst_cli_roots_date(root->not_after);
		gchar key[32];
		fst_cli_table_add_row(table,
		                      root->name,
		                      fst_trust_role_to_string(root->role),
		                      fst_cli_roots_key(root, key, sizeof(key)),
		                      end,
		                      root->sha256,
		                      root->signed_by);
	}
	fst_cli_table_print(table);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_roots_report(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *lot = NULL;
	gdouble within = 0;
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
	    {"within",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &within,
	     "Also list roots that end within this many years from now",
	     "YEARS"},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot, "Only this lot", "LOT"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(
	    "- devices whose root CAs end before their certificate or within a horizon");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = NULL;
	g_autoptr(GPtrArray) groups = NULL;
	g_autofree gchar *workspace = NULL;
	gint64 horizon = 0;
	guint flagged = 0;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "roots report", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation roots report: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (within < 0 || within > 100) {
		g_printerr("fleetstation roots report: --within takes 0 to 100 years\n");
		return FST_EXIT_USAGE;
	}
	if (within > 0)
		horizon = g_get_real_time() / G_USEC_PER_SEC + (gint64)(within * 365.25 * 86400);
	workspace = fst_cli_workspace(workspace_opt);
	if (!fst_station_check_records(workspace, &error))
		return fst_cli_fail("roots report", json, error);
	catalogue = fst_cli_roots_catalogue(workspace, &error);
	if (catalogue == NULL)
		return fst_cli_fail("roots report", json, error);
	groups = fst_trust_report(catalogue, workspace, lot, horizon, &error);
	if (groups == NULL)
		return fst_cli_fail("roots report", json, error);

	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "horizon");
		if (horizon > 0)
			json_builder_add_int_value(b, horizon);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "groups");
		json_builder_begin_array(b);
		for (guint i = 0; i < groups->len; i++) {
			FstTrustReportGroup *g = g_ptr_array_index(groups, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "lot", g->lot);
			fst_cli_json_add_string(b, "profile", g->profile);
			json_builder_set_member_name(b, "checked");
			json_builder_add_int_value(b, g->checked);
			fst_cli_json_add_string(b, "job", g->devices->len > 0 ? g->job : NULL);
			fst_cli_json_add_string(b, "note", g->note);
			json_builder_set_member_name(b, "devices");
			json_builder_begin_array(b);
			for (guint j = 0; j < g->devices->len; j++) {
				FstTrustReportDevice *d = g_ptr_array_index(g->devices, j);
				json_builder_begin_object(b);
				fst_cli_json_add_string(b, "device", d->uid);
				fst_cli_json_add_string(b, "serial", d->serial_hex);
				fst_cli_json_add_time(
				    b, "cert_not_after", d->cert_not_after * G_USEC_PER_SEC);
				fst_cli_json_add_string(b, "roots", d->roots);
				fst_cli_json_add_string(b, "ending", d->ending);
				json_builder_set_member_name(b, "before_cert");
				json_builder_add_boolean_value(b, d->before_cert);
				fst_cli_json_add_string(b, "roots_reason", d->reason);
				json_builder_end_object(b);
			}
			json_builder_end_array(b);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	for (guint i = 0; i < groups->len; i++) {
		FstTrustReportGroup *g = g_ptr_array_index(groups, i);
		g_print("lot %s, profile %s: %u of %u device(s) need new roots\n",
		        g->lot != NULL ? g->lot : "(none)",
		        g->profile != NULL ? g->profile : "(unknown)",
		        g->devices->len,
		        g->checked);
		for (guint j = 0; j < g->devices->len; j++) {
			FstTrustReportDevice *d = g_ptr_array_index(g->devices, j);
			g_autofree gchar *cert_end = fst_cli_roots_date(d->cert_not_after);
			g_print("  %-22s certificate %s ends %s; roots ending %s: %s\n",
			        d->uid,
			        d->serial_hex,
			        cert_end,
			        d->before_cert ? "before it" : "within the horizon",
			        d->ending);
			if (d->reason != NULL)
				g_print("  %-22s roots %s (%s)\n", "", d->roots, d->reason);
		}
		if (g->devices->len > 0) {
			g_print("  refresh: %s\n", g->job);
			if (g->note != NULL)
				g_print("  note: %s\n", g->note);
		}
		flagged += g->devices->len;
	}
	if (groups->len == 0)
		g_print("no provisioned device with root CAs in %s\n", workspace);
	else if (flagged == 0)
		g_print("no device needs new roots%s\n",
		        horizon > 0 ? " within the horizon" : " before its certificate ends");
	return FST_EXIT_OK;
}

/**
 * fst_cli_roots:
 * @argc: number of arguments, from the command name on
 * @argv: the arguments; argv[0] is "roots"
 *
 * `fleetstation roots list [--json]`: the trust catalogue, with the
 * workspace's user roots, their fingerprints and expiry.
 * `fleetstation roots report [--within YEARS] [--lot LOT] [--json]`: per lot
 * and profile, the provisioned devices whose root CAs end before their
 * certificate or within the horizon, and the trust-only job that would
 * refresh them. A catalogue or user root that does not verify fails the
 * command with the exit code of its error.
 *
 * Returns: the exit code
 */
FstExit
fst_cli_roots(gint argc, gchar **argv)
{
	if (argc >= 2 && g_strcmp0(argv[1], "list") == 0)
		return fst_cli_roots_list(argc - 1, argv + 1);
	if (argc >= 2 && g_strcmp0(argv[1], "report") == 0)
		return fst_cli_roots_report(argc - 1, argv + 1);
	if (argc >= 2 && (g_strcmp0(argv[1], "--help") == 0 || g_strcmp0(argv[1], "-h") == 0)) {
		g_print(
		    "Usage: " FST_CLI_ROOTS_USAGE "\n"
		    "\n"
		    "  list     the root CAs a device can get: the catalogue (templates/trust)\n"
		    "           and the roots of WORKSPACE/trust, with fingerprints and expiry\n"
		    "  report   the devices whose root CAs end before their certificate, or\n"
		    "           within --within YEARS, per lot and profile, and the trust-only\n"
		    "           job that would refresh them\n"
		    "\n" FST_CLI_EXIT_CODES);
		return FST_EXIT_OK;
	}
	{
		g_autofree gchar *msg =
		    g_strdup_printf("unknown subcommand %s (use: " FST_CLI_ROOTS_USAGE ")",
		                    argc >= 2 ? argv[1] : "(none)");
		return fst_cli_usage_error("roots", fst_cli_argv_wants_json(argc, argv), msg);
	}
}
