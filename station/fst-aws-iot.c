/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS IoT control plane (API 2015-05-28, rest-json), spoken with libcurl,
 * signed with SigV4 (fst-aws-sigv4.c), JSON through json-glib. Shapes, paths
 * and error names follow botocore's service model.
 *
 * Every call goes through fst_aws_iot_call(): the request rate is held to the
 * configured rate, throttling (ThrottlingException, HTTP 429), 5xx answers and
 * transport failures are retried with exponential backoff and full jitter,
 * and what is left becomes an FST_ERROR that says what went wrong and what to
 * do. The AWS error type of the last failed call stays readable
 * (fst_aws_iot_get_last_error_type()).
 *
 * A client is not thread-safe: each worker thread has its own.
 */

#define G_LOG_DOMAIN "FstAwsIot"

#include "fst-config.h"

#include "fst-aws-iot.h"

#include <curl/curl.h>
#include <json-glib/json-glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "fst-json.h"
#include "fst-aws-sigv4.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/* answers larger than this are refused: no IoT answer comes near it */
#define FST_AWS_IOT_MAX_BODY (8 * 1024 * 1024)

struct _FstAwsIot {
	GObject parent_instance;
	CURL *curl;                     /* (owned) */
	gchar *endpoint;                /* (owned): scheme://host[:port], no trailing slash */
	gchar *region;                  /* (owned) */
	FstAwsCredentials *credentials; /* (owned): its own copy, read again when its
	                                 * files change (fst_aws_credentials_refresh()) */
	gchar *ca_bundle;               /* (owned) (nullable): $AWS_CA_BUNDLE */
	gint64 interval_us;             /* 0: no rate limit */
	gint64 next_slot_us;
	guint max_attempts;
	guint base_ms;
	guint cap_ms;
	guint requests;
	guint retries;
	guint lost_answers;     /* of the last call */
	gchar *last_error_type; /* (owned) (nullable) */
};

G_DEFINE_TYPE(FstAwsIot, fst_aws_iot, G_TYPE_OBJECT)

static void
fst_aws_iot_finalize(GObject *object)
{
	FstAwsIot *self = FST_AWS_IOT(object);
	if (self->curl != NULL)
		curl_easy_cleanup(self->curl);
	g_free(self->endpoint);
	g_free(self->region);
	g_clear_pointer(&self->credentials, fst_aws_credentials_free);
	g_free(self->ca_bundle);
	g_free(self->last_error_type);
	G_OBJECT_CLASS(fst_aws_iot_parent_class)->finalize(object);
}

static void
fst_aws_iot_class_init(FstAwsIotClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = fst_aws_iot_finalize;
}

static void
fst_aws_iot_init(FstAwsIot *self)
{
	self->max_attempts = 8;
	self->base_ms = 100;
	self->cap_ms = 20000;
}

/**
 * fst_aws_certificate_free:
 * @self: (nullable): an #FstAwsCertificate
 *
 * Frees a certificate description.
 */
void
fst_aws_certificate_free(FstAwsCertificate *self)
{
	if (self == NULL)
		return;
	g_free(self->certificate_id);
	g_free(self->certificate_arn);
	g_free(self->status);
	g_free(self->certificate_pem);
	g_free(self->ca_certificate_id);
	g_free(self);
}

/**
 * fst_aws_iot_new:
 * @credentials: keys, region and endpoint (copied)
 * @error: (nullable): return location for a #GError
 *
 * Makes an AWS IoT control-plane client. The endpoint is the credentials'
 * endpoint URL, else `https://iot.REGION.amazonaws.com`. `$AWS_CA_BUNDLE`
 * names other trust anchors for HTTPS, as for the AWS CLI. Keys read from the
 * AWS files are read again before a request when the files have changed
 * (fst_aws_credentials_refresh()), and once more after AWS refused expired
 * keys; the region and the endpoint stay the client's.
 *
 * Returns: (transfer full): the client, or %NULL with %FST_ERROR_CONFIG when
 *   there is no region or the endpoint is not an http(s) URL
 */
FstAwsIot *
fst_aws_iot_new(const FstAwsCredentials *credentials, GError **error)
{
	g_autoptr(FstAwsIot) self = NULL;
	const gchar *bundle = g_getenv("AWS_CA_BUNDLE");

	g_return_val_if_fail(credentials != NULL, NULL);
	g_return_val_if_fail(credentials->secret_access_key != NULL, NULL);

	if (credentials->region == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_CONFIG,
		                    "no AWS region: give --region, set AWS_REGION, or set region "
		                    "in the profile of ~/.aws/config");
		return NULL;
	}
	self = g_object_new(FST_TYPE_AWS_IOT, NULL);
	self->region = g_strdup(credentials->region);
	if (credentials->endpoint_url != NULL) {
		if (!g_str_has_prefix(credentials->endpoint_url, "http://") &&
		    !g_str_has_prefix(credentials->endpoint_url, "https://")) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "endpoint URL \"%s\" is not http:// or https://",
			            credentials->endpoint_url);
			return NULL;
		}
		self->endpoint = g_strdup(credentials->endpoint_url);
		while (g_str_has_suffix(self->endpoint, "/"))
			self->endpoint[strlen(self->endpoint) - 1] = '\0';
	} else {
		self->endpoint = g_strdup_printf("https://iot.%s.amazonaws.com", self->region);
	}
	self->credentials = fst_aws_credentials_copy(credentials);
	if (bundle != NULL && bundle[0] != '\0')
		self->ca_bundle = g_strdup(bundle);
	self->curl = curl_easy_init();
	if (self->curl == NULL) {
		g_set_error_literal(error, FST_ERROR, FST_ERROR_INTERNAL, "cannot start libcurl");
		return NULL;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_aws_iot_get_endpoint:
 * @self: an #FstAwsIot
 *
 * Returns: the endpoint requests go to, e.g. `https://iot.eu-west-1.amazonaws.com`
 */
const gchar *
fst_aws_iot_get_endpoint(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	return self->endpoint;
}

/**
 * fst_aws_iot_get_region:
 * @self: an #FstAwsIot
 *
 * Returns: the region requests are signed for
 */
const gchar *
fst_aws_iot_get_region(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	return self->region;
}

/**
 * fst_aws_iot_set_rate:
 * @self: an #FstAwsIot
 * @requests_per_second: the most requests a second this client starts, or
 *   0 for no limit
 *
 * Holds the client to a request rate (AWS IoT's per-account limits are a few
 * to a few tens of requests a second per API); retries count too.
 */
void
fst_aws_iot_set_rate(FstAwsIot *self, gdouble requests_per_second)
{
	g_return_if_fail(FST_IS_AWS_IOT(self));
	self->interval_us =
	    requests_per_second > 0 ? (gint64)(G_USEC_PER_SEC / requests_per_second) : 0;
}

/**
 * fst_aws_iot_set_retry:
 * @self: an #FstAwsIot
 * @max_attempts: tries per call, at least 1 (default 8)
 * @base_ms: the first backoff ceiling (default 100 ms)
 * @cap_ms: the largest backoff ceiling (default 20 s)
 *
 * Sets the retry policy for throttling, 5xx and transport failures: before
 * try n + 1 the client waits a random time between 0 and min(@cap_ms,
 * @base_ms * 2^n) ("full jitter").
 */
void
fst_aws_iot_set_retry(FstAwsIot *self, guint max_attempts, guint base_ms, guint cap_ms)
{
	g_return_if_fail(FST_IS_AWS_IOT(self));
	self->max_attempts = MAX(max_attempts, 1);
	self->base_ms = base_ms;
	self->cap_ms = MAX(cap_ms, base_ms);
}

/**
 * fst_aws_iot_get_request_count:
 * @self: an #FstAwsIot
 *
 * Returns: HTTP requests sent so far, retries included
 */
guint
fst_aws_iot_get_request_count(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), 0);
	return self->requests;
}

/**
 * fst_aws_iot_get_retry_count:
 * @self: an #FstAwsIot
 *
 * Returns: requests that were retried so far
 */
guint
fst_aws_iot_get_retry_count(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), 0);
	return self->retries;
}

/**
 * fst_aws_iot_get_lost_answer_count:
 * @self: an #FstAwsIot
 *
 * The requests of the last call that AWS may have carried out without the
 * station getting the answer: one went out and the connection failed before
 * the whole answer came (a reset, a timeout; also when libcurl sent it
 * again by itself on a fresh connection), or AWS answered 5xx. A call that
 * creates something (CreateCertificateFromCsr) may then have created it
 * more than once.
 *
 * Returns: the number of such requests in the last call
 */
guint
fst_aws_iot_get_lost_answer_count(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), 0);
	return self->lost_answers;
}

/**
 * fst_aws_iot_get_last_error_type:
 * @self: an #FstAwsIot
 *
 * Returns: (nullable): the AWS error type of the last failed call, e.g.
 *   "ResourceAlreadyExistsException", or "http-503" / "transport" when AWS
 *   gave none
 */
const gchar *
fst_aws_iot_get_last_error_type(FstAwsIot *self)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	return self->last_error_type;
}

/* sleeps @us in small steps so that @cancellable stops it */
static gboolean
fst_aws_iot_sleep(gint64 us, GCancellable *cancellable, GError **error)
{
	gint64 end = g_get_monotonic_time() + us;
	while (TRUE) {
		gint64 left = end - g_get_monotonic_time();
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}
		if (left <= 0)
			return TRUE;
		g_usleep(MIN(left, 20000));
	}
}

/* what an answer's buffer holds before it first grows */
#define FST_AWS_IOT_FIRST_BODY (16 * 1024)

typedef struct {
	GByteArray *body;
	gsize capacity; /* bytes allocated for body */
	gchar *error_type;
	GCancellable *cancellable;
	gboolean too_big;
	guint sent; /* times the request went out (libcurl re-sends on its own) */
} FstAwsIotXfer;

