/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstReport"

#include "fst-report.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "fst-db-private.h"
#include "fst-error.h"

/*
 * Report queries over the station database (db/schema.md), through a
 * read-only connection of their own inside one read transaction: a report
 * is one consistent snapshot, and never blocks a station writing meanwhile
 * (WAL). The columns are documented in fst-report.h.
 */

const gchar *const fst_report_columns[FST_REPORT_N_COLUMNS] = {
    "device_uid",
    "model",
    "firmware",
    "port",
    "station",
    "operator",
    "lot",
    "device_state",
    "last_error",
    "serial",
    "aws_cert_id",
    "cert_state",
    "subject",
    "not_before",
    "not_after",
    "issued_at",
    "updated_at",
    "revoked_at",
    "revocation_reason",
    "roots",
    "error_code",
    "failed_step",
};

/* @expr over `step` and `outcome`, of a failed device's last failed pipeline
 * step: its class (fst-failure-groups.c) is the outcome (its error code) and
 * the step; the steps the database adds itself do not count. A step is an
 * event of its own (files before schema v6) or one of the steps of a device
 * log commit's event (db/fst-audit-steps.c) */
#define FST_REPORT_FAILED_STEP(expr)                                                               \
	"(CASE WHEN d.state = 'failed' THEN (SELECT " expr " FROM (SELECT id, 0 AS k, step, "      \
	"outcome FROM events WHERE device_id = d.id AND step <> 'device-log' AND outcome <> 'ok' " \
	"UNION ALL SELECT e.id, j.key, json_extract(j.value, '$[0]'), json_extract(j.value, "      \
	"'$[3]') FROM events e, json_each(e.detail) j WHERE e.device_id = d.id AND e.step = "      \
	"'device-log' AND json_extract(j.value, '$[3]') <> 'ok') WHERE step NOT IN ('failed', "    \
	"'certificate-state', 'certificate-issued', 'escrow', 'records', 'provisioned') ORDER BY " \
	"id DESC, k DESC LIMIT 1) END)"

/* a failed device's class: its error code and step, two columns */
#define FST_REPORT_FAILED_CLASS                                                                    \
	FST_REPORT_FAILED_STEP("outcome") ", " FST_REPORT_FAILED_STEP("step")

#define FST_REPORT_ISO_S(x) "strftime('%Y-%m-%dT%H:%M:%SZ', " x ", 'unixepoch')"
/* @expr over `detail`, the detail of a device's last successful plan that
 * names roots: an event of its own (files before schema v6) or a step of
 * the event of a device log commit (its detail holds the steps, db/fst-audit-steps.c) */
#define FST_REPORT_LAST_PLAN(expr)                                                                 \
	"(SELECT " expr " FROM (SELECT id, 0 AS k, detail FROM events WHERE device_id = d.id AND " \
	"step = 'plan' AND outcome = 'ok' UNION ALL SELECT e.id, j.key, "                          \
	"json_extract(j.value, '$[4]') FROM events e, json_each(e.detail) j WHERE e.device_id = "  \
	"d.id AND e.step = 'device-log' AND json_extract(j.value, '$[0]') = 'plan' AND "           \
	"json_extract(j.value, '$[3]') = 'ok') WHERE instr(detail, ', roots ') > 0 ORDER BY id "   \
	"DESC, k DESC LIMIT 1)"
#define FST_REPORT_ISO_US(x) "strftime('%Y-%m-%dT%H:%M:%SZ', " x " / 1000000, 'unixepoch')"

/* the WHERE clause of a scope, values quoted by SQLite's %Q */
static gchar *
fst_report_where(const FstReportScope *scope)
{
	g_autoptr(GString) where = g_string_new("WHERE 1");

	if (scope == NULL)
		return g_string_free(g_steal_pointer(&where), FALSE);
	if (scope->lot != NULL) {
		gchar *q = sqlite3_mprintf(" AND l.name = %Q", scope->lot);
		g_string_append(where, q);
		sqlite3_free(q);
	}
	if (scope->station != NULL) {
		gchar *q = sqlite3_mprintf(" AND s.name = %Q", scope->station);
		g_string_append(where, q);
		sqlite3_free(q);
	}
	if (scope->since_us > 0)
		g_string_append_printf(
		    where, " AND d.updated_at >= %" G_GINT64_FORMAT, scope->since_us);
	if (scope->until_us > 0)
		g_string_append_printf(
		    where, " AND d.updated_at < %" G_GINT64_FORMAT, scope->until_us);
	return g_string_free(g_steal_pointer(&where), FALSE);
}

