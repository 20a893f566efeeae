#define G_LOG_DOMAIN "FstX509"

#include "fst-x509.h"

#include <string.h>

/* RFC 7468 strict encoding: 64 characters a line, LF line ends */
#define FST_PEM_LINE 64

static void
fst_x509_append_pem(GString *out, GBytes *der)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	g_autofree gchar *b64 = g_base64_encode(data, len);
	gsize b64_len = strlen(b64);

	g_string_append(out, "-----BEGIN CERTIFICATE-----\n");
	for (gsize i = 0; i < b64_len; i += FST_PEM_LINE) {
		g_string_append_len(out, b64 + i, (gssize)MIN(FST_PEM_LINE, b64_len - i));
		g_string_append_c(out, '\n');
	}
	g_string_append(out, "-----END CERTIFICATE-----\n");
}

/**
 * fst_x509_bundle_encode:
 * @ders: (element-type GBytes): DER certificates, in the order to store them
 * @format: PEM (RFC 7468, concatenated) or DER (concatenated)
 *
 * Encodes certificates the way a device stores them. This is the one encoder
 * for device objects, so the sizes the trust selection plans with are the
 * sizes burned.
 *
 * Returns: (transfer full): the bytes
 */
GBytes *
fst_x509_bundle_encode(GPtrArray *ders, FstCredFormat format)
{
	g_autoptr(GString) out = g_string_new(NULL);
	for (guint i = 0; i < ders->len; i++) {
		GBytes *der = g_ptr_array_index(ders, i);
		if (format == FST_CRED_FORMAT_PEM) {
			fst_x509_append_pem(out, der);
		} else {
			gsize len = 0;
			const guint8 *data = g_bytes_get_data(der, &len);
			g_string_append_len(out, (const gchar *)data, (gssize)len);
		}
	}
	return g_string_free_to_bytes(g_steal_pointer(&out));
}

/**
 * fst_x509_sha256_hex:
 * @data: bytes
 *
 * Returns: (transfer full): the lower-case hex SHA-256 of @data
 */
gchar *
fst_x509_sha256_hex(GBytes *data)
{
	gsize len = 0;
	const guint8 *buf = g_bytes_get_data(data, &len);
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, len);
}
