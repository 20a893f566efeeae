/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstCaTest"

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>

#include "fst-aws-issuer.h"
#include "fst-ca.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PBE2PARAM, PBE2PARAM_free)

#define FST_TEST_PASSPHRASE "correct horse battery staple"

/* one demo PKI shared by the tests that only read it */
static gchar *fst_test_pki_dir = NULL;
static FstCa *fst_test_ca = NULL;
static X509 *fst_test_root = NULL;
static FstProfile *fst_test_profile_ecc = NULL;
static FstProfile *fst_test_profile_rsa = NULL;

static FstSecret *
fst_test_passphrase(void)
{
	return fst_secret_new((const guint8 *)FST_TEST_PASSPHRASE, strlen(FST_TEST_PASSPHRASE));
}

static const gchar *
fst_test_templates_dir(void)
{
	const gchar *dir = g_getenv("FST_TEMPLATES_DIR");
	return dir != NULL ? dir : FST_TEST_TEMPLATES_DIR;
}

/* a board that validates servers with ECDSA P-256 and RSA */
static FstDeviceInfo *
fst_test_device_info(const gchar *uid, const gchar *model, guint key_types)
{
	FstDeviceInfo *info = fst_test_pki_device(uid, model, key_types);
	info->validation = FST_VALIDATION_ECDSA_P256 | FST_VALIDATION_RSA_PKCS1;
	return info;
}

static EVP_PKEY *
fst_test_keygen(const gchar *kind)
{
	if (g_strcmp0(kind, "rsa-2048") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (g_strcmp0(kind, "ec-p384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* a DER CSR whose subject a rogue device chose */
static GBytes *
fst_test_make_csr(EVP_PKEY *key)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	X509_NAME *name = X509_REQ_get_subject_name(req);
	guint8 *der = NULL;
	int der_len;
	GBytes *bytes;

	g_assert_cmpint(X509_REQ_set_version(req, 0), ==, 1);
	g_assert_cmpint(X509_NAME_add_entry_by_txt(
	                    name, "CN", MBSTRING_ASC, (const guint8 *)"evil-from-csr", -1, -1, 0),
	                ==,
	                1);
	g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
	g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
	der_len = i2d_X509_REQ(req, &der);
	g_assert_cmpint(der_len, >, 0);
	bytes = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return bytes;
}

static GBytes *
fst_test_load_data(const gchar *name)
{
	g_autofree gchar *path = g_build_filename(FST_TEST_DATA_DIR, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

static X509 *
fst_test_parse_cert(GBytes *der)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(der, &len);
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	g_assert_nonnull(cert);
	return cert;
}

static X509 *
fst_test_read_pem(const gchar *path)
{
	g_autoptr(BIO) bio = BIO_new_file(path, "r");
	X509 *cert;
	g_assert_nonnull(bio);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_assert_nonnull(cert);
	return cert;
}

/* verifies @leaf against root (trusted) + issuing (untrusted) for clientAuth */
static int
fst_test_verify_leaf(X509 *leaf)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int rc;

	X509_STORE_add_cert(store, fst_test_root);
	sk_X509_push(untrusted, fst_ca_get_cert(fst_test_ca));
	g_assert_cmpint(X509_STORE_CTX_init(ctx, store, leaf, untrusted), ==, 1);
	g_assert_cmpint(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT), ==, 1);
	rc = X509_verify_cert(ctx);
	if (rc != 1)
		g_test_message("verify: %s",
		               X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	sk_X509_free(untrusted);
	return rc;
}

static void
fst_test_rmrf(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			fst_test_rmrf(child);
		}
	}
	g_remove(path);
}

static void
fst_test_demo_pki_files(void)
{
	static const gchar *keys[] = {"root-ca.key", "issuing-ca.key"};
	g_autofree gchar *issuing_path = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	g_autoptr(X509) issuing = fst_test_read_pem(issuing_path);
	const BASIC_CONSTRAINTS *bc;
	const ASN1_INTEGER *serial;
	int crit = -1;
	int days = 0, secs = 0;
	BASIC_CONSTRAINTS *bc_owned;

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree gchar *path = g_build_filename(fst_test_pki_dir, keys[i], NULL);
		g_autofree gchar *contents = NULL;
		struct stat st;
		g_assert_cmpint(g_stat(path, &st), ==, 0);
		g_assert_cmpint(st.st_mode & 0777, ==, 0600);
		g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
		g_assert_true(g_str_has_prefix(contents, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
		g_assert_null(strstr(contents, "BEGIN PRIVATE KEY"));
		g_assert_null(strstr(contents, "BEGIN EC PRIVATE KEY"));
		/* made by fst_ca_store_create(): scrypt + AES-256-CBC, not PBKDF2 */
		{
			g_autoptr(BIO) bio = BIO_new_mem_buf(contents, -1);
			X509_SIG *p8 = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL);
			const X509_ALGOR *alg = NULL;
			g_autoptr(PBE2PARAM) pbe2 = NULL;
			g_assert_nonnull(p8);
			X509_SIG_get0(p8, &alg, NULL);
			g_assert_cmpint(OBJ_obj2nid(alg->algorithm), ==, NID_pbes2);
			pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
			g_assert_nonnull(pbe2);
			g_assert_cmpint(OBJ_obj2nid(pbe2->keyfunc->algorithm), ==, NID_id_scrypt);
			g_assert_cmpint(
			    OBJ_obj2nid(pbe2->encryption->algorithm), ==, NID_aes_256_cbc);
			X509_SIG_free(p8);
		}
	}
	/* both keys P-256 */
	g_assert_cmpint(EVP_PKEY_get_bits(X509_get0_pubkey(issuing)), ==, 256);
	g_assert_cmpint(EVP_PKEY_get_bits(X509_get0_pubkey(fst_test_root)), ==, 256);
	g_assert_cmpint(EVP_PKEY_get_base_id(X509_get0_pubkey(fst_test_root)), ==, EVP_PKEY_EC);

	/* root: self-signed CA, 25 years; issuing: pathlen 0, signed by root, 20 years */
	g_assert_cmpint(X509_self_signed(fst_test_root, 1), ==, 1);
	g_assert_cmpint(X509_check_issued(fst_test_root, issuing), ==, X509_V_OK);
	g_assert_cmpint(X509_get_version(issuing), ==, X509_VERSION_3);
	bc_owned = X509_get_ext_d2i(issuing, NID_basic_constraints, &crit, NULL);
	bc = bc_owned;
	g_assert_nonnull(bc);
	g_assert_cmpint(crit, ==, 1);
	g_assert_true(bc->ca);
	g_assert_cmpint(ASN1_INTEGER_get(bc->pathlen), ==, 0);
	BASIC_CONSTRAINTS_free(bc_owned);
	g_assert_true(X509_get_key_usage(issuing) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
	g_assert_cmpint(X509_get_ext_by_NID(issuing, NID_key_usage, -1), >=, 0);
	g_assert_true(X509_EXTENSION_get_critical(
	    X509_get_ext(issuing, X509_get_ext_by_NID(issuing, NID_key_usage, -1))));
	g_assert_nonnull(X509_get0_subject_key_id(issuing));
	g_assert_nonnull(X509_get0_authority_key_id(issuing));
	g_assert_cmpint(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(issuing),
	                                      X509_get0_subject_key_id(fst_test_root)),
	                ==,
	                0);
	serial = X509_get0_serialNumber(issuing);
	g_assert_cmpint(ASN1_STRING_length(serial), ==, 20);
	g_assert_cmpint(ASN1_STRING_type(serial), ==, V_ASN1_INTEGER);
	g_assert_cmpint(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(issuing), X509_get0_notAfter(issuing)),
	    ==,
	    1);
	g_assert_cmpint(days, >=, 7304);
	g_assert_cmpint(days, <=, 7306);
	g_assert_cmpint(ASN1_TIME_diff(&days,
	                               &secs,
	                               X509_get0_notBefore(fst_test_root),
	                               X509_get0_notAfter(fst_test_root)),
	                ==,
	                1);
	g_assert_cmpint(days, >=, 9131);
	g_assert_cmpint(days, <=, 9133);
	{
		g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
		BUF_MEM *mem = NULL;
		g_autofree gchar *str = NULL;
		X509_NAME_print_ex(bio, X509_get_subject_name(issuing), 0, XN_FLAG_RFC2253);
		BIO_get_mem_ptr(bio, &mem);
		str = g_strndup(mem->data, mem->length);
		g_assert_cmpstr(str, ==, "CN=Fleet Test Issuing CA,O=Fleet Test");
	}
}

