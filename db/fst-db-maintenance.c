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
#include "fst-file.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): backups, the integrity check and the statistics.
 */

static void
fst_db_backup_set_create_error(const gchar *dest, const GError *why, GError **error)
{
	if (g_error_matches(why, FST_ERROR, FST_ERROR_CONFIG))
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot create backup %s: it exists: choose a new file name, a backup "
		            "is never overwritten",
		            dest);
	else
		g_set_error(
		    error, FST_ERROR, why->code, "cannot create the backup: %s", why->message);
}

/* a backup that failed leaves nothing: its file and SQLite's journal */
static void
fst_db_backup_remove(const gchar *tmp)
{
	g_autofree gchar *journal = g_strdup_printf("%s-journal", tmp);
	g_unlink(tmp);
	g_unlink(journal);
}

/* the copy itself, into @tmp; @dest names it in messages. Its connection
 * is closed when this returns, whatever the outcome */
static gboolean
fst_db_backup_copy(const gchar *src_path, const gchar *tmp, const gchar *dest, GError **error)
{
	g_autoptr(sqlite3) src = NULL;
	g_autoptr(sqlite3) dst = NULL;
	sqlite3_backup *backup;
	gint rc;

	_fst_db_sqlite_init();
	rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(src, FST_DB_BUSY_TIMEOUT_MS);
		rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	}
	if (rc != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot open %s for a backup to %s: %s",
		            src_path,
		            dest,
		            sqlite3_errstr(rc));
		return FALSE;
	}
	/* the copy is this connection's alone: in exclusive locking mode the
	 * WAL header the copy brings along needs no shared memory (-shm) when
	 * the copy is switched back to a rollback journal below, which a file
	 * system without shared mmap (FAT or NTFS through FUSE) would refuse */
	backup = sqlite3_exec(dst, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK
	             ? sqlite3_backup_init(dst, "main", src, "main")
	             : NULL;
	if (backup == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot back up %s to %s: %s",
		            src_path,
		            dest,
		            sqlite3_errmsg(dst));
		return FALSE;
	}
	/* all pages in one step: one read transaction, one snapshot */
	do {
		rc = sqlite3_backup_step(backup, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			g_usleep(10000);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(backup);
	if (rc != SQLITE_DONE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "backing up %s to %s failed: %s: check the free space at the "
		            "destination (nothing was left there)",
		            src_path,
		            dest,
		            sqlite3_errstr(rc));
		return FALSE;
	}
	rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "finishing backup %s failed: %s",
		            dest,
		            sqlite3_errmsg(dst));
		return FALSE;
	}
	return TRUE;
}

/*
 * Copies the database to @dest through SQLite's online backup API, from a
 * connection of its own: in WAL mode it reads one consistent snapshot and
 * never blocks the writers. @dest must not exist (never overwritten); it is
 * created 0600 and left in rollback-journal mode, one self-contained file.
 * The copy is made beside @dest and named @dest only once whole: a backup
 * cut short (a full disk) leaves nothing that could pass for a backup.
 */
gboolean
_fst_db_backup_to(const gchar *src_path, const gchar *dest, GError **error)
{
	g_autofree gchar *tmp = NULL;
	g_autoptr(GError) error_local = NULL;

	tmp = fst_file_new_temp(dest, 0600, NULL, &error_local);
	if (tmp == NULL) {
		fst_db_backup_set_create_error(dest, error_local, error);
		return FALSE;
	}
	if (!fst_db_backup_copy(src_path, tmp, dest, error)) {
		fst_db_backup_remove(tmp);
		return FALSE;
	}
	if (!fst_file_link_new(tmp, dest, &error_local)) {
		fst_db_backup_set_create_error(dest, error_local, error);
		fst_db_backup_remove(tmp);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_backup:
 * @self: an #FstDb
 * @dest: the backup file; must not exist
 * @error: (nullable): return location for a #GError
 *
 * Copies the whole database to @dest with SQLite's online backup API, safe
 * while stations provision into it (one consistent snapshot; writers are
 * not blocked). @dest is created with mode 0600 and is never overwritten;
 * the copy is a standalone database that fst_db_open() opens.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_backup(FstDb *self, const gchar *dest, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dest != NULL, FALSE);
	return _fst_db_backup_to(self->path, dest, error);
}

/**
 * fst_db_get_last_backup:
 * @self: an #FstDb
 *
 * Returns: (transfer full) (nullable): the copy fst_db_open() made before
 * migrating this file, if it did
 */
gchar *
fst_db_get_last_backup(FstDb *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_strdup(self->last_backup);
}

/**
 * fst_db_integrity_check:
 * @self: an #FstDb
 * @error: (nullable): return location for a #GError
 *
 * Runs SQLite's `PRAGMA integrity_check` and `foreign_key_check`.
 *
 * Fails with %FST_ERROR_DATABASE naming the first problem found.
 *
 * Returns: %TRUE when the file is sound
 */
gboolean
fst_db_integrity_check(FstDb *self, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *result = NULL;
	g_autoptr(FstDbStmt) fk = NULL;
	gboolean violation = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_query_text(self, "PRAGMA integrity_check", &result, error))
		return FALSE;
	if (g_strcmp0(result, "ok") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s is damaged: %s: restore it from a backup",
		            self->path,
		            result != NULL ? result : "(no answer)");
		return FALSE;
	}
	fk = _fst_db_prepare(self, "PRAGMA foreign_key_check", "check references", error);
	if (fk == NULL || !_fst_db_step_row(self, fk, &violation, "check references", error))
		return FALSE;
	if (violation) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has a row in %s that points at nothing: it was edited "
		            "outside fleetstation",
		            self->path,
		            (const gchar *)sqlite3_column_text(fk, 0));
		return FALSE;
	}
	return TRUE;
}

