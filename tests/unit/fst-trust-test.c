/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstTrustTest"

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"
#include "fst-trust-report.h"
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

/* "AmazonRootCA3,AmazonRootCA1", with the selection's reason in @reason */
static gchar *
fst_test_select_full(const FstTrustOptions *options,
                     guint validation,
                     FstCredFormat format,
                     guint32 capacity,
                     gchar **reason,
                     GError **error)
{
	g_autoptr(FstTrustSelection) sel = fst_trust_select_explain(
	    fst_test_catalogue, options, validation, format, capacity, error);
	g_autoptr(GString) str = g_string_new(NULL);
	guint32 budget =
	    options->budget > 0 && options->budget < capacity ? options->budget : capacity;
	gsize total = 0;
	gsize prev = 0;
	gboolean usable = FALSE;

	if (sel == NULL)
		return NULL;
	g_assert_nonnull(sel->reason);
	g_assert_cmpstr(sel->reason, !=, "");
	for (guint i = 0; i < sel->roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(sel->roots, i);
		gsize size = fst_trust_root_encoded_size(root, format);
		/* smallest first, unless pinned in the profile's order */
		if (options->roots == NULL)
			g_assert_cmpuint(size, >=, prev);
		if ((root->validation & validation) != 0)
			usable = TRUE;
		prev = size;
		total += size;
		if (str->len > 0)
			g_string_append_c(str, ',');
		g_string_append(str, root->name);
	}
	/* never less than one root the device can validate, never over budget */
	g_assert_true(usable);
	g_assert_cmpuint(total, <=, budget);
	{
		g_autoptr(GBytes) blob = fst_trust_roots_encode(sel->roots, format);
		g_assert_cmpuint(g_bytes_get_size(blob), ==, total);
	}
	if (reason != NULL)
		*reason = g_strdup(sel->reason);
	return g_string_free(g_steal_pointer(&str), FALSE);
}

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
	return fst_test_select_full(&options, validation, format, budget, NULL, error);
}

#define RSA FST_VALIDATION_RSA_PKCS1
#define P256 FST_VALIDATION_ECDSA_P256
#define P384 FST_VALIDATION_ECDSA_P384
#define PEM FST_CRED_FORMAT_PEM
#define DER FST_CRED_FORMAT_DER
#define ROOMY 65536
#define ALL4 "AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,AmazonRootCA2"

/* the decision sequence AWS advises, over device capacities and validation
 * abilities: all ATS roots; over: without the family the device cannot
 * validate; still over: without the reserved roots; still over: the
 * smallest root it validates; then Starfield if asked for and it fits.
 * PEM sizes: CA 1 1188, CA 2 1883, CA 3 656, CA 4 737, Starfield 1424 */