static void
fst_test_demo_pki_refuses_overwrite(void)
{
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(fst_test_pki_dir, "root-ca.key", NULL);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;

	g_file_get_contents(path, &before, NULL, NULL);
	g_assert_false(fst_ca_create_demo_pki(fst_test_pki_dir, "Other", pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "already exists"));
	g_file_get_contents(path, &after, NULL, NULL);
	g_assert_cmpstr(before, ==, after);
}

/* the store takes openssl-style subjects: an organization with '/' cannot name a CA */
static void
fst_test_demo_pki_bad_organization(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *key = g_build_filename(dir, "root-ca.key", NULL);
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;

	g_assert_false(fst_ca_create_demo_pki(dir, "Acme/CN=Evil", pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "without '/'"));
	g_assert_false(g_file_test(key, G_FILE_TEST_EXISTS));
	fst_test_rmrf(dir);
}

static void
fst_test_demo_pki_empty_passphrase(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autoptr(FstSecret) pass = fst_secret_new(NULL, 0);
	g_autoptr(GError) error = NULL;

	g_assert_false(fst_ca_create_demo_pki(dir, "Fleet Test", pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	fst_test_rmrf(dir);
}

static void
fst_test_load_wrong_passphrase(void)
{
	g_autofree gchar *cert = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(fst_test_pki_dir, "issuing-ca.key", NULL);
	g_autofree gchar *expected = NULL;
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"wrong", 5);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = fst_ca_load(cert, key, NULL, pass, &error);

	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	expected = g_strdup_printf("cannot decrypt the issuing CA key %s: wrong passphrase?", key);
	g_assert_cmpstr(error->message, ==, expected);
	g_assert_cmpint(ERR_peek_error(), ==, 0);
}

static void
fst_test_load_key_readable(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *cert = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(fst_test_pki_dir, "issuing-ca.key", NULL);
	g_autofree gchar *copy = g_build_filename(dir, "issuing-ca.key", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;
	gsize len = 0;

	/* a CA key others can read is refused, as ssh refuses such keys */
	g_assert_true(g_file_get_contents(key, &contents, &len, NULL));
	g_assert_true(g_file_set_contents(copy, contents, (gssize)len, NULL));
	g_assert_cmpint(g_chmod(copy, 0644), ==, 0);
	ca = fst_ca_load(cert, copy, NULL, pass, &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "chmod 600"));
	fst_test_rmrf(dir);
}

static void
fst_test_load_key_mismatch(void)
{
	g_autofree gchar *cert = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(fst_test_pki_dir, "root-ca.key", NULL);
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = fst_ca_load(cert, key, NULL, pass, &error);

	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "does not belong"));
}

static void
fst_test_load_wrong_chain(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *other_root = g_build_filename(dir, "root-ca.pem", NULL);
	g_autofree gchar *cert = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(fst_test_pki_dir, "issuing-ca.key", NULL);
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;

	g_assert_true(fst_ca_create_demo_pki(dir, "Fleet Test", pass, NULL));
	ca = fst_ca_load(cert, key, other_root, pass, &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "does not chain"));
	fst_test_rmrf(dir);
}

/* a CA made here with a validity of our choosing, key encrypted like the real ones */
static void
fst_test_write_ca(const gchar *dir, gint64 not_before, gint64 not_after, gboolean ca)
{
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(X509) cert = X509_new();
	g_autoptr(BIO) kbio = BIO_new(BIO_s_mem());
	g_autoptr(BIO) cbio = BIO_new(BIO_s_mem());
	g_autoptr(ASN1_INTEGER) serial = ASN1_INTEGER_new();
	g_autofree gchar *cert_path = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *key_path = g_build_filename(dir, "ca.key", NULL);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_EXTENSION *ext;
	X509V3_CTX v3ctx;
	BUF_MEM *mem = NULL;

	ASN1_INTEGER_set(serial, 42);
	X509_set_version(cert, X509_VERSION_3);
	X509_set_serialNumber(cert, serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guint8 *)"Test CA", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509_set_pubkey(cert, key);
	ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before);
	ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after);
	X509V3_set_ctx(&v3ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	ext =
	    X509V3_EXT_conf_nid(NULL,
	                        &v3ctx,
	                        NID_key_usage,
	                        ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);

	PEM_write_bio_X509(cbio, cert);
	BIO_get_mem_ptr(cbio, &mem);
	g_assert_true(g_file_set_contents(cert_path, mem->data, (gssize)mem->length, NULL));
	PEM_write_bio_PKCS8PrivateKey(kbio,
	                              key,
	                              EVP_aes_256_cbc(),
	                              FST_TEST_PASSPHRASE,
	                              (int)strlen(FST_TEST_PASSPHRASE),
	                              NULL,
	                              NULL);
	BIO_get_mem_ptr(kbio, &mem);
	g_assert_true(
	    fst_file_set_contents_private(key_path, (const guint8 *)mem->data, mem->length, NULL));
}

static void
fst_test_load_expired(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(dir, "ca.key", NULL);
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	fst_test_write_ca(dir, now - 20 * 86400, now - 10 * 86400, TRUE);
	ca = fst_ca_load(cert, key, NULL, pass, &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "expired"));
	fst_test_rmrf(dir);
}

static void
fst_test_load_not_a_ca(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *key = g_build_filename(dir, "ca.key", NULL);
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	fst_test_write_ca(dir, now - 86400, now + 365 * 86400, FALSE);
	ca = fst_ca_load(cert, key, NULL, pass, &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "keyCertSign"));
	fst_test_rmrf(dir);
}

