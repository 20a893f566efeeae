#pragma once

#include <glib.h>
#include <openssl/evp.h>

#include "fst-secret.h"

G_BEGIN_DECLS

gboolean fst_ca_pkcs11_is_ref(const gchar *key_path);
gchar *fst_ca_pkcs11_read_ref(const gchar *key_path, GError **error);
gboolean fst_ca_pkcs11_has_pin_source(const gchar *uri);
EVP_PKEY *fst_ca_pkcs11_load_key(const gchar *key_path, const FstSecret *pin, GError **error);

G_END_DECLS
