/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded reads of user files (station/base/fst-file.c), and the readers
 * built on them that have no test of their own here: known-devices.conf and
 * station.conf.
 */

#define G_LOG_DOMAIN "FstFileTest"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fst-error.h"
#include "fst-file.h"
#include "fst-ports.h"
#include "fst-settings.h"

typedef struct {
	gchar *dir;
	gchar *fifo;
} FstTestFixture;

static void
fst_test_setup(FstTestFixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fx->dir = g_dir_make_tmp("fst-file-XXXXXX", NULL);
	fx->fifo = g_build_filename(fx->dir, "fifo", NULL);
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
	return g_test_run();
}