static void
fst_test_select_sequence(void)
{
	static const struct {
		gboolean reserved;
		gboolean starfield;
		guint validation;
		FstCredFormat format;
		guint32 capacity;
		guint32 budget;
		const gchar *expected;
		const gchar *reason;
	} cases[] = {
	    /* everything fits: every ATS root, whatever the device validates */
	    {TRUE,
	     FALSE,
	     RSA,
	     PEM,
	     ROOMY,
	     0,
	     ALL4,
	     "all ATS roots fit: 4,464 of 65,536 bytes free"},
	    {TRUE, FALSE, P256, PEM, 4464, 0, ALL4, "all ATS roots fit: 4,464 of 4,464 bytes free"},
	    {TRUE,
	     FALSE,
	     RSA | P256 | P384,
	     DER,
	     3130,
	     0,
	     ALL4,
	     "all ATS roots fit: 3,130 of 3,130"},
	    /* over: the family the device cannot validate goes */
	    {TRUE,
	     FALSE,
	     RSA,
	     PEM,
	     4463,
	     0,
	     "AmazonRootCA1,AmazonRootCA2",
	     "CA 3/4 omitted: device validates RSA only, 4,463 bytes free, all need 4,464"},
	    {TRUE,
	     FALSE,
	     P256 | P384,
	     PEM,
	     2048,
	     0,
	     "AmazonRootCA3,AmazonRootCA4",
	     "CA 1/2 omitted: device validates ECDSA P-256 and P-384 only, 2,048 bytes free"},
	    {TRUE,
	     FALSE,
	     P256,
	     PEM,
	     1000,
	     0,
	     "AmazonRootCA3",
	     "CA 1/2/4 omitted: device validates ECDSA P-256 only, 1,000 bytes free"},
	    /* still over: the reserved roots go */
	    {TRUE,
	     FALSE,
	     RSA,
	     PEM,
	     2048,
	     0,
	     "AmazonRootCA1",
	     "CA 3/4 omitted: device validates RSA only, 2,048 bytes free, all need 4,464; "
	     "CA 2 omitted: reserved for future use, 2,048 bytes free, with it 3,071 needed"},
	    {TRUE,
	     FALSE,
	     P256 | P384,
	     PEM,
	     1000,
	     0,
	     "AmazonRootCA3",
	     "CA 4 omitted: reserved for future use"},
	    {TRUE,
	     FALSE,
	     RSA | P256 | P384,
	     PEM,
	     4000,
	     0,
	     "AmazonRootCA3,AmazonRootCA1",
	     "CA 2/4 omitted: reserved for future use, 4,000 bytes free, with them 4,464 needed"},
	    /* still over: the smallest root the device validates is enough */
	    {TRUE,
	     FALSE,
	     RSA | P256,
	     PEM,
	     1500,
	     0,
	     "AmazonRootCA3",
	     "CA 1 omitted: CA 3 alone is enough to validate the endpoint, 1,500 bytes free, "
	     "both need 1,844"},
	    {TRUE, FALSE, RSA | P256, DER, 442, 0, "AmazonRootCA3", "CA 1 omitted: CA 3 alone"},
	    /* a profile budget below the capacity counts as the capacity */
	    {TRUE,
	     FALSE,
	     RSA,
	     PEM,
	     ROOMY,
	     2048,
	     "AmazonRootCA1",
	     "CA 3/4 omitted: device validates RSA only, 2,048 bytes allowed by the profile"},
	    {TRUE, FALSE, RSA, PEM, 4000, 8000, "AmazonRootCA1,AmazonRootCA2", "4,000 bytes free"},
	    /* the profile leaves the reserved roots out */
	    {FALSE,
	     FALSE,
	     RSA | P256,
	     PEM,
	     ROOMY,
	     0,
	     "AmazonRootCA3,AmazonRootCA1",
	     "CA 2/4 omitted: the profile leaves out the reserved roots (include-reserved=false)"},
	    /* Starfield: added when asked for, usable and fitting */
	    {TRUE,
	     TRUE,
	     RSA | P256,
	     PEM,
	     ROOMY,
	     0,
	     "AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,SFSRootCAG2,AmazonRootCA2",
	     "all ATS roots fit: 5,888 of 65,536 bytes free"},
	    {TRUE,
	     TRUE,
	     P256,
	     PEM,
	     ROOMY,
	     0,
	     ALL4,
	     "SFSRootCAG2 omitted: device validates ECDSA P-256 only"},
	    {TRUE,
	     TRUE,
	     RSA,
	     PEM,
	     4464,
	     0,
	     ALL4,
	     "SFSRootCAG2 omitted: 4,464 bytes free, with it 5,888 needed"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		FstTrustOptions options = {
		    .endpoint = FST_TRUST_ENDPOINT_ATS,
		    .include_reserved = cases[i].reserved,
		    .include_starfield = cases[i].starfield,
		    .budget = cases[i].budget,
		};
		g_autoptr(GError) error = NULL;
		g_autofree gchar *reason = NULL;
		g_autofree gchar *got = fst_test_select_full(&options,
		                                             cases[i].validation,
		                                             cases[i].format,
		                                             cases[i].capacity,
		                                             &reason,
		                                             &error);
		g_assert_no_error(error);
		g_test_message("case %u: %s: %s", i, got, reason);
		g_assert_cmpstr(got, ==, cases[i].expected);
		g_assert_nonnull(strstr(reason, cases[i].reason));
	}
}

/* the legacy endpoint gets its VeriSign root, whatever the options */
static void
fst_test_select_legacy(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;

	got = fst_test_select(TRUE, TRUE, TRUE, RSA | P256, PEM, ROOMY, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got, ==, "VeriSign-Class3-Public-Primary-Certification-Authority-G5");
}

static void
fst_test_select_nothing_fits(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;
	FstTrustOptions budget = {.endpoint = FST_TRUST_ENDPOINT_ATS, .budget = 500};

	got = fst_test_select(FALSE, TRUE, FALSE, RSA | P256, PEM, 400, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_true(g_str_has_prefix(
	    error->message,
	    "trust roots need at least 656 bytes (AmazonRootCA3 PEM), device has 400"));
	g_clear_error(&error);

	got = fst_test_select(FALSE, TRUE, FALSE, RSA, PEM, 1000, &error);
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

	got = fst_test_select(FALSE, TRUE, FALSE, RSA | P256, PEM, 0, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_clear_error(&error);

	/* the profile's budget, named as such */
	got = fst_test_select_full(&budget, P256, PEM, ROOMY, NULL, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(error->message, "the profile's [trust] budget allows 500"));
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
	/* nor a P-384-only device the ATS endpoint, whose primary roots are RSA and
	 * P-256, even with room for every root */
	got = fst_test_select(FALSE, TRUE, FALSE, P384, PEM, ROOMY, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "ecdsa-p384"));
}

/* a profile's explicit list: exactly those roots, in its order */
static void
fst_test_select_pinned(void)
{
	g_auto(GStrv) both = g_strsplit("AmazonRootCA1;AmazonRootCA3", ";", -1);
	g_auto(GStrv) ecc = g_strsplit("AmazonRootCA3;AmazonRootCA4", ";", -1);
	g_auto(GStrv) unknown = g_strsplit("G2-RootCA1", ";", -1);
	FstTrustOptions options = {.endpoint = FST_TRUST_ENDPOINT_ATS, .include_reserved = TRUE};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;
	g_autofree gchar *reason = NULL;

	options.roots = both;
	got = fst_test_select_full(&options, RSA, PEM, ROOMY, &reason, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got, ==, "AmazonRootCA1,AmazonRootCA3");
	g_assert_cmpstr(reason,
	                ==,
	                "pinned by the profile ([trust] roots); CA 3 burned though the device "
	                "validates RSA only");
	g_clear_pointer(&got, g_free);

	/* over the capacity: refused with the numbers, nothing dropped silently */
	got = fst_test_select_full(&options, RSA | P256, PEM, 1843, NULL, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(error->message, "(CA 1/3) need 1,844 bytes PEM, device has 1,843"));
	g_clear_error(&error);

	/* none the device can validate */
	options.roots = ecc;
	got = fst_test_select_full(&options, RSA, PEM, ROOMY, NULL, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);

	/* a name the catalogue lacks */
	options.roots = unknown;
	got = fst_test_select_full(&options, RSA, PEM, ROOMY, NULL, &error);
	g_assert_null(got);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "G2-RootCA1"));
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

/* a certificate with @subject's name and key, naming @issuer as its issuer
 * and signed by @signer: a cross-sign when @signer is @issuer's key, a
 * forgery otherwise */
static X509 *
fst_test_cross_sign(X509 *subject, X509 *issuer, EVP_PKEY *signer)
{
	g_autoptr(X509) cert = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	g_assert_cmpint(X509_set_version(cert, X509_VERSION_3), ==, 1);
	g_assert_cmpint(
	    ASN1_INTEGER_set(X509_get_serialNumber(cert), g_random_int() & 0x7fffffff), ==, 1);
	g_assert_cmpint(X509_set_subject_name(cert, X509_get_subject_name(subject)), ==, 1);
	g_assert_cmpint(X509_set_issuer_name(cert, X509_get_subject_name(issuer)), ==, 1);
	g_assert_cmpint(X509_set_pubkey(cert, X509_get0_pubkey(subject)), ==, 1);
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
	g_assert_nonnull(X509_time_adj_ex(X509_getm_notAfter(cert), 3650, 0, NULL));
	X509V3_set_ctx(&ctx, NULL, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	g_assert_nonnull(ext);
	g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
	X509_EXTENSION_free(ext);
	g_assert_cmpint(X509_sign(cert, signer, EVP_sha256()), >, 0);
	return g_steal_pointer(&cert);
}

static void
fst_test_write_cert(const gchar *dir, const gchar *name, X509 *cert)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(BIO) bio = BIO_new_file(path, "w");
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
}

static gchar *
fst_test_der_sha256(X509 *cert)
{
	guint8 *der = NULL;
	int len = i2d_X509(cert, &der);
	gchar *sha;
	g_assert_cmpint(len, >, 0);
	sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, (gsize)len);
	OPENSSL_free(der);
	return sha;
}