static void
fst_test_chain_der(void)
{
	g_autoptr(GPtrArray) chain = fst_ca_get_chain_der(fst_test_ca);
	g_autoptr(GBytes) der = fst_ca_get_cert_der(fst_test_ca);

	/* the self-signed root is not part of what the device stores */
	g_assert_cmpint(chain->len, ==, 1);
	g_assert_true(g_bytes_equal(g_ptr_array_index(chain, 0), der));
}

static void
fst_test_issue_verifies(void)
{
	static const gint expected_nids[] = {NID_basic_constraints,
	                                     NID_key_usage,
	                                     NID_ext_key_usage,
	                                     NID_subject_key_identifier,
	                                     NID_authority_key_identifier};
	g_autoptr(GBytes) csr = fst_test_load_data("p256.csr.der");
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("0001A2B3", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(BIGNUM) bn = NULL;
	g_autofree gchar *hex = NULL;
	g_autofree gchar *sha = NULL;
	g_autofree gchar *cn = NULL;
	EXTENDED_KEY_USAGE *eku;
	BASIC_CONSTRAINTS *bc;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	int crit = -1;
	int idx;

	issued = fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_ecc, info, csr, &error);
	g_assert_no_error(error);
	g_assert_nonnull(issued);
	cert = fst_test_parse_cert(issued->der);
	g_assert_cmpint(fst_test_verify_leaf(cert), ==, 1);

	/* the key is the CSR's */
	{
		const guint8 *p = g_bytes_get_data(csr, NULL);
		g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
		g_assert_nonnull(req);
		g_assert_cmpint(
		    EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(req)), ==, 1);
	}

	/* subject from the profile, not the CSR */
	g_assert_cmpstr(issued->subject, ==, "CN=devsim-ecc-0001A2B3,O=Fleetstation Demo");
	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(cert), NID_commonName, -1);
	cn = g_strndup((const gchar *)ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(
	                   X509_NAME_get_entry(X509_get_subject_name(cert), idx))),
	               32);
	g_assert_cmpstr(cn, ==, "devsim-ecc-0001A2B3");
	g_assert_cmpint(X509_NAME_entry_count(X509_get_subject_name(cert)), ==, 2);
	g_assert_cmpint(X509_NAME_cmp(X509_get_issuer_name(cert),
	                              X509_get_subject_name(fst_ca_get_cert(fst_test_ca))),
	                ==,
	                0);

	/* exactly the five extensions, with the right criticality */
	g_assert_cmpint(X509_get_ext_count(cert), ==, G_N_ELEMENTS(expected_nids));
	for (guint i = 0; i < G_N_ELEMENTS(expected_nids); i++) {
		idx = X509_get_ext_by_NID(cert, expected_nids[i], -1);
		g_assert_cmpint(idx, >=, 0);
		g_assert_cmpint(X509_EXTENSION_get_critical(X509_get_ext(cert, idx)),
		                ==,
		                expected_nids[i] == NID_basic_constraints ||
		                    expected_nids[i] == NID_key_usage);
	}
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	g_assert_nonnull(bc);
	g_assert_false(bc->ca);
	g_assert_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	g_assert_cmpuint(X509_get_key_usage(cert), ==, KU_DIGITAL_SIGNATURE);
	g_assert_cmpuint(X509_get_extended_key_usage(cert), ==, XKU_SSL_CLIENT);
	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	g_assert_cmpint(sk_ASN1_OBJECT_num(eku), ==, 1);
	g_assert_cmpint(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), ==, NID_client_auth);
	EXTENDED_KEY_USAGE_free(eku);
	g_assert_cmpint(
	    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
	                          X509_get0_subject_key_id(fst_ca_get_cert(fst_test_ca))),
	    ==,
	    0);
	g_assert_cmpint(ASN1_STRING_length(X509_get0_subject_key_id(cert)), ==, 20);
	g_assert_cmpint(X509_get_signature_nid(cert), ==, NID_ecdsa_with_SHA256);
	g_assert_cmpint(X509_get_version(cert), ==, X509_VERSION_3);

	/* serial: 20 bytes, positive, and what the record says */
	g_assert_cmpint(ASN1_STRING_length(X509_get0_serialNumber(cert)), ==, 20);
	g_assert_cmpint(ASN1_STRING_type(X509_get0_serialNumber(cert)), ==, V_ASN1_INTEGER);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	hex = BN_bn2hex(bn);
	g_assert_cmpstr(issued->serial_hex, ==, hex);
	OPENSSL_free(g_steal_pointer(&hex));
	g_assert_cmpint(strlen(issued->serial_hex), ==, 40);

	/* record */
	sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, issued->der);
	g_assert_cmpstr(issued->aws_cert_id, ==, sha);
	g_assert_cmpstr(issued->key_type, ==, "ec-p256");
	g_assert_cmpint(issued->not_before, <=, now - 290);
	g_assert_cmpint(issued->not_before, >=, now - 310);
	g_assert_cmpint(issued->not_after - issued->not_before, ==, 3650 * 86400 + 300);
	g_assert_cmpint(
	    ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), (time_t)issued->not_after), ==, 0);
	g_assert_cmpint(
	    ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), (time_t)issued->not_before), ==, 0);
}

static void
fst_test_issue_rsa(void)
{
	g_autoptr(GBytes) csr = fst_test_load_data("rsa2048.csr.der");
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("R-1", "devsim-rsa", FST_KEY_TYPE_RSA_2048);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(X509) cert = NULL;

	issued = fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_rsa, info, csr, &error);
	g_assert_no_error(error);
	cert = fst_test_parse_cert(issued->der);
	g_assert_cmpint(fst_test_verify_leaf(cert), ==, 1);
	g_assert_cmpuint(X509_get_key_usage(cert), ==, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	g_assert_cmpint(EVP_PKEY_get_bits(X509_get0_pubkey(cert)), ==, 2048);
	g_assert_cmpstr(issued->key_type, ==, "rsa-2048");
	g_assert_cmpstr(issued->subject, ==, "CN=devsim-rsa-R-1,O=Fleetstation Demo");
}

static void
fst_test_issue_distinct_serials(void)
{
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_make_csr(key);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("S", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GHashTable) serials =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < 100; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued =
		    fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_ecc, info, csr, &error);
		g_assert_no_error(error);
		g_assert_cmpint(strlen(issued->serial_hex), ==, 40);
		g_assert_true(g_hash_table_add(serials, g_strdup(issued->serial_hex)));
	}
	g_assert_cmpint(g_hash_table_size(serials), ==, 100);
}

static void
fst_test_issue_rejects_bad_signature(void)
{
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_make_csr(key);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("BADSIG", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(GBytes) bad = NULL;
	gsize len = 0;
	guint8 *data = g_memdup2(g_bytes_get_data(csr, &len), g_bytes_get_size(csr));

	/* the last byte is inside the ECDSA signature's s value */
	data[len - 1] ^= 0x01;
	bad = g_bytes_new_take(data, len);
	issued = fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_ecc, info, bad, &error);
	g_assert_null(issued);
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(error->message, "BADSIG"));
	g_assert_cmpint(ERR_peek_error(), ==, 0);
}

