/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sqlite3.h>

#include "fst-audit.h"
#include "fst-db.h"
#include "fst-sqlite-common.h"

G_BEGIN_DECLS

/*
 * What the files of db/ share and nobody else sees: the connection, its
 * statement helpers and write transactions (fst-db.c), and the functions one
 * concern's file calls in another's, all named `_fst_*`. Functions named
 * `_locked` expect the connection's mutex held, and those that write, a
 * transaction.
 */

/* a statement from the connection's cache (_fst_db_prepare()): going out of
 * scope resets it for the next use instead of finalizing it */
typedef sqlite3_stmt FstDbStmt;

void _fst_db_stmt_release(FstDbStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbStmt, _fst_db_stmt_release)

/* another process (a CLI report, a backup) may hold the lock for a moment */
#define FST_DB_BUSY_TIMEOUT_MS 10000

/* bounds on what we store: device strings are untrusted, and nothing the
 * station records legitimately comes close to these */
#define FST_DB_MAX_NAME 256       /* uid, model, firmware, step, profile... */
#define FST_DB_MAX_PORT 4096      /* a device path */
#define FST_DB_MAX_SUBJECT 4096   /* an X.509 subject in text form */
#define FST_DB_MAX_DETAIL 16384   /* last_error, event detail */
#define FST_DB_MAX_CONTENTS 65536 /* description of a burned object */
#define FST_DB_MAX_DER 65536      /* AWS IoT takes at most 64 KiB of PEM */
#define FST_DB_MAX_SERIAL_HEX 64  /* RFC 5280: at most 20 octets, some CAs add a 00 */
#define FST_DB_SHA256_HEX 64
#define FST_DB_PAGE_SIZE 2048   /* of a new file */
#define FST_DB_MAX_ESCROW 65536 /* a CMS EnvelopedData of one private key is ~1-3 KiB */

