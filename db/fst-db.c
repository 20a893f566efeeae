/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): the connection: opening (hardened, WAL, FULL), the statement
 * cache, write transactions and their guard, the input checks shared by every table, the state
 * names, and the read-only open for the query functions.
 */
static void
fst_db_stmt_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

gchar *
_fst_db_column_strdup(sqlite3_stmt *stmt, gint col)
{
	const guchar *text = sqlite3_column_text(stmt, col);
	return text != NULL ? g_strdup((const gchar *)text) : NULL;
}

void
_fst_db_stmt_release(FstDbStmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* error helpers */

static const gchar *
fst_db_rc_hint(gint rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another program holds the database locked: close it and retry";
	case SQLITE_FULL:
		return "the disk is full: free some space and retry";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		return "check that the file and its folder exist and are writable by this user";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "the file is damaged or is not a fleetstation database: restore it from a "
		       "backup or choose another file";
	case SQLITE_IOERR:
		return "the disk reported an I/O error: check the disk and the system log";
	case SQLITE_NOMEM:
		return "the station is out of memory";
	case SQLITE_CONSTRAINT:
		return "it conflicts with what is already recorded";
	default:
		break;
	}
	return NULL;
}

/* sets FST_ERROR_DATABASE: "<context> in <path>: <sqlite message>[: <hint>]" */
gboolean
_fst_db_set_error(FstDb *self, GError **error, gint rc, const gchar *format, ...)
{
	va_list args;
	const gchar *hint = fst_db_rc_hint(rc);
	const gchar *msg;
	g_autofree gchar *context = NULL;

	va_start(args, format);
	context = g_strdup_vprintf(format, args);
	va_end(args);

	/* the connection's message is more precise than the code's, when it is ours */
	msg = (self->db != NULL && sqlite3_errcode(self->db) == rc) ? sqlite3_errmsg(self->db)
	                                                            : sqlite3_errstr(rc);
	if (hint != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "%s in %s: %s: %s",
		            context,
		            self->path,
		            msg,
		            hint);
	} else {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_DATABASE, "%s in %s: %s", context, self->path, msg);
	}
	return FALSE;
}

/* statement helpers; all of them expect the mutex held */

/*
 * Statements are compiled once per connection and reused (SQLite re-prepares
 * one by itself if the schema changed): compiling costs more than running the
 * small statements a device needs. Hold the result in g_autoptr(FstDbStmt),
 * which resets it after use; the same SQL must not be in use twice at once.
 */
sqlite3_stmt *
_fst_db_prepare(FstDb *self, const gchar *sql, const gchar *what, GError **error)
{
	sqlite3_stmt *stmt;
	gint rc;

	/* the SQL is nearly always a literal: found by its address first, and
	 * by its text (hashed) when the address is new */
	stmt = g_hash_table_lookup(self->stmts_by_address, sql);
	if (stmt != NULL && strcmp(sqlite3_sql(stmt), sql) == 0)
		return stmt;
	stmt = g_hash_table_lookup(self->stmts, sql);
	if (stmt != NULL) {
		g_hash_table_insert(self->stmts_by_address, (gpointer)(guintptr)sql, stmt);
		return stmt;
	}
	rc = sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		_fst_db_set_error(self, error, rc, "preparing to %s", what);
		return NULL;
	}
	g_hash_table_insert(self->stmts, g_strdup(sql), stmt);
	g_hash_table_insert(self->stmts_by_address, (gpointer)(guintptr)sql, stmt);
	return stmt;
}

gboolean
_fst_db_check_bind(FstDb *self, gint rc, const gchar *what, GError **error)
{
	if (rc != SQLITE_OK)
		return _fst_db_set_error(self, error, rc, "binding values to %s", what);
	return TRUE;
}

/* runs a statement that returns no rows */
gboolean
_fst_db_step_done(FstDb *self, sqlite3_stmt *stmt, const gchar *what, GError **error)
{
	gint rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

/* runs a statement that must return one row; *found tells whether it did */
gboolean
_fst_db_step_row(
    FstDb *self, sqlite3_stmt *stmt, gboolean *found, const gchar *what, GError **error)
{
	gint rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*found = TRUE;
		return TRUE;
	}
	if (rc == SQLITE_DONE) {
		*found = FALSE;
		return TRUE;
	}
	return _fst_db_set_error(self, error, rc, "trying to %s", what);
}

