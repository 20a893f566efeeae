/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-ca-store.h"
#include "fst-interaction.h"

G_BEGIN_DECLS

/**
 * FstCaOpsExportFlags:
 * @FST_CA_OPS_EXPORT_NONE: the certificate alone, PEM
 * @FST_CA_OPS_EXPORT_DER: DER instead of PEM (one certificate only)
 * @FST_CA_OPS_EXPORT_CHAIN: the certificate, then the CA certificates above
 *   it up to (not including) the self-signed root
 *
 * What fst_ca_ops_export_certificate() writes.
 */
typedef enum {
	FST_CA_OPS_EXPORT_NONE = 0,
	FST_CA_OPS_EXPORT_DER = 1 << 0,
	FST_CA_OPS_EXPORT_CHAIN = 1 << 1,
} FstCaOpsExportFlags;

/**
 * FstCaOpsCreateFlags:
 * @FST_CA_OPS_CREATE_NONE: a root CA and an issuing CA signed by it
 * @FST_CA_OPS_CREATE_CSR: only the issuing CA key and a request
 *   (`ca/issuing-ca.csr`) for an offline root to sign; fst_ca_store_install()
 *   takes the signed certificate
 * @FST_CA_OPS_CREATE_ROOT_PATHLEN: the root CA gets @root_pathlen as its
 *   pathLenConstraint; without it the root has none
 *
 * How fst_ca_ops_create() makes the CAs.
 */
typedef enum {
	FST_CA_OPS_CREATE_NONE = 0,
	FST_CA_OPS_CREATE_CSR = 1 << 0,
	FST_CA_OPS_CREATE_ROOT_PATHLEN = 1 << 1,
} FstCaOpsCreateFlags;

/**
 * FstCaOpsCreate:
 * @organization: (nullable): O of the default subjects; %NULL for "fleetstation"
 * @subject: (nullable): the issuing CA subject; %NULL for
 *   `/O=ORG/CN=ORG Issuing CA`
 * @root_subject: (nullable): the root CA subject; %NULL for
 *   `/O=ORG/CN=ORG Root CA`
 * @key_type: the issuing CA key; %FST_KEY_TYPE_NONE for EC P-256
 * @days: the issuing CA validity; 0 for 7300 days
 * @root_days: the root CA validity; 0 for 9125 days
 * @root_key_type: the root CA key; %FST_KEY_TYPE_NONE for @key_type
 * @pathlen: the issuing CA pathLenConstraint, -1 for none
 * @root_pathlen: the root CA pathLenConstraint, with
 *   %FST_CA_OPS_CREATE_ROOT_PATHLEN (-1 for none)
 * @key: (nullable): the `pkcs11:` URI of a token key for the issuing CA
 *   (it never leaves the token; the workspace stores the URI), instead of a
 *   new key file
 * @flags: #FstCaOpsCreateFlags
 *
 * What fst_ca_ops_create() makes.
 */
typedef struct {
	const gchar *organization;
	const gchar *subject;
	const gchar *root_subject;
	FstKeyType key_type;
	guint days;
	guint root_days;
	FstKeyType root_key_type;
	gint pathlen;
	gint root_pathlen;
	const gchar *key;
	FstCaOpsCreateFlags flags;
} FstCaOpsCreate;

/**
 * FstCaOpsImport:
 * @cert: (nullable): the CA certificate (PEM or DER; a PEM may go on with its chain)
 * @key: (nullable): its private key file (PEM or DER, PKCS#8 encrypted or
 *   not), or the `pkcs11:` URI of a key in a token
 * @pkcs12: (nullable): a PKCS#12 file with the key and certificate, instead
 *   of @cert and @key
 * @chain: (nullable): the certificates above the CA (PEM), the root last
 * @passphrase: (nullable): the passphrase of an encrypted @key or @pkcs12
 *   file when the caller has it; %NULL to ask for it when needed
 *
 * What fst_ca_ops_import() imports.
 */
typedef struct {
	const gchar *cert;
	const gchar *key;
	const gchar *pkcs12;
	const gchar *chain;
	const FstSecret *passphrase;
} FstCaOpsImport;

/**
 * FstCaOpsRenew:
 * @subject: (nullable): the new issuing CA's subject; %NULL keeps the
 *   current one's
 * @key_type: its key type; %FST_KEY_TYPE_NONE keeps the current one's
 * @days: its validity; 0 for 7300 days, or up to the root's end if that is
 *   sooner (the days of a request are the signer's choice)
 * @key: (nullable): the `pkcs11:` URI of a token key for it, instead of a new
 *   key file
 * @csr: only the new key and a request (`ca/issuing-ca.csr`) for an offline
 *   root to sign; fst_ca_ops_install() then puts it in service
 *
 * What fst_ca_ops_renew() makes.
 */
typedef struct {
	const gchar *subject;
	FstKeyType key_type;
	guint days;
	const gchar *key;
	gboolean csr;
} FstCaOpsRenew;

gchar *fst_ca_ops_create(const gchar *workspace,
                         FstInteraction *interaction,
                         const FstCaOpsCreate *options,
                         gchar **root_subject,
                         GError **error);
gboolean fst_ca_ops_import(const gchar *workspace,
                           FstInteraction *interaction,
                           const FstCaOpsImport *import,
                           GError **error);
gchar *fst_ca_ops_renew(const gchar *workspace,
                        FstInteraction *interaction,
                        const FstCaOpsRenew *options,
                        gchar **retired,
                        GError **error);
gboolean fst_ca_ops_install(const gchar *workspace,
                            const gchar *cert_path,
                            const gchar *chain_path,
                            gchar **retired,
                            GError **error);
gboolean fst_ca_ops_revoke(const gchar *workspace,
                           const gchar *serial_hex,
                           const gchar *reason,
                           const gchar *operator_name,
                           GError **error);
GBytes *fst_ca_ops_issue_crl(const gchar *workspace,
                             FstInteraction *interaction,
                             const gchar *ca_name,
                             guint days,
                             const gchar *operator_name,
                             guint64 *number,
                             guint *n_revoked,
                             GError **error);
gboolean fst_ca_ops_export_escrow(const gchar *workspace,
                                  const gchar *serial_hex,
                                  const gchar *dest,
                                  const gchar *operator_name,
                                  gchar **recipient_sha256,
                                  gsize *size,
                                  GError **error);
GBytes *fst_ca_ops_export_certificate(const gchar *workspace,
                                      const gchar *serial_hex,
                                      FstCaOpsExportFlags flags,
                                      const gchar *dest,
                                      const gchar *operator_name,
                                      GError **error);

G_END_DECLS
