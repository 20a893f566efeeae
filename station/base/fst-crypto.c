/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenSSL helpers every part of the station shares, each in one place:
 * ASN.1 time to unix seconds, the digest a key signs with, key generation,
 * hex and PEM encoding (through OpenSSL's own encoders).
 */

#define G_LOG_DOMAIN "FstCrypto"

#include "fst-crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <time.h>

#include "fst-error.h"
#include "fst-openssl-common.h"

/**
 * fst_crypto_asn1_time_to_unix:
 * @t: an ASN.1 UTCTime or GeneralizedTime
 *
 * Returns: @t in unix seconds, or 0 if it cannot be read
 */
gint64
fst_crypto_asn1_time_to_unix(const ASN1_TIME *t)
{
	struct tm tm = {0};
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (gint64)timegm(&tm);
}

/**
 * fst_crypto_md_for_key:
 * @key: a signing key
 *
 * Returns: (transfer none): the digest a signature by @key uses: SHA-384 for
 *   P-384, SHA-512 for P-521, else SHA-256
 */
const EVP_MD *
fst_crypto_md_for_key(EVP_PKEY *key)
{
	gchar group[64] = {0};
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(
	        key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1) {
		if (g_strcmp0(group, "secp384r1") == 0)
			return EVP_sha384();
		if (g_strcmp0(group, "secp521r1") == 0)
			return EVP_sha512();
	}
	return EVP_sha256();
}

/**
 * fst_crypto_fetched_md:
 * @md: a digest, e.g. EVP_sha256()
 *
 * The SHA-2 digests fetched once: an EVP_MD from EVP_sha256() and friends is
 * fetched from the provider again at every EVP_DigestSignInit(), which costs
 * noticeably in a loop of issuances.
 *
 * Returns: (transfer none): the fetched digest for @md, or @md itself
 */
const EVP_MD *
fst_crypto_fetched_md(const EVP_MD *md)
{
	static gsize done;
	static EVP_MD *mds[3];

	if (g_once_init_enter(&done)) {
		mds[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
		mds[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
		mds[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
		ERR_clear_error();
		g_once_init_leave(&done, 1);
	}
	switch (EVP_MD_get_type(md)) {
	case NID_sha256:
		return mds[0] != NULL ? mds[0] : md;
	case NID_sha384:
		return mds[1] != NULL ? mds[1] : md;
	case NID_sha512:
		return mds[2] != NULL ? mds[2] : md;
	default:
		break;
	}
	return md;
}

/**
 * fst_crypto_generate_key:
 * @key_type: one of the RSA or EC #FstKeyType values
 * @error: (nullable): return location
 *
 * Generates a key pair from the OpenSSL CSPRNG.
 *
 * Returns: (transfer full): the key, or %NULL with %FST_ERROR_NOT_SUPPORTED
 *   for a key type that is not one of the six, or %FST_ERROR_INTERNAL if
 *   OpenSSL fails
 */
EVP_PKEY *
fst_crypto_generate_key(FstKeyType key_type, GError **error)
{
	EVP_PKEY *key = NULL;

	switch (key_type) {
	case FST_KEY_TYPE_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case FST_KEY_TYPE_EC_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case FST_KEY_TYPE_EC_P521:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
		break;
	case FST_KEY_TYPE_RSA_2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case FST_KEY_TYPE_RSA_3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case FST_KEY_TYPE_RSA_4096:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case FST_KEY_TYPE_NONE:
	default:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "cannot generate a key of type 0x%x: choose one of ec-p256, ec-p384, "
		            "ec-p521, rsa-2048, rsa-3072, rsa-4096",
		            (guint)key_type);
		return NULL;
	}
	if (key == NULL) {
		fst_error_set_openssl(error,
		                      FST_ERROR_INTERNAL,
		                      "cannot generate an %s key",
		                      fst_key_type_to_string(key_type));
	}
	return key;
}

/**
 * fst_crypto_hex_into:
 * @out: where to write 2 * @len hex digits and a NUL
 * @out_size: the size of @out, at least 2 * @len + 1
 * @data: bytes
 * @len: their number
 * @upper: upper-case digits rather than lower-case
 *
 * Hex-encodes @data through OpenSSL into a buffer the caller owns, such as
 * the wiped memory of an #FstSecret.
 */
void
fst_crypto_hex_into(gchar *out, gsize out_size, const guint8 *data, gsize len, gboolean upper)
{
	gsize written = 0;

	g_return_if_fail(out_size >= 2 * len + 1);
	out[0] = '\0';
	if (len == 0)
		return;
	/* fails only for a buffer too small, checked above */
	if (OPENSSL_buf2hexstr_ex(out, out_size, &written, data, len, '\0') != 1) {
		ERR_clear_error();
		out[0] = '\0';
		return;
	}
	/* OpenSSL writes upper case */
	if (!upper) {
		for (gsize i = 0; out[i] != '\0'; i++)
			out[i] = g_ascii_tolower(out[i]);
	}
}

/**
 * fst_crypto_hex:
 * @data: bytes
 * @len: their number
 * @upper: upper-case digits rather than lower-case
 *
 * Returns: (transfer full): the hex of @data, without separators
 */
gchar *
fst_crypto_hex(const guint8 *data, gsize len, gboolean upper)
{
	gchar *hex = g_malloc(2 * len + 1);
	fst_crypto_hex_into(hex, 2 * len + 1, data, len, upper);
	return hex;
}

/**
 * fst_crypto_hex_decode:
 * @hex: text that starts with 2 * @len hex digits (either case)
 * @out: (out caller-allocates): @len bytes
 * @len: how many bytes to read
 *
 * Reads the bytes of fst_crypto_hex() back. What follows the digits is the
 * caller's to check; a NUL among them stops the read.
 *
 * Returns: %TRUE when the first 2 * @len characters of @hex are hex digits
 *   (@out then holds them); %FALSE otherwise (@out is then undefined)
 */
gboolean
fst_crypto_hex_decode(const gchar *hex, guint8 *out, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		gint hi = g_ascii_xdigit_value(hex[2 * i]);
		gint lo = hi < 0 ? -1 : g_ascii_xdigit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8)((hi << 4) | lo);
	}
	return TRUE;
}

/* a digest context per thread, kept: a fresh one per digest costs more
 * than hashing a row (the audit hashes about ten per commit) */
static void
fst_crypto_md_ctx_free(gpointer data)
{
	EVP_MD_CTX_free(data);
}

static GPrivate fst_crypto_md_ctx = G_PRIVATE_INIT(fst_crypto_md_ctx_free);

/**
 * fst_crypto_sha256:
 * @data: (nullable): bytes; %NULL only with @len 0
 * @len: their number
 * @out: (out caller-allocates): the 32-byte digest
 *
 * The SHA-256 of @data through OpenSSL (hardware SHA-256 where the CPU has
 * it), with a digest context kept per thread.
 */
void
fst_crypto_sha256(gconstpointer data, gsize len, guint8 out[32])
{
	EVP_MD_CTX *ctx = g_private_get(&fst_crypto_md_ctx);
	guint out_len = 32;

	if (ctx == NULL) {
		ctx = EVP_MD_CTX_new();
		g_private_set(&fst_crypto_md_ctx, ctx);
	}
	if (ctx == NULL ||
	    EVP_DigestInit_ex2(ctx, fst_crypto_fetched_md(EVP_sha256()), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, data != NULL ? data : "", len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &out_len) != 1) {
		/* the same digest without OpenSSL's provider (never seen failing) */
		g_autoptr(GChecksum) fallback = g_checksum_new(G_CHECKSUM_SHA256);
		gsize glen = 32;
		ERR_clear_error();
		g_checksum_update(fallback, data != NULL ? data : (gconstpointer) "", len);
		g_checksum_get_digest(fallback, out, &glen);
	}
}

/**
 * fst_crypto_sha256_hex:
 * @data: (nullable): bytes; %NULL only with @len 0
 * @len: their number
 *
 * fst_crypto_sha256() as GLib's g_compute_checksum_for_data() writes it.
 *
 * Returns: (transfer full): 64 lower-case hex digits
 */
gchar *
fst_crypto_sha256_hex(gconstpointer data, gsize len)
{
	guint8 digest[32];

	fst_crypto_sha256(data, len, digest);
	return fst_crypto_hex(digest, sizeof(digest), FALSE);
}

/* TRUE when @spki is an EC key whose point is not written uncompressed
 * (0x04): compressed (0x02, 0x03) or hybrid (0x06, 0x07); a bounded walk of
 * SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID, ... },
 * subjectPublicKey BIT STRING } */
static gboolean
fst_crypto_spki_ec_point_packed(const guchar *spki, gsize spki_len)
{
	static const guchar ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
	const guchar *p = spki;
	const guchar *end = spki + spki_len;
	const guchar *alg_end;
	long len = 0;
	gint tag = 0;
	gint xclass = 0;
	gint ret = 0;
	gboolean packed = FALSE;

	ret = ASN1_get_object(&p, &len, &tag, &xclass, (long)spki_len);
	if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE || p + len != end)
		goto out;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE)
		goto out;
	alg_end = p + len;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, alg_end - p);
	if ((ret & 0x80) != 0 || tag != V_ASN1_OBJECT || len != sizeof(ec_public_key) ||
	    memcmp(p, ec_public_key, sizeof(ec_public_key)) != 0)
		goto out;
	p = alg_end;
	ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	if ((ret & 0x80) != 0 || tag != V_ASN1_BIT_STRING || len < 2)
		goto out;
	packed = p[0] == 0 && p[1] != 0x04;