/* runs fixed SQL with no parameters (pragmas, schema, transaction control) */
gboolean
_fst_db_exec(FstDb *self, const gchar *sql, const gchar *what, GError **error)
{
	gint rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return _fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

/* runs one statement without rows from the statement cache: BEGIN, COMMIT
 * and the savepoints of a group commit run several times per device, and
 * sqlite3_exec() would parse them each time; a failure says "trying to
 * @verb @what" */
static gboolean
fst_db_exec_cached_verb(
    FstDb *self, const gchar *sql, const gchar *verb, const gchar *what, GError **error)
{
	g_autoptr(FstDbStmt) stmt = _fst_db_prepare(self, sql, what, error);
	gint rc;

	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to %s%s", verb, what);
	return TRUE;
}

gboolean
_fst_db_exec_cached(FstDb *self, const gchar *sql, const gchar *what, GError **error)
{
	return fst_db_exec_cached_verb(self, sql, "", what, error);
}

/* what a write transaction remembers (struct _FstDb) ends with it */
static void
fst_db_forget_transaction(FstDb *self)
{
	self->head_known = FALSE;
	self->head_dirty = FALSE;
	self->tx_device_id = 0;
	self->tx_device_station = 0;
	self->tx_cert_serial[0] = '\0';
	self->tx_event_id = 0;
	if (self->dirty != NULL && self->dirty->len > 0) {
		g_array_set_size(self->dirty, 0);
		g_hash_table_remove_all(self->dirty_set);
	}
	self->dirty_stale = FALSE;
}

/* every row a statement inserts or updates in a bound table is noted, so
 * that no write path can change a row the chain does not then bind; a
 * delete is not (fleetstation deletes nothing: the audit reports the row
 * missing). The row's hash is taken here, from the values the statement
 * writes, so that binding it need not read it back: a row written twice
 * keeps the hash of its last write */
static void
fst_db_preupdate_hook(void *data,
                      sqlite3 *db,
                      int op,
                      const char *db_name,
                      const char *table,
                      sqlite3_int64 old_id,
                      sqlite3_int64 id)
{
	FstDb *self = data;
	FstAuditTable code;
	FstDbDirtyRow *row;
	gchar **columns;
	guint64 key;
	guint index;
	gint ncol;

	if (self->binding_off || op == SQLITE_DELETE || g_strcmp0(db_name, "main") != 0)
		return;
	code = fst_audit_table_from_name(table);
	if (code == FST_AUDIT_TABLE_NONE || id <= 0)
		return;
	key = FST_DB_DIRTY_KEY(code, id);
	index = GPOINTER_TO_UINT(g_hash_table_lookup(self->dirty_set, GSIZE_TO_POINTER(key)));
	if (index == 0) {
		FstDbDirtyRow fresh = {.key = key};
		g_array_append_val(self->dirty, fresh);
		index = self->dirty->len;
		g_hash_table_insert(
		    self->dirty_set, GSIZE_TO_POINTER(key), GUINT_TO_POINTER(index));
	}
	row = &g_array_index(self->dirty, FstDbDirtyRow, index - 1);
	columns = self->bound_columns[code];
	ncol = sqlite3_preupdate_count(db);
	/* a table whose columns are not the ones loaded is read back */
	row->hashed =
	    columns != NULL && (guint)ncol == g_strv_length(columns) &&
	    fst_audit_row_hash_new(db, code, (const gchar *const *)columns, ncol, row->hash);
}

/*
 * The column names of each bound table, for fst_db_preupdate_hook(), once
 * the schema is current. A table with a column of REAL affinity is left
 * out (SQLite stores an integral REAL as an integer, and reads it back as
 * a REAL): its rows are read back at binding, as any row is when its
 * hash could not be taken.
 */
static gboolean
fst_db_load_bound_columns(FstDb *self, GError **error)
{
	for (guint t = 1; t < FST_AUDIT_TABLE_LAST; t++) {
		g_autoptr(sqlite3_stmt) stmt = NULL;
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT * FROM %s", fst_audit_table_name((FstAuditTable)t));
		g_autoptr(GStrvBuilder) names = g_strv_builder_new();
		gboolean real = FALSE;
		gint rc = sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL);

		if (rc != SQLITE_OK)
			return _fst_db_set_error(
			    self, error, rc, "trying to read the columns of %s", sql);
		for (gint i = 0; i < sqlite3_column_count(stmt); i++) {
			const gchar *decl = sqlite3_column_decltype(stmt, i);
			g_autofree gchar *up = g_ascii_strup(decl != NULL ? decl : "", -1);
			if (strstr(up, "INT") == NULL &&
			    (strstr(up, "REAL") != NULL || strstr(up, "FLOA") != NULL ||
			     strstr(up, "DOUB") != NULL))
				real = TRUE;
			g_strv_builder_add(names, sqlite3_column_name(stmt, i));
		}
		g_clear_pointer(&self->bound_columns[t], g_strfreev);
		if (!real)
			self->bound_columns[t] = g_strv_builder_end(names);
	}
	return TRUE;
}

/* remembers a certificate for the rest of the write transaction */
void
_fst_db_remember_cert(
    FstDb *self, const gchar *serial, gint64 cert_id, gint64 device_id, FstCertState state)
{
	if (sqlite3_get_autocommit(self->db))
		return;
	g_strlcpy(self->tx_cert_serial, serial, sizeof(self->tx_cert_serial));
	self->tx_cert_id = cert_id;
	self->tx_cert_device = device_id;
	self->tx_cert_state = state;
}

/*
 * Durability (db/schema.md, "Durability"): every commit runs with
 * synchronous=FULL (set once in fst_db_setup()) and returns once the WAL is
 * on disk. What keeps that cheap is committing less often: the pipeline
 * gathers a device's records in an #FstDbDeviceLog and commits them in two
 * transactions. Inside fst_db_device_log_commit() the public functions run
 * as parts of its one transaction: their own BEGIN and COMMIT do nothing, and
 * a failure of any of them rolls back the whole of it.
 */