static void
fst_test_issue_rejects_file(gconstpointer user_data)
{
	const gchar *name = user_data;
	g_autoptr(GBytes) csr = fst_test_load_data(name);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("K1", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;

	issued = fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_ecc, info, csr, &error);
	g_assert_null(issued);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "K1"));
	g_test_message("%s: %s", name, error->message);
	if (g_str_has_prefix(name, "rsa1024"))
		g_assert_nonnull(strstr(error->message, "RSA-1024"));
	else if (g_str_has_prefix(name, "secp256k1"))
		g_assert_nonnull(strstr(error->message, "secp256k1"));
	else
		g_assert_nonnull(strstr(error->message, "allows only ec-p256"));
}

static void
fst_test_issue_rejects_garbage(void)
{
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("GARBAGE-7", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GBytes) valid = fst_test_load_data("p256.csr.der");
	guint8 noise[300];
	g_autofree guint8 *trailing = NULL;
	g_autofree guint8 *huge = g_malloc0(16 * 1024 + 1);
	GBytes *cases[4];

	for (guint i = 0; i < sizeof(noise); i++)
		noise[i] = (guint8)(i * 37 + 11);
	trailing = g_malloc0(g_bytes_get_size(valid) + 1);
	memcpy(trailing, g_bytes_get_data(valid, NULL), g_bytes_get_size(valid));
	cases[0] = g_bytes_new(noise, sizeof(noise));
	cases[1] = g_bytes_new(trailing, g_bytes_get_size(valid) + 1);
	cases[2] = g_bytes_new(huge, 16 * 1024 + 1);
	cases[3] = g_bytes_new(NULL, 0);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued = fst_ca_issue_from_csr(
		    fst_test_ca, fst_test_profile_ecc, info, cases[i], &error);
		g_assert_null(issued);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "GARBAGE-7"));
		g_bytes_unref(cases[i]);
	}
	g_assert_cmpint(ERR_peek_error(), ==, 0);
}

/* issuer=aws checks a device's CSR exactly as the station's CA does, before
 * AWS IoT is asked anything: the client points where nothing listens, so a
 * CSR that got through would fail reaching AWS, as the good one does */
static void
fst_test_aws_issuer_checks_csr_first(void)
{
	g_autoptr(FstAwsCredentials) creds = fst_aws_credentials_new(
	    "AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", "http://127.0.0.1:1");
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("AWS-CSR-1", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(GBytes) good = fst_test_make_csr(key);
	g_autoptr(GBytes) rsa = fst_test_load_data("rsa1024.csr.der");
	g_autoptr(GBytes) garbage = g_bytes_new_static("not a CSR", 9);
	g_autoptr(GBytes) forged = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guint8 *data = g_memdup2(g_bytes_get_data(good, &len), g_bytes_get_size(good));
	struct {
		GBytes *csr;
		gint code;
	} cases[] = {
	    {garbage, FST_ERROR_INVALID_DATA},
	    {rsa, FST_ERROR_NOT_SUPPORTED},
	    {NULL, FST_ERROR_VERIFY_FAILED},
	};

	/* the last byte is inside the ECDSA signature's s value */
	data[len - 1] ^= 0x01;
	forged = g_bytes_new_take(data, len);
	cases[2].csr = forged;
	iot = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	fst_aws_iot_set_retry(iot, 1, 1, 1);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *arn = NULL;
		g_autoptr(FstIssuedCert) issued = fst_aws_issuer_issue_from_csr(
		    iot, fst_test_profile_ecc, info, cases[i].csr, NULL, &arn, NULL, NULL, &error);
		g_assert_null(issued);
		g_assert_null(arn);
		g_assert_error(error, FST_ERROR, cases[i].code);
		g_assert_nonnull(strstr(error->message, "AWS-CSR-1"));
		g_clear_error(&error);
	}
	/* the good CSR gets as far as AWS, which is not there */
	{
		g_autofree gchar *arn = NULL;
		g_autoptr(FstIssuedCert) issued = fst_aws_issuer_issue_from_csr(
		    iot, fst_test_profile_ecc, info, good, NULL, &arn, NULL, NULL, &error);
		g_assert_null(issued);
		g_assert_nonnull(error);
		g_assert_false(g_error_matches(error, FST_ERROR, FST_ERROR_INVALID_DATA) ||
		               g_error_matches(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED) ||
		               g_error_matches(error, FST_ERROR, FST_ERROR_VERIFY_FAILED));
		g_test_message("good CSR: %s", error->message);
	}
	ERR_clear_error();
}

static void
fst_test_issue_rejects_bad_thing_name(void)
{
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_make_csr(key);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("has space", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued =
	    fst_ca_issue_from_csr(fst_test_ca, fst_test_profile_ecc, info, csr, &error);

	g_assert_null(issued);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "has space"));
}

static void
fst_test_issue_rejects_past_ca(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "long.profile", NULL);
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(EVP_PKEY) key = fst_test_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_make_csr(key);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("LONG", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	const gchar *text = "[profile]\nname=long\nmodels=devsim-*\nkey-types=ec-p256\n"
	                    "[subject]\ncn={uid}\no=Test\n[validity]\ndays=7400\n";

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	profile = fst_profile_load(path, &error);
	g_assert_no_error(error);
	issued = fst_ca_issue_from_csr(fst_test_ca, profile, info, csr, &error);
	g_assert_null(issued);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "after the issuing CA"));
	fst_test_rmrf(dir);
}

typedef struct {
	GBytes *csr;
	GPtrArray *certs; /* (element-type FstIssuedCert) */
	guint n;
} FstTestWorker;

static gpointer
fst_test_issue_thread(gpointer user_data)
{
	FstTestWorker *worker = user_data;
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("T", "devsim-ecc", FST_KEY_TYPE_EC_P256);

	for (guint i = 0; i < worker->n; i++) {
		g_autoptr(GError) error = NULL;
		FstIssuedCert *issued = fst_ca_issue_from_csr(
		    fst_test_ca, fst_test_profile_ecc, info, worker->csr, &error);
		g_assert_no_error(error);
		g_ptr_array_add(worker->certs, issued);
	}
	return NULL;
}

static void
fst_test_issue_concurrent(void)
{
	FstTestWorker workers[4];
	GThread *threads[4];
	g_autoptr(GHashTable) serials = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < G_N_ELEMENTS(workers); i++) {
		g_autoptr(EVP_PKEY) key = fst_test_keygen(i % 2 == 0 ? "ec-p256" : "ec-p256");
		workers[i].csr = fst_test_make_csr(key);
		workers[i].certs =
		    g_ptr_array_new_with_free_func((GDestroyNotify)fst_issued_cert_free);
		workers[i].n = 25;
	}
	for (guint i = 0; i < G_N_ELEMENTS(workers); i++)
		threads[i] = g_thread_new("issuer", fst_test_issue_thread, &workers[i]);
	for (guint i = 0; i < G_N_ELEMENTS(workers); i++)
		g_thread_join(threads[i]);
	for (guint i = 0; i < G_N_ELEMENTS(workers); i++) {
		g_assert_cmpint(workers[i].certs->len, ==, 25);
		for (guint j = 0; j < workers[i].certs->len; j++) {
			FstIssuedCert *issued = g_ptr_array_index(workers[i].certs, j);
			g_autoptr(X509) cert = fst_test_parse_cert(issued->der);
			g_assert_cmpint(fst_test_verify_leaf(cert), ==, 1);
			g_assert_true(g_hash_table_add(serials, issued->serial_hex));
			g_assert_true(g_hash_table_add(ids, issued->aws_cert_id));
		}
	}
	g_assert_cmpint(g_hash_table_size(serials), ==, 100);
	for (guint i = 0; i < G_N_ELEMENTS(workers); i++) {
		g_bytes_unref(workers[i].csr);
		g_ptr_array_unref(workers[i].certs);
	}
}

