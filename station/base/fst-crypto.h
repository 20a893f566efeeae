/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fst-device-info.h"
#include "fst-secret.h"

G_BEGIN_DECLS

gint64 fst_crypto_asn1_time_to_unix(const ASN1_TIME *t);
const EVP_MD *fst_crypto_md_for_key(EVP_PKEY *key);
const EVP_MD *fst_crypto_fetched_md(const EVP_MD *md);
EVP_PKEY *fst_crypto_generate_key(FstKeyType key_type, GError **error);
void fst_crypto_hex_into(gchar *out, gsize out_size, const guint8 *data, gsize len, gboolean upper);
gchar *fst_crypto_hex(const guint8 *data, gsize len, gboolean upper);
gboolean fst_crypto_hex_decode(const gchar *hex, guint8 *out, gsize len);
void fst_crypto_sha256(gconstpointer data, gsize len, guint8 out[32]);
gchar *fst_crypto_sha256_hex(gconstpointer data, gsize len);
void fst_crypto_public_key_sha256(gconstpointer spki, gsize spki_len, guint8 out[32]);
FstSecret *fst_crypto_private_key_secret(EVP_PKEY *key, GError **error);
gchar *fst_crypto_pem_encode(const gchar *label, const guint8 *der, gsize len, gsize *pem_len);

G_END_DECLS
