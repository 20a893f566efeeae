/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AT response parser of the nRF91 dialect: bytes from the modem, never
 * trusted. A response is information lines ended by CR LF and a final
 * result code (OK, ERROR, +CME ERROR: n); a quoted string may hold raw CR
 * and LF (the PEM of %CMNG), so lines are split outside quotes only.
 * Everything here is bounded and parsed through explicit lengths; the fuzz
 * target tests/fuzz/fst-fuzz-nrf91-at.c runs it on arbitrary input.
 */
#define G_LOG_DOMAIN "FstNrf91At"

#include "fst-nrf91-at.h"

#include <string.h>

#include "fst-crypto.h"
#include "fst-error.h"

/* a final result code on its own line */
static FstNrf91AtFinal
fst_nrf91_at_final(const gchar *line, gint *cme_error)
{
	if (g_strcmp0(line, "OK") == 0)
		return FST_NRF91_AT_OK;
	if (g_strcmp0(line, "ERROR") == 0)
		return FST_NRF91_AT_ERROR;
	if (g_str_has_prefix(line, "+CME ERROR:")) {
		const gchar *p = line + strlen("+CME ERROR:");
		gchar *end = NULL;
		guint64 n;
		while (*p == ' ')
			p++;
		n = g_ascii_strtoull(p, &end, 10);
		if (end == p || *end != '\0' || n > 65535)
			n = 0;
		*cme_error = (gint)n;
		return FST_NRF91_AT_CME_ERROR;
	}
	return FST_NRF91_AT_INCOMPLETE;
}

/**
 * fst_nrf91_at_scan:
 * @buf: (array length=len): what the modem sent since the command
 * @len: its length
 * @lines: (out) (optional) (transfer full) (element-type utf8): the
 *   information lines before the final result code, when there is one
 * @cme_error: (out): the code of `+CME ERROR: n` (0 when unreadable)
 *
 * Splits a response into lines at CR LF (or a lone LF) outside double
 * quotes, skips empty lines and lines with a NUL byte, and looks for the
 * final result code. Bytes after it are ignored.
 *
 * Returns: how the response ended, %FST_NRF91_AT_INCOMPLETE while it has not
 */
FstNrf91AtFinal
fst_nrf91_at_scan(const gchar *buf, gsize len, GPtrArray **lines, gint *cme_error)
{
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
	gboolean quoted = FALSE;
	gsize start = 0;

	*cme_error = 0;
	if (len > FST_NRF91_AT_RESPONSE_MAX)
		return FST_NRF91_AT_OVERSIZE;
	for (gsize i = 0; i < len; i++) {
		gsize line_start = start;
		gsize line_end;
		g_autofree gchar *line = NULL;
		FstNrf91AtFinal final;

		if (buf[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted || buf[i] != '\n')
			continue;
		line_end = i;
		if (line_end > line_start && buf[line_end - 1] == '\r')
			line_end--;
		start = i + 1;
		/* empty lines separate; a line with a NUL is line noise */
		if (line_end == line_start ||
		    memchr(buf + line_start, 0, line_end - line_start) != NULL)
			continue;
		line = g_strndup(buf + line_start, line_end - line_start);
		final = fst_nrf91_at_final(line, cme_error);
		if (final != FST_NRF91_AT_INCOMPLETE) {
			if (lines != NULL)
				*lines = g_steal_pointer(&found);
			return final;
		}
		g_ptr_array_add(found, g_steal_pointer(&line));
	}
	return FST_NRF91_AT_INCOMPLETE;
}

/**
 * fst_nrf91_base64url_decode:
 * @text: (array length=len): base64url without padding (RFC 4648 section 5)
 * @len: its length
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the bytes, or %NULL with %FST_ERROR_INVALID_DATA
 *   for a character outside the alphabet or a length no encoder makes
 */
GBytes *
fst_nrf91_base64url_decode(const gchar *text, gsize len, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_sized_new((guint)(len * 3 / 4 + 1));
	guint32 acc = 0;
	guint bits = 0;

	if (len % 4 == 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "base64url text of %" G_GSIZE_FORMAT " characters is truncated",
		            len);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		guint v;
		if (c >= 'A' && c <= 'Z')
			v = (guint)(c - 'A');
		else if (c >= 'a' && c <= 'z')
			v = (guint)(c - 'a') + 26;
		else if (c >= '0' && c <= '9')
			v = (guint)(c - '0') + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "character 0x%02x at %" G_GSIZE_FORMAT " is not base64url",
			            (guint)(guchar)c,
			            i);
			return NULL;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			guint8 b = (guint8)(acc >> (bits - 8));
			g_byte_array_append(out, &b, 1);
			bits -= 8;
		}
		acc &= (1u << bits) - 1u;
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/**
 * fst_nrf91_base64url_encode:
 * @data: (array length=len): bytes
 * @len: their length
 *
 * Returns: (transfer full): base64url without padding
 */