out:
	/* only a malformed header leaves an error queued: the record of every
	 * certificate passes here, on the commit all lanes share */
	if ((ret & 0x80) != 0)
		ERR_clear_error();
	return packed;
}

/**
 * fst_crypto_public_key_sha256:
 * @spki: a DER SubjectPublicKeyInfo
 * @spki_len: its length
 * @out: (out caller-allocates): the 32-byte digest
 *
 * The SHA-256 of a public key, one value per key whatever its encoding:
 * the SHA-256 of @spki (the SPKI fingerprint), except that an EC point
 * written compressed or hybrid is hashed in its uncompressed form, the one
 * a key generator writes, so that the key a device sends once compressed
 * and once uncompressed has one hash. An SPKI that does not decode is
 * hashed as it is (it can be no other key's encoding). Only a packed EC
 * point is decoded: any other key costs the one digest.
 */
void
fst_crypto_public_key_sha256(gconstpointer spki, gsize spki_len, guint8 out[32])
{
	const guchar *p = spki;
	g_autoptr(EVP_PKEY) key = NULL;
	guchar *der = NULL;
	gint der_len;

	if (!fst_crypto_spki_ec_point_packed(spki, spki_len)) {
		fst_crypto_sha256(spki, spki_len, out);
		return;
	}
	key = d2i_PUBKEY(NULL, &p, (long)spki_len);
	if (key == NULL || p != (const guchar *)spki + spki_len ||
	    EVP_PKEY_set_utf8_string_param(key,
	                                   OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) !=
	        1 ||
	    (der_len = i2d_PUBKEY(key, &der)) <= 0) {
		ERR_clear_error();
		fst_crypto_sha256(spki, spki_len, out);
		return;
	}
	fst_crypto_sha256(der, (gsize)der_len, out);
	OPENSSL_free(der);
}

