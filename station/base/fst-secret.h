/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-file.h"

G_BEGIN_DECLS

/**
 * FstSecret:
 *
 * Key material and passphrases live only in an #FstSecret: a length-counted
 * buffer that is always NUL-terminated (so a passphrase can be passed as a C
 * string) and that is wiped with OPENSSL_cleanse() when freed. Never log one.
 */
typedef struct _FstSecret FstSecret;

FstSecret *fst_secret_new(const guint8 *data, gsize len);
FstSecret *fst_secret_new_random_passphrase(gsize n_bytes, GError **error);
FstSecret *fst_secret_new_from_file(const gchar *path, GError **error);
FstSecret *fst_secret_new_from_env(const gchar *name, GError **error);
gboolean fst_secret_save(const FstSecret *self, const gchar *path, GError **error);
const guint8 *fst_secret_get_data(const FstSecret *self, gsize *len);
const gchar *fst_secret_get_str(const FstSecret *self);
gsize fst_secret_get_len(const FstSecret *self);
void fst_secret_free(FstSecret *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstSecret, fst_secret_free)

G_END_DECLS
