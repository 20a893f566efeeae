/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The issuing certificate authority: makes a demo PKI (through fst-ca-store.c), loads an
 * issuing CA and signs device certificates from device CSRs.
 *
 * fst_ca_issue_from_csr() is called from several port workers at once on one
 * FstCa. Everything it reads from the FstCa is set up in fst_ca_load() and
 * never changed afterwards; OpenSSL 3 allows concurrent signing with one
 * EVP_PKEY as each signature gets its own context. So no lock is needed.
 */

#define G_LOG_DOMAIN "FstCa"

#include "fst-ca.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>
#include <time.h>

#include "fst-ca-pkcs11.h"
#include "fst-ca-store.h"
#include "fst-crypto.h"
#include "fst-csr.h"
#include "fst-der.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/* a certificate file bigger than this is not one */
#define FST_CA_MAX_CERT_FILE (256 * 1024)
#define FST_CA_SERIAL_LEN 20
/* device clocks and the station clock disagree a little */
#define FST_CA_CLOCK_SKEW_SECS (5 * 60)
#define FST_CA_ROOT_YEARS 25
#define FST_CA_ISSUING_YEARS 20

struct _FstCa {
	X509 *cert;                /* (owned): the issuing CA */
	EVP_PKEY *key;             /* (owned) */
	GBytes *cert_der;          /* (owned) */
	GPtrArray *chain;          /* (owned) (element-type X509): certificates above cert */
	X509_NAME *issuer_name;    /* (owned): subject of cert */
	ASN1_OCTET_STRING *key_id; /* (owned): SKI of cert, the AKI of what it signs */
	const EVP_MD *md;          /* digest matching the CA key */
	gint64 not_after;          /* of cert, unix seconds */
	gchar *path;               /* (owned): cert path, for messages */
};

/**
 * fst_issued_cert_free:
 * @self: (nullable) (transfer full): an #FstIssuedCert
 */
void
fst_issued_cert_free(FstIssuedCert *self)
{
	if (self == NULL)
		return;
	if (self->der != NULL)
		g_bytes_unref(self->der);
	g_free(self->serial_hex);
	g_free(self->aws_cert_id);
	g_free(self->subject);
	g_free(self->key_type);
	g_free(self);
}

/* the bytes of a positive random serial that encodes in exactly FST_CA_SERIAL_LEN bytes */
static gboolean
fst_ca_random_serial(guint8 raw[FST_CA_SERIAL_LEN], GError **error)
{
	if (RAND_bytes(raw, FST_CA_SERIAL_LEN) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot draw a random serial number");
		return FALSE;
	}
	/* clear the sign bit, and keep the first byte non-zero so DER keeps 20 bytes */
	raw[0] &= 0x7f;
	if (raw[0] == 0)
		raw[0] = 0x01;
	return TRUE;
}

/* RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING */
static ASN1_OCTET_STRING *
fst_ca_key_id(X509 *cert, GError **error)
{
	const guint8 *pk = NULL;
	int pk_len = 0;
	guint8 md[EVP_MAX_MD_SIZE];
	guint md_len = 0;
	ASN1_OCTET_STRING *id;

	if (X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, X509_get_X509_PUBKEY(cert)) != 1 ||
	    EVP_Digest(pk, (gsize)pk_len, md, &md_len, EVP_sha1(), NULL) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot compute a key identifier");
		return NULL;
	}
	id = ASN1_OCTET_STRING_new();
	if (id == NULL || ASN1_OCTET_STRING_set(id, md, (int)md_len) != 1) {
		ASN1_OCTET_STRING_free(id);
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot store a key identifier");
		return NULL;
	}
	return id;
}

/* days from @now to the same date @years calendar years later, so leap days count */
static guint
fst_ca_days_in_years(gint64 now, gint years)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);
	g_autoptr(GDateTime) end = g_date_time_add_years(dt, years);
	return (guint)((g_date_time_to_unix(end) - now) / 86400);
}

/**
 * fst_ca_create_demo_pki:
 * @dir: the workspace CA directory, created mode 0700 if missing
 * @organization: the O of both CA subjects (no '/')
 * @passphrase: encrypts both private keys (must not be empty)
 * @error: (nullable): return location
 *
 * Makes a two-level demo PKI through fst_ca_store_create(), the one way CAs
 * are made: a root CA (25 years) and an issuing CA (20 years, pathlen 0), both
 * ECDSA P-256, written as `root-ca.pem`, `root-ca.key`, `issuing-ca.pem` and
 * `issuing-ca.key` in @dir. The keys are encrypted PKCS#8 (scrypt,
 * AES-256-CBC) in files created mode 0600. Existing CA files are not
 * overwritten, nor is an empty passphrase accepted: %FST_ERROR_CONFIG; an
 * organization with a '/' is %FST_ERROR_INVALID_DATA.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_create_demo_pki(const gchar *dir,
                       const gchar *organization,
                       const FstSecret *passphrase,
                       GError **error)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *root_subject = NULL;
	g_autofree gchar *issuing_subject = NULL;
	FstCaStoreOptions root = {.key_type = FST_KEY_TYPE_EC_P256, .pathlen = -1};
	FstCaStoreOptions issuing = {.key_type = FST_KEY_TYPE_EC_P256, .pathlen = 0};

	g_return_val_if_fail(dir != NULL, FALSE);
	g_return_val_if_fail(organization != NULL, FALSE);
	g_return_val_if_fail(passphrase != NULL, FALSE);

	/* the store takes openssl-style subjects, where '/' separates attributes */
	if (organization[0] == '\0' || strchr(organization, '/') != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "organization '%s' cannot name a CA: give a non-empty name without '/'",
		            organization);
		return FALSE;
	}
	root_subject = g_strdup_printf("/O=%s/CN=%s Root CA", organization, organization);
	issuing_subject = g_strdup_printf("/O=%s/CN=%s Issuing CA", organization, organization);
	root.subject = root_subject;
	root.days = fst_ca_days_in_years(now, FST_CA_ROOT_YEARS);
	issuing.subject = issuing_subject;
	issuing.days = fst_ca_days_in_years(now, FST_CA_ISSUING_YEARS);
	if (!fst_ca_store_create(dir, &root, &issuing, NULL, NULL, passphrase, error))
		return FALSE;
	g_message("created demo PKI for %s in %s", organization, dir);
	return TRUE;
}

