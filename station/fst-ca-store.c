/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CA management: makes, imports, installs and renews the CAs of a workspace, and reads
 * what `ca list` shows. Issuing device certificates is fst-ca.c's job; this
 * file only prepares what fst_ca_load() opens.
 *
 * The workspace CA directory (WORKSPACE/ca, mode 0700):
 *
 *   root-ca.pem      the certificates above the issuing CA (PEM, the root last);
 *                    fst_ca_load() checks the issuing CA chains to them
 *   root-ca.key      the root key, only when `ca create` made the root here
 *   issuing-ca.pem   the issuing CA certificate (PEM)
 *   issuing-ca.key   its key: encrypted PKCS#8 PEM (scrypt N=2^14 r=8 p=1,
 *                    AES-256-CBC), or one line holding an RFC 7512 `pkcs11:`
 *                    URI when the key is in a token (fst-ca-pkcs11.c); 0600
 *   issuing-ca.csr   the CA's request, while it waits for an offline root
 *                    (`ca create --csr` or `ca renew --csr`, then `ca install`)
 *   issuing-ca.next.key  a renewal's new key, while its request waits
 *   retired-issuing-ca-SHA.pem, .key  an issuing CA a renewal replaced (SHA:
 *                    the first 16 digits of the SHA-256 of its DER), kept for
 *                    the certificates it issued: their chain, their
 *                    registration with it at AWS IoT, their CRL
 *   crlnumber        the last CRL number issued (fst-ca-crl.c)
 *
 * Keys are never written in clear: the PEM is built in an OpenSSL secure-heap
 * BIO, written with fst_file_set_contents_private() (0600 from creation) and
 * wiped. Existing CA files are never overwritten: the operator moves them away.
 *
 * Creating, importing, installing or renewing a CA changes ca/ all at once: the new
 * files are written into a staging folder beside it (`.ca.new-XXXXXX`, which
 * starts as a copy of the files ca/ already holds, such as `passphrase`),
 * synced, and swapped with ca/ by one rename. A process killed on the way
 * leaves ca/ as it was; its staging folder is removed by the next creation.
 */

#define _GNU_SOURCE
#define G_LOG_DOMAIN "FstCaStore"

#include "fst-ca-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fst-ca-pkcs11.h"
#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-time.h"

/* a certificate, key or PKCS#12 file bigger than this is not one */
#define FST_CA_STORE_MAX_FILE (256 * 1024)
#define FST_CA_STORE_SERIAL_LEN 20
#define FST_CA_STORE_CLOCK_SKEW_SECS (5 * 60)
/* scrypt cost for keys at rest: 16 MiB, about 50 ms; OpenSSL decodes it within its 32 MiB cap */
#define FST_CA_STORE_SCRYPT_N (1 << 14)
#define FST_CA_STORE_SCRYPT_R 8
#define FST_CA_STORE_SCRYPT_P 1
#define FST_CA_STORE_SALT_LEN 16
/* AWS IoT registration codes are 64 hex digits; a CN holds at most 64 characters */
#define FST_CA_STORE_MAX_CODE 64
#define FST_CA_STORE_VERIFICATION_DAYS 30

/**
 * fst_ca_info_free:
 * @self: (nullable) (transfer full): an #FstCaInfo
 */
void
fst_ca_info_free(FstCaInfo *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self->subject);
	g_free(self->key);
	g_free(self->key_store);
	g_free(self->sha256);
	g_free(self);
}

static gchar *
fst_ca_store_format_time(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%SZ") : g_strdup("?");
}

/**
 * fst_ca_store_generate_key:
 * @key_type: one of the RSA or EC #FstKeyType values
 * @error: (nullable): return location
 *
 * Generates a CA key from the OpenSSL CSPRNG.
 *
 * Returns: (transfer full): the key, or %NULL with @error set
 */
EVP_PKEY *
fst_ca_store_generate_key(FstKeyType key_type, GError **error)
{
	EVP_PKEY *key = fst_crypto_generate_key(key_type, error);
	if (key == NULL)
		g_prefix_error(error, "the CA key: ");
	return key;
}

/**
 * fst_ca_store_describe_key:
 * @key: a public or private key
 *
 * Returns: (transfer full): e.g. "ec-p384" or "rsa-3072"
 */
gchar *
fst_ca_store_describe_key(EVP_PKEY *key)
{
	gchar group[64] = {0};

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
		return g_strdup_printf("rsa-%d", EVP_PKEY_get_bits(key));
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(
	        key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1) {
		if (g_strcmp0(group, "prime256v1") == 0)
			return g_strdup("ec-p256");
		if (g_strcmp0(group, "secp384r1") == 0)
			return g_strdup("ec-p384");
		if (g_strcmp0(group, "secp521r1") == 0)
			return g_strdup("ec-p521");
		return g_strdup_printf("ec-%s", group);
	}
	return g_strdup(EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key)
	                                                     : "unknown");
}

/**
 * fst_ca_store_parse_subject:
 * @subject: e.g. `/C=DE/O=Acme GmbH/CN=Acme Issuing CA 1` (openssl style)
 * @error: (nullable): return location
 *
 * Fails with %FST_ERROR_INVALID_DATA naming the bad part; a subject without a
 * CN is refused.
 *
 * Returns: (transfer full): the name, or %NULL
 */
X509_NAME *
fst_ca_store_parse_subject(const gchar *subject, GError **error)
{
	g_autoptr(X509_NAME) name = X509_NAME_new();
	g_auto(GStrv) parts = NULL;
	gboolean has_cn = FALSE;

	if (subject == NULL || subject[0] != '/' || name == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "subject %s must look like /O=Acme/CN=Acme Issuing CA",
		            subject != NULL ? subject : "(none)");
		return NULL;
	}
	parts = g_strsplit(subject + 1, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		const gchar *eq = strchr(parts[i], '=');
		g_autofree gchar *key = NULL;
		if (eq == NULL || eq == parts[i] || eq[1] == '\0') {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "subject part '%s' is not TYPE=value",
			            parts[i]);
			return NULL;
		}
		key = g_strndup(parts[i], (gsize)(eq - parts[i]));
		if (X509_NAME_add_entry_by_txt(
		        name, key, MBSTRING_UTF8, (const guint8 *)(eq + 1), -1, -1, 0) != 1) {
			ERR_clear_error();
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "subject part '%s': unknown attribute %s or bad value (e.g. C "
			            "is two letters)",
			            parts[i],
			            key);
			return NULL;
		}
		if (g_strcmp0(key, "CN") == 0)
			has_cn = TRUE;
	}
	if (!has_cn) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INVALID_DATA, "subject %s has no CN", subject);
		return NULL;
	}
	return g_steal_pointer(&name);
}

/* a positive random serial of FST_CA_STORE_SERIAL_LEN bytes */
static gboolean
fst_ca_store_set_serial(X509 *cert, GError **error)
{
	guint8 raw[FST_CA_STORE_SERIAL_LEN];
	g_autoptr(BIGNUM) bn = NULL;
	g_autoptr(ASN1_INTEGER) serial = NULL;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		goto fail;
	raw[0] &= 0x7f;
	if (raw[0] == 0)
		raw[0] = 0x01;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	serial = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (serial == NULL || X509_set_serialNumber(cert, serial) != 1)
		goto fail;
	return TRUE;
fail:
	fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot make a serial number");
	return FALSE;
}

/* adds one extension from its openssl.cnf-style value; a CA is made rarely, so clarity wins */
static gboolean
fst_ca_store_add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const gchar *value, GError **error)
{
	g_autoptr(X509_EXTENSION) ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot add %s = %s", OBJ_nid2sn(nid), value);
		return FALSE;
	}
	return TRUE;
}

static gchar *
fst_ca_store_basic_constraints(gint pathlen)
{
	if (pathlen >= 0)
		return g_strdup_printf("critical,CA:TRUE,pathlen:%d", pathlen);
	return g_strdup("critical,CA:TRUE");
}

/* builds, signs and returns a certificate; @issuer NULL = self-signed */
static X509 *
fst_ca_store_make_cert(EVP_PKEY *key,
                       X509_NAME *subject,
                       gint64 not_after,
                       X509 *issuer,
                       EVP_PKEY *issuer_key,
                       const gchar *basic_constraints,
                       const gchar *key_usage,
                       GError **error)
{
	g_autoptr(X509) cert = X509_new();
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	X509V3_CTX ctx;

	if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_subject_name(cert, subject) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subject) !=
	        1 ||
	    X509_set_pubkey(cert, key) != 1 ||
	    ASN1_TIME_set(X509_getm_notBefore(cert),
	                  (time_t)(now - FST_CA_STORE_CLOCK_SKEW_SECS)) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot build a certificate");
		return NULL;
	}
	if (!fst_ca_store_set_serial(cert, error))
		return NULL;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
	if (!fst_ca_store_add_ext(cert, &ctx, NID_basic_constraints, basic_constraints, error) ||
	    !fst_ca_store_add_ext(cert, &ctx, NID_key_usage, key_usage, error) ||
	    !fst_ca_store_add_ext(cert, &ctx, NID_subject_key_identifier, "hash", error) ||
	    !fst_ca_store_add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always", error))
		return NULL;
	if (X509_sign(cert, issuer_key, fst_crypto_md_for_key(issuer_key)) <= 0) {
		fst_error_set_openssl(
		    error, FST_ERROR_CA_UNAVAILABLE, "cannot sign the certificate");
		return NULL;
	}
	return g_steal_pointer(&cert);
}

