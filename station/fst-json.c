/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON from outside the station (AWS IoT's answers, its bulk-registration
 * results, a credential helper, an audit anchor): a secret member taken out
 * of the text before any parser sees it, and typed reads of what a parser
 * made of the rest. Such JSON is untrusted: a member that is absent, null
 * or of another type reads as absent, where json-glib's own getters warn (a
 * critical, fatal under G_DEBUG=fatal-criticals) for a member of another
 * type.
 */

#define G_LOG_DOMAIN "FstJson"

#include "fst-json.h"

#include <math.h>

#include <openssl/crypto.h>
#include <string.h>

#include "fst-error.h"

/* the offset of the quote that ends the JSON string whose contents start
 * at @at, or -1 */
static gssize
fst_json_string_end(const gchar *text, gsize len, gsize at)
{
	for (gsize i = at; i < len; i++) {
		if (text[i] == '\\')
			i++;
		else if (text[i] == '"')
			return (gssize)i;
		else if ((guchar)text[i] < 0x20)
			return -1;
	}
	return -1;
}

static gsize
fst_json_skip_space(const gchar *text, gsize len, gsize at)
{
	while (at < len &&
	       (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
		at++;
	return at;
}

/* the contents of a JSON string (between its quotes) unescaped into @out
 * (at least @n bytes); \u only for ASCII, as a PEM key is */
static gboolean
fst_json_unescape(const gchar *s, gsize n, guint8 *out, gsize *out_len)
{
	gsize o = 0;

	for (gsize i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = (guint8)s[i];
			continue;
		}
		if (++i >= n)
			return FALSE;
		switch (s[i]) {
		case '"':
		case '\\':
		case '/':
			out[o++] = (guint8)s[i];
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u': {
			guint v = 0;
			if (i + 4 >= n)
				return FALSE;
			for (guint k = 1; k <= 4; k++) {
				gint d = g_ascii_xdigit_value(s[i + k]);
				if (d < 0)
					return FALSE;
				v = v * 16 + (guint)d;
			}
			if (v == 0 || v >= 0x80)
				return FALSE;
			out[o++] = (guint8)v;
			i += 4;
			break;
		}
		default:
			return FALSE;
		}
	}
	*out_len = o;
	return TRUE;
}

/**
 * fst_json_take_secret:
 * @text: (array length=len): a JSON text, changed in place
 * @len: its length
 * @member: the name of a member whose value is a string, e.g. "PrivateKey"
 * @secret: (out) (transfer full): the value, unescaped
 * @error: (nullable): return location for a #GError
 *
 * Takes a secret out of a JSON answer before any JSON parser sees it: the
 * one member named @member, in any object, must have a string value, which
 * is unescaped straight into an #FstSecret and then overwritten in @text
 * with '0' characters, so that @text stays valid JSON and holds no copy. A
 * parser's intermediate copies (token buffers, grown strings) are freed
 * without being wiped; this one copies nothing but into the secret.
 *
 * Fails with %FST_ERROR_PROTOCOL when there is no such member, or more than
 * one, its value is not a string, or the string is malformed (\u escapes are
 * taken for ASCII only, as a PEM key has). Every string value of such a
 * member is blanked, also when it fails.
 *
 * Returns: %TRUE with @secret set
 */
