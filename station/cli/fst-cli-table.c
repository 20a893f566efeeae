/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The row output of the listing commands (ports, devices, certs, roots list,
 * register status), in the format `--output` chooses, in the spirit of the
 * AWS CLI's: `table` for people (libsmartcols: the columns fit the terminal,
 * long free text cut with an ellipsis, never a serial or an id), `plain` for
 * scripts (one line per row, printed as it is added, tab-separated cells, no
 * heading, empty for a missing value), and `json`, which each command builds
 * itself (`--json` is its alias).
 */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include "fst-smartcols-common.h"

struct _FstCliTable {
	FstCliOutput mode;
	GPtrArray *names; /* (element-type utf8) */
	GArray *flags;    /* (element-type FstCliColumnFlags) */
	GPtrArray *rows;  /* (element-type GStrv) */
};

/**
 * fst_cli_output_resolve:
 * @command: the command name, for messages
 * @value: (nullable): the --output value
 * @json: (inout): --json; set when @value is `json`
 * @out: (out): the format
 *
 * Checks --output: table (the default), plain or json, `--json` being the
 * alias of `--output json`.
 *
 * Returns: %TRUE, or %FALSE after a usage error (printed, as JSON too when
 * JSON was asked for)
 */
gboolean
fst_cli_output_resolve(const gchar *command, const gchar *value, gboolean *json, FstCliOutput *out)
{
	static const gchar *const choices[] = {"table", "plain", "json"};

	if (!fst_cli_check_choice(
	        command, *json, "--output", value, choices, G_N_ELEMENTS(choices)))
		return FALSE;
	if (*json && value != NULL && g_strcmp0(value, "json") != 0) {
		fst_cli_usage_error(command, TRUE, "--json is --output json: give one of them");
		return FALSE;
	}
	if (g_strcmp0(value, "json") == 0)
		*json = TRUE;
	if (*json)
		*out = FST_CLI_OUTPUT_JSON;
	else if (g_strcmp0(value, "plain") == 0)
		*out = FST_CLI_OUTPUT_PLAIN;
	else
		*out = FST_CLI_OUTPUT_TABLE;
	return TRUE;
}

/**
 * fst_cli_table_new:
 * @mode: table or plain
 *
 * Returns: (transfer full): an empty table; add the columns, then the rows
 */
FstCliTable *
fst_cli_table_new(FstCliOutput mode)
{
	FstCliTable *self = g_new0(FstCliTable, 1);
	self->mode = mode;
	self->names = g_ptr_array_new_with_free_func(g_free);
	self->flags = g_array_new(FALSE, FALSE, sizeof(FstCliColumnFlags));
	/* rows of names->len cells, each nullable: freed by fst_cli_table_free() */
	self->rows = g_ptr_array_new();
	return self;
}

/**
 * fst_cli_table_free:
 * @self: (nullable): a table
 */
void
fst_cli_table_free(FstCliTable *self)
{
	if (self == NULL)
		return;
	for (guint r = 0; r < self->rows->len; r++) {
		gchar **row = g_ptr_array_index(self->rows, r);
		/* a missing value is a NULL cell: every cell is freed, not up to
		 * the first NULL */
		for (guint i = 0; i < self->names->len; i++)
			g_free(row[i]);
		g_free(row);
	}
	g_ptr_array_unref(self->rows);
	g_ptr_array_unref(self->names);
	g_array_unref(self->flags);
	g_free(self);
}

/**
 * fst_cli_table_add_column:
 * @self: a table with no rows yet
 * @name: the heading
 * @flags: how the column may be laid out
 */
void
fst_cli_table_add_column(FstCliTable *self, const gchar *name, FstCliColumnFlags flags)
{
	g_ptr_array_add(self->names, g_strdup(name));
	g_array_append_val(self->flags, flags);
}

/* a cell on one line: plain output keeps a row per line, a cell per tab */
static gchar *
fst_cli_table_plain_cell(const gchar *cell)
{
	return g_strdelimit(g_strdup(cell != NULL ? cell : ""), "\t\r\n", ' ');
}