gboolean
_fst_db_begin(FstDb *self, const gchar *what, GError **error)
{
	/* IMMEDIATE takes the write lock now, so that two writers never deadlock
	 * upgrading read locks; the mutex already serialises our own threads */
	if (self->batch > 0)
		return TRUE;
	fst_db_forget_transaction(self);
	return fst_db_exec_cached_verb(
	    self, "BEGIN IMMEDIATE", "start a transaction to ", what, error);
}

/* SQLite's count of changes to the file, by this connection or another
 * (SQLITE_FCNTL_DATA_VERSION): unchanged, nobody wrote */
gboolean
_fst_db_data_version(FstDb *self, guint *version)
{
	return sqlite3_file_control(self->db, "main", SQLITE_FCNTL_DATA_VERSION, version) ==
	       SQLITE_OK;
}

/* the ids remembered across transactions (struct _FstDb) */
void
_fst_db_forget_ids(FstDb *self)
{
	g_clear_pointer(&self->last_profile_name, g_free);
	g_clear_pointer(&self->last_profile_sha256, g_free);
	self->last_profile_id = 0;
	self->last_ca_sha256[0] = '\0';
	self->last_ca_id = 0;
}

void
_fst_db_rollback(FstDb *self)
{
	fst_db_forget_transaction(self);
	_fst_db_forget_ids(self);
	/* a failed statement may already have ended the transaction */
	if (sqlite3_get_autocommit(self->db))
		return;
	if (sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		g_warning("rolling back a transaction in %s failed: %s",
		          self->path,
		          sqlite3_errmsg(self->db));
}

static gboolean
fst_db_write_audit_head(FstDb *self, const gchar *what, GError **error)
{
	g_autoptr(FstDbStmt) head = NULL;
	g_autofree gchar *value =
	    g_strdup_printf("%" G_GINT64_FORMAT " %s", self->head_id, self->head_hash);

	head = _fst_db_prepare(self,
	                       "INSERT INTO db_properties (key, value) VALUES ('audit-head', ?1) "
	                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	                       what,
	                       error);
	if (head == NULL)
		return FALSE;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(head, 1, value, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	return _fst_db_step_done(self, head, what, error);
}

gboolean
_fst_db_commit(FstDb *self, const gchar *what, GError **error)
{
	if (self->batch > 0)
		return TRUE;
	/* the rows written are bound into the chain as they are committed */
	if (self->dirty->len > 0 && !_fst_db_bind_rows(self, what, error)) {
		_fst_db_rollback(self);
		return FALSE;
	}
	/* the head seals the end of the chain: a deleted last row shows */
	if (self->head_dirty && !fst_db_write_audit_head(self, what, error)) {
		_fst_db_rollback(self);
		return FALSE;
	}
	if (!fst_db_exec_cached_verb(self, "COMMIT", "commit the transaction to ", what, error)) {
		_fst_db_rollback(self);
		return FALSE;
	}
	/* the end of the chain for the next transaction, unless another
	 * connection writes before it */
	self->saved_head_known =
	    self->head_known && _fst_db_data_version(self, &self->saved_head_version);
	if (self->saved_head_known) {
		self->saved_head_id = self->head_id;
		memcpy(self->saved_head_hash, self->head_hash, sizeof(self->saved_head_hash));
	}
	fst_db_forget_transaction(self);
	return TRUE;
}

gboolean
_fst_db_transaction_begin(FstDbTransaction *tx, FstDb *self, const gchar *what, GError **error)
{
	tx->db = self;
	/* inside a device log commit the transaction is the commit's: a
	 * failure here ends only its own savepoint, which the commit rolls back */
	if (self->batch > 0) {
		tx->open = FALSE;
		return TRUE;
	}
	tx->open = _fst_db_begin(self, what, error);
	return tx->open;
}

gboolean
_fst_db_transaction_commit(FstDbTransaction *tx, const gchar *what, GError **error)
{
	/* a commit that fails has rolled back already */
	tx->open = FALSE;
	return _fst_db_commit(tx->db, what, error);
}

void
_fst_db_transaction_clear(FstDbTransaction *tx)
{
	if (tx->open)
		_fst_db_rollback(tx->db);
	tx->open = FALSE;
}

void
_fst_db_tx_mark(FstDb *self, FstDbTxMark *mark)
{
	mark->head_known = self->head_known;
	mark->head_dirty = self->head_dirty;
	mark->head_id = self->head_id;
	memcpy(mark->head_hash, self->head_hash, sizeof(mark->head_hash));
	mark->tx_event_id = self->tx_event_id;
	memcpy(mark->tx_event_prev, self->tx_event_prev, sizeof(mark->tx_event_prev));
	mark->tx_event = self->tx_event;
	mark->tx_event_step = g_strdup(self->tx_event_step);
	mark->tx_event_outcome = g_strdup(self->tx_event_outcome);
	mark->tx_event_detail = g_strdup(self->tx_event_detail);
	mark->dirty_len = self->dirty->len;
}

/* after ROLLBACK TO the savepoint of @mark: what the transaction remembers
 * is as it was then */
void
_fst_db_tx_restore(FstDb *self, FstDbTxMark *mark)
{
	self->head_known = mark->head_known;
	self->head_dirty = mark->head_dirty;
	self->head_id = mark->head_id;
	memcpy(self->head_hash, mark->head_hash, sizeof(self->head_hash));
	self->tx_event_id = mark->tx_event_id;
	memcpy(self->tx_event_prev, mark->tx_event_prev, sizeof(self->tx_event_prev));
	g_free(self->tx_event_step);
	g_free(self->tx_event_outcome);
	g_free(self->tx_event_detail);
	self->tx_event_step = g_steal_pointer(&mark->tx_event_step);
	self->tx_event_outcome = g_steal_pointer(&mark->tx_event_outcome);
	self->tx_event_detail = g_steal_pointer(&mark->tx_event_detail);
	self->tx_event = mark->tx_event;
	self->tx_event.step = self->tx_event_step;
	self->tx_event.outcome = self->tx_event_outcome;
	self->tx_event.detail = self->tx_event_detail;
	/* the rows noted since were rolled back; a row noted before stays noted,
	 * and what it holds again is read back at binding */
	for (guint i = mark->dirty_len; i < self->dirty->len; i++) {
		guint64 key = g_array_index(self->dirty, FstDbDirtyRow, i).key;
		g_hash_table_remove(self->dirty_set, GSIZE_TO_POINTER(key));
	}
	if (self->dirty->len > mark->dirty_len)
		g_array_set_size(self->dirty, mark->dirty_len);
	self->dirty_stale = TRUE;
	/* the lookups remembered may name rows that are gone */
	_fst_db_forget_ids(self);
	self->tx_device_id = 0;
	self->tx_device_station = 0;
	self->tx_cert_serial[0] = '\0';
}

void
_fst_db_tx_mark_clear(FstDbTxMark *mark)
{
	g_clear_pointer(&mark->tx_event_step, g_free);
	g_clear_pointer(&mark->tx_event_outcome, g_free);
	g_clear_pointer(&mark->tx_event_detail, g_free);
}

/* binds @value, or NULL when @value is 0 (ids) */
gint
_fst_db_bind_id(sqlite3_stmt *stmt, gint idx, gint64 value)
{
	if (value <= 0)
		return sqlite3_bind_null(stmt, idx);
	return sqlite3_bind_int64(stmt, idx, value);
}

/* input checks */

/* @single_line: no control characters at all, else newline and tab are allowed */
gboolean
_fst_db_check_text(const gchar *field,
                   const gchar *value,
                   gsize max,
                   gboolean required,
                   gboolean single_line,
                   GError **error)
{
	gsize len;

	if (value == NULL || value[0] == '\0') {
		if (!required)
			return TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is empty: the database needs it to record the device",
		            field);
		return FALSE;
	}
	len = strnlen(value, max + 1);
	if (len > max) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is longer than %" G_GSIZE_FORMAT " bytes: refusing to record it",
		            field,
		            max);
		return FALSE;
	}
	if (!g_utf8_validate(value, (gssize)len, NULL)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is not valid UTF-8: refusing to record it",
		            field);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)value[i];
		if (c >= 0x20 && c != 0x7f)
			continue;
		if (!single_line && (c == '\n' || c == '\t'))
			continue;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s holds control character 0x%02x at byte %" G_GSIZE_FORMAT
		            ": refusing to record it",
		            field,
		            c,
		            i);
		return FALSE;
	}
	return TRUE;
}

