/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the files a user hands the station (profiles, manifests,
 * known-devices.conf, station.conf): only regular files, and never more
 * than the caller's bound, so that /dev/zero, a FIFO or a huge file is an
 * error rather than an endless read, a hang or an exhausted memory.
 *
 * Writing the files a user asks for (reports, exports): whole or not at
 * all (FstFileOut), never over another file, and durable once written: the
 * directory that names a new file is synced too.
 */

/* renameat2(), O_TMPFILE */
#define _GNU_SOURCE

#define G_LOG_DOMAIN "FstFile"

#include "fst-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-error.h"

static const gchar *
fst_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/**
 * fst_file_read_bounded:
 * @path: a file the user named
 * @max_size: the most bytes the file may hold
 * @len: (out) (optional): the number of bytes read
 * @error: (nullable): return location
 *
 * Reads a whole regular file of at most @max_size bytes. The file is opened
 * non-blocking, so a FIFO is refused rather than waited on, and is checked
 * to be a regular file after the open (no race with a rename). A file that
 * grows past @max_size while it is read is refused too.
 *
 * Returns: (transfer full): the contents with a NUL appended, or %NULL with
 *   %FST_ERROR_NOT_FOUND, %FST_ERROR_PERMISSION_DENIED, or
 *   %FST_ERROR_INVALID_DATA for something that is not a regular file or is
 *   larger than @max_size
 */
gchar *
fst_file_read_bounded(const gchar *path, gsize max_size, gsize *len, GError **error)
{
	g_autofree gchar *buf = NULL;
	struct stat st;
	gsize total = 0;
	int fd;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(max_size < G_MAXSIZE - 1, NULL);

	fd = g_open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0) {
		int errsv = errno;
		g_set_error(error,
		            FST_ERROR,
		            errsv == ENOENT || errsv == ENOTDIR ? FST_ERROR_NOT_FOUND
		            : errsv == EACCES || errsv == EPERM ? FST_ERROR_PERMISSION_DENIED
		                                                : FST_ERROR_INVALID_DATA,
		            "cannot open %s: %s",
		            path,
		            g_strerror(errsv));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		int errsv = errno;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "cannot stat %s: %s",
		            path,
		            g_strerror(errsv));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is %s, not a regular file: give the path of a file",
		            path,
		            fst_file_kind(st.st_mode));
		close(fd);
		return NULL;
	}
	if (st.st_size < 0 || (guint64)st.st_size > max_size) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is %" G_GINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
		            " bytes allowed",
		            path,
		            (gint64)st.st_size,
		            max_size);
		close(fd);
		return NULL;
	}

	/* one byte more than allowed, to see a file that grew */
	buf = g_malloc((gsize)st.st_size + 2);
	for (;;) {
		gsize room = (gsize)st.st_size + 1 - total;
		gssize n;
		if (room == 0)
			break;
		n = read(fd, buf + total, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int errsv = errno;
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "cannot read %s: %s",
			            path,
			            g_strerror(errsv));
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		total += (gsize)n;
	}
	close(fd);
	if (total > (gsize)st.st_size) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s changed while it was read: try again",
		            path);
		return NULL;
	}
	buf[total] = '\0';
	if (len != NULL)
		*len = total;
	return g_steal_pointer(&buf);
}

/**
 * fst_file_load_key_file:
 * @kf: the key file to load into
 * @path: a file the user named
 * @max_size: the most bytes the file may hold
 * @flags: as for g_key_file_load_from_data()
 * @error: (nullable): return location
 *
 * g_key_file_load_from_file() through fst_file_read_bounded(): only a regular
 * file of at most @max_size bytes is read.
 *
 * Returns: %TRUE on success; else the errors of fst_file_read_bounded(), or a
 *   %G_KEY_FILE_ERROR for a file that is not a key file
 */
gboolean
fst_file_load_key_file(
    GKeyFile *kf, const gchar *path, gsize max_size, GKeyFileFlags flags, GError **error)
{
	gsize len = 0;
	g_autofree gchar *data = fst_file_read_bounded(path, max_size, &len, error);
	if (data == NULL)
		return FALSE;
	return g_key_file_load_from_data(kf, data, len, flags, error);
}