static size_t
fst_aws_iot_write_cb(gchar *ptr, size_t size, size_t nmemb, void *userdata)
{
	FstAwsIotXfer *xfer = userdata;
	gsize n = size * nmemb;
	if (xfer->body->len + n > FST_AWS_IOT_MAX_BODY) {
		xfer->too_big = TRUE;
		return 0;
	}
	/* an answer may hold a private key (CreateKeysAndCertificate): the
	 * buffer grows by hand, so that the bytes a realloc() would leave in
	 * freed memory are wiped first */
	if (xfer->body->len + n > xfer->capacity) {
		gsize len = xfer->body->len;
		gsize capacity = MAX(xfer->capacity * 2, len + n);
		guint8 *copy = g_malloc(MAX(len, 1));
		memcpy(copy, xfer->body->data, len);
		OPENSSL_cleanse(xfer->body->data, len);
		g_byte_array_set_size(xfer->body, (guint)capacity);
		memcpy(xfer->body->data, copy, len);
		OPENSSL_cleanse(copy, len);
		g_free(copy);
		g_byte_array_set_size(xfer->body, (guint)len);
		xfer->capacity = capacity;
	}
	g_byte_array_append(xfer->body, (const guint8 *)ptr, n);
	return n;
}

static size_t
fst_aws_iot_header_cb(gchar *ptr, size_t size, size_t nmemb, void *userdata)
{
	FstAwsIotXfer *xfer = userdata;
	gsize n = size * nmemb;
	const gchar *name = "x-amzn-errortype:";
	gsize nlen = strlen(name);

	if (n > nlen && g_ascii_strncasecmp(ptr, name, nlen) == 0) {
		g_autofree gchar *value = g_strndup(ptr + nlen, n - nlen);
		gchar *colon;
		g_strstrip(value);
		colon = strchr(value, ':');
		if (colon != NULL)
			*colon = '\0';
		g_free(xfer->error_type);
		xfer->error_type = g_steal_pointer(&value);
	}
	return n;
}

static int
fst_aws_iot_progress_cb(
    void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	FstAwsIotXfer *xfer = userdata;
	return g_cancellable_is_cancelled(xfer->cancellable) ? 1 : 0;
}

/* counts the times a request's headers go out: libcurl sends a request
 * again by itself, inside one perform, when a reused connection turns out
 * to be closed before any answer came, and that first send may have
 * reached AWS */
static int
fst_aws_iot_debug_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *userdata)
{
	FstAwsIotXfer *xfer = userdata;
	if (type == CURLINFO_HEADER_OUT)
		xfer->sent++;
	return 0;
}

static gboolean
fst_aws_iot_retryable_type(const gchar *type)
{
	return g_strcmp0(type, "ThrottlingException") == 0 ||
	       g_strcmp0(type, "ServiceUnavailableException") == 0 ||
	       g_strcmp0(type, "InternalFailureException") == 0 ||
	       g_strcmp0(type, "TooManyRequestsException") == 0 ||
	       g_strcmp0(type, "RequestTimeoutException") == 0;
}

/* the AWS error of an answer as a station error: what went wrong, what to do */
static void
fst_aws_iot_set_aws_error(
    GError **error, const gchar *op, glong status, const gchar *type, const gchar *message)
{
	const gchar *msg = message != NULL ? message : "no message";

	if (g_strcmp0(type, "UnauthorizedException") == 0 ||
	    g_strcmp0(type, "AccessDeniedException") == 0 ||
	    g_strcmp0(type, "InvalidClientTokenId") == 0 ||
	    g_strcmp0(type, "SignatureDoesNotMatch") == 0 ||
	    g_strcmp0(type, "ExpiredTokenException") == 0 ||
	    g_strcmp0(type, "UnrecognizedClientException") == 0 || status == 401 || status == 403) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_PERMISSION_DENIED,
		    "AWS IoT refused %s (%s: %s): check the access key and session token, "
		    "that its IAM policy allows iot:%s, and that the station clock is right",
		    op,
		    type != NULL ? type : "HTTP 403",
		    msg,
		    op);
		return;
	}
	if (g_strcmp0(type, "CertificateValidationException") == 0) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_VERIFY_FAILED,
		    "AWS IoT rejected the certificate in %s: %s; check that it is valid now, "
		    "that its CA is registered (or register it without CA), and that its key "
		    "type is one AWS IoT accepts",
		    op,
		    msg);
		return;
	}
	if (g_strcmp0(type, "ResourceNotFoundException") == 0 || status == 404) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_NOT_FOUND, "AWS IoT %s: not found: %s", op, msg);
		return;
	}
	if (g_strcmp0(type, "RegistrationCodeValidationException") == 0) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_VERIFY_FAILED,
		    "AWS IoT %s: the verification certificate does not carry this account's "
		    "registration code (%s): fetch the code again (GetRegistrationCode)",
		    op,
		    msg);
		return;
	}
	if (fst_aws_iot_retryable_type(type) || status == 429 || status >= 500) {
		g_set_error(
		    error,
		    FST_ERROR,
		    status == 429 || g_strcmp0(type, "ThrottlingException") == 0
		        ? FST_ERROR_BUSY
		        : FST_ERROR_DISCONNECTED,
		    "AWS IoT %s failed after every retry (HTTP %ld, %s: %s): try again later "
		    "or lower the request rate",
		    op,
		    status,
		    type != NULL ? type : "no error type",
		    msg);
		return;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "AWS IoT %s refused the request (HTTP %ld, %s: %s)",
	            op,
	            status,
	            type != NULL ? type : "no error type",
	            msg);
}

/* AWS refused the keys themselves: expired, or not (yet) known */
static gboolean
fst_aws_iot_keys_refused(const gchar *type)
{
	return g_strcmp0(type, "ExpiredTokenException") == 0 ||
	       g_strcmp0(type, "ExpiredToken") == 0 ||
	       g_strcmp0(type, "InvalidClientTokenId") == 0 ||
	       g_strcmp0(type, "UnrecognizedClientException") == 0 ||
	       g_strcmp0(type, "SignatureDoesNotMatch") == 0;
}

/**
 * fst_aws_iot_call_full:
 * @self: an #FstAwsIot
 * @op: the operation name, for messages, e.g. "RegisterCertificate"
 * @service: the signing name: "iot" or "s3"
 * @base: (nullable): scheme and host, else the IoT endpoint
 * @method: HTTP method
 * @path: the path, already percent-encoded
 * @query: (nullable): the query string, already percent-encoded
 * @headers: (nullable): extra headers to sign and send, `Name: value`
 * @raw_body: (nullable): the body
 * @content_type: the body's type
 * @raw_answer: (out) (optional) (transfer full): the 2xx answer's bytes
 * @answer: (out) (optional) (transfer full): the answer's JSON object (also
 *   on an AWS error, for its fields)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * One AWS call: signed, rate-limited, retried. On an AWS error the error type
 * (the `x-amzn-ErrorType` header, `__type` or `code` of a JSON body, or
 * `<Code>` of an S3 XML body) is kept for fst_aws_iot_get_last_error_type().
 *
 * Returns: %TRUE on a 2xx answer
 */
