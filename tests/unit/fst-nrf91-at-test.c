/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nrf91 dialect's parsers of modem output, on exact bytes.
 */
#include <glib.h>
#include <string.h>

#include "fst-error.h"
#include "fst-nrf91-at.h"

static FstNrf91AtFinal
scan(const gchar *text, gsize len, GPtrArray **lines, gint *cme)
{
	return fst_nrf91_at_scan(text, len, lines, cme);
}

static void
test_scan(void)
{
	const gchar pem[] =
	    "\r\n%CMNG: 1,0,\"-----BEGIN X-----\r\nAB\r\nOK\r\n-----END X-----\"\r\nOK\r\n";
	const gchar nul[] = "noise\0here\r\n352656100367872\r\nOK\r\n";
	g_autoptr(GPtrArray) lines = NULL;
	g_autofree gchar *big = NULL;
	gint cme = -1;

	/* not finished until the final result code */
	g_assert_cmpint(scan("352656100367872\r\n", 17, &lines, &cme), ==, FST_NRF91_AT_INCOMPLETE);
	g_assert_null(lines);
	g_assert_cmpint(
	    scan("352656100367872\r\nO", 18, &lines, &cme), ==, FST_NRF91_AT_INCOMPLETE);
	g_assert_cmpint(scan("352656100367872\r\nOK\r\n", 21, &lines, &cme), ==, FST_NRF91_AT_OK);
	g_assert_cmpuint(lines->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "352656100367872");
	g_clear_pointer(&lines, g_ptr_array_unref);

	/* raw CR LF inside quotes stays in the line, an OK there is data */
	g_assert_cmpint(scan(pem, strlen(pem), &lines, &cme), ==, FST_NRF91_AT_OK);
	g_assert_cmpuint(lines->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(lines, 0),
	                ==,
	                "%CMNG: 1,0,\"-----BEGIN X-----\r\nAB\r\nOK\r\n-----END X-----\"");
	g_clear_pointer(&lines, g_ptr_array_unref);
	/* an unclosed quote never ends */
	g_assert_cmpint(scan("\"abc\r\nOK\r\n", 10, &lines, &cme), ==, FST_NRF91_AT_INCOMPLETE);

	/* the numeric error */
	g_assert_cmpint(scan("+CME ERROR: 518\r\n", 17, &lines, &cme), ==, FST_NRF91_AT_CME_ERROR);
	g_assert_cmpint(cme, ==, 518);
	g_clear_pointer(&lines, g_ptr_array_unref);
	g_assert_cmpint(scan("+CME ERROR: 5x\r\n", 16, &lines, &cme), ==, FST_NRF91_AT_CME_ERROR);
	g_assert_cmpint(cme, ==, 0);
	g_clear_pointer(&lines, g_ptr_array_unref);
	g_assert_cmpint(scan("ERROR\n", 6, &lines, &cme), ==, FST_NRF91_AT_ERROR);
	g_clear_pointer(&lines, g_ptr_array_unref);

	/* a line with a NUL is dropped */
	g_assert_cmpint(scan(nul, sizeof(nul) - 1, &lines, &cme), ==, FST_NRF91_AT_OK);
	g_assert_cmpuint(lines->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "352656100367872");
	g_clear_pointer(&lines, g_ptr_array_unref);

	/* bounded: one byte over the limit */
	big = g_malloc0(FST_NRF91_AT_RESPONSE_MAX + 1);
	memset(big, 'A', FST_NRF91_AT_RESPONSE_MAX + 1);
	g_assert_cmpint(
	    scan(big, FST_NRF91_AT_RESPONSE_MAX, &lines, &cme), ==, FST_NRF91_AT_INCOMPLETE);
	g_assert_cmpint(
	    scan(big, FST_NRF91_AT_RESPONSE_MAX + 1, &lines, &cme), ==, FST_NRF91_AT_OVERSIZE);
}

