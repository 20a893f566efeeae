/*
 * The issuing certificate authority: makes a demo PKI, loads an issuing CA and
 * signs device certificates from device CSRs.
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
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "fst-error.h"
#include "fst-openssl-common.h"

/* a device CSR is well under 2 KiB even for RSA-4096 */
#define FST_CA_MAX_CSR_SIZE (16 * 1024)
/* a certificate file bigger than this is not one */
#define FST_CA_MAX_CERT_FILE (256 * 1024)
#define FST_CA_SERIAL_LEN 20
/* device clocks and the station clock disagree a little */
#define FST_CA_CLOCK_SKEW_SECS (5 * 60)
#define FST_CA_ROOT_YEARS 25
#define FST_CA_ISSUING_YEARS 20

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_BIT_STRING, ASN1_BIT_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AUTHORITY_KEYID, AUTHORITY_KEYID_free)

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

/* OPENSSL_free() is a macro, so GBytes needs a function to free with */
static void
fst_ca_openssl_free(gpointer data)
{
	OPENSSL_free(data);
}

static gint64
fst_ca_asn1_time_to_unix(const ASN1_TIME *t)
{
	struct tm tm = {0};
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (gint64)timegm(&tm);
}

/* the digest a signature by @key uses: SHA-384 for P-384, SHA-512 for P-521 */
static const EVP_MD *
fst_ca_md_for_key(EVP_PKEY *key)
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

/* a positive random serial that encodes in exactly FST_CA_SERIAL_LEN bytes */
static ASN1_INTEGER *
fst_ca_new_serial(gchar **serial_hex, GError **error)
{
	guint8 raw[FST_CA_SERIAL_LEN];
	g_autoptr(BIGNUM) bn = NULL;
	ASN1_INTEGER *serial;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot draw a random serial number");
		return NULL;
	}
	/* clear the sign bit, and keep the first byte non-zero so DER keeps 20 bytes */
	raw[0] &= 0x7f;
	if (raw[0] == 0)
		raw[0] = 0x01;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	serial = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (serial == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode a serial number");
		return NULL;
	}
	if (serial_hex != NULL) {
		GString *hex = g_string_sized_new(2 * sizeof(raw));
		for (guint i = 0; i < sizeof(raw); i++)
			g_string_append_printf(hex, "%02X", raw[i]);
		*serial_hex = g_string_free(hex, FALSE);
	}
	return serial;
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

