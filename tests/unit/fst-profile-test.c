/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstProfileTest"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fst-error.h"
#include "fst-profile.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"

static const gchar *
fst_test_templates_dir(void)
{
	const gchar *dir = g_getenv("FST_TEMPLATES_DIR");
	return dir != NULL ? dir : FST_TEST_TEMPLATES_DIR;
}

/* a valid profile; tests replace one line to make it invalid */
static const gchar *fst_test_good_profile = "[profile]\n"
                                            "name=test\n"
                                            "description=a test profile\n"
                                            "models=devsim-*;board-?x\n"
                                            "key-source=device-csr\n"
                                            "key-types=ec-p384;ec-p256;rsa-2048\n"
                                            "\n"
                                            "[subject]\n"
                                            "cn=thing-{model}_{uid}:{firmware}\n"
                                            "o=Test Org\n"
                                            "\n"
                                            "[validity]\n"
                                            "days=365\n"
                                            "\n"
                                            "[burn]\n"
                                            "append-ca=true\n"
                                            "\n"
                                            "[trust]\n"
                                            "endpoint=legacy\n"
                                            "include-reserved=true\n"
                                            "include-starfield=false\n";

typedef struct {
	gchar *dir;
	gchar *path;
} FstTestFixture;

static void
fst_test_setup(FstTestFixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fx->dir = g_dir_make_tmp("fst-profile-XXXXXX", NULL);
	fx->path = g_build_filename(fx->dir, "test.profile", NULL);
}

static void
fst_test_teardown(FstTestFixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fst_test_pki_rmrf(fx->dir);
	g_free(fx->path);
	g_free(fx->dir);
}

/* writes the good profile with @from replaced by @to and loads it */
static FstProfile *
fst_test_load_variant(FstTestFixture *fx, const gchar *from, const gchar *to, GError **error)
{
	g_autoptr(GString) text = g_string_new(fst_test_good_profile);
	if (from != NULL)
		g_assert_cmpint(g_string_replace(text, from, to, 1), ==, 1);
	g_assert_true(g_file_set_contents(fx->path, text->str, (gssize)text->len, NULL));
	return fst_profile_load(fx->path, error);
}

static void
fst_test_shipped(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) ecc =
	    fst_profile_find(fst_test_templates_dir(), "aws-iot-ecc", &error);
	g_autoptr(FstProfile) rsa = NULL;
	g_autofree gchar *contents = NULL;
	g_autofree gchar *sha = NULL;
	gsize len = 0;
	const FstTrustOptions *trust;

	g_assert_no_error(error);
	g_assert_cmpstr(fst_profile_get_name(ecc), ==, "aws-iot-ecc");
	g_assert_cmpuint(fst_profile_get_allowed_key_types(ecc), ==, FST_KEY_TYPE_EC_P256);
	g_assert_cmpstr(fst_profile_get_subject_organization(ecc), ==, "Fleetstation Demo");
	g_assert_cmpuint(fst_profile_get_validity_days(ecc), ==, 3650);
	g_assert_false(fst_profile_get_append_ca(ecc));
	g_assert_cmpint(fst_profile_get_key_source(ecc), ==, FST_KEY_SOURCE_DEVICE_CSR);
	trust = fst_profile_get_trust_options(ecc);
	g_assert_cmpint(trust->endpoint, ==, FST_TRUST_ENDPOINT_ATS);
	/* every ATS root that fits, by default */
	g_assert_true(trust->include_reserved);
	g_assert_cmpuint(trust->budget, ==, 0);
	g_assert_null(trust->roots);
	g_assert_false(trust->include_starfield);
	g_assert_true(g_file_get_contents(fst_profile_get_path(ecc), &contents, &len, NULL));
	sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
	g_assert_cmpstr(fst_profile_get_content_sha256(ecc), ==, sha);
	g_assert_cmpint(strlen(sha), ==, 64);

	rsa = fst_profile_find(fst_test_templates_dir(), "aws-iot-rsa", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_profile_get_allowed_key_types(rsa), ==, FST_KEY_TYPE_RSA_2048);
	g_assert_cmpstr(
	    fst_profile_get_content_sha256(rsa), !=, fst_profile_get_content_sha256(ecc));

	/* the small-storage and nRF91 profiles */
	{
		g_autoptr(FstProfile) small =
		    fst_profile_find(fst_test_templates_dir(), "small-storage", &error);
		g_autoptr(FstProfile) nrf = NULL;
		g_assert_no_error(error);
		g_assert_cmpint(fst_profile_get_format(small), ==, FST_PROFILE_FORMAT_DER);
		g_assert_false(fst_profile_get_burn_object(small, FST_OBJECT_CA_CHAIN));
		g_assert_false(fst_profile_get_subject_key_id(small));
		g_assert_cmpint(fst_profile_get_not_after(small, 0), ==, 2524607999);
		g_assert_true(fst_profile_get_allow_outlive_ca(small));
		nrf = fst_profile_find(fst_test_templates_dir(), "nrf91", &error);
		g_assert_no_error(error);
		g_assert_cmpint(fst_profile_get_sec_tag(nrf), ==, 16842753);
		g_assert_cmpint(fst_profile_get_format(nrf), ==, FST_PROFILE_FORMAT_PEM);
		g_assert_cmpuint(fst_profile_get_allowed_key_types(nrf), ==, FST_KEY_TYPE_EC_P256);
	}
	/* the rework and trust-update profiles; the base ones refuse a returning device */
	{
		g_autoptr(FstProfile) rework =
		    fst_profile_find(fst_test_templates_dir(), "aws-iot-ecc-rework", &error);
		g_autoptr(FstProfile) roots = NULL;
		g_assert_no_error(error);
		g_assert_cmpint(
		    fst_profile_get_on_return(rework), ==, FST_PROFILE_ON_RETURN_REPROVISION);
		g_assert_cmpint(fst_profile_get_credential_slots(rework), ==, FST_PROFILE_SLOTS_AB);
		g_assert_cmpint(fst_profile_get_on_return(ecc), ==, FST_PROFILE_ON_RETURN_REFUSE);
		roots = fst_profile_find(fst_test_templates_dir(), "aws-iot-trust-update", &error);
		g_assert_no_error(error);
		g_assert_cmpint(fst_profile_get_job(roots), ==, FST_PROFILE_JOB_TRUST_ONLY);
		g_assert_true(fst_profile_get_trust_options(roots)->include_reserved);
	}
}

