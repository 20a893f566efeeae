/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db-private.h"

#include <sqlite3.h>
#include <string.h>

/*
 * The WAL of the station's connection, written once per commit.
 *
 * SQLite appends a commit to the WAL one frame at a time, each frame two
 * `pwrite()` calls (its 24-byte header, then its page), and then syncs the
 * file: 20 to 30 system calls for a device's two commits, 13 per device
 * with 16 lanes. This VFS wraps the default one and, for WAL files only,
 * gathers contiguous writes in a buffer that goes to the file in a few
 * large writes when SQLite syncs it (db/schema.md, "Size and cost").
 *
 * The buffer is written out before anything that could see the file
 * without it: a read, a size, a truncation, a file control, a close, a
 * write elsewhere in the file, a full buffer, and above all the sync. This
 * is only right for a connection that syncs the WAL at every commit
 * (`synchronous=FULL`, which fst_db_setup() sets and nothing changes): a
 * commit is then in the file before SQLite tells readers about it (the
 * wal-index is updated after the sync), so other connections and other
 * processes see exactly what they would see without it. Frames written
 * without a commit (a cache spill) stay in the buffer until one of the
 * above, which is also what SQLite reads them back through.
 */

/* SQLite's unix VFS passes at most 128 KiB - 1 bytes to a pwrite(), and
 * reports a write of 128 KiB or more as a full disk */
#define FST_DB_WAL_CHUNK (64 * 1024)
#define FST_DB_WAL_BUFFER (1024 * 1024)

typedef struct {
	sqlite3_file base;
	sqlite3_file *real;  /* (owned): the parent VFS's file */
	guint8 *buf;         /* (owned) (nullable): allocated at the first write */
	sqlite3_int64 start; /* offset in the file of buf[0] */
	gsize len;
} FstDbWalFile;

static sqlite3_vfs fst_db_wal_vfs;
static sqlite3_vfs *fst_db_wal_parent;
static sqlite3_io_methods fst_db_wal_io;

static gint
fst_db_wal_flush(FstDbWalFile *f)
{
	gint rc = SQLITE_OK;

	for (gsize off = 0; rc == SQLITE_OK && off < f->len; off += FST_DB_WAL_CHUNK) {
		gsize n = MIN(f->len - off, (gsize)FST_DB_WAL_CHUNK);
		rc = f->real->pMethods->xWrite(f->real, f->buf + off, (gint)n, f->start + off);
	}
	/* after a failure SQLite fails the commit: what was gathered is gone */
	f->len = 0;
	return rc;
}

static gint
fst_db_wal_close(sqlite3_file *file)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);
	gint rc_close = f->real->pMethods->xClose(f->real);

	g_free(f->buf);
	g_free(f->real);
	return rc != SQLITE_OK ? rc : rc_close;
}

static gint
fst_db_wal_read(sqlite3_file *file, void *data, gint amount, sqlite3_int64 offset)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, data, amount, offset);
}

static gint
fst_db_wal_write(sqlite3_file *file, const void *data, gint amount, sqlite3_int64 offset)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gsize n = (gsize)amount;

	/* a frame written again in the same commit: in place */
	if (f->len > 0 && offset >= f->start &&
	    offset + amount <= f->start + (sqlite3_int64)f->len) {
		memcpy(f->buf + (offset - f->start), data, n);
		return SQLITE_OK;
	}
	if (f->len > 0 &&
	    (offset != f->start + (sqlite3_int64)f->len || f->len + n > FST_DB_WAL_BUFFER)) {
		gint rc = fst_db_wal_flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (n > FST_DB_WAL_BUFFER)
		return f->real->pMethods->xWrite(f->real, data, amount, offset);
	if (f->buf == NULL)
		f->buf = g_malloc(FST_DB_WAL_BUFFER);
	if (f->len == 0)
		f->start = offset;
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return SQLITE_OK;
}

static gint
fst_db_wal_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static gint
fst_db_wal_sync(sqlite3_file *file, gint flags)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static gint
fst_db_wal_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static gint
fst_db_wal_lock(sqlite3_file *file, gint level)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	return f->real->pMethods->xLock(f->real, level);
}

