/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): the events and the audit chain: each event chained to the
 * one before it, and the rows a transaction wrote bound into its last event (db/fst-audit.c).
 */

/* the end of the chain, read once per write transaction */
static gboolean
fst_db_load_head(FstDb *self, const gchar *what, GError **error)
{
	g_autoptr(FstDbStmt) last = NULL;
	g_autofree gchar *prev = NULL;
	gboolean found = FALSE;

	if (self->head_known)
		return TRUE;
	/* as the last commit left it, if nobody wrote since (the write lock
	 * is held now, so nobody writes until this transaction ends) */
	if (self->saved_head_known) {
		guint version = 0;
		if (_fst_db_data_version(self, &version) && version == self->saved_head_version) {
			self->head_id = self->saved_head_id;
			memcpy(self->head_hash, self->saved_head_hash, sizeof(self->head_hash));
			self->head_known = TRUE;
			return TRUE;
		}
		self->saved_head_known = FALSE;
	}
	last = _fst_db_prepare(
	    self, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", what, error);
	if (last == NULL)
		return FALSE;
	if (!_fst_db_step_row(self, last, &found, what, error))
		return FALSE;
	self->head_id = found ? sqlite3_column_int64(last, 0) : 0;
	prev = found ? fst_audit_hash_from_bytes(sqlite3_column_blob(last, 1),
	                                         (gsize)sqlite3_column_bytes(last, 1))
	             : NULL;
	g_strlcpy(
	    self->head_hash, prev != NULL ? prev : FST_AUDIT_GENESIS, sizeof(self->head_hash));
	self->head_known = TRUE;
	return TRUE;
}

/* a step of the device log being written (_fst_db_fold_begin()), kept for
 * its one event; FALSE when the event is to be written as it is */
static gboolean
fst_db_fold_step(FstDb *self,
                 gint64 device_id,
                 gint64 station_id,
                 const gchar *step,
                 gint64 started_us,
                 gint64 ended_us,
                 const gchar *outcome,
                 const gchar *detail,
                 GBytes *rows)
{
	FstAuditStep *st;

	if (self->fold == NULL || rows != NULL || device_id <= 0 ||
	    device_id != self->fold_device_id)
		return FALSE;
	if (self->fold->len == 0)
		self->fold_station_id = station_id;
	else if (station_id != self->fold_station_id)
		return FALSE;
	st = g_new0(FstAuditStep, 1);
	st->step = g_strdup(step);
	st->started_at = started_us;
	st->ended_at = ended_us;
	st->outcome = g_strdup(outcome);
	st->detail = g_strdup(detail);
	g_ptr_array_add(self->fold, st);
	return TRUE;
}

/**
 * _fst_db_fold_begin:
 * @self: an #FstDb, in a write transaction
 * @device_id: the device of the log being written
 *
 * From now on the events of @device_id are kept in memory, to be written as
 * one event (step %FST_AUDIT_STEP_FOLDED) by _fst_db_fold_end().
 */
void
_fst_db_fold_begin(FstDb *self, gint64 device_id)
{
	g_clear_pointer(&self->fold, g_ptr_array_unref);
	self->fold = g_ptr_array_new_with_free_func((GDestroyNotify)fst_audit_step_free);
	self->fold_device_id = device_id;
	self->fold_station_id = 0;
}

/* drops what was folded (the log failed: its savepoint is rolled back) */
void
_fst_db_fold_clear(FstDb *self)
{
	g_clear_pointer(&self->fold, g_ptr_array_unref);
	self->fold_device_id = 0;
}

gboolean
_fst_db_insert_event_rows_locked(FstDb *self,
                                 gint64 device_id,
                                 gint64 station_id,
                                 const gchar *step,
                                 gint64 started_us,
                                 gint64 ended_us,
                                 const gchar *outcome,
                                 const gchar *detail,
                                 GBytes *rows,
                                 GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = NULL;
	g_autofree gchar *hash = NULL;
	guint8 raw[FST_AUDIT_HASH_LEN];
	gsize rows_len = 0;
	FstAuditEventRow row = {
	    .device_id = MAX(device_id, 0),
	    .station_id = station_id > 0 ? station_id : MAX(self->station_id, 0),
	    .operator_id = self->operator_id,
	    .lot_id = self->lot_id,
	    .step = step,
	    .step_len = -1,
	    .started_at = started_us,
	    .ended_at = ended_us,
	    .outcome = outcome,
	    .outcome_len = -1,
	    .detail = detail,
	    .detail_len = -1,
	    .rows = rows != NULL ? g_bytes_get_data(rows, &rows_len) : NULL,
	};
	gint rc;

	/* inside a device log, its device's events are folded into one */
	if (fst_db_fold_step(
	        self, device_id, row.station_id, step, started_us, ended_us, outcome, detail, rows))
		return TRUE;
	row.rows_len = rows_len;
	what = g_strdup_printf("record event %s", step);
	/* the chain (db/fst-audit.c): this row's hash covers its content and the
	 * hash of the row before it; the caller holds the write transaction, so
	 * the last row read once stays the last but for ours */
	if (!fst_db_load_head(self, what, error))
		return FALSE;
	row.id = self->head_id + 1;
	hash = fst_audit_event_hash(self->head_hash, &row);
	fst_audit_hash_to_bytes(hash, raw);

	stmt = _fst_db_prepare(
	    self,
	    rows != NULL ? "INSERT INTO events (id, device_id, station_id, operator_id, "
	                   "lot_id, step, started_at, ended_at, outcome, detail, hash, rows) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	                 : "INSERT INTO events (id, device_id, station_id, operator_id, "
	                   "lot_id, step, started_at, ended_at, outcome, detail, hash) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	    what,
	    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, row.id);
	rc |= _fst_db_bind_id(stmt, 2, row.device_id);
	rc |= _fst_db_bind_id(stmt, 3, row.station_id);
	rc |= _fst_db_bind_id(stmt, 4, row.operator_id);
	rc |= _fst_db_bind_id(stmt, 5, row.lot_id);
	rc |= sqlite3_bind_text(stmt, 6, step, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 7, started_us);
	rc |= sqlite3_bind_int64(stmt, 8, ended_us);
	rc |= sqlite3_bind_text(stmt, 9, outcome, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 10, detail, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob(stmt, 11, raw, sizeof(raw), SQLITE_TRANSIENT);
	if (rows != NULL)
		rc |= sqlite3_bind_blob(stmt, 12, row.rows, (gint)rows_len, SQLITE_TRANSIENT);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!_fst_db_step_done(self, stmt, what, error))
		return FALSE;

	/* kept for the bindings of this transaction (_fst_db_bind_rows()) */
	if (!sqlite3_get_autocommit(self->db)) {
		self->tx_event_id = row.id;
		g_strlcpy(self->tx_event_prev, self->head_hash, sizeof(self->tx_event_prev));
		g_free(self->tx_event_step);
		g_free(self->tx_event_outcome);
		g_free(self->tx_event_detail);
		self->tx_event_step = g_strdup(step);
		self->tx_event_outcome = g_strdup(outcome);
		self->tx_event_detail = g_strdup(detail);
		self->tx_event = row;
		self->tx_event.step = self->tx_event_step;
		self->tx_event.outcome = self->tx_event_outcome;
		self->tx_event.detail = self->tx_event_detail;
		/* only whether it binds rows already: those are never rewritten */
		self->tx_event.rows = NULL;
		self->tx_event.rows_len = rows_len;
	}

	/* written to `audit-head` by _fst_db_commit() */
	self->head_id = row.id;
	g_strlcpy(self->head_hash, hash, sizeof(self->head_hash));
	self->head_dirty = TRUE;
	return TRUE;
}

gboolean
_fst_db_insert_event_locked(FstDb *self,
                            gint64 device_id,
                            gint64 station_id,
                            const gchar *step,
                            gint64 started_us,
                            gint64 ended_us,
                            const gchar *outcome,
                            const gchar *detail,
                            GError **error)
{
	return _fst_db_insert_event_rows_locked(
	    self, device_id, station_id, step, started_us, ended_us, outcome, detail, NULL, error);
}

/* `SELECT *` of one row of each bound table, by FstAuditTable */
static const gchar *const fst_db_bound_row_sql[] = {
    [FST_AUDIT_TABLE_NONE] = NULL,
    [FST_AUDIT_TABLE_DEVICES] = "SELECT * FROM devices WHERE rowid = ?1",
    [FST_AUDIT_TABLE_CERTIFICATES] = "SELECT * FROM certificates WHERE rowid = ?1",
    [FST_AUDIT_TABLE_DEVICE_OBJECTS] = "SELECT * FROM device_objects WHERE rowid = ?1",
    [FST_AUDIT_TABLE_OPERATORS] = "SELECT * FROM operators WHERE rowid = ?1",
    [FST_AUDIT_TABLE_LOTS] = "SELECT * FROM lots WHERE rowid = ?1",
    [FST_AUDIT_TABLE_STATIONS] = "SELECT * FROM stations WHERE rowid = ?1",
    [FST_AUDIT_TABLE_PROFILES] = "SELECT * FROM profiles WHERE rowid = ?1",
    [FST_AUDIT_TABLE_CAS] = "SELECT * FROM cas WHERE rowid = ?1",
    [FST_AUDIT_TABLE_KEY_ESCROWS] = "SELECT * FROM key_escrows WHERE rowid = ?1",
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_db_bound_row_sql) == FST_AUDIT_TABLE_LAST);

/* appends the binding of one row as it is now; a row that is gone is not bound */
static gboolean
fst_db_bind_row(FstDb *self,
                FstAuditTable table,
                gint64 id,
                GByteArray *rows,
                const gchar *what,
                GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	guint8 hash[FST_AUDIT_HASH_LEN];
	gboolean found = FALSE;

	stmt = _fst_db_prepare(self, fst_db_bound_row_sql[table], what, error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, id), what, error))
		return FALSE;
	if (!_fst_db_step_row(self, stmt, &found, what, error))
		return FALSE;
	if (!found)
		return TRUE;
	fst_audit_row_hash(stmt, table, hash);
	fst_audit_binding_append(rows, table, id, hash);
	return TRUE;
}