static void
fst_test_find_errors(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) p1 =
	    fst_profile_find(fst_test_templates_dir(), "../trust/roots", &error);
	g_autoptr(FstProfile) p2 = NULL;

	g_assert_null(p1);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	p2 = fst_profile_find(fst_test_templates_dir(), "no-such-profile", &error);
	g_assert_null(p2);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no-such-profile.profile"));
}

static void
fst_test_good(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_variant(fx, NULL, NULL, &error);
	const FstTrustOptions *trust;

	(void)user_data;
	g_assert_no_error(error);
	g_assert_cmpstr(fst_profile_get_description(profile), ==, "a test profile");
	g_assert_true(fst_profile_get_append_ca(profile));
	g_assert_cmpuint(fst_profile_get_validity_days(profile), ==, 365);
	g_assert_cmpuint(fst_profile_get_allowed_key_types(profile),
	                 ==,
	                 FST_KEY_TYPE_EC_P384 | FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_RSA_2048);
	trust = fst_profile_get_trust_options(profile);
	g_assert_cmpint(trust->endpoint, ==, FST_TRUST_ENDPOINT_LEGACY);
	g_assert_true(trust->include_reserved);
	g_assert_false(trust->include_starfield);
}

/* [trust] budget and an explicit list of roots */
static void
fst_test_trust_keys(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_variant(
	    fx,
	    "include-reserved=true\n",
	    "include-reserved=false\nbudget=2048\nroots=AmazonRootCA1; G2-RootCA1\n",
	    &error);
	const FstTrustOptions *trust;
	g_autofree gchar *summary = NULL;

	(void)user_data;
	g_assert_no_error(error);
	trust = fst_profile_get_trust_options(profile);
	g_assert_false(trust->include_reserved);
	g_assert_cmpuint(trust->budget, ==, 2048);
	g_assert_nonnull(trust->roots);
	g_assert_cmpuint(g_strv_length(trust->roots), ==, 2);
	g_assert_cmpstr(trust->roots[0], ==, "AmazonRootCA1");
	g_assert_cmpstr(trust->roots[1], ==, "G2-RootCA1");
	summary = fst_profile_describe(profile);
	g_assert_nonnull(strstr(
	    summary, ", roots pinned: AmazonRootCA1;G2-RootCA1, at most 2048 bytes of roots"));
}

typedef struct {
	const gchar *from;
	const gchar *to;
	const gchar *expect; /* substring of the message */
} FstTestBadCase;