struct _FstDb {
	GRecMutex mutex; /* guards db and station_id; fst_db_device_log_commit() re-enters */
	sqlite3 *db;     /* (owned) */
	gchar *path;     /* (owned) */
	guint schema_version;
	gint64 station_id;  /* last station passed to fst_db_ensure_station(), or 0 */
	gint64 operator_id; /* session context (fst_db_set_context()), or 0 */
	gint64 lot_id;
	gchar *last_backup; /* (owned) (nullable): the copy made before a migration */
	guint batch;        /* > 0 inside fst_db_device_log_commit(): one transaction for all */
	GHashTable *stmts;  /* (owned): SQL text -> prepared statement, reused */
	GHashTable *stmts_by_address; /* (owned): SQL address -> the same statements */
	/* valid inside one write transaction only (the write lock keeps others
	 * out): the end of the audit chain, written to `audit-head` once at
	 * commit instead of after every event, and the last device looked up */
	gboolean head_known;
	gboolean head_dirty;
	gint64 head_id;
	gchar head_hash[FST_AUDIT_HASH_LEN * 2 + 1];
	/* the chain's end as the last commit left it, still the end while
	 * SQLite's data version of the file is the one read then (no other
	 * connection wrote since): the next transaction need not read it */
	gboolean saved_head_known;
	guint saved_head_version;
	gint64 saved_head_id;
	gchar saved_head_hash[FST_AUDIT_HASH_LEN * 2 + 1];
	gint64 tx_device_id;
	gint64 tx_device_station;
	/* the last certificate recorded or looked up in this transaction */
	gchar tx_cert_serial[FST_DB_MAX_SERIAL_HEX + 1];
	gint64 tx_cert_id;
	gint64 tx_cert_device;
	FstCertState tx_cert_state;
	/* the rows of bound tables (FstAuditTable) this transaction wrote, seen
	 * by fst_db_preupdate_hook(), in order, bound into the chain once each
	 * at commit (_fst_db_bind_rows()) with the hash of their last write */
	GArray *dirty;         /* (owned) (element-type FstDbDirtyRow) */
	GHashTable *dirty_set; /* (owned): key -> index in dirty + 1 */
	/* a savepoint was rolled back since the rows were hashed (a log refused
	 * in a group): what they hold now is read back at binding; a failed
	 * transaction is rolled back whole and binds nothing */
	gboolean dirty_stale;
	/* the column names of each bound table, in table order, for the hashes
	 * of the hook; NULL: its rows are read back at binding */
	gchar **bound_columns[FST_AUDIT_TABLE_LAST]; /* (owned) (nullable) */
	gboolean binding_off;                        /* migrations bind every row themselves */
	/* the profile and the CA the last certificate used, looked up once: ids
	 * are never reused or changed (nothing is deleted); forgotten at any
	 * rollback, which may undo the row they name */
	gchar *last_profile_name;   /* (owned) (nullable) */
	gchar *last_profile_sha256; /* (owned) (nullable) */
	gint64 last_profile_id;     /* 0: none */
	gchar last_ca_sha256[FST_DB_SHA256_HEX + 1];
	gint64 last_ca_id;  /* 0: none */
	gboolean read_only; /* fst_db_open_read_only() */
	/* the last event this transaction wrote, whose hash the bindings change */
	gint64 tx_event_id;
	gchar tx_event_prev[FST_AUDIT_HASH_LEN * 2 + 1];
	FstAuditEventRow tx_event; /* step, outcome, detail point into the copies below */
	gchar *tx_event_step;      /* (owned) */
	gchar *tx_event_outcome;   /* (owned) */
	gchar *tx_event_detail;    /* (owned) (nullable) */
	/* the steps of the device log being written (_fst_db_fold_begin()):
	 * its device's events, written as one event at the log's end */
	GPtrArray *fold; /* (owned) (nullable) (element-type FstAuditStep) */
	gint64 fold_device_id;
	gint64 fold_station_id;
	/* the group commit of device logs (fst_db_device_log_commit()): lanes
	 * that reach a commit point while another group is being written queue
	 * here; the first of them to find no leader writes every queued log in
	 * one transaction and wakes the others with their own results */
	GMutex queue_lock;
	GPtrArray *queue;           /* (element-type FstDbCommitRequest): not taken yet */
	gboolean queue_leader;      /* a lane is writing a group */
	guint64 group_transactions; /* durable transactions of device logs so far */
	guint64 group_logs;         /* device logs written in them */
};

/* a row noted for binding: its key (FST_DB_DIRTY_KEY()) and, when the hook
 * could, the fst_audit_row_hash() of what the last statement wrote to it */
typedef struct {
	guint64 key;
	gboolean hashed;
	guint8 hash[FST_AUDIT_HASH_LEN];
} FstDbDirtyRow;

#define FST_DB_DIRTY_KEY(table, id) (((guint64)(table) << 48) | (guint64)(id))
#define FST_DB_DIRTY_TABLE(key) ((FstAuditTable)((key) >> 48))
#define FST_DB_DIRTY_ID(key) ((gint64)((key) & ((G_GUINT64_CONSTANT(1) << 48) - 1)))

/*
 * A write transaction that rolls back when it goes out of scope uncommitted:
 *
 *	g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&self->mutex);
 *	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
 *	if (!_fst_db_transaction_begin(&tx, self, what, error))
 *		return FALSE;
 *	... any failure returns, and the transaction is rolled back ...
 *	return _fst_db_transaction_commit(&tx, what, error);
 *
 * Declared after the mutex locker, so that it ends while the mutex is held.
 * Inside a device log commit it joins the log's one transaction (see
 * _fst_db_begin()).
 */
typedef struct {
	FstDb *db;
	gboolean open;
} FstDbTransaction;

#define FST_DB_TRANSACTION_INIT                                                                    \
	{                                                                                          \
		NULL, FALSE                                                                        \
	}

void _fst_db_transaction_clear(FstDbTransaction *tx);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstDbTransaction, _fst_db_transaction_clear)

/* what a write transaction remembers in memory (struct _FstDb) at a
 * savepoint, to be put back when the savepoint is rolled back: the chain's
 * end, the last event, the rows noted for binding */