/* syncs the directory that names @path, so that a power loss after a new
 * name was given keeps it; a file system that cannot sync a directory
 * (EINVAL) has nothing to do */
static void
fst_file_sync_dir(const gchar *path)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	gint fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
		g_message("cannot sync the directory %s: %s: %s is written, but its name could be "
		          "lost if the station loses power now",
		          dir,
		          g_strerror(errno),
		          path);
	if (fd >= 0)
		close(fd);
}

/**
 * fst_file_set_contents_private:
 * @path: destination
 * @data: (array length=len): bytes
 * @len: length of @data
 * @error: (nullable): return location
 *
 * Writes a file that holds a secret: created with mode 0600 from the start
 * (never widened then narrowed), written to a temporary name, fsync()ed and
 * renamed over @path, so a crash leaves either the old file or the new one.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_file_set_contents_private(const gchar *path, const guint8 *data, gsize len, GError **error)
{
	g_autofree gchar *tmp = g_strdup_printf("%s.XXXXXX", path);
	gsize done = 0;
	int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create %s: %s",
		            tmp,
		            g_strerror(errno));
		return FALSE;
	}
	while (done < len) {
		gssize n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "cannot write %s: %s",
			            tmp,
			            g_strerror(errno));
			close(fd);
			g_unlink(tmp);
			return FALSE;
		}
		done += (gsize)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot sync %s: %s",
		            tmp,
		            g_strerror(errno));
		g_unlink(tmp);
		return FALSE;
	}
	if (g_rename(tmp, path) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot rename %s: %s",
		            tmp,
		            g_strerror(errno));
		g_unlink(tmp);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_file_raise_open_limit:
 *
 * Raises the process's soft limit of open files to its hard limit, once.
 * A port of a gang costs a few descriptors (the port, its lock; a simulated
 * device its pty and process), and Debian's soft limit of 1,024 is short
 * of a few hundred ports. That soft limit is there for programs that use
 * select(), which cannot watch a descriptor of 1,024 or more; nothing in
 * fleetstation does (the serial transport waits with poll()).
 */
void
fst_file_raise_open_limit(void)
{
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		struct rlimit limit;
		if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
			rlim_t was = limit.rlim_cur;
			limit.rlim_cur = limit.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
				g_debug("the limit of open files stays %lu: %s",
				        (gulong)was,
				        g_strerror(errno));
		}
		g_once_init_leave(&done, 1);
	}
}

struct _FstFileOut {
	gchar *path;        /* (owned) */
	gchar *tmp;         /* (owned) (nullable): a named temporary file, until committed */
	gboolean anonymous; /* an O_TMPFILE file, with no name until committed */
	FILE *out;          /* (owned) (nullable) */
};

static void
fst_file_out_set_write_error(FstFileOut *self, gint errsv, GError **error)
{
	g_set_error(
	    error,
	    FST_ERROR,
	    FST_ERROR_INTERNAL,
	    "writing %s failed: %s: check the free space (nothing was left under that name)",
	    self->path,
	    g_strerror(errsv));
}

static void
fst_file_set_create_error(const gchar *path, gint errsv, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_PERMISSION_DENIED,
	            "cannot create %s: %s",
	            path,
	            g_strerror(errsv));
}

static void
fst_file_out_set_exists_error(const gchar *path, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CONFIG,
	            "%s exists: an export never replaces a file nor follows a link, choose "
	            "another name",
	            path);
}

/* early, for a quick answer: the link that gives a new file its name is
 * what guarantees that it replaces nothing */
static gboolean
fst_file_check_absent(const gchar *path, GError **error)
{
	GStatBuf st;

	if (g_lstat(path, &st) != 0)
		return TRUE;
	fst_file_out_set_exists_error(path, error);
	return FALSE;
}