static gboolean
fst_aws_iot_call_full(FstAwsIot *self,
                      const gchar *op,
                      const gchar *service,
                      const gchar *base,
                      const gchar *method,
                      const gchar *path,
                      const gchar *query,
                      const gchar *const *headers,
                      GBytes *raw_body,
                      const gchar *content_type,
                      GBytes **raw_answer,
                      JsonObject **answer,
                      GCancellable *cancellable,
                      GError **error)
{
	g_autofree gchar *url = NULL;
	const gchar *body_text = NULL;
	gsize body_len = 0;
	g_autoptr(GPtrArray) hdrs = g_ptr_array_new_with_free_func(g_free);

	g_clear_pointer(&self->last_error_type, g_free);
	self->lost_answers = 0;
	url = g_strdup_printf("%s%s%s%s",
	                      base != NULL ? base : self->endpoint,
	                      path,
	                      query != NULL && query[0] != '\0' ? "?" : "",
	                      query != NULL ? query : "");
	if (raw_body != NULL) {
		body_text = g_bytes_get_data(raw_body, &body_len);
		if (body_text == NULL)
			body_text = "";
		g_ptr_array_add(hdrs, g_strdup_printf("Content-Type: %s", content_type));
	}
	for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
		g_ptr_array_add(hdrs, g_strdup(headers[i]));
	g_ptr_array_add(hdrs, NULL);

	for (guint attempt = 0;; attempt++) {
		g_autoptr(FstAwsSigned) sig = NULL;
		g_autoptr(GByteArray) resp = g_byte_array_sized_new(FST_AWS_IOT_FIRST_BODY);
		g_autofree gchar *message = NULL;
		g_autoptr(JsonParser) parser = json_parser_new();
		FstAwsIotXfer xfer = {resp, FST_AWS_IOT_FIRST_BODY, NULL, cancellable, FALSE, 0};
		struct curl_slist *slist = NULL;
		CURLcode rc;
		glong status = 0;
		gboolean retry = FALSE;
		JsonNode *root = NULL;

		/* the request rate */
		if (self->interval_us > 0) {
			gint64 now = g_get_monotonic_time();
			if (self->next_slot_us > now &&
			    !fst_aws_iot_sleep(self->next_slot_us - now, cancellable, error))
				return FALSE;
			self->next_slot_us = MAX(now, self->next_slot_us) + self->interval_us;
		}
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}

		(void)fst_aws_credentials_refresh(self->credentials);
		sig = fst_aws_sigv4_sign(method,
		                         url,
		                         (const gchar *const *)hdrs->pdata,
		                         raw_body,
		                         self->region,
		                         service,
		                         self->credentials->access_key_id,
		                         self->credentials->secret_access_key,
		                         self->credentials->session_token,
		                         NULL,
		                         error);
		if (sig == NULL)
			return FALSE;
		for (guint i = 0; i < sig->headers->len; i++)
			slist = curl_slist_append(slist, g_ptr_array_index(sig->headers, i));
		/* curl adds neither Expect nor a form Content-Type */
		slist = curl_slist_append(slist, "Expect:");
		if (body_text == NULL)
			slist = curl_slist_append(slist, "Content-Type:");

		curl_easy_reset(self->curl);
		curl_easy_setopt(self->curl, CURLOPT_URL, url);
		curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, slist);
		curl_easy_setopt(self->curl, CURLOPT_USERAGENT, "fleetstation/" FST_VERSION);
		curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 60000L);
		curl_easy_setopt(self->curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(self->curl, CURLOPT_WRITEFUNCTION, fst_aws_iot_write_cb);
		curl_easy_setopt(self->curl, CURLOPT_WRITEDATA, &xfer);
		curl_easy_setopt(self->curl, CURLOPT_HEADERFUNCTION, fst_aws_iot_header_cb);
		curl_easy_setopt(self->curl, CURLOPT_HEADERDATA, &xfer);
		curl_easy_setopt(self->curl, CURLOPT_XFERINFOFUNCTION, fst_aws_iot_progress_cb);
		curl_easy_setopt(self->curl, CURLOPT_XFERINFODATA, &xfer);
		curl_easy_setopt(self->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(self->curl, CURLOPT_DEBUGFUNCTION, fst_aws_iot_debug_cb);
		curl_easy_setopt(self->curl, CURLOPT_DEBUGDATA, &xfer);
		curl_easy_setopt(self->curl, CURLOPT_VERBOSE, 1L);
		if (self->ca_bundle != NULL)
			curl_easy_setopt(self->curl, CURLOPT_CAINFO, self->ca_bundle);
		if (g_strcmp0(method, "GET") == 0) {
			curl_easy_setopt(self->curl, CURLOPT_HTTPGET, 1L);
		} else {
			curl_easy_setopt(self->curl, CURLOPT_CUSTOMREQUEST, method);
			curl_easy_setopt(
			    self->curl, CURLOPT_POSTFIELDS, body_text != NULL ? body_text : "");
			curl_easy_setopt(self->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
		}
		self->requests++;
		rc = curl_easy_perform(self->curl);
		curl_slist_free_all(slist);
		curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
		/* the sends that got no answer: all of them, but the last when
		 * AWS answered it below 500 (a 5xx does not say whether AWS acted
		 * first) */
		if (xfer.sent > 0)
			self->lost_answers +=
			    xfer.sent - (rc == CURLE_OK && status > 0 && status < 500 ? 1 : 0);

		if (rc == CURLE_ABORTED_BY_CALLBACK && g_cancellable_is_cancelled(cancellable)) {
			g_free(xfer.error_type);
			g_cancellable_set_error_if_cancelled(cancellable, error);
			fst_error_convert_gio(error);
			return FALSE;
		}
		if (rc != CURLE_OK) {
			g_free(xfer.error_type);
			g_free(self->last_error_type);
			self->last_error_type = g_strdup("transport");
			if (xfer.too_big) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_PROTOCOL,
				            "AWS IoT %s: the answer is over %d bytes",
				            op,
				            FST_AWS_IOT_MAX_BODY);
				return FALSE;
			}
			if (rc == CURLE_PEER_FAILED_VERIFICATION ||
			    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
				/* not the network: no retry helps */
				g_set_error(
				    error,
				    FST_ERROR,
				    FST_ERROR_VERIFY_FAILED,
				    "the TLS certificate of %s is not trusted for %s: %s; check "
				    "--endpoint-url, or name its CA in AWS_CA_BUNDLE",
				    self->endpoint,
				    op,
				    curl_easy_strerror(rc));
				return FALSE;
			}
			retry = TRUE;
			if (attempt + 1 >= self->max_attempts) {
				g_set_error(error,
				            FST_ERROR,
				            rc == CURLE_OPERATION_TIMEDOUT ? FST_ERROR_TIMED_OUT
				                                           : FST_ERROR_DISCONNECTED,
				            "cannot reach AWS IoT at %s for %s after %u tries: %s; "
				            "check the "
				            "network, the region and --endpoint-url",
				            self->endpoint,
				            op,
				            attempt + 1,
				            curl_easy_strerror(rc));
				return FALSE;
			}
		} else {
			/* a raw answer (an S3 object, e.g. JSON Lines) is not parsed:
			 * json-glib 1.6 leaks the first value of a body with several */
			if (resp->len > 0 &&
			    (raw_answer == NULL || status < 200 || status >= 300) &&
			    json_parser_load_from_data(
			        parser, (const gchar *)resp->data, resp->len, NULL))
				root = json_parser_get_root(parser);
			if (status >= 200 && status < 300) {
				g_free(xfer.error_type);
				if (raw_answer != NULL)
					*raw_answer = g_bytes_new(resp->data, resp->len);
				/* an answer may hold a private key
				 * (CreateKeysAndCertificate): no copy is left behind */
				OPENSSL_cleanse(resp->data, resp->len);
				if (answer != NULL) {
					if (root != NULL && JSON_NODE_HOLDS_OBJECT(root))
						*answer =
						    json_object_ref(json_node_get_object(root));
					else
						*answer = json_object_new();
				}
				return TRUE;
			}
			/* the error type: header, else __type or code in the body */
			if (root != NULL && JSON_NODE_HOLDS_OBJECT(root)) {
				JsonObject *obj = json_node_get_object(root);
				const gchar *m = fst_json_get_string(obj, "message");
				if (m == NULL)
					m = fst_json_get_string(obj, "Message");
				message = g_strdup(m);
				if (xfer.error_type == NULL) {
					const gchar *t = fst_json_get_string(obj, "__type");
					if (t == NULL)
						t = fst_json_get_string(obj, "code");
					if (t != NULL) {
						const gchar *hash = strrchr(t, '#');
						xfer.error_type =
						    g_strdup(hash != NULL ? hash + 1 : t);
					}
				}
				if (answer != NULL)
					*answer = json_object_ref(obj);
			}
			if (xfer.error_type == NULL && resp->len > 0) {
				g_autofree gchar *text =
				    g_strndup((const gchar *)resp->data, resp->len);
				const gchar *code = strstr(text, "<Code>");
				const gchar *end = code != NULL ? strstr(code, "</Code>") : NULL;
				if (end != NULL)
					xfer.error_type = g_strndup(code + 6, end - code - 6);
			}
			g_free(self->last_error_type);
			self->last_error_type = xfer.error_type != NULL
			                            ? g_steal_pointer(&xfer.error_type)
			                            : g_strdup_printf("http-%ld", status);
			retry = status == 429 || status >= 500 ||
			        fst_aws_iot_retryable_type(self->last_error_type) ||
			        (fst_aws_iot_keys_refused(self->last_error_type) &&
			         fst_aws_credentials_refresh_refused(self->credentials));
			if (!retry || attempt + 1 >= self->max_attempts) {
				fst_aws_iot_set_aws_error(
				    error,
				    op,
				    status,
				    g_str_has_prefix(self->last_error_type, "http-")
				        ? NULL
				        : self->last_error_type,
				    message);
				return FALSE;
			}
			if (answer != NULL && *answer != NULL)
				g_clear_pointer(answer, json_object_unref);
		}

		/* backoff with full jitter */
		{
			guint64 ceiling = (guint64)self->base_ms << MIN(attempt, 20);
			guint64 wait_ms = MIN(ceiling, (guint64)self->cap_ms);
			gint64 wait_us =
			    wait_ms > 0 ? (gint64)g_random_int_range(0, (gint32)wait_ms * 1000 + 1)
			                : 0;
			self->retries++;
			g_debug("%s: retry %u after %s, waiting %" G_GINT64_FORMAT " ms",
			        op,
			        attempt + 1,
			        self->last_error_type,
			        wait_us / 1000);
			if (!fst_aws_iot_sleep(wait_us, cancellable, error))
				return FALSE;
		}
	}
}

/* an IoT call with a JSON body (fst_aws_iot_call_full()) */
static gboolean
fst_aws_iot_call(FstAwsIot *self,
                 const gchar *op,
                 const gchar *method,
                 const gchar *path,
                 const gchar *query,
                 const gchar *const *headers,
                 JsonNode *body,
                 JsonObject **answer,
                 GCancellable *cancellable,
                 GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GBytes) bytes = NULL;

	if (body != NULL) {
		g_autoptr(JsonGenerator) gen = json_generator_new();
		json_generator_set_root(gen, body);
		text = json_generator_to_data(gen, NULL);
		bytes = g_bytes_new_static(text, strlen(text));
	}
	return fst_aws_iot_call_full(self,
	                             op,
	                             "iot",
	                             NULL,
	                             method,
	                             path,
	                             query,
	                             headers,
	                             bytes,
	                             "application/json",
	                             NULL,
	                             answer,
	                             cancellable,
	                             error);
}

/* helpers for the shapes */

static JsonNode *
fst_aws_iot_body(JsonBuilder *b)
{
	return json_builder_get_root(b);
}

static gchar *
fst_aws_iot_seg(const gchar *text)
{
	return fst_aws_uri_encode(text, -1, FALSE);
}

/* a timestamp member in microseconds since the epoch: seconds as a number
 * (what AWS IoT's REST-JSON sends) or ISO 8601 text; 0 if absent or not one */
