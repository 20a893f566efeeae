#define G_LOG_DOMAIN "FstTrustTest"

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-trust.h"

static FstTrustCatalogue *fst_test_catalogue = NULL;

static gchar *
fst_test_trust_dir(void)
{
	const gchar *dir = g_getenv("FST_TEMPLATES_DIR");
	return g_build_filename(dir != NULL ? dir : FST_TEST_TEMPLATES_DIR, "trust", NULL);
}

/* copies the shipped catalogue to a temporary directory to be tampered with */
static gchar *
fst_test_copy_catalogue(void)
{
	g_autofree gchar *src = fst_test_trust_dir();
	g_autoptr(GDir) dir = g_dir_open(src, 0, NULL);
	gchar *dst = g_dir_make_tmp("fst-trust-XXXXXX", NULL);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *from = g_build_filename(src, name, NULL);
		g_autofree gchar *to = g_build_filename(dst, name, NULL);
		g_autofree gchar *contents = NULL;
		gsize len = 0;
		if (!g_file_test(from, G_FILE_TEST_IS_REGULAR))
			continue;
		g_assert_true(g_file_get_contents(from, &contents, &len, NULL));
		g_assert_true(g_file_set_contents(to, contents, (gssize)len, NULL));
	}
	return dst;
}

static void
fst_test_remove_catalogue(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		g_remove(child);
	}
	g_rmdir(path);
}

static void
fst_test_catalogue_load(void)
{
	static const struct {
		const gchar *name;
		const gchar *sha256;
		guint validation;
		guint key_bits;
		FstTrustRole role;
		gsize der_size;
		gsize pem_size;
	} expected[] = {
	    {"AmazonRootCA1",
	     "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
	     FST_VALIDATION_RSA_PKCS1,
	     2048,
	     FST_TRUST_ROLE_ATS_PRIMARY,
	     837,
	     1188},
	    {"AmazonRootCA2",
	     "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
	     FST_VALIDATION_RSA_PKCS1,
	     4096,
	     FST_TRUST_ROLE_ATS_RESERVED,
	     1349,
	     1883},
	    {"AmazonRootCA3",
	     "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
	     FST_VALIDATION_ECDSA_P256,
	     256,
	     FST_TRUST_ROLE_ATS_PRIMARY,
	     442,
	     656},
	    {"AmazonRootCA4",
	     "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
	     FST_VALIDATION_ECDSA_P384,
	     384,
	     FST_TRUST_ROLE_ATS_RESERVED,
	     502,
	     737},
	    {"SFSRootCAG2",
	     "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
	     FST_VALIDATION_RSA_PKCS1,
	     2048,
	     FST_TRUST_ROLE_ATS_STARFIELD,
	     1011,
	     1424},
	    {"VeriSign-Class3-Public-Primary-Certification-Authority-G5",
	     "9acfab7e43c8d880d06b262a94deeee4b4659989c3d0caf19baf6405e41ab7df",
	     FST_VALIDATION_RSA_PKCS1,
	     2048,
	     FST_TRUST_ROLE_LEGACY,
	     1239,
	     1732},
	};
	g_autofree gchar *dir = fst_test_trust_dir();

	g_assert_cmpint(
	    fst_trust_catalogue_get_roots(fst_test_catalogue)->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		const FstTrustRoot *root =
		    fst_trust_catalogue_find(fst_test_catalogue, expected[i].name);
		g_autofree gchar *file = g_strdup_printf("%s.pem", expected[i].name);
		g_autofree gchar *path = g_build_filename(dir, file, NULL);
		g_autofree gchar *contents = NULL;
		gsize len = 0;
		g_autoptr(GPtrArray) one = g_ptr_array_new();
		g_autoptr(GBytes) pem = NULL;

		g_assert_nonnull(root);
		g_assert_cmpstr(root->sha256, ==, expected[i].sha256);
		g_assert_cmpuint(root->validation, ==, expected[i].validation);
		g_assert_cmpuint(root->key_bits, ==, expected[i].key_bits);
		g_assert_cmpint(root->role, ==, expected[i].role);
		g_assert_nonnull(root->cert);
		g_assert_cmpuint(g_bytes_get_size(root->der), ==, expected[i].der_size);
		g_assert_cmpuint(fst_trust_root_encoded_size(root, FST_CRED_FORMAT_DER),
		                 ==,
		                 expected[i].der_size);
		g_assert_cmpuint(fst_trust_root_encoded_size(root, FST_CRED_FORMAT_PEM),
		                 ==,
		                 expected[i].pem_size);

		/* the PEM we write is byte for byte the canonical file */
		for (guint j = 0; j < fst_trust_catalogue_get_roots(fst_test_catalogue)->len; j++) {
			FstTrustRoot *r =
			    g_ptr_array_index(fst_trust_catalogue_get_roots(fst_test_catalogue), j);
			if (r == root)
				g_ptr_array_add(one, r);
		}
		g_assert_cmpint(one->len, ==, 1);
		pem = fst_trust_roots_encode(one, FST_CRED_FORMAT_PEM);
		g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
		g_assert_cmpmem(g_bytes_get_data(pem, NULL), g_bytes_get_size(pem), contents, len);
	}
	g_assert_null(fst_trust_catalogue_find(fst_test_catalogue, "NoSuchRoot"));
}

