/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* the CLI's shared parts: exit codes, error mapping, progress display and the
 * command table; each command lives in its own fst-cli-<command>.c */

#include <gio/gio.h>

#include <json-glib/json-glib.h>

#include "fst-db.h"
#include "fst-job.h"
#include "fst-pipeline.h"
#include "fst-interaction.h"
#include "fst-time.h"

G_BEGIN_DECLS

/* stable exit codes: documented in --help and README.md; append only */
typedef enum {
	FST_EXIT_OK = 0,
	FST_EXIT_DEVICES_FAILED = 1,
	FST_EXIT_USAGE = 2,
	FST_EXIT_CONFIG = 3,
	FST_EXIT_CA_UNAVAILABLE = 4,
	FST_EXIT_DATABASE = 5,
	FST_EXIT_INTERNAL = 6,
	FST_EXIT_CANCELLED = 7,
	FST_EXIT_UNREACHABLE = 8,
} FstExit;

#define FST_CLI_EXIT_CODES                                                                         \
	"Exit status:\n"                                                                           \
	"  0  success: every device passed\n"                                                      \
	"  1  some devices failed (each is recorded in the database with its error)\n"             \
	"  2  usage error\n"                                                                       \
	"  3  configuration error (workspace, profile, templates)\n"                               \
	"  4  the issuing CA is unavailable (missing, locked, expired; AWS IoT as the issuer\n"    \
	"     refusing the station or out of reach)\n"                                             \
	"  5  database error\n"                                                                    \
	"  6  internal error\n"                                                                    \
	"  7  cancelled (Ctrl-C or SIGTERM)\n"                                                     \
	"  8  out of reach: AWS IoT, the central registry or a device did not answer;\n"           \
	"     nothing was lost, run it again when it is back\n"

/* the live display of a long command (fst-cli-progress.c) */
typedef struct {
	gboolean tty;
	gboolean color;
	gboolean quiet;
	gboolean json;    /* one JSON object per event line (--json) */
	GPtrArray *lanes; /* (element-type FstProgress): the last report of each port, in order */
	guint drawn;      /* lines of the block drawn so far on the terminal */
	guint width;      /* terminal columns, 0 until read */
	guint height;     /* terminal rows, 0 until read */
	guint resize_id;  /* SIGWINCH source */
} FstCliProgress;

/* which shared options a long command takes (fst_cli_job_options_add()) */
typedef enum {
	FST_CLI_JOB_OPTION_NONE = 0,
	FST_CLI_JOB_OPTION_PORTS = 1 << 0,     /* --port, filled from the workspace */
	FST_CLI_JOB_OPTION_ALL_PORTS = 1 << 1, /* --all-ports */
} FstCliJobOptionFlags;

/* the options provision, batch, watch and demo share */
typedef struct {
	FstCliJobOptionFlags flags;
	gchar *workspace;      /* --workspace as given */
	gchar *workspace_path; /* the workspace in use, once resolved */
	gchar *profile;
	gchar *lot;
	gchar *operator_name;
	gchar **ports;
	gboolean all_ports;
	gint baud;
	gboolean json;
	gboolean quiet;
	gboolean verbose;
} FstCliJobOptions;

void fst_cli_job_options_add(FstCliJobOptions *self,
                             GOptionContext *context,
                             FstCliJobOptionFlags flags,
                             const gchar *port_help);
FstExit fst_cli_job_options_resolve(FstCliJobOptions *self, const gchar *command, GError **error);
void fst_cli_job_options_to_job(const FstCliJobOptions *self, FstJobOptions *out);
void fst_cli_job_options_clear(FstCliJobOptions *self);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstCliJobOptions, fst_cli_job_options_clear)
gboolean fst_cli_job_run(FstJob *job,
                         FstCliProgress *progress,
                         GPtrArray *results,
                         gboolean keep_passed,
                         GError **error);
void fst_cli_results_sort(GPtrArray *results, const gchar *const *ports);