gchar *
fst_nrf91_base64url_encode(const guint8 *data, gsize len)
{
	g_autofree gchar *b64 = g_base64_encode(data, len);
	GString *out = g_string_new(NULL);
	for (const gchar *p = b64; *p != '\0'; p++) {
		if (*p == '=')
			break;
		g_string_append_c(out, *p == '+' ? '-' : *p == '/' ? '_' : *p);
	}
	return g_string_free(out, FALSE);
}

/**
 * fst_nrf91_at_parse_keygen:
 * @line: an information line of the %KEYGEN answer
 * @csr: (out) (transfer full): the DER CSR
 * @cose: (out) (transfer full): the COSE_Sign1 over it
 * @error: (nullable): return location
 *
 * Parses `%KEYGEN: "<base64url CSR>.<base64url COSE_Sign1>"`.
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_INVALID_DATA
 */
gboolean
fst_nrf91_at_parse_keygen(const gchar *line, GBytes **csr, GBytes **cose, GError **error)
{
	const gchar *p;
	const gchar *dot;
	const gchar *end;
	g_autoptr(GBytes) csr_tmp = NULL;
	g_autoptr(GBytes) cose_tmp = NULL;

	if (!g_str_has_prefix(line, "%KEYGEN: \"")) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "the answer to AT%KEYGEN is not %KEYGEN: \"<CSR>.<COSE>\"");
		return FALSE;
	}
	p = line + strlen("%KEYGEN: \"");
	end = strchr(p, '"');
	if (end == NULL || end[1] != '\0') {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "the answer to AT%KEYGEN has no closing quote at its end");
		return FALSE;
	}
	dot = memchr(p, '.', (gsize)(end - p));
	if (dot == NULL || dot == p || dot + 1 == end) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "the answer to AT%KEYGEN lacks the CSR or its COSE signature");
		return FALSE;
	}
	csr_tmp = fst_nrf91_base64url_decode(p, (gsize)(dot - p), error);
	if (csr_tmp == NULL) {
		g_prefix_error(error, "the CSR of AT%%KEYGEN: ");
		return FALSE;
	}
	cose_tmp = fst_nrf91_base64url_decode(dot + 1, (gsize)(end - dot - 1), error);
	if (cose_tmp == NULL) {
		g_prefix_error(error, "the COSE signature of AT%%KEYGEN: ");
		return FALSE;
	}
	*csr = g_steal_pointer(&csr_tmp);
	*cose = g_steal_pointer(&cose_tmp);
	return TRUE;
}

/**
 * fst_nrf91_at_parse_cmng_digest:
 * @line: an information line of the `AT%CMNG=1,<sec_tag>,<type>` answer
 * @sec_tag: the tag asked for
 * @type: the credential type asked for
 * @sha256: (out caller-allocates): the SHA-256 the modem reports
 * @error: (nullable): return location
 *
 * Parses `%CMNG: <sec_tag>,<type>,"<64 hex digits>"`.
 *
 * Returns: %TRUE when the line is of @sec_tag and @type; %FALSE with
 *   %FST_ERROR_NOT_FOUND for another credential, %FST_ERROR_INVALID_DATA
 *   for a malformed line
 */