static void
fst_test_catalogue_tampered(void)
{
	g_autofree gchar *dir = fst_test_copy_catalogue();
	g_autofree gchar *path = g_build_filename(dir, "AmazonRootCA3.pem", NULL);
	g_autoptr(BIO) in = BIO_new_file(path, "r");
	g_autoptr(X509) cert = PEM_read_bio_X509(in, NULL, NULL, NULL);
	g_autoptr(BIO) out = BIO_new(BIO_s_mem());
	g_autoptr(X509) changed = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = NULL;
	guint8 *der = NULL;
	const guint8 *p;
	int der_len;
	BUF_MEM *mem = NULL;

	/* change one byte of the signature: the file still parses, the hash differs */
	der_len = i2d_X509(cert, &der);
	der[der_len - 1] ^= 0x01;
	p = der;
	changed = d2i_X509(NULL, &p, der_len);
	OPENSSL_free(der);
	g_assert_nonnull(changed);
	PEM_write_bio_X509(out, changed);
	BIO_get_mem_ptr(out, &mem);
	g_assert_true(g_file_set_contents(path, mem->data, (gssize)mem->length, NULL));

	catalogue = fst_trust_catalogue_load(dir, &error);
	g_assert_null(catalogue);
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "AmazonRootCA3.pem"));
	g_assert_nonnull(strstr(
	    error->message, "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4"));
	fst_test_remove_catalogue(dir);
}

static void
fst_test_catalogue_unlisted(void)
{
	g_autofree gchar *dir = fst_test_copy_catalogue();
	g_autofree gchar *src = g_build_filename(dir, "AmazonRootCA1.pem", NULL);
	g_autofree gchar *dst = g_build_filename(dir, "Planted.pem", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = NULL;

	g_assert_true(g_file_get_contents(src, &contents, NULL, NULL));
	g_assert_true(g_file_set_contents(dst, contents, -1, NULL));
	catalogue = fst_trust_catalogue_load(dir, &error);
	g_assert_null(catalogue);
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "Planted.pem"));
	g_assert_nonnull(strstr(
	    error->message, "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"));
	fst_test_remove_catalogue(dir);
}

static void
fst_test_catalogue_missing_file(void)
{
	g_autofree gchar *dir = fst_test_copy_catalogue();
	g_autofree gchar *path = g_build_filename(dir, "AmazonRootCA4.pem", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstTrustCatalogue) catalogue = NULL;

	g_assert_cmpint(g_remove(path), ==, 0);
	catalogue = fst_trust_catalogue_load(dir, &error);
	g_assert_null(catalogue);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "AmazonRootCA4.pem"));
	fst_test_remove_catalogue(dir);
}