typedef struct {
	gboolean head_known;
	gboolean head_dirty;
	gint64 head_id;
	gchar head_hash[FST_AUDIT_HASH_LEN * 2 + 1];
	gint64 tx_event_id;
	gchar tx_event_prev[FST_AUDIT_HASH_LEN * 2 + 1];
	FstAuditEventRow tx_event;
	gchar *tx_event_step;    /* (owned) */
	gchar *tx_event_outcome; /* (owned) */
	gchar *tx_event_detail;  /* (owned) (nullable) */
	guint dirty_len;
} FstDbTxMark;

void _fst_db_forget_ids(FstDb *self);
gboolean _fst_db_data_version(FstDb *self, guint *version);
void _fst_db_tx_mark(FstDb *self, FstDbTxMark *mark);
void _fst_db_tx_restore(FstDb *self, FstDbTxMark *mark);
void _fst_db_tx_mark_clear(FstDbTxMark *mark);

/* the names of FstCertState, as stored */
extern const gchar *const fst_cert_state_names[FST_CERT_STATE_LAST];

sqlite3 *_fst_db_connect_read_only(const gchar *path, GError **error);
gchar *_fst_db_column_strdup(sqlite3_stmt *stmt, gint col);

/* connection, statements, transactions, input checks (fst-db.c) */

void _fst_db_sqlite_init(void);
const gchar *_fst_db_wal_vfs_name(void);
gboolean _fst_db_set_error(FstDb *self, GError **error, gint rc, const gchar *format, ...)
    G_GNUC_PRINTF(4, 5);
sqlite3_stmt *_fst_db_prepare(FstDb *self, const gchar *sql, const gchar *what, GError **error);
gboolean _fst_db_check_bind(FstDb *self, gint rc, const gchar *what, GError **error);
gboolean _fst_db_step_done(FstDb *self, sqlite3_stmt *stmt, const gchar *what, GError **error);
gboolean _fst_db_step_row(
    FstDb *self, sqlite3_stmt *stmt, gboolean *found, const gchar *what, GError **error);
gboolean _fst_db_exec(FstDb *self, const gchar *sql, const gchar *what, GError **error);
gboolean _fst_db_exec_cached(FstDb *self, const gchar *sql, const gchar *what, GError **error);
gboolean _fst_db_der_fields(gconstpointer der,
                            gsize der_len,
                            const guchar **serial_p,
                            gsize *serial_len,
                            const guchar **spki_p,
                            gsize *spki_len);
gboolean _fst_db_check_event(
    const gchar *step, gint64 started_us, gint64 ended_us, const gchar *outcome, GError **error);
gboolean _fst_db_add_event_checked(FstDb *self,
                                   gint64 device_id,
                                   const gchar *step,
                                   gint64 started_us,
                                   gint64 ended_us,
                                   const gchar *outcome,
                                   const gchar *detail_safe,
                                   GError **error);
gboolean _fst_db_record_key_locked(FstDb *self,
                                   gint64 device_id,
                                   const guint8 key_sha256[32],
                                   const gchar *serial,
                                   GError **error);
void _fst_db_remember_cert(
    FstDb *self, const gchar *serial, gint64 cert_id, gint64 device_id, FstCertState state);
gboolean _fst_db_begin(FstDb *self, const gchar *what, GError **error);
void _fst_db_rollback(FstDb *self);
gboolean _fst_db_commit(FstDb *self, const gchar *what, GError **error);
gboolean
_fst_db_transaction_begin(FstDbTransaction *tx, FstDb *self, const gchar *what, GError **error);
gboolean _fst_db_transaction_commit(FstDbTransaction *tx, const gchar *what, GError **error);
gint _fst_db_bind_id(sqlite3_stmt *stmt, gint idx, gint64 value);
gboolean _fst_db_check_text(const gchar *field,
                            const gchar *value,
                            gsize max,
                            gboolean required,
                            gboolean single_line,
                            GError **error);
gboolean _fst_db_check_token(const gchar *field, const gchar *value, GError **error);
gchar *_fst_db_normalize_hex(
    const gchar *field, const gchar *value, gsize min, gsize max, gboolean upper, GError **error);