/* a step or outcome name: [a-z0-9-], starting with a letter */
gboolean
_fst_db_check_token(const gchar *field, const gchar *value, GError **error)
{
	gsize len = value != NULL ? strnlen(value, FST_DB_MAX_NAME + 1) : 0;

	if (len == 0 || len > 64 || !g_ascii_islower(value[0])) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s '%s' is not a lower-case name of 1 to 64 characters",
		            field,
		            len > 64 ? "(too long)" : (value != NULL ? value : "(null)"));
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		gchar c = value[i];
		if (g_ascii_islower(c) || g_ascii_isdigit(c) || c == '-')
			continue;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s '%s' may hold only a-z, 0-9 and '-'",
		            field,
		            value);
		return FALSE;
	}
	return TRUE;
}

/* returns @value in @case_upper or lower case if it is 1..@max hex digits */
gchar *
_fst_db_normalize_hex(
    const gchar *field, const gchar *value, gsize min, gsize max, gboolean upper, GError **error)
{
	gsize len = value != NULL ? strnlen(value, max + 1) : 0;

	if (len < min || len > max || len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s must be %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT
		            " hexadecimal digits, got %s",
		            field,
		            MAX(min, (gsize)1),
		            max,
		            len > max ? "a longer string" : (len == 0 ? "nothing" : value));
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isxdigit(value[i])) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s '%s' is not hexadecimal",
			            field,
			            value);
			return NULL;
		}
	}
	return upper ? g_ascii_strup(value, (gssize)len) : g_ascii_strdown(value, (gssize)len);
}

/* a copy of @text that is valid UTF-8 and at most @max bytes, cut at a character */
gchar *
_fst_db_text_bounded(const gchar *text, gsize max)
{
	g_autofree gchar *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
	gsize len = strlen(valid);

	if (len <= max)
		return g_steal_pointer(&valid);
	/* step back to the start of a character */
	while (max > 0 && (((guchar)valid[max]) & 0xc0) == 0x80)
		max--;
	valid[max] = '\0';
	return g_steal_pointer(&valid);
}

/* state names */