static gint64
fst_aws_iot_time(JsonObject *obj, const gchar *name)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, name) : NULL;
	GType type = node != NULL && JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node)
	                                                         : G_TYPE_INVALID;

	if (type == G_TYPE_DOUBLE || type == G_TYPE_INT64) {
		gdouble seconds = type == G_TYPE_DOUBLE ? json_node_get_double(node)
		                                        : (gdouble)json_node_get_int(node);
		if (seconds > 0 && seconds < 1e11)
			return (gint64)(seconds * G_USEC_PER_SEC);
	} else if (type == G_TYPE_STRING) {
		g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_iso8601(json_node_get_string(node), utc);
		if (dt != NULL)
			return g_date_time_to_unix(dt) * G_USEC_PER_SEC +
			       g_date_time_get_microsecond(dt);
	}
	return 0;
}

static FstAwsCertificate *
fst_aws_iot_cert_from(JsonObject *obj)
{
	FstAwsCertificate *cert = g_new0(FstAwsCertificate, 1);
	cert->certificate_id = g_strdup(fst_json_get_string(obj, "certificateId"));
	cert->certificate_arn = g_strdup(fst_json_get_string(obj, "certificateArn"));
	cert->status = g_strdup(fst_json_get_string(obj, "status"));
	cert->certificate_pem = g_strdup(fst_json_get_string(obj, "certificatePem"));
	cert->ca_certificate_id = g_strdup(fst_json_get_string(obj, "caCertificateId"));
	cert->created = fst_aws_iot_time(obj, "creationDate");
	return cert;
}

static gboolean
fst_aws_iot_check_cert(FstAwsCertificate *cert, const gchar *op, GError **error)
{
	if (cert->certificate_id == NULL || cert->certificate_arn == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "AWS IoT %s answered without certificateId and certificateArn",
		            op);
		return FALSE;
	}
	return TRUE;
}

/* the certificate an answer describes, which must have its id and ARN */
static FstAwsCertificate *
fst_aws_iot_cert_checked(JsonObject *obj, const gchar *op, GError **error)
{
	g_autoptr(FstAwsCertificate) cert = fst_aws_iot_cert_from(obj);
	if (!fst_aws_iot_check_cert(cert, op, error))
		return NULL;
	return g_steal_pointer(&cert);
}

/* the operations called with fst_aws_iot_op(): name, method and path, where
 * `{}` stands for the operation's one URI parameter */
typedef enum {
	FST_AWS_IOT_OP_DESCRIBE_CERTIFICATE,
	FST_AWS_IOT_OP_UPDATE_CERTIFICATE,
	FST_AWS_IOT_OP_DELETE_CERTIFICATE,
	FST_AWS_IOT_OP_CREATE_THING,
	FST_AWS_IOT_OP_ATTACH_THING_PRINCIPAL,
	FST_AWS_IOT_OP_CREATE_POLICY,
	FST_AWS_IOT_OP_ATTACH_POLICY,
	FST_AWS_IOT_OP_LIST_ATTACHED_POLICIES,
	FST_AWS_IOT_OP_GET_REGISTRATION_CODE,
	FST_AWS_IOT_OP_UPDATE_CA_CERTIFICATE,
	FST_AWS_IOT_OP_DESCRIBE_ENDPOINT,
	FST_AWS_IOT_OP_CREATE_CERTIFICATE_FROM_CSR,
	FST_AWS_IOT_OP_CREATE_KEYS_AND_CERTIFICATE,
	FST_AWS_IOT_OP_START_THING_REGISTRATION_TASK,
	FST_AWS_IOT_OP_DESCRIBE_THING_REGISTRATION_TASK,
	FST_AWS_IOT_OP_TRANSFER_CERTIFICATE,
	FST_AWS_IOT_OP_ACCEPT_CERTIFICATE_TRANSFER,
	FST_AWS_IOT_OP_CANCEL_CERTIFICATE_TRANSFER,
} FstAwsIotOpId;

typedef struct {
	const gchar *name;
	const gchar *method;
	const gchar *path;
} FstAwsIotOp;

static const FstAwsIotOp fst_aws_iot_ops[] = {
    [FST_AWS_IOT_OP_DESCRIBE_CERTIFICATE] = {"DescribeCertificate", "GET", "/certificates/{}"},
    [FST_AWS_IOT_OP_UPDATE_CERTIFICATE] = {"UpdateCertificate", "PUT", "/certificates/{}"},
    [FST_AWS_IOT_OP_DELETE_CERTIFICATE] = {"DeleteCertificate", "DELETE", "/certificates/{}"},
    [FST_AWS_IOT_OP_CREATE_THING] = {"CreateThing", "POST", "/things/{}"},
    [FST_AWS_IOT_OP_ATTACH_THING_PRINCIPAL] = {"AttachThingPrincipal",
                                               "PUT",
                                               "/things/{}/principals"},
    [FST_AWS_IOT_OP_CREATE_POLICY] = {"CreatePolicy", "POST", "/policies/{}"},
    [FST_AWS_IOT_OP_ATTACH_POLICY] = {"AttachPolicy", "PUT", "/target-policies/{}"},
    [FST_AWS_IOT_OP_LIST_ATTACHED_POLICIES] = {"ListAttachedPolicies",
                                               "POST",
                                               "/attached-policies/{}"},
    [FST_AWS_IOT_OP_GET_REGISTRATION_CODE] = {"GetRegistrationCode", "GET", "/registrationcode"},
    [FST_AWS_IOT_OP_UPDATE_CA_CERTIFICATE] = {"UpdateCACertificate", "PUT", "/cacertificate/{}"},
    [FST_AWS_IOT_OP_DESCRIBE_ENDPOINT] = {"DescribeEndpoint", "GET", "/endpoint"},
    [FST_AWS_IOT_OP_CREATE_CERTIFICATE_FROM_CSR] = {"CreateCertificateFromCsr",
                                                    "POST",
                                                    "/certificates"},
    [FST_AWS_IOT_OP_CREATE_KEYS_AND_CERTIFICATE] = {"CreateKeysAndCertificate",
                                                    "POST",
                                                    "/keys-and-certificate"},
    [FST_AWS_IOT_OP_START_THING_REGISTRATION_TASK] = {"StartThingRegistrationTask",
                                                      "POST",
                                                      "/thing-registration-tasks"},
    [FST_AWS_IOT_OP_DESCRIBE_THING_REGISTRATION_TASK] = {"DescribeThingRegistrationTask",
                                                         "GET",
                                                         "/thing-registration-tasks/{}"},
    [FST_AWS_IOT_OP_TRANSFER_CERTIFICATE] = {"TransferCertificate",
                                             "PATCH",
                                             "/transfer-certificate/{}"},
    [FST_AWS_IOT_OP_ACCEPT_CERTIFICATE_TRANSFER] = {"AcceptCertificateTransfer",
                                                    "PATCH",
                                                    "/accept-certificate-transfer/{}"},
    [FST_AWS_IOT_OP_CANCEL_CERTIFICATE_TRANSFER] = {"CancelCertificateTransfer",
                                                    "PATCH",
                                                    "/cancel-certificate-transfer/{}"},
};

/* @path with its `{}` replaced by @param, URI-encoded */
static gchar *
fst_aws_iot_path(const gchar *path, const gchar *param)
{
	g_autoptr(GString) out = g_string_new(path);
	if (param != NULL) {
		g_autofree gchar *seg = fst_aws_iot_seg(param);
		g_string_replace(out, "{}", seg, 1);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* an operation of the table (fst_aws_iot_call()) with its URI parameter */
static gboolean
fst_aws_iot_op(FstAwsIot *self,
               FstAwsIotOpId id,
               const gchar *param,
               const gchar *query,
               const gchar *const *headers,
               JsonNode *body,
               JsonObject **answer,
               GCancellable *cancellable,
               GError **error)
{
	g_autofree gchar *path = fst_aws_iot_path(fst_aws_iot_ops[id].path, param);
	return fst_aws_iot_call(self,
	                        fst_aws_iot_ops[id].name,
	                        fst_aws_iot_ops[id].method,
	                        path,
	                        query,
	                        headers,
	                        body,
	                        answer,
	                        cancellable,
	                        error);
}

/* @name=@value, @value URI-encoded */
static gchar *
fst_aws_iot_query(const gchar *name, const gchar *value)
{
	g_autofree gchar *seg = fst_aws_iot_seg(value);
	return g_strdup_printf("%s=%s", name, seg);
}

/* a JSON body of one string member */
static JsonNode *
fst_aws_iot_body_str(const gchar *name, const gchar *value)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/* UpdateCertificate, UpdateCACertificate: ?newStatus= on the id's path */
static gboolean
fst_aws_iot_set_status(FstAwsIot *self,
                       FstAwsIotOpId id,
                       const gchar *resource_id,
                       const gchar *new_status,
                       GCancellable *cancellable,
                       GError **error)
{
	g_autofree gchar *query = fst_aws_iot_query("newStatus", new_status);
	return fst_aws_iot_op(self, id, resource_id, query, NULL, NULL, NULL, cancellable, error);
}

/* a string member an answer must have */
static const gchar *
fst_aws_iot_need_str(JsonObject *answer, FstAwsIotOpId id, const gchar *name, GError **error)
{
	const gchar *value = fst_json_get_string(answer, name);
	if (value == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "AWS IoT %s answered without %s",
		            fst_aws_iot_ops[id].name,
		            name);
	}
	return value;
}

/**
 * fst_aws_iot_target:
 * @region: an AWS region, e.g. eu-west-1
 *
 * The registration queue's name for AWS IoT in @region (`registrations.
 * target`). A certificate is registered in one account and region; the
 * account is not in the target because a station offline does not know it
 * when it records a certificate: it is in the ARN the row gets
 * (`arn:aws:iot:REGION:ACCOUNT:cert/ID`).
 *
 * Returns: (transfer full): `aws-iot:REGION`
 */
gchar *
fst_aws_iot_target(const gchar *region)
{
	return g_strdup_printf("aws-iot:%s", region);
}

/**
 * fst_aws_certificate_id_from_pem:
 * @pem: a PEM certificate
 * @error: (nullable): return location for a #GError
 *
 * Computes the id AWS IoT gives a certificate: the lower-case hex SHA-256 of
 * its DER.
 *
 * Returns: (transfer full): the id, or %NULL with %FST_ERROR_INVALID_DATA
 */
gchar *
fst_aws_certificate_id_from_pem(const gchar *pem, GError **error)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
	g_autoptr(X509) x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	guint8 md[32];
	guint md_len = 0;
	GString *out;

	if (x509 == NULL || X509_digest(x509, EVP_sha256(), md, &md_len) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INVALID_DATA, "reading a PEM certificate");
		return NULL;
	}
	out = g_string_new(NULL);
	for (guint i = 0; i < md_len; i++)
		g_string_append_printf(out, "%02x", md[i]);
	return g_string_free(out, FALSE);
}

