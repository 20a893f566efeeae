#pragma once

/* the CLI's shared parts: exit codes, error mapping, progress display and the
 * command table; each command lives in its own fst-cli-<command>.c */

#include <gio/gio.h>

#include "fst-pipeline.h"

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
} FstExit;

#define FST_CLI_EXIT_CODES                                                                          \
	"Exit status:\n"                                                                            \
	"  0  success: every device passed\n"                                                       \
	"  1  some devices failed (each is recorded in the database with its error)\n"              \
	"  2  usage error\n"                                                                        \
	"  3  configuration error (workspace, profile, templates)\n"                                \
	"  4  the issuing CA is unavailable (missing, locked, expired)\n"                           \
	"  5  database error\n"                                                                     \
	"  6  internal error\n"                                                                     \
	"  7  cancelled (Ctrl-C or SIGTERM)\n"

typedef struct {
	GMutex lock;
	gboolean tty;
	gboolean color;
	gboolean quiet;
	GPtrArray *ports; /* (element-type utf8): one display line each, in order */
	GPtrArray *lines; /* (element-type utf8): what each line shows */
	guint drawn;	  /* lines drawn so far on the terminal */
} FstCliProgress;

FstExit
fst_cli_exit_for_error(const GError *error);
void
fst_cli_progress_init(FstCliProgress *self, gboolean quiet);
void
fst_cli_progress_clear(FstCliProgress *self);
void
fst_cli_progress_cb(const FstProgress *progress, gpointer user_data);

/* one function per command: argv[0] is the command name */
FstExit
fst_cli_demo(gint argc, gchar **argv);
FstExit
fst_cli_devices(gint argc, gchar **argv);

G_END_DECLS