/**
 * fst_ca_store_make_ca_cert:
 * @key: the new CA's key (its public half goes in the certificate)
 * @options: subject, validity and pathlen
 * @issuer: (nullable): the CA that signs, or %NULL for a self-signed root
 * @issuer_key: the key that signs (@key for a root)
 * @error: (nullable): return location
 *
 * Makes a CA certificate: X.509 v3, a 20-byte positive random serial,
 * basicConstraints CA:TRUE (critical, with the pathlen when >= 0), keyUsage
 * keyCertSign + cRLSign (critical), subjectKeyIdentifier (SHA-1 of the key)
 * and authorityKeyIdentifier (the issuer's key id), signed with SHA-256
 * (SHA-384 for P-384, SHA-512 for P-521 issuer keys). A CA that would outlive
 * its @issuer is refused with %FST_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set
 */
X509 *
fst_ca_store_make_ca_cert(EVP_PKEY *key,
                          const FstCaStoreOptions *options,
                          X509 *issuer,
                          EVP_PKEY *issuer_key,
                          GError **error)
{
	g_autoptr(X509_NAME) subject = NULL;
	g_autofree gchar *bc = fst_ca_store_basic_constraints(options->pathlen);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after = now + (gint64)options->days * 86400;

	if (options->days == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "a CA needs a validity of at least one day");
		return NULL;
	}
	subject = fst_ca_store_parse_subject(options->subject, error);
	if (subject == NULL)
		return NULL;
	if (issuer != NULL) {
		gint64 issuer_end = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(issuer));
		if (not_after > issuer_end) {
			g_autofree gchar *end = fst_ca_store_format_time(issuer_end);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "CA %s would outlive its issuer (which ends %s): give fewer "
			            "days",
			            options->subject,
			            end);
			return NULL;
		}
	}
	return fst_ca_store_make_cert(
	    key, subject, not_after, issuer, issuer_key, bc, "critical,keyCertSign,cRLSign", error);
}

/**
 * fst_ca_store_make_ca_csr:
 * @key: the new CA's key (signs the request)
 * @options: subject and pathlen (the days are the signer's choice)
 * @error: (nullable): return location
 *
 * Makes the PKCS#10 request an offline root signs: the subject, the public
 * key, and an extension request for basicConstraints CA:TRUE (+ pathlen) and
 * keyUsage keyCertSign + cRLSign, both critical.
 *
 * Returns: (transfer full): the request, or %NULL with @error set
 */
X509_REQ *
fst_ca_store_make_ca_csr(EVP_PKEY *key, const FstCaStoreOptions *options, GError **error)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(X509_NAME) subject = NULL;
	g_autofree gchar *bc = fst_ca_store_basic_constraints(options->pathlen);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	gboolean ok;

	subject = fst_ca_store_parse_subject(options->subject, error);
	if (subject == NULL)
		return NULL;
	if (req == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, key) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot build the CA request");
		return NULL;
	}
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	exts = sk_X509_EXTENSION_new_null();
	ok = exts != NULL;
	if (ok && (ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, bc)) != NULL)
		ok = sk_X509_EXTENSION_push(exts, ext) > 0;
	else
		ok = FALSE;
	if (ok && (ext = X509V3_EXT_conf_nid(
	               NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) != NULL)
		ok = sk_X509_EXTENSION_push(exts, ext) > 0;
	else
		ok = FALSE;
	if (ok)
		ok = X509_REQ_add_extensions(req, exts) == 1;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot add the CA extensions to the request");
		return NULL;
	}
	if (X509_REQ_sign(req, key, fst_crypto_md_for_key(key)) <= 0) {
		fst_error_set_openssl(
		    error, FST_ERROR_CA_UNAVAILABLE, "cannot sign the CA request");
		return NULL;
	}
	return g_steal_pointer(&req);
}

/**
 * fst_ca_store_make_verification_cert:
 * @code: the registration code AWS IoT gave (`aws iot get-registration-code`)
 * @ca_cert: the CA to register
 * @ca_key: its key
 * @error: (nullable): return location
 *
 * Makes the proof of possession AWS IoT asks for before it registers a CA
 * (`register-ca-certificate --verification-cert`): a certificate whose CN is
 * @code, for a throw-away EC P-256 key, signed by the CA, valid 30 days (or
 * until the CA ends). @code must be 1 to 64 letters and digits.
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set
 */
X509 *
fst_ca_store_make_verification_cert(const gchar *code,
                                    X509 *ca_cert,
                                    EVP_PKEY *ca_key,
                                    GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509_NAME) subject = X509_NAME_new();
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after = now + (gint64)FST_CA_STORE_VERIFICATION_DAYS * 86400;
	gint64 ca_end = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(ca_cert));
	gsize len = code != NULL ? strlen(code) : 0;

	if (len == 0 || len > FST_CA_STORE_MAX_CODE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the registration code must have 1 to %d characters (AWS IoT gives "
		            "64 hex digits)",
		            FST_CA_STORE_MAX_CODE);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(code[i])) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "the registration code has a character that is not a letter "
			            "or digit at position %" G_GSIZE_FORMAT
			            ": copy it from `aws iot get-registration-code`",
			            i + 1);
			return NULL;
		}
	}
	if (ca_end <= now) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE, "the CA has expired: renew it");
		return NULL;
	}
	if (not_after > ca_end)
		not_after = ca_end;
	key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, error);
	if (key == NULL)
		return NULL;
	if (subject == NULL ||
	    X509_NAME_add_entry_by_NID(
	        subject, NID_commonName, MBSTRING_UTF8, (const guint8 *)code, -1, -1, 0) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot build the subject");
		return NULL;
	}
	return fst_ca_store_make_cert(key,
	                              subject,
	                              not_after,
	                              ca_cert,
	                              ca_key,
	                              "critical,CA:FALSE",
	                              "critical,digitalSignature",
	                              error);
}

/**
 * fst_ca_store_make_signer_cert:
 * @key: the signing key (its public half goes in the certificate)
 * @common_name: the CN, saying what the key signs
 * @days: validity in days from now (cut to the issuer's end)
 * @issuer: (nullable): the CA that issues it, or %NULL for self-signed
 * @issuer_key: (nullable): the key of @issuer
 * @error: (nullable): return location
 *
 * Makes the certificate of a key that signs documents (such as report
 * exports): X.509 v3, a random serial, basicConstraints CA:FALSE and keyUsage
 * digitalSignature (both critical), subject and authority key identifiers.
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set
 */
X509 *
fst_ca_store_make_signer_cert(EVP_PKEY *key,
                              const gchar *common_name,
                              guint days,
                              X509 *issuer,
                              EVP_PKEY *issuer_key,
                              GError **error)
{
	g_autoptr(X509_NAME) subject = X509_NAME_new();
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after = now + (gint64)days * 86400;

	if (issuer != NULL) {
		gint64 issuer_end = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(issuer));
		if (issuer_end <= now) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CA_UNAVAILABLE,
			            "the issuing certificate has expired: renew it");
			return NULL;
		}
		not_after = MIN(not_after, issuer_end);
	}
	if (subject == NULL ||
	    X509_NAME_add_entry_by_NID(
	        subject, NID_commonName, MBSTRING_UTF8, (const guint8 *)common_name, -1, -1, 0) !=
	        1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INVALID_DATA, "cannot use the name %s", common_name);
		return NULL;
	}
	return fst_ca_store_make_cert(key,
	                              subject,
	                              not_after,
	                              issuer,
	                              issuer != NULL ? issuer_key : key,
	                              "critical,CA:FALSE",
	                              "critical,digitalSignature",
	                              error);
}