/* a catalogue of two test roots: "TestRootA" (ATS primary) and "TestRootS"
 * (the Starfield role), made with their keys in @keys_out[0..1] */
static gchar *
fst_test_make_catalogue(X509 **a_out, EVP_PKEY **ka_out, X509 **s_out, EVP_PKEY **ks_out)
{
	gchar *dir = g_dir_make_tmp("fst-trust-XXXXXX", NULL);
	g_autofree gchar *scratch = g_dir_make_tmp("fst-trust-keys-XXXXXX", NULL);
	g_autofree gchar *list = NULL;
	g_autofree gchar *list_path = g_build_filename(dir, "roots.list", NULL);
	g_autofree gchar *sha_a = NULL;
	g_autofree gchar *sha_s = NULL;
	EVP_PKEY *ka = fst_test_pki_keygen("ec-p256");
	EVP_PKEY *ks = fst_test_pki_keygen("rsa-2048");
	X509 *a = fst_test_pki_make_ca(scratch, "TestRootA", ka, NULL, NULL, 3650);
	X509 *s = fst_test_pki_make_ca(scratch, "TestRootS", ks, NULL, NULL, 3650);

	fst_test_pki_rmrf(scratch);
	fst_test_write_cert(dir, "TestRootA.pem", a);
	fst_test_write_cert(dir, "TestRootS.pem", s);
	sha_a = fst_test_der_sha256(a);
	sha_s = fst_test_der_sha256(s);
	list = g_strdup_printf(
	    "%s  TestRootA.pem  ats-primary\n%s  TestRootS.pem  ats-starfield\n", sha_a, sha_s);
	g_assert_true(g_file_set_contents(list_path, list, -1, NULL));
	*a_out = a;
	*ka_out = ka;
	*s_out = s;
	*ks_out = ks;
	return dir;
}

