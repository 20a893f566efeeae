/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: device key intake from a CSR (fst-csr.c), as
 * fst_ca_issue_from_csr() runs it on the bytes a device sends: parse, decode
 * the public key, check the self-signature.
 */
#include <stdint.h>

#include "fst-csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *reason = NULL;
	FstCsr csr;

	if (!fst_csr_parse(data, size, &csr))
		return 0;
	if (!fst_csr_decode_spki(csr.spki_whole.p, csr.spki_whole.len, &key, &reason))
		return 0;
	(void)fst_csr_verify_signature(data, size, &csr, key.pkey);
	return 0;
}
