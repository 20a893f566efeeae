/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation init: a workspace (database, station identity, a demo CA on
 * request) and its defaults (fst-settings.c) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-central-station.h"
#include "fst-cli.h"
#include "fst-error.h"
#include "fst-ports.h"
#include "fst-settings.h"
#include "fst-station.h"

FstExit
fst_cli_init(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *organization = NULL;
	g_autofree gchar *profile = NULL;
	g_autofree gchar *lot = NULL;
	g_autofree gchar *central = NULL;
	g_auto(GStrv) ports = NULL;
	g_auto(GStrv) lanes = NULL;
	gint baud = 0;
	gboolean json = FALSE;
	gboolean verbose = FALSE;
	gboolean demo_ca = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"demo-ca",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &demo_ca,
	     "Also create a demo PKI in ca/ when it has no issuing CA (not for production)",
	     NULL},
	    {"organization",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &organization,
	     "Organization (O) of the demo CAs (default: Fleetstation)",
	     "NAME"},
	    {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile, "Default profile", "NAME"},
	    {"lot", 'l', 0, G_OPTION_ARG_STRING, &lot, "Default production lot", "LOT"},
	    {"port",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME_ARRAY,
	     &ports,
	     "Default port (repeat for a gang)",
	     "PORT"},
	    {"baud", 'b', 0, G_OPTION_ARG_INT, &baud, "Default line rate in bit/s", "RATE"},
	    {"central",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &central,
	     "Ship the records to this central registry: a libpq connection string or service "
	     "name, no password (~/.pgpass or $PGPASSFILE); then run fleetstation central init",
	     "CONNINFO"},
	    {"lane",
	     0,
	     0,
	     G_OPTION_ARG_STRING_ARRAY,
	     &lanes,
	     "Bind a jig lane to a USB port path or an adapter serial number (repeat)",
	     "NAME=1-3.2|NAME=serial:SN"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print informational messages", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- create or update a workspace");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSettings) settings = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *summary = NULL;
	g_autofree gchar *station_name = NULL;
	gboolean had_ca = FALSE;

	g_option_context_set_summary(
	    context,
	    "Creates what the workspace lacks: station.conf (the station identity), station.db\n"
	    "(the SQLite records), both 0600 in a 0700 folder (tightened when it exists). The\n"
	    "issuing CA comes next, from `fleetstation ca create` or `ca import`; --demo-ca makes "
	    "a\n"
	    "demo PKI in ca/ instead (root and issuing CA, ECDSA P-256, keys encrypted with\n"
	    "$FLEETSTATION_CA_PASSPHRASE or a generated ca/passphrase, mode 0600).\n"
	    "Parts that exist are kept. --profile, --lot, --port and --baud set the defaults of\n"
	    "provision, batch and watch in the [defaults] group of station.conf; --lane binds a\n"
	    "jig socket to a physical place in its [lanes] group, so that `ports` and the\n"
	    "results name the lane whatever tty the kernel gives the adapter.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_main_entries(context, fst_cli_secret_entries(), NULL);
	if (!fst_cli_parse(context, "init", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_printerr("fleetstation init: unexpected argument %s\n", argv[1]);
		return FST_EXIT_USAGE;
	}
	if (baud < 0 || (baud > 0 && (baud < 1200 || baud > 4000000))) {
		g_printerr("fleetstation init: --baud must be 1200 to 4000000\n");
		return FST_EXIT_USAGE;
	}
	fst_cli_set_verbose(verbose);
	workspace = fst_cli_workspace(workspace_opt);
	fst_cli_secret_setup(workspace);

	if (organization != NULL && !demo_ca) {
		g_printerr(
		    "fleetstation init: --organization names the demo CAs: give --demo-ca too\n");
		return FST_EXIT_USAGE;
	}
	/* everything that can be checked is checked before anything is written */
	if (profile != NULL) {
		g_autoptr(FstProfile) p = fst_station_find_profile(workspace, profile, &error);
		if (p == NULL)
			return fst_cli_fail("init", json, error);
	}
	had_ca = fst_station_has_ca(workspace);
	if (demo_ca && !had_ca) {
		g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
		/* a CA being set up there is refused below, with nothing written */
		if (!g_file_test(ca_dir, G_FILE_TEST_EXISTS) &&
		    !fst_cli_demo_mark_workspace(workspace, &error))
			return fst_cli_fail("init", json, error);
	}
	if (!fst_station_init_workspace(workspace,
	                                !demo_ca               ? NULL
	                                : organization != NULL ? organization
	                                                       : "Fleetstation",
	                                &error))
		return fst_cli_fail("init", json, error);
	settings = fst_settings_load(workspace, &error);
	if (settings == NULL)
		return fst_cli_fail("init", json, error);
	if (profile != NULL) {
		g_free(settings->profile);
		settings->profile = g_steal_pointer(&profile);
	}
	if (lot != NULL) {
		g_free(settings->lot);
		settings->lot = g_steal_pointer(&lot);
	}
	if (ports != NULL) {
		g_strfreev(settings->ports);
		settings->ports = g_steal_pointer(&ports);
	}
	if (baud > 0)
		settings->baud_rate = (guint)baud;
	if (!fst_settings_save(settings, workspace, &error))
		return fst_cli_fail("init", json, error);
	if (central != NULL && !fst_central_settings_save_conninfo(workspace, central, &error))
		return fst_cli_fail("init", json, error);
	for (guint i = 0; lanes != NULL && lanes[i] != NULL; i++) {
		if (!fst_lanes_bind(workspace, lanes[i], &error))
			return fst_cli_fail("init", json, error);
	}

	/* a CA made by this run is proved to open (it unlocks, the database
	 * migrates); changing the defaults of a workspace that has its CA needs
	 * no CA secret: the station name comes from station.conf */
	if (!had_ca && fst_station_has_ca(workspace)) {
		station = fst_station_open(workspace, &error);
		if (station == NULL)
			return fst_cli_fail("init", json, error);
		station_name = g_strdup(fst_station_get_name(station));
	} else if (had_ca) {
		g_autofree gchar *conf = g_build_filename(workspace, "station.conf", NULL);
		g_autoptr(GKeyFile) kf = g_key_file_new();
		if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL))
			station_name = g_key_file_get_string(kf, "station", "name", NULL);
	}

	summary = fst_settings_to_string(settings);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "workspace", workspace);
		fst_cli_json_add_string(b, "station", station_name);
		json_builder_set_member_name(b, "ca");
		json_builder_add_boolean_value(b, fst_station_has_ca(workspace));
		fst_cli_json_add_string(b, "profile", settings->profile);
		fst_cli_json_add_string(b, "lot", settings->lot);
		json_builder_set_member_name(b, "ports");
		json_builder_begin_array(b);
		for (guint i = 0; settings->ports != NULL && settings->ports[i] != NULL; i++)
			json_builder_add_string_value(b, settings->ports[i]);
		json_builder_end_array(b);
		json_builder_set_member_name(b, "baud");
		json_builder_add_int_value(
		    b, settings->baud_rate != 0 ? settings->baud_rate : FST_SETTINGS_DEFAULT_BAUD);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		if (fst_station_has_ca(workspace))
			g_print("workspace %s ready: station %s\n",
			        workspace,
			        station_name != NULL ? station_name : "(unnamed)");
		else
			g_print("workspace %s ready, without an issuing CA: run `fleetstation ca "
			        "create` or `ca import` (or init --demo-ca for a demo PKI)\n",
			        workspace);
		g_print("defaults: %s\n", summary);
	}
	return FST_EXIT_OK;
}
