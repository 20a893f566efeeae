/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation devices: what the database holds */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-station.h"

/**
 * fst_cli_device_to_json:
 * @b: a builder inside an object
 * @d: a device
 *
 * Adds `{device, model, firmware, port, state, last_error}`, the members
 * `devices --json` and `show --json` have in common.
 */
void
fst_cli_device_to_json(JsonBuilder *b, const FstDbDevice *d)
{
	fst_cli_json_add_string(b, "device", d->uid);
	fst_cli_json_add_string(b, "model", d->model);
	fst_cli_json_add_string(b, "firmware", d->firmware);
	fst_cli_json_add_string(b, "port", d->port);
	fst_cli_json_add_string(b, "state", fst_db_device_state_to_string(d->state));
	fst_cli_json_add_string(b, "last_error", d->last_error);
}

static gboolean
fst_cli_devices_one(FstDbDevice *d, gpointer user_data)
{
	g_autoptr(FstDbDevice) dev = d;
	FstCliListOut *out = user_data;

	if (out->table == NULL) {
		g_autoptr(JsonBuilder) b = json_builder_new();

		json_builder_begin_object(b);
		fst_cli_device_to_json(b, dev);
		fst_cli_json_add_string(
		    b, "serial", dev->cert != NULL ? dev->cert->serial_hex : NULL);
		fst_cli_json_add_string(
		    b,
		    "cert_state",
		    dev->cert != NULL ? fst_cert_state_to_string(dev->cert->state) : NULL);
		json_builder_end_object(b);
		fst_cli_json_list_item(b, &out->n);
		return TRUE;
	}
	fst_cli_table_add_row(out->table,
	                      dev->uid,
	                      dev->model,
	                      fst_db_device_state_to_string(dev->state),
	                      dev->cert != NULL ? dev->cert->serial_hex : NULL,
	                      dev->cert != NULL ? fst_cert_state_to_string(dev->cert->state) : NULL,
	                      dev->last_error);
	return TRUE;
}

FstExit
fst_cli_devices(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *state = NULL;
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
	    {"state",
	     's',
	     0,
	     G_OPTION_ARG_STRING,
	     &state,
	     "Only devices in this state: new, in-progress, provisioned, failed or rework",
	     "STATE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    FST_CLI_OUTPUT_ENTRY(output),
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- list the devices in the database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *workspace = NULL;
	g_autoptr(FstCliTable) table = NULL;
	FstCliListOut out = {0};
	gboolean ok;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "devices", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation devices: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (!fst_cli_output_resolve("devices", output, &json, &mode))
		return FST_EXIT_USAGE;
	if (!fst_cli_check_choice(
	        "devices", json, "--state", state, fst_db_device_states, FST_DB_DEVICE_STATE_LAST))
		return FST_EXIT_USAGE;
	workspace = fst_cli_workspace(workspace_opt);
	db = fst_cli_open_db(workspace, &error);
	if (db == NULL)
		return fst_cli_fail("devices", json, error);
	if (!json) {
		table = fst_cli_table_new(mode);
		fst_cli_table_add_column(table, "DEVICE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "MODEL", FST_CLI_COLUMN_TRUNC);
		fst_cli_table_add_column(table, "STATE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "SERIAL", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "CERT STATE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "LAST ERROR", FST_CLI_COLUMN_TRUNC);
	} else {
		fst_cli_json_list_begin("devices");
	}
	out.table = table;
	ok = fst_db_foreach_device(db, state, fst_cli_devices_one, &out, &error);
	if (json)
		fst_cli_json_list_end(ok);
	if (!ok)
		return fst_cli_fail("devices", json, error);
	if (table != NULL)
		fst_cli_table_print(table);
	return FST_EXIT_OK;
}