/* reads every PEM certificate of a file; a file with none is an error */
static GPtrArray *
fst_ca_read_certs(const gchar *path, GError **error)
{
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	g_autofree gchar *contents = NULL;
	g_autoptr(BIO) bio = NULL;
	gsize len = 0;
	X509 *cert;

	if (!g_file_get_contents(path, &contents, &len, error)) {
		fst_error_convert_gio(error);
		return NULL;
	}
	if (len > FST_CA_MAX_CERT_FILE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is too large for a certificate file",
		            path);
		return NULL;
	}
	bio = BIO_new_mem_buf(contents, (int)len);
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		g_ptr_array_add(certs, cert);
	/* the loop ends with a "no start line" error at the end of the file */
	ERR_clear_error();
	if (certs->len == 0) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "%s holds no PEM certificate", path);
		return NULL;
	}
	return g_steal_pointer(&certs);
}

/* passes the passphrase with its length, so it is never copied as a C string */
typedef struct {
	const FstSecret *passphrase; /* (nullable) */
} FstCaPassphraseHelper;

static int
fst_ca_passphrase_cb(char *buf, int size, int rwflag, void *user_data)
{
	FstCaPassphraseHelper *helper = user_data;
	const FstSecret *passphrase = helper->passphrase;
	gsize len = 0;
	const guint8 *data;

	(void)rwflag;
	if (passphrase == NULL)
		return -1;
	data = fst_secret_get_data(passphrase, &len);
	if (len > (gsize)size)
		return -1;
	memcpy(buf, data, len);
	return (int)len;
}

static EVP_PKEY *
fst_ca_read_key(const gchar *path, const FstSecret *passphrase, GError **error)
{
	g_autoptr(FstSecret) pem = NULL;
	g_autoptr(BIO) bio = NULL;
	gsize len = 0;
	const guint8 *data;
	gboolean encrypted;
	EVP_PKEY *key;
	FstCaPassphraseHelper helper = {.passphrase = passphrase};

	/* read like a secret: mode checked, size capped, wiped after use */
	pem = fst_secret_new_from_file(path, error);
	if (pem == NULL) {
		g_prefix_error(error, "cannot read the issuing CA key: ");
		return NULL;
	}
	data = fst_secret_get_data(pem, &len);
	encrypted = g_strstr_len((const gchar *)data, (gssize)len, "ENCRYPTED") != NULL;
	bio = BIO_new_mem_buf(data, (int)len);
	key = PEM_read_bio_PrivateKey(bio, NULL, fst_ca_passphrase_cb, &helper);
	if (key == NULL) {
		if (encrypted) {
			ERR_clear_error();
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CA_UNAVAILABLE,
			            "cannot decrypt the issuing CA key %s: wrong passphrase?",
			            path);
		} else {
			fst_error_set_openssl(error,
			                      FST_ERROR_CA_UNAVAILABLE,
			                      "cannot read the issuing CA key %s",
			                      path);
		}
		return NULL;
	}
	if (!encrypted)
		g_warning("issuing CA key %s is not encrypted: re-encrypt it with a passphrase",
		          path);
	return key;
}

/* checks the issuing CA chains to the given chain certificates */
static gboolean
fst_ca_check_chain(FstCa *self, const gchar *chain_path, GError **error)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();

	if (store == NULL || ctx == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot create a certificate store");
		return FALSE;
	}
	for (guint i = 0; i < self->chain->len; i++) {
		if (X509_STORE_add_cert(store, g_ptr_array_index(self->chain, i)) != 1) {
			fst_error_set_openssl(
			    error, FST_ERROR_INTERNAL, "cannot add %s to a store", chain_path);
			return FALSE;
		}
	}
	/* the chain file need not end in a self-signed root */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, self->cert, NULL) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot set up chain verification");
		return FALSE;
	}
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "issuing CA %s does not chain to %s: %s; give the chain file of "
		            "this CA",
		            self->path,
		            chain_path,
		            X509_verify_cert_error_string(err));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_load:
 * @cert_path: the issuing CA certificate (PEM)
 * @key_path: its private key (PEM, encrypted PKCS#8; mode 0600)
 * @chain_path: (nullable): the PEM certificates above the issuing CA, e.g.
 *   root-ca.pem; the issuing CA must chain to them
 * @passphrase: (nullable): decrypts the key
 * @error: (nullable): return location
 *
 * Loads the issuing CA and checks it can sign: the key matches the
 * certificate, the certificate is a CA with keyCertSign, and it is within its
 * validity period. A wrong passphrase, an expired CA or a mismatched key is
 * %FST_ERROR_CA_UNAVAILABLE; a file that is not a certificate
 * %FST_ERROR_CONFIG; a key file that others can read %FST_ERROR_PERMISSION_DENIED.
 *
 * Returns: (transfer full): the CA, or %NULL with @error set
 */
FstCa *
fst_ca_load(const gchar *cert_path,
            const gchar *key_path,
            const gchar *chain_path,
            const FstSecret *passphrase,
            GError **error)
{
	g_autoptr(FstCa) self = g_new0(FstCa, 1);
	g_autoptr(GPtrArray) certs = NULL;
	guint8 *der = NULL;
	int der_len;

	g_return_val_if_fail(cert_path != NULL, NULL);
	g_return_val_if_fail(key_path != NULL, NULL);

	self->path = g_strdup(cert_path);
	certs = fst_ca_read_certs(cert_path, error);
	if (certs == NULL) {
		g_prefix_error(error, "cannot load the issuing CA certificate: ");
		return NULL;
	}
	self->cert = X509_dup(g_ptr_array_index(certs, 0));
	/* a key file may instead name a key in a PKCS#11 token; @passphrase is then its PIN */
	if (fst_ca_pkcs11_is_ref(key_path))
		self->key = fst_ca_pkcs11_load_key(key_path, passphrase, error);
	else
		self->key = fst_ca_read_key(key_path, passphrase, error);
	if (self->key == NULL)
		return NULL;
	if (X509_check_private_key(self->cert, self->key) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the key %s does not belong to the issuing CA certificate %s",
		            key_path,
		            cert_path);
		return NULL;
	}
	if (X509_check_ca(self->cert) < 1 ||
	    (X509_get_extension_flags(self->cert) & EXFLAG_KUSAGE) == 0 ||
	    (X509_get_key_usage(self->cert) & KU_KEY_CERT_SIGN) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "%s is not a CA certificate with keyCertSign: it cannot issue "
		            "certificates",
		            cert_path);
		return NULL;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(self->cert)) <= 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the issuing CA %s has expired: renew it",
		            cert_path);
		return NULL;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(self->cert)) > 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the issuing CA %s is not valid yet: check the station clock",
		            cert_path);
		return NULL;
	}

	/* chain: certificates above the issuing CA */
	self->chain = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
	for (guint i = 1; i < certs->len; i++)
		g_ptr_array_add(self->chain, X509_dup(g_ptr_array_index(certs, i)));
	if (chain_path != NULL) {
		g_autoptr(GPtrArray) chain = fst_ca_read_certs(chain_path, error);
		if (chain == NULL) {
			g_prefix_error(error, "cannot load the CA chain: ");
			return NULL;
		}
		for (guint i = 0; i < chain->len; i++)
			g_ptr_array_add(self->chain, X509_dup(g_ptr_array_index(chain, i)));
		if (!fst_ca_check_chain(self, chain_path, error))
			return NULL;
	}

	/* everything issuing needs, computed once and read-only from now on */
	der_len = i2d_X509(self->cert, &der);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode %s", cert_path);
		return NULL;
	}
	self->cert_der = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	self->issuer_name = X509_NAME_dup(X509_get_subject_name(self->cert));
	self->key_id = fst_ca_key_id(self->cert, error);
	if (self->issuer_name == NULL || self->key_id == NULL)
		return NULL;
	self->md = fst_crypto_md_for_key(self->key);
	self->not_after = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(self->cert));
	{
		/* the profile part of the warning, and telling it again as the
		 * days pass, are fst_station_check_ca_warning()'s */
		g_autofree gchar *warning = fst_ca_store_expiry_warning(
		    self->not_after, 0, g_get_real_time() / G_USEC_PER_SEC);
		if (warning != NULL)
			g_warning("%s (%s)", warning, cert_path);
	}
	g_debug("loaded issuing CA %s", cert_path);
	return g_steal_pointer(&self);
}