#define FST_REPORT_FROM                                                                            \
	"FROM devices d LEFT JOIN certificates c ON c.id = (SELECT max(id) FROM certificates "     \
	"WHERE device_id = d.id) LEFT JOIN stations s ON s.id = d.station_id "                     \
	"LEFT JOIN operators o ON o.id = d.operator_id LEFT JOIN lots l ON l.id = d.lot_id "

/**
 * fst_report_rows_sql:
 * @scope: (nullable): the devices to report
 *
 * The one query behind every report format, with the scope's values quoted
 * in (so that the sqlite3 command-line tool can run the very same text, as
 * the export benchmark does).
 *
 * Returns: (transfer full): SQL returning %FST_REPORT_N_COLUMNS text columns
 */
gchar *
fst_report_rows_sql(const FstReportScope *scope)
{
	g_autofree gchar *where = fst_report_where(scope);

	return g_strconcat(
	    "SELECT d.uid, d.model, d.firmware, d.port, s.name, o.name, l.name, d.state, "
	    "d.last_error, c.serial_hex, c.aws_cert_id, c.state, c.subject, ",
	    FST_REPORT_ISO_S("c.not_before"),
	    ", ",
	    FST_REPORT_ISO_S("c.not_after"),
	    ", ",
	    FST_REPORT_ISO_US("c.created_at"),
	    ", ",
	    FST_REPORT_ISO_US("d.updated_at"),
	    ", ",
	    FST_REPORT_ISO_US("c.revoked_at"),
	    ", c.revocation_reason, "
	    /* the roots of the last plan, and why: the pipeline ends the plan
	     * event's detail with ", roots NAMES (REASON)" */
	    FST_REPORT_LAST_PLAN("substr(detail, instr(detail, ', roots ') + 8)"),
	    ", " FST_REPORT_FAILED_CLASS " " FST_REPORT_FROM,
	    where,
	    " ORDER BY d.id",
	    NULL);
}

static gboolean
fst_report_sql_error(sqlite3 *db, const gchar *path, const gchar *what, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "%s for a report from %s: %s: check the path, or run `fleetstation db check`",
	            what,
	            path,
	            db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return FALSE;
}

/* a read-only connection in a read transaction (one snapshot) */
static sqlite3 *
fst_report_open(const gchar *path, GError **error)
{
	g_autoptr(sqlite3) db = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;

	db = _fst_db_connect_read_only(path, error);
	if (db == NULL)
		return NULL;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW)
		return fst_report_sql_error(db, path, "reading the schema version", error), NULL;
	if (sqlite3_column_int64(stmt, 0) < 2) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %" G_GINT64_FORMAT ": reports need "
		            "version 2; open it once with this fleetstation to migrate it",
		            path,
		            (gint64)sqlite3_column_int64(stmt, 0));
		return NULL;
	}
	return g_steal_pointer(&db);
}

/**
 * fst_report_foreach:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @func: (scope call): called for each row, in device order; returning
 *   %FALSE with @error set stops the walk
 * @user_data: data for @func
 * @error: (nullable): return location for a #GError
 *
 * Streams the report rows (one per device, see fst-report.h) without holding
 * them in memory, from one snapshot of the database.
 *
 * Returns: %TRUE when every row was passed to @func
 */
gboolean
fst_report_foreach(const gchar *db_path,
                   const FstReportScope *scope,
                   FstReportRowFunc func,
                   gpointer user_data,
                   GError **error)
{
	g_autoptr(sqlite3) db = fst_report_open(db_path, error);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *sql = fst_report_rows_sql(scope);
	const gchar *cells[FST_REPORT_N_COLUMNS];
	gint rc;

	if (db == NULL)
		return FALSE;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return fst_report_sql_error(db, db_path, "preparing the report query", error);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (guint i = 0; i < FST_REPORT_N_COLUMNS; i++) {
			const guchar *text = sqlite3_column_text(stmt, (gint)i);
			cells[i] = text != NULL ? (const gchar *)text : "";
		}
		if (!func(cells, user_data, error))
			return FALSE;
	}
	if (rc != SQLITE_DONE)
		return fst_report_sql_error(db, db_path, "reading the report rows", error);
	return TRUE;
}

static gboolean
fst_report_scalar(sqlite3 *db, const gchar *sql, sqlite3_stmt **out)
{
	return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK;
}

