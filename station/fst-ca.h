/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "fst-csr.h"
#include "fst-device.h"
#include "fst-keypool.h"
#include "fst-profile.h"
#include "fst-secret.h"

G_BEGIN_DECLS

/**
 * FstIssuedCert:
 *
 * A certificate the CA has just signed, with what the database records of it.
 */
typedef struct {
	GBytes *der;       /* (owned) */
	gchar *serial_hex; /* (owned): upper-case hex, no colons, as openssl prints it */
	gchar
	    *aws_cert_id;  /* (owned): SHA-256 of the DER, lower-case hex (AWS IoT certificateId) */
	gchar *subject;    /* (owned): RFC 2253 string */
	gchar *key_type;   /* (owned): e.g. "ec-p256" */
	gint64 not_before; /* unix seconds */
	gint64 not_after;  /* unix seconds */
} FstIssuedCert;

void fst_issued_cert_free(FstIssuedCert *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstIssuedCert, fst_issued_cert_free)

typedef struct _FstCa FstCa;

gboolean fst_ca_create_demo_pki(const gchar *dir,
                                const gchar *organization,
                                const FstSecret *passphrase,
                                GError **error);
FstCa *fst_ca_load(const gchar *cert_path,
                   const gchar *key_path,
                   const gchar *chain_path,
                   const FstSecret *passphrase,
                   GError **error);
void fst_ca_free(FstCa *self);
X509 *fst_ca_get_cert(FstCa *self);
EVP_PKEY *fst_ca_get_key(FstCa *self);
gint64 fst_ca_get_not_after(FstCa *self);
GBytes *fst_ca_get_cert_der(FstCa *self);
GPtrArray *fst_ca_get_chain_der(FstCa *self);
gboolean fst_ca_check_profile(FstCa *self, const FstProfile *profile, GError **error);
gboolean fst_ca_check_device_csr(
    const FstProfile *profile, const gchar *uid, GBytes *csr_der, FstCsrKey *key, GError **error);
FstIssuedCert *fst_ca_issue_from_csr(FstCa *self,
                                     const FstProfile *profile,
                                     const FstDeviceInfo *info,
                                     GBytes *csr_der,
                                     GError **error);
FstIssuedCert *fst_ca_issue_for_public_key(FstCa *self,
                                           const FstProfile *profile,
                                           const FstDeviceInfo *info,
                                           GBytes *spki_der,
                                           GError **error);
FstIssuedCert *fst_ca_issue_with_station_key(FstCa *self,
                                             const FstProfile *profile,
                                             const FstDeviceInfo *info,
                                             FstKeyType key_type,
                                             FstKeyPool *pool,
                                             FstSecret **private_key,
                                             GBytes **escrow,
                                             GError **error);
gboolean
fst_ca_verify_challenge(GBytes *spki_der, GBytes *challenge, GBytes *signature, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCa, fst_ca_free)

G_END_DECLS