/**
 * fst_ca_free:
 * @self: (nullable) (transfer full): an #FstCa
 *
 * Frees the CA; the private key is wiped by OpenSSL as it is freed.
 */
void
fst_ca_free(FstCa *self)
{
	if (self == NULL)
		return;
	X509_free(self->cert);
	EVP_PKEY_free(self->key);
	if (self->cert_der != NULL)
		g_bytes_unref(self->cert_der);
	if (self->chain != NULL)
		g_ptr_array_unref(self->chain);
	X509_NAME_free(self->issuer_name);
	ASN1_OCTET_STRING_free(self->key_id);
	g_free(self->path);
	g_free(self);
}

/**
 * fst_ca_get_cert:
 * @self: an #FstCa
 *
 * Returns: (transfer none): the issuing CA certificate
 */
X509 *
fst_ca_get_cert(FstCa *self)
{
	return self->cert;
}

/**
 * fst_ca_get_not_after:
 * @self: an #FstCa
 *
 * Returns: when the issuing CA certificate ends, unix seconds
 */
gint64
fst_ca_get_not_after(FstCa *self)
{
	return self->not_after;
}

/**
 * fst_ca_get_key:
 * @self: an #FstCa
 *
 * For CA management (verification certificates, CRLs): the issuing CA key,
 * which may be a handle to a key in a PKCS#11 token.
 *
 * Returns: (transfer none): the issuing CA private key
 */
EVP_PKEY *
fst_ca_get_key(FstCa *self)
{
	return self->key;
}

/**
 * fst_ca_get_cert_der:
 * @self: an #FstCa
 *
 * Returns: (transfer full): the issuing CA certificate as DER
 */
GBytes *
fst_ca_get_cert_der(FstCa *self)
{
	return g_bytes_ref(self->cert_der);
}

/**
 * fst_ca_get_chain_der:
 * @self: an #FstCa
 *
 * The CA chain object a device stores: the issuing CA first, then any
 * intermediates above it, without the self-signed root (which devices do not
 * need to present).
 *
 * Returns: (transfer container) (element-type GBytes): DER certificates
 */
GPtrArray *
fst_ca_get_chain_der(FstCa *self)
{
	GPtrArray *array = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

	g_ptr_array_add(array, g_bytes_ref(self->cert_der));
	for (guint i = 0; i < self->chain->len; i++) {
		X509 *cert = g_ptr_array_index(self->chain, i);
		guint8 *der = NULL;
		int der_len;
		if (X509_self_signed(cert, 0) == 1)
			continue;
		der_len = i2d_X509(cert, &der);
		if (der_len <= 0) {
			ERR_clear_error();
			continue;
		}
		g_ptr_array_add(array, g_bytes_new(der, (gsize)der_len));
		OPENSSL_free(der);
	}
	return array;
}

/*
 * Issuance. A device certificate is built straight as DER from a fixed
 * layout: the CA's encoded name, the profile's extensions, the device key's
 * SubjectPublicKeyInfo; then signed once. Going through X509 objects costs
 * more than the signature in OpenSSL 3.0 (every d2i of a public key runs the
 * generic decoder, every extension is encoded twice), and issuance must be
 * bounded by one verification (the CSR) plus one signature. The device's CSR
 * or public key is untrusted input, parsed in fst-csr.c.
 */

static const guint8 fst_oid_organization[] = {0x55, 0x04, 0x0a};
static const guint8 fst_oid_common_name[] = {0x55, 0x04, 0x03};

/* appends an X.509 Time: UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280) */
static gboolean
fst_ca_put_time(GByteArray *buf, gint64 t)
{
	struct tm tm = {0};
	time_t tt = (time_t)t;
	gchar str[16];
	gsize len;
	gint year;

	if (gmtime_r(&tt, &tm) == NULL)
		return FALSE;
	year = tm.tm_year + 1900;
	if (year < 1950 || year > 9999)
		return FALSE;
	/* YYMMDDHHMMSSZ, or YYYYMMDDHHMMSSZ */
	len = (gsize)g_snprintf(str,
	                        sizeof(str),
	                        year < 2050 ? "%02d%02d%02d%02d%02d%02dZ"
	                                    : "%04d%02d%02d%02d%02d%02dZ",
	                        year < 2050 ? year % 100 : year,
	                        tm.tm_mon + 1,
	                        tm.tm_mday,
	                        tm.tm_hour,
	                        tm.tm_min,
	                        tm.tm_sec);
	fst_der_put(buf,
	            year < 2050 ? FST_DER_UTC_TIME : FST_DER_GENERALIZED_TIME,
	            (const guint8 *)str,
	            len);
	return TRUE;
}

static void
fst_ca_put_rdn(GByteArray *buf, const guint8 *oid, gsize oid_len, const gchar *value)
{
	gsize start = buf->len;
	fst_der_put(buf, FST_DER_OID, oid, oid_len);
	fst_der_put(buf, FST_DER_UTF8_STRING, (const guint8 *)value, strlen(value));
	fst_der_wrap(buf, start, FST_DER_SEQUENCE);
	fst_der_wrap(buf, start, FST_DER_SET);
}