/* [aws]: registration with AWS IoT, read and checked */
static void
fst_test_aws_keys(FstTestFixture *fx, gconstpointer user_data)
{
	const FstTestBadCase cases[] = {
	    {"register=true", "register=yes", "[aws] register (line 23): expected true or false"},
	    {"region=eu-west-1",
	     "region=EU West",
	     "[aws] region (line 24): 'EU West' is not an AWS region"},
	    {"register=true\nregion=eu-west-1",
	     "register=true",
	     "[aws] register (line 23): registering needs the region"},
	    {"thing-name=line4-{device}",
	     "thing-name=line4-{model}",
	     "[aws] thing-name (line 25): unknown placeholder {model}"},
	    {"thing-name=line4-{device}",
	     "thing-name=line 4",
	     "[aws] thing-name (line 25): ' ' cannot be"},
	    {"policy=fleet-line4", "policy=fleet/line4", "[aws] policy (line 26): a policy name"},
	    {"policy-file=policy.json",
	     "policy-file=missing.json",
	     "[aws] policy-file (line 27): cannot read"},
	    {"policy-file=policy.json",
	     "policy-file=not-json.txt",
	     "[aws] policy-file (line 27): "},
	    {"with-ca=true", "with-ca=1x", "[aws] with-ca (line 28): expected true or false"},
	    {"status=inactive",
	     "status=revoked",
	     "[aws] status (line 29): 'revoked' is not one of"},
	    {"status=inactive",
	     "status=inactive\nregistr=true",
	     "[aws] registr (line 30): unknown key"},
	};
	const gchar *aws = "include-starfield=false\n"
	                   "[aws]\n"
	                   "register=true\n"
	                   "region=eu-west-1\n"
	                   "thing-name=line4-{device}\n"
	                   "policy=fleet-line4\n"
	                   "policy-file=policy.json\n"
	                   "with-ca=true\n"
	                   "status=inactive\n";
	g_autofree gchar *policy_path = g_build_filename(fx->dir, "policy.json", NULL);
	g_autofree gchar *text_path = g_build_filename(fx->dir, "not-json.txt", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(FstProfile) plain = NULL;
	g_autofree gchar *target = NULL;
	const FstProfileAws *settings;

	(void)user_data;
	g_assert_true(
	    g_file_set_contents(policy_path, "{\"Version\": \"2012-10-17\"}\n", -1, NULL));
	g_assert_true(g_file_set_contents(text_path, "Allow everything\n", -1, NULL));
	profile = fst_test_load_variant(fx, "include-starfield=false\n", aws, &error);
	g_assert_no_error(error);
	settings = fst_profile_get_aws(profile);
	g_assert_true(settings->register_certs);
	g_assert_cmpstr(settings->region, ==, "eu-west-1");
	g_assert_cmpstr(settings->thing_name, ==, "line4-{device}");
	g_assert_cmpstr(settings->policy, ==, "fleet-line4");
	g_assert_cmpstr(settings->policy_file, ==, policy_path);
	g_assert_cmpstr(settings->policy_document, ==, "{\"Version\": \"2012-10-17\"}");
	g_assert_true(settings->with_ca);
	g_assert_true(settings->inactive);
	target = fst_profile_get_register_target(profile);
	g_assert_cmpstr(target, ==, "aws-iot:eu-west-1");

	/* a profile without [aws] registers nothing */
	plain = fst_test_load_variant(fx, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_false(fst_profile_get_aws(plain)->register_certs);
	g_assert_null(fst_profile_get_register_target(plain));
	g_assert_cmpint(fst_profile_get_issuer(plain), ==, FST_PROFILE_ISSUER_STATION);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = NULL;
		g_autoptr(GString) variant = g_string_new(aws);
		g_autoptr(FstProfile) bad = NULL;
		g_string_replace(variant, cases[i].from, cases[i].to, 1);
		text = g_string_free(g_steal_pointer(&variant), FALSE);
		bad = fst_test_load_variant(fx, "include-starfield=false\n", text, &error);
		g_assert_null(bad);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s", error->message);
		if (strstr(error->message, cases[i].expect) == NULL)
			g_test_message("case %u: expected '%s'", i, cases[i].expect);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
		g_clear_error(&error);
	}
}

static void
fst_test_bad_values(FstTestFixture *fx, gconstpointer user_data)
{
	const FstTestBadCase cases[] = {
	    {"days=365", "days=abc", "[validity] days (line 13): 'abc' is not a number"},
	    {"days=365", "days=0", "[validity] days (line 13)"},
	    {"days=365", "days=-5", "[validity] days (line 13)"},
	    {"days=365", "days=99999999999999999999", "[validity] days (line 13)"},
	    {"o=Test Org", "o=Test Org\ncolour=blue", "[subject] colour (line 11): unknown key"},
	    {"[burn]", "[burnn]", "[burnn] (line 15): unknown group"},
	    {"key-types=ec-p384;ec-p256;rsa-2048",
	     "key-types=ec-p256;dsa-1024",
	     "unknown key type 'dsa-1024'"},
	    {"key-types=ec-p384;ec-p256;rsa-2048", "key-types=ec-p256;ec-p256", "listed twice"},
	    {"key-types=ec-p384;ec-p256;rsa-2048", "key-types=", "[profile] key-types (line 6)"},
	    {"cn=thing-{model}_{uid}:{firmware}", "cn={serial}", "unknown placeholder {serial}"},
	    {"cn=thing-{model}_{uid}:{firmware}", "cn=a b {uid}", "contains ' '"},
	    {"cn=thing-{model}_{uid}:{firmware}", "cn={uid", "without a closing"},
	    {"append-ca=true",
	     "append-ca=maybe",
	     "[burn] append-ca (line 16): expected true or false"},
	    {"endpoint=legacy", "endpoint=mqtt", "[trust] endpoint (line 19): 'mqtt' is not"},
	    {"include-starfield=false",
	     "include-starfield=false\nbudget=0",
	     "[trust] budget (line 22): '0' is not a number of bytes"},
	    {"include-starfield=false",
	     "include-starfield=false\nbudget=4k",
	     "[trust] budget (line 22): '4k' is not a number of bytes"},
	    {"include-starfield=false",
	     "include-starfield=false\nroots=AmazonRootCA1;../x",
	     "[trust] roots (line 22): '../x' is not a root name"},
	    {"include-starfield=false",
	     "include-starfield=false\nroots=;",
	     "[trust] roots (line 22): names no root"},
	    {"key-source=device-csr", "key-source=station", "[profile] key-source (line 5)"},
	    {"key-source=device-csr",
	     "key-source=device-csr\nissuer=amazon",
	     "[profile] issuer (line 6): 'amazon' is not one of"},
	    {"key-source=device-csr",
	     "key-source=device-public-key\nissuer=aws",
	     "[profile] issuer (line 6): AWS IoT issues certificates for a CSR"},
	    {"key-source=device-csr",
	     "key-source=station-generated\nissuer=aws",
	     "[profile] issuer (line 6): AWS IoT makes RSA 2048 keys"},
	    {"name=test\n", "", "[profile] name is missing"},
	    {"o=Test Org\n", "", "[subject] o is missing"},
	    {"name=test", "name=../evil", "[profile] name (line 2)"},
	    {"[profile]", "[profile\nbroken", "not a valid profile (INI syntax)"},
	    {"o=Test Org", "o=Test \\q", "[subject] o (line 10): "},
	    {"o=Test Org", "o=Test \xc3", "is not a UTF-8 text file"},
	    {"o=Test Org", "o=", "[subject] o (line 10): the organization must be"},
	    {"models=devsim-*;board-?x",
	     "models=devsim-*;;x",
	     "[profile] models (line 4): a model pattern is empty"},
	};

	(void)user_data;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstProfile) profile =
		    fst_test_load_variant(fx, cases[i].from, cases[i].to, &error);
		g_assert_null(profile);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s", error->message);
		g_assert_true(g_str_has_prefix(error->message, fx->path));
		if (strstr(error->message, cases[i].expect) == NULL)
			g_test_message("case %u: expected '%s'", i, cases[i].expect);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
	}
}

static void
fst_test_issuer_aws(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) csr = fst_test_load_variant(
	    fx, "key-source=device-csr", "key-source=device-csr\nissuer=aws", &error);
	g_autoptr(FstProfile) injected = NULL;

	(void)user_data;
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_issuer(csr), ==, FST_PROFILE_ISSUER_AWS);
	injected =
	    fst_test_load_variant(fx,
	                          "key-source=device-csr\nkey-types=ec-p384;ec-p256;rsa-2048",
	                          "key-source=station-generated\nissuer=aws\n"
	                          "key-types=rsa-2048",
	                          &error);
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_issuer(injected), ==, FST_PROFILE_ISSUER_AWS);
	g_assert_cmpint(fst_profile_get_key_source(injected), ==, FST_KEY_SOURCE_STATION_GENERATED);
}