/**
 * fst_aws_iot_register_certificate:
 * @self: an #FstAwsIot
 * @pem: the device certificate, PEM
 * @ca_pem: (nullable): its CA, registered with AWS IoT (RegisterCertificate);
 *   %NULL registers it without a CA (RegisterCertificateWithoutCA, SNI)
 * @active: register it ACTIVE, else INACTIVE
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Registers a certificate. A certificate AWS already has is not an error: the
 * result describes the registered one, with @already_registered set (its id
 * and ARN from the ResourceAlreadyExistsException answer, else from
 * DescribeCertificate by the SHA-256 of the DER).
 *
 * Returns: (transfer full): the registered certificate, or %NULL
 */
FstAwsCertificate *
fst_aws_iot_register_certificate(FstAwsIot *self,
                                 const gchar *pem,
                                 const gchar *ca_pem,
                                 gboolean active,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;
	const gchar *op = ca_pem != NULL ? "RegisterCertificate" : "RegisterCertificateWithoutCA";

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	g_return_val_if_fail(pem != NULL, NULL);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "certificatePem");
	json_builder_add_string_value(b, pem);
	if (ca_pem != NULL) {
		json_builder_set_member_name(b, "caCertificatePem");
		json_builder_add_string_value(b, ca_pem);
	}
	json_builder_set_member_name(b, "status");
	json_builder_add_string_value(b, active ? "ACTIVE" : "INACTIVE");
	json_builder_end_object(b);
	body = fst_aws_iot_body(b);

	if (!fst_aws_iot_call(self,
	                      op,
	                      "POST",
	                      ca_pem != NULL ? "/certificate/register"
	                                     : "/certificate/register-no-ca",
	                      NULL,
	                      NULL,
	                      body,
	                      &answer,
	                      cancellable,
	                      &error_local)) {
		g_autofree gchar *id = NULL;
		if (g_strcmp0(self->last_error_type, "ResourceAlreadyExistsException") != 0) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		/* already registered: the id AWS names, else our own */
		id = g_strdup(fst_json_get_string(answer, "resourceId"));
		if (id == NULL) {
			id = fst_aws_certificate_id_from_pem(pem, error);
			if (id == NULL)
				return NULL;
		}
		cert = g_new0(FstAwsCertificate, 1);
		cert->certificate_id = g_steal_pointer(&id);
		cert->certificate_arn = g_strdup(fst_json_get_string(answer, "resourceArn"));
		if (cert->certificate_arn == NULL) {
			g_autoptr(FstAwsCertificate) found = fst_aws_iot_describe_certificate(
			    self, cert->certificate_id, cancellable, error);
			if (found == NULL)
				return NULL;
			found->already_registered = TRUE;
			return g_steal_pointer(&found);
		}
		cert->already_registered = TRUE;
		return g_steal_pointer(&cert);
	}
	cert = fst_aws_iot_cert_checked(answer, op, error);
	if (cert == NULL)
		return NULL;
	cert->status = g_strdup(active ? "ACTIVE" : "INACTIVE");
	return g_steal_pointer(&cert);
}

/**
 * fst_aws_iot_describe_certificate:
 * @self: an #FstAwsIot
 * @certificate_id: AWS's certificate id (SHA-256 of the DER, hex)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * DescribeCertificate.
 *
 * Returns: (transfer full): the certificate, or %NULL; %FST_ERROR_NOT_FOUND
 *   if AWS does not have it
 */
FstAwsCertificate *
fst_aws_iot_describe_certificate(FstAwsIot *self,
                                 const gchar *certificate_id,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	JsonObject *desc;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_DESCRIBE_CERTIFICATE,
	                    certificate_id,
	                    NULL,
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	desc = fst_json_get_object(answer, "certificateDescription");
	if (desc == NULL) {
		g_set_error_literal(
		    error,
		    FST_ERROR,
		    FST_ERROR_PROTOCOL,
		    "AWS IoT DescribeCertificate answered without certificateDescription");
		return NULL;
	}
	return fst_aws_iot_cert_checked(desc, "DescribeCertificate", error);
}

/**
 * fst_aws_iot_update_certificate:
 * @self: an #FstAwsIot
 * @certificate_id: AWS's certificate id
 * @new_status: ACTIVE, INACTIVE or REVOKED
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * UpdateCertificate: activates, deactivates or revokes a certificate.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_update_certificate(FstAwsIot *self,
                               const gchar *certificate_id,
                               const gchar *new_status,
                               GCancellable *cancellable,
                               GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_set_status(self,
	                              FST_AWS_IOT_OP_UPDATE_CERTIFICATE,
	                              certificate_id,
	                              new_status,
	                              cancellable,
	                              error);
}

/* the pages of a list call: @member of each answer, until no nextMarker;
 * with @since (newest first, `ascendingOrder=false`), only what was created
 * from @since on, and no page after one that reaches back before it; with
 * @max, no page after @max items */
static GPtrArray *
fst_aws_iot_list_pages(FstAwsIot *self,
                       const gchar *op,
                       const gchar *path,
                       const gchar *member,
                       const gchar *marker_name,
                       const gchar *page_size_name,
                       gint64 since,
                       guint max,
                       GCancellable *cancellable,
                       GError **error)
{
	g_autoptr(GPtrArray) all =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_aws_certificate_free);
	g_autofree gchar *marker = NULL;
	guint read = 0;

	for (guint page = 0; page < 100000; page++) {
		g_autoptr(JsonObject) answer = NULL;
		g_autofree gchar *query = NULL;
		const gchar *order = since > 0 ? "ascendingOrder=false&" : "";
		gboolean older = FALSE;
		JsonArray *items;
		const gchar *next;

		if (marker != NULL) {
			g_autofree gchar *m = fst_aws_iot_seg(marker);
			query = g_strdup_printf(
			    "%s%s=%s&%s=250", order, marker_name, m, page_size_name);
		} else {
			query = g_strdup_printf("%s%s=250", order, page_size_name);
		}
		if (!fst_aws_iot_call(
		        self, op, "GET", path, query, NULL, NULL, &answer, cancellable, error))
			return NULL;
		items = fst_json_get_array(answer, member);
		for (guint i = 0; items != NULL && i < json_array_get_length(items); i++) {
			JsonNode *node = json_array_get_element(items, i);
			read++;
			if (JSON_NODE_HOLDS_OBJECT(node)) {
				FstAwsCertificate *c =
				    fst_aws_iot_cert_from(json_node_get_object(node));
				/* an item without a date is kept: it may be recent */
				if (since > 0 && c->created > 0 && c->created < since) {
					older = TRUE;
					fst_aws_certificate_free(c);
					continue;
				}
				g_ptr_array_add(all, c);
			} else if (JSON_NODE_HOLDS_VALUE(node)) {
				/* lists of names (principals, policies): the name as the id */
				FstAwsCertificate *c = g_new0(FstAwsCertificate, 1);
				c->certificate_arn = g_strdup(json_node_get_string(node));
				g_ptr_array_add(all, c);
			}
		}
		next = fst_json_get_string(answer, "nextMarker");
		if (next == NULL)
			next = fst_json_get_string(answer, "nextToken");
		if (next == NULL || next[0] == '\0' || g_strcmp0(next, marker) == 0 || older ||
		    (max > 0 && read >= max))
			break;
		g_free(marker);
		marker = g_strdup(next);
	}
	return g_steal_pointer(&all);
}

/* every page of a list call (fst_aws_iot_list_pages()) */
static GPtrArray *
fst_aws_iot_list_all(FstAwsIot *self,
                     const gchar *op,
                     const gchar *path,
                     const gchar *member,
                     const gchar *marker_name,
                     const gchar *page_size_name,
                     GCancellable *cancellable,
                     GError **error)
{
	return fst_aws_iot_list_pages(
	    self, op, path, member, marker_name, page_size_name, 0, 0, cancellable, error);
}

/**
 * fst_aws_iot_list_certificates:
 * @self: an #FstAwsIot
 * @ca_certificate_id: (nullable): only those of this CA (ListCertificatesByCA)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListCertificates or ListCertificatesByCA, every page.
 *
 * Returns: (transfer full) (element-type FstAwsCertificate): the certificates
 */
GPtrArray *
fst_aws_iot_list_certificates(FstAwsIot *self,
                              const gchar *ca_certificate_id,
                              GCancellable *cancellable,
                              GError **error)
{
	g_autofree gchar *path = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (ca_certificate_id != NULL)
		path = fst_aws_iot_path("/certificates-by-ca/{}", ca_certificate_id);
	return fst_aws_iot_list_all(self,
	                            ca_certificate_id != NULL ? "ListCertificatesByCA"
	                                                      : "ListCertificates",
	                            path != NULL ? path : "/certificates",
	                            "certificates",
	                            "marker",
	                            "pageSize",
	                            cancellable,
	                            error);
}