/* appends Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue } */
static void
fst_ca_put_ext(GByteArray *buf,
               const guint8 *oid,
               gsize oid_len,
               gboolean critical,
               const guint8 *value,
               gsize value_len)
{
	static const guint8 crit[] = {0x01, 0x01, 0xff};
	gsize start = buf->len;
	fst_der_put(buf, FST_DER_OID, oid, oid_len);
	if (critical)
		g_byte_array_append(buf, crit, sizeof(crit));
	fst_der_put(buf, FST_DER_OCTET_STRING, value, value_len);
	fst_der_wrap(buf, start, FST_DER_SEQUENCE);
}

/* RFC 2253 escaping of one attribute value, as openssl prints it */
static void
fst_ca_append_rfc2253(GString *str, const gchar *value)
{
	gsize len = strlen(value);
	for (gsize i = 0; i < len; i++) {
		gchar c = value[i];
		if (strchr(",+\"\\<>;", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
		    (i == len - 1 && c == ' '))
			g_string_append_c(str, '\\');
		g_string_append_c(str, c);
	}
}

/* how the CA signs for @profile: digest, padding */
static EVP_MD_CTX *
fst_ca_sign_init(FstCa *self, const FstProfile *profile, GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = self->md;
	int base_id = EVP_PKEY_get_base_id(self->key);

	switch (fst_profile_get_digest(profile)) {
	case FST_PROFILE_DIGEST_SHA256:
		md = EVP_sha256();
		break;
	case FST_PROFILE_DIGEST_SHA384:
		md = EVP_sha384();
		break;
	case FST_PROFILE_DIGEST_SHA512:
		md = EVP_sha512();
		break;
	case FST_PROFILE_DIGEST_AUTO:
	default:
		break;
	}
	if (base_id == EVP_PKEY_DSA && EVP_MD_get_type(md) != NID_sha256) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s asks for %s but the issuing CA %s has a DSA key, which "
		            "signs with SHA-256 only: set [signature] digest=sha256 or auto",
		            fst_profile_get_name(profile),
		            EVP_MD_get0_name(md),
		            self->path);
		return NULL;
	}
	if (fst_profile_get_rsa_pss(profile) && base_id != EVP_PKEY_RSA &&
	    base_id != EVP_PKEY_RSA_PSS) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s asks for rsa-padding=pss but the issuing CA %s has a %s "
		            "key: remove rsa-padding or use an RSA CA",
		            fst_profile_get_name(profile),
		            self->path,
		            EVP_PKEY_get0_type_name(self->key));
		return NULL;
	}
	/* one use: no copy of the context at the end */
	if (ctx != NULL)
		EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, &pctx, fst_crypto_fetched_md(md), NULL, self->key) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_CA_UNAVAILABLE, "the issuing CA %s cannot sign", self->path);
		return NULL;
	}
	if (fst_profile_get_rsa_pss(profile) &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "the issuing CA %s cannot sign with RSASSA-PSS",
		                      self->path);
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

/*
 * The signature AlgorithmIdentifier for @ctx, as the provider encodes it
 * (ECDSA, DSA, RSA and RSASSA-PSS with its parameters); keys the provider
 * cannot describe (an ENGINE key) get it from the digest and key type.
 */
static gboolean
fst_ca_sign_algorithm(FstCa *self, EVP_MD_CTX *ctx, GByteArray *buf, GError **error)
{
	guint8 algid[256];
	gsize algid_len = 0;
	OSSL_PARAM ps[2];
	EVP_PKEY_CTX *pctx = EVP_MD_CTX_get_pkey_ctx(ctx);
	g_autoptr(X509_ALGOR) alg = NULL;
	guint8 *der = NULL;
	int der_len;
	int sig_nid = NID_undef;

	ps[0] = OSSL_PARAM_construct_octet_string(
	    OSSL_SIGNATURE_PARAM_ALGORITHM_ID, algid, sizeof(algid));
	ps[1] = OSSL_PARAM_construct_end();
	if (pctx != NULL && EVP_PKEY_CTX_get_params(pctx, ps) == 1 && OSSL_PARAM_modified(&ps[0]) &&
	    ps[0].return_size > 0 && ps[0].return_size <= sizeof(algid)) {
		algid_len = ps[0].return_size;
		g_byte_array_append(buf, algid, (guint)algid_len);
		return TRUE;
	}
	ERR_clear_error();
	alg = X509_ALGOR_new();
	if (alg == NULL || EVP_MD_CTX_get0_md(ctx) == NULL ||
	    OBJ_find_sigid_by_algs(&sig_nid,
	                           EVP_MD_get_type(EVP_MD_CTX_get0_md(ctx)),
	                           EVP_PKEY_get_base_id(self->key)) != 1 ||
	    X509_ALGOR_set0(alg,
	                    OBJ_nid2obj(sig_nid),
	                    EVP_PKEY_get_base_id(self->key) == EVP_PKEY_RSA ? V_ASN1_NULL
	                                                                    : V_ASN1_UNDEF,
	                    NULL) != 1 ||
	    (der_len = i2d_X509_ALGOR(alg, &der)) <= 0) {
		fst_error_set_openssl(error,
		                      FST_ERROR_NOT_SUPPORTED,
		                      "the issuing CA %s has a key the station cannot sign "
		                      "certificates with",
		                      self->path);
		return FALSE;
	}
	g_byte_array_append(buf, der, (guint)der_len);
	OPENSSL_free(der);
	return TRUE;
}

/* the issuance checks that do not depend on the key: validity against the
 * CA; @uid is %NULL before a run, when no device is known yet */
