/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded reads of user files (station/base/fst-file.c), and the readers
 * built on them that have no test of their own here: known-devices.conf and
 * station.conf; new files written whole or not at all (FstFileOut).
 */

#define _GNU_SOURCE /* O_TMPFILE */

#define G_LOG_DOMAIN "FstFileTest"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-file.h"
#include "fst-ports.h"
#include "fst-settings.h"

typedef struct {
	gchar *dir;
	gchar *fifo;
	mode_t umask;
} FstTestFixture;

static void
fst_test_setup(FstTestFixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fx->dir = g_dir_make_tmp("fst-file-XXXXXX", NULL);
	fx->fifo = g_build_filename(fx->dir, "fifo", NULL);
	fx->umask = umask(022);
	umask(fx->umask);
	g_assert_cmpint(mkfifo(fx->fifo, 0600), ==, 0);
}

static void
fst_test_teardown(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GDir) dir = g_dir_open(fx->dir, 0, NULL);
	const gchar *name;
	(void)user_data;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(fx->dir);
	g_free(fx->fifo);
	g_free(fx->dir);
}

/* a regular file up to the bound is read whole, NUL-terminated; one byte
 * more is refused, and so is anything that is not a regular file */
static void
fst_test_bounds(FstTestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *path = g_build_filename(fx->dir, "f", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *data = NULL;
	gsize len = 0;

	(void)user_data;
	g_assert_true(g_file_set_contents(path, "0123456789", 10, NULL));
	data = fst_file_read_bounded(path, 10, &len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(len, ==, 10);
	g_assert_cmpstr(data, ==, "0123456789");
	g_clear_pointer(&data, g_free);

	data = fst_file_read_bounded(path, 9, &len, &error);
	g_assert_null(data);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "10 bytes, more than the 9 bytes allowed"));
	g_clear_error(&error);

	data = fst_file_read_bounded(fx->fifo, 10, &len, &error);
	g_assert_null(data);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "is a FIFO, not a regular file"));
	g_clear_error(&error);

	data = fst_file_read_bounded("/dev/zero", 10, &len, &error);
	g_assert_null(data);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	data = fst_file_read_bounded(fx->dir, 10, &len, &error);
	g_assert_null(data);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "is a directory"));
	g_clear_error(&error);

	g_unlink(path);
	data = fst_file_read_bounded(path, 10, &len, &error);
	g_assert_null(data);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
}

/* known-devices.conf and station.conf: a FIFO or /dev/zero is a configuration
 * error, not a hang or an endless read */
static void
fst_test_conf_readers(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstKnownDevices) known = NULL;
	g_autoptr(FstSettings) settings = NULL;
	g_autofree gchar *conf = g_build_filename(fx->dir, "station.conf", NULL);

	(void)user_data;
	known = fst_known_devices_load(fx->fifo, &error);
	g_assert_null(known);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "not a regular file"));
	g_clear_error(&error);
	known = fst_known_devices_load("/dev/zero", &error);
	g_assert_null(known);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);

	g_assert_cmpint(mkfifo(conf, 0600), ==, 0);
	settings = fst_settings_load(fx->dir, &error);
	g_assert_null(settings);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "not a regular file"));
}

/* a gang of a few hundred ports needs more descriptors than Debian's soft
 * limit of 1,024: the station raises it to the hard limit (in a child
 * process, whose limits the other tests do not share) */
static void
fst_test_open_limit(void)
{
	struct rlimit limit;
	rlim_t hard;

	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
		g_test_trap_assert_passed();
		return;
	}
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
	hard = limit.rlim_max;
	if (hard <= 64) {
		g_test_skip("the hard limit of open files is 64 or less");
		return;
	}
	limit.rlim_cur = 64;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &limit), ==, 0);
	fst_file_raise_open_limit();
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
	g_assert_cmpuint(limit.rlim_cur, ==, hard);
	g_assert_cmpuint(limit.rlim_max, ==, hard);
}

/* the names in @dir but the fixture's FIFO, sorted, comma-separated */
static gchar *
fst_test_list(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		if (g_strcmp0(name, "fifo") != 0)
			g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(",", (gchar **)names->pdata);
}

/* a new file is whole at its name or absent: a process killed while it
 * writes leaves nothing (where the file system has O_TMPFILE, as ext4,
 * xfs, btrfs and tmpfs do); a commit gives the whole file its name and
 * mode; a name taken meanwhile is never replaced */
static void
fst_test_out_killed(FstTestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *path = g_build_filename(fx->dir, "report.csv", NULL);
	g_autofree gchar *listed = NULL;
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstFileOut) file = NULL;
	gint probe = open(fx->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	gint status = 0;
	GStatBuf st;
	gsize len = 0;
	pid_t pid;

	(void)user_data;
	if (probe < 0) {
		g_test_skip("no O_TMPFILE in the temporary directory's file system");
		return;
	}
	close(probe);

	/* killed in the middle of its writing */
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		FstFileOut *out = fst_file_out_new(path, 0644, NULL);
		gchar block[4096];
		memset(block, 'x', sizeof(block));
		for (guint i = 0; out != NULL && i < 256; i++)
			fwrite(block, 1, sizeof(block), fst_file_out_get_stream(out));
		if (out != NULL)
			fflush(fst_file_out_get_stream(out));
		raise(SIGKILL);
		_exit(1);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	listed = fst_test_list(fx->dir);
	g_assert_cmpstr(listed, ==, "");

	/* committed: whole, with its mode, and nothing beside it */
	file = fst_file_out_new(path, 0640, &error);
	g_assert_no_error(error);
	fputs("a,b\n1,2\n", fst_file_out_get_stream(file));
	g_assert_true(fst_file_out_commit(file, &error));
	g_assert_no_error(error);
	g_clear_pointer(&file, fst_file_out_free);
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	g_assert_cmpstr(contents, ==, "a,b\n1,2\n");
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0640 & ~fx->umask);
	g_clear_pointer(&listed, g_free);
	listed = fst_test_list(fx->dir);
	g_assert_cmpstr(listed, ==, "report.csv");

	/* the name taken while the file was written: it is not replaced */
	g_unlink(path);
	file = fst_file_out_new(path, 0644, &error);
	g_assert_no_error(error);
	fputs("mine", fst_file_out_get_stream(file));
	g_assert_true(g_file_set_contents(path, "theirs", -1, NULL));
	g_assert_false(fst_file_out_commit(file, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_pointer(&file, fst_file_out_free);
	g_clear_pointer(&contents, g_free);
	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==, "theirs");
	g_clear_pointer(&listed, g_free);
	listed = fst_test_list(fx->dir);
	g_assert_cmpstr(listed, ==, "report.csv");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/file/open-limit-raised", fst_test_open_limit);
	g_test_add("/fst/file/read-bounded",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_bounds,
	           fst_test_teardown);
	g_test_add("/fst/file/conf-readers/reject-non-regular-files",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_conf_readers,
	           fst_test_teardown);
	g_test_add("/fst/file/out/whole-or-absent",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_out_killed,
	           fst_test_teardown);
	return g_test_run();
}
