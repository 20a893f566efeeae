/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fst-device.h"
#include "fst-secret.h"

G_BEGIN_DECLS

/* a CA near its end: `ca list`, fst_ca_load() and the station warn under this many days */
#define FST_CA_STORE_WARN_DAYS 90

/* the workspace CA files, relative to WORKSPACE/ca (see fst-ca-store.c) */
#define FST_CA_STORE_ROOT_CERT "root-ca.pem"
#define FST_CA_STORE_ROOT_KEY "root-ca.key"
#define FST_CA_STORE_ISSUING_CERT "issuing-ca.pem"
#define FST_CA_STORE_ISSUING_KEY "issuing-ca.key"
#define FST_CA_STORE_ISSUING_CSR "issuing-ca.csr"
/* a renewal's new key, while its request waits for an offline root */
#define FST_CA_STORE_ISSUING_NEXT_KEY "issuing-ca.next.key"
/* the name an issuing CA is kept under once renewed, before 16 digits of its SHA-256 */
#define FST_CA_STORE_RETIRED_PREFIX "retired-issuing-ca-"

/**
 * FstCaStoreOptions:
 * @subject: the CA subject as `/O=Acme/CN=Acme Issuing CA` (openssl style)
 * @key_type: RSA 2048/3072/4096 or EC P-256/384/521
 * @days: validity in days from now
 * @pathlen: basicConstraints pathLenConstraint, or -1 for none
 *
 * What a new CA certificate (or CA CSR) is made of.
 */
typedef struct {
	const gchar *subject;
	FstKeyType key_type;
	guint days;
	gint pathlen;
} FstCaStoreOptions;

/**
 * FstCaInfo:
 *
 * What `ca list` shows about one CA certificate of the workspace.
 */
typedef struct {
	gchar *name;      /* (owned): file name without .pem, e.g. "issuing-ca" */
	gchar *subject;   /* (owned): RFC 2253 */
	gchar *key;       /* (owned): e.g. "ec-p256" or "rsa-3072" */
	gchar *key_store; /* (owned): "encrypted file", "pkcs11:...", "offline" */
	gchar *sha256;    /* (owned): of the DER, lower-case hex (db issuer_sha256) */
	gboolean self_signed;
	gint pathlen;      /* -1 when unconstrained */
	gint64 not_before; /* unix seconds */
	gint64 not_after;  /* unix seconds */
} FstCaInfo;

void fst_ca_info_free(FstCaInfo *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCaInfo, fst_ca_info_free)

EVP_PKEY *fst_ca_store_generate_key(FstKeyType key_type, GError **error);
gchar *fst_ca_store_describe_key(EVP_PKEY *key);
X509_NAME *fst_ca_store_parse_subject(const gchar *subject, GError **error);
X509 *fst_ca_store_make_ca_cert(EVP_PKEY *key,
                                const FstCaStoreOptions *options,
                                X509 *issuer,
                                EVP_PKEY *issuer_key,
                                GError **error);
X509_REQ *fst_ca_store_make_ca_csr(EVP_PKEY *key, const FstCaStoreOptions *options, GError **error);
X509 *fst_ca_store_make_verification_cert(const gchar *code,
                                          X509 *ca_cert,
                                          EVP_PKEY *ca_key,
                                          GError **error);
X509 *fst_ca_store_make_signer_cert(EVP_PKEY *key,
                                    const gchar *common_name,
                                    guint days,
                                    X509 *issuer,
                                    EVP_PKEY *issuer_key,
                                    GError **error);

gboolean fst_ca_store_write_key(EVP_PKEY *key,
                                const gchar *path,
                                const FstSecret *passphrase,
                                GError **error);
gboolean fst_ca_store_write_certs(GPtrArray *certs, const gchar *path, GError **error);
gboolean fst_ca_store_write_csr(X509_REQ *req, const gchar *path, GError **error);

GPtrArray *fst_ca_store_read_certs(const gchar *path, GError **error);
EVP_PKEY *fst_ca_store_read_key(const gchar *path, const FstSecret *passphrase, GError **error);
EVP_PKEY *fst_ca_store_open_key(const gchar *path,
                                const FstSecret *passphrase,
                                const gchar *what,
                                GError **error);
gboolean fst_ca_store_read_pkcs12(const gchar *path,
                                  const FstSecret *passphrase,
                                  EVP_PKEY **key,
                                  GPtrArray **certs,
                                  GError **error);

gboolean fst_ca_store_create(const gchar *ca_dir,
                             const FstCaStoreOptions *root,
                             const FstCaStoreOptions *issuing,
                             EVP_PKEY *issuing_key,
                             const gchar *issuing_key_ref,
                             const FstSecret *passphrase,
                             GError **error);
gboolean fst_ca_store_create_csr(const gchar *ca_dir,
                                 const FstCaStoreOptions *issuing,
                                 EVP_PKEY *issuing_key,
                                 const gchar *issuing_key_ref,
                                 const FstSecret *passphrase,
                                 GError **error);
gboolean fst_ca_store_install(const gchar *ca_dir,
                              const gchar *cert_path,
                              const gchar *chain_path,
                              gchar **retired_name,
                              GError **error);
gboolean fst_ca_store_import(const gchar *ca_dir,
                             GPtrArray *certs,
                             EVP_PKEY *key,
                             const gchar *key_ref,
                             GPtrArray *chain,
                             const FstSecret *passphrase,
                             GError **error);

gboolean fst_ca_store_renew_options(
    const gchar *ca_dir, gchar **subject, FstKeyType *key_type, gint *pathlen, GError **error);
gboolean fst_ca_store_renew(const gchar *ca_dir,
                            const FstCaStoreOptions *issuing,
                            EVP_PKEY *issuing_key,
                            const gchar *issuing_key_ref,
                            const FstSecret *passphrase,
                            gchar **retired,
                            GError **error);
gboolean fst_ca_store_renew_csr(const gchar *ca_dir,
                                const FstCaStoreOptions *issuing,
                                EVP_PKEY *issuing_key,
                                const gchar *issuing_key_ref,
                                const FstSecret *passphrase,
                                GError **error);

GPtrArray *fst_ca_store_list(const gchar *ca_dir, GError **error);
GHashTable *fst_ca_store_issuing_pems(const gchar *ca_dir);
gchar *fst_ca_store_expiry_warning(gint64 ca_not_after, gint64 cert_not_after, gint64 now);

G_END_DECLS
