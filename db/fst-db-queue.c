/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registration queue (`registrations`, db/schema.md): certificates to
 * register with a cloud target and superseded ones to deactivate there.
 * Rows enter it in the transaction that records their certificate
 * (fst_db_add_certificate() with FstDbCert.register_target, and the
 * supersede of a device log); this file is the worker's side.
 *
 * The worker has its own SQLite connection (it runs on its own thread, while
 * the line writes through the station's FstDb). A row it takes is
 * `in-progress` with a lease in `next_attempt_at`: another worker leaves it
 * alone until the lease ends, and a worker that finds one whose lease ended
 * knows a run was stopped in the middle of it (`resumed`), so it asks AWS
 * what is done before it does anything again.
 */

#define G_LOG_DOMAIN "FstDbQueue"

#include "fst-db-queue.h"

#include <sqlite3.h>
#include <string.h>

#include "fst-error.h"
#include "fst-db-private.h"
#include "fst-sqlite-common.h"

struct _FstDbQueue {
	sqlite3 *db;   /* (owned) */
	gchar *path;   /* (owned) */
	gchar *target; /* (owned) (nullable): the only target claimed, with `*` */
};

static const gchar *const fst_db_queue_states[] = {
    "pending", "in-progress", "done", "failed", NULL};

/**
 * fst_db_queue_item_free:
 * @self: (nullable): an #FstDbQueueItem
 *
 * Frees a queue row.
 */
void
fst_db_queue_item_free(FstDbQueueItem *self)
{
	if (self == NULL)
		return;
	g_free(self->device_uid);
	g_free(self->serial_hex);
	g_free(self->aws_cert_id);
	if (self->der != NULL)
		g_bytes_unref(self->der);
	g_free(self->issuer_sha256);
	g_free(self->lot);
	g_free(self->target);
	g_free(self->action);
	g_free(self->state);
	g_free(self->remote_id);
	g_free(self->last_error);
	g_free(self->profile);
	g_free(self->cert_state);
	g_free(self);
}

static gboolean
fst_db_queue_sql_error(FstDbQueue *self, gint rc, const gchar *what, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "%s in %s: %s%s",
	            what,
	            self->path,
	            sqlite3_errmsg(self->db),
	            rc == SQLITE_BUSY ? " (another program holds the database: try again)" : "");
	return FALSE;
}

static gboolean
fst_db_queue_exec(FstDbQueue *self, const gchar *sql, const gchar *what, GError **error)
{
	gint rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fst_db_queue_sql_error(self, rc, what, error);
	return TRUE;
}

static sqlite3_stmt *
fst_db_queue_prepare(FstDbQueue *self, const gchar *sql, const gchar *what, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	gint rc = sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		fst_db_queue_sql_error(self, rc, what, error);
		return NULL;
	}
	return stmt;
}

/**
 * fst_db_queue_open:
 * @path: the station database, made and migrated by fst_db_open() before
 * @error: (nullable): return location for a #GError
 *
 * Opens a connection of its own to the registration queue.
 *
 * Returns: (transfer full): the queue, or %NULL with %FST_ERROR_DATABASE
 */