/* the device state names, by FstDbDeviceState */
const gchar *const fst_db_device_states[FST_DB_DEVICE_STATE_LAST] = {
    "new",
    "in-progress",
    "provisioned",
    "failed",
    "rework",
};

static gboolean
fst_db_count_locked(FstDb *self, const gchar *sql, const gchar *arg, gint64 *count, GError **error)
{
	g_autoptr(FstDbStmt) stmt = _fst_db_prepare(self, sql, "count rows", error);
	gboolean found = FALSE;

	if (stmt == NULL)
		return FALSE;
	if (arg != NULL &&
	    !_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_TRANSIENT), "count rows", error))
		return FALSE;
	if (!_fst_db_step_row(self, stmt, &found, "count rows", error))
		return FALSE;
	*count = found ? sqlite3_column_int64(stmt, 0) : 0;
	return TRUE;
}

/* counts[i] = rows whose state is names[i]; @sql returns (state, count) */
static gboolean
fst_db_count_states_locked(FstDb *self,
                           const gchar *sql,
                           const gchar *const *names,
                           guint n_names,
                           gint64 *counts,
                           GError **error)
{
	g_autoptr(FstDbStmt) stmt = _fst_db_prepare(self, sql, "count rows by state", error);
	gint rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 0);
		for (guint i = 0; i < n_names; i++) {
			if (g_strcmp0(state, names[i]) == 0)
				counts[i] = sqlite3_column_int64(stmt, 1);
		}
	}
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to count rows by state");
	return TRUE;
}

/**
 * fst_db_get_stats:
 * @self: an #FstDb
 * @stats: (out caller-allocates): filled in; free with fst_db_stats_clear()
 * @error: (nullable): return location for a #GError
 *
 * Counts what the database holds, in one read transaction.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_get_stats(FstDb *self, FstDbStats *stats, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	struct stat st = {0};
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(stats != NULL, FALSE);

	memset(stats, 0, sizeof(*stats));
	stats->schema_version = self->schema_version;
	if (g_stat(self->path, &st) == 0)
		stats->file_bytes = st.st_size;
	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_exec(self, "BEGIN", "read the statistics", error))
		return FALSE;
	ok = _fst_db_query_text(self,
	                        "SELECT value FROM db_properties WHERE key = 'database-id'",
	                        &stats->database_id,
	                        error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM stations", NULL, &stats->stations, error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM operators", NULL, &stats->operators, error) &&
	     fst_db_count_locked(self, "SELECT count(*) FROM lots", NULL, &stats->lots, error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM devices", NULL, &stats->devices, error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM certificates", NULL, &stats->certificates, error) &&
	     fst_db_count_locked(self, "SELECT max(id) FROM events", NULL, &stats->events, error) &&
	     fst_db_count_locked(self,
	                         "SELECT count(*) FROM registrations WHERE state = 'pending'",
	                         NULL,
	                         &stats->registrations_pending,
	                         error);
	/* one pass over each table: no state index is kept for this (every index
	 * costs a page written per commit, db/schema.md "Size and cost") */
	ok = ok && fst_db_count_states_locked(self,
	                                      "SELECT state, count(*) FROM devices GROUP BY state",
	                                      fst_db_device_states,
	                                      G_N_ELEMENTS(fst_db_device_states),
	                                      stats->devices_by_state,
	                                      error);
	ok = ok &&
	     fst_db_count_states_locked(self,
	                                "SELECT state, count(*) FROM certificates GROUP BY state",
	                                fst_cert_state_names,
	                                FST_CERT_STATE_LAST,
	                                stats->certificates_by_state,
	                                error);
	_fst_db_rollback(self);
	return ok;
}

/**
 * fst_db_stats_clear:
 * @stats: filled by fst_db_get_stats()
 *
 * Frees what @stats owns.
 */
void
fst_db_stats_clear(FstDbStats *stats)
{
	g_clear_pointer(&stats->database_id, g_free);
}