/**
 * fst_ca_store_write_key:
 * @key: a private key
 * @path: destination; created mode 0600 (atomically replaced if it exists)
 * @passphrase: encrypts the key; must not be empty
 * @error: (nullable): return location
 *
 * Writes @key as encrypted PKCS#8 PEM: PBES2 with scrypt (N=2^14, r=8, p=1,
 * a random 16-byte salt) and AES-256-CBC. The clear key only exists in OpenSSL's memory.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_write_key(EVP_PKEY *key,
                       const gchar *path,
                       const FstSecret *passphrase,
                       GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_secmem());
	g_autoptr(PKCS8_PRIV_KEY_INFO) p8inf = NULL;
	g_autoptr(X509_SIG) p8 = NULL;
	X509_ALGOR *pbe;
	BUF_MEM *mem = NULL;
	gsize pass_len = 0;
	const guint8 *pass;
	gboolean ok;

	if (passphrase == NULL || fst_secret_get_len(passphrase) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "refusing to write the key %s without a passphrase",
		            path);
		return FALSE;
	}
	pass = fst_secret_get_data(passphrase, &pass_len);
	p8inf = EVP_PKEY2PKCS8(key);
	/* NULL salt: a random one of FST_CA_STORE_SALT_LEN bytes (OpenSSL's default is 8) */
	pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(),
	                            NULL,
	                            FST_CA_STORE_SALT_LEN,
	                            NULL,
	                            FST_CA_STORE_SCRYPT_N,
	                            FST_CA_STORE_SCRYPT_R,
	                            FST_CA_STORE_SCRYPT_P);
	if (p8inf == NULL || pbe == NULL) {
		X509_ALGOR_free(pbe);
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot encrypt the key for %s", path);
		return FALSE;
	}
	/* PKCS8_set0_pbe takes @pbe on success only */
	p8 = PKCS8_set0_pbe((const char *)pass, (int)pass_len, p8inf, pbe);
	if (p8 == NULL) {
		X509_ALGOR_free(pbe);
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot encrypt the key for %s", path);
		return FALSE;
	}
	if (bio == NULL || PEM_write_bio_PKCS8(bio, p8) != 1 || BIO_get_mem_ptr(bio, &mem) != 1 ||
	    mem == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot encode the key for %s", path);
		return FALSE;
	}
	ok = fst_file_set_contents_private(path, (const guint8 *)mem->data, mem->length, error);
	OPENSSL_cleanse(mem->data, mem->length);
	return ok;
}

/* writes a 0600 file holding a key reference (a pkcs11: URI); no secret in it, but it says
 * where the CA key is */
static gboolean
fst_ca_store_write_key_ref(const gchar *uri, const gchar *path, GError **error)
{
	g_autofree gchar *line = g_strdup_printf("%s\n", uri);
	return fst_file_set_contents_private(path, (const guint8 *)line, strlen(line), error);
}

/**
 * fst_ca_store_write_certs:
 * @certs: (element-type X509): certificates
 * @path: destination (PEM, mode 0644, atomically replaced)
 * @error: (nullable): return location
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_write_certs(GPtrArray *certs, const gchar *path, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	for (guint i = 0; bio != NULL && i < certs->len; i++) {
		if (PEM_write_bio_X509(bio, g_ptr_array_index(certs, i)) != 1) {
			fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode %s", path);
			return FALSE;
		}
	}
	if (bio == NULL || BIO_get_mem_ptr(bio, &mem) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode %s", path);
		return FALSE;
	}
	if (!g_file_set_contents_full(path,
	                              mem->data,
	                              (gssize)mem->length,
	                              G_FILE_SET_CONTENTS_CONSISTENT,
	                              0644,
	                              error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_store_write_csr:
 * @req: a request
 * @path: destination (PEM, mode 0644)
 * @error: (nullable): return location
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_write_csr(X509_REQ *req, const gchar *path, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    BIO_get_mem_ptr(bio, &mem) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode %s", path);
		return FALSE;
	}
	if (!g_file_set_contents_full(path,
	                              mem->data,
	                              (gssize)mem->length,
	                              G_FILE_SET_CONTENTS_CONSISTENT,
	                              0644,
	                              error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_ca_store_read_file(const gchar *path, gchar **contents, gsize *len, GError **error)
{
	if (!g_file_get_contents(path, contents, len, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	if (*len > FST_CA_STORE_MAX_FILE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is too large (%" G_GSIZE_FORMAT
		            " bytes) for a certificate or key file",
		            path,
		            *len);
		g_clear_pointer(contents, g_free);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_store_read_certs:
 * @path: a PEM file with one or more certificates, or one DER certificate
 * @error: (nullable): return location
 *
 * Returns: (transfer container) (element-type X509): the certificates in file
 *   order, or %NULL (%FST_ERROR_INVALID_DATA when there is none)
 */
GPtrArray *
fst_ca_store_read_certs(const gchar *path, GError **error)
{
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	if (!fst_ca_store_read_file(path, &contents, &len, error))
		return NULL;
	if (g_strstr_len(contents, (gssize)len, "-----BEGIN") != NULL) {
		g_autoptr(BIO) bio = BIO_new_mem_buf(contents, (int)len);
		X509 *cert;
		while (bio != NULL && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			g_ptr_array_add(certs, cert);
		/* the loop ends with a "no start line" error */
		ERR_clear_error();
	} else {
		const guint8 *p = (const guint8 *)contents;
		X509 *cert = d2i_X509(NULL, &p, (long)len);
		if (cert != NULL && p == (const guint8 *)contents + len)
			g_ptr_array_add(certs, cert);
		else
			X509_free(cert);
		ERR_clear_error();
	}
	if (certs->len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s holds no certificate (PEM or DER)",
		            path);
		return NULL;
	}
	return g_steal_pointer(&certs);
}

/**
 * fst_ca_store_read_key:
 * @path: a private key: PEM or DER; PKCS#8 (encrypted or not) or traditional
 * @passphrase: (nullable): decrypts an encrypted key
 * @error: (nullable): return location
 *
 * Reads a key to import. The file contents are wiped after decoding. An
 * encrypted key with no or the wrong passphrase is %FST_ERROR_PERMISSION_DENIED.
 *
 * Returns: (transfer full): the key, or %NULL with @error set
 */
EVP_PKEY *
fst_ca_store_read_key(const gchar *path, const FstSecret *passphrase, GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autoptr(OSSL_DECODER_CTX) ctx = NULL;
	const guint8 *data;
	gsize len = 0;
	gsize left;
	EVP_PKEY *key = NULL;
	gboolean ok;

	if (!fst_ca_store_read_file(path, &contents, &len, error))
		return NULL;
	ctx = OSSL_DECODER_CTX_new_for_pkey(
	    &key, NULL, NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (ctx == NULL) {
		OPENSSL_cleanse(contents, len);
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot set up a key decoder");
		return NULL;
	}
	if (passphrase != NULL) {
		gsize pass_len = 0;
		const guint8 *pass = fst_secret_get_data(passphrase, &pass_len);
		OSSL_DECODER_CTX_set_passphrase(ctx, pass, pass_len);
	}
	data = (const guint8 *)contents;
	left = len;
	ok = OSSL_DECODER_from_data(ctx, &data, &left) == 1 && key != NULL;
	OPENSSL_cleanse(contents, len);
	if (!ok) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot read the private key %s: it is not a PEM or DER key, or it "
		            "is encrypted and the passphrase is %s",
		            path,
		            passphrase != NULL ? "wrong" : "missing");
		return NULL;
	}
	return key;
}

/**
 * fst_ca_store_read_pkcs12:
 * @path: a PKCS#12 (.p12/.pfx) file with a key and its certificate
 * @passphrase: (nullable): its passphrase
 * @key: (out) (transfer full): the private key
 * @certs: (out) (transfer container) (element-type X509): the key's
 *   certificate first, then the other certificates of the file
 * @error: (nullable): return location
 *
 * Files made with the legacy RC2-40 cipher need OpenSSL's legacy provider and
 * are refused here; re-export them with AES (`openssl pkcs12 -export`).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_read_pkcs12(const gchar *path,
                         const FstSecret *passphrase,
                         EVP_PKEY **key,
                         GPtrArray **certs,
                         GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autoptr(PKCS12) p12 = NULL;
	g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	const gchar *pass = passphrase != NULL ? fst_secret_get_str(passphrase) : "";
	const guint8 *p;
	gsize len = 0;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;

	if (!fst_ca_store_read_file(path, &contents, &len, error))
		return FALSE;
	p = (const guint8 *)contents;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	OPENSSL_cleanse(contents, len);
	if (p12 == NULL) {
		ERR_clear_error();
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INVALID_DATA, "%s is not a PKCS#12 file", path);
		return FALSE;
	}
	if (PKCS12_mac_present(p12) && PKCS12_verify_mac(p12, pass, -1) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot open %s: the passphrase is %s",
		            path,
		            passphrase != NULL ? "wrong" : "missing");
		return FALSE;
	}
	if (PKCS12_parse(p12, pass, &pkey, &cert, &ca) != 1 || pkey == NULL || cert == NULL) {
		fst_error_set_openssl(error,
		                      FST_ERROR_INVALID_DATA,
		                      "cannot read the key and certificate of %s (a legacy "
		                      "RC2 file? re-export it with AES)",
		                      path);
		EVP_PKEY_free(pkey);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		return FALSE;
	}
	g_ptr_array_add(result, cert);
	while (ca != NULL && sk_X509_num(ca) > 0)
		g_ptr_array_add(result, sk_X509_shift(ca));
	sk_X509_free(ca);
	*key = pkey;
	*certs = g_steal_pointer(&result);
	return TRUE;
}

/**
 * fst_ca_store_open_key:
 * @path: a key of the workspace's CAs, encrypted with the workspace passphrase
 * @passphrase: the passphrase given
 * @what: which key, for the message, e.g. "root CA"
 * @error: (nullable): return location
 *
 * fst_ca_store_read_key() for a key already in ca/: one that does not open
 * with @passphrase makes the CA unavailable (%FST_ERROR_CA_UNAVAILABLE, as
 * for the issuing key at a station's start), not a bad file to import.
 *
 * Returns: (transfer full): the key, or %NULL with @error set
 */