static void
fst_test_render_cn(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_variant(fx, NULL, NULL, &error);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_pki_device("AB12", "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autofree gchar *cn = NULL;

	(void)user_data;
	g_assert_no_error(error);
	g_free(info->firmware);
	info->firmware = g_strdup("2-1-0");
	cn = fst_profile_render_subject_cn(profile, info, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(cn, ==, "thing-devsim-ecc_AB12:2-1-0");
}

static void
fst_test_render_cn_bad(FstTestFixture *fx, gconstpointer user_data)
{
	const gchar *bad_uids[] = {"has space", "dot.ted", "", "slash/", "quote\"", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile =
	    fst_test_load_variant(fx, "cn=thing-{model}_{uid}:{firmware}", "cn={uid}", &error);
	g_autofree gchar *long_uid = g_strnfill(129, 'a');
	g_autofree gchar *max_uid = g_strnfill(128, 'a');
	g_autoptr(FstDeviceInfo) info =
	    fst_test_pki_device(max_uid, "devsim-ecc", FST_KEY_TYPE_EC_P256);
	g_autofree gchar *cn = NULL;

	(void)user_data;
	g_assert_no_error(error);
	/* 128 characters is the most a thing name can have */
	cn = fst_profile_render_subject_cn(profile, info, &error);
	g_assert_no_error(error);
	g_assert_cmpint(strlen(cn), ==, 128);
	for (guint i = 0; bad_uids[i] != NULL; i++) {
		g_autofree gchar *out = NULL;
		g_free(info->uid);
		info->uid = g_strdup(bad_uids[i]);
		out = fst_profile_render_subject_cn(profile, info, &error);
		g_assert_null(out);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "not a valid AWS IoT thing name"));
		g_assert_true(g_str_has_prefix(error->message, "device "));
		g_clear_error(&error);
	}
	/* and the 129-character one */
	g_free(info->uid);
	info->uid = g_strdup(long_uid);
	g_assert_null(fst_profile_render_subject_cn(profile, info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
}

static void
fst_test_check_device(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_variant(fx, NULL, NULL, &error);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_pki_device("U1", "devsim-ecc", FST_KEY_TYPE_EC_P256);

	(void)user_data;
	g_assert_no_error(error);
	g_assert_true(fst_profile_check_device(profile, info, &error));
	g_assert_no_error(error);
	g_free(info->model);
	info->model = g_strdup("board-7x");
	g_assert_true(fst_profile_check_device(profile, info, &error));

	/* model mismatch */
	g_free(info->model);
	info->model = g_strdup("esp32-c3");
	g_assert_false(fst_profile_check_device(profile, info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message,
	                               "device model esp32-c3 does not match profile test (models: "
	                               "devsim-*;board-?x)"));
	g_clear_error(&error);

	/* no CSR support */
	g_free(info->model);
	info->model = g_strdup("devsim-ecc");
	info->can_csr = FALSE;
	g_assert_false(fst_profile_check_device(profile, info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "U1"));
}

static void
fst_test_choose_key_type(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_variant(fx, NULL, NULL, &error);
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device("U2", "devsim-ecc", 0);

	(void)user_data;
	g_assert_no_error(error);
	/* the profile's order wins over the device's */
	info->key_types = FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384 | FST_KEY_TYPE_RSA_2048;
	g_assert_cmpint(
	    fst_profile_choose_key_type(profile, info, &error), ==, FST_KEY_TYPE_EC_P384);
	info->key_types = FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_RSA_2048;
	g_assert_cmpint(
	    fst_profile_choose_key_type(profile, info, &error), ==, FST_KEY_TYPE_EC_P256);
	info->key_types = FST_KEY_TYPE_RSA_2048 | FST_KEY_TYPE_RSA_4096;
	g_assert_cmpint(
	    fst_profile_choose_key_type(profile, info, &error), ==, FST_KEY_TYPE_RSA_2048);
	g_assert_no_error(error);

	info->key_types = FST_KEY_TYPE_RSA_3072 | FST_KEY_TYPE_EC_P521;
	g_assert_cmpint(fst_profile_choose_key_type(profile, info, &error), ==, FST_KEY_TYPE_NONE);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "can generate ec-p521,rsa-3072"));
	g_assert_nonnull(strstr(error->message, "allows only ec-p256,ec-p384,rsa-2048"));
}

static void
fst_test_thing_name(void)
{
	g_autofree gchar *s128 = g_strnfill(128, 'Z');
	g_autofree gchar *s129 = g_strnfill(129, 'Z');
	g_assert_true(fst_profile_is_thing_name("a:b_c-D9"));
	g_assert_true(fst_profile_is_thing_name(s128));
	g_assert_false(fst_profile_is_thing_name(s129));
	g_assert_false(fst_profile_is_thing_name(""));
	g_assert_false(fst_profile_is_thing_name(NULL));
	g_assert_false(fst_profile_is_thing_name("a.b"));
	g_assert_false(fst_profile_is_thing_name("\xc3\xa9"));
}

/* every optional group and key: signature, extensions, burn, fixed end, key sources */
static const gchar *fst_test_full_profile = "[profile]\n"
                                            "name=full\n"
                                            "models=board-*\n"
                                            "key-source=station-generated\n"
                                            "key-types=rsa-2048\n"
                                            "escrow-certificate=escrow.pem\n"
                                            "[subject]\n"
                                            "cn={uid}\n"
                                            "o=Test Org\n"
                                            "[validity]\n"
                                            "not-after=2049-12-31T23:59:59Z\n"
                                            "allow-outlive-ca=true\n"
                                            "[signature]\n"
                                            "digest=sha384\n"
                                            "rsa-padding=pss\n"
                                            "[extensions]\n"
                                            "key-usage=digital-signature;key-encipherment\n"
                                            "ext-key-usage=client-auth;server-auth\n"
                                            "subject-key-id=false\n"
                                            "authority-key-id=true\n"
                                            "san-dns={uid}.example.com\n"
                                            "san-uri=urn:example:{model}:{uid}\n"
                                            "[burn]\n"
                                            "format=der\n"
                                            "objects=device-cert;trust-roots\n"
                                            "sec-tag=16842753\n";

static FstProfile *
fst_test_load_full(FstTestFixture *fx, const gchar *from, const gchar *to, GError **error)
{
	g_autoptr(GString) text = g_string_new(fst_test_full_profile);
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
	g_autoptr(X509) escrow = fst_test_pki_make_ca(fx->dir, "escrow", key, NULL, NULL, 30);
	g_assert_nonnull(escrow);
	if (from != NULL)
		g_assert_cmpint(g_string_replace(text, from, to, 1), ==, 1);
	g_assert_true(g_file_set_contents(fx->path, text->str, (gssize)text->len, NULL));
	return fst_profile_load(fx->path, error);
}

static void
fst_test_full(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = fst_test_load_full(fx, NULL, NULL, &error);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_pki_device("U-7", "board-x", FST_KEY_TYPE_RSA_2048);
	g_autofree gchar *escrow = g_build_filename(fx->dir, "escrow.pem", NULL);
	g_autofree gchar *dns = NULL;
	g_autofree gchar *uri = NULL;
	g_autofree gchar *summary = NULL;

	(void)user_data;
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_key_source(profile), ==, FST_KEY_SOURCE_STATION_GENERATED);
	g_assert_cmpstr(fst_profile_get_escrow_cert(profile), ==, escrow);
	/* the escrow certificate was read once, with its SHA-256, at load */
	{
		g_autofree gchar *pem = NULL;
		g_autofree gchar *expected = NULL;
		const gchar *sha256 = NULL;
		GBytes *der = fst_profile_get_escrow_cert_der(profile, &sha256);
		g_assert_nonnull(der);
		g_assert_cmpuint(g_bytes_get_size(der), >, 100);
		g_assert_cmpuint(((const guint8 *)g_bytes_get_data(der, NULL))[0], ==, 0x30);
		expected = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, der);
		g_assert_cmpstr(sha256, ==, expected);
		g_assert_true(g_file_get_contents(escrow, &pem, NULL, NULL));
		g_assert_true(g_str_has_prefix(pem, "-----BEGIN CERTIFICATE-----"));
	}
	g_assert_cmpint(fst_profile_get_not_after(profile, 0), ==, 2524607999);
	g_assert_cmpint(fst_profile_get_not_after(profile, 1000), ==, 2524607999);
	g_assert_cmpuint(fst_profile_get_validity_days(profile), ==, 0);
	g_assert_true(fst_profile_get_allow_outlive_ca(profile));
	g_assert_cmpint(fst_profile_get_digest(profile), ==, FST_PROFILE_DIGEST_SHA384);
	g_assert_true(fst_profile_get_rsa_pss(profile));
	g_assert_cmpuint(fst_profile_get_key_usage(profile),
	                 ==,
	                 FST_PROFILE_KEY_USAGE_DIGITAL_SIGNATURE |
	                     FST_PROFILE_KEY_USAGE_KEY_ENCIPHERMENT);
	g_assert_cmpuint(fst_profile_get_ext_key_usage(profile),
	                 ==,
	                 FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH |
	                     FST_PROFILE_EXT_KEY_USAGE_SERVER_AUTH);
	g_assert_false(fst_profile_get_subject_key_id(profile));
	g_assert_true(fst_profile_get_authority_key_id(profile));
	dns = fst_profile_render_san_dns(profile, info, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dns, ==, "U-7.example.com");
	uri = fst_profile_render_san_uri(profile, info, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(uri, ==, "urn:example:board-x:U-7");
	g_assert_cmpint(fst_profile_get_format(profile), ==, FST_PROFILE_FORMAT_DER);
	g_assert_true(fst_profile_get_burn_object(profile, FST_OBJECT_DEVICE_CERT));
	g_assert_false(fst_profile_get_burn_object(profile, FST_OBJECT_CA_CHAIN));
	g_assert_true(fst_profile_get_burn_object(profile, FST_OBJECT_TRUST_ROOTS));
	g_assert_cmpint(fst_profile_get_sec_tag(profile), ==, 16842753);
	summary = fst_profile_describe(profile);
	g_assert_cmpstr(
	    summary,
	    ==,
	    "full: station-generated rsa-2048, until 2049-12-31T23:59:59Z (may outlive "
	    "the CA), digest sha384, RSA-PSS, DER, no CA chain object, sec_tag 16842753");

	/* the defaults, from the minimal good profile */
	{
		g_autoptr(FstProfile) plain = fst_test_load_variant(fx, NULL, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpint(fst_profile_get_not_after(plain, 1000), ==, 1000 + 365 * 86400);
		g_assert_false(fst_profile_get_allow_outlive_ca(plain));
		g_assert_cmpint(fst_profile_get_digest(plain), ==, FST_PROFILE_DIGEST_AUTO);
		g_assert_false(fst_profile_get_rsa_pss(plain));
		g_assert_cmpuint(
		    fst_profile_get_key_usage(plain), ==, FST_PROFILE_KEY_USAGE_DEFAULT);
		g_assert_cmpuint(fst_profile_get_ext_key_usage(plain),
		                 ==,
		                 FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH);
		g_assert_true(fst_profile_get_subject_key_id(plain));
		g_assert_true(fst_profile_get_authority_key_id(plain));
		g_assert_null(fst_profile_render_san_dns(plain, info, &error));
		g_assert_no_error(error);
		g_assert_cmpint(fst_profile_get_format(plain), ==, FST_PROFILE_FORMAT_DEVICE);
		g_assert_true(fst_profile_get_burn_object(plain, FST_OBJECT_CA_CHAIN));
		g_assert_cmpint(fst_profile_get_sec_tag(plain), ==, -1);
		g_assert_null(fst_profile_get_escrow_cert(plain));
	}

	/* a device whose uid cannot be part of a DNS name */
	g_free(info->uid);
	info->uid = g_strdup("a_b");
	g_assert_null(fst_profile_render_san_dns(profile, info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "a_b.example.com"));
}

static void
fst_test_full_bad_values(FstTestFixture *fx, gconstpointer user_data)
{
	const FstTestBadCase cases[] = {
	    {"not-after=2049-12-31T23:59:59Z",
	     "not-after=2049-12-31",
	     "[validity] not-after (line 11): '2049-12-31' is not a UTC date"},
	    {"not-after=2049-12-31T23:59:59Z",
	     "not-after=2049-12-31T23:59:59+02:00",
	     "[validity] not-after (line 11)"},
	    {"not-after=2049-12-31T23:59:59Z",
	     "not-after=2049-12-31T23:59:59Z\ndays=30",
	     "give either days or not-after"},
	    {"not-after=2049-12-31T23:59:59Z\n", "", "[validity] needs days"},
	    {"allow-outlive-ca=true",
	     "allow-outlive-ca=yes please",
	     "[validity] allow-outlive-ca (line 12)"},
	    {"digest=sha384",
	     "digest=md5",
	     "[signature] digest (line 14): 'md5' is not one of auto, "
	     "sha256, sha384, sha512"},
	    {"rsa-padding=pss", "rsa-padding=oaep", "[signature] rsa-padding (line 15)"},
	    {"key-usage=digital-signature;key-encipherment",
	     "key-usage=digital-signature;cert-sign",
	     "[extensions] key-usage (line 17): unknown value 'cert-sign'"},
	    {"key-usage=digital-signature;key-encipherment",
	     "key-usage=",
	     "list at least one usage"},
	    {"ext-key-usage=client-auth;server-auth",
	     "ext-key-usage=code-signing",
	     "[extensions] ext-key-usage (line 18): unknown value 'code-signing'"},
	    {"san-dns={uid}.example.com",
	     "san-dns={uid}_x.example.com",
	     "[extensions] san-dns (line 21)"},
	    {"san-dns={uid}.example.com", "san-dns={serial}.example.com", "unknown placeholder"},
	    {"san-uri=urn:example:{model}:{uid}", "san-uri={uid}", "starts with a scheme"},
	    {"san-uri=urn:example:{model}:{uid}",
	     "san-uri=urn:a b",
	     "[extensions] san-uri (line 22)"},
	    {"format=der",
	     "format=base64",
	     "[burn] format (line 24): 'base64' is not one of device, "
	     "pem, der"},
	    {"objects=device-cert;trust-roots",
	     "objects=trust-roots",
	     "device-cert must be burned"},
	    {"objects=device-cert;trust-roots", "objects=device-cert;keys", "unknown value 'keys'"},
	    {"sec-tag=16842753", "sec-tag=-1", "[burn] sec-tag (line 26): '-1' is not a sec_tag"},
	    {"sec-tag=16842753", "sec-tag=2147483648", "[burn] sec-tag (line 26)"},
	    {"key-source=station-generated", "key-source=device-csr", "escrow certificate only"},
	    {"escrow-certificate=escrow.pem",
	     "escrow-certificate=missing.pem",
	     "missing.pem does not exist"},
	    {"escrow-certificate=escrow.pem",
	     "escrow-certificate=test.profile",
	     "test.profile is not a PEM certificate"},
	    {"[signature]", "[signatures]", "[signatures] (line 13): unknown group"},
	    {"not-after=2049-12-31T23:59:59Z",
	     "not-after=1999-12-31T23:59:59Z",
	     "[validity] not-after (line 11): 1999-12-31T23:59:59Z has passed"},
	    {"digest=sha384",
	     "digest=sha384\ndigest=sha256",
	     "[signature] digest (line 15) repeats the key of line 14"},
	    {"sec-tag=16842753",
	     "sec-tag=16842753\n[signature]\ndigest=sha512",
	     "[signature] (line 27) repeats the group of line 13"},
	};

	(void)user_data;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstProfile) profile =
		    fst_test_load_full(fx, cases[i].from, cases[i].to, &error);
		g_assert_null(profile);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s", error->message);
		if (strstr(error->message, cases[i].expect) == NULL)
			g_test_message("case %u: expected '%s'", i, cases[i].expect);
		g_assert_nonnull(strstr(error->message, cases[i].expect));
	}
}

