/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: profiles (fst_profile_check_file()), through the bounded
 * reader, the INI parser and every check of every group.
 */
#include <stdint.h>

#include "fst-fuzz-file.h"
#include "fst-profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *path = fst_fuzz_file_write("fuzz.profile", data, size);
	g_autoptr(GPtrArray) errors = NULL;
	g_autoptr(FstProfile) profile = fst_profile_check_file(path, &errors);

	/* either a profile or at least one error, never both */
	g_assert_true((profile == NULL) == (errors != NULL && errors->len > 0));
	return 0;
}