EVP_PKEY *
fst_ca_store_open_key(const gchar *path,
                      const FstSecret *passphrase,
                      const gchar *what,
                      GError **error)
{
	g_autoptr(GError) error_local = NULL;
	EVP_PKEY *key = fst_ca_store_read_key(path, passphrase, &error_local);

	if (key != NULL)
		return key;
	if (g_error_matches(error_local, FST_ERROR, FST_ERROR_PERMISSION_DENIED))
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the %s key %s does not open: wrong passphrase? (the workspace's CA "
		            "passphrase)",
		            what,
		            path);
	else
		g_propagate_error(error, g_steal_pointer(&error_local));
	return NULL;
}

static gchar *
fst_ca_store_path(const gchar *ca_dir, const gchar *file)
{
	return g_build_filename(ca_dir, file, NULL);
}

/* refuses when any of the NULL-terminated file names exists in @ca_dir */
static gboolean
fst_ca_store_check_absent(const gchar *ca_dir, GError **error, ...)
{
	va_list args;
	const gchar *file;
	gboolean ok = TRUE;

	va_start(args, error);
	while (ok && (file = va_arg(args, const gchar *)) != NULL) {
		g_autofree gchar *path = fst_ca_store_path(ca_dir, file);
		if (g_file_test(path, G_FILE_TEST_EXISTS)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s already exists: this workspace has a CA; move %s away "
			            "first (nothing was changed)",
			            path,
			            ca_dir);
			ok = FALSE;
		}
	}
	va_end(args);
	return ok;
}

/* the prefix of staging folders beside @ca_dir: ".ca.new-" for WORKSPACE/ca */
static gchar *
fst_ca_store_stage_prefix(const gchar *ca_dir)
{
	g_autofree gchar *base = g_path_get_basename(ca_dir);
	return g_strdup_printf(".%s.new-", base);
}

/* removes a flat folder this file made: its files, then itself */
static void
fst_ca_store_remove_dir(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *entry;

	while (d != NULL && (entry = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, entry, NULL);
		if (g_unlink(path) != 0)
			g_debug("cannot remove %s: %s", path, g_strerror(errno));
	}
	if (g_rmdir(dir) != 0)
		g_debug("cannot remove %s: %s", dir, g_strerror(errno));
}

/* syncs a file or folder to disk */
static gboolean
fst_ca_store_fsync_path(const gchar *path, gboolean is_dir, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (is_dir ? O_DIRECTORY : 0));
	if (fd < 0 || fsync(fd) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot sync %s to disk: %s",
		            path,
		            g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* copies a regular file of ca/ into the staging folder, keeping its mode */
static gboolean
fst_ca_store_stage_copy(const gchar *src, const gchar *dst, GError **error)
{
	g_autofree gchar *contents = NULL;
	GStatBuf st;
	gsize len = 0;
	gboolean ok;

	if (g_stat(src, &st) != 0 || !g_file_get_contents(src, &contents, &len, error)) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PERMISSION_DENIED,
			            "cannot read %s: %s",
			            src,
			            g_strerror(errno));
		fst_error_convert_gio(error);
		return FALSE;
	}
	if ((st.st_mode & 0077) == 0)
		ok = fst_file_set_contents_private(dst, (const guint8 *)contents, len, error);
	else {
		ok = g_file_set_contents_full(dst,
		                              contents,
		                              (gssize)len,
		                              G_FILE_SET_CONTENTS_CONSISTENT,
		                              st.st_mode & 0777,
		                              error);
		fst_error_convert_gio(error);
	}
	OPENSSL_cleanse(contents, len);
	return ok;
}

/*
 * starts a change of @ca_dir: removes staging folders a killed process left,
 * makes a new one (0700) holding a copy of @ca_dir's files, and returns it
 */
static gchar *
fst_ca_store_stage_begin(const gchar *ca_dir, GError **error)
{
	g_autofree gchar *parent = g_path_get_dirname(ca_dir);
	g_autofree gchar *prefix = fst_ca_store_stage_prefix(ca_dir);
	g_autofree gchar *template = NULL;
	g_autoptr(GDir) dir = NULL;
	g_autofree gchar *stage = NULL;
	const gchar *entry;

	if (g_mkdir_with_parents(parent, 0700) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create %s: %s",
		            parent,
		            g_strerror(errno));
		return NULL;
	}
	dir = g_dir_open(parent, 0, NULL);
	while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(entry, prefix)) {
			g_autofree gchar *old = g_build_filename(parent, entry, NULL);
			g_info("removing %s, left by an interrupted CA change", old);
			fst_ca_store_remove_dir(old);
		}
	}
	template = g_strdup_printf("%s/%sXXXXXX", parent, prefix);
	stage = g_mkdtemp_full(g_steal_pointer(&template), 0700);
	if (stage == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create a staging folder in %s: %s",
		            parent,
		            g_strerror(errno));
		return NULL;
	}
	g_clear_pointer(&dir, g_dir_close);
	dir = g_dir_open(ca_dir, 0, NULL);
	while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *src = g_build_filename(ca_dir, entry, NULL);
		g_autofree gchar *dst = g_build_filename(stage, entry, NULL);
		if (!g_file_test(src, G_FILE_TEST_IS_REGULAR) ||
		    g_file_test(src, G_FILE_TEST_IS_SYMLINK)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s is not a regular file: the CA folder holds only files; "
			            "move it away (nothing was changed)",
			            src);
			fst_ca_store_remove_dir(stage);
			return NULL;
		}
		if (!fst_ca_store_stage_copy(src, dst, error)) {
			fst_ca_store_remove_dir(stage);
			return NULL;
		}
	}
	return g_steal_pointer(&stage);
}

/* test hook: FST_TEST_CA_STAGE_PAUSE_MS stretches the window a kill can hit */
static void
fst_ca_store_stage_test_pause(void)
{
	const gchar *ms = g_getenv("FST_TEST_CA_STAGE_PAUSE_MS");
	if (ms != NULL)
		g_usleep(g_ascii_strtoull(ms, NULL, 10) * 1000);
}

/* makes @stage the new @ca_dir in one rename and removes what @ca_dir held */
static gboolean
fst_ca_store_stage_commit(const gchar *stage, const gchar *ca_dir, GError **error)
{
	g_autofree gchar *parent = g_path_get_dirname(ca_dir);
	g_autoptr(GDir) dir = g_dir_open(stage, 0, NULL);
	const gchar *entry;

	/* keys were synced when written; certificates (new files) may not be */
	while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(stage, entry, NULL);
		fst_ca_store_stage_test_pause();
		if (!fst_ca_store_fsync_path(path, FALSE, error))
			return FALSE;
	}
	if (!fst_ca_store_fsync_path(stage, TRUE, error))
		return FALSE;
	if (g_file_test(ca_dir, G_FILE_TEST_IS_DIR)) {
		/* the old folder moves to the staging name, and is removed there */
		if (renameat2(AT_FDCWD, stage, AT_FDCWD, ca_dir, RENAME_EXCHANGE) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "cannot put %s in place of %s: %s",
			            stage,
			            ca_dir,
			            g_strerror(errno));
			return FALSE;
		}
		fst_ca_store_remove_dir(stage);
	} else if (g_rename(stage, ca_dir) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot rename %s to %s: %s",
		            stage,
		            ca_dir,
		            g_strerror(errno));
		return FALSE;
	}
	return fst_ca_store_fsync_path(parent, TRUE, error);
}

/* a staging folder that is removed unless committed */
typedef gchar FstCaStoreStage;
static void
fst_ca_store_stage_free(FstCaStoreStage *stage)
{
	if (stage == NULL)
		return;
	if (g_file_test(stage, G_FILE_TEST_IS_DIR))
		fst_ca_store_remove_dir(stage);
	g_free(stage);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCaStoreStage, fst_ca_store_stage_free)

/* @key, or, when %NULL, a new key of @key_type, which @made owns */
static EVP_PKEY *
fst_ca_store_key_or_new(EVP_PKEY *key, FstKeyType key_type, EVP_PKEY **made, GError **error)
{
	if (key != NULL)
		return key;
	*made = fst_ca_store_generate_key(key_type, error);
	return *made;
}

