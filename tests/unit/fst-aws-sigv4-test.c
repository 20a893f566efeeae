/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsSigv4Test"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "fst-aws-sigv4.h"
#include "fst-error.h"

/*
 * The SigV4 signer against botocore's (Debian python3-botocore), byte for
 * byte: canonical request, string to sign, signature and Authorization of
 * each request below. Without botocore the whole test skips (77); the AWS
 * test suite's get-vanilla vector runs without it.
 */

#define TEST_AK "AKIDEXAMPLE"
#define TEST_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TEST_DATE "20150830T123600Z"
#define TEST_TOKEN "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token="

typedef struct {
	const gchar *method;
	const gchar *url;
	const gchar *body;
	const gchar *headers[4]; /* "Name: value" */
	const gchar *region;
	const gchar *service;
	const gchar *token;
	const gchar *date;
} TestCase;

#define CERT_JSON                                                                                  \
	"{\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nMIIB...\\n-----END "                  \
	"CERTIFICATE-----\\n\",\"status\":\"ACTIVE\"}"

static const TestCase test_cases[] = {
    /* IoT operations as the client sends them */
    {"POST",
     "https://iot.us-east-1.amazonaws.com/certificate/register?setAsActive=true",
     CERT_JSON,
     {"Content-Type: application/json"},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"POST",
     "https://iot.us-east-1.amazonaws.com/certificate/register-no-ca",
     CERT_JSON,
     {"Content-Type: application/json"},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"PUT",
     "https://iot.us-east-1.amazonaws.com/certificates/0123abcd?newStatus=INACTIVE",
     "",
     {NULL},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"GET",
     "https://iot.us-east-1.amazonaws.com/"
     "certificates?pageSize=2&isAscendingOrder=true&marker=a%2Fb%3D",
     "",
     {NULL},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"GET",
     "https://iot.eu-west-1.amazonaws.com/endpoint?endpointType=iot%3AData-ATS",
     "",
     {NULL},
     "eu-west-1",
     "iot",
     NULL,
     NULL},
    {"POST",
     "https://iot.eu-west-1.amazonaws.com/things/line-4%3Adevice%201",
     "{\"thingName\":\"x\"}",
     {"Content-Type: application/json"},
     "eu-west-1",
     "iot",
     NULL,
     NULL},
    {"PUT",
     "https://iot.ap-southeast-2.amazonaws.com/principal-policies/station%20policy",
     "",
     {"x-amzn-iot-principal: arn:aws:iot:ap-southeast-2:123456789012:cert/abc"},
     "ap-southeast-2",
     "iot",
     NULL,
     NULL},
    /* paths: non-ASCII, dot segments, empty segments, trailing slash */
    {"GET",
     "https://iot.us-east-1.amazonaws.com/things/%C3%A9t%C3%A9/",
     "",
     {NULL},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"GET",
     "https://example.amazonaws.com/a/./b/../c",
     "",
     {NULL},
     "us-east-1",
     "service",
     NULL,
     NULL},
    {"GET", "https://example.amazonaws.com//a//b/", "", {NULL}, "us-east-1", "service", NULL, NULL},
    /* query strings: empty values, a name alone, repeated names, encoded characters */
    {"GET",
     "https://example.amazonaws.com/?b=&a=1",
     "",
     {NULL},
     "us-east-1",
     "service",
     NULL,
     NULL},
    {"GET",
     "https://example.amazonaws.com/?k=2&k=1&j=z",
     "",
     {NULL},
     "us-west-2",
     "service",
     NULL,
     NULL},
    {"GET",
     "https://example.amazonaws.com/?q=a%20b%2Bc&z=~&%C3%A9=%2F",
     "",
     {NULL},
     "us-east-1",
     "service",
     NULL,
     NULL},
    {"GET",
     "https://iot.us-east-1.amazonaws.com/thing-registration-tasks/t1/"
     "reports?reportType=ERRORS&nextToken=",
     "",
     {NULL},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    /* session tokens and regions */
    {"POST",
     "https://iot.eu-west-1.amazonaws.com/certificate/register-no-ca",
     CERT_JSON,
     {"Content-Type: application/json"},
     "eu-west-1",
     "iot",
     TEST_TOKEN,
     NULL},
    {"GET",
     "https://iot.cn-north-1.amazonaws.com.cn/registrationcode",
     "",
     {NULL},
     "cn-north-1",
     "iot",
     TEST_TOKEN,
     "20261206T062500Z"},
    {"DELETE",
     "https://iot.us-gov-west-1.amazonaws.com/certificates/abc?forceDelete=true",
     "",
     {NULL},
     "us-gov-west-1",
     "iot",
     NULL,
     "20240229T235959Z"},
    /* headers: white space trimmed and collapsed, unsigned User-Agent, ports */
    {"GET",
     "https://example.amazonaws.com/",
     "",
     {"My-Header1:   a   b   c  ", "X-Second: \tv"},
     "us-east-1",
     "service",
     NULL,
     NULL},
    {"GET",
     "https://example.amazonaws.com/",
     "",
     {"User-Agent: fleetstation/0.1", "Expect: 100-continue"},
     "us-east-1",
     "service",
     NULL,
     NULL},
    {"POST",
     "http://127.0.0.1:5055/certificate/register-no-ca",
     CERT_JSON,
     {"Content-Type: application/json"},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    {"GET",
     "https://iot.us-east-1.amazonaws.com:443/certificates",
     "",
     {NULL},
     "us-east-1",
     "iot",
     NULL,
     NULL},
    /* S3: path as sent, payload hash header */
    {"PUT",
     "https://fleet-bulk.s3.eu-west-1.amazonaws.com/lot%20A/params.json",
     "{\"ThingName\":\"a\"}\n{\"ThingName\":\"b\"}\n",
     {"Content-Type: application/json"},
     "eu-west-1",
     "s3",
     NULL,
     NULL},
    {"GET",
     "https://s3.us-east-1.amazonaws.com/fleet-bulk?list-type=2&prefix=a%2Fb",
     "",
     {NULL},
     "us-east-1",
     "s3",
     NULL,
     NULL},
    {"PUT",
     "http://127.0.0.1:5055/fleet-bulk/lots/L-1.jsonl",
     "{}\n",
     {NULL},
     "eu-central-1",
     "s3",
     TEST_TOKEN,
     "20261206T062500Z"},
    {"GET",
     "https://fleet-bulk.s3.amazonaws.com/a/./b//c?acl",
     "",
     {NULL},
     "us-east-1",
     "s3",
     NULL,
     NULL},
};

static gchar *
test_write_cases(const gchar *dir)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *path = g_build_filename(dir, "cases.json", NULL);
	g_autoptr(GError) error = NULL;

	json_builder_begin_array(b);
	for (guint i = 0; i < G_N_ELEMENTS(test_cases); i++) {
		const TestCase *c = &test_cases[i];
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "method");
		json_builder_add_string_value(b, c->method);
		json_builder_set_member_name(b, "url");
		json_builder_add_string_value(b, c->url);
		json_builder_set_member_name(b, "body");
		json_builder_add_string_value(b, c->body);
		json_builder_set_member_name(b, "region");
		json_builder_add_string_value(b, c->region);
		json_builder_set_member_name(b, "service");
		json_builder_add_string_value(b, c->service);
		json_builder_set_member_name(b, "token");
		if (c->token != NULL)
			json_builder_add_string_value(b, c->token);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "date");
		json_builder_add_string_value(b, c->date != NULL ? c->date : TEST_DATE);
		json_builder_set_member_name(b, "access_key");
		json_builder_add_string_value(b, TEST_AK);
		json_builder_set_member_name(b, "secret_key");
		json_builder_add_string_value(b, TEST_SK);
		json_builder_set_member_name(b, "headers");
		json_builder_begin_object(b);
		for (guint j = 0; c->headers[j] != NULL; j++) {
			g_auto(GStrv) kv = g_strsplit(c->headers[j], ":", 2);
			json_builder_set_member_name(b, kv[0]);
			/* botocore keeps the value as given; so does the C signer */
			json_builder_add_string_value(b, kv[1] + (kv[1][0] == ' ' ? 1 : 0));
		}
		json_builder_end_object(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	g_assert_true(json_generator_to_file(gen, path, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&path);
}

static FstAwsSigned *
test_sign(const TestCase *c, GError **error)
{
	g_autoptr(FstSecret) sk = fst_secret_new((const guint8 *)TEST_SK, strlen(TEST_SK));
	g_autoptr(FstSecret) token = NULL;
	g_autoptr(GBytes) body = g_bytes_new_static(c->body, strlen(c->body));
	g_autoptr(GDateTime) when = NULL;
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autofree gchar *iso = NULL;
	const gchar *d = c->date != NULL ? c->date : TEST_DATE;
	const gchar *hdrs[5] = {NULL};

	/* the headers as botocore gets them: one space after the colon dropped */
	for (guint j = 0; c->headers[j] != NULL; j++)
		hdrs[j] = c->headers[j];
	iso = g_strdup_printf(
	    "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", d, d + 4, d + 6, d + 9, d + 11, d + 13);
	when = g_date_time_new_from_iso8601(iso, utc);
	g_assert_nonnull(when);
	if (c->token != NULL)
		token = fst_secret_new((const guint8 *)c->token, strlen(c->token));
	return fst_aws_sigv4_sign(
	    c->method, c->url, hdrs, body, c->region, c->service, TEST_AK, sk, token, when, error);
}

static void
test_sigv4_botocore(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-sigv4-XXXXXX", NULL);
	g_autofree gchar *cases = test_write_cases(dir);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	const gchar *python = g_getenv("FST_BOTOCORE_PYTHON");
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	gint status = 0;
	JsonArray *results;

	g_ptr_array_add(argv, g_strdup(python != NULL ? python : "/usr/bin/python3"));
	g_ptr_array_add(argv, g_strdup(FST_SIGV4_REFERENCE));
	g_ptr_array_add(argv, g_strdup(cases));
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)argv->pdata,
	                           NULL,
	                           G_SPAWN_DEFAULT,
	                           NULL,
	                           NULL,
	                           &out,
	                           &err,
	                           &status,
	                           &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_printerr("botocore reference failed: %s\n", err);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
	results = json_node_get_array(json_parser_get_root(parser));
	g_assert_cmpuint(json_array_get_length(results), ==, G_N_ELEMENTS(test_cases));
	g_assert_cmpuint(G_N_ELEMENTS(test_cases), >=, 20);
	for (guint i = 0; i < G_N_ELEMENTS(test_cases); i++) {
		JsonObject *ref = json_array_get_object_element(results, i);
		g_autoptr(FstAwsSigned) sig = test_sign(&test_cases[i], &error);

		g_test_message(
		    "%s %s (%s)", test_cases[i].method, test_cases[i].url, test_cases[i].service);
		g_assert_no_error(error);
		g_assert_nonnull(sig);
		g_assert_cmpstr(sig->canonical_request,
		                ==,
		                json_object_get_string_member(ref, "canonical_request"));
		g_assert_cmpstr(
		    sig->string_to_sign, ==, json_object_get_string_member(ref, "string_to_sign"));
		g_assert_cmpstr(
		    sig->signature, ==, json_object_get_string_member(ref, "signature"));
		g_assert_cmpstr(
		    sig->authorization, ==, json_object_get_string_member(ref, "authorization"));
	}
	g_unlink(cases);
	g_rmdir(dir);
}

/* the published AWS Signature Version 4 test suite, get-vanilla */
static void
test_sigv4_aws_suite_vanilla(void)
{
	TestCase c = {"GET",
	              "https://example.amazonaws.com/",
	              "",
	              {NULL},
	              "us-east-1",
	              "service",
	              NULL,
	              NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsSigned) sig = test_sign(&c, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(
	    sig->signature, ==, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	g_assert_cmpstr(sig->canonical_request,
	                ==,
	                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	                "host;x-amz-date\n"
	                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* the headers to send: the token and, for S3, the payload hash; none given
 * twice, and a caller's Authorization replaced */
static void
test_sigv4_headers_sent(void)
{
	TestCase c = {"PUT",
	              "http://127.0.0.1:5055/b/k",
	              "x",
	              {"Authorization: stale", "X-Amz-Date: old"},
	              "us-east-1",
	              "s3",
	              TEST_TOKEN,
	              NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsSigned) sig = test_sign(&c, &error);
	guint n_auth = 0;
	gboolean has_token = FALSE, has_sha = FALSE, has_host = FALSE;

	g_assert_no_error(error);
	for (guint i = 0; i < sig->headers->len; i++) {
		const gchar *h = g_ptr_array_index(sig->headers, i);
		if (g_str_has_prefix(h, "Authorization: ")) {
			n_auth++;
			g_assert_true(g_str_has_prefix(
			    h + 15, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"));
		}
		g_assert_false(g_str_has_prefix(h, "X-Amz-Date: old"));
		has_token |= g_strcmp0(h, "X-Amz-Security-Token: " TEST_TOKEN) == 0;
		has_sha |=
		    g_strcmp0(h,
		              "X-Amz-Content-SHA256: "
		              "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881") ==
		    0;
		has_host |= g_strcmp0(h, "Host: 127.0.0.1:5055") == 0;
	}
	g_assert_cmpuint(n_auth, ==, 1);
	g_assert_true(has_token);
	g_assert_true(has_sha);
	g_assert_true(has_host);
}

static void
test_sigv4_bad_query(void)
{
	TestCase c = {"GET",
	              "https://example.amazonaws.com/?a=%zz",
	              "",
	              {NULL},
	              "us-east-1",
	              "iot",
	              NULL,
	              NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsSigned) sig = test_sign(&c, &error);

	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_null(sig);
}

int
main(int argc, char **argv)
{
	const gchar *python = g_getenv("FST_BOTOCORE_PYTHON");
	g_autoptr(GPtrArray) argv_check = g_ptr_array_new_with_free_func(g_free);
	gint status = -1;

	g_ptr_array_add(argv_check, g_strdup(python != NULL ? python : "/usr/bin/python3"));
	g_ptr_array_add(argv_check, g_strdup("-c"));
	g_ptr_array_add(argv_check, g_strdup("import botocore.auth"));
	g_ptr_array_add(argv_check, NULL);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/aws/sigv4/aws-suite-get-vanilla", test_sigv4_aws_suite_vanilla);
	g_test_add_func("/fst/aws/sigv4/headers-sent", test_sigv4_headers_sent);
	g_test_add_func("/fst/aws/sigv4/rejects-bad-percent-escape", test_sigv4_bad_query);
	if (!g_spawn_sync(NULL,
	                  (gchar **)argv_check->pdata,
	                  NULL,
	                  G_SPAWN_STDERR_TO_DEV_NULL,
	                  NULL,
	                  NULL,
	                  NULL,
	                  NULL,
	                  &status,
	                  NULL) ||
	    !g_spawn_check_wait_status(status, NULL)) {
		g_printerr("botocore is missing (apt-get install python3-botocore): skipping\n");
		return 77;
	}
	g_test_add_func("/fst/aws/sigv4/matches-botocore", test_sigv4_botocore);
	return g_test_run();
}