FstExit fst_cli_exit_for_error(const GError *error);
void fst_cli_progress_init(FstCliProgress *self, gboolean quiet);
void fst_cli_progress_clear(FstCliProgress *self);
void fst_cli_progress_cb(const FstProgress *progress, gpointer user_data);
void fst_cli_progress_read_size(FstCliProgress *self);
void fst_cli_fit(GString *out, const gchar *text, guint width, gboolean keep_tail);
void fst_cli_print_json(JsonNode *node);
void fst_cli_print_builder(JsonBuilder *b);
void fst_cli_json_list_begin(const gchar *name);
void fst_cli_json_list_item(JsonBuilder *b, guint *n);
void fst_cli_json_list_end(gboolean ok);
void fst_cli_json_add_string(JsonBuilder *b, const gchar *name, const gchar *value);
JsonNode *fst_cli_result_to_json(const FstProvisionResult *result);
FstExit fst_cli_print_results(FstCliProgress *self,
                              const gchar *command,
                              GPtrArray *results,
                              FstJob *job,
                              gboolean cancelled);
void fst_cli_json_add_failure_groups(JsonBuilder *b, GPtrArray *groups);
void fst_cli_print_failure_groups(GPtrArray *groups);
gboolean fst_cli_parse(GOptionContext *context, const gchar *command, gint *argc, gchar ***argv);
gboolean
fst_cli_parse_context(GOptionContext *context, const gchar *command, gint *argc, gchar ***argv);
gboolean fst_cli_argv_wants_json(gint argc, gchar **argv);
gchar *fst_cli_workspace(const gchar *option);
gchar *fst_cli_serial_from_arg(const gchar *serial);
void fst_cli_set_verbose(gboolean verbose);
void fst_cli_set_quiet(gboolean quiet);
GLogWriterOutput fst_cli_log_writer(GLogLevelFlags level,
                                    const GLogField *fields,
                                    gsize n_fields,
                                    gpointer user_data);
FstExit fst_cli_fail(const gchar *command, gboolean json, const GError *error);
void fst_cli_json_add_time(JsonBuilder *b, const gchar *name, gint64 unix_us);
FstExit fst_cli_json_fail(
    const gchar *command, gboolean json, const gchar *error_code, const gchar *message, FstExit rc);
FstExit fst_cli_usage_error(const gchar *command, gboolean json, const gchar *message);
gboolean fst_cli_check_choice(const gchar *command,
                              gboolean json,
                              const gchar *option,
                              const gchar *value,
                              const gchar *const *choices,
                              guint n_choices);
FstDb *fst_cli_open_db(const gchar *workspace, GError **error);

/* secrets: every command asks for them the same way (fst-cli-interaction.c) */
#define FST_CLI_SECRETS_HELP                                                                       \
	"The passphrase of the CA keys comes from --passphrase-file, else\n"                       \
	"$FLEETSTATION_CA_PASSPHRASE, else WORKSPACE/ca/passphrase, else a prompt on the\n"        \
	"terminal (no echo). The PIN of a PKCS#11 key comes from --pin-file, else the\n"           \
	"pin-source of its URI, else $FLEETSTATION_CA_PASSPHRASE, else a prompt. A pkcs11: URI\n"  \
	"never holds the PIN.\n\n"

#define FST_TYPE_CLI_INTERACTION (fst_cli_interaction_get_type())
G_DECLARE_FINAL_TYPE(FstCliInteraction, fst_cli_interaction, FST, CLI_INTERACTION, FstInteraction)

FstInteraction *fst_cli_interaction_new(const gchar *workspace,
                                        const gchar *passphrase_file,
                                        const gchar *pin_file);
const GOptionEntry *fst_cli_secret_entries(void);
void fst_cli_secret_setup(const gchar *workspace);
void fst_cli_cert_to_json(JsonBuilder *b, const FstDbCert *c);
void fst_cli_device_to_json(JsonBuilder *b, const FstDbDevice *d);
gchar **fst_cli_all_ports(GError **error);
typedef gpointer (*FstCliJob)(gpointer data);
gpointer fst_cli_run(FstCliJob job, gpointer data);