static void
fst_test_catalogue_bad_list(void)
{
	const gchar *lists[] = {
	    "not-a-hash  AmazonRootCA1.pem  ats-primary\n",
	    "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e  ../x.pem  "
	    "ats-primary\n",
	    "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e  AmazonRootCA1.pem  "
	    "vip\n",
	    "# empty\n",
	};
	for (guint i = 0; i < G_N_ELEMENTS(lists); i++) {
		g_autofree gchar *dir = g_dir_make_tmp("fst-trust-XXXXXX", NULL);
		g_autofree gchar *path = g_build_filename(dir, "roots.list", NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(FstTrustCatalogue) catalogue = NULL;
		g_assert_true(g_file_set_contents(path, lists[i], -1, NULL));
		catalogue = fst_trust_catalogue_load(dir, &error);
		g_assert_null(catalogue);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(strstr(error->message, "roots.list"));
		fst_test_remove_catalogue(dir);
	}
}

/* "AmazonRootCA3,AmazonRootCA1" */
static gchar *
fst_test_select(gboolean legacy,
                gboolean reserved,
                gboolean starfield,
                guint validation,
                FstCredFormat format,
                guint32 budget,
                GError **error)
{
	FstTrustOptions options = {
	    .endpoint = legacy ? FST_TRUST_ENDPOINT_LEGACY : FST_TRUST_ENDPOINT_ATS,
	    .include_reserved = reserved,
	    .include_starfield = starfield,
	};
	g_autoptr(GPtrArray) roots =
	    fst_trust_select(fst_test_catalogue, &options, validation, format, budget, error);
	g_autoptr(GString) str = g_string_new(NULL);
	gsize total = 0;
	gsize prev = 0;

	if (roots == NULL)
		return NULL;
	for (guint i = 0; i < roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(roots, i);
		gsize size = fst_trust_root_encoded_size(root, format);
		/* smallest first, within budget, each one usable by the device */
		g_assert_cmpuint(size, >=, prev);
		g_assert_true((root->validation & validation) != 0);
		prev = size;
		total += size;
		if (str->len > 0)
			g_string_append_c(str, ',');
		g_string_append(str, root->name);
	}
	g_assert_cmpuint(total, <=, budget);
	{
		g_autoptr(GBytes) blob = fst_trust_roots_encode(roots, format);
		g_assert_cmpuint(g_bytes_get_size(blob), ==, total);
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

#define RSA FST_VALIDATION_RSA_PKCS1
#define P256 FST_VALIDATION_ECDSA_P256
#define P384 FST_VALIDATION_ECDSA_P384
#define PEM FST_CRED_FORMAT_PEM
#define DER FST_CRED_FORMAT_DER
#define ROOMY 65536

static void
fst_test_select_matrix(void)
{
	static const struct {
		gboolean legacy;
		gboolean reserved;
		gboolean starfield;
		guint validation;
		FstCredFormat format;
		guint32 budget;
		const gchar *expected;
	} cases[] = {
	    /* RSA-only device: never CA 3 or 4 */
	    {FALSE, FALSE, FALSE, RSA, PEM, ROOMY, "AmazonRootCA1"},
	    {FALSE, TRUE, FALSE, RSA, PEM, ROOMY, "AmazonRootCA1,AmazonRootCA2"},
	    /* ECC P-256 only: never CA 1 or 2; CA 4 needs P-384 */
	    {FALSE, FALSE, FALSE, P256, PEM, ROOMY, "AmazonRootCA3"},
	    {FALSE, TRUE, FALSE, P256, PEM, ROOMY, "AmazonRootCA3"},
	    /* ECC P-256 + P-384 with reserved */
	    {FALSE, TRUE, FALSE, P256 | P384, PEM, ROOMY, "AmazonRootCA3,AmazonRootCA4"},
	    {FALSE, FALSE, FALSE, P256 | P384, PEM, ROOMY, "AmazonRootCA3"},
	    /* both: CA 1 and CA 3, smallest first */
	    {FALSE, FALSE, FALSE, RSA | P256, PEM, ROOMY, "AmazonRootCA3,AmazonRootCA1"},
	    {FALSE,
	     TRUE,
	     FALSE,
	     RSA | P256 | P384,
	     PEM,
	     ROOMY,
	     "AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,AmazonRootCA2"},
	    /* starfield option: an RSA root, only for devices that do RSA */
	    {FALSE, FALSE, TRUE, RSA | P256, PEM, ROOMY, "AmazonRootCA3,AmazonRootCA1,SFSRootCAG2"},
	    {FALSE, FALSE, TRUE, P256, PEM, ROOMY, "AmazonRootCA3"},
	    /* legacy endpoint: VeriSign G5 only, whatever the options */
	    {TRUE,
	     TRUE,
	     TRUE,
	     RSA | P256,
	     PEM,
	     ROOMY,
	     "VeriSign-Class3-Public-Primary-Certification-Authority-G5"},
	    /* PEM vs DER: 442 + 837 = 1279 DER fits, 656 + 1188 PEM does not */
	    {FALSE, FALSE, FALSE, RSA | P256, DER, 1279, "AmazonRootCA3,AmazonRootCA1"},
	    {FALSE, FALSE, FALSE, RSA | P256, PEM, 1279, "AmazonRootCA3"},
	    {FALSE, FALSE, FALSE, RSA | P256, PEM, 1844, "AmazonRootCA3,AmazonRootCA1"},
	    {FALSE, FALSE, FALSE, RSA, DER, 837, "AmazonRootCA1"},
	    /* tight budgets drop optional roots first: CA 2 (1883) does not fit */
	    {FALSE,
	     TRUE,
	     FALSE,
	     RSA | P256 | P384,
	     PEM,
	     656 + 1188 + 737,
	     "AmazonRootCA3,AmazonRootCA4,AmazonRootCA1"},
	    {FALSE,
	     TRUE,
	     FALSE,
	     RSA | P256 | P384,
	     PEM,
	     656 + 1188 + 736,
	     "AmazonRootCA3,AmazonRootCA1"},
	    {FALSE,
	     TRUE,
	     TRUE,
	     RSA | P256,
	     PEM,
	     656 + 1188 + 1424,
	     "AmazonRootCA3,AmazonRootCA1,SFSRootCAG2"},
	    {FALSE,
	     TRUE,
	     TRUE,
	     RSA | P256,
	     DER,
	     442 + 837 + 1011,
	     "AmazonRootCA3,AmazonRootCA1,SFSRootCAG2"},
	    /* not even the required set fits: the smallest sufficient one */
	    {FALSE, TRUE, TRUE, RSA | P256 | P384, PEM, 700, "AmazonRootCA3"},
	    {FALSE, FALSE, FALSE, RSA | P256, DER, 442, "AmazonRootCA3"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *got = fst_test_select(cases[i].legacy,
		                                        cases[i].reserved,
		                                        cases[i].starfield,
		                                        cases[i].validation,
		                                        cases[i].format,
		                                        cases[i].budget,
		                                        &error);
		g_assert_no_error(error);
		if (g_strcmp0(got, cases[i].expected) != 0)
			g_test_message("case %u", i);
		g_assert_cmpstr(got, ==, cases[i].expected);
	}
}

static void
fst_test_select_nothing_fits(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;

	got = fst_test_select(FALSE, FALSE, FALSE, RSA | P256, PEM, 400, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_true(g_str_has_prefix(
	    error->message,
	    "trust roots need at least 656 bytes (AmazonRootCA3 PEM), device has 400"));
	g_clear_error(&error);

	got = fst_test_select(FALSE, FALSE, FALSE, RSA, PEM, 1000, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_true(g_str_has_prefix(
	    error->message,
	    "trust roots need at least 1188 bytes (AmazonRootCA1 PEM), device has 1000"));
	g_clear_error(&error);

	got = fst_test_select(TRUE, FALSE, FALSE, RSA, DER, 1238, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(error->message, "1239 bytes (VeriSign"));
	g_clear_error(&error);

	got = fst_test_select(FALSE, FALSE, FALSE, RSA | P256, PEM, 0, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
}

static void
fst_test_select_cannot_validate(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;

	/* an ECC-only device cannot reach the legacy (RSA) endpoint */
	got = fst_test_select(TRUE, FALSE, FALSE, P256 | P384, PEM, ROOMY, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	/* nor a P-384-only device the ATS endpoint, whose primary roots are RSA and P-256 */
	got = fst_test_select(FALSE, TRUE, FALSE, P384, PEM, ROOMY, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "ecdsa-p384"));
}

static void
fst_test_encode_der(void)
{
	FstTrustOptions options = {.endpoint = FST_TRUST_ENDPOINT_ATS};
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) roots =
	    fst_trust_select(fst_test_catalogue, &options, RSA | P256, DER, ROOMY, &error);
	g_autoptr(GBytes) blob = NULL;
	const guint8 *p;
	const guint8 *end;
	gsize len = 0;
	guint n = 0;

	g_assert_no_error(error);
	blob = fst_trust_roots_encode(roots, DER);
	p = g_bytes_get_data(blob, &len);
	end = p + len;
	/* concatenated DER parses back certificate by certificate */
	while (p < end) {
		const FstTrustRoot *root = g_ptr_array_index(roots, n);
		g_autoptr(X509) cert = d2i_X509(NULL, &p, end - p);
		g_assert_nonnull(cert);
		g_assert_cmpint(X509_cmp(cert, root->cert), ==, 0);
		n++;
	}
	g_assert_cmpuint(n, ==, 2);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *dir = fst_test_trust_dir();
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	fst_test_catalogue = fst_trust_catalogue_load(dir, &error);
	g_assert_no_error(error);

	g_test_add_func("/fst/trust/catalogue/load", fst_test_catalogue_load);
	g_test_add_func("/fst/trust/catalogue/rejects-tampered-root", fst_test_catalogue_tampered);
	g_test_add_func("/fst/trust/catalogue/rejects-unlisted-root", fst_test_catalogue_unlisted);
	g_test_add_func("/fst/trust/catalogue/rejects-missing-root",
	                fst_test_catalogue_missing_file);
	g_test_add_func("/fst/trust/catalogue/rejects-bad-list", fst_test_catalogue_bad_list);
	g_test_add_func("/fst/trust/select/matrix", fst_test_select_matrix);
	g_test_add_func("/fst/trust/select/nothing-fits", fst_test_select_nothing_fits);
	g_test_add_func("/fst/trust/select/cannot-validate", fst_test_select_cannot_validate);
	g_test_add_func("/fst/trust/encode/der", fst_test_encode_der);
	rc = g_test_run();
	fst_trust_catalogue_free(fst_test_catalogue);
	return rc;
}
