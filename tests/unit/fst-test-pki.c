/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstTestPki"

#include "fst-test-pki.h"

#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-openssl-common.h"
#include "fst-secret.h"

/* "rsa-2048", "ec-p256", "dsa-2048", ... */
EVP_PKEY *
fst_test_pki_keygen(const gchar *kind)
{
	if (g_str_has_prefix(kind, "rsa-"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(kind + 4));
	if (g_strcmp0(kind, "ec-p256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (g_strcmp0(kind, "ec-p384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (g_strcmp0(kind, "ec-p521") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	if (g_strcmp0(kind, "ec-secp256k1") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	if (g_strcmp0(kind, "ed25519") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (g_strcmp0(kind, "dsa-2048") == 0) {
		g_autoptr(EVP_PKEY_CTX) pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
		g_autoptr(EVP_PKEY_CTX) kctx = NULL;
		g_autoptr(EVP_PKEY) params = NULL;
		EVP_PKEY *key = NULL;
		g_assert_nonnull(pctx);
		g_assert_cmpint(EVP_PKEY_paramgen_init(pctx), ==, 1);
		g_assert_cmpint(EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, 2048), ==, 1);
		g_assert_cmpint(EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pctx, 256), ==, 1);
		g_assert_cmpint(EVP_PKEY_paramgen(pctx, &params), ==, 1);
		kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
		g_assert_cmpint(EVP_PKEY_keygen_init(kctx), ==, 1);
		g_assert_cmpint(EVP_PKEY_keygen(kctx, &key), ==, 1);
		return key;
	}
	g_assert_not_reached();
	return NULL;
}

/* the FstKeyType flag of a device key kind */
guint
fst_test_pki_key_type(const gchar *kind)
{
	return fst_key_type_from_string(kind);
}

/* a board that makes its own key (@key_types: FstKeyType flags, 0 for none)
 * and its CSR, firmware 1.0.0; a test sets what else it needs */
FstDeviceInfo *
fst_test_pki_device(const gchar *uid, const gchar *model, guint key_types)
{
	FstDeviceInfo *info = g_new0(FstDeviceInfo, 1);
	info->uid = g_strdup(uid);
	info->model = g_strdup(model);
	info->firmware = g_strdup("1.0.0");
	info->key_types = key_types;
	info->can_csr = TRUE;
	return info;
}

/* a DER CSR whose subject a rogue device chose; @md_name NULL for SHA-256 */
GBytes *
fst_test_pki_csr(EVP_PKEY *key, const gchar *md_name)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	X509_NAME *name = X509_REQ_get_subject_name(req);
	const EVP_MD *md = md_name != NULL ? EVP_get_digestbyname(md_name) : EVP_sha256();
	guint8 *der = NULL;
	int der_len;
	GBytes *bytes;

	g_assert_cmpint(X509_REQ_set_version(req, 0), ==, 1);
	g_assert_cmpint(X509_NAME_add_entry_by_txt(
	                    name, "CN", MBSTRING_ASC, (const guint8 *)"evil-from-csr", -1, -1, 0),
	                ==,
	                1);
	g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
	g_assert_cmpint(X509_REQ_sign(req, key, md), >, 0);
	der_len = i2d_X509_REQ(req, &der);
	g_assert_cmpint(der_len, >, 0);
	bytes = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return bytes;
}

/* the DER SubjectPublicKeyInfo of @key */
GBytes *
fst_test_pki_spki(EVP_PKEY *key)
{
	guint8 *der = NULL;
	int der_len = i2d_PUBKEY(key, &der);
	GBytes *bytes;
	g_assert_cmpint(der_len, >, 0);
	bytes = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return bytes;
}

static void
fst_test_pki_add_ext(X509 *cert, X509 *issuer, int nid, const gchar *value)
{
	X509V3_CTX v3 = {0};
	g_autoptr(X509_EXTENSION) ext = NULL;
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	g_assert_nonnull(ext);
	g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
}

gboolean
fst_test_pki_write_key(const gchar *path, EVP_PKEY *key)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	g_assert_cmpint(PEM_write_bio_PKCS8PrivateKey(bio,
	                                              key,
	                                              EVP_aes_256_cbc(),
	                                              FST_TEST_PKI_PASSPHRASE,
	                                              (int)strlen(FST_TEST_PKI_PASSPHRASE),
	                                              NULL,
	                                              NULL),
	                ==,
	                1);
	BIO_get_mem_ptr(bio, &mem);
	return fst_file_set_contents_private(path, (const guint8 *)mem->data, mem->length, NULL);
}

/*
 * A CA certificate for @key, self-signed when @issuer is NULL, written with its
 * encrypted key as DIR/NAME.pem and DIR/NAME.key; the digest follows the key
 * (as the station does).
 */
X509 *
fst_test_pki_make_ca(const gchar *dir,
                     const gchar *name,
                     EVP_PKEY *key,
                     X509 *issuer,
                     EVP_PKEY *issuer_key,
                     gint days)
{
	g_autoptr(X509) cert = X509_new();
	g_autoptr(BIO) bio = NULL;
	g_autofree gchar *cert_path = g_strdup_printf("%s/%s.pem", dir, name);
	g_autofree gchar *key_path = g_strdup_printf("%s/%s.key", dir, name);
	X509_NAME *subject = X509_get_subject_name(cert);
	EVP_PKEY *signer = issuer_key != NULL ? issuer_key : key;
	const EVP_MD *md = EVP_sha256();
	gchar group[32] = {0};

	if (EVP_PKEY_get_utf8_string_param(
	        signer, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1) {
		if (g_strcmp0(group, "secp384r1") == 0)
			md = EVP_sha384();
		else if (g_strcmp0(group, "secp521r1") == 0)
			md = EVP_sha512();
	}
	g_assert_cmpint(X509_set_version(cert, X509_VERSION_3), ==, 1);
	g_assert_cmpint(
	    ASN1_INTEGER_set(X509_get_serialNumber(cert), g_random_int() & 0x7fffffff), ==, 1);
	X509_NAME_add_entry_by_txt(
	    subject, "O", MBSTRING_ASC, (const guint8 *)"Fleet Test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const guint8 *)name, -1, -1, 0);
	g_assert_cmpint(
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subject),
	    ==,
	    1);
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
	g_assert_nonnull(X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL));
	g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
	fst_test_pki_add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
	fst_test_pki_add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	fst_test_pki_add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		fst_test_pki_add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
	g_assert_cmpint(X509_sign(cert, signer, md), >, 0);

	bio = BIO_new_file(cert_path, "w");
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
	g_assert_true(fst_test_pki_write_key(key_path, key));
	return g_steal_pointer(&cert);
}

/* loads DIR/NAME.pem with its key, and DIR/CHAIN_NAME.pem above it if not NULL */
FstCa *
fst_test_pki_load_ca(const gchar *dir, const gchar *name, const gchar *chain_name)
{
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)FST_TEST_PKI_PASSPHRASE,
	                                           strlen(FST_TEST_PKI_PASSPHRASE));
	g_autofree gchar *cert_path = g_strdup_printf("%s/%s.pem", dir, name);
	g_autofree gchar *key_path = g_strdup_printf("%s/%s.key", dir, name);
	g_autofree gchar *chain_path =
	    chain_name != NULL ? g_strdup_printf("%s/%s.pem", dir, chain_name) : NULL;
	g_autoptr(GError) error = NULL;
	FstCa *ca = fst_ca_load(cert_path, key_path, chain_path, pass, &error);
	g_assert_no_error(error);
	return ca;
}

