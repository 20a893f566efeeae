/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

#include "fst-secret.h"

G_BEGIN_DECLS

gboolean fst_ca_pkcs11_is_ref(const gchar *key_path);
gchar *fst_ca_pkcs11_read_ref(const gchar *key_path, GError **error);
gboolean fst_ca_pkcs11_has_pin_source(const gchar *uri);
gchar *fst_ca_pkcs11_get_engine_path(void);
gchar *fst_ca_pkcs11_find_module(const gchar *name,
                                 const gchar *const *config_dirs,
                                 const gchar *module_dir,
                                 GError **error);
EVP_PKEY *fst_ca_pkcs11_load_key(const gchar *key_path, const FstSecret *pin, GError **error);

G_END_DECLS