/**
 * fst_crypto_pem_encode:
 * @label: the PEM label, e.g. "CERTIFICATE" or "X509 CRL"
 * @der: the DER to encode
 * @len: its length
 * @pem_len: (out) (optional): the length of the result
 *
 * Encodes @der as one RFC 7468 strict PEM block (64 characters a line, LF
 * line ends) through OpenSSL's PEM writer, without parsing it.
 *
 * Returns: (transfer full): the PEM text
 */
gchar *
fst_crypto_pem_encode(const gchar *label, const guint8 *der, gsize len, gsize *pem_len)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	gchar *pem;

	/* a memory BIO fails only when memory runs out: abort, as g_malloc() does */
	if (bio == NULL || PEM_write_bio(bio, label, "", der, (long)len) <= 0 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL)
		g_abort();
	pem = g_strndup(mem->data, mem->length);
	if (pem_len != NULL)
		*pem_len = mem->length;
	return pem;
}

/**
 * fst_crypto_private_key_secret:
 * @key: a private key
 * @error: (nullable): return location
 *
 * Encodes @key as PKCS#8 DER (what PUT_KEY hands a device) straight into an
 * #FstSecret; the intermediate copy is wiped.
 *
 * Returns: (transfer full): the key, or %NULL with %FST_ERROR_INTERNAL
 */
FstSecret *
fst_crypto_private_key_secret(EVP_PKEY *key, GError **error)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	guint8 *der = NULL;
	int der_len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : 0;
	FstSecret *secret;

	PKCS8_PRIV_KEY_INFO_free(p8);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode the device key");
		return NULL;
	}
	secret = fst_secret_new(der, (gsize)der_len);
	OPENSSL_clear_free(der, (gsize)der_len);
	return secret;
}