static void
fst_report_count_free(FstReportCount *self)
{
	g_free(self->name);
	g_free(self);
}

/* the devices in scope counted by @column's name (operator or lot), most
 * first; FALSE with the database's error */
static gboolean
fst_report_count_by(sqlite3 *db, const gchar *column, const gchar *where, GPtrArray **out)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *sql = g_strdup_printf("SELECT %s, count(*) " FST_REPORT_FROM
	                                        "%s GROUP BY %s ORDER BY count(*) DESC, %s",
	                                        column,
	                                        where,
	                                        column,
	                                        column);
	g_autoptr(GPtrArray) counts =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_report_count_free);
	gint rc;

	if (!fst_report_scalar(db, sql, &stmt))
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstReportCount *count = g_new0(FstReportCount, 1);
		count->name = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
		count->devices = sqlite3_column_int64(stmt, 1);
		g_ptr_array_add(counts, count);
	}
	if (rc != SQLITE_DONE)
		return FALSE;
	*out = g_steal_pointer(&counts);
	return TRUE;
}

/**
 * fst_report_summary:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @error: (nullable): return location for a #GError
 *
 * Totals of a report: devices per state, the failed devices grouped by
 * class (error code and step, fst-failure-groups.c), the devices by operator and by lot, the
 * stations and period covered, the database id and the audit chain head at that moment.
 *
 * Returns: (transfer full): the summary, or %NULL on error
 */
FstReportSummary *
fst_report_summary(const gchar *db_path, const FstReportScope *scope, GError **error)
{
	g_autoptr(sqlite3) db = fst_report_open(db_path, error);
	g_autoptr(FstReportSummary) sum = NULL;
	g_autoptr(sqlite3_stmt) totals = NULL;
	g_autoptr(sqlite3_stmt) fails = NULL;
	g_autoptr(sqlite3_stmt) props = NULL;
	g_autofree gchar *where = fst_report_where(scope);
	g_autofree gchar *sql_totals = NULL;
	g_autofree gchar *sql_fails = NULL;
	g_autoptr(FstFailureGroups) groups = fst_failure_groups_new();
	g_autoptr(GPtrArray) list = NULL;
	gint rc;

	if (db == NULL)
		return NULL;
	sum = g_new0(FstReportSummary, 1);
	sum->failures = g_ptr_array_new();
	sql_totals =
	    g_strconcat("SELECT count(*), total(d.state = 'provisioned'), "
	                "total(d.state = 'failed'), total(d.state = 'rework'), "
	                "total(d.state = 'in-progress'), min(d.updated_at), "
	                "max(d.updated_at), group_concat(DISTINCT s.name) " FST_REPORT_FROM,
	                where,
	                NULL);
	sql_fails =
	    g_strconcat("SELECT d.uid, d.last_error, " FST_REPORT_FAILED_CLASS " " FST_REPORT_FROM,
	                where,
	                " AND d.state = 'failed' ORDER BY d.updated_at, d.id",
	                NULL);
	if (!fst_report_scalar(db, sql_totals, &totals) || sqlite3_step(totals) != SQLITE_ROW)
		return fst_report_sql_error(db, db_path, "counting the devices", error), NULL;
	sum->devices = sqlite3_column_int64(totals, 0);
	sum->provisioned = sqlite3_column_int64(totals, 1);
	sum->failed = sqlite3_column_int64(totals, 2);
	sum->rework = sqlite3_column_int64(totals, 3);
	sum->in_progress = sqlite3_column_int64(totals, 4);
	sum->first_us = sqlite3_column_int64(totals, 5);
	sum->last_us = sqlite3_column_int64(totals, 6);
	sum->stations = g_strdup(sqlite3_column_text(totals, 7) != NULL
	                             ? (const gchar *)sqlite3_column_text(totals, 7)
	                             : "");
	if (!fst_report_count_by(db, "o.name", where, &sum->operators) ||
	    !fst_report_count_by(db, "l.name", where, &sum->lots))
		return fst_report_sql_error(
		           db, db_path, "counting the devices by operator and lot", error),
		       NULL;
	if (!fst_report_scalar(db, sql_fails, &fails))
		return fst_report_sql_error(db, db_path, "grouping the failures", error), NULL;
	while ((rc = sqlite3_step(fails)) == SQLITE_ROW)
		fst_failure_groups_add(groups,
		                       (const gchar *)sqlite3_column_text(fails, 2),
		                       (const gchar *)sqlite3_column_text(fails, 3),
		                       (const gchar *)sqlite3_column_text(fails, 0),
		                       (const gchar *)sqlite3_column_text(fails, 1));
	if (rc != SQLITE_DONE)
		return fst_report_sql_error(db, db_path, "grouping the failures", error), NULL;
	list = fst_failure_groups_list(groups);
	for (guint i = 0; i < list->len; i++) {
		FstFailureGroup *g = g_ptr_array_index(list, i);
		FstReportFailure *f = g_new0(FstReportFailure, 1);
		f->error_code = g_strdup(g->error_code);
		f->step = g_strdup(g->step);
		f->devices = (gint64)g->devices;
		f->reason = g_strdup(g->example != NULL ? g->example : "(no message)");
		g_ptr_array_add(g->example_devices, NULL);
		f->example_devices = g_strdupv((gchar **)g->example_devices->pdata);
		g_ptr_array_add(sum->failures, f);
	}
	if (!fst_report_scalar(
	        db,
	        "SELECT (SELECT value FROM db_properties WHERE key = 'database-id'), "
	        "(SELECT value FROM db_properties WHERE key = 'audit-head')",
	        &props) ||
	    sqlite3_step(props) != SQLITE_ROW)
		return fst_report_sql_error(db, db_path, "reading the database id", error), NULL;
	sum->database_id = g_strdup((const gchar *)sqlite3_column_text(props, 0));
	sum->audit_head = g_strdup((const gchar *)sqlite3_column_text(props, 1));
	return g_steal_pointer(&sum);
}