/* writes the issuing key (as @file of @ca_dir), or the reference to where it is */
static gboolean
fst_ca_store_write_issuing_key_as(const gchar *ca_dir,
                                  const gchar *file,
                                  EVP_PKEY *key,
                                  const gchar *key_ref,
                                  const FstSecret *passphrase,
                                  GError **error)
{
	g_autofree gchar *path = fst_ca_store_path(ca_dir, file);
	if (key_ref != NULL)
		return fst_ca_store_write_key_ref(key_ref, path, error);
	return fst_ca_store_write_key(key, path, passphrase, error);
}

/* writes the issuing key, or the reference to where it is */
static gboolean
fst_ca_store_write_issuing_key(const gchar *ca_dir,
                               EVP_PKEY *key,
                               const gchar *key_ref,
                               const FstSecret *passphrase,
                               GError **error)
{
	return fst_ca_store_write_issuing_key_as(
	    ca_dir, FST_CA_STORE_ISSUING_KEY, key, key_ref, passphrase, error);
}

/* a CA certificate this station can issue with: CA:TRUE, keyCertSign, in its validity */
static gboolean
fst_ca_store_check_ca_cert(X509 *cert, const gchar *what, GError **error)
{
	if (X509_check_ca(cert) < 1 || (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0 ||
	    (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is not a CA certificate with keyUsage keyCertSign: it cannot "
		            "issue certificates",
		            what);
		return FALSE;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		g_set_error(error, FST_ERROR, FST_ERROR_INVALID_DATA, "%s has expired", what);
		return FALSE;
	}
	return TRUE;
}

/* checks @cert chains to @chain (partial chains allowed: the root may be elsewhere) */
static gboolean
fst_ca_store_check_chain(X509 *cert, GPtrArray *chain, GError **error)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();

	if (chain->len == 0)
		return TRUE;
	if (store == NULL || ctx == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot create a certificate store");
		return FALSE;
	}
	for (guint i = 0; i < chain->len; i++)
		X509_STORE_add_cert(store, g_ptr_array_index(chain, i));
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot set up chain verification");
		return FALSE;
	}
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the CA certificate does not chain to the given chain: %s; give the "
		            "certificates of the CA that signed it",
		            X509_verify_cert_error_string(err));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_store_create:
 * @ca_dir: the workspace CA directory, created 0700 if missing
 * @root: the root CA to make
 * @issuing: the issuing CA to make under it
 * @issuing_key: (nullable): the issuing key (e.g. a PKCS#11 handle); %NULL
 *   generates one of @issuing's key type
 * @issuing_key_ref: (nullable): the `pkcs11:` URI of @issuing_key, stored
 *   instead of the key
 * @passphrase: encrypts the keys written
 * @error: (nullable): return location
 *
 * Makes a root CA and an issuing CA signed by it, and writes them in the
 * workspace layout (see the top of this file). Refuses with %FST_ERROR_CONFIG
 * (changing nothing) when the workspace already has a CA.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_create(const gchar *ca_dir,
                    const FstCaStoreOptions *root,
                    const FstCaStoreOptions *issuing,
                    EVP_PKEY *issuing_key,
                    const gchar *issuing_key_ref,
                    const FstSecret *passphrase,
                    GError **error)
{
	g_autoptr(EVP_PKEY) root_key = NULL;
	g_autoptr(EVP_PKEY) new_key = NULL;
	g_autoptr(X509) root_cert = NULL;
	g_autoptr(X509) issuing_cert = NULL;
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	g_autoptr(FstCaStoreStage) stage = NULL;
	g_autofree gchar *root_key_path = NULL;
	g_autofree gchar *root_path = NULL;
	g_autofree gchar *issuing_path = NULL;

	if (!fst_ca_store_check_absent(ca_dir,
	                               error,
	                               FST_CA_STORE_ROOT_CERT,
	                               FST_CA_STORE_ROOT_KEY,
	                               FST_CA_STORE_ISSUING_CERT,
	                               FST_CA_STORE_ISSUING_KEY,
	                               FST_CA_STORE_ISSUING_CSR,
	                               NULL))
		return FALSE;
	if (passphrase == NULL || fst_secret_get_len(passphrase) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "a passphrase is needed to encrypt the CA keys");
		return FALSE;
	}
	root_key = fst_ca_store_generate_key(root->key_type, error);
	if (root_key == NULL)
		return FALSE;
	issuing_key = fst_ca_store_key_or_new(issuing_key, issuing->key_type, &new_key, error);
	if (issuing_key == NULL)
		return FALSE;
	root_cert = fst_ca_store_make_ca_cert(root_key, root, NULL, root_key, error);
	if (root_cert == NULL) {
		g_prefix_error(error, "making the root CA: ");
		return FALSE;
	}
	issuing_cert = fst_ca_store_make_ca_cert(issuing_key, issuing, root_cert, root_key, error);
	if (issuing_cert == NULL) {
		g_prefix_error(error, "making the issuing CA: ");
		return FALSE;
	}

	/* everything goes in a staging folder that replaces ca/ at once */
	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	root_key_path = fst_ca_store_path(stage, FST_CA_STORE_ROOT_KEY);
	root_path = fst_ca_store_path(stage, FST_CA_STORE_ROOT_CERT);
	issuing_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CERT);
	if (!fst_ca_store_write_key(root_key, root_key_path, passphrase, error) ||
	    !fst_ca_store_write_issuing_key(stage, issuing_key, issuing_key_ref, passphrase, error))
		return FALSE;
	g_ptr_array_add(one, root_cert);
	if (!fst_ca_store_write_certs(one, root_path, error))
		return FALSE;
	g_ptr_array_index(one, 0) = issuing_cert;
	if (!fst_ca_store_write_certs(one, issuing_path, error))
		return FALSE;
	if (!fst_ca_store_stage_commit(stage, ca_dir, error))
		return FALSE;
	g_info(
	    "created root CA %s and issuing CA %s in %s", root->subject, issuing->subject, ca_dir);
	return TRUE;
}

/**
 * fst_ca_store_create_csr:
 * @ca_dir: the workspace CA directory, created 0700 if missing
 * @issuing: the issuing CA to request
 * @issuing_key: (nullable): its key, or %NULL to generate one
 * @issuing_key_ref: (nullable): the `pkcs11:` URI of @issuing_key, stored
 *   instead of the key
 * @passphrase: encrypts a generated key
 * @error: (nullable): return location
 *
 * First half of an issuing CA signed by an offline root: writes the key and
 * `issuing-ca.csr`, which the root's owner signs; fst_ca_store_install() then
 * installs the certificate. Refuses when the workspace has a CA.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_create_csr(const gchar *ca_dir,
                        const FstCaStoreOptions *issuing,
                        EVP_PKEY *issuing_key,
                        const gchar *issuing_key_ref,
                        const FstSecret *passphrase,
                        GError **error)
{
	g_autoptr(EVP_PKEY) new_key = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(FstCaStoreStage) stage = NULL;
	g_autofree gchar *csr_path = NULL;

	if (!fst_ca_store_check_absent(ca_dir,
	                               error,
	                               FST_CA_STORE_ISSUING_CERT,
	                               FST_CA_STORE_ISSUING_KEY,
	                               FST_CA_STORE_ISSUING_CSR,
	                               NULL))
		return FALSE;
	issuing_key = fst_ca_store_key_or_new(issuing_key, issuing->key_type, &new_key, error);
	if (issuing_key == NULL)
		return FALSE;
	req = fst_ca_store_make_ca_csr(issuing_key, issuing, error);
	if (req == NULL)
		return FALSE;
	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	csr_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CSR);
	if (!fst_ca_store_write_issuing_key(
	        stage, issuing_key, issuing_key_ref, passphrase, error) ||
	    !fst_ca_store_write_csr(req, csr_path, error))
		return FALSE;
	return fst_ca_store_stage_commit(stage, ca_dir, error);
}

/* the SHA-256 of @cert's DER, lower-case hex */
static gchar *
fst_ca_store_cert_sha256(X509 *cert)
{
	guint8 *der = NULL;
	int len = i2d_X509(cert, &der);
	gchar *hex;

	if (len <= 0)
		return NULL;
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, (gsize)len);
	OPENSSL_free(der);
	return hex;
}

/* the issuing CA certificate in @ca_dir, which a renewal replaces */
static X509 *
fst_ca_store_read_issuing(const gchar *ca_dir, GError **error)
{
	g_autofree gchar *path = fst_ca_store_path(ca_dir, FST_CA_STORE_ISSUING_CERT);
	g_autoptr(GPtrArray) certs = NULL;

	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is missing: this workspace has no issuing CA to renew; create or "
		            "import one",
		            path);
		return NULL;
	}
	certs = fst_ca_store_read_certs(path, error);
	if (certs == NULL)
		return NULL;
	return X509_dup(g_ptr_array_index(certs, 0));
}