/* a user root cross-signed by a catalogue root is accepted, listed with its
 * signer and expiry, and can be pinned by name */
static void
fst_test_user_root_cross_signed(void)
{
	g_autoptr(X509) a = NULL;
	g_autoptr(X509) s = NULL;
	g_autoptr(EVP_PKEY) ka = NULL;
	g_autoptr(EVP_PKEY) ks = NULL;
	g_autofree gchar *dir = fst_test_make_catalogue(&a, &ka, &s, &ks);
	g_autofree gchar *user = g_dir_make_tmp("fst-trust-user-XXXXXX", NULL);
	g_autoptr(X509) cross = fst_test_cross_sign(a, s, ks);
	g_autoptr(FstTrustCatalogue) catalogue = NULL;
	g_autoptr(FstTrustSelection) sel = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) pinned = g_strsplit("TestRootA;G2-TestRootA", ";", -1);
	FstTrustOptions options = {.endpoint = FST_TRUST_ENDPOINT_ATS, .roots = pinned};
	const FstTrustRoot *root;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	fst_test_write_cert(user, "G2-TestRootA.pem", cross);
	catalogue = fst_trust_catalogue_load(dir, &error);
	g_assert_no_error(error);
	g_assert_true(fst_trust_catalogue_add_user_roots(catalogue, user, &error));
	g_assert_no_error(error);
	root = fst_trust_catalogue_find(catalogue, "G2-TestRootA");
	g_assert_nonnull(root);
	g_assert_cmpint(root->role, ==, FST_TRUST_ROLE_USER);
	g_assert_cmpstr(root->signed_by, ==, "TestRootS");
	g_assert_cmpuint(root->validation, ==, FST_VALIDATION_ECDSA_P256);
	g_assert_cmpint(root->not_after, >, now + 3640 * 86400);
	g_assert_true(fst_trust_catalogue_find_sha256(catalogue, root->sha256) == root);

	/* never in the default selection, only when a profile names it */
	sel = fst_trust_select_explain(catalogue, &options, P256, PEM, ROOMY, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(sel->roots->len, ==, 2);
	g_assert_true(g_ptr_array_index(sel->roots, 1) == root);
	g_clear_pointer(&sel, fst_trust_selection_free);
	options.roots = NULL;
	sel = fst_trust_select_explain(catalogue, &options, P256, PEM, ROOMY, &error);
	g_assert_no_error(error);
	g_assert_false(g_ptr_array_find(sel->roots, root, NULL));

	/* a missing folder adds nothing */
	g_assert_true(fst_trust_catalogue_add_user_roots(catalogue, "/nonexistent/fst", &error));
	g_assert_no_error(error);
	fst_test_remove_catalogue(user);
	fst_test_remove_catalogue(dir);
}