const gchar *const fst_cert_state_names[] = {
    [FST_CERT_STATE_ISSUED] = "issued",
    [FST_CERT_STATE_BURNED] = "burned",
    [FST_CERT_STATE_VERIFIED] = "verified",
    [FST_CERT_STATE_REGISTERED] = "registered",
    [FST_CERT_STATE_SUPERSEDED] = "superseded",
    [FST_CERT_STATE_REVOKED] = "revoked",
    [FST_CERT_STATE_INTERRUPTED] = "interrupted",
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_cert_state_names) == FST_CERT_STATE_LAST);

/**
 * fst_cert_state_to_string:
 * @state: an #FstCertState
 *
 * Returns: (transfer none): the name stored in `certificates.state`, e.g.
 * "issued", or "unknown"
 */
const gchar *
fst_cert_state_to_string(FstCertState state)
{
	if ((guint)state >= FST_CERT_STATE_LAST)
		return "unknown";
	return fst_cert_state_names[state];
}

/**
 * fst_db_device_state_to_string:
 * @state: an #FstDbDeviceState
 *
 * Returns: (transfer none): the name stored in `devices.state`, e.g.
 * "provisioned", or "unknown"
 */
const gchar *
fst_db_device_state_to_string(FstDbDeviceState state)
{
	if ((guint)state >= FST_DB_DEVICE_STATE_LAST)
		return "unknown";
	return fst_db_device_states[state];
}

/**
 * fst_db_device_state_from_string:
 * @str: (nullable): a name stored in `devices.state`
 * @state: (out): its value
 *
 * Returns: %TRUE when @str is one of the device state names
 */
gboolean
fst_db_device_state_from_string(const gchar *str, FstDbDeviceState *state)
{
	for (guint i = 0; i < FST_DB_DEVICE_STATE_LAST; i++) {
		if (g_strcmp0(str, fst_db_device_states[i]) == 0) {
			*state = (FstDbDeviceState)i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
_fst_cert_state_from_string(const gchar *str, FstCertState *state)
{
	for (guint i = 0; i < FST_CERT_STATE_LAST; i++) {
		if (g_strcmp0(str, fst_cert_state_names[i]) == 0) {
			*state = (FstCertState)i;
			return TRUE;
		}
	}
	return FALSE;
}

/* certificates only move forward through issued, burned, verified and
 * registered; only one in service (verified, registered) or of an interrupted
 * attempt can be superseded, and a superseded one can only be revoked; only
 * an issued or burned one can be interrupted, and an interrupted one can only
 * be superseded or revoked; revoked is final and reachable from any state */
gboolean
_fst_cert_state_can_move(FstCertState from, FstCertState to)
{
	if (from == to)
		return TRUE;
	if (from == FST_CERT_STATE_REVOKED)
		return FALSE;
	if (to == FST_CERT_STATE_REVOKED)
		return TRUE;
	if (to == FST_CERT_STATE_SUPERSEDED)
		return from == FST_CERT_STATE_VERIFIED || from == FST_CERT_STATE_REGISTERED ||
		       from == FST_CERT_STATE_INTERRUPTED;
	if (to == FST_CERT_STATE_INTERRUPTED)
		return from == FST_CERT_STATE_ISSUED || from == FST_CERT_STATE_BURNED;
	if (from == FST_CERT_STATE_SUPERSEDED || from == FST_CERT_STATE_INTERRUPTED)
		return FALSE;
	return to > from;
}

/* records */

/**
 * fst_db_cert_free:
 * @self: (nullable): an #FstDbCert
 *
 * Frees a certificate record and everything it owns.
 */
void
fst_db_cert_free(FstDbCert *self)
{
	if (self == NULL)
		return;
	g_free(self->serial_hex);
	if (self->der != NULL)
		g_bytes_unref(self->der);
	g_free(self->aws_cert_id);
	g_free(self->subject);
	g_free(self->key_type);
	g_free(self->issuer_sha256);
	g_free(self->profile);
	g_free(self->profile_sha256);
	g_free(self->device_uid);
	g_free(self->operator_name);
	g_free(self->lot);
	g_free(self->revocation_reason);
	g_free(self->register_target);
	g_free(self->register_remote_id);
	g_free(self);
}

/**
 * fst_db_device_free:
 * @self: (nullable): an #FstDbDevice
 *
 * Frees a device record, including its certificate.
 */
void
fst_db_device_free(FstDbDevice *self)
{
	if (self == NULL)
		return;
	g_free(self->uid);
	g_free(self->model);
	g_free(self->firmware);
	g_free(self->port);
	g_free(self->last_error);
	fst_db_cert_free(self->cert);
	g_free(self->key_types);
	g_free(self->validation);
	g_free(self->operator_name);
	g_free(self->lot);
	g_free(self);
}

/**
 * fst_db_event_free:
 * @self: (nullable): an #FstDbEvent
 *
 * Frees an event record.
 */
void
fst_db_event_free(FstDbEvent *self)
{
	if (self == NULL)
		return;
	g_free(self->step);
	g_free(self->outcome);
	g_free(self->detail);
	g_free(self->hash);
	g_free(self);
}

/* opening */

/*
 * Checks @path before SQLite opens it, and opens nothing to do it. Closing
 * any descriptor of the database file drops every lock this process holds
 * on it (fcntl(2)), also those of the station's connections already open:
 * the line's, its registration worker's. Another process closing its own
 * connection would then find the file unused, fold the WAL into it and
 * delete the WAL and its index under them, and their next commits would go
 * to a deleted file, seen by no other process and lost at a power loss.
 * So this only looks (stat, access) and fixes the mode by path; the header
 * is read through SQLite's own file, fst_db_check_header().
 */
static gboolean
fst_db_check_file(const gchar *path, gboolean *exists, GError **error)
{
	GStatBuf st = {0};

	if (g_stat(path, &st) != 0 || g_access(path, R_OK) != 0) {
		gint errsv = errno;
		if (errsv == ENOENT) {
			*exists = FALSE;
			return TRUE;
		}
		g_set_error(error,
		            FST_ERROR,
		            errsv == EACCES ? FST_ERROR_PERMISSION_DENIED : FST_ERROR_DATABASE,
		            "cannot open database %s: %s: check the path and its permissions",
		            path,
		            g_strerror(errsv));
		return FALSE;
	}
	*exists = TRUE;
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s is not a regular file: choose a file path",
		            path);
		return FALSE;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		if (g_chmod(path, st.st_mode & 07775) != 0) {
			gint errsv = errno;
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PERMISSION_DENIED,
			            "database %s is writable by every user and its mode cannot be "
			            "fixed (%s): run chmod o-w on it",
			            path,
			            g_strerror(errsv));
			return FALSE;
		}
		g_warning("database %s was writable by every user, removed that permission", path);
	}
	return TRUE;
}