static gboolean
fst_ca_check_validity(FstCa *self,
                      const FstProfile *profile,
                      const gchar *uid,
                      gint64 now,
                      gint64 not_after,
                      GError **error)
{
	if (now >= self->not_after) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the issuing CA %s has expired: renew it",
		            self->path);
		return FALSE;
	}
	if (not_after <= now) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(not_after);
		g_autofree gchar *str = g_date_time_format_iso8601(dt);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s gives certificates a fixed end %s, which has passed: "
		            "change [validity] not-after",
		            fst_profile_get_name(profile),
		            str);
		return FALSE;
	}
	if (not_after > self->not_after && !fst_profile_get_allow_outlive_ca(profile)) {
		g_autoptr(GDateTime) dt_cert = g_date_time_new_from_unix_utc(not_after);
		g_autoptr(GDateTime) dt_ca = g_date_time_new_from_unix_utc(self->not_after);
		g_autofree gchar *str_cert = g_date_time_format_iso8601(dt_cert);
		g_autofree gchar *str_ca = g_date_time_format_iso8601(dt_ca);
		g_autofree gchar *whose = uid != NULL
		                              ? g_strdup_printf("a certificate for device %s", uid)
		                              : g_strdup("a device certificate issued now");
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "%s would end %s, after the issuing CA (%s): "
		            "shorten [validity] in profile %s, renew the issuing CA, or set "
		            "[validity] allow-outlive-ca=true",
		            whose,
		            str_cert,
		            str_ca,
		            fst_profile_get_name(profile));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_check_profile:
 * @self: the issuing CA
 * @profile: a profile whose certificates @self issues
 * @error: (nullable): return location for a #GError
 *
 * The checks every issuance makes that depend on the time only, made once
 * before a run touches any device: the CA has not expired, the profile's
 * fixed end (if any) has not passed, and a certificate issued now would not
 * outlive the CA (unless the profile allows it).
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_CA_UNAVAILABLE (the CA) or
 *   %FST_ERROR_CONFIG (the profile), saying what to change
 */
gboolean
fst_ca_check_profile(FstCa *self, const FstProfile *profile, GError **error)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	g_return_val_if_fail(self != NULL && profile != NULL, FALSE);
	return fst_ca_check_validity(
	    self, profile, NULL, now, fst_profile_get_not_after(profile, now), error);
}

