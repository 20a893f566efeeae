/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DER for the issuance path: a bounds-checked read cursor for untrusted
 * input (device CSRs and public keys), and the writer the certificate is
 * built with. Only the definite short and one- or two-byte long lengths are
 * read: nothing a device sends is 64 KiB or more.
 */

#define G_LOG_DOMAIN "FstDer"

#include "fst-der.h"

#include <string.h>

/* reads one TLV of tag @tag; @out gets its contents, @whole (nullable) the whole TLV */
gboolean
fst_der_read(FstDer *cur, guint8 tag, FstDer *out, FstDer *whole)
{
	gsize hdr = 2;
	gsize len;

	if (cur->len < 2 || cur->p[0] != tag)
		return FALSE;
	len = cur->p[1];
	if (len == 0x81) {
		if (cur->len < 3 || cur->p[2] < 0x80)
			return FALSE;
		len = cur->p[2];
		hdr = 3;
	} else if (len == 0x82) {
		if (cur->len < 4 || cur->p[2] == 0)
			return FALSE;
		len = ((gsize)cur->p[2] << 8) | cur->p[3];
		if (len < 0x100)
			return FALSE;
		hdr = 4;
	} else if (len >= 0x80) {
		/* indefinite or longer than anything a device sends */
		return FALSE;
	}
	if (cur->len - hdr < len)
		return FALSE;
	out->p = cur->p + hdr;
	out->len = len;
	if (whole != NULL) {
		whole->p = cur->p;
		whole->len = hdr + len;
	}
	cur->p += hdr + len;
	cur->len -= hdr + len;
	return TRUE;
}

gboolean
fst_der_equal(const FstDer *der, const guint8 *data, gsize len)
{
	return der->len == len && memcmp(der->p, data, len) == 0;
}

/* writes a header for @len bytes of content into @hdr; returns its size */
static guint
fst_der_header(guint8 hdr[4], guint8 tag, gsize len)
{
	hdr[0] = tag;
	if (len < 0x80) {
		hdr[1] = (guint8)len;
		return 2;
	}
	if (len < 0x100) {
		hdr[1] = 0x81;
		hdr[2] = (guint8)len;
		return 3;
	}
	hdr[1] = 0x82;
	hdr[2] = (guint8)(len >> 8);
	hdr[3] = (guint8)len;
	return 4;
}

void
fst_der_put(GByteArray *buf, guint8 tag, const guint8 *data, gsize len)
{
	guint8 hdr[4];
	g_byte_array_append(buf, hdr, fst_der_header(hdr, tag, len));
	g_byte_array_append(buf, data, (guint)len);
}

/* turns everything from @start to the end of @buf into the content of a @tag TLV */
void
fst_der_wrap(GByteArray *buf, gsize start, guint8 tag)
{
	gsize len = buf->len - start;
	guint8 hdr[4];
	guint n;

	/* everything built here is far below 64 KiB */
	g_assert(len <= 0xffff);
	n = fst_der_header(hdr, tag, len);
	g_byte_array_set_size(buf, buf->len + n);
	memmove(buf->data + start + n, buf->data + start, len);
	memcpy(buf->data + start, hdr, n);
}

/* a positive DER INTEGER's contents: minimal, non-negative; returns the magnitude */
gboolean
fst_der_unsigned(const FstDer *in, FstDer *magnitude)
{
	if (in->len == 0 || (in->p[0] & 0x80) != 0)
		return FALSE;
	if (in->len > 1 && in->p[0] == 0 && (in->p[1] & 0x80) == 0)
		return FALSE;
	magnitude->p = in->p;
	magnitude->len = in->len;
	if (magnitude->p[0] == 0 && magnitude->len > 1) {
		magnitude->p++;
		magnitude->len--;
	}
	return TRUE;
}