/*
 * Refuses a file that is neither empty nor a SQLite database before any
 * statement runs, so that a wrong path never gets rewritten. It reads the
 * header through the connection's own file, which SQLite keeps open while
 * this process holds locks on the database (fst_db_check_file()).
 */
static gboolean
fst_db_check_header(FstDb *self, GError **error)
{
	static const gchar header[16] = "SQLite format 3";
	gchar buf[sizeof(header)] = {0};
	sqlite3_file *file = NULL;
	sqlite3_int64 size = 0;
	gint rc;

	rc = sqlite3_file_control(self->db, "main", SQLITE_FCNTL_FILE_POINTER, &file);
	if (rc == SQLITE_OK && (file == NULL || file->pMethods == NULL))
		rc = SQLITE_CANTOPEN;
	if (rc == SQLITE_OK)
		rc = file->pMethods->xFileSize(file, &size);
	/* an empty file is a new database, as SQLite sees it too */
	if (rc == SQLITE_OK && size == 0)
		return TRUE;
	if (rc == SQLITE_OK)
		rc = file->pMethods->xRead(file, buf, sizeof(buf), 0);
	if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
		return _fst_db_set_error(self, error, rc, "reading the database header");
	if (rc == SQLITE_IOERR_SHORT_READ || memcmp(buf, header, sizeof(header)) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "%s is not a SQLite database, so not a fleetstation database: it was "
		            "left untouched; choose another file or restore the station "
		            "database from a backup",
		            self->path);
		return FALSE;
	}
	return TRUE;
}

gboolean
_fst_db_query_text(FstDb *self, const gchar *sql, gchar **value, GError **error)
{
	g_autoptr(FstDbStmt) stmt = _fst_db_prepare(self, sql, sql, error);
	gboolean found = FALSE;

	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_step_row(self, stmt, &found, sql, error))
		return FALSE;
	*value = found ? _fst_db_column_strdup(stmt, 0) : NULL;
	return TRUE;
}

/*
 * Switching to WAL needs the file to itself and SQLite does not wait for that
 * with the busy handler: when another connection (a second station process
 * opening the same new file) is there, retry within the busy timeout.
 */
static gboolean
fst_db_set_wal(FstDb *self, gchar **journal, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + FST_DB_BUSY_TIMEOUT_MS * 1000;

	if (!_fst_db_query_text(self, "PRAGMA journal_mode", journal, error))
		return FALSE;
	if (g_strcmp0(*journal, "wal") == 0)
		return TRUE;
	for (;;) {
		g_autoptr(GError) error_local = NULL;
		g_clear_pointer(journal, g_free);
		if (_fst_db_query_text(self, "PRAGMA journal_mode = WAL", journal, &error_local))
			return TRUE;
		if ((sqlite3_extended_errcode(self->db) & 0xff) != SQLITE_BUSY ||
		    g_get_monotonic_time() > deadline) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_usleep(5000);
	}
}

