/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-aws-iot.h"
#include "fst-ca.h"
#include "fst-db.h"
#include "fst-profile.h"

G_BEGIN_DECLS

FstAwsCredentials *fst_aws_issuer_connect(const FstProfile *profile, GError **error);
FstIssuedCert *fst_aws_issuer_issue_from_csr(FstAwsIot *iot,
                                             const FstProfile *profile,
                                             const FstDeviceInfo *info,
                                             GBytes *csr_der,
                                             FstDb *db,
                                             gchar **certificate_arn,
                                             gchar **lost_note,
                                             GCancellable *cancellable,
                                             GError **error);
FstIssuedCert *fst_aws_issuer_issue_with_key(FstAwsIot *iot,
                                             const FstProfile *profile,
                                             const FstDeviceInfo *info,
                                             FstSecret **private_key,
                                             gchar **certificate_arn,
                                             gchar **lost_note,
                                             GCancellable *cancellable,
                                             GError **error);
gboolean fst_aws_issuer_activate(FstAwsIot *iot,
                                 const FstProfile *profile,
                                 const gchar *aws_cert_id,
                                 gboolean *activated,
                                 GCancellable *cancellable,
                                 GError **error);

G_END_DECLS