static void
fst_cli_table_print_plain_row(FstCliTable *self, gchar **row)
{
	g_autoptr(GString) line = g_string_new(NULL);

	for (guint i = 0; i < self->names->len; i++) {
		g_autofree gchar *cell = fst_cli_table_plain_cell(row[i]);
		if (i > 0)
			g_string_append_c(line, '\t');
		g_string_append(line, cell);
	}
	g_print("%s\n", line->str);
}

static void
fst_cli_table_print_plain(FstCliTable *self)
{
	for (guint r = 0; r < self->rows->len; r++)
		fst_cli_table_print_plain_row(self, g_ptr_array_index(self->rows, r));
}

/**
 * fst_cli_table_add_row:
 * @self: a table
 * @...: one nullable string per column
 *
 * Adds a row; a %NULL cell is a missing value (`-` in a table, empty in plain
 * output). Plain output prints it at once: a listing of a million rows is
 * never held in memory for it.
 */
void
fst_cli_table_add_row(FstCliTable *self, ...)
{
	gchar **row = g_new0(gchar *, self->names->len + 1);
	va_list args;

	va_start(args, self);
	for (guint i = 0; i < self->names->len; i++)
		row[i] = g_strdup(va_arg(args, const gchar *));
	va_end(args);
	if (self->mode == FST_CLI_OUTPUT_PLAIN) {
		fst_cli_table_print_plain_row(self, row);
		/* a NULL cell does not end the row */
		for (guint i = 0; i < self->names->len; i++)
			g_free(row[i]);
		g_free(row);
		return;
	}
	g_ptr_array_add(self->rows, row);
}

/**
 * fst_cli_table_print:
 * @self: a table
 *
 * Prints the table in its mode: on a terminal (or with `COLUMNS` set) as
 * wide as the terminal, the columns with %FST_CLI_COLUMN_TRUNC cut first.
 */
void
fst_cli_table_print(FstCliTable *self)
{
	g_autoptr(libscols_table) tb = NULL;
	const gchar *columns = g_getenv("COLUMNS");

	if (self->mode == FST_CLI_OUTPUT_PLAIN) {
		fst_cli_table_print_plain(self);
		return;
	}
	tb = scols_new_table();
	if (tb == NULL) {
		fst_cli_table_print_plain(self);
		return;
	}
	/* a width given in COLUMNS is kept on a pipe too */
	if (columns != NULL && g_ascii_strtoull(columns, NULL, 10) >= 20) {
		scols_table_set_termforce(tb, SCOLS_TERMFORCE_ALWAYS);
		scols_table_set_termwidth(tb, (size_t)g_ascii_strtoull(columns, NULL, 10));
	}
	for (guint i = 0; i < self->names->len; i++) {
		FstCliColumnFlags flags = g_array_index(self->flags, FstCliColumnFlags, i);
		gint scols_flags = 0;
		if (flags & FST_CLI_COLUMN_TRUNC)
			scols_flags |= SCOLS_FL_TRUNC;
		if (flags & FST_CLI_COLUMN_RIGHT)
			scols_flags |= SCOLS_FL_RIGHT;
		/* free text takes what the others leave */
		if (scols_table_new_column(tb,
		                           g_ptr_array_index(self->names, i),
		                           (flags & FST_CLI_COLUMN_TRUNC) ? 0.3 : 1.0,
		                           scols_flags) == NULL) {
			fst_cli_table_print_plain(self);
			return;
		}
	}
	for (guint r = 0; r < self->rows->len; r++) {
		gchar **row = g_ptr_array_index(self->rows, r);
		struct libscols_line *line = scols_table_new_line(tb, NULL);
		if (line == NULL)
			break;
		for (guint i = 0; i < self->names->len; i++) {
			g_autofree gchar *cell = NULL;
			if (row[i] == NULL || row[i][0] == '\0') {
				scols_line_set_data(line, i, "-");
				continue;
			}
			cell = g_strdelimit(g_strdup(row[i]), "\t\r\n", ' ');
			scols_line_set_data(line, i, cell);
		}
	}
	scols_print_table(tb);
}
