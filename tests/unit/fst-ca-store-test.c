/* SPDX-License-Identifier: Apache-2.0 */
/* unit tests of CA management: station/fst-ca-store.c and fst-ca-crl.c */

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>

#include "fst-ca-crl.h"
#include "fst-ca-pkcs11.h"
#include "fst-ca-store.h"
#include "fst-ca.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PBE2PARAM, PBE2PARAM_free)

typedef struct {
	gchar *dir;
	gchar *ca_dir;
	FstSecret *pass;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fx->dir = g_dir_make_tmp("fst-ca-store-XXXXXX", NULL);
	g_assert_nonnull(fx->dir);
	fx->ca_dir = g_build_filename(fx->dir, "ca", NULL);
	fx->pass = fst_secret_new((const guint8 *)"correct horse", 13);
}

static void
rm_rf(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR))
			rm_rf(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	(void)user_data;
	rm_rf(fx->dir);
	g_free(fx->dir);
	g_free(fx->ca_dir);
	fst_secret_free(fx->pass);
}

static gchar *
ca_path(Fixture *fx, const gchar *file)
{
	return g_build_filename(fx->ca_dir, file, NULL);
}

static X509 *
read_one_cert(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = fst_ca_store_read_certs(path, &error);
	g_assert_no_error(error);
	return X509_dup(g_ptr_array_index(certs, 0));
}

static const FstCaStoreOptions root_opts = {
    "/C=DE/O=Acme Test/CN=Acme Root CA", FST_KEY_TYPE_EC_P256, 3650, -1};
static const FstCaStoreOptions issuing_opts = {
    "/O=Acme Test/CN=Acme Issuing CA", FST_KEY_TYPE_EC_P256, 1825, 0};

/* the extensions a CA certificate must have, checked field by field */
static void
assert_ca_extensions(X509 *cert, X509 *issuer, glong pathlen)
{
	int crit = -1;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	ASN1_BIT_STRING *ku = NULL;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	const ASN1_OCTET_STRING *issuer_ski = X509_get0_subject_key_id(issuer);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);

	g_assert_nonnull(bc);
	g_assert_cmpint(crit, ==, 1);
	g_assert_true(bc->ca);
	if (pathlen < 0)
		g_assert_null(bc->pathlen);
	else
		g_assert_cmpint(ASN1_INTEGER_get(bc->pathlen), ==, pathlen);
	BASIC_CONSTRAINTS_free(bc);
	ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL);
	g_assert_nonnull(ku);
	g_assert_cmpint(crit, ==, 1);
	ASN1_BIT_STRING_free(ku);
	g_assert_cmphex(X509_get_key_usage(cert), ==, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	g_assert_nonnull(ski);
	g_assert_cmpint(ASN1_STRING_length(ski), ==, 20);
	g_assert_nonnull(aki);
	g_assert_nonnull(issuer_ski);
	g_assert_cmpint(ASN1_OCTET_STRING_cmp(aki, issuer_ski), ==, 0);
	g_assert_cmpint(X509_get_version(cert), ==, X509_VERSION_3);
	/* 20-byte positive serial */
	g_assert_cmpint(serial->length, ==, 20);
	g_assert_cmpint(serial->type, ==, V_ASN1_INTEGER);
	g_assert_cmpint(X509_verify(cert, X509_get0_pubkey(issuer)), ==, 1);
}