/* in @stage: the issuing CA's files renamed retired-issuing-ca-SHA.pem and
 * .key (the first 16 digits of its SHA-256); the name, or NULL */
static gchar *
fst_ca_store_retire_issuing(const gchar *stage, X509 *cert, GError **error)
{
	g_autofree gchar *sha = fst_ca_store_cert_sha256(cert);
	g_autofree gchar *name = NULL;
	const gchar *from[] = {FST_CA_STORE_ISSUING_CERT, FST_CA_STORE_ISSUING_KEY};
	const gchar *ext[] = {".pem", ".key"};

	if (sha == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode the issuing CA");
		return NULL;
	}
	name = g_strdup_printf("%s%.16s", FST_CA_STORE_RETIRED_PREFIX, sha);
	for (guint i = 0; i < G_N_ELEMENTS(from); i++) {
		g_autofree gchar *src = fst_ca_store_path(stage, from[i]);
		g_autofree gchar *file = g_strconcat(name, ext[i], NULL);
		g_autofree gchar *dst = fst_ca_store_path(stage, file);
		gboolean taken;
		if (!g_file_test(src, G_FILE_TEST_EXISTS))
			continue;
		taken = g_file_test(dst, G_FILE_TEST_EXISTS);
		if (taken || g_rename(src, dst) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "cannot keep the issuing CA as %s: %s (nothing was changed)",
			            file,
			            taken ? "the name is taken" : g_strerror(errno));
			return NULL;
		}
	}
	return g_steal_pointer(&name);
}

/**
 * fst_ca_store_install:
 * @ca_dir: the workspace CA directory, with `issuing-ca.csr`
 * @cert_path: the signed issuing CA certificate (PEM or DER; a PEM file may
 *   go on with its chain)
 * @chain_path: (nullable): the certificates above it (PEM), root last
 * @retired_name: (out) (transfer full) (optional): for a renewal, the name
 *   the replaced issuing CA is kept under; else %NULL
 * @error: (nullable): return location
 *
 * Second half of fst_ca_store_create_csr() and of fst_ca_store_renew_csr():
 * checks the certificate is for the requested key, is a CA with
 * keyCertSign, and chains to the given chain (for a renewal, by default the
 * `root-ca.pem` in place), then writes `issuing-ca.pem` and `root-ca.pem`
 * (the chain) and removes the request. A renewal first keeps the issuing CA
 * it replaces under its retired name (as fst_ca_store_renew() does) and makes
 * `issuing-ca.next.key` the issuing key. Nothing is written when a check
 * fails.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_install(const gchar *ca_dir,
                     const gchar *cert_path,
                     const gchar *chain_path,
                     gchar **retired_name,
                     GError **error)
{
	g_autofree gchar *csr_path = fst_ca_store_path(ca_dir, FST_CA_STORE_ISSUING_CSR);
	g_autofree gchar *next_path = fst_ca_store_path(ca_dir, FST_CA_STORE_ISSUING_NEXT_KEY);
	g_autofree gchar *issuing_path = NULL;
	g_autofree gchar *root_path = NULL;
	g_autofree gchar *retired = NULL;
	g_autoptr(X509) old = NULL;
	g_autoptr(FstCaStoreStage) stage = NULL;
	g_autofree gchar *csr_pem = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	gsize len = 0;
	X509 *cert;

	/* a renewal waits with its key beside the issuing CA in service */
	if (g_file_test(next_path, G_FILE_TEST_EXISTS)) {
		old = fst_ca_store_read_issuing(ca_dir, error);
		if (old == NULL)
			return FALSE;
	} else if (!fst_ca_store_check_absent(ca_dir, error, FST_CA_STORE_ISSUING_CERT, NULL)) {
		return FALSE;
	}
	if (!g_file_get_contents(csr_path, &csr_pem, &len, NULL)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "%s is missing: this workspace has no issuing CA request to install a "
		            "certificate for; make the request first",
		            csr_path);
		return FALSE;
	}
	bio = BIO_new_mem_buf(csr_pem, (int)len);
	req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	if (req == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INVALID_DATA, "cannot read %s", csr_path);
		return FALSE;
	}
	certs = fst_ca_store_read_certs(cert_path, error);
	if (certs == NULL)
		return FALSE;
	cert = g_ptr_array_index(certs, 0);
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(req)) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is not for the key of %s: install the certificate signed for "
		            "this station's request",
		            cert_path,
		            csr_path);
		return FALSE;
	}
	if (!fst_ca_store_check_ca_cert(cert, cert_path, error))
		return FALSE;
	for (guint i = 1; i < certs->len; i++)
		g_ptr_array_add(chain, X509_dup(g_ptr_array_index(certs, i)));
	if (chain_path != NULL) {
		g_autoptr(GPtrArray) more = fst_ca_store_read_certs(chain_path, error);
		if (more == NULL)
			return FALSE;
		for (guint i = 0; i < more->len; i++)
			g_ptr_array_add(chain, X509_dup(g_ptr_array_index(more, i)));
	}
	if (chain->len == 0 && old != NULL) {
		g_autofree gchar *in_place = fst_ca_store_path(ca_dir, FST_CA_STORE_ROOT_CERT);
		g_autoptr(GPtrArray) more = NULL;
		if (g_file_test(in_place, G_FILE_TEST_EXISTS)) {
			more = fst_ca_store_read_certs(in_place, error);
			if (more == NULL)
				return FALSE;
			for (guint i = 0; i < more->len; i++)
				g_ptr_array_add(chain, X509_dup(g_ptr_array_index(more, i)));
		}
	}
	if (chain->len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "no chain for %s: the root (and any intermediate) is needed, "
		            "devices and verifiers need it",
		            cert_path);
		return FALSE;
	}
	if (!fst_ca_store_check_chain(cert, chain, error))
		return FALSE;
	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	issuing_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CERT);
	root_path = fst_ca_store_path(stage, FST_CA_STORE_ROOT_CERT);
	if (old != NULL) {
		g_autofree gchar *next = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_NEXT_KEY);
		g_autofree gchar *key = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_KEY);
		retired = fst_ca_store_retire_issuing(stage, old, error);
		if (retired == NULL)
			return FALSE;
		if (g_rename(next, key) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "cannot make %s the issuing key: %s (nothing was changed)",
			            FST_CA_STORE_ISSUING_NEXT_KEY,
			            g_strerror(errno));
			return FALSE;
		}
	}
	{
		g_autofree gchar *request = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CSR);
		if (g_unlink(request) != 0) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_INTERNAL,
			    "cannot remove the installed request %s: %s (nothing was changed)",
			    FST_CA_STORE_ISSUING_CSR,
			    g_strerror(errno));
			return FALSE;
		}
	}
	if (!fst_ca_store_write_certs(chain, root_path, error))
		return FALSE;
	g_ptr_array_add(one, cert);
	if (!fst_ca_store_write_certs(one, issuing_path, error))
		return FALSE;
	if (!fst_ca_store_stage_commit(stage, ca_dir, error))
		return FALSE;
	if (retired != NULL)
		g_info("installed the renewed issuing CA in %s; the one before is kept as %s",
		       ca_dir,
		       retired);
	if (retired_name != NULL)
		*retired_name = g_steal_pointer(&retired);
	return TRUE;
}