/* the other key sources parse; a device that cannot make a CSR fits them */
static void
fst_test_key_sources(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) pk = fst_test_load_variant(
	    fx, "key-source=device-csr", "key-source=device-public-key", &error);

	(void)user_data;
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_key_source(pk), ==, FST_KEY_SOURCE_DEVICE_PUBLIC_KEY);
}

/* one pass reports every error of a file, each with its line, in file order;
 * the loader fails with the first */
static void
fst_test_all_errors(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GString) text = g_string_new(fst_test_good_profile);
	g_autoptr(GPtrArray) errors = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *expect[] = {
	    "[profile] colour (line 7): unknown key",
	    "[profile] key-types (line 6): unknown key type 'ec-p999'",
	    "[subject] o (line 11): the organization must be",
	    "[validity] days (line 14): 'abc' is not a number of days",
	    "[trust] endpoint (line 20): 'mars' is not one of ats, legacy",
	};

	(void)user_data;
	g_string_replace(
	    text, "key-types=ec-p384;ec-p256;rsa-2048\n", "key-types=ec-p999\ncolour=blue\n", 1);
	g_string_replace(text, "o=Test Org", "o=", 1);
	g_string_replace(text, "days=365", "days=abc", 1);
	g_string_replace(text, "endpoint=legacy", "endpoint=mars", 1);
	g_assert_true(g_file_set_contents(fx->path, text->str, (gssize)text->len, NULL));
	profile = fst_profile_check_file(fx->path, &errors);
	g_assert_null(profile);
	g_assert_nonnull(errors);
	for (guint i = 0; i < errors->len; i++)
		g_test_message("%s", ((GError *)g_ptr_array_index(errors, i))->message);
	g_assert_cmpuint(errors->len, ==, G_N_ELEMENTS(expect));
	for (guint i = 0; i < G_N_ELEMENTS(expect); i++) {
		const GError *e = g_ptr_array_index(errors, i);
		g_assert_error(e, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(strstr(e->message, expect[i]));
	}
	profile = fst_profile_load(fx->path, &error);
	g_assert_null(profile);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, expect[0]));

	/* a good file gives a profile and no error array */
	g_clear_pointer(&errors, g_ptr_array_unref);
	g_assert_true(g_file_set_contents(fx->path, fst_test_good_profile, -1, NULL));
	profile = fst_profile_check_file(fx->path, &errors);
	g_assert_nonnull(profile);
	g_assert_null(errors);
}