FstDbQueue *
fst_db_queue_open(const gchar *path, GError **error)
{
	g_autoptr(FstDbQueue) self = g_new0(FstDbQueue, 1);
	gint rc;

	self->path = g_strdup(path);
	_fst_db_sqlite_init();
	rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_DATABASE,
		    "cannot open the station database %s: %s; run `fleetstation init` first",
		    path,
		    self->db != NULL ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
		return NULL;
	}
	sqlite3_busy_timeout(self->db, 30000);
	if (!fst_db_queue_exec(self,
	                       "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL",
	                       "set up the queue connection",
	                       error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * fst_db_queue_free:
 * @self: (nullable): an #FstDbQueue
 *
 * Closes the connection.
 */
void
fst_db_queue_free(FstDbQueue *self)
{
	if (self == NULL)
		return;
	if (self->db != NULL)
		sqlite3_close(self->db);
	g_free(self->path);
	g_free(self->target);
	g_free(self);
}

static gchar *
fst_db_queue_text(sqlite3_stmt *stmt, gint col)
{
	const guchar *text = sqlite3_column_text(stmt, col);
	return text != NULL ? g_strdup((const gchar *)text) : NULL;
}

#define FST_DB_QUEUE_COLUMNS                                                                       \
	"SELECT r.id, c.device_id, d.uid, c.serial_hex, c.aws_cert_id, c.der, ca.sha256, l.name, " \
	"r.target, r.action, r.state, r.remote_id, r.last_error, r.attempts, r.updated_at, "       \
	"p.name, c.state FROM registrations r JOIN certificates c ON c.id = r.certificate_id "     \
	"JOIN devices d ON d.id = c.device_id LEFT JOIN cas ca ON ca.id = c.ca_id "                \
	"LEFT JOIN lots l ON l.id = c.lot_id LEFT JOIN profiles p ON p.id = c.profile_id "

static FstDbQueueItem *
fst_db_queue_item_from_row(sqlite3_stmt *stmt)
{
	FstDbQueueItem *item = g_new0(FstDbQueueItem, 1);
	item->id = sqlite3_column_int64(stmt, 0);
	item->device_id = sqlite3_column_int64(stmt, 1);
	item->device_uid = fst_db_queue_text(stmt, 2);
	item->serial_hex = fst_db_queue_text(stmt, 3);
	item->aws_cert_id = fst_db_queue_text(stmt, 4);
	item->der = g_bytes_new(sqlite3_column_blob(stmt, 5), sqlite3_column_bytes(stmt, 5));
	item->issuer_sha256 = fst_db_queue_text(stmt, 6);
	item->lot = fst_db_queue_text(stmt, 7);
	item->target = fst_db_queue_text(stmt, 8);
	item->action = fst_db_queue_text(stmt, 9);
	item->state = fst_db_queue_text(stmt, 10);
	item->remote_id = fst_db_queue_text(stmt, 11);
	item->last_error = fst_db_queue_text(stmt, 12);
	item->attempts = sqlite3_column_int(stmt, 13);
	item->updated_at = sqlite3_column_int64(stmt, 14);
	item->profile = fst_db_queue_text(stmt, 15);
	item->cert_state = fst_db_queue_text(stmt, 16);
	return item;
}

/**
 * fst_db_queue_set_target:
 * @self: an #FstDbQueue
 * @target: (nullable): e.g. `aws-iot:eu-west-1`; %NULL: every target
 *
 * Makes fst_db_queue_claim() take only rows of @target (and `*`): a worker
 * registers where its client goes, and leaves other regions' rows to a
 * worker of theirs.
 */
void
fst_db_queue_set_target(FstDbQueue *self, const gchar *target)
{
	g_free(self->target);
	self->target = g_strdup(target);
}

/**
 * fst_db_queue_claim:
 * @self: an #FstDbQueue
 * @now_us: the time, unix microseconds
 * @lease_us: how long the row is this worker's before another may take it
 * @error: (nullable): return location for a #GError
 *
 * Takes the oldest row that is due: `pending` with no later retry time, or
 * `in-progress` with its lease over (a stopped run's; @resumed is then
 * set), of the queue's target (fst_db_queue_set_target()) or `*`. The row becomes `in-progress`,
 * with one more attempt and the lease, in one transaction.
 *
 * Returns: (transfer full): the row, or %NULL with no error when nothing is due
 */
FstDbQueueItem *
fst_db_queue_claim(FstDbQueue *self, gint64 now_us, gint64 lease_us, GError **error)
{
	g_autoptr(sqlite3_stmt) sel = NULL;
	g_autoptr(sqlite3_stmt) upd = NULL;
	g_autoptr(FstDbQueueItem) item = NULL;
	const gchar *what = "take a row of the registration queue";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);
	if (!fst_db_queue_exec(self, "BEGIN IMMEDIATE", what, error))
		return NULL;
	sel = fst_db_queue_prepare(self,
	                           FST_DB_QUEUE_COLUMNS
	                           "WHERE r.id = (SELECT id FROM registrations WHERE "
	                           "((state = 'pending' AND ifnull(next_attempt_at, 0) <= ?1) OR "
	                           "(state = 'in-progress' AND ifnull(next_attempt_at, 0) <= ?1)) "
	                           "AND (?2 IS NULL OR target = ?2 OR target = '*') "
	                           "ORDER BY next_attempt_at IS NOT NULL, id LIMIT 1)",
	                           what,
	                           error);
	if (sel == NULL)
		goto fail;
	sqlite3_bind_int64(sel, 1, now_us);
	sqlite3_bind_text(sel, 2, self->target, -1, SQLITE_STATIC);
	rc = sqlite3_step(sel);
	if (rc == SQLITE_DONE) {
		if (!fst_db_queue_exec(self, "COMMIT", what, error))
			goto fail;
		return NULL;
	}
	if (rc != SQLITE_ROW) {
		fst_db_queue_sql_error(self, rc, what, error);
		goto fail;
	}
	item = fst_db_queue_item_from_row(sel);
	item->resumed = g_strcmp0(item->state, "in-progress") == 0;
	item->attempts++;
	upd = fst_db_queue_prepare(
	    self,
	    "UPDATE registrations SET state = 'in-progress', attempts = "
	    "attempts + 1, next_attempt_at = ?2, updated_at = ?3 WHERE id = ?1",
	    what,
	    error);
	if (upd == NULL)
		goto fail;
	sqlite3_bind_int64(upd, 1, item->id);
	sqlite3_bind_int64(upd, 2, now_us + lease_us);
	sqlite3_bind_int64(upd, 3, now_us);
	rc = sqlite3_step(upd);
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		goto fail;
	}
	g_clear_pointer(&upd, sqlite3_finalize);
	g_clear_pointer(&sel, sqlite3_finalize);
	if (!fst_db_queue_exec(self, "COMMIT", what, error))
		goto fail;
	g_free(item->state);
	item->state = g_strdup("in-progress");
	return g_steal_pointer(&item);
fail:
	sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
	return NULL;
}

