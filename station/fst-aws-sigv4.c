/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4 (the "AWS4-HMAC-SHA256" Authorization header),
 * written to the AWS General Reference "Signature Version 4 signing process":
 * canonical request, string to sign, derived signing key, signature.
 *
 * Two service families differ in the canonical path: every service but S3
 * normalizes the path (dot segments and empty segments removed) and encodes
 * the already encoded path a second time; S3 signs the path exactly as sent
 * and adds the payload hash as the `X-Amz-Content-SHA256` header. The
 * payload is always signed (never UNSIGNED-PAYLOAD).
 */

#define G_LOG_DOMAIN "FstAwsSigv4"

#include "fst-aws-sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

#include "fst-error.h"

/**
 * fst_aws_signed_free:
 * @self: (nullable): an #FstAwsSigned
 *
 * Frees a signing result.
 */
void
fst_aws_signed_free(FstAwsSigned *self)
{
	if (self == NULL)
		return;
	g_free(self->canonical_request);
	g_free(self->string_to_sign);
	g_free(self->signature);
	g_free(self->authorization);
	g_free(self->amz_date);
	if (self->headers != NULL)
		g_ptr_array_unref(self->headers);
	g_free(self);
}

static gboolean
fst_aws_is_unreserved(guchar c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/**
 * fst_aws_uri_encode:
 * @text: bytes to encode
 * @len: length of @text, or -1 if NUL-terminated
 * @keep_slash: leave `/` as it is (paths)
 *
 * Percent-encodes every byte but the RFC 3986 unreserved characters
 * (`A-Z a-z 0-9 - _ . ~`), with upper-case hex digits, as SigV4 asks.
 *
 * Returns: (transfer full): the encoded text
 */
gchar *
fst_aws_uri_encode(const gchar *text, gssize len, gboolean keep_slash)
{
	GString *out;

	if (len < 0)
		len = strlen(text);
	out = g_string_sized_new(len + 8);
	for (gssize i = 0; i < len; i++) {
		guchar c = (guchar)text[i];
		if (fst_aws_is_unreserved(c) || (keep_slash && c == '/'))
			g_string_append_c(out, (gchar)c);
		else
			g_string_append_printf(out, "%%%02X", c);
	}
	return g_string_free(out, FALSE);
}

/* percent-decodes @text; a `%` not followed by two hex digits is an error */
static gchar *
fst_aws_uri_decode(const gchar *text, gsize len, GError **error)
{
	g_autoptr(GString) out = g_string_sized_new(len);

	for (gsize i = 0; i < len; i++) {
		if (text[i] != '%') {
			g_string_append_c(out, text[i]);
			continue;
		}
		if (i + 2 >= len || !g_ascii_isxdigit(text[i + 1]) ||
		    !g_ascii_isxdigit(text[i + 2])) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "query string has a bad percent escape at \"%.*s\": "
			            "encode %% as %%25",
			            (gint)MIN(len - i, 8),
			            text + i);
			return NULL;
		}
		g_string_append_c(out,
		                  (gchar)(g_ascii_xdigit_value(text[i + 1]) * 16 +
		                          g_ascii_xdigit_value(text[i + 2])));
		i += 2;
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

typedef struct {
	gchar *key;
	gchar *value;
} FstAwsPair;

static void
fst_aws_pair_free(gpointer data)
{
	FstAwsPair *pair = data;
	g_free(pair->key);
	g_free(pair->value);
	g_free(pair);
}

static gint
fst_aws_pair_cmp(gconstpointer a, gconstpointer b)
{
	const FstAwsPair *pa = *(const FstAwsPair *const *)a;
	const FstAwsPair *pb = *(const FstAwsPair *const *)b;
	gint rc = strcmp(pa->key, pb->key);
	return rc != 0 ? rc : strcmp(pa->value, pb->value);
}

/* names only: equal names keep their order (g_ptr_array_sort is stable) */
static gint
fst_aws_pair_cmp_key(gconstpointer a, gconstpointer b)
{
	const FstAwsPair *pa = *(const FstAwsPair *const *)a;
	const FstAwsPair *pb = *(const FstAwsPair *const *)b;
	return strcmp(pa->key, pb->key);
}

/* each name and value decoded and encoded again, sorted by name then value */
static gchar *
fst_aws_canonical_query(const gchar *query, GError **error)
{
	g_autoptr(GPtrArray) pairs = g_ptr_array_new_with_free_func(fst_aws_pair_free);
	g_auto(GStrv) parts = NULL;
	g_autoptr(GString) out = g_string_new(NULL);

	if (query == NULL || query[0] == '\0')
		return g_strdup("");
	parts = g_strsplit(query, "&", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		const gchar *eq;
		g_autofree gchar *key = NULL;
		g_autofree gchar *value = NULL;
		FstAwsPair *pair;

		if (parts[i][0] == '\0')
			continue;
		eq = strchr(parts[i], '=');
		key = fst_aws_uri_decode(
		    parts[i], eq != NULL ? (gsize)(eq - parts[i]) : strlen(parts[i]), error);
		if (key == NULL)
			return NULL;
		value = fst_aws_uri_decode(
		    eq != NULL ? eq + 1 : "", eq != NULL ? strlen(eq + 1) : 0, error);
		if (value == NULL)
			return NULL;
		pair = g_new0(FstAwsPair, 1);
		pair->key = fst_aws_uri_encode(key, -1, FALSE);
		pair->value = fst_aws_uri_encode(value, -1, FALSE);
		g_ptr_array_add(pairs, pair);
	}
	g_ptr_array_sort(pairs, fst_aws_pair_cmp);
	for (guint i = 0; i < pairs->len; i++) {
		FstAwsPair *pair = g_ptr_array_index(pairs, i);
		if (i > 0)
			g_string_append_c(out, '&');
		g_string_append_printf(out, "%s=%s", pair->key, pair->value);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* RFC 3986 5.2.4 remove_dot_segments, and empty segments dropped as AWS
 * services other than S3 expect */
static gchar *
fst_aws_normalize_path(const gchar *path)
{
	g_auto(GStrv) segs = NULL;
	g_autoptr(GPtrArray) out = g_ptr_array_new();
	g_autoptr(GString) res = g_string_new(NULL);
	gsize len;

	if (path == NULL || path[0] == '\0')
		return g_strdup("/");
	len = strlen(path);
	segs = g_strsplit(path, "/", -1);
	for (guint i = 0; segs[i] != NULL; i++) {
		if (segs[i][0] == '\0' || g_strcmp0(segs[i], ".") == 0)
			continue;
		if (g_strcmp0(segs[i], "..") == 0) {
			if (out->len > 0)
				g_ptr_array_remove_index(out, out->len - 1);
			continue;
		}
		g_ptr_array_add(out, segs[i]);
	}
	if (path[0] == '/')
		g_string_append_c(res, '/');
	for (guint i = 0; i < out->len; i++) {
		if (i > 0)
			g_string_append_c(res, '/');
		g_string_append(res, g_ptr_array_index(out, i));
	}
	if (path[len - 1] == '/' && out->len > 0)
		g_string_append_c(res, '/');
	return g_string_free(g_steal_pointer(&res), FALSE);
}

/* Trimall: leading and trailing white space gone, inner runs one space */
static gchar *
fst_aws_trimall(const gchar *value)
{
	g_autoptr(GString) out = g_string_new(NULL);
	gboolean space = FALSE;

	for (const gchar *p = value; *p != '\0'; p++) {
		if (g_ascii_isspace(*p)) {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, *p);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static gchar *
fst_aws_hex(const guint8 *buf, gsize len)
{
	GString *out = g_string_sized_new(len * 2 + 1);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(out, "%02x", buf[i]);
	return g_string_free(out, FALSE);
}

static gchar *
fst_aws_sha256_hex(gconstpointer data, gsize len)
{
	guint8 md[SHA256_DIGEST_LENGTH];
	SHA256(data != NULL ? data : (gconstpointer) "", len, md);
	return fst_aws_hex(md, sizeof(md));
}

static gboolean
fst_aws_hmac(const guint8 *key,
             gsize key_len,
             const gchar *data,
             guint8 out[SHA256_DIGEST_LENGTH],
             GError **error)
{
	guint out_len = 0;
	if (HMAC(EVP_sha256(),
	         key,
	         (gint)key_len,
	         (const guchar *)data,
	         strlen(data),
	         out,
	         &out_len) == NULL ||
	    out_len != SHA256_DIGEST_LENGTH) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "computing HMAC-SHA256");
		return FALSE;
	}
	return TRUE;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"), then the signature over @sts; every intermediate key wiped */
static gchar *
fst_aws_signature(const FstSecret *secret,
                  const gchar *date,
                  const gchar *region,
                  const gchar *service,
                  const gchar *sts,
                  GError **error)
{
	const gchar *steps[] = {date, region, service, "aws4_request", sts};
	gsize secret_len = 0;
	const guint8 *secret_data = fst_secret_get_data(secret, &secret_len);
	g_autofree guint8 *k0 = g_malloc(secret_len + 4);
	guint8 key[SHA256_DIGEST_LENGTH];
	guint8 next[SHA256_DIGEST_LENGTH];
	gchar *result = NULL;
	gboolean ok;

	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret_data, secret_len);
	ok = fst_aws_hmac(k0, secret_len + 4, steps[0], key, error);
	OPENSSL_cleanse(k0, secret_len + 4);
	for (guint i = 1; ok && i < G_N_ELEMENTS(steps); i++) {
		ok = fst_aws_hmac(key, sizeof(key), steps[i], next, error);
		memcpy(key, next, sizeof(key));
	}
	if (ok)
		result = fst_aws_hex(key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(next, sizeof(next));
	return result;
}

static gboolean
fst_aws_header_dropped(const gchar *lname, gboolean s3)
{
	return g_strcmp0(lname, "authorization") == 0 || g_strcmp0(lname, "x-amz-date") == 0 ||
	       g_strcmp0(lname, "x-amz-security-token") == 0 ||
	       (s3 && g_strcmp0(lname, "x-amz-content-sha256") == 0);
}

static gboolean
fst_aws_header_unsigned(const gchar *lname)
{
	return g_strcmp0(lname, "expect") == 0 || g_strcmp0(lname, "user-agent") == 0 ||
	       g_strcmp0(lname, "x-amzn-trace-id") == 0;
}

/**
 * fst_aws_sigv4_sign:
 * @method: HTTP method, e.g. "POST"
 * @url: the full URL as it goes on the wire: path segments and query names
 *   and values percent-encoded (fst_aws_uri_encode())
 * @headers: (nullable) (array zero-terminated=1): headers to send and sign,
 *   `Name: value`; `User-Agent`, `Expect` and `X-Amzn-Trace-Id` are sent but
 *   not signed, and `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token`
 *   given here are replaced
 * @body: (nullable): the request body; its SHA-256 is signed
 * @region: e.g. "eu-west-1"
 * @service: the signing name, e.g. "iot" or "s3"
 * @access_key_id: the access key id
 * @secret_access_key: the secret access key
 * @session_token: (nullable): the session token of temporary credentials
 * @when: (nullable): the signing time, or %NULL for now
 * @error: (nullable): return location for a #GError
 *
 * Signs one request with AWS Signature Version 4. The query string is put in
 * canonical form here (decoded, encoded again, sorted), so the URL must
 * already carry it encoded; a `+` in it is a literal plus, not a space. An
 * over-encoded unreserved character (`%7E`) is signed as AWS decodes it
 * (`~`); fst_aws_uri_encode() never makes one.
 *
 * Returns: (transfer full): the signature and the headers to send, or %NULL
 *   with %FST_ERROR_INVALID_DATA if the URL cannot be parsed
 */
FstAwsSigned *
fst_aws_sigv4_sign(const gchar *method,
                   const gchar *url,
                   const gchar *const *headers,
                   GBytes *body,
                   const gchar *region,
                   const gchar *service,
                   const gchar *access_key_id,
                   const FstSecret *secret_access_key,
                   const FstSecret *session_token,
                   GDateTime *when,
                   GError **error)
{
	g_autoptr(FstAwsSigned) res = g_new0(FstAwsSigned, 1);
	g_autoptr(GPtrArray) tosign = g_ptr_array_new_with_free_func(fst_aws_pair_free);
	g_autoptr(GDateTime) now = NULL;
	g_autoptr(GString) cr = g_string_new(NULL);
	g_autoptr(GString) signed_names = g_string_new(NULL);
	g_autofree gchar *scheme = NULL;
	g_autofree gchar *host = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *query = NULL;
	g_autofree gchar *canon_path = NULL;
	g_autofree gchar *canon_query = NULL;
	g_autofree gchar *payload_hash = NULL;
	g_autofree gchar *cr_hash = NULL;
	g_autofree gchar *scope = NULL;
	g_autofree gchar *date = NULL;
	g_autofree gchar *token = NULL;
	gboolean s3 = g_strcmp0(service, "s3") == 0;
	gboolean have_host = FALSE;
	gint port = -1;
	gsize body_len = 0;
	gconstpointer body_data = body != NULL ? g_bytes_get_data(body, &body_len) : NULL;
	const gchar *last = NULL;

	g_return_val_if_fail(method != NULL && url != NULL, NULL);
	g_return_val_if_fail(region != NULL && service != NULL && access_key_id != NULL, NULL);
	g_return_val_if_fail(secret_access_key != NULL, NULL);

	if (!g_uri_split(url,
	                 G_URI_FLAGS_ENCODED | G_URI_FLAGS_NON_DNS,
	                 &scheme,
	                 NULL,
	                 &host,
	                 &port,
	                 &path,
	                 &query,
	                 NULL,
	                 error) ||
	    host == NULL || host[0] == '\0') {
		g_clear_error(error);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "cannot sign a request to \"%s\": give an absolute http(s) URL",
		            url);
		return NULL;
	}

	if (when == NULL)
		when = now = g_date_time_new_now_utc();
	res->amz_date = g_date_time_format(when, "%Y%m%dT%H%M%SZ");
	date = g_strndup(res->amz_date, 8);
	payload_hash = fst_aws_sha256_hex(body_data, body_len);
	if (session_token != NULL)
		token = g_strdup(fst_secret_get_str(session_token));

	/* headers sent, and those signed */
	res->headers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; headers != NULL && headers[i] != NULL; i++) {
		const gchar *colon = strchr(headers[i], ':');
		g_autofree gchar *lname = NULL;
		FstAwsPair *pair;

		if (colon == NULL || colon == headers[i]) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "header \"%s\" is not \"Name: value\"",
			            headers[i]);
			return NULL;
		}
		lname = g_ascii_strdown(headers[i], colon - headers[i]);
		g_strstrip(lname);
		if (fst_aws_header_dropped(lname, s3))
			continue;
		g_ptr_array_add(res->headers, g_strdup(headers[i]));
		if (fst_aws_header_unsigned(lname))
			continue;
		if (g_strcmp0(lname, "host") == 0)
			have_host = TRUE;
		pair = g_new0(FstAwsPair, 1);
		pair->key = g_steal_pointer(&lname);
		pair->value = fst_aws_trimall(colon + 1);
		g_ptr_array_add(tosign, pair);
	}
	if (!have_host) {
		g_autofree gchar *lhost = g_ascii_strdown(host, -1);
		FstAwsPair *pair = g_new0(FstAwsPair, 1);
		gboolean ipv6 = strchr(lhost, ':') != NULL;
		gint default_port = g_ascii_strcasecmp(scheme, "https") == 0 ? 443 : 80;

		pair->key = g_strdup("host");
		if (port > 0 && port != default_port)
			pair->value = g_strdup_printf(ipv6 ? "[%s]:%d" : "%s:%d", lhost, port);
		else
			pair->value = g_strdup_printf(ipv6 ? "[%s]" : "%s", lhost);
		g_ptr_array_add(res->headers, g_strdup_printf("Host: %s", pair->value));
		g_ptr_array_add(tosign, pair);
	}
	{
		FstAwsPair *pair = g_new0(FstAwsPair, 1);
		pair->key = g_strdup("x-amz-date");
		pair->value = g_strdup(res->amz_date);
		g_ptr_array_add(tosign, pair);
		g_ptr_array_add(res->headers, g_strdup_printf("X-Amz-Date: %s", res->amz_date));
	}
	if (token != NULL) {
		FstAwsPair *pair = g_new0(FstAwsPair, 1);
		pair->key = g_strdup("x-amz-security-token");
		pair->value = fst_aws_trimall(token);
		g_ptr_array_add(tosign, pair);
		g_ptr_array_add(res->headers, g_strdup_printf("X-Amz-Security-Token: %s", token));
	}
	if (s3) {
		FstAwsPair *pair = g_new0(FstAwsPair, 1);
		pair->key = g_strdup("x-amz-content-sha256");
		pair->value = g_strdup(payload_hash);
		g_ptr_array_add(tosign, pair);
		g_ptr_array_add(res->headers,
		                g_strdup_printf("X-Amz-Content-SHA256: %s", payload_hash));
	}
	g_ptr_array_sort(tosign, fst_aws_pair_cmp_key);

	/* canonical request */
	if (s3) {
		canon_path = g_strdup(path[0] != '\0' ? path : "/");
	} else {
		g_autofree gchar *norm = fst_aws_normalize_path(path);
		canon_path = fst_aws_uri_encode(norm, -1, TRUE);
	}
	canon_query = fst_aws_canonical_query(query, error);
	if (canon_query == NULL)
		return NULL;
	g_string_append_printf(cr, "%s\n%s\n%s\n", method, canon_path, canon_query);
	for (guint i = 0; i < tosign->len; i++) {
		FstAwsPair *pair = g_ptr_array_index(tosign, i);
		if (g_strcmp0(last, pair->key) == 0) {
			g_string_append_printf(cr, ",%s", pair->value);
			continue;
		}
		if (last != NULL)
			g_string_append_c(cr, '\n');
		g_string_append_printf(cr, "%s:%s", pair->key, pair->value);
		if (signed_names->len > 0)
			g_string_append_c(signed_names, ';');
		g_string_append(signed_names, pair->key);
		last = pair->key;
	}
	g_string_append_printf(cr, "\n\n%s\n%s", signed_names->str, payload_hash);
	res->canonical_request = g_string_free(g_steal_pointer(&cr), FALSE);

	/* string to sign, signature */
	cr_hash = fst_aws_sha256_hex(res->canonical_request, strlen(res->canonical_request));
	scope = g_strdup_printf("%s/%s/%s/aws4_request", date, region, service);
	res->string_to_sign =
	    g_strdup_printf("AWS4-HMAC-SHA256\n%s\n%s\n%s", res->amz_date, scope, cr_hash);
	res->signature =
	    fst_aws_signature(secret_access_key, date, region, service, res->string_to_sign, error);
	if (res->signature == NULL)
		return NULL;
	res->authorization =
	    g_strdup_printf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
	                    access_key_id,
	                    scope,
	                    signed_names->str,
	                    res->signature);
	g_ptr_array_add(res->headers, g_strdup_printf("Authorization: %s", res->authorization));
	if (token != NULL)
		OPENSSL_cleanse(token, strlen(token));
	return g_steal_pointer(&res);
}