/**
 * fst_aws_iot_list_certificates_since:
 * @self: an #FstAwsIot
 * @since: the oldest creation time wanted, microseconds since the epoch by
 *   AWS's clock (#FstAwsCertificate.created)
 * @max: read no page after this many certificates (a busy account makes
 *   thousands a minute)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListCertificates, newest first, until a page reaches back before @since.
 *
 * Returns: (transfer full) (element-type FstAwsCertificate): the
 *   certificates created from @since on, or %NULL
 */
GPtrArray *
fst_aws_iot_list_certificates_since(
    FstAwsIot *self, gint64 since, guint max, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	g_return_val_if_fail(since > 0, NULL);
	return fst_aws_iot_list_pages(self,
	                              "ListCertificates",
	                              "/certificates",
	                              "certificates",
	                              "marker",
	                              "pageSize",
	                              since,
	                              max,
	                              cancellable,
	                              error);
}

/**
 * fst_aws_iot_delete_certificate:
 * @self: an #FstAwsIot
 * @certificate_id: AWS's certificate id
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * DeleteCertificate, without forceDelete: AWS refuses to delete a
 * certificate that is ACTIVE or has a thing or a policy attached
 * (CertificateStateException, DeleteConflictException).
 *
 * Returns: %TRUE once AWS deleted it
 */
gboolean
fst_aws_iot_delete_certificate(FstAwsIot *self,
                               const gchar *certificate_id,
                               GCancellable *cancellable,
                               GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_op(self,
	                      FST_AWS_IOT_OP_DELETE_CERTIFICATE,
	                      certificate_id,
	                      NULL,
	                      NULL,
	                      NULL,
	                      NULL,
	                      cancellable,
	                      error);
}

/**
 * fst_aws_iot_list_ca_certificates:
 * @self: an #FstAwsIot
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListCACertificates, every page.
 *
 * Returns: (transfer full) (element-type FstAwsCertificate): the CAs
 */
GPtrArray *
fst_aws_iot_list_ca_certificates(FstAwsIot *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	return fst_aws_iot_list_all(self,
	                            "ListCACertificates",
	                            "/cacertificates",
	                            "certificates",
	                            "marker",
	                            "pageSize",
	                            cancellable,
	                            error);
}

/**
 * fst_aws_iot_create_thing:
 * @self: an #FstAwsIot
 * @thing_name: the thing's name
 * @attributes: (nullable) (element-type utf8 utf8): thing attributes
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CreateThing. A thing that exists with the same attributes is not an error
 * (AWS answers with the existing one); one with other attributes is
 * (ResourceAlreadyExistsException, %FST_ERROR_INVALID_DATA).
 *
 * Returns: (transfer full): the thing's ARN, or %NULL
 */
gchar *
fst_aws_iot_create_thing(FstAwsIot *self,
                         const gchar *thing_name,
                         GHashTable *attributes,
                         GCancellable *cancellable,
                         GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(JsonObject) answer = NULL;
	const gchar *arn;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	json_builder_begin_object(b);
	if (attributes != NULL && g_hash_table_size(attributes) > 0) {
		GHashTableIter iter;
		gpointer key, value;
		json_builder_set_member_name(b, "attributePayload");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "attributes");
		json_builder_begin_object(b);
		g_hash_table_iter_init(&iter, attributes);
		while (g_hash_table_iter_next(&iter, &key, &value)) {
			json_builder_set_member_name(b, key);
			json_builder_add_string_value(b, value);
		}
		json_builder_end_object(b);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	body = fst_aws_iot_body(b);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_CREATE_THING,
	                    thing_name,
	                    NULL,
	                    NULL,
	                    body,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	arn = fst_aws_iot_need_str(answer, FST_AWS_IOT_OP_CREATE_THING, "thingArn", error);
	return g_strdup(arn);
}

/**
 * fst_aws_iot_attach_thing_principal:
 * @self: an #FstAwsIot
 * @thing_name: the thing
 * @principal_arn: the certificate's ARN
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * AttachThingPrincipal (idempotent at AWS).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_attach_thing_principal(FstAwsIot *self,
                                   const gchar *thing_name,
                                   const gchar *principal_arn,
                                   GCancellable *cancellable,
                                   GError **error)
{
	g_autofree gchar *hdr = g_strdup_printf("x-amzn-principal: %s", principal_arn);
	const gchar *headers[] = {hdr, NULL};

	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_op(self,
	                      FST_AWS_IOT_OP_ATTACH_THING_PRINCIPAL,
	                      thing_name,
	                      NULL,
	                      headers,
	                      NULL,
	                      NULL,
	                      cancellable,
	                      error);
}

/**
 * fst_aws_iot_list_thing_principals:
 * @self: an #FstAwsIot
 * @thing_name: the thing
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListThingPrincipals, every page.
 *
 * Returns: (transfer full) (element-type FstAwsCertificate): the principals,
 *   each with only @certificate_arn set
 */
GPtrArray *
fst_aws_iot_list_thing_principals(FstAwsIot *self,
                                  const gchar *thing_name,
                                  GCancellable *cancellable,
                                  GError **error)
{
	g_autofree gchar *path = fst_aws_iot_path("/things/{}/principals", thing_name);

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	return fst_aws_iot_list_all(self,
	                            "ListThingPrincipals",
	                            path,
	                            "principals",
	                            "nextToken",
	                            "maxResults",
	                            cancellable,
	                            error);
}

/**
 * fst_aws_iot_create_policy:
 * @self: an #FstAwsIot
 * @policy_name: the policy's name
 * @policy_document: the policy, JSON text
 * @existed: (out) (optional): set if AWS had a policy of that name already
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CreatePolicy. A policy of that name that exists already is kept as it is
 * (not an error).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_create_policy(FstAwsIot *self,
                          const gchar *policy_name,
                          const gchar *policy_document,
                          gboolean *existed,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autoptr(JsonNode) body = fst_aws_iot_body_str("policyDocument", policy_document);
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	if (existed != NULL)
		*existed = FALSE;
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_CREATE_POLICY,
	                    policy_name,
	                    NULL,
	                    NULL,
	                    body,
	                    NULL,
	                    cancellable,
	                    &error_local)) {
		if (g_strcmp0(self->last_error_type, "ResourceAlreadyExistsException") == 0) {
			if (existed != NULL)
				*existed = TRUE;
			return TRUE;
		}
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_aws_iot_attach_policy:
 * @self: an #FstAwsIot
 * @policy_name: the policy
 * @target_arn: the certificate's ARN (or a thing group's)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * AttachPolicy (idempotent at AWS).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_attach_policy(FstAwsIot *self,
                          const gchar *policy_name,
                          const gchar *target_arn,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autoptr(JsonNode) body = fst_aws_iot_body_str("target", target_arn);

	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_op(self,
	                      FST_AWS_IOT_OP_ATTACH_POLICY,
	                      policy_name,
	                      NULL,
	                      NULL,
	                      body,
	                      NULL,
	                      cancellable,
	                      error);
}

/**
 * fst_aws_iot_list_attached_policies:
 * @self: an #FstAwsIot
 * @target_arn: the certificate's ARN
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListAttachedPolicies, every page.
 *
 * Returns: (transfer full) (element-type utf8): the policy names
 */
GPtrArray *
fst_aws_iot_list_attached_policies(FstAwsIot *self,
                                   const gchar *target_arn,
                                   GCancellable *cancellable,
                                   GError **error)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(JsonObject) answer = NULL;
	JsonArray *policies;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_LIST_ATTACHED_POLICIES,
	                    target_arn,
	                    "recursive=false",
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	policies = fst_json_get_array(answer, "policies");
	for (guint i = 0; policies != NULL && i < json_array_get_length(policies); i++) {
		JsonNode *node = json_array_get_element(policies, i);
		const gchar *name =
		    JSON_NODE_HOLDS_OBJECT(node)
		        ? fst_json_get_string(json_node_get_object(node), "policyName")
		        : NULL;
		if (name != NULL)
			g_ptr_array_add(names, g_strdup(name));
	}
	return g_steal_pointer(&names);
}

/**
 * fst_aws_iot_get_registration_code:
 * @self: an #FstAwsIot
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * GetRegistrationCode: the code a CA verification certificate carries as its
 * common name.
 *
 * Returns: (transfer full): the code, or %NULL
 */
gchar *
fst_aws_iot_get_registration_code(FstAwsIot *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	const gchar *code;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_GET_REGISTRATION_CODE,
	                    NULL,
	                    NULL,
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	code = fst_aws_iot_need_str(
	    answer, FST_AWS_IOT_OP_GET_REGISTRATION_CODE, "registrationCode", error);
	return g_strdup(code);
}

/**
 * fst_aws_iot_register_ca_certificate:
 * @self: an #FstAwsIot
 * @ca_pem: the CA certificate
 * @verification_pem: (nullable): the verification certificate (the
 *   registration code as common name, signed by the CA); %NULL registers the
 *   CA in SNI_ONLY mode
 * @active: register it ACTIVE
 * @jitp_template: (nullable): a provisioning template body, for just-in-time
 *   provisioning (auto-registration is then allowed)
 * @jitp_role_arn: (nullable): the role JITP runs as
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * RegisterCACertificate. A CA AWS has already is not an error (as for
 * fst_aws_iot_register_certificate()).
 *
 * Returns: (transfer full): the CA as AWS knows it, or %NULL
 */
