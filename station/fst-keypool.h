/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include <openssl/evp.h>

#include "fst-device.h"

G_BEGIN_DECLS

typedef struct _FstKeyPool FstKeyPool;

FstKeyPool *fst_key_pool_new(guint key_types, guint depth);
EVP_PKEY *
fst_key_pool_take(FstKeyPool *self, FstKeyType key_type, GCancellable *cancellable, GError **error);
guint fst_key_pool_get_ready(FstKeyPool *self, FstKeyType key_type);
gboolean fst_key_pool_wait_ready(FstKeyPool *self, FstKeyType key_type, guint n, guint timeout_ms);
void fst_key_pool_free(FstKeyPool *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstKeyPool, fst_key_pool_free)

G_END_DECLS