/* verifies @leaf with @ca as the only trusted certificate; the leaf's signature algorithm */
static void
fst_test_verify_with(X509 *leaf, X509 *ca)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();

	g_assert_cmpint(X509_verify(leaf, X509_get0_pubkey(ca)), ==, 1);
	X509_STORE_add_cert(store, ca);
	g_assert_cmpint(X509_STORE_CTX_init(ctx, store, leaf, NULL), ==, 1);
	g_assert_cmpint(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT), ==, 1);
	if (X509_verify_cert(ctx) != 1)
		g_error("verify: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
}

typedef struct {
	const gchar *ca_kind;
	const gchar *signature; /* [signature] lines */
	gint sig_nid;
	gint md_nid; /* for RSASSA-PSS: its hash */
} FstTestAlgCase;

/* every signature algorithm AWS IoT accepts, from CAs of every key kind */
static void
fst_test_issue_algorithms(void)
{
	static const FstTestAlgCase cases[] = {
	    {"rsa-2048", "", NID_sha256WithRSAEncryption, NID_sha256},
	    {"rsa-2048", "digest=sha384", NID_sha384WithRSAEncryption, NID_sha384},
	    {"rsa-2048", "digest=sha512", NID_sha512WithRSAEncryption, NID_sha512},
	    {"rsa-2048", "rsa-padding=pss", NID_rsassaPss, NID_sha256},
	    {"rsa-3072", "digest=sha384\nrsa-padding=pss", NID_rsassaPss, NID_sha384},
	    {"rsa-2048", "digest=sha512\nrsa-padding=pss", NID_rsassaPss, NID_sha512},
	    {"ec-p256", "", NID_ecdsa_with_SHA256, NID_sha256},
	    {"ec-p256", "digest=sha384", NID_ecdsa_with_SHA384, NID_sha384},
	    {"ec-p256", "digest=sha512", NID_ecdsa_with_SHA512, NID_sha512},
	    {"ec-p384", "", NID_ecdsa_with_SHA384, NID_sha384},
	    {"ec-p521", "digest=auto", NID_ecdsa_with_SHA512, NID_sha512},
	    {"dsa-2048", "", NID_dsa_with_SHA256, NID_sha256},
	};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-alg-XXXXXX", NULL);
	g_autoptr(EVP_PKEY) device_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_pki_csr(device_key, NULL);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("ALG1", "test-board", FST_KEY_TYPE_EC_P256);
	g_autoptr(GHashTable) ca_keys =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)EVP_PKEY_free);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *ca_name = g_strdup_printf("ca-%s", cases[i].ca_kind);
		g_autofree gchar *extra =
		    g_strdup_printf("[validity]\ndays=30\n[signature]\n%s\n", cases[i].signature);
		g_autofree gchar *pname = g_strdup_printf("alg%u", i);
		EVP_PKEY *ca_key = g_hash_table_lookup(ca_keys, cases[i].ca_kind);
		g_autoptr(X509) ca_cert = NULL;
		g_autoptr(FstCa) ca = NULL;
		g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, pname, extra);
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued = NULL;
		g_autoptr(X509) cert = NULL;
		int md_nid = NID_undef, pk_nid = NID_undef;

		g_test_message("CA %s, [signature] %s", cases[i].ca_kind, cases[i].signature);
		if (ca_key == NULL) {
			ca_key = fst_test_pki_keygen(cases[i].ca_kind);
			g_hash_table_insert(ca_keys, g_strdup(cases[i].ca_kind), ca_key);
		}
		ca_cert = fst_test_pki_make_ca(dir, ca_name, ca_key, NULL, NULL, 365);
		ca = fst_test_pki_load_ca(dir, ca_name, NULL);
		issued = fst_ca_issue_from_csr(ca, profile, info, csr, &error);
		g_assert_no_error(error);
		cert = fst_test_parse_cert(issued->der);
		g_assert_cmpint(X509_get_signature_nid(cert), ==, cases[i].sig_nid);
		if (cases[i].sig_nid == NID_rsassaPss) {
			/* the PSS parameters name the hash, MGF1 with it, salt = hash length */
			g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
			BUF_MEM *mem = NULL;
			g_autofree gchar *text = NULL;
			const gchar *md = OBJ_nid2ln(cases[i].md_nid);
			X509_signature_print(bio, X509_get0_tbs_sigalg(cert), NULL);
			BIO_get_mem_ptr(bio, &mem);
			text = g_strndup(mem->data, mem->length);
			g_assert_nonnull(strstr(text, "Mask Algorithm: mgf1 with"));
			g_assert_nonnull(strstr(text, md));
			g_assert_nonnull(
			    strstr(text,
			           EVP_MD_get_size(EVP_get_digestbynid(cases[i].md_nid)) == 32
			               ? "Salt Length: 0x20"
			           : EVP_MD_get_size(EVP_get_digestbynid(cases[i].md_nid)) == 48
			               ? "Salt Length: 0x30"
			               : "Salt Length: 0x40"));
		} else {
			g_assert_cmpint(
			    OBJ_find_sigid_algs(cases[i].sig_nid, &md_nid, &pk_nid), ==, 1);
			g_assert_cmpint(md_nid, ==, cases[i].md_nid);
		}
		fst_test_verify_with(cert, ca_cert);
		g_assert_cmpint(X509_check_issued(ca_cert, cert), ==, X509_V_OK);
	}
	fst_test_rmrf(dir);
}

/* what a CA cannot do is refused with a message naming the setting */
static void
fst_test_issue_algorithm_refusals(void)
{
	static const struct {
		const gchar *ca_kind;
		const gchar *signature;
		const gchar *expect;
	} cases[] = {
	    {"dsa-2048", "digest=sha384", "SHA-256 only"},
	    {"ec-p256", "rsa-padding=pss", "rsa-padding=pss"},
	};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-alg-XXXXXX", NULL);
	g_autoptr(EVP_PKEY) device_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_pki_csr(device_key, NULL);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("ALG2", "test-board", FST_KEY_TYPE_EC_P256);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *ca_name = g_strdup_printf("ca-%u", i);
		g_autofree gchar *extra =
		    g_strdup_printf("[validity]\ndays=30\n[signature]\n%s\n", cases[i].signature);
		g_autoptr(EVP_PKEY) ca_key = fst_test_pki_keygen(cases[i].ca_kind);
		g_autoptr(X509) ca_cert =
		    fst_test_pki_make_ca(dir, ca_name, ca_key, NULL, NULL, 365);
		g_autoptr(FstCa) ca = fst_test_pki_load_ca(dir, ca_name, NULL);
		g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, ca_name, extra);
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued =
		    fst_ca_issue_from_csr(ca, profile, info, csr, &error);
		g_assert_nonnull(ca_cert);
		g_assert_null(issued);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
	}
	fst_test_rmrf(dir);
}