/* on-return, credential-slots and job: defaults, values, bad values */
static void
fst_test_rework_keys(FstTestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) def = fst_test_load_variant(fx, NULL, NULL, &error);
	g_autoptr(FstProfile) rework = NULL;

	(void)user_data;
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_job(def), ==, FST_PROFILE_JOB_PROVISION);
	g_assert_cmpint(fst_profile_get_on_return(def), ==, FST_PROFILE_ON_RETURN_REFUSE);
	g_assert_cmpint(fst_profile_get_credential_slots(def), ==, FST_PROFILE_SLOTS_SINGLE);
	rework = fst_test_load_variant(fx,
	                               "key-source=device-csr\n",
	                               "key-source=device-csr\non-return=reprovision\n"
	                               "credential-slots=ab\n",
	                               &error);
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_on_return(rework), ==, FST_PROFILE_ON_RETURN_REPROVISION);
	g_assert_cmpint(fst_profile_get_credential_slots(rework), ==, FST_PROFILE_SLOTS_AB);
	{
		g_autofree gchar *summary = fst_profile_describe(rework);
		g_assert_nonnull(
		    strstr(summary, "re-provisions devices that come back (A/B slots)"));
	}
	{
		g_autoptr(FstProfile) bad =
		    fst_test_load_variant(fx,
		                          "key-source=device-csr\n",
		                          "key-source=device-csr\non-return=rotate\n",
		                          &error);
		g_assert_null(bad);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(
		    strstr(error->message,
		           "[profile] on-return (line 6): 'rotate' is not one of refuse, "
		           "reprovision"));
		g_clear_error(&error);
	}
	{
		g_autoptr(FstProfile) bad =
		    fst_test_load_variant(fx,
		                          "key-source=device-csr\n",
		                          "key-source=device-csr\ncredential-slots=abc\n",
		                          &error);
		g_assert_null(bad);
		g_assert_nonnull(strstr(error->message, "[profile] credential-slots (line 6)"));
		g_clear_error(&error);
	}
	{
		g_autoptr(FstProfile) bad =
		    fst_test_load_variant(fx,
		                          "key-source=device-csr\n",
		                          "key-source=device-csr\njob=everything\n",
		                          &error);
		g_assert_null(bad);
		g_assert_nonnull(strstr(error->message, "[profile] job (line 6): 'everything'"));
	}
}