/* adds SKI (from the certificate's own key) and, if @issuer_key_id, AKI */
static gboolean
fst_ca_add_key_ids(X509 *cert, const ASN1_OCTET_STRING *issuer_key_id, GError **error)
{
	g_autoptr(ASN1_OCTET_STRING) ski = fst_ca_key_id(cert, error);

	if (ski == NULL)
		return FALSE;
	if (X509_add1_ext_i2d(cert, NID_subject_key_identifier, ski, 0, X509V3_ADD_REPLACE) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add subjectKeyIdentifier");
		return FALSE;
	}
	if (issuer_key_id != NULL) {
		g_autoptr(AUTHORITY_KEYID) akid = AUTHORITY_KEYID_new();
		if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_dup(issuer_key_id)) == NULL ||
		    X509_add1_ext_i2d(
		        cert, NID_authority_key_identifier, akid, 0, X509V3_ADD_REPLACE) != 1) {
			fst_error_set_openssl(
			    error, FST_ERROR_INTERNAL, "cannot add authorityKeyIdentifier");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
fst_ca_add_basic_constraints(X509 *cert, gboolean ca, glong pathlen, GError **error)
{
	g_autoptr(BASIC_CONSTRAINTS) bc = BASIC_CONSTRAINTS_new();

	if (bc == NULL)
		goto fail;
	bc->ca = ca ? 0xff : 0;
	if (ca && pathlen >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (bc->pathlen == NULL || ASN1_INTEGER_set(bc->pathlen, pathlen) != 1)
			goto fail;
	}
	if (X509_add1_ext_i2d(cert, NID_basic_constraints, bc, 1, X509V3_ADD_REPLACE) != 1)
		goto fail;
	return TRUE;
fail:
	fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add basicConstraints");
	return FALSE;
}

/* @bits: KU bit numbers, e.g. 0 digitalSignature, 2 keyEncipherment, 5 keyCertSign, 6 cRLSign */
static gboolean
fst_ca_add_key_usage(X509 *cert, const gint *bits, guint n_bits, GError **error)
{
	g_autoptr(ASN1_BIT_STRING) ku = ASN1_BIT_STRING_new();

	if (ku == NULL)
		goto fail;
	for (guint i = 0; i < n_bits; i++) {
		if (ASN1_BIT_STRING_set_bit(ku, bits[i], 1) != 1)
			goto fail;
	}
	if (X509_add1_ext_i2d(cert, NID_key_usage, ku, 1, X509V3_ADD_REPLACE) != 1)
		goto fail;
	return TRUE;
fail:
	fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add keyUsage");
	return FALSE;
}

static gboolean
fst_ca_add_eku_client_auth(X509 *cert, GError **error)
{
	g_autoptr(EXTENDED_KEY_USAGE) eku = sk_ASN1_OBJECT_new_null();
	ASN1_OBJECT *obj = OBJ_nid2obj(NID_client_auth);

	if (eku == NULL || obj == NULL || sk_ASN1_OBJECT_push(eku, obj) <= 0 ||
	    X509_add1_ext_i2d(cert, NID_ext_key_usage, eku, 0, X509V3_ADD_REPLACE) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add extendedKeyUsage");
		return FALSE;
	}
	return TRUE;
}

static X509_NAME *
fst_ca_build_name(const gchar *organization, const gchar *cn, GError **error)
{
	g_autoptr(X509_NAME) name = X509_NAME_new();

	if (name == NULL ||
	    X509_NAME_add_entry_by_NID(name,
	                               NID_organizationName,
	                               MBSTRING_UTF8,
	                               (const guint8 *)organization,
	                               -1,
	                               -1,
	                               0) != 1 ||
	    X509_NAME_add_entry_by_NID(
	        name, NID_commonName, MBSTRING_UTF8, (const guint8 *)cn, -1, -1, 0) != 1) {
		fst_error_set_openssl(error,
		                      FST_ERROR_INVALID_DATA,
		                      "cannot build the subject O=%s, CN=%s",
		                      organization,
		                      cn);
		return NULL;
	}
	return g_steal_pointer(&name);
}

/* sets notBefore/notAfter as unix seconds */
static gboolean
fst_ca_set_validity(X509 *cert, gint64 not_before, gint64 not_after, GError **error)
{
	if (ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot set the validity");
		return FALSE;
	}
	return TRUE;
}

/* now + @years calendar years, so a "10 year" CA covers 10 * 365 days plus leap days */
static gint64
fst_ca_add_years(gint64 now, gint years)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);
	g_autoptr(GDateTime) end = g_date_time_add_years(dt, years);
	return g_date_time_to_unix(end);
}