static gboolean
fst_db_setup(FstDb *self, GError **error)
{
	g_autofree gchar *journal = NULL;
	g_autofree gchar *fkeys = NULL;
	gint rc;

	sqlite3_extended_result_codes(self->db, 1);
	rc = sqlite3_busy_timeout(self->db, FST_DB_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return _fst_db_set_error(self, error, rc, "setting the busy timeout");

	/* a crafted file must not be able to run SQL functions from its schema,
	 * nor can our own SQL corrupt the schema by writing sqlite_master */
	rc = sqlite3_db_config(self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc |= sqlite3_db_config(self->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (rc != SQLITE_OK)
		return _fst_db_set_error(self, error, rc, "hardening the connection");

	/* read-only first: a file from a newer fleetstation is left byte for byte */
	if (!_fst_db_read_user_version(self, &self->schema_version, error))
		return FALSE;
	if (self->schema_version > FST_DB_SCHEMA_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %u, this fleetstation knows up to %u: "
		            "upgrade fleetstation",
		            self->path,
		            self->schema_version,
		            (guint)FST_DB_SCHEMA_VERSION);
		return FALSE;
	}

	/* migrations run with foreign keys off (the SQLite table-rebuild recipe needs
	 * it) and check them before each commit */
	if (!_fst_db_exec(self, "PRAGMA foreign_keys = OFF", "turn foreign keys off", error))
		return FALSE;
	if (!_fst_db_exec(self, "PRAGMA synchronous = FULL", "set synchronous mode", error))
		return FALSE;
	/* a new file gets 2 KiB pages: every commit writes each page it touched
	 * whole into the WAL, so this halves the bytes synced per device for
	 * about the same file size (db/schema.md, "Size and cost"); a file
	 * already written keeps its page size (changing it means a VACUUM) */
	if (self->schema_version == 0 &&
	    !_fst_db_exec(self,
	                  "PRAGMA page_size = " G_STRINGIFY(FST_DB_PAGE_SIZE),
	                  "set the page size",
	                  error))
		return FALSE;

	/* a copy of the file as it was, before a migration rewrites tables; a
	 * new (empty) file has nothing to keep */
	if (self->schema_version > 0 && self->schema_version < FST_DB_SCHEMA_VERSION) {
		g_autoptr(GDateTime) now = g_date_time_new_now_utc();
		g_autofree gchar *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
		g_autofree gchar *dest = g_strdup_printf("%s.v%u-%s-%06d.bak",
		                                         self->path,
		                                         self->schema_version,
		                                         stamp,
		                                         g_date_time_get_microsecond(now));
		if (!_fst_db_backup_to(self->path, dest, error)) {
			g_prefix_error(error,
			               "not migrating %s from schema version %u (nothing was "
			               "changed): ",
			               self->path,
			               self->schema_version);
			return FALSE;
		}
		g_message("backed up %s to %s before migrating it from schema version %u to %u",
		          self->path,
		          dest,
		          self->schema_version,
		          (guint)FST_DB_SCHEMA_VERSION);
		self->last_backup = g_steal_pointer(&dest);
	}
	if (!_fst_db_migrate(self, error) || !fst_db_load_bound_columns(self, error))
		return FALSE;

	/* WAL lets a report read while the workers write; FULL makes every commit
	 * durable, as an issued certificate must be before it reaches a device */
	if (!fst_db_set_wal(self, &journal, error))
		return FALSE;
	if (g_strcmp0(journal, "wal") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s cannot use write-ahead logging (journal mode stays %s): "
		            "keep it on a local disk, not a network share",
		            self->path,
		            journal != NULL ? journal : "unknown");
		return FALSE;
	}
	if (!_fst_db_exec(self, "PRAGMA synchronous = FULL", "set synchronous mode", error))
		return FALSE;
	if (!_fst_db_exec(self, "PRAGMA foreign_keys = ON", "turn foreign keys on", error))
		return FALSE;
	if (!_fst_db_query_text(self, "PRAGMA foreign_keys", &fkeys, error))
		return FALSE;
	if (g_strcmp0(fkeys, "1") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "the SQLite library does not enforce foreign keys on %s: "
		            "use a build of SQLite with foreign key support",
		            self->path);
		return FALSE;
	}
	return TRUE;
}

static FstDb *
fst_db_new(const gchar *path)
{
	FstDb *self = g_new0(FstDb, 1);
	g_rec_mutex_init(&self->mutex);
	self->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fst_db_stmt_finalize);
	self->stmts_by_address = g_hash_table_new(g_direct_hash, g_direct_equal);
	self->path = g_strdup(path);
	self->dirty = g_array_new(FALSE, FALSE, sizeof(FstDbDirtyRow));
	self->dirty_set = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_mutex_init(&self->queue_lock);
	self->queue = g_ptr_array_new();
	return self;
}

/*
 * How SQLite runs in this process, set before its first connection:
 * without the global count of the memory it allocates, which takes a lock
 * of its own around every allocation (about 5 % of the instructions of a
 * device log commit) and which nothing here reads. Once SQLite is running
 * (another library opened a connection first) the setting is refused and
 * SQLite keeps counting: slower, not wrong.
 */
void
_fst_db_sqlite_init(void)
{
	static gsize once = 0;

	if (g_once_init_enter(&once)) {
		gint rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
		if (rc != SQLITE_OK)
			g_debug("SQLite was already initialised, it keeps counting its memory: %s",
			        sqlite3_errstr(rc));
		g_once_init_leave(&once, 1);
	}
}

/**
 * fst_db_open:
 * @path: the database file; created (with its folder) if missing
 * @error: (nullable): return location for a #GError
 *
 * Opens the station database, switches it to WAL with synchronous=FULL and
 * foreign keys on, and migrates it to %FST_DB_SCHEMA_VERSION, each step in
 * one transaction. The returned handle is safe to share between threads.
 *
 * Fails with %FST_ERROR_DATABASE, leaving the file as it was, if @path is not
 * a SQLite database, comes from a newer fleetstation, or a migration fails.
 * A file is never deleted.
 *
 * Returns: (transfer full): the database, or %NULL on error
 */