/* a trust-only profile needs no certificate keys and refuses them */
static void
fst_test_trust_only(FstTestFixture *fx, gconstpointer user_data)
{
	const gchar *good = "[profile]\n"
	                    "name=roots\n"
	                    "models=devsim-*\n"
	                    "job=trust-only\n"
	                    "\n"
	                    "[burn]\n"
	                    "format=pem\n"
	                    "\n"
	                    "[trust]\n"
	                    "include-reserved=true\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(GPtrArray) errors = NULL;
	g_autoptr(GString) bad = g_string_new(good);
	g_autofree gchar *summary = NULL;

	(void)user_data;
	g_assert_true(g_file_set_contents(fx->path, good, -1, NULL));
	profile = fst_profile_load(fx->path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fst_profile_get_job(profile), ==, FST_PROFILE_JOB_TRUST_ONLY);
	g_assert_true(fst_profile_get_trust_options(profile)->include_reserved);
	g_assert_true(fst_profile_get_burn_object(profile, FST_OBJECT_TRUST_ROOTS));
	summary = fst_profile_describe(profile);
	g_assert_nonnull(strstr(summary, "roots: trust-only"));

	/* certificate keys have no meaning there: each is an error with its line */
	g_string_replace(bad, "job=trust-only\n", "job=trust-only\nkey-types=ec-p256\n", 1);
	g_string_append(bad, "\n[validity]\ndays=30\n");
	g_assert_true(g_file_set_contents(fx->path, bad->str, -1, NULL));
	g_clear_pointer(&profile, fst_profile_free);
	profile = fst_profile_check_file(fx->path, &errors);
	g_assert_null(profile);
	for (guint i = 0; i < errors->len; i++)
		g_test_message("%s", ((GError *)g_ptr_array_index(errors, i))->message);
	g_assert_cmpuint(errors->len, ==, 2);
	g_assert_nonnull(strstr(((GError *)g_ptr_array_index(errors, 0))->message,
	                        "[profile] key-types (line 5): a trust-only profile"));
	g_assert_nonnull(strstr(((GError *)g_ptr_array_index(errors, 1))->message,
	                        "[validity] days (line 14): a trust-only profile"));
}

/* runs `fleetstation profile check PATH`; returns the wait status */
static gint
fst_test_profile_check(const gchar *station, const gchar *path, gchar **out, gchar **err)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) argv = NULL;
	gint status = 0;

	g_strv_builder_add_many(builder, station, "profile", "check", path, NULL);
	argv = g_strv_builder_end(builder);
	g_assert_true(
	    g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, NULL));
	return status;
}

