/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-db-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fst-error.h"

/*
 * The one read-only open of a station database, shared by the audit, the
 * reports and the query commands. A WAL database normally needs its `-shm`
 * file, which SQLite creates beside it even to read: on read-only media
 * (a DVD, a read-only mount, an evidence copy) that fails with "unable to
 * open database file". When it does and the file has no write-ahead log
 * waiting to be read (a station that closed cleanly checkpoints and removes
 * it), the file is opened `immutable`: nothing can change it, so SQLite
 * needs no lock and no `-shm`. A log that exists without its `-shm` cannot be
 * read there, and is refused with what to do rather than silently skipped.
 */

/* another process (a station) may hold the lock for a moment */
#define FST_DB_READ_BUSY_TIMEOUT_MS 10000

static gchar *
fst_db_read_only_uri(const gchar *path, gboolean immutable)
{
	g_autofree gchar *abs = g_canonicalize_filename(path, NULL);
	g_autofree gchar *escaped = g_uri_escape_string(abs, "/", FALSE);
	return g_strdup_printf("file:%s?mode=ro%s", escaped, immutable ? "&immutable=1" : "");
}

static gint
fst_db_read_only_try(const gchar *path, gboolean immutable, sqlite3 **out)
{
	g_autofree gchar *uri = fst_db_read_only_uri(path, immutable);
	g_autoptr(sqlite3) db = NULL;
	gint rc;

	_fst_db_sqlite_init();
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(db, FST_DB_READ_BUSY_TIMEOUT_MS);
	/* SQLite opens lazily: the first read is what needs the -shm */
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	*out = g_steal_pointer(&db);
	return SQLITE_OK;
}

/* TRUE when @path has a write-ahead log with something in it */
static gboolean
fst_db_has_wal(const gchar *path)
{
	g_autofree gchar *wal = g_strdup_printf("%s-wal", path);
	GStatBuf st;
	return g_stat(wal, &st) == 0 && st.st_size > 0;
}

/**
 * _fst_db_connect_read_only:
 * @path: a station database file
 * @error: (nullable): return location for a #GError
 *
 * Opens @path read-only, also on read-only media (see the top of this file).
 * The connection sees what the last commit wrote; the caller starts its own
 * read transaction for one consistent snapshot.
 *
 * Returns: (transfer full): the connection, or %NULL with %FST_ERROR_NOT_FOUND
 * when there is no file, %FST_ERROR_DATABASE when it cannot be read
 */
sqlite3 *
_fst_db_connect_read_only(const gchar *path, GError **error)
{
	sqlite3 *db = NULL;
	gint rc;

	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no database at %s: check the workspace path",
		            path);
		return NULL;
	}
	rc = fst_db_read_only_try(path, FALSE, &db);
	if (rc == SQLITE_OK)
		return db;
	if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) {
		if (fst_db_has_wal(path)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DATABASE,
			            "cannot read %s: its write-ahead log %s-wal holds recent "
			            "records but its -shm file is missing and cannot be made "
			            "here (read-only media?): copy the workspace to writable "
			            "storage, or copy %s-shm beside it",
			            path,
			            path,
			            path);
			return NULL;
		}
		g_debug("%s: read-only media, opening it immutable", path);
		rc = fst_db_read_only_try(path, TRUE, &db);
		if (rc == SQLITE_OK)
			return db;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "cannot read database %s: %s: check the path, or run `fleetstation db check`",
	            path,
	            sqlite3_errstr(rc));
	return NULL;
}
