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
 * without it: a read, a size, a truncation, a file control, a write
 * elsewhere in the file, a full buffer, and above all the sync. This is
 * only right for a connection that syncs the WAL at every commit
 * (`synchronous=FULL`, which fst_db_setup() sets and nothing changes): a
 * commit is then in the file before SQLite tells readers about it (the
 * wal-index is updated after the sync), so other connections and other
 * processes see exactly what they would see without it.
 *
 * Frames written without a commit (a transaction larger than the page
 * cache spills some) stay in the buffer until one of the above, which is
 * also what SQLite reads them back through. If that transaction is rolled
 * back instead, they must never reach the file: once this connection gives
 * up the WAL's write lock, another connection appends its own commit at
 * those places. So the database file is wrapped too, only to see that lock
 * (the first of the wal-index locks, `xShmLock()` of the database file)
 * given up; what the buffer still holds then was never synced, so never
 * committed, and is dropped. For the same reason a close drops it.
 */

/* SQLite's unix VFS passes at most 128 KiB - 1 bytes to a pwrite(), and
 * reports a write of 128 KiB or more as a full disk */
#define FST_DB_WAL_CHUNK (64 * 1024)
#define FST_DB_WAL_BUFFER (1024 * 1024)

/* the WAL's write lock: the first of the wal-index locks (SQLite's wal.c) */
#define FST_DB_WAL_WRITE_LOCK 0

typedef struct _FstDbWalFile FstDbWalFile;

typedef struct {
	sqlite3_file base;
	sqlite3_file *real; /* (owned): the parent VFS's file */
	FstDbWalFile *wal;  /* (unowned) (nullable): its WAL, while open */
} FstDbMainFile;

struct _FstDbWalFile {
	sqlite3_file base;
	sqlite3_file *real;  /* (owned): the parent VFS's file */
	FstDbMainFile *main; /* (unowned) (nullable): the database it belongs to */
	guint8 *buf;         /* (owned) (nullable): allocated at the first write */
	sqlite3_int64 start; /* offset in the file of buf[0] */
	gsize len;
};

static sqlite3_vfs fst_db_wal_vfs;
static sqlite3_vfs *fst_db_wal_parent;
static sqlite3_io_methods fst_db_wal_io;
static sqlite3_io_methods fst_db_wal_main_io;

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
	gint rc = f->real->pMethods->xClose(f->real);

	/* a close comes after the write lock is given up: nothing held is
	 * committed, see the top of this file */
	if (f->main != NULL)
		f->main->wal = NULL;
	g_free(f->buf);
	g_free(f->real);
	return rc;
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

	/* a WAL whose write lock this VFS cannot see is written as it comes */
	if (f->main == NULL)
		return f->real->pMethods->xWrite(f->real, data, amount, offset);
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

/* the database file: the parent's, seen only for the WAL's write lock */

#define FST_DB_MAIN_REAL(file) (((FstDbMainFile *)(file))->real)

static gint
fst_db_wal_main_close(sqlite3_file *file)
{
	FstDbMainFile *m = (FstDbMainFile *)file;
	gint rc = m->real->pMethods->xClose(m->real);

	if (m->wal != NULL)
		m->wal->main = NULL;
	g_free(m->real);
	return rc;
}

static gint
fst_db_wal_main_read(sqlite3_file *file, void *data, gint amount, sqlite3_int64 offset)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xRead(real, data, amount, offset);
}

static gint
fst_db_wal_main_write(sqlite3_file *file, const void *data, gint amount, sqlite3_int64 offset)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xWrite(real, data, amount, offset);
}

static gint
fst_db_wal_main_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xTruncate(real, size);
}

static gint
fst_db_wal_main_sync(sqlite3_file *file, gint flags)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xSync(real, flags);
}

static gint
fst_db_wal_main_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xFileSize(real, size);
}

static gint
fst_db_wal_main_lock(sqlite3_file *file, gint level)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xLock(real, level);
}

static gint
fst_db_wal_main_unlock(sqlite3_file *file, gint level)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xUnlock(real, level);
}

static gint
fst_db_wal_main_check_reserved_lock(sqlite3_file *file, gint *out)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xCheckReservedLock(real, out);
}

static gint
fst_db_wal_main_file_control(sqlite3_file *file, gint op, void *arg)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xFileControl(real, op, arg);
}

static gint
fst_db_wal_main_sector_size(sqlite3_file *file)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xSectorSize(real);
}

static gint
fst_db_wal_main_device_characteristics(sqlite3_file *file)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	return real->pMethods->xDeviceCharacteristics(real);
}

static gint
fst_db_wal_main_shm_map(
    sqlite3_file *file, gint region, gint size, gint extend, void volatile **out)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	if (real->pMethods->iVersion < 2 || real->pMethods->xShmMap == NULL)
		return SQLITE_IOERR_SHMMAP;
	return real->pMethods->xShmMap(real, region, size, extend, out);
}

static gint
fst_db_wal_main_shm_lock(sqlite3_file *file, gint offset, gint n, gint flags)
{
	FstDbMainFile *m = (FstDbMainFile *)file;

	if (m->real->pMethods->iVersion < 2 || m->real->pMethods->xShmLock == NULL)
		return SQLITE_IOERR_SHMLOCK;
	/* the write lock given up: what the WAL's buffer holds was never synced,
	 * so never committed (see the top of this file) */
	if (m->wal != NULL && offset == FST_DB_WAL_WRITE_LOCK &&
	    (flags & (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE)) ==
	        (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE))
		m->wal->len = 0;
	return m->real->pMethods->xShmLock(m->real, offset, n, flags);
}

