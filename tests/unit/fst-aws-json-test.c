/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A private key taken out of an AWS answer before any JSON parser sees it
 * (fst_json_take_secret(), used by CreateKeysAndCertificate), and the
 * typed reads of what a peer sent.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "fst-json.h"
#include "fst-error.h"

/* the shape of a CreateKeysAndCertificate answer, as AWS escapes it */
static const gchar answer[] =
    "{\"certificateArn\":\"arn:aws:iot:eu-west-1:123456789012:cert/ab12\","
    "\"certificateId\":\"ab12\","
    "\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nMIIBcert\\n-----END "
    "CERTIFICATE-----\\n\","
    "\"note\":\"a value that says \\\"PrivateKey\\\": not a member\","
    "\"keyPair\":{\"PublicKey\":\"-----BEGIN PUBLIC KEY-----\\nMFkwpub\\n-----END PUBLIC "
    "KEY-----\\n\",\"PrivateKey\" : \"-----BEGIN RSA PRIVATE KEY-----\\nMIIEsecret\\/k+"
    "\\u0041\\n-----END RSA PRIVATE KEY-----\\n\"}}";

static const gchar key_pem[] = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret/k+A\n"
                               "-----END RSA PRIVATE KEY-----\n";

static void
test_take_key(void)
{
	g_autofree gchar *text = g_strdup(answer);
	gsize len = strlen(text);
	g_autoptr(FstSecret) key = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *root;
	JsonObject *pair;
	const gchar *left;

	g_assert_true(fst_json_take_secret((guint8 *)text, len, "PrivateKey", &key, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fst_secret_get_str(key), ==, key_pem);
	g_assert_cmpuint(fst_secret_get_len(key), ==, strlen(key_pem));

	/* nothing of the key is left in the text, which is still the same JSON
	 * with the value blanked, and the same length */
	g_assert_cmpuint(strlen(text), ==, len);
	g_assert_null(strstr(text, "secret"));
	g_assert_null(strstr(text, "PRIVATE"));
	g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	pair = json_object_get_object_member(root, "keyPair");
	left = json_object_get_string_member(pair, "PrivateKey");
	g_assert_cmpuint(strspn(left, "0"), ==, strlen(left));
	g_assert_cmpuint(strlen(left), >, strlen(key_pem));
	g_assert_true(g_str_has_prefix(json_object_get_string_member(pair, "PublicKey"),
	                               "-----BEGIN PUBLIC KEY-----\nMFkwpub"));
	g_assert_cmpstr(json_object_get_string_member(root, "note"),
	                ==,
	                "a value that says \"PrivateKey\": not a member");
	g_assert_cmpstr(json_object_get_string_member(root, "certificateId"), ==, "ab12");
}

/* what is refused, and that a refused value is blanked all the same */
static void
test_take_refused(void)
{
	static const struct {
		const gchar *text;
		const gchar *why;
	} cases[] = {
	    {"{\"keyPair\":{\"PublicKey\":\"k\"}}", "no such member"},
	    {"{\"PrivateKey\":42}", "a number"},
	    {"{\"PrivateKey\":{\"a\":\"b\"}}", "an object"},
	    {"{\"PrivateKey\":\"unterminated", "an unterminated string"},
	    {"{\"PrivateKey\":\"bad \\x escape\"}", "an unknown escape"},
	    {"{\"PrivateKey\":\"nul \\u0000\"}", "a NUL"},
	    {"{\"PrivateKey\":\"e-acute \\u00e9\"}", "beyond ASCII"},
	    {"{\"PrivateKey\":\"short \\u04\"}", "a short \\u"},
	    {"{\"PrivateKey\":\"raw\nnewline\"}", "a raw control character"},
	    {"{\"PrivateKey\":\"trailing \\", "a trailing backslash"},
	    {"{\"PrivateKey\":\"one\",\"k\":{\"PrivateKey\":\"two-secret\"}}", "two members"},
	    {"", "an empty text"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = g_strdup(cases[i].text);
		g_autoptr(FstSecret) key = NULL;
		g_autoptr(GError) error = NULL;
		const gchar *escape = strstr(text, "\\u00e9");

		g_test_message("%s", cases[i].why);
		g_assert_false(
		    fst_json_take_secret((guint8 *)text, strlen(text), "PrivateKey", &key, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_PROTOCOL);
		g_assert_nonnull(strstr(error->message, "PrivateKey"));
		g_assert_null(key);
		/* a string that ends is blanked even when it is refused */
		if (escape != NULL)
			g_assert_null(strstr(text, "e-acute"));
		g_assert_null(strstr(text, "two-secret"));
	}
}

/* a member of another type than asked, or absent, or null, reads as
 * absent, with no critical warning (the tests run with fatal criticals) */
static void
test_typed_reads(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonParser) list = json_parser_new();
	JsonObject *obj;

	g_assert_true(
	    json_parser_load_from_data(parser,
	                               "{\"s\": \"text\", \"i\": 7, \"o\": {\"s\": \"in\"}, "
	                               "\"a\": [1, 2], \"n\": null, \"f\": 1.5, "
	                               "\"b\": true, \"w\": 3.0, \"h\": 1e300}",
	                               -1,
	                               &error));
	g_assert_no_error(error);
	obj = fst_json_root_object(parser);
	g_assert_nonnull(obj);
	g_assert_cmpstr(fst_json_get_string(obj, "s"), ==, "text");
	g_assert_cmpint(fst_json_get_int(obj, "i", -1), ==, 7);
	/* a whole number with a fraction is that number; one past 2^53 is not */
	g_assert_cmpint(fst_json_get_int(obj, "w", -1), ==, 3);
	g_assert_cmpint(fst_json_get_int(obj, "h", -1), ==, -1);
	g_assert_cmpstr(fst_json_get_string(fst_json_get_object(obj, "o"), "s"), ==, "in");
	g_assert_cmpuint(json_array_get_length(fst_json_get_array(obj, "a")), ==, 2);
	for (guint i = 0; i < 8; i++) {
		const gchar *names[] = {"s", "i", "o", "a", "n", "f", "b", "none"};
		const gchar *name = names[i];
		if (g_strcmp0(name, "s") != 0)
			g_assert_null(fst_json_get_string(obj, name));
		if (g_strcmp0(name, "i") != 0)
			g_assert_cmpint(fst_json_get_int(obj, name, -1), ==, -1);
		if (g_strcmp0(name, "o") != 0)
			g_assert_null(fst_json_get_object(obj, name));
		if (g_strcmp0(name, "a") != 0)
			g_assert_null(fst_json_get_array(obj, name));
	}
	g_assert_null(fst_json_get_string(NULL, "s"));
	g_assert_true(json_parser_load_from_data(list, "[{\"s\": 1}]", -1, &error));
	g_assert_no_error(error);
	g_assert_null(fst_json_root_object(list));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/aws/json/take-key", test_take_key);
	g_test_add_func("/fst/aws/json/take-refused", test_take_refused);
	g_test_add_func("/fst/aws/json/typed-reads", test_typed_reads);
	return g_test_run();
}
