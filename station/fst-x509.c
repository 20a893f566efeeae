/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstX509"

#include "fst-x509.h"

#include <openssl/err.h>
#include <string.h>

#include "fst-crypto.h"

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
			gsize len = 0;
			const guint8 *data = g_bytes_get_data(der, &len);
			gsize pem_len = 0;
			g_autofree gchar *pem =
			    fst_crypto_pem_encode("CERTIFICATE", data, len, &pem_len);
			g_string_append_len(out, pem, (gssize)pem_len);
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

/**
 * fst_x509_get_spki:
 * @cert: a certificate
 *
 * Returns: (transfer full) (nullable): the DER SubjectPublicKeyInfo of
 *   @cert, or %NULL (OpenSSL's error queue cleared) when it has none that
 *   encodes
 */
GBytes *
fst_x509_get_spki(X509 *cert)
{
	guint8 *der = NULL;
	gint len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	GBytes *spki;

	if (len <= 0) {
		ERR_clear_error();
		return NULL;
	}
	spki = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return spki;
}