static void
test_base64url(void)
{
	const guint8 data[] = {0xfb, 0xff, 0xfe, 0x00, 0x41};
	g_autofree gchar *text = fst_nrf91_base64url_encode(data, sizeof(data));
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GBytes) bad = NULL;
	g_autoptr(GError) error = NULL;

	/* the URL alphabet, no padding */
	g_assert_cmpstr(text, ==, "-__-AEE");
	back = fst_nrf91_base64url_decode(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(back, NULL), g_bytes_get_size(back), data, sizeof(data));
	bad = fst_nrf91_base64url_decode("-__-AEE=", 8, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_null(bad);
	g_clear_error(&error);
	bad = fst_nrf91_base64url_decode("+//+", 4, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	bad = fst_nrf91_base64url_decode("AAAAA", 5, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

static void
test_keygen_line(void)
{
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cose = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(fst_nrf91_at_parse_keygen("%KEYGEN: \"MIIB.0oQ\"", &csr, &cose, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr), "\x30\x82\x01", 3);
	g_assert_cmpmem(g_bytes_get_data(cose, NULL), g_bytes_get_size(cose), "\xd2\x84", 2);
	g_assert_false(fst_nrf91_at_parse_keygen("%KEYGEN: \"MIIB0oQ\"", &csr, &cose, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_nrf91_at_parse_keygen("%KEYGEN: \"MIIB.0oQ\"x", &csr, &cose, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_nrf91_at_parse_keygen("%KEYGEN: \"MI/B.0oQ\"", &csr, &cose, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

static void
test_cmng_line(void)
{
	const gchar *good =
	    "%CMNG: "
	    "16842753,1,\"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1\"";
	guint8 sha[32];
	g_autoptr(GError) error = NULL;

	g_assert_true(fst_nrf91_at_parse_cmng_digest(good, 16842753, 1, sha, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sha[0], ==, 0x2c);
	g_assert_cmpuint(sha[31], ==, 0xd1);
	/* another credential */
	g_assert_false(fst_nrf91_at_parse_cmng_digest(good, 16842753, 0, sha, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	/* a short hash, a missing quote */
	g_assert_false(fst_nrf91_at_parse_cmng_digest("%CMNG: 1,1,\"2C43\"", 1, 1, sha, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_nrf91_at_parse_cmng_digest(
	    "%CMNG: 1,1,2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1",
	    1,
	    1,
	    sha,
	    &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

static void
test_cose(void)
{
	/* 18([h'a10126', {}, h'01', h'0203']) */
	const guint8 tagged[] = {
	    0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x01, 0x42, 0x02, 0x03};
	g_autoptr(GBytes) cose = g_bytes_new_static(tagged, sizeof(tagged));
	g_autoptr(GBytes) untagged = g_bytes_new_static(tagged + 1, sizeof(tagged) - 1);
	g_autoptr(GBytes) trailing = NULL;
	g_autoptr(GBytes) prot = NULL;
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) tbs = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 want_tbs[] = {0x84,
	                           0x6a,
	                           'S',
	                           'i',
	                           'g',
	                           'n',
	                           'a',
	                           't',
	                           'u',
	                           'r',
	                           'e',
	                           '1',
	                           0x43,
	                           0xa1,
	                           0x01,
	                           0x26,
	                           0x40,
	                           0x41,
	                           0x01};
	guint8 more[sizeof(tagged) + 1];

	g_assert_true(fst_nrf91_cose_sign1_parse(cose, &prot, &payload, &sig, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload), "\x01", 1);
	g_assert_cmpmem(g_bytes_get_data(sig, NULL), g_bytes_get_size(sig), "\x02\x03", 2);
	tbs = fst_nrf91_cose_sig_structure(prot, payload);
	g_assert_cmpmem(
	    g_bytes_get_data(tbs, NULL), g_bytes_get_size(tbs), want_tbs, sizeof(want_tbs));
	g_clear_pointer(&prot, g_bytes_unref);
	g_clear_pointer(&payload, g_bytes_unref);
	g_clear_pointer(&sig, g_bytes_unref);
	g_assert_true(fst_nrf91_cose_sign1_parse(untagged, &prot, &payload, &sig, &error));
	g_assert_no_error(error);

	/* a byte after it, another tag, a string that runs past the end */
	memcpy(more, tagged, sizeof(tagged));
	more[sizeof(tagged)] = 0x00;
	trailing = g_bytes_new(more, sizeof(more));
	g_assert_false(fst_nrf91_cose_sign1_parse(trailing, &prot, &payload, &sig, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	more[0] = 0xd1;
	g_clear_pointer(&trailing, g_bytes_unref);
	trailing = g_bytes_new(more, sizeof(tagged));
	g_assert_false(fst_nrf91_cose_sign1_parse(trailing, &prot, &payload, &sig, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_clear_pointer(&trailing, g_bytes_unref);
	trailing = g_bytes_new(tagged, sizeof(tagged) - 1);
	g_assert_false(fst_nrf91_cose_sign1_parse(trailing, &prot, &payload, &sig, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/nrf91/at/scan", test_scan);
	g_test_add_func("/fst/nrf91/at/base64url", test_base64url);
	g_test_add_func("/fst/nrf91/at/keygen-line", test_keygen_line);
	g_test_add_func("/fst/nrf91/at/cmng-line", test_cmng_line);
	g_test_add_func("/fst/nrf91/at/cose-sign1", test_cose);
	return g_test_run();
}