/* a profile accepting every key type, with @extra lines appended to its groups */
FstProfile *
fst_test_pki_profile(const gchar *dir, const gchar *name, const gchar *extra)
{
	g_autofree gchar *path = g_strdup_printf("%s/%s.profile", dir, name);
	g_autofree gchar *text =
	    g_strdup_printf("[profile]\n"
	                    "name=%s\n"
	                    "models=test-*\n"
	                    "key-types=ec-p256;ec-p384;ec-p521;rsa-2048;rsa-3072;rsa-4096\n"
	                    "[subject]\n"
	                    "cn={model}-{uid}\n"
	                    "o=Fleet Test\n"
	                    "%s\n",
	                    name,
	                    extra != NULL ? extra : "[validity]\ndays=365\n");
	g_autoptr(GError) error = NULL;
	FstProfile *profile;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	profile = fst_profile_load(path, &error);
	g_assert_no_error(error);
	return profile;
}

gboolean
fst_test_pki_write_pem(const gchar *path, GBytes *der, const gchar *label)
{
	g_autofree gchar *block =
	    fst_crypto_pem_encode(label, g_bytes_get_data(der, NULL), g_bytes_get_size(der), NULL);
	g_autoptr(GString) pem = g_string_new(NULL);
	g_autofree gchar *old = NULL;

	g_file_get_contents(path, &old, NULL, NULL);
	if (old != NULL)
		g_string_append(pem, old);
	g_string_append(pem, block);
	return g_file_set_contents(path, pem->str, (gssize)pem->len, NULL);
}

void
fst_test_pki_rmrf(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			fst_test_pki_rmrf(child);
		}
	}
	g_remove(path);
}