/* one UPDATE of one row, which must exist */
static gboolean
fst_db_queue_update(FstDbQueue *self,
                    const gchar *sql,
                    gint64 id,
                    const gchar *text,
                    gint64 value,
                    const gchar *what,
                    GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = fst_db_queue_prepare(self, sql, what, error);
	gint rc;

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, id);
	if (text != NULL)
		sqlite3_bind_text(stmt, 2, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, value);
	sqlite3_bind_int64(stmt, 4, g_get_real_time());
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return fst_db_queue_sql_error(self, rc, what, error);
	if (sqlite3_changes(self->db) != 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "%s: registration row %" G_GINT64_FORMAT " is not there",
		            what,
		            id);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_queue_set_remote_id:
 * @self: an #FstDbQueue
 * @id: the row
 * @remote_id: the ARN AWS gave
 * @lease_until_us: the row's lease, renewed
 * @error: (nullable): return location for a #GError
 *
 * Records the remote id as soon as it is known, before the steps that
 * follow (thing, policy), and renews the lease.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_set_remote_id(
    FstDbQueue *self, gint64 id, const gchar *remote_id, gint64 lease_until_us, GError **error)
{
	return fst_db_queue_update(self,
	                           "UPDATE registrations SET remote_id = ?2, next_attempt_at = ?3, "
	                           "updated_at = ?4 WHERE id = ?1",
	                           id,
	                           remote_id,
	                           lease_until_us,
	                           "record a registration's remote id",
	                           error);
}

/**
 * fst_db_queue_finish:
 * @self: an #FstDbQueue
 * @id: the row
 * @remote_id: (nullable): the ARN, if not recorded yet
 * @error: (nullable): return location for a #GError
 *
 * Marks a row done.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_finish(FstDbQueue *self, gint64 id, const gchar *remote_id, GError **error)
{
	return fst_db_queue_update(self,
	                           "UPDATE registrations SET state = 'done', remote_id = "
	                           "coalesce(?2, remote_id), next_attempt_at = NULL, last_error = "
	                           "NULL, updated_at = ?4 WHERE id = ?1",
	                           id,
	                           remote_id,
	                           0,
	                           "finish a registration",
	                           error);
}

/**
 * fst_db_queue_defer:
 * @self: an #FstDbQueue
 * @id: the row
 * @next_attempt_us: when to try again, unix microseconds
 * @last_error: why this try failed
 * @error: (nullable): return location for a #GError
 *
 * Puts a row back to `pending`, due at @next_attempt_us.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_defer(
    FstDbQueue *self, gint64 id, gint64 next_attempt_us, const gchar *last_error, GError **error)
{
	return fst_db_queue_update(self,
	                           "UPDATE registrations SET state = 'pending', last_error = ?2, "
	                           "next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
	                           id,
	                           last_error,
	                           next_attempt_us,
	                           "put a registration back in the queue",
	                           error);
}

/**
 * fst_db_queue_fail:
 * @self: an #FstDbQueue
 * @id: the row
 * @last_error: why; shown by `register status`
 * @error: (nullable): return location for a #GError
 *
 * Marks a row failed: nothing retries it until `register retry`.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_fail(FstDbQueue *self, gint64 id, const gchar *last_error, GError **error)
{
	return fst_db_queue_update(self,
	                           "UPDATE registrations SET state = 'failed', last_error = ?2, "
	                           "next_attempt_at = NULL, updated_at = ?4 WHERE id = ?1",
	                           id,
	                           last_error,
	                           0,
	                           "mark a registration failed",
	                           error);
}

/**
 * fst_db_queue_retry_failed:
 * @self: an #FstDbQueue
 * @serial_hex: (nullable): only this certificate's rows
 * @error: (nullable): return location for a #GError
 *
 * Puts failed rows back to `pending`, due now.
 *
 * Returns: the number of rows, or -1 on error
 */
