/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-secret.h"

G_BEGIN_DECLS

/**
 * FstAwsSigned:
 * @canonical_request: the canonical request that was hashed
 * @string_to_sign: the string the signing key signed
 * @signature: lower-case hex HMAC-SHA256
 * @authorization: the value of the `Authorization` header
 * @amz_date: the `X-Amz-Date` value, `YYYYMMDDTHHMMSSZ`
 * @headers: (element-type utf8): every header to send, `Name: value`, in
 *   the order given, then `Host`, `X-Amz-Date`, `X-Amz-Security-Token`,
 *   `X-Amz-Content-SHA256` (S3) and `Authorization`
 *
 * The result of signing one request with Signature Version 4. Contains no
 * secret: the session token is a header value, but it is a bearer credential
 * only together with a signature, and it is never logged.
 */
typedef struct {
	gchar *canonical_request;
	gchar *string_to_sign;
	gchar *signature;
	gchar *authorization;
	gchar *amz_date;
	GPtrArray *headers;
} FstAwsSigned;

void fst_aws_signed_free(FstAwsSigned *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAwsSigned, fst_aws_signed_free)

gchar *fst_aws_uri_encode(const gchar *text, gssize len, gboolean keep_slash);

FstAwsSigned *fst_aws_sigv4_sign(const gchar *method,
                                 const gchar *url,
                                 const gchar *const *headers,
                                 GBytes *body,
                                 const gchar *region,
                                 const gchar *service,
                                 const gchar *access_key_id,
                                 const FstSecret *secret_access_key,
                                 const FstSecret *session_token,
                                 GDateTime *when,
                                 GError **error);

G_END_DECLS
