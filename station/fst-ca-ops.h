#pragma once

#include <glib.h>

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

gboolean fst_ca_ops_revoke(const gchar *workspace,
                           const gchar *serial_hex,
                           const gchar *reason,
                           const gchar *operator_name,
                           GError **error);
GBytes *fst_ca_ops_issue_crl(const gchar *workspace,
                             FstInteraction *interaction,
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