static X509 *
fst_ca_make_ca_cert(EVP_PKEY *key,
                    const gchar *organization,
                    const gchar *cn,
                    X509 *issuer,
                    EVP_PKEY *issuer_key,
                    gint years,
                    GError **error)
{
	static const gint ku_bits[] = {5, 6}; /* keyCertSign, cRLSign */
	g_autoptr(X509) cert = X509_new();
	g_autoptr(X509_NAME) name = NULL;
	g_autoptr(ASN1_INTEGER) serial = NULL;
	g_autoptr(ASN1_OCTET_STRING) issuer_key_id = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	name = fst_ca_build_name(organization, cn, error);
	if (name == NULL)
		return NULL;
	serial = fst_ca_new_serial(NULL, error);
	if (serial == NULL)
		return NULL;
	if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(cert, serial) != 1 || X509_set_subject_name(cert, name) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name) !=
	        1 ||
	    X509_set_pubkey(cert, key) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot build the %s certificate", cn);
		return NULL;
	}
	if (!fst_ca_set_validity(
	        cert, now - FST_CA_CLOCK_SKEW_SECS, fst_ca_add_years(now, years), error))
		return NULL;
	if (!fst_ca_add_basic_constraints(cert, TRUE, issuer != NULL ? 0 : -1, error))
		return NULL;
	if (!fst_ca_add_key_usage(cert, ku_bits, G_N_ELEMENTS(ku_bits), error))
		return NULL;
	if (issuer != NULL) {
		issuer_key_id = fst_ca_key_id(issuer, error);
		if (issuer_key_id == NULL)
			return NULL;
	}
	if (!fst_ca_add_key_ids(cert, issuer_key_id, error))
		return NULL;
	if (X509_sign(cert, issuer_key, fst_ca_md_for_key(issuer_key)) <= 0) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot sign the %s certificate", cn);
		return NULL;
	}
	return g_steal_pointer(&cert);
}

/* writes the key as encrypted PKCS#8 to a 0600 file; the PEM never exists in clear */
static gboolean
fst_ca_write_key(EVP_PKEY *key, const gchar *path, const FstSecret *passphrase, GError **error)
{
	/* a secure-heap memory BIO wipes its buffer when freed */
	g_autoptr(BIO) bio = BIO_new(BIO_s_secmem());
	BUF_MEM *mem = NULL;
	gsize pass_len = 0;
	const guint8 *pass = fst_secret_get_data(passphrase, &pass_len);
	gboolean ok;

	if (bio == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(
	        bio, key, EVP_aes_256_cbc(), (const char *)pass, (int)pass_len, NULL, NULL) != 1 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot encrypt the key for %s", path);
		return FALSE;
	}
	ok = fst_file_set_contents_private(path, (const guint8 *)mem->data, mem->length, error);
	OPENSSL_cleanse(mem->data, mem->length);
	return ok;
}

