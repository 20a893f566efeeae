/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-trust.h"

G_BEGIN_DECLS

/**
 * FstTrustReportDevice:
 *
 * A device whose burned root CAs need a refresh: one ends before the
 * device certificate or within the planning horizon.
 */
typedef struct {
	gchar *uid;            /* (owned) */
	gchar *serial_hex;     /* (owned): the certificate in service */
	gint64 cert_not_after; /* unix seconds */
	gchar *roots;          /* (owned): the burned roots, by name, comma-separated */
	gchar *ending;         /* (owned): the roots that end too soon, with their dates */
	gint64 first_end;      /* unix seconds: the earliest end of those, 0 if unknown */
	gboolean before_cert;  /* one ends before the device certificate */
	gchar *reason;         /* (owned) (nullable): why those roots, from the plan event */
} FstTrustReportDevice;

/**
 * FstTrustReportGroup:
 *
 * The devices of one lot and profile that need a refresh, and the
 * trust-only job that would do it.
 */
typedef struct {
	gchar *lot;         /* (owned) (nullable) */
	gchar *profile;     /* (owned) (nullable) */
	GPtrArray *devices; /* (owned) (element-type FstTrustReportDevice) */
	guint checked;      /* devices of the group with roots in service */
	gchar *job;         /* (owned): the command line of the trust-only job */
	gchar *note;        /* (owned) (nullable): what to do before the job helps */
} FstTrustReportGroup;

void fst_trust_report_group_free(FstTrustReportGroup *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstTrustReportGroup, fst_trust_report_group_free)

GPtrArray *fst_trust_report(FstTrustCatalogue *catalogue,
                            const gchar *workspace,
                            const gchar *lot,
                            gint64 horizon,
                            GError **error);
gchar *fst_trust_reason_from_detail(const gchar *detail);

G_END_DECLS
