/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-secret.h"

G_BEGIN_DECLS

/**
 * FstAwsCredentials:
 * @access_key_id: the access key id (not secret: it names the key)
 * @secret_access_key: the secret access key
 * @session_token: (nullable): the session token of temporary credentials
 * @region: (nullable): the region to use, if one was found
 * @endpoint_url: (nullable): another endpoint than AWS's, e.g. a local peer
 * @profile: the profile the files were read for
 * @source: where the keys came from: "environment", the credentials file or
 *   the config file (a path), or "the credential_process of" the config
 *   file; for messages, never the keys themselves
 * @files_stamp: (nullable): the identity (device, inode, size, time) of the
 *   two files when the keys were read from them, for
 *   fst_aws_credentials_refresh(); %NULL when they came from elsewhere
 * @process: (nullable): the profile's `credential_process` command, when the
 *   keys came from it (not secret: it names a helper and its arguments)
 * @expires_at: when keys from @process expire, unix seconds; 0 for keys
 *   that do not
 * @process_retry_at: after a failed run of @process, when
 *   fst_aws_credentials_refresh() may run it again, monotonic microseconds
 *
 * AWS credentials and settings, found the way the AWS CLI finds them.
 */
typedef struct {
	gchar *access_key_id;
	FstSecret *secret_access_key;
	FstSecret *session_token;
	gchar *region;
	gchar *endpoint_url;
	gchar *profile;
	gchar *source;
	gchar *files_stamp;
	gchar *process;
	gint64 expires_at;
	gint64 process_retry_at;
	/* the arguments fst_aws_credentials_load() was given */
	gchar *load_profile;
	gchar *load_region;
	gchar *load_endpoint;
} FstAwsCredentials;

void fst_aws_credentials_free(FstAwsCredentials *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAwsCredentials, fst_aws_credentials_free)

FstAwsCredentials *fst_aws_credentials_load(const gchar *profile,
                                            const gchar *region,
                                            const gchar *endpoint_url,
                                            GError **error);

gboolean fst_aws_credentials_refresh_due(const FstAwsCredentials *self);
gboolean fst_aws_credentials_refresh(FstAwsCredentials *self);
gboolean fst_aws_credentials_refresh_ahead(FstAwsCredentials *self);
gboolean fst_aws_credentials_refresh_refused(FstAwsCredentials *self);
FstAwsCredentials *fst_aws_credentials_copy(const FstAwsCredentials *self);

FstAwsCredentials *fst_aws_credentials_new(const gchar *access_key_id,
                                           const gchar *secret_access_key,
                                           const gchar *session_token,
                                           const gchar *region,
                                           const gchar *endpoint_url);

G_END_DECLS