static void
fst_db_wal_main_shm_barrier(sqlite3_file *file)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	if (real->pMethods->iVersion >= 2 && real->pMethods->xShmBarrier != NULL)
		real->pMethods->xShmBarrier(real);
}

static gint
fst_db_wal_main_shm_unmap(sqlite3_file *file, gint delete_flag)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	if (real->pMethods->iVersion < 2 || real->pMethods->xShmUnmap == NULL)
		return SQLITE_OK;
	return real->pMethods->xShmUnmap(real, delete_flag);
}

static gint
fst_db_wal_main_fetch(sqlite3_file *file, sqlite3_int64 offset, gint amount, void **out)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	/* no memory map: SQLite reads instead */
	if (real->pMethods->iVersion < 3 || real->pMethods->xFetch == NULL) {
		*out = NULL;
		return SQLITE_OK;
	}
	return real->pMethods->xFetch(real, offset, amount, out);
}

static gint
fst_db_wal_main_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
	sqlite3_file *real = FST_DB_MAIN_REAL(file);
	if (real->pMethods->iVersion < 3 || real->pMethods->xUnfetch == NULL)
		return SQLITE_OK;
	return real->pMethods->xUnfetch(real, offset, page);
}

/* opens @name with the parent VFS into a new file of its own */
static gint
fst_db_wal_open_real(sqlite3_filename name, gint flags, gint *out_flags, sqlite3_file **out)
{
	sqlite3_file *real = g_malloc0((gsize)fst_db_wal_parent->szOsFile);
	gint rc = fst_db_wal_parent->xOpen(fst_db_wal_parent, name, real, flags, out_flags);

	if (rc != SQLITE_OK) {
		/* SQLite closes a file whose open failed only if it has methods */
		if (real->pMethods != NULL)
			real->pMethods->xClose(real);
		g_free(real);
		return rc;
	}
	*out = real;
	return SQLITE_OK;
}

/* the database file is wrapped (for its WAL's write lock), the WAL gets the
 * buffer, every other file is the parent's own */
static gint
fst_db_wal_open(
    sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, gint flags, gint *out_flags)
{
	gint rc;

	if ((flags & SQLITE_OPEN_MAIN_DB) != 0) {
		FstDbMainFile *m = (FstDbMainFile *)file;
		memset(m, 0, sizeof(*m));
		rc = fst_db_wal_open_real(name, flags, out_flags, &m->real);
		file->pMethods = rc == SQLITE_OK ? &fst_db_wal_main_io : NULL;
		return rc;
	}
	if ((flags & SQLITE_OPEN_WAL) != 0) {
		FstDbWalFile *f = (FstDbWalFile *)file;
		sqlite3_file *db;
		memset(f, 0, sizeof(*f));
		rc = fst_db_wal_open_real(name, flags, out_flags, &f->real);
		if (rc != SQLITE_OK) {
			file->pMethods = NULL;
			return rc;
		}
		db = sqlite3_database_file_object(name);
		if (db != NULL && db->pMethods == &fst_db_wal_main_io) {
			f->main = (FstDbMainFile *)db;
			f->main->wal = f;
		}
		file->pMethods = &fst_db_wal_io;
		return SQLITE_OK;
	}
	return fst_db_wal_parent->xOpen(fst_db_wal_parent, name, file, flags, out_flags);
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
			    MAX(fst_db_wal_parent->szOsFile,
			        (gint)MAX(sizeof(FstDbWalFile), sizeof(FstDbMainFile)));
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
			fst_db_wal_main_io.iVersion = 3;
			fst_db_wal_main_io.xClose = fst_db_wal_main_close;
			fst_db_wal_main_io.xRead = fst_db_wal_main_read;
			fst_db_wal_main_io.xWrite = fst_db_wal_main_write;
			fst_db_wal_main_io.xTruncate = fst_db_wal_main_truncate;
			fst_db_wal_main_io.xSync = fst_db_wal_main_sync;
			fst_db_wal_main_io.xFileSize = fst_db_wal_main_file_size;
			fst_db_wal_main_io.xLock = fst_db_wal_main_lock;
			fst_db_wal_main_io.xUnlock = fst_db_wal_main_unlock;
			fst_db_wal_main_io.xCheckReservedLock = fst_db_wal_main_check_reserved_lock;
			fst_db_wal_main_io.xFileControl = fst_db_wal_main_file_control;
			fst_db_wal_main_io.xSectorSize = fst_db_wal_main_sector_size;
			fst_db_wal_main_io.xDeviceCharacteristics =
			    fst_db_wal_main_device_characteristics;
			fst_db_wal_main_io.xShmMap = fst_db_wal_main_shm_map;
			fst_db_wal_main_io.xShmLock = fst_db_wal_main_shm_lock;
			fst_db_wal_main_io.xShmBarrier = fst_db_wal_main_shm_barrier;
			fst_db_wal_main_io.xShmUnmap = fst_db_wal_main_shm_unmap;
			fst_db_wal_main_io.xFetch = fst_db_wal_main_fetch;
			fst_db_wal_main_io.xUnfetch = fst_db_wal_main_unfetch;
			registered = sqlite3_vfs_register(&fst_db_wal_vfs, 0) == SQLITE_OK;
		}
		if (!registered)
			g_warning("the WAL VFS could not be registered: using SQLite's own");
		g_once_init_leave(&once, 1);
	}
	return registered ? fst_db_wal_vfs.zName : NULL;
}