/* the detail of an event that binds rows and records nothing else */
static gchar *
fst_db_records_detail(GByteArray *rows)
{
	guint counts[FST_AUDIT_TABLE_LAST] = {0};
	g_autoptr(GString) str = g_string_new("rows recorded:");

	for (guint off = 0; off < rows->len; off += FST_AUDIT_BINDING_LEN)
		counts[MIN(rows->data[off], FST_AUDIT_TABLE_LAST - 1)]++;
	for (guint t = 1; t < FST_AUDIT_TABLE_LAST; t++) {
		if (counts[t] > 0)
			g_string_append_printf(str, " %s %u", fst_audit_table_name(t), counts[t]);
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* stores @rows in a `records` event of their own, or in the last event of
 * this transaction (whose hash then changes: it is still the chain's end) */
static gboolean
fst_db_attach_rows(FstDb *self, GByteArray *rows, const gchar *what, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *hash = NULL;
	guint8 raw[FST_AUDIT_HASH_LEN];
	gint rc;

	if (self->tx_event_id == 0 || !self->head_known || self->head_id != self->tx_event_id ||
	    self->tx_event.rows_len > 0) {
		g_autoptr(GBytes) bytes = g_bytes_new(rows->data, rows->len);
		g_autofree gchar *detail = fst_db_records_detail(rows);
		gint64 now = g_get_real_time();
		return _fst_db_insert_event_rows_locked(
		    self, 0, 0, "records", now, now, "ok", detail, bytes, error);
	}
	self->tx_event.rows = rows->data;
	self->tx_event.rows_len = rows->len;
	hash = fst_audit_event_hash(self->tx_event_prev, &self->tx_event);
	self->tx_event.rows = NULL;
	fst_audit_hash_to_bytes(hash, raw);
	stmt = _fst_db_prepare(
	    self, "UPDATE events SET rows = ?1, hash = ?2 WHERE id = ?3", what, error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_blob(stmt, 1, rows->data, (gint)rows->len, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob(stmt, 2, raw, sizeof(raw), SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 3, self->tx_event_id);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	self->tx_event.rows_len = rows->len;
	g_strlcpy(self->head_hash, hash, sizeof(self->head_hash));
	self->head_dirty = TRUE;
	return TRUE;
}

/* the bindings of every row of a bound table written since the last ones,
 * as the rows are now; the rows stay noted until fst_db_forget_dirty() (the
 * event that stores the bindings touches no bound table) */
static GByteArray *
fst_db_collect_bindings(FstDb *self, const gchar *what, GError **error)
{
	g_autoptr(GByteArray) rows =
	    g_byte_array_sized_new(self->dirty->len * FST_AUDIT_BINDING_LEN);

	for (guint i = 0; i < self->dirty->len; i++) {
		const FstDbDirtyRow *row = &g_array_index(self->dirty, FstDbDirtyRow, i);
		FstAuditTable table = FST_DB_DIRTY_TABLE(row->key);
		gint64 id = FST_DB_DIRTY_ID(row->key);
		/* hashed as written, unless a failure may have undone the write */
		if (row->hashed && !self->dirty_stale)
			fst_audit_binding_append(rows, table, id, row->hash);
		else if (!fst_db_bind_row(self, table, id, rows, what, error))
			return NULL;
	}
	return g_steal_pointer(&rows);
}

/* the rows noted are bound now */
static void
fst_db_forget_dirty(FstDb *self)
{
	g_array_set_size(self->dirty, 0);
	g_hash_table_remove_all(self->dirty_set);
	self->dirty_stale = FALSE;
}

/*
 * Binds every row of a bound table this transaction inserted or changed
 * into the chain (db/fst-audit.c, "Row bindings"): each row's canonical
 * content is hashed once, as it is committed, and the bindings go into the
 * transaction's last event. Called by _fst_db_commit() just before COMMIT.
 */
gboolean
_fst_db_bind_rows(FstDb *self, const gchar *what, GError **error)
{
	g_autoptr(GByteArray) rows = fst_db_collect_bindings(self, what, error);

	if (rows == NULL)
		return FALSE;
	fst_db_forget_dirty(self);
	if (rows->len == 0)
		return TRUE;
	return fst_db_attach_rows(self, rows, what, error);
}

/**
 * _fst_db_fold_end:
 * @self: an #FstDb, in a write transaction, after _fst_db_fold_begin()
 * @error: (nullable): return location for a #GError
 *
 * Writes the steps folded since _fst_db_fold_begin() as one event of their
 * device: step %FST_AUDIT_STEP_FOLDED, from the first step's start to the
 * last one's end, outcome `ok` or the last other outcome of a step, detail
 * the steps (fst_audit_steps_to_payload()). With @bind (the last log of its
 * transaction), the rows written so far in the transaction are bound in
 * that event, as they are now, so that the commit has no binding left to
 * write (no UPDATE of the event). Nothing folded writes nothing.
 *
 * Returns: %TRUE on success
 */
gboolean
_fst_db_fold_end(FstDb *self, gboolean bind, GError **error)
{
	g_autoptr(GPtrArray) steps = g_steal_pointer(&self->fold);
	g_autoptr(GByteArray) rows = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autofree gchar *payload = NULL;
	const gchar *what = "record the steps of a device";
	const gchar *outcome = "ok";
	gint64 device_id = self->fold_device_id;
	gint64 started = G_MAXINT64;
	gint64 ended = 0;

	self->fold_device_id = 0;
	if (steps == NULL || steps->len == 0)
		return TRUE;
	for (guint i = 0; i < steps->len; i++) {
		FstAuditStep *st = g_ptr_array_index(steps, i);
		started = MIN(started, st->started_at);
		ended = MAX(ended, st->ended_at);
		if (g_strcmp0(st->outcome, "ok") != 0)
			outcome = st->outcome;
	}
	payload = fst_audit_steps_to_payload(steps, started);
	rows = bind ? fst_db_collect_bindings(self, what, error) : g_byte_array_new();
	if (rows == NULL)
		return FALSE;
	if (rows->len > 0)
		bytes = g_bytes_new(rows->data, rows->len);
	if (!_fst_db_insert_event_rows_locked(self,
	                                      device_id,
	                                      self->fold_station_id,
	                                      FST_AUDIT_STEP_FOLDED,
	                                      started,
	                                      ended,
	                                      outcome,
	                                      payload,
	                                      bytes,
	                                      error))
		return FALSE;
	if (bytes != NULL)
		fst_db_forget_dirty(self);
	return TRUE;
}

/* the arguments of an event, as fst_db_add_event() takes them (its detail
 * is bounded as it is written) */
gboolean
_fst_db_check_event(
    const gchar *step, gint64 started_us, gint64 ended_us, const gchar *outcome, GError **error)
{
	if (!_fst_db_check_token("step", step, error) ||
	    !_fst_db_check_token("outcome", outcome, error))
		return FALSE;
	if (g_strcmp0(step, FST_AUDIT_STEP_FOLDED) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event step %s is the database's own (the steps of a device log): "
		            "name the step otherwise",
		            step);
		return FALSE;
	}
	if (started_us <= 0 || ended_us < started_us) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s has times %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
		            ": pass microseconds from g_get_real_time() with end not before start",
		            step,
		            started_us,
		            ended_us);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_add_event:
 * @self: an #FstDb
 * @device_id: the device, or 0 for a station-wide event
 * @step: a lower-case step name, e.g. "identify" or "burn-device-cert"
 * @started_us: when the step started, unix microseconds (g_get_real_time())
 * @ended_us: when it ended, not before @started_us
 * @outcome: a lower-case outcome: "ok", "failed", "cancelled", ...
 * @detail: (nullable): free text, kept to 16 KiB; never put a secret here
 * @error: (nullable): return location for a #GError
 *
 * Appends an event. Events are kept in the order they are added.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_add_event(FstDb *self,
                 gint64 device_id,
                 const gchar *step,
                 gint64 started_us,
                 gint64 ended_us,
                 const gchar *outcome,
                 const gchar *detail,
                 GError **error)
{
	g_autofree gchar *detail_safe = NULL;

	g_return_val_if_fail(self != NULL, FALSE);

	if (!_fst_db_check_event(step, started_us, ended_us, outcome, error))
		return FALSE;
	if (detail != NULL)
		detail_safe = _fst_db_text_bounded(detail, FST_DB_MAX_DETAIL);
	return _fst_db_add_event_checked(
	    self, device_id, step, started_us, ended_us, outcome, detail_safe, error);
}

/* fst_db_add_event() with its arguments checked (_fst_db_check_event())
 * and @detail_safe bounded (_fst_db_text_bounded()) already: a device log
 * does both as an event is logged, in its lane */
gboolean
_fst_db_add_event_checked(FstDb *self,
                          gint64 device_id,
                          const gchar *step,
                          gint64 started_us,
                          gint64 ended_us,
                          const gchar *outcome,
                          const gchar *detail_safe,
                          GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	const gchar *what = "record an event";
	gint64 station_id = 0;

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if (device_id > 0 && !_fst_db_require_device_locked(self, device_id, &station_id, error))
		return FALSE;
	if (!_fst_db_insert_event_locked(self,
	                                 device_id,
	                                 station_id,
	                                 step,
	                                 started_us,
	                                 ended_us,
	                                 outcome,
	                                 detail_safe,
	                                 error))
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
}

/* the steps of a row of fst_db_list_events() that folds a device log
 * commit, each as an event of its own; FALSE for any other row (and for
 * one whose steps cannot be read, shown as it is) */
static gboolean
fst_db_list_folded_steps(sqlite3_stmt *stmt, GPtrArray *events)
{
	g_autoptr(GPtrArray) steps = NULL;
	const gchar *step = (const gchar *)sqlite3_column_text(stmt, 3);

	if (g_strcmp0(step, FST_AUDIT_STEP_FOLDED) != 0)
		return FALSE;
	steps = fst_audit_steps_from_payload((const gchar *)sqlite3_column_text(stmt, 7),
	                                     (gsize)sqlite3_column_bytes(stmt, 7),
	                                     sqlite3_column_int64(stmt, 4));
	if (steps == NULL)
		return FALSE;
	for (guint i = 0; i < steps->len; i++) {
		FstAuditStep *st = g_ptr_array_index(steps, i);
		FstDbEvent *ev = g_new0(FstDbEvent, 1);
		ev->id = sqlite3_column_int64(stmt, 0);
		ev->device_id = sqlite3_column_int64(stmt, 1);
		ev->station_id = sqlite3_column_int64(stmt, 2);
		ev->step = g_steal_pointer(&st->step);
		ev->started_us = st->started_at;
		ev->ended_us = st->ended_at;
		ev->outcome = g_steal_pointer(&st->outcome);
		ev->detail = g_steal_pointer(&st->detail);
		ev->operator_id = sqlite3_column_int64(stmt, 8);
		ev->lot_id = sqlite3_column_int64(stmt, 9);
		ev->hash = fst_audit_hash_from_bytes(sqlite3_column_blob(stmt, 10),
		                                     (gsize)sqlite3_column_bytes(stmt, 10));
		g_ptr_array_add(events, ev);
	}
	return TRUE;
}

/**
 * fst_db_list_events:
 * @self: an #FstDb
 * @device_id: a device id, or 0 for the events of every device and the station
 * @error: (nullable): return location for a #GError
 *
 * The steps a device log commit folded into one row are listed one by one,
 * in the order they were logged. A device's events include the refusals of
 * boards that gave its id while it was being provisioned on another port
 * (step `identify`, outcome `busy`, recorded with no device since the
 * device may not be recorded yet: fst_station_claim_device()), found by
 * the id their detail starts with; their @device_id stays 0.
 *
 * Returns: (transfer full) (element-type FstDbEvent): the events in the order
 * they were recorded; %NULL on error
 */
GPtrArray *
fst_db_list_events(FstDb *self, gint64 device_id, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) events =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_event_free);
	const gchar *what = "list events";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	/* a device's events by events_device, with the refusals of boards
	 * that gave its id (among the events of no device, by the same index);
	 * all of them in id order */
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(
	    self,
	    device_id > 0
	        ? "SELECT id, device_id, station_id, step, started_at, ended_at, "
	          "outcome, detail, operator_id, lot_id, hash FROM events "
	          "WHERE device_id = ?1 "
	          "UNION ALL SELECT e.id, e.device_id, e.station_id, e.step, e.started_at, "
	          "e.ended_at, e.outcome, e.detail, e.operator_id, e.lot_id, e.hash "
	          "FROM devices d, events e WHERE d.id = ?1 AND e.device_id IS NULL "
	          "AND e.step = 'identify' AND e.outcome = 'busy' "
	          "AND substr(e.detail, 1, length(d.uid) + 8) = 'device ' || d.uid || ' ' "
	          "ORDER BY 1"
	        : "SELECT id, device_id, station_id, step, started_at, ended_at, "
	          "outcome, detail, operator_id, lot_id, hash FROM events "
	          "WHERE ?1 <= 0 ORDER BY id",
	    what,
	    error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbEvent *ev;
		if (fst_db_list_folded_steps(stmt, events))
			continue;
		ev = g_new0(FstDbEvent, 1);
		ev->id = sqlite3_column_int64(stmt, 0);
		ev->device_id = sqlite3_column_int64(stmt, 1);
		ev->station_id = sqlite3_column_int64(stmt, 2);
		ev->step = _fst_db_column_strdup(stmt, 3);
		ev->started_us = sqlite3_column_int64(stmt, 4);
		ev->ended_us = sqlite3_column_int64(stmt, 5);
		ev->outcome = _fst_db_column_strdup(stmt, 6);
		ev->detail = _fst_db_column_strdup(stmt, 7);
		ev->operator_id = sqlite3_column_int64(stmt, 8);
		ev->lot_id = sqlite3_column_int64(stmt, 9);
		ev->hash = fst_audit_hash_from_bytes(sqlite3_column_blob(stmt, 10),
		                                     (gsize)sqlite3_column_bytes(stmt, 10));
		g_ptr_array_add(events, ev);
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&events);
}
