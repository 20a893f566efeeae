/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test that needs an outside program it cannot find is skipped, never
 * passed. fst_test_skip_missing() skips the test case and marks the program;
 * fst_test_run_skippable() then turns a run that otherwise passed into exit
 * code 77, which ctest reports as skipped (every test has SKIP_RETURN_CODE 77,
 * see tests/CMakeLists.txt). A failure stays a failure.
 */
#pragma once

#include <glib.h>

static gboolean fst_test_missing_peer = FALSE;

static inline void
fst_test_skip_missing(const gchar *reason)
{
	g_printerr("SKIP: %s\n", reason);
	g_test_skip(reason);
	fst_test_missing_peer = TRUE;
}

static inline int
fst_test_run_skippable(void)
{
	int rc = g_test_run();
	if (rc == 0 && fst_test_missing_peer) {
		g_printerr("SKIP: some cases need a program that is missing (SKIP lines above)\n");
		return 77;
	}
	return rc;
}