/**
 * fst_ca_store_import:
 * @ca_dir: the workspace CA directory, created 0700 if missing
 * @certs: (element-type X509): the CA certificate, then optionally its chain
 * @key: the CA's private key (from a file, PKCS#12 or a PKCS#11 token)
 * @key_ref: (nullable): the `pkcs11:` URI of @key, stored instead of it
 * @chain: (nullable) (element-type X509): more certificates above the CA
 * @passphrase: encrypts the key as stored (when not in a token)
 * @error: (nullable): return location
 *
 * Makes an existing CA the workspace's issuing CA: checks @key belongs to the
 * certificate, the certificate is a CA with keyCertSign and not expired, and
 * chains to the chain; then stores the key re-encrypted (scrypt, AES-256) and
 * the certificates. Refuses when the workspace already has an issuing CA.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_import(const gchar *ca_dir,
                    GPtrArray *certs,
                    EVP_PKEY *key,
                    const gchar *key_ref,
                    GPtrArray *chain,
                    const FstSecret *passphrase,
                    GError **error)
{
	g_autofree gchar *issuing_path = NULL;
	g_autofree gchar *root_path = fst_ca_store_path(ca_dir, FST_CA_STORE_ROOT_CERT);
	g_autoptr(FstCaStoreStage) stage = NULL;
	g_autoptr(GPtrArray) above = g_ptr_array_new();
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	X509 *cert;

	g_return_val_if_fail(certs != NULL && certs->len > 0, FALSE);
	if (!fst_ca_store_check_absent(ca_dir,
	                               error,
	                               FST_CA_STORE_ISSUING_CERT,
	                               FST_CA_STORE_ISSUING_KEY,
	                               FST_CA_STORE_ROOT_CERT,
	                               NULL))
		return FALSE;
	cert = g_ptr_array_index(certs, 0);
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the private key does not belong to the CA certificate: give the "
		            "matching pair");
		return FALSE;
	}
	if (!fst_ca_store_check_ca_cert(cert, "the imported certificate", error))
		return FALSE;
	for (guint i = 1; i < certs->len; i++)
		g_ptr_array_add(above, g_ptr_array_index(certs, i));
	for (guint i = 0; chain != NULL && i < chain->len; i++)
		g_ptr_array_add(above, g_ptr_array_index(chain, i));
	if (!fst_ca_store_check_chain(cert, above, error))
		return FALSE;
	if (above->len == 0 && X509_self_signed(cert, 0) != 1)
		g_warning("no chain given for the imported CA: devices and verifiers will need "
		          "its root; add it to %s",
		          root_path);

	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	g_free(root_path);
	root_path = fst_ca_store_path(stage, FST_CA_STORE_ROOT_CERT);
	issuing_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CERT);
	if (!fst_ca_store_write_issuing_key(stage, key, key_ref, passphrase, error))
		return FALSE;
	if (above->len > 0 && !fst_ca_store_write_certs(above, root_path, error))
		return FALSE;
	g_ptr_array_add(one, cert);
	if (!fst_ca_store_write_certs(one, issuing_path, error))
		return FALSE;
	return fst_ca_store_stage_commit(stage, ca_dir, error);
}

/**
 * fst_ca_store_renew_options:
 * @ca_dir: the workspace CA directory
 * @subject: (out) (transfer full): the issuing CA's subject, openssl style
 * @key_type: (out): its key type
 * @pathlen: (out): its pathLenConstraint, -1 for none
 * @error: (nullable): return location
 *
 * What a renewal keeps of the issuing CA it replaces, unless told otherwise.
 *
 * Returns: %TRUE on success; %FST_ERROR_CONFIG when there is no issuing CA,
 *   %FST_ERROR_INVALID_DATA when its subject cannot be written back
 */
gboolean
fst_ca_store_renew_options(
    const gchar *ca_dir, gchar **subject, FstKeyType *key_type, gint *pathlen, GError **error)
{
	g_autoptr(X509) cert = fst_ca_store_read_issuing(ca_dir, error);
	g_autoptr(X509_NAME) back = NULL;
	g_autofree gchar *key = NULL;
	gchar *line;

	if (cert == NULL)
		return FALSE;
	line = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
	back = line != NULL ? fst_ca_store_parse_subject(line, NULL) : NULL;
	if (back == NULL || X509_NAME_cmp(back, X509_get_subject_name(cert)) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the issuing CA's subject %s cannot be written back as it is: give the "
		            "new CA's subject",
		            line != NULL ? line : "?");
		OPENSSL_free(line);
		return FALSE;
	}
	*subject = g_strdup(line);
	OPENSSL_free(line);
	key = fst_ca_store_describe_key(X509_get0_pubkey(cert));
	*key_type = fst_key_type_from_string(key);
	*pathlen = (gint)X509_get_pathlen(cert);
	return TRUE;
}

/**
 * fst_ca_store_renew:
 * @ca_dir: the workspace CA directory, made by fst_ca_store_create()
 * @issuing: the new issuing CA (fst_ca_store_renew_options() gives the
 *   current one's subject, key type and pathlen)
 * @issuing_key: (nullable): its key (e.g. a PKCS#11 handle); %NULL generates
 *   one of @issuing's key type
 * @issuing_key_ref: (nullable): the `pkcs11:` URI of @issuing_key, stored
 *   instead of the key
 * @passphrase: the workspace passphrase: it opens the root key and encrypts
 *   a new key file
 * @retired: (out) (transfer full) (optional): the name the replaced issuing
 *   CA is kept under (`retired-issuing-ca-` and 16 digits of its SHA-256)
 * @error: (nullable): return location
 *
 * Replaces the issuing CA with a new one, with a new key, signed by the
 * workspace's root CA, for a CA near its end or a key to be changed. The
 * replaced CA's certificate and key stay in ca/ under the @retired name:
 * the certificates it issued still chain to it, and a CRL for them needs its
 * key (`ca crl --ca NAME`). The change is one swap of ca/, as for
 * fst_ca_store_create(). A workspace whose root key is not in ca/ (an
 * imported CA, an offline root) is refused with %FST_ERROR_CONFIG: it renews
 * with fst_ca_store_renew_csr() and fst_ca_store_install().
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_renew(const gchar *ca_dir,
                   const FstCaStoreOptions *issuing,
                   EVP_PKEY *issuing_key,
                   const gchar *issuing_key_ref,
                   const FstSecret *passphrase,
                   gchar **retired,
                   GError **error)
{
	g_autofree gchar *root_key_path = fst_ca_store_path(ca_dir, FST_CA_STORE_ROOT_KEY);
	g_autofree gchar *root_path = fst_ca_store_path(ca_dir, FST_CA_STORE_ROOT_CERT);
	g_autofree gchar *issuing_path = NULL;
	g_autofree gchar *name = NULL;
	g_autoptr(X509) old = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(GPtrArray) roots = NULL;
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	g_autoptr(EVP_PKEY) root_key = NULL;
	g_autoptr(EVP_PKEY) new_key = NULL;
	g_autoptr(FstCaStoreStage) stage = NULL;
	X509 *root;

	old = fst_ca_store_read_issuing(ca_dir, error);
	if (old == NULL ||
	    !fst_ca_store_check_absent(ca_dir, error, FST_CA_STORE_ISSUING_CSR, NULL))
		return FALSE;
	if (!g_file_test(root_key_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the root CA's key is not on this station (%s is missing): renew with "
		            "`fleetstation ca renew --csr`, have the root's owner sign "
		            "ca/issuing-ca.csr, then run `fleetstation ca install`",
		            root_key_path);
		return FALSE;
	}
	roots = fst_ca_store_read_certs(root_path, error);
	if (roots == NULL)
		return FALSE;
	root = g_ptr_array_index(roots, roots->len - 1);
	root_key = fst_ca_store_open_key(root_key_path, passphrase, "root CA", error);
	if (root_key == NULL)
		return FALSE;
	if (X509_check_private_key(root, root_key) != 1 ||
	    X509_check_issued(root, old) != X509_V_OK) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s and %s are not the root CA that signed the issuing CA: renew with "
		            "`fleetstation ca renew --csr` and have its root sign the request",
		            root_path,
		            root_key_path);
		return FALSE;
	}
	issuing_key = fst_ca_store_key_or_new(issuing_key, issuing->key_type, &new_key, error);
	if (issuing_key == NULL)
		return FALSE;
	cert = fst_ca_store_make_ca_cert(issuing_key, issuing, root, root_key, error);
	if (cert == NULL) {
		g_prefix_error(error, "making the new issuing CA: ");
		return FALSE;
	}

	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	name = fst_ca_store_retire_issuing(stage, old, error);
	if (name == NULL)
		return FALSE;
	issuing_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CERT);
	if (!fst_ca_store_write_issuing_key(stage, issuing_key, issuing_key_ref, passphrase, error))
		return FALSE;
	g_ptr_array_add(one, cert);
	if (!fst_ca_store_write_certs(one, issuing_path, error) ||
	    !fst_ca_store_stage_commit(stage, ca_dir, error))
		return FALSE;
	g_info("renewed the issuing CA %s in %s; the one before is kept as %s",
	       issuing->subject,
	       ca_dir,
	       name);
	if (retired != NULL)
		*retired = g_steal_pointer(&name);
	return TRUE;
}

/**
 * fst_ca_store_renew_csr:
 * @ca_dir: the workspace CA directory, with an issuing CA
 * @issuing: the new issuing CA to request
 * @issuing_key: (nullable): its key, or %NULL to generate one
 * @issuing_key_ref: (nullable): the `pkcs11:` URI of @issuing_key, stored
 *   instead of the key
 * @passphrase: encrypts a generated key
 * @error: (nullable): return location
 *
 * First half of a renewal by an offline root: writes the new key as
 * `issuing-ca.next.key` and its request as `issuing-ca.csr`, which the
 * root's owner signs; the issuing CA in service stays so until
 * fst_ca_store_install() puts the signed certificate in its place.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_store_renew_csr(const gchar *ca_dir,
                       const FstCaStoreOptions *issuing,
                       EVP_PKEY *issuing_key,
                       const gchar *issuing_key_ref,
                       const FstSecret *passphrase,
                       GError **error)
{
	g_autoptr(X509) old = fst_ca_store_read_issuing(ca_dir, error);
	g_autoptr(EVP_PKEY) new_key = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(FstCaStoreStage) stage = NULL;
	g_autofree gchar *csr_path = NULL;

	if (old == NULL ||
	    !fst_ca_store_check_absent(
	        ca_dir, error, FST_CA_STORE_ISSUING_CSR, FST_CA_STORE_ISSUING_NEXT_KEY, NULL))
		return FALSE;
	issuing_key = fst_ca_store_key_or_new(issuing_key, issuing->key_type, &new_key, error);
	if (issuing_key == NULL)
		return FALSE;
	req = fst_ca_store_make_ca_csr(issuing_key, issuing, error);
	if (req == NULL)
		return FALSE;
	stage = fst_ca_store_stage_begin(ca_dir, error);
	if (stage == NULL)
		return FALSE;
	csr_path = fst_ca_store_path(stage, FST_CA_STORE_ISSUING_CSR);
	if (!fst_ca_store_write_issuing_key_as(stage,
	                                       FST_CA_STORE_ISSUING_NEXT_KEY,
	                                       issuing_key,
	                                       issuing_key_ref,
	                                       passphrase,
	                                       error) ||
	    !fst_ca_store_write_csr(req, csr_path, error))
		return FALSE;
	return fst_ca_store_stage_commit(stage, ca_dir, error);
}

/**
 * fst_ca_store_issuing_pems:
 * @ca_dir: the workspace CA directory
 *
 * The workspace's issuing CAs, the one in service and those a renewal
 * retired, for RegisterCertificate with the CA that issued a certificate. A
 * file that cannot be read is left out, with a warning.
 *
 * Returns: (transfer full) (element-type utf8 utf8): each CA's certificate
 *   (PEM) by the SHA-256 of its DER, lower-case hex (AWS IoT's id of it, and
 *   the database's `issuer_sha256`)
 */