gchar *_fst_db_text_bounded(const gchar *text, gsize max);
gboolean _fst_cert_state_from_string(const gchar *str, FstCertState *state);
gboolean _fst_cert_state_can_move(FstCertState from, FstCertState to);
gboolean _fst_db_query_text(FstDb *self, const gchar *sql, gchar **value, GError **error);

/* the migration ladder (fst-db-migrate.c) */

gboolean _fst_db_read_user_version(FstDb *self, guint *version, GError **error);
gboolean _fst_db_migrate(FstDb *self, GError **error);

/* events and the audit chain (fst-db-events.c) */

gboolean _fst_db_insert_event_rows_locked(FstDb *self,
                                          gint64 device_id,
                                          gint64 station_id,
                                          const gchar *step,
                                          gint64 started_us,
                                          gint64 ended_us,
                                          const gchar *outcome,
                                          const gchar *detail,
                                          GBytes *rows,
                                          GError **error);
gboolean _fst_db_insert_event_locked(FstDb *self,
                                     gint64 device_id,
                                     gint64 station_id,
                                     const gchar *step,
                                     gint64 started_us,
                                     gint64 ended_us,
                                     const gchar *outcome,
                                     const gchar *detail,
                                     GError **error);
gboolean _fst_db_bind_rows(FstDb *self, const gchar *what, GError **error);
void _fst_db_fold_begin(FstDb *self, gint64 device_id);
gboolean _fst_db_fold_end(FstDb *self, gboolean bind, GError **error);
void _fst_db_fold_clear(FstDb *self);

/* stations, devices, context (fst-db-devices.c) */

gboolean _fst_db_check_device_info(const FstDeviceInfo *info, const gchar *port, GError **error);
gboolean
_fst_db_require_device_locked(FstDb *self, gint64 device_id, gint64 *station_id, GError **error);
gboolean _fst_db_set_device_state_locked(
    FstDb *self, gint64 device_id, FstDbDeviceState state, const gchar *last_error, GError **error);
gchar *_fst_db_get_device_uid_locked(FstDb *self, gint64 device_id);

/* certificates (fst-db-certificates.c) */

gboolean _fst_db_get_cert_locked(FstDb *self,
                                 const gchar *serial,
                                 gboolean *found,
                                 gint64 *cert_id,
                                 gint64 *device_id,
                                 FstCertState *state,
                                 GError **error);
gboolean _fst_db_move_cert_locked(FstDb *self,
                                  gint64 cert_id,
                                  gint64 device_id,
                                  const gchar *serial,
                                  FstCertState from,
                                  FstCertState to,
                                  const gchar *reason,
                                  const gchar *note,
                                  GError **error);
gboolean _fst_db_get_active_cert_locked(
    FstDb *self, gint64 device_id, gboolean *found, gchar **serial, gint *slot, GError **error);
gboolean _fst_db_supersede_locked(
    FstDb *self, gint64 device_id, const gchar *old_hex, const gchar *new_hex, GError **error);
gboolean _fst_db_add_escrow_locked(FstDb *self,
                                   gint64 device_id,
                                   gint64 station_id,
                                   const gchar *serial_hex,
                                   const gchar *recipient_hex,
                                   GBytes *cms,
                                   GError **error);
gboolean _fst_db_interrupt_certificates_locked(FstDb *self, gint64 device_id, GError **error);
gboolean _fst_db_supersede_interrupted_locked(FstDb *self,
                                              gint64 device_id,
                                              const gchar *new_serial,
                                              GError **error);

/* backups and statistics (fst-db-maintenance.c) */

gboolean _fst_db_backup_to(const gchar *src_path, const gchar *dest, GError **error);

/* registrations (fst-db-registrations.c) */
gboolean _fst_db_queue_registration_locked(FstDb *self,
                                           gint64 cert_id,
                                           const gchar *target,
                                           const gchar *remote_id,
                                           gboolean done,
                                           gint64 now,
                                           GError **error);

G_END_DECLS
