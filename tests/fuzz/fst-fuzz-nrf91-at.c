/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the nrf91 dialect's parsers of modem output: the
 * response scanner, and on every line it finds the %KEYGEN and %CMNG
 * parsers, then base64url and COSE_Sign1 on what they yield. Every call
 * must return a result or an FST_ERROR, never crash or read out of bounds.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "fst-error.h"
#include "fst-nrf91-at.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fst_fuzz_nrf91_line(const gchar *line)
{
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cose = NULL;
	g_autoptr(GError) error = NULL;
	guint8 sha[32];

	if (fst_nrf91_at_parse_keygen(line, &csr, &cose, &error)) {
		g_autoptr(GBytes) prot = NULL;
		g_autoptr(GBytes) payload = NULL;
		g_autoptr(GBytes) sig = NULL;
		if (fst_nrf91_cose_sign1_parse(cose, &prot, &payload, &sig, &error)) {
			g_autoptr(GBytes) tbs = fst_nrf91_cose_sig_structure(prot, payload);
			g_assert_nonnull(tbs);
		} else {
			g_assert_true(error->domain == FST_ERROR);
		}
	} else {
		g_assert_true(error->domain == FST_ERROR);
	}
	g_clear_error(&error);
	if (!fst_nrf91_at_parse_cmng_digest(line, 16842753, 1, sha, &error))
		g_assert_true(error->domain == FST_ERROR);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GPtrArray) lines = NULL;
	g_autoptr(GBytes) raw = g_bytes_new(data, size);
	g_autoptr(GBytes) decoded = NULL;
	g_autoptr(GBytes) prot = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GError) error = NULL;
	gint cme = 0;
	FstNrf91AtFinal final;

	/* every prefix state the station sees while bytes arrive ends up here:
	 * the whole input, and the input cut in the middle */
	(void)fst_nrf91_at_scan((const gchar *)data, size / 2, NULL, &cme);
	final = fst_nrf91_at_scan((const gchar *)data, size, &lines, &cme);
	if (final == FST_NRF91_AT_OK || final == FST_NRF91_AT_ERROR ||
	    final == FST_NRF91_AT_CME_ERROR) {
		g_assert_nonnull(lines);
		for (guint i = 0; i < lines->len; i++)
			fst_fuzz_nrf91_line(g_ptr_array_index(lines, i));
	}
	(void)fst_nrf91_cme_error_to_string(cme);

	decoded = fst_nrf91_base64url_decode((const gchar *)data, size, &error);
	if (decoded == NULL)
		g_assert_true(error->domain == FST_ERROR);
	g_clear_error(&error);
	if (!fst_nrf91_cose_sign1_parse(raw, &prot, &payload, &sig, &error))
		g_assert_true(error->domain == FST_ERROR);
	return 0;
}
