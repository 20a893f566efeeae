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

static const gchar *
fst_fuzz_file_write(const gchar *name, const uint8_t *data, size_t size)
{
	static gchar *dir = NULL;
	static gchar *path = NULL;

	if (dir == NULL) {
		dir = g_dir_make_tmp("fst-fuzz-XXXXXX", NULL);
		g_assert_nonnull(dir);
		path = g_build_filename(dir, name, NULL);
	}
	/* a plain rewrite: g_file_set_contents() syncs to disk, too slow here */
	{
		FILE *f = fopen(path, "wb");
		g_assert_nonnull(f);
		g_assert_cmpuint(fwrite(data, 1, size, f), ==, size);
		g_assert_cmpint(fclose(f), ==, 0);
	}
	return path;
}