/* builds the extensions of a device certificate into @buf, as [3] { SEQUENCE OF } */
static gboolean
fst_ca_put_extensions(FstCa *self,
                      const FstProfile *profile,
                      const FstDeviceInfo *info,
                      const FstCsrKey *key,
                      GByteArray *buf,
                      GError **error)
{
	static const guint8 oid_bc[] = {0x55, 0x1d, 0x13};
	static const guint8 oid_ku[] = {0x55, 0x1d, 0x0f};
	static const guint8 oid_eku[] = {0x55, 0x1d, 0x25};
	static const guint8 oid_ski[] = {0x55, 0x1d, 0x0e};
	static const guint8 oid_aki[] = {0x55, 0x1d, 0x23};
	static const guint8 oid_san[] = {0x55, 0x1d, 0x11};
	static const guint8 bc_leaf[] = {0x30, 0x00};
	static const guint8 kp_client[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
	static const guint8 kp_server[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
	g_autoptr(GByteArray) val = g_byte_array_sized_new(64);
	g_autofree gchar *dns = NULL;
	g_autofree gchar *uri = NULL;
	g_autoptr(GError) error_local = NULL;
	guint ku = fst_profile_get_key_usage(profile);
	guint eku = fst_profile_get_ext_key_usage(profile);
	gsize start = buf->len;
	guint8 ku_byte = 0;
	guint8 ku_der[4];
	guint unused = 0;

	/* basicConstraints CA:FALSE, critical */
	fst_ca_put_ext(buf, oid_bc, sizeof(oid_bc), TRUE, bc_leaf, sizeof(bc_leaf));

	/* keyUsage, critical; bit n of the flags is bit n of the BIT STRING */
	if (ku == FST_PROFILE_KEY_USAGE_DEFAULT) {
		ku = FST_PROFILE_KEY_USAGE_DIGITAL_SIGNATURE;
		if (key->key_type &
		    (FST_KEY_TYPE_RSA_2048 | FST_KEY_TYPE_RSA_3072 | FST_KEY_TYPE_RSA_4096))
			ku |= FST_PROFILE_KEY_USAGE_KEY_ENCIPHERMENT;
	}
	for (guint bit = 0; bit < 8; bit++) {
		if (ku & (1u << bit))
			ku_byte |= (guint8)(0x80 >> bit);
	}
	while (unused < 7 && (ku_byte & (1u << unused)) == 0)
		unused++;
	ku_der[0] = FST_DER_BIT_STRING;
	ku_der[1] = 2;
	ku_der[2] = (guint8)unused;
	ku_der[3] = ku_byte;
	fst_ca_put_ext(buf, oid_ku, sizeof(oid_ku), TRUE, ku_der, sizeof(ku_der));

	/* extendedKeyUsage */
	if (eku != FST_PROFILE_EXT_KEY_USAGE_NONE) {
		if (eku & FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH)
			fst_der_put(val, FST_DER_OID, kp_client, sizeof(kp_client));
		if (eku & FST_PROFILE_EXT_KEY_USAGE_SERVER_AUTH)
			fst_der_put(val, FST_DER_OID, kp_server, sizeof(kp_server));
		fst_der_wrap(val, 0, FST_DER_SEQUENCE);
		fst_ca_put_ext(buf, oid_eku, sizeof(oid_eku), FALSE, val->data, val->len);
	}

	/* subjectKeyIdentifier, authorityKeyIdentifier */
	if (fst_profile_get_subject_key_id(profile)) {
		g_byte_array_set_size(val, 0);
		fst_der_put(val, FST_DER_OCTET_STRING, key->key_id, sizeof(key->key_id));
		fst_ca_put_ext(buf, oid_ski, sizeof(oid_ski), FALSE, val->data, val->len);
	}
	if (fst_profile_get_authority_key_id(profile)) {
		const ASN1_OCTET_STRING *ca_ski = X509_get0_subject_key_id(self->cert);
		if (ca_ski == NULL)
			ca_ski = self->key_id;
		g_byte_array_set_size(val, 0);
		fst_der_put(
		    val, 0x80, ASN1_STRING_get0_data(ca_ski), (gsize)ASN1_STRING_length(ca_ski));
		fst_der_wrap(val, 0, FST_DER_SEQUENCE);
		fst_ca_put_ext(buf, oid_aki, sizeof(oid_aki), FALSE, val->data, val->len);
	}

	/* subjectAltName, when the profile asks */
	dns = fst_profile_render_san_dns(profile, info, &error_local);
	if (error_local == NULL)
		uri = fst_profile_render_san_uri(profile, info, &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	if (dns != NULL || uri != NULL) {
		g_byte_array_set_size(val, 0);
		if (dns != NULL)
			fst_der_put(val, 0x82, (const guint8 *)dns, strlen(dns));
		if (uri != NULL)
			fst_der_put(val, 0x86, (const guint8 *)uri, strlen(uri));
		fst_der_wrap(val, 0, FST_DER_SEQUENCE);
		fst_ca_put_ext(buf, oid_san, sizeof(oid_san), FALSE, val->data, val->len);
	}

	fst_der_wrap(buf, start, FST_DER_SEQUENCE);
	fst_der_wrap(buf, start, 0xa3);
	return TRUE;
}

/* the common end of every issuance: @key is decoded and allowed */
static FstIssuedCert *
fst_ca_issue_for_key(FstCa *self,
                     const FstProfile *profile,
                     const FstDeviceInfo *info,
                     const FstCsrKey *key,
                     GError **error)
{
	static const guint8 version_v3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
	g_autoptr(FstIssuedCert) issued = g_new0(FstIssuedCert, 1);
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	g_autoptr(GByteArray) tbs = g_byte_array_sized_new(1024);
	g_autoptr(GByteArray) cert = NULL;
	g_autoptr(GByteArray) algid = g_byte_array_sized_new(64);
	g_autofree gchar *cn = NULL;
	g_autofree guint8 *sig = NULL;
	const gchar *uid = info->uid != NULL ? info->uid : "(no uid)";
	const gchar *org = fst_profile_get_subject_organization(profile);
	guint8 serial[FST_CA_SERIAL_LEN];
	guint8 name_der[1024];
	guint8 *name_p = name_der;
	int name_len;
	gsize sig_len = 0;
	gsize start;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after = fst_profile_get_not_after(profile, now);
	GString *subject;

	/* subject from the profile, never from the device */
	cn = fst_profile_render_subject_cn(profile, info, error);
	if (cn == NULL)
		return NULL;
	if (strlen(cn) > 64) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s: the certificate CN %s is longer than X.509 allows (64 "
		            "characters): shorten [subject] cn in profile %s",
		            uid,
		            cn,
		            fst_profile_get_name(profile));
		return NULL;
	}
	if (!fst_ca_check_validity(self, profile, uid, now, not_after, error))
		return NULL;
	ctx = fst_ca_sign_init(self, profile, error);
	if (ctx == NULL)
		return NULL;

	if (!fst_ca_random_serial(serial, error))
		return NULL;

	/* TBSCertificate */
	g_byte_array_append(tbs, version_v3, sizeof(version_v3));
	fst_der_put(tbs, FST_DER_INTEGER, serial, sizeof(serial));
	if (!fst_ca_sign_algorithm(self, ctx, algid, error))
		return NULL;
	g_byte_array_append(tbs, algid->data, algid->len);
	name_len = i2d_X509_NAME(self->issuer_name, NULL);
	if (name_len <= 0 || name_len > (int)sizeof(name_der) ||
	    i2d_X509_NAME(self->issuer_name, &name_p) != name_len) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "the subject of the issuing CA %s cannot be encoded",
		                      self->path);
		return NULL;
	}
	g_byte_array_append(tbs, name_der, (guint)name_len);
	start = tbs->len;
	if (!fst_ca_put_time(tbs, now - FST_CA_CLOCK_SKEW_SECS) ||
	    !fst_ca_put_time(tbs, not_after)) {
		g_set_error(error, FST_ERROR, FST_ERROR_INTERNAL, "cannot encode the validity");
		return NULL;
	}
	fst_der_wrap(tbs, start, FST_DER_SEQUENCE);
	start = tbs->len;
	fst_ca_put_rdn(tbs, fst_oid_organization, sizeof(fst_oid_organization), org);
	fst_ca_put_rdn(tbs, fst_oid_common_name, sizeof(fst_oid_common_name), cn);
	fst_der_wrap(tbs, start, FST_DER_SEQUENCE);
	g_byte_array_append(tbs, key->spki->data, key->spki->len);
	if (!fst_ca_put_extensions(self, profile, info, key, tbs, error))
		return NULL;
	fst_der_wrap(tbs, 0, FST_DER_SEQUENCE);

	/* sign */
	/* EVP_PKEY_get_size() is the largest signature the key makes */
	sig_len = (gsize)MAX(EVP_PKEY_get_size(self->key), 0);
	sig = g_malloc(MAX(sig_len, 1));
	if (sig_len == 0 || EVP_DigestSign(ctx, sig, &sig_len, tbs->data, tbs->len) != 1) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "cannot sign the certificate for device %s",
		                      uid);
		return NULL;
	}

	/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING } */
	cert = g_byte_array_sized_new(tbs->len + algid->len + (guint)sig_len + 16);
	g_byte_array_append(cert, tbs->data, tbs->len);
	g_byte_array_append(cert, algid->data, algid->len);
	start = cert->len;
	g_byte_array_append(cert, (const guint8 *)"\0", 1);
	g_byte_array_append(cert, sig, (guint)sig_len);
	fst_der_wrap(cert, start, FST_DER_BIT_STRING);
	fst_der_wrap(cert, 0, FST_DER_SEQUENCE);

	/* record */
	issued->der = g_byte_array_free_to_bytes(g_steal_pointer(&cert));
	issued->aws_cert_id = fst_crypto_sha256_hex(g_bytes_get_data(issued->der, NULL),
	                                            g_bytes_get_size(issued->der));
	issued->serial_hex = fst_crypto_hex(serial, sizeof(serial), TRUE);
	subject = g_string_new("CN=");
	fst_ca_append_rfc2253(subject, cn);
	g_string_append(subject, ",O=");
	fst_ca_append_rfc2253(subject, org);
	issued->subject = g_string_free(subject, FALSE);
	issued->key_type = g_strdup(fst_key_type_to_string(key->key_type));
	issued->not_before = now - FST_CA_CLOCK_SKEW_SECS;
	issued->not_after = not_after;
	g_debug(
	    "issued certificate %s for device %s (%s)", issued->serial_hex, uid, issued->subject);
	return g_steal_pointer(&issued);
}

/* refuses keys the profile does not allow; @reason from fst_csr_decode_spki() */
static gboolean
fst_ca_check_device_key(const FstProfile *profile,
                        const gchar *uid,
                        const gchar *what,
                        const FstCsrKey *key,
                        const gchar *reason,
                        GError **error)
{
	if (key->key_type == FST_KEY_TYPE_NONE && reason != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s sent %s for %s: refused; the device must "
		            "generate one of the profile's key types",
		            uid,
		            what,
		            reason);
		return FALSE;
	}
	if (key->key_type == FST_KEY_TYPE_NONE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent %s whose public key cannot be decoded: retry, or "
		            "check the device firmware",
		            uid,
		            what);
		return FALSE;
	}
	if ((fst_profile_get_allowed_key_types(profile) & key->key_type) == 0) {
		g_autofree gchar *allowed =
		    fst_key_types_to_string(fst_profile_get_allowed_key_types(profile));
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s sent %s for an %s key but profile %s allows only "
		            "%s: check the device firmware or choose another profile",
		            uid,
		            what,
		            fst_key_type_to_string(key->key_type),
		            fst_profile_get_name(profile),
		            allowed);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_check_device_csr:
 * @profile: the profile the certificate is for
 * @uid: the device, for messages
 * @csr_der: the DER PKCS#10 request the device sent (untrusted)
 * @key: (out caller-allocates): its public key, once the request is good;
 *   clear it with fst_csr_key_clear()
 * @error: (nullable): return location
 *
 * Everything a device's CSR must pass before anything is issued for it,
 * whoever issues (this CA or AWS IoT, `issuer=aws`): parsed once with a
 * size cap, its key one @profile allows, and its signature made by that key
 * (proof of possession).
 *
 * Fails with %FST_ERROR_INVALID_DATA for a malformed or oversized CSR or an
 * undecodable key, %FST_ERROR_NOT_SUPPORTED for a key type that is
 * unsupported or that the profile does not allow, and
 * %FST_ERROR_VERIFY_FAILED if the CSR signature is wrong.
 *
 * Returns: %TRUE when the CSR is good
 */