FstDb *
fst_db_open(const gchar *path, GError **error)
{
	g_autoptr(FstDb) self = NULL;
	gboolean exists = FALSE;
	gint rc;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!fst_db_check_file(path, &exists, error))
		return NULL;
	if (!exists) {
		g_autofree gchar *dir = g_path_get_dirname(path);
		if (g_mkdir_with_parents(dir, 0755) != 0) {
			gint errsv = errno;
			g_set_error(error,
			            FST_ERROR,
			            errsv == EACCES ? FST_ERROR_PERMISSION_DENIED
			                            : FST_ERROR_DATABASE,
			            "cannot create folder %s for database %s: %s",
			            dir,
			            path,
			            g_strerror(errsv));
			return NULL;
		}
	}

	_fst_db_sqlite_init();
	self = fst_db_new(path);
	/* the WAL written once per commit: this connection syncs at every one */
	rc = sqlite3_open_v2(path,
	                     &self->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     _fst_db_wal_vfs_name());
	if (rc != SQLITE_OK) {
		_fst_db_set_error(self, error, rc, "opening the database");
		return NULL;
	}
	if (!fst_db_check_header(self, error))
		return NULL;
	sqlite3_preupdate_hook(self->db, fst_db_preupdate_hook, self);
	if (!fst_db_setup(self, error))
		return NULL;
	g_debug("opened %s at schema version %u", path, self->schema_version);
	return g_steal_pointer(&self);
}

/**
 * fst_db_open_read_only:
 * @path: an existing station database file
 * @error: (nullable): return location for a #GError
 *
 * Opens the database for the query functions only, also on read-only media
 * (the same read-only open as the audit and the reports). Nothing is
 * migrated or changed; every write function fails with %FST_ERROR_DATABASE.
 *
 * Fails with %FST_ERROR_NOT_FOUND when there is no file, and with
 * %FST_ERROR_DATABASE when it cannot be read or is not at
 * %FST_DB_SCHEMA_VERSION (an older file must be opened once with
 * fst_db_open() on writable storage to migrate it).
 *
 * Returns: (transfer full): the database, or %NULL on error
 */
FstDb *
fst_db_open_read_only(const gchar *path, GError **error)
{
	g_autoptr(FstDb) self = NULL;

	g_return_val_if_fail(path != NULL, NULL);

	self = fst_db_new(path);
	self->read_only = TRUE;
	self->db = _fst_db_connect_read_only(path, error);
	if (self->db == NULL)
		return NULL;
	sqlite3_extended_result_codes(self->db, 1);
	if (!_fst_db_read_user_version(self, &self->schema_version, error))
		return NULL;
	if (self->schema_version != FST_DB_SCHEMA_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %u and this fleetstation reads %u "
		            "without writing: open it once on writable storage to migrate it",
		            path,
		            self->schema_version,
		            (guint)FST_DB_SCHEMA_VERSION);
		return NULL;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_db_close:
 * @self: (nullable) (transfer full): an #FstDb
 *
 * Closes the database. No other thread may use @self any more.
 */
void
fst_db_close(FstDb *self)
{
	if (self == NULL)
		return;
	/* the cached statements go first, or the connection cannot close */
	g_hash_table_destroy(self->stmts_by_address);
	if (self->stmts != NULL)
		g_hash_table_destroy(self->stmts);
	if (self->db != NULL) {
		gint rc = sqlite3_close(self->db);
		if (rc != SQLITE_OK) {
			g_warning("closing database %s failed: %s", self->path, sqlite3_errstr(rc));
			sqlite3_close_v2(self->db);
		}
	}
	g_rec_mutex_clear(&self->mutex);
	g_free(self->path);
	g_free(self->last_backup);
	g_array_unref(self->dirty);
	g_hash_table_unref(self->dirty_set);
	for (guint t = 0; t < FST_AUDIT_TABLE_LAST; t++)
		g_strfreev(self->bound_columns[t]);
	g_ptr_array_unref(self->queue);
	g_mutex_clear(&self->queue_lock);
	g_free(self->tx_event_step);
	g_free(self->tx_event_outcome);
	g_free(self->tx_event_detail);
	_fst_db_forget_ids(self);
	if (self->fold != NULL)
		g_ptr_array_unref(self->fold);
	g_free(self);
}

/**
 * fst_db_get_schema_version:
 * @self: an #FstDb
 *
 * Returns: the schema version of the open file, %FST_DB_SCHEMA_VERSION once
 * fst_db_open() succeeded
 */
guint
fst_db_get_schema_version(FstDb *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->schema_version;
}

/**
 * fst_db_get_path:
 * @self: an #FstDb
 *
 * Returns: (transfer none): the path the database was opened from
 */
const gchar *
fst_db_get_path(FstDb *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->path;
}

/**
 * fst_db_get_synchronous:
 * @self: an #FstDb
 *
 * Asks the connection itself for its `PRAGMA synchronous` setting, so that a
 * test checks what the station really runs with.
 *
 * Returns: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA; -1 when the query fails
 */
gint
fst_db_get_synchronous(FstDb *self)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	sqlite3_stmt *stmt = NULL;
	gint value = -1;

	g_return_val_if_fail(self != NULL, -1);
	locker = g_rec_mutex_locker_new(&self->mutex);
	if (sqlite3_prepare_v2(self->db, "PRAGMA synchronous", -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		value = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return value;
}