/**
 * fst_file_new_temp:
 * @path: a file to write, which must not exist
 * @mode: its mode, e.g. 0644
 * @fd: (out) (optional): the temporary file, open for writing
 * @error: (nullable): return location
 *
 * Makes the empty temporary file beside @path (`.NAME.XXXXXX`, @mode) where
 * a new file is written before fst_file_link_new() gives it its name.
 *
 * Returns: (transfer full): the temporary file's path, or %NULL with
 * %FST_ERROR_CONFIG when @path exists already
 */
gchar *
fst_file_new_temp(const gchar *path, gint mode, gint *fd, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	gint tmp_fd;

	if (!fst_file_check_absent(path, error))
		return NULL;
	tmp_fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, mode);
	if (tmp_fd < 0) {
		fst_file_set_create_error(path, errno, error);
		return NULL;
	}
	if (fd != NULL)
		*fd = tmp_fd;
	else
		close(tmp_fd);
	return g_steal_pointer(&tmp);
}

/* a file with no name in the directory of @path (O_TMPFILE), or -1 where
 * the file system cannot make one (FAT, older kernels) or no /proc would
 * let it be linked to its name */
static gint
fst_file_new_anonymous(const gchar *path, gint mode)
{
	g_autofree gchar *dir = g_path_get_dirname(path);

	if (access("/proc/self/fd", X_OK) != 0)
		return -1;
	return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
}

/**
 * fst_file_out_new:
 * @path: the file to write, which must not exist
 * @mode: its mode, e.g. 0644
 * @error: (nullable): return location
 *
 * Starts writing @path whole or not at all: the bytes go to a file with no
 * name yet in the same directory (O_TMPFILE), or where the file system has
 * no such files (FAT) to a hidden temporary file beside it
 * (fst_file_new_temp()). fst_file_out_commit() syncs it and links it to
 * @path, never replacing a file nor following a link. Until then, and when
 * anything fails (a full disk), nothing is at @path, and
 * fst_file_out_free() removes the temporary file: a report or export cut
 * short never looks like a whole one. A process killed meanwhile leaves
 * nothing behind, but the hidden file where there is no O_TMPFILE.
 *
 * Returns: (transfer full): the file being written, or %NULL with
 * %FST_ERROR_CONFIG when @path exists
 */
FstFileOut *
fst_file_out_new(const gchar *path, gint mode, GError **error)
{
	g_autoptr(FstFileOut) self = g_new0(FstFileOut, 1);
	gint fd;

	self->path = g_strdup(path);
	if (!fst_file_check_absent(path, error))
		return NULL;
	fd = fst_file_new_anonymous(path, mode);
	self->anonymous = fd >= 0;
	if (!self->anonymous) {
		self->tmp = fst_file_new_temp(path, mode, &fd, error);
		if (self->tmp == NULL)
			return NULL;
	}
	self->out = fdopen(fd, "wb");
	if (self->out == NULL) {
		fst_file_out_set_write_error(self, errno, error);
		close(fd);
		return NULL;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_file_out_get_stream:
 * @self: a file being written
 *
 * Returns: (transfer none): where to write, until fst_file_out_commit()
 */
FILE *
fst_file_out_get_stream(FstFileOut *self)
{
	return self->out;
}

/**
 * fst_file_link_new:
 * @tmp: a whole, synced file (fst_file_new_temp())
 * @path: its name, which must not exist
 * @error: (nullable): return location
 *
 * Gives @tmp its name, never over another file nor through a link: a hard
 * link, then @tmp removed; on a file system without hard links (a FAT
 * memory stick) a rename that does not replace, or where the file system
 * has no such rename either (FAT or NTFS through FUSE, CIFS) a rename once
 * the name was found free. The directory is synced.
 *
 * Returns: %TRUE when @path is the file; %FST_ERROR_CONFIG when it exists
 */
gboolean
fst_file_link_new(const gchar *tmp, const gchar *path, GError **error)
{
	if (link(tmp, path) == 0) {
		g_unlink(tmp);
		fst_file_sync_dir(path);
		return TRUE;
	}
	if (errno == EEXIST) {
		fst_file_out_set_exists_error(path, error);
		return FALSE;
	}
	if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
			fst_file_sync_dir(path);
			return TRUE;
		}
		if (errno == EEXIST) {
			fst_file_out_set_exists_error(path, error);
			return FALSE;
		}
		/* nor a rename that refuses to replace (FAT, exFAT and NTFS
		 * through FUSE, as a desktop mounts a memory stick; CIFS): the
		 * name is checked free, then the file renamed to it. Only
		 * another program making the same name in that moment would
		 * lose its file */
		if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
			if (!fst_file_check_absent(path, error))
				return FALSE;
			if (rename(tmp, path) == 0) {
				fst_file_sync_dir(path);
				return TRUE;
			}
		}
	}
	fst_file_set_create_error(path, errno, error);
	return FALSE;
}