gboolean
fst_ca_check_device_csr(
    const FstProfile *profile, const gchar *uid, GBytes *csr_der, FstCsrKey *key, GError **error)
{
	g_autofree gchar *reason = NULL;
	FstCsr csr;
	gsize len = 0;
	const guint8 *data;

	g_return_val_if_fail(profile != NULL, FALSE);
	g_return_val_if_fail(csr_der != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);

	/* parse, once, with a hard size cap: the bytes come from the device */
	data = g_bytes_get_data(csr_der, &len);
	if (len == 0 || len > FST_CSR_MAX_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent a CSR of %" G_GSIZE_FORMAT " bytes (allowed: 1 to %u)",
		            uid,
		            len,
		            (guint)FST_CSR_MAX_SIZE);
		return FALSE;
	}
	if (!fst_csr_parse(data, len, &csr)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent a malformed CSR (%" G_GSIZE_FORMAT " bytes, not one "
		            "DER PKCS#10 request): retry, or check the device firmware",
		            uid,
		            len);
		return FALSE;
	}

	/* refuse unsupported keys before doing any cryptography with them */
	if (!fst_csr_decode_spki(csr.spki_whole.p, csr.spki_whole.len, key, &reason))
		key->key_type = FST_KEY_TYPE_NONE;
	if (!fst_ca_check_device_key(profile, uid, "a CSR", key, reason, error)) {
		fst_csr_key_clear(key);
		return FALSE;
	}

	/* proof of possession */
	if (!fst_csr_verify_signature(data, len, &csr, key->pkey)) {
		fst_csr_key_clear(key);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "the CSR signature of device %s does not verify: the device does not "
		            "prove it holds the key; retry, or check the device",
		            uid);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_issue_from_csr:
 * @self: an #FstCa
 * @profile: the profile the device is provisioned with
 * @info: what the device said about itself
 * @csr_der: the DER CSR the device sent (untrusted)
 * @error: (nullable): return location
 *
 * Signs a device certificate for the key in @csr_der. Thread-safe: any number
 * of threads may call this at once on one #FstCa.
 *
 * Only the CSR's public key is used, after its signature proves the device
 * holds the private key; the subject comes from @profile, never from the CSR.
 * The certificate gets basicConstraints CA:FALSE (critical), keyUsage
 * (critical; by default digitalSignature, + keyEncipherment for RSA keys),
 * extendedKeyUsage (clientAuth by default), SKI and AKI, and a subjectAltName
 * if the profile asks, signed with the profile's digest and padding.
 *
 * Fails with %FST_ERROR_INVALID_DATA for a malformed or oversized CSR or a CN
 * that is not a thing name, %FST_ERROR_VERIFY_FAILED if the CSR signature is
 * wrong, %FST_ERROR_NOT_SUPPORTED for a key type that is unsupported or that
 * the profile does not allow, %FST_ERROR_CONFIG for a profile the CA cannot
 * follow (e.g. PSS with an EC CA), and %FST_ERROR_CA_UNAVAILABLE if the CA
 * has expired or the certificate would outlive it (unless the profile allows).
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set
 */
FstIssuedCert *
fst_ca_issue_from_csr(FstCa *self,
                      const FstProfile *profile,
                      const FstDeviceInfo *info,
                      GBytes *csr_der,
                      GError **error)
{
	g_auto(FstCsrKey) key = {0};

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(profile != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);
	g_return_val_if_fail(csr_der != NULL, NULL);

	if (!fst_ca_check_device_csr(
	        profile, info->uid != NULL ? info->uid : "(no uid)", csr_der, &key, error))
		return NULL;
	return fst_ca_issue_for_key(self, profile, info, &key, error);
}

/**
 * fst_ca_issue_for_public_key:
 * @self: an #FstCa
 * @profile: the profile the device is provisioned with
 * @info: what the device said about itself
 * @spki_der: the device's public key, a DER SubjectPublicKeyInfo (untrusted)
 * @error: (nullable): return location
 *
 * Signs a device certificate for a public key the caller has already tied to
 * the device: a key the station generated (key injection), or one whose
 * holder proved possession another way (a signed challenge, see
 * fst_ca_verify_challenge()). Otherwise as fst_ca_issue_from_csr().
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set
 */
FstIssuedCert *
fst_ca_issue_for_public_key(FstCa *self,
                            const FstProfile *profile,
                            const FstDeviceInfo *info,
                            GBytes *spki_der,
                            GError **error)
{
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *reason = NULL;
	const gchar *uid;
	const guint8 *spki;
	gsize len = 0;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(profile != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);
	g_return_val_if_fail(spki_der != NULL, NULL);

	uid = info->uid != NULL ? info->uid : "(no uid)";
	spki = g_bytes_get_data(spki_der, &len);
	if (len == 0 || len > FST_CSR_MAX_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s: a public key of %" G_GSIZE_FORMAT
		            " bytes (allowed: 1 to %u)",
		            uid,
		            len,
		            (guint)FST_CSR_MAX_SIZE);
		return NULL;
	}
	if (!fst_csr_decode_spki(spki, len, &key, &reason))
		key.key_type = FST_KEY_TYPE_NONE;
	if (!fst_ca_check_device_key(profile, uid, "a public key", &key, reason, error))
		return NULL;
	return fst_ca_issue_for_key(self, profile, info, &key, error);
}