/* every device key AWS IoT takes, through a CSR and as a bare public key */
static void
fst_test_issue_device_keys(void)
{
	static const gchar *kinds[] = {
	    "ec-p256", "ec-p384", "ec-p521", "rsa-2048", "rsa-3072", "rsa-4096"};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-keys-XXXXXX", NULL);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, "all", NULL);

	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(kinds[i]);
		g_autoptr(GBytes) csr =
		    fst_test_pki_csr(key, g_str_has_prefix(kinds[i], "ec-p521") ? "SHA512" : NULL);
		g_autoptr(GBytes) spki = fst_test_pki_spki(key);
		g_autoptr(FstDeviceInfo) info =
		    fst_test_device_info("KEYS", "test-board", fst_key_type_from_string(kinds[i]));
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) from_csr =
		    fst_ca_issue_from_csr(fst_test_ca, profile, info, csr, &error);
		g_autoptr(FstIssuedCert) from_key = NULL;
		g_autoptr(X509) cert1 = NULL;
		g_autoptr(X509) cert2 = NULL;
		gsize len = 0;
		const guint8 *p;

		g_test_message("device key %s", kinds[i]);
		g_assert_no_error(error);
		from_key = fst_ca_issue_for_public_key(fst_test_ca, profile, info, spki, &error);
		g_assert_no_error(error);
		cert1 = fst_test_parse_cert(from_csr->der);
		cert2 = fst_test_parse_cert(from_key->der);
		g_assert_cmpint(fst_test_verify_leaf(cert1), ==, 1);
		g_assert_cmpint(fst_test_verify_leaf(cert2), ==, 1);
		g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(cert1), key), ==, 1);
		g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(cert2), key), ==, 1);
		g_assert_cmpstr(from_csr->key_type, ==, kinds[i]);
		g_assert_cmpstr(from_key->key_type, ==, kinds[i]);
		/* the SubjectPublicKeyInfo in the certificate is the key's own encoding */
		{
			guint8 *der = NULL;
			int der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert1), &der);
			p = g_bytes_get_data(spki, &len);
			g_assert_cmpmem(der, der_len, p, len);
			OPENSSL_free(der);
		}
		/* a device certificate round-trips through OpenSSL's encoder unchanged */
		{
			guint8 *der = NULL;
			int der_len;
			X509_get0_tbs_sigalg(cert1);
			der_len = i2d_re_X509_tbs(cert1, &der);
			g_assert_cmpint(der_len, >, 0);
			OPENSSL_free(der);
			der = NULL;
			der_len = i2d_X509(cert1, &der);
			p = g_bytes_get_data(from_csr->der, &len);
			g_assert_cmpmem(der, der_len, p, len);
			OPENSSL_free(der);
		}
	}
	fst_test_rmrf(dir);
}

/* keys AWS IoT does not take are refused, by CSR and as a bare public key */
static void
fst_test_issue_refuses_keys(void)
{
	static const struct {
		const gchar *kind;
		const gchar *expect;
	} cases[] = {
	    {"rsa-1024", "RSA-1024"},
	    {"ec-secp256k1", "secp256k1"},
	    {"ed25519", "only RSA and EC keys"},
	    {"dsa-2048", "only RSA and EC keys"},
	};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-keys-XXXXXX", NULL);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, "all", NULL);
	g_autoptr(FstDeviceInfo) info = fst_test_device_info("REF", "test-board", 0);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(cases[i].kind);
		g_autoptr(GBytes) spki = fst_test_pki_spki(key);
		g_autoptr(GBytes) csr =
		    fst_test_pki_csr(key, g_strcmp0(cases[i].kind, "ed25519") == 0 ? "" : NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued =
		    fst_ca_issue_for_public_key(fst_test_ca, profile, info, spki, &error);
		g_assert_null(issued);
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
		g_clear_error(&error);
		issued = fst_ca_issue_from_csr(fst_test_ca, profile, info, csr, &error);
		g_assert_null(issued);
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
	}
	g_assert_cmpint(ERR_peek_error(), ==, 0);
	fst_test_rmrf(dir);
}

