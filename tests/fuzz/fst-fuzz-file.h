/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The readers of user files take a path: the fuzz targets for them write
 * each input to one private temporary file, so that the bounded reader
 * (fst_file_read_bounded()) is fuzzed too.
 */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static gchar *fst_fuzz_file_dir = NULL;
static gchar *fst_fuzz_file_path = NULL;

/* the file and its directory, at exit */
static void
fst_fuzz_file_remove(void)
{
	g_unlink(fst_fuzz_file_path);
	g_rmdir(fst_fuzz_file_dir);
}

static const gchar *
fst_fuzz_file_write(const gchar *name, const uint8_t *data, size_t size)
{
	gchar *path;

	if (fst_fuzz_file_dir == NULL) {
		fst_fuzz_file_dir = g_dir_make_tmp("fst-fuzz-XXXXXX", NULL);
		g_assert_nonnull(fst_fuzz_file_dir);
		fst_fuzz_file_path = g_build_filename(fst_fuzz_file_dir, name, NULL);
		atexit(fst_fuzz_file_remove);
	}
	path = fst_fuzz_file_path;
	/* a plain rewrite: g_file_set_contents() syncs to disk, too slow here */
	{
		FILE *f = fopen(path, "wb");
		g_assert_nonnull(f);
		g_assert_cmpuint(fwrite(data, 1, size, f), ==, size);
		g_assert_cmpint(fclose(f), ==, 0);
	}
	return path;
}
