/* SPDX-License-Identifier: Apache-2.0 */
/* the device certificates of the database benchmarks (fst-bench-cert.h) */

#include "fst-bench-cert.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "fst-openssl-common.h"

/* where @needle is in @self's DER */
static gsize
fst_bench_cert_find(const FstBenchCert *self, const guint8 *needle, gsize len)
{
	for (gsize i = 0; len > 0 && i + len <= self->len; i++) {
		if (memcmp(self->der + i, needle, len) == 0)
			return i;
	}
	g_error("the bench certificate does not hold what was put in it");
	return 0;
}

/**
 * fst_bench_cert_init:
 * @self: where the template goes
 * @cn: its subject CN
 * @o: (nullable): its subject O
 *
 * Makes the template: a self-signed EC P-256 certificate with the serial
 * 5A5A...5A (20 bytes).
 */
void
fst_bench_cert_init(FstBenchCert *self, const gchar *cn, const gchar *o)
{
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(X509) x509 = X509_new();
	g_autoptr(BIGNUM) bn = BN_new();
	g_autofree guchar *point = NULL;
	gsize point_len;
	guint8 serial[20];
	X509_NAME *name = X509_get_subject_name(x509);
	guchar *der = NULL;
	gint len;

	memset(serial, 0x5a, sizeof(serial));
	BN_bin2bn(serial, sizeof(serial), bn);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509));
	X509_set_version(x509, 2);
	X509_gmtime_adj(X509_getm_notBefore(x509), 0);
	X509_gmtime_adj(X509_getm_notAfter(x509), 3650L * 24 * 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0);
	if (o != NULL)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const guchar *)o, -1, -1, 0);
	X509_set_issuer_name(x509, name);
	X509_set_pubkey(x509, key);
	X509_sign(x509, key, EVP_sha256());
	len = i2d_X509(x509, &der);
	g_assert_cmpint(len, >, 0);
	self->der = g_memdup2(der, (gsize)len);
	self->len = (gsize)len;
	OPENSSL_free(der);
	self->serial_at = fst_bench_cert_find(self, serial, sizeof(serial));
	point_len = EVP_PKEY_get1_encoded_public_key(key, &point);
	/* after the point's 0x04: the first bytes of X */
	self->key_at = fst_bench_cert_find(self, point, point_len) + 1;
}

void
fst_bench_cert_clear(FstBenchCert *self)
{
	g_clear_pointer(&self->der, g_free);
}

/**
 * fst_bench_cert_for:
 * @self: the template
 * @n: the device's number, unique in the database
 *
 * Returns: (transfer full): the template with @n in the last 8 bytes of its
 *   serial (fst_bench_cert_serial()) and the first 8 of its key's X
 */
GBytes *
fst_bench_cert_for(const FstBenchCert *self, guint64 n)
{
	guint8 *copy = g_memdup2(self->der, self->len);

	for (guint i = 0; i < 8; i++) {
		copy[self->serial_at + 12 + i] = (guint8)(n >> (56 - 8 * i));
		copy[self->key_at + i] = (guint8)(n >> (56 - 8 * i));
	}
	return g_bytes_new_take(copy, self->len);
}

/* the serial of fst_bench_cert_for(@n), in hex */
gchar *
fst_bench_cert_serial(guint64 n)
{
	return g_strdup_printf("5A5A5A5A5A5A5A5A5A5A5A5A%016" G_GINT64_MODIFIER "X", n);
}
