/* SPDX-License-Identifier: Apache-2.0 */
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
	/* exact byte lengths of step, outcome and detail; 0 or -1 for strlen() */
	gssize step_len;
	gssize outcome_len;
	gssize detail_len;
	/* the rows this event binds (fst_audit_row_hash()): entries of
	 * FST_AUDIT_BINDING_LEN bytes; NULL for none */
	const guint8 *rows;
	gsize rows_len;
} FstAuditEventRow;

#define FST_AUDIT_HASH_LEN 32

/**
 * FstAuditTable:
 *
 * The tables whose rows the chain binds, by the code a binding stores
 * (db/schema.md, "Audit chain"). Codes are part of the stored format: append
 * only.
 */
typedef enum {
	FST_AUDIT_TABLE_NONE,
	FST_AUDIT_TABLE_DEVICES,
	FST_AUDIT_TABLE_CERTIFICATES,
	FST_AUDIT_TABLE_DEVICE_OBJECTS,
	FST_AUDIT_TABLE_OPERATORS,
	FST_AUDIT_TABLE_LOTS,
	FST_AUDIT_TABLE_STATIONS,
	FST_AUDIT_TABLE_PROFILES,
	FST_AUDIT_TABLE_CAS,
	FST_AUDIT_TABLE_KEY_ESCROWS,
	FST_AUDIT_TABLE_LAST
} FstAuditTable;

/* one binding in `events.rows`: table code (1 byte), row id (8 bytes, big
 * endian), SHA-256 of the row's canonical content (32 bytes) */
#define FST_AUDIT_BINDING_LEN (1 + 8 + FST_AUDIT_HASH_LEN)

const gchar *fst_audit_table_name(FstAuditTable table);
FstAuditTable fst_audit_table_from_name(const gchar *name);

struct sqlite3_stmt;
struct sqlite3;
void
fst_audit_row_hash(struct sqlite3_stmt *stmt, FstAuditTable table, guint8 out[FST_AUDIT_HASH_LEN]);
gboolean fst_audit_row_hash_new(struct sqlite3 *db,
                                FstAuditTable table,
                                const gchar *const *names,
                                gint ncol,
                                guint8 out[FST_AUDIT_HASH_LEN]);
/* room for any gint64 in decimal */
#define FST_AUDIT_INT_TEXT 24
const gchar *fst_audit_int_text(gint64 value, gchar buf[FST_AUDIT_INT_TEXT], gsize *len);
void fst_audit_binding_append(GByteArray *rows,
                              FstAuditTable table,
                              gint64 id,
                              const guint8 hash[FST_AUDIT_HASH_LEN]);

gchar *fst_audit_event_hash(const gchar *prev_hash, const FstAuditEventRow *row);

/* the step of the one event that records a device log commit, its steps
 * folded into its detail (fst_audit_steps_to_payload()) */
#define FST_AUDIT_STEP_FOLDED "device-log"

/**
 * FstAuditStep:
 *
 * One step of a device log commit, as its folded event holds it.
 */
typedef struct {
	gchar *step;
	gint64 started_at;
	gint64 ended_at;
	gchar *outcome;
	gchar *detail; /* (nullable) */
} FstAuditStep;

void fst_audit_step_free(FstAuditStep *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAuditStep, fst_audit_step_free)
gchar *fst_audit_steps_to_payload(GPtrArray *steps, gint64 started_at);
GPtrArray *fst_audit_steps_from_payload(const gchar *payload, gsize len, gint64 started_at);

void fst_audit_hash_to_bytes(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN]);
gboolean fst_audit_sha256_parse(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN]);
gchar *fst_audit_hash_from_bytes(gconstpointer data, gsize len);

/**
 * FstAuditResult:
 *
 * What fst_audit_verify() found. @ok is %TRUE when nothing was changed,
 * inserted or deleted; otherwise @problem says what, and @first_bad_id is the
 * first event row (or 0 when the problem is not one row).
 */
typedef struct {
	gboolean ok;
	gint64 events;       /* event rows walked */
	gint64 certificates; /* certificate rows checked */
	gint64 first_bad_id;
	gchar *problem;   /* (nullable) */
	gchar *head_hash; /* (nullable): hash of the last event, which seals the chain */
	gint64 head_id;
	gint64 rows;          /* bound rows checked (devices, objects, names...) */
	gint64 last_event_at; /* ended_at of the head event, unix microseconds */
} FstAuditResult;

void fst_audit_result_free(FstAuditResult *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAuditResult, fst_audit_result_free)

/**
 * FstAuditAnchor:
 *
 * The chain head as it was at one moment, kept outside the database
 * (`fleetstation audit checkpoint`, a signed JSON report): the chain must
 * still pass through event @head_id with hash @head_hash.
 */
typedef struct {
	gchar *database_id; /* (nullable): the database it anchors */
	gchar *station;     /* (nullable): the station that made it */
	gint64 created_at;  /* unix microseconds, UTC */
	gint64 head_id;
	gchar *head_hash; /* lower-case hex */
	gchar *source;    /* (nullable): where it was read from, for messages */
	gboolean matched; /* set by fst_audit_verify_anchored() */
} FstAuditAnchor;

void fst_audit_anchor_free(FstAuditAnchor *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAuditAnchor, fst_audit_anchor_free)
FstAuditAnchor *
fst_audit_anchor_parse(const gchar *data, gsize len, const gchar *source, GError **error);
gchar *fst_audit_anchor_to_data(const FstAuditAnchor *self);
FstAuditAnchor *fst_audit_read_anchor(const gchar *db_path, const gchar *station, GError **error);

FstAuditResult *fst_audit_verify(const gchar *db_path, GError **error);
FstAuditResult *fst_audit_verify_anchored(const gchar *db_path, GPtrArray *anchors, GError **error);

G_END_DECLS
