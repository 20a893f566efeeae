/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: device key intake from a bare SubjectPublicKeyInfo
 * (fst-csr.c), the key-source=device-public-key path; a key that decodes is
 * also used to check a signature over a challenge, as the pipeline does.
 */
#include <stdint.h>

#include "fst-ca.h"
#include "fst-csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *reason = NULL;

	if (size > FST_CSR_MAX_SIZE)
		return 0;
	if (fst_csr_decode_spki(data, size, &key, &reason)) {
		static const guint8 challenge[32] = {1};
		g_autoptr(GBytes) spki = g_bytes_new(key.spki->data, key.spki->len);
		g_autoptr(GBytes) msg = g_bytes_new_static(challenge, sizeof(challenge));
		g_autoptr(GBytes) sig = g_bytes_new_static(data, MIN(size, 64));
		g_autoptr(GError) error = NULL;
		/* the re-encoding must decode again, to the same type */
		g_auto(FstCsrKey) again = {0};
		g_assert_true(fst_csr_decode_spki(key.spki->data, key.spki->len, &again, NULL));
		g_assert_cmpint(again.key_type, ==, key.key_type);
		(void)fst_ca_verify_challenge(spki, msg, sig, &error);
	}
	return 0;
}