gboolean
fst_nrf91_at_parse_cmng_digest(
    const gchar *line, guint32 sec_tag, guint type, guint8 sha256[32], GError **error)
{
	const gchar *p;
	gchar *end = NULL;
	guint64 tag;
	guint64 t;

	if (!g_str_has_prefix(line, "%CMNG: ")) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "the answer to AT%CMNG=1 is not a %CMNG: line");
		return FALSE;
	}
	p = line + strlen("%CMNG: ");
	tag = g_ascii_strtoull(p, &end, 10);
	if (end == p || *end != ',')
		goto bad;
	p = end + 1;
	t = g_ascii_strtoull(p, &end, 10);
	if (end == p || *end != ',' || end[1] != '"')
		goto bad;
	p = end + 2;
	if (!fst_crypto_hex_decode(p, sha256, 32))
		goto bad;
	if (g_strcmp0(p + 64, "\"") != 0)
		goto bad;
	if (tag != sec_tag || t != type) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "the modem listed credential %" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
		            ", not %u,%u",
		            tag,
		            t,
		            sec_tag,
		            type);
		return FALSE;
	}
	return TRUE;
bad:
	g_set_error_literal(error,
	                    FST_ERROR,
	                    FST_ERROR_INVALID_DATA,
	                    "the answer to AT%CMNG=1 is not %CMNG: <sec_tag>,<type>,\"<SHA-256>\"");
	return FALSE;
}

/* a minimal CBOR reader for COSE_Sign1: major types 0 (uint), 2 (bstr),
 * 4 (array), 5 (map) and 6 (tag), definite lengths only */
typedef struct {
	const guint8 *p;
	gsize len;
	gsize pos;
} FstCbor;

static gboolean
fst_cbor_head(FstCbor *c, guint8 *major, guint64 *arg)
{
	guint8 b;
	guint n;

	if (c->pos >= c->len)
		return FALSE;
	b = c->p[c->pos++];
	*major = b >> 5;
	*arg = b & 0x1f;
	if (*arg < 24)
		return TRUE;
	if (*arg > 27)
		return FALSE; /* indefinite lengths and reserved values */
	n = 1u << (*arg - 24);
	if (c->len - c->pos < n)
		return FALSE;
	*arg = 0;
	for (guint i = 0; i < n; i++)
		*arg = (*arg << 8) | c->p[c->pos++];
	return TRUE;
}

static GBytes *
fst_cbor_bstr(FstCbor *c)
{
	guint8 major;
	guint64 n;
	GBytes *out;

	if (!fst_cbor_head(c, &major, &n) || major != 2 || n > c->len - c->pos)
		return NULL;
	out = g_bytes_new(c->p + c->pos, (gsize)n);
	c->pos += (gsize)n;
	return out;
}

/* skips one data item of the kinds COSE headers use */
static gboolean
fst_cbor_skip(FstCbor *c, guint depth)
{
	guint8 major;
	guint64 n;

	if (depth > 8 || !fst_cbor_head(c, &major, &n))
		return FALSE;
	switch (major) {
	case 0:
	case 1:
	case 7:
		return TRUE;
	case 2:
	case 3:
		if (n > c->len - c->pos)
			return FALSE;
		c->pos += (gsize)n;
		return TRUE;
	case 4:
	case 5:
		if (n > c->len)
			return FALSE;
		for (guint64 i = 0; i < (major == 5 ? 2 * n : n); i++) {
			if (!fst_cbor_skip(c, depth + 1))
				return FALSE;
		}
		return TRUE;
	case 6:
		return fst_cbor_skip(c, depth + 1);
	default:
		return FALSE;
	}
}

/**
 * fst_nrf91_cose_sign1_parse:
 * @cose: a COSE_Sign1 (RFC 9052), tagged 18 or not
 * @protected_hdr: (out) (transfer full): the protected header bstr contents
 * @payload: (out) (transfer full): the payload
 * @signature: (out) (transfer full): the signature
 * @error: (nullable): return location
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_INVALID_DATA
 */