gint64
fst_db_queue_retry_failed(FstDbQueue *self, const gchar *serial_hex, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *what = "retry failed registrations";
	gint rc;

	stmt = fst_db_queue_prepare(
	    self,
	    "UPDATE registrations SET state = 'pending', next_attempt_at = NULL, updated_at = ?2 "
	    "WHERE state = 'failed' AND (?1 IS NULL OR certificate_id = (SELECT id FROM "
	    "certificates WHERE serial_hex = upper(?1)))",
	    what,
	    error);
	if (stmt == NULL)
		return -1;
	if (serial_hex != NULL)
		sqlite3_bind_text(stmt, 1, serial_hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, g_get_real_time());
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		return -1;
	}
	return sqlite3_changes(self->db);
}

static gboolean
fst_db_queue_check_state(const gchar *state, GError **error)
{
	if (state == NULL || g_strv_contains(fst_db_queue_states, state))
		return TRUE;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "registration state '%s' is none of pending, in-progress, done, failed",
	            state);
	return FALSE;
}

/**
 * fst_db_queue_list:
 * @self: an #FstDbQueue
 * @state: (nullable): only rows in this state
 * @lot: (nullable): only certificates of this lot
 * @error: (nullable): return location for a #GError
 *
 * Lists the queue, oldest row first.
 *
 * Returns: (transfer full) (element-type FstDbQueueItem): the rows, or %NULL
 */
GPtrArray *
fst_db_queue_list(FstDbQueue *self, const gchar *state, const gchar *lot, GError **error)
{
	g_autoptr(GPtrArray) items =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_queue_item_free);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *what = "list the registration queue";
	gint rc;

	if (!fst_db_queue_check_state(state, error))
		return NULL;
	stmt = fst_db_queue_prepare(
	    self,
	    FST_DB_QUEUE_COLUMNS
	    "WHERE (?1 IS NULL OR r.state = ?1) AND (?2 IS NULL OR l.name = ?2) "
	    "ORDER BY r.id",
	    what,
	    error);
	if (stmt == NULL)
		return NULL;
	if (state != NULL)
		sqlite3_bind_text(stmt, 1, state, -1, SQLITE_TRANSIENT);
	if (lot != NULL)
		sqlite3_bind_text(stmt, 2, lot, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(items, fst_db_queue_item_from_row(stmt));
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		return NULL;
	}
	return g_steal_pointer(&items);
}

/**
 * fst_db_queue_find:
 * @self: an #FstDbQueue
 * @serial_hex: a certificate's serial
 * @action: "register" or "deactivate"
 * @error: (nullable): return location for a #GError
 *
 * The certificate's row for @action (the first target's).
 *
 * Returns: (transfer full): the row, or %NULL with %FST_ERROR_NOT_FOUND
 */
FstDbQueueItem *
fst_db_queue_find(FstDbQueue *self, const gchar *serial_hex, const gchar *action, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *what = "find a registration";
	gint rc;

	stmt = fst_db_queue_prepare(
	    self,
	    FST_DB_QUEUE_COLUMNS "WHERE c.serial_hex = upper(?1) AND r.action = ?2 ORDER BY r.id "
	                         "LIMIT 1",
	    what,
	    error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, serial_hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, action, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		return fst_db_queue_item_from_row(stmt);
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		return NULL;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "certificate %s has no %s row in the registration queue",
	            serial_hex,
	            action);
	return NULL;
}