FstAwsCertificate *
fst_aws_iot_register_ca_certificate(FstAwsIot *self,
                                    const gchar *ca_pem,
                                    const gchar *verification_pem,
                                    gboolean active,
                                    const gchar *jitp_template,
                                    const gchar *jitp_role_arn,
                                    GCancellable *cancellable,
                                    GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autofree gchar *query = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "caCertificate");
	json_builder_add_string_value(b, ca_pem);
	if (verification_pem != NULL) {
		json_builder_set_member_name(b, "verificationCertificate");
		json_builder_add_string_value(b, verification_pem);
	} else {
		json_builder_set_member_name(b, "certificateMode");
		json_builder_add_string_value(b, "SNI_ONLY");
	}
	if (jitp_template != NULL) {
		json_builder_set_member_name(b, "registrationConfig");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "templateBody");
		json_builder_add_string_value(b, jitp_template);
		if (jitp_role_arn != NULL) {
			json_builder_set_member_name(b, "roleArn");
			json_builder_add_string_value(b, jitp_role_arn);
		}
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	body = fst_aws_iot_body(b);
	query = g_strdup_printf("allowAutoRegistration=%s&setAsActive=%s",
	                        jitp_template != NULL ? "true" : "false",
	                        active ? "true" : "false");
	if (!fst_aws_iot_call(self,
	                      "RegisterCACertificate",
	                      "POST",
	                      "/cacertificate",
	                      query,
	                      NULL,
	                      body,
	                      &answer,
	                      cancellable,
	                      &error_local)) {
		if (g_strcmp0(self->last_error_type, "ResourceAlreadyExistsException") != 0 ||
		    fst_json_get_string(answer, "resourceId") == NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		cert = g_new0(FstAwsCertificate, 1);
		cert->certificate_id = g_strdup(fst_json_get_string(answer, "resourceId"));
		cert->certificate_arn = g_strdup(fst_json_get_string(answer, "resourceArn"));
		cert->already_registered = TRUE;
		return g_steal_pointer(&cert);
	}
	cert = fst_aws_iot_cert_checked(answer, "RegisterCACertificate", error);
	if (cert == NULL)
		return NULL;
	cert->status = g_strdup(active ? "ACTIVE" : "INACTIVE");
	return g_steal_pointer(&cert);
}

/**
 * fst_aws_iot_update_ca_certificate:
 * @self: an #FstAwsIot
 * @ca_certificate_id: the CA's AWS id
 * @new_status: ACTIVE or INACTIVE
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * UpdateCACertificate.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_update_ca_certificate(FstAwsIot *self,
                                  const gchar *ca_certificate_id,
                                  const gchar *new_status,
                                  GCancellable *cancellable,
                                  GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_set_status(self,
	                              FST_AWS_IOT_OP_UPDATE_CA_CERTIFICATE,
	                              ca_certificate_id,
	                              new_status,
	                              cancellable,
	                              error);
}

/**
 * fst_aws_iot_describe_endpoint:
 * @self: an #FstAwsIot
 * @endpoint_type: (nullable): e.g. "iot:Data-ATS" (the default)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * DescribeEndpoint: the host devices connect to.
 *
 * Returns: (transfer full): the endpoint address, or %NULL
 */
gchar *
fst_aws_iot_describe_endpoint(FstAwsIot *self,
                              const gchar *endpoint_type,
                              GCancellable *cancellable,
                              GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	g_autofree gchar *query = fst_aws_iot_query(
	    "endpointType", endpoint_type != NULL ? endpoint_type : "iot:Data-ATS");
	const gchar *addr;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_DESCRIBE_ENDPOINT,
	                    NULL,
	                    query,
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	addr = fst_aws_iot_need_str(
	    answer, FST_AWS_IOT_OP_DESCRIBE_ENDPOINT, "endpointAddress", error);
	return g_strdup(addr);
}

/**
 * fst_aws_iot_create_certificate_from_csr:
 * @self: an #FstAwsIot
 * @csr_pem: the device's CSR, PEM
 * @active: make the certificate ACTIVE
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CreateCertificateFromCsr: AWS signs the device's key (issuer=aws).
 *
 * Returns: (transfer full): the certificate with its PEM, or %NULL
 */
FstAwsCertificate *
fst_aws_iot_create_certificate_from_csr(FstAwsIot *self,
                                        const gchar *csr_pem,
                                        gboolean active,
                                        GCancellable *cancellable,
                                        GError **error)
{
	g_autoptr(JsonNode) body = fst_aws_iot_body_str("certificateSigningRequest", csr_pem);
	g_autoptr(JsonObject) answer = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_CREATE_CERTIFICATE_FROM_CSR,
	                    NULL,
	                    active ? "setAsActive=true" : "setAsActive=false",
	                    NULL,
	                    body,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	cert = fst_aws_iot_cert_checked(answer, "CreateCertificateFromCsr", error);
	if (cert == NULL || fst_aws_iot_need_str(answer,
	                                         FST_AWS_IOT_OP_CREATE_CERTIFICATE_FROM_CSR,
	                                         "certificatePem",
	                                         error) == NULL)
		return NULL;
	return g_steal_pointer(&cert);
}

/**
 * fst_aws_iot_create_keys_and_certificate:
 * @self: an #FstAwsIot
 * @active: make the certificate ACTIVE
 * @private_key_pem: (out) (transfer full): the private key AWS made, in an
 *   #FstSecret
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CreateKeysAndCertificate: AWS makes the key pair and the certificate
 * (issuer=aws, key-source=station). The key is taken out of the answer
 * (fst_json_take_secret()) before the answer is parsed, and every
 * buffer that held it is wiped.
 *
 * Returns: (transfer full): the certificate with its PEM, or %NULL
 */
FstAwsCertificate *
fst_aws_iot_create_keys_and_certificate(FstAwsIot *self,
                                        gboolean active,
                                        FstSecret **private_key_pem,
                                        GCancellable *cancellable,
                                        GError **error)
{
	const FstAwsIotOp *op = &fst_aws_iot_ops[FST_AWS_IOT_OP_CREATE_KEYS_AND_CERTIFICATE];
	g_autofree gchar *path = fst_aws_iot_path(op->path, NULL);
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(FstSecret) key = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autoptr(GError) error_local = NULL;
	JsonObject *answer = NULL;
	JsonObject *pair = NULL;
	guint8 *text;
	gsize len = 0;
	gboolean ok;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	g_return_val_if_fail(private_key_pem != NULL, NULL);
	if (!fst_aws_iot_call_full(self,
	                           op->name,
	                           "iot",
	                           NULL,
	                           op->method,
	                           path,
	                           active ? "setAsActive=true" : "setAsActive=false",
	                           NULL,
	                           NULL,
	                           "application/json",
	                           &raw,
	                           NULL,
	                           cancellable,
	                           error))
		return NULL;
	text = g_bytes_unref_to_data(g_steal_pointer(&raw), &len);
	ok = fst_json_take_secret(text, len, "PrivateKey", &key, &error_local) &&
	     json_parser_load_from_data(parser, (const gchar *)text, (gssize)len, &error_local);
	OPENSSL_cleanse(text, len);
	g_free(text);
	if (ok)
		answer = fst_json_root_object(parser);
	pair = fst_json_get_object(answer, "keyPair");
	if (pair == NULL || fst_json_get_string(pair, "PrivateKey") == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "AWS IoT CreateKeysAndCertificate answered without a key pair%s%s",
		            error_local != NULL ? ": " : "",
		            error_local != NULL ? error_local->message : "");
		return NULL;
	}
	cert = fst_aws_iot_cert_from(answer);
	if (!fst_aws_iot_check_cert(cert, op->name, error))
		return NULL;
	if (cert->certificate_pem == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_PROTOCOL,
		                    "AWS IoT CreateKeysAndCertificate answered without the "
		                    "certificate");
		return NULL;
	}
	*private_key_pem = g_steal_pointer(&key);
	return g_steal_pointer(&cert);
}

/* S3 for bulk registration files: path-style on another endpoint (a local
 * peer), virtual-hosted on AWS */
static gchar *
fst_aws_iot_s3_base(FstAwsIot *self, const gchar *bucket, const gchar *key, gchar **path)
{
	g_autofree gchar *ekey = fst_aws_uri_encode(key, -1, TRUE);
	g_autofree gchar *ebucket = fst_aws_uri_encode(bucket, -1, FALSE);
	if (!g_str_has_suffix(self->endpoint, ".amazonaws.com")) {
		*path = g_strdup_printf("/%s/%s", ebucket, ekey);
		return g_strdup(self->endpoint);
	}
	*path = g_strdup_printf("/%s", ekey);
	return g_strdup_printf("https://%s.s3.%s.amazonaws.com", ebucket, self->region);
}

/**
 * fst_aws_iot_s3_put_object:
 * @self: an #FstAwsIot
 * @bucket: the bucket
 * @key: the object key
 * @data: the object
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * S3 PutObject, signed for the `s3` service (a bulk registration file).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_s3_put_object(FstAwsIot *self,
                          const gchar *bucket,
                          const gchar *key,
                          GBytes *data,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *base = fst_aws_iot_s3_base(self, bucket, key, &path);

	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_call_full(self,
	                             "PutObject",
	                             "s3",
	                             base,
	                             "PUT",
	                             path,
	                             NULL,
	                             NULL,
	                             data,
	                             "application/octet-stream",
	                             NULL,
	                             NULL,
	                             cancellable,
	                             error);
}

/**
 * fst_aws_iot_s3_get_object:
 * @self: an #FstAwsIot
 * @bucket: the bucket
 * @key: the object key
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * S3 GetObject.
 *
 * Returns: (transfer full): the object, or %NULL
 */
GBytes *
fst_aws_iot_s3_get_object(FstAwsIot *self,
                          const gchar *bucket,
                          const gchar *key,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *base = fst_aws_iot_s3_base(self, bucket, key, &path);
	GBytes *data = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_call_full(self,
	                           "GetObject",
	                           "s3",
	                           base,
	                           "GET",
	                           path,
	                           NULL,
	                           NULL,
	                           NULL,
	                           NULL,
	                           &data,
	                           NULL,
	                           cancellable,
	                           error))
		return NULL;
	return data;
}

