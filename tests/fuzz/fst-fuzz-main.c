/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain-main driver for the libFuzzer targets, so that under gcc (no
 * libFuzzer) the seed corpus still runs as a ctest test (label fuzz), in the
 * spirit of fwupd's fu-fuzzer-main.c. Arguments are files or directories.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const gchar *path)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, &data, &len, &error)) {
		g_printerr("cannot read %s: %s\n", path, error->message);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	return 0;
}

int
main(int argc, char **argv)
{
	guint n = 0;
	int rc = 0;

	if (argc < 2) {
		g_printerr("usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
			const gchar *name;
			while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
				g_autofree gchar *path = g_build_filename(argv[i], name, NULL);
				rc |= run_file(path);
				n++;
			}
		} else {
			rc |= run_file(argv[i]);
			n++;
		}
	}
	if (n == 0) {
		g_printerr("no inputs found: the seed corpus is missing\n");
		return 1;
	}
	printf("ran %u inputs\n", n);
	return rc;
}