static gboolean
fst_ca_write_cert(X509 *cert, const gchar *path, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1 || BIO_get_mem_ptr(bio, &mem) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode %s", path);
		return FALSE;
	}
	if (!g_file_set_contents(path, mem->data, (gssize)mem->length, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_create_demo_pki:
 * @dir: a directory, created mode 0700 if missing
 * @organization: the O of both CA subjects
 * @passphrase: encrypts both private keys (must not be empty)
 * @error: (nullable): return location
 *
 * Makes a two-level demo PKI: a root CA (25 years) and an issuing CA (20 years,
 * pathlen 0), both ECDSA P-256, written as `root-ca.pem`, `root-ca.key`,
 * `issuing-ca.pem` and `issuing-ca.key` in @dir. The keys are encrypted
 * PKCS#8 (AES-256-CBC, PBKDF2-HMAC-SHA256) in files created mode 0600. Existing
 * files are not overwritten: %FST_ERROR_CONFIG.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_create_demo_pki(const gchar *dir,
                       const gchar *organization,
                       const FstSecret *passphrase,
                       GError **error)
{
	static const gchar *names[] = {
	    "root-ca.pem", "root-ca.key", "issuing-ca.pem", "issuing-ca.key"};
	g_autoptr(EVP_PKEY) root_key = NULL;
	g_autoptr(EVP_PKEY) issuing_key = NULL;
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) issuing = NULL;
	g_autofree gchar *root_cn = NULL;
	g_autofree gchar *issuing_cn = NULL;
	g_autofree gchar *path_root = g_build_filename(dir, "root-ca.pem", NULL);
	g_autofree gchar *path_root_key = g_build_filename(dir, "root-ca.key", NULL);
	g_autofree gchar *path_issuing = g_build_filename(dir, "issuing-ca.pem", NULL);
	g_autofree gchar *path_issuing_key = g_build_filename(dir, "issuing-ca.key", NULL);

	g_return_val_if_fail(dir != NULL, FALSE);
	g_return_val_if_fail(organization != NULL, FALSE);
	g_return_val_if_fail(passphrase != NULL, FALSE);

	if (fst_secret_get_len(passphrase) == 0) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_CONFIG,
		                    "the CA passphrase is empty: the CA keys must be encrypted");
		return FALSE;
	}
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create the CA directory %s: %s",
		            dir,
		            g_strerror(errno));
		return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *path = g_build_filename(dir, names[i], NULL);
		if (g_file_test(path, G_FILE_TEST_EXISTS)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s already exists: remove the old PKI or choose another "
			            "directory",
			            path);
			return FALSE;
		}
	}

	root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	issuing_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (root_key == NULL || issuing_key == NULL) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot generate the CA keys");
		return FALSE;
	}
	root_cn = g_strdup_printf("%s Root CA", organization);
	issuing_cn = g_strdup_printf("%s Issuing CA", organization);
	root = fst_ca_make_ca_cert(
	    root_key, organization, root_cn, NULL, root_key, FST_CA_ROOT_YEARS, error);
	if (root == NULL)
		return FALSE;
	issuing = fst_ca_make_ca_cert(
	    issuing_key, organization, issuing_cn, root, root_key, FST_CA_ISSUING_YEARS, error);
	if (issuing == NULL)
		return FALSE;

	/* keys first: a directory with certificates but no keys is the worse half-state */
	if (!fst_ca_write_key(root_key, path_root_key, passphrase, error))
		return FALSE;
	if (!fst_ca_write_key(issuing_key, path_issuing_key, passphrase, error))
		return FALSE;
	if (!fst_ca_write_cert(root, path_root, error))
		return FALSE;
	if (!fst_ca_write_cert(issuing, path_issuing, error))
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
	self->md = fst_ca_md_for_key(self->key);
	self->not_after = fst_ca_asn1_time_to_unix(X509_get0_notAfter(self->cert));
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
 * Copies the CSR's SubjectPublicKeyInfo into the certificate as it is.
 * X509_set_pubkey() would encode the EVP_PKEY again and decode the result,
 * which in OpenSSL 3.0 costs more than signing the certificate.
 */
static gboolean
fst_ca_copy_pubkey(X509 *cert, X509_REQ *req)
{
	X509_PUBKEY *from = X509_REQ_get_X509_PUBKEY(req);
	X509_PUBKEY *to = X509_get_X509_PUBKEY(cert);
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *algor = NULL;
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	const guint8 *pk = NULL;
	void *pval_copy = NULL;
	guint8 *pk_copy;
	int pk_len = 0;
	int ptype = V_ASN1_UNDEF;

	if (from == NULL || to == NULL ||
	    X509_PUBKEY_get0_param(&alg, &pk, &pk_len, &algor, from) != 1 || pk_len <= 0)
		return FALSE;
	X509_ALGOR_get0(&obj, &ptype, &pval, algor);
	switch (ptype) {
	case V_ASN1_OBJECT:
		/* named curve */
		pval_copy = OBJ_dup(pval);
		if (pval_copy == NULL)
			return FALSE;
		break;
	case V_ASN1_NULL:
	case V_ASN1_UNDEF:
		/* RSA */
		break;
	default:
		/* explicit parameters: refused before we get here */
		return FALSE;
	}
	pk_copy = OPENSSL_memdup(pk, (gsize)pk_len);
	if (pk_copy == NULL ||
	    X509_PUBKEY_set0_param(to, OBJ_dup(obj), ptype, pval_copy, pk_copy, pk_len) != 1) {
		ASN1_OBJECT_free(pval_copy);
		OPENSSL_free(pk_copy);
		return FALSE;
	}
	return TRUE;
}