/* profile extensions: key usages, SAN, no SKI/AKI, fixed end, outliving the CA */
static void
fst_test_issue_profile_options(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-opt-XXXXXX", NULL);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(
	    dir,
	    "opts",
	    "[validity]\nnot-after=2049-12-31T23:59:59Z\nallow-outlive-ca=true\n"
	    "[extensions]\nkey-usage=digital-signature;key-agreement\n"
	    "ext-key-usage=client-auth;server-auth\nsubject-key-id=false\n"
	    "authority-key-id=false\nsan-dns={uid}.things.example.com\n"
	    "san-uri=urn:example:device:{uid}\n");
	g_autoptr(FstProfile) fixed =
	    fst_test_pki_profile(dir, "fixed", "[validity]\nnot-after=2049-12-31T23:59:59Z\n");
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) spki = fst_test_pki_spki(key);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_device_info("OPT-9", "test-board", FST_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued =
	    fst_ca_issue_for_public_key(fst_test_ca, profile, info, spki, &error);
	g_autoptr(X509) cert = NULL;
	GENERAL_NAMES *san;
	gint64 aws_end = 2524607999; /* 2049-12-31T23:59:59Z */

	g_assert_no_error(error);
	cert = fst_test_parse_cert(issued->der);
	g_assert_cmpint(issued->not_after, ==, aws_end);
	g_assert_cmpint(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), (time_t)aws_end), ==, 0);
	/* 2049 is still a UTCTime (RFC 5280) */
	g_assert_cmpint(ASN1_STRING_type(X509_get0_notAfter(cert)), ==, V_ASN1_UTCTIME);
	g_assert_cmpuint(X509_get_key_usage(cert), ==, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
	g_assert_cmpuint(X509_get_extended_key_usage(cert), ==, XKU_SSL_CLIENT | XKU_SSL_SERVER);
	g_assert_null(X509_get0_subject_key_id(cert));
	g_assert_null(X509_get0_authority_key_id(cert));
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	g_assert_nonnull(san);
	g_assert_cmpint(sk_GENERAL_NAME_num(san), ==, 2);
	g_assert_cmpint(sk_GENERAL_NAME_value(san, 0)->type, ==, GEN_DNS);
	g_assert_cmpstr(
	    (const gchar *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(san, 0)->d.dNSName),
	    ==,
	    "OPT-9.things.example.com");
	g_assert_cmpint(sk_GENERAL_NAME_value(san, 1)->type, ==, GEN_URI);
	g_assert_cmpstr((const gchar *)ASN1_STRING_get0_data(
	                    sk_GENERAL_NAME_value(san, 1)->d.uniformResourceIdentifier),
	                ==,
	                "urn:example:device:OPT-9");
	GENERAL_NAMES_free(san);

	/* the demo issuing CA ends before 2049 for a while yet: refused without the opt-in */
	fst_issued_cert_free(g_steal_pointer(&issued));
	issued = fst_ca_issue_for_public_key(fst_test_ca, fixed, info, spki, &error);
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(fst_ca_get_cert(fst_test_ca)),
	                         (time_t)aws_end) < 0) {
		g_assert_null(issued);
		g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
		g_assert_nonnull(strstr(error->message, "allow-outlive-ca"));
		g_clear_error(&error);
		/* the same check before a run, when no device is known */
		g_assert_false(fst_ca_check_profile(fst_test_ca, fixed, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
		g_assert_true(g_str_has_prefix(
		    error->message,
		    "a device certificate issued now would end 2049-12-31T23:59:59Z"));
		g_assert_nonnull(strstr(error->message, "profile fixed"));
		g_clear_error(&error);
	}
	g_assert_true(fst_ca_check_profile(fst_test_ca, profile, &error));
	g_assert_no_error(error);

	/* from 2050 on, a GeneralizedTime (RFC 5280) */
	{
		g_autoptr(FstProfile) late = fst_test_pki_profile(
		    dir,
		    "late",
		    "[validity]\nnot-after=2051-06-30T12:00:00Z\nallow-outlive-ca=true\n");
		g_autoptr(GError) error2 = NULL;
		g_autoptr(FstIssuedCert) late_cert =
		    fst_ca_issue_for_public_key(fst_test_ca, late, info, spki, &error2);
		g_autoptr(X509) parsed = NULL;
		g_assert_no_error(error2);
		parsed = fst_test_parse_cert(late_cert->der);
		g_assert_cmpint(
		    ASN1_STRING_type(X509_get0_notAfter(parsed)), ==, V_ASN1_GENERALIZEDTIME);
		g_assert_cmpint(
		    ASN1_TIME_cmp_time_t(X509_get0_notAfter(parsed), (time_t)2571739200), ==, 0);
		g_assert_cmpint(late_cert->not_after, ==, 2571739200);
	}

	/* a device whose uid cannot be part of a DNS name is refused */
	{
		g_autoptr(FstDeviceInfo) bad =
		    fst_test_device_info("a_b", "test-board", FST_KEY_TYPE_EC_P256);
		g_autoptr(GError) error2 = NULL;
		g_autoptr(FstIssuedCert) none =
		    fst_ca_issue_for_public_key(fst_test_ca, profile, bad, spki, &error2);
		g_assert_null(none);
		g_assert_error(error2, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error2->message, "a_b.things.example.com"));
	}
	fst_test_rmrf(dir);
}

/* proof of possession for the device-public-key source */
static void
fst_test_verify_challenge(void)
{
	static const gchar *kinds[] = {"ec-p256", "rsa-2048"};
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(kinds[i]);
		g_autoptr(EVP_PKEY) other = fst_test_pki_keygen(kinds[i]);
		g_autoptr(GBytes) spki = fst_test_pki_spki(key);
		g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
		g_autoptr(GBytes) challenge = NULL;
		g_autoptr(GBytes) sig = NULL;
		g_autoptr(GBytes) other_sig = NULL;
		g_autoptr(GError) error = NULL;
		guint8 nonce[32];
		guint8 buf[512];
		gsize len = sizeof(buf);

		RAND_bytes(nonce, sizeof(nonce));
		challenge = g_bytes_new(nonce, sizeof(nonce));
		g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), ==, 1);
		g_assert_cmpint(EVP_DigestSign(ctx, buf, &len, nonce, sizeof(nonce)), ==, 1);
		sig = g_bytes_new(buf, len);
		g_assert_true(fst_ca_verify_challenge(spki, challenge, sig, &error));
		g_assert_no_error(error);

		EVP_MD_CTX_reset(ctx);
		len = sizeof(buf);
		g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, other), ==, 1);
		g_assert_cmpint(EVP_DigestSign(ctx, buf, &len, nonce, sizeof(nonce)), ==, 1);
		other_sig = g_bytes_new(buf, len);
		g_assert_false(fst_ca_verify_challenge(spki, challenge, other_sig, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	}
}

/* the CSR parser takes device bytes: mutated and truncated CSRs never crash it,
 * and anything it accepts still proves possession of the key */
static void
fst_test_issue_mutated_csrs(void)
{
	static const gchar *files[] = {"p256.csr.der", "rsa2048.csr.der"};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-mut-XXXXXX", NULL);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, "all", NULL);
	g_autoptr(FstDeviceInfo) info = fst_test_device_info("MUT", "test-board", 0);
	g_autoptr(GRand) rand = g_rand_new_with_seed(20261123);
	guint issued_count = 0;

	for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
		g_autoptr(GBytes) valid = fst_test_load_data(files[f]);
		gsize len = g_bytes_get_size(valid);
		for (guint i = 0; i < 1500; i++) {
			g_autofree guint8 *data = g_memdup2(g_bytes_get_data(valid, NULL), len);
			g_autoptr(GBytes) mutated = NULL;
			g_autoptr(GError) error = NULL;
			g_autoptr(FstIssuedCert) issued = NULL;
			gsize new_len = len;
			guint n = g_rand_int_range(rand, 1, 4);
			for (guint k = 0; k < n; k++) {
				gsize pos = (gsize)g_rand_int_range(rand, 0, (gint32)len);
				switch (g_rand_int_range(rand, 0, 3)) {
				case 0:
					data[pos] ^= (guint8)(1u << g_rand_int_range(rand, 0, 8));
					break;
				case 1:
					data[pos] = (guint8)g_rand_int_range(rand, 0, 256);
					break;
				default:
					new_len = MIN(new_len, pos);
					break;
				}
			}
			mutated = g_bytes_new(data, new_len);
			issued = fst_ca_issue_from_csr(fst_test_ca, profile, info, mutated, &error);
			if (issued == NULL) {
				g_assert_nonnull(error);
				g_assert_true(error->domain == FST_ERROR);
				g_assert_true(error->code == FST_ERROR_INVALID_DATA ||
				              error->code == FST_ERROR_NOT_SUPPORTED ||
				              error->code == FST_ERROR_VERIFY_FAILED);
			} else {
				/* only bytes outside the signed part (e.g. the ECDSA signature's
				 * DER padding) can change and leave a CSR that proves possession */
				g_autoptr(X509) cert = fst_test_parse_cert(issued->der);
				g_assert_cmpint(fst_test_verify_leaf(cert), ==, 1);
				issued_count++;
			}
			g_assert_cmpint(ERR_peek_error(), ==, 0);
		}
	}
	g_test_message("%u mutated CSRs were still valid", issued_count);
	fst_test_rmrf(dir);
}

