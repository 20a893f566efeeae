/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-aws-iot.h"
#include "fst-db.h"

G_BEGIN_DECLS

/**
 * FstAwsFindingKind:
 * @FST_AWS_FINDING_UNRECORDED: AWS holds a certificate of one of the
 *   station's CAs, or an INACTIVE one for a recorded device's key, that the
 *   database does not record
 * @FST_AWS_FINDING_MISSING: the database says AWS registered the
 *   certificate, and AWS does not have it
 * @FST_AWS_FINDING_REVOKED_ACTIVE: revoked in the database, ACTIVE at AWS
 *
 * What fst_aws_reconcile() found wrong between AWS IoT and the database.
 */
typedef enum {
	FST_AWS_FINDING_UNRECORDED,
	FST_AWS_FINDING_MISSING,
	FST_AWS_FINDING_REVOKED_ACTIVE,
} FstAwsFindingKind;

/**
 * FstAwsFinding:
 * @kind: what is wrong
 * @aws_cert_id: AWS's id of the certificate (its SHA-256)
 * @ca_sha256: (nullable): the CA that signed it; %NULL for one AWS issued
 * @aws_status: (nullable): its status at AWS; %NULL when AWS lacks it
 * @serial_hex: (nullable): its serial, when the database records it
 * @device_uid: (nullable): its device, when the database records it
 * @state: (nullable): its state in the database
 * @advice: what it means and what to do, in a sentence
 * @created_us: when AWS made it (`creationDate`, microseconds since the
 *   epoch), where it was read; 0 when not known
 * @deleted: deleted at AWS by fst_aws_reconcile_delete_leftovers()
 */
typedef struct {
	FstAwsFindingKind kind;
	gchar *aws_cert_id;
	gchar *ca_sha256;
	gchar *aws_status;
	gchar *serial_hex;
	gchar *device_uid;
	gchar *state;
	gchar *advice;
	gint64 created_us;
	gboolean deleted;
} FstAwsFinding;

void fst_aws_finding_free(FstAwsFinding *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAwsFinding, fst_aws_finding_free)
const gchar *fst_aws_finding_kind_to_string(FstAwsFindingKind kind);

/**
 * FstAwsReconcile:
 * @target: the target compared, e.g. "aws-iot:eu-west-1"
 * @cas: (element-type utf8): the CAs whose certificates AWS was asked for
 * @cas_unknown: (element-type utf8): those of @cas AWS does not have
 *   registered (none of their certificates can be there)
 * @recorded: certificates in the database
 * @listed: certificates of the account and region (ListCertificates)
 * @matched: certificates in both
 * @read: unrecorded INACTIVE certificates under no CA of the station's read
 *   for their key (DescribeCertificate)
 * @unread: those left unread, past the limit of a run
 * @findings: (element-type FstAwsFinding): what differs, worst first
 */
typedef struct {
	gchar *target;
	GPtrArray *cas;
	GPtrArray *cas_unknown;
	guint recorded;
	guint listed;
	guint matched;
	guint read;
	guint unread;
	GPtrArray *findings;
} FstAwsReconcile;

void fst_aws_reconcile_free(FstAwsReconcile *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAwsReconcile, fst_aws_reconcile_free)

FstAwsReconcile *fst_aws_reconcile(
    FstAwsIot *iot, FstDb *db, const gchar *workspace, GCancellable *cancellable, GError **error);
gboolean fst_aws_reconcile_delete_leftovers(FstAwsReconcile *self,
                                            FstAwsIot *iot,
                                            FstDb *db,
                                            gint64 min_age_us,
                                            GCancellable *cancellable,
                                            GError **error);

G_END_DECLS
