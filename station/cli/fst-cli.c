/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation: the headless station. Thin on purpose: every command is a call
 * into the engine (libfststation); this file parses options, shows progress and
 * maps errors to the exit codes below.
 */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

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
    {"escrow",
     "export the escrowed (CMS-encrypted) key of a station-generated certificate",
     fst_cli_escrow},
    {"init", "create a workspace and set its defaults (profile, lot, ports, baud)", fst_cli_init},
    {"ports",
     "list serial ports and known USB devices, their dialect, busy or free",
     fst_cli_ports},
    {"provision", "provision the devices on a gang of ports", fst_cli_provision},
    {"certs",
     "list the certificates in the database (by device, state, lot); export one",
     fst_cli_certs},
    {"show", "show one device's history (by uid, certificate serial or AWS id)", fst_cli_show},
    {"batch",
     "provision the devices of a CSV or JSON manifest; a re-run resumes it",
     fst_cli_batch},
    {"watch", "provision each device as it is plugged in, until Ctrl-C", fst_cli_watch},
    {"audit", "verify the tamper-evident audit chain of the database", fst_cli_audit},
    {"db", "back up, check or count the station database", fst_cli_db},
    {"report", "export a lot, period or station as CSV, JSON or PDF; sign, verify", fst_cli_report},
    {"profile", "check provisioning profiles (profile check FILE...)", fst_cli_profile},
    {"roots", "list the trust roots; report devices whose roots end too soon", fst_cli_roots},
    {"register", "the AWS IoT registration queue: status, push, retry", fst_cli_register},
    {"central",
     "the central registry of all stations: init, status, sync, audit, report",
     fst_cli_central},
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
	fprintf(
	    out,
	    "  %-10s %s\n"
	    "\n"
	    "Run `fleetstation help COMMAND` (or `fleetstation COMMAND --help`) for a command's\n"
	    "options.\n"
	    "Options: --version\n"
	    "\n" FST_CLI_EXIT_CODES,
	    "help",
	    "show this help, or a command's: help COMMAND");
}

/* edit distance of two short ASCII words, for "did you mean" */
static guint
fst_cli_distance(const gchar *a, const gchar *b)
{
	gsize la = strlen(a);
	gsize lb = strlen(b);
	g_autofree guint *row = g_new(guint, lb + 1);

	for (gsize j = 0; j <= lb; j++)
		row[j] = (guint)j;
	for (gsize i = 1; i <= la; i++) {
		guint diag = row[0];
		row[0] = (guint)i;
		for (gsize j = 1; j <= lb; j++) {
			guint up = row[j];
			guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
			diag = up;
		}
	}
	return row[lb];
}

static const FstCliCommand *
fst_cli_find(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_cli_commands); i++) {
		if (g_strcmp0(name, fst_cli_commands[i].name) == 0)
			return &fst_cli_commands[i];
	}
	return NULL;
}

static FstExit
fst_cli_unknown(const gchar *name)
{
	const gchar *best = NULL;
	guint best_distance = 3;

	for (guint i = 0; i < G_N_ELEMENTS(fst_cli_commands); i++) {
		guint d = fst_cli_distance(name, fst_cli_commands[i].name);
		if (d < best_distance || (best == NULL && strlen(name) >= 2 &&
		                          g_str_has_prefix(fst_cli_commands[i].name, name))) {
			best = fst_cli_commands[i].name;
			best_distance = MIN(d, best_distance);
		}
	}
	if (best != NULL)
		g_printerr("fleetstation: unknown command %s; did you mean %s? (see fleetstation "
		           "help)\n",
		           name,
		           best);
	else
		g_printerr("fleetstation: unknown command %s (see fleetstation help)\n", name);
	return FST_EXIT_USAGE;
}

/* what a command printed must have reached standard output: behind a
 * redirection to a full disk the output is cut short, and that is an error,
 * not exit 0 (a script would take the cut listing for the whole) */
static int
fst_cli_close_stdout(int rc)
{
	gboolean failed = ferror(stdout) != 0;
	int errsv = 0;

	if (fflush(stdout) != 0) {
		failed = TRUE;
		errsv = errno;
	}
	/* a closed standard output that nothing was written to is no error */
	if (fclose(stdout) != 0 && errno != EBADF && !failed) {
		failed = TRUE;
		errsv = errno;
	}
	if (!failed)
		return rc;
	g_printerr("fleetstation: writing to standard output failed%s%s: the output is "
	           "incomplete; check the free space where it goes\n",
	           errsv != 0 ? ": " : "",
	           errsv != 0 ? g_strerror(errsv) : "");
	return rc == FST_EXIT_OK ? FST_EXIT_INTERNAL : rc;
}

static int
fst_cli_main(int argc, char **argv)
{
	const FstCliCommand *cmd;
	const gchar *command;

	setlocale(LC_ALL, "");
	g_log_set_writer_func(fst_cli_log_writer, NULL, NULL);
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
		/* help COMMAND: that command's --help */
		if (argc > 2) {
			g_autofree gchar *help = g_strdup("--help");
			gchar *help_argv[] = {argv[2], help, NULL};
			cmd = fst_cli_find(argv[2]);
			if (cmd == NULL)
				return fst_cli_unknown(argv[2]);
			return cmd->func(2, help_argv);
		}
		fst_cli_usage(stdout);
		return FST_EXIT_OK;
	}
	cmd = fst_cli_find(command);
	if (cmd == NULL)
		return fst_cli_unknown(command);
	return cmd->func(argc - 1, argv + 1);
}

int
main(int argc, char **argv)
{
	return fst_cli_close_stdout(fst_cli_main(argc, argv));
}