static void
assert_encrypted_key_file(const gchar *path, const FstSecret *pass)
{
	g_autofree gchar *pem = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(FstSecret) wrong = fst_secret_new((const guint8 *)"wrong", 5);
	g_autoptr(GError) error = NULL;
	struct stat st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_true(g_file_get_contents(path, &pem, NULL, NULL));
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	g_assert_null(strstr(pem, "BEGIN PRIVATE KEY"));
	g_assert_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
	/* scrypt + AES-256-CBC */
	bio = BIO_new_mem_buf(pem, -1);
	{
		X509_SIG *p8 = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL);
		const X509_ALGOR *alg = NULL;
		g_autoptr(PBE2PARAM) pbe2 = NULL;
		g_assert_nonnull(p8);
		X509_SIG_get0(p8, &alg, NULL);
		g_assert_cmpint(OBJ_obj2nid(alg->algorithm), ==, NID_pbes2);
		pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
		g_assert_nonnull(pbe2);
		g_assert_cmpint(OBJ_obj2nid(pbe2->keyfunc->algorithm), ==, NID_id_scrypt);
		g_assert_cmpint(OBJ_obj2nid(pbe2->encryption->algorithm), ==, NID_aes_256_cbc);
		X509_SIG_free(p8);
	}
	key = fst_ca_store_read_key(path, pass, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	g_assert_null(fst_ca_store_read_key(path, wrong, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
}

static void
test_create(Fixture *fx, gconstpointer user_data)
{
	const FstKeyType key_type = GPOINTER_TO_UINT(user_data);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *root_path = ca_path(fx, FST_CA_STORE_ROOT_CERT);
	g_autofree gchar *issuing_path = ca_path(fx, FST_CA_STORE_ISSUING_CERT);
	g_autofree gchar *issuing_key = ca_path(fx, FST_CA_STORE_ISSUING_KEY);
	g_autofree gchar *root_key = ca_path(fx, FST_CA_STORE_ROOT_KEY);
	g_autofree gchar *desc = NULL;
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) issuing = NULL;
	g_autoptr(FstCa) ca = NULL;
	FstCaStoreOptions r = root_opts;
	FstCaStoreOptions i = issuing_opts;
	struct stat st;

	r.key_type = key_type;
	i.key_type = key_type;
	g_assert_true(fst_ca_store_create(fx->ca_dir, &r, &i, NULL, NULL, fx->pass, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(fx->ca_dir, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0700);

	root = read_one_cert(root_path);
	issuing = read_one_cert(issuing_path);
	assert_ca_extensions(root, root, -1);
	assert_ca_extensions(issuing, root, 0);
	g_assert_cmpint(X509_self_signed(root, 1), ==, 1);
	g_assert_cmpint(X509_check_issued(root, issuing), ==, X509_V_OK);
	desc = fst_ca_store_describe_key(X509_get0_pubkey(issuing));
	g_assert_cmpstr(desc, ==, fst_key_type_to_string(key_type));
	/* the digest follows the signing key */
	if (key_type == FST_KEY_TYPE_EC_P384)
		g_assert_cmpint(X509_get_signature_nid(issuing), ==, NID_ecdsa_with_SHA384);
	else if (key_type == FST_KEY_TYPE_EC_P521)
		g_assert_cmpint(X509_get_signature_nid(issuing), ==, NID_ecdsa_with_SHA512);
	else if (key_type == FST_KEY_TYPE_EC_P256)
		g_assert_cmpint(X509_get_signature_nid(issuing), ==, NID_ecdsa_with_SHA256);
	else
		g_assert_cmpint(X509_get_signature_nid(issuing), ==, NID_sha256WithRSAEncryption);
	assert_encrypted_key_file(issuing_key, fx->pass);
	assert_encrypted_key_file(root_key, fx->pass);

	/* what fst-ca.c opens for issuing */
	ca = fst_ca_load(issuing_path, issuing_key, root_path, fx->pass, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	g_assert_cmpint(EVP_PKEY_eq(fst_ca_get_key(ca), X509_get0_pubkey(issuing)), ==, 1);
}

static void
test_create_refuses_overwrite(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issuing_path = ca_path(fx, FST_CA_STORE_ISSUING_CERT);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;

	(void)user_data;
	g_assert_true(fst_ca_store_create(
	    fx->ca_dir, &root_opts, &issuing_opts, NULL, NULL, fx->pass, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(issuing_path, &before, NULL, NULL));
	g_assert_false(fst_ca_store_create(
	    fx->ca_dir, &root_opts, &issuing_opts, NULL, NULL, fx->pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "already exists"));
	g_assert_true(g_file_get_contents(issuing_path, &after, NULL, NULL));
	g_assert_cmpstr(before, ==, after);
}

static void
test_create_options(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) sub = NULL;
	g_autoptr(FstSecret) empty = fst_secret_new(NULL, 0);
	FstCaStoreOptions r = root_opts;
	FstCaStoreOptions i = issuing_opts;

	(void)user_data;
	/* pathlen where asked */
	r.pathlen = 2;
	root = fst_ca_store_make_ca_cert(key, &r, NULL, key, &error);
	g_assert_no_error(error);
	assert_ca_extensions(root, root, 2);
	/* a CA that would outlive its issuer */
	i.days = r.days + 1;
	sub = fst_ca_store_make_ca_cert(key, &i, root, key, &error);
	g_assert_null(sub);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "outlive"));
	g_clear_error(&error);
	/* bad subjects */
	i = issuing_opts;
	i.subject = "O=Acme,CN=x";
	g_assert_null(fst_ca_store_make_ca_cert(key, &i, NULL, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	i.subject = "/O=Acme";
	g_assert_null(fst_ca_store_make_ca_cert(key, &i, NULL, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "no CN"));
	g_clear_error(&error);
	i.subject = "/XX=1/CN=a";
	g_assert_null(fst_ca_store_make_ca_cert(key, &i, NULL, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* unsupported key types, and no key written without a passphrase */
	g_assert_null(fst_ca_store_generate_key(FST_KEY_TYPE_NONE, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(
	    fst_ca_store_create(fx->ca_dir, &root_opts, &issuing_opts, NULL, NULL, empty, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_false(g_file_test(fx->ca_dir, G_FILE_TEST_EXISTS));
}

/* signs @req as an offline root would (what `openssl ca` does elsewhere) */
static X509 *
offline_sign(X509_REQ *req, X509 *root, EVP_PKEY *root_key)
{
	g_autoptr(GError) error = NULL;
	FstCaStoreOptions o = issuing_opts;
	X509 *cert;
	o.days = 365;
	cert = fst_ca_store_make_ca_cert(X509_REQ_get0_pubkey(req), &o, root, root_key, &error);
	g_assert_no_error(error);
	return cert;
}

static void
write_certs(const gchar *path, X509 *a, X509 *b)
{
	g_autoptr(GPtrArray) arr = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_ptr_array_add(arr, a);
	if (b != NULL)
		g_ptr_array_add(arr, b);
	g_assert_true(fst_ca_store_write_certs(arr, path, &error));
	g_assert_no_error(error);
}

static void
test_csr_install(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *csr_path = ca_path(fx, FST_CA_STORE_ISSUING_CSR);
	g_autofree gchar *issuing_path = ca_path(fx, FST_CA_STORE_ISSUING_CERT);
	g_autofree gchar *key_path = ca_path(fx, FST_CA_STORE_ISSUING_KEY);
	g_autofree gchar *root_path = ca_path(fx, FST_CA_STORE_ROOT_CERT);
	g_autofree gchar *signed_path = g_build_filename(fx->dir, "signed.pem", NULL);
	g_autofree gchar *wrong_path = g_build_filename(fx->dir, "wrong.pem", NULL);
	g_autofree gchar *offline_root_path = g_build_filename(fx->dir, "offline-root.pem", NULL);
	g_autofree gchar *csr_pem = NULL;
	g_autoptr(EVP_PKEY) root_key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P384, &error);
	g_autoptr(EVP_PKEY) other_key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) signed_cert = NULL;
	g_autoptr(X509) wrong = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(X509_REQ) other_req = NULL;
	STACK_OF(X509_EXTENSION) * exts;
	FstCaStoreOptions r = root_opts;

	(void)user_data;
	r.key_type = FST_KEY_TYPE_EC_P384;
	root = fst_ca_store_make_ca_cert(root_key, &r, NULL, root_key, &error);
	g_assert_no_error(error);
	write_certs(offline_root_path, root, NULL);

	g_assert_true(
	    fst_ca_store_create_csr(fx->ca_dir, &issuing_opts, NULL, NULL, fx->pass, &error));
	g_assert_no_error(error);
	assert_encrypted_key_file(key_path, fx->pass);
	g_assert_false(g_file_test(issuing_path, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_get_contents(csr_path, &csr_pem, NULL, NULL));
	bio = BIO_new_mem_buf(csr_pem, -1);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	g_assert_nonnull(req);
	g_assert_cmpint(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), ==, 1);
	/* the request asks for CA:TRUE pathlen 0 and keyCertSign + cRLSign, both critical */
	exts = X509_REQ_get_extensions(req);
	g_assert_cmpint(sk_X509_EXTENSION_num(exts), ==, 2);
	g_assert_cmpint(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 0))),
	                ==,
	                NID_basic_constraints);
	g_assert_true(X509_EXTENSION_get_critical(sk_X509_EXTENSION_value(exts, 0)));
	g_assert_cmpint(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 1))),
	                ==,
	                NID_key_usage);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	/* no second request over the first */
	g_assert_false(
	    fst_ca_store_create_csr(fx->ca_dir, &issuing_opts, NULL, NULL, fx->pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);

	/* a certificate for another key is refused */
	other_req = X509_REQ_new();
	X509_REQ_set_pubkey(other_req, other_key);
	wrong = offline_sign(other_req, root, root_key);
	write_certs(wrong_path, wrong, NULL);
	g_assert_false(
	    fst_ca_store_install(fx->ca_dir, wrong_path, offline_root_path, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(g_file_test(issuing_path, G_FILE_TEST_EXISTS));

	/* without the chain it is refused; with a chain that did not sign it too */
	signed_cert = offline_sign(req, root, root_key);
	write_certs(signed_path, signed_cert, NULL);
	g_assert_false(fst_ca_store_install(fx->ca_dir, signed_path, NULL, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_ca_store_install(fx->ca_dir, signed_path, wrong_path, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(g_file_test(issuing_path, G_FILE_TEST_EXISTS));

	g_assert_true(
	    fst_ca_store_install(fx->ca_dir, signed_path, offline_root_path, NULL, &error));
	g_assert_no_error(error);
	ca = fst_ca_load(issuing_path, key_path, root_path, fx->pass, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	/* installed once only */
	g_assert_false(
	    fst_ca_store_install(fx->ca_dir, signed_path, offline_root_path, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
}

typedef enum { IMPORT_PEM, IMPORT_PEM_ENCRYPTED, IMPORT_DER, IMPORT_PKCS12 } ImportKind;

static void
test_import(Fixture *fx, gconstpointer user_data)
{
	ImportKind kind = GPOINTER_TO_UINT(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) root_key = fst_ca_store_generate_key(FST_KEY_TYPE_RSA_2048, &error);
	g_autoptr(EVP_PKEY) key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P384, &error);
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(EVP_PKEY) read_key = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(FstSecret) in_pass = fst_secret_new((const guint8 *)"import-pass", 11);
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autofree gchar *in_path = g_build_filename(fx->dir, "in.key", NULL);
	g_autofree gchar *cert_path = g_build_filename(fx->dir, "in.pem", NULL);
	g_autofree gchar *issuing_path = ca_path(fx, FST_CA_STORE_ISSUING_CERT);
	g_autofree gchar *key_path = ca_path(fx, FST_CA_STORE_ISSUING_KEY);
	g_autofree gchar *root_path = ca_path(fx, FST_CA_STORE_ROOT_CERT);
	FstCaStoreOptions r = root_opts;
	FstCaStoreOptions i = issuing_opts;
	BUF_MEM *mem = NULL;

	r.key_type = FST_KEY_TYPE_RSA_2048;
	root = fst_ca_store_make_ca_cert(root_key, &r, NULL, root_key, &error);
	g_assert_no_error(error);
	cert = fst_ca_store_make_ca_cert(key, &i, root, root_key, &error);
	g_assert_no_error(error);

	switch (kind) {
	case IMPORT_PEM:
		g_assert_cmpint(
		    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
		break;
	case IMPORT_PEM_ENCRYPTED:
		g_assert_cmpint(PEM_write_bio_PKCS8PrivateKey(
		                    bio, key, EVP_aes_128_cbc(), "import-pass", 11, NULL, NULL),
		                ==,
		                1);
		break;
	case IMPORT_DER:
		g_assert_cmpint(i2d_PKCS8PrivateKey_bio(
		                    bio, key, EVP_aes_256_cbc(), "import-pass", 11, NULL, NULL),
		                ==,
		                1);
		break;
	case IMPORT_PKCS12: {
		STACK_OF(X509) *ca_stack = sk_X509_new_null();
		g_autoptr(PKCS12) p12 = NULL;
		sk_X509_push(ca_stack, root);
		p12 = PKCS12_create("import-pass", "ca", key, cert, ca_stack, 0, 0, 0, 0, 0);
		sk_X509_free(ca_stack);
		g_assert_nonnull(p12);
		g_assert_cmpint(i2d_PKCS12_bio(bio, p12), ==, 1);
		break;
	}
	default:
		g_assert_not_reached();
	}
	BIO_get_mem_ptr(bio, &mem);
	g_assert_true(g_file_set_contents(in_path, mem->data, (gssize)mem->length, NULL));

	if (kind == IMPORT_PKCS12) {
		g_autoptr(FstSecret) wrong = fst_secret_new((const guint8 *)"nope", 4);
		g_assert_false(fst_ca_store_read_pkcs12(in_path, wrong, &read_key, &certs, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
		g_clear_error(&error);
		g_assert_true(
		    fst_ca_store_read_pkcs12(in_path, in_pass, &read_key, &certs, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(certs->len, ==, 2);
	} else {
		if (kind != IMPORT_PEM) {
			g_assert_null(fst_ca_store_read_key(in_path, NULL, &error));
			g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
			g_clear_error(&error);
		}
		read_key = fst_ca_store_read_key(in_path, in_pass, &error);
		g_assert_no_error(error);
		write_certs(cert_path, cert, root);
		certs = fst_ca_store_read_certs(cert_path, &error);
		g_assert_no_error(error);
	}
	g_assert_nonnull(read_key);

	/* a key that is not the certificate's is refused, and nothing is written */
	{
		g_autoptr(GPtrArray) just_root = g_ptr_array_new();
		g_ptr_array_add(just_root, cert);
		g_assert_false(fst_ca_store_import(
		    fx->ca_dir, just_root, root_key, NULL, NULL, fx->pass, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_clear_error(&error);
		g_assert_false(g_file_test(key_path, G_FILE_TEST_EXISTS));
	}

	g_assert_true(
	    fst_ca_store_import(fx->ca_dir, certs, read_key, NULL, NULL, fx->pass, &error));
	g_assert_no_error(error);
	/* stored re-encrypted with the station passphrase, never in clear */
	assert_encrypted_key_file(key_path, fx->pass);
	ca = fst_ca_load(issuing_path, key_path, root_path, fx->pass, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	g_assert_cmpint(X509_cmp(fst_ca_get_cert(ca), cert), ==, 0);
}

static void
test_import_refuses_non_ca(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) leaf = X509_new();
	g_autoptr(X509_NAME) name = fst_ca_store_parse_subject("/CN=not a CA", &error);
	g_autoptr(X509_EXTENSION) bc = NULL;
	g_autoptr(GPtrArray) certs = g_ptr_array_new();
	X509V3_CTX ctx;

	(void)user_data;
	/* a self-signed end-entity certificate (CA:FALSE) with the key we hold */
	X509_set_version(leaf, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(leaf), 7);
	X509_set_subject_name(leaf, name);
	X509_set_issuer_name(leaf, name);
	X509_set_pubkey(leaf, key);
	X509_gmtime_adj(X509_getm_notBefore(leaf), -60);
	X509_gmtime_adj(X509_getm_notAfter(leaf), 86400);
	X509V3_set_ctx(&ctx, leaf, leaf, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
	X509_add_ext(leaf, bc, -1);
	g_assert_cmpint(X509_sign(leaf, key, EVP_sha256()), >, 0);
	g_ptr_array_add(certs, leaf);
	g_assert_false(fst_ca_store_import(fx->ca_dir, certs, key, NULL, NULL, fx->pass, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "not a CA certificate"));
	g_assert_false(g_file_test(fx->ca_dir, G_FILE_TEST_EXISTS));
}

static void
test_verification_cert(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) ca = NULL;
	g_autoptr(X509) cert = NULL;
	const gchar *code = "8c1b4b7f21e6bf6a2b1e14d4fbe5a4a3d0d3a8f0a54a1d27d92f4b9f3c2e1d0a";
	gchar cn[128] = {0};
	g_autofree gchar *long_code = g_strnfill(65, 'a');

	(void)fx;
	(void)user_data;
	ca = fst_ca_store_make_ca_cert(key, &root_opts, NULL, key, &error);
	g_assert_no_error(error);
	cert = fst_ca_store_make_verification_cert(code, ca, key, &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)),
	    ==,
	    64);
	g_assert_cmpstr(cn, ==, code);
	g_assert_cmpint(X509_NAME_entry_count(X509_get_subject_name(cert)), ==, 1);
	g_assert_cmpint(
	    X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)), ==, 0);
	g_assert_cmpint(X509_verify(cert, key), ==, 1);
	g_assert_cmpint(X509_check_ca(cert), ==, 0);
	g_assert_false(EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1);

	g_assert_null(fst_ca_store_make_verification_cert("abc def", ca, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_null(fst_ca_store_make_verification_cert("", ca, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_null(fst_ca_store_make_verification_cert(long_code, ca, key, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

static void
test_expiry_warning(void)
{
	gint64 now = 1800000000;
	g_autofree gchar *expired = fst_ca_store_expiry_warning(now - 1, 0, now);
	g_autofree gchar *soon = fst_ca_store_expiry_warning(now + 89 * 86400, 0, now);
	g_autofree gchar *one_day = fst_ca_store_expiry_warning(now + 86400 + 5, 0, now);
	g_autofree gchar *today = fst_ca_store_expiry_warning(now + 86399, 0, now);
	g_autofree gchar *ok = fst_ca_store_expiry_warning(now + 91 * 86400, now + 30 * 86400, now);
	g_autofree gchar *profile =
	    fst_ca_store_expiry_warning(now + 365 * 86400, now + 730 * 86400, now);
	g_autofree gchar *profile_ok =
	    fst_ca_store_expiry_warning(now + 365 * 86400, now + 365 * 86400, now);
	/* a fixed-end profile (AWS's 2049-12-31T23:59:59Z) past a CA ending in 2030 */
	g_autofree gchar *fixed = fst_ca_store_expiry_warning(1893456000, 2524607999, now);

	g_assert_nonnull(strstr(expired, "expired"));
	g_assert_nonnull(strstr(soon, "in 89 days: renew it soon"));
	g_assert_nonnull(strstr(one_day, ", in 1 day: renew it soon"));
	g_assert_nonnull(strstr(today, ", in less than a day: renew it now"));
	g_assert_null(ok);
	g_assert_nonnull(strstr(profile, "before a device certificate issued now would"));
	g_assert_null(profile_ok);
	g_assert_cmpstr(fixed,
	                ==,
	                "the issuing CA ends on 2030-01-01 00:00:00Z, before a device certificate "
	                "issued now would (2049-12-31 23:59:59Z): renew it or shorten the "
	                "profile's validity");
}

static void
test_crl_reasons(void)
{
	g_assert_cmpint(
	    fst_ca_crl_reason_from_string("keyCompromise"), ==, CRL_REASON_KEY_COMPROMISE);
	g_assert_cmpint(
	    fst_ca_crl_reason_from_string("key-compromise"), ==, CRL_REASON_KEY_COMPROMISE);
	g_assert_cmpint(fst_ca_crl_reason_from_string("SUPERSEDED"), ==, CRL_REASON_SUPERSEDED);
	g_assert_cmpint(fst_ca_crl_reason_from_string("cessation-of-operation"),
	                ==,
	                CRL_REASON_CESSATION_OF_OPERATION);
	g_assert_cmpint(fst_ca_crl_reason_from_string("certificateHold"), ==, -1);
	g_assert_cmpint(fst_ca_crl_reason_from_string("removeFromCRL"), ==, -1);
	g_assert_cmpint(fst_ca_crl_reason_from_string("nonsense"), ==, -1);
	g_assert_cmpint(fst_ca_crl_reason_from_string(NULL), ==, -1);
	g_assert_cmpstr(fst_ca_crl_reason_to_string(CRL_REASON_AA_COMPROMISE), ==, "aACompromise");
}

/* records a leaf issued by @ca in the database, as the pipeline does */
static gchar *
record_cert(FstDb *db, FstCa *ca, const gchar *uid, const gchar *issuer_sha256)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) leaf = fst_ca_store_make_verification_cert(
	    "LEAF", fst_ca_get_cert(ca), fst_ca_get_key(ca), &error);
	guint8 *der = NULL;
	int der_len = i2d_X509(leaf, &der);
	g_autofree gchar *uid_copy = g_strdup(uid);
	g_autofree gchar *model = g_strdup("m");
	g_autofree gchar *fw = g_strdup("1");
	g_autofree gchar *subject = g_strdup("CN=LEAF");
	g_autofree gchar *key_type = g_strdup("ec-p256");
	g_autofree gchar *issuer = g_strdup(issuer_sha256);
	g_autofree gchar *profile = g_strdup("test");
	FstDeviceInfo info = {.uid = uid_copy, .model = model, .firmware = fw};
	g_autoptr(BIGNUM) bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	char *hex_ossl = BN_bn2hex(bn);
	g_autofree gchar *hex = g_strdup(hex_ossl);
	g_autoptr(GBytes) bytes = g_bytes_new(der, (gsize)der_len);
	FstDbCert cert = {0};
	gint64 device_id;

	g_assert_no_error(error);
	OPENSSL_free(hex_ossl);
	OPENSSL_free(der);
	device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
	g_assert_no_error(error);
	cert.serial_hex = hex;
	cert.der = bytes;
	cert.subject = subject;
	cert.key_type = key_type;
	cert.not_before = 1;
	cert.not_after = 2;
	cert.issuer_sha256 = issuer;
	cert.profile = profile;
	g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&hex);
}

static void
test_crl(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issuing_path = ca_path(fx, FST_CA_STORE_ISSUING_CERT);
	g_autofree gchar *key_path = ca_path(fx, FST_CA_STORE_ISSUING_KEY);
	g_autofree gchar *root_path = ca_path(fx, FST_CA_STORE_ROOT_CERT);
	g_autofree gchar *db_path = g_build_filename(fx->dir, "station.db", NULL);
	g_autofree gchar *issuer_sha256 = NULL;
	g_autofree gchar *s1 = NULL;
	g_autofree gchar *s2 = NULL;
	g_autofree gchar *s3 = NULL;
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) revoked = NULL;
	g_autoptr(GBytes) crl_der = NULL;
	g_autoptr(GBytes) ca_der = NULL;
	g_autoptr(X509_CRL) crl = NULL;
	FstDbCertFilter filter = {0};
	STACK_OF(X509_REVOKED) * entries;
	const guint8 *p;
	gsize len = 0;
	guint64 n1 = 0, n2 = 0;

	(void)user_data;
	g_assert_true(fst_ca_store_create(
	    fx->ca_dir, &root_opts, &issuing_opts, NULL, NULL, fx->pass, &error));
	g_assert_no_error(error);
	ca = fst_ca_load(issuing_path, key_path, root_path, fx->pass, &error);
	g_assert_no_error(error);
	ca_der = fst_ca_get_cert_der(ca);
	issuer_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, ca_der);
	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	s1 = record_cert(db, ca, "DEV-1", issuer_sha256);
	s2 = record_cert(db, ca, "DEV-2", issuer_sha256);
	s3 = record_cert(db, ca, "DEV-3", issuer_sha256);
	g_assert_true(fst_db_revoke_certificate(db, s1, "keyCompromise", &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_revoke_certificate(db, s3, "unspecified", &error));
	g_assert_no_error(error);
	g_assert_cmpint(fst_db_count_certificates_by_issuer(db, issuer_sha256, &error), ==, 3);

	filter.state = "revoked";
	filter.issuer_sha256 = issuer_sha256;
	revoked = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(revoked->len, ==, 2);
	g_assert_true(fst_ca_crl_next_number(fx->ca_dir, &n1, &error));
	g_assert_true(fst_ca_crl_next_number(fx->ca_dir, &n2, &error));
	g_assert_cmpuint(n1, ==, 1);
	g_assert_cmpuint(n2, ==, 2);
	crl_der = fst_ca_crl_build(ca, revoked, n2, 7, &error);
	g_assert_no_error(error);

	p = g_bytes_get_data(crl_der, &len);
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	g_assert_nonnull(crl);
	g_assert_cmpint(X509_CRL_verify(crl, X509_get0_pubkey(fst_ca_get_cert(ca))), ==, 1);
	g_assert_cmpint(X509_CRL_get_version(crl), ==, X509_CRL_VERSION_2);
	g_assert_cmpint(
	    X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(fst_ca_get_cert(ca))),
	    ==,
	    0);
	{
		g_autoptr(ASN1_INTEGER) num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		AUTHORITY_KEYID *akid =
		    X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
		g_assert_cmpint(ASN1_INTEGER_get(num), ==, 2);
		g_assert_nonnull(akid);
		g_assert_cmpint(ASN1_OCTET_STRING_cmp(
		                    akid->keyid, X509_get0_subject_key_id(fst_ca_get_cert(ca))),
		                ==,
		                0);
		AUTHORITY_KEYID_free(akid);
	}
	entries = X509_CRL_get_REVOKED(crl);
	g_assert_cmpint(sk_X509_REVOKED_num(entries), ==, 2);
	for (int i = 0; i < sk_X509_REVOKED_num(entries); i++) {
		X509_REVOKED *rev = sk_X509_REVOKED_value(entries, i);
		g_autoptr(BIGNUM) bn =
		    ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(rev), NULL);
		char *hex = BN_bn2hex(bn);
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		g_assert_true(g_strcmp0(hex, s1) == 0 || g_strcmp0(hex, s3) == 0);
		g_assert_cmpstr(hex, !=, s2);
		if (g_strcmp0(hex, s1) == 0) {
			g_assert_nonnull(reason);
			g_assert_cmpint(ASN1_ENUMERATED_get(reason), ==, CRL_REASON_KEY_COMPROMISE);
		} else {
			/* unspecified is left out (RFC 5280 5.3.1) */
			g_assert_null(reason);
		}
		ASN1_ENUMERATED_free(reason);
		OPENSSL_free(hex);
	}
}

static void
test_pkcs11_refs(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ref = g_build_filename(fx->dir, "ref.key", NULL);
	g_autofree gchar *pem = g_build_filename(fx->dir, "pem.key", NULL);
	g_autofree gchar *uri = NULL;
	g_autoptr(EVP_PKEY) key = NULL;

	(void)user_data;
	g_assert_true(g_file_set_contents(ref, "pkcs11:token=t;object=k;type=private\n", -1, NULL));
	g_assert_true(
	    g_file_set_contents(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n", -1, NULL));
	g_assert_true(fst_ca_pkcs11_is_ref("pkcs11:token=t"));
	g_assert_true(fst_ca_pkcs11_is_ref(ref));
	g_assert_false(fst_ca_pkcs11_is_ref(pem));
	g_assert_false(fst_ca_pkcs11_is_ref("/nonexistent"));
	uri = fst_ca_pkcs11_read_ref(ref, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(uri, ==, "pkcs11:token=t;object=k;type=private");
	/* a PIN in the URI, or a URI that is not one, is refused before any token is opened */
	g_assert_null(fst_ca_pkcs11_read_ref("pkcs11:token=t;object=k;pin-value=1234", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "holds the PIN"));
	g_clear_error(&error);
	g_assert_null(fst_ca_pkcs11_read_ref("pkcs11:token=my token", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	g_assert_null(fst_ca_pkcs11_read_ref(pem, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	/* no PIN at all */
	key = fst_ca_pkcs11_load_key("pkcs11:token=t;object=k", NULL, &error);
	g_assert_null(key);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "no PIN"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/ca-store/create/ec-p256",
	           Fixture,
	           GUINT_TO_POINTER(FST_KEY_TYPE_EC_P256),
	           fixture_setup,
	           test_create,
	           fixture_teardown);
	g_test_add("/fst/ca-store/create/ec-p384",
	           Fixture,
	           GUINT_TO_POINTER(FST_KEY_TYPE_EC_P384),
	           fixture_setup,
	           test_create,
	           fixture_teardown);
	g_test_add("/fst/ca-store/create/ec-p521",
	           Fixture,
	           GUINT_TO_POINTER(FST_KEY_TYPE_EC_P521),
	           fixture_setup,
	           test_create,
	           fixture_teardown);
	g_test_add("/fst/ca-store/create/rsa-2048",
	           Fixture,
	           GUINT_TO_POINTER(FST_KEY_TYPE_RSA_2048),
	           fixture_setup,
	           test_create,
	           fixture_teardown);
	if (g_getenv("FST_TEST_SLOW") != NULL) {
		g_test_add("/fst/ca-store/create/rsa-3072",
		           Fixture,
		           GUINT_TO_POINTER(FST_KEY_TYPE_RSA_3072),
		           fixture_setup,
		           test_create,
		           fixture_teardown);
		g_test_add("/fst/ca-store/create/rsa-4096",
		           Fixture,
		           GUINT_TO_POINTER(FST_KEY_TYPE_RSA_4096),
		           fixture_setup,
		           test_create,
		           fixture_teardown);
	}
	g_test_add("/fst/ca-store/create/refuses-overwrite",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_create_refuses_overwrite,
	           fixture_teardown);
	g_test_add("/fst/ca-store/create/options-and-refusals",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_create_options,
	           fixture_teardown);
	g_test_add("/fst/ca-store/csr-install",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_csr_install,
	           fixture_teardown);
	g_test_add("/fst/ca-store/import/pem",
	           Fixture,
	           GUINT_TO_POINTER(IMPORT_PEM),
	           fixture_setup,
	           test_import,
	           fixture_teardown);
	g_test_add("/fst/ca-store/import/pem-encrypted-pkcs8",
	           Fixture,
	           GUINT_TO_POINTER(IMPORT_PEM_ENCRYPTED),
	           fixture_setup,
	           test_import,
	           fixture_teardown);
	g_test_add("/fst/ca-store/import/der-encrypted-pkcs8",
	           Fixture,
	           GUINT_TO_POINTER(IMPORT_DER),
	           fixture_setup,
	           test_import,
	           fixture_teardown);
	g_test_add("/fst/ca-store/import/pkcs12",
	           Fixture,
	           GUINT_TO_POINTER(IMPORT_PKCS12),
	           fixture_setup,
	           test_import,
	           fixture_teardown);
	g_test_add("/fst/ca-store/import/refuses-non-ca",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_import_refuses_non_ca,
	           fixture_teardown);
	g_test_add("/fst/ca-store/verification-cert",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_verification_cert,
	           fixture_teardown);
	g_test_add_func("/fst/ca-store/expiry-warning", test_expiry_warning);
	g_test_add("/fst/ca-store/pkcs11-refs",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_pkcs11_refs,
	           fixture_teardown);
	g_test_add_func("/fst/ca-crl/reasons", test_crl_reasons);
	g_test_add(
	    "/fst/ca-crl/build-from-db", Fixture, NULL, fixture_setup, test_crl, fixture_teardown);
	return g_test_run();
}