/* one function per command: argv[0] is the command name */
FstExit fst_cli_demo(gint argc, gchar **argv);
gboolean fst_cli_demo_mark_workspace(const gchar *workspace, GError **error);
FstExit fst_cli_devices(gint argc, gchar **argv);
FstExit fst_cli_ca(gint argc, gchar **argv);
FstExit fst_cli_revoke(gint argc, gchar **argv);
FstExit fst_cli_escrow(gint argc, gchar **argv);
FstExit fst_cli_register(gint argc, gchar **argv);
FstExit fst_cli_init(gint argc, gchar **argv);
FstExit fst_cli_ports(gint argc, gchar **argv);
FstExit fst_cli_provision(gint argc, gchar **argv);
FstExit fst_cli_certs(gint argc, gchar **argv);
FstExit fst_cli_show(gint argc, gchar **argv);
FstExit fst_cli_batch(gint argc, gchar **argv);
FstExit fst_cli_watch(gint argc, gchar **argv);
FstExit fst_cli_audit(gint argc, gchar **argv);
FstExit fst_cli_audit_report(const gchar *workspace,
                             const gchar *db_path,
                             const gchar *command,
                             gboolean json);
FstExit fst_cli_db(gint argc, gchar **argv);
FstExit fst_cli_report(gint argc, gchar **argv);
FstExit fst_cli_profile(gint argc, gchar **argv);
FstExit fst_cli_roots(gint argc, gchar **argv);
FstExit fst_cli_central(gint argc, gchar **argv);
gboolean fst_cli_central_requested(gint argc, gchar **argv);
FstExit fst_cli_central_delegate(const gchar *sub, gint argc, gchar **argv);

/**
 * FstCliOutput:
 * @FST_CLI_OUTPUT_TABLE: aligned columns for people, fitted to the terminal
 * @FST_CLI_OUTPUT_PLAIN: tab-separated cells, one row per line, no heading
 * @FST_CLI_OUTPUT_JSON: one JSON document
 *
 * What `--output` chose (fst-cli-table.c).
 */
typedef enum {
	FST_CLI_OUTPUT_TABLE,
	FST_CLI_OUTPUT_PLAIN,
	FST_CLI_OUTPUT_JSON,
} FstCliOutput;

/**
 * FstCliColumnFlags:
 * @FST_CLI_COLUMN_NONE: shown whole
 * @FST_CLI_COLUMN_TRUNC: free text, cut first to fit the terminal
 * @FST_CLI_COLUMN_RIGHT: aligned to the right (numbers)
 */
typedef enum {
	FST_CLI_COLUMN_NONE = 0,
	FST_CLI_COLUMN_TRUNC = 1 << 0,
	FST_CLI_COLUMN_RIGHT = 1 << 1,
} FstCliColumnFlags;

/* the --output option of the listing commands */
#define FST_CLI_OUTPUT_ENTRY(var)                                                                  \
	{                                                                                          \
		"output", 0, 0, G_OPTION_ARG_STRING, &(var),                                       \
		    "table (default), plain (tab-separated, no heading) or json (as --json)",      \
		    "FORMAT"                                                                       \
	}

typedef struct _FstCliTable FstCliTable;

gboolean
fst_cli_output_resolve(const gchar *command, const gchar *value, gboolean *json, FstCliOutput *out);
FstCliTable *fst_cli_table_new(FstCliOutput mode);
void fst_cli_table_free(FstCliTable *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCliTable, fst_cli_table_free)
void fst_cli_table_add_column(FstCliTable *self, const gchar *name, FstCliColumnFlags flags);
void fst_cli_table_add_row(FstCliTable *self, ...);
void fst_cli_table_print(FstCliTable *self);

/* where a listing's rows go as the database gives them: a row of @table,
 * or (no table) one element of the JSON list (fst_cli_json_list_item()),
 * printed at once */
typedef struct {
	FstCliTable *table; /* (nullable): table or plain output */
	guint n;            /* JSON elements printed */
} FstCliListOut;

G_END_DECLS