/**
 * fst_ca_verify_challenge:
 * @spki_der: the device's public key, a DER SubjectPublicKeyInfo (untrusted)
 * @challenge: the random bytes the station sent the device
 * @signature: the device's signature over @challenge (untrusted): ECDSA
 *   (DER), or RSA PKCS#1 v1.5, with SHA-256
 * @error: (nullable): return location
 *
 * Proof of possession for the device-public-key key source: the device signs
 * a fresh station challenge with the key it reports.
 *
 * Returns: %TRUE if @signature verifies; else %FST_ERROR_VERIFY_FAILED, or
 *   %FST_ERROR_INVALID_DATA for a key that cannot be decoded
 */
gboolean
fst_ca_verify_challenge(GBytes *spki_der, GBytes *challenge, GBytes *signature, GError **error)
{
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *reason = NULL;
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	const guint8 *spki;
	gsize len = 0;
	gsize sig_len = 0;
	gsize challenge_len = 0;
	const guint8 *sig = g_bytes_get_data(signature, &sig_len);
	const guint8 *msg = g_bytes_get_data(challenge, &challenge_len);

	spki = g_bytes_get_data(spki_der, &len);
	if (len > FST_CSR_MAX_SIZE || !fst_csr_decode_spki(spki, len, &key, &reason)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the device public key cannot be used: %s",
		            reason != NULL ? reason : "it cannot be decoded");
		return FALSE;
	}
	if (challenge_len < 16) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "a challenge of %" G_GSIZE_FORMAT " bytes is too short (16 or more)",
		            challenge_len);
		return FALSE;
	}
	if (ctx == NULL ||
	    EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key.pkey, NULL) != 1 ||
	    EVP_DigestVerify(ctx, sig, sig_len, msg, challenge_len) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "the device's signature over the challenge does not verify: it does "
		            "not prove it holds the key; retry, or check the device");
		return FALSE;
	}
	return TRUE;
}

/* CMS-envelopes @plain to the escrow certificate (@escrow_der, from the
 * profile @name), and nobody else */
static GBytes *
fst_ca_escrow_envelope(const gchar *name,
                       GBytes *escrow_der,
                       const FstSecret *plain,
                       GError **error)
{
	const guint8 *p = g_bytes_get_data(escrow_der, NULL);
	g_autoptr(X509) cert = d2i_X509(NULL, &p, (long)g_bytes_get_size(escrow_der));
	g_autoptr(BIO) in = NULL;
	STACK_OF(X509) *recipients = NULL;
	CMS_ContentInfo *cms = NULL;
	gsize len = 0;
	const guint8 *data = fst_secret_get_data(plain, &len);
	guint8 *der = NULL;
	int der_len = 0;
	GBytes *out = NULL;

	in = BIO_new_mem_buf(data, (int)len);
	recipients = sk_X509_new_null();
	if (cert == NULL || in == NULL || recipients == NULL ||
	    sk_X509_push(recipients, cert) <= 0 ||
	    (cms = CMS_encrypt(recipients, in, EVP_aes_256_cbc(), CMS_BINARY)) == NULL ||
	    (der_len = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CONFIG,
		                      "cannot envelope the device key to the escrow certificate of "
		                      "profile %s",
		                      name);
	} else {
		out = g_bytes_new(der, (gsize)der_len);
	}
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	sk_X509_free(recipients);
	return out;
}

/**
 * fst_ca_issue_with_station_key:
 * @self: an #FstCa
 * @profile: a profile with `key-source=station-generated`
 * @info: what the device said about itself
 * @key_type: the key to make, one of the profile's key types
 * @pool: (nullable): takes a ready key from it (RSA keys take long to make);
 *   %NULL generates the key now
 * @private_key: (out) (transfer full): the device's private key, PKCS#8 DER,
 *   to hand to the device and then free (which wipes it); never stored
 * @escrow: (out) (transfer full) (nullable): when the profile names an escrow
 *   certificate, the private key CMS-enveloped (AES-256) to that certificate
 *   only, DER, for the caller to record; else %NULL
 * @error: (nullable): return location
 *
 * Key-injection mode, engine side: makes (or takes) the device key, issues
 * the certificate for it and returns both. Nothing is returned unless all of
 * it succeeded, escrow included. Thread-safe like fst_ca_issue_from_csr().
 *
 * Returns: (transfer full): the certificate, or %NULL with @error set:
 *   %FST_ERROR_CONFIG for a profile that is not station-generated or a bad
 *   escrow certificate, %FST_ERROR_NOT_SUPPORTED for a key type the profile
 *   does not allow, or the errors of fst_ca_issue_for_public_key()
 */
FstIssuedCert *
fst_ca_issue_with_station_key(FstCa *self,
                              const FstProfile *profile,
                              const FstDeviceInfo *info,
                              FstKeyType key_type,
                              FstKeyPool *pool,
                              FstSecret **private_key,
                              GBytes **escrow,
                              GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(FstSecret) secret = NULL;
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(GBytes) envelope = NULL;
	guint8 *der = NULL;
	int der_len;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(profile != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);
	g_return_val_if_fail(private_key != NULL, NULL);

	if (fst_profile_get_key_source(profile) != FST_KEY_SOURCE_STATION_GENERATED) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s does not have key-source=station-generated: the station "
		            "makes no device keys for it",
		            fst_profile_get_name(profile));
		return NULL;
	}
	if ((fst_profile_get_allowed_key_types(profile) & key_type) == 0) {
		g_autofree gchar *allowed =
		    fst_key_types_to_string(fst_profile_get_allowed_key_types(profile));
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "profile %s allows only %s, not %s",
		            fst_profile_get_name(profile),
		            allowed,
		            fst_key_type_to_string(key_type));
		return NULL;
	}
	key = pool != NULL ? fst_key_pool_take(pool, key_type, NULL, error)
	                   : fst_crypto_generate_key(key_type, error);
	if (key == NULL)
		return NULL;

	/* the certificate, for the public half */
	der_len = i2d_PUBKEY(key, &der);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode a public key");
		return NULL;
	}
	spki = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(g_steal_pointer(&der));
	issued = fst_ca_issue_for_public_key(self, profile, info, spki, error);
	if (issued == NULL)
		return NULL;

	/* the private half, as PKCS#8 DER, only ever in wiped memory */
	secret = fst_crypto_private_key_secret(key, error);
	if (secret == NULL)
		return NULL;

	if (fst_profile_get_escrow_cert_der(profile, NULL) != NULL) {
		envelope = fst_ca_escrow_envelope(fst_profile_get_name(profile),
		                                  fst_profile_get_escrow_cert_der(profile, NULL),
		                                  secret,
		                                  error);
		if (envelope == NULL)
			return NULL;
	}
	*private_key = g_steal_pointer(&secret);
	if (escrow != NULL)
		*escrow = g_steal_pointer(&envelope);
	return g_steal_pointer(&issued);
}