gboolean
fst_nrf91_cose_sign1_parse(
    GBytes *cose, GBytes **protected_hdr, GBytes **payload, GBytes **signature, GError **error)
{
	FstCbor c = {0};
	guint8 major;
	guint64 n;
	g_autoptr(GBytes) prot = NULL;
	g_autoptr(GBytes) pay = NULL;
	g_autoptr(GBytes) sig = NULL;

	c.p = g_bytes_get_data(cose, &c.len);
	if (!fst_cbor_head(&c, &major, &n))
		goto bad;
	if (major == 6) {
		if (n != 18 || !fst_cbor_head(&c, &major, &n))
			goto bad;
	}
	if (major != 4 || n != 4)
		goto bad;
	prot = fst_cbor_bstr(&c);
	if (prot == NULL || !fst_cbor_skip(&c, 0))
		goto bad;
	pay = fst_cbor_bstr(&c);
	sig = pay != NULL ? fst_cbor_bstr(&c) : NULL;
	if (sig == NULL || c.pos != c.len)
		goto bad;
	*protected_hdr = g_steal_pointer(&prot);
	*payload = g_steal_pointer(&pay);
	*signature = g_steal_pointer(&sig);
	return TRUE;
bad:
	g_set_error_literal(error,
	                    FST_ERROR,
	                    FST_ERROR_INVALID_DATA,
	                    "the COSE signature of AT%KEYGEN is not a COSE_Sign1 structure");
	return FALSE;
}

static void
fst_cbor_put_head(GByteArray *out, guint8 major, guint64 n)
{
	guint8 b[9];
	guint len = 1;
	if (n < 24) {
		b[0] = (guint8)((major << 5) | n);
	} else if (n <= 0xff) {
		b[0] = (guint8)((major << 5) | 24);
		b[1] = (guint8)n;
		len = 2;
	} else if (n <= 0xffff) {
		b[0] = (guint8)((major << 5) | 25);
		b[1] = (guint8)(n >> 8);
		b[2] = (guint8)n;
		len = 3;
	} else {
		b[0] = (guint8)((major << 5) | 26);
		for (guint i = 0; i < 4; i++)
			b[1 + i] = (guint8)(n >> (24 - 8 * i));
		len = 5;
	}
	g_byte_array_append(out, b, len);
}

static void
fst_cbor_put_bytes(GByteArray *out, guint8 major, const guint8 *data, gsize len)
{
	fst_cbor_put_head(out, major, len);
	g_byte_array_append(out, data, (guint)len);
}

/**
 * fst_nrf91_cose_sig_structure:
 * @protected_hdr: the protected header of the COSE_Sign1
 * @payload: its payload
 *
 * Returns: (transfer full): the bytes a COSE_Sign1 signature covers:
 *   `["Signature1", protected, h'', payload]` in CBOR (RFC 9052 section 4.4)
 */
GBytes *
fst_nrf91_cose_sig_structure(GBytes *protected_hdr, GBytes *payload)
{
	GByteArray *out = g_byte_array_new();
	gsize len = 0;
	const guint8 *p;

	fst_cbor_put_head(out, 4, 4);
	fst_cbor_put_bytes(out, 3, (const guint8 *)"Signature1", 10);
	p = g_bytes_get_data(protected_hdr, &len);
	fst_cbor_put_bytes(out, 2, p, len);
	fst_cbor_put_bytes(out, 2, NULL, 0);
	p = g_bytes_get_data(payload, &len);
	fst_cbor_put_bytes(out, 2, p, len);
	return g_byte_array_free_to_bytes(out);
}

/**
 * fst_nrf91_cme_error_to_string:
 * @code: a `+CME ERROR` code of the nRF91 modem
 *
 * Returns: what the code means, with what to do
 */
const gchar *
fst_nrf91_cme_error_to_string(gint code)
{
	switch (code) {
	case 513:
		return "not found (no such credential or key in the sec_tag)";
	case 514:
		return "no access (the sec_tag is reserved or write-protected: choose another "
		       "sec-tag in the profile)";
	case 515:
		return "memory full (the modem's credential storage is full: delete unused "
		       "credentials or burn fewer roots)";
	case 518:
		return "not allowed in active state (the modem must be offline, AT+CFUN=4; "
		       "check that nothing else switches it on)";
	case 519:
		return "already exists (the credential is in the sec_tag and cannot be "
		       "overwritten)";
	case 523:
		return "key generation failed (retry; if it fails again the modem's key "
		       "storage may be faulty)";
	case 528:
		return "not allowed while the power-off warning is active (the supply voltage "
		       "is low: check the jig's power)";
	default:
		return "modem error";
	}
}