/**
 * fst_report_summary_free:
 * @self: (nullable): a summary
 */
void
fst_report_summary_free(FstReportSummary *self)
{
	if (self == NULL)
		return;
	for (guint i = 0; self->failures != NULL && i < self->failures->len; i++) {
		FstReportFailure *f = g_ptr_array_index(self->failures, i);
		g_free(f->reason);
		g_free(f->error_code);
		g_free(f->step);
		g_strfreev(f->example_devices);
		g_free(f);
	}
	if (self->failures != NULL)
		g_ptr_array_unref(self->failures);
	g_clear_pointer(&self->operators, g_ptr_array_unref);
	g_clear_pointer(&self->lots, g_ptr_array_unref);
	g_free(self->database_id);
	g_free(self->stations);
	g_free(self->audit_head);
	g_free(self);
}

/**
 * fst_report_csv_write_cell:
 * @out: where the cell goes
 * @cell: the text, any bytes (device-supplied strings are untrusted)
 *
 * Appends one CSV cell (RFC 4180): a cell holding a comma, a double quote, a
 * CR or LF, or starting or ending with a space is quoted, with its quotes
 * doubled. A cell that starts with `=`, `+`, `-`, `@`, a tab or a CR, which
 * a spreadsheet would run as a formula, gets a `'` put in front (and is
 * quoted), so it shows as text (OWASP "CSV injection"). Non-ASCII UTF-8 is
 * written as it is; the file starts with no byte order mark.
 */
void
fst_report_csv_write_cell(GString *out, const gchar *cell)
{
	gboolean formula = cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' ||
	                   cell[0] == '\t' || cell[0] == '\r';
	gsize len = strlen(cell);
	gboolean quote = formula || (len > 0 && (cell[0] == ' ' || cell[len - 1] == ' ')) ||
	                 strpbrk(cell, ",\"\r\n") != NULL;

	if (!quote) {
		g_string_append_len(out, cell, (gssize)len);
		return;
	}
	g_string_append_c(out, '"');
	if (formula)
		g_string_append_c(out, '\'');
	for (const gchar *p = cell; *p != '\0'; p++) {
		if (*p == '"')
			g_string_append_c(out, '"');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

typedef struct {
	FILE *out;
	GString *buf;
} FstReportCsv;

static gboolean
fst_report_csv_flush(FstReportCsv *csv, GError **error)
{
	if (csv->buf->len > 0 &&
	    fwrite(csv->buf->str, 1, csv->buf->len, csv->out) != csv->buf->len) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "writing the CSV report failed: %s: check the free space",
		            g_strerror(errno));
		return FALSE;
	}
	g_string_truncate(csv->buf, 0);
	return TRUE;
}

