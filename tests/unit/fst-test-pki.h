/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fst-ca.h"
#include "fst-profile.h"

G_BEGIN_DECLS

/* test helpers shared by the CA unit tests, the verifier and TLS integration
 * tests and the issuance benchmark: keys, CAs and profiles made on the fly */

#define FST_TEST_PKI_PASSPHRASE "correct horse battery staple"

EVP_PKEY *fst_test_pki_keygen(const gchar *kind);
GBytes *fst_test_pki_csr(EVP_PKEY *key, const gchar *md_name);
GBytes *fst_test_pki_spki(EVP_PKEY *key);
X509 *fst_test_pki_make_ca(const gchar *dir,
                           const gchar *name,
                           EVP_PKEY *key,
                           X509 *issuer,
                           EVP_PKEY *issuer_key,
                           gint days);
FstCa *fst_test_pki_load_ca(const gchar *dir, const gchar *name, const gchar *chain_name);
FstProfile *fst_test_pki_profile(const gchar *dir, const gchar *name, const gchar *extra);
gboolean fst_test_pki_write_pem(const gchar *path, GBytes *der, const gchar *label);
gboolean fst_test_pki_write_key(const gchar *path, EVP_PKEY *key);
void fst_test_pki_rmrf(const gchar *path);
guint fst_test_pki_key_type(const gchar *kind);
FstDeviceInfo *fst_test_pki_device(const gchar *uid, const gchar *model, guint key_types);

G_END_DECLS
