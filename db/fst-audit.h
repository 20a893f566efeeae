#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* the "previous hash" of the first event of a chain: 64 zeros */
#define FST_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/**
 * FstAuditEventRow:
 *
 * The columns of an `events` row that its chain hash covers (db/schema.md,
 * "Audit chain"). Ids are 0 for NULL.
 */
typedef struct {
	gint64 id;
	gint64 device_id;
	gint64 station_id;
	gint64 operator_id;
	gint64 lot_id;
	const gchar *step;
	gint64 started_at;
	gint64 ended_at;
	const gchar *outcome;
	const gchar *detail; /* (nullable) */
} FstAuditEventRow;

#define FST_AUDIT_HASH_LEN 32

gchar *
fst_audit_event_hash(const gchar *prev_hash, const FstAuditEventRow *row);
void
fst_audit_hash_to_bytes(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN]);
gchar *
fst_audit_hash_from_bytes(gconstpointer data, gsize len);

/**
 * FstAuditResult:
 *
 * What fst_audit_verify() found. @ok is %TRUE when nothing was changed,
 * inserted or deleted; otherwise @problem says what, and @first_bad_id is the
 * first event row (or 0 when the problem is not one row).
 */
typedef struct {
	gboolean ok;
	gint64 events;	     /* event rows walked */
	gint64 certificates; /* certificate rows checked */
	gint64 first_bad_id;
	gchar *problem;	  /* (nullable) */
	gchar *head_hash; /* (nullable): hash of the last event, which seals the chain */
	gint64 head_id;
} FstAuditResult;

void
fst_audit_result_free(FstAuditResult *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAuditResult, fst_audit_result_free)

FstAuditResult *
fst_audit_verify(const gchar *db_path, GError **error);

G_END_DECLS
