/* fleetstation devices: what the database holds */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-station.h"

FstExit
fst_cli_devices(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	const GOptionEntry entries[] = {
	    {"workspace", 'w', 0, G_OPTION_ARG_FILENAME, &workspace,
	     "Workspace directory (default: $XDG_DATA_HOME/fleetstation)", "DIR"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- list the devices in the database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autofree gchar *db_path = NULL;

	g_set_prgname("fleetstation devices");
	g_option_context_set_description(context, FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fleetstation devices: %s\n", error->message);
		return FST_EXIT_USAGE;
	}
	if (workspace == NULL)
		workspace = fst_station_default_workspace();
	db_path = g_build_filename(workspace, "station.db", NULL);
	if (!g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		g_printerr("fleetstation devices: no database at %s: run fleetstation demo first\n",
			   db_path);
		return FST_EXIT_CONFIG;
	}
	db = fst_db_open(db_path, &error);
	if (db == NULL || (devices = fst_db_list_devices(db, &error)) == NULL) {
		g_printerr("fleetstation devices: %s\n", error->message);
		return fst_cli_exit_for_error(error);
	}
	g_print("%-22s %-14s %-12s %-40s %s\n", "DEVICE", "MODEL", "STATE", "SERIAL", "CERT STATE");
	for (guint i = 0; i < devices->len; i++) {
		FstDbDevice *d = g_ptr_array_index(devices, i);
		g_print("%-22s %-14s %-12s %-40s %s\n",
			d->uid,
			d->model,
			d->state,
			d->cert != NULL ? d->cert->serial_hex : "-",
			d->cert != NULL ? fst_cert_state_to_string(d->cert->state) : "-");
	}
	return FST_EXIT_OK;
}