/**
 * fst_db_queue_count:
 * @self: an #FstDbQueue
 * @action: (nullable): only this action
 * @counts: (out caller-allocates): rows pending, in progress, done, failed
 * @error: (nullable): return location for a #GError
 *
 * Counts the queue by state.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_count(FstDbQueue *self, const gchar *action, gint64 counts[4], GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *what = "count the registration queue";
	gint rc;

	memset(counts, 0, 4 * sizeof(gint64));
	stmt = fst_db_queue_prepare(self,
	                            "SELECT state, count(*) FROM registrations WHERE ?1 IS NULL OR "
	                            "action = ?1 GROUP BY state",
	                            what,
	                            error);
	if (stmt == NULL)
		return FALSE;
	if (action != NULL)
		sqlite3_bind_text(stmt, 1, action, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 0);
		for (guint i = 0; i < 4; i++) {
			if (g_strcmp0(state, fst_db_queue_states[i]) == 0)
				counts[i] = sqlite3_column_int64(stmt, 1);
		}
	}
	if (rc != SQLITE_DONE)
		return fst_db_queue_sql_error(self, rc, what, error);
	return TRUE;
}

/**
 * fst_db_queue_list_profiles:
 * @self: an #FstDbQueue
 * @error: (nullable): return location for a #GError
 *
 * The names of the profiles whose certificates have rows not done yet: the
 * profiles a worker may need the settings of.
 *
 * Returns: (transfer full) (element-type utf8): the names, sorted, or %NULL
 */
GPtrArray *
fst_db_queue_list_profiles(FstDbQueue *self, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *what = "list the profiles of the registration queue";
	gint rc;

	stmt = fst_db_queue_prepare(
	    self,
	    "SELECT DISTINCT p.name FROM registrations r JOIN certificates "
	    "c ON c.id = r.certificate_id JOIN profiles p ON p.id = "
	    "c.profile_id WHERE r.state != 'done' AND r.action = 'register' ORDER BY "
	    "p.name",
	    what,
	    error);
	if (stmt == NULL)
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(names, fst_db_queue_text(stmt, 0));
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		return NULL;
	}
	return g_steal_pointer(&names);
}

/**
 * fst_db_queue_hold:
 * @self: an #FstDbQueue
 * @id: the row
 * @until_us: until when, unix microseconds
 * @error: (nullable): return location for a #GError
 *
 * Takes a row out of the workers' hands until @until_us, as `in-progress`:
 * an AWS bulk registration task registers it. If no result comes by then, a
 * worker takes it as a stopped run's row and asks AWS first.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_queue_hold(FstDbQueue *self, gint64 id, gint64 until_us, GError **error)
{
	return fst_db_queue_update(
	    self,
	    "UPDATE registrations SET state = 'in-progress', attempts = "
	    "attempts + 1, next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
	    id,
	    NULL,
	    until_us,
	    "hold a registration for a bulk task",
	    error);
}

/**
 * fst_db_queue_find_by_aws_id:
 * @self: an #FstDbQueue
 * @aws_cert_id: the SHA-256 of the certificate's DER, hex
 * @error: (nullable): return location for a #GError
 *
 * The `register` row of the certificate AWS knows by @aws_cert_id.
 *
 * Returns: (transfer full): the row, or %NULL with %FST_ERROR_NOT_FOUND
 */
FstDbQueueItem *
fst_db_queue_find_by_aws_id(FstDbQueue *self, const gchar *aws_cert_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const gchar *what = "find a registration by AWS certificate id";
	gint rc;

	stmt = fst_db_queue_prepare(self,
	                            FST_DB_QUEUE_COLUMNS
	                            "WHERE c.aws_cert_id = lower(?1) AND r.action = 'register' "
	                            "ORDER BY r.id LIMIT 1",
	                            what,
	                            error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, aws_cert_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		return fst_db_queue_item_from_row(stmt);
	if (rc != SQLITE_DONE) {
		fst_db_queue_sql_error(self, rc, what, error);
		return NULL;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "no certificate with AWS id %s waits for registration here",
	            aws_cert_id);
	return NULL;
}