GHashTable *
fst_ca_store_issuing_pems(const gchar *ca_dir)
{
	g_autoptr(GHashTable) pems = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GDir) dir = g_dir_open(ca_dir, 0, NULL);
	const gchar *entry;

	while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;
		g_autoptr(GPtrArray) certs = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(BIO) bio = NULL;
		X509 *cert;
		gchar *data = NULL;
		long len;

		if (g_strcmp0(entry, FST_CA_STORE_ISSUING_CERT) != 0 &&
		    !(g_str_has_prefix(entry, FST_CA_STORE_RETIRED_PREFIX) &&
		      g_str_has_suffix(entry, ".pem")))
			continue;
		path = fst_ca_store_path(ca_dir, entry);
		certs = fst_ca_store_read_certs(path, &error);
		if (certs == NULL) {
			g_warning("the certificates of the CA in %s cannot register with it: %s",
			          path,
			          error->message);
			continue;
		}
		cert = g_ptr_array_index(certs, 0);
		bio = BIO_new(BIO_s_mem());
		if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
			ERR_clear_error();
			continue;
		}
		len = BIO_get_mem_data(bio, &data);
		g_hash_table_insert(
		    pems, fst_ca_store_cert_sha256(cert), g_strndup(data, (gsize)len));
	}
	return g_steal_pointer(&pems);
}

/* where a certificate's key is: "encrypted file", "pkcs11:...", "offline" */
static gchar *
fst_ca_store_key_store(const gchar *ca_dir, const gchar *name)
{
	g_autofree gchar *file = g_strdup_printf("%s.key", name);
	g_autofree gchar *path = fst_ca_store_path(ca_dir, file);
	g_autofree gchar *head = NULL;
	gsize len = 0;

	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return g_strdup("offline (not on this station)");
	if (fst_ca_pkcs11_is_ref(path)) {
		g_autofree gchar *uri = fst_ca_pkcs11_read_ref(path, NULL);
		return g_strdup(uri != NULL ? uri : "pkcs11 (unreadable reference)");
	}
	if (!g_file_get_contents(path, &head, &len, NULL))
		return g_strdup("file (unreadable)");
	if (g_strstr_len(head, (gssize)MIN(len, 64), "ENCRYPTED") != NULL) {
		OPENSSL_cleanse(head, len);
		return g_strdup("encrypted file");
	}
	OPENSSL_cleanse(head, len);
	return g_strdup("file, NOT ENCRYPTED");
}

static FstCaInfo *
fst_ca_store_info_new(X509 *cert, const gchar *name, const gchar *key_store)
{
	FstCaInfo *info = g_new0(FstCaInfo, 1);
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	info->name = g_strdup(name);
	if (bio != NULL &&
	    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
	    BIO_get_mem_ptr(bio, &mem) == 1)
		info->subject = g_strndup(mem->data, mem->length);
	else
		info->subject = g_strdup("?");
	info->key = pub != NULL ? fst_ca_store_describe_key(pub) : g_strdup("?");
	info->key_store = g_strdup(key_store);
	info->sha256 = fst_ca_store_cert_sha256(cert);
	info->self_signed = X509_self_signed(cert, 0) == 1;
	info->pathlen = (gint)X509_get_pathlen(cert);
	info->not_before = fst_crypto_asn1_time_to_unix(X509_get0_notBefore(cert));
	info->not_after = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(cert));
	ERR_clear_error();
	return info;
}

/**
 * fst_ca_store_list:
 * @ca_dir: the workspace CA directory
 * @error: (nullable): return location
 *
 * Reads every CA certificate of the workspace: each certificate of each
 * `*.pem` file, named after its file (`root-ca#2` for the second certificate
 * of root-ca.pem). A missing directory is %FST_ERROR_NOT_FOUND.
 *
 * Returns: (transfer container) (element-type FstCaInfo): the CAs, the
 *   issuing CA first
 */
GPtrArray *
fst_ca_store_list(const gchar *ca_dir, GError **error)
{
	g_autoptr(GPtrArray) infos =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_ca_info_free);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDir) dir = g_dir_open(ca_dir, 0, NULL);
	const gchar *entry;

	if (dir == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no CA directory %s: the workspace has no CA yet; create or import one",
		            ca_dir);
		return NULL;
	}
	while ((entry = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_suffix(entry, ".pem"))
			g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
	}
	/* issuing first, then the rest by name */
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint pass = 0; pass < 2; pass++) {
		for (guint i = 0; i < names->len; i++) {
			const gchar *name = g_ptr_array_index(names, i);
			gboolean issuing = g_strcmp0(name, "issuing-ca") == 0;
			g_autofree gchar *file = g_strdup_printf("%s.pem", name);
			g_autofree gchar *path = fst_ca_store_path(ca_dir, file);
			g_autofree gchar *store = NULL;
			g_autoptr(GPtrArray) certs = NULL;
			g_autoptr(GError) error_local = NULL;

			if ((pass == 0) != issuing)
				continue;
			certs = fst_ca_store_read_certs(path, &error_local);
			if (certs == NULL) {
				g_warning("skipping %s: %s", path, error_local->message);
				continue;
			}
			store = fst_ca_store_key_store(ca_dir, name);
			for (guint j = 0; j < certs->len; j++) {
				g_autofree gchar *label =
				    j == 0 ? g_strdup(name) : g_strdup_printf("%s#%u", name, j + 1);
				g_ptr_array_add(
				    infos,
				    fst_ca_store_info_new(
				        g_ptr_array_index(certs, j),
				        label,
				        j == 0 ? store : "offline (not on this station)"));
			}
		}
	}
	return g_steal_pointer(&infos);
}

/**
 * fst_ca_store_expiry_warning:
 * @ca_not_after: when the issuing CA ends, unix seconds
 * @cert_not_after: when a device certificate issued now would end (see
 *   fst_profile_get_not_after(), which handles fixed-end profiles), or 0
 * @now: unix seconds
 *
 * Says whether an issuing CA is near its end: expired, ending within
 * %FST_CA_STORE_WARN_DAYS days, or ending before a device certificate issued
 * now would (at @cert_not_after).
 *
 * Returns: (transfer full) (nullable): a warning for the operator, or %NULL
 */
gchar *
fst_ca_store_expiry_warning(gint64 ca_not_after, gint64 cert_not_after, gint64 now)
{
	g_autofree gchar *end = fst_ca_store_format_time(ca_not_after);
	gint64 left = ca_not_after - now;

	if (left <= 0)
		return g_strdup_printf(
		    "the issuing CA expired on %s: renew it (`fleetstation ca renew`)", end);
	if (left < 86400)
		return g_strdup_printf(
		    "the issuing CA ends on %s, in less than a day: renew it now (`fleetstation ca "
		    "renew`)",
		    end);
	if (left < (gint64)FST_CA_STORE_WARN_DAYS * 86400) {
		g_autofree gchar *days = fst_time_count(left / 86400, "day");
		return g_strdup_printf(
		    "the issuing CA ends on %s, in %s: renew it soon (`fleetstation ca renew`)",
		    end,
		    days);
	}
	if (cert_not_after > ca_not_after) {
		g_autofree gchar *cert_end = fst_ca_store_format_time(cert_not_after);
		return g_strdup_printf("the issuing CA ends on %s, before a device certificate "
		                       "issued now would (%s): renew it or shorten the profile's "
		                       "validity",
		                       end,
		                       cert_end);
	}
	return NULL;
}
