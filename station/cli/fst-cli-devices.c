/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation devices: what the database holds */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-station.h"

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
	g_autoptr(GPtrArray) devices = NULL;
	g_autofree gchar *workspace = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(FstCliTable) table = NULL;

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
	if (db == NULL || (devices = fst_db_list_devices(db, &error)) == NULL)
		return fst_cli_fail("devices", json, error);
	if (json) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "devices");
		json_builder_begin_array(b);
	} else {
		table = fst_cli_table_new(mode);
		fst_cli_table_add_column(table, "DEVICE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "MODEL", FST_CLI_COLUMN_TRUNC);
		fst_cli_table_add_column(table, "STATE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "SERIAL", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "CERT STATE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "LAST ERROR", FST_CLI_COLUMN_TRUNC);
	}
	for (guint i = 0; i < devices->len; i++) {
		FstDbDevice *d = g_ptr_array_index(devices, i);
		if (state != NULL && g_strcmp0(fst_db_device_state_to_string(d->state), state) != 0)
			continue;
		if (json) {
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "device", d->uid);
			fst_cli_json_add_string(b, "model", d->model);
			fst_cli_json_add_string(b, "firmware", d->firmware);
			fst_cli_json_add_string(b, "port", d->port);
			fst_cli_json_add_string(
			    b, "state", fst_db_device_state_to_string(d->state));
			fst_cli_json_add_string(b, "last_error", d->last_error);
			fst_cli_json_add_string(
			    b, "serial", d->cert != NULL ? d->cert->serial_hex : NULL);
			fst_cli_json_add_string(
			    b,
			    "cert_state",
			    d->cert != NULL ? fst_cert_state_to_string(d->cert->state) : NULL);
			json_builder_end_object(b);
			continue;
		}
		fst_cli_table_add_row(table,
		                      d->uid,
		                      d->model,
		                      fst_db_device_state_to_string(d->state),
		                      d->cert != NULL ? d->cert->serial_hex : NULL,
		                      d->cert != NULL ? fst_cert_state_to_string(d->cert->state)
		                                      : NULL,
		                      d->last_error);
	}
	if (table != NULL)
		fst_cli_table_print(table);
	if (json) {
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	}
	return FST_EXIT_OK;
}