/* gives the file open as @fd, which has no name (O_TMPFILE), the name @path */
static gboolean
fst_file_link_anonymous(gint fd, const gchar *path, GError **error)
{
	gchar proc[64];

	g_snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return TRUE;
	if (errno == EEXIST)
		fst_file_out_set_exists_error(path, error);
	else
		fst_file_set_create_error(path, errno, error);
	return FALSE;
}

/**
 * fst_file_out_commit:
 * @self: a file being written
 * @error: (nullable): return location
 *
 * Syncs what was written and puts it at its name. On failure nothing is
 * there, and fst_file_out_free() removes the temporary file.
 *
 * Returns: %TRUE when the file is whole at its name
 */
gboolean
fst_file_out_commit(FstFileOut *self, GError **error)
{
	FILE *out = g_steal_pointer(&self->out);
	gint errsv = 0;
	gboolean linked;

	g_return_val_if_fail(out != NULL, FALSE);
	if (fflush(out) != 0)
		errsv = errno;
	else if (ferror(out))
		errsv = EIO; /* an earlier write failed; its errno is gone */
	else if (fsync(fileno(out)) != 0)
		errsv = errno;
	if (errsv != 0) {
		fclose(out);
		fst_file_out_set_write_error(self, errsv, error);
		return FALSE;
	}
	/* the file with no name is linked while it is open */
	if (self->anonymous) {
		linked = fst_file_link_anonymous(fileno(out), self->path, error);
		if (linked)
			fst_file_sync_dir(self->path);
		fclose(out);
		return linked;
	}
	if (fclose(out) != 0) {
		fst_file_out_set_write_error(self, errno, error);
		return FALSE;
	}
	if (!fst_file_link_new(self->tmp, self->path, error))
		return FALSE;
	g_clear_pointer(&self->tmp, g_free);
	return TRUE;
}

/**
 * fst_file_out_free:
 * @self: (nullable): a file being written, or committed
 *
 * Removes the temporary file of a file not committed.
 */
void
fst_file_out_free(FstFileOut *self)
{
	if (self == NULL)
		return;
	if (self->out != NULL)
		fclose(self->out);
	if (self->tmp != NULL)
		g_unlink(self->tmp);
	g_free(self->tmp);
	g_free(self->path);
	g_free(self);
}

/**
 * fst_file_write_new:
 * @path: the file to write, which must not exist
 * @data: (array length=len): its bytes
 * @len: how many
 * @mode: its mode: 0644, or 0600 for anything a secret could be read from
 * @error: (nullable): return location
 *
 * Writes @path whole or not at all, never over another file nor through a
 * link (#FstFileOut).
 *
 * Returns: %TRUE when @path holds @data, synced; %FST_ERROR_CONFIG when it
 * exists
 */
gboolean
fst_file_write_new(const gchar *path, const void *data, gsize len, gint mode, GError **error)
{
	g_autoptr(FstFileOut) file = fst_file_out_new(path, mode, error);

	if (file == NULL)
		return FALSE;
	/* a short write leaves the stream's error, which the commit reports */
	(void)fwrite(data, 1, len, fst_file_out_get_stream(file));
	return fst_file_out_commit(file, error);
}