/* forged or foreign roots are refused, naming the file */
static void
fst_test_user_root_forged(void)
{
	g_autoptr(X509) a = NULL;
	g_autoptr(X509) s = NULL;
	g_autoptr(EVP_PKEY) ka = NULL;
	g_autoptr(EVP_PKEY) ks = NULL;
	g_autofree gchar *dir = fst_test_make_catalogue(&a, &ka, &s, &ks);
	g_autoptr(EVP_PKEY) kx = fst_test_pki_keygen("rsa-2048");
	g_autofree gchar *scratch = g_dir_make_tmp("fst-trust-keys-XXXXXX", NULL);
	g_autoptr(EVP_PKEY) ky = fst_test_pki_keygen("ec-p256");
	g_autoptr(X509) other = fst_test_pki_make_ca(scratch, "TestRootA", ky, NULL, NULL, 3650);
	g_autoptr(X509) foreign = fst_test_pki_make_ca(scratch, "TestRootX", ky, NULL, NULL, 3650);
	struct {
		X509 *cert;
		const gchar *expect;
	} cases[] = {
	    /* the issuer's name, someone else's signature */
	    {fst_test_cross_sign(a, s, kx), "signature does not verify"},
	    /* A's name on another key, properly signed by S */
	    {fst_test_cross_sign(other, s, ks), "does not have the subject and key"},
	    /* signed by a CA the catalogue does not have */
	    {fst_test_cross_sign(a, foreign, ky), "which is not a catalogue root"},
	};

	fst_test_pki_rmrf(scratch);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *user = g_dir_make_tmp("fst-trust-user-XXXXXX", NULL);
		g_autoptr(FstTrustCatalogue) catalogue = fst_trust_catalogue_load(dir, NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(X509) cert = cases[i].cert;

		fst_test_write_cert(user, "G2-TestRootA.pem", cert);
		g_assert_nonnull(catalogue);
		g_assert_false(fst_trust_catalogue_add_user_roots(catalogue, user, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
		g_test_message("%s", error->message);
		g_assert_nonnull(strstr(error->message, "G2-TestRootA.pem"));
		g_assert_nonnull(strstr(error->message, cases[i].expect));
		g_assert_null(fst_trust_catalogue_find(catalogue, "G2-TestRootA"));
		fst_test_remove_catalogue(user);
	}
	fst_test_remove_catalogue(dir);
}

/* against the real catalogue: a "cross-signed Amazon Root CA 1" that claims
 * Starfield as issuer but is signed by another key is refused */
static void
fst_test_user_root_forged_amazon(void)
{
	const FstTrustRoot *ca1 = fst_trust_catalogue_find(fst_test_catalogue, "AmazonRootCA1");
	const FstTrustRoot *sfs = fst_trust_catalogue_find(fst_test_catalogue, "SFSRootCAG2");
	g_autofree gchar *dir = fst_test_trust_dir();
	g_autofree gchar *user = g_dir_make_tmp("fst-trust-user-XXXXXX", NULL);
	g_autoptr(EVP_PKEY) kx = fst_test_pki_keygen("rsa-2048");
	g_autoptr(X509) forged = fst_test_cross_sign(ca1->cert, sfs->cert, kx);
	g_autoptr(FstTrustCatalogue) catalogue = fst_trust_catalogue_load(dir, NULL);
	g_autoptr(GError) error = NULL;

	fst_test_write_cert(user, "G2-RootCA1.pem", forged);
	g_assert_false(fst_trust_catalogue_add_user_roots(catalogue, user, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "Starfield"));
	g_assert_nonnull(strstr(error->message, "signature does not verify"));
	fst_test_remove_catalogue(user);
}

/* the real Amazon roots end on 2038-01-17 (CA 1) and 2040-05-26 (CA 2-4),
 * as openssl x509 -enddate says of the files */
static void
fst_test_real_root_expiry(void)
{
	static const struct {
		const gchar *name;
		const gchar *end;
	} expected[] = {
	    {"AmazonRootCA1", "2038-01-17"},
	    {"AmazonRootCA2", "2040-05-26"},
	    {"AmazonRootCA3", "2040-05-26"},
	    {"AmazonRootCA4", "2040-05-26"},
	};
	g_autoptr(GPtrArray) roots = g_ptr_array_new();
	g_autofree gchar *ending = NULL;
	g_autoptr(GDateTime) dt = NULL;
	GPtrArray *all = fst_trust_catalogue_get_roots(fst_test_catalogue);

	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		for (guint j = 0; j < all->len; j++) {
			FstTrustRoot *root = g_ptr_array_index(all, j);
			g_autoptr(GDateTime) end = NULL;
			g_autofree gchar *date = NULL;
			if (g_strcmp0(root->name, expected[i].name) != 0)
				continue;
			end = g_date_time_new_from_unix_utc(root->not_after);
			date = g_date_time_format(end, "%Y-%m-%d");
			g_assert_cmpstr(date, ==, expected[i].end);
			g_ptr_array_add(roots, root);
		}
	}
	g_assert_cmpuint(roots->len, ==, 4);
	/* a device certificate to 2039 outlives CA 1 only */
	dt = g_date_time_new_utc(2039, 1, 1, 0, 0, 0);
	ending = fst_trust_roots_ending_before(roots, g_date_time_to_unix(dt));
	g_assert_cmpstr(ending, ==, "AmazonRootCA1 (2038-01-17)");
	g_clear_pointer(&ending, g_free);
	/* one to 2049 outlives them all */
	g_clear_pointer(&dt, g_date_time_unref);
	dt = g_date_time_new_utc(2049, 12, 31, 23, 59, 59);
	ending = fst_trust_roots_ending_before(roots, g_date_time_to_unix(dt));
	g_assert_nonnull(strstr(ending, "AmazonRootCA4 (2040-05-26)"));
	/* one to 2035 outlives none */
	g_clear_pointer(&dt, g_date_time_unref);
	dt = g_date_time_new_utc(2035, 1, 1, 0, 0, 0);
	g_assert_null(fst_trust_roots_ending_before(roots, g_date_time_to_unix(dt)));
}

/* the shipped roots are those of the shared SHA256SUMS (DER hashes and
 * sizes), and the shipped PEM files are the shared ones byte for byte */
static void
fst_test_shared_sums(void)
{
	const gchar *sums_path = g_getenv("FST_SHARED_TRUST_SUMS");
	g_autofree gchar *dir = fst_test_trust_dir();
	g_autofree gchar *shared = NULL;
	g_autofree gchar *sums = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (sums_path == NULL || !g_file_test(sums_path, G_FILE_TEST_IS_REGULAR)) {
		g_test_skip("FST_SHARED_TRUST_SUMS does not name the shared SHA256SUMS.txt");
		return;
	}
	shared = g_path_get_dirname(sums_path);
	g_assert_true(g_file_get_contents(sums_path, &sums, NULL, NULL));
	lines = g_strsplit(sums, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autoptr(GPtrArray) f = g_ptr_array_new();
		g_auto(GStrv) words = g_strsplit_set(lines[i], " \t", -1);
		g_autofree gchar *stem = NULL;
		g_autofree gchar *ours = NULL;
		g_autofree gchar *theirs = NULL;
		g_autofree gchar *ours_path = NULL;
		g_autofree gchar *theirs_path = NULL;
		const FstTrustRoot *root;
		for (guint k = 0; words[k] != NULL; k++) {
			if (words[k][0] != '\0')
				g_ptr_array_add(f, words[k]);
		}
		/* <sha256 of DER> <file> <key> <bits> <n> DER bytes */
		if (f->len < 6 || strlen(g_ptr_array_index(f, 0)) != 64)
			continue;
		stem = g_strndup(g_ptr_array_index(f, 1), strlen(g_ptr_array_index(f, 1)) - 4);
		root = fst_trust_catalogue_find(fst_test_catalogue, stem);
		g_assert_nonnull(root);
		g_assert_cmpstr(root->sha256, ==, g_ptr_array_index(f, 0));
		g_assert_cmpuint(g_bytes_get_size(root->der),
		                 ==,
		                 g_ascii_strtoull(g_ptr_array_index(f, f->len - 3), NULL, 10));
		ours_path = g_build_filename(dir, g_ptr_array_index(f, 1), NULL);
		theirs_path = g_build_filename(shared, g_ptr_array_index(f, 1), NULL);
		g_assert_true(g_file_get_contents(ours_path, &ours, NULL, NULL));
		g_assert_true(g_file_get_contents(theirs_path, &theirs, NULL, NULL));
		g_assert_cmpstr(ours, ==, theirs);
		n++;
	}
	g_assert_cmpuint(n, ==, 6);
}

/* the reason a report takes back out of a plan event's detail, as the
 * station writes it now and as it wrote it before (parentheses within) */
static void
fst_test_reason_from_detail(void)
{
	g_autofree gchar *plain = fst_trust_reason_from_detail(
	    "profile p (abc), key ec-p256, roots AmazonRootCA1 (CA 3/4 omitted: device validates "
	    "RSA only, 2,048 bytes free (all need 4,464); CA 2 omitted: reserved for future use)");
	g_autofree gchar *back = fst_trust_reason_from_detail(
	    "profile p (abc), key ec-p256, came back: replaces certificate 01, new one in slot B "
	    "(alternate), roots AmazonRootCA3 (all ATS roots fit: 656 of 700 bytes free)");

	g_assert_cmpstr(plain,
	                ==,
	                "CA 3/4 omitted: device validates RSA only, 2,048 bytes free (all need "
	                "4,464); CA 2 omitted: reserved for future use");
	g_assert_cmpstr(back, ==, "all ATS roots fit: 656 of 700 bytes free");
	g_assert_null(fst_trust_reason_from_detail("profile p (abc), key ec-p256, roots none"));
	g_assert_null(fst_trust_reason_from_detail(NULL));
	g_assert_null(fst_trust_reason_from_detail("profile p (abc), roots X (unclosed"));
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
	g_test_add_func("/fst/trust/select/sequence", fst_test_select_sequence);
	g_test_add_func("/fst/trust/select/legacy", fst_test_select_legacy);
	g_test_add_func("/fst/trust/select/pinned", fst_test_select_pinned);
	g_test_add_func("/fst/trust/select/nothing-fits", fst_test_select_nothing_fits);
	g_test_add_func("/fst/trust/select/cannot-validate", fst_test_select_cannot_validate);
	g_test_add_func("/fst/trust/encode/der", fst_test_encode_der);
	g_test_add_func("/fst/trust/user-root/cross-signed-accepted",
	                fst_test_user_root_cross_signed);
	g_test_add_func("/fst/trust/user-root/forged-refused", fst_test_user_root_forged);
	g_test_add_func("/fst/trust/user-root/forged-amazon-refused",
	                fst_test_user_root_forged_amazon);
	g_test_add_func("/fst/trust/expiry/amazon-roots", fst_test_real_root_expiry);
	g_test_add_func("/fst/trust/catalogue/shared-sums", fst_test_shared_sums);
	g_test_add_func("/fst/trust/report/reason-from-detail", fst_test_reason_from_detail);
	rc = g_test_run();
	fst_trust_catalogue_free(fst_test_catalogue);
	return rc;
}
