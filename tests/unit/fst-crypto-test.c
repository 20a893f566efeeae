/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared OpenSSL helpers (station/base/fst-crypto.c): hex and PEM as
 * OpenSSL writes them, time conversion, digest choice and key generation.
 */

#define G_LOG_DOMAIN "FstCryptoTest"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

static void
fst_test_hex(void)
{
	static const guint8 bytes[] = {0x00, 0x7f, 0x80, 0xab, 0xff};
	g_autofree gchar *lower = fst_crypto_hex(bytes, sizeof(bytes), FALSE);
	g_autofree gchar *upper = fst_crypto_hex(bytes, sizeof(bytes), TRUE);
	g_autofree gchar *empty = fst_crypto_hex(bytes, 0, TRUE);
	gchar buf[11];

	g_assert_cmpstr(lower, ==, "007f80abff");
	g_assert_cmpstr(upper, ==, "007F80ABFF");
	g_assert_cmpstr(empty, ==, "");
	fst_crypto_hex_into(buf, sizeof(buf), bytes, sizeof(bytes), FALSE);
	g_assert_cmpstr(buf, ==, "007f80abff");

	/* and back, in either case; what follows the digits is the caller's */
	{
		guint8 back[sizeof(bytes)] = {0};
		g_assert_true(fst_crypto_hex_decode(lower, back, sizeof(back)));
		g_assert_cmpmem(back, sizeof(back), bytes, sizeof(bytes));
		memset(back, 0, sizeof(back));
		g_assert_true(fst_crypto_hex_decode("007F80ABFF\"", back, sizeof(back)));
		g_assert_cmpmem(back, sizeof(back), bytes, sizeof(bytes));
		g_assert_false(fst_crypto_hex_decode("007f80abfg", back, sizeof(back)));
		g_assert_false(fst_crypto_hex_decode("007f80ab", back, sizeof(back)));
		g_assert_false(fst_crypto_hex_decode("007f80abf", back, sizeof(back)));
		g_assert_true(fst_crypto_hex_decode("", back, 0));
	}
}

/* the PEM of raw DER is what OpenSSL writes for the parsed certificate, and reads back */
static void
fst_test_pem(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = fst_crypto_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) cert = X509_new();
	g_autoptr(X509) back = NULL;
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autoptr(BIO) in = NULL;
	g_autofree gchar *pem = NULL;
	guint8 *der = NULL;
	BUF_MEM *mem = NULL;
	gsize pem_len = 0;
	int der_len;

	g_assert_no_error(error);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
	der_len = i2d_X509(cert, &der);
	g_assert_cmpint(der_len, >, 0);

	pem = fst_crypto_pem_encode("CERTIFICATE", der, (gsize)der_len, &pem_len);
	g_assert_cmpuint(pem_len, ==, strlen(pem));
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN CERTIFICATE-----\n"));
	g_assert_true(g_str_has_suffix(pem, "\n-----END CERTIFICATE-----\n"));
	g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
	BIO_get_mem_ptr(bio, &mem);
	g_assert_cmpmem(pem, pem_len, mem->data, mem->length);
	in = BIO_new_mem_buf(pem, (int)pem_len);
	back = PEM_read_bio_X509(in, NULL, NULL, NULL);
	g_assert_nonnull(back);
	g_assert_cmpint(X509_cmp(cert, back), ==, 0);
	OPENSSL_free(der);
}

static void
fst_test_time_and_digest(void)
{
	g_autoptr(ASN1_TIME) t = ASN1_TIME_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) p384 = fst_crypto_generate_key(FST_KEY_TYPE_EC_P384, &error);
	g_autoptr(EVP_PKEY) p256 = fst_crypto_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(EVP_PKEY) none = NULL;

	g_assert_true(ASN1_TIME_set_string(t, "20491231235959Z"));
	g_assert_cmpint(fst_crypto_asn1_time_to_unix(t), ==, G_GINT64_CONSTANT(2524607999));
	g_assert_cmpint(fst_crypto_asn1_time_to_unix(NULL), ==, 0);

	g_assert_no_error(error);
	g_assert_cmpint(EVP_MD_get_type(fst_crypto_md_for_key(p384)), ==, NID_sha384);
	g_assert_cmpint(EVP_MD_get_type(fst_crypto_md_for_key(p256)), ==, NID_sha256);
	g_assert_cmpint(EVP_MD_get_type(fst_crypto_fetched_md(EVP_sha512())), ==, NID_sha512);

	none = fst_crypto_generate_key(FST_KEY_TYPE_NONE, &error);
	g_assert_null(none);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
}