/**
 * fst_aws_iot_fetch_url:
 * @self: an #FstAwsIot
 * @url: a presigned URL (a task report's resource link)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Downloads a URL that carries its own authorization (presigned), unsigned,
 * with the same retries as every call.
 *
 * Returns: (transfer full): the body, or %NULL
 */
GBytes *
fst_aws_iot_fetch_url(FstAwsIot *self, const gchar *url, GCancellable *cancellable, GError **error)
{
	CURL *curl;
	g_autoptr(GByteArray) body = g_byte_array_sized_new(FST_AWS_IOT_FIRST_BODY);
	FstAwsIotXfer xfer = {body, FST_AWS_IOT_FIRST_BODY, NULL, cancellable, FALSE, 0};
	glong status = 0;
	CURLcode rc = CURLE_OK;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	for (guint attempt = 0; attempt < self->max_attempts; attempt++) {
		g_byte_array_set_size(body, 0);
		curl = curl_easy_init();
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
		curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fst_aws_iot_write_cb);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &xfer);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, fst_aws_iot_progress_cb);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &xfer);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		if (self->ca_bundle != NULL)
			curl_easy_setopt(curl, CURLOPT_CAINFO, self->ca_bundle);
		self->requests++;
		rc = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(curl);
		if (rc == CURLE_OK && status >= 200 && status < 300)
			return g_bytes_new(body->data, body->len);
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return NULL;
		}
		if (rc == CURLE_OK && status < 500 && status != 429)
			break;
		self->retries++;
		if (!fst_aws_iot_sleep((gint64)MIN((guint64)self->base_ms << MIN(attempt, 20),
		                                   (guint64)self->cap_ms) *
		                           1000,
		                       cancellable,
		                       error))
			return NULL;
	}
	g_set_error(error,
	            FST_ERROR,
	            rc == CURLE_OK ? FST_ERROR_NOT_FOUND : FST_ERROR_DISCONNECTED,
	            "cannot download %s: %s",
	            url,
	            rc == CURLE_OK ? "the server refused it (an expired link?)"
	                           : curl_easy_strerror(rc));
	return NULL;
}

/**
 * fst_aws_iot_start_thing_registration_task:
 * @self: an #FstAwsIot
 * @template_body: the provisioning template
 * @bucket: the bucket of the parameter file
 * @key: its key
 * @role_arn: the role that lets AWS IoT read the file and register
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * StartThingRegistrationTask: AWS bulk registration.
 *
 * Returns: (transfer full): the task id, or %NULL
 */
gchar *
fst_aws_iot_start_thing_registration_task(FstAwsIot *self,
                                          const gchar *template_body,
                                          const gchar *bucket,
                                          const gchar *key,
                                          const gchar *role_arn,
                                          GCancellable *cancellable,
                                          GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(JsonObject) answer = NULL;
	const gchar *id;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "templateBody");
	json_builder_add_string_value(b, template_body);
	json_builder_set_member_name(b, "inputFileBucket");
	json_builder_add_string_value(b, bucket);
	json_builder_set_member_name(b, "inputFileKey");
	json_builder_add_string_value(b, key);
	json_builder_set_member_name(b, "roleArn");
	json_builder_add_string_value(b, role_arn);
	json_builder_end_object(b);
	body = fst_aws_iot_body(b);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_START_THING_REGISTRATION_TASK,
	                    NULL,
	                    NULL,
	                    NULL,
	                    body,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	id = fst_aws_iot_need_str(
	    answer, FST_AWS_IOT_OP_START_THING_REGISTRATION_TASK, "taskId", error);
	return g_strdup(id);
}

/**
 * fst_aws_iot_describe_thing_registration_task:
 * @self: an #FstAwsIot
 * @task_id: the task
 * @success_count: (out) (optional): lines registered
 * @failure_count: (out) (optional): lines refused
 * @message: (out) (optional) (transfer full): AWS's message, if any
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * DescribeThingRegistrationTask.
 *
 * Returns: (transfer full): the status: InProgress, Completed, Failed,
 *   Cancelled, Cancelling; or %NULL
 */
gchar *
fst_aws_iot_describe_thing_registration_task(FstAwsIot *self,
                                             const gchar *task_id,
                                             gint64 *success_count,
                                             gint64 *failure_count,
                                             gchar **message,
                                             GCancellable *cancellable,
                                             GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	const gchar *status;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_DESCRIBE_THING_REGISTRATION_TASK,
	                    task_id,
	                    NULL,
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	status = fst_aws_iot_need_str(
	    answer, FST_AWS_IOT_OP_DESCRIBE_THING_REGISTRATION_TASK, "status", error);
	if (status == NULL)
		return NULL;
	if (success_count != NULL)
		*success_count = fst_json_get_int(answer, "successCount", 0);
	if (failure_count != NULL)
		*failure_count = fst_json_get_int(answer, "failureCount", 0);
	if (message != NULL)
		*message = g_strdup(fst_json_get_string(answer, "message"));
	return g_strdup(status);
}

/**
 * fst_aws_iot_list_thing_registration_task_reports:
 * @self: an #FstAwsIot
 * @task_id: the task
 * @report_type: "RESULTS" or "ERRORS"
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * ListThingRegistrationTaskReports, every page.
 *
 * Returns: (transfer full) (element-type utf8): the reports' links (presigned
 *   URLs, fst_aws_iot_fetch_url()), or %NULL
 */
GPtrArray *
fst_aws_iot_list_thing_registration_task_reports(FstAwsIot *self,
                                                 const gchar *task_id,
                                                 const gchar *report_type,
                                                 GCancellable *cancellable,
                                                 GError **error)
{
	g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *path = fst_aws_iot_path("/thing-registration-tasks/{}/reports", task_id);
	g_autofree gchar *token = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	for (guint page = 0; page < 10000; page++) {
		g_autoptr(JsonObject) answer = NULL;
		g_autofree gchar *query = NULL;
		JsonArray *items;
		const gchar *next;

		if (token != NULL) {
			g_autofree gchar *t = fst_aws_iot_seg(token);
			query = g_strdup_printf("nextToken=%s&reportType=%s", t, report_type);
		} else {
			query = g_strdup_printf("reportType=%s", report_type);
		}
		if (!fst_aws_iot_call(self,
		                      "ListThingRegistrationTaskReports",
		                      "GET",
		                      path,
		                      query,
		                      NULL,
		                      NULL,
		                      &answer,
		                      cancellable,
		                      error))
			return NULL;
		items = fst_json_get_array(answer, "resourceLinks");
		for (guint i = 0; items != NULL && i < json_array_get_length(items); i++) {
			JsonNode *node = json_array_get_element(items, i);
			if (JSON_NODE_HOLDS_VALUE(node) &&
			    json_node_get_value_type(node) == G_TYPE_STRING)
				g_ptr_array_add(links, g_strdup(json_node_get_string(node)));
		}
		next = fst_json_get_string(answer, "nextToken");
		if (next == NULL || next[0] == '\0' || g_strcmp0(next, token) == 0)
			break;
		g_free(token);
		token = g_strdup(next);
	}
	return g_steal_pointer(&links);
}

/**
 * fst_aws_iot_transfer_certificate:
 * @self: an #FstAwsIot
 * @certificate_id: the certificate (INACTIVE, no policy, no thing)
 * @target_account: the AWS account to transfer it to
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * TransferCertificate: offers the certificate to another account.
 *
 * Returns: (transfer full): the transferred certificate's ARN, or %NULL
 */
gchar *
fst_aws_iot_transfer_certificate(FstAwsIot *self,
                                 const gchar *certificate_id,
                                 const gchar *target_account,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autoptr(JsonObject) answer = NULL;
	g_autofree gchar *query = fst_aws_iot_query("targetAwsAccount", target_account);
	const gchar *arn;

	g_return_val_if_fail(FST_IS_AWS_IOT(self), NULL);
	if (!fst_aws_iot_op(self,
	                    FST_AWS_IOT_OP_TRANSFER_CERTIFICATE,
	                    certificate_id,
	                    query,
	                    NULL,
	                    NULL,
	                    &answer,
	                    cancellable,
	                    error))
		return NULL;
	arn = fst_json_get_string(answer, "transferredCertificateArn");
	return g_strdup(arn != NULL ? arn : "");
}

/**
 * fst_aws_iot_accept_certificate_transfer:
 * @self: an #FstAwsIot
 * @certificate_id: the certificate offered to this account
 * @set_active: activate it
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * AcceptCertificateTransfer.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_accept_certificate_transfer(FstAwsIot *self,
                                        const gchar *certificate_id,
                                        gboolean set_active,
                                        GCancellable *cancellable,
                                        GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_op(self,
	                      FST_AWS_IOT_OP_ACCEPT_CERTIFICATE_TRANSFER,
	                      certificate_id,
	                      set_active ? "setAsActive=true" : "setAsActive=false",
	                      NULL,
	                      NULL,
	                      NULL,
	                      cancellable,
	                      error);
}

/**
 * fst_aws_iot_cancel_certificate_transfer:
 * @self: an #FstAwsIot
 * @certificate_id: the certificate offered
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CancelCertificateTransfer.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_aws_iot_cancel_certificate_transfer(FstAwsIot *self,
                                        const gchar *certificate_id,
                                        GCancellable *cancellable,
                                        GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(self), FALSE);
	return fst_aws_iot_op(self,
	                      FST_AWS_IOT_OP_CANCEL_CERTIFICATE_TRANSFER,
	                      certificate_id,
	                      NULL,
	                      NULL,
	                      NULL,
	                      NULL,
	                      cancellable,
	                      error);
}