/* a CSR signed with RSASSA-PSS (the slow, generic path) */
static GBytes *
fst_test_pss_csr(EVP_PKEY *key)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	guint8 *der = NULL;
	int der_len;
	GBytes *bytes;

	g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
	g_assert_cmpint(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key), ==, 1);
	g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
	g_assert_cmpint(X509_REQ_sign_ctx(req, ctx), >, 0);
	der_len = i2d_X509_REQ(req, &der);
	bytes = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return bytes;
}

/* CSR signatures with every digest, and RSASSA-PSS; a bad PSS signature is refused */
static void
fst_test_issue_csr_algorithms(void)
{
	static const struct {
		const gchar *kind;
		const gchar *md;
	} cases[] = {
	    {"ec-p256", "SHA384"},
	    {"ec-p384", "SHA512"},
	    {"rsa-2048", "SHA384"},
	    {"rsa-2048", "SHA512"},
	};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ca-csralg-XXXXXX", NULL);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(dir, "all", NULL);
	g_autoptr(FstDeviceInfo) info = fst_test_device_info("CSRALG", "test-board", 0);
	g_autoptr(EVP_PKEY) rsa = fst_test_pki_keygen("rsa-2048");
	g_autoptr(GBytes) pss = fst_test_pss_csr(rsa);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autofree guint8 *bad = NULL;
	g_autoptr(GBytes) bad_bytes = NULL;
	gsize len = 0;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(cases[i].kind);
		g_autoptr(GBytes) csr = fst_test_pki_csr(key, cases[i].md);
		g_autoptr(FstIssuedCert) cert =
		    fst_ca_issue_from_csr(fst_test_ca, profile, info, csr, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(cert->key_type, ==, cases[i].kind);
	}
	issued = fst_ca_issue_from_csr(fst_test_ca, profile, info, pss, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(issued->key_type, ==, "rsa-2048");
	bad = g_memdup2(g_bytes_get_data(pss, &len), g_bytes_get_size(pss));
	bad[len - 1] ^= 0x01;
	bad_bytes = g_bytes_new(bad, len);
	g_assert_null(fst_ca_issue_from_csr(fst_test_ca, profile, info, bad_bytes, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_cmpint(ERR_peek_error(), ==, 0);
	fst_test_rmrf(dir);
}

int
main(int argc, char **argv)
{
	g_autoptr(FstSecret) pass = fst_test_passphrase();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *root = NULL;
	g_autofree gchar *cert = NULL;
	g_autofree gchar *key = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);

	fst_test_pki_dir = g_dir_make_tmp("fst-ca-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_ca_create_demo_pki(fst_test_pki_dir, "Fleet Test", pass, &error));
	g_assert_no_error(error);
	root = g_build_filename(fst_test_pki_dir, "root-ca.pem", NULL);
	cert = g_build_filename(fst_test_pki_dir, "issuing-ca.pem", NULL);
	key = g_build_filename(fst_test_pki_dir, "issuing-ca.key", NULL);
	fst_test_ca = fst_ca_load(cert, key, root, pass, &error);
	g_assert_no_error(error);
	fst_test_root = fst_test_read_pem(root);
	fst_test_profile_ecc = fst_profile_find(fst_test_templates_dir(), "aws-iot-ecc", &error);
	g_assert_no_error(error);
	fst_test_profile_rsa = fst_profile_find(fst_test_templates_dir(), "aws-iot-rsa", &error);
	g_assert_no_error(error);

	g_test_add_func("/fst/ca/demo-pki/files", fst_test_demo_pki_files);
	g_test_add_func("/fst/ca/demo-pki/refuses-overwrite", fst_test_demo_pki_refuses_overwrite);
	g_test_add_func("/fst/ca/demo-pki/refuses-bad-organization",
	                fst_test_demo_pki_bad_organization);
	g_test_add_func("/fst/ca/demo-pki/refuses-empty-passphrase",
	                fst_test_demo_pki_empty_passphrase);
	g_test_add_func("/fst/ca/load/rejects-wrong-passphrase", fst_test_load_wrong_passphrase);
	g_test_add_func("/fst/ca/load/rejects-key-mismatch", fst_test_load_key_mismatch);
	g_test_add_func("/fst/ca/load/rejects-readable-key", fst_test_load_key_readable);
	g_test_add_func("/fst/ca/load/rejects-wrong-chain", fst_test_load_wrong_chain);
	g_test_add_func("/fst/ca/load/rejects-expired", fst_test_load_expired);
	g_test_add_func("/fst/ca/load/rejects-not-a-ca", fst_test_load_not_a_ca);
	g_test_add_func("/fst/ca/chain-der/excludes-root", fst_test_chain_der);
	g_test_add_func("/fst/ca/issue/verifies", fst_test_issue_verifies);
	g_test_add_func("/fst/ca/issue/rsa", fst_test_issue_rsa);
	g_test_add_func("/fst/ca/issue/distinct-serials", fst_test_issue_distinct_serials);
	g_test_add_func("/fst/ca/issue/rejects-bad-signature",
	                fst_test_issue_rejects_bad_signature);
	g_test_add_data_func(
	    "/fst/ca/issue/rejects-rsa-1024", "rsa1024.csr.der", fst_test_issue_rejects_file);
	g_test_add_data_func(
	    "/fst/ca/issue/rejects-secp256k1", "secp256k1.csr.der", fst_test_issue_rejects_file);
	g_test_add_data_func("/fst/ca/issue/rejects-key-type-not-in-profile",
	                     "p384.csr.der",
	                     fst_test_issue_rejects_file);
	g_test_add_func("/fst/ca/issue/rejects-garbage", fst_test_issue_rejects_garbage);
	g_test_add_func("/fst/ca/aws-issuer/checks-csr-first",
	                fst_test_aws_issuer_checks_csr_first);
	g_test_add_func("/fst/ca/issue/rejects-bad-thing-name",
	                fst_test_issue_rejects_bad_thing_name);
	g_test_add_func("/fst/ca/issue/rejects-validity-past-ca", fst_test_issue_rejects_past_ca);
	g_test_add_func("/fst/ca/issue/concurrent", fst_test_issue_concurrent);
	g_test_add_func("/fst/ca/issue/algorithms", fst_test_issue_algorithms);
	g_test_add_func("/fst/ca/issue/algorithm-refusals", fst_test_issue_algorithm_refusals);
	g_test_add_func("/fst/ca/issue/device-keys", fst_test_issue_device_keys);
	g_test_add_func("/fst/ca/issue/refuses-keys", fst_test_issue_refuses_keys);
	g_test_add_func("/fst/ca/issue/profile-options", fst_test_issue_profile_options);
	g_test_add_func("/fst/ca/verify-challenge", fst_test_verify_challenge);
	g_test_add_func("/fst/ca/issue/mutated-csrs", fst_test_issue_mutated_csrs);
	g_test_add_func("/fst/ca/issue/csr-algorithms", fst_test_issue_csr_algorithms);
	rc = g_test_run();

	fst_profile_free(fst_test_profile_ecc);
	fst_profile_free(fst_test_profile_rsa);
	X509_free(fst_test_root);
	fst_ca_free(fst_test_ca);
	fst_test_rmrf(fst_test_pki_dir);
	g_free(fst_test_pki_dir);
	return rc;
}