/* fleetstation profile check: summary lines, errors with line numbers, exit codes */
static void
fst_test_cli_check(FstTestFixture *fx, gconstpointer user_data)
{
	const gchar *station = g_getenv("FST_STATION");
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *shipped = NULL;
	gint status = 0;

	(void)user_data;
	if (station == NULL) {
		g_test_skip("FST_STATION is not set");
		return;
	}
	/* every shipped profile is good */
	shipped = g_build_filename(fst_test_templates_dir(), "profiles", NULL);
	{
		g_autoptr(GDir) dir = g_dir_open(shipped, 0, NULL);
		const gchar *name;
		g_assert_nonnull(dir);
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = NULL;
			if (!g_str_has_suffix(name, ".profile"))
				continue;
			path = g_build_filename(shipped, name, NULL);
			g_clear_pointer(&out, g_free);
			g_clear_pointer(&err, g_free);
			status = fst_test_profile_check(station, path, &out, &err);
			g_test_message("%s%s", out, err);
			g_assert_true(g_spawn_check_wait_status(status, NULL));
			g_assert_nonnull(strstr(out, ": ok: "));
		}
	}
	/* a bad one: the message names the line; exit 3 */
	{
		g_autoptr(FstProfile) p = fst_test_load_variant(fx, "days=365", "days=abc", NULL);
		g_assert_null(p);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		status = fst_test_profile_check(station, fx->path, &out, &err);
		g_test_message("%s", err);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 3);
		g_assert_nonnull(strstr(err, "[validity] days (line 13)"));
		g_assert_nonnull(strstr(err, ": 1 error\n"));
	}
	/* a fixed end in the past is a date, one that has passed */
	{
		g_autoptr(FstProfile) p =
		    fst_test_load_variant(fx, "days=365", "not-after=1999-12-31T23:59:59Z", NULL);
		g_assert_null(p);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		status = fst_test_profile_check(station, fx->path, &out, &err);
		g_test_message("%s", err);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 3);
		g_assert_nonnull(
		    strstr(err, "[validity] not-after (line 13): 1999-12-31T23:59:59Z has passed"));
		g_assert_null(strstr(err, "not a UTC date"));
	}
	/* several errors: each listed with its line, then the count */
	{
		g_autoptr(FstProfile) p =
		    fst_test_load_variant(fx, "o=Test Org\n", "o=Test Org\nou=Test Unit\n", NULL);
		g_autoptr(GString) text = g_string_new(NULL);
		gchar *contents = NULL;
		g_assert_null(p);
		g_assert_true(g_file_get_contents(fx->path, &contents, NULL, NULL));
		g_string_assign(text, contents);
		g_free(contents);
		g_string_replace(text, "days=365", "days=0", 1);
		g_string_replace(text, "include-starfield=false", "include-starfield=maybe", 1);
		g_assert_true(g_file_set_contents(fx->path, text->str, -1, NULL));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		status = fst_test_profile_check(station, fx->path, &out, &err);
		g_test_message("%s", err);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 3);
		g_assert_nonnull(strstr(err, "[subject] ou (line 11): unknown key"));
		g_assert_nonnull(strstr(err, "[validity] days (line 14): '0' is not"));
		g_assert_nonnull(strstr(err, "[trust] include-starfield (line 22): expected true"));
		g_assert_nonnull(strstr(err, ": 3 errors\n"));
		g_assert_cmpstr(out, ==, "");
	}
}

/* only a bounded regular file is read: no endless read of /dev/zero, no
 * wait on a FIFO, no directory */
static void
fst_test_non_regular(FstTestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *fifo = g_build_filename(fx->dir, "fifo.profile", NULL);
	g_autofree gchar *big = g_strnfill(64 * 1024 + 1, '#');
	const struct {
		const gchar *path;
		const gchar *message;
	} cases[] = {
	    {"/dev/zero", "is a character device, not a regular file"},
	    {fifo, "is a FIFO, not a regular file"},
	    {fx->dir, "is a directory, not a regular file"},
	    {fx->path, "65537 bytes, more than the 65536 bytes allowed"},
	};

	(void)user_data;
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_assert_true(g_file_set_contents(fx->path, big, -1, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstProfile) profile = fst_profile_load(cases[i].path, &error);
		g_assert_null(profile);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_test_message("%s: %s", cases[i].path, error->message);
		g_assert_nonnull(strstr(error->message, cases[i].message));
	}
	g_unlink(fifo);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/profile/load/shipped", fst_test_shipped);
	g_test_add_func("/fst/profile/find/errors", fst_test_find_errors);
	g_test_add("/fst/profile/load/good",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_good,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/trust-keys",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_trust_keys,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/aws-registration",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_aws_keys,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/rejects-bad-values",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_bad_values,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/issuer-aws",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_issuer_aws,
	           fst_test_teardown);
	g_test_add("/fst/profile/render-cn/good",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_render_cn,
	           fst_test_teardown);
	g_test_add("/fst/profile/render-cn/rejects-bad-thing-name",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_render_cn_bad,
	           fst_test_teardown);
	g_test_add("/fst/profile/check-device",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_check_device,
	           fst_test_teardown);
	g_test_add("/fst/profile/choose-key-type",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_choose_key_type,
	           fst_test_teardown);
	g_test_add_func("/fst/profile/thing-name", fst_test_thing_name);
	g_test_add("/fst/profile/load/full",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_full,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/rejects-bad-options",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_full_bad_values,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/key-sources",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_key_sources,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/all-errors",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_all_errors,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/rework-keys",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_rework_keys,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/trust-only",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_trust_only,
	           fst_test_teardown);
	g_test_add("/fst/profile/load/rejects-non-regular-files",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_non_regular,
	           fst_test_teardown);
	g_test_add("/fst/profile/cli-check",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_cli_check,
	           fst_test_teardown);
	return g_test_run();
}