/* maps a CSR key to an FstKeyType; the reason is set on refusal */
static FstKeyType
fst_ca_key_type_for_pkey(EVP_PKEY *pkey, gchar **reason)
{
	gchar group[64] = {0};
	int bits = EVP_PKEY_get_bits(pkey);

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		if (bits == 2048)
			return FST_KEY_TYPE_RSA_2048;
		if (bits == 3072)
			return FST_KEY_TYPE_RSA_3072;
		if (bits == 4096)
			return FST_KEY_TYPE_RSA_4096;
		*reason = g_strdup_printf(
		    "an RSA-%d key (RSA keys must be 2048, 3072 or 4096 bits)", bits);
		return FST_KEY_TYPE_NONE;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(
		        pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
			g_strlcpy(group, "an explicit curve", sizeof(group));
		if (g_strcmp0(group, "prime256v1") == 0)
			return FST_KEY_TYPE_EC_P256;
		if (g_strcmp0(group, "secp384r1") == 0)
			return FST_KEY_TYPE_EC_P384;
		if (g_strcmp0(group, "secp521r1") == 0)
			return FST_KEY_TYPE_EC_P521;
		*reason = g_strdup_printf("an EC key on %s (EC keys must be on P-256, P-384 or "
		                          "P-521)",
		                          group);
		return FST_KEY_TYPE_NONE;
	default:
		break;
	}
	*reason = g_strdup_printf(
	    "a %s key (only RSA and EC keys are supported)",
	    EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "unknown");
	return FST_KEY_TYPE_NONE;
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
 * digitalSignature (+ keyEncipherment for RSA keys, critical), extKeyUsage
 * clientAuth, SKI and AKI.
 *
 * Fails with %FST_ERROR_INVALID_DATA for a malformed or oversized CSR or a CN
 * that is not a thing name, %FST_ERROR_VERIFY_FAILED if the CSR signature is
 * wrong, %FST_ERROR_NOT_SUPPORTED for a key type that is unsupported or that
 * the profile does not allow, and %FST_ERROR_CA_UNAVAILABLE if the CA has
 * expired or the certificate would outlive it.
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
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(X509_NAME) subject = NULL;
	g_autoptr(ASN1_INTEGER) serial = NULL;
	g_autoptr(FstIssuedCert) issued = g_new0(FstIssuedCert, 1);
	g_autoptr(BIO) bio = NULL;
	g_autofree gchar *cn = NULL;
	g_autofree gchar *reason = NULL;
	g_autofree gchar *serial_hex = NULL;
	const gchar *uid = info->uid != NULL ? info->uid : "(no uid)";
	const guint8 *data;
	const guint8 *p;
	gsize len = 0;
	EVP_PKEY *pkey;
	FstKeyType key_type;
	gint ku_bits[2] = {0, 2}; /* digitalSignature, keyEncipherment */
	guint8 *der = NULL;
	int der_len;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after;
	BUF_MEM *mem = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(profile != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);
	g_return_val_if_fail(csr_der != NULL, NULL);

	/* parse, once, with a hard size cap: the bytes come from the device */
	data = g_bytes_get_data(csr_der, &len);
	if (len == 0 || len > FST_CA_MAX_CSR_SIZE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent a CSR of %" G_GSIZE_FORMAT " bytes (allowed: 1 to %u)",
		            uid,
		            len,
		            (guint)FST_CA_MAX_CSR_SIZE);
		return NULL;
	}
	p = data;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req == NULL || p != data + len) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent a malformed CSR (%" G_GSIZE_FORMAT " bytes, not one "
		            "DER PKCS#10 request): retry, or check the device firmware",
		            uid,
		            len);
		return NULL;
	}
	pkey = X509_REQ_get0_pubkey(req);
	if (pkey == NULL) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s sent a CSR whose public key cannot be decoded",
		            uid);
		return NULL;
	}

	/* refuse unsupported keys before doing any cryptography with them */
	key_type = fst_ca_key_type_for_pkey(pkey, &reason);
	if (key_type == FST_KEY_TYPE_NONE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s sent a CSR for %s: refused; the device must "
		            "generate one of the profile's key types",
		            uid,
		            reason);
		return NULL;
	}
	if ((fst_profile_get_allowed_key_types(profile) & key_type) == 0) {
		g_autofree gchar *allowed =
		    fst_key_types_to_string(fst_profile_get_allowed_key_types(profile));
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s sent a CSR for an %s key but profile %s allows only "
		            "%s: check the device firmware or choose another profile",
		            uid,
		            fst_key_type_to_string(key_type),
		            fst_profile_get_name(profile),
		            allowed);
		return NULL;
	}

	/* proof of possession */
	if (X509_REQ_verify(req, pkey) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "the CSR signature of device %s does not verify: the device does not "
		            "prove it holds the key; retry, or check the device",
		            uid);
		return NULL;
	}

	/* subject from the profile, never from the CSR */
	cn = fst_profile_render_subject_cn(profile, info, error);
	if (cn == NULL)
		return NULL;
	subject = fst_ca_build_name(fst_profile_get_subject_organization(profile), cn, error);
	if (subject == NULL)
		return NULL;

	/* validity */
	not_after = now + (gint64)fst_profile_get_validity_days(profile) * 86400;
	if (now >= self->not_after) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the issuing CA %s has expired: renew it",
		            self->path);
		return NULL;
	}
	if (not_after > self->not_after) {
		g_autoptr(GDateTime) dt_cert = g_date_time_new_from_unix_utc(not_after);
		g_autoptr(GDateTime) dt_ca = g_date_time_new_from_unix_utc(self->not_after);
		g_autofree gchar *str_cert = g_date_time_format_iso8601(dt_cert);
		g_autofree gchar *str_ca = g_date_time_format_iso8601(dt_ca);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "a certificate for device %s would end %s, after the issuing CA (%s): "
		            "shorten [validity] days in profile %s or renew the issuing CA",
		            uid,
		            str_cert,
		            str_ca,
		            fst_profile_get_name(profile));
		return NULL;
	}

	/* build */
	serial = fst_ca_new_serial(&serial_hex, error);
	if (serial == NULL)
		return NULL;
	cert = X509_new();
	if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(cert, serial) != 1 || X509_set_subject_name(cert, subject) != 1 ||
	    X509_set_issuer_name(cert, self->issuer_name) != 1 || !fst_ca_copy_pubkey(cert, req)) {
		fst_error_set_openssl(
		    error, FST_ERROR_INTERNAL, "cannot build the certificate for device %s", uid);
		return NULL;
	}
	if (!fst_ca_set_validity(cert, now - FST_CA_CLOCK_SKEW_SECS, not_after, error))
		return NULL;
	if (!fst_ca_add_basic_constraints(cert, FALSE, -1, error))
		return NULL;
	if (!fst_ca_add_key_usage(
	        cert, ku_bits, EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ? 2 : 1, error))
		return NULL;
	if (!fst_ca_add_eku_client_auth(cert, error))
		return NULL;
	if (!fst_ca_add_key_ids(cert, self->key_id, error))
		return NULL;
	if (X509_sign(cert, self->key, self->md) <= 0) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "cannot sign the certificate for device %s",
		                      uid);
		return NULL;
	}

	/* record: the DER is encoded once, at signing, and only read here */
	der_len = i2d_X509(cert, &der);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode the certificate");
		return NULL;
	}
	issued->der = g_bytes_new_with_free_func(der, (gsize)der_len, fst_ca_openssl_free, der);
	issued->aws_cert_id = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, issued->der);
	issued->serial_hex = g_steal_pointer(&serial_hex);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || X509_NAME_print_ex(bio, subject, 0, XN_FLAG_RFC2253) < 0 ||
	    BIO_get_mem_ptr(bio, &mem) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot print the subject");
		return NULL;
	}
	issued->subject = g_strndup(mem->data, mem->length);
	issued->key_type = g_strdup(fst_key_type_to_string(key_type));
	issued->not_before = now - FST_CA_CLOCK_SKEW_SECS;
	issued->not_after = not_after;
	g_debug(
	    "issued certificate %s for device %s (%s)", issued->serial_hex, uid, issued->subject);
	return g_steal_pointer(&issued);
}
