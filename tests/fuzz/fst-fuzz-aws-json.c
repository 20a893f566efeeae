/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the private key taken out of an AWS answer before it is
 * parsed (fst_json_take_secret()); what is left must have no byte of
 * the value and keep its length.
 */
#include <stdint.h>
#include <string.h>

#include "fst-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree guint8 *text = g_memdup2(data, size);
	g_autoptr(FstSecret) key = NULL;
	g_autoptr(GError) error = NULL;

	if (fst_json_take_secret(text, size, "PrivateKey", &key, &error)) {
		g_assert_no_error(error);
		g_assert_cmpuint(fst_secret_get_len(key), <=, size);
	} else {
		g_assert_nonnull(error);
		g_assert_null(key);
	}
	return 0;
}