/* the DER SPKI of @key with its EC point written in @form ("compressed",
 * "uncompressed", "hybrid"; NULL: as the key has it) */
static GBytes *
fst_test_spki(EVP_PKEY *key, const gchar *form)
{
	g_autoptr(EVP_PKEY) copy = EVP_PKEY_dup(key);
	guint8 *der = NULL;
	int len;
	GBytes *bytes;

	g_assert_nonnull(copy);
	if (form != NULL)
		g_assert_cmpint(EVP_PKEY_set_utf8_string_param(
		                    copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form),
		                ==,
		                1);
	len = i2d_PUBKEY(copy, &der);
	g_assert_cmpint(len, >, 0);
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

static void
fst_test_key_hash(GBytes *spki, guint8 out[32])
{
	fst_crypto_public_key_sha256(g_bytes_get_data(spki, NULL), g_bytes_get_size(spki), out);
}

/* one hash per key: an EC point compressed or hybrid hashes as the same
 * point uncompressed, which (like any other key) hashes as its SPKI; an
 * SPKI that does not decode hashes as it is */
static void
fst_test_public_key_sha256(void)
{
	g_autoptr(GError) error = NULL;
	const FstKeyType types[] = {
	    FST_KEY_TYPE_EC_P256, FST_KEY_TYPE_EC_P384, FST_KEY_TYPE_EC_P521};
	g_autoptr(EVP_PKEY) rsa = fst_crypto_generate_key(FST_KEY_TYPE_RSA_2048, &error);
	g_autoptr(GBytes) rsa_spki = NULL;
	guint8 want[32];
	guint8 got[32];

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(EVP_PKEY) key = fst_crypto_generate_key(types[i], &error);
		g_autoptr(EVP_PKEY) other = fst_crypto_generate_key(types[i], &error);
		g_autoptr(GBytes) plain = NULL;
		g_autoptr(GBytes) packed = NULL;
		g_autoptr(GBytes) hybrid = NULL;
		g_autoptr(GBytes) packed_other = NULL;
		g_autoptr(GBytes) bad = NULL;
		guint8 *bad_der;
		gsize bad_len;

		g_assert_no_error(error);
		plain = fst_test_spki(key, "uncompressed");
		packed = fst_test_spki(key, "compressed");
		hybrid = fst_test_spki(key, "hybrid");
		packed_other = fst_test_spki(other, "compressed");
		g_assert_false(g_bytes_equal(plain, packed));
		fst_crypto_sha256(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), want);
		fst_test_key_hash(plain, got);
		g_assert_cmpmem(got, 32, want, 32);
		fst_test_key_hash(packed, got);
		g_assert_cmpmem(got, 32, want, 32);
		fst_test_key_hash(hybrid, got);
		g_assert_cmpmem(got, 32, want, 32);
		fst_test_key_hash(packed_other, got);
		g_assert_true(memcmp(got, want, 32) != 0);

		/* a compressed x with no point on the curve: hashed as it is */
		bad_der = g_memdup2(g_bytes_get_data(packed, NULL), g_bytes_get_size(packed));
		bad_len = g_bytes_get_size(packed);
		for (guint x = 0; x < 256; x++) {
			g_autoptr(EVP_PKEY) parsed = NULL;
			const guint8 *p = bad_der;
			bad_der[bad_len - 1] = (guint8)x;
			parsed = d2i_PUBKEY(NULL, &p, (long)bad_len);
			ERR_clear_error();
			if (parsed == NULL)
				break;
		}
		bad = g_bytes_new_take(bad_der, bad_len);
		fst_crypto_sha256(bad_der, bad_len, want);
		fst_test_key_hash(bad, got);
		g_assert_cmpmem(got, 32, want, 32);
		/* cut short: the same */
		fst_crypto_sha256(bad_der, bad_len - 5, want);
		fst_crypto_public_key_sha256(bad_der, bad_len - 5, got);
		g_assert_cmpmem(got, 32, want, 32);
	}

	rsa_spki = fst_test_spki(rsa, NULL);
	fst_crypto_sha256(g_bytes_get_data(rsa_spki, NULL), g_bytes_get_size(rsa_spki), want);
	fst_test_key_hash(rsa_spki, got);
	g_assert_cmpmem(got, 32, want, 32);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/crypto/hex", fst_test_hex);
	g_test_add_func("/fst/crypto/pem", fst_test_pem);
	g_test_add_func("/fst/crypto/time-and-digest", fst_test_time_and_digest);
	g_test_add_func("/fst/crypto/public-key-sha256", fst_test_public_key_sha256);
	return g_test_run();
}