gboolean
fst_json_take_secret(
    guint8 *text, gsize len, const gchar *member, FstSecret **secret, GError **error)
{
	gchar *t = (gchar *)text;
	g_autoptr(FstSecret) taken = NULL;
	gboolean well_formed = FALSE;
	guint found = 0;
	gsize mlen;

	g_return_val_if_fail(text != NULL || len == 0, FALSE);
	g_return_val_if_fail(member != NULL && secret != NULL, FALSE);

	/* every member of that name is blanked; the first one is the secret */
	mlen = strlen(member);
	for (gsize i = 0; i < len;) {
		gsize start = i;
		gssize end;
		gsize after;

		if (t[i] != '"') {
			i++;
			continue;
		}
		end = fst_json_string_end(t, len, start + 1);
		if (end < 0)
			break;
		i = (gsize)end + 1;
		after = fst_json_skip_space(t, len, i);
		if (after >= len || t[after] != ':' || (gsize)end - (start + 1) != mlen ||
		    memcmp(t + start + 1, member, mlen) != 0)
			continue;
		{
			gsize at = fst_json_skip_space(t, len, after + 1);
			gssize vend =
			    at < len && t[at] == '"' ? fst_json_string_end(t, len, at + 1) : -1;
			gsize n = vend >= 0 ? (gsize)vend - at - 1 : 0;

			if (found++ == 0 && vend >= 0) {
				guint8 *value = g_malloc(n + 1);
				gsize value_len = 0;

				well_formed = fst_json_unescape(t + at + 1, n, value, &value_len);
				if (well_formed)
					taken = fst_secret_new(value, value_len);
				OPENSSL_cleanse(value, n + 1);
				g_free(value);
			}
			if (vend >= 0) {
				memset(t + at + 1, '0', n);
				i = (gsize)vend + 1;
			}
		}
	}
	if (found == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "the JSON text has no member %s (or is malformed before it)",
		            member);
		return FALSE;
	}
	if (found > 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "the JSON text has %u members %s, not one",
		            found,
		            member);
		return FALSE;
	}
	if (!well_formed) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "the JSON member %s is not a well-formed string",
		            member);
		return FALSE;
	}
	*secret = g_steal_pointer(&taken);
	return TRUE;
}

static JsonNode *
fst_json_member(JsonObject *obj, const gchar *name)
{
	return obj != NULL ? json_object_get_member(obj, name) : NULL;
}

/**
 * fst_json_get_string:
 * @obj: (nullable): a JSON object a peer sent
 * @name: a member name
 *
 * Returns: (nullable): the member's value, or %NULL when it is absent or
 *   not a string
 */
const gchar *
fst_json_get_string(JsonObject *obj, const gchar *name)
{
	JsonNode *node = fst_json_member(obj, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/**
 * fst_json_get_int:
 * @obj: (nullable): a JSON object a peer sent
 * @name: a member name
 * @fallback: what an absent member, or one that is not a whole number, reads
 *   as
 *
 * A whole number written with a fraction (`1.0`, as Python's json writes a
 * float) is that number, as the peers' own readers take it.
 *
 * Returns: the member's value, or @fallback
 */
gint64
fst_json_get_int(JsonObject *obj, const gchar *name, gint64 fallback)
{
	JsonNode *node = fst_json_member(obj, name);
	gdouble d;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return fallback;
	if (json_node_get_value_type(node) == G_TYPE_INT64)
		return json_node_get_int(node);
	if (json_node_get_value_type(node) != G_TYPE_DOUBLE)
		return fallback;
	/* exact in a double: below 2^53 */
	d = json_node_get_double(node);
	if (d != floor(d) || fabs(d) > 9007199254740992.0)
		return fallback;
	return (gint64)d;
}

/**
 * fst_json_get_object:
 * @obj: (nullable): a JSON object a peer sent
 * @name: a member name
 *
 * Returns: (nullable) (transfer none): the member's object, or %NULL when
 *   it is absent or not an object
 */
JsonObject *
fst_json_get_object(JsonObject *obj, const gchar *name)
{
	JsonNode *node = fst_json_member(obj, name);

	return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/**
 * fst_json_get_array:
 * @obj: (nullable): a JSON object a peer sent
 * @name: a member name
 *
 * Returns: (nullable) (transfer none): the member's array, or %NULL when it
 *   is absent or not an array
 */
JsonArray *
fst_json_get_array(JsonObject *obj, const gchar *name)
{
	JsonNode *node = fst_json_member(obj, name);

	return node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
}

/**
 * fst_json_root_object:
 * @parser: a parser that loaded a text
 *
 * Returns: (nullable) (transfer none): its root object, or %NULL when the
 *   text was no object
 */
JsonObject *
fst_json_root_object(JsonParser *parser)
{
	JsonNode *root = json_parser_get_root(parser);

	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}
