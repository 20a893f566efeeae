/*
 * fleetstation: the headless station. Thin on purpose: every command is a call
 * into the engine (libfststation); this file parses options, shows progress and
 * maps errors to the exit codes below.
 */

#define G_LOG_DOMAIN "FstCli"

#include <locale.h>
#include <stdio.h>

#include "fst-config.h"
#include "fst-cli.h"

typedef struct {
	const gchar *name;
	const gchar *summary;
	FstExit (*func)(gint argc, gchar **argv);
} FstCliCommand;

/* every command; `fleetstation help` lists them in this order */
static const FstCliCommand fst_cli_commands[] = {
    {"demo", "provision simulated devices end to end (the main job)", fst_cli_demo},
    {"devices", "list the devices recorded in the workspace database", fst_cli_devices},
    {"ca", "create, import, list the CAs; AWS verification certificate; CRL", fst_cli_ca},
    {"revoke", "revoke a device certificate (with a reason) in the database", fst_cli_revoke},
    {"escrow", "export the escrowed (CMS-encrypted) key of a station-generated certificate", fst_cli_escrow},
    {"init", "create a workspace and set its defaults (profile, lot, ports, baud)", fst_cli_init},
    {"ports", "list serial ports and known USB devices, their dialect, busy or free", fst_cli_ports},
    {"provision", "provision the devices on a gang of ports", fst_cli_provision},
    {"certs", "list the certificates in the database (by device, state, lot); export one", fst_cli_certs},
    {"show", "show one device's history: certificates and events", fst_cli_show},
    {"batch", "provision the devices of a CSV or JSON manifest; a re-run resumes it", fst_cli_batch},
    {"watch", "provision each device as it is plugged in, until Ctrl-C", fst_cli_watch},
    {"audit", "verify the tamper-evident audit chain of the database", fst_cli_audit},
    {"db", "back up, check or count the station database", fst_cli_db},
    {"report", "export a lot, period or station as CSV, JSON or PDF; sign, verify", fst_cli_report},
    {"profile", "check provisioning profiles (profile check FILE...)", fst_cli_profile},
};

static void
fst_cli_usage(FILE *out)
{
	fprintf(out,
		"Usage: fleetstation COMMAND [OPTION...]\n"
		"\n"
		"Factory provisioning station for IoT device identities.\n"
		"\n"
		"Commands:\n");
	for (guint i = 0; i < G_N_ELEMENTS(fst_cli_commands); i++)
		fprintf(out, "  %-10s %s\n", fst_cli_commands[i].name, fst_cli_commands[i].summary);
	fprintf(out,
		"  %-10s %s\n"
		"\n"
		"Run `fleetstation COMMAND --help` for a command's options.\n"
		"Options: --version\n"
		"\n" FST_CLI_EXIT_CODES,
		"help",
		"show this help");
}

int
main(int argc, char **argv)
{
	const gchar *command;

	setlocale(LC_ALL, "");
	if (argc < 2) {
		fst_cli_usage(stderr);
		return FST_EXIT_USAGE;
	}
	command = argv[1];
	if (g_strcmp0(command, "--version") == 0 || g_strcmp0(command, "version") == 0) {
		g_print("fleetstation %s\n", FST_VERSION);
		return FST_EXIT_OK;
	}
	if (g_strcmp0(command, "help") == 0 || g_strcmp0(command, "--help") == 0 ||
	    g_strcmp0(command, "-h") == 0) {
		fst_cli_usage(stdout);
		return FST_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS(fst_cli_commands); i++) {
		if (g_strcmp0(command, fst_cli_commands[i].name) == 0)
			return fst_cli_commands[i].func(argc - 1, argv + 1);
	}
	g_printerr("fleetstation: unknown command %s (see fleetstation help)\n", command);
	return FST_EXIT_USAGE;
}