static gboolean
fst_report_csv_row(const gchar *const *cells, gpointer user_data, GError **error)
{
	FstReportCsv *csv = user_data;

	for (guint i = 0; i < FST_REPORT_N_COLUMNS; i++) {
		if (i > 0)
			g_string_append_c(csv->buf, ',');
		fst_report_csv_write_cell(csv->buf, cells[i]);
	}
	/* RFC 4180 line ends */
	g_string_append(csv->buf, "\r\n");
	if (csv->buf->len >= 1 << 16)
		return fst_report_csv_flush(csv, error);
	return TRUE;
}

/**
 * fst_report_write_csv:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @out: where to write; not closed
 * @error: (nullable): return location for a #GError
 *
 * Writes the report as CSV: a header row with the column names of
 * fst-report.h, then one row per device, CRLF line ends, cells quoted by
 * fst_report_csv_write_cell(). Streams: memory does not grow with the rows.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_write_csv(const gchar *db_path, const FstReportScope *scope, FILE *out, GError **error)
{
	g_autoptr(GString) buf = g_string_sized_new(1 << 17);
	FstReportCsv csv = {.out = out, .buf = buf};

	if (!fst_report_csv_row(fst_report_columns, &csv, error))
		return FALSE;
	if (!fst_report_foreach(db_path, scope, fst_report_csv_row, &csv, error))
		return FALSE;
	if (!fst_report_csv_flush(&csv, error))
		return FALSE;
	if (fflush(out) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "writing the CSV report failed: %s: check the free space",
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_report_foreach_roots:
 * @db_path: the station database
 * @lot: (nullable): only this lot's devices
 * @func: (scope call): called with %FST_REPORT_ROOTS_N_COLUMNS cells per row
 * @user_data: data for @func
 * @error: (nullable): return location for a #GError
 *
 * The root CAs in service, for expiry planning: one row per device that has
 * a certificate in service (`verified` or `registered`) and a trust-roots
 * object, ordered by lot, profile and device. The cells are the device uid,
 * the lot and profile of that certificate, its serial, its not_after (unix
 * seconds), the SHA-256 fingerprints of the roots last written to the
 * device (comma-separated, from `device_objects.contents`) and the detail of
 * the last `plan` event that chose roots (which says why).
 *
 * Returns: %TRUE when every row was passed to @func
 */
gboolean
fst_report_foreach_roots(const gchar *db_path,
                         const gchar *lot,
                         FstReportRowFunc func,
                         gpointer user_data,
                         GError **error)
{
	g_autoptr(sqlite3) db = fst_report_open(db_path, error);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *cells[FST_REPORT_ROOTS_N_COLUMNS];
	/* each device's last roots object from one pass over device_objects,
	 * which has no index by device (each device's own max(id) subquery
	 * scanned the table from its end: 200,000 devices took over 10 minutes,
	 * 0.4 s this way) */
	const gchar *sql =
	    "WITH last_roots AS (SELECT device_id, max(id) AS id FROM device_objects "
	    "WHERE kind = 'trust-roots' GROUP BY device_id) "
	    "SELECT d.uid, l.name, p.name, c.serial_hex, c.not_after, "
	    "o.contents, " FST_REPORT_LAST_PLAN(
	        "detail") " FROM last_roots r JOIN devices d ON d.id = r.device_id "
	                  "JOIN device_objects o ON o.id = r.id "
	                  "JOIN certificates c ON c.id = (SELECT max(id) FROM certificates WHERE "
	                  "device_id = d.id AND state IN ('verified', 'registered')) "
	                  "LEFT JOIN lots l ON l.id = c.lot_id LEFT JOIN profiles p ON p.id = "
	                  "c.profile_id "
	                  "WHERE ?1 IS NULL OR l.name = ?1 "
	                  "ORDER BY l.name, p.name, d.uid";
	gint rc;

	if (db == NULL)
		return FALSE;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return fst_report_sql_error(db, db_path, "preparing the roots query", error);
	if (lot != NULL)
		sqlite3_bind_text(stmt, 1, lot, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (guint i = 0; i < FST_REPORT_ROOTS_N_COLUMNS; i++) {
			const guchar *text = sqlite3_column_text(stmt, (gint)i);
			cells[i] = text != NULL ? (const gchar *)text : "";
		}
		if (!func(cells, user_data, error))
			return FALSE;
	}
	if (rc != SQLITE_DONE)
		return fst_report_sql_error(db, db_path, "reading the roots rows", error);
	return TRUE;
}