static gint
fst_db_wal_unlock(sqlite3_file *file, gint level)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	return f->real->pMethods->xUnlock(f->real, level);
}

static gint
fst_db_wal_check_reserved_lock(sqlite3_file *file, gint *out)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static gint
fst_db_wal_file_control(sqlite3_file *file, gint op, void *arg)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc = fst_db_wal_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static gint
fst_db_wal_sector_size(sqlite3_file *file)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	return f->real->pMethods->xSectorSize(f->real);
}

static gint
fst_db_wal_device_characteristics(sqlite3_file *file)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* a WAL file gets the buffer; every other file is the parent's own */
static gint
fst_db_wal_open(
    sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, gint flags, gint *out_flags)
{
	FstDbWalFile *f = (FstDbWalFile *)file;
	gint rc;

	if ((flags & SQLITE_OPEN_WAL) == 0)
		return fst_db_wal_parent->xOpen(fst_db_wal_parent, name, file, flags, out_flags);
	memset(f, 0, sizeof(*f));
	f->real = g_malloc0((gsize)fst_db_wal_parent->szOsFile);
	rc = fst_db_wal_parent->xOpen(fst_db_wal_parent, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		/* SQLite closes a file whose open failed only if it has methods */
		if (f->real->pMethods != NULL)
			f->real->pMethods->xClose(f->real);
		g_clear_pointer(&f->real, g_free);
		file->pMethods = NULL;
		return rc;
	}
	file->pMethods = &fst_db_wal_io;
	return SQLITE_OK;
}

/**
 * _fst_db_wal_vfs_name:
 *
 * Registers, once, the VFS that writes the WAL once per commit (see the top
 * of this file) over the default VFS of the moment, not as the default.
 * Only for a connection that syncs the WAL at every commit.
 *
 * Returns: (nullable): its name for sqlite3_open_v2(); %NULL (the default
 * VFS) if it could not be registered
 */
const gchar *
_fst_db_wal_vfs_name(void)
{
	static gsize once = 0;
	static gboolean registered = FALSE;

	if (g_once_init_enter(&once)) {
		fst_db_wal_parent = sqlite3_vfs_find(NULL);
		if (fst_db_wal_parent != NULL) {
			fst_db_wal_vfs = *fst_db_wal_parent;
			fst_db_wal_vfs.zName = "fleetstation-wal";
			fst_db_wal_vfs.pNext = NULL;
			fst_db_wal_vfs.szOsFile =
			    MAX(fst_db_wal_parent->szOsFile, (gint)sizeof(FstDbWalFile));
			fst_db_wal_vfs.xOpen = fst_db_wal_open;
			fst_db_wal_io.iVersion = 1;
			fst_db_wal_io.xClose = fst_db_wal_close;
			fst_db_wal_io.xRead = fst_db_wal_read;
			fst_db_wal_io.xWrite = fst_db_wal_write;
			fst_db_wal_io.xTruncate = fst_db_wal_truncate;
			fst_db_wal_io.xSync = fst_db_wal_sync;
			fst_db_wal_io.xFileSize = fst_db_wal_file_size;
			fst_db_wal_io.xLock = fst_db_wal_lock;
			fst_db_wal_io.xUnlock = fst_db_wal_unlock;
			fst_db_wal_io.xCheckReservedLock = fst_db_wal_check_reserved_lock;
			fst_db_wal_io.xFileControl = fst_db_wal_file_control;
			fst_db_wal_io.xSectorSize = fst_db_wal_sector_size;
			fst_db_wal_io.xDeviceCharacteristics = fst_db_wal_device_characteristics;
			registered = sqlite3_vfs_register(&fst_db_wal_vfs, 0) == SQLITE_OK;
		}
		if (!registered)
			g_warning("the WAL VFS could not be registered: using SQLite's own");
		g_once_init_leave(&once, 1);
	}
	return registered ? fst_db_wal_vfs.zName : NULL;
}
